//! Whole-file operations: open (decrypt + MAC check) and seal (encrypt + MAC), with stable ciphertext.
//!
//! # Stable ciphertext, and why it leaks nothing new
//!
//! When a file is re-sealed onto an existing encrypted version that opens with the keys at hand, the
//! data key of that version is kept and every value whose key path and typed plaintext did not change
//! is encrypted with the IV it already had. AES-GCM is deterministic for a given key, IV, additional
//! data and plaintext, so the `ENC[...]` string comes out byte-identical, and `git diff` shows only
//! the values that changed plus `lastmodified` and `mac`.
//!
//! Reusing an IV is only dangerous when it encrypts a *different* plaintext (or different additional
//! data) under the same key. Here an IV is reused only for the very same (path, type, plaintext)
//! triple, producing the very same ciphertext that is already public in the previous version; any
//! changed value or new path gets a fresh random IV. What an observer learns is "this value did not
//! change", which the unchanged line in the diff shows anyway, and which sops itself reveals on
//! `edit`/`set`. The data key is only kept when no recipient was removed, so a removed recipient
//! cannot read values written after the removal.

use std::collections::BTreeSet;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cipher::{Cipher, DataKey};
use crate::error::{Result, SopsError};
use crate::keys::{recipient_groups, shamir, KeyRing, Recipient};
use crate::metadata::{
    effective_threshold, now_rfc3339, rewrite_version, rfc3339_seconds, EncryptionRule, KeyEntry,
    Metadata, SOPS_VERSION,
};
use crate::rules::Rules;
use crate::stores::Store;
use crate::tree::{Branch, Item, Value};
use crate::walk::{decrypt_docs, decrypt_mac, encrypt_docs, encrypt_mac, WalkSettings};

/// A decrypted file: its plaintext documents, its metadata, the data key and the IV cache.
pub struct Opened {
    /// Plaintext documents.
    pub docs: Vec<Branch>,
    /// The metadata as read.
    pub metadata: Metadata,
    /// The data key.
    pub data_key: DataKey,
    /// Cipher holding the IV of every value decrypted (for stable re-encryption).
    pub cipher: Cipher,
}

/// Formats `lastmodified` the way sops uses it as MAC additional data: RFC 3339, no fraction, offset kept.
pub(crate) fn normalize_lastmodified(s: &str) -> Result<String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| {
        SopsError::InvalidMetadata(format!("lastmodified {s:?} is not an RFC 3339 time"))
    })?;
    Ok(rfc3339_seconds(t))
}

/// True when a document already has a top-level `sops` key (sealing it again is refused).
fn has_sops_key(docs: &[Branch]) -> bool {
    docs.iter().any(|d| {
        d.iter()
            .any(|i| matches!(i, Item::Pair(k, _) if k == "sops"))
    })
}

/// Decrypts encrypted documents with a known data key and checks the MAC against the metadata
/// (unless `ignore_mac`). `remember_ivs` keeps every value's IV in the returned cipher.
pub(crate) fn decrypt_verified(
    mut docs: Vec<Branch>,
    md: &Metadata,
    data_key: &DataKey,
    ignore_mac: bool,
    remember_ivs: bool,
) -> Result<(Vec<Branch>, Cipher)> {
    let mut cipher = Cipher::new(data_key);
    cipher.remember_ivs(remember_ivs);
    let rules = Rules::new(&md.rule)?;
    let settings = WalkSettings {
        rules: &rules,
        mac_only_encrypted: md.mac_only_encrypted,
    };
    let computed = decrypt_docs(&mut docs, &settings, &mut cipher)?;
    if !ignore_mac {
        if md.mac.is_empty() {
            return Err(SopsError::NoMac);
        }
        let aad = normalize_lastmodified(&md.lastmodified)?;
        if decrypt_mac(&md.mac, &aad, data_key)? != computed {
            return Err(SopsError::MacMismatch);
        }
    }
    Ok((docs, cipher))
}

/// Parses and decrypts an encrypted file, checking the MAC unless `ignore_mac`.
pub fn open(input: &[u8], store: &dyn Store, keys: &KeyRing, ignore_mac: bool) -> Result<Opened> {
    open_with(input, store, keys, ignore_mac, true)
}

/// Like [`open`] for callers that only read the plaintext (`unseal`, the helm downloader): the IVs
/// are not remembered, which saves time and memory on large files. The returned `cipher` cannot
/// keep ciphertext stable; use [`open`] before re-sealing.
pub fn open_read_only(
    input: &[u8],
    store: &dyn Store,
    keys: &KeyRing,
    ignore_mac: bool,
) -> Result<Opened> {
    open_with(input, store, keys, ignore_mac, false)
}

