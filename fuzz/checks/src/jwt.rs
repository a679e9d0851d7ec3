//! JWT handling before and after signature verification, with the example
//! config's pinned algorithms and keys: a token the fuzzer writes is never
//! accepted (it cannot sign), and neither is a correctly signed token whose
//! header, claims or signature the fuzzer changed: any `alg`, `kid`, `crit`
//! or `jku` it puts in the header is either refused or leaves the header
//! exactly as it was signed.

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqflo_config::{Identity, JwtSettings, Snapshot};
use reqflo_gateway::auth::jwt::verify;

/// Within every token's validity.
const NOW: u64 = 1_900_000_000;

struct Fixture {
    config: Snapshot,
    /// A token the example config accepts: header, claims, signature (base64url).
    parts: [String; 3],
}

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = reqflo_config::load(&examples().join("gateway.yaml"))
            .unwrap_or_else(|e| panic!("the example config loads: {e:?}"));
        let pem = std::fs::read(examples().join("keys/demo-private/ec-private.pem"))
            .unwrap_or_else(|e| panic!("the demo EC key: {e}"));
        let key = EncodingKey::from_ec_pem(&pem).unwrap_or_else(|e| panic!("EC key: {e}"));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("demo-ec-2026".to_owned());
        let claims = serde_json::json!({
            "sub": "alice",
            "iss": "https://auth.reqflo.example",
            "aud": "reqflo-gate",
            "exp": NOW + 3600,
            "iat": NOW - 60,
        });
        let token =
            jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| panic!("signing: {e}"));
        let mut parts = token.split('.').map(str::to_owned);
        let parts = [(); 3].map(|_| parts.next().unwrap_or_default());
        let fixture = Fixture { config, parts };
        assert!(
            verify(fixture.settings(), &parts_token(&fixture.parts), NOW).is_ok(),
            "the signed token verifies"
        );
        fixture
    })
}

impl Fixture {
    fn settings(&self) -> &JwtSettings {
        match &self.config.settings.identity {
            Identity::Jwt(settings) => settings,
            Identity::TrustedHeader(_) | Identity::ClientCertificate(_) => {
                panic!("the example config uses JWTs")
            }
        }
    }
}

fn parts_token(parts: &[String; 3]) -> String {
    parts.join(".")
}

pub fn check(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let [header, claims, signature] = &fixture.parts;
    let (token, unchanged) = match mode % 4 {
        // A whole token from the fuzzer.
        0 => (String::from_utf8_lossy(rest).into_owned(), false),
        // The fuzzer's header (JSON), the signed claims and signature.
        1 => {
            let forged = URL_SAFE_NO_PAD.encode(rest);
            let same = forged == *header;
            (format!("{forged}.{claims}.{signature}"), same)
        }
        // The fuzzer's claims (JSON).
        2 => {
            let forged = URL_SAFE_NO_PAD.encode(rest);
            let same = forged == *claims;
            (format!("{header}.{forged}.{signature}"), same)
        }
        // The fuzzer's signature bytes.
        _ => {
            let forged = URL_SAFE_NO_PAD.encode(rest);
            let same = forged == *signature;
            (format!("{header}.{claims}.{forged}"), same)
        }
    };
    let verdict = verify(fixture.settings(), &token, NOW);
    if !unchanged {
        assert!(
            verdict.is_err(),
            "accepted a token it did not sign: {token:?} → {verdict:?}"
        );
    }
}
