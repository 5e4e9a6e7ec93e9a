//! `nest`: move fields under a new map (`nest`) or bring a map's fields up a level (`lift`).
//!
//! As Fluent Bit's `filter_nest`:
//!
//! - `operation nest`: the top-level fields whose key matches a `wildcard` (exact, or a prefix
//!   when it ends with `*`) move into a map under `nest_under`, appended after the remaining
//!   fields. A record with no matching field is left alone.
//! - `operation lift`: every top-level field named `nested_under` whose value is a map is
//!   replaced by that map's fields, which come after the remaining top-level fields. A field
//!   of that name that is not a map stays as it is.
//! - `add_prefix` or `remove_prefix` (not both) rename the fields that are moved.
//!
//! Fluent Bit takes `nest_under` and `nested_under` as the same setting; so does Weir, so a
//! configuration that uses the other name still works. Keys are compared byte for byte.

use super::support;
use super::support::{encode_str, Pair, Rewrite, Wildcard};
use std::borrow::Cow;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::EventWriter;

/// `nest`'s parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("operation")
        .required()
        .desc("nest (move fields under a new map) or lift (bring a map's fields up)."),
    ParamSpec::str("wildcard")
        .multiple()
        .desc("nest: fields to move; a trailing * matches a prefix."),
    ParamSpec::str("nest_under").desc("nest: the key of the new map."),
    ParamSpec::str("nested_under").desc("lift: the key of the map whose fields are lifted."),
    ParamSpec::str("add_prefix").desc("Prefix added to the keys of the fields moved."),
    ParamSpec::str("remove_prefix")
        .desc("Prefix removed from the keys of the fields moved, when they start with it."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "nest",
    kind: PluginKind::Filter,
    description: "Nest fields under a new map, or lift a map's fields up a level.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Prefix {
    None,
    Add(Vec<u8>),
    Remove(Vec<u8>),
}

#[derive(Debug)]
enum Operation {
    Nest {
        wildcards: Vec<Wildcard>,
        under: Vec<u8>,
    },
    Lift {
        under: Vec<u8>,
    },
}

/// The built filter.
#[derive(Debug)]
pub struct Nest {
    op: Operation,
    prefix: Prefix,
}

fn build(p: &Params, _ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    Ok(Box::new(Nest::from_params(p)?))
}

