//! A refusal is a value; this module is the one place that turns it into an
//! HTTP status and a JSON body.

#[cfg(test)]
mod tests;

use bytes::Bytes;
use reqflo_policy::{Decision, Reason, ReasonCode};
use serde::Serialize;

use crate::auth::AuthError;
use crate::canon::Rejection;
use crate::environment::EnvError;
use crate::proxy::decide::Asked;

/// Every way the gateway answers a request itself.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// Ambiguous request, refused before routing: 400.
    Malformed(Rejection),
    /// The request headers exceed `limits.max_header_bytes`: 431.
    HeadersTooLarge { limit: usize },
    /// No usable identity: 401 with a challenge.
    Unauthenticated(AuthError),
    /// Nothing in the route table matches: 404, fail closed.
    NoRoute,
    /// The target environment could not be read: 400 (413 when the body is too large).
    Environment(EnvError),
    /// The policy said no: 403, or 404 when the resource must look absent.
    Denied(Box<Denial>),
    /// A bug, a caught panic, an unreadable snapshot: 500. Never an allow.
    Internal(Internal),
    /// The upstream could not be reached (502) or did not answer in time (504).
    Upstream(UpstreamFailure),
    /// Allowed by the policy, but of a risk a stale policy bundle no longer
    /// allows: 403 `policy_stale`.
    Stale(Box<crate::proxy::decide::Stale>),
    /// The request's org is outside this gateway's bundle shard: 421, not
    /// a policy decision (the shard is a function of the org id alone, so
    /// the answer says nothing about whether the org exists).
    OrgNotServed,
}

/// What a request for an org outside this gateway's shard is told.
pub const ORG_NOT_SERVED: &str = "this gateway does not serve this org (it serves another shard of the policy bundle); the request was routed to the wrong gateway";

/// The policy's deny and the question it answers: held once, in the
/// request's verdict, and rendered from there.
#[derive(Clone, Debug, PartialEq)]
pub struct Denial {
    pub asked: Asked,
    pub decision: Decision,
    pub policy_revision: String,
}

/// Internal failure kinds (a bounded metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Internal {
    /// The decision panicked; the panic was caught at the boundary.
    Panic,
    /// A route's template or upstream could not be resolved at request time.
    Route,
    /// Anything else inside the gateway.
    Bug,
}

impl Internal {
    pub const ALL: [Internal; 3] = [Internal::Panic, Internal::Route, Internal::Bug];

