//! The health check: output errors and retry failures within the last `hc_period` seconds,
//! against `hc_errors_count` and `hc_retry_failure_count`, as Fluent Bit counts them.
//!
//! Counters only go up, so the count within the window is the current total minus the total
//! at the start of the window. A sampler records the totals every `step` (one second for
//! periods up to two minutes; longer periods keep about 120 samples); the current totals are
//! read live at each request, so an error shows at once, not at the next sample.
//!
//! Totals are kept per output instance (by its counters' identity, not its name), so a hot
//! reload that adds, replaces or removes an output neither invents nor hides errors: a new
//! output's errors all fall within the window, and a removed output's errors still count
//! until they leave it.

use crate::metrics::{Metrics, OutputMetrics};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Most samples kept for one window: beyond 120 seconds, samples are spaced out.
const MAX_SAMPLES: u64 = 120;

/// The health check's settings (`health_check`, `hc_errors_count`, `hc_retry_failure_count`,
/// `hc_period`), with Fluent Bit's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// `health_check`: thresholds apply and `/api/v1/health` is served. When off,
    /// `/api/v2/health` still reports the counts, always with status `ok`.
    pub enabled: bool,
    pub errors_limit: u64,
    pub retry_failure_limit: u64,
    pub period: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            errors_limit: 5,
            retry_failure_limit: 5,
            period: Duration::from_secs(60),
        }
    }
}

/// The health check's verdict and what it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub healthy: bool,
    /// Output errors within the window, all outputs together.
    pub errors: u64,
    /// Chunks that ran out of retries within the window, all outputs together.
    pub retries_failed: u64,
    pub settings: HealthSettings,
}

impl HealthReport {
    /// Fluent Bit's `/api/v2/health` body, plus `health_check` (whether the limits apply).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": if self.healthy { "ok" } else { "error" },
            "errors": self.errors,
            "retries_failed": self.retries_failed,
            "error_limit": self.settings.errors_limit,
            "retry_failure_limit": self.settings.retry_failure_limit,
            "period_limit": self.settings.period.as_secs(),
            "health_check": self.settings.enabled,
        })
    }
}

/// One output's totals at one instant.
struct Totals {
    output: Arc<OutputMetrics>,
    errors: u64,
    retries_failed: u64,
}

impl Totals {
    fn now(output: &Arc<OutputMetrics>) -> Self {
        Self {
            output: output.clone(),
            errors: output.errors.get(),
            retries_failed: output.retries_failed.get(),
        }
    }
}

struct Sample {
    at: Instant,
    outputs: Vec<Totals>,
}

/// Samples of the outputs' totals over the last period.
pub(crate) struct HealthWindow {
    period: Duration,
    samples: VecDeque<Sample>,
}

impl HealthWindow {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            samples: VecDeque::new(),
        }
    }

    /// How often to sample for `period`: every second, or spaced so that one period holds
    /// about [`MAX_SAMPLES`]. The window's start is then known to within one step.
    pub fn step(period: Duration) -> Duration {
        Duration::from_secs(period.as_secs().div_ceil(MAX_SAMPLES).max(1))
    }

    /// A new period (after a hot reload): samples older than it are dropped at the next record.
    pub fn set_period(&mut self, period: Duration) {
        self.period = period;
    }

    /// Records the totals of `outputs` at `at`, and forgets samples too old to matter.
    pub fn record(&mut self, at: Instant, outputs: &[(Arc<str>, Arc<OutputMetrics>)]) {
        self.samples.push_back(Sample {
            at,
            outputs: outputs.iter().map(|(_, o)| Totals::now(o)).collect(),
        });
        while self
            .samples
            .front()
            .is_some_and(|s| at.saturating_duration_since(s.at) > self.period)
        {
            self.samples.pop_front();
        }
    }

    /// Errors and retry failures between the window's start and now (`outputs` read live).
    pub fn counts(&self, now: Instant, outputs: &[(Arc<str>, Arc<OutputMetrics>)]) -> (u64, u64) {
        // The oldest sample still within the period marks the window's start; with none,
        // nothing was recorded yet and every count since the start is within it.
        let base = self
            .samples
            .iter()
            .find(|s| now.saturating_duration_since(s.at) <= self.period);
        let base_of = |o: &Arc<OutputMetrics>| {
            base.and_then(|b| b.outputs.iter().find(|t| Arc::ptr_eq(&t.output, o)))
        };
        let mut errors = 0u64;
        let mut retries_failed = 0u64;
        let mut add = |cur: Totals, base: Option<&Totals>| {
            let (e, r) = base.map_or((0, 0), |b| (b.errors, b.retries_failed));
            errors = errors.saturating_add(cur.errors.saturating_sub(e));
            retries_failed = retries_failed.saturating_add(cur.retries_failed.saturating_sub(r));
        };
        for (_, o) in outputs {
            add(Totals::now(o), base_of(o));
        }
        // Outputs a hot reload removed since the window started: what they counted before
        // they went still happened within it.
        if let Some(b) = base {
            for t in &b.outputs {
                if !outputs.iter().any(|(_, o)| Arc::ptr_eq(o, &t.output)) {
                    add(Totals::now(&t.output), Some(t));
                }
            }
        }
        (errors, retries_failed)
    }
}

/// Fluent Bit's rule: unhealthy when either count exceeds its limit (equal is still healthy).
pub(crate) fn verdict(settings: HealthSettings, errors: u64, retries_failed: u64) -> HealthReport {
    let over = errors > settings.errors_limit || retries_failed > settings.retry_failure_limit;
    HealthReport {
        healthy: !settings.enabled || !over,
        errors,
        retries_failed,
        settings,
    }
}

