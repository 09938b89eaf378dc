//! `kubectl-sops check FILE…`: the pre-commit / CI gate. Exit 0 when every file is fine, 1 when a
//! problem was found, with one line `FILE: reason` per problem on stdout. Problems:
//!
//! - a file a `.sops.yaml` creation rule matches that is not encrypted;
//! - a Kubernetes `Secret` with plaintext `data`/`stringData` values (encrypted file or not);
//! - a Kubernetes `Secret` whose `data` holds a value that is not base64 (checked in the decrypted
//!   values when a key is at hand, and in plaintext files);
//! - a MAC mismatch (checked when a key is at hand; otherwise a note on stderr, or a problem with
//!   `--require-keys`);
//! - age/PGP recipients that differ from the matching creation rule.
//!
//! Files no rule matches that hold no Secret are fine, and so are files that do not parse (templates)
//! unless a rule matches them, or they look encrypted (`ENC[AES256_GCM,…]` values or a sops
//! metadata block): an encrypted file that no longer opens (merge-conflict markers, a broken quote)
//! is always a problem. `.sops.yaml` itself is never checked. Files skipped count in the summary
//! line `--all` ends with.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use clap::Args;
use sops_engine::config::{Config, CreationRule};
use sops_engine::error::exit;
use sops_engine::keys::KeyRing;
use sops_engine::rekey::{decrypt_with_key, plaintext_secret_values, recipient_drift, Target};
use sops_engine::stores::Format;
use sops_engine::SopsError;

use crate::io::{format_of, load_config, parse_format, store};
use crate::rekey::{job_count, parallel};
use crate::{one_line, CliError};

/// File name endings `--all` picks from `git ls-files` (the pre-commit hook's `files` pattern).
const FILE_ENDINGS: [&str; 5] = [".yaml", ".yml", ".json", ".env", ".ini"];

/// Arguments of `check`.
#[derive(Args)]
pub struct CheckArgs {
    /// Files to check (pre-commit passes the staged ones, relative to the working directory).
    #[arg(required_unless_present = "all")]
    pub files: Vec<String>,
    /// Check every YAML/JSON/dotenv/INI file below the working directory that git tracks or would
    /// (untracked files not ignored by .gitignore included); ends with a summary line.
    #[arg(long)]
    pub all: bool,
    /// Fail when the MAC of an encrypted file cannot be verified for lack of a key.
    #[arg(long)]
    pub require_keys: bool,
    /// Input format (default: from each file's extension).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
    /// Files checked at once (default: the number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Path of .sops.yaml (default: searched from the working directory upward).
    #[arg(long, env = "SOPS_CONFIG")]
    pub config: Option<PathBuf>,
}

/// What checking one file found.
#[derive(Default)]
struct Findings {
    problems: Vec<String>,
    notes: Vec<String>,
    /// Not looked at: `.sops.yaml`, or a file that does not parse and that no rule covers.
    skipped: bool,
}

fn rule_name(r: &CreationRule) -> String {
    match &r.path_regex {
        Some(re) => format!("creation rule with path_regex {re:?}"),
        None => "catch-all creation rule (no path_regex)".to_string(),
    }
}

fn is_config_file(name: &str, config: Option<&Config>) -> bool {
    let p = Path::new(name);
    if p.file_name().is_some_and(|f| f == ".sops.yaml") {
        return true;
    }
    match (config, p.canonicalize()) {
        (Some(c), Ok(abs)) => c.path.canonicalize().is_ok_and(|cp| cp == abs),
        _ => false,
    }
}

