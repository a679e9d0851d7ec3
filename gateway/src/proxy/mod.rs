//! The pingora proxy: enforce in `request_filter`, record in `logging`.
//!
//! `request_filter` runs the whole pipeline (canonicalize → authenticate →
//! route → environment → decide) and either answers the request itself
//! (`Ok(true)`: nothing is sent upstream, no upstream connection is opened)
//! or lets pingora forward it to the route's upstream.

pub mod ctx;
pub mod decide;
mod forward;
pub mod head;
pub mod outgoing;
pub mod pipeline;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

use crate::record;
use crate::respond::{Refusal, Response};
use crate::state::Shared;
use ctx::{Ctx, Stage, Verdict};

/// The request and response header carrying the decision id.
pub const DECISION_ID_HEADER: &str = reqflo_config::headers::DECISION_ID;
/// The request header carrying the verified user id upstream.
pub const USER_HEADER: &str = reqflo_config::headers::USER;

/// The gateway's [`ProxyHttp`] implementation.
#[derive(Debug, Clone)]
pub struct Gate {
    pub shared: Arc<Shared>,
}

impl Gate {
    /// Writes a gateway-built response: `Content-Length` set, so the client
    /// connection stays usable (pingora issue #766).
    async fn answer(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        stage: Stage,
        refusal: Refusal,
    ) -> Result<bool> {
        let response = refusal.render(&ctx.decision_id, ctx.revision());
        ctx.verdict = Verdict::Refused { stage, refusal };
        drain_small_body(session).await;
        write_response(session, &ctx.decision_id, &response).await?;
        Ok(true)
    }
}

/// The largest unread request body drained so the connection can be kept
/// after a gateway-built answer; anything larger (or chunked, or behind
/// `Expect: 100-continue`) is not read, and the connection is closed.
const DRAIN_LIMIT: u64 = 64 * 1024;

async fn drain_small_body(session: &mut Session) {
    let headers = &session.req_header().headers;
    let small = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0 && n <= DRAIN_LIMIT);
    if !small || headers.contains_key(http::header::EXPECT) {
        return;
    }
    let drain = session.as_downstream_mut().drain_request_body();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// Sends `response` with its status, JSON body, length and decision id.
pub async fn write_response(
    session: &mut Session,
    decision_id: &str,
    response: &Response,
) -> Result<()> {
    let mut header = ResponseHeader::build(response.status, Some(4))?;
    header.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    header.insert_header(
        http::header::CONTENT_LENGTH,
        response.body.len().to_string(),
    )?;
    header.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    header.insert_header(DECISION_ID_HEADER, decision_id)?;
    if let Some(challenge) = &response.challenge {
        header.insert_header(http::header::WWW_AUTHENTICATE, challenge.as_str())?;
    }
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session
        .write_response_body(Some(response.body.clone()), true)
        .await?;
    Ok(())
}

#[async_trait]
impl ProxyHttp for Gate {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        // pingora asks for a context once it has read a request's head.
        head::head_read();
        Ctx::new(self.shared.ids.next())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        match pipeline::run(&self.shared, session, ctx).await {
            pipeline::Next::Forward => Ok(false),
            pipeline::Next::Answer(stage, refusal) => {
                self.answer(session, ctx, stage, refusal).await
            }
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        forward::body(body, ctx);
        Ok(())
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        forward::peer(ctx)
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let _ = session;
        outgoing::build(upstream_request, ctx)
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        response.insert_header(DECISION_ID_HEADER, ctx.decision_id.as_str())?;
        Ok(())
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut Ctx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        // Only a connection that never carried a byte is retried, on another
        // member of the same pool; a failure after that is never retried.
        forward::connect_failed(peer, ctx, &mut e);
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut Ctx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("peer: {peer}"));
        // A kept-alive connection the backend had already closed is retried
        // once on a fresh connection, and only for a safe method without a
        // body: nothing it asks can have changed anything. Any other failure
        // after the connection is never retried.
        let safe = matches!(
            session.req_header().method,
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        );
        if safe && ctx.body.is_none() && ctx.connect_retries < 4 {
            e.retry.decide_reuse(client_reused);
            if e.retry() {
                ctx.connect_retries += 1;
            }
        } else {
            e.set_retry(false);
        }
        e
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let refusal = forward::classify_failure(e, ctx);
        let mut code = 0;
        if let Some(refusal) = refusal {
            if let Refusal::Upstream(f) = &refusal {
                ctx.upstream_failure = Some(*f);
            }
            let response = refusal.render(&ctx.decision_id, ctx.revision());
            code = response.status;
            if session.response_written().is_none() {
                // pingora will not reuse this connection: say so, so the
                // client does not send its next request into a closed socket.
                session.set_keepalive(None);
                if let Refusal::Internal(_) = &refusal
                    && matches!(ctx.verdict, Verdict::Pending)
                {
                    ctx.verdict = Verdict::Refused {
                        stage: Stage::Decide,
                        refusal: refusal.clone(),
                    };
                }
                if write_response(session, &ctx.decision_id, &response)
                    .await
                    .is_err()
                {
                    code = 0;
                }
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        record::request(&self.shared, ctx, status);
        head::request_done();
    }
}
