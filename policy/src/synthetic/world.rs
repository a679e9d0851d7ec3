//! Building the synthetic document: users, then each org's groups, services,
//! resources (with dependency chains) and grants.

use crate::document::{
    Document, Grant, Group, Membership, Org, Principal, Resource, RoleAssignment, Scope, Seat,
    Service, TeamMember, User,
};
use crate::model::{
    AccessMode, Action, GroupSource, MembershipStatus, OrgRole, Privilege, ResourceRole, RiskLevel,
    ServiceRole, Visibility,
};

use super::Shape;
use super::rng::Rng;

const ORG_IDS: &[&str] = &["acme", "globex", "initech", "umbrella"];
const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Tim",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Perlman",
];
const WORDS: &[&str] = &[
    "Payments",
    "Checkout",
    "Search",
    "Support",
    "Billing",
    "Identity",
    "Ledger",
    "Catalog",
    "Shipping",
    "Risk",
    "Growth",
    "Platform",
    "Mobile",
    "Data",
    "Fraud",
    "Notifications",
];
/// Labels resources carry; label-scoped grants name some of them.
pub(crate) const LABELS: &[&str] = &[
    "pci",
    "customer-facing",
    "internal",
    "beta",
    "eu",
    "critical",
];
/// The environments of every org: (id, production?).
pub(crate) const ENVIRONMENTS: &[(&str, bool)] = &[
    ("env-dev", false),
    ("env-staging", false),
    ("env-production", true),
    ("env-production-eu", true),
];
/// Singleton admin resources of every org: (id, kind).
pub(crate) const ADMIN_RESOURCES: &[(&str, &str)] = &[
    ("org-settings", "org_settings"),
    ("billing", "billing_setting"),
    ("sso", "sso_config"),
    ("scim", "scim_config"),
];
/// Kinds of the generated resources and their weights (per mille).
const KINDS: &[(&str, usize)] = &[
    ("journey", 250),
    ("request_template", 180),
    ("component", 120),
    ("mock", 70),
    ("auth_config", 60),
    ("oauth_config", 30),
    ("secret", 60),
    ("credential", 40),
    ("runbook", 60),
    ("integration_connection", 30),
    ("report", 50),
    ("webhook", 50),
];
/// Kinds another resource may depend on.
const DEPENDABLE: &[&str] = &[
    "journey",
    "request_template",
    "component",
    "mock",
    "auth_config",
    "oauth_config",
    "secret",
    "credential",
];
/// How many kind- and label-scoped grants each org gets ("a few").
const KIND_GRANTS: usize = 6;
const LABEL_GRANTS: usize = 4;

/// The number of `total` that falls to org `o` of `orgs`.
fn share(total: usize, orgs: usize, o: usize) -> usize {
    total / orgs + usize::from(o < total % orgs)
}

pub(super) fn build(shape: &Shape, seed: u64) -> Document {
    let mut rng = Rng::new(seed);
    let orgs = shape.orgs.clamp(1, ORG_IDS.len());
    let mut users_rng = rng.fork(1);
    let (users, members) = build_users(shape.users, orgs, &mut users_rng);
    let orgs = (0..orgs)
        .map(|o| {
            let mut org_rng = rng.fork(100 + o as u64);
            let mut builder = OrgBuilder {
                rng: &mut org_rng,
                members: &members[o],
                groups: Vec::new(),
                services: Vec::new(),
                resources: Vec::new(),
                grants: Vec::new(),
                depth: Vec::new(),
                prod_groups: Vec::new(),
            };
            builder.groups(share(shape.groups, orgs, o));
            builder.services(share(shape.services, orgs, o));
            builder.resources(share(shape.resources, orgs, o), shape.max_depth);
            builder.grants(share(shape.grants, orgs, o));
            let id = ORG_IDS.get(o).copied().unwrap_or("org");
            Org {
                id: id.to_string(),
                name: Some(format!("{}{} Inc.", id[..1].to_uppercase(), &id[1..])),
                groups: builder.groups,
                services: builder.services,
                resources: builder.resources,
                grants: builder.grants,
            }
        })
        .collect();
    Document {
        version: 1,
        orgs,
        users,
    }
}

