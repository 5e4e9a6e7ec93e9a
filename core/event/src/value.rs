//! Conversions between encoded bytes and [`rmpv::Value`], for plugins that rewrite records.
//!
//! Decoding is bounded in depth; encoding into a `Vec` cannot fail.

use crate::DecodeError;
use rmpv::Value;

/// Decodes one value from the start of `buf`.
pub fn decode(buf: &[u8]) -> Result<Value, DecodeError> {
    // Check the structure first: the bounded, iterative walker rejects hostile input cheaply,
    // so rmpv's recursive reader only ever sees well-formed, length-checked data.
    let end = crate::event::skip_value(buf, 0)?;
    let mut rd = &buf[..end];
    rmpv::decode::read_value_with_max_depth(&mut rd, crate::event::MAX_DEPTH)
        .map_err(|_| DecodeError::TooDeep(crate::event::MAX_DEPTH))
}

/// Appends the encoding of `v`.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    // Writing into a Vec<u8> only fails on allocation failure, which aborts anyway.
    let _ = rmpv::encode::write_value(out, v);
}

/// Encodes `v` into a new buffer.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out);
    out
}

// Writers for hot paths: no `Result` (writing to a Vec cannot fail) and the smallest encoding
// of each value, so output matches what other MessagePack encoders produce. A map or array
// whose length is known only at the end starts with a one-byte header, patched at the end:
// the common case (fewer than 16 entries) costs no memmove.

/// Starts a map whose length is not known yet: writes a one-byte fixmap placeholder.
#[inline]
pub fn begin_map(out: &mut Vec<u8>) -> usize {
    let pos = out.len();
    out.push(0x80);
    pos
}

/// Sets the length of a map begun with [`begin_map`], growing the header when it does not fit
/// a fixmap (rare: records with 16 or more keys).
#[inline]
pub fn finish_map(out: &mut Vec<u8>, pos: usize, len: usize) {
    if len < 16 {
        out[pos] = 0x80 | len as u8;
    } else if len <= u16::MAX as usize {
        out[pos] = 0xde;
        let b = (len as u16).to_be_bytes();
        out.splice(pos + 1..pos + 1, b);
    } else {
        out[pos] = 0xdf;
        let b = (len as u32).to_be_bytes();
        out.splice(pos + 1..pos + 1, b);
    }
}

/// Starts an array whose length is not known yet.
#[inline]
pub fn begin_array(out: &mut Vec<u8>) -> usize {
    let pos = out.len();
    out.push(0x90);
    pos
}

/// Sets the length of an array begun with [`begin_array`].
#[inline]
pub fn finish_array(out: &mut Vec<u8>, pos: usize, len: usize) {
    if len < 16 {
        out[pos] = 0x90 | len as u8;
    } else if len <= u16::MAX as usize {
        out[pos] = 0xdc;
        let b = (len as u16).to_be_bytes();
        out.splice(pos + 1..pos + 1, b);
    } else {
        out[pos] = 0xdd;
        let b = (len as u32).to_be_bytes();
        out.splice(pos + 1..pos + 1, b);
    }
}

/// Writes a str header for `len` bytes.
#[inline]
pub fn write_str_header(out: &mut Vec<u8>, len: usize) {
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= u8::MAX as usize {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= u16::MAX as usize {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        // Inputs are lines or field values, far below 4 GiB; saturate rather than wrap.
        out.extend_from_slice(&(len.min(u32::MAX as usize) as u32).to_be_bytes());
    }
}

/// Writes a string from raw bytes (parsers copy bytes as Fluent Bit does, without re-validating
/// UTF-8: readers replace invalid sequences when they render text).
#[inline]
pub fn write_str_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let s = &s[..s.len().min(u32::MAX as usize)];
    write_str_header(out, s.len());
    out.extend_from_slice(s);
}

/// Writes the smallest encoding of a signed integer.
#[inline]
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
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

/// Writes the smallest encoding of an unsigned integer.
#[inline]
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Writes a float64.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

/// Writes a boolean.
#[inline]
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

/// Writes nil.
#[inline]
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

/// Appends a MessagePack string.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_str_bytes(out, s.as_bytes());
}

/// Appends a map header of a known length.
#[inline]
pub fn write_map_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_map_len(out, len as u32);
}

/// Appends an array header of a known length.
#[inline]
pub fn write_array_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_array_len(out, len as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patched_maps_are_compact() {
        for n in [0usize, 3, 15, 16, 300, 70_000] {
            let mut out = Vec::new();
            let p = begin_map(&mut out);
            for i in 0..n {
                write_uint(&mut out, i as u64);
                write_nil(&mut out);
            }
            finish_map(&mut out, p, n);
            let v = decode(&out).unwrap();
            assert_eq!(v.as_map().unwrap().len(), n);
            // identical to what rmpv writes for the same map
            assert_eq!(to_vec(&v), out);
        }
    }

    #[test]
    fn decode_rejects_deep_nesting() {
        let mut buf = vec![0x91; 10_000];
        buf.push(0xc0);
        assert!(decode(&buf).is_err());
    }

    fn same_as_rmpv(buf: &[u8]) {
        let v = decode(buf).unwrap();
        assert_eq!(to_vec(&v), buf);
    }

    #[test]
    fn maps_of_every_size_are_canonical() {
        for n in [0usize, 1, 15, 16, 300, 70_000] {
            let mut out = vec![0xaa];
            let p = begin_map(&mut out);
            for i in 0..n {
                write_uint(&mut out, i as u64);
                write_nil(&mut out);
            }
            finish_map(&mut out, p, n);
            same_as_rmpv(&out[1..]);
        }
    }

    #[test]
    fn scalars_are_canonical() {
        for v in [
            0i64,
            1,
            -1,
            -32,
            -33,
            127,
            128,
            -128,
            -129,
            255,
            256,
            65535,
            65536,
            -32768,
            -32769,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            write_int(&mut out, v);
            same_as_rmpv(&out);
        }
        for len in [0usize, 31, 32, 255, 256, 65535, 65536] {
            let mut out = Vec::new();
            write_str_bytes(&mut out, &vec![b'a'; len]);
            same_as_rmpv(&out);
        }
        let mut out = Vec::new();
        let p = begin_array(&mut out);
        for _ in 0..20 {
            write_bool(&mut out, true);
        }
        finish_array(&mut out, p, 20);
        write_f64(&mut out, 1.5);
        same_as_rmpv(&out[..out.len() - 9]);
    }
}
