//! Slow clients: stalled request heads do not stop anyone else being served,
//! a head that does not arrive whole within `limits.head_timeout_ms` closes
//! its connection (the first request's and a kept-alive connection's next),
//! a body that stops arriving is answered 408 after
//! `limits.body_read_timeout_ms`, and an idle keep-alive connection is
//! closed after `limits.keepalive_timeout_seconds`.

use std::time::{Duration, Instant};

use reqflo_tests::raw::{self, Outcome, RawConn};
use reqflo_tests::{Env, Files, assert_allowed, bearer, fixture_files};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// How long a trickling client keeps sending: far beyond the head timeouts
/// the tests set, so a connection closed while it trickles was closed by
/// the head deadline (pingora's own timeouts are per read, and every read
/// here gets a byte within 100 ms).
const TRICKLE_FOR: Duration = Duration::from_secs(15);

/// Sends `head` a byte every 100 ms (for at most [`TRICKLE_FOR`]) and
/// reports whether the gateway closed the connection while it did, and
/// what it answered if anything.
async fn trickle(stream: TcpStream, head: Vec<u8>) -> (bool, Vec<u8>) {
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let started = Instant::now();
        for byte in head {
            if started.elapsed() > TRICKLE_FOR || writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The head was never finished: keep the connection open.
        tokio::time::sleep(TRICKLE_FOR.saturating_sub(started.elapsed())).await;
    });
    let mut answered = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(TRICKLE_FOR, reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answered.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    writing.abort();
    (closed, answered)
}

/// A head long enough to outlast every head timeout below when trickled.
fn endless_head() -> Vec<u8> {
    let mut head = format!("GET {VIEW} HTTP/1.1\r\nHost: gateway.test\r\n").into_bytes();
    head.extend(
        std::iter::repeat_n(b'a', 400)
            .enumerate()
            .flat_map(|(i, _)| {
                if i % 40 == 0 {
                    b"\r\nX-Slow: ".to_vec()
                } else {
                    b"a".to_vec()
                }
            }),
    );
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_first_head_is_cut_at_the_head_timeout() {
    let env = Env::start_with(&with_limits("  head_timeout_ms: 500\n")).await;
    let stream = TcpStream::connect(env.gateway.proxy).await.unwrap();
    let (closed, answered) = trickle(stream, endless_head()).await;
    assert!(
        closed,
        "a head trickled a byte every 100 ms was still open after {TRICKLE_FOR:?}"
    );
    assert!(
        answered.is_empty(),
        "a cut head gets no answer: {:?}",
        String::from_utf8_lossy(&answered)
    );
    env.upstream.assert_nothing("a trickled head");
    env.metrics_until("the head timeout is counted", |m| {
        m.sum("reqflo_gateway_head_timeouts_total", &[]) == 1.0
    })
    .await;
    // The gateway still serves everyone else.
    let response = env
        .client
        .get(VIEW, &[("authorization", bearer("alice").as_str())])
        .await;
    assert_allowed("a normal request after the cut", &response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connections_next_head_is_cut_too() {
    let env = Env::start_with(&with_limits(
        "  head_timeout_ms: 500\n  keepalive_timeout_seconds: 1\n",
    ))
    .await;
    let mut stream = TcpStream::connect(env.gateway.proxy).await.unwrap();
    let request = raw::request(
        "GET",
        VIEW.as_bytes(),
        &[&format!("Authorization: {}", bearer("alice"))],
        b"",
    );
    stream.write_all(&request).await.unwrap();
    // Read the first response whole (its body is short) before trickling.
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    while !first.windows(4).any(|w| w == b"\r\n\r\n") || !first.ends_with(b"}") {
        let n = tokio::time::timeout(raw::READ_BOUND, stream.read(&mut buf))
            .await
            .expect("the first response within the harness bound")
            .unwrap();
        assert!(n > 0, "closed before the first response");
        first.extend_from_slice(&buf[..n]);
    }
    assert!(
        first.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first)
    );
    let (closed, answered) = trickle(stream, endless_head()).await;
    assert!(
        closed,
        "a next head trickled a byte every 100 ms (each read within the 1 s keep-alive) was still open after {TRICKLE_FOR:?}"
    );
    assert!(
        answered.is_empty(),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    assert_eq!(
        env.upstream.take().len(),
        1,
        "only the first request reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_slower_than_the_head_timeout_is_still_served() {
    // The head timeout bounds the head only: a body that keeps arriving
    // (each part within body_read_timeout_ms) may take longer in all.
    let env = Env::start_with(&with_limits(
        "  head_timeout_ms: 300\n  body_read_timeout_ms: 5000\n",
    ))
    .await;
    let body = br#"{"environment":"staging","note":"sent slowly"}"#;
    let head = format!(
        "POST {RUNS} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        bearer("alice"),
        body.len()
    );
    let mut conn = RawConn::connect(env.gateway.proxy).await;
    conn.send(head.as_bytes()).await;
    let started = Instant::now();
    for part in body.chunks(6) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.send(part).await;
    }
    assert!(
        started.elapsed() > Duration::from_millis(600),
        "the body took longer than the head timeout"
    );
    let response = conn.read_response().await.response("a slow body");
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let seen = env.upstream.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, body.to_vec());
}
