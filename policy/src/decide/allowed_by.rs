//! What allowed an allowed request: the first source, in the documented order.

use super::eval::{
    Ctx, Facts, MEMBER_RIGHTS, org_role_actions, resource_role_actions, service_role_actions,
};
use crate::compile::ResourceData;
use crate::decision::AllowedBy;
use crate::model::{Action, ActionSet, OrgRole};

/// The source of the action; for `attach`, of `attach` and failing that of
/// `use` (what allows attaching a component that is not secret-backed).
pub(super) fn allowed_by(ctx: &Ctx<'_>, index: u32, action: Action, facts: &Facts) -> AllowedBy {
    let Some(r) = ctx.org.resource(index) else {
        return AllowedBy::Visibility;
    };
    let first = source(ctx, r, action, facts.first_grant);
    let fallback = || {
        let mut grant: Option<u32> = None;
        ctx.covering_grants(index, r, |e| {
            let carries = ActionSet(u32::from(e.actions)).contains(Action::Use);
            if carries && ctx.env_ok(e) && grant.is_none_or(|f| e.grant < f) {
                grant = Some(e.grant);
            }
        });
        source(ctx, r, Action::Use, grant)
    };
    match first {
        Some(by) => by,
        None if action == Action::Attach => fallback().unwrap_or(AllowedBy::Visibility),
        None => AllowedBy::Visibility,
    }
}

/// `org_owner`; another org role (with the group when held only through
/// one); a service role (seats in document order); a resource role; the
/// first grant; the member default (`use`, `run`); `visibility` (`view`).
fn source(ctx: &Ctx<'_>, r: &ResourceData, want: Action, grant: Option<u32>) -> Option<AllowedBy> {
    let m = ctx.member;
    let via = |role: OrgRole| {
        if m.direct_roles.contains(role) {
            return None;
        }
        let via = ctx.org.role_via.get(ctx.slot as usize)?;
        let g = via.get(role.index() as usize).copied()?;
        ctx.org.groups.get(g as usize).map(|g| g.id.clone())
    };
    for role in m.roles.iter() {
        if org_role_actions(role, r).with_implied().contains(want) {
            return Some(AllowedBy::OrgRole {
                role,
                via_group: via(role),
            });
        }
    }
    // A team seat matches the user exactly when the user holds a seat on
    // the service (directly or through a group: `Member::seats`), so the
    // service's record and team are read only then.
    if let Some((s, service)) = r
        .service
        .filter(|s| m.seat_roles(*s) != 0)
        .and_then(|s| Some((s, ctx.org.resource(s)?)))
    {
        for &(p, role) in service.team.iter() {
            if m.matches(p) && service_role_actions(role, r).with_implied().contains(want) {
                return ctx
                    .org
                    .service_ids
                    .get(s as usize)
                    .map(|id| AllowedBy::ServiceRole {
                        service: id.clone(),
                        role,
                    });
            }
        }
    }
    for &(p, role) in r.roles() {
        if m.matches(p) && resource_role_actions(role).contains(want) {
            return Some(AllowedBy::ResourceRole { role });
        }
    }
    if let Some(g) = grant.and_then(|g| ctx.org.grants.get(g as usize)) {
        return Some(AllowedBy::Grant { id: g.id.clone() });
    }
    if matches!(want, Action::Use | Action::Run) {
        let role = MEMBER_RIGHTS
            .iter()
            .copied()
            .find(|r| m.roles.contains(*r))?;
        return Some(AllowedBy::Default { role });
    }
    (want == Action::View).then_some(AllowedBy::Visibility)
}
