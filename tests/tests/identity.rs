//! Identity beyond the JWT basics: a trusted identity header accepted only
//! from configured source addresses (and never trusted from anyone else),
//! and verified-token caching that never outlives a change of issuer,
//! audience or keys.

use std::time::{Duration, Instant};

use reqflo_tests::{Env, Files, OrPanic, assert_allowed, bearer, body_of, fixture_files};

const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";
const HIDDEN: &str = "/api/v1/orgs/acme/journeys/incident-drill";

/// The fixture config with a trusted-header identity from `sources`.
fn trusted_header_files(sources: &str) -> Files {
    let files = fixture_files();
    let start = files.config.find("identity:\n").or_panic("identity block");
    let end = files.config.find("limits:\n").or_panic("limits block");
    let identity = format!(
        "identity:\n  trusted_header:\n    header: x-reqflo-user\n    trusted_sources: {sources}\n"
    );
    Files {
        config: format!(
            "{}{identity}{}",
            &files.config[..start],
            &files.config[end..]
        ),
        policy: files.policy,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_header_from_a_trusted_source() {
    let env = Env::start_with(&trusted_header_files("[127.0.0.1/32]")).await;
    let response = env.client.get(VIEW, &[("x-reqflo-user", "alice")]).await;
    assert_allowed("trusted header", &response);
    let got = env.upstream.take_one("trusted header");
    assert_eq!(got.header_all("x-reqflo-user"), ["alice"]);
    // The header decides: alice may not see the hidden journey, olga may.
    let response = env.client.get(HIDDEN, &[("x-reqflo-user", "alice")]).await;
    body_of("alice, hidden", &response, 404);
    assert_allowed(
        "olga, hidden",
        &env.client.get(HIDDEN, &[("x-reqflo-user", "olga")]).await,
    );
    env.upstream.take();
    // Missing, or ambiguous.
    let response = env.client.get(VIEW, &[]).await;
    body_of("no identity header", &response, 401);
    for (name, headers) in [
        (
            "two identity headers",
            vec![("x-reqflo-user", "alice"), ("x-reqflo-user", "olga")],
        ),
        (
            "comma-joined identity",
            vec![("x-reqflo-user", "alice, olga")],
        ),
        (
            "underscore twin",
            vec![("x-reqflo-user", "alice"), ("x_reqflo_user", "olga")],
        ),
    ] {
        let response = env.client.get(HIDDEN, &headers).await;
        assert!(
            matches!(response.status, 400 | 401),
            "{name}: {} {}",
            response.status,
            response.text()
        );
        env.upstream.assert_nothing(name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_header_from_an_untrusted_source_is_never_trusted() {
    let env = Env::start_with(&trusted_header_files("[10.0.0.0/8, \"::1\"]")).await;
    for user in ["alice", "olga"] {
        let response = env.client.get(HIDDEN, &[("x-reqflo-user", user)]).await;
        let body = body_of(user, &response, 401);
        assert_eq!(body["decision"], "deny", "{body}");
        env.upstream.assert_nothing(user);
    }
    // Forwarding headers claiming a trusted address do not help either.
    for header in [
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "true-client-ip",
    ] {
        let value = if header == "forwarded" {
            "for=10.1.2.3"
        } else {
            "10.1.2.3"
        };
        let response = env
            .client
            .get(HIDDEN, &[(header, value), ("x-reqflo-user", "olga")])
            .await;
        body_of(header, &response, 401);
        env.upstream.assert_nothing(header);
    }
    // A bearer token does not help: this gateway takes identity from the header only.
    let response = env
        .client
        .get(VIEW, &[("authorization", &bearer("olga"))])
        .await;
    body_of("bearer on a header gateway", &response, 401);
    env.upstream.assert_nothing("bearer on a header gateway");
}

/// A token verified (and cached) under one audience is refused once the
/// config's audience changes, and accepted again when it changes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_tokens_do_not_survive_an_audience_change() {
    let env = Env::start().await;
    let token = bearer("alice");
    for _ in 0..3 {
        assert_allowed(
            "cached token",
            &env.client.get(VIEW, &[("authorization", &token)]).await,
        );
    }
    env.upstream.take();
    let before = env.policy_status().await["revision"].clone();
    env.gateway
        .edit_config(|c| c.replace("audiences: [reqflo-gate]", "audiences: [another-service]"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.policy_status().await["revision"] == before {
        assert!(Instant::now() < deadline, "the config edit was not applied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = env.client.get(VIEW, &[("authorization", &token)]).await;
    let body = body_of("the old audience", &response, 401);
    assert_eq!(body["code"], "wrong_audience", "{body}");
    env.upstream.assert_nothing("the old audience");
    let other = format!(
        "Bearer {}",
        reqflo_tests::Claims::for_user("alice")
            .set("aud", "another-service")
            .rs256()
    );
    assert_allowed(
        "the new audience",
        &env.client.get(VIEW, &[("authorization", &other)]).await,
    );
}
