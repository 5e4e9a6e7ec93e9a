//! The ingest path: filters, then the input's open chunks, then dispatch to outputs.
//!
//! Each input owns an [`Ingest`]: its own filter cache and its own open chunks, so busy inputs
//! never contend on a global lock. The flush timer reaches the open chunks through the shared
//! list in [`Shared`] and closes them every `flush` interval.
//!
//! Filters and outputs form the [`Routes`], which a hot reload replaces as a whole. Chunks are
//! dispatched under a read lock on the current routes, so once a reload has swapped them, no
//! chunk can reach an output it removed: that output's queue can be closed and drained.

use crate::budget::{MemBudget, Tracked};
use crate::context::FilterContext;
use crate::metrics::FilterMetrics;
use crate::output::{OutputHandle, WhenFull};
use crate::pending::Pending;
use crate::plugin::{Batch, Filter, FilterOutcome};
use crate::router::TagMatcher;
use crate::storage::Stored;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use weir_event::chunk::CHUNK_TARGET_SIZE;
use weir_event::{Chunk, EventWriter, Signal};
use weir_storage::{ChunkWriter, Store, Ticket};

/// A configured filter.
pub(crate) struct FilterInstance {
    pub name: Arc<str>,
    pub matcher: TagMatcher,
    pub filter: Box<dyn Filter>,
    pub metrics: Arc<FilterMetrics>,
}

/// The filter chain and the outputs chunks are dispatched to: one generation of the pipeline.
pub(crate) struct Routes {
    pub filters: Vec<Arc<FilterInstance>>,
    pub outputs: Vec<Arc<OutputHandle>>,
}

/// State shared by every input, the flush timer and the outputs' dispatch.
pub(crate) struct Shared {
    routes: RwLock<Arc<Routes>>,
    /// Bumped by every [`Shared::set_routes`]; inputs compare it with theirs before each batch.
    generation: AtomicU64,
    pub pending: Arc<Pending>,
    chunk_seq: AtomicU64,
    open: Mutex<Vec<Arc<Mutex<OpenChunks>>>>,
}

pub(crate) struct OpenChunks {
    /// One map per signal, keyed by tag; lookups borrow the tag, so appending allocates nothing.
    by_signal: [HashMap<Arc<str>, OpenChunk>; 3],
    /// The owning input's memory budget, charged on append, released when delivered.
    budget: Arc<MemBudget>,
    /// With `storage.type filesystem`: the store, and the input's name (its stream there).
    store: Option<(Store, Arc<str>)>,
}

struct OpenChunk {
    data: Vec<u8>,
    records: usize,
    created: Instant,
    /// The chunk's file, for an input with filesystem storage (none when the file could not
    /// be created: the chunk then lives in memory only, and that was logged).
    writer: Option<(ChunkWriter, Store)>,
}

/// An open chunk taken out of its map: tag, signal and contents.
type ClosedChunk = (Arc<str>, Signal, OpenChunk);

fn signal_index(s: Signal) -> usize {
    match s {
        Signal::Logs => 0,
        Signal::Metrics => 1,
        Signal::Traces => 2,
    }
}

const SIGNALS: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

impl Shared {
    pub fn new(routes: Routes, pending: Arc<Pending>) -> Self {
        Self {
            routes: RwLock::new(Arc::new(routes)),
            generation: AtomicU64::new(0),
            pending,
            chunk_seq: AtomicU64::new(1),
            open: Mutex::new(Vec::new()),
        }
    }

