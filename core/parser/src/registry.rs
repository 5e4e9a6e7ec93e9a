//! [`ParserRegistry`]: the parsers and multiline parsers of a configuration, by name, and how
//! they are read from `[PARSER]` and `[MULTILINE_PARSER]` sections (both configuration formats
//! load into those). [`PARSER_PARAMS`] and [`MULTILINE_PARAMS`] are the parameter tables that
//! validate the sections, so unknown keys get a suggestion.

use crate::decoder::DecodeKind;
use crate::multiline::{builtin, MultilineConfig, MultilineParser};
use crate::parser::{Parser, ParserConfig};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use weir_config::{validate, ConfigError, ParamSpec, Params, Section};

/// Parsers and multiline parsers by name. [`ParserRegistry::new`] holds the built-in multiline
/// parsers (`docker`, `cri`, `go`, `python`, `java`, `ruby`).
///
/// Built-in multiline parsers and bundled parsers ([`ParserRegistry::add_deferred_sections`])
/// are built the first time they are asked for: compiling a dozen regular expressions that a
/// configuration never names would cost an idle edge host a megabyte for nothing.
#[derive(Clone, Default)]
pub struct ParserRegistry {
    parsers: HashMap<String, Arc<Lazy<Parser>>>,
    multiline: HashMap<String, Arc<Lazy<MultilineParser>>>,
}

impl std::fmt::Debug for ParserRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParserRegistry")
            .field("parsers", &self.names())
            .field("multiline", &self.multiline_names())
            .finish()
    }
}

type Maker<T> = Box<dyn Fn() -> Option<T> + Send + Sync>;

/// A value built on first use (or given ready), then shared.
struct Lazy<T> {
    cell: OnceLock<Option<Arc<T>>>,
    make: Option<Maker<T>>,
}

impl<T> Lazy<T> {
    fn ready(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Some(Arc::new(value)));
        Self { cell, make: None }
    }

    fn deferred(make: impl Fn() -> Option<T> + Send + Sync + 'static) -> Self {
        Self {
            cell: OnceLock::new(),
            make: Some(Box::new(make)),
        }
    }

    fn get(&self) -> Option<Arc<T>> {
        self.cell
            .get_or_init(|| self.make.as_ref().and_then(|m| m()).map(Arc::new))
            .clone()
    }
}

impl ParserRegistry {
    pub fn new() -> Self {
        let multiline = builtin::NAMES
            .iter()
            .map(|n| {
                let name: &'static str = n;
                (
                    name.to_string(),
                    Arc::new(Lazy::deferred(move || builtin::get(name))),
                )
            })
            .collect();
        Self {
            parsers: HashMap::new(),
            multiline,
        }
    }

