//! Turning a line into an encoded event, straight into the batch buffer.
//!
//! Without a parser (or when the parser rejects the line) the record is Fluent Bit's
//! `{path_key: file, offset_key: offset, key: line}`, with `path_key` and `offset_key` only when
//! configured, in that order. With a parser the parsed map gets `path_key` and `offset_key`
//! appended. The line is written as a MessagePack string as it is, without checking that it is
//! UTF-8, as Fluent Bit does: checking would cost a pass over every byte.
//!
//! The offset in `offset_key` is where the line starts in the file (Fluent Bit's
//! `stream_offset + processed_bytes`).

use weir_event::event::{write_head, HEAD_LEN};
use weir_event::value::{write_str_bytes, write_uint};
use weir_event::EventTime;

/// The keys of tail's records, encoded once.
#[derive(Debug, Clone)]
pub struct RecordLayout {
    key: Vec<u8>,
    path_key: Option<Vec<u8>>,
    offset_key: Option<Vec<u8>>,
}

impl RecordLayout {
    pub fn new(key: &str, path_key: Option<&str>, offset_key: Option<&str>) -> Self {
        let enc = |s: &str| {
            let mut v = Vec::with_capacity(s.len() + 1);
            write_str_bytes(&mut v, s.as_bytes());
            v
        };
        Self {
            key: enc(key),
            path_key: path_key.map(enc),
            offset_key: offset_key.map(enc),
        }
    }

    /// The encoded `path_key: path` pair for one file (empty without `path_key`), computed
    /// once per file.
    pub fn path_pair(&self, path: &str) -> Vec<u8> {
        match &self.path_key {
            Some(k) => {
                let mut v = k.clone();
                write_str_bytes(&mut v, path.as_bytes());
                v
            }
            None => Vec::new(),
        }
    }

    fn extra_pairs(&self) -> usize {
        usize::from(self.path_key.is_some()) + usize::from(self.offset_key.is_some())
    }

    /// Appends `[[time, {}], {path_key: .., offset_key: .., key: line}]`.
    #[inline]
    pub fn write_raw(
        &self,
        out: &mut Vec<u8>,
        time: EventTime,
        path_pair: &[u8],
        offset: u64,
        line: &[u8],
    ) {
        write_head(out, time, &[]);
        // At most three pairs: always a fixmap.
        out.push(0x80 | (1 + self.extra_pairs()) as u8);
        out.extend_from_slice(path_pair);
        self.write_offset(out, offset);
        out.extend_from_slice(&self.key);
        write_str_bytes(out, line);
    }

    #[inline]
    fn write_offset(&self, out: &mut Vec<u8>, offset: u64) {
        if let Some(k) = &self.offset_key {
            out.extend_from_slice(k);
            write_uint(out, offset);
        }
    }

    /// Appends `path_key` and `offset_key` to the body of the event that starts at
    /// `event_pos`, written by `Parser::parse_event` (head of [`HEAD_LEN`] bytes, then a map,
    /// last in the buffer). Does nothing when neither key is configured or when the body is
    /// not a map.
    pub fn append_extra(&self, out: &mut Vec<u8>, event_pos: usize, path_pair: &[u8], offset: u64) {
        self.append_extra_at(out, event_pos + HEAD_LEN, path_pair, offset);
    }

    /// As [`RecordLayout::append_extra`], for a body map that starts at `body_pos`.
    pub fn append_extra_at(
        &self,
        out: &mut Vec<u8>,
        body_pos: usize,
        path_pair: &[u8],
        offset: u64,
    ) {
        let extra = self.extra_pairs();
        if extra == 0 {
            return;
        }
        if !grow_map(out, body_pos, extra) {
            return;
        }
        out.extend_from_slice(path_pair);
        self.write_offset(out, offset);
    }
}

