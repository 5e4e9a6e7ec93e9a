//! `throttle`: cap the average rate of records over a sliding window, dropping the excess.
//!
//! As Fluent Bit's `filter_throttle`: time is cut into panes of `interval`; the window is the
//! last `window` panes. A record passes when the records already passed in the window, divided
//! by `window`, are fewer than `rate`; otherwise it is dropped. Each new interval starts a new
//! pane and forgets the oldest, so after a flood the filter lets records through again as the
//! window slides.
//!
//! Fluent Bit moves the window with a timer thread; Weir moves it when records arrive, from a
//! monotonic clock, which gives the same counts without a thread. With `print_status`, each
//! move of the window logs the current rate at info level, as Fluent Bit does on each tick.
//!
//! State is shared by every input whose records this filter sees, as in Fluent Bit.

use super::support::Rewrite;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    Batch, BuildContext, Factory, Filter, FilterContext, FilterOutcome, PluginDescriptor,
    PluginKind,
};
use weir_event::EventWriter;

/// `throttle`'s parameters.
pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::double("rate")
        .default("1")
        .desc("Average number of records allowed per interval."),
    ParamSpec::int("window")
        .default("5")
        .desc("Number of intervals the average is taken over."),
    ParamSpec::time("interval")
        .default("1")
        .desc("Length of one interval: 1, 3s, 1.5m, 0.5h."),
    ParamSpec::bool("print_status")
        .default("false")
        .desc("Log the current rate at info level each interval."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "throttle",
    kind: PluginKind::Filter,
    description: "Limit the average rate of records over a sliding window.",
    params: PARAMS,
    factory: Factory::Filter(build),
};

/// A monotonic clock: time elapsed since some fixed start. Injectable so tests control time.
pub trait Clock: Send + Sync {
    fn elapsed(&self) -> Duration;
}

/// The real clock.
#[derive(Debug)]
pub struct MonotonicClock(Instant);

impl MonotonicClock {
    pub fn new() -> Self {
        Self(Instant::now())
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// The sliding window: a ring of per-interval counters.
#[derive(Debug)]
struct Window {
    panes: Vec<u64>,
    /// Index of the current pane in `panes`.
    current: usize,
    /// Number of the current interval since the clock's start.
    interval_no: u64,
    total: u64,
}

impl Window {
    fn new(size: usize) -> Self {
        Self {
            panes: vec![0; size],
            current: 0,
            interval_no: 0,
            total: 0,
        }
    }

    /// Moves to interval `now`, clearing the panes of the intervals that went by. Returns true
    /// if the window moved.
    fn advance(&mut self, now: u64) -> bool {
        if now <= self.interval_no {
            return false;
        }
        let steps = (now - self.interval_no).min(self.panes.len() as u64);
        for _ in 0..steps {
            self.current = (self.current + 1) % self.panes.len();
            self.total -= self.panes[self.current];
            self.panes[self.current] = 0;
        }
        self.interval_no = now;
        true
    }

    /// Fluent Bit's test: the window's average per pane must stay below the rate.
    fn admit(&mut self, rate: f64) -> bool {
        if self.total as f64 / self.panes.len() as f64 >= rate {
            return false;
        }
        self.panes[self.current] += 1;
        self.total += 1;
        true
    }
}

/// The built filter.
pub struct Throttle {
    rate: f64,
    interval: Duration,
    print_status: bool,
    window: Mutex<Window>,
    clock: Arc<dyn Clock>,
    component: String,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("rate", &self.rate)
            .field("interval", &self.interval)
            .finish()
    }
}

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Filter>, ConfigError> {
    let mut t = Throttle::from_params(p, Arc::new(MonotonicClock::new()))?;
    t.component = format!("filter:throttle:{}", ctx.instance);
    Ok(Box::new(t))
}

impl Throttle {
    /// Builds the filter with the given clock.
    pub fn from_params(p: &Params, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        let rate = p.double("rate").unwrap_or(1.0);
        if rate <= 0.0 {
            return Err(p.error("rate", format!("expected a rate above 0, got {rate}")));
        }
        let window = p.int("window").unwrap_or(5);
        let window = usize::try_from(window)
            .ok()
            .filter(|w| (1..=1_000_000).contains(w))
            .ok_or_else(|| {
                p.error(
                    "window",
                    format!("expected between 1 and 1000000 intervals, got {window}"),
                )
            })?;
        let interval = p.time("interval").unwrap_or(Duration::from_secs(1));
        if interval.is_zero() {
            return Err(p.error("interval", "expected an interval above 0"));
        }
        Ok(Self {
            rate,
            interval,
            print_status: p.bool("print_status").unwrap_or(false),
            window: Mutex::new(Window::new(window)),
            clock,
            component: "filter:throttle".into(),
        })
    }
}

impl Filter for Throttle {
    fn filter(
        &self,
        batch: Batch<'_>,
        out: &mut EventWriter,
        _ctx: &FilterContext<'_>,
    ) -> FilterOutcome {
        let now = (self.clock.elapsed().as_nanos() / self.interval.as_nanos().max(1)) as u64;
        // A poisoned lock only means another thread panicked mid-update; the counters are still
        // usable.
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.advance(now) && self.print_status {
            weir_core::info!(
                self.component,
                "limit is {:.2} per {:?} with window size of {}, current rate is: {} per interval",
                self.rate,
                self.interval,
                w.panes.len(),
                w.total / w.panes.len() as u64
            );
        }
        let mut rw = Rewrite::new(batch.data, out);
        for (start, ev) in rw.events() {
            if w.admit(self.rate) {
                rw.keep(&ev);
            } else {
                rw.drop_event(start);
            }
        }
        rw.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{params, run_filter};
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    struct FakeClock(AtomicU64);

    impl FakeClock {
        fn set_secs(&self, s: u64) {
            self.0.store(s * 1_000_000_000, Ordering::SeqCst);
        }
    }

    impl Clock for FakeClock {
        fn elapsed(&self) -> Duration {
            Duration::from_nanos(self.0.load(Ordering::SeqCst))
        }
    }

    fn make(pairs: &[(&str, &str)]) -> (Throttle, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock::default());
        (
            Throttle::from_params(&params(&DESCRIPTOR, pairs).unwrap(), clock.clone()).unwrap(),
            clock,
        )
    }

