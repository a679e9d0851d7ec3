//! A gateway serving a policy bundle from a real directory: one shard's
//! orgs decided and forwarded, another org answered 421 `org_not_served`
//! (never forwarded, counted), a republished bundle applied with only the
//! changed org compiled, and all of it on `/policy` and `/metrics`.

use reqflo_tests::bundle_server::publish;
use reqflo_tests::{
    Env, Files, OrPanic, assert_allowed, bearer, fixture_files, with_production_grant,
};

const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";
const PROD_RUN: &str = "/api/v1/orgs/acme/environments/production/journeys/checkout-smoke/runs";
const GLOBEX: &str = "/api/v1/orgs/globex/journeys/anything";

fn build(policy: &str, dir: &std::path::Path) -> String {
    publish(policy, dir, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_bundle_serves_its_orgs_refuses_the_others_and_reloads_one_org() {
    let bundle = tempfile::tempdir().or_panic("a bundle directory");
    let fixtures = fixture_files();
    let first = build(&fixtures.policy, bundle.path());
    let manifest = bundle.path().join("manifest.json");
    let files = Files {
        config: format!(
            "{}\nbundle:\n  shard: {{ orgs: [acme] }}\n",
            fixtures.config.replace(
                "policy: policy.yaml",
                &format!("policy: {}", manifest.display())
            )
        ),
        policy: String::new(),
    };
    let env = Env::start_with(&files).await;

    // acme is served: decided and forwarded.
    let response = env
        .client
        .get(VIEW, &[("authorization", &bearer("alice"))])
        .await;
    assert_allowed("acme, in the shard", &response);
    assert_eq!(env.upstream.take().len(), 1);
    let response = env
        .client
        .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
        .await;
    assert_eq!(response.status, 403, "{}", response.text());

    // globex is outside the shard: 421, not forwarded, counted, whoever asks.
    for user in ["gus", "alice"] {
        let response = env
            .client
            .get(GLOBEX, &[("authorization", &bearer(user))])
            .await;
        assert_eq!(response.status, 421, "{}", response.text());
        let body = response.json();
        assert_eq!(body["code"], "org_not_served", "{body}");
        assert_eq!(body["decision"], "error", "{body}");
    }
    assert!(
        env.upstream.take().is_empty(),
        "a request outside the shard was forwarded"
    );
    let metrics = env
        .metrics_until("org_not_served counted", |m| {
            m.sum("reqflo_gateway_org_not_served_total", &[]) >= 2.0
        })
        .await;
    assert_eq!(
        metrics.sum(
            "reqflo_gateway_bundle_info",
            &[("revision", first.as_str())]
        ),
        1.0
    );
    assert_eq!(
        metrics.sum("reqflo_gateway_bundle_orgs", &[("state", "serving")]),
        1.0
    );
    assert_eq!(
        metrics.sum("reqflo_gateway_bundle_orgs", &[("state", "not_served")]),
        1.0
    );

    let status = env.policy_status().await;
    let b = &status["bundle"];
    assert_eq!(b["revision"], first.as_str(), "{status:#}");
    assert_eq!(b["shard"], "orgs:1");
    assert_eq!(b["orgs_not_served"], 1);
    assert_eq!(b["signature"], "unsigned");
    assert_eq!(b["orgs"][0]["org"], "acme");
    assert_eq!(b["orgs"][0]["sha256"], b["orgs"][0]["serving_sha256"]);

    // Republished with acme changed: applied; alice may now run in production.
    let second = build(&with_production_grant(&fixtures.policy), bundle.path());
    assert_ne!(first, second);
    let status = env
        .policy_until("the republished bundle", |s| {
            s["bundle"]["revision"] == second.as_str()
        })
        .await;
    assert_eq!(status["bundle"]["orgs_compiled_last"], 1);
    let response = env
        .client
        .post(PROD_RUN, &[("authorization", &bearer("alice"))], "")
        .await;
    assert_allowed("after the republish", &response);
    let metrics = env.metrics().await;
    assert!(
        metrics.sum(
            "reqflo_gateway_bundle_org_loads_total",
            &[("outcome", "loaded")]
        ) >= 2.0
    );
}
