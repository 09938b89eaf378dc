//! kubectl-sops: seal and unseal SOPS-encrypted Kubernetes manifests; kubectl runs it as `kubectl sops`.

mod check;
mod cluster;
mod completion;
mod diff;
mod edit;
mod io;
mod keygen;
mod prog;
mod rekey;
mod seal;
mod service_keys;
mod set;
mod unseal;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use sops_engine::SopsError;

/// Seal and unseal SOPS-encrypted manifests (files real sops, Flux and KSOPS read).
#[derive(Parser)]
#[command(name = "kubectl-sops", version = sops_engine::build_info::VERSION, about, long_about = None)]
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
    /// Decrypt in memory and server-side apply to the cluster (like `kubectl apply --server-side`).
    Apply(Box<cluster::apply::ApplyArgs>),
    /// Edit an encrypted file in $EDITOR (plaintext only in a private tmpfs directory).
    Edit(edit::EditArgs),
    /// Set one value (like `sops set`).
    Set(set::SetArgs),
    /// Remove one value (like `sops unset`).
    Unset(set::UnsetArgs),
    /// Per-field diff of two encrypted files, of a file against a git revision, or (-f) of manifests
    /// against the live cluster.
    Diff(Box<diff::DiffArgs>),
    /// Print a masked per-field view of an encrypted file (git `diff.sops.textconv`).
    Textconv(diff::TextconvArgs),
    /// Configure git so `git diff` shows per-field changes of encrypted files.
    GitSetup(diff::GitSetupArgs),
    /// Make recipients match .sops.yaml or flags without touching values (like `sops updatekeys`).
    #[command(visible_alias = "updatekeys")]
    Rekey(rekey::RekeyArgs),
    /// Check files for pre-commit/CI: unencrypted secrets, MAC, recipients.
    Check(check::CheckArgs),
    /// Print shell completions.
    Completion(completion::CompletionArgs),
    /// Generate an age identity, X25519 or post-quantum with --pq (like `age-keygen`).
    Keygen(keygen::KeygenArgs),
}

pub use sops_engine::cli::CliError;
pub use sops_engine::error::one_line;

/// A [`CliError`] with this exit code, as an `anyhow::Error` ready for `?` or `Err(…)`.
pub fn fail(code: i32, message: impl Into<String>) -> anyhow::Error {
    CliError::with_code(code, message).into()
}

/// Attaches the file name to an engine error, keeping its exit code.
pub fn in_file(file: &str, e: SopsError) -> CliError {
    CliError::in_file(file, e)
}

/// The command line, named as the user typed it ([`prog::name`]).
fn parse_cli() -> Cli {
    let name = prog::name();
    let matches = Cli::command().name(name).bin_name(name).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() {
    let cli = parse_cli();
    // editor sessions killed with SIGKILL left their plaintext on tmpfs: gone with the next run
    sops_engine::private_dir::remove_stale();
    let result = match cli.command {
        Command::Seal(a) => seal::run(*a),
        Command::Unseal(a) => unseal::run(a),
        Command::Apply(a) => cluster::apply::run(*a),
        Command::Edit(a) => edit::run(a),
        Command::Set(a) => set::run(a),
        Command::Unset(a) => set::run_unset(a),
        Command::Diff(a) => diff::run(*a),
        Command::Textconv(a) => diff::run_textconv(a),
        Command::GitSetup(a) => diff::run_git_setup(a),
        Command::Rekey(a) => rekey::run(a),
        Command::Check(a) => check::run(a),
        Command::Completion(a) => completion::run(a),
        Command::Keygen(a) => keygen::run(a),
    };
    if let Err(e) = result {
        let code = e.downcast_ref::<CliError>().map(|c| c.code).unwrap_or(1);
        eprintln!("{}: {}", prog::name(), one_line(&format!("{e:#}")));
        std::process::exit(code);
    }
}
