//! Real signed JWTs from the committed test keys in `tests/fixtures/keys/`
//! (generated with openssl; see that folder's README), and the forged ones the
//! adversarial tests need (`alg=none`, HS256 keyed with the RSA public key).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::fail::OrPanic;

/// The key id of the configured RSA key (RS256).
pub const RSA_KID: &str = "test-rsa";
/// The key id of the configured EC P-256 key (ES256).
pub const EC_KID: &str = "test-ec";
/// The issuer and audience the test gateway config expects.
pub const ISSUER: &str = "https://idp.reqflo.test";
pub const AUDIENCE: &str = "reqflo-gate";

pub const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/rsa-private.pem");
pub const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/keys/rsa-public.pem");
pub const EC_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/ec-private.pem");
/// A second RSA key that the gateway does not know.
pub const RSA_OTHER_PRIVATE: &[u8] = include_bytes!("../fixtures/keys/rsa-other-private.pem");
/// An HMAC secret, for confusion tests (the gateway is never configured with it).
pub const HS_SECRET: &[u8] = include_bytes!("../fixtures/keys/hs-secret.txt");

/// The directory of the key files, for writing into a gateway config.
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("keys")
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A claim set, valid by default: `sub`, `iss`, `aud`, `iat`, `exp` one hour out.
#[derive(Clone, Debug)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    pub fn for_user(user: &str) -> Claims {
        let now = now();
        let Value::Object(map) = json!({
            "sub": user,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 3600,
        }) else {
            unreachable!("a json object literal")
        };
        Claims(map)
    }

    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Claims {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub fn remove(mut self, key: &str) -> Claims {
        self.0.remove(key);
        self
    }

    /// RS256 with the configured RSA key.
    pub fn rs256(&self) -> String {
        self.sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &EncodingKey::from_rsa_pem(RSA_PRIVATE).or_panic("rsa key"),
        )
    }

    /// ES256 with the configured EC key.
    pub fn es256(&self) -> String {
        self.sign(
            Algorithm::ES256,
            Some(EC_KID),
            &EncodingKey::from_ec_pem(EC_PRIVATE).or_panic("ec key"),
        )
    }

    /// RS256 with any RSA private key (PEM) under any key id.
    pub fn rs256_with(&self, kid: &str, private_pem: &[u8]) -> String {
        let key = EncodingKey::from_rsa_pem(private_pem).or_panic("rsa private key");
        self.sign(Algorithm::RS256, Some(kid), &key)
    }

    /// ES256 with any P-256 private key (PEM) under any key id.
    pub fn es256_with(&self, kid: &str, private_pem: &[u8]) -> String {
        let key = EncodingKey::from_ec_pem(private_pem).or_panic("ec private key");
        self.sign(Algorithm::ES256, Some(kid), &key)
    }

    /// RS256 under the configured RSA key id but signed with another RSA key.
    pub fn rs256_wrong_key(&self) -> String {
        let key = EncodingKey::from_rsa_pem(RSA_OTHER_PRIVATE).or_panic("other rsa key");
        self.sign(Algorithm::RS256, Some(RSA_KID), &key)
    }

    /// RS256 with a valid signature under a key id the gateway does not know.
    pub fn rs256_unknown_kid(&self) -> String {
        let key = EncodingKey::from_rsa_pem(RSA_OTHER_PRIVATE).or_panic("other rsa key");
        self.sign(Algorithm::RS256, Some("unknown-kid"), &key)
    }

    /// RS256 with the right key and a `crit` header listing `extensions`
    /// (RFC 7515 §4.1.11: a recipient that does not understand one must refuse).
    pub fn rs256_crit(&self, extensions: &[&str]) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(RSA_KID.to_owned());
        header.crit = Some(extensions.iter().map(|e| (*e).to_owned()).collect());
        let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).or_panic("rsa key");
        jsonwebtoken::encode(&header, &self.0, &key).or_panic("sign a test token")
    }

    /// RS256 with the right key but no `kid` header.
    pub fn rs256_no_kid(&self) -> String {
        self.sign(
            Algorithm::RS256,
            None,
            &EncodingKey::from_rsa_pem(RSA_PRIVATE).or_panic("rsa key"),
        )
    }

    /// The HS/RS confusion attack: HS256 keyed with the RSA *public* key PEM,
    /// under the RSA key's id.
    pub fn hs256_with_rsa_public_key(&self) -> String {
        self.sign(
            Algorithm::HS256,
            Some(RSA_KID),
            &EncodingKey::from_secret(RSA_PUBLIC),
        )
    }

    /// HS256 with the test secret under the RSA key's id.
    pub fn hs256(&self) -> String {
        self.sign(
            Algorithm::HS256,
            Some(RSA_KID),
            &EncodingKey::from_secret(HS_SECRET),
        )
    }

    /// `alg: none`, no signature.
    pub fn alg_none(&self) -> String {
        let header = json!({"alg": "none", "typ": "JWT", "kid": RSA_KID});
        format!(
            "{}.{}.",
            b64_json(&header),
            b64_json(&Value::Object(self.0.clone()))
        )
    }

    /// A validly signed RS256 token whose payload was then altered.
    pub fn rs256_tampered(&self, key: &str, value: impl Into<Value>) -> String {
        let token = self.rs256();
        let mut parts = token.split('.');
        let (header, _, signature) = (parts.next(), parts.next(), parts.next());
        let tampered = self.clone().set(key, value);
        format!(
            "{}.{}.{}",
            header.unwrap_or_default(),
            b64_json(&Value::Object(tampered.0)),
            signature.unwrap_or_default()
        )
    }

    fn sign(&self, alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, &self.0, key).or_panic("sign a test token")
    }
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `Authorization: Bearer …` for a valid RS256 token of `user`, signed once
/// per user and test process (RSA signing is slow in debug builds; the token
/// is valid for an hour).
pub fn bearer(user: &str) -> String {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .entry(user.to_owned())
        .or_insert_with(|| format!("Bearer {}", Claims::for_user(user).rs256()))
        .clone()
}
