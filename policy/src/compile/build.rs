//! Building the snapshot's tables from a (validated) document.
//!
//! Never panics: anything that does not resolve (which validation should have
//! rejected) compiles to something that matches or covers nothing.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use smol_str::SmolStr;

use super::{
    Bucket, Counts, Entry, GrantData, GrantEnvs, GroupData, IdIndex, KeyKind, KeyTable, KindFlags,
    Member, MemberTable, OrgData, PrincipalKey, ResourceData, RoleSet, ServiceBucket, ServiceRows,
    Snapshot,
};
use crate::document::{self, Document, Principal, Scope, TeamMember};
use crate::model::ActionSet;

pub(super) fn build(document: &Document, revision: String) -> Snapshot {
    let mut user_index: FxHashMap<Box<str>, u32> = FxHashMap::default();
    for user in &document.users {
        let next = user_index.len() as u32;
        user_index.entry(user.id.as_str().into()).or_insert(next);
    }
    let mut org_index: FxHashMap<Box<str>, u32> = FxHashMap::default();
    for org in &document.orgs {
        let next = org_index.len() as u32;
        org_index.entry(org.id.as_str().into()).or_insert(next);
    }

    // Memberships: per org, (user index, user id, membership) in user order.
    type Memberships<'d> = Vec<(u32, &'d str, &'d document::Membership)>;
    let mut memberships: Vec<Memberships<'_>> = vec![Vec::new(); org_index.len()];
    // (user, org) pairs seen: the first membership of a user in an org wins
    // (a set: a scan of the org's list would be quadratic in members).
    let mut seen: rustc_hash::FxHashSet<(u32, u32)> = rustc_hash::FxHashSet::default();
    for user in &document.users {
        let Some(&u) = user_index.get(user.id.as_str()) else {
            continue;
        };
        for m in &user.memberships {
            if let Some(&o) = org_index.get(m.org.as_str())
                && let Some(list) = memberships.get_mut(o as usize)
                && seen.insert((u, o))
            {
                list.push((u, user.id.as_str(), m));
            }
        }
    }

    let mut orgs = Vec::with_capacity(org_index.len());
    let mut counts = Counts {
        orgs: org_index.len(),
        users: user_index.len(),
        ..Counts::default()
    };
    for org in &document.orgs {
        let Some(&o) = org_index.get(org.id.as_str()) else {
            continue;
        };
        if o as usize != orgs.len() {
            continue; // a duplicate org id: the first one wins
        }
        let list = memberships
            .get(o as usize)
            .map(Vec::as_slice)
            .unwrap_or_default();
        counts.groups += org.groups.len();
        counts.services += org.services.len();
        counts.resources += org.resources.len();
        counts.grants += org.grants.len();
        orgs.push(Arc::new(build_org(org, list, &user_index)));
    }
    Snapshot {
        revision,
        counts,
        org_ids: {
            let mut ids = vec![SmolStr::default(); org_index.len()];
            for (id, &i) in &org_index {
                if let Some(slot) = ids.get_mut(i as usize) {
                    *slot = SmolStr::new(&**id);
                }
            }
            ids
        },
        org_index: IdIndex::build(org_index.iter().map(|(k, v)| (&**k, *v))),
        orgs,
        weakened: vec![Arc::from(crate::defaults::Weakened::all(document))],
    }
}

/// First 16 hex digits of the SHA-256 of the document's JSON serialization.
pub(crate) fn revision(document: &Document) -> String {
    content_revision(&serde_json::to_vec(document).unwrap_or_default())
}

/// The revision of some bytes: the first 16 hex digits of their SHA-256.
///
/// A policy file is named by the revision of its bytes wherever the file is
/// read (the gateway's loader, `reqflo-gateway validate` and `decide`), so
/// the same file shows the same revision everywhere.
pub fn content_revision(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(digest.get(..8).unwrap_or_default())
}

