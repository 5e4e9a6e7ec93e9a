//! `fluentbit_metrics` → `prometheus_exporter` end to end: the real binary, scraped over raw
//! HTTP and by a real Prometheus server (`/usr/bin/prometheus`, Debian's `prometheus` package,
//! which scripts/test.sh installs).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed and reaped when the test ends, even by a panic, so a failure never
/// leaves a server behind. Its stderr goes to a file, shown when something goes wrong.
struct Guard {
    child: Option<Child>,
    log: PathBuf,
    what: &'static str,
}

impl Guard {
    fn spawn(mut c: Command, log: PathBuf, what: &'static str) -> Self {
        let file = std::fs::File::create(&log).expect("log file");
        c.stdout(Stdio::null()).stderr(file).stdin(Stdio::null());
        let child = c.spawn().unwrap_or_else(|e| panic!("{what} starts: {e}"));
        Self {
            child: Some(child),
            log,
            what,
        }
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- {} log ---\n{text}", self.what)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts weir on `config` (YAML text) written in `dir`.
fn start_weir(dir: &Path, config: &str) -> Guard {
    let conf = dir.join("weir.yaml");
    write(&conf, config);
    let mut c = cmd();
    c.arg("-c").arg(&conf);
    Guard::spawn(c, dir.join("weir.log"), "weir")
}

/// fluentbit_metrics every second and a dummy → null pipeline so that counters move; the
/// exporter takes every tag, so it also sees (and ignores) the dummy's logs.
fn pipeline(port: u16) -> String {
    format!(
        "service:\n  flush: 0.2\n  log_level: debug\n\
         pipeline:\n  inputs:\n\
         \x20   - name: fluentbit_metrics\n      tag: internal_metrics\n      scrape_interval: 1\n      scrape_on_start: on\n\
         \x20   - name: dummy\n      tag: app\n      rate: 20\n\
         \x20 outputs:\n\
         \x20   - name: prometheus_exporter\n      match: '*'\n      host: 127.0.0.1\n      port: {port}\n      add_label:\n        - app weir\n        - color blue\n\
         \x20   - name: 'null'\n      match: app\n"
    )
}

/// A GET over HTTP/1.0 (so the answer is never chunked): status, headers, body.
fn get(port: u16, path: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_ascii_lowercase(), body.to_string()))
}

/// The value of the first sample line of `text` that starts with `series`.
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_are_served_in_the_prometheus_text_format() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let weir = start_weir(dir.path(), &pipeline(port));
    let series = r#"fluentbit_input_records_total{app="weir",color="blue",name="dummy.0"}"#;
    let got = wait_for(Duration::from_secs(30), || {
        let (status, head, body) = get(port, "/metrics")?;
        (status == 200 && value_of(&body, series)? > 0.0).then_some((head, body))
    });
    let Some((head, body)) = got else {
        panic!("no dummy records on /metrics\n{}", weir.log());
    };
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    for family in [
        "fluentbit_input_records_total",
        "fluentbit_output_proc_records_total",
        "fluentbit_uptime",
        "fluentbit_build_info",
    ] {
        assert_eq!(
            body.matches(&format!("# TYPE {family} ")).count(),
            1,
            "{family}:\n{body}"
        );
    }
    assert!(body.contains(
        "# HELP fluentbit_input_records_total Number of input records.\n\
         # TYPE fluentbit_input_records_total counter\n"
    ));
    assert!(value_of(
        &body,
        r#"fluentbit_output_proc_records_total{app="weir",color="blue",name="null.0"}"#
    )
    .is_some());
    // The exporter's own input counts its scrapes.
    assert!(body.contains(r#"name="fluentbit_metrics.0"} "#), "{body}");
    // Every sample line is `name{labels} value`.
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    let (status, _, _) = get(port, "/other").unwrap();
    assert_eq!(status, 404);
    // The dummy's logs reached the exporter too, and were left out.
    assert!(!body.contains("dummy\""), "{body}");
    assert!(weir.log().contains("serves metrics only"), "{}", weir.log());
}

#[test]
fn a_taken_port_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let conf = dir.path().join("weir.yaml");
    write(&conf, &pipeline(port));
    let mut c = cmd();
    c.arg("-c").arg(&conf);
    let out = run_with_timeout(c, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("prometheus_exporter")
            && stderr.contains("'port'")
            && stderr.contains("cannot listen"),
        "{stderr}"
    );
}

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Prometheus' query API: the samples of an instant vector, as (labels, value).
fn query(port: u16, q: &str) -> Option<Vec<(serde_json::Value, f64)>> {
    let (status, _, body) = get(port, &format!("/api/v1/query?query={q}"))?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    Some(
        result
            .iter()
            .filter_map(|r| {
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((r["metric"].clone(), value))
            })
            .collect(),
    )
}

#[test]
fn a_real_prometheus_scrapes_the_exporter() {
    // scripts/test.sh installs it: a missing server is a failure, not a pass.
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is not installed (Debian package 'prometheus')"
    );
    let dir = tempfile::tempdir().unwrap();
    let exporter = free_port();
    let weir = start_weir(dir.path(), &pipeline(exporter));

    let prom_port = free_port();
    let prom_conf = dir.path().join("prometheus.yml");
    write(
        &prom_conf,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: weir\n    static_configs:\n      - targets: ['127.0.0.1:{exporter}']\n"
        ),
    );
    let tsdb = dir.path().join("tsdb");
    let mut c = Command::new(PROMETHEUS);
    c.arg(format!("--config.file={}", prom_conf.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .current_dir(dir.path());
    let prometheus = Guard::spawn(c, dir.path().join("prometheus.log"), "prometheus");

    let found = wait_for(Duration::from_secs(30), || {
        let samples = query(prom_port, "fluentbit_input_records_total")?;
        samples
            .into_iter()
            .find(|(labels, value)| labels["name"] == "dummy.0" && *value > 0.0)
    });
    let Some((labels, _)) = found else {
        panic!(
            "Prometheus has no dummy.0 records\n{}\n{}",
            weir.log(),
            prometheus.log()
        );
    };
    // add_label's labels arrive, beside Prometheus' own job and instance.
    assert_eq!(labels["app"], "weir", "{labels}");
    assert_eq!(labels["color"], "blue", "{labels}");
    assert_eq!(labels["job"], "weir", "{labels}");
    // The scrape itself went well: the target is up.
    let up = query(prom_port, "up").unwrap_or_default();
    assert!(up.iter().any(|(_, v)| *v == 1.0), "{up:?}");
    // Prometheus read the type: a counter's rate is defined.
    let rate = wait_for(Duration::from_secs(15), || {
        query(prom_port, "rate(fluentbit_input_records_total%5B5s%5D)").filter(|r| !r.is_empty())
    });
    assert!(
        rate.is_some(),
        "no rate over the counter\n{}",
        prometheus.log()
    );
}
