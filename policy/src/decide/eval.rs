//! Steps 3–6 of the decision flow as allocation-free facts about one user and
//! one resource: what flows from roles and grants, visibility, and which
//! checks failed. Sentences are built from these only on deny (`explain`).

use crate::compile::{
    Entry, KeyTable, Member, OrgData, ResourceData, RoleSet, ServiceBucket, ServiceRows,
};
use crate::model::{
    AccessMode, Action, ActionSet, OrgRole, Privilege, RiskLevel, ServiceRole, Visibility,
};

/// A bucket without a table is scanned sequentially (each entry's key
/// compared with the member's inline keys at once) when it holds at most
/// this many entries per principal key of the member; otherwise it is
/// searched by binary search once per key.
const SCAN_PER_KEY: usize = 16;

/// The user in the org, and the request's target environment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx<'a> {
    pub org: &'a OrgData,
    pub member: &'a Member,
    /// The member's slot in `org.members`.
    pub slot: u32,
    pub env: Option<u32>,
}

/// What roles and grants give the user on one resource.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts {
    pub explicit: ActionSet,
    pub effective: ActionSet,
    pub privileges: u8,
    pub visible: bool,
    /// The effective risk of the request.
    pub risk: u8,
    /// The first applying grant (document order) carrying the action.
    pub first_grant: Option<u32>,
}

/// The checks of steps 4–6 that failed on one resource.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Failures {
    pub not_visible: bool,
    pub admin: bool,
    /// The action (for `attach`: `use`) is not effective.
    pub missing: bool,
    /// A secret-backed component without an explicit `attach`.
    pub missing_attach: bool,
    pub production: bool,
    pub destructive: bool,
    /// The first dependency (or the environment) that blocks `use`.
    pub dependency: Option<u32>,
}

impl Failures {
    pub fn any(&self) -> bool {
        *self != Failures::default()
    }
}

pub(crate) const fn risk_bit(level: RiskLevel) -> u8 {
    1 << level.index()
}

pub(crate) const fn privilege_bit(p: Privilege) -> u8 {
    1 << p.index()
}

const ALL_PRIVILEGES: u8 =
    privilege_bit(Privilege::Production) | privilege_bit(Privilege::Destructive);

/// Roles that carry "member rights" (the open-resource defaults).
pub(crate) const MEMBER_RIGHTS: [OrgRole; 5] = [
    OrgRole::Member,
    OrgRole::OrgAdmin,
    OrgRole::SecurityAdmin,
    OrgRole::BillingAdmin,
    OrgRole::IntegrationAdmin,
];

pub(crate) fn has_member_rights(roles: RoleSet) -> bool {
    MEMBER_RIGHTS.iter().any(|r| roles.contains(*r))
}

/// R is sensitive for `manage_access` when its risk holds anything but `normal`.
pub(crate) fn is_sensitive(r: &ResourceData) -> bool {
    r.risk & !risk_bit(RiskLevel::Normal) != 0
}

/// What one org role carries on R (implications not applied).
pub(crate) fn org_role_actions(role: OrgRole, r: &ResourceData) -> ActionSet {
    use Action::*;
    match role {
        OrgRole::OrgOwner => ActionSet::ALL,
        OrgRole::OrgAdmin => ActionSet::of(&[ManageUsers, ManageGroups, ManageSettings]),
        OrgRole::SecurityAdmin => {
            let mut set = ActionSet::of(&[ManageSso, ManageScim, ManageSecrets, ManageScopes]);
            if is_sensitive(r) {
                set = set.union(ManageAccess.bit());
            }
            if r.kind_flags.auth_like && r.secret_backed {
                set = set.union(Edit.bit());
            }
            set
        }
        OrgRole::BillingAdmin if r.kind_flags.billing_setting => {
            ActionSet::of(&[ManageBilling, View])
        }
        OrgRole::BillingAdmin => ManageBilling.bit(),
        OrgRole::IntegrationAdmin if r.kind_flags.integration_connection => {
            ActionSet::of(&[ManageIntegrations, Edit])
        }
        OrgRole::IntegrationAdmin => ManageIntegrations.bit(),
        OrgRole::Member | OrgRole::Viewer => ActionSet::EMPTY,
    }
}

