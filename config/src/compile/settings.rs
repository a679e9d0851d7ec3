//! Listeners, upstreams, identity, limits, mode and strictness.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};

use super::{Errors, Inputs};
use crate::assertion::AssertionKey;
use crate::error::{ConfigError, ErrorKind};
use crate::raw::{RawIdentity, RawJwt, RawTrustedHeader, RawUpstream};
use crate::settings::{
    AccessDiff, Assertion, CertificateName, Cidr, Forwarding, HealthCheck, Identity, JwksSettings,
    JwksSource, JwtKey, JwtSettings, Limits, Listen, Member, Mode, Settings, Strict,
    TrustedHeaderSettings, Upstream,
};

/// The most leeway accepted for `exp`/`nbf`.
const MAX_LEEWAY_SECONDS: u64 = 300;

pub(super) fn compile(inputs: &Inputs, errors: &mut Errors<'_>) -> Option<Settings> {
    let raw = &inputs.raw;
    let listen = listen(raw, errors);
    let upstreams = upstreams(inputs, errors);
    let listener_tls = match &raw.listen.tls {
        None => Some(None),
        Some(t) => super::tls::listener(inputs, t, errors).map(|t| Some(Arc::new(t))),
    };
    let identity = match &raw.identity {
        RawIdentity::Jwt(jwt) => jwt_settings(inputs, jwt, errors).map(Identity::Jwt),
        RawIdentity::TrustedHeader(th) => trusted_header(th, errors).map(Identity::TrustedHeader),
        RawIdentity::ClientCertificate(cc) => {
            client_certificate_identity(raw, cc, errors).map(Identity::ClientCertificate)
        }
    };
    let limits = limits(raw, errors);
    let mode = match raw.mode.as_deref() {
        None => Some(Mode::Enforce),
        Some(text) => Mode::parse(text).or_else(|| {
            errors.setting(
                ErrorKind::Invalid,
                "",
                "mode",
                format!("mode `{text}` is not `enforce` or `shadow`"),
            );
            None
        }),
    };
    let strict = strict(raw, errors);
    let forwarding = forwarding(raw, errors);
    if raw.reload.access_diff && raw.reload.access_diff_max_pairs == 0 {
        errors.setting(
            ErrorKind::Invalid,
            "reload",
            "access_diff_max_pairs",
            "reload `access_diff_max_pairs` is 0, which refuses every diff: set `access_diff: false` to turn the diff off".to_owned(),
        );
    }
    let assertion = match &raw.assertion {
        None => Some(None),
        Some(a) => assertion(inputs, a, errors).map(Some),
    };
    Some(Settings {
        listen: listen?,
        listener_tls: listener_tls?,
        upstreams: upstreams?,
        identity: identity?,
        limits: limits?,
        mode: mode?,
        strict: strict?,
        policy_path: inputs.policy_path.clone(),
        forwarding: forwarding?,
        assertion: assertion?,
        bundle: None,
        access_diff: raw.reload.access_diff.then(|| AccessDiff {
            max_pairs: usize::try_from(raw.reload.access_diff_max_pairs).unwrap_or(usize::MAX),
            log_entries: usize::try_from(raw.reload.access_diff_log_entries).unwrap_or(usize::MAX),
        }),
    })
}

fn forwarding(raw: &crate::raw::RawConfig, errors: &mut Errors<'_>) -> Option<Forwarding> {
    let f = &raw.forwarding;
    let mut ok = true;
    let mut trusted_proxies = Vec::new();
    for text in &f.trusted_proxies {
        match Cidr::parse(text) {
            Some(c) => trusted_proxies.push(c),
            None => {
                errors.setting(
                    ErrorKind::Address,
                    "forwarding",
                    "trusted_proxies",
                    format!("trusted proxy `{text}` is not an address or CIDR"),
                );
                ok = false;
            }
        }
    }
    let mut strip_headers = Vec::new();
    for name in &f.strip_headers {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            errors.setting(
                ErrorKind::Invalid,
                "forwarding",
                "strip_headers",
                format!("header name `{name}` must be letters, digits, `-` or `_`"),
            );
            ok = false;
            continue;
        }
        strip_headers.push(name.to_ascii_lowercase().replace('_', "-"));
    }
    ok.then_some(Forwarding {
        trusted_proxies,
        strip_headers,
    })
}

