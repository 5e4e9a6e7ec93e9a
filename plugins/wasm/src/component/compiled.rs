//! One version of a plugin file, compiled and checked: which world it implements, what it
//! says of itself, and the `InstancePre` every instance of it starts from.
//!
//! Loading makes one throwaway instance (no grants, state in memory) to call `describe`.
//! Instances are then made from the cached `InstancePre`, which resolves imports once: making
//! one costs a `Store` and the guest's own start-up, a fraction of a millisecond for a Rust
//! plugin.

use super::bindings::{self, types};
use super::events::Format;
use super::host::{HostState, InstanceEnv};
use super::params::{self, Declared};
use super::state::State;
use crate::engine::{self, Artifact, LoadError, LoadInfo};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use wasmtime::component::{Component, ComponentType, Func, HasSelf, Linker, Lower};
use wasmtime::{Store, Trap};
use weir_config::ParamType;
use weir_core::PluginKind;

/// Time limit of the calls made while loading (`describe`, and start-up code).
const PROBE_TIME_LIMIT: Duration = Duration::from_secs(10);
/// Memory limit of the instance made while loading.
const PROBE_MEMORY_LIMIT: usize = 1 << 30;

/// What a file was when it was read: a change of any of these is a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub inode: u64,
}

impl Stamp {
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
        })
    }
}

/// What a plugin says of itself, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub kind: PluginKind,
    pub description: String,
    pub version: String,
    pub format: Format,
    pub params: Vec<Declared>,
}

enum Pre {
    Filter(bindings::filter::FilterPre<HostState>),
    Input(bindings::input::InputPre<HostState>),
    Output(bindings::output::OutputPre<HostState>),
}

/// A compiled, described version of a plugin file.
pub struct Compiled {
    pub path: PathBuf,
    pub stamp: Option<Stamp>,
    pub load: LoadInfo,
    pub info: Info,
    /// Whether the plugin imports WASI or `wasi:http`, whose host functions block on the
    /// async runtime (see [`super::runner`]); Weir's own imports never do.
    pub blocking_imports: bool,
    pre: Pre,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

/// `types::Batch` borrowed: what a filter is called with.
#[derive(ComponentType, Lower)]
#[component(record)]
struct BatchIn<'a> {
    tag: &'a str,
    events: &'a [u8],
    count: u32,
}

/// A live instance: its store and the handle to its exports.
pub struct Live {
    pub store: Store<HostState>,
    bound: Bound,
}

enum Bound {
    /// The bindings, and the `filter` export itself, called with a borrowed batch.
    Filter(bindings::filter::Filter, Func),
    Input(bindings::input::Input),
    Output(bindings::output::Output),
}

/// Why a call into a plugin did not return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It ran past its time limit.
    Timeout,
    /// It asked for more memory than its limit (and trapped), or emitted more than it.
    Memory,
    /// It trapped (a panic, an `unreachable`, an out-of-bounds access...).
    Trap(String),
    /// No instance could be made (its start-up or `init` failed).
    Unavailable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => f.write_str("stopped at its time limit"),
            Failure::Memory => f.write_str("stopped at its memory limit"),
            Failure::Trap(m) => write!(f, "trapped: {m}"),
            Failure::Unavailable(m) => write!(f, "no instance: {m}"),
        }
    }
}

fn world_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Input => "input",
        PluginKind::Filter => "filter",
        PluginKind::Output => "output",
    }
}

