//! `allowed_by`: the first source, in the documented order, that carries the action.

use smol_str::SmolStr;

use crate::decision::AllowedBy;
use crate::model::{Action, ActionSet, OrgRole, RiskLevel};

use super::permissions::{
    defaults, member_rights_role, org_role_actions, resource_role_actions, service_role_actions,
};
use super::world::{Asker, Res};

pub(super) fn allowed_by(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    action: Action,
    environment: Option<&str>,
    risk: &[RiskLevel],
) -> AllowedBy {
    let wanted: &[Action] = if action == Action::Attach {
        &[Action::Attach, Action::Use]
    } else {
        &[action]
    };
    wanted
        .iter()
        .find_map(|a| source_for(asker, resource, *a, environment, risk))
        .unwrap_or(AllowedBy::Visibility)
}

fn source_for(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    action: Action,
    environment: Option<&str>,
    risk: &[RiskLevel],
) -> Option<AllowedBy> {
    // org_owner first, then the other org roles in `OrgRole::ALL` order.
    for role in asker.roles() {
        if org_role_actions(role, resource).contains(action) {
            let via_group = asker.role_via_group(role).map(SmolStr::new);
            return Some(AllowedBy::OrgRole { role, via_group });
        }
    }
    if let Some(service) = resource.team_service
        && let Some(team) = asker.index.service(service)
    {
        for seat in &team.team {
            if asker.seat_matches(&seat.member)
                && service_role_actions(seat.role, resource).contains(action)
            {
                return Some(AllowedBy::ServiceRole {
                    service: SmolStr::new(service),
                    role: seat.role,
                });
            }
        }
    }
    for assignment in resource.roles {
        if asker.matches(&assignment.principal)
            && resource_role_actions(assignment.role)
                .with_implied()
                .contains(action)
        {
            return Some(AllowedBy::ResourceRole {
                role: assignment.role,
            });
        }
    }
    for grant in asker.applying(resource, environment) {
        if ActionSet::of(&grant.actions)
            .with_implied()
            .contains(action)
        {
            return Some(AllowedBy::Grant {
                id: SmolStr::new(&grant.id),
            });
        }
    }
    if matches!(action, Action::Use | Action::Run)
        && defaults(asker, resource, risk).contains(action)
    {
        let role = member_rights_role(asker).unwrap_or(OrgRole::Member);
        return Some(AllowedBy::Default { role });
    }
    (action == Action::View).then_some(AllowedBy::Visibility)
}
