//! [`CliError`]: a one-line failure and the exit code to leave with.

use crate::config::LoadConfigError;
use crate::editor::EditError;
use crate::error::{exit, SopsError};

/// A failure a command reports on stderr (one line, never a secret value) and the exit code to
/// leave with. The binaries print it after their own prefix (`kubectl sops:`, `[helm-secrets]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    /// Exit code: sops' code for the same failure (`crate::error::exit`), 1 otherwise.
    pub code: i32,
    /// The message, without a program prefix.
    pub message: String,
}

impl CliError {
    /// A failure with exit code 1 (sops' generic failure).
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_code(exit::GENERIC, message)
    }

    /// A failure with the given exit code.
    pub fn with_code(code: i32, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// An engine error about `file` (a path, or `<stdin>`), keeping sops' exit code.
    pub fn in_file(file: &str, e: SopsError) -> Self {
        Self::with_code(e.exit_code(), format!("{file}: {e}"))
    }

    /// The message folded onto one line (key failure reports have several).
    pub fn one_line(&self) -> String {
        crate::error::one_line(&self.message)
    }
}

impl From<SopsError> for CliError {
    fn from(e: SopsError) -> Self {
        Self::with_code(e.exit_code(), e.to_string())
    }
}

impl From<LoadConfigError> for CliError {
    fn from(e: LoadConfigError) -> Self {
        Self::with_code(e.exit_code(), e.to_string())
    }
}

impl From<EditError> for CliError {
    fn from(e: EditError) -> Self {
        Self::with_code(e.exit_code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_exit_code_and_name_the_file() {
        let e = CliError::in_file("s.enc.yaml", SopsError::MacMismatch);
        assert_eq!(e.code, exit::MAC_MISMATCH);
        assert!(e.message.starts_with("s.enc.yaml: MAC mismatch"));
        assert_eq!(CliError::new("x").code, exit::GENERIC);
        assert_eq!(
            CliError::with_code(3, "a\n\n  b ").one_line(),
            "a; b",
            "folded onto one line"
        );
    }
}
