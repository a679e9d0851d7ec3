//! `reqflo-gateway diff OLD NEW` on edits of the example policy: what is
//! gained and lost, with the changes that cause it, and an exit status a CI
//! job can gate on.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::path::{Path, PathBuf};

fn example() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.yaml"),
    )
    .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn diff(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .arg("diff")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Support Tier 2 gets refunds in production: the grant is widened and the
/// production environment granted to the group.
fn production_refunds() -> String {
    example()
        .replace(
            "        privileges: [destructive]\n        environments: [staging]",
            "        privileges: [destructive, production]\n        environments: [staging, production]",
        )
        .replace(
            "      - { id: support-toolkit-use,",
            "      - { id: support-production-env, principal: { group: support-t2 }, scope: { resource: production }, actions: [use], privileges: [production] }\n      - { id: support-toolkit-use,",
        )
}

#[test]
fn gained_production_access_is_listed_first_with_its_causes_and_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", &example());
    let new = write(dir.path(), "new.yaml", &production_refunds());
    let (code, out, err) = diff(&[&old, &new, "--format", "json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert!(json["risky_gained"].as_u64().unwrap() > 0);
    let run_refund = changes
        .iter()
        .find(|c| {
            c["user"] == "tess"
                && c["action"] == "run"
                && c["resource"] == "refund"
                && c["environment"] == "production"
        })
        .unwrap_or_else(|| panic!("tess running refund in production is not listed: {out}"));
    assert_eq!(run_refund["gained"], true);
    let risk: Vec<&str> = run_refund["risk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(risk, ["production", "destructive"]);
    let causes: Vec<&str> = run_refund["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        causes.contains(&"grant `support-refunds-staging` changed"),
        "{causes:?}"
    );
    assert!(
        causes.contains(&"grant `support-production-env` added"),
        "{causes:?}"
    );
    // Only Support Tier 2 (tess) gains anything; nothing is lost.
    assert!(
        changes
            .iter()
            .all(|c| c["user"] == "tess" && c["gained"] == true),
        "{out}"
    );
    // Risky first.
    let risky: Vec<bool> = changes
        .iter()
        .map(|c| {
            c["risk"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "production" || r == "destructive")
        })
        .collect();
    assert!(risky.windows(2).all(|w| w[0] >= w[1]), "{risky:?}");
    // --accept-risky passes the gate; the text lists the same.
    let (code, out, _) = diff(&[&old, &new, "--accept-risky"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("+ production+destructive acme: `tess` run `refund` in `production`"),
        "{out}"
    );
}

#[test]
fn lost_access_names_the_removed_grant_and_passes_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", &example());
    let new_text = example().replace(
        "      - { id: support-oauth-use, principal: { group: support-t2 }, scope: { resource: payments-oauth }, actions: [use] }\n",
        "",
    );
    let new = write(dir.path(), "new.yaml", &new_text);
    let (code, out, _) = diff(&[&old, &new, "--format", "json"]);
    assert_eq!(code, Some(0), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["gained"], 0);
    let changes = json["changes"].as_array().unwrap();
    // The OAuth config itself, and the journeys that depend on it.
    for resource in ["payments-oauth", "refund", "partner-payout"] {
        let c = changes
            .iter()
            .find(|c| c["resource"] == resource && c["user"] == "tess")
            .unwrap_or_else(|| panic!("{resource}: {out}"));
        assert_eq!(c["gained"], false);
        assert!(
            c["causes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "grant `support-oauth-use` removed"),
            "{c}"
        );
    }
    // The same documents: nothing.
    let (code, out, _) = diff(&[&old, &old]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("policy ") && out.contains(": 0 changes (0 gained, 0 lost)"),
        "{out}"
    );
}

#[test]
fn a_membership_change_is_its_cause_and_too_large_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", &example());
    // mia becomes an org owner.
    let text = example();
    let at = text.find("id: mia").unwrap();
    let roles_at = at + text[at..].find("roles: [member]").unwrap();
    let new_text = format!(
        "{}roles: [org_owner]{}",
        &text[..roles_at],
        &text[roles_at + "roles: [member]".len()..]
    );
    let new = write(dir.path(), "new.yaml", &new_text);
    let (code, out, _) = diff(&[&old, &new, "--format", "json"]);
    assert_eq!(code, Some(1), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["user"] == "mia"), "{out}");
    assert!(
        changes
            .iter()
            .all(|c| c["causes"] == serde_json::json!(["membership of `mia` changed"])),
        "{out}"
    );
    // A pair limit below what the change touches: refused, exit 1.
    let (code, out, err) = diff(&[&old, &new, "--max-pairs", "5"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(
        err.contains("differ too much to list every change")
            && err.contains("treated as a risky change"),
        "{err}"
    );
}

#[test]
fn an_invalid_document_is_exit_2_with_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", &example());
    let bad = write(
        dir.path(),
        "bad.yaml",
        "orgs:\n  - id: acme\n    grants:\n      - id: g\n        principal: {group: ghosts}\n        scope: {resource: nothing}\n        actions: [run]\n",
    );
    let (code, out, err) = diff(&[&old, &bad]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty());
    assert!(
        err.lines().count() >= 2
            && err
                .lines()
                .all(|l| l.starts_with("error: ") && l.contains("bad.yaml")),
        "{err}"
    );
}
