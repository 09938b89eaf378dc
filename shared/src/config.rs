//! `.sops.yaml`: found like sops finds it (from the working directory upward, or given explicitly),
//! its `creation_rules` matched against the target path, and its `stores` settings.

use std::path::{Component, Path, PathBuf};

use regex::Regex;

use crate::error::{Result, SopsError};
use crate::keys::pgp::normalize_fingerprint;
use crate::keys::Recipient;
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
    /// Key groups; a rule with flat `age:`/`pgp:` keys has one group.
    pub key_groups: Vec<Vec<Recipient>>,
    /// Key kinds the rule names that this tool cannot use (kms, gcp_kms, …).
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

const UNSUPPORTED_KEY_FIELDS: [&str; 6] = [
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
    "hc_vault",
];

/// The keys of one `key_groups` entry in sops' order (`extractMasterKeys`): the keys of its `merge`
/// entries first (recursively), then its own; duplicates dropped.
fn parse_key_group(m: &Branch, unsupported: &mut Vec<String>) -> Vec<Recipient> {
    let mut group = Vec::new();
    if let Some(Value::Seq(merged)) = get(m, "merge") {
        for mm in merged.iter().filter_map(Value::as_map) {
            group.extend(parse_key_group(mm, unsupported));
        }
    }
    group.extend(parse_group(m, unsupported));
    let mut unique = Vec::with_capacity(group.len());
    for r in group {
        if !unique.contains(&r) {
            unique.push(r);
        }
    }
    unique
}

/// The age and PGP keys a map names directly (duplicates dropped); the other key kinds it names
/// are added to `unsupported`.
fn parse_group(m: &Branch, unsupported: &mut Vec<String>) -> Vec<Recipient> {
    let mut group = Vec::new();
    let ages = string_list(get(m, "age")).into_iter().map(Recipient::Age);
    let pgps = string_list(get(m, "pgp"))
        .into_iter()
        .map(|fp| Recipient::Pgp(normalize_fingerprint(&fp)));
    for r in ages.chain(pgps) {
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
    group
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
                            let group = parse_key_group(gm, &mut rule.unsupported_keys);
                            rule.key_groups.push(group);
                        }
                    }
                    _ => {
                        let group = parse_group(m, &mut rule.unsupported_keys);
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
