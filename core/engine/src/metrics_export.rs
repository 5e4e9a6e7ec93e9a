//! Weir's own counters as metrics samples, in Fluent Bit's names, so that the dashboards and
//! alerts written for Fluent Bit work unchanged.
//!
//! [`internal_samples`] is the single list: the `fluentbit_metrics` input emits it into the
//! pipeline, and the HTTP API renders it as `/api/v2/metrics/prometheus`
//! ([`prometheus_text`]) and `/api/v2/metrics` ([`cmetrics_text`], with [`cmetrics_json`] for a
//! JSON view of the same data).
//!
//! Names, help texts and labels are Fluent Bit's (its `flb_metrics.c`, `flb_input.c`,
//! `flb_filter.c`, `flb_output.c`, `flb_storage.c`, and tail's file counters): the process
//! figures carry a `hostname` label, per-instance figures a `name` label holding the instance
//! name (`tail.0` or its alias). What Fluent Bit does not report is under `weir_`.
//!
//! Not reported, because Weir does not count them yet: `fluentbit_filter_bytes_total` and
//! `fluentbit_filter_drop_bytes_total`, the output upstream connection gauges and latency
//! histogram.

use crate::metrics::Metrics;
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;
use weir_event::metric::{write_prometheus_text, MetricKind, Sample};
use weir_event::EventTime;

use MetricKind::{Counter, Gauge};

/// Every figure Weir reports about itself, now.
pub fn internal_samples(m: &Metrics) -> Vec<Sample> {
    let mut out = Vec::new();
    process(m, &mut out);
    inputs(m, &mut out);
    filters(m, &mut out);
    outputs(m, &mut out);
    storage(m, &mut out);
    plugin_figures(m, &mut out);
    out
}

/// What plugins count for themselves (a WebAssembly plugin's host counters such as
/// `wasm_traps`, and the counters and gauges the plugin sets): one family each for counters
/// and gauges, the figure's name in a label, since plugins name their figures freely.
fn plugin_figures(m: &Metrics, out: &mut Vec<Sample>) {
    for (kind, instance, figures) in m.plugin_figures() {
        let sample = |name: &str, help: &str, metric: MetricKind, v: f64| {
            Sample::new(name, help, metric, v)
                .label("kind", kind.as_str())
                .label("name", &*instance)
        };
        for (name, v) in figures.counters() {
            out.push(
                sample(
                    "weir_plugin_counter_total",
                    "A counter a plugin instance keeps.",
                    Counter,
                    v as f64,
                )
                .label("counter", &*name),
            );
        }
        for (name, v) in figures.gauges() {
            out.push(
                sample(
                    "weir_plugin_gauge",
                    "A gauge a plugin instance sets.",
                    Gauge,
                    v,
                )
                .label("gauge", &*name),
            );
        }
    }
}

/// The Prometheus text of [`internal_samples`] (exposition format 0.0.4, no timestamps): what
/// `/api/v1/metrics/prometheus` and `/api/v2/metrics/prometheus` serve, with the content type
/// [`PROMETHEUS_CONTENT_TYPE`].
pub fn prometheus_text(m: &Metrics) -> String {
    let mut out = String::new();
    write_prometheus_text(&internal_samples(m), &mut out);
    out
}

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// cmetrics' text form of [`internal_samples`], stamped now: what Fluent Bit serves on
/// `/api/v2/metrics` (see [`write_cmetrics_text`]).
pub fn cmetrics_text(m: &Metrics) -> String {
    let mut out = String::new();
    write_cmetrics_text(&internal_samples(m), EventTime::now(), &mut out);
    out
}

/// [`internal_samples`] as the structure of a cmetrics context, in JSON
/// ([`weir_event::metric::to_cmetrics_json`]), stamped now.
pub fn cmetrics_json(m: &Metrics) -> serde_json::Value {
    let now = EventTime::now();
    let samples: Vec<_> = internal_samples(m).into_iter().map(|s| (now, s)).collect();
    weir_event::metric::to_cmetrics_json(&samples)
}

