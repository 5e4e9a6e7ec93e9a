//! The HTTP monitoring API: Fluent Bit's paths and shapes on one listener, HTTP/1.1 and h2c.
//!
//! | path | answer |
//! |---|---|
//! | `/` | build information (`fluent-bit` and `weir` keys) |
//! | `/api/v1/uptime` | `uptime_sec`, `uptime_hr` |
//! | `/api/v1/metrics` | per-instance counters, JSON |
//! | `/api/v1/metrics/prometheus` | the same counters, Fluent Bit's v1 Prometheus text |
//! | `/api/v2/metrics`, `/api/v2/metrics/prometheus` | the full metric set (cmetrics, Prometheus) |
//! | `/api/v1/plugins` | the plugins this build has, per kind |
//! | `/api/v1/health` | `ok` (200) or `error` (500); only with `health_check on` |
//! | `/api/v2/health` | the health verdict and its figures, JSON |
//! | `/api/v1/storage` | storage layer and input buffers (with `storage.metrics on`) |
//! | `/api/v2/reload` | GET: reload count; POST or PUT: reload (bearer token if configured) |
//!
//! HEAD answers as GET without the body. A known path with another method gets 405 and an
//! `Allow` header, an unknown path 404, and a malformed request a 4xx from hyper.
//! `docs/http-api.md` is the user's reference.

use crate::metrics::Metrics;
use crate::metrics_export;
use crate::service::{Secret, ServiceConfig};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CONTENT_LENGTH, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod auth;
mod health;
pub mod lease;
mod prometheus_v1;
pub mod server;
mod storage_view;

pub use health::{HealthReport, HealthSettings};
use server::Body;

/// What the API reads.
#[derive(Clone)]
pub struct ApiState {
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    pub(crate) storage: Arc<StorageView>,
    /// Hot reload, when the engine offers it (`/api/v2/reload`).
    pub reload: Option<Arc<dyn crate::reload::ReloadControl>>,
}

/// What `/api/v1/storage` reads: the store, if any, and each input's buffer.
pub(crate) struct StorageView {
    /// `storage.metrics`: whether `/api/v1/storage` is served.
    pub enabled: bool,
    pub store: Option<weir_storage::Store>,
    /// Input name, its memory budget, whether it has filesystem storage.
    /// Replaced by a hot reload that adds or removes inputs.
    #[allow(clippy::type_complexity)]
    pub inputs: Arc<std::sync::RwLock<Vec<(Arc<str>, Arc<crate::budget::MemBudget>, bool)>>>,
}

/// The plugins this build has, per kind, for `/api/v1/plugins` (Fluent Bit lists its
/// built-in plugins there, not the configured instances).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginList {
    pub inputs: Vec<&'static str>,
    pub filters: Vec<&'static str>,
    pub outputs: Vec<&'static str>,
}

impl PluginList {
    pub fn from_registry(registry: &crate::plugin::Registry) -> Self {
        use crate::plugin::PluginKind;
        let names = |k| registry.of_kind(k).into_iter().map(|d| d.name).collect();
        Self {
            inputs: names(PluginKind::Input),
            filters: names(PluginKind::Filter),
            outputs: names(PluginKind::Output),
        }
    }
}

/// The API's settings from the `service` section.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    pub health: HealthSettings,
    /// `http.auth_token`: required by the mutating endpoints when set.
    pub auth_token: Option<Secret>,
    pub plugins: PluginList,
}

impl ApiSettings {
    /// `health_check`, `hc_*` and `http.auth_token` from a validated `service` section.
    pub fn from_service(service: &ServiceConfig) -> Self {
        Self {
            health: HealthSettings {
                enabled: service.health_check,
                errors_limit: service.hc_errors_count,
                retry_failure_limit: service.hc_retry_failure_count,
                period: service.hc_period,
            },
            auth_token: service.http_auth_token.clone(),
            plugins: PluginList::default(),
        }
    }

    pub fn with_plugins(mut self, plugins: PluginList) -> Self {
        self.plugins = plugins;
        self
    }
}

/// The settings the API serves with, replaceable while it runs: a hot reload that changes
/// `health_check`, the `hc_*` keys or `http.auth_token` calls [`ApiConfig::set`], and the
/// next request sees the new values.
#[derive(Clone, Default)]
pub struct ApiConfig(Arc<RwLock<Arc<ApiSettings>>>);