/// What one service role carries on R (a resource of that service).
pub(crate) fn service_role_actions(role: ServiceRole, r: &ResourceData) -> ActionSet {
    use Action::*;
    match role {
        ServiceRole::Owner if r.secret_backed => {
            ActionSet::of(&[View, Use, Run, Edit, ManageAccess])
        }
        ServiceRole::Owner => ActionSet::of(&[View, Use, Run, Edit, ManageAccess, Attach]),
        ServiceRole::Maintainer if r.secret_backed || r.access_mode == AccessMode::Restricted => {
            ActionSet::of(&[View, Use, Edit])
        }
        ServiceRole::Maintainer => ActionSet::of(&[View, Use, Edit, Attach]),
        ServiceRole::Runner => ActionSet::of(&[View, Use, Run]),
        ServiceRole::Viewer | ServiceRole::Auditor => View.bit(),
    }
}

pub(crate) fn resource_role_actions(role: crate::model::ResourceRole) -> ActionSet {
    use crate::model::ResourceRole;
    use Action::*;
    match role {
        ResourceRole::Owner => ActionSet::of(&[View, Use, Run, Edit, Administer, ManageAccess]),
        ResourceRole::Maintainer => ActionSet::of(&[View, Use, Edit]),
        ResourceRole::User => ActionSet::of(&[View, Use, Run]),
        ResourceRole::Viewer => View.bit(),
    }
}

pub(crate) fn service_roles(bits: u8) -> impl Iterator<Item = ServiceRole> {
    ServiceRole::ALL
        .iter()
        .copied()
        .filter(move |r| bits & (1 << r.index()) != 0)
}

impl<'a> Ctx<'a> {
    /// Calls `f` with every grant in `bucket` whose principal matches the
    /// user. `service`: the service and its bucket, for a service's bucket.
    #[inline]
    fn scan(
        &self,
        entries: &[Entry],
        table: &KeyTable,
        service: Option<(u32, &ServiceBucket)>,
        f: &mut impl FnMut(&Entry),
    ) {
        let m = self.member;
        let mut run_of = |run: Option<(usize, usize)>| {
            if let Some((start, len)) = run {
                entries
                    .get(start..start + len)
                    .unwrap_or_default()
                    .iter()
                    .for_each(&mut *f);
            }
        };
        if let Some((s, sb)) = service.filter(|_| !table.is_empty()) {
            // A service's bucket: the member's org roles' runs are in the
            // bucket's own line; of the other keys, only those the member's
            // row byte for the service names ([`ServiceRows::positions`])
            // are probed in the table, so the keys are not walked one by one.
            let mut roles = m.roles.0;
            while roles != 0 {
                run_of(sb.role_run(roles.trailing_zeros()));
                roles &= roles - 1;
            }
            let row = self.org.service_rows.row(self.slot, s);
            ServiceRows::positions(row, m.key_count(), |position| {
                let run = m
                    .key_at(position)
                    .filter(|k| !k.is_role())
                    .and_then(|k| table.find(k));
                run_of(run);
            });
            return;
        }
        if !table.is_empty() {
            // Any other bucket with a table: one lookup per principal key of
            // the user; entries are read only for a key with grants here.
            m.each_key(|k| run_of(table.find(k)));
            return;
        }
        if entries.len() <= SCAN_PER_KEY * m.key_count().max(1) {
            for e in entries.iter() {
                if m.matches(e.key) {
                    f(e);
                }
            }
        } else {
            m.each_key(|k| {
                let start = entries.partition_point(|e| e.key < k);
                for e in entries.get(start..).unwrap_or_default() {
                    if e.key != k {
                        break;
                    }
                    f(e);
                }
            });
        }
    }

