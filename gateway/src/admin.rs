//! The admin listener: `/metrics`, `/healthz`, `/readyz`, `/policy`.
//!
//! Separate from the proxy listener (bind it to a private address), served
//! by hyper on its own small runtime so it answers even when the proxy's
//! workers are saturated.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::{Shared, unix_seconds};

/// Serves the admin endpoints on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut stopped = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                let mut conn_stop = stop.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, &req)) }
                    });
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = conn_stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
                    }
                });
            }
            _ = stopped.wait_for(|s| *s) => break,
        }
    }
}

/// Answers one admin request.
pub fn handle(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match req.uri().path() {
        "/metrics" => metrics(shared),
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            if shared.draining.load(Ordering::Relaxed) {
                text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
            } else {
                // A snapshot is always loaded once the gateway has started
                // (it refuses to start without one); every upstream name
                // must have resolved at least once.
                let mut waiting = shared.upstreams.not_ready();
                waiting.extend(shared.keysets.not_ready());
                waiting.extend(shared.bundle.not_ready(&shared.snapshot.load()));
                if waiting.is_empty() {
                    let snapshot = shared.snapshot.load();
                    match shared.bundle.ready_note(&snapshot) {
                        Some(note) => text(StatusCode::OK, &format!("ready\n{note}\n")),
                        None => text(StatusCode::OK, "ready\n"),
                    }
                } else {
                    let mut body = String::from("not ready:\n");
                    for reason in waiting {
                        body.push_str(&reason);
                        body.push('\n');
                    }
                    text(StatusCode::SERVICE_UNAVAILABLE, &body)
                }
            }
        }
        "/policy" => policy(shared),
        "/upstreams" => json_response(
            StatusCode::OK,
            &json!({ "upstreams": shared.upstreams.status() }),
        ),
        JWKS_PATH => jwks(shared),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /metrics, /healthz, /readyz, /policy, /upstreams, /.well-known/jwks.json\n",
        ),
    }
}

fn metrics(shared: &Shared) -> Response<Full<Bytes>> {
    let snapshot = shared.snapshot.load();
    let age = SystemTime::now()
        .duration_since(snapshot.loaded_at)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    shared.metrics.snapshot_age.set(age);
    shared.keysets.observe();
    shared.bundle.observe(snapshot.settings.bundle.as_ref());
    // Set here, not per request: the cache's size only matters when scraped.
    shared
        .metrics
        .token_cache_entries
        .set(i64::try_from(shared.tokens.len()).unwrap_or(i64::MAX));
    match shared.metrics.encode() {
        Ok(body) => Response::builder()
            .status(StatusCode::OK)
            .header(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode metrics: {e}\n"),
        ),
    }
}

/// The serving snapshot and the reload history, as JSON.
pub fn policy_json(shared: &Shared) -> serde_json::Value {
    let snapshot = shared.snapshot.load();
    let status = shared.reloads.lock().map(|s| s.clone()).unwrap_or_default();
    let rejected = status.last_rejected.map(|r| {
        json!({
            "at": unix_seconds(r.at),
            "revision_tried": r.revision_tried,
            "errors": r.errors.iter().map(|e| json!({
                "kind": e.kind,
                "file": e.file,
                "line": e.line,
                "column": e.column,
                "route": e.route,
                "message": e.message,
                "text": e.to_string(),
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "revision": snapshot.revision,
        "config_revision": snapshot.config_revision,
        "policy_revision": snapshot.policy_revision,
        "loaded_at": unix_seconds(snapshot.loaded_at),
        "age_seconds": SystemTime::now().duration_since(snapshot.loaded_at).map(|d| d.as_secs_f64()).unwrap_or(0.0),
        "config_path": snapshot.config_path,
        "mode": snapshot.settings.mode.as_str(),
        "counts": snapshot.policy.counts(),
        "routes": snapshot.route_count(),
        "assertion": snapshot.settings.assertion.as_ref().map(|a| json!({
            "algorithm": a.key.algorithm(),
            "kid": a.key.kid(),
            "ttl_seconds": a.ttl.as_secs(),
            "jwks": JWKS_PATH,
        })),
        "last_rejected_reload": rejected,
        "bundle": snapshot.bundle.as_ref().map(|b| bundle_json(b)),
        "bundle_source": snapshot.settings.bundle.as_ref().filter(|b| b.fetch.is_some()).map(|b| shared.bundle.status_json(b)),
        "access_diff": if snapshot.settings.access_diff.is_some() { "on" } else { "off" },
        "last_access_diff": shared.access_diffs.last().map(|s| serde_json::to_value(&*s).unwrap_or_default()),
        "jwks": shared.keysets.status(),
    })
}

/// A bundle's state: the manifest, and per org the version the manifest
/// names, the one serving, and why the named one was rejected.
fn bundle_json(b: &reqflo_config::bundle::BundleState) -> serde_json::Value {
    json!({
        "revision": b.revision,
        "all_or_nothing": b.all_or_nothing,
        "signature": if b.verified { "verified" } else { "unsigned" },
        "signed_by": b.signed_by,
        "shard": b.shard.describe(),
        "orgs_not_served": b.not_served,
        "orgs_compiled_last": b.compiled,
        "missing": b.missing,
        "cache_ignored": b.cache_ignored,
        "orgs": b.orgs.iter().map(|o| json!({
            "org": o.org,
            "sha256": o.sha256,
            "serving_sha256": o.serving_sha256(),
            "rejected": o.rejected.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn policy(shared: &Shared) -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, &policy_json(shared))
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Where the decision assertion's public keys are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The public keys backends verify decision assertions with: the serving
/// key and the one it replaced, so an assertion signed just before a key
/// rotation still verifies until it expires. `{"keys": []}` when the
/// assertion is off.
fn jwks(shared: &Shared) -> Response<Full<Bytes>> {
    let keys = shared.assertion_keys();
    let body = serde_json::to_vec(&json!({ "keys": keys })).unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/jwk-set+json")
        .header(http::header::CACHE_CONTROL, "max-age=60")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap_or_default()
}
