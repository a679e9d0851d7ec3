//! `reqflo-gateway demo`: the gateway with the bundled examples, mock Reqflo
//! backends, demo tokens and ready-to-paste `curl` lines.

mod setup;
mod steps;

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use reqflo_gateway::demo::client;
use reqflo_gateway::demo::mock::MockBackend;
use reqflo_gateway::demo::tokens::{TokenSpec, mint};
use reqflo_gateway::logging::{self, LogFormat};
use reqflo_gateway::{Gateway, Options, Running};

use steps::Step;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Proxy listener; default the example config's (127.0.0.1:8080), or a free port if that is taken.
    #[arg(long)]
    pub proxy: Option<SocketAddr>,
    /// Admin listener; default the example config's (127.0.0.1:9090), or a free port if that is taken.
    #[arg(long)]
    pub admin: Option<SocketAddr>,
    /// Send every printed request (and the hot-reload edits), compare with the
    /// expected answers, print the results and exit: 0 when all match.
    #[arg(long)]
    pub check: bool,
    /// Log lines as text or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

pub fn run(args: &Args) -> ExitCode {
    logging::init(args.log_format);
    match demo(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reqflo-gateway demo: {e}");
            ExitCode::from(1)
        }
    }
}

fn demo(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let dir = tempfile::Builder::new().prefix("reqflo-demo-").tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut mocks = BTreeMap::new();
    let mut backends = Vec::new();
    for name in setup::upstream_names()? {
        let backend = runtime.block_on(MockBackend::start(
            &name,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))?;
        mocks.insert(name, backend.addr);
        backends.push(backend);
    }
    let files = setup::write(dir.path(), &mocks)?;

    let options = Options {
        proxy_addr: Some(free_or_ephemeral(
            args.proxy
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
        )),
        admin_addr: Some(free_or_ephemeral(
            args.admin
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9090))),
        )),
        handle_signals: !args.check,
        grace_period: Duration::from_secs(1),
        ..Options::new(&files.config)
    };
    let running = Gateway::start(options)?;

    let mut tokens = HashMap::new();
    for (var, user, _) in steps::CAST {
        let spec = TokenSpec {
            issuer: &files.identity.issuer,
            audience: &files.identity.audience,
            kid: &files.identity.kid,
            algorithm: jsonwebtoken::Algorithm::RS256,
            subject: user,
            ttl: Duration::from_secs(12 * 3600),
        };
        tokens.insert(*var, mint(&spec, setup::RSA_PRIVATE.as_bytes())?);
    }

    print_guide(&running, &files, &tokens, &backends, dir.path());
    if args.check {
        let failures = check(&running, &files, &tokens);
        running.stop();
        println!();
        return Ok(if failures == 0 {
            println!("demo check: every request answered as printed");
            ExitCode::SUCCESS
        } else {
            println!("demo check: {failures} request(s) did not answer as printed");
            ExitCode::from(1)
        });
    }
    println!("\nServing until Ctrl-C. Decisions are logged below.\n");
    running.wait();
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

/// `addr` if it can be bound, else a free port on the same interface.
fn free_or_ephemeral(addr: SocketAddr) -> SocketAddr {
    match TcpListener::bind(addr) {
        Ok(_) => addr,
        Err(_) => SocketAddr::new(addr.ip(), 0),
    }
}

