//! Upstream failures and connection handling: upstream down → 502 JSON, slow
//! upstream beyond the read timeout → 504 JSON, and a deny keeps the client
//! connection alive.

use reqflo_tests::raw::{self, RawConn};
use reqflo_tests::{DECISION_ID, Env, assert_allowed, bearer, body_of};

const ACME: &str = "/api/v1/orgs/acme";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_502_json() {
    let env = Env::start().await;
    // Fresh clients: whether a connection survives a 502 is the next test's business.
    let response = env
        .gateway
        .client()
        .get(
            &format!("{ACME}/journeys/checkout-smoke/logs"),
            &[("authorization", &bearer("alice"))],
        )
        .await;
    let body = body_of("upstream down", &response, 502);
    assert_eq!(body["code"], "upstream_unavailable", "{body}");
    assert!(
        response
            .header(DECISION_ID)
            .is_some_and(|id| !id.is_empty()),
        "502 without a decision id"
    );
    // A denied request to the same route is still a 403/404: the decision comes first.
    let response = env
        .gateway
        .client()
        .get(
            &format!("{ACME}/journeys/incident-drill/logs"),
            &[("authorization", &bearer("alice"))],
        )
        .await;
    body_of("denied before the dead upstream", &response, 404);
    env.metrics_until("the upstream error", |m| {
        m.sum(
            "reqflo_gateway_upstream_errors_total",
            &[("route", "journey-logs")],
        ) >= 1.0
    })
    .await;
}

/// After a 502 or 504 the gateway may close the client connection, but then
/// it must say so (`Connection: close`); a response that announces
/// keep-alive must leave the connection usable. Otherwise a client reuses
/// the connection and its next request fails with a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failure_responses_are_honest_about_the_connection() {
    let env = Env::start().await;
    let auth = format!("Authorization: {}", bearer("alice"));
    let allowed = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke").as_bytes(),
        &[&auth],
        b"",
    );
    let mut failures = Vec::new();
    for (name, path, status, hold) in [
        (
            "502 upstream down",
            "/journeys/checkout-smoke/logs",
            502,
            false,
        ),
        (
            "504 upstream timeout",
            "/journeys/checkout-smoke/report",
            504,
            true,
        ),
    ] {
        env.upstream.set_hold(hold);
        let mut conn = RawConn::connect(env.gateway.proxy).await;
        let failing = raw::request("GET", format!("{ACME}{path}").as_bytes(), &[&auth], b"");
        let response = conn.roundtrip(&failing).await.response(name);
        assert_eq!(response.status, status, "{name}");
        env.upstream.set_hold(false);
        if response.closes() {
            continue;
        }
        match conn.roundtrip(&allowed).await {
            reqflo_tests::Outcome::Response(next) => {
                assert_allowed(&format!("after the {name}"), &next);
            }
            reqflo_tests::Outcome::Closed => failures.push(format!(
                "{name}: answered with `Connection: {}` and then closed the connection",
                response.header("connection").unwrap_or("(none)")
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_is_504_json() {
    let env = Env::start().await;
    env.upstream.set_hold(true);
    let path = format!("{ACME}/journeys/checkout-smoke/report");
    let response = env
        .client
        .get(&path, &[("authorization", &bearer("alice"))])
        .await;
    let body = body_of("slow upstream", &response, 504);
    assert_eq!(body["code"], "upstream_timeout", "{body}");
    // The upstream got the request exactly once: no retry.
    let got = env.upstream.take();
    assert_eq!(
        got.len(),
        1,
        "the gateway retried a timed-out request: {got:?}"
    );
    assert_eq!(got[0].target, path);
    env.upstream.set_hold(false);
    let response = env
        .client
        .get(&path, &[("authorization", &bearer("alice"))])
        .await;
    assert_allowed("after the timeout", &response);
}

/// Two requests on one TCP connection, the first denied: the second is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_keeps_the_connection_alive() {
    let env = Env::start().await;
    let auth = format!("Authorization: {}", bearer("alice"));
    let denied_403 = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke/preview?environment=production").as_bytes(),
        &[&auth],
        b"",
    );
    let denied_404 = raw::request(
        "GET",
        format!("{ACME}/journeys/incident-drill").as_bytes(),
        &[&auth],
        b"",
    );
    let no_route = raw::request("GET", b"/nowhere/at/all", &[&auth], b"");
    let unauthenticated = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke").as_bytes(),
        &[],
        b"",
    );
    let bad_path = raw::request(
        "GET",
        format!("{ACME}/journeys/../journeys/checkout-smoke").as_bytes(),
        &[&auth],
        b"",
    );
    let allowed = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke").as_bytes(),
        &[&auth],
        b"",
    );
    let mut conn = RawConn::connect(env.gateway.proxy).await;
    for (name, first, status) in [
        ("403", &denied_403, 403),
        ("404 hidden", &denied_404, 404),
        ("404 no route", &no_route, 404),
        ("401", &unauthenticated, 401),
        ("400 dot segment", &bad_path, 400),
    ] {
        let response = conn.roundtrip(first).await.response(name);
        assert_eq!(
            response.status,
            status,
            "{name}: {:?}",
            String::from_utf8_lossy(&response.body)
        );
        assert!(!response.closes(), "{name}: the deny closed the connection");
        assert_eq!(
            response.header("content-length").map(str::to_owned),
            Some(response.body.len().to_string()),
            "{name}: a deny needs a Content-Length"
        );
        let response = conn
            .roundtrip(&allowed)
            .await
            .response(&format!("the request after a {name}"));
        assert_allowed(&format!("after {name}"), &response);
    }
    assert_eq!(
        env.upstream.take().len(),
        5,
        "exactly the allowed requests reached the upstream"
    );
}

