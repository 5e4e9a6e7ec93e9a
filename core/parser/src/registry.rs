//! [`ParserRegistry`]: the parsers and multiline parsers of a configuration, by name.

use crate::multiline::{builtin, MultilineParser};
use crate::parser::Parser;
use std::collections::HashMap;
use std::sync::Arc;

/// Parsers and multiline parsers by name. [`ParserRegistry::new`] holds the built-in multiline
/// parsers (`docker`, `cri`, `go`, `python`, `java`, `ruby`).
#[derive(Debug, Clone)]
pub struct ParserRegistry {
    parsers: HashMap<String, Arc<Parser>>,
    multiline: HashMap<String, Arc<MultilineParser>>,
}

impl Default for ParserRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl ParserRegistry {
    pub fn new() -> Self {
        let multiline = builtin::NAMES
            .iter()
            .filter_map(|n| builtin::get(n).map(|p| (n.to_string(), Arc::new(p))))
            .collect();
        Self {
            parsers: HashMap::new(),
            multiline,
        }
    }

    /// The parser named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Parser>> {
        self.parsers.get(name).cloned()
    }

    /// The multiline parser named `name`.
    pub fn multiline(&self, name: &str) -> Option<Arc<MultilineParser>> {
        self.multiline.get(name).cloned()
    }

    /// Adds a parser, replacing one of the same name.
    pub fn insert(&mut self, parser: Parser) -> Arc<Parser> {
        let p = Arc::new(parser);
        self.parsers.insert(p.name().to_owned(), Arc::clone(&p));
        p
    }

    /// Adds a multiline parser, replacing one of the same name (built-ins included).
    pub fn insert_multiline(&mut self, parser: MultilineParser) -> Arc<MultilineParser> {
        let p = Arc::new(parser);
        self.multiline.insert(p.name().to_owned(), Arc::clone(&p));
        p
    }

    /// Names of the parsers, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.parsers.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Names of the multiline parsers, sorted.
    pub fn multiline_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.multiline.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}
