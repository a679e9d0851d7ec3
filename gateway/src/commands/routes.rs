//! `reqflo-gateway test-routes FILE...`: route tests, as Envoy's
//! `router_check_tool` runs them. Each file names a route config and lists
//! raw requests with what each must map to; every request is run through
//! the proxy's own pipeline (`proxy::pipeline::evaluate`: canonicalize,
//! route, environment, decide) against that config and its policy.
//!
//! Prints each failure with what differed, then `N passed, N failed`, then
//! the route coverage: the routes no test exercised. Exit status: 0 all
//! passed (and coverage at least `--min-coverage`), 1 a test failed or
//! coverage is short, 2 unusable input (a file that does not parse, a
//! config that does not validate: every error, with where it is).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bytes::Bytes;
use serde::Deserialize;

use reqflo_gateway::proxy::pipeline::{Evaluation, Probe, evaluate};
use reqflo_gateway::respond::Refusal;

const FAILED: u8 = 1;
const UNUSABLE: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Route test files (YAML or JSON).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Fail unless at least this percentage of the config's routes is exercised.
    #[arg(long, default_value_t = 0.0)]
    pub min_coverage: f64,
}

/// A route test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The route config, relative to this file.
    config: PathBuf,
    tests: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    request: Request,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default = "get")]
    method: String,
    /// The path, with its query when `query` is not given.
    path: String,
    /// The query string, without `?`.
    #[serde(default)]
    query: Option<String>,
    /// Header name → value (a mapping), or `[name, value]` pairs (to
    /// send one header twice); sent in this order.
    #[serde(default)]
    headers: Headers,
    #[serde(default)]
    body: String,
    /// The verified user; absent: a request without credentials.
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Headers {
    #[default]
    None,
    Map(serde_yaml_ng::Mapping),
    Pairs(Vec<(String, String)>),
}

impl Headers {
    fn pairs(&self) -> Result<Vec<(String, String)>, String> {
        match self {
            Headers::None => Ok(Vec::new()),
            Headers::Pairs(p) => Ok(p.clone()),
            Headers::Map(m) => m
                .iter()
                .map(|(k, v)| {
                    let text = |x: &serde_yaml_ng::Value| match x {
                        serde_yaml_ng::Value::String(s) => Some(s.clone()),
                        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
                        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    };
                    match (text(k), text(v)) {
                        (Some(k), Some(v)) => Ok((k, v)),
                        _ => Err("a header name or value is not text".to_owned()),
                    }
                })
                .collect(),
        }
    }
}

fn get() -> String {
    "GET".to_owned()
}

/// `Some(None)` for a field given as `null`, `None` for one left out.
fn explicit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The route id; `null`: no route matches.
    #[serde(default, deserialize_with = "explicit")]
    route: Option<Option<String>>,
    action: Option<String>,
    resource: Option<String>,
    /// The decided environment; `null`: none.
    #[serde(default, deserialize_with = "explicit")]
    environment: Option<Option<String>>,
    /// `allow` or `deny`.
    decision: Option<String>,
    /// `forwarded`, or the status the gateway answers with.
    status: Option<StatusExpect>,
    /// The stable code of the gateway's answer (deny reason, rejection).
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusExpect {
    Code(u16),
    Word(String),
}

/// What one request came to, in the terms a test file uses.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    route: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    environment: Option<String>,
    decision: Option<&'static str>,
    /// `None`: forwarded.
    status: Option<u16>,
    code: Option<&'static str>,
}

fn outcome(e: &Evaluation) -> Outcome {
    Outcome {
        route: e.route.clone(),
        action: e.asked.as_ref().map(|a| a.action.to_string()),
        resource: e.asked.as_ref().map(|a| a.resource.clone()),
        environment: e.asked.as_ref().and_then(|a| a.environment.clone()),
        decision: e
            .decision
            .as_ref()
            .map(|d| if d.allowed { "allow" } else { "deny" }),
        status: e.refusal.as_ref().map(|(_, r)| r.status()),
        code: e.refusal.as_ref().map(|(_, r)| public_code(r)),
    }
}

/// The code the client sees (a hidden resource's denial reads as not found).
fn public_code(r: &Refusal) -> &'static str {
    if r.status() == 404 && matches!(r, Refusal::Denied(_)) {
        reqflo_policy::ReasonCode::ResourceNotFound.as_str()
    } else {
        r.code()
    }
}

