//! Records as msgpack-c's `msgpack_object_print` shows them, which is what Fluent Bit's
//! stdout output (format `msgpack`) and stdout filter print:
//!
//! ```text
//! [0] dummy.0: [[1750323528.603308000, {}], {"INT"=>"100", "ok"=>true, "n"=>nil}]
//! ```
//!
//! Strings print between quotes as they are (no escaping, as msgpack-c), floats with six
//! decimals, binary values as quoted text and extension values as `(ext: TYPE)"..."`. People
//! diff this output in tests and tutorials, so it is kept exactly. Rendering works on the
//! encoded bytes and allocates nothing but the output.

use crate::EventRef;
use std::fmt::Write as _;

/// Appends one event as a numbered line: `[N] TAG: [[SEC.NSEC, {metadata}], {body}]`.
pub fn write_event_line(n: u64, tag: &str, ev: &EventRef<'_>, out: &mut String) {
    // EventTime holds u32 seconds; print what the wire holds.
    let _ = write!(
        out,
        "[{n}] {tag}: [[{}.{:09}, ",
        ev.time.sec as u32, ev.time.nsec
    );
    print_value(ev.metadata, out);
    out.push_str("], ");
    print_value(ev.body, out);
    out.push_str("]\n");
}

/// Appends msgpack-c's `msgpack_object_print` rendering of the value at the start of `buf`.
/// Malformed input prints as far as it can be read.
pub fn print_value(buf: &[u8], out: &mut String) {
    // Valid events were already checked by the event reader; this guards direct callers.
    if crate::event::skip_value(buf, 0).is_err() {
        return;
    }
    let _ = print_at(buf, 0, out, 0);
}

fn be(buf: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = buf.get(at..at + n)?;
    Some(s.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn print_at(buf: &[u8], at: usize, out: &mut String, depth: usize) -> Option<usize> {
    if depth > crate::event::MAX_DEPTH {
        return None;
    }
    let m = *buf.get(at)?;
    let quoted = |out: &mut String, bytes: &[u8]| {
        out.push('"');
        out.push_str(&String::from_utf8_lossy(bytes));
        out.push('"');
    };
    Some(match m {
        0x00..=0x7f => {
            let _ = write!(out, "{m}");
            at + 1
        }
        0xe0..=0xff => {
            let _ = write!(out, "{}", m as i8);
            at + 1
        }
        0xc0 => {
            out.push_str("nil");
            at + 1
        }
        0xc2 | 0xc3 => {
            out.push_str(if m == 0xc3 { "true" } else { "false" });
            at + 1
        }
        0xcc..=0xcf => {
            let n = 1 << (m - 0xcc);
            let _ = write!(out, "{}", be(buf, at + 1, n)?);
            at + 1 + n
        }
        0xd0..=0xd3 => {
            let n = 1 << (m - 0xd0);
            let raw = be(buf, at + 1, n)?;
            let v = match n {
                1 => i64::from(raw as u8 as i8),
                2 => i64::from(raw as u16 as i16),
                4 => i64::from(raw as u32 as i32),
                _ => raw as i64,
            };
            let _ = write!(out, "{v}");
            at + 1 + n
        }
        0xca => {
            let _ = write!(out, "{:.6}", f32::from_bits(be(buf, at + 1, 4)? as u32));
            at + 5
        }
        0xcb => {
            let _ = write!(out, "{:.6}", f64::from_bits(be(buf, at + 1, 8)?));
            at + 9
        }
        0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => {
            let (head, len) = match m {
                0xa0..=0xbf => (1, usize::from(m & 0x1f)),
                0xd9 | 0xc4 => (2, be(buf, at + 1, 1)? as usize),
                0xda | 0xc5 => (3, be(buf, at + 1, 2)? as usize),
                _ => (5, be(buf, at + 1, 4)? as usize),
            };
            quoted(out, buf.get(at + head..at + head + len)?);
            at + head + len
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let (len, mut pos) = match m {
                0x90..=0x9f => (usize::from(m & 0x0f), at + 1),
                0xdc => (be(buf, at + 1, 2)? as usize, at + 3),
                _ => (be(buf, at + 1, 4)? as usize, at + 5),
            };
            out.push('[');
            for i in 0..len {
                if i > 0 {
                    out.push_str(", ");
                }
                pos = print_at(buf, pos, out, depth + 1)?;
            }
            out.push(']');
            pos
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let (len, mut pos) = crate::view::read_map_len(buf, at).ok()?;
            out.push('{');
            for i in 0..len {
                if i > 0 {
                    out.push_str(", ");
                }
                pos = print_at(buf, pos, out, depth + 1)?;
                out.push_str("=>");
                pos = print_at(buf, pos, out, depth + 1)?;
            }
            out.push('}');
            pos
        }
        0xd4..=0xd8 | 0xc7..=0xc9 => {
            let (ty_at, data_at, len) = match m {
                0xd4..=0xd8 => (at + 1, at + 2, 1usize << (m - 0xd4)),
                0xc7 => (at + 2, at + 3, be(buf, at + 1, 1)? as usize),
                0xc8 => (at + 3, at + 4, be(buf, at + 1, 2)? as usize),
                _ => (at + 5, at + 6, be(buf, at + 1, 4)? as usize),
            };
            let ty = *buf.get(ty_at)? as i8;
            let _ = write!(out, "(ext: {ty})");
            quoted(out, buf.get(data_at..data_at + len)?);
            data_at + len
        }
        0xc1 => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_extension_values() {
        let mut s = String::new();
        print_value(
            &[
                0x82, 0xc4, 0x01, b'b', 0xd4, 0x05, 0x41, 0xa1, b'k', 0xca, 0x3f, 0xc0, 0, 0,
            ],
            &mut s,
        );
        assert_eq!(s, "{\"b\"=>(ext: 5)\"A\", \"k\"=>1.500000}");
        s.clear();
        print_value(&[0x92, 0x01], &mut s);
        assert_eq!(s, "", "malformed input prints nothing");
    }

    #[test]
    fn scalars_and_nesting() {
        let mut body = Vec::new();
        crate::json::from_json(
            r#"{"INT":"100","ok":true,"n":null,"f":0.5,"neg":-3,"arr":[1,"x"],"m":{"k":{}}}"#,
            &mut body,
        )
        .unwrap();
        let mut s = String::new();
        print_value(&body, &mut s);
        assert_eq!(s, "{\"INT\"=>\"100\", \"ok\"=>true, \"n\"=>nil, \"f\"=>0.500000, \"neg\"=>-3, \"arr\"=>[1, \"x\"], \"m\"=>{\"k\"=>{}}}");
    }
}
