// Weir filter plugin in JavaScript: tags every record with `"lang": "javascript"` and drops
// the records whose `level` is `"debug"`.
//
// Events arrive as JSON lines (describe() asks for them), one per event:
// `{"time_ns": ..., "metadata": {...}, "record": {...}}`.
//
// JSON numbers are doubles in JavaScript: a nanosecond timestamp (about 1.7e18) is past
// 2^53 and does not survive JSON.parse. So only the record is parsed and rewritten; the
// other top-level fields (`time_ns`, `metadata`) go back out as the host wrote them. Integers
// past 2^53 inside a record lose precision all the same: a plugin that must keep them exactly
// should edit the line's text instead of parsing it.

import { log, counterAdd } from 'weir:plugin/host@0.1.0';

const NAME = 'example_javascript';
const LANG = 'javascript';
const DROP_LEVEL = 'debug';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// The `plugin` interface every Weir plugin exports. Record fields are camelCase, enums are
// their WIT case names as strings, `result<_, string>` is "return or throw a string".
export const plugin = {
  describe() {
    return {
      name: NAME,
      kind: 'filter',
      description: 'Adds "lang":"javascript" to every record and drops debug records',
      version: '0.1.0',
      eventFormat: 'json',
      params: [],
    };
  },

  init() {
    log('info', `${NAME} ready: dropping level=${DROP_LEVEL} records`);
  },
};

// The `filter` world's own export: a batch in, the batches that go on out. A thrown string
// becomes the `err` case, which the host handles by the instance's `on_error` policy.
export function filter(batch) {
  const kept = [];
  let dropped = 0;
  let number = 0;
  for (const line of decoder.decode(batch.events).split('\n')) {
    number += 1;
    if (line.trim() === '') continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch (e) {
      throw `event ${number} is not JSON: ${e.message}`;
    }
    const record = event !== null && typeof event === 'object' ? event.record : undefined;
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw `event ${number} has no record object`;
    }
    if (record.level === DROP_LEVEL) {
      dropped += 1;
      continue;
    }
    record.lang = LANG;
    kept.push(withRecord(line, record));
  }
  if (dropped > 0) {
    counterAdd('dropped', BigInt(dropped)); // u64 is a BigInt
  }
  if (kept.length === 0) {
    return [];
  }
  return [
    {
      tag: batch.tag,
      events: encoder.encode(kept.join('\n') + '\n'),
      count: kept.length,
    },
  ];
}

// The event line with its `record` replaced, every other top-level field kept verbatim.
function withRecord(line, record) {
  const fields = topLevelFields(line).map(([key, raw]) =>
    key === 'record' ? `"record":${JSON.stringify(record)}` : `${JSON.stringify(key)}:${raw}`,
  );
  return `{${fields.join(',')}}`;
}

// The [key, raw value text] pairs of a JSON object's top level. `text` has already passed
// JSON.parse, so the scanner only needs to find where each value ends.
function topLevelFields(text) {
  const fields = [];
  let i = skipSpace(text, 0) + 1; // past '{'
  for (;;) {
    i = skipSpace(text, i);
    if (i >= text.length || text[i] === '}') break;
    const keyStart = i;
    i = skipString(text, i);
    const key = JSON.parse(text.slice(keyStart, i));
    i = skipSpace(text, skipSpace(text, i) + 1); // past ':'
    const valueStart = i;
    i = skipValue(text, i);
    fields.push([key, text.slice(valueStart, i)]);
    i = skipSpace(text, i);
    if (text[i] === ',') i += 1;
  }
  return fields;
}

function skipSpace(text, i) {
  while (i < text.length && ' \t\r\n'.includes(text[i])) i += 1;
  return i;
}

// From an opening quote to just past the closing one.
function skipString(text, i) {
  i += 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipValue(text, i) {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < text.length) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === '{' || d === '[') depth += 1;
      else if (d === '}' || d === ']') {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return i;
  }
  // A number, true, false or null: up to the next delimiter.
  while (i < text.length && !',}] \t\r\n'.includes(text[i])) i += 1;
  return i;
}
