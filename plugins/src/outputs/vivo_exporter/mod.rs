//! `vivo_exporter`: keeps the latest logs, metrics and traces in memory and serves them over
//! HTTP, for Vivo and for anyone who wants to look at what flows through Weir right now.
//!
//! Each signal has its own stream ([`stream`]): a ring bounded in bytes (`stream_queue_size`)
//! whose entries are whole chunks rendered as one JSON line each ([`render`]), numbered by an
//! id that grows by one per entry. Clients poll with `from=<Vivo-Stream-Next-ID>` and never see
//! an entry twice ([`http`] has the routes and query options).
//!
//! The exporter listens on its own address (`host`, `port`), bound when the instance is built
//! so a taken port is a startup error. The server and the streams belong to the address, not
//! to the instance: a hot reload that rebuilds the output hands them over to the new instance,
//! so clients stay connected and ids go on ([`weir_core::http::lease`] explains how).
//!
//! Beyond Fluent Bit:
//! - ids survive a hot reload;
//! - `empty_stream_on_read` removes what a read returned and nothing else (Fluent Bit empties
//!   the whole stream, including entries the read skipped or did not reach);
//! - `Vivo-Stream-Next-ID` is the id after the last entry served, so a read cut short by
//!   `limit` or `to` resumes where it stopped (Fluent Bit reports the stream's end there);
//! - `live_tail on` serves a live-tail page at `/live`.

mod http;
mod render;
mod stream;

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use stream::Streams;
use weir_config::{ConfigError, Params};
use weir_core::http::lease::{self, Lease, LeaseTable};
use weir_core::metrics::Metrics;
use weir_core::{
    BoxFuture, BuildContext, Factory, FlushResult, Output, OutputContext, ParamSpec,
    PluginDescriptor, PluginKind,
};
use weir_event::Chunk;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("host")
        .default("0.0.0.0")
        .desc("The network address for the HTTP server to listen on."),
    ParamSpec::int("port")
        .default("2025")
        .desc("The TCP port for the HTTP server to listen on."),
    ParamSpec::size("stream_queue_size")
        .default("20M")
        .desc("Most bytes each stream (logs, metrics, traces) holds; the oldest entries go first."),
    ParamSpec::bool("empty_stream_on_read")
        .default("off")
        .desc("Remove the entries a GET returns from the stream (only those: entries it skipped or that arrived later stay)."),
    ParamSpec::str("http_cors_allow_origin")
        .desc("Value of the Access-Control-Allow-Origin header (CORS); none are sent when unset."),
    ParamSpec::bool("live_tail")
        .default("off")
        .desc("Weir: serve a live-tail page at /live that shows logs, metrics and traces as they arrive."),
    ParamSpec::time("http_server.idle_timeout")
        .not_yet()
        .desc("How long an idle client connection is kept open."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "vivo_exporter",
    kind: PluginKind::Output,
    description: "Expose logs, metrics and traces over HTTP for Vivo, with a live-tail page.",
    params: PARAMS,
    factory: Factory::Output(|p, ctx| {
        if ctx.check_only {
            Settings::from_params(p, ctx)?;
            listen_address(p)?;
            return Ok(Box::new(weir_core::plugin::CheckedOnly));
        }
        Ok(Box::new(VivoExporter::new(p, ctx)?))
    }),
};

/// What one instance's configuration asks of the server and the streams of its address.
#[derive(Debug)]
pub(crate) struct Settings {
    pub stream_queue_size: usize,
    pub empty_stream_on_read: bool,
    /// `http_cors_allow_origin`, ready to send.
    pub cors: Option<HeaderValue>,
    pub live_tail: bool,
    /// The process's counters (`/api/v1/internal/metrics`).
    pub metrics: Arc<Metrics>,
}

impl Settings {
    fn from_params(p: &Params, ctx: &BuildContext) -> Result<Self, ConfigError> {
        let cors = match p.str("http_cors_allow_origin") {
            None => None,
            Some(v) => Some(HeaderValue::from_str(v).map_err(|_| {
                p.error(
                    "http_cors_allow_origin",
                    "expected a value that can be sent in an HTTP header (no control characters)",
                )
            })?),
        };
        Ok(Self {
            stream_queue_size: usize::try_from(p.size("stream_queue_size").unwrap_or(20 << 20))
                .unwrap_or(usize::MAX),
            empty_stream_on_read: p.bool("empty_stream_on_read").unwrap_or(false),
            cors,
            live_tail: p.bool("live_tail").unwrap_or(false),
            metrics: ctx.metrics.clone(),
        })
    }
}