/// One org's tables, step by step: members, then groups and seats expanded
/// onto them, resources and their dependency closures, grants by scope,
/// and the service rows that say which members a service's grants name.
fn build_org(
    org: &document::Org,
    members_in: &[(u32, &str, &document::Membership)],
    user_index: &FxHashMap<Box<str>, u32>,
) -> OrgData {
    let (slot_of, mut members) = members_of(members_in);
    let groups = expand_groups(org, user_index, &slot_of, &mut members);
    let (resource_index, raw) = index_resources(org);
    let resolve = Resolve {
        users: user_index,
        groups: &groups.index,
        resources: &resource_index,
        raw: &raw,
    };
    expand_seats(&resolve, &slot_of, &groups.members, &mut members);
    let mut kinds = Interner::default();
    let mut labels = Interner::default();
    let (mut resources, environments) = resource_data(&resolve, &mut kinds, &mut labels);
    dependency_closures(&resolve, &mut resources);
    let mut grants = index_grants(org, &resolve, &kinds, &labels, resources.len());
    grants.by_kind.resize_with(kinds.names.len(), Vec::new);
    grants.by_label.resize_with(labels.names.len(), Vec::new);
    merge_small_buckets(&mut resources, &mut grants);
    for (r, Bucket { entries, table }) in resources
        .iter_mut()
        .zip(buckets(std::mem::take(&mut grants.by_resource)))
    {
        r.grant_entries = entries;
        r.grant_table = table;
        r.set_lists();
    }
    let (members, role_via, service_rows) =
        service_rows(members, &slot_of, &groups.members, &grants.by_service);
    let users: Vec<&str> = members_in.iter().map(|(_, id, _)| *id).collect();
    let service_ids = raw
        .iter()
        .map_while(|r| match r {
            RawResource::Service(s) => Some(SmolStr::new(&s.id)),
            RawResource::Resource(_) => None,
        })
        .collect();
    OrgData {
        members: MemberTable::build(&users, members),
        role_via,
        groups: groups.data,
        service_ids,
        resource_index: IdIndex::build(resource_index.iter().map(|(k, v)| (&**k, *v))),
        resources,
        kinds: kinds.names,
        environments,
        grants: grants.records,
        long_envs: grants.long_envs,
        by_service: grants
            .by_service
            .into_iter()
            .map(ServiceBucket::new)
            .collect(),
        service_rows,
        by_kind: buckets(grants.by_kind),
        by_label: buckets(grants.by_label),
        no_table: KeyTable::default(),
    }
}

/// Each member's slot by user index, and the members, with their direct roles.
fn members_of(
    members_in: &[(u32, &str, &document::Membership)],
) -> (FxHashMap<u32, u32>, Vec<MemberBuild>) {
    let slot_of: FxHashMap<u32, u32> = members_in
        .iter()
        .enumerate()
        .map(|(slot, (u, _, _))| (*u, slot as u32))
        .collect();
    let members = members_in
        .iter()
        .map(|(u, _, m)| {
            let roles = m
                .roles
                .iter()
                .fold(RoleSet::default(), |set, r| set.with(*r));
            MemberBuild {
                user: *u,
                status: m.status,
                direct: roles,
                roles,
                via: [u32::MAX; 7],
                groups: Vec::new(),
                seats: Vec::new(),
            }
        })
        .collect();
    (slot_of, members)
}

/// The org's groups: their index, their records, and each group's members (slots).
struct Groups<'a> {
    index: FxHashMap<&'a str, u32>,
    data: Vec<GroupData>,
    members: Vec<Vec<u32>>,
}

/// Groups, expanded onto each member: its groups, and the org roles they
/// give (with the first group each role came through, for `allowed_by`).
fn expand_groups<'a>(
    org: &'a document::Org,
    user_index: &FxHashMap<Box<str>, u32>,
    slot_of: &FxHashMap<u32, u32>,
    members: &mut [MemberBuild],
) -> Groups<'a> {
    let mut group_index: FxHashMap<&str, u32> = FxHashMap::default();
    let mut groups = Vec::with_capacity(org.groups.len());
    let mut group_members: Vec<Vec<u32>> = Vec::with_capacity(org.groups.len());
    for group in &org.groups {
        if group_index.contains_key(group.id.as_str()) {
            continue;
        }
        let g = groups.len() as u32;
        group_index.insert(&group.id, g);
        let id = SmolStr::new(&group.id);
        let name = group
            .name
            .as_deref()
            .map_or_else(|| id.clone(), SmolStr::new);
        groups.push(GroupData { id, name });
        let mut slots: Vec<u32> = group
            .members
            .iter()
            .filter_map(|u| {
                user_index
                    .get(u.as_str())
                    .and_then(|u| slot_of.get(u))
                    .copied()
            })
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let roles = group
            .roles
            .iter()
            .fold(RoleSet::default(), |set, r| set.with(*r));
        for &slot in &slots {
            if let Some(m) = members.get_mut(slot as usize) {
                m.groups.push(g);
                for role in roles.iter() {
                    if !m.roles.contains(role) {
                        m.roles = m.roles.with(role);
                    }
                    if let Some(via) = m.via.get_mut(role.index() as usize)
                        && *via == u32::MAX
                    {
                        *via = g;
                    }
                }
            }
        }
        group_members.push(slots);
    }
    Groups {
        index: group_index,
        data: groups,
        members: group_members,
    }
}

