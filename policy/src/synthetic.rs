//! Deterministic synthetic orgs at sizes S, M and L, for benchmarks and load tests.
//!
//! [`generate`] builds a whole, valid [`Document`] from a size and a seed; the
//! same pair always gives the same document. [`requests`] builds a stream of
//! requests over a document, allow-heavy or deny-heavy. Pure: no I/O, no
//! clock, no global state; the randomness is a seeded splitmix64.
//!
//! The shape follows a real tenant: one or a few orgs; users with memberships
//! (mostly active members, some viewers and admins, a few invited, suspended
//! or deactivated, two owners per org); local and SCIM groups of very
//! different sizes, a few holding org roles; services with teams of user and
//! group seats; resources of a dozen kinds, most owned by a service, with
//! visibility, access modes, risk levels and secret backing in plausible
//! proportions, and dependency chains up to [`Shape::max_depth`] deep;
//! environments `env-dev`, `env-staging`, `env-production`,
//! `env-production-eu` (the last two with production risk); grants mostly
//! scoped to one resource or one service for a group, team or user, with a
//! few kind- and label-scoped ones, some carrying risk privileges or
//! environment limits.
//!
//! Other crates (config benches, the load tester) get the L world as text with
//! [`generate_json`] (about a second) rather than shipping a file.

use crate::decision::Request;
use crate::document::Document;

pub mod bytes;
mod requests;
pub(crate) mod rng;
mod world;

#[cfg(test)]
mod tests;

/// The three benchmark sizes of issue 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 100 users, 1k resources.
    S,
    /// 5k users, 50k resources.
    M,
    /// 50k users, 5k groups, 1k services, 200k resources, 500k grants.
    L,
}

impl Size {
    pub const ALL: &'static [Size] = &[Size::S, Size::M, Size::L];

    /// `s`, `m` or `l` (either case).
    pub fn parse(text: &str) -> Option<Size> {
        match text {
            "s" | "S" => Some(Size::S),
            "m" | "M" => Some(Size::M),
            "l" | "L" => Some(Size::L),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Size::S => "S",
            Size::M => "M",
            Size::L => "L",
        }
    }

    /// How many of each object the size holds (totals over all its orgs).
    pub const fn shape(self) -> Shape {
        match self {
            Size::S => Shape {
                orgs: 1,
                users: 100,
                groups: 12,
                services: 20,
                resources: 1_000,
                grants: 1_000,
                max_depth: 5,
            },
            Size::M => Shape {
                orgs: 2,
                users: 5_000,
                groups: 500,
                services: 200,
                resources: 50_000,
                grants: 100_000,
                max_depth: 5,
            },
            Size::L => Shape {
                orgs: 2,
                users: 50_000,
                groups: 5_000,
                services: 1_000,
                resources: 200_000,
                grants: 500_000,
                max_depth: 5,
            },
        }
    }
}

/// Object counts of a synthetic world; totals over all orgs. `resources`
/// counts the `resources` lists (services are counted apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub orgs: usize,
    pub users: usize,
    pub groups: usize,
    pub services: usize,
    pub resources: usize,
    pub grants: usize,
    /// The longest dependency chain (edges) below any resource.
    pub max_depth: usize,
}

/// The whole document of `size`, the same for the same seed.
pub fn generate(size: Size, seed: u64) -> Document {
    generate_shape(&size.shape(), seed)
}

/// A document of any shape (tests use small ones).
pub fn generate_shape(shape: &Shape, seed: u64) -> Document {
    world::build(shape, seed)
}

/// The document of `size` as compact JSON, for other crates' benches and load
/// tests (JSON is also YAML, so a YAML reader takes it too).
pub fn generate_json(size: Size, seed: u64) -> String {
    serde_json::to_string(&generate(size, seed)).unwrap_or_default()
}

/// The document of `size` as YAML (slow at L: prefer [`generate_json`]).
///
/// Goes through a JSON value so that enums are written as maps
/// (`member: {user: u1}`), the form documents use, rather than YAML tags.
pub fn generate_yaml(size: Size, seed: u64) -> String {
    serde_json::to_value(generate(size, seed))
        .ok()
        .and_then(|value| serde_yaml_ng::to_string(&value).ok())
        .unwrap_or_default()
}

/// Which way a request stream leans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mix {
    /// Mostly requests that should be allowed: members viewing and running
    /// open resources, grant holders and team seats doing what they were
    /// given, admins doing their job.
    AllowHeavy,
    /// Mostly requests that should be denied, across every reason code:
    /// non-members, inactive members, unknown resources and actions,
    /// controlled and hidden resources, administration by plain members,
    /// edits without a role, production runs without the privilege.
    DenyHeavy,
}

impl Mix {
    pub const ALL: &'static [Mix] = &[Mix::AllowHeavy, Mix::DenyHeavy];

    pub const fn name(self) -> &'static str {
        match self {
            Mix::AllowHeavy => "allow",
            Mix::DenyHeavy => "deny",
        }
    }
}

/// A [`Request`] that owns its strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedRequest {
    pub org: String,
    pub user: String,
    pub action: String,
    pub resource: String,
    pub environment: Option<String>,
}

impl OwnedRequest {
    pub fn as_request(&self) -> Request<'_> {
        Request {
            org: &self.org,
            user: &self.user,
            action: self.action.as_str().into(),
            resource: &self.resource,
            environment: self.environment.as_deref(),
        }
    }
}

/// `n` requests over `document` leaning the way of `mix`, the same for the
/// same seed. Fewer only when the document has nothing to build them from.
pub fn requests(document: &Document, n: usize, seed: u64, mix: Mix) -> Vec<OwnedRequest> {
    requests::build(document, n, seed, mix)
}
