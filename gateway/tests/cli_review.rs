//! `reqflo-gateway review` on the bundled example policy: every target's
//! rows allow exactly the users `who-can` lists (the review is proven
//! exact against `decide` over whole worlds in the policy crate; this
//! checks the command and its three formats), and bad input is named with
//! exit status 2.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

fn policy() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/policy.yaml")
        .display()
        .to_string()
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run reqflo-gateway: {e}"))
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn run_review(format: &str) -> String {
    stdout(&gateway(&[
        "review",
        "--policy",
        &policy(),
        "--format",
        format,
    ]))
}

/// `who-can` for one target: user → allowed_by.
fn who_can(
    action: &str,
    resource: &str,
    environment: Option<&str>,
) -> BTreeMap<String, serde_json::Value> {
    let policy = policy();
    let mut args = vec![
        "who-can",
        "--policy",
        &policy,
        "--org",
        "acme",
        "--action",
        action,
        "--resource",
        resource,
        "--format",
        "json",
    ];
    if let Some(e) = environment {
        args.extend(["--environment", e]);
    }
    let answer: serde_json::Value = serde_json::from_str(&stdout(&gateway(&args))).unwrap();
    answer["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user"].as_str().unwrap().to_owned(),
                u["allowed_by"].clone(),
            )
        })
        .collect()
}

#[test]
fn every_target_allows_exactly_whom_who_can_lists() {
    let review: serde_json::Value = serde_json::from_str(&run_review("json")).unwrap();
    let org = &review["orgs"][0];
    assert_eq!(org["org"], "acme");
    let resources = org["resources"].as_array().unwrap();
    assert!(resources.len() >= 5, "{resources:?}");
    let mut targets = 0;
    for r in resources {
        let id = r["resource"].as_str().unwrap();
        for t in r["access"].as_array().unwrap() {
            let action = t["action"].as_str().unwrap();
            let env = t["environment"].as_str();
            let slow = who_can(action, id, env);
            let mut count = 0;
            for u in t["users"].as_array().unwrap() {
                let user = u["user"].as_str().unwrap();
                assert_eq!(
                    slow.get(user),
                    Some(&u["allowed_by"]),
                    "{user} {action} {id} {env:?}"
                );
                count += 1;
            }
            for row in t["principals"]
                .as_array()
                .unwrap()
                .iter()
                .chain(t["classes"].as_array().unwrap())
            {
                count += row["members"].as_u64().unwrap() as usize;
                for user in row["except"].as_array().unwrap() {
                    assert_ne!(slow.get(user.as_str().unwrap()), Some(&row["allowed_by"]));
                }
            }
            assert_eq!(count, slow.len(), "{action} {id} in {env:?}: {t}");
            targets += 1;
        }
    }
    assert!(targets > 20, "{targets}");
    // The seed's example: refunds run in staging through the support
    // tier-2 group's grant, in production by the owner only.
    let refund = resources
        .iter()
        .find(|r| r["resource"] == "refund")
        .unwrap();
    let run = |env: &str| {
        refund["access"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["action"] == "run" && t["environment"] == env)
            .unwrap()
            .clone()
    };
    assert_eq!(
        run("staging")["principals"][0]["through"]["group"],
        "support-t2"
    );
    assert_eq!(run("production")["users"].as_array().unwrap().len(), 1);
    assert_eq!(run("production")["users"][0]["user"], "olivia");
}

#[test]
fn csv_and_markdown_carry_the_same_rows() {
    let review: serde_json::Value = serde_json::from_str(&run_review("json")).unwrap();
    let rows: usize = review["orgs"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["access"].as_array().unwrap())
        .map(|t| {
            ["users", "principals", "classes"]
                .iter()
                .map(|k| t[*k].as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    let csv = review_csv("csv");
    assert_eq!(csv[0][0], "org");
    assert_eq!(csv.len() - 1, rows);
    assert!(csv.iter().all(|row| row.len() == 15), "{csv:?}");
    assert!(csv.iter().any(|row| row[1] == "refund"
        && row[5] == "run"
        && row[6] == "staging"
        && row[8] == "group"
        && row[9] == "support-t2"));
    let users = review_csv("csv-users");
    assert_eq!(users[0][1], "user");
    assert!(users.iter().any(|row| row[1] == "olivia"), "{users:?}");
    let markdown = run_review("markdown");
    assert!(markdown.starts_with("# Access review"));
    assert!(
        markdown.contains("| run | staging | destructive | `olivia` (org role `org_owner`); 1 members through group `support-t2` (grant `support-refunds-staging`) |"),
        "{markdown}"
    );
    assert!(markdown.contains("### Individual exceptions"));
}

/// CSV rows, split on commas (the example's fields have none to quote).
fn review_csv(format: &str) -> Vec<Vec<String>> {
    run_review(format)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn out_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("review.md");
    let output = gateway(&[
        "review",
        "--policy",
        &policy(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("# Access review")
    );
}

#[test]
fn bad_input_is_named_with_exit_2() {
    let output = gateway(&["review", "--policy", &policy(), "--org", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "error: unknown org `nope`"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("policy.yaml");
    std::fs::write(&bad, "version: 1\norgs:\n  - id: acme\n    grants:\n      - id: g\n        principal: {user: ghost}\n        scope: {kind: journey}\n        actions: [run]\nusers: []\n").unwrap();
    let output = gateway(&["review", "--policy", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("ghost"),
        "{stderr}"
    );
}
