//! The tag of each file's records: fixed, expanded from `*`, or composed with `tag_regex`.
//!
//! Fluent Bit's rules:
//! - A tag with `*` gets the file's path in place of the `*`; then every `/`, `\` and `:`
//!   becomes `.` (dropped when it is the first character), runs of dots collapse to one, any
//!   other `*` is dropped and a final dot is removed: `kube.*` and `/var/log/a.log` give
//!   `kube.var.log.a.log`.
//! - With `tag_regex`, the regular expression runs on the path and each `<name>` in the tag is
//!   replaced by the capture of that name (`_` when the group did not take part). A path that
//!   does not match is an error and the file is not followed.

use regex::Regex;

/// How to compute the tag of a file.
#[derive(Debug, Clone)]
pub enum TagTemplate {
    /// The same tag for every file.
    Fixed(String),
    /// `*` expanded to the path.
    Star(String),
    /// `<name>` parts filled from the named captures of a regex on the path.
    Regex { tag: String, re: Regex },
}

impl TagTemplate {
    /// Builds the template for `tag`, with `tag_regex` when given. Errors are for the user:
    /// they say what is wrong with the setting.
    pub fn new(tag: &str, tag_regex: Option<&str>) -> Result<Self, String> {
        if let Some(pattern) = tag_regex {
            let re = Regex::new(pattern).map_err(|e| format!("invalid regular expression: {e}"))?;
            check_brackets(tag)?;
            return Ok(Self::Regex {
                tag: tag.to_string(),
                re,
            });
        }
        if tag.contains('*') {
            Ok(Self::Star(tag.to_string()))
        } else {
            Ok(Self::Fixed(tag.to_string()))
        }
    }

    /// The tag for the file at `path`.
    pub fn for_path(&self, path: &str) -> Result<String, String> {
        match self {
            Self::Fixed(t) => Ok(t.clone()),
            Self::Star(t) => Ok(expand_star(t, path)),
            Self::Regex { tag, re } => compose(tag, re, path),
        }
    }
}

fn check_brackets(tag: &str) -> Result<(), String> {
    let mut rest = tag;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        match after.find(['<', '>']) {
            Some(i) if after.as_bytes()[i] == b'>' => rest = &after[i + 1..],
            _ => {
                return Err(format!(
                    "missing closing angle bracket in tag {tag} at position {}",
                    tag.len() - rest.len() + open
                ))
            }
        }
    }
    Ok(())
}

fn compose(tag: &str, re: &Regex, path: &str) -> Result<String, String> {
    let caps = re
        .captures(path)
        .ok_or_else(|| format!("invalid tag_regex pattern for file {path}"))?;
    let mut out = String::with_capacity(tag.len() + path.len());
    let mut rest = tag;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // Brackets were checked when the template was built.
        let close = after.find('>').unwrap_or(after.len());
        let name = &after[..close];
        match caps.name(name) {
            Some(m) if !m.as_str().is_empty() => out.push_str(m.as_str()),
            _ => out.push('_'),
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_star(tag: &str, path: &str) -> String {
    let raw = tag.replacen('*', path, 1);
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if matches!(c, '/' | '\\' | ':') {
            if out.is_empty() {
                continue;
            }
            '.'
        } else {
            c
        };
        if c == '*' || (c == '.' && out.ends_with('.')) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with('.') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_expansion_follows_fluent_bit() {
        let t = TagTemplate::new("kube.*", None).unwrap();
        assert_eq!(
            t.for_path("/var/log/containers/a.log").unwrap(),
            "kube.var.log.containers.a.log"
        );
        let t = TagTemplate::new("*", None).unwrap();
        assert_eq!(t.for_path("/var/log/a.log").unwrap(), "var.log.a.log");
        let t = TagTemplate::new("app.*.raw", None).unwrap();
        assert_eq!(t.for_path("/a//b.log").unwrap(), "app.a.b.log.raw");
        let t = TagTemplate::new("x.*.", None).unwrap();
        assert_eq!(t.for_path("C:\\logs\\a.log").unwrap(), "x.C.logs.a.log");
        let t = TagTemplate::new("a.*.*", None).unwrap();
        assert_eq!(t.for_path("/f").unwrap(), "a.f");
    }

    #[test]
    fn fixed_tag() {
        let t = TagTemplate::new("app", None).unwrap();
        assert_eq!(t.for_path("/var/log/a.log").unwrap(), "app");
    }

    #[test]
    fn tag_regex_composes() {
        let t = TagTemplate::new(
            "kube.<namespace>.<pod>.<missing>",
            Some(r"(?<pod>[a-z0-9-]+)_(?<namespace>[^_]+)_(?<container>.+)\.log$"),
        )
        .unwrap();
        assert_eq!(
            t.for_path("/var/log/containers/web-1_prod_nginx.log")
                .unwrap(),
            "kube.prod.web-1._"
        );
        assert!(t
            .for_path("/var/log/other")
            .unwrap_err()
            .contains("invalid tag_regex pattern"));
    }

    #[test]
    fn tag_regex_errors() {
        assert!(TagTemplate::new("a.<x", Some("(?<x>.)"))
            .unwrap_err()
            .contains("missing closing angle bracket"));
        assert!(TagTemplate::new("a", Some("("))
            .unwrap_err()
            .contains("invalid regular expression"));
    }
}
