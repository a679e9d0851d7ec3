//! `reqflo-gateway validate --config FILE`: load, validate and compile the
//! route config and the policy document it names, without serving (like
//! `nginx -t`).
//!
//! On success prints one line to standard output and exits 0:
//! `ok: revision 1a2b…, 34 routes, 1 public prefix; policy 9f8e…: 1 orgs, 10 users, 31 resources, 3 grants`.
//! Otherwise prints every error to standard error, one per line as
//! `FILE:LINE: route `ID`: message` (line and route where known), then a
//! count, and exits 1.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use reqflo_config::{ConfigErrors, Snapshot};

/// Exit status when any error was found.
const INVALID: u8 = 1;

pub fn run(config: &Path) -> ExitCode {
    let result = reqflo_config::load(config);
    let code = report(
        &result,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}

/// Writes the outcome and returns the exit status.
fn report(result: &Result<Snapshot, ConfigErrors>, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match result {
        Ok(snapshot) => {
            // A bundle's org that fails is rejected alone when serving (its
            // previous version keeps serving); here it is an error.
            let rejected: Vec<_> = snapshot.bundle.iter().flat_map(|b| b.rejected()).collect();
            if !rejected.is_empty() {
                for org in &rejected {
                    for error in &org.rejected {
                        let _ = writeln!(err, "{error}");
                    }
                }
                let _ = writeln!(
                    err,
                    "{} org(s) of the bundle rejected; the other orgs would be served",
                    rejected.len()
                );
                return INVALID;
            }
            let _ = writeln!(out, "{}", summary(snapshot));
            0
        }
        Err(errors) => {
            for error in &errors.0 {
                let _ = writeln!(err, "{error}");
            }
            let _ = writeln!(err, "{} error(s); nothing would be served", errors.len());
            INVALID
        }
    }
}

fn summary(snapshot: &Snapshot) -> String {
    let prefixes = snapshot.routes.public_prefixes().count();
    let counts = snapshot.policy.counts();
    let mut notes = String::new();
    let tunnels: Vec<&str> = snapshot
        .routes
        .routes()
        .iter()
        .filter(|r| r.websocket)
        .map(|r| &*r.id)
        .collect();
    if !tunnels.is_empty() {
        notes.push_str(&format!(
            "\nnote: route(s) `{}` carry WebSockets: the decision made for the upgrade covers the whole tunnel",
            tunnels.join("`, `")
        ));
    }
    for weakened in snapshot.policy.weakened_defaults() {
        notes.push_str(&format!(
            "\nweaker than the seed defaults (acknowledged): {weakened}"
        ));
    }
    if let Some(t) = &snapshot.settings.listener_tls {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let days = (t.not_after - now) / 86_400;
        let clients = match &t.client_auth {
            None => "no client certificates",
            Some(a) if a.required => "client certificates required",
            Some(_) => "client certificates optional",
        };
        notes.push_str(&format!(
            "\ntls: listener certificate `{}` ({}), {clients}, HTTP/2 {}",
            t.subject,
            if t.not_after <= now {
                "EXPIRED: clients will refuse it".to_owned()
            } else {
                format!("valid for {days} more days")
            },
            if t.http2 { "on" } else { "off" },
        ));
    }
    for u in snapshot.settings.upstreams.values() {
        if u.members.len() > 1 || u.health_check.is_some() || u.tls.is_some() {
            notes.push_str(&format!(
                "\nupstream `{}`: {} member(s){}{}",
                u.name,
                u.members.len(),
                if u.tls.is_some() {
                    ", TLS verified"
                } else {
                    ""
                },
                u.health_check
                    .as_ref()
                    .map(|h| format!(
                        ", health check {} every {} ms",
                        h.path,
                        h.interval.as_millis()
                    ))
                    .unwrap_or_default(),
            ));
        }
    }
    if let Some(a) = &snapshot.settings.assertion {
        notes.push_str(&format!(
            "\nassertion: {} key `{}`, {} s; backends verify it with the admin listener's /.well-known/jwks.json",
            a.key.algorithm(),
            a.key.kid(),
            a.ttl.as_secs()
        ));
    }
    if let Some(fetch) = snapshot
        .settings
        .bundle
        .as_ref()
        .and_then(|b| b.fetch.as_ref())
    {
        notes.push_str(&format!(
            "\nbundle source: {} every {} ms, cached in `{}`{}",
            fetch.url,
            fetch.poll_interval.as_millis(),
            snapshot
                .settings
                .bundle
                .as_ref()
                .map(|b| b.cache_dir.display().to_string())
                .unwrap_or_default(),
            if snapshot.bundle.as_ref().is_some_and(|b| b.missing) {
                " (nothing cached yet: the gateway starts not ready until the server answers)"
            } else {
                ""
            }
        ));
    }
    if let Some(b) = &snapshot.bundle {
        notes.push_str(&format!(
            "\nbundle {}: {} org(s) served (shard {}, {} outside it){}, {}",
            b.revision,
            b.orgs.len(),
            b.shard.describe(),
            b.not_served,
            if b.all_or_nothing { ", all-or-nothing" } else { "" },
            match (&b.signed_by, b.verified) {
                (Some(kid), true) => format!("signature verified (kid `{kid}`)"),
                (None, true) => "signature verified".to_owned(),
                _ => "unsigned: no bundle.public_key, so whoever can write the bundle sets the policy".to_owned(),
            }
        ));
    }
    match &snapshot.settings.access_diff {
        Some(_) if snapshot.bundle.is_some() => notes.push_str(
            "\nnote: reload.access_diff does not run for a bundle (no whole document is held): diff the documents with `reqflo-gateway diff` before `bundle build`",
        ),
        None => notes.push_str(
            "\nnote: reload.access_diff is off: applied policy reloads are not diffed (no access-change log lines or metrics)",
        ),
        Some(d) => notes.push_str(&format!(
            "\nreload: access diff on (up to {} (user, resource) pairs, {} changes logged); it keeps the parsed policy in memory",
            d.max_pairs, d.log_entries
        )),
    }
    let line = format!(
        "ok: revision {}, {} routes, {} public prefix{}; policy {}: {} orgs, {} users, {} groups, {} services, {} resources, {} grants",
        snapshot.revision,
        snapshot.routes.len(),
        prefixes,
        if prefixes == 1 { "" } else { "es" },
        snapshot.policy_revision,
        counts.orgs,
        counts.users,
        counts.groups,
        counts.services,
        counts.resources,
        counts.grants,
    );
    line + &notes
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
    }

    fn outcome(config: &Path) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = report(&reqflo_config::load(config), &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn the_examples_are_valid() {
        let (code, out, err) = outcome(&examples().join("gateway.yaml"));
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with("ok: revision "), "{out}");
        assert!(out.contains(" routes, 1 public prefix; policy "), "{out}");
        assert!(err.is_empty());
    }

    #[test]
    fn every_error_is_printed_with_file_line_and_route() {
        let dir = tempfile::tempdir().unwrap();
        let example = std::fs::read_to_string(examples().join("gateway.yaml")).unwrap();
        let broken = example
            .replace(
                "policy: policy.yaml",
                &format!("policy: {}", examples().join("policy.yaml").display()),
            )
            .replace("keys/", &format!("{}/keys/", examples().display()))
            .replace("action: manage_scopes", "action: manage_scope")
            .replace(
                "upstream: run-api\n  - id: runbook-run-in-environment",
                "upstream: nowhere\n  - id: runbook-run-in-environment",
            );
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, broken).unwrap();
        let (code, out, err) = outcome(&config);
        assert_eq!(code, INVALID);
        assert!(out.is_empty());
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        let file = config.display().to_string();
        assert!(lines[0].starts_with(&format!("{file}:")), "{err}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("route `oauth-scopes-edit`: `action` `manage_scope`")),
            "{err}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("route `runbook-run`: upstream `nowhere`")),
            "{err}"
        );
        assert_eq!(lines[2], "2 error(s); nothing would be served");
    }

    /// The example config, with its policy replaced by `policy` (YAML).
    fn with_policy(dir: &Path, policy: impl FnOnce(String) -> String) -> PathBuf {
        let example = std::fs::read_to_string(examples().join("gateway.yaml")).unwrap();
        let config = example.replace("keys/", &format!("{}/keys/", examples().display()));
        let text = std::fs::read_to_string(examples().join("policy.yaml")).unwrap();
        std::fs::write(dir.join("policy.yaml"), policy(text)).unwrap();
        std::fs::write(dir.join("gateway.yaml"), config).unwrap();
        dir.join("gateway.yaml")
    }

    #[test]
    fn an_access_mode_weaker_than_the_seed_default_is_an_error_or_listed() {
        let dir = tempfile::tempdir().unwrap();
        let key =
            "{ id: stripe-api-key, kind: secret, name: Stripe API key, visibility: restricted,";
        let open = |extra: &'static str| {
            move |p: String| {
                assert!(p.contains(key), "the example policy changed");
                p.replace(key, &format!("{key} access_mode: open,{extra}"))
            }
        };
        let config = with_policy(dir.path(), open(""));
        let (code, _, err) = outcome(&config);
        assert_eq!(code, INVALID);
        assert!(
            err.contains("orgs[acme].resources[stripe-api-key].access_mode: `open` is weaker than the seed default `restricted` for this resource (Secrets: Restricted)"),
            "{err}"
        );

        let config = with_policy(
            dir.path(),
            open(" weaker_access_reason: \"shared test key\","),
        );
        let (code, out, err) = outcome(&config);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("\nweaker than the seed defaults (acknowledged): acme/stripe-api-key (secret): access_mode open, seed default restricted (Secrets: Restricted): \"shared test key\""),
            "{out}"
        );
    }

    #[test]
    fn the_reload_access_diff_setting_is_stated() {
        let (_, out, _) = outcome(&examples().join("gateway.yaml"));
        assert!(
            out.contains(
                "\nreload: access diff on (up to 2000000 (user, resource) pairs, 5 changes logged)"
            ),
            "{out}"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = with_policy(dir.path(), |p| p);
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!("{text}\nreload: {{ access_diff: false }}\n"),
        )
        .unwrap();
        let (code, out, err) = outcome(&config);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(
                "\nnote: reload.access_diff is off: applied policy reloads are not diffed"
            ),
            "{out}"
        );
        std::fs::write(
            &config,
            format!("{text}\nreload: {{ access_diff_max_pairs: 0 }}\n"),
        )
        .unwrap();
        let (code, _, err) = outcome(&config);
        assert_eq!(code, INVALID);
        assert!(
            err.contains("reload `access_diff_max_pairs` is 0, which refuses every diff: set `access_diff: false` to turn the diff off"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let (code, _, err) = outcome(Path::new("/nonexistent/gateway.yaml"));
        assert_eq!(code, INVALID);
        assert!(
            err.starts_with("/nonexistent/gateway.yaml: cannot read file"),
            "{err}"
        );
    }
}
