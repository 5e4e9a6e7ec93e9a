//! `parser`: parse one field of each record with named parsers and replace the record with
//! the result.
//!
//! As Fluent Bit's `filter_parser`:
//!
//! - `key_name` is the field to parse: a top-level key, or a record accessor when it starts
//!   with `$`. Only string (or binary) values are parsed; other records pass unchanged.
//! - The `parser` entries are tried in order; the first that succeeds wins. When none does,
//!   the record passes unchanged.
//! - The result replaces the record. `reserve_data` appends the record's other fields after
//!   the parsed ones; `preserve_key` keeps `key_name` too (in its place among the reserved
//!   fields, or alone after the parsed ones). `nest_under` puts the parsed fields under that
//!   key instead of at the top level.
//! - When the parser finds a time, it becomes the record's time; otherwise the record keeps
//!   its time. Metadata is kept.
//!
//! With a nested accessor (`$log['inner']`), the original field stays where it is when
//! `reserve_data` is on (Fluent Bit does the same) and `preserve_key` has no effect.
//!
//! `unescape_key` is accepted for compatibility and does nothing, as in Fluent Bit, where it
//! is deprecated. A parser name that is not defined is a configuration error.

use super::support;
use super::support::{Pair, Rewrite};
use std::sync::Arc;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::accessor::RecordAccessor;
use weir_event::view::{read_map_len, read_str_bytes, MapIter};
use weir_event::{event, value, EventWriter};
use weir_parser::Parser;

/// `parser`'s parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("key_name")
        .required()
        .desc("The field to parse: a key, or a record accessor such as $log['inner']."),
    ParamSpec::str("parser")
        .multiple()
        .required()
        .desc("A parser to try; give several to try them in order until one succeeds."),
    ParamSpec::bool("reserve_data")
        .default("false")
        .desc("Keep the record's other fields after the parsed ones."),
    ParamSpec::bool("preserve_key")
        .default("false")
        .desc("Keep the parsed field itself."),
    ParamSpec::str("nest_under").desc("Put the parsed fields in a map under this key."),
    ParamSpec::bool("unescape_key")
        .deprecated()
        .desc("Deprecated in Fluent Bit; accepted and ignored."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "parser",
    kind: PluginKind::Filter,
    description: "Parse a field of each record with named parsers.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

/// The built filter.
#[derive(Debug)]
pub struct ParserFilter {
    key: RecordAccessor,
    parsers: Vec<Arc<Parser>>,
    reserve_data: bool,
    preserve_key: bool,
    /// The encoded key to nest the parsed fields under.
    nest_under: Option<Vec<u8>>,
}

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    let key_name = p.str("key_name").unwrap_or("");
    if key_name.is_empty() {
        return Err(p.error("key_name", "expected the name of the field to parse"));
    }
    let key =
        RecordAccessor::parse_or_key(key_name).map_err(|e| p.error("key_name", e.to_string()))?;
    let mut parsers = Vec::new();
    for name in p.all("parser") {
        let parser = ctx.parsers.get(name).ok_or_else(|| {
            let mut msg = format!("unknown parser '{name}'");
            if let Some(s) = weir_config::suggest(name, ctx.parsers.names()) {
                msg.push_str(&format!("; did you mean '{s}'?"));
            }
            p.error("parser", msg)
        })?;
        parsers.push(parser);
    }
    Ok(Box::new(ParserFilter {
        key,
        parsers,
        reserve_data: p.bool("reserve_data").unwrap_or(false),
        preserve_key: p.bool("preserve_key").unwrap_or(false),
        nest_under: p
            .str("nest_under")
            .filter(|s| !s.is_empty())
            .map(|s| support::encode_str(s.as_bytes())),
    }))
}

impl ParserFilter {
    /// Index of the top-level pair the parsed value came from, when the key is top level.
    fn source_index(&self, body: &[u8]) -> Option<usize> {
        if !self.key.is_top_level() {
            return None;
        }
        let want = self.key.root().as_bytes();
        let mut found = None;
        for (i, e) in MapIter::new(body).ok()?.map_while(Result::ok).enumerate() {
            if matches!(e.key.first(), Some(0xa0..=0xbf | 0xd9..=0xdb))
                && read_str_bytes(e.key) == Some(want)
            {
                found = Some(i);
            }
        }
        found
    }

