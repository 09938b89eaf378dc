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

use crate::cipher::DataKey;
use crate::error::SopsError;
use crate::metadata::{KeyGroup, Metadata};

/// A recipient to encrypt the data key for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// An age recipient (`age1…`, SSH public key, plugin recipient).
    Age(String),
    /// A PGP fingerprint.
    Pgp(String),
}

impl Recipient {
    /// The metadata list of this recipient.
    pub fn kind(&self) -> &'static str {
        match self {
            Recipient::Age(_) => "age",
            Recipient::Pgp(_) => "pgp",
        }
    }
    /// The recipient string.
    pub fn id(&self) -> &str {
        match self {
            Recipient::Age(s) | Recipient::Pgp(s) => s,
        }
    }
    /// The recipient an existing metadata entry was made for (None for kinds we cannot write).
    pub fn of_entry(e: &crate::metadata::KeyEntry) -> Option<Recipient> {
        match e {
            crate::metadata::KeyEntry::Age { recipient, .. } => {
                Some(Recipient::Age(recipient.clone()))
            }
            crate::metadata::KeyEntry::Pgp { fp, .. } => Some(Recipient::Pgp(fp.clone())),
            crate::metadata::KeyEntry::Other { .. } => None,
        }
    }
}

/// All key sources of this build.
pub struct KeyRing {
    age: age::AgeSource,
    pgp: pgp::PgpSource,
}

impl Default for KeyRing {
    fn default() -> Self {
        KeyRing {
            age: age::AgeSource::new(),
            pgp: pgp::PgpSource::new(),
        }
    }
}

impl KeyRing {
    /// The source for a metadata list name.
    pub fn source(&self, kind: &str) -> Option<&dyn KeySource> {
        match kind {
            "age" => Some(&self.age),
            "pgp" => Some(&self.pgp),
            _ => None,
        }
    }

    /// Wraps `secret` for one recipient.
    pub fn wrap(&self, r: &Recipient, secret: &[u8]) -> Result<crate::metadata::KeyEntry> {
        self.source(r.kind())
            .expect("age and pgp are built in")
            .wrap(r.id(), secret)
    }

    /// Recovers the data key from the metadata: one group unwraps it whole; with several groups, shares
    /// are collected until the Shamir threshold is reached.
    pub fn data_key(&self, md: &Metadata) -> Result<DataKey> {
        let mut report = Vec::new();
        let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let groups = md.key_groups.len();
        let threshold = match (groups, md.shamir_threshold) {
            (0 | 1, _) => 1,
            (n, 0) => n,
            (_, t) => t,
        };
        for (gi, group) in md.key_groups.iter().enumerate() {
            match self.unwrap_group(group) {
                Ok(secret) => {
                    report.push(format!("Group {gi}: OK"));
                    parts.push(secret);
                    if parts.len() >= threshold {
                        break;
                    }
                }
                Err(lines) => {
                    report.push(format!("Group {gi}: FAILED"));
                    report.extend(lines.into_iter().map(|l| format!("  {l}")));
                }
            }
        }
        if parts.len() < threshold || parts.is_empty() {
            let why = if groups > 1 {
                format!(
                    "Recovery failed because the file was encrypted with a Shamir threshold of {threshold}, but only {} \
                     part(s) were successfully recovered, one for each successfully decrypted key group. In order to \
                     recover parts from more key groups and reach the threshold, review the errors above.",
                    parts.len()
                )
            } else {
                "Recovery failed because no master key was able to decrypt the file. In order for SOPS to recover \
                 the data key, at least one master key must be able to decrypt it. Review the errors above."
                    .to_string()
            };
            return Err(SopsError::DataKey(format!("{}\n{why}", report.join("\n"))));
        }
        let key = if groups > 1 {
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            shamir::combine(&refs)?
        } else {
            parts.pop().expect("one part")
        };
        DataKey::from_slice(&key).ok_or_else(|| {
            SopsError::DataKey(format!(
                "the recovered data key has {} bytes, expected 32",
                key.len()
            ))
        })
    }

    fn unwrap_group(
        &self,
        group: &KeyGroup,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, Vec<String>> {
        let mut errors = Vec::new();
        // default decryption order: age, then pgp, then everything else
        let mut ordered: Vec<&crate::metadata::KeyEntry> =
            group.iter().filter(|k| k.kind() == "age").collect();
        ordered.extend(group.iter().filter(|k| k.kind() == "pgp"));
        ordered.extend(
            group
                .iter()
                .filter(|k| k.kind() != "age" && k.kind() != "pgp"),
        );
        for entry in ordered {
            match self.source(entry.kind()) {
                Some(src) => match src.unwrap(entry) {
                    Ok(secret) => return Ok(secret),
                    Err(e) => errors.push(format!("{}: FAILED\n    - {}", entry.describe(), e.to_string().replace('\n', " "))),
                },
                None => errors.push(format!(
                    "{}: FAILED\n    - {} keys are not supported by this tool (kept in the file, but cannot be used)",
                    entry.describe(),
                    entry.kind()
                )),
            }
        }
        Err(errors)
    }
}
