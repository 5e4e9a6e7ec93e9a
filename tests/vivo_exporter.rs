//! `vivo_exporter` end to end: the real binary, dummy records, and the streams read over
//! HTTP/1.1 and HTTP/2 (h2c, with curl as the client).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running weir, stopped (and reaped) when the test ends, even by a panic.
struct Weir {
    child: Option<Child>,
    port: u16,
}

impl Weir {
    /// dummy (with `message`) → vivo_exporter on a free loopback port with `props`.
    fn start(message: &str, dummy: &[&str], props: &[&str]) -> Self {
        let port = free_port();
        let mut c = cmd();
        c.args(["-i", "dummy", "-t", "vivo.test", "-p"])
            .arg(format!(r#"dummy={{"message":"{message}"}}"#));
        for p in dummy {
            c.args(["-p", p]);
        }
        c.args(["-o", "vivo_exporter", "-p", "host=127.0.0.1", "-p"])
            .arg(format!("port={port}"));
        for p in props {
            c.args(["-p", p]);
        }
        c.args(["-f", "0.05"]);
        Self::spawn(c, port)
    }

    fn spawn(mut c: Command, port: u16) -> Self {
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let child = c.spawn().expect("weir starts");
        Self {
            child: Some(child),
            port,
        }
    }

    fn get(&self, path: &str) -> Reply {
        request(self.port, "GET", path)
    }

    /// Polls until the logs stream has handed out at least `n` ids.
    fn wait_for_ids(&self, n: u64) {
        let got = wait_for(Duration::from_secs(30), || {
            let r = try_request(self.port, "HEAD", "/api/v1/logs")?;
            (r.id("vivo-stream-next-id")? >= n).then_some(())
        });
        assert!(got.is_some(), "the logs stream did not reach {n} entries");
    }

    /// Stops weir with SIGTERM and returns its exit status and log.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let child = self.child.take().expect("running");
        signal(&child, "TERM");
        let out = wait_output(child, Duration::from_secs(20));
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTP answer: status, headers (lowercase names), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn id(&self, name: &str) -> Option<u64> {
        self.header(name)?.parse().ok()
    }

    /// (start, end, next) ids.
    fn span(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        (
            self.id("vivo-stream-start-id"),
            self.id("vivo-stream-end-id"),
            self.id("vivo-stream-next-id"),
        )
    }

    /// Each line of the body as JSON.
    fn entries(&self) -> Vec<serde_json::Value> {
        self.body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn parse_reply(text: &str) -> Option<Reply> {
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// One HTTP/1.1 request; None when nothing answers (yet).
fn try_request(port: u16, method: &str, path: &str) -> Option<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nOrigin: https://vivo.example\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    parse_reply(&text)
}

fn request(port: u16, method: &str, path: &str) -> Reply {
    try_request(port, method, path).unwrap_or_else(|| panic!("{method} {path} got no answer"))
}

/// The same request over HTTP/2 with prior knowledge (h2c), through curl.
fn h2c(port: u16, path: &str) -> Reply {
    let out = Command::new("curl")
        .args(["--http2-prior-knowledge", "-sS", "-i", "--max-time", "10"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl is needed for the HTTP/2 tests (it must list HTTP2 in `curl --version`)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/2 "), "not an HTTP/2 answer: {text}");
    parse_reply(&text).expect("an HTTP answer")
}

#[test]
fn ids_count_per_stream_and_ranges_select_them() {
    let w = Weir::start("counting", &["rate=50"], &[]);
    w.wait_for_ids(5);

    let all = w.get("/api/v1/logs");
    assert_eq!(all.status, 200);
    assert_eq!(all.header("content-type"), Some("application/json"));
    let (start, end, next) = all.span();
    let (start, end, next) = (start.unwrap(), end.unwrap(), next.unwrap());
    assert_eq!(start, 0, "nothing was evicted yet");
    assert_eq!(next, end + 1);
    let entries = all.entries();
    assert_eq!(entries.len() as u64, end - start + 1, "one line per chunk");
    for e in &entries {
        assert_eq!(e["tag"], "vivo.test");
        let records = e["records"].as_array().unwrap();
        assert!(!records.is_empty());
        for r in records {
            assert!(r[0][0].as_u64().unwrap() > 1_600_000_000_000_000_000, "{r}");
            assert_eq!(r[1]["message"], "counting");
        }
    }

    // Fluent Bit's documented example, and the other combinations.
    assert_eq!(
        w.get("/api/v1/logs?from=1&to=3&limit=1").span(),
        (Some(1), Some(1), Some(2))
    );
    let r = w.get("/api/v1/logs?from=1&to=3");
    assert_eq!(r.span(), (Some(1), Some(3), Some(4)));
    assert_eq!(r.entries().len(), 3);
    let r = w.get("/api/v1/logs?from=2&limit=2");
    assert_eq!(r.span(), (Some(2), Some(3), Some(4)));
    assert_eq!(
        w.get("/api/v1/logs?limit=1").span(),
        (Some(0), Some(0), Some(1))
    );
    // The 2.x path serves the same stream.
    assert_eq!(
        w.get("/logs?from=1&to=2").span(),
        (Some(1), Some(2), Some(3))
    );
    // Past the end: an empty body, and where to poll from.
    let r = w.get("/api/v1/logs?from=1000000");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let (s, e, n) = r.span();
    assert_eq!((s, e), (None, None));
    assert!(n.unwrap() >= next);
    // A malformed option is refused, not read as 0.
    assert_eq!(w.get("/api/v1/logs?from=one").status, 400);

    // The other streams count on their own: nothing arrived there.
    for path in ["/api/v1/metrics", "/api/v1/traces", "/metrics", "/traces"] {
        let r = w.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.span(), (None, None, Some(0)), "{path}");
    }
    // Without http_cors_allow_origin, no CORS header at all.
    assert!(
        all.headers
            .iter()
            .all(|(k, _)| !k.starts_with("access-control-")),
        "{:?}",
        all.headers
    );
    let pre = request(w.port, "OPTIONS", "/api/v1/logs");
    assert!(pre
        .headers
        .iter()
        .all(|(k, _)| !k.starts_with("access-control-")));
    assert_eq!(
        w.get("/live").status,
        404,
        "the live-tail page is off by default"
    );
    let internal = w.get("/api/v1/internal/metrics");
    assert_eq!(internal.status, 200);
    let v: serde_json::Value = serde_json::from_str(&internal.body).expect("JSON");
    let names: Vec<&str> = v["metrics"]
        .as_array()
        .expect("a cmetrics context")
        .iter()
        .filter_map(|m| m["meta"]["opts"]["name"].as_str())
        .collect();
    assert!(names.contains(&"records_total"), "{names:?}");

    let (status, log) = w.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("listening iface=127.0.0.1 tcp_port="), "{log}");
}

#[test]
fn the_oldest_entries_go_when_the_stream_is_full() {
    let big = "x".repeat(400);
    let w = Weir::start(&big, &["rate=100"], &["stream_queue_size=4k"]);
    w.wait_for_ids(30);
    let r = w.get("/api/v1/logs");
    let (start, end, next) = r.span();
    let (start, end) = (start.unwrap(), end.unwrap());
    assert!(start > 0, "old entries were evicted");
    assert_eq!(next, Some(end + 1));
    assert_eq!(r.entries().len() as u64, end - start + 1);
    assert!(
        r.body.len() <= 4096 || start == end,
        "{} bytes held in a 4k stream",
        r.body.len()
    );
    // An evicted id is served from the oldest one still held.
    assert_eq!(w.get("/api/v1/logs?from=0&limit=1").span().0, Some(start));
}

#[test]
fn cors_headers_when_configured() {
    let w = Weir::start(
        "cors",
        &["rate=50"],
        &["http_cors_allow_origin=https://vivo.example"],
    );
    w.wait_for_ids(1);
    let r = w.get("/api/v1/logs");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://vivo.example")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Origin, X-Requested-With, Content-Type, Accept")
    );
    let expose = r.header("access-control-expose-headers").unwrap();
    for h in [
        "vivo-stream-start-id",
        "vivo-stream-end-id",
        "vivo-stream-next-id",
    ] {
        assert!(expose.contains(h), "{expose}");
    }
    let pre = request(w.port, "OPTIONS", "/api/v1/logs?from=0");
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://vivo.example")
    );
    assert_eq!(
        pre.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    let h2 = h2c(w.port, "/api/v1/logs");
    assert_eq!(
        h2.header("access-control-allow-origin"),
        Some("https://vivo.example")
    );
}

#[test]
fn empty_stream_on_read_removes_only_what_it_returned() {
    let w = Weir::start("consumed", &["rate=50"], &["empty_stream_on_read=on"]);
    w.wait_for_ids(4);
    // A HEAD never consumes.
    assert_eq!(
        request(w.port, "HEAD", "/api/v1/logs?from=1&limit=2").span(),
        (Some(1), Some(2), Some(3))
    );
    let r = w.get("/api/v1/logs?from=1&limit=2");
    assert_eq!(r.span(), (Some(1), Some(2), Some(3)));
    assert_eq!(r.entries().len(), 2);
    // 1 and 2 are gone; 0 (skipped by `from`) and 3 (past the limit) are not. (Looked at
    // with HEAD, which does not consume.)
    let head = |path| request(w.port, "HEAD", path).span().0;
    assert_eq!(head("/api/v1/logs?from=1&limit=1"), Some(3));
    assert_eq!(head("/api/v1/logs?limit=1"), Some(0));
    // A read of everything takes 0, 3 and what followed; entries that arrive after it are
    // left for the next one.
    let r = w.get("/api/v1/logs");
    let (start, end, _) = r.span();
    assert_eq!(start, Some(0));
    let end = end.expect("entries");
    assert_eq!(r.entries().len() as u64, end - 1, "0 and 3..={end}");
    w.wait_for_ids(end + 3);
    let later = w.get("/api/v1/logs");
    assert_eq!(later.span().0, Some(end + 1));
}

#[test]
fn the_same_over_http2() {
    let w = Weir::start("h2c", &["rate=50"], &[]);
    w.wait_for_ids(5);
    let r = h2c(w.port, "/api/v1/logs?from=1&to=3");
    assert_eq!(r.status, 200);
    assert_eq!(r.span(), (Some(1), Some(3), Some(4)));
    assert_eq!(r.entries().len(), 3);
    assert_eq!(r.entries()[0]["records"][0][1]["message"], "h2c");
    assert_eq!(
        h2c(w.port, "/api/v1/logs?from=2&limit=1").span(),
        (Some(2), Some(2), Some(3))
    );
    let empty = h2c(w.port, "/api/v1/traces");
    assert_eq!(empty.span(), (None, None, Some(0)));
    assert!(h2c(w.port, "/api/v1/logs")
        .headers
        .iter()
        .all(|(k, _)| !k.starts_with("access-control-")));
}

#[test]
fn a_taken_port_is_a_startup_error_naming_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut c = cmd();
    c.args([
        "-i",
        "dummy",
        "-o",
        "vivo_exporter",
        "-p",
        "host=127.0.0.1",
        "-p",
    ])
    .arg(format!("port={port}"));
    let out = run_with_timeout(c, Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("port"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

/// A hot reload that changes the exporter hands the running listener and streams to the new
/// instance: the port never closes, ids go on, and the new settings apply.
#[test]
fn ids_go_on_across_a_hot_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("weir.conf");
    let write_conf = |extra: &str| {
        write(
            &conf,
            &format!(
                "[SERVICE]\n    flush 0.05\n    hot_reload on\n\n\
                 [INPUT]\n    name dummy\n    tag vivo.reload\n    rate 50\n\n\
                 [OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port {port}\n{extra}"
            ),
        )
    };
    write_conf("");
    let mut c = cmd();
    c.arg("-c").arg(&conf);
    let w = Weir::spawn(c, port);
    w.wait_for_ids(5);
    let before = w.get("/api/v1/logs").span().2.unwrap();

    write_conf("    http_cors_allow_origin *\n");
    signal(w.child.as_ref().unwrap(), "HUP");
    let after = wait_for(Duration::from_secs(30), || {
        let r = try_request(port, "GET", "/api/v1/logs")?;
        (r.header("access-control-allow-origin") == Some("*")).then_some(r)
    })
    .expect("the reloaded exporter's settings took effect");
    let (start, end, next) = after.span();
    assert_eq!(start, Some(0), "the streams were kept");
    assert!(end.unwrap() >= before, "ids went on from {before}: {end:?}");
    // And the new instance keeps appending with the next ids.
    w.wait_for_ids(next.unwrap() + 3);
    let (status, log) = w.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("taking over the listener"), "{log}");
}

/// Metrics chunks go to their own stream, one sample per record with its name, type, help,
/// labels and value.
#[test]
fn metrics_have_their_own_stream() {
    let port = free_port();
    let mut c = cmd();
    c.args([
        "-i",
        "fluentbit_metrics",
        "-t",
        "weir.metrics",
        "-p",
        "scrape_interval=1",
        "-p",
        "scrape_on_start=on",
        "-o",
        "vivo_exporter",
        "-p",
        "host=127.0.0.1",
        "-p",
    ])
    .arg(format!("port={port}"))
    .args(["-f", "0.05"]);
    let w = Weir::spawn(c, port);
    let r = wait_for(Duration::from_secs(30), || {
        let r = try_request(port, "GET", "/api/v1/metrics")?;
        r.id("vivo-stream-start-id").map(|_| r)
    })
    .expect("a metrics entry arrived");
    assert_eq!(r.span().0, Some(0));
    let entries = r.entries();
    assert_eq!(entries[0]["tag"], "weir.metrics");
    let samples = entries[0]["records"].as_array().expect("records");
    let uptime = samples
        .iter()
        .map(|s| &s[1])
        .find(|b| b["name"] == "fluentbit_uptime")
        .expect("fluentbit_uptime is reported");
    assert_eq!(uptime["type"], "counter");
    assert!(uptime["value"].is_number());
    assert!(uptime["labels"]["hostname"].is_string(), "{uptime}");
    // The logs stream saw none of it.
    assert_eq!(w.get("/api/v1/logs").span(), (None, None, Some(0)));
}
