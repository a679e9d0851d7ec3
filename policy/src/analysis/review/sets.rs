//! The review's answer for one target as sets of members: the decision of
//! `crate::decide` for every member of the org at once. A member is a
//! position in the org's members sorted by user id, so a set read in
//! order lists user ids sorted.
//!
//! A decision depends on a member through its status, its org roles (its
//! class), its seats and the principal keys it matches; everything else is
//! the target's. Each step of `decide::eval` is an "or" over the member's
//! keys of what each key brings (a grant's actions and privileges, a
//! resource role, a `visible_to` entry) and what the roles bring, so each
//! step is computed here for all members together as a union of the
//! members of every key that brings it: one bitset operation per key read,
//! not one decision per member. `allowed_by` is its documented order of
//! sources, each taking the members still unassigned.
//!
//! This is a second reading of the decision rules (`decide::eval` and
//! `decide::allowed_by` are the first), kept exact by the review's tests,
//! which ask `decide` itself for every member on every target.

use std::collections::HashMap;

use crate::compile::{Member, OrgData, PrincipalKey, ResourceData, RoleSet};
use crate::decide::eval::{
    has_member_rights, is_plain, org_role_actions, privilege_bit, resource_role_actions, risk_bit,
    service_role_actions, service_roles,
};
use crate::decision::AllowedBy;
use crate::model::{
    AccessMode, Action, MembershipStatus, OrgRole, Privilege, RiskLevel, Visibility,
};

use super::super::Through;

/// A set of member positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Bits(Box<[u64]>);

impl Bits {
    pub fn none(words: usize) -> Bits {
        Bits(vec![0; words].into_boxed_slice())
    }

    pub fn set(&mut self, slot: u32) {
        if let Some(w) = self.0.get_mut(slot as usize / 64) {
            *w |= 1 << (slot % 64);
        }
    }

    pub fn contains(&self, slot: u32) -> bool {
        self.0
            .get(slot as usize / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    pub fn or(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    pub fn and(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a &= b;
        }
    }

    pub fn and_not(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a &= !b;
        }
    }

    /// `self ∧ other`, as a new set.
    pub fn with(&self, other: &Bits) -> Bits {
        let mut out = self.clone();
        out.and(other);
        out
    }

    /// `self ∧ ¬other`, as a new set.
    pub fn without(&self, other: &Bits) -> Bits {
        let mut out = self.clone();
        out.and_not(other);
        out
    }

    /// Whether `self ∧ other` holds anyone.
    pub fn intersects(&self, other: &Bits) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    /// `|self ∧ ¬other|`.
    pub fn count_without(&self, other: &Bits) -> usize {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a & !b).count_ones() as usize)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The slots, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + bit)
            })
        })
    }
}

/// Keys matching more members than this are held as bitsets, the others
/// as slot lists.
const DENSE_FROM: usize = 512;

/// The members each principal key matches (org roles and teams included:
/// exactly `Member::matches`).
enum Matched {
    List(Vec<u32>),
    Dense(Bits),
}

/// What the set reading needs of an org's members.
pub(super) struct Members<'a> {
    pub data: &'a OrgData,
    words: usize,
    /// Every position holding a member.
    pub all: Bits,
    pub active: Bits,
    /// Members with member rights (`has_member_rights`).
    member_rights: Bits,
    owners: Bits,
    /// By class: its (roles, members).
    classes: Vec<(RoleSet, Bits)>,
    keys: HashMap<PrincipalKey, Matched>,
    /// By service: every seated member's service roles there.
    seats: HashMap<u32, Vec<(u32, u8)>>,
    /// By position: the member.
    members: Vec<Option<&'a Member>>,
}

/// Who a path of `allowed_by` goes through, as its key says.
fn through_key(data: &OrgData, key: PrincipalKey) -> Option<Through> {
    use crate::compile::KeyKind;
    match key.kind()? {
        KeyKind::User => Some(Through::User),
        KeyKind::Group => data
            .groups
            .get(key.index() as usize)
            .map(|g| Through::Group {
                group: g.id.clone(),
            }),
        KeyKind::Team => data
            .service_ids
            .get(key.index() as usize)
            .map(|s| Through::Team { service: s.clone() }),
        KeyKind::Role => OrgRole::ALL
            .get(key.index() as usize)
            .map(|role| Through::OrgRole { role: *role }),
    }
}

