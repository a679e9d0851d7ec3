//! Validation before use: each kind of invalid document gives its error with
//! the exact path and message, every fault is reported, and parse errors say
//! where they are. Also keeps `policy.schema.json` in step with the types.

use std::path::PathBuf;

use reqflo_policy::{Document, ValidationError, validate};

/// Every fault of a YAML document, as `path: message` lines.
fn errors(yaml: &str) -> Vec<String> {
    let document = Document::from_yaml(yaml).unwrap_or_else(|e| panic!("fixture parses: {e}"));
    match validate(&document) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.iter().map(ValidationError::to_string).collect(),
    }
}

/// A small valid org to build faults on: `{extra}` is spliced into `acme`.
fn org(extra: &str) -> String {
    format!(
        "orgs:
- id: acme
{extra}
users:
- id: alice
  memberships: [{{org: acme, status: active, roles: [member]}}]
- id: bob
  memberships: [{{org: acme, status: active}}]
- id: outsider
"
    )
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

#[test]
fn the_worked_example_is_valid() {
    let document = Document::parse(&read("examples/worked.yaml")).unwrap();
    assert_eq!(validate(&document), Ok(()));
}

#[test]
fn the_base_org_is_valid() {
    assert_eq!(errors(&org("")), Vec::<String>::new());
}

#[test]
fn unsupported_version() {
    assert_eq!(
        errors("version: 2\norgs: []"),
        ["version: unsupported version `2`; expected `1`"]
    );
}

#[test]
fn empty_and_duplicate_org_ids() {
    assert_eq!(
        errors("orgs:\n- id: ''\n- id: acme\n- id: acme\n"),
        [
            "orgs[0].id: id is empty",
            "orgs[2].id: id `acme` is already used by `orgs[acme]`"
        ]
    );
}

#[test]
fn empty_and_duplicate_user_ids() {
    assert_eq!(
        errors("orgs: []\nusers:\n- id: alice\n- id: ''\n- id: alice\n"),
        [
            "users[1].id: id is empty",
            "users[2].id: id `alice` is already used by `users[alice]`"
        ]
    );
}

#[test]
fn membership_in_an_unknown_org() {
    assert_eq!(
        errors(
            "orgs: [{id: acme}]\nusers:\n- id: alice\n  memberships: [{org: acne, status: active}]\n"
        ),
        ["users[alice].memberships[0].org: unknown org `acne`"]
    );
}

#[test]
fn duplicate_membership_for_one_org() {
    let yaml = "orgs: [{id: acme}]
users:
- id: alice
  memberships:
  - {org: acme, status: active}
  - {org: acme, status: suspended}
";
    assert_eq!(
        errors(yaml),
        [
            "users[alice].memberships[1].org: duplicate membership in org `acme`, first at `users[alice].memberships[0]`"
        ]
    );
}

#[test]
fn duplicate_group_and_grant_ids() {
    let yaml = org("  groups: [{id: ops}, {id: ops}]
  grants:
  - {id: g, principal: {user: alice}, scope: {kind: journey}, actions: [view]}
  - {id: g, principal: {user: alice}, scope: {kind: journey}, actions: [run]}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].groups[1].id: id `ops` is already used by `orgs[acme].groups[ops]`",
            "orgs[acme].grants[1].id: id `g` is already used by `orgs[acme].grants[g]`",
        ]
    );
}

#[test]
fn services_and_resources_share_one_id_space() {
    let yaml = org("  services: [{id: checkout}]
  resources: [{id: checkout, kind: journey}, {id: '', kind: journey}]");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[0].id: id `checkout` is already used by `orgs[acme].services[checkout]`",
            "orgs[acme].resources[1].id: id is empty",
        ]
    );
}

#[test]
fn ids_may_repeat_across_orgs_and_object_kinds() {
    let yaml = "orgs:
- id: acme
  groups: [{id: x}]
  resources: [{id: x, kind: journey}]
  grants: [{id: x, principal: {group: x}, scope: {resource: x}, actions: [run]}]
- id: globex
  resources: [{id: x, kind: journey}]
";
    assert_eq!(errors(yaml), Vec::<String>::new());
}