/// The most an assertion may live: a backend must not accept a replay for long.
const MAX_ASSERTION_TTL_SECONDS: u64 = 300;

fn assertion(
    inputs: &Inputs,
    raw: &crate::raw::RawAssertion,
    errors: &mut Errors<'_>,
) -> Option<Assertion> {
    let before = errors.len();
    if raw.kid.trim().is_empty() {
        errors.setting(
            ErrorKind::Invalid,
            "assertion",
            "kid",
            "assertion `kid` is empty".to_owned(),
        );
    }
    if raw.issuer.trim().is_empty() {
        errors.setting(
            ErrorKind::Invalid,
            "assertion",
            "issuer",
            "assertion `issuer` is empty".to_owned(),
        );
    }
    if raw.ttl_seconds == 0 || raw.ttl_seconds > MAX_ASSERTION_TTL_SECONDS {
        errors.setting(
            ErrorKind::Invalid,
            "assertion",
            "ttl_seconds",
            format!("assertion `ttl_seconds` must be 1 to {MAX_ASSERTION_TTL_SECONDS}"),
        );
    }
    let (path, bytes) = inputs.assertion_key.as_ref()?;
    let key_error = |message: String| ConfigError {
        kind: ErrorKind::KeyFile,
        file: inputs.config_path.clone(),
        line: crate::lines::value_line(errors.text(), "key", &raw.key),
        column: None,
        route: None,
        message,
    };
    let key = match bytes {
        Err(e) => {
            errors.push(key_error(format!(
                "assertion key: cannot read key file `{}`: {e}",
                path.display()
            )));
            None
        }
        Ok(bytes) => {
            let parsed = std::str::from_utf8(bytes)
                .map_err(|_| "is not a PEM text file".to_owned())
                .and_then(|pem| AssertionKey::from_pem(&raw.algorithm, &raw.kid, pem));
            match parsed {
                Ok(key) => Some(key),
                Err(message) => {
                    errors.push(key_error(format!(
                        "assertion key: key file `{}` {message}",
                        path.display()
                    )));
                    None
                }
            }
        }
    };
    let key = key?;
    (errors.len() == before).then(|| Assertion {
        key,
        ttl: Duration::from_secs(raw.ttl_seconds),
        issuer: raw.issuer.clone(),
        file: path.clone(),
    })
}

fn listen(raw: &crate::raw::RawConfig, errors: &mut Errors<'_>) -> Option<Listen> {
    let mut parse = |key: &str, text: &str| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                errors.setting(
                    ErrorKind::Address,
                    "listen",
                    key,
                    format!("listen `{key}` address `{text}` is not `ip:port`"),
                );
            })
            .ok()
    };
    let proxy = parse("proxy", &raw.listen.proxy);
    let admin = parse("admin", &raw.listen.admin);
    let (proxy, admin) = (proxy?, admin?);
    if proxy == admin && proxy.port() != 0 {
        errors.setting(
            ErrorKind::Address,
            "listen",
            "admin",
            format!("the admin listener `{admin}` is the proxy listener; give it its own port"),
        );
        return None;
    }
    Some(Listen { proxy, admin })
}

/// Splits `host:port` (IPv6 hosts in brackets).
fn host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')?
            .parse::<std::net::Ipv6Addr>()
            .ok()?
            .to_string(),
        None if host.is_empty() || host.contains(':') || host.contains('/') => return None,
        None => host.to_owned(),
    };
    Some((host, port))
}

