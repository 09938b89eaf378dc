//! `kubectl-sops unseal`: decrypt to stdout, a file, or in place.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sops_engine::file::{extract, open_read_only, parse_tree_path};
use sops_engine::keys::KeyRing;
use sops_engine::stores::Format;
use sops_engine::tree::Value;

use crate::in_file;
use crate::io::{
    check_output_flags, display_name, format_of, load_config, parse_format, read_input, store,
    write_plaintext_output,
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
    /// Input format (default: from the extension; stdin: yaml).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
    /// Output format (default: the input format).
    #[arg(long, value_parser = parse_format)]
    pub output_type: Option<Format>,
    /// Print only this part of the tree, e.g. '["data"]["password"]'.
    #[arg(long)]
    pub extract: Option<String>,
    /// Do not check the MAC (tampered or hand-edited files).
    #[arg(long)]
    pub ignore_mac: bool,
    /// Path of .sops.yaml (only its `stores` settings matter here).
    #[arg(long, env = "SOPS_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Runs `unseal`.
pub fn run(a: UnsealArgs) -> Result<()> {
    let file = a.file.as_deref();
    let name = display_name(file);
    check_output_flags(a.in_place, a.output.as_deref(), file)?;
    let config = load_config(a.config.as_deref())?;
    let in_format = format_of(a.input_type, file);
    let out_format = a.output_type.unwrap_or(in_format);
    let input = read_input(file)?;
    let keys = KeyRing::default();
    let opened = open_read_only(
        &input,
        store(in_format, config.as_ref()).as_ref(),
        &keys,
        a.ignore_mac,
    )
    .map_err(|e| in_file(name, e))?;
    drop(input);
    let out_store = store(out_format, config.as_ref());
    let bytes = match &a.extract {
        Some(path) => {
            let steps = parse_tree_path(path).map_err(|e| in_file(name, e))?;
            let doc = opened.docs.first().cloned().unwrap_or_default();
            match extract(&doc, &steps).map_err(|e| in_file(name, e))? {
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
