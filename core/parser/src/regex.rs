//! The `regex` format: Fluent Bit's Onigmo (Ruby syntax) patterns on Rust's `regex` engine.
//!
//! Patterns are translated, not reinterpreted, so that what users wrote for Fluent Bit means
//! the same here:
//!
//! - `/pattern/imx` literals (as in Fluent Bit) set flags; Ruby's `m` is "dot matches
//!   newline", which is Rust's `s`;
//! - `^` and `$` match at line boundaries, as they always do in Ruby;
//! - `\d`, `\w`, `\s` are ASCII classes, as in Ruby; `\h` is a hex digit; `\Z` is the end of
//!   the text or before a final newline;
//! - possessive quantifiers (`a*+`) become greedy ones (they only differ in how a failing match
//!   backtracks, and Rust's engine does not backtrack);
//! - a group name used twice yields one key per match, like Onigmo.
//!
//! Look-around, atomic groups, backreferences and subexpression calls have no equivalent in a
//! linear-time engine: such a pattern is refused with an error that says so.
//!
//! Records take named groups in the order they appear. A group that did not take part in the
//! match, or matched nothing, is left out when `skip_empty_values` is on (the default) and is an
//! empty string otherwise.
//!
//! Groups are also numbered as Onigmo numbers them ([`Captures::group`]), for users such as
//! `rewrite_tag`'s `$1`: 0 is the whole match; when the pattern has named groups, only those
//! capture (Ruby's rule: `(...)` then only groups) and they are numbered in order; otherwise
//! every `(...)` is numbered in order.

use regex::bytes::{CaptureLocations, Regex, RegexBuilder};
use std::sync::Mutex;

/// A compiled `regex` parser pattern.
#[derive(Debug)]
pub struct Pattern {
    /// `^`/`$` anchored at the ends of the text: the same as Ruby's line anchors for input
    /// without newlines, and faster to search.
    single: Regex,
    /// The Ruby meaning of `^`/`$`, for input that has newlines (multiline records).
    multi: Option<Regex>,
    /// (group index, key) in pattern order.
    names: Vec<(usize, Box<[u8]>)>,
    /// The engine's group index of Onigmo's group 1, 2, ... ([`Captures::group`]).
    numbered: Vec<usize>,
    pool: Mutex<Vec<CaptureLocations>>,
    source: String,
}

/// The spans of named groups from one match. Each entry is `None` when the group did not
/// take part in the match.
pub struct Captures<'p> {
    pattern: &'p Pattern,
    locs: Option<CaptureLocations>,
    pooled: bool,
}

impl Captures<'_> {
    /// (key, span) for each named group, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<(usize, usize)>)> + '_ {
        self.pattern
            .names
            .iter()
            .map(move |(idx, key)| (&**key, self.locs.as_ref().and_then(|l| l.get(*idx))))
    }

    /// The span of group `n` as Onigmo numbers groups (see the module docs): 0 is the whole
    /// match. `None` when the group did not take part in the match or does not exist.
    pub fn group(&self, n: usize) -> Option<(usize, usize)> {
        let idx = match n {
            0 => 0,
            n => *self.pattern.numbered.get(n - 1)?,
        };
        self.locs.as_ref()?.get(idx)
    }
}

impl Drop for Captures<'_> {
    fn drop(&mut self) {
        if let (true, Some(locs)) = (self.pooled, self.locs.take()) {
            if let Ok(mut pool) = self.pattern.pool.lock() {
                if pool.len() < 64 {
                    pool.push(locs);
                }
            }
        }
    }
}

