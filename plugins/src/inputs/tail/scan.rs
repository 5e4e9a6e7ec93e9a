//! Finding the files to follow: `path` patterns, `exclude_path`, `ignore_older`.
//!
//! `path` is a comma list of shell patterns (see [`super::glob`]); a leading `~/` means the
//! home directory, as with Fluent Bit's `GLOB_TILDE`. Only regular files are followed. `exclude_path` patterns are matched against the whole path with `*`
//! crossing `/`, as `fnmatch(3)` without flags does in Fluent Bit, so `*.gz` excludes every
//! `.gz` file whatever its directory. `ignore_older` skips files whose last modification is
//! older than the given age.

use super::glob::Glob;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file found by a scan.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub meta: Metadata,
}

/// Expands the `path` patterns and filters the results.
#[derive(Debug, Clone)]
pub struct Scanner {
    patterns: Vec<Glob>,
    exclude: Vec<Glob>,
    ignore_older: Option<Duration>,
}

impl Scanner {
    /// Checks the patterns. `patterns` are already resolved against the configuration's
    /// directory; errors name the bad pattern.
    pub fn new(
        patterns: &[String],
        exclude: &[String],
        ignore_older: Option<Duration>,
    ) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| Glob::path(&expand_tilde(p)))
            .collect::<Result<Vec<_>, _>>()?;
        let exclude = exclude
            .iter()
            .map(|p| Glob::free(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            patterns,
            exclude,
            ignore_older: ignore_older.filter(|d| !d.is_zero()),
        })
    }

    /// The patterns, for log lines.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(Glob::as_str)
    }

    /// Every regular file matching a pattern, not excluded and not too old, in pattern order
    /// then path order, without duplicates. Unreadable directories are skipped with a debug
    /// line through `log`.
    pub fn scan(&self, now: SystemTime, mut log: impl FnMut(String)) -> Vec<Found> {
        let mut found: Vec<Found> = Vec::new();
        for pattern in &self.patterns {
            let entries = pattern.expand(&mut log);
            let any = !entries.is_empty();
            for path in entries {
                let Ok(meta) = std::fs::metadata(&path) else {
                    log(format!("cannot read info from: {}", path.display()));
                    continue;
                };
                if !meta.is_file() {
                    log(format!("skip (invalid) entry={}", path.display()));
                    continue;
                }
                if self.is_excluded(&path) {
                    log(format!("excluded={}", path.display()));
                    continue;
                }
                if self.too_old(&meta, now) {
                    log(format!("ignore_older: skip file {}", path.display()));
                    continue;
                }
                if found.iter().any(|f| f.path == path) {
                    continue;
                }
                found.push(Found { path, meta });
            }
            if !any {
                log(format!("NO matches for path: {}", pattern.as_str()));
            }
        }
        found
    }

    /// Whether `path` matches an `exclude_path` pattern.
    pub fn is_excluded(&self, path: &Path) -> bool {
        let s = path.to_string_lossy();
        self.exclude.iter().any(|p| p.matches(&s))
    }

    /// Whether `path` would be found by a scan (a pattern matches it and no exclusion does),
    /// for files that appear between scans.
    pub fn matches(&self, path: &Path) -> bool {
        let s = path.to_string_lossy();
        self.patterns.iter().any(|p| p.matches(&s)) && !self.is_excluded(path)
    }

    /// Whether a file last modified as `meta` says is older than `ignore_older`.
    pub fn too_old(&self, meta: &Metadata, now: SystemTime) -> bool {
        let Some(limit) = self.ignore_older else {
            return false;
        };
        match meta.modified() {
            Ok(m) => now.duration_since(m).is_ok_and(|age| age > limit),
            Err(_) => false,
        }
    }
}

fn expand_tilde(p: &str) -> String {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest).to_string_lossy().into_owned();
        }
    }
    p.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::write(p, b"x\n").unwrap();
    }

    fn names(found: &[Found]) -> Vec<String> {
        found
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn globs_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for n in ["a.log", "b.log", "c.gz", "d.txt"] {
            touch(&d.join(n));
        }
        std::fs::create_dir(d.join("sub.log")).unwrap();
        let p = |s: &str| d.join(s).to_string_lossy().into_owned();
        let s = Scanner::new(&[p("*.log"), p("*.gz"), p("a.log")], &["*.gz".into()], None).unwrap();
        let mut logs = Vec::new();
        let found = s.scan(SystemTime::now(), |l| logs.push(l));
        assert_eq!(names(&found), ["a.log", "b.log"]);
        assert!(logs.iter().any(|l| l.starts_with("excluded=")), "{logs:?}");
        assert!(
            logs.iter().any(|l| l.starts_with("skip (invalid) entry=")),
            "{logs:?}"
        );
        assert!(s.matches(&d.join("new.log")));
        assert!(!s.matches(&d.join("new.gz")));
        assert!(
            !s.matches(&d.join("deeper/new.log")),
            "* does not cross directories in path"
        );
    }

    #[test]
    fn no_match_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let s = Scanner::new(
            &[dir.path().join("none-*.log").to_string_lossy().into_owned()],
            &[],
            None,
        )
        .unwrap();
        let mut logs = Vec::new();
        assert!(s.scan(SystemTime::now(), |l| logs.push(l)).is_empty());
        assert!(logs[0].starts_with("NO matches for path"));
    }

    #[test]
    fn ignore_older() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.log");
        touch(&f);
        let pat = [f.to_string_lossy().into_owned()];
        let s = Scanner::new(&pat, &[], Some(Duration::from_secs(60))).unwrap();
        assert_eq!(s.scan(SystemTime::now(), |_| {}).len(), 1);
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert!(s.scan(later, |_| {}).is_empty());
        let zero = Scanner::new(&pat, &[], Some(Duration::ZERO)).unwrap();
        assert_eq!(zero.scan(later, |_| {}).len(), 1, "0 means no limit");
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(
            Scanner::new(&["/x/[".into()], &[], None)
                .unwrap_err()
                .contains("invalid pattern '/x/['"),
            ""
        );
        assert!(Scanner::new(&["/x".into()], &["[".into()], None).is_err());
    }

    #[test]
    fn tilde_expands_to_home() {
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                expand_tilde("~/a.log"),
                Path::new(&home).join("a.log").to_string_lossy()
            );
        }
        assert_eq!(expand_tilde("/a/~/b"), "/a/~/b");
    }
}
