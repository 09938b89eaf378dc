//! What `kubectl-sops --version` and `helm-secrets --version` print after the program name.

/// The version, and the git commit for release builds: `0.1.0 (commit 1a2b3c4)`.
///
/// Stamped by `shared/build.rs` from `KSOPS_BUILD_VERSION` and `KSOPS_BUILD_COMMIT`, which
/// `scripts/release.sh` sets; a plain `cargo build` gives the crate version alone (`0.1.0`).
pub const VERSION: &str = env!("KSOPS_VERSION_LINE");
