//! The MessagePack subset Weir's events use, read and written by hand.
//!
//! Reading is bounded: every length is checked against the buffer before it is used, and
//! skipping a value walks its nested values with a counter instead of recursion, so no input
//! can make it overflow the stack or read out of bounds. Writing always picks the smallest
//! encoding, as Fluent Bit does.

use std::fmt;

/// Why MessagePack bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The data ends in the middle of a value; the offset is where the value started.
    Truncated { at: usize },
    /// `0xc1`, the one byte MessagePack never uses.
    InvalidMarker { marker: u8, at: usize },
    /// A value of the wrong type where the event layout wants another.
    Unexpected { at: usize, expected: &'static str },
    /// Nesting deeper than [`MAX_DEPTH`] where a value is rendered recursively (JSON).
    TooDeep,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { at } => write!(f, "truncated MessagePack data at byte {at}"),
            DecodeError::InvalidMarker { marker, at } => {
                write!(f, "invalid MessagePack marker 0x{marker:02x} at byte {at}")
            }
            DecodeError::Unexpected { at, expected } => {
                write!(
                    f,
                    "unexpected MessagePack type at byte {at}: expected {expected}"
                )
            }
            DecodeError::TooDeep => write!(f, "MessagePack nesting deeper than {MAX_DEPTH} levels"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Deepest nesting rendered recursively (as JSON); the host refuses deeper events too.
pub const MAX_DEPTH: usize = 256;

/// The header of one value: what it is and where its payload lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Bytes of a string at `start..start + len`.
    Str {
        start: usize,
        len: usize,
    },
    Bin {
        start: usize,
        len: usize,
    },
    /// `len` elements follow, starting at `start`.
    Array {
        start: usize,
        len: u32,
    },
    /// `len` key/value pairs follow, starting at `start`.
    Map {
        start: usize,
        len: u32,
    },
    Ext {
        ty: i8,
        start: usize,
        len: usize,
    },
}

#[inline]
fn be(buf: &[u8], at: usize, n: usize) -> Result<u64, DecodeError> {
    let end = at.checked_add(n).ok_or(DecodeError::Truncated { at })?;
    let s = buf.get(at..end).ok_or(DecodeError::Truncated { at })?;
    Ok(s.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Checks that `len` payload bytes starting at `start` are in the buffer.
fn payload(buf: &[u8], at: usize, start: usize, len: usize) -> Result<(), DecodeError> {
    match start.checked_add(len) {
        Some(end) if end <= buf.len() => Ok(()),
        _ => Err(DecodeError::Truncated { at }),
    }
}

/// Reads the header of the value at `at`. The payload of strings, binaries and extensions is
/// checked to be in bounds; the elements of arrays and maps are not read.
#[inline]
pub(crate) fn head(buf: &[u8], at: usize) -> Result<Head, DecodeError> {
    let m = *buf.get(at).ok_or(DecodeError::Truncated { at })?;
    let n = |k: usize| be(buf, at + 1, k);
    let sized = |start: usize, len: usize| payload(buf, at, start, len).map(|()| (start, len));
    Ok(match m {
        0x00..=0x7f => Head::Int(i64::from(m)),
        0xe0..=0xff => Head::Int(i64::from(m as i8)),
        0x80..=0x8f => Head::Map {
            start: at + 1,
            len: u32::from(m & 0x0f),
        },
        0x90..=0x9f => Head::Array {
            start: at + 1,
            len: u32::from(m & 0x0f),
        },
        0xa0..=0xbf => {
            let (start, len) = sized(at + 1, usize::from(m & 0x1f))?;
            Head::Str { start, len }
        }
        0xc0 => Head::Nil,
        0xc1 => return Err(DecodeError::InvalidMarker { marker: m, at }),
        0xc2 => Head::Bool(false),
        0xc3 => Head::Bool(true),
        0xc4..=0xc6 => {
            let k = 1usize << (m - 0xc4);
            let (start, len) = sized(at + 1 + k, n(k)? as usize)?;
            Head::Bin { start, len }
        }
        0xc7..=0xc9 => {
            let k = 1usize << (m - 0xc7);
            let len = n(k)? as usize;
            let ty = be(buf, at + 1 + k, 1)? as u8 as i8;
            let (start, len) = sized(at + 2 + k, len)?;
            Head::Ext { ty, start, len }
        }
        0xca => Head::Float(f64::from(f32::from_bits(n(4)? as u32))),
        0xcb => Head::Float(f64::from_bits(n(8)?)),
        0xcc => Head::Int(n(1)? as i64),
        0xcd => Head::Int(n(2)? as i64),
        0xce => Head::Int(n(4)? as i64),
        0xcf => {
            let v = n(8)?;
            match i64::try_from(v) {
                Ok(i) => Head::Int(i),
                Err(_) => Head::UInt(v),
            }
        }
        0xd0 => Head::Int(i64::from(n(1)? as u8 as i8)),
        0xd1 => Head::Int(i64::from(n(2)? as u16 as i16)),
        0xd2 => Head::Int(i64::from(n(4)? as u32 as i32)),
        0xd3 => Head::Int(n(8)? as i64),
        0xd4..=0xd8 => {
            let len = 1usize << (m - 0xd4);
            let ty = be(buf, at + 1, 1)? as u8 as i8;
            let (start, len) = sized(at + 2, len)?;
            Head::Ext { ty, start, len }
        }
        0xd9..=0xdb => {
            let k = 1usize << (m - 0xd9);
            let (start, len) = sized(at + 1 + k, n(k)? as usize)?;
            Head::Str { start, len }
        }
        0xdc => Head::Array {
            start: at + 3,
            len: n(2)? as u32,
        },
        0xdd => Head::Array {
            start: at + 5,
            len: n(4)? as u32,
        },
        0xde => Head::Map {
            start: at + 3,
            len: n(2)? as u32,
        },
        0xdf => Head::Map {
            start: at + 5,
            len: n(4)? as u32,
        },
    })
}

/// Offset just past the value at `at`, which is checked completely (nested values included).
///
/// Iterative: a counter of values still to skip replaces recursion. Every value takes at least
/// one byte, so a forged length cannot make the walk outlast the buffer. Sizes come straight
/// from the marker byte (no [`Head`] is built): filters skip every field of every record, more
/// than once, so this is the SDK's hottest loop.
pub(crate) fn skip(buf: &[u8], at: usize) -> Result<usize, DecodeError> {
    let mut pos = at;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let m = *buf.get(pos).ok_or(DecodeError::Truncated { at: pos })?;
        let len = |k: usize| be(buf, pos + 1, k).map(|v| v as usize);
        let (header, payload, more) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
            0x80..=0x8f => (1, 0, 2 * u64::from(m & 0x0f)),
            0x90..=0x9f => (1, 0, u64::from(m & 0x0f)),
            0xa0..=0xbf => (1, usize::from(m & 0x1f), 0),
            0xcc | 0xd0 => (2, 0, 0),
            0xcd | 0xd1 => (3, 0, 0),
            0xce | 0xd2 | 0xca => (5, 0, 0),
            0xcf | 0xd3 | 0xcb => (9, 0, 0),
            0xd4 => (3, 0, 0),
            0xd5 => (4, 0, 0),
            0xd6 => (6, 0, 0),
            0xd7 => (10, 0, 0),
            0xd8 => (18, 0, 0),
            0xc4 | 0xd9 => (2, len(1)?, 0),
            0xc5 | 0xda => (3, len(2)?, 0),
            0xc6 | 0xdb => (5, len(4)?, 0),
            0xc7 => (3, len(1)?, 0),
            0xc8 => (4, len(2)?, 0),
            0xc9 => (6, len(4)?, 0),
            0xdc => (3, 0, len(2)? as u64),
            0xdd => (5, 0, len(4)? as u64),
            0xde => (3, 0, 2 * len(2)? as u64),
            0xdf => (5, 0, 2 * len(4)? as u64),
            0xc1 => return Err(DecodeError::InvalidMarker { marker: m, at: pos }),
        };
        // Checked: on wasm32 a forged 32-bit length could wrap the sum.
        let next = pos
            .checked_add(header)
            .and_then(|p| p.checked_add(payload))
            .filter(|n| *n <= buf.len())
            .ok_or(DecodeError::Truncated { at: pos })?;
        pos = next;
        pending += more;
        if pending > (buf.len() - pos) as u64 {
            return Err(DecodeError::Truncated { at: pos });
        }
    }
    Ok(pos)
}

/// The end of the value at `at`, as [`skip`] finds it, with the values records are mostly
/// made of read inline: strings of up to 255 bytes, integers, floats, nil and booleans.
/// Anything else goes to [`skip`]. `None` when the value is malformed: the caller asks
/// [`skip`] why, off the hot path.
///
/// Checking a record walks each of its fields once, so this is what that walk runs. It is
/// inlined and returns no error value on purpose: in WebAssembly, a `Result` carrying a
/// [`DecodeError`] is returned through memory, which cost more than the decoding itself.
#[inline(always)]
pub(crate) fn end_of(buf: &[u8], at: usize) -> Option<usize> {
    let m = *buf.get(at)?;
    let end = match m {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => at + 1,
        0xa0..=0xbf => at + 1 + usize::from(m & 0x1f),
        0xd9 => at + 2 + usize::from(*buf.get(at + 1)?),
        0xcc | 0xd0 => at + 2,
        0xcd | 0xd1 => at + 3,
        0xce | 0xd2 | 0xca => at + 5,
        0xcf | 0xd3 | 0xcb => at + 9,
        _ => return skip(buf, at).ok(),
    };
    (end <= buf.len()).then_some(end)
}

/// Whether two keys are the same bytes. Keys are short: compared inline, where `==` on slices
/// calls `memcmp`, a function call per comparison in WebAssembly.
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        false
    } else if a.len() <= 32 {
        a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// Appends a map header for `len` pairs.
pub fn write_map_len(out: &mut Vec<u8>, len: u32) {
    if len < 16 {
        out.push(0x80 | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xde);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends an array header for `len` elements.
pub fn write_array_len(out: &mut Vec<u8>, len: u32) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string. Strings longer than 4 GiB cannot be encoded and are cut at that size
/// (WebAssembly plugins cannot hold such a string anyway).
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let len = bytes.len().min(u32::MAX as usize);
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.push(0xd9);
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(&bytes[..len]);
}

/// Appends binary data (cut at 4 GiB, as [`write_str`]).
pub fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let len = b.len().min(u32::MAX as usize);
    if len <= 0xff {
        out.push(0xc4);
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(0xc5);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(&b[..len]);
}

/// Appends an extension value (cut at 4 GiB, as [`write_str`]).
pub fn write_ext(out: &mut Vec<u8>, ty: i8, data: &[u8]) {
    let len = data.len().min(u32::MAX as usize);
    let fixed = match len {
        1 => Some(0xd4),
        2 => Some(0xd5),
        4 => Some(0xd6),
        8 => Some(0xd7),
        16 => Some(0xd8),
        _ => None,
    };
    if let Some(m) = fixed {
        out.push(m);
    } else if len <= 0xff {
        out.push(0xc7);
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(0xc8);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xc9);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.push(ty as u8);
    out.extend_from_slice(&data[..len]);
}

/// Appends a signed integer in its smallest form.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        out.push(0xd0);
        out.push(v as i8 as u8);
    } else if v >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends an unsigned integer in its smallest form.
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= 0xff {
        out.push(0xcc);
        out.push(v as u8);
    } else if v <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends a 64-bit float.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

/// Appends a boolean.
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

/// Appends nil.
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_round_trip(v: i64) {
        let mut b = Vec::new();
        write_int(&mut b, v);
        assert_eq!(head(&b, 0), Ok(Head::Int(v)), "{v}");
        assert_eq!(skip(&b, 0), Ok(b.len()), "{v}");
    }

    #[test]
    fn integers_round_trip_at_every_width() {
        for v in [
            0,
            1,
            127,
            128,
            255,
            256,
            65535,
            65536,
            u32::MAX as i64,
            u32::MAX as i64 + 1,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            i32::MIN as i64,
            i32::MIN as i64 - 1,
            i64::MIN,
        ] {
            int_round_trip(v);
        }
        let mut b = Vec::new();
        write_uint(&mut b, u64::MAX);
        assert_eq!(head(&b, 0), Ok(Head::UInt(u64::MAX)));
    }

    #[test]
    fn strings_pick_the_smallest_header() {
        for (len, header) in [(0, 1), (31, 1), (32, 2), (255, 2), (256, 3), (65536, 5)] {
            let s = "x".repeat(len);
            let mut b = Vec::new();
            write_str(&mut b, &s);
            assert_eq!(b.len(), len + header, "{len}");
            assert_eq!(head(&b, 0), Ok(Head::Str { start: header, len }));
        }
    }

    #[test]
    fn containers_and_ext_round_trip() {
        for n in [0u32, 15, 16, 65535, 65536] {
            let mut b = Vec::new();
            write_map_len(&mut b, n);
            assert!(matches!(head(&b, 0), Ok(Head::Map { len, .. }) if len == n));
            let mut b = Vec::new();
            write_array_len(&mut b, n);
            assert!(matches!(head(&b, 0), Ok(Head::Array { len, .. }) if len == n));
        }
        for n in [0usize, 1, 2, 3, 4, 8, 16, 17, 300, 70000] {
            let mut b = Vec::new();
            write_ext(&mut b, 5, &vec![7; n]);
            assert!(matches!(head(&b, 0), Ok(Head::Ext { ty: 5, len, .. }) if len == n));
            assert_eq!(skip(&b, 0), Ok(b.len()));
            let mut b = Vec::new();
            write_bin(&mut b, &vec![7; n]);
            assert_eq!(skip(&b, 0), Ok(b.len()));
        }
    }

    #[test]
    fn skip_walks_nested_values() {
        // {"a": [1, "x", {"b": nil}], "c": 1.5}
        let mut b = Vec::new();
        write_map_len(&mut b, 2);
        write_str(&mut b, "a");
        write_array_len(&mut b, 3);
        write_int(&mut b, 1);
        write_str(&mut b, "x");
        write_map_len(&mut b, 1);
        write_str(&mut b, "b");
        write_nil(&mut b);
        write_str(&mut b, "c");
        write_f64(&mut b, 1.5);
        let len = b.len();
        b.push(0x01);
        assert_eq!(skip(&b, 0), Ok(len));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(skip(&[], 0), Err(DecodeError::Truncated { at: 0 }));
        assert!(matches!(
            skip(&[0xc1], 0),
            Err(DecodeError::InvalidMarker { marker: 0xc1, .. })
        ));
        // A string claiming 4 GiB.
        assert!(skip(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], 0).is_err());
        // An array claiming 4 billion elements.
        assert!(skip(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01], 0).is_err());
        // Deep nesting is fine for the iterative walk: a million one-element arrays.
        let mut deep = vec![0x91u8; 1_000_000];
        deep.push(0xc0);
        assert_eq!(skip(&deep, 0), Ok(deep.len()));
        // Every prefix of a valid value fails cleanly.
        let mut b = Vec::new();
        write_map_len(&mut b, 1);
        write_str(&mut b, "key");
        write_ext(&mut b, 0, &[0; 8]);
        for cut in 0..b.len() {
            assert!(skip(&b[..cut], 0).is_err(), "{cut}");
        }
        // Offsets near usize::MAX do not overflow.
        assert!(head(&[0xc4, 0xff], usize::MAX).is_err());
    }

    /// The inline fast path finds the same end as the general walk, and fails where it fails,
    /// for every marker, whole or cut short.
    #[test]
    fn end_of_agrees_with_skip() {
        for m in 0..=255u8 {
            let mut b = vec![m];
            b.extend_from_slice(&[0x03; 40]);
            for cut in 0..=b.len() {
                for at in [0, 1] {
                    let (fast, slow) = (end_of(&b[..cut], at), skip(&b[..cut], at));
                    assert_eq!(fast, slow.ok(), "{m:#x} cut {cut} at {at}");
                }
            }
        }
    }
}