fn check_file(name: &str, a: &CheckArgs, config: Option<&Config>, keys: &KeyRing) -> Findings {
    let mut f = Findings::default();
    if is_config_file(name, config) {
        f.skipped = true;
        return f;
    }
    let input = match std::fs::read(name) {
        Ok(b) => b,
        Err(e) => {
            f.problems.push(format!("cannot read: {e}"));
            return f;
        }
    };
    let format = format_of(a.input_type, Some(name));
    let st = store(format, config);
    let rule = config.and_then(|c| c.rule_for(Path::new(name)).ok().flatten());
    match st.load_encrypted(&input) {
        Ok((docs, md)) => {
            let plain = plaintext_secret_values(&docs);
            if !plain.is_empty() {
                f.problems.push(format!(
                    "Kubernetes Secret with plaintext values at {} (the file is encrypted, but its rule leaves them in clear text)",
                    plain.join(", ")
                ));
            }
            let copies = sops_engine::k8s::readable_object_copies(&docs);
            if !copies.is_empty() {
                f.problems.push(copies_problem(&copies, name));
            }
            match keys.data_key(&md) {
                Ok(k) => match decrypt_with_key(docs, &md, &k, false) {
                    Ok((plain, _)) => {
                        let bad = sops_engine::k8s::non_base64_data(&plain);
                        if !bad.is_empty() {
                            f.problems.push(non_base64_problem(&bad));
                        }
                    }
                    Err(SopsError::MacMismatch | SopsError::NoMac | SopsError::MacDecrypt(_)) => {
                        f.problems.push(
                            "MAC mismatch: the file was changed outside sops or tampered with"
                                .into(),
                        )
                    }
                    Err(e) => f
                        .problems
                        .push(format!("does not decrypt: {}", one_line(&e.to_string()))),
                },
                Err(_) if a.require_keys => f.problems.push(
                    "MAC not verified: no key here can decrypt the file (--require-keys)".into(),
                ),
                Err(_) => f.notes.push("MAC not verified (no key)".into()),
            }
            if let Some(r) = rule {
                let (missing, extra) = recipient_drift(&md, &Target::from_rule(r));
                if !missing.is_empty() || !extra.is_empty() {
                    let mut why = Vec::new();
                    if !missing.is_empty() {
                        why.push(format!("missing {}", missing.join(", ")));
                    }
                    if !extra.is_empty() {
                        why.push(format!("extra {}", extra.join(", ")));
                    }
                    f.problems.push(format!(
                        "recipients differ from .sops.yaml ({}): {}; run `{} rekey {name}`",
                        rule_name(r),
                        why.join("; "),
                        crate::prog::name()
                    ));
                }
            }
        }
        Err(e) => {
            if let Some(sign) = sops_signature(&input) {
                // an encrypted file that no longer opens (merge conflict, broken quote, hand
                // edits): a failure whatever the rules say, so it cannot slip into a commit
                let why = match e {
                    SopsError::MetadataNotFound => "no sops metadata block".to_string(),
                    e => one_line(&e.to_string()),
                };
                f.problems
                    .push(format!("looks encrypted ({sign}) but does not open: {why}"));
                return f;
            }
            let not_encrypted = matches!(e, SopsError::MetadataNotFound)
                || (format == Format::Binary && matches!(e, SopsError::Parse { .. }));
            if !not_encrypted
                && matches!(
                    e,
                    SopsError::InvalidMetadata(_) | SopsError::InvalidVersion(_)
                )
            {
                f.problems.push(one_line(&e.to_string()));
                return f;
            }
            let plain_docs = match format {
                Format::Yaml | Format::Json => st.load_plain(&input).ok(),
                _ => None,
            };
            let mut secret_fields = plain_docs
                .as_deref()
                .map(plaintext_secret_values)
                .unwrap_or_default();
            // kubectl's copy of a Secret holds its data too
            if let Some(docs) = &plain_docs {
                let secrets: Vec<_> = docs
                    .iter()
                    .filter(|d| sops_engine::k8s::secret_kinds(d).is_some())
                    .cloned()
                    .collect();
                secret_fields.extend(sops_engine::k8s::readable_object_copies(&secrets));
            }
            if let Some(docs) = &plain_docs {
                let bad = sops_engine::k8s::non_base64_data(docs);
                if !bad.is_empty() {
                    f.problems.push(non_base64_problem(&bad));
                }
            } else if rule.is_none() && !not_encrypted {
                f.skipped = true;
            }
            let mut why = Vec::new();
            if !secret_fields.is_empty() {
                why.push(format!(
                    "Kubernetes Secret with plaintext values at {}",
                    secret_fields.join(", ")
                ));
            }
            if let Some(r) = rule {
                why.push(format!("the .sops.yaml {} matches it", rule_name(r)));
            }
            if !why.is_empty() {
                let what = if not_encrypted {
                    "not encrypted".to_string()
                } else {
                    format!("not a sops file ({})", one_line(&e.to_string()))
                };
                // without a rule, seal needs the recipients on the command line
                let seal = match rule {
                    Some(_) => format!("{} seal -i {name}", crate::prog::name()),
                    None => format!("{} seal -i --age RECIPIENT {name}", crate::prog::name()),
                };
                f.problems.push(format!(
                    "{what}: {}; encrypt it with `{seal}`",
                    why.join("; ")
                ));
            }
        }
    }
    f
}

