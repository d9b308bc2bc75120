//! The proptest configuration of the input-function fuzzers: 100,000 cases each unless
//! PROPTEST_CASES says otherwise, no persisted failures.

use proptest::prelude::ProptestConfig;

pub fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
