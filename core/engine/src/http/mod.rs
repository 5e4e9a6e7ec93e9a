//! The HTTP monitoring server: Fluent Bit's paths and JSON shapes.
//!
//! This is the minimal set (`/`, `/api/v1/uptime`, `/api/v1/metrics`); the rest of the API
//! grows here. The server takes a bound listener and a stop token, so tests bind port 0.

use crate::metrics::Metrics;
use bytes_body::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod server;

mod bytes_body {
    pub use http_body_util::Full;
}

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
    pub inputs: Vec<(Arc<str>, Arc<crate::budget::MemBudget>, bool)>,
}

/// Serves until `stop` fires, over HTTP/1.1 and h2c (see [`server`]).
pub async fn serve(listener: TcpListener, state: ApiState, stop: CancellationToken) {
    let state = Arc::new(state);
    server::serve(listener, stop, "http_server", move |req| {
        let state = state.clone();
        async move { route(&state, &req) }
    })
    .await
}

fn route(state: &ApiState, req: &Request<Incoming>) -> Response<Full<hyper::body::Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/" => json(&serde_json::json!({
            "weir": {
                "version": env!("CARGO_PKG_VERSION"),
                "edition": "Community",
                "flags": ["FLB_HAVE_HTTP_SERVER", "FLB_HAVE_METRICS"],
            },
            "fluent-bit": {
                "version": env!("CARGO_PKG_VERSION"),
                "edition": "Community",
                "flags": ["FLB_HAVE_HTTP_SERVER", "FLB_HAVE_METRICS"],
            }
        })),
        "/api/v1/uptime" => {
            let secs = state.started.elapsed().as_secs();
            json(&serde_json::json!({ "uptime_sec": secs, "uptime_hr": uptime_hr(secs) }))
        }
        "/api/v1/metrics" => json(&state.metrics.to_json_v1()),
        "/api/v1/storage" if state.storage.enabled => json(&storage_json(&state.storage)),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Fluent Bit's `/api/v1/storage` shape, plus a `weir` section with what Fluent Bit does not
/// report: bytes on disk per output, damaged, quarantined, salvaged and dead-lettered counts.
fn storage_json(view: &StorageView) -> serde_json::Value {
    use serde_json::{json, Map};
    let stats = view.store.as_ref().map(|s| s.stats()).unwrap_or_default();
    let mut inputs = Map::new();
    let mut mem_chunks = 0u64;
    for (name, budget, filesystem) in &view.inputs {
        let stream = stats.streams.get(&**name).cloned().unwrap_or_default();
        let in_memory = budget.chunks();
        if !filesystem {
            mem_chunks += in_memory;
        }
        let (total, up, down) = if *filesystem {
            (stream.chunks, stream.up, stream.down)
        } else {
            (in_memory, in_memory, 0)
        };
        inputs.insert(
            name.to_string(),
            json!({
                "status": {
                    "overlimit": budget.is_over(),
                    "mem_size": human_size(budget.used()),
                    "mem_limit": human_size(budget.limit().unwrap_or(0)),
                },
                "chunks": {
                    "total": total,
                    "up": up,
                    "down": down,
                    "busy": in_memory,
                    "busy_size": human_size(budget.used()),
                },
            }),
        );
    }
    let fs_up: u64 = stats.streams.values().map(|s| s.up).sum();
    let fs_down: u64 = stats.streams.values().map(|s| s.down).sum();
    let mut outputs = Map::new();
    for (name, o) in &stats.outputs {
        outputs.insert(
            name.clone(),
            json!({
                "chunks": o.chunks,
                "bytes_on_disk": o.bytes,
                "acked": o.acked,
                "rejected": o.rejected,
                "dead_lettered": o.dead_lettered,
            }),
        );
    }
    json!({
        "storage_layer": {
            "chunks": {
                "total_chunks": mem_chunks + stats.chunks,
                "mem_chunks": mem_chunks,
                "fs_chunks": stats.chunks,
                "fs_chunks_up": fs_up,
                "fs_chunks_down": fs_down,
            }
        },
        "input_chunks": inputs,
        "weir": {
            "bytes_on_disk": stats.bytes,
            "outputs": outputs,
            "damaged": stats.damaged,
            "quarantined": stats.quarantined,
            "salvaged_records": stats.salvaged_records,
            "lost_records": stats.lost_records,
            "dead_lettered": stats.dead_lettered,
            "foreign_files": stats.foreign_files,
            "fsyncs": stats.fsyncs,
        }
    })
}

/// Sizes as Fluent Bit writes them in `/api/v1/storage`: `512b`, `1.5K`, `2.0M`, `1.1G`.
fn human_size(bytes: u64) -> String {
    const K: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes}b")
    } else if b < K * K {
        format!("{:.1}K", b / K)
    } else if b < K * K * K {
        format!("{:.1}M", b / (K * K))
    } else {
        format!("{:.1}G", b / (K * K * K))
    }
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

fn json(v: &serde_json::Value) -> Response<Full<hyper::body::Bytes>> {
    let mut r = Response::new(Full::new(hyper::body::Bytes::from(v.to_string())));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<hyper::body::Bytes>> {
    let mut r = Response::new(Full::new(hyper::body::Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human_size(0), "0b");
        assert_eq!(super::human_size(1536), "1.5K");
        assert_eq!(super::human_size(5 << 20), "5.0M");
    }

    #[test]
    fn uptime_sentence() {
        assert_eq!(
            super::uptime_hr(90061),
            "Weir has been running:  1 day, 1 hour, 1 minute and 1 seconds"
        );
    }
}
