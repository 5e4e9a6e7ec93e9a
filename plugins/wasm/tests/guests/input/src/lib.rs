//! The host's test input (MessagePack). Each `collect` returns `count` records
//! `{"n": N, "source": "test_input"}`, N counting on from where the instance's state says the
//! last call stopped (so it goes on across restarts and swaps). With `emit on`, each call also
//! pushes one record `{"emitted": N}` under the tag `emitted` through the `emit` import.
//! `mode`: `normal`, `trap`, `error`, `loop`, or `bad` (returns bytes that are not events).

wit_bindgen::generate!({ world: "input", path: "../../../../../wit" });

use exports::weir::plugin::plugin::Guest as PluginGuest;
use weir::plugin::types::{EventFormat, ParamSpec, ParamType, PluginInfo, PluginKind};
use weir::plugin::{emitter, host};

struct Plugin;

fn param(name: &str, kind: ParamType, default: &str, description: &str) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind,
        default: Some(default.into()),
        required: false,
        description: description.into(),
    }
}

impl PluginGuest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test_input".into(),
            kind: PluginKind::Input,
            description: "Test input of the WebAssembly host.".into(),
            version: "1.0.0".into(),
            event_format: EventFormat::Msgpack,
            params: vec![
                param("count", ParamType::Integer, "2", "Records per collect."),
                param("emit", ParamType::Boolean, "off", "Also push a record with emit."),
                param("mode", ParamType::String, "normal", "normal, trap, error, loop or bad."),
            ],
        }
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

fn str(out: &mut Vec<u8>, s: &str) {
    out.push(0xa0 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn uint(out: &mut Vec<u8>, v: u64) {
    out.push(0xcf);
    out.extend_from_slice(&v.to_be_bytes());
}

/// `[[EventTime, {}], {key: n, ...}]`
fn event(out: &mut Vec<u8>, key: &str, n: u64, source: bool) {
    let now = host::now_ns();
    out.extend_from_slice(&[0x92, 0x92, 0xd7, 0x00]);
    out.extend_from_slice(&((now / 1_000_000_000) as u32).to_be_bytes());
    out.extend_from_slice(&((now % 1_000_000_000) as u32).to_be_bytes());
    out.push(0x80);
    out.push(if source { 0x82 } else { 0x81 });
    str(out, key);
    uint(out, n);
    if source {
        str(out, "source");
        str(out, "test_input");
    }
}

fn next() -> u64 {
    host::state_get("next")
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

impl Guest for Plugin {
    fn collect() -> Result<Vec<Batch>, String> {
        match host::config("mode").as_deref() {
            Some("trap") => panic!("asked to trap"),
            Some("error") => return Err("asked to fail".into()),
            Some("loop") =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            Some("bad") => {
                return Ok(vec![Batch {
                    tag: String::new(),
                    events: vec![0xc1, 0x00],
                    count: 1,
                }])
            }
            _ => {}
        }
        let count: u64 = host::config("count").and_then(|c| c.parse().ok()).unwrap_or(2);
        let first = next();
        let mut out = Vec::new();
        for n in first..first + count {
            event(&mut out, "n", n, true);
        }
        host::state_set("next", &(first + count).to_le_bytes());
        if host::config("emit").as_deref() == Some("on") {
            let mut e = Vec::new();
            event(&mut e, "emitted", first, false);
            emitter::emit(&Batch {
                tag: "emitted".into(),
                events: e,
                count: 1,
            });
        }
        host::counter_add("collected", count);
        Ok(vec![Batch {
            tag: String::new(),
            events: out,
            count: count as u32,
        }])
    }
}

export!(Plugin);
