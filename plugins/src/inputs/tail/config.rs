//! tail's parameters (Fluent Bit's names and defaults) and the validated settings.
//!
//! Keys Fluent Bit has and Weir does not implement are in the table as not supported, so a
//! configuration that uses them fails with a clear message instead of running differently.
//! SQLite-specific keys (`db.locking`, `db.journal_mode`) are accepted and checked, and have no
//! effect: the offsets live in sled, which always locks its database for one process.

use super::db::SyncMode;
use super::lines::LongLines;
use super::scan::Scanner;
use super::tag::TagTemplate;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::BuildContext;
use weir_parser::{MultilineParser, Parser};

pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::comma_list("path").required().desc("Files to read: shell patterns (*, ?, [...], **), separated by commas."),
    ParamSpec::comma_list("exclude_path").desc("Shell patterns of files not to read, matched against the whole path (e.g. *.gz,*.zip)."),
    ParamSpec::str("key").default("log").desc("Key of the line in records made without a parser."),
    ParamSpec::bool("read_from_head").default("false").desc("For files found at start without a stored offset: read from the beginning instead of the end."),
    ParamSpec::bool("read_newly_discovered_files_from_head").default("true").desc("For files found after start without a stored offset: read from the beginning."),
    ParamSpec::time("refresh_interval").default("60").desc("How often, in seconds, to look for new files matching path."),
    ParamSpec::time("watcher_interval").default("2s").desc("How often to check followed files for rotation."),
    ParamSpec::time("progress_check_interval").default("2s").desc("How often to check every followed file for data the file system watcher did not announce."),
    ParamSpec::int("progress_check_interval_nsec").default("0").desc("Nanoseconds added to progress_check_interval."),
    ParamSpec::time("fstat_interval").default("250ms").desc("How often files are checked for new data when inotify_watcher is off (or unavailable)."),
    ParamSpec::time("rotate_wait").default("5").desc("Seconds to keep reading a file after it was rotated, for data written late."),
    ParamSpec::str("path_key").desc("Add the file's path to each record under this key."),
    ParamSpec::str("offset_key").desc("Add the line's byte offset in its file to each record under this key."),
    ParamSpec::time("ignore_older").default("0").desc("Do not read files last modified longer ago than this (e.g. 1h, 2d); 0 reads all."),
    ParamSpec::bool("ignore_active_older_files").default("false").desc("Also stop following files already being read once they are older than ignore_older."),
    ParamSpec::size("buffer_chunk_size").default("32768").desc("Read size. Weir reads at least 256 KiB at a time when a file has that much waiting."),
    ParamSpec::size("buffer_max_size").default("32768").desc("Longest line accepted; longer ones stop the file unless skip_long_lines or truncate_long_lines is on."),
    ParamSpec::size("static_batch_size").default("50M").desc("Most bytes read from one file found at start before turning to other work."),
    ParamSpec::size("event_batch_size").default("50M").desc("Most bytes read from one file at a time once it has reached its end once."),
    ParamSpec::bool("skip_long_lines").default("false").desc("Skip lines longer than buffer_max_size instead of stopping to read the file."),
    ParamSpec::bool("skip_empty_lines").default("false").desc("Do not make records of empty lines."),
    ParamSpec::bool("exit_on_eof").default("false").desc("Stop Weir once every followed file has been read to its end (a last line without newline is read too)."),
    ParamSpec::bool("file_cache_advise").default("true").desc("Tell the kernel that file data already read will not be needed again (posix_fadvise DONTNEED on the part read)."),
    ParamSpec::bool("inotify_watcher").default("true").desc("Use inotify to learn about file changes; false checks files every fstat_interval."),
    ParamSpec::str("parser").desc("Parser for each line; a line it rejects is kept as text under key."),
    ParamSpec::str("tag_regex").desc("Regex on the file path whose named captures fill <name> parts of the tag."),
    ParamSpec::str("db").desc("Database (a directory) keeping the read offset of each file across restarts."),
    ParamSpec::str("db.sync").default("normal").desc("How often offsets reach the disk: off (at shutdown), normal (every 0.5 s), full or extra (every update)."),
    ParamSpec::bool("db.locking").default("false").desc("Accepted for compatibility (SQLite setting); the database is always locked to one process."),
    ParamSpec::str("db.journal_mode").default("WAL").desc("Accepted for compatibility (SQLite setting): WAL, DELETE, TRUNCATE, PERSIST, MEMORY or OFF; no effect."),
    ParamSpec::bool("db.compare_filename").default("false").desc("Use a stored offset only if the file still has the name it was stored under."),
    ParamSpec::comma_list("multiline.parser").multiple().desc("Multiline parsers (docker, cri, go, python, java, ruby or a [MULTILINE_PARSER]) tried in order."),
    ParamSpec::bool("keep_file_handle").default("true").not_yet().desc("Reopen the file for every read."),
    ParamSpec::bool("truncate_long_lines").default("false").desc("Keep the first buffer_max_size bytes of long lines (cut at a UTF-8 character boundary) instead of stopping or skipping."),
    ParamSpec::bool("docker_mode").default("false").not_yet().desc("Old Docker line joining; use multiline.parser docker."),
    ParamSpec::int("docker_mode_flush").default("4").not_yet().desc("Old Docker line joining timeout."),
    ParamSpec::str("docker_mode_parser").not_yet().desc("Old Docker line joining first-line parser."),
    ParamSpec::bool("multiline").default("false").not_yet().desc("Old multiline mode; use multiline.parser."),
    ParamSpec::time("multiline_flush").default("4").not_yet().desc("Old multiline mode timeout."),
    ParamSpec::str("parser_firstline").not_yet().desc("Old multiline mode first-line parser."),
    ParamSpec::prefix("parser_").not_yet().desc("Old multiline mode extra parsers (parser_1, parser_2...)."),
    ParamSpec::str("unicode.encoding").not_yet().desc("Convert UTF-16 input to UTF-8."),
    ParamSpec::str("generic.encoding").not_yet().desc("Convert other encodings to UTF-8."),
    ParamSpec::prefix("thread.ring_buffer.").not_yet().desc("Threaded input ring buffer settings."),
];

