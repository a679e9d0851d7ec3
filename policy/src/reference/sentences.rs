//! The sentences of the decisions table, written out again for the reference.

use crate::decision::ReasonCode;
use crate::document::Principal;
use crate::model::{AccessMode, Action, ActionSet, OrgRole, RiskLevel, kind_noun};

use super::permissions::resource_role_actions;
use super::world::{Asker, Res};

pub(super) const HIDDEN: &str = "This resource does not exist, or you do not have access to it.";

pub(super) fn admin(action: Action, resource: &Res<'_>, sensitive: bool) -> String {
    let kind = kind_noun(resource.kind);
    match action {
        Action::ManageScopes => "Only Security Admins can edit OAuth scopes.".to_owned(),
        Action::ManageSecrets => "Only Security Admins can manage secrets.".to_owned(),
        Action::ManageSso => "Only Security Admins can configure SSO.".to_owned(),
        Action::ManageScim => "Only Security Admins can configure SCIM.".to_owned(),
        Action::ManageBilling => "Only Billing Admins can manage billing.".to_owned(),
        Action::ManageIntegrations => {
            "Only Integration Admins can configure integrations.".to_owned()
        }
        Action::ManageUsers => "Only Org Admins can invite users or change roles.".to_owned(),
        Action::ManageGroups => "Only Org Admins can manage groups.".to_owned(),
        Action::ManageSettings => "Only Org Admins can change organization settings.".to_owned(),
        Action::ManageAccess if sensitive => {
            format!("Only the owners of this {kind} and Security Admins can manage access to it.")
        }
        Action::ManageAccess => format!("Only the owners of this {kind} can manage access to it."),
        _ => format!("Only Org Owners can administer this {kind}."),
    }
}

/// The `permission_missing` sentence for `action` on R.
pub(super) fn permission_missing(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    action: Action,
    risk: &[RiskLevel],
) -> String {
    let kind = kind_noun(resource.kind);
    if let Some(ids) = restricting_groups(asker, resource, action) {
        let name = |id: &str| {
            let group = asker.index.group(id);
            group
                .and_then(|g| g.name.clone())
                .unwrap_or_else(|| id.to_owned())
        };
        let groups: Vec<String> = ids.into_iter().map(name).collect();
        return match groups.as_slice() {
            [one] => format!("This {kind} is restricted to the {one} group."),
            [init @ .., last] => format!(
                "This {kind} is restricted to the {} and {last} groups.",
                init.join(", ")
            ),
            [] => String::new(),
        };
    }
    let mut sentence = format!("You can view this {kind}, but you cannot {action} it.");
    let service = resource.team_service.map(|id| {
        asker
            .index
            .service(id)
            .and_then(|s| s.name.as_deref())
            .unwrap_or(id)
    });
    let viewer_only = asker.roles() == [OrgRole::Viewer];
    if let (AccessMode::ServiceControlled, Some(service), Action::Run | Action::Use) =
        (resource.access_mode, service, action)
    {
        sentence.push_str(&format!(
            " Ask a {service} service owner for the runner role."
        ));
    } else if viewer_only {
        sentence.push_str(" Viewers have read-only access.");
    } else if resource.access_mode == AccessMode::Restricted || risk.contains(&RiskLevel::Sensitive)
    {
        sentence.push_str(" It needs an explicit role or grant.");
    }
    sentence
}

/// The group ids, when the grants and roles on R carrying `action` name only groups.
pub(super) fn restricting_groups<'d>(
    asker: &Asker<'d>,
    resource: &Res<'d>,
    action: Action,
) -> Option<Vec<&'d str>> {
    let mut principals: Vec<&'d Principal> = Vec::new();
    for grant in asker.index.covering(resource) {
        if ActionSet::of(&grant.actions)
            .with_implied()
            .contains(action)
        {
            principals.push(&grant.principal);
        }
    }
    for assignment in resource.roles {
        if resource_role_actions(assignment.role).contains(action) {
            principals.push(&assignment.principal);
        }
    }
    if principals.is_empty() {
        return None;
    }
    let mut ids: Vec<&'d str> = Vec::new();
    for principal in principals {
        let Principal::Group(id) = principal else {
            return None;
        };
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    Some(ids)
}

/// `restricted_dependency`, naming what blocks: D out of sight, or D's own
/// first reason (`cause`): a permission on a D whose access mode or risk is
/// tighter ("restricted"), a permission on any other D, or a privilege.
pub(super) fn restricted_dependency(
    resource: &Res<'_>,
    action: Action,
    dependency: &Res<'_>,
    visible: bool,
    cause: ReasonCode,
) -> String {
    let kind = kind_noun(resource.kind);
    let dependency_kind = kind_noun(dependency.kind);
    if visible {
        let tighter =
            dependency.access_mode != AccessMode::Open || dependency.has_risk(RiskLevel::Sensitive);
        let because = match cause {
            ReasonCode::PermissionMissing if tighter => {
                format!("it uses a restricted {dependency_kind}")
            }
            ReasonCode::PermissionMissing => {
                format!("it uses a {dependency_kind} you may not use")
            }
            _ => format!(
                "it uses a production {dependency_kind}, which needs the production privilege"
            ),
        };
        format!("You can view this {kind}, but you cannot {action} it because {because}.")
    } else {
        format!("You have access to the {kind}, but not to one of its required {dependency_kind}s.")
    }
}
