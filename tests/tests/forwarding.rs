//! The gateway's own forwarding headers with `forwarding:` configured: a
//! trusted proxy's `X-Forwarded-For` chain is kept and the peer appended,
//! and `strip_headers` adds names to the identity aliases stripped from
//! every request (any spelling). Without the settings, see the adversarial
//! table ("client forwarding headers are replaced").

use reqflo_tests::{Env, Recorded, assert_allowed, bearer, fixture_files};

const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";

/// Starts the fixture gateway with `forwarding`, sends alice's view of
/// `VIEW` with `headers`, and returns what the upstream received.
async fn forwarded_with(forwarding: &str, headers: &[(&str, &str)]) -> Recorded {
    let mut files = fixture_files();
    files.config.push_str(forwarding);
    let env = Env::start_with(&files).await;
    let token = bearer("alice");
    let mut all = vec![("authorization", token.as_str())];
    all.extend_from_slice(headers);
    let response = env.client.get(VIEW, &all).await;
    assert_allowed(forwarding, &response);
    env.upstream.take_one(forwarding)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_chain_is_extended_and_extra_headers_are_stripped() {
    let got = forwarded_with(
        "forwarding:\n  trusted_proxies: [127.0.0.0/8]\n  strip_headers: [x-corp-user]\n",
        &[
            ("x-forwarded-for", "203.0.113.7, 10.1.2.3"),
            ("x-forwarded-proto", "https"),
            ("x-corp-user", "olga"),
            ("x_corp_user", "olga"),
        ],
    )
    .await;
    assert_eq!(
        got.header_all("x-forwarded-for"),
        ["203.0.113.7, 10.1.2.3, 127.0.0.1"]
    );
    // Only the chain is kept; the protocol is the gateway's own.
    assert_eq!(got.header_all("x-forwarded-proto"), ["http"]);
    assert!(got.header_all("x-corp-user").is_empty() && got.header_all("x_corp_user").is_empty());
    assert_eq!(got.header_all("x-reqflo-user"), ["alice"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_peer_chain_is_replaced() {
    let got = forwarded_with(
        "forwarding:\n  trusted_proxies: [10.0.0.0/8]\n",
        &[("x-forwarded-for", "203.0.113.7")],
    )
    .await;
    assert_eq!(got.header_all("x-forwarded-for"), ["127.0.0.1"]);
}
