//! The `service` section: its parameter table and the validated settings the engine runs with.

use crate::log::Level;
use crate::scheduler::Backoff;
use std::path::PathBuf;
use std::time::Duration;
use weir_config::{ConfigError, ParamSpec, Params, Section};

/// Every `service` key Weir knows. Keys Fluent Bit has and Weir does not implement yet are
/// listed as not supported, so they fail with a clear message instead of being ignored.
pub static SERVICE_PARAMS: &[ParamSpec] = &[
    ParamSpec::time("flush")
        .default("1")
        .desc("Interval in seconds at which buffered chunks are handed to the outputs."),
    ParamSpec::time("grace")
        .default("5")
        .desc("On shutdown, seconds to wait for buffered data to be delivered."),
    ParamSpec::bool("daemon").default("off").desc(
        "Run in the background. Not supported: run Weir under systemd or another supervisor.",
    ),
    ParamSpec::str("log_level")
        .default("info")
        .desc("Log verbosity: off, error, warn, info, debug or trace."),
    ParamSpec::str("log_file").desc("Write logs to this file instead of stderr."),
    ParamSpec::str("parsers_file")
        .multiple()
        .desc("A parsers file to load (classic or YAML); may be given more than once."),
    ParamSpec::str("plugins_file")
        .multiple()
        .desc("A plugins file listing external plugins to load: WebAssembly components, registered under the name they give themselves (read by the weir binary before the pipeline is built)."),
    ParamSpec::str("plugins.state_path")
        .desc("Weir: where component plugins keep their key-value state (default: <storage.path>/plugin-state, else the user's state directory)."),
    ParamSpec::str("plugins.cache_path")
        .desc("Weir: where compiled component plugins are cached, so a restart does not compile them again (default: the user's cache directory; empty: no cache)."),
    ParamSpec::str("streams_file")
        .not_yet()
        .desc("Stream processor configuration."),
    ParamSpec::bool("http_server")
        .default("off")
        .desc("Serve the HTTP monitoring API."),
    ParamSpec::str("http_listen")
        .default("0.0.0.0")
        .desc("Address the HTTP monitoring API listens on."),
    ParamSpec::int("http_port")
        .default("2020")
        .desc("TCP port of the HTTP monitoring API."),
    ParamSpec::str("http.auth_token").desc(
        "Weir: a bearer token that the HTTP API's mutating endpoints (POST and PUT /api/v2/reload) require in an 'Authorization: Bearer' header. Read-only endpoints stay open. Use ${VAR} to keep it out of the file.",
    ),
    ParamSpec::bool("hot_reload")
        .default("off")
        .desc("Allow reloading the configuration while running."),
    ParamSpec::bool("hot_reload.watch")
        .default("off")
        .desc("Weir: reload when the configuration, an included file, a parsers file, a script or a WASM module changes (needs hot_reload on)."),
    ParamSpec::time("hot_reload.timeout")
        .default("30s")
        .desc("Weir: longest a reload may take; past it the reload is answered as timed out and the process keeps running."),
    ParamSpec::bool("health_check")
        .default("off")
        .desc("Serve /api/v1/health and apply the error and retry-failure thresholds to it and to /api/v2/health."),
    ParamSpec::int("hc_errors_count")
        .default("5")
        .desc("Health check: unhealthy when the outputs' errors within the last hc_period seconds exceed this, all outputs together."),
    ParamSpec::int("hc_retry_failure_count")
        .default("5")
        .desc("Health check: unhealthy when the outputs' chunks that ran out of retries within the last hc_period seconds exceed this, all outputs together."),
    ParamSpec::int("hc_period")
        .default("60")
        .desc("Health check: the window, in seconds, over which errors and retry failures are counted."),
    ParamSpec::int("scheduler.base")
        .default("5")
        .desc("Base of the exponential retry backoff, in seconds."),
    ParamSpec::int("scheduler.cap")
        .default("2000")
        .desc("Longest wait between two retries, in seconds."),
    ParamSpec::str("storage.path").desc("Directory for filesystem buffering."),
    ParamSpec::str("storage.sync")
        .default("normal")
        .desc("Filesystem sync mode: normal or full."),
    ParamSpec::bool("storage.checksum")
        .default("off")
        .desc("Verify chunk checksums when reading them back."),
    ParamSpec::int("storage.max_chunks_up")
        .default("128")
        .desc("Fluent Bit's bound on filesystem chunks in memory. Weir keeps such a chunk in memory only while it is written or delivered: one waiting for a retry is read back from its file."),
    ParamSpec::size("storage.backlog.mem_limit")
        .default("5M")
        .desc("Memory for replaying the backlog found at start."),
    ParamSpec::bool("storage.backlog.flush_on_shutdown")
        .default("off")
        .desc("Try to deliver the backlog before exiting."),
    ParamSpec::bool("storage.delete_irrecoverable_chunks")
        .default("off")
        .desc("Delete chunks that cannot be read instead of keeping them aside."),
    ParamSpec::bool("storage.metrics")
        .default("on")
        .desc("Serve /api/v1/storage on the HTTP server (Fluent Bit's default is on too)."),
    ParamSpec::bool("storage.keep.rejected")
        .default("off")
        .desc("Keep chunks that outputs rejected in a dead-letter directory."),
    ParamSpec::str("storage.rejected.path")
        .default("rejected")
        .desc("Dead-letter directory, under storage.path."),
    ParamSpec::str("storage.inherit")
        .not_yet()
        .desc("Default storage.type for inputs."),
    ParamSpec::str("coro_stack_size").desc("Accepted for compatibility; Weir runs no coroutines."),
    ParamSpec::bool("json.convert_nan_to_null")
        .default("off")
        .not_yet()
        .desc("Write NaN as null in JSON."),
    ParamSpec::str("dns.mode").not_yet().desc("DNS transport."),
    ParamSpec::str("dns.resolver")
        .not_yet()
        .desc("DNS resolver."),
    ParamSpec::bool("dns.prefer_ipv4")
        .not_yet()
        .desc("Prefer IPv4 in DNS answers."),
    ParamSpec::bool("enable_chunk_trace")
        .not_yet()
        .desc("Chunk tracing."),
    ParamSpec::int("workers")
        .default("1")
        .desc("Weir: threads that run the pipeline. One suits an edge host."),
    ParamSpec::size("memory_limit").desc(
        "Weir: the most memory all inputs' buffered data may take together; inputs pause beyond it. Default: half the cgroup memory limit when there is one, else none.",
    ),
];

