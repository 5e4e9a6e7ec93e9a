//! What a plugin instance's store holds, and the host functions it calls: `log`, `config`,
//! state, metrics, `now-ns`, and for inputs `emit`.
//!
//! Host functions never fail the call: a state write that cannot be done is logged and the
//! plugin goes on, as a plugin cannot do better with the error than Weir can.

use super::bindings::{emitter, host, types};
use super::state::State;
use crate::engine::StoreLimits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use weir_core::log::Level;
use weir_core::metrics::{Counter, Gauge, PluginMetrics};

/// Counters and gauges a plugin may create in one instance; more are ignored (logged once),
/// so a plugin that names a counter after each record cannot grow Weir's memory.
pub const MAX_PLUGIN_FIGURES: usize = 64;
/// Longest log line kept from a plugin.
pub const MAX_LOG_LINE: usize = 4096;

/// What one instance shares with its stores (every store it has had and will have: a swap
/// or a fresh instance after a trap keep the same state, log name and metrics).
pub struct InstanceEnv {
    /// Log label: `filter:name:name.0`.
    pub component: String,
    pub state: State,
    pub metrics: Arc<PluginMetrics>,
    figures: Mutex<Figures>,
}

#[derive(Default)]
struct Figures {
    counters: HashMap<String, Arc<Counter>>,
    gauges: HashMap<String, Arc<Gauge>>,
    refused_logged: bool,
}

impl InstanceEnv {
    pub fn new(component: String, state: State, metrics: Arc<PluginMetrics>) -> Self {
        Self {
            component,
            state,
            metrics,
            figures: Mutex::default(),
        }
    }

    /// A counter the host keeps for the instance (`wasm_traps`...).
    pub fn host_counter(&self, name: &str) -> Arc<Counter> {
        self.metrics.counter(name)
    }

    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a plugin may use `name` for a figure of its own: a metric-like name, not one
    /// of the host's (`wasm_...`), within the instance's allowance.
    fn allowed(&self, f: &mut Figures, name: &str) -> bool {
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit()
            && !name.starts_with("wasm_");
        if !well_formed {
            weir_core::warn!(
                self.component,
                "ignoring the figure '{}': names are letters, digits and _, not starting with wasm_",
                sanitize(name)
            );
            return false;
        }
        if f.counters.len() + f.gauges.len() >= MAX_PLUGIN_FIGURES {
            if !f.refused_logged {
                f.refused_logged = true;
                weir_core::warn!(
                    self.component,
                    "the plugin uses more than {} counters and gauges; ignoring the others",
                    MAX_PLUGIN_FIGURES
                );
            }
            return false;
        }
        true
    }

    pub fn counter_add(&self, name: &str, delta: u64) {
        let mut f = self.figures();
        if let Some(c) = f.counters.get(name) {
            c.add(delta);
            return;
        }
        if f.gauges.contains_key(name) || !self.allowed(&mut f, name) {
            return;
        }
        let c = self.metrics.counter(name);
        c.add(delta);
        f.counters.insert(name.to_string(), c);
    }

    pub fn gauge_set(&self, name: &str, value: f64) {
        let mut f = self.figures();
        if let Some(g) = f.gauges.get(name) {
            g.set(value);
            return;
        }
        if f.counters.contains_key(name) || !self.allowed(&mut f, name) {
            return;
        }
        let g = self.metrics.gauge(name);
        g.set(value);
        f.gauges.insert(name.to_string(), g);
    }
}

/// The data of one store: WASI (with exactly the instance's grants), the memory limit, the
/// instance's shared environment, its configuration, and what an input emitted.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: HttpHooks,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub env: Arc<InstanceEnv>,
    /// What the `config` import answers (the version in use's declared parameters).
    pub config: Arc<HashMap<String, String>>,
    /// Batches an input pushed with `emit`, taken after each call.
    pub emitted: Vec<types::Batch>,
    emitted_bytes: usize,
    /// Set when `emit` went past the memory limit: the call is failed (as a memory limit).
    pub emit_overflow: bool,
}

