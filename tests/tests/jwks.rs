//! Keys from the identity provider: a real HTTP server publishes a JWKS
//! that rotates, disappears, returns garbage, stalls, and is flooded by
//! tokens with unknown `kid`s (the fetches are counted); OIDC discovery;
//! file keys and fetched keys together; readiness before the first fetch.

use std::time::{Duration, Instant};

use reqflo_tests::jwks::{Answer, JwksServer, SigningKey, key_set};
use reqflo_tests::jwt::{Claims, RSA_OTHER_PRIVATE, RSA_PRIVATE};
use reqflo_tests::{Gateway, OrPanic, assert_allowed, assert_unauthenticated, fixture_files};

const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";
const BOUND: Duration = Duration::from_secs(20);

/// The fixture config with the JWT `keys` replaced by `jwks` settings
/// (and, when `file_keys`, the file keys kept beside them).
fn config(jwks: &str, file_keys: bool, issuer: Option<&str>) -> String {
    let files = fixture_files();
    let start = files.config.find("    keys:\n").or_panic("keys block");
    let end = files.config.find("limits:\n").or_panic("limits block");
    let keys = if file_keys {
        files.config[start..end].to_owned()
    } else {
        String::new()
    };
    let mut text = format!(
        "{}{keys}    jwks:\n{jwks}{}",
        &files.config[..start],
        &files.config[end..]
    );
    if let Some(iss) = issuer {
        text = text.replace("issuer: https://idp.reqflo.test", &format!("issuer: {iss}"));
    }
    text.replace("{{UPSTREAM}}", "127.0.0.1:9")
        .replace("{{DEAD}}", "127.0.0.1:9")
        .replace(
            "{{KEYS}}",
            &reqflo_tests::jwt::keys_dir().display().to_string(),
        )
}

fn settings(url: &str, extra: &str) -> String {
    format!("      url: {url}\n{extra}")
}

/// A gateway on `config` (its upstream placeholder filled), not waited for.
async fn start_unready(config: &str) -> (Gateway, reqflo_tests::Upstream) {
    let upstream = reqflo_tests::Upstream::start().await;
    let config = config.replace("127.0.0.1:9", &upstream.addr().to_string());
    let gateway = Gateway::start_unready(&config, &fixture_files().policy, |_| {}).await;
    (gateway, upstream)
}

