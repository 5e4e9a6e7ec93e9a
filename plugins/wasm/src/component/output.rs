//! A component output: `flush` once per chunk, on the runtime's blocking threads; its answer
//! is the flush's (`ok`, `retry` or `error`), and the engine owns retries as for any output.
//!
//! `wasm.on_error` applies when the call itself fails (a trap, a limit): `retry` (the
//! default) answers retry, so the chunk comes back later within `retry_limit`; `drop`
//! answers error (the chunk is dropped for this output and counted); `pass` answers ok (the
//! chunk counts as delivered). One instance serves one flush at a time: with `workers` above
//! 1, flushes take turns on it.

use super::bindings::types;
use super::events;
use super::params::OnError;
use super::runner::Runner;
use super::source::PluginSource;
use std::sync::{Arc, Mutex};
use weir_config::{ConfigError, Params};
use weir_core::{BoxFuture, BuildContext, FlushResult, Output, OutputContext};
use weir_event::Chunk;

pub struct WasmOutput {
    runner: Arc<Mutex<Runner>>,
}

impl WasmOutput {
    pub fn new(
        source: Arc<PluginSource>,
        p: &Params,
        ctx: &BuildContext,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            runner: Arc::new(Mutex::new(Runner::new(source, p, ctx)?)),
        })
    }
}

fn flush(runner: &Mutex<Runner>, tag: String, data: Vec<u8>, records: usize) -> FlushResult {
    let mut r = runner.lock().unwrap_or_else(|e| e.into_inner());
    r.begin();
    let (events, count) = match events::to_guest(r.format(), data, records) {
        Ok(x) => x,
        Err(e) => {
            r.log_failure(format_args!("cannot encode a chunk of {tag}: {e}"));
            return FlushResult::Error;
        }
    };
    let batch = types::Batch { tag, events, count };
    match r.call(|live| live.flush(&batch)) {
        Ok(types::FlushResult::Ok) => FlushResult::Ok,
        Ok(types::FlushResult::Retry) => FlushResult::Retry,
        Ok(types::FlushResult::Error) => {
            r.counters.errors.inc();
            FlushResult::Error
        }
        Err(f) => {
            let (answer, said) = match r.host.on_error {
                OnError::Retry => (FlushResult::Retry, "to be retried"),
                OnError::Drop => (FlushResult::Error, "dropped"),
                OnError::Pass => (FlushResult::Ok, "passed as delivered"),
            };
            r.log_failure(format_args!(
                "chunk of {} records of {}: the plugin {f}; {said}",
                batch.count, batch.tag
            ));
            answer
        }
    }
}

impl Output for WasmOutput {
    fn flush<'a>(&'a self, chunk: &'a Chunk, _: &'a OutputContext) -> BoxFuture<'a, FlushResult> {
        let runner = self.runner.clone();
        let tag = chunk.tag.to_string();
        let (data, records) = (chunk.data.clone(), chunk.records);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || flush(&runner, tag, data, records))
                .await
                .unwrap_or(FlushResult::Retry)
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(super::runner::flush_state(self.runner.clone()))
    }
}
