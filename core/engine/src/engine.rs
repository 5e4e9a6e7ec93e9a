//! Running a pipeline: start outputs, the monitoring server, the flush timer and the inputs;
//! stop gracefully on SIGTERM, SIGINT or an input's request.
//!
//! Shutdown order matters for losing nothing: inputs stop first, then every open chunk is
//! closed and dispatched, then the engine waits up to `grace` for the outputs to deliver
//! what they owe (pending retries are brought forward), and only then do outputs shut down.

use crate::budget::MemBudget;
use crate::context::InputContext;
use crate::ingest::Shared;
use crate::output;
use crate::pending::Pending;
use crate::pipeline::Pipeline;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

/// Runs the pipeline until a stop signal, then shuts down gracefully.
pub async fn run(pipeline: Pipeline) -> Result<RunReport, StartError> {
    let Pipeline {
        service,
        metrics,
        inputs,
        filters,
        outputs,
        emitters,
        ..
    } = pipeline;
    let started = Instant::now();
    crate::info!(
        "weir",
        "version={}, pid={}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
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

    let pending = Arc::new(Pending::default());
    let draining = CancellationToken::new();
    let mut handles = Vec::new();
    let mut output_tasks = Vec::new();
    let mut runtimes = Vec::new();
    for slot in outputs {
        let rt = Arc::new(slot.runtime);
        let (handle, rx) = output::queue(&rt, slot.matcher);
        crate::info!(rt.ctx.component, "worker #0 started");
        output_tasks.push(tokio::spawn(output::run(
            rt.clone(),
            rx,
            pending.clone(),
            draining.clone(),
        )));
        runtimes.push(rt);
        handles.push(handle);
    }
    let shared = Arc::new(Shared::new(filters, handles, pending.clone()));
    let (store, backlog) = match storage {
        Some((store, report)) => (Some(store), Some(report)),
        None => (None, None),
    };
    // The backlog goes to the outputs alongside new data, one chunk at a time.
    let replay_task = match (&store, backlog) {
        (Some(store), Some(report)) if !report.chunks.is_empty() => {
            Some(tokio::spawn(crate::storage::replay(
                store.clone(),
                report,
                shared.clone(),
                service.storage.backlog_mem_limit,
            )))
        }
        _ => None,
    };

    let stop_flush = CancellationToken::new();
    let flush_task = tokio::spawn(flush_timer(
        shared.clone(),
        service.flush,
        stop_flush.clone(),
    ));

    let emitter_queues: Arc<[(Arc<str>, Arc<MemBudget>)]> = emitters
        .iter()
        .map(|e| (e.name.clone(), e.queued.clone()))
        .collect();
    let cancel_inputs = CancellationToken::new();
    let mut budgets: Vec<(Arc<str>, Arc<MemBudget>)> = Vec::new();
    let mut filesystem_inputs: Vec<Arc<str>> = Vec::new();
    let process_budget = Arc::new(MemBudget::new(service.memory_limit));
    if let Some(l) = service.memory_limit {
        crate::info!(
            "engine",
            "buffered data limited to {} bytes for the whole process (memory_limit)",
            l
        );
    }
    let exit = CancellationToken::new();
    let mut input_tasks = tokio::task::JoinSet::new();
    for slot in inputs {
        let component = format!("input:{}:{}", slot.plugin, slot.name);
        crate::info!(component, "initializing");
        let budget = Arc::new(
            MemBudget::with_parent(slot.mem_buf_limit, process_budget.clone())
                .counting_pauses(slot.metrics.counter("pauses")),
        );
        budgets.push((slot.name.clone(), budget.clone()));
        if slot.filesystem {
            filesystem_inputs.push(slot.name.clone());
        }
        let file_store = if slot.filesystem {
            store.clone().map(|st| (st, slot.name.clone()))
        } else {
            None
        };
        let ctx = InputContext {
            name: slot.name,
            plugin: slot.plugin,
            tag: slot.tag,
            component: component.clone(),
            cancel: cancel_inputs.clone(),
            exit: exit.clone(),
            metrics: slot.metrics,
            ingest: shared.ingest(budget.clone(), file_store),
            budget,
            emitter_queues: emitter_queues.clone(),
            last_ticket: None,
        };
        let input = slot.input;
        input_tasks.spawn(async move {
            if let Err(e) = input.run(ctx).await {
                crate::error!(component, "{}", e);
            }
        });
    }
    let http_task = http_listener.map(|listener| {
        let state = crate::http::ApiState {
            metrics: metrics.clone(),
            started,
            storage: Arc::new(crate::http::StorageView {
                enabled: service.storage.metrics,
                store: store.clone(),
                inputs: budgets
                    .iter()
                    .map(|(n, b)| (n.clone(), b.clone(), filesystem_inputs.contains(n)))
                    .collect(),
            }),
            reload: None,
        };
        tokio::spawn(crate::http::serve(listener, state, stop_http.clone()))
    });

    // Emitters stop after the other inputs, so what filters re-emit while inputs wind down is kept.
    let cancel_emitters = CancellationToken::new();
    let mut emitter_tasks = tokio::task::JoinSet::new();
    for e in emitters {
        let budget = Arc::new(MemBudget::new(None));
        let ctx = InputContext {
            component: format!("input:emitter:{}", e.name),
            metrics: metrics.add_input(e.name.clone()),
            tag: e.name.clone(),
            name: e.name,
            plugin: "emitter",
            cancel: cancel_emitters.clone(),
            exit: exit.clone(),
            ingest: shared.ingest(budget.clone(), None),
            budget,
            emitter_queues: emitter_queues.clone(),
            last_ticket: None,
        };
        emitter_tasks.spawn(run_emitter(e.rx, e.queued, ctx));
    }

    let reason = tokio::select! {
        _ = stop_signal() => StopReason::Signal,
        _ = exit.cancelled() => StopReason::InputRequested,
    };

    // 1. Inputs stop. An input that does not return promptly is abandoned at `grace`.
    crate::info!(
        "engine",
        "service will shutdown in max {} seconds",
        service.grace.as_secs()
    );
    let deadline = tokio::time::Instant::now() + service.grace;
    cancel_inputs.cancel();
    let _ = tokio::time::timeout_at(deadline, async {
        while input_tasks.join_next().await.is_some() {}
    })
    .await;
    input_tasks.abort_all();
    cancel_emitters.cancel();
    let _ = tokio::time::timeout_at(deadline, async {
        while emitter_tasks.join_next().await.is_some() {}
    })
    .await;
    emitter_tasks.abort_all();
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
    stop_flush.cancel();
    let _ = flush_task.await;
    shared.flush_all();
    // 3. Deliveries finish within grace; waiting retries are brought forward.
    draining.cancel();
    let _ = tokio::time::timeout_at(deadline, pending.wait_zero()).await;
    let left = pending.get();
    drop(shared);
    for t in &output_tasks {
        if left > 0 {
            t.abort();
        }
    }
    for t in output_tasks {
        let _ = t.await;
    }
    for rt in &runtimes {
        rt.output.shutdown().await;
        let m = &rt.metrics;
        // A last word per output, so a short run's totals are known even after the HTTP API
        // is gone (and a log alert can compare them with what was read).
        crate::info!(
            "engine",
            "output {}: proc_records={} proc_bytes={} errors={} retries={} retries_failed={} dropped_records={}",
            rt.ctx.name,
            m.proc_records.get(),
            m.proc_bytes.get(),
            m.errors.get(),
            m.retries.get(),
            m.retries_failed.get(),
            m.dropped_records.get()
        );
    }
    stop_http.cancel();
    if let Some(t) = http_task {
        let _ = t.await;
    }
    for (name, b) in &budgets {
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

/// The input behind a filter's emitter: takes what the filter re-emits and ingests it,
/// releasing the queue's memory as it goes.
async fn run_emitter(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<crate::context::EmitBatch>,
    queued: Arc<MemBudget>,
    mut ctx: InputContext,
) {
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = ctx.cancel.cancelled() => {
                // Drain what was already emitted before stopping: those records were accepted.
                while let Ok(b) = rx.try_recv() {
                    ctx.emit(&b.tag, &b.data, b.records).await;
                    queued.release(b.data.len());
                }
                return;
            }
        };
        let Some(b) = batch else { return };
        ctx.emit(&b.tag, &b.data, b.records).await;
        queued.release(b.data.len());
    }
}

#[cfg(unix)]
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process still stops on SIGTERM, just not gracefully.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => crate::info!("engine", "caught signal (SIGTERM)"),
        _ = int.recv() => crate::info!("engine", "caught signal (SIGINT)"),
    }
}

#[cfg(not(unix))]
async fn stop_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
