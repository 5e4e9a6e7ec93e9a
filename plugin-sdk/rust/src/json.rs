//! JSON text of values and events, as Weir's JSON outputs write them.
//!
//! Binary values become strings (invalid UTF-8 replaced), EventTime extensions float seconds,
//! other extensions an empty string; NaN and infinities become `null`; whole floats keep a
//! `.0`; map keys that are not strings are rendered and quoted. Nesting deeper than
//! [`crate::msgpack::MAX_DEPTH`] is an error rather than a deep recursion.

use crate::event::{Event, EventTime, EVENT_TIME_EXT};
use crate::msgpack::{DecodeError, MAX_DEPTH};
use crate::value::Value;
use std::fmt::Write as _;

/// Appends the JSON text of `value`.
pub fn write_value(value: &Value<'_>, out: &mut String) -> Result<(), DecodeError> {
    let mark = out.len();
    let res = write_depth(value, out, 0);
    if res.is_err() {
        out.truncate(mark);
    }
    res
}

/// Appends an event as one line of the JSON event format, without the newline:
/// `{"time_ns":1700000000000000000,"metadata":{},"record":{"msg":"hi"}}`.
pub fn write_event(event: &Event<'_>, out: &mut String) -> Result<(), DecodeError> {
    let mark = out.len();
    let _ = write!(
        out,
        "{{\"time_ns\":{},\"metadata\":",
        event.time().as_nanos()
    );
    let res = write_depth(&Value::Map(event.metadata()), out, 1)
        .and_then(|()| {
            out.push_str(",\"record\":");
            write_depth(&event.body(), out, 1)
        })
        .map(|()| out.push('}'));
    if res.is_err() {
        out.truncate(mark);
    }
    res
}

fn write_depth(value: &Value<'_>, out: &mut String, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    match *value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => write_float(f, out),
        Value::Str(s) => write_str(s, out),
        Value::Bin(b) => write_str(&String::from_utf8_lossy(b), out),
        Value::Ext(EVENT_TIME_EXT, b) if b.len() == 8 => {
            let sec = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let nsec = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            write_float(EventTime::new(i64::from(sec), nsec).as_f64(), out);
        }
        Value::Ext(..) => out.push_str("\"\""),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_depth(&v, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Value::Str(s) => write_str(s, out),
                    Value::Bin(b) => write_str(&String::from_utf8_lossy(b), out),
                    other => {
                        let mut key = String::new();
                        write_depth(&other, &mut key, depth + 1)?;
                        write_str(&key, out);
                    }
                }
                out.push(':');
                write_depth(&v, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Shortest round-trip form, `.0` on whole numbers so the type survives, `null` for NaN and
/// infinities.
fn write_float(v: f64, out: &mut String) {
    if !v.is_finite() {
        out.push_str("null");
        return;
    }
    let start = out.len();
    let _ = write!(out, "{v}");
    if !out[start..].contains(['.', 'e', 'E']) {
        out.push_str(".0");
    }
}

/// Appends `s` quoted, with JSON's escapes.
pub fn write_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        last = i + 1;
    }
    out.push_str(&s[last..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{to_msgpack, Bin, MapBuilder};
    use crate::{Batch, EventWriter};

    #[test]
    fn renders_values() {
        let buf = to_msgpack(
            MapBuilder::new()
                .field("s", "a\"b\\c\n\u{1}")
                .field("i", -3)
                .field("f", 2.0)
                .field("nan", f64::NAN)
                .field("b", false)
                .field("n", ())
                .field("bin", Bin(b"hi"))
                .field("t", EventTime::new(1, 500_000_000))
                .field("a", vec![1u8, 2]),
        );
        let (v, _) = Value::decode(&buf).unwrap();
        assert_eq!(
            v.to_json().unwrap(),
            r#"{"s":"a\"b\\c\n\u0001","i":-3,"f":2.0,"nan":null,"b":false,"n":null,"bin":"hi","t":1.5,"a":[1,2]}"#
        );
    }

    #[test]
    fn renders_events_in_the_json_event_format() {
        let mut w = EventWriter::new();
        w.event(EventTime::new(2, 5))
            .meta("m", 1)
            .field("msg", "hi")
            .finish();
        let ev = Batch::new("t", w.as_bytes(), 1)
            .events()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            ev.to_json().unwrap(),
            r#"{"time_ns":2000000005,"metadata":{"m":1},"record":{"msg":"hi"}}"#
        );
    }

    #[test]
    fn non_string_keys_are_quoted() {
        // {1: "x", nil: "y"}
        let buf = [0x82, 0x01, 0xa1, b'x', 0xc0, 0xa1, b'y'];
        let (v, _) = Value::decode(&buf).unwrap();
        assert_eq!(v.to_json().unwrap(), r#"{"1":"x","null":"y"}"#);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let mut deep = vec![0x91u8; MAX_DEPTH + 10];
        deep.push(0xc0);
        let (v, _) = Value::decode(&deep).unwrap();
        let mut out = String::from("keep");
        assert_eq!(write_value(&v, &mut out), Err(DecodeError::TooDeep));
        assert_eq!(out, "keep");
    }
}