/// The least Weir reads at once from a file with data waiting. Fluent Bit reads
/// `buffer_chunk_size` (32 KiB); reading more per call costs fewer system calls and lets each
/// batch handed to the engine hold about a thousand lines.
pub const READ_BLOCK: usize = 256 * 1024;

/// Validated settings.
pub struct TailConfig {
    pub scanner: Scanner,
    pub key: String,
    pub read_from_head: bool,
    pub read_new_from_head: bool,
    pub refresh_interval: Duration,
    pub watcher_interval: Duration,
    pub progress_interval: Duration,
    pub fstat_interval: Duration,
    pub rotate_wait: Duration,
    pub path_key: Option<String>,
    pub offset_key: Option<String>,
    pub ignore_active_older_files: bool,
    pub read_size: usize,
    pub max_line: usize,
    pub static_batch: u64,
    pub event_batch: u64,
    pub long_lines: LongLines,
    pub skip_empty_lines: bool,
    pub exit_on_eof: bool,
    pub file_cache_advise: bool,
    pub inotify: bool,
    pub parser: Option<Arc<Parser>>,
    pub tag: TagSource,
    pub db: Option<PathBuf>,
    pub db_sync: SyncMode,
    pub compare_filename: bool,
    pub multiline: Vec<Arc<MultilineParser>>,
    /// Problems worth a warning at start (parser ignored with multiline).
    pub warnings: Vec<String>,
}

/// The tag: known only when the input runs (the engine gives the configured tag or the instance
/// name), so the template is built then.
pub struct TagSource {
    pub tag_regex: Option<String>,
}

impl TagSource {
    pub fn template(&self, tag: &str) -> Result<TagTemplate, String> {
        TagTemplate::new(tag, self.tag_regex.as_deref())
    }
}

fn positive(p: &Params, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    let d = p.time(key).unwrap_or(default);
    if d.is_zero() {
        return Err(p.error(key, "expected a positive duration"));
    }
    Ok(d)
}

fn size(p: &Params, key: &str, default: u64) -> Result<u64, ConfigError> {
    let v = p.size(key).unwrap_or(default);
    if v == 0 {
        return Err(p.error(key, "expected a size above 0"));
    }
    Ok(v)
}

