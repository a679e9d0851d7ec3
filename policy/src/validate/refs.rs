//! Lookups inside one org, and the reference checks that use them.

use std::fmt;

use rustc_hash::{FxHashMap, FxHashSet};

use super::Report;
use super::index::DocumentIndex;
use crate::document::{Org, Principal};

/// What an id in the service and resource id space names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entity<'a> {
    Service,
    /// A resource, by kind (even a misdeclared kind `service`).
    Resource(&'a str),
}

/// What references inside one org may name.
#[derive(Debug)]
pub(super) struct OrgIndex<'a> {
    pub org: &'a str,
    pub document: &'a DocumentIndex<'a>,
    pub groups: FxHashSet<&'a str>,
    /// Services and resources (one id space) → what the id names.
    pub kinds: FxHashMap<&'a str, Entity<'a>>,
}

impl<'a> OrgIndex<'a> {
    pub fn new(org: &'a Org, document: &'a DocumentIndex<'a>) -> OrgIndex<'a> {
        let mut kinds = FxHashMap::with_capacity_and_hasher(
            org.services.len() + org.resources.len(),
            Default::default(),
        );
        for service in &org.services {
            kinds.entry(service.id.as_str()).or_insert(Entity::Service);
        }
        for resource in &org.resources {
            kinds
                .entry(resource.id.as_str())
                .or_insert(Entity::Resource(&resource.kind));
        }
        OrgIndex {
            org: &org.id,
            document,
            groups: org.groups.iter().map(|g| g.id.as_str()).collect(),
            kinds,
        }
    }

    /// A user who holds a membership (of any status) in this org.
    pub fn user(&self, id: &str, path: fmt::Arguments<'_>, report: &mut Report) {
        if !self.document.users.contains(id) {
            report.push(path.to_string(), format!("unknown user `{id}`"));
        } else if !self.document.memberships.contains(&(id, self.org)) {
            report.push(
                path.to_string(),
                format!("user `{id}` has no membership in org `{}`", self.org),
            );
        }
    }

    pub fn group(&self, id: &str, path: fmt::Arguments<'_>, report: &mut Report) {
        if !self.groups.contains(id) {
            report.push(
                path.to_string(),
                format!("unknown group `{id}` in org `{}`", self.org),
            );
        }
    }

    /// A service (not a plain resource).
    pub fn service(&self, id: &str, path: fmt::Arguments<'_>, report: &mut Report) {
        match self.kinds.get(id) {
            None => report.push(
                path.to_string(),
                format!("unknown service `{id}` in org `{}`", self.org),
            ),
            Some(Entity::Service) => {}
            Some(Entity::Resource("service")) => report.push(
                path.to_string(),
                format!(
                    "`{id}` is declared under `resources`; services are declared under `services`"
                ),
            ),
            Some(Entity::Resource(kind)) => report.push(
                path.to_string(),
                format!("`{id}` is a resource of kind `{kind}`, not a service"),
            ),
        }
    }

    /// A service or a resource.
    pub fn resource(&self, id: &str, path: fmt::Arguments<'_>, report: &mut Report) {
        if !self.kinds.contains_key(id) {
            report.push(
                path.to_string(),
                format!("unknown resource `{id}` in org `{}`", self.org),
            );
        }
    }

    /// A resource of kind `environment`.
    pub fn environment(&self, id: &str, path: fmt::Arguments<'_>, report: &mut Report) {
        match self.kinds.get(id) {
            None => report.push(
                path.to_string(),
                format!("unknown environment `{id}` in org `{}`", self.org),
            ),
            Some(Entity::Resource("environment")) => {}
            Some(Entity::Service) => report.push(
                path.to_string(),
                format!("`{id}` is a service, not an environment"),
            ),
            Some(Entity::Resource(kind)) => report.push(
                path.to_string(),
                format!("`{id}` is a resource of kind `{kind}`, not an environment"),
            ),
        }
    }

    pub fn principal(&self, principal: &Principal, path: fmt::Arguments<'_>, report: &mut Report) {
        match principal {
            Principal::User(id) => self.user(id, format_args!("{path}.user"), report),
            Principal::Group(id) => self.group(id, format_args!("{path}.group"), report),
            Principal::Team(id) => self.service(id, format_args!("{path}.team"), report),
            Principal::OrgRole(_) => {}
        }
    }
}
