//! `/metrics`: the exposition parses strictly, the counters move as requests
//! are made, and the labels stay bounded (no user, path or resource id).

use reqflo_tests::{Env, Exposition, assert_allowed, bearer};

const ACME: &str = "/api/v1/orgs/acme";

fn delta(before: &Exposition, after: &Exposition, name: &str, filter: &[(&str, &str)]) -> f64 {
    after.sum(name, filter) - before.sum(name, filter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_and_labels_stay_bounded() {
    let env = Env::start().await;
    let before = env.metrics().await;
    let alice = bearer("alice");
    let auth = [("authorization", alice.as_str())];

    for _ in 0..2 {
        assert_allowed(
            "view",
            &env.client
                .get(&format!("{ACME}/journeys/checkout-smoke"), &auth)
                .await,
        );
    }
    let r = env
        .client
        .send(
            "PUT",
            &format!("{ACME}/oauth-configs/payments-oauth/scopes"),
            &auth,
            "[]",
        )
        .await;
    assert_eq!(r.status, 403);
    let r = env
        .client
        .get(&format!("{ACME}/journeys/zz-unique-resource-9431"), &auth)
        .await;
    assert_eq!(r.status, 404);
    let r = env
        .client
        .get(&format!("{ACME}/journeys/incident-drill"), &auth)
        .await;
    assert_eq!(r.status, 404);
    let r = env
        .client
        .get(
            &format!("{ACME}/journeys/../journeys/unique-dotted-path-5521"),
            &auth,
        )
        .await;
    assert_eq!(r.status, 400);
    let r = env
        .client
        .get(&format!("{ACME}/journeys/checkout-smoke"), &[])
        .await;
    assert_eq!(r.status, 401);
    let r = env.client.get("/unique-unrouted-path-7788", &auth).await;
    assert_eq!(r.status, 404);
    let r = env
        .client
        .post(
            &format!("{ACME}/journeys/checkout-smoke/runs"),
            &auth,
            "{bad json",
        )
        .await;
    assert_eq!(r.status, 400);

    let decisions = "reqflo_gateway_decisions_total";
    let rejected = "reqflo_gateway_rejected_total";
    // Requests are counted after their response is sent: wait until all nine show.
    let after = env
        .metrics_until("all nine requests counted", |m| {
            delta(&before, m, decisions, &[("route", "journey-view")]) >= 4.0
                && delta(&before, m, decisions, &[("route", "oauth-scopes")]) >= 1.0
                && delta(&before, m, rejected, &[]) >= 4.0
        })
        .await;
    assert_eq!(
        delta(
            &before,
            &after,
            decisions,
            &[
                ("route", "journey-view"),
                ("action", "view"),
                ("decision", "allow")
            ]
        ),
        2.0,
        "allowed views"
    );
    assert_eq!(
        delta(
            &before,
            &after,
            decisions,
            &[
                ("route", "oauth-scopes"),
                ("action", "manage_scopes"),
                ("decision", "deny"),
                ("code", "admin_role_required")
            ]
        ),
        1.0,
        "the admin denial"
    );
    let hidden = delta(
        &before,
        &after,
        decisions,
        &[("route", "journey-view"), ("decision", "deny")],
    );
    assert_eq!(hidden, 2.0, "the two 404 denials (hidden and nonexistent)");
    assert_eq!(
        delta(&before, &after, rejected, &[("reason", "dot_segment")]),
        1.0,
        "the dot-segment rejection"
    );
    assert_eq!(
        delta(
            &before,
            &after,
            rejected,
            &[("reason", "missing_credentials")]
        ),
        1.0,
        "the 401"
    );
    assert_eq!(
        delta(&before, &after, rejected, &[("reason", "no_route")]),
        1.0,
        "the unrouted request"
    );
    assert_eq!(
        delta(&before, &after, rejected, &[("reason", "body_not_json")]),
        1.0,
        "the bad body"
    );
    assert!(
        delta(
            &before,
            &after,
            "reqflo_gateway_decision_duration_seconds_count",
            &[]
        ) >= 5.0,
        "decision latency observations"
    );
    assert!(
        delta(
            &before,
            &after,
            "reqflo_gateway_request_duration_seconds_count",
            &[("route", "journey-view")]
        ) >= 4.0,
        "request latency by route"
    );
    // Sub-microsecond decision latency buckets exist.
    let sub_us = after
        .select("reqflo_gateway_decision_duration_seconds_bucket", &[])
        .filter_map(|s| s.labels.get("le")?.parse::<f64>().ok())
        .filter(|le| *le < 1e-6)
        .count();
    assert!(sub_us >= 1, "no sub-microsecond decision latency bucket");
    // Snapshot facts.
    assert!(after.has("reqflo_gateway_snapshot_info"), "snapshot info");
    assert!(
        after.sum("reqflo_gateway_snapshot_objects", &[]) > 0.0,
        "snapshot object counts"
    );
    assert!(
        after.has("reqflo_gateway_snapshot_age_seconds"),
        "snapshot age"
    );
    // Counter naming.
    for (name, kind) in &after.types {
        if kind == "counter" {
            assert!(
                name.ends_with("_total"),
                "counter `{name}` does not end in _total"
            );
        }
    }

    // Bounded labels: nothing request-specific anywhere in the exposition.
    let text = env.gateway.admin().get("/metrics", &[]).await.text();
    for leak in [
        "alice",
        "zz-unique-resource-9431",
        "unique-dotted-path-5521",
        "unique-unrouted-path-7788",
        "checkout-smoke",
        "/api/",
    ] {
        assert!(!text.contains(leak), "/metrics contains `{leak}`");
    }
    let label_keys: std::collections::BTreeSet<&str> = after
        .samples
        .iter()
        .flat_map(|s| s.labels.keys().map(String::as_str))
        .collect();
    for key in &label_keys {
        assert!(
            !matches!(
                *key,
                "user" | "path" | "resource" | "resource_id" | "user_id" | "decision_id" | "uri"
            ),
            "unbounded label `{key}`"
        );
    }
    for sample in &after.samples {
        for (key, value) in &sample.labels {
            assert!(
                value.len() <= 80,
                "label {key}={value:?} on {} is suspiciously long",
                sample.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_answer() {
    let env = Env::start().await;
    let admin = env.gateway.admin();
    assert_eq!(admin.get("/healthz", &[]).await.status, 200);
    assert_eq!(admin.get("/readyz", &[]).await.status, 200);
    let status = env.policy_status().await;
    for field in ["revision", "loaded_at", "counts"] {
        assert!(
            !status[field].is_null(),
            "/policy lacks `{field}`: {status:#}"
        );
    }
    assert!(status["last_rejected_reload"].is_null(), "{status:#}");
    let metrics = admin.get("/metrics", &[]).await;
    let content_type = metrics.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "content-type {content_type}"
    );
    // The proxy listener does not serve the admin endpoints.
    let r = env.client.get("/metrics", &[]).await;
    assert_ne!(r.status, 200, "the proxy listener serves /metrics");
}
