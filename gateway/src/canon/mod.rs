//! Step 1 of the pipeline: one canonical form of the request, or a rejection.
//!
//! Nothing is "cleaned up": a request that could be read two ways (by the
//! gateway and by the backend behind it) is refused with 400 before routing.
//! The decision is made on [`Canonical`], and [`Canonical::target`] is exactly
//! what is forwarded upstream.

mod percent;
#[cfg(test)]
mod tests;

use http::HeaderMap;

use percent::Part;

/// Why a request was refused before routing. Each has a stable code, used as
/// a bounded metric label and in the 400 body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    #[error("the request target must be an absolute path")]
    InvalidTarget,
    #[error("the path has a `.` or `..` segment")]
    DotSegment,
    #[error("the path has an empty segment (`//` or a trailing `/`)")]
    EmptySegment,
    #[error("the request target has a percent-encoded `/`, `\\`, `;`, `#` or `?`")]
    EncodedDelimiter,
    #[error("the request target is percent-encoded twice (`%25`)")]
    DoubleEncoding,
    #[error("the request target has a malformed percent escape")]
    InvalidEncoding,
    #[error("the request target is not valid UTF-8 once decoded")]
    InvalidUtf8,
    #[error("the request has a control character")]
    ControlCharacter,
    #[error("the request target has a character that must be percent-encoded")]
    InvalidCharacter,
    #[error("the path has a non-ASCII character")]
    NonAsciiPath,
    #[error("the request target percent-encodes a character that needs no encoding")]
    EncodedUnreserved,
    #[error("the request target has a backslash")]
    Backslash,
    #[error("the path has a `;` parameter")]
    PathParameter,
    #[error("the query uses `;` as a separator")]
    QuerySemicolon,
    #[error("the query has an empty parameter")]
    EmptyQueryParameter,
    #[error("the path is longer than allowed")]
    PathTooLong,
    #[error("method-override headers and parameters are not accepted")]
    MethodOverride,
    #[error("a query parameter that feeds the decision appears more than once")]
    DuplicateQuery,
    #[error("a header that feeds the decision appears more than once")]
    DuplicateHeader,
    #[error("a value that feeds the decision is a comma-joined list")]
    CommaJoined,
    #[error("a header is spelled with underscores where its dash-named twin feeds the decision")]
    UnderscoreHeader,
    #[error("`Content-Length` and `Transfer-Encoding` conflict or are malformed")]
    ConflictingLength,
    #[error("a header that feeds the decision has a value that is not plain text")]
    InvalidHeaderValue,
    #[error("the request is not valid HTTP")]
    BadRequest,
    #[error(
        "the `Connection` header names a header other than `close`, `keep-alive`, `upgrade` and `te`"
    )]
    ConnectionNomination,
    #[error("the request carries a URL-rewrite header (`X-Original-URL` and the like)")]
    RewriteHeader,
    #[error("this route does not carry a protocol upgrade (`Upgrade`)")]
    UpgradeNotAllowed,
}

