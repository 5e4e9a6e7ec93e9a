//! The host's test filter (JSON lines). What it does to a record depends on the record's
//! `action`:
//! - `loop`: never returns (the time limit must stop it);
//! - `bomb`: allocates until memory runs out (the memory limit must stop it);
//! - `trap`: panics; `error`: returns an error;
//! - `split`: the record goes on under the tag `split.<tag>`;
//! - `drop`: the record is dropped;
//! - anything else: the record gets `filtered_by`, `version`, `calls` (batches this instance
//!   name has seen, kept in the host's state) and `greeting` (its parameter).
//!
//! Built in variants by `GUEST_VARIANT` at build time: `v2` (version 2, and a new parameter),
//! `broken-init` (init fails), `renamed` (another name), `loop-init` (init never returns),
//! `msgpack` (MessagePack events, handed back as they came, and with `greeting` `copy`, also
//! copied under the tag `copy.<tag>`).

wit_bindgen::generate!({ world: "filter", path: "../../../../../wit" });

use exports::weir::plugin::plugin::Guest as PluginGuest;
use weir::plugin::host;
use weir::plugin::types::{EventFormat, Level, ParamSpec, ParamType, PluginInfo, PluginKind};

const VARIANT: Option<&str> = option_env!("GUEST_VARIANT");

fn variant(v: &str) -> bool {
    VARIANT == Some(v)
}

fn version() -> u64 {
    if variant("v2") {
        2
    } else {
        1
    }
}

struct Plugin;

impl PluginGuest for Plugin {
    fn describe() -> PluginInfo {
        let mut params = vec![
            ParamSpec {
                name: "greeting".into(),
                kind: ParamType::String,
                default: Some("hello".into()),
                required: false,
                description: "Added to every record.".into(),
            },
            ParamSpec {
                name: "fail_init".into(),
                kind: ParamType::Boolean,
                default: Some("off".into()),
                required: false,
                description: "Make init fail.".into(),
            },
        ];
        if variant("v2") {
            params.push(ParamSpec {
                name: "shout".into(),
                kind: ParamType::Boolean,
                default: Some("off".into()),
                required: false,
                description: "Upper-case the greeting.".into(),
            });
        }
        PluginInfo {
            name: if variant("renamed") { "other_filter" } else { "test_filter" }.into(),
            kind: PluginKind::Filter,
            description: "Test filter of the WebAssembly host.".into(),
            version: format!("{}.0.0", version()),
            event_format: if variant("msgpack") {
                EventFormat::Msgpack
            } else {
                EventFormat::Json
            },
            params,
        }
    }

    fn init() -> Result<(), String> {
        if variant("broken-init") {
            return Err("broken on purpose".into());
        }
        if variant("loop-init") {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        if host::config("fail_init").as_deref() == Some("on")
            || host::config("fail_init").as_deref() == Some("true")
        {
            return Err("fail_init is set".into());
        }
        let inits = read_u64("inits") + 1;
        host::state_set("inits", &inits.to_le_bytes());
        host::log(Level::Debug, &format!("init number {inits}"));
        Ok(())
    }
}

fn read_u64(key: &str) -> u64 {
    host::state_get(key)
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

impl Guest for Plugin {
    fn filter(events: Batch) -> Result<Vec<Batch>, String> {
        if variant("msgpack") {
            let copy = (host::config("greeting").as_deref() == Some("copy")).then(|| Batch {
                tag: format!("copy.{}", events.tag),
                events: events.events.clone(),
                count: events.count,
            });
            let mut out = vec![events];
            out.extend(copy);
            return Ok(out);
        }
        let text = String::from_utf8(events.events).map_err(|e| e.to_string())?;
        let calls = read_u64("calls") + 1;
        host::state_set("calls", &calls.to_le_bytes());
        host::counter_add("batches", 1);
        host::gauge_set("last_batch_records", f64::from(events.count));
        let mut greeting = host::config("greeting").unwrap_or_default();
        if host::config("shout").as_deref() == Some("on") {
            greeting = greeting.to_uppercase();
        }
        let mut kept = String::new();
        let mut split = String::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut ev: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
            let action = ev["record"]["action"].as_str().unwrap_or("").to_string();
            match action.as_str() {
                "loop" => {
                    #[allow(clippy::empty_loop)]
                    loop {}
                }
                "bomb" => {
                    let mut hog: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hog.push(vec![7u8; 1 << 20]);
                        host::gauge_set("hog", hog.len() as f64);
                    }
                }
                "trap" => panic!("asked to trap"),
                "error" => return Err("asked to fail".into()),
                "drop" => continue,
                "split" => {
                    split.push_str(&ev.to_string());
                    split.push('\n');
                    continue;
                }
                _ => {}
            }
            let rec = &mut ev["record"];
            rec["filtered_by"] = "test_filter".into();
            rec["version"] = version().into();
            rec["calls"] = calls.into();
            rec["greeting"] = greeting.clone().into();
            kept.push_str(&ev.to_string());
            kept.push('\n');
        }
        let mut out = vec![Batch {
            tag: String::new(),
            count: kept.lines().count() as u32,
            events: kept.into_bytes(),
        }];
        if !split.is_empty() {
            out.push(Batch {
                tag: format!("split.{}", events.tag),
                count: split.lines().count() as u32,
                events: split.into_bytes(),
            });
        }
        Ok(out)
    }
}

export!(Plugin);