/// The window shared by the sampler and the request handlers.
#[derive(Clone)]
pub(crate) struct Health {
    metrics: Arc<Metrics>,
    window: Arc<Mutex<HealthWindow>>,
}

impl Health {
    pub fn new(metrics: Arc<Metrics>, period: Duration) -> Self {
        let mut window = HealthWindow::new(period);
        window.record(Instant::now(), &metrics.outputs());
        Self {
            metrics,
            window: Arc::new(Mutex::new(window)),
        }
    }

    /// The verdict now, under `settings`.
    pub fn report(&self, settings: HealthSettings) -> HealthReport {
        let outputs = self.metrics.outputs();
        let (errors, retries_failed) = {
            let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
            w.set_period(settings.period);
            w.counts(Instant::now(), &outputs)
        };
        verdict(settings, errors, retries_failed)
    }

    /// Samples the totals until `stop`; `period` is asked for at each step, so a hot reload
    /// that changes `hc_period` takes effect without a restart.
    pub async fn sample(self, period: impl Fn() -> Duration, stop: CancellationToken) {
        loop {
            let p = period();
            tokio::select! {
                _ = tokio::time::sleep(HealthWindow::step(p)) => {}
                _ = stop.cancelled() => return,
            }
            let outputs = self.metrics.outputs();
            let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
            w.set_period(p);
            w.record(Instant::now(), &outputs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(list: &[(&str, &Arc<OutputMetrics>)]) -> Vec<(Arc<str>, Arc<OutputMetrics>)> {
        list.iter()
            .map(|(n, o)| (Arc::from(*n), (*o).clone()))
            .collect()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn counts_only_what_happened_within_the_period() {
        let t0 = Instant::now();
        let a = Arc::new(OutputMetrics::default());
        let list = outputs(&[("a", &a)]);
        let mut w = HealthWindow::new(secs(10));
        a.errors.add(7); // before the first sample: outside every later window
        w.record(t0, &list);
        a.errors.add(2);
        a.retries_failed.inc();
        for s in 1..=10 {
            w.record(t0 + secs(s), &list);
        }
        assert_eq!(w.counts(t0 + secs(10), &list), (2, 1));
        // One second later the sample at t0 is out of the window: the base is the one at t0+1,
        // taken after the errors.
        w.record(t0 + secs(11), &list);
        assert_eq!(w.counts(t0 + secs(11), &list), (0, 0));
    }

    #[test]
    fn live_counts_show_before_the_next_sample() {
        let t0 = Instant::now();
        let a = Arc::new(OutputMetrics::default());
        let list = outputs(&[("a", &a)]);
        let mut w = HealthWindow::new(secs(60));
        w.record(t0, &list);
        a.errors.add(3);
        assert_eq!(w.counts(t0 + Duration::from_millis(10), &list), (3, 0));
    }

    #[test]
    fn no_sample_yet_counts_everything() {
        let a = Arc::new(OutputMetrics::default());
        a.errors.add(4);
        let w = HealthWindow::new(secs(60));
        assert_eq!(w.counts(Instant::now(), &outputs(&[("a", &a)])), (4, 0));
    }

    #[test]
    fn replaced_and_removed_outputs_keep_their_window() {
        let t0 = Instant::now();
        let old = Arc::new(OutputMetrics::default());
        let gone = Arc::new(OutputMetrics::default());
        old.errors.add(100);
        gone.errors.add(50);
        let mut w = HealthWindow::new(secs(60));
        w.record(t0, &outputs(&[("out", &old), ("gone", &gone)]));
        gone.errors.add(2); // counted before a reload removed it
                            // A reload replaced `out` with new counters under the same name, starting at zero.
        let new = Arc::new(OutputMetrics::default());
        new.errors.add(1);
        let now = outputs(&[("out", &new)]);
        assert_eq!(w.counts(t0 + secs(5), &now), (3, 0));
    }

    #[test]
    fn samples_are_bounded_and_spaced_for_long_periods() {
        assert_eq!(HealthWindow::step(secs(60)), secs(1));
        assert_eq!(HealthWindow::step(secs(120)), secs(1));
        assert_eq!(HealthWindow::step(secs(121)), secs(2));
        assert_eq!(HealthWindow::step(secs(3600)), secs(30));
        let t0 = Instant::now();
        let mut w = HealthWindow::new(secs(30));
        for s in 0..1000 {
            w.record(t0 + secs(s), &[]);
        }
        assert!(w.samples.len() <= 31, "{}", w.samples.len());
    }

    #[test]
    fn the_limit_itself_is_still_healthy() {
        let s = HealthSettings {
            enabled: true,
            ..HealthSettings::default()
        };
        assert!(verdict(s, 5, 5).healthy);
        assert!(!verdict(s, 6, 0).healthy);
        assert!(!verdict(s, 0, 6).healthy);
        let off = HealthSettings::default();
        assert!(verdict(off, 1000, 1000).healthy);
    }

    #[test]
    fn v2_shape() {
        let r = verdict(
            HealthSettings {
                enabled: true,
                errors_limit: 0,
                ..HealthSettings::default()
            },
            1,
            0,
        );
        let j = r.to_json();
        assert_eq!(j["status"], "error");
        assert_eq!(j["errors"], 1);
        assert_eq!(j["retries_failed"], 0);
        assert_eq!(j["error_limit"], 0);
        assert_eq!(j["retry_failure_limit"], 5);
        assert_eq!(j["period_limit"], 60);
    }
}
