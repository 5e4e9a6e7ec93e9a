//! Hot reload through the real binary, under load: every event produced reaches the file
//! exactly once across 20 reloads that add, remove and change inputs, filters and outputs; an
//! invalid configuration is refused with 400 and changes nothing; concurrent requests are all
//! answered; the process is the same throughout.

mod common;

use common::{free_port, http_get, wait_for, write};
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Kills the child if the test fails before it is stopped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POST on loopback; returns (status, body).
fn http_post(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read answer");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn service(port: u16) -> String {
    format!(
        "service:\n  flush: 0.2\n  grace: 5\n  hot_reload: on\n  http_server: on\n  http_listen: 127.0.0.1\n  http_port: {port}\n  log_level: info\n"
    )
}

/// Configuration A: the generator, a filter, one file output.
fn config_a(port: u16, dir: &Path) -> String {
    format!(
        "{}pipeline:
  inputs:
    - name: dummy
      alias: gen
      tag: gen
      rate: 10000
      weir.sequence_key: seq
      dummy: '{{\"msg\":\"load\"}}'
  filters:
    - name: modify
      match: gen
      add: cfg a
  outputs:
    - name: file
      alias: sink
      match: gen
      path: {dir}
      file: gen.txt
      format: plain
",
        service(port),
        dir = dir.display()
    )
}

/// Configuration B, round `round`: the same generator; the filter and the output changed; a
/// second input with its own filter and output added; and an output that cannot deliver, so
/// that leaving B takes a while (its retries are drained within grace) and requests made
/// meanwhile are coalesced.
fn config_b(port: u16, dir: &Path, round: usize) -> String {
    format!(
        "{}pipeline:
  inputs:
    - name: dummy
      alias: gen
      tag: gen
      rate: 10000
      weir.sequence_key: seq
      dummy: '{{\"msg\":\"load\"}}'
    - name: dummy
      alias: extra
      tag: extra
      rate: 1000
      weir.sequence_key: seq
      dummy: '{{\"msg\":\"extra\"}}'
    - name: dummy
      alias: doomed
      tag: doomed
      rate: 20
  filters:
    - name: modify
      match: gen
      add: cfg b
    - name: modify
      alias: round
      match: extra
      add: round {round}
  outputs:
    - name: file
      alias: sink
      match: gen
      path: {dir}
      file: gen.txt
      format: plain
      workers: 2
    - name: file
      alias: extra_sink
      match: extra
      path: {dir}
      file: extra.txt
      format: plain
    - name: file
      alias: nowhere
      match: doomed
      path: /proc/weir-cannot-write-here
      retry_limit: 2
",
        service(port),
        dir = dir.display()
    )
}

fn reload_count(port: u16) -> u64 {
    let (code, body) = http_get(port, "/api/v2/reload").expect("API answers");
    assert_eq!(code, 200, "{body}");
    json(&body)["hot_reload_count"].as_u64().expect("count")
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(json)
        .collect()
}

