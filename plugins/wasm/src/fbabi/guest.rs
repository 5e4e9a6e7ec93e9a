//! One core module as Fluent Bit runs it: linked with WASI preview 1 (`accessible_paths`
//! preopened, as WAMR does), under a memory limit and a time limit, and how a failed call is
//! told apart (time limit, memory limit, trap, `proc_exit`).

use crate::engine::{deadline_ticks, engine, StoreLimits};
use std::path::PathBuf;
use std::time::Duration;
use wasmtime::{ExternType, Instance, InstancePre, Linker, Module, Store, Trap};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// What every store of these plugins holds.
pub struct Host {
    pub wasi: WasiP1Ctx,
    pub limits: StoreLimits,
}

/// A directory the module may open: the host's path and the name the module uses for it.
/// As in Fluent Bit (WAMR), both are the path as written in `accessible_paths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
}

/// Turns `accessible_paths` into preopened directories, checking that each one can be opened.
pub fn preopens(list: &[String]) -> Result<Vec<Preopen>, String> {
    let mut out = Vec::new();
    for p in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let host = PathBuf::from(p);
        if !host.is_dir() {
            return Err(format!("'{p}' is not a directory Weir can open"));
        }
        out.push(Preopen {
            host,
            guest: p.to_string(),
        });
    }
    Ok(out)
}

/// The WASI functions that wasmtime-wasi runs through `Handle::block_on`: a module importing
/// any of them must be called where blocking on a Tokio runtime is allowed (see [`run`]).
const BLOCKING_WASI: &[&str] = &[
    "fd_advise",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_read",
    "fd_pread",
    "fd_seek",
    "fd_sync",
    "fd_readdir",
    "fd_write",
    "fd_pwrite",
    "poll_oneoff",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "fd_renumber",
];

/// A compiled module linked once, instantiated as often as needed.
pub struct Prepared {
    pre: InstancePre<Host>,
    /// Bytes of linear memory the module starts with (its memories' declared minimums).
    pub initial_memory: u64,
    /// Bytes the module may add to its memory beyond `initial_memory`.
    pub allowance: u64,
    pub time_limit: Duration,
    /// The module imports a WASI function that blocks (see [`BLOCKING_WASI`]).
    pub blocking_wasi: bool,
    /// The name of the memory the host copies inputs into.
    pub memory_name: String,
}

impl Prepared {
    /// Links `module`: WASI preview 1, AssemblyScript's `env.abort`, and every other import
    /// as a function that traps when called (as WAMR lets a module with unresolved imports
    /// load and fail only if it calls one).
    pub fn new(module: &Module, allowance: u64, time_limit: Duration) -> Result<Self, String> {
        let mut linker: Linker<Host> = Linker::new(engine());
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi)
            .map_err(|e| format!("cannot link WASI: {e}"))?;
        define_abort(&mut linker, module)?;
        linker
            .define_unknown_imports_as_traps(module)
            .map_err(|e| format!("cannot link the module's imports: {e:#}"))?;
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| format!("{e:#}"))?;
        let mut initial_memory = 0u64;
        let mut memory_name = None;
        for e in module.exports() {
            if let ExternType::Memory(m) = e.ty() {
                if m.is_64() {
                    return Err("64-bit memories are not supported".into());
                }
                initial_memory += m.minimum() * m.page_size();
                if memory_name.is_none() || e.name() == "memory" {
                    memory_name = Some(e.name().to_string());
                }
            }
        }
        for i in module.imports() {
            if let ExternType::Memory(_) = i.ty() {
                return Err(format!(
                    "the module imports its memory ({}.{}): it must define and export it",
                    i.module(),
                    i.name()
                ));
            }
        }
        let memory_name = memory_name.ok_or("the module exports no memory")?;
        let blocking_wasi = module
            .imports()
            .any(|i| i.module().starts_with("wasi_") && BLOCKING_WASI.contains(&i.name()));
        Ok(Self {
            pre,
            initial_memory,
            allowance,
            time_limit,
            blocking_wasi,
            memory_name,
        })
    }

    /// A fresh store and instance; runs the start function and the WASI reactor's
    /// `_initialize`, if any, within the time limit.
    pub fn instantiate(&self, wasi: WasiP1Ctx) -> Result<(Store<Host>, Instance), CallError> {
        let limit = usize::try_from(self.initial_memory.saturating_add(self.allowance))
            .unwrap_or(usize::MAX);
        let mut store = Store::new(
            engine(),
            Host {
                wasi,
                limits: StoreLimits::new(limit),
            },
        );
        store.limiter(|h| &mut h.limits);
        store.set_epoch_deadline(deadline_ticks(self.time_limit));
        let _ticking = crate::engine::ticking();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, e))?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).map_err(|e| classify(&store, e))?;
        }
        Ok((store, instance))
    }
}