fn upstreams(inputs: &Inputs, errors: &mut Errors<'_>) -> Option<BTreeMap<Arc<str>, Upstream>> {
    let raw = &inputs.raw.upstreams;
    if raw.is_empty() {
        errors.setting(
            ErrorKind::Invalid,
            "",
            "upstreams",
            "no upstreams are defined".to_owned(),
        );
        return None;
    }
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, up) in raw {
        match upstream(inputs, name, up, errors) {
            Some(u) => {
                out.insert(u.name.clone(), u);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The most members one upstream may list.
const MAX_MEMBERS: usize = 64;

fn upstream(
    inputs: &Inputs,
    name: &str,
    up: &RawUpstream,
    errors: &mut Errors<'_>,
) -> Option<Upstream> {
    let before = errors.len();
    let invalid = |errors: &mut Errors<'_>, message: String| {
        errors.setting(ErrorKind::Invalid, "upstreams", name, message);
    };
    let written: Vec<&String> = match (&up.address, up.addresses.is_empty()) {
        (Some(a), true) => vec![a],
        (None, false) => up.addresses.iter().collect(),
        (Some(_), false) => {
            invalid(
                errors,
                format!("upstream `{name}` sets both `address` and `addresses`; use one"),
            );
            Vec::new()
        }
        (None, true) => {
            invalid(
                errors,
                format!("upstream `{name}` needs `address` or `addresses`"),
            );
            Vec::new()
        }
    };
    if written.len() > MAX_MEMBERS {
        invalid(
            errors,
            format!("upstream `{name}` lists more than {MAX_MEMBERS} addresses"),
        );
    }
    let mut members = Vec::new();
    for address in written {
        match host_port(address) {
            Some((host, port)) => {
                let member = Member {
                    address: address.clone(),
                    host,
                    port,
                };
                if members.contains(&member) {
                    invalid(errors, format!("upstream `{name}` lists `{address}` twice"));
                }
                members.push(member);
            }
            None => errors.setting(
                ErrorKind::Address,
                "upstreams",
                name,
                format!("upstream `{name}` address `{address}` is not `host:port`"),
            ),
        }
    }
    if up.connect_timeout_ms == 0 || up.read_timeout_ms == 0 {
        invalid(errors, format!("upstream `{name}` has a zero timeout"));
    }
    if up.dns_refresh_seconds == 0 || up.dns_refresh_seconds > 3600 {
        invalid(
            errors,
            format!("upstream `{name}` `dns_refresh_seconds` is between 1 and 3600"),
        );
    }
    if up.eject_ms == 0 || up.eject_ms > 600_000 {
        invalid(
            errors,
            format!("upstream `{name}` `eject_ms` is between 1 and 600000"),
        );
    }
    let health_check = up.health_check.as_ref().and_then(|h| {
        let mut fine = true;
        if !h.path.starts_with('/') || h.path.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            invalid(
                errors,
                format!(
                    "upstream `{name}` health check path `{}` is not an absolute path",
                    h.path
                ),
            );
            fine = false;
        }
        if h.interval_ms < 100 || h.timeout_ms == 0 || h.timeout_ms > h.interval_ms {
            invalid(
                errors,
                format!(
                    "upstream `{name}` health check needs `interval_ms` ≥ 100 and 0 < `timeout_ms` ≤ `interval_ms`"
                ),
            );
            fine = false;
        }
        if h.healthy_threshold == 0 || h.unhealthy_threshold == 0 {
            invalid(
                errors,
                format!("upstream `{name}` health check thresholds are at least 1"),
            );
            fine = false;
        }
        fine.then(|| HealthCheck {
            path: h.path.clone(),
            interval: Duration::from_millis(h.interval_ms),
            timeout: Duration::from_millis(h.timeout_ms),
            healthy_threshold: h.healthy_threshold,
            unhealthy_threshold: h.unhealthy_threshold,
        })
    });
    let tls = super::tls::upstream(inputs, up.tls.as_ref(), errors);
    if let Some(sni) = &up.sni {
        if sni.trim().is_empty() {
            invalid(errors, format!("upstream `{name}` `sni` is empty"));
        }
        if !matches!(tls, Some(Some(_))) {
            invalid(
                errors,
                format!("upstream `{name}` sets `sni` without `tls`"),
            );
        }
    }
    if errors.len() != before {
        return None;
    }
    Some(Upstream {
        name: Arc::from(name),
        members,
        connect_timeout: Duration::from_millis(up.connect_timeout_ms),
        read_timeout: Duration::from_millis(up.read_timeout_ms),
        tls: tls?,
        sni: up.sni.clone(),
        dns_refresh: Duration::from_secs(up.dns_refresh_seconds),
        health_check,
        eject_for: Duration::from_millis(up.eject_ms),
    })
}

fn jwt_settings(inputs: &Inputs, jwt: &RawJwt, errors: &mut Errors<'_>) -> Option<JwtSettings> {
    let before = errors.len();
    let invalid = |errors: &mut Errors<'_>, key: &str, message: String| {
        errors.setting(ErrorKind::Invalid, "jwt", key, message);
    };
    if jwt.issuer.trim().is_empty() {
        invalid(errors, "issuer", "jwt `issuer` is empty".to_owned());
    }
    if jwt.audiences.is_empty() || jwt.audiences.iter().any(|a| a.trim().is_empty()) {
        invalid(
            errors,
            "audiences",
            "jwt `audiences` must list at least one non-empty audience".to_owned(),
        );
    }
    if jwt.leeway_seconds > MAX_LEEWAY_SECONDS {
        invalid(
            errors,
            "leeway_seconds",
            format!("jwt `leeway_seconds` is at most {MAX_LEEWAY_SECONDS}"),
        );
    }
    if jwt.user_claim.trim().is_empty() {
        invalid(errors, "user_claim", "jwt `user_claim` is empty".to_owned());
    }
    let mut algorithms = Vec::new();
    for name in &jwt.algorithms {
        match algorithm(name) {
            Ok(alg) => algorithms.push(alg),
            Err(message) => invalid(errors, "algorithms", message),
        }
    }
    if jwt.algorithms.is_empty() {
        invalid(
            errors,
            "algorithms",
            "jwt `algorithms` must pin at least one algorithm".to_owned(),
        );
    }
    if jwt.keys.is_empty() && jwt.jwks.is_none() {
        invalid(
            errors,
            "keys",
            "jwt needs `keys` (PEM files) or `jwks` (the identity provider's key set)".to_owned(),
        );
    }
    let jwks = jwt
        .jwks
        .as_ref()
        .map(|j| jwks(inputs, jwt, j, &algorithms, errors));
    let mut keys = BTreeMap::new();
    for (raw_key, (path, bytes)) in jwt.keys.iter().zip(&inputs.keys) {
        let kid = &raw_key.kid;
        let key_error = |message: String| ConfigError {
            kind: ErrorKind::KeyFile,
            file: inputs.config_path.clone(),
            line: crate::lines::value_line(errors.text(), "kid", kid),
            column: None,
            route: None,
            message,
        };
        if kid.trim().is_empty() || keys.contains_key(kid) {
            invalid(
                errors,
                "kid",
                format!("jwt key id `{kid}` is empty or used twice"),
            );
            continue;
        }
        let algorithm = match algorithm(&raw_key.algorithm) {
            Ok(alg) if algorithms.contains(&alg) => alg,
            Ok(_) => {
                invalid(
                    errors,
                    "kid",
                    format!(
                        "jwt key `{kid}` uses `{}`, which `algorithms` does not pin",
                        raw_key.algorithm
                    ),
                );
                continue;
            }
            Err(message) => {
                invalid(errors, "kid", message);
                continue;
            }
        };
        let pem = match bytes {
            Ok(pem) => pem,
            Err(e) => {
                errors.push(key_error(format!(
                    "jwt key `{kid}`: cannot read key file `{}`: {e}",
                    path.display()
                )));
                continue;
            }
        };
        match decoding_key(algorithm, pem) {
            Ok(key) => {
                keys.insert(
                    kid.clone(),
                    JwtKey {
                        kid: kid.clone(),
                        algorithm,
                        file: path.clone(),
                        key,
                    },
                );
            }
            Err(message) => {
                errors.push(key_error(format!(
                    "jwt key `{kid}`: key file `{}` {message}",
                    path.display()
                )));
            }
        }
    }
    (errors.len() == before).then(|| JwtSettings {
        issuer: jwt.issuer.clone(),
        audiences: jwt.audiences.clone(),
        algorithms,
        keys,
        jwks: jwks.flatten().map(Box::new),
        leeway: Duration::from_secs(jwt.leeway_seconds),
        user_claim: jwt.user_claim.clone(),
        cache: jwt.cache,
    })
}

