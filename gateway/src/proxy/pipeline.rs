//! Steps 1–6 in order, for one request: canonicalize → route (public routes
//! stop here) → authenticate → no route? → environment → decide.

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use reqflo_config::{Access, EnvironmentSource, Mode, RouteMatch, Snapshot};

use super::ctx::{Ctx, Stage, Verdict};
use super::decide;
use crate::auth::{self, AuthFailure};
use crate::canon::{self, Canonical, Rejection, Rules};
use crate::environment::{self, EnvError};
use crate::respond::{Denial, Refusal};
use crate::state::Shared;

/// The most body bytes the gateway can buffer and replay upstream: pingora's
/// retry buffer (64 KiB). A body-sourced environment is read up to the
/// smaller of this and `limits.max_body_bytes`.
pub const MAX_REPLAY_BODY: usize = 64 * 1024;

/// What `request_filter` does next.
#[derive(Debug)]
pub enum Next {
    Forward,
    Answer(Stage, Refusal),
}

macro_rules! answer {
    ($stage:expr, $refusal:expr) => {
        return Next::Answer($stage, $refusal)
    };
}

/// Runs the pipeline; on `Forward`, `ctx` holds the route, upstream, user and verdict.
pub async fn run(shared: &Shared, session: &mut Session, ctx: &mut Ctx) -> Next {
    // One load for the whole request.
    let derived = shared.current();
    ctx.derived = Some(derived.clone());
    let snapshot = &derived.snapshot;
    let settings = &snapshot.settings;

    let limit = settings.limits.max_header_bytes;
    if header_bytes(session) > limit {
        answer!(Stage::Canonicalize, Refusal::HeadersTooLarge { limit });
    }
    if framing_was_ambiguous(session) {
        answer!(
            Stage::Canonicalize,
            Refusal::Malformed(Rejection::ConflictingLength)
        );
    }
    let mut canonical = {
        let req = session.req_header();
        let raw = raw_target(session);
        let target = raw.as_deref().unwrap_or_else(|| req.raw_path());
        match canon::canonicalize(target, &req.headers, &Rules::from(&settings.strict)) {
            Ok(c) => c,
            Err(r) => answer!(Stage::Canonicalize, Refusal::Malformed(r)),
        }
    };
    // Forwarded as received when that already is the canonical form (the
    // usual case): no second parse of the target.
    if canonical.target.as_bytes() != session.req_header().raw_path() {
        ctx.target = Some(std::mem::take(&mut canonical.target));
    }

    let matched = snapshot
        .routes
        .lookup(session.req_header().method.as_str(), &canonical.path);
    if let Some(m) = &matched {
        select_route(ctx, m);
        if matches!(m.route.access, Access::Public) {
            ctx.verdict = Verdict::Public;
            return Next::Forward;
        }
    }

    // Identity comes before "no such route", so an anonymous caller learns
    // nothing about which paths exist.
    let peer = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    let cache = derived
        .token_scope
        .as_deref()
        .map(|scope| (&shared.tokens, scope));
    let now = crate::auth::now_seconds();
    let principal = match auth::authenticate(
        &settings.identity,
        &session.req_header().headers,
        peer,
        cache,
        now,
    ) {
        Ok(p) => p,
        Err(AuthFailure::Ambiguous(r)) => answer!(Stage::Authenticate, Refusal::Malformed(r)),
        Err(AuthFailure::Unauthenticated(e)) => {
            answer!(Stage::Authenticate, Refusal::Unauthenticated(e))
        }
    };
    ctx.user = Some(principal.user.clone());

    let Some(matched) = matched else {
        answer!(Stage::Route, Refusal::NoRoute);
    };
    let Access::Decide(check) = &matched.route.access else {
        answer!(Stage::Route, Refusal::NoRoute);
    };

    let environment =
        match read_environment(session, snapshot, &matched, check, &canonical, ctx).await {
            Ok(e) => e,
            Err(e) => answer!(Stage::Environment, Refusal::Environment(e)),
        };

    let asked = match decide::resolve(check, &matched, environment) {
        Ok(a) => a,
        Err(kind) => answer!(Stage::Decide, Refusal::Internal(kind)),
    };
    let answer = match decide::decide(&snapshot.policy, &principal.user, check, &matched, asked) {
        Ok(a) => a,
        Err(kind) => answer!(Stage::Decide, Refusal::Internal(kind)),
    };
    ctx.decision_time = Some(answer.took);
    let allowed = answer.decision.allowed;
    let denial = (!allowed && ctx.mode == Mode::Enforce).then(|| Denial {
        decision: answer.decision.clone(),
        action: answer.asked.action.as_str().to_owned(),
        resource: answer.asked.resource.clone(),
        environment: answer.asked.environment.clone(),
        policy_revision: snapshot.revision.clone(),
    });
    ctx.verdict = Verdict::Decided {
        asked: answer.asked,
        decision: answer.decision,
    };
    match denial {
        Some(d) => Next::Answer(Stage::Decide, Refusal::Denied(Box::new(d))),
        None => Next::Forward,
    }
}

