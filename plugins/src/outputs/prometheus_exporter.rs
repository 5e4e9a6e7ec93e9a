//! `prometheus_exporter`: serves the metrics routed to it on `/metrics`, for Prometheus to
//! scrape.
//!
//! Fluent Bit's parameters: `host` (default `0.0.0.0`) and `port` (default `2021`) to listen
//! on, `add_label NAME VALUE` (repeatable) to add a label to every sample, `add_timestamp` to
//! write each sample's collection time, and `ttl` to forget series not updated for that long
//! (`0`, the default, keeps them).
//!
//! Behaviour:
//! - The listener is bound when the output is built, as Fluent Bit binds at init: a port in
//!   use is a configuration error naming `port`, before anything runs. The server runs on its
//!   own thread (Fluent Bit's exporter also has its own HTTP thread), so a busy pipeline never
//!   delays a scrape, and it speaks HTTP/1.1 and h2c ([`weir_core::http::server`]).
//! - The server and the series belong to the listen address, not to the instance: a hot
//!   reload that rebuilds the output hands them to the new instance (whose `add_label`,
//!   `add_timestamp` and `ttl` apply at once), so scrapes never fail and series never reset.
//! - Each flush updates the latest value of every series (name and labels) it carries; a
//!   scrape of `/metrics` returns all of them in the Prometheus text format 0.0.4, families in
//!   the order first seen. `/` answers a short text (for health checks); any other path is
//!   404, any method but GET and HEAD 405.
//! - Log chunks routed here are ignored (a debug line says so): the exporter serves metrics.
//!   Events that are not valid metrics samples are skipped with a warning.
//! - Memory is bounded: at most [`MAX_SERIES`] series are kept. New series beyond it are
//!   dropped and counted, with a warning per flush that dropped some; existing series keep
//!   updating. With `ttl`, series that stopped coming free their place.
//! - `add_label` replaces a sample's own label of the same name (a label given twice would
//!   make Prometheus refuse the whole scrape).
//!
//! Differences from Fluent Bit: Fluent Bit replaces everything it serves with the content of
//! the latest flush, so metrics from two inputs routed to one exporter hide each other; Weir
//! keeps the latest value of each series, so both show. `/metrics` answers 200 with an empty
//! body before the first metrics arrive, where Fluent Bit answers 404: the target shows as up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::http::lease::{self, Lease, LeaseTable};
use weir_core::{
    BoxFuture, BuildContext, Factory, FlushResult, Output, OutputContext, PluginDescriptor,
    PluginKind,
};
use weir_event::metric::{self, is_valid_label_name, MetricKind, Sample};
use weir_event::{Chunk, EventTime, Signal};

/// Series kept at most. A Prometheus server handles a few million series in all; one exporter
/// holding more than this is almost always labels with unbounded values (a request id, a
/// path), which would also exhaust the collector's memory.
pub const MAX_SERIES: usize = 100_000;

/// How long shutdown waits for the server thread to finish its open requests.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("host")
        .default("0.0.0.0")
        .desc("Address to listen on for scrapes."),
    ParamSpec::int("port")
        .default("2021")
        .desc("TCP port to listen on for scrapes."),
    ParamSpec::space_list("add_label")
        .multiple()
        .desc("A label added to every sample, as 'name value'; may be given several times."),
    ParamSpec::bool("add_timestamp")
        .default("false")
        .desc("Write each sample's collection time with it."),
    ParamSpec::time("ttl")
        .default("0s")
        .desc("Forget series not updated for this long; 0 keeps them."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "prometheus_exporter",
    kind: PluginKind::Output,
    description: "Serve metrics for Prometheus to scrape.",
    params: PARAMS,
    factory: Factory::Output(|p, ctx| {
        let cfg = Config::from_params(p)?;
        if ctx.check_only {
            weir_core::http::lease::listen_address(p, &cfg.host, cfg.port)?;
            return Ok(Box::new(weir_core::plugin::CheckedOnly));
        }
        Ok(Box::new(Exporter::start(cfg, p, ctx)?))
    }),
};

