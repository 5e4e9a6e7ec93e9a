//! Parameter tables: one table per plugin drives validation, defaults, help and docs.
//!
//! A plugin declares its parameters once, as a `static` slice of [`ParamSpec`] built with
//! `const` builder methods:
//!
//! ```
//! use weir_config::ParamSpec;
//!
//! static TAIL: &[ParamSpec] = &[
//!     ParamSpec::str("path").required().desc("Pattern of the files to read"),
//!     ParamSpec::time("refresh_interval").default("60").desc("How often to look for new files"),
//!     ParamSpec::size("buffer_chunk_size").default("32k").desc("Initial read buffer size"),
//!     ParamSpec::bool("read_from_head").default("off").desc("Read new files from the start"),
//!     ParamSpec::str("db.journal_mode").not_yet().desc("SQLite journal mode"),
//! ];
//! ```
//!
//! [`validate`] checks one section against one or more tables (the engine's common keys such as
//! `tag` and `match`, then the plugin's own) and returns [`Params`]: typed access to the values,
//! defaults applied, each value still knowing its file and line so that a plugin can report a
//! problem it finds later (a regex that does not compile) at the right place with
//! [`Params::error`].

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::error::{suggest, ConfigError};
use crate::model::{Location, Property, Section};
use crate::values::{parse_bool, parse_double, parse_duration, parse_int, parse_size, split_words};

/// The type of a parameter's value, which fixes the syntax it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    /// Any text.
    Str,
    /// A signed integer ([`parse_int`]).
    Int,
    /// A floating-point number ([`parse_double`]).
    Double,
    /// `on`/`off`, `true`/`false`, `yes`/`no` ([`parse_bool`]).
    Bool,
    /// Bytes with an optional unit: `32k`, `5M`, `1G` ([`parse_size`]).
    Size,
    /// A duration: seconds, or a number with `ms`, `s`, `m`, `h`, `d` ([`parse_duration`]).
    Time,
    /// A comma-separated list; items are trimmed and empty items dropped ([`Params::list`]).
    CommaList,
    /// A key and a value separated by a space, the rest of the line being the value: Fluent
    /// Bit's `add key value` ([`Params::pairs`]). Quoted tokens are read as in
    /// [`split_words`].
    SpaceList,
    /// Any key that starts with the parameter's name, such as `rdkafka.` for options passed
    /// through to a library; values are text ([`Params::prefixed`]).
    Prefix,
}

impl ParamType {
    /// The name shown in help and the JSON schema.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Str => "string",
            ParamType::Int => "integer",
            ParamType::Double => "double",
            ParamType::Bool => "boolean",
            ParamType::Size => "size",
            ParamType::Time => "time",
            ParamType::CommaList => "comma list",
            ParamType::SpaceList => "space list",
            ParamType::Prefix => "prefix",
        }
    }

    /// What a valid value looks like, phrased to follow "expected".
    pub fn expected(self) -> &'static str {
        match self {
            ParamType::Str | ParamType::Prefix => "a string",
            ParamType::Int => "an integer",
            ParamType::Double => "a number like 1 or 0.5",
            ParamType::Bool => "a boolean (on, off, true, false, yes, no)",
            ParamType::Size => "a size like 32k, 5M, 1G or a number of bytes",
            ParamType::Time => "a duration like 5, 1.5, 10s, 2m",
            ParamType::CommaList => "a comma-separated list",
            ParamType::SpaceList => "a key and a value separated by a space",
        }
    }

    /// Whether `value` is valid for this type.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            ParamType::Str | ParamType::Prefix | ParamType::CommaList => true,
            ParamType::Int => parse_int(value).is_some(),
            ParamType::Double => parse_double(value).is_some(),
            ParamType::Bool => parse_bool(value).is_some(),
            ParamType::Size => parse_size(value).is_some(),
            ParamType::Time => parse_duration(value).is_some(),
            ParamType::SpaceList => split_words(value, 1).len() == 2,
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether Weir implements a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Support {
    Supported,
    /// Fluent Bit has it, Weir does not yet: using it is an error rather than a silently ignored
    /// setting.
    NotYet,
    /// Accepted for compatibility, with a warning ([`Params::warnings`]).
    Deprecated,
}