/// The address `host` and `port` name.
fn listen_address(p: &Params) -> Result<(SocketAddr, String), ConfigError> {
    let host = p.str("host").unwrap_or("0.0.0.0");
    let port = p.int("port").unwrap_or(2025);
    let port = u16::try_from(port).map_err(|_| {
        p.error(
            "port",
            format!("expected a port from 0 to 65535, got {port}"),
        )
    })?;
    weir_core::http::lease::listen_address(p, host, port)
}

/// What the server and the instances on one address share: the streams, and the settings of
/// the newest instance.
pub(crate) type Exporter = lease::Shared<Streams, Settings>;

/// The servers by listen address. A new `stream_queue_size` resizes the streams at once.
static SERVERS: LeaseTable<Streams, Settings> =
    LeaseTable::new("output:vivo_exporter", "weir-vivo")
        .on_settings(|streams, settings| streams.set_capacity(settings.stream_queue_size));

struct VivoExporter {
    lease: Lease<Streams, Settings>,
}

impl VivoExporter {
    fn new(p: &Params, ctx: &BuildContext) -> Result<Self, ConfigError> {
        let settings = Settings::from_params(p, ctx)?;
        let (addr, shown) = listen_address(p)?;
        let lease = SERVERS
            .acquire(
                addr,
                ctx,
                settings,
                |s| Streams::new(s.stream_queue_size),
                |ex, req| async move { http::handle(&ex, &req) },
            )
            .map_err(|e| p.error("port", format!("{shown}: {e}")))?;
        let component = format!("output:vivo_exporter:{}", ctx.instance);
        lease.log_start(&component, "streams and ids");
        Ok(Self { lease })
    }
}

