//! `reqflo-gateway who-can` and `what-can` against the bundled example
//! policy: every listed user is one `decide` allows (with the same
//! `allowed_by`), every member left out one it denies, and bad input is
//! named with exit status 2.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn example_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.yaml")
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run reqflo-gateway: {e}"))
}

fn json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn policy_arg() -> String {
    example_policy().display().to_string()
}

/// The example's users (every member of `acme`).
fn users() -> Vec<String> {
    let text = std::fs::read_to_string(example_policy()).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    doc["users"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

fn decide(
    user: &str,
    action: &str,
    resource: &str,
    environment: Option<&str>,
) -> serde_json::Value {
    let policy = policy_arg();
    let mut args = vec![
        "decide",
        "--policy",
        &policy,
        "--org",
        "acme",
        "--user",
        user,
        "--action",
        action,
        "--resource",
        resource,
    ];
    if let Some(e) = environment {
        args.extend(["--environment", e]);
    }
    json(&gateway(&args))
}

fn who_can(action: &str, resource: &str, environment: Option<&str>) -> serde_json::Value {
    let policy = policy_arg();
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
    let output = gateway(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json(&output)
}

#[test]
fn who_can_lists_exactly_the_users_decide_allows() {
    let all = users();
    let cases = [
        ("run", "refund", Some("production")),
        ("run", "refund", Some("staging")),
        ("use", "payments-oauth", Some("staging")),
        ("edit", "checkout-smoke", None),
        ("administer", "tenant-deletion", None),
        ("view", "stripe-api-key", None),
        ("view", "billing", None),
    ];
    let mut listed_somewhere = 0;
    for (action, resource, env) in cases {
        let answer = who_can(action, resource, env);
        let listed: Vec<(String, serde_json::Value)> = answer["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["user"].as_str().unwrap().to_owned(),
                    u["allowed_by"].clone(),
                )
            })
            .collect();
        assert_eq!(answer["count"].as_u64(), Some(listed.len() as u64));
        listed_somewhere += listed.len();
        for user in &all {
            let d = decide(user, action, resource, env);
            let entry = listed.iter().find(|(u, _)| u == user);
            match entry {
                Some((_, by)) => {
                    assert_eq!(
                        d["allowed"], true,
                        "{user} listed for {action} {resource} {env:?}"
                    );
                    assert_eq!(&d["allowed_by"], by, "{user} {action} {resource}");
                }
                None => assert_eq!(
                    d["allowed"], false,
                    "{user} left out of {action} {resource} {env:?}"
                ),
            }
        }
    }
    assert!(
        listed_somewhere >= 6,
        "the cases allow too few to test anything"
    );
}

#[test]
fn the_seed_example_production_run_is_the_owner_only() {
    // "You can run this journey in staging, but not production.": tess may
    // run refund in staging through her grant, only the owner in production.
    let prod = who_can("run", "refund", Some("production"));
    let users: Vec<&str> = prod["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["olivia"]);
    assert_eq!(prod["users"][0]["allowed_by"]["role"], "org_owner");
    let staging = who_can("run", "refund", Some("staging"));
    let tess = staging["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == "tess")
        .unwrap();
    assert_eq!(tess["allowed_by"]["source"], "grant");
    assert_eq!(tess["allowed_by"]["id"], "support-refunds-staging");
}

/// A seat given to one user is an individual exception; one through a
/// group names the group.
#[test]
fn each_holder_says_through_which_principal() {
    let answer = who_can("run", "checkout-smoke", Some("staging"));
    let by_user = |name: &str| {
        answer["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user"] == name)
            .cloned()
            .unwrap()
    };
    let cora = by_user("cora");
    assert_eq!(cora["allowed_by"]["source"], "service_role");
    assert_eq!(cora["through"]["through"], "user");
    assert_eq!(cora["individual"], true);
    let rudy = by_user("rudy");
    assert_eq!(rudy["through"]["through"], "group");
    assert_eq!(rudy["through"]["group"], "checkout-runners");
    assert_eq!(rudy["individual"], false);
    let olivia = by_user("olivia");
    assert!(olivia["through"].is_null());
    assert_eq!(olivia["individual"], false);
}

#[test]
fn what_can_lists_a_users_risky_access_each_as_decide_allows_it() {
    let policy = policy_arg();
    let output = gateway(&[
        "what-can", "--policy", &policy, "--user", "tess", "--format", "json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let answer = json(&output);
    let access = answer["access"].as_array().unwrap();
    assert!(!access.is_empty());
    for a in access {
        let d = decide(
            "tess",
            a["action"].as_str().unwrap(),
            a["resource"].as_str().unwrap(),
            a["environment"].as_str(),
        );
        assert_eq!(d["allowed"], true, "{a}");
        assert_eq!(d["allowed_by"], a["allowed_by"], "{a}");
        assert!(
            !a["risk"].as_array().unwrap().is_empty() || a["secret_backed"] == true,
            "{a}"
        );
    }
    // The production run she may not do is not there; the staging one is.
    let runs_refund = |env: &str| {
        access
            .iter()
            .any(|a| a["resource"] == "refund" && a["action"] == "run" && a["environment"] == env)
    };
    assert!(runs_refund("staging"));
    assert!(!runs_refund("production"));
    // The text form says the same in a table.
    let text = gateway(&["what-can", "--policy", &policy, "--user", "tess"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("grant `support-refunds-staging`"), "{text}");
}

#[test]
fn unknown_ids_and_actions_are_named_with_exit_2() {
    let policy = policy_arg();
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "who-can",
                "--org",
                "nope",
                "--action",
                "run",
                "--resource",
                "refund",
            ],
            "error: unknown org `nope`",
        ),
        (
            &[
                "who-can",
                "--org",
                "acme",
                "--action",
                "run",
                "--resource",
                "nope",
            ],
            "error: org `acme` has no resource `nope`",
        ),
        (
            &[
                "who-can",
                "--org",
                "acme",
                "--action",
                "run",
                "--resource",
                "refund",
                "--environment",
                "refund",
            ],
            "error: org `acme` has no environment `refund`",
        ),
        (
            &[
                "who-can",
                "--org",
                "acme",
                "--action",
                "edti",
                "--resource",
                "refund",
            ],
            "error: unknown action `edti` (did you mean `edit`?)",
        ),
        (
            &["what-can", "--user", "ghost"],
            "error: `ghost` is a member of no org",
        ),
        (
            &["what-can", "--user", "tess", "--org", "nope"],
            "error: unknown org `nope`",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec![args[0], "--policy", &policy];
        full.extend(&args[1..]);
        let output = gateway(&full);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim(), want, "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    // A policy that does not validate: every error, with where it is, as `decide` prints them.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "orgs:\n  - id: acme\n    grants:\n      - id: g\n        principal: {group: ghosts}\n        scope: {resource: nothing}\n        actions: [run]\n").unwrap();
    let output = gateway(&[
        "who-can",
        "--policy",
        bad.to_str().unwrap(),
        "--org",
        "acme",
        "--action",
        "run",
        "--resource",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().count() >= 2
            && stderr
                .lines()
                .all(|l| l.starts_with("error: ") && l.contains("bad.yaml")),
        "{stderr}"
    );
}

/// The console examples of docs/access-review.md are what the commands print.
#[test]
fn the_docs_show_what_the_commands_print() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/access-review.md")).unwrap();
    let blocks: Vec<&str> = doc
        .split("```console\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(
        blocks.len() >= 2,
        "the console blocks of docs/access-review.md"
    );
    let block = blocks.join("");
    let mut examples: Vec<(Vec<String>, String)> = Vec::new();
    for line in block.lines() {
        if let Some(command) = line.strip_prefix("$ reqflo-gateway ") {
            examples.push((
                command.split_whitespace().map(str::to_owned).collect(),
                String::new(),
            ));
        } else if let Some((_, out)) = examples.last_mut() {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(examples.len() >= 3, "{block}");
    for (args, want) in examples {
        let output = Command::new(env!("CARGO_BIN_EXE_reqflo-gateway"))
            .args(&args)
            .current_dir(&root)
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
        assert_eq!(got, want, "{args:?}");
    }
}