/// One parameter of a plugin (or of the service, or of a parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// Lowercase name (keys compare case-insensitively). For [`ParamType::Prefix`], the prefix.
    pub name: &'static str,
    pub ty: ParamType,
    /// Value used when the user gives none, written as a user would write it.
    pub default: Option<&'static str>,
    /// May be given several times; every value is kept ([`Params::all`]).
    pub multiple: bool,
    pub required: bool,
    pub description: &'static str,
    pub support: Support,
}

impl ParamSpec {
    pub const fn new(name: &'static str, ty: ParamType) -> Self {
        ParamSpec {
            name,
            ty,
            default: None,
            multiple: false,
            required: false,
            description: "",
            support: Support::Supported,
        }
    }
    pub const fn str(name: &'static str) -> Self {
        Self::new(name, ParamType::Str)
    }
    pub const fn int(name: &'static str) -> Self {
        Self::new(name, ParamType::Int)
    }
    pub const fn double(name: &'static str) -> Self {
        Self::new(name, ParamType::Double)
    }
    pub const fn bool(name: &'static str) -> Self {
        Self::new(name, ParamType::Bool)
    }
    pub const fn size(name: &'static str) -> Self {
        Self::new(name, ParamType::Size)
    }
    pub const fn time(name: &'static str) -> Self {
        Self::new(name, ParamType::Time)
    }
    pub const fn comma_list(name: &'static str) -> Self {
        Self::new(name, ParamType::CommaList)
    }
    /// A `key value` parameter; usually also [`ParamSpec::multiple`].
    pub const fn space_list(name: &'static str) -> Self {
        Self::new(name, ParamType::SpaceList)
    }
    /// Every key starting with `prefix` (for example `rdkafka.`); implies
    /// [`ParamSpec::multiple`].
    pub const fn prefix(prefix: &'static str) -> Self {
        Self::new(prefix, ParamType::Prefix).multiple()
    }

    pub const fn default(self, value: &'static str) -> Self {
        ParamSpec {
            default: Some(value),
            ..self
        }
    }
    pub const fn required(self) -> Self {
        ParamSpec {
            required: true,
            ..self
        }
    }
    pub const fn multiple(self) -> Self {
        ParamSpec {
            multiple: true,
            ..self
        }
    }
    pub const fn desc(self, description: &'static str) -> Self {
        ParamSpec {
            description,
            ..self
        }
    }
    pub const fn not_yet(self) -> Self {
        ParamSpec {
            support: Support::NotYet,
            ..self
        }
    }
    pub const fn deprecated(self) -> Self {
        ParamSpec {
            support: Support::Deprecated,
            ..self
        }
    }

    /// Whether the lowercase `key` names this parameter.
    fn matches(&self, key: &str) -> bool {
        if self.ty == ParamType::Prefix {
            key.len() > self.name.len()
                && key.is_char_boundary(self.name.len())
                && key[..self.name.len()].eq_ignore_ascii_case(self.name)
        } else {
            key.eq_ignore_ascii_case(self.name)
        }
    }
}

/// Checks a table for mistakes a plugin author can make: names not lowercase or repeated, a
/// default that its own type rejects, a required parameter with a default, a prefix with a
/// default, a missing description. Meant for each plugin's unit tests.
pub fn check_table(table: &[ParamSpec]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for spec in table {
        let name = spec.name;
        if name.is_empty() || name != name.to_ascii_lowercase() {
            return Err(format!(
                "parameter '{name}': names must be lowercase and not empty"
            ));
        }
        if !seen.insert(name) {
            return Err(format!("parameter '{name}' is declared twice"));
        }
        if let Some(default) = spec.default {
            if !spec.ty.accepts(default) {
                return Err(format!(
                    "parameter '{name}': default '{default}' is not {}",
                    spec.ty.expected()
                ));
            }
            if spec.required {
                return Err(format!("parameter '{name}' is required and has a default"));
            }
            if spec.ty == ParamType::Prefix {
                return Err(format!("prefix parameter '{name}' cannot have a default"));
            }
        }
        if spec.description.is_empty() {
            return Err(format!("parameter '{name}' has no description"));
        }
    }
    Ok(())
}

