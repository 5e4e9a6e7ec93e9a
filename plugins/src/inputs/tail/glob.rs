//! Shell patterns: matching a path and expanding a pattern into the files it names.
//!
//! The syntax is `glob(3)`'s: `*` (any run of characters), `?` (one character), `[abc]`,
//! `[a-z]`, `[!a]` or `[^a]` (classes), `\` to escape; plus `**` as a whole path component for
//! any number of directories. Patterns compile to anchored regular expressions. Two flavours:
//! - [`Glob::path`]: `*`, `?` and classes stop at `/` and do not match a leading `.` in a file
//!   name, like `glob(3)`, which Fluent Bit uses for `path`;
//! - [`Glob::free`]: they match anything, `/` and dots included, like `fnmatch(3)` without
//!   flags, which Fluent Bit uses for `exclude_path`.
//!
//! Why not the `glob` crate (which `weir-config` uses for `@INCLUDE`): checked against glob
//! 0.3.4, it cannot do what tail needs without risk or loss.
//! - `glob(3)`'s rule that wildcards do not match a leading dot is the crate's
//!   `require_literal_leading_dot`. With it, expansion panics on any file name in a listed
//!   directory that is not UTF-8 (`to_str().unwrap()` in `fill_todo`; rust-lang/glob#162 is
//!   still open), so one oddly named file in `/var/log` would take the input down; and it drops
//!   every dot entry before matching, so `.*.log` finds nothing. Without the option, `*.log`
//!   also follows `.hidden.log` and `**` walks into hidden directories, which `glob(3)` does
//!   not, and names that are not UTF-8 are skipped, where `glob(3)` follows them.
//! - `\` escapes nothing (on Unix it is a plain character), where `glob(3)` and `fnmatch(3)`
//!   read `\*` as a literal `*` (Fluent Bit passes neither `GLOB_NOESCAPE` nor
//!   `FNM_NOESCAPE`).
//! - `[^a]` is a class of `^` and `a`, where glibc reads it as `[!a]`.
//! - `**` that is not a whole component (`app**.log`) is an error, where glibc reads it as `*`,
//!   so a configuration Fluent Bit accepts would be refused.
//!
//! Working around these would take a pattern rewriter and a second filtering pass, no smaller
//! than this module, so the matcher stays. The tests below pin each of these behaviours.

use regex::Regex;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `fnmatch(3)` without flags: one regex over the whole string.
    Free(Regex),
    /// `glob(3)`: matched and expanded component by component.
    Path {
        absolute: bool,
        comps: Vec<Component>,
    },
}

impl Glob {
    /// A pattern for paths: wildcards stay within one component and do not match a leading
    /// dot.
    pub fn path(pattern: &str) -> Result<Self, String> {
        let err = |e: String| format!("invalid pattern '{pattern}': {e}");
        let (absolute, rest) = match pattern.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let comps = rest
            .split('/')
            .filter(|c| !c.is_empty())
            .map(Component::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(Self {
            text: pattern.to_string(),
            kind: Kind::Path { absolute, comps },
        })
    }

    /// A pattern whose wildcards match any character, `/` and dots included.
    pub fn free(pattern: &str) -> Result<Self, String> {
        let err = |e: String| format!("invalid pattern '{pattern}': {e}");
        let body = translate(pattern, false).map_err(err)?;
        let re = Regex::new(&format!("^{body}$")).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            text: pattern.to_string(),
            kind: Kind::Free(re),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, s: &str) -> bool {
        match &self.kind {
            Kind::Free(re) => re.is_match(s),
            Kind::Path { absolute, comps } => {
                let (is_abs, rest) = match s.strip_prefix('/') {
                    Some(rest) => (true, rest),
                    None => (false, s),
                };
                let parts: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
                is_abs == *absolute && match_comps(comps, &parts)
            }
        }
    }

    /// Every existing path a path pattern names, sorted within each directory as `glob(3)`
    /// does (nothing for a free pattern). Directories that cannot be read are reported
    /// through `log` and skipped.
    pub fn expand(&self, log: &mut dyn FnMut(String)) -> Vec<PathBuf> {
        let Kind::Path { absolute, comps } = &self.kind else {
            return Vec::new();
        };
        let root = if *absolute {
            PathBuf::from("/")
        } else {
            PathBuf::new()
        };
        let mut out = Vec::new();
        walk(&root, comps, &mut out, log);
        out
    }
}

/// One component of a path pattern.
#[derive(Debug, Clone)]
enum Component {
    Literal(String),
    Wild { re: Regex, dot: bool },
    AnyDirs,
}

impl Component {
    fn new(c: &str) -> Result<Self, String> {
        if c == "**" {
            return Ok(Self::AnyDirs);
        }
        if !c.contains(['*', '?', '[', '\\']) {
            return Ok(Self::Literal(c.to_string()));
        }
        let re = Regex::new(&format!("^{}$", translate(c, true)?)).map_err(|e| e.to_string())?;
        Ok(Self::Wild {
            re,
            dot: c.starts_with('.'),
        })
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Literal(l) => l == name,
            Self::Wild { re, dot } => (*dot || !name.starts_with('.')) && re.is_match(name),
            Self::AnyDirs => !name.starts_with('.'),
        }
    }
}

