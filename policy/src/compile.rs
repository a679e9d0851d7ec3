//! Compiling a valid document into the immutable, fast-to-query snapshot.
//!
//! # Layout, and why `decide` does not grow with the policy
//!
//! Every id is interned once: orgs and users globally, groups, resources
//! (services first, then resources), kinds and labels per org; after that the
//! engine works on `u32` indices only. The ids a request names are looked up
//! in [`IdIndex`] tables that keep short keys inside the slot, so a lookup
//! reads one slot rather than a hash map's control bytes, slot and key.
//!
//! - A user's membership in an org is a [`Member`] (one cache line), found
//!   by user id in the org's [`MemberTable`], whose slots are the members
//!   themselves: status, org roles (direct and through groups), and the
//!   sorted **principal keys** that match the user (the user, each group,
//!   each team seated on, each org role), kept inline when they fit; its
//!   service-team seats (direct and through groups) beside it.
//! - Grants are stored once ([`GrantData`]) and indexed by scope: per
//!   resource, per service, per kind and per label, each bucket sorted by
//!   principal key, each entry carrying the grant's actions and privileges.
//!   Small kind and label buckets are copied into the resource's own bucket.
//!   Large buckets have a key table (one probe per principal key of the
//!   user); a service's bucket keeps its org roles' runs in its own cache
//!   line, and [`ServiceRows`] say per (member, service) which of the
//!   member's other keys have grants there, so only those are probed.
//! - Each resource carries its dependency closure in depth-first pre-order,
//!   and the part of it that is not plain (what can block a member's `use`).
//!
//! So the cost of a decision depends on: the user's principal keys (one
//! lookup each in a large bucket covering the resource, or a scan of a small
//! one), the resource's role assignments, and for `use`/`run` the non-plain
//! part of the dependency closure (plus the target environment's). It does
//! not depend on the number of users, groups, resources or grants in the
//! policy beyond hash lookups of the ids.
//!
//! A streamed decision at L is bound by memory latency, not instructions, so
//! the layout counts cache lines: one for the member (its user id is in
//! the same line), one for each other id looked up, one for the resource (what is below its first line is read only
//! when a flag says it is needed), one for its own grants, and for a
//! service-owned resource the service's bucket line, the member's row byte,
//! the key-table slot of each key the row names, and the matched entries.
//! Naming an allowing grant reads its 32-byte record, which holds the id
//! inline when it is short (no reference count is touched).

mod bucket;
mod build;
mod key;
mod member;
mod org;
mod probe;
mod rows;

pub use build::content_revision;
pub use org::OrgPolicy;
mod ids;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use smol_str::SmolStr;

pub(crate) use bucket::{Bucket, Entry, KeyTable, ServiceBucket, others_carry};
pub(crate) use ids::IdIndex;
pub(crate) use key::{KeyKind, NO_KEY, PrincipalKey};
pub(crate) use member::{Member, MemberTable};
pub(crate) use rows::ServiceRows;

use crate::document::Document;
use crate::model::{AccessMode, OrgRole, Visibility};
use crate::validate::{ValidationErrors, validate};

/// How many of each object a snapshot holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub orgs: usize,
    pub users: usize,
    pub groups: usize,
    pub services: usize,
    /// Resources of the documents' `resources` lists (services not included).
    pub resources: usize,
    pub grants: usize,
}

/// A compiled policy: immutable, `Send + Sync`, with a content-hash revision.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) revision: String,
    pub(crate) counts: Counts,
    pub(crate) org_index: IdIndex,
    /// The orgs' ids, by index (as `org_index` gives them).
    pub(crate) org_ids: Vec<SmolStr>,
    /// Each org's tables, shared with every snapshot assembled from the
    /// same compiled org ([`Snapshot::from_orgs`]).
    pub(crate) orgs: Vec<Arc<OrgData>>,
    /// Acknowledged access modes weaker than the seeds' defaults: one list
    /// per compiled document (per org for an assembled snapshot, shared).
    pub(crate) weakened: Vec<Arc<[crate::defaults::Weakened]>>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Snapshot>();
};

/// A set of org roles, by [`OrgRole::index`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RoleSet(pub u8);

impl RoleSet {
    pub const fn contains(self, role: OrgRole) -> bool {
        self.0 & (1 << role.index()) != 0
    }
    pub const fn with(self, role: OrgRole) -> RoleSet {
        RoleSet(self.0 | 1 << role.index())
    }
    pub fn iter(self) -> impl Iterator<Item = OrgRole> {
        OrgRole::ALL
            .iter()
            .copied()
            .filter(move |r| self.contains(*r))
    }
}

