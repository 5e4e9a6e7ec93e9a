//! Zero-copy views into encoded records: find a key, read a scalar, without decoding the map.
//!
//! Filters that only look (grep) or only add (modify's `add`) use these so that records they do
//! not change keep their bytes.

use crate::event::skip_value;
use crate::DecodeError;

/// Reads a map header at `at`: the number of pairs and the offset of the first key.
pub fn read_map_len(buf: &[u8], at: usize) -> Result<(usize, usize), DecodeError> {
    let m = *buf.get(at).ok_or(DecodeError::Truncated(at))?;
    let be = |n: usize| -> Result<usize, DecodeError> {
        let s = buf
            .get(at + 1..at + 1 + n)
            .ok_or(DecodeError::Truncated(at))?;
        Ok(s.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    };
    match m {
        0x80..=0x8f => Ok(((m & 0x0f) as usize, at + 1)),
        0xde => Ok((be(2)?, at + 3)),
        0xdf => Ok((be(4)?, at + 5)),
        _ => Err(DecodeError::Unexpected {
            at,
            expected: "a map",
        }),
    }
}

/// Reads a string at the start of `buf`, if the value there is one (invalid UTF-8 is not).
pub fn read_str(buf: &[u8]) -> Option<&str> {
    std::str::from_utf8(read_str_bytes(buf)?).ok()
}

/// The raw bytes of a MessagePack str (or bin) value at the start of `buf`.
pub fn read_str_bytes(buf: &[u8]) -> Option<&[u8]> {
    let m = *buf.first()?;
    let (head, len) = match m {
        0xa0..=0xbf => (1, (m & 0x1f) as usize),
        0xd9 | 0xc4 => (2, usize::from(*buf.get(1)?)),
        0xda | 0xc5 => (
            3,
            usize::from(u16::from_be_bytes([*buf.get(1)?, *buf.get(2)?])),
        ),
        0xdb | 0xc6 => (
            5,
            u32::from_be_bytes(buf.get(1..5)?.try_into().ok()?) as usize,
        ),
        _ => return None,
    };
    buf.get(head..head + len)
}

/// One key/value pair of an encoded map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry<'a> {
    /// The encoded key.
    pub key: &'a [u8],
    /// The encoded value.
    pub value: &'a [u8],
    /// Offset of the key within the map buffer.
    pub offset: usize,
}

impl<'a> Entry<'a> {
    /// The key as text, when it is a string.
    pub fn key_str(&self) -> Option<&'a str> {
        read_str(self.key)
    }
}

/// Iterates the entries of an encoded map.
#[derive(Debug, Clone)]
pub struct MapIter<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> MapIter<'a> {
    /// A map view over `buf`, which must start with a map header.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let (left, pos) = read_map_len(buf, 0)?;
        Ok(Self { buf, pos, left })
    }
    /// Number of pairs not yet visited.
    pub fn remaining(&self) -> usize {
        self.left
    }
}

impl<'a> Iterator for MapIter<'a> {
    type Item = Result<Entry<'a>, DecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.pos;
        let res = skip_value(self.buf, start).and_then(|k_end| {
            let v_end = skip_value(self.buf, k_end)?;
            Ok((k_end, v_end))
        });
        match res {
            Ok((k_end, v_end)) => {
                self.pos = v_end;
                Some(Ok(Entry {
                    key: &self.buf[start..k_end],
                    value: &self.buf[k_end..v_end],
                    offset: start,
                }))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

/// Finds the value of a string key in an encoded map. Keys compare byte for byte.
pub fn find<'a>(map: &'a [u8], key: &str) -> Option<&'a [u8]> {
    for entry in MapIter::new(map).ok()? {
        let entry = entry.ok()?;
        if read_str_bytes(entry.key) == Some(key.as_bytes()) && is_str_marker(entry.key[0]) {
            return Some(entry.value);
        }
    }
    None
}

fn is_str_marker(m: u8) -> bool {
    matches!(m, 0xa0..=0xbf | 0xd9 | 0xda | 0xdb)
}

/// A scalar read from encoded bytes, for matching and conversion without allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    Bin(&'a [u8]),
    /// An array, map or extension: not a scalar.
    Other,
}

/// Reads the scalar at the start of `buf`.
pub fn read_scalar(buf: &[u8]) -> Scalar<'_> {
    let Some(&m) = buf.first() else {
        return Scalar::Other;
    };
    let be = |n: usize| -> Option<u64> {
        let s = buf.get(1..1 + n)?;
        Some(s.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    };
    let r = match m {
        0x00..=0x7f => Some(Scalar::UInt(u64::from(m))),
        0xe0..=0xff => Some(Scalar::Int(i64::from(m as i8))),
        0xc0 => Some(Scalar::Nil),
        0xc2 => Some(Scalar::Bool(false)),
        0xc3 => Some(Scalar::Bool(true)),
        0xcc => be(1).map(Scalar::UInt),
        0xcd => be(2).map(Scalar::UInt),
        0xce => be(4).map(Scalar::UInt),
        0xcf => be(8).map(Scalar::UInt),
        0xd0 => be(1).map(|v| Scalar::Int(i64::from(v as u8 as i8))),
        0xd1 => be(2).map(|v| Scalar::Int(i64::from(v as u16 as i16))),
        0xd2 => be(4).map(|v| Scalar::Int(i64::from(v as u32 as i32))),
        0xd3 => be(8).map(|v| Scalar::Int(v as i64)),
        0xca => be(4).map(|v| Scalar::Float(f64::from(f32::from_bits(v as u32)))),
        0xcb => be(8).map(|v| Scalar::Float(f64::from_bits(v))),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
            read_str_bytes(buf).map(|b| match std::str::from_utf8(b) {
                Ok(s) => Scalar::Str(s),
                Err(_) => Scalar::Bin(b),
            })
        }
        0xc4..=0xc6 => read_str_bytes(buf).map(Scalar::Bin),
        _ => Some(Scalar::Other),
    };
    r.unwrap_or(Scalar::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, rmpv::Value)]) -> Vec<u8> {
        let v = rmpv::Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (rmpv::Value::from(*k), v.clone()))
                .collect(),
        );
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &v).unwrap();
        out
    }

    #[test]
    fn finds_keys_and_reads_scalars() {
        let m = map(&[
            ("a", 1.into()),
            ("status", "404".into()),
            ("f", 1.5.into()),
            ("n", (-3).into()),
        ]);
        assert_eq!(read_scalar(find(&m, "a").unwrap()), Scalar::UInt(1));
        assert_eq!(read_scalar(find(&m, "status").unwrap()), Scalar::Str("404"));
        assert_eq!(read_scalar(find(&m, "f").unwrap()), Scalar::Float(1.5));
        assert_eq!(read_scalar(find(&m, "n").unwrap()), Scalar::Int(-3));
        assert!(find(&m, "missing").is_none());
        assert_eq!(MapIter::new(&m).unwrap().count(), 4);
    }

    #[test]
    fn malformed_maps_do_not_panic() {
        assert!(MapIter::new(&[0x90]).is_err());
        let mut it = MapIter::new(&[0x81, 0xa1]).unwrap();
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(find(&[0x82, 0xa1, b'a'], "a").is_none());
    }
}
