//! `modify`: change records with rules (`set`, `add`, `remove`, `rename`, `copy`...) applied
//! only when every `condition` holds.
//!
//! Behaviour follows Fluent Bit's `filter_modify`:
//!
//! - Conditions are checked once per record, on the record as it arrived; all must hold for
//!   any rule to apply. Condition keys may be record accessors (`$a['b']`); plain keys are
//!   taken literally.
//! - Rules apply one after the other in the order they are written, each to the result of the
//!   previous one. Rule keys are plain top-level keys, compared byte for byte with string (or
//!   binary) keys.
//! - `set` removes every pair with the key and appends the new one at the end; `add` appends
//!   only when the key is absent; `rename` and `hard_rename` keep the pair's position; `copy`
//!   and `hard_copy` put the copy right after the source and need exactly one source key.
//! - `remove_wildcard`, `move_to_start` and `move_to_end` match keys that start with the given
//!   text (a trailing `*` is allowed and means the same); `remove_regex` and the regex
//!   conditions match string keys and string values (and booleans, as `true`/`false`);
//!   `key_value_equals` compares string values only, so a number never equals anything.
//!
//! Where Weir differs, on purpose: `hard_rename a a` and `hard_copy a a` do nothing (Fluent
//! Bit drops the key); a rule value of several words (`add msg hello world`) is taken as
//! written, where Fluent Bit wants quotes.
//!
//! Performance: records are rewritten on their encoded pairs, values are never decoded. When
//! every rule is `add` or `set` and none of their keys is in the record, the new pairs are
//! appended to the record's bytes with no per-pair work.

use super::support;
use super::support::{encode_str, key_text, str_text, Pair, Rewrite, Wildcard};
use weir_config::{ConfigError, Location, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::accessor::RecordAccessor;
use weir_event::view::{read_map_len, read_scalar, MapIter, Scalar};
use weir_event::{value, EventWriter};
use weir_parser::regex::Pattern;

/// `modify`'s parameters. Every rule may be given any number of times.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::space_list("set").multiple().desc("KEY VALUE: set KEY to VALUE, replacing it if it exists."),
    ParamSpec::space_list("add").multiple().desc("KEY VALUE: add KEY with VALUE if KEY does not exist."),
    ParamSpec::space_list("add_if_not_present").multiple().deprecated().desc("Old name of add."),
    ParamSpec::str("remove").multiple().desc("KEY: remove KEY if it exists."),
    ParamSpec::str("remove_wildcard").multiple().desc("PREFIX: remove every key that starts with PREFIX."),
    ParamSpec::str("remove_regex").multiple().desc("REGEX: remove every key that matches REGEX."),
    ParamSpec::str("move_to_start").multiple().desc("PREFIX: move the keys that start with PREFIX to the start."),
    ParamSpec::str("move_to_end").multiple().desc("PREFIX: move the keys that start with PREFIX to the end."),
    ParamSpec::space_list("rename").multiple().desc("KEY NEW: rename KEY to NEW if KEY exists and NEW does not."),
    ParamSpec::space_list("hard_rename").multiple().desc("KEY NEW: rename KEY to NEW if KEY exists, replacing NEW."),
    ParamSpec::space_list("copy").multiple().desc("KEY NEW: copy KEY to NEW if KEY exists and NEW does not."),
    ParamSpec::space_list("hard_copy").multiple().desc("KEY NEW: copy KEY to NEW if KEY exists, replacing NEW."),
    ParamSpec::str("condition").multiple().desc(
        "TYPE KEY [VALUE]: rules apply only when every condition holds. Types: key_exists, key_does_not_exist, \
         a_key_matches, no_key_matches, key_value_equals, key_value_does_not_equal, key_value_matches, \
         key_value_does_not_match, matching_keys_have_matching_values, matching_keys_do_not_have_matching_values.",
    ),
];