/// Appends samples in cmetrics' text form, one line each:
/// `2024-05-01T10:00:00.000000000Z fluentbit_uptime{hostname="h"} = 42`.
///
/// This is the format of Fluent Bit's `/api/v2/metrics` and of its `stdout` output for
/// metrics. Values are written in their shortest exact form where cmetrics uses `%.17g`: the
/// same text for integers, which is what these counters hold. Label values are escaped as in
/// the Prometheus format (cmetrics writes them raw), so a quote cannot cut a line short.
pub fn write_cmetrics_text(samples: &[Sample], time: EventTime, out: &mut String) {
    let stamp = chrono::DateTime::from_timestamp(time.sec, time.nsec)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000000000Z".to_string());
    for s in samples {
        out.push_str(&stamp);
        out.push(' ');
        out.push_str(&s.name);
        if !s.labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in s.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                for c in v.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        _ => out.push(c),
                    }
                }
                out.push('"');
            }
            out.push('}');
        }
        out.push_str(" = ");
        weir_event::metric::write_value(s.value, out);
        out.push('\n');
    }
}

/// The host name, as Fluent Bit's `hostname` label: read once (it is in every scrape).
fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .chain(std::env::var("HOSTNAME").ok())
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    })
}

/// The `os` label of `fluentbit_build_info`, in Fluent Bit's words.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "windows" if cfg!(target_pointer_width = "64") => "win64",
        "windows" => "win32",
        "macos" => "macos",
        "linux" | "android" => "linux",
        "freebsd" => "freebsd",
        _ if cfg!(unix) => "unix",
        _ => "other",
    }
}

fn process(m: &Metrics, out: &mut Vec<Sample>) {
    let host = hostname();
    let start = m
        .started_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    out.push(
        Sample::new(
            "fluentbit_uptime",
            "Number of seconds that Fluent Bit has been running.",
            Counter,
            m.started.elapsed().as_secs() as f64,
        )
        .label("hostname", host),
    );
    out.push(
        Sample::new(
            "fluentbit_process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Gauge,
            start,
        )
        .label("hostname", host),
    );
    // Fluent Bit's value for build_info is the start time too.
    out.push(
        Sample::new(
            "fluentbit_build_info",
            "Build version information.",
            Gauge,
            start,
        )
        .label("hostname", host)
        .label("version", env!("CARGO_PKG_VERSION"))
        .label("os", os_name()),
    );
    out.push(
        Sample::new(
            "fluentbit_hot_reloaded_times",
            "Collect the count of hot reloaded times.",
            Gauge,
            m.hot_reloads.get() as f64,
        )
        .label("hostname", host),
    );
}

/// Appends one family: `name` for every instance, its value read by `get`.
fn family<T>(
    out: &mut Vec<Sample>,
    instances: &[(std::sync::Arc<str>, std::sync::Arc<T>)],
    name: &str,
    help: &str,
    kind: MetricKind,
    get: impl Fn(&T) -> u64,
) {
    for (instance, m) in instances {
        out.push(Sample::new(name, help, kind, get(m) as f64).label("name", &**instance));
    }
}

/// Fluent Bit's name and help for an input's plugin-specific counter, else Weir's.
fn extra_metric(extra: &str) -> (String, String) {
    match extra {
        "files_opened" => (
            "fluentbit_input_files_opened_total".into(),
            "Total number of opened files".into(),
        ),
        "files_closed" => (
            "fluentbit_input_files_closed_total".into(),
            "Total number of closed files".into(),
        ),
        "files_rotated" => (
            "fluentbit_input_files_rotated_total".into(),
            "Total number of rotated files".into(),
        ),
        "pauses" => (
            "weir_input_pauses_total".into(),
            "Times the input paused at a memory or disk limit.".into(),
        ),
        other => (
            format!("weir_input_{other}_total"),
            format!("The input's own count of {}.", other.replace('_', " ")),
        ),
    }
}