/// Each difference between what was expected and what happened.
fn differences(expect: &Expect, got: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    let show = |v: &Option<String>| v.as_deref().map_or("none".to_owned(), |s| format!("`{s}`"));
    if let Some(route) = &expect.route
        && *route != got.route
    {
        out.push(format!(
            "route: expected {}, got {}",
            show(route),
            show(&got.route)
        ));
    }
    for (field, want, have) in [
        ("action", &expect.action, &got.action),
        ("resource", &expect.resource, &got.resource),
    ] {
        if let Some(want) = want
            && have.as_deref() != Some(want.as_str())
        {
            out.push(format!("{field}: expected `{want}`, got {}", show(have)));
        }
    }
    if let Some(env) = &expect.environment
        && *env != got.environment
    {
        out.push(format!(
            "environment: expected {}, got {}",
            show(env),
            show(&got.environment)
        ));
    }
    if let Some(want) = &expect.decision
        && got.decision != Some(want.as_str())
    {
        out.push(format!(
            "decision: expected `{want}`, got {}",
            got.decision
                .map_or("none (no decision was made)".to_owned(), |d| format!(
                    "`{d}`"
                ))
        ));
    }
    if let Some(want) = &expect.status {
        let have = got.status.map_or("forwarded".to_owned(), |s| s.to_string());
        let want = match want {
            StatusExpect::Code(c) => c.to_string(),
            StatusExpect::Word(w) => w.clone(),
        };
        if want != have {
            out.push(format!("status: expected {want}, got {have}"));
        }
    }
    if let Some(want) = &expect.code
        && got.code != Some(want.as_str())
    {
        out.push(format!(
            "code: expected `{want}`, got {}",
            got.code
                .map_or("none (forwarded)".to_owned(), |c| format!("`{c}`"))
        ));
    }
    out
}

fn probe(request: &Request) -> Result<Probe, String> {
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", request.method))?;
    let target = match &request.query {
        Some(q) => format!("{}?{q}", request.path),
        None => request.path.clone(),
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in &request.headers.pairs()? {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| format!("the value of `{name}` is not a header value"))?;
        headers.append(name, value);
    }
    if !request.body.is_empty() && !headers.contains_key(http::header::CONTENT_LENGTH) {
        headers.insert(http::header::CONTENT_LENGTH, request.body.len().into());
    }
    Ok(Probe {
        method,
        target,
        headers,
        body: Bytes::from(request.body.clone()),
        user: request.user.clone(),
    })
}

/// The results of one file.
struct Report {
    passed: usize,
    failed: usize,
    text: String,
    routes: Vec<String>,
    exercised: BTreeSet<String>,
}

fn run_file(path: &Path) -> Result<Report, Vec<String>> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: cannot read: {e}")])?;
    let file: File = serde_yaml_ng::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map_or(String::new(), |l| format!(":{}:{}", l.line(), l.column()));
        vec![format!("{shown}{at}: {e}")]
    })?;
    let config = path.parent().unwrap_or(Path::new(".")).join(&file.config);
    let snapshot = reqflo_config::load(&config)
        .map_err(|errors| errors.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let mut report = Report {
        passed: 0,
        failed: 0,
        text: String::new(),
        routes: snapshot
            .routes
            .routes()
            .iter()
            .map(|r| r.id.to_string())
            .collect(),
        exercised: BTreeSet::new(),
    };
    for case in &file.tests {
        let probe = probe(&case.request)
            .map_err(|e| vec![format!("{shown}: test `{}`: {e}", case.name)])?;
        let evaluation = evaluate(&snapshot, &probe);
        let got = outcome(&evaluation);
        if let Some(route) = &got.route {
            report.exercised.insert(route.clone());
        }
        let diff = differences(&case.expect, &got);
        if diff.is_empty() {
            report.passed += 1;
        } else {
            report.failed += 1;
            let _ = writeln!(
                report.text,
                "FAIL {shown}: {}\n  {} {}",
                case.name, case.request.method, probe.target
            );
            for d in diff {
                let _ = writeln!(report.text, "  {d}");
            }
        }
    }
    Ok(report)
}

pub fn run(args: &Args) -> ExitCode {
    let mut passed = 0;
    let mut failed = 0;
    let mut routes = BTreeSet::new();
    let mut exercised = BTreeSet::new();
    for path in &args.files {
        match run_file(path) {
            Ok(report) => {
                print!("{}", report.text);
                passed += report.passed;
                failed += report.failed;
                routes.extend(report.routes);
                exercised.extend(report.exercised);
            }
            Err(lines) => {
                for line in lines {
                    eprintln!("error: {line}");
                }
                return ExitCode::from(UNUSABLE);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    let missed: Vec<&String> = routes.iter().filter(|r| !exercised.contains(*r)).collect();
    let covered = routes.len() - missed.len();
    let pct = if routes.is_empty() {
        100.0
    } else {
        covered as f64 * 100.0 / routes.len() as f64
    };
    println!(
        "route coverage: {covered} of {} routes ({pct:.1}%)",
        routes.len()
    );
    if !missed.is_empty() {
        let names: Vec<&str> = missed.iter().map(|s| s.as_str()).collect();
        println!("not exercised: {}", names.join(", "));
    }
    let short = pct + 1e-9 < args.min_coverage;
    if short {
        println!(
            "coverage {pct:.1}% is below --min-coverage {}",
            args.min_coverage
        );
    }
    if failed > 0 || short {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
