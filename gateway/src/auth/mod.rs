//! Step 2 of the pipeline: who is asking.
//!
//! A verified JWT (pinned algorithms, a key per `kid`, `exp`/`iss`/`aud`
//! required) or a header set by a trusted hop, accepted only from configured
//! peer addresses. Every failure is an [`AuthError`], answered with 401 and a
//! `WWW-Authenticate` challenge by [`crate::respond`].

mod cache;
pub mod jwks;
pub mod jwt;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;
use reqflo_config::{CertificateName, Identity, TrustedHeaderSettings};

pub use cache::TokenCache;
pub use jwt::{now_seconds, verify};

use crate::canon::{self, Rejection};

/// A verified caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: Arc<str>,
    /// How the identity was established (`jwt`, `jwt_cached`, `trusted_header`).
    pub source: &'static str,
}

/// Why a request has no usable identity. The code is a bounded metric label.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request carries no credentials")]
    Missing,
    #[error("the `Authorization` header is not a bearer token")]
    NotBearer,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm `{0}` is not accepted")]
    AlgorithmNotAllowed(String),
    #[error("the token names no key (`kid`)")]
    MissingKid,
    #[error("the token's key `{0}` is not known")]
    UnknownKid(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("the token's `{0}` claim is malformed")]
    BadClaim(String),
    #[error(
        "the token requires the header extension `{0}` (`crit`), which the gateway does not support"
    )]
    CriticalHeader(String),
    #[error(
        "the identity provider's keys could not be refreshed for more than {0} s; tokens they verify are refused until they are"
    )]
    KeysStale(u64),
    #[error("the client certificate has no `{0}` to take the user id from")]
    CertificateName(&'static str),
}

impl AuthError {
    /// Every code, for pre-registering metric label values.
    pub const CODES: &'static [&'static str] = &[
        "missing_credentials",
        "not_bearer",
        "malformed_token",
        "algorithm_not_allowed",
        "missing_kid",
        "unknown_kid",
        "bad_signature",
        "token_expired",
        "token_not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "missing_claim",
        "bad_claim",
        "unsupported_critical_header",
        "keys_stale",
        "certificate_without_name",
    ];

    /// The stable code: a metric label and the `code` of the 401 body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_credentials",
            AuthError::NotBearer => "not_bearer",
            AuthError::Malformed => "malformed_token",
            AuthError::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            AuthError::MissingKid => "missing_kid",
            AuthError::UnknownKid(_) => "unknown_kid",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "token_expired",
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::MissingClaim(_) => "missing_claim",
            AuthError::BadClaim(_) => "bad_claim",
            AuthError::CriticalHeader(_) => "unsupported_critical_header",
            AuthError::KeysStale(_) => "keys_stale",
            AuthError::CertificateName(_) => "certificate_without_name",
        }
    }

    /// The RFC 6750 `error` attribute of the challenge.
    pub fn bearer_error(&self) -> Option<&'static str> {
        match self {
            AuthError::Missing => None,
            AuthError::NotBearer => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }
}

/// Either way identity can fail: an ambiguous credential header is a 400, a
/// missing or bad credential a 401.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    Ambiguous(Rejection),
    Unauthenticated(AuthError),
}

impl From<Rejection> for AuthFailure {
    fn from(r: Rejection) -> Self {
        AuthFailure::Ambiguous(r)
    }
}

impl From<AuthError> for AuthFailure {
    fn from(e: AuthError) -> Self {
        AuthFailure::Unauthenticated(e)
    }
}

/// Establishes the caller's identity under the snapshot's identity settings.
///
/// `cache` (with the scope of these settings, see [`cache_scope`]) is
/// consulted and filled only for JWTs, and only when the settings allow it.
pub fn authenticate(
    identity: &Identity,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    cache: Option<(&TokenCache, &str)>,
    jwks: Option<&jwks::Jwks>,
    now: u64,
) -> Result<Principal, AuthFailure> {
    authenticate_connection(identity, headers, peer, None, cache, jwks, now)
}

/// [`authenticate`] with the verified client certificate of the connection.
pub fn authenticate_connection(
    identity: &Identity,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    certificate: Option<&crate::tls::ClientCertificate>,
    cache: Option<(&TokenCache, &str)>,
    jwks: Option<&jwks::Jwks>,
    now: u64,
) -> Result<Principal, AuthFailure> {
    match identity {
        Identity::Jwt(settings) => {
            let Some(value) = canon::decision_header(headers, "authorization")? else {
                return Err(AuthError::Missing.into());
            };
            let token = bearer_token(value)?;
            let cache = cache.filter(|_| settings.cache);
            // A change of the fetched keys starts the cache over, as a reload does.
            let keys = jwks.map(|j| j.current());
            let generation = keys.as_ref().map_or(0, |k| k.generation);
            if let Some(user) = cache.and_then(|(c, scope)| c.get(scope, generation, token, now)) {
                return Ok(Principal {
                    user,
                    source: "jwt_cached",
                });
            }
            let fetched = keys.as_deref().zip(jwks.map(|j| j.settings().max_age));
            let verified = jwt::verify_with(settings, fetched, token, now)?;
            let user: Arc<str> = Arc::from(verified.user);
            if let Some((c, scope)) = cache {
                c.insert(scope, generation, token, user.clone(), verified.exp, now);
            }
            Ok(Principal {
                user,
                source: "jwt",
            })
        }
        Identity::TrustedHeader(settings) => trusted_header(settings, headers, peer),
        Identity::ClientCertificate(name) => {
            let cert = certificate.ok_or(AuthError::Missing)?;
            let user = match name {
                CertificateName::CommonName => cert.common_name.as_deref(),
                CertificateName::DnsSan => cert.dns_names.first().map(String::as_str),
                CertificateName::UriSan => cert.uris.first().map(String::as_str),
            };
            match user {
                Some(u) if !u.is_empty() => Ok(Principal {
                    user: Arc::from(u),
                    source: "client_certificate",
                }),
                _ => Err(AuthError::CertificateName(name.as_str()).into()),
            }
        }
    }
}

/// The token cache scope of one snapshot's identity settings: the snapshot
/// revision (so a key rotation empties it), the issuer and the audiences.
/// `None` when identity is not a JWT.
pub fn cache_scope(identity: &Identity, revision: &str) -> Option<String> {
    match identity {
        Identity::Jwt(s) => Some(format!(
            "{revision}\n{}\n{}",
            s.issuer,
            s.audiences.join("\n")
        )),
        Identity::TrustedHeader(_) | Identity::ClientCertificate(_) => None,
    }
}

fn bearer_token(value: &str) -> Result<&str, AuthError> {
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() || token.as_bytes().contains(&b' ') {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

fn trusted_header(
    settings: &TrustedHeaderSettings,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<Principal, AuthFailure> {
    // From anyone else the header is ignored here and stripped before forwarding.
    if !peer.is_some_and(|ip| settings.is_trusted(ip)) {
        return Err(AuthError::Missing.into());
    }
    match canon::decision_header(headers, &settings.header)? {
        Some(user) if !user.is_empty() => Ok(Principal {
            user: Arc::from(user),
            source: "trusted_header",
        }),
        _ => Err(AuthError::Missing.into()),
    }
}
