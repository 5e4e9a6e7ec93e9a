//! A Weir input written with the Rust SDK: every `interval` it produces `count` records
//! `{"message": "...", "seq": N}`. The sequence number is kept in the plugin's state, so after
//! a restart (or a reload, or an upgrade of the plugin) it continues where it stopped.
//!
//! Build: `scripts/build-rust-guest.sh plugin-sdk/examples/rust-input`.

use weir_plugin_sdk::{self as weir, Batches, Error, EventTime, Info, Input, Param, Plugin};

/// State key of the next sequence number.
const NEXT_SEQ: &str = "next_seq";

pub struct Counter {
    message: String,
    count: u64,
    next_seq: u64,
}

impl Plugin for Counter {
    const INFO: Info = Info::new("rust_input")
        .version(env!("CARGO_PKG_VERSION"))
        .description("Numbered messages whose sequence continues across restarts")
        .params(&[
            Param::string("message")
                .default("hello from rust")
                .description("Text of the message field"),
            Param::integer("count")
                .default("1")
                .description("Records produced on each collection"),
        ]);

    fn init() -> Result<Self, Error> {
        let count = weir::config::integer("count")?.unwrap_or(1);
        let count = u64::try_from(count)
            .ok()
            .filter(|c| (1..=100_000).contains(c))
            .ok_or_else(|| {
                Error::new(format!("count must be between 1 and 100000, not {count}"))
            })?;
        let next_seq = weir::state::get_u64(NEXT_SEQ).unwrap_or(0);
        if next_seq > 0 {
            weir::info!("rust_input resuming at sequence {next_seq}");
        }
        Ok(Self {
            message: weir::config::require("message")?,
            count,
            next_seq,
        })
    }
}

impl Input for Counter {
    fn collect(&mut self, out: &mut Batches) -> Result<(), Error> {
        let now = EventTime::now();
        let w = out.writer();
        for _ in 0..self.count {
            w.event(now)
                .field("message", self.message.as_str())
                .field("seq", self.next_seq)
                .finish();
            self.next_seq += 1;
        }
        // Saved once per collection: on a crash, at most one collection's numbers repeat.
        weir::state::set_u64(NEXT_SEQ, self.next_seq);
        weir::metrics::gauge_set("next_seq", self.next_seq as f64);
        Ok(())
    }
}

weir_plugin_sdk::input!(Counter);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_plugin_sdk::testing;

    fn seqs(out: &[(String, weir::EventWriter)]) -> Vec<u64> {
        testing::events(&out[0].1)
            .iter()
            .filter_map(|e| e.get("seq")?.as_u64())
            .collect()
    }

    #[test]
    fn numbers_records_and_continues_after_a_restart() {
        testing::reset();
        testing::set_now_ns(1_700_000_000_000_000_000);
        testing::set_config("count", "3");
        let out = testing::run_input::<Counter>().unwrap();
        assert_eq!(out[0].0, "", "the input's own tag");
        assert_eq!(seqs(&out), [0, 1, 2]);
        let ev = testing::events(&out[0].1)[0];
        assert_eq!(ev.get_str("message"), Some("hello from rust"));
        assert_eq!(ev.time(), EventTime::new(1_700_000_000, 0));

        // A new instance (a restart) reads the state the first one left.
        let out = testing::run_input::<Counter>().unwrap();
        assert_eq!(seqs(&out), [3, 4, 5]);
        assert_eq!(testing::gauge("next_seq"), Some(6.0));
        assert!(testing::logs()
            .iter()
            .any(|(_, l)| l.contains("resuming at sequence 3")));
    }

    #[test]
    fn rejects_a_bad_count() {
        testing::reset();
        testing::set_config("count", "0");
        assert!(testing::init::<Counter>().is_err());
    }
}
