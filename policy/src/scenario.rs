//! Policy scenario files: a world, then requests with expected decisions.
//!
//! The format is documented in `docs/scenario-format.md`. This module does no
//! file I/O: [`load`] takes the scenario's text and a resolver that returns the
//! text of a `policy: <path>` include (the caller decides what the path is
//! relative to, normally the scenario file's directory).
//!
//! ```
//! use reqflo_policy::scenario;
//!
//! let text = r#"
//! policy:
//!   orgs: [{ id: acme, resources: [{ id: j, kind: journey }] }]
//!   users: [{ id: ann, memberships: [{ org: acme, status: active, roles: [member] }] }]
//! org: acme
//! requests:
//!   - name: a member runs an open journey
//!     user: ann
//!     action: run
//!     resource: j
//!     expect: { decision: allow, allowed_by: { source: default, role: member } }
//! "#;
//! let loaded = scenario::load(text, |path| Err(format!("no includes here, not `{path}`"))).unwrap();
//! let outcomes = loaded.scenario.check(|request| reqflo_policy::reference::decide(&loaded.document, request));
//! assert_eq!(outcomes.len(), 1);
//! ```

mod check;
mod format;

#[cfg(test)]
mod tests;

use std::fmt;

pub use check::{Difference, Outcome};
pub use format::{
    Expect, ExpectedAllowedBy, ExpectedCode, PolicySource, Scenario, ScenarioRequest, Verdict,
};

use crate::compile::Snapshot;
use crate::document::{Document, ParseError};
use crate::validate::ValidationErrors;

/// A scenario with its world read and compiled.
#[derive(Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub document: Document,
    pub snapshot: Snapshot,
}

/// One fault in a scenario file itself (not in its policy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `requests[3]` (`name`), or `policy`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The scenario could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The text is not a scenario (the YAML error carries the position).
    #[error("cannot read scenario: {0}")]
    Parse(ParseError),
    #[error("{} fault(s) in scenario; first: {}", .0.len(), .0.first().map(|f| f.to_string()).unwrap_or_default())]
    Invalid(Vec<Fault>),
    #[error("cannot read policy `{path}`: {message}")]
    Include { path: String, message: String },
    #[error("cannot read policy `{path}`: {source}")]
    Policy { path: String, source: ParseError },
    #[error("invalid policy: {0}")]
    Validation(#[from] ValidationErrors),
}

/// Reads a scenario (YAML, or JSON), checks it is coherent, and returns it.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = crate::document::from_yaml_str(text)
        .map_err(|e| ScenarioError::Parse(ParseError::Yaml(e)))?;
    let faults = check::faults(&scenario);
    if faults.is_empty() {
        Ok(scenario)
    } else {
        Err(ScenarioError::Invalid(faults))
    }
}

/// [`parse`], then reads the policy (through `resolve` for `policy: <path>`),
/// validates and compiles it.
pub fn load(
    text: &str,
    resolve: impl FnOnce(&str) -> Result<String, String>,
) -> Result<Loaded, ScenarioError> {
    let mut scenario = parse(text)?;
    let placeholder = PolicySource::File(String::new());
    let document = match std::mem::replace(&mut scenario.policy, placeholder) {
        PolicySource::Inline(document) => {
            scenario.policy = PolicySource::Inline(document.clone());
            *document
        }
        PolicySource::File(path) => {
            let text = resolve(&path).map_err(|message| ScenarioError::Include {
                path: path.clone(),
                message,
            })?;
            let document = Document::parse(&text).map_err(|source| ScenarioError::Policy {
                path: path.clone(),
                source,
            })?;
            scenario.policy = PolicySource::File(path);
            document
        }
    };
    let snapshot = Snapshot::compile(&document)?;
    Ok(Loaded {
        scenario,
        document,
        snapshot,
    })
}

impl Loaded {
    /// Runs every request against the compiled engine.
    pub fn run(&self) -> Vec<Outcome<'_>> {
        self.scenario
            .check(|request| crate::decide(&self.snapshot, request))
    }

    /// Runs every request against the reference evaluator.
    pub fn run_reference(&self) -> Vec<Outcome<'_>> {
        self.scenario
            .check(|request| crate::reference::decide(&self.document, request))
    }
}
