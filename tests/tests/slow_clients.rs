//! Slow clients: stalled request heads do not stop anyone else being served,
//! a body that stops arriving is answered 408 after `limits.body_read_timeout_ms`,
//! and an idle keep-alive connection is closed after
//! `limits.keepalive_timeout_seconds`.

use std::time::{Duration, Instant};

use reqflo_tests::raw::{self, Outcome, RawConn};
use reqflo_tests::{Env, Files, assert_allowed, bearer, fixture_files};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";
const RUNS: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/runs";

fn with_limits(limits: &str) -> Files {
    let mut files = fixture_files();
    files.config = files.config.replace(
        "limits:\n  max_body_bytes: 4096\n",
        &format!("limits:\n  max_body_bytes: 4096\n{limits}"),
    );
    assert!(
        files.config.contains(limits),
        "the fixture's limits block moved"
    );
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_stalled_heads_do_not_stop_a_normal_request() {
    let env = Env::start().await;
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(env.gateway.proxy).await.unwrap();
        s.write_all(b"GET /api/v1/orgs/acme/journeys/checkout-smoke HTTP/1.1\r\nHost: gateway.test\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(s);
    }
    for n in 0..5 {
        let response = env
            .client
            .get(VIEW, &[("authorization", bearer("alice").as_str())])
            .await;
        assert_allowed(&format!("request {n} beside 200 stalled heads"), &response);
    }
    assert_eq!(
        env.upstream.take().len(),
        5,
        "only the normal requests reached the upstream"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_408_and_reaches_nobody() {
    let env = Env::start_with(&with_limits("  body_read_timeout_ms: 300\n")).await;
    let token = bearer("alice");
    let head = format!(
        "POST {RUNS} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: {token}\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{{\"environ"
    );
    let mut conn = RawConn::connect(env.gateway.proxy).await;
    let start = Instant::now();
    let outcome = conn.roundtrip(head.as_bytes()).await;
    let waited = start.elapsed();
    match outcome {
        Outcome::Response(r) => {
            assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(r.json()["code"], "body_timeout");
        }
        Outcome::Closed => panic!("closed without an answer"),
    }
    assert!(
        waited < Duration::from_secs(15),
        "answered only after {waited:?}"
    );
    env.upstream.assert_nothing("a stalled body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keepalive_connection_is_closed() {
    let env = Env::start_with(&with_limits("  keepalive_timeout_seconds: 1\n")).await;
    let mut conn = RawConn::connect(env.gateway.proxy).await;
    let request = raw::request(
        "GET",
        VIEW.as_bytes(),
        &[&format!("Authorization: {}", bearer("alice"))],
        b"",
    );
    match conn.roundtrip(&request).await {
        Outcome::Response(r) => assert_eq!(r.status, 200),
        Outcome::Closed => panic!("closed without an answer"),
    }
    // Nothing more is sent: the gateway closes the connection after about a
    // second (the read is bounded by the harness's READ_BOUND).
    let start = Instant::now();
    assert!(
        matches!(conn.read_response().await, Outcome::Closed),
        "the idle connection stayed open"
    );
    assert!(
        start.elapsed() < raw::READ_BOUND,
        "closed only at the harness bound"
    );
}