impl Rejection {
    /// Every rejection, for pre-registering metric label values.
    pub const ALL: &'static [Rejection] = &[
        Rejection::InvalidTarget,
        Rejection::DotSegment,
        Rejection::EmptySegment,
        Rejection::EncodedDelimiter,
        Rejection::DoubleEncoding,
        Rejection::InvalidEncoding,
        Rejection::InvalidUtf8,
        Rejection::ControlCharacter,
        Rejection::InvalidCharacter,
        Rejection::NonAsciiPath,
        Rejection::EncodedUnreserved,
        Rejection::Backslash,
        Rejection::PathParameter,
        Rejection::QuerySemicolon,
        Rejection::EmptyQueryParameter,
        Rejection::PathTooLong,
        Rejection::MethodOverride,
        Rejection::DuplicateQuery,
        Rejection::DuplicateHeader,
        Rejection::CommaJoined,
        Rejection::UnderscoreHeader,
        Rejection::ConflictingLength,
        Rejection::InvalidHeaderValue,
        Rejection::BadRequest,
        Rejection::ConnectionNomination,
        Rejection::RewriteHeader,
        Rejection::UpgradeNotAllowed,
    ];

    /// The stable code: a metric label and the `code` of the 400 body.
    pub const fn code(self) -> &'static str {
        match self {
            Rejection::InvalidTarget => "invalid_target",
            Rejection::DotSegment => "dot_segment",
            Rejection::EmptySegment => "empty_segment",
            Rejection::EncodedDelimiter => "encoded_delimiter",
            Rejection::DoubleEncoding => "double_encoding",
            Rejection::InvalidEncoding => "invalid_encoding",
            Rejection::InvalidUtf8 => "invalid_utf8",
            Rejection::ControlCharacter => "control_character",
            Rejection::InvalidCharacter => "invalid_character",
            Rejection::NonAsciiPath => "non_ascii_path",
            Rejection::EncodedUnreserved => "encoded_unreserved",
            Rejection::Backslash => "backslash",
            Rejection::PathParameter => "path_parameter",
            Rejection::QuerySemicolon => "query_semicolon",
            Rejection::EmptyQueryParameter => "empty_query_parameter",
            Rejection::PathTooLong => "path_too_long",
            Rejection::MethodOverride => "method_override",
            Rejection::DuplicateQuery => "duplicate_query_parameter",
            Rejection::DuplicateHeader => "duplicate_header",
            Rejection::CommaJoined => "comma_joined_value",
            Rejection::UnderscoreHeader => "underscore_header",
            Rejection::ConflictingLength => "conflicting_length",
            Rejection::InvalidHeaderValue => "invalid_header_value",
            Rejection::BadRequest => "bad_request",
            Rejection::ConnectionNomination => "connection_nomination",
            Rejection::RewriteHeader => "rewrite_header",
            Rejection::UpgradeNotAllowed => "upgrade_not_allowed",
        }
    }
}

/// The optional extra rules (the route config's `strict:` block); each can
/// only make the gateway stricter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub reject_any_duplicate_query: bool,
    pub reject_any_duplicate_header: bool,
    pub reject_encoded_unreserved: bool,
    pub reject_non_ascii_path: bool,
    pub max_path_bytes: Option<usize>,
}

impl From<&reqflo_config::Strict> for Rules {
    fn from(s: &reqflo_config::Strict) -> Rules {
        Rules {
            reject_any_duplicate_query: s.reject_any_duplicate_query,
            reject_any_duplicate_header: s.reject_any_duplicate_header,
            reject_encoded_unreserved: s.reject_encoded_unreserved,
            reject_non_ascii_path: s.reject_non_ascii_path,
            max_path_bytes: s.max_path_bytes,
        }
    }
}

/// The one form of a request the gateway decides on and forwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Canonical {
    /// Decoded segments joined with `/` (no segment contains `/`): the form
    /// routes are matched against.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The re-encoded path and query: the request target sent upstream.
    pub target: String,
}

