//! `wasm`: Fluent Bit's WebAssembly filter, with its parameters and its ABI, so modules
//! written for Fluent Bit run unchanged.
//!
//! The module exports the function named by `function_name`, called once per record:
//!
//! ```c
//! char *f(char *tag, int tag_len, uint32_t time_sec, uint32_t time_nsec,
//!         char *record, int record_len);
//! ```
//!
//! `record` is the record's body as JSON text (`event_format json`, the default) or as
//! MessagePack (`msgpack`); tag and record are copied into the module's memory (see
//! [`super::memory`] for where), each followed by a NUL byte that the lengths do not count.
//! The result points to the new body: NUL-terminated JSON text, or a MessagePack map. An empty
//! string (or a NULL pointer) drops the record. The event keeps its time and metadata: the
//! ABI returns none. Fluent Bit's newer value–length form, a function returning `i64` with the
//! pointer in the low 32 bits and the length in the high ones (0 drops the record), is
//! accepted too.
//!
//! Where Weir differs from Fluent Bit, on purpose:
//! - A MessagePack result is read by decoding the value at the returned pointer (its length
//!   comes from its encoding, bounded by the memory), not by `strlen`, so maps holding zero
//!   bytes (an integer 0, a string with a NUL) arrive whole.
//! - The host's buffer for the inputs is reused from record to record, so the module's heap
//!   does not grow with the number of records.
//! - Each call runs under `wasm.time_limit`; memory growth stops at the module's initial memory
//!   plus `wasm_heap_size` (64M when not set). A call that traps, runs out of time or memory,
//!   or returns something unreadable (a pointer outside the memory, invalid JSON, a value that
//!   is not a map) follows `wasm.on_error`: `pass` keeps the record unchanged (the default),
//!   `drop` drops it. Each failure is counted and logged (at most one line a second), and an
//!   instance that failed is replaced by a fresh one. After a timeout the batch's remaining
//!   records follow `wasm.on_error` without a call, so a module that spins on every record
//!   costs one time limit per batch, not one per record.
//! - `wasm_path` is relative to the main configuration file's directory, as Fluent Bit
//!   documents; a path that does not exist there is tried relative to the working directory,
//!   where Fluent Bit actually looks.
//! - Records may be filtered by several instances of the module at once (one per thread that
//!   runs the filter); state a module keeps in globals is per instance.

use super::guest::{self, classify, CallError, Preopen, Prepared};
use super::memory::{self, Allocator, Buffer, PlaceError, ResultError};
use super::{load_module, resolve_module_path, FailureLog, OnError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{ExternType, Memory, Store, TypedFunc, ValType};
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::metrics::Counter;
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::{EventRef, EventTime, EventWriter, Events};

pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("wasm_path")
        .required()
        .desc("The WebAssembly module (a .wasm file, or WebAssembly text), relative to the main configuration file."),
    ParamSpec::str("function_name")
        .required()
        .desc("The exported function called for each record."),
    ParamSpec::str("event_format")
        .default("json")
        .desc("How records are passed and returned: json (text) or msgpack."),
    ParamSpec::comma_list("accessible_paths")
        .default(".")
        .desc("Directories the module may open through WASI, comma-separated."),
    ParamSpec::size("wasm_heap_size").desc(
        "Memory the module may add beyond its initial memory; growing past it fails. Not set: 64M. \
         (In Fluent Bit it sizes the runtime's heap for the host's copies of the record, 8k by default.)",
    ),
    ParamSpec::size("wasm_stack_size").desc(
        "Accepted for compatibility: the stack of every module is bounded by the runtime (512k of WebAssembly frames).",
    ),
    ParamSpec::time("wasm.time_limit")
        .default("1s")
        .desc("Weir: longest one call may run; past it the call is stopped and follows wasm.on_error."),
    ParamSpec::str("wasm.on_error")
        .default("pass")
        .desc("Weir: a record whose call traps, runs out of time or memory, or returns an unreadable result is kept unchanged (pass) or dropped (drop)."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "wasm",
    kind: PluginKind::Filter,
    description: "Modify records with a WebAssembly function (Fluent Bit's ABI).",
    params: PARAMS,
    factory: Factory::Filter(build),
};

/// How records cross the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Msgpack,
}