/// The JWKS settings: a URL that is `https` (or `http` to a loopback
/// address), refresh bounds that make sense together.
fn jwks(
    inputs: &Inputs,
    jwt: &RawJwt,
    raw: &crate::raw::RawJwks,
    algorithms: &[Algorithm],
    errors: &mut Errors<'_>,
) -> Option<JwksSettings> {
    let before = errors.len();
    let invalid = |errors: &mut Errors<'_>, key: &str, message: String| {
        errors.setting(ErrorKind::Invalid, "jwks", key, message);
    };
    let source = match (&raw.url, raw.discovery) {
        (Some(url), false) => Some(JwksSource::Url(url.clone())),
        (None, true) => Some(JwksSource::Discovery(format!(
            "{}/.well-known/openid-configuration",
            jwt.issuer.trim_end_matches('/')
        ))),
        (Some(_), true) => {
            invalid(
                errors,
                "url",
                "jwks sets both `url` and `discovery: true`; use one".to_owned(),
            );
            None
        }
        (None, false) => {
            invalid(
                errors,
                "url",
                "jwks needs `url`, or `discovery: true` to find it from the issuer".to_owned(),
            );
            None
        }
    };
    if let Some(source) = &source
        && let Err(why) = fetchable_url(source.url())
    {
        let key = if raw.url.is_some() {
            "url"
        } else {
            "discovery"
        };
        invalid(errors, key, format!("jwks URL `{}` {why}", source.url()));
    }
    if raw.refresh_min_seconds == 0
        || raw.refresh_min_seconds > raw.refresh_max_seconds
        || raw.refresh_max_seconds > 86_400
    {
        invalid(
            errors,
            "refresh_min_seconds",
            "jwks needs 1 ≤ `refresh_min_seconds` ≤ `refresh_max_seconds` ≤ 86400".to_owned(),
        );
    }
    if raw.unknown_kid_cooldown_seconds == 0 || raw.unknown_kid_cooldown_seconds > 3600 {
        invalid(
            errors,
            "unknown_kid_cooldown_seconds",
            "jwks `unknown_kid_cooldown_seconds` is between 1 and 3600".to_owned(),
        );
    }
    if raw.max_age_seconds < raw.refresh_max_seconds {
        invalid(
            errors,
            "max_age_seconds",
            "jwks `max_age_seconds` is at least `refresh_max_seconds` (a key set must be able to live until its next refresh)".to_owned(),
        );
    }
    if raw.timeout_ms == 0 || raw.timeout_ms > 60_000 {
        invalid(
            errors,
            "timeout_ms",
            "jwks `timeout_ms` is between 1 and 60000".to_owned(),
        );
    }
    let ca = raw
        .ca
        .as_ref()
        .and_then(|name| super::tls::ca_bundle(inputs, errors, "ca", name));
    if errors.len() != before {
        return None;
    }
    Some(JwksSettings {
        source: source?,
        refresh_min: Duration::from_secs(raw.refresh_min_seconds),
        refresh_max: Duration::from_secs(raw.refresh_max_seconds),
        unknown_kid_cooldown: Duration::from_secs(raw.unknown_kid_cooldown_seconds),
        max_age: Duration::from_secs(raw.max_age_seconds),
        timeout: Duration::from_millis(raw.timeout_ms),
        ca,
        issuer: jwt.issuer.clone(),
        algorithms: algorithms.to_vec(),
    })
}