/// Filesystem storage settings, validated now and used by the storage layer.
#[derive(Debug, Clone, Default)]
pub struct StorageSettings {
    pub path: Option<PathBuf>,
    pub sync_full: bool,
    pub checksum: bool,
    pub max_chunks_up: u64,
    pub backlog_mem_limit: u64,
    pub backlog_flush_on_shutdown: bool,
    pub delete_irrecoverable_chunks: bool,
    pub metrics: bool,
    pub keep_rejected: bool,
    pub rejected_path: String,
}

/// A value that must not show in logs or debug output: `{:?}` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    pub fn new(value: &str) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The validated `service` section.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub flush: Duration,
    pub grace: Duration,
    pub log_level: Level,
    pub log_file: Option<PathBuf>,
    pub parsers_files: Vec<String>,
    pub http_server: bool,
    pub http_listen: String,
    pub http_port: u16,
    pub hot_reload: bool,
    /// `hot_reload.watch`: reload when a file the configuration was built from changes.
    pub hot_reload_watch: bool,
    /// `hot_reload.timeout`: bound on a whole reload.
    pub hot_reload_timeout: Duration,
    /// `health_check`: `/api/v1/health` is served and the thresholds below apply.
    pub health_check: bool,
    /// `hc_errors_count`: output errors allowed within `hc_period` (more is unhealthy).
    pub hc_errors_count: u64,
    /// `hc_retry_failure_count`: chunks out of retries allowed within `hc_period`.
    pub hc_retry_failure_count: u64,
    /// `hc_period`: the health check's window.
    pub hc_period: Duration,
    /// `http.auth_token`: what the HTTP API's mutating endpoints require.
    pub http_auth_token: Option<Secret>,
    pub backoff: Backoff,
    pub storage: StorageSettings,
    pub workers: usize,
    /// Process-wide limit on buffered data (`memory_limit`), resolved: given, or half the
    /// cgroup's memory limit, or none.
    pub memory_limit: Option<u64>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            flush: Duration::from_secs(1),
            grace: Duration::from_secs(5),
            log_level: Level::Info,
            log_file: None,
            parsers_files: Vec::new(),
            http_server: false,
            http_listen: "0.0.0.0".into(),
            http_port: 2020,
            hot_reload: false,
            hot_reload_watch: false,
            hot_reload_timeout: Duration::from_secs(30),
            health_check: false,
            hc_errors_count: 5,
            hc_retry_failure_count: 5,
            hc_period: Duration::from_secs(60),
            http_auth_token: None,
            backoff: Backoff::default(),
            storage: StorageSettings::default(),
            workers: 1,
            memory_limit: None,
        }
    }
}