#[test]
fn group_members_must_be_members_of_the_org() {
    let yaml = org("  groups: [{id: ops, members: [alice, carol, outsider]}]");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].groups[ops].members[1]: unknown user `carol`",
            "orgs[acme].groups[ops].members[2]: user `outsider` has no membership in org `acme`",
        ]
    );
}

#[test]
fn team_seats_name_org_members_and_groups() {
    let yaml = org("  groups: [{id: ops}]
  services:
  - id: checkout
    team:
    - {member: {user: alice}, role: owner}
    - {member: {group: ops}, role: runner}
    - {member: {user: outsider}, role: viewer}
    - {member: {group: dev}, role: maintainer}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].services[checkout].team[2].member.user: user `outsider` has no membership in org `acme`",
            "orgs[acme].services[checkout].team[3].member.group: unknown group `dev` in org `acme`",
        ]
    );
}

#[test]
fn a_resource_names_an_existing_service() {
    let yaml = org("  services: [{id: checkout}]
  resources:
  - {id: env, kind: environment}
  - {id: a, kind: journey, service: checkout}
  - {id: b, kind: journey, service: billing}
  - {id: c, kind: journey, service: env}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[b].service: unknown service `billing` in org `acme`",
            "orgs[acme].resources[c].service: `env` is a resource of kind `environment`, not a service",
        ]
    );
}

#[test]
fn resource_kind_is_not_empty_and_not_service() {
    let yaml = org("  resources: [{id: a, kind: ''}, {id: b, kind: service}]");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[a].kind: kind is empty",
            "orgs[acme].resources[b].kind: kind `service` is reserved: declare services under `services`",
        ]
    );
}

#[test]
fn principals_resolve_in_the_org() {
    let yaml = org("  groups: [{id: ops}]
  services:
  - id: checkout
    visibility: restricted
    visible_to: [{user: alice}, {group: nope}]
  resources:
  - id: secret
    kind: secret
    visibility: restricted
    visible_to: [{team: checkout}, {team: secret}, {org_role: security_admin}, {user: zed}]
    roles:
    - {principal: {group: ops}, role: owner}
    - {principal: {team: billing}, role: user}
    - {principal: {user: outsider}, role: viewer}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].services[checkout].visible_to[1].group: unknown group `nope` in org `acme`",
            "orgs[acme].resources[secret].visible_to[1].team: `secret` is a resource of kind `secret`, not a service",
            "orgs[acme].resources[secret].visible_to[3].user: unknown user `zed`",
            "orgs[acme].resources[secret].roles[1].principal.team: unknown service `billing` in org `acme`",
            "orgs[acme].resources[secret].roles[2].principal.user: user `outsider` has no membership in org `acme`",
        ]
    );
}

#[test]
fn references_do_not_cross_orgs() {
    let yaml = "orgs:
- id: acme
  groups: [{id: ops}]
  services: [{id: checkout}]
- id: globex
  resources: [{id: j, kind: journey, service: checkout, roles: [{principal: {group: ops}, role: user}]}]
";
    assert_eq!(
        errors(yaml),
        [
            "orgs[globex].resources[j].service: unknown service `checkout` in org `globex`",
            "orgs[globex].resources[j].roles[0].principal.group: unknown group `ops` in org `globex`",
        ]
    );
}

#[test]
fn dependencies_resolve_and_are_not_the_resource_itself() {
    let yaml = org("  services: [{id: checkout}]
  resources:
  - {id: a, kind: journey, depends_on: [checkout, b, a]}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[a].depends_on[1]: unknown resource `b` in org `acme`",
            "orgs[acme].resources[a].depends_on[2]: resource `a` depends on itself",
        ]
    );
}

