"""Weir filter plugin in Python: tags every record with `"lang": "python"` and drops the
records whose `level` is `"debug"`.

Events arrive as JSON lines (`describe()` asks for them), one per event:
`{"time_ns": ..., "metadata": {...}, "record": {...}}`. Python's integers are arbitrary
precision, so `time_ns` and any large integer in a record go back out unchanged.
"""

import json

import wit_world
from wit_world import exports
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import (
    Batch,
    EventFormat,
    Level,
    PluginInfo,
    PluginKind,
)

NAME = "example_python"
LANG = "python"
DROP_LEVEL = "debug"


class Plugin(exports.Plugin):
    """The `plugin` interface every Weir plugin exports."""

    def describe(self) -> PluginInfo:
        return PluginInfo(
            name=NAME,
            kind=PluginKind.FILTER,
            description='Adds "lang":"python" to every record and drops debug records',
            version="0.1.0",
            event_format=EventFormat.JSON,
            params=[],
        )

    def init(self) -> None:
        host.log(Level.INFO, f"{NAME} ready: dropping level={DROP_LEVEL} records")


class WitWorld(wit_world.WitWorld):
    """The `filter` world's own export."""

    def filter(self, events: Batch) -> list[Batch]:
        kept = []
        dropped = 0
        for number, line in enumerate(events.events.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as e:
                raise Err(f"event {number} is not JSON: {e}")
            record = event.get("record") if isinstance(event, dict) else None
            if not isinstance(record, dict):
                raise Err(f"event {number} has no record object")
            if record.get("level") == DROP_LEVEL:
                dropped += 1
                continue
            record["lang"] = LANG
            # Compact separators keep the lines as small as the host's own.
            kept.append(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
        if dropped:
            host.counter_add("dropped", dropped)
        if not kept:
            return []
        body = ("\n".join(kept) + "\n").encode()
        return [Batch(tag=events.tag, events=body, count=len(kept))]
