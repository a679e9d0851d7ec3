//! `reqflo-gateway review`: the production, destructive and sensitive
//! access review (`reqflo_policy::analysis::review`), for one org or all,
//! as Markdown for people, JSON for tools, or CSV (one table of access
//! rows, or the per-user summary).
//!
//! Exit status: 0 written, 2 unusable input (a policy that does not parse
//! or validate, every error with where it is; an unknown org, named; a
//! file that cannot be written).

use std::fmt::Write;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use reqflo_policy::RiskLevel;
use reqflo_policy::analysis::Through;
use reqflo_policy::analysis::review::{
    ActionCounts, MemberClass, OrgReview, Privileges, Review, TargetAccess, review,
};
use smol_str::SmolStr;

const UNUSABLE: u8 = 2;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: summaries, then a table per resource.
    #[default]
    Markdown,
    /// The whole review as one JSON document.
    Json,
    /// One row per (resource, action, environment, who).
    Csv,
    /// One row per member whose production and destructive access differs
    /// from their class's, then one per class.
    CsvUsers,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy document (YAML, or JSON when it starts with `{`).
    #[arg(long)]
    pub policy: PathBuf,
    /// Only this org (default: every org).
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write here rather than to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn unusable(lines: impl IntoIterator<Item = String>) -> ExitCode {
    for line in lines {
        eprintln!("error: {line}");
    }
    ExitCode::from(UNUSABLE)
}

pub fn run(args: &Args) -> ExitCode {
    let (_, snapshot) = match super::decide::load_document(&args.policy) {
        Ok(s) => s,
        Err(lines) => return unusable(lines),
    };
    let review = match review(&snapshot, args.org.as_deref()) {
        Ok(r) => r,
        Err(e) => return unusable([e.to_string()]),
    };
    let written = match args.format {
        // JSON, for tools, is compact and written as it is serialized: a
        // large org's review is gigabytes.
        Format::Json => write_with(args.out.as_deref(), |w| {
            serde_json::to_writer(&mut *w, &review).map_err(std::io::Error::from)?;
            w.write_all(b"\n")
        }),
        Format::Csv => write_text(args.out.as_deref(), |out| csv_access(&review, out)),
        Format::CsvUsers => write_text(args.out.as_deref(), |out| csv_users(&review, out)),
        Format::Markdown => write_text(args.out.as_deref(), |out| markdown(&review, out)),
    };
    // A large org's review is millions of small allocations, and the
    // process ends here: not freeing them saves seconds.
    std::mem::forget(review);
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => unusable([e]),
    }
}

/// Writes text as `f` makes it, through a buffer flushed as it fills, so
/// a large review is never held whole in memory.
fn write_text(out: Option<&std::path::Path>, f: impl FnOnce(&mut Sink<'_>)) -> Result<(), String> {
    write_with(out, |w| {
        let mut sink = Sink {
            buf: String::with_capacity(SINK_FLUSH),
            to: w,
            failed: None,
        };
        f(&mut sink);
        sink.flush()?;
        match sink.failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

/// How much text a [`Sink`] holds before writing it out.
const SINK_FLUSH: usize = 1 << 20;

/// Text written to an `io::Write` through a buffer; the first write error
/// is kept (and later text dropped).
struct Sink<'a> {
    buf: String,
    to: &'a mut dyn std::io::Write,
    failed: Option<std::io::Error>,
}

impl Sink<'_> {
    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_none() && !self.buf.is_empty() {
            if let Err(e) = self.to.write_all(self.buf.as_bytes()) {
                self.failed = Some(e);
            }
            self.buf.clear();
        }
        Ok(())
    }
}

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.failed.is_some() {
            return Err(std::fmt::Error);
        }
        self.buf.push_str(s);
        if self.buf.len() >= SINK_FLUSH {
            let _ = self.flush();
        }
        Ok(())
    }
}

/// Writes to `out` (standard output when `None`) through a buffer.
fn write_with(
    out: Option<&std::path::Path>,
    f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), String> {
    match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            f(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            f(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| format!("cannot write the review: {e}"))
        }
    }
}

/// One CSV field, quoted when it needs to be (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn line(out: &mut dyn Write, fields: &[&str]) {
    let row: Vec<String> = fields.iter().map(|f| field(f)).collect();
    let _ = out.write_str(&row.join(","));
    let _ = out.write_str("\r\n");
}

fn risk(levels: &[RiskLevel]) -> String {
    let names: Vec<&str> = levels.iter().map(|l| l.as_str()).collect();
    names.join("+")
}

