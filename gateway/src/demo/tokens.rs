//! Minting JWTs with a private key, for the demo and for tests.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("the private key is not a PEM key for `{algorithm:?}`: {source}")]
    Key {
        algorithm: Algorithm,
        source: jsonwebtoken::errors::Error,
    },
    #[error("cannot sign the token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// Who a token is for and who vouches for it.
#[derive(Clone, Debug)]
pub struct TokenSpec<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub kid: &'a str,
    pub algorithm: Algorithm,
    pub subject: &'a str,
    /// How long the token stays valid from now.
    pub ttl: Duration,
}

/// Signs a token for `spec` with `private_pem` (RSA or EC, matching `spec.algorithm`).
pub fn mint(spec: &TokenSpec<'_>, private_pem: &[u8]) -> Result<String, MintError> {
    let key = match spec.algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(private_pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(private_pem),
        _ => EncodingKey::from_rsa_pem(private_pem),
    }
    .map_err(|source| MintError::Key {
        algorithm: spec.algorithm,
        source,
    })?;
    let mut header = Header::new(spec.algorithm);
    header.kid = Some(spec.kid.to_owned());
    let now = crate::auth::now_seconds();
    let claims = json!({
        "iss": spec.issuer,
        "aud": spec.audience,
        "sub": spec.subject,
        "iat": now,
        "nbf": now.saturating_sub(5),
        "exp": now + spec.ttl.as_secs(),
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(MintError::Sign)
}
