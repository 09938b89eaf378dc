//! `.sops.yaml`: found like sops finds it (from the working directory upward, or given explicitly),
//! its `creation_rules` matched against the target path, and its `stores` settings.

use std::path::{Component, Path, PathBuf};

use regex::Regex;

use crate::error::{Result, SopsError};
use crate::keys::aws_kms::KmsKey;
use crate::keys::azure_kv::{keys_from_list, AzureKey};
use crate::keys::hc_vault::VaultKey;
use crate::keys::pgp::normalize_fingerprint;
use crate::keys::{BadKeyId, Recipient};
use crate::metadata::EncryptionRule;
use crate::stores::{yaml::YamlStore, Store, StoreSettings};
use crate::tree::{get, Branch, Value};

/// The config file name sops looks for.
pub const CONFIG_FILE_NAME: &str = ".sops.yaml";

/// Why no `.sops.yaml` could be loaded, with sops' exit code ([`LoadConfigError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadConfigError {
    /// The explicitly given config file does not exist.
    #[error("config file not found: {0}")]
    NotFound(String),
    /// The config file could not be read or parsed.
    #[error("{0}")]
    Unreadable(SopsError),
}

impl LoadConfigError {
    /// sops' exit code: 61 for a missing explicit file, 5 for one that cannot be read.
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadConfigError::NotFound(_) => crate::error::exit::CONFIG_FILE_NOT_FOUND,
            LoadConfigError::Unreadable(_) => crate::error::exit::ERROR_READING_CONFIG,
        }
    }
}

/// The config of a run: `explicit` (a `--config` flag or `SOPS_CONFIG`, which must exist) when given,
/// else `.sops.yaml` searched from the working directory upward; `None` when there is none.
pub fn load_config(
    explicit: Option<&Path>,
) -> std::result::Result<Option<Config>, LoadConfigError> {
    let path = match explicit {
        Some(p) if !p.is_file() => return Err(LoadConfigError::NotFound(p.display().to_string())),
        Some(p) => p.to_path_buf(),
        None => match std::env::current_dir().ok().and_then(|d| find_config(&d)) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    Config::load(&path)
        .map(Some)
        .map_err(LoadConfigError::Unreadable)
}

/// The store for `format` with the `stores` settings of `config` (defaults without one).
pub fn store_with(format: crate::stores::Format, config: Option<&Config>) -> Box<dyn Store> {
    let default = StoreSettings::default();
    crate::stores::store_for(format, config.map_or(&default, |c| &c.stores))
}

/// Looks for `.sops.yaml` in `start` and up to 100 parent directories.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    for _ in 0..=100 {
        let d = dir?;
        let candidate = d.join(CONFIG_FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// One entry of `creation_rules`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreationRule {
    /// Regex searched in the file path (relative to the config directory); None matches every file.
    pub path_regex: Option<String>,
    /// Key groups; a rule with flat `age:`/`pgp:`/`kms:`/`hc_vault_transit_uri:` keys has one group.
    pub key_groups: Vec<Vec<Recipient>>,
    /// The rule lists its keys flat (not under `key_groups`): only then does sops give its KMS keys
    /// the `--encryption-context` of the command line (see [`CreationRule::with_encryption_context`]).
    pub flat: bool,
    /// Key kinds the rule names that this tool cannot use (gcp_kms, azure_keyvault, hckms).
    pub unsupported_keys: Vec<String>,
    /// Shamir threshold (0 = number of groups).
    pub shamir_threshold: usize,
    /// Which values are encrypted.
    pub rule: EncryptionRule,
    /// Only encrypted values enter the MAC.
    pub mac_only_encrypted: bool,
}

/// A parsed `.sops.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// `creation_rules` in order.
    pub creation_rules: Vec<CreationRule>,
    /// `stores` settings.
    pub stores: StoreSettings,
}

fn err(path: &Path, msg: impl std::fmt::Display) -> SopsError {
    SopsError::Config(format!("{}: {msg}", path.display()))
}

/// A comma separated string or a list of strings (sops accepts both for key lists).
fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Str(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str())
            .flat_map(|s| s.split(','))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn indent_of(stores: &Branch, name: &str) -> Option<usize> {
    match get(stores, name)
        .and_then(Value::as_map)
        .and_then(|m| get(m, "indent"))
    {
        Some(Value::Int(i)) if *i >= 0 => Some(*i as usize),
        _ => None,
    }
}

