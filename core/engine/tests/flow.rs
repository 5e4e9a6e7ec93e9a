//! The engine end to end with test plugins: an input emits batches and asks to stop, a filter
//! drops some records, an output fails twice before accepting. Everything the filter kept
//! arrives exactly once, retries are counted, and shutdown delivers what was buffered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use weir_core::{
    Batch, BoxFuture, BuildOptions, Factory, Filter, FilterContext, FilterOutcome, FlushResult,
    Input, InputContext, Output, OutputContext, ParamSpec, PluginDescriptor, PluginKind, Registry,
};
use weir_event::view::{find, read_scalar, Scalar};
use weir_event::{Chunk, EventTime, EventWriter, Events};

static SEEN: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static FLUSHES: AtomicUsize = AtomicUsize::new(0);

struct Counting {
    batches: u64,
    per_batch: u64,
}

impl Input for Counting {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let mut n = 0u64;
            for _ in 0..self.batches {
                let mut w = EventWriter::new();
                for _ in 0..self.per_batch {
                    let mut body = Vec::new();
                    weir_event::value::write_map_len(&mut body, 1);
                    weir_event::value::write_str(&mut body, "n");
                    weir_event::value::write_uint(&mut body, n);
                    w.push(EventTime::new(1, 0), &[], &body);
                    n += 1;
                }
                let tag = ctx.tag().to_string();
                ctx.emit(&tag, &w.buf, w.count).await;
            }
            ctx.request_exit();
            ctx.cancelled().await;
            Ok(())
        })
    }
}

/// Drops records whose `n` is a multiple of 10.
struct DropTens;

impl Filter for DropTens {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        for ev in Events::new(batch.data) {
            let ev = ev.expect("valid");
            let Some(v) = find(ev.body, "n") else {
                continue;
            };
            if let Scalar::UInt(n) = read_scalar(v) {
                if n % 10 != 0 {
                    out.push_raw(&ev);
                }
            }
        }
        FilterOutcome::Modified
    }
}

/// Answers Retry to its first two flushes, then records what it receives.
struct Flaky;

impl Output for Flaky {
    fn flush<'a>(
        &'a self,
        chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            if FLUSHES.fetch_add(1, Ordering::SeqCst) < 2 {
                return FlushResult::Retry;
            }
            let mut seen = SEEN.lock().unwrap();
            for ev in chunk.events() {
                let ev = ev.expect("valid");
                if let Scalar::UInt(n) = read_scalar(find(ev.body, "n").expect("n")) {
                    seen.push(n);
                }
            }
            FlushResult::Ok
        })
    }
}

static IN: PluginDescriptor = PluginDescriptor {
    name: "counting",
    kind: PluginKind::Input,
    description: "test input",
    params: &[ParamSpec::int("batches").default("10")],
    factory: Factory::Input(|p, _| {
        Ok(Box::new(Counting {
            batches: p.int("batches").unwrap_or(10) as u64,
            per_batch: 100,
        }))
    }),
};
static FILTER: PluginDescriptor = PluginDescriptor {
    name: "drop_tens",
    kind: PluginKind::Filter,
    description: "test filter",
    params: &[],
    factory: Factory::Filter(|_, _| Ok(Box::new(DropTens))),
};
static OUT: PluginDescriptor = PluginDescriptor {
    name: "flaky",
    kind: PluginKind::Output,
    description: "test output",
    params: &[],
    factory: Factory::Output(|_, _| Ok(Box::new(Flaky))),
};

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(&IN);
    r.register(&FILTER);
    r.register(&OUT);
    r
}

fn config(text: &str) -> weir_config::Config {
    weir_config::parse_str(
        text,
        Path::new("test.yaml"),
        weir_config::Format::Yaml,
        &|_| None,
    )
    .expect("valid")
}

#[tokio::test(start_paused = true)]
async fn filtered_records_arrive_once_after_retries() {
    let cfg = config(
        "service:\n  flush: 1\n  grace: 60\n  scheduler.base: 1\n  scheduler.cap: 2\npipeline:\n  inputs:\n    - name: counting\n      tag: t.a\n  filters:\n    - name: drop_tens\n      match: 't.*'\n  outputs:\n    - name: flaky\n      match: '*'\n      retry_limit: 5\n",
    );
    let opts = BuildOptions {
        config_dir: PathBuf::from("."),
        bundled_parsers: None,
        metrics: None,
        check_only: false,
    };
    let pipeline = weir_core::build(&cfg, &registry(), &opts).expect("builds");
    let metrics = pipeline.metrics.clone();
    let report = weir_core::run(pipeline).await.expect("runs");
    assert_eq!(report.pending, 0);
    assert_eq!(report.reason, weir_core::StopReason::InputRequested);

    let seen = SEEN.lock().unwrap().clone();
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), unique.len(), "no record delivered twice");
    let expected: BTreeSet<u64> = (0..1000).filter(|n| n % 10 != 0).collect();
    assert_eq!(unique, expected);

    let j = metrics.to_json_v1();
    assert_eq!(j["input"]["counting.0"]["records"], 1000);
    assert_eq!(j["filter"]["drop_tens.0"]["drop_records"], 100);
    assert_eq!(j["output"]["flaky.0"]["proc_records"], 900);
    assert_eq!(j["output"]["flaky.0"]["retries"], 2);
    assert!(j["output"]["flaky.0"]["retried_records"].as_u64().unwrap() > 0);
    assert_eq!(j["output"]["flaky.0"]["dropped_records"], 0);
}

#[test]
fn unknown_plugin_and_bad_retry_limit_are_config_errors() {
    let opts = BuildOptions {
        config_dir: PathBuf::from("."),
        bundled_parsers: None,
        metrics: None,
        check_only: false,
    };
    let err = weir_core::build(
        &config("pipeline:\n  inputs:\n    - name: countng\n"),
        &registry(),
        &opts,
    )
    .err()
    .expect("error");
    let text = err.to_string();
    assert!(text.contains("test.yaml:3"), "{text}");
    assert!(
        text.contains("counting"),
        "suggests the known plugin: {text}"
    );

    let err = weir_core::build(
        &config("pipeline:\n  outputs:\n    - name: flaky\n      match: '*'\n      retry_limit: sometimes\n"),
        &registry(),
        &opts,
    )
    .err()
    .expect("error");
    assert!(err.to_string().contains("no_limits"), "{err}");
}

#[test]
fn instance_names_and_aliases() {
    let opts = BuildOptions {
        config_dir: PathBuf::from("."),
        bundled_parsers: None,
        metrics: None,
        check_only: false,
    };
    let p = weir_core::build(
        &config("pipeline:\n  inputs:\n    - name: counting\n    - name: counting\n      alias: second\n  outputs:\n    - name: flaky\n      match: '*'\n"),
        &registry(),
        &opts,
    )
    .expect("builds");
    let names: Vec<&str> = p.instances().iter().map(|(_, _, n)| *n).collect();
    assert_eq!(names, vec!["counting.0", "second", "flaky.0"]);
}
