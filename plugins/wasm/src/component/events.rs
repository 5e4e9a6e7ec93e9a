//! Events between Weir and a plugin, in the plugin's event format.
//!
//! - `msgpack`: Weir's own bytes, handed over as they are. What comes back is checked event by
//!   event before it goes further (a plugin's bytes are input from outside): an event that
//!   does not decode, or whose metadata or body is not a map, fails the call. Events already
//!   in Weir's form (`[[EventTime, {metadata}], {body}]`) are copied as they are; others (an
//!   integer or float time, the legacy `[time, body]` form) are rewritten into it, so nothing
//!   downstream sees a form Weir never writes.
//! - `json`: one object per line, `{"time_ns":N,"metadata":{..},"record":{..}}`, converted both
//!   ways with `weir_event::json`. Coming back, `time_ns` may be missing (the batch's time, else
//!   now) and `metadata` too (none); blank lines are skipped.

use serde::Deserialize;
use serde_json::value::RawValue;
use weir_event::event::{read_event, write_head};
use weir_event::json::{from_json, write_json};
use weir_event::{EventTime, EventWriter, Events};

/// An event format, as the plugin asked for it in `describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Msgpack,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Msgpack => "msgpack",
            Format::Json => "json",
        }
    }
}

/// Encodes a chunk's events (`records` of them) as the plugin reads them: msgpack plugins get
/// Weir's own bytes, moved; JSON ones a rendering. Returns the bytes and how many events
/// they hold.
pub fn to_guest(format: Format, data: Vec<u8>, records: usize) -> Result<(Vec<u8>, u32), String> {
    match format {
        Format::Msgpack => Ok((data, saturating_u32(records))),
        Format::Json => to_json_lines(&data),
    }
}

/// Checks a plugin's events and appends them to `out` in Weir's form.
pub fn from_guest(format: Format, data: &[u8], out: &mut EventWriter) -> Result<(), String> {
    let mark = (out.buf.len(), out.count);
    let res = match format {
        Format::Msgpack => append_msgpack(data, out),
        Format::Json => append_json_lines(data, out),
    };
    if res.is_err() {
        // Nothing of a batch that fails goes further.
        out.buf.truncate(mark.0);
        out.count = mark.1;
    }
    res
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn is_map(b: &[u8]) -> bool {
    matches!(b.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

/// Weir's own head: a 2-element event, a 2-element header, the EventTime extension.
fn is_canonical_head(raw: &[u8]) -> bool {
    raw.len() >= 4 && raw[0] == 0x92 && raw[1] == 0x92 && raw[2] == 0xd7 && raw[3] == 0x00
}

fn append_msgpack(data: &[u8], out: &mut EventWriter) -> Result<(), String> {
    let mut pos = 0;
    let mut n = 0usize;
    while pos < data.len() {
        let (ev, end) = read_event(data, pos).map_err(|e| format!("event {n}: {e}"))?;
        if !is_map(ev.metadata) {
            return Err(format!("event {n}: the metadata is not a map"));
        }
        if !is_map(ev.body) {
            return Err(format!("event {n}: the record is not a map"));
        }
        if is_canonical_head(ev.raw) && ev.raw.len() == 12 + ev.metadata.len() + ev.body.len() {
            out.buf.extend_from_slice(ev.raw);
            out.count += 1;
        } else {
            out.push(ev.time, ev.metadata, ev.body);
        }
        pos = end;
        n += 1;
    }
    Ok(())
}

/// Renders events as JSON lines; returns the text and how many events it holds.
pub fn to_json_lines(data: &[u8]) -> Result<(Vec<u8>, u32), String> {
    let mut s = String::with_capacity(data.len() * 2);
    let mut n = 0usize;
    for ev in Events::new(data) {
        let ev = ev.map_err(|e| e.to_string())?;
        s.push_str("{\"time_ns\":");
        s.push_str(&ev.time.as_nanos().to_string());
        s.push_str(",\"metadata\":");
        write_json(ev.metadata, &mut s).map_err(|e| e.to_string())?;
        s.push_str(",\"record\":");
        write_json(ev.body, &mut s).map_err(|e| e.to_string())?;
        s.push_str("}\n");
        n += 1;
    }
    Ok((s.into_bytes(), saturating_u32(n)))
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(default)]
    time_ns: Option<serde_json::Number>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow)]
    record: &'a RawValue,
}

fn time_of(n: &serde_json::Number) -> Option<EventTime> {
    const NS: i128 = 1_000_000_000;
    let ns: i128 = if let Some(v) = n.as_i64() {
        i128::from(v)
    } else if let Some(v) = n.as_u64() {
        i128::from(v)
    } else {
        let f = n.as_f64()?;
        if !f.is_finite() {
            return None;
        }
        f as i128
    };
    let sec = i64::try_from(ns.div_euclid(NS)).ok()?;
    let nsec = u32::try_from(ns.rem_euclid(NS)).ok()?;
    Some(EventTime::new(sec, nsec))
}

