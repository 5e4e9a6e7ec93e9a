//! Fluent Bit's record accessor (`$key`, `$key['sub'][0]`) and templates built from it.
//!
//! A [`RecordAccessor`] names one value inside a record: a root key and a path of map keys and
//! array indexes. The grammar is Fluent Bit's (`src/record_accessor/ra.l` and `ra.y`):
//!
//! ```text
//! accessor := '$' IDENT subscript*          IDENT  := [_A-Za-z][A-Za-z0-9_.\-/]*
//! subscript := '[' STRING ']' | '[' INT ']'  STRING := '...' with '' standing for '
//! ```
//!
//! Weir also accepts `$['any key']` as the root, for keys that are not identifiers (a space, a
//! leading `@`); Fluent Bit has no way to write those.
//!
//! Lookups follow Fluent Bit's `flb_ra_key.c`: only string keys match, and when a map repeats a
//! key the last occurrence wins. Unlike Fluent Bit, a path that runs into a scalar fails rather
//! than returning the scalar (Fluent Bit answers `$log['x']` with the whole of `log` when `log`
//! is a string, which no configuration relies on).
//!
//! The same lookup works on encoded bytes ([`RecordAccessor::get`], no decoding: filters that
//! only read, like grep, stay zero-copy) and on a decoded [`rmpv::Value`]
//! ([`RecordAccessor::get_value`], [`RecordAccessor::set`], [`RecordAccessor::remove`]).
//!
//! A [`Template`] is text with accessors in it, as `rewrite_tag` builds new tags:
//! `from.$TAG[1].$kubernetes['namespace_name'].$1`.

use crate::event::skip_value;
use crate::view::{read_map_len, read_str_bytes};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1, space0};
use nom::combinator::{all_consuming, map, map_res, recognize};
use nom::multi::many0;
use nom::sequence::{delimited, pair, preceded};
use nom::{IResult, Parser};
use rmpv::Value;
use std::fmt;

/// One step below the root key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// `['name']`: a key of a map.
    Key(String),
    /// `[3]`: an element of an array.
    Index(usize),
}

/// Why an accessor or a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid record accessor '{pattern}': {reason}")]
pub struct AccessorError {
    /// The text that was being parsed.
    pub pattern: String,
    /// What was wrong, and where.
    pub reason: String,
}

impl AccessorError {
    fn new(pattern: &str, reason: impl Into<String>) -> Self {
        Self {
            pattern: pattern.to_string(),
            reason: reason.into(),
        }
    }
}

/// A parsed record accessor: a root key and a path below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordAccessor {
    root: String,
    path: Vec<Segment>,
}

impl RecordAccessor {
    /// Parses `$key`, `$key['sub'][0]`, `$['key with spaces']`.
    pub fn parse(text: &str) -> Result<Self, AccessorError> {
        match all_consuming(accessor).parse(text.trim()) {
            Ok((_, ra)) => Ok(ra),
            Err(e) => {
                let at = match &e {
                    nom::Err::Error(e) | nom::Err::Failure(e) => text.trim().len() - e.input.len(),
                    nom::Err::Incomplete(_) => text.trim().len(),
                };
                let reason = if !text.trim_start().starts_with('$') {
                    "expected '$' followed by a key, like $log or $kubernetes['labels']".to_string()
                } else {
                    format!("unexpected input at character {}", at + 1)
                };
                Err(AccessorError::new(text, reason))
            }
        }
    }

    /// An accessor for one top-level key, taken literally (no `$` syntax): what a plugin uses
    /// when a user writes a plain key name such as `log` or `@timestamp`.
    pub fn key(name: &str) -> Self {
        Self {
            root: name.to_string(),
            path: Vec::new(),
        }
    }

    /// An accessor from a root key and a path.
    pub fn from_parts(root: impl Into<String>, path: Vec<Segment>) -> Self {
        Self {
            root: root.into(),
            path,
        }
    }

