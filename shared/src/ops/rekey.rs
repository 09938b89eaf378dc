//! Rekeying an encrypted file without touching its values (`sops updatekeys`), rotating its data key
//! (`sops rotate`), and the checks `kubectl-sops check` runs (MAC, recipients, plaintext Secrets).
//!
//! # Rekey keeps the values byte-identical
//!
//! The data key does not change, so no value, no `lastmodified` and no `mac` changes either: only the
//! key entries of the metadata are rewritten. With one key group before and after, the entries of
//! recipients that stay are kept as they are (same armored blob), the entries of removed recipients
//! are dropped, and the data key is wrapped for the added ones only; so removing a recipient needs no
//! key at all. When Shamir groups are involved (several groups before or after), the data key is split
//! again and every entry is rewrapped, as sops does. A removed recipient that kept a copy of the old
//! file still knows the data key: use [`rotate`] to lock it out of future versions.
//!
//! # Rotate
//!
//! A new data key, every value decrypted (MAC checked) and re-encrypted under it. Like sops, every
//! value keeps its IV (the new key makes every `data`/`tag` change), and `lastmodified` and `mac` are
//! new.

use std::collections::BTreeSet;

use crate::cipher::{Cipher, DataKey};
use crate::config::CreationRule;
use crate::error::{Result, SopsError};
use crate::file::{decrypt_verified, reseal, wrap_for_groups, Opened, SealSpec};
use crate::keys::pgp::normalize_fingerprint;
use crate::keys::{recipient_groups, KeyRing, Recipient};
use crate::metadata::{effective_threshold, KeyEntry, KeyGroup, Metadata};
use crate::tree::{Branch, Item, Value};

/// The key groups a file should have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// age and PGP recipients per group.
    pub groups: Vec<Vec<Recipient>>,
    /// Metadata kinds this tool cannot write (`kms`, `gcp_kms`, …) whose existing entries are kept.
    pub keep_kinds: BTreeSet<String>,
}

/// The metadata kind of a `.sops.yaml` key field (`azure_keyvault` → `azure_kv`, …).
pub(crate) fn kind_of_config_field(field: &str) -> &str {
    match field {
        "azure_keyvault" => "azure_kv",
        "hc_vault_transit_uri" => "hc_vault",
        other => other,
    }
}

impl Target {
    /// The key groups a creation rule asks for. Entries of key kinds the rule names but this tool
    /// cannot write are kept as they are in the file.
    pub fn from_rule(rule: &CreationRule) -> Self {
        Target {
            groups: rule.key_groups.clone(),
            keep_kinds: rule
                .unsupported_keys
                .iter()
                .map(|f| kind_of_config_field(f).to_string())
                .collect(),
        }
    }

    /// The key groups the file has now (all entries of other kinds kept).
    pub fn from_metadata(md: &Metadata) -> Self {
        Target {
            groups: recipient_groups(md),
            keep_kinds: md
                .all_keys()
                .filter(|k| matches!(k, KeyEntry::Other { .. }))
                .map(|k| k.kind().to_string())
                .collect(),
        }
    }

    /// Adds a recipient to the first group (like `sops rotate --add-age`), unless it is already there.
    pub fn add(&mut self, r: Recipient) {
        if self.groups.is_empty() {
            self.groups.push(Vec::new());
        }
        if !self.groups[0].iter().any(|x| same_key(x, &r)) {
            self.groups[0].push(r);
        }
    }

    /// Removes a recipient from every group (like `sops rotate --rm-age`). An Azure key named
    /// without a version removes every version of it.
    pub fn remove(&mut self, r: &Recipient) {
        for g in &mut self.groups {
            g.retain(|x| !same_key(x, r));
        }
    }

    /// The target with every Azure key named without a version pinned to the version the file
    /// already uses for it (sops looks the current version up; the file's is what it has wrapped).
    fn with_azure_versions_of(&self, md: &Metadata) -> Target {
        let mut t = self.clone();
        for r in t.groups.iter_mut().flatten() {
            let Recipient::AzureKv(k) = r else { continue };
            if !k.version.is_empty() {
                continue;
            }
            if let Some(KeyEntry::AzureKv(e)) = md.all_keys().find(|e| {
                matches!(e, KeyEntry::AzureKv(e) if e.vault_url == k.vault_url && e.name == k.name)
            }) {
                k.version = e.version.clone();
            }
        }
        t
    }
}

