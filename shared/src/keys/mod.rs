//! Master keys: each kind (age, PGP) wraps the data key (or a Shamir share) for a recipient and
//! unwraps it with the identities found on this machine.

use crate::error::Result;
use crate::metadata::KeyEntry;
use zeroize::Zeroizing;

pub mod age;
pub mod pgp;
pub mod shamir;

/// One kind of master key.
pub trait KeySource: Send + Sync {
    /// The metadata list this source handles (`age`, `pgp`).
    fn kind(&self) -> &'static str;
    /// Wraps `secret` for `recipient` and returns the metadata entry to store.
    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry>;
    /// Unwraps the secret stored in `entry` with the identities available here.
    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>>;
}
