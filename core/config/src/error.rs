//! One error type for everything that can be wrong with a configuration.
//!
//! A [`ConfigError`] says where (file and line), in what (section, key), what was expected, and
//! when the mistake looks like a typo, what the user probably meant:
//!
//! ```text
//! /etc/weir/weir.yaml:12: input 'tail': key 'pth': unknown parameter; did you mean 'path'?
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

use crate::model::Location;

/// A configuration problem, with as much of its context as is known.
///
/// The details sit behind a box so that `Result<T, ConfigError>` stays small on the paths that
/// succeed; they read as fields all the same (`err.message`, `err.line`) through `Deref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(Box<ErrorDetails>);

/// The parts of a [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetails {
    pub file: Option<PathBuf>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
    /// True when the value came from the command line rather than a file.
    pub command_line: bool,
    /// The section, as [`crate::Section::describe`] writes it: `input 'tail'`.
    pub section: Option<String>,
    /// The key as the user wrote it.
    pub key: Option<String>,
    /// What is wrong, ideally phrased as what was expected.
    pub message: String,
    /// The nearest known name, when the error is about an unknown one.
    pub suggestion: Option<String>,
}

impl Deref for ConfigError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl DerefMut for ConfigError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl From<ErrorDetails> for ConfigError {
    fn from(details: ErrorDetails) -> Self {
        ConfigError(Box::new(details))
    }
}

impl ConfigError {
    /// An error with no location yet.
    pub fn new(message: impl Into<String>) -> Self {
        ErrorDetails {
            file: None,
            line: None,
            command_line: false,
            section: None,
            key: None,
            message: message.into(),
            suggestion: None,
        }
        .into()
    }

    /// An error at `location` (a line of 0 means the file as a whole).
    pub fn at(location: &Location, message: impl Into<String>) -> Self {
        ConfigError::new(message).with_location(location)
    }

    /// Sets the file and line from `location`.
    pub fn with_location(mut self, location: &Location) -> Self {
        if location.is_command_line() {
            self.file = None;
            self.line = None;
            self.command_line = true;
        } else {
            self.file = Some(location.file.to_path_buf());
            self.line = (location.line > 0).then_some(location.line);
            self.command_line = false;
        }
        self
    }

    pub fn with_section(mut self, section: impl Into<String>) -> Self {
        self.section = Some(section.into());
        self
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn with_suggestion(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, _) if self.command_line => f.write_str("command line: ")?,
            (None, _) => {}
        }
        if let Some(section) = &self.section {
            write!(f, "{section}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key '{key}': ")?;
        }
        f.write_str(&self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, "; did you mean '{suggestion}'?")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The candidate nearest to `word`, if it is near enough to be a likely typo.
///
/// Comparison is case-insensitive and counts a swap of two neighbours as one edit (optimal string
/// alignment), so `pth` finds `path` and `read_form_head` finds `read_from_head`. "Near enough"
/// is at most one edit per three characters (and at least one), which catches typos without
/// proposing unrelated names. On a tie the earliest candidate wins, so tables put common keys
/// first.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::osa_distance(&word, &candidate.to_ascii_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    #[test]
    fn display_has_every_part() {
        let loc = Location::new(Arc::from(Path::new("/etc/weir/weir.yaml")), 12);
        let err = ConfigError::at(&loc, "unknown parameter")
            .with_section("input 'tail'")
            .with_key("pth")
            .with_suggestion(Some("path".into()));
        assert_eq!(
            err.to_string(),
            "/etc/weir/weir.yaml:12: input 'tail': key 'pth': unknown parameter; did you mean 'path'?"
        );
    }

    #[test]
    fn display_of_command_line_and_bare_errors() {
        let err = ConfigError::at(&Location::command_line(), "expected a boolean").with_key("x");
        assert_eq!(err.to_string(), "command line: key 'x': expected a boolean");
        assert_eq!(ConfigError::new("oops").to_string(), "oops");
    }

    #[test]
    fn suggestions() {
        let keys = ["path", "parser", "read_from_head", "storage.type"];
        assert_eq!(suggest("pth", keys).as_deref(), Some("path"));
        assert_eq!(suggest("PATH_", keys).as_deref(), Some("path"));
        assert_eq!(
            suggest("read_form_head", keys).as_deref(),
            Some("read_from_head")
        );
        assert_eq!(
            suggest("storage_type", keys).as_deref(),
            Some("storage.type")
        );
        assert_eq!(suggest("completely_else", keys), None);
        assert_eq!(suggest("x", keys), None);
    }
}
