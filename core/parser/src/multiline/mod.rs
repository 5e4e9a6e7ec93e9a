//! Multiline parsing: joining the lines of one message (stack traces, split container logs).
//!
//! A [`MultilineParser`] is a definition, built from a `[MULTILINE_PARSER]` section or one of
//! the built-ins (`docker`, `cri`, `go`, `python`, `java`, `ruby`), and shared. A [`Multiline`]
//! is the state an input keeps: it is fed lines (or records) tagged with a stream id (one per
//! file, say) and hands back completed records through a callback. Pending records are flushed
//! when their group has seen no line for `flush_timeout`, when the stream ends, or when the
//! caller asks.
//!
//! Types, as in Fluent Bit:
//! - `regex`: rules `state regex next_state`. A line matching a `start_state` rule starts a
//!   record; following lines that match a rule reachable from the last rule's next state are
//!   appended (joined by `\n`); a rule whose next state is `start_state` ends the record. A
//!   line that matches nothing ends any pending record and becomes a record of its own.
//! - `endswith`: lines are appended until one ends with `match_string` (e.g. docker's `\n`).
//! - `equal`: lines are appended until the pattern value equals `match_string` (e.g. CRI's
//!   `F`). `negate` inverts the match of both.
//!
//! With `parser`, each line is first parsed by that parser and the rules look at the
//! `key_content` field (or `key_pattern`, when set); `key_group` keeps streams apart inside a
//! file (stdout and stderr): each group joins its own lines, so interleaved partial lines of
//! two groups make one record per group. The record of a joined message is the first line's record with
//! `key_content` holding the joined text; raw text becomes `{"log": "..."}` ending in `\n`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use weir_event::EventTime;
//! use weir_parser::{Multiline, ParserRegistry};
//!
//! let registry = ParserRegistry::new();
//! let mut ml = Multiline::new(vec![registry.multiline("python").unwrap()]);
//! let mut records = Vec::new();
//! let mut emit = |r: weir_parser::multiline::Emitted<'_>| {
//!     records.push(weir_event::json::to_json_string(r.body).unwrap());
//! };
//! let t0 = Instant::now();
//! let now = EventTime::now();
//! for line in [
//!     "Traceback (most recent call last):",
//!     "  File \"app.py\", line 1, in <module>",
//!     "    main()",
//!     "ValueError: bad",
//!     "done",
//! ] {
//!     ml.feed_line(1, line.as_bytes(), now, t0, &mut emit);
//! }
//! // At end of file, or when `ml.next_deadline()` passes, flush what is pending.
//! ml.flush_expired(t0 + Duration::from_secs(5), &mut emit);
//! ml.flush_all(&mut emit);
//! assert_eq!(records.len(), 2);
//! assert!(records[0].starts_with(r#"{"log":"Traceback"#));
//! assert_eq!(records[1], r#"{"log":"done\n"}"#);
//! ```

pub mod builtin;

use crate::parser::Parser;
use crate::regex::Pattern;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_event::value as mp;
use weir_event::view::{read_str_bytes, MapIter};
use weir_event::EventTime;

/// Default `flush_timeout`.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_millis(4000);

/// Default limit of one joined record (Fluent Bit's `multiline_buffer_limit`).
pub const DEFAULT_BUFFER_LIMIT: usize = 2 << 20;

/// A multiline definition as written in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultilineConfig {
    pub name: String,
    /// `regex`, `endswith`, `equal` (or `eq`).
    pub kind: String,
    pub match_string: Option<String>,
    pub negate: bool,
    /// None: [`DEFAULT_FLUSH_TIMEOUT`].
    pub flush_timeout: Option<Duration>,
    pub key_content: Option<String>,
    pub key_group: Option<String>,
    pub key_pattern: Option<String>,
    /// Rules: (from states, comma separated; regex; next state).
    pub rules: Vec<(String, String, String)>,
}

/// Why a multiline definition is invalid: the offending key (`rule` for rules, with the rule's
/// index) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct MultilineError {
    pub key: &'static str,
    /// For errors in a rule: its position among the rules.
    pub rule: Option<usize>,
    pub message: String,
}

#[derive(Debug)]
struct Rule {
    start: bool,
    from: Vec<String>,
    regex: Pattern,
    /// Rules reachable next: those whose `from` states include this rule's next state.
    next: Vec<usize>,
}

#[derive(Debug)]
enum Kind {
    Regex(Vec<Rule>),
    EndsWith(Vec<u8>),
    Equal(Vec<u8>),
}

