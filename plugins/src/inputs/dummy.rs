//! `dummy`: generates the same record over and over, for tests, benchmarks and first steps.
//!
//! Fluent Bit's parameters and behaviour: `dummy` is the record (JSON object, default
//! `{"message":"dummy"}`), `metadata` its metadata; every interval (`interval_sec` and
//! `interval_nsec` when either is set, else `1/rate` seconds, else one second) `copies`
//! records are made; `samples` stops after that many intervals. Timestamps are the current
//! time, or `start_time_sec`/`start_time_nsec` plus the time elapsed since start, or with
//! `fixed_timestamp` always the same (the start time, or the time the input started).
//! `flush_on_startup` makes the first records at once instead of after one interval.
//!
//! At high rates the timer fires less often than records are due (tokio's timer has a
//! millisecond resolution): every wake-up makes all the records due since the last one, in one
//! batch, so the rate holds. After a stall longer than a second the schedule restarts rather
//! than bursting, as Fluent Bit's timer does.
//!
//! Differences: invalid JSON in `dummy` or `metadata` falls back to the default with a warning
//! (as Fluent Bit), but valid JSON that is not an object is a configuration error (Fluent Bit
//! runs and generates nothing). Environment variables are resolved once, by the configuration
//! loader, not at every record.

use std::time::Duration;
use tokio::time::Instant;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    BoxFuture, BuildContext, Factory, Input, InputContext, PluginDescriptor, PluginKind,
};
use weir_event::event::write_event;
use weir_event::EventTime;

const DEFAULT_DUMMY: &str = r#"{"message":"dummy"}"#;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::str("dummy")
        .default(DEFAULT_DUMMY)
        .desc("The record to generate, as a JSON object."),
    ParamSpec::str("metadata")
        .default("{}")
        .desc("The metadata of each record, as a JSON object."),
    ParamSpec::int("rate")
        .default("1")
        .desc("Records per second (each time, copies records); ignored when an interval is set."),
    ParamSpec::int("interval_sec")
        .default("0")
        .desc("Seconds between two generations; overrides rate."),
    ParamSpec::int("interval_nsec")
        .default("0")
        .desc("Nanoseconds between two generations (added to interval_sec); overrides rate."),
    ParamSpec::int("samples")
        .default("0")
        .desc("Stop after this many generations; 0 for no limit."),
    ParamSpec::int("copies")
        .default("1")
        .desc("Records made at each generation."),
    ParamSpec::int("start_time_sec")
        .default("-1")
        .desc("Base timestamp, seconds: records are stamped from it on, as time passes."),
    ParamSpec::int("start_time_nsec")
        .default("-1")
        .desc("Base timestamp, nanoseconds."),
    ParamSpec::bool("fixed_timestamp")
        .default("off")
        .desc("Give every record the same timestamp (the base timestamp, or the start time)."),
    ParamSpec::bool("flush_on_startup")
        .default("false")
        .desc("Generate the first records at start instead of after one interval."),
    ParamSpec::str("weir.sequence_key")
        .desc("Weir: add this key to every record with its sequence number (0, 1, 2...), so a test or a canary can prove nothing was lost or repeated on the way."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "dummy",
    kind: PluginKind::Input,
    description: "Generate records from a JSON template at a fixed rate.",
    params: PARAMS,
    factory: Factory::Input(build),
};

/// The validated settings.
#[derive(Debug, Clone)]
pub struct DummyConfig {
    /// Encoded body (a map).
    pub body: Vec<u8>,
    /// Encoded metadata (a map).
    pub metadata: Vec<u8>,
    pub interval: Duration,
    /// Generations before stopping; 0 for no limit.
    pub samples: u64,
    pub copies: usize,
    /// `start_time_sec`/`start_time_nsec`, when either is set.
    pub start_time: Option<EventTime>,
    pub fixed_timestamp: bool,
    pub flush_on_startup: bool,
    /// `weir.sequence_key`: the body's entries without their map header, and the key to add.
    pub sequence: Option<Sequence>,
    /// Warnings to log when the input starts (invalid JSON replaced by the default).
    pub warnings: Vec<String>,
}