    /// Calls `f` with the index of every grant whose scope covers R and whose
    /// principal matches the user (environments not checked).
    pub fn covering_grants(&self, index: u32, r: &ResourceData, mut f: impl FnMut(&Entry)) {
        self.org
            .covering_buckets(index, r, |entries, table, service| {
                self.scan(entries, table, service, &mut f)
            });
    }

    /// Whether the grant of entry `e` applies given the request's
    /// environment: always, unless environments limit it; then only in one
    /// of them (read from the grant's record).
    #[inline]
    pub fn env_ok(&self, e: &Entry) -> bool {
        if !e.env_limited {
            return true;
        }
        let grant = self.org.grants.get(e.grant as usize);
        match (grant, self.env) {
            (Some(g), Some(env)) => g.envs.contains(env, &self.org.long_envs),
            _ => false,
        }
    }

    /// Facts about the user on R for `action`; `env_risk`: whether the target
    /// environment's risk adds to R's (for `use`/`run` on the request's R).
    ///
    /// Grants are read only when they can change the outcome or `allowed_by`:
    /// not for org owners, and not when a role (which precedes grants in
    /// `allowed_by`) already carries the action on a visible resource whose
    /// risk needs no privilege. Then `explicit` lacks the grants' actions and
    /// `first_grant` is `None`, which no caller can tell apart.
    pub fn facts(&self, index: u32, r: &ResourceData, action: Action, env_risk: bool) -> Facts {
        let m = self.member;
        let owner = m.roles.contains(OrgRole::OrgOwner);
        let mut risk = r.risk;
        if env_risk
            && action.checks_dependencies()
            && let Some(e) = self.env.and_then(|e| self.org.resource(e))
        {
            risk |= e.risk;
        }
        if owner {
            return Facts {
                explicit: ActionSet::ALL,
                effective: ActionSet::ALL,
                privileges: ALL_PRIVILEGES,
                visible: true,
                risk,
                first_grant: None,
            };
        }
        let mut explicit = ActionSet::EMPTY;
        for role in m.roles.iter() {
            explicit = explicit.union(org_role_actions(role, r));
        }
        let seats = r.service.map_or(0, |s| m.seat_roles(s));
        for role in service_roles(seats) {
            explicit = explicit.union(service_role_actions(role, r));
        }
        for &(p, role) in r.roles() {
            if m.matches(p) {
                explicit = explicit.union(resource_role_actions(role));
            }
        }
        explicit = explicit.with_implied();
        let seen = r.visibility == Visibility::Org
            || r.visible_to.iter().any(|p| m.matches(*p))
            || !explicit.is_empty()
            || seats != 0;
        let needs_privilege = (matches!(
            action,
            Action::Use | Action::Run | Action::Edit | Action::Attach
        ) && risk & risk_bit(RiskLevel::Production) != 0)
            || (action == Action::Run && risk & risk_bit(RiskLevel::Destructive) != 0);
        let settled =
            seen && explicit.contains(action) && action != Action::Attach && !needs_privilege;

        let mut privileges = 0;
        let mut first_grant: Option<u32> = None;
        if !settled {
            let mut from_grants = ActionSet::EMPTY;
            self.covering_grants(index, r, |e| {
                if !self.env_ok(e) {
                    return;
                }
                from_grants = from_grants.union(ActionSet(u32::from(e.actions)));
                privileges |= e.privileges;
                if ActionSet(u32::from(e.actions)).contains(action)
                    && first_grant.is_none_or(|f| e.grant < f)
                {
                    first_grant = Some(e.grant);
                }
            });
            explicit = explicit.union(from_grants);
        }
        let visible = seen || !explicit.is_empty();

        let mut effective = explicit;
        if visible {
            effective = effective.union(Action::View.bit());
            if has_member_rights(m.roles)
                && r.access_mode == AccessMode::Open
                && risk & risk_bit(RiskLevel::Sensitive) == 0
            {
                effective = effective.union(ActionSet::of(&[Action::Use, Action::Run]));
            }
        }
        Facts {
            explicit,
            effective,
            privileges,
            visible,
            risk,
            first_grant,
        }
    }

