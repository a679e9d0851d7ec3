//! The compiled route table: (method, path) → route and its parameters.

use std::collections::HashMap;
use std::sync::Arc;

use reqflo_policy::Action;

use crate::settings::{Mode, PublicPrefix};
use crate::template::Template;

/// One compiled route.
#[derive(Debug)]
pub struct Route {
    /// Stable id for logs and metrics (a bounded label).
    pub id: Arc<str>,
    /// Upper-case methods this route answers.
    pub methods: Vec<String>,
    /// The path template as written.
    pub path: String,
    pub upstream: Arc<str>,
    /// The resolved mode (the route's own, else the global one).
    pub mode: Mode,
    pub access: Access,
    /// Whether the route carries a WebSocket (`websocket: true`): only then
    /// is an `Upgrade` request forwarded.
    pub websocket: bool,
    /// Line of the route in the config file, where found.
    pub line: Option<u32>,
}

/// Whether a route needs a decision.
#[derive(Debug)]
pub enum Access {
    /// Served without identity or a decision (marked `public: true`).
    Public,
    /// Needs an allow from the policy (and from every `also` check).
    Decide(Check),
}

/// What to ask the policy for a matched request.
#[derive(Debug)]
pub struct Check {
    pub action: Action,
    /// The resource id, rendered from path parameters.
    pub resource: Template,
    /// The org id, rendered from path parameters (default `{org}`).
    pub org: Template,
    /// The expected resource kind, when the route names one.
    pub kind: Option<String>,
    pub environment: Option<EnvironmentSource>,
    /// Deny with 400 when the environment is absent.
    pub environment_required: bool,
    /// Further decisions that must also allow, same user, org and environment.
    pub also: Vec<AlsoCheck>,
}

/// An extra decision a route needs (e.g. `attach` also needs `edit` on the target).
#[derive(Debug)]
pub struct AlsoCheck {
    pub action: Action,
    pub resource: Template,
}

/// Where the target environment of a request is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvironmentSource {
    /// A path parameter of the route.
    Path(String),
    /// A query parameter (exactly one value, else 400).
    Query(String),
    /// A header, lower-case name (exactly one value, else 400).
    Header(String),
    /// A top-level string field of a JSON object body (duplicate keys → 400).
    Body(String),
}

/// The query and body keys that name an environment on every route.
pub const DEFAULT_KEYS: &[&str] = &["environment", "env"];
/// The headers that name an environment on every route.
pub const DEFAULT_HEADERS: &[&str] = &["x-reqflo-environment", "x-environment", "x-env"];

/// Every name under which a request could state an environment: the names
/// the route config's environment sources use (query parameters, body
/// fields, path parameters, headers) and the defaults [`DEFAULT_KEYS`] and
/// [`DEFAULT_HEADERS`]. The gateway refuses a request that states an
/// environment under any of them with a value other than the decided one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvironmentNames {
    /// Query and body keys, each [`normalize_key`]ed.
    keys: Vec<String>,
    /// Header names, lower case.
    headers: Vec<String>,
}

impl EnvironmentNames {
    /// The default names and those of `sources`.
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = &'a EnvironmentSource>) -> Self {
        let mut names = EnvironmentNames {
            keys: DEFAULT_KEYS.iter().map(|k| (*k).to_owned()).collect(),
            headers: DEFAULT_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
        };
        for source in sources {
            let (list, name) = match source {
                EnvironmentSource::Header(h) => (&mut names.headers, h.to_ascii_lowercase()),
                EnvironmentSource::Path(n)
                | EnvironmentSource::Query(n)
                | EnvironmentSource::Body(n) => (&mut names.keys, normalize_key(n).into_owned()),
            };
            if !list.contains(&name) {
                list.push(name);
            }
        }
        names
    }

    /// Whether a query or body key names an environment, read as lenient
    /// backends read keys ([`normalize_key`]).
    pub fn names_key(&self, key: &str) -> bool {
        let key = normalize_key(key);
        self.keys.iter().any(|k| *k == key)
    }

    /// The environment header names, lower case.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }
}

