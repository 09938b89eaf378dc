//! The name the user typed: `kubectl sops` when kubectl started us as its plugin, `kubectl-sops`
//! when run directly. Help, usage and messages use it so that what they suggest can be typed back.
//!
//! kubectl replaces itself with the plugin (`exec`), so no parent process is left to look at. Two
//! signs remain: `KUBECTL_PATH` (set by kubectl versions and plugin managers that export the path of
//! the kubectl that ran the plugin), and `_`, which bash and zsh set to the path of the command they
//! started: `…/kubectl` when the user typed `kubectl sops`, `…/kubectl-sops` otherwise.

use std::sync::OnceLock;

/// The name when run directly.
pub const DIRECT: &str = "kubectl-sops";
/// The name when run by kubectl.
pub const PLUGIN: &str = "kubectl sops";

/// True when the environment says kubectl started this process (see the module docs).
pub fn run_by_kubectl_with(getenv: impl Fn(&str) -> Option<String>) -> bool {
    if getenv("KUBECTL_PATH").is_some_and(|p| !p.is_empty()) {
        return true;
    }
    getenv("_").is_some_and(|p| {
        let base = p.rsplit(['/', '\\']).next().unwrap_or_default();
        matches!(base, "kubectl" | "kubectl.exe")
    })
}

/// `kubectl sops` or `kubectl-sops`, decided once per process.
pub fn name() -> &'static str {
    static NAME: OnceLock<&'static str> = OnceLock::new();
    NAME.get_or_init(|| {
        if run_by_kubectl_with(|k| std::env::var(k).ok()) {
            PLUGIN
        } else {
            DIRECT
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_is_recognized() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(run_by_kubectl_with(env(&[(
            "KUBECTL_PATH",
            "/usr/bin/kubectl"
        )])));
        assert!(run_by_kubectl_with(env(&[("_", "/usr/local/bin/kubectl")])));
        assert!(!run_by_kubectl_with(env(&[(
            "_",
            "/home/u/.cargo/bin/kubectl-sops"
        )])));
        assert!(!run_by_kubectl_with(env(&[("KUBECTL_PATH", "")])));
        assert!(!run_by_kubectl_with(env(&[])));
    }
}