    /// The current routes.
    pub fn routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the routes (a hot reload). When this returns, no dispatch is still sending to
    /// the old routes' outputs: dispatch holds the read lock while it sends.
    pub fn set_routes(&self, routes: Routes) {
        let mut guard = self.routes.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(routes);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A new ingest path for one input, charging what it buffers to `budget`, and writing
    /// it to `store` as stream `name` when the input has filesystem storage.
    pub fn ingest(
        self: &Arc<Self>,
        budget: Arc<MemBudget>,
        store: Option<(Store, Arc<str>)>,
    ) -> Ingest {
        let chunks = Arc::new(Mutex::new(OpenChunks {
            by_signal: Default::default(),
            budget,
            store,
        }));
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(chunks.clone());
        Ingest {
            shared: self.clone(),
            routes: self.routes(),
            generation: self.generation.load(Ordering::Acquire),
            chunks,
            filter_cache: HashMap::new(),
            spare: [EventWriter::new(), EventWriter::new()],
        }
    }

    /// Closes every open chunk of every input and sends them on (the `flush` tick).
    pub fn flush_all(&self) {
        let inputs: Vec<_> = self.open.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for chunks in inputs {
            self.flush_input(&chunks);
        }
    }

    /// Closes one input's open chunks and sends them on.
    fn flush_input(&self, chunks: &Mutex<OpenChunks>) {
        {
            let (closed, budget): (Vec<ClosedChunk>, Arc<MemBudget>) = {
                let mut guard = chunks.lock().unwrap_or_else(|e| e.into_inner());
                let mut v = Vec::new();
                for (i, map) in guard.by_signal.iter_mut().enumerate() {
                    for (tag, oc) in map.drain() {
                        v.push((tag, SIGNALS[i], oc));
                    }
                }
                (v, guard.budget.clone())
            };
            for (tag, signal, oc) in closed {
                self.dispatch(tag, signal, oc, &budget);
            }
        }
    }

    /// Whether an output of this name is configured.
    pub fn has_output(&self, name: &str) -> bool {
        self.routes().outputs.iter().any(|o| &*o.name == name)
    }

    /// A new engine-wide chunk id.
    pub fn next_chunk_id(&self) -> u64 {
        self.chunk_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Names of the outputs whose match fits `tag`.
    fn route_names(&self, tag: &str) -> Vec<Arc<str>> {
        self.routes()
            .outputs
            .iter()
            .filter(|o| o.matcher.matches(tag))
            .map(|o| o.name.clone())
            .collect()
    }

    /// Queues a chunk to the named outputs (a replayed chunk goes only where it is owed).
    pub fn dispatch_to(&self, chunk: Arc<Tracked>, names: &[Arc<str>]) {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        for o in routes.outputs.iter().filter(|o| names.contains(&o.name)) {
            self.pending.add();
            if !o.send(chunk.clone()) {
                self.pending.done();
            }
        }
    }

    /// Routes a closed chunk: resolves its outputs once and queues it to each.
    fn dispatch(&self, tag: Arc<str>, signal: Signal, mut oc: OpenChunk, budget: &Arc<MemBudget>) {
        // A chunk closed by the flush timer may hold much less than its buffer grew to: give
        // the rest back before it waits in output queues.
        if oc.data.capacity() > 2 * oc.data.len() + 4096 {
            oc.data.shrink_to_fit();
        }
        // Finalize the file: from now on the chunk is routable from disk too.
        let stored = oc.writer.take().and_then(|(w, store)| match w.close() {
            Ok(info) => Some(Stored { store, id: info.id }),
            Err(e) => {
                crate::error!(
                    "storage",
                    "cannot close the chunk file of tag '{}': {}",
                    tag,
                    e
                );
                None
            }
        });
        let chunk = Arc::new(Tracked::new(
            Chunk {
                id: self.chunk_seq.fetch_add(1, Ordering::Relaxed),
                tag,
                signal,
                data: oc.data,
                records: oc.records,
                created: oc.created,
            },
            Some(budget.clone()),
            stored,
        ));
        if chunk.meta.records == 0 {
            return;
        }
        // A chunk with a file goes where its file says it is owed: the routes of when it was
        // opened (a hot reload may have changed them since).
        let owed = chunk
            .stored
            .as_ref()
            .and_then(|st| st.store.info(&st.id))
            .map(|info| info.owed);
        // Held while sending: a reload swapping the routes waits for this dispatch to end.
        let current = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let routes: Vec<&Arc<OutputHandle>> = match &owed {
            Some(owed) => current
                .outputs
                .iter()
                .filter(|o| owed.contains(&o.name))
                .collect(),
            None => current
                .outputs
                .iter()
                .filter(|o| o.matcher.matches(&chunk.meta.tag))
                .collect(),
        };
        if let Some(owed) = &owed {
            if routes.len() < owed.len() {
                crate::warn!(
                    "storage",
                    "a chunk of tag '{}' is owed to outputs a reload removed; it stays on disk for them",
                    chunk.meta.tag
                );
            }
        }
        if routes.is_empty() {
            crate::debug!(
                "router",
                "no output matches tag '{}': {} records discarded",
                chunk.meta.tag,
                chunk.meta.records
            );
            return;
        }
        for o in routes {
            self.pending.add();
            if !o.send(chunk.clone()) {
                self.pending.done();
            }
        }
    }
}

/// One input's way into the pipeline.
pub(crate) struct Ingest {
    shared: Arc<Shared>,
    /// The routes this input's filters come from, and their generation.
    routes: Arc<Routes>,
    generation: u64,
    chunks: Arc<Mutex<OpenChunks>>,
    /// Tag -> indices of the filters that match it, resolved once per tag.
    filter_cache: HashMap<Box<str>, Arc<[usize]>>,
    /// Two buffers that filters write into, alternately, reused between batches.
    spare: [EventWriter; 2],
}

/// Bound on distinct tags remembered per input: tail with `tag kube.*` sees one tag per file.
const FILTER_CACHE_LIMIT: usize = 4096;

/// An input that stops (at shutdown, or removed by a hot reload) hands on what it holds open
/// and leaves the flush timer's list.
impl Drop for Ingest {
    fn drop(&mut self) {
        self.shared.flush_input(&self.chunks);
        self.shared
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|c| !Arc::ptr_eq(c, &self.chunks));
    }
}

impl Ingest {
    fn filters_for(&mut self, tag: &str) -> Arc<[usize]> {
        let generation = self.shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.routes = self.shared.routes();
            self.generation = generation;
            self.filter_cache.clear();
        }
        if let Some(f) = self.filter_cache.get(tag) {
            return f.clone();
        }
        let f: Arc<[usize]> = self
            .routes
            .filters
            .iter()
            .enumerate()
            .filter(|(_, f)| f.matcher.matches(tag))
            .map(|(i, _)| i)
            .collect();
        if self.filter_cache.len() >= FILTER_CACHE_LIMIT {
            self.filter_cache.clear();
        }
        self.filter_cache.insert(tag.into(), f.clone());
        f
    }

