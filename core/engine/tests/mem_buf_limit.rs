//! `mem_buf_limit`: an input feeding a slow output is paused instead of buffering without
//! bound, resumes by itself, and nothing is lost.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use weir_core::{
    BoxFuture, BuildOptions, Factory, FlushResult, Input, InputContext, Output, OutputContext,
    ParamSpec, PluginDescriptor, PluginKind, Registry,
};
use weir_event::{Chunk, EventTime, EventWriter};

static DELIVERED: AtomicUsize = AtomicUsize::new(0);
/// Most bytes ever waiting in chunks not yet delivered, as the output sees it.
static IN_FLIGHT_MAX: AtomicU64 = AtomicU64::new(0);
static EMITTED_BYTES: AtomicU64 = AtomicU64::new(0);
static DELIVERED_BYTES: AtomicU64 = AtomicU64::new(0);

struct Fast;

impl Input for Fast {
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
                EMITTED_BYTES.fetch_add(w.buf.len() as u64, Ordering::SeqCst);
                let tag = ctx.tag().to_string();
                ctx.emit(&tag, &w.buf, w.count).await;
                let in_flight =
                    EMITTED_BYTES.load(Ordering::SeqCst) - DELIVERED_BYTES.load(Ordering::SeqCst);
                IN_FLIGHT_MAX.fetch_max(in_flight, Ordering::SeqCst);
            }
            ctx.request_exit();
            ctx.cancelled().await;
            Ok(())
        })
    }
}

struct Slow;

impl Output for Slow {
    fn flush<'a>(
        &'a self,
        chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            DELIVERED.fetch_add(chunk.records, Ordering::SeqCst);
            DELIVERED_BYTES.fetch_add(chunk.size() as u64, Ordering::SeqCst);
            FlushResult::Ok
        })
    }
}

static IN: PluginDescriptor = PluginDescriptor {
    name: "fast",
    kind: PluginKind::Input,
    description: "test input",
    params: &[] as &[ParamSpec],
    factory: Factory::Input(|_, _| Ok(Box::new(Fast))),
};
static OUT: PluginDescriptor = PluginDescriptor {
    name: "slow",
    kind: PluginKind::Output,
    description: "test output",
    params: &[],
    factory: Factory::Output(|_, _| Ok(Box::new(Slow))),
};

#[tokio::test(start_paused = true)]
async fn slow_output_pauses_the_input_and_loses_nothing() {
    let mut r = Registry::new();
    r.register(&IN);
    r.register(&OUT);
    let cfg = weir_config::parse_str(
        "service:\n  flush: 1\n  grace: 600\npipeline:\n  inputs:\n    - name: fast\n      tag: t\n      mem_buf_limit: 8k\n  outputs:\n    - name: slow\n      match: '*'\n",
        Path::new("t.yaml"),
        weir_config::Format::Yaml,
        &|_| None,
    )
    .unwrap();
    let opts = BuildOptions {
        config_dir: PathBuf::from("."),
        bundled_parsers: None,
    };
    let p = weir_core::build(&cfg, &r, &opts).unwrap();
    let metrics = p.metrics.clone();
    let report = weir_core::run(p).await.unwrap();
    let pauses = metrics.to_json_v1()["input"]["fast.0"]["pauses"]
        .as_u64()
        .unwrap_or(0);
    assert!(pauses > 0, "pauses are counted in the input's metrics");
    assert_eq!(report.pending, 0);
    assert_eq!(DELIVERED.load(Ordering::SeqCst), 200 * 50);
    // Each batch is under 1 KiB, so with the input paused past 8 KiB (8,000 bytes) what is
    // waiting never goes much beyond the limit plus one batch.
    let max = IN_FLIGHT_MAX.load(Ordering::SeqCst);
    assert!(max <= 8_000 + 1_024, "buffered up to {max} bytes");
}
