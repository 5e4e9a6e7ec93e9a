//! A component plugin's parameter table: the parameters it declares in `describe`, then the
//! host's own, prefixed `wasm.`, which set its limits, its error policy and what it may reach.
//!
//! Both go in one table, so Weir validates a component plugin's section exactly as a native
//! plugin's (unknown keys, types, required keys) and `weir plugins NAME` lists them all.

use super::grants::Grants;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use weir_config::{ConfigError, ParamSpec, ParamType, Params};
use weir_core::PluginKind;

/// Default time limit of one call into a plugin.
pub const DEFAULT_TIME_LIMIT: &str = "1s";
/// Default memory limit of one instance (linear memories together).
pub const DEFAULT_MEMORY_LIMIT: &str = "64M";

const TIME_LIMIT: ParamSpec = ParamSpec::time("wasm.time_limit")
    .default(DEFAULT_TIME_LIMIT)
    .desc("Longest a call into the plugin may run; past it the call is stopped and follows wasm.on_error.");
const MEMORY_LIMIT: ParamSpec = ParamSpec::size("wasm.memory_limit")
    .default(DEFAULT_MEMORY_LIMIT)
    .desc("Most memory the plugin instance may have; growing past it fails (and usually traps).");
const ALLOW_ENV: ParamSpec = ParamSpec::comma_list("wasm.allow_env")
    .desc("Environment variables the plugin may read (names, comma-separated). None by default.");
const ALLOW_DIRS: ParamSpec = ParamSpec::comma_list("wasm.allow_dirs")
    .multiple()
    .desc("Directories the plugin may open, as host[:guest][:ro|rw] (read-only unless rw), comma-separated. None by default.");
const ALLOW_NETWORK: ParamSpec = ParamSpec::bool("wasm.allow_network")
    .default("off")
    .desc("Let the plugin open sockets and send HTTP requests.");

static FILTER_HOST: &[ParamSpec] = &[
    TIME_LIMIT,
    MEMORY_LIMIT,
    ParamSpec::str("wasm.on_error")
        .default("pass")
        .desc("When a call fails (error, trap, time or memory limit): drop the batch, pass it on unchanged, or retry once on a fresh instance and then pass."),
    ALLOW_ENV,
    ALLOW_DIRS,
];

static INPUT_HOST: &[ParamSpec] = &[
    ParamSpec::int("interval_sec")
        .default("1")
        .desc("Seconds between two calls of the plugin's collect."),
    ParamSpec::int("interval_nsec")
        .default("0")
        .desc("Nanoseconds added to interval_sec."),
    TIME_LIMIT,
    MEMORY_LIMIT,
    ParamSpec::str("wasm.on_error")
        .default("drop")
        .desc("When a collect fails (error, trap, time or memory limit): drop its events (pass is the same), or retry once at once on a fresh instance."),
    ALLOW_ENV,
    ALLOW_DIRS,
    ALLOW_NETWORK,
];

static OUTPUT_HOST: &[ParamSpec] = &[
    TIME_LIMIT,
    MEMORY_LIMIT,
    ParamSpec::str("wasm.on_error")
        .default("retry")
        .desc("When a flush fails (trap, time or memory limit): retry the chunk later, drop it (counted as an error), or pass it as delivered."),
    ALLOW_ENV,
    ALLOW_DIRS,
    ALLOW_NETWORK,
];

/// The host's parameters for plugins of `kind`.
pub fn host_params(kind: PluginKind) -> &'static [ParamSpec] {
    match kind {
        PluginKind::Input => INPUT_HOST,
        PluginKind::Filter => FILTER_HOST,
        PluginKind::Output => OUTPUT_HOST,
    }
}

/// What to do with a batch when a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Drop,
    Pass,
    Retry,
}

/// The host's settings of one instance, from its validated parameters.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub time_limit: Duration,
    pub memory_limit: usize,
    pub on_error: OnError,
    pub grants: Grants,
    /// For inputs: how often `collect` is called.
    pub interval: Duration,
}

/// The smallest time limit: a tick of the epoch clock.
const MIN_TIME_LIMIT: Duration = crate::engine::EPOCH_TICK;

