//! The canonicalizer, on random request targets. Under the default rules it
//! agrees with a reference model ([`crate::canonical_model`]) on accept or
//! refuse and on the canonical path, query and target. Under both the
//! default and the strict rules it never panics; an accepted target is a fixed point
//! (canonicalizing the canonical target again gives the same path, query
//! and target); and an accepted form never holds what the rules forbid (a
//! dot or empty segment, a backslash, a control character, an encoded `/`,
//! `\`, `;`, `#` or `%`, or an empty segment in the decoded path).

use http::HeaderMap;
use reqflo_gateway::canon::{Canonical, Rules, canonicalize};

pub fn check(data: &[u8]) {
    let headers = HeaderMap::new();
    let strict = Rules {
        reject_any_duplicate_query: true,
        reject_any_duplicate_header: true,
        reject_encoded_unreserved: true,
        reject_non_ascii_path: true,
        max_path_bytes: Some(2048),
    };
    let model = crate::canonical_model::canonical(data);
    let actual = canonicalize(data, &headers, &Rules::default());
    match (&model, &actual) {
        (None, Err(_)) => {}
        (Some((path, query, target)), Ok(c)) => assert_eq!(
            (path, query, target),
            (&c.path, &c.query, &c.target),
            "the model and the canonicalizer disagree on {:?}",
            String::from_utf8_lossy(data)
        ),
        _ => panic!(
            "the model says {model:?}, the canonicalizer {actual:?}, for {:?}",
            String::from_utf8_lossy(data)
        ),
    }
    for rules in [Rules::default(), strict] {
        let Ok(canonical) = canonicalize(data, &headers, &rules) else {
            continue;
        };
        holds_no_forbidden_form(data, &canonical);
        let again = canonicalize(canonical.target.as_bytes(), &headers, &rules);
        assert_eq!(
            again.as_ref(),
            Ok(&canonical),
            "not a fixed point: {:?} → {:?}",
            String::from_utf8_lossy(data),
            canonical.target
        );
    }
}

fn holds_no_forbidden_form(data: &[u8], canonical: &Canonical) {
    let input = String::from_utf8_lossy(data);
    let target = canonical.target.as_str();
    let path_end = target.find('?').unwrap_or(target.len());
    let path = &target[..path_end];
    assert!(path.starts_with('/'), "{input:?} → {target:?}");
    if path != "/" {
        for segment in path[1..].split('/') {
            assert!(
                !segment.is_empty() && segment != "." && segment != "..",
                "{input:?} → {target:?}: segment {segment:?}"
            );
        }
    }
    let lower = target.to_ascii_lowercase();
    for forbidden in ["%2f", "%5c", "%3b", "%23", "%25"] {
        assert!(
            !lower[..path_end].contains(forbidden),
            "{input:?} → {target:?} holds {forbidden}"
        );
    }
    assert!(!target.contains('\\'), "{input:?} → {target:?}");
    assert!(!target.contains('#'), "{input:?} → {target:?}");
    assert!(
        !target.chars().any(char::is_control),
        "{input:?} → {target:?} holds a control character"
    );
    assert!(
        !canonical.path.contains("//"),
        "{input:?}: the decoded path {:?} has an empty segment",
        canonical.path
    );
}
