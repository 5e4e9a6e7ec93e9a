//! The API's routing, shapes and status codes, called directly, and a few requests over a
//! real socket (malformed bytes, stopping).

use super::*;
use crate::reload::{ReloadControl, ReloadOutcome};
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct FakeReload {
    enabled: bool,
    count: u64,
    calls: AtomicU64,
}

impl FakeReload {
    fn new(enabled: bool, count: u64) -> Arc<Self> {
        Arc::new(Self {
            enabled,
            count,
            calls: AtomicU64::new(0),
        })
    }
}

impl ReloadControl for FakeReload {
    fn count(&self) -> u64 {
        self.count
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn request(&self) -> crate::BoxFuture<'static, ReloadOutcome> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Box::pin(async {
            ReloadOutcome {
                status: 400,
                body: serde_json::json!({ "reload": "refused", "status": -3 }),
            }
        })
    }
}

fn state(reload: Option<Arc<dyn ReloadControl>>, storage: bool) -> ApiState {
    let metrics = Arc::new(Metrics::new());
    metrics.add_input("dummy.0".into()).records.add(2);
    metrics.add_output("null.0".into());
    ApiState {
        metrics,
        started: Instant::now(),
        storage: Arc::new(StorageView {
            enabled: storage,
            store: None,
            inputs: Arc::default(),
        }),
        reload,
    }
}

fn api(state: ApiState, settings: ApiSettings) -> Api {
    Api {
        health: health::Health::new(state.metrics.clone(), settings.health.period),
        state,
        config: ApiConfig::new(settings),
        refusals: auth::RefusalLog::default(),
    }
}