    /// The parser named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Parser>> {
        self.parsers.get(name)?.get()
    }

    /// The multiline parser named `name`.
    pub fn multiline(&self, name: &str) -> Option<Arc<MultilineParser>> {
        self.multiline.get(name)?.get()
    }

    /// Adds a parser, replacing one of the same name.
    pub fn insert(&mut self, parser: Parser) -> Arc<Parser> {
        let p = Arc::new(parser);
        let cell = OnceLock::new();
        let _ = cell.set(Some(Arc::clone(&p)));
        self.parsers
            .insert(p.name().to_owned(), Arc::new(Lazy { cell, make: None }));
        p
    }

    /// Adds a multiline parser, replacing one of the same name (built-ins included).
    pub fn insert_multiline(&mut self, parser: MultilineParser) -> Arc<MultilineParser> {
        let name = parser.name().to_owned();
        let lazy = Lazy::ready(parser);
        let p = lazy.get().expect("a ready value is present");
        self.multiline.insert(name, Arc::new(lazy));
        p
    }

    /// Adds `[PARSER]` sections to be built the first time they are asked for (Weir's bundled
    /// parsers). Sections without a name, and names already defined, are left out. A section
    /// that fails to build is simply absent: the bundled file is tested to build completely.
    pub fn add_deferred_sections(&mut self, parsers: Vec<Section>) {
        for s in parsers {
            let Some(name) = s.name().map(str::to_owned) else {
                continue;
            };
            if self.parsers.contains_key(&name) {
                continue;
            }
            let make = move || {
                let what = section_name(&s, "parser");
                let params = validate(&s, &[PARSER_PARAMS], &what).ok()?;
                Parser::new(&parser_config(&s, &params)).ok()
            };
            self.parsers.insert(name, Arc::new(Lazy::deferred(make)));
        }
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

/// Parameters of a `[PARSER]` section (all formats share one table, as in Fluent Bit).
pub const PARSER_PARAMS: &[ParamSpec] = &[
    ParamSpec::str("name")
        .required()
        .desc("Name of the parser, used by inputs and filters."),
    ParamSpec::str("format")
        .required()
        .desc("Format of the parser: json, regex, ltsv or logfmt."),
    ParamSpec::str("regex")
        .desc("Ruby-syntax regular expression with named captures (format regex)."),
    ParamSpec::str("time_key").desc("Field that holds the record time (default: time)."),
    ParamSpec::str("time_format")
        .desc("strptime format of the time field; %L reads fractional seconds."),
    ParamSpec::bool("time_keep")
        .default("off")
        .desc("Keep the time field in the record after reading it."),
    ParamSpec::str("time_offset").desc("Fixed UTC offset, like +0200, for times without a zone."),
    ParamSpec::bool("time_strict")
        .default("on")
        .desc("Require times to match time_format fully."),
    ParamSpec::bool("time_system_timezone")
        .default("off")
        .desc("Use the system time zone for times without a zone."),
    ParamSpec::str("time_zone")
        .not_yet()
        .desc("IANA time zone for times without a zone."),
    ParamSpec::str("types")
        .desc("Field types: 'key:integer key2:bool'; string, integer, bool, float, hex."),
    ParamSpec::str("decode_field").multiple().desc(
        "'<decoder> <field> [try_next|do_next]': decode a field and add its keys to the record.",
    ),
    ParamSpec::str("decode_field_as")
        .multiple()
        .desc("'<decoder> <field> [try_next|do_next]': replace a field by its decoded value."),
    ParamSpec::bool("skip_empty_values")
        .default("on")
        .desc("Leave out empty regex captures."),
    ParamSpec::bool("logfmt_no_bare_keys")
        .default("off")
        .desc("Reject logfmt lines with keys without values."),
];

/// Parameters of a `[MULTILINE_PARSER]` section.
pub const MULTILINE_PARAMS: &[ParamSpec] = &[
    ParamSpec::str("name")
        .required()
        .desc("Name of the multiline parser."),
    ParamSpec::str("type")
        .required()
        .desc("regex, endswith or equal."),
    ParamSpec::str("match_string")
        .desc("String that ends (endswith) or equals (equal) the last line of a message."),
    ParamSpec::bool("negate")
        .default("off")
        .desc("Invert the match of endswith and equal."),
    ParamSpec::str("flush_timeout")
        .default("4000")
        .desc("Milliseconds (or a duration like 4s) after which a pending message is flushed."),
    ParamSpec::str("key_content").desc("Field holding the text to join, for structured lines."),
    ParamSpec::str("key_group").desc("Field whose value separates streams (stdout, stderr)."),
    ParamSpec::str("key_pattern").desc("Field the rules test, when not key_content."),
    ParamSpec::str("parser").desc("Parser applied to each line before the rules."),
    ParamSpec::str("rule")
        .multiple()
        .desc("'state' '/regex/' 'next_state' (format regex)."),
];

impl ParserRegistry {
    /// Adds the parsers of `[PARSER]` sections, then the multiline parsers of
    /// `[MULTILINE_PARSER]` sections (which may name those parsers). Errors name the file, the
    /// line and the key. A multiline parser may replace a built-in one.
    ///
    /// A parser name defined twice keeps its first definition and returns a warning, as
    /// Fluent Bit does ("parser named 'x' already exists, skip"): configurations that load the
    /// stock parsers file next to their own copy of one of its parsers keep working. Unlike
    /// Fluent Bit, the parsers after the duplicate are still loaded.
    pub fn add_sections(
        &mut self,
        parsers: &[Section],
        multiline: &[Section],
    ) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        for s in parsers {
            let what = section_name(s, "parser");
            let params = validate(s, &[PARSER_PARAMS], &what)?;
            let cfg = parser_config(s, &params);
            if self.parsers.contains_key(&cfg.name) {
                let at = params.location("name").unwrap_or(params.section_location());
                warnings.push(format!(
                    "{at}: parser named '{}' already exists, skip",
                    cfg.name
                ));
                continue;
            }
            let parser = Parser::new(&cfg).map_err(|e| params.error(e.key, e.message))?;
            self.insert(parser);
        }
        for s in multiline {
            let what = section_name(s, "multiline_parser");
            let params = validate(s, &[MULTILINE_PARAMS], &what)?;
            let (cfg, parser_name) = multiline_config(s, &params)?;
            let parser = match parser_name {
                Some(n) => Some(self.get(&n).ok_or_else(|| {
                    let mut names = self.names();
                    names.sort_unstable();
                    params
                        .error("parser", format!("no parser named '{n}' is defined"))
                        .with_suggestion(weir_config::suggest(&n, names))
                })?),
                None => None,
            };
            let ml = MultilineParser::new(&cfg, parser).map_err(|e| {
                match e.rule.and_then(|i| s.rules.get(i)) {
                    Some(rule) => ConfigError::at(&rule.location, e.message)
                        .with_section(what.clone())
                        .with_key("rule"),
                    None => params.error(e.key, e.message),
                }
            })?;
            self.insert_multiline(ml);
        }
        Ok(warnings)
    }
}

