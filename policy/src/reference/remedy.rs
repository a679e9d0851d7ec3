//! What would grant a denied action: the remedy lists of the decisions page.

use smol_str::SmolStr;

use crate::decision::Remedy;
use crate::model::{AccessMode, Action, OrgRole, ResourceRole, RiskLevel, ServiceRole};

use super::permissions::{org_role_actions, resource_role_actions, service_role_actions, visible};
use super::world::{Asker, Res};

/// For `permission_missing` and `admin_role_required` on R (`risk`: the
/// effective risk), when no group sentence applies.
pub(super) fn remedy(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    action: Action,
    risk: &[RiskLevel],
    environment: Option<&str>,
) -> Vec<Remedy> {
    let mut out = Vec::new();
    // The member defaults: `use` and `run` of an open, not sensitive resource.
    if matches!(action, Action::Use | Action::Run)
        && resource.access_mode == AccessMode::Open
        && !risk.contains(&RiskLevel::Sensitive)
    {
        out.push(Remedy::OrgRole {
            org_role: OrgRole::Member,
        });
    }
    for role in OrgRole::ALL {
        if *role != OrgRole::OrgOwner && org_role_actions(*role, resource).contains(action) {
            out.push(Remedy::OrgRole { org_role: *role });
        }
    }
    // The owning service's roles, least first, when the user can see the service.
    if let Some(id) = resource.team_service
        && let Some(service) = asker.index.resource(id)
        && visible(asker, &service, environment)
    {
        let mut roles: Vec<ServiceRole> = ServiceRole::ALL.to_vec();
        roles.reverse();
        for role in roles {
            if service_role_actions(role, resource).contains(action) {
                out.push(Remedy::ServiceRole {
                    service_role: role,
                    service: SmolStr::new(id),
                });
            }
        }
    }
    // A service has no resource roles.
    if resource.kind != "service" {
        let mut roles: Vec<ResourceRole> = ResourceRole::ALL.to_vec();
        roles.reverse();
        for role in roles {
            if resource_role_actions(role).with_implied().contains(action) {
                out.push(Remedy::ResourceRole {
                    resource_role: role,
                });
            }
        }
    }
    out.push(Remedy::Grant { grant: action });
    out.push(Remedy::OrgRole {
        org_role: OrgRole::OrgOwner,
    });
    out
}
