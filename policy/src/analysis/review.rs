//! The access review the seeds call for ("Review destructive and
//! production access regularly"): for every reviewed resource of an org,
//! who can `run`, `use`, `edit` and `administer` it, in which environments,
//! through which path, which paths are individual exceptions, and a
//! per-user summary of production and destructive access.
//!
//! Reviewed: every resource whose own risk is sensitive, production or
//! destructive (the production environments among them), every
//! secret-backed resource, and every credential and OAuth config.
//! `run` and `use` are reviewed once per environment of the org (the
//! environment's risk adds to the resource's); on an environment itself,
//! and in an org without environments, with no environment.
//!
//! # Exact, without asking every member
//!
//! A member's decision on a resource R in an environment E depends only on
//! the member's status, org roles and principal keys (the user, groups,
//! teams), and of the keys only on those that something read by the
//! decision names: a grant covering R, a dependency of R, E or a
//! dependency of E; a resource role or `visible_to` entry of one of them;
//! their services' teams. So the members that such a key matches, and the
//! holders of an org role that carries actions of its own (owners and the
//! admin roles), are the **candidates**, each asked with `decide`. Every
//! other member is decided alike with everyone of the same status and org
//! roles (a **class**): one of them is asked, and the answer stands for the
//! whole class, as a row "every member of the class but those listed and
//! the `except` list" with the count. The candidates come from an index
//! from principal key to members built once per org, so a resource costs
//! one decision per candidate and per class, not per member. The tests
//! compare every row, expanded to users, with `decide` for every member.

use std::collections::HashMap;

use serde::Serialize;

use super::{Paths, REVIEWED_ACTIONS, Through, Unknown, levels, org_data, risky_bits};
use crate::compile::{Member, OrgData, PrincipalKey, ResourceData, RoleSet, Snapshot};
use crate::decide::decide_unexplained;
use crate::decide::eval::{has_member_rights, is_plain, risk_bit};
use crate::decision::{AllowedBy, Request, RequestAction};
use crate::document::Document;
use crate::model::{Action, MembershipStatus, OrgRole, RiskLevel};

/// The review of one org or of every org of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Review {
    pub revision: String,
    pub orgs: Vec<OrgReview>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgReview {
    pub org: String,
    /// Members of the org, of any status.
    pub members: usize,
    /// The reviewed resources, in document order (services first).
    pub resources: Vec<ReviewedResource>,
    /// Members by status and org roles; a class row of a target names one.
    pub classes: Vec<MemberClass>,
    /// Every member whose production and destructive access differs from
    /// their class's `holds`, or who holds an individual exception; by
    /// user id.
    pub users: Vec<UserSummary>,
    /// Every access held through an individual exception (a grant, seat
    /// or resource role given to the user directly), by resource.
    pub individual_exceptions: Vec<Exception>,
}

/// Members of one status and set of org roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberClass {
    pub class: usize,
    pub status: MembershipStatus,
    pub roles: Vec<OrgRole>,
    pub members: usize,
    /// What a member of the class holds through the class rows alone.
    pub holds: Privileges,
    /// How many members of the class are not in `users`: each holds
    /// exactly `holds`.
    pub unlisted: usize,
}

/// Why a resource is reviewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewedFor {
    Sensitive,
    Production,
    Destructive,
    SecretBacked,
    Credential,
    OauthConfig,
}

