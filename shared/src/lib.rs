//! The SOPS v3 engine shared by `kubectl-sops` and `helm-secrets`.
//!
//! Data flows one way: a [`stores::Store`] parses bytes into an ordered [`tree`] (comments included),
//! [`walk`] encrypts or decrypts its values with the data key and computes the MAC, and the store emits
//! the tree again. Master keys (age, PGP) wrap the data key behind [`keys::KeySource`].

// The layers, bottom up. Each module keeps its flat path (`sops_engine::tree`, `sops_engine::file`,
// …) through the re-exports below; the directories show which layer it belongs to.

// Bottom: the engine's errors, the Go behaviour the format depends on, the build's version.
pub mod build_info;
pub mod error;
pub mod gocompat;

/// The document: the ordered tree with comments, key paths, the `sops` metadata, and the stores
/// that parse and emit YAML, JSON, dotenv, INI and binary files.
pub mod document {
    pub mod metadata;
    pub mod stores;
    pub mod tree;
    pub mod treepath;
}

/// Crypto: the value cipher (AES-GCM, the data key), which values a rule encrypts, and the walk
/// that encrypts or decrypts a tree and computes its MAC. Master keys are in [`keys`].
pub mod crypto {
    pub mod cipher;
    pub mod rules;
    pub mod walk;
}

/// Master keys that wrap the data key: age (X25519, post-quantum, SSH, plugins), PGP, Shamir.
pub mod keys;

/// Operations on files: open, seal, reseal, rekey, diff, and the `.sops.yaml` rules that choose keys.
pub mod ops {
    pub mod config;
    pub mod diff;
    pub mod file;
    pub mod rekey;
}

/// Kubernetes conventions: which objects hold secrets, default rules, and a Secret's `data` shown
/// decoded while editing.
pub mod kubernetes {
    pub mod k8s;
    pub mod secret_data;
}

/// OS plumbing: atomic writes, the private tmpfs directory, signals, the editor session, command
/// lines.
pub mod os {
    pub mod editor;
    #[cfg(feature = "http-client")]
    pub mod http;
    #[cfg(feature = "net")]
    pub mod net;
    pub mod output;
    pub mod private_dir;
    #[cfg(feature = "http-client")]
    pub mod proxy;
    pub mod shell;
    pub mod signals;
}

/// The command layer both binaries share.
pub mod cli;

pub use crypto::{cipher, rules, walk};
pub use document::{metadata, stores, tree, treepath};
pub use kubernetes::{k8s, secret_data};
pub use ops::{config, diff, file, rekey};
pub use os::{editor, output, private_dir, shell, signals};

pub use error::{Result, SopsError};