#[test]
fn a_dependency_cycle_is_reported_once_with_its_path() {
    let yaml = org("  resources:
  - {id: start, kind: journey, depends_on: [a]}
  - {id: a, kind: journey, depends_on: [secret, b]}
  - {id: b, kind: component, depends_on: [c]}
  - {id: c, kind: component, depends_on: [a]}
  - {id: secret, kind: secret}
  - {id: x, kind: component, depends_on: [y]}
  - {id: y, kind: component, depends_on: [x]}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[a].depends_on[1]: dependency cycle `a -> b -> c -> a`",
            "orgs[acme].resources[x].depends_on[0]: dependency cycle `x -> y -> x`",
        ]
    );
}

#[test]
fn grant_principal_and_scope_resolve() {
    let yaml = org("  services: [{id: checkout}]
  resources: [{id: refund, kind: journey}]
  grants:
  - {id: a, principal: {group: support}, scope: {resource: refnud}, actions: [run]}
  - {id: b, principal: {team: refund}, scope: {service: refund}, actions: [run]}
  - {id: c, principal: {org_role: member}, scope: {service: payments}, actions: [view]}
  - {id: d, principal: {user: outsider}, scope: {kind: ''}, actions: [view]}
  - {id: e, principal: {user: alice}, scope: {label: ''}, actions: [view]}
  - {id: f, principal: {user: bob}, scope: {resource: checkout}, actions: [view]}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].grants[a].principal.group: unknown group `support` in org `acme`",
            "orgs[acme].grants[a].scope.resource: unknown resource `refnud` in org `acme`",
            "orgs[acme].grants[b].principal.team: `refund` is a resource of kind `journey`, not a service",
            "orgs[acme].grants[b].scope.service: `refund` is a resource of kind `journey`, not a service",
            "orgs[acme].grants[c].scope.service: unknown service `payments` in org `acme`",
            "orgs[acme].grants[d].principal.user: user `outsider` has no membership in org `acme`",
            "orgs[acme].grants[d].scope.kind: kind is empty",
            "orgs[acme].grants[e].scope.label: label is empty",
        ]
    );
}

#[test]
fn a_grant_gives_an_action_or_a_privilege() {
    let yaml = org("  grants:
  - {id: nothing, principal: {user: alice}, scope: {kind: journey}}
  - {id: privilege-only, principal: {user: alice}, scope: {kind: journey}, privileges: [production]}");
    assert_eq!(
        errors(&yaml),
        ["orgs[acme].grants[nothing].actions: grant lists no action and no privilege"]
    );
}

#[test]
fn grant_environments_name_environment_resources() {
    let yaml = org("  resources:
  - {id: staging, kind: environment}
  - {id: refund, kind: journey}
  grants:
  - {id: a, principal: {user: alice}, scope: {resource: refund}, actions: [run], environments: [staging, prod, refund]}
  - {id: b, principal: {user: alice}, scope: {resource: refund}, actions: [run], environments: []}");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].grants[a].environments[1]: unknown environment `prod` in org `acme`",
            "orgs[acme].grants[a].environments[2]: `refund` is a resource of kind `journey`, not an environment",
            "orgs[acme].grants[b].environments: empty environment list: the grant would never apply; omit `environments` to apply in every environment",
        ]
    );
}

/// The same faulty document as YAML and as JSON reports every fault, in
/// document order.
#[test]
fn a_document_with_many_faults_reports_all_of_them() {
    let expected: Vec<String> = read("tests/validation/many_faults.expected")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert!(expected.len() >= 15, "the fixture has many faults");
    for name in [
        "tests/validation/many_faults.yaml",
        "tests/validation/many_faults.json",
    ] {
        let document = Document::parse(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let found: Vec<String> = match validate(&document) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.0.iter().map(ValidationError::to_string).collect(),
        };
        assert_eq!(found, expected, "{name}");
    }
}

