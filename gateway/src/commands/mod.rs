//! One module per subcommand.

pub mod decide;
pub mod demo;
pub mod serve;
pub mod test;
pub mod validate;
