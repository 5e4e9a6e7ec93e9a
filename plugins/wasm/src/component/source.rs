//! A plugin as Weir knows it by name: the file it comes from and the version in use, which a
//! new version of the file replaces while Weir runs (a hot swap).
//!
//! Instances ask for the version in use before each call. At most once a second that question
//! also looks at the file (its size, modification time and inode). A change seen twice in a
//! row (so a file still being written is not taken) is compiled on a thread of its own, never
//! on the path of events; the new version replaces the old once it compiled and describes
//! itself with the same name and kind. Each instance then moves to it between two calls,
//! after the new version's `init` succeeded with the instance's configuration; until then,
//! and if that fails, it keeps the version it has. A version that fails is refused once: it is
//! logged and counted (`wasm_swaps_refused`), and the next change of the file is tried again.
//!
//! A reload of the configuration asks for the same check at once ([`PluginSource::update`]);
//! a file that replaces a plugin with a new path (a changed `plugins_file`) goes through
//! [`PluginSource::publish`].

use super::compiled::{Compiled, Stamp};
use crate::engine::LoadError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use weir_core::PluginKind;

/// How often instances look at the plugin file.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where a plugin's compiled code and its instances' state live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The compile cache (`plugins.cache_path`); none: no cache.
    pub cache_dir: Option<PathBuf>,
    /// The state directory when set explicitly (`plugins.state_path`); otherwise
    /// `<storage.path>/plugin-state`, or the per-user default.
    pub state_dir: Option<PathBuf>,
}

pub struct PluginSource {
    kind: PluginKind,
    name: String,
    inner: Mutex<Inner>,
    /// When (milliseconds since the process's first check) the file is next looked at.
    next_check: AtomicU64,
    /// A compile of a new version is under way.
    compiling: AtomicBool,
    /// How many versions were refused (instances count them in their metrics).
    refusals: AtomicU64,
    /// Swaps made (a generation number, for logs and tests).
    versions: AtomicU64,
}

struct Inner {
    path: PathBuf,
    settings: Settings,
    current: Arc<Compiled>,
    /// A change seen at the last check, waiting to be seen once more.
    seen: Option<Stamp>,
    /// The stamp of a version that failed: not tried again until the file changes.
    failed: Option<Stamp>,
}

fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl std::fmt::Debug for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSource")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish()
    }
}

impl PluginSource {
    /// Loads the plugin at `path`.
    pub fn load(path: &Path, settings: Settings) -> Result<Arc<Self>, LoadError> {
        let c = Compiled::load(path, settings.cache_dir.as_deref())?;
        Ok(Self::from_compiled(c, settings))
    }

    pub fn from_compiled(c: Compiled, settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            kind: c.info.kind,
            name: c.info.name.clone(),
            inner: Mutex::new(Inner {
                path: c.path.clone(),
                settings,
                current: Arc::new(c),
                seen: None,
                failed: None,
            }),
            next_check: AtomicU64::new(clock() + CHECK_EVERY.as_millis() as u64),
            compiling: AtomicBool::new(false),
            refusals: AtomicU64::new(0),
            versions: AtomicU64::new(1),
        })
    }

    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    pub fn set_settings(&self, settings: Settings) {
        self.lock().settings = settings;
    }

    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    /// The version in use, without looking at the file.
    pub fn current(&self) -> Arc<Compiled> {
        self.lock().current.clone()
    }

    /// Versions refused so far.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Versions used so far (1 for the first).
    pub fn versions(&self) -> u64 {
        self.versions.load(Ordering::Relaxed)
    }

    /// The version in use; at most once every [`CHECK_EVERY`], also looks at the file and
    /// starts compiling a changed one aside. Cheap: an atomic load, most of the time.
    pub fn poll(self: &Arc<Self>) -> Arc<Compiled> {
        let now = clock();
        let due = self.next_check.load(Ordering::Relaxed);
        if now >= due
            && self
                .next_check
                .compare_exchange(
                    due,
                    now + CHECK_EVERY.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            self.look();
        }
        self.current()
    }

    /// Looks at the file; starts a compile when it changed and the change held since the
    /// last look.
    fn look(self: &Arc<Self>) {
        if self.compiling.load(Ordering::Acquire) {
            return;
        }
        let (path, stamp) = {
            let mut inner = self.lock();
            let Some(stamp) = Stamp::of(&inner.path) else {
                return;
            };
            if Some(stamp) == inner.current.stamp || Some(stamp) == inner.failed {
                inner.seen = None;
                return;
            }
            if inner.seen != Some(stamp) {
                inner.seen = Some(stamp);
                return;
            }
            (inner.path.clone(), stamp)
        };
        if self
            .compiling
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("weir-wasm-swap".into())
            .spawn(move || {
                let cache = me.settings().cache_dir;
                let _ = me.try_version(Compiled::load(&path, cache.as_deref()), stamp);
                me.compiling.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.compiling.store(false, Ordering::Release);
        }
    }

    /// Looks at the file now and, when it changed, compiles and publishes the new version
    /// before returning (reloads; tests). Returns whether a new version is in use.
    pub fn update(&self) -> Result<bool, String> {
        let (path, stamp, cache) = {
            let inner = self.lock();
            let Some(stamp) = Stamp::of(&inner.path) else {
                return Err(format!("cannot read {}", inner.path.display()));
            };
            if Some(stamp) == inner.current.stamp {
                return Ok(false);
            }
            (inner.path.clone(), stamp, inner.settings.cache_dir.clone())
        };
        self.try_version(Compiled::load(&path, cache.as_deref()), stamp)
    }

    fn try_version(
        &self,
        loaded: Result<Compiled, LoadError>,
        stamp: Stamp,
    ) -> Result<bool, String> {
        let res = loaded
            .map_err(|e| e.to_string())
            .and_then(|c| self.publish(c));
        if let Err(e) = &res {
            let mut inner = self.lock();
            inner.failed = Some(stamp);
            inner.seen = None;
            drop(inner);
            self.refusals.fetch_add(1, Ordering::Relaxed);
            weir_core::error!(
                format!("wasm:{}", self.name),
                "new version refused, the running one stays: {}",
                e
            );
        }
        res
    }

    /// Makes `c` the version in use, if it is the same plugin (name and kind). A version
    /// with the same content as the one in use is not a new version (a `touch`).
    pub fn publish(&self, c: Compiled) -> Result<bool, String> {
        if c.info.kind != self.kind || !c.info.name.eq_ignore_ascii_case(&self.name) {
            return Err(format!(
                "{} is the {} plugin '{}', not the {} plugin '{}'",
                c.path.display(),
                c.info.kind.as_str(),
                c.info.name,
                self.kind.as_str(),
                self.name
            ));
        }
        let mut inner = self.lock();
        inner.seen = None;
        inner.failed = None;
        inner.path = c.path.clone();
        if c.load.digest == inner.current.load.digest {
            // Same bytes (a `touch`): instances compare digests, so they stay as they are.
            inner.current = Arc::new(c);
            return Ok(false);
        }
        weir_core::info!(
            format!("wasm:{}", self.name),
            "version {} of {} loaded ({}), instances move to it between two calls",
            c.info.version,
            c.path.display(),
            if c.load.compiled {
                "compiled"
            } else {
                "from the compile cache"
            }
        );
        inner.current = Arc::new(c);
        drop(inner);
        self.versions.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }
}
