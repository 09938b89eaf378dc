//! The errors of the key services (AWS KMS, GCP Cloud KMS, Azure Key Vault, Vault transit) and of
//! the key helper programs: typed by where the failure happened, each message on one line, never
//! holding a token, a credential, a key or a body.

use crate::os::http::HttpError;
use crate::os::net::RuntimeError;

/// A key named in a flag, `.sops.yaml` or a file that cannot be used as written (sops' words, with
/// the key named: key ids are not secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadKeyId(pub String);

/// Why a key service or helper program could not wrap or unwrap a data key.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request did not get through: URL, proxy, TLS, connection, time bound, size.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The shared network runtime could not run the request.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The key cannot be addressed as written.
    #[error(transparent)]
    BadKeyId(#[from] BadKeyId),
    /// A setting of the environment is malformed or forbids the call (`VAULT_SKIP_VERIFY`,
    /// `SOPS_HC_VAULT_ALLOWLIST`).
    #[error("{0}")]
    Settings(String),
    /// No credentials were found, or the token service refused them.
    #[error("{0}")]
    Credentials(String),
    /// The service refused the operation, or its answer is not usable.
    #[error("{0}")]
    Answer(String),
    /// The AWS SDK could not complete the call (its reason, on one line).
    #[error("{0}")]
    Sdk(String),
    /// A helper program (`az`, `azd`, gpg, an age key command) could not run or failed.
    #[error("{0}")]
    Program(String),
    /// This build has no client for the service (`kms-*` features).
    #[error("{0} keys are not supported by this build")]
    NotBuilt(&'static str),
    /// `source` with what was being done (`EnvironmentCredential`, a token URL, a credential file).
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// What went wrong there.
        #[source]
        source: Box<ServiceError>,
    },
}

impl ServiceError {
    /// This error with `context` in front of it.
    pub fn context(self, context: impl Into<String>) -> ServiceError {
        ServiceError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}