    pub const fn code(self) -> &'static str {
        match self {
            Internal::Panic => "panic",
            Internal::Route => "route_unresolvable",
            Internal::Bug => "internal",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamFailure {
    Unavailable,
    Timeout,
}

/// What goes on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
    /// The `WWW-Authenticate` challenge of a 401.
    pub challenge: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    decision: &'a str,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<&'a [Reason]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    /// Present (possibly `null`) on policy denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_revision: Option<&'a str>,
    decision_id: &'a str,
}

/// The realm of every challenge.
const REALM: &str = "reqflo";

impl Refusal {
    /// The HTTP status, chosen here and nowhere else.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::HeadersTooLarge { .. } => 431,
            Refusal::Unauthenticated(_) => 401,
            Refusal::NoRoute => 404,
            Refusal::Environment(EnvError::BodyTooLarge { .. }) => 413,
            Refusal::Environment(EnvError::BodyTimeout) => 408,
            Refusal::Environment(_) => 400,
            Refusal::Denied(d) if d.decision.code().is_some_and(ReasonCode::is_hidden) => 404,
            Refusal::Denied(_) => 403,
            Refusal::Internal(_) => 500,
            Refusal::Upstream(UpstreamFailure::Unavailable) => 502,
            Refusal::Upstream(UpstreamFailure::Timeout) => 504,
            Refusal::OrgNotServed => 421,
            Refusal::Stale(_) => 403,
        }
    }

    /// The stable code in the body and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(r) => r.code(),
            Refusal::HeadersTooLarge { .. } => "headers_too_large",
            Refusal::Unauthenticated(e) => e.code(),
            Refusal::NoRoute => "no_route",
            Refusal::Environment(e) => e.code(),
            Refusal::Denied(d) => d.decision.code().map_or("denied", ReasonCode::as_str),
            Refusal::Internal(_) => "internal_error",
            Refusal::Upstream(UpstreamFailure::Unavailable) => "upstream_unavailable",
            Refusal::Upstream(UpstreamFailure::Timeout) => "upstream_timeout",
            Refusal::OrgNotServed => "org_not_served",
            Refusal::Stale(_) => "policy_stale",
        }
    }

    /// Renders the response. `revision` is the serving snapshot's, when known.
    pub fn render(&self, decision_id: &str, revision: Option<&str>) -> Response {
        let status = self.status();
        let message;
        let stale_message;
        let hidden_reasons;
        let mut body = Body {
            decision: "deny",
            code: self.code(),
            message: "",
            reasons: None,
            action: None,
            resource: None,
            environment: None,
            policy_revision: revision,
            decision_id,
        };
        match self {
            Refusal::Denied(d) => {
                body.action = Some(d.asked.action.as_str());
                body.resource = Some(&d.asked.resource);
                body.environment = Some(d.asked.environment.as_deref());
                body.policy_revision = Some(&d.policy_revision);
                if status == 404 {
                    // `not_visible` and `resource_not_found` must be
                    // indistinguishable: same code, sentence and reasons.
                    let sentence = d
                        .decision
                        .reasons
                        .first()
                        .map(|r| r.message.clone())
                        .unwrap_or_default();
                    hidden_reasons = [Reason::new(ReasonCode::ResourceNotFound, sentence, None)];
                    body.code = ReasonCode::ResourceNotFound.as_str();
                    body.message = &hidden_reasons[0].message;
                    body.reasons = Some(&hidden_reasons);
                } else {
                    body.message = &d.decision.headline;
                    body.reasons = Some(&d.decision.reasons);
                }
            }
            Refusal::Stale(st) => {
                body.action = Some(st.asked.action.as_str());
                body.resource = Some(&st.asked.resource);
                body.environment = Some(st.asked.environment.as_deref());
                stale_message = st.message();
                body.message = &stale_message;
            }
            Refusal::Internal(_) => {
                body.decision = "error";
                body.message = "the gateway could not decide this request";
            }
            Refusal::Upstream(_) => {
                body.decision = "error";
                message = match self {
                    Refusal::Upstream(UpstreamFailure::Timeout) => {
                        "the backend did not answer in time"
                    }
                    _ => "the backend could not be reached",
                };
                body.message = message;
            }
            other => {
                let text = match other {
                    Refusal::Malformed(r) => r.to_string(),
                    Refusal::HeadersTooLarge { limit } => {
                        format!("the request headers are larger than the {limit}-byte limit")
                    }
                    Refusal::Unauthenticated(e) => e.to_string(),
                    Refusal::NoRoute => "no route matches this request".to_owned(),
                    Refusal::Environment(e) => e.to_string(),
                    Refusal::OrgNotServed => ORG_NOT_SERVED.to_owned(),
                    _ => String::new(),
                };
                if matches!(other, Refusal::OrgNotServed) {
                    body.decision = "error";
                }
                let bytes = serde_json::to_vec(&Body {
                    message: &text,
                    ..body
                })
                .unwrap_or_default();
                return Response {
                    status,
                    body: Bytes::from(bytes),
                    challenge: self.challenge(),
                };
            }
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        Response {
            status,
            body: Bytes::from(bytes),
            challenge: self.challenge(),
        }
    }

    fn challenge(&self) -> Option<String> {
        let Refusal::Unauthenticated(e) = self else {
            return None;
        };
        Some(match e.bearer_error() {
            None => format!("Bearer realm=\"{REALM}\""),
            Some(error) => {
                let description = e.to_string().replace(['"', '\\'], "'");
                format!(
                    "Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{description}\""
                )
            }
        })
    }
}