#[test]
fn the_json_and_yaml_fixtures_are_the_same_document() {
    let yaml = Document::from_yaml(&read("tests/validation/many_faults.yaml")).unwrap();
    let json = Document::from_json(&read("tests/validation/many_faults.json")).unwrap();
    assert_eq!(yaml, json);
}

#[test]
fn a_snapshot_is_never_compiled_from_an_invalid_document() {
    let document = Document::from_yaml(&read("tests/validation/many_faults.yaml")).unwrap();
    let errors = reqflo_policy::Snapshot::compile(&document).unwrap_err();
    assert!(errors.0.len() >= 15);
}

// --- parse errors: where they are --------------------------------------------

/// `file:line:column: message` for a document that does not parse.
fn parse_error(text: &str) -> String {
    match Document::parse(text) {
        Ok(_) => panic!("expected a parse error"),
        Err(e) => e.located("policy.yaml"),
    }
}

#[test]
fn unknown_fields_are_rejected_with_their_location() {
    let yaml = "orgs:\n- id: acme\n  resources:\n  - id: a\n    kind: journey\n    owner: alice\n";
    let error = parse_error(yaml);
    assert!(
        error.starts_with(
            "policy.yaml:6:5: orgs[0].resources[0]: unknown field `owner`, expected one of"
        ),
        "{error}"
    );
}

#[test]
fn every_object_rejects_unknown_fields() {
    // (document with one extra field `zz`, the line it is on, the object path)
    let cases = [
        ("orgs: []\nzz: 1\n", 2, ""),
        ("orgs:\n- id: acme\n  zz: 1\n", 3, "orgs[0]: "),
        ("orgs: []\nusers:\n- id: a\n  zz: 1\n", 4, "users[0]: "),
        (
            "orgs: []\nusers:\n- id: a\n  memberships:\n  - org: acme\n    status: active\n    zz: 1\n",
            7,
            "users[0].memberships[0]: ",
        ),
        (
            "orgs:\n- id: acme\n  groups:\n  - id: g\n    zz: 1\n",
            5,
            "orgs[0].groups[0]: ",
        ),
        (
            "orgs:\n- id: acme\n  services:\n  - id: s\n    zz: 1\n",
            5,
            "orgs[0].services[0]: ",
        ),
        (
            "orgs:\n- id: acme\n  services:\n  - id: s\n    team:\n    - member: {user: a}\n      role: owner\n      zz: 1\n",
            8,
            "orgs[0].services[0].team[0]: ",
        ),
        (
            "orgs:\n- id: acme\n  resources:\n  - id: r\n    kind: journey\n    zz: 1\n",
            6,
            "orgs[0].resources[0]: ",
        ),
        (
            "orgs:\n- id: acme\n  resources:\n  - id: r\n    kind: journey\n    roles:\n    - principal: {user: a}\n      role: owner\n      zz: 1\n",
            9,
            "orgs[0].resources[0].roles[0]: ",
        ),
        (
            "orgs:\n- id: acme\n  grants:\n  - id: g\n    principal: {user: a}\n    scope: {kind: journey}\n    actions: [view]\n    zz: 1\n",
            8,
            "orgs[0].grants[0]: ",
        ),
    ];
    for (yaml, line, object) in cases {
        let error = parse_error(yaml);
        let expected = format!("policy.yaml:{line}:");
        assert!(error.starts_with(&expected), "{expected} in {error}");
        assert!(
            error.contains(&format!("{object}unknown field `zz`")),
            "{object} in {error}"
        );
    }
}

#[test]
fn unknown_top_level_and_user_fields_are_rejected() {
    assert!(
        parse_error("orgs: []\npolicies: []\n")
            .starts_with("policy.yaml:2:1: unknown field `policies`")
    );
    let error = parse_error(
        "orgs: []\nusers:\n- id: a\n  memberships: [{org: acme, status: active, role: member}]\n",
    );
    assert!(error.starts_with("policy.yaml:4:"), "{error}");
    assert!(error.contains("unknown field `role`"), "{error}");
}