/// The facts of `decide::eval::Ctx::facts` for one action on one
/// resource, per member.
struct Facts {
    visible: Bits,
    explicit: Bits,
    effective: Bits,
    production: Bits,
    destructive: Bits,
    /// The request's effective risk.
    risk: u8,
}

/// What a dependency (or the target environment) does to `use`/`run`:
/// who sees it, and who it blocks (`Ctx::first_blocking`'s `blocks`).
pub(super) struct Dependency {
    visible: Bits,
    blocks: Bits,
}

/// What the grants covering one resource give (`Members::grants`).
struct Grants {
    /// Members some applying grant gives any action.
    any: Bits,
    /// By action asked for: the members some applying grant gives it.
    actions: Vec<(Action, Bits)>,
    production: Bits,
    destructive: Bits,
}

/// What one thread has read already: dependencies by (resource,
/// environment), emptied when past a bound, and the grants of the resource
/// being reviewed, by environment.
#[derive(Default)]
pub(super) struct Cache {
    dependencies: HashMap<(u32, Option<u32>), std::rc::Rc<Dependency>>,
    resource: Option<u32>,
    grants: HashMap<Option<u32>, std::rc::Rc<Grants>>,
}
const CACHE_BOUND: usize = 2048;

/// One path of `allowed_by` and the members it allows.
pub(super) struct Path {
    pub allowed_by: AllowedBy,
    pub through: Option<Through>,
    /// The principal `through` names, when it names one.
    pub key: Option<PrincipalKey>,
    /// The one class all of `members` are in, when the path is a class's
    /// own (an org role, the member default).
    pub class: Option<usize>,
    pub members: Bits,
}

