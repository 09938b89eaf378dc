//! Reading one values file, local or remote, for the wrapper, the downloader and the commands.

use crate::error::Failure;
use crate::remote::{self, Tls};
use crate::settings::Settings;

/// Why a values file could not be read.
#[derive(Debug)]
pub enum LoadError {
    /// It does not exist (local), or could not be fetched (remote): skipped when missing files
    /// are ignored, else reported.
    Missing(Failure),
    /// Any other failure (always reported).
    Failed(Failure),
}

impl LoadError {
    /// The failure to report.
    pub fn into_failure(self) -> Failure {
        match self {
            LoadError::Missing(f) | LoadError::Failed(f) => f,
        }
    }
}

/// The bytes of `name`: a URL is fetched (see [`remote`]); a local path is checked against the
/// `HELM_SECRETS_VALUES_ALLOW_*` policy, then read.
pub fn load(name: &str, tls: &Tls, s: &Settings) -> Result<Vec<u8>, LoadError> {
    if remote::is_remote(name) {
        return remote::fetch(name, tls).map_err(|e| LoadError::Missing(Failure::new(e)));
    }
    crate::policy::check(name, s).map_err(|e| LoadError::Failed(Failure::new(e)))?;
    std::fs::read(name).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            LoadError::Missing(not_found(name))
        } else {
            LoadError::Failed(Failure {
                code: sops_engine::error::exit::COULD_NOT_READ_INPUT,
                message: format!("{name}: {e}"),
            })
        }
    })
}

/// helm-secrets' words for a missing file, with sops' exit code.
pub fn not_found(name: &str) -> Failure {
    Failure {
        code: sops_engine::error::exit::NO_FILE_SPECIFIED,
        message: format!("File does not exist: {name}"),
    }
}

/// The name to show for `name` (URL credentials removed).
pub fn shown(name: &str) -> String {
    remote::redact(name)
}

/// The name whose extension picks the format (a URL without its query).
pub fn format_name(name: &str) -> &str {
    if remote::is_remote(name) {
        remote::url_path(name)
    } else {
        name
    }
}
