//! What a plugin is handed: at build time ([`BuildContext`]) and while running
//! ([`InputContext`], [`FilterContext`], [`OutputContext`]).

use crate::budget::MemBudget;
use crate::ingest::Ingest;
use crate::metrics::{Counter, InputMetrics};
use crate::service::ServiceConfig;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weir_event::Signal;
use weir_parser::ParserRegistry;

/// Given to a plugin's factory.
pub struct BuildContext {
    /// The instance name (`tail.0`, or the `alias`).
    pub instance: Arc<str>,
    pub service: Arc<ServiceConfig>,
    pub parsers: Arc<ParserRegistry>,
    /// Directory of the main configuration file: relative paths resolve against it.
    pub config_dir: PathBuf,
    /// The build only checks the configuration (`--dry-run`): factories validate everything
    /// but take no resource (an output that listens returns [`crate::plugin::CheckedOnly`]).
    pub check_only: bool,
    /// The process's counters (what the `fluentbit_metrics` input reports).
    pub metrics: Arc<crate::metrics::Metrics>,
    pub(crate) emitters: Mutex<Vec<EmitterRequest>>,
}

pub(crate) struct EmitterRequest {
    pub name: Arc<str>,
    pub rx: mpsc::UnboundedReceiver<EmitBatch>,
    /// Bytes queued to the emitter and not yet ingested by it, bounded by its memory limit.
    pub queued: Arc<MemBudget>,
    /// The emitter's counters, shown as an input's.
    pub metrics: Arc<InputMetrics>,
}

/// The queue of every running emitter, by name: replaced when a hot reload adds or removes one.
pub(crate) type EmitterQueues = std::sync::RwLock<Arc<[(Arc<str>, Arc<MemBudget>)]>>;

/// Events re-emitted into the pipeline by a filter.
pub(crate) struct EmitBatch {
    pub tag: String,
    pub data: Vec<u8>,
    pub records: usize,
}

impl BuildContext {
    pub fn new(
        instance: Arc<str>,
        service: Arc<ServiceConfig>,
        parsers: Arc<ParserRegistry>,
        config_dir: PathBuf,
    ) -> Self {
        Self {
            instance,
            service,
            parsers,
            config_dir,
            check_only: false,
            metrics: Arc::default(),
            emitters: Mutex::new(Vec::new()),
        }
    }

    /// Turns a plugin's path parameter (tail's `path` and `db`, the file output's `path`)
    /// into a path to open. As in Fluent Bit, a relative path is relative to the working
    /// directory Weir was started in, not to the configuration file: only `@INCLUDE`,
    /// `includes` and `parsers_file` follow the configuration file.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        PathBuf::from(p)
    }

    /// Creates an input instance named `name` through which a filter re-emits events into the
    /// pipeline (Fluent Bit's emitter, used by `rewrite_tag`). Events from it pass every filter
    /// whose match fits their new tag, except, by [`FilterContext::input`], the one that owns it.
    ///
    /// `mem_buf_limit` bounds what is queued to the emitter and not yet taken in by it. Where
    /// Fluent Bit drops records its paused emitter cannot take, Weir makes the inputs that
    /// feed the filter wait (logged as a pause of the emitter): nothing is lost.
    pub fn new_emitter(&self, name: &str, mem_buf_limit: Option<u64>) -> Emitter {
        let (tx, rx) = mpsc::unbounded_channel();
        let name: Arc<str> = name.into();
        let queued = Arc::new(MemBudget::new(mem_buf_limit));
        self.emitters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(EmitterRequest {
                name: name.clone(),
                rx,
                metrics: Arc::default(),
                queued: queued.clone(),
            });
        Emitter { name, tx, queued }
    }
}

/// A handle to re-emit events into the pipeline.
#[derive(Clone)]
pub struct Emitter {
    name: Arc<str>,
    tx: mpsc::UnboundedSender<EmitBatch>,
    queued: Arc<MemBudget>,
}

impl Emitter {
    /// The emitter's input instance name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues encoded events under `tag`. Returns false once the pipeline has stopped.
    ///
    /// Never blocks: a filter runs inside an input's ingest path. When the queue is over its
    /// limit, the inputs wait after their current batch (see [`InputContext::emit`]).
    pub fn emit(&self, tag: &str, data: Vec<u8>, records: usize) -> bool {
        let len = data.len();
        self.queued.charge(len);
        let sent = self
            .tx
            .send(EmitBatch {
                tag: tag.to_string(),
                data,
                records,
            })
            .is_ok();
        if !sent {
            self.queued.release(len);
        }
        sent
    }
}