fn section_name(s: &Section, kind: &str) -> String {
    match s.get("name") {
        Some(p) => format!("{kind} '{}'", p.value),
        None => kind.to_owned(),
    }
}

fn parser_config(s: &Section, params: &Params) -> ParserConfig {
    let text = |k: &str| params.str(k).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut cfg = ParserConfig::new(
        params.str("name").unwrap_or_default(),
        params.str("format").unwrap_or_default(),
    );
    cfg.regex = text("regex");
    cfg.time_key = text("time_key");
    cfg.time_format = text("time_format");
    cfg.time_keep = params.bool("time_keep").unwrap_or(false);
    cfg.time_offset = text("time_offset");
    cfg.time_strict = params.bool("time_strict").unwrap_or(true);
    cfg.time_system_timezone = params.bool("time_system_timezone").unwrap_or(false);
    cfg.types = text("types");
    cfg.skip_empty_values = params.bool("skip_empty_values").unwrap_or(true);
    cfg.logfmt_no_bare_keys = params.bool("logfmt_no_bare_keys").unwrap_or(false);
    // Decoder rules keep their order across both keys.
    for p in &s.properties {
        let kind = if p.key.eq_ignore_ascii_case("decode_field") {
            DecodeKind::Field
        } else if p.key.eq_ignore_ascii_case("decode_field_as") {
            DecodeKind::FieldAs
        } else {
            continue;
        };
        cfg.decoders.push((kind, p.value.clone()));
    }
    cfg
}

