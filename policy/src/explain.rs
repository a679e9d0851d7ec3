//! Sentences for decisions: the table of `docs/access-model-decisions.md`,
//! built from the facts of a denied request. Only deny paths come here.

#[cfg(test)]
mod tests;

use crate::compile::{OrgData, PrincipalKey, ResourceData, RoleSet, others_carry};
use crate::decide::eval::{
    Ctx, Failures, org_role_actions, resource_role_actions, risk_bit, service_role_actions,
};
use crate::decision::{ObjectRef, Reason, ReasonCode, Remedy, Request};
use crate::model::{
    AccessMode, Action, ActionSet, MembershipStatus, OrgRole, Privilege, ResourceRole, RiskLevel,
    ServiceRole, kind_noun,
};
use smol_str::SmolStr;

use crate::decision::HIDDEN_SENTENCE as HIDDEN;

fn reason(code: ReasonCode, message: String, object: Option<ObjectRef>) -> Reason {
    Reason::new(code, message, object)
}

fn object(kind: &str, id: Option<&str>) -> Option<ObjectRef> {
    Some(ObjectRef {
        kind: kind.to_owned(),
        id: id.map(str::to_owned),
    })
}

/// Step 1: unknown user, unknown org, or no membership.
pub(crate) fn not_member(request: &Request<'_>) -> Reason {
    reason(
        ReasonCode::NotOrgMember,
        "You are not a member of this organization.".to_owned(),
        object("org", Some(request.org)),
    )
}

pub(crate) fn inactive(request: &Request<'_>, status: MembershipStatus) -> Reason {
    reason(
        ReasonCode::MembershipInactive,
        format!("Your membership in this organization is {status}."),
        object("org", Some(request.org)),
    )
}

/// Step 2: every part of the request that could not be identified.
pub(crate) fn unidentified(
    request: &Request<'_>,
    action: bool,
    resource: bool,
    env: bool,
) -> Vec<Reason> {
    let mut out = Vec::new();
    if action {
        out.push(reason(
            ReasonCode::UnknownAction,
            format!(
                "`{}` is not an action Reqflo knows.",
                request.action.as_str()
            ),
            object("action", Some(request.action.as_str())),
        ));
    }
    if resource {
        out.push(hidden(ReasonCode::ResourceNotFound));
    }
    if env && let Some(e) = request.environment {
        out.push(reason(
            ReasonCode::EnvironmentNotFound,
            environment_sentence(e),
            object("environment", Some(e)),
        ));
    }
    out
}

/// `environment_not_found`: for an environment that does not exist and for
/// one the user may not see alike.
pub(crate) fn environment_sentence(id: &str) -> String {
    format!(
        "The environment `{id}` does not exist in this organization, or you do not have access to it."
    )
}

/// Step 3 failed on the request's resource.
pub(crate) fn not_visible() -> Reason {
    hidden(ReasonCode::NotVisible)
}

/// `resource_not_found` and `not_visible` look the same: one sentence, no object.
fn hidden(code: ReasonCode) -> Reason {
    reason(code, HIDDEN.to_owned(), None)
}

/// Steps 3–6: one reason per failed check, in flow order.
///
/// `id` is R's id as the request named it (equal to R's own: R was found by
/// it), so the id is not read from R's record, which keeps it below R's
/// first cache line.
pub(crate) fn reasons(
    ctx: &Ctx<'_>,
    index: u32,
    id: &str,
    action: Action,
    fail: &Failures,
) -> Vec<Reason> {
    if fail.not_visible {
        return vec![hidden(ReasonCode::NotVisible)];
    }
    on_resource(ctx, index, id, action, fail, true)
}

