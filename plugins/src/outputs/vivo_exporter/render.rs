//! A chunk as one stream entry: one line of JSON, in the shape of Fluent Bit's exporter.
//!
//! ```text
//! {"tag":"app.log","records":[[[1679416945459254000,{}],{"message":"dummy"}], ...]}
//! ```
//!
//! Each record is `[[time, {metadata}], {body}]` with the time in integer nanoseconds since the
//! epoch, as Fluent Bit writes it. Fluent Bit (since 4.1) also names the input the chunk came
//! from (`source_type`, `source_name`); Weir's chunks do not carry their input, so those keys
//! are left out rather than guessed.
//!
//! Metrics and traces chunks take the same envelope: each record is one event of Weir's
//! metrics or traces representation (for metrics, one sample per event, its body holding the
//! name, type, help, labels and value). Fluent Bit writes its cmetrics and ctraces objects
//! there instead, which have no equivalent in Weir; the envelope keeps every stream readable by
//! one parser (the live-tail page is one).

use std::fmt::Write as _;
use weir_event::json::{write_json, write_json_str};
use weir_event::{Chunk, DecodeError};

/// The entry for `chunk`, newline included.
pub fn chunk_entry(chunk: &Chunk) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(chunk.size() * 2 + chunk.tag.len() + 32);
    out.push_str("{\"tag\":");
    write_json_str(&chunk.tag, &mut out);
    out.push_str(",\"records\":[");
    for (i, ev) in chunk.events().enumerate() {
        let ev = ev?;
        if i > 0 {
            out.push(',');
        }
        // Times before 1970 clamp to 0: the field is unsigned in Fluent Bit.
        let nanos = u64::try_from(ev.time.as_nanos().max(0)).unwrap_or(u64::MAX);
        let _ = write!(out, "[[{nanos},");
        write_json(ev.metadata, &mut out)?;
        out.push_str("],");
        write_json(ev.body, &mut out)?;
        out.push(']');
    }
    out.push_str("]}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;
    use weir_event::{EventTime, EventWriter, Signal};

    fn chunk(tag: &str, signal: Signal, records: &[(EventTime, &str, &str)]) -> Chunk {
        let mut w = EventWriter::new();
        for (t, meta, body) in records {
            let (mut m, mut b) = (Vec::new(), Vec::new());
            weir_event::json::from_json(meta, &mut m).expect("metadata JSON");
            weir_event::json::from_json(body, &mut b).expect("body JSON");
            w.push(*t, &m, &b);
        }
        Chunk {
            id: 1,
            tag: Arc::from(tag),
            signal,
            records: w.count,
            data: w.buf,
            created: Instant::now(),
        }
    }

    #[test]
    fn logs_in_fluent_bits_shape() {
        let c = chunk(
            "app.\"x\"",
            Signal::Logs,
            &[
                (
                    EventTime::new(1679416945, 459254000),
                    "{}",
                    r#"{"message":"dummy"}"#,
                ),
                (
                    EventTime::new(1679416946, 1),
                    r#"{"level":"info"}"#,
                    r#"{"n":1,"nested":{"a":[1,2]}}"#,
                ),
            ],
        );
        let line = chunk_entry(&c).unwrap();
        assert_eq!(
            line,
            concat!(
                r#"{"tag":"app.\"x\"","records":["#,
                r#"[[1679416945459254000,{}],{"message":"dummy"}],"#,
                r#"[[1679416946000000001,{"level":"info"}],{"n":1,"nested":{"a":[1,2]}}]"#,
                "]}\n"
            )
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["records"][1][1]["nested"]["a"][1], 2);
    }

    #[test]
    fn metrics_events_keep_their_body() {
        let c = chunk(
            "weir.metrics",
            Signal::Metrics,
            &[(
                EventTime::new(10, 0),
                "{}",
                r#"{"name":"weir_input_records_total","type":"counter","help":"Records.","labels":{"name":"dummy.0"},"value":42}"#,
            )],
        );
        let v: serde_json::Value = serde_json::from_str(&chunk_entry(&c).unwrap()).unwrap();
        assert_eq!(v["tag"], "weir.metrics");
        assert_eq!(v["records"][0][0][0], 10_000_000_000u64);
        assert_eq!(v["records"][0][1]["labels"]["name"], "dummy.0");
        assert_eq!(v["records"][0][1]["value"], 42);
    }

    #[test]
    fn a_damaged_chunk_is_an_error_not_a_panic() {
        let mut c = chunk("t", Signal::Logs, &[(EventTime::new(1, 0), "{}", "{}")]);
        c.data.truncate(c.data.len() - 1);
        c.data.push(0xc1);
        assert!(chunk_entry(&c).is_err());
    }
}
