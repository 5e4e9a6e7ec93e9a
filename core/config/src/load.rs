//! Reading configuration files: picking the format, following includes, expanding variables.
//!
//! Loading has two phases, as in Fluent Bit. First every file is read (the main file, then each
//! include where it appears) and its sections and variables collected with raw values. Then every
//! value is expanded with all variables known, so a variable may be used before the `@SET` or
//! `env:` that defines it, or in another file; when a variable is defined twice, the last
//! definition read wins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::ConfigError;
use crate::model::{Config, Location, Section, SectionKind};
use crate::vars::expand_vars;
use crate::{classic, yaml};

/// The two file formats Fluent Bit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Classic,
}

impl Format {
    /// By extension, as Fluent Bit decides: `.yaml` and `.yml` (in any case) are YAML, anything
    /// else is the classic format.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => {
                Format::Yaml
            }
            _ => Format::Classic,
        }
    }
}

/// Includes nest at most this deep: far beyond any real configuration, and it stops runaway
/// recursion through symlinks that canonicalization cannot see through.
const MAX_INCLUDE_DEPTH: usize = 32;

/// The state of one load: what has been read so far.
pub(crate) struct Loader<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    /// Reading a parsers file: only parser sections, includes and variables are allowed.
    pub(crate) parsers_only: bool,
    config: Config,
    service_seen: bool,
    /// Canonical paths of the files being read, outermost first, to detect include loops.
    stack: Vec<PathBuf>,
}

impl<'e> Loader<'e> {
    pub(crate) fn new(
        env: &'e dyn Fn(&str) -> Option<String>,
        parsers_only: bool,
        main: &Path,
    ) -> Self {
        let mut config = Config::default();
        config.service.location = Location::new(Arc::from(main), 0);
        Loader {
            env,
            parsers_only,
            config,
            service_seen: false,
            stack: Vec::new(),
        }
    }

