//! `kubectl-sops seal`: encrypt to stdout, a file, or in place. Sealing onto an existing encrypted
//! file keeps its data key and the ciphertext of every unchanged value.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use sops_engine::file::{open, seal_to_bytes};
use sops_engine::keys::KeyRing;
use sops_engine::metadata::EncryptionRule;
use sops_engine::stores::Format;
use sops_engine::SopsError;

use crate::in_file;
use crate::io::{
    check_output_flags, display_name, parse_format, read_input, require_existing, stores,
    write_output,
};
use sops_engine::cli::spec::{seal_spec, SealRequest};

/// Arguments of `seal`.
#[derive(Args)]
pub struct SealArgs {
    /// Plaintext file (`-` or nothing for stdin).
    pub file: Option<String>,
    /// Replace FILE with its encrypted form (atomically).
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write to this file instead of stdout. If it already holds an encrypted version that opens with
    /// your keys, unchanged values keep their exact ciphertext.
    #[arg(long)]
    pub output: Option<String>,
    /// Input format (default: from the extension; stdin: yaml).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
    /// Output format (default: the input format).
    #[arg(long, value_parser = parse_format)]
    pub output_type: Option<Format>,
    /// Path used for format detection and .sops.yaml rule matching (for stdin).
    #[arg(long)]
    pub filename_override: Option<String>,
    #[command(flatten)]
    pub keys: crate::service_keys::KeyArgs,
    /// Encrypt only values under keys matching this regex.
    #[arg(long, group = "rule")]
    pub encrypted_regex: Option<String>,
    /// Leave values under keys matching this regex in clear text.
    #[arg(long, group = "rule")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values under keys ending with this suffix.
    #[arg(long, group = "rule")]
    pub encrypted_suffix: Option<String>,
    /// Leave values under keys ending with this suffix in clear text (default `_unencrypted`).
    #[arg(long, group = "rule")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values after a comment matching this regex.
    #[arg(long, group = "rule")]
    pub encrypted_comment_regex: Option<String>,
    /// Leave values after a comment matching this regex in clear text.
    #[arg(long, group = "rule")]
    pub unencrypted_comment_regex: Option<String>,
    /// Compute the MAC over encrypted values only.
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Shamir threshold when .sops.yaml defines several key groups.
    #[arg(long = "shamir-secret-sharing-threshold")]
    pub shamir_threshold: Option<usize>,
    /// Path of .sops.yaml (default: searched from the working directory upward).
    #[arg(long, env = "SOPS_CONFIG")]
    pub config: Option<PathBuf>,
    /// No notes on stderr (which default rule applied, which annotation was dropped).
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl SealArgs {
    fn flag_rule(&self) -> Option<EncryptionRule> {
        let pick = |v: &Option<String>, f: fn(String) -> EncryptionRule| v.clone().map(f);
        pick(&self.encrypted_regex, EncryptionRule::EncryptedRegex)
            .or_else(|| pick(&self.unencrypted_regex, EncryptionRule::UnencryptedRegex))
            .or_else(|| pick(&self.encrypted_suffix, EncryptionRule::EncryptedSuffix))
            .or_else(|| pick(&self.unencrypted_suffix, EncryptionRule::UnencryptedSuffix))
            .or_else(|| {
                pick(
                    &self.encrypted_comment_regex,
                    EncryptionRule::EncryptedCommentRegex,
                )
            })
            .or_else(|| {
                pick(
                    &self.unencrypted_comment_regex,
                    EncryptionRule::UnencryptedCommentRegex,
                )
            })
    }
}

/// The one line printed when `--output` names an encrypted file that does not open here: it is
/// replaced by a new encryption, and its recipients that the new one does not list lose access.
fn replaced_note(
    target: &str,
    bytes: &[u8],
    store: &dyn sops_engine::stores::Store,
    spec: &sops_engine::file::SealSpec,
    e: &SopsError,
) -> String {
    let new: Vec<String> = spec.groups.iter().flatten().map(|r| r.id()).collect();
    let dropped: Vec<String> = match store.load_encrypted(bytes) {
        Ok((_, md)) => md
            .all_keys()
            .map(|k| k.describe())
            .filter(|k| !new.contains(k))
            .collect(),
        Err(_) => Vec::new(),
    };
    let why = match e {
        SopsError::DataKey(_) => "no key here can decrypt it".to_string(),
        other => crate::one_line(&other.to_string()),
    };
    let fate = if dropped.is_empty() {
        "its recipients are all kept".to_string()
    } else {
        format!("its recipient(s) {} lose access", dropped.join(", "))
    };
    let new = if new.is_empty() {
        "no recipient".to_string()
    } else {
        new.join(", ")
    };
    format!(
        "{}: note: {target}: {why}, so it is replaced by a new encryption (new data key, every value re-encrypted) for {new}; {fate}",
        crate::prog::name(),
    )
}

/// Runs `seal`.
pub fn run(a: SealArgs) -> Result<()> {
    let file = a.file.as_deref();
    let name = display_name(file);
    check_output_flags(a.in_place, a.output.as_deref(), file)?;
    require_existing(file)?;
    let path_for_rules = a
        .filename_override
        .as_deref()
        .or(file.filter(|f| *f != "-"));
    let stores = stores(
        a.config.as_deref(),
        a.input_type,
        a.output_type,
        path_for_rules,
    )?;
    let input = read_input(file)?;
    let mut docs = stores
        .input
        .load_plain(&input)
        .map_err(|e| in_file(name, e))?;
    if stores.input.has_metadata(&docs) {
        return Err(in_file(name, SopsError::AlreadyEncrypted).into());
    }
    // kubectl's copy of the whole object (a Secret's data in base64) would stay readable under any
    // rule that keeps metadata in clear: it goes, and `kubectl apply` writes it again
    let dropped = sops_engine::k8s::drop_object_copies(&mut docs);

    // Keys and rule: flags first, then the matching .sops.yaml creation rule.
    let flag_rule = a.flag_rule();
    let plan = seal_spec(
        &SealRequest {
            config: stores.config.as_ref(),
            origin: &stores.config_origin,
            path: path_for_rules,
            name,
            keys: &a.keys.key_flags(),
            rule: flag_rule.as_ref(),
        },
        &docs,
    )?;
    let mut spec = plan.spec;
    spec.mac_only_encrypted |= a.mac_only_encrypted;
    if let Some(t) = a.shamir_threshold {
        spec.shamir_threshold = t;
    }

    let keys = KeyRing::default();
    let target = if a.in_place {
        file
    } else {
        a.output.as_deref()
    };
    let out_store = stores.output;
    // Stable ciphertext: open the current encrypted version of the target, if any.
    let previous = match target.filter(|_| !a.in_place) {
        Some(t) if Path::new(t).is_file() => {
            let bytes = std::fs::read(t).unwrap_or_default();
            match open(&bytes, out_store.as_ref(), &keys, false) {
                Ok(o) => Some(o),
                Err(SopsError::MetadataNotFound) => None,
                Err(e) => {
                    eprintln!(
                        "{}",
                        replaced_note(t, &bytes, out_store.as_ref(), &spec, &e)
                    );
                    None
                }
            }
        }
        _ => None,
    };
    let bytes = seal_to_bytes(docs, &spec, &keys, previous, out_store.as_ref())
        .map_err(|e| in_file(name, e))?;
    write_output(&bytes, target)?;
    if let Some(note) = plan.default_rule_note.filter(|_| !a.quiet) {
        eprintln!("{}: {note}", crate::prog::name());
    }
    if !dropped.is_empty() && !a.quiet {
        eprintln!(
            "{}: {name}: note: dropped {}: a readable copy of the object and its values (kubectl apply writes it again)",
            crate::prog::name(),
            dropped.join(", ")
        );
    }
    Ok(())
}
