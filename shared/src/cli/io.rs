//! Inputs and outputs of a command: the `.sops.yaml` of a run ([`ConfigLookup`]), the stores that read
//! and write a file ([`Stores`]), reading a file or stdin, and writing stdout or a file through the
//! shared atomic writer ([`crate::output`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::exit;
use crate::stores::{Format, Store};

use super::CliError;

/// The environment variable sops reads for the config path (like `--config`).
pub const SOPS_CONFIG_VAR: &str = "SOPS_CONFIG";

/// Where the `.sops.yaml` of a run came from, or where it was looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// Given with `--config` or `SOPS_CONFIG`.
    Explicit(PathBuf),
    /// Searched from this directory upward (the working directory, or the file's directory).
    SearchedFrom(PathBuf),
}

/// The `.sops.yaml` of a run, if any, and where it came from (for messages that say where the
/// tool looked).
#[derive(Clone, Debug)]
pub struct ConfigLookup {
    /// The config, when one was found.
    pub config: Option<Config>,
    /// Where it came from or was looked for.
    pub origin: ConfigOrigin,
}

impl ConfigLookup {
    /// `explicit` (a `--config` flag), else `SOPS_CONFIG`, else `.sops.yaml` searched upward from
    /// `start` (a directory; `None`: the working directory, as sops does). An explicit file that
    /// does not exist fails with exit 61, one that cannot be read with exit 5.
    pub fn find(explicit: Option<&Path>, start: Option<&Path>) -> Result<Self, CliError> {
        let explicit = explicit.map(Path::to_path_buf).or_else(|| {
            std::env::var_os(SOPS_CONFIG_VAR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        if let Some(p) = explicit {
            let config = crate::config::load_config(Some(&p))?;
            return Ok(ConfigLookup {
                config,
                origin: ConfigOrigin::Explicit(p),
            });
        }
        let dir = match start {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let config = match crate::config::find_config(&dir) {
            Some(p) => Some(
                crate::config::Config::load(&p)
                    .map_err(|e| CliError::with_code(exit::ERROR_READING_CONFIG, e.to_string()))?,
            ),
            None => None,
        };
        Ok(ConfigLookup {
            config,
            origin: ConfigOrigin::SearchedFrom(dir),
        })
    }

    /// Where the tool looked, for a message ([`describe`]).
    pub fn describe(&self) -> String {
        describe(self.config.as_ref(), &self.origin)
    }
}

/// Where a run's config came from, for a message: `/repo/.sops.yaml`, or `no .sops.yaml in DIR or
/// its parent directories`.
pub fn describe(config: Option<&Config>, origin: &ConfigOrigin) -> String {
    match (config, origin) {
        (Some(c), _) => c.path.display().to_string(),
        (None, ConfigOrigin::Explicit(p)) => p.display().to_string(),
        (None, ConfigOrigin::SearchedFrom(d)) => format!(
            "no {} in {} or its parent directories",
            crate::config::CONFIG_FILE_NAME,
            d.display()
        ),
    }
}

/// The directory to search `.sops.yaml` from for FILE, the way helm-secrets runs sops in the
/// directory of the file: the file's parent (`None` for stdin or a bare file name, i.e. the working
/// directory).
pub fn dir_of(file: Option<&str>) -> Option<&Path> {
    match file {
        None | Some("-") => None,
        Some(f) => Path::new(f).parent().filter(|p| !p.as_os_str().is_empty()),
    }
}

/// The `.sops.yaml` of a run and the stores that read its input and write its output.
pub struct Stores {
    /// `.sops.yaml`, when there is one.
    pub config: Option<Config>,
    /// Where the config came from, or where it was looked for.
    pub config_origin: ConfigOrigin,
    /// The input format.
    pub in_format: Format,
    /// Reads the input.
    pub input: Box<dyn Store>,
    /// Writes the output.
    pub output: Box<dyn Store>,
}

impl Stores {
    /// The stores for `lookup`: the input format from `input_type` or the name of FILE
    /// ([`format_of`]), the output format from `output_type` or the input format.
    pub fn new(
        lookup: ConfigLookup,
        input_type: Option<Format>,
        output_type: Option<Format>,
        file: Option<&str>,
    ) -> Self {
        let in_format = format_of(input_type, file);
        let out_format = output_type.unwrap_or(in_format);
        let config = lookup.config;
        Stores {
            input: store(in_format, config.as_ref()),
            output: store(out_format, config.as_ref()),
            in_format,
            config,
            config_origin: lookup.origin,
        }
    }
}

/// The store for a format with the config's `stores` settings.
pub fn store(format: Format, config: Option<&Config>) -> Box<dyn Store> {
    crate::config::store_with(format, config)
}

/// The format of FILE: the flag, else its extension; stdin defaults to YAML.
pub fn format_of(flag: Option<Format>, file: Option<&str>) -> Format {
    flag.unwrap_or_else(|| match file {
        None | Some("-") => Format::Yaml,
        Some(p) => Format::from_path(p),
    })
}

/// A `--input-type`/`--output-type` value that names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?} (yaml, json, dotenv, ini, binary)")]
pub struct UnknownFormat(pub String);

/// Parses a `--input-type`/`--output-type` value.
pub fn parse_format(name: &str) -> Result<Format, UnknownFormat> {
    Format::from_name(name).ok_or_else(|| UnknownFormat(name.to_string()))
}

/// The name used in messages for FILE (`<stdin>` for `-`/none).
pub fn display_name(file: Option<&str>) -> &str {
    match file {
        None | Some("-") => "<stdin>",
        Some(p) => p,
    }
}

/// Fails like sops (exit 100) when FILE is given but does not exist (`-`/none is stdin).
pub fn require_existing(file: Option<&str>) -> Result<(), CliError> {
    match file {
        Some(p) if p != "-" && !Path::new(p).exists() => Err(CliError::with_code(
            exit::NO_FILE_SPECIFIED,
            format!("{p}: cannot operate on non-existent file"),
        )),
        _ => Ok(()),
    }
}

/// Reads FILE, or stdin for `-`/none (exit 2 when it cannot be read, 100 when it does not exist).
pub fn read_input(file: Option<&str>) -> Result<Vec<u8>, CliError> {
    match file {
        None | Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                CliError::with_code(exit::COULD_NOT_READ_INPUT, format!("<stdin>: {e}"))
            })?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path).map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                exit::NO_FILE_SPECIFIED
            } else {
                exit::COULD_NOT_READ_INPUT
            };
            CliError::with_code(code, format!("{path}: {e}"))
        }),
    }
}