impl ServiceConfig {
    /// Validates a `service` section.
    pub fn from_section(section: &Section) -> Result<Self, ConfigError> {
        let p = weir_config::validate(section, &[SERVICE_PARAMS], "service")?;
        Self::from_params(&p)
    }

    fn from_params(p: &Params) -> Result<Self, ConfigError> {
        if p.bool("daemon") == Some(true) {
            return Err(p.error(
                "daemon",
                "daemon mode is not supported: run Weir in the foreground under systemd or another supervisor",
            ));
        }
        let level_text = p.str("log_level").unwrap_or("info");
        let log_level = Level::parse(level_text).ok_or_else(|| {
            p.error(
                "log_level",
                format!("expected one of off, error, warn, info, debug, trace; got '{level_text}'"),
            )
        })?;
        let flush = p.time("flush").unwrap_or(Duration::from_secs(1));
        if flush.is_zero() {
            return Err(p.error("flush", "expected a positive interval"));
        }
        let port = p.int("http_port").unwrap_or(2020);
        let http_port = u16::try_from(port).map_err(|_| {
            p.error(
                "http_port",
                format!("expected a TCP port between 0 and 65535, got {port}"),
            )
        })?;
        let sync = p.str("storage.sync").unwrap_or("normal");
        let sync_full = match sync.to_ascii_lowercase().as_str() {
            "normal" => false,
            "full" => true,
            _ => {
                return Err(p.error(
                    "storage.sync",
                    format!("expected normal or full, got '{sync}'"),
                ))
            }
        };
        let nonneg = |key: &str, default: i64| -> Result<u64, ConfigError> {
            let v = p.int(key).unwrap_or(default);
            u64::try_from(v)
                .map_err(|_| p.error(key, format!("expected a number of 0 or more, got {v}")))
        };
        let base = nonneg("scheduler.base", 5)?.max(1);
        let cap = nonneg("scheduler.cap", 2000)?;
        let workers = nonneg("workers", 1)?;
        let hc_period = nonneg("hc_period", 60)?;
        if hc_period == 0 {
            return Err(p.error("hc_period", "expected a period of 1 second or more"));
        }
        let http_auth_token = match p.str("http.auth_token") {
            None => None,
            // An empty token would let anyone in; it is most often an unset ${VAR}.
            Some(t) if t.trim().is_empty() => {
                return Err(p.error(
                    "http.auth_token",
                    "the token is empty (is the environment variable it names set?)",
                ))
            }
            Some(t) => Some(Secret::new(t.trim())),
        };
        if workers == 0 || workers > 256 {
            return Err(p.error(
                "workers",
                format!("expected between 1 and 256 threads, got {workers}"),
            ));
        }
        Ok(Self {
            flush,
            grace: p.time("grace").unwrap_or(Duration::from_secs(5)),
            log_level,
            log_file: p
                .str("log_file")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            parsers_files: p
                .all("parsers_file")
                .into_iter()
                .map(str::to_string)
                .collect(),
            http_server: p.bool("http_server").unwrap_or(false),
            http_listen: p.str("http_listen").unwrap_or("0.0.0.0").to_string(),
            http_port,
            hot_reload: p.bool("hot_reload").unwrap_or(false),
            hot_reload_watch: p.bool("hot_reload.watch").unwrap_or(false),
            hot_reload_timeout: p
                .time("hot_reload.timeout")
                .unwrap_or(Duration::from_secs(30))
                .max(Duration::from_secs(1)),
            health_check: p.bool("health_check").unwrap_or(false),
            hc_errors_count: nonneg("hc_errors_count", 5)?,
            hc_retry_failure_count: nonneg("hc_retry_failure_count", 5)?,
            hc_period: Duration::from_secs(hc_period),
            http_auth_token,
            backoff: Backoff {
                base,
                cap: cap.max(base),
            },
            storage: StorageSettings {
                path: p
                    .str("storage.path")
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from),
                sync_full,
                checksum: p.bool("storage.checksum").unwrap_or(false),
                max_chunks_up: nonneg("storage.max_chunks_up", 128)?,
                backlog_mem_limit: p.size("storage.backlog.mem_limit").unwrap_or(5 << 20),
                backlog_flush_on_shutdown: p
                    .bool("storage.backlog.flush_on_shutdown")
                    .unwrap_or(false),
                delete_irrecoverable_chunks: p
                    .bool("storage.delete_irrecoverable_chunks")
                    .unwrap_or(false),
                metrics: p.bool("storage.metrics").unwrap_or(true),
                keep_rejected: p.bool("storage.keep.rejected").unwrap_or(false),
                rejected_path: p
                    .str("storage.rejected.path")
                    .unwrap_or("rejected")
                    .to_string(),
            },
            workers: workers as usize,
            // Half the cgroup's limit leaves room for the rest of the process (code, parsers,
            // read buffers, the allocator's slack) before the kernel's OOM killer steps in.
            memory_limit: match p.size("memory_limit") {
                Some(0) => None,
                Some(l) => Some(l),
                None => crate::cgroup::memory_limit().map(|l| l / 2),
            },
        })
    }
}

