//! Step 6: ask the policy for the route's check; the route's kind; every
//! `also` check. A panic in the engine is caught at the boundary (500).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use reqflo_config::{Check, RouteMatch};
use reqflo_policy::{Action, Decision, Reason, ReasonCode, Request};

use crate::respond::Internal;

/// One question put to the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub org: String,
    pub action: Action,
    pub resource: String,
    pub environment: Option<String>,
}

/// The answer for a whole request: the first deny, else the route's own allow.
#[derive(Debug)]
pub struct Answer {
    /// The question the answer is about (an `also` check when that denied).
    pub asked: Asked,
    pub decision: Decision,
    /// Time in the engine, all checks together.
    pub took: Duration,
}

/// Renders the check's org and resource from the path parameters.
pub fn resolve(
    check: &Check,
    matched: &RouteMatch<'_, '_>,
    environment: Option<String>,
) -> Result<Asked, Internal> {
    let org = check
        .org
        .render(|p| matched.param(p))
        .ok_or(Internal::Route)?
        .into_owned();
    let resource = check
        .resource
        .render(|p| matched.param(p))
        .ok_or(Internal::Route)?
        .into_owned();
    Ok(Asked {
        org,
        action: check.action,
        resource,
        environment,
    })
}

/// Whether this gateway serves the asked org: every org for a single-file
/// policy, the bundle shard's orgs for a bundle (a function of the org id
/// alone: it says nothing about whether the org exists).
pub fn served(snapshot: &reqflo_config::Snapshot, asked: &Asked) -> bool {
    snapshot
        .bundle
        .as_ref()
        .is_none_or(|b| b.shard.serves(&asked.org))
}

/// An allowed request refused because the policy bundle is stale.
#[derive(Clone, Debug, PartialEq)]
pub struct Stale {
    pub asked: Asked,
    /// The first protected risk level the request carries.
    pub level: reqflo_policy::RiskLevel,
    /// Since the server last confirmed the bundle; `None`: never.
    pub age: Option<Duration>,
    pub max: Duration,
}

impl Stale {
    /// The sentence the denied person reads.
    pub fn message(&self) -> String {
        let level = self.level.as_str();
        let age = self.age.map_or(
            "has never been confirmed by the policy server".to_owned(),
            |a| {
                format!(
                    "was last confirmed by the policy server {} s ago",
                    a.as_secs()
                )
            },
        );
        format!(
            "This gateway's policy {age}, longer than the {} s allowed for {level} requests, so {level} requests are refused until it is confirmed again; requests without {level} risk still work.",
            self.max.as_secs()
        )
    }
}

/// Whether an allowed request is refused for a stale bundle: the bundle is
/// fetched with `max_staleness_ms`, the server has not confirmed it for
/// longer, and the request's risk includes a protected level.
pub fn stale(
    source: &crate::bundle_fetch::BundleSource,
    snapshot: &reqflo_config::Snapshot,
    asked: &Asked,
) -> Option<Stale> {
    let staleness = snapshot.settings.bundle.as_ref()?.staleness.as_ref()?;
    if !source.is_stale(staleness.max) {
        return None;
    }
    let risk = snapshot.policy.request_risk(
        &asked.org,
        asked.action,
        &asked.resource,
        asked.environment.as_deref(),
    );
    let level = staleness
        .protects
        .iter()
        .copied()
        .find(|l| risk.contains(*l))?;
    Some(Stale {
        asked: asked.clone(),
        level,
        age: source.age(),
        max: staleness.max,
    })
}

/// Decides the route's check, then each `also` check (same user, org and
/// environment); the first deny is the answer.
pub fn decide(
    policy: &reqflo_policy::Snapshot,
    user: &str,
    check: &Check,
    matched: &RouteMatch<'_, '_>,
    main: Asked,
) -> Result<Answer, Internal> {
    let start = Instant::now();
    let first = kind_step(policy, check, &main, decide_one(policy, user, &main)?);
    if !first.allowed {
        return Ok(Answer {
            asked: main,
            decision: first,
            took: start.elapsed(),
        });
    }
    for also in &check.also {
        let resource = also
            .resource
            .render(|p| matched.param(p))
            .ok_or(Internal::Route)?
            .into_owned();
        let asked = Asked {
            org: main.org.clone(),
            action: also.action,
            resource,
            environment: main.environment.clone(),
        };
        let decision = decide_one(policy, user, &asked)?;
        if !decision.allowed {
            return Ok(Answer {
                asked,
                decision,
                took: start.elapsed(),
            });
        }
    }
    Ok(Answer {
        asked: main,
        decision: first,
        took: start.elapsed(),
    })
}

/// The route's kind: a route for one kind used with the id of another (a
/// journey id on a component route) finds no such resource *here*, so it is
/// answered as a missing one — allowed or not, once membership has passed
/// (a non-member learns nothing about the org's resources either way).
/// docs/access-model-decisions.md, "No oracle".
fn kind_step(
    policy: &reqflo_policy::Snapshot,
    check: &Check,
    asked: &Asked,
    decision: Decision,
) -> Decision {
    let Some(kind) = &check.kind else {
        return decision;
    };
    let membership_failed = matches!(
        decision.code(),
        Some(ReasonCode::NotOrgMember | ReasonCode::MembershipInactive)
    );
    if membership_failed || policy.resource_kind(&asked.org, &asked.resource) == Some(kind.as_str())
    {
        return decision;
    }
    Decision::deny(vec![Reason::new(
        ReasonCode::ResourceNotFound,
        reqflo_policy::HIDDEN_SENTENCE.to_owned(),
        None,
    )])
}

/// One decision; a panic in the engine becomes [`Internal::Panic`], never an allow.
pub fn decide_one(
    policy: &reqflo_policy::Snapshot,
    user: &str,
    asked: &Asked,
) -> Result<Decision, Internal> {
    let request = Request {
        org: &asked.org,
        user,
        action: asked.action.into(),
        resource: &asked.resource,
        environment: asked.environment.as_deref(),
    };
    catch_unwind(AssertUnwindSafe(|| reqflo_policy::decide(policy, &request)))
        .map_err(|_| Internal::Panic)
}
