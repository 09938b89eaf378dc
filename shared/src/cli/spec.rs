//! The seal spec of a new encryption, from what the command line says and what `.sops.yaml` says:
//! keys from the key flags ([`KeyFlags`]) or the matching creation rule; the encryption rule from a
//! rule flag, the creation rule, or the Kubernetes conventions of [`crate::k8s`].

use std::path::Path;

use crate::config::{Config, CreationRule};
use crate::error::{exit, SopsError};
use crate::file::SealSpec;
use crate::keys::pgp::normalize_fingerprint;
use crate::keys::Recipient;
use crate::metadata::EncryptionRule;
use crate::tree::Branch;

use super::io::{describe, ConfigOrigin};
use super::CliError;

/// sops' words when there is no key to encrypt with (`cmd/sops/main.go`).
pub const NO_KEYS: &str =
    "config file not found, or has no creation rules, and no keys provided through command line options";

/// The environment variable sops reads for `--age`.
pub const AGE_RECIPIENTS_VAR: &str = "SOPS_AGE_RECIPIENTS";
/// The environment variable sops reads for `--pgp`.
pub const PGP_FP_VAR: &str = "SOPS_PGP_FP";
/// The environment variable sops reads for `--kms`.
pub const KMS_ARN_VAR: &str = "SOPS_KMS_ARN";
/// The environment variable sops reads for `--gcp-kms`.
pub const GCP_KMS_IDS_VAR: &str = "SOPS_GCP_KMS_IDS";
/// The environment variable sops reads for `--azure-kv`.
pub const AZURE_KV_URLS_VAR: &str = "SOPS_AZURE_KEYVAULT_URLS";
/// The environment variable sops reads for `--hc-vault-transit`.
pub const VAULT_URIS_VAR: &str = "SOPS_VAULT_URIS";

/// Master keys named on the command line (`--age`, `--pgp`, comma lists), which replace the keys of
/// the creation rule when any is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFlags {
    /// age recipients.
    pub age: Vec<String>,
    /// PGP fingerprints.
    pub pgp: Vec<String>,
    /// AWS KMS keys, `ARN[+ROLE_ARN]`.
    pub kms: Vec<String>,
    /// Vault transit key URIs (`https://vault:8200/v1/transit/keys/NAME`).
    pub hc_vault_transit: Vec<String>,
    /// GCP Cloud KMS resource ids (`projects/P/locations/L/keyRings/R/cryptoKeys/K`).
    pub gcp_kms: Vec<String>,
    /// Azure Key Vault key URLs (`https://VAULT.vault.azure.net/keys/NAME[/VERSION]`).
    pub azure_kv: Vec<String>,
    /// `--aws-profile`: the profile stored with the `--kms` keys.
    pub aws_profile: String,
    /// `--encryption-context k:v,…`: for the `--kms` keys and the KMS keys of a flat creation rule.
    pub encryption_context: String,
}

impl KeyFlags {
    /// A list flag's entries, split at commas, trimmed, empty ones left out.
    pub fn split(v: &str) -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    /// Fills each list the command line left empty from its sops environment variable
    /// (`SOPS_AGE_RECIPIENTS`, `SOPS_PGP_FP`), as sops' flags do.
    pub fn or_env(mut self) -> Self {
        let env_list = |k: &str| {
            std::env::var(k)
                .map(|v| Self::split(&v))
                .unwrap_or_default()
        };
        if self.age.is_empty() {
            self.age = env_list(AGE_RECIPIENTS_VAR);
        }
        if self.pgp.is_empty() {
            self.pgp = env_list(PGP_FP_VAR);
        }
        if self.kms.is_empty() {
            self.kms = env_list(KMS_ARN_VAR);
        }
        if self.hc_vault_transit.is_empty() {
            self.hc_vault_transit = env_list(VAULT_URIS_VAR);
        }
        if self.gcp_kms.is_empty() {
            self.gcp_kms = env_list(GCP_KMS_IDS_VAR);
        }
        if self.azure_kv.is_empty() {
            self.azure_kv = env_list(AZURE_KV_URLS_VAR);
        }
        self
    }

    /// Refuses a malformed `--encryption-context`, Vault URI, GCP resource id or Azure key URL
    /// (sops' words).
    pub fn check(&self) -> Result<(), crate::keys::BadKeyId> {
        crate::keys::aws_kms::parse_context(&self.encryption_context)?;
        for u in &self.hc_vault_transit {
            crate::keys::hc_vault::VaultKey::from_uri(u)?;
        }
        for id in &self.gcp_kms {
            crate::keys::gcp_kms::check_resource_id(&crate::keys::gcp_kms::normalize_resource_id(
                id,
            ))?;
        }
        crate::keys::azure_kv::keys_from_list(&self.azure_kv.join(","))?;
        Ok(())
    }

    /// The parsed `--encryption-context` (empty when malformed: see [`KeyFlags::check`]).
    pub fn context(&self) -> Vec<(String, String)> {
        crate::keys::aws_kms::parse_context(&self.encryption_context).unwrap_or_default()
    }

