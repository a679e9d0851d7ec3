//! The per-request context: what `request_filter` decided, for the later
//! phases and for `logging`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqflo_config::{Mode, Snapshot};
use reqflo_policy::Decision;

use super::decide::Asked;
use crate::respond::{Refusal, UpstreamFailure};
use crate::state::Derived;

/// Where in the pipeline a request was answered without a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Canonicalize,
    Authenticate,
    Route,
    Environment,
    Decide,
}

impl Stage {
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Canonicalize => "canonicalize",
            Stage::Authenticate => "authenticate",
            Stage::Route => "route",
            Stage::Environment => "environment",
            Stage::Decide => "decide",
        }
    }
}

/// What the pipeline concluded.
#[derive(Debug, Default)]
pub enum Verdict {
    /// `request_filter` has not concluded (or pingora failed before it ran).
    #[default]
    Pending,
    /// A public route: forwarded without identity or decision.
    Public,
    /// The policy was asked and the request forwarded: allowed, or denied
    /// in shadow mode.
    Decided { asked: Asked, decision: Decision },
    /// Answered by the gateway itself; an enforced policy denial is
    /// `Refused { stage: Decide, refusal: Refusal::Denied(..) }`, which holds
    /// the decision.
    Refused { stage: Stage, refusal: Refusal },
}

/// Per-request state.
#[derive(Debug)]
pub struct Ctx {
    pub start: Instant,
    pub decision_id: String,
    /// The one snapshot this request sees (one `load()`), with what the
    /// gateway computed once for it.
    pub derived: Option<Arc<Derived>>,
    /// The canonical request target forwarded upstream, when it differs
    /// from the target pingora would forward (`None`: forwarded as received).
    pub target: Option<String>,
    pub route: Option<Arc<str>>,
    pub upstream: Option<Arc<str>>,
    /// The route's environment header, when it reads one: forwarded with
    /// the decided value.
    pub environment_header: Option<Box<str>>,
    /// The canonical path, kept only when a decision assertion states it.
    pub canonical_path: Option<String>,
    pub mode: Mode,
    /// The client's address (the TCP peer).
    pub peer: Option<IpAddr>,
    pub user: Option<Arc<str>>,
    pub verdict: Verdict,
    /// Time in the policy engine.
    pub decision_time: Option<Duration>,
    /// The body read to find the environment, re-emitted upstream unchanged.
    pub body: Option<Bytes>,
    /// Whether the buffered body has been handed to the upstream.
    pub body_sent: bool,
    pub upstream_failure: Option<UpstreamFailure>,
    /// Connections retried on another pool member after a failed connect.
    pub connect_retries: usize,
}

impl Ctx {
    pub fn new(decision_id: String) -> Ctx {
        Ctx {
            start: Instant::now(),
            decision_id,
            derived: None,
            target: None,
            route: None,
            upstream: None,
            environment_header: None,
            canonical_path: None,
            mode: Mode::Enforce,
            peer: None,
            user: None,
            verdict: Verdict::Pending,
            decision_time: None,
            body: None,
            body_sent: false,
            upstream_failure: None,
            connect_retries: 0,
        }
    }

    pub fn revision(&self) -> Option<&str> {
        self.snapshot().map(|s| s.revision.as_str())
    }

    /// The snapshot this request is decided against, once it has one.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.derived.as_deref().map(|d| &*d.snapshot)
    }
}
