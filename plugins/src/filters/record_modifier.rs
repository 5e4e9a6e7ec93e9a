//! `record_modifier`: append fixed fields to records, or keep or remove fields by name.
//!
//! As Fluent Bit's `filter_record_modifier`:
//!
//! - `remove_key` drops the fields it names; `allowlist_key` (or its old name
//!   `whitelist_key`) drops every field it does not name. The two exclude each other. Names
//!   compare without regard to ASCII case, and a trailing `*` matches any field that starts
//!   with the text before it.
//! - Then every `record KEY VALUE` is appended as a string field, in order, whether or not the
//!   record already has `KEY` (as Fluent Bit, which can leave a key twice), and `uuid_key`
//!   appends a random UUID (version 4) under that key.
//! - A record left with no field at all is dropped, as in Fluent Bit.
//!
//! A record whose body is not a map passes unchanged (Fluent Bit drops it).
//!
//! With only `record` and `uuid_key`, new fields are appended to the record's bytes as they
//! are; nothing else is rewritten.

use super::support;
use super::support::{encode_str, Pair, Rewrite, Wildcard};
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::view::read_map_len;
use weir_event::{value, EventWriter};

/// `record_modifier`'s parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::space_list("record")
        .multiple()
        .desc("KEY VALUE: append the field KEY with the string VALUE."),
    ParamSpec::str("remove_key")
        .multiple()
        .desc("Remove this field (a trailing * matches a prefix)."),
    ParamSpec::str("allowlist_key")
        .multiple()
        .desc("Keep this field and drop the fields not listed (a trailing * matches a prefix)."),
    ParamSpec::str("whitelist_key")
        .multiple()
        .desc("Old name of allowlist_key."),
    ParamSpec::str("uuid_key").desc("Append a random UUID (version 4) under this key."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "record_modifier",
    kind: PluginKind::Filter,
    description: "Append fields to records, or keep or remove fields by name.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

#[derive(Debug)]
enum KeyFilter {
    None,
    Remove(Vec<Wildcard>),
    Allow(Vec<Wildcard>),
}

/// The built filter.
#[derive(Debug)]
pub struct RecordModifier {
    keys: KeyFilter,
    /// Encoded `key, value` pairs to append.
    records: Vec<u8>,
    record_count: usize,
    uuid_key: Option<Vec<u8>>,
}

fn build(p: &Params, _ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    Ok(Box::new(RecordModifier::from_params(p)?))
}

impl RecordModifier {
    fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let list = |key: &str| {
            p.all(key)
                .into_iter()
                .map(Wildcard::new)
                .collect::<Vec<_>>()
        };
        let remove = list("remove_key");
        let mut allow = list("allowlist_key");
        allow.extend(list("whitelist_key"));
        let keys = match (remove.is_empty(), allow.is_empty()) {
            (true, true) => KeyFilter::None,
            (false, true) => KeyFilter::Remove(remove),
            (true, false) => KeyFilter::Allow(allow),
            (false, false) => {
                let key = if p.is_set("allowlist_key") {
                    "allowlist_key"
                } else {
                    "whitelist_key"
                };
                return Err(p.error(
                    key,
                    "remove_key and allowlist_key exclude each other: use one of them",
                ));
            }
        };
        let mut records = Vec::new();
        let mut record_count = 0;
        for v in p.all("record") {
            let (k, v) = support::key_value(v)
                .ok_or_else(|| p.error("record", format!("expected KEY VALUE, got '{v}'")))?;
            records.extend_from_slice(&encode_str(k.as_bytes()));
            records.extend_from_slice(&encode_str(v.as_bytes()));
            record_count += 1;
        }
        let uuid_key = match p.str("uuid_key") {
            Some("") => return Err(p.error("uuid_key", "expected a key name")),
            Some(k) => Some(encode_str(k.as_bytes())),
            None => None,
        };
        Ok(Self {
            keys,
            records,
            record_count,
            uuid_key,
        })
    }

    fn appended(&self) -> usize {
        self.record_count + usize::from(self.uuid_key.is_some())
    }

    fn write_appended(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.records);
        if let Some(k) = &self.uuid_key {
            out.extend_from_slice(k);
            let id = uuid::Uuid::new_v4();
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            support::write_str_bytes(out, id.hyphenated().encode_lower(&mut text).as_bytes());
        }
    }

    fn keep_pair(&self, p: &Pair<'_>) -> bool {
        match &self.keys {
            KeyFilter::None => true,
            KeyFilter::Remove(list) => !p
                .key_bytes()
                .is_some_and(|k| list.iter().any(|w| w.matches_ignore_case(k))),
            KeyFilter::Allow(list) => p
                .key_bytes()
                .is_some_and(|k| list.iter().any(|w| w.matches_ignore_case(k))),
        }
    }
}