    /// Parses `text` when it starts with `$`, else takes it as a plain top-level key: the rule
    /// Fluent Bit plugins apply to their key parameters.
    pub fn parse_or_key(text: &str) -> Result<Self, AccessorError> {
        if text.starts_with('$') {
            Self::parse(text)
        } else {
            Ok(Self::key(text))
        }
    }

    /// The top-level key.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The steps below the root key.
    pub fn path(&self) -> &[Segment] {
        &self.path
    }

    /// True when the accessor names a top-level key only.
    pub fn is_top_level(&self) -> bool {
        self.path.is_empty()
    }

    /// The encoded value the accessor names in an encoded map, without decoding anything.
    ///
    /// `None` when a key is missing, an index is out of range, a step meets a value of the wrong
    /// kind, or the bytes are malformed.
    pub fn get<'a>(&self, body: &'a [u8]) -> Option<&'a [u8]> {
        let mut cur = find_key_bytes(body, &self.root)?;
        for seg in &self.path {
            cur = match seg {
                Segment::Key(k) => find_key_bytes(cur, k)?,
                Segment::Index(i) => array_index_bytes(cur, *i)?,
            };
        }
        Some(cur)
    }

    /// The value the accessor names in a decoded record.
    pub fn get_value<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        let mut cur = map_get(record, &self.root)?;
        for seg in &self.path {
            cur = match seg {
                Segment::Key(k) => map_get(cur, k)?,
                Segment::Index(i) => match cur {
                    Value::Array(a) => a.get(*i)?,
                    _ => return None,
                },
            };
        }
        Some(cur)
    }

    /// A mutable reference to the value the accessor names.
    pub fn get_mut<'a>(&self, record: &'a mut Value) -> Option<&'a mut Value> {
        let mut cur = map_get_mut(record, &self.root)?;
        for seg in &self.path {
            cur = step_mut(cur, seg)?;
        }
        Some(cur)
    }

    /// Sets the value the accessor names, replacing it in place when it exists.
    ///
    /// Missing map keys are created, with maps for the levels in between (a new key goes at the
    /// end of its map). Returns false, leaving the record unchanged, when the path cannot be
    /// made: the record is not a map, a step meets a value that is not a map (or not an array
    /// for an index), or an array index is out of range (arrays are never grown).
    pub fn set(&self, record: &mut Value, value: Value) -> bool {
        let mut segments = Vec::with_capacity(self.path.len() + 1);
        segments.push(Segment::Key(self.root.clone()));
        segments.extend(self.path.iter().cloned());
        set_path(record, &segments, value)
    }

    /// Removes the value the accessor names and returns it.
    ///
    /// For a map key, every pair with that key is removed (a repeated key would otherwise
    /// reappear) and the last one's value is returned. For an index, the element is removed and
    /// the following ones shift down.
    pub fn remove(&self, record: &mut Value) -> Option<Value> {
        let (last, parent) = match self.path.split_last() {
            None => (Segment::Key(self.root.clone()), record),
            Some((last, init)) => {
                let mut cur = map_get_mut(record, &self.root)?;
                for seg in init {
                    cur = step_mut(cur, seg)?;
                }
                (last.clone(), cur)
            }
        };
        match (last, parent) {
            (Segment::Key(k), Value::Map(m)) => {
                let mut removed = None;
                m.retain_mut(|(key, v)| {
                    if is_key(key, &k) {
                        removed = Some(std::mem::replace(v, Value::Nil));
                        false
                    } else {
                        true
                    }
                });
                removed
            }
            (Segment::Index(i), Value::Array(a)) if i < a.len() => Some(a.remove(i)),
            _ => None,
        }
    }
}

impl fmt::Display for RecordAccessor {
    /// The canonical `$key['sub'][0]` form (`$['key']` when the root is not an identifier).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_ident(&self.root) {
            write!(f, "${}", self.root)?;
        } else {
            write!(f, "$['{}']", self.root.replace('\'', "''"))?;
        }
        for seg in &self.path {
            match seg {
                Segment::Key(k) => write!(f, "['{}']", k.replace('\'', "''"))?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
}

// ----- parser -----

fn ident(input: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| c == '_' || c.is_ascii_alphabetic()).map(|_| ()),
        take_while(|c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')),
    ))
    .parse(input)
}

