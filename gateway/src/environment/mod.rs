//! The environment step of the pipeline: the target environment of a
//! request, from the place its route names (path parameter, query parameter,
//! header or a field of a JSON body), and the check that no other place in
//! the request names a different one ([`check_one`]). Never guessed:
//! ambiguous, conflicting, missing-when-required or unparseable is an
//! [`EnvError`], answered with 400 (413 for an oversized body).

mod json;
#[cfg(test)]
mod tests;

use http::HeaderMap;
use reqflo_config::{EnvironmentNames, EnvironmentSource, normalize_key};
use serde_json::{Map, Value};

use crate::canon::{self, Canonical, Rejection};

pub use json::{JsonError, parse_unique, top_level_keys};

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
    #[error("the request body did not arrive in time")]
    BodyTimeout,
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
    #[error("the request names an environment other than the one decided on, in {0}")]
    Conflict(String),
}

impl EnvError {
    /// A bounded code for metrics and the 400/413 body.
    pub fn code(&self) -> &'static str {
        match self {
            EnvError::Missing(_) => "environment_missing",
            EnvError::Empty(_) => "environment_empty",
            EnvError::BodyTooLarge { .. } => "body_too_large",
            EnvError::BodyUnreadable => "body_unreadable",
            EnvError::BodyTimeout => "body_timeout",
            EnvError::BadJson(_) => "body_not_json",
            EnvError::DuplicateKey(_) => "body_duplicate_key",
            EnvError::NotObject => "body_not_object",
            EnvError::NotString(_) => "environment_not_string",
            EnvError::Ambiguous(r) => r.code(),
            EnvError::Conflict(_) => "environment_conflict",
        }
    }

    pub const CODES: &'static [&'static str] = &[
        "environment_missing",
        "environment_empty",
        "body_too_large",
        "body_unreadable",
        "body_timeout",
        "body_not_json",
        "body_duplicate_key",
        "body_not_object",
        "environment_not_string",
        "environment_conflict",
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

/// How a request body is read for a decision, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` or `…+json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl BodyKind {
    /// The kind a `Content-Type` value declares; `None` for anything else
    /// (such a body is streamed to the upstream unread).
    pub fn of(content_type: &str) -> Option<BodyKind> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        let (kind, sub) = media.split_once('/')?;
        if !kind.eq_ignore_ascii_case("application") {
            return None;
        }
        if sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json")
        {
            Some(BodyKind::Json)
        } else if sub.eq_ignore_ascii_case("x-www-form-urlencoded") {
            Some(BodyKind::Form)
        } else {
            None
        }
    }
}

/// A body the gateway read and parsed, exactly once.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// A JSON value, parsed with duplicate keys refused (a body-sourced route).
    Json(Value),
    /// Only the top-level keys of a JSON body, with their string values: a
    /// route that reads no field from the body needs no more.
    JsonKeys(Vec<(String, Option<String>)>),
    /// Form pairs, decoded as a backend decodes them (`+` is a space).
    Form(Vec<(String, String)>),
}

impl Body {
    /// Parses `bytes` as `kind`: JSON whole (duplicate keys refused at any
    /// depth) when `field` is read from it, else only its top level. A form
    /// with a `_method` key (in any spelling a framework reads) is refused
    /// like the query form.
    pub fn parse(bytes: &[u8], kind: BodyKind, field: bool) -> Result<Body, EnvError> {
        let json_error = |e| match e {
            JsonError::DuplicateKey(k) => EnvError::DuplicateKey(k),
            JsonError::Syntax(m) => EnvError::BadJson(m),
        };
        match kind {
            BodyKind::Json if field => parse_unique(bytes).map(Body::Json).map_err(json_error),
            BodyKind::Json => top_level_keys(bytes)
                .map(Body::JsonKeys)
                .map_err(json_error),
            BodyKind::Form => {
                let pairs: Vec<(String, String)> = form_urlencoded::parse(bytes)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                if pairs.iter().any(|(k, _)| normalize_key(k) == "_method") {
                    return Err(EnvError::Ambiguous(Rejection::MethodOverride));
                }
                Ok(Body::Form(pairs))
            }
        }
    }

    /// The top-level object of a JSON body.
    fn object(&self) -> Option<&Map<String, Value>> {
        match self {
            Body::Json(Value::Object(map)) => Some(map),
            _ => None,
        }
    }
}

/// Reads a top-level string field of a JSON object body.
pub fn from_body(body: &Body, field: &str) -> Result<Option<String>, EnvError> {
    let Some(map) = body.object() else {
        return Err(match body {
            Body::Form(_) => EnvError::BadJson("the body is a form, not JSON".to_owned()),
            Body::Json(_) | Body::JsonKeys(_) => EnvError::NotObject,
        });
    };
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(EnvError::Empty(format!("body field `{field}`")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EnvError::NotString(field.to_owned())),
    }
}

/// One environment per request: every other place that names an
/// environment — a query key, a top-level JSON key or a form key that
/// [`normalize_key`] reads as one of `names` (`Environment`,
/// `environment[]`, `environment%20`), or a header among `names` — must
/// carry exactly the `decided` value; absent when nothing was decided.
/// The occurrence the route reads (`source`, spelled exactly) is the
/// decided value itself.
pub fn check_one(
    names: &EnvironmentNames,
    source: Option<&EnvironmentSource>,
    decided: Option<&str>,
    canonical: &Canonical,
    headers: &HeaderMap,
    body: Option<&Body>,
) -> Result<(), EnvError> {
    let agrees = |value: &str| decided == Some(value);
    for (key, value) in &canonical.query {
        let own = matches!(source, Some(EnvironmentSource::Query(n)) if n == key);
        if !own && names.names_key(key) && !agrees(value) {
            return Err(EnvError::Conflict(format!("query parameter `{key}`")));
        }
    }
    for (name, value) in headers {
        let name = name.as_str();
        if !names.headers().iter().any(|h| canon::same_name(name, h)) {
            continue;
        }
        let own = matches!(source, Some(EnvironmentSource::Header(h)) if h == name);
        let text = value.to_str().map(str::trim).unwrap_or("\u{fffd}");
        if !own && !agrees(text) {
            return Err(EnvError::Conflict(format!("header `{name}`")));
        }
    }
    match body {
        Some(Body::Form(pairs)) => {
            for (key, value) in pairs {
                if names.names_key(key) && !agrees(value) {
                    return Err(EnvError::Conflict(format!("form field `{key}`")));
                }
            }
        }
        Some(Body::JsonKeys(keys)) => {
            for (key, value) in keys {
                if names.names_key(key) && value.as_deref().is_none_or(|v| !agrees(v)) {
                    return Err(EnvError::Conflict(format!("body field `{key}`")));
                }
            }
        }
        Some(json) => {
            for (key, value) in json.object().into_iter().flatten() {
                let own = matches!(source, Some(EnvironmentSource::Body(f)) if f == key);
                if !own && names.names_key(key) && value.as_str().is_none_or(|v| !agrees(v)) {
                    return Err(EnvError::Conflict(format!("body field `{key}`")));
                }
            }
        }
        None => {}
    }
    Ok(())
}
