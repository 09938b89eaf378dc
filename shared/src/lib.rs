//! The SOPS v3 engine shared by `kubectl-sops` and `helm-secrets`.
//!
//! Data flows one way: a [`stores::Store`] parses bytes into an ordered [`tree`] (comments included),
//! [`walk`] encrypts or decrypts its values with the data key and computes the MAC, and the store emits
//! the tree again. Master keys (age, PGP) wrap the data key behind [`keys::KeySource`].

pub mod build_info;
pub mod cipher;
pub mod cli;
pub mod config;
pub mod diff;
pub mod editor;
pub mod error;
pub mod file;
pub mod gocompat;
pub mod k8s;
pub mod keys;
pub mod metadata;
pub mod output;
pub mod private_dir;
pub mod rekey;
pub mod rules;
pub mod secret_data;
pub mod shell;
pub mod signals;
pub mod stores;
pub mod tree;
pub mod treepath;
pub mod walk;

pub use error::{Result, SopsError};