/// `'...'` where `''` stands for one quote (Fluent Bit's lexer rule).
fn quoted(input: &str) -> IResult<&str, String> {
    let (rest, body) = delimited(
        char('\''),
        recognize(many0(alt((take_while1(|c: char| c != '\''), tag("''"))))),
        char('\''),
    )
    .parse(input)?;
    Ok((rest, body.replace("''", "'")))
}

fn index(input: &str) -> IResult<&str, usize> {
    map_res(digit1, |d: &str| {
        // Fluent Bit's lexer has no leading zeros except for 0 itself.
        if d.len() > 1 && d.starts_with('0') {
            Err("leading zero")
        } else {
            d.parse::<usize>().map_err(|_| "index too large")
        }
    })
    .parse(input)
}

fn subscript(input: &str) -> IResult<&str, Segment> {
    delimited(
        pair(char('['), space0),
        alt((map(quoted, Segment::Key), map(index, Segment::Index))),
        pair(space0, char(']')),
    )
    .parse(input)
}

fn accessor(input: &str) -> IResult<&str, RecordAccessor> {
    let root = alt((
        map(ident, str::to_string),
        delimited(pair(char('['), space0), quoted, pair(space0, char(']'))),
    ));
    map(
        preceded(char('$'), pair(root, many0(subscript))),
        |(root, path)| RecordAccessor { root, path },
    )
    .parse(input)
}

// ----- lookups on encoded bytes -----

/// The value of the last string key equal to `key` in the encoded map at the start of `map`.
///
/// This is the hot path of read-only filters, so keys are compared from their headers and the
/// common small values are stepped over inline; anything else goes through the bounded walker.
fn find_key_bytes<'a>(map: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let (len, mut pos) = read_map_len(map, 0).ok()?;
    let want = key.as_bytes();
    let mut found = None;
    for _ in 0..len {
        let (key_text, key_end) = match *map.get(pos)? {
            m @ 0xa0..=0xbf => {
                let end = pos + 1 + usize::from(m & 0x1f);
                (map.get(pos + 1..end)?, end)
            }
            0xd9 => {
                let n = usize::from(*map.get(pos + 1)?);
                (map.get(pos + 2..pos + 2 + n)?, pos + 2 + n)
            }
            0xda | 0xdb => {
                let end = skip_value(map, pos).ok()?;
                (read_str_bytes(&map[pos..end])?, end)
            }
            _ => (&[][..], skip_value(map, pos).ok()?),
        };
        let is_str = matches!(map[pos], 0xa0..=0xbf | 0xd9..=0xdb);
        let value_end = skip_small(map, key_end)?;
        if is_str && key_text == want {
            found = Some(&map[key_end..value_end]);
        }
        pos = value_end;
    }
    found
}

/// Offset just past the value at `at`: small scalars and short strings inline, the rest
/// through [`skip_value`].
#[inline]
fn skip_small(buf: &[u8], at: usize) -> Option<usize> {
    let end = match *buf.get(at)? {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => at + 1,
        m @ 0xa0..=0xbf => at + 1 + usize::from(m & 0x1f),
        0xd9 | 0xc4 => at + 2 + usize::from(*buf.get(at + 1)?),
        0xcc | 0xd0 => at + 2,
        0xcd | 0xd1 => at + 3,
        0xca | 0xce | 0xd2 => at + 5,
        0xcb | 0xcf | 0xd3 => at + 9,
        _ => return skip_value(buf, at).ok(),
    };
    (end <= buf.len()).then_some(end)
}