fn open_with(
    input: &[u8],
    store: &dyn Store,
    keys: &KeyRing,
    ignore_mac: bool,
    remember_ivs: bool,
) -> Result<Opened> {
    let (docs, metadata) = crate::stores::load_encrypted(store, input)?;
    let data_key = keys.data_key(&metadata)?;
    let (docs, cipher) = decrypt_verified(docs, &metadata, &data_key, ignore_mac, remember_ivs)?;
    Ok(Opened {
        docs,
        metadata,
        data_key,
        cipher,
    })
}

/// What to encrypt for and how.
#[derive(Clone, Debug, Default)]
pub struct SealSpec {
    /// Key groups (one group: every key gets the whole data key).
    pub groups: Vec<Vec<Recipient>>,
    /// Shamir threshold with several groups (0 = all groups).
    pub shamir_threshold: usize,
    /// Which values are encrypted.
    pub rule: EncryptionRule,
    /// Only encrypted values enter the MAC.
    pub mac_only_encrypted: bool,
}

/// Re-seals an opened file with new plaintext documents, keeping its keys, rule, data key and the
/// ciphertext of every unchanged value (what `edit` and `set` do). Key entries of kinds this tool
/// cannot use (KMS, Vault, …) are kept as they are.
pub fn reseal(opened: Opened, mut docs: Vec<Branch>) -> Result<(Vec<Branch>, Metadata)> {
    if has_sops_key(&docs) {
        return Err(SopsError::AlreadyEncrypted);
    }
    let Opened {
        metadata,
        data_key,
        mut cipher,
        ..
    } = opened;
    let (mac, lastmodified) = encrypt_and_sign(
        &mut docs,
        &metadata.rule,
        metadata.mac_only_encrypted,
        &mut cipher,
        &data_key,
    )?;
    let metadata = Metadata {
        mac,
        lastmodified,
        version: rewrite_version(&metadata.version),
        ..metadata
    };
    Ok((docs, metadata))
}

/// Encrypts the leaves `rule` selects and returns the encrypted MAC and the `lastmodified` it is
/// bound to.
fn encrypt_and_sign(
    docs: &mut [Branch],
    rule: &EncryptionRule,
    mac_only_encrypted: bool,
    cipher: &mut Cipher,
    data_key: &DataKey,
) -> Result<(String, String)> {
    let rules = Rules::new(rule)?;
    let settings = WalkSettings {
        rules: &rules,
        mac_only_encrypted,
    };
    let mac = encrypt_docs(docs, &settings, cipher)?;
    let lastmodified = now_rfc3339();
    Ok((encrypt_mac(&mac, &lastmodified, data_key)?, lastmodified))
}

fn recipient_set(groups: &[Vec<Recipient>]) -> BTreeSet<(String, String)> {
    groups
        .iter()
        .flatten()
        .map(|r| (r.kind().to_string(), r.id().to_string()))
        .collect()
}

/// Encrypts plaintext documents. With `previous` (the opened current version of the target file), the
/// data key and the IVs of unchanged values are kept (see the module docs); without it a fresh data key
/// and fresh IVs are used, like `sops encrypt`.
pub fn seal(
    mut docs: Vec<Branch>,
    spec: &SealSpec,
    keys: &KeyRing,
    previous: Option<Opened>,
) -> Result<(Vec<Branch>, Metadata)> {
    if docs.is_empty() {
        return Err(SopsError::NoDocument);
    }
    if has_sops_key(&docs) {
        return Err(SopsError::AlreadyEncrypted);
    }
    if spec.groups.iter().all(|g| g.is_empty()) {
        return Err(SopsError::NoEncryptionKey(
            "config file not found, or has no creation rules, and no keys provided through command line options"
                .into(),
        ));
    }
    let new_set = recipient_set(&spec.groups);
    // Keep the previous data key only when nobody lost access and the group layout is the same.
    let reuse = previous.filter(|p| {
        let old_groups = recipient_groups(&p.metadata);
        let has_foreign = p
            .metadata
            .all_keys()
            .any(|k| matches!(k, KeyEntry::Other { .. }));
        !has_foreign
            && old_groups.len() == spec.groups.len()
            && recipient_set(&old_groups).is_subset(&new_set)
    });
    let (data_key, mut cipher, old_md) = match reuse {
        Some(p) => (p.data_key, p.cipher, Some(p.metadata)),
        None => {
            let k = DataKey::generate();
            let c = Cipher::new(&k);
            (k, c, None)
        }
    };
    let threshold = effective_threshold(spec.shamir_threshold, spec.groups.len());
    let key_groups = match old_md {
        Some(md) if recipient_groups(&md) == spec.groups && md.shamir_threshold == threshold => {
            md.key_groups
        }
        _ => wrap_for_groups(&data_key, spec, keys)?,
    };
    let (mac, lastmodified) = encrypt_and_sign(
        &mut docs,
        &spec.rule,
        spec.mac_only_encrypted,
        &mut cipher,
        &data_key,
    )?;
    let metadata = Metadata {
        key_groups,
        shamir_threshold: threshold,
        mac,
        lastmodified,
        rule: spec.rule.clone(),
        mac_only_encrypted: spec.mac_only_encrypted,
        version: SOPS_VERSION.to_string(),
    };
    Ok((docs, metadata))
}

