//! Applying a new configuration to the running pipeline, by difference.
//!
//! The order is what makes it lossless:
//! 1. the new configuration is built in full (a failure changes nothing);
//! 2. new and changed outputs start, not yet routed to;
//! 3. removed and changed inputs stop: what they held open goes to the current routes;
//! 4. the routes swap: from here on chunks go to the new filters and outputs, and none can
//!    reach an output that is leaving (dispatch holds the routes' read lock while it sends);
//! 5. chunks still open are closed and dispatched on the new routes;
//! 6. new and changed inputs start;
//! 7. leaving outputs deliver what they were given (bounded by `grace`; past it they go on in
//!    the background rather than drop anything) and leaving emitters take in what they hold.
//!
//! A component whose fingerprint (properties, loaded files, parsers) and name are unchanged
//! keeps running untouched, with its buffers, state and counters. A changed one is a removal
//! and an addition under the same name; its counters carry on.

use super::ReloadOutcome;
use crate::engine::Rebuild;
use crate::pipeline::Pipeline;
use crate::running::{Running, RunningFilter};
use crate::service::ServiceConfig;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a reload went, and what the engine must redo around it when it took effect.
pub(crate) struct Applied {
    pub outcome: ReloadOutcome,
    /// The files to watch from now on; `None` when nothing was applied.
    pub watch_files: Option<Vec<PathBuf>>,
}

/// What changed, per kind, for the answer and the log.
#[derive(Default)]
struct Diff {
    added: Vec<Arc<str>>,
    removed: Vec<Arc<str>>,
    changed: Vec<Arc<str>>,
    unchanged: Vec<Arc<str>>,
}

impl Diff {
    fn json(&self) -> Value {
        json!({
            "added": self.added.iter().map(|s| &**s).collect::<Vec<_>>(),
            "removed": self.removed.iter().map(|s| &**s).collect::<Vec<_>>(),
            "changed": self.changed.iter().map(|s| &**s).collect::<Vec<_>>(),
            "unchanged": self.unchanged.iter().map(|s| &**s).collect::<Vec<_>>(),
        })
    }

    fn summary(&self, kind: &str) -> String {
        format!(
            "{kind}: +{} -{} ~{} ={}",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.unchanged.len()
        )
    }
}

fn refused(status: u16, reload: &str, error: impl Into<String>) -> Applied {
    let error = error.into();
    if status != 400 || reload != "not enabled" {
        crate::error!(
            "reload",
            "reload refused, the running pipeline is unchanged: {}",
            error
        );
    }
    Applied {
        outcome: ReloadOutcome {
            status,
            body: json!({ "reload": reload, "status": -1, "error": error }),
        },
        watch_files: None,
    }
}

/// Reloads the configuration through `rebuild` and applies it to `running`.
pub(crate) async fn apply(running: &mut Running, rebuild: Option<&Rebuild>) -> Applied {
    let started = Instant::now();
    if !running.service.hot_reload {
        return refused(
            400,
            "not enabled",
            "hot_reload is off in the service section",
        );
    }
    let Some(rebuild) = rebuild.cloned() else {
        return refused(
            400,
            "failed",
            "nothing to reload from: Weir was started with a command-line pipeline, not a configuration file",
        );
    };
    let deadline = tokio::time::Instant::now() + running.service.hot_reload_timeout;
    crate::info!("reload", "reloading the configuration");
    let metrics = running.metrics.clone();
    let built = tokio::time::timeout_at(
        deadline,
        tokio::task::spawn_blocking(move || rebuild(metrics)),
    )
    .await;
    let pipeline = match built {
        Err(_) => {
            return refused(
                504,
                "failed",
                "reading and checking the configuration took longer than hot_reload.timeout",
            )
        }
        Ok(Err(e)) => return refused(500, "failed", format!("the reload task failed: {e}")),
        Ok(Ok(Err(message))) => return refused(400, "failed", message),
        Ok(Ok(Ok(p))) => p,
    };
    apply_pipeline(running, pipeline, started, deadline).await
}

