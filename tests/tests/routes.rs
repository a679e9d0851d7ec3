//! Allow and deny for each route of the fixture config, end to end: status,
//! the JSON body, the headers, and what the upstream received (nothing, for
//! every denial). Includes each of the seeds' example denial sentences.

use reqflo_tests::{
    Claims, DECISION_ID, Deny, Env, OrPanic, assert_allowed, assert_deny, assert_unauthenticated,
    bearer, body_of,
};

const ACME: &str = "/api/v1/orgs/acme";
const HIDDEN: &str = "This resource does not exist, or you do not have access to it.";

/// (name, user, method, path, extra headers, body).
type AllowCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    &'a str,
);
type OwnedHeaders = Vec<(&'static str, String)>;

fn auth(user: &str) -> String {
    bearer(user)
}

/// Every route, one allowed request each: 200 from the upstream, the decision
/// id on the response and upstream, the verified user id upstream, and the
/// request forwarded as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_allows_and_forwards_with_decision_id_and_user() {
    let env = Env::start().await;
    let cases: &[AllowCase<'_>] = &[
        (
            "journey-view",
            "alice",
            "GET",
            format!("{ACME}/journeys/checkout-smoke"),
            vec![],
            "",
        ),
        (
            "journey-run (body env)",
            "alice",
            "POST",
            format!("{ACME}/journeys/checkout-smoke/runs"),
            vec![("content-type", "application/json")],
            r#"{"environment":"staging"}"#,
        ),
        (
            "journey-run-in-env (path env)",
            "alice",
            "POST",
            format!("{ACME}/environments/staging/journeys/checkout-smoke/runs"),
            vec![],
            "",
        ),
        (
            "journey-preview (query env)",
            "alice",
            "GET",
            format!("{ACME}/journeys/checkout-smoke/preview?environment=staging"),
            vec![],
            "",
        ),
        (
            "journey-dry-run (header env)",
            "alice",
            "POST",
            format!("{ACME}/journeys/checkout-smoke/dry-runs"),
            vec![("x-reqflo-environment", "staging")],
            "{}",
        ),
        (
            "component-invoke",
            "tara",
            "POST",
            format!("{ACME}/components/diagnostics/invocations"),
            vec![],
            "{}",
        ),
        (
            "oauth-scopes",
            "sam",
            "PUT",
            format!("{ACME}/oauth-configs/payments-oauth/scopes"),
            vec![],
            "[]",
        ),
        (
            "production run with a privilege grant",
            "tara",
            "POST",
            format!("{ACME}/environments/production/journeys/checkout-smoke/runs"),
            vec![],
            "",
        ),
        (
            "org owner views a hidden journey",
            "olga",
            "GET",
            format!("{ACME}/journeys/incident-drill"),
            vec![],
            "",
        ),
        (
            "group member views a hidden journey",
            "tara",
            "GET",
            format!("{ACME}/journeys/incident-drill"),
            vec![],
            "",
        ),
    ];
    for (name, user, method, path, extra, body) in cases {
        let token = auth(user);
        let mut headers = vec![("authorization", token.as_str())];
        headers.extend(extra.iter().copied());
        let response = env
            .client
            .send(method, path, &headers, body.to_string())
            .await;
        let decision_id = assert_allowed(name, &response);
        let got = env.upstream.take_one(name);
        assert_eq!(got.method, *method, "{name}");
        assert_eq!(got.target, *path, "{name}: forwarded target");
        assert_eq!(got.body, body.as_bytes(), "{name}: forwarded body");
        assert_eq!(
            got.header(DECISION_ID),
            decision_id,
            "{name}: decision id upstream"
        );
        assert_eq!(
            got.header("x-reqflo-user"),
            *user,
            "{name}: verified user upstream"
        );
        for (h, v) in extra {
            assert_eq!(got.header(h), *v, "{name}: header `{h}` forwarded");
        }
    }
}

/// Decision ids are unique per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_ids_are_unique() {
    let env = Env::start().await;
    let token = auth("alice");
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let r = env
            .client
            .get(
                &format!("{ACME}/journeys/checkout-smoke"),
                &[("authorization", &token)],
            )
            .await;
        assert!(
            ids.insert(assert_allowed("view", &r)),
            "a decision id was repeated"
        );
    }
    for _ in 0..5 {
        let r = env
            .client
            .get(
                &format!("{ACME}/journeys/incident-drill"),
                &[("authorization", &token)],
            )
            .await;
        let id = r.json()["decision_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            r.header(DECISION_ID).as_deref(),
            Some(id.as_str()),
            "deny header and body ids agree"
        );
        assert!(ids.insert(id), "a decision id was repeated");
    }
    assert_eq!(env.upstream.count(), 20);
}

