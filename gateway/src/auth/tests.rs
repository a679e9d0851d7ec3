use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use reqflo_config::{Cidr, Identity, JwtKey, JwtSettings, TrustedHeaderSettings};
use serde_json::{Value, json};

use super::*;

const RSA_PRIVATE: &[u8] = include_bytes!("../../../examples/keys/demo-private/rsa-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../../examples/keys/rsa-public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../../../examples/keys/demo-private/ec-private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../../../examples/keys/ec-public.pem");

const ISS: &str = "https://auth.test";
const AUD: &str = "reqflo-gate";

fn settings() -> JwtSettings {
    let mut keys = BTreeMap::new();
    keys.insert(
        "rsa".to_owned(),
        JwtKey {
            kid: "rsa".into(),
            algorithm: Algorithm::RS256,
            file: PathBuf::from("rsa-public.pem"),
            key: DecodingKey::from_rsa_pem(RSA_PUBLIC).unwrap(),
        },
    );
    keys.insert(
        "ec".to_owned(),
        JwtKey {
            kid: "ec".into(),
            algorithm: Algorithm::ES256,
            file: PathBuf::from("ec-public.pem"),
            key: DecodingKey::from_ec_pem(EC_PUBLIC).unwrap(),
        },
    );
    JwtSettings {
        issuer: ISS.into(),
        audiences: vec![AUD.into()],
        algorithms: vec![Algorithm::RS256, Algorithm::ES256],
        keys,
        jwks: None,
        leeway: Duration::from_secs(30),
        user_claim: "sub".into(),
        cache: true,
    }
}

fn now() -> u64 {
    now_seconds()
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "mia", "exp": now() + 600, "iat": now()})
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(Into::into);
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        Algorithm::HS256 => EncodingKey::from_secret(RSA_PUBLIC),
        _ => EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    c
}

/// A token with a hand-written header and no valid signature.
fn unsigned(header: &Value, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{h}.{c}.")
}

#[test]
fn valid_tokens_verify() {
    let s = settings();
    let rsa = verify(&s, &sign(Algorithm::RS256, Some("rsa"), &claims()), now()).unwrap();
    assert_eq!(rsa.user, "mia");
    let ec = verify(&s, &sign(Algorithm::ES256, Some("ec"), &claims()), now()).unwrap();
    assert_eq!(ec.user, "mia");
}

#[test]
fn expiry_within_the_leeway_is_accepted() {
    let s = settings();
    let c = with(|c| drop(c.insert("exp".into(), json!(now() - 5))));
    let token = sign(Algorithm::RS256, Some("rsa"), &c);
    assert_eq!(
        verify(&s, &token, now()).map(|v| v.user),
        Ok("mia".to_owned())
    );
    // And through the cache: the entry is not kept (it has expired), the
    // token still verifies each time within the leeway.
    let identity = Identity::Jwt(s);
    let cache = TokenCache::new();
    let scope = cache_scope(&identity, "rev").unwrap();
    for _ in 0..2 {
        let p = authenticate(
            &identity,
            &bearer(&token),
            None,
            Some((&cache, &scope)),
            None,
            now(),
        );
        assert_eq!(p.map(|p| p.source), Ok("jwt"));
    }
}

#[test]
fn every_bad_token_is_refused() {
    let s = settings();
    let rs = |c: &Value| sign(Algorithm::RS256, Some("rsa"), c);
    let table: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            unsigned(&json!({"alg": "none", "kid": "rsa"}), &claims()),
            "algorithm_not_allowed",
        ),
        (
            "alg None",
            unsigned(&json!({"alg": "None", "kid": "rsa"}), &claims()),
            "algorithm_not_allowed",
        ),
        (
            "HS256 signed with the RSA public key",
            sign(Algorithm::HS256, Some("rsa"), &claims()),
            "algorithm_not_allowed",
        ),
        (
            "RS384 not pinned",
            sign(Algorithm::RS384, Some("rsa"), &claims()),
            "algorithm_not_allowed",
        ),
        (
            "ES256 header on the RSA key",
            unsigned(&json!({"alg": "ES256", "kid": "rsa"}), &claims()),
            "algorithm_not_allowed",
        ),
        (
            "no kid",
            sign(Algorithm::RS256, None, &claims()),
            "missing_kid",
        ),
        (
            "unknown kid",
            sign(Algorithm::RS256, Some("other"), &claims()),
            "unknown_kid",
        ),
        (
            "expired",
            rs(&with(|c| drop(c.insert("exp".into(), json!(now() - 120))))),
            "token_expired",
        ),
        (
            "not yet valid",
            rs(&with(|c| drop(c.insert("nbf".into(), json!(now() + 600))))),
            "token_not_yet_valid",
        ),
        (
            "wrong issuer",
            rs(&with(|c| {
                drop(c.insert("iss".into(), json!("https://evil")))
            })),
            "wrong_issuer",
        ),
        (
            "wrong audience",
            rs(&with(|c| drop(c.insert("aud".into(), json!("other"))))),
            "wrong_audience",
        ),
        (
            "missing exp",
            rs(&with(|c| drop(c.remove("exp")))),
            "missing_claim",
        ),
        (
            "missing iss",
            rs(&with(|c| drop(c.remove("iss")))),
            "missing_claim",
        ),
        (
            "missing aud",
            rs(&with(|c| drop(c.remove("aud")))),
            "missing_claim",
        ),
        (
            "missing sub",
            rs(&with(|c| drop(c.remove("sub")))),
            "missing_claim",
        ),
        (
            "sub not a string",
            rs(&with(|c| drop(c.insert("sub".into(), json!(7))))),
            "bad_claim",
        ),
        ("not a JWT", "abc".to_owned(), "malformed_token"),
        (
            "four parts",
            format!("{}.x", rs(&claims())),
            "malformed_token",
        ),
    ];
    for (name, token, code) in table {
        let err = verify(&s, &token, now()).expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
    }
    // A valid signature with a tampered payload.
    let token = rs(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&with(|c| drop(c.insert("sub".into(), json!("olivia"))))).unwrap(),
    );
    parts[1] = &forged;
    assert_eq!(
        verify(&s, &parts.join("."), now()).unwrap_err().code(),
        "bad_signature"
    );
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