/// The validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub add_labels: Vec<(String, String)>,
    pub add_timestamp: bool,
    /// `None` keeps series forever.
    pub ttl: Option<Duration>,
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let port = p.int("port").unwrap_or(2021);
        let port = u16::try_from(port).map_err(|_| {
            p.error(
                "port",
                format!("expected a port from 0 to 65535, got {port}"),
            )
        })?;
        let mut add_labels: Vec<(String, String)> = Vec::new();
        for (name, value) in p.pairs("add_label") {
            if !is_valid_label_name(&name) {
                return Err(p.error(
                    "add_label",
                    format!("'{name}' is not a valid label name (letters, digits and '_', not starting with a digit or '__')"),
                ));
            }
            // As for repeated keys, the last value given wins.
            add_labels.retain(|(n, _)| *n != name);
            add_labels.push((name, value));
        }
        let host = p.str("host").unwrap_or("0.0.0.0");
        // `[::1]` is how addresses with a port are written; bind wants the bare address.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Ok(Self {
            host: host.to_string(),
            port,
            add_labels,
            add_timestamp: p.bool("add_timestamp").unwrap_or(false),
            ttl: p.time("ttl").filter(|d| !d.is_zero()),
        })
    }
}

/// The latest value of every series.
#[derive(Debug)]
pub struct SeriesStore {
    limit: usize,
    /// By family name: first-seen order, help and type (of the latest sample), series count.
    families: HashMap<String, Family>,
    series: HashMap<(String, Vec<(String, String)>), Point>,
    next_seq: u64,
    /// Series refused at the limit since the exporter started.
    dropped: u64,
}

#[derive(Debug)]
struct Family {
    seq: u64,
    help: String,
    kind: MetricKind,
    count: usize,
}

#[derive(Debug)]
struct Point {
    seq: u64,
    value: f64,
    time: EventTime,
    seen: Instant,
}

impl SeriesStore {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            families: HashMap::new(),
            series: HashMap::new(),
            next_seq: 0,
            dropped: 0,
        }
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Series refused at the limit so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Records a sample; false when it is a new series and the store is full.
    pub fn update(&mut self, sample: Sample, time: EventTime, now: Instant) -> bool {
        let Sample {
            name,
            help,
            kind,
            mut labels,
            value,
        } = sample;
        // A series is a set of labels: the same labels in another order are the same series.
        labels.sort();
        let key = (name, labels);
        if let Some(p) = self.series.get_mut(&key) {
            *p = Point {
                seq: p.seq,
                value,
                time,
                seen: now,
            };
            if let Some(f) = self.families.get_mut(&key.0) {
                f.help = help;
                f.kind = kind;
            }
            return true;
        }
        if self.series.len() >= self.limit {
            self.dropped += 1;
            return false;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let family = self.families.entry(key.0.clone()).or_insert(Family {
            seq,
            help: String::new(),
            kind,
            count: 0,
        });
        family.help = help;
        family.kind = kind;
        family.count += 1;
        self.series.insert(
            key,
            Point {
                seq,
                value,
                time,
                seen: now,
            },
        );
        true
    }

    /// Forgets series last updated more than `ttl` before `now`.
    pub fn expire(&mut self, now: Instant, ttl: Duration) {
        let families = &mut self.families;
        self.series.retain(|(name, _), p| {
            let keep = now.saturating_duration_since(p.seen) <= ttl;
            if !keep {
                if let Some(f) = families.get_mut(name) {
                    f.count -= 1;
                }
            }
            keep
        });
        self.families.retain(|_, f| f.count > 0);
    }

    /// The Prometheus text of every series: families in first-seen order, series in
    /// first-seen order within them.
    pub fn render(&self, add_labels: &[(String, String)], timestamps: bool) -> String {
        let mut rows: Vec<_> = self
            .series
            .iter()
            .filter_map(|(k, p)| self.families.get(&k.0).map(|f| (f, k, p)))
            .collect();
        rows.sort_by_key(|(f, _, p)| (f.seq, p.seq));
        let samples: Vec<(Sample, Option<EventTime>)> = rows
            .into_iter()
            .map(|(f, (name, labels), p)| {
                (
                    Sample {
                        name: name.clone(),
                        help: f.help.clone(),
                        kind: f.kind,
                        labels: labels.clone(),
                        value: p.value,
                    },
                    timestamps.then_some(p.time),
                )
            })
            .collect();
        let mut out = String::with_capacity(samples.len() * 96);
        metric::write_prometheus_text_with(
            samples.iter().map(|(s, t)| (s, *t)),
            add_labels,
            &mut out,
        );
        out
    }
}

