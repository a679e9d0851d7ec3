//! Configuration errors: every fault, each with its file, line and route id.

use std::fmt;
use std::path::PathBuf;

/// What kind of fault a [`ConfigError`] is; stable, for tests and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A file could not be read (missing, permissions, not UTF-8).
    Read,
    /// A file is not valid YAML/JSON, or has unknown or missing fields.
    Parse,
    /// A path or value template does not parse.
    Template,
    /// Two routes (or a route and a public prefix) can match the same request.
    Overlap,
    /// Two routes share an id.
    DuplicateRoute,
    /// A route names an action the access model does not know.
    UnknownAction,
    /// A route names a resource kind the policy does not know.
    UnknownKind,
    /// A template uses a parameter the route's path does not have.
    UnknownParam,
    /// An environment source that cannot exist for the route.
    Environment,
    /// A route names an upstream that is not defined.
    UnknownUpstream,
    /// A JWT key file cannot be read or is not a key for its algorithm.
    KeyFile,
    /// A TLS certificate, key or CA bundle cannot be read, parsed or used.
    TlsFile,
    /// The policy document failed validation.
    Policy,
    /// A policy bundle's manifest or org file is unusable: not a manifest,
    /// a signature that does not verify, a size or hash that does not match.
    Bundle,
    /// A listener, upstream address or CIDR does not parse.
    Address,
    /// Any other invalid setting (empty lists, zero limits, bad header names…).
    Invalid,
}

/// One fault, located as precisely as the file allows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConfigError {
    pub kind: ErrorKind,
    /// The file the fault is in (the route config, the policy, or a key file).
    pub file: PathBuf,
    /// 1-based line, where known (see the crate docs for how lines are found).
    pub line: Option<u32>,
    /// 1-based column, where known (parse errors only).
    pub column: Option<u32>,
    /// The id of the route the fault is about.
    pub route: Option<String>,
    /// What is wrong: lowercase, one line, user input in backticks.
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// `file:line:column: route `id`: message`, omitting what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(route) = &self.route {
            write!(f, "route `{route}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every fault found while loading, in file order; never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s) in the gateway config; first: {}", .0.len(), .0.first().map(|e| e.to_string()).unwrap_or_default())]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors of one kind.
    pub fn of_kind(&self, kind: ErrorKind) -> impl Iterator<Item = &ConfigError> {
        self.0.iter().filter(move |e| e.kind == kind)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
