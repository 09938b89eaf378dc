//! The command layer that `kubectl-sops` and `helm-secrets` share, between the engine and their
//! argument parsing: one failure type with sops' exit codes ([`CliError`]), reading inputs and
//! writing outputs ([`io`]), the `.sops.yaml` lookup, and the seal spec built from key flags and
//! creation rules ([`spec`]). A binary keeps only its argument parsing, its command functions and
//! the prefix it prints before a message, so the same failure gives the same exit code and the same
//! words from both.

pub mod error;
pub mod io;
pub mod spec;

pub use error::CliError;