fn array_index_bytes(buf: &[u8], i: usize) -> Option<&[u8]> {
    let m = *buf.first()?;
    let be = |n: usize| -> Option<usize> {
        let s = buf.get(1..1 + n)?;
        Some(s.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    };
    let (len, mut pos) = match m {
        0x90..=0x9f => ((m & 0x0f) as usize, 1),
        0xdc => (be(2)?, 3),
        0xdd => (be(4)?, 5),
        _ => return None,
    };
    if i >= len {
        return None;
    }
    for _ in 0..i {
        pos = skip_value(buf, pos).ok()?;
    }
    let end = skip_value(buf, pos).ok()?;
    buf.get(pos..end)
}

// ----- lookups on decoded values -----

fn is_key(k: &Value, key: &str) -> bool {
    matches!(k, Value::String(s) if s.as_bytes() == key.as_bytes())
}

fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(m) => m.iter().rev().find(|(k, _)| is_key(k, key)).map(|(_, v)| v),
        _ => None,
    }
}

fn map_get_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match v {
        Value::Map(m) => m
            .iter_mut()
            .rev()
            .find(|(k, _)| is_key(k, key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn step_mut<'a>(cur: &'a mut Value, seg: &Segment) -> Option<&'a mut Value> {
    match seg {
        Segment::Key(k) => map_get_mut(cur, k),
        Segment::Index(i) => match cur {
            Value::Array(a) => a.get_mut(*i),
            _ => None,
        },
    }
}

fn set_path(record: &mut Value, segments: &[Segment], value: Value) -> bool {
    let mut cur = record;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match seg {
            Segment::Key(k) => {
                let Value::Map(m) = cur else { return false };
                match m.iter().rposition(|(key, _)| is_key(key, k)) {
                    Some(p) if last => {
                        m[p].1 = value;
                        return true;
                    }
                    Some(p) => cur = &mut m[p].1,
                    None => {
                        let Some(built) = build_nested(&segments[i + 1..], value) else {
                            return false;
                        };
                        m.push((Value::from(k.as_str()), built));
                        return true;
                    }
                }
            }
            Segment::Index(ix) => {
                let Value::Array(a) = cur else { return false };
                let Some(el) = a.get_mut(*ix) else {
                    return false;
                };
                if last {
                    *el = value;
                    return true;
                }
                cur = el;
            }
        }
    }
    false
}

/// `{k1: {k2: value}}` for the remaining key segments; `None` if an index remains (arrays are
/// never created).
fn build_nested(rest: &[Segment], value: Value) -> Option<Value> {
    let mut v = value;
    for seg in rest.iter().rev() {
        match seg {
            Segment::Key(k) => v = Value::Map(vec![(Value::from(k.as_str()), v)]),
            Segment::Index(_) => return None,
        }
    }
    Some(v)
}

// ----- templates -----

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// A record value: `$key['sub']`.
    Key(RecordAccessor),
    /// The whole tag: `$TAG`.
    Tag,
    /// One dot-separated part of the tag, from 0: `$TAG[1]`.
    TagPart(usize),
    /// A regular-expression capture group, `$0` to `$9`.
    Capture(usize),
}

/// What a template may refer to besides the record.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateContext<'a> {
    /// The record's tag, for `$TAG` and `$TAG[n]`.
    pub tag: Option<&'a str>,
    /// Capture groups of the regular expression that selected the record, for `$0`..`$9`.
    pub captures: &'a [Option<&'a [u8]>],
}

