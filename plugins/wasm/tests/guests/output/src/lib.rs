//! The host's test output (JSON lines). Each `flush` adds the batch's records to the state
//! key `received` and appends them, with their tag, to the state key `log` (one JSON line per
//! record: `{"tag":..,"record":..}`), then answers by `answer`: `ok`, `retry`, `error`,
//! `trap` or `loop`.

wit_bindgen::generate!({ world: "output", path: "../../../../../wit" });

use exports::weir::plugin::plugin::Guest as PluginGuest;
use weir::plugin::host;
use weir::plugin::types::{EventFormat, ParamSpec, ParamType, PluginInfo, PluginKind};

struct Plugin;

impl PluginGuest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test_output".into(),
            kind: PluginKind::Output,
            description: "Test output of the WebAssembly host.".into(),
            version: "1.0.0".into(),
            event_format: EventFormat::Json,
            params: vec![ParamSpec {
                name: "answer".into(),
                kind: ParamType::String,
                default: Some("ok".into()),
                required: false,
                description: "ok, retry, error, trap or loop.".into(),
            }],
        }
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

impl Guest for Plugin {
    fn flush(events: Batch) -> FlushResult {
        match host::config("answer").as_deref() {
            Some("retry") => return FlushResult::Retry,
            Some("error") => return FlushResult::Error,
            Some("trap") => panic!("asked to trap"),
            Some("loop") =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            _ => {}
        }
        let text = String::from_utf8_lossy(&events.events);
        let mut log = host::state_get("log").unwrap_or_default();
        let mut n = 0u64;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let ev: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(_) => return FlushResult::Error,
            };
            let entry = serde_json::json!({"tag": events.tag, "record": ev["record"]});
            log.extend_from_slice(entry.to_string().as_bytes());
            log.push(b'\n');
            n += 1;
        }
        host::state_set("log", &log);
        let received = host::state_get("received")
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0)
            + n;
        host::state_set("received", &received.to_le_bytes());
        host::counter_add("received", n);
        FlushResult::Ok
    }
}

export!(Plugin);
