//! Per-field comparison of two versions of an encrypted file, with or without the keys.
//!
//! Every leaf of a document gets a readable path: map keys joined with `.` (`data.password`), keys
//! that are not plain identifiers quoted (`data["tls.crt"]`), sequence elements by index
//! (`spec.list[2].name`, comments do not count), and `[n] ` in front for files with several documents.
//! Empty maps and sequences and `null` are leaves too; comments are ignored.
//!
//! With the plaintext of both versions, typed plaintext values are compared: a value whose ciphertext
//! changed but whose plaintext did not (a file re-encrypted from scratch) is not a change. Without it,
//! `ENC[...]` strings are compared: equal ciphertext means equal value (exact for files written with
//! stable ciphertext), different ciphertext means "changed or re-encrypted". Values stored in clear
//! always compare directly.
//!
//! Metadata changes that matter (recipients, the encryption rule, the Shamir threshold, the MAC mode)
//! are reported on their own; a rotated data key, `lastmodified`, `mac` and `version` are not.
//!
//! For git's textconv, [`ValueDigester`] renders encrypted values as a keyed digest (HMAC-SHA256 under
//! a key derived from the data key) so equal values look equal across versions while nothing about a
//! low-entropy secret can be guessed without the data key; [`ciphertext_fingerprint`] does the same
//! for the ciphertext when there is no key.

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cipher::{is_encrypted, plaintext_of, DataKey};
use crate::error::{Result, SopsError};
use crate::metadata::{KeyEntry, Metadata};
use crate::tree::{Branch, Item, Value};

/// One version of a file: its documents as stored (values still `ENC[...]`), its metadata and, when
/// the keys were at hand, its decrypted documents.
#[derive(Clone, Copy)]
pub struct Version<'a> {
    /// Documents as parsed from the encrypted file.
    pub stored: &'a [Branch],
    /// The `sops` metadata.
    pub metadata: &'a Metadata,
    /// The decrypted documents (same shape as `stored`), if the file could be opened.
    pub plain: Option<&'a [Branch]>,
}

/// A leaf of a document: its path, the value as stored in the file and, with keys, its plaintext.
#[derive(Clone)]
pub struct Leaf {
    /// Readable path (`data.password`, `spec.list[2].name`, `[1] data.x`).
    pub path: String,
    /// The value as written in the file (an `ENC[...]` string when encrypted).
    pub stored: Value,
    /// The decrypted value (equal to `stored` for values kept in clear); `None` without keys.
    pub plain: Option<Value>,
}

impl Leaf {
    /// True when the value is encrypted in the file.
    pub fn is_encrypted(&self) -> bool {
        matches!(&self.stored, Value::Str(s) if is_encrypted(s))
    }
}

impl std::fmt::Debug for Leaf {
    // Never prints plaintext: a Debug dump must not leak a secret into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf")
            .field("path", &self.path)
            .field("stored", &self.stored)
            .field("plain", &self.plain.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What happened to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, and the values differ.
    Changed {
        /// True when the values are known to differ (plaintexts compared, or values in clear); false
        /// when only ciphertexts could be compared: "changed or re-encrypted".
        known: bool,
    },
}

/// One changed path.
#[derive(Clone, Debug)]
pub struct Change {
    /// Readable path of the leaf.
    pub path: String,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The old leaf (`None` when added).
    pub old: Option<Leaf>,
    /// The new leaf (`None` when removed).
    pub new: Option<Leaf>,
}

/// A change in the metadata: one `(path, value)` line appeared or disappeared, e.g.
/// `sops.age: age1…` or `sops.encrypted_regex: ^(data|stringData)$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaChange {
    /// True when the line is new, false when it is gone.
    pub added: bool,
    /// `sops.age`, `sops.key_groups[1].pgp`, `sops.encrypted_regex`, …
    pub path: String,
    /// Recipient, fingerprint or setting value (never secret).
    pub value: String,
}

/// The result of [`diff`].
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// Changed leaves, in document order.
    pub changes: Vec<Change>,
    /// Metadata changes that matter.
    pub metadata: Vec<MetaChange>,
}

impl Diff {
    /// True when the two versions are the same (as far as could be told).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.metadata.is_empty()
    }
}