/// Risk levels as bits: see [`crate::RiskLevel::index`].
pub(crate) type RiskBits = u8;

/// A set of risk levels ([`Snapshot::request_risk`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskSet(RiskBits);

impl RiskSet {
    pub fn contains(self, level: crate::RiskLevel) -> bool {
        self.0 & (1 << level.index()) != 0
    }

    /// Whether any of `levels` is in the set.
    pub fn any_of(self, levels: &[crate::RiskLevel]) -> bool {
        levels.iter().any(|l| self.contains(*l))
    }

    /// The levels in the set, in [`crate::RiskLevel`] order.
    pub fn levels(self) -> impl Iterator<Item = crate::RiskLevel> {
        crate::RiskLevel::ALL
            .iter()
            .copied()
            .filter(move |l| self.contains(*l))
    }
}
/// Privileges as bits: see [`crate::Privilege::index`].
pub(crate) type PrivilegeBits = u8;
/// Service roles as bits: see [`crate::ServiceRole::index`].
pub(crate) type ServiceRoleBits = u8;

#[derive(Debug)]
pub(crate) struct OrgData {
    /// The members by user id (each member's `slot` indexes `role_via` and
    /// `service_rows`).
    pub members: MemberTable,
    /// Per member slot, per role (by index): the first group (document
    /// order) that carries the role, or `u32::MAX`. Only `allowed_by` reads
    /// it, so it is kept out of the members' cache lines.
    pub role_via: Vec<[u32; 7]>,
    pub groups: Vec<GroupData>,
    /// The services' ids (services are the first resources), as
    /// `allowed_by` names them.
    pub service_ids: Vec<SmolStr>,
    pub resource_index: IdIndex,
    /// Services first (document order), then resources (document order).
    pub resources: Vec<ResourceData>,
    pub kinds: Vec<Arc<str>>,
    /// Resources of kind `environment`, in document order.
    pub environments: Vec<u32>,
    pub grants: Vec<GrantData>,
    /// Environment lists of more than two environments ([`GrantEnvs`]).
    pub long_envs: Vec<Box<[u32]>>,
    /// Grants by scope; each bucket sorted by (principal key, grant index).
    /// Resource-scoped grants are in [`ResourceData::grants`]; `by_service`
    /// ends with the last service that has a service-scoped grant.
    pub by_service: Vec<ServiceBucket>,
    /// Per (member, service): which of the member's keys other than org
    /// roles have grants in the service's bucket, so only those are looked
    /// up there.
    pub service_rows: ServiceRows,
    pub by_kind: Vec<Bucket>,
    pub by_label: Vec<Bucket>,
    /// An empty key table, passed for a resource's own grants when they have
    /// none, so the resource's `grant_table` is not read.
    pub no_table: KeyTable,
}

#[derive(Debug)]
pub(crate) struct GroupData {
    pub id: SmolStr,
    /// The display name, or the id.
    pub name: SmolStr,
}

/// One resource. `repr(C, align(64))` keeps what every decision reads (the
/// scalars, the resource's own grant entries, the blockers of its closure)
/// in its first cache line; the rest is read only when needed (`lists` says
/// which lists are not empty; `visible_to` only for a restricted resource;
/// closure, id, name and team only for non-members and explanations).
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct ResourceData {
    pub kind: u32,
    /// The owning service: the service itself for a service, else `service`.
    pub service: Option<u32>,
    pub visibility: Visibility,
    pub access_mode: AccessMode,
    pub risk: RiskBits,
    pub secret_backed: bool,
    pub is_environment: bool,
    pub kind_flags: KindFlags,
    /// The kind's grants are copied into `grant_entries` (a small kind
    /// bucket): `by_kind` need not be read for this resource.
    pub kind_merged: bool,
    /// Which of the lists below the first cache line are not empty
    /// ([`HAS_TABLE`], [`HAS_ROLES`], [`HAS_LABELS`]): a decision reads
    /// that line only for a list it needs that is not empty.
    pub lists: u8,
    /// Grants scoped to this resource (the `by_resource` bucket, with the
    /// small kind and label buckets copied in), stored here so reading them
    /// does not first read a separate index.
    pub grant_entries: Box<[Entry]>,
    /// The members of `closure` that are not plain (`decide::eval::is_plain`),
    /// in the same order: the only ones that can block `use` for a user with
    /// member rights, so `use`/`run` walks these (usually none) and does not
    /// read the plain dependencies' records at all.
    pub blockers: Box<[u32]>,
    // The first cache line ends here (56 bytes).
    /// The key table of `grant_entries`, when large.
    pub grant_table: KeyTable,
    /// (principal, resource role) in document order.
    pub roles: Box<[(PrincipalKey, crate::model::ResourceRole)]>,
    /// Read only for a restricted resource.
    pub visible_to: Box<[PrincipalKey]>,
    /// Labels whose grants are not copied into `grant_entries` (large label
    /// buckets), deduplicated: usually empty.
    pub labels: Box<[u32]>,
    /// Dependencies, transitively, depth-first pre-order, each once, self excluded.
    pub closure: Box<[u32]>,
    pub id: Arc<str>,
    /// The display name, or the id.
    pub name: Arc<str>,
    /// For a service: its team seats (user or group key, role) in document
    /// order, for explanations only.
    pub team: Box<[(PrincipalKey, crate::model::ServiceRole)]>,
}

