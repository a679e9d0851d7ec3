//! Step 7, allow: the headers of the forwarded request, built from the
//! decision.
//!
//! pingora has already removed the hop-by-hop headers (and those a client's
//! `Connection` header named) when `upstream_request_filter` runs, so what is
//! set here reaches the upstream as set. In one pass over the client's
//! headers, everything the gateway owns or a backend could read as another
//! identity, client address or environment is removed: the gateway's
//! `x-reqflo-*` namespace, the trusted identity header, `Forwarded` and
//! `X-Forwarded-*`, the identity aliases of `IDENTITY_ALIASES` and
//! `forwarding.strip_headers`, and every environment header — all compared
//! as a lenient backend compares names (any case, `_` as `-`). Then the
//! gateway's own are set: the verified user, the decision id, the decided
//! environment (and the route's environment header, to the decided value),
//! `X-Forwarded-For`/`-Proto`/`-Host`, and the signed assertion.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use http::HeaderName;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use reqflo_config::{IDENTITY_ALIASES, Identity, Snapshot, headers};

use super::ctx::{Ctx, Verdict};
use super::decide::Asked;

/// Per snapshot: the header names no client spelling of reaches an upstream
/// (lower case, `_` read as `-`), besides the `x-reqflo-` and
/// `x-forwarded-` prefixes and `forwarded`.
#[derive(Debug, Default)]
pub struct StripList {
    names: HashSet<Box<str>, foldhash::fast::RandomState>,
}

impl StripList {
    pub fn new(snapshot: &Snapshot) -> StripList {
        let settings = &snapshot.settings;
        let mut names: HashSet<Box<str>, _> = HashSet::default();
        names.extend(IDENTITY_ALIASES.iter().map(|n| Box::from(*n)));
        names.extend(
            settings
                .forwarding
                .strip_headers
                .iter()
                .map(|n| Box::from(n.as_str())),
        );
        if let Identity::TrustedHeader(t) = &settings.identity {
            names.insert(Box::from(t.header.replace('_', "-").as_str()));
        }
        names.extend(
            snapshot
                .routes
                .environment_names()
                .headers()
                .iter()
                .map(|n| Box::from(n.as_str())),
        );
        StripList { names }
    }

    /// Whether a client header `name` (lower case, as `http` keeps it) is removed.
    fn strips(&self, name: &str) -> bool {
        if name.as_bytes().contains(&b'_') {
            return self.strips_dashed(&name.replace('_', "-"));
        }
        self.strips_dashed(name)
    }

    fn strips_dashed(&self, name: &str) -> bool {
        name.starts_with(headers::PREFIX)
            || name.starts_with("x-forwarded-")
            || name == "forwarded"
            || self.names.contains(name)
    }
}

