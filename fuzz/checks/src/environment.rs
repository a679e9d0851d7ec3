//! The environment readers on random bodies: never a panic, and whenever
//! the gateway accepts a request, every way a backend could read an
//! environment from the body reads the decided one.
//!
//! The first byte picks the route shape: a JSON body whose `environment`
//! field is decided, a JSON body on a route that decides no environment
//! (only the top-level keys are read), a form body on such a route, a query
//! string on a route that decides `?environment=`, or header lines on a
//! route that decides `X-Reqflo-Environment`. For the query, what a backend
//! reads is the forwarded (canonical) target, decoded as a form.
//! A backend's readings are modelled independently of the gateway's code:
//! a last-wins JSON decoder (`serde_json`), a case-insensitive one (Go's
//! `encoding/json` matches field names ignoring case), and lenient form and
//! JSON key readers that trim, ignore case and cut a `[...]` suffix (PHP,
//! `qs`, Rails).

use http::{HeaderMap, HeaderName, HeaderValue};
use reqflo_config::{EnvironmentNames, EnvironmentSource};
use reqflo_gateway::canon::{self, Canonical, Rules, canonicalize};
use reqflo_gateway::environment::{Body, BodyKind, check_one, from_body};
use serde_json::Value;

/// The environment keys a backend could read, modelled on its own: trimmed,
/// case folded, a `[…]` suffix cut, `.` and ` ` read as `_`.
fn names_environment(key: &str) -> bool {
    let cut = key.trim().split('[').next().unwrap_or("");
    let folded: String = cut
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == '.' || c == ' ' { '_' } else { c })
        .collect();
    folded == "environment" || folded == "env"
}

pub fn check(data: &[u8]) {
    let Some((&shape, body)) = data.split_first() else {
        return;
    };
    match shape % 5 {
        3 => return query(body),
        4 => return headers(body),
        _ => {}
    }
    let field = EnvironmentSource::Body("environment".to_owned());
    let (kind, source) = match shape % 5 {
        0 => (BodyKind::Json, Some(&field)),
        1 => (BodyKind::Json, None),
        _ => (BodyKind::Form, None),
    };
    let names = EnvironmentNames::from_sources(source);
    let Ok(parsed) = Body::parse(body, kind, source.is_some()) else {
        return;
    };
    let decided = match source {
        Some(_) => match from_body(&parsed, "environment") {
            Ok(decided) => decided,
            Err(_) => return,
        },
        None => None,
    };
    let accepted = check_one(
        &names,
        source,
        decided.as_deref(),
        &Canonical::default(),
        &HeaderMap::new(),
        Some(&parsed),
    )
    .is_ok();
    if !accepted {
        return;
    }
    match kind {
        BodyKind::Json => {
            let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            for (key, value) in &map {
                if names_environment(key) {
                    assert_eq!(
                        value.as_str(),
                        decided.as_deref(),
                        "key {key:?} reads another environment than the decided {decided:?}"
                    );
                }
            }
        }
        BodyKind::Form => {
            for (key, value) in form_urlencoded::parse(body) {
                assert!(
                    !names_environment(&key),
                    "form key {key:?} = {value:?} names an environment the gateway did not decide"
                );
            }
        }
    }
}

/// `?environment=` decides; every key of the forwarded query a backend
/// reads as an environment carries the decided value.
fn query(raw: &[u8]) {
    let mut target = b"/runs?".to_vec();
    target.extend_from_slice(raw);
    let Ok(canonical) = canonicalize(&target, &HeaderMap::new(), &Rules::default()) else {
        return;
    };
    let source = EnvironmentSource::Query("environment".to_owned());
    let names = EnvironmentNames::from_sources([&source]);
    let Ok(decided) = canonical.decision_query("environment") else {
        return;
    };
    let ok = check_one(
        &names,
        Some(&source),
        decided,
        &canonical,
        &HeaderMap::new(),
        None,
    );
    if ok.is_err() {
        return;
    }
    let forwarded = canonical.target.split_once('?').map_or("", |(_, q)| q);
    for (key, value) in form_urlencoded::parse(forwarded.as_bytes()) {
        if names_environment(&key) {
            assert_eq!(
                Some(&*value),
                decided,
                "forwarded query key {key:?} reads another environment than the decided {decided:?}"
            );
        }
    }
}

/// The environment header names a backend might read, modelled on its own:
/// any letter case, `_` for `-`.
fn names_environment_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    matches!(
        name.as_str(),
        "x-reqflo-environment" | "x-environment" | "x-env"
    )
}

/// `X-Reqflo-Environment` decides; every header a backend reads as an
/// environment carries the decided value.
fn headers(raw: &[u8]) {
    let mut map = HeaderMap::new();
    for line in raw.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    // The pipeline canonicalizes (and checks every header) first.
    if canonicalize(b"/runs", &map, &Rules::default()).is_err() {
        return;
    }
    let source = EnvironmentSource::Header("x-reqflo-environment".to_owned());
    let names = EnvironmentNames::from_sources([&source]);
    let Ok(decided) = canon::decision_header(&map, "x-reqflo-environment") else {
        return;
    };
    let ok = check_one(
        &names,
        Some(&source),
        decided,
        &Canonical::default(),
        &map,
        None,
    );
    if ok.is_err() {
        return;
    }
    for (name, value) in &map {
        if names_environment_header(name.as_str()) {
            let text = value.to_str().map(str::trim).ok();
            assert_eq!(
                text, decided,
                "header {name} reads another environment than the decided {decided:?}"
            );
        }
    }
}