impl HostConfig {
    pub fn from_params(
        kind: PluginKind,
        p: &Params,
        resolve: &dyn Fn(&str) -> std::path::PathBuf,
    ) -> Result<Self, ConfigError> {
        let time_limit = p.time("wasm.time_limit").unwrap_or(Duration::from_secs(1));
        if time_limit < MIN_TIME_LIMIT {
            return Err(p.error(
                "wasm.time_limit",
                format!("expected at least {}ms", MIN_TIME_LIMIT.as_millis()),
            ));
        }
        let memory = p.size("wasm.memory_limit").unwrap_or(64 << 20);
        let memory_limit = usize::try_from(memory).unwrap_or(usize::MAX);
        if memory_limit < 1 << 16 {
            return Err(p.error(
                "wasm.memory_limit",
                "expected at least 64K (one WebAssembly page)",
            ));
        }
        let text = p.str("wasm.on_error").unwrap_or("pass");
        let on_error = match text.to_ascii_lowercase().as_str() {
            "drop" => OnError::Drop,
            "pass" => OnError::Pass,
            "retry" => OnError::Retry,
            _ => {
                return Err(p.error(
                    "wasm.on_error",
                    format!("expected drop, pass or retry, got '{text}'"),
                ))
            }
        };
        let dirs: Vec<String> = p
            .all("wasm.allow_dirs")
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let grants = Grants::from_settings(
            &p.list("wasm.allow_env"),
            &dirs,
            kind != PluginKind::Filter && p.bool("wasm.allow_network").unwrap_or(false),
            resolve,
        )
        .map_err(|e| p.error(e.key, e.message))?;
        let interval = if kind == PluginKind::Input {
            let sec = p.int("interval_sec").unwrap_or(1);
            let nsec = p.int("interval_nsec").unwrap_or(0);
            if sec < 0 || nsec < 0 {
                return Err(p.error("interval_sec", "expected an interval of 0 or more"));
            }
            let d =
                Duration::from_secs(sec.unsigned_abs()) + Duration::from_nanos(nsec.unsigned_abs());
            if d.is_zero() {
                return Err(p.error(
                    "interval_sec",
                    "interval_sec and interval_nsec are both 0: expected a positive interval",
                ));
            }
            d
        } else {
            Duration::ZERO
        };
        Ok(Self {
            time_limit,
            memory_limit,
            on_error,
            grants,
            interval,
        })
    }
}

/// Why a plugin's declared parameters cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("parameter '{name}': {message}")]
pub struct ParamError {
    pub name: String,
    pub message: String,
}

/// A parameter as the plugin declared it, owned (the WIT's `param-spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<String>,
    pub required: bool,
    pub description: String,
}

/// Checks a plugin's declared parameters: lowercase names (made so), no repeats, none of the
/// keys Weir gives every plugin of the kind or its host's, defaults its types accept.
pub fn check_declared(
    kind: PluginKind,
    declared: &mut [Declared],
    common: &[ParamSpec],
) -> Result<(), ParamError> {
    let mut seen = std::collections::HashSet::new();
    let err = |name: &str, message: &str| ParamError {
        name: name.to_string(),
        message: message.to_string(),
    };
    for d in declared.iter_mut() {
        d.name = d.name.trim().to_ascii_lowercase();
        let name = d.name.as_str();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(name, "names must not be empty or contain spaces"));
        }
        if !seen.insert(name.to_string()) {
            return Err(err(name, "declared twice"));
        }
        if name.starts_with("wasm.") {
            return Err(err(name, "the wasm. prefix is the host's"));
        }
        if common
            .iter()
            .chain(host_params(kind))
            .any(|s| s.name == name)
        {
            return Err(err(
                name,
                "Weir gives this key to every plugin of the kind; pick another name",
            ));
        }
        if let Some(v) = &d.default {
            if !d.ty.accepts(v) {
                return Err(err(
                    name,
                    &format!("default '{v}' is not {}", d.ty.expected()),
                ));
            }
            if d.required {
                return Err(err(name, "required and has a default"));
            }
        }
    }
    Ok(())
}

/// The plugin's declared parameters then the host's, as a table that lives as long as the
/// process (descriptors are `'static`; a process leaks one per plugin version it loads).
pub fn leak_table(kind: PluginKind, declared: &[Declared]) -> &'static [ParamSpec] {
    let mut table: Vec<ParamSpec> = declared
        .iter()
        .map(|d| {
            let mut s = ParamSpec::new(leak_str(&d.name), d.ty);
            if let Some(v) = &d.default {
                s = s.default(leak_str(v));
            }
            if d.required {
                s = s.required();
            }
            let desc = if d.description.trim().is_empty() {
                "(no description)"
            } else {
                leak_str(d.description.trim())
            };
            s.desc(desc)
        })
        .collect();
    table.extend_from_slice(host_params(kind));
    Box::leak(table.into_boxed_slice())
}