impl ReviewedFor {
    pub const fn as_str(self) -> &'static str {
        match self {
            ReviewedFor::Sensitive => "sensitive",
            ReviewedFor::Production => "production",
            ReviewedFor::Destructive => "destructive",
            ReviewedFor::SecretBacked => "secret_backed",
            ReviewedFor::Credential => "credential",
            ReviewedFor::OauthConfig => "oauth_config",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewedResource {
    pub resource: String,
    pub kind: String,
    /// The resource's own risk, `normal` left out.
    pub risk: Vec<RiskLevel>,
    pub secret_backed: bool,
    pub reviewed_for: Vec<ReviewedFor>,
    /// Every target someone may act on, in [`REVIEWED_ACTIONS`] order, then
    /// by environment in document order.
    pub access: Vec<TargetAccess>,
}

/// Who may perform one action on the resource (in one environment).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetAccess {
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The request's effective risk, `normal` left out.
    pub risk: Vec<RiskLevel>,
    /// Allowed members listed one by one, by user id: those allowed
    /// through themselves (an individual exception), a role they hold, or
    /// what every member gets.
    pub users: Vec<ReviewHolder>,
    /// Allowed through a group or a service team: every member of it
    /// (`through`) but those in `except`.
    pub principals: Vec<PrincipalAccess>,
    /// Allowed classes: every member of the class not allowed by the rows
    /// above (`users`, `principals`) and not in `except`.
    pub classes: Vec<ClassAccess>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewHolder {
    pub user: String,
    pub allowed_by: AllowedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<Through>,
    pub individual: bool,
}

/// The members of a group or team allowed by one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrincipalAccess {
    pub allowed_by: AllowedBy,
    pub through: Through,
    /// How many members this row allows.
    pub members: usize,
    /// Members of the group or team not allowed by this path: denied, or
    /// allowed by another row (by user id).
    pub except: Vec<String>,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_unstable();
    v
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassAccess {
    pub class: usize,
    /// How many members this row allows.
    pub members: usize,
    /// Members of the class who are denied (by user id).
    pub except: Vec<String>,
    pub allowed_by: AllowedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<Through>,
}

/// One access held through an individual exception.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub user: String,
    pub resource: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub risk: Vec<RiskLevel>,
    pub allowed_by: AllowedBy,
}

/// One member's production and destructive access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    pub user: String,
    pub class: usize,
    #[serde(flatten)]
    pub privileges: Privileges,
}

/// Counts of reviewed targets by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActionCounts {
    pub run: u32,
    #[serde(rename = "use")]
    pub use_: u32,
    pub edit: u32,
    pub administer: u32,
}

impl ActionCounts {
    fn slot(&mut self, action: Action) -> Option<&mut u32> {
        match action {
            Action::Run => Some(&mut self.run),
            Action::Use => Some(&mut self.use_),
            Action::Edit => Some(&mut self.edit),
            Action::Administer => Some(&mut self.administer),
            _ => None,
        }
    }
}

/// Production and destructive access (targets whose effective risk holds
/// the level) by action, and how many reviewed targets are held through
/// an individual exception.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Privileges {
    pub production: ActionCounts,
    pub destructive: ActionCounts,
    pub individual: u32,
}

impl Privileges {
    /// Counts one allowed target.
    fn count(&mut self, action: Action, risk: u8, individual: bool) {
        let add = |n: &mut u32| *n = n.saturating_add(1);
        if risk & risk_bit(RiskLevel::Production) != 0
            && let Some(n) = self.production.slot(action)
        {
            add(n);
        }
        if risk & risk_bit(RiskLevel::Destructive) != 0
            && let Some(n) = self.destructive.slot(action)
        {
            add(n);
        }
        if individual {
            add(&mut self.individual);
        }
    }

    fn merge(&mut self, other: &Privileges, sign: i64) {
        let add = |a: &mut u32, b: u32| {
            *a = (i64::from(*a) + sign * i64::from(b)).clamp(0, i64::from(u32::MAX)) as u32;
        };
        for (a, b) in [
            (&mut self.production, &other.production),
            (&mut self.destructive, &other.destructive),
        ] {
            add(&mut a.run, b.run);
            add(&mut a.use_, b.use_);
            add(&mut a.edit, b.edit);
            add(&mut a.administer, b.administer);
        }
        add(&mut self.individual, other.individual);
    }
}

/// The review of `org`, or of every org.
pub fn review(
    snapshot: &Snapshot,
    document: &Document,
    org: Option<&str>,
) -> Result<Review, Unknown> {
    review_every(snapshot, document, org, 1)
}

/// The review of every `nth` reviewed resource only, in document order
/// (a sample, to test or time a large world; the per-user summary then
/// counts those only).
pub fn review_every(
    snapshot: &Snapshot,
    document: &Document,
    org: Option<&str>,
    nth: usize,
) -> Result<Review, Unknown> {
    let orgs: Vec<(&str, &OrgData)> = match org {
        Some(o) => vec![(o, org_data(snapshot, o)?)],
        None => snapshot.org_ids().collect(),
    };
    let paths = Paths::new(document);
    Ok(Review {
        revision: snapshot.revision().to_owned(),
        orgs: orgs
            .into_iter()
            .map(|(id, data)| OrgIndex::new(snapshot, id, data).review(&paths, nth))
            .collect(),
    })
}