/// Text with record accessors, tag references and capture references in it, parsed once.
///
/// Splitting follows Fluent Bit's `flb_ra_create`: a `$` starts a reference that runs to the
/// next `.`, space, `,` or `"` outside quotes, so `from.$source.$kubernetes['ns']` is the text
/// `from.`, the key `source`, the text `.` and the key `kubernetes` / `ns`. `$TAG` and `$TAG[n]`
/// are checked before keys, and `$` followed by a digit is a capture group (one digit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template. A reference that is not a valid accessor is an error.
    pub fn parse(text: &str) -> Result<Self, AccessorError> {
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            let n = i + 1;
            let Some(&next) = bytes.get(n) else { break };
            push_literal(&mut parts, &text[lit_start..i]);
            if next.is_ascii_digit() {
                parts.push(Part::Capture(usize::from(next - b'0')));
                i = n + 1;
            } else if text[n..].starts_with("TAG") {
                i = n + 3;
                let close = (bytes.get(i) == Some(&b'['))
                    .then(|| text[i..].find(']'))
                    .flatten();
                match close {
                    Some(close) => {
                        let inner = text[i + 1..i + close].trim();
                        let idx = inner.parse::<usize>().map_err(|_| {
                            AccessorError::new(
                                text,
                                format!("expected a number in $TAG[...], got '{inner}'"),
                            )
                        })?;
                        parts.push(Part::TagPart(idx));
                        i += close + 1;
                    }
                    None => parts.push(Part::Tag),
                }
            } else {
                let end = reference_end(bytes, n);
                let ra = RecordAccessor::parse(&text[i..end]).map_err(|e| {
                    AccessorError::new(text, format!("'{}': {}", e.pattern, e.reason))
                })?;
                parts.push(Part::Key(ra));
                i = end;
            }
            lit_start = i;
        }
        push_literal(&mut parts, &text[lit_start..]);
        Ok(Self { parts })
    }

    /// The parsed pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// True when the result does not depend on the record (only text and tag references), so
    /// it can be rendered once per tag.
    pub fn is_static(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Literal(_) | Part::Tag | Part::TagPart(_)))
    }

    /// Renders the template for an encoded record body, without tag or captures (those render
    /// as nothing).
    pub fn render(&self, body: &[u8]) -> String {
        self.render_with(body, &TemplateContext::default())
    }

    /// Renders the template for an encoded record body.
    pub fn render_with(&self, body: &[u8], ctx: &TemplateContext<'_>) -> String {
        let mut out = String::new();
        self.render_into(body, ctx, &mut out);
        out
    }

    /// Appends the rendering to `out`; returns false when a record key was missing (it renders
    /// as nothing, as in Fluent Bit).
    ///
    /// Values render as text: strings as they are, integers in decimal, floats with six
    /// decimals (C's `%f`, as Fluent Bit), booleans as `true`/`false`, nil as `null`, maps and
    /// arrays as JSON.
    pub fn render_into(&self, body: &[u8], ctx: &TemplateContext<'_>, out: &mut String) -> bool {
        let mut all_found = true;
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Tag => out.push_str(ctx.tag.unwrap_or("")),
                Part::TagPart(n) => {
                    if let Some(p) = ctx.tag.and_then(|t| t.split('.').nth(*n)) {
                        out.push_str(p);
                    }
                }
                Part::Capture(n) => {
                    if let Some(Some(c)) = ctx.captures.get(*n) {
                        out.push_str(&String::from_utf8_lossy(c));
                    }
                }
                Part::Key(ra) => match ra.get(body) {
                    Some(v) => all_found &= write_value_text(v, out),
                    None => all_found = false,
                },
            }
        }
        all_found
    }
}

fn push_literal(parts: &mut Vec<Part>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Part::Literal(prev)) = parts.last_mut() {
        prev.push_str(s);
    } else {
        parts.push(Part::Literal(s.to_string()));
    }
}

/// End of a `$reference` that starts at `from`: the first `.`, space, `,` or `"` that is not
/// inside single quotes.
fn reference_end(bytes: &[u8], from: usize) -> usize {
    let mut in_quote = false;
    for (off, &b) in bytes[from..].iter().enumerate() {
        match b {
            b'\'' => in_quote = !in_quote,
            b'.' | b' ' | b',' | b'"' if !in_quote => return from + off,
            _ => {}
        }
    }
    bytes.len()
}

