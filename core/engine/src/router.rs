//! Tag matching: Fluent Bit's `match` (with `*` wildcards) and `match_regex`.
//!
//! A chunk's destinations are resolved once, when it is closed, and kept with it.

use regex::Regex;

/// How a filter or output selects tags.
#[derive(Debug, Clone)]
pub enum TagMatcher {
    /// A pattern where `*` matches any run of characters (including none and dots).
    Wildcard(String),
    /// A regular expression searched in the tag (unanchored, as Fluent Bit's `match_regex`).
    Regex(Regex),
    /// Matches nothing: an instance with neither `match` nor `match_regex`.
    Nothing,
}

impl TagMatcher {
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            TagMatcher::Wildcard(p) => wildcard_match(p.as_bytes(), tag.as_bytes()),
            TagMatcher::Regex(r) => r.is_match(tag),
            TagMatcher::Nothing => false,
        }
    }
}

/// Glob match where `*` matches any sequence; everything else matches itself.
///
/// Iterative with single backtracking point (the classic two-pointer algorithm), so it is
/// linear-ish and cannot blow the stack on hostile patterns.
pub fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            p += 1;
            mark = t;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*", b"anything.at.all"));
        assert!(wildcard_match(b"*", b""));
        assert!(wildcard_match(b"app.*", b"app.web"));
        assert!(wildcard_match(b"app.*", b"app."));
        assert!(!wildcard_match(b"app.*", b"app"));
        assert!(wildcard_match(b"*.log", b"var.log.x.log"));
        assert!(wildcard_match(b"a*b*c", b"aXXbYYc"));
        assert!(!wildcard_match(b"a*b*c", b"aXXbYY"));
        assert!(wildcard_match(b"exact", b"exact"));
        assert!(!wildcard_match(b"exact", b"exactly"));
    }

    #[test]
    fn regex_is_unanchored_like_fluent_bit() {
        let m = TagMatcher::Regex(Regex::new("^kube\\.").unwrap());
        assert!(m.matches("kube.var.log"));
        assert!(!m.matches("app.kube."));
        assert!(TagMatcher::Regex(Regex::new("web").unwrap()).matches("app.web.1"));
        assert!(!TagMatcher::Nothing.matches("x"));
    }

    /// Reference implementation: the same semantics through a regex.
    fn reference(p: &str, t: &str) -> bool {
        let re = format!(
            "^{}$",
            p.split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(".*")
        );
        Regex::new(&re).unwrap().is_match(t)
    }

    proptest! {
        #[test]
        fn agrees_with_regex_reference(p in "[ab.*]{0,8}", t in "[ab.]{0,10}") {
            prop_assert_eq!(wildcard_match(p.as_bytes(), t.as_bytes()), reference(&p, &t));
        }
    }
}
