use http::{HeaderMap, HeaderValue};
use reqflo_config::EnvironmentSource;

use super::*;
use crate::canon::{Rules, canonicalize};

fn json_field(bytes: &[u8], field: &str) -> Result<Option<String>, EnvError> {
    Body::parse(bytes, BodyKind::Json, true).and_then(|b| from_body(&b, field))
}

#[test]
fn body_field() {
    assert_eq!(
        json_field(br#"{"environment":"production","x":1}"#, "environment"),
        Ok(Some("production".into()))
    );
    assert_eq!(json_field(br#"{"x":1}"#, "environment"), Ok(None));
    assert_eq!(
        json_field(br#"{"environment":null}"#, "environment"),
        Ok(None)
    );
    assert_eq!(
        json_field(br#"{"environment":7}"#, "environment"),
        Err(EnvError::NotString("environment".into()))
    );
    assert_eq!(
        json_field(br#"{"environment":""}"#, "environment").map_err(|e| e.code()),
        Err("environment_empty")
    );
    assert_eq!(
        json_field(br#"["production"]"#, "environment"),
        Err(EnvError::NotObject)
    );
    assert_eq!(
        json_field(b"", "environment").map_err(|e| e.code()),
        Err("body_not_json")
    );
    assert_eq!(
        json_field(br#"{"environment":"a"} x"#, "environment").map_err(|e| e.code()),
        Err("body_not_json")
    );
    assert_eq!(
        json_field(br#"{"environment":"a""#, "environment").map_err(|e| e.code()),
        Err("body_not_json")
    );
}

#[test]
fn duplicate_keys_are_refused_at_any_depth() {
    assert_eq!(
        json_field(
            br#"{"environment":"staging","environment":"production"}"#,
            "environment"
        ),
        Err(EnvError::DuplicateKey("environment".into()))
    );
    assert_eq!(
        json_field(
            br#"{"environment":"staging","inputs":{"a":1,"a":2}}"#,
            "environment"
        ),
        Err(EnvError::DuplicateKey("a".into()))
    );
    assert_eq!(
        json_field(
            br#"{"environment":"staging","list":[{"b":1,"b":1}]}"#,
            "environment"
        ),
        Err(EnvError::DuplicateKey("b".into()))
    );
    // Escaped spellings of the same key are the same key.
    assert_eq!(
        json_field(
            br#"{"environment":"staging","\u0065nvironment":"production"}"#,
            "environment"
        ),
        Err(EnvError::DuplicateKey("environment".into()))
    );
}

#[test]
fn request_sources() {
    let mut headers = HeaderMap::new();
    headers.insert("x-reqflo-environment", HeaderValue::from_static("staging"));
    let c = canonicalize(
        b"/a?environment=production&e2=",
        &headers,
        &Rules::default(),
    )
    .unwrap();
    let param = |name: &str| if name == "env" { Some("dev") } else { None };
    let get = |s: EnvironmentSource| from_request(&s, param, &c, &headers);
    assert_eq!(get(EnvironmentSource::Path("env".into())), Ok(Some("dev")));
    assert_eq!(get(EnvironmentSource::Path("other".into())), Ok(None));
    assert_eq!(
        get(EnvironmentSource::Query("environment".into())),
        Ok(Some("production"))
    );
    assert_eq!(
        get(EnvironmentSource::Query("e2".into())).map_err(|e| e.code()),
        Err("environment_empty")
    );
    assert_eq!(
        get(EnvironmentSource::Header("x-reqflo-environment".into())),
        Ok(Some("staging"))
    );
    assert_eq!(get(EnvironmentSource::Header("x-other".into())), Ok(None));

    let c = canonicalize(
        b"/a?environment=production&environment=staging",
        &headers,
        &Rules::default(),
    )
    .unwrap();
    assert_eq!(
        from_request(
            &EnvironmentSource::Query("environment".into()),
            param,
            &c,
            &headers
        ),
        Err(EnvError::Ambiguous(Rejection::DuplicateQuery))
    );
}

#[test]
fn a_body_the_route_reads_no_field_from_is_scanned_at_the_top_level_only() {
    let keys = |text: &str| top_level_keys(text.as_bytes());
    assert_eq!(
        keys(r#"{"a":{"environment":"x","a":1},"environment":"y","n":[1,{"k":2}]}"#),
        Ok(vec![
            ("a".to_owned(), None),
            ("environment".to_owned(), Some("y".to_owned())),
            ("n".to_owned(), None),
        ])
    );
    assert_eq!(keys(r#"["environment","production"]"#), Ok(vec![]));
    assert_eq!(keys("7"), Ok(vec![]));
    assert!(keys(r#"{"environment":"a""#).is_err());
    assert!(keys(r#"{"a":1} trailing"#).is_err());
    // Syntax below the top level is still checked.
    assert!(keys(r#"{"a":{"b":}}"#).is_err());
}