/// [`ResourceData::lists`]: `grant_table` is not empty.
pub(crate) const HAS_TABLE: u8 = 1;
/// [`ResourceData::lists`]: `roles` is not empty.
pub(crate) const HAS_ROLES: u8 = 2;
/// [`ResourceData::lists`]: `labels` is not empty.
pub(crate) const HAS_LABELS: u8 = 4;

const _: () = assert!(size_of::<ResourceData>() == 192);

impl ResourceData {
    /// Resource role assignments: (principal, role) in document order.
    #[inline]
    pub fn roles(&self) -> &[(PrincipalKey, crate::model::ResourceRole)] {
        if self.lists & HAS_ROLES == 0 {
            return &[];
        }
        &self.roles
    }

    /// Labels with grants not copied into `grant_entries`.
    #[inline]
    pub fn labels(&self) -> &[u32] {
        if self.lists & HAS_LABELS == 0 {
            return &[];
        }
        &self.labels
    }

    /// Sets `lists` from the lists.
    pub(crate) fn set_lists(&mut self) {
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        self.lists = flag(!self.grant_table.is_empty(), HAS_TABLE)
            | flag(!self.roles.is_empty(), HAS_ROLES)
            | flag(!self.labels.is_empty(), HAS_LABELS);
    }
}

/// Kinds the org roles treat specially.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KindFlags {
    pub auth_like: bool,
    pub billing_setting: bool,
    pub integration_connection: bool,
}

/// A grant as a decision reads it: its id, inline when it has at most 23
/// bytes, so `allowed_by` copies it from this one 32-byte record without
/// touching a reference count, and the environments it is limited to
/// ([`GrantEnvs`]), inline when they are at most two, so checking them reads
/// this same record. Its actions and privileges are in its bucket entries
/// ([`Entry`]), which also say whether environments limit it.
#[derive(Debug)]
#[repr(C, align(32))]
pub(crate) struct GrantData {
    pub id: SmolStr,
    pub envs: GrantEnvs,
}

/// The environments an environment-limited grant applies in: up to two
/// environment indices inline (`NONE` for an unused place), or, for longer
/// lists, `[NONE, i]` with the list at `OrgData::long_envs[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GrantEnvs([u32; 2]);

impl GrantEnvs {
    const NONE: u32 = u32::MAX;

    /// `long_envs`: where a list of more than two is stored.
    pub(crate) fn new(envs: &[u32], long_envs: &mut Vec<Box<[u32]>>) -> GrantEnvs {
        match envs {
            [] => GrantEnvs([Self::NONE; 2]),
            [a] => GrantEnvs([*a, Self::NONE]),
            [a, b] => GrantEnvs([*a, *b]),
            _ => {
                long_envs.push(envs.into());
                GrantEnvs([Self::NONE, long_envs.len() as u32 - 1])
            }
        }
    }

    /// Whether environment `env` is one of them.
    #[inline]
    pub(crate) fn contains(self, env: u32, long_envs: &[Box<[u32]>]) -> bool {
        match self.0 {
            [Self::NONE, Self::NONE] => false,
            [Self::NONE, i] => long_envs.get(i as usize).is_some_and(|l| l.contains(&env)),
            [a, b] => env != Self::NONE && (env == a || env == b),
        }
    }
}

const _: () = assert!(size_of::<GrantData>() == 32);

impl Snapshot {
    /// Validates, then compiles. A document with any fault never becomes a snapshot.
    pub fn compile(document: &Document) -> Result<Snapshot, ValidationErrors> {
        validate(document)?;
        let revision = build::revision(document);
        Ok(build::build(document, revision))
    }

