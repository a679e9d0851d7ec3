//! One module per subcommand.

pub mod access;
pub mod bundle;
pub mod decide;
pub mod demo;
pub mod diff;
pub mod review;
pub mod routes;
pub mod serve;
pub mod test;
pub mod validate;
