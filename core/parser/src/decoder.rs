//! Field decoders: `decode_field` and `decode_field_as` (Fluent Bit's "Decoders").
//!
//! Each rule names a decoder, a field and an optional action:
//! `decode_field_as escaped log try_next`. Rules for the same field run in the order written.
//!
//! - `decode_field_as` replaces the field's value with the decoded one (a string or, for
//!   `json`, a map).
//! - `decode_field` keeps the field and appends the keys of the decoded map to the record.
//! - `try_next`: if this decoder fails, try the field's next rule; `do_next`: run the next rule
//!   whether this one succeeded or not. Without an action, processing of the field stops at
//!   this rule.
//!
//! Decoders: `json` (the value must hold a JSON object; it is read as is and, failing that, after
//! unescaping, as Fluent Bit does for values that arrive escaped), `escaped` (C-style `\n`,
//! `\t`, ... escapes; other escaped characters lose their backslash) and `escaped_utf8` (also
//! `\xHH`, `\uHHHH`, `\UHHHHHHHH` and octal escapes; `\"`, `\'`, `\\` and `\/` are left as they
//! are, as in Fluent Bit).

use weir_event::value as mp;
use weir_event::view::{read_str_bytes, MapIter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Json,
    Escaped,
    EscapedUtf8,
}

/// Whether a rule replaces the field (`decode_field_as`) or adds keys (`decode_field`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeKind {
    Field,
    FieldAs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    TryNext,
    DoNext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    kind: DecodeKind,
    backend: Backend,
    action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRules {
    key: Box<[u8]>,
    rules: Vec<Rule>,
}

/// The decoders of one parser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoders {
    fields: Vec<FieldRules>,
}

enum Decoded {
    Str(Vec<u8>),
    /// An encoded map.
    Map(Vec<u8>),
}

impl Decoders {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Adds a rule from a `decode_field` / `decode_field_as` value: `<decoder> <field> [action]`.
    pub fn add(&mut self, kind: DecodeKind, value: &str) -> Result<(), String> {
        let parts: Vec<&str> = value.split_ascii_whitespace().collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(format!(
                "expected '<decoder> <field> [try_next|do_next]', got '{value}'"
            ));
        }
        let backend = match parts[0].to_ascii_lowercase().as_str() {
            "json" => Backend::Json,
            "escaped" => Backend::Escaped,
            "escaped_utf8" => Backend::EscapedUtf8,
            other => {
                return Err(format!(
                    "unknown decoder '{other}': expected json, escaped or escaped_utf8"
                ))
            }
        };
        let action = match parts.get(2).map(|a| a.to_ascii_lowercase()) {
            None => Action::None,
            Some(a) if a == "try_next" => Action::TryNext,
            Some(a) if a == "do_next" => Action::DoNext,
            Some(a) => {
                return Err(format!(
                    "unknown decoder action '{a}': expected try_next or do_next"
                ))
            }
        };
        let rule = Rule {
            kind,
            backend,
            action,
        };
        let key = parts[1].as_bytes();
        match self.fields.iter_mut().find(|f| &*f.key == key) {
            Some(f) => f.rules.push(rule),
            None => self.fields.push(FieldRules {
                key: key.into(),
                rules: vec![rule],
            }),
        }
        Ok(())
    }

    /// Applies the decoders to the encoded map `map`, appending the new map to `out`. Returns
    /// false (and writes nothing) when no field has a decoder, so the caller keeps `map`.
    pub fn apply(&self, map: &[u8], out: &mut Vec<u8>) -> bool {
        let Ok(iter) = MapIter::new(map) else {
            return false;
        };
        let entries: Vec<_> = iter.filter_map(Result::ok).collect();
        let matched = entries.iter().any(|e| self.rules_for(e.key).is_some());
        if !matched {
            return false;
        }
        let mark = out.len();
        let header = mp::begin_map(out);
        let mut n = entries.len();
        let mut extra: Vec<u8> = Vec::new();
        let mut extra_n = 0usize;
        for e in &entries {
            out.extend_from_slice(e.key);
            let (Some(rules), Some(value)) = (self.rules_for(e.key), str_value(e.value)) else {
                out.extend_from_slice(e.value);
                continue;
            };
            let mut data = Decoded::Str(value.to_vec());
            let mut decoded_as = false;
            let mut decoded: Option<Decoded> = None;
            for rule in rules {
                if rule.kind == DecodeKind::Field
                    && rule.action == Action::DoNext
                    && decoded.is_some()
                {
                    continue;
                }
                let Decoded::Str(input) = &data else {
                    // decode_field_as produced a map: only text can be decoded further.
                    continue;
                };
                let Some(result) = decode(rule.backend, input) else {
                    if rule.action == Action::None {
                        break;
                    }
                    continue;
                };
                match rule.kind {
                    DecodeKind::FieldAs => {
                        data = result;
                        decoded_as = true;
                    }
                    DecodeKind::Field => decoded = Some(result),
                }
                if rule.action != Action::DoNext {
                    break;
                }
            }
            match (&data, decoded_as) {
                (Decoded::Str(s), true) => mp::write_str_bytes(out, s),
                (Decoded::Map(m), true) => out.extend_from_slice(m),
                _ => out.extend_from_slice(e.value),
            }
            // decode_field only adds keys when it decoded a map; text has no keys to add.
            if let Some(Decoded::Map(m)) = decoded {
                if let Ok(it) = MapIter::new(&m) {
                    for kv in it.flatten() {
                        extra.extend_from_slice(kv.key);
                        extra.extend_from_slice(kv.value);
                        extra_n += 1;
                    }
                }
            }
        }
        out.extend_from_slice(&extra);
        n += extra_n;
        mp::finish_map(out, header, n);
        debug_assert!(out.len() > mark);
        true
    }

    fn rules_for(&self, key: &[u8]) -> Option<&[Rule]> {
        if !matches!(key.first(), Some(0xa0..=0xbf | 0xd9 | 0xda | 0xdb)) {
            return None;
        }
        let k = read_str_bytes(key)?;
        self.fields
            .iter()
            .find(|f| &*f.key == k)
            .map(|f| f.rules.as_slice())
    }
}

