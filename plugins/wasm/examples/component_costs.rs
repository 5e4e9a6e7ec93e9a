//! What a component filter costs: compiling it, loading it from the compile cache, making an
//! instance (with its `init`), the memory an instance keeps, and a call.
//!
//! ```text
//! cargo run --release -p weir-wasm --example component_costs -- FILTER.wasm [INSTANCES]
//! ```
//!
//! Memory per instance is the growth of the process's resident memory while `INSTANCES`
//! (default 100) instances are made and each has filtered one batch, divided by their number.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_config::{Location, Section, SectionKind};
use weir_core::service::FILTER_COMMON_PARAMS;
use weir_core::{Batch, BuildContext, Filter, FilterContext, ServiceConfig};
use weir_event::{EventTime, EventWriter};
use weir_wasm::component::filter::WasmFilter;
use weir_wasm::component::{params, Compiled, PluginSource, Settings};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: component_costs FILTER.wasm [INSTANCES]")?;
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let path = Path::new(&path);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cache = dir.path().join("cache");
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    weir_core::log::set_level(weir_core::log::Level::Warn);

    let t = Instant::now();
    Compiled::load(path, None).map_err(|e| e.to_string())?;
    let compile = t.elapsed();
    Compiled::load(path, Some(&cache)).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let cached = Compiled::load(path, Some(&cache)).map_err(|e| e.to_string())?;
    let from_cache = t.elapsed();
    assert!(!cached.load.compiled, "loaded from the cache");

    let settings = Settings {
        cache_dir: Some(cache),
        state_dir: Some(dir.path().join("state")),
    };
    let source = PluginSource::load(path, settings).map_err(|e| e.to_string())?;
    let c = source.current();
    let loc = Location::command_line();
    let mut section = Section::new(SectionKind::Filter, loc.clone());
    section.push("name", source.name(), loc);
    let table = params::leak_table(source.kind(), &c.info.params);
    let p = weir_config::validate(&section, &[table, FILTER_COMMON_PARAMS], "filter")
        .map_err(|e| e.to_string())?;

    let mut w = EventWriter::new();
    let mut body = Vec::new();
    weir_event::json::from_json(
        r#"{"host":"edge-01","level":"info","msg":"GET /api/v1/items 200 12ms","service":"gateway","pid":4242,"latency_ms":12.5,"path":"/api/v1/items","status":200,"user_agent":"curl/8.5.0"}"#,
        &mut body,
    )
    .map_err(|e| e.to_string())?;
    for _ in 0..100 {
        w.push(EventTime::now(), &[], &body);
    }
    let fctx = FilterContext {
        input: "bench.0",
        input_plugin: "bench",
    };
    let batch = Batch {
        tag: "bench",
        data: &w.buf,
        records: w.count,
    };

    let before = rss_kb();
    let t = Instant::now();
    let mut filters = Vec::with_capacity(n);
    let mut contexts = Vec::with_capacity(n);
    for i in 0..n {
        let ctx = BuildContext::new(
            format!("bench.{i}").into(),
            Arc::new(ServiceConfig::default()),
            Arc::new(weir_parser::ParserRegistry::new()),
            std::env::temp_dir(),
        );
        filters.push(WasmFilter::new(source.clone(), &p, &ctx).map_err(|e| e.to_string())?);
        contexts.push(ctx);
    }
    let instantiate = t.elapsed() / n as u32;
    let mut out = EventWriter::new();
    for f in &filters {
        out.clear();
        f.filter(batch, &mut out, &fctx);
    }
    let per_instance = rss_kb().saturating_sub(before) / n as u64;

    let calls = 200;
    let t = Instant::now();
    for _ in 0..calls {
        out.clear();
        filters[0].filter(batch, &mut out, &fctx);
    }
    let call = t.elapsed() / calls;

    println!("plugin            {} ({} KB)", path.display(), size / 1024);
    println!("compile           {}", ms(compile));
    println!("load from cache   {}", ms(from_cache));
    println!("instance + init   {} (mean of {n})", ms(instantiate));
    println!("memory/instance   {per_instance} KB resident (after one batch each)");
    println!(
        "batch of 100      {} ({:.0} records/s)",
        ms(call),
        100.0 / call.as_secs_f64()
    );
    Ok(())
}