/// Reasons on R, whose id is `id` (`top`: the request's own resource; else
/// a dependency checked for `use`).
fn on_resource(
    ctx: &Ctx<'_>,
    index: u32,
    id: &str,
    action: Action,
    fail: &Failures,
    top: bool,
) -> Vec<Reason> {
    let org = ctx.org;
    let Some(r) = org.resource(index) else {
        return Vec::new();
    };
    let kind = org.kind_name(r);
    let noun = kind_noun(kind);
    let here = || object(kind, Some(id));
    let mut out = Vec::new();
    if fail.not_visible {
        out.push(hidden(ReasonCode::NotVisible));
        return out;
    }
    if fail.admin {
        let mut admin = reason(
            ReasonCode::AdminRoleRequired,
            admin_sentence(action, r, &noun),
            here(),
        );
        admin.remedy = remedy(ctx, r, action, r.risk);
        out.push(admin);
    }
    if fail.missing {
        let named = if action == Action::Attach {
            Action::Use
        } else {
            action
        };
        // The environment's risk counts only for the request's own `use`/`run`:
        // `attach` looks at the component's own risk even when it names `use`.
        let with_env = top && action.checks_dependencies();
        out.push(permission_missing(ctx, index, r, named, with_env, here()));
    }
    if fail.missing_attach {
        out.push(permission_missing(
            ctx,
            index,
            r,
            Action::Attach,
            false,
            here(),
        ));
    }
    if fail.production {
        let mut production = reason(
            ReasonCode::RiskPrivilegeMissing,
            production_sentence(ctx, index, r, action, top),
            here(),
        );
        production.remedy = vec![Remedy::Privilege {
            privilege: Privilege::Production,
        }];
        out.push(production);
    }
    if fail.destructive {
        let mut destructive = reason(
            ReasonCode::RiskPrivilegeMissing,
            format!("You cannot {action} this {noun} without the destructive privilege."),
            here(),
        );
        destructive.remedy = vec![Remedy::Privilege {
            privilege: Privilege::Destructive,
        }];
        out.push(destructive);
    }
    if let Some(d) = fail.dependency
        && let Some(dep) = org.resource(d)
    {
        let (dep_fail, _) = ctx.check(d, Action::Use, false);
        let cause = on_resource(ctx, d, &dep.id, Action::Use, &dep_fail, false)
            .into_iter()
            .next();
        let d_kind = org.kind_name(dep);
        let d_noun = kind_noun(d_kind);
        // The sentence names the real cause: out of sight, a dependency
        // whose access is tighter, one the user may not use, or a missing
        // privilege.
        let restricted =
            dep.access_mode != AccessMode::Open || dep.risk & risk_bit(RiskLevel::Sensitive) != 0;
        let because = if dep_fail.missing && restricted {
            format!("it uses a restricted {d_noun}")
        } else if dep_fail.missing {
            format!("it uses a {d_noun} you may not use")
        } else {
            format!("it uses a production {d_noun}, which needs the production privilege")
        };
        let (message, id) = if dep_fail.not_visible {
            (
                format!("You have access to the {noun}, but not to one of its required {d_noun}s."),
                None,
            )
        } else {
            (
                format!("You can view this {noun}, but you cannot {action} it because {because}."),
                Some(&*dep.id),
            )
        };
        out.push(Reason {
            code: ReasonCode::RestrictedDependency,
            message,
            object: object(d_kind, id),
            remedy: cause.as_ref().map(|c| c.remedy.clone()).unwrap_or_default(),
            cause: cause.map(Box::new),
        });
    }
    out
}

fn admin_sentence(action: Action, r: &ResourceData, noun: &str) -> String {
    let fixed = match action {
        Action::ManageScopes => "Only Security Admins can edit OAuth scopes.",
        Action::ManageSecrets => "Only Security Admins can manage secrets.",
        Action::ManageSso => "Only Security Admins can configure SSO.",
        Action::ManageScim => "Only Security Admins can configure SCIM.",
        Action::ManageBilling => "Only Billing Admins can manage billing.",
        Action::ManageIntegrations => "Only Integration Admins can configure integrations.",
        Action::ManageUsers => "Only Org Admins can invite users or change roles.",
        Action::ManageGroups => "Only Org Admins can manage groups.",
        Action::ManageSettings => "Only Org Admins can change organization settings.",
        Action::ManageAccess if crate::decide::eval::is_sensitive(r) => {
            return format!(
                "Only the owners of this {noun} and Security Admins can manage access to it."
            );
        }
        Action::ManageAccess => {
            return format!("Only the owners of this {noun} can manage access to it.");
        }
        _ => return format!("Only Org Owners can administer this {noun}."),
    };
    fixed.to_owned()
}