fn class_name(class: &MemberClass) -> String {
    let roles: Vec<&str> = class.roles.iter().map(|r| r.as_str()).collect();
    let roles = if roles.is_empty() {
        "no org role".to_owned()
    } else {
        roles.join("+")
    };
    format!("{} {roles}", class.status.as_str())
}

fn through_text(through: Option<&Through>) -> String {
    match through {
        None => String::new(),
        Some(Through::User) => "user".to_owned(),
        Some(Through::Group { group }) => format!("group:{group}"),
        Some(Through::Team { service }) => format!("team:{service}"),
        Some(Through::OrgRole { role }) => format!("org_role:{role}"),
    }
}

/// Every access row: org, resource, kind, resource risk, secret-backed,
/// action, environment, effective risk, who (`user`, `group`, `team` or
/// `class`), its id, how many members the row allows, allowed by, through,
/// individual, and the members excepted.
fn csv_access(review: &Review, out: &mut impl Write) {
    line(
        out,
        &[
            "org",
            "resource",
            "kind",
            "resource_risk",
            "secret_backed",
            "action",
            "environment",
            "risk",
            "who",
            "id",
            "members",
            "allowed_by",
            "through",
            "individual",
            "except",
        ],
    );
    for org in &review.orgs {
        for r in &org.resources {
            let resource_risk = risk(&r.risk);
            let secret = r.secret_backed.to_string();
            for t in &r.access {
                let action = t.action.to_string();
                let env = t.environment.clone().unwrap_or_default();
                let target_risk = risk(&t.risk);
                let mut row = |who: &str,
                               id: &str,
                               n: usize,
                               by: String,
                               th: String,
                               ind: bool,
                               except: &[SmolStr]| {
                    line(
                        out,
                        &[
                            &org.org,
                            &r.resource,
                            &r.kind,
                            &resource_risk,
                            &secret,
                            &action,
                            &env,
                            &target_risk,
                            who,
                            id,
                            &n.to_string(),
                            &by,
                            &th,
                            &ind.to_string(),
                            &except.join(" "),
                        ],
                    );
                };
                for u in &t.users {
                    row(
                        "user",
                        &u.user,
                        1,
                        u.allowed_by.to_string(),
                        through_text(u.through.as_ref()),
                        u.individual,
                        &[],
                    );
                }
                for p in &t.principals {
                    let (who, id) = match &p.through {
                        Through::Group { group } => ("group", group.as_str()),
                        Through::Team { service } => ("team", service.as_str()),
                        _ => ("principal", ""),
                    };
                    row(
                        who,
                        id,
                        p.members,
                        p.allowed_by.to_string(),
                        through_text(Some(&p.through)),
                        false,
                        &p.except,
                    );
                }
                for c in &t.classes {
                    let name = org.classes.get(c.class).map(class_name).unwrap_or_default();
                    row(
                        "class",
                        &name,
                        c.members,
                        c.allowed_by.to_string(),
                        through_text(c.through.as_ref()),
                        false,
                        &c.except,
                    );
                }
            }
        }
    }
}

fn counts(c: &ActionCounts) -> [String; 4] {
    [c.run, c.use_, c.edit, c.administer].map(|n| n.to_string())
}

/// The per-user summary: listed members, then each class (`user` empty,
/// `members`: how many unlisted members hold exactly that).
fn csv_users(review: &Review, out: &mut impl Write) {
    line(
        out,
        &[
            "org",
            "user",
            "class",
            "members",
            "production_run",
            "production_use",
            "production_edit",
            "production_administer",
            "destructive_run",
            "destructive_use",
            "destructive_edit",
            "destructive_administer",
            "individual_exceptions",
        ],
    );
    let row =
        |out: &mut dyn Write, org: &str, user: &str, class: &str, n: usize, p: &Privileges| {
            let [pr, pu, pe, pa] = counts(&p.production);
            let [dr, du, de, da] = counts(&p.destructive);
            line(
                out,
                &[
                    org,
                    user,
                    class,
                    &n.to_string(),
                    &pr,
                    &pu,
                    &pe,
                    &pa,
                    &dr,
                    &du,
                    &de,
                    &da,
                    &p.individual.to_string(),
                ],
            );
        };
    for org in &review.orgs {
        for u in &org.users {
            let class = org.classes.get(u.class).map(class_name).unwrap_or_default();
            row(out, &org.org, &u.user, &class, 1, &u.privileges);
        }
        for c in org.classes.iter().filter(|c| c.unlisted > 0) {
            row(out, &org.org, "", &class_name(c), c.unlisted, &c.holds);
        }
    }
}

