//! A filter that tries to reach outside its sandbox through WASI (built for wasm32-wasip1 and
//! adapted to WASI 0.2): every record gets what the plugin could read of the file `file`, of
//! the environment variable `env`, and whether it could write the file `write`, each as
//! `{"ok": ...}` or `{"err": ...}`.

wit_bindgen::generate!({ world: "filter", path: "../../../../../wit" });

use exports::weir::plugin::plugin::Guest as PluginGuest;
use weir::plugin::host;
use weir::plugin::types::{EventFormat, ParamSpec, ParamType, PluginInfo, PluginKind};

struct Plugin;

fn param(name: &str, description: &str) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind: ParamType::String,
        default: Some(String::new()),
        required: false,
        description: description.into(),
    }
}

impl PluginGuest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "wasi_probe".into(),
            kind: PluginKind::Filter,
            description: "Tries to read a file and an environment variable.".into(),
            version: "1.0.0".into(),
            event_format: EventFormat::Json,
            params: vec![
                param("file", "A file to read."),
                param("env", "An environment variable to read."),
                param("write", "A file to write."),
            ],
        }
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

fn outcome<T: Into<serde_json::Value>, E: std::fmt::Display>(r: Result<T, E>) -> serde_json::Value {
    match r {
        Ok(v) => serde_json::json!({ "ok": v.into() }),
        Err(e) => serde_json::json!({ "err": e.to_string() }),
    }
}

impl Guest for Plugin {
    fn filter(events: Batch) -> Result<Vec<Batch>, String> {
        let file = host::config("file").unwrap_or_default();
        let env = host::config("env").unwrap_or_default();
        let write = host::config("write").unwrap_or_default();
        let text = String::from_utf8(events.events).map_err(|e| e.to_string())?;
        let mut out = String::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut ev: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
            ev["record"]["file"] = outcome(std::fs::read_to_string(&file));
            ev["record"]["env"] = outcome(std::env::var(&env));
            if !write.is_empty() {
                ev["record"]["write"] = outcome(std::fs::write(&write, b"written").map(|()| true));
            }
            out.push_str(&ev.to_string());
            out.push('\n');
        }
        Ok(vec![Batch {
            tag: String::new(),
            count: events.count,
            events: out.into_bytes(),
        }])
    }
}

export!(Plugin);
