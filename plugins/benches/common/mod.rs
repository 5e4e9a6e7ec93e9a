//! Shared setup of the filter benchmarks: a batch of apache-like records, as the apache
//! parser produces them, and a filter built through the plugin registry as the engine does.

use std::sync::Arc;
use weir_config::{Location, Section, SectionKind};
use weir_core::service::FILTER_COMMON_PARAMS;
use weir_core::{BuildContext, Factory, Filter, PluginKind, ServiceConfig};
use weir_event::{EventTime, EventWriter};
use weir_parser::ParserRegistry;

/// Records per batch.
pub const BATCH: usize = 1000;

/// `BATCH` apache-combined records; one in ten has status 404.
pub fn apache_batch() -> EventWriter {
    let mut w = EventWriter::with_capacity(BATCH * 300);
    let mut body = Vec::with_capacity(512);
    for i in 0..BATCH {
        let status = if i % 10 == 3 { "404" } else { "200" };
        let json = format!(
            r#"{{"host":"203.0.113.{h}","user":"-","method":"GET","path":"/api/v1/orders/{i}","code":"{status}","status":"{status}","size":"{size}","referer":"https://shop.example.com/cart","agent":"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}}"#,
            h = i % 250,
            size = 20_000 + i,
        );
        body.clear();
        weir_event::json::from_json(&json, &mut body).expect("valid JSON");
        w.push(EventTime::new(1_767_225_600 + i as i64, 0), &[], &body);
    }
    w
}

/// Builds the filter `name` with `pairs`.
pub fn build_filter(name: &str, pairs: &[(&str, &str)]) -> Box<dyn Filter> {
    let registry = weir_plugins::registry();
    let d = registry
        .find(PluginKind::Filter, name)
        .expect("filter compiled in");
    let loc = Location::command_line();
    let mut s = Section::new(SectionKind::Filter, loc.clone());
    s.push("name", name, loc.clone());
    for (k, v) in pairs {
        s.push(*k, *v, loc.clone());
    }
    let p = weir_config::validate(&s, &[d.params, FILTER_COMMON_PARAMS], name)
        .expect("valid parameters");
    let ctx = BuildContext::new(
        "bench.0".into(),
        Arc::new(ServiceConfig::default()),
        Arc::new(ParserRegistry::new()),
        std::env::temp_dir(),
    );
    match &d.factory {
        Factory::Filter(make) => make(&p, &ctx).expect("filter builds"),
        _ => unreachable!("registry returned a filter"),
    }
}