/// The validated parameters of one section: typed access, defaults applied.
///
/// Accessors take the parameter's name in any case. Asking for a name that is in none of the
/// tables gives `None` (or an empty list): the tables are the single source of truth, so such a
/// lookup is a bug that a plugin's tests will show, not something to crash on.
#[derive(Debug, Clone)]
pub struct Params {
    what: String,
    location: Location,
    slots: Vec<Slot>,
    index: HashMap<String, usize>,
    prefixed: Vec<(usize, Property)>,
    /// Every value that counts, in the order written, with its lowercase key ([`Params::entries`]).
    given: Vec<(String, Property)>,
    warnings: Vec<String>,
}

#[derive(Debug, Clone)]
struct Slot {
    spec: ParamSpec,
    values: Vec<Property>,
}

impl Params {
    fn slot(&self, key: &str) -> Option<&Slot> {
        self.index
            .get(&key.to_ascii_lowercase())
            .map(|&i| &self.slots[i])
    }

    /// The value of `key`: the last one given (Fluent Bit's rule for repeated keys), else the
    /// default.
    pub fn str(&self, key: &str) -> Option<&str> {
        let slot = self.slot(key)?;
        match slot.values.last() {
            Some(p) => Some(&p.value),
            None => slot.spec.default,
        }
    }

    pub fn string_or(&self, key: &str, default: &str) -> String {
        self.str(key).unwrap_or(default).to_owned()
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.str(key).and_then(parse_bool)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.str(key).and_then(parse_int)
    }

    pub fn double(&self, key: &str) -> Option<f64> {
        self.str(key).and_then(parse_double)
    }

    pub fn size(&self, key: &str) -> Option<u64> {
        self.str(key).and_then(parse_size)
    }

    pub fn time(&self, key: &str) -> Option<Duration> {
        self.str(key).and_then(parse_duration)
    }

    /// The items of a comma-separated value, trimmed, empty items dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.str(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every value of `key` in the order given; the default alone when none was given.
    pub fn all(&self, key: &str) -> Vec<&str> {
        match self.slot(key) {
            Some(slot) if slot.values.is_empty() => slot.spec.default.into_iter().collect(),
            Some(slot) => slot.values.iter().map(|p| p.value.as_str()).collect(),
            None => Vec::new(),
        }
    }

    /// Every value of a [`ParamType::SpaceList`] key split into its key and the rest of the
    /// value: `add pipeline edge bench` gives `("pipeline", "edge bench")`.
    pub fn pairs(&self, key: &str) -> Vec<(String, String)> {
        self.all(key)
            .into_iter()
            .map(|v| {
                let mut words = split_words(v, 1).into_iter();
                let first = words.next().unwrap_or_default();
                (first, words.next().unwrap_or_default())
            })
            .collect()
    }

    /// The keys given under a [`ParamType::Prefix`] parameter, with the prefix removed, and their
    /// values, in order: for `rdkafka.`, `rdkafka.log_level 7` gives `("log_level", "7")`.
    pub fn prefixed(&self, prefix: &str) -> Vec<(&str, &str)> {
        let Some(&slot) = self.index.get(&prefix.to_ascii_lowercase()) else {
            return Vec::new();
        };
        self.prefixed
            .iter()
            .filter(|(s, _)| *s == slot)
            .map(|(_, p)| {
                let rest = p.key.get(self.slots[slot].spec.name.len()..).unwrap_or("");
                (rest, p.value.as_str())
            })
            .collect()
    }

