#![doc = include_str!("../README.md")]

mod assertion;
pub mod bundle;
mod compile;
pub use compile::fetchable_url;
mod error;
mod lines;
pub mod raw;
mod reload;
mod routes;
mod settings;
mod snapshot;
mod source;
pub mod suggest;
mod template;
pub mod tls;

pub use assertion::{ASSERTION_ALGORITHMS, AssertionKey};
pub use error::{ConfigError, ConfigErrors, ErrorKind};
pub use reload::{ReloadEvent, WatchError, WatchHandle, WatchOptions, watch, watch_with};
pub use routes::{
    Access, AlsoCheck, Check, EnvironmentNames, EnvironmentSource, Route, RouteMatch, RouteTable,
    normalize_key,
};

/// The request headers the gateway sets on every forwarded request; no client
/// spelling of them (or of anything else under `x-reqflo-`) reaches an upstream.
pub mod headers {
    /// The verified user id.
    pub const USER: &str = "x-reqflo-user";
    /// The decision id (also on the response).
    pub const DECISION_ID: &str = "x-reqflo-decision-id";
    /// The environment the decision was made for; absent when it was made without one.
    pub const DECIDED_ENVIRONMENT: &str = "x-reqflo-decided-environment";
    /// The signed decision assertion, when configured.
    pub const ASSERTION: &str = "x-reqflo-assertion";
    /// The gateway's own header namespace.
    pub const PREFIX: &str = "x-reqflo-";
    /// The headers the gateway sets.
    pub const SET_BY_GATEWAY: &[&str] = &[USER, DECISION_ID, DECIDED_ENVIRONMENT, ASSERTION];
}
pub use settings::{
    AccessDiff, Assertion, CertificateName, Cidr, Forwarding, HealthCheck, IDENTITY_ALIASES,
    Identity, JwksSettings, JwksSource, JwtKey, JwtSettings, Limits, Listen, Member, Mode,
    PublicPrefix, Settings, Strict, TrustedHeaderSettings, Upstream,
};
pub use snapshot::{Snapshot, load, load_from};
pub use source::{Fs, Layered, Memory, Source};
pub use template::{Template, TemplateError};