fn is_map(b: &[u8]) -> bool {
    matches!(b.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

/// Encodes a JSON object setting; invalid JSON gives `default` and a warning.
fn json_map(
    p: &Params,
    key: &str,
    default: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<u8>, ConfigError> {
    let text = p.str(key).unwrap_or(default);
    let mut out = Vec::new();
    if weir_event::json::from_json(text, &mut out).is_err() {
        warnings.push(format!("{key}: data is incomplete. Use default string."));
        out.clear();
        // The defaults are valid JSON objects.
        let _ = weir_event::json::from_json(default, &mut out);
    }
    if !is_map(&out) {
        return Err(p.error(key, format!("expected a JSON object, got '{text}'")));
    }
    Ok(out)
}

impl DummyConfig {
    pub fn from_params(p: &Params) -> Result<Self, ConfigError> {
        let mut warnings = Vec::new();
        let body = json_map(p, "dummy", DEFAULT_DUMMY, &mut warnings)?;
        let metadata = json_map(p, "metadata", "{}", &mut warnings)?;
        let sequence = p
            .str("weir.sequence_key")
            .filter(|k| !k.is_empty())
            .and_then(|k| Sequence::new(k, &body));
        let int = |k: &str, d: i64| p.int(k).unwrap_or(d);
        let (sec, nsec) = (int("interval_sec", 0), int("interval_nsec", 0));
        let rate = int("rate", 1);
        let interval = if sec < 0 || nsec < 0 {
            // Fluent Bit replaces negative intervals by its defaults.
            Duration::from_secs(1)
        } else if sec > 0 || nsec > 0 {
            Duration::from_secs(sec as u64) + Duration::from_nanos(nsec as u64)
        } else if rate > 1 {
            Duration::from_nanos(1_000_000_000 / rate as u64).max(Duration::from_nanos(1))
        } else {
            Duration::from_secs(1)
        };
        let samples = u64::try_from(int("samples", 0)).unwrap_or(0);
        let copies = int("copies", 1);
        if copies < 1 {
            return Err(p.error("copies", format!("expected 1 or more, got {copies}")));
        }
        let (ss, sn) = (int("start_time_sec", -1), int("start_time_nsec", -1));
        let start_time = (ss >= 0 || sn >= 0).then(|| {
            EventTime::new(
                ss.max(0),
                u32::try_from(sn.clamp(0, 999_999_999)).unwrap_or(0),
            )
        });
        Ok(Self {
            body,
            metadata,
            interval,
            samples,
            copies: usize::try_from(copies).unwrap_or(1),
            start_time,
            fixed_timestamp: p.bool("fixed_timestamp").unwrap_or(false),
            flush_on_startup: p.bool("flush_on_startup").unwrap_or(false),
            sequence,
            warnings,
        })
    }

    /// The timestamp of records made at `now`, for an input started at `started`.
    pub fn timestamp(&self, started: EventTime, now: EventTime) -> EventTime {
        match (self.start_time, self.fixed_timestamp) {
            (Some(base), true) => base,
            (None, true) => started,
            (Some(base), false) => {
                let elapsed = (now.as_nanos() - started.as_nanos()).max(0);
                let t = base.as_nanos() + elapsed;
                EventTime::new((t / 1_000_000_000) as i64, (t % 1_000_000_000) as u32)
            }
            (None, false) => now,
        }
    }

    /// Appends the records of `generations` generations, all stamped `time`; returns how many.
    /// `seq` is the next sequence number (for `weir.sequence_key`), advanced per record.
    pub fn generate(
        &self,
        generations: u64,
        time: EventTime,
        seq: &mut u64,
        out: &mut Vec<u8>,
    ) -> usize {
        let n = usize::try_from(generations)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.copies);
        for _ in 0..n {
            match &self.sequence {
                None => write_event(out, time, &self.metadata, &self.body),
                Some(s) => {
                    write_event(out, time, &self.metadata, &[]);
                    s.write_body(*seq, out);
                    *seq += 1;
                }
            }
        }
        n
    }
}

/// What `weir.sequence_key` needs to write each record's body with one more entry.
#[derive(Debug, Clone)]
pub struct Sequence {
    key: String,
    /// Entries of the template body.
    entries: Vec<u8>,
    /// How many entries the template has.
    len: usize,
}

impl Sequence {
    /// Splits an encoded map into its length and its entries.
    fn new(key: &str, body: &[u8]) -> Option<Self> {
        let (len, header) = match *body.first()? {
            b @ 0x80..=0x8f => (usize::from(b & 0x0f), 1),
            0xde => (
                usize::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?])),
                3,
            ),
            0xdf => (
                u32::from_be_bytes([*body.get(1)?, *body.get(2)?, *body.get(3)?, *body.get(4)?])
                    as usize,
                5,
            ),
            _ => return None,
        };
        Some(Self {
            key: key.to_string(),
            entries: body.get(header..)?.to_vec(),
            len,
        })
    }

    fn write_body(&self, n: u64, out: &mut Vec<u8>) {
        use weir_event::value::{write_map_len, write_str, write_uint};
        write_map_len(out, self.len + 1);
        out.extend_from_slice(&self.entries);
        write_str(out, &self.key);
        write_uint(out, n);
    }
}