/// A compiled multiline definition.
#[derive(Debug)]
pub struct MultilineParser {
    name: String,
    kind: Kind,
    negate: bool,
    flush_timeout: Duration,
    key_content: Option<Box<[u8]>>,
    key_group: Option<Box<[u8]>>,
    key_pattern: Option<Box<[u8]>>,
    parser: Option<Arc<Parser>>,
}

impl MultilineParser {
    /// Checks and compiles a definition; `parser` is the parser named by its `parser` key.
    pub fn new(cfg: &MultilineConfig, parser: Option<Arc<Parser>>) -> Result<Self, MultilineError> {
        let err = |key, message: String| MultilineError {
            key,
            rule: None,
            message,
        };
        if cfg.name.is_empty() {
            return Err(err("name", "a multiline parser needs a name".into()));
        }
        let match_string = || -> Result<Vec<u8>, MultilineError> {
            match cfg.match_string.as_deref() {
                Some(m) if !m.is_empty() => Ok(m.as_bytes().to_vec()),
                _ => Err(err(
                    "match_string",
                    format!("type {} needs a 'match_string'", cfg.kind),
                )),
            }
        };
        let kind = match cfg.kind.to_ascii_lowercase().as_str() {
            "regex" => Kind::Regex(compile_rules(&cfg.rules)?),
            "endswith" => Kind::EndsWith(match_string()?),
            "equal" | "eq" => Kind::Equal(match_string()?),
            other => {
                return Err(err(
                    "type",
                    format!("unknown type '{other}': expected regex, endswith or equal"),
                ))
            }
        };
        let key = |k: &Option<String>| {
            k.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().into())
        };
        Ok(Self {
            name: cfg.name.clone(),
            kind,
            negate: cfg.negate,
            flush_timeout: cfg.flush_timeout.unwrap_or(DEFAULT_FLUSH_TIMEOUT),
            key_content: key(&cfg.key_content),
            key_group: key(&cfg.key_group),
            key_pattern: key(&cfg.key_pattern),
            parser,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }
}

fn compile_rules(rules: &[(String, String, String)]) -> Result<Vec<Rule>, MultilineError> {
    if rules.is_empty() {
        return Err(MultilineError {
            key: "rule",
            rule: None,
            message: "type regex needs at least one rule".into(),
        });
    }
    let mut out = Vec::with_capacity(rules.len());
    for (i, (from, regex, _)) in rules.iter().enumerate() {
        let from: Vec<String> = from
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if from.is_empty() {
            return Err(MultilineError {
                key: "rule",
                rule: Some(i),
                message: "the rule has no state".into(),
            });
        }
        let regex = Pattern::new(regex).map_err(|message| MultilineError {
            key: "rule",
            rule: Some(i),
            message,
        })?;
        out.push(Rule {
            start: from.iter().any(|s| s == "start_state"),
            from,
            regex,
            next: Vec::new(),
        });
    }
    if !out.iter().any(|r| r.start) {
        return Err(MultilineError {
            key: "rule",
            rule: None,
            message: "no rule has the state 'start_state'".into(),
        });
    }
    for (i, (_, _, to)) in rules.iter().enumerate() {
        let next: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, r)| r.from.iter().any(|s| s == to))
            .map(|(j, _)| j)
            .collect();
        if next.is_empty() && !to.is_empty() {
            return Err(MultilineError {
                key: "rule",
                rule: Some(i),
                message: format!("next state '{to}' is not the state of any rule"),
            });
        }
        out[i].next = next;
    }
    Ok(out)
}

/// A record completed by [`Multiline`].
#[derive(Debug, Clone, Copy)]
pub struct Emitted<'a> {
    pub stream_id: u64,
    pub time: EventTime,
    /// The encoded body map.
    pub body: &'a [u8],
    /// The joined text hit the buffer limit and was cut (Fluent Bit adds the metadata
    /// `multiline_truncated: true`).
    pub truncated: bool,
}

#[derive(Debug, Default)]
struct Group {
    buf: Vec<u8>,
    /// The first line's record, when lines are records.
    context: Option<Vec<u8>>,
    time: Option<EventTime>,
    state: Option<usize>,
    last_append: Option<Instant>,
    truncated: bool,
}

impl Group {
    fn pending(&self) -> bool {
        !self.buf.is_empty() || self.context.is_some()
    }
}

#[derive(Debug, Default)]
struct Stream {
    /// Per parser (by index): groups by `key_group` value.
    groups: Vec<HashMap<Vec<u8>, Group>>,
    lru: Option<usize>,
}

/// Multiline state of one input: feeds lines, emits joined records.
#[derive(Debug)]
pub struct Multiline {
    parsers: Vec<Arc<MultilineParser>>,
    streams: HashMap<u64, Stream>,
    buffer_limit: usize,
    scratch: Vec<u8>,
}

