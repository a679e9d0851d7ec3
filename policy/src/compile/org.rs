//! One org compiled alone, and snapshots assembled from compiled orgs.
//!
//! Orgs are the tenant boundary: nothing in one org's tables refers to
//! another's, so an org compiled from a document that holds only it (and
//! its members) has the same tables as the same org compiled inside the
//! whole document. A snapshot assembled from such orgs shares each org's
//! tables (an `Arc`) with every other snapshot assembled from the same
//! compiled org: replacing one org builds that org's tables and an index
//! of org ids, nothing else.

use std::sync::Arc;

use rustc_hash::FxHashSet;
use smol_str::SmolStr;

use super::{Counts, IdIndex, OrgData, Snapshot, build};
use crate::document::{Document, Membership, Org, User};
use crate::validate::{ValidationErrors, validate};

/// One org, validated and compiled alone (see [`OrgPolicy::compile`]).
#[derive(Debug)]
pub struct OrgPolicy {
    id: SmolStr,
    revision: String,
    counts: Counts,
    data: Arc<OrgData>,
    weakened: Arc<[crate::defaults::Weakened]>,
}

impl OrgPolicy {
    /// Validates and compiles a document that holds exactly one org (and
    /// the users that are its members); `revision` names it (a bundle gives
    /// each org file's hash). A document with any fault, or with another
    /// number of orgs, is refused with every error.
    pub fn compile(document: &Document, revision: String) -> Result<OrgPolicy, ValidationErrors> {
        validate(document)?;
        let not_one = || {
            ValidationErrors(vec![crate::ValidationError {
                path: "orgs".to_owned(),
                message: format!(
                    "an org document holds exactly one org; this one holds {}",
                    document.orgs.len()
                ),
            }])
        };
        let [org] = document.orgs.as_slice() else {
            return Err(not_one());
        };
        let mut snapshot = build::build(document, revision.clone());
        let data = snapshot.orgs.pop().ok_or_else(not_one)?;
        Ok(OrgPolicy {
            id: SmolStr::new(&org.id),
            revision,
            counts: snapshot.counts,
            data,
            weakened: snapshot.weakened.pop().unwrap_or_else(|| Arc::from([])),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The revision it was compiled under.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether two compiled orgs share their tables (the same compile).
    pub fn shares_tables(&self, other: &OrgPolicy) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }
}

impl Snapshot {
    /// A snapshot of the given orgs, sharing each one's compiled tables.
    /// An org id given twice keeps its first. `users` in the counts is the
    /// sum of the orgs' members (a user in two orgs counts twice).
    pub fn from_orgs(revision: String, orgs: &[Arc<OrgPolicy>]) -> Snapshot {
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let mut counts = Counts::default();
        let mut org_ids = Vec::with_capacity(orgs.len());
        let mut datas = Vec::with_capacity(orgs.len());
        let mut weakened = Vec::new();
        for org in orgs {
            if !seen.insert(org.id.as_str()) {
                continue;
            }
            counts.orgs += 1;
            counts.users += org.counts.users;
            counts.groups += org.counts.groups;
            counts.services += org.counts.services;
            counts.resources += org.counts.resources;
            counts.grants += org.counts.grants;
            org_ids.push(org.id.clone());
            datas.push(org.data.clone());
            if !org.weakened.is_empty() {
                weakened.push(org.weakened.clone());
            }
        }
        Snapshot {
            revision,
            counts,
            org_index: IdIndex::build(
                org_ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| (id.as_str(), i as u32)),
            ),
            org_ids,
            orgs: datas,
            weakened,
        }
    }

    /// Whether this snapshot serves `org` with the tables of `compiled`
    /// (shared, not copied).
    pub fn shares_org(&self, compiled: &OrgPolicy) -> bool {
        self.org_index
            .get(&compiled.id)
            .and_then(|i| self.orgs.get(i as usize))
            .is_some_and(|data| Arc::ptr_eq(data, &compiled.data))
    }
}

impl Document {
    /// The document of one org: the org, and every user that is a member of
    /// it with only that membership. What a bundle holds per org.
    pub fn org_document(&self, org: &Org) -> Document {
        let users = self
            .users
            .iter()
            .filter_map(|user| {
                let memberships: Vec<Membership> = user
                    .memberships
                    .iter()
                    .filter(|m| m.org == org.id)
                    .cloned()
                    .collect();
                (!memberships.is_empty()).then(|| User {
                    id: user.id.clone(),
                    name: user.name.clone(),
                    memberships,
                })
            })
            .collect();
        Document {
            version: self.version,
            orgs: vec![org.clone()],
            users,
        }
    }
}
