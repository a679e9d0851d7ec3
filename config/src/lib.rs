#![doc = include_str!("../README.md")]

mod compile;
mod error;
mod lines;
pub mod raw;
mod reload;
mod routes;
mod settings;
mod snapshot;
mod source;
mod template;

pub use error::{ConfigError, ConfigErrors, ErrorKind};
pub use reload::{ReloadEvent, WatchError, WatchHandle, WatchOptions, watch, watch_with};
pub use routes::{Access, AlsoCheck, Check, EnvironmentSource, Route, RouteMatch, RouteTable};
pub use settings::{
    Cidr, Identity, JwtKey, JwtSettings, Limits, Listen, Mode, PublicPrefix, Settings, Strict,
    TrustedHeaderSettings, Upstream,
};
pub use snapshot::{Snapshot, load, load_from};
pub use source::{Fs, Layered, Memory, Source};
pub use template::{Template, TemplateError};