async fn start(config: &str) -> (Gateway, reqflo_tests::Upstream) {
    let (gateway, upstream) = start_unready(config).await;
    gateway.wait_ready().await;
    (gateway, upstream)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn view(gateway: &Gateway, token: &str) -> reqflo_tests::HttpResponse {
    gateway
        .client()
        .get(VIEW, &[("authorization", &bearer(token))])
        .await
}

async fn metric(gateway: &Gateway, name: &str) -> f64 {
    let text = gateway.admin().get("/metrics", &[]).await.text();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_verify_with_fetched_keys_and_a_rotation_is_followed() {
    let k1 = SigningKey::rsa("idp-2026-11", RSA_PRIVATE);
    let k2 = SigningKey::rsa("idp-2026-12", RSA_OTHER_PRIVATE);
    let server = JwksServer::start(Answer::Keys(key_set(&[&k1]), Some(3600))).await;
    let (gateway, _up) = start(&config(
        &settings(
            &server.keys_url(),
            "      unknown_kid_cooldown_seconds: 1\n",
        ),
        false,
        None,
    ))
    .await;
    let alice = Claims::for_user("alice");
    assert_allowed("a fetched RSA key", &view(&gateway, &k1.sign(&alice)).await);
    let fetches = server.key_fetches();
    assert_eq!(fetches, 1, "fetched once before ready");

    // The provider rotates to k2 and drops k1: the first k2 token refetches
    // (it does not wait for the hour `max-age` gave) and verifies.
    server.set(Answer::Keys(key_set(&[&k2]), Some(3600)));
    let token2 = k2.sign(&alice);
    assert_allowed("a rotated-in key", &view(&gateway, &token2).await);
    assert_eq!(server.key_fetches(), 2, "one refetch for the unknown kid");
    // The k1 token was cached; the new key set empties the cache, and k1 is gone.
    let body = assert_unauthenticated("a rotated-out key", &view(&gateway, &k1.sign(&alice)).await);
    assert_eq!(body["code"], "unknown_kid", "{body:#}");

    let policy = gateway.admin().get("/policy", &[]).await.json();
    assert_eq!(
        policy["jwks"][0]["keys"],
        serde_json::json!(["idp-2026-12"])
    );
    assert_eq!(metric(&gateway, "reqflo_gateway_jwks_keys").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_cooldown() {
    let k1 = SigningKey::fresh_ec("idp-ec");
    let server = JwksServer::start(Answer::Keys(key_set(&[&k1]), Some(3600))).await;
    let (gateway, _up) = start(&config(
        &settings(
            &server.keys_url(),
            "      unknown_kid_cooldown_seconds: 600\n",
        ),
        false,
        None,
    ))
    .await;
    assert_eq!(server.key_fetches(), 1);
    let alice = Claims::for_user("alice");
    for i in 0..60 {
        let forged = SigningKey::fresh_ec(&format!("random-{i}"));
        let body = assert_unauthenticated(
            "an unknown kid",
            &view(&gateway, &forged.sign(&alice)).await,
        );
        assert_eq!(body["code"], "unknown_kid");
    }
    assert_eq!(
        server.key_fetches(),
        2,
        "60 unknown kids within one cooldown: exactly one refetch"
    );
    let text = gateway.admin().get("/metrics", &[]).await.text();
    assert!(
        text.contains("reqflo_gateway_jwks_unknown_kid_total{action=\"refetch\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("reqflo_gateway_jwks_unknown_kid_total{action=\"cooldown\"} 59"),
        "{text}"
    );
    // The known key still works throughout.
    assert_allowed("the known key", &view(&gateway, &k1.sign(&alice)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_set_serves_while_the_provider_is_down_until_it_is_too_old() {
    let k1 = SigningKey::fresh_ec("idp-ec");
    let server = JwksServer::start(Answer::Keys(key_set(&[&k1]), None)).await;
    let extra = "      refresh_min_seconds: 1\n      refresh_max_seconds: 1\n      max_age_seconds: 3\n      timeout_ms: 300\n";
    let (gateway, _up) = start(&config(&settings(&server.keys_url(), extra), false, None)).await;
    let alice = Claims::for_user("alice");
    // Uncached tokens: each one is verified against the key set.
    let fresh = |n: u64| k1.sign(&alice.clone().set("jti", format!("t{n}")));
    assert_allowed("fetched", &view(&gateway, &fresh(0)).await);

    // The provider fails in every way; the last good set keeps serving.
    let started = Instant::now();
    let mut n = 1;
    for answer in [
        Answer::Status(500),
        Answer::Garbage,
        Answer::Keys("{\"keys\":[]}".to_owned(), None),
        Answer::Stall(Duration::from_secs(2)),
    ] {
        server.set(answer.clone());
        let before = server.key_fetches();
        let deadline = Instant::now() + BOUND;
        while server.key_fetches() <= before {
            assert!(Instant::now() < deadline, "no fetch while {answer:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if started.elapsed() < Duration::from_millis(2500) {
            assert_allowed(
                &format!("while the provider answers {answer:?}"),
                &view(&gateway, &fresh(n)).await,
            );
            n += 1;
        }
    }
    assert!(
        metric(
            &gateway,
            "reqflo_gateway_jwks_refreshes_total{outcome=\"error\"}"
        )
        .await
            >= 3.0
    );

    // Past `max_age_seconds` without a good fetch: refused, saying why.
    let deadline = Instant::now() + BOUND;
    loop {
        let response = view(&gateway, &fresh(n)).await;
        n += 1;
        if response.status == 401 {
            let body = assert_unauthenticated("stale keys", &response);
            assert_eq!(body["code"], "keys_stale", "{body:#}");
            assert!(
                body["message"].as_str().unwrap_or_default().contains("3 s"),
                "{body:#}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the key set never turned stale");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The gateway stays ready (it serves every other identity), and recovers by itself.
    server.set(Answer::Keys(key_set(&[&k1]), None));
    let deadline = Instant::now() + BOUND;
    loop {
        let response = view(&gateway, &fresh(n)).await;
        n += 1;
        if response.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never recovered: {}",
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_is_not_ready_before_the_first_good_fetch() {
    let k1 = SigningKey::fresh_ec("idp-ec");
    let server = JwksServer::start(Answer::Status(503)).await;
    let upstream = reqflo_tests::Upstream::start().await;
    let text = config(&settings(&server.keys_url(), ""), false, None)
        .replace("127.0.0.1:9", &upstream.addr().to_string());
    let gateway = Gateway::start_unready(&text, &fixture_files().policy, |_| {}).await;
    let deadline = Instant::now() + BOUND;
    loop {
        let ready = gateway.admin().get("/readyz", &[]).await;
        assert_eq!(ready.status, 503, "{}", ready.text());
        if ready.text().contains("answered 503") {
            assert!(
                ready.text().contains(&server.keys_url()),
                "{}",
                ready.text()
            );
            break;
        }
        assert!(Instant::now() < deadline, "{}", ready.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.set(Answer::Keys(key_set(&[&k1]), None));
    gateway.wait_ready().await;
    assert_allowed(
        "after the first good fetch",
        &view(&gateway, &k1.sign(&Claims::for_user("alice"))).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_the_key_set_and_checks_the_issuer() {
    let k1 = SigningKey::fresh_ec("idp-ec");
    let server = JwksServer::start(Answer::Keys(key_set(&[&k1]), None)).await;
    let issuer = server.base();
    // The document names another issuer first: not ready, with the reason.
    server.set_discovery("https://someone-else.test");
    let upstream = reqflo_tests::Upstream::start().await;
    let text = config(
        "      discovery: true\n      refresh_min_seconds: 1\n      refresh_max_seconds: 1\n",
        false,
        Some(&issuer),
    )
    .replace("127.0.0.1:9", &upstream.addr().to_string());
    let gateway = Gateway::start_unready(&text, &fixture_files().policy, |_| {}).await;
    let deadline = Instant::now() + BOUND;
    loop {
        let ready = gateway.admin().get("/readyz", &[]).await;
        if ready
            .text()
            .contains("names issuer `https://someone-else.test`")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{}", ready.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.set_discovery(&issuer);
    gateway.wait_ready().await;
    assert!(server.discovery_fetches() >= 2);
    let token = k1.sign(&Claims::for_user("alice").set("iss", issuer.as_str()));
    assert_allowed("a key found by discovery", &view(&gateway, &token).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_keys_and_fetched_keys_verify_side_by_side() {
    let fetched = SigningKey::fresh_ec("idp-ec");
    let server = JwksServer::start(Answer::Keys(key_set(&[&fetched]), None)).await;
    let (gateway, _up) = start(&config(&settings(&server.keys_url(), ""), true, None)).await;
    let alice = Claims::for_user("alice");
    assert_allowed("a file key", &view(&gateway, &alice.rs256()).await);
    assert_allowed(
        "a fetched key",
        &view(&gateway, &fetched.sign(&alice)).await,
    );
    // A fetched key never verifies a token of an algorithm outside its family.
    let forged = alice.rs256_with("idp-ec", RSA_PRIVATE);
    let body = assert_unauthenticated("RS256 under an EC kid", &view(&gateway, &forged).await);
    assert_eq!(body["code"], "algorithm_not_allowed", "{body:#}");
}

#[test]
fn key_set_settings_are_validated_with_their_lines() {
    let dir = tempfile::tempdir().or_panic("dir");
    std::fs::write(dir.path().join("policy.yaml"), fixture_files().policy).or_panic("policy");
    let text = config(
        "      url: http://idp.example.com/keys\n      refresh_min_seconds: 600\n      refresh_max_seconds: 60\n",
        false,
        None,
    );
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, &text).or_panic("config");
    let errors = reqflo_config::load(&path).err().or_panic("refused");
    let messages: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    let line = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .or_panic("line")
    };
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!(":{}:", line("url: http://idp")))
                && m.contains("plain `http` to another host")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(
            |m| m.contains(&format!(":{}:", line("refresh_min_seconds")))
                && m.contains("refresh_min_seconds")
        ),
        "{messages:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_over_https_is_verified_against_the_configured_ca() {
    let ca = reqflo_tests::tls::TestCa::new("identity provider CA");
    let dir = tempfile::tempdir().or_panic("dir");
    std::fs::write(dir.path().join("idp-ca.pem"), &ca.certificate).or_panic("ca");
    let k1 = SigningKey::fresh_ec("idp-ec");
    let server = JwksServer::start_tls(
        Answer::Keys(key_set(&[&k1]), None),
        &ca.server(&["localhost"]),
    )
    .await;
    let extra = format!("      ca: {}\n", dir.path().join("idp-ca.pem").display());
    let (gateway, _up) = start(&config(&settings(&server.keys_url(), &extra), false, None)).await;
    assert_allowed(
        "a key fetched over verified HTTPS",
        &view(&gateway, &k1.sign(&Claims::for_user("alice"))).await,
    );
    drop(gateway);

    // The same server against the system roots: its certificate does not
    // verify, nothing is fetched, the gateway is not ready.
    let (gateway, _up) =
        start_unready(&config(&settings(&server.keys_url(), ""), false, None)).await;
    gateway.wait_not_ready_with("cannot be fetched").await;
}