/// What one instance's configuration asks of the address it serves.
#[derive(Debug)]
struct Settings {
    add_labels: Vec<(String, String)>,
    add_timestamp: bool,
    ttl: Option<Duration>,
}

/// What the server and the instances on one address share: the series, and the settings of
/// the newest instance.
type Shared = lease::Shared<Mutex<SeriesStore>, Settings>;

/// The servers by listen address: a hot reload that rebuilds the exporter hands the running
/// server and its series to the new instance, so Prometheus sees no gap and no reset
/// ([`weir_core::http::lease`] has the rules).
static SERVERS: LeaseTable<Mutex<SeriesStore>, Settings> =
    LeaseTable::new("output:prometheus_exporter", "weir-prometheus");

fn store(shared: &Shared) -> std::sync::MutexGuard<'_, SeriesStore> {
    shared
        .state()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn metrics_text(shared: &Shared) -> String {
    let settings = shared.settings();
    let mut store = store(shared);
    if let Some(ttl) = settings.ttl {
        store.expire(Instant::now(), ttl);
    }
    store.render(&settings.add_labels, settings.add_timestamp)
}

/// Takes in a metrics chunk; returns (events that were not samples, the first reason, new
/// series dropped at the limit, dropped in all, series kept).
fn ingest(shared: &Shared, chunk: &Chunk) -> Ingested {
    let now = Instant::now();
    let ttl = shared.settings().ttl;
    let mut r = Ingested::default();
    let mut store = store(shared);
    let before = store.dropped();
    for ev in chunk.events() {
        let decoded = ev
            .map_err(metric::MetricError::from)
            .and_then(|ev| metric::decode(&ev));
        match decoded {
            Ok((time, sample)) => {
                store.update(sample, time, now);
            }
            Err(e) => {
                r.invalid += 1;
                r.first_error.get_or_insert(e);
            }
        }
    }
    if let Some(ttl) = ttl {
        store.expire(now, ttl);
    }
    r.dropped = store.dropped() - before;
    r.dropped_total = store.dropped();
    r.kept = store.len();
    r
}

#[derive(Debug, Default)]
struct Ingested {
    invalid: usize,
    first_error: Option<metric::MetricError>,
    dropped: u64,
    dropped_total: u64,
    kept: usize,
}

/// The status code `code` (all callers pass valid ones).
fn status(code: u16) -> hyper::StatusCode {
    hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR)
}

fn route(shared: &Shared, get: bool, path: &str) -> hyper::Response<weir_core::http::server::Body> {
    use weir_core::http::server::response;
    if !get {
        return response(status(405), "text/plain", "method not allowed\n");
    }
    match path {
        "/metrics" => response(
            status(200),
            weir_core::metrics_export::PROMETHEUS_CONTENT_TYPE,
            metrics_text(shared),
        ),
        "/" => response(status(200), "text/plain", "Weir Prometheus Exporter\n"),
        _ => response(status(404), "text/plain", "not found\n"),
    }
}

/// One `prometheus_exporter` instance.
pub struct Exporter {
    lease: Lease<Mutex<SeriesStore>, Settings>,
    component: String,
}

