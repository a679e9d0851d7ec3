//! Looking things up in the raw document, one linear scan at a time.

use crate::document::{Document, Grant, Group, Org, Principal, RoleAssignment, Scope, TeamMember};
use crate::model::{AccessMode, MembershipStatus, OrgRole, RiskLevel, ServiceRole, Visibility};

/// A resource or a service, seen as a resource.
#[derive(Clone, Copy, Debug)]
pub(super) struct Res<'d> {
    pub id: &'d str,
    pub kind: &'d str,
    pub name: Option<&'d str>,
    /// The service whose team's roles apply: the service itself for a service.
    pub team_service: Option<&'d str>,
    pub visibility: Visibility,
    pub visible_to: &'d [Principal],
    pub access_mode: AccessMode,
    pub risk: &'d [RiskLevel],
    pub secret_backed: bool,
    pub depends_on: &'d [String],
    pub roles: &'d [RoleAssignment],
    pub labels: &'d [String],
    /// `R.service` as written (`None` for a service).
    pub owning_service: Option<&'d str>,
}

impl Res<'_> {
    pub fn display_name(&self) -> &str {
        self.name.unwrap_or(self.id)
    }

    pub fn has_risk(&self, level: RiskLevel) -> bool {
        self.risk.contains(&level)
    }
}

pub(super) fn find_org<'d>(document: &'d Document, id: &str) -> Option<&'d Org> {
    document.orgs.iter().find(|org| org.id == id)
}

/// The user's membership status in the org, if the user and a membership exist.
pub(super) fn membership<'d>(
    document: &'d Document,
    org: &str,
    user: &str,
) -> Option<(MembershipStatus, &'d [OrgRole])> {
    let user = document.users.iter().find(|u| u.id == user)?;
    let membership = user.memberships.iter().find(|m| m.org == org)?;
    Some((membership.status, &membership.roles))
}

pub(super) fn find_resource<'d>(org: &'d Org, id: &str) -> Option<Res<'d>> {
    if let Some(service) = org.services.iter().find(|s| s.id == id) {
        return Some(Res {
            id: &service.id,
            kind: "service",
            name: service.name.as_deref(),
            team_service: Some(&service.id),
            visibility: service.visibility,
            visible_to: &service.visible_to,
            access_mode: service.access_mode,
            risk: &service.risk,
            secret_backed: false,
            depends_on: &[],
            roles: &[],
            labels: &service.labels,
            owning_service: None,
        });
    }
    let resource = org.resources.iter().find(|r| r.id == id)?;
    Some(Res {
        id: &resource.id,
        kind: &resource.kind,
        name: resource.name.as_deref(),
        team_service: resource.service.as_deref(),
        visibility: resource.visibility,
        visible_to: &resource.visible_to,
        access_mode: resource.access_mode,
        risk: &resource.risk,
        secret_backed: resource.secret_backed || resource.kind == "secret",
        depends_on: &resource.depends_on,
        roles: &resource.roles,
        labels: &resource.labels,
        owning_service: resource.service.as_deref(),
    })
}

/// Who is asking, with everything derived from their membership.
#[derive(Debug)]
pub(super) struct Asker<'d> {
    pub org: &'d Org,
    pub user: &'d str,
    /// Membership roles, as listed.
    pub direct_roles: &'d [OrgRole],
    /// The groups of the org that list the user, in document order.
    pub groups: Vec<&'d Group>,
}

impl<'d> Asker<'d> {
    pub fn new(org: &'d Org, user: &'d str, direct_roles: &'d [OrgRole]) -> Asker<'d> {
        let groups = org
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user))
            .collect();
        Asker {
            org,
            user,
            direct_roles,
            groups,
        }
    }

    /// org roles(U): membership roles and the roles of every group listing U.
    pub fn has_role(&self, role: OrgRole) -> bool {
        self.direct_roles.contains(&role) || self.groups.iter().any(|g| g.roles.contains(&role))
    }

    /// Every org role held, in `OrgRole::ALL` order.
    pub fn roles(&self) -> Vec<OrgRole> {
        OrgRole::ALL
            .iter()
            .copied()
            .filter(|r| self.has_role(*r))
            .collect()
    }

    /// The group a role came through, when it is not held directly.
    pub fn role_via_group(&self, role: OrgRole) -> Option<&'d str> {
        if self.direct_roles.contains(&role) {
            return None;
        }
        self.groups
            .iter()
            .find(|g| g.roles.contains(&role))
            .map(|g| g.id.as_str())
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g.id == group)
    }

    pub fn seat_matches(&self, member: &TeamMember) -> bool {
        match member {
            TeamMember::User(user) => user == self.user,
            TeamMember::Group(group) => self.in_group(group),
        }
    }

    /// seats(U, S): the service roles U holds on service S, in team order.
    pub fn seats(&self, service: &str) -> Vec<ServiceRole> {
        let Some(service) = self.org.services.iter().find(|s| s.id == service) else {
            return Vec::new();
        };
        service
            .team
            .iter()
            .filter(|seat| self.seat_matches(&seat.member))
            .map(|seat| seat.role)
            .collect()
    }

    pub fn matches(&self, principal: &Principal) -> bool {
        match principal {
            Principal::User(user) => user == self.user,
            Principal::Group(group) => self.in_group(group),
            Principal::Team(service) => !self.seats(service).is_empty(),
            Principal::OrgRole(role) => self.has_role(*role),
        }
    }

    /// A grant applies to (U, R, E): principal, scope and environment limits.
    pub fn grant_applies(
        &self,
        grant: &Grant,
        resource: &Res<'_>,
        environment: Option<&str>,
    ) -> bool {
        self.matches(&grant.principal)
            && covers(&grant.scope, resource)
            && env_allows(grant, environment)
    }
}

pub(super) fn covers(scope: &Scope, resource: &Res<'_>) -> bool {
    match scope {
        Scope::Resource(id) => id == resource.id,
        Scope::Service(service) => {
            service == resource.id || resource.owning_service == Some(service.as_str())
        }
        Scope::Kind(kind) => kind == resource.kind,
        Scope::Label(label) => resource.labels.contains(label),
    }
}

fn env_allows(grant: &Grant, environment: Option<&str>) -> bool {
    match (&grant.environments, environment) {
        (None, _) => true,
        (Some(limits), Some(env)) => limits.iter().any(|l| l == env),
        (Some(_), None) => false,
    }
}
