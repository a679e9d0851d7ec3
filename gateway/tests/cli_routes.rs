//! `reqflo-gateway test-routes`: the examples' route tests pass with full
//! coverage; a wrong expectation is printed with what differed (exit 1);
//! a coverage threshold is enforced; unusable input is exit 2.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::path::{Path, PathBuf};
use std::process::Output;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn test_routes(args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = std::process::Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .arg("test-routes")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A test file next to the examples' config, in a temporary directory.
fn file(dir: &Path, tests: &str) -> String {
    for name in ["gateway.yaml", "policy.yaml"] {
        std::fs::copy(examples().join(name), dir.join(name)).unwrap();
    }
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for entry in std::fs::read_dir(examples().join("keys")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join("keys").join(entry.file_name())).unwrap();
        }
    }
    let path = dir.join("t.yaml");
    std::fs::write(&path, format!("config: gateway.yaml\ntests:\n{tests}")).unwrap();
    path.display().to_string()
}

#[test]
fn the_examples_route_tests_pass_and_cover_every_route() {
    let path = examples().join("routes.test.yaml");
    let (code, out, err) = test_routes(&[path.to_str().unwrap(), "--min-coverage", "100"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(" passed, 0 failed\n"), "{out}");
    let routes = reqflo_config::load(&examples().join("gateway.yaml")).unwrap();
    let n = routes.routes.routes().len();
    assert!(
        out.contains(&format!("route coverage: {n} of {n} routes (100.0%)")),
        "{out}"
    );
}

#[test]
fn a_wrong_expectation_says_what_differed() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        r#"  - name: tess may not run refund in production
    request:
      method: POST
      path: /api/v1/orgs/acme/journeys/refund/runs
      headers: { content-type: application/json }
      body: '{"environment":"production"}'
      user: tess
    expect: { route: journey-view, action: run, resource: refund, environment: staging, decision: allow, status: forwarded }
  - name: this one is right
    request: { method: GET, path: /api/v1/health }
    expect: { route: backend-health, status: forwarded }
"#,
    );
    let (code, out, _) = test_routes(&[&path]);
    assert_eq!(code, Some(1), "{out}");
    let want = "FAIL ".to_owned()
        + &path
        + ": tess may not run refund in production\n  POST /api/v1/orgs/acme/journeys/refund/runs\n"
        + "  route: expected `journey-view`, got `journey-run`\n"
        + "  environment: expected `staging`, got `production`\n"
        + "  decision: expected `allow`, got `deny`\n"
        + "  status: expected forwarded, got 403\n";
    assert!(out.starts_with(&want), "{out}");
    assert!(out.contains("1 passed, 1 failed\n"), "{out}");
    // Two routes of 32 exercised: far from a 50 % threshold.
    assert!(out.contains("route coverage: 2 of "), "{out}");
    assert!(
        out.contains("not exercised: backend-health") || out.contains("not exercised: "),
        "{out}"
    );
    let (code, out, _) = test_routes(&[&path, "--min-coverage", "50"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("is below --min-coverage 50"), "{out}");
}

#[test]
fn unusable_input_is_exit_2_with_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        "  - name: x\n    request: { methd: GET, path: / }\n    expect: {}\n",
    );
    let (code, out, err) = test_routes(&[&path]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.starts_with(&format!("error: {path}:")), "{err}");
    assert!(err.contains("unknown field `methd`"), "{err}");
    // A config that does not validate: its errors, with file and line.
    std::fs::write(dir.path().join("gateway.yaml"), "listen: {proxy: 127.0.0.1:0, admin: 127.0.0.1:0}\npolicy: policy.yaml\nroutes: []\nupstreams: {}\nbogus: 1\n").unwrap();
    let ok = file_with_config(dir.path());
    let (code, _, err) = test_routes(&[&ok]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("gateway.yaml"), "{err}");
}

fn file_with_config(dir: &Path) -> String {
    let path = dir.join("u.yaml");
    std::fs::write(&path, "config: gateway.yaml\ntests: []\n").unwrap();
    path.display().to_string()
}