    /// Runs the filters over a batch and appends what survives to the chunk for `tag`.
    pub fn ingest(
        &mut self,
        input: &str,
        input_plugin: &str,
        signal: Signal,
        tag: &str,
        data: &[u8],
        records: usize,
    ) -> Option<Ticket> {
        let filters = if signal == Signal::Logs {
            self.filters_for(tag)
        } else {
            Arc::from([])
        };
        if filters.is_empty() {
            return self.append(signal, tag, data, records);
        }
        let ctx = FilterContext {
            input,
            input_plugin,
        };
        // `cur` is None while the batch is still the caller's bytes; Some(i) once spare[i] holds it.
        let mut cur: Option<usize> = None;
        let mut count = records;
        for &fi in filters.iter() {
            let f = &self.routes.filters[fi];
            let next = cur.map_or(0, |i| 1 - i);
            let mut out = std::mem::take(&mut self.spare[next]);
            out.clear();
            let input_data: &[u8] = match cur {
                None => data,
                Some(i) => &self.spare[i].buf,
            };
            f.metrics.records.add(count as u64);
            let outcome = f.filter.filter(
                Batch {
                    tag,
                    data: input_data,
                    records: count,
                },
                &mut out,
                &ctx,
            );
            if outcome == FilterOutcome::Modified {
                if out.count < count {
                    f.metrics.drop_records.add((count - out.count) as u64);
                } else {
                    f.metrics.add_records.add((out.count - count) as u64);
                }
                count = out.count;
                self.spare[next] = out;
                cur = Some(next);
            } else {
                self.spare[next] = out;
            }
            if count == 0 {
                return None;
            }
        }
        match cur {
            None => self.append(signal, tag, data, count),
            Some(i) => {
                let buf = std::mem::take(&mut self.spare[i]);
                let ticket = self.append(signal, tag, &buf.buf, count);
                self.spare[i] = buf;
                ticket
            }
        }
    }

    /// The store this input writes to, with filesystem storage.
    pub fn store(&self) -> Option<Store> {
        let guard = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        guard.store.as_ref().map(|(s, _)| s.clone())
    }

    /// Closes this input's open chunks (when it is over its memory limit).
    pub fn flush(&self) {
        self.shared.flush_input(&self.chunks);
    }