/// A deny body says what would grant it: each reason's `remedy`, by role
/// and scope only; a hidden dependency's reason carries none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_bodies_carry_the_remedy() {
    let env = Env::start().await;
    let alice = auth("alice");
    let remedy = |method, path, body| first_remedy(&env, &alice, method, path, body);
    assert_eq!(
        remedy(
            "PUT",
            format!("{ACME}/oauth-configs/payments-oauth/scopes"),
            "[]"
        )
        .await,
        serde_json::json!([{"org_role": "security_admin"}, {"grant": "manage_scopes"}, {"org_role": "org_owner"}])
    );
    assert_eq!(
        remedy(
            "POST",
            format!("{ACME}/journeys/checkout-smoke/runs"),
            r#"{"environment":"production"}"#
        )
        .await,
        serde_json::json!([{"privilege": "production"}])
    );
    assert_eq!(
        remedy(
            "POST",
            format!("{ACME}/journeys/account-lookup/runs"),
            r#"{"environment":"staging"}"#
        )
        .await,
        serde_json::Value::Null,
        "a hidden dependency says nothing about who could see it"
    );
    env.upstream.assert_nothing("remedies");
}

/// The first reason's `remedy` of alice's denied request.
async fn first_remedy(
    env: &Env,
    alice: &str,
    method: &'static str,
    path: String,
    body: &'static str,
) -> serde_json::Value {
    let mut headers = vec![("authorization", alice)];
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    let response = env
        .client
        .send(method, &path, &headers, body.to_string())
        .await;
    let json: serde_json::Value =
        serde_json::from_str(&response.text()).or_panic("a JSON deny body");
    json["reasons"][0]["remedy"].clone()
}

/// The seeds' five example denials, each end to end, and nothing upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_denial_sentences_end_to_end() {
    let env = Env::start().await;
    let alice = auth("alice");
    let cases: &[(&str, &str, String, &str, Deny<'_>)] = &[
        (
            "restricted OAuth config dependency",
            "POST",
            format!("{ACME}/journeys/refund-check/runs"),
            r#"{"environment":"staging"}"#,
            Deny {
                status: 403,
                code: "restricted_dependency",
                message: "You can view this journey, but you cannot run it because it uses a restricted OAuth config.",
                action: "run",
                resource: "refund-check",
                environment: Some("staging"),
            },
        ),
        (
            "staging but not production",
            "POST",
            format!("{ACME}/journeys/checkout-smoke/runs"),
            r#"{"environment":"production"}"#,
            Deny {
                status: 403,
                code: "risk_privilege_missing",
                message: "You can run this journey in staging, but not production.",
                action: "run",
                resource: "checkout-smoke",
                environment: Some("production"),
            },
        ),
        (
            "only security admins edit scopes",
            "PUT",
            format!("{ACME}/oauth-configs/payments-oauth/scopes"),
            "[]",
            Deny {
                status: 403,
                code: "admin_role_required",
                message: "Only Security Admins can edit OAuth scopes.",
                action: "manage_scopes",
                resource: "payments-oauth",
                environment: None,
            },
        ),
        (
            "component restricted to a group",
            "POST",
            format!("{ACME}/components/diagnostics/invocations"),
            "{}",
            Deny {
                status: 403,
                code: "permission_missing",
                message: "This component is restricted to the Support Tier 2 group.",
                action: "use",
                resource: "diagnostics",
                environment: None,
            },
        ),
        (
            "a required component the user cannot see",
            "POST",
            format!("{ACME}/journeys/account-lookup/runs"),
            r#"{"environment":"staging"}"#,
            Deny {
                status: 403,
                code: "restricted_dependency",
                message: "You have access to the journey, but not to one of its required components.",
                action: "run",
                resource: "account-lookup",
                environment: Some("staging"),
            },
        ),
        (
            "production through the path",
            "POST",
            format!("{ACME}/environments/production/journeys/checkout-smoke/runs"),
            "",
            Deny {
                status: 403,
                code: "risk_privilege_missing",
                message: "You can run this journey in staging, but not production.",
                action: "run",
                resource: "checkout-smoke",
                environment: Some("production"),
            },
        ),
        (
            "restricted dependency through the query route",
            "GET",
            format!("{ACME}/journeys/refund-check/preview?environment=staging"),
            "",
            Deny {
                status: 403,
                code: "restricted_dependency",
                message: "You can view this journey, but you cannot use it because it uses a restricted OAuth config.",
                action: "use",
                resource: "refund-check",
                environment: Some("staging"),
            },
        ),
        (
            "production through the header",
            "POST",
            format!("{ACME}/journeys/checkout-smoke/dry-runs"),
            "",
            Deny {
                status: 403,
                code: "risk_privilege_missing",
                message: "You can run this journey in staging, but not production.",
                action: "run",
                resource: "checkout-smoke",
                environment: Some("production"),
            },
        ),
    ];
    for (name, method, path, body, want) in cases {
        let mut headers = vec![("authorization", alice.as_str())];
        if path.ends_with("/dry-runs") {
            headers.push(("x-reqflo-environment", "production"));
        }
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let response = env
            .client
            .send(method, path, &headers, body.to_string())
            .await;
        let json = assert_deny(name, &response, want);
        assert_eq!(
            response.header(DECISION_ID).as_deref(),
            json["decision_id"].as_str(),
            "{name}: the decision id header matches the body"
        );
        env.upstream.assert_nothing(name);
    }
    // The hidden dependency is reported by kind only, never by id.
    let response = env
        .client
        .post(
            &format!("{ACME}/journeys/account-lookup/runs"),
            &[
                ("authorization", &alice),
                ("content-type", "application/json"),
            ],
            r#"{"environment":"staging"}"#,
        )
        .await;
    assert!(
        !response.text().contains("pii-reader"),
        "the hidden component's id leaked: {}",
        response.text()
    );
    assert!(
        !response.text().contains("PII reader"),
        "the hidden component's name leaked: {}",
        response.text()
    );
    assert_eq!(
        env.upstream.connections(),
        0,
        "a denied request opened an upstream connection"
    );
}

