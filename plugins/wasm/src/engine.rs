//! The one wasmtime [`Engine`] of the process, the clock that bounds every call, the limits
//! every store runs under, and the on-disk cache of compiled plugins.
//!
//! - **One engine.** Compiled code and settings are shared by every plugin instance; each
//!   instance gets its own `Store` (its memory, its limits), so instances never share state.
//! - **Time limits by epoch.** A thread advances the engine's epoch every [`EPOCH_TICK`] while
//!   a call into a plugin runs ([`ticking`]); a store's deadline is a number of ticks, so a
//!   call that runs past its time limit traps at its next loop back-edge or function entry.
//!   This costs a load and a compare per check, where fuel metering costs a counter update per
//!   instruction block. With no call running, the thread sleeps.
//! - **Memory limits** by [`StoreLimits`], a `ResourceLimiter` that refuses growth past the
//!   instance's limit: the guest sees `memory.grow` fail (most languages then abort, which
//!   traps), and the host never allocates it.
//! - **The compile cache.** Python and JavaScript components are 12–18 MB and take seconds of
//!   CPU and hundreds of MB to compile; a restart must not pay that again. Compiled artifacts are
//!   stored under the cache directory, named by the SHA-256 of the plugin file and the engine's
//!   compatibility hash (wasmtime version and settings), and loaded back with `deserialize`.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module, ResourceLimiter};

/// How often the epoch advances: the granularity of time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Set (to anything but `0`) to have `perf report` name the functions of plugins.
pub const PERF_MAP_ENV: &str = "WEIR_WASM_PERF_MAP";

/// The process's engine, created on first use with its epoch thread.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        if std::env::var_os(PERF_MAP_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
            // Names plugin functions for `perf` (in /tmp/perf-PID.map), so a plugin's author
            // can see where its time goes; off by default, it costs a write per function.
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // The default settings are the ones every compiled artifact in the cache was made
        // with; changing one changes the compatibility hash, so old artifacts are not used.
        // The settings above are all supported by the cranelift backend this crate is built
        // with; were a platform to disagree, plugins still run, without time limits, and the
        // log says so.
        let engine = Engine::new(&config).unwrap_or_else(|e| {
            weir_core::error!(
                "wasm",
                "cannot configure the WebAssembly engine ({}): plugins run without time limits",
                e
            );
            Engine::default()
        });
        let ticker = engine.clone();
        let spawned = std::thread::Builder::new()
            .name("weir-wasm-epoch".into())
            .spawn(move || tick(&ticker));
        match spawned {
            Ok(handle) => {
                let _ = TICKER.set(handle.thread().clone());
            }
            Err(e) => weir_core::error!(
                "wasm",
                "cannot start the epoch thread, time limits will not apply: {}",
                e
            ),
        }
        engine
    })
}

/// Calls into plugins running now (see [`ticking`]).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// The epoch thread, woken when a call starts.
static TICKER: OnceLock<std::thread::Thread> = OnceLock::new();
/// How often the epoch advances while no call runs: a call that is not marked by [`ticking`]
/// (there should be none) is still stopped, late.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// The epoch thread: ticks every [`EPOCH_TICK`] while a call into a plugin runs, and sleeps
/// otherwise. Ticking all the time cost an idle Weir 100 wake-ups a second, 0.6% of a core
/// here, for nothing: deadlines only matter while plugin code runs.
fn tick(engine: &Engine) {
    loop {
        if RUNNING.load(Ordering::Acquire) == 0 {
            std::thread::park_timeout(IDLE_TICK);
            if RUNNING.load(Ordering::Acquire) == 0 {
                engine.increment_epoch();
                continue;
            }
        }
        std::thread::sleep(EPOCH_TICK);
        engine.increment_epoch();
    }
}

/// Marks a call into a plugin as running for as long as the guard lives: the epoch advances
/// every [`EPOCH_TICK`] meanwhile, so the call's deadline applies. Take it before a call,
/// instantiation or `init`, after setting the store's deadline.
pub fn ticking() -> Ticking {
    if RUNNING.fetch_add(1, Ordering::AcqRel) == 0 {
        if let Some(t) = TICKER.get() {
            t.unpark();
        }
    }
    Ticking(())
}

/// See [`ticking`].
#[derive(Debug)]
#[must_use = "the epoch advances only while the guard lives"]
pub struct Ticking(());

