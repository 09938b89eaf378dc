//! One-line failures with an exit code.

use sops_engine::SopsError;

/// A failure to report on stderr (one line, never a value) and the exit code to leave with.
#[derive(Debug)]
pub struct Failure {
    /// Exit code (sops' codes where one applies).
    pub code: i32,
    /// The message, without the `[helm-secrets]` prefix.
    pub message: String,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// An engine error for file `name`, keeping sops' exit code.
    pub fn engine(name: &str, e: SopsError) -> Self {
        Failure {
            code: e.exit_code(),
            message: format!("{name}: {e}"),
        }
    }

    /// The message folded onto one line (key failure reports have several).
    pub fn one_line(&self) -> String {
        one_line(&self.message)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::new(message)
    }
}

pub use sops_engine::error::one_line;
