//! `stdin`: records from the standard input; at its end, Weir stops (after delivering what it
//! holds), as Fluent Bit does.
//!
//! Without `parser` the input is a stream of JSON values, as in Fluent Bit: each value may
//! span lines, and values need no separator. A value is
//! - an object: the record, stamped with the current time;
//! - `[TIME, {record}]` or `[[TIME, {metadata}], {record}]`, TIME being seconds (integer or
//!   float): Fluent Bit's event forms.
//!
//! Anything else is skipped with Fluent Bit's messages (`invalid JSON message, skipping`,
//! `invalid record found, it's not a JSON map or array`). With `parser`, each line is parsed by
//! that parser; a line it rejects is skipped (Fluent Bit waits for more data instead, which
//! never completes such a line).
//!
//! `buffer_size` (16k) is the read size and the largest JSON value or line accepted: a longer
//! one is dropped with an error, and reading goes on at the next line.
//!
//! Standard input is read on a thread of its own (a blocking read on a pipe or terminal cannot
//! be cancelled); the input task decodes and emits one batch per read.

use memchr::memchr;
use std::io::Read;
use std::sync::Arc;
use weir_config::{ConfigError, ParamSpec, Params};
use weir_core::{
    BoxFuture, BuildContext, Factory, Input, InputContext, PluginDescriptor, PluginKind,
};
use weir_event::event::{read_event, write_event};
use weir_event::EventTime;
use weir_parser::Parser;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::size("buffer_size")
        .default("16k")
        .desc("Read size, and the largest JSON value or line accepted."),
    ParamSpec::str("parser").desc("Parser for each line, instead of reading JSON values."),
];

pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    name: "stdin",
    kind: PluginKind::Input,
    description: "Read records (JSON, or lines through a parser) from the standard input.",
    params: PARAMS,
    factory: Factory::Input(build),
};

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn Input>, ConfigError> {
    let buffer_size = p.size("buffer_size").unwrap_or(16_000);
    if buffer_size == 0 {
        return Err(p.error("buffer_size", "expected a size above 0"));
    }
    let parser =
        match p.str("parser").filter(|s| !s.is_empty()) {
            Some(name) => Some(ctx.parsers.get(name).ok_or_else(|| {
                p.error("parser", format!("requested parser '{name}' not found"))
            })?),
            None => None,
        };
    Ok(Box::new(Stdin {
        buffer_size: usize::try_from(buffer_size).unwrap_or(usize::MAX),
        parser,
    }))
}

struct Stdin {
    buffer_size: usize,
    parser: Option<Arc<Parser>>,
}

impl Input for Stdin {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let component = ctx.component().to_string();
            let tag = ctx.tag().to_string();
            let mut rx = spawn_reader(Box::new(std::io::stdin()), self.buffer_size)?;
            let mut dec = Decoder::new(self.buffer_size, self.parser, component.clone());
            loop {
                let chunk = tokio::select! {
                    _ = ctx.cancelled() => return Ok(()),
                    c = rx.recv() => c,
                };
                match chunk {
                    Some(Ok(data)) => dec.feed(&data, EventTime::now()),
                    Some(Err(e)) => {
                        weir_core::error!(component, "read error: {}", e);
                        dec.finish(EventTime::now());
                        ctx.emit(&tag, &dec.batch, dec.records).await;
                        ctx.request_exit();
                        return Ok(());
                    }
                    None => {
                        dec.finish(EventTime::now());
                        ctx.emit(&tag, &dec.batch, dec.records).await;
                        weir_core::info!(component, "end of file (stdin closed by remote end)");
                        ctx.request_exit();
                        return Ok(());
                    }
                }
                ctx.emit(&tag, &dec.batch, dec.records).await;
                dec.clear_batch();
            }
        })
    }
}

