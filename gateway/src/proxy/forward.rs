//! Step 7, allow: the upstream peer, the very same body bytes that were
//! parsed, and no retry (the headers are `outgoing`'s).

use bytes::Bytes;
use pingora::prelude::*;
use pingora::upstreams::peer::HttpPeer;
use reqflo_config::Mode;

use super::ctx::{Ctx, Verdict};
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