fn append_json_lines(data: &[u8], out: &mut EventWriter) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(|e| format!("the events are not UTF-8: {e}"))?;
    let mut meta = Vec::new();
    let mut body = Vec::new();
    let mut now: Option<EventTime> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let l: Line<'_> = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let time = match &l.time_ns {
            Some(n) => time_of(n).ok_or_else(|| format!("line {}: bad time_ns", i + 1))?,
            None => *now.get_or_insert_with(EventTime::now),
        };
        meta.clear();
        match l.metadata {
            Some(m) if m.get() != "null" => {
                from_json(m.get(), &mut meta).map_err(|e| format!("line {}: {e}", i + 1))?;
                if !is_map(&meta) {
                    return Err(format!("line {}: metadata is not an object", i + 1));
                }
            }
            _ => meta.push(0x80),
        }
        body.clear();
        from_json(l.record.get(), &mut body).map_err(|e| format!("line {}: {e}", i + 1))?;
        if !is_map(&body) {
            return Err(format!("line {}: record is not an object", i + 1));
        }
        write_head(&mut out.buf, time, &meta);
        out.buf.extend_from_slice(&body);
        out.count += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_event::json::to_json_string;

    fn events(records: &[(i64, &str, &str)]) -> Vec<u8> {
        let mut w = EventWriter::new();
        for (sec, meta, body) in records {
            let (mut m, mut b) = (Vec::new(), Vec::new());
            from_json(meta, &mut m).unwrap();
            from_json(body, &mut b).unwrap();
            w.push(EventTime::new(*sec, 5), &m, &b);
        }
        w.buf
    }

    #[test]
    fn json_lines_go_both_ways() {
        let data = events(&[
            (1, "{}", r#"{"a":1}"#),
            (2, r#"{"m":"x"}"#, r#"{"b":"two"}"#),
        ]);
        let (text, n) = to_json_lines(&data).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            std::str::from_utf8(&text).unwrap(),
            "{\"time_ns\":1000000005,\"metadata\":{},\"record\":{\"a\":1}}\n\
             {\"time_ns\":2000000005,\"metadata\":{\"m\":\"x\"},\"record\":{\"b\":\"two\"}}\n"
        );
        let mut out = EventWriter::new();
        from_guest(Format::Json, &text, &mut out).unwrap();
        assert_eq!(out.count, 2);
        assert_eq!(out.buf, data, "the round trip is exact");
    }

    #[test]
    fn json_lines_may_leave_out_time_and_metadata() {
        let mut out = EventWriter::new();
        from_guest(Format::Json, b"\n{\"record\":{\"k\":true}}\n\n", &mut out).unwrap();
        assert_eq!(out.count, 1);
        let ev = Events::new(&out.buf).next().unwrap().unwrap();
        assert_eq!(to_json_string(ev.body).unwrap(), r#"{"k":true}"#);
        assert_eq!(ev.metadata, &[0x80]);
        assert!(ev.time.as_nanos() > 0);
    }

    #[test]
    fn bad_json_fails_the_whole_batch() {
        let mut out = EventWriter::new();
        out.push(EventTime::new(1, 0), &[0x80], &[0x80]);
        let before = out.buf.clone();
        for bad in [
            &b"{\"record\":{}}\n{\"record\":[1]}"[..],
            b"{\"record\":{}}\nnot json",
            b"{\"metadata\":{}}",
            b"{\"record\":{},\"time_ns\":\"x\"}",
            b"\xff",
        ] {
            assert!(from_guest(Format::Json, bad, &mut out).is_err());
            assert_eq!(out.buf, before);
            assert_eq!(out.count, 1);
        }
    }

    #[test]
    fn msgpack_passes_as_is_and_is_checked() {
        let data = events(&[(1, "{}", r#"{"a":1}"#), (2, "{}", r#"{"b":2}"#)]);
        let (moved, n) = to_guest(Format::Msgpack, data.clone(), 2).unwrap();
        assert_eq!((moved.as_slice(), n), (data.as_slice(), 2));
        let (text, n) = to_guest(Format::Json, data.clone(), 2).unwrap();
        assert_eq!((text, n), to_json_lines(&data).unwrap());
        let mut out = EventWriter::new();
        from_guest(Format::Msgpack, &data, &mut out).unwrap();
        assert_eq!((out.buf.as_slice(), out.count), (data.as_slice(), 2));

        let mut out = EventWriter::new();
        assert!(from_guest(Format::Msgpack, &data[..data.len() - 1], &mut out).is_err());
        assert_eq!(out.count, 0);
        // A body that is not a map.
        let mut bad = data.clone();
        bad.extend_from_slice(&[0x92, 0x92, 0x01, 0x80, 0x01]);
        assert!(from_guest(Format::Msgpack, &bad, &mut out).is_err());
    }

    #[test]
    fn other_forms_are_rewritten_into_weirs() {
        // Legacy [time, body] with an integer time.
        let legacy = [0x92, 0x05, 0x81, 0xa1, b'k', 0x01];
        let mut out = EventWriter::new();
        from_guest(Format::Msgpack, &legacy, &mut out).unwrap();
        assert_eq!(out.count, 1);
        let ev = Events::new(&out.buf).next().unwrap().unwrap();
        assert!(is_canonical_head(ev.raw));
        assert_eq!(ev.time, EventTime::new(5, 0));
        assert_eq!(to_json_string(ev.body).unwrap(), r#"{"k":1}"#);
    }

    #[test]
    fn negative_and_float_times() {
        assert_eq!(
            time_of(&serde_json::Number::from(-1)),
            Some(EventTime::new(-1, 999_999_999))
        );
        let f = serde_json::Number::from_f64(1.5e9).unwrap();
        assert_eq!(time_of(&f), Some(EventTime::new(1, 500_000_000)));
    }
}
