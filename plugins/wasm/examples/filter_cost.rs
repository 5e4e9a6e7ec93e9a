//! What a component filter costs per record, without the rest of a pipeline around it: the
//! records of a JSON-lines file, in batches of about 256 KiB (what `tail` hands a filter when
//! a file has that much waiting), go through the filter again and again, and the best of
//! several rounds is reported.
//!
//! ```text
//! cargo run --release -p weir-wasm --example filter_cost -- FILTER.wasm LOGS.jsonl [KEY=VALUE ...]
//! ```
//!
//! `KEY=VALUE` pairs set the filter's parameters; `WEIR_BATCH_KB` changes the batch size. A pipeline's CPU time moves by tens of
//! percent from one run to the next on a shared machine; this isolates the filter, so that
//! changes to the SDK or the host can be compared.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use weir_config::{Location, Section, SectionKind};
use weir_core::service::FILTER_COMMON_PARAMS;
use weir_core::{Batch, BuildContext, Filter, FilterContext, ServiceConfig};
use weir_event::{EventTime, EventWriter};
use weir_wasm::component::filter::WasmFilter;
use weir_wasm::component::{params, PluginSource, Settings};

/// About what `tail` reads at once from a file with much waiting.
const BATCH_KB: usize = 256;
const ROUNDS: usize = 7;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: filter_cost FILTER.wasm LOGS.jsonl [KEY=VALUE ...]";
    let path = args.next().ok_or(usage)?;
    let logs = args.next().ok_or(usage)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    weir_core::log::set_level(weir_core::log::Level::Warn);

    let settings = Settings {
        cache_dir: Some(dir.path().join("cache")),
        state_dir: Some(dir.path().join("state")),
    };
    let source = PluginSource::load(Path::new(&path), settings).map_err(|e| e.to_string())?;
    let loc = Location::command_line();
    let mut section = Section::new(SectionKind::Filter, loc.clone());
    section.push("name", source.name(), loc.clone());
    for kv in args {
        let (k, v) = kv.split_once('=').ok_or(usage)?;
        section.push(k, v, loc.clone());
    }
    let table = params::leak_table(source.kind(), &source.current().info.params);
    let p = weir_config::validate(&section, &[table, FILTER_COMMON_PARAMS], "filter")
        .map_err(|e| e.to_string())?;
    let ctx = BuildContext::new(
        "bench.0".into(),
        Arc::new(ServiceConfig::default()),
        Arc::new(weir_parser::ParserRegistry::new()),
        std::env::temp_dir(),
    );
    let filter = WasmFilter::new(source, &p, &ctx).map_err(|e| e.to_string())?;

    let batches = read_batches(Path::new(&logs))?;
    let records: usize = batches.iter().map(|b| b.count).sum();
    let fctx = FilterContext {
        input: "bench.0",
        input_plugin: "bench",
    };
    let mut out = EventWriter::new();
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for b in &batches {
            out.clear();
            let batch = Batch {
                tag: "bench",
                data: &b.buf,
                records: b.count,
            };
            filter.filter(batch, &mut out, &fctx);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{records} records in {} batches: {:.0} ns/record (best of {ROUNDS} rounds)",
        batches.len(),
        best * 1e9 / records as f64
    );
    Ok(())
}

fn read_batches(path: &Path) -> Result<Vec<EventWriter>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let batch_bytes = std::env::var("WEIR_BATCH_KB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH_KB)
        * 1024;
    let mut batches = vec![EventWriter::new()];
    let mut body = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        body.clear();
        if weir_event::json::from_json(&line, &mut body).is_err() {
            continue;
        }
        let last = batches.last_mut().expect("never empty");
        last.push(EventTime::now(), &[], &body);
        if last.buf.len() >= batch_bytes {
            batches.push(EventWriter::new());
        }
    }
    batches.retain(|b| b.count > 0);
    Ok(batches)
}
