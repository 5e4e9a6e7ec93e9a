//! The shared benchmark configurations run unchanged: tail_json and tail_regex process every
//! line of (smaller) generated data, exit 0 at end of file, and the monitoring API reports
//! the right counts while they run.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The benchmark configurations, beside the repository.
fn bench_conf_dir() -> Option<PathBuf> {
    let d = repo().join("../shared/bench/configs/fluent-bit");
    d.is_dir().then_some(d)
}

fn gen_json(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(
            f,
            r#"{{"ts":"2026-01-01T00:00:{:02}.{:03}Z","level":"info","service":"checkout-api","path":"/api/v1/orders","status":200,"latency_ms":{}.5,"msg":"request completed successfully","seq":{}}}"#,
            i % 60,
            i % 1000,
            i % 300,
            i
        )
        .unwrap();
    }
}

/// Apache combined lines; every 20th is a 404. Returns how many are not 404.
fn gen_apache(path: &Path, n: usize) -> usize {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut kept = 0;
    for i in 0..n {
        let status = if i % 20 == 7 { 404 } else { 200 };
        if status != 404 {
            kept += 1;
        }
        writeln!(
            f,
            r#"10.0.{}.{} - - [01/Jan/2026:00:00:{:02} +0000] "GET /api/v1/items/{} HTTP/1.1" {} {} "-" "curl/8.5.0""#,
            i % 256,
            i % 200,
            i % 60,
            i,
            status,
            100 + i % 900
        )
        .unwrap();
    }
    kept
}

/// Runs a benchmark workload; returns (exit status ok, stderr, largest output count seen on
/// /api/v1/metrics while it ran, the input count seen).
fn run_workload(workload: &str, data: &Path, conf: &Path) -> (bool, String, u64) {
    let port = free_port();
    let mut c = cmd();
    c.arg("-c").arg(conf.join(format!("{workload}.yaml")));
    c.env("BENCH_DATA", data)
        .env("BENCH_CONF_DIR", conf)
        .env("BENCH_HTTP_PORT", port.to_string());
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().expect("starts");
    let mut seen = 0u64;
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        // Poll the API as the harness does, until the process is gone.
        while Path::new(&format!("/proc/{pid}")).exists() {
            if let Some((200, body)) = http_get(port, "/api/v1/metrics") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                    let out: u64 = v["output"].as_object().map_or(0, |o| {
                        o.values().filter_map(|x| x["proc_records"].as_u64()).sum()
                    });
                    seen = seen.max(out);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        seen
    });
    let out = wait_output(child, Duration::from_secs(120));
    let seen = watcher.join().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        seen,
    )
}

/// Reads the final per-output count from the shutdown summary line.
fn final_count(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter(|l| l.contains("[engine] output ") && l.contains("proc_records="))
        .filter_map(|l| {
            l.split("proc_records=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn tail_json_runs_unchanged() {
    let Some(conf) = bench_conf_dir() else {
        eprintln!("skipped: no benchmark configurations beside the repository");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let n = 200_000;
    gen_json(&data.path().join("json.log"), n);
    let (ok, stderr, seen) = run_workload("tail_json", data.path(), &conf);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("[error]"), "{stderr}");
    assert_eq!(final_count(&stderr), n as u64, "{stderr}");
    assert!(seen > 0 && seen <= n as u64, "metrics API showed {seen}");
}

#[test]
fn tail_regex_runs_unchanged() {
    let Some(conf) = bench_conf_dir() else {
        eprintln!("skipped: no benchmark configurations beside the repository");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let n = 100_000;
    let kept = gen_apache(&data.path().join("apache.log"), n);
    let (ok, stderr, seen) = run_workload("tail_regex", data.path(), &conf);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("[error]"), "{stderr}");
    assert_eq!(final_count(&stderr), kept as u64, "{stderr}");
    assert!(seen > 0 && seen <= kept as u64, "metrics API showed {seen}");
}