/// The problem line for annotations that keep a readable copy of an object in an encrypted file.
fn copies_problem(copies: &[String], name: &str) -> String {
    format!(
        "readable copy of the object's values at {} (kubectl's last-applied-configuration, in clear text whatever the rule encrypts): remove it with `{} edit {name}`, then rotate the values it showed",
        copies.join(", "),
        crate::prog::name(),
    )
}

/// The problem line for Secret `data` entries that are not base64.
fn non_base64_problem(bad: &[String]) -> String {
    format!(
        "Kubernetes Secret with data that is not base64 at {} (Kubernetes rejects it; move the value to stringData, or encode it: `set --base64`)",
        bad.join(", ")
    )
}

/// What makes a file look like a sops file whatever its format: an `ENC[AES256_GCM,…]` value, or a
/// metadata block (`sops:` at the start of a line, a `"sops":` key, `sops_mac=`/`sops_version=`/
/// `sops_lastmodified=` lines, an `[sops]` section). `None` for anything else.
fn sops_signature(input: &[u8]) -> Option<&'static str> {
    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }
    if contains(input, b"ENC[AES256_GCM,") {
        return Some("ENC[AES256_GCM,...] values");
    }
    for line in input.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = line.trim_ascii_start();
        let md_block = line.starts_with(b"sops:")
            || trimmed.starts_with(b"\"sops\"")
            || trimmed.starts_with(b"[sops]")
            || [&b"sops_mac="[..], b"sops_version=", b"sops_lastmodified="]
                .iter()
                .any(|p| line.starts_with(p));
        if md_block {
            return Some("a sops metadata block");
        }
    }
    None
}

/// `git ls-files` below the working directory, tracked and untracked-but-not-ignored, filtered by
/// [`FILE_ENDINGS`].
fn git_files() -> Result<Vec<String>> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .map_err(|e| CliError {
            code: exit::GENERIC,
            message: format!("--all: cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(CliError {
            code: exit::GENERIC,
            message: format!(
                "--all: git ls-files failed: {}",
                one_line(&String::from_utf8_lossy(&out.stderr))
            ),
        }
        .into());
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .filter(|p| FILE_ENDINGS.iter().any(|e| p.ends_with(e)) && Path::new(p).is_file())
        .collect())
}

/// Runs `check`.
pub fn run(a: CheckArgs) -> Result<()> {
    let config = load_config(a.config.as_deref())?;
    let mut files = a.files.clone();
    if a.all {
        for f in git_files()? {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    let keys = KeyRing::default();
    let jobs = job_count(a.jobs);
    let findings = parallel(files.len(), jobs, |i| {
        check_file(&files[i], &a, config.as_ref(), &keys)
    });
    let mut problems = 0;
    let mut bad_files = 0;
    let skipped = findings.iter().filter(|f| f.skipped).count();
    for (name, f) in files.iter().zip(&findings) {
        for n in &f.notes {
            eprintln!("{name}: note: {n}");
        }
        for p in &f.problems {
            println!("{name}: {p}");
        }
        problems += f.problems.len();
        bad_files += usize::from(!f.problems.is_empty());
    }
    let summary = format!(
        "check: {} file(s) checked, {skipped} skipped, {bad_files} failed",
        files.len() - skipped
    );
    if problems > 0 {
        return Err(CliError {
            code: exit::GENERIC,
            message: format!(
                "{summary} ({problems} problem(s) in {bad_files} of {} file(s))",
                files.len()
            ),
        }
        .into());
    }
    if a.all {
        eprintln!("{}: {summary}", crate::prog::name());
    }
    Ok(())
}
