//! One-line failures with an exit code: the engine's [`CliError`], which kubectl-sops reports too,
//! so the same failure gives the same exit code and words from both plugins.

pub use sops_engine::cli::CliError;

/// A failure to report on stderr after `[helm-secrets]` (one line, never a value) and the exit code
/// to leave with.
pub type Failure = CliError;
