//! The `wasm` filter with modules written in C for Fluent Bit, built with zig's clang as
//! Fluent Bit's users build them: `add_field.c` (the benchmark's filter, JSON) and
//! `msgpack_fields.c` (MessagePack results holding zero bytes).
//!
//! Needs `python3 -m ziglang` (PyPI `ziglang`); the modules are built into
//! `CARGO_TARGET_TMPDIR`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use weir_config::{Location, Section, SectionKind};
use weir_core::service::FILTER_COMMON_PARAMS;
use weir_core::{Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome};
use weir_event::{EventTime, EventWriter, Events};
use weir_wasm::fbabi::filter::DESCRIPTOR;

fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fbabi")
}

/// Builds a C filter without libc, with the flags of the benchmark's build.sh.
fn build_c(name: &str, export: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fbabi-{name}.wasm"));
    let status = Command::new("python3")
        .args([
            "-m",
            "ziglang",
            "cc",
            "--target=wasm32-wasi",
            "-O2",
            "-nostdlib",
            "-fno-builtin",
        ])
        .args(["-Wl,--no-entry", &format!("-Wl,--export={export}")])
        .args([
            "-Wl,--export=__heap_base",
            "-Wl,--export=__data_end",
            "-Wl,-z,stack-size=16384",
        ])
        .arg("-o")
        .arg(&out)
        .arg(sources().join(format!("{name}.c")))
        .status()
        .expect("python3 -m ziglang runs (pip install ziglang)");
    assert!(status.success(), "zig cc {name}.c failed");
    out
}

fn filter(pairs: &[(&str, &str)]) -> (Box<dyn Filter>, Arc<weir_core::metrics::Metrics>) {
    let loc = Location::command_line();
    let mut sec = Section::new(SectionKind::Filter, loc.clone());
    sec.push("name", "wasm", loc.clone());
    for (k, v) in pairs {
        sec.push(*k, *v, loc.clone());
    }
    let p = weir_config::validate(
        &sec,
        &[DESCRIPTOR.params, FILTER_COMMON_PARAMS],
        "filter 'wasm'",
    )
    .unwrap();
    let ctx = BuildContext::new(
        "wasm.0".into(),
        Default::default(),
        Default::default(),
        std::env::temp_dir(),
    );
    let Factory::Filter(make) = DESCRIPTOR.factory else {
        panic!("a filter")
    };
    (make(&p, &ctx).unwrap(), ctx.metrics.clone())
}

