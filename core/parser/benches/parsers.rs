//! Hot-path benchmarks: the JSON and Apache-combined lines of the tail benchmarks, and the
//! time format on its own (Weir's strptime against chrono's parser for the same format).
//!
//! `cargo bench -p weir-parser -- --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use weir_parser::timefmt::{LocalZone, TimeFormat};
use weir_parser::{Parser, ParserConfig};

const JSON_LINE: &str = r#"{"ts":"2026-01-01T00:00:00.004Z","level":"info","host":"edge-node-042","service":"checkout-api","path":"/api/v1/orders/51234","msg":"request completed successfully","user_id":4821337,"latency_ms":12.504}"#;

const APACHE_LINE: &str = r#"203.0.113.9 - - [01/Jan/2026:00:00:04 +0000] "GET /api/v1/orders/51234 HTTP/1.1" 200 23817 "https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0""#;

const APACHE_REGEX: &str = r#"^(?<client>\S+) (?<ident>\S+) (?<user>\S+) \[(?<time>[^\]]+)\] "(?<method>[A-Z]+) (?<path>\S+) (?<protocol>[^"]*)" (?<status>\d{3}) (?<size>\d+|-) "(?<referer>[^"]*)" "(?<agent>[^"]*)"$"#;

fn json_parser(keep: bool) -> Parser {
    let mut c = ParserConfig::new("json", "json");
    c.time_key = Some("ts".into());
    c.time_format = Some("%Y-%m-%dT%H:%M:%S.%L%z".into());
    c.time_keep = keep;
    Parser::new(&c).expect("valid parser")
}

fn apache_parser() -> Parser {
    let mut c = ParserConfig::new("apache_combined", "regex");
    c.regex = Some(APACHE_REGEX.into());
    c.time_key = Some("time".into());
    c.time_format = Some("%d/%b/%Y:%H:%M:%S %z".into());
    Parser::new(&c).expect("valid parser")
}

fn bench_json(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Elements(1));
    for keep in [true, false] {
        let p = json_parser(keep);
        let mut out = Vec::with_capacity(4096);
        g.bench_function(
            if keep {
                "line_time_keep"
            } else {
                "line_time_drop"
            },
            |b| {
                b.iter(|| {
                    out.clear();
                    black_box(p.parse(black_box(JSON_LINE.as_bytes()), &mut out).ok());
                })
            },
        );
    }
    let p = json_parser(true);
    let mut out = Vec::with_capacity(1 << 20);
    g.bench_function("event_into_chunk", |b| {
        b.iter(|| {
            if out.len() > (1 << 20) - 512 {
                out.clear();
            }
            black_box(
                p.parse_event(
                    black_box(JSON_LINE.as_bytes()),
                    weir_event::EventTime::new(0, 0),
                    &mut out,
                )
                .ok(),
            );
        })
    });
    g.finish();
}

fn bench_regex(c: &mut Criterion) {
    let mut g = c.benchmark_group("regex");
    g.throughput(Throughput::Elements(1));
    let p = apache_parser();
    let mut out = Vec::with_capacity(4096);
    g.bench_function("apache_combined", |b| {
        b.iter(|| {
            out.clear();
            black_box(p.parse(black_box(APACHE_LINE.as_bytes()), &mut out).ok());
        })
    });
    g.finish();
}

fn bench_time(c: &mut Criterion) {
    let mut g = c.benchmark_group("time");
    let f = TimeFormat::new("%Y-%m-%dT%H:%M:%S.%L%z").expect("valid format");
    g.bench_function("weir_strptime", |b| {
        b.iter(|| {
            black_box(f.parse(
                black_box(b"2026-01-01T00:00:00.004Z"),
                true,
                LocalZone::Fixed(0),
                None,
            ))
        })
    });
    // The same format for chrono: %.f for the fraction, %#z accepts "Z" and "+hh:mm".
    g.bench_function("chrono_parse_from_str", |b| {
        b.iter(|| {
            black_box(
                chrono::DateTime::parse_from_str(
                    black_box("2026-01-01T00:00:00.004Z"),
                    "%Y-%m-%dT%H:%M:%S%.f%#z",
                )
                .ok(),
            )
        })
    });
    let apache = TimeFormat::new("%d/%b/%Y:%H:%M:%S %z").expect("valid format");
    g.bench_function("weir_strptime_apache", |b| {
        b.iter(|| {
            black_box(apache.parse(
                black_box(b"01/Jan/2026:00:00:04 +0000"),
                true,
                LocalZone::Fixed(0),
                None,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_json, bench_regex, bench_time);
criterion_main!(benches);
