//! Fluent Bit's YAML format:
//!
//! ```yaml
//! env:
//!   LOG_DIR: /var/log
//! includes:
//!   - outputs.yaml
//! service:
//!   flush: 1
//! parsers:
//!   - name: json
//!     format: json
//! multiline_parsers:
//!   - name: java
//!     type: regex
//!     rules:
//!       - state: start_state
//!         regex: '/^\d{4}-/'
//!         next_state: cont
//! pipeline:
//!   inputs:
//!     - name: tail
//!       path: ${LOG_DIR}/*.log
//!   filters: []
//!   outputs:
//!     - name: stdout
//!       match: '*'
//! ```
//!
//! The file is read through `yaml-rust2`'s event parser, which gives every node its line, into a
//! small tree ([`Node`]); the tree is then walked into sections. A scalar keeps its text exactly as
//! written (`flush: 0.2` is "0.2", `name: 'null'` is "null", `on` stays "on"): the parameter
//! tables decide what a value means, not YAML's type guessing. An empty value (`key:`) is the
//! empty string. A list value becomes one property per item with the same key. Anchors and
//! aliases work. What Fluent Bit's YAML has but Weir does not implement yet (`processors`,
//! `plugins`, `customs`, `upstream_servers`) is an error, never silently ignored.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};

use crate::classic::parse_rule;
use crate::error::{suggest, ConfigError};
use crate::load::{strip_regex_slashes, Loader};
use crate::model::{Location, MultilineRule, Section, SectionKind};

const TOP_LEVEL: [&str; 6] = [
    "service",
    "pipeline",
    "parsers",
    "multiline_parsers",
    "includes",
    "env",
];
const TOP_LEVEL_NOT_YET: [&str; 3] = ["plugins", "customs", "upstream_servers"];
const PIPELINE: [(&str, SectionKind); 3] = [
    ("inputs", SectionKind::Input),
    ("filters", SectionKind::Filter),
    ("outputs", SectionKind::Output),
];
const RULE_KEYS: [&str; 3] = ["state", "regex", "next_state"];

/// Deeper nesting than any configuration needs; the limit keeps hostile input from exhausting
/// the stack when the tree is walked or dropped.
const MAX_DEPTH: usize = 64;
/// Nodes per file, counting each use of an alias in full, so that "billion laughs" style alias
/// expansion fails cleanly instead of exhausting memory.
const MAX_NODES: usize = 1_000_000;

/// A YAML node and the line it starts on.
#[derive(Debug, Clone)]
enum Node {
    Scalar(String, usize),
    Seq(Vec<Node>, usize),
    Map(Vec<(Node, Node)>, usize),
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar(_, l) | Node::Seq(_, l) | Node::Map(_, l) => *l,
        }
    }

    fn size(&self) -> usize {
        match self {
            Node::Scalar(..) => 1,
            Node::Seq(items, _) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Node::Map(entries, _) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
        }
    }

    /// What the node is, for "expected X, got Y" messages.
    fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(..) => "a value",
            Node::Seq(..) => "a list",
            Node::Map(..) => "a map",
        }
    }

    /// True for an empty value (`key:`), which stands for an empty map or list too.
    fn is_empty_scalar(&self) -> bool {
        matches!(self, Node::Scalar(s, _) if s.is_empty())
    }
}

/// A container still being read.
enum Open {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

/// Builds the tree from parser events, without recursion.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event, line: usize) -> Result<(), (usize, String)> {
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err((line, "a file may hold only one YAML document".to_owned()));
                }
            }
            Event::Scalar(value, _, anchor, _) => {
                self.complete(Node::Scalar(value, line), anchor)?
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Open::Seq(Vec::new(), line, anchor), line)?
            }
            Event::MappingStart(anchor, _) => {
                self.open(Open::Map(Vec::new(), None, line, anchor), line)?
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(items, l, a)) => (Node::Seq(items, l), a),
                    Some(Open::Map(entries, _, l, a)) => (Node::Map(entries, l), a),
                    None => return Err((line, "unbalanced YAML structure".to_owned())),
                };
                self.complete(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    return Err((line, "alias to an unknown anchor".to_owned()));
                };
                self.nodes += node.size();
                self.complete(node, 0)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn open(&mut self, open: Open, line: usize) -> Result<(), (usize, String)> {
        if self.stack.len() >= MAX_DEPTH {
            return Err((line, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.stack.push(open);
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), (usize, String)> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err((node.line(), "the document is too large".to_owned()));
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(entries, pending, ..)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
        }
        Ok(())
    }
}

