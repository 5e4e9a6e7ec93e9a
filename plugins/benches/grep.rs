//! `grep` on its hot path: `exclude status ^404$` over 1000 apache-like records, one in ten
//! dropped, and a rule that drops nothing (the batch passes unchanged).
//!
//! `cargo bench -p weir-plugins --no-default-features --features filter-grep --bench grep`
//! Time per iteration / 1000 = nanoseconds per record.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use weir_core::{Batch, FilterContext};
use weir_event::EventWriter;

mod common;

fn bench(c: &mut Criterion) {
    let batch = common::apache_batch();
    let ctx = FilterContext {
        input: "tail.0",
        input_plugin: "tail",
    };
    let mut g = c.benchmark_group("grep");
    g.throughput(Throughput::Elements(common::BATCH as u64));
    // The floor: walking the batch's events without looking inside them.
    g.bench_function("walk_events_only", |b| {
        b.iter(|| {
            black_box(
                weir_event::Events::new(black_box(&batch.buf))
                    .filter(|e| e.is_ok())
                    .count(),
            )
        })
    });
    for (name, rule) in [
        ("exclude_404", "status ^404$"),
        ("exclude_none", "status ^500$"),
    ] {
        let f = common::build_filter("grep", &[("exclude", rule)]);
        let mut out = EventWriter::with_capacity(batch.buf.len());
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let batch = Batch {
                    tag: "apache",
                    data: black_box(&batch.buf),
                    records: batch.count,
                };
                black_box(f.filter(batch, &mut out, &ctx));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
