//! The three streams: byte-bounded rings of rendered chunks, each with its own id sequence.
//!
//! An entry is one chunk rendered as one line of JSON. Ids start at 0 and grow by one per entry
//! appended to that stream; they never repeat, even when entries are evicted or read away, so a
//! client resumes with `from=<Vivo-Stream-Next-ID>` and never sees an entry twice.
//!
//! A ring holds at most `capacity` bytes (`stream_queue_size`): appending evicts the oldest
//! entries until the new one fits. An entry larger than the whole capacity is still kept, alone,
//! as Fluent Bit does, rather than refusing data the output already accepted.

use hyper::body::Bytes;
use std::collections::VecDeque;
use std::sync::Mutex;
use weir_event::Signal;

/// One rendered chunk and its id.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    data: Bytes,
}

/// What a client asked for: Fluent Bit's `from`, `to` and `limit`, absent when not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query {
    /// First id wanted; the next one held is served when it is gone.
    pub from: Option<u64>,
    /// Last id wanted.
    pub to: Option<u64>,
    /// Most entries served.
    pub limit: Option<usize>,
}

/// What one read served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The entries, oldest first, each one JSON line.
    pub entries: Vec<Bytes>,
    /// Ids of the first and last entries served (`Vivo-Stream-Start-ID`, `-End-ID`).
    pub start: Option<u64>,
    pub end: Option<u64>,
    /// Where the next read should start (`Vivo-Stream-Next-ID`): the id after the last entry
    /// served, or when nothing was served, the id the next appended entry will get.
    pub next: u64,
}

impl Page {
    /// The response body: the entries back to back (each ends with a newline).
    pub fn body(&self) -> Bytes {
        match self.entries.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let len = many.iter().map(Bytes::len).sum();
                let mut buf = Vec::with_capacity(len);
                for e in many {
                    buf.extend_from_slice(e);
                }
                Bytes::from(buf)
            }
        }
    }
}

/// One stream: entries in id order, their total size, and the next id to hand out.
#[derive(Debug)]
pub struct Ring {
    entries: VecDeque<Entry>,
    bytes: usize,
    capacity: usize,
    next_id: u64,
}

impl Ring {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            capacity,
            next_id: 0,
        }
    }

    /// Appends an entry, evicting the oldest ones until it fits; returns its id.
    pub fn push(&mut self, data: Bytes) -> u64 {
        while !self.entries.is_empty() && self.bytes + data.len() > self.capacity {
            self.pop_oldest();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.bytes += data.len();
        self.entries.push_back(Entry { id, data });
        id
    }

    /// Changes the capacity (a hot reload changed `stream_queue_size`), evicting the oldest
    /// entries if the ring now holds too much.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        // Keep the newest entry even when it alone is over the limit, as `push` does.
        while self.entries.len() > 1 && self.bytes > self.capacity {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= e.data.len();
        }
    }

    /// Serves `q`. With `consume` (`empty_stream_on_read`), the entries served are removed,
    /// and only those: entries before `from`, after `to` or past `limit` stay for later reads.
    pub fn read(&mut self, q: &Query, consume: bool) -> Page {
        let first = match q.from {
            Some(from) => self.entries.partition_point(|e| e.id < from),
            None => 0,
        };
        let mut page = Page::default();
        let mut last = first;
        for e in self.entries.range(first..) {
            if q.to.is_some_and(|to| e.id > to) || q.limit.is_some_and(|l| page.entries.len() >= l)
            {
                break;
            }
            page.start.get_or_insert(e.id);
            page.end = Some(e.id);
            page.entries.push(e.data.clone());
            last += 1;
        }
        page.next = page.end.map_or(self.next_id, |end| end + 1);
        if consume && last > first {
            let removed: usize = self.entries.drain(first..last).map(|e| e.data.len()).sum();
            self.bytes -= removed;
        }
        page
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The id the next entry will get.
    #[cfg(test)]
    pub fn next_id(&self) -> u64 {
        self.next_id
    }
}

/// The logs, metrics and traces streams of one exporter.
#[derive(Debug)]
pub struct Streams {
    rings: [Mutex<Ring>; 3],
}