/// Reads `source` on a thread of its own and sends what it reads; the channel closes at the
/// end of the input. The thread ends when the receiver is dropped and the next read returns.
fn spawn_reader(
    mut source: Box<dyn Read + Send>,
    size: usize,
) -> Result<tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>, String> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::Builder::new()
        .name("weir-stdin".into())
        .spawn(move || {
            let mut buf = vec![0u8; size];
            loop {
                match source.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the stdin reader: {e}"))?;
    Ok(rx)
}

/// Where the JSON scanner stands inside a value.
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    /// Bytes of `pending` already looked at.
    pos: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Dropping bytes up to the next newline, after an oversized value or garbage.
    resync: bool,
}

/// Turns the bytes of standard input into records.
pub struct Decoder {
    limit: usize,
    parser: Option<Arc<Parser>>,
    component: String,
    pending: Vec<u8>,
    scan: Scan,
    scratch: Vec<u8>,
    /// Encoded records not yet emitted, and how many.
    pub batch: Vec<u8>,
    pub records: usize,
}

impl Decoder {
    pub fn new(limit: usize, parser: Option<Arc<Parser>>, component: String) -> Self {
        Self {
            limit: limit.max(1),
            parser,
            component,
            pending: Vec::new(),
            scan: Scan::default(),
            scratch: Vec::new(),
            batch: Vec::new(),
            records: 0,
        }
    }

    pub fn clear_batch(&mut self) {
        self.batch.clear();
        self.records = 0;
    }

    /// Decodes what can be decoded of the input so far; `now` stamps records without a time.
    pub fn feed(&mut self, data: &[u8], now: EventTime) {
        self.pending.extend_from_slice(data);
        if self.parser.is_some() {
            self.lines(now, false);
        } else {
            self.json_values(now);
        }
    }

    /// End of input: a last line without a newline is parsed; an incomplete JSON value is
    /// dropped with a warning.
    pub fn finish(&mut self, now: EventTime) {
        if self.parser.is_some() {
            self.lines(now, true);
        } else if self.pending.iter().any(|b| !b.is_ascii_whitespace()) && !self.scan.resync {
            weir_core::warn!(
                self.component,
                "incomplete JSON message at the end of the input, dropped"
            );
        }
        self.pending.clear();
        self.scan = Scan::default();
    }

    fn lines(&mut self, now: EventTime, at_end: bool) {
        let pending = std::mem::take(&mut self.pending);
        let start = self.lines_in(&pending, now, at_end);
        self.pending = pending;
        self.pending.drain(..start);
        if self.pending.len() > self.limit {
            weir_core::error!(
                self.component,
                "line longer than buffer_size ({} bytes), skipping it",
                self.limit
            );
            self.pending.clear();
            self.scan.resync = true;
        }
    }

    /// Parses the complete lines of `pending` (and the last one `at_end`); returns how many
    /// bytes were used.
    fn lines_in(&mut self, pending: &[u8], now: EventTime, at_end: bool) -> usize {
        let mut start = 0;
        loop {
            let rest = &pending[start..];
            let (line, next) = match memchr(b'\n', rest) {
                Some(i) => (&rest[..i], start + i + 1),
                None if at_end && !rest.is_empty() => (rest, pending.len()),
                None => break,
            };
            let skip = std::mem::replace(&mut self.scan.resync, false);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !skip && !line.is_empty() {
                self.parse_line(line, now);
            }
            start = next;
            if start >= pending.len() {
                break;
            }
        }
        start
    }

    fn parse_line(&mut self, line: &[u8], now: EventTime) {
        let Some(parser) = self.parser.as_ref() else {
            return;
        };
        if parser.parse_event(line, now, &mut self.batch).is_ok() {
            self.records += 1;
        } else {
            weir_core::debug!(self.component, "data mismatch or incomplete");
        }
    }

    fn json_values(&mut self, now: EventTime) {
        // `pending[..start]` is done with; `s.pos` is where scanning stands.
        let mut start = 0;
        let mut s = self.scan;
        loop {
            if s.resync {
                match memchr(b'\n', &self.pending[s.pos..]) {
                    Some(i) => {
                        s = Scan {
                            pos: s.pos + i + 1,
                            ..Scan::default()
                        };
                        start = s.pos;
                    }
                    None => {
                        s.pos = self.pending.len();
                        start = s.pos;
                        break;
                    }
                }
            }
            if s.depth == 0 {
                // Between values: skip blanks; a value must open with { or [.
                while self.pending.get(s.pos).is_some_and(u8::is_ascii_whitespace) {
                    s.pos += 1;
                }
                start = s.pos;
                match self.pending.get(s.pos) {
                    None => break,
                    Some(b'{' | b'[') => {}
                    Some(_) => {
                        weir_core::debug!(self.component, "invalid JSON message, skipping");
                        s.resync = true;
                        continue;
                    }
                }
            }
            let mut end = None;
            while let Some(&b) = self.pending.get(s.pos) {
                s.pos += 1;
                if s.in_string {
                    if s.escaped {
                        s.escaped = false;
                    } else if b == b'\\' {
                        s.escaped = true;
                    } else if b == b'"' {
                        s.in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => s.in_string = true,
                    b'{' | b'[' => s.depth += 1,
                    b'}' | b']' => {
                        s.depth = s.depth.saturating_sub(1);
                        if s.depth == 0 {
                            end = Some(s.pos);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            match end {
                Some(e) => {
                    let pending = std::mem::take(&mut self.pending);
                    self.value(&pending[start..e], now);
                    self.pending = pending;
                    s = Scan {
                        pos: e,
                        ..Scan::default()
                    };
                    start = e;
                }
                None => {
                    if s.pos - start > self.limit {
                        weir_core::error!(
                            self.component,
                            "JSON message larger than buffer_size ({} bytes), skipping it",
                            self.limit
                        );
                        s = Scan {
                            pos: self.pending.len(),
                            resync: true,
                            ..Scan::default()
                        };
                        start = s.pos;
                    }
                    break;
                }
            }
        }
        self.pending.drain(..start);
        s.pos -= start;
        self.scan = s;
    }

    /// Encodes one complete JSON value as a record.
    fn value(&mut self, text: &[u8], now: EventTime) {
        self.scratch.clear();
        let ok = std::str::from_utf8(text)
            .ok()
            .is_some_and(|t| weir_event::json::from_json(t, &mut self.scratch).is_ok());
        if !ok {
            weir_core::debug!(self.component, "invalid JSON message, skipping");
            return;
        }
        let is_map = |b: &[u8]| matches!(b.first(), Some(0x80..=0x8f | 0xde | 0xdf));
        if is_map(&self.scratch) {
            write_event(&mut self.batch, now, &[], &self.scratch);
            self.records += 1;
            return;
        }
        match read_event(&self.scratch, 0) {
            Ok((ev, end))
                if end == self.scratch.len() && is_map(ev.body) && is_map(ev.metadata) =>
            {
                write_event(&mut self.batch, ev.time, ev.metadata, ev.body);
                self.records += 1;
            }
            _ => weir_core::error!(
                self.component,
                "invalid record found, it's not a JSON map or array"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn decode(
        chunks: &[&[u8]],
        parser: Option<Arc<Parser>>,
        limit: usize,
    ) -> Vec<(EventTime, String, String)> {
        let mut d = Decoder::new(limit, parser, "input:stdin:stdin.0".into());
        for c in chunks {
            d.feed(c, EventTime::new(100, 0));
        }
        d.finish(EventTime::new(100, 0));
        weir_event::Events::new(&d.batch)
            .map(|e| {
                let e = e.unwrap();
                (
                    e.time,
                    weir_event::json::to_json_string(e.metadata).unwrap(),
                    weir_event::json::to_json_string(e.body).unwrap(),
                )
            })
            .collect()
    }

    fn bodies(chunks: &[&[u8]]) -> Vec<String> {
        decode(chunks, None, 16_000)
            .into_iter()
            .map(|(_, _, b)| b)
            .collect()
    }

    #[test]
    fn table_is_well_formed() {
        weir_config::check_table(PARAMS).unwrap();
    }

    #[test]
    fn json_objects_one_per_line_or_run_together() {
        assert_eq!(
            bodies(&[b"{\"a\":1}\n{\"b\":2}\n"]),
            [r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert_eq!(
            bodies(&[b"{\"a\":1}{\"b\":\"}{\"}"]),
            [r#"{"a":1}"#, r#"{"b":"}{"}"#]
        );
    }

    #[test]
    fn values_split_across_reads_and_lines() {
        let got = bodies(&[b"{\"a\":", b"\n  [1,2,{\"x\":\"\\\"", b"}\"}]}\n", b"{}"]);
        assert_eq!(got, [r#"{"a":[1,2,{"x":"\"}"}]}"#, "{}"]);
    }

    #[test]
    fn event_forms_keep_time_and_metadata() {
        let got = decode(
            &[b"[1700000000, {\"k\":\"v\"}]\n[[1700000000.5, {\"m\":1}], {\"k\":2}]\n"],
            None,
            16_000,
        );
        assert_eq!(
            got[0],
            (
                EventTime::new(1_700_000_000, 0),
                "{}".into(),
                r#"{"k":"v"}"#.into()
            )
        );
        assert_eq!(
            got[1],
            (
                EventTime::new(1_700_000_000, 500_000_000),
                r#"{"m":1}"#.into(),
                r#"{"k":2}"#.into()
            )
        );
        let now = decode(&[b"{\"k\":1}"], None, 16_000);
        assert_eq!(now[0].0, EventTime::new(100, 0));
    }

    #[test]
    fn garbage_is_skipped_and_decoding_goes_on() {
        assert_eq!(bodies(&[b"hello world\n{\"a\":1}\n"]), [r#"{"a":1}"#]);
        assert_eq!(bodies(&[b"[1,2,3]\n{\"a\":1}\n"]), [r#"{"a":1}"#]);
        assert_eq!(bodies(&[b"{\"a\" 1}\n{\"b\":1}"]), [r#"{"b":1}"#]);
        assert_eq!(bodies(&[b"[\"x\", {\"a\":1}]"]), Vec::<String>::new());
        assert_eq!(bodies(&[b"{\"a\":\xff}\n{\"b\":1}"]), [r#"{"b":1}"#]);
        assert_eq!(bodies(&[b"{\"never\":"]), Vec::<String>::new());
    }

    #[test]
    fn oversized_values_are_dropped() {
        let got: Vec<String> = decode(
            &[b"{\"big\":\"0123456789", b"0123456789\"}\n{\"a\":1}\n"],
            None,
            16,
        )
        .into_iter()
        .map(|x| x.2)
        .collect();
        assert_eq!(got, [r#"{"a":1}"#]);
    }

    #[test]
    fn pending_bytes_do_not_grow_with_consumed_values() {
        let mut d = Decoder::new(64, None, "c".into());
        for _ in 0..1000 {
            d.feed(b"{\"a\":1}\n", EventTime::default());
        }
        assert_eq!(d.records, 1000);
        assert!(d.pending.len() <= 8);
    }

    #[test]
    fn parser_mode_parses_lines() {
        let mut cfg = weir_parser::ParserConfig::new("kv", "logfmt");
        cfg.time_key = None;
        let parser = Arc::new(Parser::new(&cfg).unwrap());
        let got = decode(&[b"a=1 b=x\r\n", b"\n", b"c=2"], Some(parser), 16_000);
        let bodies: Vec<String> = got.into_iter().map(|x| x.2).collect();
        assert_eq!(bodies, [r#"{"a":"1","b":"x"}"#, r#"{"c":"2"}"#]);
    }

    #[test]
    fn parser_mode_drops_long_lines() {
        let mut cfg = weir_parser::ParserConfig::new("kv", "logfmt");
        cfg.time_key = None;
        let parser = Arc::new(Parser::new(&cfg).unwrap());
        let got = decode(
            &[b"a=1", b"22222222222222222222", b"22222\nb=2\n"],
            Some(parser),
            8,
        );
        let bodies: Vec<String> = got.into_iter().map(|x| x.2).collect();
        assert_eq!(bodies, [r#"{"b":"2"}"#]);
    }

    #[test]
    fn unknown_parser_is_a_configuration_error() {
        let p = testing::params(&DESCRIPTOR, &[("parser", "nope")]).unwrap();
        let Factory::Input(make) = &DESCRIPTOR.factory else {
            unreachable!()
        };
        let e = make(&p, &testing::build_context())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("requested parser 'nope' not found"), "{e}");
    }

    #[tokio::test]
    async fn reader_thread_sends_chunks_then_closes() {
        let data: &'static [u8] = b"{\"a\":1}\n{\"b\":2}\n";
        let mut rx = spawn_reader(Box::new(data), 5).unwrap();
        let mut all = Vec::new();
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= 5);
            all.extend(chunk);
        }
        assert_eq!(all, data);
    }
}
