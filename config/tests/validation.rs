//! One test per error kind, each checking the file, line and route id, and a
//! file with several faults that reports all of them.

#![expect(
    clippy::unwrap_used,
    reason = "test setup helpers: a failed setup step fails the test"
)]

mod common;

use std::path::Path;

use reqflo_config::{ConfigError, ConfigErrors, ErrorKind, Memory, Snapshot, load_from};

const ROUTE: &str = "  - { id: ok, methods: [GET], path: \"/orgs/{org}/journeys/{journey}\", action: view, resource: \"{journey}\", upstream: api }\n";

fn errors_of(config: &str) -> ConfigErrors {
    errors_with_policy(config, &common::policy(false, 0))
}

fn errors_with_policy(config: &str, policy: &str) -> ConfigErrors {
    let source = Memory::new()
        .with("/cfg/gateway.yaml", config)
        .with("/cfg/policy.yaml", policy);
    // Key files come from the real filesystem.
    let source = reqflo_config::Layered(source, reqflo_config::Fs);
    match load_from(&source, Path::new("/cfg/gateway.yaml")) {
        Ok(_) => panic!("config loaded, expected errors:\n{config}"),
        Err(errors) => errors,
    }
}

/// The only error, which must be of `kind`.
fn only(errors: &ConfigErrors, kind: ErrorKind) -> &ConfigError {
    assert_eq!(errors.len(), 1, "expected one error, got: {errors:#?}");
    let error = &errors.0[0];
    assert_eq!(error.kind, kind, "{error}");
    error
}

fn route_config(route: &str) -> String {
    common::config("policy.yaml", &format!("{ROUTE}{route}"))
}

#[test]
fn a_valid_config_loads() {
    let source = Memory::new()
        .with("/cfg/gateway.yaml", route_config(""))
        .with("/cfg/policy.yaml", common::policy(false, 0));
    let snapshot = load_from(&source, Path::new("/cfg/gateway.yaml")).unwrap();
    assert_eq!(snapshot.routes.len(), 1);
}

#[test]
fn unreadable_config_and_policy() {
    let source = Memory::new();
    let errors = load_from(&source, Path::new("/cfg/gateway.yaml")).unwrap_err();
    assert_eq!(
        only(&errors, ErrorKind::Read).file,
        Path::new("/cfg/gateway.yaml")
    );

    let source = Memory::new().with("/cfg/gateway.yaml", route_config(""));
    let errors = load_from(&source, Path::new("/cfg/gateway.yaml")).unwrap_err();
    assert_eq!(
        only(&errors, ErrorKind::Read).file,
        Path::new("/cfg/policy.yaml")
    );
}

#[test]
fn unknown_field_is_a_parse_error_with_its_line() {
    let config = route_config("").replace("routes:", "rutes_typo: 1\nroutes:");
    let errors = errors_of(&config);
    let error = only(&errors, ErrorKind::Parse);
    assert!(error.message.contains("rutes_typo"), "{error}");
    assert_eq!(error.line, Some(7), "{error}");
}

/// A misspelt field, action or upstream names the nearest known one.
#[test]
fn misspelt_names_get_a_suggestion() {
    let errors = errors_of(&route_config("").replace("routes:", "rutes: 1\nroutes:"));
    let error = only(&errors, ErrorKind::Parse);
    assert!(
        error.message.ends_with("(did you mean `routes`?)"),
        "{error}"
    );
    let errors = errors_of(&route_config(
        "  - { id: e, methds: [PUT], path: \"/orgs/{org}/journeys/{journey}\", action: edit, resource: \"{journey}\", upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::Parse);
    assert!(error.message.contains("unknown field `methds`"), "{error}");
    assert!(
        error.message.ends_with("(did you mean `methods`?)"),
        "{error}"
    );
    let errors = errors_of(&route_config(
        "  - { id: e, methods: [PUT], path: \"/orgs/{org}/journeys/{journey}/e\", action: edti, resource: \"{journey}\", upstream: apj }\n",
    ));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let messages: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    assert!(
        messages.contains(&"/cfg/gateway.yaml:9: route `e`: upstream `apj` is not defined in `upstreams` (did you mean `api`?)".to_owned()),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&"/cfg/gateway.yaml:9: route `e`: `action` `edti` is not an action the access model knows (did you mean `edit`?)".to_owned()),
        "{messages:#?}"
    );
}

#[test]
fn json_config_is_accepted() {
    let json = r#"{"listen": {"proxy": "127.0.0.1:0", "admin": "127.0.0.1:0"}, "policy": "policy.yaml",
 "upstreams": {"api": {"address": "127.0.0.1:9"}},
 "identity": {"trusted_header": {"header": "x-user", "trusted_sources": ["10.0.0.0/8"]}},
 "routes": [{"id": "r", "methods": ["GET"], "path": "/orgs/{org}/x/{journey}", "action": "view", "resource": "{journey}", "upstream": "api"}]}"#;
    let snapshot = Snapshot::from_texts(
        Path::new("/nonexistent/gateway.json"),
        json,
        &common::policy(false, 0),
    )
    .unwrap();
    assert_eq!(snapshot.routes.len(), 1);
}

