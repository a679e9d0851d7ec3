//! Routes and public prefixes: every per-route check, overlaps, the table.

use std::collections::HashSet;
use std::sync::Arc;

use reqflo_policy::Action;

use super::{Errors, Inputs};
use crate::error::ErrorKind;
use crate::raw::{RawEnvironment, RawRoute};
use crate::routes::{Access, AlsoCheck, Check, EnvironmentSource, Route, RouteTable};
use crate::settings::{Mode, PublicPrefix};
use crate::template::{PathTemplate, Template};

/// The methods a route may name.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Methods whose requests carry no body to read an environment from.
const BODYLESS: &[&str] = &["GET", "HEAD", "OPTIONS"];

const ROUTES: &str = "routes";
const PREFIXES: &str = "public_prefixes";

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn valid_header(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub(super) fn compile(
    inputs: &Inputs,
    kinds: Option<&super::policy::KnownKinds<'_>>,
    errors: &mut Errors<'_>,
) -> Option<RouteTable> {
    let raw = &inputs.raw;
    let before = errors.len();
    let global_mode = raw
        .mode
        .as_deref()
        .and_then(Mode::parse)
        .unwrap_or_default();
    let mut ids = HashSet::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut routes = Vec::new();
    let mut templates = Vec::new();

    if raw.routes.is_empty() {
        errors.setting(
            ErrorKind::Invalid,
            "",
            ROUTES,
            "no routes are defined; every request would be denied".to_owned(),
        );
    }
    for r in &raw.routes {
        if !valid_id(&r.id) {
            errors.route(
                ErrorKind::Invalid,
                ROUTES,
                &r.id,
                format!(
                    "route id `{}` must be letters, digits, `-`, `_` or `.`",
                    r.id
                ),
            );
        } else if !ids.insert(r.id.clone()) {
            let nth = seen.get(r.id.as_str()).copied().unwrap_or(1);
            errors.route_nth(
                ErrorKind::DuplicateRoute,
                ROUTES,
                &r.id,
                nth,
                format!("route id `{}` is used by an earlier route", r.id),
            );
        }
        *seen.entry(r.id.as_str()).or_insert(0) += 1;
        let methods = methods(ROUTES, &r.id, &r.methods, errors);
        let path = match PathTemplate::parse(&r.path) {
            Ok(path) => Some(path),
            Err(e) => {
                errors.route(ErrorKind::Template, ROUTES, &r.id, e.to_string());
                None
            }
        };
        if !inputs.raw.upstreams.contains_key(&r.upstream) {
            errors.route(
                ErrorKind::UnknownUpstream,
                ROUTES,
                &r.id,
                undefined_upstream(&r.upstream, inputs),
            );
        }
        let mode = match r.mode.as_deref() {
            None => global_mode,
            Some(text) => Mode::parse(text).unwrap_or_else(|| {
                errors.route(
                    ErrorKind::Invalid,
                    ROUTES,
                    &r.id,
                    format!("mode `{text}` is not `enforce` or `shadow`"),
                );
                global_mode
            }),
        };
        if r.websocket && !methods.iter().any(|m| m == "GET") {
            errors.route(
                ErrorKind::Invalid,
                ROUTES,
                &r.id,
                "`websocket: true` needs `GET` in `methods` (a WebSocket opens with a GET)"
                    .to_owned(),
            );
        }
        let access = if r.public {
            public_access(r, errors)
        } else {
            path.as_ref()
                .and_then(|p| check(r, p, &methods, kinds, errors))
        };
        if let Some(template) = path {
            // Overlaps are checked for every route whose path parsed, even
            // if something else about it is wrong: report all faults at once.
            templates.push(Shape {
                id: r.id.clone(),
                methods: methods.clone(),
                path: r.path.clone(),
                template,
            });
        }
        if let Some(access) = access {
            routes.push(Route {
                id: Arc::from(r.id.as_str()),
                methods,
                path: r.path.clone(),
                upstream: Arc::from(r.upstream.as_str()),
                mode,
                access,
                websocket: r.websocket,
                line: crate::lines::id_line_in(errors.text(), ROUTES, &r.id, 0),
            });
        }
    }
    overlaps(&templates, errors);
    let prefixes = prefixes(inputs, &templates, &mut ids, errors);

    if errors.len() != before {
        return None;
    }
    match RouteTable::build(routes, prefixes) {
        Ok(table) => Some(table),
        Err(failures) => {
            for (index, message) in failures {
                let id = raw
                    .routes
                    .get(index)
                    .map(|r| r.id.as_str())
                    .unwrap_or_default();
                errors.route(ErrorKind::Overlap, ROUTES, id, message);
            }
            None
        }
    }
}

fn methods(section: &str, id: &str, raw: &[String], errors: &mut Errors<'_>) -> Vec<String> {
    if raw.is_empty() {
        errors.route(
            ErrorKind::Invalid,
            section,
            id,
            "`methods` is empty".to_owned(),
        );
    }
    let mut out: Vec<String> = Vec::new();
    for method in raw {
        if !METHODS.contains(&method.as_str()) {
            errors.route(
                ErrorKind::Invalid,
                section,
                id,
                format!("method `{method}` is not one of {}", METHODS.join(", ")),
            );
        } else if out.contains(method) {
            errors.route(
                ErrorKind::Invalid,
                section,
                id,
                format!("method `{method}` is listed twice"),
            );
        } else {
            out.push(method.clone());
        }
    }
    out
}

fn public_access(r: &RawRoute, errors: &mut Errors<'_>) -> Option<Access> {
    let extra = [
        ("action", r.action.is_some()),
        ("resource", r.resource.is_some()),
        ("kind", r.kind.is_some()),
        ("org", r.org.is_some()),
        (
            "environment",
            r.environment.is_some() || r.environment_required,
        ),
        ("also", !r.also.is_empty()),
    ];
    let named: Vec<&str> = extra
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect();
    if named.is_empty() {
        Some(Access::Public)
    } else {
        errors.route(
            ErrorKind::Invalid,
            ROUTES,
            &r.id,
            format!("a public route is served without a decision, so `{}` would be ignored; remove it or `public: true`", named.join("`, `")),
        );
        None
    }
}

/// A value template whose parameters the path must have.
fn value_template(
    r: &RawRoute,
    path: &PathTemplate,
    field: &str,
    text: &str,
    errors: &mut Errors<'_>,
) -> Option<Template> {
    let template = match Template::parse(text) {
        Ok(t) => t,
        Err(e) => {
            errors.route(
                ErrorKind::Template,
                ROUTES,
                &r.id,
                format!("`{field}`: {e}"),
            );
            return None;
        }
    };
    let missing: Vec<&str> = template.params().filter(|p| !path.has_param(p)).collect();
    if !missing.is_empty() {
        errors.route(
            ErrorKind::UnknownParam,
            ROUTES,
            &r.id,
            format!(
                "`{field}` template `{text}` uses `{{{}}}`, which path `{}` does not have",
                missing.join("}`, `{"),
                r.path
            ),
        );
        return None;
    }
    Some(template)
}

/// The message for a route or prefix naming an upstream that is not defined.
fn undefined_upstream(name: &str, inputs: &Inputs) -> String {
    let known = inputs.raw.upstreams.keys().map(String::as_str);
    format!(
        "upstream `{name}` is not defined in `upstreams`{}",
        crate::suggest::hint(name, known)
    )
}

fn parse_action(r: &RawRoute, field: &str, name: &str, errors: &mut Errors<'_>) -> Option<Action> {
    let action = Action::parse(name);
    if action.is_none() {
        errors.route(
            ErrorKind::UnknownAction,
            ROUTES,
            &r.id,
            format!(
                "`{field}` `{name}` is not an action the access model knows{}",
                crate::suggest::hint(name, Action::ALL.iter().map(|a| a.as_str()))
            ),
        );
    }
    action
}

fn check(
    r: &RawRoute,
    path: &PathTemplate,
    methods: &[String],
    kinds: Option<&super::policy::KnownKinds<'_>>,
    errors: &mut Errors<'_>,
) -> Option<Access> {
    let before = errors.len();
    let action = match &r.action {
        Some(name) => parse_action(r, "action", name, errors),
        None => {
            errors.route(ErrorKind::Invalid, ROUTES, &r.id, "`action` is missing (mark the route `public: true` to serve it without a decision)".to_owned());
            None
        }
    };
    let resource = match &r.resource {
        Some(text) => value_template(r, path, "resource", text, errors),
        None => {
            errors.route(
                ErrorKind::Invalid,
                ROUTES,
                &r.id,
                "`resource` is missing".to_owned(),
            );
            None
        }
    };
    let org = value_template(r, path, "org", r.org.as_deref().unwrap_or("{org}"), errors);
    if let (Some(kind), Some(kinds)) = (&r.kind, kinds)
        && !kinds.contains(kind)
    {
        errors.route(
            ErrorKind::UnknownKind,
            ROUTES,
            &r.id,
            format!("resource kind `{kind}` is not used by the policy or the access model"),
        );
    }
    let environment = r
        .environment
        .as_ref()
        .and_then(|env| environment(r, path, methods, env, errors));
    if r.environment_required && r.environment.is_none() {
        errors.route(
            ErrorKind::Environment,
            ROUTES,
            &r.id,
            "`environment_required` is set but `environment` says nowhere to read it from"
                .to_owned(),
        );
    }
    let mut also = Vec::new();
    for extra in &r.also {
        let action = parse_action(r, "also.action", &extra.action, errors);
        let resource = value_template(r, path, "also.resource", &extra.resource, errors);
        if let (Some(action), Some(resource)) = (action, resource) {
            also.push(AlsoCheck { action, resource });
        }
    }
    if errors.len() != before {
        return None;
    }
    Some(Access::Decide(Check {
        action: action?,
        resource: resource?,
        org: org?,
        kind: r.kind.clone(),
        environment,
        environment_required: r.environment_required,
        also,
    }))
}

fn environment(
    r: &RawRoute,
    path: &PathTemplate,
    methods: &[String],
    env: &RawEnvironment,
    errors: &mut Errors<'_>,
) -> Option<EnvironmentSource> {
    let mut fail = |message: String| {
        errors.route(ErrorKind::Environment, ROUTES, &r.id, message);
        None
    };
    match env {
        RawEnvironment::Path { param } if !path.has_param(param) => fail(format!(
            "environment path parameter `{{{param}}}` is not in path `{}`",
            r.path
        )),
        RawEnvironment::Path { param } => Some(EnvironmentSource::Path(param.clone())),
        RawEnvironment::Query { name } if name.is_empty() || name.contains(['&', '=', '#']) => {
            fail(format!(
                "environment query parameter name `{name}` is not a parameter name"
            ))
        }
        RawEnvironment::Query { name } => Some(EnvironmentSource::Query(name.clone())),
        RawEnvironment::Header { name } if !valid_header(name) => fail(format!(
            "environment header `{name}` is not a header name (letters, digits and `-`)"
        )),
        RawEnvironment::Header { name } => match gateway_owned(name) {
            Some(why) => fail(format!(
                "environment header `{name}` {why}; read the environment from a header clients may set"
            )),
            None => Some(EnvironmentSource::Header(name.to_ascii_lowercase())),
        },
        RawEnvironment::Body { field } if field.is_empty() => {
            fail("environment body field name is empty".to_owned())
        }
        RawEnvironment::Body { field } => {
            match methods.iter().find(|m| BODYLESS.contains(&m.as_str())) {
                Some(method) => fail(format!(
                    "environment is read from the body, but `{method}` requests have no body"
                )),
                None => Some(EnvironmentSource::Body(field.clone())),
            }
        }
    }
}

/// Why a header cannot carry a client's environment: the gateway sets it or
/// strips it from every request.
fn gateway_owned(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    if crate::headers::SET_BY_GATEWAY.contains(&name.as_str()) {
        return Some("is set by the gateway on every forwarded request");
    }
    if name == "forwarded" || name.starts_with("x-forwarded-") {
        return Some("is a forwarding header the gateway replaces");
    }
    if crate::IDENTITY_ALIASES.contains(&name.as_str()) {
        return Some("is an identity header the gateway strips");
    }
    None
}

/// What the overlap checks need of a route.
struct Shape {
    id: String,
    methods: Vec<String>,
    path: String,
    template: PathTemplate,
}

/// Two routes sharing a method whose templates can match the same path.
fn overlaps(shapes: &[Shape], errors: &mut Errors<'_>) {
    for (i, a) in shapes.iter().enumerate() {
        for b in &shapes[..i] {
            let Some(method) = a.methods.iter().find(|m| b.methods.contains(m)) else {
                continue;
            };
            if let Some(example) = a.template.overlap(&b.template) {
                errors.route(
                    ErrorKind::Overlap,
                    ROUTES,
                    &a.id,
                    format!("overlaps route `{}`: both match `{method} {example}`", b.id),
                );
            }
        }
    }
}

fn prefixes(
    inputs: &Inputs,
    shapes: &[Shape],
    ids: &mut HashSet<String>,
    errors: &mut Errors<'_>,
) -> Vec<PublicPrefix> {
    let mut out: Vec<PublicPrefix> = Vec::new();
    for p in &inputs.raw.public_prefixes {
        let before = errors.len();
        if !valid_id(&p.id) {
            errors.route(
                ErrorKind::Invalid,
                PREFIXES,
                &p.id,
                format!("id `{}` must be letters, digits, `-`, `_` or `.`", p.id),
            );
        } else if !ids.insert(p.id.clone()) {
            errors.route(
                ErrorKind::DuplicateRoute,
                PREFIXES,
                &p.id,
                format!("id `{}` is used by an earlier route", p.id),
            );
        }
        let methods = match &p.methods {
            Some(list) => methods(PREFIXES, &p.id, list, errors),
            None => vec!["GET".to_owned(), "HEAD".to_owned()],
        };
        let shape_ok = p.prefix.starts_with('/')
            && p.prefix.ends_with('/')
            && PathTemplate::parse(p.prefix.trim_end_matches('/')).is_ok_and(|t| {
                t.segments
                    .iter()
                    .all(|s| matches!(s, crate::template::Segment::Literal(_)))
            })
            || p.prefix == "/";
        if !shape_ok {
            errors.route(
                ErrorKind::Template,
                PREFIXES,
                &p.id,
                format!(
                    "public prefix `{}` must start and end with `/` and have plain segments",
                    p.prefix
                ),
            );
        }
        if !inputs.raw.upstreams.contains_key(&p.upstream) {
            errors.route(
                ErrorKind::UnknownUpstream,
                PREFIXES,
                &p.id,
                undefined_upstream(&p.upstream, inputs),
            );
        }
        if shape_ok {
            for route in shapes {
                if route.methods.iter().any(|m| methods.contains(m))
                    && route.template.may_start_with(&p.prefix)
                {
                    errors.route(
                        ErrorKind::Overlap,
                        PREFIXES,
                        &p.id,
                        format!(
                            "public prefix `{}` overlaps route `{}` (`{}`)",
                            p.prefix, route.id, route.path
                        ),
                    );
                }
            }
            for other in &out {
                let nested =
                    other.prefix.starts_with(&p.prefix) || p.prefix.starts_with(&other.prefix);
                if nested && other.methods.iter().any(|m| methods.contains(m)) {
                    errors.route(
                        ErrorKind::Overlap,
                        PREFIXES,
                        &p.id,
                        format!(
                            "public prefix `{}` overlaps public prefix `{}`",
                            p.prefix, other.prefix
                        ),
                    );
                }
            }
        }
        if errors.len() == before {
            out.push(PublicPrefix {
                id: Arc::from(p.id.as_str()),
                prefix: p.prefix.clone(),
                upstream: Arc::from(p.upstream.as_str()),
                methods,
            });
        }
    }
    out
}