fn str_value(v: &[u8]) -> Option<&[u8]> {
    if matches!(v.first(), Some(0xa0..=0xbf | 0xd9 | 0xda | 0xdb)) {
        read_str_bytes(v)
    } else {
        None
    }
}

fn decode(backend: Backend, input: &[u8]) -> Option<Decoded> {
    match backend {
        Backend::Json => {
            let mut out = Vec::with_capacity(input.len());
            if input.first() == Some(&b'{')
                && crate::json::transcode_object(input, &mut out, None).is_ok()
            {
                return Some(Decoded::Map(out));
            }
            let unescaped = unescape(input);
            out.clear();
            if unescaped.first() == Some(&b'{')
                && crate::json::transcode_object(&unescaped, &mut out, None).is_ok()
            {
                return Some(Decoded::Map(out));
            }
            None
        }
        Backend::Escaped => Some(Decoded::Str(unescape(input))),
        Backend::EscapedUtf8 => Some(Decoded::Str(unescape_utf8(input))),
    }
}

/// Fluent Bit's `escaped` decoder.
pub fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            let Some(&n) = s.get(i + 1) else { break };
            let mapped = match n {
                b'n' => Some(b'\n'),
                b'a' => Some(0x07),
                b'b' => Some(0x08),
                b't' => Some(b'\t'),
                b'v' => Some(0x0b),
                b'f' => Some(0x0c),
                b'r' => Some(b'\r'),
                _ => None,
            };
            match mapped {
                Some(c) => {
                    out.push(c);
                    i += 2;
                }
                None => {
                    // Unknown escape: drop the backslash, keep the character.
                    out.push(n);
                    i += 2;
                }
            }
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Fluent Bit's `escaped_utf8` decoder.
pub fn unescape_utf8(s: &[u8]) -> Vec<u8> {
    unescape_utf8_with(s, false)
}

/// Unescapes a quoted logfmt value: the `escaped_utf8` rules, plus `\"`, `\\`, `\'` and `\/`
/// standing for the character itself.
pub fn unescape_logfmt(s: &[u8]) -> Vec<u8> {
    unescape_utf8_with(s, true)
}