/// When generations are due: one every `interval` from `start`.
#[derive(Debug, Clone)]
pub struct Schedule {
    next: Instant,
    interval: Duration,
}

impl Schedule {
    pub fn new(first: Instant, interval: Duration) -> Self {
        Self {
            next: first,
            interval,
        }
    }

    /// When the next generation is due.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// How many generations are due at `now` (at least one once the deadline has passed), and
    /// moves the schedule past them. After a stall of more than a second, one generation is
    /// made and the schedule restarts from `now`.
    pub fn take(&mut self, now: Instant) -> u64 {
        if now < self.next {
            return 0;
        }
        let late = now - self.next;
        if late > Duration::from_secs(1).max(self.interval) {
            self.next = now + self.interval;
            return 1;
        }
        let n = (late.as_nanos() / self.interval.as_nanos().max(1)) as u64 + 1;
        self.next += self.interval * u32::try_from(n).unwrap_or(u32::MAX);
        n
    }
}

fn build(p: &Params, _ctx: &BuildContext) -> Result<Box<dyn Input>, ConfigError> {
    Ok(Box::new(Dummy {
        cfg: DummyConfig::from_params(p)?,
    }))
}

struct Dummy {
    cfg: DummyConfig,
}

impl Input for Dummy {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let cfg = self.cfg;
            for w in &cfg.warnings {
                weir_core::warn!(ctx.component(), "{}", w);
            }
            let tag = ctx.tag().to_string();
            let started = EventTime::now();
            let first = if cfg.flush_on_startup {
                Instant::now()
            } else {
                Instant::now() + cfg.interval
            };
            let mut schedule = Schedule::new(first, cfg.interval);
            let mut done = 0u64;
            let mut seq = 0u64;
            let mut buf = Vec::new();
            loop {
                tokio::select! {
                    _ = ctx.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until(schedule.deadline()) => {}
                }
                let mut n = schedule.take(Instant::now());
                if cfg.samples > 0 {
                    n = n.min(cfg.samples - done);
                }
                buf.clear();
                let time = cfg.timestamp(started, EventTime::now());
                let records = cfg.generate(n, time, &mut seq, &mut buf);
                ctx.emit(&tag, &buf, records).await;
                done += n;
                if cfg.samples > 0 && done >= cfg.samples {
                    return Ok(());
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn cfg(pairs: &[(&str, &str)]) -> Result<DummyConfig, ConfigError> {
        DummyConfig::from_params(&testing::params(&DESCRIPTOR, pairs)?)
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::check_table(PARAMS).unwrap();
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.interval, Duration::from_secs(1));
        assert_eq!(
            (c.samples, c.copies, c.start_time, c.fixed_timestamp),
            (0, 1, None, false)
        );
        let mut out = Vec::new();
        assert_eq!(c.generate(1, EventTime::new(3, 0), &mut 0, &mut out), 1);
        assert_eq!(testing::bodies(&out), [r#"{"message":"dummy"}"#]);
    }

    #[test]
    fn interval_rules() {
        assert_eq!(
            cfg(&[("rate", "4")]).unwrap().interval,
            Duration::from_millis(250)
        );
        assert_eq!(
            cfg(&[("rate", "0")]).unwrap().interval,
            Duration::from_secs(1)
        );
        assert_eq!(
            cfg(&[("rate", "4"), ("interval_sec", "2")])
                .unwrap()
                .interval,
            Duration::from_secs(2)
        );
        assert_eq!(
            cfg(&[("interval_sec", "1"), ("interval_nsec", "500000000")])
                .unwrap()
                .interval,
            Duration::from_millis(1500)
        );
        assert_eq!(
            cfg(&[("interval_nsec", "1000")]).unwrap().interval,
            Duration::from_micros(1)
        );
        assert_eq!(
            cfg(&[("interval_sec", "-1"), ("rate", "10")])
                .unwrap()
                .interval,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn records_and_metadata() {
        let c = cfg(&[
            ("dummy", r#"{"a":1,"b":"x"}"#),
            ("metadata", r#"{"m":true}"#),
            ("copies", "3"),
        ])
        .unwrap();
        let mut out = Vec::new();
        assert_eq!(c.generate(2, EventTime::new(7, 1), &mut 0, &mut out), 6);
        let evs: Vec<_> = weir_event::Events::new(&out)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(evs.len(), 6);
        assert_eq!(evs[0].time, EventTime::new(7, 1));
        assert_eq!(
            weir_event::json::to_json_string(evs[0].metadata).unwrap(),
            r#"{"m":true}"#
        );
        assert_eq!(
            weir_event::json::to_json_string(evs[5].body).unwrap(),
            r#"{"a":1,"b":"x"}"#
        );
    }

    #[test]
    fn bad_json() {
        let c = cfg(&[("dummy", "{not json")]).unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("data is incomplete"));
        let mut out = Vec::new();
        c.generate(1, EventTime::default(), &mut 0, &mut out);
        assert_eq!(testing::bodies(&out), [r#"{"message":"dummy"}"#]);
        let e = cfg(&[("dummy", "[1,2]")]).unwrap_err().to_string();
        assert!(e.contains("expected a JSON object"), "{e}");
        assert!(cfg(&[("metadata", "3")]).is_err());
        assert!(cfg(&[("copies", "0")])
            .unwrap_err()
            .to_string()
            .contains("expected 1 or more"));
        assert!(cfg(&[("rate", "fast")]).is_err());
        assert!(cfg(&[("bogus", "1")]).is_err());
    }

    #[test]
    fn timestamps() {
        let started = EventTime::new(1000, 0);
        let now = EventTime::new(1002, 500);
        assert_eq!(cfg(&[]).unwrap().timestamp(started, now), now);
        assert_eq!(
            cfg(&[("fixed_timestamp", "on")])
                .unwrap()
                .timestamp(started, now),
            started
        );
        let based = cfg(&[("start_time_sec", "10"), ("start_time_nsec", "999999999")]).unwrap();
        assert_eq!(based.timestamp(started, now), EventTime::new(13, 499));
        let fixed = cfg(&[("start_time_sec", "10"), ("fixed_timestamp", "true")]).unwrap();
        assert_eq!(fixed.start_time, Some(EventTime::new(10, 0)));
        assert_eq!(fixed.timestamp(started, now), EventTime::new(10, 0));
        let nsec_only = cfg(&[("start_time_nsec", "5")]).unwrap();
        assert_eq!(nsec_only.start_time, Some(EventTime::new(0, 5)));
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_batches_high_rates() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0 + Duration::from_millis(1), Duration::from_micros(100));
        assert_eq!(s.take(t0), 0);
        assert_eq!(s.take(t0 + Duration::from_millis(1)), 1);
        // 1 ms later: ten more generations are due.
        assert_eq!(s.take(t0 + Duration::from_millis(2)), 10);
        assert_eq!(s.deadline(), t0 + Duration::from_micros(2100));
        // A long stall restarts the schedule instead of bursting.
        assert_eq!(s.take(t0 + Duration::from_secs(10)), 1);
        assert_eq!(
            s.deadline(),
            t0 + Duration::from_secs(10) + Duration::from_micros(100)
        );
        let total: u64 = (1..=1000)
            .map(|ms| s.take(t0 + Duration::from_secs(10) + Duration::from_millis(ms)))
            .sum();
        assert_eq!(total, 10_000, "10 000 per second over one second");
    }

    #[test]
    fn schedule_slow_rate() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::from_secs(1));
        assert_eq!(s.take(t0), 1);
        assert_eq!(s.take(t0 + Duration::from_millis(999)), 0);
        assert_eq!(s.take(t0 + Duration::from_millis(1500)), 1);
        assert_eq!(s.deadline(), t0 + Duration::from_secs(2));
    }

    #[test]
    fn sequence_key_numbers_every_record() {
        let c = cfg(&[
            ("dummy", r#"{"a":1}"#),
            ("copies", "2"),
            ("weir.sequence_key", "seq"),
        ])
        .unwrap();
        let mut out = Vec::new();
        let mut seq = 5;
        assert_eq!(c.generate(2, EventTime::new(1, 0), &mut seq, &mut out), 4);
        assert_eq!(seq, 9);
        assert_eq!(
            testing::bodies(&out),
            [
                r#"{"a":1,"seq":5}"#,
                r#"{"a":1,"seq":6}"#,
                r#"{"a":1,"seq":7}"#,
                r#"{"a":1,"seq":8}"#
            ]
        );
    }
}
