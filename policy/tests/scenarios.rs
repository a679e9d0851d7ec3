//! Runs every scenario file under `tests/scenarios/`, one test per file, against
//! the compiled engine (`Snapshot::compile` + `decide`) and against the
//! reference evaluator. A failure names the file, the request and each difference.

use std::path::{Path, PathBuf};

use reqflo_policy::scenario::{self, Loaded, Outcome};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

fn load(file: &str) -> Loaded {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    scenario::load(&text, |include| {
        std::fs::read_to_string(base.join(include)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn failures(file: &str, against: &str, outcomes: &[Outcome<'_>]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| {
            let diffs: Vec<String> = o.differences.iter().map(|d| format!("    {d}")).collect();
            format!("{file} [{against}] `{}`:\n{}", o.name, diffs.join("\n"))
        })
        .collect()
}

fn run(file: &str) {
    let loaded = load(file);
    let mut all = failures(file, "engine", &loaded.run());
    all.extend(failures(file, "reference", &loaded.run_reference()));
    assert!(
        all.is_empty(),
        "{} failing request(s):\n{}",
        all.len(),
        all.join("\n")
    );
}

macro_rules! scenario_files {
    ($($test:ident => $file:literal),+ $(,)?) => {
        $(#[test] fn $test() { run($file); })+
        const FILES: &[&str] = &[$($file),+];
    };
}

scenario_files! {
    membership => "membership.yaml",
    org_roles => "org_roles.yaml",
    service_roles => "service_roles.yaml",
    resource_roles => "resource_roles.yaml",
    defaults => "defaults.yaml",
    risk => "risk.yaml",
    dependencies => "dependencies.yaml",
    visibility => "visibility.yaml",
    environments => "environments.yaml",
    attach => "attach.yaml",
    seed_sentences => "seed_sentences.yaml",
    true_reasons => "true_reasons.yaml",
    seed_defaults => "seed_defaults.yaml",
}

/// Every scenario file in the directory has its test above.
#[test]
fn every_file_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

/// The suite is as large as the issue asks, and produces every seed sentence.
#[test]
fn coverage() {
    let loaded: Vec<Loaded> = FILES.iter().map(|f| load(f)).collect();
    let requests: usize = loaded.iter().map(|l| l.scenario.requests.len()).sum();
    assert!(requests >= 80, "only {requests} requests");
    let messages: Vec<&str> = loaded
        .iter()
        .flat_map(|l| l.scenario.requests.iter())
        .filter_map(|r| r.expect.message.as_deref())
        .collect();
    for seed in [
        "You can view this journey, but you cannot run it because it uses a restricted OAuth config.",
        "You can run this journey in staging, but not production.",
        "Only Security Admins can edit OAuth scopes.",
        "This component is restricted to the Support Tier 2 group.",
        "You have access to the journey, but not to one of its required components.",
    ] {
        assert!(messages.contains(&seed), "no scenario expects {seed:?}");
    }
}
