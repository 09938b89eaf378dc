//! kubectl-sops: seal and unseal SOPS-encrypted Kubernetes manifests; kubectl runs it as `kubectl sops`.

mod io;
mod seal;
mod spec;
mod unseal;

use clap::{Parser, Subcommand};
use sops_engine::SopsError;

/// Seal and unseal SOPS-encrypted manifests (files real sops, Flux and KSOPS read).
#[derive(Parser)]
#[command(name = "kubectl-sops", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encrypt a file (like `sops encrypt`); unchanged values keep their ciphertext when sealing onto an
    /// existing encrypted file.
    #[command(visible_alias = "encrypt")]
    Seal(Box<seal::SealArgs>),
    /// Decrypt a file (like `sops decrypt`).
    #[command(visible_alias = "decrypt")]
    Unseal(unseal::UnsealArgs),
}

/// An error with the exit code to leave with.
#[derive(Debug)]
pub struct CliError {
    /// Exit code (sops' codes where one applies).
    pub code: i32,
    /// One-line message.
    pub message: String,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Attaches the file name to an engine error, keeping its exit code.
pub fn in_file(file: &str, e: SopsError) -> CliError {
    CliError {
        code: e.exit_code(),
        message: format!("{file}: {e}"),
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Seal(a) => seal::run(*a),
        Command::Unseal(a) => unseal::run(a),
    };
    if let Err(e) = result {
        let code = e.downcast_ref::<CliError>().map(|c| c.code).unwrap_or(1);
        // one line: multi-line reports (key failures) are folded
        let msg = format!("{e:#}")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        eprintln!("kubectl-sops: {msg}");
        std::process::exit(code);
    }
}