/// Users and, per org, the ids of its members (any status).
fn build_users(count: usize, orgs: usize, rng: &mut Rng) -> (Vec<User>, Vec<Vec<String>>) {
    let mut members: Vec<Vec<String>> = vec![Vec::new(); orgs];
    let users = (0..count)
        .map(|n| {
            let id = format!("u{n}");
            let first = rng.pick(FIRST).copied().unwrap_or("Sam");
            let last = rng.pick(LAST).copied().unwrap_or("Doe");
            let primary = n % orgs;
            let mut memberships = vec![membership(primary, members[primary].len(), rng)];
            members[primary].push(id.clone());
            if orgs > 1 && rng.chance(30) {
                let second = (primary + 1) % orgs;
                memberships.push(membership(second, members[second].len(), rng));
                members[second].push(id.clone());
            }
            User {
                id,
                name: Some(format!("{first} {last}")),
                memberships,
            }
        })
        .collect();
    (users, members)
}

/// A membership: the first two members of each org own it; the rest are mostly
/// active members, some viewers and admins, a few invited or suspended.
fn membership(org: usize, position: usize, rng: &mut Rng) -> Membership {
    let org_id = ORG_IDS.get(org).copied().unwrap_or("org").to_string();
    if position < 2 {
        return Membership {
            org: org_id,
            status: MembershipStatus::Active,
            roles: vec![OrgRole::OrgOwner],
        };
    }
    let status = match rng.below(1000) {
        0..920 => MembershipStatus::Active,
        920..950 => MembershipStatus::Invited,
        950..980 => MembershipStatus::Suspended,
        _ => MembershipStatus::Deactivated,
    };
    let roles = match rng.below(1000) {
        0..850 => vec![OrgRole::Member],
        850..950 => vec![OrgRole::Viewer],
        950..965 => vec![OrgRole::Member, OrgRole::OrgAdmin],
        965..975 => vec![OrgRole::Member, OrgRole::SecurityAdmin],
        975..985 => vec![OrgRole::Member, OrgRole::BillingAdmin],
        985..995 => vec![OrgRole::Member, OrgRole::IntegrationAdmin],
        _ => Vec::new(),
    };
    Membership {
        org: org_id,
        status,
        roles,
    }
}

struct OrgBuilder<'a> {
    rng: &'a mut Rng,
    members: &'a [String],
    groups: Vec<Group>,
    services: Vec<Service>,
    resources: Vec<Resource>,
    grants: Vec<Grant>,
    /// Longest dependency chain below each resource (0 for none).
    depth: Vec<usize>,
    /// Groups that may run in production: they hold the production grants.
    prod_groups: Vec<usize>,
}