    /// Parses one record; appends the new event to `out` and returns true, or returns false
    /// when the record passes unchanged.
    fn rewrite(
        &self,
        ev: &weir_event::EventRef<'_>,
        scratch: &mut Vec<u8>,
        out: &mut EventWriter,
    ) -> bool {
        let Some(text) = self.key.get(ev.body).and_then(read_str_bytes) else {
            return false;
        };
        scratch.clear();
        let mut time = None;
        let mut parsed = false;
        for parser in &self.parsers {
            if let Ok(t) = parser.parse(text, scratch) {
                time = t;
                parsed = true;
                break;
            }
            scratch.clear();
        }
        if !parsed {
            return false;
        }
        let Ok((parsed_len, first)) = read_map_len(scratch, 0) else {
            return false;
        };

        // The original fields to append after the parsed ones.
        let source = self.source_index(ev.body);
        let mut extra: Vec<Pair<'_>> = Vec::new();
        if self.reserve_data || self.preserve_key {
            let pairs = support::pairs(ev.body).unwrap_or_default();
            for (i, p) in pairs.into_iter().enumerate() {
                let is_source = source == Some(i);
                let keep = if self.reserve_data {
                    !is_source || self.preserve_key
                } else {
                    is_source
                };
                if keep {
                    extra.push(p);
                }
            }
        }

        let start = out.buf.len();
        match time {
            Some(t) => event::write_head(&mut out.buf, t, ev.metadata),
            None => out.buf.extend_from_slice(support::head(ev)),
        }
        match &self.nest_under {
            Some(key) => {
                value::write_map_len(&mut out.buf, 1 + extra.len());
                out.buf.extend_from_slice(key);
                out.buf.extend_from_slice(scratch);
            }
            None => {
                value::write_map_len(&mut out.buf, parsed_len + extra.len());
                out.buf.extend_from_slice(&scratch[first..]);
            }
        }
        for p in &extra {
            out.buf.extend_from_slice(&p.key);
            out.buf.extend_from_slice(&p.value);
        }
        debug_assert!(out.buf.len() > start);
        out.count += 1;
        true
    }
}

