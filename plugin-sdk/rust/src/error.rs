//! Errors a plugin returns to the host.

use std::fmt;

/// A plugin's error: a message for Weir's log.
///
/// Any `std::error::Error` converts into it, so `?` works on I/O, parse and decode errors;
/// `String` and `&str` convert too. (Like `anyhow::Error`, it does not implement
/// `std::error::Error` itself, which is what makes that blanket conversion possible.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }

    /// Prefixes the message with what was being done: `e.context("reading state")`.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Self(format!("{what}: {}", self.0))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

impl From<Error> for String {
    fn from(e: Error) -> Self {
        e.0
    }
}

/// Why an output could not deliver a batch, and whether the host should try again.
///
/// `?` turns any other error into [`FlushError::Fatal`] (malformed data does not get better on a
/// second try); map transient failures, such as a full disk or a refused connection, with
/// [`FlushError::retry`]: `file.write_all(&buf).map_err(FlushError::retry)?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlushError {
    /// The host keeps the batch and flushes it again later (Fluent Bit's `FLB_RETRY`).
    Retry(String),
    /// The host drops the batch (Fluent Bit's `FLB_ERROR`).
    Fatal(String),
}

impl FlushError {
    pub fn retry(e: impl fmt::Display) -> Self {
        Self::Retry(e.to_string())
    }

    pub fn fatal(e: impl fmt::Display) -> Self {
        Self::Fatal(e.to_string())
    }

    pub fn message(&self) -> &str {
        match self {
            FlushError::Retry(m) | FlushError::Fatal(m) => m,
        }
    }
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::Retry(m) => write!(f, "{m} (will retry)"),
            FlushError::Fatal(m) => f.write_str(m),
        }
    }
}

impl From<Error> for FlushError {
    fn from(e: Error) -> Self {
        Self::Fatal(e.0)
    }
}

impl<E: std::error::Error> From<E> for FlushError {
    fn from(e: E) -> Self {
        Self::Fatal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<i64, Error> {
        Ok(s.parse::<i64>()?)
    }

    #[test]
    fn question_mark_converts() {
        assert_eq!(parse("4"), Ok(4));
        assert!(parse("x").unwrap_err().message().contains("invalid digit"));
        let e: FlushError = Error::new("bad").context("flushing").into();
        assert_eq!(e, FlushError::Fatal("flushing: bad".into()));
        let io = std::io::Error::other("disk full");
        assert_eq!(FlushError::retry(io).to_string(), "disk full (will retry)");
    }
}
