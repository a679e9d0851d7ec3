//! explicit, defaults, visibility and privileges, each as the doc defines it.

use crate::model::{
    AccessMode, Action, ActionSet, OrgRole, Privilege, ResourceRole, RiskLevel, ServiceRole,
    Visibility,
};

use super::world::{Asker, Res};

use Action::*;

/// What one org role gives on R, before the implications.
pub(super) fn org_role_actions(role: OrgRole, resource: &Res<'_>) -> ActionSet {
    let kind = resource.kind;
    let mut actions = match role {
        OrgRole::OrgOwner => ActionSet::ALL,
        OrgRole::OrgAdmin => ActionSet::of(&[ManageUsers, ManageGroups, ManageSettings]),
        OrgRole::SecurityAdmin => {
            let mut set = ActionSet::of(&[ManageSso, ManageScim, ManageSecrets, ManageScopes]);
            if is_sensitive(resource) {
                set = set.union(ManageAccess.bit());
            }
            if (kind == "auth_config" || kind == "oauth_config") && resource.secret_backed {
                set = set.union(Edit.bit());
            }
            set
        }
        OrgRole::BillingAdmin => {
            let mut set = ManageBilling.bit();
            if kind == "billing_setting" {
                set = set.union(View.bit());
            }
            set
        }
        OrgRole::IntegrationAdmin => {
            let mut set = ManageIntegrations.bit();
            if kind == "integration_connection" {
                set = set.union(Edit.bit());
            }
            set
        }
        OrgRole::Member | OrgRole::Viewer => ActionSet::EMPTY,
    };
    actions = actions.with_implied();
    actions
}

/// What one service role gives on R (a resource of its service, or the service).
pub(super) fn service_role_actions(role: ServiceRole, resource: &Res<'_>) -> ActionSet {
    let set = match role {
        ServiceRole::Owner => {
            let base = ActionSet::of(&[View, Use, Run, Edit, ManageAccess]);
            if resource.secret_backed {
                base
            } else {
                base.union(Attach.bit())
            }
        }
        ServiceRole::Maintainer => {
            let base = ActionSet::of(&[View, Use, Edit]);
            if resource.secret_backed || resource.access_mode == AccessMode::Restricted {
                base
            } else {
                base.union(Attach.bit())
            }
        }
        ServiceRole::Runner => ActionSet::of(&[View, Use, Run]),
        ServiceRole::Viewer | ServiceRole::Auditor => View.bit(),
    };
    set.with_implied()
}

pub(super) fn resource_role_actions(role: ResourceRole) -> ActionSet {
    match role {
        ResourceRole::Owner => ActionSet::of(&[View, Use, Run, Edit, Administer, ManageAccess]),
        ResourceRole::Maintainer => ActionSet::of(&[View, Use, Edit]),
        ResourceRole::User => ActionSet::of(&[View, Use, Run]),
        ResourceRole::Viewer => View.bit(),
    }
}

/// R is sensitive (for `security_admin`'s `manage_access`): any risk but `normal`.
pub(super) fn is_sensitive(resource: &Res<'_>) -> bool {
    resource.risk.iter().any(|r| *r != RiskLevel::Normal)
}

/// explicit(U, R, E): org roles, service team, resource roles, grants; then implications.
pub(super) fn explicit(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    environment: Option<&str>,
) -> ActionSet {
    let mut set = ActionSet::EMPTY;
    for role in asker.roles() {
        set = set.union(org_role_actions(role, resource));
    }
    if let Some(service) = resource.team_service {
        for role in asker.seats(service) {
            set = set.union(service_role_actions(*role, resource));
        }
    }
    for assignment in resource.roles {
        if asker.matches(&assignment.principal) {
            set = set.union(resource_role_actions(assignment.role));
        }
    }
    for grant in asker.applying(resource, environment) {
        set = set.union(ActionSet::of(&grant.actions));
    }
    set.with_implied()
}

/// The org roles that carry "member rights".
pub(super) const MEMBER_RIGHTS: [OrgRole; 5] = [
    OrgRole::Member,
    OrgRole::OrgAdmin,
    OrgRole::SecurityAdmin,
    OrgRole::BillingAdmin,
    OrgRole::IntegrationAdmin,
];

/// The role the member defaults come from, if U has member rights.
pub(super) fn member_rights_role(asker: &Asker<'_>) -> Option<OrgRole> {
    MEMBER_RIGHTS.iter().copied().find(|r| asker.has_role(*r))
}

/// defaults(U, R, E) for a visible R, given the effective risk.
pub(super) fn defaults(asker: &Asker<'_>, resource: &Res<'_>, risk: &[RiskLevel]) -> ActionSet {
    let mut set = View.bit();
    if member_rights_role(asker).is_some()
        && resource.access_mode == AccessMode::Open
        && !risk.contains(&RiskLevel::Sensitive)
    {
        set = set.union(ActionSet::of(&[Use, Run]));
    }
    set
}

pub(super) fn visible(asker: &Asker<'_>, resource: &Res<'_>, environment: Option<&str>) -> bool {
    match resource.visibility {
        Visibility::Org => true,
        Visibility::Restricted => {
            asker.has_role(OrgRole::OrgOwner)
                || resource.visible_to.iter().any(|p| asker.matches(p))
                || !explicit(asker, resource, environment).is_empty()
                || resource
                    .team_service
                    .is_some_and(|s| !asker.seats(s).is_empty())
        }
    }
}

/// privileges(U, R, E).
pub(super) fn has_privilege(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    environment: Option<&str>,
    privilege: Privilege,
) -> bool {
    asker.has_role(OrgRole::OrgOwner)
        || asker
            .applying(resource, environment)
            .iter()
            .any(|g| g.privileges.contains(&privilege))
}