impl Pattern {
    /// Translates and compiles a Ruby-syntax pattern.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let t = translate(pattern)?;
        let build = |multi_line: bool| {
            RegexBuilder::new(&t.pattern)
                .multi_line(multi_line)
                .case_insensitive(t.case_insensitive)
                .dot_matches_new_line(t.dot_all)
                .ignore_whitespace(t.extended)
                .size_limit(32 << 20)
                .build()
                .map_err(|e| format!("invalid regex: {e}"))
        };
        let single = build(false)?;
        let multi = if t.pattern.contains(['^', '$']) {
            Some(build(true)?)
        } else {
            None
        };
        let names: Vec<(usize, Box<[u8]>)> = single
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n?;
                let key = t
                    .renamed
                    .iter()
                    .find(|(new, _)| new == n)
                    .map_or(n, |(_, orig)| orig.as_str());
                Some((i, key.as_bytes().into()))
            })
            .collect();
        // The translation adds no capturing group of its own, so the engine's groups are the
        // pattern's.
        let numbered = if names.is_empty() {
            (1..single.captures_len()).collect()
        } else {
            names.iter().map(|(i, _)| *i).collect()
        };
        Ok(Self {
            single,
            multi,
            names,
            numbered,
            pool: Mutex::new(Vec::new()),
            source: pattern.to_owned(),
        })
    }

    /// The pattern as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `input`.
    pub fn is_match(&self, input: &[u8]) -> bool {
        self.regex_for(input).is_match(input)
    }

    fn regex_for(&self, input: &[u8]) -> &Regex {
        match &self.multi {
            Some(m) if memchr::memchr(b'\n', input).is_some() => m,
            _ => &self.single,
        }
    }

    /// Matches `input`, returning the named groups' spans, or `None` when it does not match.
    pub fn captures(&self, input: &[u8]) -> Option<Captures<'_>> {
        let re = self.regex_for(input);
        let pooled = std::ptr::eq(re, &self.single);
        let mut locs = if pooled {
            self.pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .unwrap_or_else(|| self.single.capture_locations())
        } else {
            // Locations belong to the regex that made them; multi-line input is rare enough
            // that its locations are not pooled.
            re.capture_locations()
        };
        let found = re.captures_read(&mut locs, input).is_some();
        let caps = Captures {
            pattern: self,
            locs: Some(locs),
            pooled,
        };
        found.then_some(caps)
    }
}

struct Translated {
    pattern: String,
    case_insensitive: bool,
    dot_all: bool,
    extended: bool,
    /// (generated name, name in the pattern) for repeated group names.
    renamed: Vec<(String, String)>,
}

const SPACE_CLASS: &str = r"\t\n\x0B\x0C\r ";

