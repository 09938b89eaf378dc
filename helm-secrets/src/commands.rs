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

use sops_engine::cli::io::{self, ConfigLookup};
use sops_engine::cli::spec::{self, KeyFlags, SealRequest};
use sops_engine::editor::{self, EditOptions};
use sops_engine::error::exit;
use sops_engine::file::{open, open_read_only, prepare_new, reseal, seal, seal_to_bytes, SealSpec};
use sops_engine::keys::KeyRing;
use sops_engine::signals;
use sops_engine::stores::Store;
use sops_engine::tree::Branch;
use sops_engine::SopsError;
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::settings::Settings;

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

/// The `.sops.yaml` of FILE, searched from the file's directory upward as helm-secrets does (it runs
/// sops there), unless `SOPS_CONFIG` names one; and the store for FILE with its settings.
fn config_and_store(file: &str) -> Result<(ConfigLookup, Box<dyn Store>), Failure> {
    let lookup = ConfigLookup::find(None, io::dir_of(Some(file)))?;
    let st = io::store(io::format_of(None, Some(file)), lookup.config.as_ref());
    Ok((lookup, st))
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
pub fn encrypt(args: &[String], _s: &Settings) -> Result<(), Failure> {
    let o = parse("encrypt", args, &["-i", "--output", "--age", "--pgp"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let (lookup, st) = config_and_store(file)?;
    let input = io::read_input(Some(file))?;
    let docs = st
        .load_plain(&input)
        .map_err(|e| Failure::in_file(file, e))?;
    drop(input);
    if st.has_metadata(&docs) {
        return Err(Failure::in_file(file, SopsError::AlreadyEncrypted));
    }
    let spec = seal_spec(&o, &lookup, file, &docs)?;
    let keys = KeyRing::default();
    let target = if o.in_place {
        Some(file)
    } else {
        o.output.as_deref()
    };
    // stable ciphertext: the current encrypted version of --output, when it opens with our keys
    let previous = match o.output.as_deref() {
        Some(t) if Path::new(t).is_file() => {
            let bytes = std::fs::read(t).unwrap_or_default();
            let out = io::store(io::format_of(None, Some(t)), lookup.config.as_ref());
            open(&bytes, out.as_ref(), &keys, false).ok()
        }
        _ => None,
    };
    let bytes = seal_to_bytes(docs, &spec, &keys, previous, st.as_ref())
        .map_err(|e| Failure::in_file(file, e))?;
    io::write_output(&bytes, target)
}

fn decrypted(file: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let (_, st) = config_and_store(file)?;
    let input = io::read_input(Some(file))?;
    let opened = open_read_only(&input, st.as_ref(), &KeyRing::default(), false)
        .map_err(|e| Failure::in_file(file, e))?;
    drop(input);
    Ok(Zeroizing::new(
        st.emit_plain(&opened.docs)
            .map_err(|e| Failure::in_file(file, e))?,
    ))
}

/// `decrypt`.
pub fn decrypt(args: &[String], _s: &Settings) -> Result<(), Failure> {
    let o = parse("decrypt", args, &["-i", "--output"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let plain = decrypted(file)?;
    let target = if o.in_place {
        Some(file)
    } else {
        o.output.as_deref()
    };
    io::write_plaintext_output(&plain, target)
}

/// `view`.
pub fn view(args: &[String], _s: &Settings) -> Result<(), Failure> {
    let o = parse("view", args, &[])?;
    let plain = decrypted(o.file.as_deref().unwrap_or_default())?;
    io::write_plaintext_output(&plain, None)
}

/// `edit`.
pub fn edit(args: &[String], _s: &Settings) -> Result<(), Failure> {
    let o = parse("edit", args, &["--allow-disk-temp", "--age", "--pgp"])?;
    let file = o.file.as_deref().unwrap_or_default();
    let (lookup, st) = config_and_store(file)?;
    let keys = KeyRing::default();
    let (existing, plaintext) = if Path::new(file).exists() {
        let input = io::read_input(Some(file))?;
        let mut opened =
            open(&input, st.as_ref(), &keys, false).map_err(|e| Failure::in_file(file, e))?;
        let docs = std::mem::take(&mut opened.docs);
        let text = st
            .emit_plain(&docs)
            .map_err(|e| Failure::in_file(file, e))?;
        (Existing::File(opened), Zeroizing::new(text))
    } else {
        // wrap the data key first, so an unusable key fails before anything is typed
        let spec = seal_spec(&o, &lookup, file, &[])?;
        let prepared = prepare_new(&spec, &keys).map_err(|e| Failure::in_file(file, e))?;
        (Existing::New(prepared, spec), Zeroizing::new(Vec::new()))
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
    let docs = edited?;
    let sealed = match existing {
        Existing::File(opened) => reseal(opened, docs),
        Existing::New(prepared, spec) => seal(docs, &spec, &keys, Some(prepared)),
    }
    .and_then(|(docs, md)| st.emit_encrypted(&docs, &md))
    .map_err(|e| Failure::in_file(file, e))?;
    editor::interrupted(file)?;
    io::write_output(&sealed, Some(file))?;
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
