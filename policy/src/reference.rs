//! A plain, slow evaluator written straight from the decision flow: the oracle for property tests.
//!
//! [`decide`] reads the raw [`Document`] with linear scans and follows
//! `docs/access-model-decisions.md` step by step. It shares no logic with the
//! compiled engine ([`crate::decide`]): the two are written independently from
//! the same page so that the property test in `tests/differential.rs` can catch
//! either one drifting from it. It assumes a valid document but never panics on
//! an invalid one (unresolved references simply match nothing).

mod allowed;
mod permissions;
mod remedy;
mod sentences;
mod world;

#[cfg(test)]
mod tests;

use smol_str::SmolStr;

use crate::decision::{Decision, ObjectRef, Reason, ReasonCode, Remedy, Request};
use crate::document::Document;
use crate::model::{AccessMode, Action, MembershipStatus, Privilege, RiskLevel};

use permissions::{defaults, explicit, has_privilege, is_sensitive, visible};
pub use world::World;
use world::{Asker, Res};

/// Decides one request against a document, the slow and obvious way (the
/// document is indexed anew for each call: ask a [`World`] to decide many).
pub fn decide(document: &Document, request: &Request<'_>) -> Decision {
    World::new(document).decide(request)
}

impl World<'_> {
    /// Decides one request, the slow and obvious way.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        decide_in(self, request)
    }
}

fn decide_in(world: &World<'_>, request: &Request<'_>) -> Decision {
    let org_object = || {
        Some(ObjectRef {
            kind: "org".to_owned(),
            id: Some(request.org.to_owned()),
        })
    };

    // 1. Membership: nothing else is read when it fails.
    let Some(index) = world.org(request.org) else {
        return Decision::deny(vec![reason(
            ReasonCode::NotOrgMember,
            NOT_MEMBER.to_owned(),
            org_object(),
        )]);
    };
    let Some((status, roles)) = world.membership(request.org, request.user) else {
        return Decision::deny(vec![reason(
            ReasonCode::NotOrgMember,
            NOT_MEMBER.to_owned(),
            org_object(),
        )]);
    };
    if status != MembershipStatus::Active {
        let message = format!("Your membership in this organization is {status}.");
        return Decision::deny(vec![reason(
            ReasonCode::MembershipInactive,
            message,
            org_object(),
        )]);
    }
    let asker = Asker::new(index, request.user, roles);

    // 2. Identify. The resource first: one that does not exist and one the
    // user may not see answer alike, whatever else is wrong with the request.
    let Some(resource) = index.resource(request.resource) else {
        return Decision::deny(vec![reason(
            ReasonCode::ResourceNotFound,
            sentences::HIDDEN.to_owned(),
            None,
        )]);
    };
    // The environment, when it names an environment of the org; grants with
    // `environments` apply only then.
    let environment = request
        .environment
        .and_then(|id| index.resource(id))
        .filter(|e| e.kind == "environment");
    let env_id = environment.as_ref().map(|e| e.id);

    // 3. Visibility: alone, so nothing more is revealed.
    if !visible(&asker, &resource, env_id) {
        return Decision::deny(vec![reason(
            ReasonCode::NotVisible,
            sentences::HIDDEN.to_owned(),
            None,
        )]);
    }

    // Then every other part of the request that could not be identified: the
    // action, and an environment that does not exist or that the user may
    // not see (the two read alike).
    let mut reasons = Vec::new();
    let action = request.action.action();
    if action.is_none() {
        let message = format!(
            "`{}` is not an action Reqflo knows.",
            request.action.as_str()
        );
        let object = ObjectRef {
            kind: "action".to_owned(),
            id: Some(request.action.as_str().to_owned()),
        };
        reasons.push(reason(ReasonCode::UnknownAction, message, Some(object)));
    }
    if let Some(id) = request.environment {
        let seen = environment
            .as_ref()
            .is_some_and(|e| visible(&asker, e, env_id));
        if !seen {
            let message = format!(
                "The environment `{id}` does not exist in this organization, or you do not have access to it."
            );
            let object = ObjectRef {
                kind: "environment".to_owned(),
                id: Some(id.to_owned()),
            };
            reasons.push(reason(
                ReasonCode::EnvironmentNotFound,
                message,
                Some(object),
            ));
        }
    }
    let (Some(action), true) = (action, reasons.is_empty()) else {
        return Decision::deny(reasons);
    };

    // 4. and 5. Administrative actions, or permission and risk privileges.
    let risk = effective_risk(&resource, action, environment.as_ref());
    if action.is_administrative() {
        if !explicit(&asker, &resource, env_id).contains(action) {
            let message = sentences::admin(action, &resource, is_sensitive(&resource));
            let mut admin = reason(
                ReasonCode::AdminRoleRequired,
                message,
                Some(object_of(&resource)),
            );
            admin.remedy = remedy::remedy(&asker, &resource, action, resource.risk, env_id);
            reasons.push(admin);
        }
    } else {
        let check = Check {
            asker: &asker,
            resource: &resource,
            action,
            env_id,
            risk: &risk,
        };
        reasons.extend(check.permission_and_risk(Some((world, request, environment.as_ref()))));
    }

    // 6. Restricted dependencies, the target environment last.
    if action.checks_dependencies()
        && let Some(blocked) =
            first_blocking_dependency(&asker, &resource, action, environment.as_ref(), env_id)
    {
        reasons.push(blocked);
    }

    // 7. Allowed iff nothing failed.
    if reasons.is_empty() {
        Decision::allow(allowed::allowed_by(
            &asker, &resource, action, env_id, &risk,
        ))
    } else {
        Decision::deny(reasons)
    }
}

