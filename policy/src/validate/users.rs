//! Users: ids, and memberships that name known orgs, at most one per org.

use super::Report;
use super::index::DocumentIndex;
use crate::document::Document;

pub(super) fn check(document: &Document, index: &DocumentIndex<'_>, report: &mut Report) {
    report
        .errors
        .extend(index.user_id_errors.errors.iter().cloned());
    for (user, name) in document.users.iter().zip(&index.user_names) {
        for (position, membership) in user.memberships.iter().enumerate() {
            let org = membership.org.as_str();
            let path = || format!("users[{name}].memberships[{position}].org");
            if !index.orgs.contains(org) {
                report.push(path(), format!("unknown org `{org}`"));
            } else if let Some(first) = user.memberships[..position]
                .iter()
                .position(|m| m.org == org)
            {
                report.push(
                    path(),
                    format!("duplicate membership in org `{org}`, first at `users[{name}].memberships[{first}]`"),
                );
            }
        }
    }
}