#[test]
fn authenticate_with_a_jwt_and_the_cache() {
    let identity = Identity::Jwt(settings());
    let token = sign(Algorithm::RS256, Some("rsa"), &claims());
    let cache = TokenCache::new();
    let scope = cache_scope(&identity, "rev1").unwrap();
    let first = authenticate(
        &identity,
        &bearer(&token),
        None,
        Some((&cache, &scope)),
        None,
        now(),
    )
    .unwrap();
    assert_eq!((&*first.user, first.source), ("mia", "jwt"));
    let second = authenticate(
        &identity,
        &bearer(&token),
        None,
        Some((&cache, &scope)),
        None,
        now(),
    )
    .unwrap();
    assert_eq!((&*second.user, second.source), ("mia", "jwt_cached"));

    // Another scope (issuer, audience or revision) never sees the entry.
    assert_eq!(cache.get("other-scope", 0, &token, now()), None);
    let other = cache_scope(&identity, "rev2").unwrap();
    let third = authenticate(
        &identity,
        &bearer(&token),
        None,
        Some((&cache, &other)),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(third.source, "jwt");
    // Expired entries are not served.
    assert_eq!(cache.get(&other, 0, &token, now() + 3600), None);

    // The cache switch.
    let Identity::Jwt(mut s) = identity else {
        unreachable!()
    };
    s.cache = false;
    let identity = Identity::Jwt(s);
    let fresh = TokenCache::new();
    let r = authenticate(
        &identity,
        &bearer(&token),
        None,
        Some((&fresh, &scope)),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(r.source, "jwt");
    assert!(fresh.is_empty());
}

#[test]
fn authorization_header_shapes() {
    let identity = Identity::Jwt(settings());
    let token = sign(Algorithm::RS256, Some("rsa"), &claims());
    let run = |h: &HeaderMap| authenticate(&identity, h, None, None, None, now());
    assert_eq!(
        run(&HeaderMap::new()),
        Err(AuthFailure::Unauthenticated(AuthError::Missing))
    );
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
    );
    assert_eq!(
        run(&h),
        Err(AuthFailure::Unauthenticated(AuthError::NotBearer))
    );
    let mut h = bearer(&token);
    h.append(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    assert_eq!(
        run(&h),
        Err(AuthFailure::Ambiguous(Rejection::DuplicateHeader))
    );
    let mut h = bearer(&token);
    h.insert("authorization_", HeaderValue::from_static("x"));
    assert!(run(&h).is_ok(), "a different name is not a twin");
    let mut h = bearer(&token);
    h.insert("bearer", HeaderValue::from_static("x"));
    assert!(run(&h).is_ok());
    let mut h = HeaderMap::new();
    h.insert("authorization", HeaderValue::from_static("Bearer a b"));
    assert_eq!(
        run(&h),
        Err(AuthFailure::Unauthenticated(AuthError::Malformed))
    );
}

#[test]
fn trusted_header_only_from_trusted_peers() {
    let identity = Identity::TrustedHeader(TrustedHeaderSettings {
        header: "x-forwarded-user".into(),
        trusted_sources: vec![Cidr::parse("10.0.0.0/8").unwrap()],
    });
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-user", HeaderValue::from_static("tess"));
    let trusted: IpAddr = "10.1.2.3".parse().unwrap();
    let stranger: IpAddr = "192.0.2.1".parse().unwrap();
    let ok = authenticate(&identity, &h, Some(trusted), None, None, now()).unwrap();
    assert_eq!((&*ok.user, ok.source), ("tess", "trusted_header"));
    assert_eq!(
        authenticate(&identity, &h, Some(stranger), None, None, now()),
        Err(AuthFailure::Unauthenticated(AuthError::Missing))
    );
    assert_eq!(
        authenticate(&identity, &h, None, None, None, now()),
        Err(AuthFailure::Unauthenticated(AuthError::Missing))
    );
    h.insert("x_forwarded_user", HeaderValue::from_static("olivia"));
    assert_eq!(
        authenticate(&identity, &h, Some(trusted), None, None, now()),
        Err(AuthFailure::Ambiguous(Rejection::UnderscoreHeader))
    );
}