/// Compares two versions of a file leaf by leaf (see the module docs).
pub fn diff(old: &Version, new: &Version) -> Result<Diff> {
    let multi = old.stored.len() > 1 || new.stored.len() > 1;
    let old_leaves = leaves_of(old, multi)?;
    let new_leaves = leaves_of(new, multi)?;
    let old_keys = unique_keys(&old_leaves);
    let new_keys = unique_keys(&new_leaves);
    let old_index: HashMap<&str, usize> = old_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let new_set: HashSet<&str> = new_keys.iter().map(String::as_str).collect();

    // Walk the new version in order; old leaves that are gone are reported where they stood,
    // before the leaves added in the same place (like a unified diff: `-` before `+`).
    let mut changes = Vec::new();
    let mut added: Vec<Change> = Vec::new();
    let mut next_old = 0;
    let flush =
        |upto: usize, next_old: &mut usize, added: &mut Vec<Change>, out: &mut Vec<Change>| {
            while *next_old < upto {
                let i = *next_old;
                if !new_set.contains(old_keys[i].as_str()) {
                    out.push(Change {
                        path: old_leaves[i].path.clone(),
                        kind: ChangeKind::Removed,
                        old: Some(old_leaves[i].clone()),
                        new: None,
                    });
                }
                *next_old += 1;
            }
            out.append(added);
        };
    for (j, n) in new_leaves.iter().enumerate() {
        match old_index.get(new_keys[j].as_str()) {
            Some(&i) => {
                flush(i, &mut next_old, &mut added, &mut changes);
                next_old = next_old.max(i + 1);
                let o = &old_leaves[i];
                if let Some(known) = compare(o, n) {
                    changes.push(Change {
                        path: n.path.clone(),
                        kind: ChangeKind::Changed { known },
                        old: Some(o.clone()),
                        new: Some(n.clone()),
                    });
                }
            }
            None => added.push(Change {
                path: n.path.clone(),
                kind: ChangeKind::Added,
                old: None,
                new: Some(n.clone()),
            }),
        }
    }
    flush(old_leaves.len(), &mut next_old, &mut added, &mut changes);

    Ok(Diff {
        changes,
        metadata: metadata_changes(old.metadata, new.metadata),
    })
}

/// `None` when equal; `Some(known)` when different.
fn compare(o: &Leaf, n: &Leaf) -> Option<bool> {
    match (&o.plain, &n.plain) {
        (Some(a), Some(b)) => (!same_value(a, b)).then_some(true),
        _ => {
            if same_value(&o.stored, &n.stored) {
                None
            } else {
                Some(!(o.is_encrypted() || n.is_encrypted()))
            }
        }
    }
}

/// Typed equality of two leaves: same sops type and same plaintext bytes (so `NaN` equals itself and
/// `5` differs from `"5"`).
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (plaintext_of(a), plaintext_of(b)) {
        (Some((pa, ta)), Some((pb, tb))) => ta == tb && pa == pb,
        (None, None) => match (a, b) {
            (Value::Null, Value::Null) => true,
            (Value::Map(x), Value::Map(y)) => x.is_empty() && y.is_empty(),
            (Value::Seq(x), Value::Seq(y)) => x.is_empty() && y.is_empty(),
            _ => false,
        },
        _ => false,
    }
}

/// Paths made unique: a repeated path (duplicate keys) gets its occurrence number appended.
fn unique_keys(leaves: &[Leaf]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    leaves
        .iter()
        .map(|l| {
            let n = seen.entry(l.path.as_str()).or_insert(0);
            *n += 1;
            if *n == 1 {
                l.path.clone()
            } else {
                format!("{}\u{0}{n}", l.path)
            }
        })
        .collect()
}

/// The leaves of a version in document order, with plaintext when the version has it. `multi` puts
/// the document index in front of every path.
pub fn leaves_of(v: &Version, multi: bool) -> Result<Vec<Leaf>> {
    let stored = flatten(v.stored, multi);
    let Some(plain_docs) = v.plain else {
        return Ok(stored
            .into_iter()
            .map(|(path, stored)| Leaf {
                path,
                stored,
                plain: None,
            })
            .collect());
    };
    let plain = flatten(plain_docs, multi);
    if plain.len() != stored.len() || plain.iter().zip(&stored).any(|(p, s)| p.0 != s.0) {
        return Err(SopsError::ShapeMismatch);
    }
    Ok(stored
        .into_iter()
        .zip(plain)
        .map(|((path, stored), (_, plain))| Leaf {
            path,
            stored,
            plain: Some(plain),
        })
        .collect())
}

