//! Fluent Bit's WebAssembly plugins through the `weir` binary: the `wasm` filter with modules
//! written in C for Fluent Bit (JSON and MessagePack), hostile modules that spin, eat memory
//! or trap while Weir keeps running, and the `exec_wasi` input with a WASI command.
//!
//! The modules' sources are in `plugins/wasm/tests/fbabi/`; they are built with zig's clang
//! (`python3 -m ziglang`, PyPI `ziglang`) into `<target>/wasm-guests/fbabi/`. The hostile ones
//! are WebAssembly text, which the filter loads as it is. The AssemblyScript and Go examples,
//! which use the same ABI, run in `tests/wasm_examples.rs`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn sources() -> PathBuf {
    repo().join("plugins/wasm/tests/fbabi")
}

/// `<target>/wasm-guests/fbabi`, beside the binary under test.
fn out_dir() -> PathBuf {
    let bin = weir();
    let target = bin
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo().join("target"));
    let d = target.join("wasm-guests").join("fbabi");
    std::fs::create_dir_all(&d).expect("create the module directory");
    d
}

/// Builds `<name>.c` with zig; `flags` pick libc or not and the exports.
fn build_c(name: &str, flags: &[&str]) -> PathBuf {
    // Tests run in parallel and build the same modules: one build at a time in this process
    // (the temporary name keeps other processes apart).
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let out = out_dir().join(format!("{name}.wasm"));
    let tmp = out_dir().join(format!("{name}.wasm.{}", std::process::id()));
    let o = Command::new("python3")
        .args(["-m", "ziglang", "cc", "--target=wasm32-wasi", "-O2", "-s"])
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .arg(sources().join(format!("{name}.c")))
        .output()
        .expect("python3 -m ziglang runs (pip install ziglang)");
    assert!(
        o.status.success(),
        "zig cc {name}.c failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &out).expect("move the module into place");
    out
}

/// A filter without libc, built as the benchmark's build.sh builds add_field.c.
fn build_filter(name: &str, export: &str) -> PathBuf {
    let export = format!("-Wl,--export={export}");
    build_c(
        name,
        &[
            "-nostdlib",
            "-fno-builtin",
            "-Wl,--no-entry",
            &export,
            "-Wl,--export=__heap_base",
            "-Wl,--export=__data_end",
            "-Wl,-z,stack-size=16384",
        ],
    )
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs `filters` (classic sections) between `stdin` carrying `input` and a `file` output;
/// returns the records out and Weir's log. Weir stops at the end of its input.
fn run_filters(dir: &Path, filters: &str, input: &str) -> (Vec<Value>, String) {
    let cfg = dir.join("weir.conf");
    write(
        &cfg,
        &format!(
            "[SERVICE]\n    flush 0.2\n\n[INPUT]\n    name stdin\n    tag app\n\n{filters}\n[OUTPUT]\n    name file\n    match *\n    path {}\n    file out.log\n    format plain\n",
            dir.display()
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(&cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("weir starts");
    {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let _ = stdin.write_all(input.as_bytes());
    }
    let res = wait_output(child, LIMIT);
    let log = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "weir failed ({}):\n{log}", res.status);
    (records(&dir.join("out.log")), log)
}

#[test]
fn add_field_in_json_mode() {
    let wasm = build_filter("add_field", "add_field");
    let t = tempfile::tempdir().unwrap();
    // wasm_path relative to the configuration file, as Fluent Bit documents.
    std::fs::copy(&wasm, t.path().join("add_field.wasm")).unwrap();
    let input: String = (0..500)
        .map(|i| format!("{{\"i\":{i},\"msg\":\"line {i}\",\"nested\":{{\"a\":[1,2]}}}}\n"))
        .collect();
    let (got, log) = run_filters(
        t.path(),
        "[FILTER]\n    name wasm\n    match *\n    wasm_path add_field.wasm\n    function_name add_field\n    event_format json\n",
        &input,
    );
    assert_eq!(got.len(), 500, "log:\n{log}");
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            r,
            &json!({"i": i, "msg": format!("line {i}"), "nested": {"a": [1, 2]}, "wasm": "added"})
        );
    }
    assert!(!log.contains("[error]"), "{log}");
}

#[test]
fn msgpack_results_with_zero_bytes() {
    let wasm = build_filter("msgpack_fields", "add_fields");
    let t = tempfile::tempdir().unwrap();
    let filter = format!(
        "[FILTER]\n    name wasm\n    match *\n    wasm_path {}\n    function_name add_fields\n    event_format msgpack\n",
        wasm.display()
    );
    let (got, log) = run_filters(t.path(), &filter, "{\"a\":1}\n{\"b\":\"x\"}\n{}\n");
    assert_eq!(
        got,
        [
            json!({"a": 1, "zero": 0, "nul": "a\u{0}b"}),
            json!({"b": "x", "zero": 0, "nul": "a\u{0}b"}),
            json!({"zero": 0, "nul": "a\u{0}b"}),
        ],
        "log:\n{log}"
    );
}

/// A module whose function misbehaves when the record's first key starts with `trigger`
/// (the byte after `{"`), and otherwise returns the record as it is.
fn hostile(dir: &Path, name: &str, trigger: char, misbehave: &str) -> PathBuf {
    let path = dir.join(format!("{name}.wat"));
    write(
        &path,
        &format!(
            r#"(module
  (memory (export "memory") 1)
  (func (export "filter") (param i32 i32 i32 i32 i32 i32) (result i32)
    (if (i32.eq (i32.load8_u offset=2 (local.get 4)) (i32.const {}))
      (then {misbehave}))
    local.get 4))
"#,
            trigger as u32
        ),
    );
    path
}

#[test]
fn hostile_modules_are_stopped_and_weir_keeps_running() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let spin = hostile(d, "spin", 's', "(loop (br 0))");
    let bomb = hostile(
        d,
        "bomb",
        'b',
        "(loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable",
    );
    let trap = hostile(d, "trap", 't', "unreachable");
    let filters = format!(
        "[FILTER]\n    name wasm\n    match *\n    wasm_path {}\n    function_name filter\n    wasm.time_limit 200ms\n\n\
         [FILTER]\n    name wasm\n    match *\n    wasm_path {}\n    function_name filter\n    wasm_heap_size 2M\n\n\
         [FILTER]\n    name wasm\n    match *\n    wasm_path {}\n    function_name filter\n    wasm.on_error drop\n",
        spin.display(),
        bomb.display(),
        trap.display()
    );
    let input = "{\"ok\":1}\n{\"spin\":1}\n{\"ok\":2}\n{\"bomb\":1}\n{\"ok\":3}\n{\"trap\":1}\n{\"ok\":4}\n";
    let (got, log) = run_filters(d, &filters, input);
    // The spinning and the greedy record pass (on_error pass); the trapping one is dropped.
    assert_eq!(
        got,
        [
            json!({"ok": 1}),
            json!({"spin": 1}),
            json!({"ok": 2}),
            json!({"bomb": 1}),
            json!({"ok": 3}),
            json!({"ok": 4}),
        ],
        "log:\n{log}"
    );
    assert!(log.contains("stopped at its time limit"), "{log}");
    assert!(log.contains("ran out of memory (wasm_heap_size)"), "{log}");
    assert!(
        log.contains("trapped: wasm trap: wasm `unreachable`"),
        "{log}"
    );
}

