//! `/api/v1/metrics/prometheus`: the `/api/v1/metrics` counters in Fluent Bit's v1 Prometheus
//! text, which dashboards built for Fluent Bit 1.x scrape.
//!
//! Each counter becomes `fluentbit_<kind>_<counter>_total{name="<instance>"} <value> <ms>`,
//! lines sorted, one `# HELP` and `# TYPE` per metric, followed by
//! `process_start_time_seconds` and `fluentbit_build_info`, as Fluent Bit writes them.
//! (`/api/v2/metrics/prometheus` is the newer, richer form.)

use crate::metrics::Metrics;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The v1 exposition text, at `now`.
pub(crate) fn render(metrics: &Metrics, now: SystemTime) -> String {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut push = |kind: &str, counter: &str, name: &str, value: u64| {
        let metric = format!("fluentbit_{kind}_{counter}_total");
        let line = format!("{metric}{{name=\"{}\"}} {value} {ms}\n", escape(name));
        lines.push((metric, line));
    };
    for (name, m) in metrics.inputs() {
        push("input", "records", &name, m.records.get());
        push("input", "bytes", &name, m.bytes.get());
        for (counter, v) in m.extras() {
            push("input", counter, &name, v);
        }
    }
    for (name, m) in metrics.filters() {
        push("filter", "add_records", &name, m.add_records.get());
        push("filter", "drop_records", &name, m.drop_records.get());
    }
    for (name, m) in metrics.outputs() {
        push("output", "proc_records", &name, m.proc_records.get());
        push("output", "proc_bytes", &name, m.proc_bytes.get());
        push("output", "errors", &name, m.errors.get());
        push("output", "retries", &name, m.retries.get());
        push("output", "retries_failed", &name, m.retries_failed.get());
        push("output", "dropped_records", &name, m.dropped_records.get());
        push("output", "retried_records", &name, m.retried_records.get());
    }
    lines.sort_by(|a, b| a.1.cmp(&b.1));

    let mut out = String::new();
    let mut current: Option<&str> = None;
    for (metric, line) in &lines {
        if current != Some(metric.as_str()) {
            let _ = writeln!(out, "# HELP {metric} {}", help(metric));
            let _ = writeln!(out, "# TYPE {metric} counter");
            current = Some(metric);
        }
        out.push_str(line);
    }
    let start = metrics
        .started_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds."
    );
    let _ = writeln!(out, "# TYPE process_start_time_seconds gauge");
    let _ = writeln!(out, "process_start_time_seconds {start}");
    let _ = writeln!(
        out,
        "# HELP fluentbit_build_info Build version information."
    );
    let _ = writeln!(out, "# TYPE fluentbit_build_info gauge");
    let _ = writeln!(
        out,
        "fluentbit_build_info{{version=\"{}\",edition=\"Community\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The HELP text Fluent Bit gives each v1 counter.
fn help(metric: &str) -> String {
    let name = metric
        .strip_prefix("fluentbit_")
        .and_then(|m| m.strip_suffix("_total"))
        .unwrap_or(metric);
    let (kind, counter) = name.split_once('_').unwrap_or((name, ""));
    let what = match counter {
        "records" | "bytes" if kind == "input" => format!("input {counter}"),
        "proc_records" => "processed output records".into(),
        "proc_bytes" => "processed output bytes".into(),
        "errors" => "output errors".into(),
        "retries" => "output retries".into(),
        "retries_failed" => "output retries failed".into(),
        "dropped_records" => "dropped output records".into(),
        "retried_records" => "retried output records".into(),
        "add_records" => "records added".into(),
        "drop_records" => "records dropped".into(),
        other => other.replace('_', " "),
    };
    format!("Number of {what} by Fluent Bit {kind} plugin.")
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fluent_bit_v1_shape() {
        let m = Metrics::new();
        m.add_input("dummy.0".into()).records.add(3);
        m.add_output("null.0".into()).errors.add(2);
        m.add_filter("grep.0".into()).drop_records.inc();
        let text = render(&m, UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        assert!(
            text.contains("fluentbit_input_records_total{name=\"dummy.0\"} 3 1700000000123\n"),
            "{text}"
        );
        assert!(text.contains("fluentbit_output_errors_total{name=\"null.0\"} 2 1700000000123\n"));
        assert!(text.contains("fluentbit_filter_drop_records_total{name=\"grep.0\"} 1 "));
        assert!(text.contains(
            "# HELP fluentbit_input_records_total Number of input records by Fluent Bit input plugin.\n# TYPE fluentbit_input_records_total counter\n"
        ));
        assert!(
            text.contains("# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ")
        );
        assert!(text.ends_with(&format!(
            "fluentbit_build_info{{version=\"{}\",edition=\"Community\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        // One HELP per metric, even with several instances.
        m.add_input("dummy.1".into());
        let text = render(&m, SystemTime::now());
        assert_eq!(
            text.matches("# HELP fluentbit_input_records_total ")
                .count(),
            1
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.add_output("we\"ird\\\nname".into());
        let text = render(&m, SystemTime::now());
        assert!(text.contains("{name=\"we\\\"ird\\\\\\nname\"}"), "{text}");
    }

    #[test]
    fn every_sample_line_parses() {
        let m = Metrics::new();
        let i = m.add_input("tail.0".into());
        i.counter("files_opened").add(2);
        m.add_output("stdout.0".into());
        for line in render(&m, SystemTime::now()).lines() {
            if line.starts_with('#') {
                continue;
            }
            let values = match line.rsplit_once("} ") {
                Some((_, v)) => v,
                None => line.split_once(' ').map_or("", |(_, v)| v),
            };
            assert!(
                values.split(' ').all(|f| f.parse::<u64>().is_ok()),
                "{line}"
            );
        }
    }
}
