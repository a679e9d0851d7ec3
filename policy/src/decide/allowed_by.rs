//! What allowed an allowed request: the first source, in the documented order.

use super::eval::{
    Ctx, Facts, MEMBER_RIGHTS, org_role_actions, resource_role_actions, service_role_actions,
    service_roles,
};
use crate::decision::AllowedBy;
use crate::model::{Action, OrgRole};

/// `org_owner`; another org role (with the group when held only through
/// one); a service role; a resource role; the first grant; the member
/// default; `visibility` for `view`. For `attach` the carried action is
/// `attach` on a secret-backed component and `use` otherwise.
pub(super) fn allowed_by(ctx: &Ctx<'_>, index: u32, action: Action, facts: &Facts) -> AllowedBy {
    let m = ctx.member;
    let Some(r) = ctx.org.resource(index) else {
        return AllowedBy::Visibility;
    };
    let want = match action {
        Action::Attach if !r.secret_backed => Action::Use,
        other => other,
    };
    let via = |role: OrgRole| {
        if m.direct_roles.contains(role) {
            return None;
        }
        let g = m.role_via.get(role.index() as usize).copied()?;
        ctx.org.groups.get(g as usize).map(|g| g.id.clone())
    };
    if m.roles.contains(OrgRole::OrgOwner) {
        return AllowedBy::OrgRole {
            role: OrgRole::OrgOwner,
            via_group: via(OrgRole::OrgOwner),
        };
    }
    for role in m.roles.iter() {
        if org_role_actions(role, r).with_implied().contains(want) {
            return AllowedBy::OrgRole {
                role,
                via_group: via(role),
            };
        }
    }
    if let Some(s) = r.service {
        for role in service_roles(m.seat_roles(s)) {
            if service_role_actions(role, r).with_implied().contains(want)
                && let Some(service) = ctx.org.resource(s)
            {
                return AllowedBy::ServiceRole {
                    service: service.id.clone(),
                    role,
                };
            }
        }
    }
    for &(p, role) in r.roles.iter() {
        if m.matches(p) && resource_role_actions(role).contains(want) {
            return AllowedBy::ResourceRole { role };
        }
    }
    if let Some(g) = facts
        .first_grant
        .and_then(|g| ctx.org.grants.get(g as usize))
    {
        return AllowedBy::Grant { id: g.id.clone() };
    }
    if want == Action::View {
        return AllowedBy::Visibility;
    }
    let role = MEMBER_RIGHTS
        .iter()
        .copied()
        .find(|r| m.roles.contains(*r))
        .unwrap_or(OrgRole::Member);
    AllowedBy::Default { role }
}