/// Why `r` is reviewed (empty: it is not).
fn reviewed_for(data: &OrgData, r: &ResourceData) -> Vec<ReviewedFor> {
    let mut why = Vec::new();
    for (level, reason) in [
        (RiskLevel::Sensitive, ReviewedFor::Sensitive),
        (RiskLevel::Production, ReviewedFor::Production),
        (RiskLevel::Destructive, ReviewedFor::Destructive),
    ] {
        if r.risk & risk_bit(level) != 0 {
            why.push(reason);
        }
    }
    if r.secret_backed {
        why.push(ReviewedFor::SecretBacked);
    }
    match data.kind_name(r) {
        "credential" => why.push(ReviewedFor::Credential),
        "oauth_config" => why.push(ReviewedFor::OauthConfig),
        _ => {}
    }
    why
}

/// Roles that decide nothing beyond the member defaults: members holding
/// only these are grouped in classes.
fn is_plain_roles(roles: RoleSet) -> bool {
    roles
        .iter()
        .all(|r| matches!(r, OrgRole::Member | OrgRole::Viewer))
}

/// One org's members indexed for finding candidates.
struct OrgIndex<'a> {
    snapshot: &'a Snapshot,
    org: &'a str,
    data: &'a OrgData,
    /// By member slot: the member's user id (None for a slot the table
    /// does not hold).
    users: Vec<Option<&'a str>>,
    /// By member slot: its class.
    class_of: Vec<usize>,
    /// (status, roles) of each class, and its members' slots.
    classes: Vec<(MembershipStatus, RoleSet, Vec<u32>)>,
    /// Principal key (not an org role) → the slots of the members it
    /// matches.
    by_key: HashMap<PrincipalKey, Vec<u32>>,
    /// Members holding an org role that carries actions of its own.
    always: Vec<u32>,
    /// By member slot: whether the member has member rights.
    member_rights: Vec<bool>,
    /// By member slot, for a member holding a role with actions of its
    /// own: its direct roles and the groups its roles come through.
    roles_via: Vec<Option<(u8, [u32; 7])>>,
    environments: Vec<Environment>,
    /// Group id → index.
    group_index: HashMap<&'a str, u32>,
}

/// A class and one allowed answer for it.
type Answer<'a> = (usize, &'a AllowedBy, &'a Option<Through>);

/// The keys a decision reads ([`OrgIndex::keys_read`]).
#[derive(Debug, Default)]
struct Keys {
    all: Vec<PrincipalKey>,
    for_members: Vec<PrincipalKey>,
}

/// One environment of the org, and the members that the keys of it and
/// its dependencies match, with those keys.
struct Environment {
    index: u32,
    matched: HashMap<u32, Vec<PrincipalKey>>,
}

/// What decides alike for members: the class (status and org roles),
/// for a member holding a role with actions of its own how it holds its
/// roles (directly, or through which group: `allowed_by` names it), and
/// which of the keys read by the decision match.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Signature {
    class: usize,
    roles_via: Option<(u8, [u32; 7])>,
    keys: Vec<PrincipalKey>,
}

/// The candidates of one resource grouped by signature.
struct Signatures {
    groups: Vec<Vec<u32>>,
    /// Slot → its group.
    group_of: HashMap<u32, usize>,
}

impl Signatures {
    /// The groups once the keys of environment `e` are read too: members
    /// the environment's keys match are regrouped by both.
    fn refined(&self, e: &Environment, index: &OrgIndex<'_>) -> Vec<Vec<u32>> {
        if e.matched.is_empty() {
            return self.groups.clone();
        }
        let mut split: HashMap<(Option<usize>, Signature), Vec<u32>> = HashMap::new();
        let mut groups: Vec<Vec<u32>> = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let mut kept = Vec::with_capacity(group.len());
            for &slot in group {
                match e.matched.get(&slot) {
                    Some(keys) => split
                        .entry((
                            self.group_of.get(&slot).copied(),
                            index.signature(slot, keys.clone()),
                        ))
                        .or_default()
                        .push(slot),
                    None => kept.push(slot),
                }
            }
            if !kept.is_empty() {
                groups.push(kept);
            }
        }
        for (&slot, keys) in &e.matched {
            if !self.group_of.contains_key(&slot) {
                split
                    .entry((None, index.signature(slot, keys.clone())))
                    .or_default()
                    .push(slot);
            }
        }
        let mut split: Vec<Vec<u32>> = split.into_values().collect();
        for group in &mut split {
            group.sort_unstable();
        }
        split.sort_unstable();
        groups.extend(split);
        groups
    }
}