impl OrgBuilder<'_> {
    fn member(&mut self) -> String {
        self.rng.pick(self.members).cloned().unwrap_or_default()
    }

    fn groups(&mut self, count: usize) {
        let users = self.members.len();
        for n in 0..count {
            let size = match self.rng.below(1000) {
                0..700 => self.rng.range(3, 15),
                700..950 => self.rng.range(15, 80),
                950..995 => self.rng.range(80, 400),
                _ => users / 10,
            }
            .min((users / 8).max(3))
            .min(users);
            let mut members: Vec<String> = (0..size).map(|_| self.member()).collect();
            members.sort_unstable();
            members.dedup();
            let roles = match self.rng.below(1000) {
                0..930 => Vec::new(),
                930..960 => vec![OrgRole::Viewer],
                960..975 => vec![OrgRole::Member],
                975..983 => vec![OrgRole::OrgAdmin],
                983..990 => vec![OrgRole::SecurityAdmin],
                990..995 => vec![OrgRole::BillingAdmin],
                _ => vec![OrgRole::IntegrationAdmin],
            };
            let word = self.rng.pick(WORDS).copied().unwrap_or("Team");
            let source = if self.rng.chance(400) {
                GroupSource::Scim
            } else {
                GroupSource::Local
            };
            self.groups.push(Group {
                id: format!("g{n}"),
                name: Some(format!("{word} {n}")),
                source,
                members,
                roles,
            });
        }
        let prod = (count / 100).max(1).min(count);
        self.prod_groups = (0..prod).map(|_| self.rng.below(count)).collect();
    }

    fn team_member(&mut self) -> TeamMember {
        if !self.groups.is_empty() && self.rng.chance(600) {
            TeamMember::Group(format!("g{}", self.rng.below(self.groups.len())))
        } else {
            TeamMember::User(self.member())
        }
    }

    fn services(&mut self, count: usize) {
        for n in 0..count {
            let mut team: Vec<Seat> = Vec::new();
            let mut seat = |this: &mut Self, role| {
                let seat = Seat {
                    member: this.team_member(),
                    role,
                };
                if !team.contains(&seat) {
                    team.push(seat);
                }
            };
            seat(self, ServiceRole::Owner);
            for _ in 0..self.rng.range(1, 3) {
                seat(self, ServiceRole::Maintainer);
            }
            for _ in 0..self.rng.range(1, 4) {
                seat(self, ServiceRole::Runner);
            }
            if self.rng.chance(500) {
                seat(self, ServiceRole::Viewer);
            }
            if self.rng.chance(300) {
                seat(self, ServiceRole::Auditor);
            }
            let access_mode = match self.rng.below(1000) {
                0..500 => AccessMode::Open,
                500..950 => AccessMode::ServiceControlled,
                _ => AccessMode::Restricted,
            };
            let word = self.rng.pick(WORDS).copied().unwrap_or("Core");
            let labels = self.labels();
            self.services.push(Service {
                id: format!("svc-{n}"),
                name: Some(format!("{word} service {n}")),
                visibility: if self.rng.chance(900) {
                    Visibility::Org
                } else {
                    Visibility::Restricted
                },
                visible_to: Vec::new(),
                access_mode,
                risk: if self.rng.chance(100) {
                    vec![RiskLevel::Production]
                } else {
                    Vec::new()
                },
                labels,
                team,
            });
        }
    }

    fn labels(&mut self) -> Vec<String> {
        let mut labels: Vec<String> = (0..self.rng.below(3))
            .filter_map(|_| self.rng.pick(LABELS).map(|l| l.to_string()))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        labels
    }

    fn resources(&mut self, count: usize, max_depth: usize) {
        for (id, production) in ENVIRONMENTS {
            let risk = if *production {
                vec![RiskLevel::Production]
            } else {
                Vec::new()
            };
            let environment = Resource {
                id: id.to_string(),
                kind: "environment".into(),
                name: Some(id.trim_start_matches("env-").to_string()),
                risk,
                ..Resource::default()
            };
            self.push_resource(environment, 0);
        }
        for (id, kind) in ADMIN_RESOURCES {
            let admin = Resource {
                id: id.to_string(),
                kind: kind.to_string(),
                access_mode: Some(AccessMode::Restricted),
                risk: vec![RiskLevel::Sensitive],
                ..Resource::default()
            };
            self.push_resource(admin, 0);
        }
        let weights: Vec<usize> = KINDS.iter().map(|(_, w)| *w).collect();
        let mut n = 0;
        while self.resources.len() < count {
            let kind = KINDS
                .get(self.rng.weighted(&weights))
                .map(|(k, _)| *k)
                .unwrap_or("journey");
            let (resource, depth) = self.resource(n, kind, max_depth);
            self.push_resource(resource, depth);
            n += 1;
        }
    }

    /// Writes the access mode the way a tenant's export would: omitted when
    /// it is the seed default, and an explicit weaker one acknowledged.
    fn push_resource(&mut self, mut resource: Resource, depth: usize) {
        if resource.access_mode.is_some() {
            let written = resource.access_mode.take();
            if written != Some(resource.effective_access_mode()) {
                resource.access_mode = written;
            }
        }
        if let Some(rule) = resource.weakened_rule() {
            resource.weaker_access_reason = Some(format!(
                "synthetic tenant: its team decides ({})",
                rule.row()
            ));
        }
        self.resources.push(resource);
        self.depth.push(depth);
    }

    fn resource(&mut self, n: usize, kind: &str, max_depth: usize) -> (Resource, usize) {
        let rng = &mut *self.rng;
        let service = (!self.services.is_empty() && rng.chance(850))
            .then(|| format!("svc-{}", rng.below(self.services.len())));
        let (mut visibility_restricted, mut access_mode, mut risk, mut secret_backed) =
            (rng.chance(80), AccessMode::Open, Vec::new(), false);
        let mode_roll = rng.below(1000);
        access_mode = match (mode_roll, service.is_some()) {
            (0..600, _) | (600..930, false) => access_mode,
            (600..930, true) => AccessMode::ServiceControlled,
            _ => AccessMode::Restricted,
        };
        match kind {
            "secret" => {
                visibility_restricted = rng.chance(700);
                access_mode = AccessMode::Restricted;
            }
            "credential" => {
                visibility_restricted = rng.chance(500);
                access_mode = if rng.chance(600) || service.is_none() {
                    AccessMode::Restricted
                } else {
                    AccessMode::ServiceControlled
                };
                if rng.chance(300) {
                    risk.push(RiskLevel::Production);
                }
            }
            "component" => secret_backed = rng.chance(250),
            "auth_config" => secret_backed = rng.chance(600),
            "oauth_config" => {
                secret_backed = rng.chance(500);
                if rng.chance(200) {
                    access_mode = AccessMode::Restricted;
                }
            }
            "runbook" => {
                if rng.chance(300) {
                    risk.push(RiskLevel::Destructive);
                }
                if rng.chance(200) {
                    risk.push(RiskLevel::Production);
                }
            }
            "journey" => {
                if rng.chance(80) {
                    risk.push(RiskLevel::Production);
                }
                if rng.chance(30) {
                    risk.push(RiskLevel::Sensitive);
                }
            }
            _ => {}
        }
        let visible_to = if visibility_restricted {
            let mut to = Vec::new();
            if let Some(svc) = &service {
                to.push(Principal::Team(svc.clone()));
            }
            if !self.groups.is_empty() && rng.chance(500) {
                to.push(Principal::Group(format!(
                    "g{}",
                    rng.below(self.groups.len())
                )));
            }
            to
        } else {
            Vec::new()
        };
        let fan_out = match kind {
            "journey" => rng.range(1, 4),
            "request_template" | "runbook" => rng.below(3),
            "component" | "auth_config" | "oauth_config" => rng.below(2),
            _ => 0,
        };
        let (depends_on, depth) = self.dependencies(fan_out, max_depth);
        let roles = if self.rng.chance(60) {
            self.role_assignments()
        } else {
            Vec::new()
        };
        let labels = self.labels();
        let prefix = kind.replace('_', "-");
        let resource = Resource {
            id: format!("{prefix}-{n}"),
            kind: kind.to_string(),
            name: None,
            service,
            visibility: if visibility_restricted {
                Visibility::Restricted
            } else {
                Visibility::Org
            },
            visible_to,
            access_mode: Some(access_mode),
            risk,
            secret_backed,
            depends_on,
            roles,
            labels,
            ..Resource::default()
        };
        (resource, depth)
    }

    /// Up to `fan_out` earlier resources of dependable kinds whose own chains
    /// leave room under `max_depth`; ordering by position keeps it acyclic.
    fn dependencies(&mut self, fan_out: usize, max_depth: usize) -> (Vec<String>, usize) {
        let mut picked: Vec<usize> = Vec::new();
        let earlier = self.resources.len();
        for _ in 0..fan_out {
            for _try in 0..6 {
                let at = self.rng.below(earlier);
                let Some(candidate) = self.resources.get(at) else {
                    break;
                };
                let deep = self.depth.get(at).copied().unwrap_or(0);
                if DEPENDABLE.contains(&candidate.kind.as_str())
                    && deep < max_depth
                    && !picked.contains(&at)
                {
                    picked.push(at);
                    break;
                }
            }
        }
        let depth = picked
            .iter()
            .map(|at| self.depth.get(*at).copied().unwrap_or(0) + 1)
            .max()
            .unwrap_or(0);
        let ids = picked
            .iter()
            .filter_map(|at| self.resources.get(*at))
            .map(|r| r.id.clone())
            .collect();
        (ids, depth)
    }

    fn principal(&mut self) -> Principal {
        match self.rng.below(1000) {
            0..500 if !self.groups.is_empty() => {
                Principal::Group(format!("g{}", self.rng.below(self.groups.len())))
            }
            500..700 if !self.services.is_empty() => {
                Principal::Team(format!("svc-{}", self.rng.below(self.services.len())))
            }
            700..950 => Principal::User(self.member()),
            _ => Principal::OrgRole(if self.rng.chance(700) {
                OrgRole::Member
            } else {
                OrgRole::Viewer
            }),
        }
    }

    fn role_assignments(&mut self) -> Vec<RoleAssignment> {
        let mut roles = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            let principal = if !self.groups.is_empty() && self.rng.chance(500) {
                Principal::Group(format!("g{}", self.rng.below(self.groups.len())))
            } else {
                Principal::User(self.member())
            };
            let role = match self.rng.below(100) {
                0..20 => ResourceRole::Owner,
                20..40 => ResourceRole::Maintainer,
                40..80 => ResourceRole::User,
                _ => ResourceRole::Viewer,
            };
            roles.push(RoleAssignment { principal, role });
        }
        roles
    }

    fn grants(&mut self, count: usize) {
        let prod_groups = self.prod_groups.clone();
        for (env, production) in ENVIRONMENTS {
            for g in prod_groups.iter().filter(|_| *production) {
                self.push_grant(
                    Principal::Group(format!("g{g}")),
                    Scope::Resource(env.to_string()),
                    vec![Action::Use],
                    vec![Privilege::Production],
                    None,
                );
            }
        }
        for k in 0..KIND_GRANTS {
            let kind = [
                "mock",
                "report",
                "runbook",
                "journey",
                "webhook",
                "request_template",
            ][k % 6];
            let actions = if k % 2 == 0 {
                vec![Action::View]
            } else {
                vec![Action::Run]
            };
            let principal = self.principal();
            self.push_grant(
                principal,
                Scope::Kind(kind.to_string()),
                actions,
                Vec::new(),
                None,
            );
        }
        for l in 0..LABEL_GRANTS {
            let label = LABELS.get(l % LABELS.len()).copied().unwrap_or("internal");
            let principal = self.principal();
            self.push_grant(
                principal,
                Scope::Label(label.to_string()),
                vec![Action::Use],
                Vec::new(),
                None,
            );
        }
        while self.grants.len() < count {
            self.random_grant(&prod_groups);
        }
    }

    fn random_grant(&mut self, prod_groups: &[usize]) {
        let on_service = !self.services.is_empty() && self.rng.chance(370);
        let (scope, risk) = if on_service {
            let s = self.rng.below(self.services.len());
            let service = self.services.get(s);
            (
                Scope::Service(format!("svc-{s}")),
                service.map(|s| s.risk.clone()).unwrap_or_default(),
            )
        } else {
            let r = self.rng.below(self.resources.len());
            let Some(resource) = self.resources.get(r) else {
                return;
            };
            (Scope::Resource(resource.id.clone()), resource.risk.clone())
        };
        let actions = match self.rng.below(1000) {
            0..300 => vec![Action::Run],
            300..450 => vec![Action::Use, Action::Run],
            450..600 => vec![Action::View],
            600..700 => vec![Action::Edit],
            700..780 => vec![Action::Use],
            780..850 => vec![Action::View, Action::Edit],
            850..900 => vec![Action::Use, Action::Run, Action::Edit],
            900..940 => vec![Action::Use, Action::Attach],
            940..970 => vec![Action::ManageAccess],
            _ => vec![Action::Administer],
        };
        let mut privileges = Vec::new();
        let production = risk.contains(&RiskLevel::Production) || self.rng.chance(30);
        if production && self.rng.chance(600) {
            privileges.push(Privilege::Production);
        }
        if risk.contains(&RiskLevel::Destructive) && self.rng.chance(500) {
            privileges.push(Privilege::Destructive);
        }
        let environments = if privileges.contains(&Privilege::Production) {
            self.rng
                .chance(400)
                .then(|| vec!["env-production".to_string()])
        } else {
            self.rng
                .chance(100)
                .then(|| vec!["env-dev".to_string(), "env-staging".to_string()])
        };
        let principal = match self.rng.pick(prod_groups) {
            Some(g) if !privileges.is_empty() && self.rng.chance(700) => {
                Principal::Group(format!("g{g}"))
            }
            _ => self.principal(),
        };
        self.push_grant(principal, scope, actions, privileges, environments);
    }

    fn push_grant(
        &mut self,
        principal: Principal,
        scope: Scope,
        actions: Vec<Action>,
        privileges: Vec<Privilege>,
        environments: Option<Vec<String>>,
    ) {
        let id = format!("grant-{}", self.grants.len());
        self.grants.push(Grant {
            id,
            principal,
            scope,
            actions,
            privileges,
            environments,
        });
    }
}
