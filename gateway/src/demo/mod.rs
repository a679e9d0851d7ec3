//! Pieces of `reqflo-gateway demo`, usable from tests and load tools too: a
//! mock Reqflo backend, JWT minting with the demo keys, and a tiny blocking
//! HTTP/1.1 client.

pub mod client;
pub mod mock;
pub mod tokens;
