//! No oracle: whether a resource or an environment exists but is hidden
//! cannot be learned from any response. For each pair below — one request
//! naming something hidden from alice, one naming something that does not
//! exist, spelled with the same length — the status, every header and the
//! body are identical once the id the client sent and the decision id are
//! blanked. (docs/access-model-decisions.md, "No oracle".)

use reqflo_tests::raw::{self, Outcome, RawResponse};
use reqflo_tests::{Env, bearer};

/// `(what, hidden request target, missing request target, hidden id, missing id)`.
const PAIRS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "a hidden journey vs a made-up one",
        "/api/v1/orgs/acme/journeys/incident-drill",
        "/api/v1/orgs/acme/journeys/incident-drilx",
        "incident-drill",
        "incident-drilx",
    ),
    (
        "a hidden journey vs a made-up one, both with an unknown environment",
        "/api/v1/orgs/acme/journeys/incident-drill/preview?environment=nowhere",
        "/api/v1/orgs/acme/journeys/incident-drilx/preview?environment=nowhere",
        "incident-drill",
        "incident-drilx",
    ),
    (
        "a hidden journey vs a made-up one, both with a hidden environment",
        "/api/v1/orgs/acme/journeys/incident-drill/preview?environment=drill-lab",
        "/api/v1/orgs/acme/journeys/incident-drilx/preview?environment=drill-lab",
        "incident-drill",
        "incident-drilx",
    ),
    (
        "a hidden environment vs a made-up one",
        "/api/v1/orgs/acme/journeys/checkout-smoke/preview?environment=drill-lab",
        "/api/v1/orgs/acme/journeys/checkout-smoke/preview?environment=drill-lax",
        "drill-lab",
        "drill-lax",
    ),
    (
        "a journey id on a component route vs a made-up id",
        "/api/v1/orgs/acme/components/checkout-smoke/invocations",
        "/api/v1/orgs/acme/components/checkout-smokx/invocations",
        "checkout-smoke",
        "checkout-smokx",
    ),
    (
        "a hidden journey on a component route vs a made-up id",
        "/api/v1/orgs/acme/components/incident-drill/invocations",
        "/api/v1/orgs/acme/components/incident-drilx/invocations",
        "incident-drill",
        "incident-drilx",
    ),
];

fn blank(r: &RawResponse, id: &str) -> (u16, Vec<(String, String)>, String) {
    let decision = r
        .header("x-reqflo-decision-id")
        .unwrap_or_default()
        .to_owned();
    let headers = r
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.replace(&decision, "DECISION")))
        .collect();
    let body = String::from_utf8_lossy(&r.body)
        .replace(&decision, "DECISION")
        .replace(id, "ID");
    (r.status, headers, body)
}

async fn ask(env: &Env, target: &str) -> RawResponse {
    let method = if target.contains("/invocations") {
        "POST"
    } else {
        "GET"
    };
    let bytes = raw::request(
        method,
        target.as_bytes(),
        &[&format!("Authorization: {}", bearer("alice"))],
        b"",
    );
    match raw::roundtrip(env.gateway.proxy, &bytes).await {
        Outcome::Response(r) => r,
        Outcome::Closed => panic!("{target}: closed without an answer"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_reads_exactly_as_missing() {
    let env = Env::start().await;
    for (what, hidden_target, missing_target, hidden_id, missing_id) in PAIRS {
        let hidden = ask(&env, hidden_target).await;
        let missing = ask(&env, missing_target).await;
        assert!(
            matches!(hidden.status, 403 | 404),
            "{what}: hidden answered {}",
            hidden.status
        );
        assert_eq!(
            blank(&hidden, hidden_id),
            blank(&missing, missing_id),
            "{what}: the answers differ"
        );
    }
    env.upstream.assert_nothing("every request was denied");
    // The hidden things exist: Support Tier 2 gets past both.
    let tara = raw::request(
        "GET",
        b"/api/v1/orgs/acme/journeys/checkout-smoke/preview?environment=drill-lab",
        &[&format!("Authorization: {}", bearer("tara"))],
        b"",
    );
    match raw::roundtrip(env.gateway.proxy, &tara).await {
        Outcome::Response(r) => assert_ne!(
            r.json()["code"],
            "environment_not_found",
            "tara sees drill-lab"
        ),
        Outcome::Closed => panic!("closed"),
    }
}