fn run(f: &dyn Filter, bodies: &[&str]) -> Vec<serde_json::Value> {
    let mut data = Vec::new();
    for b in bodies {
        let mut body = Vec::new();
        weir_event::json::from_json(b, &mut body).unwrap();
        weir_event::event::write_event(&mut data, EventTime::new(1_700_000_000, 5), &[], &body);
    }
    let mut out = EventWriter::new();
    let ctx = FilterContext {
        input: "stdin.0",
        input_plugin: "stdin",
    };
    let batch = Batch {
        tag: "app",
        data: &data,
        records: bodies.len(),
    };
    assert_eq!(f.filter(batch, &mut out, &ctx), FilterOutcome::Modified);
    Events::new(&out.buf)
        .map(|e| {
            let e = e.unwrap();
            assert_eq!(e.time, EventTime::new(1_700_000_000, 5));
            serde_json::from_str(&weir_event::json::to_json_string(e.body).unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn add_field_in_json_mode() {
    let wasm = build_c("add_field", "add_field");
    let (f, metrics) = filter(&[
        ("wasm_path", wasm.to_str().unwrap()),
        ("function_name", "add_field"),
        ("event_format", "json"),
    ]);
    let big = format!(r#"{{"big":"{}"}}"#, "y".repeat(20_000));
    let got = run(
        &*f,
        &[
            r#"{"a":1,"s":"x\"y"}"#,
            "{}",
            r#"{"nested":{"k":[1,2]}}"#,
            &big,
        ],
    );
    assert_eq!(got.len(), 4);
    for g in &got {
        assert_eq!(g["wasm"], "added", "{g}");
    }
    assert_eq!(got[0]["s"], "x\"y");
    assert_eq!(got[2]["nested"]["k"][1], 2);
    assert_eq!(got[3]["big"].as_str().unwrap().len(), 20_000);
    // Many batches: the module's memory stays where it was.
    for _ in 0..50 {
        let bodies: Vec<String> = (0..100).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        assert_eq!(run(&*f, &refs).len(), 100);
    }
    let m = metrics.plugin(weir_core::PluginKind::Filter, "wasm.0");
    assert_eq!(m.counter("wasm_calls").get(), 5004);
    assert_eq!(m.counter("wasm_traps").get(), 0);
}

#[test]
fn msgpack_results_keep_their_zero_bytes() {
    let wasm = build_c("msgpack_fields", "add_fields");
    let (f, _) = filter(&[
        ("wasm_path", wasm.to_str().unwrap()),
        ("function_name", "add_fields"),
        ("event_format", "msgpack"),
    ]);
    let got = run(&*f, &[r#"{"a":1}"#, "{}", r#"{"s":"text","n":null}"#]);
    assert_eq!(got.len(), 3);
    for g in &got {
        assert_eq!(g["zero"], 0, "{g}");
        assert_eq!(g["nul"], "a\u{0}b", "{g}");
    }
    assert_eq!(got[0]["a"], 1);
    assert_eq!(got[2]["s"], "text");
}

/// Builds `plugin-sdk/examples/<dir>` with its build.sh.
fn build_example(dir: &str, file: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fbabi-example-{dir}"));
    let o = Command::new("bash")
        .arg(root.join(format!("plugin-sdk/examples/{dir}/build.sh")))
        .arg(&out)
        .output()
        .expect("bash runs");
    assert!(
        o.status.success(),
        "building the {dir} example failed (toolchains: scripts/wasm-toolchains.sh):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.join(file)
}

/// The rule every example follows: `lang` added, `debug` records dropped.
fn check_example(wasm: &Path, function: &str, lang: &str) {
    let (f, metrics) = filter(&[
        ("wasm_path", wasm.to_str().unwrap()),
        ("function_name", function),
    ]);
    let input = [
        r#"{"level":"info","msg":"one"}"#,
        r#"{"level":"debug","msg":"two"}"#,
        r#"{"level":"warn","msg":"three","n":3}"#,
        r#"{"msg":"four","n":4,"nested":{"level":"debug"}}"#,
        "{}",
    ];
    for _ in 0..20 {
        let got = run(&*f, &input);
        let want = [
            serde_json::json!({"level":"info","msg":"one","lang":lang}),
            serde_json::json!({"level":"warn","msg":"three","n":3,"lang":lang}),
            serde_json::json!({"msg":"four","n":4,"nested":{"level":"debug"},"lang":lang}),
            serde_json::json!({"lang":lang}),
        ];
        assert_eq!(got, want);
    }
    let m = metrics.plugin(weir_core::PluginKind::Filter, "wasm.0");
    assert_eq!(m.counter("wasm_traps").get(), 0);
    assert_eq!(m.counter("wasm_invalid_results").get(), 0);
}

#[test]
fn assemblyscript_example() {
    let wasm = build_example("assemblyscript", "example_assemblyscript.wasm");
    check_example(&wasm, "assemblyscript_filter", "assemblyscript");
}

#[test]
fn go_example() {
    let wasm = build_example("go", "example_go.wasm");
    check_example(&wasm, "go_filter", "go");
}

/// What one record costs through the filter, by module, printed. Not a check: run it with
/// `cargo test --release -p weir-wasm --test fbabi_filter overhead -- --ignored --nocapture`.
#[test]
#[ignore]
fn overhead() {
    // The record of docs' measurements (179 bytes of JSON).
    let record = r#"{"host":"edge-01","level":"info","msg":"GET /api/v1/items 200 12ms","service":"gateway","pid":4242,"latency_ms":12.5,"path":"/api/v1/items","status":200,"user_agent":"curl/8.5.0"}"#;
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("identity.wat");
    std::fs::write(
        &identity,
        r#"(module (memory (export "memory") 1)
            (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i32) local.get 4))"#,
    )
    .unwrap();
    let add_field = build_c("add_field", "add_field");
    let cases: Vec<(&str, PathBuf, &str, &str)> = vec![
        (
            "identity, msgpack (the call itself)",
            identity.clone(),
            "f",
            "msgpack",
        ),
        (
            "identity, json (call + JSON both ways)",
            identity,
            "f",
            "json",
        ),
        (
            "add_field.c, json (the benchmark's filter)",
            add_field,
            "add_field",
            "json",
        ),
    ];
    let batch = 1000;
    let mut data = Vec::new();
    let mut body = Vec::new();
    weir_event::json::from_json(record, &mut body).unwrap();
    for _ in 0..batch {
        weir_event::event::write_event(&mut data, EventTime::new(1_700_000_000, 5), &[], &body);
    }
    let ctx = FilterContext {
        input: "tail.0",
        input_plugin: "tail",
    };
    for (name, path, function, format) in cases {
        let (f, _) = filter(&[
            ("wasm_path", path.to_str().unwrap()),
            ("function_name", function),
            ("event_format", format),
        ]);
        let mut out = EventWriter::new();
        let mut pass = |n: usize| {
            let started = std::time::Instant::now();
            for _ in 0..n {
                out.clear();
                let b = Batch {
                    tag: "bench.json",
                    data: &data,
                    records: batch,
                };
                f.filter(b, &mut out, &ctx);
            }
            started.elapsed()
        };
        pass(20);
        let rounds = 200;
        let took = pass(rounds);
        let per_record = took.as_nanos() as f64 / (rounds * batch) as f64;
        println!(
            "{name}: {per_record:.0} ns per record, {:.0} k records/s on one thread",
            1e6 / per_record
        );
    }
}
