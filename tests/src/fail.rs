//! Panicking with context: the harness is test code, and a harness failure
//! must name what it was doing.

use std::fmt::Display;

/// `unwrap` with a message saying what failed, for harness set-up steps.
pub trait OrPanic<T> {
    /// The value, or a panic naming `what` and the error.
    fn or_panic(self, what: &str) -> T;
}

impl<T, E: Display> OrPanic<T> for Result<T, E> {
    #[track_caller]
    fn or_panic(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(error) => panic!("{what}: {error}"),
        }
    }
}

impl<T> OrPanic<T> for Option<T> {
    #[track_caller]
    fn or_panic(self, what: &str) -> T {
        match self {
            Some(value) => value,
            None => panic!("{what}: nothing there"),
        }
    }
}
