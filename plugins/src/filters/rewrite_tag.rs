//! `rewrite_tag`: re-emit records under a new tag, built from the record, the old tag and
//! regular-expression captures.
//!
//! Each `rule` is `$KEY REGEX NEW_TAG KEEP`. Rules are tried in order; the first whose `KEY`
//! holds a string that `REGEX` matches re-emits the record (time, metadata and body as they
//! are) under `NEW_TAG`, and `KEEP` (`true`/`false`) says whether the original goes on down the
//! pipeline. `NEW_TAG` is a template ([`weir_event::accessor::Template`]): `$key['sub']` record
//! values, `$TAG` and `$TAG[n]` (the old tag and its dot-separated parts), `$0`..`$9` (the
//! regex's capture groups); `${VAR}` environment variables are expanded when the configuration
//! is read. `REGEX` is Ruby syntax, translated as for parsers ([`weir_parser::regex`]), and the
//! captures come from that same translation, numbered as Onigmo numbers them: when the regex
//! has named groups (`(?<name>...)`), only those capture and `$1` is the first of them.
//!
//! Re-emitted records enter the pipeline again through this filter's emitter, an input named
//! `emitter_name` (by default `emitter_for_` and the filter's instance name, as in Fluent Bit),
//! so they pass every filter that matches their new tag. This filter skips batches coming from
//! its own emitter, which keeps a rule that matches its own output from looping.
//!
//! A rule whose new tag renders empty is treated as not matching.
//!
//! `emitter_storage.type` must be `memory` (filesystem buffering of the emitter is not
//! supported yet). `emitter_mem_buf_limit` bounds the emitter's queue; where Fluent Bit drops
//! records its paused emitter cannot take, Weir makes the inputs feeding this filter wait.

use super::support::{str_text, Rewrite};
use std::sync::Arc;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Emitter, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::accessor::{RecordAccessor, Template, TemplateContext};
use weir_event::EventWriter;
use weir_parser::regex::Pattern;

/// `rewrite_tag`'s parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("rule")
        .multiple()
        .required()
        .desc("$KEY REGEX NEW_TAG KEEP: re-emit records whose KEY matches REGEX under NEW_TAG; KEEP (true/false) keeps the original."),
    ParamSpec::str("emitter_name").desc("Name of the emitter input that re-emits records (default: emitter_for_ and the filter's name)."),
    ParamSpec::str("emitter_storage.type").default("memory").desc("Buffering of re-emitted records: memory."),
    ParamSpec::size("emitter_mem_buf_limit").default("10M").desc("Memory limit of the emitter's queue; the inputs feeding this filter wait while it is full."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "rewrite_tag",
    kind: PluginKind::Filter,
    description: "Re-emit records under a new tag built from their content.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

/// Where re-emitted records go: the engine's emitter, or a collector in tests.
pub trait EmitSink: Send + Sync {
    /// The emitting input's name: batches from it are not filtered again.
    fn name(&self) -> &str;
    /// Queues encoded events under `tag`; false once the pipeline has stopped.
    fn emit(&self, tag: &str, data: Vec<u8>, records: usize) -> bool;
}

impl EmitSink for Emitter {
    fn name(&self) -> &str {
        Emitter::name(self)
    }
    fn emit(&self, tag: &str, data: Vec<u8>, records: usize) -> bool {
        Emitter::emit(self, tag, data, records)
    }
}

/// One `rule`.
#[derive(Debug)]
struct Rule {
    key: RecordAccessor,
    /// Matched and captured with the same Ruby-syntax translation as every other regex, so
    /// `$1` is the group Fluent Bit's Onigmo would number 1 ([`weir_parser::regex::Captures::group`]).
    regex: Pattern,
    tag: Template,
    keep: bool,
}

impl Rule {
    fn parse(p: &Params, text: &str) -> Result<Self, ConfigError> {
        let err = |msg: String| p.error("rule", msg);
        let words = weir_config::values::split_words(text, 3);
        let [key, regex, tag, keep] = <[String; 4]>::try_from(words)
            .map_err(|_| err(format!("expected '$KEY REGEX NEW_TAG KEEP', got '{text}'")))?;
        let key = RecordAccessor::parse_or_key(&key).map_err(|e| err(e.to_string()))?;
        let regex = Pattern::new(&regex).map_err(|e| err(format!("'{regex}': {e}")))?;
        let tag = Template::parse(&tag).map_err(|e| err(format!("new tag: {e}")))?;
        let keep = weir_config::values::parse_bool(&keep)
            .ok_or_else(|| err(format!("KEEP must be true or false, got '{keep}'")))?;
        Ok(Self {
            key,
            regex,
            tag,
            keep,
        })
    }

    /// The new tag when the rule matches the record.
    fn new_tag(&self, body: &[u8], tag: &str, out: &mut String) -> bool {
        let Some(value) = self.key.get(body).and_then(str_text) else {
            return false;
        };
        let Some(caps) = self.regex.captures(value) else {
            return false;
        };
        let groups: [Option<&[u8]>; 10] =
            std::array::from_fn(|n| caps.group(n).and_then(|(s, e)| value.get(s..e)));
        out.clear();
        self.tag.render_into(
            body,
            &TemplateContext {
                tag: Some(tag),
                captures: &groups,
            },
            out,
        );
        !out.is_empty()
    }
}

/// The built filter.
pub struct RewriteTag {
    rules: Vec<Rule>,
    emitter: Arc<dyn EmitSink>,
    component: String,
}

impl std::fmt::Debug for RewriteTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RewriteTag")
            .field("rules", &self.rules)
            .field("emitter", &self.emitter.name())
            .finish()
    }
}

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    let rules = RewriteTag::rules(p)?;
    let name = match p.str("emitter_name").filter(|s| !s.is_empty()) {
        Some(n) => n.to_string(),
        None => format!("emitter_for_{}", ctx.instance),
    };
    let emitter = ctx.new_emitter(&name, p.size("emitter_mem_buf_limit"));
    Ok(Box::new(RewriteTag {
        rules,
        emitter: Arc::new(emitter),
        component: format!("filter:rewrite_tag:{}", ctx.instance),
    }))
}