/// The headers through which a client asks a backend to treat the request as
/// another method; all refused (with their underscore spellings).
const METHOD_OVERRIDE_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Headers through which a client asks a backend (or a framework's rewrite
/// middleware) to treat the request as another path; all refused, in every
/// spelling.
const REWRITE_HEADERS: &[&str] = &[
    "x-original-url",
    "x-original-uri",
    "x-original-path",
    "x-rewrite-url",
    "x-envoy-original-path",
    "x-envoy-original-url",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
    "x-forwarded-url",
];

/// The `Connection` tokens accepted: the standard hop-by-hop ones. Any other
/// token asks every proxy on the way to drop that header, which could remove
/// something the decision read before the backend sees it.
const CONNECTION_TOKENS: &[&str] = &["close", "keep-alive", "upgrade", "te"];

/// Canonicalizes the request target and checks the headers every request is
/// held to, or says why the request is ambiguous.
pub fn canonicalize(
    raw_target: &[u8],
    headers: &HeaderMap,
    rules: &Rules,
) -> Result<Canonical, Rejection> {
    check_headers(headers, rules)?;
    let (raw_path, raw_query) = match raw_target.iter().position(|b| *b == b'?') {
        Some(i) => (&raw_target[..i], Some(&raw_target[i + 1..])),
        None => (raw_target, None),
    };
    if raw_path.first() != Some(&b'/') {
        return Err(Rejection::InvalidTarget);
    }
    if rules.max_path_bytes.is_some_and(|max| raw_path.len() > max) {
        return Err(Rejection::PathTooLong);
    }
    if rules.reject_non_ascii_path && !raw_path.is_ascii() {
        return Err(Rejection::NonAsciiPath);
    }
    if std::str::from_utf8(raw_target).is_err() {
        return Err(Rejection::InvalidUtf8);
    }
    let mut canonical = Canonical {
        path: String::with_capacity(raw_path.len()),
        ..Canonical::default()
    };
    let mut target = String::with_capacity(raw_target.len());
    if raw_path == b"/" {
        canonical.path.push('/');
        target.push('/');
    } else if let Some(path) = verbatim_path(raw_path)? {
        canonical.path.push_str(path);
        target.push_str(path);
    } else {
        for raw in raw_path[1..].split(|b| *b == b'/') {
            if raw.is_empty() {
                return Err(Rejection::EmptySegment);
            }
            let segment = percent::decode(raw, Part::PathSegment, rules.reject_encoded_unreserved)?;
            if segment == "." || segment == ".." {
                return Err(Rejection::DotSegment);
            }
            if rules.reject_non_ascii_path && !segment.is_ascii() {
                return Err(Rejection::NonAsciiPath);
            }
            canonical.path.push('/');
            canonical.path.push_str(&segment);
            target.push('/');
            percent::encode_into(&mut target, &segment, Part::PathSegment);
        }
        // The limit holds for the path forwarded too, which re-encoding can
        // lengthen (`[` is sent as `%5B`): otherwise the canonical form of
        // a request would itself be refused.
        if rules.max_path_bytes.is_some_and(|max| target.len() > max) {
            return Err(Rejection::PathTooLong);
        }
    }
    if let Some(raw_query) = raw_query.filter(|q| !q.is_empty()) {
        target.push('?');
        for (n, pair) in raw_query.split(|b| *b == b'&').enumerate() {
            if pair.is_empty() {
                return Err(Rejection::EmptyQueryParameter);
            }
            let (raw_key, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = percent::decode(raw_key, Part::Query, rules.reject_encoded_unreserved)?;
            let value = percent::decode(raw_value, Part::Query, rules.reject_encoded_unreserved)?;
            if key.is_empty() {
                return Err(Rejection::EmptyQueryParameter);
            }
            if key.eq_ignore_ascii_case("_method") {
                return Err(Rejection::MethodOverride);
            }
            if rules.reject_any_duplicate_query
                && canonical
                    .query
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                return Err(Rejection::DuplicateQuery);
            }
            if n > 0 {
                target.push('&');
            }
            percent::encode_into(&mut target, &key, Part::Query);
            target.push('=');
            percent::encode_into(&mut target, &value, Part::Query);
            canonical.query.push((key.into_owned(), value.into_owned()));
        }
    }
    canonical.target = target;
    Ok(canonical)
}

/// The path as it is when it is already canonical (the usual case): only
/// kept characters, no empty and no dot segment. `None`: take the long way.
fn verbatim_path(raw_path: &[u8]) -> Result<Option<&str>, Rejection> {
    if !raw_path
        .iter()
        .all(|b| *b == b'/' || percent::kept(*b, Part::PathSegment))
    {
        return Ok(None);
    }
    for segment in raw_path[1..].split(|b| *b == b'/') {
        match segment {
            b"" => return Err(Rejection::EmptySegment),
            b"." | b".." => return Err(Rejection::DotSegment),
            _ => {}
        }
    }
    std::str::from_utf8(raw_path)
        .map(Some)
        .map_err(|_| Rejection::InvalidUtf8)
}

impl Canonical {
    /// The one value of a query parameter that feeds a decision.
    ///
    /// Twice (in any letter case) → [`Rejection::DuplicateQuery`]; a value
    /// with a comma → [`Rejection::CommaJoined`].
    /// The value is the key spelled exactly `name`; another letter case of
    /// it counts as a duplicate here, and any other variant
    /// (`environment[]`, `Environment` alone) is checked against the decided
    /// value by [`crate::environment::check_one`].
    pub fn decision_query(&self, name: &str) -> Result<Option<&str>, Rejection> {
        let mut found = None;
        let mut seen = false;
        for (key, value) in &self.query {
            if key.eq_ignore_ascii_case(name) {
                if seen {
                    return Err(Rejection::DuplicateQuery);
                }
                seen = true;
                if key == name {
                    found = Some(value.as_str());
                }
            }
        }
        if found.is_some_and(|v| v.as_bytes().contains(&b',')) {
            return Err(Rejection::CommaJoined);
        }
        Ok(found)
    }
}

/// The one value of a header that feeds a decision (`authorization`, an
/// environment header, a trusted identity header).
///
/// Refused: the header twice, a comma-joined value, a value that is not
/// visible ASCII, and any header whose name with `_` read as `-` is this one.
pub fn decision_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, Rejection> {
    if headers
        .keys()
        .any(|k| k.as_str().as_bytes().contains(&b'_') && same_name(k.as_str(), name))
    {
        return Err(Rejection::UnderscoreHeader);
    }
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::DuplicateHeader);
    }
    let text = value.to_str().map_err(|_| Rejection::InvalidHeaderValue)?;
    if text.bytes().any(|b| b.is_ascii_control()) {
        return Err(Rejection::InvalidHeaderValue);
    }
    if text.as_bytes().contains(&b',') {
        return Err(Rejection::CommaJoined);
    }
    Ok(Some(text.trim()))
}