impl Drop for Ticking {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The service's `plugins.cache_path`, once the configuration is read: `Some(None)` when it
/// is set empty (no cache).
static CACHE_DIR: std::sync::RwLock<Option<Option<PathBuf>>> = std::sync::RwLock::new(None);

/// Sets the compile cache every WASM plugin uses (`plugins.cache_path`; `None`: no cache).
pub fn set_cache_dir(dir: Option<PathBuf>) {
    *CACHE_DIR.write().unwrap_or_else(|e| e.into_inner()) = Some(dir);
}

/// The compile cache: the configured one, else the user's default.
pub fn cache_dir() -> Option<PathBuf> {
    CACHE_DIR
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| Some(crate::component::state::default_cache_dir()))
}

/// The deadline, in epoch ticks, for a call allowed to run `limit`: rounded up, plus one
/// tick because the current tick may be nearly over.
pub fn deadline_ticks(limit: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos().max(1);
    let ticks = limit.as_nanos().div_ceil(tick);
    u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
}

/// Memory and table limits of one store.
#[derive(Debug, Clone)]
pub struct StoreLimits {
    /// Bytes of linear memory the instance may have, all memories together.
    pub memory: usize,
    /// Elements a table may have.
    pub table_elements: usize,
    /// Set when a growth was refused: a trap that follows is reported as the memory limit.
    pub hit: bool,
}

impl StoreLimits {
    pub fn new(memory: usize) -> Self {
        Self {
            memory,
            table_elements: 100_000,
            hit: false,
        }
    }
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.memory;
        if !ok {
            self.hit = true;
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.table_elements;
        if !ok {
            self.hit = true;
        }
        Ok(ok)
    }
}

/// What a plugin file holds.
pub enum Artifact {
    Component(Component),
    Module(Module),
}

/// How loading went, for logs and the benchmarks.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub path: PathBuf,
    /// SHA-256 of the file, hex.
    pub digest: String,
    /// Compiled now (true) or taken from the cache (false).
    pub compiled: bool,
    pub took: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a WebAssembly module or component")]
    NotWasm { path: PathBuf },
    #[error("cannot compile {path}: {message}")]
    Compile { path: PathBuf, message: String },
}

/// Whether `bytes` are a component (else a core module, or not WebAssembly at all).
pub fn is_component(bytes: &[u8]) -> Option<bool> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        // The text format (WAT) is accepted too, for tests and hand-written plugins.
        let text = std::str::from_utf8(bytes).ok()?.trim_start();
        return if text.starts_with("(component") {
            Some(true)
        } else if text.starts_with("(module") {
            Some(false)
        } else {
            None
        };
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Some(true),
        [0x01, 0x00, 0x00, 0x00] => Some(false),
        _ => None,
    }
}

/// Loads a plugin file: from the cache when it was compiled before, else compiled (and cached
/// when `cache_dir` is given and usable).
pub fn load(path: &Path, cache_dir: Option<&Path>) -> Result<(Artifact, LoadInfo), LoadError> {
    let started = Instant::now();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let component = is_component(&bytes).ok_or_else(|| LoadError::NotWasm {
        path: path.to_path_buf(),
    })?;
    let digest = hex(&Sha256::digest(&bytes));
    let engine = engine();
    let cached = cache_dir
        .filter(|d| cache_dir_usable(d))
        .map(|d| d.join(cache_file_name(&digest, component)));
    if let Some(file) = cached.as_ref().filter(|f| f.is_file()) {
        match deserialize(engine, file, component) {
            Ok(a) => {
                return Ok((
                    a,
                    LoadInfo {
                        path: path.to_path_buf(),
                        digest,
                        compiled: false,
                        took: started.elapsed(),
                    },
                ))
            }
            Err(e) => weir_core::warn!(
                "wasm",
                "ignoring the cached compilation {}: {}",
                file.display(),
                e
            ),
        }
    }
    let compile_err = |e: wasmtime::Error| LoadError::Compile {
        path: path.to_path_buf(),
        message: format!("{e:#}"),
    };
    let artifact = if component {
        Artifact::Component(Component::new(engine, &bytes).map_err(compile_err)?)
    } else {
        Artifact::Module(Module::new(engine, &bytes).map_err(compile_err)?)
    };
    if let Some(file) = cached {
        if let Err(e) = store_in_cache(&artifact, &file) {
            weir_core::warn!(
                "wasm",
                "cannot cache the compilation of {} in {}: {}",
                path.display(),
                file.display(),
                e
            );
        }
    }
    Ok((
        artifact,
        LoadInfo {
            path: path.to_path_buf(),
            digest,
            compiled: true,
            took: started.elapsed(),
        },
    ))
}

fn cache_file_name(digest: &str, component: bool) -> String {
    let mut h = std::hash::DefaultHasher::new();
    engine().precompile_compatibility_hash().hash(&mut h);
    let kind = if component { "component" } else { "module" };
    format!("{digest}-{:016x}.{kind}.cwasm", h.finish())
}

