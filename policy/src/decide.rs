//! The decision flow of `docs/access-model-decisions.md`, on a compiled snapshot.
//!
//! Steps 1 and 2 (membership, identification) are hash lookups here; steps
//! 3–6 are computed as allocation-free [`eval::Failures`] by [`eval::Ctx`];
//! only a deny turns them into sentences (`crate::explain`). See
//! `crate::compile` for what the cost of a decision depends on.

mod allowed_by;
pub(crate) mod eval;
#[cfg(test)]
pub(crate) mod tests;

use crate::compile::Snapshot;
use crate::decision::{Decision, Request};
use crate::explain;
use crate::model::MembershipStatus;

/// Decides one request. Pure; allocation-free on allow.
pub fn decide(snapshot: &Snapshot, request: &Request<'_>) -> Decision {
    evaluate::<true>(snapshot, request)
}

/// [`decide`] without the reasons of a deny (no sentence is built, nothing
/// allocated): for the analyses, which ask millions of questions and read
/// only whether, and by what, a request is allowed.
pub(crate) fn decide_unexplained(snapshot: &Snapshot, request: &Request<'_>) -> Decision {
    evaluate::<false>(snapshot, request)
}

/// A deny, with its reasons when `EXPLAIN`.
#[inline]
fn deny<const EXPLAIN: bool>(reasons: impl FnOnce() -> Vec<crate::decision::Reason>) -> Decision {
    if EXPLAIN {
        Decision::deny(reasons())
    } else {
        Decision::deny(Vec::new())
    }
}

#[inline(always)]
fn evaluate<const EXPLAIN: bool>(snapshot: &Snapshot, request: &Request<'_>) -> Decision {
    // Step 1: membership: the member is found by user id in the org's
    // member table, in one cache line. The resource and environment ids are
    // looked up alongside (a pure lookup whose result is used only after
    // membership passed), so their memory reads overlap the membership's.
    let org = snapshot
        .org_index
        .get(request.org)
        .and_then(|o| snapshot.orgs.get(o as usize));
    let resource = org.and_then(|org| org.resource_index.get(request.resource));
    let env_index = org
        .zip(request.environment)
        .map(|(org, e)| org.resource_index.get(e));
    let member = org.and_then(|org| org.members.get(request.user));
    let (Some(org), Some(member)) = (org, member) else {
        return deny::<EXPLAIN>(|| vec![explain::not_member(request)]);
    };
    if member.status != MembershipStatus::Active {
        return deny::<EXPLAIN>(|| vec![explain::inactive(request, member.status)]);
    }

    // Step 2: identify the resource first. A resource that does not exist
    // and one the user may not see answer alike, whatever else is wrong
    // with the request (docs/access-model-decisions.md, "No oracle").
    let Some(index) = resource else {
        return deny::<EXPLAIN>(|| explain::unidentified(request, false, true, false));
    };
    let action = request.action.action();
    // The environment: `Some(Some(e))` a known environment, `Some(None)` none
    // asked for, `None` an id that is not an environment of the org.
    let env = match env_index {
        Some(found) => match found {
            Some(i) if org.resource(i).is_some_and(|r| r.is_environment) => Some(Some(i)),
            _ => None,
        },
        None => Some(None),
    };
    let ctx = eval::Ctx {
        org,
        member,
        slot: member.slot,
        env: env.flatten(),
    };
    // A target environment the user may not see is answered as one that
    // does not exist (org-visible environments, the usual case, cost one
    // field read here).
    let env_hidden = ctx.env.is_some_and(|e| !ctx.is_visible(e));
    let (Some(action), Some(env), false) = (action, env, env_hidden) else {
        // Deny paths only: R's visibility decides first, then every part of
        // the request that could not be identified.
        if !ctx.is_visible(index) {
            return deny::<EXPLAIN>(|| vec![explain::not_visible()]);
        }
        return deny::<EXPLAIN>(|| {
            explain::unidentified(
                request,
                action.is_none(),
                false,
                env.is_none() || env_hidden,
            )
        });
    };
    let ctx = eval::Ctx { env, ..ctx };

    // Steps 3–7.
    let (failures, facts) = ctx.check(index, action, true);
    match facts {
        Some(facts) if !failures.any() => {
            Decision::allow(allowed_by::allowed_by(&ctx, index, action, &facts))
        }
        _ => deny::<EXPLAIN>(|| explain::reasons(&ctx, index, request.resource, action, &failures)),
    }
}
