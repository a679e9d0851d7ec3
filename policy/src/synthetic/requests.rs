//! Request streams over a document: allow-heavy and deny-heavy mixes.
//!
//! The generator does not run the engine: it builds requests from the shape of
//! the world (a grant and one of its holders, a seat on a team, an open
//! resource and a member) so that most of an allow-heavy stream is allowed
//! and most of a deny-heavy stream is denied, for every reason code.

use rustc_hash::FxHashMap;

use crate::document::{Document, Grant, Org, Principal, Scope, TeamMember};
use crate::model::{AccessMode, Action, MembershipStatus, OrgRole, ServiceRole, Visibility};

use super::rng::Rng;
use super::world::{ADMIN_RESOURCES, ENVIRONMENTS};
use super::{Mix, OwnedRequest};

/// What the request builder needs to know about one org.
struct OrgIndex<'d> {
    org: &'d Org,
    /// Active members, and the active members whose only role is `member`.
    active: Vec<&'d str>,
    plain: Vec<&'d str>,
    inactive: Vec<&'d str>,
    /// Active members by directly held role.
    by_role: FxHashMap<OrgRole, Vec<&'d str>>,
    groups: FxHashMap<&'d str, &'d [String]>,
    teams: FxHashMap<&'d str, Vec<&'d TeamMember>>,
    /// Resources (by position) owned by each service.
    owned: FxHashMap<&'d str, Vec<usize>>,
    /// Positions of open, non-sensitive, non-production resources, of
    /// restricted/service-controlled ones, and of restricted-visibility ones.
    open: Vec<usize>,
    controlled: Vec<usize>,
    hidden: Vec<usize>,
    /// Resource- and service-scoped grants.
    grants: Vec<&'d Grant>,
}

impl<'d> OrgIndex<'d> {
    fn new(document: &'d Document, org: &'d Org) -> OrgIndex<'d> {
        let mut index = OrgIndex {
            org,
            active: Vec::new(),
            plain: Vec::new(),
            inactive: Vec::new(),
            by_role: FxHashMap::default(),
            groups: org
                .groups
                .iter()
                .map(|g| (g.id.as_str(), g.members.as_slice()))
                .collect(),
            teams: org
                .services
                .iter()
                .map(|s| {
                    (
                        s.id.as_str(),
                        s.team.iter().map(|seat| &seat.member).collect(),
                    )
                })
                .collect(),
            owned: FxHashMap::default(),
            open: Vec::new(),
            controlled: Vec::new(),
            hidden: Vec::new(),
            grants: org
                .grants
                .iter()
                .filter(|g| matches!(g.scope, Scope::Resource(_) | Scope::Service(_)))
                .collect(),
        };
        for user in &document.users {
            for membership in user.memberships.iter().filter(|m| m.org == org.id) {
                if membership.status != MembershipStatus::Active {
                    index.inactive.push(&user.id);
                    continue;
                }
                index.active.push(&user.id);
                if membership.roles == [OrgRole::Member] {
                    index.plain.push(&user.id);
                }
                for role in &membership.roles {
                    index.by_role.entry(*role).or_default().push(&user.id);
                }
            }
        }
        for (at, resource) in org.resources.iter().enumerate() {
            if let Some(service) = &resource.service {
                index.owned.entry(service.as_str()).or_default().push(at);
            }
            if resource.visibility == Visibility::Restricted {
                index.hidden.push(at);
            } else if resource.effective_access_mode() == AccessMode::Open
                && resource.risk.is_empty()
            {
                index.open.push(at);
            } else if resource.effective_access_mode() != AccessMode::Open {
                index.controlled.push(at);
            }
        }
        index
    }

    fn resource_id(&self, at: usize) -> &'d str {
        self.org
            .resources
            .get(at)
            .map(|r| r.id.as_str())
            .unwrap_or("missing")
    }

    /// A user the principal matches (one of a group's members, a seat holder…).
    fn holder(&self, principal: &'d Principal, rng: &mut Rng) -> Option<&'d str> {
        match principal {
            Principal::User(id) => Some(id),
            Principal::Group(id) => self
                .groups
                .get(id.as_str())
                .and_then(|m| rng.pick(m))
                .map(String::as_str),
            Principal::Team(id) => {
                let seat = self
                    .teams
                    .get(id.as_str())
                    .and_then(|seats| rng.pick(seats))?;
                self.team_member(seat, rng)
            }
            Principal::OrgRole(role) => self
                .by_role
                .get(role)
                .and_then(|users| rng.pick(users))
                .copied(),
        }
    }

    fn team_member(&self, member: &'d TeamMember, rng: &mut Rng) -> Option<&'d str> {
        match member {
            TeamMember::User(id) => Some(id),
            TeamMember::Group(id) => self
                .groups
                .get(id.as_str())
                .and_then(|m| rng.pick(m))
                .map(String::as_str),
        }
    }
}

pub(super) fn build(document: &Document, count: usize, seed: u64, mix: Mix) -> Vec<OwnedRequest> {
    let indexes: Vec<OrgIndex<'_>> = document
        .orgs
        .iter()
        .map(|org| OrgIndex::new(document, org))
        .collect();
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(count);
    let mut misses = 0;
    while out.len() < count && misses <= count.saturating_mul(4) + 100 {
        let Some(index) = rng.pick(&indexes) else {
            break;
        };
        let request = match mix {
            Mix::AllowHeavy => allow_heavy(index, &mut rng),
            Mix::DenyHeavy => deny_heavy(index, &indexes, &mut rng),
        };
        match request {
            Some(request) => out.push(request),
            None => misses += 1,
        }
    }
    out
}

fn request(
    org: &Org,
    user: &str,
    action: Action,
    resource: &str,
    environment: Option<&str>,
) -> OwnedRequest {
    OwnedRequest {
        org: org.id.clone(),
        user: user.to_string(),
        action: action.as_str().to_string(),
        resource: resource.to_string(),
        environment: environment.map(str::to_string),
    }
}

/// A non-production environment for runs, half of the time.
fn maybe_staging(action: Action, rng: &mut Rng) -> Option<&'static str> {
    (action == Action::Run && rng.chance(500)).then(|| {
        if rng.chance(500) {
            "env-staging"
        } else {
            "env-dev"
        }
    })
}

