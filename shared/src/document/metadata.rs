//! The `sops` metadata block: wrapped data keys, rule, MAC and dates, read from any sops version and
//! written like sops 3.13.2 (keys sorted at every level, empty lists omitted).

use crate::error::{Result, SopsError};
use crate::tree::{get, Branch, Item, Value};

/// Which values are encrypted: at most one rule is active (sops rejects more than one).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EncryptionRule {
    /// No rule was given: sops then uses `unencrypted_suffix: _unencrypted`.
    #[default]
    Default,
    /// Keys ending with this suffix (and everything below them) stay plain.
    UnencryptedSuffix(String),
    /// Only keys ending with this suffix (and everything below them) are encrypted.
    EncryptedSuffix(String),
    /// Keys matching this regex stay plain.
    UnencryptedRegex(String),
    /// Only keys matching this regex are encrypted.
    EncryptedRegex(String),
    /// Values after a comment matching this regex stay plain.
    UnencryptedCommentRegex(String),
    /// Only values after a comment matching this regex are encrypted.
    EncryptedCommentRegex(String),
}

impl EncryptionRule {
    /// The suffix sops assumes when no rule is given.
    pub const DEFAULT_UNENCRYPTED_SUFFIX: &'static str = "_unencrypted";

    /// The metadata field name and value of this rule, with the default made explicit.
    pub fn field(&self) -> (&'static str, &str) {
        match self {
            EncryptionRule::Default => ("unencrypted_suffix", Self::DEFAULT_UNENCRYPTED_SUFFIX),
            EncryptionRule::UnencryptedSuffix(s) => ("unencrypted_suffix", s),
            EncryptionRule::EncryptedSuffix(s) => ("encrypted_suffix", s),
            EncryptionRule::UnencryptedRegex(s) => ("unencrypted_regex", s),
            EncryptionRule::EncryptedRegex(s) => ("encrypted_regex", s),
            EncryptionRule::UnencryptedCommentRegex(s) => ("unencrypted_comment_regex", s),
            EncryptionRule::EncryptedCommentRegex(s) => ("encrypted_comment_regex", s),
        }
    }

    /// Builds the rule from `(field, value)` pairs; empty values are ignored, more than one is an error.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut rule = EncryptionRule::Default;
        for (name, value) in fields {
            if value.is_empty() {
                continue;
            }
            let next = match name {
                "unencrypted_suffix" => EncryptionRule::UnencryptedSuffix(value.into()),
                "encrypted_suffix" => EncryptionRule::EncryptedSuffix(value.into()),
                "unencrypted_regex" => EncryptionRule::UnencryptedRegex(value.into()),
                "encrypted_regex" => EncryptionRule::EncryptedRegex(value.into()),
                "unencrypted_comment_regex" => {
                    EncryptionRule::UnencryptedCommentRegex(value.into())
                }
                "encrypted_comment_regex" => EncryptionRule::EncryptedCommentRegex(value.into()),
                _ => continue,
            };
            if rule != EncryptionRule::Default {
                return Err(SopsError::InvalidMetadata(
                    "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
                     unencrypted_regex, encrypted_comment_regex or unencrypted_comment_regex"
                        .into(),
                ));
            }
            rule = next;
        }
        Ok(rule)
    }

    /// Names of all rule fields, in the order sops declares them.
    pub const FIELDS: [&'static str; 6] = [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ];
}

/// One wrapped copy of the data key (or of a Shamir share).
#[derive(Clone, Debug, PartialEq)]
pub enum KeyEntry {
    /// An age recipient (`age1…`, `age1pq1…`, plugin, or an SSH public key).
    Age {
        /// The recipient as written.
        recipient: String,
        /// ASCII-armored age file holding the data key.
        enc: String,
    },
    /// A PGP key.
    Pgp {
        /// 40-hex fingerprint.
        fp: String,
        /// Armored OpenPGP message holding the data key.
        enc: String,
        /// RFC 3339 time of the wrap.
        created_at: String,
    },
    /// An AWS KMS key (`kms`).
    Kms(KmsEntry),
    /// A HashiCorp Vault (or OpenBao) transit key (`hc_vault`).
    HcVault(VaultEntry),
    /// A GCP Cloud KMS key (`gcp_kms`).
    GcpKms(GcpKmsEntry),
    /// An Azure Key Vault key (`azure_kv`).
    AzureKv(AzureKvEntry),
    /// A key kind this engine cannot use (HuaweiCloud KMS): kept byte for byte so rewriting the
    /// file does not drop it.
    Other {
        /// Metadata list name (`hckms`).
        kind: String,
        /// The entry's fields as read.
        fields: Branch,
    },
}