/// Keys every input takes, besides its own.
pub static INPUT_COMMON_PARAMS: &[ParamSpec] = &[
    ParamSpec::str("name")
        .required()
        .desc("The input plugin's name."),
    ParamSpec::str("tag")
        .desc("Tag of the records this input produces (default: the instance name)."),
    ParamSpec::str("alias").desc("Instance name used in metrics and logs instead of name.N."),
    ParamSpec::str("log_level").desc("Log level for this instance."),
    ParamSpec::size("mem_buf_limit")
        .desc("Pause the input when its buffered data exceeds this size."),
    ParamSpec::str("storage.type")
        .default("memory")
        .desc("Buffering: memory or filesystem."),
    ParamSpec::bool("storage.pause_on_chunks_overlimit")
        .default("off")
        .desc("Fluent Bit pauses the input when storage.max_chunks_up is reached. Weir never holds waiting filesystem chunks in memory, so there is no such limit to reach; memory_limit and mem_buf_limit pause inputs instead."),
    ParamSpec::bool("threaded")
        .default("off")
        .desc("Accepted for compatibility: every Weir input already runs as its own task."),
    ParamSpec::bool("routable")
        .default("on")
        .not_yet()
        .desc("Whether records of this input are routed."),
    ParamSpec::time("log_suppress_interval")
        .not_yet()
        .desc("Suppress repeated log messages."),
];