    fn pass(f: &Throttle, n: usize) -> usize {
        let input = vec![r#"{"a":1}"#; n];
        run_filter(f, "t", &input).1.len()
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::params::check_table(PARAMS).unwrap();
    }

    #[test]
    fn caps_the_window_average() {
        // rate 5 over a window of 5 panes: 25 records per window.
        let (f, clock) = make(&[("rate", "5"), ("window", "5"), ("interval", "1s")]);
        assert_eq!(pass(&f, 30), 25);
        clock.set_secs(1);
        assert_eq!(pass(&f, 10), 0, "the window still holds 25");
        clock.set_secs(5);
        assert_eq!(pass(&f, 30), 25, "the flooded pane slid out");
    }

    #[test]
    fn slides_pane_by_pane() {
        let (f, clock) = make(&[("rate", "1"), ("window", "3"), ("interval", "1s")]);
        assert_eq!(pass(&f, 2), 2);
        clock.set_secs(1);
        assert_eq!(pass(&f, 5), 1);
        clock.set_secs(2);
        assert_eq!(pass(&f, 5), 0);
        clock.set_secs(3);
        assert_eq!(pass(&f, 5), 2, "pane 0 (2 records) left the window");
        clock.set_secs(100);
        assert_eq!(pass(&f, 5), 3);
    }

    #[test]
    fn unchanged_when_under_the_limit() {
        let (f, _) = make(&[("rate", "100")]);
        assert_eq!(
            run_filter(&f, "t", &[r#"{"a":1}"#]).0,
            FilterOutcome::Unchanged
        );
    }

    #[test]
    fn fractional_rates_and_intervals() {
        let (f, clock) = make(&[("rate", "0.5"), ("window", "4"), ("interval", "500ms")]);
        assert_eq!(pass(&f, 5), 2);
        clock.0.store(2_000_000_000, Ordering::SeqCst);
        assert_eq!(pass(&f, 5), 2);
    }

    #[test]
    fn config_errors() {
        let e = |pairs: &[(&str, &str)]| {
            Throttle::from_params(
                &params(&DESCRIPTOR, pairs).unwrap(),
                Arc::new(FakeClock::default()),
            )
            .err()
            .unwrap()
            .to_string()
        };
        assert!(e(&[("rate", "0")]).contains("'rate'"));
        assert!(e(&[("window", "0")]).contains("'window'"));
        assert!(e(&[("interval", "0s")]).contains("'interval'"));
        assert!(params(&DESCRIPTOR, &[("rate", "fast")]).is_err());
        assert!(
            crate::testing::filter(&DESCRIPTOR, &[("rate", "2"), ("print_status", "on")]).is_ok()
        );
    }
}
