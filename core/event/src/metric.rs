//! Metrics as events: one sample per event, in chunks whose signal is [`Signal::Metrics`].
//!
//! A metrics event is an ordinary event, `[[time, {}], {body}]`, whose body is a map:
//!
//! | key      | value                                                      |
//! |----------|------------------------------------------------------------|
//! | `name`   | the full Prometheus name, `fluentbit_input_records_total`  |
//! | `type`   | `counter`, `gauge` or `untyped`                            |
//! | `help`   | the description (may be empty)                             |
//! | `labels` | a map of label name to label value, both strings           |
//! | `value`  | a float (integers are accepted when reading)               |
//!
//! Because it is an ordinary event, everything that handles logs handles metrics unchanged:
//! buffering, chunk files, routing, the forward protocol's framing, and any output that prints
//! records. Why this form rather than Fluent Bit's cmetrics MessagePack is recorded in
//! `docs/adr/0005-metrics-events.md`.
//!
//! Three renderings: [`write_prometheus_text`] (the exposition format 0.0.4, what
//! `prometheus_exporter` and `/api/v2/metrics/prometheus` serve), and [`to_cmetrics_json`] (the
//! structure of a cmetrics context, as Fluent Bit's cmetrics MessagePack encoder lays it out,
//! as JSON).
//!
//! [`Signal::Metrics`]: crate::Signal::Metrics

use crate::event::{write_head, EventRef};
use crate::value::{begin_map, finish_map, write_f64, write_str};
use crate::view::{read_scalar, MapIter, Scalar};
use crate::{DecodeError, EventTime, EventWriter};
use std::collections::HashMap;
use std::fmt::Write as _;

/// What a sample measures, as Prometheus types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Only goes up (or resets to zero on restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Unknown: Prometheus treats it as a gauge.
    Untyped,
}

impl MetricKind {
    /// The word written in the event and after `# TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
        }
    }

    /// Reads the word written by [`MetricKind::as_str`] (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("counter") {
            Some(MetricKind::Counter)
        } else if s.eq_ignore_ascii_case("gauge") {
            Some(MetricKind::Gauge)
        } else if s.eq_ignore_ascii_case("untyped") {
            Some(MetricKind::Untyped)
        } else {
            None
        }
    }

    /// cmetrics' type number (`CMT_COUNTER` 0, `CMT_GAUGE` 1, `CMT_UNTYPED` 4).
    pub fn cmetrics_type(self) -> u8 {
        match self {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Untyped => 4,
        }
    }
}

/// One measurement: a series (name and labels) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The full name, namespace and subsystem included: `fluentbit_input_records_total`.
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    /// Label names and values, in the order they are shown.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// A sample with no labels.
    pub fn new(
        name: impl Into<String>,
        help: impl Into<String>,
        kind: MetricKind,
        value: f64,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            kind,
            labels: Vec::new(),
            value,
        }
    }

    /// Adds a label (builder style).
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }
}

/// Why an event is not a valid metrics sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("malformed event: {0}")]
    Decode(#[from] DecodeError),
    #[error("metric sample has no '{0}' key")]
    Missing(&'static str),
    #[error("metric sample key '{key}' must be {expected}")]
    Invalid {
        key: &'static str,
        expected: &'static str,
    },
    #[error("'{0}' is not a valid metric name")]
    BadName(String),
    #[error("'{0}' is not a valid label name")]
    BadLabelName(String),
    #[error("label '{0}' is given twice")]
    DuplicateLabel(String),
}

/// Whether `s` is a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `s` is a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`. Names starting
/// with `__` are reserved by Prometheus for its own use and rejected here too.
pub fn is_valid_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.starts_with("__")
}