/// The two shapes of the exported function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `(i32 x6) -> i32`: a pointer to a NUL-terminated result.
    Pointer,
    /// `(i32 x6) -> i64`: pointer in the low half, length in the high half.
    Pair,
}

/// The shape of `name`'s export, or why it cannot be called.
fn shape(module: &wasmtime::Module, name: &str) -> Result<Shape, String> {
    let Some(ExternType::Func(f)) = module.get_export(name) else {
        return Err(format!("the module exports no function named '{name}'"));
    };
    let params: Vec<ValType> = f.params().collect();
    let results: Vec<ValType> = f.results().collect();
    let all_i32 = params.len() == 6 && params.iter().all(|t| matches!(t, ValType::I32));
    match results.as_slice() {
        [ValType::I32] if all_i32 => Ok(Shape::Pointer),
        [ValType::I64] if all_i32 => Ok(Shape::Pair),
        _ => Err(format!(
            "function '{name}' has the type {f}: expected (tag, tag_len, time_sec, time_nsec, record, record_len), \
             six i32 parameters, returning an i32 pointer"
        )),
    }
}

/// The validated settings of one filter instance.
#[derive(Debug, Clone)]
pub struct Settings {
    pub path: std::path::PathBuf,
    pub function: String,
    pub format: Format,
    pub preopens: Vec<Preopen>,
    pub allowance: u64,
    pub time_limit: Duration,
    pub on_error: OnError,
    pub warnings: Vec<String>,
}

impl Settings {
    pub fn from_params(p: &Params, ctx: &BuildContext) -> Result<Self, ConfigError> {
        let (path, function) = (
            p.str("wasm_path").unwrap_or_default(),
            p.str("function_name").unwrap_or_default(),
        );
        if path.trim().is_empty() {
            return Err(p.error("wasm_path", "no WASM 'program path' was given"));
        }
        if function.trim().is_empty() {
            return Err(p.error("function_name", "no WASM 'function name' was given"));
        }
        let text = p.str("event_format").unwrap_or("json");
        let format = match text.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "msgpack" => Format::Msgpack,
            _ => {
                return Err(p.error(
                    "event_format",
                    format!("unknown format '{text}': expected json or msgpack"),
                ))
            }
        };
        let common = super::Common::from_params(p)?;
        Ok(Self {
            path: resolve_module_path(&ctx.config_dir, path.trim()),
            function: function.trim().to_string(),
            format,
            preopens: common.preopens,
            allowance: common.allowance,
            time_limit: common.time_limit,
            on_error: common.on_error,
            warnings: common.warnings,
        })
    }
}

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    let s = Settings::from_params(p, ctx)?;
    let module = load_module(&s.path).map_err(|e| p.error("wasm_path", e))?;
    let shape = shape(&module, &s.function).map_err(|e| p.error("function_name", e))?;
    let prepared =
        Prepared::new(&module, s.allowance, s.time_limit).map_err(|e| p.error("wasm_path", e))?;
    let component = format!("filter:wasm:{}", ctx.instance);
    for w in &s.warnings {
        weir_core::warn!(component, "{}", w);
    }
    let metrics = ctx.metrics.plugin(PluginKind::Filter, &ctx.instance);
    let shared = Shared {
        prepared,
        shape,
        format: s.format,
        function: s.function,
        preopens: s.preopens,
        on_error: s.on_error,
        idle: Mutex::new(Vec::new()),
        log: FailureLog::new(component.clone()),
        calls: metrics.counter("wasm_calls"),
        restarts: metrics.counter("wasm_restarts"),
        invalid: metrics.counter("wasm_invalid_results"),
        metrics,
    };
    if !ctx.check_only {
        // One instance now: a module that cannot start is a configuration error, not a
        // failure at the first record.
        let g = Guest::new(&shared).map_err(|e| p.error("wasm_path", e))?;
        weir_core::debug!(
            component,
            "{} loaded; inputs are placed with {}",
            s.path.display(),
            g.alloc.name()
        );
        shared
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(g);
    }
    Ok(Box::new(WasmFilter {
        shared: Arc::new(shared),
    }))
}

