//! [`Parser`]: one configured parser (`[PARSER]` section) and how it turns a line into a record.
//!
//! A parser writes the record body (a MessagePack map) straight into the caller's buffer and
//! reports the record time it found. The settings are Fluent Bit's:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `format` | | `json`, `regex`, `logfmt`, `ltsv` (and `tskv`) |
//! | `regex` | | the pattern, for `format regex` |
//! | `time_key` | `time` | the field holding the record time |
//! | `time_format` | | strptime format of that field; without it no time is read |
//! | `time_keep` | off | keep the time field in the record |
//! | `time_offset` | | fixed UTC offset (`+0200`) for times without a zone |
//! | `time_system_timezone` | off | use the system zone for times without a zone |
//! | `time_strict` | on | off: accept times that match the format only in part |
//! | `types` | | `key:integer key2:bool ...` (`regex`, `logfmt`, `ltsv`) |
//! | `decode_field`, `decode_field_as` | | see [`crate::decoder`] |
//! | `skip_empty_values` | on | leave out empty regex captures |
//! | `logfmt_no_bare_keys` | off | reject logfmt lines with keys without values |
//!
//! When the time field is missing or does not parse, the record keeps the caller's time (the
//! current time for tail) and the field stays in the record; [`Parser::parse_detailed`] says
//! which happened and [`Parser::time_errors`] counts the failures, so the caller can log. This
//! is Fluent Bit's behaviour for JSON; for the other formats Fluent Bit drops the field (regex)
//! or rejects the line (logfmt, ltsv) after logging, and Weir keeps the data instead.

use crate::decoder::{DecodeKind, Decoders};
use crate::json::{self, TimeHook};
use crate::kv::{self, KvFormat, KvValue};
use crate::regex::Pattern;
use crate::timefmt::{parse_offset, LocalZone, TimeFormat};
use crate::types::Types;
use std::sync::atomic::{AtomicU64, Ordering};
use weir_event::value as mp;
use weir_event::view::{read_str_bytes, MapIter};
use weir_event::EventTime;

/// Why a line could not be parsed. The caller's buffer is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid JSON at byte {at}: {reason}")]
    Json { at: usize, reason: &'static str },
    #[error("the regex did not match")]
    NoMatch,
    #[error("no key/value pairs found")]
    Empty,
    #[error("a key has no value (logfmt_no_bare_keys is on)")]
    BareKey,
}

/// What happened to the record time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLookup {
    /// The time field was found and parsed.
    Found(EventTime),
    /// No time field (or the parser has no `time_format`).
    Missing,
    /// The time field was there but did not match `time_format`.
    Invalid,
}

impl TimeLookup {
    pub fn time(self) -> Option<EventTime> {
        match self {
            TimeLookup::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// Why a parser definition is invalid: the offending key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct BuildError {
    pub key: &'static str,
    pub message: String,
}

impl BuildError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

/// A parser definition as written in the configuration, before it is checked and compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserConfig {
    pub name: String,
    pub format: String,
    pub regex: Option<String>,
    pub time_key: Option<String>,
    pub time_format: Option<String>,
    pub time_keep: bool,
    pub time_offset: Option<String>,
    pub time_strict: bool,
    pub time_system_timezone: bool,
    pub types: Option<String>,
    /// `decode_field` / `decode_field_as` values, in the order written.
    pub decoders: Vec<(DecodeKind, String)>,
    pub skip_empty_values: bool,
    pub logfmt_no_bare_keys: bool,
}

impl ParserConfig {
    /// A definition with Fluent Bit's defaults.
    pub fn new(name: impl Into<String>, format: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            format: format.into(),
            regex: None,
            time_key: None,
            time_format: None,
            time_keep: false,
            time_offset: None,
            time_strict: true,
            time_system_timezone: false,
            types: None,
            decoders: Vec::new(),
            skip_empty_values: true,
            logfmt_no_bare_keys: false,
        }
    }
}

#[derive(Debug)]
enum Format {
    Json,
    Regex(Pattern),
    Kv(KvFormat),
}

#[derive(Debug)]
struct TimeSpec {
    key: Box<[u8]>,
    format: TimeFormat,
    keep: bool,
    strict: bool,
    zone: LocalZone,
}

/// A compiled parser. Shared between threads (`Arc<Parser>`); parsing takes `&self`.
#[derive(Debug)]
pub struct Parser {
    name: String,
    format: Format,
    time: Option<TimeSpec>,
    types: Types,
    decoders: Decoders,
    skip_empty: bool,
    time_errors: AtomicU64,
}

