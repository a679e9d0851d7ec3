//! Looking things up in the raw document: the world, indexed by id once.
//!
//! [`World`] maps ids to the document's own objects (the first object with
//! an id wins, as a linear scan would find it) and lists, per principal and
//! per scope, the grants that name it, in document order. Nothing is
//! derived beyond "which objects carry this id": every rule is still read
//! from the document's objects by the evaluator.

use rustc_hash::FxHashMap;

use crate::document::{
    Document, Grant, Group, Org, Principal, RoleAssignment, Scope, Service, TeamMember, User,
};
use crate::model::{AccessMode, MembershipStatus, OrgRole, RiskLevel, ServiceRole, Visibility};

/// A whole document, indexed for lookups by id.
#[derive(Debug)]
pub struct World<'d> {
    orgs: FxHashMap<&'d str, OrgIndex<'d>>,
    users: FxHashMap<&'d str, &'d User>,
}

/// One org's objects by id, and its grants by principal and by scope.
#[derive(Debug)]
pub(super) struct OrgIndex<'d> {
    pub org: &'d Org,
    services: FxHashMap<&'d str, &'d Service>,
    resources: FxHashMap<&'d str, &'d crate::document::Resource>,
    groups: FxHashMap<&'d str, &'d Group>,
    /// Per user id, the positions of the groups that list the user.
    groups_of: FxHashMap<&'d str, Vec<usize>>,
    /// Per seat holder, the (service, seat) positions of its seats.
    seats_of: FxHashMap<&'d TeamMember, Vec<(usize, usize)>>,
    by_principal: FxHashMap<&'d Principal, Vec<usize>>,
    by_scope: FxHashMap<&'d Scope, Vec<usize>>,
}

impl<'d> World<'d> {
    pub fn new(document: &'d Document) -> World<'d> {
        let mut orgs = FxHashMap::default();
        for org in &document.orgs {
            orgs.entry(org.id.as_str())
                .or_insert_with(|| OrgIndex::new(org));
        }
        let mut users = FxHashMap::default();
        for user in &document.users {
            users.entry(user.id.as_str()).or_insert(user);
        }
        World { orgs, users }
    }

    pub(super) fn org(&self, id: &str) -> Option<&OrgIndex<'d>> {
        self.orgs.get(id)
    }

    /// The user's membership status in the org, if the user and a membership exist.
    pub(super) fn membership(
        &self,
        org: &str,
        user: &str,
    ) -> Option<(MembershipStatus, &'d [OrgRole])> {
        let user = self.users.get(user)?;
        let membership = user.memberships.iter().find(|m| m.org == org)?;
        Some((membership.status, &membership.roles))
    }
}

impl<'d> OrgIndex<'d> {
    fn new(org: &'d Org) -> OrgIndex<'d> {
        let mut index = OrgIndex {
            org,
            services: FxHashMap::default(),
            resources: FxHashMap::default(),
            groups: FxHashMap::default(),
            groups_of: FxHashMap::default(),
            seats_of: FxHashMap::default(),
            by_principal: FxHashMap::default(),
            by_scope: FxHashMap::default(),
        };
        for (at, service) in org.services.iter().enumerate() {
            index.services.entry(service.id.as_str()).or_insert(service);
            for (seat, s) in service.team.iter().enumerate() {
                index
                    .seats_of
                    .entry(&s.member)
                    .or_default()
                    .push((at, seat));
            }
        }
        for resource in &org.resources {
            index
                .resources
                .entry(resource.id.as_str())
                .or_insert(resource);
        }
        for (at, group) in org.groups.iter().enumerate() {
            index.groups.entry(group.id.as_str()).or_insert(group);
            for member in &group.members {
                let of = index.groups_of.entry(member.as_str()).or_default();
                if of.last() != Some(&at) {
                    of.push(at);
                }
            }
        }
        for (at, grant) in org.grants.iter().enumerate() {
            index
                .by_principal
                .entry(&grant.principal)
                .or_default()
                .push(at);
            index.by_scope.entry(&grant.scope).or_default().push(at);
        }
        index
    }

    pub fn service(&self, id: &str) -> Option<&'d Service> {
        self.services.get(id).copied()
    }

