//! Component outputs: answers, and calls that fail.

mod common;

use common::*;
use weir_core::{FlushResult, PluginKind};
use weir_wasm::component::state::State;

fn received(sb: &Sandbox, instance: &str) -> (u64, String) {
    let st = State::open(&sb.dir.path().join("state"), instance).unwrap();
    let n = st
        .get("received")
        .unwrap()
        .map(|v| u64::from_le_bytes(v.try_into().unwrap()))
        .unwrap_or(0);
    let log = String::from_utf8(st.get("log").unwrap().unwrap_or_default()).unwrap();
    (n, log)
}

#[test]
fn an_output_gets_the_chunk_and_answers() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("output"));
    let ctx = context("test_output.0");
    let o = output(&src, &ctx, &[]);
    let c = chunk("app.logs", &[r#"{"msg":"one"}"#, r#"{"msg":"two"}"#]);
    assert_eq!(flush(&o, &c), FlushResult::Ok);
    let (n, log) = received(&sb, "test_output.0");
    assert_eq!(n, 2);
    assert_eq!(
        log,
        "{\"record\":{\"msg\":\"one\"},\"tag\":\"app.logs\"}\n{\"record\":{\"msg\":\"two\"},\"tag\":\"app.logs\"}\n"
    );
    assert_eq!(counter(&ctx, PluginKind::Output, "received"), 2);
}

#[test]
fn retry_and_error_are_the_plugins_answers() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("output"));
    let c = chunk("t", &[r#"{"k":1}"#]);
    let o = output(&src, &context("r.0"), &[("answer", "retry")]);
    assert_eq!(flush(&o, &c), FlushResult::Retry);
    let ctx = context("e.0");
    let o = output(&src, &ctx, &[("answer", "error")]);
    assert_eq!(flush(&o, &c), FlushResult::Error);
    assert_eq!(counter(&ctx, PluginKind::Output, "wasm_errors"), 1);
}

#[test]
fn a_failed_flush_follows_the_policy() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("output"));
    let c = chunk("t", &[r#"{"k":1}"#]);
    let ctx = context("trap.0");
    let o = output(&src, &ctx, &[("answer", "trap")]);
    assert_eq!(
        flush(&o, &c),
        FlushResult::Retry,
        "retry is the outputs' default"
    );
    assert_eq!(counter(&ctx, PluginKind::Output, "wasm_traps"), 1);
    let o = output(
        &src,
        &context("drop.0"),
        &[("answer", "trap"), ("wasm.on_error", "drop")],
    );
    assert_eq!(flush(&o, &c), FlushResult::Error);
    let o = output(
        &src,
        &context("pass.0"),
        &[("answer", "trap"), ("wasm.on_error", "pass")],
    );
    assert_eq!(flush(&o, &c), FlushResult::Ok);
    let ctx = context("loop.0");
    let o = output(
        &src,
        &ctx,
        &[("answer", "loop"), ("wasm.time_limit", "50ms")],
    );
    assert_eq!(flush(&o, &c), FlushResult::Retry);
    assert_eq!(counter(&ctx, PluginKind::Output, "wasm_timeouts"), 1);
}

#[test]
fn the_network_can_be_granted_to_outputs() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("output"));
    let p = params(&src, &[("wasm.allow_network", "on")]).unwrap();
    assert!(
        weir_wasm::component::output::WasmOutput::new(src.clone(), &p, &context("n.0")).is_ok()
    );
}
