//! A Weir filter written with the Rust SDK, following the rule every language's example
//! follows: add `"lang": "rust"` to each record and drop the records whose `level` is
//! `"debug"`.
//!
//! It also shows the host functions: the dropped records are counted in the metric
//! `dropped_records` and their total, kept in the plugin's state, survives restarts; the
//! field's name and value are parameters.
//!
//! Build: `scripts/build-rust-guest.sh plugin-sdk/examples/rust-filter`.

use weir_plugin_sdk::{self as weir, Batch, Batches, Error, Filter, Info, Param, Plugin};

/// State key of the number of records dropped since the plugin was first started.
const DROPPED_TOTAL: &str = "dropped_total";

pub struct LangFilter {
    key: String,
    value: String,
    dropped_total: u64,
}

impl Plugin for LangFilter {
    const INFO: Info = Info::new("rust_filter")
        .version(env!("CARGO_PKG_VERSION"))
        .description("Adds lang=rust to every record and drops debug records")
        .params(&[
            Param::string("key")
                .default("lang")
                .description("Name of the field to add"),
            Param::string("value")
                .default("rust")
                .description("Value of the field to add"),
        ]);

    fn init() -> Result<Self, Error> {
        let dropped_total = weir::state::get_u64(DROPPED_TOTAL).unwrap_or(0);
        weir::info!("rust_filter starting; {dropped_total} debug records dropped so far");
        Ok(Self {
            key: weir::config::require("key")?,
            value: weir::config::require("value")?,
            dropped_total,
        })
    }
}

impl Filter for LangFilter {
    fn filter(&mut self, batch: &Batch<'_>, out: &mut Batches) -> Result<(), Error> {
        let mut dropped = 0;
        let w = out.writer();
        for event in batch.events() {
            let event = event?;
            if event.get_str("level") == Some("debug") {
                dropped += 1;
                continue;
            }
            w.edit(&event)
                .set(&self.key, self.value.as_str())
                .finish()?;
        }
        if dropped > 0 {
            weir::metrics::counter_add("dropped_records", dropped);
            self.dropped_total += dropped;
            weir::state::set_u64(DROPPED_TOTAL, self.dropped_total);
        }
        Ok(())
    }
}

weir_plugin_sdk::filter!(LangFilter);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_plugin_sdk::{testing, EventTime, EventWriter};

    fn input() -> EventWriter {
        let mut w = EventWriter::new();
        for (i, level) in ["info", "debug", "warn", "debug"].iter().enumerate() {
            w.event(EventTime::new(1_700_000_000 + i as i64, 0))
                .field("level", *level)
                .field("msg", format!("message {i}"))
                .finish();
        }
        w
    }

    #[test]
    fn adds_the_field_and_drops_debug_records() {
        testing::reset();
        let out = testing::run_filter::<LangFilter>("app.log", &input()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "app.log");
        let events = testing::events(&out[0].1);
        let levels: Vec<_> = events.iter().map(|e| e.get_str("level")).collect();
        assert_eq!(levels, [Some("info"), Some("warn")]);
        assert!(events.iter().all(|e| e.get_str("lang") == Some("rust")));
        assert_eq!(events[1].time(), EventTime::new(1_700_000_002, 0));
        assert_eq!(testing::counter("dropped_records"), 2);
        assert_eq!(testing::state(DROPPED_TOTAL), Some(b"2".to_vec()));
    }

    #[test]
    fn the_total_continues_from_the_state() {
        testing::reset();
        weir::state::set_u64(DROPPED_TOTAL, 40);
        testing::set_config("value", "rs");
        let out = testing::run_filter::<LangFilter>("t", &input()).unwrap();
        assert_eq!(testing::events(&out[0].1)[0].get_str("lang"), Some("rs"));
        assert_eq!(weir::state::get_u64(DROPPED_TOTAL), Some(42));
        assert!(testing::logs()[0].1.contains("40 debug records"));
    }

    #[test]
    fn malformed_batches_are_errors() {
        testing::reset();
        let mut f = testing::init::<LangFilter>().unwrap();
        let mut out = Batches::new("t");
        let bad = [0x92, 0xc1];
        assert!(f.filter(&Batch::new("t", &bad, 1), &mut out).is_err());
    }
}