/// Appends the text form of the encoded value at the start of `v`; false if it has none.
pub fn write_value_text(v: &[u8], out: &mut String) -> bool {
    use crate::view::{read_scalar, Scalar};
    use std::fmt::Write as _;
    match read_scalar(v) {
        Scalar::Str(s) => out.push_str(s),
        Scalar::Bin(b) => out.push_str(&String::from_utf8_lossy(b)),
        Scalar::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Scalar::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Scalar::Float(f) => {
            let _ = write!(out, "{f:.6}");
        }
        Scalar::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Scalar::Nil => out.push_str("null"),
        Scalar::Other => {
            // Maps and arrays render as JSON; extension values have no text form.
            if !matches!(v.first(), Some(0x80..=0x9f | 0xdc..=0xdf)) {
                return false;
            }
            return crate::json::write_json(v, out).is_ok();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;
    use proptest::prelude::*;

    fn enc(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        from_json(json, &mut out).unwrap();
        out
    }

    fn dec(json: &str) -> Value {
        crate::value::decode(&enc(json)).unwrap()
    }

    fn ra(s: &str) -> RecordAccessor {
        RecordAccessor::parse(s).unwrap()
    }

    const DOC: &str = r#"{"log":"some message","stream":"stdout","labels":{"color":"blue","unset":null,"project":{"env":"production"}},"arr":[1,{"b":"x"},[3,4]],"n":404}"#;

    #[test]
    fn parses_fluent_bit_forms() {
        assert_eq!(ra("$log"), RecordAccessor::key("log"));
        assert_eq!(
            ra("$labels['project']['env']"),
            RecordAccessor::from_parts(
                "labels",
                vec![Segment::Key("project".into()), Segment::Key("env".into())]
            )
        );
        assert_eq!(
            ra("$key['a'][2]['b']"),
            RecordAccessor::from_parts(
                "key",
                vec![
                    Segment::Key("a".into()),
                    Segment::Index(2),
                    Segment::Key("b".into())
                ]
            )
        );
        assert_eq!(ra("$a.b-c/d").root(), "a.b-c/d");
        assert_eq!(ra("$x['it''s']").path(), &[Segment::Key("it's".into())]);
        assert_eq!(
            ra("$x[ 'a b' ][ 0 ]").path(),
            &[Segment::Key("a b".into()), Segment::Index(0)]
        );
        assert_eq!(ra("$['key with space']").root(), "key with space");
        assert_eq!(ra("  $log  "), RecordAccessor::key("log"));
    }

    #[test]
    fn rejects_bad_accessors() {
        for bad in [
            "",
            "$",
            "log",
            "$1abc",
            "$a[",
            "$a['b'",
            "$a[b]",
            "$a[01]",
            "$a[-1]",
            "$a['b']x",
            "$a b",
            "$@ts",
            "$a[99999999999999999999999]",
        ] {
            let e = RecordAccessor::parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("invalid record accessor"),
                "{bad}: {e}"
            );
        }
        assert!(RecordAccessor::parse("log")
            .unwrap_err()
            .reason
            .contains("expected '$'"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["$log", "$a['b'][0]['c d']", "$['@timestamp']['x''y']"] {
            let a = ra(s);
            assert_eq!(ra(&a.to_string()), a);
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn get_on_bytes_and_values() {
        let b = enc(DOC);
        let v = dec(DOC);
        let cases: &[(&str, Option<&str>)] = &[
            ("$log", Some(r#""some message""#)),
            ("$labels['color']", Some(r#""blue""#)),
            ("$labels['project']['env']", Some(r#""production""#)),
            ("$labels['unset']", Some("null")),
            ("$labels['undefined']", None),
            ("$arr[0]", Some("1")),
            ("$arr[1]['b']", Some(r#""x""#)),
            ("$arr[2][1]", Some("4")),
            ("$arr[3]", None),
            ("$log['x']", None),
            ("$labels[0]", None),
            ("$missing", None),
            ("$n", Some("404")),
        ];
        for (acc, want) in cases {
            let a = ra(acc);
            let got = a.get(&b).map(|x| crate::json::to_json_string(x).unwrap());
            assert_eq!(got.as_deref(), *want, "{acc}");
            let gv = a
                .get_value(&v)
                .map(|x| crate::json::to_json_string(&crate::value::to_vec(x)).unwrap());
            assert_eq!(gv.as_deref(), *want, "{acc} (value)");
        }
    }

    #[test]
    fn last_duplicate_key_wins_and_only_string_keys_match() {
        // {"a":1, 5:"int key", "a":2}
        let mut b = vec![0x83, 0xa1, b'a', 0x01, 0x05, 0xa1, b'x', 0xa1, b'a', 0x02];
        assert_eq!(RecordAccessor::key("a").get(&b), Some(&[0x02][..]));
        let v = crate::value::decode(&b).unwrap();
        assert_eq!(
            RecordAccessor::key("a").get_value(&v),
            Some(&Value::from(2))
        );
        // a bin key "a" does not match
        b = vec![0x81, 0xc4, 1, b'a', 0x01];
        assert_eq!(RecordAccessor::key("a").get(&b), None);
    }

    #[test]
    fn malformed_bytes_give_none() {
        assert_eq!(RecordAccessor::key("a").get(&[0x82, 0xa1, b'a']), None);
        assert_eq!(ra("$a[0]").get(&[0x81, 0xa1, b'a', 0x92, 0x01]), None);
        assert_eq!(RecordAccessor::key("a").get(&[0x91, 0x01]), None);
        assert_eq!(RecordAccessor::key("a").get(&[]), None);
    }

    #[test]
    fn set_creates_intermediate_maps() {
        let mut v = dec(r#"{"a":{"b":1},"arr":[{"x":1}],"s":"str"}"#);
        assert!(ra("$a['b']").set(&mut v, Value::from(2)));
        assert!(ra("$a['c']['d']").set(&mut v, Value::from("new")));
        assert!(ra("$n['m']").set(&mut v, Value::from(true)));
        assert!(ra("$arr[0]['y']").set(&mut v, Value::from(3)));
        assert!(!ra("$arr[5]").set(&mut v, Value::Nil));
        assert!(!ra("$s['x']").set(&mut v, Value::Nil));
        assert!(
            !ra("$z[0]").set(&mut v, Value::Nil),
            "arrays are not created"
        );
        let json = crate::json::to_json_string(&crate::value::to_vec(&v)).unwrap();
        assert_eq!(
            json,
            r#"{"a":{"b":2,"c":{"d":"new"}},"arr":[{"x":1,"y":3}],"s":"str","n":{"m":true}}"#
        );
        let mut not_map = Value::from(1);
        assert!(!RecordAccessor::key("a").set(&mut not_map, Value::Nil));
    }

    #[test]
    fn get_mut_and_remove() {
        let mut v = dec(r#"{"a":{"b":1,"c":2},"arr":[1,2,3],"d":1,"d":2}"#);
        if let Some(x) = ra("$a['c']").get_mut(&mut v) {
            *x = Value::from("changed");
        }
        assert_eq!(ra("$a['b']").remove(&mut v), Some(Value::from(1)));
        assert_eq!(ra("$arr[1]").remove(&mut v), Some(Value::from(2)));
        assert_eq!(ra("$d").remove(&mut v), Some(Value::from(2)));
        assert_eq!(ra("$nope").remove(&mut v), None);
        assert_eq!(ra("$arr[9]").remove(&mut v), None);
        let json = crate::json::to_json_string(&crate::value::to_vec(&v)).unwrap();
        assert_eq!(json, r#"{"a":{"c":"changed"},"arr":[1,3]}"#);
    }

    #[test]
    fn templates_split_like_fluent_bit() {
        let t = Template::parse("from.$source.$kubernetes['ns'].x").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Literal("from.".into()),
                Part::Key(RecordAccessor::key("source")),
                Part::Literal(".".into()),
                Part::Key(ra("$kubernetes['ns']")),
                Part::Literal(".x".into()),
            ]
        );
        assert!(!t.is_static());
        let t = Template::parse("newtag.$TAG.$TAG[1].$1.$ss['s1']['s2'].out").unwrap();
        let body = enc(r#"{"name":"abc-123","ss":{"s1":{"s2":"flb"}}}"#);
        let caps: [Option<&[u8]>; 3] = [Some(b"abc-123"), Some(b"abc"), Some(b"123")];
        let ctx = TemplateContext {
            tag: Some("aa.bb.cc"),
            captures: &caps,
        };
        assert_eq!(t.render_with(&body, &ctx), "newtag.aa.bb.cc.bb.abc.flb.out");
        assert!(Template::parse("static.$TAG").unwrap().is_static());
        assert_eq!(Template::parse("$a['x.y'].z").unwrap().parts().len(), 2);
    }

    #[test]
    fn template_values_and_missing_keys() {
        let body = enc(r#"{"s":"x","i":-3,"f":1.5,"b":true,"n":null,"m":{"k":[1]},"a":[1,"z"]}"#);
        let t = Template::parse("$s,$i,$f,$b,$n,$m,$a,$missing,$TAG[7],$5").unwrap();
        let mut out = String::new();
        let ctx = TemplateContext {
            tag: Some("one"),
            captures: &[],
        };
        assert!(!t.render_into(&body, &ctx, &mut out));
        assert_eq!(out, r#"x,-3,1.500000,true,null,{"k":[1]},[1,"z"],,,"#);
        assert_eq!(
            Template::parse("$TAG[0]").unwrap().render_with(&body, &ctx),
            "one"
        );
        assert_eq!(Template::parse("plain").unwrap().render(&body), "plain");
        assert_eq!(Template::parse("end$").unwrap().render(&body), "end$");
    }

    #[test]
    fn template_errors() {
        assert!(Template::parse("a.$").is_ok());
        assert!(Template::parse("a.$-x").is_err());
        assert!(Template::parse("$TAG[x]").is_err());
        assert!(Template::parse("$a['unterminated").is_err());
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-c]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec(("[a-c]{1,2}".prop_map(Value::from), inner), 0..5)
                    .prop_map(Value::Map),
            ]
        })
    }

    fn arb_accessor() -> impl Strategy<Value = RecordAccessor> {
        let seg = prop_oneof![
            "[a-c]{1,2}".prop_map(Segment::Key),
            (0usize..4).prop_map(Segment::Index),
        ];
        ("[a-c]{1,2}", proptest::collection::vec(seg, 0..4))
            .prop_map(|(r, p)| RecordAccessor::from_parts(r, p))
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,40}") {
            let _ = RecordAccessor::parse(&s);
            let _ = Template::parse(&s);
        }

        #[test]
        fn parser_never_panics_on_accessor_like_text(s in "[$\\[\\]'a-z0-9 .]{0,30}") {
            let _ = RecordAccessor::parse(&s);
            if let Ok(t) = Template::parse(&s) {
                let _ = t.render(&[0x80]);
            }
        }

        #[test]
        fn get_on_bytes_equals_get_on_value(v in arb_value(), a in arb_accessor()) {
            let bytes = crate::value::to_vec(&v);
            let from_bytes = a.get(&bytes).map(|b| crate::value::decode(b).unwrap());
            let from_value = a.get_value(&v).cloned();
            prop_assert_eq!(from_bytes, from_value);
        }

        #[test]
        fn display_then_parse_is_identity(a in arb_accessor()) {
            prop_assert_eq!(RecordAccessor::parse(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn set_then_get(v in arb_value(), a in arb_accessor(), x in any::<i64>()) {
            let mut v = v;
            if a.set(&mut v, Value::from(x)) {
                prop_assert_eq!(a.get_value(&v), Some(&Value::from(x)));
                let bytes = crate::value::to_vec(&v);
                prop_assert_eq!(a.get(&bytes).map(|b| crate::value::decode(b).unwrap()), Some(Value::from(x)));
            }
        }
    }
}