/// Membership is checked first: not a member, or not an active one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_denials() {
    let env = Env::start().await;
    let path = format!("{ACME}/journeys/checkout-smoke");
    for (user, code, message) in [
        (
            "gus",
            "not_org_member",
            "You are not a member of this organization.",
        ),
        (
            "ian",
            "membership_inactive",
            "Your membership in this organization is invited.",
        ),
        (
            "nobody",
            "not_org_member",
            "You are not a member of this organization.",
        ),
    ] {
        let response = env
            .client
            .get(&path, &[("authorization", &auth(user))])
            .await;
        let want = Deny {
            status: 403,
            code,
            message,
            action: "view",
            resource: "checkout-smoke",
            environment: None,
        };
        assert_deny(user, &response, &want);
        env.upstream.assert_nothing(user);
    }
    // Another org's member asking about their own org is fine.
    let response = env
        .client
        .get(
            "/api/v1/orgs/acme/journeys/checkout-smoke",
            &[("authorization", &auth("olga"))],
        )
        .await;
    assert_allowed("owner", &response);
}

/// A resource the user may not see and one that does not exist get the very
/// same 404 body (apart from the per-request decision id and the echoed id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_visible_and_nonexistent_are_the_same_404() {
    let env = Env::start().await;
    let alice = auth("alice");
    let mut bodies = Vec::new();
    for journey in ["incident-drill", "no-such-journey"] {
        let response = env
            .client
            .get(
                &format!("{ACME}/journeys/{journey}"),
                &[("authorization", &alice)],
            )
            .await;
        let want = Deny {
            status: 404,
            code: "resource_not_found",
            message: HIDDEN,
            action: "view",
            resource: journey,
            environment: None,
        };
        let mut body = assert_deny(journey, &response, &want);
        let object = body.as_object_mut().unwrap();
        object.remove("decision_id");
        object.remove("resource");
        bodies.push((body, response.headers.get("content-type").cloned()));
        env.upstream.assert_nothing(journey);
    }
    assert_eq!(bodies[0], bodies[1], "the two 404s differ");
    // Also for runs: a hidden journey does not reveal its dependencies.
    let response = env
        .client
        .post(
            &format!("{ACME}/journeys/incident-drill/runs"),
            &[
                ("authorization", &alice),
                ("content-type", "application/json"),
            ],
            r#"{"environment":"production"}"#,
        )
        .await;
    let want = Deny {
        status: 404,
        code: "resource_not_found",
        message: HIDDEN,
        action: "run",
        resource: "incident-drill",
        environment: Some("production"),
    };
    let body = assert_deny("hidden run", &response, &want);
    assert_eq!(
        body["reasons"].as_array().map(Vec::len),
        Some(1),
        "a hidden resource gets one reason: {body}"
    );
    env.upstream.assert_nothing("hidden run");
}

