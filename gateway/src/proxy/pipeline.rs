//! The pipeline of one request, in order — the same steps the crate README
//! and `docs/OPERATIONS.md` name:
//!
//! 1. canonicalize (head size, framing, one canonical target, header rules);
//! 2. route lookup and the upgrade check (public routes are forwarded here);
//! 3. authenticate;
//! 4. no route → 404;
//! 5. environment (the body read once when it is read at all; one
//!    environment per request);
//! 6. decide (the route's check, the route's kind, every `also` check; an
//!    allowed request of a protected risk refused while the policy bundle
//!    is stale);
//! 7. deny, or forward (`forward`: the upstream request built from the decision).

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
    ctx.peer = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    apply_timeouts(session, &settings.limits);

    // 1. Canonicalize.
    let mut canonical = match canonicalize(session, settings) {
        Ok(c) => c,
        Err(refusal) => answer!(Stage::Canonicalize, refusal),
    };
    // Forwarded as received when that already is the canonical form (the
    // usual case): no second parse of the target.
    if canonical.target.as_bytes() != session.req_header().raw_path() {
        ctx.target = Some(std::mem::take(&mut canonical.target));
    }

    // 2. Route lookup; public routes stop here.
    let matched = snapshot
        .routes
        .lookup(session.req_header().method.as_str(), &canonical.path);
    if let Some(m) = &matched {
        select_route(ctx, m);
        let req = session.req_header();
        if let Err(r) = check_upgrade(&req.method, &req.headers, m.route) {
            answer!(Stage::Route, Refusal::Malformed(r));
        }
        if matches!(m.route.access, Access::Public) {
            ctx.verdict = Verdict::Public;
            return Next::Forward;
        }
    } else if session
        .req_header()
        .headers
        .contains_key(http::header::UPGRADE)
    {
        // No route carries it: refused before anything else is learned.
        answer!(
            Stage::Route,
            Refusal::Malformed(Rejection::UpgradeNotAllowed)
        );
    }

    // 3. Authenticate. Identity comes before "no such route", so an
    // anonymous caller learns nothing about which paths exist.
    let cache = derived
        .token_scope
        .as_deref()
        .map(|scope| (&shared.tokens, scope));
    let now = crate::auth::now_seconds();
    let jwks = derived.jwks.as_deref();
    let certificate = client_certificate(session);
    let headers = &session.req_header().headers;
    let authenticate = || {
        auth::authenticate_connection(
            &settings.identity,
            headers,
            ctx.peer,
            certificate,
            cache,
            jwks,
            now,
        )
    };
    let mut outcome = authenticate();
    // A key the fetched set does not have: one refetch (rate limited), then again.
    if let (Err(AuthFailure::Unauthenticated(auth::AuthError::UnknownKid(_))), Some(j)) =
        (&outcome, jwks)
        && j.refetch_for_unknown_kid().await
    {
        outcome = authenticate();
    }
    let principal = match outcome {
        Ok(p) => p,
        Err(AuthFailure::Ambiguous(r)) => answer!(Stage::Authenticate, Refusal::Malformed(r)),
        Err(AuthFailure::Unauthenticated(e)) => {
            answer!(Stage::Authenticate, Refusal::Unauthenticated(e))
        }
    };
    shared.metrics.authenticated.count(principal.source);
    ctx.user = Some(principal.user.clone());

    // 4. No route: deny, fail closed.
    let Some(matched) = matched else {
        answer!(Stage::Route, Refusal::NoRoute);
    };
    let Access::Decide(check) = &matched.route.access else {
        answer!(Stage::Route, Refusal::NoRoute);
    };

    if let Some(EnvironmentSource::Header(h)) = &check.environment {
        ctx.environment_header = Some(Box::from(h.as_str()));
    }
    if settings.assertion.is_some() {
        ctx.canonical_path = Some(canonical.path.clone());
    }

    // 5. Environment: read from the route's source, and named nowhere else
    // with another value.
    let environment =
        match read_environment(session, snapshot, &matched, check, &canonical, ctx).await {
            Ok(e) => e,
            Err(e) => answer!(Stage::Environment, Refusal::Environment(e)),
        };

    // 6. Decide: the route's check, its kind, every `also` check.
    let asked = match decide::resolve(check, &matched, environment) {
        Ok(a) => a,
        Err(kind) => answer!(Stage::Decide, Refusal::Internal(kind)),
    };
    if !decide::served(snapshot, &asked) {
        answer!(Stage::Decide, Refusal::OrgNotServed);
    }
    let answer = match decide::decide(&snapshot.policy, &principal.user, check, &matched, asked) {
        Ok(a) => a,
        Err(kind) => answer!(Stage::Decide, Refusal::Internal(kind)),
    };
    ctx.decision_time = Some(answer.took);
    // A bundle past its staleness: what it protects is no longer allowed.
    if answer.decision.allowed
        && ctx.mode == Mode::Enforce
        && let Some(stale) = decide::stale(&shared.bundle, snapshot, &answer.asked)
    {
        answer!(Stage::Decide, Refusal::Stale(Box::new(stale)));
    }

    // 7. Deny, or forward (allowed, or denied in shadow mode).
    if !answer.decision.allowed && ctx.mode == Mode::Enforce {
        let denial = Denial {
            asked: answer.asked,
            decision: answer.decision,
            policy_revision: snapshot.revision.clone(),
        };
        return Next::Answer(Stage::Decide, Refusal::Denied(Box::new(denial)));
    }
    ctx.verdict = Verdict::Decided {
        asked: answer.asked,
        decision: answer.decision,
    };
    Next::Forward
}