/// The linker of a world: WASI, `wasi:http` and Weir's imports. One per world for the whole
/// process; grants live in each store's WASI context, not in the linker.
fn linker(kind: PluginKind) -> Result<&'static Linker<HostState>, String> {
    static LINKERS: [OnceLock<Result<Linker<HostState>, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = match kind {
        PluginKind::Input => 0,
        PluginKind::Filter => 1,
        PluginKind::Output => 2,
    };
    LINKERS[i]
        .get_or_init(|| build_linker(kind).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn build_linker(kind: PluginKind) -> wasmtime::Result<Linker<HostState>> {
    let mut l = Linker::new(engine::engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut l)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut l)?;
    match kind {
        PluginKind::Filter => {
            bindings::filter::Filter::add_to_linker::<_, HasSelf<HostState>>(&mut l, |s| s)?
        }
        PluginKind::Input => {
            bindings::input::Input::add_to_linker::<_, HasSelf<HostState>>(&mut l, |s| s)?
        }
        PluginKind::Output => {
            bindings::output::Output::add_to_linker::<_, HasSelf<HostState>>(&mut l, |s| s)?
        }
    }
    Ok(l)
}

/// Which world a component implements, from its exports.
fn world_of(component: &Component) -> Result<(PluginKind, Pre), String> {
    let mut why = Vec::new();
    for kind in [PluginKind::Filter, PluginKind::Input, PluginKind::Output] {
        let l = linker(kind)?;
        let pre = match l.instantiate_pre(component) {
            Ok(p) => p,
            Err(e) => {
                why.push(format!("{}: {e:#}", world_name(kind)));
                continue;
            }
        };
        let typed = match kind {
            PluginKind::Filter => bindings::filter::FilterPre::new(pre).map(Pre::Filter),
            PluginKind::Input => bindings::input::InputPre::new(pre).map(Pre::Input),
            PluginKind::Output => bindings::output::OutputPre::new(pre).map(Pre::Output),
        };
        match typed {
            Ok(p) => return Ok((kind, p)),
            Err(e) => why.push(format!("{}: {e:#}", world_name(kind))),
        }
    }
    Err(format!(
        "it implements none of the worlds of weir:plugin@0.1.0 (filter, input, output): {}",
        why.join("; ")
    ))
}

/// Turns an error from a call into what happened.
pub fn classify(e: &wasmtime::Error, store: &Store<HostState>) -> Failure {
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return Failure::Timeout;
    }
    let data = store.data();
    if data.limits.hit || data.emit_overflow {
        return Failure::Memory;
    }
    // The trap's reason is the root of the error chain; the wasm backtrace is its context.
    let reason = match e.downcast_ref::<Trap>() {
        Some(t) => t.to_string(),
        None => e.chain().last().map(|c| c.to_string()).unwrap_or_default(),
    };
    let top = e.to_string();
    if top == reason || top.starts_with("error while executing") {
        Failure::Trap(one_line(&reason))
    } else {
        Failure::Trap(one_line(&format!("{top}: {reason}")))
    }
}

