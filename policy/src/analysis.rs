//! The reverse questions, on a compiled snapshot: who can perform an action
//! on a resource ([`who_can`]), and what risky access one user holds
//! ([`what_can`]).
//!
//! Every analysis here asks the decision code itself
//! ([`crate::decide::decide`], through a variant that skips building the
//! sentences of a deny, which nothing here reads), for every member of the org (who-can) or
//! every risky (resource, action, environment) of the user's orgs
//! (what-can), so an answer is exact by construction: a listed user is one
//! `decide` allows, with the same `allowed_by`, and an unlisted one is one
//! it denies. Only the org's members are asked (a non-member is always
//! denied), so who-can costs one decision per member, not per user of the
//! policy.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use smol_str::SmolStr;

use crate::compile::{OrgData, ResourceData, Snapshot};
use crate::decide::decide_unexplained;
use crate::decide::eval::risk_bit;
use crate::decision::{AllowedBy, Request, RequestAction};
use crate::document::{Document, Grant, Principal, Resource, Service, TeamMember};
use crate::model::{Action, OrgRole, RiskLevel};

pub mod diff;
pub mod review;
#[cfg(test)]
mod tests;

/// An id the snapshot does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unknown {
    Org(String),
    Resource {
        org: String,
        resource: String,
    },
    /// Not a resource of kind `environment` in the org.
    Environment {
        org: String,
        environment: String,
    },
    /// A user who is a member of no org (or not of the org asked about).
    User {
        user: String,
        org: Option<String>,
    },
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unknown::Org(org) => write!(f, "unknown org `{org}`"),
            Unknown::Resource { org, resource } => {
                write!(f, "org `{org}` has no resource `{resource}`")
            }
            Unknown::Environment { org, environment } => {
                write!(f, "org `{org}` has no environment `{environment}`")
            }
            Unknown::User { user, org: None } => write!(f, "`{user}` is a member of no org"),
            Unknown::User {
                user,
                org: Some(org),
            } => write!(f, "`{user}` is not a member of org `{org}`"),
        }
    }
}

impl std::error::Error for Unknown {}

/// One user allowed, and what allows them (as a decision names it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub user: String,
    pub allowed_by: AllowedBy,
}

/// The principal an allowing grant, seat or resource role names, which is
/// how it reaches the user: `{"through": "group", "group": "support"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "through", rename_all = "snake_case")]
pub enum Through {
    /// Given to the user directly: an individual exception.
    User,
    Group {
        group: SmolStr,
    },
    /// Everyone seated on the service's team.
    Team {
        service: SmolStr,
    },
    /// Everyone holding the org role.
    OrgRole {
        role: OrgRole,
    },
}

impl Through {
    /// Given to one user rather than a group, team or role.
    pub fn is_individual(&self) -> bool {
        matches!(self, Through::User)
    }
}

impl fmt::Display for Through {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Through::User => f.write_str("(held directly: an individual exception)"),
            Through::Group { group } => write!(f, "through group `{group}`"),
            Through::Team { service } => write!(f, "through the team of `{service}`"),
            Through::OrgRole { role } => write!(f, "through org role `{role}`"),
        }
    }
}

/// The document indexed for [`Paths::through`]: per org, each user's
/// groups and org roles, and the grants, services and resources by id, so
/// asking how one allowed request reaches its user costs a few lookups
/// whatever the size of the document.
#[derive(Debug)]
pub struct Paths<'a> {
    orgs: HashMap<&'a str, OrgPaths<'a>>,
}

#[derive(Debug, Default)]
struct OrgPaths<'a> {
    /// User → the groups listing the user.
    groups_of: HashMap<&'a str, HashSet<&'a str>>,
    /// User → org roles, held directly or through a group.
    roles_of: HashMap<&'a str, Vec<OrgRole>>,
    grants: HashMap<&'a str, &'a Grant>,
    services: HashMap<&'a str, &'a Service>,
    resources: HashMap<&'a str, &'a Resource>,
}