/// `permission_missing` for the missing permission `action` on R, with its
/// sentence and remedy. `with_env`: the environment's risk adds to R's (the
/// request's own resource, for `use`/`run` only; never for `attach`).
fn permission_missing(
    ctx: &Ctx<'_>,
    index: u32,
    r: &ResourceData,
    action: Action,
    with_env: bool,
    object: Option<ObjectRef>,
) -> Reason {
    let risk = r.risk | if with_env { env_risk(ctx) } else { 0 };
    let groups = restricting_groups(ctx, index, r, action);
    let mut missing = reason(
        ReasonCode::PermissionMissing,
        permission_sentence(ctx, r, action, risk, groups.as_deref()),
        object,
    );
    missing.remedy = match groups {
        Some(groups) => groups
            .iter()
            .filter_map(|g| ctx.org.groups.get(*g as usize))
            .map(|g| Remedy::Group {
                group: g.id.clone(),
            })
            .collect(),
        None => remedy(ctx, r, action, risk),
    };
    missing
}

/// The groups, when the grants covering R and the resource roles on R that
/// carry `action` name groups and nothing else (`None` otherwise).
fn restricting_groups(
    ctx: &Ctx<'_>,
    index: u32,
    r: &ResourceData,
    action: Action,
) -> Option<Vec<u32>> {
    let org = ctx.org;
    let mut groups: Vec<u32> = Vec::new();
    let mut other = false;
    let mut note = |p: PrincipalKey| match p.group_index() {
        Some(g) if !groups.contains(&g) => groups.push(g),
        Some(_) => {}
        None => other = true,
    };
    // When a grant naming someone other than a group carries the action,
    // the sentence names no group: the buckets' summaries say so without
    // reading their entries (a service's holds ~184 grants at L).
    let mut named_others = false;
    org.covering_buckets(index, r, |entries, table, _| {
        named_others |= others_carry(entries, table, action);
    });
    if named_others {
        note(PrincipalKey::NONE);
    } else {
        for (_, principal) in covering_grants_carrying(org, index, r, action) {
            note(principal);
        }
    }
    for &(p, role) in r.roles() {
        if resource_role_actions(role).contains(action) {
            note(p);
        }
    }
    (!other && !groups.is_empty()).then_some(groups)
}

/// The group sentence when `groups` restrict R, else "You can view …" and
/// what would grant it; `risk` is the effective risk.
fn permission_sentence(
    ctx: &Ctx<'_>,
    r: &ResourceData,
    action: Action,
    risk: u8,
    groups: Option<&[u32]>,
) -> String {
    let org = ctx.org;
    let noun = kind_noun(org.kind_name(r));
    if let Some(groups) = groups {
        let names: Vec<&str> = groups
            .iter()
            .filter_map(|g| org.groups.get(*g as usize))
            .map(|g| &*g.name)
            .collect();
        return match names.as_slice() {
            [one] => format!("This {noun} is restricted to the {one} group."),
            many => format!(
                "This {noun} is restricted to the {} groups.",
                join_and(many)
            ),
        };
    }
    let mut sentence = format!("You can view this {noun}, but you cannot {action} it.");
    if r.access_mode == AccessMode::ServiceControlled
        && action.checks_dependencies()
        && let Some(service) = r.service.and_then(|s| org.resource(s))
    {
        sentence.push_str(&format!(
            " Ask a {} service owner for the runner role.",
            service.name
        ));
    } else if ctx.member.roles == RoleSet::default().with(OrgRole::Viewer) {
        sentence.push_str(" Viewers have read-only access.");
    } else if r.access_mode == AccessMode::Restricted || risk & risk_bit(RiskLevel::Sensitive) != 0
    {
        sentence.push_str(" It needs an explicit role or grant.");
    }
    sentence
}