/// Whether `x` is the key `r` names (an Azure key without a version names all its versions).
fn same_key(x: &Recipient, r: &Recipient) -> bool {
    match (x, r) {
        (Recipient::AzureKv(a), Recipient::AzureKv(b)) if b.version.is_empty() => {
            a.vault_url == b.vault_url && a.name == b.name
        }
        _ => recipient_id(x) == recipient_id(r),
    }
}

/// How a recipient is compared: kind plus the recipient, PGP fingerprints normalized, KMS keys by
/// sops' `ARN[+ROLE][|context[|profile]]` (what sops' `--rm-kms` matches).
fn recipient_id(r: &Recipient) -> (&'static str, String) {
    match r {
        Recipient::Age(a) => ("age", a.trim().to_string()),
        Recipient::Pgp(fp) => ("pgp", normalize_fingerprint(fp)),
        Recipient::Kms(k) => ("kms", k.to_sops_string()),
        Recipient::HcVault(uri) => ("hc_vault", uri.clone()),
        Recipient::GcpKms(id) => ("gcp_kms", id.clone()),
        Recipient::AzureKv(k) => ("azure_kv", k.url()),
    }
}

fn entry_id(e: &KeyEntry) -> Option<(&'static str, String)> {
    Recipient::of_entry(e).map(|r| recipient_id(&r))
}

/// The changes to one key group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupDiff {
    /// Keys in the group before and after.
    pub common: Vec<String>,
    /// Keys that gain access.
    pub added: Vec<String>,
    /// Keys that lose access.
    pub removed: Vec<String>,
}

/// What rekeying a file will do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// One diff per group index (old or new, whichever has more groups).
    pub diffs: Vec<GroupDiff>,
    /// The Shamir threshold as the file has it (0 = not set).
    pub old_threshold: usize,
    /// The Shamir threshold to write (0 for a single group).
    pub new_threshold: usize,
    target: Target,
}

impl Plan {
    /// True when a recipient is added or removed, or the threshold changes.
    pub fn changes(&self) -> bool {
        self.old_threshold != self.new_threshold
            || self
                .diffs
                .iter()
                .any(|d| !d.added.is_empty() || !d.removed.is_empty())
    }

    /// A one-line summary: `+age1…, -age1…, shamir_threshold 2→1`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for d in &self.diffs {
            parts.extend(d.added.iter().map(|k| format!("+{k}")));
        }
        for d in &self.diffs {
            parts.extend(d.removed.iter().map(|k| format!("-{k}")));
        }
        if self.old_threshold != self.new_threshold {
            parts.push(format!(
                "shamir_threshold {}→{}",
                self.old_threshold, self.new_threshold
            ));
        }
        parts.join(", ")
    }

    /// The diff of key groups as `sops updatekeys` prints it before asking.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        if self.old_threshold > 0 && self.old_threshold == self.new_threshold {
            out.push_str(&format!("shamir_threshold: {}\n", self.new_threshold));
        } else {
            if self.new_threshold > 0 {
                out.push_str(&format!("+++ shamir_threshold: {}\n", self.new_threshold));
            }
            if self.old_threshold > 0 {
                out.push_str(&format!("--- shamir_threshold: {}\n", self.old_threshold));
            }
        }
        for (i, d) in self.diffs.iter().enumerate() {
            out.push_str(&format!("Group {}\n", i + 1));
            for k in &d.common {
                out.push_str(&format!("    {k}\n"));
            }
            for k in &d.added {
                out.push_str(&format!("+++ {k}\n"));
            }
            for k in &d.removed {
                out.push_str(&format!("--- {k}\n"));
            }
        }
        out
    }

    /// The target this plan was made for.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// Entries of other kinds that group `i` keeps.
