//! With filesystem storage, chunks that wait for a down destination wait on disk, not in
//! memory: tail reads 57 MB while the destination is down, and Weir's resident memory,
//! sampled all along, stays far below that.

mod common;

use common::*;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const LINES: usize = 250_000;

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn waiting_chunks_stay_on_disk_not_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("app.log")).unwrap());
    for i in 0..LINES {
        writeln!(f, "line-{i:07} {}", "z".repeat(215)).unwrap();
    }
    drop(f);
    write(
        &d.join("weir.yaml"),
        &format!(
            r#"service:
  flush: 0.2
  grace: 1
  scheduler.base: 1
  scheduler.cap: 1
  storage.path: {d}/store
pipeline:
  inputs:
    - name: tail
      tag: app
      path: {d}/app.log
      read_from_head: true
      storage.type: filesystem
  outputs:
    - name: file
      match: app
      path: {d}/out
      retry_limit: no_limits
"#,
            d = d.display()
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(d.join("weir.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let start = Instant::now();
    let mut max_rss = 0;
    let stored = |d: &std::path::Path| -> u64 {
        std::fs::read_dir(d.join("store/tail.0"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    };
    while start.elapsed() < Duration::from_secs(5) {
        max_rss = max_rss.max(rss_kb(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let on_disk = stored(d);
    signal(&child, "TERM");
    let out = wait_output(child, Duration::from_secs(30));
    assert!(out.status.success());
    eprintln!(
        "on disk: {} MB, peak RSS: {} MB",
        on_disk >> 20,
        max_rss >> 10
    );
    assert!(
        on_disk > 50 << 20,
        "everything read is on disk: {on_disk} bytes"
    );
    assert!(
        max_rss < 40 << 10,
        "peak RSS {max_rss} kB: waiting chunks were kept in memory"
    );
}
