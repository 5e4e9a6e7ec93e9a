//! `storage.backlog.flush_on_shutdown`: a run that recovers a backlog and is stopped while
//! (or after) replaying it exits cleanly, with everything delivered. A regression test: the
//! first version awaited the finished replay task twice and panicked at shutdown.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn config(d: &Path, out_dir: &str, flush_on_shutdown: &str) -> String {
    format!(
        r#"service:
  flush: 0.2
  grace: 10
  scheduler.base: 1
  scheduler.cap: 1
  storage.path: {d}/store
  storage.backlog.flush_on_shutdown: {flush_on_shutdown}
pipeline:
  inputs:
    - name: tail
      tag: app
      path: {d}/app.log
      read_from_head: true
      exit_on_eof: true
      db: {d}/tail.db
      storage.type: filesystem
  outputs:
    - name: file
      alias: sink
      match: app
      path: {d}/{out_dir}
      format: plain
      retry_limit: no_limits
"#,
        d = d.display()
    )
}

#[test]
fn a_recovered_backlog_is_flushed_on_shutdown_and_the_exit_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("app.log")).unwrap());
    for i in 0..20_000 {
        writeln!(f, "line-{i:07}").unwrap();
    }
    drop(f);

    // 1. Destination down: the lines end up in chunk files; exit at end of file, grace runs out.
    write(&d.join("weir.yaml"), &config(d, "down", "off"));
    let mut c = cmd();
    c.arg("-c")
        .arg(d.join("weir.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let out = wait_output(c.spawn().unwrap(), Duration::from_secs(60));
    assert!(out.status.success());

    // 2. Destination up, backlog flushed on shutdown: tail is at its end and asks to stop at
    // once, so the whole delivery happens during shutdown.
    std::fs::create_dir(d.join("up")).unwrap();
    write(&d.join("weir.yaml"), &config(d, "up", "on"));
    let mut c = cmd();
    c.arg("-c")
        .arg(d.join("weir.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let out = wait_output(c.spawn().unwrap(), Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "clean exit: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let delivered = std::fs::read_to_string(d.join("up/app"))
        .unwrap_or_default()
        .lines()
        .count();
    assert_eq!(
        delivered, 20_000,
        "the backlog went out during shutdown: {stderr}"
    );
}