const UNSUPPORTED_KEY_FIELDS: [&str; 1] = ["hckms"];

/// The keys of one `key_groups` entry in sops' order (`extractMasterKeys`): the keys of its `merge`
/// entries first (recursively), then its own; duplicates dropped.
fn parse_key_group(
    m: &Branch,
    unsupported: &mut Vec<String>,
) -> std::result::Result<Vec<Recipient>, BadKeyId> {
    let mut group = Vec::new();
    if let Some(Value::Seq(merged)) = get(m, "merge") {
        for mm in merged.iter().filter_map(Value::as_map) {
            group.extend(parse_key_group(mm, unsupported)?);
        }
    }
    group.extend(parse_group(m, unsupported, true)?);
    let mut unique = Vec::with_capacity(group.len());
    for r in group {
        if !unique.contains(&r) {
            unique.push(r);
        }
    }
    Ok(unique)
}

/// The `kms` entries of a `key_groups` item: maps `{arn, role, context, aws_profile}` (a plain
/// `ARN[+ROLE]` string is accepted too).
fn key_group_kms(v: Option<&Value>) -> Vec<KmsKey> {
    let Some(Value::Seq(items)) = v else {
        return KmsKey::list(&string_list(v).join(","), &[], "");
    };
    let mut keys = Vec::new();
    for item in items {
        match item {
            Value::Map(km) => {
                let text = |k: &str| get(km, k).and_then(Value::as_str).unwrap_or("").to_string();
                let context: Vec<(String, String)> = match get(km, "context") {
                    Some(Value::Map(c)) => c
                        .iter()
                        .filter_map(|it| match it {
                            crate::tree::Item::Pair(k, v) => {
                                Some((k.to_string(), v.as_str()?.to_string()))
                            }
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let mut key = KmsKey::from_arn(&text("arn"), &context, &text("aws_profile"));
                let role = text("role");
                if !role.is_empty() {
                    key.role = role;
                }
                keys.push(key);
            }
            Value::Str(s) => keys.extend(KmsKey::list(s, &[], "")),
            _ => {}
        }
    }
    keys
}

/// The `gcp_kms` entries of a `key_groups` item: maps `{resource_id}` (plain strings accepted too).
fn key_group_gcp(v: Option<&Value>) -> Vec<String> {
    let Some(Value::Seq(items)) = v else {
        return string_list(v);
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Map(m) => get(m, "resource_id").and_then(Value::as_str),
            other => other.as_str(),
        })
        .map(crate::keys::gcp_kms::normalize_resource_id)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The `azure_keyvault` entries of a `key_groups` item: maps `{vaultUrl, key, version}` (key
/// URLs accepted too).
fn key_group_azure(v: Option<&Value>) -> std::result::Result<Vec<AzureKey>, BadKeyId> {
    let Some(Value::Seq(items)) = v else {
        return keys_from_list(&string_list(v).join(","));
    };
    let mut keys = Vec::new();
    for item in items {
        match item {
            Value::Map(m) => {
                let text = |k: &str| get(m, k).and_then(Value::as_str).unwrap_or("").to_string();
                keys.push(AzureKey::new(
                    &text("vaultUrl"),
                    &text("key"),
                    &text("version"),
                )?);
            }
            other => {
                if let Some(s) = other.as_str() {
                    keys.extend(keys_from_list(s)?);
                }
            }
        }
    }
    Ok(keys)
}

/// The keys a map names directly, in sops' order (age, PGP, KMS, GCP KMS, Azure, Vault; duplicates dropped); the
/// key kinds this tool cannot use are added to `unsupported`. In a `key_groups` item KMS keys are
/// maps and Vault URIs sit under `hc_vault`; in a flat rule they are `kms` (+ `aws_profile`) and
/// `hc_vault_transit_uri`.
fn parse_group(
    m: &Branch,
    unsupported: &mut Vec<String>,
    in_key_group: bool,
) -> std::result::Result<Vec<Recipient>, BadKeyId> {
    let mut group = Vec::new();
    let ages = string_list(get(m, "age")).into_iter().map(Recipient::Age);
    let pgps = string_list(get(m, "pgp"))
        .into_iter()
        .map(|fp| Recipient::Pgp(normalize_fingerprint(&fp)));
    let (kms, gcp, azure, vault) = if in_key_group {
        (
            key_group_kms(get(m, "kms")),
            key_group_gcp(get(m, "gcp_kms")),
            key_group_azure(get(m, "azure_keyvault")),
            string_list(get(m, "hc_vault")),
        )
    } else {
        let profile = get(m, "aws_profile").and_then(Value::as_str).unwrap_or("");
        (
            KmsKey::list(&string_list(get(m, "kms")).join(","), &[], profile),
            crate::keys::gcp_kms::ids_from_list(&string_list(get(m, "gcp_kms")).join(",")),
            keys_from_list(&string_list(get(m, "azure_keyvault")).join(",")),
            string_list(get(m, "hc_vault_transit_uri")),
        )
    };
    let azure = azure.map_err(|e| BadKeyId(format!("invalid azure_keyvault key: {e}")))?;
    let gcp = gcp
        .into_iter()
        .map(|id| {
            crate::keys::gcp_kms::check_resource_id(&id)
                .map(|()| Recipient::GcpKms(id))
                .map_err(|e| BadKeyId(format!("invalid gcp_kms key: {e}")))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let vault = vault
        .iter()
        .map(|u| {
            VaultKey::from_uri(u)
                .map(|k| Recipient::HcVault(k.uri()))
                .map_err(|e| BadKeyId(format!("invalid Vault transit key {u:?}: {e}")))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for r in ages
        .chain(pgps)
        .chain(kms.into_iter().map(Recipient::Kms))
        .chain(gcp)
        .chain(azure.into_iter().map(Recipient::AzureKv))
        .chain(vault)
    {
        if !group.contains(&r) {
            group.push(r);
        }
    }
    for f in UNSUPPORTED_KEY_FIELDS {
        match get(m, f) {
            None | Some(Value::Null) => {}
            Some(Value::Str(s)) if s.is_empty() => {}
            Some(Value::Seq(s)) if s.is_empty() => {}
            Some(_) => unsupported.push(f.to_string()),
        }
    }
    Ok(group)
}

/// The absolute, lexically cleaned form of a path, like Go's `filepath.Abs` (which sops applies to
/// both the file and the config directory before matching `path_regex`): `.` and `..` components are
/// resolved without looking at the file system.
fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                } // `..` at the root stays at the root
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl CreationRule {
    /// The rule with `context` (`--encryption-context`) given to the KMS keys of a flat rule, as
    /// sops does; keys under `key_groups` keep their own `context`.
    pub fn with_encryption_context(mut self, context: &[(String, String)]) -> Self {
        if self.flat && !context.is_empty() {
            for r in self.key_groups.iter_mut().flatten() {
                if let Recipient::Kms(k) = r {
                    k.context = context.to_vec();
                    k.context.sort();
                }
            }
        }
        self
    }
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = std::fs::read(path).map_err(|e| err(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Parses config text (`path` is used for messages and rule matching).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Config> {
        let docs = YamlStore { indent: 4 }
            .load_plain(bytes)
            .map_err(|e| err(path, e))?;
        let mut cfg = Config {
            path: path.to_path_buf(),
            ..Default::default()
        };
        let Some(root) = docs.into_iter().next() else {
            return Ok(cfg);
        };
        if let Some(Value::Map(stores)) = get(&root, "stores") {
            cfg.stores = StoreSettings {
                yaml_indent: indent_of(stores, "yaml"),
                json_indent: indent_of(stores, "json"),
                json_binary_indent: indent_of(stores, "json_binary"),
            };
        }
        if let Some(Value::Seq(rules)) = get(&root, "creation_rules") {
            for r in rules {
                let Value::Map(m) = r else { continue };
                let text = |k: &str| get(m, k).and_then(Value::as_str).unwrap_or("").to_string();
                let mut rule = CreationRule {
                    path_regex: Some(text("path_regex")).filter(|s| !s.is_empty()),
                    ..Default::default()
                };
                let fields: Vec<(&str, String)> = EncryptionRule::FIELDS
                    .iter()
                    .map(|f| (*f, text(f)))
                    .collect();
                rule.rule =
                    EncryptionRule::from_fields(fields.iter().map(|(k, v)| (*k, v.as_str())))
                        .map_err(|e| err(path, e))?;
                rule.mac_only_encrypted =
                    matches!(get(m, "mac_only_encrypted"), Some(Value::Bool(true)));
                rule.shamir_threshold = match get(m, "shamir_threshold") {
                    Some(Value::Int(i)) if *i > 0 => *i as usize,
                    _ => 0,
                };
                match get(m, "key_groups") {
                    Some(Value::Seq(groups)) if !groups.is_empty() => {
                        for gm in groups.iter().filter_map(Value::as_map) {
                            let group = parse_key_group(gm, &mut rule.unsupported_keys)
                                .map_err(|e| err(path, e))?;
                            rule.key_groups.push(group);
                        }
                    }
                    _ => {
                        rule.flat = true;
                        let group = parse_group(m, &mut rule.unsupported_keys, false)
                            .map_err(|e| err(path, e))?;
                        if !group.is_empty() {
                            rule.key_groups.push(group);
                        }
                    }
                }
                if let Some(re) = &rule.path_regex {
                    Regex::new(re).map_err(|e| {
                        err(
                            path,
                            format!(
                                "invalid path_regex {re:?}: {}",
                                crate::rules::regex_error_line(&e)
                            ),
                        )
                    })?;
                }
                cfg.creation_rules.push(rule);
            }
        }
        Ok(cfg)
    }

    /// The first creation rule whose `path_regex` matches `file` (made relative to the config's
    /// directory when it lies below it). `Ok(None)` when the config has no rules at all.
    pub fn rule_for(&self, file: &Path) -> Result<Option<&CreationRule>> {
        if self.creation_rules.is_empty() {
            return Ok(None);
        }
        let abs = absolute(file);
        let dir = self.path.parent().map(absolute);
        let rel = match dir.as_deref().and_then(|d| abs.strip_prefix(d).ok()) {
            Some(r) => r.to_string_lossy().into_owned(),
            None => abs.to_string_lossy().into_owned(),
        };
        for rule in &self.creation_rules {
            match &rule.path_regex {
                None => return Ok(Some(rule)),
                Some(re) => {
                    if Regex::new(re)
                        .map_err(|e| err(&self.path, crate::rules::regex_error_line(&e)))?
                        .is_match(&rel)
                    {
                        return Ok(Some(rule));
                    }
                }
            }
        }
        Err(SopsError::NoMatchingRule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_keys_come_first_recursively_like_sops() {
        let yaml = b"creation_rules:\n  - key_groups:\n      - age: [age1own]\n        merge:\n          - age: [age1m1]\n            merge:\n              - age: [age1deep, age1own]\n          - pgp: ['fbc7 b9e2']\n";
        let cfg = Config::parse(yaml, Path::new("/x/.sops.yaml")).unwrap();
        let age = |s: &str| Recipient::Age(s.into());
        assert_eq!(
            cfg.creation_rules[0].key_groups,
            vec![vec![
                age("age1deep"),
                age("age1own"),
                age("age1m1"),
                Recipient::Pgp("FBC7B9E2".into()),
            ]]
        );
    }

    #[test]
    fn kms_and_vault_keys_flat_and_in_groups() {
        let yaml = b"creation_rules:\n  - path_regex: flat\n    age: age1a\n    kms: 'arn:aws:kms:eu-west-2:1:key/k1+arn:aws:iam::1:role/r,arn:aws:kms:eu-west-2:1:key/k2'\n    aws_profile: dev\n    hc_vault_transit_uri: http://127.0.0.1:8200/v1/transit/keys/sops\n    gcp_kms: projects/p/locations/l/keyRings/r/cryptoKeys/c\n    azure_keyvault: https://v.vault.azure.net/keys/k/1\n    hckms: [eu:1]\n  - key_groups:\n      - kms:\n          - arn: arn:aws:kms:eu-west-2:1:key/k3\n            role: arn:aws:iam::1:role/r3\n            context: {b: '2', a: '1'}\n            aws_profile: p3\n        hc_vault: [http://127.0.0.1:8200/v1/a/b/keys/c]\n";
        let cfg = Config::parse(yaml, Path::new("/x/.sops.yaml")).unwrap();
        let flat = &cfg.creation_rules[0];
        assert!(flat.flat);
        assert_eq!(flat.unsupported_keys, ["hckms"]);
        let ids: Vec<String> = flat.key_groups[0].iter().map(Recipient::id).collect();
        assert_eq!(
            ids,
            [
                "age1a",
                "arn:aws:kms:eu-west-2:1:key/k1+arn:aws:iam::1:role/r||dev",
                "arn:aws:kms:eu-west-2:1:key/k2||dev",
                "projects/p/locations/l/keyRings/r/cryptoKeys/c",
                "https://v.vault.azure.net/keys/k/1",
                "http://127.0.0.1:8200/v1/transit/keys/sops"
            ]
        );
        let ctx = [("app".to_string(), "demo".to_string())];
        let with = flat.clone().with_encryption_context(&ctx);
        assert_eq!(
            with.key_groups[0][1].id(),
            "arn:aws:kms:eu-west-2:1:key/k1+arn:aws:iam::1:role/r|app:demo|dev"
        );
        let grouped = &cfg.creation_rules[1];
        assert!(!grouped.flat);
        let ids: Vec<String> = grouped.key_groups[0].iter().map(Recipient::id).collect();
        assert_eq!(
            ids,
            [
                "arn:aws:kms:eu-west-2:1:key/k3+arn:aws:iam::1:role/r3|a:1,b:2|p3",
                "http://127.0.0.1:8200/v1/a/b/keys/c"
            ]
        );
        assert_eq!(
            grouped.clone().with_encryption_context(&ctx).key_groups,
            grouped.key_groups,
            "key groups keep their own context"
        );
        let bad = b"creation_rules:\n  - hc_vault_transit_uri: vault:8200/v1/transit/keys/k\n";
        let e = Config::parse(bad, Path::new("/x/.sops.yaml")).unwrap_err();
        assert!(e.to_string().contains("missing scheme"), "{e}");
    }

    #[test]
    fn gcp_and_azure_keys_in_groups_like_sops() {
        let yaml = b"creation_rules:\n  - key_groups:\n      - gcp_kms:\n          - resource_id: 'projects/p/locations/l/keyRings/r/cryptoKeys/c'\n        azure_keyvault:\n          - vaultUrl: https://v.vault.azure.net\n            key: k\n            version: ''\n        age: [age1a]\n";
        let cfg = Config::parse(yaml, Path::new("/x/.sops.yaml")).unwrap();
        let ids: Vec<String> = cfg.creation_rules[0].key_groups[0]
            .iter()
            .map(Recipient::id)
            .collect();
        assert_eq!(
            ids,
            [
                "age1a",
                "projects/p/locations/l/keyRings/r/cryptoKeys/c",
                "https://v.vault.azure.net/keys/k/"
            ]
        );
        assert!(cfg.creation_rules[0].unsupported_keys.is_empty());
        for (bad, words) in [
            (
                &b"creation_rules:\n  - gcp_kms: projects/p/keyRings/r\n"[..],
                "no valid resource ID found",
            ),
            (
                &b"creation_rules:\n  - azure_keyvault: http://v/keys/k\n"[..],
                "could not parse",
            ),
        ] {
            let e = Config::parse(bad, Path::new("/x/.sops.yaml")).unwrap_err();
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn paths_are_cleaned_before_matching() {
        let yaml = b"creation_rules:\n  - path_regex: ^secrets/[^/]+\\.yaml$\n    age: age1a\n";
        let cfg = Config::parse(yaml, Path::new("/repo/sub/../.sops.yaml")).unwrap();
        for file in [
            "/repo/secrets/a.yaml",
            "/repo/./secrets/a.yaml",
            "/repo/other/../secrets/a.yaml",
        ] {
            assert!(cfg.rule_for(Path::new(file)).unwrap().is_some(), "{file}");
        }
        assert!(cfg.rule_for(Path::new("/repo/other/a.yaml")).is_err());
        assert_eq!(absolute(Path::new("/../a/./b/..")), PathBuf::from("/a"));
    }
}
