//! Master keys: each kind (age, PGP, AWS KMS, GCP KMS, Azure Key Vault, Vault transit) wraps the data key (or a Shamir share)
//! for a recipient and unwraps it with the identities found on this machine or the key service named
//! in the entry. Key services are only contacted when their entry is tried: with the default
//! decryption order (age, PGP, then the rest in sops' stored order) a file a local age or PGP identity
//! opens makes no network call, and no runtime or client is built.

use crate::error::Result;
use crate::metadata::KeyEntry;
use zeroize::Zeroizing;

pub mod age;
pub mod age_pq;
pub mod aws_kms;
pub mod azure_kv;
pub mod gcp_kms;
pub mod hc_vault;
#[cfg(any(feature = "kms-gcp", feature = "kms-azure"))]
mod oauth;
pub mod pgp;
mod report;
pub mod service_error;
pub mod shamir;
pub mod xwing;

pub use service_error::{BadKeyId, ServiceError};

/// The data key in a REST key service's decrypt answer: the base64 string `field`, decoded; the
/// answer's copy is wiped. `what` names the call in messages.
pub(crate) fn decoded_plaintext(
    field: Option<serde_json::Value>,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let Some(serde_json::Value::String(s)) = field else {
        return Err(SopsError::Unwrap(format!(
            "{what}: the answer holds no plaintext"
        )));
    };
    let plaintext = Zeroizing::new(s);
    base64::engine::general_purpose::STANDARD
        .decode(plaintext.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| SopsError::Unwrap(format!("{what}: the plaintext is not base64")))
}

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
use crate::metadata::{effective_threshold, KeyGroup, Metadata};

/// A recipient to encrypt the data key for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// An age recipient (`age1…`, post-quantum `age1pq1…`, SSH public key, plugin recipient).
    Age(String),
    /// A PGP fingerprint.
    Pgp(String),
    /// An AWS KMS key (ARN, optional role, encryption context, profile).
    Kms(aws_kms::KmsKey),
    /// A Vault transit key URI (`https://vault:8200/v1/transit/keys/name`).
    HcVault(String),
    /// A GCP Cloud KMS resource id (`projects/P/locations/L/keyRings/R/cryptoKeys/K`).
    GcpKms(String),
    /// An Azure Key Vault key (vault URL, name, version; an empty version is looked up).
    AzureKv(azure_kv::AzureKey),
}

impl Recipient {
    /// The metadata list of this recipient.
    pub fn kind(&self) -> &'static str {
        match self {
            Recipient::Age(_) => "age",
            Recipient::Pgp(_) => "pgp",
            Recipient::Kms(_) => "kms",
            Recipient::HcVault(_) => "hc_vault",
            Recipient::GcpKms(_) => "gcp_kms",
            Recipient::AzureKv(_) => "azure_kv",
        }
    }
    /// The recipient as sops names it (a KMS key as `ARN[+ROLE][|context[|profile]]`).
    pub fn id(&self) -> String {
        match self {
            Recipient::Age(s)
            | Recipient::Pgp(s)
            | Recipient::HcVault(s)
            | Recipient::GcpKms(s) => s.clone(),
            Recipient::Kms(k) => k.to_sops_string(),
            Recipient::AzureKv(k) => k.url(),
        }
    }
    /// The recipient an existing metadata entry was made for (None for kinds we cannot write).
    pub fn of_entry(e: &KeyEntry) -> Option<Recipient> {
        match e {
            KeyEntry::Age { recipient, .. } => Some(Recipient::Age(recipient.clone())),
            KeyEntry::Pgp { fp, .. } => Some(Recipient::Pgp(fp.clone())),
            KeyEntry::Kms(k) => Some(Recipient::Kms(aws_kms::KmsKey::of_entry(k))),
            KeyEntry::HcVault(v) => Some(Recipient::HcVault(v.uri())),
            KeyEntry::GcpKms(g) => Some(Recipient::GcpKms(g.resource_id.clone())),
            KeyEntry::AzureKv(a) => Some(Recipient::AzureKv(azure_kv::AzureKey::of_entry(a))),
            KeyEntry::Other { .. } => None,
        }
    }
}

/// The recipients of every key group of a file (entries of kinds this tool cannot write left out).
pub fn recipient_groups(md: &Metadata) -> Vec<Vec<Recipient>> {
    md.key_groups
        .iter()
        .map(|g| g.iter().filter_map(Recipient::of_entry).collect())
        .collect()
}

/// Environment variable with the key types to try first in each key group (sops' `--decryption-order`).
pub const DECRYPTION_ORDER_ENV: &str = "SOPS_DECRYPTION_ORDER";

/// The order sops tries the keys of a group in when none is given.
pub const DEFAULT_DECRYPTION_ORDER: [&str; 2] = ["age", "pgp"];

