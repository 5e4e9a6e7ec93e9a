//! rewrite_tag through the binary: records re-emitted under a new tag arrive once each, even
//! when the emitter's queue limit is far smaller than one burst of the input (300 records,
//! about 20 KiB, against 1 KiB): the input waits instead of records being dropped. The
//! emitter shows in the metrics as an input.

mod common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn rewritten_records_all_arrive_under_a_tiny_emitter_limit() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("weir.yaml");
    write(
        &conf,
        &format!(
            r#"service:
  flush: 0.2
  http_server: on
  http_listen: 127.0.0.1
  http_port: {port}
pipeline:
  inputs:
    - name: dummy
      tag: app
      dummy: '{{"message":"hello","level":"error"}}'
      rate: 10
      copies: 300
      samples: 10
  filters:
    - name: rewrite_tag
      match: app
      rule: $level ^error$ alerts.$level false
      emitter_mem_buf_limit: 1k
  outputs:
    - name: file
      match: 'alerts.*'
      path: {out}
      format: plain
    - name: file
      match: app
      path: {out}
      file: original
      format: plain
"#,
            out = dir.path().display()
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let out = dir.path().join("alerts.error");
    let done = wait_for(Duration::from_secs(30), || {
        let n = std::fs::read_to_string(&out).ok()?.lines().count();
        (n >= 3000).then_some(n)
    });
    let metrics = http_get(port, "/api/v1/metrics").map(|(_, b)| b);
    signal(&child, "TERM");
    let output = wait_output(child, Duration::from_secs(15));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(done, Some(3000), "every record re-emitted once");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3000);
    assert!(
        !dir.path().join("original").exists(),
        "keep false: originals dropped"
    );
    let v: serde_json::Value = serde_json::from_str(&metrics.expect("metrics")).unwrap();
    assert_eq!(
        v["input"]["emitter_for_rewrite_tag.0"]["records"], 3000,
        "{v}"
    );
    assert_eq!(v["filter"]["rewrite_tag.0"]["drop_records"], 3000, "{v}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("emitter_for_rewrite_tag.0 paused (mem buf overlimit)"),
        "the tiny limit was reached: {stderr}"
    );
}
