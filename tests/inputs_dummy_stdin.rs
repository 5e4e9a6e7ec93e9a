//! The dummy and stdin inputs end to end through the `weir` binary.

mod common;

use common::*;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn dummy_samples_and_copies() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path();
    let cfg = dir.join("weir.conf");
    write(
        &cfg,
        &format!(
            "[SERVICE]\n    flush 0.2\n\n[INPUT]\n    name dummy\n    dummy {{\"msg\":\"hi\",\"n\":1}}\n    rate 20\n    samples 3\n    copies 2\n\n[OUTPUT]\n    name file\n    match *\n    path {}\n    file out.log\n    format plain\n",
            dir.display()
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("weir starts");
    let out = dir.join("out.log");
    assert!(
        wait_for(LIMIT, || (records(&out).len() >= 6).then_some(())).is_some(),
        "six records"
    );
    // samples reached: no more records come.
    std::thread::sleep(Duration::from_millis(600));
    signal(&child, "TERM");
    let res = wait_output(child, LIMIT);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let got = records(&out);
    assert_eq!(got.len(), 6);
    assert!(
        got.iter()
            .all(|r| r == &serde_json::json!({"msg": "hi", "n": 1})),
        "{got:?}"
    );
}

#[test]
fn stdin_json_stream_then_exit_at_eof() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path();
    let cfg = dir.join("weir.conf");
    write(
        &cfg,
        &format!(
            "[SERVICE]\n    flush 0.2\n\n[INPUT]\n    name stdin\n    tag in\n\n[OUTPUT]\n    name file\n    match *\n    path {}\n    file out.log\n    format plain\n",
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
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"{\"a\":1}\n[1700000000, {\"b\":2}]\nnot json\n{\"c\":\n  [1, 2]}{\"d\":4}")
            .expect("write");
    }
    let res = wait_output(child, LIMIT);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    assert!(stderr.contains("end of file"), "{stderr}");
    let got = records(&dir.join("out.log"));
    assert_eq!(
        got,
        [
            serde_json::json!({"a": 1}),
            serde_json::json!({"b": 2}),
            serde_json::json!({"c": [1, 2]}),
            serde_json::json!({"d": 4}),
        ]
    );
}