impl<'a> Paths<'a> {
    pub fn new(document: &'a Document) -> Paths<'a> {
        let mut orgs: HashMap<&str, OrgPaths> = document
            .orgs
            .iter()
            .map(|org| {
                let mut paths = OrgPaths::default();
                for group in &org.groups {
                    for member in &group.members {
                        paths.groups_of.entry(member).or_default().insert(&group.id);
                        paths
                            .roles_of
                            .entry(member)
                            .or_default()
                            .extend(&group.roles);
                    }
                }
                // First in document order wins, as in the compiled policy.
                for grant in org.grants.iter().rev() {
                    paths.grants.insert(&grant.id, grant);
                }
                for service in org.services.iter().rev() {
                    paths.services.insert(&service.id, service);
                }
                for resource in org.resources.iter().rev() {
                    paths.resources.insert(&resource.id, resource);
                }
                (org.id.as_str(), paths)
            })
            .collect();
        for user in &document.users {
            for membership in &user.memberships {
                if let Some(paths) = orgs.get_mut(membership.org.as_str()) {
                    paths
                        .roles_of
                        .entry(&user.id)
                        .or_default()
                        .extend(&membership.roles);
                }
            }
        }
        Paths { orgs }
    }

    /// How `allowed_by` reaches `user` on `resource`: the principal of the
    /// allowing grant, seat or resource role (the first in document order
    /// that matches the user), or the group an org role comes through.
    /// `None` for what every member gets (defaults, org-wide visibility)
    /// and a directly held org role.
    pub fn through(
        &self,
        org: &str,
        user: &str,
        resource: &str,
        allowed_by: &AllowedBy,
    ) -> Option<Through> {
        let paths = self.orgs.get(org)?;
        let groups = paths.groups_of.get(user);
        let in_group = |g: &str| groups.is_some_and(|set| set.contains(g));
        let seated = |service: &str| {
            paths.services.get(service).is_some_and(|s| {
                s.team.iter().any(|seat| match &seat.member {
                    TeamMember::User(u) => u == user,
                    TeamMember::Group(g) => in_group(g),
                })
            })
        };
        let has_role = |r: &OrgRole| {
            paths
                .roles_of
                .get(user)
                .is_some_and(|roles| roles.contains(r))
        };
        let principal = |p: &Principal| -> Option<Through> {
            match p {
                Principal::User(u) if u == user => Some(Through::User),
                Principal::Group(g) if in_group(g) => Some(Through::Group {
                    group: g.as_str().into(),
                }),
                Principal::Team(s) if seated(s) => Some(Through::Team {
                    service: s.as_str().into(),
                }),
                Principal::OrgRole(r) if has_role(r) => Some(Through::OrgRole { role: *r }),
                _ => None,
            }
        };
        match allowed_by {
            AllowedBy::Grant { id } => {
                let grant = paths.grants.get(id.as_str())?;
                principal(&grant.principal).or(match &grant.principal {
                    Principal::User(_) => Some(Through::User),
                    Principal::Group(g) => Some(Through::Group {
                        group: g.as_str().into(),
                    }),
                    Principal::Team(s) => Some(Through::Team {
                        service: s.as_str().into(),
                    }),
                    Principal::OrgRole(r) => Some(Through::OrgRole { role: *r }),
                })
            }
            AllowedBy::ServiceRole { service, role } => {
                let s = paths.services.get(service.as_str())?;
                s.team
                    .iter()
                    .filter(|seat| seat.role == *role)
                    .find_map(|seat| match &seat.member {
                        TeamMember::User(u) if u == user => Some(Through::User),
                        TeamMember::Group(g) if in_group(g) => Some(Through::Group {
                            group: g.as_str().into(),
                        }),
                        _ => None,
                    })
            }
            AllowedBy::ResourceRole { role } => paths
                .resources
                .get(resource)?
                .roles
                .iter()
                .filter(|a| a.role == *role)
                .find_map(|a| principal(&a.principal)),
            AllowedBy::OrgRole {
                via_group: Some(g), ..
            } => Some(Through::Group { group: g.clone() }),
            AllowedBy::OrgRole {
                via_group: None, ..
            }
            | AllowedBy::Default { .. }
            | AllowedBy::Visibility => None,
        }
    }
}

/// [`Paths::through`] for one question (indexes the whole document: build
/// a [`Paths`] once to ask many).
pub fn through(
    document: &Document,
    org: &str,
    user: &str,
    resource: &str,
    allowed_by: &AllowedBy,
) -> Option<Through> {
    Paths::new(document).through(org, user, resource, allowed_by)
}

/// The cores this process may use (1 when unknown).
pub(crate) fn every_core() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` on `items` in contiguous parts, one per thread, on at most
/// `threads` threads (at least one); the results in the parts' order. A
/// panic in a part is raised again here.
pub(crate) fn on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let threads = threads.max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Every user `decide` allows `action` on `resource` (in `environment`),
/// sorted by user id, each with what allows it.
pub fn who_can(
    snapshot: &Snapshot,
    org: &str,
    action: Action,
    resource: &str,
    environment: Option<&str>,
) -> Result<Vec<Holder>, Unknown> {
    let data = org_data(snapshot, org)?;
    resource_index(data, org, resource)?;
    if let Some(e) = environment {
        environment_index(data, org, e)?;
    }
    let mut holders = Vec::new();
    for member in data.members.iter() {
        let Some(user) = data.members.user_id(member) else {
            continue;
        };
        let decision = decide_unexplained(
            snapshot,
            &Request {
                org,
                user,
                action: RequestAction::Known(action),
                resource,
                environment,
            },
        );
        if decision.allowed
            && let Some(allowed_by) = decision.allowed_by
        {
            holders.push(Holder {
                user: user.to_owned(),
                allowed_by,
            });
        }
    }
    holders.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(holders)
}

/// The actions an access review covers.
pub const REVIEWED_ACTIONS: [Action; 4] =
    [Action::Run, Action::Use, Action::Edit, Action::Administer];

/// One piece of risky access a user holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Access {
    pub org: String,
    pub resource: String,
    pub kind: String,
    pub action: Action,
    /// The target environment, for `run` and `use`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The request's effective risk (the resource's, plus the environment's
    /// for `run` and `use`), `normal` left out.
    pub risk: Vec<RiskLevel>,
    pub secret_backed: bool,
    pub allowed_by: AllowedBy,
}

/// Risk bits other than `normal`.
fn risky_bits(bits: u8) -> u8 {
    bits & !risk_bit(RiskLevel::Normal)
}

fn levels(bits: u8) -> Vec<RiskLevel> {
    RiskLevel::ALL
        .iter()
        .copied()
        .filter(|l| *l != RiskLevel::Normal && bits & risk_bit(*l) != 0)
        .collect()
}

/// Every risky access `user` holds, in the org asked or in every org the
/// user is a member of: `run`, `use`, `edit` and `administer` of each
/// resource whose effective risk is sensitive, production or destructive or
/// which is secret-backed, `run` and `use` once per environment of the org
/// (the environment's risk adds to the resource's). Sorted by org,
/// resource, action and environment.
pub fn what_can(
    snapshot: &Snapshot,
    user: &str,
    org: Option<&str>,
) -> Result<Vec<Access>, Unknown> {
    let orgs: Vec<(&str, &OrgData)> = match org {
        Some(o) => {
            let data = org_data(snapshot, o)?;
            if data.members.get(user).is_none() {
                return Err(Unknown::User {
                    user: user.to_owned(),
                    org: Some(o.to_owned()),
                });
            }
            vec![(o, data)]
        }
        None => snapshot
            .org_ids()
            .filter_map(|(id, data)| data.members.get(user).map(|_| (id, data)))
            .collect(),
    };
    if orgs.is_empty() {
        return Err(Unknown::User {
            user: user.to_owned(),
            org: None,
        });
    }
    let mut out = Vec::new();
    for (org_id, data) in orgs {
        let environments: Vec<(&str, u8)> = data
            .environments
            .iter()
            .filter_map(|&e| data.resource(e))
            .map(|e| (&*e.id, e.risk))
            .collect();
        for r in &data.resources {
            for action in REVIEWED_ACTIONS {
                let targets: Vec<(Option<&str>, u8)> =
                    if action.checks_dependencies() && !environments.is_empty() {
                        environments
                            .iter()
                            .map(|(e, risk)| (Some(*e), r.risk | risk))
                            .collect()
                    } else {
                        vec![(None, r.risk)]
                    };
                for (environment, risk) in targets {
                    if risky_bits(risk) == 0 && !r.secret_backed {
                        continue;
                    }
                    let decision = decide_unexplained(
                        snapshot,
                        &Request {
                            org: org_id,
                            user,
                            action: RequestAction::Known(action),
                            resource: &r.id,
                            environment,
                        },
                    );
                    if decision.allowed
                        && let Some(allowed_by) = decision.allowed_by
                    {
                        out.push(access(
                            org_id,
                            data,
                            r,
                            action,
                            environment,
                            risk,
                            allowed_by,
                        ));
                    }
                }
            }
        }
    }
    out.sort_by(Access::order);
    Ok(out)
}

impl Access {
    /// By org, resource, action and environment: the order `what_can` returns.
    pub fn order(a: &Access, b: &Access) -> std::cmp::Ordering {
        (&a.org, &a.resource, a.action, &a.environment).cmp(&(
            &b.org,
            &b.resource,
            b.action,
            &b.environment,
        ))
    }
}

fn access(
    org: &str,
    data: &OrgData,
    r: &ResourceData,
    action: Action,
    environment: Option<&str>,
    risk: u8,
    allowed_by: AllowedBy,
) -> Access {
    Access {
        org: org.to_owned(),
        resource: r.id.to_string(),
        kind: data.kind_name(r).to_owned(),
        action,
        environment: environment.map(str::to_owned),
        risk: levels(risk),
        secret_backed: r.secret_backed,
        allowed_by,
    }
}

fn org_data<'a>(snapshot: &'a Snapshot, org: &str) -> Result<&'a OrgData, Unknown> {
    snapshot
        .org_index
        .get(org)
        .and_then(|i| snapshot.orgs.get(i as usize))
        .map(|o| &**o)
        .ok_or_else(|| Unknown::Org(org.to_owned()))
}

fn resource_index(data: &OrgData, org: &str, resource: &str) -> Result<u32, Unknown> {
    data.resource_index
        .get(resource)
        .ok_or_else(|| Unknown::Resource {
            org: org.to_owned(),
            resource: resource.to_owned(),
        })
}

fn environment_index(data: &OrgData, org: &str, environment: &str) -> Result<u32, Unknown> {
    data.resource_index
        .get(environment)
        .filter(|&i| data.resource(i).is_some_and(|r| r.is_environment))
        .ok_or_else(|| Unknown::Environment {
            org: org.to_owned(),
            environment: environment.to_owned(),
        })
}
