//! `storage.total_limit_size` through the binary, with the destination down: the disk use of
//! the output's chunks, sampled while tail reads far more than the budget, never exceeds it.
//! With `drop_oldest` the oldest chunks are dropped and counted; with `block` the input waits,
//! and once the destination comes up every line arrives.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const LIMIT: u64 = 10_000_000;
const LINES: usize = 200_000;

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

fn setup(d: &Path, when_full: &str) -> std::path::PathBuf {
    let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("app.log")).unwrap());
    for i in 0..LINES {
        // About 230 bytes a line: 200,000 lines are about 46 MB, over four times the budget.
        writeln!(f, "line-{i:07} {}", "x".repeat(215)).unwrap();
    }
    drop(f);
    let conf = d.join("weir.yaml");
    write(
        &conf,
        &format!(
            r#"service:
  flush: 0.2
  grace: 5
  scheduler.base: 1
  scheduler.cap: 1
  storage.path: {d}/store
pipeline:
  inputs:
    - name: tail
      tag: app
      path: {d}/app.log
      read_from_head: true
      db: {d}/tail.db
      storage.type: filesystem
  outputs:
    - name: file
      match: app
      path: {d}/out
      format: plain
      retry_limit: no_limits
      storage.total_limit_size: 10M
      storage.when_full: {when_full}
"#,
            d = d.display()
        ),
    );
    conf
}

/// Runs Weir with the destination down, sampling the chunks' disk use for `secs`.
fn run_down(conf: &Path, store: &Path, secs: u64) -> (u64, String) {
    let mut c = cmd();
    c.arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let start = Instant::now();
    let mut max = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        max = max.max(dir_size(&store.join("tail.0")));
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, "TERM");
    let out = wait_output(child, Duration::from_secs(30));
    assert!(out.status.success());
    (max, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn delivered(d: &Path) -> std::collections::HashSet<String> {
    // Read while Weir writes: a last line may be half written; it is counted once complete.
    std::fs::read_to_string(d.join("out/app"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some(v["log"].as_str()?.get(..12)?.to_string()))
        .collect()
}

fn dropped(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| {
            l.split("dropped_records=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn drop_oldest_keeps_disk_use_under_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conf = setup(d, "drop_oldest");
    let (max, stderr) = run_down(&conf, &d.join("store"), 5);
    assert!(max > 0, "chunks were written");
    assert!(
        max <= LIMIT,
        "disk use reached {max} bytes, over the {LIMIT} budget"
    );
    let dropped = dropped(&stderr);
    assert!(
        dropped > 0,
        "the oldest chunks were dropped and counted: {stderr}"
    );
    assert!(
        stderr.contains("storage.total_limit_size reached"),
        "{stderr}"
    );

    // What was kept arrives once the destination is up (from the stored chunks: tail's db
    // keeps it from reading the file again); kept + dropped = everything read.
    std::fs::create_dir(d.join("out")).unwrap();
    let mut c = cmd();
    c.arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let kept = wait_for(Duration::from_secs(30), || {
        let n = delivered(d).len() as u64;
        (n + dropped >= LINES as u64).then_some(n)
    });
    // Give a wrongly re-read file the time to show up before counting.
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, "TERM");
    let _ = wait_output(child, Duration::from_secs(30));
    assert!(kept.is_some(), "kept chunks arrive");
    assert_eq!(
        delivered(d).len() as u64 + dropped,
        LINES as u64,
        "every line delivered or counted as dropped"
    );
}

#[test]
fn block_keeps_disk_use_under_the_budget_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conf = setup(d, "block");
    let (max, stderr) = run_down(&conf, &d.join("store"), 5);
    assert!(max > 0, "chunks were written");
    assert!(
        max <= LIMIT,
        "disk use reached {max} bytes, over the {LIMIT} budget"
    );
    assert_eq!(dropped(&stderr), 0, "{stderr}");
    assert!(
        stderr.contains("paused (storage.total_limit_size of file.0 reached)"),
        "{stderr}"
    );

    std::fs::create_dir(d.join("out")).unwrap();
    let mut c = cmd();
    c.arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let all = wait_for(Duration::from_secs(60), || {
        (delivered(d).len() >= LINES).then_some(())
    });
    signal(&child, "TERM");
    let _ = wait_output(child, Duration::from_secs(30));
    assert!(
        all.is_some(),
        "every line arrives once the destination is up: {} of {LINES}",
        delivered(d).len()
    );
}
