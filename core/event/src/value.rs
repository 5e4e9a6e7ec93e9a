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

/// Starts a map whose length is not known yet; finish it with [`finish_map`].
///
/// Writes a map32 header placeholder and returns its position.
pub fn begin_map(out: &mut Vec<u8>) -> usize {
    let pos = out.len();
    out.extend_from_slice(&[0xdf, 0, 0, 0, 0]);
    pos
}

/// Writes the real length of a map begun with [`begin_map`], shrinking the header to the
/// smallest form so that output matches what other encoders produce.
pub fn finish_map(out: &mut Vec<u8>, pos: usize, len: usize) {
    if len < 16 {
        out[pos] = 0x80 | len as u8;
        out.drain(pos + 1..pos + 5);
    } else if len <= u16::MAX as usize {
        out[pos] = 0xde;
        out[pos + 1..pos + 3].copy_from_slice(&(len as u16).to_be_bytes());
        out.drain(pos + 3..pos + 5);
    } else {
        out[pos + 1..pos + 5].copy_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Starts an array whose length is not known yet; finish it with [`finish_array`].
pub fn begin_array(out: &mut Vec<u8>) -> usize {
    let pos = out.len();
    out.extend_from_slice(&[0xdd, 0, 0, 0, 0]);
    pos
}

/// Writes the real length of an array begun with [`begin_array`].
pub fn finish_array(out: &mut Vec<u8>, pos: usize, len: usize) {
    if len < 16 {
        out[pos] = 0x90 | len as u8;
        out.drain(pos + 1..pos + 5);
    } else if len <= u16::MAX as usize {
        out[pos] = 0xdc;
        out[pos + 1..pos + 3].copy_from_slice(&(len as u16).to_be_bytes());
        out.drain(pos + 3..pos + 5);
    } else {
        out[pos + 1..pos + 5].copy_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Appends a MessagePack string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = rmp::encode::write_str(out, s);
}

/// Appends a MessagePack map header of a known length.
pub fn write_map_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_map_len(out, len as u32);
}

/// Appends a MessagePack array header of a known length.
pub fn write_array_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_array_len(out, len as u32);
}

/// Appends the smallest encoding of a signed integer.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let _ = rmp::encode::write_sint(out, v);
}

/// Appends the smallest encoding of an unsigned integer.
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    let _ = rmp::encode::write_uint(out, v);
}

/// Appends a float64.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    let _ = rmp::encode::write_f64(out, v);
}

/// Appends a boolean.
pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    let _ = rmp::encode::write_bool(out, v);
}

/// Appends nil.
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
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
}
