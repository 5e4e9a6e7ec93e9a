//! Writing events: [`EventWriter`] appends events to a buffer in Weir's encoding, copying read
//! events unchanged ([`EventWriter::push`]), with changes ([`EventWriter::edit`]) or writing
//! new ones ([`EventWriter::event`]). [`Batches`] groups writers by tag for a plugin's answer.

use crate::event::{Event, EventTime};
use crate::index::PairIndex;
use crate::msgpack;
use crate::value::{Encode, Map, Value};
use crate::Error;

/// Encoded events, back to back, and how many there are.
#[derive(Debug, Clone, Default)]
pub struct EventWriter {
    buf: Vec<u8>,
    count: u32,
    /// Pending changes of the event being edited, kept between events so that editing
    /// allocates nothing once warm (a filter edits every record of every batch).
    edits: Edits,
}

impl PartialEq for EventWriter {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.buf == other.buf
    }
}

impl Eq for EventWriter {}

impl EventWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer with room for `bytes` bytes (a filter's output is usually about its input's size).
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            count: 0,
            edits: Edits::default(),
        }
    }

    /// Number of events written.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }

    /// Copies an event unchanged (its bytes as they came).
    pub fn push(&mut self, event: &Event<'_>) {
        self.buf.extend_from_slice(event.raw());
        self.count = self.count.saturating_add(1);
    }

    /// Starts a copy of `event` with changes; nothing is written until [`EventEdit::finish`].
    pub fn edit<'w, 'e>(&'w mut self, event: &Event<'e>) -> EventEdit<'w, 'e> {
        self.edits.clear();
        EventEdit {
            writer: self,
            time: event.time(),
            metadata: event.metadata(),
            body: event.body(),
            index: *event.index(),
            original_time: event.time(),
            head: event.head(),
        }
    }

    /// Starts a new event; nothing is written until [`NewEvent::finish`].
    pub fn event(&mut self, time: EventTime) -> NewEvent<'_> {
        NewEvent {
            writer: self,
            time,
            body: Vec::new(),
            body_len: 0,
            meta: Vec::new(),
            meta_len: 0,
        }
    }

    /// Appends an event whose metadata and body are given encoded (both must be valid
    /// MessagePack, which is checked: an error leaves the writer as it was).
    pub fn push_encoded(
        &mut self,
        time: EventTime,
        metadata: &[u8],
        body: &[u8],
    ) -> Result<(), Error> {
        let metadata = if metadata.is_empty() {
            &[0x80][..]
        } else {
            metadata
        };
        for (what, part) in [("metadata", metadata), ("body", body)] {
            if msgpack::skip(part, 0)? != part.len() {
                return Err(Error::new(format!(
                    "{what}: more than one MessagePack value"
                )));
            }
        }
        self.head(time, metadata);
        self.buf.extend_from_slice(body);
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Appends `count` events already in the plugin's format, unchecked: JSON lines for a
    /// plugin whose [`crate::Info`] chose [`crate::Format::Json`] (end each line with `\n`).
    /// The host checks what it gets back: a malformed event fails the call.
    pub fn push_raw(&mut self, bytes: &[u8], count: u32) {
        self.buf.extend_from_slice(bytes);
        self.count = self.count.saturating_add(count);
    }

    /// Writes `[[time, metadata], ` and leaves the body to the caller.
    fn head(&mut self, time: EventTime, metadata: &[u8]) {
        msgpack::write_array_len(&mut self.buf, 2);
        msgpack::write_array_len(&mut self.buf, 2);
        time.encode(&mut self.buf);
        self.buf.extend_from_slice(metadata);
    }
}

/// Which map of an event a change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Body,
    Meta,
}

/// One change: set (`pair` holds the encoded key and value) or remove (`pair` empty).
#[derive(Debug, Clone)]
struct Op {
    part: Part,
    /// The key's bytes in [`Edits::bytes`].
    key: std::ops::Range<usize>,
    /// The encoded key/value pair in [`Edits::bytes`]; empty for a removal.
    pair: std::ops::Range<usize>,
}

/// Pending changes to an event's maps, in the order made; the last change of a key wins.
#[derive(Debug, Clone, Default)]
struct Edits {
    bytes: Vec<u8>,
    ops: Vec<Op>,
    /// Which ops were written already (for maps with more set keys than a bitmask holds).
    written: Vec<bool>,
    /// Per part, a bit for each length under 32 of a changed key: a pair whose key is a short
    /// string of another length cannot be changed, which one byte tells (see `apply`).
    short_keys: [u32; 2],
}