/// Services first, then resources, each id once (the first wins).
fn index_resources(org: &document::Org) -> (FxHashMap<Box<str>, u32>, Vec<RawResource<'_>>) {
    let mut resource_index: FxHashMap<Box<str>, u32> = FxHashMap::default();
    let mut raw: Vec<RawResource<'_>> = Vec::new();
    for s in &org.services {
        if resource_index.contains_key(s.id.as_str()) {
            continue;
        }
        resource_index.insert(s.id.as_str().into(), raw.len() as u32);
        raw.push(RawResource::Service(s));
    }
    for r in &org.resources {
        if resource_index.contains_key(r.id.as_str()) {
            continue;
        }
        resource_index.insert(r.id.as_str().into(), raw.len() as u32);
        raw.push(RawResource::Resource(r));
    }
    (resource_index, raw)
}

/// Resolves one org's ids and principals to their dense indexes; what does
/// not resolve names nothing.
struct Resolve<'a> {
    users: &'a FxHashMap<Box<str>, u32>,
    groups: &'a FxHashMap<&'a str, u32>,
    resources: &'a FxHashMap<Box<str>, u32>,
    raw: &'a [RawResource<'a>],
}

impl Resolve<'_> {
    fn resource(&self, id: &str) -> Option<u32> {
        self.resources.get(id).copied()
    }

    fn principal(&self, p: &Principal) -> PrincipalKey {
        match p {
            Principal::User(u) => self
                .users
                .get(u.as_str())
                .map_or(PrincipalKey::NONE, |&u| PrincipalKey::user(u)),
            Principal::Group(g) => self
                .groups
                .get(g.as_str())
                .map_or(PrincipalKey::NONE, |&g| PrincipalKey::group(g)),
            Principal::Team(s) => match self.resource(s) {
                Some(s) if matches!(self.raw.get(s as usize), Some(RawResource::Service(_))) => {
                    PrincipalKey::team(s)
                }
                _ => PrincipalKey::NONE,
            },
            Principal::OrgRole(r) => PrincipalKey::role(*r),
        }
    }
}

/// Seats, expanded onto members (direct and through groups).
fn expand_seats(
    resolve: &Resolve<'_>,
    slot_of: &FxHashMap<u32, u32>,
    group_members: &[Vec<u32>],
    members: &mut [MemberBuild],
) {
    for (s, r) in resolve.raw.iter().enumerate() {
        let RawResource::Service(service) = r else {
            continue;
        };
        for seat in &service.team {
            let bit = 1u8 << seat.role.index();
            let slots: &[u32] = match &seat.member {
                TeamMember::User(u) => {
                    match resolve.users.get(u.as_str()).and_then(|u| slot_of.get(u)) {
                        Some(slot) => std::slice::from_ref(slot),
                        None => &[],
                    }
                }
                TeamMember::Group(g) => resolve
                    .groups
                    .get(g.as_str())
                    .and_then(|g| group_members.get(*g as usize))
                    .map_or(&[], Vec::as_slice),
            };
            for &slot in slots {
                if let Some(m) = members.get_mut(slot as usize) {
                    m.seats.push((s as u32, bit));
                }
            }
        }
    }
}