impl ApiConfig {
    pub fn new(settings: ApiSettings) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(settings))))
    }

    pub fn set(&self, settings: ApiSettings) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }

    pub fn get(&self) -> Arc<ApiSettings> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Serves with default settings (no health thresholds, no token, no plugin list) until
/// `stop` fires. The engine should use [`serve_with`], which takes the `service` section's.
pub async fn serve(listener: TcpListener, state: ApiState, stop: CancellationToken) {
    serve_with(listener, state, ApiConfig::default(), stop).await
}

/// Serves until `stop` fires, over HTTP/1.1 and h2c (see [`server`]). The health window's
/// sampler runs alongside and stops with it.
pub async fn serve_with(
    listener: TcpListener,
    state: ApiState,
    config: ApiConfig,
    stop: CancellationToken,
) {
    let health = health::Health::new(state.metrics.clone(), config.get().health.period);
    let sampler = tokio::spawn(health.clone().sample(
        {
            let config = config.clone();
            move || config.get().health.period
        },
        stop.clone(),
    ));
    let api = Arc::new(Api {
        state,
        config,
        health,
        refusals: auth::RefusalLog::default(),
    });
    server::serve(
        listener,
        stop,
        "http_server",
        move |req: Request<Incoming>| {
            let api = api.clone();
            async move {
                api.respond(req.method(), req.uri().path(), req.headers())
                    .await
            }
        },
    )
    .await;
    let _ = sampler.await;
}

/// Every path the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Root,
    Uptime,
    Metrics,
    MetricsPrometheus,
    MetricsV2,
    MetricsV2Prometheus,
    Plugins,
    Health,
    HealthV2,
    Storage,
    Reload,
}

impl Endpoint {
    fn find(path: &str) -> Option<Self> {
        Some(match path {
            "/" => Self::Root,
            "/api/v1/uptime" => Self::Uptime,
            "/api/v1/metrics" => Self::Metrics,
            "/api/v1/metrics/prometheus" => Self::MetricsPrometheus,
            "/api/v2/metrics" => Self::MetricsV2,
            "/api/v2/metrics/prometheus" => Self::MetricsV2Prometheus,
            "/api/v1/plugins" => Self::Plugins,
            "/api/v1/health" => Self::Health,
            "/api/v2/health" => Self::HealthV2,
            "/api/v1/storage" => Self::Storage,
            "/api/v2/reload" => Self::Reload,
            _ => return None,
        })
    }

    /// The `Allow` header for a 405.
    fn allow(self) -> &'static str {
        match self {
            Self::Reload => "GET, HEAD, POST, PUT",
            _ => "GET, HEAD",
        }
    }
}

struct Api {
    state: ApiState,
    config: ApiConfig,
    health: health::Health,
    refusals: auth::RefusalLog,
}

impl Api {
    async fn respond(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
        if *method == Method::HEAD {
            return without_body(self.answer(&Method::GET, path, headers).await);
        }
        self.answer(method, path, headers).await
    }