/// Generates a data key and wraps it for the recipients of `spec` right away, before any content
/// exists: what `sops edit` does for a new file, so that a key that cannot be used fails before the
/// user types anything. Pass the result to [`seal`] as `previous`; its key entries are then reused.
pub fn prepare_new(spec: &SealSpec, keys: &KeyRing) -> Result<Opened> {
    let data_key = DataKey::generate();
    let key_groups = wrap_for_groups(&data_key, spec, keys)?;
    let metadata = Metadata {
        key_groups,
        shamir_threshold: effective_threshold(spec.shamir_threshold, spec.groups.len()),
        rule: spec.rule.clone(),
        mac_only_encrypted: spec.mac_only_encrypted,
        version: SOPS_VERSION.to_string(),
        ..Metadata::default()
    };
    Ok(Opened {
        docs: Vec::new(),
        cipher: Cipher::new(&data_key),
        data_key,
        metadata,
    })
}

/// Wraps the data key (or one Shamir share per group) for every recipient. Every group needs a key
/// (like sops' "empty key group provided"): the share of an empty group would be lost.
pub(crate) fn wrap_for_groups(
    data_key: &DataKey,
    spec: &SealSpec,
    keys: &KeyRing,
) -> Result<Vec<Vec<KeyEntry>>> {
    if let Some(i) = spec.groups.iter().position(Vec::is_empty) {
        return Err(SopsError::NoEncryptionKey(format!(
            "key group {} has no age or PGP key to encrypt the data key for",
            i + 1
        )));
    }
    let n = spec.groups.len();
    let secrets = if n > 1 {
        let t = effective_threshold(spec.shamir_threshold, n);
        if t > n {
            return Err(SopsError::Shamir(format!(
                "shamir threshold {t} is larger than the number of key groups ({n})"
            )));
        }
        shamir::split(data_key.as_bytes(), n, t)?
    } else {
        vec![zeroize::Zeroizing::new(data_key.as_bytes().to_vec())]
    };
    spec.groups
        .iter()
        .zip(secrets.iter())
        .map(|(group, secret)| {
            group
                .iter()
                .map(|r| keys.wrap(r, secret))
                .collect::<Result<Vec<_>>>()
        })
        .collect()
}

/// Encrypts and emits in one step.
pub fn seal_to_bytes(
    docs: Vec<Branch>,
    spec: &SealSpec,
    keys: &KeyRing,
    previous: Option<Opened>,
    store: &dyn Store,
) -> Result<Vec<u8>> {
    let (docs, md) = seal(docs, spec, keys, previous)?;
    store.emit_encrypted(&docs, &md)
}

/// One step of a `--extract` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// `["key"]`
    Key(String),
    /// `[0]`
    Index(usize),
}

/// Parses a sops tree path such as `["data"]["password"]` or `['a'][0]`.
pub fn parse_tree_path(s: &str) -> Result<Vec<PathStep>> {
    let bad = || {
        SopsError::TreePath(format!(
            "invalid tree path {s:?}: expected something like [\"key\"][0]"
        ))
    };
    let mut steps = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[').ok_or_else(bad)?;
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let body = &rest[1..];
            let end = body.find(q).ok_or_else(bad)?;
            steps.push(PathStep::Key(body[..end].to_string()));
            rest = body[end + 1..].strip_prefix(']').ok_or_else(bad)?;
        } else {
            let end = rest.find(']').ok_or_else(bad)?;
            steps.push(PathStep::Index(
                rest[..end].trim().parse().map_err(|_| bad())?,
            ));
            rest = &rest[end + 1..];
        }
    }
    Ok(steps)
}

