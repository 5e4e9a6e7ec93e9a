//! One plugin instance: its store, the limits every call runs under, what happens when a call
//! fails, and the move to a new version of the plugin.
//!
//! - Every call gets the instance's time limit as an epoch deadline, and runs with its memory
//!   limit. A call that traps, runs out of time or out of memory is counted (`wasm_traps`,
//!   `wasm_timeouts`, `wasm_memory_limit_hits`), its store is dropped and a fresh one is made
//!   from the cached `InstancePre` (`wasm_reinstantiations`), whose `init` runs again. What
//!   becomes of the batch is the caller's policy (`wasm.on_error`).
//! - When no instance can be made (its `init` fails), calls fail at once as unavailable,
//!   and making one is tried again after a pause that doubles up to a minute, so a broken
//!   plugin costs its pipeline nothing but the failed batches.
//! - Between two calls, [`Runner::begin`] moves to a new version of the plugin when there is
//!   one (see [`super::source`]): its `init` must succeed with this instance's configuration,
//!   else the instance keeps the version it has (`wasm_swaps`, `wasm_swaps_refused`).
//!
//! Failures are logged at most once a second per instance, with a count of the others.

use super::compiled::{classify, Compiled, Failure, Live};
use super::host::{HostState, InstanceEnv};
use super::params::{self, HostConfig};
use super::source::PluginSource;
use super::state::{self, State};
use crate::engine;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir_config::{ConfigError, Params};
use weir_core::metrics::Counter;
use weir_core::BuildContext;

/// Longest pause between two attempts to make an instance of a plugin whose `init` fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The host's counters of one instance, shown in its metrics.
pub struct HostCounters {
    pub traps: Arc<Counter>,
    pub timeouts: Arc<Counter>,
    pub memory: Arc<Counter>,
    pub reinstantiations: Arc<Counter>,
    /// Calls that returned an error, or events that did not decode.
    pub errors: Arc<Counter>,
    pub swaps: Arc<Counter>,
    pub swaps_refused: Arc<Counter>,
}

impl HostCounters {
    fn new(env: &InstanceEnv) -> Self {
        Self {
            traps: env.host_counter("wasm_traps"),
            timeouts: env.host_counter("wasm_timeouts"),
            memory: env.host_counter("wasm_memory_limit_hits"),
            reinstantiations: env.host_counter("wasm_reinstantiations"),
            errors: env.host_counter("wasm_errors"),
            swaps: env.host_counter("wasm_swaps"),
            swaps_refused: env.host_counter("wasm_swaps_refused"),
        }
    }
}