/// Every resource's record (services first), and the environments.
fn resource_data(
    resolve: &Resolve<'_>,
    kinds: &mut Interner,
    labels: &mut Interner,
) -> (Vec<ResourceData>, Vec<u32>) {
    let principal = |p: &Principal| resolve.principal(p);
    let lookup = |id: &str| resolve.resource(id);
    let mut resources = Vec::with_capacity(resolve.raw.len());
    let mut environments = Vec::new();
    for (i, r) in resolve.raw.iter().enumerate() {
        let data = match r {
            RawResource::Service(s) => {
                let id: Arc<str> = s.id.as_str().into();
                ResourceData {
                    name: s.name.as_deref().map_or_else(|| id.clone(), Arc::from),
                    id,
                    kind: kinds.intern("service"),
                    service: Some(i as u32),
                    is_environment: false,
                    visibility: s.visibility,
                    visible_to: s.visible_to.iter().map(principal).collect(),
                    access_mode: s.access_mode,
                    risk: s.risk.iter().fold(0, |b, l| b | 1 << l.index()),
                    secret_backed: false,
                    kind_flags: KindFlags::default(),
                    labels: s.labels.iter().map(|l| labels.intern(l)).collect(),
                    roles: Box::default(),
                    closure: Box::default(),
                    blockers: Box::default(),
                    kind_merged: false,
                    lists: 0,
                    grant_entries: Box::default(),
                    grant_table: KeyTable::default(),
                    team: s
                        .team
                        .iter()
                        .map(|seat| {
                            let p = match &seat.member {
                                TeamMember::User(u) => Principal::User(u.clone()),
                                TeamMember::Group(g) => Principal::Group(g.clone()),
                            };
                            (principal(&p), seat.role)
                        })
                        .collect(),
                }
            }
            RawResource::Resource(r) => {
                let id: Arc<str> = r.id.as_str().into();
                let is_environment = r.kind == "environment";
                if is_environment {
                    environments.push(i as u32);
                }
                ResourceData {
                    name: r.name.as_deref().map_or_else(|| id.clone(), Arc::from),
                    id,
                    kind: kinds.intern(&r.kind),
                    service: r.service.as_deref().and_then(lookup),
                    is_environment,
                    visibility: r.visibility,
                    visible_to: r.visible_to.iter().map(principal).collect(),
                    access_mode: r.effective_access_mode(),
                    risk: r.risk.iter().fold(0, |b, l| b | 1 << l.index()),
                    secret_backed: r.secret_backed || r.kind == "secret",
                    kind_flags: KindFlags {
                        auth_like: r.kind == "auth_config" || r.kind == "oauth_config",
                        billing_setting: r.kind == "billing_setting",
                        integration_connection: r.kind == "integration_connection",
                    },
                    labels: r.labels.iter().map(|l| labels.intern(l)).collect(),
                    roles: r
                        .roles
                        .iter()
                        .map(|a| (principal(&a.principal), a.role))
                        .collect(),
                    closure: Box::default(),
                    blockers: Box::default(),
                    kind_merged: false,
                    lists: 0,
                    grant_entries: Box::default(),
                    grant_table: KeyTable::default(),
                    team: Box::default(),
                }
            }
        };
        resources.push(data);
    }
    (resources, environments)
}

/// Each resource's dependency closure, and the part of it that is not
/// plain ([`crate::decide::eval::is_plain`]): what a member's walk reads.
fn dependency_closures(resolve: &Resolve<'_>, resources: &mut [ResourceData]) {
    let lookup = |id: &str| resolve.resource(id);
    let deps: Vec<Vec<u32>> = resolve
        .raw
        .iter()
        .map(|r| match r {
            RawResource::Service(_) => Vec::new(),
            RawResource::Resource(r) => r.depends_on.iter().filter_map(|d| lookup(d)).collect(),
        })
        .collect();
    let mut walk = ClosureWalk {
        stamp: vec![0; deps.len()],
        generation: 0,
        stack: Vec::new(),
    };
    for (i, r) in resources.iter_mut().enumerate() {
        r.closure = walk.closure(&deps, i as u32);
    }
    let plain: Vec<bool> = resources
        .iter()
        .map(crate::decide::eval::is_plain)
        .collect();
    for r in resources.iter_mut() {
        r.blockers = r
            .closure
            .iter()
            .copied()
            .filter(|d| !plain.get(*d as usize).copied().unwrap_or(false))
            .collect();
    }
}

/// The org's grant records, and their entries by scope value.
struct Grants {
    records: Vec<GrantData>,
    long_envs: Vec<Box<[u32]>>,
    by_resource: Vec<Vec<Entry>>,
    by_service: Vec<Vec<Entry>>,
    by_kind: Vec<Vec<Entry>>,
    by_label: Vec<Vec<Entry>>,
}

