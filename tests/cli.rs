//! The command line end to end: quick pipelines, version, help, dry runs, and the same
//! pipeline in YAML and classic form giving the same output.

mod common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn version_first_line() {
    let out = run_with_timeout(
        {
            let mut c = cmd();
            c.arg("--version");
            c
        },
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(first, format!("Weir v{}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn dummy_to_stdout_prints_records() {
    let mut c = cmd();
    c.args(["-i", "dummy", "-p", "rate=20", "-o", "stdout", "-f", "0.1"]);
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().expect("starts");
    std::thread::sleep(Duration::from_millis(800));
    signal(&child, "TERM");
    let out = wait_output(child, Duration::from_secs(15));
    assert!(
        out.status.success(),
        "exit {:?}; stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "expected several records, got:\n{text}");
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("[{i}] dummy.0: [[")), "{l}");
        assert!(l.ends_with(", {}], {\"message\"=>\"dummy\"}]"), "{l}");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[engine] service has stopped (0 pending tasks)"),
        "{err}"
    );
}

/// Runs an example configuration to its end (tail with exit_on_eof) and returns stdout.
fn run_example(file: &str) -> String {
    let mut c = cmd();
    c.args(["-c", file]);
    let out = run_with_timeout(c, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{file}: exit {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn yaml_and_classic_examples_give_the_same_output() {
    let yaml = run_example("configs/examples/tail-stdout.yaml");
    let classic = run_example("configs/examples/tail-stdout.conf");
    assert_eq!(yaml, classic);
    let lines: Vec<serde_json::Value> = yaml
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let input = std::fs::read_to_string(repo().join("configs/examples/access.log")).unwrap();
    let healthz = input
        .lines()
        .filter(|l| l.contains("GET /healthz "))
        .count();
    assert_eq!(lines.len(), input.lines().count() - healthz);
    for l in &lines {
        assert_eq!(l["source"], "example-host");
        assert_ne!(l["path"], "/healthz");
        assert!(
            l["date"].as_str().unwrap().starts_with("2026-11-22T06:"),
            "time parsed from the log: {l}"
        );
    }
}

#[test]
fn dry_run_checks_without_running() {
    let mut c = cmd();
    c.args(["-c", "configs/examples/tail-stdout.yaml", "--dry-run"]);
    let out = run_with_timeout(c, Duration::from_secs(10));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configuration test is successful"
    );
}

/// Checking the configuration a running Weir uses must not need the ports it listens on.
#[test]
fn dry_run_takes_no_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for plugin in ["prometheus_exporter", "vivo_exporter"] {
        let pipeline = [
            "-i",
            "dummy",
            "-o",
            plugin,
            "-p",
            "host=127.0.0.1",
            "-p",
            &format!("port={port}"),
        ];
        let mut c = cmd();
        c.args(pipeline).arg("--dry-run");
        let out = run_with_timeout(c, Duration::from_secs(10));
        assert!(
            out.status.success(),
            "{plugin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Running it for real does need the port.
        let mut c = cmd();
        c.args(pipeline);
        let out = run_with_timeout(c, Duration::from_secs(10));
        assert!(!out.status.success(), "{plugin} started on a taken port");
    }
}

#[test]
fn plugin_help_comes_from_the_parameter_table() {
    let mut c = cmd();
    c.args(["-i", "tail", "-h"]);
    let out = run_with_timeout(c, Duration::from_secs(10));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for key in ["path", "read_from_head", "exit_on_eof", "db", "tag"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(key)),
            "{key} missing from:\n{text}"
        );
    }
}

#[test]
fn plugins_json_is_a_schema_of_every_plugin() {
    let mut c = cmd();
    c.args(["plugins", "--json"]);
    let out = run_with_timeout(c, Duration::from_secs(10));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for n in [
        "tail", "dummy", "stdin", "grep", "modify", "stdout", "null", "file", "counter",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
}

#[test]
fn metrics_api_counts_every_record() {
    let port = free_port();
    let mut c = cmd();
    c.args([
        "-i",
        "dummy",
        "-p",
        "rate=200",
        "-p",
        "samples=50",
        "-F",
        "grep",
        "-p",
        "exclude=message ^x",
        "-o",
        "null",
        "-f",
        "0.1",
        "-H",
        "-P",
    ])
    .arg(port.to_string());
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().expect("starts");
    let counts = wait_for(Duration::from_secs(20), || {
        let (status, body) = http_get(port, "/api/v1/metrics")?;
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (v["output"]["null.0"]["proc_records"] == 50).then_some(v)
    });
    let (status, uptime) = http_get(port, "/api/v1/uptime").expect("uptime answers");
    signal(&child, "TERM");
    let out = wait_output(child, Duration::from_secs(15));
    assert!(out.status.success());
    let v = counts.expect("output count reached 50 on /api/v1/metrics");
    assert_eq!(v["input"]["dummy.0"]["records"], 50);
    assert_eq!(v["filter"]["grep.0"]["drop_records"], 0);
    assert_eq!(v["output"]["null.0"]["errors"], 0);
    assert!(v["output"]["null.0"]["proc_bytes"].as_u64().unwrap() > 0);
    assert_eq!(status, 200);
    let u: serde_json::Value = serde_json::from_str(&uptime).unwrap();
    assert!(
        u["uptime_sec"].is_u64() && u["uptime_hr"].is_string(),
        "{u}"
    );
}

/// `weir plugins` and one plugin's table, pinned: the parameter tables are the user-facing
/// reference, so a change to them shows up in review.
#[test]
fn plugins_listing_snapshot() {
    let run = |args: &[&str]| {
        let mut c = cmd();
        c.args(args);
        let out = run_with_timeout(c, Duration::from_secs(10));
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    insta::assert_snapshot!("plugins", run(&["plugins"]));
    insta::assert_snapshot!("plugins_grep", run(&["plugins", "grep"]));
    insta::assert_snapshot!("plugins_stdout_output", run(&["-o", "stdout", "-h"]));
}

/// `/api/v1/storage` answers in Fluent Bit's shape for a memory pipeline by default, and not at
/// all with `storage.metrics off`.
#[test]
fn storage_endpoint_follows_storage_metrics() {
    for (metrics, expect) in [("on", 200), ("off", 404)] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("weir.yaml");
        write(
            &conf,
            &format!(
                "service:\n  http_server: on\n  http_listen: 127.0.0.1\n  http_port: {port}\n  storage.metrics: {metrics}\npipeline:\n  inputs:\n    - name: dummy\n  outputs:\n    - name: 'null'\n      match: '*'\n"
            ),
        );
        let mut c = cmd();
        c.arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        let child = c.spawn().unwrap();
        let got = wait_for(Duration::from_secs(10), || {
            http_get(port, "/api/v1/storage")
        });
        signal(&child, "TERM");
        let _ = wait_output(child, Duration::from_secs(15));
        let (status, body) = got.expect("the server answers");
        assert_eq!(status, expect, "storage.metrics {metrics}: {body}");
        if expect == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(v["storage_layer"]["chunks"]["mem_chunks"].is_u64(), "{v}");
            assert!(
                v["input_chunks"]["dummy.0"]["status"]["overlimit"].is_boolean(),
                "{v}"
            );
            assert_eq!(v["storage_layer"]["chunks"]["fs_chunks"], 0);
        }
    }
}
