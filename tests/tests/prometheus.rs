//! The operator's kit against real parts: the rules pass `promtool check`
//! and their unit tests, every alert has a unit test and a runbook, and a
//! real Prometheus scraping a real gateway under allowed, denied, rejected,
//! failing and reloaded traffic evaluates every dashboard query and every
//! recording and alert expression, each naming only metrics the gateway
//! exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use reqflo_tests::prometheus::{Job, Prometheus};
use reqflo_tests::tools::{self, repo_root};
use reqflo_tests::{Env, OrPanic, bearer};

const ACME: &str = "/api/v1/orgs/acme";
const JOB: &str = "reqflo-gateway";

fn rules_path() -> PathBuf {
    repo_root().join("deploy/prometheus/reqflo-gateway.rules.yaml")
}

fn dashboard_path() -> PathBuf {
    repo_root().join("deploy/grafana/reqflo-gateway.json")
}

/// A rule of the rules file.
#[derive(Debug)]
struct Rule {
    /// `record` or `alert` name.
    name: String,
    alert: bool,
    expr: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(rules_path()).or_panic("read the rules");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).or_panic("parse the rules");
    let map = |v: &serde_yaml_ng::Value| -> BTreeMap<String, String> {
        v.as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
            .collect()
    };
    let mut out = Vec::new();
    for group in doc["groups"].as_sequence().or_panic("groups") {
        for rule in group["rules"].as_sequence().or_panic("rules") {
            let (name, alert) = match (rule["record"].as_str(), rule["alert"].as_str()) {
                (Some(r), None) => (r, false),
                (None, Some(a)) => (a, true),
                _ => panic!("a rule is neither a record nor an alert: {rule:?}"),
            };
            out.push(Rule {
                name: name.to_owned(),
                alert,
                expr: rule["expr"].as_str().or_panic("expr").to_owned(),
                labels: map(&rule["labels"]),
                annotations: map(&rule["annotations"]),
            });
        }
    }
    out
}

/// Every query of the dashboard: (where, PromQL with Grafana's variables).
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dashboard_path()).or_panic("read the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).or_panic("parse the dashboard");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().or_panic("panels") {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().or_panic("a panel title");
        let targets = panel["targets"].as_array().or_panic("targets");
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for t in targets {
            out.push((
                format!("panel {title:?} {}", t["refId"]),
                t["expr"].as_str().or_panic("expr").to_owned(),
            ));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .or_panic("templating")
    {
        if variable["type"] != "query" {
            continue;
        }
        // `label_values(SELECTOR, label)`: the selector must return data.
        let q = variable["query"]["query"]
            .as_str()
            .or_panic("a variable query");
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|s| s.rsplit_once(','))
            .map(|(sel, _)| sel.to_owned())
            .or_panic("a label_values query");
        out.push((format!("variable {}", variable["name"]), inner));
    }
    for a in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = a["expr"].as_str() {
            out.push((format!("annotation {}", a["name"]), expr.to_owned()));
        }
    }
    out
}

/// Grafana's variables replaced as Grafana would for "All" and a short range.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("$__interval", "30s")
        .replace("$job", ".+")
        .replace("$instance", ".+")
}

