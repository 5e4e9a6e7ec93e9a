//! WebAssembly component plugins through the `weir` binary: loaded with `-e` and with the
//! service's `plugins_file`, listed by `weir plugins`, checked by `--dry-run`, run under their
//! limits next to other pipelines, swapped while events flow, with their state kept across
//! restarts.
//!
//! The plugins are the host's test guests, built by `plugins/wasm/tests/guests/build.sh`
//! into `<target>/wasm-guests/weir-wasm/`.

#![cfg(feature = "wasm")]

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

fn guest(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let p = target
        .join("wasm-guests/weir-wasm")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: build the test guests with plugins/wasm/tests/guests/build.sh",
        p.display()
    );
    p
}

/// Records of a `file` output written with `format plain`.
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Starts weir on a configuration, logs piped.
fn start(config: &Path, dir: &Path) -> Child {
    let mut c = cmd();
    c.arg("-c")
        .arg(config)
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    c.spawn().expect("weir starts")
}

/// Stops weir with SIGTERM and returns its log.
fn stop(child: Child) -> String {
    signal(&child, "TERM");
    let out = wait_output(child, Duration::from_secs(30));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "weir failed: {log}");
    log
}

#[test]
fn plugins_loaded_with_dash_e_are_listed_with_their_parameters() {
    let mut c = cmd();
    c.args(["plugins", "--json", "test_filter", "-e"])
        .arg(guest("filter"));
    let out = run_with_timeout(c, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v[0]["properties"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for n in [
        "greeting",
        "fail_init",
        "wasm.time_limit",
        "wasm.on_error",
        "match",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert_eq!(v[0]["type"], "filter");

    let mut c = cmd();
    c.args(["plugins", "-e"]).arg(guest("input"));
    let out = run_with_timeout(c, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("test_input"), "{text}");
}

#[test]
fn a_filter_from_dash_e_changes_records_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd();
    c.arg("-e")
        .arg(guest("filter"))
        .args(["-i", "stdin", "-t", "app"])
        .args(["-F", "test_filter", "-m", "*", "-p", "greeting=yo"])
        .args([
            "-o",
            "file",
            "-m",
            "*",
            "-p",
            "format=plain",
            "-p",
            "file=out",
        ])
        .arg("-p")
        .arg(format!("path={}", dir.path().display()))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, r#"{{"msg":"one"}}"#).unwrap();
        writeln!(stdin, r#"{{"msg":"two","action":"drop"}}"#).unwrap();
        writeln!(stdin, r#"{{"msg":"three"}}"#).unwrap();
    }
    let out = wait_output(child, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&dir.path().join("out"));
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["msg"], "one");
    assert_eq!(recs[0]["greeting"], "yo");
    assert_eq!(recs[1]["msg"], "three");
    assert_eq!(recs[1]["filtered_by"], "test_filter");
}

#[test]
fn dry_run_checks_a_plugins_configuration() {
    let check = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cmd();
        c.arg("-e")
            .arg(guest("filter"))
            .args(["-i", "dummy", "-F", "test_filter", "-m", "*"])
            .args(extra)
            .args(["-o", "null", "--dry-run"])
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"));
        let out = run_with_timeout(c, Duration::from_secs(60));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = check(&[]);
    assert!(
        ok && text.contains("configuration test is successful"),
        "{text}"
    );
    let (ok, text) = check(&["-p", "greetings=x"]);
    assert!(
        !ok && text.contains("unknown parameter") && text.contains("greeting"),
        "{text}"
    );
    let (ok, text) = check(&["-p", "fail_init=on"]);
    assert!(
        !ok && text.contains("init failed: fail_init is set"),
        "{text}"
    );
    let (ok, text) = check(&["-p", "wasm.memory_limit=lots"]);
    assert!(!ok && text.contains("expected a size"), "{text}");
}

#[test]
fn plugins_files_load_inputs_and_state_survives_a_restart() {
    for (plugins_name, plugins_text) in [
        (
            "plugins.yaml",
            format!(
                "plugins:\n  - {}\n  - {}\n",
                guest("input").display(),
                guest("filter").display()
            ),
        ),
        (
            "plugins.conf",
            format!(
                "[PLUGINS]\n    Path {}\n    Path {}\n",
                guest("input").display(),
                guest("filter").display()
            ),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(&d.join(plugins_name), &plugins_text);
        let config = d.join("weir.yaml");
        write(
            &config,
            &format!(
                "service:\n  flush: 0.2\n  plugins_file: {plugins_name}\n  plugins.state_path: {state}\n  plugins.cache_path: {cache}\n\
                 pipeline:\n  inputs:\n    - name: test_input\n      tag: gen\n      count: 3\n      emit: on\n      interval_sec: 0\n      interval_nsec: 100000000\n\
                 \x20 filters:\n    - name: test_filter\n      match: gen\n\
                 \x20 outputs:\n    - name: file\n      match: '*'\n      format: plain\n      path: {out}\n",
                state = d.join("state").display(),
                cache = d.join("cache").display(),
                out = d.display(),
            ),
        );
        let mut last_n = None;
        for run in 0..2 {
            let before = records(&d.join("gen")).len();
            let child = start(&config, d);
            let enough = wait_for(Duration::from_secs(60), || {
                let n = records(&d.join("gen")).len();
                (n >= before + 6).then_some(n)
            });
            let log = stop(child);
            assert!(
                enough.is_some(),
                "records flowed ({plugins_name}, run {run}): {log}"
            );
            let recs = records(&d.join("gen"));
            let ns: Vec<u64> = recs.iter().map(|r| r["n"].as_u64().unwrap()).collect();
            assert_eq!(
                ns,
                (0..ns.len() as u64).collect::<Vec<_>>(),
                "the count goes on across restarts, kept in the plugin's state"
            );
            if let Some(prev) = last_n {
                assert!(ns.len() > prev);
            }
            last_n = Some(ns.len());
            assert!(recs.iter().all(|r| r["filtered_by"] == "test_filter"));
            let emitted = records(&d.join("emitted"));
            assert!(!emitted.is_empty(), "records pushed with emit arrive");
        }
        assert!(d.join("state").is_dir(), "plugins.state_path is used");
    }
}

#[test]
fn a_hostile_filter_does_not_stall_another_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let config = d.join("weir.conf");
    write(
        &config,
        &format!(
            "[SERVICE]\n    flush 0.2\n    http_server on\n    http_port {port}\n    plugins.state_path {state}\n\
             [INPUT]\n    name dummy\n    tag good\n    rate 20\n\
             [INPUT]\n    name dummy\n    tag bad\n    rate 20\n    dummy {{\"action\":\"loop\"}}\n\
             [INPUT]\n    name dummy\n    tag bomb\n    rate 5\n    dummy {{\"action\":\"bomb\"}}\n\
             [FILTER]\n    name test_filter\n    alias looper\n    match bad\n    wasm.time_limit 200ms\n    wasm.on_error drop\n\
             [FILTER]\n    name test_filter\n    alias bomber\n    match bomb\n    wasm.memory_limit 8M\n    wasm.on_error drop\n\
             [OUTPUT]\n    name file\n    match *\n    format plain\n    path {out}\n",
            state = d.join("state").display(),
            out = d.display(),
        ),
    );
    let plugins = d.join("plugins.conf");
    write(
        &plugins,
        &format!("[PLUGINS]\n    Path {}\n", guest("filter").display()),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    write(
        &config,
        &text.replacen(
            "[SERVICE]\n",
            &format!("[SERVICE]\n    plugins_file {}\n", plugins.display()),
            1,
        ),
    );
    let child = start(&config, d);
    // While the looping filter keeps timing out, the other pipeline goes on.
    let metrics = wait_for(Duration::from_secs(60), || {
        let (_, body) = http_get(port, "/api/v1/metrics")?;
        let m: Value = serde_json::from_str(&body).ok()?;
        let timeouts = m["filter"]["looper"]["wasm_timeouts"].as_u64()?;
        let bombs = m["filter"]["bomber"]["wasm_memory_limit_hits"].as_u64()?;
        (timeouts >= 5 && bombs >= 2 && records(&d.join("good")).len() >= 40).then_some(m)
    });
    let log = stop(child);
    let m = metrics.unwrap_or_else(|| panic!("the good pipeline kept flowing: {log}"));
    assert!(
        m["filter"]["looper"]["wasm_reinstantiations"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert_eq!(m["filter"]["looper"]["wasm_traps"], 0);
    assert!(
        records(&d.join("bad")).is_empty(),
        "the looping batches were dropped"
    );
    assert!(
        records(&d.join("bomb")).is_empty(),
        "the bombing batches were dropped"
    );
    assert!(log.contains("stopped at its time limit"), "{log}");
}

#[test]
fn a_plugin_swapped_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plugin = d.join("filter.wasm");
    std::fs::copy(guest("filter"), &plugin).unwrap();
    let config = d.join("weir.conf");
    write(
        &config,
        &format!(
            "[SERVICE]\n    flush 0.2\n    plugins.state_path {state}\n\
             [INPUT]\n    name dummy\n    tag load\n    rate 100\n    weir.sequence_key seq\n\
             [FILTER]\n    name test_filter\n    match *\n\
             [OUTPUT]\n    name file\n    match *\n    format plain\n    path {out}\n",
            state = d.join("state").display(),
            out = d.display(),
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(&config)
        .arg("-e")
        .arg(&plugin)
        .env("XDG_CACHE_HOME", d.join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let out = d.join("load");
    assert!(
        wait_for(Duration::from_secs(60), || (records(&out).len() >= 100)
            .then_some(()))
        .is_some()
    );
    let tmp = d.join("filter.wasm.new");
    std::fs::copy(guest("filter-v2"), &tmp).unwrap();
    std::fs::rename(&tmp, &plugin).unwrap();
    let swapped = wait_for(Duration::from_secs(60), || {
        let recs = records(&out);
        let v2 = recs.iter().filter(|r| r["version"] == 2).count();
        (v2 >= 100).then_some(())
    });
    let log = stop(child);
    assert!(swapped.is_some(), "version 2 took over: {log}");
    assert!(log.contains("now running version 2.0.0"), "{log}");
    let recs = records(&out);
    let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "every record once, in order"
    );
    let versions: Vec<u64> = recs
        .iter()
        .map(|r| r["version"].as_u64().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] <= w[1]),
        "no record of version 1 after version 2"
    );
    let calls: Vec<u64> = recs.iter().map(|r| r["calls"].as_u64().unwrap()).collect();
    assert!(
        calls.windows(2).all(|w| w[0] <= w[1]),
        "the batch count goes on through the swap"
    );
    let first_v2 = recs.iter().position(|r| r["version"] == 2).unwrap();
    assert!(
        calls[first_v2] > 1,
        "version 2 started from version 1's state"
    );
}

#[test]
fn failing_inputs_are_counted_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let input = |alias: &str, mode: &str| {
        format!(
            "[INPUT]\n    name test_input\n    alias {alias}\n    tag {alias}\n    mode {mode}\n    interval_sec 0\n    interval_nsec 100000000\n    wasm.time_limit 100ms\n"
        )
    };
    let config = d.join("weir.conf");
    write(
        &config,
        &format!(
            "[SERVICE]\n    flush 0.2\n    http_server on\n    http_port {port}\n    plugins.state_path {state}\n\
             {}{}{}{}\
             [OUTPUT]\n    name file\n    match *\n    format plain\n    path {out}\n",
            input("trapper", "trap"),
            input("liar", "bad"),
            input("looper", "loop"),
            input("fine", "normal"),
            state = d.join("state").display(),
            out = d.display(),
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(&config)
        .arg("-e")
        .arg(guest("input"))
        .env("XDG_CACHE_HOME", d.join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().unwrap();
    let seen = wait_for(Duration::from_secs(60), || {
        let (_, body) = http_get(port, "/api/v1/metrics")?;
        let m: Value = serde_json::from_str(&body).ok()?;
        let i = &m["input"];
        (i["trapper"]["wasm_traps"].as_u64()? >= 3
            && i["liar"]["wasm_errors"].as_u64()? >= 3
            && i["looper"]["wasm_timeouts"].as_u64()? >= 3
            && records(&d.join("fine")).len() >= 10)
            .then_some(())
    });
    let log = stop(child);
    assert!(
        seen.is_some(),
        "failures counted while the good input goes on: {log}"
    );
    for bad in ["trapper", "liar", "looper"] {
        assert!(records(&d.join(bad)).is_empty(), "{bad} produced nothing");
    }
    assert!(log.contains("collect failed"), "{log}");
}

#[test]
fn records_a_filter_returns_under_another_tag_go_round_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd();
    c.arg("-e")
        .arg(guest("filter-msgpack"))
        .args(["-i", "stdin", "-t", "app"])
        .args(["-F", "test_filter", "-m", "app", "-p", "greeting=copy"])
        .args(["-o", "file", "-m", "*", "-p", "format=plain"])
        .arg("-p")
        .arg(format!("path={}", dir.path().display()))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, r#"{{"msg":"one"}}"#).unwrap();
        writeln!(stdin, r#"{{"msg":"two"}}"#).unwrap();
    }
    let out = wait_output(child, Duration::from_secs(60));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let msgs = |f: &str| -> Vec<Value> {
        records(&dir.path().join(f))
            .iter()
            .map(|r| r["msg"].clone())
            .collect()
    };
    assert_eq!(msgs("app"), vec!["one", "two"]);
    assert_eq!(msgs("copy.app"), vec!["one", "two"], "{log}");
}

#[test]
fn a_reload_brings_a_new_plugin_version_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plugins = d.join("plugins.conf");
    let point_at = |p: &Path| write(&plugins, &format!("[PLUGINS]\n    Path {}\n", p.display()));
    point_at(&guest("filter"));
    let config = d.join("weir.conf");
    write(
        &config,
        &format!(
            "[SERVICE]\n    flush 0.2\n    hot_reload on\n    plugins_file {plugins}\n    plugins.state_path {state}\n\
             [INPUT]\n    name dummy\n    tag load\n    rate 50\n    weir.sequence_key seq\n\
             [FILTER]\n    name test_filter\n    alias f\n    match *\n\
             [OUTPUT]\n    name file\n    match *\n    format plain\n    path {out}\n",
            plugins = plugins.display(),
            state = d.join("state").display(),
            out = d.display(),
        ),
    );
    let child = start(&config, d);
    let out = d.join("load");
    let count = |version: u64| {
        records(&out)
            .iter()
            .filter(|r| r["version"] == version)
            .count()
    };
    assert!(wait_for(Duration::from_secs(60), || (count(1) >= 50).then_some(())).is_some());

    point_at(&guest("filter-v2"));
    signal(&child, "HUP");
    let v2 = wait_for(Duration::from_secs(60), || (count(2) >= 50).then_some(()));

    let garbage = d.join("garbage.wasm");
    std::fs::write(&garbage, b"not a plugin").unwrap();
    point_at(&garbage);
    signal(&child, "HUP");
    let before = count(2);
    let still = wait_for(Duration::from_secs(60), || {
        (count(2) >= before + 50).then_some(())
    });
    let log = stop(child);
    assert!(v2.is_some(), "the reload brought version 2: {log}");
    assert!(
        still.is_some(),
        "version 2 kept running after the refused reload: {log}"
    );
    assert!(
        log.contains("not a WebAssembly module or component"),
        "{log}"
    );
    let recs = records(&out);
    let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "every record once, in order"
    );
    let calls: Vec<u64> = recs.iter().map(|r| r["calls"].as_u64().unwrap()).collect();
    assert!(
        calls.windows(2).all(|w| w[0] <= w[1]),
        "one instance, its state kept"
    );
}

/// A one-thread HTTP server on a loopback port: answers every request 200 (or, when `mute`,
/// accepts connections and never answers) and keeps the request bodies.
struct HttpSink {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HttpSink {
    fn start(mute: bool) -> HttpSink {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                if mute {
                    held.push(conn);
                    continue;
                }
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok() {
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        HttpSink { port, bodies }
    }

    /// The records received, from the JSON lines of every body.
    fn records(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| b.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .map(|v| v["record"].clone())
            .collect()
    }
}

/// An output that POSTs with `wasi:http`: granted the network, its records reach a real HTTP
/// server; not granted, every request is refused in the host and nothing arrives; granted but
/// facing a server that never answers, each call ends at the plugin's time limit instead of the
/// HTTP client's ten minutes, and the batch is retried.
#[test]
fn outgoing_http_needs_the_network_grant_and_waits_no_longer_than_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let open = HttpSink::start(false);
    let closed = HttpSink::start(false);
    let mute = HttpSink::start(true);
    let port = free_port();
    let config = d.join("weir.yaml");
    write(
        &config,
        &format!(
            "service:\n  flush: 0.2\n  http_server: on\n  http_port: {port}\n  plugins.state_path: {state}\n\
             pipeline:\n  inputs:\n\
             \x20   - name: dummy\n      tag: granted\n      rate: 20\n      dummy: '{{\"n\":1}}'\n\
             \x20   - name: dummy\n      tag: refused\n      rate: 20\n      dummy: '{{\"n\":2}}'\n\
             \x20   - name: dummy\n      tag: stalled\n      rate: 20\n      dummy: '{{\"n\":3}}'\n\
             \x20 outputs:\n\
             \x20   - name: test_http_output\n      alias: granted\n      match: granted\n      url: http://127.0.0.1:{open}/in\n      wasm.allow_network: on\n\
             \x20   - name: test_http_output\n      alias: refused\n      match: refused\n      url: http://127.0.0.1:{closed}/in\n\
             \x20   - name: test_http_output\n      alias: stalled\n      match: stalled\n      url: http://127.0.0.1:{mute}/in\n      wasm.allow_network: on\n      wasm.time_limit: 300ms\n      retry_limit: no_limits\n",
            state = d.join("state").display(),
            open = open.port,
            closed = closed.port,
            mute = mute.port,
        ),
    );
    let mut c = cmd();
    c.arg("-c")
        .arg(&config)
        .arg("-e")
        .arg(guest("http-output"))
        .env("XDG_STATE_HOME", d.join("xdg-state"))
        .env("XDG_CACHE_HOME", d.join("xdg-cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let child = c.spawn().expect("weir starts");
    let metrics = wait_for(Duration::from_secs(60), || {
        let (_, body) = http_get(port, "/api/v1/metrics")?;
        let m: Value = serde_json::from_str(&body).ok()?;
        let refused = m["output"]["refused"]["retries"].as_u64()?;
        let stalled = m["output"]["stalled"]["retries"].as_u64()?;
        (open.records().len() >= 20 && refused >= 2 && stalled >= 2).then_some(m)
    });
    let log = stop(child);
    let m = metrics.unwrap_or_else(|| panic!("granted records arrived, others retried: {log}"));
    assert!(
        open.records().iter().all(|r| r["n"] == 1),
        "only the granted output's"
    );
    assert!(
        closed.records().is_empty(),
        "nothing went out without the grant"
    );
    assert!(
        log.contains("HttpRequestDenied"),
        "the refusal is in the log: {log}"
    );
    assert!(
        log.contains("Timeout") || log.contains("stopped at its time limit"),
        "the stalled request ended at the time limit: {log}"
    );
    assert_eq!(m["output"]["granted"]["errors"], 0, "{m}");
}