impl KeyEntry {
    /// The metadata list this entry belongs to.
    pub fn kind(&self) -> &str {
        match self {
            KeyEntry::Age { .. } => "age",
            KeyEntry::Pgp { .. } => "pgp",
            KeyEntry::Kms(_) => "kms",
            KeyEntry::HcVault(_) => "hc_vault",
            KeyEntry::GcpKms(_) => "gcp_kms",
            KeyEntry::AzureKv(_) => "azure_kv",
            KeyEntry::Other { kind, .. } => kind,
        }
    }

    /// A short human name of the key: recipient, fingerprint, KMS key as sops names it
    /// (`ARN[+ROLE][|context[|profile]]`), Vault key URI, …
    pub fn describe(&self) -> String {
        match self {
            KeyEntry::Age { recipient, .. } => recipient.clone(),
            KeyEntry::Pgp { fp, .. } => fp.clone(),
            KeyEntry::Kms(k) => crate::keys::aws_kms::KmsKey::of_entry(k).to_sops_string(),
            KeyEntry::HcVault(v) => v.uri(),
            KeyEntry::GcpKms(g) => g.resource_id.clone(),
            KeyEntry::AzureKv(a) => a.url(),
            KeyEntry::Other { kind, fields } => {
                let id = ["arn", "resource_id", "vault_url", "vault_address", "key_id"]
                    .iter()
                    .find_map(|f| get(fields, f).and_then(Value::as_str))
                    .unwrap_or("?");
                format!("{kind} {id}")
            }
        }
    }
}

/// An AWS KMS entry, the fields sops 3.13.2 writes (`aws_profile` always, `context` and `role` only
/// when set).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KmsEntry {
    /// Key or alias ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
    pub arn: String,
    /// IAM role to assume through STS before calling KMS (empty = none).
    pub role: String,
    /// Encryption context bound to the ciphertext, sorted by key.
    pub context: Vec<(String, String)>,
    /// Named AWS profile to take credentials from (empty = the default chain).
    pub aws_profile: String,
    /// RFC 3339 time of the wrap.
    pub created_at: String,
    /// Standard base64 of KMS' `CiphertextBlob`.
    pub enc: String,
}

/// A Vault transit entry: where the key lives and the transit ciphertext (`vault:v1:…`) verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VaultEntry {
    /// `scheme://host:port` of the Vault server: the token is sent there.
    pub vault_address: String,
    /// Mount path of the transit engine (may nest: `a/b/transit`).
    pub engine_path: String,
    /// Transit key name.
    pub key_name: String,
    /// RFC 3339 time of the wrap.
    pub created_at: String,
    /// Vault's transit ciphertext of the base64 data key.
    pub enc: String,
}

impl VaultEntry {
    /// The key as sops names it: `{vault_address}/v1/{engine_path}/keys/{key_name}`.
    pub fn uri(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }
}

/// A GCP Cloud KMS entry, the fields sops 3.13.2 writes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GcpKmsEntry {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    pub resource_id: String,
    /// RFC 3339 time of the wrap.
    pub created_at: String,
    /// Standard base64 of Cloud KMS' ciphertext.
    pub enc: String,
}

/// An Azure Key Vault entry, the fields sops 3.13.2 writes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AzureKvEntry {
    /// `https://NAME.vault.azure.net`: the bearer token is sent there.
    pub vault_url: String,
    /// Key name.
    pub name: String,
    /// Key version.
    pub version: String,
    /// RFC 3339 time of the wrap.
    pub created_at: String,
    /// Base64url (no padding) of the RSA-OAEP-256 ciphertext.
    pub enc: String,
}

impl AzureKvEntry {
    /// The key as sops names it: `{vault_url}/keys/{name}/{version}`.
    pub fn url(&self) -> String {
        format!("{}/keys/{}/{}", self.vault_url, self.name, self.version)
    }
}

/// A key group: every key in it can unwrap the same secret (the data key, or one Shamir share).
pub type KeyGroup = Vec<KeyEntry>;

/// The list names of master keys, in the order sops 3.13 writes them (alphabetical).
const KEY_KINDS: [&str; 7] = [
    "age", "azure_kv", "gcp_kms", "hc_vault", "hckms", "kms", "pgp",
];