/// Translates Ruby (Onigmo) regex syntax to Rust's `regex` syntax.
fn translate(pattern: &str) -> Result<Translated, String> {
    let (body, flags) = strip_literal(pattern);
    let mut t = Translated {
        pattern: String::with_capacity(body.len() + 16),
        case_insensitive: flags.contains('i'),
        dot_all: flags.contains('m'),
        extended: flags.contains('x'),
        renamed: Vec::new(),
    };
    let chars: Vec<char> = body.chars().collect();
    let mut seen_names: Vec<String> = Vec::new();
    let mut class_depth = 0usize;
    let mut i = 0;
    let out = &mut t.pattern;
    let unsupported = |what: &str| {
        Err(format!("regex uses {what}, which is not supported (no look-around, atomic groups, backreferences or subexpression calls)"))
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err("regex ends with a lone backslash".into());
                };
                i += 2;
                if class_depth > 0 {
                    match e {
                        'h' => out.push_str("0-9a-fA-F"),
                        'd' => out.push_str("0-9"),
                        'w' => out.push_str("0-9A-Za-z_"),
                        's' => out.push_str(SPACE_CLASS),
                        'H' => {
                            return Err(
                                "regex uses \\H inside a character class, which is not supported"
                                    .into(),
                            )
                        }
                        '<' | '>' => out.push(e),
                        _ => {
                            out.push('\\');
                            out.push(e);
                        }
                    }
                    continue;
                }
                match e {
                    'h' => out.push_str("[0-9a-fA-F]"),
                    'H' => out.push_str("[^0-9a-fA-F]"),
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => {
                        out.push('[');
                        out.push_str(SPACE_CLASS);
                        out.push(']');
                    }
                    'S' => {
                        out.push_str("[^");
                        out.push_str(SPACE_CLASS);
                        out.push(']');
                    }
                    'Z' => out.push_str(r"(?:\n?\z)"),
                    'R' => out.push_str(r"(?:\r\n|[\n\x0B\x0C\r\x{85}\x{2028}\x{2029}])"),
                    'e' => out.push_str(r"\x1B"),
                    '<' | '>' => out.push(e),
                    '1'..='9' => return unsupported("a backreference"),
                    'k' => return unsupported("a named backreference"),
                    'g' => return unsupported("a subexpression call"),
                    'G' | 'K' | 'X' | 'y' | 'Y' => return unsupported(&format!("\\{e}")),
                    '0' => {
                        let mut v = 0u32;
                        let mut n = 0;
                        while n < 2 && chars.get(i).is_some_and(|d| ('0'..='7').contains(d)) {
                            v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                            i += 1;
                            n += 1;
                        }
                        out.push_str(&format!("\\x{{{v:x}}}"));
                    }
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' => {
                if class_depth > 0 && chars.get(i + 1) == Some(&':') {
                    // POSIX class like [:alpha:]: copy through to ":]"
                    let rest: String = chars[i..].iter().collect();
                    match rest.find(":]") {
                        Some(end) => {
                            out.push_str(&rest[..end + 2]);
                            i += rest[..end + 2].chars().count();
                        }
                        None => {
                            out.push('[');
                            i += 1;
                        }
                    }
                    continue;
                }
                class_depth += 1;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
                i += 1;
            }
            '(' if class_depth == 0 && chars.get(i + 1) == Some(&'?') => {
                let rest = &chars[i + 2..];
                match rest.first() {
                    Some('<') if !matches!(rest.get(1), Some('=' | '!')) => {
                        let (name, len) = group_name(&rest[1..], '>')?;
                        push_named(out, &name, &mut seen_names, &mut t.renamed);
                        i += 3 + len + 1;
                    }
                    Some('\'') => {
                        let (name, len) = group_name(&rest[1..], '\'')?;
                        push_named(out, &name, &mut seen_names, &mut t.renamed);
                        i += 3 + len + 1;
                    }
                    Some('<') => return unsupported("look-behind"),
                    Some('=' | '!') => return unsupported("look-ahead"),
                    Some('>') => return unsupported("an atomic group"),
                    Some('~') => return unsupported("an absence operator"),
                    Some('#') => {
                        // comment group: drop it
                        let end = rest
                            .iter()
                            .position(|c| *c == ')')
                            .ok_or("unterminated (?# comment in regex")?;
                        i += 2 + end + 1;
                    }
                    _ => {
                        // inline flags: (?imx-imx) or (?imx-imx:...)
                        let end = rest
                            .iter()
                            .position(|c| matches!(c, ')' | ':'))
                            .unwrap_or(rest.len());
                        let flags: String = rest[..end].iter().collect();
                        if !flags.chars().all(|c| matches!(c, 'i' | 'm' | 'x' | '-')) {
                            return Err(format!("regex has an unsupported group '(?{flags}'"));
                        }
                        out.push_str("(?");
                        out.push_str(&flags.replace('m', "s"));
                        i += 2 + end;
                    }
                }
            }
            '*' | '+' | '?' | '}' if class_depth == 0 => {
                out.push(c);
                i += 1;
                let is_quant = c != '}' || closes_counted_repetition(&chars[..i]);
                if is_quant && chars.get(i) == Some(&'+') {
                    // possessive -> greedy
                    i += 1;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(t)
}

/// Whether the `}` ending `chars` closes `{n}`, `{n,}` or `{n,m}`.
fn closes_counted_repetition(chars: &[char]) -> bool {
    let Some(open) = chars.iter().rposition(|c| *c == '{') else {
        return false;
    };
    let inner = &chars[open + 1..chars.len() - 1];
    !inner.is_empty()
        && inner.iter().all(|c| c.is_ascii_digit() || *c == ',')
        && inner.iter().filter(|c| **c == ',').count() <= 1
}

fn group_name(chars: &[char], close: char) -> Result<(String, usize), String> {
    let end = chars
        .iter()
        .position(|c| *c == close)
        .ok_or("unterminated group name in regex")?;
    let name: String = chars[..end].iter().collect();
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "invalid group name '{name}' in regex: use letters, digits and '_' only"
        ));
    }
    Ok((name, end))
}

fn push_named(
    out: &mut String,
    name: &str,
    seen: &mut Vec<String>,
    renamed: &mut Vec<(String, String)>,
) {
    let actual = if seen.iter().any(|s| s == name) {
        let generated = format!("{name}__weir_dup{}", renamed.len());
        renamed.push((generated.clone(), name.to_owned()));
        generated
    } else {
        seen.push(name.to_owned());
        name.to_owned()
    };
    out.push_str("(?P<");
    out.push_str(&actual);
    out.push('>');
}

