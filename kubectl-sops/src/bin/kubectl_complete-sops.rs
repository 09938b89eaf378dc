//! `kubectl_complete-sops`: what kubectl (≥ 1.26) runs to complete `kubectl sops <TAB>`.
//!
//! kubectl looks this program up on `PATH` and runs it with the words typed after `kubectl sops`, the
//! last one being the word to complete (empty for a new word). It reads cobra's `__complete` answer:
//! one candidate per line (`value<TAB>description`), then `:<directive>`. The answer comes from
//! `kubectl-sops completion kubectl -- WORDS…` (the same command definitions, so it never goes stale):
//! the `kubectl-sops` beside this program first (`cargo install` puts both in one directory), else the
//! one on `PATH`. A leading `__complete` (how cobra-based plugins' completers are called) is dropped.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let mut words: Vec<OsString> = std::env::args_os().skip(1).collect();
    if words.first().is_some_and(|w| w == "__complete") {
        words.remove(0);
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|p| {
            Some(
                p.parent()?
                    .join(format!("kubectl-sops{}", std::env::consts::EXE_SUFFIX)),
            )
        })
        .filter(|p| p.is_file());
    let program = sibling.unwrap_or_else(|| PathBuf::from("kubectl-sops"));
    let mut cmd = Command::new(&program);
    cmd.args(["completion", "kubectl", "--"]).args(&words);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        eprintln!(
            "kubectl_complete-sops: cannot run {}: {e}",
            program.display()
        );
        std::process::exit(1);
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(st) => std::process::exit(st.code().unwrap_or(1)),
        Err(e) => {
            eprintln!(
                "kubectl_complete-sops: cannot run {}: {e}",
                program.display()
            );
            std::process::exit(1);
        }
    }
}