impl Output for VivoExporter {
    fn flush<'a>(&'a self, chunk: &'a Chunk, ctx: &'a OutputContext) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            match render::chunk_entry(chunk) {
                Ok(entry) => {
                    self.lease
                        .shared()
                        .state()
                        .ring(chunk.signal)
                        .push(Bytes::from(entry));
                    FlushResult::Ok
                }
                Err(e) => {
                    // The same bytes will not decode better on a retry.
                    weir_core::error!(
                        ctx.component,
                        "cannot convert a {} chunk of tag '{}' to JSON: {}",
                        chunk.signal.as_str(),
                        chunk.tag,
                        e
                    );
                    FlushResult::Error
                }
            }
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // The last instance on the address stops the server and waits for it, so the port
            // is free once the engine has stopped.
            self.lease.shutdown().await;
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    use weir_event::{EventTime, EventWriter, Signal};

    /// Settings as the defaults give them.
    pub(crate) fn settings() -> Settings {
        Settings {
            stream_queue_size: 20 << 20,
            empty_stream_on_read: false,
            cors: None,
            live_tail: false,
            metrics: Arc::default(),
        }
    }

    #[test]
    fn parameter_table() {
        weir_config::check_table(PARAMS).unwrap();
    }

    /// A port free on `ip` when asked, for tests that build two instances on one address (port
    /// 0 would give each a port of its own).
    fn free_port(ip: &str) -> String {
        let l = std::net::TcpListener::bind((ip, 0)).unwrap();
        l.local_addr().unwrap().port().to_string()
    }

    /// Each test listens on its own loopback address, so tests running at once never share an
    /// entry of the process-wide table.
    fn build(
        ip: &str,
        extra: &[(&str, &str)],
        ctx: &BuildContext,
    ) -> Result<VivoExporter, ConfigError> {
        let mut pairs = vec![("host", ip), ("port", "0")];
        pairs.extend_from_slice(extra);
        let p = testing::params(&DESCRIPTOR, &pairs)?;
        VivoExporter::new(&p, ctx)
    }

    fn chunk(signal: Signal, message: &str) -> Chunk {
        let mut w = EventWriter::new();
        let mut body = Vec::new();
        weir_event::json::from_json(&format!(r#"{{"message":"{message}"}}"#), &mut body).unwrap();
        w.push(EventTime::new(1, 0), &[], &body);
        Chunk {
            id: 0,
            tag: "t".into(),
            signal,
            records: w.count,
            data: w.buf,
            created: Instant::now(),
        }
    }

    fn flush(out: &VivoExporter, c: &Chunk) -> FlushResult {
        let ctx = OutputContext {
            name: "vivo_exporter.0".into(),
            component: "output:vivo_exporter:vivo_exporter.0".into(),
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(out.flush(c, &ctx))
    }

    /// A raw HTTP/1.1 exchange: (status, lowercase headers, body).
    fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
        let mut s = TcpStream::connect(addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://example.test\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, body.to_string())
    }

    fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn local(out: &VivoExporter) -> SocketAddr {
        out.lease.shared().local()
    }

    #[test]
    fn serves_what_it_flushed() {
        let ctx = testing::build_context();
        let out = build("127.0.10.1", &[], &ctx).unwrap();
        assert_eq!(flush(&out, &chunk(Signal::Logs, "one")), FlushResult::Ok);
        assert_eq!(flush(&out, &chunk(Signal::Logs, "two")), FlushResult::Ok);
        assert_eq!(flush(&out, &chunk(Signal::Traces, "span")), FlushResult::Ok);
        let (status, h, body) = request(local(&out), "GET", "/api/v1/logs");
        assert_eq!(status, 200);
        assert_eq!(header(&h, "content-type"), Some("application/json"));
        assert_eq!(header(&h, "vivo-stream-start-id"), Some("0"));
        assert_eq!(header(&h, "vivo-stream-end-id"), Some("1"));
        assert_eq!(header(&h, "vivo-stream-next-id"), Some("2"));
        assert_eq!(header(&h, "access-control-allow-origin"), None);
        let lines: Vec<serde_json::Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["records"][0][1]["message"], "two");
        let (_, h, body) = request(local(&out), "GET", "/traces");
        assert_eq!(header(&h, "vivo-stream-start-id"), Some("0"));
        assert!(body.contains("span"));
        let (_, h, body) = request(local(&out), "GET", "/api/v1/metrics");
        assert_eq!(header(&h, "vivo-stream-start-id"), None);
        assert_eq!(header(&h, "vivo-stream-next-id"), Some("0"));
        assert!(body.is_empty());
        assert_eq!(request(local(&out), "GET", "/live").0, 404);
        assert_eq!(request(local(&out), "POST", "/api/v1/logs").0, 405);
        assert_eq!(request(local(&out), "GET", "/api/v1/logs?from=x").0, 400);
        let (status, _, body) = request(local(&out), "GET", "/api/v1/internal/metrics");
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["metrics"].is_array(), "a cmetrics context: {v}");
    }

    #[test]
    fn cors_when_configured() {
        let ctx = testing::build_context();
        let out = build(
            "127.0.10.2",
            &[("http_cors_allow_origin", "*"), ("live_tail", "on")],
            &ctx,
        )
        .unwrap();
        let (_, h, _) = request(local(&out), "GET", "/api/v1/logs");
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert!(header(&h, "access-control-expose-headers")
            .unwrap()
            .contains("vivo-stream-next-id"));
        let (status, h, _) = request(local(&out), "OPTIONS", "/api/v1/logs");
        assert_eq!(status, 204);
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            header(&h, "access-control-allow-methods"),
            Some("GET, HEAD, OPTIONS")
        );
        let (status, h, body) = request(local(&out), "GET", "/live");
        assert_eq!(status, 200);
        assert!(header(&h, "content-security-policy").is_some());
        assert!(body.contains("<title>"));
    }

    #[test]
    fn a_taken_port_names_port() {
        let taken = std::net::TcpListener::bind("127.0.10.3:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let p = testing::params(&DESCRIPTOR, &[("host", "127.0.10.3"), ("port", &port)]).unwrap();
        let err = VivoExporter::new(&p, &testing::build_context())
            .err()
            .expect("the port is taken");
        let text = err.to_string();
        assert!(text.contains("port"), "{text}");
        assert!(text.contains(&port), "{text}");
    }

    #[test]
    fn bad_values_are_config_errors() {
        let ctx = testing::build_context();
        let err = build("127.0.10.4", &[("port", "70000")], &ctx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("65535"), "{err}");
        let err = build("127.0.10.4", &[("http_cors_allow_origin", "a\u{7}b")], &ctx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("http_cors_allow_origin"), "{err}");
        let err = build("127.0.10.4", &[("http_server.idle_timeout", "5s")], &ctx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("idle_timeout"), "{err}");
    }

    #[test]
    fn two_instances_of_one_configuration_cannot_share_an_address() {
        let ctx = testing::build_context();
        let port = free_port("127.0.10.5");
        let _first = build("127.0.10.5", &[("port", &port)], &ctx).unwrap();
        let err = build("127.0.10.5", &[("port", &port)], &ctx)
            .err()
            .expect("duplicate");
        assert!(err.to_string().contains("already used by"), "{err}");
    }

    /// A hot reload builds the new instance while the old one runs: the new one takes the
    /// running server and streams over; ids go on; its settings apply until it goes away.
    #[test]
    fn a_reload_hands_the_listener_over() {
        let port = free_port("127.0.10.6");
        let old = build("127.0.10.6", &[("port", &port)], &testing::build_context()).unwrap();
        let addr = local(&old);
        flush(&old, &chunk(Signal::Logs, "before"));
        flush(&old, &chunk(Signal::Logs, "before"));

        let new = build(
            "127.0.10.6",
            &[
                ("port", &port),
                ("http_cors_allow_origin", "https://vivo.test"),
            ],
            &testing::build_context(),
        )
        .unwrap();
        assert_eq!(local(&new), addr, "same server, nothing rebound");
        // The old instance drains into the same stream; then the new one carries on.
        flush(&old, &chunk(Signal::Logs, "draining"));
        flush(&new, &chunk(Signal::Logs, "after"));
        let (_, h, body) = request(addr, "GET", "/api/v1/logs?from=2");
        assert_eq!(header(&h, "vivo-stream-start-id"), Some("2"));
        assert_eq!(header(&h, "vivo-stream-end-id"), Some("3"));
        assert!(body.contains("draining") && body.contains("after"));
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            Some("https://vivo.test"),
            "the newest settings are in force"
        );

        // A reload that fails (or keeps the old instance) drops the new one: back to the old
        // settings, still the same server.
        drop(new);
        let (_, h, _) = request(addr, "GET", "/api/v1/logs");
        assert_eq!(header(&h, "access-control-allow-origin"), None);
        assert_eq!(header(&h, "vivo-stream-next-id"), Some("4"));

        // The last instance stops the server and frees the port.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(old.shutdown());
        assert!(TcpStream::connect(addr).is_err(), "the port is released");
        drop(old);
    }

    #[test]
    fn empty_stream_on_read_consumes_what_it_returned() {
        let ctx = testing::build_context();
        let out = build("127.0.10.7", &[("empty_stream_on_read", "on")], &ctx).unwrap();
        for m in ["a", "b", "c", "d"] {
            flush(&out, &chunk(Signal::Logs, m));
        }
        // HEAD never consumes.
        let (_, h, _) = request(local(&out), "HEAD", "/api/v1/logs?from=1&limit=2");
        assert_eq!(header(&h, "vivo-stream-start-id"), Some("1"));
        let (_, h, _) = request(local(&out), "GET", "/api/v1/logs?from=1&limit=2");
        assert_eq!(header(&h, "vivo-stream-end-id"), Some("2"));
        assert_eq!(header(&h, "vivo-stream-next-id"), Some("3"));
        let (_, h, body) = request(local(&out), "GET", "/api/v1/logs");
        assert_eq!(header(&h, "vivo-stream-start-id"), Some("0"));
        assert_eq!(header(&h, "vivo-stream-end-id"), Some("3"));
        assert_eq!(body.lines().count(), 2, "0 and 3 were left: {body}");
        let (_, h, body) = request(local(&out), "GET", "/api/v1/logs");
        assert_eq!(header(&h, "vivo-stream-start-id"), None);
        assert!(body.is_empty());
    }

    #[test]
    fn eviction_by_bytes() {
        let ctx = testing::build_context();
        let out = build("127.0.10.8", &[("stream_queue_size", "200")], &ctx).unwrap();
        for i in 0..20 {
            flush(
                &out,
                &chunk(Signal::Logs, &format!("message number {i:04}")),
            );
        }
        let (_, h, body) = request(local(&out), "GET", "/api/v1/logs");
        assert!(body.len() <= 200, "{} bytes", body.len());
        assert_eq!(header(&h, "vivo-stream-end-id"), Some("19"));
        let start: u64 = header(&h, "vivo-stream-start-id").unwrap().parse().unwrap();
        assert!(start > 0);
        assert_eq!(body.lines().count() as u64, 20 - start);
    }
}