/// The first lines of a message, on one line (wasm backtraces are long).
fn one_line(s: &str) -> String {
    let mut out: String = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join(" | ");
    if out.len() > 600 {
        let mut cut = 600;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

impl Compiled {
    /// Reads, compiles (or takes from the cache) and describes the plugin at `path`.
    pub fn load(path: &Path, cache_dir: Option<&Path>) -> Result<Compiled, LoadError> {
        let stamp = Stamp::of(path);
        let (artifact, load) = engine::load(path, cache_dir)?;
        let bad = |message: String| LoadError::Compile {
            path: path.to_path_buf(),
            message,
        };
        let component = match artifact {
            Artifact::Component(c) => c,
            Artifact::Module(_) => {
                return Err(bad("this is a core WebAssembly module, not a component: component plugins implement wit/weir-plugin.wit (Fluent Bit's wasm filter and exec_wasi input run core modules)".into()))
            }
        };
        let (kind, pre) = world_of(&component).map_err(bad)?;
        let blocking_imports = component
            .component_type()
            .imports(engine::engine())
            .any(|(name, _)| !name.starts_with("weir:plugin/"));
        let mut c = Compiled {
            path: path.to_path_buf(),
            stamp,
            load,
            info: Info {
                name: String::new(),
                kind,
                description: String::new(),
                version: String::new(),
                format: Format::Msgpack,
                params: Vec::new(),
            },
            blocking_imports,
            pre,
        };
        let env = Arc::new(InstanceEnv::new(
            format!("wasm:{}", params::file_name(path)),
            State::memory(),
            Arc::default(),
        ));
        let state = HostState::new(
            wasmtime_wasi::WasiCtx::builder().build(),
            false,
            PROBE_TIME_LIMIT,
            PROBE_MEMORY_LIMIT,
            env,
            Arc::default(),
        );
        let _ticking = engine::ticking();
        let mut live = c
            .instantiate(state, PROBE_TIME_LIMIT)
            .map_err(|f| bad(format!("cannot start it: {f}")))?;
        live.store
            .set_epoch_deadline(engine::deadline_ticks(PROBE_TIME_LIMIT));
        let info = live.describe().map_err(|e| {
            let f = classify(&e, &live.store);
            bad(format!("its describe {f}"))
        })?;
        c.info = check_info(info, kind).map_err(bad)?;
        Ok(c)
    }

    /// A new instance in a store made from `state`. Start-up code runs under `time_limit`.
    pub fn instantiate(&self, state: HostState, time_limit: Duration) -> Result<Live, Failure> {
        let mut store = Store::new(engine::engine(), state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(engine::deadline_ticks(time_limit));
        let bound = match &self.pre {
            Pre::Filter(p) => p.instance_pre().instantiate(&mut store).and_then(|i| {
                let bindings = bindings::filter::Filter::new(&mut store, &i)?;
                let filter = i
                    .get_func(&mut store, "filter")
                    .ok_or_else(|| wasmtime::Error::msg("the component exports no `filter`"))?;
                Ok(Bound::Filter(bindings, filter))
            }),
            Pre::Input(p) => p.instantiate(&mut store).map(Bound::Input),
            Pre::Output(p) => p.instantiate(&mut store).map(Bound::Output),
        };
        match bound {
            Ok(bound) => Ok(Live { store, bound }),
            Err(e) => Err(match classify(&e, &store) {
                Failure::Trap(m) => Failure::Unavailable(m),
                f => f,
            }),
        }
    }

    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }
}

impl Live {
    pub fn describe(&mut self) -> wasmtime::Result<types::PluginInfo> {
        let store = &mut self.store;
        match &self.bound {
            Bound::Filter(b, _) => b.weir_plugin_plugin().call_describe(store),
            Bound::Input(b) => b.weir_plugin_plugin().call_describe(store),
            Bound::Output(b) => b.weir_plugin_plugin().call_describe(store),
        }
    }

    pub fn init(&mut self) -> wasmtime::Result<Result<(), String>> {
        let store = &mut self.store;
        match &self.bound {
            Bound::Filter(b, _) => b.weir_plugin_plugin().call_init(store),
            Bound::Input(b) => b.weir_plugin_plugin().call_init(store),
            Bound::Output(b) => b.weir_plugin_plugin().call_init(store),
        }
    }

    /// Calls the filter with a batch borrowed from the pipeline: the canonical ABI copies it
    /// into the plugin's memory, with no copy of its own on the way (the generated bindings
    /// take an owned batch, which cost an allocation and a copy of every batch).
    pub fn filter(
        &mut self,
        tag: &str,
        events: &[u8],
        count: u32,
    ) -> wasmtime::Result<Result<Vec<types::Batch>, String>> {
        let Bound::Filter(_, func) = &self.bound else {
            return Err(wasmtime::Error::msg("not a filter"));
        };
        // Checked against the component's type at each call: a few hundred nanoseconds a
        // batch, and no `unsafe`.
        let typed =
            func.typed::<(BatchIn<'_>,), (Result<Vec<types::Batch>, String>,)>(&self.store)?;
        let (answer,) = typed.call(&mut self.store, (BatchIn { tag, events, count },))?;
        Ok(answer)
    }

    pub fn collect(&mut self) -> wasmtime::Result<Result<Vec<types::Batch>, String>> {
        match &self.bound {
            Bound::Input(b) => b.call_collect(&mut self.store),
            _ => Err(wasmtime::Error::msg("not an input")),
        }
    }

    pub fn flush(&mut self, batch: &types::Batch) -> wasmtime::Result<types::FlushResult> {
        match &self.bound {
            Bound::Output(b) => b.call_flush(&mut self.store, batch),
            _ => Err(wasmtime::Error::msg("not an output")),
        }
    }
}

/// Plugin names are what configurations write after `name`.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn check_info(i: types::PluginInfo, world: PluginKind) -> Result<Info, String> {
    let kind = match i.kind {
        types::PluginKind::Input => PluginKind::Input,
        types::PluginKind::Filter => PluginKind::Filter,
        types::PluginKind::Output => PluginKind::Output,
    };
    if kind != world {
        return Err(format!(
            "it describes itself as an {} but implements the {} world",
            kind.as_str(),
            world_name(world)
        ));
    }
    if !valid_name(&i.name) {
        return Err(format!(
            "its name '{}' is not a plugin name (letters, digits, _ - and ., at most 64)",
            super::host::sanitize(&i.name)
        ));
    }
    let format = match i.event_format {
        types::EventFormat::Msgpack => Format::Msgpack,
        types::EventFormat::Json => Format::Json,
    };
    let mut declared: Vec<Declared> = i
        .params
        .into_iter()
        .map(|p| Declared {
            name: p.name,
            ty: match p.kind {
                types::ParamType::String => ParamType::Str,
                types::ParamType::Integer => ParamType::Int,
                types::ParamType::Double => ParamType::Double,
                types::ParamType::Boolean => ParamType::Bool,
                types::ParamType::Size => ParamType::Size,
                types::ParamType::Time => ParamType::Time,
                types::ParamType::List => ParamType::CommaList,
            },
            default: p.default,
            required: p.required,
            description: super::host::sanitize(&p.description),
        })
        .collect();
    let common = match kind {
        PluginKind::Input => weir_core::service::INPUT_COMMON_PARAMS,
        PluginKind::Filter => weir_core::service::FILTER_COMMON_PARAMS,
        PluginKind::Output => weir_core::service::OUTPUT_COMMON_PARAMS,
    };
    params::check_declared(kind, &mut declared, common).map_err(|e| e.to_string())?;
    Ok(Info {
        name: i.name,
        kind,
        description: super::host::sanitize(i.description.trim()),
        version: super::host::sanitize(i.version.trim()),
        format,
        params: declared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("my_filter-2.x"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"a".repeat(65)));
    }

    #[test]
    fn messages_fit_on_one_line() {
        let m = one_line("error while executing\n\nwasm backtrace:\n  0: f\n  1: g\n  2: h");
        assert_eq!(m, "error while executing | wasm backtrace: | 0: f | 1: g");
    }
}
