//! Compiling a valid document into the immutable, fast-to-query snapshot.

use crate::document::Document;
use crate::validate::{ValidationErrors, validate};

/// How many of each object a snapshot holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub orgs: usize,
    pub users: usize,
    pub groups: usize,
    pub services: usize,
    pub resources: usize,
    pub grants: usize,
}

/// A compiled policy: immutable, `Send + Sync`, with a content-hash revision.
#[derive(Debug)]
pub struct Snapshot {
    revision: String,
    counts: Counts,
}

impl Snapshot {
    /// Validates, then compiles. A document with any fault never becomes a snapshot.
    pub fn compile(document: &Document) -> Result<Snapshot, ValidationErrors> {
        validate(document)?;
        Ok(Snapshot { revision: String::new(), counts: Counts::default() })
    }

    /// The content hash of the document this was compiled from (16 hex digits).
    pub fn revision(&self) -> &str {
        &self.revision
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }
}