fn allow_heavy(index: &OrgIndex<'_>, rng: &mut Rng) -> Option<OwnedRequest> {
    let org = index.org;
    match rng.weighted(&[30, 25, 25, 15, 5]) {
        // A member views an org-visible resource.
        0 => {
            let user = rng.pick(&index.active)?;
            let at = *rng
                .pick(&index.open)
                .or_else(|| rng.pick(&index.controlled))?;
            Some(request(
                org,
                user,
                Action::View,
                index.resource_id(at),
                None,
            ))
        }
        // A plain member uses or runs an open, normal resource.
        1 => {
            let user = rng.pick(&index.plain)?;
            let at = *rng.pick(&index.open)?;
            let action = if rng.chance(700) {
                Action::Run
            } else {
                Action::Use
            };
            Some(request(
                org,
                user,
                action,
                index.resource_id(at),
                maybe_staging(action, rng),
            ))
        }
        // A holder of a grant does what it grants.
        2 => {
            let grant = *rng.pick(&index.grants)?;
            let user = index.holder(&grant.principal, rng)?;
            let action = *rng.pick(&grant.actions)?;
            let resource = match &grant.scope {
                Scope::Resource(id) => id.as_str(),
                Scope::Service(id) => match index
                    .owned
                    .get(id.as_str())
                    .and_then(|owned| rng.pick(owned))
                {
                    Some(at) if rng.chance(800) => index.resource_id(*at),
                    _ => id.as_str(),
                },
                Scope::Kind(_) | Scope::Label(_) => return None,
            };
            let environment = match &grant.environments {
                Some(environments) => rng.pick(environments).map(String::as_str),
                None => maybe_staging(action, rng),
            };
            Some(request(org, user, action, resource, environment))
        }
        // A seat holder works on a resource of the service.
        3 => {
            let service = rng.pick(&org.services)?;
            let seat = rng.pick(&service.team)?;
            let user = index.team_member(&seat.member, rng)?;
            let resource = match index
                .owned
                .get(service.id.as_str())
                .and_then(|owned| rng.pick(owned))
            {
                Some(at) => index.resource_id(*at),
                None => service.id.as_str(),
            };
            let action = match seat.role {
                ServiceRole::Owner => *rng.pick(&[Action::Run, Action::Edit, Action::Use])?,
                ServiceRole::Maintainer => *rng.pick(&[Action::Edit, Action::Use])?,
                ServiceRole::Runner => *rng.pick(&[Action::Run, Action::Use])?,
                ServiceRole::Viewer | ServiceRole::Auditor => Action::View,
            };
            Some(request(
                org,
                user,
                action,
                resource,
                maybe_staging(action, rng),
            ))
        }
        // An admin does their job.
        _ => {
            let (role, action, resource) = *rng.pick(&[
                (OrgRole::OrgAdmin, Action::ManageUsers, "org-settings"),
                (OrgRole::OrgAdmin, Action::ManageGroups, "org-settings"),
                (OrgRole::SecurityAdmin, Action::ManageSso, "sso"),
                (OrgRole::SecurityAdmin, Action::ManageScim, "scim"),
                (OrgRole::BillingAdmin, Action::ManageBilling, "billing"),
                (OrgRole::OrgOwner, Action::Administer, "org-settings"),
            ])?;
            let user = index.by_role.get(&role).and_then(|users| rng.pick(users))?;
            Some(request(org, user, action, resource, None))
        }
    }
}

