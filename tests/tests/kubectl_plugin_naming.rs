//! kubectl-native naming and completion: run by kubectl, help, usage and errors say `kubectl sops`;
//! real kubectl and bash complete the plugin with the completer `cargo install` leaves beside it.

use std::path::{Path, PathBuf};

use e2e_tests::{need1, text, workspace_bin, Outcome, Sops};

fn ours() -> PathBuf {
    workspace_bin("kubectl-sops")
}

/// A bash with only an install dir and the system dirs on `PATH`, working in a temp dir. The install
/// dir holds links to `kubectl-sops` and `kubectl_complete-sops`, as `cargo install` leaves them,
/// plus `kubectl` when given.
struct Shell {
    inst: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Shell {
    fn new(kubectl: Option<&Path>) -> Shell {
        let inst = tempfile::tempdir().unwrap();
        let bin = ours();
        for name in ["kubectl-sops", "kubectl_complete-sops"] {
            std::os::unix::fs::symlink(bin.with_file_name(name), inst.path().join(name)).unwrap();
        }
        if let Some(k) = kubectl {
            std::os::unix::fs::symlink(k, inst.path().join("kubectl")).unwrap();
        }
        let work = tempfile::tempdir().unwrap();
        Shell { inst, work }
    }

    /// A shell whose install dir also holds real kubectl; with kubectl's path. `None` when kubectl
    /// is missing (see [`need1`]).
    fn with_kubectl() -> Option<(Shell, PathBuf)> {
        let kubectl = need1("kubectl")?;
        Some((Shell::new(Some(&kubectl)), kubectl))
    }

    /// Runs `script` and requires exit 0; returns stdout as text.
    fn ok(&self, script: &str) -> String {
        let (code, out, err) = self.run(script);
        assert_eq!(code, 0, "{script}: {err}");
        text(&out)
    }

    /// Runs `script` with bash.
    fn run(&self, script: &str) -> Outcome {
        Sops::new("/bin/bash", self.work.path())
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.inst.path().display()),
            )
            .run(["-c", script])
    }
}

// ------------------------------------------------------------------ kubectl-native naming

/// kubectl 1.34 exports nothing to its plugins (checked: no KUBECTL_PATH); the shell's `$_` names
/// kubectl. Help, usage and errors then say `kubectl sops`; run directly, `kubectl-sops`.
#[test]
fn run_by_kubectl_help_and_errors_say_kubectl_sops() {
    let Some((sh, kubectl)) = Shell::with_kubectl() else {
        return;
    };
    let help = sh.ok("kubectl sops --help");
    assert!(help.contains("Usage: kubectl sops <COMMAND>"), "{help}");
    assert!(!help.contains("kubectl-sops"), "{help}");
    let (code, out, _) = sh.run("kubectl sops seal --help");
    assert_eq!(code, 0);
    assert!(
        text(&out).contains("Usage: kubectl sops seal"),
        "{}",
        text(&out)
    );
    let (code, _, err) = sh.run("kubectl sops unseal missing.yaml");
    assert_eq!(code, 100, "{err}");
    assert_eq!(
        err,
        "kubectl sops: missing.yaml: cannot operate on non-existent file\n"
    );
    // usage errors too
    let (code, _, err) = sh.run("kubectl sops sael");
    assert_eq!(code, 2);
    assert!(err.contains("Usage: kubectl sops <COMMAND>"), "{err}");

    // run directly
    let (code, out, _) = sh.run("kubectl-sops --help");
    assert_eq!(code, 0);
    assert!(text(&out).contains("Usage: kubectl-sops <COMMAND>"));
    let (_, _, err) = sh.run("kubectl-sops unseal missing.yaml");
    assert_eq!(
        err,
        "kubectl-sops: missing.yaml: cannot operate on non-existent file\n"
    );
    // a kubectl that exports KUBECTL_PATH is recognized as well
    let (_, _, err) = Sops::new(ours(), sh.work.path())
        .env("KUBECTL_PATH", &kubectl)
        .run(["unseal", "missing.yaml"]);
    assert!(err.starts_with("kubectl sops: missing.yaml"), "{err}");
}

/// After `cargo install` alone (both binaries in one directory), real kubectl completes
/// `kubectl sops …` through `kubectl_complete-sops`.
#[test]
fn real_kubectl_completes_the_plugin_with_the_installed_completer() {
    let Some((sh, _)) = Shell::with_kubectl() else {
        return;
    };
    let out = sh.ok("kubectl __complete sops un");
    let lines: Vec<&str> = out.lines().collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["unseal", "unset", ":4"], "{lines:?}");
    let (_, out, _) = sh.run("kubectl __complete sops unseal --output-type j");
    assert!(text(&out).starts_with("json\n"), "{}", text(&out));
}

/// `completion bash` completes both spellings: `kubectl-sops …` (clap's script) and, when kubectl's
/// own completion is not loaded, `kubectl sops …`.
#[test]
fn bash_completion_covers_both_spellings() {
    let sh = Shell::new(None);
    let script = r#"
source <(kubectl-sops completion bash) || exit 9
COMP_WORDS=(kubectl sops un); COMP_CWORD=2; _kubectl_sops_plugin; echo "plugin: ${COMPREPLY[*]}"
COMP_WORDS=(kubectl s); COMP_CWORD=1; _kubectl_sops_plugin; echo "top: ${COMPREPLY[*]}"
COMP_WORDS=(kubectl sops seal --input-type ""); COMP_CWORD=4; _kubectl_sops_plugin; echo "types: ${COMPREPLY[*]}"
touch afile.yaml
COMP_WORDS=(kubectl sops unseal af); COMP_CWORD=3; _kubectl_sops_plugin; echo "files: ${COMPREPLY[*]}"
complete -p kubectl-sops
complete -p kubectl
"#;
    let (code, out, err) = sh.run(script);
    assert_eq!(code, 0, "{err}");
    let out = text(&out);
    assert!(out.contains("plugin: unseal unset\n"), "{out}");
    assert!(out.contains("top: sops\n"), "{out}");
    assert!(
        out.contains("types: yaml json dotenv ini binary\n"),
        "{out}"
    );
    assert!(out.contains("files: afile.yaml\n"), "{out}");
    assert!(
        out.contains("kubectl-sops\n"),
        "clap's completion is registered: {out}"
    );
    assert!(out.contains("-F _kubectl_sops_plugin kubectl\n"), "{out}");
    // with kubectl's own completion loaded, it is left alone
    let (_, out, _) = sh.run(
        "complete -F _fake kubectl; source <(kubectl-sops completion bash); complete -p kubectl",
    );
    assert_eq!(text(&out), "complete -F _fake kubectl\n");
    // the other shells' scripts carry their `kubectl sops` part
    for shell in ["zsh", "fish"] {
        let (_, out, _) = sh.run(&format!("kubectl-sops completion {shell}"));
        assert!(text(&out).contains("kubectl_complete-sops"), "{shell}");
    }
}