/// Finds the value at `path` in a document (comments in sequences do not count as elements).
pub fn extract(doc: &Branch, path: &[PathStep]) -> Result<Value> {
    // the component that failed, worded like sops' `error truncating tree: …`
    let missing = |s: &PathStep, node: &Value| {
        SopsError::TreePath(match (s, node) {
            (PathStep::Key(k), Value::Map(_)) => format!("component ['{k}'] not found"),
            (PathStep::Index(i), Value::Seq(_)) => {
                format!("component [{i}] accesses out of bounds")
            }
            (PathStep::Index(i), _) => {
                format!("component [{i}] is integer, but tree part is not a slice")
            }
            (PathStep::Key(k), _) => {
                format!("component ['{k}'] is a key, but tree part is not a map")
            }
        })
    };
    fn step<'a>(node: &'a Value, step: &PathStep) -> Option<&'a Value> {
        match (step, node) {
            (PathStep::Key(k), Value::Map(m)) => crate::tree::get(m, k),
            (PathStep::Index(i), Value::Seq(s)) => {
                s.iter().filter(|v| !matches!(v, Value::Comment(_))).nth(*i)
            }
            _ => None,
        }
    }
    let Some((first, rest)) = path.split_first() else {
        return Ok(Value::Map(doc.clone()));
    };
    // walk by reference; only the value found is copied
    let mut node = match first {
        PathStep::Key(k) => crate::tree::get(doc, k),
        PathStep::Index(_) => None,
    }
    .ok_or_else(|| missing(first, &Value::Map(Vec::new())))?;
    for s in rest {
        node = step(node, s).ok_or_else(|| missing(s, node))?;
    }
    Ok(node.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lastmodified_normalization() {
        assert_eq!(
            normalize_lastmodified("2026-11-23T08:43:07Z").unwrap(),
            "2026-11-23T08:43:07Z"
        );
        assert_eq!(
            normalize_lastmodified("2026-11-23T08:43:07.123Z").unwrap(),
            "2026-11-23T08:43:07Z"
        );
        assert_eq!(
            normalize_lastmodified("2026-11-23T08:43:07+02:00").unwrap(),
            "2026-11-23T08:43:07+02:00"
        );
    }

    fn one_age_group() -> Vec<Recipient> {
        vec![Recipient::Age(
            age::x25519::Identity::generate().to_public().to_string(),
        )]
    }

    #[test]
    fn empty_key_group_is_refused_instead_of_losing_its_share() {
        let spec = SealSpec {
            groups: vec![one_age_group(), Vec::new()],
            shamir_threshold: 2,
            ..Default::default()
        };
        let e = wrap_for_groups(&DataKey::generate(), &spec, &KeyRing::default()).unwrap_err();
        assert!(e.to_string().contains("key group 2"), "{e}");
        let docs = vec![vec![Item::Pair("a".into(), Value::Str("b".into()))]];
        assert!(seal(docs, &spec, &KeyRing::default(), None).is_err());
    }

    #[test]
    fn mac_mismatch_prints_no_hash_of_the_plaintext() {
        let key = DataKey::generate();
        let rules = Rules::new(&EncryptionRule::Default).unwrap();
        let settings = WalkSettings {
            rules: &rules,
            mac_only_encrypted: false,
        };
        let mut docs = vec![vec![Item::Pair("pw".into(), Value::Str("hunter2".into()))]];
        let mac = encrypt_docs(&mut docs, &settings, &mut Cipher::new(&key)).unwrap();
        let lastmodified = "2026-01-02T03:04:05Z".to_string();
        let md = Metadata {
            mac: encrypt_mac(&mac, &lastmodified, &key).unwrap(),
            lastmodified,
            ..Default::default()
        };
        assert!(decrypt_verified(docs.clone(), &md, &key, false, false).is_ok());
        // another value under the same key: the MAC no longer matches
        let mut other = vec![vec![Item::Pair("pw".into(), Value::Str("hunter3".into()))]];
        encrypt_docs(&mut other, &settings, &mut Cipher::new(&key)).unwrap();
        let Err(e) = decrypt_verified(other, &md, &key, false, false) else {
            panic!("a changed value must fail the MAC check");
        };
        assert!(matches!(e, SopsError::MacMismatch));
        let msg = e.to_string();
        assert!(!msg.contains(&mac) && !msg.contains(&mac[..16]), "{msg}");
        assert_eq!(e.exit_code(), crate::error::exit::MAC_MISMATCH);
    }

    #[test]
    fn reseal_keeps_a_newer_version_only() {
        let key = DataKey::generate();
        let opened = |version: &str| Opened {
            docs: Vec::new(),
            metadata: Metadata {
                version: version.into(),
                ..Default::default()
            },
            cipher: Cipher::new(&key),
            data_key: key.clone(),
        };
        let docs = vec![vec![Item::Pair("a".into(), Value::Int(1))]];
        let (_, md) = reseal(opened("3.7.3"), docs.clone()).unwrap();
        assert_eq!(md.version, SOPS_VERSION);
        let (_, md) = reseal(opened("3.99.0"), docs).unwrap();
        assert_eq!(md.version, "3.99.0");
    }

    #[test]
    fn tree_paths() {
        assert_eq!(
            parse_tree_path(r#"["a"]['b'][0]"#).unwrap(),
            vec![
                PathStep::Key("a".into()),
                PathStep::Key("b".into()),
                PathStep::Index(0)
            ]
        );
        assert!(parse_tree_path("a.b").is_err());
    }
}
