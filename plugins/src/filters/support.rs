//! Helpers shared by the filters that rewrite records on their encoded bytes.
//!
//! Compiled when any filter that uses it is (each filter is its own cargo feature). A build with
//! only some of those filters leaves some helpers unused, hence the `dead_code` allowance.

#![allow(dead_code)]

use weir_core::FilterOutcome;
use weir_event::view::read_str_bytes;
use weir_event::{value, EventRef, EventWriter, Events};

/// Walks a batch and writes a filter's output only once something changes.
///
/// Events that pass unchanged before the first change are not copied one by one: at the first
/// change, the whole unchanged prefix is copied at once. When nothing changes, nothing is
/// copied and [`Rewrite::finish`] answers [`FilterOutcome::Unchanged`], so the engine keeps the
/// original bytes.
pub struct Rewrite<'d, 'o> {
    data: &'d [u8],
    out: &'o mut EventWriter,
    started: bool,
    /// Events seen so far that passed unchanged before the first change.
    pending: usize,
}

impl<'d, 'o> Rewrite<'d, 'o> {
    pub fn new(data: &'d [u8], out: &'o mut EventWriter) -> Self {
        Self {
            data,
            out,
            started: false,
            pending: 0,
        }
    }

    /// The events of the batch with the offset each starts at. Iteration stops at the first
    /// malformed event: what follows cannot be delimited, so it is not passed on when the batch
    /// is rewritten.
    pub fn events(&self) -> impl Iterator<Item = (usize, EventRef<'d>)> + 'd {
        let mut it = Events::new(self.data);
        std::iter::from_fn(move || {
            let start = it.position();
            match it.next()? {
                Ok(ev) => Some((start, ev)),
                Err(_) => None,
            }
        })
    }

    /// The event passes as it is.
    pub fn keep(&mut self, ev: &EventRef<'_>) {
        if self.started {
            self.out.push_raw(ev);
        } else {
            self.pending += 1;
        }
    }

    /// The event starting at `start` is dropped.
    pub fn drop_event(&mut self, start: usize) {
        self.start(start);
    }

    /// The event starting at `start` is replaced: returns the writer to append its
    /// replacement(s) to (counting them is the caller's job, through [`EventWriter::push`] or by
    /// adding to `count`).
    pub fn replace(&mut self, start: usize) -> &mut EventWriter {
        self.start(start);
        self.out
    }

    fn start(&mut self, at: usize) {
        if !self.started {
            self.started = true;
            self.out.buf.extend_from_slice(&self.data[..at]);
            self.out.count += self.pending;
        }
    }

    /// Whether any event was dropped or replaced so far.
    pub fn changed(&self) -> bool {
        self.started
    }

    pub fn finish(self) -> FilterOutcome {
        if self.started {
            FilterOutcome::Modified
        } else {
            FilterOutcome::Unchanged
        }
    }
}

/// The head of an encoded event, everything before its body: `[[time, {meta}], `.
pub fn head<'a>(ev: &EventRef<'a>) -> &'a [u8] {
    &ev.raw[..ev.raw.len() - ev.body.len()]
}

/// One key/value pair of a record, both still encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair<'a> {
    pub key: std::borrow::Cow<'a, [u8]>,
    pub value: std::borrow::Cow<'a, [u8]>,
}

impl<'a> Pair<'a> {
    /// A pair borrowed from a record.
    pub fn borrowed(key: &'a [u8], value: &'a [u8]) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A pair of a string key and a string value.
    pub fn strings(key: &[u8], value: &[u8]) -> Self {
        Self {
            key: encode_str(key).into(),
            value: encode_str(value).into(),
        }
    }

    /// The key's text when it is a string (or binary) key.
    pub fn key_bytes(&self) -> Option<&[u8]> {
        key_text(&self.key)
    }
}

/// The text of an encoded key that is a string or binary value, as Fluent Bit's filters compare
/// keys (`MSGPACK_OBJECT_STR` or `MSGPACK_OBJECT_BIN`).
pub fn key_text(key: &[u8]) -> Option<&[u8]> {
    read_str_bytes(key)
}

/// The text of an encoded value that is a MessagePack string (not binary).
pub fn str_text(v: &[u8]) -> Option<&[u8]> {
    match v.first()? {
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb => read_str_bytes(v),
        _ => None,
    }
}

/// Encodes bytes as a MessagePack string.
pub fn encode_str(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 5);
    write_str_bytes(&mut out, s);
    out
}

pub use weir_event::value::write_str_bytes;

/// Calls `f` with the text of each string or binary key of the encoded map at the start of
/// `body`, until it returns true; returns whether it did (`None` if the map is malformed).
///
/// A fast scan for the hot paths (modify's `add`): keys are read from their headers and small
/// values stepped over inline.
pub fn any_key(body: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    let (len, mut pos) = weir_event::view::read_map_len(body, 0).ok()?;
    for _ in 0..len {
        let key_end = skip_small(body, pos)?;
        if let Some(k) = key_text(&body[pos..key_end]) {
            if f(k) {
                return Some(true);
            }
        }
        pos = skip_small(body, key_end)?;
    }
    Some(false)
}

/// Offset just past the value at `at`: small scalars and short strings inline, the rest
/// through the bounded walker.
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
        _ => return weir_event::event::skip_value(buf, at).ok(),
    };
    (end <= buf.len()).then_some(end)
}

