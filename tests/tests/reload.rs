//! Hot reload under traffic, through real file writes and the real watcher:
//! a policy edit changes decisions; a bad edit keeps the old revision and
//! says so in `/metrics` and `/policy`; 100 reloads while clients keep
//! sending requests, and every response is a well-formed allow or deny.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqflo_tests::{
    Env, HttpResponse, assert_allowed, bearer, fixture_files, with_production_grant,
};
use serde_json::Value;

const PROD_RUN: &str = "/api/v1/orgs/acme/environments/production/journeys/checkout-smoke/runs";
const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";

/// The fixture policy plus a grant that lets alice run checkout-smoke in production.
fn policy_with_grant(marker: usize) -> String {
    let base = fixture_files().policy;
    let edited = with_production_grant(&base);
    assert_ne!(
        edited, base,
        "the fixture policy has no grants block to extend"
    );
    format!("{edited}\n# edit {marker}\n")
}

/// The fixture policy, made distinct by a comment (so its revision changes).
fn policy_without_grant(marker: usize) -> String {
    format!("{}\n# edit {marker}\n", fixture_files().policy)
}

async fn revision(env: &Env) -> String {
    env.policy_status().await["revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn prod_run(env: &Env) -> HttpResponse {
    env.client
        .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_edit_changes_decisions_and_a_bad_edit_is_refused() {
    let env = Env::start().await;
    let first = revision(&env).await;
    assert!(!first.is_empty());
    let response = prod_run(&env).await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert_eq!(response.json()["code"], "risk_privilege_missing");

    // A good edit: alice may now run in production.
    env.gateway.write_policy(&policy_with_grant(0));
    let status = env
        .policy_until("the edit", |s| s["revision"] != first.as_str())
        .await;
    let second = status["revision"].as_str().unwrap_or_default().to_owned();
    assert_allowed("after the edit", &prod_run(&env).await);
    assert_eq!(env.upstream.take().len(), 1);
    let metrics = env.metrics().await;
    assert!(
        metrics.sum("reqflo_gateway_reloads_total", &[("outcome", "applied")]) >= 1.0,
        "applied reload not counted"
    );
    assert!(
        metrics.sum("reqflo_gateway_reload_duration_seconds_count", &[]) >= 1.0,
        "applied reload not timed"
    );

    // A bad edit: a grant naming a resource that does not exist.
    let bad = policy_with_grant(1).replace(
        "scope: { resource: checkout-smoke }",
        "scope: { resource: no-such-thing }",
    );
    env.gateway.write_policy(&bad);
    let status = env
        .policy_until("the rejected edit", |s| {
            !s["last_rejected_reload"].is_null()
        })
        .await;
    assert_eq!(
        status["revision"],
        second.as_str(),
        "a bad edit replaced the serving revision"
    );
    let rejected = &status["last_rejected_reload"];
    let errors = rejected["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        !errors.is_empty(),
        "a rejected reload without errors: {status:#}"
    );
    assert!(
        rejected.to_string().contains("no-such-thing"),
        "the error does not name the bad reference: {rejected}"
    );
    let metrics = env.metrics().await;
    assert!(
        metrics.sum("reqflo_gateway_reloads_total", &[("outcome", "rejected")]) >= 1.0,
        "rejected reload not counted"
    );
    // Still serving the second revision: alice may still run in production.
    assert_allowed("after the bad edit", &prod_run(&env).await);
    assert_eq!(env.upstream.take().len(), 1);

    // Unparseable YAML is refused the same way.
    let before = env.policy_status().await["last_rejected_reload"]["at"].clone();
    env.gateway.write_policy("orgs: [ this is not: yaml\n");
    env.policy_until("the unparseable edit", |s| {
        s["last_rejected_reload"]["at"] != before
            || s["last_rejected_reload"]["revision_tried"] != rejected["revision_tried"]
    })
    .await;
    assert_eq!(revision(&env).await, second);
    assert_allowed("after the unparseable edit", &prod_run(&env).await);

    // Back to the original policy: denied again, with the new revision in the body.
    env.gateway.write_policy(&policy_without_grant(2));
    let status = env
        .policy_until("the revert", |s| s["revision"] != second.as_str())
        .await;
    let response = prod_run(&env).await;
    assert_eq!(response.status, 403, "{}", response.text());
    let revision_in_body = response.json()["policy_revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        revision_in_body == status["revision"] || revision_in_body == status["policy_revision"],
        "deny body revision {revision_in_body} is not the serving one: {status:#}"
    );
}

/// The access diff of the reload that went to `policy_revision`, once finished.
async fn access_diff_to(env: &Env, what: &str, policy_revision: &str) -> Value {
    let status = env
        .policy_until(what, |s| {
            s["last_access_diff"]["to_policy_revision"] == policy_revision
        })
        .await;
    status["last_access_diff"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_reload_reports_the_access_it_changed() {
    let env = Env::start().await;
    let first = env.policy_status().await;
    assert_eq!(first["access_diff"], "on");
    assert!(first["last_access_diff"].is_null(), "{first:#}");

    env.gateway.write_policy(&policy_with_grant(0));
    let applied = env
        .policy_until("the edit", |s| {
            s["policy_revision"] != first["policy_revision"]
        })
        .await;
    let diff = access_diff_to(
        &env,
        "the edit's diff",
        applied["policy_revision"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!(diff["outcome"], "listed", "{diff:#}");
    assert_eq!(diff["from_policy_revision"], first["policy_revision"]);
    assert_eq!(diff["lost"], 0, "{diff:#}");
    assert!(diff["risky_gained"].as_u64() >= Some(1), "{diff:#}");
    // Risky first: alice's run of checkout-smoke in production is listed,
    // with its cause.
    let listed = diff["first"].as_array().cloned().unwrap_or_default();
    assert!(!listed.is_empty(), "{diff:#}");
    assert!(
        listed
            .iter()
            .all(|c| c["user"] == "alice" && c["gained"] == true),
        "{diff:#}"
    );
    assert_eq!(listed[0]["risk"][0], "production", "{diff:#}");
    let run = listed
        .iter()
        .find(|c| c["action"] == "run" && c["resource"] == "checkout-smoke")
        .unwrap_or_else(|| panic!("no run of checkout-smoke listed: {diff:#}"));
    assert_eq!(run["environment"], "production");
    assert!(
        run["causes"].to_string().contains("alice-production"),
        "{run:#}"
    );
    let metrics = env.metrics().await;
    let gained = metrics.sum(
        "reqflo_gateway_reload_access_changes_total",
        &[("direction", "gained"), ("risk", "production")],
    );
    assert!(gained >= 1.0, "production access gained not counted");
    assert_eq!(
        metrics.sum(
            "reqflo_gateway_reload_access_diffs_total",
            &[("outcome", "listed")]
        ),
        1.0
    );

    // The revert loses exactly what the edit gained.
    env.gateway.write_policy(&policy_without_grant(1));
    let reverted = env
        .policy_until("the revert", |s| {
            s["policy_revision"] != applied["policy_revision"]
        })
        .await;
    let back = access_diff_to(
        &env,
        "the revert's diff",
        reverted["policy_revision"].as_str().unwrap_or_default(),
    )
    .await;
    assert_eq!(back["gained"], 0, "{back:#}");
    assert_eq!(back["lost"], diff["gained"], "{back:#}");
    let metrics = env.metrics().await;
    assert_eq!(
        metrics.sum(
            "reqflo_gateway_reload_access_changes_total",
            &[("direction", "lost"), ("risk", "production")],
        ),
        gained
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_during_100_reloads() {
    let env = Arc::new(Env::start().await);
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for worker in 0..2 {
        let env = Arc::clone(&env);
        let stop = Arc::clone(&stop);
        clients.push(tokio::spawn(async move {
            let token = bearer("alice");
            let (mut allows, mut denies, mut failures) = (0usize, 0usize, Vec::new());
            let mut deny_revisions = HashSet::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (path, view) = if (i + worker).is_multiple_of(3) {
                    (VIEW, true)
                } else {
                    (PROD_RUN, false)
                };
                let method = if view { "GET" } else { "POST" };
                match env
                    .client
                    .try_send(method, path, &[("authorization", &token)], "")
                    .await
                {
                    Ok(r) if r.status == 200 && r.header("x-reqflo-decision-id").is_some() => {
                        allows += 1
                    }
                    Ok(r) if r.status == 403 && !view => {
                        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                        if body["code"] == "risk_privilege_missing"
                            && body["message"]
                                == "You can run this journey in staging, but not production."
                        {
                            denies += 1;
                            deny_revisions.insert(
                                body["policy_revision"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_owned(),
                            );
                        } else {
                            failures.push(format!("malformed deny: {body}"));
                        }
                    }
                    Ok(r) => failures.push(format!("{method} {path}: {} {}", r.status, r.text())),
                    Err(e) => failures.push(format!("{method} {path}: {e}")),
                }
            }
            (allows, denies, failures, deny_revisions)
        }));
    }

    let initial = env.policy_status().await;
    let mut revisions = vec![initial["revision"].as_str().unwrap_or_default().to_owned()];
    let mut policy_revisions: HashSet<String> = ["revision", "policy_revision"]
        .iter()
        .map(|k| initial[*k].as_str().unwrap_or_default().to_owned())
        .collect();
    for i in 0..100usize {
        let text = if i.is_multiple_of(2) {
            policy_with_grant(i)
        } else {
            policy_without_grant(i)
        };
        env.gateway.write_policy(&text);
        let previous = revisions.last().cloned().unwrap_or_default();
        let status = env
            .policy_until(&format!("reload {i}"), |s| {
                s["revision"] != previous.as_str()
            })
            .await;
        revisions.push(status["revision"].as_str().unwrap_or_default().to_owned());
        policy_revisions.insert(
            status["policy_revision"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        policy_revisions.insert(status["revision"].as_str().unwrap_or_default().to_owned());
    }
    stop.store(true, Ordering::Relaxed);
    let (mut allows, mut denies, mut failures, mut seen) = (0, 0, Vec::new(), HashSet::new());
    for client in clients {
        let (a, d, f, r) = client.await.expect("client task");
        allows += a;
        denies += d;
        failures.extend(f);
        seen.extend(r);
    }
    assert!(
        failures.is_empty(),
        "{} request(s) failed during the reloads:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        allows > 0 && denies > 0,
        "the traffic did not see both revisions: {allows} allows, {denies} denies"
    );
    for revision in &seen {
        assert!(
            policy_revisions.contains(revision),
            "a deny carried revision {revision}, never served"
        );
    }
    let metrics = env.metrics().await;
    assert!(
        metrics.sum("reqflo_gateway_reloads_total", &[("outcome", "applied")]) >= 100.0,
        "fewer than 100 applied reloads counted"
    );
    // Snapshot info must not keep one series per past revision.
    let info = metrics.select("reqflo_gateway_snapshot_info", &[]).count();
    assert!(
        info <= 1,
        "reqflo_gateway_snapshot_info keeps {info} series after 100 reloads (unbounded labels)"
    );
    eprintln!("{allows} allows and {denies} denies across 100 reloads");
}

/// A route-config edit that does not validate (a second route overlapping an
/// existing one) is refused the same way: old revision kept, error reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_route_config_edit_keeps_serving() {
    let env = Env::start().await;
    let first = revision(&env).await;
    env.gateway.edit_config(|config| {
        config.replacen(
            "routes:\n",
            "routes:\n  - id: journey-view-twin\n    methods: [GET]\n    path: /api/v1/orgs/{org}/journeys/{journey}\n    \
             action: run\n    resource: \"{journey}\"\n    kind: journey\n    upstream: reqflo\n",
            1,
        )
    });
    let status = env
        .policy_until("the rejected route edit", |s| {
            !s["last_rejected_reload"].is_null()
        })
        .await;
    assert_eq!(
        status["revision"],
        first.as_str(),
        "a bad route config replaced the serving revision"
    );
    let rejected = status["last_rejected_reload"].to_string();
    assert!(
        rejected.contains("journey-view"),
        "the error does not name the overlapping routes: {rejected}"
    );
    let metrics = env.metrics().await;
    assert!(metrics.sum("reqflo_gateway_reloads_total", &[("outcome", "rejected")]) >= 1.0);
    let response = env
        .client
        .get(VIEW, &[("authorization", &bearer("alice"))])
        .await;
    assert_allowed("still serving the old routes", &response);
}
