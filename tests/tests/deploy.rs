//! The Kubernetes manifests in `deploy/kubernetes/`: validated offline
//! against the Kubernetes API schemas (`kubernetes-validate`, from PyPI,
//! with the schemas it bundles), fitted together (selectors, ports, probes,
//! the drain timing, the security settings), their ConfigMap loaded as the
//! pod would see it, and their generated parts (the ConfigMap's copy of the
//! examples, the PrometheusRule's copy of the rules) kept fresh.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqflo_tests::OrPanic;
use reqflo_tests::tools::{self, repo_root};
use serde_yaml_ng::Value;

fn kube() -> PathBuf {
    repo_root().join("deploy/kubernetes")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).or_panic(&format!("read {}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&read(path)).or_panic(&format!("parse {}", path.display()))
}

/// Every manifest the kustomization lists.
fn manifests() -> Vec<(String, Value)> {
    let kustomization = yaml(&kube().join("kustomization.yaml"));
    kustomization["resources"]
        .as_sequence()
        .or_panic("resources")
        .iter()
        .map(|r| {
            let name = r.as_str().or_panic("a resource").to_owned();
            let doc = yaml(&kube().join(&name));
            (name, doc)
        })
        .collect()
}

fn manifest(kind: &str) -> Value {
    manifests()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind)
        .or_panic(&format!("a {kind} manifest"))
}

/// `text` with every non-empty line indented by `by` spaces.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}

/// `text` up to and including the first line that starts with `marker`.
fn head_through<'a>(text: &'a str, marker: &str, file: &str) -> &'a str {
    let at = text
        .find(&format!("\n{marker}"))
        .map(|i| i + 1)
        .or_panic(&format!("{file}: no line starting with {marker:?}"));
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
    &text[..end]
}

/// `text` from the first line that starts with `marker` on.
fn tail_from<'a>(text: &'a str, marker: &str, file: &str) -> &'a str {
    let at = text
        .find(&format!("\n{marker}"))
        .map(|i| i + 1)
        .or_panic(&format!("{file}: no line starting with {marker:?}"));
    &text[at..]
}

const CONFIG_MARKER: &str = "    # ---- below: examples/gateway.yaml from `mode:` on ----";

fn expected_configmap() -> String {
    let current = read(&kube().join("configmap.yaml"));
    let head = head_through(&current, CONFIG_MARKER, "configmap.yaml");
    let examples = read(&repo_root().join("examples/gateway.yaml"));
    let routes = tail_from(&examples, "mode:", "examples/gateway.yaml");
    let policy = read(&repo_root().join("examples/policy.yaml"));
    format!(
        "{head}{}  policy.yaml: |\n{}",
        indent(routes, 4),
        indent(&policy, 4)
    )
}

fn expected_prometheusrule() -> String {
    let current = read(&kube().join("prometheusrule.yaml"));
    let head = head_through(&current, "spec:", "prometheusrule.yaml");
    let rules = read(&repo_root().join("deploy/prometheus/reqflo-gateway.rules.yaml"));
    format!("{head}{}", indent(tail_from(&rules, "groups:", "rules"), 2))
}

/// The ConfigMap's copy of the examples and the PrometheusRule's copy of
/// the rules match their sources; `REQFLO_BLESS=1` rewrites them.
#[test]
fn the_generated_parts_are_fresh() {
    for (file, expected) in [
        ("configmap.yaml", expected_configmap()),
        ("prometheusrule.yaml", expected_prometheusrule()),
    ] {
        let path = kube().join(file);
        if std::env::var_os("REQFLO_BLESS").is_some() {
            std::fs::write(&path, &expected).or_panic(&format!("write {file}"));
            continue;
        }
        assert!(
            read(&path) == expected,
            "deploy/kubernetes/{file} is stale: run `REQFLO_BLESS=1 cargo test -p reqflo-tests --test deploy` and commit it"
        );
    }
}