/// The parameters that are rules (every other one is a condition).
const RULE_PARAMS: &[&str] = &[
    "set",
    "add",
    "add_if_not_present",
    "remove",
    "remove_wildcard",
    "remove_regex",
    "move_to_start",
    "move_to_end",
    "rename",
    "hard_rename",
    "copy",
    "hard_copy",
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "modify",
    kind: PluginKind::Filter,
    description: "Change records with rules applied when conditions hold.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

/// The condition types, lowercase.
const CONDITIONS: &[&str] = &[
    "key_exists",
    "key_does_not_exist",
    "a_key_matches",
    "no_key_matches",
    "key_value_equals",
    "key_value_does_not_equal",
    "key_value_matches",
    "key_value_does_not_match",
    "matching_keys_have_matching_values",
    "matching_keys_do_not_have_matching_values",
];

#[derive(Debug)]
enum Condition {
    KeyExists(RecordAccessor),
    KeyDoesNotExist(RecordAccessor),
    AKeyMatches(Pattern),
    NoKeyMatches(Pattern),
    KeyValueEquals(RecordAccessor, Vec<u8>),
    KeyValueDoesNotEqual(RecordAccessor, Vec<u8>),
    KeyValueMatches(RecordAccessor, Pattern),
    KeyValueDoesNotMatch(RecordAccessor, Pattern),
    MatchingKeysHaveMatchingValues(Pattern, Pattern),
    MatchingKeysDoNotHaveMatchingValues(Pattern, Pattern),
}

/// The text a value offers to a regex condition: strings, and booleans as `true`/`false`
/// (Fluent Bit's `helper_msgpack_object_matches_regex`).
fn regex_text(v: &[u8]) -> Option<&[u8]> {
    match read_scalar(v) {
        Scalar::Bool(true) => Some(b"true"),
        Scalar::Bool(false) => Some(b"false"),
        _ => str_text(v),
    }
}

impl Condition {
    fn parse(p: &Params, text: &str) -> Result<Self, ConfigError> {
        let err = |msg: String| p.error("condition", msg);
        let words = weir_config::values::split_words(text, 2);
        let Some(kind) = words.first() else {
            return Err(err("expected TYPE KEY [VALUE]".into()));
        };
        let kind = kind.to_ascii_lowercase();
        if !CONDITIONS.contains(&kind.as_str()) {
            return Err(err(format!(
                "unknown condition '{}': expected one of {}",
                words[0],
                CONDITIONS.join(", ")
            )));
        }
        let one = matches!(
            kind.as_str(),
            "key_exists" | "key_does_not_exist" | "a_key_matches" | "no_key_matches"
        );
        let want = if one { 2 } else { 3 };
        if words.len() != want {
            let args = if one {
                "one argument (KEY)"
            } else {
                "two arguments (KEY VALUE)"
            };
            return Err(err(format!("condition {kind} takes {args}, got '{text}'")));
        }
        let a = words[1].as_str();
        let b = words.get(2).map(String::as_str).unwrap_or("");
        let ra = || RecordAccessor::parse_or_key(a).map_err(|e| err(e.to_string()));
        let re = |s: &str| Pattern::new(s).map_err(|e| err(format!("'{s}': {e}")));
        Ok(match kind.as_str() {
            "key_exists" => Condition::KeyExists(ra()?),
            "key_does_not_exist" => Condition::KeyDoesNotExist(ra()?),
            "a_key_matches" => Condition::AKeyMatches(re(a)?),
            "no_key_matches" => Condition::NoKeyMatches(re(a)?),
            "key_value_equals" => Condition::KeyValueEquals(ra()?, b.as_bytes().to_vec()),
            "key_value_does_not_equal" => {
                Condition::KeyValueDoesNotEqual(ra()?, b.as_bytes().to_vec())
            }
            "key_value_matches" => Condition::KeyValueMatches(ra()?, re(b)?),
            "key_value_does_not_match" => Condition::KeyValueDoesNotMatch(ra()?, re(b)?),
            "matching_keys_have_matching_values" => {
                Condition::MatchingKeysHaveMatchingValues(re(a)?, re(b)?)
            }
            "matching_keys_do_not_have_matching_values" => {
                Condition::MatchingKeysDoNotHaveMatchingValues(re(a)?, re(b)?)
            }
            _ => return Err(err(format!("unknown condition '{}'", words[0]))),
        })
    }

    /// Evaluates the condition on an encoded record body.
    fn holds(&self, body: &[u8]) -> bool {
        let equals =
            |ra: &RecordAccessor, want: &[u8]| ra.get(body).and_then(key_text) == Some(want);
        let matches = |ra: &RecordAccessor, re: &Pattern| {
            ra.get(body)
                .and_then(regex_text)
                .is_some_and(|s| re.is_match(s))
        };
        match self {
            Condition::KeyExists(ra) => ra.get(body).is_some(),
            Condition::KeyDoesNotExist(ra) => ra.get(body).is_none(),
            Condition::AKeyMatches(re) => any_key_matches(body, re),
            Condition::NoKeyMatches(re) => !any_key_matches(body, re),
            Condition::KeyValueEquals(ra, v) => equals(ra, v),
            Condition::KeyValueDoesNotEqual(ra, v) => ra.get(body).is_some() && !equals(ra, v),
            Condition::KeyValueMatches(ra, re) => matches(ra, re),
            Condition::KeyValueDoesNotMatch(ra, re) => ra.get(body).is_some() && !matches(ra, re),
            Condition::MatchingKeysHaveMatchingValues(k, v) => matching_keys_match(body, k, v),
            Condition::MatchingKeysDoNotHaveMatchingValues(k, v) => {
                !matching_keys_match(body, k, v)
            }
        }
    }
}

fn entries(body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    MapIter::new(body)
        .into_iter()
        .flatten()
        .map_while(Result::ok)
        .map(|e| (e.key, e.value))
}

fn any_key_matches(body: &[u8], re: &Pattern) -> bool {
    entries(body).any(|(k, _)| str_text(k).is_some_and(|k| re.is_match(k)))
}

fn matching_keys_match(body: &[u8], keys: &Pattern, values: &Pattern) -> bool {
    entries(body)
        .filter(|(k, _)| str_text(k).is_some_and(|k| keys.is_match(k)))
        .all(|(_, v)| regex_text(v).is_some_and(|v| values.is_match(v)))
}

/// An encoded key and an encoded value, ready to append to a map.
type EncodedPair = (Vec<u8>, Vec<u8>);

/// One rule, with its keys and values already encoded where they are written out.
#[derive(Debug)]
enum Rule {
    Set { key: Vec<u8>, pair: EncodedPair },
    Add { key: Vec<u8>, pair: EncodedPair },
    Remove(Vec<u8>),
    RemoveWildcard(Wildcard),
    RemoveRegex(Pattern),
    MoveToStart(Wildcard),
    MoveToEnd(Wildcard),
    Rename { from: Vec<u8>, to: Vec<u8> },
    HardRename { from: Vec<u8>, to: Vec<u8> },
    Copy { from: Vec<u8>, to: Vec<u8> },
    HardCopy { from: Vec<u8>, to: Vec<u8> },
}

impl Rule {
    fn parse(
        p: &Params,
        param: &'static str,
        text: &str,
        at: &Location,
    ) -> Result<Self, ConfigError> {
        // Point at the rule's own line: a rule kind may be written many times.
        let err = |msg: String| {
            ConfigError::at(at, msg)
                .with_section(p.what())
                .with_key(param)
        };
        let two = || {
            support::key_value(text).ok_or_else(|| err(format!("expected KEY VALUE, got '{text}'")))
        };
        let one = || {
            let words = weir_config::values::split_words(text, 0);
            match <[String; 1]>::try_from(words) {
                Ok([w]) => Ok(w),
                Err(_) => Err(err(format!("expected one KEY, got '{text}'"))),
            }
        };
        let strings = |(k, v): (String, String)| (k.into_bytes(), v.into_bytes());
        Ok(match param {
            "set" | "add" | "add_if_not_present" => {
                let (k, v) = strings(two()?);
                let pair = (encode_str(&k), encode_str(&v));
                if param == "set" {
                    Rule::Set { key: k, pair }
                } else {
                    Rule::Add { key: k, pair }
                }
            }
            "remove" => Rule::Remove(one()?.into_bytes()),
            "remove_wildcard" => Rule::RemoveWildcard(Wildcard::prefix(&one()?)),
            "move_to_start" => Rule::MoveToStart(Wildcard::prefix(&one()?)),
            "move_to_end" => Rule::MoveToEnd(Wildcard::prefix(&one()?)),
            "remove_regex" => {
                let r = one()?;
                Rule::RemoveRegex(Pattern::new(&r).map_err(|e| err(format!("'{r}': {e}")))?)
            }
            _ => {
                let (from, to) = strings(two()?);
                match param {
                    "rename" => Rule::Rename { from, to },
                    "hard_rename" => Rule::HardRename { from, to },
                    "copy" => Rule::Copy { from, to },
                    _ => Rule::HardCopy { from, to },
                }
            }
        })
    }

    /// Applies the rule to a record's pairs; returns whether it changed them.
    fn apply(&self, pairs: &mut Vec<Pair<'_>>) -> bool {
        let is = |p: &Pair<'_>, k: &[u8]| p.key_bytes() == Some(k);
        let count = |pairs: &[Pair<'_>], k: &[u8]| pairs.iter().filter(|p| is(p, k)).count();
        let new_key = |k: &[u8]| -> std::borrow::Cow<'static, [u8]> { encode_str(k).into() };
        match self {
            Rule::Set { key, pair } => {
                pairs.retain(|p| !is(p, key));
                pairs.push(Pair {
                    key: pair.0.clone().into(),
                    value: pair.1.clone().into(),
                });
                true
            }
            Rule::Add { key, pair } => {
                if pairs.iter().any(|p| is(p, key)) {
                    return false;
                }
                pairs.push(Pair {
                    key: pair.0.clone().into(),
                    value: pair.1.clone().into(),
                });
                true
            }
            Rule::Remove(key) => remove_where(pairs, |p| is(p, key)),
            Rule::RemoveWildcard(w) => {
                remove_where(pairs, |p| p.key_bytes().is_some_and(|k| w.matches(k)))
            }
            Rule::RemoveRegex(re) => {
                remove_where(pairs, |p| str_text(&p.key).is_some_and(|k| re.is_match(k)))
            }
            Rule::MoveToStart(w) | Rule::MoveToEnd(w) => {
                let hit = |p: &Pair<'_>| p.key_bytes().is_some_and(|k| w.matches(k));
                if !pairs.iter().any(hit) {
                    return false;
                }
                let (mut hits, rest): (Vec<_>, Vec<_>) = pairs.drain(..).partition(hit);
                if matches!(self, Rule::MoveToStart(_)) {
                    hits.extend(rest);
                    *pairs = hits;
                } else {
                    pairs.extend(rest);
                    pairs.extend(hits);
                }
                true
            }
            Rule::Rename { from, to } => {
                if count(pairs, from) == 0 || count(pairs, to) > 0 {
                    return false;
                }
                pairs
                    .iter_mut()
                    .filter(|p| is(p, from))
                    .for_each(|p| p.key = new_key(to));
                true
            }
            Rule::HardRename { from, to } => {
                if from == to || count(pairs, from) == 0 {
                    return false;
                }
                pairs.retain(|p| !is(p, to));
                pairs
                    .iter_mut()
                    .filter(|p| is(p, from))
                    .for_each(|p| p.key = new_key(to));
                true
            }
            Rule::Copy { from, to } | Rule::HardCopy { from, to } => {
                let hard = matches!(self, Rule::HardCopy { .. });
                let conflicts = count(pairs, to);
                if from == to || count(pairs, from) != 1 || conflicts > usize::from(hard) {
                    return false;
                }
                pairs.retain(|p| !is(p, to));
                let Some(at) = pairs.iter().position(|p| is(p, from)) else {
                    return false;
                };
                let copy = Pair {
                    key: new_key(to),
                    value: pairs[at].value.clone(),
                };
                pairs.insert(at + 1, copy);
                true
            }
        }
    }
}

fn remove_where(pairs: &mut Vec<Pair<'_>>, f: impl Fn(&Pair<'_>) -> bool) -> bool {
    let before = pairs.len();
    pairs.retain(|p| !f(p));
    pairs.len() != before
}

/// The built filter.
#[derive(Debug)]
pub struct Modify {
    conditions: Vec<Condition>,
    rules: Vec<Rule>,
    /// Every rule is `add` or `set`: the append fast path may apply.
    append_only: bool,
}

fn build(p: &Params, _ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    Ok(Box::new(Modify::from_params(p)?))
}

impl Modify {
    fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let conditions = p
            .all("condition")
            .into_iter()
            .map(|c| Condition::parse(p, c))
            .collect::<Result<Vec<_>, _>>()?;
        // Fluent Bit applies rules in the order they are written, whatever their kinds.
        let rules = p
            .entries()
            .filter_map(|(param, v, at)| {
                let param = RULE_PARAMS.iter().copied().find(|&r| r == param)?;
                Some(Rule::parse(p, param, v, at))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let append_only = rules
            .iter()
            .all(|r| matches!(r, Rule::Set { .. } | Rule::Add { .. }));
        Ok(Self {
            conditions,
            rules,
            append_only,
        })
    }

    /// Appends the record rewritten with the rules, or returns false if the rules change nothing.
    fn rewrite(&self, body: &[u8], head: &[u8], out: &mut EventWriter) -> bool {
        if self.append_only {
            if let Some(done) = self.try_append(body, head, out) {
                return done;
            }
        }
        let Some(mut pairs) = support::pairs(body) else {
            return false;
        };
        let mut changed = false;
        for rule in &self.rules {
            changed |= rule.apply(&mut pairs);
        }
        if changed {
            out.buf.extend_from_slice(head);
            support::write_map(&mut out.buf, &pairs);
            out.count += 1;
        }
        changed
    }

    /// The fast path for `add`/`set` rules whose keys are all absent from the record: the new
    /// pairs go after the record's own bytes. `None` when it does not apply.
    fn try_append(&self, body: &[u8], head: &[u8], out: &mut EventWriter) -> Option<bool> {
        fn key_of(r: &Rule) -> Option<&[u8]> {
            match r {
                Rule::Set { key, .. } | Rule::Add { key, .. } => Some(key.as_slice()),
                _ => None,
            }
        }
        let (len, first) = read_map_len(body, 0).ok()?;
        let present = support::any_key(body, |k| self.rules.iter().any(|r| key_of(r) == Some(k)))?;
        if present {
            return None;
        }
        // The rules only see each other's pairs here: later `set`s replace, later `add`s skip.
        let mut added: Vec<(&[u8], &EncodedPair)> = Vec::with_capacity(self.rules.len());
        for r in &self.rules {
            match r {
                Rule::Set { key, pair } => {
                    added.retain(|(k, _)| *k != key.as_slice());
                    added.push((key, pair));
                }
                Rule::Add { key, pair } => {
                    if !added.iter().any(|(k, _)| *k == key.as_slice()) {
                        added.push((key, pair));
                    }
                }
                _ => return None,
            }
        }
        if added.is_empty() {
            return Some(false);
        }
        out.buf.extend_from_slice(head);
        value::write_map_len(&mut out.buf, len + added.len());
        out.buf.extend_from_slice(&body[first..]);
        for (_, (k, v)) in added {
            out.buf.extend_from_slice(k);
            out.buf.extend_from_slice(v);
        }
        out.count += 1;
        Some(true)
    }
}

impl Filter for Modify {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        if self.rules.is_empty() {
            return FilterOutcome::Unchanged;
        }
        let mut rw = Rewrite::new(batch.data, out);
        let mut scratch = EventWriter::new();
        for (start, ev) in rw.events() {
            if !self.conditions.iter().all(|c| c.holds(ev.body)) {
                rw.keep(&ev);
                continue;
            }
            if rw.changed() {
                // Output has started: write straight into it.
                let w = rw.replace(start);
                if !self.rewrite(ev.body, support::head(&ev), w) {
                    w.push_raw(&ev);
                }
                continue;
            }
            scratch.clear();
            if self.rewrite(ev.body, support::head(&ev), &mut scratch) {
                let w = rw.replace(start);
                w.buf.extend_from_slice(&scratch.buf);
                w.count += scratch.count;
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
    use crate::testing::{filter, run_filter};
    use proptest::prelude::*;

    fn run(pairs: &[(&str, &str)], input: &[&str]) -> Vec<String> {
        run_filter(&*filter(&DESCRIPTOR, pairs).unwrap(), "t", input).1
    }

    fn one(pairs: &[(&str, &str)], input: &str) -> String {
        run(pairs, &[input]).remove(0)
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn docs_example_add_and_rename() {
        let rec =
            r#"{"Mem.total":1016044,"Mem.used":841388,"Mem.free":174656,"Swap.total":2064380}"#;
        let got = one(
            &[
                ("add", "Service1 SOMEVALUE"),
                ("add", "Service3 SOMEVALUE3"),
                ("add", "Mem.total2 TOTALMEM2"),
                ("rename", "Mem.free MEMFREE"),
                ("rename", "Mem.used MEMUSED"),
                ("rename", "Swap.total SWAPTOTAL"),
                ("add", "Mem.total TOTALMEM"),
            ],
            rec,
        );
        assert_eq!(
            got,
            r#"{"Mem.total":1016044,"MEMUSED":841388,"MEMFREE":174656,"SWAPTOTAL":2064380,"Service1":"SOMEVALUE","Service3":"SOMEVALUE3","Mem.total2":"TOTALMEM2"}"#
        );
    }

    #[test]
    fn set_replaces_and_moves_to_end() {
        assert_eq!(
            one(&[("set", "a X")], r#"{"a":1,"b":2}"#),
            r#"{"b":2,"a":"X"}"#
        );
        assert_eq!(one(&[("set", "c X")], r#"{"a":1}"#), r#"{"a":1,"c":"X"}"#);
        assert_eq!(
            one(&[("set", "c X"), ("set", "c Y")], r#"{"a":1}"#),
            r#"{"a":1,"c":"Y"}"#
        );
        assert_eq!(
            one(&[("add", "c X"), ("add", "c Y")], r#"{"a":1}"#),
            r#"{"a":1,"c":"X"}"#
        );
        assert_eq!(
            one(&[("set", "msg \"two words\"")], r#"{}"#),
            r#"{"msg":"two words"}"#
        );
        assert_eq!(
            one(&[("add", "msg two words")], r#"{}"#),
            r#"{"msg":"two words"}"#
        );
    }

    #[test]
    fn add_of_present_key_is_unchanged() {
        let f = filter(&DESCRIPTOR, &[("add", "a X")]).unwrap();
        assert_eq!(
            run_filter(&*f, "t", &[r#"{"a":1}"#]).0,
            FilterOutcome::Unchanged
        );
        assert_eq!(
            run_filter(&*f, "t", &[r#"{"a":1}"#, r#"{"b":1}"#]).1,
            [r#"{"a":1}"#, r#"{"b":1,"a":"X"}"#]
        );
    }

    #[test]
    fn fast_path_handles_large_maps() {
        let big: String = format!(
            "{{{}}}",
            (0..20)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let got = one(&[("add", "pipeline edge-bench")], &big);
        assert!(
            got.ends_with(r#""k19":19,"pipeline":"edge-bench"}"#),
            "{got}"
        );
        let huge: String = format!(
            "{{{}}}",
            (0..65535)
                .map(|i| format!("\"k{i}\":1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let got = one(&[("add", "z 1")], &huge);
        assert!(got.ends_with(r#""k65534":1,"z":"1"}"#));
    }

    #[test]
    fn removes() {
        let rec = r#"{"Mem.total":1,"Mem.used":2,"Swap.free":3,"x":4,"x":5}"#;
        assert_eq!(
            one(&[("remove", "x")], rec),
            r#"{"Mem.total":1,"Mem.used":2,"Swap.free":3}"#
        );
        assert_eq!(
            one(&[("remove_wildcard", "Mem")], rec),
            r#"{"Swap.free":3,"x":4,"x":5}"#
        );
        assert_eq!(
            one(&[("remove_wildcard", "Mem*")], rec),
            r#"{"Swap.free":3,"x":4,"x":5}"#
        );
        assert_eq!(
            one(&[("remove_regex", "^(Mem|x)")], rec),
            r#"{"Swap.free":3}"#
        );
        let f = filter(&DESCRIPTOR, &[("remove", "nope")]).unwrap();
        assert_eq!(run_filter(&*f, "t", &[rec]).0, FilterOutcome::Unchanged);
    }

    #[test]
    fn renames_and_copies() {
        let rec = r#"{"a":1,"b":2,"c":3}"#;
        assert_eq!(one(&[("rename", "a z")], rec), r#"{"z":1,"b":2,"c":3}"#);
        assert_eq!(one(&[("rename", "a b")], rec), rec, "target exists");
        assert_eq!(one(&[("hard_rename", "a b")], rec), r#"{"b":1,"c":3}"#);
        assert_eq!(one(&[("hard_rename", "a a")], rec), rec);
        assert_eq!(one(&[("copy", "a z")], rec), r#"{"a":1,"z":1,"b":2,"c":3}"#);
        assert_eq!(one(&[("copy", "a b")], rec), rec);
        assert_eq!(one(&[("hard_copy", "a c")], rec), r#"{"a":1,"c":1,"b":2}"#);
        assert_eq!(
            one(&[("copy", "x y")], r#"{"x":1,"x":2}"#),
            r#"{"x":1,"x":2}"#,
            "two sources"
        );
        assert_eq!(
            one(&[("copy", "a n")], r#"{"a":{"deep":[1]}}"#),
            r#"{"a":{"deep":[1]},"n":{"deep":[1]}}"#
        );
        assert_eq!(
            one(&[("copy", "a b"), ("remove", "a")], r#"{"a":1}"#),
            r#"{"b":1}"#
        );
    }

    #[test]
    fn rules_of_one_kind_apply_in_written_order() {
        assert_eq!(
            one(&[("rename", "a b"), ("rename", "b c")], r#"{"a":1}"#),
            r#"{"c":1}"#
        );
        assert_eq!(
            one(&[("rename", "a b"), ("set", "a X")], r#"{"a":1}"#),
            r#"{"b":1,"a":"X"}"#
        );
    }

    #[test]
    fn rules_apply_in_written_order() {
        assert_eq!(
            one(&[("set", "a X"), ("rename", "a b")], r#"{"a":1}"#),
            r#"{"b":"X"}"#
        );
        assert_eq!(
            one(&[("copy", "a n"), ("rename", "n m")], r#"{"a":1}"#),
            r#"{"a":1,"m":1}"#
        );
    }

    #[test]
    fn moves() {
        let rec = r#"{"a":1,"Mem.x":2,"b":3,"Mem.y":4}"#;
        assert_eq!(
            one(&[("move_to_start", "Mem")], rec),
            r#"{"Mem.x":2,"Mem.y":4,"a":1,"b":3}"#
        );
        assert_eq!(
            one(&[("move_to_end", "Mem*")], rec),
            r#"{"a":1,"b":3,"Mem.x":2,"Mem.y":4}"#
        );
    }

    #[test]
    fn rules_see_each_others_results() {
        // docs example 3 (emoji)
        let got = one(
            &[
                ("remove_wildcard", "Mem"),
                ("set", "This_plugin_is_on 🔥"),
                ("set", "🔥 is_hot"),
                ("copy", "🔥 💦"),
                ("rename", "💦 ❄️"),
                ("set", "❄️ is_cold"),
                ("set", "💦 is_wet"),
            ],
            r#"{"Mem.total":1}"#,
        );
        assert_eq!(
            got,
            r#"{"This_plugin_is_on":"🔥","🔥":"is_hot","❄️":"is_cold","💦":"is_wet"}"#
        );
    }

    #[test]
    fn conditions() {
        let input = [
            r#"{"cpustats":"UNKNOWN","Mem.used":1}"#,
            r#"{"Mem.used":1}"#,
            r#"{"cpustats":"KNOWN"}"#,
        ];
        let with = |cond: &str| run(&[("condition", cond), ("add", "hit yes")], &input);
        let hits = |cond: &str| {
            with(cond)
                .iter()
                .map(|r| r.contains("hit"))
                .collect::<Vec<_>>()
        };
        assert_eq!(hits("key_exists cpustats"), [true, false, true]);
        assert_eq!(hits("Key_Does_Not_Exist cpustats"), [false, true, false]);
        assert_eq!(hits("a_key_matches ^Mem"), [true, true, false]);
        assert_eq!(hits("no_key_matches ^Mem"), [false, false, true]);
        assert_eq!(
            hits("key_value_equals cpustats UNKNOWN"),
            [true, false, false]
        );
        assert_eq!(
            hits("key_value_does_not_equal cpustats UNKNOWN"),
            [false, false, true]
        );
        assert_eq!(hits("key_value_matches cpustats ^UN"), [true, false, false]);
        assert_eq!(
            hits("key_value_does_not_match cpustats ^UN"),
            [false, false, true]
        );
        assert_eq!(
            hits("matching_keys_have_matching_values ^cpu ^K"),
            [false, true, true]
        );
        assert_eq!(
            hits("matching_keys_do_not_have_matching_values ^cpu ^K"),
            [true, false, false]
        );
    }

    #[test]
    fn all_conditions_must_hold_and_accessors_work() {
        let input = [
            r#"{"k":{"ns":"prod"},"a":"1"}"#,
            r#"{"k":{"ns":"dev"},"a":"1"}"#,
            r#"{"k":{"ns":"prod"}}"#,
        ];
        let got = run(
            &[
                ("condition", "key_value_equals $k['ns'] prod"),
                ("condition", "key_exists a"),
                ("set", "env production"),
            ],
            &input,
        );
        assert_eq!(got[0], r#"{"k":{"ns":"prod"},"a":"1","env":"production"}"#);
        assert_eq!(got[1], input[1]);
        assert_eq!(got[2], input[2]);
    }

    #[test]
    fn booleans_match_regex_conditions_numbers_do_not() {
        let input = [r#"{"ok":true}"#, r#"{"ok":1}"#];
        let got = run(
            &[
                ("condition", "key_value_matches ok ^true$"),
                ("add", "hit 1"),
            ],
            &input,
        );
        assert_eq!(got, [r#"{"ok":true,"hit":"1"}"#, r#"{"ok":1}"#]);
    }

    #[test]
    fn config_errors() {
        let e = |pairs: &[(&str, &str)]| filter(&DESCRIPTOR, pairs).err().unwrap().to_string();
        assert!(e(&[("remove_regex", "(")]).contains("'remove_regex'"));
        assert!(e(&[("condition", "key_value_matches a (")]).contains("'condition'"));
        assert!(e(&[("condition", "key_is_cool a")]).contains("unknown condition"));
        assert!(e(&[("condition", "key_exists")]).contains("one argument"));
        assert!(e(&[("condition", "key_value_equals a")]).contains("two arguments"));
        assert!(e(&[("remove", "a b")]).contains("one KEY"));
        assert!(e(&[("rename", "a")]).contains("'rename'"));
        assert!(e(&[("renam", "a b")]).contains("did you mean 'rename'"));
    }

    #[test]
    fn deprecated_add_if_not_present_still_works() {
        assert_eq!(one(&[("add_if_not_present", "a 1")], "{}"), r#"{"a":"1"}"#);
    }

    fn arb_record() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            (
                "[a-c]",
                prop_oneof![
                    "[a-c]{0,2}".prop_map(|s| format!("\"{s}\"")),
                    (0i64..9).prop_map(|n| n.to_string()),
                    Just("true".to_string()),
                    Just("{\"a\":[1]}".to_string())
                ],
            ),
            0..5,
        )
        .prop_map(|kv| {
            format!(
                "{{{}}}",
                kv.iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
    }

    proptest! {
        #[test]
        fn count_is_invariant(records in proptest::collection::vec(arb_record(), 0..12)) {
            let refs: Vec<&str> = records.iter().map(String::as_str).collect();
            let configs: &[&[(&str, &str)]] = &[
                &[("add", "a x")],
                &[("set", "b y"), ("add", "z 1")],
                &[("rename", "a b"), ("hard_copy", "b c"), ("remove_wildcard", "c"), ("move_to_start", "b")],
                &[("condition", "key_value_matches a ^a"), ("hard_rename", "a c"), ("copy", "c d"), ("remove_regex", "^b")],
                &[("condition", "matching_keys_have_matching_values . ."), ("set", "a 1"), ("move_to_end", "a")],
            ];
            for cfg in configs {
                let (_, out) = run_filter(&*filter(&DESCRIPTOR, cfg).unwrap(), "t", &refs);
                prop_assert_eq!(out.len(), refs.len());
            }
        }

        #[test]
        fn garbage_batches_do_not_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let f = filter(&DESCRIPTOR, &[("add", "a b"), ("rename", "c d")]).unwrap();
            let mut out = EventWriter::new();
            let ctx = FilterContext { input: "in", input_plugin: "x" };
            let _ = f.filter(Batch { tag: "t", data: &data, records: 1 }, &mut out, &ctx);
        }
    }
}