    /// Reads and loads a file; `from` is the include line that names it (`None` for the main
    /// file).
    pub(crate) fn load_file(
        &mut self,
        path: &Path,
        from: Option<&Location>,
    ) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let reason = io_reason(&e);
            match from {
                Some(at) => ConfigError::at(
                    at,
                    format!("cannot read included file '{}': {reason}", path.display()),
                ),
                None => ConfigError::at(
                    &Location::new(Arc::from(path), 0),
                    format!("cannot read configuration file: {reason}"),
                ),
            }
        })?;
        self.load_text(path, &text, Format::from_path(path), from)
    }

    pub(crate) fn load_text(
        &mut self,
        path: &Path,
        text: &str,
        format: Format,
        from: Option<&Location>,
    ) -> Result<(), ConfigError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let at = from
            .cloned()
            .unwrap_or_else(|| Location::new(Arc::from(path), 0));
        if self.stack.contains(&canonical) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| p.display().to_string())
                .collect();
            return Err(ConfigError::at(
                &at,
                format!("include loop: {}", chain.join(" includes ")),
            ));
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::at(
                &at,
                format!("includes are nested more than {MAX_INCLUDE_DEPTH} deep"),
            ));
        }
        if !self.config.files.iter().any(|f| f == path) {
            self.config.files.push(path.to_path_buf());
        }
        self.stack.push(canonical);
        let file: Arc<Path> = Arc::from(path);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let result = match format {
            Format::Yaml => yaml::load(self, &file, text),
            Format::Classic => classic::load(self, &file, text),
        };
        self.stack.pop();
        result
    }

    /// Loads the files an include line names: a path or a glob pattern, relative to the
    /// directory of the file that holds the line.
    ///
    /// A plain path that cannot be read is an error. A pattern (with `*`, `?` or `[`) loads every
    /// regular file it matches in name order; matching nothing is only a warning, so an empty
    /// `conf.d/` does not stop the collector.
    pub(crate) fn include(&mut self, pattern: &str, at: &Location) -> Result<(), ConfigError> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(ConfigError::at(at, "expected a file path to include"));
        }
        let base = at.file.parent().unwrap_or(Path::new(""));
        if !pattern.contains(['*', '?', '[']) {
            return self.load_file(&base.join(pattern), Some(at));
        }
        let full = if Path::new(pattern).is_absolute() || base.as_os_str().is_empty() {
            pattern.to_owned()
        } else {
            let Some(base) = base.to_str() else {
                return Err(ConfigError::at(
                    at,
                    "cannot expand an include pattern under a directory whose name is not UTF-8",
                ));
            };
            format!("{}/{pattern}", glob::Pattern::escape(base))
        };
        let entries = glob::glob(&full).map_err(|e| {
            ConfigError::at(at, format!("invalid include pattern '{pattern}': {e}"))
        })?;
        let mut matched = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| {
                ConfigError::at(
                    at,
                    format!("cannot expand include pattern '{pattern}': {e}"),
                )
            })?;
            if path.is_file() {
                matched.push(path);
            }
        }
        if matched.is_empty() {
            self.warn(format!("{at}: include pattern '{pattern}' matches no file"));
        }
        for path in matched {
            self.load_file(&path, Some(at))?;
        }
        Ok(())
    }

    /// Adds a finished section; the service section merges with any earlier one.
    pub(crate) fn add_section(&mut self, section: Section) -> Result<(), ConfigError> {
        let config = &mut self.config;
        if self.parsers_only
            && !matches!(
                section.kind,
                SectionKind::Parser | SectionKind::MultilineParser
            )
        {
            return Err(ConfigError::at(
                &section.location,
                format!(
                    "a parsers file may only define parsers and multiline parsers, not {}",
                    section.describe()
                ),
            ));
        }
        match section.kind {
            SectionKind::Service => {
                if !self.service_seen {
                    self.service_seen = true;
                    config.service.location = section.location;
                }
                config.service.properties.extend(section.properties);
            }
            SectionKind::Input => config.inputs.push(section),
            SectionKind::Filter => config.filters.push(section),
            SectionKind::Output => config.outputs.push(section),
            SectionKind::Parser => config.parsers.push(section),
            SectionKind::MultilineParser => config.multiline_parsers.push(section),
        }
        Ok(())
    }

    pub(crate) fn set_var(&mut self, name: &str, value: &str) {
        self.config
            .variables
            .insert(name.to_owned(), value.to_owned());
    }

    pub(crate) fn warn(&mut self, message: String) {
        self.config.warnings.push(message);
    }

    /// Expands `${VAR}` in every value and returns the configuration.
    pub(crate) fn finish(self) -> Config {
        let Loader {
            env, mut config, ..
        } = self;
        let variables: BTreeMap<String, String> = config.variables.clone();
        let lookup = |name: &str| variables.get(name).cloned().or_else(|| env(name));
        let mut warnings = Vec::new();
        let mut expand = |value: &mut String, location: &Location, key: &str| {
            if !value.contains("${") {
                return;
            }
            let (expanded, undefined) = expand_vars(value, &lookup);
            for name in undefined {
                warnings.push(format!(
                    "{location}: key '{key}': variable '{name}' is not defined; it expands to an empty string"
                ));
            }
            *value = expanded;
        };
        for section in config.sections_mut() {
            for p in &mut section.properties {
                expand(&mut p.value, &p.location, &p.key);
            }
            for r in &mut section.rules {
                expand(&mut r.state, &r.location, "rule");
                expand(&mut r.regex, &r.location, "rule");
                expand(&mut r.next_state, &r.location, "rule");
            }
        }
        config.warnings.extend(warnings);
        config
    }
}

/// An I/O error in words, without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::InvalidData => "the file is not valid UTF-8 text".to_owned(),
        _ => e.to_string(),
    }
}

/// Strips the `/.../` that Fluent Bit's multiline rules wrap a regex in.
pub(crate) fn strip_regex_slashes(regex: &str) -> &str {
    regex
        .strip_prefix('/')
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or(regex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_by_extension() {
        assert_eq!(Format::from_path(Path::new("a/weir.yaml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("weir.YML")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("weir.conf")), Format::Classic);
        assert_eq!(Format::from_path(Path::new("weir")), Format::Classic);
    }

    #[test]
    fn regex_slashes() {
        assert_eq!(strip_regex_slashes("/a.*b/"), "a.*b");
        assert_eq!(strip_regex_slashes("a.*b"), "a.*b");
        assert_eq!(strip_regex_slashes("/"), "/");
        assert_eq!(strip_regex_slashes("//"), "");
    }
}