impl<'a> OrgIndex<'a> {
    fn new(snapshot: &'a Snapshot, org: &'a str, data: &'a OrgData) -> OrgIndex<'a> {
        let members: Vec<&Member> = data.members.iter().collect();
        let slots = members
            .iter()
            .map(|m| m.slot as usize + 1)
            .max()
            .unwrap_or(0);
        let mut users = vec![None; slots];
        let mut class_of = vec![usize::MAX; slots];
        let mut classes: Vec<(MembershipStatus, RoleSet, Vec<u32>)> = Vec::new();
        let mut class_ids: HashMap<(MembershipStatus, u8), usize> = HashMap::new();
        let mut by_key: HashMap<PrincipalKey, Vec<u32>> = HashMap::new();
        let mut always = Vec::new();
        let mut member_rights = vec![false; slots];
        let mut roles_via = vec![None; slots];
        for m in &members {
            if let Some(r) = member_rights.get_mut(m.slot as usize) {
                *r = has_member_rights(m.roles);
            }
            let slot = m.slot;
            if let Some(u) = users.get_mut(slot as usize) {
                *u = data.members.user_id(m);
            }
            let class = *class_ids.entry((m.status, m.roles.0)).or_insert_with(|| {
                classes.push((m.status, m.roles, Vec::new()));
                classes.len() - 1
            });
            if let Some(c) = class_of.get_mut(slot as usize) {
                *c = class;
            }
            if let Some((_, _, list)) = classes.get_mut(class) {
                list.push(slot);
            }
            m.each_key(|k| {
                if !k.is_role() {
                    by_key.entry(k).or_default().push(slot);
                }
            });
            if !is_plain_roles(m.roles) {
                always.push(slot);
                if let Some(v) = roles_via.get_mut(slot as usize) {
                    *v = data
                        .role_via
                        .get(slot as usize)
                        .map(|via| (m.direct_roles.0, *via));
                }
            }
        }
        for (_, _, list) in &mut classes {
            list.sort_unstable();
        }
        let mut index = OrgIndex {
            snapshot,
            org,
            data,
            users,
            class_of,
            classes,
            by_key,
            always,
            member_rights,
            roles_via,
            environments: Vec::new(),
            group_index: data
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (&*g.id, i as u32))
                .collect(),
        };
        index.environments = data
            .environments
            .iter()
            .map(|&e| {
                let keys = index.keys_read(e, true);
                Environment {
                    index: e,
                    matched: index.matched(&keys),
                }
            })
            .collect();
        index
    }

    /// The principal keys (org roles left out) named by anything a
    /// decision on resource `index` reads (it and its dependencies; as the
    /// target environment, `environment`, the same), and of those the
    /// ones read for a member with member rights: for them only the
    /// dependencies that are not plain are walked (`ResourceData::blockers`),
    /// and an environment's own record only when it is not plain.
    fn keys_read(&self, index: u32, environment: bool) -> Keys {
        let mut keys = Keys::default();
        let Some(r) = self.data.resource(index) else {
            return keys;
        };
        for &i in std::iter::once(&index).chain(r.closure.iter()) {
            if let Some(d) = self.data.resource(i) {
                self.keys_of(i, d, &mut keys.all);
            }
        }
        let read_self = !environment || !is_plain(r);
        for &i in std::iter::once(&index)
            .filter(|_| read_self)
            .chain(r.blockers.iter())
        {
            if let Some(d) = self.data.resource(i) {
                self.keys_of(i, d, &mut keys.for_members);
            }
        }
        for list in [&mut keys.all, &mut keys.for_members] {
            list.sort_unstable();
            list.dedup();
        }
        keys
    }

