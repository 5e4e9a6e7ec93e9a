#![allow(dead_code)] // which helpers a build uses depends on its plugin features
//! Helpers for plugin tests: build a plugin from key/value pairs, make events from JSON, run a
//! filter and read back what it produced as JSON.

use std::sync::Arc;
use weir_config::{ConfigError, Location, Params, Section, SectionKind};
use weir_core::service::{FILTER_COMMON_PARAMS, INPUT_COMMON_PARAMS, OUTPUT_COMMON_PARAMS};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, Input, Output,
    PluginDescriptor, PluginKind, ServiceConfig,
};
use weir_event::{EventTime, EventWriter, Events};
use weir_parser::ParserRegistry;

/// A section of `kind` holding `name` and the given pairs, as if read from a file.
pub fn section(kind: SectionKind, name: &str, pairs: &[(&str, &str)]) -> Section {
    let loc = Location::command_line();
    let mut s = Section::new(kind, loc.clone());
    s.push("name", name, loc.clone());
    for (k, v) in pairs {
        s.push(*k, *v, loc.clone());
    }
    s
}

/// Validates `pairs` against a plugin's table plus the keys common to its kind.
pub fn params(d: &PluginDescriptor, pairs: &[(&str, &str)]) -> Result<Params, ConfigError> {
    let (kind, common) = match d.kind {
        PluginKind::Input => (SectionKind::Input, INPUT_COMMON_PARAMS),
        PluginKind::Filter => (SectionKind::Filter, FILTER_COMMON_PARAMS),
        PluginKind::Output => (SectionKind::Output, OUTPUT_COMMON_PARAMS),
    };
    let s = section(kind, d.name, pairs);
    weir_config::validate(
        &s,
        &[d.params, common],
        &format!("{} '{}'", d.kind.as_str(), d.name),
    )
}

/// A build context with default service settings and the given parsers.
pub fn build_context_with(parsers: ParserRegistry) -> BuildContext {
    BuildContext::new(
        "test.0".into(),
        Arc::new(ServiceConfig::default()),
        Arc::new(parsers),
        std::env::temp_dir(),
    )
}

/// A build context with default service settings and no parsers beyond the built-in ones.
pub fn build_context() -> BuildContext {
    build_context_with(ParserRegistry::new())
}

/// Builds a filter from key/value pairs.
pub fn filter(
    d: &PluginDescriptor,
    pairs: &[(&str, &str)],
) -> Result<Box<dyn Filter>, ConfigError> {
    let p = params(d, pairs)?;
    match &d.factory {
        Factory::Filter(make) => make(&p, &build_context()),
        _ => panic!("{} is not a filter", d.name),
    }
}

/// Builds an output from key/value pairs.
pub fn output(
    d: &PluginDescriptor,
    pairs: &[(&str, &str)],
) -> Result<Box<dyn Output>, ConfigError> {
    let p = params(d, pairs)?;
    match &d.factory {
        Factory::Output(make) => make(&p, &build_context()),
        _ => panic!("{} is not an output", d.name),
    }
}

/// Builds an input from key/value pairs.
pub fn input(d: &PluginDescriptor, pairs: &[(&str, &str)]) -> Result<Box<dyn Input>, ConfigError> {
    let p = params(d, pairs)?;
    match &d.factory {
        Factory::Input(make) => make(&p, &build_context()),
        _ => panic!("{} is not an input", d.name),
    }
}

/// Encodes one event per JSON object, all at `time`.
pub fn events(bodies: &[&str], time: EventTime) -> EventWriter {
    let mut w = EventWriter::new();
    for b in bodies {
        let mut body = Vec::new();
        weir_event::json::from_json(b, &mut body).expect("test JSON is valid");
        w.push(time, &[], &body);
    }
    w
}

/// The bodies of encoded events as JSON text.
pub fn bodies(buf: &[u8]) -> Vec<String> {
    Events::new(buf)
        .map(|e| {
            weir_event::json::to_json_string(e.expect("valid events").body).expect("valid body")
        })
        .collect()
}

/// Runs a filter over JSON bodies with `tag`; returns the outcome and the resulting bodies
/// (the input bodies, re-rendered, when the filter left the batch unchanged).
pub fn run_filter(f: &dyn Filter, tag: &str, input: &[&str]) -> (FilterOutcome, Vec<String>) {
    let batch = events(input, EventTime::new(1_700_000_000, 0));
    let mut out = EventWriter::new();
    let ctx = FilterContext {
        input: "test.0",
        input_plugin: "test",
    };
    let outcome = f.filter(
        Batch {
            tag,
            data: &batch.buf,
            records: batch.count,
        },
        &mut out,
        &ctx,
    );
    match outcome {
        FilterOutcome::Unchanged => (outcome, bodies(&batch.buf)),
        FilterOutcome::Modified => {
            assert_eq!(
                out.count,
                Events::new(&out.buf).count(),
                "EventWriter count matches its events"
            );
            (outcome, bodies(&out.buf))
        }
    }
}