impl<'a> Members<'a> {
    /// `position`: by member slot, its position; `classes`: (status,
    /// roles, positions) of each class.
    pub fn new(
        data: &'a OrgData,
        position: &[u32],
        classes: &[(MembershipStatus, RoleSet, Vec<u32>)],
    ) -> Members<'a> {
        let slots = position.len();
        let words = slots.div_ceil(64);
        let pos = |slot: u32| position.get(slot as usize).copied().unwrap_or(u32::MAX);
        let mut all = Bits::none(words);
        let mut active = Bits::none(words);
        let mut member_rights = Bits::none(words);
        let mut owners = Bits::none(words);
        let mut lists: HashMap<PrincipalKey, Vec<u32>> = HashMap::new();
        let mut members = vec![None; slots];
        for m in data.members.iter() {
            let at = pos(m.slot);
            all.set(at);
            if m.status == MembershipStatus::Active {
                active.set(at);
            }
            if has_member_rights(m.roles) {
                member_rights.set(at);
            }
            if m.roles.contains(OrgRole::OrgOwner) {
                owners.set(at);
            }
            m.each_key(|k| lists.entry(k).or_default().push(at));
            if let Some(slot) = members.get_mut(at as usize) {
                *slot = Some(m);
            }
        }
        let mut seats: HashMap<u32, Vec<(u32, u8)>> = HashMap::new();
        let keys = lists
            .into_iter()
            .map(|(k, mut slots)| {
                slots.sort_unstable();
                if k.kind() == Some(crate::compile::KeyKind::Team) {
                    let service = k.index();
                    let seated = slots
                        .iter()
                        .filter_map(|&s| {
                            let m = members.get(s as usize).copied().flatten()?;
                            let roles = m.seat_roles(service);
                            (roles != 0).then_some((s, roles))
                        })
                        .collect();
                    seats.insert(service, seated);
                }
                let matched = if slots.len() >= DENSE_FROM {
                    let mut b = Bits::none(words);
                    slots.iter().for_each(|s| b.set(*s));
                    Matched::Dense(b)
                } else {
                    Matched::List(slots)
                };
                (k, matched)
            })
            .collect();
        let classes = classes
            .iter()
            .map(|(_, roles, slots)| {
                let mut b = Bits::none(words);
                slots.iter().for_each(|s| b.set(*s));
                (*roles, b)
            })
            .collect();
        Members {
            data,
            words,
            all,
            active,
            member_rights,
            owners,
            classes,
            keys,
            seats,
            members,
        }
    }

    pub fn none(&self) -> Bits {
        Bits::none(self.words)
    }

    /// The members of class `class`.
    pub fn class(&self, class: usize) -> Option<&Bits> {
        self.classes.get(class).map(|(_, b)| b)
    }

    /// Every member `key` matches (none for `None`).
    pub fn principal(&self, key: Option<PrincipalKey>) -> Bits {
        match key {
            Some(k) => self.with_key(&self.all, k).unwrap_or_else(|| self.none()),
            None => self.none(),
        }
    }

    /// `out |= members(key)`.
    fn or_key(&self, key: PrincipalKey, out: &mut Bits) {
        match self.keys.get(&key) {
            Some(Matched::List(slots)) => slots.iter().for_each(|s| out.set(*s)),
            Some(Matched::Dense(b)) => out.or(b),
            None => {}
        }
    }

    /// `from ∧ members(key)`, `None` when empty (nothing allocated).
    fn with_key(&self, from: &Bits, key: PrincipalKey) -> Option<Bits> {
        match self.keys.get(&key)? {
            Matched::List(slots) => {
                let mut found = slots.iter().filter(|s| from.contains(**s)).peekable();
                found.peek()?;
                let mut out = self.none();
                found.for_each(|s| out.set(*s));
                Some(out)
            }
            Matched::Dense(b) => from.intersects(b).then(|| from.with(b)),
        }
    }

    /// The members of the classes whose roles satisfy `f`.
    fn classes_where(&self, f: impl Fn(RoleSet) -> bool) -> Bits {
        let mut out = self.none();
        for (roles, members) in &self.classes {
            if f(*roles) {
                out.or(members);
            }
        }
        out
    }

    /// Members seated on `service` whose seat roles satisfy `f`.
    fn seated_where(&self, service: Option<u32>, f: impl Fn(u8) -> bool) -> Bits {
        let mut out = self.none();
        if let Some(seated) = service.and_then(|s| self.seats.get(&s)) {
            for &(slot, roles) in seated {
                if f(roles) {
                    out.set(slot);
                }
            }
        }
        out
    }

    /// Whether grant entry `e` applies in `env` (`Ctx::env_ok`).
    fn env_ok(&self, e: &crate::compile::Entry, env: Option<u32>) -> bool {
        if !e.env_limited {
            return true;
        }
        match (self.data.grants.get(e.grant as usize), env) {
            (Some(g), Some(env)) => g.envs.contains(env, &self.data.long_envs),
            _ => false,
        }
    }

    /// What the grants covering resource `index` and applying in `env`
    /// give, for each of `actions`: one pass over their entries.
    fn grants(&self, index: u32, r: &ResourceData, env: Option<u32>, actions: &[Action]) -> Grants {
        let mut g = Grants {
            any: self.none(),
            actions: actions.iter().map(|a| (*a, self.none())).collect(),
            production: self.none(),
            destructive: self.none(),
        };
        self.data.covering_buckets(index, r, |entries, _, _| {
            for e in entries {
                if !self.env_ok(e, env) {
                    continue;
                }
                let carried = crate::model::ActionSet(u32::from(e.actions));
                if !carried.is_empty() {
                    self.or_key(e.key, &mut g.any);
                }
                for (a, members) in &mut g.actions {
                    if carried.contains(*a) {
                        self.or_key(e.key, members);
                    }
                }
                if e.privileges & privilege_bit(Privilege::Production) != 0 {
                    self.or_key(e.key, &mut g.production);
                }
                if e.privileges & privilege_bit(Privilege::Destructive) != 0 {
                    self.or_key(e.key, &mut g.destructive);
                }
            }
        });
        g
    }

    /// `Ctx::facts` for every member: `action` on resource `r`, from what
    /// its grants give (`grants`, read for `action`); `env_risk`: the
    /// environment's risk adds to R's.
    fn facts(
        &self,
        r: &ResourceData,
        action: Action,
        env: Option<u32>,
        env_risk: bool,
        grants: &Grants,
    ) -> Facts {
        let mut risk = r.risk;
        if env_risk
            && action.checks_dependencies()
            && let Some(e) = env.and_then(|e| self.data.resource(e))
        {
            risk |= e.risk;
        }
        let role_carries = |roles: RoleSet, f: &dyn Fn(crate::model::ActionSet) -> bool| {
            roles
                .iter()
                .any(|role| f(org_role_actions(role, r).with_implied()))
        };
        let seat_carries = |bits: u8, f: &dyn Fn(crate::model::ActionSet) -> bool| {
            service_roles(bits).any(|role| f(service_role_actions(role, r).with_implied()))
        };
        // `seen`: org-visible, `visible_to`, or anything from roles, seats
        // or resource roles (their actions are never empty), or a seat;
        // then visible with any grant.
        let mut visible = if r.visibility == Visibility::Org {
            self.all.clone()
        } else {
            let mut seen = self.classes_where(|roles| role_carries(roles, &|a| !a.is_empty()));
            seen.or(&self.seated_where(r.service, |bits| bits != 0));
            for p in r.visible_to.iter() {
                self.or_key(*p, &mut seen);
            }
            for (p, _) in r.roles() {
                self.or_key(*p, &mut seen);
            }
            seen.or(&grants.any);
            seen
        };
        let mut explicit = self.classes_where(|roles| role_carries(roles, &|a| a.contains(action)));
        explicit.or(&self.seated_where(r.service, |bits| {
            seat_carries(bits, &|a| a.contains(action))
        }));
        for (p, role) in r.roles() {
            if resource_role_actions(*role).with_implied().contains(action) {
                self.or_key(*p, &mut explicit);
            }
        }
        if let Some((_, from_grants)) = grants.actions.iter().find(|(a, _)| *a == action) {
            explicit.or(from_grants);
        }
        let mut effective = explicit.clone();
        if action == Action::View {
            effective.or(&visible);
        } else if matches!(action, Action::Use | Action::Run)
            && r.access_mode == AccessMode::Open
            && risk & risk_bit(RiskLevel::Sensitive) == 0
        {
            effective.or(&visible.with(&self.member_rights));
        }
        let mut production = grants.production.clone();
        let mut destructive = grants.destructive.clone();
        // Org owners: everything.
        for set in [
            &mut visible,
            &mut explicit,
            &mut effective,
            &mut production,
            &mut destructive,
        ] {
            set.or(&self.owners);
        }
        Facts {
            visible,
            explicit,
            effective,
            production,
            destructive,
            risk,
        }
    }

    /// Who sees dependency `d` and whom it blocks for `use`
    /// (`Ctx::is_tighter` and `check(d, use)`), grants applying in `env`.
    fn dependency(
        &self,
        d: u32,
        env: Option<u32>,
        cache: &mut Cache,
    ) -> Option<std::rc::Rc<Dependency>> {
        if let Some(known) = cache.dependencies.get(&(d, env)) {
            return Some(known.clone());
        }
        let r = self.data.resource(d)?;
        let grants = self.grants(d, r, env, &[Action::Use]);
        let f = self.facts(r, Action::Use, env, false, &grants);
        let hidden = self.all.without(&f.visible);
        let normal =
            r.access_mode == AccessMode::Open && r.risk & !risk_bit(RiskLevel::Normal) == 0;
        let tight = if normal {
            hidden.clone()
        } else {
            self.all.clone()
        };
        let mut fails = hidden;
        fails.or(&self.all.without(&f.effective));
        if r.risk & risk_bit(RiskLevel::Production) != 0 {
            fails.or(&self.all.without(&f.production));
        }
        let found = std::rc::Rc::new(Dependency {
            visible: f.visible,
            blocks: tight.with(&fails),
        });
        if cache.dependencies.len() >= CACHE_BOUND {
            cache.dependencies.clear();
        }
        cache.dependencies.insert((d, env), found.clone());
        Some(found)
    }

    /// The members `Ctx::first_blocking` finds a blocking dependency for
    /// (owners never).
    fn blocked(&self, index: u32, r: &ResourceData, env: Option<u32>, cache: &mut Cache) -> Bits {
        let mut with_rights = self.none();
        let mut without = self.none();
        let add = |d: u32, into: &mut Bits, cache: &mut Cache| {
            if d != index
                && let Some(dep) = self.dependency(d, env, cache)
            {
                into.or(&dep.blocks);
            }
        };
        for &d in r.blockers.iter() {
            add(d, &mut with_rights, cache);
        }
        for &d in r.closure.iter() {
            add(d, &mut without, cache);
        }
        if let Some(e) = env
            && let Some(er) = self.data.resource(e)
        {
            if !is_plain(er) {
                add(e, &mut with_rights, cache);
            }
            add(e, &mut without, cache);
            for &d in er.blockers.iter() {
                add(d, &mut with_rights, cache);
            }
            for &d in er.closure.iter() {
                add(d, &mut without, cache);
            }
        }
        with_rights.and(&self.member_rights);
        without.and_not(&self.member_rights);
        with_rights.or(&without);
        with_rights.and_not(&self.owners);
        with_rights
    }

    /// Every member `decide` allows `action` on resource `index` (in
    /// `env`), partitioned by what allows it, in `allowed_by`'s order.
    pub fn paths(
        &self,
        index: u32,
        action: Action,
        env: Option<u32>,
        cache: &mut Cache,
    ) -> Vec<Path> {
        let Some(r) = self.data.resource(index) else {
            return Vec::new();
        };
        if cache.resource != Some(index) {
            cache.resource = Some(index);
            cache.grants.clear();
        }
        let grants = match cache.grants.get(&env) {
            Some(g) => g.clone(),
            None => {
                let g = std::rc::Rc::new(self.grants(index, r, env, &super::REVIEWED_ACTIONS));
                cache.grants.insert(env, g.clone());
                g
            }
        };
        let f = self.facts(r, action, env, true, &grants);
        let mut allowed = self.active.with(&f.visible);
        if let Some(e) = env {
            match self.dependency(e, env, cache) {
                Some(dep) => allowed.and(&dep.visible),
                None => return Vec::new(),
            }
        }
        if action.is_administrative() {
            allowed.and(&f.explicit);
        } else {
            allowed.and(&f.effective);
            if matches!(
                action,
                Action::Use | Action::Run | Action::Edit | Action::Attach
            ) && f.risk & risk_bit(RiskLevel::Production) != 0
            {
                allowed.and(&f.production);
            }
            if action == Action::Run && f.risk & risk_bit(RiskLevel::Destructive) != 0 {
                allowed.and(&f.destructive);
            }
            if action.checks_dependencies() {
                allowed.and_not(&self.blocked(index, r, env, cache));
            }
        }
        self.allowed_by(index, r, action, env, allowed)
    }

    /// `decide::allowed_by` for every member of `remaining`: org roles,
    /// seats, resource roles, the first grant, the member default, then
    /// visibility, each taking the members still left.
    fn allowed_by(
        &self,
        index: u32,
        r: &ResourceData,
        action: Action,
        env: Option<u32>,
        mut remaining: Bits,
    ) -> Vec<Path> {
        let mut paths = Vec::new();
        let mut take = |members: Bits,
                        allowed_by: AllowedBy,
                        key: Option<PrincipalKey>,
                        class: Option<usize>,
                        remaining: &mut Bits| {
            if !members.is_empty() {
                remaining.and_not(&members);
                paths.push(Path {
                    allowed_by,
                    through: key.and_then(|k| through_key(self.data, k)),
                    key,
                    class,
                    members,
                });
            }
        };
        // Org roles, by class; held directly or through a group.
        for (c, (roles, class)) in self.classes.iter().enumerate() {
            let Some(role) = roles
                .iter()
                .find(|role| org_role_actions(*role, r).with_implied().contains(action))
            else {
                continue;
            };
            let here = remaining.with(class);
            let mut by_via: Vec<(Option<u32>, Bits)> = Vec::new();
            for slot in here.iter() {
                let via = self
                    .members
                    .get(slot as usize)
                    .copied()
                    .flatten()
                    .filter(|m| !m.direct_roles.contains(role))
                    .and_then(|m| self.data.role_via.get(m.slot as usize))
                    .and_then(|v| v.get(role.index() as usize).copied())
                    .filter(|g| (*g as usize) < self.data.groups.len());
                match by_via.iter_mut().find(|(v, _)| *v == via) {
                    Some((_, b)) => b.set(slot),
                    None => {
                        let mut b = self.none();
                        b.set(slot);
                        by_via.push((via, b));
                    }
                }
            }
            for (via, members) in by_via {
                let group = via
                    .and_then(|g| self.data.groups.get(g as usize))
                    .map(|g| g.id.clone());
                take(
                    members,
                    AllowedBy::OrgRole {
                        role,
                        via_group: group,
                    },
                    via.map(PrincipalKey::group),
                    Some(c),
                    &mut remaining,
                );
            }
        }
        // Seats on the owning service's team, in document order.
        if let Some(s) = r.service
            && let Some(service) = self.data.resource(s)
        {
            let seated = self.seated_where(Some(s), |bits| bits != 0);
            for &(p, role) in service.team.iter() {
                if remaining.is_empty() {
                    break;
                }
                if !service_role_actions(role, r)
                    .with_implied()
                    .contains(action)
                {
                    continue;
                }
                let Some(members) = self.with_key(&remaining.with(&seated), p) else {
                    continue;
                };
                if let Some(id) = self.data.service_ids.get(s as usize) {
                    take(
                        members,
                        AllowedBy::ServiceRole {
                            service: id.clone(),
                            role,
                        },
                        Some(p),
                        None,
                        &mut remaining,
                    );
                }
            }
        }
        // Resource roles, in document order.
        for &(p, role) in r.roles() {
            if remaining.is_empty() {
                break;
            }
            if resource_role_actions(role).contains(action)
                && let Some(members) = self.with_key(&remaining, p)
            {
                take(
                    members,
                    AllowedBy::ResourceRole { role },
                    Some(p),
                    None,
                    &mut remaining,
                );
            }
        }
        // The first grant (document order) carrying the action.
        if !remaining.is_empty() {
            let mut carrying: Vec<crate::compile::Entry> = Vec::new();
            self.data.covering_buckets(index, r, |entries, _, _| {
                carrying.extend(entries.iter().copied().filter(|e| {
                    crate::model::ActionSet(u32::from(e.actions)).contains(action)
                        && self.env_ok(e, env)
                }));
            });
            carrying.sort_unstable_by_key(|e| e.grant);
            for e in carrying {
                if remaining.is_empty() {
                    break;
                }
                let Some(members) = self.with_key(&remaining, e.key) else {
                    continue;
                };
                if let Some(g) = self.data.grants.get(e.grant as usize) {
                    take(
                        members,
                        AllowedBy::Grant { id: g.id.clone() },
                        Some(e.key),
                        None,
                        &mut remaining,
                    );
                }
            }
        }
        // The member default, by the first role with member rights.
        if matches!(action, Action::Use | Action::Run) {
            for (c, (roles, class)) in self.classes.iter().enumerate() {
                if let Some(role) = crate::decide::eval::MEMBER_RIGHTS
                    .iter()
                    .copied()
                    .find(|role| roles.contains(*role))
                {
                    let members = remaining.with(class);
                    take(
                        members,
                        AllowedBy::Default { role },
                        None,
                        Some(c),
                        &mut remaining,
                    );
                }
            }
        }
        if !remaining.is_empty() {
            take(
                remaining.clone(),
                AllowedBy::Visibility,
                None,
                None,
                &mut remaining,
            );
        }
        paths
    }
}
