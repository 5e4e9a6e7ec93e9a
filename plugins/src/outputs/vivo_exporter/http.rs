//! The exporter's HTTP routes.
//!
//! | path                                   | answer                                           |
//! |----------------------------------------|--------------------------------------------------|
//! | `/api/v1/logs`, `/logs`                | the logs stream (`from`, `to`, `limit`)          |
//! | `/api/v1/metrics`, `/metrics`          | the metrics stream                               |
//! | `/api/v1/traces`, `/traces`            | the traces stream                                |
//! | `/api/v1/internal/metrics`             | Weir's own metrics, as cmetrics JSON             |
//! | `/live` (with `live_tail on`)          | the live-tail page                               |
//! | `/`                                    | a one-line banner                                |
//!
//! `/logs`, `/metrics` and `/traces` are the paths of Fluent Bit 2.x; 3.0 moved them under
//! `/api/v1/`. Both are served so clients of either keep working.
//!
//! Query options are Fluent Bit's: `from` (first id), `to` (last id; `0`, like a negative
//! value, means no bound, as in Fluent Bit) and `limit` (most entries; `0` means all). A value
//! that is not an integer is answered 400, where Fluent Bit would read it as 0.

use super::stream::Query;
use super::{Exporter, Settings};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use weir_core::http::server::{response, Body};
use weir_event::Signal;

const START_ID: HeaderName = HeaderName::from_static("vivo-stream-start-id");
const END_ID: HeaderName = HeaderName::from_static("vivo-stream-end-id");
const NEXT_ID: HeaderName = HeaderName::from_static("vivo-stream-next-id");

/// Fluent Bit's values for the CORS headers it sends with `http_cors_allow_origin`.
const ALLOW_HEADERS: &str = "Origin, X-Requested-With, Content-Type, Accept";
const EXPOSE_HEADERS: &str = "vivo-stream-start-id, vivo-stream-end-id, vivo-stream-next-id";
const METHODS: &str = "GET, HEAD, OPTIONS";

/// The live-tail page: self-contained, nothing loaded from elsewhere.
const LIVE_TAIL: &str = include_str!("live_tail.html");

/// What the page may do: run its own inline script and style, and fetch from this server.
const LIVE_TAIL_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Root,
    Stream(Signal),
    InternalMetrics,
    LiveTail,
}

fn route(path: &str, settings: &Settings) -> Option<Route> {
    Some(match path {
        "/" => Route::Root,
        "/api/v1/logs" | "/logs" => Route::Stream(Signal::Logs),
        "/api/v1/metrics" | "/metrics" => Route::Stream(Signal::Metrics),
        "/api/v1/traces" | "/traces" => Route::Stream(Signal::Traces),
        "/api/v1/internal/metrics" => Route::InternalMetrics,
        "/live" if settings.live_tail => Route::LiveTail,
        _ => return None,
    })
}