impl Exporter {
    /// Binds the address (or takes over the server a previous configuration runs on it) and
    /// serves; a failure is an error about `port`.
    pub fn start(cfg: Config, p: &Params, ctx: &BuildContext) -> Result<Self, ConfigError> {
        let component = format!("output:prometheus_exporter:{}", ctx.instance);
        let (addr, shown) = weir_core::http::lease::listen_address(p, &cfg.host, cfg.port)?;
        let settings = Settings {
            add_labels: cfg.add_labels,
            add_timestamp: cfg.add_timestamp,
            ttl: cfg.ttl,
        };
        let lease = SERVERS
            .acquire(
                addr,
                ctx,
                settings,
                |_| Mutex::new(SeriesStore::new(MAX_SERIES)),
                |shared, req| async move {
                    let get = matches!(*req.method(), hyper::Method::GET | hyper::Method::HEAD);
                    route(&shared, get, req.uri().path())
                },
            )
            .map_err(|e| p.error("port", format!("{shown}: {e}")))?;
        lease.log_start(&component, "series");
        Ok(Self { lease, component })
    }

    /// Where it listens (the real port when `port` was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.lease.shared().local()
    }
}

impl Output for Exporter {
    fn flush<'a>(
        &'a self,
        chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async move {
            if chunk.signal != Signal::Metrics {
                weir_core::debug!(
                    self.component,
                    "{} {} records of '{}' ignored: this output serves metrics only",
                    chunk.records,
                    chunk.signal.as_str(),
                    chunk.tag
                );
                return FlushResult::Ok;
            }
            let r = ingest(self.lease.shared(), chunk);
            if let Some(e) = r.first_error {
                weir_core::warn!(
                    self.component,
                    "{} events of chunk '{}' are not metrics samples and were skipped: {}",
                    r.invalid,
                    chunk.tag,
                    e
                );
            }
            if r.dropped > 0 {
                weir_core::warn!(
                    self.component,
                    "series limit of {} reached: {} new series dropped ({} in all); {} series kept",
                    MAX_SERIES,
                    r.dropped,
                    r.dropped_total,
                    r.kept
                );
            }
            FlushResult::Ok
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // The last instance on the address stops the server and waits for it, so the port
            // is free once the engine has stopped; bounded, as a stuck client must not hold
            // the engine's shutdown.
            if tokio::time::timeout(SHUTDOWN_WAIT, self.lease.shutdown())
                .await
                .is_err()
            {
                weir_core::warn!(self.component, "the HTTP server did not stop in time");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use std::io::{Read, Write};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_params(&testing::params(&DESCRIPTOR, pairs)?)
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::check_table(PARAMS).unwrap();
    }

    #[test]
    fn parameters() {
        let c = cfg(&[]).unwrap();
        assert_eq!(
            c,
            Config {
                host: "0.0.0.0".into(),
                port: 2021,
                add_labels: vec![],
                add_timestamp: false,
                ttl: None,
            }
        );
        let c = cfg(&[
            ("host", "[::1]"),
            ("port", "9000"),
            ("add_label", "app fluent-bit"),
            ("add_label", "color blue sky"),
            ("add_label", "app weir"),
            ("add_timestamp", "on"),
            ("ttl", "30s"),
        ])
        .unwrap();
        assert_eq!(c.host, "::1");
        assert_eq!(c.port, 9000);
        assert_eq!(
            c.add_labels,
            vec![
                ("color".to_string(), "blue sky".to_string()),
                ("app".to_string(), "weir".to_string())
            ]
        );
        assert!(c.add_timestamp);
        assert_eq!(c.ttl, Some(Duration::from_secs(30)));
        for (k, v, want) in [
            ("port", "70000", "0 to 65535"),
            ("port", "-1", "0 to 65535"),
            ("add_label", "bad-name x", "not a valid label name"),
            ("add_label", "lonely", "a key and a value"),
        ] {
            let e = cfg(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(want), "{k}={v}: {e}");
        }
    }

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        let mut s = Sample::new(name, "Help.", MetricKind::Counter, value);
        for (k, v) in labels {
            s = s.label(*k, *v);
        }
        s
    }

