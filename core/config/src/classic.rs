//! Fluent Bit's classic format:
//!
//! ```text
//! @SET LOG_DIR=/var/log
//! @INCLUDE outputs/*.conf
//!
//! [SERVICE]
//!     flush     1
//!
//! [INPUT]
//!     name      tail
//!     path      ${LOG_DIR}/*.log
//!
//! [MULTILINE_PARSER]
//!     name      java
//!     type      regex
//!     rule      "start_state"  "/^\d{4}-/"  "cont"
//!     rule      "cont"         "/^\s+at/"   "cont"
//! ```
//!
//! Section names are case-insensitive. A property line is a key, blanks, and the value (the rest
//! of the line, trimmed; a `#` inside it is part of the value). Lines whose first non-blank
//! character is `#` are comments. Fluent Bit insists that every key of a section be indented the
//! same way; Weir accepts any indentation, which reads every file Fluent Bit reads.
//! `@INCLUDE` ends the section it appears in (the included file starts its own), `@SET` does not.

use std::path::Path;
use std::sync::Arc;

use crate::error::{suggest, ConfigError};
use crate::load::{strip_regex_slashes, Loader};
use crate::model::{Location, MultilineRule, Section, SectionKind};
use crate::values::split_words;

const SECTIONS: [(&str, SectionKind); 6] = [
    ("SERVICE", SectionKind::Service),
    ("INPUT", SectionKind::Input),
    ("FILTER", SectionKind::Filter),
    ("OUTPUT", SectionKind::Output),
    ("PARSER", SectionKind::Parser),
    ("MULTILINE_PARSER", SectionKind::MultilineParser),
];

/// Sections Fluent Bit has that Weir does not implement yet.
const NOT_YET: [&str; 4] = ["CUSTOM", "PLUGINS", "UPSTREAM", "NODE"];

pub(crate) fn load(
    loader: &mut Loader<'_>,
    file: &Arc<Path>,
    text: &str,
) -> Result<(), ConfigError> {
    let mut current: Option<Section> = None;
    for (index, raw) in text.lines().enumerate() {
        let location = Location::new(file.clone(), index + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if let Some(section) = current.take() {
                loader.add_section(section)?;
            }
            current = Some(section_header(header, &location)?);
        } else if let Some(command) = line.strip_prefix('@') {
            let (word, arg) = split_key(command);
            if word.eq_ignore_ascii_case("INCLUDE") {
                if let Some(section) = current.take() {
                    loader.add_section(section)?;
                }
                loader.include(arg, &location)?;
            } else if word.eq_ignore_ascii_case("SET") {
                set_variable(loader, arg, &location)?;
            } else {
                return Err(ConfigError::at(
                    &location,
                    format!("unknown command '@{word}'; expected @INCLUDE or @SET"),
                )
                .with_suggestion(suggest(word, ["INCLUDE", "SET"]).map(|s| format!("@{s}"))));
            }
        } else {
            let (key, value) = split_key(line);
            let Some(section) = current.as_mut() else {
                return Err(ConfigError::at(
                    &location,
                    "expected a section header such as [SERVICE] or [INPUT] before this key",
                )
                .with_key(key));
            };
            if value.is_empty() {
                return Err(ConfigError::at(&location, "expected a value after the key")
                    .with_section(section.kind.as_str())
                    .with_key(key));
            }
            if section.kind == SectionKind::MultilineParser && key.eq_ignore_ascii_case("rule") {
                let rule = parse_rule(value, &location).map_err(|e| e.with_key(key))?;
                section.rules.push(rule);
            } else {
                section.push(key, value, location);
            }
        }
    }
    if let Some(section) = current {
        loader.add_section(section)?;
    }
    Ok(())
}

/// `header` is the line after its `[`.
fn section_header(header: &str, location: &Location) -> Result<Section, ConfigError> {
    let Some(name) = header.strip_suffix(']') else {
        return Err(ConfigError::at(
            location,
            "expected ']' at the end of the section header",
        ));
    };
    let name = name.trim();
    if let Some((_, kind)) = SECTIONS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Ok(Section::new(*kind, location.clone()));
    }
    if NOT_YET.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Err(ConfigError::at(
            location,
            format!("section [{name}] is not supported by Weir yet"),
        ));
    }
    Err(ConfigError::at(
        location,
        format!(
            "unknown section [{name}]; expected SERVICE, INPUT, FILTER, OUTPUT, PARSER or MULTILINE_PARSER"
        ),
    )
    .with_suggestion(suggest(name, SECTIONS.iter().map(|(n, _)| *n))))
}

/// `@SET NAME=VALUE`: blanks around the name and the value are dropped; the value may be empty
/// and is taken as written (no expansion inside variable definitions, as in Fluent Bit).
fn set_variable(
    loader: &mut Loader<'_>,
    arg: &str,
    location: &Location,
) -> Result<(), ConfigError> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(ConfigError::at(
            location,
            format!("expected @SET NAME=VALUE, got '@SET {arg}'"),
        ));
    };
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(ConfigError::at(
            location,
            format!("expected a variable name without blanks before '=', got '{name}'"),
        ));
    }
    loader.set_var(name, value.trim());
    Ok(())
}

