//! tail's line splitting on its hot path: a 4 MiB buffer of ~220-byte log lines cut into lines
//! by [`LineSplitter`], fed whole and in the 256 KiB reads tail makes (so some lines straddle
//! two reads and are assembled from both).
//!
//! `cargo bench -p weir-plugins --bench tail_lines -- --measurement-time 3`
//! Criterion reports lines per second; time per iteration / 19,287 lines = nanoseconds per
//! line (about 10 ns on the 2-core development machine, both ways of feeding).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use weir_plugins::inputs::tail::lines::{LineSplitter, LongLines};

/// Size of the buffer split per iteration.
const BUFFER: usize = 4 << 20;

/// tail's read size when data is waiting.
const READ: usize = 256 << 10;

/// Fluent Bit's default `buffer_max_size`.
const MAX_LINE: usize = 32 << 10;

/// Apache-combined-like lines of 200 to 240 bytes (218 on average) up to `BUFFER` bytes;
/// returns the buffer and its number of lines (19,287).
fn log_buffer() -> (Vec<u8>, usize) {
    let mut buf = Vec::with_capacity(BUFFER + 512);
    let mut lines = 0;
    while buf.len() < BUFFER {
        let i = lines;
        let line = format!(
            "203.0.113.{h} - - [01/Jan/2026:00:00:{s:02} +0000] \"GET /api/v1/orders/{i} HTTP/1.1\" 200 {size} \"https://shop.example.com/cart\" \"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 {pad}\"\n",
            h = i % 250,
            s = i % 60,
            size = 20_000 + i % 5000,
            pad = "x".repeat(i % 40),
        );
        buf.extend_from_slice(line.as_bytes());
        lines += 1;
    }
    (buf, lines)
}

fn bench(c: &mut Criterion) {
    let (buf, lines) = log_buffer();
    let mut g = c.benchmark_group("tail_lines");
    g.throughput(Throughput::Elements(lines as u64));
    for (name, block) in [("whole_buffer", buf.len()), ("reads_of_256k", READ)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut split = LineSplitter::new(0, MAX_LINE, LongLines::Stop);
                let mut n = 0usize;
                let mut bytes = 0usize;
                for chunk in black_box(&buf[..]).chunks(block) {
                    split.feed(chunk, |line, _offset| {
                        n += 1;
                        bytes += line.len();
                    });
                }
                assert_eq!(n, lines);
                black_box(bytes)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