/// Appends `sample` as one event stamped `time` (no metadata).
pub fn encode(sample: &Sample, time: EventTime, out: &mut EventWriter) {
    let buf = &mut out.buf;
    write_head(buf, time, &[]);
    let body = begin_map(buf);
    write_str(buf, "name");
    write_str(buf, &sample.name);
    write_str(buf, "type");
    write_str(buf, sample.kind.as_str());
    write_str(buf, "help");
    write_str(buf, &sample.help);
    write_str(buf, "labels");
    let labels = begin_map(buf);
    for (k, v) in &sample.labels {
        write_str(buf, k);
        write_str(buf, v);
    }
    finish_map(buf, labels, sample.labels.len());
    write_str(buf, "value");
    write_f64(buf, sample.value);
    finish_map(buf, body, 5);
    out.count += 1;
}

/// Reads a sample back from an event.
///
/// Strict where a mistake would break a scrape (names and label names must be valid, a label
/// may not repeat, `name` and `value` are required) and lenient elsewhere: `help` and `labels`
/// may be missing, `type` defaults to `untyped`, integer values are accepted, and keys it does
/// not know are ignored (a filter may have added one). Never panics; work is bounded by the
/// size of the event.
pub fn decode(event: &EventRef<'_>) -> Result<(EventTime, Sample), MetricError> {
    let mut name = None;
    let mut help = String::new();
    let mut kind = MetricKind::Untyped;
    let mut labels = Vec::new();
    let mut value = None;
    for entry in MapIter::new(event.body)? {
        let entry = entry?;
        match entry.key_str() {
            Some("name") => {
                let Scalar::Str(s) = read_scalar(entry.value) else {
                    return Err(MetricError::Invalid {
                        key: "name",
                        expected: "a string",
                    });
                };
                if !is_valid_metric_name(s) {
                    return Err(MetricError::BadName(s.to_string()));
                }
                name = Some(s.to_string());
            }
            Some("type") => {
                kind = match read_scalar(entry.value) {
                    Scalar::Str(s) => MetricKind::parse(s),
                    _ => None,
                }
                .ok_or(MetricError::Invalid {
                    key: "type",
                    expected: "counter, gauge or untyped",
                })?;
            }
            Some("help") => match read_scalar(entry.value) {
                Scalar::Str(s) => help = s.to_string(),
                Scalar::Nil => help.clear(),
                _ => {
                    return Err(MetricError::Invalid {
                        key: "help",
                        expected: "a string",
                    })
                }
            },
            Some("labels") => labels = read_labels(entry.value)?,
            Some("value") => {
                value = Some(match read_scalar(entry.value) {
                    Scalar::Float(f) => f,
                    Scalar::Int(i) => i as f64,
                    Scalar::UInt(u) => u as f64,
                    _ => {
                        return Err(MetricError::Invalid {
                            key: "value",
                            expected: "a number",
                        })
                    }
                });
            }
            _ => {}
        }
    }
    let name = name.ok_or(MetricError::Missing("name"))?;
    let value = value.ok_or(MetricError::Missing("value"))?;
    Ok((
        event.time,
        Sample {
            name,
            help,
            kind,
            labels,
            value,
        },
    ))
}

fn read_labels(buf: &[u8]) -> Result<Vec<(String, String)>, MetricError> {
    if read_scalar(buf) == Scalar::Nil {
        return Ok(Vec::new());
    }
    let invalid = MetricError::Invalid {
        key: "labels",
        expected: "a map of strings to strings",
    };
    let it = MapIter::new(buf).map_err(|_| invalid.clone())?;
    let mut labels: Vec<(String, String)> = Vec::with_capacity(it.remaining().min(64));
    for entry in it {
        let entry = entry?;
        let (Some(k), Scalar::Str(v)) = (entry.key_str(), read_scalar(entry.value)) else {
            return Err(invalid);
        };
        if !is_valid_label_name(k) {
            return Err(MetricError::BadLabelName(k.to_string()));
        }
        if labels.iter().any(|(n, _)| n == k) {
            return Err(MetricError::DuplicateLabel(k.to_string()));
        }
        labels.push((k.to_string(), v.to_string()));
    }
    Ok(labels)
}

