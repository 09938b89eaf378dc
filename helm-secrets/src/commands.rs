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

use std::path::Path;

use sops_engine::cli::edit::{self as cli_edit, EditBase};
use sops_engine::cli::io::{self, ConfigLookup};
use sops_engine::cli::spec::{self, KeyFlags, SealRequest};
use sops_engine::editor::{self, EditOptions};
use sops_engine::error::exit;
use sops_engine::file::{open, open_read_only, seal_to_bytes, SealSpec};
use sops_engine::signals;
use sops_engine::stores::Store;
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
            "--age" if known("--age") => o.age.extend(KeyFlags::split(&value(flag)?)),
            "--pgp" if known("--pgp") => o.pgp.extend(KeyFlags::split(&value(flag)?)),
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
    io::check_output_flags(o.in_place, o.output.as_deref(), o.file.as_deref())?;
    Ok(o)
}

/// The `.sops.yaml` of FILE: `--backend-args --config`, else `SOPS_CONFIG`, else searched from the
/// file's directory upward as helm-secrets does (it runs sops there; the working directory for a URL).
fn config(file: &str, s: &Settings) -> Result<ConfigLookup, Failure> {
    let start = if crate::remote::is_remote(file) {
        None
    } else {
        io::dir_of(Some(file))
    };
    ConfigLookup::find(s.sops_args.config.as_deref(), start)
}

/// The store for an encrypted FILE: `--backend-args --input-type`, else by extension or content
/// ([`crate::decrypt::sniff_format`]: `.gotpl` and the like are YAML).
fn store(file: &str, bytes: &[u8], lookup: &ConfigLookup, s: &Settings) -> Box<dyn Store> {
    let format = s
        .sops_args
        .input_type
        .unwrap_or_else(|| crate::decrypt::sniff_format(crate::input::format_name(file), bytes));
    io::store(format, lookup.config.as_ref())
}

/// The store a plaintext FILE is read with: `--input-type`, else its extension, YAML when unknown
/// (helm values files).
fn plain_store(file: &str, lookup: &ConfigLookup, s: &Settings) -> Box<dyn Store> {
    let lower = file.to_ascii_lowercase();
    let known = [".yaml", ".yml", ".json", ".env", ".ini"]
        .iter()
        .any(|e| lower.ends_with(e));
    let format = s.sops_args.input_type.unwrap_or(if known {
        io::format_of(None, Some(file))
    } else {
        sops_engine::stores::Format::Yaml
    });
    io::store(format, lookup.config.as_ref())
}

/// The bytes of a local file or URL; a missing one in helm-secrets' words.
fn read(file: &str, s: &Settings) -> Result<Vec<u8>, Failure> {
    crate::input::load(file, &crate::remote::Tls::default(), s).map_err(|e| e.into_failure())
}

/// The key ring with `HELM_SECRETS_LOAD_GPG_KEYS` imported (keep it alive: it owns the GnuPG home).
fn keys(s: &Settings) -> Result<crate::keys::Keys, Failure> {
    crate::keys::for_import(&crate::source::KeyImport::None, s)
}

/// The seal spec of FILE: keys from `--age`/`--pgp`, else `SOPS_AGE_RECIPIENTS`/`SOPS_PGP_FP`,
/// else the creation rule matching FILE (the shared [`spec::seal_spec`]).
fn seal_spec(
    o: &Opts,
    lookup: &ConfigLookup,
    file: &str,
    docs: &[Branch],
) -> Result<SealSpec, Failure> {
    let keys = KeyFlags {
        age: o.age.clone(),
        pgp: o.pgp.clone(),
        ..KeyFlags::default()
    }
    .or_env();
    let plan = spec::seal_spec(
        &SealRequest {
            config: lookup.config.as_ref(),
            origin: &lookup.origin,
            path: Some(file),
            name: file,
            keys: &keys,
            rule: None,
        },
        docs,
    )?;
    Ok(plan.spec)
}

/// `encrypt`.
pub fn encrypt(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("encrypt", args, &["-i", "--output", "--age", "--pgp"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let lookup = config(file, s)?;
    let st = plain_store(file, &lookup, s);
    let input = read(file, s)?;
    let docs = st
        .load_plain(&input)
        .map_err(|e| Failure::in_file(file, e))?;
    drop(input);
    if st.has_metadata(&docs) {
        return Err(Failure::in_file(file, SopsError::AlreadyEncrypted));
    }
    let spec = seal_spec(&o, &lookup, file, &docs)?;
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
            let out = store(t, &bytes, &lookup, s);
            open(&bytes, out.as_ref(), keys, false).ok()
        }
        _ => None,
    };
    let bytes = seal_to_bytes(docs, &spec, keys, previous, st.as_ref())
        .map_err(|e| Failure::in_file(file, e))?;
    io::write_output(&bytes, target)
}

fn decrypted(file: &str, s: &Settings) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let lookup = config(file, s)?;
    let input = read(file, s)?;
    let st = store(file, &input, &lookup, s);
    let shown = crate::input::shown(file);
    let keyring = keys(s)?;
    let opened = open_read_only(&input, st.as_ref(), &keyring.ring, s.sops_args.ignore_mac)
        .map_err(|e| match e {
            SopsError::MetadataNotFound => {
                Failure::with_code(e.exit_code(), format!("File is not encrypted: {shown}"))
            }
            e => Failure::in_file(&shown, e),
        })?;
    drop(input);
    let out = match s.sops_args.output_type {
        Some(f) => io::store(f, lookup.config.as_ref()).emit_plain(&opened.docs),
        None => st.emit_plain(&opened.docs),
    };
    Ok(Zeroizing::new(
        out.map_err(|e| Failure::in_file(&shown, e))?,
    ))
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
        return io::write_plaintext_output(json.as_bytes(), None);
    }
    let target = if o.in_place {
        Some(file)
    } else {
        o.output.as_deref()
    };
    io::write_plaintext_output(&plain, target)
}

/// `view`.
pub fn view(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("view", args, &[])?;
    let plain = decrypted(o.file.as_deref().unwrap_or_default(), s)?;
    io::write_plaintext_output(&plain, None)
}

/// `edit`.
pub fn edit(args: &[String], s: &Settings) -> Result<(), Failure> {
    let o = parse("edit", args, &["--allow-disk-temp", "--age", "--pgp"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let lookup = config(file, s)?;
    let st = match std::fs::read(file) {
        Ok(bytes) => store(file, &bytes, &lookup, s),
        Err(_) => plain_store(file, &lookup, s),
    };
    let keyring = keys(s)?;
    let keys = &keyring.ring;
    let spec_for = |docs: &[Branch]| seal_spec(&o, &lookup, file, docs);
    let (base, docs) = cli_edit::begin(
        file,
        st.as_ref(),
        keys,
        s.sops_args.ignore_mac,
        || Ok(Vec::new()),
        spec_for,
    )?;
    let plaintext = Zeroizing::new(if matches!(base, EditBase::New(_)) {
        Vec::new()
    } else {
        st.emit_plain(&docs)
            .map_err(|e| Failure::in_file(file, e))?
    });
    drop(docs);
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
    let docs = edited?;
    cli_edit::finish(file, base, docs, st.as_ref(), keys, spec_for)?;
    drop(guard);
    Ok(())
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
