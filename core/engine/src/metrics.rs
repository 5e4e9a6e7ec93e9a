//! Live counters per plugin instance, in Fluent Bit's names.
//!
//! Counters are plain atomics updated where the event happens, so `/api/v1/metrics` always shows
//! the current count (Fluent Bit refreshes its copy once a second).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A counter that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one input instance. `extra` holds plugin-specific ones (tail's `files_opened`).
#[derive(Debug, Default)]
pub struct InputMetrics {
    pub records: Counter,
    pub bytes: Counter,
    extra: RwLock<Vec<(&'static str, Arc<Counter>)>>,
}

impl InputMetrics {
    /// A plugin-specific counter, created on first use, shown beside `records` and `bytes`.
    pub fn counter(&self, name: &'static str) -> Arc<Counter> {
        if let Ok(v) = self.extra.read() {
            if let Some((_, c)) = v.iter().find(|(n, _)| *n == name) {
                return c.clone();
            }
        }
        let mut v = self.extra.write().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = v.iter().find(|(n, _)| *n == name) {
            return c.clone();
        }
        let c = Arc::new(Counter::default());
        v.push((name, c.clone()));
        c
    }

    /// Plugin-specific counters (tail's `files_opened`) and their values.
    pub fn extras(&self) -> Vec<(&'static str, u64)> {
        self.extra
            .read()
            .map(|v| v.iter().map(|(n, c)| (*n, c.get())).collect())
            .unwrap_or_default()
    }
}

/// Counters of one filter instance.
#[derive(Debug, Default)]
pub struct FilterMetrics {
    /// Records the filter saw.
    pub records: Counter,
    pub drop_records: Counter,
    pub add_records: Counter,
}

/// Counters of one output instance.
#[derive(Debug, Default)]
pub struct OutputMetrics {
    pub proc_records: Counter,
    pub proc_bytes: Counter,
    pub errors: Counter,
    pub retries: Counter,
    pub retries_failed: Counter,
    pub dropped_records: Counter,
    pub retried_records: Counter,
}

/// Every instance's counters, by instance name (`tail.0`), in configuration order, and the
/// process-wide figures. One `Metrics` lives as long as the process: a hot reload keeps it,
/// so the counters of components a reload leaves alone keep counting.
#[derive(Debug)]
pub struct Metrics {
    inputs: RwLock<Vec<(Arc<str>, Arc<InputMetrics>)>>,
    filters: RwLock<Vec<(Arc<str>, Arc<FilterMetrics>)>>,
    outputs: RwLock<Vec<(Arc<str>, Arc<OutputMetrics>)>>,
    /// When the process started (for `fluentbit_process_start_time_seconds` and uptime).
    pub started_at: std::time::SystemTime,
    pub started: std::time::Instant,
    /// Hot reloads that took effect (`fluentbit_hot_reloaded_times`).
    pub hot_reloads: Counter,
    /// The filesystem store, once the engine has opened it (for storage metrics).
    pub store: std::sync::OnceLock<weir_storage::Store>,
    /// Each input's memory buffer (name, budget, filesystem storage), once the engine runs.
    #[allow(clippy::type_complexity)]
    pub(crate) buffers:
        std::sync::OnceLock<Arc<RwLock<Vec<(Arc<str>, Arc<crate::budget::MemBudget>, bool)>>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            inputs: RwLock::default(),
            filters: RwLock::default(),
            outputs: RwLock::default(),
            started_at: std::time::SystemTime::now(),
            started: std::time::Instant::now(),
            hot_reloads: Counter::default(),
            store: std::sync::OnceLock::new(),
            buffers: std::sync::OnceLock::new(),
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the instances shown (the pipeline started, or a hot reload applied).
    /// Counters are `Arc`s: a component a reload keeps hands in the same ones, so they go on.
    #[allow(clippy::type_complexity)]
    pub fn set_all(
        &self,
        inputs: Vec<(Arc<str>, Arc<InputMetrics>)>,
        filters: Vec<(Arc<str>, Arc<FilterMetrics>)>,
        outputs: Vec<(Arc<str>, Arc<OutputMetrics>)>,
    ) {
        *self.inputs.write().unwrap_or_else(|e| e.into_inner()) = inputs;
        *self.filters.write().unwrap_or_else(|e| e.into_inner()) = filters;
        *self.outputs.write().unwrap_or_else(|e| e.into_inner()) = outputs;
    }

    /// Names and counters of every input instance, in configuration order.
    pub fn inputs(&self) -> Vec<(Arc<str>, Arc<InputMetrics>)> {
        self.inputs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Names and counters of every filter instance, in configuration order.
    pub fn filters(&self) -> Vec<(Arc<str>, Arc<FilterMetrics>)> {
        self.filters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Names and counters of every output instance, in configuration order.
    pub fn outputs(&self) -> Vec<(Arc<str>, Arc<OutputMetrics>)> {
        self.outputs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn add_input(&self, name: Arc<str>) -> Arc<InputMetrics> {
        let m = Arc::new(InputMetrics::default());
        self.inputs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, m.clone()));
        m
    }

    pub fn add_filter(&self, name: Arc<str>) -> Arc<FilterMetrics> {
        let m = Arc::new(FilterMetrics::default());
        self.filters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, m.clone()));
        m
    }

    pub fn add_output(&self, name: Arc<str>) -> Arc<OutputMetrics> {
        let m = Arc::new(OutputMetrics::default());
        self.outputs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, m.clone()));
        m
    }

    /// Fluent Bit's `/api/v1/metrics` JSON.
    pub fn to_json_v1(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let mut inputs = Map::new();
        for (name, m) in self.inputs.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let mut o = Map::new();
            o.insert("records".into(), json!(m.records.get()));
            o.insert("bytes".into(), json!(m.bytes.get()));
            for (k, v) in m.extras() {
                o.insert(k.into(), json!(v));
            }
            inputs.insert(name.to_string(), Value::Object(o));
        }
        let mut filters = Map::new();
        for (name, m) in self
            .filters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            filters.insert(
                name.to_string(),
                json!({
                    "records": m.records.get(),
                    "drop_records": m.drop_records.get(),
                    "add_records": m.add_records.get(),
                }),
            );
        }
        let mut outputs = Map::new();
        for (name, m) in self
            .outputs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            outputs.insert(
                name.to_string(),
                json!({
                    "proc_records": m.proc_records.get(),
                    "proc_bytes": m.proc_bytes.get(),
                    "errors": m.errors.get(),
                    "retries": m.retries.get(),
                    "retries_failed": m.retries_failed.get(),
                    "dropped_records": m.dropped_records.get(),
                    "retried_records": m.retried_records.get(),
                }),
            );
        }
        json!({ "input": inputs, "filter": filters, "output": outputs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_fluent_bit() {
        let m = Metrics::new();
        let i = m.add_input("tail.0".into());
        i.records.add(3);
        i.counter("files_opened").inc();
        let o = m.add_output("null.0".into());
        o.proc_records.add(3);
        m.add_filter("grep.0".into()).drop_records.add(1);
        let j = m.to_json_v1();
        assert_eq!(j["input"]["tail.0"]["records"], 3);
        assert_eq!(j["input"]["tail.0"]["files_opened"], 1);
        assert_eq!(j["output"]["null.0"]["proc_records"], 3);
        assert_eq!(j["output"]["null.0"]["retried_records"], 0);
        assert_eq!(j["filter"]["grep.0"]["drop_records"], 1);
    }
}