/// What the request was forwarded with: the canonical target, and the
/// headers built from the decision.
pub fn build(request: &mut RequestHeader, ctx: &Ctx) -> Result<()> {
    without_case_map(request);
    if let Some(target) = &ctx.target {
        request.set_raw_path(target.as_bytes())?;
    }
    let Some(derived) = ctx.derived.as_deref() else {
        return Error::e_explain(InternalError, "no snapshot for the forwarded request");
    };
    let settings = &derived.snapshot.settings;
    let trusted_proxy = ctx
        .peer
        .is_some_and(|p| settings.forwarding.is_trusted_proxy(p));

    // One pass: which client headers go. The client's one `x-reqflo-user`
    // that already carries exactly the verified user (header identity, the
    // usual case) is kept instead of being removed and added back.
    let user = ctx.user.as_deref();
    let mut user_kept = false;
    let mut remove: Vec<HeaderName> = Vec::new();
    let mut client_xff = String::new();
    for (name, value) in request.headers.iter() {
        let n = name.as_str();
        if !derived.strip.strips(n) {
            continue;
        }
        if trusted_proxy && n == "x-forwarded-for" {
            if let Ok(v) = value.to_str() {
                if !client_xff.is_empty() {
                    client_xff.push_str(", ");
                }
                client_xff.push_str(v.trim());
            }
        } else if !user_kept
            && n == headers::USER
            && user.is_some_and(|u| value.as_bytes() == u.as_bytes())
        {
            user_kept = true;
            continue;
        }
        if !remove.contains(name) {
            remove.push(name.clone());
        }
    }
    if remove.iter().any(|n| n.as_str() == headers::USER) {
        // A second `x-reqflo-user`: all of them go, the verified one is set.
        user_kept = false;
    }
    for name in &remove {
        request.remove_header(name);
    }

    request.insert_header(headers::DECISION_ID, ctx.decision_id.as_str())?;
    if let Some(user) = user
        && !user_kept
    {
        request.insert_header(headers::USER, user)?;
    }
    if let Some((asked, _)) = decided(ctx)
        && let Some(env) = asked.environment.as_deref()
    {
        request.insert_header(headers::DECIDED_ENVIRONMENT, env)?;
        if let Some(h) = &ctx.environment_header {
            request.insert_header(h.to_string(), env)?;
        }
    }
    forwarding_headers(request, ctx, client_xff)?;
    if let Some(assertion) = &settings.assertion
        && let Some((asked, decision)) = decided(ctx)
    {
        // A request the gateway cannot state the decision of is not sent.
        let Some(token) = sign_assertion(assertion, request, ctx, asked, decision) else {
            return Error::e_explain(InternalError, "the decision assertion could not be signed");
        };
        request.insert_header(headers::ASSERTION, token)?;
    }
    Ok(())
}

/// Drops pingora's map of the client's header-name spellings: the headers
/// go upstream with lower-case names (HTTP/1.1 names are case-insensitive;
/// Envoy does the same), and every header set here is one map insert
/// instead of two. The target is unchanged: without a case map pingora
/// writes the URI's path and query, which for a target forwarded as
/// received are the very bytes received (they are canonical, so the URI
/// keeps them as they are), and a changed target is set explicitly.
fn without_case_map(request: &mut RequestHeader) {
    if !request.has_case() {
        return;
    }
    let empty = RequestHeader::from(http::Request::new(()).into_parts().0);
    let parts: http::request::Parts = std::mem::replace(request, empty).into();
    *request = RequestHeader::from(parts);
}

/// `X-Forwarded-For` (the peer, appended to the client's chain only when the
/// peer is a trusted proxy), `X-Forwarded-Proto` and `X-Forwarded-Host`.
fn forwarding_headers(request: &mut RequestHeader, ctx: &Ctx, mut xff: String) -> Result<()> {
    if let Some(peer) = ctx.peer {
        if !xff.is_empty() {
            xff.push_str(", ");
        }
        push_ip(&mut xff, peer);
        request.insert_header("x-forwarded-for", xff)?;
    }
    request.insert_header("x-forwarded-proto", "http")?;
    if let Some(host) = request.headers.get(http::header::HOST).cloned() {
        request.insert_header("x-forwarded-host", host)?;
    }
    Ok(())
}

/// Appends `ip` in its usual text form; IPv4 (and IPv4-mapped IPv6) by hand,
/// since `core::fmt` costs more than the rest of the header.
fn push_ip(out: &mut String, ip: IpAddr) {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => {
                let _ = write!(out, "{v6}");
                return;
            }
        },
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
}

/// The decision a forwarded request carries, when the policy was asked
/// (public routes have none).
fn decided(ctx: &Ctx) -> Option<(&Asked, &reqflo_policy::Decision)> {
    match &ctx.verdict {
        Verdict::Decided { asked, decision } => Some((asked, decision)),
        _ => None,
    }
}

