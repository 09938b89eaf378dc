//! Input, output and the options the commands share (formats, config lookup, stores).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use sops_engine::config::Config;
use sops_engine::error::exit;
use sops_engine::output;
use sops_engine::stores::{Format, Store};

use crate::CliError;

/// sops' exit code for a missing or non-existent input file (`codes.NoFileSpecified`).
pub const NO_FILE_SPECIFIED: i32 = 100;

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

/// The `.sops.yaml` of a run and the stores that read its input and write its output.
pub struct Stores {
    /// `.sops.yaml`, when there is one.
    pub config: Option<Config>,
    /// The input format.
    pub in_format: Format,
    /// Reads the input.
    pub input: Box<dyn Store>,
    /// Writes the output.
    pub output: Box<dyn Store>,
}

/// Loads the config ([`load_config`]) and picks the stores: the input format from the flag or the
/// name of FILE ([`format_of`]), the output format from its flag or the input format.
pub fn stores(
    config: Option<&Path>,
    input_type: Option<Format>,
    output_type: Option<Format>,
    file: Option<&str>,
) -> Result<Stores> {
    let config = load_config(config)?;
    let in_format = format_of(input_type, file);
    let out_format = output_type.unwrap_or(in_format);
    Ok(Stores {
        input: store(in_format, config.as_ref()),
        output: store(out_format, config.as_ref()),
        in_format,
        config,
    })
}

/// Fails like sops (exit 100) when FILE is given but does not exist (`-`/none is stdin).
pub fn require_existing(file: Option<&str>) -> Result<()> {
    match file {
        Some(p) if p != "-" && !Path::new(p).exists() => Err(CliError::err(
            NO_FILE_SPECIFIED,
            format!("{p}: cannot operate on non-existent file"),
        )),
        _ => Ok(()),
    }
}

/// Reads FILE, or stdin for `-`/none.
pub fn read_input(file: Option<&str>) -> Result<Vec<u8>> {
    match file {
        None | Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| CliError {
                    code: exit::COULD_NOT_READ_INPUT,
                    message: format!("stdin: {e}"),
                })?;
            Ok(buf)
        }
        Some(path) => Ok(std::fs::read(path).map_err(|e| CliError {
            code: exit::COULD_NOT_READ_INPUT,
            message: format!("{path}: {e}"),
        })?),
    }
}

/// The name used in messages for FILE.
pub fn display_name(file: Option<&str>) -> &str {
    match file {
        None | Some("-") => "<stdin>",
        Some(p) => p,
    }
}

/// Parses a `--input-type`/`--output-type` value.
pub fn parse_format(name: &str) -> std::result::Result<Format, String> {
    Format::from_name(name)
        .ok_or_else(|| format!("unknown format {name:?} (yaml, json, dotenv, ini, binary)"))
}

/// The format of FILE: the flag, else its extension; stdin defaults to YAML (Kubernetes manifests).
pub fn format_of(flag: Option<Format>, file: Option<&str>) -> Format {
    flag.unwrap_or_else(|| match file {
        None | Some("-") => Format::Yaml,
        Some(p) => Format::from_path(p),
    })
}

/// `--config`, else `SOPS_CONFIG`, else `.sops.yaml` from the working directory upward.
pub fn load_config(flag: Option<&Path>) -> Result<Option<Config>> {
    let explicit = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SOPS_CONFIG").map(PathBuf::from));
    sops_engine::config::load_config(explicit.as_deref()).map_err(|e| {
        CliError {
            code: e.exit_code(),
            message: e.to_string(),
        }
        .into()
    })
}

/// The store for a format with the config's `stores` settings.
pub fn store(format: Format, config: Option<&Config>) -> Box<dyn Store> {
    sops_engine::config::store_with(format, config)
}

/// Writes the result: to stdout, or to a file with [`sops_engine::output::write_file`] (atomic
/// replace of a regular file, symlinks followed, FIFOs and devices written in place). An existing file
/// keeps its permissions; a new one gets the usual `0666 & !umask`.
pub fn write_output(bytes: &[u8], target: Option<&str>) -> Result<()> {
    write_with_new_mode(bytes, target, output::default_mode())
}

/// Like [`write_output`] for decrypted output: a file that does not exist yet is created `0600`, so
/// plaintext written on request is readable by its owner only.
pub fn write_plaintext_output(bytes: &[u8], target: Option<&str>) -> Result<()> {
    write_with_new_mode(bytes, target, 0o600)
}

fn write_with_new_mode(bytes: &[u8], target: Option<&str>, new_mode: u32) -> Result<()> {
    output::write_stdout_or_file(bytes, target, new_mode).map_err(|(what, e)| {
        CliError {
            code: exit::COULD_NOT_WRITE_OUTPUT,
            message: format!("{what}: {e}"),
        }
        .into()
    })
}

/// Refuses `-i` together with `--output`, and `-i` on stdin, like sops.
pub fn check_output_flags(in_place: bool, output: Option<&str>, file: Option<&str>) -> Result<()> {
    if in_place && output.is_some() {
        return Err(CliError {
            code: exit::CONFLICTING_PARAMETERS,
            message: "--in-place and --output cannot be used together".into(),
        }
        .into());
    }
    if in_place && matches!(file, None | Some("-")) {
        return Err(CliError {
            code: exit::CONFLICTING_PARAMETERS,
            message: "--in-place needs a file, not stdin".into(),
        }
        .into());
    }
    Ok(())
}
