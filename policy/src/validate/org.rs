//! One org: ids of its objects, and every reference they make.
//!
//! Paths are built only when a fault is found (`format_args!` on the way
//! down), so a valid document of any size costs no allocation per reference.

use std::fmt;

use rustc_hash::FxHashMap;

use super::index::DocumentIndex;
use super::refs::OrgIndex;
use super::{Name, Report, cycles, name_objects};
use crate::document::{Grant, Org, Resource, Scope, Service, TeamMember};

/// `orgs[acme].` — the prefix of every path inside one org.
#[derive(Clone, Copy, Debug)]
pub(super) struct InOrg<'a>(pub Name<'a>);

impl fmt::Display for InOrg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "orgs[{}].", self.0)
    }
}

pub(super) fn check(org: &Org, name: Name<'_>, document: &DocumentIndex<'_>, report: &mut Report) {
    let at = InOrg(name);
    let mut taken = FxHashMap::with_capacity_and_hasher(org.groups.len(), Default::default());
    let group_names = name_objects(
        org.groups.iter().map(|g| g.id.as_str()),
        &at,
        "groups",
        &mut taken,
        report,
    );
    // Services and resources share one id space.
    let mut taken = FxHashMap::with_capacity_and_hasher(
        org.services.len() + org.resources.len(),
        Default::default(),
    );
    let service_names = name_objects(
        org.services.iter().map(|s| s.id.as_str()),
        &at,
        "services",
        &mut taken,
        report,
    );
    let resource_names = name_objects(
        org.resources.iter().map(|r| r.id.as_str()),
        &at,
        "resources",
        &mut taken,
        report,
    );
    let mut taken = FxHashMap::with_capacity_and_hasher(org.grants.len(), Default::default());
    let grant_names = name_objects(
        org.grants.iter().map(|g| g.id.as_str()),
        &at,
        "grants",
        &mut taken,
        report,
    );

    let index = OrgIndex::new(org, document);
    for (group, name) in org.groups.iter().zip(&group_names) {
        for (position, member) in group.members.iter().enumerate() {
            index.user(
                member,
                format_args!("{at}groups[{name}].members[{position}]"),
                report,
            );
        }
    }
    for (service, name) in org.services.iter().zip(&service_names) {
        check_service(
            service,
            format_args!("{at}services[{name}]"),
            &index,
            report,
        );
    }
    for (resource, name) in org.resources.iter().zip(&resource_names) {
        check_resource(
            resource,
            format_args!("{at}resources[{name}]"),
            &index,
            report,
        );
    }
    cycles::check(org, at, &resource_names, report);
    for (grant, name) in org.grants.iter().zip(&grant_names) {
        check_grant(grant, format_args!("{at}grants[{name}]"), &index, report);
    }
}

fn check_service(
    service: &Service,
    path: fmt::Arguments<'_>,
    index: &OrgIndex<'_>,
    report: &mut Report,
) {
    for (position, principal) in service.visible_to.iter().enumerate() {
        index.principal(
            principal,
            format_args!("{path}.visible_to[{position}]"),
            report,
        );
    }
    for (position, seat) in service.team.iter().enumerate() {
        match &seat.member {
            TeamMember::User(id) => index.user(
                id,
                format_args!("{path}.team[{position}].member.user"),
                report,
            ),
            TeamMember::Group(id) => index.group(
                id,
                format_args!("{path}.team[{position}].member.group"),
                report,
            ),
        }
    }
}

fn check_resource(
    resource: &Resource,
    path: fmt::Arguments<'_>,
    index: &OrgIndex<'_>,
    report: &mut Report,
) {
    match resource.kind.as_str() {
        "" => report.push(format!("{path}.kind"), "kind is empty"),
        "service" => report.push(
            format!("{path}.kind"),
            "kind `service` is reserved: declare services under `services`",
        ),
        _ => {}
    }
    if let Some(service) = &resource.service {
        index.service(service, format_args!("{path}.service"), report);
    }
    check_seed_default(resource, path, report);
    for (position, principal) in resource.visible_to.iter().enumerate() {
        index.principal(
            principal,
            format_args!("{path}.visible_to[{position}]"),
            report,
        );
    }
    for (position, dependency) in resource.depends_on.iter().enumerate() {
        if *dependency == resource.id {
            report.push(
                format!("{path}.depends_on[{position}]"),
                format!("resource `{dependency}` depends on itself"),
            );
        } else {
            index.resource(
                dependency,
                format_args!("{path}.depends_on[{position}]"),
                report,
            );
        }
    }
    for (position, assignment) in resource.roles.iter().enumerate() {
        index.principal(
            &assignment.principal,
            format_args!("{path}.roles[{position}].principal"),
            report,
        );
    }
}

fn check_grant(grant: &Grant, path: fmt::Arguments<'_>, index: &OrgIndex<'_>, report: &mut Report) {
    index.principal(&grant.principal, format_args!("{path}.principal"), report);
    match &grant.scope {
        Scope::Resource(id) => index.resource(id, format_args!("{path}.scope.resource"), report),
        Scope::Service(id) => index.service(id, format_args!("{path}.scope.service"), report),
        Scope::Kind(kind) if kind.is_empty() => {
            report.push(format!("{path}.scope.kind"), "kind is empty")
        }
        Scope::Label(label) if label.is_empty() => {
            report.push(format!("{path}.scope.label"), "label is empty")
        }
        Scope::Kind(_) | Scope::Label(_) => {}
    }
    if grant.actions.is_empty() && grant.privileges.is_empty() {
        report.push(
            format!("{path}.actions"),
            "grant lists no action and no privilege",
        );
    }
    match &grant.environments {
        Some(environments) if environments.is_empty() => report.push(
            format!("{path}.environments"),
            "empty environment list: the grant would never apply; omit `environments` to apply in every environment",
        ),
        Some(environments) => {
            for (position, environment) in environments.iter().enumerate() {
                index.environment(environment, format_args!("{path}.environments[{position}]"), report);
            }
        }
        None => {}
    }
}

/// An explicit `access_mode` weaker than the seeds' default for the
/// resource needs `weaker_access_reason`; a reason with nothing weaker to
/// acknowledge is refused too, so a stale one does not linger.
fn check_seed_default(resource: &Resource, path: fmt::Arguments<'_>, report: &mut Report) {
    let reason = resource.weaker_access_reason.as_deref();
    match (resource.weakened_rule(), reason) {
        (Some(rule), None) => report.push(
            format!("{path}.access_mode"),
            format!(
                "`{}` is weaker than the seed default `{}` for this resource ({}); set `weaker_access_reason` to say why, or remove `access_mode`",
                resource.effective_access_mode(),
                rule.access_mode(),
                rule.row()
            ),
        ),
        (Some(_), Some(text)) if text.trim().is_empty() => report.push(
            format!("{path}.weaker_access_reason"),
            "`weaker_access_reason` is empty: say why the weaker access mode is meant",
        ),
        (None, Some(_)) => report.push(
            format!("{path}.weaker_access_reason"),
            format!(
                "nothing to acknowledge: access mode `{}` is not weaker than the seed default",
                resource.effective_access_mode()
            ),
        ),
        _ => {}
    }
}