fn parse_tree(file: &Arc<Path>, text: &str) -> Result<Option<Node>, ConfigError> {
    let at = |line: usize| Location::new(file.clone(), line);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            ConfigError::at(
                &at(e.marker().line()),
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        if event == Event::StreamEnd {
            break;
        }
        builder
            .event(event, mark.line())
            .map_err(|(line, msg)| ConfigError::at(&at(line), format!("invalid YAML: {msg}")))?;
    }
    Ok(builder.root)
}

pub(crate) fn load(
    loader: &mut Loader<'_>,
    file: &Arc<Path>,
    text: &str,
) -> Result<(), ConfigError> {
    let Some(root) = parse_tree(file, text)? else {
        return Ok(());
    };
    let walker = Walker { file: file.clone() };
    walker.top_level(loader, &root)
}

struct Walker {
    file: Arc<Path>,
}

impl Walker {
    fn at(&self, line: usize) -> Location {
        Location::new(self.file.clone(), line)
    }

    fn error(&self, node: &Node, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.at(node.line()), msg)
    }

    /// The entries of a map; an empty value counts as an empty map.
    fn map<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [(Node, Node)], ConfigError> {
        match node {
            Node::Map(entries, _) => Ok(entries),
            n if n.is_empty_scalar() => Ok(&[]),
            n => Err(self.error(
                n,
                format!(
                    "{what}: expected a map of keys and values, got {}",
                    n.kind()
                ),
            )),
        }
    }

    /// The items of a list; an empty value counts as an empty list.
    fn seq<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node], ConfigError> {
        match node {
            Node::Seq(items, _) => Ok(items),
            n if n.is_empty_scalar() => Ok(&[]),
            n => Err(self.error(n, format!("{what}: expected a list, got {}", n.kind()))),
        }
    }

    fn key<'n>(&self, node: &'n Node) -> Result<&'n str, ConfigError> {
        match node {
            Node::Scalar(key, _) => Ok(key),
            n => Err(self.error(n, format!("expected a key, got {}", n.kind()))),
        }
    }

    /// A property's values: a scalar, or each item of a list of scalars.
    fn values<'n>(&self, node: &'n Node) -> Result<Vec<(&'n str, usize)>, ConfigError> {
        match node {
            Node::Scalar(value, line) => Ok(vec![(value.as_str(), *line)]),
            Node::Seq(items, _) => items
                .iter()
                .map(|item| match item {
                    Node::Scalar(value, line) => Ok((value.as_str(), *line)),
                    n => Err(self.error(
                        n,
                        format!("expected a value in this list, got {}", n.kind()),
                    )),
                })
                .collect(),
            n => Err(self.error(
                n,
                format!("expected a value or a list of values, got {}", n.kind()),
            )),
        }
    }

    fn top_level(&self, loader: &mut Loader<'_>, root: &Node) -> Result<(), ConfigError> {
        for (key_node, value) in self.map(root, "top level")? {
            let key = self.key(key_node)?;
            let lower = key.to_ascii_lowercase();
            let not_yet = |what: &str| {
                self.error(key_node, format!("{what} is not supported by Weir yet"))
                    .with_key(key)
            };
            if loader.parsers_only && matches!(lower.as_str(), "service" | "pipeline") {
                return Err(self
                    .error(
                        key_node,
                        "a parsers file may only hold parsers, multiline_parsers, includes and env",
                    )
                    .with_key(key));
            }
            match lower.as_str() {
                "service" => {
                    let mut section = Section::new(SectionKind::Service, self.at(key_node.line()));
                    self.properties(&mut section, value, "service", &[])?;
                    loader.add_section(section)?;
                }
                "pipeline" => self.pipeline(loader, value)?,
                "parsers" => {
                    for item in self.seq(value, "parsers")? {
                        let mut section = Section::new(SectionKind::Parser, self.at(item.line()));
                        self.properties(&mut section, item, "parser", &[])?;
                        loader.add_section(section)?;
                    }
                }
                "multiline_parsers" => {
                    for item in self.seq(value, "multiline_parsers")? {
                        let section = self.multiline_parser(item)?;
                        loader.add_section(section)?;
                    }
                }
                "includes" => {
                    let paths = if value.is_empty_scalar() {
                        Vec::new()
                    } else {
                        self.values(value).map_err(|e| e.with_key(key))?
                    };
                    for (path, line) in paths {
                        loader.include(path, &self.at(line))?;
                    }
                }
                "env" => {
                    for (name_node, v) in self.map(value, "env")? {
                        let name = self.key(name_node)?;
                        match v {
                            Node::Scalar(v, _) => loader.set_var(name, v),
                            n => {
                                return Err(self
                                    .error(n, format!("expected a value, got {}", n.kind()))
                                    .with_section("env")
                                    .with_key(name))
                            }
                        }
                    }
                }
                "plugins" => return Err(not_yet("'plugins' (external plugin files)")),
                "customs" => return Err(not_yet("'customs' (custom plugins)")),
                "upstream_servers" => return Err(not_yet("'upstream_servers'")),
                _ => {
                    return Err(self
                        .error(
                            key_node,
                            "unknown top-level section; expected service, pipeline, parsers, multiline_parsers, includes or env",
                        )
                        .with_key(key)
                        .with_suggestion(suggest(
                            key,
                            TOP_LEVEL.iter().chain(&TOP_LEVEL_NOT_YET).copied(),
                        )))
                }
            }
        }
        Ok(())
    }

    fn pipeline(&self, loader: &mut Loader<'_>, node: &Node) -> Result<(), ConfigError> {
        for (key_node, value) in self.map(node, "pipeline")? {
            let key = self.key(key_node)?;
            let Some((list, kind)) = PIPELINE.iter().find(|(n, _)| n.eq_ignore_ascii_case(key))
            else {
                let msg = if key.eq_ignore_ascii_case("processors") {
                    "processors are not supported by Weir yet".to_owned()
                } else {
                    "unknown key in pipeline; expected inputs, filters or outputs".to_owned()
                };
                return Err(self
                    .error(key_node, msg)
                    .with_section("pipeline")
                    .with_key(key)
                    .with_suggestion(suggest(key, PIPELINE.iter().map(|(n, _)| *n))));
            };
            for item in self.seq(value, list)? {
                let mut section = Section::new(*kind, self.at(item.line()));
                self.properties(&mut section, item, kind.as_str(), &["processors"])?;
                loader.add_section(section)?;
            }
        }
        Ok(())
    }

    /// Reads a map of properties into `section`; `not_yet` keys are refused.
    fn properties(
        &self,
        section: &mut Section,
        node: &Node,
        what: &str,
        not_yet: &[&str],
    ) -> Result<(), ConfigError> {
        let entries = self.map(node, what)?;
        let described = describe(what, entries);
        for (key_node, value) in entries {
            let key = self.key(key_node)?;
            if not_yet.iter().any(|n| n.eq_ignore_ascii_case(key)) {
                return Err(self
                    .error(key_node, format!("{key} are not supported by Weir yet"))
                    .with_section(described)
                    .with_key(key));
            }
            let values = self
                .values(value)
                .map_err(|e| e.with_section(described.clone()).with_key(key))?;
            for (v, line) in values {
                // A scalar on the key's line points at the key; items of a block list have
                // their own lines.
                let line = if matches!(value, Node::Scalar(..)) {
                    key_node.line()
                } else {
                    line
                };
                section.push(key, v, self.at(line));
            }
        }
        Ok(())
    }

    fn multiline_parser(&self, node: &Node) -> Result<Section, ConfigError> {
        let mut section = Section::new(SectionKind::MultilineParser, self.at(node.line()));
        let entries = self.map(node, "multiline_parser")?;
        let described = describe("multiline_parser", entries);
        for (key_node, value) in entries {
            let key = self.key(key_node)?;
            if key.eq_ignore_ascii_case("rules") {
                for rule in self.seq(value, "rules")? {
                    let rule = self
                        .rule(rule)
                        .map_err(|e| e.with_section(described.clone()))?;
                    section.rules.push(rule);
                }
            } else if key.eq_ignore_ascii_case("rule") {
                // The classic one-line form, for configurations translated line by line.
                for (v, line) in self.values(value)? {
                    let rule = parse_rule(v, &self.at(line))
                        .map_err(|e| e.with_section(described.clone()).with_key(key))?;
                    section.rules.push(rule);
                }
            } else {
                let values = self
                    .values(value)
                    .map_err(|e| e.with_section(described.clone()).with_key(key))?;
                for (v, line) in values {
                    let line = if matches!(value, Node::Scalar(..)) {
                        key_node.line()
                    } else {
                        line
                    };
                    section.push(key, v, self.at(line));
                }
            }
        }
        Ok(section)
    }

    /// `{state: ..., regex: ..., next_state: ...}`.
    fn rule(&self, node: &Node) -> Result<MultilineRule, ConfigError> {
        let mut found: [Option<&str>; 3] = [None; 3];
        for (key_node, value) in self.map(node, "rule")? {
            let key = self.key(key_node)?;
            let Some(i) = RULE_KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)) else {
                return Err(self
                    .error(
                        key_node,
                        "unknown key in rule; expected state, regex and next_state",
                    )
                    .with_key(key)
                    .with_suggestion(suggest(key, RULE_KEYS)));
            };
            match value {
                Node::Scalar(v, _) => found[i] = Some(v),
                n => {
                    return Err(self
                        .error(n, format!("expected a value, got {}", n.kind()))
                        .with_key(key))
                }
            }
        }
        let missing = RULE_KEYS
            .iter()
            .zip(&found)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| *k)
            .collect::<Vec<_>>();
        match found {
            [Some(state), Some(regex), Some(next_state)] => Ok(MultilineRule {
                state: state.to_owned(),
                regex: strip_regex_slashes(regex).to_owned(),
                next_state: next_state.to_owned(),
                location: self.at(node.line()),
            }),
            _ => Err(self.error(node, format!("rule is missing {}", missing.join(" and ")))),
        }
    }
}