fn deny_heavy(index: &OrgIndex<'_>, all: &[OrgIndex<'_>], rng: &mut Rng) -> Option<OwnedRequest> {
    let org = index.org;
    let any_resource = |rng: &mut Rng| index.resource_id(rng.below(org.resources.len()));
    match rng.weighted(&[8, 7, 5, 5, 25, 15, 15, 10, 10]) {
        // Not a member: a user of another org, or nobody at all.
        0 => {
            let other = all
                .iter()
                .filter(|i| i.org.id != org.id)
                .map(|i| i.active.as_slice());
            let user = match other.clone().next() {
                Some(users) if rng.chance(500) => rng.pick(users).map(|u| u.to_string()),
                _ => None,
            }
            .unwrap_or_else(|| format!("ghost-{}", rng.below(1000)));
            Some(request(org, &user, Action::View, any_resource(rng), None))
        }
        // An invited, suspended or deactivated member.
        1 => {
            let user = rng.pick(&index.inactive)?;
            Some(request(org, user, Action::Run, any_resource(rng), None))
        }
        // No such resource.
        2 => {
            let user = rng.pick(&index.active)?;
            let missing = format!("missing-{}", rng.below(100_000));
            Some(request(org, user, Action::Run, &missing, None))
        }
        // An action Reqflo does not know.
        3 => {
            let user = rng.pick(&index.active)?;
            let mut out = request(org, user, Action::View, any_resource(rng), None);
            out.action = "delete".into();
            Some(out)
        }
        // A member runs, uses or edits a controlled resource.
        4 => {
            let user = rng.pick(&index.plain)?;
            let at = *rng.pick(&index.controlled)?;
            let action = *rng.pick(&[Action::Run, Action::Use, Action::Edit])?;
            Some(request(org, user, action, index.resource_id(at), None))
        }
        // A member attempts administration.
        5 => {
            let user = rng.pick(&index.plain)?;
            let (action, resource) = *rng.pick(&[
                (Action::ManageSso, "sso"),
                (Action::ManageBilling, "billing"),
                (Action::ManageUsers, "org-settings"),
                (Action::ManageSecrets, "sso"),
                (Action::Administer, ""),
                (Action::ManageAccess, ""),
            ])?;
            let resource = if resource.is_empty() {
                any_resource(rng)
            } else {
                resource
            };
            Some(request(org, user, action, resource, None))
        }
        // A member edits an open resource.
        6 => {
            let user = rng.pick(&index.plain)?;
            let at = *rng.pick(&index.open)?;
            Some(request(
                org,
                user,
                Action::Edit,
                index.resource_id(at),
                None,
            ))
        }
        // A member runs in production without the privilege.
        7 => {
            let user = rng.pick(&index.plain)?;
            let at = *rng.pick(&index.open)?;
            let production = ENVIRONMENTS
                .iter()
                .filter(|(_, p)| *p)
                .map(|(id, _)| *id)
                .collect::<Vec<_>>();
            let environment = rng.pick(&production).copied();
            Some(request(
                org,
                user,
                Action::Run,
                index.resource_id(at),
                environment,
            ))
        }
        // A member looks at something hidden from them, or at an admin resource.
        _ => {
            let user = rng.pick(&index.plain)?;
            let resource = match rng.pick(&index.hidden) {
                Some(at) if rng.chance(800) => index.resource_id(*at),
                _ => rng.pick(ADMIN_RESOURCES).map(|(id, _)| *id)?,
            };
            let action = if rng.chance(500) {
                Action::View
            } else {
                Action::Use
            };
            Some(request(org, user, action, resource, None))
        }
    }
}