impl Nest {
    fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let key = |first: &str, second: &str| {
            p.str(first)
                .or_else(|| p.str(second))
                .filter(|s| !s.is_empty())
        };
        let op_text = p.str("operation").unwrap_or("");
        let op = match op_text.to_ascii_lowercase().as_str() {
            "nest" => {
                let under = key("nest_under", "nested_under").ok_or_else(|| {
                    p.error(
                        "nest_under",
                        "operation nest needs nest_under: the key of the new map",
                    )
                })?;
                let wildcards: Vec<Wildcard> =
                    p.all("wildcard").into_iter().map(Wildcard::new).collect();
                if wildcards.is_empty() {
                    return Err(p.error("wildcard", "operation nest needs at least one wildcard"));
                }
                Operation::Nest {
                    wildcards,
                    under: under.as_bytes().to_vec(),
                }
            }
            "lift" => {
                let under = key("nested_under", "nest_under").ok_or_else(|| {
                    p.error(
                        "nested_under",
                        "operation lift needs nested_under: the key of the map to lift",
                    )
                })?;
                if p.is_set("wildcard") {
                    return Err(p.error("wildcard", "wildcard applies to operation nest, not lift"));
                }
                Operation::Lift {
                    under: under.as_bytes().to_vec(),
                }
            }
            _ => {
                return Err(p.error(
                    "operation",
                    format!("expected nest or lift, got '{op_text}'"),
                ))
            }
        };
        let prefix = match (p.str("add_prefix"), p.str("remove_prefix")) {
            (Some(_), Some(_)) => {
                return Err(p.error(
                    "remove_prefix",
                    "add_prefix and remove_prefix exclude each other",
                ))
            }
            (Some(a), None) => Prefix::Add(a.as_bytes().to_vec()),
            (None, Some(r)) => Prefix::Remove(r.as_bytes().to_vec()),
            (None, None) => Prefix::None,
        };
        Ok(Self { op, prefix })
    }

    /// The key of a moved field, with the prefix setting applied.
    fn moved_key<'a>(&self, key: Cow<'a, [u8]>) -> Cow<'a, [u8]> {
        let Some(text) = support::key_text(&key) else {
            return key;
        };
        match &self.prefix {
            Prefix::None => key,
            Prefix::Add(pre) => {
                let mut k = pre.clone();
                k.extend_from_slice(text);
                encode_str(&k).into()
            }
            Prefix::Remove(pre) => match text.strip_prefix(pre.as_slice()) {
                Some(rest) => encode_str(rest).into(),
                None => key,
            },
        }
    }

    /// The record's new pairs, or `None` when the operation does not apply to it.
    fn apply<'a>(&self, body: &'a [u8]) -> Option<Vec<Pair<'a>>> {
        let pairs = support::pairs(body)?;
        match &self.op {
            Operation::Nest { wildcards, under } => {
                let hit = |p: &Pair<'_>| {
                    p.key_bytes()
                        .is_some_and(|k| wildcards.iter().any(|w| w.matches(k)))
                };
                if !pairs.iter().any(hit) {
                    return None;
                }
                let (nested, mut top): (Vec<_>, Vec<_>) = pairs.into_iter().partition(hit);
                let nested: Vec<Pair<'_>> = nested
                    .into_iter()
                    .map(|p| Pair {
                        key: self.moved_key(p.key),
                        value: p.value,
                    })
                    .collect();
                let mut map = Vec::new();
                support::write_map(&mut map, &nested);
                top.push(Pair {
                    key: encode_str(under).into(),
                    value: map.into(),
                });
                Some(top)
            }
            Operation::Lift { under } => {
                let is_nested = |p: &Pair<'_>| {
                    p.key_bytes() == Some(under.as_slice()) && support::pairs(&p.value).is_some()
                };
                if !pairs.iter().any(is_nested) {
                    return None;
                }
                let (maps, mut top): (Vec<_>, Vec<_>) = pairs.into_iter().partition(is_nested);
                for m in maps {
                    let value: &'a [u8] = match m.value {
                        Cow::Borrowed(b) => b,
                        // Pairs split from the record borrow it.
                        Cow::Owned(_) => continue,
                    };
                    for inner in support::pairs(value).unwrap_or_default() {
                        top.push(Pair {
                            key: self.moved_key(inner.key),
                            value: inner.value,
                        });
                    }
                }
                Some(top)
            }
        }
    }
}