    /// Every value the user gave, across all keys, in the order written: the lowercase key,
    /// the value and where it was written.
    ///
    /// This is for plugins whose parameters act one after the other, such as `modify`'s rules,
    /// where `set a X` before `rename a b` differs from the reverse. It lists the same values the
    /// other accessors see: a key that takes one value and was given several times appears once,
    /// at the place of its last value; defaults are not listed; `name` appears only when a table
    /// declares it. Keys under a [`ParamType::Prefix`] parameter are listed whole
    /// (`rdkafka.log_level`).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, &Location)> + '_ {
        self.given
            .iter()
            .map(|(key, p)| (key.as_str(), p.value.as_str(), &p.location))
    }

    /// Where `key` was set (its last value), `None` when it has its default.
    pub fn location(&self, key: &str) -> Option<&Location> {
        self.slot(key)?.values.last().map(|p| &p.location)
    }

    /// Where the section starts.
    pub fn section_location(&self) -> &Location {
        &self.location
    }

    /// How messages name the section: `input 'tail'`.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Whether the user gave `key` (rather than it having its default).
    pub fn is_set(&self, key: &str) -> bool {
        self.slot(key).is_some_and(|s| !s.values.is_empty())
    }

    /// An error about `key` found after validation (a regex that does not compile, two keys that
    /// exclude each other), pointing at the line that set it, or at the section when it was not
    /// set.
    pub fn error(&self, key: &str, msg: impl Into<String>) -> ConfigError {
        let (location, written) = match self.slot(key).and_then(|s| s.values.last()) {
            Some(p) => (&p.location, p.key.as_str()),
            None => (&self.location, key),
        };
        ConfigError::at(location, msg)
            .with_section(self.what.clone())
            .with_key(written)
    }

    /// Non-fatal remarks found while validating (a key repeated where only one value counts, a
    /// deprecated key), each starting with its location.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Checks `section` against `tables` and returns its typed parameters.