/// AssemblyScript modules import `env.abort(message, file, line, column)`: a trap that says
/// where it was called from (the message and file are AssemblyScript strings: UTF-16 with
/// their byte length just before them).
fn define_abort(linker: &mut Linker<Host>, module: &Module) -> Result<(), String> {
    let wanted = module.imports().any(|i| {
        i.module() == "env"
            && i.name() == "abort"
            && matches!(i.ty(), ExternType::Func(f) if f.params().len() == 4 && f.results().len() == 0)
    });
    if !wanted {
        return Ok(());
    }
    linker
        .func_wrap(
            "env",
            "abort",
            |mut caller: wasmtime::Caller<'_, Host>,
             msg: i32,
             file: i32,
             line: i32,
             col: i32|
             -> wasmtime::Result<()> {
                let text = |caller: &mut wasmtime::Caller<'_, Host>, p: i32| -> String {
                    let Some(wasmtime::Extern::Memory(m)) = caller.get_export("memory") else {
                        return String::new();
                    };
                    as_string(m.data(&*caller), p as u32).unwrap_or_default()
                };
                let m = text(&mut caller, msg);
                let f = text(&mut caller, file);
                Err(wasmtime::Error::msg(format!(
                    "abort: {m} at {f}:{line}:{col}"
                )))
            },
        )
        .map(|_| ())
        .map_err(|e| format!("cannot define env.abort: {e}"))
}

/// An AssemblyScript string at `ptr`: its byte length is the u32 at `ptr - 4`.
fn as_string(mem: &[u8], ptr: u32) -> Option<String> {
    let start = ptr as usize;
    let len_at = start.checked_sub(4)?;
    let len = u32::from_le_bytes(mem.get(len_at..start)?.try_into().ok()?) as usize;
    let bytes = mem.get(start..start.checked_add(len.min(4096))?)?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Why a call into the module failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Ran past `wasm.time_limit`.
    Timeout,
    /// The memory could not grow past the limit, and the module trapped (or gave up).
    Memory,
    /// The module called WASI `proc_exit` with this status.
    Exit(i32),
    /// Any other trap, with its message.
    Trap(String),
}

impl CallError {
    /// The counter this error adds to.
    pub fn counter(&self) -> &'static str {
        match self {
            CallError::Timeout => "wasm_timeouts",
            CallError::Memory => "wasm_memory_limit_hits",
            CallError::Exit(_) | CallError::Trap(_) => "wasm_traps",
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => f.write_str("stopped at its time limit (wasm.time_limit)"),
            CallError::Memory => f.write_str("ran out of memory (wasm_heap_size)"),
            CallError::Exit(c) => write!(f, "exited with status {c}"),
            CallError::Trap(m) => write!(f, "trapped: {m}"),
        }
    }
}

/// Tells a failed call's cause from the error and the store's limiter.
pub fn classify(store: &Store<Host>, e: wasmtime::Error) -> CallError {
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return CallError::Exit(exit.0);
    }
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::Timeout;
    }
    if store.data().limits.hit {
        return CallError::Memory;
    }
    // The root cause is the trap (or the host function's error); the context around it is a
    // backtrace of the module's frames.
    CallError::Trap(e.root_cause().to_string())
}

/// A WASI context for a filter: `accessible_paths` preopened, standard output and error shared
/// with Weir's (as in Fluent Bit), nothing else (no environment, no arguments, no stdin).
pub fn filter_wasi(preopens: &[Preopen]) -> Result<WasiP1Ctx, String> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdout().inherit_stderr();
    // File operations run on the calling thread: the call already blocks it.
    b.allow_blocking_current_thread(true);
    for p in preopens {
        b.preopened_dir(&p.host, &p.guest, FsPerms::ReadWrite)
            .map_err(|e| format!("cannot open '{}': {e}", p.host.display()))?;
    }
    Ok(b.build_p1())
}

