#![allow(dead_code)] // each test file uses some of the helpers
//! Helpers of the component host's tests: the test guests, plugin instances built as the
//! engine builds them, and events as JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_config::{Location, Params, Section, SectionKind};
use weir_core::service::{FILTER_COMMON_PARAMS, INPUT_COMMON_PARAMS, OUTPUT_COMMON_PARAMS};
use weir_core::{
    Batch, BuildContext, Filter, FilterContext, FilterOutcome, Output, PluginKind, ServiceConfig,
};
use weir_event::{EventTime, EventWriter, Events};
use weir_wasm::component::filter::WasmFilter;
use weir_wasm::component::output::WasmOutput;
use weir_wasm::component::{params, PluginSource, Settings};

/// A test guest built by `plugins/wasm/tests/guests/build.sh`.
pub fn guest(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let p = target
        .join("wasm-guests/weir-wasm")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: build the test guests with plugins/wasm/tests/guests/build.sh",
        p.display()
    );
    p
}

/// A place for a test's plugin state and compile cache.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            cache_dir: Some(self.dir.path().join("cache")),
            state_dir: Some(self.dir.path().join("state")),
        }
    }

    /// Loads a guest (or any plugin file).
    pub fn load(&self, path: &Path) -> Arc<PluginSource> {
        PluginSource::load(path, self.settings()).expect("the plugin loads")
    }

    /// A copy of a guest under the sandbox, for tests that replace the file.
    pub fn copy(&self, guest_name: &str, as_name: &str) -> PathBuf {
        let to = self.dir.path().join(as_name);
        std::fs::copy(guest(guest_name), &to).expect("copy");
        to
    }
}

/// Validates pairs against the plugin's table plus the kind's common keys, as the engine does.
pub fn params(
    source: &PluginSource,
    pairs: &[(&str, &str)],
) -> Result<Params, weir_config::ConfigError> {
    let c = source.current();
    let kind = source.kind();
    let (sk, common) = match kind {
        PluginKind::Input => (SectionKind::Input, INPUT_COMMON_PARAMS),
        PluginKind::Filter => (SectionKind::Filter, FILTER_COMMON_PARAMS),
        PluginKind::Output => (SectionKind::Output, OUTPUT_COMMON_PARAMS),
    };
    let loc = Location::command_line();
    let mut s = Section::new(sk, loc.clone());
    s.push("name", source.name(), loc.clone());
    for (k, v) in pairs {
        s.push(*k, *v, loc.clone());
    }
    let table = params::leak_table(kind, &c.info.params);
    weir_config::validate(
        &s,
        &[table, common],
        &format!("{} '{}'", kind.as_str(), source.name()),
    )
}

pub fn context(instance: &str) -> BuildContext {
    BuildContext::new(
        instance.into(),
        Arc::new(ServiceConfig::default()),
        Arc::new(weir_parser::ParserRegistry::new()),
        std::env::temp_dir(),
    )
}

pub fn filter(
    source: &Arc<PluginSource>,
    ctx: &BuildContext,
    pairs: &[(&str, &str)],
) -> WasmFilter {
    let p = params(source, pairs).expect("valid parameters");
    WasmFilter::new(source.clone(), &p, ctx).expect("the filter builds")
}

pub fn output(
    source: &Arc<PluginSource>,
    ctx: &BuildContext,
    pairs: &[(&str, &str)],
) -> WasmOutput {
    let p = params(source, pairs).expect("valid parameters");
    WasmOutput::new(source.clone(), &p, ctx).expect("the output builds")
}

/// Encodes one event per JSON object.
pub fn events(bodies: &[&str]) -> EventWriter {
    let mut w = EventWriter::new();
    for b in bodies {
        let mut body = Vec::new();
        weir_event::json::from_json(b, &mut body).expect("test JSON is valid");
        w.push(EventTime::new(1_700_000_000, 0), &[], &body);
    }
    w
}

/// The records of encoded events, as JSON values.
pub fn records(buf: &[u8]) -> Vec<serde_json::Value> {
    Events::new(buf)
        .map(|e| {
            let text = weir_event::json::to_json_string(e.expect("valid events").body)
                .expect("valid body");
            serde_json::from_str(&text).expect("JSON")
        })
        .collect()
}

/// Runs a filter over records; returns the outcome and the records that go on.
pub fn run_filter(
    f: &dyn Filter,
    tag: &str,
    input: &[&str],
) -> (FilterOutcome, Vec<serde_json::Value>) {
    let batch = events(input);
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
        FilterOutcome::Unchanged => (outcome, records(&batch.buf)),
        FilterOutcome::Modified => {
            assert_eq!(out.count, Events::new(&out.buf).count());
            (outcome, records(&out.buf))
        }
    }
}

/// A chunk of records, for outputs.
pub fn chunk(tag: &str, bodies: &[&str]) -> weir_event::Chunk {
    let w = events(bodies);
    weir_event::Chunk {
        id: 1,
        tag: tag.into(),
        signal: weir_event::Signal::Logs,
        data: w.buf,
        records: w.count,
        created: std::time::Instant::now(),
    }
}

pub fn output_context(name: &str) -> weir_core::OutputContext {
    weir_core::OutputContext {
        name: name.into(),
        component: format!("output:test_output:{name}"),
    }
}

/// Flushes a chunk through an output on a fresh runtime.
pub fn flush(o: &dyn Output, c: &weir_event::Chunk) -> weir_core::FlushResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(o.flush(c, &output_context("test_output.0")))
}

/// The value of one of an instance's plugin counters.
pub fn counter(ctx: &BuildContext, kind: PluginKind, name: &str) -> u64 {
    ctx.metrics.plugin(kind, &ctx.instance).counter(name).get()
}