/// The client-side timeouts of `limits`: the longest wait for the next
/// bytes of a body, and how long an idle keep-alive connection (and each
/// read of its next request head) may wait.
fn apply_timeouts(session: &mut Session, limits: &reqflo_config::Limits) {
    session.set_read_timeout(Some(limits.body_read_timeout));
    if session.get_keepalive().is_some() {
        session.set_keepalive(limits.keepalive_timeout_seconds);
    }
}

/// Step 1: the head's size and framing, then one canonical form of the target.
fn canonicalize(
    session: &Session,
    settings: &reqflo_config::Settings,
) -> Result<Canonical, Refusal> {
    let limit = settings.limits.max_header_bytes;
    if header_bytes(session) > limit {
        return Err(Refusal::HeadersTooLarge { limit });
    }
    if framing_was_ambiguous(session) {
        return Err(Refusal::Malformed(Rejection::ConflictingLength));
    }
    let req = session.req_header();
    let raw = raw_target(session);
    let target = raw.as_deref().unwrap_or_else(|| req.raw_path());
    canon::canonicalize(target, &req.headers, &Rules::from(&settings.strict))
        .map_err(Refusal::Malformed)
}

/// Step 2, for a matched route: an `Upgrade` request only on a route that
/// declares a WebSocket, and then only `GET` with `Upgrade: websocket`. The
/// decision made for that request is the decision for the whole tunnel.
fn check_upgrade(
    method: &http::Method,
    headers: &http::HeaderMap,
    route: &reqflo_config::Route,
) -> Result<(), Rejection> {
    let mut upgrades = headers.get_all(http::header::UPGRADE).iter();
    let Some(first) = upgrades.next() else {
        return Ok(());
    };
    let websocket = route.websocket
        && *method == http::Method::GET
        && upgrades.next().is_none()
        && first
            .as_bytes()
            .trim_ascii()
            .eq_ignore_ascii_case(b"websocket");
    if websocket {
        Ok(())
    } else {
        Err(Rejection::UpgradeNotAllowed)
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
    fields_bytes(&session.req_header().headers)
}

/// The size of header fields as names, values and their `: ` and CRLF.
fn fields_bytes(headers: &http::HeaderMap) -> usize {
    headers
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

/// Step 5: the body, when it is read (a body-sourced environment, or any
/// JSON or form body on a decided route), parsed once; the environment from
/// the route's source; and no other place naming another one.
async fn read_environment(
    session: &mut Session,
    snapshot: &Snapshot,
    matched: &RouteMatch<'_, '_>,
    check: &reqflo_config::Check,
    canonical: &Canonical,
    ctx: &mut Ctx,
) -> Result<Option<String>, EnvError> {
    let body = read_decision_body(session, snapshot, check.environment.as_ref(), ctx).await?;
    let headers = &session.req_header().headers;
    environment_of(snapshot, matched, check, canonical, headers, body.as_ref())
}

/// Step 5 once the body is read (`body`: the parsed body, when one was
/// read): the environment from the route's source, required when the
/// route says so, and named nowhere else with another value. No I/O: the
/// proxy and `test-routes` share it.
pub(crate) fn environment_of(
    snapshot: &Snapshot,
    matched: &RouteMatch<'_, '_>,
    check: &reqflo_config::Check,
    canonical: &Canonical,
    headers: &http::HeaderMap,
    body: Option<&environment::Body>,
) -> Result<Option<String>, EnvError> {
    let source = check.environment.as_ref();
    let value = match source {
        None => None,
        Some(EnvironmentSource::Body(field)) => match body {
            // No body at all: no environment (400 below when it is required).
            None => None,
            Some(body) => environment::from_body(body, field)?,
        },
        Some(other) => environment::from_request(other, |p| matched.param(p), canonical, headers)?
            .map(str::to_owned),
    };
    if let Some(source) = source
        && value.is_none()
        && check.environment_required
    {
        return Err(EnvError::Missing(environment::describe(source)));
    }
    environment::check_one(
        snapshot.routes.environment_names(),
        source,
        value.as_deref(),
        canonical,
        headers,
        body,
    )?;
    Ok(value)
}

/// Reads and parses the body a decision looks at: always on a route whose
/// environment is a body field (as JSON, whatever the `Content-Type`), and
/// on any decided route when the body is declared JSON or a form. Other
/// bodies stream to the upstream unread. The bytes read are kept in `ctx`
/// and replayed upstream exactly.
async fn read_decision_body(
    session: &mut Session,
    snapshot: &Snapshot,
    source: Option<&EnvironmentSource>,
    ctx: &mut Ctx,
) -> Result<Option<environment::Body>, EnvError> {
    let Some(kind) = body_to_read(&session.req_header().headers, source)? else {
        return Ok(None);
    };
    let bytes = read_body(session, body_limit(snapshot)).await?;
    let body = parse_body(&bytes, kind, source)?;
    if body.is_some() {
        ctx.body = Some(bytes);
    }
    Ok(body)
}

/// The most body bytes a decision reads.
pub(crate) fn body_limit(snapshot: &Snapshot) -> usize {
    snapshot.settings.limits.max_body_bytes.min(MAX_REPLAY_BODY)
}

/// Whether the decision reads the body, and as what: always on a
/// body-sourced route, else when the body is declared JSON or a form.
pub(crate) fn body_to_read(
    headers: &http::HeaderMap,
    source: Option<&EnvironmentSource>,
) -> Result<Option<environment::BodyKind>, EnvError> {
    let declared = content_type(headers)?.and_then(environment::BodyKind::of);
    let body_source = matches!(source, Some(EnvironmentSource::Body(_)));
    if !body_source && (declared.is_none() || !has_body(headers)) {
        return Ok(None);
    }
    // A form is parsed as a form even on a body-sourced route, so `_method`
    // in it is refused as such (and the route then finds no JSON object).
    Ok(Some(declared.unwrap_or(environment::BodyKind::Json)))
}

/// Parses the body read (none when it is empty).
pub(crate) fn parse_body(
    bytes: &[u8],
    kind: environment::BodyKind,
    source: Option<&EnvironmentSource>,
) -> Result<Option<environment::Body>, EnvError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let body_source = matches!(source, Some(EnvironmentSource::Body(_)));
    Ok(Some(environment::Body::parse(bytes, kind, body_source)?))
}

/// The one `Content-Type` of a request (twice is ambiguous: a backend may
/// read either; its underscore twin is refused at canonicalization).
fn content_type(headers: &http::HeaderMap) -> Result<Option<&str>, Rejection> {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::DuplicateHeader);
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| Rejection::InvalidHeaderValue)
}

