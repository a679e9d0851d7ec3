//! Finding lines in YAML/JSON text after parsing, by a cheap scan.
