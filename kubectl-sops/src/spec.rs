//! What to seal with when the command line does not say: the matching `.sops.yaml` creation rule,
//! then the Kubernetes conventions of `sops_engine::k8s`.

use std::path::Path;

use anyhow::Result;
use sops_engine::config::{Config, CreationRule};
use sops_engine::error::exit;
use sops_engine::file::SealSpec;
use sops_engine::keys::Recipient;
use sops_engine::metadata::EncryptionRule;
use sops_engine::tree::Branch;

use crate::{in_file, CliError};

/// Recipients given with `--age` and `--pgp` (comma lists already split by clap), in that order.
fn recipients_from_flags(age: &[String], pgp: &[String]) -> Vec<Recipient> {
    let age = age.iter().map(|r| r.trim()).filter(|r| !r.is_empty());
    let pgp = pgp
        .iter()
        .map(|r| r.replace(' ', "").to_uppercase())
        .filter(|r| !r.is_empty());
    age.map(|r| Recipient::Age(r.to_string()))
        .chain(pgp.map(Recipient::Pgp))
        .collect()
}

/// The creation rule of `config` that applies to `path` (a rule without `path_regex` when there is no
/// path, e.g. stdin without `--filename-override`).
fn creation_rule(
    config: Option<&Config>,
    path: Option<&str>,
    name: &str,
) -> Result<Option<CreationRule>> {
    Ok(match (config, path) {
        (Some(c), Some(p)) => match c.rule_for(Path::new(p)) {
            Ok(r) => r.cloned(),
            Err(sops_engine::SopsError::Config(m)) if m == "no matching creation rules found" => {
                return Err(CliError::err(
                    exit::GENERIC,
                    format!(
                        "{name}: no matching creation rules found ({} has no rule for {p})",
                        c.path.display()
                    ),
                ))
            }
            Err(e) => return Err(in_file(name, e).into()),
        },
        (Some(c), None) => c
            .creation_rules
            .iter()
            .find(|r| r.path_regex.is_none())
            .cloned(),
        _ => None,
    })
}

/// The seal spec for a new file: the `--age`/`--pgp` recipients when given (one key group), else the
/// keys of the creation rule matching `path`; the rule's encryption rule, else the Kubernetes default
/// (`sops_engine::k8s`); with `announce_default` (the caller has no rule flag and no `--quiet`) also
/// the one line that says so, for the caller to print on stderr once the file is written (not when
/// the keys came from the command line and no document is a Kubernetes object). Errors when no flag key is
/// given and the rule only names key kinds this tool cannot use.
pub fn seal_spec(
    config: Option<&Config>,
    path: Option<&str>,
    name: &str,
    docs: &[Branch],
    age: &[String],
    pgp: &[String],
    announce_default: bool,
) -> Result<(SealSpec, Option<String>)> {
    let flag_keys = recipients_from_flags(age, pgp);
    let keys_from_flags = !flag_keys.is_empty();
    let rule = creation_rule(config, path, name)?;
    if let (Some(c), None, None, true) = (config, path, &rule, flag_keys.is_empty()) {
        if !c.creation_rules.is_empty() {
            return Err(CliError::err(
                exit::GENERIC,
                format!(
                    "no creation rule of {} matches {name} (its rules have a path_regex, and {name} has no path): give --filename-override PATH, the path the rules should match, or --age/--pgp",
                    c.path.display()
                ),
            ));
        }
    }
    let mut spec = SealSpec::default();
    if let Some(r) = &rule {
        if flag_keys.is_empty()
            && r.key_groups.iter().all(|g| g.is_empty())
            && !r.unsupported_keys.is_empty()
        {
            return Err(CliError::err(
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
    let mut note = None;
    spec.rule = match rule
        .map(|r| r.rule)
        .filter(|r| *r != EncryptionRule::Default)
    {
        Some(r) => r,
        None => {
            let r = sops_engine::k8s::default_rule(docs);
            // keys on the command line and no Kubernetes object: sops' default is what the user
            // expects, nothing to announce
            let k8s = docs.iter().any(sops_engine::k8s::is_object);
            if announce_default && (k8s || !keys_from_flags) {
                note = Some(format!(
                    "{}: {name}: no .sops.yaml rule or rule flag applies; {}",
                    crate::prog::name(),
                    sops_engine::k8s::describe_default(&r)
                ));
            }
            r
        }
    };
    Ok((spec, note))
}