impl HostState {
    /// `time_limit` also bounds each wait of a granted outgoing HTTP request (see
    /// [`HttpHooks`]).
    pub fn new(
        wasi: WasiCtx,
        network: bool,
        time_limit: Duration,
        memory_limit: usize,
        env: Arc<InstanceEnv>,
        config: Arc<HashMap<String, String>>,
    ) -> Self {
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: HttpHooks {
                network,
                time_limit,
            },
            table: ResourceTable::new(),
            limits: StoreLimits::new(memory_limit),
            env,
            config,
            emitted: Vec::new(),
            emitted_bytes: 0,
            emit_overflow: false,
        }
    }

    /// Takes what the plugin emitted so far.
    pub fn take_emitted(&mut self) -> Vec<types::Batch> {
        self.emitted_bytes = 0;
        std::mem::take(&mut self.emitted)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Outgoing `wasi:http` requests: refused unless the plugin is granted the network (and
/// this build of Weir has the HTTP client).
///
/// A plugin waiting on a request waits in the host, where the epoch deadline that stops its
/// own code cannot reach. So each wait of a request (connecting, the response's first byte,
/// each pause in its body) is bounded by the plugin's time limit, shorter than the client's
/// own defaults of ten minutes: the call fails with a timeout, and the deadline, past by then,
/// stops the plugin as soon as it runs again.
struct HttpHooks {
    network: bool,
    time_limit: Duration,
}

impl HttpHooks {
    /// The plugin's options, each wait at most the time limit.
    #[cfg_attr(not(feature = "http-client"), allow(dead_code))]
    fn bounded(
        &self,
        o: Option<wasmtime_wasi_http::RequestOptions>,
    ) -> wasmtime_wasi_http::RequestOptions {
        let o = o.unwrap_or_default();
        let cap = |t: Option<Duration>| Some(t.map_or(self.time_limit, |t| t.min(self.time_limit)));
        wasmtime_wasi_http::RequestOptions {
            connect_timeout: cap(o.connect_timeout),
            first_byte_timeout: cap(o.first_byte_timeout),
            between_bytes_timeout: cap(o.between_bytes_timeout),
        }
    }
}

type ResponseFuture = Box<
    dyn std::future::Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> ResponseFuture {
        #[cfg(feature = "http-client")]
        if self.network {
            _ = fut;
            let options = self.bounded(options);
            return Box::new(async move {
                use http_body_util::BodyExt;
                let (res, io) =
                    wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
                Ok((
                    res.map(BodyExt::boxed_unsync),
                    Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
                ))
            });
        }
        let _ = (request, options, fut, self.network);
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Replaces control characters (a plugin's newline must not start a forged log line) and
/// cuts long messages.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_LOG_LINE));
    for c in s.chars() {
        if out.len() + c.len_utf8() > MAX_LOG_LINE {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

fn level(l: types::Level) -> Level {
    match l {
        types::Level::Error => Level::Error,
        types::Level::Warn => Level::Warn,
        types::Level::Info => Level::Info,
        types::Level::Debug => Level::Debug,
        types::Level::Trace => Level::Trace,
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, l: types::Level, message: String) {
        let l = level(l);
        if weir_core::log::enabled(l) {
            weir_core::log::write(
                l,
                &self.env.component,
                format_args!("{}", sanitize(&message)),
            );
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.config.get(&key.to_ascii_lowercase()).cloned()
    }

    fn state_get(&mut self, key: String) -> Option<Vec<u8>> {
        match self.env.state.get(&key) {
            Ok(v) => v,
            Err(e) => {
                weir_core::warn!(
                    self.env.component,
                    "cannot read state '{}': {}",
                    sanitize(&key),
                    e
                );
                None
            }
        }
    }

    fn state_set(&mut self, key: String, value: Vec<u8>) {
        if let Err(e) = self.env.state.set(&key, &value) {
            weir_core::warn!(
                self.env.component,
                "cannot write state '{}': {}",
                sanitize(&key),
                e
            );
        }
    }

    fn state_delete(&mut self, key: String) {
        if let Err(e) = self.env.state.delete(&key) {
            weir_core::warn!(
                self.env.component,
                "cannot delete state '{}': {}",
                sanitize(&key),
                e
            );
        }
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        self.env.counter_add(&name, delta);
    }

    fn gauge_set(&mut self, name: String, value: f64) {
        self.env.gauge_set(&name, value);
    }

    fn now_ns(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

impl emitter::Host for HostState {
    fn emit(&mut self, events: types::Batch) {
        // What an input emits waits in the host until its call returns: bounded by the
        // instance's memory limit, like what it could hold itself.
        self.emitted_bytes = self.emitted_bytes.saturating_add(events.events.len());
        if self.emitted_bytes > self.limits.memory {
            self.emit_overflow = true;
            return;
        }
        self.emitted.push(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_cannot_be_forged() {
        assert_eq!(sanitize("a\nb\r\tc"), "a b  c");
        let long = "é".repeat(MAX_LOG_LINE);
        let s = sanitize(&long);
        assert!(s.len() <= MAX_LOG_LINE + 3 && s.ends_with("..."));
    }

    #[test]
    fn granted_requests_wait_no_longer_than_the_time_limit() {
        use wasmtime_wasi_http::RequestOptions;
        let hooks = HttpHooks {
            network: true,
            time_limit: Duration::from_secs(2),
        };
        let o = hooks.bounded(None);
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.first_byte_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.between_bytes_timeout, Some(Duration::from_secs(2)));
        let o = hooks.bounded(Some(RequestOptions {
            connect_timeout: Some(Duration::from_millis(300)),
            first_byte_timeout: Some(Duration::from_secs(60)),
            between_bytes_timeout: None,
        }));
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(300)));
        assert_eq!(o.first_byte_timeout, Some(Duration::from_secs(2)));
    }

    #[test]
    fn outgoing_http_is_refused_without_the_network() {
        use http_body_util::BodyExt;
        use wasmtime_wasi_http::WasiHttpHooks;
        let body: wasmtime_wasi_http::WasiBody = http_body_util::Empty::new()
            .map_err(|e: std::convert::Infallible| match e {})
            .boxed_unsync();
        let req = http::Request::builder()
            .uri("http://127.0.0.1:9/")
            .body(body)
            .unwrap();
        let mut hooks = HttpHooks {
            network: false,
            time_limit: Duration::from_secs(1),
        };
        let fut = hooks.send_request(req, None, Box::new(async { Ok(()) }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let res = rt.block_on(Box::into_pin(fut));
        assert!(matches!(
            res,
            Err(wasmtime_wasi_http::Error::HttpRequestDenied)
        ));
    }

    #[test]
    fn plugin_figures_are_bounded_and_named() {
        let m = Arc::new(PluginMetrics::default());
        let env = InstanceEnv::new("t".into(), State::memory(), m.clone());
        env.counter_add("sent", 2);
        env.counter_add("sent", 3);
        env.gauge_set("depth", 1.5);
        env.counter_add("wasm_traps", 1);
        env.counter_add("bad name", 1);
        env.gauge_set("sent", 9.0);
        assert_eq!(m.counter("sent").get(), 5);
        assert_eq!(m.gauge("depth").get(), 1.5);
        assert_eq!(m.counter("wasm_traps").get(), 0);
        for i in 0..2 * MAX_PLUGIN_FIGURES {
            env.counter_add(&format!("c{i}"), 1);
        }
        // The two test lookups above created two entries of their own.
        assert!(m.len() <= MAX_PLUGIN_FIGURES + 3);
    }
}