fn inputs(m: &Metrics, out: &mut Vec<Sample>) {
    let inputs = m.inputs();
    family(
        out,
        &inputs,
        "fluentbit_input_bytes_total",
        "Number of input bytes.",
        Counter,
        |i| i.bytes.get(),
    );
    family(
        out,
        &inputs,
        "fluentbit_input_records_total",
        "Number of input records.",
        Counter,
        |i| i.records.get(),
    );
    // Plugin-specific counters, one family per counter name, in first-seen order.
    type Values = Vec<(std::sync::Arc<str>, u64)>;
    let mut extras: Vec<(&'static str, Values)> = Vec::new();
    for (name, i) in &inputs {
        for (extra, value) in i.extras() {
            match extras.iter_mut().find(|(e, _)| *e == extra) {
                Some((_, v)) => v.push((name.clone(), value)),
                None => extras.push((extra, vec![(name.clone(), value)])),
            }
        }
    }
    for (extra, values) in extras {
        let (metric, help) = extra_metric(extra);
        for (name, value) in values {
            out.push(Sample::new(&metric, &help, Counter, value as f64).label("name", &*name));
        }
    }
}

fn filters(m: &Metrics, out: &mut Vec<Sample>) {
    let filters = m.filters();
    family(
        out,
        &filters,
        "fluentbit_filter_records_total",
        "Total number of new records processed.",
        Counter,
        |f| f.records.get(),
    );
    family(
        out,
        &filters,
        "fluentbit_filter_add_records_total",
        "Total number of new added records.",
        Counter,
        |f| f.add_records.get(),
    );
    family(
        out,
        &filters,
        "fluentbit_filter_drop_records_total",
        "Total number of dropped records.",
        Counter,
        |f| f.drop_records.get(),
    );
}

fn outputs(m: &Metrics, out: &mut Vec<Sample>) {
    let outputs = m.outputs();
    type Get = fn(&crate::metrics::OutputMetrics) -> u64;
    let families: [(&str, &str, Get); 7] = [
        (
            "fluentbit_output_proc_records_total",
            "Number of processed output records.",
            |o| o.proc_records.get(),
        ),
        (
            "fluentbit_output_proc_bytes_total",
            "Number of processed output bytes.",
            |o| o.proc_bytes.get(),
        ),
        (
            "fluentbit_output_errors_total",
            "Number of output errors.",
            |o| o.errors.get(),
        ),
        (
            "fluentbit_output_retries_total",
            "Number of output retries.",
            |o| o.retries.get(),
        ),
        (
            "fluentbit_output_retries_failed_total",
            "Number of abandoned batches because the maximum number of re-tries was reached.",
            |o| o.retries_failed.get(),
        ),
        (
            "fluentbit_output_dropped_records_total",
            "Number of dropped records.",
            |o| o.dropped_records.get(),
        ),
        (
            "fluentbit_output_retried_records_total",
            "Number of retried records.",
            |o| o.retried_records.get(),
        ),
    ];
    for (name, help, get) in families {
        family(out, &outputs, name, help, Counter, get);
    }
}

/// The memory side of storage: what each input holds in memory, and whether it is paused
/// at its limit (`mem_buf_limit`, or the process's `memory_limit`).
fn memory_storage(m: &Metrics, out: &mut Vec<Sample>) {
    let Some(buffers) = m.buffers.get() else {
        return;
    };
    let buffers = buffers.read().unwrap_or_else(|e| e.into_inner()).clone();
    let mem_chunks: u64 = buffers
        .iter()
        .filter(|(_, _, filesystem)| !filesystem)
        .map(|(_, b, _)| b.chunks())
        .sum();
    out.push(Sample::new(
        "fluentbit_storage_mem_chunks",
        "Total number of memory chunks.",
        Gauge,
        mem_chunks as f64,
    ));
    for (name, budget, _) in &buffers {
        out.push(
            Sample::new(
                "fluentbit_input_storage_memory_bytes",
                "Memory bytes used by the chunks.",
                Gauge,
                budget.used() as f64,
            )
            .label("name", &**name),
        );
        out.push(
            Sample::new(
                "fluentbit_input_storage_overlimit",
                "Is the input memory usage overlimit ?.",
                Gauge,
                if budget.is_over() { 1.0 } else { 0.0 },
            )
            .label("name", &**name),
        );
    }
}

fn storage(m: &Metrics, out: &mut Vec<Sample>) {
    memory_storage(m, out);
    let Some(store) = m.store.get() else {
        return;
    };
    let st = store.stats();
    let up: u64 = st.streams.values().map(|s| s.up).sum();
    let down: u64 = st.streams.values().map(|s| s.down).sum();
    let gauge = |name: &str, help: &str, v: u64| Sample::new(name, help, Gauge, v as f64);
    let counter = |name: &str, help: &str, v: u64| Sample::new(name, help, Counter, v as f64);
    out.push(gauge(
        "fluentbit_storage_fs_chunks",
        "Total number of filesystem chunks.",
        st.chunks,
    ));
    out.push(gauge(
        "fluentbit_storage_fs_chunks_up",
        "Total number of filesystem chunks up in memory.",
        up,
    ));
    out.push(gauge(
        "fluentbit_storage_fs_chunks_down",
        "Total number of filesystem chunks down.",
        down,
    ));
    type StreamGet = fn(&weir_storage::StreamStats) -> u64;
    let per_input: [(&str, &str, StreamGet); 3] = [
        (
            "fluentbit_input_storage_chunks",
            "Total number of chunks.",
            |s| s.chunks,
        ),
        (
            "fluentbit_input_storage_chunks_up",
            "Total number of chunks up in memory.",
            |s| s.up,
        ),
        (
            "fluentbit_input_storage_chunks_down",
            "Total number of chunks down.",
            |s| s.down,
        ),
    ];
    for (name, help, get) in per_input {
        for (stream, s) in &st.streams {
            out.push(gauge(name, help, get(s)).label("name", stream.as_str()));
        }
    }
    out.push(gauge(
        "weir_storage_bytes",
        "Bytes of chunk files on disk.",
        st.bytes,
    ));
    out.push(counter(
        "weir_storage_damaged_chunks_total",
        "Damaged chunk files found since the store opened.",
        st.damaged,
    ));
    out.push(counter(
        "weir_storage_quarantined_chunks_total",
        "Damaged chunk files moved to the quarantine directory since the store opened.",
        st.quarantined,
    ));
    out.push(counter(
        "weir_storage_salvaged_records_total",
        "Records kept from damaged chunks since the store opened.",
        st.salvaged_records,
    ));
    out.push(counter(
        "weir_storage_lost_records_total",
        "Records known lost to damaged chunks since the store opened.",
        st.lost_records,
    ));
    out.push(counter(
        "weir_storage_dead_lettered_chunks_total",
        "Chunks copied to the dead-letter directory since the store opened.",
        st.dead_lettered,
    ));
    out.push(gauge(
        "weir_storage_foreign_files",
        "Files under the storage root that are not Weir's.",
        st.foreign_files,
    ));
    out.push(counter(
        "weir_storage_fsyncs_total",
        "fsync calls made for storage.sync full.",
        st.fsyncs,
    ));
    type OutputGet = fn(&weir_storage::OutputStats) -> (u64, bool);
    let per_output: [(&str, &str, OutputGet); 5] = [
        (
            "weir_output_storage_chunks",
            "Chunks on disk the output is still owed.",
            |o| (o.chunks, false),
        ),
        (
            "weir_output_storage_bytes",
            "Bytes on disk of the chunks the output is still owed.",
            |o| (o.bytes, false),
        ),
        (
            "weir_output_storage_acked_chunks_total",
            "Chunks the output delivered since the store opened.",
            |o| (o.acked, true),
        ),
        (
            "weir_output_storage_rejected_chunks_total",
            "Chunks given up for the output since the store opened.",
            |o| (o.rejected, true),
        ),
        (
            "weir_output_storage_dead_lettered_chunks_total",
            "Chunks given up for the output and copied to the dead-letter directory.",
            |o| (o.dead_lettered, true),
        ),
    ];
    for (name, help, get) in per_output {
        for (output, o) in &st.outputs {
            let (v, is_counter) = get(o);
            let s = if is_counter {
                counter(name, help, v)
            } else {
                gauge(name, help, v)
            };
            out.push(s.label("name", output.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(samples: &'a [Sample], name: &str, instance: &str) -> Option<&'a Sample> {
        samples
            .iter()
            .find(|s| s.name == name && s.labels.iter().any(|(k, v)| k == "name" && v == instance))
    }

    fn metrics() -> Metrics {
        let m = Metrics::new();
        let i = m.add_input("tail.0".into());
        i.records.add(3);
        i.bytes.add(120);
        i.counter("files_opened").add(2);
        i.counter("pauses").inc();
        m.add_input("dummy.0".into()).records.add(1);
        let f = m.add_filter("grep.0".into());
        f.records.add(3);
        f.drop_records.add(1);
        let o = m.add_output("null.0".into());
        o.proc_records.add(2);
        o.retried_records.add(5);
        m.hot_reloads.inc();
        m
    }

    #[test]
    fn fluent_bit_names_and_labels() {
        let s = internal_samples(&metrics());
        let v = |name: &str, inst: &str| find(&s, name, inst).map(|s| s.value);
        assert_eq!(v("fluentbit_input_records_total", "tail.0"), Some(3.0));
        assert_eq!(v("fluentbit_input_records_total", "dummy.0"), Some(1.0));
        assert_eq!(v("fluentbit_input_bytes_total", "tail.0"), Some(120.0));
        assert_eq!(v("fluentbit_input_files_opened_total", "tail.0"), Some(2.0));
        assert_eq!(v("weir_input_pauses_total", "tail.0"), Some(1.0));
        assert_eq!(v("fluentbit_filter_records_total", "grep.0"), Some(3.0));
        assert_eq!(
            v("fluentbit_filter_drop_records_total", "grep.0"),
            Some(1.0)
        );
        assert_eq!(v("fluentbit_filter_add_records_total", "grep.0"), Some(0.0));
        assert_eq!(
            v("fluentbit_output_proc_records_total", "null.0"),
            Some(2.0)
        );
        assert_eq!(
            v("fluentbit_output_retried_records_total", "null.0"),
            Some(5.0)
        );
        for name in [
            "fluentbit_output_proc_bytes_total",
            "fluentbit_output_errors_total",
            "fluentbit_output_retries_total",
            "fluentbit_output_retries_failed_total",
            "fluentbit_output_dropped_records_total",
        ] {
            assert_eq!(v(name, "null.0"), Some(0.0), "{name}");
        }
        let hot = s
            .iter()
            .find(|s| s.name == "fluentbit_hot_reloaded_times")
            .unwrap();
        assert_eq!((hot.value, hot.kind), (1.0, Gauge));
        assert_eq!(hot.labels[0].0, "hostname");
        let build = s.iter().find(|s| s.name == "fluentbit_build_info").unwrap();
        let keys: Vec<_> = build.labels.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["hostname", "version", "os"]);
        assert!(s.iter().all(|s| s.kind == Gauge
            || s.name.ends_with("_total")
            || s.name == "fluentbit_uptime"));
        // No store: no storage figures.
        assert!(!s.iter().any(|s| s.name.contains("storage")));
    }

    #[test]
    fn prometheus_text_has_one_header_per_family() {
        let text = prometheus_text(&metrics());
        assert_eq!(
            text.matches("# TYPE fluentbit_input_records_total counter\n")
                .count(),
            1
        );
        assert!(text.contains("fluentbit_input_records_total{name=\"tail.0\"} 3\n"));
        assert!(text.contains("fluentbit_input_records_total{name=\"dummy.0\"} 1\n"));
        assert!(text.contains("# HELP fluentbit_uptime Number of seconds that Fluent Bit"));
        assert!(text.contains("# TYPE fluentbit_process_start_time_seconds gauge\n"));
    }

    #[test]
    fn cmetrics_renderings() {
        let m = metrics();
        let j = cmetrics_json(&m);
        let families = j["metrics"].as_array().unwrap();
        let records = families
            .iter()
            .find(|f| {
                f["meta"]["opts"]["name"] == "records_total" && f["meta"]["opts"]["ss"] == "input"
            })
            .unwrap();
        assert_eq!(records["meta"]["opts"]["ns"], "fluentbit");
        assert_eq!(records["meta"]["labels"], serde_json::json!(["name"]));
        assert_eq!(
            records["values"][0]["labels"],
            serde_json::json!(["tail.0"])
        );
        assert_eq!(records["values"][0]["value"], 3.0);

        let mut out = String::new();
        let samples = vec![
            Sample::new("fluentbit_uptime", "", Counter, 42.0).label("hostname", "h\"x"),
            Sample::new("weir_x", "", Gauge, 0.5),
        ];
        write_cmetrics_text(&samples, EventTime::new(1_714_557_600, 5), &mut out);
        assert_eq!(
            out,
            "2024-05-01T10:00:00.000000005Z fluentbit_uptime{hostname=\"h\\\"x\"} = 42\n\
             2024-05-01T10:00:00.000000005Z weir_x = 0.5\n"
        );
        assert!(cmetrics_text(&m).contains(" fluentbit_input_records_total{name=\"tail.0\"} = 3\n"));
    }

    #[test]
    fn storage_figures_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) =
            weir_storage::Store::open(dir.path(), weir_storage::Options::default()).unwrap();
        let mut w = store
            .create("tail.0", "t", weir_event::Signal::Logs, &["null.0"])
            .unwrap();
        let mut ev = weir_event::EventWriter::new();
        ev.push(EventTime::new(1, 0), &[], &[0x80]);
        w.append(&ev.buf, 1).unwrap();
        let m = metrics();
        assert!(m.store.set(store).is_ok());
        let s = internal_samples(&m);
        let fs = s
            .iter()
            .find(|s| s.name == "fluentbit_storage_fs_chunks")
            .unwrap();
        assert_eq!((fs.value, fs.kind), (1.0, Gauge));
        assert_eq!(
            find(&s, "fluentbit_input_storage_chunks", "tail.0")
                .unwrap()
                .value,
            1.0
        );
        assert_eq!(
            find(&s, "fluentbit_input_storage_chunks_up", "tail.0")
                .unwrap()
                .value,
            1.0
        );
        assert!(find(&s, "weir_output_storage_chunks", "null.0").is_some());
        assert!(s
            .iter()
            .any(|s| s.name == "weir_storage_bytes" && s.value > 0.0));
        drop(w);
    }

    #[test]
    fn extras_without_fluent_bit_names_get_weir_names() {
        assert_eq!(
            extra_metric("lines_skipped").0,
            "weir_input_lines_skipped_total"
        );
        assert_eq!(
            extra_metric("files_rotated").0,
            "fluentbit_input_files_rotated_total"
        );
    }

    #[test]
    fn memory_side_of_storage_per_input() {
        use crate::budget::MemBudget;
        use std::sync::{Arc, RwLock};
        let m = Metrics::new();
        let over = Arc::new(MemBudget::new(Some(10)));
        over.chunk_started();
        over.charge(50);
        let fs = Arc::new(MemBudget::new(None));
        fs.chunk_started();
        let _ = m.buffers.set(Arc::new(RwLock::new(vec![
            ("tail.0".into(), over, false),
            ("forward.0".into(), fs, true),
        ])));
        let s = internal_samples(&m);
        let total = s
            .iter()
            .find(|s| s.name == "fluentbit_storage_mem_chunks")
            .unwrap();
        assert_eq!(
            total.value, 1.0,
            "filesystem inputs' chunks are not memory chunks"
        );
        let bytes = find(&s, "fluentbit_input_storage_memory_bytes", "tail.0").unwrap();
        assert_eq!(bytes.value, 50.0);
        let over = find(&s, "fluentbit_input_storage_overlimit", "tail.0").unwrap();
        assert_eq!(over.value, 1.0);
        let not_over = find(&s, "fluentbit_input_storage_overlimit", "forward.0").unwrap();
        assert_eq!(not_over.value, 0.0);
    }

    #[test]
    fn plugin_figures_are_one_family_each() {
        use crate::plugin::PluginKind;
        let m = Metrics::new();
        let p = m.plugin(PluginKind::Filter, "my_filter.0");
        p.counter("wasm_traps").add(2);
        p.gauge("queue depth").set(1.5);
        let s = internal_samples(&m);
        let c = s
            .iter()
            .find(|s| s.name == "weir_plugin_counter_total")
            .unwrap();
        assert_eq!(c.value, 2.0);
        assert!(c.labels.contains(&("counter".into(), "wasm_traps".into())));
        assert!(c.labels.contains(&("kind".into(), "filter".into())));
        let g = s.iter().find(|s| s.name == "weir_plugin_gauge").unwrap();
        assert_eq!(g.value, 1.5);
        assert!(g.labels.contains(&("gauge".into(), "queue depth".into())));
        let mut text = String::new();
        weir_event::metric::write_prometheus_text(&s, &mut text);
        assert!(
            text.contains(
                "weir_plugin_gauge{kind=\"filter\",name=\"my_filter.0\",gauge=\"queue depth\"} 1.5"
            ),
            "{text}"
        );
    }
}