fn print_guide(
    running: &Running,
    files: &setup::Files,
    tokens: &HashMap<&str, String>,
    backends: &[MockBackend],
    dir: &Path,
) {
    let proxy = running.proxy_addr;
    let admin = running.admin_addr;
    println!("Reqflo Gate demo");
    println!("================\n");
    println!("gateway proxy   http://{proxy}");
    println!("gateway admin   http://{admin}   (/metrics /healthz /readyz /policy)");
    for b in backends {
        println!(
            "mock backend    http://{}   (upstream `{}`)",
            b.addr, b.name
        );
    }
    println!(
        "files           {}  (route config, policy, keys: a copy of examples/)",
        dir.display()
    );
    println!(
        "\n# 1. Paste these first: demo tokens (RS256, 12 h) for the cast of examples/policy.yaml."
    );
    for (var, _, who) in steps::CAST {
        println!("# {who}");
        println!(
            "export {var}='{}'",
            tokens.get(var).map(String::as_str).unwrap_or("")
        );
    }
    for (n, (title, steps)) in steps::sections().iter().enumerate() {
        println!("\n# {}. {title}", n + 2);
        for step in steps {
            println!("#   {} -> {}", step.title, steps::expectation(step));
            println!("{}", steps::curl(step, proxy));
        }
    }
    let n = steps::sections().len() + 2;
    let reload = steps::reload_step();
    let policy = files.policy.display();
    println!("\n# {n}. Hot reload: edit the policy file the gateway watches.");
    println!("#   Before: Mia may not see the Support toolkit -> 404 resource_not_found");
    println!("{}", steps::curl(&reload, proxy));
    println!(
        "#   Add Mia to the Support Tier 2 group (the gateway reloads within a second; see the log line \"policy reload applied\"):"
    );
    println!("cp {} {policy}", files.policy_reload.display());
    println!("#   After: the same request -> 200, and the admin endpoint shows the new revision");
    println!("{}", steps::curl(&reload, proxy));
    println!("curl -sS http://{admin}/policy");
    println!(
        "#   A broken edit is rejected; the last good policy keeps serving, and /policy and /metrics say why:"
    );
    println!("printf 'orgs: [\\n' > {policy}");
    println!("curl -sS http://{admin}/policy");
    println!(
        "curl -sS http://{admin}/metrics | grep -E '^reqflo_gateway_(reloads_total|snapshot_info)'"
    );
    println!("#   Back to the original policy:");
    println!("cp {} {policy}", files.policy_original.display());
    println!("\n# {}. Metrics", n + 1);
    println!("curl -sS http://{admin}/metrics | grep -E '^reqflo_gateway_decisions_total'");
}

/// Sends every step and the hot-reload sequence; returns how many failed.
fn check(running: &Running, files: &setup::Files, tokens: &HashMap<&str, String>) -> usize {
    println!("\nChecking every request:");
    let mut failures = 0;
    for (_, steps) in steps::sections() {
        for step in &steps {
            failures += usize::from(!check_step(running.proxy_addr, step, tokens));
        }
    }
    let mut reload = steps::reload_step();
    reload.status = 404;
    reload.code = Some("resource_not_found");
    failures += usize::from(!check_step(running.proxy_addr, &reload, tokens));
    let before = running.policy_status()["revision"].clone();
    let copied = std::fs::copy(&files.policy_reload, &files.policy).is_ok();
    let changed = wait_for(|| running.policy_status()["revision"] != before);
    println!(
        "  {} hot reload: policy edited, new revision serving",
        verdict(copied && changed)
    );
    failures += usize::from(!(copied && changed));
    let allowed = steps::reload_step();
    failures += usize::from(!check_step(running.proxy_addr, &allowed, tokens));

    let serving = running.policy_status()["revision"].clone();
    let broke = std::fs::write(&files.policy, "orgs: [\n").is_ok();
    let rejected = wait_for(|| !running.policy_status()["last_rejected_reload"].is_null());
    let kept = running.policy_status()["revision"] == serving;
    println!(
        "  {} broken edit rejected, last good revision keeps serving",
        verdict(broke && rejected && kept)
    );
    failures += usize::from(!(broke && rejected && kept));
    failures += usize::from(!check_step(running.proxy_addr, &allowed, tokens));
    failures
}

fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok  " } else { "FAIL" }
}

fn check_step(proxy: SocketAddr, step: &Step, tokens: &HashMap<&str, String>) -> bool {
    let bearer = step
        .token
        .and_then(|t| tokens.get(t))
        .map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = step.headers.to_vec();
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    let reply = client::send(
        proxy,
        step.method,
        step.path,
        &headers,
        step.body.unwrap_or("").as_bytes(),
    );
    let (ok, got) = match &reply {
        Ok(r) => {
            let json = r.json();
            let code = json["code"].as_str();
            let message = json["message"].as_str();
            let ok = r.status == step.status
                && step.code.is_none_or(|c| code == Some(c))
                && step.message.is_none_or(|m| message == Some(m));
            (
                ok,
                format!(
                    "{} {} {}",
                    r.status,
                    code.unwrap_or(""),
                    message.unwrap_or("")
                ),
            )
        }
        Err(e) => (false, format!("no answer: {e}")),
    };
    println!("  {} {} {}", verdict(ok), step.method, step.path);
    if !ok {
        println!("       expected {}", steps::expectation(step));
        println!("       got      {got}");
    }
    ok
}