fn flatten(docs: &[Branch], multi: bool) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let prefix = if multi {
            format!("[{i}] ")
        } else {
            String::new()
        };
        flatten_branch(doc, &prefix, true, &mut out);
    }
    out
}

fn flatten_branch(b: &Branch, path: &str, top: bool, out: &mut Vec<(String, Value)>) {
    for item in b {
        if let Item::Pair(k, v) = item {
            let p = format!("{path}{}", key_segment(k, top));
            flatten_value(v, &p, out);
        }
    }
}

fn flatten_value(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Comment(_) => {}
        Value::Map(m) if m.iter().any(|i| matches!(i, Item::Pair(..))) => {
            flatten_branch(m, path, false, out)
        }
        Value::Seq(s) if s.iter().any(|e| !matches!(e, Value::Comment(_))) => {
            for (i, e) in s
                .iter()
                .filter(|e| !matches!(e, Value::Comment(_)))
                .enumerate()
            {
                flatten_value(e, &format!("{path}[{i}]"), out);
            }
        }
        Value::Map(_) => out.push((path.to_string(), Value::Map(Vec::new()))),
        Value::Seq(_) => out.push((path.to_string(), Value::Seq(Vec::new()))),
        leaf => out.push((path.to_string(), leaf.clone())),
    }
}

/// `.key` for identifier-like keys (`key` at the top), else `["quoted key"]`.
pub fn key_segment(k: &str, top: bool) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if top {
            k.to_string()
        } else {
            format!(".{k}")
        }
    } else {
        format!("[{}]", quote(k))
    }
}

