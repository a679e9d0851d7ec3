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
//! Every step of a decision is an "or" over the member's principal keys of
//! what each key brings on the target, and of what the member's roles and
//! seats bring, so [`sets::Members`] computes each step for all members of
//! the org at once, as sets, and `allowed_by`'s sources in their order,
//! each taking the allowed members still left: the target's paths. Rows
//! are built from the paths: a group or team path is one row (unless it
//! would except more than eight times the members it allows: then they
//! are listed); a class's most common path naming no one (an org role, the
//! member default) is a class row when it stands for two members or more
//! and for more than the class's denied members it must list; every other
//! allowed member is listed. The tests compare every row, expanded to
//! users, with `decide` for every member.

use std::collections::HashMap;

use serde::Serialize;
use smol_str::SmolStr;

use super::{REVIEWED_ACTIONS, Through, Unknown, levels, org_data, risky_bits};
use crate::compile::{OrgData, ResourceData, RoleSet, Snapshot};
use crate::decide::eval::risk_bit;
use crate::decision::AllowedBy;
use crate::model::{Action, MembershipStatus, OrgRole, RiskLevel};

mod sets;

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
    pub user: SmolStr,
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
    pub except: Vec<SmolStr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassAccess {
    pub class: usize,
    /// How many members this row allows.
    pub members: usize,
    /// Members of the class who are denied (by user id).
    pub except: Vec<SmolStr>,
    pub allowed_by: AllowedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<Through>,
}

/// One access held through an individual exception.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub user: SmolStr,
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
pub fn review(snapshot: &Snapshot, org: Option<&str>) -> Result<Review, Unknown> {
    review_every(snapshot, org, 1)
}