/// Whether the request declares a body (framing was checked at step 1).
fn has_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
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
            Err(e) if matches!(e.etype(), pingora::ErrorType::ReadTimedout) => {
                return Err(EnvError::BodyTimeout);
            }
            Err(_) => return Err(EnvError::BodyUnreadable),
        }
    }
    Ok(buf.freeze())
}

/// The verified client certificate of the request's connection, if any.
fn client_certificate(session: &Session) -> Option<&crate::tls::ClientCertificate> {
    let digest = session.digest()?;
    let ssl = digest.ssl_digest.as_ref()?;
    ssl.extension.get::<crate::tls::ClientCertificate>()
}

/// A request as `test-routes` gives it: no connection, the user already known.
#[derive(Clone, Debug)]
pub struct Probe {
    pub method: http::Method,
    /// The request target as sent: path and query.
    pub target: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// The verified user; `None` is a request without credentials.
    pub user: Option<String>,
}

/// What the pipeline makes of a [`Probe`].
#[derive(Debug, Default)]
pub struct Evaluation {
    /// The matched route's id.
    pub route: Option<String>,
    /// The question put to the policy, and its answer.
    pub asked: Option<decide::Asked>,
    pub decision: Option<reqflo_policy::Decision>,
    /// Answered by the gateway (with the stage), or `None`: forwarded.
    pub refusal: Option<(Stage, Refusal)>,
}

