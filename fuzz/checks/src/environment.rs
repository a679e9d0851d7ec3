//! The environment readers on random bodies: never a panic, and whenever
//! the gateway accepts a request, every way a backend could read an
//! environment from the body reads the decided one.
//!
//! The first byte picks the route shape: a JSON body whose `environment`
//! field is decided, a JSON body on a route that decides no environment
//! (only the top-level keys are read), or a form body on such a route.
//! A backend's readings are modelled independently of the gateway's code:
//! a last-wins JSON decoder (`serde_json`), a case-insensitive one (Go's
//! `encoding/json` matches field names ignoring case), and lenient form and
//! JSON key readers that trim, ignore case and cut a `[...]` suffix (PHP,
//! `qs`, Rails).

use http::HeaderMap;
use reqflo_config::{EnvironmentNames, EnvironmentSource};
use reqflo_gateway::canon::Canonical;
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
    let field = EnvironmentSource::Body("environment".to_owned());
    let (kind, source) = match shape % 3 {
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