    /// The candidates `keys` name, each with the keys of it that are read
    /// for that member (sorted).
    fn matched(&self, keys: &Keys) -> HashMap<u32, Vec<PrincipalKey>> {
        let mut matched: HashMap<u32, Vec<PrincipalKey>> = HashMap::new();
        for &k in &keys.all {
            let for_members = keys.for_members.binary_search(&k).is_ok();
            for &slot in self.by_key.get(&k).map_or(&[][..], Vec::as_slice) {
                let rights = self
                    .member_rights
                    .get(slot as usize)
                    .copied()
                    .unwrap_or(false);
                if for_members || !rights {
                    matched.entry(slot).or_default().push(k);
                }
            }
        }
        matched
    }

    /// The principal keys (org roles left out) that one resource's
    /// grants, roles, visibility and service team name.
    fn keys_of(&self, index: u32, r: &ResourceData, keys: &mut Vec<PrincipalKey>) {
        self.data.covering_buckets(index, r, |entries, _, _| {
            keys.extend(entries.iter().map(|e| e.key));
        });
        keys.extend(r.roles().iter().map(|(k, _)| *k));
        keys.extend(r.visible_to.iter().copied());
        if let Some(s) = r.service {
            keys.push(PrincipalKey::team(s));
            if let Some(service) = self.data.resource(s) {
                keys.extend(service.team.iter().map(|(k, _)| *k));
            }
        }
        keys.retain(|k| !k.is_role());
    }

