//! `reqflo-gateway decide` against the worked example of `policy/README.md`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn workspace_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn decide(policy: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .arg("decide")
        .arg("--policy")
        .arg(policy)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run reqflo-gateway: {e}"))
}

fn worked(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = decide(&workspace_file("policy/examples/worked.yaml"), args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), json)
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_allowed_request_prints_what_allowed_it_and_exits_0() {
    let (code, json) = worked(&[
        "--org",
        "acme",
        "--user",
        "tom",
        "--action",
        "run",
        "--resource",
        "refund",
        "--environment",
        "staging",
    ]);
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(json["allowed"], true);
    assert_eq!(json["code"], serde_json::Value::Null);
    assert_eq!(json["reasons"], serde_json::json!([]));
    assert_eq!(
        json["allowed_by"],
        serde_json::json!({"source": "grant", "id": "support-refunds"})
    );
    assert_eq!(json["message"], "Allowed by grant `support-refunds`.");
    // The file's content revision: the one the gateway and `validate` show.
    let bytes = std::fs::read(workspace_file("policy/examples/worked.yaml")).unwrap();
    assert_eq!(json["revision"], reqflo_policy::content_revision(&bytes));
    assert_eq!(json["revision"].as_str().map(str::len), Some(16));
}

#[test]
fn a_denied_request_prints_its_reasons_and_exits_3() {
    let (code, json) = worked(&[
        "--org",
        "acme",
        "--user",
        "maya",
        "--action",
        "run",
        "--resource",
        "checkout-smoke",
        "--environment",
        "staging",
    ]);
    assert_eq!(code, Some(3), "{json:#}");
    assert_eq!(json["allowed"], false);
    assert_eq!(json["code"], "restricted_dependency");
    assert_eq!(
        json["message"],
        "You can view this journey, but you cannot run it because it uses a restricted OAuth config."
    );
    assert_eq!(json["reasons"][0]["code"], "restricted_dependency");
    assert_eq!(json["allowed_by"], serde_json::Value::Null);
}

#[test]
fn json_keys_are_the_documented_ones() {
    let (_, json) = worked(&[
        "--org",
        "acme",
        "--user",
        "nobody",
        "--action",
        "view",
        "--resource",
        "refund",
    ]);
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "allowed",
            "allowed_by",
            "code",
            "message",
            "reasons",
            "revision"
        ]
    );
    assert_eq!(json["code"], "not_org_member");
}

#[test]
fn an_invalid_policy_prints_every_validation_error_and_exits_2() {
    let policy = workspace_file("policy/tests/validation/many_faults.yaml");
    let output = decide(
        &policy,
        &[
            "--org",
            "acme",
            "--user",
            "alice",
            "--action",
            "view",
            "--resource",
            "refund",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let expected: Vec<String> = std::fs::read_to_string(workspace_file(
        "policy/tests/validation/many_faults.expected",
    ))
    .unwrap()
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| format!("error: {}: {l}", policy.display()))
    .collect();
    assert_eq!(stderr_lines(&output), expected);
}

#[test]
fn a_parse_error_is_one_line_with_its_position_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "orgs:\n- id: acme\n  resources:\n  - id: a\n    kind: journey\n    owner: alice\n",
    )
    .unwrap();
    let output = decide(
        &policy,
        &[
            "--org",
            "acme",
            "--user",
            "alice",
            "--action",
            "view",
            "--resource",
            "a",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let prefix = format!("error: {}:6:5: ", policy.display());
    assert!(lines[0].starts_with(&prefix), "{lines:?}");
    assert!(lines[0].contains("unknown field `owner`"), "{lines:?}");
}

#[test]
fn an_unreadable_file_is_one_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("missing.yaml");
    let output = decide(
        &policy,
        &[
            "--org",
            "acme",
            "--user",
            "alice",
            "--action",
            "view",
            "--resource",
            "a",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "error: {}: cannot read policy file: ",
            policy.display()
        )),
        "{lines:?}"
    );
}

#[test]
fn a_json_policy_is_read_by_its_content() {
    let yaml = std::fs::read_to_string(workspace_file("policy/examples/worked.yaml"))
        .unwrap_or_else(|e| panic!("read the worked example: {e}"));
    let document = reqflo_policy::Document::from_yaml(&yaml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // No `.json` extension: the content decides.
    let policy = dir.path().join("policy.txt");
    std::fs::write(&policy, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    let output = decide(
        &policy,
        &[
            "--org",
            "acme",
            "--user",
            "tom",
            "--action",
            "run",
            "--resource",
            "refund",
            "--environment",
            "staging",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["allowed_by"]["id"], "support-refunds");
}