#[test]
fn exec_wasi_runs_a_wasi_command() {
    let wasm = build_c("wasi_lines", &[]);
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // The command opens greeting.txt through accessible_paths' default, ".": Weir's working
    // directory.
    write(&d.join("greeting.txt"), "hello file\n");
    let spin = d.join("spin.wat");
    write(
        &spin,
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#,
    );
    let cfg = d.join("weir.yaml");
    write(
        &cfg,
        &format!(
            r#"service:
  flush: 0.2
pipeline:
  inputs:
    - name: exec_wasi
      tag: raw
      wasi_path: {wasm}
      oneshot: true
    - name: exec_wasi
      tag: parsed
      wasi_path: {wasm}
      parser: json
      interval_sec: 1
    - name: exec_wasi
      tag: spin
      wasi_path: {spin}
      wasm.time_limit: 200ms
      interval_nsec: 300000000
  outputs:
    - name: file
      match: raw
      path: {dir}
      file: raw.log
      format: plain
    - name: file
      match: parsed
      path: {dir}
      file: parsed.log
      format: plain
"#,
            wasm = wasm.display(),
            spin = spin.display(),
            dir = d.display()
        ),
    );
    let mut c = Command::new(weir());
    c.current_dir(d)
        .arg("-c")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("weir starts");
    // Two runs of the parsed one (every second), and the spinning one stopped several times.
    let parsed = wait_for(LIMIT, || {
        let r = records(&d.join("parsed.log"));
        (r.len() >= 4).then_some(r)
    });
    signal(&child, "TERM");
    let res = wait_output(child, LIMIT);
    let log = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "weir failed ({}):\n{log}", res.status);
    let parsed = parsed.unwrap_or_else(|| panic!("no parsed records; log:\n{log}"));
    assert_eq!(
        parsed[0],
        json!({"n": 1, "msg": "hello from wasi"}),
        "{log}"
    );
    assert_eq!(parsed[1], json!({"greeting": "hello file"}), "{log}");
    assert_eq!(parsed[2], parsed[0]);
    // Once only.
    assert_eq!(
        records(&d.join("raw.log")),
        [
            json!({"wasi_stdout": "{\"n\":1,\"msg\":\"hello from wasi\"}"}),
            json!({"wasi_stdout": "plain text"}),
            json!({"wasi_stdout": "{\"greeting\":\"hello file\"}"}),
        ],
        "{log}"
    );
    assert!(log.contains("parser 'json' returned an error"), "{log}");
    assert!(log.contains("stopped at its time limit"), "{log}");
}

