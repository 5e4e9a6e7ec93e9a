//! The `json` format: JSON text straight to MessagePack, with the time key handled on the way.
//!
//! A small hand-written reader instead of serde: the parser's hot path is one JSON object per
//! line, and reading it in one pass that writes MessagePack directly, finds string ends with
//! `memchr` and copies unescaped strings in one `extend_from_slice` is what keeps it fast. While
//! reading the top-level map it recognises the time key, hands its string value to the time
//! parser and, when `time_keep` is off and the time parsed, takes the pair back out of the
//! output, so the record is written once.
//!
//! Accepted input is JSON (RFC 8259) with two leniencies Fluent Bit also has: raw control
//! characters inside strings pass through, and bytes that are not UTF-8 are copied as they are.
//! Numbers become integers when they have no fraction or exponent and fit 64 bits, floats
//! otherwise. A lone UTF-16 surrogate in a `\u` escape becomes U+FFFD.

use weir_event::value as mp;

/// Deepest nesting accepted (arrays and maps), so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Why JSON text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub at: usize,
    pub reason: &'static str,
}

/// What to do with the top-level time key while transcoding.
pub(crate) struct TimeHook<'a> {
    pub key: &'a [u8],
    pub keep: bool,
    /// Called with the key's string value (`None` when the value is not a string); returns
    /// whether it parsed as a time.
    pub parse: &'a mut dyn FnMut(Option<&[u8]>) -> bool,
}

/// Transcodes a JSON object, appending its MessagePack encoding to `out`. `out` is left
/// partially written on error: callers truncate.
pub(crate) fn transcode_object(
    input: &[u8],
    out: &mut Vec<u8>,
    hook: Option<TimeHook<'_>>,
) -> Result<(), JsonError> {
    let mut r = Reader { s: input, p: 0 };
    r.ws();
    if r.peek() != Some(b'{') {
        return Err(r.err(if r.p >= input.len() {
            "empty input"
        } else {
            "top-level value is not an object"
        }));
    }
    r.object(out, 0, hook)?;
    r.ws();
    if r.p != input.len() {
        return Err(r.err("trailing characters after the object"));
    }
    Ok(())
}

struct Reader<'a> {
    s: &'a [u8],
    p: usize,
}