#[test]
fn unknown_fields_inside_principals_scopes_and_seats_are_rejected() {
    let cases = [
        // a second key in an externally tagged enum
        "orgs:\n- id: acme\n  grants:\n  - id: g\n    principal: {user: alice, group: ops}\n    scope: {kind: journey}\n    actions: [view]\n",
        "orgs:\n- id: acme\n  grants:\n  - id: g\n    principal: {user: alice}\n    scope: {kind: journey, label: x}\n    actions: [view]\n",
        // an unknown variant
        "orgs:\n- id: acme\n  grants:\n  - id: g\n    principal: {role: member}\n    scope: {kind: journey}\n    actions: [view]\n",
        "orgs:\n- id: acme\n  grants:\n  - id: g\n    principal: {user: alice}\n    scope: {everything: true}\n    actions: [view]\n",
        "orgs:\n- id: acme\n  services:\n  - id: s\n    team:\n    - member: {team: other}\n      role: owner\n",
        "orgs:\n- id: acme\n  services:\n  - id: s\n    team:\n    - member: {user: alice}\n      role: owner\n      since: 2024\n",
    ];
    for yaml in cases {
        let error = parse_error(yaml);
        assert!(error.starts_with("policy.yaml:"), "{error}");
        let position = error.trim_start_matches("policy.yaml:");
        let line: usize = position
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{error}"));
        assert!(line >= 4, "points into the object: {error}");
    }
}

#[test]
fn json_enums_with_two_keys_are_rejected() {
    let json = r#"{"orgs": [{"id": "acme", "grants": [{"id": "g",
        "principal": {"user": "alice", "group": "ops"},
        "scope": {"kind": "journey"}, "actions": ["view"]}]}]}"#;
    let error = parse_error(json);
    assert!(error.starts_with("policy.yaml:2:"), "{error}");
}

#[test]
fn unknown_roles_actions_and_risk_levels_are_rejected_at_parse_time() {
    let error = parse_error(
        "orgs: [{id: acme}]\nusers:\n- id: a\n  memberships: [{org: acme, status: active, roles: [superuser]}]\n",
    );
    assert!(error.starts_with("policy.yaml:4:"), "{error}");
    assert!(
        error.contains("unknown variant `superuser`, expected one of `org_owner`"),
        "{error}"
    );

    let error = parse_error(
        "orgs:\n- id: acme\n  grants:\n  - id: g\n    principal: {org_role: member}\n    scope: {kind: journey}\n    actions: [view, execute]\n",
    );
    assert!(error.starts_with("policy.yaml:7:"), "{error}");
    assert!(error.contains("unknown variant `execute`"), "{error}");

    let error = parse_error(
        "orgs:\n- id: acme\n  resources:\n  - {id: a, kind: journey, risk: [critical]}\n",
    );
    assert!(error.starts_with("policy.yaml:4:"), "{error}");
    assert!(error.contains("unknown variant `critical`"), "{error}");
}

#[test]
fn json_parse_errors_have_exact_positions() {
    let json = "{\n  \"orgs\": [\n    {\"id\": \"acme\", \"colour\": \"blue\"}\n  ]\n}\n";
    let error = parse_error(json);
    assert!(error.starts_with("policy.yaml:3:"), "{error}");
    assert!(error.contains("unknown field `colour`"), "{error}");
    assert!(
        !error.contains(" at line "),
        "the position is not repeated: {error}"
    );

    let error = parse_error("{\"orgs\": [}");
    assert!(error.starts_with("policy.yaml:1:"), "{error}");
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let error = parse_error("orgs:\n- id: acme\n  name: [unclosed\n");
    assert!(error.starts_with("policy.yaml:"), "{error}");
    assert!(
        error.split(':').nth(1).unwrap().parse::<usize>().is_ok(),
        "{error}"
    );
}

// --- the JSON Schema ---------------------------------------------------------