impl Parser {
    /// Checks and compiles a definition.
    pub fn new(cfg: &ParserConfig) -> Result<Self, BuildError> {
        if cfg.name.is_empty() {
            return Err(BuildError::new("name", "a parser needs a name"));
        }
        let format = match cfg.format.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "regex" => {
                let Some(re) = cfg.regex.as_deref().filter(|r| !r.is_empty()) else {
                    return Err(BuildError::new("regex", "format regex needs a 'regex'"));
                };
                Format::Regex(Pattern::new(re).map_err(|e| BuildError::new("regex", e))?)
            }
            "logfmt" => Format::Kv(KvFormat::Logfmt {
                no_bare_keys: cfg.logfmt_no_bare_keys,
            }),
            "ltsv" => Format::Kv(KvFormat::Ltsv),
            "tskv" => Format::Kv(KvFormat::Tskv),
            other => {
                return Err(BuildError::new(
                    "format",
                    format!("unknown format '{other}': expected json, regex, ltsv or logfmt"),
                ))
            }
        };
        let time = match cfg.time_format.as_deref().filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => {
                let format = TimeFormat::new(f).map_err(|e| BuildError::new("time_format", e.0))?;
                let zone = if cfg.time_system_timezone {
                    LocalZone::System
                } else {
                    match cfg.time_offset.as_deref().filter(|o| !o.is_empty()) {
                        Some(o) => LocalZone::Fixed(
                            parse_offset(o).map_err(|e| BuildError::new("time_offset", e.0))?,
                        ),
                        None => LocalZone::Fixed(0),
                    }
                };
                let key = cfg
                    .time_key
                    .as_deref()
                    .filter(|k| !k.is_empty())
                    .unwrap_or("time");
                Some(TimeSpec {
                    key: key.as_bytes().into(),
                    format,
                    keep: cfg.time_keep,
                    strict: cfg.time_strict,
                    zone,
                })
            }
        };
        let types = match cfg.types.as_deref() {
            Some(t) => Types::parse(t).map_err(|e| BuildError::new("types", e.0))?,
            None => Types::default(),
        };
        let mut decoders = Decoders::default();
        for (kind, value) in &cfg.decoders {
            let key = match kind {
                DecodeKind::Field => "decode_field",
                DecodeKind::FieldAs => "decode_field_as",
            };
            decoders
                .add(*kind, value)
                .map_err(|e| BuildError::new(key, e))?;
        }
        Ok(Self {
            name: cfg.name.clone(),
            format,
            time,
            types,
            decoders,
            skip_empty: cfg.skip_empty_values,
            time_errors: AtomicU64::new(0),
        })
    }

    /// The parser's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The compiled pattern of a `regex` parser.
    pub fn pattern(&self) -> Option<&Pattern> {
        match &self.format {
            Format::Regex(p) => Some(p),
            _ => None,
        }
    }

    /// How many times a time field was present but did not parse.
    pub fn time_errors(&self) -> u64 {
        self.time_errors.load(Ordering::Relaxed)
    }

    /// Parses `input`, appending the encoded body map to `out`. Returns the record time if the
    /// time field was found and parsed. On error `out` is left exactly as it was.
    pub fn parse(&self, input: &[u8], out: &mut Vec<u8>) -> Result<Option<EventTime>, ParseError> {
        self.parse_detailed(input, None, out).map(TimeLookup::time)
    }

    /// Writes a whole event: the head (`weir_event::event::begin_event`), the parsed body and
    /// the time (the parsed one, else `default_time`). On error `out` is left as it was.
    pub fn parse_event(
        &self,
        input: &[u8],
        default_time: EventTime,
        out: &mut Vec<u8>,
    ) -> Result<(), ParseError> {
        let pos = weir_event::event::begin_event(out);
        match self.parse_detailed(input, None, out) {
            Ok(t) => {
                weir_event::event::set_time(out, pos, t.time().unwrap_or(default_time));
                Ok(())
            }
            Err(e) => {
                out.truncate(pos);
                Err(e)
            }
        }
    }

    /// Like [`Parser::parse`], telling apart a missing time from an invalid one. `now` is the
    /// date used for time formats without a year (`None`: the clock).
    pub fn parse_detailed(
        &self,
        input: &[u8],
        now: Option<EventTime>,
        out: &mut Vec<u8>,
    ) -> Result<TimeLookup, ParseError> {
        let mark = out.len();
        let res = match &self.format {
            Format::Json => self.parse_json(input, now, out),
            Format::Regex(p) => self.parse_regex(p, input, now, out),
            Format::Kv(f) => self.parse_kv(*f, input, now, out),
        };
        match res {
            Ok(t) => {
                if t == TimeLookup::Invalid {
                    self.time_errors.fetch_add(1, Ordering::Relaxed);
                }
                Ok(t)
            }
            Err(e) => {
                out.truncate(mark);
                Err(e)
            }
        }
    }

    /// Parses a time value with this parser's time settings.
    pub fn parse_time(&self, value: &[u8], now: Option<EventTime>) -> Option<EventTime> {
        let spec = self.time.as_ref()?;
        spec.format.parse(value, spec.strict, spec.zone, now)
    }

    fn parse_json(
        &self,
        input: &[u8],
        now: Option<EventTime>,
        out: &mut Vec<u8>,
    ) -> Result<TimeLookup, ParseError> {
        let jerr = |e: json::JsonError| ParseError::Json {
            at: e.at,
            reason: e.reason,
        };
        if !self.decoders.is_empty() {
            // Decoders run before the time lookup, as in Fluent Bit, so the record is built in
            // a scratch buffer first.
            let mut raw = Vec::with_capacity(input.len() + 16);
            json::transcode_object(input, &mut raw, None).map_err(jerr)?;
            let mut decoded = Vec::new();
            let map = if self.decoders.apply(&raw, &mut decoded) {
                &decoded
            } else {
                &raw
            };
            return Ok(self.finish_map_time(map, now, out));
        }
        let Some(spec) = &self.time else {
            json::transcode_object(input, out, None).map_err(jerr)?;
            return Ok(TimeLookup::Missing);
        };
        let mut lookup = TimeLookup::Missing;
        let mut parse = |v: Option<&[u8]>| {
            lookup = match v.and_then(|v| spec.format.parse(v, spec.strict, spec.zone, now)) {
                Some(t) => TimeLookup::Found(t),
                None => TimeLookup::Invalid,
            };
            matches!(lookup, TimeLookup::Found(_))
        };
        let hook = TimeHook {
            key: &spec.key,
            keep: spec.keep,
            parse: &mut parse,
        };
        json::transcode_object(input, out, Some(hook)).map_err(jerr)?;
        Ok(lookup)
    }

    /// Looks up the time in an already encoded map and writes the map to `out`, without the
    /// time field when it parsed and `time_keep` is off.
    fn finish_map_time(&self, map: &[u8], now: Option<EventTime>, out: &mut Vec<u8>) -> TimeLookup {
        let Some(spec) = &self.time else {
            out.extend_from_slice(map);
            return TimeLookup::Missing;
        };
        let Ok(iter) = MapIter::new(map) else {
            out.extend_from_slice(map);
            return TimeLookup::Missing;
        };
        let entries: Vec<_> = iter.filter_map(Result::ok).collect();
        let found = entries
            .iter()
            .position(|e| is_str(e.key) && read_str_bytes(e.key) == Some(&spec.key[..]));
        let Some(idx) = found else {
            out.extend_from_slice(map);
            return TimeLookup::Missing;
        };
        let value = if is_str(entries[idx].value) {
            read_str_bytes(entries[idx].value)
        } else {
            None
        };
        let Some(t) = value.and_then(|v| spec.format.parse(v, spec.strict, spec.zone, now)) else {
            out.extend_from_slice(map);
            return TimeLookup::Invalid;
        };
        if spec.keep {
            out.extend_from_slice(map);
        } else {
            let header = mp::begin_map(out);
            for (i, e) in entries.iter().enumerate() {
                if i != idx {
                    out.extend_from_slice(e.key);
                    out.extend_from_slice(e.value);
                }
            }
            mp::finish_map(out, header, entries.len() - 1);
        }
        TimeLookup::Found(t)
    }

    fn parse_regex(
        &self,
        p: &Pattern,
        input: &[u8],
        now: Option<EventTime>,
        out: &mut Vec<u8>,
    ) -> Result<TimeLookup, ParseError> {
        let caps = p.captures(input).ok_or(ParseError::NoMatch)?;
        let mut w = RecordWriter::new(self, now, out);
        for (key, span) in caps.iter() {
            let value = span.map_or(&b""[..], |(s, e)| &input[s..e]);
            if value.is_empty() && self.skip_empty {
                continue;
            }
            w.field(key, KvValue::Raw(value));
        }
        drop(caps);
        Ok(w.finish())
    }

    fn parse_kv(
        &self,
        f: KvFormat,
        input: &[u8],
        now: Option<EventTime>,
        out: &mut Vec<u8>,
    ) -> Result<TimeLookup, ParseError> {
        let mut w = RecordWriter::new(self, now, out);
        if !kv::read(f, input, &mut w) {
            return Err(ParseError::BareKey);
        }
        if w.n == 0 && !w.time_dropped {
            return Err(ParseError::Empty);
        }
        Ok(w.finish())
    }
}

