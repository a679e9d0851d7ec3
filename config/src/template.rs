//! Templates: route paths (`/orgs/{org}/journeys/{journey}`) and values over
//! their parameters (`{journey}`, `billing-{org}`).

use std::borrow::Cow;
use std::fmt;

/// A value template: literal text and `{param}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

/// A template that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template is empty")]
    Empty,
    #[error("unbalanced `{{` or `}}` in `{0}`")]
    Unbalanced(String),
    #[error(
        "parameter name `{0}` is not a name (letters, digits, `_`, starting with a letter or `_`)"
    )]
    BadName(String),
    #[error("path `{0}` must start with `/`")]
    NoLeadingSlash(String),
    #[error("path `{0}` has an empty segment (`//` or a trailing `/`)")]
    EmptySegment(String),
    #[error(
        "path `{0}` has a segment mixing text and a parameter; a parameter must be a whole segment"
    )]
    MixedSegment(String),
    #[error(
        "path `{0}` uses a catch-all `{{*…}}`; parameters match exactly one segment (use `public_prefixes` for prefixes)"
    )]
    CatchAll(String),
    #[error("path `{path}` uses parameter `{name}` twice")]
    DuplicateParam { path: String, name: String },
    #[error(
        "path `{0}` contains a character a canonical path never has (`%`, `\\`, `;`, `?`, `#`, space or control)"
    )]
    BadChar(String),
    #[error("path `{0}` has a `.` or `..` segment")]
    DotSegment(String),
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Parses `text` with `{name}` placeholders.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    break;
                }
                Some(i) if rest.as_bytes()[i] == b'}' => {
                    return Err(TemplateError::Unbalanced(text.to_owned()));
                }
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_owned()));
                    }
                    let after = &rest[i + 1..];
                    let close = after
                        .find('}')
                        .ok_or_else(|| TemplateError::Unbalanced(text.to_owned()))?;
                    let name = &after[..close];
                    if name.contains('{') {
                        return Err(TemplateError::Unbalanced(text.to_owned()));
                    }
                    if !is_name(name) {
                        return Err(TemplateError::BadName(name.to_owned()));
                    }
                    parts.push(Part::Param(name.to_owned()));
                    rest = &after[close + 1..];
                }
            }
        }
        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parameter names used, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Fills the placeholders from `param`; `None` when a parameter is missing.
    ///
    /// A template that is exactly one `{param}` borrows the value without allocating.
    pub fn render<'a>(&'a self, param: impl Fn(&str) -> Option<&'a str>) -> Option<Cow<'a, str>> {
        match self.parts.as_slice() {
            [Part::Param(name)] => param(name).map(Cow::Borrowed),
            [Part::Literal(text)] => Some(Cow::Borrowed(text)),
            parts => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Literal(text) => out.push_str(text),
                        Part::Param(name) => out.push_str(param(name)?),
                    }
                }
                Some(Cow::Owned(out))
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One segment of a parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// A route path: `/`-separated segments, each literal or one whole `{param}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    pub text: String,
    pub segments: Vec<Segment>,
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
        let owned = || text.to_owned();
        let body = text
            .strip_prefix('/')
            .ok_or_else(|| TemplateError::NoLeadingSlash(owned()))?;
        if text
            .chars()
            .any(|c| c.is_control() || matches!(c, '%' | '\\' | ';' | '?' | '#' | ' '))
        {
            return Err(TemplateError::BadChar(owned()));
        }
        let mut segments = Vec::new();
        if body.is_empty() {
            return Ok(PathTemplate {
                text: owned(),
                segments,
            });
        }
        for segment in body.split('/') {
            if segment.is_empty() {
                return Err(TemplateError::EmptySegment(owned()));
            }
            if segment == "." || segment == ".." {
                return Err(TemplateError::DotSegment(owned()));
            }
            if segment.starts_with("{*") {
                return Err(TemplateError::CatchAll(owned()));
            }
            let value = Template::parse(segment).map_err(|e| match e {
                TemplateError::Unbalanced(_) => TemplateError::Unbalanced(owned()),
                other => other,
            })?;
            match value.parts.as_slice() {
                [Part::Literal(lit)] => segments.push(Segment::Literal(lit.clone())),
                [Part::Param(name)] => {
                    if segments
                        .iter()
                        .any(|s| matches!(s, Segment::Param(n) if n == name))
                    {
                        return Err(TemplateError::DuplicateParam {
                            path: owned(),
                            name: name.clone(),
                        });
                    }
                    segments.push(Segment::Param(name.clone()));
                }
                _ => return Err(TemplateError::MixedSegment(owned())),
            }
        }
        Ok(PathTemplate {
            text: owned(),
            segments,
        })
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Param(n) if n == name))
    }

    /// A path both templates match, if any (parameters match any one segment).
    pub fn overlap(&self, other: &PathTemplate) -> Option<String> {
        if self.segments.len() != other.segments.len() {
            return None;
        }
        let mut path = String::new();
        for (a, b) in self.segments.iter().zip(&other.segments) {
            path.push('/');
            match (a, b) {
                (Segment::Literal(x), Segment::Literal(y)) if x != y => return None,
                (Segment::Literal(x), _) | (_, Segment::Literal(x)) => path.push_str(x),
                (Segment::Param(_), Segment::Param(_)) => path.push('x'),
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        Some(path)
    }

    /// Whether some path this template matches starts with `prefix` (which ends in `/`).
    pub fn may_start_with(&self, prefix: &str) -> bool {
        let wanted: Vec<&str> = prefix
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        // A path of n segments starts with `prefix` only if it has more than n
        // segments (the prefix ends in `/`, so the path continues after it).
        if self.segments.len() <= wanted.len() {
            return false;
        }
        self.segments.iter().zip(&wanted).all(|(s, w)| match s {
            Segment::Literal(lit) => lit == w,
            Segment::Param(_) => true,
        })
    }
}

#[cfg(test)]
mod tests;
