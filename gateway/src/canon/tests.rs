use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    map
}

fn canon(target: &[u8]) -> Result<Canonical, Rejection> {
    canonicalize(target, &HeaderMap::new(), &Rules::default())
}

#[test]
fn accepted_targets_and_their_canonical_forms() {
    let table: &[(&[u8], &str, &str)] = &[
        (b"/", "/", "/"),
        (
            b"/api/v1/orgs/acme/journeys/j1",
            "/api/v1/orgs/acme/journeys/j1",
            "/api/v1/orgs/acme/journeys/j1",
        ),
        (b"/a/%41b", "/a/Ab", "/a/Ab"),
        (b"/a/b%20c", "/a/b c", "/a/b%20c"),
        (b"/a/caf%C3%A9", "/a/caf\u{e9}", "/a/caf%C3%A9"),
        (b"/a/b?env=prod", "/a/b", "/a/b?env=prod"),
        (b"/a/b?", "/a/b", "/a/b"),
        (b"/a/b?x=1+2", "/a/b", "/a/b?x=1%2B2"),
        (b"/a/b?next=%2Fhome", "/a/b", "/a/b?next=/home"),
        (b"/a/...", "/a/...", "/a/..."),
        (b"/a/.well-known", "/a/.well-known", "/a/.well-known"),
    ];
    for (target, path, forwarded) in table {
        let c = canon(target)
            .unwrap_or_else(|e| panic!("{:?} rejected: {e}", String::from_utf8_lossy(target)));
        assert_eq!(c.path, *path, "{:?}", String::from_utf8_lossy(target));
        assert_eq!(
            c.target,
            *forwarded,
            "{:?}",
            String::from_utf8_lossy(target)
        );
    }
}

#[test]
fn rejected_targets() {
    use Rejection::*;
    let table: &[(&[u8], Rejection)] = &[
        (b"api/v1", InvalidTarget),
        (b"http://evil/a", InvalidTarget),
        (b"*", InvalidTarget),
        (b"/a/../b", DotSegment),
        (b"/a/./b", DotSegment),
        (b"/a/..", DotSegment),
        (b"/a/%2e%2e/b", DotSegment),
        (b"/a/%2E/b", DotSegment),
        (b"/a/.%2e/b", DotSegment),
        (b"/a//b", EmptySegment),
        (b"//a", EmptySegment),
        (b"/a/b/", EmptySegment),
        (b"/a%2Fb", EncodedDelimiter),
        (b"/a%2fb", EncodedDelimiter),
        (b"/a%5Cb", EncodedDelimiter),
        (b"/a%3Bx=1", EncodedDelimiter),
        (b"/a%23b", EncodedDelimiter),
        (b"/a%3Fb", EncodedDelimiter),
        (b"/a%00b", ControlCharacter),
        (b"/a%0Ab", ControlCharacter),
        (b"/a%252e%252e/b", DoubleEncoding),
        (b"/a/%252F", DoubleEncoding),
        (b"/a/%2", InvalidEncoding),
        (b"/a/%zz", InvalidEncoding),
        (b"/a/%C0%AE%C0%AE/b", InvalidUtf8),
        (b"/a/%C0%AF", InvalidUtf8),
        (b"/a/%FF", InvalidUtf8),
        (b"/a/\xff", InvalidUtf8),
        (b"/a/b\x01", ControlCharacter),
        (b"/a\\b", Backslash),
        (b"/a/b;x=y", PathParameter),
        (b"/a/b;jsessionid=1/c", PathParameter),
        (b"/a b", InvalidCharacter),
        (b"/a/b?x=1;y=2", QuerySemicolon),
        (b"/a/b?x=1&&y=2", EmptyQueryParameter),
        (b"/a/b?=1", EmptyQueryParameter),
        (b"/a/b?_method=DELETE", MethodOverride),
        (b"/a/b?_METHOD=DELETE", MethodOverride),
        (b"/a/b?x=%25", DoubleEncoding),
        (b"/a/b?x=%00", ControlCharacter),
    ];
    for (target, expected) in table {
        assert_eq!(
            canon(target),
            Err(*expected),
            "{:?}",
            String::from_utf8_lossy(target)
        );
    }
}

