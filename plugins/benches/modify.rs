//! `modify` on its hot path: `add pipeline edge-bench` on every one of 1000 apache-like
//! records, and a rename, which rewrites each record's pairs.
//!
//! `cargo bench -p weir-plugins --no-default-features --features filter-modify --bench modify`
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
    let mut g = c.benchmark_group("modify");
    g.throughput(Throughput::Elements(common::BATCH as u64));
    let cases: [(&str, &[(&str, &str)]); 2] = [
        ("add_one_key", &[("add", "pipeline edge-bench")]),
        ("rename_one_key", &[("rename", "code http_code")]),
    ];
    for (name, rules) in cases {
        let f = common::build_filter("modify", rules);
        let mut out = EventWriter::with_capacity(batch.buf.len() * 2);
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
