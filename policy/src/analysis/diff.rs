//! The access that changes between two policy documents: every (user,
//! action, resource, environment) whose decision differs, gained or lost,
//! with the changes of the documents that cause it.
//!
//! Only the questions a change can affect are asked, and each is asked
//! with `decide` on both snapshots, so the answer is exact if the
//! candidates are complete. A question about user U and resource R can
//! change only if one of these changed (old or new document):
//!
//! - U's side: U's membership in the org, the groups listing U (and their
//!   roles), or U's team seats (direct or through a group): U is *dirty*,
//!   and every resource is asked about for U;
//! - R's side: R's own entry (for a service, everything but its team) or
//!   its owning service's entry: every member is asked every action on R;
//!   any resource R depends on, transitively: every member is asked `use`
//!   and `run` on R (the only actions that check dependencies);
//! - a grant added, removed or changed: every user its principal names
//!   (old or new) is asked every action on every resource its scope covers
//!   (old or new), and `use` and `run` on every resource depending on
//!   those;
//! - an environment's entry: every member and resource, for `use`/`run` in
//!   that environment;
//! - the org itself added or removed: everything in it.
//!
//! The tests compare the answer with brute force (every member, resource,
//! action and environment of both documents) over pairs of related random
//! worlds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::compile::Snapshot;
use crate::decide::decide_unexplained;
use crate::decision::{Request, RequestAction};
use crate::document::{Document, Grant, Org, Principal, Scope, TeamMember};
use crate::model::{Action, OrgRole, RiskLevel};

/// One question whose answer differs between the two documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessChange {
    pub org: String,
    pub user: String,
    pub action: Action,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `true`: allowed now, denied before; `false`: the other way.
    pub gained: bool,
    /// The request's effective risk (resource and environment), in the
    /// document where it is allowed; `normal` left out.
    pub risk: Vec<RiskLevel>,
    /// The changes of the documents that can cause it, in a stable order.
    pub causes: Vec<String>,
}

impl AccessChange {
    /// Production or destructive access.
    pub fn is_risky(&self) -> bool {
        self.risk
            .iter()
            .any(|r| matches!(r, RiskLevel::Production | RiskLevel::Destructive))
    }
}

/// The documents differ in more than [`diff_bounded`] may ask about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TooLarge {
    /// (user, resource) pairs the changes could affect.
    pub pairs: usize,
    pub limit: usize,
    pub users_changed: usize,
    pub resources_changed: usize,
    pub grants_changed: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the documents differ too much to list every change: more than {} (user, resource) pairs could be affected (found before counting stopped: {} users, {} resources and {} grants changed)",
            self.limit, self.users_changed, self.resources_changed, self.grants_changed
        )
    }
}

/// The changes, risky first (production or destructive), then by org,
/// user, resource, action and environment.
pub fn diff(
    old: &Document,
    old_snapshot: &Snapshot,
    new: &Document,
    new_snapshot: &Snapshot,
) -> Vec<AccessChange> {
    diff_bounded(old, old_snapshot, new, new_snapshot, usize::MAX).unwrap_or_default()
}

/// Like [`diff`], but refuses (before deciding anything) when more than
/// `max_pairs` (user, resource) pairs could be affected: two unrelated
/// documents of 25k members and 100k resources would take hours.
pub fn diff_bounded(
    old: &Document,
    old_snapshot: &Snapshot,
    new: &Document,
    new_snapshot: &Snapshot,
    max_pairs: usize,
) -> Result<Vec<AccessChange>, TooLarge> {
    diff_bounded_on(
        old,
        old_snapshot,
        new,
        new_snapshot,
        max_pairs,
        super::every_core(),
    )
}

