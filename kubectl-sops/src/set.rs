//! `kubectl-sops set FILE PATH VALUE` and `kubectl-sops unset FILE PATH`: change one value of an
//! encrypted file in place, like `sops set` / `sops unset`.
//!
//! The file keeps its keys, rule and data key, and every value that did not change keeps its exact
//! ciphertext, so `git diff` shows only the changed value's line plus `lastmodified` and `mac`.
//!
//! VALUE is JSON, as in sops (`'"text"'`, `5`, `true`, `{"a":1}`). One difference: a bare integer
//! such as `5` is stored as an integer (`type:int`), where sops stores every top-level JSON number as
//! a float (`type:float`). Both print as `5` when decrypted; integers inside objects are integers in
//! sops too.

use anyhow::Result;
use clap::Args;
use sops_engine::file::{open, parse_tree_path, reseal, Opened, PathStep};
use sops_engine::keys::KeyRing;
use sops_engine::tree::{Branch, Item, Value};
use sops_engine::treepath::{self, PathError};
use sops_engine::SopsError;
use zeroize::Zeroizing;

use crate::in_file;
use crate::io::{read_input, write_output, FileArgs, Stores};
use sops_engine::error::exit::NO_FILE_SPECIFIED;

/// sops' exit code for a malformed index or value (`codes.ErrorInvalidSetFormat`).
const INVALID_SET_FORMAT: i32 = 7;

/// Arguments of `set`.
#[derive(Args)]
pub struct SetArgs {
    /// Encrypted file, changed in place (atomically).
    pub file: String,
    /// Tree path, e.g. '["stringData"]["password"]' or '["items"][0]'.
    pub path: String,
    /// The value as JSON, e.g. '"hunter2"', 5, '{"a":true}' (with --value-file: the file holding it;
    /// omitted with --value-stdin).
    #[arg(allow_negative_numbers = true)]
    pub value: Option<String>,
    /// Read the value from stdin (keeps it out of shell history and process listings).
    #[arg(long, conflicts_with = "value_file")]
    pub value_stdin: bool,
    /// Read the value from file F (`--value-file F FILE PATH`). sops' order, `--value-file FILE PATH
    /// F`, is recognized by its PATH (the argument that starts with `[`).
    #[arg(long, value_name = "F")]
    pub value_file: Option<String>,
    /// Store a string value base64-encoded (for a Secret's `data`, which Kubernetes wants in base64).
    #[arg(long)]
    pub base64: bool,
    /// Do not write the file when the value is already there (same value and type).
    #[arg(long)]
    pub idempotent: bool,
    #[command(flatten)]
    pub common: FileArgs,
}

/// Arguments of `unset`.
#[derive(Args)]
pub struct UnsetArgs {
    /// Encrypted file, changed in place (atomically).
    pub file: String,
    /// Tree path, e.g. '["stringData"]["password"]'.
    pub path: String,
    /// Succeed without writing when the path does not exist.
    #[arg(long)]
    pub idempotent: bool,
    #[command(flatten)]
    pub common: FileArgs,
}

/// Parses PATH; like sops, a malformed or empty path exits 7.
fn tree_path(file: &str, path: &str, what: &str) -> Result<Vec<PathStep>> {
    match parse_tree_path(path) {
        Ok(steps) if !steps.is_empty() => Ok(steps),
        Ok(_) => Err(crate::fail(
            INVALID_SET_FORMAT,
            format!("{file}: invalid {what} index format: the path is empty"),
        )),
        Err(e) => Err(crate::fail(
            INVALID_SET_FORMAT,
            format!("{file}: invalid {what} index format: {e}"),
        )),
    }
}

fn path_err(file: &str, e: PathError) -> anyhow::Error {
    let e: SopsError = e.into();
    in_file(file, e).into()
}

/// The JSON text of the value, from the argument, stdin or a file.
fn value_text(a: &SetArgs) -> Result<Zeroizing<String>> {
    let bytes = if a.value_stdin {
        if a.value.is_some() {
            return Err(crate::fail(
                NO_FILE_SPECIFIED,
                "with --value-stdin, give only FILE and PATH",
            ));
        }
        Zeroizing::new(read_input(None)?)
    } else if let Some(f) = &a.value_file {
        if a.value.is_some() {
            return Err(crate::fail(
                NO_FILE_SPECIFIED,
                "with --value-file F, give only FILE and PATH",
            ));
        }
        Zeroizing::new(read_input(Some(f))?)
    } else {
        match &a.value {
            Some(v) => Zeroizing::new(v.clone().into_bytes()),
            None => {
                return Err(crate::fail(
                    NO_FILE_SPECIFIED,
                    "missing VALUE (or use --value-stdin / --value-file)",
                ))
            }
        }
    };
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => Err(crate::fail(
            INVALID_SET_FORMAT,
            "the value is not valid JSON (not UTF-8)",
        )),
    }
}

/// An opened file and how to write it back.
struct Target {
    opened: Opened,
    stores: Stores,
}

/// Opens FILE for a change: its bytes decrypted with the keys at hand.
fn open_file(file: &str, c: &FileArgs) -> Result<Target> {
    let stores = c.stores(Some(file))?;
    let input = read_input(Some(file))?;
    let opened = open(
        &input,
        stores.input.as_ref(),
        &KeyRing::default(),
        c.ignore_mac,
    )
    .map_err(|e| in_file(file, e))?;
    Ok(Target { opened, stores })
}