impl Edits {
    fn clear(&mut self) {
        self.bytes.clear();
        self.ops.clear();
        self.short_keys = [0; 2];
    }

    fn note_key(&mut self, part: Part, key: &str) {
        if key.len() < 32 {
            self.short_keys[part as usize] |= 1 << key.len();
        }
    }

    fn set(&mut self, part: Part, key: &str, value: impl Encode) {
        self.note_key(part, key);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key.as_bytes());
        let key_range = start..self.bytes.len();
        let pair_start = self.bytes.len();
        msgpack::write_str(&mut self.bytes, key);
        value.encode(&mut self.bytes);
        self.ops.push(Op {
            part,
            key: key_range,
            pair: pair_start..self.bytes.len(),
        });
    }

    fn remove(&mut self, part: Part, key: &str) {
        self.note_key(part, key);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key.as_bytes());
        self.ops.push(Op {
            part,
            key: start..self.bytes.len(),
            pair: 0..0,
        });
    }

    fn has(&self, part: Part) -> bool {
        self.ops.iter().any(|o| o.part == part)
    }

    /// The last change made to `key` of `part`, by index.
    #[inline]
    fn last_for(&self, part: Part, key: &[u8]) -> Option<usize> {
        self.ops
            .iter()
            .rposition(|o| o.part == part && msgpack::same_key(&self.bytes[o.key.clone()], key))
    }

    /// Writes `map` with the changes to `part` into `out`: a set key keeps its place (its first
    /// occurrence; later duplicates are dropped), new keys go at the end, removed keys
    /// disappear. Pairs are copied as bytes; nothing is allocated once the buffers are warm.
    fn apply(&mut self, part: Part, map: Map<'_>, index: &PairIndex, out: &mut Vec<u8>) {
        if !self.has(part) {
            out.extend_from_slice(map.raw());
            return;
        }
        self.written.clear();
        self.written.resize(self.ops.len(), false);
        // The map header goes first but its length is known only at the end: room is kept
        // for the header of the most pairs there can be, and in the rare case the actual
        // header is shorter, the pairs are moved back over the difference.
        let most = u32::try_from(map.len().saturating_add(self.ops.len())).unwrap_or(u32::MAX);
        let room = map_header(most).1;
        let header_at = out.len();
        out.extend_from_slice(&[0; 5][..room]);
        let mut n: u32 = 0;
        // Runs of pairs left as they are are copied in one go.
        let mut run: Option<(usize, usize)> = None;
        let raw = map.raw();
        let short_keys = self.short_keys[part as usize];
        let mut pairs = map.raw_pairs(index);
        let indexed = index.len();
        for i in 0..map.len() as u32 {
            // Indexed pairs are read from the index, the others by walking on from there
            // (not all through `RawPairs::next`: that cost the example filter about 25%).
            let (start, end, key) = match index.pair(i) {
                Some((s, e)) => {
                    let key = match raw.get(s) {
                        // A short key of a length no change has: kept, without comparing.
                        Some(&m @ 0xa0..=0xbf) if short_keys & (1 << (m & 0x1f)) == 0 => None,
                        Some(&m @ 0xa0..=0xbf) => raw.get(s + 1..s + 1 + usize::from(m & 0x1f)),
                        Some(0xd9..=0xdb) => pairs.at(i).and_then(|p| p.key),
                        _ => None,
                    };
                    (s, e, key)
                }
                None => {
                    if i == indexed {
                        pairs.skip_indexed();
                    }
                    // The map was checked when it was read: the walk cannot fail.
                    let Some(p) = pairs.next() else { break };
                    (p.start, p.end, p.key)
                }
            };
            if let Some(key) = key {
                if let Some(i) = self.last_for(part, key) {
                    if let Some((s, e)) = run.take() {
                        out.extend_from_slice(&raw[s..e]);
                    }
                    let op = &self.ops[i];
                    if !op.pair.is_empty() && !self.written[i] {
                        out.extend_from_slice(&self.bytes[op.pair.clone()]);
                        self.written[i] = true;
                        n = n.saturating_add(1);
                    }
                    continue;
                }
            }
            run = Some(match run {
                Some((s, _)) => (s, end),
                None => (start, end),
            });
            n = n.saturating_add(1);
        }
        if let Some((s, e)) = run {
            out.extend_from_slice(&raw[s..e]);
        }
        for i in 0..self.ops.len() {
            let op = &self.ops[i];
            if op.part != part || op.pair.is_empty() || self.written[i] {
                continue;
            }
            // Only a key's last change counts.
            if self.last_for(part, &self.bytes[op.key.clone()]) != Some(i) {
                continue;
            }
            out.extend_from_slice(&self.bytes[op.pair.clone()]);
            self.written[i] = true;
            n = n.saturating_add(1);
        }
        let (header, header_len) = map_header(n);
        out[header_at..header_at + header_len].copy_from_slice(&header[..header_len]);
        if header_len < room {
            out.copy_within(header_at + room.., header_at + header_len);
            out.truncate(out.len() - (room - header_len));
        }
    }
}