    async fn answer(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
        let settings = self.config.get();
        let endpoint = match Endpoint::find(path) {
            // As in Fluent Bit, these two exist only when their feature is on.
            Some(Endpoint::Storage) if !self.state.storage.enabled => None,
            Some(Endpoint::Health) if !settings.health.enabled => None,
            e => e,
        };
        let Some(endpoint) = endpoint else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        if *method == Method::GET {
            self.read(endpoint, &settings, headers)
        } else if endpoint == Endpoint::Reload
            && (*method == Method::POST || *method == Method::PUT)
        {
            self.reload(headers, &settings).await
        } else {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(endpoint.allow()));
            r
        }
    }

    fn read(
        &self,
        endpoint: Endpoint,
        settings: &ApiSettings,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let metrics = &self.state.metrics;
        match endpoint {
            Endpoint::Root => json(StatusCode::OK, &root_json()),
            Endpoint::Uptime => {
                let secs = self.state.started.elapsed().as_secs();
                json(
                    StatusCode::OK,
                    &serde_json::json!({ "uptime_sec": secs, "uptime_hr": uptime_hr(secs) }),
                )
            }
            Endpoint::Metrics => json(StatusCode::OK, &metrics.to_json_v1()),
            Endpoint::MetricsPrometheus => {
                prometheus(prometheus_v1::render(metrics, SystemTime::now()))
            }
            // Fluent Bit serves cmetrics' text here; a client that asks for JSON gets the
            // same figures as a cmetrics context in JSON.
            Endpoint::MetricsV2 if wants_json(headers) => {
                json(StatusCode::OK, &metrics_export::cmetrics_json(metrics))
            }
            Endpoint::MetricsV2 => server::response(
                StatusCode::OK,
                "text/plain",
                metrics_export::cmetrics_text(metrics),
            ),
            Endpoint::MetricsV2Prometheus => prometheus(metrics_export::prometheus_text(metrics)),
            Endpoint::Plugins => json(
                StatusCode::OK,
                &serde_json::json!({
                    "plugins": {
                        "inputs": settings.plugins.inputs,
                        "filters": settings.plugins.filters,
                        "outputs": settings.plugins.outputs,
                    }
                }),
            ),
            Endpoint::Health => {
                if self.health.report(settings.health).healthy {
                    text(StatusCode::OK, "ok\n")
                } else {
                    text(StatusCode::INTERNAL_SERVER_ERROR, "error\n")
                }
            }
            Endpoint::HealthV2 => {
                let r = self.health.report(settings.health);
                let status = if r.healthy {
                    StatusCode::OK
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                json(status, &r.to_json())
            }
            Endpoint::Storage => json(
                StatusCode::OK,
                &storage_view::storage_json(&self.state.storage),
            ),
            Endpoint::Reload => {
                let count = match &self.state.reload {
                    Some(r) => r.count(),
                    None => metrics.hot_reloads.get(),
                };
                json(
                    StatusCode::OK,
                    &serde_json::json!({ "hot_reload_count": count }),
                )
            }
        }
    }

    /// POST or PUT `/api/v2/reload`: the token first, then Fluent Bit's answers.
    async fn reload(&self, headers: &HeaderMap, settings: &ApiSettings) -> Response<Body> {
        if let Some(token) = &settings.auth_token {
            if let Err(denied) = auth::check(token.expose(), headers) {
                let now = self.state.started.elapsed().as_secs();
                if let Some(n) = self.refusals.refused(now) {
                    crate::warn!(
                        "http_server",
                        "refused {} reload request(s) without the right bearer token",
                        n
                    );
                }
                let mut r = json(
                    StatusCode::UNAUTHORIZED,
                    &serde_json::json!({ "error": denied.message() }),
                );
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(denied.challenge()),
                );
                return r;
            }
        }
        match &self.state.reload {
            Some(control) if control.enabled() => {
                let outcome = control.request().await;
                let status = StatusCode::from_u16(outcome.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                json(status, &outcome.body)
            }
            // Fluent Bit answers 200 with status -1 when hot reload is off.
            _ => json(
                StatusCode::OK,
                &serde_json::json!({ "reload": "not enabled", "status": -1 }),
            ),
        }
    }
}

/// `/`: Fluent Bit's shape under `fluent-bit` (tools read it) and the same under `weir`.
fn root_json() -> serde_json::Value {
    let info = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "edition": "Community",
        "flags": ["FLB_HAVE_HTTP_SERVER", "FLB_HAVE_METRICS"],
    });
    serde_json::json!({ "weir": info, "fluent-bit": info })
}

/// Whether the client's `Accept` header names JSON.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// Fluent Bit's human-readable uptime sentence.
fn uptime_hr(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    format!("Weir has been running:  {d} day, {h} hour, {m} minute and {s} seconds")
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    server::response(status, "application/json", v.to_string())
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    server::response(status, "text/plain", body)
}

fn prometheus(body: String) -> Response<Body> {
    server::response(
        StatusCode::OK,
        metrics_export::PROMETHEUS_CONTENT_TYPE,
        body,
    )
}

/// The answer to HEAD: GET's status and headers, its length, no body.
fn without_body(r: Response<Body>) -> Response<Body> {
    use hyper::body::Body as _;
    let (mut parts, body) = r.into_parts();
    if let Some(len) = body.size_hint().exact() {
        parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    Response::from_parts(parts, Full::new(Bytes::new()))
}

#[cfg(test)]
mod tests;