struct Shared {
    prepared: Prepared,
    shape: Shape,
    format: Format,
    function: String,
    preopens: Vec<Preopen>,
    on_error: OnError,
    /// Instances not in use; a batch takes one (or makes one) and puts it back.
    idle: Mutex<Vec<Guest>>,
    log: FailureLog,
    calls: Arc<Counter>,
    restarts: Arc<Counter>,
    invalid: Arc<Counter>,
    metrics: Arc<weir_core::metrics::PluginMetrics>,
}

/// The exported function, typed.
enum Func {
    Pointer(TypedFunc<(i32, i32, i32, i32, i32, i32), i32>),
    Pair(TypedFunc<(i32, i32, i32, i32, i32, i32), i64>),
}

/// One live instance of the module.
struct Guest {
    store: Store<guest::Host>,
    memory: Memory,
    func: Func,
    alloc: Allocator,
    buffer: Buffer,
}

/// What a call made of a record.
enum Reply<'a> {
    /// The new body, in the event format.
    Body(&'a [u8]),
    Drop,
}

/// Why a record could not be filtered.
enum Failure {
    /// The call failed: the instance must be replaced.
    Call(CallError),
    /// The call returned, with nothing usable: the instance goes on.
    Result(String),
}

impl Guest {
    fn new(s: &Shared) -> Result<Self, String> {
        let wasi = guest::filter_wasi(&s.preopens)?;
        let (mut store, instance) = s
            .prepared
            .instantiate(wasi)
            .map_err(|e| format!("the module failed to start: {e}"))?;
        let memory = instance
            .get_memory(&mut store, &s.prepared.memory_name)
            .ok_or("the module exports no memory")?;
        let func = match s.shape {
            Shape::Pointer => instance
                .get_typed_func(&mut store, &s.function)
                .map(Func::Pointer),
            Shape::Pair => instance
                .get_typed_func(&mut store, &s.function)
                .map(Func::Pair),
        }
        .map_err(|e| format!("function '{}': {e}", s.function))?;
        let alloc = Allocator::detect(&mut store, &instance);
        Ok(Self {
            store,
            memory,
            func,
            alloc,
            buffer: Buffer::default(),
        })
    }

    /// Calls the function for one record; `input` is the body in the event format.
    fn call(
        &mut self,
        s: &Shared,
        tag: &str,
        time: EventTime,
        input: &[u8],
    ) -> Result<Reply<'_>, Failure> {
        self.store.data_mut().limits.hit = false;
        self.store
            .set_epoch_deadline(crate::engine::deadline_ticks(s.prepared.time_limit));
        let placed = self
            .buffer
            .place(
                &mut self.store,
                &self.memory,
                &self.alloc,
                tag.as_bytes(),
                input,
                |h, n| h.limits.memory = h.limits.memory.saturating_add(n as usize),
            )
            .map_err(|e| match e {
                PlaceError::Guest(e) => Failure::Call(classify(&self.store, e)),
                PlaceError::NoRoom(_) => Failure::Result(e.to_string()),
            })?;
        let len = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        // Fluent Bit passes the time as two unsigned 32-bit numbers.
        let args = (
            placed.tag as i32,
            len(tag.len()),
            time.sec as u32 as i32,
            time.nsec as i32,
            placed.record as i32,
            len(input.len()),
        );
        let ret = match &self.func {
            Func::Pointer(f) => f.call(&mut self.store, args).map(|p| (p as u32, None)),
            Func::Pair(f) => f
                .call(&mut self.store, args)
                .map(|v| (v as u64 as u32, Some((v as u64 >> 32) as u32))),
        };
        let (ptr, pair_len) = ret.map_err(|e| Failure::Call(classify(&self.store, e)))?;
        let mem = self.memory.data(&self.store);
        let bad = |e: ResultError| Failure::Result(e.to_string());
        let bytes = match pair_len {
            None if ptr == 0 => return Ok(Reply::Drop),
            None => match s.format {
                Format::Json => memory::c_string(mem, ptr).map_err(bad)?,
                Format::Msgpack => {
                    if mem.get(ptr as usize) == Some(&0) {
                        // An empty string: Fluent Bit drops the record.
                        return Ok(Reply::Drop);
                    }
                    memory::msgpack_value(mem, ptr).map_err(bad)?
                }
            },
            Some(_) if ptr == 0 && pair_len == Some(0) => return Ok(Reply::Drop),
            Some(n) => {
                if ptr == 0 || n == 0 {
                    return Err(Failure::Result(
                        "invalid value-length pair (a NULL pointer or a zero length)".into(),
                    ));
                }
                let b = memory::span(mem, ptr, n).map_err(bad)?;
                match s.format {
                    // A C string's NUL may be counted in the length.
                    Format::Json => b.strip_suffix(&[0]).unwrap_or(b),
                    Format::Msgpack => b,
                }
            }
        };
        if bytes.is_empty() {
            return Ok(Reply::Drop);
        }
        Ok(Reply::Body(bytes))
    }
}