/// [`diff_bounded`] deciding on at most `threads` threads (a gateway
/// diffing a reload in the background leaves the other cores to traffic).
pub fn diff_bounded_on(
    old: &Document,
    old_snapshot: &Snapshot,
    new: &Document,
    new_snapshot: &Snapshot,
    max_pairs: usize,
    threads: usize,
) -> Result<Vec<AccessChange>, TooLarge> {
    let orgs: BTreeSet<&str> = old
        .orgs
        .iter()
        .chain(&new.orgs)
        .map(|o| o.id.as_str())
        .collect();
    let mut plans = Vec::new();
    let mut total = TooLarge {
        pairs: 0,
        limit: max_pairs,
        users_changed: 0,
        resources_changed: 0,
        grants_changed: 0,
    };
    for org in orgs {
        let sides = Sides {
            org,
            old: Side::of(old, org),
            new: Side::of(new, org),
            old_snapshot,
            new_snapshot,
        };
        let dirty = sides.dirty(max_pairs);
        total.users_changed += dirty.users.len();
        total.resources_changed += dirty.resources.len();
        total.grants_changed += dirty.grants.len();
        if dirty.too_large {
            total.pairs = max_pairs.saturating_add(1);
            return Err(total);
        }
        plans.push((sides, dirty));
    }
    let mut planned = Vec::new();
    for (sides, dirty) in &plans {
        let budget = max_pairs.saturating_sub(total.pairs);
        let Some(plan) = sides.plan(dirty, budget) else {
            total.pairs = max_pairs.saturating_add(1);
            return Err(total);
        };
        total.pairs = total.pairs.saturating_add(plan.size());
        planned.push(plan);
    }
    let mut out = Vec::new();
    for ((sides, dirty), plan) in plans.iter().zip(&planned) {
        sides.run(dirty, plan, threads, &mut out);
    }
    out.sort_by(|a, b| {
        (
            !a.is_risky(),
            &a.org,
            &a.user,
            &a.resource,
            a.action,
            &a.environment,
        )
            .cmp(&(
                !b.is_risky(),
                &b.org,
                &b.user,
                &b.resource,
                b.action,
                &b.environment,
            ))
    });
    Ok(out)
}

/// Which questions to ask about one (user, resource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask<'d> {
    /// Every action, `use`/`run` with no environment and in each.
    All,
    /// `use` and `run` only, with no environment and in each.
    UseAndRun,
    /// `use` and `run` in this environment only.
    In(&'d str),
}

/// The questions to ask in one org.
struct Plan<'d> {
    /// (user, resource): every action, every environment.
    pairs: BTreeSet<(&'d str, &'d str)>,
    /// (user, resource): `use` and `run`, every environment.
    deps: BTreeSet<(&'d str, &'d str)>,
    /// (user, resource, environment): `use`/`run` in that environment only.
    in_env: BTreeSet<(&'d str, &'d str, &'d str)>,
    environments: BTreeSet<&'d str>,
}

impl Plan<'_> {
    fn size(&self) -> usize {
        self.pairs.len() + self.deps.len() + self.in_env.len()
    }
}

/// One resource or service entry as it bears on decisions.
#[derive(Clone, Copy, Debug)]
enum Entry<'d> {
    Resource(&'d crate::document::Resource),
    /// A service: its team is compared seat by seat, per user.
    Service(&'d crate::document::Service),
}

impl Entry<'_> {
    fn same(self, other: Entry<'_>) -> bool {
        match (self, other) {
            (Entry::Resource(a), Entry::Resource(b)) => a == b,
            (Entry::Service(a), Entry::Service(b)) => {
                a.id == b.id
                    && a.name == b.name
                    && a.visibility == b.visibility
                    && a.visible_to == b.visible_to
                    && a.access_mode == b.access_mode
                    && a.risk == b.risk
                    && a.labels == b.labels
            }
            _ => false,
        }
    }

    fn json(self) -> serde_json::Value {
        let mut v = match self {
            Entry::Resource(r) => serde_json::to_value(r),
            Entry::Service(s) => serde_json::to_value(s),
        }
        .unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.remove("team");
        }
        v
    }
}

/// One org as one document has it (empty when the document lacks it), with
/// the indexes the diff needs.
struct Side<'d> {
    org: Option<&'d Org>,
    /// Member user id → their (first) membership in the org.
    members: BTreeMap<&'d str, &'d crate::document::Membership>,
    entries: BTreeMap<&'d str, Entry<'d>>,
    dependents: HashMap<&'d str, Vec<&'d str>>,
    environments: BTreeSet<&'d str>,
    risk: HashMap<&'d str, &'d [RiskLevel]>,
    /// User → the groups listing them, with the groups' roles.
    groups_by_user: HashMap<&'d str, Vec<(&'d str, &'d [OrgRole])>>,
    group_members: HashMap<&'d str, &'d [String]>,
    /// Seats by who sits: (service, role).
    seats_by_user: HashMap<&'d str, Vec<(&'d str, String)>>,
    seats_by_group: HashMap<&'d str, Vec<(&'d str, String)>>,
    by_kind: HashMap<&'d str, Vec<&'d str>>,
    /// Service → itself and the resources it owns.
    by_service: HashMap<&'d str, Vec<&'d str>>,
    by_label: HashMap<&'d str, Vec<&'d str>>,
}