#[test]
fn bad_path_template() {
    let errors = errors_of(&route_config(
        "  - { id: bad, methods: [GET], path: \"/orgs/{org}/x-{journey}\", action: view, resource: \"{journey}\", upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::Template);
    assert_eq!(error.route.as_deref(), Some("bad"));
    assert_eq!(error.line, Some(9));
    for path in [
        "orgs/{org}",
        "/orgs//{org}",
        "/orgs/{org}/",
        "/orgs/{org",
        "/orgs/{*rest}",
        "/a/{x}/{x}",
        "/a/%2e/{org}",
        "/a/../{org}",
    ] {
        let route = format!(
            "  - {{ id: bad, methods: [GET], path: \"{path}\", action: view, resource: x, upstream: api }}\n"
        );
        let errors = errors_of(&route_config(&route));
        assert!(
            errors.of_kind(ErrorKind::Template).count() == 1,
            "{path}: {errors:#?}"
        );
    }
}

#[test]
fn overlapping_routes() {
    // A literal segment and a parameter both match `/orgs/x/journeys/new`.
    let errors = errors_of(&route_config(
        "  - { id: clash, methods: [POST, GET], path: \"/orgs/{org}/journeys/new\", action: edit, resource: new, upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::Overlap);
    assert_eq!(error.route.as_deref(), Some("clash"));
    assert!(
        error.message.contains("`ok`") && error.message.contains("GET /orgs/x/journeys/new"),
        "{error}"
    );
    // Different methods do not overlap.
    let source = Memory::new()
        .with("/cfg/gateway.yaml", route_config("  - { id: post, methods: [POST], path: \"/orgs/{org}/journeys/new\", action: edit, resource: new, upstream: api }\n"))
        .with("/cfg/policy.yaml", common::policy(false, 0));
    assert!(load_from(&source, Path::new("/cfg/gateway.yaml")).is_ok());
}

#[test]
fn public_prefix_overlapping_a_route() {
    let config = route_config("").replace(
        "routes:",
        "public_prefixes:\n  - { id: pub, prefix: /orgs/, upstream: api }\nroutes:",
    );
    let error = only(&errors_of(&config), ErrorKind::Overlap).clone();
    assert_eq!(error.route.as_deref(), Some("pub"));
}

#[test]
fn duplicate_route_id() {
    let errors = errors_of(&route_config(
        "  - { id: ok, methods: [PUT], path: \"/orgs/{org}/journeys/{journey}\", action: edit, resource: \"{journey}\", upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::DuplicateRoute);
    assert_eq!(
        error.line,
        Some(9),
        "the line of the second `id: ok`: {error}"
    );
}

#[test]
fn unknown_action() {
    let errors = errors_of(&route_config(
        "  - { id: fly, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/fly\", action: fly, resource: \"{journey}\", upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::UnknownAction);
    assert_eq!(error.route.as_deref(), Some("fly"));
    assert!(error.message.contains("`fly`"));
    assert_eq!(
        error.to_string(),
        "/cfg/gateway.yaml:9: route `fly`: `action` `fly` is not an action the access model knows"
    );
}

#[test]
fn unknown_kind() {
    let errors = errors_of(&route_config(
        "  - { id: k, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/k\", action: run, kind: spaceship, resource: \"{journey}\", upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::UnknownKind).route.as_deref(),
        Some("k")
    );
}

#[test]
fn resource_template_with_a_param_the_path_lacks() {
    let errors = errors_of(&route_config(
        "  - { id: p, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/runs\", action: run, resource: \"{runbook}\", upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::UnknownParam);
    assert!(error.message.contains("{runbook}"), "{error}");
    // The org defaults to `{org}`, which this path lacks.
    let errors = errors_of(&route_config(
        "  - { id: o, methods: [POST], path: \"/journeys/{journey}/runs\", action: run, resource: \"{journey}\", upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::UnknownParam).route.as_deref(),
        Some("o")
    );
    // `also` checks too.
    let errors = errors_of(&route_config(
        "  - { id: a, methods: [PUT], path: \"/orgs/{org}/c/{component}\", action: attach, resource: \"{component}\", also: [{ action: edit, resource: \"{journey}\" }], upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::UnknownParam).route.as_deref(),
        Some("a")
    );
}

#[test]
fn environment_that_cannot_exist() {
    // A path parameter the template lacks.
    let errors = errors_of(&route_config(
        "  - { id: e1, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/runs\", action: run, resource: \"{journey}\", environment: { from: path, param: env }, upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::Environment).route.as_deref(),
        Some("e1")
    );
    // A body on GET.
    let errors = errors_of(&route_config(
        "  - { id: e2, methods: [GET], path: \"/orgs/{org}/journeys/{journey}/preview\", action: use, resource: \"{journey}\", environment: { from: body, field: environment }, upstream: api }\n",
    ));
    let error = only(&errors, ErrorKind::Environment);
    assert!(error.message.contains("`GET`"), "{error}");
    // Required, but from nowhere.
    let errors = errors_of(&route_config(
        "  - { id: e3, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/runs\", action: run, resource: \"{journey}\", environment_required: true, upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::Environment).route.as_deref(),
        Some("e3")
    );
    // A header name that is not one.
    let errors = errors_of(&route_config(
        "  - { id: e4, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/runs\", action: run, resource: \"{journey}\", environment: { from: header, name: \"x env\" }, upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::Environment).route.as_deref(),
        Some("e4")
    );
}

#[test]
fn undefined_upstream() {
    let errors = errors_of(&route_config(
        "  - { id: u, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/runs\", action: run, resource: \"{journey}\", upstream: nowhere }\n",
    ));
    let error = only(&errors, ErrorKind::UnknownUpstream);
    assert_eq!((error.route.as_deref(), error.line), (Some("u"), Some(9)));
}

fn jwt_config(dir: &Path, key_file: &str, algorithm: &str) -> String {
    let config = route_config("");
    let identity = format!(
        "identity:\n  jwt:\n    issuer: https://idp\n    audiences: [gate]\n    algorithms: [RS256, ES256]\n    keys:\n      - {{ kid: k1, algorithm: {algorithm}, file: \"{}\" }}\n",
        dir.join(key_file).display()
    );
    let start = config.find("identity:").unwrap();
    let end = config.find("routes:").unwrap();
    format!("{}{identity}{}", &config[..start], &config[end..])
}

#[test]
fn unreadable_or_wrong_key_file() {
    let keys = common::examples().join("keys");
    // Missing file.
    let errors = errors_of(&jwt_config(&keys, "missing.pem", "RS256"));
    let error = only(&errors, ErrorKind::KeyFile);
    assert!(
        error.message.contains("k1") && error.message.contains("missing.pem"),
        "{error}"
    );
    assert_eq!(error.line, Some(11), "{error}");
    // An EC key configured as RSA.
    let errors = errors_of(&jwt_config(&keys, "ec-public.pem", "RS256"));
    only(&errors, ErrorKind::KeyFile);
    // A private key where the public key belongs.
    let errors = errors_of(&jwt_config(&keys, "demo-private/rsa-private.pem", "RS256"));
    assert!(
        only(&errors, ErrorKind::KeyFile)
            .message
            .contains("private key")
    );
    // The real thing loads.
    let source = Memory::new().with("/cfg/policy.yaml", common::policy(false, 0));
    let source = reqflo_config::Layered(
        source.with(
            "/cfg/gateway.yaml",
            jwt_config(&keys, "rsa-public.pem", "RS256"),
        ),
        reqflo_config::Fs,
    );
    assert!(load_from(&source, Path::new("/cfg/gateway.yaml")).is_ok());
}

#[test]
fn shared_secret_algorithms_are_refused() {
    let keys = common::examples().join("keys");
    let config =
        jwt_config(&keys, "rsa-public.pem", "RS256").replace("[RS256, ES256]", "[RS256, HS256]");
    let error = only(&errors_of(&config), ErrorKind::Invalid).clone();
    assert!(error.message.contains("HS256"), "{error}");
}

#[test]
fn invalid_policy_reports_every_validation_error_with_the_policy_file() {
    let policy = "version: 1\nusers:\n  - { id: mia, memberships: [{ org: nowhere, status: active }] }\norgs:\n  - id: acme\n    resources:\n      - { id: j, kind: journey, depends_on: [ghost] }\n      - { id: j, kind: journey }\n";
    let errors = errors_with_policy(&route_config(""), policy);
    assert!(errors.len() >= 2, "{errors:#?}");
    for error in &errors.0 {
        assert_eq!(error.kind, ErrorKind::Policy, "{error}");
        assert_eq!(error.file, Path::new("/cfg/policy.yaml"));
    }
    // Unparseable policy: a parse error located in the policy file.
    let errors = errors_with_policy(&route_config(""), "orgs: [ { id: acme, colour: red } ]\n");
    let error = only(&errors, ErrorKind::Parse);
    assert_eq!(
        (error.file.as_path(), error.line),
        (Path::new("/cfg/policy.yaml"), Some(1))
    );
}

#[test]
fn bad_addresses() {
    let config = route_config("").replace("127.0.0.1:0\", admin", "localhost:http\", admin");
    let errors = errors_of(&config);
    assert_eq!(only(&errors, ErrorKind::Address).line, Some(1));
    let config = route_config("").replace("\"127.0.0.1:9\"", "\"api.internal\"");
    only(&errors_of(&config), ErrorKind::Address);
    let config = route_config("").replace("[\"127.0.0.1\"]", "[\"10.0.0.0/33\"]");
    only(&errors_of(&config), ErrorKind::Address);
}

#[test]
fn invalid_settings() {
    let errors = errors_of(&route_config(
        "  - { id: lower, methods: [get], path: \"/orgs/{org}/journeys/{journey}/x\", action: view, resource: \"{journey}\", upstream: api }\n",
    ));
    assert_eq!(
        only(&errors, ErrorKind::Invalid).route.as_deref(),
        Some("lower")
    );
    let errors = errors_of(&route_config(
        "  - { id: pub, methods: [GET], path: /health, public: true, action: view, upstream: api }\n",
    ));
    assert!(
        only(&errors, ErrorKind::Invalid)
            .message
            .contains("`action`")
    );
    let errors = errors_of(&format!("mode: loud\n{}", route_config("")));
    assert_eq!(only(&errors, ErrorKind::Invalid).line, Some(1));
}

#[test]
fn several_faults_are_all_reported_in_file_order() {
    let routes = "  - { id: a, methods: [GET], path: \"/orgs/{org}/journeys/{journey}\", action: fly, resource: \"{journey}\", upstream: api }
  - { id: b, methods: [GET], path: \"/orgs/{org}/journeys/{journey}\", action: view, resource: \"{journey}\", upstream: nowhere }
  - { id: c, methods: [POST], path: \"/orgs/{org}/runs/{run\", action: run, resource: \"{run}\", upstream: api }
  - { id: d, methods: [GET], path: \"/orgs/{org}/envs/{env}\", action: view, resource: \"{other}\", environment: { from: body, field: e }, upstream: api }
";
    let config = common::config("policy.yaml", routes).replace("127.0.0.1:9", "nohost");
    let policy = "version: 1\norgs:\n  - id: acme\n    resources:\n      - { id: j, kind: journey, depends_on: [ghost] }\n";
    let errors = errors_with_policy(&config, policy);
    let kinds: Vec<ErrorKind> = errors.0.iter().map(|e| e.kind).collect();
    for kind in [
        ErrorKind::Address,
        ErrorKind::UnknownAction,
        ErrorKind::UnknownUpstream,
        ErrorKind::Overlap,
        ErrorKind::Template,
        ErrorKind::UnknownParam,
        ErrorKind::Environment,
        ErrorKind::Policy,
    ] {
        assert!(kinds.contains(&kind), "missing {kind:?} in {errors:#?}");
    }
    // Config errors first, by line; then the policy's.
    let lines: Vec<u32> = errors
        .0
        .iter()
        .filter(|e| e.file.ends_with("gateway.yaml"))
        .filter_map(|e| e.line)
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert_eq!(errors.0.last().map(|e| e.kind), Some(ErrorKind::Policy));
}

/// The fixture keys, by absolute path (key files come from the real filesystem).
fn key(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn assertion_settings_are_checked_with_their_lines() {
    let with = |block: &str| format!("{}{block}", route_config(""));
    // A P-256 key for EdDSA: the key line, a key-file error.
    let config = with(&format!(
        "assertion:\n  algorithm: EdDSA\n  kid: k1\n  key: \"{}\"\n",
        key("assertion-p256-private.pem")
    ));
    let errors = errors_of(&config);
    let error = only(&errors, ErrorKind::KeyFile);
    assert!(
        error.message.contains("not a PKCS#8 Ed25519 private key"),
        "{error}"
    );
    assert_eq!(
        error.line,
        config
            .lines()
            .position(|l| l.starts_with("  key:"))
            .map(|i| i as u32 + 1)
    );
    // A public key is not a signing key.
    let config = with(&format!(
        "assertion:\n  algorithm: ES256\n  kid: k1\n  key: \"{}\"\n",
        key("ec-public.pem")
    ));
    let errors = errors_of(&config);
    let error = only(&errors, ErrorKind::KeyFile);
    assert!(
        error.message.contains("not a PKCS#8 `PRIVATE KEY`"),
        "{error}"
    );
    // An empty kid and a ttl out of range, reported together.
    let config = with(&format!(
        "assertion:\n  algorithm: EdDSA\n  kid: \"\"\n  key: \"{}\"\n  ttl_seconds: 3600\n",
        key("assertion-ed25519-private.pem")
    ));
    let errors = errors_of(&config);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.message.contains("`kid` is empty"))
    );
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.message.contains("`ttl_seconds` must be 1 to 300"))
    );
    // A valid one loads.
    let config = with(&format!(
        "assertion:\n  algorithm: EdDSA\n  kid: k1\n  key: \"{}\"\n",
        key("assertion-ed25519-private.pem")
    ));
    let source = reqflo_config::Layered(
        Memory::new()
            .with("/cfg/gateway.yaml", config)
            .with("/cfg/policy.yaml", common::policy(false, 0)),
        reqflo_config::Fs,
    );
    let snapshot = load_from(&source, Path::new("/cfg/gateway.yaml")).unwrap();
    let assertion = snapshot.settings.assertion.as_ref().unwrap();
    assert_eq!(
        (assertion.key.algorithm(), assertion.key.kid()),
        ("EdDSA", "k1")
    );
}

#[test]
fn an_environment_header_the_gateway_owns_is_refused() {
    for header in [
        "x-reqflo-user",
        "X-Reqflo-Decided-Environment",
        "x-forwarded-host",
        "x-remote-user",
    ] {
        let route = format!(
            "  - {{ id: e, methods: [POST], path: \"/orgs/{{org}}/journeys/{{journey}}/runs\", action: run, resource: \"{{journey}}\", environment: {{ from: header, name: {header} }}, upstream: api }}\n"
        );
        let errors = errors_of(&route_config(&route));
        let error = only(&errors, ErrorKind::Environment);
        assert_eq!(error.route.as_deref(), Some("e"), "{header}");
        assert!(error.message.contains(&format!("`{header}`")), "{error}");
    }
}

#[test]
fn a_websocket_route_needs_get_and_forwarding_is_checked() {
    let route = "  - { id: ws, methods: [POST], path: \"/orgs/{org}/journeys/{journey}/live\", action: view, resource: \"{journey}\", websocket: true, upstream: api }\n";
    let errors = errors_of(&route_config(route));
    let error = only(&errors, ErrorKind::Invalid);
    assert!(
        error.message.contains("`websocket: true` needs `GET`"),
        "{error}"
    );
    let config = format!(
        "{}forwarding:\n  trusted_proxies: [10.0.0.0/33]\n  strip_headers: [\"x bad\"]\n",
        route_config("")
    );
    let errors = errors_of(&config);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn zero_limits_and_timeouts_are_refused_each_by_name() {
    let config = format!(
        "{}limits:\n  head_timeout_ms: 0\n  body_read_timeout_ms: 0\n  max_body_bytes: 0\n",
        route_config("")
    );
    let errors = errors_of(&config);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    for key in ["head_timeout_ms", "body_read_timeout_ms", "max_body_bytes"] {
        assert!(
            errors
                .0
                .iter()
                .any(|e| e.kind == ErrorKind::Invalid && e.message.contains(&format!("`{key}`"))),
            "no error names {key}: {errors:#?}"
        );
    }
    // Keep-alive 0 is allowed: it turns keep-alive off.
    let config = format!(
        "{}limits:\n  keepalive_timeout_seconds: 0\n  head_timeout_ms: 2500\n",
        route_config("")
    );
    let source = Memory::new()
        .with("/cfg/gateway.yaml", config)
        .with("/cfg/policy.yaml", common::policy(false, 0));
    let snapshot = load_from(&source, Path::new("/cfg/gateway.yaml")).unwrap();
    assert_eq!(snapshot.settings.limits.keepalive_timeout_seconds, None);
    assert_eq!(
        snapshot.settings.limits.head_timeout,
        std::time::Duration::from_millis(2500)
    );
}
