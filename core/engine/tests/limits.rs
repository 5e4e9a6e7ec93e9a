//! Memory limits with a slow output: an input over `mem_buf_limit`, and two inputs over the
//! process-wide `memory_limit`, are paused instead of buffering without bound, resume by
//! themselves, and nothing is lost. Each scenario has its own counters (the const parameter
//! `S`), so the two tests can run at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use weir_core::{
    BoxFuture, BuildOptions, Factory, FlushResult, Input, InputContext, Output, OutputContext,
    ParamSpec, PluginDescriptor, PluginKind, Registry,
};
use weir_event::{Chunk, EventTime, EventWriter};

const SCENARIOS: usize = 2;
static DELIVERED: [AtomicUsize; SCENARIOS] = [AtomicUsize::new(0), AtomicUsize::new(0)];
/// Most bytes ever waiting in chunks not yet delivered, as the inputs see it.
static IN_FLIGHT_MAX: [AtomicU64; SCENARIOS] = [AtomicU64::new(0), AtomicU64::new(0)];
static EMITTED_BYTES: [AtomicU64; SCENARIOS] = [AtomicU64::new(0), AtomicU64::new(0)];
static DELIVERED_BYTES: [AtomicU64; SCENARIOS] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Emits 200 batches of 50 small records as fast as it is let.
struct Fast<const S: usize>;

impl<const S: usize> Input for Fast<S> {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            for b in 0..200u64 {
                let mut w = EventWriter::new();
                for i in 0..50u64 {
                    let mut body = Vec::new();
                    weir_event::value::write_map_len(&mut body, 1);
                    weir_event::value::write_str(&mut body, "n");
                    weir_event::value::write_uint(&mut body, b * 50 + i);
                    w.push(EventTime::new(1, 0), &[], &body);
                }
                EMITTED_BYTES[S].fetch_add(w.buf.len() as u64, Ordering::SeqCst);
                let tag = ctx.tag().to_string();
                ctx.emit(&tag, &w.buf, w.count).await;
                let in_flight = EMITTED_BYTES[S].load(Ordering::SeqCst)
                    - DELIVERED_BYTES[S].load(Ordering::SeqCst);
                IN_FLIGHT_MAX[S].fetch_max(in_flight, Ordering::SeqCst);
            }
            ctx.request_exit();
            ctx.cancelled().await;
            Ok(())
        })
    }
}

/// Takes 200 ms per chunk.
struct Slow<const S: usize>;

impl<const S: usize> Output for Slow<S> {
    fn flush<'a>(
        &'a self,
        chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            DELIVERED[S].fetch_add(chunk.records, Ordering::SeqCst);
            DELIVERED_BYTES[S].fetch_add(chunk.size() as u64, Ordering::SeqCst);
            FlushResult::Ok
        })
    }
}

static IN_0: PluginDescriptor = PluginDescriptor {
    name: "fast",
    kind: PluginKind::Input,
    description: "test input",
    params: &[] as &[ParamSpec],
    factory: Factory::Input(|_, _| Ok(Box::new(Fast::<0>))),
};
static OUT_0: PluginDescriptor = PluginDescriptor {
    name: "slow",
    kind: PluginKind::Output,
    description: "test output",
    params: &[],
    factory: Factory::Output(|_, _| Ok(Box::new(Slow::<0>))),
};
static IN_1: PluginDescriptor = PluginDescriptor {
    factory: Factory::Input(|_, _| Ok(Box::new(Fast::<1>))),
    ..IN_0
};
static OUT_1: PluginDescriptor = PluginDescriptor {
    factory: Factory::Output(|_, _| Ok(Box::new(Slow::<1>))),
    ..OUT_0
};

async fn run(
    inp: &'static PluginDescriptor,
    out: &'static PluginDescriptor,
    yaml: &str,
) -> serde_json::Value {
    let mut r = Registry::new();
    r.register(inp);
    r.register(out);
    let cfg = weir_config::parse_str(
        yaml,
        Path::new("t.yaml"),
        weir_config::Format::Yaml,
        &|_| None,
    )
    .unwrap();
    let opts = BuildOptions {
        config_dir: PathBuf::from("."),
        bundled_parsers: None,
        metrics: None,
        check_only: false,
    };
    let p = weir_core::build(&cfg, &r, &opts).unwrap();
    let metrics = p.metrics.clone();
    let report = weir_core::run(p).await.unwrap();
    assert_eq!(report.pending, 0);
    metrics.to_json_v1()
}

#[tokio::test(start_paused = true)]
async fn mem_buf_limit_pauses_a_fast_input_and_loses_nothing() {
    let m = run(
        &IN_0,
        &OUT_0,
        "service:\n  flush: 1\n  grace: 600\npipeline:\n  inputs:\n    - name: fast\n      tag: t\n      mem_buf_limit: 8k\n  outputs:\n    - name: slow\n      match: '*'\n",
    )
    .await;
    assert_eq!(DELIVERED[0].load(Ordering::SeqCst), 200 * 50);
    // Each batch is under 1 KiB, so with the input paused past 8 KiB (8,000 bytes) what is
    // waiting never goes much beyond the limit plus one batch.
    let max = IN_FLIGHT_MAX[0].load(Ordering::SeqCst);
    assert!(max <= 8_000 + 1_024, "buffered up to {max} bytes");
    assert!(
        m["input"]["fast.0"]["pauses"].as_u64().unwrap_or(0) > 0,
        "pauses are counted: {m}"
    );
}

#[tokio::test(start_paused = true)]
async fn memory_limit_holds_two_inputs_together() {
    let m = run(
        &IN_1,
        &OUT_1,
        "service:\n  flush: 1\n  grace: 600\n  memory_limit: 16k\npipeline:\n  inputs:\n    - name: fast\n      tag: a\n    - name: fast\n      tag: b\n  outputs:\n    - name: slow\n      match: '*'\n",
    )
    .await;
    assert_eq!(DELIVERED[1].load(Ordering::SeqCst), 2 * 200 * 50);
    // With both inputs paused past 16 KiB in all, what is waiting never goes much beyond the
    // limit plus one batch per input.
    let max = IN_FLIGHT_MAX[1].load(Ordering::SeqCst);
    assert!(max <= 16_000 + 2 * 1_024, "buffered up to {max} bytes");
    let pauses = m["input"]["fast.0"]["pauses"].as_u64().unwrap_or(0)
        + m["input"]["fast.1"]["pauses"].as_u64().unwrap_or(0);
    assert!(pauses > 0, "pauses are counted: {m}");
}