    /// Appends a batch to the open chunk for `tag` (and to its file with filesystem storage).
    /// Returns the store's ticket for the write, when there is one.
    fn append(&self, signal: Signal, tag: &str, data: &[u8], records: usize) -> Option<Ticket> {
        let (closed, budget, ticket) = {
            let mut guard = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
            guard.budget.charge(data.len());
            let budget = guard.budget.clone();
            let store = guard.store.clone();
            let map = &mut guard.by_signal[signal_index(signal)];
            // A batch that would take the open chunk past its target closes it first, so
            // chunks stay at most about 2 MiB, as Fluent Bit's.
            let mut closed = Vec::new();
            if map
                .get(tag)
                .is_some_and(|oc| oc.records > 0 && oc.data.len() + data.len() > CHUNK_TARGET_SIZE)
            {
                closed.extend(map.remove_entry(tag));
            }
            let oc = match map.get_mut(tag) {
                Some(oc) => oc,
                None => map.entry(Arc::from(tag)).or_insert_with(|| {
                    budget.chunk_started();
                    OpenChunk {
                        // Grown as needed: reserving 2 MiB per open chunk would cost real memory
                        // with many tags (tail over hundreds of files).
                        data: Vec::with_capacity(data.len().max(4096)),
                        records: 0,
                        created: Instant::now(),
                        writer: store.and_then(|(store, stream)| {
                            self.create_file(&store, &stream, tag, signal)
                        }),
                    }
                }),
            };
            oc.data.extend_from_slice(data);
            oc.records += records;
            let mut ticket = None;
            if let Some((_, store)) = oc.writer.as_ref() {
                self.drop_oldest_for_room(store, tag, data.len());
            }
            if let Some((w, _)) = oc.writer.as_mut() {
                match w.append(data, records) {
                    Ok(t) => ticket = Some(t),
                    Err(e) => {
                        // The chunk carries on in memory: what is on disk of it stays, owed.
                        crate::error!(
                            "storage",
                            "cannot write to the chunk file of tag '{}': {}",
                            tag,
                            e
                        );
                        oc.writer = None;
                    }
                }
            }
            if oc.data.len() >= CHUNK_TARGET_SIZE {
                closed.extend(map.remove_entry(tag));
            }
            (closed, budget, ticket)
        };
        for (tag, oc) in closed {
            self.shared.dispatch(tag, signal, oc, &budget);
        }
        ticket
    }

    /// `storage.when_full drop_oldest`: before `incoming` bytes are written for `tag`, drops
    /// the oldest chunks of each output over its `storage.total_limit_size`, counting their
    /// records as dropped for that output (Fluent Bit's behaviour).
    fn drop_oldest_for_room(&self, store: &Store, tag: &str, incoming: usize) {
        let incoming = incoming as u64;
        for o in self
            .shared
            .routes()
            .outputs
            .iter()
            .filter(|o| o.matcher.matches(tag))
        {
            let Some(limit) = o.disk_limit.filter(|l| l.when_full == WhenFull::DropOldest) else {
                continue;
            };
            if store.output_bytes(&o.name) + incoming <= limit.bytes {
                continue;
            }
            for id in store.output_chunks(&o.name) {
                if store.output_bytes(&o.name) + incoming <= limit.bytes {
                    break;
                }
                let records = store.info(&id).map_or(0, |i| i.records);
                match store.reject(&id, &o.name) {
                    Ok(_) => {
                        o.metrics.dropped_records.add(records);
                        crate::warn!(
                            "storage",
                            "{}: storage.total_limit_size reached, dropped the oldest chunk {:?} ({} records)",
                            o.name,
                            id,
                            records
                        );
                    }
                    Err(e) => {
                        crate::warn!("storage", "{}: cannot drop chunk {:?}: {}", o.name, id, e)
                    }
                }
            }
        }
    }

    /// `storage.when_full block`: waits, before `incoming` bytes are written for `tag`, until
    /// every output that blocks has room for them under its `storage.total_limit_size`.
    /// The input is paused meanwhile (logged as Fluent Bit logs pauses).
    pub async fn wait_for_disk(&self, input: &str, tag: &str, incoming: usize) -> bool {
        let Some(store) = self.store() else {
            return false;
        };
        let incoming = incoming as u64;
        let full = || {
            self.shared
                .routes()
                .outputs
                .iter()
                .filter(|o| o.matcher.matches(tag))
                .filter_map(|o| {
                    o.disk_limit
                        .filter(|l| l.when_full == WhenFull::Block)
                        .map(|l| (o, l))
                })
                .find(|(o, l)| store.output_bytes(&o.name) + incoming > l.bytes)
                .map(|(o, _)| o.name.clone())
        };
        let Some(output) = full() else { return false };
        crate::warn!(
            "input",
            "{} paused (storage.total_limit_size of {} reached)",
            input,
            output
        );
        while full().is_some() {
            // What this input holds open must be able to go out and free the room.
            self.flush();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        crate::info!(
            "input",
            "{} resume (storage.total_limit_size of {})",
            input,
            output
        );
        true
    }

    /// Starts the file of a new chunk, owed to the outputs its tag routes to now.
    fn create_file(
        &self,
        store: &Store,
        stream: &str,
        tag: &str,
        signal: Signal,
    ) -> Option<(ChunkWriter, Store)> {
        let outputs = self.shared.route_names(tag);
        if outputs.is_empty() {
            return None;
        }
        let outputs: Vec<&str> = outputs.iter().map(|o| &**o).collect();
        match store.create(stream, tag, signal, &outputs) {
            Ok(w) => Some((w, store.clone())),
            Err(e) => {
                crate::error!(
                    "storage",
                    "cannot create a chunk file for tag '{}' of {}: {}",
                    tag,
                    stream,
                    e
                );
                None
            }
        }
    }
}
