//! The signing key of the decision assertion (`assertion:` in the route
//! config): a private Ed25519 or P-256 key, parsed once per snapshot, with
//! its public half as a JWK for the admin listener's JWKS.
//!
//! The gateway signs one compact JWS per forwarded request, so the key is
//! held parsed (not re-read from DER per signature, as a generic JOSE
//! encoder would), the protected header is encoded once, and the signature
//! is AWS-LC's (`aws-lc-rs`: assembly-optimized Ed25519 and P-256; the
//! pure-Rust crates took 19.5 µs and 140 µs per signature here,
//! `cargo bench -p reqflo-config --bench assertion`).

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A parsed assertion signing key with its `kid` and public JWK.
pub struct AssertionKey {
    key: Key,
    kid: String,
    /// `base64url({"alg":…,"kid":…,"typ":"JWT"})`, the JWS protected header.
    header: String,
    jwk: serde_json::Value,
}

enum Key {
    Ed25519(Box<Ed25519KeyPair>),
    /// ECDSA needs randomness for its nonce.
    P256(Box<EcdsaKeyPair>, SystemRandom),
}

/// The algorithms an assertion can be signed with.
pub const ASSERTION_ALGORITHMS: &[&str] = &["EdDSA", "ES256"];

impl AssertionKey {
    /// Parses a PKCS#8 PEM private key for `algorithm` (`EdDSA` or `ES256`).
    pub fn from_pem(algorithm: &str, kid: &str, pem: &str) -> Result<AssertionKey, String> {
        if !ASSERTION_ALGORITHMS.contains(&algorithm) {
            return Err(format!(
                "algorithm `{algorithm}` is not one of {}",
                ASSERTION_ALGORITHMS.join(", ")
            ));
        }
        let block = pem::parse(pem).map_err(|e| format!("is not a PEM file: {e}"))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(format!(
                "holds a `{}` block, not a PKCS#8 `PRIVATE KEY`",
                block.tag()
            ));
        }
        let der = block.contents();
        let (key, jwk) = if algorithm == "EdDSA" {
            let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|e| format!("is not a PKCS#8 Ed25519 private key: {e}"))?;
            let x = URL_SAFE_NO_PAD.encode(key.public_key().as_ref());
            let jwk = serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": x,
                "alg": "EdDSA", "use": "sig", "kid": kid,
            });
            (Key::Ed25519(Box::new(key)), jwk)
        } else {
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|e| format!("is not a PKCS#8 P-256 private key: {e}"))?;
            // The uncompressed point: 0x04 ‖ x ‖ y.
            let point = key.public_key().as_ref();
            let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                return Err("has no uncompressed P-256 public point".to_owned());
            };
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                "alg": "ES256", "use": "sig", "kid": kid,
            });
            (Key::P256(Box::new(key), SystemRandom::new()), jwk)
        };
        let header = serde_json::json!({"alg": algorithm, "kid": kid, "typ": "JWT"});
        Ok(AssertionKey {
            key,
            kid: kid.to_owned(),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `EdDSA` or `ES256`.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Ed25519(_) => "EdDSA",
            Key::P256(..) => "ES256",
        }
    }

    /// The public key as a JWK (with `kid`, `alg` and `use: sig`).
    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// A compact JWS over `claims` (a JSON object's bytes):
    /// `header.claims.signature`, all base64url without padding; `None`
    /// only if the crypto library fails to sign (ECDSA's randomness), which
    /// the caller treats as an internal error.
    pub fn sign(&self, claims: &[u8]) -> Option<String> {
        let mut out = String::with_capacity(self.header.len() + claims.len() * 4 / 3 + 96);
        out.push_str(&self.header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut out);
        match &self.key {
            Key::Ed25519(k) => {
                let signature = k.sign(out.as_bytes());
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut out);
            }
            Key::P256(k, rng) => {
                let signature = k.sign(rng, out.as_bytes()).ok()?;
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut out);
            }
        }
        Some(out)
    }
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = include_str!("../../tests/fixtures/keys/assertion-ed25519-private.pem");
    const EC: &str = include_str!("../../tests/fixtures/keys/assertion-p256-private.pem");

    #[test]
    fn signatures_verify_against_the_published_jwk() {
        for (alg, pem) in [("EdDSA", ED), ("ES256", EC)] {
            let key = AssertionKey::from_pem(alg, "k1", pem).unwrap();
            let token = key
                .sign(br#"{"sub":"alice","exp":4102444800,"iss":"gw","aud":"up"}"#)
                .unwrap();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.jwk().clone()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let algorithm = alg.parse::<jsonwebtoken::Algorithm>().unwrap();
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.set_issuer(&["gw"]);
            validation.set_audience(&["up"]);
            let data =
                jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims["sub"], "alice", "{alg}");
            assert_eq!(data.header.kid.as_deref(), Some("k1"));
            // One flipped signature byte fails.
            let mut bad = token.into_bytes();
            let last = bad.len() - 2;
            bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bad).unwrap();
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&bad, &decoding, &validation).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn wrong_keys_and_algorithms_are_refused() {
        assert!(AssertionKey::from_pem("EdDSA", "k", EC).is_err());
        assert!(AssertionKey::from_pem("ES256", "k", ED).is_err());
        assert!(AssertionKey::from_pem("RS256", "k", ED).is_err());
        assert!(AssertionKey::from_pem("EdDSA", "k", "not a pem").is_err());
    }
}