/// A query or body key as the most lenient common backend reads it:
/// surrounding whitespace dropped (`environment%20`), letters case-folded
/// as Go's `encoding/json` matches field names (`Environment`, `ENVIRONMENT`,
/// `ſ` for `s`), everything from the first `[` cut (`environment[]`,
/// `environment[0]` in PHP, `qs` and Rails), and `.` and space read as `_`
/// (PHP's key mangling).
pub fn normalize_key(key: &str) -> std::borrow::Cow<'_, str> {
    let plain = key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if plain {
        return std::borrow::Cow::Borrowed(key);
    }
    let trimmed = key.trim();
    let cut = trimmed.split('[').next().unwrap_or(trimmed);
    let folded: String = cut
        .chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .map(|c| if c == '.' || c == ' ' { '_' } else { c })
        .collect();
    std::borrow::Cow::Owned(folded)
}

/// A matched request: the route and the path parameters.
#[derive(Debug)]
pub struct RouteMatch<'r, 'p> {
    pub route: &'r Route,
    params: matchit::Params<'r, 'p>,
}

impl<'r, 'p> RouteMatch<'r, 'p> {
    /// The value of a path parameter (the raw segment, as in the canonical path).
    pub fn param(&self, name: &str) -> Option<&'p str> {
        self.params.get(name)
    }

    /// Every (name, value) pair, in path order.
    pub fn params(&self) -> impl Iterator<Item = (&'r str, &'p str)> + '_ {
        self.params.iter()
    }
}

/// Routes by method, then public prefixes. Built once per snapshot.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    environment_names: EnvironmentNames,
    by_method: HashMap<String, matchit::Router<usize>>,
    prefixes: Vec<(PublicPrefix, Route)>,
}

impl RouteTable {
    /// Builds the table. The caller (the compiler) has already rejected
    /// overlapping templates; a matchit conflict here is reported as a message.
    pub(crate) fn build(
        routes: Vec<Route>,
        prefixes: Vec<PublicPrefix>,
    ) -> Result<RouteTable, Vec<(usize, String)>> {
        let mut by_method: HashMap<String, matchit::Router<usize>> = HashMap::new();
        let mut errors = Vec::new();
        for (index, route) in routes.iter().enumerate() {
            for method in &route.methods {
                let router = by_method.entry(method.clone()).or_default();
                if let Err(e) = router.insert(route.path.clone(), index) {
                    errors.push((
                        index,
                        format!("path `{}` cannot be routed: {e}", route.path),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut prefixes: Vec<(PublicPrefix, Route)> = prefixes
            .into_iter()
            .map(|p| {
                let route = Route {
                    id: p.id.clone(),
                    methods: p.methods.clone(),
                    path: format!("{}…", p.prefix),
                    upstream: p.upstream.clone(),
                    mode: Mode::Enforce,
                    access: Access::Public,
                    websocket: false,
                    line: None,
                };
                (p, route)
            })
            .collect();
        // Longest prefix first.
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.prefix.len()));
        let environment_names =
            EnvironmentNames::from_sources(routes.iter().filter_map(|r| match &r.access {
                Access::Decide(check) => check.environment.as_ref(),
                Access::Public => None,
            }));
        Ok(RouteTable {
            routes,
            environment_names,
            by_method,
            prefixes,
        })
    }

    /// The route for a canonical (method, path), or `None`: deny, fail closed.
    ///
    /// `method` must be upper case; `path` the canonical path without query.
    pub fn lookup<'r, 'p>(&'r self, method: &str, path: &'p str) -> Option<RouteMatch<'r, 'p>> {
        if let Some(router) = self.by_method.get(method)
            && let Ok(found) = router.at(path)
            && let Some(route) = self.routes.get(*found.value)
        {
            return Some(RouteMatch {
                route,
                params: found.params,
            });
        }
        self.prefixes
            .iter()
            .find(|(p, _)| {
                path.starts_with(p.prefix.as_str()) && p.methods.iter().any(|m| m == method)
            })
            .map(|(_, route)| RouteMatch {
                route,
                params: matchit::Params::new(),
            })
    }

    /// Every name under which a request could state an environment.
    pub fn environment_names(&self) -> &EnvironmentNames {
        &self.environment_names
    }

    /// Every route, in config order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// A route by id.
    pub fn get(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| &*r.id == id)
    }

    /// The public prefixes, longest first.
    pub fn public_prefixes(&self) -> impl Iterator<Item = &PublicPrefix> {
        self.prefixes.iter().map(|(p, _)| p)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}