impl<'d> Side<'d> {
    fn of(document: &'d Document, org: &str) -> Side<'d> {
        let o = document.orgs.iter().find(|o| o.id == org);
        let mut side = Side {
            org: o,
            members: BTreeMap::new(),
            entries: BTreeMap::new(),
            dependents: HashMap::new(),
            environments: BTreeSet::new(),
            risk: HashMap::new(),
            groups_by_user: HashMap::new(),
            group_members: HashMap::new(),
            seats_by_user: HashMap::new(),
            seats_by_group: HashMap::new(),
            by_kind: HashMap::new(),
            by_service: HashMap::new(),
            by_label: HashMap::new(),
        };
        for u in &document.users {
            // The first membership of a user in an org is the one that counts.
            if let Some(m) = u.memberships.iter().find(|m| m.org == org) {
                side.members.entry(&u.id).or_insert(m);
            }
        }
        let Some(o) = o else {
            return side;
        };
        for g in &o.groups {
            side.group_members.entry(&g.id).or_insert(&g.members);
            for m in &g.members {
                side.groups_by_user
                    .entry(m)
                    .or_default()
                    .push((&g.id, &g.roles));
            }
        }
        for s in &o.services {
            side.entries.entry(&s.id).or_insert(Entry::Service(s));
            side.by_kind.entry("service").or_default().push(&s.id);
            side.by_service.entry(&s.id).or_default().push(&s.id);
            for l in &s.labels {
                side.by_label.entry(l).or_default().push(&s.id);
            }
            side.risk.insert(&s.id, &s.risk);
            for seat in &s.team {
                let place = (s.id.as_str(), seat.role.to_string());
                match &seat.member {
                    TeamMember::User(u) => side.seats_by_user.entry(u).or_default().push(place),
                    TeamMember::Group(g) => side.seats_by_group.entry(g).or_default().push(place),
                }
            }
        }
        for r in &o.resources {
            side.entries.entry(&r.id).or_insert(Entry::Resource(r));
            side.by_kind.entry(&r.kind).or_default().push(&r.id);
            if let Some(s) = &r.service {
                side.by_service.entry(s).or_default().push(&r.id);
            }
            for l in &r.labels {
                side.by_label.entry(l).or_default().push(&r.id);
            }
            side.risk.insert(&r.id, &r.risk);
            if r.kind == "environment" {
                side.environments.insert(&r.id);
            }
            for d in &r.depends_on {
                side.dependents.entry(d).or_default().push(&r.id);
            }
        }
        side
    }

    /// The groups listing `user`, with their roles.
    fn groups_of(&self, user: &str) -> Vec<(&'d str, &'d [OrgRole])> {
        self.groups_by_user.get(user).cloned().unwrap_or_default()
    }

    /// `user`'s seats: (service, role), direct or through a group.
    fn seats_of(&self, user: &str) -> BTreeSet<(&'d str, String)> {
        let mut seats: BTreeSet<(&'d str, String)> = self
            .seats_by_user
            .get(user)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for (g, _) in self.groups_of(user) {
            seats.extend(self.seats_by_group.get(g).into_iter().flatten().cloned());
        }
        seats
    }

    /// The users `principal` names here.
    fn users_of(&self, principal: &Principal) -> BTreeSet<&'d str> {
        match principal {
            Principal::User(u) => self
                .members
                .get_key_value(u.as_str())
                .map(|(k, _)| *k)
                .into_iter()
                .collect(),
            Principal::Group(g) => self
                .group_members
                .get(g.as_str())
                .into_iter()
                .flat_map(|m| m.iter())
                .filter_map(|m| self.members.get_key_value(m.as_str()).map(|(k, _)| *k))
                .collect(),
            Principal::Team(s) => self
                .members
                .keys()
                .copied()
                .filter(|m| self.seats_of(m).iter().any(|(svc, _)| svc == s))
                .collect(),
            Principal::OrgRole(r) => self
                .members
                .iter()
                .filter(|(m, membership)| {
                    membership.roles.contains(r)
                        || self.groups_of(m).iter().any(|(_, roles)| roles.contains(r))
                })
                .map(|(m, _)| *m)
                .collect(),
        }
    }

    /// The resources `scope` covers here.
    fn covered(&self, scope: &Scope) -> Vec<&'d str> {
        let list = match scope {
            Scope::Resource(id) => {
                return self
                    .entries
                    .get_key_value(id.as_str())
                    .map(|(k, _)| *k)
                    .into_iter()
                    .collect();
            }
            Scope::Service(s) => self.by_service.get(s.as_str()),
            Scope::Kind(k) => self.by_kind.get(k.as_str()),
            Scope::Label(l) => self.by_label.get(l.as_str()),
        };
        list.cloned().unwrap_or_default()
    }

