//! The command layer that `kubectl-sops` and `helm-secrets` share, between the engine and their
//! argument parsing: one failure type with sops' exit codes ([`CliError`]), reading inputs and
//! writing outputs ([`io`]), the `.sops.yaml` lookup, the seal spec built from key flags and
//! creation rules ([`spec`]), the edit sequence ([`edit`]), PGP keys imported into a throw-away
//! GnuPG home ([`gnupg`]) and the Kubernetes client (`kube`). A binary keeps only its argument
//! parsing, its command functions and the prefix it prints before a message, so the same failure
//! gives the same exit code and the same words from both.

pub mod edit;
pub mod error;
pub mod gnupg;
pub mod io;
#[cfg(feature = "kube-client")]
pub mod kube;
pub mod spec;

pub use error::CliError;