/// What happens to one record.
enum Outcome {
    Keep,
    Drop,
    Replaced,
}

impl RecordModifier {
    fn rewrite(&self, body: &[u8], head: &[u8], out: &mut EventWriter) -> Outcome {
        if let KeyFilter::None = self.keys {
            // Only appends: the record's own bytes stay as they are.
            let Ok((len, first)) = read_map_len(body, 0) else {
                return Outcome::Keep;
            };
            if self.appended() == 0 {
                return Outcome::Keep;
            }
            out.buf.extend_from_slice(head);
            value::write_map_len(&mut out.buf, len + self.appended());
            out.buf.extend_from_slice(&body[first..]);
            self.write_appended(&mut out.buf);
            out.count += 1;
            return Outcome::Replaced;
        }
        let Some(pairs) = support::pairs(body) else {
            return Outcome::Keep;
        };
        let before = pairs.len();
        let kept: Vec<_> = pairs.into_iter().filter(|p| self.keep_pair(p)).collect();
        if kept.len() == before && self.appended() == 0 {
            return Outcome::Keep;
        }
        if kept.is_empty() && self.appended() == 0 {
            return Outcome::Drop;
        }
        out.buf.extend_from_slice(head);
        value::write_map_len(&mut out.buf, kept.len() + self.appended());
        for p in &kept {
            out.buf.extend_from_slice(&p.key);
            out.buf.extend_from_slice(&p.value);
        }
        self.write_appended(&mut out.buf);
        out.count += 1;
        Outcome::Replaced
    }
}

impl Filter for RecordModifier {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        if matches!(self.keys, KeyFilter::None) && self.appended() == 0 {
            return FilterOutcome::Unchanged;
        }
        let mut rw = Rewrite::new(batch.data, out);
        let mut scratch = EventWriter::new();
        for (start, ev) in rw.events() {
            if rw.changed() {
                // Output has started: write straight into it.
                let w = rw.replace(start);
                if let Outcome::Keep = self.rewrite(ev.body, support::head(&ev), w) {
                    w.push_raw(&ev);
                }
                continue;
            }
            scratch.clear();
            match self.rewrite(ev.body, support::head(&ev), &mut scratch) {
                Outcome::Keep => rw.keep(&ev),
                Outcome::Drop => rw.drop_event(start),
                Outcome::Replaced => {
                    let w = rw.replace(start);
                    w.buf.extend_from_slice(&scratch.buf);
                    w.count += scratch.count;
                }
            }
        }
        rw.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{filter, run_filter};
    use proptest::prelude::*;

    const MEM: &str = r#"{"Mem.total":1016024,"Mem.used":716672,"Mem.free":299352,"Swap.total":2064380,"Swap.used":32656,"Swap.free":2031724}"#;