/// Lets one line through per second, counting the others.
#[derive(Default)]
struct LogGate {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogGate {
    /// `Some(n)` when a line may be written, `n` being how many were held back before it.
    fn open(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

pub struct Runner {
    source: Arc<PluginSource>,
    compiled: Arc<Compiled>,
    pub env: Arc<InstanceEnv>,
    pub host: HostConfig,
    /// The plugin's own parameters as the configuration sets them.
    given: HashMap<String, String>,
    /// What `config` answers, for the version in use.
    config: Arc<HashMap<String, String>>,
    live: Option<Live>,
    pub counters: HostCounters,
    seen_refusals: u64,
    /// A version this instance refused (its `init` failed here): not tried again.
    refused: Option<String>,
    /// When to try again to make an instance, after a failure to.
    retry_at: Option<Instant>,
    backoff: Duration,
    gate: LogGate,
    pace: Pace,
}

/// Where the state of instances built in `ctx` lives.
fn state_dir(source: &PluginSource, ctx: &BuildContext) -> PathBuf {
    source
        .settings()
        .state_dir
        .or_else(|| {
            ctx.service
                .storage
                .path
                .as_ref()
                .map(|p| p.join("plugin-state"))
        })
        .unwrap_or_else(state::default_dir)
}

impl Runner {
    /// Builds the instance a section configures: validates the host's parameters, opens its
    /// state, makes the instance and runs its `init` (an error there is a configuration
    /// error: Weir does not start, a reload is refused).
    pub fn new(
        source: Arc<PluginSource>,
        p: &Params,
        ctx: &BuildContext,
    ) -> Result<Self, ConfigError> {
        let kind = source.kind();
        let compiled = source.current();
        let host = HostConfig::from_params(kind, p, &|s| ctx.resolve_path(s))?;
        let section_error =
            |m: String| ConfigError::at(p.section_location(), m).with_section(p.what().to_string());
        let given = params::given_values(&compiled.info.params, p);
        let config =
            Arc::new(params::plugin_config(&compiled.info.params, &given).map_err(section_error)?);
        let state = if ctx.check_only {
            State::memory()
        } else {
            State::open(&state_dir(&source, ctx), &ctx.instance).map_err(section_error)?
        };
        let env = Arc::new(InstanceEnv::new(
            format!("{}:{}:{}", kind.as_str(), source.name(), ctx.instance),
            state,
            ctx.metrics.plugin(kind, &ctx.instance),
        ));
        let counters = HostCounters::new(&env);
        let mut r = Runner {
            seen_refusals: source.refusals(),
            source,
            compiled: compiled.clone(),
            env,
            host,
            given,
            config: config.clone(),
            live: None,
            counters,
            refused: None,
            retry_at: None,
            backoff: Duration::from_secs(1),
            gate: LogGate::default(),
            pace: Pace::default(),
        };
        match r.start(&compiled, config) {
            Ok(live) => r.live = Some(live),
            Err(f) => {
                return Err(section_error(format!(
                    "the plugin {} ({})",
                    f,
                    compiled.path.display()
                )))
            }
        }
        Ok(r)
    }

    /// The version in use.
    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.compiled
    }

    /// The event format of the version in use.
    pub fn format(&self) -> super::events::Format {
        self.compiled.info.format
    }

    /// Makes an instance of `compiled` and runs its `init`.
    fn start(
        &self,
        compiled: &Compiled,
        config: Arc<HashMap<String, String>>,
    ) -> Result<Live, Failure> {
        let wasi = self.host.grants.wasi_ctx().map_err(Failure::Unavailable)?;
        let state = HostState::new(
            wasi,
            self.host.grants.network,
            self.host.time_limit,
            self.host.memory_limit,
            self.env.clone(),
            config,
        );
        let _ticking = engine::ticking();
        let mut live = compiled.instantiate(state, self.host.time_limit)?;
        live.store
            .set_epoch_deadline(engine::deadline_ticks(self.host.time_limit));
        match live.init() {
            Ok(Ok(())) => Ok(live),
            Ok(Err(m)) => Err(Failure::Unavailable(format!(
                "init failed: {}",
                super::host::sanitize(&m)
            ))),
            Err(e) => Err(match classify(&e, &live.store) {
                Failure::Trap(m) => Failure::Unavailable(format!("init trapped: {m}")),
                f => f,
            }),
        }
    }

    fn count(&self, f: &Failure) {
        match f {
            Failure::Timeout => self.counters.timeouts.inc(),
            Failure::Memory => self.counters.memory.inc(),
            Failure::Trap(_) => self.counters.traps.inc(),
            Failure::Unavailable(_) => {}
        }
    }

    /// Logs a failure, at most once a second.
    pub fn log_failure(&mut self, what: std::fmt::Arguments<'_>) {
        if let Some(held) = self.gate.open() {
            if held > 0 {
                weir_core::error!(
                    self.env.component,
                    "{} ({} more since the last message)",
                    what,
                    held
                );
            } else {
                weir_core::error!(self.env.component, "{}", what);
            }
        }
    }

    /// Call before each batch: moves to a new version of the plugin if there is one.
    pub fn begin(&mut self) {
        let current = self.source.poll();
        let refusals = self.source.refusals();
        if refusals > self.seen_refusals {
            self.counters
                .swaps_refused
                .add(refusals - self.seen_refusals);
            self.seen_refusals = refusals;
        }
        if current.load.digest == self.compiled.load.digest {
            self.compiled = current;
            return;
        }
        if self.refused.as_deref() == Some(current.load.digest.as_str()) {
            return;
        }
        let started = params::plugin_config(&current.info.params, &self.given)
            .map_err(Failure::Unavailable)
            .map(Arc::new)
            .and_then(|config| self.start(&current, config.clone()).map(|l| (l, config)));
        match started {
            Ok((live, config)) => {
                weir_core::info!(
                    self.env.component,
                    "now running version {} of the plugin ({})",
                    current.info.version,
                    &current.load.digest[..12.min(current.load.digest.len())]
                );
                self.live = Some(live);
                self.config = config;
                self.compiled = current;
                self.retry_at = None;
                self.backoff = Duration::from_secs(1);
                self.counters.swaps.inc();
            }
            Err(f) => {
                self.count(&f);
                weir_core::error!(
                    self.env.component,
                    "new version {} of the plugin refused, this instance keeps version {}: {}",
                    current.info.version,
                    self.compiled.info.version,
                    f
                );
                self.refused = Some(current.load.digest.clone());
                self.counters.swaps_refused.inc();
            }
        }
    }

    /// Makes a fresh instance of the version in use, unless a recent attempt failed.
    fn restart(&mut self) -> Result<(), Failure> {
        if let Some(at) = self.retry_at {
            if Instant::now() < at {
                return Err(Failure::Unavailable(
                    "waiting before trying to start the plugin again".into(),
                ));
            }
        }
        self.counters.reinstantiations.inc();
        match self.start(&self.compiled.clone(), self.config.clone()) {
            Ok(live) => {
                self.live = Some(live);
                self.retry_at = None;
                self.backoff = Duration::from_secs(1);
                Ok(())
            }
            Err(f) => {
                self.count(&f);
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                let f = match f {
                    Failure::Unavailable(m) => Failure::Unavailable(m),
                    other => Failure::Unavailable(format!("its start-up {other}")),
                };
                self.log_failure(format_args!("cannot start the plugin again: {f}"));
                Err(f)
            }
        }
    }

    /// Calls into the plugin under the instance's limits. On a trap or a limit, the failure
    /// is counted and the instance replaced before this returns.
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        if self.live.is_none() {
            self.restart()?;
        }
        let Some(live) = self.live.as_mut() else {
            return Err(Failure::Unavailable("no instance".into()));
        };
        live.store
            .set_epoch_deadline(engine::deadline_ticks(self.host.time_limit));
        {
            let d = live.store.data_mut();
            d.limits.hit = false;
            d.emit_overflow = false;
        }
        let res = {
            let _ticking = engine::ticking();
            f(live)
        };
        let failure = match res {
            Ok(r) if !live.store.data().emit_overflow => return Ok(r),
            Ok(_) => Failure::Memory,
            Err(e) => classify(&e, &live.store),
        };
        self.count(&failure);
        self.live = None;
        // A fresh instance now, so the next batch (or a retry) does not wait for it.
        let _ = self.restart();
        Err(failure)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.env.state.flush();
    }
}

/// Writes an instance's state to disk, on a blocking thread (sled's flush waits on I/O): what
/// inputs and outputs do when they stop.
pub async fn flush_state(runner: Arc<Mutex<Runner>>) {
    let _ = tokio::task::spawn_blocking(move || {
        runner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .env
            .state
            .flush();
    })
    .await;
}

/// A call that took this long makes the instance's next calls hand off (see [`paced`]).
const SLOW_CALL: Duration = Duration::from_millis(1);
/// How many calls hand off after a slow one.
const HANDOFF_CALLS: u32 = 64;

/// Runs `f`, a call into the instance in `runner`, on the async worker whose task made it (a
/// filter runs on its input's task), or first hands the worker's other tasks to another thread
/// (`block_in_place`), which costs about 25 µs and a thread switch.
///
/// It hands off when it must or when it pays: when the plugin imports WASI or `wasi:http`
/// (their host functions block on the runtime, which is refused on a worker that has not
/// handed off), and for the next [`HANDOFF_CALLS`] calls after one that took [`SLOW_CALL`] or
/// more (a heavy plugin, or a hostile one stopped at its time limit). A fast plugin's calls
/// hold the worker no longer than a native filter's; a call never holds it longer than the
/// plugin's time limit. Measured on `tail` into a filter adding a field, handing off every
/// call cost 0.17 CPU-s per million records, a third of what the plugin itself cost.
pub fn paced<R: Send>(runner: &Mutex<Runner>, f: impl FnOnce(&mut Runner) -> R + Send) -> R {
    let mut guard = runner.lock().unwrap_or_else(|e| e.into_inner());
    let r: &mut Runner = &mut guard;
    // The version in use, or the one `begin` may move to, imports WASI.
    let must = r.compiled.blocking_imports || r.source.current().blocking_imports;
    let hand_off = r.pace.hand_off(must);
    let started = Instant::now();
    let out = if hand_off {
        run_blocking(|| f(&mut *r))
    } else {
        f(&mut *r)
    };
    r.pace.took(started.elapsed());
    out
}

/// The memory of [`paced`]: how many more calls hand off.
#[derive(Debug, Default)]
struct Pace {
    handoffs_left: u32,
}

impl Pace {
    /// Whether the next call hands off (`must`: it has to).
    fn hand_off(&mut self, must: bool) -> bool {
        if self.handoffs_left > 0 {
            self.handoffs_left -= 1;
            return true;
        }
        must
    }