impl RewriteTag {
    fn rules(p: &Params) -> Result<Vec<Rule>, ConfigError> {
        let storage = p.str("emitter_storage.type").unwrap_or("memory");
        match storage.to_ascii_lowercase().as_str() {
            "memory" => {}
            "filesystem" => {
                return Err(p.error(
                    "emitter_storage.type",
                    "filesystem buffering of the emitter is not supported by Weir yet; use memory",
                ))
            }
            _ => {
                return Err(p.error(
                    "emitter_storage.type",
                    format!("expected memory or filesystem, got '{storage}'"),
                ))
            }
        }
        p.all("rule")
            .into_iter()
            .map(|r| Rule::parse(p, r))
            .collect()
    }

    /// A filter that emits into `emitter` (for tests and embedding).
    pub fn with_sink(p: &Params, emitter: Arc<dyn EmitSink>) -> Result<Self, ConfigError> {
        Ok(Self {
            rules: Self::rules(p)?,
            emitter,
            component: "filter:rewrite_tag".into(),
        })
    }
}

impl Filter for RewriteTag {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        if ctx.input == self.emitter.name() {
            return FilterOutcome::Unchanged;
        }
        // Re-emitted events grouped by new tag, in order of first appearance.
        let mut emitted: Vec<(String, EventWriter)> = Vec::new();
        let mut tag = String::new();
        let mut rw = Rewrite::new(batch.data, out);
        for (start, ev) in rw.events() {
            let Some(rule) = self
                .rules
                .iter()
                .find(|r| r.new_tag(ev.body, batch.tag, &mut tag))
            else {
                rw.keep(&ev);
                continue;
            };
            match emitted.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, w)) => w.push_raw(&ev),
                None => {
                    let mut w = EventWriter::new();
                    w.push_raw(&ev);
                    emitted.push((tag.clone(), w));
                }
            }
            if rule.keep {
                rw.keep(&ev);
            } else {
                rw.drop_event(start);
            }
        }
        for (tag, w) in emitted {
            let n = w.count;
            if !self.emitter.emit(&tag, w.buf, n) {
                weir_core::warn!(
                    self.component,
                    "pipeline stopped: {n} record(s) for tag '{tag}' were not re-emitted"
                );
            }
        }
        rw.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{events, params, run_filter};
    use std::sync::Mutex;
    use weir_event::EventTime;

    #[derive(Default)]
    struct Collect {
        got: Mutex<Vec<(String, Vec<String>)>>,
    }

    impl EmitSink for Collect {
        fn name(&self) -> &str {
            "emitter_for_rewrite_tag.0"
        }
        fn emit(&self, tag: &str, data: Vec<u8>, records: usize) -> bool {
            let bodies = crate::testing::bodies(&data);
            assert_eq!(bodies.len(), records);
            self.got.lock().unwrap().push((tag.to_string(), bodies));
            true
        }
    }

    fn make(pairs: &[(&str, &str)]) -> (RewriteTag, Arc<Collect>) {
        let sink = Arc::new(Collect::default());
        let f = RewriteTag::with_sink(&params(&DESCRIPTOR, pairs).unwrap(), sink.clone()).unwrap();
        (f, sink)
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        match params(&DESCRIPTOR, pairs)
            .and_then(|p| RewriteTag::with_sink(&p, Arc::new(Collect::default())))
        {
            Ok(_) => panic!("expected an error for {pairs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn docs_example() {
        let (f, sink) = make(&[(
            "rule",
            "$tool ^(fluent)$  from.$TAG.new.$tool.$sub['s1']['s2'].out false",
        )]);
        let rec = r#"{"tool":"fluent","sub":{"s1":{"s2":"bit"}}}"#;
        let (o, kept) = run_filter(&f, "test_tag", &[rec, r#"{"tool":"other"}"#]);
        assert_eq!(o, FilterOutcome::Modified);
        assert_eq!(kept, [r#"{"tool":"other"}"#]);
        assert_eq!(
            *sink.got.lock().unwrap(),
            [(
                "from.test_tag.new.fluent.bit.out".to_string(),
                vec![rec.to_string()]
            )]
        );
    }

    #[test]
    fn captures_tag_parts_and_keep() {
        let (f, sink) = make(&[(
            "rule",
            r"$name ^([a-z]+)-([0-9]+)$ newtag.$TAG[1].$1.$2.$0 true",
        )]);
        let (o, kept) = run_filter(
            &f,
            "aa.bb.cc",
            &[r#"{"name":"abc-123"}"#, r#"{"name":"x"}"#],
        );
        assert_eq!(
            o,
            FilterOutcome::Unchanged,
            "keep true: the batch passes as it is"
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(sink.got.lock().unwrap()[0].0, "newtag.bb.abc.123.abc-123");
    }

    #[test]
    fn captures_follow_the_ruby_syntax_translation() {
        // `\h` is Ruby's hex digit; with the plain regex crate it would not even compile.
        let (f, sink) = make(&[("rule", r"$id ^(\h+)-(\d+)$ hex.$1.$2 false")]);
        let (_, kept) = run_filter(&f, "t", &[r#"{"id":"beef-42"}"#, r#"{"id":"zz-1"}"#]);
        assert_eq!(kept, [r#"{"id":"zz-1"}"#]);
        assert_eq!(sink.got.lock().unwrap()[0].0, "hex.beef.42");

        // With named groups only those capture, as in Onigmo: `(ns)` takes no number, so
        // `$2` is `app`, not `ns`.
        let (f, sink) = make(&[(
            "rule",
            r"$path ^/(?<kind>\w+)/(ns)/(?<app>[a-z]+)$ k.$1.$2.$3 false",
        )]);
        run_filter(&f, "t", &[r#"{"path":"/pods/ns/web"}"#]);
        assert_eq!(sink.got.lock().unwrap()[0].0, "k.pods.web.");
    }

    #[test]
    fn first_matching_rule_wins_and_tags_group() {
        let (f, sink) = make(&[("rule", "$a ^x a.$a false"), ("rule", "$b . b.$b false")]);
        let input = [
            r#"{"a":"x","b":"1"}"#,
            r#"{"b":"1"}"#,
            r#"{"a":"y","b":"2"}"#,
            r#"{"b":"1","n":2}"#,
        ];
        let (_, kept) = run_filter(&f, "t", &input);
        assert!(kept.is_empty());
        let got = sink.got.lock().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("a.x".to_string(), vec![input[0].to_string()]));
        assert_eq!(
            got[1],
            (
                "b.1".to_string(),
                vec![input[1].to_string(), input[3].to_string()]
            )
        );
        assert_eq!(got[2].0, "b.2");
    }

    #[test]
    fn skips_its_own_emitter() {
        let (f, sink) = make(&[("rule", "$a . x false")]);
        let batch = events(&[r#"{"a":"1"}"#], EventTime::new(1, 0));
        let mut out = EventWriter::new();
        let ctx = FilterContext {
            input: "emitter_for_rewrite_tag.0",
            input_plugin: "emitter",
        };
        let o = f.filter(
            Batch {
                tag: "x",
                data: &batch.buf,
                records: 1,
            },
            &mut out,
            &ctx,
        );
        assert_eq!(o, FilterOutcome::Unchanged);
        assert!(sink.got.lock().unwrap().is_empty());
    }

    #[test]
    fn only_strings_match_and_empty_tags_do_not() {
        let (f, sink) = make(&[("rule", "$n . $missing false")]);
        let (o, _) = run_filter(&f, "t", &[r#"{"n":"1"}"#, r#"{"n":1}"#]);
        assert_eq!(o, FilterOutcome::Unchanged);
        assert!(sink.got.lock().unwrap().is_empty());
    }

    #[test]
    fn config_errors() {
        assert!(err(&[("rule", "$a b c")]).contains("expected '$KEY REGEX NEW_TAG KEEP'"));
        assert!(err(&[("rule", "$a ( c false")]).contains("key 'rule'"));
        assert!(err(&[("rule", "$a b c maybe")]).contains("KEEP must be true or false"));
        assert!(err(&[("rule", "$a[ b c true")]).contains("record accessor"));
        assert!(err(&[("rule", "$a b $-x true")]).contains("new tag"));
        assert!(err(&[
            ("rule", "$a b c true"),
            ("emitter_storage.type", "filesystem")
        ])
        .contains("not supported"));
        assert!(err(&[("emitter_name", "x")]).contains("missing required parameter 'rule'"));
    }

    #[test]
    fn quoted_regex_with_spaces() {
        let (f, sink) = make(&[("rule", r#"$msg "^hello world$" greet true"#)]);
        run_filter(&f, "t", &[r#"{"msg":"hello world"}"#]);
        assert_eq!(sink.got.lock().unwrap()[0].0, "greet");
    }
}