/// Parses a comma separated decryption order like sops: an empty string is the default order, a key
/// type named twice is an error (exit code 112). Entries are not trimmed (sops does not trim them).
pub fn parse_decryption_order(s: &str) -> Result<Vec<String>> {
    if s.is_empty() {
        return Ok(DEFAULT_DECRYPTION_ORDER.map(String::from).to_vec());
    }
    let mut order: Vec<String> = Vec::new();
    for kind in s.split(',') {
        if order.iter().any(|k| k == kind) {
            return Err(SopsError::DuplicateDecryptionKeyType(kind.to_string()));
        }
        order.push(kind.to_string());
    }
    Ok(order)
}

/// All key sources of this build. The key-service sources build their clients on first use.
pub struct KeyRing {
    age: age::AgeSource,
    pgp: pgp::PgpSource,
    kms: aws_kms::KmsSource,
    vault: hc_vault::VaultSource,
    gcp: gcp_kms::GcpKmsSource,
    azure: azure_kv::AzureKvSource,
    /// `SOPS_DECRYPTION_ORDER` as set (parsed when a data key is needed, so a bad value only fails
    /// commands that decrypt, like sops).
    decryption_order: String,
}

impl Default for KeyRing {
    fn default() -> Self {
        KeyRing {
            age: age::AgeSource::new(),
            pgp: pgp::PgpSource::new(),
            kms: aws_kms::KmsSource::default(),
            vault: hc_vault::VaultSource::default(),
            gcp: gcp_kms::GcpKmsSource::default(),
            azure: azure_kv::AzureKvSource::default(),
            decryption_order: std::env::var(DECRYPTION_ORDER_ENV).unwrap_or_default(),
        }
    }
}

impl KeyRing {
    /// The default key ring plus the age identities in `text` (an imported key file's content).
    pub fn with_age_identities(self, text: Zeroizing<String>) -> Self {
        KeyRing {
            age: age::AgeSource::with_identities(text),
            ..self
        }
    }

    /// The key ring with PGP keys taken from the GnuPG home `dir` (passed to gpg as `--homedir`).
    pub fn with_pgp_homedir(self, dir: impl Into<std::path::PathBuf>) -> Self {
        KeyRing {
            pgp: pgp::PgpSource::with_homedir(dir),
            ..self
        }
    }

    /// The source for a metadata list name.
    pub fn source(&self, kind: &str) -> Option<&dyn KeySource> {
        match kind {
            "age" => Some(&self.age),
            "pgp" => Some(&self.pgp),
            "kms" => Some(&self.kms),
            "hc_vault" => Some(&self.vault),
            "gcp_kms" => Some(&self.gcp),
            "azure_kv" => Some(&self.azure),
            _ => None,
        }
    }

    /// Wraps `secret` for one recipient.
    pub fn wrap(&self, r: &Recipient, secret: &[u8]) -> Result<KeyEntry> {
        match r {
            Recipient::Age(a) => self.age.wrap(a, secret),
            Recipient::Pgp(fp) => self.pgp.wrap(fp, secret),
            Recipient::Kms(k) => self.kms.wrap_key(k, secret),
            Recipient::HcVault(uri) => self.vault.wrap(uri, secret),
            Recipient::GcpKms(id) => self.gcp.wrap(id, secret),
            Recipient::AzureKv(k) => self.azure.wrap_key(k, secret),
        }
    }

