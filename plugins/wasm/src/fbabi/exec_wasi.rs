//! `exec_wasi`: runs a WASI command module every interval (or once) and makes records of the
//! lines it writes to its standard output, as Fluent Bit's `in_exec_wasi`.
//!
//! Each run starts a fresh instance and calls `_start` (the module's `main`). Each line of its
//! standard output becomes a record: parsed by `parser` when one is set (a line the parser
//! rejects is skipped, with an error), else `{"wasi_stdout": "<line>"}`. Records are stamped
//! with the parser's time when it finds one, else the time the run ended. `accessible_paths`
//! are preopened as in the filter; the module gets no arguments, no environment and no standard
//! input; its standard error is Weir's.
//!
//! Where Weir differs from Fluent Bit, on purpose:
//! - The run is bounded: `wasm.time_limit` (10s by default) stops a command that does not end,
//!   memory growth stops at the initial memory plus `wasm_heap_size` (64M when not set), and the
//!   output captured is at most `wasm.stdout_limit` (16M). Fluent Bit writes the output to a
//!   temporary file without limit and blocks its event loop for as long as the command runs.
//! - A run that fails (a trap, a limit, an exit status other than 0) is logged and counted;
//!   the lines it wrote before failing are still made records. Fluent Bit drops them.
//! - `buf_size` is the longest line accepted: a longer line is skipped with an error, where
//!   Fluent Bit cuts it into several records.
//! - `oneshot` is read under its documented name; Fluent Bit's code reads the key `bool`,
//!   which Weir accepts too (deprecated).
//! - The run happens on a thread of its own, never on the thread that runs the pipeline.

use super::guest::{classify, CallError, Preopen, Prepared};
use super::{load_module, resolve_module_path, FailureLog};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::metrics::PluginMetrics;
use weir_core::{
    BoxFuture, BuildContext, Factory, Input, InputContext, PluginDescriptor, PluginKind,
};
use weir_event::event::write_head;
use weir_event::EventTime;
use weir_parser::Parser;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("wasi_path")
        .required()
        .desc("The WASI command module to run (a .wasm file), relative to the main configuration file."),
    ParamSpec::comma_list("accessible_paths")
        .default(".")
        .desc("Directories the module may open through WASI, comma-separated."),
    ParamSpec::str("parser").desc("Parser for each line of output; without one a line is kept as wasi_stdout."),
    ParamSpec::int("interval_sec")
        .default("1")
        .desc("Seconds between two runs."),
    ParamSpec::int("interval_nsec")
        .default("0")
        .desc("Nanoseconds added to interval_sec."),
    ParamSpec::size("buf_size")
        .default("4096")
        .desc("The longest line of output accepted (a longer one is skipped)."),
    ParamSpec::bool("oneshot")
        .default("false")
        .desc("Run the module once, at start."),
    ParamSpec::bool("bool")
        .deprecated()
        .desc("The key Fluent Bit's code reads for oneshot."),
    ParamSpec::size("wasm_heap_size").desc(
        "Memory the module may add beyond its initial memory; growing past it fails. Not set: 64M.",
    ),
    ParamSpec::size("wasm_stack_size").desc(
        "Accepted for compatibility: the stack of every module is bounded by the runtime (512k of WebAssembly frames).",
    ),
    ParamSpec::time("wasm.time_limit")
        .default("10s")
        .desc("Weir: longest one run may take; past it the run is stopped."),
    ParamSpec::size("wasm.stdout_limit")
        .default("16M")
        .desc("Weir: most output one run may write; writing more stops the run."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "exec_wasi",
    kind: PluginKind::Input,
    description: "Run a WASI program and make records of its output lines.",
    params: PARAMS,
    factory: Factory::Input(build),
};

/// The validated settings.
#[derive(Clone)]
pub struct Settings {
    pub path: std::path::PathBuf,
    pub preopens: Vec<Preopen>,
    pub parser: Option<Arc<Parser>>,
    pub interval: Duration,
    pub buf_size: usize,
    pub oneshot: bool,
    pub allowance: u64,
    pub time_limit: Duration,
    pub stdout_limit: usize,
    pub warnings: Vec<String>,
}