fn unescape_utf8_with(s: &[u8], quotes: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let next = s.get(i + 1).copied();
        if quotes && b == b'\\' && matches!(next, Some(b'"' | b'\'' | b'\\' | b'/')) {
            if let Some(n) = next {
                out.push(n);
            }
            i += 2;
            continue;
        }
        if b != b'\\' || matches!(next, Some(b'"' | b'\'' | b'\\' | b'/')) {
            out.push(b);
            i += 1;
            if b == b'\\' {
                // keep the escaped character literally too
                if let Some(n) = next {
                    out.push(n);
                    i += 1;
                }
            }
            continue;
        }
        let Some(e) = next else {
            out.push(b);
            break;
        };
        i += 2;
        let simple = match e {
            b'n' => Some('\n'),
            b't' => Some('\t'),
            b'r' => Some('\r'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'v' => Some('\u{b}'),
            b'a' => Some('\u{7}'),
            _ => None,
        };
        let c = if let Some(c) = simple {
            c
        } else if (b'0'..=b'7').contains(&e) {
            let mut v = u32::from(e - b'0');
            let mut k = 0;
            while k < 2 && s.get(i).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                v = v * 8 + u32::from(s[i] - b'0');
                i += 1;
                k += 1;
            }
            char::from_u32(v).unwrap_or('\u{fffd}')
        } else if let Some(max) = match e {
            b'x' => Some(2),
            b'u' => Some(4),
            b'U' => Some(8),
            _ => None,
        } {
            let start = i;
            let mut v: u32 = 0;
            while i - start < max && s.get(i).is_some_and(u8::is_ascii_hexdigit) {
                v = v.wrapping_mul(16) + char::from(s[i]).to_digit(16).unwrap_or(0);
                i += 1;
            }
            if i == start {
                char::from(e)
            } else if e == b'u' && (0xd800..0xdc00).contains(&v) && s.get(i..i + 2) == Some(b"\\u")
            {
                // A surrogate pair written as two escapes.
                let lo_start = i + 2;
                let lo = s
                    .get(lo_start..lo_start + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                match lo {
                    Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                        i = lo_start + 4;
                        char::from_u32(0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00))
                            .unwrap_or('\u{fffd}')
                    }
                    _ => '\u{fffd}',
                }
            } else {
                char::from_u32(v).unwrap_or('\u{fffd}')
            }
        } else {
            // Unknown escape: the character itself.
            out.push(e);
            continue;
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_event::json::to_json_string;

    fn record(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        weir_event::json::from_json(json, &mut out).unwrap();
        out
    }

    fn run(rules: &[(DecodeKind, &str)], json: &str) -> String {
        let mut d = Decoders::default();
        for (k, v) in rules {
            d.add(*k, v).unwrap();
        }
        let mut out = Vec::new();
        let rec = record(json);
        if !d.apply(&rec, &mut out) {
            return to_json_string(&rec).unwrap();
        }
        to_json_string(&out).unwrap()
    }

    #[test]
    fn docker_style_escaped_log() {
        let got = run(
            &[(DecodeKind::FieldAs, "escaped log")],
            r#"{"log":"a\\tb\\nc","stream":"stdout"}"#,
        );
        assert_eq!(got, r#"{"log":"a\tb\nc","stream":"stdout"}"#);
    }

    #[test]
    fn json_as_replaces_and_field_appends() {
        let j = r#"{"log":"{\"status\": \"up\"}\r\n","x":1}"#;
        assert_eq!(
            run(&[(DecodeKind::FieldAs, "json log")], j),
            r#"{"log":{"status":"up"},"x":1}"#
        );
        assert_eq!(
            run(&[(DecodeKind::Field, "json log")], j),
            r#"{"log":"{\"status\": \"up\"}\r\n","x":1,"status":"up"}"#
        );
        // not JSON: unchanged
        assert_eq!(
            run(&[(DecodeKind::FieldAs, "json log")], r#"{"log":"plain"}"#),
            r#"{"log":"plain"}"#
        );
    }

    #[test]
    fn actions_chain() {
        // json fails, try_next runs escaped
        let got = run(
            &[
                (DecodeKind::FieldAs, "json log try_next"),
                (DecodeKind::FieldAs, "escaped log"),
            ],
            r#"{"log":"x\\ty"}"#,
        );
        assert_eq!(got, r#"{"log":"x\ty"}"#);
        // without an action the chain stops at the failure
        let got = run(
            &[
                (DecodeKind::FieldAs, "json log"),
                (DecodeKind::FieldAs, "escaped log"),
            ],
            r#"{"log":"x\\ty"}"#,
        );
        assert_eq!(got, r#"{"log":"x\\ty"}"#);
        // escaped then json with do_next
        let got = run(
            &[
                (DecodeKind::FieldAs, "escaped log do_next"),
                (DecodeKind::FieldAs, "json log"),
            ],
            r#"{"log":"{\"a\":1}"}"#,
        );
        assert_eq!(got, r#"{"log":{"a":1}}"#);
    }

    #[test]
    fn utf8_escapes() {
        assert_eq!(
            unescape_utf8(br"\u0009x\x41\101\n\q"),
            b"\tx\x41A\nq".to_vec()
        );
        assert_eq!(unescape_utf8(br#"say \"hi\""#), br#"say \"hi\""#.to_vec());
        assert_eq!(
            String::from_utf8(unescape_utf8(br"\ud83d\ude00")).unwrap(),
            "\u{1f600}"
        );
        assert_eq!(unescape(br#"a\\b\"c\"#), br#"a\b"c"#.to_vec());
    }

    #[test]
    fn bad_rules() {
        let mut d = Decoders::default();
        assert!(d.add(DecodeKind::Field, "yaml log").is_err());
        assert!(d.add(DecodeKind::Field, "json").is_err());
        assert!(d.add(DecodeKind::Field, "json log sometimes").is_err());
    }
}