/// Re-seals the changed documents onto the opened file and writes FILE atomically.
fn write_back(file: &str, t: Target, docs: Vec<Branch>) -> Result<()> {
    let (docs, md) = reseal(t.opened, docs).map_err(|e| in_file(file, e))?;
    let bytes = t
        .stores
        .output
        .emit_encrypted(&docs, &md)
        .map_err(|e| in_file(file, e))?;
    write_output(&bytes, Some(file))
}

/// sops' argument order `--value-file FILE PATH VALUE_FILE` arrives as `value_file = FILE`,
/// `file = PATH`, `path = VALUE_FILE`: put each where it belongs. Recognized by PATH, the one
/// argument that starts with `[`.
fn sops_value_file_order(mut a: SetArgs) -> SetArgs {
    if a.value.is_none() && a.file.starts_with('[') && !a.path.starts_with('[') {
        if let Some(vf) = a.value_file.take() {
            let path = std::mem::replace(&mut a.file, vf);
            a.value_file = Some(std::mem::replace(&mut a.path, path));
        }
    }
    a
}

/// `--base64`: the string value encoded. A Secret's `data` gets only base64 strings: any other
/// string is refused with a hint (exit 7), without showing it.
fn secret_data_value(
    file: &str,
    doc: &Branch,
    steps: &[PathStep],
    value: Value,
    encode: bool,
) -> Result<Value> {
    use base64::Engine;
    let value = match value {
        Value::Str(s) if encode => {
            Value::Str(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
        }
        _ if encode => {
            return Err(crate::fail(
                INVALID_SET_FORMAT,
                format!("{file}: --base64 encodes a string value (give VALUE as a JSON string)"),
            ))
        }
        other => other,
    };
    let in_data = sops_engine::k8s::is_secret(doc)
        && matches!(steps.first(), Some(PathStep::Key(k)) if k == "data");
    if !in_data {
        return Ok(value);
    }
    let bad: Vec<String> = match (&steps[1..], &value) {
        ([_], Value::Str(s)) if !sops_engine::k8s::is_base64(s) => vec![String::new()],
        ([], Value::Map(m)) => {
            let wrapped = vec![
                Item::Pair("apiVersion".into(), Value::Str("v1".into())),
                Item::Pair("kind".into(), Value::Str("Secret".into())),
                Item::Pair("data".into(), Value::Map(m.clone())),
            ];
            sops_engine::k8s::non_base64_data(&[wrapped])
        }
        _ => Vec::new(),
    };
    if bad.is_empty() {
        return Ok(value);
    }
    let key = match steps.get(1) {
        Some(PathStep::Key(k)) => k.clone(),
        _ => "KEY".into(),
    };
    Err(crate::fail(
        INVALID_SET_FORMAT,
        format!(
            "{file}: a Secret's data holds base64, and this value is not base64{}; set plain text under stringData (['stringData']['{key}']), or pass --base64 to encode it",
            if bad[0].is_empty() { String::new() } else { format!(" (at {})", bad.join(", ")) }
        ),
    ))
}

/// Runs `set`.
pub fn run(a: SetArgs) -> Result<()> {
    let a = sops_value_file_order(a);
    let file = a.file.as_str();
    let steps = tree_path(file, &a.path, "set")?;
    let text = value_text(&a)?;
    let value = treepath::parse_json_value(&text).map_err(|e| {
        crate::fail(
            INVALID_SET_FORMAT,
            format!("{file}: invalid value for set: {e}"),
        )
    })?;
    drop(text);
    let mut t = open_file(file, &a.common)?;
    let mut docs = std::mem::take(&mut t.opened.docs);
    let Some(first) = docs.first_mut() else {
        return Err(in_file(file, SopsError::NoDocument).into());
    };
    let value = secret_data_value(file, first, &steps, value, a.base64)?;
    let changed = treepath::set(first, &steps, value).map_err(|e| path_err(file, e))?;
    if !changed && a.idempotent {
        return Ok(());
    }
    write_back(file, t, docs)
}

/// Runs `unset`.
pub fn run_unset(a: UnsetArgs) -> Result<()> {
    let file = a.file.as_str();
    let steps = tree_path(file, &a.path, "unset")?;
    let mut t = open_file(file, &a.common)?;
    let mut docs = std::mem::take(&mut t.opened.docs);
    let Some(first) = docs.first_mut() else {
        return Err(in_file(file, SopsError::NoDocument).into());
    };
    match treepath::unset(first, &steps) {
        Ok(()) => {}
        Err(e) if e.is_not_found() && a.idempotent => return Ok(()),
        Err(e) => return Err(path_err(file, e)),
    }
    write_back(file, t, docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_paths_exit_like_sops() {
        for p in ["", "a.b", "[\"a\"", "[x]"] {
            let e = tree_path("f.yaml", p, "set").unwrap_err();
            let c = e.downcast_ref::<crate::CliError>().unwrap();
            assert_eq!(c.code, INVALID_SET_FORMAT, "{p:?}");
            assert!(c.message.starts_with("f.yaml: invalid set index format"));
        }
        assert_eq!(tree_path("f", "[\"a\"][0]", "set").unwrap().len(), 2);
    }
}