impl Filter for ParserFilter {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        let mut rw = Rewrite::new(batch.data, out);
        let mut scratch = Vec::new();
        let mut one = EventWriter::new();
        for (start, ev) in rw.events() {
            if rw.changed() {
                let w = rw.replace(start);
                if !self.rewrite(&ev, &mut scratch, w) {
                    w.push_raw(&ev);
                }
                continue;
            }
            one.clear();
            if self.rewrite(&ev, &mut scratch, &mut one) {
                let w = rw.replace(start);
                w.buf.extend_from_slice(&one.buf);
                w.count += one.count;
            } else {
                rw.keep(&ev);
            }
        }
        rw.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_context_with, events, params};
    use weir_event::{EventTime, Events};
    use weir_parser::{ParserConfig, ParserRegistry};

    fn registry() -> ParserRegistry {
        let mut r = ParserRegistry::new();
        let mut dummy = ParserConfig::new("dummy_test", "regex");
        dummy.regex = Some(r"^(?<INT>[^ ]+) (?<FLOAT>[^ ]+) (?<BOOL>[^ ]+) (?<STRING>.+)$".into());
        r.insert(Parser::new(&dummy).unwrap());
        let mut json = ParserConfig::new("json_time", "json");
        json.time_key = Some("time".into());
        json.time_format = Some("%s".into());
        r.insert(Parser::new(&json).unwrap());
        r.insert(Parser::new(&ParserConfig::new("json", "json")).unwrap());
        r
    }

    fn make(pairs: &[(&str, &str)]) -> Result<Box<dyn Filter>, ConfigError> {
        let p = params(&DESCRIPTOR, pairs)?;
        build(&p, &build_context_with(registry()))
    }

    /// Runs the filter; returns (time seconds, body JSON) per output event.
    fn run(pairs: &[(&str, &str)], input: &[&str]) -> (FilterOutcome, Vec<(i64, String)>) {
        let f = make(pairs).unwrap();
        let batch = events(input, EventTime::new(100, 0));
        let mut out = EventWriter::new();
        let ctx = FilterContext {
            input: "i",
            input_plugin: "p",
        };
        let o = f.filter(
            Batch {
                tag: "t",
                data: &batch.buf,
                records: batch.count,
            },
            &mut out,
            &ctx,
        );
        let buf = if o == FilterOutcome::Unchanged {
            &batch.buf
        } else {
            &out.buf
        };
        let evs = Events::new(buf)
            .map(|e| {
                let e = e.unwrap();
                (
                    e.time.sec,
                    weir_event::json::to_json_string(e.body).unwrap(),
                )
            })
            .collect();
        (o, evs)
    }

    const DATA: &str = r#"{"data":"100 0.5 true This is example","key1":"value1","key2":"value2"}"#;

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn docs_examples() {
        let base = [("key_name", "data"), ("parser", "dummy_test")];
        let (_, e) = run(&base, &[DATA]);
        assert_eq!(
            e[0].1,
            r#"{"INT":"100","FLOAT":"0.5","BOOL":"true","STRING":"This is example"}"#
        );
        let (_, e) = run(&[base[0], base[1], ("reserve_data", "on")], &[DATA]);
        assert_eq!(
            e[0].1,
            r#"{"INT":"100","FLOAT":"0.5","BOOL":"true","STRING":"This is example","key1":"value1","key2":"value2"}"#
        );
        let (_, e) = run(
            &[
                base[0],
                base[1],
                ("reserve_data", "on"),
                ("preserve_key", "on"),
            ],
            &[DATA],
        );
        assert_eq!(
            e[0].1,
            r#"{"INT":"100","FLOAT":"0.5","BOOL":"true","STRING":"This is example","data":"100 0.5 true This is example","key1":"value1","key2":"value2"}"#
        );
        let (_, e) = run(&[base[0], base[1], ("preserve_key", "on")], &[DATA]);
        assert_eq!(
            e[0].1,
            r#"{"INT":"100","FLOAT":"0.5","BOOL":"true","STRING":"This is example","data":"100 0.5 true This is example"}"#
        );
    }

    #[test]
    fn first_successful_parser_wins_and_failures_pass() {
        let cfg = [
            ("key_name", "log"),
            ("parser", "dummy_test"),
            ("parser", "json"),
        ];
        let (o, e) = run(
            &cfg,
            &[
                r#"{"log":"{\"a\":1}"}"#,
                r#"{"log":"nope"}"#,
                r#"{"log":5}"#,
                r#"{"other":1}"#,
            ],
        );
        assert_eq!(o, FilterOutcome::Modified);
        let bodies: Vec<_> = e.iter().map(|(_, b)| b.as_str()).collect();
        assert_eq!(
            bodies,
            [
                r#"{"a":1}"#,
                r#"{"log":"nope"}"#,
                r#"{"log":5}"#,
                r#"{"other":1}"#
            ]
        );
        let (o, _) = run(&cfg, &[r#"{"log":"nope"}"#]);
        assert_eq!(o, FilterOutcome::Unchanged);
    }

    #[test]
    fn parsed_time_replaces_record_time() {
        let (_, e) = run(
            &[("key_name", "log"), ("parser", "json_time")],
            &[
                r#"{"log":"{\"time\":\"1700000000\",\"m\":1}"}"#,
                r#"{"log":"{\"m\":2}"}"#,
            ],
        );
        assert_eq!(e[0], (1_700_000_000, r#"{"m":1}"#.to_string()));
        assert_eq!(e[1], (100, r#"{"m":2}"#.to_string()));
    }

    #[test]
    fn nest_under_and_accessor_keys() {
        let (_, e) = run(
            &[
                ("key_name", "log"),
                ("parser", "json"),
                ("nest_under", "parsed"),
                ("reserve_data", "on"),
            ],
            &[r#"{"log":"{\"a\":1}","x":2}"#],
        );
        assert_eq!(e[0].1, r#"{"parsed":{"a":1},"x":2}"#);
        let (_, e) = run(
            &[
                ("key_name", "$k['inner']"),
                ("parser", "json"),
                ("reserve_data", "on"),
            ],
            &[r#"{"k":{"inner":"{\"a\":1}"},"x":2}"#],
        );
        assert_eq!(e[0].1, r#"{"a":1,"k":{"inner":"{\"a\":1}"},"x":2}"#);
        let (_, e) = run(
            &[
                ("key_name", "$log"),
                ("parser", "json"),
                ("reserve_data", "on"),
            ],
            &[r#"{"log":"{\"a\":1}","x":2}"#],
        );
        assert_eq!(e[0].1, r#"{"a":1,"x":2}"#);
    }

    #[test]
    fn metadata_is_kept() {
        let mut w = EventWriter::new();
        let mut body = Vec::new();
        weir_event::json::from_json(r#"{"log":"{\"a\":1}"}"#, &mut body).unwrap();
        w.push(EventTime::new(5, 6), &[0x81, 0xa1, b'm', 0x07], &body);
        let f = make(&[("key_name", "log"), ("parser", "json")]).unwrap();
        let mut out = EventWriter::new();
        let ctx = FilterContext {
            input: "i",
            input_plugin: "p",
        };
        f.filter(
            Batch {
                tag: "t",
                data: &w.buf,
                records: 1,
            },
            &mut out,
            &ctx,
        );
        let ev = Events::new(&out.buf).next().unwrap().unwrap();
        assert_eq!(ev.metadata, &[0x81, 0xa1, b'm', 0x07]);
        assert_eq!(ev.time, EventTime::new(5, 6));
    }

    #[test]
    fn config_errors() {
        let e = make(&[("key_name", "log"), ("parser", "jsn")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("key 'parser'")
                && e.contains("unknown parser 'jsn'")
                && e.contains("did you mean 'json'"),
            "{e}"
        );
        let e = make(&[("parser", "json")]).err().unwrap().to_string();
        assert!(e.contains("key_name"), "{e}");
        let e = make(&[("key_name", "$a["), ("parser", "json")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("key_name") && e.contains("record accessor"),
            "{e}"
        );
        let e = make(&[("key_name", "log")]).err().unwrap().to_string();
        assert!(e.contains("parser"), "{e}");
        assert!(make(&[
            ("key_name", "log"),
            ("parser", "json"),
            ("unescape_key", "on")
        ])
        .is_ok());
    }
}
