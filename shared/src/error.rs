//! Typed errors of the engine, each with the exit code sops uses for the same failure.

use thiserror::Error;

/// Exit codes shared with sops (`cmd/sops/codes`).
pub mod exit {
    /// Generic failure.
    pub const GENERIC: i32 = 1;
    /// Could not read the input file.
    pub const COULD_NOT_READ_INPUT: i32 = 2;
    /// Could not write the output file.
    pub const COULD_NOT_WRITE_OUTPUT: i32 = 3;
    /// Could not emit the tree.
    pub const ERROR_DUMPING_TREE: i32 = 4;
    /// `.sops.yaml` could not be read.
    pub const ERROR_READING_CONFIG: i32 = 5;
    /// Conflicting flags.
    pub const CONFLICTING_PARAMETERS: i32 = 8;
    /// Encrypting the MAC failed.
    pub const ERROR_ENCRYPTING_MAC: i32 = 21;
    /// Encrypting a value failed.
    pub const ERROR_ENCRYPTING_TREE: i32 = 23;
    /// Decrypting the MAC failed.
    pub const ERROR_DECRYPTING_MAC: i32 = 24;
    /// Decrypting a value failed.
    pub const ERROR_DECRYPTING_TREE: i32 = 25;
    /// The MAC does not match the content.
    pub const MAC_MISMATCH: i32 = 51;
    /// The file has no MAC.
    pub const MAC_NOT_FOUND: i32 = 52;
    /// The config file was not found.
    pub const CONFIG_FILE_NOT_FOUND: i32 = 61;
    /// The `--extract` path is invalid.
    pub const INVALID_TREE_PATH_FORMAT: i32 = 91;
    /// The file holds no document.
    pub const NEED_AT_LEAST_ONE_DOCUMENT: i32 = 92;
    /// The input file does not exist.
    pub const NO_FILE_SPECIFIED: i32 = 100;
    /// No key to encrypt with.
    pub const NO_ENCRYPTION_KEY_FOUND: i32 = 111;
    /// A decryption-order entry is duplicated.
    pub const DUPLICATE_DECRYPTION_KEY_TYPE: i32 = 112;
    /// No master key could unwrap the data key.
    pub const COULD_NOT_RETRIEVE_KEY: i32 = 128;
    /// `edit` found no change.
    pub const FILE_HAS_NOT_BEEN_MODIFIED: i32 = 200;
    /// `edit` found no editor.
    pub const NO_EDITOR_FOUND: i32 = 201;
    /// The input is already encrypted.
    pub const FILE_ALREADY_ENCRYPTED: i32 = 203;
}