/// Header names compared as a lenient backend would: case-insensitive, `_` as `-`.
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| {
                if c == b'_' {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            norm(x) == norm(y)
        })
}

fn check_headers(headers: &HeaderMap, rules: &Rules) -> Result<(), Rejection> {
    for name in headers.keys() {
        let n = name.as_str();
        // Most headers start with neither `x` nor `c`: skip the lists.
        if matches!(n.as_bytes().first(), Some(b'x' | b'c')) {
            if METHOD_OVERRIDE_HEADERS.iter().any(|m| same_name(n, m)) {
                return Err(Rejection::MethodOverride);
            }
            if REWRITE_HEADERS.iter().any(|m| same_name(n, m)) {
                return Err(Rejection::RewriteHeader);
            }
            if same_name(n, "connection") {
                check_connection(headers.get_all(name))?;
            }
        }
        if rules.reject_any_duplicate_header && headers.get_all(name).iter().nth(1).is_some() {
            return Err(Rejection::DuplicateHeader);
        }
        // A `Content_Length` or `Transfer_Encoding` is a framing header some
        // backend may honour; a `Content_Type` could make it parse the body
        // as something other than what the gateway read.
        if name.as_str().as_bytes().contains(&b'_')
            && (same_name(name.as_str(), "content-length")
                || same_name(name.as_str(), "transfer-encoding")
                || same_name(name.as_str(), "content-type"))
        {
            return Err(Rejection::UnderscoreHeader);
        }
    }
    check_framing(headers)
}

/// Every `Connection` token is a standard hop-by-hop one (any letter case).
fn check_connection(values: http::header::GetAll<'_, http::HeaderValue>) -> Result<(), Rejection> {
    for value in values {
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii();
            if token.is_empty() {
                continue;
            }
            if !CONNECTION_TOKENS
                .iter()
                .any(|t| t.as_bytes().eq_ignore_ascii_case(token))
            {
                return Err(Rejection::ConnectionNomination);
            }
        }
    }
    Ok(())
}

/// One unambiguous body framing: at most one `Content-Length` with one
/// decimal value, or `Transfer-Encoding: chunked` alone, never both.
fn check_framing(headers: &HeaderMap) -> Result<(), Rejection> {
    let mut lengths = headers.get_all(http::header::CONTENT_LENGTH).iter();
    let mut encodings = headers.get_all(http::header::TRANSFER_ENCODING).iter();
    let (length, encoding) = (lengths.next(), encodings.next());
    if length.is_some() && encoding.is_some() {
        return Err(Rejection::ConflictingLength);
    }
    if lengths.next().is_some() || encodings.next().is_some() {
        return Err(Rejection::ConflictingLength);
    }
    if let Some(length) = length {
        let bytes = length.as_bytes();
        if bytes.is_empty() || bytes.len() > 19 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(Rejection::ConflictingLength);
        }
    }
    if let Some(encoding) = encoding
        && !encoding.as_bytes().eq_ignore_ascii_case(b"chunked")
    {
        return Err(Rejection::ConflictingLength);
    }
    Ok(())
}
