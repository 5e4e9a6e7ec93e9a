//! The running pipeline: every component's task and the tokens that stop it, one by one.
//!
//! The engine starts a [`Running`] from the first pipeline and stops it at shutdown; a hot
//! reload uses the same operations on single components (start this output, stop that input,
//! drain that output) to move from one configuration to the next without a restart.

use crate::budget::MemBudget;
use crate::context::{EmitterQueues, EmitterRequest, InputContext};
use crate::ingest::{FilterInstance, Routes, Shared};
use crate::metrics::{InputMetrics, Metrics};
use crate::output::{self, OutputHandle, OutputRuntime};
use crate::pending::Pending;
use crate::pipeline::{Fingerprint, InputSlot, OutputSlot};
use crate::service::ServiceConfig;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weir_storage::Store;

pub(crate) struct RunningInput {
    pub name: Arc<str>,
    pub fingerprint: Fingerprint,
    pub metrics: Arc<InputMetrics>,
    pub budget: Arc<MemBudget>,
    pub filesystem: bool,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

pub(crate) struct RunningEmitter {
    pub name: Arc<str>,
    pub metrics: Arc<InputMetrics>,
    pub queued: Arc<MemBudget>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

pub(crate) struct RunningFilter {
    pub fingerprint: Fingerprint,
    pub instance: Arc<FilterInstance>,
    pub emitters: Vec<RunningEmitter>,
}

pub(crate) struct RunningOutput {
    pub fingerprint: Fingerprint,
    pub runtime: Arc<OutputRuntime>,
    pub handle: Arc<OutputHandle>,
    /// Closes the queue: what is queued is still delivered, nothing new comes.
    close: CancellationToken,
    /// Brings waiting retries forward (a child of the engine's, fired at shutdown).
    draining: CancellationToken,
    task: JoinHandle<()>,
}

/// Everything running, and what components need to start.
#[allow(clippy::type_complexity)]
pub(crate) struct Running {
    pub service: Arc<ServiceConfig>,
    pub metrics: Arc<Metrics>,
    pub shared: Arc<Shared>,
    pub store: Option<Store>,
    pub pending: Arc<Pending>,
    pub inputs: Vec<RunningInput>,
    pub filters: Vec<RunningFilter>,
    pub outputs: Vec<RunningOutput>,
    pub emitter_queues: Arc<EmitterQueues>,
    pub process_budget: Arc<MemBudget>,
    /// Parent tokens: cancelling one stops every component of its kind (shutdown).
    pub cancel_inputs: CancellationToken,
    pub cancel_emitters: CancellationToken,
    pub draining: CancellationToken,
    /// An input asked the engine to stop (dummy's `samples`, stdin at end of file).
    pub exit: CancellationToken,
    /// Outputs a reload removed that were still delivering when it answered.
    pub retiring: Vec<JoinHandle<()>>,
    /// Each input's buffer, as `/api/v1/storage` shows it.
    pub storage_inputs: Arc<RwLock<Vec<(Arc<str>, Arc<MemBudget>, bool)>>>,
}

impl Running {
    /// Starts the outputs' queues; inputs start later with [`Running::start_input`], once the
    /// routes are in place.
    pub fn new(
        service: Arc<ServiceConfig>,
        metrics: Arc<Metrics>,
        store: Option<Store>,
        outputs: Vec<OutputSlot>,
    ) -> Self {
        let pending = Arc::new(Pending::default());
        let draining = CancellationToken::new();
        let running_outputs: Vec<RunningOutput> = outputs
            .into_iter()
            .map(|slot| start_output(slot, &pending, &draining))
            .collect();
        let routes = Routes {
            filters: Vec::new(),
            outputs: running_outputs.iter().map(|o| o.handle.clone()).collect(),
        };
        let process_budget = Arc::new(MemBudget::new(service.memory_limit));
        Self {
            shared: Arc::new(Shared::new(routes, pending.clone())),
            service,
            metrics,
            store,
            pending,
            inputs: Vec::new(),
            filters: Vec::new(),
            outputs: running_outputs,
            emitter_queues: Arc::new(RwLock::new(Arc::from([]))),
            process_budget,
            cancel_inputs: CancellationToken::new(),
            cancel_emitters: CancellationToken::new(),
            draining,
            exit: CancellationToken::new(),
            retiring: Vec::new(),
            storage_inputs: Arc::default(),
        }
    }

    /// Makes the filters and outputs held here the ones chunks go through.
    pub fn publish_routes(&self) {
        self.shared.set_routes(Routes {
            filters: self.filters.iter().map(|f| f.instance.clone()).collect(),
            outputs: self.outputs.iter().map(|o| o.handle.clone()).collect(),
        });
        let queues: Arc<[(Arc<str>, Arc<MemBudget>)]> = self
            .filters
            .iter()
            .flat_map(|f| f.emitters.iter())
            .map(|e| (e.name.clone(), e.queued.clone()))
            .collect();
        *self
            .emitter_queues
            .write()
            .unwrap_or_else(|e| e.into_inner()) = queues;
        *self
            .storage_inputs
            .write()
            .unwrap_or_else(|e| e.into_inner()) = self
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.budget.clone(), i.filesystem))
            .collect();
    }