    /// The recipients, age first, then PGP (fingerprints normalised as stored).
    pub fn recipients(&self) -> Vec<Recipient> {
        let age = self.age.iter().map(|r| r.trim()).filter(|r| !r.is_empty());
        let pgp = self
            .pgp
            .iter()
            .map(|r| normalize_fingerprint(r))
            .filter(|r| !r.is_empty());
        let kms = crate::keys::aws_kms::KmsKey::list(
            &self.kms.join(","),
            &self.context(),
            &self.aws_profile,
        );
        let vault = self.hc_vault_transit.iter().map(|u| {
            crate::keys::hc_vault::VaultKey::from_uri(u).map_or_else(|_| u.clone(), |k| k.uri())
        });
        let gcp = crate::keys::gcp_kms::ids_from_list(&self.gcp_kms.join(","));
        let azure =
            crate::keys::azure_kv::keys_from_list(&self.azure_kv.join(",")).unwrap_or_default();
        age.map(|r| Recipient::Age(r.to_string()))
            .chain(pgp.map(Recipient::Pgp))
            .chain(kms.into_iter().map(Recipient::Kms))
            .chain(gcp.into_iter().map(Recipient::GcpKms))
            .chain(azure.into_iter().map(Recipient::AzureKv))
            .chain(vault.map(Recipient::HcVault))
            .collect()
    }
}

/// What a new encryption is asked for.
#[derive(Clone, Copy, Debug)]
pub struct SealRequest<'a> {
    /// The run's `.sops.yaml`, when there is one.
    pub config: Option<&'a Config>,
    /// Where it came from or was looked for (for messages).
    pub origin: &'a ConfigOrigin,
    /// The path creation rules are matched against (`None`: stdin without a path).
    pub path: Option<&'a str>,
    /// The file's name in messages.
    pub name: &'a str,
    /// Keys from the command line.
    pub keys: &'a KeyFlags,
    /// An encryption rule from the command line (`--encrypted-regex`, …).
    pub rule: Option<&'a EncryptionRule>,
}

/// A seal spec and, when neither a creation rule nor a rule flag chose the encryption rule, the
/// one line that says which default was used (for the caller to print once the file is written).
#[derive(Clone, Debug)]
pub struct SealPlan {
    /// Keys, groups and rule.
    pub spec: SealSpec,
    /// The default-rule note, without a program prefix.
    pub default_rule_note: Option<String>,
}

/// The creation rule of `config` that applies to `path` (a rule without `path_regex` when there is
/// no path, e.g. stdin without `--filename-override`).
fn creation_rule(req: &SealRequest<'_>) -> Result<Option<CreationRule>, CliError> {
    let name = req.name;
    Ok(match (req.config, req.path) {
        (Some(c), Some(p)) => match c.rule_for(Path::new(p)) {
            Ok(r) => r.cloned(),
            Err(SopsError::NoMatchingRule) => {
                return Err(CliError::new(format!(
                    "{name}: {} ({} has no rule for {p})",
                    SopsError::NoMatchingRule,
                    c.path.display()
                )))
            }
            Err(e) => return Err(CliError::in_file(name, e)),
        },
        (Some(c), None) => c
            .creation_rules
            .iter()
            .find(|r| r.path_regex.is_none())
            .cloned(),
        _ => None,
    })
}