    /// A call took `d`.
    fn took(&mut self, d: Duration) {
        if d >= SLOW_CALL {
            self.handoffs_left = HANDOFF_CALLS;
        }
    }
}

/// Runs `f`, which calls into a plugin and so may hold the thread up to the plugin's time
/// limit, without stalling the async runtime's other tasks: on a multi-threaded runtime's
/// worker, through `block_in_place` (the worker's other tasks move to another thread); on a
/// current-thread runtime, on a thread of its own; elsewhere, right here.
pub fn run_blocking<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
        Err(_) => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_gate_lets_one_line_a_second() {
        let mut g = LogGate::default();
        assert_eq!(g.open(), Some(0));
        assert_eq!(g.open(), None);
        assert_eq!(g.open(), None);
        g.last = Some(Instant::now() - Duration::from_secs(2));
        assert_eq!(g.open(), Some(2));
    }

    #[test]
    fn slow_calls_make_the_next_ones_hand_off() {
        let mut p = Pace::default();
        assert!(!p.hand_off(false), "fast plugins run on the worker");
        assert!(p.hand_off(true), "plugins importing WASI always hand off");
        p.took(SLOW_CALL / 2);
        assert!(!p.hand_off(false));
        p.took(SLOW_CALL);
        for _ in 0..HANDOFF_CALLS {
            assert!(p.hand_off(false));
            p.took(Duration::ZERO);
        }
        assert!(
            !p.hand_off(false),
            "back on the worker after a run of fast calls"
        );
        // A slow call among the hand-offs starts the count again.
        p.took(Duration::from_secs(1));
        assert!(p.hand_off(false));
        p.took(Duration::from_secs(1));
        assert_eq!(p.handoffs_left, HANDOFF_CALLS);
    }

    #[test]
    fn run_blocking_works_everywhere() {
        assert_eq!(run_blocking(|| 1), 1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { run_blocking(|| 2) }), 2);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert_eq!(
            rt.block_on(async { tokio::spawn(async { run_blocking(|| 3) }).await.unwrap() }),
            3
        );
    }
}