/// Splits `key   rest of the line` into the key and the trimmed rest.
fn split_key(line: &str) -> (&str, &str) {
    match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    }
}

/// A multiline parser rule: `"state" "/regex/" "next_state"` (quotes are optional around
/// tokens without blanks; `\"` inside quotes is a quote).
pub(crate) fn parse_rule(value: &str, location: &Location) -> Result<MultilineRule, ConfigError> {
    let words = split_words(value, 0);
    let [state, regex, next_state]: [String; 3] = words.try_into().map_err(|_| {
        ConfigError::at(
            location,
            format!(
                "expected a rule like \"start_state\" \"/regex/\" \"next_state\", got '{value}'"
            ),
        )
    })?;
    Ok(MultilineRule {
        state,
        regex: strip_regex_slashes(&regex).to_owned(),
        next_state,
        location: location.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use std::path::PathBuf;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let env = |name: &str| (name == "HOME").then(|| "/home/weir".to_owned());
        let path = PathBuf::from("/etc/weir/weir.conf");
        let mut loader = Loader::new(&env, false, &path);
        load(&mut loader, &Arc::from(path.as_path()), text)?;
        Ok(loader.finish())
    }

    #[test]
    fn sections_keys_and_comments() {
        let c = parse(
            "# comment\n[SERVICE]\n    Flush 1\n    Log_Level  info  \n\n[input]\n  Name tail\n\tPath ${HOME}/*.log # not a comment\n[Output]\nName stdout\nMatch *\n",
        )
        .unwrap();
        assert_eq!(c.service.location.line, 2);
        assert_eq!(c.service.get("flush").map(|p| p.value.as_str()), Some("1"));
        assert_eq!(
            c.service.get("log_level").map(|p| p.value.as_str()),
            Some("info")
        );
        assert_eq!(c.inputs.len(), 1);
        let path = c.inputs[0].get("path").unwrap();
        assert_eq!(path.value, "/home/weir/*.log # not a comment");
        assert_eq!(path.key, "Path");
        assert_eq!(path.location.line, 8);
        assert_eq!(c.outputs[0].name(), Some("stdout"));
    }

    #[test]
    fn multiline_rules() {
        let c = parse(
            "[MULTILINE_PARSER]\n  name ml\n  type regex\n  rule \"start_state\" \"/^(\\d+) \\\"q\\\"/\" \"cont\"\n  rule cont /^\\s+at/ cont\n",
        )
        .unwrap();
        let ml = &c.multiline_parsers[0];
        assert_eq!(ml.rules.len(), 2);
        assert_eq!(ml.rules[0].state, "start_state");
        assert_eq!(ml.rules[0].regex, "^(\\d+) \"q\"");
        assert_eq!(ml.rules[0].next_state, "cont");
        assert_eq!(ml.rules[1].regex, "^\\s+at");
        assert_eq!(ml.rules[1].location.line, 5);
        assert!(ml.get("rule").is_none());
    }

    #[test]
    fn set_defines_variables_used_anywhere() {
        let c = parse("[INPUT]\n  name dummy\n  tag ${TAG}\n@SET TAG = app.x\n").unwrap();
        assert_eq!(c.inputs[0].get("tag").unwrap().value, "app.x");
        assert_eq!(c.variables.get("TAG").map(String::as_str), Some("app.x"));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn undefined_variable_warns() {
        let c = parse("[INPUT]\n  name dummy\n  tag a${NOPE}b\n").unwrap();
        assert_eq!(c.inputs[0].get("tag").unwrap().value, "ab");
        assert_eq!(
            c.warnings,
            ["/etc/weir/weir.conf:3: key 'tag': variable 'NOPE' is not defined; it expands to an empty string"]
        );
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("Flush 1\n"),
            "/etc/weir/weir.conf:1: key 'Flush': expected a section header such as [SERVICE] or [INPUT] before this key"
        );
        assert_eq!(
            error("[INPUTS]\n"),
            "/etc/weir/weir.conf:1: unknown section [INPUTS]; expected SERVICE, INPUT, FILTER, OUTPUT, PARSER or MULTILINE_PARSER; did you mean 'INPUT'?"
        );
        assert_eq!(
            error("[CUSTOM]\n"),
            "/etc/weir/weir.conf:1: section [CUSTOM] is not supported by Weir yet"
        );
        assert_eq!(
            error("[INPUT\n"),
            "/etc/weir/weir.conf:1: expected ']' at the end of the section header"
        );
        assert_eq!(
            error("[INPUT]\n  name\n"),
            "/etc/weir/weir.conf:2: input: key 'name': expected a value after the key"
        );
        assert_eq!(
            error("@INCLDE x.conf\n"),
            "/etc/weir/weir.conf:1: unknown command '@INCLDE'; expected @INCLUDE or @SET; did you mean '@INCLUDE'?"
        );
        assert_eq!(
            error("@SET novalue\n"),
            "/etc/weir/weir.conf:1: expected @SET NAME=VALUE, got '@SET novalue'"
        );
        assert!(error("[MULTILINE_PARSER]\n rule a b\n").contains("expected a rule like"));
    }
}