/// Who a target allows, in one Markdown cell.
fn who(org: &OrgReview, t: &TargetAccess) -> String {
    let mut parts: Vec<String> = Vec::new();
    for u in &t.users {
        let mut s = format!("`{}` ({}", u.user, u.allowed_by);
        if let Some(th) = &u.through {
            let _ = write!(s, " {th}");
        }
        s.push(')');
        parts.push(s);
    }
    let except = |e: &[SmolStr]| {
        if e.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = e.iter().map(|u| format!("`{u}`")).collect();
            format!(" except {}", ids.join(", "))
        }
    };
    for p in &t.principals {
        parts.push(format!(
            "{} members {} ({}){}",
            p.members,
            p.through,
            p.allowed_by,
            except(&p.except)
        ));
    }
    for c in &t.classes {
        let name = org.classes.get(c.class).map(class_name).unwrap_or_default();
        let mut by = c.allowed_by.to_string();
        if let Some(th) = &c.through {
            let _ = write!(by, " {th}");
        }
        parts.push(format!(
            "every other member of class `{name}`: {} ({by}){}",
            c.members,
            except(&c.except)
        ));
    }
    parts.join("; ").replace('|', "\\|")
}

fn privileges_cells(p: &Privileges) -> String {
    let [pr, pu, pe, pa] = counts(&p.production);
    let [dr, du, de, da] = counts(&p.destructive);
    format!(
        "{pr} | {pu} | {pe} | {pa} | {dr} | {du} | {de} | {da} | {}",
        p.individual
    )
}

const PRIVILEGES_HEADER: &str = "production run | production use | production edit | production administer | destructive run | destructive use | destructive edit | destructive administer | individual exceptions";

fn markdown(review: &Review, out: &mut impl Write) {
    let _ = writeln!(
        out,
        "# Access review\n\nPolicy revision `{}`.\n",
        review.revision
    );
    let _ = out.write_str(
        "Reviewed: every sensitive, production or destructive resource (production \
         environments included), every secret-backed resource, every credential and OAuth \
         config. `run` and `use` are reviewed in every environment. A row \"N members of a \
         group\" allows every member of the group but those excepted; \"every other member of class …\" \
         allows every member of that class not allowed by an earlier entry of the row, but \
         those excepted.\n",
    );
    for org in &review.orgs {
        let targets: usize = org.resources.iter().map(|r| r.access.len()).sum();
        let _ = writeln!(
            out,
            "\n## Org `{}`\n\n{} members, {} reviewed resources, {targets} (action, environment) \
             targets with access, {} individual exceptions, {} members listed below.\n",
            org.org,
            org.members,
            org.resources.len(),
            org.individual_exceptions.len(),
            org.users.len()
        );
        let _ = writeln!(
            out,
            "### Production and destructive access by member\n\n\
             Each member not listed holds what their class holds.\n\n\
             | member | class | {PRIVILEGES_HEADER} |\n|{}",
            "---|".repeat(11)
        );
        for c in &org.classes {
            if c.unlisted > 0 {
                let _ = writeln!(
                    out,
                    "| *{} other members* | {} | {} |",
                    c.unlisted,
                    class_name(c),
                    privileges_cells(&c.holds)
                );
            }
        }
        for u in &org.users {
            let class = org.classes.get(u.class).map(class_name).unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}` | {class} | {} |",
                u.user,
                privileges_cells(&u.privileges)
            );
        }
        let _ = writeln!(
            out,
            "\n### Individual exceptions\n\nAccess given to one user directly (a grant, \
             seat or resource role naming the user) rather than to a group, team or role.\n\n\
             | resource | action | environment | risk | user | allowed by |\n|---|---|---|---|---|---|"
        );
        for e in &org.individual_exceptions {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | `{}` | {} |",
                e.resource,
                e.action,
                e.environment.as_deref().unwrap_or("-"),
                risk(&e.risk),
                e.user,
                e.allowed_by
            );
        }
        let _ = writeln!(out, "\n### Resources");
        for r in &org.resources {
            let why: Vec<&str> = r.reviewed_for.iter().map(|w| w.as_str()).collect();
            let _ = writeln!(
                out,
                "\n#### `{}` ({}; reviewed for {})\n\n| action | environment | risk | who |\n|---|---|---|---|",
                r.resource,
                r.kind,
                why.join(", ")
            );
            for t in &r.access {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    t.action,
                    t.environment.as_deref().unwrap_or("-"),
                    risk(&t.risk),
                    who(org, t)
                );
            }
        }
    }
}
