//! `reqflo-gateway test`: the project's scenario files, a failing scenario and
//! invalid files, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/scenarios")
}

fn test(files: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .arg("test")
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("run reqflo-gateway: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

const WORLD: &str = r#"
users: [{ id: ann, memberships: [{ org: acme, status: active, roles: [viewer] }] }]
orgs: [{ id: acme, resources: [{ id: j, kind: journey }] }]
"#;

#[test]
fn the_project_scenarios_all_pass() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    let output = test(&files);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        text(&output.stderr)
    );
    let last = stdout.lines().last().unwrap();
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .unwrap_or_else(|| panic!("last line: {last}"))
        .parse()
        .unwrap();
    assert!(passed >= 80, "{last}");
}

#[test]
fn a_failing_request_is_named_with_its_difference() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "world.yaml", WORLD);
    let file = write(
        dir.path(),
        "viewer.yaml",
        r#"
policy: world.yaml
org: acme
requests:
  - { name: views, user: ann, action: view, resource: j, expect: { decision: allow } }
  - { name: runs, user: ann, action: run, resource: j, expect: { decision: allow } }
"#,
    );
    let output = test(std::slice::from_ref(&file));
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "FAIL {}: runs: decision: expected allow, got deny (permission_missing: You can view this journey, \
                 but you cannot run it. Viewers have read-only access.)",
                file.display()
            )
            .as_str(),
            "1 passed, 1 failed",
        ]
    );
}

#[test]
fn invalid_files_print_every_fault_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad_policy = write(
        dir.path(),
        "bad-policy.yaml",
        r#"
policy:
  users: [{ id: ann, memberships: [{ org: acme, status: active }] }]
  orgs: [{ id: acme, resources: [{ id: j, kind: journey, depends_on: [ghost], service: nowhere }] }]
org: acme
requests:
  - { name: views, user: ann, action: view, resource: j, expect: { decision: allow } }
"#,
    );
    let unknown_field = write(
        dir.path(),
        "unknown-field.yaml",
        "policy: world.yaml\nrequests:\n  - { name: x, user: ann, action: view, resource: j, expect: { decision: allow }, colour: red }\n",
    );
    let incoherent = write(
        dir.path(),
        "incoherent.yaml",
        "policy: missing.yaml\nrequests:\n  - { name: x, user: ann, action: view, resource: j, expect: { decision: allow, code: not_visible } }\n",
    );
    let missing = dir.path().join("nothing-here.yaml");
    let output = test(&[
        bad_policy.clone(),
        unknown_field.clone(),
        incoherent.clone(),
        missing.clone(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let policy_errors: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("error: {}: policy: ", bad_policy.display())))
        .collect();
    assert_eq!(policy_errors.len(), 2, "{stderr}");
    assert!(
        stderr.contains("ghost") && stderr.contains("nowhere"),
        "{stderr}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("error: {}:3:", unknown_field.display()))
                && l.contains("colour")
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {}: requests[0] (`x`): no `org`",
            incoherent.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {}: requests[0] (`x`): an allowed request has no reason codes",
            incoherent.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {}: cannot read scenario file",
            missing.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        text(&output.stdout).lines().last(),
        Some("0 passed, 0 failed")
    );
}

#[test]
fn an_unreadable_include_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "s.yaml",
        "policy: worlds/none.yaml\norg: acme\nrequests:\n  - { name: x, user: ann, action: view, resource: j, expect: { decision: allow } }\n",
    );
    let output = test(std::slice::from_ref(&file));
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    let expected = format!(
        "error: {}: cannot read policy `{}`",
        file.display(),
        dir.path().join("worlds/none.yaml").display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
}
