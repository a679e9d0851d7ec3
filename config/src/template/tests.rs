use super::*;

#[test]
fn value_templates_parse_and_render() {
    let t = Template::parse("{journey}").unwrap();
    assert_eq!(t.params().collect::<Vec<_>>(), ["journey"]);
    assert!(matches!(
        t.render(|p| (p == "journey").then_some("refund")),
        Some(Cow::Borrowed("refund"))
    ));
    let t = Template::parse("billing").unwrap();
    assert_eq!(t.render(|_| None).as_deref(), Some("billing"));
    let t = Template::parse("{org}-{env}-x").unwrap();
    let value = |p: &str| match p {
        "org" => Some("acme"),
        "env" => Some("prod"),
        _ => None,
    };
    assert_eq!(t.render(value).as_deref(), Some("acme-prod-x"));
    assert_eq!(t.render(|_| None), None);
    for bad in ["", "{", "}", "{a", "a}", "{1a}", "{a-b}", "{{a}}", "{}"] {
        assert!(Template::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn path_templates_reject_what_a_canonical_path_never_has() {
    assert!(PathTemplate::parse("/").unwrap().segments.is_empty());
    let t = PathTemplate::parse("/orgs/{org}/journeys/{journey}").unwrap();
    assert!(t.has_param("org") && t.has_param("journey") && !t.has_param("x"));
    let cases = [
        ("orgs", TemplateError::NoLeadingSlash("orgs".into())),
        ("/a//b", TemplateError::EmptySegment("/a//b".into())),
        ("/a/", TemplateError::EmptySegment("/a/".into())),
        ("/a/./b", TemplateError::DotSegment("/a/./b".into())),
        ("/a/x{y}", TemplateError::MixedSegment("/a/x{y}".into())),
        ("/a/{*rest}", TemplateError::CatchAll("/a/{*rest}".into())),
        ("/a/%2F", TemplateError::BadChar("/a/%2F".into())),
        ("/a;b", TemplateError::BadChar("/a;b".into())),
    ];
    for (text, error) in cases {
        assert_eq!(PathTemplate::parse(text), Err(error), "{text}");
    }
    assert!(matches!(
        PathTemplate::parse("/{a}/{a}"),
        Err(TemplateError::DuplicateParam { .. })
    ));
}

#[test]
fn overlap_is_unification_segment_by_segment() {
    let p = |t: &str| PathTemplate::parse(t).unwrap();
    assert_eq!(
        p("/j/{id}").overlap(&p("/j/new")).as_deref(),
        Some("/j/new")
    );
    assert_eq!(
        p("/j/{id}").overlap(&p("/j/{other}")).as_deref(),
        Some("/j/x")
    );
    assert_eq!(p("/{a}/x").overlap(&p("/y/{b}")).as_deref(), Some("/y/x"));
    assert_eq!(p("/j/{id}").overlap(&p("/k/{id}")), None);
    assert_eq!(p("/j/{id}").overlap(&p("/j/{id}/runs")), None);
    assert_eq!(p("/").overlap(&p("/")).as_deref(), Some("/"));
}

#[test]
fn prefixes_cover_longer_paths_only() {
    let p = |t: &str| PathTemplate::parse(t).unwrap();
    assert!(p("/public/{x}").may_start_with("/public/"));
    assert!(p("/{a}/b").may_start_with("/public/"));
    assert!(!p("/public").may_start_with("/public/"));
    assert!(!p("/api/{x}").may_start_with("/public/"));
    assert!(p("/a").may_start_with("/"));
}
