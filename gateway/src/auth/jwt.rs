//! JWT verification with `jsonwebtoken`, pinned to the configured algorithms
//! and keys.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use reqflo_config::JwtSettings;
use serde::Deserialize;

use super::AuthError;
use super::jwks::KeySet;

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub user: String,
    /// `exp`, seconds since the epoch.
    pub exp: u64,
}

/// The JOSE header, read before anything is trusted, to pick the key.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// RFC 7515 §4.1.11: extensions the recipient must understand. The
    /// gateway understands none, so any `crit` (even an empty or malformed
    /// one) is refused.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Verifies `token` under `settings` at time `now` (seconds since the epoch).
///
/// The `alg` must be one of the pinned algorithms *and* the algorithm of the
/// key its `kid` names, so neither `alg: none` nor an HS/RS confusion (an
/// RSA public key used as an HMAC secret) can pass.
pub fn verify(settings: &JwtSettings, token: &str, now: u64) -> Result<Verified, AuthError> {
    verify_with(settings, None, token, now)
}

/// [`verify`] with the keys of a fetched key set beside the file keys (a
/// file key wins over a fetched key of the same `kid`).
pub fn verify_with(
    settings: &JwtSettings,
    fetched: Option<(&KeySet, Duration)>,
    token: &str,
    now: u64,
) -> Result<Verified, AuthError> {
    let header = read_header(token)?;
    if let Some(crit) = &header.crit {
        let named = match crit {
            serde_json::Value::Array(names) => names
                .iter()
                .map(|n| n.as_str().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        return Err(AuthError::CriticalHeader(named.chars().take(64).collect()));
    }
    let alg: Algorithm = header
        .alg
        .parse()
        .map_err(|_| AuthError::AlgorithmNotAllowed(header.alg.clone()))?;
    if !settings.algorithms.contains(&alg) {
        return Err(AuthError::AlgorithmNotAllowed(header.alg));
    }
    let kid = header.kid.ok_or(AuthError::MissingKid)?;
    let key = match settings.keys.get(&kid) {
        Some(key) if key.algorithm != alg => {
            return Err(AuthError::AlgorithmNotAllowed(header.alg));
        }
        Some(key) => &key.key,
        None => {
            let (set, max_age) = fetched.ok_or_else(|| AuthError::UnknownKid(kid.clone()))?;
            let key = set
                .keys
                .get(&kid)
                .ok_or_else(|| AuthError::UnknownKid(kid.clone()))?;
            if !key.verifies(alg) {
                return Err(AuthError::AlgorithmNotAllowed(header.alg));
            }
            if set.stale(max_age) {
                return Err(AuthError::KeysStale(max_age.as_secs()));
            }
            &key.key
        }
    };

    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&settings.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = settings.leeway.as_secs();
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.validate_aud = true;

    let data = jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(token, key, &validation)
        .map_err(|e| map_error(e.kind()))?;
    let claims = data.claims;
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| AuthError::BadClaim("exp".into()))?;
    // `jsonwebtoken` checks `exp` against its own clock; check against ours too
    // so tests and the cache agree on time.
    if exp.saturating_add(settings.leeway.as_secs()) <= now {
        return Err(AuthError::Expired);
    }
    let user = match claims.get(&settings.user_claim) {
        Some(serde_json::Value::String(u)) if !u.is_empty() => u.clone(),
        Some(_) => return Err(AuthError::BadClaim(settings.user_claim.clone())),
        None => return Err(AuthError::MissingClaim(settings.user_claim.clone())),
    };
    Ok(Verified { user, exp })
}

fn read_header(token: &str) -> Result<RawHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

fn map_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
        ErrorKind::InvalidClaimFormat(c) => AuthError::BadClaim(c.clone()),
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => AuthError::AlgorithmNotAllowed(String::from("?")),
        _ => AuthError::Malformed,
    }
}

/// Seconds since the epoch.
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}