/// A string as a JSON string literal (one line, unambiguous).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// Renders a value on one line: strings JSON-quoted, numbers and booleans as sops writes them,
/// `null`, `{}`, `[]`, raw bytes as `base64:…`. Used for values that may be shown.
pub fn render_value(v: &Value) -> String {
    use base64::Engine;
    match v {
        Value::Str(s) => quote(s),
        Value::Bytes(b) => format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        Value::Time(t) => t.clone(),
        Value::Null => "null".into(),
        Value::Map(_) => "{}".into(),
        Value::Seq(_) => "[]".into(),
        other => match plaintext_of(other) {
            Some((bytes, "bool")) => {
                if bytes.as_slice() == b"True" {
                    "true".into()
                } else {
                    "false".into()
                }
            }
            Some((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
            None => String::new(),
        },
    }
}

/// The metadata as `(path, value)` lines: recipients of every group, the rule, threshold and MAC
/// mode; with `volatile`, also `lastmodified` and `version`. Wrapped keys and the MAC are left out.
pub fn metadata_lines(md: &Metadata, volatile: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let single = md.key_groups.len() == 1;
    for (gi, group) in md.key_groups.iter().enumerate() {
        let prefix = if single {
            "sops".to_string()
        } else {
            format!("sops.key_groups[{gi}]")
        };
        for k in group {
            let id = match k {
                KeyEntry::Other { .. } => k
                    .describe()
                    .split_once(' ')
                    .map_or_else(|| k.describe(), |(_, id)| id.to_string()),
                _ => k.describe(),
            };
            out.push((format!("{prefix}.{}", k.kind()), id));
        }
    }
    let (rule, value) = md.rule.field();
    out.push((format!("sops.{rule}"), value.to_string()));
    if md.shamir_threshold > 0 {
        out.push((
            "sops.shamir_threshold".into(),
            md.shamir_threshold.to_string(),
        ));
    }
    if md.mac_only_encrypted {
        out.push(("sops.mac_only_encrypted".into(), "true".into()));
    }
    if volatile {
        out.push(("sops.lastmodified".into(), md.lastmodified.clone()));
        out.push(("sops.version".into(), md.version.clone()));
    }
    out
}

fn metadata_changes(old: &Metadata, new: &Metadata) -> Vec<MetaChange> {
    let o = metadata_lines(old, false);
    let n = metadata_lines(new, false);
    let os: BTreeSet<&(String, String)> = o.iter().collect();
    let ns: BTreeSet<&(String, String)> = n.iter().collect();
    let mut out: Vec<MetaChange> = o
        .iter()
        .filter(|l| !ns.contains(l))
        .map(|(p, v)| MetaChange {
            added: false,
            path: p.clone(),
            value: v.clone(),
        })
        .collect();
    out.extend(
        n.iter()
            .filter(|l| !os.contains(l))
            .map(|(p, v)| MetaChange {
                added: true,
                path: p.clone(),
                value: v.clone(),
            }),
    );
    out
}

/// `enc:` and the first 8 hex digits of the SHA-256 of an `ENC[...]` string: stable for unchanged
/// (stable-ciphertext) values, and reveals nothing the ciphertext does not.
pub fn ciphertext_fingerprint(enc: &str) -> String {
    let h = Sha256::digest(enc.as_bytes());
    format!("enc:{}", &hex::encode(h)[..8])
}

/// HMAC-SHA256 (RFC 2104), from the RustCrypto `hmac` crate.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Keyed digests of plaintext values for display: `hmac:` and 8 hex digits of
/// HMAC-SHA256(K, path ‖ 0 ‖ type ‖ 0 ‖ plaintext), with K = HMAC-SHA256(data key, a fixed label).
/// The same value at the same path gives the same digest while the data key stays the same; without
/// the data key a digest cannot be checked against guesses.
pub struct ValueDigester {
    key: Zeroizing<[u8; 32]>,
}

impl ValueDigester {
    const LABEL: &'static [u8] = b"kubectl-sops textconv value digest v1";

    /// A digester for the file sealed with `data_key`.
    pub fn new(data_key: &DataKey) -> Self {
        ValueDigester {
            key: Zeroizing::new(hmac_sha256(data_key.as_bytes(), Self::LABEL)),
        }
    }

    /// The digest of the value at `path`.
    pub fn digest(&self, path: &str, v: &Value) -> String {
        let mut msg = Zeroizing::new(Vec::new());
        msg.extend_from_slice(path.as_bytes());
        msg.push(0);
        match plaintext_of(v) {
            Some((bytes, t)) => {
                msg.extend_from_slice(t.as_bytes());
                msg.push(0);
                msg.extend_from_slice(&bytes);
            }
            None => msg.extend_from_slice(render_value(v).as_bytes()),
        }
        format!(
            "hmac:{}",
            &hex::encode(hmac_sha256(self.key.as_ref(), &msg))[..8]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::Cipher;
    use crate::metadata::EncryptionRule;
    use crate::rules::Rules;
    use crate::walk::{encrypt_docs, WalkSettings};

    use crate::tree::build::{pair, s};

    fn doc(password: &str, extra: Option<(&str, &str)>) -> Branch {
        let mut data = vec![pair("password", s(password)), pair("user", s("app"))];
        if let Some((k, v)) = extra {
            data.push(pair(k, s(v)));
        }
        vec![
            pair("kind", s("Secret")),
            pair(
                "metadata",
                Value::Map(vec![
                    Item::Comment(crate::tree::Comment::line(" c")),
                    pair("name", s("db")),
                ]),
            ),
            pair("data", Value::Map(data)),
        ]
    }

    fn metadata(recipients: &[&str]) -> Metadata {
        Metadata {
            key_groups: vec![recipients
                .iter()
                .map(|r| KeyEntry::Age {
                    recipient: r.to_string(),
                    enc: format!("wrapped-{r}"),
                })
                .collect()],
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac: "ENC[...]".into(),
            rule: EncryptionRule::EncryptedRegex("^data$".into()),
            version: "3.13.2".into(),
            ..Default::default()
        }
    }

    /// Encrypts with a cipher (keep the cipher to get stable ciphertext for unchanged values).
    fn encrypt(plain: &Branch, cipher: &mut Cipher) -> Vec<Branch> {
        let rules = Rules::new(&EncryptionRule::EncryptedRegex("^data$".into())).unwrap();
        let settings = WalkSettings {
            rules: &rules,
            mac_only_encrypted: false,
        };
        let mut docs = vec![plain.clone()];
        encrypt_docs(&mut docs, &settings, cipher).unwrap();
        docs
    }

    fn paths(d: &Diff) -> Vec<(String, ChangeKind)> {
        d.changes.iter().map(|c| (c.path.clone(), c.kind)).collect()
    }

    #[test]
    fn paths_are_readable() {
        let d = vec![
            pair("a", Value::Map(vec![pair("tls.crt", s("x"))])),
            pair(
                "list",
                Value::Seq(vec![
                    Value::Comment(crate::tree::Comment::line("c")),
                    Value::Int(1),
                    Value::Map(vec![pair("name", s("n"))]),
                    Value::Seq(vec![]),
                ]),
            ),
            pair("odd key", Value::Null),
            pair("empty", Value::Map(vec![])),
        ];
        let got: Vec<String> = flatten(std::slice::from_ref(&d), false)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            got,
            [
                "a[\"tls.crt\"]",
                "list[0]",
                "list[1].name",
                "list[2]",
                "[\"odd key\"]",
                "empty"
            ]
        );
        let multi: Vec<String> = flatten(&[d.clone(), d], true)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(multi[6], "[1] a[\"tls.crt\"]");
    }

    #[test]
    fn with_keys_only_real_changes() {
        let key = DataKey::generate();
        let old_plain = doc("hunter2", Some(("old", "gone")));
        let new_plain = doc("hunter3", Some(("token", "t0k")));
        let old = encrypt(&old_plain, &mut Cipher::new(&key));
        // a fresh cipher: every value gets a new IV (like `sops encrypt`), so all ciphertexts differ
        let new = encrypt(&new_plain, &mut Cipher::new(&key));
        let md = metadata(&["age1a"]);
        let d = diff(
            &Version {
                stored: &old,
                metadata: &md,
                plain: Some(std::slice::from_ref(&old_plain)),
            },
            &Version {
                stored: &new,
                metadata: &md,
                plain: Some(std::slice::from_ref(&new_plain)),
            },
        )
        .unwrap();
        assert_eq!(
            paths(&d),
            [
                ("data.password".into(), ChangeKind::Changed { known: true }),
                ("data.old".into(), ChangeKind::Removed),
                ("data.token".into(), ChangeKind::Added),
            ]
        );
        assert!(d.metadata.is_empty());
    }

    #[test]
    fn reencrypted_is_no_change_with_keys_and_unknown_without() {
        let key = DataKey::generate();
        let p = doc("hunter2", None);
        let a = encrypt(&p, &mut Cipher::new(&key));
        let b = encrypt(&p, &mut Cipher::new(&key));
        assert_ne!(a, b);
        let md = metadata(&["age1a"]);
        let with = |plain: bool| {
            let ps = std::slice::from_ref(&p);
            diff(
                &Version {
                    stored: &a,
                    metadata: &md,
                    plain: plain.then_some(ps),
                },
                &Version {
                    stored: &b,
                    metadata: &md,
                    plain: plain.then_some(ps),
                },
            )
            .unwrap()
        };
        assert!(with(true).is_empty());
        assert_eq!(
            paths(&with(false)),
            [
                ("data.password".into(), ChangeKind::Changed { known: false }),
                ("data.user".into(), ChangeKind::Changed { known: false }),
            ]
        );
    }

    #[test]
    fn stable_ciphertext_without_keys_is_exact() {
        let key = DataKey::generate();
        let mut cipher = Cipher::new(&key);
        let old_plain = doc("hunter2", None);
        let old = encrypt(&old_plain, &mut cipher);
        // decrypting fills the IV stash, as `seal --output` does with the previous version
        let rules = Rules::new(&EncryptionRule::EncryptedRegex("^data$".into())).unwrap();
        let settings = WalkSettings {
            rules: &rules,
            mac_only_encrypted: false,
        };
        let mut stash = Cipher::new(&key);
        crate::walk::decrypt_docs(&mut old.clone(), &settings, &mut stash).unwrap();
        let mut new_plain = doc("hunter3", Some(("token", "x")));
        if let Item::Pair(_, Value::Map(m)) = &mut new_plain[1] {
            m.push(pair("name2", s("clear")));
        }
        let new = encrypt(&new_plain, &mut stash);
        let old_md = metadata(&["age1a"]);
        let new_md = metadata(&["age1a", "age1b"]);
        let d = diff(
            &Version {
                stored: &old,
                metadata: &old_md,
                plain: None,
            },
            &Version {
                stored: &new,
                metadata: &new_md,
                plain: None,
            },
        )
        .unwrap();
        assert_eq!(
            paths(&d),
            [
                ("metadata.name2".into(), ChangeKind::Added),
                ("data.password".into(), ChangeKind::Changed { known: false }),
                ("data.token".into(), ChangeKind::Added),
            ]
        );
        assert_eq!(
            d.metadata,
            [MetaChange {
                added: true,
                path: "sops.age".into(),
                value: "age1b".into()
            }]
        );
    }

    #[test]
    fn clear_values_compare_directly_and_types_matter() {
        let md = metadata(&["age1a"]);
        let a = vec![vec![
            pair("n", Value::Int(5)),
            pair("f", Value::Float(f64::NAN)),
        ]];
        let b = vec![vec![pair("n", s("5")), pair("f", Value::Float(f64::NAN))]];
        let d = diff(
            &Version {
                stored: &a,
                metadata: &md,
                plain: None,
            },
            &Version {
                stored: &b,
                metadata: &md,
                plain: None,
            },
        )
        .unwrap();
        assert_eq!(
            paths(&d),
            [("n".into(), ChangeKind::Changed { known: true })]
        );
    }

    #[test]
    fn metadata_changes_skip_rotation_and_dates() {
        let mut a = metadata(&["age1a", "age1b"]);
        let mut b = metadata(&["age1b", "age1c"]);
        b.lastmodified = "2025-01-01T00:00:00Z".into();
        b.mac = "other".into();
        let got = metadata_changes(&a, &b);
        assert_eq!(
            got.iter()
                .map(|c| (c.added, c.value.as_str()))
                .collect::<Vec<_>>(),
            [(false, "age1a"), (true, "age1c")]
        );
        // a rotated data key (all `enc` changed) is not a change
        a.key_groups[0] = b.key_groups[0].clone();
        if let KeyEntry::Age { enc, .. } = &mut a.key_groups[0][0] {
            *enc = "rotated".into();
        }
        assert!(metadata_changes(&a, &b).is_empty());
        a.rule = EncryptionRule::EncryptedRegex("^(data|stringData)$".into());
        assert_eq!(metadata_changes(&a, &b).len(), 2);
    }

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231 test case 2
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // test case 6: a key longer than the block
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn digests_are_keyed_and_typed() {
        let k1 = ValueDigester::new(&DataKey::generate());
        let k2 = ValueDigester::new(&DataKey::generate());
        let v = s("hunter2");
        assert_eq!(k1.digest("a", &v), k1.digest("a", &v));
        assert_ne!(k1.digest("a", &v), k2.digest("a", &v));
        assert_ne!(k1.digest("a", &v), k1.digest("b", &v));
        assert_ne!(k1.digest("a", &s("5")), k1.digest("a", &Value::Int(5)));
        assert!(k1.digest("a", &v).starts_with("hmac:"));
        assert_eq!(k1.digest("a", &v).len(), 13);
        let f = ciphertext_fingerprint("ENC[AES256_GCM,data:x]");
        assert_eq!(f.len(), 12);
        assert!(f.starts_with("enc:"));
    }

    #[test]
    fn debug_never_shows_plaintext() {
        let l = Leaf {
            path: "data.password".into(),
            stored: s("ENC[AES256_GCM,data:abc]"),
            plain: Some(s("hunter2")),
        };
        assert!(!format!("{l:?}").contains("hunter2"));
    }

    #[test]
    fn values_render_on_one_line() {
        assert_eq!(render_value(&s("a\nb")), "\"a\\nb\"");
        assert_eq!(render_value(&Value::Bool(true)), "true");
        assert_eq!(render_value(&Value::Int(-3)), "-3");
        assert_eq!(render_value(&Value::Float(0.25)), "0.25");
        assert_eq!(render_value(&Value::Null), "null");
        assert_eq!(render_value(&Value::Bytes(vec![0xff])), "base64:/w==");
    }
}
