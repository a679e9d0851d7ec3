//! Users: ids, and memberships that name known orgs, at most one per org.

use rustc_hash::FxHashMap;

use super::Report;
use super::index::DocumentIndex;
use crate::document::Document;

pub(super) fn check(document: &Document, index: &DocumentIndex<'_>, report: &mut Report) {
    report
        .errors
        .extend(index.user_id_errors.errors.iter().cloned());
    for (user, name) in document.users.iter().zip(&index.user_names) {
        let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
        for (position, membership) in user.memberships.iter().enumerate() {
            let path = format!("users[{name}].memberships[{position}].org");
            let org = membership.org.as_str();
            if !index.orgs.contains(org) {
                report.push(path, format!("unknown org `{org}`"));
            } else if let Some(first) = seen.get(org) {
                report.push(
                    path,
                    format!(
                        "duplicate membership in org `{org}`, first at `users[{name}].memberships[{first}]`"
                    ),
                );
            } else {
                seen.insert(org, position);
            }
        }
    }
}
