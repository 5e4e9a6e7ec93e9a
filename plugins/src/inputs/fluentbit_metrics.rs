//! `fluentbit_metrics`: Weir's own metrics, as a metrics batch every `scrape_interval`.
//!
//! Fluent Bit's parameters and behaviour: every `scrape_interval` (default 2 seconds) the
//! input takes the process's figures (per-instance records, bytes, retries..., uptime, build
//! information, storage) and emits them with the input's tag as one batch of metrics, each
//! sample stamped with the scrape time. `scrape_on_start` makes the first scrape at once
//! instead of after one interval. Route them to `prometheus_exporter` (or any output: a sample
//! is an ordinary event, see `weir_event::metric`).
//!
//! The samples and their names are `weir_core::metrics_export::internal_samples`, the same
//! list the HTTP API serves on `/api/v2/metrics/prometheus`. As in Fluent Bit, filters do not
//! apply to metrics, and the input's own records count in `fluentbit_input_records_total`.
//!
//! Difference: a `scrape_interval` of zero is a configuration error (it would scrape in a
//! busy loop).

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::metrics::Metrics;
use weir_core::{
    BoxFuture, BuildContext, Factory, Input, InputContext, PluginDescriptor, PluginKind,
};
use weir_event::{metric, EventTime, EventWriter, Signal};

static PARAMS: &[ParamSpec] = &[
    ParamSpec::time("scrape_interval")
        .default("2")
        .desc("How often the metrics are collected."),
    ParamSpec::bool("scrape_on_start")
        .default("false")
        .desc("Collect the first metrics at start instead of after one scrape_interval."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "fluentbit_metrics",
    kind: PluginKind::Input,
    description: "Collect the collector's own metrics.",
    params: PARAMS,
    factory: Factory::Input(build),
};

/// The validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub scrape_interval: Duration,
    pub scrape_on_start: bool,
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let scrape_interval = p.time("scrape_interval").unwrap_or(Duration::from_secs(2));
        if scrape_interval.is_zero() {
            return Err(p.error("scrape_interval", "expected a duration above zero"));
        }
        Ok(Self {
            scrape_interval,
            scrape_on_start: p.bool("scrape_on_start").unwrap_or(false),
        })
    }
}

/// One scrape: every sample of `metrics`, stamped `time`, as encoded events.
pub fn scrape(metrics: &Metrics, time: EventTime) -> EventWriter {
    let samples = weir_core::metrics_export::internal_samples(metrics);
    let mut out = EventWriter::with_capacity(samples.len() * 128);
    for s in &samples {
        metric::encode(s, time, &mut out);
    }
    out
}

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Input>, ConfigError> {
    Ok(Box::new(FluentbitMetrics {
        cfg: Config::from_params(p)?,
        metrics: ctx.metrics.clone(),
    }))
}

struct FluentbitMetrics {
    cfg: Config,
    metrics: Arc<Metrics>,
}

impl Input for FluentbitMetrics {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let tag = ctx.tag().to_string();
            let every = self.cfg.scrape_interval;
            let first = if self.cfg.scrape_on_start {
                Instant::now()
            } else {
                Instant::now() + every
            };
            let mut ticks = tokio::time::interval_at(first, every);
            // A scrape that comes late (a busy runtime, a paused input) is not made up for:
            // the next one reports the same counters anyway.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ctx.cancelled() => return Ok(()),
                    _ = ticks.tick() => {}
                }
                let batch = scrape(&self.metrics, EventTime::now());
                ctx.emit_signal(Signal::Metrics, &tag, &batch.buf, batch.count)
                    .await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_params(&testing::params(&DESCRIPTOR, pairs)?)
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::check_table(PARAMS).unwrap();
    }

    #[test]
    fn parameters() {
        assert_eq!(
            cfg(&[]).unwrap(),
            Config {
                scrape_interval: Duration::from_secs(2),
                scrape_on_start: false
            }
        );
        let c = cfg(&[("scrape_interval", "500ms"), ("scrape_on_start", "on")]).unwrap();
        assert_eq!(c.scrape_interval, Duration::from_millis(500));
        assert!(c.scrape_on_start);
        assert_eq!(
            cfg(&[("scrape_interval", "5")]).unwrap().scrape_interval,
            Duration::from_secs(5)
        );
        let e = cfg(&[("scrape_interval", "0")]).unwrap_err().to_string();
        assert!(e.contains("above zero"), "{e}");
        assert!(cfg(&[("scrape_interval", "often")]).is_err());
        assert!(cfg(&[("scrape_on_stat", "on")]).is_err());
    }

    #[test]
    fn a_scrape_is_one_event_per_sample() {
        let m = Metrics::new();
        m.add_input("dummy.0".into()).records.add(7);
        m.add_output("null.0".into()).proc_records.add(7);
        let t = EventTime::new(1_700_000_000, 0);
        let batch = scrape(&m, t);
        let samples: Vec<_> = weir_event::Events::new(&batch.buf)
            .map(|e| metric::decode(&e.unwrap()).unwrap())
            .collect();
        assert_eq!(samples.len(), batch.count);
        assert!(samples.iter().all(|(time, _)| *time == t));
        let records = samples
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.name == "fluentbit_input_records_total")
            .unwrap();
        assert_eq!(records.value, 7.0);
        assert_eq!(records.labels, [("name".into(), "dummy.0".into())]);
        assert!(samples
            .iter()
            .any(|(_, s)| s.name == "fluentbit_output_proc_records_total"));
    }

    #[test]
    fn builds() {
        assert!(testing::input(&DESCRIPTOR, &[("scrape_interval", "1")]).is_ok());
    }
}
