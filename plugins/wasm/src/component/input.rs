//! A component input: `collect` is called every `interval_sec` + `interval_nsec` (Fluent
//! Bit's keys for interval-driven inputs, as `cpu` or `exec`; one second by default), the
//! first time one interval after start. What it returns, and what it pushed with `emit`
//! during the call (or during `init`), goes down the pipeline as logs, under the batch's tag
//! or, when that is empty, the input's `tag`.
//!
//! Calls run on the runtime's blocking threads. A failed call (an error, events that do not
//! decode, a trap, a limit) loses what it would have produced; with `wasm.on_error retry` it
//! is made once more at once (on a fresh instance after a trap). A batch whose events do not
//! decode is dropped alone, the others go on.

use super::bindings::types;
use super::events;
use super::params::OnError;
use super::runner::Runner;
use super::source::PluginSource;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weir_config::{ConfigError, Params};
use weir_core::{BoxFuture, BuildContext, Input, InputContext};
use weir_event::EventWriter;

pub struct WasmInput {
    runner: Arc<Mutex<Runner>>,
    interval: Duration,
}

impl WasmInput {
    pub fn new(
        source: Arc<PluginSource>,
        p: &Params,
        ctx: &BuildContext,
    ) -> Result<Self, ConfigError> {
        let runner = Runner::new(source, p, ctx)?;
        let interval = runner.host.interval;
        Ok(Self {
            runner: Arc::new(Mutex::new(runner)),
            interval,
        })
    }
}

/// Calls `collect` (retrying by the policy) and returns the events by tag.
fn collect(runner: &Mutex<Runner>) -> Vec<(String, EventWriter)> {
    let mut r = runner.lock().unwrap_or_else(|e| e.into_inner());
    r.begin();
    let format = r.format();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = r.call(|live| {
            let out = live.collect()?;
            Ok((live.store.data_mut().take_emitted(), out))
        });
        let (emitted, why) = match res {
            Ok((emitted, Ok(batches))) => {
                let mut all = emitted;
                all.extend(batches);
                return by_tag(&mut r, format, all);
            }
            Ok((emitted, Err(m))) => {
                r.counters.errors.inc();
                (
                    emitted,
                    format!("returned an error: {}", super::host::sanitize(&m)),
                )
            }
            Err(f) => (Vec::new(), f.to_string()),
        };
        let retry = r.host.on_error == OnError::Retry && attempt == 1;
        r.log_failure(format_args!(
            "collect failed: the plugin {why}{}",
            if retry { "; trying again" } else { "" }
        ));
        if !retry {
            // Batches it pushed before failing were meant to go: they do.
            return by_tag(&mut r, format, emitted);
        }
    }
}

fn by_tag(
    r: &mut Runner,
    format: events::Format,
    batches: Vec<types::Batch>,
) -> Vec<(String, EventWriter)> {
    let mut out: Vec<(String, EventWriter)> = Vec::new();
    for b in batches {
        let i = match out.iter().position(|(t, _)| *t == b.tag) {
            Some(i) => i,
            None => {
                out.push((b.tag.clone(), EventWriter::new()));
                out.len() - 1
            }
        };
        if let Err(e) = events::from_guest(format, &b.events, &mut out[i].1) {
            r.counters.errors.inc();
            r.log_failure(format_args!(
                "dropping a batch of {}: its events do not decode: {e}",
                if b.tag.is_empty() {
                    "the input's tag"
                } else {
                    &b.tag
                }
            ));
        }
    }
    out.retain(|(_, w)| w.count > 0);
    out
}

impl Input for WasmInput {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let start = tokio::time::Instant::now() + self.interval;
            let mut tick = tokio::time::interval_at(start, self.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ctx.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let runner = self.runner.clone();
                let Ok(batches) = tokio::task::spawn_blocking(move || collect(&runner)).await
                else {
                    continue;
                };
                for (tag, w) in batches {
                    let tag = if tag.is_empty() {
                        ctx.tag().to_string()
                    } else {
                        tag
                    };
                    ctx.emit(&tag, &w.buf, w.count).await;
                }
            }
            super::runner::flush_state(self.runner.clone()).await;
            Ok(())
        })
    }
}
