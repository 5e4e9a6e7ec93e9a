//! Running a pipeline: start outputs, the monitoring server, the flush timer and the inputs;
//! stop gracefully on SIGTERM, SIGINT or an input's request.
//!
//! Shutdown order matters for losing nothing: inputs stop first, then every open chunk is
//! closed and dispatched, then the engine waits up to `grace` for the outputs to deliver
//! what they owe (pending retries are brought forward), and only then do outputs shut down.

use crate::ingest::Shared;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::running::{Running, RunningFilter};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why the engine stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Signal,
    InputRequested,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunReport {
    pub reason: StopReason,
    /// Deliveries still owed when `grace` ran out (0 when everything was delivered).
    pub pending: usize,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the HTTP server on {addr}: {source}")]
    Http {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot open the storage at {path}: {message}")]
    Storage { path: String, message: String },
}

/// Builds the pipeline again from its sources (the configuration file, re-read), for a hot
/// reload. Given the process's metrics; returns the configuration error as text.
pub type Rebuild = Arc<dyn Fn(Arc<Metrics>) -> Result<Pipeline, String> + Send + Sync>;

/// What running needs besides the pipeline.
#[derive(Default)]
pub struct RunOptions {
    /// Reads the configuration again when a reload is asked for (over HTTP, by SIGHUP, or by
    /// `hot_reload.watch`); without it, reloads are refused.
    pub rebuild: Option<Rebuild>,
    /// The plugins built into this binary, for `/api/v1/plugins`.
    pub plugins: crate::http::PluginList,
}

/// Runs the pipeline until a stop signal, then shuts down gracefully.
pub async fn run(pipeline: Pipeline) -> Result<RunReport, StartError> {
    run_with(pipeline, RunOptions::default()).await
}

/// Like [`run`], with hot reload and the plugin list of the monitoring API.
pub async fn run_with(pipeline: Pipeline, opts: RunOptions) -> Result<RunReport, StartError> {
    let RunOptions { rebuild, plugins } = opts;
    let Pipeline {
        service,
        metrics,
        inputs,
        filters,
        outputs,
        watch_files,
        ..
    } = pipeline;
    crate::info!(
        "weir",
        "version={}, pid={}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    // Signal handlers first: a SIGHUP or SIGTERM during start-up is not lost.
    let mut signals = Signals::new();
    // Storage opens (and recovers what a previous run left) before anything runs.
    let storage = crate::storage::open(&service.storage).await?;
    if storage.is_none() {
        crate::info!("storage", "type=memory");
    }

    // The HTTP server binds first: a port already taken fails before anything else starts.
    // It serves once the inputs exist (their buffers are part of what it shows).
    let stop_http = CancellationToken::new();
    let http_listener = if service.http_server {
        let addr = format!("{}:{}", service.http_listen, service.http_port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| StartError::Http {
                addr: addr.clone(),
                source,
            })?;
        crate::info!(
            "http_server",
            "listen iface={} tcp_port={}",
            service.http_listen,
            service.http_port
        );
        Some(listener)
    } else {
        None
    };

    let (store, backlog) = match storage {
        Some((store, report)) => (Some(store), Some(report)),
        None => (None, None),
    };
    if let Some(st) = &store {
        let _ = metrics.store.set(st.clone());
    }
    let mut running = Running::new(service.clone(), metrics.clone(), store.clone(), outputs);
    for f in filters {
        let emitters = running.start_emitters(f.emitters);
        running.filters.push(RunningFilter {
            fingerprint: f.fingerprint,
            instance: Arc::new(f.instance),
            emitters,
        });
    }
    running.publish_routes();
    // The backlog goes to the outputs alongside new data, one chunk at a time.
    let replay_task = match (&store, backlog) {
        (Some(store), Some(report)) if !report.chunks.is_empty() => {
            Some(tokio::spawn(crate::storage::replay(
                store.clone(),
                report,
                running.shared.clone(),
                service.storage.backlog_mem_limit,
            )))
        }
        _ => None,
    };

    let mut flush = FlushTimer::start(running.shared.clone(), service.flush);

    if let Some(l) = service.memory_limit {
        crate::info!(
            "engine",
            "buffered data limited to {} bytes for the whole process (memory_limit)",
            l
        );
    }
    for slot in inputs {
        running.start_input(slot);
    }
    running.publish_routes();
    running.publish_metrics();
    let _ = metrics.buffers.set(running.storage_inputs.clone());

    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::unbounded_channel();
    let control = Arc::new(crate::reload::Control::new(
        reload_tx,
        metrics.clone(),
        service.hot_reload,
    ));
    // The API's settings (health thresholds, token) follow reloads; its listener does not.
    let api_config = crate::http::ApiConfig::new(
        crate::http::ApiSettings::from_service(&service).with_plugins(plugins.clone()),
    );
    let http_task = http_listener.map(|listener| {
        let state = crate::http::ApiState {
            metrics: metrics.clone(),
            started: metrics.started,
            storage: Arc::new(crate::http::StorageView {
                enabled: service.storage.metrics,
                store: store.clone(),
                inputs: running.storage_inputs.clone(),
            }),
            reload: Some(control.clone() as Arc<dyn crate::reload::ReloadControl>),
        };
        tokio::spawn(crate::http::serve_with(
            listener,
            state,
            api_config.clone(),
            stop_http.clone(),
        ))
    });
    let mut watcher = crate::reload::watch::Watcher::start(
        service.hot_reload && service.hot_reload_watch,
        &watch_files,
        control.clone(),
    );

    let reason = loop {
        tokio::select! {
            s = signals.next() => match s {
                Sig::Stop => break StopReason::Signal,
                Sig::Reload => {
                    if running.service.hot_reload {
                        control.request_detached("SIGHUP");
                    } else {
                        crate::info!("reload", "SIGHUP ignored: hot_reload is off");
                    }
                }
            },
            _ = running.exit.cancelled() => break StopReason::InputRequested,
            Some(first) = reload_rx.recv() => {
                // Requests that came while the last reload ran are served by this one.
                let mut waiters = vec![first];
                while let Ok(w) = reload_rx.try_recv() {
                    waiters.push(w);
                }
                let result = crate::reload::apply(&mut running, rebuild.as_ref()).await;
                control.set_enabled(running.service.hot_reload);
                if let Some(files) = result.watch_files {
                    flush.set_interval(running.shared.clone(), running.service.flush);
                    api_config.set(
                        crate::http::ApiSettings::from_service(&running.service)
                            .with_plugins(plugins.clone()),
                    );
                    watcher = crate::reload::watch::Watcher::start(
                        running.service.hot_reload && running.service.hot_reload_watch,
                        &files,
                        control.clone(),
                    );
                }
                for w in waiters {
                    let _ = w.send(result.outcome.clone());
                }
            }
        }
    };
    drop(watcher);
    let service = running.service.clone();

    // 1. Inputs stop. An input that does not return promptly is abandoned at `grace`.
    crate::info!(
        "engine",
        "service will shutdown in max {} seconds",
        service.grace.as_secs()
    );
    let deadline = tokio::time::Instant::now() + service.grace;
    running.cancel_inputs.cancel();
    for i in std::mem::take(&mut running.inputs) {
        i.finish(deadline).await;
    }
    running.cancel_emitters.cancel();
    for f in &mut running.filters {
        for e in std::mem::take(&mut f.emitters) {
            e.finish(deadline).await;
        }
    }
    if let Some(mut t) = replay_task {
        // With storage.backlog.flush_on_shutdown the backlog keeps going out within grace;
        // otherwise, or past grace, what was not read yet stays on disk for next time.
        // (A finished JoinHandle must not be awaited again: it panics.)
        let finished = service.storage.backlog_flush_on_shutdown
            && tokio::time::timeout_at(deadline, &mut t).await.is_ok();
        if !finished {
            t.abort();
            let _ = t.await;
        }
    }
    // 2. Everything buffered goes to the outputs.
    flush.stop().await;
    running.shared.flush_all();
    // 3. Deliveries finish within grace; waiting retries are brought forward.
    running.draining.cancel();
    let _ = tokio::time::timeout_at(deadline, running.pending.wait_zero()).await;
    let left = running.pending.get();
    for o in std::mem::take(&mut running.outputs) {
        o.finish(left > 0).await;
    }
    // Outputs a reload removed and that were still delivering.
    for t in std::mem::take(&mut running.retiring) {
        if left > 0 {
            t.abort();
        }
        let _ = t.await;
    }
    stop_http.cancel();
    if let Some(t) = http_task {
        let _ = t.await;
    }
    for (name, b, _) in running
        .storage_inputs
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        crate::debug!(
            "engine",
            "input {}: buffered at most {} bytes at once",
            name,
            b.peak()
        );
    }
    if left > 0 {
        crate::warn!("engine", "service has stopped ({} pending tasks)", left);
    } else {
        crate::info!("engine", "service has stopped (0 pending tasks)");
    }
    Ok(RunReport {
        reason,
        pending: left,
    })
}

/// The flush timer's task, restartable when a reload changes `flush`.
struct FlushTimer {
    every: Duration,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl FlushTimer {
    fn start(shared: Arc<Shared>, every: Duration) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(flush_timer(shared, every, stop.clone()));
        Self { every, stop, task }
    }

    fn set_interval(&mut self, shared: Arc<Shared>, every: Duration) {
        if every != self.every {
            self.stop.cancel();
            *self = Self::start(shared, every);
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Closes every open chunk each `flush` interval.
async fn flush_timer(shared: Arc<Shared>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => shared.flush_all(),
            _ = stop.cancelled() => return,
        }
    }
}

/// What the process is told by signals: stop (SIGTERM, SIGINT) or reload (SIGHUP).
enum Sig {
    Stop,
    Reload,
}

#[cfg(unix)]
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        // Without a handler the process still stops on SIGTERM, just not gracefully.
        Self {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn next(&mut self) -> Sig {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = recv(&mut self.term) => {
                crate::info!("engine", "caught signal (SIGTERM)");
                Sig::Stop
            }
            _ = recv(&mut self.int) => {
                crate::info!("engine", "caught signal (SIGINT)");
                Sig::Stop
            }
            _ = recv(&mut self.hup) => {
                crate::info!("engine", "caught signal (SIGHUP)");
                Sig::Reload
            }
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> Self {
        Signals
    }
    async fn next(&mut self) -> Sig {
        let _ = tokio::signal::ctrl_c().await;
        Sig::Stop
    }
}