fn match_comps(comps: &[Component], parts: &[&str]) -> bool {
    match comps.split_first() {
        None => parts.is_empty(),
        Some((Component::AnyDirs, rest)) => (0..=parts.len()).any(|k| {
            parts[..k].iter().all(|p| !p.starts_with('.')) && match_comps(rest, &parts[k..])
        }),
        Some((c, rest)) => parts
            .split_first()
            .is_some_and(|(p, more)| c.matches(p) && match_comps(rest, more)),
    }
}

fn dir_of(base: &Path) -> &Path {
    if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    }
}

fn walk(base: &Path, comps: &[Component], out: &mut Vec<PathBuf>, log: &mut dyn FnMut(String)) {
    let Some((first, rest)) = comps.split_first() else {
        if !base.as_os_str().is_empty()
            && std::fs::symlink_metadata(base).is_ok()
            && !out.iter().any(|p| p == base)
        {
            out.push(base.to_path_buf());
        }
        return;
    };
    match first {
        Component::Literal(name) => walk(&base.join(name), rest, out, log),
        Component::Wild { .. } => {
            for name in list(base, log) {
                if first.matches(&name.to_string_lossy()) {
                    walk(&base.join(&name), rest, out, log);
                }
            }
        }
        Component::AnyDirs => {
            walk(base, rest, out, log);
            for name in list(base, log) {
                let sub = base.join(&name);
                if first.matches(&name.to_string_lossy()) && sub.is_dir() {
                    walk(&sub, comps, out, log);
                }
            }
        }
    }
}

/// Names in a directory, sorted; nothing when it is not a readable directory.
///
/// Names stay as the system gives them: one that is not UTF-8 is matched through its lossy
/// text (an invalid byte is one character) and followed under its real name, as `glob(3)`
/// follows it.
fn list(base: &Path, log: &mut dyn FnMut(String)) -> Vec<OsString> {
    let dir = dir_of(base);
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                log(format!("read error, check permissions: {}", dir.display()));
            }
            return Vec::new();
        }
    };
    let mut names: Vec<OsString> = rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort_unstable();
    names
}