/// `input 'tail'` when the map has a scalar `name`, else the bare kind.
fn describe(what: &str, entries: &[(Node, Node)]) -> String {
    let name = entries.iter().find_map(|(k, v)| match (k, v) {
        (Node::Scalar(k, _), Node::Scalar(v, _)) if k.eq_ignore_ascii_case("name") => Some(v),
        _ => None,
    });
    match name {
        Some(name) => format!("{what} '{name}'"),
        None => what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use std::path::PathBuf;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let env = |name: &str| (name == "HOME").then(|| "/home/weir".to_owned());
        let path = PathBuf::from("/etc/weir/weir.yaml");
        let mut loader = Loader::new(&env, false, &path);
        load(&mut loader, &Arc::from(path.as_path()), text)?;
        Ok(loader.finish())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn scalars_keep_their_text_and_lines() {
        let c = parse(
            "service:\n  flush: 0.2\n  http_server: on\n  empty:\npipeline:\n  inputs:\n    - name: tail\n      read_from_head: true\n      path: ${HOME}/x.log\n  outputs:\n    - name: 'null'\n      match: \"*\"\n",
        )
        .unwrap();
        let get = |s: &Section, k: &str| s.get(k).map(|p| p.value.clone());
        assert_eq!(get(&c.service, "flush").as_deref(), Some("0.2"));
        assert_eq!(get(&c.service, "http_server").as_deref(), Some("on"));
        assert_eq!(get(&c.service, "empty").as_deref(), Some(""));
        assert_eq!(c.service.location.line, 1);
        assert_eq!(c.service.get("flush").unwrap().location.line, 2);
        let input = &c.inputs[0];
        assert_eq!(input.location.line, 7);
        assert_eq!(get(input, "read_from_head").as_deref(), Some("true"));
        assert_eq!(get(input, "path").as_deref(), Some("/home/weir/x.log"));
        assert_eq!(input.get("path").unwrap().location.line, 9);
        assert_eq!(c.outputs[0].name(), Some("null"));
        assert_eq!(get(&c.outputs[0], "match").as_deref(), Some("*"));
    }

    #[test]
    fn lists_become_repeated_properties() {
        let c = parse(
            "pipeline:\n  filters:\n    - name: modify\n      add: [k v, k2 v2]\n    - name: rewrite_tag\n      rule:\n        - $a ^x$ new false\n        - $b ^y$ other true\n",
        )
        .unwrap();
        let all = |s: &Section, k: &str| s.get_all(k).map(|p| p.value.clone()).collect::<Vec<_>>();
        assert_eq!(all(&c.filters[0], "add"), ["k v", "k2 v2"]);
        assert_eq!(
            all(&c.filters[1], "rule"),
            ["$a ^x$ new false", "$b ^y$ other true"]
        );
        let lines: Vec<_> = c.filters[1]
            .get_all("rule")
            .map(|p| p.location.line)
            .collect();
        assert_eq!(lines, [7, 8]);
    }

    #[test]
    fn anchors_and_aliases() {
        let c = parse(
            "pipeline:\n  outputs:\n    - &out\n      name: stdout\n      match: '*'\n    - *out\n",
        )
        .unwrap();
        assert_eq!(c.outputs.len(), 2);
        assert_eq!(c.outputs[1].name(), Some("stdout"));
    }

    #[test]
    fn multiline_rules() {
        let c = parse(
            "multiline_parsers:\n  - name: ml\n    type: regex\n    flush_timeout: 1000\n    rules:\n      - state: start_state\n        regex: '/^\\d{4}-/'\n        next_state: cont\n      - state: cont\n        regex: '/^\\s+at/'\n        next_state: cont\n",
        )
        .unwrap();
        let ml = &c.multiline_parsers[0];
        assert_eq!(ml.name(), Some("ml"));
        assert_eq!(ml.rules.len(), 2);
        assert_eq!(ml.rules[0].regex, "^\\d{4}-");
        assert_eq!(ml.rules[1].state, "cont");
        assert_eq!(ml.rules[1].location.line, 9);
        assert!(ml.get("rules").is_none());
    }

    #[test]
    fn empty_documents() {
        assert_eq!(parse("").unwrap().inputs.len(), 0);
        assert_eq!(parse("# only a comment\n").unwrap().inputs.len(), 0);
        assert_eq!(parse("---\n").unwrap().inputs.len(), 0);
        assert_eq!(parse("pipeline:\n  inputs:\n").unwrap().inputs.len(), 0);
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("servce:\n  flush: 1\n"),
            "/etc/weir/weir.yaml:1: key 'servce': unknown top-level section; expected service, pipeline, parsers, multiline_parsers, includes or env; did you mean 'service'?"
        );
        assert_eq!(
            error("pipeline:\n  inputs:\n    - name: dummy\n      processors:\n        logs: []\n"),
            "/etc/weir/weir.yaml:4: input 'dummy': key 'processors': processors are not supported by Weir yet"
        );
        assert_eq!(
            error("plugins:\n  - /x.so\n"),
            "/etc/weir/weir.yaml:1: key 'plugins': 'plugins' (external plugin files) is not supported by Weir yet"
        );
        assert_eq!(
            error("pipeline:\n  input:\n    - name: dummy\n"),
            "/etc/weir/weir.yaml:2: pipeline: key 'input': unknown key in pipeline; expected inputs, filters or outputs; did you mean 'inputs'?"
        );
        assert_eq!(
            error("pipeline:\n  inputs:\n    - name: dummy\n      tag:\n        a: b\n"),
            "/etc/weir/weir.yaml:5: input 'dummy': key 'tag': expected a value or a list of values, got a map"
        );
        assert_eq!(
            error("service:\n  flush: [1\n"),
            "/etc/weir/weir.yaml:3: invalid YAML: while parsing a flow sequence, expected ',' or ']'"
        );
        assert_eq!(
            error("a: 1\n---\nb: 2\n"),
            "/etc/weir/weir.yaml:2: invalid YAML: a file may hold only one YAML document"
        );
        assert_eq!(
            error("- 1\n"),
            "/etc/weir/weir.yaml:1: top level: expected a map of keys and values, got a list"
        );
        assert_eq!(
            error("multiline_parsers:\n  - name: ml\n    rules:\n      - state: a\n        regex: /x/\n"),
            "/etc/weir/weir.yaml:4: multiline_parser 'ml': rule is missing next_state"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(error(&format!("a: {deep}\n")).contains("invalid YAML"));
        let deep_block: String = (0..100)
            .map(|i| format!("{}- \n", " ".repeat(i * 2)))
            .collect();
        assert!(parse(&deep_block).is_err());
    }

    #[test]
    fn alias_bombs_fail_cleanly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        assert!(error(&text).contains("too large"));
    }
}