/// A map header for `n` pairs, as [`msgpack::write_map_len`] writes it, on the stack.
fn map_header(n: u32) -> ([u8; 5], usize) {
    let mut h = [0u8; 5];
    if n < 16 {
        h[0] = 0x80 | n as u8;
        (h, 1)
    } else if let Ok(l) = u16::try_from(n) {
        h[0] = 0xde;
        h[1..3].copy_from_slice(&l.to_be_bytes());
        (h, 3)
    } else {
        h[0] = 0xdf;
        h[1..5].copy_from_slice(&n.to_be_bytes());
        (h, 5)
    }
}

/// A copy of an event being changed. Keys borrowed for `'e` or longer (literals, or strings of
/// the batch) can be used directly.
#[must_use = "nothing is written until finish() is called"]
#[derive(Debug)]
pub struct EventEdit<'w, 'e> {
    writer: &'w mut EventWriter,
    time: EventTime,
    metadata: Map<'e>,
    body: Value<'e>,
    /// The body's index, from the event: the edit does not walk the body again.
    index: PairIndex,
    original_time: EventTime,
    /// The event's bytes before the body: `[[time, metadata], `.
    head: Option<&'e [u8]>,
}

impl<'w, 'e> EventEdit<'w, 'e> {
    /// Sets a field of the body, replacing it in place if present, appending it otherwise.
    pub fn set(self, key: &str, value: impl Encode) -> Self {
        self.writer.edits.set(Part::Body, key, value);
        self
    }

    /// Removes a field of the body (every occurrence).
    pub fn remove(self, key: &str) -> Self {
        self.writer.edits.remove(Part::Body, key);
        self
    }

    /// Sets a field of the metadata.
    pub fn set_meta(self, key: &str, value: impl Encode) -> Self {
        self.writer.edits.set(Part::Meta, key, value);
        self
    }

    /// Removes a field of the metadata.
    pub fn remove_meta(self, key: &str) -> Self {
        self.writer.edits.remove(Part::Meta, key);
        self
    }

    /// Changes the timestamp.
    pub fn time(mut self, time: EventTime) -> Self {
        self.time = time;
        self
    }

    /// Writes the changed event. Fails, writing nothing, when fields are changed on a body that
    /// is not a map (Fluent Bit's records always are).
    pub fn finish(self) -> Result<(), Error> {
        let w = self.writer;
        let body = match self.body {
            Value::Map(m) => Some(m),
            _ if !w.edits.has(Part::Body) => None,
            _ => {
                return Err(Error::new(
                    "cannot change fields of a body that is not a map",
                ))
            }
        };
        let unchanged_head = self.time == self.original_time && !w.edits.has(Part::Meta);
        if let (true, Some(head)) = (unchanged_head, self.head) {
            // Time and metadata as they were: the event's head is copied as it came.
            w.buf.extend_from_slice(head);
        } else {
            msgpack::write_array_len(&mut w.buf, 2);
            msgpack::write_array_len(&mut w.buf, 2);
            self.time.encode(&mut w.buf);
            w.edits
                .apply(Part::Meta, self.metadata, &PairIndex::NONE, &mut w.buf);
        }
        match body {
            Some(m) => w.edits.apply(Part::Body, m, &self.index, &mut w.buf),
            None => self.body.encode(&mut w.buf),
        }
        w.count = w.count.saturating_add(1);
        Ok(())
    }
}

/// A new event being built field by field.
#[must_use = "nothing is written until finish() is called"]
#[derive(Debug)]
pub struct NewEvent<'w> {
    writer: &'w mut EventWriter,
    time: EventTime,
    body: Vec<u8>,
    body_len: u32,
    meta: Vec<u8>,
    meta_len: u32,
}

