//! The options the commands share (formats, config), on the engine's command layer
//! ([`sops_engine::cli::io`]), which also holds reading inputs and writing outputs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use sops_engine::cli::io::ConfigLookup;
use sops_engine::config::Config;
use sops_engine::stores::Format;

use sops_engine::cli::io as shared_io;
pub use sops_engine::cli::io::{display_name, format_of, parse_format, store, Stores};

/// `--input-type`, `--output-type`, `--ignore-mac` and `--config`, shared by the commands that open
/// an encrypted file.
#[derive(Args)]
pub struct FileArgs {
    /// Input format: yaml, json, dotenv, ini, binary (default: from the extension; stdin: yaml).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
    /// Output format (default: the input format).
    #[arg(long, value_parser = parse_format)]
    pub output_type: Option<Format>,
    /// Do not check the MAC (tampered or hand-edited files).
    #[arg(long)]
    pub ignore_mac: bool,
    /// Path of .sops.yaml (default: searched from the working directory upward).
    #[arg(long, env = "SOPS_CONFIG")]
    pub config: Option<PathBuf>,
}

impl FileArgs {
    /// The config and stores for FILE (`None`/`-`: stdin).
    pub fn stores(&self, file: Option<&str>) -> Result<Stores> {
        stores(
            self.config.as_deref(),
            self.input_type,
            self.output_type,
            file,
        )
    }
}

/// Loads the config like sops (`--config`, `SOPS_CONFIG`, else `.sops.yaml` from the working
/// directory upward) and picks the stores for FILE.
pub fn stores(
    config: Option<&Path>,
    input_type: Option<Format>,
    output_type: Option<Format>,
    file: Option<&str>,
) -> Result<Stores> {
    let lookup = ConfigLookup::find(config, None)?;
    Ok(Stores::new(lookup, input_type, output_type, file))
}

/// `--config`, else `SOPS_CONFIG`, else `.sops.yaml` from the working directory upward.
pub fn load_config(flag: Option<&Path>) -> Result<Option<Config>> {
    Ok(ConfigLookup::find(flag, None)?.config)
}

/// [`shared_io::read_input`] for the commands' `anyhow` results.
pub fn read_input(file: Option<&str>) -> Result<Vec<u8>> {
    Ok(shared_io::read_input(file)?)
}

/// [`shared_io::require_existing`] for the commands' `anyhow` results.
pub fn require_existing(file: Option<&str>) -> Result<()> {
    Ok(shared_io::require_existing(file)?)
}

/// [`shared_io::write_output`] for the commands' `anyhow` results.
pub fn write_output(bytes: &[u8], target: Option<&str>) -> Result<()> {
    Ok(shared_io::write_output(bytes, target)?)
}

/// [`shared_io::write_plaintext_output`] for the commands' `anyhow` results.
pub fn write_plaintext_output(bytes: &[u8], target: Option<&str>) -> Result<()> {
    Ok(shared_io::write_plaintext_output(bytes, target)?)
}

/// [`shared_io::check_output_flags`] for the commands' `anyhow` results.
pub fn check_output_flags(in_place: bool, output: Option<&str>, file: Option<&str>) -> Result<()> {
    Ok(shared_io::check_output_flags(in_place, output, file)?)
}