/// No route matches: 404 with a JSON body, fail closed, nothing upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_a_json_404() {
    let env = Env::start().await;
    let alice = auth("alice");
    for (method, path) in [
        ("GET", "/api/v1/orgs/acme/nothing-here"),
        ("GET", "/"),
        ("DELETE", "/api/v1/orgs/acme/journeys/checkout-smoke"),
        ("GET", "/api/v1/orgs/acme/journeys/checkout-smoke/runs"),
        ("GET", "/api/v1/orgs/acme/journeys"),
        (
            "GET",
            "/api/v1/orgs/acme/journeys/checkout-smoke/extra/segments",
        ),
        ("GET", "/public"),
    ] {
        let name = format!("{method} {path}");
        let response = env
            .client
            .send(method, path, &[("authorization", &alice)], "")
            .await;
        let body = body_of(&name, &response, 404);
        assert_eq!(body["code"], "no_route", "{name}: {body}");
        assert_eq!(body["decision"], "deny", "{name}: {body}");
        env.upstream.assert_nothing(&name);
    }
    // A public prefix is served without identity.
    let response = env.client.get("/public/status", &[]).await;
    assert_eq!(response.status, 200, "public prefix: {}", response.text());
    let got = env.upstream.take_one("public prefix");
    assert_eq!(got.target, "/public/status");
    assert!(
        got.header_all("x-reqflo-user").is_empty(),
        "no user on a public request"
    );
}

/// Missing or invalid identity: 401 with `WWW-Authenticate`, nothing upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_invalid_identity_is_401() {
    let env = Env::start().await;
    let path = format!("{ACME}/journeys/checkout-smoke");
    let expired = Claims::for_user("alice")
        .set("exp", reqflo_tests::jwt::now() - 3600)
        .rs256();
    let cases: Vec<(&str, OwnedHeaders, &str)> = vec![
        ("no credentials", vec![], "missing_credentials"),
        (
            "basic auth",
            vec![("authorization", "Basic YWxpY2U6cGFzcw==".to_owned())],
            "not_bearer",
        ),
        (
            "garbage token",
            vec![("authorization", "Bearer not-a-jwt".to_owned())],
            "malformed_token",
        ),
        (
            "expired",
            vec![("authorization", format!("Bearer {expired}"))],
            "token_expired",
        ),
        (
            "wrong key",
            vec![(
                "authorization",
                format!("Bearer {}", Claims::for_user("alice").rs256_wrong_key()),
            )],
            "bad_signature",
        ),
    ];
    for (name, headers, code) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = env.client.get(&path, &headers).await;
        let body = assert_unauthenticated(name, &response);
        assert_eq!(body["code"], code, "{name}: {body}");
        env.upstream.assert_nothing(name);
    }
    // ES256 keys work too.
    let es = format!("Bearer {}", Claims::for_user("alice").es256());
    assert_allowed(
        "es256",
        &env.client.get(&path, &[("authorization", &es)]).await,
    );
}

/// A shadow-mode route forwards what it would deny, and counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_route_forwards_would_be_denials() {
    let env = Env::start().await;
    let response = env
        .client
        .get(
            &format!("{ACME}/journeys/refund-check/evidence"),
            &[("authorization", &auth("alice"))],
        )
        .await;
    let id = assert_allowed("shadow", &response);
    let got = env.upstream.take_one("shadow");
    assert_eq!(got.header(DECISION_ID), id);
    let would_deny = |metrics: &reqflo_tests::Exposition| {
        metrics.sum(
            "reqflo_gateway_shadow_would_deny_total",
            &[
                ("route", "journey-evidence"),
                ("code", "restricted_dependency"),
            ],
        )
    };
    env.metrics_until("the shadow would-deny counter", |m| would_deny(m) >= 1.0)
        .await;
}