fn is_str(b: &[u8]) -> bool {
    matches!(b.first(), Some(0xa0..=0xbf | 0xd9 | 0xda | 0xdb))
}

/// Receives key/value pairs from the text formats.
pub trait KvSink {
    fn pair(&mut self, key: &[u8], value: KvValue<'_>);
}

/// Writes the map of a text-format record: time field, types and decoders.
struct RecordWriter<'a> {
    parser: &'a Parser,
    now: Option<EventTime>,
    out: &'a mut Vec<u8>,
    start: usize,
    header: usize,
    n: usize,
    time: TimeLookup,
    time_dropped: bool,
    scratch: Vec<u8>,
}

impl<'a> RecordWriter<'a> {
    fn new(parser: &'a Parser, now: Option<EventTime>, out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        let header = mp::begin_map(out);
        Self {
            parser,
            now,
            out,
            start,
            header,
            n: 0,
            time: TimeLookup::Missing,
            time_dropped: false,
            scratch: Vec::new(),
        }
    }

    #[inline]
    fn field(&mut self, key: &[u8], value: KvValue<'_>) {
        if let Some(spec) = &self.parser.time {
            if self.time == TimeLookup::Missing && &*spec.key == key && !value.is_empty() {
                let text: &[u8] = match &value {
                    KvValue::Raw(v) => v,
                    KvValue::Escaped(v) => {
                        self.scratch = crate::decoder::unescape_logfmt(v);
                        &self.scratch
                    }
                    KvValue::Bare => b"",
                };
                match spec.format.parse(text, spec.strict, spec.zone, self.now) {
                    Some(t) => {
                        self.time = TimeLookup::Found(t);
                        if !spec.keep {
                            self.time_dropped = true;
                            return;
                        }
                    }
                    None => self.time = TimeLookup::Invalid,
                }
            }
        }
        mp::write_str_bytes(self.out, key);
        let types = &self.parser.types;
        match value {
            KvValue::Raw(v) => types.write_value(key, v, self.out),
            KvValue::Escaped(v) => {
                let v = crate::decoder::unescape_logfmt(v);
                types.write_value(key, &v, self.out);
            }
            KvValue::Bare => match types.get(key) {
                Some(t) => crate::types::write_typed(t, b"", self.out),
                None => mp::write_bool(self.out, true),
            },
        }
        self.n += 1;
    }