    /// Recovers the data key from the metadata: one group unwraps it whole; with several groups, shares
    /// are collected until the Shamir threshold is reached.
    pub fn data_key(&self, md: &Metadata) -> Result<DataKey> {
        let order = parse_decryption_order(&self.decryption_order)?;
        let mut failures: Vec<(usize, Vec<(String, String)>)> = Vec::new();
        let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let groups = md.key_groups.len();
        let threshold = effective_threshold(md.shamir_threshold, groups).max(1);
        for (gi, group) in md.key_groups.iter().enumerate() {
            match self.unwrap_group(group, &order) {
                Ok(secret) => {
                    parts.push(secret);
                    if parts.len() >= threshold {
                        break;
                    }
                }
                Err(tried) => failures.push((gi, tried)),
            }
        }
        if parts.len() < threshold || parts.is_empty() {
            return Err(SopsError::DataKey(no_key_summary(
                &failures,
                groups,
                threshold,
                parts.len(),
            )));
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

    /// Tries the keys of a group in decryption order until one unwraps the secret; else every key
    /// tried with why it failed.
    fn unwrap_group(
        &self,
        group: &KeyGroup,
        order: &[String],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, Vec<(String, String)>> {
        let mut errors = Vec::new();
        for entry in in_decryption_order(group, order) {
            match self.source(entry.kind()) {
                Some(src) => match src.unwrap(entry) {
                    Ok(secret) => return Ok(secret),
                    Err(e) => errors.push((short_name(entry), e.to_string())),
                },
                None => errors.push((
                    short_name(entry),
                    format!("{} keys are not supported by this tool", entry.kind()),
                )),
            }
        }
        Err(errors)
    }
}

/// How a key is named in failure reports: post-quantum age recipients (1959 characters) shortened,
/// key-service keys with their kind (`kms arn:…`, `hc_vault https://…`).
fn short_name(entry: &KeyEntry) -> String {
    match entry {
        KeyEntry::Age { recipient, .. } => age::display_recipient(recipient),
        KeyEntry::Kms(_) | KeyEntry::HcVault(_) | KeyEntry::GcpKms(_) | KeyEntry::AzureKv(_) => {
            format!("{} {}", entry.kind(), entry.describe())
        }
        other => other.describe(),
    }
}

/// The order sops keeps the keys of a group in memory (`internalGroupFrom`): the key services, then
/// PGP, then age. Unlisted types keep this order after a decryption order.
const SOPS_GROUP_ORDER: [&str; 7] = [
    "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age",
];

/// The keys of a group in decryption order: a stable sort by the position of their type in `order`,
/// unlisted types last in sops' in-memory order (sops' `sortKeyGroupIndices`).
fn in_decryption_order<'a>(group: &'a KeyGroup, order: &[String]) -> Vec<&'a KeyEntry> {
    let mut ordered: Vec<&KeyEntry> = group.iter().collect();
    ordered.sort_by_key(|k| {
        let listed = order
            .iter()
            .position(|o| o == k.kind())
            .unwrap_or(order.len());
        let stored = SOPS_GROUP_ORDER
            .iter()
            .position(|o| *o == k.kind())
            .unwrap_or(SOPS_GROUP_ORDER.len());
        (listed, stored)
    });
    ordered
}

use report::no_key_summary;

#[cfg(test)]
mod tests {
    use super::*;

    fn age(r: &str) -> KeyEntry {
        KeyEntry::Age {
            recipient: r.into(),
            enc: String::new(),
        }
    }

    fn pgp(fp: &str) -> KeyEntry {
        KeyEntry::Pgp {
            fp: fp.into(),
            enc: String::new(),
            created_at: String::new(),
        }
    }

    fn kms(arn: &str) -> KeyEntry {
        KeyEntry::Kms(crate::metadata::KmsEntry {
            arn: arn.into(),
            ..Default::default()
        })
    }

    fn vault(key: &str) -> KeyEntry {
        KeyEntry::HcVault(crate::metadata::VaultEntry {
            vault_address: "http://127.0.0.1:8200".into(),
            engine_path: "transit".into(),
            key_name: key.into(),
            ..Default::default()
        })
    }

    #[test]
    fn decryption_order_like_sops() {
        assert_eq!(parse_decryption_order("").unwrap(), ["age", "pgp"]);
        assert_eq!(parse_decryption_order("pgp,age").unwrap(), ["pgp", "age"]);
        let e = parse_decryption_order("pgp,age,pgp").unwrap_err();
        assert_eq!(e.to_string(), "Duplicate decryption key type: pgp");
        assert_eq!(
            e.exit_code(),
            crate::error::exit::DUPLICATE_DECRYPTION_KEY_TYPE
        );

        // read order (age, pgp, then the rest alphabetically) differs from sops' in-memory order
        let group = vec![
            age("a1"),
            age("a2"),
            pgp("P1"),
            pgp("P2"),
            vault("v1"),
            kms("k1"),
        ];
        let kinds = |order: &str| -> Vec<String> {
            in_decryption_order(&group, &parse_decryption_order(order).unwrap())
                .iter()
                .map(|e| short_name(e))
                .collect()
        };
        let v1 = "hc_vault http://127.0.0.1:8200/v1/transit/keys/v1";
        assert_eq!(kinds(""), ["a1", "a2", "P1", "P2", "kms k1", v1]);
        assert_eq!(kinds("pgp"), ["P1", "P2", "kms k1", v1, "a1", "a2"]);
        assert_eq!(kinds("kms,pgp,age"), ["kms k1", "P1", "P2", "a1", "a2", v1]);
        assert_eq!(kinds("hc_vault"), [v1, "kms k1", "P1", "P2", "a1", "a2"]);
    }

    #[test]
    fn bad_decryption_order_fails_data_key_with_its_exit_code() {
        let ring = KeyRing {
            decryption_order: "age,age".into(),
            ..KeyRing::default()
        };
        let md = Metadata {
            key_groups: vec![vec![age("age1x")]],
            ..Default::default()
        };
        let e = ring.data_key(&md).unwrap_err();
        assert!(
            matches!(e, SopsError::DuplicateDecryptionKeyType(ref k) if k == "age"),
            "{e}"
        );
    }
}
