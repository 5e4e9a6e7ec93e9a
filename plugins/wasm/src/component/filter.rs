//! A component filter: one call per batch, on the ingest path.
//!
//! Like every filter, it runs synchronously on the task of the input whose batch it is, so a
//! call holds that input (and only it) for at most the instance's `wasm.time_limit`. Fast
//! calls run on the worker thread as a native filter's do; slow ones, and those of plugins
//! that import WASI, first hand the worker's other tasks to another thread (see
//! [`super::runner::paced`]). Inputs that share the filter take turns: one instance serves
//! one call at a time.
//!
//! The plugin returns a batch per tag. Batches of the input's tag (or with an empty tag)
//! replace the batch; batches of another tag go back into the pipeline through the filter's
//! emitter, an input named `emitter_for_` and the instance name (as `rewrite_tag`'s), which
//! every filter matching the new tag sees, except this one.
//!
//! `wasm.on_error`: an error returned by the plugin, events that do not decode, a trap or a
//! limit either `drop` the batch, `pass` it on unchanged (the default), or `retry`: call once
//! more (on a fresh instance after a trap) and pass it on if that fails too.

use super::bindings::types;
use super::events::{self, Format};
use super::params::OnError;
use super::runner::{paced, Runner};
use super::source::PluginSource;
use std::sync::{Arc, Mutex};
use weir_config::{ConfigError, Params};
use weir_core::{Batch, BuildContext, Emitter, Filter, FilterContext, FilterOutcome};
use weir_event::EventWriter;

pub struct WasmFilter {
    runner: Mutex<Runner>,
    emitter: Emitter,
}

impl std::fmt::Debug for WasmFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmFilter").finish_non_exhaustive()
    }
}

impl WasmFilter {
    pub fn new(
        source: Arc<PluginSource>,
        p: &Params,
        ctx: &BuildContext,
    ) -> Result<Self, ConfigError> {
        let runner = Runner::new(source, p, ctx)?;
        let emitter = ctx.new_emitter(&format!("emitter_for_{}", ctx.instance), None);
        Ok(Self {
            runner: Mutex::new(runner),
            emitter,
        })
    }

    fn run(&self, r: &mut Runner, batch: Batch<'_>, out: &mut EventWriter) -> FilterOutcome {
        r.begin();
        let format = r.format();
        // Msgpack plugins read the pipeline's bytes as they are; JSON ones a rendering.
        let rendered;
        let (events, count) = match format {
            Format::Msgpack => (batch.data, batch.records),
            Format::Json => match events::to_json_lines(batch.data) {
                Ok((text, n)) => {
                    rendered = text;
                    (&rendered[..], n as usize)
                }
                Err(e) => {
                    // Weir's own events: this does not happen, and the plugin is not to blame.
                    r.log_failure(format_args!("cannot encode a batch of {}: {e}", batch.tag));
                    return FilterOutcome::Unchanged;
                }
            },
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let why = match r.call(|live| live.filter(batch.tag, events, count)) {
                Ok(Ok(batches)) => match self.take(format, batches, &batch, out) {
                    Ok(outcome) => return outcome,
                    Err(e) => {
                        r.counters.errors.inc();
                        format!("returned events that do not decode: {e}")
                    }
                },
                Ok(Err(m)) => {
                    r.counters.errors.inc();
                    format!("returned an error: {}", super::host::sanitize(&m))
                }
                Err(f) => f.to_string(),
            };
            let (then, outcome) = match (r.host.on_error, attempt) {
                (OnError::Drop, _) => ("dropped", Some(FilterOutcome::Modified)),
                (OnError::Retry, 1) => ("tried again", None),
                _ => ("passed on unchanged", Some(FilterOutcome::Unchanged)),
            };
            r.log_failure(format_args!(
                "batch of {} records of {}: the plugin {why}; {then}",
                batch.records, batch.tag
            ));
            if let Some(o) = outcome {
                return o;
            }
        }
    }

    /// What the plugin returned: checked in full before anything goes further.
    fn take(
        &self,
        format: Format,
        batches: Vec<types::Batch>,
        batch: &Batch<'_>,
        out: &mut EventWriter,
    ) -> Result<FilterOutcome, String> {
        let same_tag = |t: &str| t.is_empty() || t == batch.tag;
        if format == Format::Msgpack
            && batches.len() == 1
            && same_tag(&batches[0].tag)
            && batches[0].events == batch.data
        {
            return Ok(FilterOutcome::Unchanged);
        }
        // Events of the batch's tag go straight into `out`, which is rolled back if any
        // batch fails to decode: nothing of a failed call goes further.
        let mark = (out.buf.len(), out.count);
        let mut others: Vec<(String, EventWriter)> = Vec::new();
        for b in &batches {
            let res = if same_tag(&b.tag) {
                events::from_guest(format, &b.events, out)
            } else {
                let i = match others.iter().position(|(t, _)| *t == b.tag) {
                    Some(i) => i,
                    None => {
                        others.push((b.tag.clone(), EventWriter::new()));
                        others.len() - 1
                    }
                };
                events::from_guest(format, &b.events, &mut others[i].1)
            };
            if let Err(e) = res {
                out.buf.truncate(mark.0);
                out.count = mark.1;
                return Err(e);
            }
        }
        for (tag, w) in others {
            if w.count > 0 {
                self.emitter.emit(&tag, w.buf, w.count);
            }
        }
        Ok(FilterOutcome::Modified)
    }
}

impl Filter for WasmFilter {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _: &FilterContext<'_>,
    ) -> FilterOutcome {
        paced(&self.runner, |r| self.run(r, batch, out))
    }
}