/// The review of every `nth` reviewed resource only, in document order
/// (a sample, to test or time a large world; the per-user summary then
/// counts those only).
pub fn review_every(snapshot: &Snapshot, org: Option<&str>, nth: usize) -> Result<Review, Unknown> {
    let orgs: Vec<(&str, &OrgData)> = match org {
        Some(o) => vec![(o, org_data(snapshot, o)?)],
        None => snapshot.org_ids().collect(),
    };
    Ok(Review {
        revision: snapshot.revision().to_owned(),
        orgs: orgs
            .into_iter()
            .map(|(id, data)| OrgIndex::new(id, data).review(nth))
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

/// Reviewed resources a core takes at a time.
const BATCH: usize = 32;

/// One org's members, classes and environments, with the set reading of
/// its decisions ([`sets::Members`]).
struct OrgIndex<'a> {
    org: &'a str,
    data: &'a OrgData,
    /// By member position (members sorted by user id): the user id.
    users: Vec<Option<&'a str>>,
    /// By member position: its class.
    class_of: Vec<usize>,
    /// (status, roles) of each class, and its members' positions.
    classes: Vec<(MembershipStatus, RoleSet, Vec<u32>)>,
    environments: Vec<u32>,
    members: sets::Members<'a>,
}

impl<'a> OrgIndex<'a> {
    fn new(org: &'a str, data: &'a OrgData) -> OrgIndex<'a> {
        // Members by user id: a set read in order lists ids sorted.
        let mut by_id: Vec<(&'a str, &'a crate::compile::Member)> = data
            .members
            .iter()
            .filter_map(|m| Some((data.members.user_id(m)?, m)))
            .collect();
        by_id.sort_unstable_by_key(|(id, _)| *id);
        let slots = data
            .members
            .iter()
            .map(|m| m.slot as usize + 1)
            .max()
            .unwrap_or(0);
        let mut position = vec![u32::MAX; slots];
        let mut users = Vec::with_capacity(by_id.len());
        let mut class_of = Vec::with_capacity(by_id.len());
        let mut classes: Vec<(MembershipStatus, RoleSet, Vec<u32>)> = Vec::new();
        let mut class_ids: HashMap<(MembershipStatus, u8), usize> = HashMap::new();
        for (at, (id, m)) in by_id.iter().enumerate() {
            if let Some(p) = position.get_mut(m.slot as usize) {
                *p = at as u32;
            }
            users.push(Some(*id));
            let class = *class_ids.entry((m.status, m.roles.0)).or_insert_with(|| {
                classes.push((m.status, m.roles, Vec::new()));
                classes.len() - 1
            });
            class_of.push(class);
            if let Some((_, _, list)) = classes.get_mut(class) {
                list.push(at as u32);
            }
        }
        let members = sets::Members::new(data, &position, &classes);
        OrgIndex {
            org,
            data,
            users,
            class_of,
            classes,
            environments: data.environments.clone(),
            members,
        }
    }

    fn review(&self, nth: usize) -> OrgReview {
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
        // Resources differ widely in cost, so each core takes the next
        // small batch as it finishes one, rather than a fixed half.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let workers: Vec<usize> = (0..super::every_core()).collect();
        let parts: Vec<Part> = super::on_threads(&workers, workers.len(), |_| {
            let mut out = Part::new(self.classes.len(), self.users.len());
            let mut cache = sets::Cache::default();
            loop {
                let at = next.fetch_add(BATCH, std::sync::atomic::Ordering::Relaxed);
                let Some(batch) = reviewed.get(at..(at + BATCH).min(reviewed.len())) else {
                    break;
                };
                if batch.is_empty() {
                    break;
                }
                for (index, why) in batch {
                    self.review_resource(*index, why, &mut cache, &mut out);
                }
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
        cache: &mut sets::Cache,
        out: &mut Part,
    ) {
        let Some(r) = self.data.resource(index) else {
            return;
        };
        let mut access = Vec::new();
        for action in REVIEWED_ACTIONS {
            let per_environment =
                action.checks_dependencies() && !r.is_environment && !self.environments.is_empty();
            let targets: Vec<Option<u32>> = if per_environment {
                self.environments.iter().copied().map(Some).collect()
            } else {
                vec![None]
            };
            for env in targets {
                let paths = self.members.paths(index, action, env, cache);
                if let Some(t) = self.review_target(index, r, action, env, &paths, out) {
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

    /// The rows of one target from its paths: a row per group or team
    /// path, a class row per class for its most common path that names no
    /// one (org role or default) when it stands for two members or more,
    /// and every other allowed member listed.
    fn review_target(
        &self,
        index: u32,
        r: &ResourceData,
        action: Action,
        env: Option<u32>,
        paths: &[sets::Path],
        out: &mut Part,
    ) -> Option<TargetAccess> {
        if paths.is_empty() {
            return None;
        }
        let environment = env.and_then(|e| self.data.resource(e)).map(|e| &*e.id);
        let mut risk = r.risk;
        if action.checks_dependencies()
            && let Some(e) = env.and_then(|e| self.data.resource(e))
        {
            risk |= e.risk;
        }
        // Counting matters only where a count can move.
        let counts = risky_bits(risk)
            & (risk_bit(RiskLevel::Production) | risk_bit(RiskLevel::Destructive))
            != 0;
        let user_of = |slot: u32| self.users.get(slot as usize).copied().flatten();
        let mut allowed = self.members.none();
        for p in paths {
            allowed.or(&p.members);
        }
        // The class rows: (path, its members in the class). A class row
        // lists the class's denied members, so it is used only where it
        // stands for more members than it lists (and for two or more).
        let mut class_rows: Vec<Option<(usize, sets::Bits)>> = vec![None; self.classes.len()];
        // Each class's most common path that names no one: (path, members
        // of the class on it). A class's own path counts at once; a path
        // across classes (a grant to an org role) is tallied member by
        // member.
        let mut best: Vec<Option<(usize, usize)>> = vec![None; self.classes.len()];
        let mut tally = vec![0usize; self.classes.len()];
        for (i, p) in paths.iter().enumerate() {
            if !matches!(p.through, None | Some(Through::OrgRole { .. })) {
                continue;
            }
            let mut offer = |class: usize, n: usize| {
                if let Some(b) = best.get_mut(class)
                    && n >= 2
                    && b.is_none_or(|(_, m)| n > m)
                {
                    *b = Some((i, n));
                }
            };
            match p.class {
                Some(c) => offer(c, p.members.count()),
                None => {
                    tally.iter_mut().for_each(|n| *n = 0);
                    for at in p.members.iter() {
                        if let Some(n) = self
                            .class_of
                            .get(at as usize)
                            .and_then(|c| tally.get_mut(*c))
                        {
                            *n += 1;
                        }
                    }
                    for (c, n) in tally.iter().enumerate() {
                        offer(c, *n);
                    }
                }
            }
        }
        for (class, choice) in best.into_iter().enumerate() {
            let (Some((i, n)), Some(members), Some((status, _, _))) =
                (choice, self.members.class(class), self.classes.get(class))
            else {
                continue;
            };
            // The row lists the class's denied members: only where it
            // stands for more.
            if *status != MembershipStatus::Active || n <= members.count_without(&allowed) {
                continue;
            }
            if let (Some(row), Some(p)) = (class_rows.get_mut(class), paths.get(i)) {
                *row = Some((i, p.members.with(members)));
            }
        }
        let mut covered = self.members.none();
        for (_, here) in class_rows.iter().flatten() {
            covered.or(here);
        }
        let mut users: Vec<(u32, ReviewHolder)> = Vec::new();
        let mut principals = Vec::new();
        for p in paths {
            let individual = p.through.as_ref().is_some_and(Through::is_individual);
            if let Some(through @ (Through::Group { .. } | Through::Team { .. })) = &p.through {
                // A group or team row lists the principal's members it
                // does not stand for; where those are more than eight times
                // the members it stands for (a listed member weighs about
                // eight excepted ids in the outputs), the members are
                // listed one by one instead.
                let except = self.members.principal(p.key).without(&p.members);
                if except.count() <= 8 * p.members.count() {
                    principals.push(PrincipalAccess {
                        allowed_by: p.allowed_by.clone(),
                        through: through.clone(),
                        members: p.members.count(),
                        except: except
                            .iter()
                            .filter_map(user_of)
                            .map(SmolStr::new)
                            .collect(),
                    });
                    if counts {
                        for at in p.members.iter() {
                            out.user(at).plus.count(action, risk, false);
                        }
                    }
                    continue;
                }
            }
            for at in p.members.without(&covered).iter() {
                let Some(user) = user_of(at) else { continue };
                if individual {
                    out.exceptions.push((
                        index,
                        Exception {
                            user: SmolStr::new(user),
                            resource: r.id.to_string(),
                            action,
                            environment: environment.map(str::to_owned),
                            risk: levels(risky_bits(risk)),
                            allowed_by: p.allowed_by.clone(),
                        },
                    ));
                }
                if counts || individual {
                    out.user(at).plus.count(action, risk, individual);
                }
                users.push((
                    at,
                    ReviewHolder {
                        user: SmolStr::new(user),
                        allowed_by: p.allowed_by.clone(),
                        through: p.through.clone(),
                        individual,
                    },
                ));
            }
        }
        let mut classes = Vec::new();
        for (class, row) in class_rows.into_iter().enumerate() {
            let Some((i, here)) = row else { continue };
            let (Some(p), Some(members)) = (paths.get(i), self.members.class(class)) else {
                continue;
            };
            let except: Vec<SmolStr> = members
                .without(&allowed)
                .iter()
                .filter_map(user_of)
                .map(SmolStr::new)
                .collect();
            if let Some(b) = out.classes.get_mut(class) {
                b.count(action, risk, false);
            }
            if counts {
                // The class row counts this target for the whole class;
                // the members it does not stand for get it taken back.
                for at in members.without(&here).iter() {
                    out.user(at).minus.count(action, risk, false);
                }
            }
            classes.push(ClassAccess {
                class,
                members: here.count(),
                except,
                allowed_by: p.allowed_by.clone(),
                through: p.through.clone(),
            });
        }
        users.sort_unstable_by_key(|(at, _)| *at);
        let users = users.into_iter().map(|(_, h)| h).collect();
        Some(TargetAccess {
            action,
            environment: environment.map(str::to_owned),
            risk: levels(risky_bits(risk)),
            users,
            principals,
            classes,
        })
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
            for (u, t) in per_user.iter_mut().zip(&part.users) {
                u.plus.merge(&t.plus, 1);
                u.minus.merge(&t.minus, 1);
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
    /// By member slot.
    users: Vec<Tally>,
    /// Per class: the class rows' counts.
    classes: Vec<Privileges>,
}

impl Part {
    fn new(classes: usize, slots: usize) -> Part {
        Part {
            resources: Vec::new(),
            exceptions: Vec::new(),
            users: vec![Tally::default(); slots],
            classes: vec![Privileges::default(); classes],
        }
    }

    fn user(&mut self, slot: u32) -> &mut Tally {
        // A slot past the table's is never asked; a throwaway keeps this total.
        if slot as usize >= self.users.len() {
            self.users.resize(slot as usize + 1, Tally::default());
        }
        &mut self.users[slot as usize]
    }
}

#[cfg(test)]
mod tests;