impl TailConfig {
    pub fn from_params(p: &Params, ctx: &BuildContext) -> Result<Self, ConfigError> {
        let paths: Vec<String> = p
            .list("path")
            .iter()
            .map(|s| ctx.resolve_path(s).to_string_lossy().into_owned())
            .collect();
        if paths.is_empty() {
            return Err(p.error("path", "expected at least one file pattern"));
        }
        let ignore_older = p.time("ignore_older").filter(|d| !d.is_zero());
        let scanner = Scanner::new(&paths, &p.list("exclude_path"), ignore_older).map_err(|e| {
            let key =
                if e.contains("invalid pattern") && paths.iter().any(|x| e.contains(x.as_str())) {
                    "path"
                } else {
                    "exclude_path"
                };
            p.error(key, e)
        })?;

        let max_line = size(p, "buffer_max_size", 32768)?;
        let chunk = size(p, "buffer_chunk_size", 32768)?;
        if chunk > max_line {
            return Err(p.error(
                "buffer_chunk_size",
                format!("must not be larger than buffer_max_size ({max_line})"),
            ));
        }

        let mut warnings = Vec::new();
        let multiline: Vec<Arc<MultilineParser>> = p
            .all("multiline.parser")
            .into_iter()
            .flat_map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .map(|name| {
                ctx.parsers.multiline(&name).ok_or_else(|| {
                    p.error(
                        "multiline.parser",
                        format!("multiline parser '{name}' is not registered"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let mut parser =
            match p.str("parser").filter(|s| !s.is_empty()) {
                Some(name) => Some(ctx.parsers.get(name).ok_or_else(|| {
                    p.error("parser", format!("parser '{name}' is not registered"))
                })?),
                None => None,
            };
        if parser.is_some() && !multiline.is_empty() {
            warnings.push("on multiline.parser mode 'parser' is not used (set the parser in the multiline parser)".into());
            parser = None;
        }

        let tag_regex = p
            .str("tag_regex")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(re) = &tag_regex {
            regex::Regex::new(re)
                .map_err(|e| p.error("tag_regex", format!("invalid regular expression: {e}")))?;
        }

        let db_sync_text = p.str("db.sync").unwrap_or("normal");
        let db_sync = SyncMode::parse(db_sync_text).ok_or_else(|| {
            p.error(
                "db.sync",
                format!("expected extra, full, normal or off, got '{db_sync_text}'"),
            )
        })?;
        let journal = p.str("db.journal_mode").unwrap_or("WAL");
        if !["wal", "delete", "truncate", "persist", "memory", "off"]
            .contains(&journal.to_ascii_lowercase().as_str())
        {
            return Err(p.error(
                "db.journal_mode",
                format!("expected WAL, DELETE, TRUNCATE, PERSIST, MEMORY or OFF, got '{journal}'"),
            ));
        }

        let progress = p
            .time("progress_check_interval")
            .unwrap_or(Duration::from_secs(2))
            + Duration::from_nanos(
                u64::try_from(p.int("progress_check_interval_nsec").unwrap_or(0)).map_err(
                    |_| {
                        p.error(
                            "progress_check_interval_nsec",
                            "expected a number of 0 or more",
                        )
                    },
                )?,
            );
        let path_key = p
            .str("path_key")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let offset_key = p
            .str("offset_key")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let key = p
            .str("key")
            .filter(|s| !s.is_empty())
            .unwrap_or("log")
            .to_string();
        Ok(Self {
            scanner,
            key,
            read_from_head: p.bool("read_from_head").unwrap_or(false),
            read_new_from_head: p
                .bool("read_newly_discovered_files_from_head")
                .unwrap_or(true),
            refresh_interval: positive(p, "refresh_interval", Duration::from_secs(60))?,
            watcher_interval: positive(p, "watcher_interval", Duration::from_secs(2))?,
            progress_interval: if progress.is_zero() {
                Duration::from_secs(2)
            } else {
                progress
            },
            fstat_interval: positive(p, "fstat_interval", Duration::from_millis(250))?,
            rotate_wait: p.time("rotate_wait").unwrap_or(Duration::from_secs(5)),
            path_key,
            offset_key,
            ignore_active_older_files: p.bool("ignore_active_older_files").unwrap_or(false),
            read_size: usize::try_from(chunk).unwrap_or(usize::MAX).max(READ_BLOCK),
            max_line: usize::try_from(max_line).unwrap_or(usize::MAX),
            static_batch: size(p, "static_batch_size", 50_000_000)?,
            event_batch: size(p, "event_batch_size", 50_000_000)?,
            long_lines: if p.bool("truncate_long_lines").unwrap_or(false) {
                LongLines::Truncate
            } else if p.bool("skip_long_lines").unwrap_or(false) {
                LongLines::Skip
            } else {
                LongLines::Stop
            },
            skip_empty_lines: p.bool("skip_empty_lines").unwrap_or(false),
            exit_on_eof: p.bool("exit_on_eof").unwrap_or(false),
            file_cache_advise: p.bool("file_cache_advise").unwrap_or(true),
            inotify: p.bool("inotify_watcher").unwrap_or(true),
            parser,
            tag: TagSource { tag_regex },
            db: p
                .str("db")
                .filter(|s| !s.is_empty())
                .map(|s| ctx.resolve_path(s)),
            db_sync,
            compare_filename: p.bool("db.compare_filename").unwrap_or(false),
            multiline,
            warnings,
        })
    }
}
