//! The signed decision assertion end to end: the gateway signs every decided
//! request it forwards, publishes the keys as a JWKS on the admin listener,
//! and a backend verifying against that JWKS learns exactly what was decided.
//! A request that reaches the backend around the gateway, or a client's
//! forged assertion, does not verify.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqflo_tests::{Env, Files, OrPanic, Recorded, assert_allowed, bearer, fixture_files};
use serde_json::Value;

const RUNS: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/runs";
const VIEW: &str = "/api/v1/orgs/acme/journeys/checkout-smoke";

fn with_assertion(algorithm: &str, key: &str, kid: &str) -> Files {
    let mut files = fixture_files();
    files.config.push_str(&format!(
        "assertion:\n  algorithm: {algorithm}\n  kid: {kid}\n  key: \"{{{{KEYS}}}}/{key}\"\n  ttl_seconds: 30\n"
    ));
    files
}

async fn jwks(env: &Env) -> JwkSet {
    let response = env.gateway.admin().get("/.well-known/jwks.json", &[]).await;
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).or_panic("the JWKS parses as a JWK set")
}

/// What a backend does: find the key by `kid` in the JWKS, pin the
/// algorithm, and check issuer, audience and expiry.
fn verify(set: &JwkSet, token: &str, algorithm: Algorithm) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&["reqflo-gateway"]);
    validation.set_audience(&["reqflo"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub", "jti"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

fn assertion_of(got: &Recorded) -> String {
    let all = got.header_all("x-reqflo-assertion");
    assert_eq!(all.len(), 1, "exactly one assertion upstream: {all:?}");
    all.into_iter().next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_verifies_what_was_decided() {
    for (algorithm, alg, key) in [
        ("EdDSA", Algorithm::EdDSA, "assertion-ed25519-private.pem"),
        ("ES256", Algorithm::ES256, "assertion-p256-private.pem"),
    ] {
        let env = Env::start_with(&with_assertion(algorithm, key, "gate-1")).await;
        let set = jwks(&env).await;
        assert_eq!(set.keys.len(), 1, "{algorithm}: one key published");
        let revision = env.policy_status().await["revision"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(env.policy_status().await["assertion"]["kid"], "gate-1");

        // A forged assertion from the client is replaced by the gateway's.
        let token = bearer("alice");
        let response = env
            .client
            .post(
                RUNS,
                &[
                    ("authorization", token.as_str()),
                    ("content-type", "application/json"),
                    ("x-reqflo-assertion", "forged.by.client"),
                ],
                r#"{"environment":"staging"}"#,
            )
            .await;
        assert_allowed(algorithm, &response);
        let got = env.upstream.take_one(algorithm);
        let claims = verify(&set, &assertion_of(&got), alg)
            .unwrap_or_else(|e| panic!("{algorithm}: the assertion does not verify: {e}"));
        let decision_id = response.header("x-reqflo-decision-id").unwrap_or_default();
        for (claim, want) in [
            ("sub", "alice"),
            ("org", "acme"),
            ("action", "run"),
            ("resource", "checkout-smoke"),
            ("environment", "staging"),
            ("decision", "allow"),
            ("mode", "enforce"),
            ("route", "journey-run"),
            ("method", "POST"),
            ("path", RUNS),
            ("jti", decision_id.as_str()),
            ("policy_revision", revision.as_str()),
            ("aud", "reqflo"),
        ] {
            assert_eq!(
                claims[claim], want,
                "{algorithm}: claim `{claim}` in {claims}"
            );
        }
        let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
        assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(30), "{claims}");

        // Tampering with the claims breaks the signature.
        let token = assertion_of(&got);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_claims = base64_json(&serde_json::json!({"sub": "olga"}));
        parts[1] = &forged_claims;
        assert!(
            verify(&set, &parts.join("."), alg).is_err(),
            "{algorithm}: tampered claims verify"
        );

        // A denial reaches nobody; a request without a decision carries none.
        let response = env
            .client
            .get(
                "/api/v1/orgs/acme/journeys/incident-drill",
                &[("authorization", bearer("alice").as_str())],
            )
            .await;
        assert_eq!(response.status, 404);
        env.upstream.assert_nothing("denied");
        let response = env.client.get("/public/status", &[]).await;
        assert_eq!(response.status, 200);
        let got = env.upstream.take_one("public");
        assert!(
            got.header_all("x-reqflo-assertion").is_empty(),
            "a public route has no decision to assert"
        );

        // The Python example backend (docs/OPERATIONS.md) accepts it too.
        python_backend(&env, &set, algorithm).await;
    }
}

/// Runs `examples/backend/verify_assertion.py` against a fresh assertion,
/// when PyJWT is installed (`.ci/run` installs it; without it the test says
/// so and skips this part, so `cargo test` needs nothing but Rust).
async fn python_backend(env: &Env, _set: &JwkSet, algorithm: &str) {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipping the Python backend example: python3 with PyJWT[crypto] is not installed"
        );
        return;
    }
    let response = env
        .client
        .get(VIEW, &[("authorization", bearer("alice").as_str())])
        .await;
    assert_allowed("python", &response);
    let token = assertion_of(&env.upstream.take_one("python"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/backend/verify_assertion.py"
    );
    let jwks_url = format!("http://{}/.well-known/jwks.json", env.gateway.admin);
    let run = |method: &str, path: &str, token: &str| {
        std::process::Command::new("python3")
            .args([script, &jwks_url, "reqflo", method, path, token])
            .output()
            .or_panic("run python3")
    };
    let ok = run("GET", VIEW, &token);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{algorithm}: the Python backend rejected the assertion: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let claims: Value =
        serde_json::from_str(stdout.trim()).or_panic("the script prints the claims");
    assert_eq!(claims["sub"], "alice");
    // The same assertion presented for another request is refused.
    let other = run("DELETE", VIEW, &token);
    assert!(
        !other.status.success(),
        "{algorithm}: an assertion for GET was accepted for DELETE"
    );
    let forged = run("GET", VIEW, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJvbGdhIn0.");
    assert!(
        !forged.status.success(),
        "{algorithm}: an unsigned token was accepted"
    );
}

fn base64_json(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Rotating the key: the JWKS keeps the key it replaced, so an assertion
/// signed just before the rotation still verifies until it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_stays_published_beside_the_new_one() {
    let env = Env::start_with(&with_assertion(
        "EdDSA",
        "assertion-ed25519-private.pem",
        "gate-1",
    ))
    .await;
    let response = env
        .client
        .get(VIEW, &[("authorization", bearer("alice").as_str())])
        .await;
    assert_allowed("before", &response);
    let before = assertion_of(&env.upstream.take_one("before"));

    env.gateway.edit_config(|text| {
        text.replace(
            "algorithm: EdDSA\n  kid: gate-1",
            "algorithm: ES256\n  kid: gate-2",
        )
        .replace(
            "assertion-ed25519-private.pem",
            "assertion-p256-private.pem",
        )
    });
    env.gateway.running().reload_now();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env.policy_status().await["assertion"]["kid"] != "gate-2" {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotation was not applied: {}",
            env.policy_status().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let set = jwks(&env).await;
    let kids: Vec<_> = set
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert_eq!(
        kids,
        ["gate-2", "gate-1"],
        "newest first, the replaced key kept"
    );
    let response = env
        .client
        .get(VIEW, &[("authorization", bearer("alice").as_str())])
        .await;
    assert_allowed("after", &response);
    let after = assertion_of(&env.upstream.take_one("after"));
    verify(&set, &before, Algorithm::EdDSA).expect("an assertion from before the rotation");
    verify(&set, &after, Algorithm::ES256).expect("an assertion from after the rotation");
}

/// Without `assertion:` nothing is signed and the JWKS is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default() {
    let env = Env::start().await;
    assert!(jwks(&env).await.keys.is_empty());
    let response = env
        .client
        .get(VIEW, &[("authorization", bearer("alice").as_str())])
        .await;
    assert_allowed("default", &response);
    let got = env.upstream.take_one("default");
    assert!(got.header_all("x-reqflo-assertion").is_empty());
}