/// The committed schema must equal the generated one. To update it after
/// changing the document types:
/// `REQFLO_BLESS=1 cargo test -p reqflo-policy --test validation`.
#[test]
fn the_committed_json_schema_is_current() {
    let path = fixture("policy.schema.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&Document::json_schema()).unwrap()
    );
    if std::env::var_os("REQFLO_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "policy/policy.schema.json is out of date with the document types; regenerate it with \
         `REQFLO_BLESS=1 cargo test -p reqflo-policy --test validation` and commit it"
    );
}

#[test]
fn the_schema_rejects_unknown_fields_and_describes_fields() {
    let schema = Document::json_schema();
    assert_eq!(schema["additionalProperties"], false);
    let resource = &schema["$defs"]["Resource"];
    assert_eq!(resource["additionalProperties"], false);
    assert!(resource["properties"]["depends_on"]["description"].is_string());
}

// --- the seeds' defaults ------------------------------------------------------

#[test]
fn an_access_mode_weaker_than_the_seed_default_needs_a_reason() {
    let yaml = org("  resources:
  - { id: key, kind: secret, access_mode: open }
  - { id: comp, kind: component, secret_backed: true, access_mode: service_controlled }
  - { id: live, kind: credential, risk: [production], access_mode: open }
  - { id: plan, kind: billing_setting, access_mode: open }
  - { id: sso, kind: sso_config, access_mode: open }
  - { id: members, kind: org_settings, access_mode: service_controlled }
  - { id: github, kind: integration_connection, access_mode: open }
  - { id: fine, kind: credential, access_mode: open }");
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[key].access_mode: `open` is weaker than the seed default `restricted` for this resource (Secrets: Restricted); set `weaker_access_reason` to say why, or remove `access_mode`",
            "orgs[acme].resources[comp].access_mode: `service_controlled` is weaker than the seed default `restricted` for this resource (Secrets: Restricted); set `weaker_access_reason` to say why, or remove `access_mode`",
            "orgs[acme].resources[live].access_mode: `open` is weaker than the seed default `restricted` for this resource (Production credentials: Restricted); set `weaker_access_reason` to say why, or remove `access_mode`",
            "orgs[acme].resources[plan].access_mode: `open` is weaker than the seed default `restricted` for this resource (Billing: Admin-only); set `weaker_access_reason` to say why, or remove `access_mode`",
            "orgs[acme].resources[sso].access_mode: `open` is weaker than the seed default `restricted` for this resource (SSO/SCIM: Admin-only); set `weaker_access_reason` to say why, or remove `access_mode`",
            "orgs[acme].resources[members].access_mode: `service_controlled` is weaker than the seed default `restricted` for this resource (Billing, SSO, SCIM, and user administration: controlled); set `weaker_access_reason` to say why, or remove `access_mode`",
            "orgs[acme].resources[github].access_mode: `open` is weaker than the seed default `restricted` for this resource (Integration configuration: Admin-only or integration-admin-only); set `weaker_access_reason` to say why, or remove `access_mode`",
        ]
    );
}

#[test]
fn a_weaker_access_reason_must_say_something_and_acknowledge_something() {
    let yaml = org(r#"  resources:
  - { id: key, kind: secret, access_mode: open, weaker_access_reason: "the demo tenant shares it" }
  - { id: blank, kind: secret, access_mode: open, weaker_access_reason: "  " }
  - { id: stale, kind: secret, weaker_access_reason: "was open once" }
  - { id: journey, kind: journey, access_mode: open, weaker_access_reason: "nothing" }"#);
    assert_eq!(
        errors(&yaml),
        [
            "orgs[acme].resources[blank].weaker_access_reason: `weaker_access_reason` is empty: say why the weaker access mode is meant",
            "orgs[acme].resources[stale].weaker_access_reason: nothing to acknowledge: access mode `restricted` is not weaker than the seed default",
            "orgs[acme].resources[journey].weaker_access_reason: nothing to acknowledge: access mode `open` is not weaker than the seed default",
        ]
    );
}
