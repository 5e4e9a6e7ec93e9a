//! What tail needs from the engine, as a trait, so that tests can run the whole input against
//! a recording sink, with tokio's paused clock.

use std::future::Future;
use std::sync::Arc;
use weir_core::metrics::Counter;
use weir_core::InputContext;

/// The engine side of a running input: [`InputContext`] in production.
pub trait Sink: Send {
    /// Hands a batch of encoded events to the pipeline.
    fn emit(&mut self, tag: &str, data: &[u8], records: usize) -> impl Future<Output = ()> + Send;
    /// Resolves when the input must stop.
    fn cancelled(&self) -> impl Future<Output = ()> + Send + '_;
    fn is_cancelled(&self) -> bool;
    /// Asks the engine to shut down (`exit_on_eof`).
    fn request_exit(&self);
    /// A plugin-specific counter (`files_opened`...).
    fn counter(&self, name: &'static str) -> Arc<Counter>;
    /// `input:tail:tail.0`, for log lines.
    fn component(&self) -> &str;
    /// The configured tag (or the instance name).
    fn tag(&self) -> &str;
}

impl Sink for InputContext {
    fn emit(&mut self, tag: &str, data: &[u8], records: usize) -> impl Future<Output = ()> + Send {
        InputContext::emit(self, tag, data, records)
    }
    fn cancelled(&self) -> impl Future<Output = ()> + Send + '_ {
        InputContext::cancelled(self)
    }
    fn is_cancelled(&self) -> bool {
        InputContext::is_cancelled(self)
    }
    fn request_exit(&self) {
        InputContext::request_exit(self)
    }
    fn counter(&self, name: &'static str) -> Arc<Counter> {
        InputContext::counter(self, name)
    }
    fn component(&self) -> &str {
        InputContext::component(self)
    }
    fn tag(&self) -> &str {
        InputContext::tag(self)
    }
}

#[cfg(test)]
pub mod test_sink {
    //! A sink that records what it is given, readable while the input runs.
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use tokio::sync::watch;

    /// A batch as emitted: tag, events, record count.
    type Batch = (String, Vec<u8>, usize);

    /// What a [`TestSink`] received; clones share it.
    #[derive(Clone, Default)]
    pub struct Recorded {
        batches: Arc<Mutex<Vec<Batch>>>,
        pub exit_requested: Arc<AtomicBool>,
        counters: Arc<Mutex<HashMap<&'static str, Arc<Counter>>>>,
    }

    impl Recorded {
        fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Batch>> {
            self.batches.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Every record body as JSON with its tag, in order.
        pub fn tagged(&self) -> Vec<(String, String)> {
            self.lock()
                .iter()
                .flat_map(|(tag, data, _)| {
                    crate::testing::bodies(data)
                        .into_iter()
                        .map(move |b| (tag.clone(), b))
                })
                .collect()
        }

        /// Every record body as JSON, in order.
        pub fn bodies(&self) -> Vec<String> {
            self.tagged().into_iter().map(|(_, b)| b).collect()
        }

        /// The `field` string of every record, in order.
        pub fn field(&self, field: &str) -> Vec<String> {
            self.bodies()
                .iter()
                .map(|b| {
                    let v: serde_json::Value = serde_json::from_str(b).expect("body is JSON");
                    v[field].as_str().unwrap_or_default().to_string()
                })
                .collect()
        }

        pub fn records(&self) -> usize {
            self.lock().iter().map(|b| b.2).sum()
        }

        pub fn batches(&self) -> usize {
            self.lock().len()
        }

        pub fn count(&self, name: &'static str) -> u64 {
            self.counter(name).get()
        }

        fn counter(&self, name: &'static str) -> Arc<Counter> {
            self.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(name)
                .or_default()
                .clone()
        }

        pub fn exit_requested(&self) -> bool {
            self.exit_requested.load(Ordering::SeqCst)
        }
    }

    /// Records batches; cancelled by sending `true` on the sender [`TestSink::new`] returns.
    pub struct TestSink {
        pub rec: Recorded,
        cancel: watch::Receiver<bool>,
        tag: String,
    }

    impl TestSink {
        pub fn new(tag: &str) -> (Self, watch::Sender<bool>) {
            let (tx, rx) = watch::channel(false);
            (
                Self {
                    rec: Recorded::default(),
                    cancel: rx,
                    tag: tag.to_string(),
                },
                tx,
            )
        }
    }

    impl Sink for TestSink {
        fn emit(
            &mut self,
            tag: &str,
            data: &[u8],
            records: usize,
        ) -> impl Future<Output = ()> + Send {
            let n = weir_event::event::count_events(data).expect("valid events");
            assert_eq!(n, records, "record count matches the batch");
            if records > 0 {
                self.rec
                    .lock()
                    .push((tag.to_string(), data.to_vec(), records));
            }
            std::future::ready(())
        }
        fn cancelled(&self) -> impl Future<Output = ()> + Send + '_ {
            let mut rx = self.cancel.clone();
            async move {
                let _ = rx.wait_for(|c| *c).await;
            }
        }
        fn is_cancelled(&self) -> bool {
            *self.cancel.borrow()
        }
        fn request_exit(&self) {
            self.rec.exit_requested.store(true, Ordering::SeqCst);
        }
        fn counter(&self, name: &'static str) -> Arc<Counter> {
            self.rec.counter(name)
        }
        fn component(&self) -> &str {
            "input:tail:tail.0"
        }
        fn tag(&self) -> &str {
            &self.tag
        }
    }
}
