//! Stamps the version line that both binaries print for `--version` (`sops_engine::build_info`).
//!
//! `scripts/release.sh` sets `KSOPS_BUILD_VERSION` (the release version) and `KSOPS_BUILD_COMMIT`
//! (the git commit it was built from); a plain `cargo build` sets neither and gets the crate
//! version alone. Nothing here runs git, so a commit never forces a rebuild of the workspace.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=KSOPS_BUILD_VERSION");
    println!("cargo:rerun-if-env-changed=KSOPS_BUILD_COMMIT");
    let version = std::env::var("KSOPS_BUILD_VERSION")
        .ok()
        .map(|v| v.trim().trim_start_matches('v').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    let line = match std::env::var("KSOPS_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
    {
        Some(commit) => format!("{version} (commit {commit})"),
        None => version,
    };
    println!("cargo:rustc-env=KSOPS_VERSION_LINE={line}");
}