impl Settings {
    pub fn from_params(p: &Params, ctx: &BuildContext) -> Result<Self, ConfigError> {
        let path = p.str("wasi_path").unwrap_or_default().trim();
        if path.is_empty() {
            return Err(p.error("wasi_path", "no input 'command' was given"));
        }
        let parser = match p.str("parser").map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => Some(ctx.parsers.get(name).ok_or_else(|| {
                p.error("parser", format!("requested parser '{name}' not found"))
            })?),
            None => None,
        };
        let (sec, nsec) = (
            p.int("interval_sec").unwrap_or(1),
            p.int("interval_nsec").unwrap_or(0),
        );
        // Fluent Bit replaces an interval that is not positive by its default.
        let interval = if sec <= 0 && nsec <= 0 {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(sec.max(0).unsigned_abs())
                + Duration::from_nanos(nsec.max(0).unsigned_abs())
        };
        let buf_size = p.size("buf_size").unwrap_or(4096);
        if buf_size == 0 {
            return Err(p.error("buf_size", "buffer size is invalid"));
        }
        let oneshot = if p.is_set("oneshot") {
            p.bool("oneshot").unwrap_or(false)
        } else {
            p.bool("bool").unwrap_or(false)
        };
        let stdout_limit = p.size("wasm.stdout_limit").unwrap_or(16 << 20);
        let common = super::Common::from_params(p)?;
        Ok(Self {
            path: resolve_module_path(&ctx.config_dir, path),
            preopens: common.preopens,
            parser,
            interval,
            buf_size: usize::try_from(buf_size).unwrap_or(usize::MAX),
            oneshot,
            allowance: common.allowance,
            time_limit: common.time_limit,
            stdout_limit: usize::try_from(stdout_limit).unwrap_or(usize::MAX).max(1),
            warnings: common.warnings,
        })
    }
}

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Input>, ConfigError> {
    let s = Settings::from_params(p, ctx)?;
    let module = load_module(&s.path).map_err(|e| p.error("wasi_path", e))?;
    match module.get_export("_start") {
        Some(wasmtime::ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
        _ => return Err(p.error(
            "wasi_path",
            "WASI main function is not found: the module must be a WASI command (export _start)",
        )),
    }
    let prepared =
        Prepared::new(&module, s.allowance, s.time_limit).map_err(|e| p.error("wasi_path", e))?;
    let metrics = ctx.metrics.plugin(PluginKind::Input, &ctx.instance);
    Ok(Box::new(ExecWasi {
        run: Arc::new(Runner {
            prepared,
            settings: s,
            metrics,
        }),
    }))
}

struct ExecWasi {
    run: Arc<Runner>,
}

/// What one run needs.
struct Runner {
    prepared: Prepared,
    settings: Settings,
    metrics: Arc<PluginMetrics>,
}

/// What one run produced.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub stdout: Vec<u8>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

impl Runner {
    /// Runs the command once, on the calling thread (which may block).
    fn run_once(&self) -> RunOutput {
        let s = &self.settings;
        let stdout = MemoryOutputPipe::new(s.stdout_limit);
        let mut b = WasiCtxBuilder::new();
        b.stdout(stdout.clone()).inherit_stderr();
        b.allow_blocking_current_thread(true);
        for p in &s.preopens {
            if let Err(e) = b.preopened_dir(&p.host, &p.guest, FsPerms::ReadWrite) {
                return RunOutput {
                    stdout: Vec::new(),
                    error: Some(format!("cannot open '{}': {e}", p.host.display())),
                };
            }
        }
        let _ticking = crate::engine::ticking();
        let error = match self.prepared.instantiate(b.build_p1()) {
            Err(e) => Some(e),
            Ok((mut store, instance)) => {
                store.set_epoch_deadline(crate::engine::deadline_ticks(s.time_limit));
                match instance.get_typed_func::<(), ()>(&mut store, "_start") {
                    Err(e) => Some(CallError::Trap(format!("no _start: {e}"))),
                    Ok(start) => match start.call(&mut store, ()) {
                        Ok(()) => None,
                        Err(e) => match classify(&store, e) {
                            CallError::Exit(0) => None,
                            other => Some(other),
                        },
                    },
                }
            }
        };
        let out = stdout.contents().to_vec();
        let error = error.map(|e| {
            self.metrics.counter(e.counter()).inc();
            match e {
                CallError::Trap(_) if out.len() >= s.stdout_limit => {
                    "wrote more output than wasm.stdout_limit".to_string()
                }
                e => e.to_string(),
            }
        });
        RunOutput { stdout: out, error }
    }
}

/// Turns a run's output into events, appended to `out`; returns how many.
pub fn records(
    stdout: &[u8],
    parser: Option<&Parser>,
    buf_size: usize,
    now: EventTime,
    out: &mut Vec<u8>,
    log: &FailureLog,
) -> usize {
    let mut n = 0;
    let mut lines: Vec<&[u8]> = stdout.split(|b| *b == b'\n').collect();
    // Output that ends with a newline leaves an empty piece after it, which is no line.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        // fgets in Fluent Bit keeps room for the NUL: the longest line is one byte shorter.
        if line.len() >= buf_size {
            log.error(&format!(
                "a line of {} bytes is longer than buf_size ({buf_size}): skipped",
                line.len()
            ));
            continue;
        }
        match parser {
            Some(p) => {
                if p.parse_event(line, now, out).is_ok() {
                    n += 1;
                } else {
                    log.error(&format!(
                        "parser '{}' returned an error for a line of {} bytes",
                        p.name(),
                        line.len()
                    ));
                }
            }
            None => {
                write_head(out, now, &[]);
                out.push(0x81);
                weir_event::value::write_str(out, "wasi_stdout");
                weir_event::value::write_str_bytes(out, line);
                n += 1;
            }
        }
    }
    n
}

