//! What signing one decision assertion costs: the compact JWS the gateway
//! adds to every forwarded request when `assertion:` is configured, with
//! claims of the size the gateway sends (`docs/PERFORMANCE.md`, "The signed
//! decision assertion").
//!
//!     cargo bench -p reqflo-config --bench assertion

use criterion::{Criterion, criterion_group, criterion_main};
use reqflo_config::AssertionKey;

const ED: &str = include_str!("../../tests/fixtures/keys/assertion-ed25519-private.pem");
const EC: &str = include_str!("../../tests/fixtures/keys/assertion-p256-private.pem");

/// Claims as the gateway writes them for the load test's request.
const CLAIMS: &[u8] = br#"{"iss":"reqflo-gateway","aud":"backend","sub":"lt-alice","org":"loadtest-org","action":"run","resource":"checkout","environment":"staging","decision":"allow","mode":"enforce","route":"run-journey","method":"POST","path":"/api/v1/orgs/loadtest-org/journeys/checkout/runs","jti":"b163954298a724420000008e","policy_revision":"7d9923a68146b0ab","iat":1764600000,"exp":1764600060}"#;

fn sign(c: &mut Criterion) {
    let mut group = c.benchmark_group("assertion");
    for (name, alg, pem) in [("EdDSA", "EdDSA", ED), ("ES256", "ES256", EC)] {
        let key = match AssertionKey::from_pem(alg, "bench", pem) {
            Ok(k) => k,
            Err(e) => panic!("{name}: {e}"),
        };
        group.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| key.sign(std::hint::black_box(CLAIMS)))
        });
    }
    group.finish();
}

criterion_group!(benches, sign);
criterion_main!(benches);