    /// Whether the resource at `index` is visible to the user (step 3 alone),
    /// with the request's environment deciding grant applicability.
    pub fn is_visible(&self, index: u32) -> bool {
        let Some(r) = self.org.resource(index) else {
            return false;
        };
        r.visibility == Visibility::Org || self.facts(index, r, Action::View, false).visible
    }

    /// Steps 3–6 on the request's resource (or, with `env_risk` false and
    /// `use`, on a dependency: without walking further).
    pub fn check(&self, index: u32, action: Action, env_risk: bool) -> (Failures, Option<Facts>) {
        let mut fail = Failures::default();
        let Some(r) = self.org.resource(index) else {
            fail.not_visible = true;
            return (fail, None);
        };
        let facts = self.facts(index, r, action, env_risk);
        if !facts.visible {
            fail.not_visible = true;
            return (fail, Some(facts));
        }
        if action.is_administrative() {
            fail.admin = !facts.explicit.contains(action);
            return (fail, Some(facts));
        }
        if action == Action::Attach {
            fail.missing = !facts.effective.contains(Action::Use);
            fail.missing_attach = r.secret_backed && !facts.explicit.contains(Action::Attach);
        } else {
            fail.missing = !facts.effective.contains(action);
        }
        if matches!(
            action,
            Action::Use | Action::Run | Action::Edit | Action::Attach
        ) {
            fail.production = facts.risk & risk_bit(RiskLevel::Production) != 0
                && facts.privileges & privilege_bit(Privilege::Production) == 0;
        }
        if action == Action::Run {
            fail.destructive = facts.risk & risk_bit(RiskLevel::Destructive) != 0
                && facts.privileges & privilege_bit(Privilege::Destructive) == 0;
        }
        if env_risk && action.checks_dependencies() {
            fail.dependency = self.first_blocking(index, r);
        }
        (fail, Some(facts))
    }
}

/// Open, org-visible, neither sensitive nor production: any user with member
/// rights may `use` it without a grant, whatever else applies.
pub(crate) fn is_plain(d: &ResourceData) -> bool {
    let risky = risk_bit(RiskLevel::Sensitive) | risk_bit(RiskLevel::Production);
    d.visibility == Visibility::Org && d.access_mode == AccessMode::Open && d.risk & risky == 0
}

impl<'a> Ctx<'a> {
    /// Whether dependency `d` can block at all: a restricted dependency is
    /// "a required resource that has tighter access than the thing the user
    /// is trying to run or use", and an open, normal one the user can see is
    /// tighter than nothing (its own dependencies are still walked).
    fn is_tighter(&self, d: u32) -> bool {
        let Some(r) = self.org.resource(d) else {
            return true;
        };
        let normal =
            r.access_mode == AccessMode::Open && r.risk & !risk_bit(RiskLevel::Normal) == 0;
        !(normal && self.is_visible(d))
    }

    /// Step 6: the first resource on R's closure, then E and E's closure,
    /// for which `use` would be denied (R itself excluded).
    fn first_blocking(&self, index: u32, r: &'a ResourceData) -> Option<u32> {
        let roles = self.member.roles;
        if roles.contains(OrgRole::OrgOwner) {
            return None;
        }
        // Most dependencies are plain: a member may use them without reading
        // any grant, so for members only the precomputed non-plain part of a
        // closure (`blockers`, usually empty) is walked.
        let member = has_member_rights(roles);
        let walk = |r: &'a ResourceData| if member { &r.blockers } else { &r.closure };
        let blocks =
            |d: u32| d != index && self.is_tighter(d) && self.check(d, Action::Use, false).0.any();
        if let Some(&d) = walk(r).iter().find(|d| blocks(**d)) {
            return Some(d);
        }
        let e = self.env?;
        let env = self.org.resource(e);
        if !(member && env.is_some_and(is_plain)) && blocks(e) {
            return Some(e);
        }
        walk(env?).iter().copied().find(|d| blocks(*d))
    }
}
