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

/// An instance's plugin figures, by kind and instance name.
type PluginEntry = ((crate::plugin::PluginKind, Arc<str>), Arc<PluginMetrics>);

/// A figure that goes up and down (a plugin's gauge), stored as the bits of an `f64`.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Figures a plugin adds to one instance of any kind, beyond its kind's own counters: a
/// WebAssembly plugin's host counters (`wasm_traps`...) and the counters and gauges the plugin
/// sets itself. `/api/v1/metrics` shows them beside the instance's own counters (which win
/// when a name is the same).
#[derive(Debug, Default)]
pub struct PluginMetrics {
    counters: RwLock<Vec<(Arc<str>, Arc<Counter>)>>,
    gauges: RwLock<Vec<(Arc<str>, Arc<Gauge>)>>,
}

fn named<T: Default>(v: &RwLock<Vec<(Arc<str>, Arc<T>)>>, name: &str) -> Arc<T> {
    if let Ok(v) = v.read() {
        if let Some((_, c)) = v.iter().find(|(n, _)| &**n == name) {
            return c.clone();
        }
    }
    let mut v = v.write().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = v.iter().find(|(n, _)| &**n == name) {
        return c.clone();
    }
    let c = Arc::new(T::default());
    v.push((name.into(), c.clone()));
    c
}

impl PluginMetrics {
    /// The counter `name`, created on first use.
    pub fn counter(&self, name: &str) -> Arc<Counter> {
        named(&self.counters, name)
    }

    /// The gauge `name`, created on first use.
    pub fn gauge(&self, name: &str) -> Arc<Gauge> {
        named(&self.gauges, name)
    }

    /// How many counters and gauges there are.
    pub fn len(&self) -> usize {
        let c = self.counters.read().map(|v| v.len()).unwrap_or(0);
        c + self.gauges.read().map(|v| v.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn counters(&self) -> Vec<(Arc<str>, u64)> {
        self.counters
            .read()
            .map(|v| v.iter().map(|(n, c)| (n.clone(), c.get())).collect())
            .unwrap_or_default()
    }

    pub fn gauges(&self) -> Vec<(Arc<str>, f64)> {
        self.gauges
            .read()
            .map(|v| v.iter().map(|(n, g)| (n.clone(), g.get())).collect())
            .unwrap_or_default()
    }

    /// Adds the figures to an instance's JSON object, leaving the keys it has alone.
    fn merge_into(&self, o: &mut serde_json::Map<String, serde_json::Value>) {
        for (k, v) in self.counters() {
            o.entry(k.to_string()).or_insert_with(|| v.into());
        }
        for (k, v) in self.gauges() {
            o.entry(k.to_string()).or_insert_with(|| v.into());
        }
    }
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
    /// Plugins' own figures, by kind and instance name ([`Metrics::plugin`]).
    plugin: RwLock<Vec<PluginEntry>>,
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
            plugin: RwLock::default(),
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

    /// The plugin-specific figures of instance `instance` of `kind`, created on first use.
    /// They are kept by name, as the counters a reload keeps: an instance that a reload
    /// rebuilds under the same name goes on with them.
    pub fn plugin(&self, kind: crate::plugin::PluginKind, instance: &str) -> Arc<PluginMetrics> {
        let find = |v: &Vec<PluginEntry>| {
            v.iter()
                .find(|((k, n), _)| *k == kind && &**n == instance)
                .map(|(_, m)| m.clone())
        };
        if let Some(m) = self.plugin.read().ok().and_then(|v| find(&v)) {
            return m;
        }
        let mut v = self.plugin.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = find(&v) {
            return m;
        }
        let m = Arc::new(PluginMetrics::default());
        v.push(((kind, instance.into()), m.clone()));
        m
    }

    /// Every instance's plugin figures: kind, instance name, and the figures.
    pub fn plugin_figures(&self) -> Vec<(crate::plugin::PluginKind, Arc<str>, Arc<PluginMetrics>)> {
        self.plugin
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((k, n), m)| (*k, n.clone(), m.clone()))
            .collect()
    }

    fn merge_plugin(
        &self,
        kind: crate::plugin::PluginKind,
        instance: &str,
        o: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        let v = self.plugin.read().unwrap_or_else(|e| e.into_inner());
        if let Some((_, m)) = v.iter().find(|((k, n), _)| *k == kind && &**n == instance) {
            m.merge_into(o);
        }
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
            self.merge_plugin(crate::plugin::PluginKind::Input, name, &mut o);
            inputs.insert(name.to_string(), Value::Object(o));
        }
        let mut filters = Map::new();
        for (name, m) in self
            .filters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let mut o = json!({
                "records": m.records.get(),
                "drop_records": m.drop_records.get(),
                "add_records": m.add_records.get(),
            });
            if let Value::Object(o) = &mut o {
                self.merge_plugin(crate::plugin::PluginKind::Filter, name, o);
            }
            filters.insert(name.to_string(), o);
        }
        let mut outputs = Map::new();
        for (name, m) in self
            .outputs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let mut o = json!({
                "proc_records": m.proc_records.get(),
                "proc_bytes": m.proc_bytes.get(),
                "errors": m.errors.get(),
                "retries": m.retries.get(),
                "retries_failed": m.retries_failed.get(),
                "dropped_records": m.dropped_records.get(),
                "retried_records": m.retried_records.get(),
            });
            if let Value::Object(o) = &mut o {
                self.merge_plugin(crate::plugin::PluginKind::Output, name, o);
            }
            outputs.insert(name.to_string(), o);
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

    #[test]
    fn plugin_figures_show_beside_the_instances_own() {
        use crate::plugin::PluginKind;
        let m = Metrics::new();
        m.add_filter("wasm.0".into());
        m.add_output("wasm.0".into());
        let f = m.plugin(PluginKind::Filter, "wasm.0");
        f.counter("wasm_traps").add(2);
        f.gauge("queue").set(1.5);
        f.counter("records").add(99);
        assert!(Arc::ptr_eq(&f, &m.plugin(PluginKind::Filter, "wasm.0")));
        m.plugin(PluginKind::Output, "wasm.0").counter("sent").inc();
        let j = m.to_json_v1();
        assert_eq!(j["filter"]["wasm.0"]["wasm_traps"], 2);
        assert_eq!(j["filter"]["wasm.0"]["queue"], 1.5);
        assert_eq!(
            j["filter"]["wasm.0"]["records"], 0,
            "the instance's own counter wins"
        );
        assert_eq!(j["output"]["wasm.0"]["sent"], 1);
        assert!(j["filter"]["wasm.0"].get("sent").is_none());
    }
}
