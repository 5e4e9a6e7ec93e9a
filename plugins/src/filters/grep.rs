//! `grep`: keep or drop records by matching a value against a regular expression.
//!
//! `regex KEY REGEX` keeps records whose `KEY` matches, `exclude KEY REGEX` drops them. `KEY`
//! is a top-level key or a record accessor (`$kubernetes['labels']['app']`). Patterns use
//! Fluent Bit's Ruby syntax (see `weir_parser::regex`), including the `/pattern/i` form.
//!
//! How rules combine (`logical_op`):
//!
//! - `legacy` (the default): a record is kept when every `regex` rule matches and no `exclude`
//!   rule matches, which is what Fluent Bit's documentation describes ("AND" for including,
//!   "OR" for excluding). Fluent Bit's code differs when several rules are given: it stops at
//!   the first `regex` rule that matches (fluent/fluent-bit#3259, #7035). Weir does what the
//!   documentation says, so the order of the rules never matters.
//! - `and`: every rule must match; `or`: one matching rule is enough. The rules are then
//!   either all `regex` (keep what matches) or all `exclude` (drop what matches); mixing them
//!   is a configuration error, as in Fluent Bit.
//!
//! Only string values match, as in Fluent Bit (its record accessor regex match reads strings
//! only): a number, a boolean, a map or a missing key never matches, so `regex` drops such a
//! record and `exclude` keeps it. Parse numbers as strings (or use a parser without `types`) to
//! grep them.
//!
//! The filter never decodes a record: it looks the key up in the encoded bytes, and when it
//! keeps everything it answers `Unchanged`; otherwise it copies the surviving events' bytes.

use super::support::{str_text, Rewrite};
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::accessor::RecordAccessor;
use weir_event::EventWriter;
use weir_parser::regex::Pattern;

/// `grep`'s parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::space_list("regex")
        .multiple()
        .desc("KEY REGEX: keep records whose KEY (a key or a record accessor such as $a['b']) matches REGEX."),
    ParamSpec::space_list("exclude")
        .multiple()
        .desc("KEY REGEX: drop records whose KEY (a key or a record accessor such as $a['b']) matches REGEX."),
    ParamSpec::str("logical_op").default("legacy").desc(
        "How rules combine: legacy (every regex must match and no exclude may match), AND, or OR. \
         With AND or OR the rules must be all regex or all exclude.",
    ),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "grep",
    kind: PluginKind::Filter,
    description: "Keep or drop records whose values match regular expressions.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogicalOp {
    Legacy,
    And,
    Or,
}

/// One `regex` or `exclude` rule.
#[derive(Debug)]
struct Rule {
    key: RecordAccessor,
    pattern: Pattern,
}

impl Rule {
    fn parse(p: &Params, param: &str, text: &str) -> Result<Self, ConfigError> {
        let mut words = weir_config::values::split_words(text, 1).into_iter();
        let (Some(key), Some(regex)) = (words.next(), words.next()) else {
            return Err(p.error(param, format!("expected KEY REGEX, got '{text}'")));
        };
        let key = RecordAccessor::parse_or_key(&key).map_err(|e| p.error(param, e.to_string()))?;
        let pattern =
            Pattern::new(&regex).map_err(|e| p.error(param, format!("'{regex}': {e}")))?;
        Ok(Self { key, pattern })
    }

    /// Whether the rule's key holds a string that the pattern matches.
    fn matches(&self, body: &[u8]) -> bool {
        self.key
            .get(body)
            .and_then(str_text)
            .is_some_and(|s| self.pattern.is_match(s))
    }
}

/// The built filter.
#[derive(Debug)]
pub struct Grep {
    regex: Vec<Rule>,
    exclude: Vec<Rule>,
    op: LogicalOp,
}

fn build(p: &Params, _ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    Ok(Box::new(Grep::from_params(p)?))
}