impl Filter for Nest {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        let mut rw = Rewrite::new(batch.data, out);
        for (start, ev) in rw.events() {
            match self.apply(ev.body) {
                Some(pairs) => support::push_with_pairs(rw.replace(start), &ev, &pairs),
                None => rw.keep(&ev),
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

    const MEM: &str = r#"{"Mem.total":4050908,"Mem.used":714984,"Mem.free":3335924,"Swap.total":1046524,"Swap.used":0,"Swap.free":1046524}"#;

    fn run(pairs: &[(&str, &str)], input: &[&str]) -> (FilterOutcome, Vec<String>) {
        run_filter(&*filter(&DESCRIPTOR, pairs).unwrap(), "t", input)
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn nest_with_remove_prefix() {
        let (_, b) = run(
            &[
                ("operation", "nest"),
                ("wildcard", "Mem.*"),
                ("nest_under", "Memstats"),
                ("remove_prefix", "Mem."),
            ],
            &[MEM],
        );
        assert_eq!(
            b[0],
            r#"{"Swap.total":1046524,"Swap.used":0,"Swap.free":1046524,"Memstats":{"total":4050908,"used":714984,"free":3335924}}"#
        );
    }

    #[test]
    fn nest_then_lift_undo() {
        let nest = filter(
            &DESCRIPTOR,
            &[
                ("operation", "nest"),
                ("wildcard", "Mem.*"),
                ("wildcard", "Swap.*"),
                ("nest_under", "Stats"),
                ("add_prefix", "NESTED"),
            ],
        )
        .unwrap();
        let (_, mid) = run_filter(&*nest, "t", &[MEM]);
        assert!(
            mid[0].starts_with(r#"{"Stats":{"NESTEDMem.total":4050908"#),
            "{}",
            mid[0]
        );
        let (_, back) = run(
            &[
                ("operation", "lift"),
                ("nested_under", "Stats"),
                ("remove_prefix", "NESTED"),
            ],
            &[&mid[0]],
        );
        assert_eq!(back[0], MEM);
    }

    #[test]
    fn exact_wildcard_and_no_match() {
        let (_, b) = run(
            &[
                ("operation", "nest"),
                ("wildcard", "a"),
                ("nest_under", "n"),
            ],
            &[r#"{"a":1,"ab":2}"#],
        );
        assert_eq!(b[0], r#"{"ab":2,"n":{"a":1}}"#);
        let (o, _) = run(
            &[
                ("operation", "nest"),
                ("wildcard", "zz*"),
                ("nest_under", "n"),
            ],
            &[r#"{"a":1}"#],
        );
        assert_eq!(o, FilterOutcome::Unchanged);
    }

    #[test]
    fn lift_skips_non_maps_and_lifts_all_matches() {
        let (_, b) = run(
            &[
                ("operation", "lift"),
                ("nested_under", "n"),
                ("add_prefix", "p_"),
            ],
            &[r#"{"n":{"a":1,"b":{"c":2}},"x":1}"#],
        );
        assert_eq!(b[0], r#"{"x":1,"p_a":1,"p_b":{"c":2}}"#);
        let (o, _) = run(
            &[("operation", "lift"), ("nested_under", "n")],
            &[r#"{"n":"text"}"#],
        );
        assert_eq!(o, FilterOutcome::Unchanged);
    }

    #[test]
    fn nested_under_and_nest_under_are_interchangeable() {
        let (_, b) = run(
            &[("operation", "LIFT"), ("nest_under", "n")],
            &[r#"{"n":{"a":1}}"#],
        );
        assert_eq!(b[0], r#"{"a":1}"#);
    }

    #[test]
    fn config_errors() {
        let e = |pairs: &[(&str, &str)]| filter(&DESCRIPTOR, pairs).err().unwrap().to_string();
        assert!(e(&[("operation", "squash")]).contains("expected nest or lift"));
        assert!(e(&[("operation", "nest"), ("wildcard", "a")]).contains("nest_under"));
        assert!(e(&[("operation", "nest"), ("nest_under", "a")]).contains("wildcard"));
        assert!(e(&[("operation", "lift")]).contains("nested_under"));
        assert!(e(&[
            ("operation", "lift"),
            ("nested_under", "a"),
            ("add_prefix", "x"),
            ("remove_prefix", "y")
        ])
        .contains("exclude each other"));
        assert!(e(&[("wildcard", "a")]).contains("missing required parameter 'operation'"));
    }

    proptest! {
        #[test]
        fn keeps_count_and_never_panics(keys in proptest::collection::vec("[a-c]{1,2}", 0..6)) {
            let body = format!("{{{}}}", keys.iter().enumerate().map(|(i, k)| format!("\"{k}\":{{\"{k}\":{i}}}")).collect::<Vec<_>>().join(","));
            for cfg in [&[("operation", "nest"), ("wildcard", "a*"), ("nest_under", "a")][..], &[("operation", "lift"), ("nested_under", "b"), ("remove_prefix", "b")]] {
                let (_, out) = run(cfg, &[&body, &body]);
                prop_assert_eq!(out.len(), 2);
            }
        }
    }
}
