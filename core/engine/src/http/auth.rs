//! Bearer-token authentication for the API's mutating endpoints (`http.auth_token`).
//!
//! Read-only endpoints stay open, as in Fluent Bit: health probes and metric scrapers must not
//! need a secret, and what they read is the same as what the process logs. A reload, though,
//! changes what the process does, so it can require the token.

use hyper::header::{HeaderMap, AUTHORIZATION};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A bearer token, but not the configured one.
    Invalid,
}

impl Denied {
    /// The `WWW-Authenticate` challenge (RFC 6750): `invalid_token` only when one was given.
    pub fn challenge(self) -> &'static str {
        match self {
            Denied::Missing => "Bearer realm=\"weir\"",
            Denied::Invalid => "Bearer realm=\"weir\", error=\"invalid_token\"",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Denied::Missing => "this endpoint needs an 'Authorization: Bearer <token>' header",
            Denied::Invalid => "the bearer token is not the configured http.auth_token",
        }
    }
}

/// Checks the request's `Authorization` header against `token`.
pub(crate) fn check(token: &str, headers: &HeaderMap) -> Result<(), Denied> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(Denied::Missing);
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match given {
        None => Err(Denied::Missing),
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(Denied::Invalid),
    }
}

/// Compares without returning early, so the time taken does not tell how much of a guess was
/// right. It depends only on the configured token's length. (A dozen lines do not justify a
/// dependency; the loop is kept from being short-circuited by `black_box`.)
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!*e);
        diff |= std::hint::black_box(g ^ e);
    }
    diff == 0
}

/// Refusals are logged at most once per this many seconds, with the count since the last line,
/// so a client hammering the endpoint cannot fill the disk with log lines.
const LOG_EVERY_SECS: u64 = 60;

/// Counts refusals and says when one should be logged.
#[derive(Default)]
pub(crate) struct RefusalLog {
    count: AtomicU64,
    last_logged: AtomicU64,
}

impl RefusalLog {
    /// Counts one refusal at `now_secs` (any monotonic seconds). Returns how many refusals to
    /// report when a line is due.
    pub fn refused(&self, now_secs: u64) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        // Stored as seconds + 1, so that 0 means "never logged".
        let last = self.last_logged.load(Ordering::Relaxed);
        let stamp = now_secs.saturating_add(1);
        let due = last == 0 || stamp >= last.saturating_add(LOG_EVERY_SECS);
        if due
            && self
                .last_logged
                .compare_exchange(last, stamp, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.count.swap(0, Ordering::Relaxed).max(1))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        // A shorter guess padded with what would match must not pass.
        assert!(!constant_time_eq(b"ab", b"ab\0"));
    }

    #[test]
    fn bearer_header() {
        assert_eq!(check("s3cret", &with("Bearer s3cret")), Ok(()));
        assert_eq!(check("s3cret", &with("bearer  s3cret ")), Ok(()));
        assert_eq!(check("s3cret", &with("Bearer wrong")), Err(Denied::Invalid));
        assert_eq!(check("s3cret", &with("Bearer ")), Err(Denied::Missing));
        assert_eq!(check("s3cret", &with("Bearer  ")), Err(Denied::Missing));
        assert_eq!(
            check("s3cret", &with("Basic czNjcmV0")),
            Err(Denied::Missing)
        );
        assert_eq!(check("s3cret", &with("s3cret")), Err(Denied::Missing));
        assert_eq!(check("s3cret", &HeaderMap::new()), Err(Denied::Missing));
    }

    #[test]
    fn non_ascii_header_is_refused_not_a_panic() {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        );
        assert_eq!(check("s3cret", &h), Err(Denied::Missing));
    }

    #[test]
    fn refusals_are_logged_sparingly() {
        let log = RefusalLog::default();
        assert_eq!(log.refused(100), Some(1));
        assert_eq!(log.refused(101), None);
        assert_eq!(log.refused(150), None);
        assert_eq!(log.refused(160), Some(3));
        assert_eq!(log.refused(161), None);
    }
}