const NOT_MEMBER: &str = "You are not a member of this organization.";

fn reason(code: ReasonCode, message: String, object: Option<ObjectRef>) -> Reason {
    Reason::new(code, message, object)
}

fn object_of(resource: &Res<'_>) -> ObjectRef {
    ObjectRef {
        kind: resource.kind.to_owned(),
        id: Some(resource.id.to_owned()),
    }
}

/// R's risk, plus the environment's for `use` and `run`.
fn effective_risk(
    resource: &Res<'_>,
    action: Action,
    environment: Option<&Res<'_>>,
) -> Vec<RiskLevel> {
    let mut risk = resource.risk.to_vec();
    if let (true, Some(env)) = (action.checks_dependencies(), environment) {
        risk.extend_from_slice(env.risk);
    }
    risk
}

/// Step 5 for one resource and action.
struct Check<'a, 'd> {
    asker: &'a Asker<'d>,
    resource: &'a Res<'d>,
    action: Action,
    env_id: Option<&'a str>,
    risk: &'a [RiskLevel],
}

impl Check<'_, '_> {
    /// `request` is given for the request's own resource (not for dependencies):
    /// it allows the environment-caused production sentence.
    fn permission_and_risk(
        &self,
        request: Option<(&World<'_>, &Request<'_>, Option<&Res<'_>>)>,
    ) -> Vec<Reason> {
        let Check {
            asker,
            resource,
            action,
            env_id,
            risk,
        } = *self;
        let explicit = explicit(asker, resource, env_id);
        let effective = explicit.union(defaults(asker, resource, risk));
        let missing = |named: Action| {
            let message = sentences::permission_missing(asker, resource, named, risk);
            let mut missing = reason(
                ReasonCode::PermissionMissing,
                message,
                Some(object_of(resource)),
            );
            missing.remedy = match sentences::restricting_groups(asker, resource, named) {
                Some(groups) => groups
                    .into_iter()
                    .map(|g| Remedy::Group {
                        group: SmolStr::new(g),
                    })
                    .collect(),
                None => remedy::remedy(asker, resource, named, risk, env_id),
            };
            missing
        };
        let mut reasons = Vec::new();
        if action == Action::Attach {
            if !effective.contains(Action::Use) {
                reasons.push(missing(Action::Use));
            }
            if resource.secret_backed && !explicit.contains(Action::Attach) {
                reasons.push(missing(Action::Attach));
            }
        } else if !effective.contains(action) {
            reasons.push(missing(action));
        }
        if !matches!(
            action,
            Action::Use | Action::Run | Action::Edit | Action::Attach
        ) {
            return reasons;
        }
        if risk.contains(&RiskLevel::Production)
            && !has_privilege(asker, resource, env_id, Privilege::Production)
        {
            let message = match request {
                Some((world, request, Some(env)))
                    if env.has_risk(RiskLevel::Production)
                        && !resource.has_risk(RiskLevel::Production) =>
                {
                    environment_sentence(world, request, resource, env)
                }
                _ => privilege_sentence(action, resource, Privilege::Production),
            };
            let mut production = reason(
                ReasonCode::RiskPrivilegeMissing,
                message,
                Some(object_of(resource)),
            );
            production.remedy = vec![Remedy::Privilege {
                privilege: Privilege::Production,
            }];
            reasons.push(production);
        }
        if action == Action::Run
            && risk.contains(&RiskLevel::Destructive)
            && !has_privilege(asker, resource, env_id, Privilege::Destructive)
        {
            let message = privilege_sentence(action, resource, Privilege::Destructive);
            let mut destructive = reason(
                ReasonCode::RiskPrivilegeMissing,
                message,
                Some(object_of(resource)),
            );
            destructive.remedy = vec![Remedy::Privilege {
                privilege: Privilege::Destructive,
            }];
            reasons.push(destructive);
        }
        reasons
    }
}

fn privilege_sentence(action: Action, resource: &Res<'_>, privilege: Privilege) -> String {
    let kind = crate::model::kind_noun(resource.kind);
    format!("You cannot {action} this {kind} without the {privilege} privilege.")
}

/// "You can run this journey in staging, but not production.", naming the first
/// non-production environment in which the same request would be allowed.
fn environment_sentence(
    world: &World<'_>,
    request: &Request<'_>,
    resource: &Res<'_>,
    env: &Res<'_>,
) -> String {
    let org = world.org(request.org);
    let candidates = org.iter().flat_map(|o| o.org.resources.iter());
    for candidate in candidates {
        if candidate.kind != "environment" || candidate.risk.contains(&RiskLevel::Production) {
            continue;
        }
        let elsewhere = Request {
            environment: Some(&candidate.id),
            ..*request
        };
        if decide_in(world, &elsewhere).allowed {
            let kind = crate::model::kind_noun(resource.kind);
            let there = candidate.name.as_deref().unwrap_or(&candidate.id);
            return format!(
                "You can {} this {kind} in {there}, but not {}.",
                request.action.as_str(),
                env.display_name()
            );
        }
    }
    let action = request.action.action().unwrap_or(Action::Run);
    privilege_sentence(action, resource, Privilege::Production)
}

/// Why `use` of D by the asker would be denied by steps 3 to 5, on D's own risk.
fn use_blocker(asker: &Asker<'_>, dependency: &Res<'_>, env_id: Option<&str>) -> Option<Reason> {
    if !visible(asker, dependency, env_id) {
        return Some(reason(
            ReasonCode::NotVisible,
            sentences::HIDDEN.to_owned(),
            None,
        ));
    }
    let check = Check {
        asker,
        resource: dependency,
        action: Action::Use,
        env_id,
        risk: dependency.risk,
    };
    check.permission_and_risk(None).into_iter().next()
}

/// Depth-first pre-order over R's closure, then E and E's closure; each once, R never.
fn first_blocking_dependency(
    asker: &Asker<'_>,
    resource: &Res<'_>,
    action: Action,
    environment: Option<&Res<'_>>,
    env_id: Option<&str>,
) -> Option<Reason> {
    let mut visited: Vec<&str> = vec![resource.id];
    let mut roots: Vec<Res<'_>> = Vec::new();
    roots.extend(
        resource
            .depends_on
            .iter()
            .filter_map(|id| asker.index.resource(id)),
    );
    roots.extend(environment.copied());
    for root in roots {
        if let Some((blocker, cause)) = walk(asker, root, env_id, &mut visited) {
            let shown = visible(asker, &blocker, env_id);
            let message =
                sentences::restricted_dependency(resource, action, &blocker, shown, cause.code);
            let object = ObjectRef {
                kind: blocker.kind.to_owned(),
                id: shown.then(|| blocker.id.to_owned()),
            };
            return Some(Reason {
                code: ReasonCode::RestrictedDependency,
                message,
                object: Some(object),
                remedy: cause.remedy.clone(),
                cause: Some(Box::new(cause)),
            });
        }
    }
    None
}

fn walk<'d>(
    asker: &Asker<'d>,
    node: Res<'d>,
    env_id: Option<&str>,
    visited: &mut Vec<&'d str>,
) -> Option<(Res<'d>, Reason)> {
    if visited.contains(&node.id) {
        return None;
    }
    visited.push(node.id);
    // An open, normal dependency the user can see is not tighter than
    // anything: it never blocks (what it depends on still may).
    let tighter = !(node.access_mode == AccessMode::Open
        && node.risk.iter().all(|r| *r == RiskLevel::Normal)
        && visible(asker, &node, env_id));
    if tighter && let Some(cause) = use_blocker(asker, &node, env_id) {
        return Some((node, cause));
    }
    for id in node.depends_on {
        if let Some(child) = asker.index.resource(id)
            && let Some(found) = walk(asker, child, env_id, visited)
        {
            return Some(found);
        }
    }
    None
}
