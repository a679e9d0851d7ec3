//! Deterministic synthetic orgs at sizes S, M and L, for benchmarks and load tests.
