//! Document-wide lookups: org and user names, who is a member of which org.

use rustc_hash::{FxHashMap, FxHashSet};

use super::{Name, Report, name_objects};
use crate::document::Document;

/// What every org's checks need to know about the rest of the document.
#[derive(Debug)]
pub(super) struct DocumentIndex<'a> {
    /// Path segment of each org, in document order.
    pub org_names: Vec<Name<'a>>,
    /// Path segment of each user, in document order.
    pub user_names: Vec<Name<'a>>,
    pub orgs: FxHashSet<&'a str>,
    pub users: FxHashSet<&'a str>,
    /// (user id, org id) pairs with a membership, whatever its status.
    pub memberships: FxHashSet<(&'a str, &'a str)>,
    /// Empty and repeated user ids, reported with the users (after the orgs).
    pub user_id_errors: Report,
}

impl<'a> DocumentIndex<'a> {
    /// Names orgs and users, reporting empty and repeated ids.
    pub fn new(document: &'a Document, report: &mut Report) -> DocumentIndex<'a> {
        let mut taken = FxHashMap::default();
        let org_names = name_objects(
            document.orgs.iter().map(|o| o.id.as_str()),
            &"",
            "orgs",
            &mut taken,
            report,
        );
        let mut user_report = Report::default();
        let mut taken = FxHashMap::default();
        let user_names = name_objects(
            document.users.iter().map(|u| u.id.as_str()),
            &"",
            "users",
            &mut taken,
            &mut user_report,
        );
        let orgs = document.orgs.iter().map(|o| o.id.as_str()).collect();
        let users = document.users.iter().map(|u| u.id.as_str()).collect();
        let memberships = document
            .users
            .iter()
            .flat_map(|u| {
                u.memberships
                    .iter()
                    .map(move |m| (u.id.as_str(), m.org.as_str()))
            })
            .collect();
        DocumentIndex {
            org_names,
            user_names,
            orgs,
            users,
            memberships,
            user_id_errors: user_report,
        }
    }
}
