//! `helm secrets encrypt|enc|decrypt|dec|view|edit` on values files, with the engine, the
//! `.sops.yaml` creation rules and the stable ciphertext of kubectl-sops:
//!
//! - `encrypt [-i] [--output F] [--age R,…] [--pgp FP,…] FILE`: keys from the flags, else
//!   `SOPS_AGE_RECIPIENTS`/`SOPS_PGP_FP`, else the matching creation rule. Encrypting onto an
//!   `--output` that already holds an encrypted version keeps the data key and the ciphertext of
//!   every unchanged value.
//! - `decrypt [-i] [--output F] FILE`, `view FILE`: plaintext to stdout (or in place / to a new
//!   0600 file when asked).
//! - `edit [--allow-disk-temp] FILE`: the shared editor session (plaintext only on tmpfs); unchanged
//!   values keep their ciphertext. A new file is encrypted with the matching creation rule.

use std::path::{Path, PathBuf};

use sops_engine::config::Config;
use sops_engine::editor::{self, EditOptions};
use sops_engine::error::exit;
use sops_engine::file::{open, open_read_only, prepare_new, reseal, seal, seal_to_bytes, SealSpec};
use sops_engine::keys::Recipient;
use sops_engine::signals;
use sops_engine::stores::{Format, Store};
use sops_engine::tree::Branch;
use sops_engine::SopsError;
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::settings::Settings;

/// `helm secrets encrypt --help`.
pub const ENCRYPT_USAGE: &str = "\
helm secrets [ OPTIONS ] encrypt [ -i ] [ --output FILE ] [ --age R,... ] [ --pgp FP,... ] <path to file>

Encrypt a values file with the creation rules of the .sops.yaml found from the file's directory
upward (or the keys given). Prints the encrypted file, or writes it in place with -i.
";
/// `helm secrets decrypt --help`.
pub const DECRYPT_USAGE: &str = "\
helm secrets [ OPTIONS ] decrypt [ -i ] [ --terraform ] [ --output FILE ] <path to file or URL>