    /// Makes the running instances the ones the metrics show, in configuration order.
    pub fn publish_metrics(&self) {
        let mut inputs: Vec<(Arc<str>, Arc<InputMetrics>)> = self
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.metrics.clone()))
            .collect();
        for f in &self.filters {
            inputs.extend(
                f.emitters
                    .iter()
                    .map(|e| (e.name.clone(), e.metrics.clone())),
            );
        }
        let filters = self
            .filters
            .iter()
            .map(|f| (f.instance.name.clone(), f.instance.metrics.clone()))
            .collect();
        let outputs = self
            .outputs
            .iter()
            .map(|o| (o.runtime.ctx.name.clone(), o.runtime.metrics.clone()))
            .collect();
        self.metrics.set_all(inputs, filters, outputs);
    }

    /// Starts an input; it runs until cancelled (alone, or with every input at shutdown).
    pub fn start_input(&mut self, slot: InputSlot) {
        let component = format!("input:{}:{}", slot.plugin, slot.name);
        crate::info!(component, "initializing");
        let budget = Arc::new(
            MemBudget::with_parent(slot.mem_buf_limit, self.process_budget.clone())
                .counting_pauses(slot.metrics.counter("pauses")),
        );
        let file_store = if slot.filesystem {
            self.store.clone().map(|st| (st, slot.name.clone()))
        } else {
            None
        };
        let cancel = self.cancel_inputs.child_token();
        let ctx = InputContext {
            name: slot.name.clone(),
            plugin: slot.plugin,
            tag: slot.tag,
            component: component.clone(),
            cancel: cancel.clone(),
            exit: self.exit.clone(),
            metrics: slot.metrics.clone(),
            ingest: self.shared.ingest(budget.clone(), file_store),
            budget: budget.clone(),
            emitter_queues: self.emitter_queues.clone(),
            last_ticket: None,
        };
        let input = slot.input;
        let task = tokio::spawn(async move {
            if let Err(e) = input.run(ctx).await {
                crate::error!(component, "{}", e);
            }
        });
        self.inputs.push(RunningInput {
            name: slot.name,
            fingerprint: slot.fingerprint,
            metrics: slot.metrics,
            budget,
            filesystem: slot.filesystem,
            cancel,
            task,
        });
    }

    /// Starts the inputs behind a filter's emitters.
    pub fn start_emitters(&self, requests: Vec<EmitterRequest>) -> Vec<RunningEmitter> {
        requests
            .into_iter()
            .map(|e| {
                let budget = Arc::new(MemBudget::new(None));
                let cancel = self.cancel_emitters.child_token();
                let ctx = InputContext {
                    component: format!("input:emitter:{}", e.name),
                    metrics: e.metrics.clone(),
                    tag: e.name.clone(),
                    name: e.name.clone(),
                    plugin: "emitter",
                    cancel: cancel.clone(),
                    exit: self.exit.clone(),
                    ingest: self.shared.ingest(budget.clone(), None),
                    budget,
                    emitter_queues: self.emitter_queues.clone(),
                    last_ticket: None,
                };
                let task = tokio::spawn(run_emitter(e.rx, e.queued.clone(), ctx));
                RunningEmitter {
                    name: e.name,
                    metrics: e.metrics,
                    queued: e.queued,
                    cancel,
                    task,
                }
            })
            .collect()
    }

    /// Starts an output's queue and delivery task (it joins the routes at the next publish).
    pub fn start_output(&self, slot: OutputSlot) -> RunningOutput {
        start_output(slot, &self.pending, &self.draining)
    }
}

fn start_output(
    slot: OutputSlot,
    pending: &Arc<Pending>,
    draining: &CancellationToken,
) -> RunningOutput {
    let rt = Arc::new(slot.runtime);
    let (handle, rx) = output::queue(&rt, slot.matcher);
    crate::info!(rt.ctx.component, "worker #0 started");
    let close = CancellationToken::new();
    let draining = draining.child_token();
    let task = tokio::spawn(output::run(
        rt.clone(),
        rx,
        pending.clone(),
        draining.clone(),
        close.clone(),
    ));
    RunningOutput {
        fingerprint: slot.fingerprint,
        runtime: rt,
        handle: Arc::new(handle),
        close,
        draining,
        task,
    }
}

impl RunningInput {
    /// Stops the input, waiting up to `within` for it to return; what it held open goes on
    /// (its ingest path flushes when dropped). Returns false if it had to be abandoned.
    pub async fn stop(self, within: Duration) -> bool {
        self.cancel.cancel();
        stop_task(self.task, within).await
    }
}

impl RunningEmitter {
    /// Stops the emitter once it has taken in what was queued to it.
    pub async fn stop(self, within: Duration) -> bool {
        self.cancel.cancel();
        stop_task(self.task, within).await
    }
}

impl RunningOutput {
    /// Closes the output's queue, waits until what it was given is delivered (waiting
    /// retries are brought forward), then shuts the plugin down. A hot reload removed it.
    pub async fn drain(self) {
        self.close.cancel();
        self.draining.cancel();
        let _ = self.task.await;
        self.runtime.output.shutdown().await;
    }
}

/// Waits for a task up to `within`, aborting it past that. True if it ended by itself.
async fn stop_task(mut task: JoinHandle<()>, within: Duration) -> bool {
    match tokio::time::timeout(within, &mut task).await {
        Ok(_) => true,
        Err(_) => {
            task.abort();
            let _ = task.await;
            false
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

impl RunningOutput {
    /// The end of a run: closes the queue; once `deliver_until` passes, deliveries still
    /// under way are abandoned. Then the plugin shuts down and its totals are logged.
    pub async fn finish(self, abandon: bool) {
        self.close.cancel();
        if abandon {
            self.task.abort();
        }
        let _ = self.task.await;
        let rt = &self.runtime;
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
}

impl RunningInput {
    /// The end of a run: waits for the input (already cancelled) until `deadline`.
    pub async fn finish(self, deadline: tokio::time::Instant) {
        let mut task = self.task;
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl RunningEmitter {
    /// The end of a run: waits for the emitter (already cancelled) until `deadline`.
    pub async fn finish(self, deadline: tokio::time::Instant) {
        let mut task = self.task;
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
}