/// A compact JWS stating the decision: what was decided, for whom, on which
/// request, by which policy. The claims, in this order: `iss`, `aud` (the
/// upstream the request is forwarded to), `sub`, `org`, `action`,
/// `resource`, `environment` (or `null`), `decision` (`allow`, or `deny` for
/// a request forwarded in shadow mode), `mode`, `route`, `method`, `path`
/// (canonical), `jti` (the decision id, also `x-reqflo-decision-id`),
/// `policy_revision`, `iat`, `exp`. Written directly: a generic serializer
/// cost more than the rest of the request's header work.
fn sign_assertion(
    assertion: &reqflo_config::Assertion,
    request: &RequestHeader,
    ctx: &Ctx,
    asked: &Asked,
    decision: &reqflo_policy::Decision,
) -> Option<String> {
    let now = crate::auth::now_seconds();
    let mut json = String::with_capacity(512);
    let mut field = |name: &str, value: Option<&str>| {
        json.push(if json.is_empty() { '{' } else { ',' });
        json.push('"');
        json.push_str(name);
        json.push_str("\":");
        match value {
            Some(v) => push_json_string(&mut json, v),
            None => json.push_str("null"),
        }
    };
    field("iss", Some(&assertion.issuer));
    field("aud", Some(ctx.upstream.as_deref().unwrap_or_default()));
    field("sub", Some(ctx.user.as_deref().unwrap_or_default()));
    field("org", Some(&asked.org));
    field("action", Some(asked.action.as_str()));
    field("resource", Some(&asked.resource));
    field("environment", asked.environment.as_deref());
    field(
        "decision",
        Some(if decision.allowed { "allow" } else { "deny" }),
    );
    field("mode", Some(ctx.mode.as_str()));
    field("route", Some(ctx.route.as_deref().unwrap_or_default()));
    field("method", Some(request.method.as_str()));
    field(
        "path",
        Some(ctx.canonical_path.as_deref().unwrap_or_default()),
    );
    field("jti", Some(&ctx.decision_id));
    field("policy_revision", Some(ctx.revision().unwrap_or_default()));
    let _ = write!(
        json,
        ",\"iat\":{now},\"exp\":{}}}",
        now + assertion.ttl.as_secs()
    );
    assertion.key.sign(json.as_bytes())
}

/// Appends `value` as a JSON string (RFC 8259 escapes; everything else,
/// non-ASCII included, as it is).
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(extra: &[&str]) -> StripList {
        let mut names: HashSet<Box<str>, _> = HashSet::default();
        names.extend(IDENTITY_ALIASES.iter().map(|n| Box::from(*n)));
        names.extend(extra.iter().map(|n| Box::from(*n)));
        StripList { names }
    }

    #[test]
    fn claim_strings_are_written_as_serde_json_writes_them() {
        for text in [
            "alice",
            "",
            "a\"b",
            "back\\slash",
            "line\nbreak\r\t",
            "nul\u{0}bell\u{7}",
            "café ✓",
            "\u{1f}",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "127.0.0.1",
            "0.0.0.0",
            "10.20.255.9",
            "192.168.100.1",
            "::1",
            "fd00::7",
            "2001:db8::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let mut out = String::new();
        push_ip(&mut out, mapped);
        assert_eq!(
            out, "10.1.2.3",
            "an IPv4 peer on a dual-stack socket reads as IPv4"
        );
    }

    #[test]
    fn every_spelling_of_an_owned_or_aliased_header_is_stripped() {
        let strip = list(&["x-corp-user", "x-reqflo-environment"]);
        for name in [
            "x-reqflo-user",
            "x_reqflo_user",
            "x-reqflo-decision-id",
            "x-reqflo-decided-environment",
            "x-reqflo-assertion",
            "x-reqflo-anything",
            "x-reqflo-environment",
            "forwarded",
            "x-forwarded-for",
            "x_forwarded_for",
            "x-forwarded-user",
            "x-forwarded-email",
            "x-remote-user",
            "x_remote_user",
            "remote-user",
            "x-auth-request-user",
            "x-auth-request-email",
            "x-real-ip",
            "x-corp-user",
            "x_corp_user",
        ] {
            assert!(strip.strips(name), "{name} reaches the upstream");
        }
        for name in [
            "host",
            "authorization",
            "content-type",
            "accept",
            "x-request-id",
            "user-agent",
        ] {
            assert!(!strip.strips(name), "{name} is stripped");
        }
    }
}