fn kept_others<'a>(md: &'a Metadata, target: &'a Target, i: usize) -> Vec<&'a KeyEntry> {
    if i >= target.groups.len() {
        return Vec::new();
    }
    md.key_groups
        .get(i)
        .map(|g| {
            g.iter()
                .filter(|e| {
                    matches!(e, KeyEntry::Other { .. }) && target.keep_kinds.contains(e.kind())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares the file's key groups with a target. The threshold follows `sops updatekeys`: the file's
/// own (or `threshold_flag`), capped at the number of target groups.
pub fn plan(md: &Metadata, target: &Target, threshold_flag: Option<usize>) -> Result<Plan> {
    let target = &target.with_azure_versions_of(md);
    for kind in &target.keep_kinds {
        if !md.all_keys().any(|e| e.kind() == kind) {
            return Err(SopsError::Unsupported(format!(
                "the creation rule names {kind} keys, which this tool cannot add (the file has none); use sops updatekeys"
            )));
        }
    }
    let n = md.key_groups.len().max(target.groups.len());
    let mut diffs = Vec::with_capacity(n);
    for i in 0..n {
        let old: &[KeyEntry] = md.key_groups.get(i).map_or(&[], |g| g.as_slice());
        let new: &[Recipient] = target.groups.get(i).map_or(&[], |g| g.as_slice());
        let others = kept_others(md, target, i);
        if i < target.groups.len() && new.is_empty() && others.is_empty() {
            return Err(SopsError::NoEncryptionKey(format!(
                "key group {} would have no keys left",
                i + 1
            )));
        }
        let new_ids: Vec<_> = new.iter().map(recipient_id).collect();
        let mut d = GroupDiff::default();
        for (r, id) in new.iter().zip(&new_ids) {
            if old.iter().any(|e| entry_id(e).as_ref() == Some(id)) {
                d.common.push(r.id().to_string());
            } else {
                d.added.push(r.id().to_string());
            }
        }
        for e in old {
            match entry_id(e) {
                Some(id) if new_ids.contains(&id) => {}
                Some(_) => d.removed.push(e.describe()),
                None if others.iter().any(|o| std::ptr::eq(*o, e)) => d.common.push(e.describe()),
                None => d.removed.push(e.describe()),
            }
        }
        diffs.push(d);
    }
    if target.groups.is_empty() {
        return Err(SopsError::NoEncryptionKey(
            "no keys left to encrypt the data key for".into(),
        ));
    }
    let groups = target.groups.len();
    let wanted = threshold_flag.unwrap_or(md.shamir_threshold).min(groups);
    Ok(Plan {
        diffs,
        old_threshold: effective_threshold(md.shamir_threshold, md.key_groups.len()),
        new_threshold: effective_threshold(wanted, groups),
        target: target.clone(),
    })
}

/// The metadata after rekeying: same data key, `lastmodified` and `mac`; new key entries. The data key
/// is only recovered (with `keys`) when something has to be wrapped.
pub fn rekey_metadata(md: &Metadata, plan: &Plan, keys: &KeyRing) -> Result<Metadata> {
    let target = &plan.target;
    let key_groups = if md.key_groups.len() == 1 && target.groups.len() == 1 {
        let old = &md.key_groups[0];
        let mut data_key: Option<DataKey> = None;
        let mut group: KeyGroup = Vec::with_capacity(target.groups[0].len());
        for r in &target.groups[0] {
            let id = recipient_id(r);
            match old.iter().find(|e| entry_id(e).as_ref() == Some(&id)) {
                Some(e) => group.push(e.clone()),
                None => {
                    if data_key.is_none() {
                        data_key = Some(keys.data_key(md)?);
                    }
                    let dk = data_key.as_ref().expect("set above");
                    group.push(keys.wrap(r, dk.as_bytes())?);
                }
            }
        }
        group.extend(kept_others(md, target, 0).into_iter().cloned());
        vec![group]
    } else {
        refuse_unwrappable(md, target, |others| {
            format!("the key groups must be split again, but {others} cannot be rewrapped by this tool; use sops updatekeys")
        })?;
        let data_key = keys.data_key(md)?;
        wrap_for_groups(&data_key, &spec_for(plan), keys)?
    };
    Ok(Metadata {
        key_groups,
        shamir_threshold: plan.new_threshold,
        ..md.clone()
    })
}

/// Fails with `message(the entries)` when `target` keeps entries of kinds this tool cannot wrap a
/// data key for, which a new data key or new key groups would need.
fn refuse_unwrappable(
    md: &Metadata,
    target: &Target,
    message: impl FnOnce(&str) -> String,
) -> Result<()> {
    let others: Vec<String> = (0..target.groups.len())
        .flat_map(|i| kept_others(md, target, i))
        .map(KeyEntry::describe)
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        Err(SopsError::Unsupported(message(&others.join(", "))))
    }
}

fn spec_for(plan: &Plan) -> SealSpec {
    SealSpec {
        groups: plan.target.groups.clone(),
        shamir_threshold: plan.new_threshold,
        ..Default::default()
    }
}

/// Decrypts encrypted documents with a known data key and checks the MAC (unless `ignore_mac`).
/// Returns the plaintext documents and the cipher holding every value's IV.
pub fn decrypt_with_key(
    docs: Vec<Branch>,
    md: &Metadata,
    data_key: &DataKey,
    ignore_mac: bool,
) -> Result<(Vec<Branch>, Cipher)> {
    decrypt_verified(docs, md, data_key, ignore_mac, true)
}

/// Rotates the data key: decrypts (MAC checked unless `ignore_mac`), wraps a new data key for the
/// plan's target groups and re-encrypts every value under it with the IV it had. Returns the new
/// encrypted documents and metadata (new `lastmodified` and `mac`).
pub fn rotate(
    docs: Vec<Branch>,
    md: &Metadata,
    plan: &Plan,
    keys: &KeyRing,
    ignore_mac: bool,
) -> Result<(Vec<Branch>, Metadata)> {
    refuse_unwrappable(md, &plan.target, |others| {
        format!("cannot rotate: the new data key cannot be wrapped for {others} by this tool; use sops rotate")
    })?;
    let old_key = keys.data_key(md)?;
    let (plain, old_cipher) = decrypt_with_key(docs, md, &old_key, ignore_mac)?;
    let new_key = DataKey::generate();
    let key_groups = wrap_for_groups(&new_key, &spec_for(plan), keys)?;
    let opened = Opened {
        docs: Vec::new(),
        metadata: Metadata {
            key_groups,
            shamir_threshold: plan.new_threshold,
            ..md.clone()
        },
        cipher: Cipher::with_stash_from(&new_key, &old_cipher),
        data_key: new_key,
    };
    reseal(opened, plain)
}

/// Key paths (`data:password`) of `data`/`stringData` values of Kubernetes Secret documents that are
/// not sops-encrypted. Empty strings and nulls do not count (sops leaves empty strings empty).
pub fn plaintext_secret_values(docs: &[Branch]) -> Vec<String> {
    let mut out = Vec::new();
    for doc in docs.iter().filter(|d| crate::k8s::is_secret(d)) {
        for item in doc {
            if let Item::Pair(k, v) = item {
                if k == "data" || k == "stringData" {
                    collect_plain(v, k.to_string(), &mut out);
                }
            }
        }
    }
    out
}

fn collect_plain(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::Null | Value::Comment(_) => {}
        Value::Str(s) if s.is_empty() || crate::cipher::is_encrypted(s) => {}
        Value::Map(m) => {
            for item in m {
                if let Item::Pair(k, v) = item {
                    collect_plain(v, format!("{path}:{k}"), out);
                }
            }
        }
        Value::Seq(s) => {
            for (i, v) in s.iter().enumerate() {
                collect_plain(v, format!("{path}:{i}"), out);
            }
        }
        _ => out.push(path),
    }
}

/// How a file's recipients differ from a target: `(missing, extra)` key names.
pub fn recipient_drift(md: &Metadata, target: &Target) -> (Vec<String>, Vec<String>) {
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    match plan(md, target, None) {
        Ok(p) => {
            for (i, d) in p.diffs.iter().enumerate() {
                let group = |k: &String| {
                    if p.diffs.len() > 1 {
                        format!("{k} (group {})", i + 1)
                    } else {
                        k.clone()
                    }
                };
                missing.extend(d.added.iter().map(group));
                extra.extend(d.removed.iter().map(group));
            }
        }
        Err(_) => {
            // The rule names kinds the file lacks (or leaves a group empty): report them as missing.
            for kind in &target.keep_kinds {
                if !md.all_keys().any(|e| e.kind() == kind) {
                    missing.push(format!("{kind} keys"));
                }
            }
            let have: BTreeSet<_> = md.all_keys().filter_map(entry_id).collect();
            let want: BTreeSet<_> = target.groups.iter().flatten().map(recipient_id).collect();
            missing.extend(want.difference(&have).map(|(_, id)| id.clone()));
            extra.extend(have.difference(&want).map(|(_, id)| id.clone()));
        }
    }
    (missing, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age_entry(r: &str) -> KeyEntry {
        KeyEntry::Age {
            recipient: r.into(),
            enc: format!("enc-of-{r}"),
        }
    }

    fn md(groups: Vec<KeyGroup>, t: usize) -> Metadata {
        Metadata {
            key_groups: groups,
            shamir_threshold: t,
            lastmodified: "2024-01-01T00:00:00Z".into(),
            mac: "ENC[x]".into(),
            version: "3.13.2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn azure_keys_without_version_match_the_files_version() {
        use crate::keys::azure_kv::AzureKey;
        let entry = KeyEntry::AzureKv(crate::metadata::AzureKvEntry {
            vault_url: "https://v.vault.azure.net".into(),
            name: "k".into(),
            version: "v1".into(),
            created_at: String::new(),
            enc: "x".into(),
        });
        let m = md(vec![vec![age_entry("age1a"), entry.clone()]], 0);
        let versionless =
            Recipient::AzureKv(AzureKey::from_url("https://v.vault.azure.net/keys/k").unwrap());
        let t = Target {
            groups: vec![vec![Recipient::Age("age1a".into()), versionless.clone()]],
            keep_kinds: BTreeSet::new(),
        };
        let p = plan(&m, &t, None).unwrap();
        assert!(!p.changes(), "{}", p.summary());
        // --rm-azure-kv without a version removes the entry of any version
        let mut t = Target::from_metadata(&m);
        t.remove(&versionless);
        assert_eq!(t.groups, vec![vec![Recipient::Age("age1a".into())]]);
        // and --add-azure-kv without a version does not add it twice
        let mut t = Target::from_metadata(&m);
        t.add(versionless);
        assert_eq!(t.groups[0].len(), 2);
    }

    #[test]
    fn plan_diffs_and_threshold() {
        let m = md(vec![vec![age_entry("age1a"), age_entry("age1b")]], 0);
        let mut t = Target::from_metadata(&m);
        assert!(!plan(&m, &t, None).unwrap().changes());
        t.add(Recipient::Age("age1c".into()));
        t.remove(&Recipient::Age("age1a".into()));
        let p = plan(&m, &t, None).unwrap();
        assert!(p.changes());
        assert_eq!(p.diffs[0].common, vec!["age1b"]);
        assert_eq!(p.diffs[0].added, vec!["age1c"]);
        assert_eq!(p.diffs[0].removed, vec!["age1a"]);
        assert_eq!(p.summary(), "+age1c, -age1a");
        // removing the last key is refused
        let mut empty = Target::from_metadata(&m);
        empty.remove(&Recipient::Age("age1a".into()));
        empty.remove(&Recipient::Age("age1b".into()));
        assert!(plan(&m, &empty, None).is_err());
        // three groups, threshold 2 → two groups keeps 2; one group drops it
        let m3 = md(
            vec![
                vec![age_entry("age1a")],
                vec![age_entry("age1b")],
                vec![age_entry("age1c")],
            ],
            2,
        );
        let mut t2 = Target::from_metadata(&m3);
        t2.groups.pop();
        let p = plan(&m3, &t2, None).unwrap();
        assert_eq!((p.old_threshold, p.new_threshold), (2, 2));
        assert_eq!(p.diffs[2].removed, vec!["age1c"]);
        t2.groups.pop();
        assert_eq!(plan(&m3, &t2, None).unwrap().new_threshold, 0);
    }

    #[test]
    fn removal_keeps_entries_and_needs_no_key() {
        let other = KeyEntry::Other {
            kind: "kms".into(),
            fields: vec![Item::Pair("arn".into(), Value::Str("arn:x".into()))],
        };
        let m = md(
            vec![vec![age_entry("age1a"), age_entry("age1b"), other.clone()]],
            0,
        );
        let mut t = Target::from_metadata(&m);
        t.remove(&Recipient::Age("age1b".into()));
        let p = plan(&m, &t, None).unwrap();
        let out = rekey_metadata(&m, &p, &KeyRing::default()).unwrap();
        assert_eq!(out.key_groups, vec![vec![age_entry("age1a"), other]]);
        assert_eq!((&out.mac, &out.lastmodified), (&m.mac, &m.lastmodified));
        // a rule that does not name kms drops the kms entry
        let rule = CreationRule {
            key_groups: vec![vec![Recipient::Age("age1a".into())]],
            ..Default::default()
        };
        let p = plan(&m, &Target::from_rule(&rule), None).unwrap();
        assert_eq!(p.diffs[0].removed, vec!["age1b", "kms arn:x"]);
    }

    #[test]
    fn plaintext_secret_detection() {
        let doc: Branch = vec![
            Item::Pair("apiVersion".into(), Value::Str("v1".into())),
            Item::Pair("kind".into(), Value::Str("Secret".into())),
            Item::Pair(
                "data".into(),
                Value::Map(vec![
                    Item::Pair(
                        "a".into(),
                        Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
                    ),
                    Item::Pair("b".into(), Value::Str("aHVudGVyMg==".into())),
                    Item::Pair("c".into(), Value::Str(String::new())),
                ]),
            ),
            Item::Pair(
                "stringData".into(),
                Value::Map(vec![Item::Pair("n".into(), Value::Int(3))]),
            ),
        ];
        assert_eq!(
            plaintext_secret_values(&[doc]),
            vec!["data:b", "stringData:n"]
        );
    }
}
