//! Step 7, allow: the upstream peer (the next usable member of the route's
//! pool), the very same body bytes that were parsed, and a retry only of a
//! connection that failed before a byte was sent (the headers are `outgoing`'s).

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
    let Some(pool) = derived.pools.get(name) else {
        return Error::e_explain(InternalError, "upstream not in snapshot");
    };
    match pool.select() {
        Some(peer) => Ok(Box::new(peer)),
        None => Error::e_explain(ConnectNoRoute, "no member of the upstream pool is usable"),
    }
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

/// After a failed connection: the member is ejected, and the request is
/// tried on another member while one is usable (nothing reached a backend).
pub fn connect_failed(peer: &HttpPeer, ctx: &mut Ctx, e: &mut Error) {
    let retry = (|| {
        let derived = ctx.derived.as_deref()?;
        let pool = derived.pools.get(ctx.upstream.as_ref()?)?;
        let addr = peer._address.as_inet()?;
        pool.eject(addr);
        Some(pool.usable() > 0 && ctx.connect_retries < pool.upstream().members.len().max(4))
    })()
    .unwrap_or(false);
    if retry {
        ctx.connect_retries += 1;
    }
    e.set_retry(retry && may_forward(ctx));
}