impl Reader<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.p).copied()
    }

    #[inline]
    fn err(&self, reason: &'static str) -> JsonError {
        JsonError { at: self.p, reason }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.p += 1;
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'"') => self.string(out),
            Some(b'{') => self.object(out, depth, None),
            Some(b'[') => self.array(out, depth),
            Some(b't') => self.literal(b"true", out, 0xc3),
            Some(b'f') => self.literal(b"false", out, 0xc2),
            Some(b'n') => self.literal(b"null", out, 0xc0),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>, marker: u8) -> Result<(), JsonError> {
        if self.s[self.p..].starts_with(word) {
            self.p += word.len();
            out.push(marker);
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn object(
        &mut self,
        out: &mut Vec<u8>,
        depth: usize,
        mut hook: Option<TimeHook<'_>>,
    ) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.p += 1; // '{'
        let header = mp::begin_map(out);
        let mut n = 0usize;
        self.ws();
        if self.peek() == Some(b'}') {
            self.p += 1;
            mp::finish_map(out, header, 0);
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key_pos = out.len();
            let is_time = match hook.as_ref() {
                Some(h) => {
                    let content = self.string_content(out)?;
                    content == h.key
                }
                None => {
                    self.string(out)?;
                    false
                }
            };
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after a key"));
            }
            self.p += 1;
            self.ws();
            let time_hook = if is_time && self.peek() == Some(b'"') {
                hook.take()
            } else {
                None
            };
            let mut dropped = false;
            if let Some(h) = time_hook {
                let content = self.string_content(out)?;
                if (h.parse)(Some(content)) && !h.keep {
                    out.truncate(key_pos);
                    dropped = true;
                }
            } else {
                if is_time {
                    // A time key whose value is not a string: Fluent Bit keeps it and stops
                    // looking, so later duplicates are not tried either.
                    if let Some(h) = hook.take() {
                        (h.parse)(None);
                    }
                }
                self.value(out, depth + 1)?;
            }
            if !dropped {
                n += 1;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.p += 1,
                Some(b'}') => {
                    self.p += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        mp::finish_map(out, header, n);
        Ok(())
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.p += 1; // '['
        let header = mp::begin_array(out);
        let mut n = 0usize;
        self.ws();
        if self.peek() == Some(b']') {
            self.p += 1;
            mp::finish_array(out, header, 0);
            return Ok(());
        }
        loop {
            self.ws();
            self.value(out, depth + 1)?;
            n += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.p += 1,
                Some(b']') => {
                    self.p += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
        mp::finish_array(out, header, n);
        Ok(())
    }

    #[inline]
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        self.string_content(out).map(|_| ())
    }

    /// Writes the string at the cursor and returns its decoded content as written in `out`.
    #[inline]
    fn string_content<'o>(&mut self, out: &'o mut Vec<u8>) -> Result<&'o [u8], JsonError> {
        self.p += 1; // opening quote
        let start = self.p;
        let rest = &self.s[start..];
        match memchr::memchr2(b'"', b'\\', rest) {
            Some(i) if rest[i] == b'"' => {
                mp::write_str_header(out, i);
                let at = out.len();
                out.extend_from_slice(&rest[..i]);
                self.p = start + i + 1;
                Ok(&out[at..])
            }
            Some(_) => self.escaped_string(out, start),
            None => Err(JsonError {
                at: start - 1,
                reason: "unterminated string",
            }),
        }
    }

    /// The slow path for strings with escapes: decode after a header sized for the raw length,
    /// then shrink the header if the decoded text needs a smaller one.
    fn escaped_string<'o>(
        &mut self,
        out: &'o mut Vec<u8>,
        start: usize,
    ) -> Result<&'o [u8], JsonError> {
        let raw_end = find_string_end(self.s, start).ok_or(JsonError {
            at: start - 1,
            reason: "unterminated string",
        })?;
        let raw_len = raw_end - start;
        let header_pos = out.len();
        let big = header_len(raw_len);
        out.resize(header_pos + big, 0);
        let mut p = start;
        while p < raw_end {
            let rest = &self.s[p..raw_end];
            let i = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
            out.extend_from_slice(&rest[..i]);
            p += i;
            if p >= raw_end {
                break;
            }
            // backslash at p; find_string_end guarantees a following byte
            let e = self.s[p + 1];
            p += 2;
            match e {
                b'"' => out.push(b'"'),
                b'\\' => out.push(b'\\'),
                b'/' => out.push(b'/'),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'u' => {
                    let hi = hex4(self.s, p, raw_end).ok_or(JsonError {
                        at: p,
                        reason: "invalid \\u escape",
                    })?;
                    p += 4;
                    let c = if (0xd800..0xdc00).contains(&hi)
                        && self.s.get(p..p + 2) == Some(b"\\u")
                        && hex4(self.s, p + 2, raw_end)
                            .is_some_and(|lo| (0xdc00..0xe000).contains(&lo))
                    {
                        let lo = hex4(self.s, p + 2, raw_end).unwrap_or(0xdc00);
                        p += 6;
                        char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                            .unwrap_or('\u{fffd}')
                    } else {
                        char::from_u32(hi).unwrap_or('\u{fffd}')
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => {
                    return Err(JsonError {
                        at: p - 1,
                        reason: "invalid escape",
                    })
                }
            }
        }
        self.p = raw_end + 1;
        let len = out.len() - header_pos - big;
        let small = header_len(len);
        if small < big {
            out.copy_within(header_pos + big.., header_pos + small);
            out.truncate(out.len() - (big - small));
        }
        let mut header = Vec::with_capacity(5);
        mp::write_str_header(&mut header, len);
        out[header_pos..header_pos + small].copy_from_slice(&header);
        Ok(&out[header_pos + small..])
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let s = self.s;
        let start = self.p;
        let mut p = start;
        let neg = s[p] == b'-';
        if neg {
            p += 1;
        }
        let int_start = p;
        let mut v: u64 = 0;
        let mut overflow = false;
        while p < s.len() && s[p].is_ascii_digit() {
            let d = u64::from(s[p] - b'0');
            match v.checked_mul(10).and_then(|v| v.checked_add(d)) {
                Some(nv) => v = nv,
                None => overflow = true,
            }
            p += 1;
        }
        if p == int_start {
            return Err(JsonError {
                at: p,
                reason: "invalid number",
            });
        }
        let mut float = false;
        if p < s.len() && s[p] == b'.' {
            p += 1;
            let f = p;
            while p < s.len() && s[p].is_ascii_digit() {
                p += 1;
            }
            if p == f {
                return Err(JsonError {
                    at: p,
                    reason: "invalid number",
                });
            }
            float = true;
        }
        if p < s.len() && matches!(s[p], b'e' | b'E') {
            p += 1;
            if p < s.len() && matches!(s[p], b'+' | b'-') {
                p += 1;
            }
            let e = p;
            while p < s.len() && s[p].is_ascii_digit() {
                p += 1;
            }
            if p == e {
                return Err(JsonError {
                    at: p,
                    reason: "invalid number",
                });
            }
            float = true;
        }
        self.p = p;
        if !float && !overflow {
            if !neg {
                mp::write_uint(out, v);
                return Ok(());
            }
            if v <= 1u64 << 63 {
                mp::write_int(out, (v as i64).wrapping_neg());
                return Ok(());
            }
        }
        let text = std::str::from_utf8(&s[start..p]).map_err(|_| JsonError {
            at: start,
            reason: "invalid number",
        })?;
        let f: f64 = text.parse().map_err(|_| JsonError {
            at: start,
            reason: "invalid number",
        })?;
        mp::write_f64(out, f);
        Ok(())
    }
}

fn header_len(len: usize) -> usize {
    match len {
        0..=31 => 1,
        32..=255 => 2,
        256..=65_535 => 3,
        _ => 5,
    }
}

/// Index of the closing quote of a string whose content starts at `start`.
fn find_string_end(s: &[u8], start: usize) -> Option<usize> {
    let mut p = start;
    loop {
        let i = memchr::memchr2(b'"', b'\\', s.get(p..)?)?;
        p += i;
        if s[p] == b'"' {
            return Some(p);
        }
        if p + 1 >= s.len() {
            return None;
        }
        p += 2;
    }
}

fn hex4(s: &[u8], p: usize, end: usize) -> Option<u32> {
    if p + 4 > end {
        return None;
    }
    let mut v = 0u32;
    for &b in &s[p..p + 4] {
        v = v * 16 + char::from(b).to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_event::json::to_json_string;

    fn round(text: &str) -> String {
        let mut out = Vec::new();
        transcode_object(text.as_bytes(), &mut out, None).unwrap();
        to_json_string(&out).unwrap()
    }

    #[test]
    fn transcodes_like_serde() {
        for text in [
            r#"{"a":1,"b":[true,null,-2,1.5],"c":{"d":"x\"y\n"},"e":18446744073709551615}"#,
            r#"{}"#,
            r#"{"k":[]}"#,
            r#"{"n":-9223372036854775808,"big":1e300,"neg":-0.5,"u":"\u00e9\ud83d\ude00"}"#,
        ] {
            let mut expected = Vec::new();
            weir_event::json::from_json(text, &mut expected).unwrap();
            let mut out = Vec::new();
            transcode_object(text.as_bytes(), &mut out, None).unwrap();
            assert_eq!(out, expected, "{text}");
        }
    }

    #[test]
    fn long_and_escaped_strings_have_canonical_headers() {
        for len in [10usize, 31, 32, 40, 255, 256, 300, 70_000] {
            let body = "x".repeat(len);
            let text = format!(r#"{{"k":"{body}\\n","j":"{body}"}}"#);
            let mut expected = Vec::new();
            weir_event::json::from_json(&text, &mut expected).unwrap();
            let mut out = Vec::new();
            transcode_object(text.as_bytes(), &mut out, None).unwrap();
            assert_eq!(out, expected, "len {len}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "  ",
            "[1]",
            "\"s\"",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} x",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":01.}",
            "{\"a\":\"\\ud800\\u12\"}",
        ] {
            let mut out = Vec::new();
            assert!(
                transcode_object(bad.as_bytes(), &mut out, None).is_err(),
                "{bad:?}"
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(transcode_object(deep.as_bytes(), &mut Vec::new(), None).is_err());
    }

    #[test]
    fn leniencies() {
        assert_eq!(round("{\"a\":\"tab\there\"}"), r#"{"a":"tab\there"}"#);
        assert_eq!(round(" {\"a\" : 1 }\r\n"), r#"{"a":1}"#);
        assert_eq!(round(r#"{"a":"\ud800x"}"#), "{\"a\":\"\u{fffd}x\"}");
    }

    #[test]
    fn time_hook_drops_or_keeps() {
        let text = br#"{"ts":"T","a":1,"ts":"again"}"#;
        for keep in [false, true] {
            let mut seen = Vec::new();
            let mut parse = |v: Option<&[u8]>| {
                seen.push(v.unwrap_or_default().to_vec());
                true
            };
            let mut out = Vec::new();
            transcode_object(
                text,
                &mut out,
                Some(TimeHook {
                    key: b"ts",
                    keep,
                    parse: &mut parse,
                }),
            )
            .unwrap();
            assert_eq!(seen, vec![b"T".to_vec()]);
            let expected = if keep {
                r#"{"ts":"T","a":1,"ts":"again"}"#
            } else {
                r#"{"a":1,"ts":"again"}"#
            };
            assert_eq!(to_json_string(&out).unwrap(), expected);
        }
        // an unparsable time is kept
        let mut parse = |_: Option<&[u8]>| false;
        let mut out = Vec::new();
        transcode_object(
            text,
            &mut out,
            Some(TimeHook {
                key: b"ts",
                keep: false,
                parse: &mut parse,
            }),
        )
        .unwrap();
        assert_eq!(
            to_json_string(&out).unwrap(),
            r#"{"ts":"T","a":1,"ts":"again"}"#
        );
    }
}