    fn run(pairs: &[(&str, &str)], input: &[&str]) -> (FilterOutcome, Vec<String>) {
        run_filter(&*filter(&DESCRIPTOR, pairs).unwrap(), "t", input)
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn appends_records() {
        let (o, b) = run(
            &[
                ("record", "hostname localhost.localdomain"),
                ("record", "product Awesome_Tool"),
            ],
            &[MEM],
        );
        assert_eq!(o, FilterOutcome::Modified);
        assert_eq!(
            b[0],
            r#"{"Mem.total":1016024,"Mem.used":716672,"Mem.free":299352,"Swap.total":2064380,"Swap.used":32656,"Swap.free":2031724,"hostname":"localhost.localdomain","product":"Awesome_Tool"}"#
        );
        let (_, b) = run(&[("record", "msg \"two words\"")], &["{}"]);
        assert_eq!(b[0], r#"{"msg":"two words"}"#);
        let (_, b) = run(&[("record", "a x")], &[r#"{"a":1}"#]);
        assert_eq!(
            b[0], r#"{"a":1,"a":"x"}"#,
            "appended even when present, as Fluent Bit"
        );
    }

    #[test]
    fn removes_keys() {
        let (_, b) = run(
            &[
                ("remove_key", "Swap.total"),
                ("remove_key", "swap.USED"),
                ("remove_key", "Swap.free"),
            ],
            &[MEM],
        );
        assert_eq!(
            b[0],
            r#"{"Mem.total":1016024,"Mem.used":716672,"Mem.free":299352}"#
        );
        let (_, b) = run(&[("remove_key", "Swap*")], &[MEM]);
        assert_eq!(
            b[0],
            r#"{"Mem.total":1016024,"Mem.used":716672,"Mem.free":299352}"#
        );
        let (o, _) = run(&[("remove_key", "nope")], &[MEM]);
        assert_eq!(o, FilterOutcome::Unchanged);
    }

    #[test]
    fn allowlist_keys() {
        let (_, b) = run(
            &[
                ("allowlist_key", "Mem.total"),
                ("allowlist_key", "Mem.used"),
                ("whitelist_key", "Mem.free"),
            ],
            &[MEM],
        );
        assert_eq!(
            b[0],
            r#"{"Mem.total":1016024,"Mem.used":716672,"Mem.free":299352}"#
        );
        let (_, b) = run(&[("allowlist_key", "Mem*"), ("record", "r 1")], &[MEM]);
        assert_eq!(
            b[0],
            r#"{"Mem.total":1016024,"Mem.used":716672,"Mem.free":299352,"r":"1"}"#
        );
    }

    #[test]
    fn empty_records_are_dropped() {
        let (o, b) = run(&[("allowlist_key", "nothing")], &[MEM, r#"{"nothing":1}"#]);
        assert_eq!(o, FilterOutcome::Modified);
        assert_eq!(b, [r#"{"nothing":1}"#]);
    }

    #[test]
    fn uuid_key() {
        let (_, b) = run(&[("uuid_key", "id")], &["{}", "{}"]);
        let ids: Vec<String> = b
            .iter()
            .map(|r| {
                serde_json::from_str::<serde_json::Value>(r).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids[0].len(), 36);
        assert_ne!(ids[0], ids[1]);
        assert!(uuid::Uuid::parse_str(&ids[0]).is_ok());
    }

    #[test]
    fn non_map_bodies_pass() {
        let mut w = EventWriter::new();
        w.push(weir_event::EventTime::new(1, 0), &[], &[0x91, 0x01]);
        let f = filter(&DESCRIPTOR, &[("remove_key", "a")]).unwrap();
        let mut out = EventWriter::new();
        let ctx = FilterContext {
            input: "i",
            input_plugin: "p",
        };
        assert_eq!(
            f.filter(
                Batch {
                    tag: "t",
                    data: &w.buf,
                    records: 1
                },
                &mut out,
                &ctx
            ),
            FilterOutcome::Unchanged
        );
    }

    #[test]
    fn config_errors() {
        let e = filter(&DESCRIPTOR, &[("remove_key", "a"), ("allowlist_key", "b")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("exclude each other") && e.contains("allowlist_key"),
            "{e}"
        );
        assert!(filter(&DESCRIPTOR, &[("record", "lonely")]).is_err());
        assert!(filter(&DESCRIPTOR, &[("uuid_key", "")]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(keys in proptest::collection::vec("[a-c]{1,2}", 0..6)) {
            let body = format!("{{{}}}", keys.iter().enumerate().map(|(i, k)| format!("\"{k}\":{i}")).collect::<Vec<_>>().join(","));
            for cfg in [&[("remove_key", "a*")][..], &[("allowlist_key", "b"), ("record", "x y")], &[("record", "k v")]] {
                let (_, out) = run(cfg, &[&body]);
                prop_assert!(out.len() <= 1);
            }
        }
    }
}