/// Splits an encoded map into its pairs; `None` if `body` is not a well-formed map.
pub fn pairs(body: &[u8]) -> Option<Vec<Pair<'_>>> {
    let (len, mut pos) = weir_event::view::read_map_len(body, 0).ok()?;
    // Every pair takes at least two bytes: a hostile length cannot reserve much.
    let mut v = Vec::with_capacity(len.min(body.len() / 2));
    for _ in 0..len {
        let key_end = skip_small(body, pos)?;
        let value_end = skip_small(body, key_end)?;
        v.push(Pair::borrowed(
            &body[pos..key_end],
            &body[key_end..value_end],
        ));
        pos = value_end;
    }
    Some(v)
}

/// Appends an encoded map made of `pairs`.
pub fn write_map(out: &mut Vec<u8>, pairs: &[Pair<'_>]) {
    value::write_map_len(out, pairs.len());
    for p in pairs {
        out.extend_from_slice(&p.key);
        out.extend_from_slice(&p.value);
    }
}

/// Appends an event with the head of `ev` and a body made of `pairs`.
pub fn push_with_pairs(out: &mut EventWriter, ev: &EventRef<'_>, pairs: &[Pair<'_>]) {
    out.buf.extend_from_slice(head(ev));
    write_map(&mut out.buf, pairs);
    out.count += 1;
}

/// Matches a key against Fluent Bit's simple wildcard: a trailing `*` means "starts with",
/// anything else must be equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    text: Vec<u8>,
    prefix: bool,
}

impl Wildcard {
    pub fn new(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(p) => Self {
                text: p.as_bytes().to_vec(),
                prefix: true,
            },
            None => Self {
                text: pattern.as_bytes().to_vec(),
                prefix: false,
            },
        }
    }

    /// A pattern that always means "starts with", with or without a trailing `*`.
    pub fn prefix(pattern: &str) -> Self {
        let p = pattern.strip_suffix('*').unwrap_or(pattern);
        Self {
            text: p.as_bytes().to_vec(),
            prefix: true,
        }
    }

    pub fn matches(&self, key: &[u8]) -> bool {
        if self.prefix {
            key.starts_with(&self.text)
        } else {
            key == self.text.as_slice()
        }
    }

    /// ASCII case-insensitive match (record_modifier compares keys this way).
    pub fn matches_ignore_case(&self, key: &[u8]) -> bool {
        if self.prefix {
            key.len() >= self.text.len() && key[..self.text.len()].eq_ignore_ascii_case(&self.text)
        } else {
            key.eq_ignore_ascii_case(&self.text)
        }
    }
}

/// Splits a `KEY VALUE` parameter the way Fluent Bit's filters do: the key is the first word
/// (it may be quoted), the value the rest. A value that is one quoted word loses its quotes;
/// a longer value is taken as written, so `add msg hello world` sets `hello world` (Fluent Bit
/// wants quotes there).
pub fn key_value(text: &str) -> Option<(String, String)> {
    let words = weir_config::values::split_words(text, 0);
    match words.len() {
        0 | 1 => None,
        2 => {
            let mut it = words.into_iter();
            Some((it.next()?, it.next()?))
        }
        _ => {
            let mut it = weir_config::values::split_words(text, 1).into_iter();
            Some((it.next()?, it.next()?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::events;
    use weir_event::EventTime;

    #[test]
    fn rewrite_copies_unchanged_prefix_once() {
        let batch = events(
            &[r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#],
            EventTime::new(1, 0),
        );
        let mut out = EventWriter::new();
        let mut rw = Rewrite::new(&batch.buf, &mut out);
        let evs: Vec<_> = rw.events().collect();
        rw.keep(&evs[0].1);
        rw.drop_event(evs[1].0);
        rw.keep(&evs[2].1);
        assert_eq!(rw.finish(), FilterOutcome::Modified);
        assert_eq!(
            crate::testing::bodies(&out.buf),
            vec![r#"{"a":1}"#, r#"{"a":3}"#]
        );
        assert_eq!(out.count, 2);
    }

    #[test]
    fn rewrite_untouched_is_unchanged() {
        let batch = events(&[r#"{"a":1}"#], EventTime::new(1, 0));
        let mut out = EventWriter::new();
        let mut rw = Rewrite::new(&batch.buf, &mut out);
        let evs: Vec<_> = rw.events().collect();
        rw.keep(&evs[0].1);
        assert_eq!(rw.finish(), FilterOutcome::Unchanged);
        assert!(out.buf.is_empty());
    }

    #[test]
    fn strings_and_maps() {
        for n in [0usize, 5, 31, 32, 255, 256, 70_000] {
            let s = vec![b'x'; n];
            let e = encode_str(&s);
            assert_eq!(str_text(&e), Some(&s[..]));
        }
        let mut body = Vec::new();
        weir_event::json::from_json(r#"{"a":1,"b":"x"}"#, &mut body).unwrap();
        let p = pairs(&body).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].key_bytes(), Some(&b"b"[..]));
        let mut out = Vec::new();
        write_map(&mut out, &p);
        assert_eq!(out, body);
        assert!(pairs(&[0x91, 0x01]).is_none());
    }

    #[test]
    fn wildcards() {
        assert!(Wildcard::new("Mem*").matches(b"Mem.total"));
        assert!(!Wildcard::new("Mem").matches(b"Mem.total"));
        assert!(Wildcard::prefix("Mem").matches(b"Mem.total"));
        assert!(Wildcard::new("mem*").matches_ignore_case(b"MEM.x"));
        assert!(!Wildcard::new("mem.total").matches_ignore_case(b"MEM"));
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("a b"), Some(("a".into(), "b".into())));
        assert_eq!(key_value(r#"a "b c""#), Some(("a".into(), "b c".into())));
        assert_eq!(key_value("a b c"), Some(("a".into(), "b c".into())));
        assert_eq!(key_value("a"), None);
    }
}