/// What would grant `action` on R, most specific first: the member
/// defaults (`use`/`run` of an open resource whose effective `risk` is not
/// sensitive), the org roles other than `org_owner` that carry it, the
/// owning service's roles that carry it (least first; only when the user
/// can see the service), the resource roles that carry it (least first;
/// not on a service, which has none), an explicit grant, `org_owner`.
fn remedy(ctx: &Ctx<'_>, r: &ResourceData, action: Action, risk: u8) -> Vec<Remedy> {
    let mut out = Vec::new();
    if action.checks_dependencies()
        && r.access_mode == AccessMode::Open
        && risk & risk_bit(RiskLevel::Sensitive) == 0
    {
        out.push(Remedy::OrgRole {
            org_role: OrgRole::Member,
        });
    }
    for &role in OrgRole::ALL {
        if role != OrgRole::OrgOwner && org_role_actions(role, r).with_implied().contains(action) {
            out.push(Remedy::OrgRole { org_role: role });
        }
    }
    if let Some(s) = r.service
        && ctx.is_visible(s)
        && let Some(service) = ctx.org.resource(s)
    {
        for &role in ServiceRole::ALL.iter().rev() {
            if service_role_actions(role, r)
                .with_implied()
                .contains(action)
            {
                out.push(Remedy::ServiceRole {
                    service_role: role,
                    service: SmolStr::new(&service.id),
                });
            }
        }
    }
    if ctx.org.kind_name(r) != "service" {
        for &role in ResourceRole::ALL.iter().rev() {
            if resource_role_actions(role).with_implied().contains(action) {
                out.push(Remedy::ResourceRole {
                    resource_role: role,
                });
            }
        }
    }
    out.push(Remedy::Grant { grant: action });
    out.push(Remedy::OrgRole {
        org_role: OrgRole::OrgOwner,
    });
    out
}

fn env_risk(ctx: &Ctx<'_>) -> u8 {
    ctx.env
        .and_then(|e| ctx.org.resource(e))
        .map_or(0, |e| e.risk)
}

/// "A", "A and B", "A, B and C".
fn join_and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// (grant, principal) of every grant whose scope covers R and whose actions
/// include `action`, whoever it names, in document order. Read from the
/// bucket entries (which carry the principal and the actions), so no grant
/// record is loaded: a service's bucket holds ~184 grants at L.
fn covering_grants_carrying(
    org: &OrgData,
    index: u32,
    r: &ResourceData,
    action: Action,
) -> Vec<(u32, PrincipalKey)> {
    let mut out: Vec<(u32, PrincipalKey)> = Vec::new();
    org.covering_buckets(index, r, |entries, _, _| {
        out.extend(
            entries
                .iter()
                .filter(|e| ActionSet(u32::from(e.actions)).contains(action))
                .map(|e| (e.grant, e.key)),
        )
    });
    out.sort_unstable();
    out.dedup();
    out
}

/// `risk_privilege_missing` (production): "You can run this journey in
/// staging, but not production." when the target environment alone makes the
/// request production and another environment would allow it.
fn production_sentence(
    ctx: &Ctx<'_>,
    index: u32,
    r: &ResourceData,
    action: Action,
    top: bool,
) -> String {
    let org = ctx.org;
    let noun = kind_noun(org.kind_name(r));
    let from_env = ctx.env.and_then(|e| org.resource(e)).filter(|e| {
        top && action.checks_dependencies()
            && e.risk & risk_bit(RiskLevel::Production) != 0
            && r.risk & risk_bit(RiskLevel::Production) == 0
    });
    if let Some(e) = from_env {
        let allowed_in = org.environments.iter().copied().find(|&f| {
            org.resource(f)
                .is_some_and(|f| f.risk & risk_bit(RiskLevel::Production) == 0)
                && !Ctx {
                    env: Some(f),
                    ..*ctx
                }
                .check(index, action, true)
                .0
                .any()
        });
        if let Some(f) = allowed_in.and_then(|f| org.resource(f)) {
            return format!(
                "You can {action} this {noun} in {}, but not {}.",
                f.name, e.name
            );
        }
    }
    format!("You cannot {action} this {noun} without the production privilege.")
}
