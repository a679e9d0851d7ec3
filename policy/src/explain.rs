//! Sentences for decisions.