impl NewEvent<'_> {
    /// Adds a field to the body (keys are not checked for duplicates).
    pub fn field(mut self, key: &str, value: impl Encode) -> Self {
        msgpack::write_str(&mut self.body, key);
        value.encode(&mut self.body);
        self.body_len = self.body_len.saturating_add(1);
        self
    }

    /// Adds a field to the metadata.
    pub fn meta(mut self, key: &str, value: impl Encode) -> Self {
        msgpack::write_str(&mut self.meta, key);
        value.encode(&mut self.meta);
        self.meta_len = self.meta_len.saturating_add(1);
        self
    }

    /// Writes the event.
    pub fn finish(self) {
        let w = self.writer;
        msgpack::write_array_len(&mut w.buf, 2);
        msgpack::write_array_len(&mut w.buf, 2);
        self.time.encode(&mut w.buf);
        msgpack::write_map_len(&mut w.buf, self.meta_len);
        w.buf.extend_from_slice(&self.meta);
        msgpack::write_map_len(&mut w.buf, self.body_len);
        w.buf.extend_from_slice(&self.body);
        w.count = w.count.saturating_add(1);
    }
}

/// A plugin's answer: events grouped by tag.
///
/// A filter's default writer ([`Batches::writer`]) carries the tag of the batch it was given;
/// an input's carries the empty tag, which the host replaces with the input's `tag`. Other
/// tags ([`Batches::writer_for`]) reroute events, as Fluent Bit's `rewrite_tag` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batches {
    batches: Vec<(String, EventWriter)>,
}

impl Batches {
    /// Answers whose default tag is `tag`.
    pub fn new(tag: &str) -> Self {
        Self::with_capacity(tag, 0)
    }

    /// Answers whose default tag's writer has room for `bytes` bytes: a filter's answer is
    /// about its batch's size, and growing to it by doubling would copy it about twice.
    pub fn with_capacity(tag: &str, bytes: usize) -> Self {
        Self {
            batches: vec![(tag.to_owned(), EventWriter::with_capacity(bytes))],
        }
    }

    /// The writer for the default tag.
    pub fn writer(&mut self) -> &mut EventWriter {
        if self.batches.is_empty() {
            self.batches.push((String::new(), EventWriter::new()));
        }
        // Not empty: `new` creates the default entry, and the check above covers `default()`.
        &mut self.batches[0].1
    }

    /// The writer for `tag`, created on first use.
    pub fn writer_for(&mut self, tag: &str) -> &mut EventWriter {
        let i = match self.batches.iter().position(|(t, _)| t == tag) {
            Some(i) => i,
            None => {
                self.batches.push((tag.to_owned(), EventWriter::new()));
                self.batches.len() - 1
            }
        };
        &mut self.batches[i].1
    }