#[test]
fn stricter_rules() {
    let strict = Rules {
        reject_any_duplicate_query: true,
        reject_any_duplicate_header: true,
        reject_encoded_unreserved: true,
        reject_non_ascii_path: true,
        max_path_bytes: Some(16),
    };
    let h = HeaderMap::new();
    assert_eq!(
        canonicalize(b"/a/%41", &h, &strict),
        Err(Rejection::EncodedUnreserved)
    );
    assert_eq!(
        canonicalize(b"/a/caf%C3%A9", &h, &strict),
        Err(Rejection::NonAsciiPath)
    );
    assert_eq!(
        canonicalize(b"/a/b?x=1&X=2", &h, &strict),
        Err(Rejection::DuplicateQuery)
    );
    // The limit holds for the forwarded form too, which re-encoding
    // lengthens (found by the canonicalizer fuzz target: the canonical
    // target was otherwise refused when canonicalized again).
    assert_eq!(
        canonicalize(b"/[[[[[[", &h, &strict),
        Err(Rejection::PathTooLong)
    );
    assert!(canonicalize(b"/[[[[[", &h, &strict).is_ok());
    assert_eq!(
        canonicalize(b"/aaaaaaaaaaaaaaaaaaaa", &h, &strict),
        Err(Rejection::PathTooLong)
    );
    let dup = headers(&[("accept", "a"), ("accept", "b")]);
    assert_eq!(
        canonicalize(b"/a", &dup, &strict),
        Err(Rejection::DuplicateHeader)
    );
    assert!(canonicalize(b"/a", &dup, &Rules::default()).is_ok());
}

#[test]
fn header_rules() {
    use Rejection::*;
    let table: &[(&[(&str, &str)], Rejection)] = &[
        (&[("x-http-method-override", "DELETE")], MethodOverride),
        (&[("x-http-method", "DELETE")], MethodOverride),
        (&[("x-method-override", "DELETE")], MethodOverride),
        (&[("x_http_method_override", "DELETE")], MethodOverride),
        (
            &[("content-length", "5"), ("transfer-encoding", "chunked")],
            ConflictingLength,
        ),
        (
            &[("content-length", "5"), ("content-length", "6")],
            ConflictingLength,
        ),
        (
            &[("content-length", "5"), ("content-length", "5")],
            ConflictingLength,
        ),
        (&[("content-length", "5, 6")], ConflictingLength),
        (&[("content-length", "-1")], ConflictingLength),
        (&[("transfer-encoding", "gzip, chunked")], ConflictingLength),
        (
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ],
            ConflictingLength,
        ),
        (&[("content_length", "5")], UnderscoreHeader),
    ];
    for (pairs, expected) in table {
        assert_eq!(
            canonicalize(b"/a", &headers(pairs), &Rules::default()),
            Err(*expected),
            "{pairs:?}"
        );
    }
    assert!(
        canonicalize(
            b"/a",
            &headers(&[("content-length", "12")]),
            &Rules::default()
        )
        .is_ok()
    );
    assert!(
        canonicalize(
            b"/a",
            &headers(&[("transfer-encoding", "Chunked")]),
            &Rules::default()
        )
        .is_ok()
    );
}

#[test]
fn decision_values() {
    let c = canon(b"/a?env=prod&other=1&other=2").unwrap();
    assert_eq!(c.decision_query("env"), Ok(Some("prod")));
    assert_eq!(c.decision_query("missing"), Ok(None));
    assert_eq!(c.decision_query("other"), Err(Rejection::DuplicateQuery));
    let c = canon(b"/a?env=prod&ENV=staging").unwrap();
    assert_eq!(c.decision_query("env"), Err(Rejection::DuplicateQuery));
    let c = canon(b"/a?env=prod,staging").unwrap();
    assert_eq!(c.decision_query("env"), Err(Rejection::CommaJoined));
    let c = canon(b"/a?env=prod%2Cstaging").unwrap();
    assert_eq!(c.decision_query("env"), Err(Rejection::CommaJoined));

    let h = headers(&[("x-env", "prod")]);
    assert_eq!(decision_header(&h, "x-env"), Ok(Some("prod")));
    assert_eq!(decision_header(&h, "x-other"), Ok(None));
    let h = headers(&[("x-env", "prod"), ("x-env", "staging")]);
    assert_eq!(
        decision_header(&h, "x-env"),
        Err(Rejection::DuplicateHeader)
    );
    let h = headers(&[("x-env", "prod, staging")]);
    assert_eq!(decision_header(&h, "x-env"), Err(Rejection::CommaJoined));
    let h = headers(&[("x-env", "prod"), ("x_env", "staging")]);
    assert_eq!(
        decision_header(&h, "x-env"),
        Err(Rejection::UnderscoreHeader)
    );
    let h = headers(&[("x_env", "staging")]);
    assert_eq!(
        decision_header(&h, "x-env"),
        Err(Rejection::UnderscoreHeader)
    );
    let h = headers(&[("x-env", "caf\u{e9}")]);
    assert_eq!(
        decision_header(&h, "x-env"),
        Err(Rejection::InvalidHeaderValue)
    );
}

#[test]
fn codes_are_unique_and_snake_case() {
    let mut codes: Vec<_> = Rejection::ALL.iter().map(|r| r.code()).collect();
    assert!(codes.iter().all(|c| {
        c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Rejection::ALL.len());
}