    #[test]
    fn keeps_the_latest_value_per_series() {
        let mut st = SeriesStore::new(10);
        let now = Instant::now();
        let t = EventTime::new(1, 0);
        st.update(sample("a_total", &[("name", "x")], 1.0), t, now);
        st.update(sample("b", &[], 5.0), t, now);
        st.update(sample("a_total", &[("name", "y")], 2.0), t, now);
        // Same series, labels in another order: replaced, not added.
        st.update(sample("a_total", &[("z", "1"), ("name", "x")], 3.0), t, now);
        st.update(sample("a_total", &[("name", "x"), ("z", "1")], 4.0), t, now);
        st.update(sample("a_total", &[("name", "x")], 10.0), t, now);
        assert_eq!(st.len(), 4);
        assert_eq!(
            st.render(&[], false),
            "# HELP a_total Help.\n# TYPE a_total counter\n\
             a_total{name=\"x\"} 10\n\
             a_total{name=\"y\"} 2\n\
             a_total{name=\"x\",z=\"1\"} 4\n\
             # HELP b Help.\n# TYPE b counter\nb 5\n"
        );
    }

    #[test]
    fn add_labels_and_timestamps() {
        let mut st = SeriesStore::new(10);
        st.update(
            sample("a", &[("app", "own"), ("name", "x")], 1.0),
            EventTime::new(1_700_000_000, 250_000_000),
            Instant::now(),
        );
        let extra = vec![("app".to_string(), "weir".to_string())];
        assert_eq!(
            st.render(&extra, true),
            "# HELP a Help.\n# TYPE a counter\na{app=\"weir\",name=\"x\"} 1 1700000000250\n"
        );
    }

    #[test]
    fn the_series_limit_holds_and_counts() {
        let mut st = SeriesStore::new(2);
        let (t, now) = (EventTime::default(), Instant::now());
        assert!(st.update(sample("a", &[("i", "1")], 1.0), t, now));
        assert!(st.update(sample("a", &[("i", "2")], 1.0), t, now));
        assert!(!st.update(sample("a", &[("i", "3")], 1.0), t, now));
        assert!(!st.update(sample("b", &[], 1.0), t, now));
        // Existing series still update.
        assert!(st.update(sample("a", &[("i", "1")], 7.0), t, now));
        assert_eq!((st.len(), st.dropped()), (2, 2));
        assert!(!st.render(&[], false).contains("\nb "));
    }

    #[test]
    fn ttl_forgets_stale_series() {
        let mut st = SeriesStore::new(10);
        let t0 = Instant::now();
        let t = EventTime::default();
        st.update(sample("old", &[], 1.0), t, t0);
        st.update(sample("new", &[], 1.0), t, t0 + Duration::from_secs(20));
        st.expire(t0 + Duration::from_secs(25), Duration::from_secs(10));
        assert_eq!(st.len(), 1);
        let text = st.render(&[], false);
        assert!(!text.contains("old"), "{text}");
        assert!(text.contains("new 1\n"));
        // The family went with its last series.
        assert_eq!(st.families.len(), 1);
    }

    fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let code = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = resp.split_once("\r\n\r\n").unwrap().1.to_string();
        (code, body)
    }

    fn chunk(signal: Signal, data: Vec<u8>, records: usize) -> Chunk {
        Chunk {
            id: 1,
            tag: "m".into(),
            signal,
            data,
            records,
            created: Instant::now(),
        }
    }

    #[tokio::test]
    async fn serves_what_it_was_sent() {
        let p = testing::params(
            &DESCRIPTOR,
            &[
                ("host", "127.0.0.1"),
                ("port", "0"),
                ("add_label", "app weir"),
            ],
        )
        .unwrap();
        let ex = Exporter::start(
            Config::from_params(&p).unwrap(),
            &p,
            &testing::build_context(),
        )
        .unwrap();
        let addr = ex.local_addr();
        let (code, body) = tokio::task::spawn_blocking(move || get(addr, "GET", "/metrics"))
            .await
            .unwrap();
        assert_eq!((code, body.as_str()), (200, ""));

        let mut w = weir_event::EventWriter::new();
        metric::encode(
            &sample("fluentbit_input_records_total", &[("name", "dummy.0")], 3.0),
            EventTime::now(),
            &mut w,
        );
        // Not a sample: skipped, the rest still served.
        let mut bad = Vec::new();
        weir_event::json::from_json(r#"{"log":"x"}"#, &mut bad).unwrap();
        w.push(EventTime::now(), &[], &bad);
        let ctx = OutputContext {
            name: "prometheus_exporter.0".into(),
            component: "output:prometheus_exporter:prometheus_exporter.0".into(),
        };
        let c = chunk(Signal::Metrics, w.buf, 2);
        assert_eq!(ex.flush(&c, &ctx).await, FlushResult::Ok);
        // Logs are ignored, even when they look like samples.
        let mut l = weir_event::EventWriter::new();
        metric::encode(&sample("from_logs", &[], 1.0), EventTime::now(), &mut l);
        let logs = chunk(Signal::Logs, l.buf, 1);
        assert_eq!(ex.flush(&logs, &ctx).await, FlushResult::Ok);

        let (code, body) = tokio::task::spawn_blocking(move || get(addr, "GET", "/metrics"))
            .await
            .unwrap();
        assert_eq!(code, 200);
        assert_eq!(
            body,
            "# HELP fluentbit_input_records_total Help.\n\
             # TYPE fluentbit_input_records_total counter\n\
             fluentbit_input_records_total{app=\"weir\",name=\"dummy.0\"} 3\n"
        );
        let others = tokio::task::spawn_blocking(move || {
            (
                get(addr, "GET", "/other").0,
                get(addr, "POST", "/metrics").0,
                get(addr, "GET", "/").0,
            )
        })
        .await
        .unwrap();
        assert_eq!(others, (404, 405, 200));

        ex.shutdown().await;
        // The port is free again once shutdown returns.
        assert!(std::net::TcpListener::bind(addr).is_ok());
    }

    fn start_on(port: u16, ctx: &BuildContext, label: &str) -> Result<Exporter, ConfigError> {
        let port = port.to_string();
        let p = testing::params(
            &DESCRIPTOR,
            &[("host", "127.0.0.1"), ("port", &port), ("add_label", label)],
        )?;
        Exporter::start(Config::from_params(&p)?, &p, ctx)
    }

    #[tokio::test]
    async fn a_reload_takes_over_the_server_and_its_series() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let old_build = testing::build_context();
        let old = start_on(port, &old_build, "v old").unwrap();
        // Two instances of one configuration on one address: an error, as two binds would be.
        let e = start_on(port, &old_build, "v dup")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("already used by test.0"), "{e}");

        let mut w = weir_event::EventWriter::new();
        metric::encode(&sample("a_total", &[], 1.0), EventTime::now(), &mut w);
        let ctx = OutputContext {
            name: "p.0".into(),
            component: "output:prometheus_exporter:p.0".into(),
        };
        old.flush(&chunk(Signal::Metrics, w.buf, 1), &ctx).await;

        // A new build (a hot reload) on the same port: no bind, same series, new labels.
        let new = start_on(port, &testing::build_context(), "v new").unwrap();
        let addr = new.local_addr();
        let body = tokio::task::spawn_blocking(move || get(addr, "GET", "/metrics").1)
            .await
            .unwrap();
        assert!(body.contains("a_total{v=\"new\"} 1\n"), "{body}");
        // The old instance stops: the server stays, for the new one.
        old.shutdown().await;
        let body = tokio::task::spawn_blocking(move || get(addr, "GET", "/metrics").1)
            .await
            .unwrap();
        assert!(body.contains("a_total{v=\"new\"} 1\n"), "{body}");
        new.shutdown().await;
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "the port is released"
        );
    }

    #[test]
    fn a_port_in_use_is_a_configuration_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let e = testing::output(
            &DESCRIPTOR,
            &[("host", "127.0.0.1"), ("port", port.as_str())],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("key 'port'") && e.contains("cannot listen: "),
            "{e}"
        );
    }
}
