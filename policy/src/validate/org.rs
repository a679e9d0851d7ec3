//! One org: ids of its objects, and every reference they make.

use rustc_hash::FxHashMap;

use super::index::DocumentIndex;
use super::refs::OrgIndex;
use super::{Report, cycles, name_objects};
use crate::document::{Grant, Org, Resource, Scope, Service, TeamMember};

pub(super) fn check(org: &Org, path: &str, document: &DocumentIndex<'_>, report: &mut Report) {
    let mut taken = FxHashMap::default();
    let group_names = name_objects(
        org.groups.iter().map(|g| g.id.as_str()),
        &format!("{path}.groups"),
        &mut taken,
        report,
    );
    // Services and resources share one id space.
    let mut taken = FxHashMap::default();
    let service_names = name_objects(
        org.services.iter().map(|s| s.id.as_str()),
        &format!("{path}.services"),
        &mut taken,
        report,
    );
    let resource_names = name_objects(
        org.resources.iter().map(|r| r.id.as_str()),
        &format!("{path}.resources"),
        &mut taken,
        report,
    );
    let mut taken = FxHashMap::default();
    let grant_names = name_objects(
        org.grants.iter().map(|g| g.id.as_str()),
        &format!("{path}.grants"),
        &mut taken,
        report,
    );

    let index = OrgIndex::new(org, document);
    for (group, name) in org.groups.iter().zip(&group_names) {
        for (position, member) in group.members.iter().enumerate() {
            index.user(
                member,
                format!("{path}.groups[{name}].members[{position}]"),
                report,
            );
        }
    }
    for (service, name) in org.services.iter().zip(&service_names) {
        check_service(service, &format!("{path}.services[{name}]"), &index, report);
    }
    for (resource, name) in org.resources.iter().zip(&resource_names) {
        check_resource(
            resource,
            &format!("{path}.resources[{name}]"),
            &index,
            report,
        );
    }
    cycles::check(org, path, &resource_names, report);
    for (grant, name) in org.grants.iter().zip(&grant_names) {
        check_grant(grant, &format!("{path}.grants[{name}]"), &index, report);
    }
}

fn check_service(service: &Service, path: &str, index: &OrgIndex<'_>, report: &mut Report) {
    for (position, principal) in service.visible_to.iter().enumerate() {
        index.principal(principal, &format!("{path}.visible_to[{position}]"), report);
    }
    for (position, seat) in service.team.iter().enumerate() {
        let at = format!("{path}.team[{position}].member");
        match &seat.member {
            TeamMember::User(id) => index.user(id, format!("{at}.user"), report),
            TeamMember::Group(id) => index.group(id, format!("{at}.group"), report),
        }
    }
}

fn check_resource(resource: &Resource, path: &str, index: &OrgIndex<'_>, report: &mut Report) {
    match resource.kind.as_str() {
        "" => report.push(format!("{path}.kind"), "kind is empty"),
        "service" => report.push(
            format!("{path}.kind"),
            "kind `service` is reserved: declare services under `services`",
        ),
        _ => {}
    }
    if let Some(service) = &resource.service {
        index.service(service, format!("{path}.service"), report);
    }
    for (position, principal) in resource.visible_to.iter().enumerate() {
        index.principal(principal, &format!("{path}.visible_to[{position}]"), report);
    }
    for (position, dependency) in resource.depends_on.iter().enumerate() {
        let at = format!("{path}.depends_on[{position}]");
        if *dependency == resource.id {
            report.push(at, format!("resource `{dependency}` depends on itself"));
        } else {
            index.resource(dependency, at, report);
        }
    }
    for (position, assignment) in resource.roles.iter().enumerate() {
        index.principal(
            &assignment.principal,
            &format!("{path}.roles[{position}].principal"),
            report,
        );
    }
}

fn check_grant(grant: &Grant, path: &str, index: &OrgIndex<'_>, report: &mut Report) {
    index.principal(&grant.principal, &format!("{path}.principal"), report);
    match &grant.scope {
        Scope::Resource(id) => index.resource(id, format!("{path}.scope.resource"), report),
        Scope::Service(id) => index.service(id, format!("{path}.scope.service"), report),
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
                index.environment(environment, format!("{path}.environments[{position}]"), report);
            }
        }
        None => {}
    }
}