/// Translates a shell pattern into the body of a regular expression.
fn translate(pattern: &str, path: bool) -> Result<String, String> {
    let any = if path { "[^/]" } else { "." };
    let mut re = String::with_capacity(pattern.len() * 2);
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                while chars.get(i + 1) == Some(&'*') {
                    i += 1;
                }
                re.push_str(any);
                re.push('*');
            }
            '?' => re.push_str(any),
            '\\' => {
                i += 1;
                let Some(&n) = chars.get(i) else {
                    return Err("pattern ends with '\\'".into());
                };
                re.push_str(&regex::escape(&n.to_string()));
            }
            '[' => {
                let mut j = i + 1;
                let mut class = String::from("[");
                if matches!(chars.get(j), Some('!' | '^')) {
                    class.push('^');
                    j += 1;
                }
                let start = j;
                loop {
                    let Some(&k) = chars.get(j) else {
                        return Err("unclosed '['".into());
                    };
                    if k == ']' && j > start {
                        break;
                    }
                    if matches!(k, '\\' | '[' | ']' | '^' | '&' | '~') {
                        class.push('\\');
                    }
                    class.push(k);
                    j += 1;
                }
                class.push(']');
                if path {
                    // A class never matches the separator.
                    re.push('[');
                    re.push_str(&class);
                    re.push_str("&&[^/]]");
                } else {
                    re.push_str(&class);
                }
                i = j;
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns() {
        let g = Glob::path("/var/log/*.log").unwrap();
        assert!(g.matches("/var/log/a.log"));
        assert!(!g.matches("/var/log/sub/a.log"));
        assert!(!g.matches("/var/log/a.log.1"));
        let g = Glob::path("/l/app-?.[0-9]").unwrap();
        assert!(g.matches("/l/app-x.7"));
        assert!(!g.matches("/l/app-x.a"));
        let g = Glob::path("/l/[!a]*").unwrap();
        assert!(g.matches("/l/b"));
        assert!(!g.matches("/l/a"));
        let g = Glob::path("/l/**/x.log").unwrap();
        assert!(g.matches("/l/x.log"));
        assert!(g.matches("/l/a/b/x.log"));
        let g = Glob::path(r"/l/\*.log").unwrap();
        assert!(g.matches("/l/*.log"));
        assert!(!g.matches("/l/a.log"));
        let g = Glob::path("/l/[]a]").unwrap();
        assert!(g.matches("/l/]"));
        assert!(!Glob::path("/l/*.log").unwrap().matches("/l/.hidden.log"));
        assert!(Glob::path("/l/.*.log").unwrap().matches("/l/.hidden.log"));
        assert!(!Glob::path("/l/[!a]").unwrap().matches("/l//"));
        assert!(!Glob::path("l/*.log").unwrap().matches("/l/a.log"));
        assert!(Glob::path("l/*.log").unwrap().matches("l/a.log"));
    }

    #[test]
    fn free_patterns_cross_slashes() {
        let g = Glob::free("*.gz").unwrap();
        assert!(g.matches("/var/log/old/a.gz"));
        assert!(!g.matches("/var/log/a.log"));
        let g = Glob::free("/var/log/*/secret*").unwrap();
        assert!(g.matches("/var/log/a/b/secret.log"));
    }

    #[test]
    fn glibc_syntax_the_glob_crate_lacks() {
        assert!(Glob::path("/l/[^a]").unwrap().matches("/l/b"));
        assert!(!Glob::path("/l/[^a]").unwrap().matches("/l/a"));
        assert!(Glob::path("/l/app**.log").unwrap().matches("/l/app-1.log"));
        assert!(!Glob::path("/l/app**.log").unwrap().matches("/l/app/x.log"));
        assert!(Glob::free("/l/**.gz").unwrap().matches("/l/a/b.gz"));
        assert!(Glob::free(r"/l/\[x\]").unwrap().matches("/l/[x]"));
        assert!(!Glob::free(r"/l/\*").unwrap().matches("/l/a"));
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_are_followed() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.log")), b"").unwrap();
        std::fs::write(d.join("a.log"), b"").unwrap();
        std::fs::write(d.join(".b.log"), b"").unwrap();
        let g = Glob::path(&format!("{}/*.log", d.display())).unwrap();
        assert_eq!(
            g.expand(&mut |_| {}),
            [
                d.join("a.log"),
                d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.log"))
            ]
        );
        let g = Glob::path(&format!("{}/.*.log", d.display())).unwrap();
        assert_eq!(g.expand(&mut |_| {}), [d.join(".b.log")]);
    }

    #[test]
    fn bad_patterns() {
        assert!(Glob::path("/x/[ab").unwrap_err().contains("unclosed"));
        assert!(Glob::free("x\\").is_err());
    }

    #[test]
    fn expands_against_the_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "b.log",
            "a.log",
            ".hidden.log",
            "c.txt",
            "sub/d.log",
            "sub/deep/e.log",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        }
        let base = d.to_string_lossy();
        let names = |pat: &str| -> Vec<String> {
            let g = Glob::path(&format!("{base}/{pat}")).unwrap();
            g.expand(&mut |_| {})
                .into_iter()
                .map(|p| p.strip_prefix(d).unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("*.log"), ["a.log", "b.log"]);
        assert_eq!(names(".*.log"), [".hidden.log"]);
        assert_eq!(names("*/*.log"), ["sub/d.log"]);
        assert_eq!(
            names("**/*.log"),
            ["a.log", "b.log", "sub/d.log", "sub/deep/e.log"]
        );
        assert_eq!(names("c.txt"), ["c.txt"]);
        assert!(names("missing.txt").is_empty());
        assert!(names("nodir/*.log").is_empty());
    }
}
