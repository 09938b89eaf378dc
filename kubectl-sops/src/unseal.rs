//! `kubectl-sops unseal`: decrypt to stdout, a file, or in place.

use anyhow::Result;
use clap::Args;
use sops_engine::error::exit;
use sops_engine::file::{extract, open_read_only, parse_tree_path};
use sops_engine::keys::KeyRing;
use sops_engine::tree::Value;

use crate::in_file;
use crate::io::{
    check_output_flags, display_name, read_input, require_existing, write_plaintext_output,
    FileArgs,
};

/// Arguments of `unseal`.
#[derive(Args)]
pub struct UnsealArgs {
    /// Encrypted file (`-` or nothing for stdin).
    pub file: Option<String>,
    /// Write the plaintext back into FILE (atomically).
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub output: Option<String>,
    /// Print only this part of the tree, e.g. '["data"]["password"]'.
    #[arg(long)]
    pub extract: Option<String>,
    #[command(flatten)]
    pub files: FileArgs,
}

/// Runs `unseal`.
pub fn run(a: UnsealArgs) -> Result<()> {
    let file = a.file.as_deref();
    let name = display_name(file);
    check_output_flags(a.in_place, a.output.as_deref(), file)?;
    require_existing(file)?;
    let stores = a.files.stores(file)?;
    let input = read_input(file)?;
    let keys = KeyRing::default();
    let opened = open_read_only(&input, stores.input.as_ref(), &keys, a.files.ignore_mac)
        .map_err(|e| in_file(name, e))?;
    drop(input);
    let out_store = stores.output;
    let bytes = match &a.extract {
        Some(path) => {
            let steps = parse_tree_path(path).map_err(|e| in_file(name, e))?;
            let doc = opened.docs.first().cloned().unwrap_or_default();
            // a path that is not in the tree is a plain failure in sops (1), not a format error (91)
            let value = extract(&doc, &steps)
                .map_err(|e| crate::fail(exit::GENERIC, format!("{name}: {e}")))?;
            match value {
                Value::Str(s) => s.into_bytes(),
                Value::Bytes(b) => b,
                Value::Map(m) => out_store.emit_plain(&[m]).map_err(|e| in_file(name, e))?,
                other => out_store.emit_value(&other).map_err(|e| in_file(name, e))?,
            }
        }
        None => out_store
            .emit_plain(&opened.docs)
            .map_err(|e| in_file(name, e))?,
    };
    let target = if a.in_place {
        file
    } else {
        a.output.as_deref()
    };
    write_plaintext_output(&bytes, target)
}
