//! The host's test output over outgoing HTTP: each `flush` POSTs the batch (JSON lines) to its
//! `url` parameter through `wasi:http`, and answers `ok` on a 2xx status, `retry` otherwise.
//! Why a request failed goes to Weir's log ("POST failed: ..."), so the tests can tell a
//! refused request from one that reached the server.

wit_bindgen::generate!({
    world: "weir-test:http-output/http-output",
    path: ["../../../../../wit", "wit"],
    generate_all,
});

use exports::weir::plugin::plugin::Guest as PluginGuest;
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use weir::plugin::host;
use weir::plugin::types::{EventFormat, Level, ParamSpec, ParamType, PluginInfo, PluginKind};

struct Plugin;

impl PluginGuest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test_http_output".into(),
            kind: PluginKind::Output,
            description: "Test output of the WebAssembly host: POSTs batches over wasi:http."
                .into(),
            version: "1.0.0".into(),
            event_format: EventFormat::Json,
            params: vec![ParamSpec {
                name: "url".into(),
                kind: ParamType::String,
                default: None,
                required: true,
                description: "http://HOST:PORT/PATH to POST batches to.".into(),
            }],
        }
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

impl Guest for Plugin {
    fn flush(events: Batch) -> FlushResult {
        match post(&events.events) {
            Ok(status) if (200..300).contains(&status) => FlushResult::Ok,
            Ok(status) => {
                host::log(Level::Warn, &format!("POST answered {status}"));
                FlushResult::Retry
            }
            Err(e) => {
                host::log(Level::Warn, &format!("POST failed: {e}"));
                FlushResult::Retry
            }
        }
    }
}

/// Sends `body` and returns the response's status.
fn post(body: &[u8]) -> Result<u16, String> {
    let url = host::config("url").unwrap_or_default();
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::from_list(&[
        ("content-type".to_string(), b"application/x-ndjson".to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ])
    .map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let bad = |what: &str| format!("cannot set the request's {what}");
    request.set_method(&Method::Post).map_err(|()| bad("method"))?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| bad("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| bad("authority"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| bad("path"))?;
    let out = request.body().map_err(|()| bad("body"))?;
    let response = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    // A refused request closes the body before it is written: the response then says why.
    let written = write_body(out, body);
    response.subscribe().block();
    let answer = response
        .get()
        .ok_or("no response")?
        .map_err(|()| "the response was taken already")?
        .map_err(|e| format!("{e:?}"))?;
    written?;
    Ok(answer.status())
}

fn write_body(out: OutgoingBody, body: &[u8]) -> Result<(), String> {
    {
        let stream = out.write().map_err(|()| "no body stream".to_string())?;
        // A blocking write takes at most 4096 bytes.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(out, None).map_err(|e| format!("{e:?}"))
}

export!(Plugin);
