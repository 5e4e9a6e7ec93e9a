//! Recovery through the binary: chunk files left by a run whose destination was down are
//! damaged in every way the disk can (truncated, a flipped byte in a header and in a body, a
//! zero-length file, a truncated header, a foreign file). The next start works, delivers the
//! good records once, sets the damaged originals aside in quarantine/, leaves the foreign
//! file alone, and reports it all on /api/v1/storage.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const LINES: usize = 100_000;

fn config(d: &Path, port: u16) -> String {
    format!(
        r#"service:
  flush: 0.2
  grace: 2
  scheduler.base: 1
  scheduler.cap: 1
  http_server: on
  http_listen: 127.0.0.1
  http_port: {port}
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
"#,
        d = d.display()
    )
}

fn chunk_files(d: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(d.join("store/tail.0")) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wchk"))
        .collect();
    v.sort();
    v
}

#[test]
fn damaged_chunks_are_salvaged_and_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("app.log")).unwrap());
    for i in 0..LINES {
        writeln!(f, "line-{i:07} {}", "y".repeat(100)).unwrap();
    }
    drop(f);
    let port = free_port();
    write(&d.join("weir.yaml"), &config(d, port));

    // 1. The destination is down: everything read stays in chunk files.
    let mut c = cmd();
    c.arg("-c")
        .arg(d.join("weir.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    wait_for(Duration::from_secs(20), || {
        (chunk_files(d).len() >= 4).then_some(())
    });
    std::thread::sleep(Duration::from_millis(800));
    signal(&child, "TERM");
    assert!(wait_output(child, Duration::from_secs(30)).status.success());
    let files = chunk_files(d);
    assert!(files.len() >= 4, "several chunks on disk: {files:?}");

    // 2. Damage.
    let truncate = |p: &Path, keep: u64| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(keep)
            .unwrap()
    };
    let flip = |p: &Path, at: usize| {
        let mut b = std::fs::read(p).unwrap();
        b[at] ^= 0x5a;
        std::fs::write(p, b).unwrap();
    };
    let len = |p: &Path| std::fs::metadata(p).unwrap().len();
    truncate(&files[0], len(&files[0]) - 100); // a torn last block
    flip(&files[1], (len(&files[1]) / 2) as usize); // a flipped byte in the body
    flip(&files[2], 12); // a flipped byte in the header
    truncate(&files[3], 10); // a truncated header
    std::fs::write(
        d.join("store/tail.0/09999999999999999999-0000000009.wchk"),
        b"",
    )
    .unwrap(); // zero-length
    std::fs::write(d.join("store/tail.0/notes.txt"), b"not a chunk").unwrap(); // foreign

    // 3. The destination comes up; Weir starts on the damaged store.
    std::fs::create_dir(d.join("out")).unwrap();
    let mut c = cmd();
    c.arg("-c")
        .arg(d.join("weir.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    // No assertion may fire while Weir runs: a panicking test would leave it behind.
    let storage = wait_for(Duration::from_secs(20), || {
        let (status, body) = http_get(port, "/api/v1/storage")?;
        (status == 200).then(|| serde_json::from_str::<serde_json::Value>(&body).ok())?
    });
    // Deliveries settle: the count stops growing.
    let count = || {
        std::fs::read_to_string(d.join("out/app"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let mut last = usize::MAX;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let n = count();
        if n == last && n > 0 {
            break;
        }
        last = n;
    }
    signal(&child, "TERM");
    let out = wait_output(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "start-up and run work on a damaged store: {stderr}"
    );

    let storage = storage.expect("/api/v1/storage answers");
    let text = std::fs::read_to_string(d.join("out/app")).unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for l in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(l).expect("every delivered record is intact JSON");
        *seen
            .entry(v["log"].as_str().unwrap()[..12].to_string())
            .or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "no record delivered twice");
    assert!(
        seen.len() >= LINES / 4,
        "the good records are delivered: {} of {LINES}",
        seen.len()
    );
    assert!(seen.len() < LINES, "damage cost something");
    assert!(stderr.contains("damaged chunk"), "{stderr}");
    let quarantine = d.join("store/quarantine");
    assert!(
        quarantine.is_dir() && std::fs::read_dir(&quarantine).unwrap().count() >= 1,
        "originals set aside"
    );
    assert!(
        d.join("store/tail.0/notes.txt").exists(),
        "a foreign file is left alone"
    );
    assert!(
        storage["weir"]["damaged"].as_u64().unwrap() >= 3,
        "{storage}"
    );
    assert!(
        storage["weir"]["quarantined"].as_u64().unwrap() >= 1,
        "{storage}"
    );
    assert!(
        storage["weir"]["foreign_files"].as_u64().unwrap() >= 1,
        "{storage}"
    );
    assert!(
        storage["storage_layer"]["chunks"]["fs_chunks"].is_u64(),
        "Fluent Bit's shape: {storage}"
    );
    assert!(
        storage["input_chunks"]["tail.0"]["status"]["mem_size"].is_string(),
        "{storage}"
    );
}