impl Grep {
    fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let op_text = p.str("logical_op").unwrap_or("legacy");
        let op = match op_text.to_ascii_lowercase().as_str() {
            "legacy" => LogicalOp::Legacy,
            "and" => LogicalOp::And,
            "or" => LogicalOp::Or,
            _ => {
                return Err(p.error(
                    "logical_op",
                    format!("expected legacy, AND or OR, got '{op_text}'"),
                ))
            }
        };
        let rules = |param: &str| -> Result<Vec<Rule>, ConfigError> {
            p.all(param)
                .into_iter()
                .map(|v| Rule::parse(p, param, v))
                .collect()
        };
        let regex = rules("regex")?;
        let exclude = rules("exclude")?;
        if op != LogicalOp::Legacy && !regex.is_empty() && !exclude.is_empty() {
            return Err(p.error(
                "logical_op",
                format!("with logical_op {op_text}, use either regex or exclude rules, not both"),
            ));
        }
        Ok(Self { regex, exclude, op })
    }

    /// Whether a record body survives the rules.
    fn keep(&self, body: &[u8]) -> bool {
        let m = |r: &Rule| r.matches(body);
        match self.op {
            LogicalOp::Legacy => self.regex.iter().all(m) && !self.exclude.iter().any(m),
            LogicalOp::And if !self.regex.is_empty() => self.regex.iter().all(m),
            LogicalOp::And => self.exclude.is_empty() || !self.exclude.iter().all(m),
            LogicalOp::Or if !self.regex.is_empty() => self.regex.iter().any(m),
            LogicalOp::Or => !self.exclude.iter().any(m),
        }
    }
}

