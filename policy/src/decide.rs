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
use crate::model::{Action, MembershipStatus};

/// Decides one request. Pure; allocation-free on allow.
pub fn decide(snapshot: &Snapshot, request: &Request<'_>) -> Decision {
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
        return Decision::deny(vec![explain::not_member(request)]);
    };
    if member.status != MembershipStatus::Active {
        return Decision::deny(vec![explain::inactive(request, member.status)]);
    }

    // Step 2: identify the action, the resource and the environment.
    let action = Action::parse(request.action);
    let env = match env_index {
        Some(found) => match found {
            Some(i) if org.resource(i).is_some_and(|r| r.is_environment) => Some(Some(i)),
            _ => None,
        },
        None => Some(None),
    };
    let (Some(action), Some(index), Some(env)) = (action, resource, env) else {
        return Decision::deny(explain::unidentified(
            request,
            action.is_none(),
            resource.is_none(),
            env.is_none(),
        ));
    };

    // Steps 3–7.
    let ctx = eval::Ctx {
        org,
        member,
        slot: member.slot,
        env,
    };
    let (failures, facts) = ctx.check(index, action, true);
    match facts {
        Some(facts) if !failures.any() => {
            Decision::allow(allowed_by::allowed_by(&ctx, index, action, &facts))
        }
        _ => Decision::deny(explain::reasons(
            &ctx,
            index,
            request.resource,
            action,
            &failures,
        )),
    }
}
