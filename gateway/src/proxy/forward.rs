//! Step 7, allow: forwarding to the route's upstream with the verified
//! identity and the decision id, the very same body bytes that were parsed,
//! and no retry.

use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::upstreams::peer::HttpPeer;
use reqflo_config::{Identity, Mode};

use super::ctx::{Ctx, Verdict};
use super::{DECISION_ID_HEADER, USER_HEADER};
use crate::canon::same_name;
use crate::respond::{Internal, Refusal, UpstreamFailure};

/// Whether the pipeline concluded this request may go upstream.
fn may_forward(ctx: &Ctx) -> bool {
    match &ctx.verdict {
        Verdict::Public => true,
        Verdict::Decided { decision, .. } => decision.allowed || ctx.mode == Mode::Shadow,
        Verdict::Pending | Verdict::Refused { .. } => false,
    }
}

/// The upstream peer of the matched route, with its timeouts.
pub fn peer(ctx: &Ctx) -> Result<Box<HttpPeer>> {
    // Defence in depth: only a request the pipeline let through connects.
    if !may_forward(ctx) {
        return Error::e_explain(InternalError, "no forwarding verdict");
    }
    let (Some(derived), Some(name)) = (ctx.derived.as_deref(), ctx.upstream.as_ref()) else {
        return Error::e_explain(InternalError, "no upstream chosen");
    };
    let Some(upstream) = derived.snapshot.settings.upstreams.get(name) else {
        return Error::e_explain(InternalError, "upstream not in snapshot");
    };
    let Some(Some(addr)) = derived.upstream_addrs.get(name).copied() else {
        return Error::e_explain(ConnectNoRoute, "upstream address does not resolve");
    };
    let mut peer = HttpPeer::new(addr, upstream.tls, upstream.sni.clone());
    peer.options.connection_timeout = Some(upstream.connect_timeout);
    peer.options.total_connection_timeout = Some(upstream.connect_timeout);
    peer.options.read_timeout = Some(upstream.read_timeout);
    peer.options.write_timeout = Some(upstream.read_timeout);
    Ok(Box::new(peer))
}

/// The forwarded request: the canonical target, client-supplied identity
/// headers removed (every spelling), the verified user and the decision id added.
pub fn request_headers(request: &mut RequestHeader, ctx: &Ctx) -> Result<()> {
    if let Some(target) = &ctx.target {
        request.set_raw_path(target.as_bytes())?;
    }
    let trusted = ctx.snapshot().and_then(|s| match &s.settings.identity {
        Identity::TrustedHeader(t) => Some(t.header.as_str()),
        Identity::Jwt(_) => None,
    });
    let is_identity = |k: &http::HeaderName| {
        let k = k.as_str();
        same_name(k, USER_HEADER)
            || same_name(k, DECISION_ID_HEADER)
            || trusted.is_some_and(|t| same_name(k, t))
    };
    // With header identity the client's one `x-reqflo-user` usually carries
    // exactly the verified user already: keep it instead of removing it and
    // adding the same value back. Anything else identity-like goes.
    let user = ctx.user.as_deref();
    let mut user_present = false;
    let mut strip = false;
    for (name, value) in request.headers.iter() {
        if !is_identity(name) {
            continue;
        }
        if !user_present
            && name.as_str() == USER_HEADER
            && user.is_some_and(|u| value.as_bytes() == u.as_bytes())
        {
            user_present = true;
        } else {
            strip = true;
        }
    }
    if strip {
        let names: Vec<http::HeaderName> = request
            .headers
            .keys()
            .filter(|k| is_identity(k))
            .cloned()
            .collect();
        for name in names {
            request.remove_header(&name);
        }
        user_present = false;
    }
    request.insert_header(DECISION_ID_HEADER, ctx.decision_id.as_str())?;
    if let Some(user) = user
        && !user_present
    {
        request.insert_header(USER_HEADER, user)?;
    }
    Ok(())
}

/// Re-emits the body read for the environment: exactly the parsed bytes,
/// once, however pingora chunks what it replays.
pub fn body(chunk: &mut Option<Bytes>, ctx: &mut Ctx) {
    let Some(buffered) = &ctx.body else {
        return;
    };
    if ctx.body_sent {
        *chunk = None;
    } else {
        *chunk = Some(buffered.clone());
        ctx.body_sent = true;
    }
}

/// The gateway's answer to a failure pingora reports, if it should answer.
pub fn classify_failure(e: &Error, ctx: &Ctx) -> Option<Refusal> {
    match e.esource() {
        ErrorSource::Upstream => Some(Refusal::Upstream(upstream_kind(e))),
        ErrorSource::Downstream => match e.etype() {
            ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => None,
            _ => Some(Refusal::Malformed(crate::canon::Rejection::BadRequest)),
        },
        ErrorSource::Internal | ErrorSource::Unset => match e.etype() {
            ErrorType::ConnectTimedout
            | ErrorType::ConnectRefused
            | ErrorType::ConnectNoRoute
            | ErrorType::ConnectError
            | ErrorType::ReadTimedout
            | ErrorType::WriteTimedout
                if may_forward(ctx) =>
            {
                Some(Refusal::Upstream(upstream_kind(e)))
            }
            _ => Some(Refusal::Internal(Internal::Bug)),
        },
    }
}

fn upstream_kind(e: &Error) -> UpstreamFailure {
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            UpstreamFailure::Timeout
        }
        _ => UpstreamFailure::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(client_headers: &[(&str, &str)], user: Option<&str>) -> Vec<(String, String)> {
        let mut request = RequestHeader::build("POST", b"/api/v1/x", None).unwrap();
        for (name, value) in client_headers {
            request.append_header(name.to_string(), *value).unwrap();
        }
        let mut ctx = Ctx::new("d-1".to_owned());
        ctx.user = user.map(Into::into);
        request_headers(&mut request, &ctx).unwrap();
        request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn the_client_header_carrying_the_verified_user_is_kept_once() {
        let h = forwarded(
            &[("x-reqflo-user", "alice"), ("accept", "*/*")],
            Some("alice"),
        );
        assert_eq!(values(&h, "x-reqflo-user"), ["alice"]);
        assert_eq!(values(&h, "x-reqflo-decision-id"), ["d-1"]);
        assert_eq!(values(&h, "accept"), ["*/*"]);
    }

    #[test]
    fn any_other_identity_header_is_replaced_by_the_verified_user() {
        for client in [
            &[("x-reqflo-user", "mallory")][..],
            &[("x-reqflo-user", "alice"), ("x-reqflo-user", "alice")][..],
            &[("x-reqflo-user", "alice"), ("x_reqflo_user", "mallory")][..],
            &[("X_Reqflo_User", "alice")][..],
            &[
                ("x-reqflo-decision-id", "forged"),
                ("x-reqflo-user", "alice"),
            ][..],
        ] {
            let h = forwarded(client, Some("alice"));
            assert_eq!(values(&h, "x-reqflo-user"), ["alice"], "{client:?}");
            assert_eq!(
                values(&h, "x_reqflo_user"),
                Vec::<&str>::new(),
                "{client:?}"
            );
            assert_eq!(values(&h, "x-reqflo-decision-id"), ["d-1"], "{client:?}");
        }
    }

    #[test]
    fn without_a_verified_user_no_user_header_goes_upstream() {
        let h = forwarded(&[("x-reqflo-user", "alice")], None);
        assert_eq!(values(&h, "x-reqflo-user"), Vec::<&str>::new());
    }
}
