//! Validation before use: every fault in a document, each naming where it is.
//!
//! [`validate`] walks the whole document and collects every fault instead of
//! stopping at the first. Each [`ValidationError`] carries a `path` naming the
//! object and the field:
//!
//! - lists of objects with an id are indexed by id: `orgs[acme].groups[support]`;
//!   an object whose id is empty, or repeats an id used earlier in the same id
//!   space, is indexed by its position instead (`orgs[acme].resources[3]`), so
//!   every path names exactly one object;
//! - lists of plain values and of objects without an id are indexed by position:
//!   `orgs[acme].resources[refund].depends_on[1]`,
//!   `users[alice].memberships[0].org`, `orgs[acme].services[checkout].team[0].member`;
//! - fields follow with a dot: `orgs[acme].grants[g1].scope.resource`.
//!
//! Faults are reported in a fixed order that follows the document: `version`;
//! empty and repeated org ids; then for each org the ids of its groups,
//! services, resources and grants, then its groups, services, resources,
//! dependency cycles and grants; then user ids and memberships.

use std::fmt;

use crate::document::Document;

mod cycles;
mod index;
mod org;
mod refs;
mod users;

#[cfg(test)]
mod tests;

/// One fault in a policy document.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    /// Where: `orgs[acme].resources[refund].depends_on[1]` (ids where the
    /// object has one, positions otherwise).
    pub path: String,
    /// What is wrong, lowercase, one line, user input in backticks.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every fault found, in document order; never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in policy document; first: {}", .0.len(), .0.first().map(|e| e.to_string()).unwrap_or_default())]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The faults, in document order.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }
}

/// The schema version this crate reads.
pub(crate) const SUPPORTED_VERSION: u32 = 1;

/// Checks a whole document and reports all faults.
pub fn validate(document: &Document) -> Result<(), ValidationErrors> {
    let mut report = Report::default();
    if document.version != SUPPORTED_VERSION {
        report.push(
            "version",
            format!(
                "unsupported version `{}`; expected `{SUPPORTED_VERSION}`",
                document.version
            ),
        );
    }
    let index = index::DocumentIndex::new(document, &mut report);
    for (org, name) in document.orgs.iter().zip(&index.org_names) {
        org::check(org, *name, &index, &mut report);
    }
    users::check(document, &index, &mut report);
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(report.errors))
    }
}

/// The faults collected so far.
#[derive(Debug, Default)]
pub(crate) struct Report {
    errors: Vec<ValidationError>,
}

impl Report {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ValidationError {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// How an object is named in a path: by id, or by position in its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Name<'a> {
    Id(&'a str),
    Position(usize),
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Id(id) => f.write_str(id),
            Name::Position(position) => write!(f, "{position}"),
        }
    }
}

/// How each object of a list is named in paths: by id when the id is
/// non-empty and not already taken in its id space, by position otherwise.
/// Reports empty and repeated ids (at `{prefix}{list}[…].id`) as it goes.
/// `taken` maps each id of the id space to the list that first used it.
fn name_objects<'a>(
    ids: impl Iterator<Item = &'a str>,
    prefix: &dyn fmt::Display,
    list: &'static str,
    taken: &mut rustc_hash::FxHashMap<&'a str, &'static str>,
    report: &mut Report,
) -> Vec<Name<'a>> {
    ids.enumerate()
        .map(|(position, id)| {
            if id.is_empty() {
                report.push(format!("{prefix}{list}[{position}].id"), "id is empty");
                return Name::Position(position);
            }
            if let Some(first) = taken.get(id) {
                report.push(
                    format!("{prefix}{list}[{position}].id"),
                    format!("id `{id}` is already used by `{prefix}{first}[{id}]`"),
                );
                return Name::Position(position);
            }
            taken.insert(id, list);
            Name::Id(id)
        })
        .collect()
}