/// The ConfigMap's two files, written to a directory as the pod sees them
/// at /etc/reqflo, load and validate as `reqflo-gateway validate` would.
#[test]
fn the_configmap_is_a_config_the_gateway_accepts() {
    let configmap = manifest("ConfigMap");
    let dir = tempfile::tempdir().or_panic("a directory");
    let data = configmap["data"].as_mapping().or_panic("data");
    assert_eq!(data.len(), 2, "gateway.yaml and policy.yaml");
    for (name, text) in data {
        let name = name.as_str().or_panic("a key");
        std::fs::write(dir.path().join(name), text.as_str().or_panic("a file")).or_panic("write");
    }
    let snapshot = match reqflo_config::load(&dir.path().join("gateway.yaml")) {
        Ok(s) => s,
        Err(errors) => panic!("the ConfigMap's config does not validate:\n{errors}"),
    };
    let examples = reqflo_config::load(&repo_root().join("examples/gateway.yaml"))
        .or_panic("the examples validate");
    assert_eq!(
        snapshot.routes.routes().len(),
        examples.routes.routes().len()
    );
    // The listeners must be the ports the Deployment and Service name.
    let text = data[&Value::from("gateway.yaml")]
        .as_str()
        .or_panic("gateway.yaml");
    let ports = container_ports();
    assert!(
        text.contains(&format!("proxy: 0.0.0.0:{}", ports.proxy)),
        "{text}"
    );
    assert!(
        text.contains(&format!("admin: 0.0.0.0:{}", ports.admin)),
        "{text}"
    );
    // The 1 MiB limit of a ConfigMap, with room for growth.
    let size: usize = data.values().filter_map(Value::as_str).map(str::len).sum();
    assert!(
        size < 512 * 1024,
        "{size} bytes: close to the 1 MiB ConfigMap limit"
    );
}

struct Ports {
    proxy: i64,
    admin: i64,
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .or_panic("containers");
    assert_eq!(containers.len(), 1);
    &containers[0]
}

fn container_ports() -> Ports {
    let deployment = manifest("Deployment");
    let c = container(&deployment);
    let port = |name: &str| {
        c["ports"]
            .as_sequence()
            .or_panic("ports")
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_i64())
            .or_panic(&format!("container port {name}"))
    };
    Ports {
        proxy: port("proxy"),
        admin: port("admin"),
    }
}

