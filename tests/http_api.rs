//! The HTTP monitoring API end to end: the real binary, a real client over HTTP/1.1 and over
//! HTTP/2 with prior knowledge (h2c), every endpoint's status and shape, the health check
//! turning to error when an output fails, the bearer token on reload, a port already taken,
//! and a malformed request that must not stop the server.

mod common;

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::{Method, Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A running `weir` with its HTTP API on a free loopback port.
struct Weir {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Weir {
    /// Starts `dummy → null` (or `outputs`, when given) with `service` lines added.
    fn start(service: &str, outputs: Option<&str>, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let outputs = outputs.unwrap_or("    - name: 'null'\n      match: '*'\n");
        let conf = dir.path().join("weir.yaml");
        write(
            &conf,
            &format!(
                "service:\n  flush: 0.2\n  grace: 1\n  http_server: on\n  http_listen: 127.0.0.1\n  http_port: {port}\n{service}pipeline:\n  inputs:\n    - name: dummy\n      rate: 20\n  outputs:\n{outputs}"
            ),
        );
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut c = cmd();
        c.arg("-c")
            .arg(&conf)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = c.spawn().expect("weir starts");
        let w = Self {
            child: Some(child),
            port,
            dir,
        };
        let up = wait_for(Duration::from_secs(20), || http_get(port, "/"));
        assert!(up.is_some(), "the API did not answer: {}", w.stderr());
        w
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops with SIGTERM and checks a clean exit.
    fn stop(mut self) {
        let child = self.child.take().expect("running");
        signal(&child, "TERM");
        let out = wait_output(child, Duration::from_secs(20));
        assert!(
            out.status.success(),
            "exit {:?}: {}",
            out.status,
            self.stderr()
        );
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    H2c,
}

struct Reply {
    status: u16,
    version: Version,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// One request on a fresh connection, over the protocol asked for.
async fn send(
    port: u16,
    proto: Proto,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let work = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let io = TokioIo::new(stream);
        let uri = match proto {
            // HTTP/2 carries the authority in the request itself.
            Proto::H2c => format!("http://127.0.0.1:{port}{path}"),
            Proto::Http1 => path.to_string(),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", format!("127.0.0.1:{port}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::new())).expect("request");
        let resp = match proto {
            Proto::Http1 => {
                let (mut tx, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .expect("http1 handshake");
                tokio::spawn(conn);
                tx.send_request(req).await.expect("http1 request")
            }
            Proto::H2c => {
                let (mut tx, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                        .await
                        .expect("h2c handshake");
                tokio::spawn(conn);
                tx.send_request(req).await.expect("h2 request")
            }
        };
        let status = resp.status().as_u16();
        let version = resp.version();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status,
            version,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .expect("the API answered in time")
}

async fn get(port: u16, proto: Proto, path: &str) -> Reply {
    send(port, proto, Method::GET, path, &[]).await
}

#[tokio::test]
async fn every_endpoint_over_http1_and_h2c() {
    let mut w = Weir::start("  hot_reload: on\n", None, &[]);
    let port = w.port;
    for proto in [Proto::Http1, Proto::H2c] {
        let want = match proto {
            Proto::Http1 => Version::HTTP_11,
            Proto::H2c => Version::HTTP_2,
        };
        let root = get(port, proto, "/").await;
        assert_eq!((root.status, root.version), (200, want), "{proto:?}");
        assert_eq!(root.header("content-type"), "application/json");
        let v = root.json();
        assert_eq!(v["fluent-bit"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["fluent-bit"]["edition"], "Community");
        assert!(v["fluent-bit"]["flags"].is_array(), "{v}");
        assert_eq!(v["weir"], v["fluent-bit"]);

        let up = get(port, proto, "/api/v1/uptime").await.json();
        assert!(up["uptime_sec"].is_u64(), "{up}");
        assert!(up["uptime_hr"].is_string(), "{up}");

        let records = wait_records(port, proto).await;
        assert!(records > 0);

        let p1 = get(port, proto, "/api/v1/metrics/prometheus").await;
        assert_eq!(p1.status, 200);
        assert!(p1
            .header("content-type")
            .starts_with("text/plain; version=0.0.4"));
        assert!(
            p1.body
                .contains("# TYPE fluentbit_input_records_total counter\nfluentbit_input_records_total{name=\"dummy.0\"} "),
            "{}",
            p1.body
        );
        assert!(p1
            .body
            .contains("fluentbit_output_proc_records_total{name=\"null.0\"} "));
        assert!(p1.body.contains("\nprocess_start_time_seconds "));

        let v2 = get(port, proto, "/api/v2/metrics").await;
        assert_eq!(v2.status, 200);
        assert!(
            v2.body
                .contains("fluentbit_input_records_total{name=\"dummy.0\"} = "),
            "{}",
            v2.body
        );
        let v2json = send(
            port,
            proto,
            Method::GET,
            "/api/v2/metrics",
            &[("accept", "application/json")],
        )
        .await;
        assert_eq!(v2json.header("content-type"), "application/json");
        assert!(v2json.json().is_object());
        let p2 = get(port, proto, "/api/v2/metrics/prometheus").await;
        assert_eq!(p2.status, 200);
        assert!(p2.body.contains("fluentbit_uptime{"), "{}", p2.body);
        assert!(p2
            .body
            .contains("fluentbit_output_proc_records_total{name=\"null.0\"} "));

        let plugins = get(port, proto, "/api/v1/plugins").await.json();
        for kind in ["inputs", "filters", "outputs"] {
            assert!(plugins["plugins"][kind].is_array(), "{plugins}");
        }
        // The plugins built into this binary.
        let has = |kind: &str, name: &str| {
            plugins["plugins"][kind]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p == name))
        };
        assert!(has("inputs", "dummy") && has("inputs", "tail"), "{plugins}");
        assert!(
            has("filters", "grep") && has("outputs", "null"),
            "{plugins}"
        );

        // health_check is off: Fluent Bit does not serve v1, v2 says ok with the counts.
        assert_eq!(get(port, proto, "/api/v1/health").await.status, 404);
        let h2 = get(port, proto, "/api/v2/health").await;
        assert_eq!(h2.status, 200);
        let h = h2.json();
        assert_eq!(h["status"], "ok");
        for k in [
            "errors",
            "retries_failed",
            "error_limit",
            "retry_failure_limit",
            "period_limit",
        ] {
            assert!(h[k].is_u64(), "{k}: {h}");
        }

        let storage = get(port, proto, "/api/v1/storage").await.json();
        assert!(
            storage["storage_layer"]["chunks"]["total_chunks"].is_u64(),
            "{storage}"
        );
        assert!(storage["input_chunks"]["dummy.0"].is_object(), "{storage}");

        assert_eq!(get(port, proto, "/nope").await.status, 404);
        assert_eq!(get(port, proto, "/api/v1/metrics/").await.status, 404);
        let wrong = send(port, proto, Method::DELETE, "/api/v1/metrics", &[]).await;
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), "GET, HEAD");
        let wrong = send(port, proto, Method::PATCH, "/api/v2/reload", &[]).await;
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), "GET, HEAD, POST, PUT");

        let head = send(port, proto, Method::HEAD, "/api/v1/uptime", &[]).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.header("content-type"), "application/json");
    }

    // Reload: the count, then a real reload of the same file (nothing changes), over both.
    let before = get(port, Proto::Http1, "/api/v2/reload").await.json();
    assert_eq!(before, serde_json::json!({ "hot_reload_count": 0 }));
    let r = send(port, Proto::Http1, Method::POST, "/api/v2/reload", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["reload"], "done");
    let r = send(port, Proto::H2c, Method::PUT, "/api/v2/reload", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = get(port, Proto::H2c, "/api/v2/reload").await.json();
    assert_eq!(after, serde_json::json!({ "hot_reload_count": 2 }));
    assert!(w.running());
    w.stop();
}

/// Waits until `dummy.0` has records on `/api/v1/metrics` and returns how many.
async fn wait_records(port: u16, proto: Proto) -> u64 {
    for _ in 0..200 {
        let m = get(port, proto, "/api/v1/metrics").await;
        assert_eq!(m.status, 200);
        assert_eq!(m.header("content-type"), "application/json");
        let v = m.json();
        assert!(v["output"]["null.0"]["errors"].is_u64(), "{v}");
        if let Some(n) = v["input"]["dummy.0"]["records"].as_u64().filter(|n| *n > 0) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("dummy.0 never counted a record");
}

#[tokio::test]
async fn reload_not_enabled_is_answered_as_fluent_bit_does() {
    let w = Weir::start("", None, &[]);
    for proto in [Proto::Http1, Proto::H2c] {
        let r = send(w.port, proto, Method::POST, "/api/v2/reload", &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            serde_json::json!({ "reload": "not enabled", "status": -1 })
        );
    }
    w.stop();
}

#[tokio::test]
async fn health_turns_to_error_when_an_output_fails() {
    let health =
        "  health_check: on\n  hc_errors_count: 0\n  hc_retry_failure_count: 0\n  hc_period: 60\n";
    // A healthy pipeline first.
    let ok = Weir::start(health, None, &[]);
    for proto in [Proto::Http1, Proto::H2c] {
        let r = get(ok.port, proto, "/api/v1/health").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
        let v = get(ok.port, proto, "/api/v2/health").await;
        assert_eq!(v.status, 200);
        assert_eq!(v.json()["health_check"], true);
    }
    ok.stop();

    // An output that cannot write (its directory does not exist) and may not retry.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does/not/exist");
    let failing = format!(
        "    - name: file\n      match: '*'\n      path: {}\n      retry_limit: no_retries\n",
        missing.display()
    );
    let bad = Weir::start(health, Some(&failing), &[]);
    let port = bad.port;
    let mut last = String::new();
    for _ in 0..400 {
        let r = get(port, Proto::Http1, "/api/v1/health").await;
        if r.status == 500 {
            assert_eq!(r.body, "error\n");
            break;
        }
        last = r.body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v1 = get(port, Proto::H2c, "/api/v1/health").await;
    assert_eq!(
        (v1.status, v1.body.as_str()),
        (500, "error\n"),
        "last: {last}"
    );
    let v2 = get(port, Proto::Http1, "/api/v2/health").await;
    assert_eq!(v2.status, 500);
    let v = v2.json();
    assert_eq!(v["status"], "error");
    assert!(v["retries_failed"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["retry_failure_limit"], 0);
    assert_eq!(v["period_limit"], 60);
    assert!(!missing.exists());
    bad.stop();
}

#[tokio::test]
async fn reload_requires_the_bearer_token() {
    // The token comes from the environment, as a deployment would keep it out of the file.
    let w = Weir::start(
        "  hot_reload: on\n  http.auth_token: ${WEIR_TEST_API_TOKEN}\n",
        None,
        &[("WEIR_TEST_API_TOKEN", "s3cret-token")],
    );
    let port = w.port;
    for proto in [Proto::Http1, Proto::H2c] {
        let missing = send(port, proto, Method::POST, "/api/v2/reload", &[]).await;
        assert_eq!(missing.status, 401);
        assert!(missing.header("www-authenticate").starts_with("Bearer"));
        let wrong = send(
            port,
            proto,
            Method::PUT,
            "/api/v2/reload",
            &[("authorization", "Bearer not-it")],
        )
        .await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.header("www-authenticate").contains("invalid_token"));
        // Reading needs no token.
        let count = get(port, proto, "/api/v2/reload").await;
        assert_eq!(count.json(), serde_json::json!({ "hot_reload_count": 0 }));
        assert_eq!(get(port, proto, "/api/v1/metrics").await.status, 200);
    }
    let right = send(
        port,
        Proto::H2c,
        Method::POST,
        "/api/v2/reload",
        &[("authorization", "Bearer s3cret-token")],
    )
    .await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.json()["reload"], "done");
    let count = get(port, Proto::Http1, "/api/v2/reload").await.json();
    assert_eq!(count, serde_json::json!({ "hot_reload_count": 1 }));
    assert!(
        !w.stderr().contains("s3cret-token"),
        "the token shows in the log"
    );
    w.stop();
}

#[test]
fn a_port_already_taken_fails_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("weir.yaml");
    write(
        &conf,
        &format!(
            "service:\n  http_server: on\n  http_listen: 127.0.0.1\n  http_port: {port}\npipeline:\n  inputs:\n    - name: dummy\n  outputs:\n    - name: 'null'\n      match: '*'\n"
        ),
    );
    let mut c = cmd();
    c.arg("-c").arg(&conf);
    let out = run_with_timeout(c, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit {:?}: {err}", out.status);
    assert!(
        err.contains(&format!("cannot start the HTTP server on 127.0.0.1:{port}")),
        "{err}"
    );
    drop(taken);
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let mut w = Weir::start("", None, &[]);
    let raw = |bytes: &[u8]| -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", w.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(bytes).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let garbage = raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
    let bad_header = raw(b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n");
    assert!(bad_header.starts_with("HTTP/1.1 400"), "{bad_header:?}");
    let huge = raw(&[
        b"GET /".as_slice(),
        &vec![b'a'; 200_000],
        b" HTTP/1.1\r\n\r\n",
    ]
    .concat());
    assert!(
        huge.starts_with("HTTP/1.1 4") || huge.is_empty(),
        "{huge:?}"
    );
    // A half-sent request, abandoned.
    drop(std::net::TcpStream::connect(("127.0.0.1", w.port)).map(|mut s| s.write_all(b"GET /ap")));
    let (status, body) = http_get(w.port, "/api/v1/uptime").expect("still serving");
    assert_eq!(status, 200, "{body}");
    assert!(w.running());
    w.stop();
}
