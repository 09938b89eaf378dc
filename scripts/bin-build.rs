//! Build script of the two binary crates (`build = "../scripts/bin-build.rs"` in kubectl-sops and
//! helm-secrets): link-time settings for their executables only, never for proc-macros or
//! dependencies, and without a rebuild of the dependency graph when they change.
//!
//! Linux glibc targets: `-z pack-relative-relocs` (RELR). A Rust executable is position
//! independent (ASLR) and carries ~21k relative relocations that the loader applies at every start;
//! as RELR they shrink from ~500 KB of `.rela.dyn` (24 bytes each, paged in from disk at start-up) to
//! a few KB, and the loader walks a bitmap instead. It needs glibc >= 2.36 (dynamic: the linker then
//! records GLIBC_ABI_DT_RELR; static-pie: relocated by the binary itself) and binutils >= 2.38 or
//! lld; an older GNU ld warns and ignores it.

fn main() {
    println!("cargo:rerun-if-changed=../scripts/bin-build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
