//! The decision flow of `access-model.md`, on a compiled snapshot.

use crate::compile::Snapshot;
use crate::decision::{Decision, Request};

/// Decides one request. Pure, allocation-free on allow.
pub fn decide(snapshot: &Snapshot, request: &Request<'_>) -> Decision {
    let _ = (snapshot, request);
    Decision::deny(Vec::new())
}
