//! `InputContext::committed()`: an input with filesystem storage learns that what it emitted
//! is durable (with `storage.sync full`, fsynced); an input buffering in memory is told there
//! is nothing durable to wait for.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use weir_core::{
    BoxFuture, BuildOptions, Factory, FlushResult, Input, InputContext, Output, OutputContext,
    ParamSpec, PluginDescriptor, PluginKind, Registry,
};
use weir_event::{Chunk, EventTime, EventWriter};

static ANSWERS: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());

struct Once;

impl Input for Once {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let mut w = EventWriter::new();
            let mut body = Vec::new();
            weir_event::value::write_map_len(&mut body, 1);
            weir_event::value::write_str(&mut body, "k");
            weir_event::value::write_str(&mut body, "v");
            w.push(EventTime::new(1, 0), &[], &body);
            let tag = ctx.tag().to_string();
            ctx.emit(&tag, &w.buf, w.count).await;
            let durable = ctx.committed().await;
            ANSWERS
                .lock()
                .unwrap()
                .push((ctx.name().to_string(), durable));
            ctx.request_exit();
            ctx.cancelled().await;
            Ok(())
        })
    }
}

struct Sink;

impl Output for Sink {
    fn flush<'a>(
        &'a self,
        _chunk: &'a Chunk,
        _ctx: &'a OutputContext,
    ) -> BoxFuture<'a, FlushResult> {
        Box::pin(async { FlushResult::Ok })
    }
}

static IN: PluginDescriptor = PluginDescriptor {
    name: "once",
    kind: PluginKind::Input,
    description: "test input",
    params: &[] as &[ParamSpec],
    factory: Factory::Input(|_, _| Ok(Box::new(Once))),
};
static OUT: PluginDescriptor = PluginDescriptor {
    name: "sink",
    kind: PluginKind::Output,
    description: "test output",
    params: &[],
    factory: Factory::Output(|_, _| Ok(Box::new(Sink))),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_tells_filesystem_inputs_their_data_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Registry::new();
    r.register(&IN);
    r.register(&OUT);
    let text = format!(
        "service:\n  flush: 1\n  storage.path: {}\n  storage.sync: full\npipeline:\n  inputs:\n    - name: once\n      alias: on_disk\n      storage.type: filesystem\n    - name: once\n      alias: in_memory\n  outputs:\n    - name: sink\n      match: '*'\n",
        dir.path().display()
    );
    let cfg = weir_config::parse_str(
        &text,
        Path::new("t.yaml"),
        weir_config::Format::Yaml,
        &|_| None,
    )
    .unwrap();
    let opts = BuildOptions {
        config_dir: PathBuf::from("."),
        bundled_parsers: None,
        metrics: None,
        check_only: false,
    };
    let p = weir_core::build(&cfg, &r, &opts).unwrap();
    weir_core::run(p).await.unwrap();
    let mut answers = ANSWERS.lock().unwrap().clone();
    answers.sort();
    assert_eq!(
        answers,
        vec![
            ("in_memory".to_string(), false),
            ("on_disk".to_string(), true)
        ]
    );
}
