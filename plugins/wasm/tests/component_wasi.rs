//! WASI is off unless granted: a plugin reads no file, no environment variable, unless its
//! configuration says so.

mod common;

use common::*;

// One variable per test: tests run in parallel in one process.
const HIDDEN_VAR: &str = "WEIR_WASM_TEST_HIDDEN";
const SHOWN_VAR: &str = "WEIR_WASM_TEST_SHOWN";

fn probe(pairs: &[(&str, &str)]) -> serde_json::Value {
    let sb = Sandbox::new();
    let src = sb.load(&guest("wasi-probe"));
    let f = filter(&src, &context("probe.0"), pairs);
    let (_, recs) = run_filter(&f, "app", &[r#"{"k":1}"#]);
    recs[0].clone()
}

fn secret_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "s3cret").unwrap();
    let d = dir.path().display().to_string();
    (dir, d)
}

#[test]
fn an_ungranted_plugin_reads_no_file_and_no_variable() {
    std::env::set_var(HIDDEN_VAR, "hidden");
    let (_dir, d) = secret_file();
    let file = format!("{d}/secret.txt");
    let r = probe(&[("file", &file), ("env", HIDDEN_VAR)]);
    assert!(r["file"]["err"].is_string(), "{r}");
    assert!(r["env"]["err"].is_string(), "{r}");
    assert!(!r.to_string().contains("s3cret") && !r.to_string().contains("hidden"));
    // Nor the host's root through a relative path.
    let r = probe(&[("file", "/etc/hostname")]);
    assert!(r["file"]["err"].is_string(), "{r}");
}

#[test]
fn granted_variables_and_directories_are_reachable() {
    std::env::set_var(SHOWN_VAR, "shown");
    let (_dir, d) = secret_file();
    let r = probe(&[
        ("file", "/data/secret.txt"),
        ("env", SHOWN_VAR),
        ("wasm.allow_env", &format!("PATH_UNSET_X,{SHOWN_VAR}")),
        ("wasm.allow_dirs", &format!("{d}:/data")),
    ]);
    assert_eq!(r["file"]["ok"], "s3cret", "{r}");
    assert_eq!(r["env"]["ok"], "shown", "{r}");
    // Only the variables named.
    let r = probe(&[("env", "HOME"), ("wasm.allow_env", SHOWN_VAR)]);
    assert!(r["env"]["err"].is_string(), "{r}");
}

#[test]
fn a_read_only_directory_cannot_be_written() {
    let (dir, d) = secret_file();
    let r = probe(&[
        ("write", "/data/new.txt"),
        ("wasm.allow_dirs", &format!("{d}:/data")),
    ]);
    assert!(r["write"]["err"].is_string(), "{r}");
    assert!(!dir.path().join("new.txt").exists());
    let r = probe(&[
        ("write", "/data/new.txt"),
        ("wasm.allow_dirs", &format!("{d}:/data:rw")),
    ]);
    assert_eq!(r["write"]["ok"], true, "{r}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "written"
    );
}

#[test]
fn a_directory_that_does_not_exist_is_a_configuration_error() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("wasi-probe"));
    let p = params(&src, &[("wasm.allow_dirs", "/no/such/dir")]).unwrap();
    let err = weir_wasm::component::filter::WasmFilter::new(src.clone(), &p, &context("p.0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a directory"), "{err}");
}