struct WasmFilter {
    shared: Arc<Shared>,
}

impl Filter for WasmFilter {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        let s = &*self.shared;
        let mut guest = s.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let done = guest::run(s.prepared.blocking_wasi, || {
            s.filter_batch(batch, out, &mut guest)
        });
        if let Some(g) = guest {
            s.idle.lock().unwrap_or_else(|e| e.into_inner()).push(g);
        }
        if done {
            FilterOutcome::Modified
        } else {
            out.clear();
            FilterOutcome::Unchanged
        }
    }
}

/// Scratch buffers of one batch.
#[derive(Default)]
struct Scratch {
    json: String,
    body: Vec<u8>,
}

impl Shared {
    /// Filters every record of `batch` into `out`. Returns false if the batch could not be
    /// read (it then passes unchanged).
    fn filter_batch(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        guest: &mut Option<Guest>,
    ) -> bool {
        // Every call of the batch (and any new instance) runs under the time limit.
        let _ticking = crate::engine::ticking();
        let mut scratch = Scratch::default();
        // After a timeout, or when no instance can be made, the rest of the batch follows
        // wasm.on_error without a call.
        let mut skip_rest: Option<String> = None;
        let mut calls = 0u64;
        let mut skipped = 0u64;
        for ev in Events::new(batch.data) {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    self.log
                        .error(&format!("cannot read the batch, passed unchanged: {e}"));
                    return false;
                }
            };
            if skip_rest.is_some() {
                skipped += 1;
                self.apply_policy(&ev, out);
                continue;
            }
            if guest.is_none() {
                match Guest::new(self) {
                    Ok(g) => *guest = Some(g),
                    Err(e) => {
                        self.log.error(&format!("cannot start a new instance: {e}"));
                        skip_rest = Some(e);
                        skipped += 1;
                        self.apply_policy(&ev, out);
                        continue;
                    }
                }
            }
            let Some(g) = guest.as_mut() else { continue };
            calls += 1;
            match self.one(g, batch.tag, &ev, &mut scratch) {
                Ok(Some(body)) => out.push(ev.time, ev.metadata, body),
                Ok(None) => {}
                Err(Failure::Call(e)) => {
                    self.metrics.counter(e.counter()).inc();
                    self.log.error(&format!(
                        "function '{}' {e}; the record follows wasm.on_error ({}) and the instance is replaced",
                        self.function,
                        self.on_error.as_str()
                    ));
                    *guest = None;
                    self.restarts.inc();
                    if e == CallError::Timeout {
                        skip_rest = Some(e.to_string());
                    }
                    self.apply_policy(&ev, out);
                }
                Err(Failure::Result(msg)) => {
                    self.invalid.inc();
                    self.log.error(&format!(
                        "function '{}' returned an unusable result: {msg}; the record follows wasm.on_error ({})",
                        self.function,
                        self.on_error.as_str()
                    ));
                    self.apply_policy(&ev, out);
                }
            }
        }
        self.calls.add(calls);
        if let (Some(why), true) = (skip_rest, skipped > 0) {
            self.log.error(&format!(
                "{skipped} more records of the batch followed wasm.on_error ({}) without a call: {why}",
                self.on_error.as_str()
            ));
        }
        true
    }

    /// One record through the module: the new body (encoded), or None to drop it.
    fn one<'s>(
        &self,
        g: &mut Guest,
        tag: &str,
        ev: &EventRef<'_>,
        scratch: &'s mut Scratch,
    ) -> Result<Option<&'s [u8]>, Failure> {
        let input: &[u8] = match self.format {
            Format::Json => {
                scratch.json.clear();
                weir_event::json::write_json(ev.body, &mut scratch.json).map_err(|e| {
                    Failure::Result(format!("cannot render the record as JSON: {e}"))
                })?;
                scratch.json.as_bytes()
            }
            Format::Msgpack => ev.body,
        };
        let bytes = match g.call(self, tag, ev.time, input)? {
            Reply::Drop => return Ok(None),
            Reply::Body(b) => b,
        };
        scratch.body.clear();
        match self.format {
            Format::Json => json_body(bytes, &mut scratch.body).map_err(Failure::Result)?,
            Format::Msgpack => {
                if !is_map(bytes) {
                    return Err(Failure::Result(
                        "the MessagePack result is not a map".into(),
                    ));
                }
                scratch.body.extend_from_slice(bytes);
            }
        }
        Ok(Some(&scratch.body))
    }

    fn apply_policy(&self, ev: &EventRef<'_>, out: &mut EventWriter) {
        if self.on_error == OnError::Pass {
            out.push_raw(ev);
        }
    }
}