/// A denied request with a small body (declared by `Content-Length`): HTTP
/// allows the connection to be kept (the gateway can drain the few bytes), so
/// the next request on it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_of_a_request_with_a_body_keeps_the_connection_alive() {
    let env = Env::start().await;
    let auth = format!("Authorization: {}", bearer("alice"));
    let allowed = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke").as_bytes(),
        &[&auth],
        b"",
    );
    let cases = [
        (
            "403 policy denial",
            raw::request(
                "PUT",
                format!("{ACME}/oauth-configs/payments-oauth/scopes").as_bytes(),
                &[&auth, "Content-Type: application/json"],
                b"[\"admin\"]",
            ),
            403,
        ),
        (
            "403 from a body environment",
            raw::request(
                "POST",
                format!("{ACME}/journeys/checkout-smoke/runs").as_bytes(),
                &[&auth, "Content-Type: application/json"],
                br#"{"environment":"production"}"#,
            ),
            403,
        ),
        (
            "400 bad body",
            raw::request(
                "POST",
                format!("{ACME}/journeys/checkout-smoke/runs").as_bytes(),
                &[&auth, "Content-Type: application/json"],
                br#"{"environment":"staging","environment":"production"}"#,
            ),
            400,
        ),
    ];
    let mut failures = Vec::new();
    for (name, denied, status) in &cases {
        let mut conn = RawConn::connect(env.gateway.proxy).await;
        let response = conn.roundtrip(denied).await.response(name);
        assert_eq!(
            response.status,
            *status,
            "{name}: {:?}",
            String::from_utf8_lossy(&response.body)
        );
        if response.closes() {
            failures.push(format!("{name}: answered with `Connection: close`"));
            continue;
        }
        match conn.roundtrip(&allowed).await {
            reqflo_tests::Outcome::Response(next) => {
                assert_allowed(&format!("after {name}"), &next);
            }
            reqflo_tests::Outcome::Closed => {
                failures.push(format!("{name}: connection closed after the deny"))
            }
        };
        env.upstream.take();
    }
    assert!(
        failures.is_empty(),
        "denials closed the connection:\n{}",
        failures.join("\n")
    );
}

/// A denied request with a body that the gateway never read: the connection
/// is still usable (the body is drained) or closed cleanly — never misread
/// as the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_body_is_not_taken_for_the_next_request() {
    let env = Env::start().await;
    let auth = format!("Authorization: {}", bearer("alice"));
    // The smuggled request inside the body would be allowed if it were parsed as a request.
    let inner = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke/report").as_bytes(),
        &[&auth],
        b"",
    );
    let denied = raw::request(
        "POST",
        format!("{ACME}/components/diagnostics/invocations").as_bytes(),
        &[&auth, "Content-Type: application/octet-stream"],
        &inner,
    );
    let mut conn = RawConn::connect(env.gateway.proxy).await;
    let response = conn.roundtrip(&denied).await.response("denied with a body");
    assert_eq!(response.status, 403);
    let allowed = raw::request(
        "GET",
        format!("{ACME}/journeys/checkout-smoke").as_bytes(),
        &[&auth],
        b"",
    );
    if !response.closes() {
        let next = conn.roundtrip(&allowed).await.response("next request");
        assert_allowed("next request", &next);
        let got = env.upstream.take();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].target.ends_with("/checkout-smoke"),
            "the body was taken for a request: {got:?}"
        );
    }
    env.upstream.assert_nothing("the body is not a request");
}