///
/// - A key in none of the tables is an error that suggests the nearest known key.
/// - A key marked [`Support::NotYet`] is an error; a [`Support::Deprecated`] one a warning.
/// - A value its type rejects is an error that says what was expected.
/// - A required key that is missing is an error at the section's first line.
/// - A key given twice that is not `multiple`: the last value wins, as in Fluent Bit's core, and
///   a warning says so.
/// - `name` (which picks the plugin) is skipped unless a table declares it.
///
/// When tables repeat a name, the first table's entry is used, so pass the engine's common keys
/// first.
pub fn validate(
    section: &Section,
    tables: &[&[ParamSpec]],
    what: &str,
) -> Result<Params, ConfigError> {
    let mut params = Params {
        what: what.to_owned(),
        location: section.location.clone(),
        slots: Vec::new(),
        index: HashMap::new(),
        prefixed: Vec::new(),
        given: Vec::new(),
        warnings: Vec::new(),
    };
    let mut prefixes = Vec::new();
    for spec in tables.iter().flat_map(|t| t.iter()) {
        let name = spec.name.to_ascii_lowercase();
        if params.index.contains_key(&name) {
            continue;
        }
        params.index.insert(name, params.slots.len());
        if spec.ty == ParamType::Prefix {
            prefixes.push(params.slots.len());
        }
        params.slots.push(Slot {
            spec: *spec,
            values: Vec::new(),
        });
    }

    let err = |p: &Property, msg: String| {
        ConfigError::at(&p.location, msg)
            .with_section(what)
            .with_key(p.key.clone())
    };

    for prop in &section.properties {
        let key = prop.key.to_ascii_lowercase();
        let found = params
            .index
            .get(&key)
            .copied()
            .filter(|&i| params.slots[i].spec.ty != ParamType::Prefix)
            .or_else(|| {
                prefixes
                    .iter()
                    .copied()
                    .find(|&i| params.slots[i].spec.matches(&key))
            });
        let Some(i) = found else {
            if key == "name" {
                continue;
            }
            let names = params.slots.iter().map(|s| s.spec.name);
            return Err(
                err(prop, "unknown parameter".to_owned()).with_suggestion(suggest(&key, names))
            );
        };
        let spec = params.slots[i].spec;
        match spec.support {
            Support::Supported => {}
            Support::NotYet => {
                return Err(err(
                    prop,
                    "this parameter is not supported by Weir yet".to_owned(),
                ));
            }
            Support::Deprecated => params.warnings.push(format!(
                "{}: {what}: key '{}' is deprecated",
                prop.location, prop.key
            )),
        }
        if !spec.ty.accepts(&prop.value) {
            return Err(err(
                prop,
                format!("expected {}, got '{}'", spec.ty.expected(), prop.value),
            ));
        }
        if spec.ty == ParamType::Prefix {
            params.prefixed.push((i, prop.clone()));
        }
        let slot = &mut params.slots[i];
        if !spec.multiple && !slot.values.is_empty() {
            params.warnings.push(format!(
                "{}: {what}: key '{}' is set more than once; the last value wins",
                prop.location, prop.key
            ));
            slot.values.clear();
            params.given.retain(|(k, _)| k != &key);
        }
        slot.values.push(prop.clone());
        params.given.push((key, prop.clone()));
    }

    if let Some(missing) = params
        .slots
        .iter()
        .find(|s| s.spec.required && s.values.is_empty())
    {
        return Err(ConfigError::at(
            &section.location,
            format!("missing required parameter '{}'", missing.spec.name),
        )
        .with_section(what));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SectionKind;
    use std::path::Path;
    use std::sync::Arc;

    static COMMON: &[ParamSpec] = &[
        ParamSpec::str("tag").desc("Tag of the records"),
        ParamSpec::str("alias").desc("Name in metrics"),
    ];
    static TAIL: &[ParamSpec] = &[
        ParamSpec::str("path").required().desc("Files to read"),
        ParamSpec::str("exclude_path").desc("Files to skip"),
        ParamSpec::time("refresh_interval")
            .default("60")
            .desc("Rescan period"),
        ParamSpec::size("buffer_chunk_size")
            .default("32k")
            .desc("Read buffer"),
        ParamSpec::bool("read_from_head")
            .default("off")
            .desc("Start at the top"),
        ParamSpec::int("rotate_wait")
            .default("5")
            .desc("Seconds to keep rotated files"),
        ParamSpec::double("ratio").default("0.5").desc("A ratio"),
        ParamSpec::comma_list("parsers").desc("Parsers to try"),
        ParamSpec::space_list("add")
            .multiple()
            .desc("Key and value to add"),
        ParamSpec::prefix("rdkafka.").desc("Passed to the library"),
        ParamSpec::str("db.journal_mode")
            .not_yet()
            .desc("SQLite journal mode"),
        ParamSpec::str("old_key").deprecated().desc("Old spelling"),
    ];

    fn loc(line: usize) -> Location {
        Location::new(Arc::from(Path::new("/etc/weir/weir.conf")), line)
    }

    fn section(props: &[(&str, &str)]) -> Section {
        let mut s = Section::new(SectionKind::Input, loc(1));
        for (i, (k, v)) in props.iter().enumerate() {
            s.push(*k, *v, loc(i + 2));
        }
        s
    }

    fn check(props: &[(&str, &str)]) -> Result<Params, ConfigError> {
        validate(&section(props), &[COMMON, TAIL], "input 'tail'")
    }

    #[test]
    fn tables_are_well_formed() {
        check_table(COMMON).unwrap();
        check_table(TAIL).unwrap();
        assert!(check_table(&[ParamSpec::bool("x").default("maybe").desc("d")]).is_err());
        assert!(check_table(&[ParamSpec::str("X").desc("d")]).is_err());
        assert!(
            check_table(&[ParamSpec::str("x").desc("d"), ParamSpec::str("x").desc("d")]).is_err()
        );
        assert!(check_table(&[ParamSpec::str("x").required().default("a").desc("d")]).is_err());
        assert!(check_table(&[ParamSpec::str("x")]).is_err());
    }

    #[test]
    fn typed_values_and_defaults() {
        let p = check(&[
            ("Name", "tail"),
            ("Path", "/var/log/*.log"),
            ("Refresh_Interval", "1.5"),
            ("read_from_head", "On"),
            ("parsers", "json, ,regex "),
            ("add", "k1 v1"),
            ("ADD", "k2 a longer value"),
            ("rdkafka.Log_Level", "7"),
            ("tag", "a"),
            ("tag", "b"),
        ])
        .unwrap();
        assert_eq!(p.str("path"), Some("/var/log/*.log"));
        assert_eq!(
            p.time("refresh_interval"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(p.size("buffer_chunk_size"), Some(32_000));
        assert_eq!(p.bool("read_from_head"), Some(true));
        assert_eq!(p.int("rotate_wait"), Some(5));
        assert_eq!(p.double("ratio"), Some(0.5));
        assert_eq!(p.list("parsers"), ["json", "regex"]);
        assert_eq!(p.all("add"), ["k1 v1", "k2 a longer value"]);
        assert_eq!(
            p.pairs("add"),
            [
                ("k1".to_owned(), "v1".to_owned()),
                ("k2".to_owned(), "a longer value".to_owned())
            ]
        );
        assert_eq!(p.prefixed("rdkafka."), [("Log_Level", "7")]);
        assert_eq!(p.str("tag"), Some("b"));
        assert_eq!(p.warnings().len(), 1, "{:?}", p.warnings());
        assert!(p.warnings()[0].contains("key 'tag' is set more than once"));
        assert!(p.is_set("PATH"));
        assert!(!p.is_set("rotate_wait"));
        assert_eq!(p.location("path").map(|l| l.line), Some(3));
        assert_eq!(p.location("rotate_wait"), None);
        assert_eq!(p.section_location().line, 1);
        assert_eq!(p.string_or("exclude_path", "none"), "none");
        assert_eq!(p.str("not_in_any_table"), None);
        assert!(p.all("not_in_any_table").is_empty());
        assert_eq!(p.all("rotate_wait"), ["5"]);
    }

    #[test]
    fn later_errors_point_at_the_key() {
        let p = check(&[("path", "/x"), ("Exclude_Path", "[")]).unwrap();
        assert_eq!(
            p.error("exclude_path", "invalid glob").to_string(),
            "/etc/weir/weir.conf:3: input 'tail': key 'Exclude_Path': invalid glob"
        );
        assert_eq!(
            p.error("rotate_wait", "too small").to_string(),
            "/etc/weir/weir.conf:1: input 'tail': key 'rotate_wait': too small"
        );
    }

    fn message(props: &[(&str, &str)]) -> String {
        check(props).unwrap_err().to_string()
    }

    #[test]
    fn errors() {
        assert_eq!(
            message(&[("pth", "/x")]),
            "/etc/weir/weir.conf:2: input 'tail': key 'pth': unknown parameter; did you mean 'path'?"
        );
        assert_eq!(
            message(&[("path", "/x"), ("refresh_interval", "abc")]),
            "/etc/weir/weir.conf:3: input 'tail': key 'refresh_interval': expected a duration like 5, 1.5, 10s, 2m, got 'abc'"
        );
        assert_eq!(
            message(&[("path", "/x"), ("DB.journal_mode", "wal")]),
            "/etc/weir/weir.conf:3: input 'tail': key 'DB.journal_mode': this parameter is not supported by Weir yet"
        );
        assert_eq!(
            message(&[("tag", "x")]),
            "/etc/weir/weir.conf:1: input 'tail': missing required parameter 'path'"
        );
        assert_eq!(
            message(&[("path", "/x"), ("add", "lonely")]),
            "/etc/weir/weir.conf:3: input 'tail': key 'add': expected a key and a value separated by a space, got 'lonely'"
        );
        assert!(message(&[("path", "/x"), ("rdkafka.", "x")]).contains("unknown parameter"));
        assert!(
            message(&[("path", "/x"), ("buffer_chunk_size", "lots")]).contains("expected a size")
        );
    }

    #[test]
    fn name_is_a_parameter_only_when_declared() {
        assert!(check(&[("name", "tail"), ("path", "/x")]).is_ok());
        static PARSER: &[ParamSpec] = &[
            ParamSpec::str("name").required().desc("Parser name"),
            ParamSpec::str("format").desc("Format"),
        ];
        let s = section(&[("format", "json")]);
        let e = validate(&s, &[PARSER], "parser").unwrap_err();
        assert_eq!(e.message, "missing required parameter 'name'");
    }

    #[test]
    fn entries_follow_the_written_order_across_keys() {
        let p = check(&[
            ("Name", "tail"),
            ("ADD", "k1 v1"),
            ("path", "/a"),
            ("add", "k2 v2"),
            ("rdkafka.Log_Level", "7"),
            ("Path", "/b"),
        ])
        .unwrap();
        let got: Vec<_> = p.entries().map(|(k, v, l)| (k, v, l.line)).collect();
        assert_eq!(
            got,
            [
                ("add", "k1 v1", 3),
                ("add", "k2 v2", 5),
                ("rdkafka.log_level", "7", 6),
                ("path", "/b", 7),
            ],
            "name skipped, the overridden path dropped, keys lowercase, no defaults"
        );
    }

    #[test]
    fn deprecated_keys_warn() {
        let p = check(&[("path", "/x"), ("old_key", "v")]).unwrap();
        assert!(p.warnings()[0].ends_with("key 'old_key' is deprecated"));
    }
}