    fn review(&self, paths: &Paths<'_>, nth: usize) -> OrgReview {
        let reviewed: Vec<(u32, Vec<ReviewedFor>)> = self
            .data
            .resources
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let why = reviewed_for(self.data, r);
                (!why.is_empty()).then_some((i as u32, why))
            })
            .step_by(nth.max(1))
            .collect();
        let parts: Vec<Part> = super::on_every_core(&reviewed, |part| {
            let mut out = Part::new(self.classes.len());
            let mut stamp = vec![0u32; self.users.len()];
            let mut generation = 0u32;
            for (index, why) in part {
                self.review_resource(*index, why, paths, &mut stamp, &mut generation, &mut out);
            }
            out
        });
        self.assemble(parts)
    }

    /// Reviews one resource into `out`.
    fn review_resource(
        &self,
        index: u32,
        why: &[ReviewedFor],
        paths: &Paths<'_>,
        stamp: &mut [u32],
        generation: &mut u32,
        out: &mut Part,
    ) {
        let Some(r) = self.data.resource(index) else {
            return;
        };
        let base = self.signatures(&self.keys_read(index, false));
        let mut access = Vec::new();
        for action in REVIEWED_ACTIONS {
            let per_environment =
                action.checks_dependencies() && !r.is_environment && !self.environments.is_empty();
            let targets: Vec<Option<&Environment>> = if per_environment {
                self.environments.iter().map(Some).collect()
            } else {
                vec![None]
            };
            for env in targets {
                let groups = match env {
                    Some(e) => base.refined(e, self),
                    None => base.groups.clone(),
                };
                *generation += 1;
                let g = *generation;
                for slot in groups.iter().flatten() {
                    if let Some(s) = stamp.get_mut(*slot as usize) {
                        *s = g;
                    }
                }
                let asked = Asked {
                    index,
                    groups: &groups,
                    stamp,
                    generation: g,
                };
                if let Some(t) =
                    self.review_target(r, action, env.map(|e| e.index), &asked, paths, out)
                {
                    access.push(t);
                }
            }
        }
        out.resources.push((
            index,
            ReviewedResource {
                resource: r.id.to_string(),
                kind: self.data.kind_name(r).to_owned(),
                risk: levels(r.risk),
                secret_backed: r.secret_backed,
                reviewed_for: why.to_vec(),
                access,
            },
        ));
    }

    /// The candidates named by `keys` (and the holders of roles with
    /// actions of their own), grouped by signature: status, org roles and
    /// which of `keys` match (a holder of such a role alone).
    fn signatures(&self, keys: &Keys) -> Signatures {
        let mut matched = self.matched(keys);
        for &slot in &self.always {
            matched.entry(slot).or_default();
        }
        let mut by_signature: HashMap<Signature, usize> = HashMap::new();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        let mut group_of = HashMap::with_capacity(matched.len());
        let mut slots: Vec<u32> = matched.keys().copied().collect();
        slots.sort_unstable();
        for slot in slots {
            let keys = matched.remove(&slot).unwrap_or_default();
            let signature = self.signature(slot, keys);
            let at = *by_signature.entry(signature).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            if let Some(group) = groups.get_mut(at) {
                group.push(slot);
            }
            group_of.insert(slot, at);
        }
        Signatures { groups, group_of }
    }

    fn signature(&self, slot: u32, keys: Vec<PrincipalKey>) -> Signature {
        let class = self
            .class_of
            .get(slot as usize)
            .copied()
            .unwrap_or(usize::MAX);
        Signature {
            class,
            roles_via: self.roles_via.get(slot as usize).copied().flatten(),
            keys,
        }
    }

    /// Who may perform `action` on `r` in `env`: one member of each
    /// signature group asked for the group, and one member of each class
    /// that is not a candidate.
    fn review_target(
        &self,
        r: &ResourceData,
        action: Action,
        env: Option<u32>,
        asked: &Asked<'_>,
        paths: &Paths<'_>,
        out: &mut Part,
    ) -> Option<TargetAccess> {
        let Asked {
            index,
            groups,
            stamp,
            generation: g,
        } = *asked;
        let environment = env.and_then(|e| self.data.resource(e)).map(|e| &*e.id);
        let mut risk = r.risk;
        if action.checks_dependencies()
            && let Some(e) = env.and_then(|e| self.data.resource(e))
        {
            risk |= e.risk;
        }
        let ask = |user: &str| {
            let decision = decide_unexplained(
                self.snapshot,
                &Request {
                    org: self.org,
                    user,
                    action: RequestAction::Known(action),
                    resource: &r.id,
                    environment,
                },
            );
            decision.allowed.then_some(decision.allowed_by).flatten()
        };
        let user_of = |slot: u32| self.users.get(slot as usize).copied().flatten();
        // The classes first: which are allowed decides which denied
        // candidates are listed as exceptions to them.
        let mut class_rows: Vec<Option<ClassAccess>> = vec![None; self.classes.len()];
        for (class, (status, _, members)) in self.classes.iter().enumerate() {
            if *status != MembershipStatus::Active {
                continue;
            }
            let Some(user) = members
                .iter()
                .find(|s| stamp.get(**s as usize) != Some(&g))
                .and_then(|s| user_of(*s))
            else {
                continue;
            };
            if let Some(allowed_by) = ask(user) {
                let through = paths.through(self.org, user, &r.id, &allowed_by);
                if let Some(row) = class_rows.get_mut(class) {
                    *row = Some(ClassAccess {
                        class,
                        members: 0,
                        except: Vec::new(),
                        allowed_by,
                        through,
                    });
                }
            }
        }
        // One answer per signature group.
        let answers: Vec<Option<(AllowedBy, Option<Through>)>> = groups
            .iter()
            .map(|group| {
                let rep = group.first().and_then(|s| user_of(*s))?;
                let allowed_by = ask(rep)?;
                let through = paths.through(self.org, rep, &r.id, &allowed_by);
                Some((allowed_by, through))
            })
            .collect();
        // A class of more than one member whose members are all
        // candidates (the admin roles' classes, usually) gets the row of
        // its most common allowed answer, so those members are not listed
        // one by one for it (a class of one is listed: the row would only
        // hide the name).
        let mut common: Vec<(Answer<'_>, usize)> = Vec::new();
        for (group, answer) in groups.iter().zip(&answers) {
            // Only what the class's roles or every member get: a path
            // through the user, a group or a team is listed as such.
            let Some((by, through @ (None | Some(Through::OrgRole { .. })))) = answer else {
                continue;
            };
            let Some(class) = group.first().and_then(|s| self.class_of.get(*s as usize)) else {
                continue;
            };
            if class_rows.get(*class).is_some_and(Option::is_none) {
                let key = (*class, by, through);
                match common.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += group.len(),
                    None => common.push((key, group.len())),
                }
            }
        }
        let mut best: Vec<Option<(usize, &AllowedBy, &Option<Through>)>> =
            vec![None; self.classes.len()];
        // The most members first; a tie keeps the first group's answer.
        common.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for ((class, by, through), n) in common {
            let all_candidates = self.classes.get(class).is_some_and(|(status, _, members)| {
                *status == MembershipStatus::Active
                    && members.len() > 1
                    && members.iter().all(|s| stamp.get(*s as usize) == Some(&g))
            });
            if all_candidates
                && let Some(slot) = best.get_mut(class)
                && slot.is_none()
            {
                *slot = Some((n, by, through));
            }
        }
        for (class, chosen) in best.into_iter().enumerate() {
            if let (Some((_, by, through)), Some(row)) = (chosen, class_rows.get_mut(class)) {
                *row = Some(ClassAccess {
                    class,
                    members: 0,
                    except: Vec::new(),
                    allowed_by: by.clone(),
                    through: through.clone(),
                });
            }
        }
        let mut users = Vec::new();
        let mut by_path: Vec<(AllowedBy, Through, Vec<u32>)> = Vec::new();
        let mut in_class = vec![0usize; self.classes.len()];
        for (group, answer) in groups.iter().zip(answers) {
            let Some(&first) = group.first() else {
                continue;
            };
            let class = self
                .class_of
                .get(first as usize)
                .copied()
                .unwrap_or(usize::MAX);
            let class_row = class_rows.get_mut(class).and_then(Option::as_mut);
            if let (Some(row), Some((by, through))) = (&class_row, &answer)
                && row.allowed_by == *by
                && row.through == *through
            {
                // Allowed as the rest of the class: the class row stands
                // for these members too.
                continue;
            }
            if let Some(n) = in_class.get_mut(class) {
                *n += group.len();
            }
            let has_class_row = class_row.is_some();
            match answer {
                Some((allowed_by, through)) => {
                    let individual = through.as_ref().is_some_and(Through::is_individual);
                    for &slot in group {
                        out.user(slot).plus.count(action, risk, individual);
                    }
                    match through {
                        Some(t @ (Through::Group { .. } | Through::Team { .. })) => {
                            match by_path
                                .iter_mut()
                                .find(|(by, th, _)| *by == allowed_by && *th == t)
                            {
                                Some((_, _, slots)) => slots.extend_from_slice(group),
                                None => by_path.push((allowed_by, t, group.clone())),
                            }
                        }
                        through => {
                            for &slot in group {
                                let Some(user) = user_of(slot) else { continue };
                                if individual {
                                    out.exceptions.push((
                                        index,
                                        Exception {
                                            user: user.to_owned(),
                                            resource: r.id.to_string(),
                                            action,
                                            environment: environment.map(str::to_owned),
                                            risk: levels(risky_bits(risk)),
                                            allowed_by: allowed_by.clone(),
                                        },
                                    ));
                                }
                                users.push(ReviewHolder {
                                    user: user.to_owned(),
                                    allowed_by: allowed_by.clone(),
                                    through: through.clone(),
                                    individual,
                                });
                            }
                        }
                    }
                }
                None => {
                    if let Some(row) = class_row {
                        row.except
                            .extend(group.iter().filter_map(|s| user_of(*s)).map(str::to_owned));
                    }
                }
            }
            if has_class_row {
                // The class row counts this target for the whole class;
                // these members were asked apart instead.
                for &slot in group {
                    out.user(slot).minus.count(action, risk, false);
                }
            }
        }
        let mut classes = Vec::new();
        for (class, row) in class_rows.into_iter().enumerate() {
            let Some(mut row) = row else { continue };
            let total = self.classes.get(class).map_or(0, |(_, _, m)| m.len());
            row.members = total - in_class.get(class).copied().unwrap_or(0);
            if let Some(b) = out.classes.get_mut(class) {
                b.count(action, risk, false);
            }
            row.except.sort_unstable();
            classes.push(row);
        }
        let principals: Vec<PrincipalAccess> = by_path
            .into_iter()
            .map(|(allowed_by, through, mut slots)| {
                slots.sort_unstable();
                let everyone = self.principal_members(&through);
                let except: Vec<String> = everyone
                    .iter()
                    .filter(|s| slots.binary_search(s).is_err())
                    .filter_map(|s| user_of(*s))
                    .map(str::to_owned)
                    .collect();
                PrincipalAccess {
                    allowed_by,
                    through,
                    members: slots.len(),
                    except: sorted(except),
                }
            })
            .collect();
        users.sort_by(|a, b| a.user.cmp(&b.user));
        (!users.is_empty() || !principals.is_empty() || !classes.is_empty()).then(|| TargetAccess {
            action,
            environment: environment.map(str::to_owned),
            risk: levels(risky_bits(risk)),
            users,
            principals,
            classes,
        })
    }

    /// The members a group or team principal matches, by slot (sorted).
    fn principal_members(&self, through: &Through) -> &[u32] {
        let key = match through {
            Through::Group { group } => self
                .group_index
                .get(group.as_str())
                .map(|g| PrincipalKey::group(*g)),
            Through::Team { service } => self
                .data
                .resource_index
                .get(service)
                .map(PrincipalKey::team),
            _ => None,
        };
        key.and_then(|k| self.by_key.get(&k))
            .map_or(&[], Vec::as_slice)
    }

    /// The threads' parts, merged.
    fn assemble(&self, parts: Vec<Part>) -> OrgReview {
        let mut resources = Vec::new();
        let mut exceptions = Vec::new();
        let mut per_user: Vec<Tally> = vec![Tally::default(); self.users.len()];
        let mut holds = vec![Privileges::default(); self.classes.len()];
        for part in parts {
            resources.extend(part.resources);
            exceptions.extend(part.exceptions);
            for (slot, t) in part.users {
                if let Some(u) = per_user.get_mut(slot as usize) {
                    u.plus.merge(&t.plus, 1);
                    u.minus.merge(&t.minus, 1);
                }
            }
            for (h, b) in holds.iter_mut().zip(&part.classes) {
                h.merge(b, 1);
            }
        }
        resources.sort_by_key(|(i, _)| *i);
        let mut listed = vec![0usize; self.classes.len()];
        let mut users = Vec::new();
        for (slot, tally) in per_user.iter().enumerate() {
            let (Some(user), Some(&class)) = (
                self.users.get(slot).copied().flatten(),
                self.class_of.get(slot),
            ) else {
                continue;
            };
            let baseline = holds.get(class).copied().unwrap_or_default();
            let mut privileges = baseline;
            privileges.merge(&tally.plus, 1);
            privileges.merge(&tally.minus, -1);
            if privileges != baseline {
                if let Some(n) = listed.get_mut(class) {
                    *n += 1;
                }
                users.push(UserSummary {
                    user: user.to_owned(),
                    class,
                    privileges,
                });
            }
        }
        users.sort_by(|a, b| a.user.cmp(&b.user));
        exceptions.sort_by(|(i, a), (j, b)| {
            (i, a.action, &a.environment, &a.user).cmp(&(j, b.action, &b.environment, &b.user))
        });
        let classes = self
            .classes
            .iter()
            .enumerate()
            .map(|(class, (status, roles, members))| MemberClass {
                class,
                status: *status,
                roles: roles.iter().collect(),
                members: members.len(),
                holds: holds.get(class).copied().unwrap_or_default(),
                unlisted: members.len() - listed.get(class).copied().unwrap_or(0),
            })
            .collect();
        OrgReview {
            org: self.org.to_owned(),
            members: self.users.iter().flatten().count(),
            resources: resources.into_iter().map(|(_, r)| r).collect(),
            classes,
            users,
            individual_exceptions: exceptions.into_iter().map(|(_, e)| e).collect(),
        }
    }
}

/// The candidates of one target grouped by signature, and the stamp
/// marking them (`stamp[slot] == generation`).
#[derive(Clone, Copy)]
struct Asked<'a> {
    /// The resource's index.
    index: u32,
    groups: &'a [Vec<u32>],
    stamp: &'a [u32],
    generation: u32,
}

/// One member's counts from one thread: what was asked alone (`plus`) and
/// the class rows that member was asked alone on instead (`minus`).
#[derive(Clone, Debug, Default)]
struct Tally {
    plus: Privileges,
    minus: Privileges,
}

/// What one thread reviewed.
struct Part {
    resources: Vec<(u32, ReviewedResource)>,
    /// (resource index, exception).
    exceptions: Vec<(u32, Exception)>,
    users: HashMap<u32, Tally>,
    /// Per class: the class rows' counts.
    classes: Vec<Privileges>,
}

impl Part {
    fn new(classes: usize) -> Part {
        Part {
            resources: Vec::new(),
            exceptions: Vec::new(),
            users: HashMap::new(),
            classes: vec![Privileges::default(); classes],
        }
    }

    fn user(&mut self, slot: u32) -> &mut Tally {
        self.users.entry(slot).or_default()
    }
}

#[cfg(test)]
mod tests;