/// Splits a `/pattern/flags` literal the way Fluent Bit does; other patterns pass unchanged.
fn strip_literal(p: &str) -> (&str, &str) {
    if p.len() >= 2 && p.starts_with('/') {
        if let Some(last) = p.rfind('/') {
            if last > 0 {
                let flags = &p[last + 1..];
                if flags.chars().all(|c| matches!(c, 'm' | 'i' | 'x' | 'o')) {
                    return (&p[1..last], flags);
                }
            }
        }
    }
    (p, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(p: &str, input: &str) -> Option<Vec<(String, Option<String>)>> {
        let pat = Pattern::new(p).unwrap();
        let c = pat.captures(input.as_bytes())?;
        Some(
            c.iter()
                .map(|(k, span)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        span.map(|(s, e)| input[s..e].to_owned()),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn named_groups_in_order() {
        let got = caps(
            r"^(?<host>[^ ]*) (?<user>\S+)(?: (?<opt>\d+))?$",
            "example.com bob",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("host".into(), Some("example.com".into())),
                ("user".into(), Some("bob".into())),
                ("opt".into(), None)
            ]
        );
        assert!(caps(r"^(?<a>\d+)$", "x").is_none());
    }

    #[test]
    fn ruby_isms() {
        assert!(caps(r"^\h+$", "deadBEEF").is_some());
        assert!(caps(r"^[\h-]+\Z", "de-ad\n").is_some());
        assert!(caps(r"/^a.b$/m", "a\nb").is_some());
        assert!(caps(r"/^A$/i", "a").is_some());
        assert!(caps(r"^\/\:\-\<x\>$", "/:-<x>").is_some());
        assert!(caps(r"^a++b$", "aab").is_some());
        assert!(caps(r"^a{2}+$", "aa").is_some());
        // ^ and $ are line anchors in Ruby
        let got = caps(r"^(?<second>b.*)$", "a\nbc\nd").unwrap();
        assert_eq!(got[0].1.as_deref(), Some("bc"));
        // \d is ASCII only in Ruby
        assert!(caps(r"^\d$", "\u{0663}").is_none());
        let got = caps(r"(?<x>a)|(?<x>b)", "b").unwrap();
        assert_eq!(
            got,
            vec![("x".into(), None), ("x".into(), Some("b".into()))]
        );
    }

    #[test]
    fn groups_are_numbered_as_onigmo_numbers_them() {
        let spans = |p: &str, input: &str| -> Vec<Option<String>> {
            let pat = Pattern::new(p).unwrap();
            let c = pat.captures(input.as_bytes()).unwrap();
            (0..4)
                .map(|n| c.group(n).map(|(s, e)| input[s..e].to_owned()))
                .collect()
        };
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            spans(r"^(\h+)-(x)?(\w+)$", "beef-ok"),
            [s("beef-ok"), s("beef"), None, s("ok")]
        );
        // With named groups, plain groups do not capture: `(y)` has no number.
        assert_eq!(
            spans(r"(?<a>\d+)(y)(?<b>z)", "12yz"),
            [s("12yz"), s("12"), s("z"), None]
        );
        assert_eq!(
            spans(r"(?<a>\d)(?<a>\d)", "12"),
            [s("12"), s("1"), s("2"), None]
        );
        assert_eq!(
            spans(r"(?i:A)(?:b)(c)", "abc"),
            [s("abc"), s("c"), None, None]
        );
    }

    #[test]
    fn unsupported_constructs_are_refused() {
        for p in [
            r"(?=a)",
            r"(?!a)",
            r"(?<=a)b",
            r"(?<!a)b",
            r"(?>a)",
            r"(a)\1",
            r"\k<a>",
            r"(?<bad-name>x)",
            r"abc\",
        ] {
            assert!(Pattern::new(p).is_err(), "{p}");
        }
        assert!(Pattern::new("(").unwrap_err().contains("invalid regex"));
    }

    #[test]
    fn apache_combined() {
        let p = r#"^(?<client>\S+) (?<ident>\S+) (?<user>\S+) \[(?<time>[^\]]+)\] "(?<method>[A-Z]+) (?<path>\S+) (?<protocol>[^"]*)" (?<status>\d{3}) (?<size>\d+|-) "(?<referer>[^"]*)" "(?<agent>[^"]*)"$"#;
        let line = r#"1.2.3.4 - - [01/Jan/2026:00:00:01 +0000] "GET /api/v1/orders/42 HTTP/1.1" 200 1234 "-" "curl/8.5.0""#;
        let got = caps(p, line).unwrap();
        assert_eq!(got.len(), 11);
        assert_eq!(got[3].1.as_deref(), Some("01/Jan/2026:00:00:01 +0000"));
    }
}
