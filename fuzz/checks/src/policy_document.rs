//! Random policy documents: parsing, validation and compilation never
//! panic, and every document ends in a compiled snapshot or in errors that
//! each say where they are.

use reqflo_policy::{Document, Snapshot};

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(document) = Document::parse(&text) else {
        return;
    };
    match Snapshot::compile(&document) {
        Ok(snapshot) => {
            let counts = snapshot.counts();
            assert_eq!(counts.orgs, document.orgs.len(), "every org compiles");
        }
        Err(errors) => {
            assert!(!errors.errors().is_empty(), "a rejection names its errors");
            for error in errors.errors() {
                assert!(!error.path.is_empty(), "an error without a place: {error}");
                assert!(!error.message.is_empty(), "an error without a message");
            }
        }
    }
}