#[test]
fn exec_wasi_opens_only_accessible_paths() {
    let wasm = build_c("wasi_lines", &[]);
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(&d.join("greeting.txt"), "hello file\n");
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let cfg = d.join("weir.conf");
    write(
        &cfg,
        &format!(
            "[SERVICE]\n    flush 0.2\n\n[INPUT]\n    name exec_wasi\n    wasi_path {}\n    accessible_paths {}\n    oneshot on\n    parser json\n\n[OUTPUT]\n    name file\n    match *\n    path {}\n    file out.log\n    format plain\n",
            wasm.display(),
            elsewhere.display(),
            d.display()
        ),
    );
    let mut c = Command::new(weir());
    c.current_dir(d)
        .arg("-c")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("weir starts");
    let got = wait_for(LIMIT, || {
        let r = records(&d.join("out.log"));
        (r.len() >= 2).then_some(r)
    });
    signal(&child, "TERM");
    let res = wait_output(child, LIMIT);
    let log = String::from_utf8_lossy(&res.stderr).into_owned();
    let got = got.unwrap_or_else(|| panic!("no records; log:\n{log}"));
    assert_eq!(got[1], json!({"greeting": null}), "{log}");
}

#[test]
fn dry_run_checks_the_module_and_its_function() {
    let wasm = build_filter("add_field", "add_field");
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("weir.conf");
    let conf = |function: &str| {
        format!(
            "[INPUT]\n    name dummy\n\n[FILTER]\n    name wasm\n    match *\n    wasm_path {}\n    function_name {function}\n\n[OUTPUT]\n    name null\n    match *\n",
            wasm.display()
        )
    };
    write(&cfg, &conf("add_field"));
    let mut c = cmd();
    c.arg("--dry-run").arg("-c").arg(&cfg);
    let ok = run_with_timeout(c, LIMIT);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    write(&cfg, &conf("nope"));
    let mut c = cmd();
    c.arg("--dry-run").arg("-c").arg(&cfg);
    let bad = run_with_timeout(c, LIMIT);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("no function named 'nope'"), "{err}");
}