fn is_map(b: &[u8]) -> bool {
    matches!(b.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

/// Encodes a JSON result as a record body. Text after the first JSON value is ignored (some
/// modules written for Fluent Bit return strings that are not NUL-terminated, and Fluent Bit
/// reads on to the next zero byte).
fn json_body(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // Invalid UTF-8 past the first value is tolerated as any other trailing text.
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    };
    if weir_event::json::from_json(text, out).is_err() {
        let mut values =
            serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
        let end = match values.next() {
            Some(Ok(_)) => values.byte_offset(),
            Some(Err(e)) => return Err(format!("invalid JSON: {e}")),
            None => return Err("invalid JSON: empty".into()),
        };
        weir_event::json::from_json(&text[..end], out).map_err(|e| e.to_string())?;
    }
    if !is_map(out) {
        out.clear();
        return Err("the JSON result is not an object".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_config::{Location, Section, SectionKind};
    use weir_core::service::FILTER_COMMON_PARAMS;

    thread_local! {
        static METRICS: std::cell::RefCell<Arc<weir_core::metrics::Metrics>> = Default::default();
    }

    /// A counter of the last filter built on this thread.
    fn counter(name: &str) -> u64 {
        METRICS.with(|m| {
            m.borrow()
                .plugin(PluginKind::Filter, "wasm.0")
                .counter(name)
                .get()
        })
    }

    /// Builds the filter from a WAT module and key/value pairs.
    fn filter_from(wat: &str, pairs: &[(&str, &str)]) -> Result<Box<dyn Filter>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.wat"), wat).unwrap();
        let loc = Location::command_line();
        let mut sec = Section::new(SectionKind::Filter, loc.clone());
        sec.push("name", "wasm", loc.clone());
        sec.push("wasm_path", "m.wat", loc.clone());
        sec.push("accessible_paths", "", loc.clone());
        for (k, v) in pairs {
            sec.push(*k, *v, loc.clone());
        }
        let p = weir_config::validate(&sec, &[PARAMS, FILTER_COMMON_PARAMS], "filter 'wasm'")?;
        let ctx = BuildContext::new(
            "wasm.0".into(),
            Default::default(),
            Default::default(),
            dir.path().to_path_buf(),
        );
        METRICS.with(|m| *m.borrow_mut() = ctx.metrics.clone());
        build(&p, &ctx)
    }

    fn events(bodies: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let mut body = Vec::new();
            weir_event::json::from_json(b, &mut body).unwrap();
            weir_event::event::write_event(
                &mut out,
                EventTime::new(100 + i as i64, 7),
                &[0x81, 0xa1, b'm', 0x01],
                &body,
            );
        }
        out
    }

    /// Runs one batch; the bodies that came out, or None when the batch passed unchanged.
    fn run(f: &dyn Filter, bodies: &[&str]) -> Option<Vec<String>> {
        let data = events(bodies);
        let mut out = EventWriter::new();
        let ctx = FilterContext {
            input: "dummy.0",
            input_plugin: "dummy",
        };
        let batch = Batch {
            tag: "app.log",
            data: &data,
            records: bodies.len(),
        };
        match f.filter(batch, &mut out, &ctx) {
            FilterOutcome::Unchanged => None,
            FilterOutcome::Modified => Some(
                Events::new(&out.buf)
                    .map(|e| {
                        let e = e.unwrap();
                        assert_eq!(e.metadata, &[0x81, 0xa1, b'm', 0x01], "metadata kept");
                        assert!(e.time.sec >= 100 && e.time.nsec == 7, "time kept");
                        weir_event::json::to_json_string(e.body).unwrap()
                    })
                    .collect(),
            ),
        }
    }

    /// A module whose `f` runs `body` (an i32 result) with the six parameters in locals 0..5.
    fn module(extra: &str, body: &str) -> String {
        format!(
            r#"(module (memory (export "memory") 1) {extra}
                (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i32) {body}))"#
        )
    }

    #[test]
    fn json_records_go_through_and_come_back() {
        let f = filter_from(&module("", "local.get 4"), &[("function_name", "f")]).unwrap();
        assert_eq!(
            run(&*f, &[r#"{"a":1}"#, r#"{"b":"x"}"#]).unwrap(),
            [r#"{"a":1}"#, r#"{"b":"x"}"#]
        );
    }

    #[test]
    fn the_result_replaces_the_body_and_empty_drops() {
        // The tag's first byte picks the answer: 'a' a constant object, else an empty string.
        let wat = module(
            r#"(data (i32.const 16) "{\22k\22:\22v\22}\00") (data (i32.const 64) "\00")"#,
            "(if (result i32) (i32.eq (i32.load8_u (local.get 4)) (i32.const 123)) (then i32.const 16) (else i32.const 64))",
        );
        let f = filter_from(&wat, &[("function_name", "f")]).unwrap();
        assert_eq!(run(&*f, &[r#"{"a":1}"#]).unwrap(), [r#"{"k":"v"}"#]);
        let g = filter_from(
            &module(r#"(data (i32.const 64) "\00")"#, "i32.const 64"),
            &[("function_name", "f")],
        )
        .unwrap();
        assert_eq!(
            run(&*g, &[r#"{"a":1}"#, r#"{"b":2}"#]).unwrap(),
            Vec::<String>::new()
        );
        let null = filter_from(&module("", "i32.const 0"), &[("function_name", "f")]).unwrap();
        assert_eq!(run(&*null, &[r#"{"a":1}"#]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn the_tag_and_time_are_passed() {
        // Returns the tag itself as the result: not JSON, so the record follows on_error
        // (drop). Then a module that checks tag_len == 7 and time_sec == 100.
        let wat = module(
            r#"(data (i32.const 16) "{\22ok\22:true}\00") (data (i32.const 64) "\00")"#,
            "(if (result i32) (i32.and (i32.eq (local.get 1) (i32.const 7)) (i32.eq (local.get 2) (i32.const 100)))
                (then (if (result i32) (i32.eq (i32.load8_u offset=6 (local.get 0)) (i32.const 103)) (then i32.const 16) (else i32.const 64)))
                (else i32.const 64))",
        );
        let f = filter_from(&wat, &[("function_name", "f")]).unwrap();
        assert_eq!(run(&*f, &[r#"{"a":1}"#]).unwrap(), [r#"{"ok":true}"#]);
    }

    #[test]
    fn msgpack_results_with_zero_bytes_arrive_whole() {
        // {"n": 0, "s": "a\0b"}
        let wat = module(
            r#"(data (i32.const 16) "\82\a1n\00\a1s\a3a\00b")"#,
            "i32.const 16",
        );
        let f = filter_from(&wat, &[("function_name", "f"), ("event_format", "msgpack")]).unwrap();
        assert_eq!(
            run(&*f, &[r#"{"a":1}"#]).unwrap(),
            [r#"{"n":0,"s":"a\u0000b"}"#]
        );
        // The record as it came (msgpack in, msgpack out).
        let id = filter_from(
            &module("", "local.get 4"),
            &[("function_name", "f"), ("event_format", "MsgPack")],
        )
        .unwrap();
        assert_eq!(run(&*id, &[r#"{"a":[1,2]}"#]).unwrap(), [r#"{"a":[1,2]}"#]);
    }

    #[test]
    fn value_length_pairs_are_read() {
        let wat = r#"(module (memory (export "memory") 1)
            (data (i32.const 16) "{\22p\22:1}garbage")
            (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i64)
                (i64.or (i64.const 16) (i64.shl (i64.const 7) (i64.const 32)))))"#;
        let f = filter_from(wat, &[("function_name", "f")]).unwrap();
        assert_eq!(run(&*f, &[r#"{"a":1}"#]).unwrap(), [r#"{"p":1}"#]);
    }

    #[test]
    fn traps_follow_on_error_and_the_instance_is_replaced() {
        // Traps on records whose first key is "bad".
        let wat = module("", "(if (i32.eq (i32.load8_u offset=2 (local.get 4)) (i32.const 98)) (then unreachable)) local.get 4");
        let pass = filter_from(&wat, &[("function_name", "f")]).unwrap();
        assert_eq!(
            run(&*pass, &[r#"{"ok":1}"#, r#"{"bad":1}"#, r#"{"ok":2}"#]).unwrap(),
            [r#"{"ok":1}"#, r#"{"bad":1}"#, r#"{"ok":2}"#]
        );
        let drop = filter_from(&wat, &[("function_name", "f"), ("wasm.on_error", "drop")]).unwrap();
        assert_eq!(
            run(&*drop, &[r#"{"ok":1}"#, r#"{"bad":1}"#, r#"{"ok":2}"#]).unwrap(),
            [r#"{"ok":1}"#, r#"{"ok":2}"#]
        );
        assert_eq!(
            (
                counter("wasm_traps"),
                counter("wasm_restarts"),
                counter("wasm_calls")
            ),
            (1, 1, 3)
        );
    }

    #[test]
    fn an_endless_loop_is_stopped_and_the_batch_goes_on() {
        let wat = module("", "(loop (br 0)) local.get 4");
        let f = filter_from(&wat, &[("function_name", "f"), ("wasm.time_limit", "50ms")]).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(
            run(&*f, &[r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#])
                .unwrap()
                .len(),
            3
        );
        // Only the first record was called: the others followed on_error at once.
        assert!(started.elapsed() < Duration::from_secs(30));
        let d = filter_from(
            &wat,
            &[
                ("function_name", "f"),
                ("wasm.time_limit", "50ms"),
                ("wasm.on_error", "drop"),
            ],
        )
        .unwrap();
        assert_eq!(run(&*d, &[r#"{"a":1}"#, r#"{"b":2}"#]).unwrap().len(), 0);
        // A new instance for the next batch.
        assert_eq!(run(&*d, &[r#"{"a":1}"#]).unwrap().len(), 0);
        assert_eq!(counter("wasm_timeouts"), 2);
        assert_eq!(counter("wasm_restarts"), 2);
        assert_eq!(counter("wasm_calls"), 2);
    }

    #[test]
    fn a_memory_bomb_meets_wasm_heap_size() {
        // Grows one page at a time until refused, then traps.
        let wat = module(
            "",
            "(loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable",
        );
        let f = filter_from(
            &wat,
            &[
                ("function_name", "f"),
                ("wasm_heap_size", "1M"),
                ("wasm.on_error", "drop"),
            ],
        )
        .unwrap();
        assert_eq!(run(&*f, &[r#"{"a":1}"#]).unwrap().len(), 0);
        assert_eq!(counter("wasm_memory_limit_hits"), 1);
    }

    #[test]
    fn unusable_results_follow_on_error_without_a_restart() {
        for (body, extra) in [
            ("i32.const 16", r#"(data (i32.const 16) "[1,2]\00")"#),
            ("i32.const 16", r#"(data (i32.const 16) "{oops\00")"#),
            ("i32.const -8", ""),
        ] {
            let f = filter_from(&module(extra, body), &[("function_name", "f")]).unwrap();
            assert_eq!(
                run(&*f, &[r#"{"a":1}"#]).unwrap(),
                [r#"{"a":1}"#],
                "{extra}"
            );
        }
        // Unterminated: the memory ends without a NUL.
        let wat = r#"(module (memory (export "memory") 1)
            (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i32)
                (memory.fill (i32.const 65000) (i32.const 65) (i32.const 536)) i32.const 65000))"#;
        let f = filter_from(wat, &[("function_name", "f"), ("wasm.on_error", "drop")]).unwrap();
        assert_eq!(run(&*f, &[r#"{"a":1}"#]).unwrap().len(), 0);
        // A MessagePack result that is not a map.
        let f = filter_from(
            &module(r#"(data (i32.const 16) "\93\01\02\03")"#, "i32.const 16"),
            &[("function_name", "f"), ("event_format", "msgpack")],
        )
        .unwrap();
        assert_eq!(run(&*f, &[r#"{"a":1}"#]).unwrap(), [r#"{"a":1}"#]);
    }

    #[test]
    fn the_guest_heap_does_not_grow_with_records() {
        // malloc is a bump allocator; live = mallocs - frees.
        let wat = r#"(module (memory (export "memory") 2)
            (global $next (mut i32) (i32.const 1024))
            (global $live (export "live") (mut i32) (i32.const 0))
            (func (export "malloc") (param i32) (result i32) (local $p i32)
                (local.set $p (global.get $next))
                (global.set $next (i32.add (global.get $next) (local.get 0)))
                (global.set $live (i32.add (global.get $live) (i32.const 1)))
                local.get $p)
            (func (export "free") (param i32) (global.set $live (i32.sub (global.get $live) (i32.const 1))))
            (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i32)
                (if (i32.gt_s (global.get $live) (i32.const 1)) (then unreachable))
                local.get 4))"#;
        let f = filter_from(wat, &[("function_name", "f"), ("wasm.on_error", "drop")]).unwrap();
        let bodies: Vec<String> = (0..500).map(|i| format!(r#"{{"i":{i}}}"#)).collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        assert_eq!(run(&*f, &refs).unwrap().len(), 500);
        let big = format!(r#"{{"s":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(run(&*f, &[&big, r#"{"a":1}"#]).unwrap().len(), 2);
    }

    #[test]
    fn configuration_errors() {
        let ok = module("", "local.get 4");
        let err = |pairs: &[(&str, &str)]| filter_from(&ok, pairs).err().unwrap().to_string();
        assert!(err(&[]).contains("function_name"));
        assert!(err(&[("function_name", "nope")]).contains("no function named 'nope'"));
        assert!(err(&[("function_name", "f"), ("event_format", "xml")]).contains("unknown format"));
        assert!(err(&[("function_name", "f"), ("wasm.on_error", "retry")]).contains("pass or drop"));
        assert!(
            err(&[("function_name", "f"), ("accessible_paths", "/no/such/dir")])
                .contains("not a directory")
        );
        let start_traps = r#"(module (memory (export "memory") 1) (func $s unreachable) (start $s)
            (func (export "f") (param i32 i32 i32 i32 i32 i32) (result i32) i32.const 0))"#;
        let e = filter_from(start_traps, &[("function_name", "f")])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("failed to start"), "{e}");
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::check_table(PARAMS).unwrap();
    }

    #[test]
    fn json_results() {
        let mut out = Vec::new();
        json_body(br#"{"a":1}"#, &mut out).unwrap();
        assert_eq!(
            weir_event::json::to_json_string(&out).unwrap(),
            r#"{"a":1}"#
        );
        out.clear();
        json_body(b"{\"a\":1}\x7f garbage \xff", &mut out).unwrap();
        assert_eq!(
            weir_event::json::to_json_string(&out).unwrap(),
            r#"{"a":1}"#
        );
        out.clear();
        assert!(json_body(b"[1]", &mut out).is_err());
        assert!(out.is_empty());
        assert!(json_body(b"{nope", &mut out).is_err());
        assert!(json_body(b"   ", &mut out).is_err());
    }

    #[test]
    fn function_shapes() {
        let m = wasmtime::Module::new(
            crate::engine::engine(),
            r#"(module
                (func (export "p") (param i32 i32 i32 i32 i32 i32) (result i32) i32.const 0)
                (func (export "q") (param i32 i32 i32 i32 i32 i32) (result i64) i64.const 0)
                (func (export "r") (param i32) (result i32) i32.const 0))"#,
        )
        .unwrap();
        assert_eq!(shape(&m, "p"), Ok(Shape::Pointer));
        assert_eq!(shape(&m, "q"), Ok(Shape::Pair));
        assert!(shape(&m, "r").unwrap_err().contains("six i32"));
        assert!(shape(&m, "s").unwrap_err().contains("no function"));
    }
}