fn plain() -> Api {
    api(state(None, true), ApiSettings::default())
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn call(api: &Api, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(
            hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let r = api.respond(&method, path, &h).await;
    let status = r.status().as_u16();
    let (parts, body) = r.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Answer {
        status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(api: &Api, path: &str) -> Answer {
    call(api, Method::GET, path, &[]).await
}

#[tokio::test]
async fn read_only_endpoints_in_fluent_bits_shapes() {
    let a = plain();
    let root = get(&a, "/").await;
    assert_eq!(root.status, 200);
    assert_eq!(root.header("content-type"), "application/json");
    let v = root.json();
    assert_eq!(v["fluent-bit"]["edition"], "Community");
    assert!(v["fluent-bit"]["flags"].is_array());
    assert_eq!(v["weir"]["version"], env!("CARGO_PKG_VERSION"));

    let up = get(&a, "/api/v1/uptime").await.json();
    assert!(up["uptime_sec"].is_u64());
    assert!(up["uptime_hr"].as_str().unwrap().contains("running"));

    let m = get(&a, "/api/v1/metrics").await.json();
    assert_eq!(m["input"]["dummy.0"]["records"], 2);

    let p = get(&a, "/api/v1/metrics/prometheus").await;
    assert_eq!(p.status, 200);
    assert!(p
        .header("content-type")
        .starts_with("text/plain; version=0.0.4"));
    assert!(p
        .body
        .contains("fluentbit_input_records_total{name=\"dummy.0\"} 2 "));

    let s = get(&a, "/api/v1/storage").await.json();
    assert!(s["storage_layer"]["chunks"]["total_chunks"].is_u64());

    let r = get(&a, "/api/v2/reload").await.json();
    assert_eq!(r, serde_json::json!({ "hot_reload_count": 0 }));
}

#[tokio::test]
async fn plugins_lists_what_the_build_has() {
    let settings = ApiSettings::default().with_plugins(PluginList {
        inputs: vec!["dummy", "tail"],
        filters: vec!["grep"],
        outputs: vec!["null"],
    });
    let a = api(state(None, true), settings);
    let v = get(&a, "/api/v1/plugins").await.json();
    assert_eq!(
        v,
        serde_json::json!({ "plugins": {
            "inputs": ["dummy", "tail"], "filters": ["grep"], "outputs": ["null"]
        }})
    );
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let a = plain();
    for path in [
        "/nope",
        "/api/v1/metrics/",
        "/api/v1",
        "/API/V1/METRICS",
        "",
    ] {
        let r = get(&a, path).await;
        assert_eq!(r.status, 404, "{path}");
    }
    let r = call(&a, Method::POST, "/api/v1/metrics", &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "GET, HEAD");
    let r = call(&a, Method::DELETE, "/api/v2/reload", &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "GET, HEAD, POST, PUT");
    // An unknown path is 404 whatever the method.
    assert_eq!(call(&a, Method::PUT, "/nope", &[]).await.status, 404);
}

#[tokio::test]
async fn head_is_get_without_the_body() {
    let a = plain();
    for path in ["/", "/api/v1/metrics", "/api/v2/reload", "/nope"] {
        let g = get(&a, path).await;
        let h = call(&a, Method::HEAD, path, &[]).await;
        assert_eq!(h.status, g.status, "{path}");
        assert!(h.body.is_empty(), "{path}");
        assert_eq!(h.header("content-type"), g.header("content-type"));
        if g.status == 200 {
            assert_eq!(h.header("content-length"), g.body.len().to_string());
        }
    }
}

#[tokio::test]
async fn storage_endpoint_needs_storage_metrics() {
    let a = api(state(None, false), ApiSettings::default());
    assert_eq!(get(&a, "/api/v1/storage").await.status, 404);
}

fn health_on(errors_limit: u64, retry_failure_limit: u64) -> ApiSettings {
    ApiSettings {
        health: HealthSettings {
            enabled: true,
            errors_limit,
            retry_failure_limit,
            period: std::time::Duration::from_secs(60),
        },
        ..ApiSettings::default()
    }
}

#[tokio::test]
async fn health_v1_exists_only_with_health_check() {
    let a = plain();
    assert_eq!(get(&a, "/api/v1/health").await.status, 404);
    let v2 = get(&a, "/api/v2/health").await;
    assert_eq!(v2.status, 200);
    let v = v2.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["health_check"], false);
    assert_eq!(v["error_limit"], 5);
    assert_eq!(v["retry_failure_limit"], 5);
    assert_eq!(v["period_limit"], 60);
}

#[tokio::test]
async fn health_turns_to_error_past_a_limit() {
    let a = api(state(None, true), health_on(1, 0));
    let ok = get(&a, "/api/v1/health").await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok\n"));
    let out = a.state.metrics.outputs()[0].1.clone();
    out.errors.inc(); // equal to the limit: still healthy
    assert_eq!(get(&a, "/api/v1/health").await.status, 200);
    out.retries_failed.inc(); // over the retry-failure limit of 0
    let bad = get(&a, "/api/v1/health").await;
    assert_eq!((bad.status, bad.body.as_str()), (500, "error\n"));
    let v2 = get(&a, "/api/v2/health").await;
    assert_eq!(v2.status, 500);
    let v = v2.json();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errors"], 1);
    assert_eq!(v["retries_failed"], 1);
    assert_eq!(v["health_check"], true);
}

#[tokio::test]
async fn health_check_off_reports_counts_but_stays_ok() {
    let a = plain();
    a.state.metrics.outputs()[0].1.errors.add(100);
    let v2 = get(&a, "/api/v2/health").await;
    assert_eq!(v2.status, 200);
    assert_eq!(v2.json()["errors"], 100);
}

#[tokio::test]
async fn settings_replaced_while_serving() {
    let a = plain();
    assert_eq!(get(&a, "/api/v1/health").await.status, 404);
    a.config.set(health_on(5, 5));
    assert_eq!(get(&a, "/api/v1/health").await.status, 200);
    a.config.set(ApiSettings {
        auth_token: Some(Secret::new("t")),
        ..ApiSettings::default()
    });
    assert_eq!(
        call(&a, Method::POST, "/api/v2/reload", &[]).await.status,
        401
    );
}

#[tokio::test]
async fn reload_count_and_request() {
    let fake = FakeReload::new(true, 3);
    let a = api(state(Some(fake.clone()), true), ApiSettings::default());
    assert_eq!(
        get(&a, "/api/v2/reload").await.json(),
        serde_json::json!({ "hot_reload_count": 3 })
    );
    for m in [Method::POST, Method::PUT] {
        let r = call(&a, m, "/api/v2/reload", &[]).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["status"], -3);
    }
    assert_eq!(fake.calls.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn reload_not_enabled_as_fluent_bit_answers() {
    let off = FakeReload::new(false, 0);
    for reload in [None, Some(off.clone() as Arc<dyn ReloadControl>)] {
        let a = api(state(reload, true), ApiSettings::default());
        let r = call(&a, Method::POST, "/api/v2/reload", &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            serde_json::json!({ "reload": "not enabled", "status": -1 })
        );
    }
    assert_eq!(off.calls.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn reload_needs_the_token_when_one_is_set() {
    let fake = FakeReload::new(true, 0);
    let settings = ApiSettings {
        auth_token: Some(Secret::new("s3cret")),
        ..ApiSettings::default()
    };
    let a = api(state(Some(fake.clone()), true), settings);
    let missing = call(&a, Method::POST, "/api/v2/reload", &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), "Bearer realm=\"weir\"");
    assert!(missing.json()["error"].is_string());
    let wrong = call(
        &a,
        Method::PUT,
        "/api/v2/reload",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("www-authenticate").contains("invalid_token"));
    assert_eq!(fake.calls.load(Ordering::Relaxed), 0);
    let right = call(
        &a,
        Method::POST,
        "/api/v2/reload",
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(right.status, 400); // the fake's answer: the request went through
    assert_eq!(fake.calls.load(Ordering::Relaxed), 1);
    // Reading stays open.
    assert_eq!(get(&a, "/api/v2/reload").await.status, 200);
    assert_eq!(get(&a, "/api/v1/metrics").await.status, 200);
}

#[tokio::test]
async fn token_is_checked_before_not_enabled() {
    let settings = ApiSettings {
        auth_token: Some(Secret::new("s3cret")),
        ..ApiSettings::default()
    };
    let a = api(state(None, true), settings);
    assert_eq!(
        call(&a, Method::POST, "/api/v2/reload", &[]).await.status,
        401
    );
    let r = call(
        &a,
        Method::POST,
        "/api/v2/reload",
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!((r.status, r.json()["status"].clone()), (200, (-1).into()));
}

#[test]
fn settings_from_the_service_section() {
    let service = ServiceConfig {
        health_check: true,
        hc_errors_count: 1,
        hc_retry_failure_count: 2,
        hc_period: std::time::Duration::from_secs(3),
        http_auth_token: Some(Secret::new("x")),
        ..ServiceConfig::default()
    };
    let s = ApiSettings::from_service(&service);
    assert_eq!(
        s.health,
        HealthSettings {
            enabled: true,
            errors_limit: 1,
            retry_failure_limit: 2,
            period: std::time::Duration::from_secs(3),
        }
    );
    assert_eq!(s.auth_token.as_ref().map(Secret::expose), Some("x"));
}

#[test]
fn uptime_sentence() {
    assert_eq!(
        uptime_hr(90061),
        "Weir has been running:  1 day, 1 hour, 1 minute and 1 seconds"
    );
}

/// Sends raw bytes on a fresh connection and reads the answer until the server closes it.
async fn raw(port: u16, bytes: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn over_a_socket_malformed_requests_get_400_and_serving_goes_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve_with(
        listener,
        state(None, true),
        ApiConfig::new(health_on(5, 5)),
        stop.clone(),
    ));
    let garbage = raw(port, b"\x00\x01\x02 not http at all\r\n\r\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
    let bad_version = raw(port, b"GET / HTTP/9.9\r\n\r\n").await;
    assert!(bad_version.starts_with("HTTP/1.1 4"), "{bad_version:?}");
    let ok = raw(
        port,
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok:?}");
    assert!(ok.ends_with("\r\n\r\nok\n"), "{ok:?}");
    let head = raw(
        port,
        b"HEAD /api/v1/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head:?}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head:?}");
    assert!(!head.contains("content-length: 0\r\n"), "{head:?}");
    stop.cancel();
    server.await.unwrap();
}

#[tokio::test]
async fn v2_metrics_as_cmetrics_text_json_and_prometheus() {
    let a = plain();
    let text = get(&a, "/api/v2/metrics").await;
    assert_eq!(text.status, 200);
    assert!(text.header("content-type").starts_with("text/plain"));
    assert!(
        text.body
            .contains("fluentbit_input_records_total{name=\"dummy.0\"} = 2"),
        "{}",
        text.body
    );
    let j = call(
        &a,
        Method::GET,
        "/api/v2/metrics",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(j.header("content-type"), "application/json");
    assert!(j.json().is_object());
    let p = get(&a, "/api/v2/metrics/prometheus").await;
    assert!(p
        .header("content-type")
        .starts_with("text/plain; version=0.0.4"));
    assert!(p
        .body
        .contains("# TYPE fluentbit_input_records_total counter"));
    assert!(p
        .body
        .contains("fluentbit_input_records_total{name=\"dummy.0\"} 2"));
}