/// Keys every filter takes, besides its own.
pub static FILTER_COMMON_PARAMS: &[ParamSpec] = &[
    ParamSpec::str("name")
        .required()
        .desc("The filter plugin's name."),
    ParamSpec::str("match").desc("Tags this filter applies to; '*' matches any run of characters."),
    ParamSpec::str("match_regex")
        .desc("A regular expression selecting the tags this filter applies to."),
    ParamSpec::str("alias").desc("Instance name used in metrics and logs instead of name.N."),
    ParamSpec::str("log_level").desc("Log level for this instance."),
    ParamSpec::time("log_suppress_interval")
        .not_yet()
        .desc("Suppress repeated log messages."),
];

/// Keys every output takes, besides its own.
pub static OUTPUT_COMMON_PARAMS: &[ParamSpec] = &[
    ParamSpec::str("name")
        .required()
        .desc("The output plugin's name."),
    ParamSpec::str("match").desc("Tags routed to this output; '*' matches any run of characters."),
    ParamSpec::str("match_regex")
        .desc("A regular expression selecting the tags routed to this output."),
    ParamSpec::str("alias").desc("Instance name used in metrics and logs instead of name.N."),
    ParamSpec::str("log_level").desc("Log level for this instance."),
    ParamSpec::str("retry_limit").default("1").desc(
        "Retries per chunk: a number, no_limits (or false) for no limit, no_retries for none.",
    ),
    ParamSpec::int("workers").desc("Chunks this output flushes at once (default 1)."),
    ParamSpec::size("storage.total_limit_size")
        .desc("Most disk space this output's queued chunks may take."),
    ParamSpec::str("storage.when_full").default("drop_oldest").desc(
        "Weir: when storage.total_limit_size is reached, drop_oldest drops this output's oldest chunks (Fluent Bit's behaviour); block pauses the inputs that feed it until there is room.",
    ),
    ParamSpec::time("log_suppress_interval")
        .not_yet()
        .desc("Suppress repeated log messages."),
];

#[cfg(test)]
mod tests {
    use super::*;
    use weir_config::{Location, SectionKind};

    fn service(pairs: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
        let mut s = Section::new(SectionKind::Service, Location::command_line());
        for (k, v) in pairs {
            s.push(*k, *v, Location::command_line());
        }
        ServiceConfig::from_section(&s)
    }

    #[test]
    fn http_and_health_defaults_are_fluent_bits() {
        let c = service(&[]).unwrap();
        assert!(!c.http_server);
        assert_eq!(c.http_listen, "0.0.0.0");
        assert_eq!(c.http_port, 2020);
        assert!(!c.health_check);
        assert_eq!(c.hc_errors_count, 5);
        assert_eq!(c.hc_retry_failure_count, 5);
        assert_eq!(c.hc_period, Duration::from_secs(60));
        assert!(c.http_auth_token.is_none());
        let d = ServiceConfig::default();
        assert_eq!(
            (d.hc_errors_count, d.hc_retry_failure_count, d.hc_period),
            (5, 5, Duration::from_secs(60))
        );
    }

    #[test]
    fn health_keys_are_read() {
        let c = service(&[
            ("Health_Check", "on"),
            ("HC_Errors_Count", "0"),
            ("hc_retry_failure_count", "3"),
            ("hc_period", "10"),
        ])
        .unwrap();
        assert!(c.health_check);
        assert_eq!(c.hc_errors_count, 0);
        assert_eq!(c.hc_retry_failure_count, 3);
        assert_eq!(c.hc_period, Duration::from_secs(10));
    }

    #[test]
    fn bad_health_values_are_refused() {
        assert!(service(&[("hc_period", "0")]).is_err());
        assert!(service(&[("hc_errors_count", "-1")]).is_err());
        assert!(service(&[("hc_retry_failure_count", "many")]).is_err());
    }

    #[test]
    fn auth_token_is_kept_and_never_printed() {
        let c = service(&[("http.auth_token", " s3cret ")]).unwrap();
        let t = c.http_auth_token.clone().unwrap();
        assert_eq!(t.expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = service(&[("http.auth_token", "")]).unwrap_err();
        assert!(e.to_string().contains("http.auth_token"), "{e}");
    }
}