impl Input for ExecWasi {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let log = FailureLog::new(ctx.component().to_string());
            for w in &self.run.settings.warnings {
                weir_core::warn!(ctx.component(), "{}", w);
            }
            let tag = ctx.tag().to_string();
            let interval = self.run.settings.interval;
            let oneshot = self.run.settings.oneshot;
            let mut next = tokio::time::Instant::now();
            if !oneshot {
                // Fluent Bit's collector fires first one interval after start.
                next += interval;
            }
            let mut batch = Vec::new();
            loop {
                tokio::select! {
                    _ = ctx.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until(next) => {}
                }
                let runner = self.run.clone();
                let output = match tokio::task::spawn_blocking(move || runner.run_once()).await {
                    Ok(o) => o,
                    Err(e) => RunOutput {
                        stdout: Vec::new(),
                        error: Some(format!("the run stopped unexpectedly: {e}")),
                    },
                };
                if let Some(e) = &output.error {
                    log.error(&format!("{} {e}", self.run.settings.path.display()));
                }
                batch.clear();
                let n = records(
                    &output.stdout,
                    self.run.settings.parser.as_deref(),
                    self.run.settings.buf_size,
                    EventTime::now(),
                    &mut batch,
                    &log,
                );
                ctx.emit(&tag, &batch, n).await;
                if oneshot {
                    ctx.cancelled().await;
                    return Ok(());
                }
                next += interval;
                let now = tokio::time::Instant::now();
                if next < now {
                    // A run longer than the interval: the next one starts at once, without a
                    // burst of the ones missed.
                    next = now;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(buf: &[u8]) -> Vec<String> {
        weir_event::Events::new(buf)
            .map(|e| weir_event::json::to_json_string(e.unwrap().body).unwrap())
            .collect()
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::check_table(PARAMS).unwrap();
    }

    #[test]
    fn lines_become_wasi_stdout_records() {
        let log = FailureLog::new("test".into());
        let mut out = Vec::new();
        let n = records(
            b"a\n\nb c\nlast",
            None,
            4096,
            EventTime::new(1, 0),
            &mut out,
            &log,
        );
        assert_eq!(n, 4);
        assert_eq!(
            bodies(&out),
            [
                r#"{"wasi_stdout":"a"}"#,
                r#"{"wasi_stdout":""}"#,
                r#"{"wasi_stdout":"b c"}"#,
                r#"{"wasi_stdout":"last"}"#
            ]
        );
        out.clear();
        assert_eq!(
            records(b"x\n", None, 4096, EventTime::new(1, 0), &mut out, &log),
            1
        );
        out.clear();
        assert_eq!(
            records(b"", None, 4096, EventTime::new(1, 0), &mut out, &log),
            0
        );
    }

    #[test]
    fn long_lines_are_skipped() {
        let log = FailureLog::new("test".into());
        let mut out = Vec::new();
        let n = records(
            b"abcd\nabc\n",
            None,
            4,
            EventTime::new(1, 0),
            &mut out,
            &log,
        );
        assert_eq!(n, 1);
        assert_eq!(bodies(&out), [r#"{"wasi_stdout":"abc"}"#]);
    }

    #[test]
    fn lines_go_through_the_parser() {
        let cfg = weir_parser::ParserConfig::new("j", "json");
        let parser = Parser::new(&cfg).unwrap();
        let log = FailureLog::new("test".into());
        let mut out = Vec::new();
        let n = records(
            b"{\"a\":1}\nnot json\n{\"b\":2}\n",
            Some(&parser),
            4096,
            EventTime::new(1, 0),
            &mut out,
            &log,
        );
        assert_eq!(n, 2);
        assert_eq!(bodies(&out), [r#"{"a":1}"#, r#"{"b":2}"#]);
    }
}