    pub fn group(&self, id: &str) -> Option<&'d Group> {
        self.groups.get(id).copied()
    }

    /// The grants naming `principal`, in document order.
    fn grants_of(&self, principal: &Principal) -> &[usize] {
        self.by_principal.get(principal).map_or(&[], Vec::as_slice)
    }

    /// Every grant whose scope covers R (whoever holds it), in document order.
    pub fn covering(&self, resource: &Res<'_>) -> Vec<&'d Grant> {
        self.covering_at(resource)
            .into_iter()
            .filter_map(|i| self.org.grants.get(i))
            .collect()
    }

    /// The positions of [`Self::covering`]'s grants.
    fn covering_at(&self, resource: &Res<'_>) -> Vec<usize> {
        let mut scopes = vec![
            Scope::Resource(resource.id.to_owned()),
            Scope::Service(resource.id.to_owned()),
            Scope::Kind(resource.kind.to_owned()),
        ];
        if let Some(service) = resource.owning_service {
            scopes.push(Scope::Service(service.to_owned()));
        }
        scopes.extend(resource.labels.iter().map(|l| Scope::Label(l.clone())));
        let mut at: Vec<usize> = scopes
            .iter()
            .filter_map(|s| self.by_scope.get(s))
            .flatten()
            .copied()
            .collect();
        at.sort_unstable();
        at.dedup();
        at.retain(|i| {
            self.org
                .grants
                .get(*i)
                .is_some_and(|g| covers(&g.scope, resource))
        });
        at
    }

    pub fn resource(&self, id: &str) -> Option<Res<'d>> {
        if let Some(service) = self.service(id) {
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
        let resource = self.resources.get(id)?;
        Some(Res {
            id: &resource.id,
            kind: &resource.kind,
            name: resource.name.as_deref(),
            team_service: resource.service.as_deref(),
            visibility: resource.visibility,
            visible_to: &resource.visible_to,
            access_mode: resource
                .access_mode
                .unwrap_or_else(|| seed_access_mode(resource)),
            risk: &resource.risk,
            secret_backed: resource.secret_backed || resource.kind == "secret",
            depends_on: &resource.depends_on,
            roles: &resource.roles,
            labels: &resource.labels,
            owning_service: resource.service.as_deref(),
        })
    }
}

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

/// Who is asking, with everything derived from their membership.
#[derive(Debug)]
pub(super) struct Asker<'d> {
    pub index: &'d OrgIndex<'d>,
    pub user: &'d str,
    /// Membership roles, as listed.
    pub direct_roles: &'d [OrgRole],
    /// The groups of the org that list the user, in document order.
    pub groups: Vec<&'d Group>,
    /// seats(U, S) for every service S with a seat for U, roles in team order.
    seats: FxHashMap<&'d str, Vec<ServiceRole>>,
    /// The positions of the grants whose principal matches the user, sorted.
    holds: Vec<usize>,
}

impl<'d> Asker<'d> {
    pub fn new(index: &'d OrgIndex<'d>, user: &'d str, direct_roles: &'d [OrgRole]) -> Asker<'d> {
        let org = index.org;
        let groups = index
            .groups_of
            .get(user)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|at| org.groups.get(*at))
            .collect();
        let mut asker = Asker {
            index,
            user,
            direct_roles,
            groups,
            seats: FxHashMap::default(),
            holds: Vec::new(),
        };
        let mut seated: Vec<(usize, usize)> = std::iter::once(TeamMember::User(user.to_owned()))
            .chain(asker.groups.iter().map(|g| TeamMember::Group(g.id.clone())))
            .filter_map(|m| index.seats_of.get(&m))
            .flatten()
            .copied()
            .collect();
        seated.sort_unstable();
        seated.dedup();
        for (service, seat) in seated {
            if let Some(s) = org.services.get(service)
                && index
                    .service(&s.id)
                    .is_some_and(|first| std::ptr::eq(first, s))
                && let Some(seat) = s.team.get(seat)
            {
                asker
                    .seats
                    .entry(s.id.as_str())
                    .or_default()
                    .push(seat.role);
            }
        }
        let mut principals = vec![Principal::User(user.to_owned())];
        principals.extend(asker.groups.iter().map(|g| Principal::Group(g.id.clone())));
        principals.extend(asker.seats.keys().map(|s| Principal::Team((*s).to_owned())));
        principals.extend(asker.roles().into_iter().map(Principal::OrgRole));
        let at: Vec<usize> = principals
            .iter()
            .flat_map(|p| index.grants_of(p))
            .copied()
            .collect();
        asker.holds = at;
        asker.holds.sort_unstable();
        asker.holds.dedup();
        asker
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
    pub fn seats(&self, service: &str) -> &[ServiceRole] {
        self.seats.get(service).map_or(&[], Vec::as_slice)
    }

    pub fn matches(&self, principal: &Principal) -> bool {
        match principal {
            Principal::User(user) => user == self.user,
            Principal::Group(group) => self.in_group(group),
            Principal::Team(service) => !self.seats(service).is_empty(),
            Principal::OrgRole(role) => self.has_role(*role),
        }
    }

    /// The grants that apply to (U, R, E), in document order: principal
    /// matching U, scope covering R, environment limits met.
    pub fn applying(&self, resource: &Res<'_>, environment: Option<&str>) -> Vec<&'d Grant> {
        self.index
            .covering_at(resource)
            .into_iter()
            .filter(|i| self.holds.binary_search(i).is_ok())
            .filter_map(|i| self.index.org.grants.get(i))
            .filter(|g| env_allows(g, environment))
            .collect()
    }
}

/// The seeds' defaults table, read again for a resource that states no
/// access mode: secrets and every secret-backed resource, production
/// credentials, billing, SSO/SCIM, organization settings and integration
/// connections are restricted; everything else is open.
fn seed_access_mode(resource: &crate::document::Resource) -> AccessMode {
    let kind = resource.kind.as_str();
    let restricted = kind == "secret"
        || resource.secret_backed
        || (kind == "credential" && resource.risk.contains(&RiskLevel::Production))
        || matches!(
            kind,
            "billing_setting"
                | "sso_config"
                | "scim_config"
                | "org_settings"
                | "integration_connection"
        );
    if restricted {
        AccessMode::Restricted
    } else {
        AccessMode::Open
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