async fn apply_pipeline(
    running: &mut Running,
    pipeline: Pipeline,
    started: Instant,
    deadline: tokio::time::Instant,
) -> Applied {
    let Pipeline {
        service,
        inputs,
        filters,
        outputs,
        watch_files,
        ..
    } = pipeline;
    let grace = running.service.grace;
    let restart_required = restart_required(&running.service, &service);
    for key in &restart_required {
        crate::warn!(
            "reload",
            "{} changed: it takes effect at the next restart, not by reload",
            key
        );
    }

    // 2. Outputs: keep the unchanged, start the new and changed.
    let mut out_diff = Diff::default();
    let mut leaving_outputs = std::mem::take(&mut running.outputs);
    let mut new_outputs = Vec::with_capacity(outputs.len());
    for mut slot in outputs {
        let name = slot.runtime.ctx.name.clone();
        if let Some(pos) = leaving_outputs
            .iter()
            .position(|o| o.runtime.ctx.name == name && o.fingerprint == slot.fingerprint)
        {
            new_outputs.push(leaving_outputs.remove(pos));
            out_diff.unchanged.push(name);
            continue;
        }
        match leaving_outputs.iter().find(|o| o.runtime.ctx.name == name) {
            Some(old) => {
                slot.runtime.metrics = old.runtime.metrics.clone();
                out_diff.changed.push(name);
            }
            None => out_diff.added.push(name),
        }
        new_outputs.push(running.start_output(slot));
    }
    for o in &leaving_outputs {
        if !out_diff.changed.contains(&o.runtime.ctx.name) {
            out_diff.removed.push(o.runtime.ctx.name.clone());
        }
    }

    // Filters: the same, in the new order. A filter's emitters go and come with it.
    let mut filter_diff = Diff::default();
    let mut leaving_filters = std::mem::take(&mut running.filters);
    let mut new_filters = Vec::with_capacity(filters.len());
    for mut slot in filters {
        let name = slot.instance.name.clone();
        if let Some(pos) = leaving_filters
            .iter()
            .position(|f| f.instance.name == name && f.fingerprint == slot.fingerprint)
        {
            new_filters.push(leaving_filters.remove(pos));
            filter_diff.unchanged.push(name);
            continue;
        }
        match leaving_filters.iter().find(|f| f.instance.name == name) {
            Some(old) => {
                slot.instance.metrics = old.instance.metrics.clone();
                for e in &mut slot.emitters {
                    if let Some(prev) = old.emitters.iter().find(|p| p.name == e.name) {
                        e.metrics = prev.metrics.clone();
                    }
                }
                filter_diff.changed.push(name);
            }
            None => filter_diff.added.push(name),
        }
        let emitters = running.start_emitters(slot.emitters);
        new_filters.push(RunningFilter {
            fingerprint: slot.fingerprint,
            instance: Arc::new(slot.instance),
            emitters,
        });
    }
    for f in &leaving_filters {
        if !filter_diff.changed.contains(&f.instance.name) {
            filter_diff.removed.push(f.instance.name.clone());
        }
    }

    // 3. Inputs that leave stop first: a changed one may hold what its successor needs (a
    // tail database, a listening port).
    let mut in_diff = Diff::default();
    let order: Vec<Arc<str>> = inputs.iter().map(|s| s.name.clone()).collect();
    let mut starting = Vec::new();
    let mut leaving_inputs = Vec::new();
    for i in std::mem::take(&mut running.inputs) {
        match inputs.iter().find(|s| s.name == i.name) {
            Some(s) if s.fingerprint == i.fingerprint => {
                in_diff.unchanged.push(i.name.clone());
                running.inputs.push(i);
            }
            Some(_) => {
                in_diff.changed.push(i.name.clone());
                leaving_inputs.push(i);
            }
            None => {
                in_diff.removed.push(i.name.clone());
                leaving_inputs.push(i);
            }
        }
    }
    for mut slot in inputs {
        if in_diff.unchanged.contains(&slot.name) {
            continue;
        }
        if let Some(old) = leaving_inputs.iter().find(|i| i.name == slot.name) {
            slot.metrics = old.metrics.clone();
        } else {
            in_diff.added.push(slot.name.clone());
        }
        starting.push(slot);
    }
    let mut abandoned_inputs = Vec::new();
    for i in leaving_inputs {
        let name = i.name.clone();
        if !i.stop(bounded(grace, deadline)).await {
            crate::warn!(
                "reload",
                "input {} did not stop within grace and was abandoned",
                name
            );
            abandoned_inputs.push(name);
        }
    }

    // 4. and 5. The swap, then what is still open goes out on the new routes.
    running.outputs = new_outputs;
    running.filters = new_filters;
    running.publish_routes();
    running.shared.flush_all();

    // 6. New and changed inputs start.
    for slot in starting {
        running.start_input(slot);
    }
    running
        .inputs
        .sort_by_key(|i| order.iter().position(|n| *n == i.name));
    if running.service.log_level != service.log_level {
        crate::log::set_level(service.log_level);
    }
    running.service = service;
    running.publish_routes();
    running.publish_metrics();
    running.metrics.hot_reloads.inc();

    // 7. Leaving emitters and outputs finish their work.
    let mut still_draining = Vec::new();
    for f in leaving_filters {
        for e in f.emitters {
            let name = e.name.clone();
            if !e.stop(bounded(grace, deadline)).await {
                still_draining.push(name);
            }
        }
    }
    for o in leaving_outputs {
        let name = o.runtime.ctx.name.clone();
        let drain = tokio::spawn(o.drain());
        running.retiring.push(drain);
        let within = bounded(grace, deadline);
        let last = running.retiring.len() - 1;
        if tokio::time::timeout(within, &mut running.retiring[last])
            .await
            .is_ok()
        {
            running.retiring.pop();
        } else {
            crate::warn!(
                "reload",
                "output {} is still delivering what it was given; it goes on in the background",
                name
            );
            still_draining.push(name);
        }
    }

    let count = running.metrics.hot_reloads.get();
    crate::info!(
        "reload",
        "reload #{} done in {} ms ({}; {}; {})",
        count,
        started.elapsed().as_millis(),
        in_diff.summary("inputs"),
        filter_diff.summary("filters"),
        out_diff.summary("outputs")
    );
    Applied {
        outcome: ReloadOutcome {
            status: 200,
            body: json!({
                "reload": "done",
                "status": 0,
                "hot_reload_count": count,
                "pid": std::process::id(),
                "duration_ms": started.elapsed().as_millis() as u64,
                "changes": {
                    "inputs": in_diff.json(),
                    "filters": filter_diff.json(),
                    "outputs": out_diff.json(),
                },
                "restart_required": restart_required,
                "still_draining": still_draining.iter().map(|s| &**s).collect::<Vec<_>>(),
                "abandoned_inputs": abandoned_inputs.iter().map(|s| &**s).collect::<Vec<_>>(),
            }),
        },
        watch_files: Some(watch_files),
    }
}

/// `grace`, cut short by the reload's own deadline.
fn bounded(grace: Duration, deadline: tokio::time::Instant) -> Duration {
    grace.min(deadline.saturating_duration_since(tokio::time::Instant::now()))
}

/// Service keys a running process cannot change in place: the listener it answers on, the
/// store holding the buffered data, the runtime's threads. They apply at the next restart.
fn restart_required(old: &ServiceConfig, new: &ServiceConfig) -> Vec<&'static str> {
    let mut v = Vec::new();
    if old.http_server != new.http_server
        || old.http_listen != new.http_listen
        || old.http_port != new.http_port
    {
        v.push("http_server/http_listen/http_port");
    }
    if format!("{:?}", old.storage) != format!("{:?}", new.storage) {
        v.push("storage.*");
    }
    if old.workers != new.workers {
        v.push("workers");
    }
    if old.memory_limit != new.memory_limit {
        v.push("memory_limit");
    }
    if old.log_file != new.log_file {
        v.push("log_file");
    }
    v
}
