//! Step 4 of the pipeline: the target environment of a request, from the
//! place its route names (path parameter, query parameter, header or a field
//! of a JSON body). Never guessed: ambiguous, missing-when-required or
//! unparseable is an [`EnvError`], answered with 400 (413 for an oversized body).

mod json;
#[cfg(test)]
mod tests;

use http::HeaderMap;
use reqflo_config::EnvironmentSource;

use crate::canon::{self, Canonical, Rejection};

pub use json::{JsonError, parse_unique};

/// Why the environment could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("the target environment is required ({0})")]
    Missing(String),
    #[error("the target environment is empty ({0})")]
    Empty(String),
    #[error(
        "the request body is larger than the {limit}-byte limit for reading the target environment"
    )]
    BodyTooLarge { limit: usize },
    #[error("the request body could not be read")]
    BodyUnreadable,
    #[error("the request body is not valid JSON: {0}")]
    BadJson(String),
    #[error("the request body has the key `{0}` more than once")]
    DuplicateKey(String),
    #[error("the request body is not a JSON object")]
    NotObject,
    #[error("the body field `{0}` is not a string")]
    NotString(String),
    #[error("{0}")]
    Ambiguous(Rejection),
}

impl EnvError {
    /// A bounded code for metrics and the 400/413 body.
    pub fn code(&self) -> &'static str {
        match self {
            EnvError::Missing(_) => "environment_missing",
            EnvError::Empty(_) => "environment_empty",
            EnvError::BodyTooLarge { .. } => "body_too_large",
            EnvError::BodyUnreadable => "body_unreadable",
            EnvError::BadJson(_) => "body_not_json",
            EnvError::DuplicateKey(_) => "body_duplicate_key",
            EnvError::NotObject => "body_not_object",
            EnvError::NotString(_) => "environment_not_string",
            EnvError::Ambiguous(r) => r.code(),
        }
    }

    pub const CODES: &'static [&'static str] = &[
        "environment_missing",
        "environment_empty",
        "body_too_large",
        "body_unreadable",
        "body_not_json",
        "body_duplicate_key",
        "body_not_object",
        "environment_not_string",
    ];
}

impl From<Rejection> for EnvError {
    fn from(r: Rejection) -> Self {
        EnvError::Ambiguous(r)
    }
}

/// Where the source is, in words, for the error body.
pub fn describe(source: &EnvironmentSource) -> String {
    match source {
        EnvironmentSource::Path(p) => format!("path parameter `{p}`"),
        EnvironmentSource::Query(q) => format!("query parameter `{q}`"),
        EnvironmentSource::Header(h) => format!("header `{h}`"),
        EnvironmentSource::Body(f) => format!("body field `{f}`"),
    }
}

/// Reads the environment from anywhere but the body. `path_param` looks up a
/// path parameter of the matched route.
pub fn from_request<'a>(
    source: &EnvironmentSource,
    path_param: impl Fn(&str) -> Option<&'a str>,
    canonical: &'a Canonical,
    headers: &'a HeaderMap,
) -> Result<Option<&'a str>, EnvError> {
    let value = match source {
        EnvironmentSource::Path(name) => path_param(name),
        EnvironmentSource::Query(name) => canonical.decision_query(name)?,
        EnvironmentSource::Header(name) => canon::decision_header(headers, name)?,
        EnvironmentSource::Body(_) => None,
    };
    match value {
        Some("") => Err(EnvError::Empty(describe(source))),
        other => Ok(other),
    }
}

/// Reads a top-level string field of a JSON object body. The body is parsed
/// once, with duplicate keys (at any depth) refused.
pub fn from_body(body: &[u8], field: &str) -> Result<Option<String>, EnvError> {
    let value = parse_unique(body).map_err(|e| match e {
        JsonError::DuplicateKey(k) => EnvError::DuplicateKey(k),
        JsonError::Syntax(m) => EnvError::BadJson(m),
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(EnvError::NotObject);
    };
    match map.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => {
            Err(EnvError::Empty(format!("body field `{field}`")))
        }
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EnvError::NotString(field.to_owned())),
    }
}