/// Grants, indexed by scope: one entry per grant in the bucket of its scope value.
fn index_grants(
    org: &document::Org,
    resolve: &Resolve<'_>,
    kinds: &Interner,
    labels: &Interner,
    resource_count: usize,
) -> Grants {
    let lookup = |id: &str| resolve.resource(id);
    let mut grants = Vec::with_capacity(org.grants.len());
    let mut long_envs = Vec::new();
    let mut by_resource: Vec<Vec<Entry>> = vec![Vec::new(); resource_count];
    let mut by_service: Vec<Vec<Entry>> = vec![Vec::new(); resource_count];
    let mut by_kind: Vec<Vec<Entry>> = Vec::new();
    let mut by_label: Vec<Vec<Entry>> = Vec::new();
    for grant in &org.grants {
        let g = grants.len() as u32;
        let p = resolve.principal(&grant.principal);
        let actions = ActionSet::of(&grant.actions).with_implied();
        let environments: Option<Box<[u32]>> = grant
            .environments
            .as_ref()
            .map(|envs| envs.iter().filter_map(|e| lookup(e)).collect());
        let entry = Entry {
            key: p,
            grant: g,
            actions: actions.0 as u16,
            privileges: grant.privileges.iter().fold(0, |b, p| b | 1 << p.index()),
            env_limited: environments.is_some(),
        };
        let bucket = match &grant.scope {
            Scope::Resource(id) => lookup(id).and_then(|r| by_resource.get_mut(r as usize)),
            Scope::Service(id) => lookup(id).and_then(|r| by_service.get_mut(r as usize)),
            Scope::Kind(k) => kinds.get(k).map(|k| grow(&mut by_kind, k)),
            Scope::Label(l) => labels.get(l).map(|l| grow(&mut by_label, l)),
        };
        if let Some(bucket) = bucket {
            bucket.push(entry);
        }
        grants.push(GrantData {
            id: SmolStr::new(&grant.id),
            envs: GrantEnvs::new(environments.as_deref().unwrap_or_default(), &mut long_envs),
        });
    }
    // Only services have service buckets, and services come first: a
    // resource's lookup then misses without reading memory.
    while by_service.last().is_some_and(Vec::is_empty) {
        by_service.pop();
    }
    Grants {
        records: grants,
        long_envs,
        by_resource,
        by_service,
        by_kind,
        by_label,
    }
}

/// Small kind and label buckets are copied into each covered resource's
/// own bucket, so a decision reads neither them nor the resource's label
/// list: only labels with large buckets stay in `labels`.
fn merge_small_buckets(resources: &mut [ResourceData], grants: &mut Grants) {
    let (by_kind, by_label) = (&grants.by_kind, &grants.by_label);
    for (r, own) in resources.iter_mut().zip(grants.by_resource.iter_mut()) {
        if let Some(kind) = by_kind.get(r.kind as usize)
            && kind.len() <= MERGE_AT_MOST
        {
            own.extend_from_slice(kind);
            r.kind_merged = true;
        }
        let mut labels = r.labels.to_vec();
        labels.sort_unstable();
        labels.dedup();
        labels.retain(|l| match by_label.get(*l as usize) {
            Some(bucket) if bucket.len() <= MERGE_AT_MOST => {
                own.extend_from_slice(bucket);
                false
            }
            Some(_) => true,
            None => false,
        });
        r.labels = labels.into_boxed_slice();
    }
}

