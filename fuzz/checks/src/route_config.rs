//! Random route configs (with a fixed valid policy beside them): loading
//! never panics, and ends in a snapshot or in errors that each name their
//! file.

use std::path::Path;

use reqflo_config::{Memory, load_from};

const POLICY: &str = "orgs: [{ id: acme, resources: [{ id: j, kind: journey }] }]\n";

pub fn check(data: &[u8]) {
    let source = Memory::new()
        .with("/fuzz/gateway.yaml", data.to_vec())
        .with("/fuzz/policy.yaml", POLICY);
    match load_from(&source, Path::new("/fuzz/gateway.yaml")) {
        Ok(snapshot) => assert!(snapshot.routes.len() <= data.len(), "routes from nowhere"),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a rejection names its errors");
            for error in &errors.0 {
                let text = error.to_string();
                assert!(
                    text.starts_with("/fuzz/"),
                    "an error without its file: {text}"
                );
            }
        }
    }
}