/// The cache holds native code Weir will run: it is used only when no other user can write
/// to it (created with mode 0700 when missing).
fn cache_dir_usable(dir: &Path) -> bool {
    if !dir.is_dir() {
        if let Err(e) = create_private_dir(dir) {
            weir_core::warn!(
                "wasm",
                "cannot create the compile cache {}: {}",
                dir.display(),
                e
            );
            return false;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(dir) {
            Ok(m) if m.mode() & 0o022 != 0 => {
                weir_core::warn!(
                    "wasm",
                    "not using the compile cache {}: other users can write to it",
                    dir.display()
                );
                false
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }
    #[cfg(not(unix))]
    true
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn store_in_cache(artifact: &Artifact, file: &Path) -> Result<(), String> {
    let bytes = match artifact {
        Artifact::Component(c) => c.serialize(),
        Artifact::Module(m) => m.serialize(),
    }
    .map_err(|e| e.to_string())?;
    // Written aside and renamed, so a crash never leaves a half-written artifact under the
    // name a later start would load.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, file: &Path, component: bool) -> wasmtime::Result<Artifact> {
    // SAFETY: `deserialize_file` trusts the file to be native code that wasmtime produced for
    // this engine. Weir wrote it itself (`store_in_cache`, atomically renamed into place) in a
    // cache directory that no other user can write to (`cache_dir_usable`), under a name that
    // includes the engine's compatibility hash; wasmtime also checks the artifact's header and
    // its version and settings against the engine before using it.
    unsafe {
        if component {
            Component::deserialize_file(engine, file).map(Artifact::Component)
        } else {
            Module::deserialize_file(engine, file).map(Artifact::Module)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_add_one() {
        assert_eq!(deadline_ticks(Duration::from_millis(10)), 2);
        assert_eq!(deadline_ticks(Duration::from_millis(11)), 3);
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
    }

    #[test]
    fn tells_components_from_modules() {
        assert_eq!(is_component(b"\0asm\x0d\x00\x01\x00"), Some(true));
        assert_eq!(is_component(b"\0asm\x01\x00\x00\x00"), Some(false));
        assert_eq!(is_component(b"(module)"), Some(false));
        assert_eq!(is_component(b"  (component)"), Some(true));
        assert_eq!(is_component(b"ELF"), None);
    }

    #[test]
    fn second_load_comes_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("m.wat");
        std::fs::write(
            &wasm,
            "(module (func (export \"f\") (result i32) i32.const 7))",
        )
        .unwrap();
        let cache = dir.path().join("cache");
        let (_, first) = load(&wasm, Some(&cache)).unwrap();
        assert!(first.compiled);
        let (a, second) = load(&wasm, Some(&cache)).unwrap();
        assert!(!second.compiled, "loaded from the cache");
        assert_eq!(first.digest, second.digest);
        let Artifact::Module(m) = a else {
            panic!("a module")
        };
        let mut store = wasmtime::Store::new(engine(), ());
        store.set_epoch_deadline(deadline_ticks(Duration::from_secs(5)));
        let i = wasmtime::Instance::new(&mut store, &m, &[]).unwrap();
        let f = i.get_typed_func::<(), i32>(&mut store, "f").unwrap();
        assert_eq!(f.call(&mut store, ()).unwrap(), 7);
    }

    #[test]
    fn an_endless_loop_is_stopped_at_its_deadline() {
        let m = Module::new(engine(), "(module (func (export \"spin\") (loop (br 0))))").unwrap();
        let mut store = wasmtime::Store::new(engine(), ());
        store.set_epoch_deadline(deadline_ticks(Duration::from_millis(50)));
        let i = wasmtime::Instance::new(&mut store, &m, &[]).unwrap();
        let f = i.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
        // The epoch advances every tick only while a call is marked as running.
        let _ticking = ticking();
        let err = f.call(&mut store, ()).unwrap_err();
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt)
        );
    }

    #[test]
    fn memory_growth_stops_at_the_limit() {
        let m = Module::new(
            engine(),
            "(module (memory 1) (func (export \"grow\") (result i32) i32.const 100 memory.grow))",
        )
        .unwrap();
        let mut store = wasmtime::Store::new(engine(), StoreLimits::new(2 << 20));
        store.limiter(|l| l);
        store.set_epoch_deadline(deadline_ticks(Duration::from_secs(5)));
        let i = wasmtime::Instance::new(&mut store, &m, &[]).unwrap();
        let f = i.get_typed_func::<(), i32>(&mut store, "grow").unwrap();
        assert_eq!(f.call(&mut store, ()).unwrap(), -1, "growth refused");
        assert!(store.data().hit);
    }
}
