#![doc = include_str!("../README.md")]

pub mod access_diff;
pub mod admin;
pub mod auth;
pub mod bundle_fetch;
pub mod canon;
pub mod demo;
pub mod environment;
pub mod launch;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod record;
pub mod respond;
pub mod state;
pub mod tls;
pub mod upstream;

pub use launch::{Gateway, Options, Running, StartError};
pub use proxy::{DECISION_ID_HEADER, USER_HEADER};