Decrypt a values file: to stdout, in place with -i, or as {\"content_base64\": ...} with --terraform.
";
/// `helm secrets view --help`.
pub const VIEW_USAGE: &str = "\
helm secrets [ OPTIONS ] view <path to file or URL>

Print the decrypted values file.
";
/// `helm secrets edit --help`.
pub const EDIT_USAGE: &str = "\
helm secrets [ OPTIONS ] edit <path to file>

Edit the decrypted values file in $EDITOR (plaintext only on a private tmpfs dir); a new file is
encrypted with the creation rule of the .sops.yaml found from its directory upward.
";

/// Editor variables for `edit`, first set wins (as `sops edit`).
const EDITOR_VARS: &[&str] = &["SOPS_EDITOR", "EDITOR", "VISUAL"];

/// The options of one command.
#[derive(Default, Debug)]
struct Opts {
    file: Option<String>,
    in_place: bool,
    output: Option<String>,
    age: Vec<String>,
    pgp: Vec<String>,
    allow_disk_temp: bool,
    terraform: bool,
}

fn parse(cmd: &str, args: &[String], allowed: &[&str]) -> Result<Opts, Failure> {
    let mut o = Opts::default();
    let mut it = args.iter();
    let usage = |m: String| Failure {
        code: exit::CONFLICTING_PARAMETERS,
        message: format!("{cmd}: {m}"),
    };
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let known = |f: &str| allowed.contains(&f);
        let mut value = |f: &str| -> Result<String, Failure> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| usage(format!("{f} needs a value")))
        };
        match flag {
            "-i" | "--in-place" if known("-i") => o.in_place = true,
            "--output" if known("--output") => o.output = Some(value(flag)?),
            "--age" if known("--age") => o.age.extend(split_list(&value(flag)?)),
            "--pgp" if known("--pgp") => o.pgp.extend(split_list(&value(flag)?)),
            "--allow-disk-temp" if known("--allow-disk-temp") => o.allow_disk_temp = true,
            "--terraform" if known("--terraform") => o.terraform = true,
            f if f.starts_with('-') && f != "-" => {
                return Err(usage(format!("unknown option {f}")))
            }
            _ if o.file.is_none() => o.file = Some(a.clone()),
            _ => {
                return Err(usage(format!(
                    "unexpected argument {a:?} (one file at a time)"
                )))
            }
        }
    }
    if o.file.is_none() {
        return Err(usage("no file given".into()));
    }
    if o.in_place && o.output.is_some() {
        return Err(usage("-i and --output cannot be used together".into()));
    }
    Ok(o)
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `--backend-args --config`, else `SOPS_CONFIG`, else `.sops.yaml` from the directory of `file`
/// upward (helm-secrets runs sops there), else from the working directory upward.
fn load_config(file: &str, s: &Settings) -> Result<Option<Config>, Failure> {
    let explicit = s.sops_args.config.clone().or_else(|| {
        std::env::var_os("SOPS_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let explicit = explicit.or_else(|| {
        if crate::remote::is_remote(file) {
            return None;
        }
        let abs = std::path::absolute(file).ok()?;
        sops_engine::config::find_config(abs.parent()?)
    });
    sops_engine::config::load_config(explicit.as_deref()).map_err(|e| Failure {
        code: e.exit_code(),
        message: e.to_string(),
    })
}

/// The store for `file`: `--backend-args --input-type`, else by extension or content
/// ([`crate::decrypt::sniff_format`]).
fn store(file: &str, bytes: &[u8], config: Option<&Config>, s: &Settings) -> Box<dyn Store> {
    let format = s
        .sops_args
        .input_type
        .unwrap_or_else(|| crate::decrypt::sniff_format(crate::input::format_name(file), bytes));
    sops_engine::config::store_with(format, config)
}

/// The store a new plaintext file is read and encrypted with (YAML for unknown extensions).
fn plain_store(file: &str, config: Option<&Config>, s: &Settings) -> Box<dyn Store> {
    let lower = file.to_ascii_lowercase();
    let known = [".yaml", ".yml", ".json", ".env", ".ini"]
        .iter()
        .any(|e| lower.ends_with(e));
    let format = s.sops_args.input_type.unwrap_or(if known {
        Format::from_path(file)
    } else {
        Format::Yaml
    });
    sops_engine::config::store_with(format, config)
}

/// The bytes of a local file or URL; a missing one in helm-secrets' words.
fn read(file: &str, s: &Settings) -> Result<Vec<u8>, Failure> {
    crate::input::load(file, &crate::remote::Tls::default(), s).map_err(|e| e.into_failure())
}

/// The key ring, with `HELM_SECRETS_LOAD_GPG_KEYS` imported (kept alive with the GnuPG home).
fn keys(s: &Settings) -> Result<crate::keys::Keys, Failure> {
    crate::keys::for_import(&crate::source::KeyImport::None, s)
}

/// Writes to stdout, or to `target` through the shared atomic writer.
fn write(bytes: &[u8], target: Option<&str>, new_mode: u32) -> Result<(), Failure> {
    sops_engine::output::write_stdout_or_file(bytes, target, new_mode).map_err(|(what, e)| {
        Failure {
            code: exit::COULD_NOT_WRITE_OUTPUT,
            message: format!("{what}: {e}"),
        }
    })
}

/// The seal spec: recipients from flags or `SOPS_AGE_RECIPIENTS`/`SOPS_PGP_FP`, else the creation
/// rule matching `file`; the rule's encryption rule, else sops' default.
fn seal_spec(o: &Opts, config: Option<&Config>, file: &str) -> Result<SealSpec, Failure> {
    let env_list = |k: &str| std::env::var(k).map(|v| split_list(&v)).unwrap_or_default();
    let age = if o.age.is_empty() {
        env_list("SOPS_AGE_RECIPIENTS")
    } else {
        o.age.clone()
    };
    let pgp = if o.pgp.is_empty() {
        env_list("SOPS_PGP_FP")
    } else {
        o.pgp.clone()
    };
    let flag_keys: Vec<Recipient> = age
        .into_iter()
        .map(Recipient::Age)
        .chain(
            pgp.into_iter()
                .map(|p| Recipient::Pgp(p.replace(' ', "").to_uppercase())),
        )
        .collect();
    let rule = match config {
        Some(c) => c
            .rule_for(Path::new(file))
            .map_err(|e| Failure::engine(file, e))?
            .cloned(),
        None => None,
    };
    let mut spec = SealSpec::default();
    if let Some(r) = &rule {
        spec.groups = r.key_groups.clone();
        spec.shamir_threshold = r.shamir_threshold;
        spec.mac_only_encrypted = r.mac_only_encrypted;
        spec.rule = r.rule.clone();
    }
    if !flag_keys.is_empty() {
        spec.groups = vec![flag_keys];
        spec.shamir_threshold = 0;
    }
    if spec.groups.iter().all(Vec::is_empty) {
        let why = match &rule {
            Some(r) if !r.unsupported_keys.is_empty() => format!(
                "the matching .sops.yaml rule only uses {} keys, which this tool cannot use; add an age or pgp key",
                r.unsupported_keys.join(", ")
            ),
            _ => "config file not found, or has no creation rules, and no keys provided through command line options (--age, --pgp, SOPS_AGE_RECIPIENTS)".into(),
        };
        return Err(Failure {
            code: exit::NO_ENCRYPTION_KEY_FOUND,
            message: format!("{file}: {why}"),
        });
    }
    Ok(spec)
}

/// `encrypt`.
pub fn encrypt(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("encrypt", args, &["-i", "--output", "--age", "--pgp"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let config = load_config(file, s)?;
    let st = plain_store(file, config.as_ref(), s);
    let input = read(file, s)?;
    let docs = st
        .load_plain(&input)
        .map_err(|e| Failure::engine(file, e))?;
    drop(input);
    if st.has_metadata(&docs) {
        return Err(Failure::engine(file, SopsError::AlreadyEncrypted));
    }
    let spec = seal_spec(&o, config.as_ref(), file)?;
    let keyring = keys(s)?;
    let keys = &keyring.ring;
    let target = if o.in_place {
        Some(file)
    } else {
        o.output.as_deref()
    };
    // stable ciphertext: the current encrypted version of --output, when it opens with our keys
    let previous = match o.output.as_deref() {
        Some(t) if Path::new(t).is_file() => {
            let bytes = std::fs::read(t).unwrap_or_default();
            open(
                &bytes,
                store(t, &bytes, config.as_ref(), s).as_ref(),
                keys,
                false,
            )
            .ok()
        }
        _ => None,
    };
    let bytes = seal_to_bytes(docs, &spec, keys, previous, st.as_ref())
        .map_err(|e| Failure::engine(file, e))?;
    write(&bytes, target, sops_engine::output::default_mode())
}

fn decrypted(file: &str, s: &Settings) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let config = load_config(file, s)?;
    let input = read(file, s)?;
    let st = store(file, &input, config.as_ref(), s);
    let shown = crate::input::shown(file);
    let keyring = keys(s)?;
    let opened = open_read_only(&input, st.as_ref(), &keyring.ring, s.sops_args.ignore_mac)
        .map_err(|e| match e {
            SopsError::MetadataNotFound => Failure {
                code: e.exit_code(),
                message: format!("File is not encrypted: {shown}"),
            },
            e => Failure::engine(&shown, e),
        })?;
    drop(input);
    let out = match s.sops_args.output_type {
        Some(f) => sops_engine::config::store_with(f, config.as_ref()).emit_plain(&opened.docs),
        None => st.emit_plain(&opened.docs),
    };
    Ok(Zeroizing::new(out.map_err(|e| Failure::engine(&shown, e))?))
}

/// `decrypt`.
pub fn decrypt(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("decrypt", args, &["-i", "--output", "--terraform"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let plain = decrypted(file, s)?;
    if o.terraform {
        use base64::Engine;
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&plain[..]));
        let json = Zeroizing::new(format!("{{\"content_base64\":\"{}\"}}", b64.as_str()));
        return write(json.as_bytes(), None, 0o600);
    }
    let target = if o.in_place {
        Some(file)
    } else {
        o.output.as_deref()
    };
    write(&plain, target, 0o600)
}

/// `view`.
pub fn view(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("view", args, &[])?;
    let plain = decrypted(o.file.as_deref().unwrap_or_default(), s)?;
    write(&plain, None, 0o600)
}

/// `edit`.
pub fn edit(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("edit", args, &["--allow-disk-temp", "--age", "--pgp"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let config = load_config(file, s)?;
    let keyring = keys(s)?;
    let keys = &keyring.ring;
    let (st, existing, plaintext) = if Path::new(file).exists() {
        let input = read(file, s)?;
        let st = store(file, &input, config.as_ref(), s);
        let mut opened = open(&input, st.as_ref(), keys, s.sops_args.ignore_mac)
            .map_err(|e| Failure::engine(file, e))?;
        let docs = std::mem::take(&mut opened.docs);
        let text = st.emit_plain(&docs).map_err(|e| Failure::engine(file, e))?;
        (st, Existing::File(opened), Zeroizing::new(text))
    } else {
        // wrap the data key first, so an unusable key fails before anything is typed
        let spec = seal_spec(&o, config.as_ref(), file)?;
        let prepared = prepare_new(&spec, keys).map_err(|e| Failure::engine(file, e))?;
        (
            plain_store(file, config.as_ref(), s),
            Existing::New(prepared, spec),
            Zeroizing::new(Vec::new()),
        )
    };
    let parse_docs = |bytes: &[u8]| -> Result<Vec<Branch>, SopsError> {
        let docs = st.load_plain(bytes)?;
        if st.has_metadata(&docs) {
            return Err(SopsError::AlreadyEncrypted);
        }
        Ok(docs)
    };
    let guard = signals::install();
    let opts = EditOptions {
        editor_vars: EDITOR_VARS,
        allow_disk_temp: o.allow_disk_temp,
        tool: "[helm-secrets]",
    };
    let edited = editor::edit_in_private_dir(file, &plaintext, &opts, parse_docs);
    drop(plaintext);
    let edit_failure = |e: editor::EditError| Failure {
        code: e.exit_code(),
        message: e.to_string(),
    };
    let docs = edited.map_err(edit_failure)?;
    let sealed = match existing {
        Existing::File(opened) => reseal(opened, docs),
        Existing::New(prepared, spec) => seal(docs, &spec, keys, Some(prepared)),
    }
    .and_then(|(docs, md)| st.emit_encrypted(&docs, &md))
    .map_err(|e| Failure::engine(file, e))?;
    editor::interrupted(file).map_err(edit_failure)?;
    write(&sealed, Some(file), sops_engine::output::default_mode())?;
    drop(guard);
    Ok(())
}

/// What the edited text is sealed onto.
enum Existing {
    File(sops_engine::file::Opened),
    New(sops_engine::file::Opened, SealSpec),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn option_parsing() {
        let o = parse(
            "encrypt",
            &a(&["--age=x,y", "-i", "f.yaml"]),
            &["-i", "--age"],
        )
        .unwrap();
        assert!(o.in_place);
        assert_eq!(o.age, ["x", "y"]);
        assert_eq!(o.file.as_deref(), Some("f.yaml"));
        assert!(parse("view", &a(&["-i", "f"]), &[]).is_err());
        assert!(parse("view", &a(&[]), &[]).is_err());
        assert!(parse("view", &a(&["a", "b"]), &[]).is_err());
        assert!(parse(
            "decrypt",
            &a(&["-i", "--output", "o", "f"]),
            &["-i", "--output"]
        )
        .is_err());
    }
}
