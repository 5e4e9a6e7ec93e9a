//! Retry backoff: capped exponential with full jitter, as Fluent Bit's scheduler.
//!
//! The n-th retry (n from 1) waits a random whole number of seconds between `base` and
//! `min(cap, base * 2^n)`. Full jitter keeps thousands of edge hosts from retrying a recovering
//! destination in lockstep.

use std::time::Duration;

/// How many times an output may retry a chunk (Fluent Bit's `retry_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryLimit {
    /// At most this many retries; 0 means none (`no_retries`).
    Limited(u32),
    /// Retry forever (`no_limits`, `false`).
    Unlimited,
}

impl RetryLimit {
    /// Parses Fluent Bit's spellings: a number, `no_limits`, `false`, `no_retries`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "no_limits" | "false" | "off" => Some(RetryLimit::Unlimited),
            "no_retries" => Some(RetryLimit::Limited(0)),
            _ => s.parse::<u32>().ok().map(RetryLimit::Limited),
        }
    }

    /// Whether retry number `n` (1-based) is allowed.
    pub fn allows(self, n: u32) -> bool {
        match self {
            RetryLimit::Limited(max) => n <= max,
            RetryLimit::Unlimited => true,
        }
    }
}

/// Backoff settings (`scheduler.base`, `scheduler.cap`, in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: u64,
    pub cap: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: 5, cap: 2000 }
    }
}

impl Backoff {
    /// The wait before retry number `n` (1-based), with full jitter from `rand`.
    pub fn wait(&self, n: u32, rand: &mut fastrand::Rng) -> Duration {
        let base = self.base.max(1);
        let cap = self.cap.max(base);
        let exp = base.saturating_mul(1u64.checked_shl(n.min(62)).unwrap_or(u64::MAX));
        let upper = exp.min(cap);
        Duration::from_secs(rand.u64(base..=upper))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_retry_limits() {
        assert_eq!(RetryLimit::parse("3"), Some(RetryLimit::Limited(3)));
        assert_eq!(RetryLimit::parse("no_limits"), Some(RetryLimit::Unlimited));
        assert_eq!(RetryLimit::parse("False"), Some(RetryLimit::Unlimited));
        assert_eq!(
            RetryLimit::parse("no_retries"),
            Some(RetryLimit::Limited(0))
        );
        assert_eq!(RetryLimit::parse("-1"), None);
        assert!(!RetryLimit::Limited(0).allows(1));
        assert!(RetryLimit::Limited(2).allows(2));
        assert!(!RetryLimit::Limited(2).allows(3));
        assert!(RetryLimit::Unlimited.allows(u32::MAX));
    }

    proptest! {
        #[test]
        fn wait_stays_within_bounds(base in 1u64..100, cap in 1u64..5000, n in 1u32..100, seed in any::<u64>()) {
            let b = Backoff { base, cap };
            let w = b.wait(n, &mut fastrand::Rng::with_seed(seed)).as_secs();
            prop_assert!(w >= base);
            prop_assert!(w <= cap.max(base));
            prop_assert!(w <= base.saturating_mul(1u64 << n.min(62)));
        }
    }
}
