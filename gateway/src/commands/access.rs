//! `reqflo-gateway who-can` and `what-can`: the reverse questions.
//!
//! `who-can` lists every user the policy allows an action on a resource
//! (in an environment), each with what allows it, exactly as `decide`
//! would answer for that user; `what-can` lists the risky access one user
//! holds (`run`, `use`, `edit` and `administer` of sensitive, production,
//! destructive or secret-backed targets, `run`/`use` per environment).
//!
//! Exit status: 0 answered (an empty list is an answer), 2 unusable input:
//! an unreadable or invalid policy (every error, as `decide` prints them),
//! or an unknown org, resource, environment, user or action, named.

use std::path::PathBuf;
use std::process::ExitCode;

use reqflo_policy::Action;
use reqflo_policy::AllowedBy;
use reqflo_policy::analysis::{self, Access, Through};
use reqflo_policy::document::Document;
use serde::Serialize;

/// Exit status of unusable input.
const UNUSABLE: u8 = 2;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct WhoCanArgs {
    /// The policy document (YAML, or JSON when it starts with `{`).
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub org: String,
    /// The action: `view`, `use`, `run`, `edit`, `administer`, `manage_*`, `attach`.
    #[arg(long)]
    pub action: String,
    /// The resource's id.
    #[arg(long)]
    pub resource: String,
    /// The target environment's resource id.
    #[arg(long)]
    pub environment: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct WhatCanArgs {
    /// The policy document (YAML, or JSON when it starts with `{`).
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub user: String,
    /// Only this org (default: every org the user is a member of).
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// One allowed user, with the principal the allowing grant, seat or role
/// names (`individual`: given to the user directly, not to a group, team
/// or role).
#[derive(Debug, Serialize)]
struct Allowed {
    user: String,
    allowed_by: AllowedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    through: Option<Through>,
    individual: bool,
}

/// One risky access, with how it reaches the user.
#[derive(Debug, Serialize)]
struct Held {
    #[serde(flatten)]
    access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    through: Option<Through>,
    individual: bool,
}

fn describe(by: &AllowedBy, through: Option<&Through>) -> String {
    match through {
        Some(t) => format!("{by} {t}"),
        None => by.to_string(),
    }
}

#[derive(Debug, Serialize)]
struct WhoCanOutput<'a> {
    org: &'a str,
    action: Action,
    resource: &'a str,
    environment: Option<&'a str>,
    revision: &'a str,
    count: usize,
    users: &'a [Allowed],
}

#[derive(Debug, Serialize)]
struct WhatCanOutput<'a> {
    user: &'a str,
    org: Option<&'a str>,
    revision: &'a str,
    count: usize,
    access: &'a [Held],
}

fn unusable(lines: impl IntoIterator<Item = String>) -> ExitCode {
    for line in lines {
        eprintln!("error: {line}");
    }
    ExitCode::from(UNUSABLE)
}

/// The action named, or an error listing the known ones.
pub(crate) fn parse_action(text: &str) -> Result<Action, String> {
    Action::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        match reqflo_config::suggest::nearest(text, known.iter().copied()) {
            Some(near) => format!("unknown action `{text}` (did you mean `{near}`?)"),
            None => format!("unknown action `{text}`; one of: {}", known.join(", ")),
        }
    })
}

fn print_json(value: &impl Serialize) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => unusable([format!("cannot print the answer: {e}")]),
    }
}

pub fn who_can(args: &WhoCanArgs) -> ExitCode {
    let action = match parse_action(&args.action) {
        Ok(a) => a,
        Err(e) => return unusable([e]),
    };
    let (document, snapshot) = match super::decide::load_document(&args.policy) {
        Ok(s) => s,
        Err(lines) => return unusable(lines),
    };
    let environment = args.environment.as_deref();
    let holders = match analysis::who_can(&snapshot, &args.org, action, &args.resource, environment)
    {
        Ok(u) => u,
        Err(e) => return unusable([e.to_string()]),
    };
    let paths = analysis::Paths::new(&document);
    let users: Vec<Allowed> = holders
        .into_iter()
        .map(|h| {
            let through = paths.through(&args.org, &h.user, &args.resource, &h.allowed_by);
            Allowed {
                individual: through.as_ref().is_some_and(Through::is_individual),
                user: h.user,
                allowed_by: h.allowed_by,
                through,
            }
        })
        .collect();
    match args.format {
        Format::Json => print_json(&WhoCanOutput {
            org: &args.org,
            action,
            resource: &args.resource,
            environment,
            revision: snapshot.revision(),
            count: users.len(),
            users: &users,
        }),
        Format::Text => {
            let place = environment.map_or(String::new(), |e| format!(", environment `{e}`"));
            println!(
                "who can {action} `{}` (org `{}`{place}; policy {}): {} user{}",
                args.resource,
                args.org,
                snapshot.revision(),
                users.len(),
                if users.len() == 1 { "" } else { "s" }
            );
            let width = users.iter().map(|u| u.user.len()).max().unwrap_or(0);
            for u in &users {
                println!(
                    "  {:<width$}  {}",
                    u.user,
                    describe(&u.allowed_by, u.through.as_ref())
                );
            }
            ExitCode::SUCCESS
        }
    }
}

pub fn what_can(args: &WhatCanArgs) -> ExitCode {
    let (document, snapshot): (Document, _) = match super::decide::load_document(&args.policy) {
        Ok(s) => s,
        Err(lines) => return unusable(lines),
    };
    let access = match analysis::what_can(&snapshot, &args.user, args.org.as_deref()) {
        Ok(a) => a,
        Err(e) => return unusable([e.to_string()]),
    };
    let paths = analysis::Paths::new(&document);
    let access: Vec<Held> = access
        .into_iter()
        .map(|a| {
            let through = paths.through(&a.org, &args.user, &a.resource, &a.allowed_by);
            Held {
                individual: through.as_ref().is_some_and(Through::is_individual),
                access: a,
                through,
            }
        })
        .collect();
    match args.format {
        Format::Json => print_json(&WhatCanOutput {
            user: &args.user,
            org: args.org.as_deref(),
            revision: snapshot.revision(),
            count: access.len(),
            access: &access,
        }),
        Format::Text => {
            println!(
                "risky access of `{}` (policy {}): {} entr{}",
                args.user,
                snapshot.revision(),
                access.len(),
                if access.len() == 1 { "y" } else { "ies" }
            );
            let rows: Vec<[String; 5]> = access
                .iter()
                .map(|held| {
                    let a = &held.access;
                    let risk: Vec<&str> = a.risk.iter().map(|r| r.as_str()).collect();
                    let mut risk = risk.join("+");
                    if a.secret_backed {
                        if !risk.is_empty() {
                            risk.push('+');
                        }
                        risk.push_str("secret-backed");
                    }
                    [
                        format!("{}/{}", a.org, a.resource),
                        a.action.to_string(),
                        a.environment.clone().unwrap_or_else(|| "-".to_owned()),
                        risk,
                        describe(&a.allowed_by, held.through.as_ref()),
                    ]
                })
                .collect();
            let mut widths = [0usize; 4];
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for [target, action, env, risk, by] in &rows {
                println!(
                    "  {target:<w0$}  {action:<w1$}  {env:<w2$}  {risk:<w3$}  {by}",
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2],
                    w3 = widths[3]
                );
            }
            ExitCode::SUCCESS
        }
    }
}