/// Adds `extra` to the length of the map whose header is at `at`, widening the header when the
/// new length does not fit it. Returns false (and changes nothing) when `at` holds no map.
fn grow_map(out: &mut Vec<u8>, at: usize, extra: usize) -> bool {
    let Some(&m) = out.get(at) else { return false };
    let (len, head) = match m {
        0x80..=0x8f => (usize::from(m & 0x0f), 1),
        0xde => match out.get(at + 1..at + 3) {
            Some(b) => (usize::from(u16::from_be_bytes([b[0], b[1]])), 3),
            None => return false,
        },
        0xdf => match out.get(at + 1..at + 5) {
            Some(b) => (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 5),
            None => return false,
        },
        _ => return false,
    };
    let new = len + extra;
    let mut header = Vec::with_capacity(5);
    if new < 16 && head == 1 {
        header.push(0x80 | new as u8);
    } else if new <= u16::MAX as usize && head <= 3 {
        header.push(0xde);
        header.extend_from_slice(&(new as u16).to_be_bytes());
    } else {
        header.push(0xdf);
        header.extend_from_slice(&u32::try_from(new).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.splice(at..at + head, header);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_event::Events;

    fn body_json(buf: &[u8]) -> Vec<String> {
        Events::new(buf)
            .map(|e| weir_event::json::to_json_string(e.unwrap().body).unwrap())
            .collect()
    }

    #[test]
    fn raw_record_plain() {
        let l = RecordLayout::new("log", None, None);
        let mut out = Vec::new();
        l.write_raw(
            &mut out,
            EventTime::new(5, 0),
            &l.path_pair("/x"),
            10,
            b"hello",
        );
        assert_eq!(body_json(&out), [r#"{"log":"hello"}"#]);
        let ev = Events::new(&out).next().unwrap().unwrap();
        assert_eq!(ev.time, EventTime::new(5, 0));
    }

    #[test]
    fn raw_record_with_path_and_offset() {
        let l = RecordLayout::new("message", Some("file"), Some("off"));
        let mut out = Vec::new();
        let pp = l.path_pair("/var/log/a.log");
        l.write_raw(&mut out, EventTime::new(5, 0), &pp, 70000, b"x");
        l.write_raw(&mut out, EventTime::new(5, 0), &pp, 3, b"");
        assert_eq!(
            body_json(&out),
            [
                r#"{"file":"/var/log/a.log","off":70000,"message":"x"}"#,
                r#"{"file":"/var/log/a.log","off":3,"message":""}"#
            ]
        );
    }

    #[test]
    fn long_strings_and_big_offsets() {
        let l = RecordLayout::new("log", None, Some("o"));
        let mut out = Vec::new();
        for n in [31usize, 32, 255, 256, 65535, 65536] {
            let line = vec![b'a'; n];
            for off in [127u64, 128, 255, 256, 65535, 65536, u64::from(u32::MAX) + 1] {
                out.clear();
                l.write_raw(&mut out, EventTime::new(1, 0), &[], off, &line);
                let v: serde_json::Value = serde_json::from_str(&body_json(&out)[0]).unwrap();
                assert_eq!(v["o"], off);
                assert_eq!(v["log"].as_str().unwrap().len(), n);
            }
        }
    }

    fn parsed_event(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let pos = weir_event::event::begin_event(&mut out);
        weir_event::json::from_json(json, &mut out).unwrap();
        weir_event::event::set_time(&mut out, pos, EventTime::new(9, 0));
        out
    }

    #[test]
    fn appends_keys_to_parsed_map() {
        let l = RecordLayout::new("log", Some("p"), Some("o"));
        let mut out = vec![];
        // An earlier event in the batch stays untouched.
        l.write_raw(
            &mut out,
            EventTime::new(1, 0),
            &l.path_pair("f"),
            0,
            b"first",
        );
        let pos = out.len();
        out.extend_from_slice(&parsed_event(r#"{"a":1}"#));
        l.append_extra(&mut out, pos, &l.path_pair("f"), 7);
        assert_eq!(
            body_json(&out),
            [
                r#"{"p":"f","o":0,"log":"first"}"#,
                r#"{"a":1,"p":"f","o":7}"#
            ]
        );
    }

    #[test]
    fn widens_map_headers() {
        let l = RecordLayout::new("log", Some("p"), Some("o"));
        for n in [13usize, 14, 15, 16, 65534] {
            let fields: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            let mut out = parsed_event(&format!("{{{}}}", fields.join(",")));
            l.append_extra(&mut out, 0, &l.path_pair("f"), 1);
            let v: serde_json::Value = serde_json::from_str(&body_json(&out)[0]).unwrap();
            assert_eq!(v.as_object().unwrap().len(), n + 2, "n={n}");
            assert_eq!(v["o"], 1);
        }
    }

    #[test]
    fn non_map_body_is_left_alone() {
        let l = RecordLayout::new("log", Some("p"), None);
        let mut out = parsed_event("[1]");
        let before = out.clone();
        l.append_extra(&mut out, 0, &l.path_pair("f"), 1);
        assert_eq!(out, before);
    }
}