    /// `roots` and every resource depending on one of them, transitively.
    fn with_dependents(
        &self,
        roots: impl IntoIterator<Item = &'d str>,
        into: &mut BTreeSet<&'d str>,
    ) {
        let mut stack: Vec<&str> = roots.into_iter().collect();
        while let Some(r) = stack.pop() {
            if into.insert(r)
                && let Some(ds) = self.dependents.get(r)
            {
                stack.extend(ds.iter().copied());
            }
        }
    }

    fn grants(&self) -> BTreeMap<&'d str, &'d Grant> {
        self.org
            .map(|o| o.grants.iter().map(|g| (g.id.as_str(), g)).collect())
            .unwrap_or_default()
    }
}

struct Sides<'d> {
    org: &'d str,
    old: Side<'d>,
    new: Side<'d>,
    old_snapshot: &'d Snapshot,
    new_snapshot: &'d Snapshot,
}

/// A changed grant: the users its principal names and the resources its
/// scope covers (old or new), and the resources depending on those.
struct GrantChange<'d> {
    users: BTreeSet<&'d str>,
    resources: BTreeSet<&'d str>,
    dependents: BTreeSet<&'d str>,
    cause: String,
}

/// Causes, keyed by what they make dirty.
#[derive(Default)]
struct Dirty<'d> {
    users: BTreeMap<&'d str, Vec<String>>,
    resources: BTreeMap<&'d str, Vec<String>>,
    /// Resources depending on a changed one (`use`/`run` only).
    dependents: BTreeMap<&'d str, Vec<String>>,
    grants: Vec<GrantChange<'d>>,
    /// User → the changed grants naming them (indexes into `grants`).
    grants_by_user: HashMap<&'d str, Vec<usize>>,
    environments: BTreeMap<&'d str, Vec<String>>,
    /// Environments a changed grant covers: (users, environment, cause),
    /// for `use`/`run` of every resource in it.
    grant_environments: Vec<(BTreeSet<&'d str>, &'d str, String)>,
    /// The whole org (added, removed).
    all: Option<String>,
    /// Counting stopped: more than the budget is touched.
    too_large: bool,
}