/// The parsed `sops` block.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Metadata {
    /// Key groups (one group is written flat under `sops`).
    pub key_groups: Vec<KeyGroup>,
    /// Shamir threshold (0 = not set).
    pub shamir_threshold: usize,
    /// RFC 3339 time of the last encryption, as written.
    pub lastmodified: String,
    /// The encrypted MAC (`ENC[...]`), empty when absent.
    pub mac: String,
    /// Which values are encrypted.
    pub rule: EncryptionRule,
    /// Only encrypted values enter the MAC.
    pub mac_only_encrypted: bool,
    /// sops version that wrote the file.
    pub version: String,
}

/// The version we write, the newest sops whose layout we follow.
pub const SOPS_VERSION: &str = "3.13.2";

/// The version to write when rewriting a file that `version` wrote: ours, unless the file comes from a
/// newer sops (what `sops edit` does; a version that is not `X.Y.Z` is replaced).
pub fn rewrite_version(version: &str) -> String {
    let triple = |v: &str| -> Option<([u64; 3], bool)> {
        let v = v.strip_prefix('v').unwrap_or(v);
        let (core, pre) = match v.find(['-', '+']) {
            Some(i) => (&v[..i], v[i..].starts_with('-')),
            None => (v, false),
        };
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        let t = [it.next()??, it.next()??, it.next()??];
        it.next().is_none().then_some((t, pre))
    };
    match (triple(version), triple(SOPS_VERSION)) {
        // a pre-release sorts before its release
        (Some((theirs, pre)), Some((ours, _))) if theirs > ours || (theirs == ours && !pre) => {
            version.to_string()
        }
        _ => SOPS_VERSION.to_string(),
    }
}