enum Line<'a> {
    Text(&'a [u8]),
    Record(&'a [u8]),
}

impl Multiline {
    /// State for lines that are tried against `parsers` in order (Fluent Bit's
    /// `multiline.parser docker, cri`).
    pub fn new(parsers: Vec<Arc<MultilineParser>>) -> Self {
        Self {
            parsers,
            streams: HashMap::new(),
            buffer_limit: DEFAULT_BUFFER_LIMIT,
            scratch: Vec::new(),
        }
    }

    /// Sets the largest joined text; 0 means no limit.
    pub fn with_buffer_limit(mut self, limit: usize) -> Self {
        self.buffer_limit = if limit == 0 { usize::MAX } else { limit };
        self
    }

    /// Feeds one line of text (without its line break) read at `time` from `stream_id`.
    pub fn feed_line(
        &mut self,
        stream_id: u64,
        line: &[u8],
        time: EventTime,
        now: Instant,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) {
        self.feed(stream_id, Line::Text(line), time, now, emit);
    }

    /// Feeds a record (an encoded map), as the multiline filter does.
    pub fn feed_record(
        &mut self,
        stream_id: u64,
        body: &[u8],
        time: EventTime,
        now: Instant,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) {
        self.feed(stream_id, Line::Record(body), time, now, emit);
    }

    /// Flushes groups that have waited `flush_timeout` since their last line.
    pub fn flush_expired(&mut self, now: Instant, emit: &mut dyn FnMut(Emitted<'_>)) {
        let ids: Vec<u64> = self.streams.keys().copied().collect();
        for id in ids {
            for p in 0..self.parsers.len() {
                let timeout = self.parsers[p].flush_timeout;
                let keys: Vec<Vec<u8>> = match self.streams.get(&id).and_then(|s| s.groups.get(p)) {
                    Some(g) => g
                        .iter()
                        .filter(|(_, g)| {
                            g.pending()
                                && g.last_append
                                    .is_some_and(|t| now.saturating_duration_since(t) >= timeout)
                        })
                        .map(|(k, _)| k.clone())
                        .collect(),
                    None => continue,
                };
                for k in keys {
                    self.flush_group(id, p, &k, emit);
                }
            }
        }
    }

    /// When the next group will be due for [`Multiline::flush_expired`].
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut best: Option<Instant> = None;
        for s in self.streams.values() {
            for (p, groups) in s.groups.iter().enumerate() {
                for g in groups.values().filter(|g| g.pending()) {
                    if let Some(t) = g.last_append {
                        let d = t + self.parsers[p].flush_timeout;
                        best = Some(best.map_or(d, |b| b.min(d)));
                    }
                }
            }
        }
        best
    }

    /// Whether any record is waiting for more lines.
    pub fn has_pending(&self) -> bool {
        self.streams
            .values()
            .any(|s| s.groups.iter().any(|g| g.values().any(Group::pending)))
    }

    /// Flushes everything pending for one stream (end of file).
    pub fn flush_stream(&mut self, stream_id: u64, emit: &mut dyn FnMut(Emitted<'_>)) {
        for p in 0..self.parsers.len() {
            self.flush_parser(stream_id, p, emit);
        }
    }

    /// Flushes and forgets a stream (file closed or removed).
    pub fn remove_stream(&mut self, stream_id: u64, emit: &mut dyn FnMut(Emitted<'_>)) {
        self.flush_stream(stream_id, emit);
        self.streams.remove(&stream_id);
    }

    /// Flushes everything pending (shutdown).
    pub fn flush_all(&mut self, emit: &mut dyn FnMut(Emitted<'_>)) {
        let ids: Vec<u64> = self.streams.keys().copied().collect();
        for id in ids {
            self.flush_stream(id, emit);
        }
    }

    fn stream(&mut self, id: u64) -> &mut Stream {
        let n = self.parsers.len();
        let s = self.streams.entry(id).or_default();
        if s.groups.len() < n {
            s.groups.resize_with(n, HashMap::new);
        }
        s
    }

    fn feed(
        &mut self,
        id: u64,
        line: Line<'_>,
        time: EventTime,
        now: Instant,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) {
        if self.parsers.is_empty() {
            return;
        }
        let lru = self.stream(id).lru;
        if let Some(p) = lru {
            if self.try_parser(id, p, &line, time, now, emit) {
                return;
            }
            self.flush_parser(id, p, emit);
        }
        for p in 0..self.parsers.len() {
            if Some(p) == lru {
                continue;
            }
            if self.try_parser(id, p, &line, time, now, emit) {
                self.stream(id).lru = Some(p);
                return;
            }
        }
        // No parser took the line: it is a record of its own.
        let p = lru.unwrap_or(0);
        self.flush_parser(id, p, emit);
        let parser = Arc::clone(&self.parsers[p]);
        self.scratch.clear();
        match line {
            Line::Text(text) => {
                let key = parser.key_content.as_deref().unwrap_or(b"log");
                let header = mp::begin_map(&mut self.scratch);
                mp::write_str_bytes(&mut self.scratch, key);
                let mut text = text.to_vec();
                if parser.key_content.is_none() && !text.ends_with(b"\n") {
                    text.push(b'\n');
                }
                mp::write_str_bytes(&mut self.scratch, &text);
                mp::finish_map(&mut self.scratch, header, 1);
            }
            Line::Record(body) => self.scratch.extend_from_slice(body),
        }
        emit(Emitted {
            stream_id: id,
            time,
            body: &self.scratch,
            truncated: false,
        });
    }

    /// Offers a line to parser `p`. Returns whether it took it.
    fn try_parser(
        &mut self,
        id: u64,
        p: usize,
        line: &Line<'_>,
        time: EventTime,
        now: Instant,
        emit: &mut dyn FnMut(Emitted<'_>),
    ) -> bool {
        let parser = Arc::clone(&self.parsers[p]);
        // Parse the line (or the record's content field) with the sub-parser, if any.
        let mut parsed = Vec::new();
        let mut time = time;
        let record: Option<&[u8]> = match (line, &parser.parser) {
            (Line::Text(text), Some(sub)) => {
                match sub.parse(text, &mut parsed) {
                    Ok(t) => time = t.unwrap_or(time),
                    Err(_) => return false,
                }
                Some(&parsed)
            }
            (Line::Text(_), None) => None,
            (Line::Record(body), Some(sub)) => {
                let Some(key) = parser.key_content.as_deref() else {
                    return false;
                };
                let Some(content) = str_field(body, key) else {
                    return false;
                };
                match sub.parse(content, &mut parsed) {
                    Ok(t) => time = t.unwrap_or(time),
                    Err(_) => return false,
                }
                Some(&parsed)
            }
            (Line::Record(body), None) => Some(*body),
        };
        let (content, pattern, group_key): (&[u8], &[u8], &[u8]) = match (record, line) {
            (None, Line::Text(text)) => (text, text, b""),
            (Some(map), _) => {
                let Some(key) = parser.key_content.as_deref() else {
                    return false;
                };
                let Some(content) = str_field(map, key) else {
                    return false;
                };
                let pattern = parser
                    .key_pattern
                    .as_deref()
                    .and_then(|k| str_field(map, k))
                    .unwrap_or(content);
                let group = parser
                    .key_group
                    .as_deref()
                    .and_then(|k| str_field(map, k))
                    .unwrap_or(b"");
                (content, pattern, group)
            }
            (None, Line::Record(_)) => return false,
        };

        // Each group (`key_group`: stdout and stderr of one container) joins its own lines: a
        // line of another group does not end this group's record, since runtimes interleave
        // the parts of long stdout and stderr lines. A group's record ends at its own last
        // part, its flush timeout, or the end of the stream, as in Fluent Bit.
        let limit = self.buffer_limit;
        let n_parsers = self.parsers.len();
        let Self {
            streams, scratch, ..
        } = self;
        let stream = streams.entry(id).or_default();
        if stream.groups.len() < n_parsers {
            stream.groups.resize_with(n_parsers, HashMap::new);
        }
        let group = stream.groups[p].entry(group_key.to_vec()).or_default();
        let flush_now = match &parser.kind {
            Kind::EndsWith(m) | Kind::Equal(m) => {
                let matched = match &parser.kind {
                    Kind::EndsWith(_) => {
                        if pattern.len() < m.len() {
                            return false;
                        }
                        pattern.ends_with(m)
                    }
                    _ => pattern == &m[..],
                };
                if !group.pending() {
                    group.time = Some(time);
                    group.context = record.map(<[u8]>::to_vec);
                }
                if parser.key_content.is_none()
                    && !group.buf.is_empty()
                    && !group.buf.ends_with(b"\n")
                {
                    group.buf.push(b'\n');
                }
                append(group, content, limit);
                matched != parser.negate
            }
            Kind::Regex(rules) => {
                let mut matched = None;
                if let Some(state) = group.state.filter(|_| group.pending()) {
                    for &r in &rules[state].next {
                        if rules[r].start || !rules[r].regex.is_match(content) {
                            continue;
                        }
                        if !group.buf.is_empty() && !group.buf.ends_with(b"\n") {
                            group.buf.push(b'\n');
                        }
                        if content.is_empty() {
                            group.buf.push(b'\n');
                        } else {
                            append(group, content, limit);
                        }
                        matched = Some(r);
                        break;
                    }
                }
                if matched.is_none() {
                    let Some(r) = rules
                        .iter()
                        .position(|r| r.start && r.regex.is_match(content))
                    else {
                        return false;
                    };
                    if group.pending() {
                        // A new message starts: the previous one is complete.
                        let mut old = std::mem::take(group);
                        let (t, truncated) = build_record(&parser, &mut old, scratch);
                        emit(Emitted {
                            stream_id: id,
                            time: t,
                            body: scratch,
                            truncated,
                        });
                    }
                    group.time = Some(time);
                    group.context = record.map(<[u8]>::to_vec);
                    append(group, content, limit);
                    matched = Some(r);
                }
                group.state = matched;
                // A rule leading back to the start state ends the message.
                matched.is_some_and(|r| rules[r].next.iter().any(|&n| rules[n].start))
            }
        };
        group.last_append = Some(now);
        if flush_now || group.truncated {
            self.flush_group(id, p, group_key, emit);
        }
        true
    }

    fn flush_parser(&mut self, id: u64, p: usize, emit: &mut dyn FnMut(Emitted<'_>)) {
        let keys: Vec<Vec<u8>> = match self.streams.get(&id).and_then(|s| s.groups.get(p)) {
            Some(g) => g
                .iter()
                .filter(|(_, g)| g.pending())
                .map(|(k, _)| k.clone())
                .collect(),
            None => return,
        };
        for k in keys {
            self.flush_group(id, p, &k, emit);
        }
    }

    fn flush_group(&mut self, id: u64, p: usize, key: &[u8], emit: &mut dyn FnMut(Emitted<'_>)) {
        let parser = Arc::clone(&self.parsers[p]);
        let Some(group) = self
            .streams
            .get_mut(&id)
            .and_then(|s| s.groups.get_mut(p))
            .and_then(|g| g.get_mut(key))
        else {
            return;
        };
        if !group.pending() {
            group.state = None;
            return;
        }
        let mut g = std::mem::take(group);
        let (time, truncated) = build_record(&parser, &mut g, &mut self.scratch);
        emit(Emitted {
            stream_id: id,
            time,
            body: &self.scratch,
            truncated,
        });
    }
}

fn append(group: &mut Group, content: &[u8], limit: usize) {
    let room = limit.saturating_sub(group.buf.len());
    if content.len() > room {
        group.buf.extend_from_slice(&content[..room]);
        group.truncated = true;
    } else {
        group.buf.extend_from_slice(content);
    }
}

/// Writes the record of a completed group into `out`; returns its time and truncation flag.
fn build_record(parser: &MultilineParser, g: &mut Group, out: &mut Vec<u8>) -> (EventTime, bool) {
    out.clear();
    if parser.key_content.is_none() && !g.buf.is_empty() && !g.buf.ends_with(b"\n") {
        g.buf.push(b'\n');
    }
    let time = g.time.unwrap_or_else(EventTime::now);
    match (&g.context, parser.key_content.as_deref()) {
        (Some(map), Some(key)) => {
            let entries: Vec<_> = MapIter::new(map)
                .map(|it| it.filter_map(Result::ok).collect())
                .unwrap_or_default();
            let header = mp::begin_map(out);
            for e in &entries {
                out.extend_from_slice(e.key);
                if is_str(e.key) && read_str_bytes(e.key) == Some(key) {
                    mp::write_str_bytes(out, &g.buf);
                } else {
                    out.extend_from_slice(e.value);
                }
            }
            mp::finish_map(out, header, entries.len());
        }
        _ => {
            let header = mp::begin_map(out);
            mp::write_str_bytes(out, parser.key_content.as_deref().unwrap_or(b"log"));
            mp::write_str_bytes(out, &g.buf);
            mp::finish_map(out, header, 1);
        }
    }
    (time, g.truncated)
}

fn is_str(b: &[u8]) -> bool {
    matches!(b.first(), Some(0xa0..=0xbf | 0xd9 | 0xda | 0xdb))
}

/// The value of a top-level string field.
fn str_field<'m>(map: &'m [u8], key: &[u8]) -> Option<&'m [u8]> {
    for e in MapIter::new(map).ok()? {
        let e = e.ok()?;
        if is_str(e.key) && read_str_bytes(e.key) == Some(key) {
            return if is_str(e.value) {
                read_str_bytes(e.value)
            } else {
                None
            };
        }
    }
    None
}

#[cfg(test)]
mod tests;