/// The metric names an expression reads: gateway and process metrics, and
/// recorded series (`level:metric:operation`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes: Vec<char> = expr.chars().collect();
    let mut i = 0;
    // Strings ("…") hold label values, not names: skip them.
    while i < bytes.len() {
        let c = bytes[i];
        if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == ':')
            {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            if word.starts_with("reqflo_gateway_")
                || word.starts_with("process_")
                || word.contains(':')
            {
                names.insert(word);
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn the_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = tools::find("promtool", "prometheus") else {
        return;
    };
    let dir = rules_path()
        .parent()
        .or_panic("the rules' directory")
        .to_owned();
    let check = Command::new(&promtool)
        .args(["check", "rules", "reqflo-gateway.rules.yaml"])
        .current_dir(&dir)
        .output()
        .or_panic("run promtool check rules");
    let out = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "promtool check rules:\n{out}");
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", rules().len())),
        "{out}"
    );

    let test = Command::new(&promtool)
        .args(["test", "rules", "reqflo-gateway.rules.test.yaml"])
        .current_dir(&dir)
        .output()
        .or_panic("run promtool test rules");
    let out =
        String::from_utf8_lossy(&test.stdout).into_owned() + &String::from_utf8_lossy(&test.stderr);
    assert!(test.status.success(), "promtool test rules:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

/// Each alert has a severity, a summary, a runbook section that exists in
/// docs/OPERATIONS.md, and unit tests where it fires and where it stays quiet.
#[test]
fn every_alert_has_a_severity_a_runbook_and_tests_that_fire_and_stay_quiet() {
    let operations = std::fs::read_to_string(repo_root().join("docs/OPERATIONS.md"))
        .or_panic("read docs/OPERATIONS.md");
    let anchors: BTreeSet<String> = operations
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| {
            h.chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .collect::<String>()
                .to_lowercase()
                .replace(' ', "-")
        })
        .collect();
    let tests_text = std::fs::read_to_string(
        repo_root().join("deploy/prometheus/reqflo-gateway.rules.test.yaml"),
    )
    .or_panic("read the rule tests");
    let tests: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&tests_text).or_panic("parse the rule tests");
    let mut fires = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for case in tests["tests"].as_sequence().or_panic("tests") {
        for a in case["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = a["alertname"].as_str().or_panic("alertname").to_owned();
            if a["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty()) {
                fires.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    let alerts: Vec<Rule> = rules().into_iter().filter(|r| r.alert).collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    for alert in &alerts {
        let name = &alert.name;
        let severity = alert.labels.get("severity").map(String::as_str);
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description", "runbook"] {
            assert!(alert.annotations.contains_key(key), "{name}: no {key}");
        }
        let runbook = &alert.annotations["runbook"];
        let anchor = runbook
            .strip_prefix("docs/OPERATIONS.md#")
            .or_panic(&format!("{name}: runbook {runbook}"));
        assert!(
            anchors.contains(anchor),
            "{name}: no section #{anchor} in docs/OPERATIONS.md ({anchors:?})"
        );
        assert!(fires.contains(name), "{name}: no unit test where it fires");
        assert!(
            quiet.contains(name),
            "{name}: no unit test where it stays quiet"
        );
    }
}

/// One round of traffic: allowed (a first-seen and a cached token),
/// denied (restricted dependency, missing risk privilege, shadow),
/// rejected (canonicalize, authenticate, route) and an upstream failure.
async fn traffic(env: &Env, round: usize) {
    // The first request verifies the token; the rest come from the cache.
    let _ = round;
    let alice = bearer("alice");
    let auth = [("authorization", alice.as_str())];
    for _ in 0..3 {
        let r = env
            .client
            .get(&format!("{ACME}/journeys/checkout-smoke"), &auth)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let json = [
        ("authorization", alice.as_str()),
        ("content-type", "application/json"),
    ];
    let r = env
        .client
        .post(
            &format!("{ACME}/journeys/checkout-smoke/runs"),
            &json,
            r#"{"environment":"production"}"#,
        )
        .await;
    assert_eq!(r.json()["code"], "risk_privilege_missing", "{}", r.text());
    let r = env
        .client
        .post(
            &format!("{ACME}/journeys/refund-check/runs"),
            &json,
            r#"{"environment":"staging"}"#,
        )
        .await;
    assert_eq!(r.json()["code"], "restricted_dependency", "{}", r.text());
    let r = env
        .client
        .get(&format!("{ACME}/journeys/refund-check/evidence"), &auth)
        .await;
    assert_eq!(r.status, 200, "shadow: {}", r.text());
    let r = env
        .client
        .get(&format!("{ACME}/journeys/../journeys/x"), &auth)
        .await;
    assert_eq!(r.status, 400);
    let r = env
        .client
        .get(&format!("{ACME}/journeys/checkout-smoke"), &[])
        .await;
    assert_eq!(r.status, 401);
    let r = env.client.get("/nowhere", &auth).await;
    assert_eq!(r.status, 404);
    let r = env
        .client
        .get(&format!("{ACME}/journeys/checkout-smoke/logs"), &auth)
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
}

/// Expressions that return nothing on this test's traffic, and why. Every
/// other expression must return at least one series.
const EMPTY_HERE: &[(&str, &str)] = &[
    (
        "job:reqflo_gateway_deny:ratio_baseline1h",
        "reads the hour before the last 10 minutes; the test's Prometheus is seconds old",
    ),
    ("ReqfloGatewayDenyRatioJump", "needs the baseline above"),
    (
        "ReqfloGatewayInternalErrors",
        "no internal error happens (the counter is exported at 0)",
    ),
    ("ReqfloGatewaySnapshotStale", "the snapshot is seconds old"),
    (
        "ReqfloGatewayDecisionLatencyHigh",
        "decisions take microseconds in a release build (see MAY_HAVE_DATA)",
    ),
    (
        "ReqfloGatewayJwksStale",
        "the fixture has no JWKS (the age gauge is -1)",
    ),
    (
        "ReqfloGatewayRiskyAccessGained",
        "the test's applied reload only adds a comment: its access diff lists nothing",
    ),
    (
        "ReqfloGatewayAccessDiffUnlisted",
        "the test's reload diff is listed",
    ),
    (
        "ReqfloGatewayBundleStale",
        "the fixture serves a single-file policy (the gauge is 0); tests/tests/bundle_fetch.rs turns it 1",
    ),
    (
        "ReqfloGatewayBundleOrgRejected",
        "the fixture serves a single-file policy (the gauges are 0)",
    ),
    (
        "ReqfloGatewayOrgMisrouted",
        "the fixture has no shard (the counter stays 0)",
    ),
    ("ReqfloGatewayNotScraped", "the gateway is scraped"),
    ("ReqfloGatewayAbsent", "the gateway is scraped"),
];

/// Listed as empty above, but allowed to have data: the tests run a debug
/// build, whose unoptimized decisions can take tens of microseconds.
const MAY_HAVE_DATA: &[&str] = &["ReqfloGatewayDecisionLatencyHigh"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_evaluates_every_dashboard_query_and_rule() {
    let Some(binary) = tools::find("prometheus", "prometheus") else {
        return;
    };
    let env = Env::start().await;
    // A second replica that never gets the policy edit: the fleet then
    // serves two revisions, as a lagging replica would.
    let lagging = Env::start().await;
    let prometheus = Prometheus::start(
        &binary,
        &[Job {
            name: JOB.to_owned(),
            targets: vec![env.gateway.admin().addr(), lagging.gateway.admin().addr()],
        }],
        &[rules_path()],
    )
    .await;
    prometheus
        .wait_for(
            &format!("count(up{{job=\"{JOB}\"}} == 1) == 2"),
            Duration::from_secs(30),
        )
        .await;

    // Bounded traffic over several scrapes, with one rejected and one
    // applied reload in the middle.
    let good_policy =
        std::fs::read_to_string(env.gateway.policy_path()).or_panic("read the policy");
    let started = env.policy_status().await["revision"]
        .as_str()
        .or_panic("revision")
        .to_owned();
    for round in 0..40 {
        traffic(&env, round).await;
        if round == 10 {
            env.gateway.write_policy("orgs: [not a policy");
            env.policy_until("the bad reload rejected", |s| {
                !s["last_rejected_reload"].is_null()
            })
            .await;
        }
        if round == 20 {
            env.gateway.write_policy(&format!(
                "{good_policy}\n# touched by the Prometheus test\n"
            ));
            env.policy_until("the good reload applied", |s| {
                s["revision"] != started.as_str()
            })
            .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two more scrapes and rule evaluations after the last request.
    let samples = |r: &[serde_json::Value]| r.first().map(|s| s["value"][1].clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = prometheus
            .wait_for(
                "sum(reqflo_gateway_decisions_total)",
                Duration::from_secs(10),
            )
            .await;
        let ok = samples(&now).and_then(|v| v.as_str().and_then(|s| s.parse::<f64>().ok()));
        if ok.is_some_and(|n| n >= 40.0 * 4.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scrapes never caught up: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let exported: BTreeSet<String> = env
        .metrics()
        .await
        .samples
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let rules = rules();
    let recorded: BTreeSet<&str> = rules
        .iter()
        .filter(|r| !r.alert)
        .map(|r| r.name.as_str())
        .collect();

    let mut expressions: Vec<(String, String)> = dashboard_queries();
    for r in &rules {
        expressions.push((r.name.clone(), r.expr.clone()));
        if !r.alert {
            // The recorded series itself, as the dashboard and alerts read it.
            expressions.push((format!("{} (recorded)", r.name), r.name.clone()));
        }
    }
    let empty_here: BTreeMap<&str, &str> = EMPTY_HERE.iter().copied().collect();
    let mut failures = Vec::new();
    let mut with_data = 0;
    for (name, expr) in &expressions {
        let expr = substitute(expr);
        for metric in metric_names(&expr) {
            let known = if metric.contains(':') {
                recorded.contains(metric.as_str())
            } else {
                exported.contains(&metric)
            };
            if !known {
                failures.push(format!(
                    "{name}: names `{metric}`, which the gateway does not export"
                ));
            }
        }
        let key = name.trim_end_matches(" (recorded)");
        match prometheus.query(&expr).await {
            Err(e) => failures.push(format!("{name}: {e}\n    {expr}")),
            Ok(result) if result.is_empty() => {
                if !empty_here.contains_key(key) {
                    failures.push(format!("{name}: no data\n    {expr}"));
                }
            }
            Ok(_) => {
                with_data += 1;
                if empty_here.contains_key(key) && !MAY_HAVE_DATA.contains(&key) {
                    failures.push(format!(
                        "{name}: has data, but is listed as empty here ({})",
                        empty_here[key]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} expressions:\n{}",
        failures.len(),
        expressions.len(),
        failures.join("\n")
    );
    assert!(with_data > 40, "{with_data} expressions with data");

    // The alerts this traffic should trigger, as Prometheus itself sees them.
    let states: BTreeMap<String, String> = prometheus.alert_states().await.into_iter().collect();
    assert_eq!(
        states
            .get("ReqfloGatewayReloadRejected")
            .map(String::as_str),
        Some("firing"),
        "{states:?}"
    );
    assert_eq!(
        states
            .get("ReqfloGatewayUpstreamErrors")
            .map(String::as_str),
        Some("pending"),
        "{states:?}"
    );
    // The lagging replica: two revisions live, the alert waiting out its 10 minutes.
    assert_eq!(
        states
            .get("ReqfloGatewayRevisionsDiverged")
            .map(String::as_str),
        Some("pending"),
        "{states:?}"
    );
    let revisions = prometheus
        .query("job:reqflo_gateway_revisions:count")
        .await
        .or_panic("revisions");
    assert_eq!(
        revisions.first().map(|s| s["value"][1].clone()),
        Some("2".into()),
        "{revisions:?}"
    );
    assert_eq!(
        states
            .get("ReqfloGatewayInternalErrors")
            .map(String::as_str),
        Some("inactive"),
        "{states:?}"
    );
    let alerts = rules.iter().filter(|r| r.alert).count();
    assert_eq!(states.len(), alerts, "{states:?}");
}

/// What Grafana needs to import the dashboard as is: a data source
/// variable every query uses, `job` and `instance` variables every query
/// filters by, a description on every panel, unique ids, and panels that
/// do not overlap on the 24-column grid.
#[test]
fn the_dashboard_is_importable_as_is() {
    let text = std::fs::read_to_string(dashboard_path()).or_panic("read the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).or_panic("parse the dashboard");
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    // No `__inputs`: an import does not ask for anything but the data source variable.
    assert!(dashboard["__inputs"].is_null());
    let variables: BTreeMap<&str, &serde_json::Value> = dashboard["templating"]["list"]
        .as_array()
        .or_panic("templating")
        .iter()
        .map(|v| (v["name"].as_str().unwrap_or_default(), v))
        .collect();
    assert_eq!(variables["datasource"]["type"], "datasource");
    assert_eq!(variables["datasource"]["query"], "prometheus");
    for name in ["job", "instance"] {
        assert_eq!(variables[name]["type"], "query", "{name}");
        assert_eq!(
            variables[name]["datasource"]["uid"], "${datasource}",
            "{name}"
        );
        assert_eq!(variables[name]["includeAll"], true, "{name}");
    }
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in dashboard["panels"].as_array().or_panic("panels") {
        let title = panel["title"].as_str().or_panic("title");
        assert!(
            ids.insert(panel["id"].as_i64().or_panic("id")),
            "{title}: duplicate id"
        );
        let g = &panel["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_i64().or_panic("x"),
            g["y"].as_i64().or_panic("y"),
            g["w"].as_i64().or_panic("w"),
            g["h"].as_i64().or_panic("h"),
        );
        assert!(x >= 0 && w > 0 && x + w <= 24, "{title}: {g}");
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(
                    cells.insert((cx, cy)),
                    "{title} overlaps another panel at {cx},{cy}"
                );
            }
        }
        if panel["type"] == "row" {
            continue;
        }
        let description = panel["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("Normal"),
            "{title}: the description must say what normal looks like"
        );
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        for t in panel["targets"].as_array().or_panic("targets") {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{title}");
            let expr = t["expr"].as_str().or_panic("expr");
            for name in metric_names(expr) {
                if !name.contains(':') {
                    // Every selector of a gateway metric is filtered by job and instance.
                    let at = expr.find(&name).or_panic("the name");
                    let rest = &expr[at + name.len()..];
                    assert!(
                        rest.starts_with("{job=~\"$job\",instance=~\"$instance\""),
                        "{title}: `{name}` is not filtered by $job and $instance: {expr}"
                    );
                }
            }
        }
    }
}