/// Runs `f`, which calls into a module, where wasmtime-wasi may block on Tokio.
///
/// wasmtime-wasi implements its blocking functions (`fd_write`, `path_open`...) as futures it
/// completes with `Handle::block_on`, which panics on a thread that drives a Tokio runtime, as
/// a filter's thread does. Modules that import none of them are called directly. Otherwise, on
/// a multi-thread runtime the call runs under `block_in_place` (the worker hands its other
/// tasks to another thread meanwhile), and on a current-thread runtime on a scoped thread.
pub fn run<R: Send>(blocking_wasi: bool, f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if !blocking_wasi {
        return f();
    }
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// The memory allowance (bytes the module may add beyond its initial memory) for a
/// `wasm_heap_size` setting: the value given, at least Fluent Bit's minimum of 8 KiB; when not
/// set, [`DEFAULT_ALLOWANCE`].
pub fn allowance(heap_size: Option<u64>) -> u64 {
    heap_size.map_or(DEFAULT_ALLOWANCE, |h| h.max(MIN_HEAP))
}

/// Memory a module may add when `wasm_heap_size` is not set.
pub const DEFAULT_ALLOWANCE: u64 = 64 << 20;
/// Fluent Bit's smallest heap (`FLB_WASM_DEFAULT_HEAP_SIZE`).
pub const MIN_HEAP: u64 = 8192;

/// wasmtime's bound on the stack of wasm frames (`Config::max_wasm_stack`'s default), the
/// same for every plugin of the process.
pub const ENGINE_STACK: u64 = 512 << 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fbabi::memory::PAGE;

    fn prepared(wat: &str) -> Prepared {
        let m = Module::new(engine(), wat).unwrap();
        Prepared::new(&m, 1 << 20, Duration::from_millis(200)).unwrap()
    }

    #[test]
    fn a_start_function_that_never_ends_is_stopped() {
        let p =
            prepared(r#"(module (memory (export "memory") 1) (func $s (loop (br 0))) (start $s))"#);
        let err = p.instantiate(filter_wasi(&[]).unwrap()).err().unwrap();
        assert_eq!(err, CallError::Timeout);
    }

    #[test]
    fn initialize_runs_once_and_unknown_imports_trap_only_when_called() {
        let p = prepared(
            r#"(module
                (import "env" "missing" (func $m))
                (memory (export "memory") 1)
                (global $n (export "n") (mut i32) (i32.const 0))
                (func (export "_initialize") global.get $n i32.const 1 i32.add global.set $n)
                (func (export "call_missing") call $m))"#,
        );
        let (mut store, i) = p.instantiate(filter_wasi(&[]).unwrap()).unwrap();
        let n = i.get_global(&mut store, "n").unwrap();
        assert_eq!(n.get(&mut store).i32(), Some(1));
        let f = i
            .get_typed_func::<(), ()>(&mut store, "call_missing")
            .unwrap();
        let raw = f.call(&mut store, ()).unwrap_err();
        let e = classify(&store, raw);
        assert!(matches!(e, CallError::Trap(_)), "{e:?}");
    }

    #[test]
    fn memory_growth_stops_at_initial_plus_allowance() {
        let p = prepared(
            r#"(module (memory (export "memory") 2)
                (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
        );
        assert_eq!(p.initial_memory, 2 * PAGE);
        let (mut store, i) = p.instantiate(filter_wasi(&[]).unwrap()).unwrap();
        let grow = i.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
        assert_eq!(grow.call(&mut store, 16).unwrap(), 2, "1 MiB fits");
        assert_eq!(
            grow.call(&mut store, 1).unwrap(),
            -1,
            "one page more does not"
        );
        assert!(store.data().limits.hit);
    }

    #[test]
    fn abort_reports_the_assemblyscript_message() {
        // "hi" as an AssemblyScript string at 16: byte length 4 at 12.
        let p = prepared(
            r#"(module
                (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
                (memory (export "memory") 1)
                (data (i32.const 12) "\04\00\00\00h\00i\00")
                (func (export "f") i32.const 16 i32.const 16 i32.const 3 i32.const 7 call $abort))"#,
        );
        let (mut store, i) = p.instantiate(filter_wasi(&[]).unwrap()).unwrap();
        let f = i.get_typed_func::<(), ()>(&mut store, "f").unwrap();
        let raw = f.call(&mut store, ()).unwrap_err();
        let e = classify(&store, raw);
        assert_eq!(e, CallError::Trap("abort: hi at hi:3:7".into()));
    }

    #[test]
    fn modules_without_memory_are_refused() {
        let m = Module::new(engine(), "(module)").unwrap();
        let e = Prepared::new(&m, 0, Duration::from_secs(1)).err().unwrap();
        assert!(e.contains("exports no memory"), "{e}");
    }

    #[test]
    fn blocking_wasi_imports_are_noticed() {
        let p = prepared(
            r#"(module
                (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                (memory (export "memory") 1))"#,
        );
        assert!(p.blocking_wasi);
        let q = prepared(
            r#"(module
                (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
                (memory (export "memory") 1))"#,
        );
        assert!(!q.blocking_wasi);
    }

    #[test]
    fn allowance_rules() {
        assert_eq!(allowance(None), DEFAULT_ALLOWANCE);
        assert_eq!(allowance(Some(10)), MIN_HEAP);
        assert_eq!(allowance(Some(1 << 20)), 1 << 20);
    }

    #[test]
    fn preopens_must_be_directories() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_string_lossy().to_string();
        assert_eq!(preopens(&[d.clone(), " ".into()]).unwrap().len(), 1);
        assert!(preopens(&[format!("{d}/nope")]).is_err());
    }
}