    /// The batches that hold events, as `(tag, events)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EventWriter)> {
        self.batches
            .iter()
            .filter(|(_, w)| !w.is_empty())
            .map(|(t, w)| (t.as_str(), w))
    }

    /// Total events across tags.
    pub fn len(&self) -> usize {
        self.batches.iter().map(|(_, w)| w.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches that hold events, owned.
    pub fn into_vec(self) -> Vec<(String, EventWriter)> {
        self.batches
            .into_iter()
            .filter(|(_, w)| !w.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, MapBuilder};

    fn one(w: &EventWriter) -> Event<'_> {
        let mut it = Batch::new("t", w.as_bytes(), w.len() as u32).events();
        let ev = it.next().unwrap().unwrap();
        assert!(it.next().is_none());
        ev
    }

    fn keys(ev: &Event<'_>) -> Vec<String> {
        ev.body()
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn edit_sets_in_place_appends_and_removes() {
        let mut src = EventWriter::new();
        src.event(EventTime::new(10, 1))
            .meta("m", 1)
            .field("a", 1)
            .field("level", "debug")
            .field("b", 2)
            .finish();
        let ev = one(&src);

        let mut out = EventWriter::new();
        out.edit(&ev)
            .set("level", "info")
            .set("lang", "rust")
            .remove("b")
            .set_meta("source", "test")
            .finish()
            .unwrap();
        let e = one(&out);
        assert_eq!(keys(&e), ["a", "level", "lang"]);
        assert_eq!(e.get_str("level"), Some("info"));
        assert_eq!(e.get_str("lang"), Some("rust"));
        assert_eq!(e.time(), EventTime::new(10, 1));
        assert_eq!(e.meta("m"), Some(Value::Int(1)));
        assert_eq!(e.meta("source"), Some(Value::Str("test")));
    }

    #[test]
    fn edits_of_large_maps_and_many_events_reuse_the_writer() {
        let mut src = EventWriter::new();
        for i in 0..3 {
            let mut e = src.event(EventTime::new(i, 0));
            for k in 0..20 {
                e = e.field(&format!("k{k}"), k);
            }
            e.finish();
        }
        let batch_bytes = src.as_bytes().to_vec();
        let mut out = EventWriter::new();
        for ev in crate::event::Events::new("t", &batch_bytes) {
            let ev = ev.unwrap();
            out.edit(&ev)
                .set("k3", "three")
                .remove("k0")
                .set("new", true)
                .finish()
                .unwrap();
        }
        let evs: Vec<_> = crate::event::Events::new("t", out.as_bytes())
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(evs.len(), 3);
        for e in &evs {
            let k = keys(e);
            assert_eq!(k.len(), 20, "20 - k0 + new: a map16 header");
            assert_eq!(k[0], "k1");
            assert_eq!(k.last().map(String::as_str), Some("new"));
            assert_eq!(e.get_str("k3"), Some("three"));
        }
    }

    #[test]
    fn later_changes_to_a_key_win() {
        let mut src = EventWriter::new();
        src.event(EventTime::new(1, 0)).field("a", 1).finish();
        let ev = one(&src);
        let mut out = EventWriter::new();
        out.edit(&ev)
            .set("x", 1)
            .remove("x")
            .remove("a")
            .set("a", 3)
            .finish()
            .unwrap();
        let e = one(&out);
        assert_eq!(keys(&e), ["a"]);
        assert_eq!(e.get("a"), Some(Value::Int(3)));
    }

    #[test]
    fn an_edit_without_changes_copies_the_body() {
        let mut src = EventWriter::new();
        src.event(EventTime::new(1, 0))
            .field("nested", MapBuilder::new().field("k", "v"))
            .finish();
        let ev = one(&src);
        let mut out = EventWriter::new();
        out.edit(&ev).finish().unwrap();
        out.push(&ev);
        assert_eq!(out.as_bytes(), [src.as_bytes(), src.as_bytes()].concat());
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn non_map_bodies_pass_unchanged_but_cannot_take_fields() {
        let mut src = EventWriter::new();
        src.push_encoded(EventTime::new(1, 0), &[], &[0xa1, b'x'])
            .unwrap();
        let ev = one(&src);
        let mut out = EventWriter::new();
        out.edit(&ev).finish().unwrap();
        assert_eq!(one(&out).body(), Value::Str("x"));
        assert!(out.edit(&ev).set("a", 1).finish().is_err());
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn raw_bytes_pass_as_given() {
        let mut w = EventWriter::new();
        w.push_raw(b"{\"record\":{}}\n{\"record\":{}}\n", 2);
        assert_eq!(w.len(), 2);
        assert!(w.as_bytes().ends_with(b"}\n"));
    }

    #[test]
    fn push_encoded_checks_its_parts() {
        let mut w = EventWriter::new();
        assert!(w.push_encoded(EventTime::new(1, 0), &[], &[0x81]).is_err());
        assert!(w
            .push_encoded(EventTime::new(1, 0), &[], &[0x80, 0x80])
            .is_err());
        assert!(w.is_empty());
        assert!(w.as_bytes().is_empty());
    }

    #[test]
    fn batches_group_by_tag_and_skip_empty_ones() {
        let mut b = Batches::new("in");
        b.writer_for("other")
            .event(EventTime::new(1, 0))
            .field("a", 1)
            .finish();
        assert_eq!(b.iter().count(), 1);
        b.writer().event(EventTime::new(1, 0)).finish();
        b.writer().event(EventTime::new(2, 0)).finish();
        let tags: Vec<_> = b.iter().map(|(t, w)| (t.to_owned(), w.len())).collect();
        assert_eq!(tags, [("in".to_owned(), 2), ("other".to_owned(), 1)]);
        assert_eq!(b.len(), 3);
        assert_eq!(b.into_vec().len(), 2);
    }

    #[test]
    fn many_fields_use_wider_map_headers() {
        let mut src = EventWriter::new();
        let mut e = src.event(EventTime::new(1, 0));
        let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            e = e.field(k, i);
        }
        e.finish();
        let ev = one(&src);
        assert_eq!(ev.body().as_map().unwrap().len(), 20);
        let mut out = EventWriter::new();
        let mut edit = out.edit(&ev);
        for k in &keys[..5] {
            edit = edit.remove(k);
        }
        edit.finish().unwrap();
        assert_eq!(one(&out).body().as_map().unwrap().len(), 15);
        assert_eq!(one(&out).get("k19"), Some(Value::Int(19)));
    }
}
