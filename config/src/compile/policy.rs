//! The policy document: parse, validate and compile through `reqflo-policy`.

use reqflo_policy::{Document, ParseError};

use super::{Errors, Inputs};
use crate::error::{ConfigError, ErrorKind};
use crate::lines;

fn error(
    inputs: &Inputs,
    kind: ErrorKind,
    line: Option<u32>,
    column: Option<u32>,
    message: String,
) -> ConfigError {
    ConfigError {
        kind,
        file: inputs.policy_path.clone(),
        line,
        column,
        route: None,
        message,
    }
}

/// Parses the policy document; its read or parse failure is recorded.
pub(super) fn parse(inputs: &Inputs, errors: &mut Errors<'_>) -> Option<Document> {
    let text = match &inputs.policy_text {
        Ok(text) => text,
        Err(e) => {
            errors.push(e.clone());
            return None;
        }
    };
    match Document::parse(text) {
        Ok(document) => Some(document),
        Err(e) => {
            let position = match &e {
                ParseError::Yaml(y) => y.location().map(|l| (l.line(), l.column())),
                ParseError::Json(j) => Some((j.line(), j.column())),
            };
            let (line, column) = position.map(|(l, c)| (to_u32(l), to_u32(c))).unzip();
            errors.push(error(inputs, ErrorKind::Parse, line, column, e.to_string()));
            None
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Validates and compiles; every validation error is recorded with the policy file name.
/// The policy snapshot's revision is the policy file's own hash (already
/// computed when it was read), so the document is not re-serialised to hash it.
pub(super) fn compile(
    inputs: &Inputs,
    document: &Document,
    errors: &mut Errors<'_>,
) -> Option<reqflo_policy::Snapshot> {
    match reqflo_policy::Snapshot::compile_with_revision(document, inputs.policy_revision.clone()) {
        Ok(snapshot) => Some(snapshot),
        Err(failures) => {
            let text = inputs.policy_text.as_deref().unwrap_or_default();
            for failure in failures.0 {
                let line = lines::policy_path_line(text, &failure.path);
                errors.push(error(
                    inputs,
                    ErrorKind::Policy,
                    line,
                    None,
                    failure.to_string(),
                ));
            }
            None
        }
    }
}

/// Every resource kind the document uses, plus `service` and the kinds the
/// access model names.
pub(super) fn known_kinds(document: &Document) -> std::collections::BTreeSet<String> {
    let mut kinds: std::collections::BTreeSet<String> =
        KNOWN_KINDS.iter().map(|k| (*k).to_owned()).collect();
    for org in &document.orgs {
        kinds.extend(org.resources.iter().map(|r| r.kind.clone()));
    }
    kinds
}

/// The resource kinds a route may name: listed from a whole document, or
/// looked up in a compiled policy (a bundle has no whole document, and
/// listing 10,000 orgs' kinds would cost more than the few lookups the
/// routes make).
pub(super) enum KnownKinds<'a> {
    Listed(std::collections::BTreeSet<String>),
    Compiled(&'a reqflo_policy::Snapshot),
}

impl KnownKinds<'_> {
    pub fn contains(&self, kind: &str) -> bool {
        match self {
            KnownKinds::Listed(kinds) => kinds.contains(kind),
            KnownKinds::Compiled(policy) => {
                KNOWN_KINDS.contains(&kind) || policy.kinds().any(|k| k == kind)
            }
        }
    }
}

/// The kinds `access-model.md` lists.
const KNOWN_KINDS: &[&str] = &[
    "service",
    "journey",
    "request_template",
    "environment",
    "auth_config",
    "oauth_config",
    "secret",
    "component",
    "mock",
    "credential",
    "runbook",
    "integration_connection",
    "billing_setting",
    "org_settings",
    "sso_config",
    "scim_config",
];