/// The seal spec for a new file: the flag keys when given (one key group), else the keys of the
/// creation rule matching the request's path; the rule flag, else the creation rule's encryption
/// rule, else the Kubernetes default for `docs` ([`crate::k8s::default_rule`]). Fails in one line,
/// naming where `.sops.yaml` was looked for, when no key is left to encrypt with.
pub fn seal_spec(req: &SealRequest<'_>, docs: &[Branch]) -> Result<SealPlan, CliError> {
    let name = req.name;
    req.keys
        .check()
        .map_err(|e| CliError::new(format!("{name}: {e}")))?;
    let flag_keys = req.keys.recipients();
    let rule = creation_rule(req)?.map(|r| r.with_encryption_context(&req.keys.context()));
    if let (Some(c), None, None, true) = (req.config, req.path, &rule, flag_keys.is_empty()) {
        if !c.creation_rules.is_empty() {
            return Err(CliError::new(format!(
                "no creation rule of {} matches {name} (its rules have a path_regex, and {name} has no path): give --filename-override PATH, the path the rules should match, or --age/--pgp",
                c.path.display()
            )));
        }
    }
    let mut spec = SealSpec::default();
    if let Some(r) = &rule {
        if flag_keys.is_empty()
            && r.key_groups.iter().all(|g| g.is_empty())
            && !r.unsupported_keys.is_empty()
        {
            return Err(CliError::with_code(
                exit::NO_ENCRYPTION_KEY_FOUND,
                format!(
                    "{name}: the matching .sops.yaml rule only uses {} keys, which this tool cannot use yet; add an age or pgp key",
                    r.unsupported_keys.join(", ")
                ),
            ));
        }
        spec.groups = r.key_groups.clone();
        spec.shamir_threshold = r.shamir_threshold;
        spec.mac_only_encrypted = r.mac_only_encrypted;
    }
    if !flag_keys.is_empty() {
        spec.groups = vec![flag_keys];
        spec.shamir_threshold = 0;
    }
    if spec.groups.iter().all(Vec::is_empty) {
        return Err(CliError::new(format!(
            "{name}: {NO_KEYS} (--age, --pgp, --kms, --gcp-kms, --azure-kv, --hc-vault-transit; {})",
            describe(req.config, req.origin)
        )));
    }
    let mut default_rule_note = None;
    let from_config = rule
        .map(|r| r.rule)
        .filter(|r| *r != EncryptionRule::Default);
    spec.rule = match (req.rule, from_config) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => r,
        (None, None) => {
            let r = crate::k8s::default_rule(docs);
            // worth a word for Kubernetes objects (their conventions, or why they did not apply),
            // and when the keys did not come from the command line either
            let objects = docs.iter().any(crate::k8s::is_object);
            if r != EncryptionRule::Default || objects || req.keys.recipients().is_empty() {
                default_rule_note = Some(format!(
                    "{name}: no .sops.yaml rule or rule flag applies; {}",
                    crate::k8s::describe_default(&r)
                ));
            }
            r
        }
    };
    Ok(SealPlan {
        spec,
        default_rule_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`seal_spec`] for the file `path` (shown as `name`) with `keys` and, when given, the
    /// `.sops.yaml` text `config` found at `/r/.sops.yaml` (else none, searched from `/nowhere`).
    fn plan(
        config: Option<&str>,
        path: &str,
        name: &str,
        keys: &KeyFlags,
    ) -> Result<SealPlan, CliError> {
        let cfg = config.map(|c| Config::parse(c.as_bytes(), Path::new("/r/.sops.yaml")).unwrap());
        let origin = ConfigOrigin::SearchedFrom("/nowhere".into());
        let req = SealRequest {
            config: cfg.as_ref(),
            origin: &origin,
            path: Some(path),
            name,
            keys,
            rule: None,
        };
        seal_spec(&req, &[])
    }

    #[test]
    fn flag_keys_are_normalised_and_replace_the_rule_keys() {
        let k = KeyFlags {
            age: vec![" age1x ".into()],
            pgp: vec!["fbc7 b9e2\tA4".into()],
            ..Default::default()
        };
        assert_eq!(
            k.recipients(),
            vec![
                Recipient::Age("age1x".into()),
                Recipient::Pgp("FBC7B9E2A4".into())
            ]
        );
        let rule = "creation_rules:\n  - age: age1rule\n    encrypted_regex: ^x$\n";
        let plan = plan(Some(rule), "/r/a.yaml", "a.yaml", &k).unwrap();
        assert_eq!(plan.spec.groups, vec![k.recipients()]);
        assert_eq!(plan.spec.rule, EncryptionRule::EncryptedRegex("^x$".into()));
        assert!(plan.default_rule_note.is_none());
    }

    #[test]
    fn kms_and_vault_flags_with_context_and_profile() {
        let k = KeyFlags {
            kms: vec!["arn:aws:kms:eu-west-2:1:key/k+arn:aws:iam::1:role/r".into()],
            hc_vault_transit: vec!["http://127.0.0.1:8200/v1/transit/keys/sops/".into()],
            aws_profile: "dev".into(),
            encryption_context: "app:demo".into(),
            ..Default::default()
        };
        assert_eq!(k.check(), Ok(()));
        let ids: Vec<String> = k.recipients().iter().map(Recipient::id).collect();
        assert_eq!(
            ids,
            [
                "arn:aws:kms:eu-west-2:1:key/k+arn:aws:iam::1:role/r|app:demo|dev",
                "http://127.0.0.1:8200/v1/transit/keys/sops"
            ]
        );
        let bad = KeyFlags {
            hc_vault_transit: vec!["127.0.0.1:8200/v1/transit/keys/sops".into()],
            ..Default::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .starts_with("missing scheme"));
        let bad = KeyFlags {
            encryption_context: "app".into(),
            ..Default::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("invalid encryption context"));
    }

    #[test]
    fn no_key_anywhere_fails_like_sops_and_says_where_it_looked() {
        let e = plan(None, "a.yaml", "a.yaml", &KeyFlags::default()).unwrap_err();
        assert_eq!(e.code, exit::GENERIC);
        assert!(e.message.starts_with(&format!("a.yaml: {NO_KEYS}")));
        assert!(e.message.contains("/nowhere"), "{}", e.message);
    }

    #[test]
    fn a_path_no_rule_matches_is_named_with_the_config() {
        let rule = "creation_rules:\n  - path_regex: ^prod/\n    age: age1rule\n";
        let e = plan(
            Some(rule),
            "/r/dev/a.yaml",
            "dev/a.yaml",
            &KeyFlags::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, exit::GENERIC);
        assert!(e.message.contains("no matching creation rules found"));
        assert!(e
            .message
            .contains("/r/.sops.yaml has no rule for /r/dev/a.yaml"));
    }
}
