use super::*;

const WORLD: &str = r#"
policy:
  orgs: [{ id: acme, resources: [{ id: j, kind: journey }] }]
  users: [{ id: ann, memberships: [{ org: acme, status: active, roles: [viewer] }] }]
org: acme
"#;

fn scenario(requests: &str) -> String {
    format!("{WORLD}requests:\n{requests}")
}

#[test]
fn a_passing_and_a_failing_request() {
    let text = scenario(
        r#"
  - { name: views, user: ann, action: view, resource: j, expect: { decision: allow, allowed_by: { source: visibility } } }
  - { name: runs, user: ann, action: run, resource: j, expect: { decision: allow } }
"#,
    );
    let loaded = load(&text, |_| Err("no includes".to_owned())).unwrap();
    let outcomes = loaded.run_reference();
    assert!(outcomes[0].passed());
    assert_eq!(outcomes[1].name, "runs");
    let difference = &outcomes[1].differences[0];
    assert_eq!(difference.field, "decision");
    assert_eq!(
        difference.to_string(),
        "decision: expected allow, got deny (permission_missing: You can view this journey, but you cannot run it. \
         Viewers have read-only access.)"
    );
}

#[test]
fn every_expectation_is_compared() {
    let text = scenario(
        r#"
  - name: runs
    user: ann
    action: run
    resource: j
    expect: { decision: deny, code: not_visible, reasons: [not_visible], message: "Nope.", }
"#,
    );
    let loaded = load(&text, |_| Err(String::new())).unwrap();
    let fields: Vec<&str> = loaded.run_reference()[0]
        .differences
        .iter()
        .map(|d| d.field)
        .collect();
    assert_eq!(fields, ["code", "reasons", "message"]);
}

#[test]
fn the_remedy_is_compared_in_order() {
    let text = scenario(
        r#"
  - name: right
    user: ann
    action: run
    resource: j
    expect: { decision: deny, remedy: [{ org_role: member }, { resource_role: user }, { resource_role: owner }, { grant: run }, { org_role: org_owner }] }
  - name: reordered
    user: ann
    action: run
    resource: j
    expect: { decision: deny, remedy: [{ grant: run }, { org_role: member }, { resource_role: user }, { resource_role: owner }, { org_role: org_owner }] }
  - { name: on an allow, user: ann, action: view, resource: j, expect: { decision: allow, remedy: [] } }
"#,
    );
    let error = load(&text, |_| Err(String::new())).unwrap_err().to_string();
    assert!(
        error.contains("an allowed request has no `remedy`"),
        "{error}"
    );
    let text = text.replace(
        "  - { name: on an allow, user: ann, action: view, resource: j, expect: { decision: allow, remedy: [] } }\n",
        "",
    );
    let loaded = load(&text, |_| Err(String::new())).unwrap();
    let outcomes = loaded.run();
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].differences);
    let fields: Vec<&str> = outcomes[1].differences.iter().map(|d| d.field).collect();
    assert_eq!(fields, ["remedy"]);
}

#[test]
fn unknown_fields_and_codes_are_errors_with_a_place() {
    let text = scenario(
        "  - { name: x, user: ann, action: view, resource: j, expect: { decision: allow }, extra: 1 }\n",
    );
    let error = parse(&text).unwrap_err().to_string();
    assert!(
        error.contains("unknown field `extra`") && error.contains("line"),
        "{error}"
    );
    let text = scenario(
        "  - { name: x, user: ann, action: view, resource: j, expect: { decision: deny, code: nope } }\n",
    );
    assert!(
        parse(&text)
            .unwrap_err()
            .to_string()
            .contains("unknown reason code `nope`")
    );
}

#[test]
fn incoherent_requests_are_all_reported() {
    let text = format!(
        "{}requests:\n{}",
        WORLD.replace("org: acme\n", ""),
        r#"
  - { name: a, user: ann, action: view, resource: j, expect: { decision: allow, code: not_visible } }
  - { name: a, org: acme, user: ann, action: view, resource: j, expect: { decision: deny, code: not_visible, reasons: [resource_not_found] } }
"#
    );
    let Err(ScenarioError::Invalid(faults)) = parse(&text) else {
        panic!("expected faults")
    };
    let shown: Vec<String> = faults.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "requests[0] (`a`): no `org`, and the scenario sets no default `org`",
            "requests[0] (`a`): an allowed request has no reason codes",
            "requests[1] (`a`): the name is used by an earlier request",
            "requests[1] (`a`): `code` is not the first of `reasons`",
        ]
    );
}

#[test]
fn a_policy_path_goes_through_the_resolver() {
    let text = "policy: worlds/acme.yaml\norg: acme\nrequests:\n  - { name: x, user: ann, action: view, resource: j, expect: { decision: allow } }\n";
    let world = "orgs: [{ id: acme, resources: [{ id: j, kind: journey }] }]\nusers: [{ id: ann, memberships: [{ org: acme, status: active }] }]\n";
    let mut asked = None;
    let loaded = load(text, |path| {
        asked = Some(path.to_owned());
        Ok(world.to_owned())
    })
    .unwrap();
    assert_eq!(asked.as_deref(), Some("worlds/acme.yaml"));
    assert!(loaded.run()[0].passed() && loaded.run_reference()[0].passed());
    let missing = load(text, |_| Err("no such file".to_owned())).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "cannot read policy `worlds/acme.yaml`: no such file"
    );
}

#[test]
fn an_invalid_policy_is_a_validation_error() {
    let text = "policy: { orgs: [{ id: acme, resources: [{ id: j, kind: journey, depends_on: [ghost] }] }] }\norg: acme\nrequests:\n  - { name: x, user: ann, action: view, resource: j, expect: { decision: allow } }\n";
    assert!(matches!(
        load(text, |_| Err(String::new())),
        Err(ScenarioError::Validation(_))
    ));
}

#[test]
fn inline_policies_write_principals_as_single_key_maps() {
    let text = r#"
policy:
  users: [{ id: ann, memberships: [{ org: acme, status: active }] }]
  orgs:
    - id: acme
      groups: [{ id: ops, members: [ann] }]
      resources:
        - { id: j, kind: journey, access_mode: restricted, roles: [{ principal: { group: ops }, role: user }] }
      grants: [{ id: g, principal: { user: ann }, scope: { kind: journey }, actions: [edit] }]
org: acme
requests:
  - { name: runs, user: ann, action: run, resource: j, expect: { decision: allow, allowed_by: { source: resource_role, role: user } } }
  - { name: edits, user: ann, action: edit, resource: j, expect: { decision: allow, allowed_by: { source: grant, id: g } } }
"#;
    let loaded = load(text, |_| Err(String::new())).unwrap();
    assert!(
        loaded
            .run()
            .iter()
            .chain(&loaded.run_reference())
            .all(Outcome::passed)
    );
}