/// Why a key-set URL may not be fetched: keys over plain HTTP could be
/// swapped by anyone on the path, so only `https`, or `http` to this host.
pub fn fetchable_url(url: &str) -> Result<(), &'static str> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err("is plain `http` to another host; use `https`");
        }
        r
    } else {
        return Err("is not an `https://` URL");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || rest.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err("has no host or has spaces or non-ASCII bytes");
    }
    Ok(())
}

/// An asymmetric JWT algorithm; `none` and the shared-secret `HS*` are refused.
fn algorithm(name: &str) -> Result<Algorithm, String> {
    match Algorithm::from_str(name) {
        Ok(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) => Err(format!(
            "jwt algorithm `{name}` uses a shared secret; pin a public-key algorithm"
        )),
        Ok(alg) => Ok(alg),
        Err(_) => Err(format!(
            "jwt algorithm `{name}` is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"
        )),
    }
}

fn decoding_key(algorithm: Algorithm, pem: &[u8]) -> Result<DecodingKey, String> {
    if pem.windows(11).any(|w| w == b"PRIVATE KEY") {
        return Err("holds a private key; configure the public key only".to_owned());
    }
    let result = match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
        _ => DecodingKey::from_rsa_pem(pem),
    };
    result.map_err(|e| format!("is not a PEM public key for `{algorithm:?}`: {e}"))
}