/// Runs a request through the pipeline's steps without a connection, with
/// the same functions as [`run`]: canonicalization, route lookup and the
/// upgrade check, environment reading and the one-environment check,
/// `resolve` and `decide`, and the deny-or-forward choice. What needs a
/// connection is not exercised: framing (given as headers and a body),
/// timeouts, and authentication (the probe names its user).
pub fn evaluate(snapshot: &Snapshot, probe: &Probe) -> Evaluation {
    let mut out = Evaluation::default();
    match evaluate_into(snapshot, probe, &mut out) {
        Next::Forward => {}
        Next::Answer(stage, refusal) => out.refusal = Some((stage, refusal)),
    }
    out
}

fn evaluate_into(snapshot: &Snapshot, probe: &Probe, out: &mut Evaluation) -> Next {
    let settings = &snapshot.settings;
    let head: usize =
        fields_bytes(&probe.headers) + probe.method.as_str().len() + probe.target.len() + 12;
    let limit = settings.limits.max_header_bytes;
    if head > limit {
        answer!(Stage::Canonicalize, Refusal::HeadersTooLarge { limit });
    }
    let canonical = match canon::canonicalize(
        probe.target.as_bytes(),
        &probe.headers,
        &Rules::from(&settings.strict),
    ) {
        Ok(c) => c,
        Err(r) => answer!(Stage::Canonicalize, Refusal::Malformed(r)),
    };
    let matched = snapshot
        .routes
        .lookup(probe.method.as_str(), &canonical.path);
    if let Some(m) = &matched {
        out.route = Some(m.route.id.to_string());
        if let Err(r) = check_upgrade(&probe.method, &probe.headers, m.route) {
            answer!(Stage::Route, Refusal::Malformed(r));
        }
        if matches!(m.route.access, Access::Public) {
            return Next::Forward;
        }
    } else if probe.headers.contains_key(http::header::UPGRADE) {
        answer!(
            Stage::Route,
            Refusal::Malformed(Rejection::UpgradeNotAllowed)
        );
    }
    let Some(user) = probe.user.as_deref() else {
        answer!(
            Stage::Authenticate,
            Refusal::Unauthenticated(auth::AuthError::Missing)
        );
    };
    let Some(matched) = matched else {
        answer!(Stage::Route, Refusal::NoRoute);
    };
    let Access::Decide(check) = &matched.route.access else {
        answer!(Stage::Route, Refusal::NoRoute);
    };
    let source = check.environment.as_ref();
    let body = match body_to_read(&probe.headers, source) {
        Ok(None) => None,
        Ok(Some(kind)) => {
            let limit = body_limit(snapshot);
            if probe.body.len() > limit {
                answer!(
                    Stage::Environment,
                    Refusal::Environment(EnvError::BodyTooLarge { limit })
                );
            }
            match parse_body(&probe.body, kind, source) {
                Ok(b) => b,
                Err(e) => answer!(Stage::Environment, Refusal::Environment(e)),
            }
        }
        Err(e) => answer!(Stage::Environment, Refusal::Environment(e)),
    };
    let environment = match environment_of(
        snapshot,
        &matched,
        check,
        &canonical,
        &probe.headers,
        body.as_ref(),
    ) {
        Ok(e) => e,
        Err(e) => answer!(Stage::Environment, Refusal::Environment(e)),
    };
    let asked = match decide::resolve(check, &matched, environment) {
        Ok(a) => a,
        Err(kind) => answer!(Stage::Decide, Refusal::Internal(kind)),
    };
    if !decide::served(snapshot, &asked) {
        answer!(Stage::Decide, Refusal::OrgNotServed);
    }
    let answer = match decide::decide(&snapshot.policy, user, check, &matched, asked) {
        Ok(a) => a,
        Err(kind) => answer!(Stage::Decide, Refusal::Internal(kind)),
    };
    out.asked = Some(answer.asked.clone());
    out.decision = Some(answer.decision.clone());
    if !answer.decision.allowed && matched.route.mode == Mode::Enforce {
        let denial = Denial {
            asked: answer.asked,
            decision: answer.decision,
            policy_revision: snapshot.revision.clone(),
        };
        return Next::Answer(Stage::Decide, Refusal::Denied(Box::new(denial)));
    }
    Next::Forward
}