fn multiline_config(
    s: &Section,
    params: &Params,
) -> Result<(MultilineConfig, Option<String>), ConfigError> {
    let text = |k: &str| params.str(k).filter(|v| !v.is_empty()).map(str::to_owned);
    let timeout = params.str("flush_timeout").unwrap_or("4000");
    let flush_timeout = match timeout.trim().parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => weir_config::parse_duration(timeout).ok_or_else(|| {
            params.error(
                "flush_timeout",
                format!("expected milliseconds or a duration like 4s, got '{timeout}'"),
            )
        })?,
    };
    let mut rules: Vec<(String, String, String)> = s
        .rules
        .iter()
        .map(|r| (r.state.clone(), r.regex.clone(), r.next_state.clone()))
        .collect();
    for value in params.all("rule") {
        let words = weir_config::split_words(value, 0);
        let [state, regex, next]: [String; 3] = words.try_into().map_err(|_| {
            params.error(
                "rule",
                format!("expected \"state\" \"/regex/\" \"next_state\", got '{value}'"),
            )
        })?;
        rules.push((state, regex, next));
    }
    let cfg = MultilineConfig {
        name: params.str("name").unwrap_or_default().to_owned(),
        kind: params.str("type").unwrap_or_default().to_owned(),
        match_string: params.str("match_string").map(str::to_owned),
        negate: params.bool("negate").unwrap_or(false),
        flush_timeout: Some(flush_timeout),
        key_content: text("key_content"),
        key_group: text("key_group"),
        key_pattern: text("key_pattern"),
        rules,
    };
    Ok((cfg, text("parser")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> Result<ParserRegistry, ConfigError> {
        let cfg = weir_config::parse_str(
            text,
            Path::new("/etc/weir/parsers.conf"),
            weir_config::Format::Classic,
            &|_| None,
        )?;
        let mut reg = ParserRegistry::new();
        reg.add_sections(&cfg.parsers, &cfg.multiline_parsers)?;
        Ok(reg)
    }

    #[test]
    fn a_duplicate_parser_keeps_the_first_and_warns() {
        let cfg = weir_config::parse_str(
            "[PARSER]\n    Name p\n    Format json\n[PARSER]\n    Name p\n    Format logfmt\n[PARSER]\n    Name q\n    Format json\n",
            Path::new("/etc/weir/parsers.conf"),
            weir_config::Format::Classic,
            &|_| None,
        )
        .unwrap();
        let mut reg = ParserRegistry::new();
        let warnings = reg
            .add_sections(&cfg.parsers, &cfg.multiline_parsers)
            .unwrap();
        assert_eq!(
            warnings,
            vec!["/etc/weir/parsers.conf:5: parser named 'p' already exists, skip".to_string()]
        );
        let mut out = Vec::new();
        assert!(
            reg.get("p").unwrap().parse(br#"{"a":1}"#, &mut out).is_ok(),
            "the first (json) definition wins"
        );
        assert!(
            reg.get("q").is_some(),
            "parsers after the duplicate are loaded"
        );
    }

    #[test]
    fn deferred_sections_build_on_first_use() {
        let cfg = weir_config::parse_str(
            "[PARSER]\n    Name lazy\n    Format regex\n    Regex ^(?<a>.*)$\n",
            Path::new("/x.conf"),
            weir_config::Format::Classic,
            &|_| None,
        )
        .unwrap();
        let mut reg = ParserRegistry::new();
        reg.add_deferred_sections(cfg.parsers.clone());
        assert_eq!(reg.names(), vec!["lazy"]);
        let p = reg.get("lazy").expect("built when asked for");
        assert!(Arc::ptr_eq(&p, &reg.get("lazy").unwrap()), "built once");
    }

    #[test]
    fn builtins_are_there() {
        let reg = ParserRegistry::new();
        for n in ["docker", "cri", "go", "python", "java", "ruby"] {
            assert!(reg.multiline(n).is_some(), "{n}");
        }
        assert!(reg.get("docker").is_none());
    }

    #[test]
    fn sections_define_parsers() {
        let reg = load(
            "[PARSER]\n    Name  p1\n    Format regex\n    Regex ^(?<a>.*)$\n    Decode_Field_As escaped a\n\n\
             [MULTILINE_PARSER]\n    Name ml\n    Type regex\n    Flush_Timeout 1000\n    Parser p1\n    Key_Content a\n\
                 Rule \"start_state\" \"/^start/\" \"cont\"\n    Rule \"cont\" \"/^ /\" \"cont\"\n",
        )
        .unwrap();
        assert!(reg.get("p1").is_some());
        let ml = reg.multiline("ml").unwrap();
        assert_eq!(ml.flush_timeout(), Duration::from_millis(1000));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases = [
            ("[PARSER]\n    Name p\n    Format regex\n    Regex (?=x)\n", "line 4", "regex"),
            ("[PARSER]\n    Name p\n    Format xml\n", "line 3", "format"),
            ("[PARSER]\n    Name p\n    Format json\n    Time_Format %Q\n", "line 4", "time_format"),
            ("[PARSER]\n    Name p\n    Format logfmt\n    Types a:int\n", "line 4", "types"),
            ("[PARSER]\n    Name p\n    Format json\n    Time_Kep on\n", "line 4", "time_kep"),
            ("[MULTILINE_PARSER]\n    Name m\n    Type regex\n    Rule \"start_state\" \"/(/\" \"x\"\n", "line 4", "rule"),
            ("[MULTILINE_PARSER]\n    Name m\n    Type endswith\n    Parser nope\n", "line 4", "nope"),
        ];
        for (text, line, key) in cases {
            let err = load(text)
                .err()
                .unwrap_or_else(|| panic!("accepted: {text}"))
                .to_string()
                .to_ascii_lowercase();
            assert!(err.contains("/etc/weir/parsers.conf"), "{err}");
            assert!(err.contains(&line.replace("line ", ":")), "{err}");
            assert!(err.contains(key), "{err}");
        }
    }
}