    /// Like [`Snapshot::compile`] (validation included), but the revision is
    /// the caller's: for callers that already hashed the bytes they parsed
    /// the document from (a config loader hashing the policy file it read),
    /// so the document is not serialised again to hash it (~0.7 s at L).
    /// [`Snapshot::revision`] then returns `revision` as given: the caller's
    /// content hash, which differs between the YAML and JSON forms of one
    /// document and changes with formatting or comments.
    pub fn compile_with_revision(
        document: &Document,
        revision: String,
    ) -> Result<Snapshot, ValidationErrors> {
        validate(document)?;
        Ok(build::build(document, revision))
    }

    /// The content hash of the document this was compiled from: from
    /// [`Snapshot::compile`], the first 16 hex digits of the SHA-256 of its
    /// JSON serialization, so the YAML and JSON forms of one document have
    /// the same revision; from [`Snapshot::compile_with_revision`], the
    /// caller's revision.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Every resource whose document acknowledges an access mode weaker
    /// than the seeds' default (`weaker_access_reason`), in document order.
    pub fn weakened_defaults(&self) -> impl Iterator<Item = &crate::defaults::Weakened> {
        self.weakened.iter().flat_map(|w| w.iter())
    }

    /// Every org: its id and data, in document order.
    pub(crate) fn org_ids(&self) -> impl Iterator<Item = (&str, &OrgData)> {
        self.org_ids
            .iter()
            .map(|id| id.as_str())
            .zip(self.orgs.iter().map(|o| &**o))
    }

    /// Every resource kind any org uses (an org's kinds once each; the same
    /// kind may come from several orgs).
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.orgs.iter().flat_map(|o| o.kinds.iter().map(|k| &**k))
    }

    /// Whether the snapshot knows an org of this id.
    pub fn has_org(&self, org: &str) -> bool {
        self.org_index.contains_key(org)
    }

    /// The risk a request carries: its resource's risk levels, and for
    /// `use` and `run` its target environment's (as a decision counts them).
    /// Empty when the org, resource or environment is unknown.
    pub fn request_risk(
        &self,
        org: &str,
        action: crate::Action,
        resource: &str,
        environment: Option<&str>,
    ) -> RiskSet {
        let Some(data) = self
            .org_index
            .get(org)
            .and_then(|o| self.orgs.get(o as usize))
        else {
            return RiskSet(0);
        };
        let risk_of = |id: &str| {
            data.resource_index
                .get(id)
                .and_then(|i| data.resources.get(i as usize))
                .map_or(0, |r| r.risk)
        };
        let mut risk = risk_of(resource);
        if action.checks_dependencies()
            && let Some(env) = environment
        {
            risk |= risk_of(env);
        }
        RiskSet(risk)
    }

    /// The kind of a resource (or `service`), if the org has it.
    pub fn resource_kind(&self, org: &str, resource: &str) -> Option<&str> {
        let org = self.orgs.get(self.org_index.get(org)? as usize)?;
        let r = org
            .resources
            .get(org.resource_index.get(resource)? as usize)?;
        org.kinds.get(r.kind as usize).map(|k| &**k)
    }
}

impl OrgData {
    pub fn resource(&self, index: u32) -> Option<&ResourceData> {
        self.resources.get(index as usize)
    }

    /// Calls `f` with every bucket whose grants' scope covers R (at
    /// `index`): R's own (with small kind and label buckets copied in), its
    /// service's (or its own, for a service), its kind's and its labels'
    /// when those were too large to copy. Each grant is in one of them once.
    /// The second argument is the service and its bucket, for a service's.
    #[inline]
    pub fn covering_buckets(
        &self,
        index: u32,
        r: &ResourceData,
        mut f: impl FnMut(&[Entry], &KeyTable, Option<(u32, &ServiceBucket)>),
    ) {
        let own = if r.lists & HAS_TABLE != 0 {
            &r.grant_table
        } else {
            &self.no_table
        };
        f(&r.grant_entries, own, None);
        if let Some(b) = self.by_service.get(index as usize) {
            f(&b.bucket.entries, &b.bucket.table, Some((index, b)));
        }
        if let Some(s) = r.service
            && s != index
            && let Some(b) = self.by_service.get(s as usize)
        {
            f(&b.bucket.entries, &b.bucket.table, Some((s, b)));
        }
        if !r.kind_merged
            && let Some(b) = self.by_kind.get(r.kind as usize)
        {
            f(&b.entries, &b.table, None);
        }
        for &l in r.labels() {
            if let Some(b) = self.by_label.get(l as usize) {
                f(&b.entries, &b.table, None);
            }
        }
    }

    pub fn kind_name(&self, r: &ResourceData) -> &str {
        self.kinds.get(r.kind as usize).map_or("resource", |k| k)
    }
}