/// Writes encrypted output: to stdout (`None`), or to a file with [`crate::output::write_file`]
/// (atomic replace of a regular file, symlinks followed, FIFOs and devices written in place). An
/// existing file keeps its permissions; a new one gets the usual `0666 & !umask`.
pub fn write_output(bytes: &[u8], target: Option<&str>) -> Result<(), CliError> {
    write_with_new_mode(bytes, target, crate::output::default_mode())
}

/// Like [`write_output`] for decrypted output: a file that does not exist yet is created `0600`,
/// so plaintext written on request is readable by its owner only.
pub fn write_plaintext_output(bytes: &[u8], target: Option<&str>) -> Result<(), CliError> {
    write_with_new_mode(bytes, target, 0o600)
}

fn write_with_new_mode(bytes: &[u8], target: Option<&str>, new_mode: u32) -> Result<(), CliError> {
    crate::output::write_stdout_or_file(bytes, target, new_mode).map_err(|(what, e)| {
        CliError::with_code(exit::COULD_NOT_WRITE_OUTPUT, format!("{what}: {e}"))
    })
}

/// Refuses `-i` together with `--output`, and `-i` on stdin, like sops (exit 8).
pub fn check_output_flags(
    in_place: bool,
    output: Option<&str>,
    file: Option<&str>,
) -> Result<(), CliError> {
    if in_place && output.is_some() {
        return Err(CliError::with_code(
            exit::CONFLICTING_PARAMETERS,
            "--in-place and --output cannot be used together",
        ));
    }
    if in_place && matches!(file, None | Some("-")) {
        return Err(CliError::with_code(
            exit::CONFLICTING_PARAMETERS,
            "--in-place needs a file, not stdin",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_searched_from_the_given_directory_and_the_lookup_says_where() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let none = ConfigLookup::find(None, Some(&sub)).unwrap();
        assert!(none.config.is_none());
        assert!(none.describe().contains(&sub.display().to_string()));
        std::fs::write(
            root.path().join("a/.sops.yaml"),
            "creation_rules:\n  - age: age1x\n",
        )
        .unwrap();
        let found = ConfigLookup::find(None, Some(&sub)).unwrap();
        assert_eq!(
            found.config.as_ref().unwrap().path,
            root.path().join("a/.sops.yaml")
        );
        let missing = ConfigLookup::find(Some(&root.path().join("nope.yaml")), None).unwrap_err();
        assert_eq!(missing.code, exit::CONFIG_FILE_NOT_FOUND);
    }

    #[test]
    fn the_directory_of_a_file() {
        assert_eq!(dir_of(Some("x/y.yaml")), Some(Path::new("x")));
        assert_eq!(dir_of(Some("y.yaml")), None);
        assert_eq!(dir_of(Some("-")), None);
        assert_eq!(dir_of(None), None);
    }
}