impl<'d> Sides<'d> {
    /// What changed, or as far as it got: `too_large` is set (and the rest
    /// left out) once the changes found already touch more than `budget`
    /// (user, resource) pairs, so two unrelated documents are refused
    /// without walking every dependency of every resource.
    fn dirty(&self, budget: usize) -> Dirty<'d> {
        let mut d = Dirty::default();
        let (old, new) = (&self.old, &self.new);
        match (old.org, new.org) {
            (None, Some(_)) => d.all = Some(format!("org `{}` added", self.org)),
            (Some(_), None) => d.all = Some(format!("org `{}` removed", self.org)),
            _ => {}
        }
        let users: BTreeSet<&str> = old
            .members
            .keys()
            .chain(new.members.keys())
            .copied()
            .collect();
        for &u in &users {
            let mut causes = Vec::new();
            match (old.members.get(u), new.members.get(u)) {
                (None, Some(_)) => causes.push(format!("membership of `{u}` added")),
                (Some(_), None) => causes.push(format!("membership of `{u}` removed")),
                (Some(a), Some(b)) if a != b => causes.push(format!("membership of `{u}` changed")),
                _ => {}
            }
            let (ga, gb) = (old.groups_of(u), new.groups_of(u));
            if ga != gb {
                let names: BTreeSet<&str> = ga.iter().chain(&gb).map(|(g, _)| *g).collect();
                for g in names {
                    let a = ga.iter().find(|(x, _)| *x == g);
                    let b = gb.iter().find(|(x, _)| *x == g);
                    if a != b {
                        causes.push(match (a, b) {
                            (None, Some(_)) => format!("`{u}` added to group `{g}`"),
                            (Some(_), None) => format!("`{u}` removed from group `{g}`"),
                            _ => format!("roles of group `{g}` changed"),
                        });
                    }
                }
            }
            let (sa, sb) = (old.seats_of(u), new.seats_of(u));
            for (s, role) in sa.symmetric_difference(&sb) {
                let verb = if sb.contains(&(*s, role.clone())) {
                    "added"
                } else {
                    "removed"
                };
                causes.push(format!(
                    "seat of `{u}` on the team of `{s}` as {role} {verb}"
                ));
            }
            if !causes.is_empty() {
                d.users.insert(u, causes);
            }
        }
        let resource_count = old.entries.len().max(new.entries.len());
        if d.users.len().saturating_mul(resource_count) > budget {
            d.too_large = true;
            return d;
        }
        let ids: BTreeSet<&str> = old
            .entries
            .keys()
            .chain(new.entries.keys())
            .copied()
            .collect();
        let mut changed = Vec::new();
        for &r in &ids {
            let cause = match (old.entries.get(r), new.entries.get(r)) {
                (None, Some(_)) => format!("resource `{r}` added"),
                (Some(_), None) => format!("resource `{r}` removed"),
                (Some(a), Some(b)) if !a.same(*b) => {
                    let fields = changed_fields(&a.json(), &b.json());
                    format!("resource `{r}` changed ({})", fields.join(", "))
                }
                _ => continue,
            };
            let is_env = old.environments.contains(r) || new.environments.contains(r);
            if is_env {
                d.environments.entry(r).or_default().push(cause.clone());
            }
            changed.push((r, cause));
        }
        let member_count = old.members.len().max(new.members.len());
        if changed.len().saturating_mul(member_count) > budget {
            d.too_large = true;
            return d;
        }
        for (r, cause) in changed {
            // The resource itself, what its service owns (for a service),
            // and whatever depends on any of them.
            let mut roots: BTreeSet<&str> = BTreeSet::from([r]);
            for side in [old, new] {
                roots.extend(side.by_service.get(r).into_iter().flatten().copied());
            }
            for &root in &roots {
                d.resources.entry(root).or_default().push(cause.clone());
            }
            let mut hit = BTreeSet::new();
            for side in [old, new] {
                side.with_dependents(roots.iter().copied(), &mut hit);
            }
            // Dependents: only `use` and `run` check dependencies.
            for h in hit.difference(&roots).copied() {
                d.dependents.entry(h).or_default().push(cause.clone());
                // A target environment is checked like a dependency of
                // every `use`/`run` in it.
                if (old.environments.contains(h) || new.environments.contains(h)) && h != r {
                    d.environments.entry(h).or_default().push(cause.clone());
                }
            }
        }
        let (ga, gb) = (old.grants(), new.grants());
        // Many grants name the same principal: resolve each once.
        let mut principals: HashMap<&Principal, BTreeSet<&str>> = HashMap::new();
        let grant_ids: BTreeSet<&str> = ga.keys().chain(gb.keys()).copied().collect();
        for g in grant_ids {
            let (a, b) = (ga.get(g), gb.get(g));
            let cause = match (a, b) {
                (None, Some(_)) => format!("grant `{g}` added"),
                (Some(_), None) => format!("grant `{g}` removed"),
                (Some(x), Some(y)) if x != y => format!("grant `{g}` changed"),
                _ => continue,
            };
            let mut users = BTreeSet::new();
            let mut resources = BTreeSet::new();
            let mut reached = BTreeSet::new();
            for grant in [a, b].into_iter().flatten() {
                let named = principals.entry(&grant.principal).or_insert_with(|| {
                    let mut named = old.users_of(&grant.principal);
                    named.extend(new.users_of(&grant.principal));
                    named
                });
                users.extend(named.iter().copied());
                let covered: BTreeSet<&str> = [old, new]
                    .iter()
                    .flat_map(|s| s.covered(&grant.scope))
                    .collect();
                for side in [old, new] {
                    side.with_dependents(covered.iter().copied(), &mut reached);
                }
                resources.extend(covered);
            }
            let dependents: BTreeSet<&str> = reached.difference(&resources).copied().collect();
            for &e in resources.iter().chain(&dependents) {
                if old.environments.contains(e) || new.environments.contains(e) {
                    d.grant_environments.push((users.clone(), e, cause.clone()));
                }
            }
            let index = d.grants.len();
            for &u in &users {
                d.grants_by_user.entry(u).or_default().push(index);
            }
            d.grants.push(GrantChange {
                users,
                resources,
                dependents,
                cause,
            });
        }
        d
    }

    /// The questions to ask, or `None` when there are more than `budget`
    /// (counted before they are all collected, so a huge diff costs little
    /// to refuse).
    fn plan(&self, d: &Dirty<'d>, budget: usize) -> Option<Plan<'d>> {
        let users: BTreeSet<&'d str> = self
            .old
            .members
            .keys()
            .chain(self.new.members.keys())
            .copied()
            .collect();
        let resources: BTreeSet<&'d str> = self
            .old
            .entries
            .keys()
            .chain(self.new.entries.keys())
            .copied()
            .collect();
        let environments: BTreeSet<&'d str> = self
            .old
            .environments
            .iter()
            .chain(&self.new.environments)
            .copied()
            .collect();
        let whole = users.len().saturating_mul(resources.len());
        let by_user = d.users.len().saturating_mul(resources.len());
        if (d.all.is_some() && whole > budget) || by_user > budget {
            return None;
        }
        let mut pairs: BTreeSet<(&'d str, &'d str)> = BTreeSet::new();
        if d.all.is_some() {
            for &u in &users {
                pairs.extend(resources.iter().map(|&r| (u, r)));
            }
        } else {
            for &u in d.users.keys() {
                pairs.extend(resources.iter().map(|&r| (u, r)));
            }
            for &r in d.resources.keys() {
                pairs.extend(users.iter().map(|&u| (u, r)));
                if pairs.len() > budget {
                    return None;
                }
            }
            for g in &d.grants {
                for &u in &g.users {
                    pairs.extend(g.resources.iter().map(|&r| (u, r)));
                    if pairs.len() > budget {
                        return None;
                    }
                }
            }
        }
        // Dependents of what changed: `use`/`run` only.
        let mut deps: BTreeSet<(&'d str, &'d str)> = BTreeSet::new();
        for &r in d.dependents.keys() {
            deps.extend(users.iter().map(|&u| (u, r)).filter(|p| !pairs.contains(p)));
            if pairs.len() + deps.len() > budget {
                return None;
            }
        }
        for g in &d.grants {
            for &u in &g.users {
                deps.extend(
                    g.dependents
                        .iter()
                        .map(|&r| (u, r))
                        .filter(|p| !pairs.contains(p)),
                );
                if pairs.len() + deps.len() > budget {
                    return None;
                }
            }
        }
        // A changed environment: `use`/`run` in it, for every other pair
        // (for the grant's users only, when a grant covers it).
        let mut in_env: BTreeSet<(&'d str, &'d str, &'d str)> = BTreeSet::new();
        let env_users = d
            .environments
            .keys()
            .flat_map(|&e| users.iter().map(move |&u| (u, e)))
            .chain(
                d.grant_environments
                    .iter()
                    .flat_map(|(gu, e, _)| gu.iter().map(move |&u| (u, *e))),
            );
        for (u, e) in env_users {
            for &r in &resources {
                if !pairs.contains(&(u, r)) && !deps.contains(&(u, r)) {
                    in_env.insert((u, r, e));
                }
            }
            if pairs.len() + deps.len() + in_env.len() > budget {
                return None;
            }
        }
        Some(Plan {
            pairs,
            deps,
            in_env,
            environments,
        })
    }

    /// Asks every planned question, on `threads` threads (decisions are
    /// pure and the snapshots shared; the answers are sorted afterwards).
    fn run(&self, d: &Dirty<'_>, plan: &Plan<'_>, threads: usize, out: &mut Vec<AccessChange>) {
        let questions: Vec<(&str, &str, Ask<'_>)> = plan
            .pairs
            .iter()
            .map(|&(u, r)| (u, r, Ask::All))
            .chain(plan.deps.iter().map(|&(u, r)| (u, r, Ask::UseAndRun)))
            .chain(plan.in_env.iter().map(|&(u, r, e)| (u, r, Ask::In(e))))
            .collect();
        let results: Vec<Vec<AccessChange>> = super::on_threads(&questions, threads, |part| {
            let mut found = Vec::new();
            for &(u, r, e) in part {
                self.ask(u, r, &plan.environments, e, d, &mut found);
            }
            found
        });
        out.extend(results.into_iter().flatten());
    }

    /// Every action on `r` for `u` (`use`/`run` with no environment and in
    /// each; only in `only_env` when given), both ways.
    fn ask(
        &self,
        u: &str,
        r: &str,
        environments: &BTreeSet<&str>,
        which: Ask<'_>,
        d: &Dirty<'_>,
        out: &mut Vec<AccessChange>,
    ) {
        let mut pair: Option<Vec<&str>> = None;
        for &action in Action::ALL {
            let every_env = || -> Vec<Option<&str>> {
                std::iter::once(None)
                    .chain(environments.iter().map(|e| Some(*e)))
                    .collect()
            };
            let envs: Vec<Option<&str>> = match which {
                _ if !action.checks_dependencies() && which != Ask::All => continue,
                Ask::In(e) => vec![Some(e)],
                _ if action.checks_dependencies() => every_env(),
                _ => vec![None],
            };
            for env in envs {
                let request = Request {
                    org: self.org,
                    user: u,
                    action: RequestAction::Known(action),
                    resource: r,
                    environment: env,
                };
                let before = decide_unexplained(self.old_snapshot, &request).allowed;
                let after = decide_unexplained(self.new_snapshot, &request).allowed;
                if before == after {
                    continue;
                }
                let side = if after { &self.new } else { &self.old };
                let mut risk: BTreeSet<RiskLevel> = side
                    .risk
                    .get(r)
                    .map(|l| l.iter().copied().collect())
                    .unwrap_or_default();
                if action.checks_dependencies()
                    && let Some(e) = env
                {
                    risk.extend(side.risk.get(e).map(|l| l.to_vec()).unwrap_or_default());
                }
                risk.remove(&RiskLevel::Normal);
                out.push(AccessChange {
                    org: self.org.to_owned(),
                    user: u.to_owned(),
                    action,
                    resource: r.to_owned(),
                    environment: env.map(str::to_owned),
                    gained: after,
                    risk: risk.into_iter().collect(),
                    causes: causes(d, pair.get_or_insert_with(|| pair_causes(d, u, r)), u, env),
                });
            }
        }
    }
}

/// The causes that touch (`u`, `r`) whatever the environment: computed
/// once per pair, as references.
fn pair_causes<'a>(d: &'a Dirty<'_>, u: &str, r: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    if let Some(all) = &d.all {
        out.push(all);
    }
    out.extend(d.users.get(u).into_iter().flatten().map(String::as_str));
    out.extend(d.resources.get(r).into_iter().flatten().map(String::as_str));
    out.extend(
        d.dependents
            .get(r)
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    for &i in d.grants_by_user.get(u).into_iter().flatten() {
        if let Some(g) = d.grants.get(i)
            && (g.resources.contains(r) || g.dependents.contains(r))
        {
            out.push(&g.cause);
        }
    }
    out
}

/// The causes of one change: the pair's, and the environment's when the
/// question has one; each once, at most [`MAX_CAUSES`] and a count.
fn causes(d: &Dirty<'_>, pair: &[&str], u: &str, env: Option<&str>) -> Vec<String> {
    let mut all: Vec<&str> = pair.to_vec();
    if let Some(e) = env {
        all.extend(
            d.environments
                .get(e)
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
        for (users, env, cause) in &d.grant_environments {
            if *env == e && users.contains(u) {
                all.push(cause);
            }
        }
    }
    let mut seen = HashSet::new();
    all.retain(|c| seen.insert(*c));
    let more = all.len().saturating_sub(MAX_CAUSES);
    let mut out: Vec<String> = all
        .into_iter()
        .take(MAX_CAUSES)
        .map(str::to_owned)
        .collect();
    if more > 0 {
        out.push(format!("and {more} more"));
    }
    out
}

/// Causes listed per change; the rest are counted.
const MAX_CAUSES: usize = 8;

/// The top-level fields of two JSON objects that differ.
fn changed_fields(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return vec!["everything".to_owned()];
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
