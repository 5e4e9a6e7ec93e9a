//! Filesystem storage through the binary: tail reads numbered lines into chunks on disk while
//! the destination is down (a file output whose directory does not exist yet); Weir is killed
//! with SIGKILL at random moments 20 times; then the destination comes up and every line must
//! arrive. Duplicates are counted and reported.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn append_lines(path: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in from..to {
        writeln!(f, "line-{i:07}").unwrap();
    }
}

fn config(dir: &Path) -> String {
    format!(
        r#"service:
  flush: 0.2
  grace: 2
  scheduler.base: 1
  scheduler.cap: 1
  storage.path: {d}/store
pipeline:
  inputs:
    - name: tail
      tag: app
      path: {d}/app.log
      read_from_head: true
      refresh_interval: 1
      db: {d}/tail.db
      storage.type: filesystem
  outputs:
    - name: file
      match: app
      path: {d}/out
      format: plain
      retry_limit: no_limits
"#,
        d = dir.display()
    )
}

/// A small deterministic generator for the kill moments (the seed is printed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

#[test]
fn every_line_arrives_after_twenty_kills() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conf = d.join("weir.yaml");
    write(&conf, &config(d));
    let log = d.join("app.log");
    let mut total = 0;
    append_lines(&log, 0, 20_000);
    total += 20_000;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill schedule seed: {seed}");
    let mut rng = Lcg(seed);

    for round in 0..20 {
        let mut c = cmd();
        c.arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        let mut child = c.spawn().unwrap();
        let wait = rng.next(30, 400);
        // Lines keep arriving while Weir runs and dies.
        append_lines(&log, total, total + 500);
        total += 500;
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        assert!(
            !d.join("out").exists(),
            "round {round}: the destination is still down"
        );
    }

    // The destination comes up.
    std::fs::create_dir(d.join("out")).unwrap();
    let mut c = cmd();
    c.arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let out = d.join("out/app");
    let arrived = wait_for(Duration::from_secs(90), || {
        let text = std::fs::read_to_string(&out).ok()?;
        let unique: std::collections::HashSet<&str> = text.lines().collect();
        (unique.len() >= total).then_some(())
    });
    signal(&child, "TERM");
    let output = wait_output(child, Duration::from_secs(30));

    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json line");
        *seen
            .entry(v["log"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let missing: Vec<String> = (0..total)
        .map(|i| format!("line-{i:07}"))
        .filter(|l| !seen.contains_key(l))
        .collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "lines: {total}, arrived: {}, missing: {}, duplicates: {duplicates}",
        seen.len(),
        missing.len()
    );
    assert!(
        arrived.is_some() && missing.is_empty(),
        "{} lines lost (first {:?}); stderr of the last run:\n{}",
        missing.len(),
        missing.first(),
        String::from_utf8_lossy(&output.stderr)
    );
}