/// Whether the client sent both `Transfer-Encoding` and `Content-Length`.
///
/// pingora resolves that conflict itself before any filter runs (it drops
/// `Content-Length` and turns keep-alive off, RFC 9112 §6.1), so the parsed
/// headers no longer show it: look at the raw header bytes. A
/// `Transfer-Encoding` on HTTP/1.0 is refused too.
fn framing_was_ambiguous(session: &Session) -> bool {
    let req = session.req_header();
    if !req.headers.contains_key(http::header::TRANSFER_ENCODING) {
        return false;
    }
    if req.version != http::Version::HTTP_11 {
        return true;
    }
    let Some(h1) = session.as_downstream().as_http1() else {
        return false;
    };
    let raw = h1.get_headers_raw_bytes();
    raw.split(|b| *b == b'\n').any(|line| {
        let line = line.strip_prefix(b" ").unwrap_or(line);
        line.len() >= 15 && line[..15].eq_ignore_ascii_case(b"content-length:")
    })
}

/// The size of the request head: the raw bytes for HTTP/1, else names and values.
fn header_bytes(session: &Session) -> usize {
    if let Some(h1) = session.as_downstream().as_http1() {
        return h1.get_headers_raw_bytes().len();
    }
    let req = session.req_header();
    req.headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

/// The request target exactly as the client sent it on the request line.
///
/// pingora's `raw_path()` drops a `#fragment`, which a backend might not:
/// canonicalize what was on the wire instead.
fn raw_target(session: &Session) -> Option<Bytes> {
    let raw = session.as_downstream().as_http1()?.get_headers_raw_bytes();
    // Usually the line is `METHOD SP raw_path() SP HTTP/1.x`: confirm that
    // with one comparison instead of scanning the line.
    let req = session.req_header();
    let method = req.method.as_str().as_bytes();
    let path = req.raw_path();
    let start = method.len() + 1;
    let end = start + path.len();
    if raw.starts_with(method)
        && raw.get(start - 1) == Some(&b' ')
        && raw.get(start..end) == Some(path)
        && raw
            .get(end..end + 8)
            .is_some_and(|v| v.starts_with(b" HTTP/1."))
        && matches!(raw.get(end + 9), Some(b'\r' | b'\n'))
    {
        return Some(raw.slice(start..end));
    }
    let line_end = raw
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(raw.len());
    let line = &raw[..line_end];
    let start = line.iter().position(|b| *b == b' ')? + 1;
    let end = line.iter().rposition(|b| *b == b' ')?;
    (end > start).then(|| raw.slice(start..end))
}

fn select_route(ctx: &mut Ctx, m: &RouteMatch<'_, '_>) {
    ctx.route = Some(m.route.id.clone());
    ctx.upstream = Some(m.route.upstream.clone());
    ctx.mode = m.route.mode;
}

async fn read_environment(
    session: &mut Session,
    snapshot: &Snapshot,
    matched: &RouteMatch<'_, '_>,
    check: &reqflo_config::Check,
    canonical: &Canonical,
    ctx: &mut Ctx,
) -> Result<Option<String>, EnvError> {
    let Some(source) = &check.environment else {
        return Ok(None);
    };
    let value = match source {
        EnvironmentSource::Body(field) => {
            let limit = snapshot.settings.limits.max_body_bytes.min(MAX_REPLAY_BODY);
            let body = read_body(session, limit).await?;
            if body.is_empty() {
                // No body at all: no environment (400 below when it is required).
                None
            } else {
                let value = environment::from_body(&body, field)?;
                ctx.body = Some(body);
                value
            }
        }
        other => {
            let headers = &session.req_header().headers;
            environment::from_request(other, |p| matched.param(p), canonical, headers)?
                .map(str::to_owned)
        }
    };
    if value.is_none() && check.environment_required {
        return Err(EnvError::Missing(environment::describe(source)));
    }
    Ok(value)
}

/// Reads the whole body, up to `limit` bytes, into memory. Pingora's retry
/// buffer keeps a copy, which is what it replays upstream on forwarding.
async fn read_body(session: &mut Session, limit: usize) -> Result<Bytes, EnvError> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(EnvError::BodyTooLarge { limit });
    }
    session.as_downstream_mut().enable_retry_buffering();
    let mut buf = BytesMut::new();
    loop {
        match session.as_downstream_mut().read_request_body().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    return Err(EnvError::BodyTooLarge { limit });
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => return Err(EnvError::BodyUnreadable),
        }
    }
    Ok(buf.freeze())
}