pub fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// What the `config` import answers: every declared parameter, the value set in the
/// configuration or else its default. A key set but no longer declared (after a swap to a
/// version that dropped it) makes the version unusable with this configuration.
pub fn plugin_config(
    declared: &[Declared],
    given: &HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for d in declared {
        match given.get(&d.name).or(d.default.as_ref()) {
            Some(v) => {
                if !d.ty.accepts(v) {
                    return Err(format!(
                        "parameter '{}': expected {}, got '{v}'",
                        d.name,
                        d.ty.expected()
                    ));
                }
                out.insert(d.name.clone(), v.clone());
            }
            None if d.required => {
                return Err(format!("missing required parameter '{}'", d.name));
            }
            None => {}
        }
    }
    if let Some(k) = given.keys().find(|k| !out.contains_key(*k)) {
        return Err(format!(
            "parameter '{k}' is set but the plugin no longer declares it"
        ));
    }
    Ok(out)
}

/// The values the configuration gives the plugin's own parameters (not the host's, not the
/// keys common to the kind), by lowercase name.
pub fn given_values(declared: &[Declared], p: &Params) -> HashMap<String, String> {
    declared
        .iter()
        .filter(|d| p.is_set(&d.name))
        .filter_map(|d| Some((d.name.clone(), p.str(&d.name)?.to_string())))
        .collect()
}

/// A readable name for a file in messages.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::service::FILTER_COMMON_PARAMS;

    fn d(name: &str, ty: ParamType, default: Option<&str>, required: bool) -> Declared {
        Declared {
            name: name.into(),
            ty,
            default: default.map(Into::into),
            required,
            description: String::new(),
        }
    }

    #[test]
    fn host_tables_are_well_formed() {
        for k in [PluginKind::Input, PluginKind::Filter, PluginKind::Output] {
            weir_config::check_table(host_params(k)).unwrap();
        }
        assert!(FILTER_HOST.iter().all(|s| s.name != "wasm.allow_network"));
    }

    #[test]
    fn declared_parameters_are_checked() {
        let ok =
            |v: &mut Vec<Declared>| check_declared(PluginKind::Filter, v, FILTER_COMMON_PARAMS);
        let mut v = vec![d("Prefix", ParamType::Str, Some("x"), false)];
        ok(&mut v).unwrap();
        assert_eq!(v[0].name, "prefix");
        for bad in [
            vec![
                d("a", ParamType::Str, None, false),
                d("A", ParamType::Str, None, false),
            ],
            vec![d("match", ParamType::Str, None, false)],
            vec![d("wasm.x", ParamType::Str, None, false)],
            vec![d("n", ParamType::Int, Some("ten"), false)],
            vec![d("n", ParamType::Int, Some("1"), true)],
            vec![d("two words", ParamType::Str, None, false)],
        ] {
            let mut bad = bad;
            assert!(ok(&mut bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_leaked_table_passes_weirs_own_checks() {
        let table = leak_table(
            PluginKind::Output,
            &[
                d("url", ParamType::Str, None, true),
                d("n", ParamType::Int, Some("3"), false),
            ],
        );
        weir_config::check_table(table).unwrap();
        assert_eq!(table[0].name, "url");
        assert!(table.iter().any(|s| s.name == "wasm.allow_network"));
    }

    #[test]
    fn config_answers_given_values_then_defaults() {
        let declared = [
            d("a", ParamType::Int, Some("1"), false),
            d("b", ParamType::Str, None, false),
            d("c", ParamType::Str, None, true),
        ];
        let given: HashMap<String, String> = [("c".to_string(), "x".to_string())].into();
        let c = plugin_config(&declared, &given).unwrap();
        assert_eq!(c.get("a").map(String::as_str), Some("1"));
        assert_eq!(c.get("b"), None);
        assert_eq!(c.get("c").map(String::as_str), Some("x"));
        assert!(
            plugin_config(&declared, &HashMap::new()).is_err(),
            "c is required"
        );
        let extra: HashMap<String, String> =
            [("c".into(), "x".into()), ("gone".into(), "1".into())].into();
        assert!(plugin_config(&declared, &extra).is_err());
    }
}