/// Everything that can go wrong in the engine. Messages never contain plaintext values.
#[derive(Debug, Error)]
pub enum SopsError {
    /// The input could not be parsed in the given format.
    #[error("error parsing {format}: {message}")]
    Parse {
        /// "YAML", "JSON", …
        format: &'static str,
        /// What went wrong (positions, never values).
        message: String,
    },
    /// An encrypted file could not be parsed (sops exits 1 here, and 2 for plaintext input).
    #[error("error parsing {format}: {message}")]
    ParseEncrypted {
        /// "YAML", "JSON", …
        format: &'static str,
        /// What went wrong (positions, never values).
        message: String,
    },
    /// The tree could not be written in the given format.
    #[error("error emitting {format}: {message}")]
    Emit {
        /// "YAML", "JSON", …
        format: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The file has no `sops` metadata.
    #[error("sops metadata not found")]
    MetadataNotFound,
    /// The metadata block is malformed.
    #[error("invalid sops metadata: {0}")]
    InvalidMetadata(String),
    /// The metadata's `version` is one sops refuses.
    #[error("invalid sops metadata: {0}")]
    InvalidVersion(#[from] crate::metadata::VersionError),
    /// The file is already encrypted.
    #[error("the file is already encrypted (it has a top-level sops key)")]
    AlreadyEncrypted,
    /// There is nothing to encrypt.
    #[error("cannot encrypt: the file holds no document")]
    NoDocument,
    /// A value could not be decrypted.
    #[error("could not decrypt value at {}: {reason}", path.trim_end_matches(':'))]
    Decrypt {
        /// Key path of the value (`data:password:`).
        path: String,
        /// Why (never the value).
        reason: String,
    },
    /// A value could not be encrypted.
    #[error("could not encrypt value at {}: {reason}", path.trim_end_matches(':'))]
    Encrypt {
        /// Key path of the value.
        path: String,
        /// Why.
        reason: String,
    },
    /// The MAC could not be decrypted (wrong data key or tampered `lastmodified`/`mac`).
    #[error("Cannot decrypt MAC: {0}")]
    MacDecrypt(crate::crypto::cipher::ValueError),
    /// The MAC does not match. Unlike sops, the two MACs are not printed: each is an unsalted hash of
    /// the plaintext values, which lets anyone reading the log test guesses of a weak secret.
    #[error("MAC mismatch: the values, lastmodified or mac were changed outside sops")]
    MacMismatch,
    /// The file has no MAC.
    #[error("MAC mismatch. File has no MAC")]
    NoMac,
    /// No master key could provide the data key.
    #[error("{0}")]
    DataKey(String),
    /// No key to encrypt with.
    #[error("{0}")]
    NoEncryptionKey(String),
    /// A master key could not wrap the data key.
    #[error("could not encrypt the data key with {key}: {reason}")]
    KeyWrap {
        /// The recipient.
        key: String,
        /// Why.
        reason: String,
    },
    /// `.sops.yaml` is unreadable or malformed.
    #[error("error loading config: {0}")]
    Config(String),
    /// No creation rule of `.sops.yaml` matches the file (sops' words).
    #[error("error loading config: no matching creation rules found")]
    NoMatchingRule,
    /// The config file given with `--config` does not exist.
    #[error("config file not found: {0}")]
    ConfigNotFound(String),
    /// `SOPS_DECRYPTION_ORDER` names a key type twice.
    #[error("Duplicate decryption key type: {0}")]
    DuplicateDecryptionKeyType(String),
    /// A tree path (`["a"][0]`) is malformed or does not exist.
    #[error("{0}")]
    TreePath(String),
    /// A tree path could not be applied (exit 1, as sops).
    #[error(transparent)]
    Path(#[from] crate::treepath::PathError),
    /// A value given on the command line is not usable (`set`'s JSON value).
    #[error("{0}")]
    InvalidValue(String),
    /// A key source was handed an entry of another kind (a defect of ours, never of the file).
    #[error("a {found} key entry cannot be opened as {expected}")]
    WrongKeyKind {
        /// The kind the source handles.
        expected: &'static str,
        /// The entry's kind.
        found: String,
    },
    /// One key entry could not unwrap the data key: the key service's, gpg's or age's reason.
    #[error("{0}")]
    Unwrap(String),
    /// Splitting the data key into Shamir shares, or combining them, failed.
    #[error("{0}")]
    Shamir(String),
    /// Something sops can do and this tool cannot (the message names the sops command).
    #[error("{0}")]
    Unsupported(String),
    /// The decrypted documents do not line up with the encrypted ones.
    #[error("the decrypted documents do not have the shape of the encrypted ones")]
    ShapeMismatch,
}

impl SopsError {
    /// A key source of kind `expected` was handed `entry`.
    pub(crate) fn wrong_kind(expected: &'static str, entry: &crate::metadata::KeyEntry) -> Self {
        SopsError::WrongKeyKind {
            expected,
            found: entry.kind().to_string(),
        }
    }

    /// The exit code sops uses for this failure.
    pub fn exit_code(&self) -> i32 {
        use exit::*;
        match self {
            SopsError::Parse { .. } => COULD_NOT_READ_INPUT,
            SopsError::ParseEncrypted { .. } => GENERIC,
            SopsError::Emit { .. } => ERROR_DUMPING_TREE,
            SopsError::MetadataNotFound
            | SopsError::InvalidMetadata(_)
            | SopsError::InvalidVersion(_) => GENERIC,
            SopsError::AlreadyEncrypted => FILE_ALREADY_ENCRYPTED,
            SopsError::NoDocument => NEED_AT_LEAST_ONE_DOCUMENT,
            SopsError::Decrypt { .. } => ERROR_DECRYPTING_TREE,
            SopsError::Encrypt { .. } => ERROR_ENCRYPTING_TREE,
            SopsError::MacDecrypt(_) => ERROR_DECRYPTING_MAC,
            SopsError::MacMismatch | SopsError::NoMac => MAC_MISMATCH,
            SopsError::DataKey(_) => COULD_NOT_RETRIEVE_KEY,
            SopsError::NoEncryptionKey(_) => GENERIC,
            SopsError::KeyWrap { .. } => GENERIC,
            SopsError::Config(_) | SopsError::NoMatchingRule => GENERIC,
            SopsError::ConfigNotFound(_) => CONFIG_FILE_NOT_FOUND,
            SopsError::DuplicateDecryptionKeyType(_) => DUPLICATE_DECRYPTION_KEY_TYPE,
            SopsError::TreePath(_) => INVALID_TREE_PATH_FORMAT,
            SopsError::Path(_)
            | SopsError::InvalidValue(_)
            | SopsError::WrongKeyKind { .. }
            | SopsError::Unwrap(_)
            | SopsError::Shamir(_)
            | SopsError::Unsupported(_)
            | SopsError::ShapeMismatch => GENERIC,
        }
    }
}

/// Result alias of the engine.
pub type Result<T, E = SopsError> = std::result::Result<T, E>;

/// Folds a multi-line message (key failure reports, tool output) into one line, `; ` between its
/// non-empty lines.
pub fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