/// The client certificate as identity: only behind a listener that
/// requires certificates verified against a bundle.
fn client_certificate_identity(
    raw: &crate::raw::RawConfig,
    cc: &crate::raw::RawClientCertificate,
    errors: &mut Errors<'_>,
) -> Option<CertificateName> {
    let name = match cc.user_from.as_deref() {
        None | Some("common_name") => Some(CertificateName::CommonName),
        Some("dns_san") => Some(CertificateName::DnsSan),
        Some("uri_san") => Some(CertificateName::UriSan),
        Some(other) => {
            errors.setting(
                ErrorKind::Invalid,
                "client_certificate",
                "user_from",
                format!("`user_from` is `common_name`, `dns_san` or `uri_san`, not `{other}`"),
            );
            None
        }
    };
    let required = raw.listen.tls.as_ref().is_some_and(|t| {
        t.client_ca.is_some() && t.client_certificates.as_deref() != Some("optional")
    });
    if !required {
        errors.setting(
            ErrorKind::Invalid,
            "identity",
            "client_certificate",
            "identity `client_certificate` needs `listen.tls.client_ca` with `client_certificates: required`".to_owned(),
        );
        return None;
    }
    name
}

fn trusted_header(th: &RawTrustedHeader, errors: &mut Errors<'_>) -> Option<TrustedHeaderSettings> {
    let mut ok = true;
    let header = th.header.to_ascii_lowercase();
    if header.is_empty()
        || !header
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errors.setting(
            ErrorKind::Invalid,
            "trusted_header",
            "header",
            format!(
                "trusted header name `{}` must be letters, digits and `-`",
                th.header
            ),
        );
        ok = false;
    }
    if th.trusted_sources.is_empty() {
        errors.setting(
            ErrorKind::Invalid,
            "trusted_header",
            "trusted_sources",
            "`trusted_sources` must list at least one address or CIDR".to_owned(),
        );
        ok = false;
    }
    let mut sources = Vec::new();
    for text in &th.trusted_sources {
        match Cidr::parse(text) {
            Some(cidr) => sources.push(cidr),
            None => {
                errors.setting(
                    ErrorKind::Address,
                    "trusted_header",
                    "trusted_sources",
                    format!("trusted source `{text}` is not an address or CIDR"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(TrustedHeaderSettings {
        header,
        trusted_sources: sources,
    })
}

fn limits(raw: &crate::raw::RawConfig, errors: &mut Errors<'_>) -> Option<Limits> {
    let mut size = |key: &str, value: u64| {
        let size = usize::try_from(value).ok().filter(|v| *v > 0);
        if size.is_none() {
            errors.setting(
                ErrorKind::Invalid,
                "limits",
                key,
                format!("limit `{key}` must be a positive number"),
            );
        }
        size
    };
    let body = size("max_body_bytes", raw.limits.max_body_bytes);
    let header = size("max_header_bytes", raw.limits.max_header_bytes);
    let body_timeout = size("body_read_timeout_ms", raw.limits.body_read_timeout_ms);
    let head_timeout = size("head_timeout_ms", raw.limits.head_timeout_ms);
    Some(Limits {
        max_body_bytes: body?,
        max_header_bytes: header?,
        body_read_timeout: Duration::from_millis(u64::try_from(body_timeout?).ok()?),
        head_timeout: Duration::from_millis(u64::try_from(head_timeout?).ok()?),
        keepalive_timeout_seconds: Some(raw.limits.keepalive_timeout_seconds).filter(|s| *s > 0),
    })
}

fn strict(raw: &crate::raw::RawConfig, errors: &mut Errors<'_>) -> Option<Strict> {
    let s = &raw.strict;
    let max_path_bytes = match s.max_path_bytes {
        None => None,
        Some(n) => match usize::try_from(n).ok().filter(|n| *n > 0) {
            Some(n) => Some(n),
            None => {
                errors.setting(
                    ErrorKind::Invalid,
                    "strict",
                    "max_path_bytes",
                    "`max_path_bytes` must be a positive byte count".to_owned(),
                );
                return None;
            }
        },
    };
    Some(Strict {
        reject_any_duplicate_query: s.reject_any_duplicate_query,
        reject_any_duplicate_header: s.reject_any_duplicate_header,
        reject_encoded_unreserved: s.reject_encoded_unreserved,
        reject_non_ascii_path: s.reject_non_ascii_path,
        max_path_bytes,
    })
}