/// Given to a running input.
pub struct InputContext {
    pub(crate) name: Arc<str>,
    pub(crate) plugin: &'static str,
    pub(crate) tag: Arc<str>,
    pub(crate) component: String,
    pub(crate) cancel: CancellationToken,
    pub(crate) exit: CancellationToken,
    pub(crate) metrics: Arc<InputMetrics>,
    pub(crate) ingest: Ingest,
    pub(crate) budget: Arc<MemBudget>,
    /// The queues of the emitters this input may feed through filters (never its own).
    pub(crate) emitter_queues: Arc<EmitterQueues>,
    /// The store's ticket for this input's latest write, with filesystem storage.
    pub(crate) last_ticket: Option<weir_storage::Ticket>,
}

impl InputContext {
    /// The instance name (`tail.0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configured `tag` (the instance name when none was set, as Fluent Bit).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Whether a `tag` was given explicitly is known to the plugin through its params; this is
    /// the component label for log lines: `input:tail:tail.0`.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Resolves when the input must stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A token that fires when the input must stop, for inputs that hand work to threads.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Asks the engine to shut down gracefully (tail's `exit_on_eof`, stdin at end of file).
    pub fn request_exit(&self) {
        self.exit.cancel();
    }

    /// A plugin-specific counter shown in this input's metrics (tail's `files_opened`).
    pub fn counter(&self, name: &'static str) -> Arc<Counter> {
        self.metrics.counter(name)
    }

    /// Sends a batch of encoded log events with `tag` down the pipeline: filters run, then the
    /// events are appended to this input's chunk for the tag.
    pub async fn emit(&mut self, tag: &str, data: &[u8], records: usize) {
        self.emit_signal(Signal::Logs, tag, data, records).await
    }

    /// As [`emit`](Self::emit), for any signal. Filters only apply to logs.
    pub async fn emit_signal(&mut self, signal: Signal, tag: &str, data: &[u8], records: usize) {
        if records == 0 {
            return;
        }
        self.metrics.records.add(records as u64);
        self.metrics.bytes.add(data.len() as u64);
        // An output whose disk budget is full and set to block holds the input here.
        if self.ingest.wait_for_disk(&self.name, tag, data.len()).await {
            self.metrics.counter("pauses").inc();
        }
        if let Some(t) = self
            .ingest
            .ingest(&self.name, self.plugin, signal, tag, data, records)
        {
            self.last_ticket = Some(t);
        }
        // Past mem_buf_limit the input waits here: paused until deliveries free memory.
        let ingest = &self.ingest;
        self.budget.wait_below(&self.name, || ingest.flush()).await;
        // A filter may have re-emitted into an emitter whose queue is full: wait for it to
        // take in what it has, rather than letting it drop records as Fluent Bit does.
        let queues = self
            .emitter_queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (name, queued) in queues.iter() {
            if **name != *self.name {
                queued.wait_below(name, || {}).await;
            }
        }
        // Let every task that is ready (deliveries, the HTTP server, the flush timer) run
        // between two batches of a busy input: otherwise closed chunks can wait behind the
        // input's next reads and pile up in memory (seen as 15 MB buffered in tail_regex).
        tokio::task::yield_now().await;
    }
}

impl InputContext {
    /// Waits until everything this input has emitted so far is stored durably: written to
    /// its chunk files (`storage.sync normal`, which survives a crash of the process) or also
    /// fsynced (`full`, which survives a power loss). Inputs that acknowledge their clients
    /// (forward, http) call it before acknowledging.
    ///
    /// Returns false when there is nothing durable to wait for: the input buffers in memory
    /// only, or the write could not be made durable (logged).
    pub async fn committed(&self) -> bool {
        let (Some(ticket), Some(store)) = (self.last_ticket, self.ingest.store()) else {
            return false;
        };
        match tokio::task::spawn_blocking(move || store.wait_durable(ticket)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                crate::error!(self.component, "data could not be made durable: {}", e);
                false
            }
            Err(_) => false,
        }
    }
}

/// Given to a filter with each batch.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext<'a> {
    /// The instance name of the input the batch came from.
    pub input: &'a str,
    /// The plugin name of that input.
    pub input_plugin: &'a str,
}

/// Given to an output with each flush.
#[derive(Debug)]
pub struct OutputContext {
    pub name: Arc<str>,
    /// `output:stdout:stdout.0`, for log lines.
    pub component: String,
}