/// What a reviewer would check by hand: the selectors meet, the probes and
/// the scrape use the admin port, the drain fits the grace period, the pod
/// runs as non-root on a read-only filesystem, and the config directory is
/// mounted whole (a `subPath` mount never sees a ConfigMap update).
#[test]
fn the_manifests_fit_together() {
    let deployment = manifest("Deployment");
    let service = manifest("Service");
    let pdb = manifest("PodDisruptionBudget");
    let monitor = manifest("ServiceMonitor");
    let rule = manifest("PrometheusRule");
    let configmap = manifest("ConfigMap");

    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let matches = |selector: &Value, labels: &Value| {
        selector
            .as_mapping()
            .or_panic("a selector")
            .iter()
            .all(|(k, v)| &labels[k.as_str().or_panic("a label")] == v)
    };
    assert!(matches(
        &deployment["spec"]["selector"]["matchLabels"],
        pod_labels
    ));
    assert!(matches(&service["spec"]["selector"], pod_labels));
    assert!(matches(&pdb["spec"]["selector"]["matchLabels"], pod_labels));
    assert!(matches(
        &monitor["spec"]["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    // The job label the alerts' `up` rules expect.
    let job_label = monitor["spec"]["jobLabel"].as_str().or_panic("jobLabel");
    assert_eq!(service["metadata"]["labels"][job_label], "reqflo-gateway");

    let c = container(&deployment);
    let service_ports: Vec<&str> = service["spec"]["ports"]
        .as_sequence()
        .or_panic("service ports")
        .iter()
        .filter_map(|p| p["targetPort"].as_str())
        .collect();
    assert_eq!(service_ports, ["proxy", "admin"]);
    let scraped = monitor["spec"]["endpoints"][0]["port"]
        .as_str()
        .or_panic("scrape port");
    assert_eq!(scraped, "admin");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "admin");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "admin");

    // Drain: preStop, then SIGTERM with --grace-period, then pingora's
    // one more second, all inside terminationGracePeriodSeconds.
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .or_panic("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "serve");
    let arg = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .or_panic(&format!("--{name}"))
    };
    assert_eq!(arg("config"), "/etc/reqflo/gateway.yaml");
    let grace: i64 = arg("grace-period").parse().or_panic("--grace-period");
    let pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_i64()
        .or_panic("preStop sleep");
    let termination = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .or_panic("terminationGracePeriodSeconds");
    assert!(
        pre_stop + grace + 1 < termination,
        "{pre_stop} + {grace} + 1 >= {termination}"
    );

    let pod_security = &deployment["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true);
    assert!(pod_security["runAsUser"].as_i64().is_some_and(|u| u > 0));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());

    let mounts = c["volumeMounts"].as_sequence().or_panic("volumeMounts");
    let config_mount = mounts
        .iter()
        .find(|m| m["mountPath"] == "/etc/reqflo")
        .or_panic("the config mount");
    assert!(
        config_mount["subPath"].is_null(),
        "a subPath mount never sees ConfigMap updates"
    );
    let volume_name = &config_mount["name"];
    let volume = deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .or_panic("volumes")
        .iter()
        .find(|v| &v["name"] == volume_name)
        .or_panic("the config volume");
    assert_eq!(volume["configMap"]["name"], configmap["metadata"]["name"]);

    // The PrometheusRule carries exactly the tested rules.
    let rules = yaml(&repo_root().join("deploy/prometheus/reqflo-gateway.rules.yaml"));
    assert_eq!(rule["spec"]["groups"], rules["groups"]);
}

/// Every built-in kind validates strictly (no unknown field) against the
/// Kubernetes API schemas `kubernetes-validate` bundles; the Prometheus
/// Operator's kinds, which it has no schema for, are checked by
/// `the_manifests_fit_together` and `the_generated_parts_are_fresh`.
#[test]
fn the_manifests_validate_against_the_kubernetes_api_schemas() {
    let Some(validator) = tools::find(
        "kubernetes-validate",
        "python3-pip; pip install kubernetes-validate",
    ) else {
        return;
    };
    for version in ["1.30.0", "1.37.0"] {
        for (file, doc) in manifests() {
            let api = doc["apiVersion"].as_str().or_panic("apiVersion");
            if api.starts_with("monitoring.coreos.com/") {
                continue;
            }
            let output = Command::new(&validator)
                .args(["--strict", "-k", version])
                .arg(kube().join(&file))
                .output()
                .or_panic("run kubernetes-validate");
            let out = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{file} against Kubernetes {version}:\n{out}"
            );
            assert!(
                out.contains(" passed for resource"),
                "{file} against Kubernetes {version}:\n{out}"
            );
        }
    }
}

/// The image definition: a build stage and a small runtime stage, run as
/// the same non-root user the Deployment names, with the config path the
/// Deployment mounts. (No container builder can fetch base images on the
/// machines this project is tested on; `docs/OPERATIONS.md` says how to
/// build it.)
#[test]
fn the_image_is_multi_stage_and_runs_as_the_deployments_user() {
    let dockerfile = read(&repo_root().join("deploy/container/Dockerfile"));
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].contains(" AS build"), "{froms:?}");
    assert!(froms[1].contains("distroless"), "{froms:?}");
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .or_panic("a USER line");
    let (uid, gid) = user.split_once(':').or_panic("USER uid:gid");
    let deployment = manifest("Deployment");
    let pod = &deployment["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(
        pod["runAsUser"].as_i64().map(|u| u.to_string()).as_deref(),
        Some(uid)
    );
    assert_eq!(
        pod["runAsGroup"].as_i64().map(|g| g.to_string()).as_deref(),
        Some(gid)
    );
    assert!(dockerfile.contains("cargo build --release --locked -p reqflo-gateway"));
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/reqflo-gateway"]"#));
    assert!(dockerfile.contains("--config=/etc/reqflo/gateway.yaml"));
    let ports = container_ports();
    assert!(dockerfile.contains(&format!("EXPOSE {} {}", ports.proxy, ports.admin)));
    let ignore = read(&repo_root().join(".dockerignore"));
    assert!(
        ignore.lines().any(|l| l == "target/"),
        "the build context would carry target/"
    );
}
