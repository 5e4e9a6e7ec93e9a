//! Component filters: what a well-behaved plugin does, and what Weir does when a plugin loops,
//! eats memory, traps or fails.

mod common;

use common::*;
use weir_core::{FilterOutcome, PluginKind};

#[test]
fn a_filter_changes_records_with_its_configuration_and_state() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    assert_eq!(src.name(), "test_filter");
    assert_eq!(src.kind(), PluginKind::Filter);
    let ctx = context("test_filter.0");
    let f = filter(&src, &ctx, &[("greeting", "hi")]);
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"msg":"a"}"#, r#"{"msg":"b"}"#]);
    assert_eq!(outcome, FilterOutcome::Modified);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["msg"], "a");
    assert_eq!(recs[0]["filtered_by"], "test_filter");
    assert_eq!(recs[0]["greeting"], "hi");
    assert_eq!(recs[0]["version"], 1);
    assert_eq!(recs[0]["calls"], 1);
    let (_, recs) = run_filter(&f, "app", &[r#"{"msg":"c"}"#]);
    assert_eq!(recs[0]["calls"], 2, "state kept between calls");
    // The plugin's own figures and the host's show in the instance's metrics.
    assert_eq!(counter(&ctx, PluginKind::Filter, "batches"), 2);
    let gauges = ctx
        .metrics
        .plugin(PluginKind::Filter, "test_filter.0")
        .gauges();
    assert!(gauges
        .iter()
        .any(|(n, v)| &**n == "last_batch_records" && *v == 1.0));
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_traps"), 0);
}

#[test]
fn defaults_apply_and_records_can_be_dropped() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let f = filter(&src, &context("test_filter.1"), &[]);
    let (_, recs) = run_filter(&f, "app", &[r#"{"action":"drop"}"#, r#"{"k":1}"#]);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["greeting"], "hello", "the declared default");
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"action":"drop"}"#]);
    assert_eq!(outcome, FilterOutcome::Modified);
    assert!(recs.is_empty());
}

#[test]
fn configuration_is_validated_like_a_native_plugins() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let err = params(&src, &[("greetings", "x")]).unwrap_err().to_string();
    assert!(err.contains("unknown parameter"), "{err}");
    assert!(err.contains("greeting"), "suggests the nearest: {err}");
    let err = params(&src, &[("fail_init", "maybe")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected a boolean"), "{err}");
    let err = params(&src, &[("wasm.allow_network", "on")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown parameter"),
        "filters are never granted the network: {err}"
    );
    let p = params(&src, &[("wasm.on_error", "explode")]).unwrap();
    let err = weir_wasm::component::filter::WasmFilter::new(src.clone(), &p, &context("x.0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected drop, pass or retry"), "{err}");
}

#[test]
fn an_init_that_fails_is_a_configuration_error() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let p = params(&src, &[("fail_init", "on")]).unwrap();
    let err = weir_wasm::component::filter::WasmFilter::new(src.clone(), &p, &context("x.0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("init failed: fail_init is set"), "{err}");
}

#[test]
fn an_init_that_never_returns_is_stopped() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter-loop-init"));
    let p = params(&src, &[("wasm.time_limit", "100ms")]).unwrap();
    let err = weir_wasm::component::filter::WasmFilter::new(src.clone(), &p, &context("x.0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("time limit"), "{err}");
}

#[test]
fn an_endless_loop_is_stopped_and_the_batch_follows_the_policy() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let ctx = context("looper.0");
    let f = filter(
        &src,
        &ctx,
        &[("wasm.time_limit", "100ms"), ("wasm.on_error", "drop")],
    );
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"action":"loop"}"#, r#"{"k":1}"#]);
    assert_eq!(outcome, FilterOutcome::Modified);
    assert!(recs.is_empty(), "dropped");
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_timeouts"), 1);
    assert_eq!(
        counter(&ctx, PluginKind::Filter, "wasm_reinstantiations"),
        1
    );
    // The fresh instance works, and the state the old one left is still there.
    let (_, recs) = run_filter(&f, "app", &[r#"{"k":2}"#]);
    assert_eq!(recs[0]["filtered_by"], "test_filter");
    assert_eq!(recs[0]["calls"], 2);
}

#[test]
fn a_memory_bomb_meets_its_limit() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let ctx = context("bomb.0");
    let f = filter(
        &src,
        &ctx,
        &[("wasm.memory_limit", "16M"), ("wasm.on_error", "pass")],
    );
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"action":"bomb"}"#]);
    assert_eq!(outcome, FilterOutcome::Unchanged, "passed on");
    assert_eq!(recs[0]["action"], "bomb");
    assert_eq!(
        counter(&ctx, PluginKind::Filter, "wasm_memory_limit_hits"),
        1
    );
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_traps"), 0);
    let hog = ctx
        .metrics
        .plugin(PluginKind::Filter, "bomb.0")
        .gauge("hog")
        .get();
    assert!(
        (1.0..16.0).contains(&hog),
        "it got some memory, not more than its limit: {hog} MB"
    );
    let (outcome, _) = run_filter(&f, "app", &[r#"{"k":1}"#]);
    assert_eq!(
        outcome,
        FilterOutcome::Modified,
        "a fresh instance serves the next batch"
    );
}

#[test]
fn a_trap_follows_the_policy() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));

    let ctx = context("trap_pass.0");
    let f = filter(&src, &ctx, &[]);
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"action":"trap","k":1}"#]);
    assert_eq!(outcome, FilterOutcome::Unchanged, "pass is the default");
    assert_eq!(recs[0]["k"], 1);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_traps"), 1);

    let ctx = context("trap_drop.0");
    let f = filter(&src, &ctx, &[("wasm.on_error", "drop")]);
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"action":"trap"}"#]);
    assert_eq!((outcome, recs.len()), (FilterOutcome::Modified, 0));

    // Retry: once more on a fresh instance, then pass.
    let ctx = context("trap_retry.0");
    let f = filter(&src, &ctx, &[("wasm.on_error", "retry")]);
    let (outcome, _) = run_filter(&f, "app", &[r#"{"action":"trap"}"#]);
    assert_eq!(outcome, FilterOutcome::Unchanged);
    assert_eq!(
        counter(&ctx, PluginKind::Filter, "wasm_traps"),
        2,
        "tried twice"
    );
    assert_eq!(
        counter(&ctx, PluginKind::Filter, "wasm_reinstantiations"),
        2
    );
}

#[test]
fn an_error_the_plugin_returns_follows_the_policy() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let ctx = context("err.0");
    let f = filter(&src, &ctx, &[("wasm.on_error", "retry")]);
    let (outcome, _) = run_filter(&f, "app", &[r#"{"action":"error"}"#]);
    assert_eq!(outcome, FilterOutcome::Unchanged);
    assert_eq!(counter(&ctx, PluginKind::Filter, "wasm_errors"), 2);
    assert_eq!(
        counter(&ctx, PluginKind::Filter, "wasm_reinstantiations"),
        0,
        "an error is an answer, not a broken instance"
    );
}

#[test]
fn records_of_another_tag_leave_the_batch() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    let ctx = context("split.0");
    let f = filter(&src, &ctx, &[]);
    let (_, recs) = run_filter(&f, "app", &[r#"{"action":"split"}"#, r#"{"k":1}"#]);
    assert_eq!(recs.len(), 1, "the split record went to the emitter");
    assert_eq!(recs[0]["k"], 1);
}

#[test]
fn state_outlives_the_instance() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter"));
    {
        let f = filter(&src, &context("keeper.0"), &[]);
        run_filter(&f, "app", &[r#"{"k":1}"#]);
        run_filter(&f, "app", &[r#"{"k":1}"#]);
    }
    let f = filter(&src, &context("keeper.0"), &[]);
    let (_, recs) = run_filter(&f, "app", &[r#"{"k":1}"#]);
    assert_eq!(recs[0]["calls"], 3);
    let other = filter(&src, &context("other.0"), &[]);
    let (_, recs) = run_filter(&other, "app", &[r#"{"k":1}"#]);
    assert_eq!(recs[0]["calls"], 1, "state is per instance name");
}

#[test]
fn the_compile_cache_is_used_the_second_time() {
    let sb = Sandbox::new();
    let first = sb.load(&guest("filter")).current();
    let second = sb.load(&guest("filter")).current();
    assert!(first.load.compiled);
    assert!(!second.load.compiled, "loaded from the cache");
    assert_eq!(first.info, second.info);
}

#[test]
fn not_a_plugin_is_refused_with_a_reason() {
    let sb = Sandbox::new();
    let dir = sb.dir.path();
    let module = dir.join("m.wat");
    std::fs::write(&module, "(module)").unwrap();
    let err = weir_wasm::component::PluginSource::load(&module, sb.settings())
        .unwrap_err()
        .to_string();
    assert!(err.contains("core WebAssembly module"), "{err}");
    let comp = dir.join("c.wat");
    std::fs::write(&comp, "(component)").unwrap();
    let err = weir_wasm::component::PluginSource::load(&comp, sb.settings())
        .unwrap_err()
        .to_string();
    assert!(err.contains("none of the worlds"), "{err}");
    let junk = dir.join("j.wasm");
    std::fs::write(&junk, "junk").unwrap();
    assert!(weir_wasm::component::PluginSource::load(&junk, sb.settings()).is_err());
}

#[test]
fn msgpack_events_handed_back_as_they_came_leave_the_batch_unchanged() {
    let sb = Sandbox::new();
    let src = sb.load(&guest("filter-msgpack"));
    let f = filter(&src, &context("mp.0"), &[]);
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"k":1}"#, r#"{"k":2}"#]);
    assert_eq!(outcome, FilterOutcome::Unchanged);
    assert_eq!(recs.len(), 2);
    // With a copy under another tag, the batch itself is still what came in.
    let f = filter(&src, &context("mp.1"), &[("greeting", "copy")]);
    let (outcome, recs) = run_filter(&f, "app", &[r#"{"k":1}"#, r#"{"k":2}"#]);
    assert_eq!(outcome, FilterOutcome::Modified);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1]["k"], 2);
}