/// The members' final form, which group gave each role, and the service
/// rows: per member and service, which of the member's keys the service's
/// grants name.
fn service_rows(
    members: Vec<MemberBuild>,
    slot_of: &FxHashMap<u32, u32>,
    group_members: &[Vec<u32>],
    by_service: &[Vec<Entry>],
) -> (Vec<Member>, Vec<[u32; 7]>, ServiceRows) {
    let mut team_members: Vec<Vec<u32>> = vec![Vec::new(); by_service.len()];
    for (slot, m) in members.iter().enumerate() {
        for &(s, _) in &m.seats {
            if let Some(list) = team_members.get_mut(s as usize) {
                list.push(slot as u32);
            }
        }
    }
    let bucket_keys: Vec<Vec<PrincipalKey>> = by_service
        .iter()
        .map(|b| {
            let mut keys: Vec<PrincipalKey> = b.iter().map(|e| e.key).collect();
            keys.sort_unstable();
            keys
        })
        .collect();
    let (members, role_via): (Vec<Member>, Vec<[u32; 7]>) =
        members.into_iter().map(MemberBuild::finish).unzip();
    let service_rows = ServiceRows::build(
        members.len(),
        bucket_keys.iter().map(Vec::as_slice),
        |k, f| {
            let index = k.index();
            let slots: &[u32] = match k.kind() {
                Some(KeyKind::User) => match slot_of.get(&index) {
                    Some(slot) => std::slice::from_ref(slot),
                    None => &[],
                },
                Some(KeyKind::Group) => {
                    group_members.get(index as usize).map_or(&[], Vec::as_slice)
                }
                Some(KeyKind::Team) => team_members.get(index as usize).map_or(&[], Vec::as_slice),
                Some(KeyKind::Role) | None => &[],
            };
            for &slot in slots {
                let member = members.get(slot as usize);
                if let Some(position) = member.and_then(|m| m.key_position(k)) {
                    f(slot, position);
                }
            }
        },
    );
    (members, role_via, service_rows)
}

/// Kind and label buckets of at most this many grants are copied into the
/// buckets of the resources they cover.
const MERGE_AT_MOST: usize = 4;

fn grow(list: &mut Vec<Vec<Entry>>, at: u32) -> &mut Vec<Entry> {
    let at = at as usize;
    if list.len() <= at {
        list.resize_with(at + 1, Vec::new);
    }
    &mut list[at]
}

fn buckets(lists: Vec<Vec<Entry>>) -> Vec<Bucket> {
    lists.into_iter().map(Bucket::new).collect()
}

enum RawResource<'a> {
    Service(&'a document::Service),
    Resource(&'a document::Resource),
}

#[derive(Default)]
struct Interner {
    index: FxHashMap<Box<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.into(), i);
        self.names.push(name.into());
        i
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }
}

struct MemberBuild {
    user: u32,
    status: crate::model::MembershipStatus,
    direct: RoleSet,
    roles: RoleSet,
    via: [u32; 7],
    groups: Vec<u32>,
    seats: Vec<(u32, u8)>,
}

impl MemberBuild {
    fn finish(mut self) -> (Member, [u32; 7]) {
        self.seats.sort_unstable_by_key(|s| s.0);
        let mut seats: Vec<(u32, u8)> = Vec::with_capacity(self.seats.len());
        for (s, bits) in self.seats {
            match seats.last_mut() {
                Some(last) if last.0 == s => last.1 |= bits,
                _ => seats.push((s, bits)),
            }
        }
        let mut keys: Vec<PrincipalKey> =
            Vec::with_capacity(1 + self.groups.len() + seats.len() + 7);
        keys.push(PrincipalKey::user(self.user));
        keys.extend(self.groups.iter().map(|g| PrincipalKey::group(*g)));
        keys.extend(seats.iter().map(|s| PrincipalKey::team(s.0)));
        keys.extend(self.roles.iter().map(PrincipalKey::role));
        keys.sort_unstable();
        keys.dedup();
        let member = Member::new(self.status, self.direct, self.roles, &seats, keys);
        (member, self.via)
    }
}

/// Depth-first pre-order closures, each resource once, the start excluded.
struct ClosureWalk {
    stamp: Vec<u32>,
    generation: u32,
    stack: Vec<u32>,
}

impl ClosureWalk {
    fn closure(&mut self, deps: &[Vec<u32>], start: u32) -> Box<[u32]> {
        self.generation += 1;
        let generation = self.generation;
        if let Some(s) = self.stamp.get_mut(start as usize) {
            *s = generation;
        }
        let mut out = Vec::new();
        self.stack.clear();
        push_reversed(&mut self.stack, deps, start);
        while let Some(d) = self.stack.pop() {
            let Some(s) = self.stamp.get_mut(d as usize) else {
                continue;
            };
            if *s == generation {
                continue;
            }
            *s = generation;
            out.push(d);
            push_reversed(&mut self.stack, deps, d);
        }
        out.into_boxed_slice()
    }
}

fn push_reversed(stack: &mut Vec<u32>, deps: &[Vec<u32>], of: u32) {
    if let Some(list) = deps.get(of as usize) {
        stack.extend(list.iter().rev());
    }
}
