#![doc = include_str!("../README.md")]

pub mod analysis;
pub mod decision;
pub mod defaults;
pub mod document;
pub mod model;
pub mod reference;
pub mod scenario;
pub mod synthetic;

mod compile;
mod decide;
mod explain;
mod validate;

pub use compile::{Counts, OrgPolicy, RiskSet, Snapshot, content_revision};
pub use decide::decide;
pub use decision::{
    AllowedBy, Decision, HIDDEN_SENTENCE, ObjectRef, Reason, ReasonCode, Remedy, Request,
    RequestAction,
};
pub use defaults::SeedRule;
pub use document::{Document, ParseError};
pub use model::{
    AccessMode, Action, ActionSet, GroupSource, MembershipStatus, OrgRole, Privilege, ResourceRole,
    RiskLevel, ServiceRole, Visibility,
};
/// The string type of the ids an [`AllowedBy`] names.
pub use smol_str::SmolStr;
pub use validate::{ValidationError, ValidationErrors, validate};