#[test]
fn reload_under_load_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let cfg = dir.path().join("weir.yaml");
    let port = free_port();
    write(&cfg, &config_a(port, &out));
    let log = std::fs::File::create(dir.path().join("weir.log")).unwrap();
    let child = common::cmd()
        .arg("-c")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("weir starts");
    let pid = child.id();
    let mut weir = Running(child);
    wait_for(Duration::from_secs(20), || http_get(port, "/api/v2/reload"))
        .expect("the API comes up");

    let mut applied = 0u64;
    let mut rounds_b = 0usize;
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(150));
        if i == 10 {
            // An invalid configuration: refused with the reason, nothing changes.
            let before = reload_count(port);
            let gen_before = gen_records(port);
            write(
                &cfg,
                &config_a(port, &out).replace("add: cfg a", "add: cfg a\n      no_such_key: 1"),
            );
            let (code, body) = http_post(port, "/api/v2/reload");
            assert_eq!(code, 400, "{body}");
            let v = json(&body);
            assert_eq!(v["status"], -1, "{body}");
            let err = v["error"].as_str().unwrap_or_default();
            assert!(
                err.contains("no_such_key") && err.contains("weir.yaml"),
                "error names the key and file: {err}"
            );
            assert_eq!(
                reload_count(port),
                before,
                "a refused reload is not counted"
            );
            // The running pipeline carries on.
            wait_for(Duration::from_secs(10), || {
                (gen_records(port) > gen_before).then_some(())
            })
            .expect("the pipeline still runs after a refused reload");
        }
        let to_b = i % 2 == 0;
        if to_b {
            rounds_b += 1;
            write(&cfg, &config_b(port, &out, rounds_b));
        } else {
            write(&cfg, &config_a(port, &out));
        }
        if i == 15 {
            // Leaving B drains the output that cannot deliver: requests made meanwhile are
            // coalesced, and every one is answered with the outcome of a reload that
            // started after it was made.
            let before = reload_count(port);
            let answers: Vec<(u16, String)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..5)
                    .map(|k| {
                        s.spawn(move || {
                            std::thread::sleep(Duration::from_millis(50 * k));
                            http_post(port, "/api/v2/reload")
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut counts = HashSet::new();
            for (code, body) in &answers {
                assert_eq!(*code, 200, "{body}");
                let v = json(body);
                assert_eq!(v["reload"], "done", "{body}");
                assert_eq!(v["status"], 0, "{body}");
                counts.insert(v["hot_reload_count"].as_u64().unwrap());
            }
            let after = reload_count(port);
            assert!(
                after > before && after - before < 5,
                "5 concurrent requests gave {} reloads: they were not coalesced",
                after - before
            );
            assert_eq!(counts.len() as u64, after - before);
            applied += after - before;
            continue;
        }
        let (code, body) = http_post(port, "/api/v2/reload");
        assert_eq!(code, 200, "reload {i}: {body}");
        let v = json(&body);
        assert_eq!(v["reload"], "done", "{body}");
        assert_eq!(v["pid"], pid, "same process");
        let changes = &v["changes"];
        assert_eq!(
            changes["inputs"]["unchanged"][0], "gen",
            "the generator keeps running: {body}"
        );
        let added = if to_b { "added" } else { "removed" };
        assert_eq!(
            changes["inputs"][added],
            serde_json::json!(["extra", "doomed"]),
            "{body}"
        );
        assert_eq!(changes["outputs"]["changed"], serde_json::json!(["sink"]));
        assert_eq!(
            changes["outputs"][added],
            serde_json::json!(["extra_sink", "nowhere"]),
            "{body}"
        );
        applied += 1;
    }
    assert_eq!(reload_count(port), applied);
    let (_, metrics) = http_get(port, "/api/v1/metrics").unwrap();
    let produced_before_stop = json(&metrics)["input"]["gen"]["records"].as_u64().unwrap();

    common::signal(&weir.0, "TERM");
    let status = weir.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let log_text = std::fs::read_to_string(dir.path().join("weir.log")).unwrap();
    // The only errors are those of the output that cannot deliver and the refused reload.
    for line in log_text.lines().filter(|l| l.contains("[error]")) {
        assert!(
            line.contains("nowhere") || line.contains("no_such_key"),
            "unexpected error: {line}"
        );
    }

    // The generator ran through every reload: its sequence is complete, each number once.
    let gen = lines(&out.join("gen.txt"));
    let seqs: Vec<u64> = gen.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "no event written twice");
    let max = *seqs.iter().max().unwrap();
    assert_eq!(seqs.len() as u64, max + 1, "no event lost");
    assert!(seqs.len() as u64 >= produced_before_stop);
    // Both configurations' filters were applied, in turn.
    let cfgs: HashSet<&str> = gen.iter().filter_map(|v| v["cfg"].as_str()).collect();
    assert_eq!(cfgs, HashSet::from(["a", "b"]));

    // Each incarnation of the input that comes and goes delivered a complete sequence too.
    let mut rounds: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for v in lines(&out.join("extra.txt")) {
        let round = v["round"].as_str().unwrap().to_string();
        rounds
            .entry(round)
            .or_default()
            .push(v["seq"].as_u64().unwrap());
    }
    assert_eq!(rounds.len(), rounds_b, "one run of `extra` per round of B");
    for (round, mut seqs) in rounds {
        seqs.sort_unstable();
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "round {round} lost or repeated events");
    }
    println!(
        "{} reloads applied; gen: {} events exactly once",
        applied,
        gen.len()
    );
}