/// Answers one request.
pub fn handle(ex: &Exporter, req: &Request<Incoming>) -> Response<Body> {
    let settings = ex.settings();
    let Some(route) = route(req.uri().path(), &settings) else {
        return response(StatusCode::NOT_FOUND, "text/plain", "not found\n");
    };
    let method = req.method();
    if method == Method::OPTIONS {
        return preflight(&settings);
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(METHODS));
        return r;
    }
    match route {
        Route::Root => response(StatusCode::OK, "text/plain", "Weir Vivo Exporter\n"),
        Route::Stream(signal) => {
            // A HEAD reads the headers only: it never empties a stream.
            let consume = settings.empty_stream_on_read && method == Method::GET;
            stream(ex, &settings, signal, req.uri().query(), consume)
        }
        Route::InternalMetrics => {
            let body = internal_metrics(&settings).to_string();
            let mut r = response(StatusCode::OK, "application/json", body);
            cors(&mut r, &settings, false);
            r
        }
        Route::LiveTail => {
            let mut r = response(StatusCode::OK, "text/html; charset=utf-8", LIVE_TAIL);
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(LIVE_TAIL_CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

/// Weir's own metrics as Fluent Bit's `/api/v1/internal/metrics` gives its own: a cmetrics
/// context as JSON.
fn internal_metrics(settings: &Settings) -> serde_json::Value {
    weir_core::metrics_export::cmetrics_json(&settings.metrics)
}

fn stream(
    ex: &Exporter,
    settings: &Settings,
    signal: Signal,
    query: Option<&str>,
    consume: bool,
) -> Response<Body> {
    let q = match parse_query(query.unwrap_or("")) {
        Ok(q) => q,
        Err(msg) => {
            let mut r = response(StatusCode::BAD_REQUEST, "text/plain", msg);
            cors(&mut r, settings, true);
            return r;
        }
    };
    let page = ex.state().ring(signal).read(&q, consume);
    let mut r = response(StatusCode::OK, "application/json", page.body());
    let h = r.headers_mut();
    h.insert(NEXT_ID, HeaderValue::from(page.next));
    if let (Some(start), Some(end)) = (page.start, page.end) {
        h.insert(START_ID, HeaderValue::from(start));
        h.insert(END_ID, HeaderValue::from(end));
    }
    // Every poll must reach the stream: a cached answer would hide new entries.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors(&mut r, settings, true);
    r
}

/// Adds the CORS headers when `http_cors_allow_origin` is set.
fn cors(r: &mut Response<Body>, settings: &Settings, expose: bool) {
    let Some(origin) = &settings.cors else { return };
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    if expose {
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// The answer to an `OPTIONS` request: a CORS preflight when CORS is configured, otherwise
/// only the methods allowed.
fn preflight(settings: &Settings) -> Response<Body> {
    let mut r = response(StatusCode::NO_CONTENT, "text/plain", "");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(METHODS));
    if settings.cors.is_some() {
        cors(&mut r, settings, true);
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    r
}

/// Reads `from`, `to` and `limit`; other keys are ignored, as Fluent Bit does.
fn parse_query(query: &str) -> Result<Query, String> {
    let mut q = Query::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "from" => q.from = number(key, value)?,
            "to" => q.to = number(key, value)?.filter(|&t| t != 0),
            "limit" => {
                q.limit = number(key, value)?
                    .filter(|&l| l != 0)
                    .map(|l| usize::try_from(l).unwrap_or(usize::MAX))
            }
            _ => {}
        }
    }
    Ok(q)
}

/// A query value: an integer; negative or empty means not given (Fluent Bit's -1).
fn number(key: &str, value: &str) -> Result<Option<u64>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(n) => Ok(u64::try_from(n).ok()),
        Err(_) => Err(format!(
            "invalid '{key}': expected an integer, got '{}'\n",
            value.escape_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_options() {
        let q = |s| parse_query(s).unwrap();
        assert_eq!(q(""), Query::default());
        assert_eq!(
            q("from=1&to=3&limit=1"),
            Query {
                from: Some(1),
                to: Some(3),
                limit: Some(1)
            }
        );
        // Fluent Bit's "not set": -1, and 0 for `to` and `limit`.
        assert_eq!(q("from=-1&to=0&limit=0"), Query::default());
        assert_eq!(q("from=0").from, Some(0));
        assert_eq!(q("other=x&from=&limit=2").limit, Some(2));
        assert!(parse_query("from=abc").unwrap_err().contains("'from'"));
        assert!(parse_query("limit=1.5").is_err());
        assert!(parse_query("to=99999999999999999999").is_err());
    }

    #[test]
    fn routes() {
        let mut s = super::super::tests::settings();
        assert_eq!(route("/api/v1/logs", &s), Some(Route::Stream(Signal::Logs)));
        assert_eq!(route("/traces", &s), Some(Route::Stream(Signal::Traces)));
        assert_eq!(route("/live", &s), None, "off by default");
        s.live_tail = true;
        assert_eq!(route("/live", &s), Some(Route::LiveTail));
        assert_eq!(route("/api/v1/logs/", &s), None);
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in [
            "http://",
            "https://",
            "//cdn",
            "innerHTML",
            "outerHTML",
            "eval(",
        ] {
            assert!(
                !LIVE_TAIL.contains(needle),
                "the live-tail page must not contain {needle}"
            );
        }
        assert!(LIVE_TAIL.contains("textContent"));
    }
}