impl Streams {
    pub fn new(capacity: usize) -> Self {
        Self {
            rings: [(); 3].map(|()| Mutex::new(Ring::new(capacity))),
        }
    }

    /// The ring of one signal. A panic while a ring was locked cannot leave it inconsistent
    /// (every change is one step), so a poisoned lock is taken as it is.
    pub fn ring(&self, signal: Signal) -> std::sync::MutexGuard<'_, Ring> {
        let i = match signal {
            Signal::Logs => 0,
            Signal::Metrics => 1,
            Signal::Traces => 2,
        };
        self.rings[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_capacity(&self, capacity: usize) {
        for s in [Signal::Logs, Signal::Metrics, Signal::Traces] {
            self.ring(s).set_capacity(capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    fn ids(ring: &mut Ring) -> Vec<u64> {
        let p = ring.read(&Query::default(), false);
        p.start
            .map_or(vec![], |s| (s..=p.end.unwrap_or(s)).collect())
    }

    #[test]
    fn ids_count_up_from_zero() {
        let mut r = Ring::new(1000);
        assert_eq!(r.push(entry(10)), 0);
        assert_eq!(r.push(entry(10)), 1);
        assert_eq!(r.push(entry(10)), 2);
        let p = r.read(&Query::default(), false);
        assert_eq!((p.start, p.end, p.next), (Some(0), Some(2), 3));
        assert_eq!(p.body().len(), 30);
    }

    #[test]
    fn an_empty_stream_says_where_the_next_entry_will_be() {
        let mut r = Ring::new(100);
        let p = r.read(&Query::default(), false);
        assert_eq!((p.start, p.end, p.next), (None, None, 0));
        assert!(p.body().is_empty());
    }

    #[test]
    fn the_oldest_entries_go_when_the_bytes_run_out() {
        let mut r = Ring::new(100);
        for _ in 0..10 {
            r.push(entry(30));
        }
        // 3 entries of 30 bytes fit in 100; ids keep counting.
        assert_eq!(r.bytes(), 90);
        assert_eq!(r.len(), 3);
        assert_eq!(ids(&mut r), vec![7, 8, 9]);
        assert_eq!(r.next_id(), 10);
    }

    #[test]
    fn an_entry_larger_than_the_stream_is_kept_alone() {
        let mut r = Ring::new(50);
        r.push(entry(20));
        r.push(entry(80));
        assert_eq!(r.len(), 1);
        assert_eq!(ids(&mut r), vec![1]);
        r.push(entry(10));
        assert_eq!(ids(&mut r), vec![2]);
    }

    #[test]
    fn a_smaller_capacity_evicts_at_once() {
        let mut r = Ring::new(100);
        for _ in 0..4 {
            r.push(entry(25));
        }
        r.set_capacity(60);
        assert_eq!(ids(&mut r), vec![2, 3]);
        r.set_capacity(10);
        assert_eq!(ids(&mut r), vec![3], "the newest entry stays");
    }

    #[test]
    fn from_to_and_limit() {
        let mut r = Ring::new(1000);
        for _ in 0..6 {
            r.push(entry(1));
        }
        let q = |from, to, limit| Query { from, to, limit };
        let span = |p: Page| (p.start, p.end, p.next, p.entries.len());
        assert_eq!(
            span(r.read(&q(Some(2), None, None), false)),
            (Some(2), Some(5), 6, 4)
        );
        assert_eq!(
            span(r.read(&q(Some(1), Some(3), None), false)),
            (Some(1), Some(3), 4, 3)
        );
        // Fluent Bit's documented example: from 1 to 3, one chunk.
        assert_eq!(
            span(r.read(&q(Some(1), Some(3), Some(1)), false)),
            (Some(1), Some(1), 2, 1)
        );
        assert_eq!(
            span(r.read(&q(None, None, Some(2)), false)),
            (Some(0), Some(1), 2, 2)
        );
        // Past the end: nothing, and the next id to poll from.
        assert_eq!(
            span(r.read(&q(Some(9), None, None), false)),
            (None, None, 6, 0)
        );
        // `to` before `from`.
        assert_eq!(
            span(r.read(&q(Some(4), Some(2), None), false)),
            (None, None, 6, 0)
        );
    }

    #[test]
    fn from_an_evicted_id_starts_at_the_oldest_held() {
        let mut r = Ring::new(3);
        for _ in 0..5 {
            r.push(entry(1));
        }
        let p = r.read(
            &Query {
                from: Some(0),
                ..Query::default()
            },
            false,
        );
        assert_eq!((p.start, p.end), (Some(2), Some(4)));
    }

    #[test]
    fn consuming_removes_only_what_was_served() {
        let mut r = Ring::new(1000);
        for _ in 0..6 {
            r.push(entry(2));
        }
        let p = r.read(
            &Query {
                from: Some(1),
                to: None,
                limit: Some(2),
            },
            true,
        );
        assert_eq!((p.start, p.end, p.next), (Some(1), Some(2), 3));
        assert_eq!(r.bytes(), 8);
        // 0 was before `from`, 3.. past the limit: all still there, 1 and 2 gone.
        let all = r.read(&Query::default(), false);
        assert_eq!(all.entries.len(), 4);
        let again = r.read(
            &Query {
                from: Some(1),
                to: None,
                limit: Some(1),
            },
            false,
        );
        assert_eq!(again.start, Some(3));
        // Entries that arrive later are not touched by an earlier read.
        r.read(&Query::default(), true);
        assert_eq!(r.len(), 0);
        assert_eq!(r.push(entry(2)), 6);
        assert_eq!(r.read(&Query::default(), false).start, Some(6));
    }

    #[test]
    fn the_streams_count_apart() {
        let s = Streams::new(100);
        s.ring(Signal::Logs).push(entry(1));
        s.ring(Signal::Logs).push(entry(1));
        assert_eq!(s.ring(Signal::Metrics).push(entry(1)), 0);
        assert_eq!(s.ring(Signal::Traces).next_id(), 0);
        assert_eq!(s.ring(Signal::Logs).next_id(), 2);
    }

    proptest! {
        /// Against a simple model: every entry ever pushed, minus the evicted prefix and what
        /// was consumed. The ring never holds more than its capacity (but for a single
        /// oversized entry), serves ids in order, and consumes exactly what it served.
        #[test]
        fn ring_matches_a_model(
            cap in 1usize..200,
            ops in proptest::collection::vec(
                prop_oneof![
                    (1usize..60).prop_map(Op::Push),
                    (proptest::option::of(0u64..40), proptest::option::of(0u64..40),
                     proptest::option::of(1usize..5), any::<bool>())
                        .prop_map(|(f, t, l, c)| Op::Read(Query { from: f, to: t, limit: l }, c)),
                ],
                0..80,
            ),
        ) {
            let mut ring = Ring::new(cap);
            let mut model: Vec<(u64, usize)> = Vec::new();
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Push(n) => {
                        let id = ring.push(entry(n));
                        prop_assert_eq!(id, next);
                        next += 1;
                        while !model.is_empty()
                            && model.iter().map(|e| e.1).sum::<usize>() + n > cap
                        {
                            model.remove(0);
                        }
                        model.push((id, n));
                    }
                    Op::Read(q, consume) => {
                        let want: Vec<(u64, usize)> = model
                            .iter()
                            .copied()
                            .filter(|(id, _)| q.from.is_none_or(|f| *id >= f))
                            .take_while(|(id, _)| q.to.is_none_or(|t| *id <= t))
                            .take(q.limit.unwrap_or(usize::MAX))
                            .collect();
                        let page = ring.read(&q, consume);
                        prop_assert_eq!(page.entries.len(), want.len());
                        prop_assert_eq!(page.start, want.first().map(|e| e.0));
                        prop_assert_eq!(page.end, want.last().map(|e| e.0));
                        prop_assert_eq!(page.next, want.last().map_or(next, |e| e.0 + 1));
                        if consume {
                            model.retain(|e| !want.contains(e));
                        }
                    }
                }
                let held: usize = model.iter().map(|e| e.1).sum();
                prop_assert_eq!(ring.bytes(), held);
                prop_assert_eq!(ring.len(), model.len());
                prop_assert!(held <= cap || model.len() == 1);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Read(Query, bool),
    }
}
