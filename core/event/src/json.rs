//! JSON and MessagePack, both ways.
//!
//! [`write_json`] renders an encoded value as JSON straight from its bytes (outputs use it for
//! every record, so it allocates nothing per value). [`from_json`] encodes JSON text as
//! MessagePack without building a tree in between.

use crate::event::skip_value;
use crate::view::read_map_len;
use crate::DecodeError;
use std::fmt::Write as _;

/// Appends the JSON form of the MessagePack value at the start of `buf`.
///
/// Binary values are written as strings (invalid UTF-8 replaced), extension values as their
/// payload in a string, except EventTime which becomes float seconds. Non-finite floats become
/// `null`. Map keys that are not strings are rendered and quoted.
pub fn write_json(buf: &[u8], out: &mut String) -> Result<(), DecodeError> {
    // Validate once with the bounded walker, then render without further checks failing.
    let end = skip_value(buf, 0)?;
    write_value(&buf[..end], 0, out, 0).map(|_| ())
}

/// JSON text of an encoded value.
pub fn to_json_string(buf: &[u8]) -> Result<String, DecodeError> {
    let mut s = String::new();
    write_json(buf, &mut s)?;
    Ok(s)
}

fn be(buf: &[u8], at: usize, n: usize) -> Result<u64, DecodeError> {
    let s = buf.get(at..at + n).ok_or(DecodeError::Truncated(at))?;
    Ok(s.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn write_value(
    buf: &[u8],
    at: usize,
    out: &mut String,
    depth: usize,
) -> Result<usize, DecodeError> {
    if depth > crate::event::MAX_DEPTH {
        return Err(DecodeError::TooDeep(crate::event::MAX_DEPTH));
    }
    let m = *buf.get(at).ok_or(DecodeError::Truncated(at))?;
    match m {
        0x00..=0x7f => {
            let _ = write!(out, "{m}");
            Ok(at + 1)
        }
        0xe0..=0xff => {
            let _ = write!(out, "{}", m as i8);
            Ok(at + 1)
        }
        0xc0 => {
            out.push_str("null");
            Ok(at + 1)
        }
        0xc2 => {
            out.push_str("false");
            Ok(at + 1)
        }
        0xc3 => {
            out.push_str("true");
            Ok(at + 1)
        }
        0xcc..=0xcf => {
            let n = 1 << (m - 0xcc);
            let _ = write!(out, "{}", be(buf, at + 1, n)?);
            Ok(at + 1 + n)
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
            Ok(at + 1 + n)
        }
        0xca => {
            write_float(f64::from(f32::from_bits(be(buf, at + 1, 4)? as u32)), out);
            Ok(at + 5)
        }
        0xcb => {
            write_float(f64::from_bits(be(buf, at + 1, 8)?), out);
            Ok(at + 9)
        }
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let (head, len) = match m {
                0xa0..=0xbf => (1, (m & 0x1f) as usize),
                0xd9 | 0xc4 => (2, be(buf, at + 1, 1)? as usize),
                0xda | 0xc5 => (3, be(buf, at + 1, 2)? as usize),
                _ => (5, be(buf, at + 1, 4)? as usize),
            };
            let bytes = buf
                .get(at + head..at + head + len)
                .ok_or(DecodeError::Truncated(at))?;
            // Checked as UTF-8 on the fast path; invalid bytes become U+FFFD.
            match std::str::from_utf8(bytes) {
                Ok(text) => write_json_str(text, out),
                Err(_) => write_json_str(&String::from_utf8_lossy(bytes), out),
            }
            Ok(at + head + len)
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let (len, mut pos) = match m {
                0x90..=0x9f => ((m & 0x0f) as usize, at + 1),
                0xdc => (be(buf, at + 1, 2)? as usize, at + 3),
                _ => (be(buf, at + 1, 4)? as usize, at + 5),
            };
            out.push('[');
            for i in 0..len {
                if i > 0 {
                    out.push(',');
                }
                pos = write_value(buf, pos, out, depth + 1)?;
            }
            out.push(']');
            Ok(pos)
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let (len, mut pos) = read_map_len(buf, at)?;
            out.push('{');
            for i in 0..len {
                if i > 0 {
                    out.push(',');
                }
                let k = *buf.get(pos).ok_or(DecodeError::Truncated(pos))?;
                if matches!(k, 0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6) {
                    pos = write_value(buf, pos, out, depth + 1)?;
                } else {
                    let mut key = String::new();
                    pos = write_value(buf, pos, &mut key, depth + 1)?;
                    write_json_str(&key, out);
                }
                out.push(':');
                pos = write_value(buf, pos, out, depth + 1)?;
            }
            out.push('}');
            Ok(pos)
        }
        0xd4..=0xd8 | 0xc7 | 0xc8 | 0xc9 => {
            let end = skip_value(buf, at)?;
            if let Ok((t, e)) = crate::event::read_time(buf, at) {
                if e == end {
                    write_float(t.as_f64(), out);
                    return Ok(end);
                }
            }
            out.push_str("\"\"");
            Ok(end)
        }
        0xc1 => Err(DecodeError::InvalidMarker { marker: m, at }),
    }
}

/// Writes a float the way JSON readers expect: shortest round-trip form, `.0` on whole
/// numbers so the type survives a round trip, `null` for NaN and infinities.
pub fn write_float(v: f64, out: &mut String) {
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

/// Writes `s` as a quoted, escaped JSON string.
pub fn write_json_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time past stretches with nothing to escape: most of a record's
        // text. `first_chunk` gives the next eight bytes when there are that many.
        if let Some(word) = bytes[i..].first_chunk::<8>() {
            if !may_need_escape(u64::from_le_bytes(*word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if let Some(esc) = escape(b) {
            out.push_str(&s[last..i]);
            match esc {
                Escape::Short(e) => out.push_str(e),
                Escape::Unicode => {
                    let _ = write!(out, "\\u{:04x}", b);
                }
            }
            last = i + 1;
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out.push('"');
}

enum Escape {
    Short(&'static str),
    Unicode,
}

/// How a byte is written inside a JSON string, when not as itself.
#[inline]
fn escape(b: u8) -> Option<Escape> {
    Some(match b {
        b'"' => Escape::Short("\\\""),
        b'\\' => Escape::Short("\\\\"),
        b'\n' => Escape::Short("\\n"),
        b'\r' => Escape::Short("\\r"),
        b'\t' => Escape::Short("\\t"),
        0x08 => Escape::Short("\\b"),
        0x0c => Escape::Short("\\f"),
        0x00..=0x1f | 0x7f => Escape::Unicode,
        _ => return None,
    })
}

/// Whether any of the eight bytes of `w` may need escaping: a control character, `"`, `\`
/// or DEL. Never false when one does (it may be true when none does; the bytes are then
/// looked at one by one). Bytes of multi-byte UTF-8 characters (0x80 and above) never do.
#[inline]
fn may_need_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte below n (n <= 128) leaves its high bit set in (w - n) & !w.
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero_in(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_in(w ^ (ONES * u64::from(b'\\')));
    let del = zero_in(w ^ (ONES * 0x7f));
    below_space | quote | backslash | del != 0
}

/// Why JSON text could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON: {0}")]
pub struct JsonError(pub String);

/// Encodes JSON text as MessagePack, appending to `out`. On error `out` is left as it was.
pub fn from_json(text: &str, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mark = out.len();
    let mut de = serde_json::Deserializer::from_str(text);
    let res = serde::de::DeserializeSeed::deserialize(transcode::Seed { out: &mut *out }, &mut de)
        .and_then(|()| de.end());
    if let Err(e) = res {
        out.truncate(mark);
        return Err(JsonError(e.to_string()));
    }
    Ok(())
}

mod transcode {
    //! A serde visitor that writes MessagePack as serde_json reads, so no tree is built.
    use crate::value;
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    pub struct Seed<'o> {
        pub out: &'o mut Vec<u8>,
    }

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<(), E> {
            value::write_bool(self.out, v);
            Ok(())
        }
        fn visit_i64<E>(self, v: i64) -> Result<(), E> {
            value::write_int(self.out, v);
            Ok(())
        }
        fn visit_u64<E>(self, v: u64) -> Result<(), E> {
            value::write_uint(self.out, v);
            Ok(())
        }
        fn visit_f64<E>(self, v: f64) -> Result<(), E> {
            value::write_f64(self.out, v);
            Ok(())
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            value::write_str(self.out, v);
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            value::write_nil(self.out);
            Ok(())
        }
        fn visit_none<E>(self) -> Result<(), E> {
            value::write_nil(self.out);
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let pos = value::begin_array(self.out);
            let mut n = 0;
            while seq
                .next_element_seed(Seed {
                    out: &mut *self.out,
                })?
                .is_some()
            {
                n += 1;
            }
            value::finish_array(self.out, pos, n);
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let pos = value::begin_map(self.out);
            let mut n = 0;
            while map
                .next_key_seed(Seed {
                    out: &mut *self.out,
                })?
                .is_some()
            {
                map.next_value_seed(Seed {
                    out: &mut *self.out,
                })?;
                n += 1;
            }
            value::finish_map(self.out, pos, n);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let text = r#"{"a":1,"b":[true,null,-2,1.5],"c":{"d":"x\"y\n"},"e":18446744073709551615}"#;
        let mut mp = Vec::new();
        from_json(text, &mut mp).unwrap();
        assert_eq!(to_json_string(&mp).unwrap(), text);
    }

    #[test]
    fn floats_keep_their_type() {
        let mut s = String::new();
        write_float(3.0, &mut s);
        assert_eq!(s, "3.0");
        s.clear();
        write_float(f64::NAN, &mut s);
        assert_eq!(s, "null");
    }

    #[test]
    fn invalid_json_leaves_buffer_untouched() {
        let mut out = vec![1, 2, 3];
        assert!(from_json("{\"a\":", &mut out).is_err());
        assert!(from_json("{} trailing", &mut out).is_err());
        assert_eq!(out, vec![1, 2, 3]);
    }

    /// The byte-at-a-time writer the word-at-a-time one must agree with.
    fn reference(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\u{0}'..='\u{1f}' | '\u{7f}' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #[test]
        fn escaping_agrees_with_the_reference(s in "(?s).{0,64}", ascii in "[\\x00-\\x7f]{0,64}") {
            for text in [s.as_str(), ascii.as_str()] {
                let mut out = String::new();
                write_json_str(text, &mut out);
                proptest::prop_assert_eq!(&out, &reference(text));
                let back: String = serde_json::from_str(&out).unwrap();
                proptest::prop_assert_eq!(back, text);
            }
        }
    }

    #[test]
    fn words_with_a_byte_to_escape_are_never_skipped() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut w = [b'a'; 8];
                w[at] = b;
                if escape(b).is_some() {
                    assert!(may_need_escape(u64::from_le_bytes(w)), "{b:#x} at {at}");
                }
            }
        }
        assert!(!may_need_escape(u64::from_le_bytes(*b"plain ok")));
        assert!(!may_need_escape(u64::from_le_bytes(
            *"héllo!!".as_bytes().first_chunk().unwrap()
        )));
    }

    #[test]
    fn escapes_control_characters() {
        let mut s = String::new();
        write_json_str("a\u{1}b\\", &mut s);
        assert_eq!(s, r#""a\u0001b\\""#);
    }
}