    fn finish(self) -> TimeLookup {
        mp::finish_map(self.out, self.header, self.n);
        if !self.parser.decoders.is_empty() {
            let mut decoded = Vec::new();
            if self
                .parser
                .decoders
                .apply(&self.out[self.start..], &mut decoded)
            {
                self.out.truncate(self.start);
                self.out.extend_from_slice(&decoded);
            }
        }
        self.time
    }
}

impl KvSink for RecordWriter<'_> {
    fn pair(&mut self, key: &[u8], value: KvValue<'_>) {
        self.field(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_event::json::to_json_string;

    fn parser(f: impl FnOnce(&mut ParserConfig)) -> Parser {
        let mut cfg = ParserConfig::new("p", "json");
        f(&mut cfg);
        Parser::new(&cfg).unwrap()
    }

    fn run(p: &Parser, input: &str) -> Result<(String, TimeLookup), ParseError> {
        let mut out = vec![7u8];
        let t = p.parse_detailed(
            input.as_bytes(),
            Some(EventTime::new(1_767_225_600, 0)),
            &mut out,
        )?;
        assert_eq!(out[0], 7);
        Ok((to_json_string(&out[1..]).unwrap(), t))
    }

    #[test]
    fn json_with_time() {
        let p = parser(|c| {
            c.time_key = Some("ts".into());
            c.time_format = Some("%Y-%m-%dT%H:%M:%S.%L%z".into());
        });
        let (body, t) = run(&p, r#"{"ts":"2026-01-01T00:00:00.004Z","level":"info"}"#).unwrap();
        assert_eq!(body, r#"{"level":"info"}"#);
        assert_eq!(
            t,
            TimeLookup::Found(EventTime::new(1_767_225_600, 4_000_000))
        );
        let (body, t) = run(&p, r#"{"ts":"yesterday","level":"info"}"#).unwrap();
        assert_eq!(body, r#"{"ts":"yesterday","level":"info"}"#);
        assert_eq!(t, TimeLookup::Invalid);
        assert_eq!(p.time_errors(), 1);
        let (_, t) = run(&p, r#"{"level":"info"}"#).unwrap();
        assert_eq!(t, TimeLookup::Missing);
        assert!(matches!(run(&p, "[1]"), Err(ParseError::Json { .. })));
    }

    #[test]
    fn parse_event_writes_head_and_time() {
        let p = parser(|c| c.time_format = Some("%s".into()));
        let mut out = Vec::new();
        p.parse_event(br#"{"time":"100","a":1}"#, EventTime::new(5, 0), &mut out)
            .unwrap();
        p.parse_event(br#"{"a":2}"#, EventTime::new(5, 0), &mut out)
            .unwrap();
        assert!(p
            .parse_event(b"nope", EventTime::new(5, 0), &mut out)
            .is_err());
        let evs: Vec<_> = weir_event::Events::new(&out)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].time, EventTime::new(100, 0));
        assert_eq!(to_json_string(evs[0].body).unwrap(), r#"{"a":1}"#);
        assert_eq!(evs[1].time, EventTime::new(5, 0));
    }

    #[test]
    fn regex_types_and_empty_values() {
        let p = parser(|c| {
            c.format = "regex".into();
            c.regex = Some(r"^(?<a>\w*) (?<b>\d+)(?: (?<c>\S+))?$".into());
            c.types = Some("b:integer".into());
        });
        assert_eq!(run(&p, " 42").unwrap().0, r#"{"b":42}"#);
        assert_eq!(run(&p, "x 7 y").unwrap().0, r#"{"a":"x","b":7,"c":"y"}"#);
        assert_eq!(run(&p, "no match"), Err(ParseError::NoMatch));
        let p = parser(|c| {
            c.format = "regex".into();
            c.regex = Some(r"^(?<a>\w*) (?<b>\d+)(?: (?<c>\S+))?$".into());
            c.skip_empty_values = false;
        });
        assert_eq!(run(&p, " 42").unwrap().0, r#"{"a":"","b":"42","c":""}"#);
    }

    #[test]
    fn logfmt_and_ltsv() {
        let p = parser(|c| {
            c.format = "logfmt".into();
            c.time_format = Some("%Y-%m-%dT%H:%M:%SZ".into());
            c.types = Some("n:integer".into());
        });
        let (body, t) = run(
            &p,
            r#"time=2026-01-01T00:00:00Z level=info msg="a \"b\"" n=3 flag"#,
        )
        .unwrap();
        assert_eq!(
            body,
            r#"{"level":"info","msg":"a \"b\"","n":3,"flag":true}"#
        );
        assert_eq!(t, TimeLookup::Found(EventTime::new(1_767_225_600, 0)));
        assert_eq!(run(&p, "   "), Err(ParseError::Empty));
        let p = parser(|c| c.format = "ltsv".into());
        assert_eq!(run(&p, "a:1\tb:x y").unwrap().0, r#"{"a":"1","b":"x y"}"#);
        let p = parser(|c| {
            c.format = "logfmt".into();
            c.logfmt_no_bare_keys = true;
        });
        assert_eq!(run(&p, "a=1 b"), Err(ParseError::BareKey));
    }

    #[test]
    fn json_decoders_run_before_time() {
        let p = parser(|c| {
            c.time_format = Some("%s".into());
            c.decoders.push((DecodeKind::Field, "json log".into()));
        });
        let (body, t) = run(&p, r#"{"log":"{\"time\":\"42\",\"x\":1}"}"#).unwrap();
        assert_eq!(body, r#"{"log":"{\"time\":\"42\",\"x\":1}","x":1}"#);
        assert_eq!(t, TimeLookup::Found(EventTime::new(42, 0)));
    }

    #[test]
    fn build_errors_name_the_key() {
        let err = |f: fn(&mut ParserConfig)| {
            let mut c = ParserConfig::new("p", "json");
            f(&mut c);
            Parser::new(&c).unwrap_err().key
        };
        assert_eq!(err(|c| c.format = "xml".into()), "format");
        assert_eq!(err(|c| c.format = "regex".into()), "regex");
        assert_eq!(
            err(|c| {
                c.format = "regex".into();
                c.regex = Some("(?=x)".into())
            }),
            "regex"
        );
        assert_eq!(err(|c| c.time_format = Some("%Q".into())), "time_format");
        assert_eq!(
            err(|c| {
                c.time_format = Some("%H".into());
                c.time_offset = Some("2h".into())
            }),
            "time_offset"
        );
        assert_eq!(err(|c| c.types = Some("a:number".into())), "types");
        assert_eq!(
            err(|c| c.decoders.push((DecodeKind::Field, "xml log".into()))),
            "decode_field"
        );
    }
}
