//! Minimal MessagePack writers for the parsers' hot paths.
//!
//! `weir_event::value` covers the general case; these helpers exist because parsers write a map
//! whose length is known only at the end and want the common case (fewer than 16 entries) to
//! cost one byte and no memmove.

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
pub fn str_header(out: &mut Vec<u8>, len: usize) {
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
pub fn str_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let s = &s[..s.len().min(u32::MAX as usize)];
    str_header(out, s.len());
    out.extend_from_slice(s);
}

/// Writes the smallest encoding of a signed integer.
#[inline]
pub fn int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        uint(out, v as u64);
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
pub fn uint(out: &mut Vec<u8>, v: u64) {
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
pub fn f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_bits().to_be_bytes());
}

/// Writes a boolean.
#[inline]
pub fn bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xc3 } else { 0xc2 });
}

/// Writes nil.
#[cfg(test)]
pub fn nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_rmpv(buf: &[u8]) {
        let v = weir_event::value::decode(buf).unwrap();
        assert_eq!(weir_event::value::to_vec(&v), buf);
    }

    #[test]
    fn maps_of_every_size_are_canonical() {
        for n in [0usize, 1, 15, 16, 300, 70_000] {
            let mut out = vec![0xaa];
            let p = begin_map(&mut out);
            for i in 0..n {
                uint(&mut out, i as u64);
                nil(&mut out);
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
            int(&mut out, v);
            same_as_rmpv(&out);
        }
        for len in [0usize, 31, 32, 255, 256, 65535, 65536] {
            let mut out = Vec::new();
            str_bytes(&mut out, &vec![b'a'; len]);
            same_as_rmpv(&out);
        }
        let mut out = Vec::new();
        let p = begin_array(&mut out);
        for _ in 0..20 {
            bool(&mut out, true);
        }
        finish_array(&mut out, p, 20);
        f64(&mut out, 1.5);
        same_as_rmpv(&out[..out.len() - 9]);
    }
}