impl Filter for Grep {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        if self.regex.is_empty() && self.exclude.is_empty() {
            return FilterOutcome::Unchanged;
        }
        let mut rw = Rewrite::new(batch.data, out);
        for (start, ev) in rw.events() {
            if self.keep(ev.body) {
                rw.keep(&ev);
            } else {
                rw.drop_event(start);
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

    fn grep(pairs: &[(&str, &str)]) -> Box<dyn Filter> {
        filter(&DESCRIPTOR, pairs).unwrap()
    }

    fn kept(pairs: &[(&str, &str)], input: &[&str]) -> Vec<String> {
        run_filter(&*grep(pairs), "t", input).1
    }

    const LINES: &[&str] = &[
        r#"{"log":"aaa"}"#,
        r#"{"log":"aab"}"#,
        r#"{"log":"bbb"}"#,
        r#"{"log":"ccc"}"#,
    ];

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn regex_keeps_matches() {
        assert_eq!(kept(&[("regex", "log aa")], LINES), [LINES[0], LINES[1]]);
    }

    #[test]
    fn exclude_drops_matches() {
        assert_eq!(kept(&[("exclude", "log ^a")], LINES), [LINES[2], LINES[3]]);
    }

    #[test]
    fn nothing_dropped_is_unchanged() {
        let f = grep(&[("exclude", "log ^z")]);
        assert_eq!(run_filter(&*f, "t", LINES).0, FilterOutcome::Unchanged);
        let f = grep(&[]);
        assert_eq!(run_filter(&*f, "t", LINES).0, FilterOutcome::Unchanged);
    }

    #[test]
    fn everything_dropped() {
        let (o, b) = run_filter(&*grep(&[("regex", "log ^z")]), "t", LINES);
        assert_eq!(o, FilterOutcome::Modified);
        assert!(b.is_empty());
    }

    #[test]
    fn legacy_is_and_for_regex_or_for_exclude() {
        let input = [
            r#"{"a":"1","b":"2"}"#,
            r#"{"a":"1","b":"x"}"#,
            r#"{"a":"x","b":"2"}"#,
        ];
        // Fluent Bit's code would keep the second record (first regex matches); its docs say AND.
        assert_eq!(
            kept(&[("regex", "a 1"), ("regex", "b 2")], &input),
            [input[0]]
        );
        assert_eq!(
            kept(&[("exclude", "a 1"), ("exclude", "b 2")], &input),
            Vec::<String>::new()
        );
        assert_eq!(
            kept(&[("regex", "a 1"), ("exclude", "b 2")], &input),
            [input[1]]
        );
    }

    #[test]
    fn and_or_modes() {
        let input = [
            r#"{"a":"1","b":"2"}"#,
            r#"{"a":"1","b":"x"}"#,
            r#"{"a":"x","b":"x"}"#,
        ];
        let and = [("logical_op", "AND")];
        let or = [("logical_op", "or")];
        assert_eq!(
            kept(&[and[0], ("regex", "a 1"), ("regex", "b 2")], &input),
            [input[0]]
        );
        assert_eq!(
            kept(&[or[0], ("regex", "a 1"), ("regex", "b 2")], &input),
            [input[0], input[1]]
        );
        assert_eq!(
            kept(&[and[0], ("exclude", "a 1"), ("exclude", "b 2")], &input),
            [input[1], input[2]]
        );
        assert_eq!(
            kept(&[or[0], ("exclude", "a 1"), ("exclude", "b 2")], &input),
            [input[2]]
        );
    }

    #[test]
    fn nested_keys_with_record_accessor() {
        let input = [
            r#"{"labels":{"color":"blue"}}"#,
            r#"{"labels":{"color":"red"}}"#,
            r#"{"labels":"blue"}"#,
        ];
        assert_eq!(
            kept(&[("regex", "$labels['color'] ^blue$")], &input),
            [input[0]]
        );
    }

    #[test]
    fn only_strings_match() {
        let input = [
            r#"{"status":404}"#,
            r#"{"status":"404"}"#,
            r#"{"status":[404]}"#,
            r#"{"other":1}"#,
        ];
        assert_eq!(
            kept(&[("exclude", "status ^404$")], &input),
            [input[0], input[2], input[3]]
        );
        assert_eq!(kept(&[("regex", "status ^404$")], &input), [input[1]]);
    }

    #[test]
    fn plain_keys_need_no_dollar_and_may_be_anything() {
        let input = [r#"{"@timestamp":"2024"}"#, r#"{"@timestamp":"2023"}"#];
        assert_eq!(kept(&[("regex", "@timestamp ^2024")], &input), [input[0]]);
    }

    #[test]
    fn ruby_regex_forms() {
        let input = [
            r#"{"log":"ERROR x"}"#,
            r#"{"log":"error y"}"#,
            r#"{"log":"info"}"#,
        ];
        assert_eq!(
            kept(&[("regex", "log /^error/i")], &input),
            [input[0], input[1]]
        );
        assert_eq!(
            kept(
                &[("regex", r"log \d")],
                &[r#"{"log":"a1"}"#, r#"{"log":"b"}"#]
            ),
            [r#"{"log":"a1"}"#]
        );
    }

    #[test]
    fn config_errors_name_the_key() {
        let e = filter(&DESCRIPTOR, &[("regex", "log (unclosed")])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("'regex'") && e.contains("(unclosed"), "{e}");
        let e = filter(&DESCRIPTOR, &[("exclude", "$a[ x")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("'exclude'") && e.contains("record accessor"),
            "{e}"
        );
        let e = filter(&DESCRIPTOR, &[("logical_op", "xor")])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("logical_op"), "{e}");
        let e = filter(
            &DESCRIPTOR,
            &[("logical_op", "and"), ("regex", "a b"), ("exclude", "c d")],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("not both"), "{e}");
        assert!(filter(&DESCRIPTOR, &[("regex", "lonely")]).is_err());
        let e = filter(&DESCRIPTOR, &[("regexp", "a b")])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown parameter"), "{e}");
    }

    #[test]
    fn metadata_and_time_survive() {
        let mut w = EventWriter::new();
        let mut body = Vec::new();
        weir_event::json::from_json(r#"{"log":"keep"}"#, &mut body).unwrap();
        w.push(
            weir_event::EventTime::new(7, 9),
            &[0x81, 0xa1, b'm', 0x01],
            &body,
        );
        body.clear();
        weir_event::json::from_json(r#"{"log":"drop"}"#, &mut body).unwrap();
        w.push(weir_event::EventTime::new(8, 0), &[], &body);
        let f = grep(&[("exclude", "log drop")]);
        let mut out = EventWriter::new();
        let ctx = FilterContext {
            input: "in",
            input_plugin: "dummy",
        };
        let o = f.filter(
            Batch {
                tag: "t",
                data: &w.buf,
                records: 2,
            },
            &mut out,
            &ctx,
        );
        assert_eq!(o, FilterOutcome::Modified);
        let first_len = weir_event::Events::new(&w.buf)
            .next()
            .unwrap()
            .unwrap()
            .raw
            .len();
        assert_eq!(out.buf, w.buf[..first_len]);
        assert_eq!(out.count, 1);
    }

    proptest! {
        #[test]
        fn never_panics_and_never_adds(bodies in proptest::collection::vec(
            proptest::collection::vec(("[a-c]", prop_oneof!["[a-c0-9]{0,3}".prop_map(|s| format!("\"{s}\"")), (0i64..9).prop_map(|n| n.to_string())]), 0..4)
                .prop_map(|kv| format!("{{{}}}", kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","))),
            0..20)) {
            let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
            for pairs in [&[("regex", "a ^a")][..], &[("exclude", "b [0-9]")], &[("logical_op", "or"), ("regex", "a b"), ("regex", "c .")]] {
                let (_, out) = run_filter(&*grep(pairs), "t", &refs);
                prop_assert!(out.len() <= refs.len());
            }
        }

        #[test]
        fn garbage_batches_do_not_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let f = grep(&[("regex", "a .")]);
            let mut out = EventWriter::new();
            let ctx = FilterContext { input: "in", input_plugin: "x" };
            let _ = f.filter(Batch { tag: "t", data: &data, records: 1 }, &mut out, &ctx);
        }
    }
}