/// Appends `samples` in the Prometheus text exposition format 0.0.4, without timestamps.
///
/// Samples of one family (one name) are written together under a single `# HELP` and
/// `# TYPE`, families in the order they first appear; the help and type of a family are those
/// of its first sample.
pub fn write_prometheus_text(samples: &[Sample], out: &mut String) {
    write_prometheus_text_with(samples.iter().map(|s| (s, None)), &[], out);
}

/// [`write_prometheus_text`] with, for each sample, an optional timestamp (written in
/// milliseconds, as the format wants) and labels added to every sample (`add_label`).
///
/// An added label replaces a sample's label of the same name: a series with a label twice
/// would make Prometheus reject the whole scrape. Names that are not valid Prometheus names
/// have their invalid characters replaced by `_`, for the same reason.
pub fn write_prometheus_text_with<'a>(
    samples: impl IntoIterator<Item = (&'a Sample, Option<EventTime>)>,
    extra_labels: &[(String, String)],
    out: &mut String,
) {
    for family in group(samples) {
        let first = family[0].0;
        let name = sanitize_name(&first.name);
        out.push_str("# HELP ");
        out.push_str(&name);
        if !first.help.is_empty() {
            out.push(' ');
            escape_help(&first.help, out);
        }
        out.push_str("\n# TYPE ");
        out.push_str(&name);
        out.push(' ');
        out.push_str(first.kind.as_str());
        out.push('\n');
        for (s, time) in family {
            out.push_str(&name);
            let shown = extra_labels.iter().chain(
                s.labels
                    .iter()
                    .filter(|(k, _)| !extra_labels.iter().any(|(e, _)| e == k)),
            );
            let mut any = false;
            for (k, v) in shown {
                out.push(if any { ',' } else { '{' });
                any = true;
                out.push_str(&sanitize_label(k));
                out.push_str("=\"");
                escape_label_value(v, out);
                out.push('"');
            }
            if any {
                out.push('}');
            }
            out.push(' ');
            write_value(s.value, out);
            if let Some(t) = time {
                let ms = t.sec.saturating_mul(1000) + i64::from(t.nsec / 1_000_000);
                let _ = write!(out, " {ms}");
            }
            out.push('\n');
        }
    }
}

/// Groups samples by name, families in first-seen order, samples in their order.
fn group<'a>(
    samples: impl IntoIterator<Item = (&'a Sample, Option<EventTime>)>,
) -> Vec<Vec<(&'a Sample, Option<EventTime>)>> {
    let mut families: Vec<Vec<(&Sample, Option<EventTime>)>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (s, t) in samples {
        match index.get(s.name.as_str()) {
            Some(&i) => families[i].push((s, t)),
            None => {
                index.insert(&s.name, families.len());
                families.push(vec![(s, t)]);
            }
        }
    }
    families
}

/// A sample value as the exposition format writes it: integers without a fraction, `NaN`,
/// `+Inf`, `-Inf`, and otherwise the shortest text that reads back to the same float.
pub fn write_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Exact: every integer below 2^53 is representable, and 1e15 < 2^53.
        let _ = write!(out, "{}", v as i64);
    } else {
        // Debug is the shortest round-trip form, with an exponent for very large or small
        // magnitudes (`1e300`), which Prometheus' parser reads.
        let _ = write!(out, "{v:?}");
    }
}

fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
}

fn escape_label_value(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
}

fn sanitize_name(s: &str) -> std::borrow::Cow<'_, str> {
    if is_valid_metric_name(s) {
        return s.into();
    }
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !matches!(
        out.bytes().next(),
        Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':')
    ) {
        out.insert(0, '_');
    }
    out.into()
}

fn sanitize_label(s: &str) -> std::borrow::Cow<'_, str> {
    let ok_chars = s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let ok_start = matches!(s.bytes().next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'));
    if ok_chars && ok_start {
        return s.into();
    }
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !ok_start {
        out.insert(0, '_');
    }
    out.into()
}