/// Why sops would refuse a file's `version` (blang/semver's words, without the part it quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Nothing after an optional `v`.
    #[error("Version string empty")]
    Empty,
    /// Fewer than three dot-separated parts.
    #[error("No Major.Minor.Patch elements found")]
    NoMajorMinorPatch,
    /// A `major`/`minor`/`patch` part that is not all digits.
    #[error("Invalid character(s) found in {0} number")]
    NotANumber(&'static str),
    /// A number part with a leading zero (`Major`, `Minor`, `Patch`).
    #[error("{0} number must not contain leading zeroes")]
    LeadingZero(&'static str),
    /// A number part without digits.
    #[error("strconv.ParseUint: invalid syntax")]
    NoDigits,
    /// A number part larger than 64 bits.
    #[error("strconv.ParseUint: value out of range")]
    OutOfRange,
    /// `-` followed by an empty pre-release part.
    #[error("Prerelease is empty")]
    PrereleaseEmpty,
    /// A numeric pre-release part with a leading zero.
    #[error("Numeric PreRelease version must not contain leading zeroes")]
    PrereleaseLeadingZero,
    /// A pre-release part outside `[0-9A-Za-z-]`.
    #[error("Invalid character(s) found in prerelease")]
    PrereleaseCharacters,
    /// `+` followed by an empty build part.
    #[error("Build meta data is empty")]
    BuildEmpty,
    /// A build part outside `[0-9A-Za-z-]`.
    #[error("Invalid character(s) found in build meta data")]
    BuildCharacters,
}

/// Refuses a `version` that sops refuses when it opens a file (`decrypt`, `edit`, `set`, `rotate`):
/// sops compares it with 3.3.0 through `blang/semver` v3.5.1 `Make` after dropping one leading `v`;
/// anything starting with `1.` passes unchecked (sops 1.x did not write semantic versions). The
/// error is sops' own text without the part sops quotes: a damaged file may hold anything in that
/// field, and an error never echoes file content.
pub fn check_version(version: &str) -> std::result::Result<(), VersionError> {
    if version.starts_with("1.") {
        return Ok(());
    }
    let v = version.strip_prefix('v').unwrap_or(version);
    if v.is_empty() {
        return Err(VersionError::Empty);
    }
    let mut parts = v.splitn(3, '.');
    let (Some(major), Some(minor), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(VersionError::NoMajorMinorPatch);
    };
    const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let only = |s: &str, set: &str| s.chars().all(|c| set.contains(c));
    let leading_zero = |s: &str| s.len() > 1 && s.starts_with('0');
    let number = |s: &str, what: &'static str, cap: &'static str| {
        if !digits(s) {
            Err(VersionError::NotANumber(what))
        } else if leading_zero(s) {
            Err(VersionError::LeadingZero(cap))
        } else if s.is_empty() {
            Err(VersionError::NoDigits)
        } else {
            s.parse::<u64>()
                .map(|_| ())
                .map_err(|_| VersionError::OutOfRange)
        }
    };
    number(major, "major", "Major")?;
    number(minor, "minor", "Minor")?;
    let (rest, build) = match rest.find('+') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (patch, pre) = match rest.find('-') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    number(patch, "patch", "Patch")?;
    for p in pre.into_iter().flat_map(|p| p.split('.')) {
        if p.is_empty() {
            return Err(VersionError::PrereleaseEmpty);
        }
        if digits(p) {
            if leading_zero(p) {
                return Err(VersionError::PrereleaseLeadingZero);
            }
            if p.parse::<u64>().is_err() {
                return Err(VersionError::OutOfRange);
            }
        } else if !only(p, ALNUM) {
            return Err(VersionError::PrereleaseCharacters);
        }
    }
    for b in build.into_iter().flat_map(|b| b.split('.')) {
        if b.is_empty() {
            return Err(VersionError::BuildEmpty);
        }
        if !only(b, ALNUM) {
            return Err(VersionError::BuildCharacters);
        }
    }
    Ok(())
}

/// The Shamir threshold as it takes effect for `groups` key groups: none (0) for a single group, all
/// groups when the threshold is not set.
pub fn effective_threshold(threshold: usize, groups: usize) -> usize {
    match (groups, threshold) {
        (0 | 1, _) => 0,
        (n, 0) => n,
        (_, t) => t,
    }
}

/// A time as sops writes `lastmodified` and `created_at` (Go's `time.RFC3339`): whole seconds, `Z` for
/// a zero offset, else `±hh:mm`.
pub fn rfc3339_seconds(t: time::OffsetDateTime) -> String {
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let off = t.offset();
    if off.is_utc() {
        format!("{date}Z")
    } else {
        let (h, m, _) = off.as_hms();
        let sign = if off.is_negative() { '-' } else { '+' };
        format!(
            "{date}{sign}{:02}:{:02}",
            h.unsigned_abs(),
            m.unsigned_abs()
        )
    }
}

/// The current UTC time formatted by [`rfc3339_seconds`].
pub fn now_rfc3339() -> String {
    rfc3339_seconds(time::OffsetDateTime::now_utc())
}

impl Metadata {
    /// Reads the metadata from the `sops` map of a YAML/JSON document.
    pub fn from_tree(map: &Branch) -> Result<Self> {
        let mut md = Metadata::default();
        let text = |key: &str| -> Result<String> {
            match get(map, key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(v) => scalar_text(v)
                    .ok_or_else(|| SopsError::InvalidMetadata(format!("{key} is not a string"))),
            }
        };
        md.lastmodified = text("lastmodified")?;
        md.mac = text("mac")?;
        md.version = text("version")?;
        let rule_fields: Vec<(&str, String)> = EncryptionRule::FIELDS
            .iter()
            .map(|f| Ok((*f, text(f)?)))
            .collect::<Result<_>>()?;
        md.rule = EncryptionRule::from_fields(rule_fields.iter().map(|(k, v)| (*k, v.as_str())))?;
        md.mac_only_encrypted = match get(map, "mac_only_encrypted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                scalar_text(v).is_some_and(|s| crate::gocompat::parse_bool(&s).unwrap_or(false))
            }
        };
        md.shamir_threshold = match get(map, "shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) => usize::try_from(*i).unwrap_or(0),
            Some(Value::Float(f)) => *f as usize,
            Some(v) => scalar_text(v)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        };
        let flat = group_from_tree(map)?;
        if !flat.is_empty() {
            md.key_groups = vec![flat];
        } else if let Some(Value::Seq(groups)) = get(map, "key_groups") {
            for g in groups {
                match g {
                    Value::Map(m) => md.key_groups.push(group_from_tree(m)?),
                    Value::Comment(_) => {}
                    _ => {
                        return Err(SopsError::InvalidMetadata(
                            "key_groups entry is not a map".into(),
                        ))
                    }
                }
            }
        }
        if md.version.is_empty() {
            return Err(SopsError::InvalidMetadata("Version string empty".into()));
        }
        if md.key_groups.iter().all(|g| g.is_empty()) {
            return Err(SopsError::InvalidMetadata("No keys found in file".into()));
        }
        check_version(&md.version)?;
        Ok(md)
    }

    /// Writes the metadata as the `sops` map, like sops 3.13.2.
    pub fn to_tree(&self) -> Branch {
        let mut out: Branch = Vec::new();
        let single = self.key_groups.len() == 1;
        if single {
            out.extend(group_to_tree(&self.key_groups[0], false));
        }
        // alphabetical order of the top-level fields (sops 3.13 sorts the metadata map)
        let mut tail: Vec<(String, Value)> = Vec::new();
        if !single && !self.key_groups.is_empty() {
            let groups = self
                .key_groups
                .iter()
                .map(|g| Value::Map(group_to_tree(g, true)))
                .collect();
            tail.push(("key_groups".into(), Value::Seq(groups)));
        }
        tail.push(("lastmodified".into(), Value::Str(self.lastmodified.clone())));
        tail.push(("mac".into(), Value::Str(self.mac.clone())));
        if self.mac_only_encrypted {
            tail.push(("mac_only_encrypted".into(), Value::Bool(true)));
        }
        if self.shamir_threshold > 0 {
            tail.push((
                "shamir_threshold".into(),
                Value::Int(self.shamir_threshold as i64),
            ));
        }
        let (rule_name, rule_value) = self.rule.field();
        tail.push((rule_name.into(), Value::Str(rule_value.into())));
        tail.push(("version".into(), Value::Str(self.version.clone())));
        out.extend(tail.into_iter().map(|(k, v)| Item::Pair(k.into(), v)));
        sort_pairs(&mut out);
        out
    }

    /// Flattens the metadata for dotenv and INI (`age__list_0__map_enc` …), sorted by key like sops ≥3.8.
    /// Non-string values are written as text.
    pub fn to_flat(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        flatten_into(&Value::Map(self.to_tree()), "", &mut out);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Reads flattened metadata (any order) as written by dotenv and INI stores.
    pub fn from_flat(pairs: &[(String, String)]) -> Result<Self> {
        let mut root = Value::Map(Vec::new());
        for (k, v) in pairs {
            // every list element takes at least one pair, so no valid index reaches `pairs.len()`
            unflatten_insert(&mut root, k, v.clone(), pairs.len())?;
        }
        if has_gap(&root) {
            return Err(SopsError::InvalidMetadata(
                "Error while unflattening: Incomplete list".into(),
            ));
        }
        match root {
            Value::Map(m) => Self::from_tree(&m),
            _ => unreachable!("root is a map"),
        }
    }

    /// All key entries of all groups.
    pub fn all_keys(&self) -> impl Iterator<Item = &KeyEntry> {
        self.key_groups.iter().flatten()
    }
}

fn sort_pairs(items: &mut Branch) {
    items.sort_by(|a, b| match (a, b) {
        (Item::Pair(x, _), Item::Pair(y, _)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
}

/// Text of a scalar metadata value (dates may have been parsed as timestamps by YAML).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) | Value::Time(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn group_from_tree(map: &Branch) -> Result<KeyGroup> {
    let mut group = Vec::new();
    // Read in the written (alphabetical) order: age first, so the default decryption order (age, then
    // pgp, then the rest) only has to move pgp ahead of the key kinds we cannot use anyway.
    for kind in KEY_KINDS {
        let Some(Value::Seq(entries)) = get(map, kind) else {
            continue;
        };
        for e in entries {
            let Value::Map(fields) = e else {
                if matches!(e, Value::Comment(_)) {
                    continue;
                }
                return Err(SopsError::InvalidMetadata(format!(
                    "{kind} entry is not a map"
                )));
            };
            let field = |name: &str| get(fields, name).and_then(scalar_text).unwrap_or_default();
            group.push(match kind {
                "age" => KeyEntry::Age {
                    recipient: field("recipient"),
                    enc: field("enc"),
                },
                "pgp" => KeyEntry::Pgp {
                    fp: field("fp"),
                    enc: field("enc"),
                    created_at: field("created_at"),
                },
                "kms" => KeyEntry::Kms(KmsEntry {
                    arn: field("arn"),
                    role: field("role"),
                    context: context_from_tree(get(fields, "context")),
                    aws_profile: field("aws_profile"),
                    created_at: field("created_at"),
                    enc: field("enc"),
                }),
                "hc_vault" => KeyEntry::HcVault(VaultEntry {
                    vault_address: field("vault_address"),
                    engine_path: field("engine_path"),
                    key_name: field("key_name"),
                    created_at: field("created_at"),
                    enc: field("enc"),
                }),
                "gcp_kms" => KeyEntry::GcpKms(GcpKmsEntry {
                    resource_id: field("resource_id"),
                    created_at: field("created_at"),
                    enc: field("enc"),
                }),
                "azure_kv" => KeyEntry::AzureKv(AzureKvEntry {
                    vault_url: field("vault_url"),
                    name: field("name"),
                    version: field("version"),
                    created_at: field("created_at"),
                    enc: field("enc"),
                }),
                _ => KeyEntry::Other {
                    kind: kind.to_string(),
                    fields: fields.clone(),
                },
            });
        }
    }
    Ok(group)
}

/// The encryption context of a `kms` entry, sorted by key (a null value reads as empty).
fn context_from_tree(v: Option<&Value>) -> Vec<(String, String)> {
    let mut ctx: Vec<(String, String)> = match v {
        Some(Value::Map(m)) => m
            .iter()
            .filter_map(|it| match it {
                Item::Pair(k, v) => Some((k.to_string(), scalar_text(v).unwrap_or_default())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    ctx.sort();
    ctx
}

/// `key: "value"` pairs in the given order.
fn str_pairs(pairs: &[(&str, &String)]) -> Branch {
    pairs
        .iter()
        .map(|(k, v)| Item::Pair((*k).into(), Value::Str((*v).clone())))
        .collect()
}

/// The fields of a `kms` entry as sops 3.13.2 writes them: `aws_profile` always (empty when unset),
/// `context` and `role` only when set.
fn kms_fields(k: &KmsEntry) -> Branch {
    let mut m = vec![
        Item::Pair("arn".into(), Value::Str(k.arn.clone())),
        Item::Pair("aws_profile".into(), Value::Str(k.aws_profile.clone())),
    ];
    if !k.context.is_empty() {
        let ctx = k
            .context
            .iter()
            .map(|(a, b)| Item::Pair(a.as_str().into(), Value::Str(b.clone())))
            .collect();
        m.push(Item::Pair("context".into(), Value::Map(ctx)));
    }
    m.push(Item::Pair(
        "created_at".into(),
        Value::Str(k.created_at.clone()),
    ));
    m.push(Item::Pair("enc".into(), Value::Str(k.enc.clone())));
    if !k.role.is_empty() {
        m.push(Item::Pair("role".into(), Value::Str(k.role.clone())));
    }
    m
}

fn group_to_tree(group: &KeyGroup, in_key_groups: bool) -> Branch {
    let mut out = Vec::new();
    for kind in KEY_KINDS {
        let entries: Vec<Value> = group
            .iter()
            .filter(|k| k.kind() == kind)
            .map(|k| {
                let mut m: Branch = match k {
                    KeyEntry::Age { recipient, enc } => {
                        str_pairs(&[("enc", enc), ("recipient", recipient)])
                    }
                    KeyEntry::Pgp {
                        fp,
                        enc,
                        created_at,
                    } => str_pairs(&[("created_at", created_at), ("enc", enc), ("fp", fp)]),
                    KeyEntry::Kms(k) => kms_fields(k),
                    KeyEntry::HcVault(v) => str_pairs(&[
                        ("created_at", &v.created_at),
                        ("enc", &v.enc),
                        ("engine_path", &v.engine_path),
                        ("key_name", &v.key_name),
                        ("vault_address", &v.vault_address),
                    ]),
                    KeyEntry::GcpKms(g) => str_pairs(&[
                        ("created_at", &g.created_at),
                        ("enc", &g.enc),
                        ("resource_id", &g.resource_id),
                    ]),
                    KeyEntry::AzureKv(a) => str_pairs(&[
                        ("created_at", &a.created_at),
                        ("enc", &a.enc),
                        ("name", &a.name),
                        ("vault_url", &a.vault_url),
                        ("version", &a.version),
                    ]),
                    KeyEntry::Other { fields, .. } => fields.clone(),
                };
                sort_pairs(&mut m);
                Value::Map(m)
            })
            .collect();
        // inside key_groups, sops 3.13 writes `age` and `hc_vault` even when empty
        if !entries.is_empty() || (in_key_groups && (kind == "age" || kind == "hc_vault")) {
            out.push(Item::Pair(kind.into(), Value::Seq(entries)));
        }
    }
    out
}

fn flatten_into(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Map(m) => {
            for item in m {
                if let Item::Pair(k, v) = item {
                    let key = if prefix.is_empty() {
                        k.to_string()
                    } else {
                        format!("{prefix}__map_{k}")
                    };
                    flatten_into(v, &key, out);
                }
            }
        }
        Value::Seq(s) => {
            for (i, v) in s.iter().enumerate() {
                flatten_into(v, &format!("{prefix}__list_{i}"), out);
            }
        }
        other => out.push((prefix.to_string(), scalar_text(other).unwrap_or_default())),
    }
}

/// Inserts a flattened `a__list_0__map_b` key into a nested tree. List indexes must be below
/// `max_index` (a forged `__list_99999999999` would otherwise allocate without bound).
fn unflatten_insert(root: &mut Value, key: &str, value: String, max_index: usize) -> Result<()> {
    enum Step<'a> {
        Map(&'a str),
        List(usize),
    }
    let mut steps = Vec::new();
    let mut rest = key;
    let first_end = rest.find("__").unwrap_or(rest.len());
    steps.push(Step::Map(&rest[..first_end]));
    rest = &rest[first_end..];
    while !rest.is_empty() {
        let body = &rest[2..];
        let end = body
            .find("__map_")
            .into_iter()
            .chain(body.find("__list_"))
            .min()
            .unwrap_or(body.len());
        let part = &body[..end];
        if let Some(name) = part.strip_prefix("map_") {
            steps.push(Step::Map(name));
        } else if let Some(idx) = part.strip_prefix("list_") {
            let i = idx.parse().ok().filter(|i| *i < max_index).ok_or_else(|| {
                SopsError::InvalidMetadata(format!("bad flattened metadata key {key}"))
            })?;
            steps.push(Step::List(i));
        } else {
            return Err(SopsError::InvalidMetadata(format!(
                "bad flattened metadata key {key}"
            )));
        }
        rest = &body[end..];
    }
    let mut cur = root;
    for step in steps {
        let fresh = || Value::Null;
        cur = match step {
            Step::Map(name) => {
                if matches!(cur, Value::Null) {
                    *cur = Value::Map(Vec::new());
                }
                if !matches!(cur, Value::Map(_)) {
                    return Err(type_mismatch());
                }
                let Value::Map(m) = cur else { unreachable!() };
                let pos = match m
                    .iter()
                    .position(|it| matches!(it, Item::Pair(k, _) if k == name))
                {
                    Some(p) => p,
                    None => {
                        m.push(Item::Pair(name.into(), fresh()));
                        m.len() - 1
                    }
                };
                let Item::Pair(_, v) = &mut m[pos] else {
                    unreachable!()
                };
                v
            }
            Step::List(idx) => {
                if matches!(cur, Value::Null) {
                    *cur = Value::Seq(Vec::new());
                }
                if !matches!(cur, Value::Seq(_)) {
                    return Err(type_mismatch());
                }
                let Value::Seq(s) = cur else { unreachable!() };
                while s.len() <= idx {
                    s.push(Value::Null);
                }
                &mut s[idx]
            }
        };
    }
    match cur {
        Value::Null => {
            *cur = Value::Str(value);
            Ok(())
        }
        // sops: a second value for one flattened key (`sops_version` twice in a dotenv file)
        Value::Str(_) => Err(SopsError::InvalidMetadata(format!(
            "Error while unflattening {key:?}: Duplicate value"
        ))),
        _ => Err(type_mismatch()),
    }
}

/// sops' error for a flattened key that is both a value and a map or list (`a` and `a__map_b`).
fn type_mismatch() -> SopsError {
    SopsError::InvalidMetadata("Error while unflattening: Type mismatch".into())
}

/// sops' error for flattened list indices with a gap (`…__list_1` without `…__list_0`).
fn has_gap(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Seq(items) => items.iter().any(has_gap),
        Value::Map(m) => m
            .iter()
            .any(|it| matches!(it, Item::Pair(_, v) if has_gap(v))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata {
            key_groups: vec![vec![
                KeyEntry::Age {
                    recipient: "age1abc".into(),
                    enc: "-----BEGIN AGE ENCRYPTED FILE-----\nx\n".into(),
                },
                KeyEntry::Pgp {
                    fp: "ABCD".into(),
                    enc: "armor".into(),
                    created_at: "2026-01-01T00:00:00Z".into(),
                },
            ]],
            shamir_threshold: 0,
            lastmodified: "2026-01-01T00:00:00Z".into(),
            mac: "ENC[x]".into(),
            rule: EncryptionRule::EncryptedRegex("^data$".into()),
            mac_only_encrypted: true,
            version: SOPS_VERSION.into(),
        }
    }

    #[test]
    fn tree_round_trip_and_sorted() {
        let md = sample();
        let tree = md.to_tree();
        let keys: Vec<&str> = tree
            .iter()
            .filter_map(|i| {
                if let Item::Pair(k, _) = i {
                    Some(k.as_str())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            keys,
            [
                "age",
                "encrypted_regex",
                "lastmodified",
                "mac",
                "mac_only_encrypted",
                "pgp",
                "version"
            ]
        );
        assert_eq!(Metadata::from_tree(&tree).unwrap(), md);
    }

    #[test]
    fn flat_round_trip_with_groups() {
        let mut md = sample();
        md.key_groups.push(vec![KeyEntry::Age {
            recipient: "age1def".into(),
            enc: "e2".into(),
        }]);
        md.shamir_threshold = 2;
        let flat = md.to_flat();
        assert!(flat.iter().any(|(k, v)| k
            == "key_groups__list_1__map_age__list_0__map_recipient"
            && v == "age1def"));
        assert!(flat
            .iter()
            .any(|(k, v)| k == "shamir_threshold" && v == "2"));
        let mut shuffled = flat.clone();
        shuffled.reverse();
        assert_eq!(Metadata::from_flat(&shuffled).unwrap(), md);
    }

    #[test]
    fn forged_flat_list_index_is_an_error_not_an_allocation() {
        let mut flat = sample().to_flat();
        flat.push((
            "key_groups__list_99999999999999__map_age__list_0__map_recipient".into(),
            "age1x".into(),
        ));
        assert!(matches!(
            Metadata::from_flat(&flat),
            Err(SopsError::InvalidMetadata(_))
        ));
    }

    #[test]
    fn check_version_like_sops() {
        for ok in [
            "3.13.2",
            "v3.7.1",
            "3.13.2-rc1",
            "999.0.0",
            "1.2.3.4",
            "1.0",
            "0.0.0",
            "3.7.1+meta",
            "3.0.0-a.1-b",
        ] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for (bad, msg) in [
            ("", "Version string empty"),
            ("abc", "No Major.Minor.Patch elements found"),
            ("3", "No Major.Minor.Patch elements found"),
            ("3.7", "No Major.Minor.Patch elements found"),
            ("3.x.1", "Invalid character(s) found in minor number"),
            ("3.7.1 ", "Invalid character(s) found in patch number"),
            ("-1.0.0", "Invalid character(s) found in major number"),
            ("3.1.1a", "Invalid character(s) found in patch number"),
            ("03.1.1", "Major number must not contain leading zeroes"),
            ("3.1.1-", "Prerelease is empty"),
            ("3.1.1+", "Build meta data is empty"),
            (
                "3.1.1-01",
                "Numeric PreRelease version must not contain leading zeroes",
            ),
            ("vv3.1.1", "Invalid character(s) found in major number"),
        ] {
            assert_eq!(check_version(bad).unwrap_err().to_string(), msg, "{bad:?}");
        }
    }

    #[test]
    fn rewrite_version_keeps_only_newer_versions() {
        assert_eq!(rewrite_version("3.8.1"), SOPS_VERSION);
        assert_eq!(rewrite_version("1.14"), SOPS_VERSION);
        assert_eq!(rewrite_version("garbage"), SOPS_VERSION);
        assert_eq!(rewrite_version(SOPS_VERSION), SOPS_VERSION);
        assert_eq!(rewrite_version("3.13.2-rc.1"), SOPS_VERSION);
        assert_eq!(rewrite_version("3.14.0"), "3.14.0");
        assert_eq!(rewrite_version("v4.0.0"), "v4.0.0");
        assert_eq!(rewrite_version("3.13.10"), "3.13.10");
    }

    #[test]
    fn rfc3339_like_go() {
        use time::macros::datetime;
        assert_eq!(
            rfc3339_seconds(datetime!(2026-01-02 03:04:05.678 UTC)),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339_seconds(datetime!(2026-01-02 03:04:05 -05:30)),
            "2026-01-02T03:04:05-05:30"
        );
        let now = now_rfc3339();
        assert!(now.len() == 20 && now.ends_with('Z'), "{now}");
    }

    #[test]
    fn two_rules_rejected() {
        let err =
            EncryptionRule::from_fields([("encrypted_regex", "a"), ("unencrypted_suffix", "_u")]);
        assert!(err.is_err());
    }
}
