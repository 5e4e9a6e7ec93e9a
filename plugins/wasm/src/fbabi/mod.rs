//! Fluent Bit's WebAssembly plugins, with Fluent Bit's names, parameters and ABI: modules
//! written for Fluent Bit run unchanged.
//!
//! - [`filter`]: the `wasm` filter, one call of an exported function per record.
//! - [`exec_wasi`]: the `exec_wasi` input, a WASI command whose standard output becomes records.
//! - [`guest`]: linking (WASI preview 1, `accessible_paths`), limits, and what a failed call was.
//! - [`memory`]: where the host puts a call's inputs in the module and how it reads results.
//!
//! Both plugins take Fluent Bit's `wasm_heap_size` and `wasm_stack_size`, and Weir's
//! `wasm.time_limit` and `wasm.on_error` (the filter). docs/wasm-fluent-bit-abi.md is the
//! user's guide.

pub mod exec_wasi;
pub mod filter;
pub mod guest;
pub mod memory;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use weir_config::{ConfigError, Params};
use weir_core::Registry;

/// Adds `wasm` and `exec_wasi` to the registry.
pub fn register(r: &mut Registry) {
    r.register(&filter::DESCRIPTOR);
    r.register(&exec_wasi::DESCRIPTOR);
}

/// What happens to a record whose call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Kept unchanged.
    Pass,
    /// Dropped.
    Drop,
}

impl OnError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Pass => "pass",
            OnError::Drop => "drop",
        }
    }
}

/// The settings both plugins share.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub preopens: Vec<guest::Preopen>,
    pub allowance: u64,
    pub time_limit: Duration,
    pub on_error: OnError,
    pub warnings: Vec<String>,
}

impl Common {
    pub fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let mut warnings = Vec::new();
        let preopens = guest::preopens(&p.list("accessible_paths"))
            .map_err(|e| p.error("accessible_paths", e))?;
        let heap = p
            .is_set("wasm_heap_size")
            .then(|| p.size("wasm_heap_size"))
            .flatten();
        let allowance = guest::allowance(heap);
        if let Some(stack) = p
            .size("wasm_stack_size")
            .filter(|s| *s > guest::ENGINE_STACK)
        {
            warnings.push(format!(
                "wasm_stack_size {stack} is above the runtime's stack of {} bytes of WebAssembly frames, which applies",
                guest::ENGINE_STACK
            ));
        }
        let time_limit = p.time("wasm.time_limit").unwrap_or(Duration::from_secs(1));
        if time_limit < crate::engine::EPOCH_TICK {
            return Err(p.error(
                "wasm.time_limit",
                format!(
                    "expected at least {}ms",
                    crate::engine::EPOCH_TICK.as_millis()
                ),
            ));
        }
        let on_error = match p.str("wasm.on_error") {
            None => OnError::Pass,
            Some(t) => match t.to_ascii_lowercase().as_str() {
                "pass" => OnError::Pass,
                "drop" => OnError::Drop,
                _ => {
                    return Err(
                        p.error("wasm.on_error", format!("expected pass or drop, got '{t}'"))
                    )
                }
            },
        };
        Ok(Self {
            preopens,
            allowance,
            time_limit,
            on_error,
            warnings,
        })
    }
}

/// A module path from the configuration: relative to the main configuration file's directory
/// (as Fluent Bit documents); when nothing is there, relative to the working directory (where
/// Fluent Bit actually opens it).
pub fn resolve_module_path(config_dir: &Path, path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if p.is_absolute() {
        return p;
    }
    let beside = config_dir.join(&p);
    if beside.exists() || !p.exists() {
        beside
    } else {
        p
    }
}

/// Compiles (or takes from the compile cache, `plugins.cache_path`) a core module: a Go
/// module is megabytes of code that takes seconds to compile.
pub(crate) fn load_module(path: &Path) -> Result<wasmtime::Module, String> {
    let cache = crate::engine::cache_dir();
    let (artifact, _) = crate::engine::load(path, cache.as_deref()).map_err(|e| e.to_string())?;
    match artifact {
        crate::engine::Artifact::Module(m) => Ok(m),
        crate::engine::Artifact::Component(_) => Err(format!(
            "{} is a WebAssembly component: Fluent Bit's ABI takes core modules (components are Weir plugins of their own)",
            path.display()
        )),
    }
}

/// Logs a plugin's failures at most once a second, saying how many were not logged.
pub struct FailureLog {
    component: String,
    state: Mutex<(Option<Instant>, u64)>,
}

impl FailureLog {
    pub fn new(component: String) -> Self {
        Self {
            component,
            state: Mutex::new((None, 0)),
        }
    }

    pub fn error(&self, msg: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match st.0 {
            Some(last) if now.duration_since(last) < Duration::from_secs(1) => {
                st.1 += 1;
            }
            _ => {
                let suppressed = std::mem::take(&mut st.1);
                st.0 = Some(now);
                drop(st);
                if suppressed > 0 {
                    weir_core::error!(
                        self.component,
                        "{} ({} similar messages not logged)",
                        msg,
                        suppressed
                    );
                } else {
                    weir_core::error!(self.component, "{}", msg);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_follow_the_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"").unwrap();
        assert_eq!(
            resolve_module_path(dir.path(), "f.wasm"),
            dir.path().join("f.wasm")
        );
        assert_eq!(
            resolve_module_path(dir.path(), "/abs/f.wasm"),
            PathBuf::from("/abs/f.wasm")
        );
        // Nowhere: reported beside the configuration file.
        assert_eq!(
            resolve_module_path(dir.path(), "none.wasm"),
            dir.path().join("none.wasm")
        );
        // Only relative to the working directory: taken from there.
        assert_eq!(
            resolve_module_path(dir.path(), "Cargo.toml"),
            PathBuf::from("Cargo.toml")
        );
    }
}