/// Subsystems Fluent Bit names its own metrics with; see [`split_name`].
const SUBSYSTEMS: &[&str] = &[
    "input",
    "filter",
    "output",
    "storage",
    "build",
    "routing_logs",
];

/// Splits a full name into cmetrics' namespace, subsystem and name, as Fluent Bit creates its
/// own metrics: `fluentbit_input_records_total` is `fluentbit` / `input` / `records_total`,
/// `fluentbit_uptime` is `fluentbit` / `` / `uptime`.
///
/// The namespace is the text before the first `_`; the subsystem is the next word when it is
/// one Fluent Bit uses (`input`, `filter`, `output`, `storage`, `build`), else empty. Joining
/// the non-empty parts with `_` always gives the full name back.
pub fn split_name(full: &str) -> (&str, &str, &str) {
    let Some((ns, rest)) = full.split_once('_') else {
        return ("", "", full);
    };
    if ns.is_empty() || rest.is_empty() {
        return ("", "", full);
    }
    for ss in SUBSYSTEMS {
        if let Some(name) = rest.strip_prefix(ss).and_then(|r| r.strip_prefix('_')) {
            if !name.is_empty() {
                return (ns, ss, name);
            }
        }
    }
    (ns, "", rest)
}

/// The samples as the structure of a cmetrics context, as JSON: what Fluent Bit's cmetrics
/// MessagePack encoder writes for them (encoder version 2), read as JSON.
///
/// ```text
/// {"meta": {"cmetrics": {}, "external": {}, "processing": {"static_labels": []}},
///  "metrics": [{"meta": {"ver": 2, "type": 0,
///                        "opts": {"ns": "fluentbit", "ss": "input", "name": "records_total",
///                                 "desc": "Number of input records."},
///                        "labels": ["name"], "aggregation_type": 2},
///               "values": [{"ts": 1700000000000000000, "value": 5.0, "labels": ["dummy.0"]}]}]}
/// ```
///
/// One entry per family, in first-seen order. The family's label keys are the union of its
/// samples' label names, in first-seen order; a sample without one of them has `null` in its
/// place, as cmetrics writes an unset label. `ts` is the time in nanoseconds. Counters carry
/// `aggregation_type` 2 (cumulative). cmetrics also writes a `hash` per value, a digest of the
/// label values for its own lookups; it is left out here.
pub fn to_cmetrics_json(samples: &[(EventTime, Sample)]) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut metrics = Vec::new();
    for family in group(samples.iter().map(|(t, s)| (s, Some(*t)))) {
        let first = family[0].0;
        let mut keys: Vec<&str> = Vec::new();
        for (s, _) in &family {
            for (k, _) in &s.labels {
                if !keys.contains(&k.as_str()) {
                    keys.push(k);
                }
            }
        }
        let values: Vec<Value> = family
            .iter()
            .map(|(s, t)| {
                let ts = t.map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(0));
                let mut v = json!({ "ts": ts, "value": s.value });
                if !keys.is_empty() {
                    let labels: Vec<Value> = keys
                        .iter()
                        .map(|k| {
                            s.labels
                                .iter()
                                .find(|(n, _)| n == k)
                                .map_or(Value::Null, |(_, v)| Value::from(v.as_str()))
                        })
                        .collect();
                    v["labels"] = Value::Array(labels);
                }
                v
            })
            .collect();
        let (ns, ss, name) = split_name(&first.name);
        let mut meta = json!({
            "ver": 2,
            "type": first.kind.cmetrics_type(),
            "opts": { "ns": ns, "ss": ss, "name": name, "desc": first.help },
            "labels": keys,
        });
        if first.kind == MetricKind::Counter {
            meta["aggregation_type"] = json!(2);
        }
        metrics.push(json!({ "meta": meta, "values": values }));
    }
    json!({
        "meta": {
            "cmetrics": {},
            "external": {},
            "processing": { "static_labels": [] },
        },
        "metrics": metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Events;
    use proptest::prelude::*;

    fn records(name: &str, value: f64) -> Sample {
        Sample::new(name, "Number of input records.", MetricKind::Counter, value)
            .label("name", "dummy.0")
    }

    fn round_trip(s: &Sample, t: EventTime) -> (EventTime, Sample) {
        let mut w = EventWriter::new();
        encode(s, t, &mut w);
        assert_eq!(w.count, 1);
        let ev = Events::new(&w.buf).next().unwrap().unwrap();
        decode(&ev).unwrap()
    }

    #[test]
    fn encodes_an_ordinary_event() {
        let s = records("fluentbit_input_records_total", 42.0);
        let mut w = EventWriter::new();
        encode(&s, EventTime::new(1_700_000_000, 5), &mut w);
        let ev = Events::new(&w.buf).next().unwrap().unwrap();
        assert_eq!(
            crate::json::to_json_string(ev.body).unwrap(),
            r#"{"name":"fluentbit_input_records_total","type":"counter","help":"Number of input records.","labels":{"name":"dummy.0"},"value":42.0}"#
        );
        assert_eq!(
            round_trip(&s, EventTime::new(7, 8)),
            (EventTime::new(7, 8), s)
        );
    }

    fn body(json: &str) -> Result<(EventTime, Sample), MetricError> {
        let mut b = Vec::new();
        crate::json::from_json(json, &mut b).unwrap();
        let mut w = EventWriter::new();
        w.push(EventTime::new(1, 0), &[], &b);
        let ev = Events::new(&w.buf).next().unwrap().unwrap();
        decode(&ev)
    }

    #[test]
    fn decode_is_lenient_where_it_is_safe() {
        let (_, s) = body(r#"{"name":"up","value":1,"extra":"x"}"#).unwrap();
        assert_eq!(s, Sample::new("up", "", MetricKind::Untyped, 1.0));
        let (_, s) = body(r#"{"name":"t","value":-3,"type":"GAUGE","labels":null}"#).unwrap();
        assert_eq!((s.kind, s.value), (MetricKind::Gauge, -3.0));
    }

    #[test]
    fn decode_rejects_what_would_break_a_scrape() {
        let cases = [
            (r#"{"value":1}"#, "no 'name'"),
            (r#"{"name":"a"}"#, "no 'value'"),
            (r#"{"name":"a b","value":1}"#, "not a valid metric name"),
            (r#"{"name":"a","value":"1"}"#, "must be a number"),
            (
                r#"{"name":"a","value":1,"type":"histogram"}"#,
                "counter, gauge",
            ),
            (
                r#"{"name":"a","value":1,"labels":{"x-y":"1"}}"#,
                "not a valid label",
            ),
            (
                r#"{"name":"a","value":1,"labels":{"__x":"1"}}"#,
                "not a valid label",
            ),
            (
                r#"{"name":"a","value":1,"labels":{"x":1}}"#,
                "map of strings",
            ),
            (r#"{"name":"a","value":1,"labels":[1]}"#, "map of strings"),
            (
                r#"{"name":"a","value":1,"labels":{"x":"1","x":"2"}}"#,
                "twice",
            ),
            (r#"[1,2]"#, "malformed"),
        ];
        for (json, want) in cases {
            let e = body(json).unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
    }

    #[test]
    fn names() {
        assert!(is_valid_metric_name("fluentbit_uptime"));
        assert!(is_valid_metric_name(":a:b_1"));
        assert!(!is_valid_metric_name("1a"));
        assert!(!is_valid_metric_name(""));
        assert!(!is_valid_metric_name("a.b"));
        assert!(is_valid_label_name("name"));
        assert!(is_valid_label_name("_x1"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("__name__"));
    }

    #[test]
    fn prometheus_text_groups_families_in_first_seen_order() {
        let samples = vec![
            records("fluentbit_input_records_total", 3.0),
            Sample::new(
                "fluentbit_uptime",
                "Number of seconds.",
                MetricKind::Counter,
                12.0,
            )
            .label("hostname", "h"),
            Sample::new(
                "fluentbit_input_records_total",
                "",
                MetricKind::Counter,
                4.0,
            )
            .label("name", "tail.0"),
            Sample::new("weir_ratio", "", MetricKind::Gauge, 0.25),
        ];
        let mut out = String::new();
        write_prometheus_text(&samples, &mut out);
        assert_eq!(
            out,
            "# HELP fluentbit_input_records_total Number of input records.\n\
             # TYPE fluentbit_input_records_total counter\n\
             fluentbit_input_records_total{name=\"dummy.0\"} 3\n\
             fluentbit_input_records_total{name=\"tail.0\"} 4\n\
             # HELP fluentbit_uptime Number of seconds.\n\
             # TYPE fluentbit_uptime counter\n\
             fluentbit_uptime{hostname=\"h\"} 12\n\
             # HELP weir_ratio\n\
             # TYPE weir_ratio gauge\n\
             weir_ratio 0.25\n"
        );
    }

    #[test]
    fn prometheus_text_escapes_and_timestamps() {
        let s = Sample::new("m", "line\\one\ntwo", MetricKind::Gauge, f64::NAN)
            .label("path", "C:\\a \"b\"\nc")
            .label("app", "mine");
        let inf = Sample::new("m", "", MetricKind::Gauge, f64::NEG_INFINITY);
        let extra = vec![("app".to_string(), "weir".to_string())];
        let mut out = String::new();
        write_prometheus_text_with(
            [
                (&s, Some(EventTime::new(1_700_000_000, 123_456_789))),
                (&inf, None),
            ],
            &extra,
            &mut out,
        );
        assert_eq!(
            out,
            "# HELP m line\\\\one\\ntwo\n\
             # TYPE m gauge\n\
             m{app=\"weir\",path=\"C:\\\\a \\\"b\\\"\\nc\"} NaN 1700000000123\n\
             m{app=\"weir\"} -Inf\n"
        );
    }

    #[test]
    fn values() {
        let text = |v: f64| {
            let mut s = String::new();
            write_value(v, &mut s);
            s
        };
        assert_eq!(text(0.0), "0");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(1234567.0), "1234567");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(1e300), "1e300");
        assert_eq!(text(1.5e-9), "1.5e-9");
        assert_eq!(text(f64::INFINITY), "+Inf");
        for v in [1e15, 123.456, 1e-300, 9007199254740993.0] {
            assert_eq!(text(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn invalid_names_are_made_safe_in_text() {
        let s = Sample::new("9 bad.name", "", MetricKind::Untyped, 1.0).label("x-y", "v");
        let mut out = String::new();
        write_prometheus_text(&[s], &mut out);
        assert!(out.contains("\n_9_bad_name{x_y=\"v\"} 1\n"), "{out}");
    }

    #[test]
    fn splits_names_as_fluent_bit() {
        assert_eq!(
            split_name("fluentbit_input_records_total"),
            ("fluentbit", "input", "records_total")
        );
        assert_eq!(split_name("fluentbit_uptime"), ("fluentbit", "", "uptime"));
        assert_eq!(
            split_name("fluentbit_build_info"),
            ("fluentbit", "build", "info")
        );
        assert_eq!(
            split_name("fluentbit_process_start_time_seconds"),
            ("fluentbit", "", "process_start_time_seconds")
        );
        assert_eq!(split_name("fluentbit_input"), ("fluentbit", "", "input"));
        assert_eq!(split_name("up"), ("", "", "up"));
        assert_eq!(split_name("_x"), ("", "", "_x"));
        assert_eq!(
            split_name("weir_storage_bytes"),
            ("weir", "storage", "bytes")
        );
    }

    #[test]
    fn cmetrics_json_shape() {
        let t = EventTime::new(2, 5);
        let samples = vec![
            (t, records("fluentbit_input_records_total", 3.0)),
            (
                t,
                Sample::new(
                    "fluentbit_input_records_total",
                    "",
                    MetricKind::Counter,
                    4.0,
                )
                .label("other", "o"),
            ),
            (
                t,
                Sample::new("fluentbit_uptime", "Up.", MetricKind::Gauge, 1.0),
            ),
        ];
        let j = to_cmetrics_json(&samples);
        assert_eq!(
            j["meta"]["processing"]["static_labels"],
            serde_json::json!([])
        );
        let m = &j["metrics"][0];
        assert_eq!(m["meta"]["ver"], 2);
        assert_eq!(m["meta"]["type"], 0);
        assert_eq!(m["meta"]["aggregation_type"], 2);
        assert_eq!(
            m["meta"]["opts"],
            serde_json::json!({"ns":"fluentbit","ss":"input","name":"records_total","desc":"Number of input records."})
        );
        assert_eq!(m["meta"]["labels"], serde_json::json!(["name", "other"]));
        assert_eq!(
            m["values"],
            serde_json::json!([
                {"ts": 2_000_000_005u64, "value": 3.0, "labels": ["dummy.0", null]},
                {"ts": 2_000_000_005u64, "value": 4.0, "labels": [null, "o"]},
            ])
        );
        let up = &j["metrics"][1];
        assert_eq!(up["meta"]["type"], 1);
        assert!(up["meta"].get("aggregation_type").is_none());
        assert!(up["values"][0].get("labels").is_none());
        assert_eq!(j["metrics"].as_array().unwrap().len(), 2);
    }

    fn arb_sample() -> impl Strategy<Value = Sample> {
        let label = ("[a-zA-Z][a-zA-Z0-9_]{0,10}", ".{0,20}");
        (
            "[a-zA-Z_:][a-zA-Z0-9_:]{0,30}",
            ".{0,40}",
            prop_oneof![
                Just(MetricKind::Counter),
                Just(MetricKind::Gauge),
                Just(MetricKind::Untyped)
            ],
            proptest::collection::vec(label, 0..20),
            any::<f64>(),
        )
            .prop_map(|(name, help, kind, mut labels, value)| {
                let mut seen = std::collections::HashSet::new();
                labels.retain(|(k, _)| seen.insert(k.clone()));
                Sample {
                    name,
                    help,
                    kind,
                    labels,
                    value,
                }
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(s in arb_sample(), sec in any::<u32>(), nsec in 0u32..1_000_000_000) {
            let t = EventTime::new(i64::from(sec), nsec);
            let (t2, s2) = round_trip(&s, t);
            prop_assert_eq!(t2, t);
            prop_assert_eq!(&s2.name, &s.name);
            prop_assert_eq!(&s2.help, &s.help);
            prop_assert_eq!(s2.kind, s.kind);
            prop_assert_eq!(&s2.labels, &s.labels);
            prop_assert!(s2.value == s.value || (s2.value.is_nan() && s.value.is_nan()));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut w = EventWriter::new();
            w.push(EventTime::new(1, 0), &[], &bytes);
            for ev in Events::new(&w.buf).flatten() {
                let _ = decode(&ev);
            }
            for ev in Events::new(&bytes).flatten() {
                let _ = decode(&ev);
            }
        }

        #[test]
        fn text_lines_are_well_formed(samples in proptest::collection::vec(arb_sample(), 0..10)) {
            let mut out = String::new();
            write_prometheus_text(&samples, &mut out);
            for line in out.lines() {
                // Escaping keeps every sample on its own line.
                prop_assert!(line.starts_with("# HELP ") || line.starts_with("# TYPE ")
                    || samples.iter().any(|s| line.starts_with(s.name.as_str())));
            }
            prop_assert_eq!(
                out.lines().filter(|l| !l.starts_with('#')).count(),
                samples.len()
            );
        }
    }
}
