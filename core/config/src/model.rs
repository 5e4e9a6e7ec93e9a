//! The configuration model that both file formats load into.
//!
//! A [`Config`] is a list of [`Section`]s of each kind; a section is an ordered list of
//! [`Property`]s (key as written, value after `${VAR}` expansion, and where it was written).
//! Nothing here knows about plugins: checking keys and values against a plugin's parameter table
//! is [`crate::params::validate`]'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a key or section was written: a file and a 1-based line.
///
/// Values given on the command line (`-p key=value`) have no file; their location is
/// [`Location::command_line`] and displays as `command line`. Line 0 means "the file as a whole"
/// (for example the service section of a file that has none) and displays as the path alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: Arc<Path>,
    pub line: usize,
}

impl Location {
    pub fn new(file: Arc<Path>, line: usize) -> Self {
        Location { file, line }
    }

    /// The location of a value given on the command line.
    pub fn command_line() -> Self {
        Location {
            file: Arc::from(Path::new("")),
            line: 0,
        }
    }

    /// True for [`Location::command_line`].
    pub fn is_command_line(&self) -> bool {
        self.file.as_os_str().is_empty()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_command_line() {
            f.write_str("command line")
        } else if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// One `key value` of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The key as written (keys compare case-insensitively; this keeps the user's spelling for
    /// messages).
    pub key: String,
    /// The value after `${VAR}` expansion.
    pub value: String,
    pub location: Location,
}

/// The kinds of sections both formats know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionKind {
    Service,
    Input,
    Filter,
    Output,
    Parser,
    MultilineParser,
}

impl SectionKind {
    /// Lowercase name as used in messages: `service`, `input`, ..., `multiline_parser`.
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Service => "service",
            SectionKind::Input => "input",
            SectionKind::Filter => "filter",
            SectionKind::Output => "output",
            SectionKind::Parser => "parser",
            SectionKind::MultilineParser => "multiline_parser",
        }
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of a multiline parser: in `state`, a line matching `regex` moves to `next_state`.
///
/// `regex` is the pattern without the `/.../` delimiters Fluent Bit's syntax wraps it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultilineRule {
    pub state: String,
    pub regex: String,
    pub next_state: String,
    pub location: Location,
}

/// A `[INPUT]`, `pipeline.inputs[n]`, `[SERVICE]`, ... section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    /// Where the section starts (the `[INPUT]` line, or the first line of the YAML map).
    pub location: Location,
    /// Properties in the order written. A key may repeat; see [`Section::get`].
    pub properties: Vec<Property>,
    /// Multiline parser rules, in order (only [`SectionKind::MultilineParser`] has them).
    pub rules: Vec<MultilineRule>,
}

impl Section {
    pub fn new(kind: SectionKind, location: Location) -> Self {
        Section {
            kind,
            location,
            properties: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// Appends a property (values given here are taken as they are: no `${VAR}` expansion).
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>, location: Location) {
        self.properties.push(Property {
            key: key.into(),
            value: value.into(),
            location,
        });
    }

    /// The property `key` (compared case-insensitively); when the key repeats, the last one wins,
    /// as in Fluent Bit.
    pub fn get(&self, key: &str) -> Option<&Property> {
        self.properties
            .iter()
            .rev()
            .find(|p| p.key.eq_ignore_ascii_case(key))
    }

    /// Every property `key` (case-insensitive), in the order written.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties
            .iter()
            .filter(move |p| p.key.eq_ignore_ascii_case(key))
    }

    /// The `name` property: the plugin of an input, filter or output, the name of a parser.
    pub fn name(&self) -> Option<&str> {
        self.get("name").map(|p| p.value.as_str())
    }

    /// How messages refer to this section: `input 'tail'`, `parser 'json'`, `service`, or the
    /// bare kind when the section has no name.
    pub fn describe(&self) -> String {
        match (self.kind, self.name()) {
            (SectionKind::Service, _) | (_, None) => self.kind.as_str().to_owned(),
            (kind, Some(name)) => format!("{kind} '{name}'"),
        }
    }
}

/// A whole configuration: the main file and everything it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The service section; when several files (or several `[SERVICE]` sections) set it, their
    /// properties are appended in reading order, so the last value of a key wins.
    pub service: Section,
    pub inputs: Vec<Section>,
    pub filters: Vec<Section>,
    pub outputs: Vec<Section>,
    pub parsers: Vec<Section>,
    pub multiline_parsers: Vec<Section>,
    /// Every file read, the main file first, then includes in reading order (each once).
    pub files: Vec<PathBuf>,
    /// Variables defined by `@SET` and `env:` (not the process environment). A parsers file
    /// named by `service.parsers_file` should see them too: pass a lookup that tries these first.
    pub variables: BTreeMap<String, String>,
    /// Things worth telling the user that do not stop loading (an undefined variable, an include
    /// glob that matched nothing), each starting with its location.
    pub warnings: Vec<String>,
}

impl Default for Config {
    /// An empty configuration whose service section sits on the command line: the starting
    /// point for `weir -i dummy -o stdout` style pipelines.
    fn default() -> Self {
        Config {
            service: Section::new(SectionKind::Service, Location::command_line()),
            inputs: Vec::new(),
            filters: Vec::new(),
            outputs: Vec::new(),
            parsers: Vec::new(),
            multiline_parsers: Vec::new(),
            files: Vec::new(),
            variables: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// Every section: service, inputs, filters, outputs, parsers, multiline parsers.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        std::iter::once(&self.service)
            .chain(&self.inputs)
            .chain(&self.filters)
            .chain(&self.outputs)
            .chain(&self.parsers)
            .chain(&self.multiline_parsers)
    }

    /// Mutable access to every section (used to expand variables once loading is done).
    pub(crate) fn sections_mut(&mut self) -> impl Iterator<Item = &mut Section> {
        std::iter::once(&mut self.service)
            .chain(&mut self.inputs)
            .chain(&mut self.filters)
            .chain(&mut self.outputs)
            .chain(&mut self.parsers)
            .chain(&mut self.multiline_parsers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: usize) -> Location {
        Location::new(Arc::from(Path::new("/etc/weir/weir.conf")), line)
    }

    #[test]
    fn get_is_case_insensitive_and_last_wins() {
        let mut s = Section::new(SectionKind::Input, loc(1));
        s.push("Name", "tail", loc(2));
        s.push("Path", "/a", loc(3));
        s.push("PATH", "/b", loc(4));
        assert_eq!(s.name(), Some("tail"));
        assert_eq!(s.get("path").map(|p| p.value.as_str()), Some("/b"));
        let all: Vec<_> = s.get_all("path").map(|p| p.value.as_str()).collect();
        assert_eq!(all, ["/a", "/b"]);
        assert_eq!(s.describe(), "input 'tail'");
    }

    #[test]
    fn location_display() {
        assert_eq!(loc(12).to_string(), "/etc/weir/weir.conf:12");
        assert_eq!(loc(0).to_string(), "/etc/weir/weir.conf");
        assert_eq!(Location::command_line().to_string(), "command line");
        assert!(Location::command_line().is_command_line());
    }
}