fn gen_records(port: u16) -> u64 {
    http_get(port, "/api/v1/metrics")
        .map(|(_, b)| json(&b)["input"]["gen"]["records"].as_u64().unwrap_or(0))
        .unwrap_or(0)
}

/// Starts weir on `cfg` with its log in `dir/weir.log`, and waits for its API.
fn start(cfg: &Path, dir: &Path, port: u16) -> Running {
    let log = std::fs::File::create(dir.join("weir.log")).unwrap();
    let child = common::cmd()
        .arg("-c")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("weir starts");
    let weir = Running(child);
    wait_for(Duration::from_secs(20), || http_get(port, "/api/v2/reload"))
        .expect("the API comes up");
    weir
}

fn wait_count(port: u16, n: u64) {
    wait_for(Duration::from_secs(20), || {
        (reload_count(port) >= n).then_some(())
    })
    .unwrap_or_else(|| panic!("reload count did not reach {n}"));
}

#[test]
fn watched_files_and_sighup_trigger_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("weir.yaml");
    let parsers = dir.path().join("parsers.yaml");
    let out = dir.path().join("out.txt");
    let config = |word: &str| {
        format!(
            "service:
  flush: 0.2
  hot_reload: on
  hot_reload.watch: on
  http_server: on
  http_listen: 127.0.0.1
  http_port: {port}
  parsers_file: {parsers}
pipeline:
  inputs:
    - name: dummy
      rate: 20
      dummy: '{{\"log\":\"k=v\"}}'
  filters:
    - name: parser
      match: '*'
      key_name: log
      parser: kv
    - name: modify
      match: '*'
      add: word {word}
  outputs:
    - name: file
      match: '*'
      path: {dir}
      file: out.txt
      format: plain
",
            parsers = parsers.display(),
            dir = dir.path().display()
        )
    };
    let parser = |group: &str| {
        format!(
            "parsers:\n  - name: kv\n    format: regex\n    regex: '^(?<{group}>[a-z])=(?<value>.*)$'\n"
        )
    };
    write(&parsers, &parser("key"));
    write(&cfg, &config("first"));
    let mut weir = start(&cfg, dir.path(), port);
    let seen = |needle: &str| {
        let needle = needle.to_string();
        let out = out.clone();
        wait_for(Duration::from_secs(20), move || {
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .lines()
                .last()
                .filter(|l| l.contains(&needle))
                .map(|_| ())
        })
    };
    seen("\"key\":\"k\"").expect("the first configuration runs");
    assert!(seen("\"word\":\"first\"").is_some());

    // The configuration file changes: reloaded by itself.
    write(&cfg, &config("second"));
    wait_count(port, 1);
    seen("\"word\":\"second\"").expect("the changed filter applies");

    // A parsers file it uses changes: reloaded too.
    write(&parsers, &parser("field"));
    wait_count(port, 2);
    seen("\"field\":\"k\"").expect("the changed parser applies");

    // SIGHUP reloads as well.
    common::signal(&weir.0, "HUP");
    wait_count(port, 3);

    common::signal(&weir.0, "TERM");
    assert!(weir.0.wait().unwrap().success());
}

#[test]
fn without_hot_reload_nothing_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("weir.yaml");
    write(
        &cfg,
        &format!(
            "service:\n  http_server: on\n  http_listen: 127.0.0.1\n  http_port: {port}\npipeline:\n  inputs:\n    - name: dummy\n  outputs:\n    - name: null\n      match: '*'\n"
        ),
    );
    let mut weir = start(&cfg, dir.path(), port);
    let (code, body) = http_post(port, "/api/v2/reload");
    let v = json(&body);
    assert_eq!(
        (code, v["reload"].as_str()),
        (200, Some("not enabled")),
        "{body}"
    );
    assert_eq!(v["status"], -1);
    common::signal(&weir.0, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(reload_count(port), 0);
    assert!(
        weir.0.try_wait().unwrap().is_none(),
        "SIGHUP does not stop it"
    );
    common::signal(&weir.0, "TERM");
    assert!(weir.0.wait().unwrap().success());
    let log = std::fs::read_to_string(dir.path().join("weir.log")).unwrap();
    assert!(log.contains("SIGHUP ignored: hot_reload is off"), "{log}");
}
