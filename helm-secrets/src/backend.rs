//! helm-secrets' secret backends (`-b/--backend`, `HELM_SECRETS_BACKEND`, the `sops!`/`noop!` file
//! prefixes) and the sops options of `-a/--backend-args` that the built-in engine understands.

use std::path::PathBuf;

use sops_engine::stores::Format;

/// A secret backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SOPS files, decrypted by the built-in engine.
    #[default]
    Sops,
    /// Files pass through unchanged.
    Noop,
}

/// Parses a backend name. `vals` and custom backend scripts are refused in one line naming the
/// alternative.
pub fn parse(name: &str) -> Result<Backend, String> {
    match name.trim() {
        "" | "sops" => Ok(Backend::Sops),
        "noop" => Ok(Backend::Noop),
        "vals" => Err(
            "secret backend 'vals' is not supported by this plugin: keep SOPS-encrypted values files (backend sops), or use the helm-secrets plugin for vals references"
                .into(),
        ),
        other => Err(format!(
            "secret backend '{other}' is not supported: this plugin runs no custom backend scripts; use the built-in sops backend (-b sops) or noop"
        )),
    }
}

/// Splits a `backend!path` prefix off a file name: `sops!`, `noop!` (and `vals!`, refused).
pub fn split_prefix(file: &str) -> Result<(Option<Backend>, &str), String> {
    match file.split_once('!') {
        Some((name @ ("sops" | "noop" | "vals"), rest)) => Ok((Some(parse(name)?), rest)),
        _ => Ok((None, file)),
    }
}

/// The sops options of `--backend-args` / `HELM_SECRETS_BACKEND_ARGS` this plugin honours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SopsArgs {
    /// `--input-type`: the format of encrypted files.
    pub input_type: Option<Format>,
    /// `--output-type`: the format of the plaintext.
    pub output_type: Option<Format>,
    /// `--ignore-mac`: decrypt without checking the MAC.
    pub ignore_mac: bool,
    /// `--config`: the `.sops.yaml` to use.
    pub config: Option<PathBuf>,
    /// `--verbose`: accepted (no effect).
    pub verbose: bool,
}

const UNDERSTOOD: &str = "--input-type, --output-type, --ignore-mac, --config, --verbose";

/// Parses backend args (words split on whitespace, as helm-secrets' shell does).
pub fn parse_args(text: &str) -> Result<SopsArgs, String> {
    let mut a = SopsArgs::default();
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (w, None),
        };
        let mut value = || {
            inline
                .or_else(|| words.next())
                .ok_or_else(|| format!("backend args: {flag} needs a value"))
        };
        let format = |v: &str| {
            Format::from_name(v).ok_or_else(|| {
                format!(
                    "backend args: {flag}: unknown format {v:?} (yaml, json, dotenv, ini, binary)"
                )
            })
        };
        match flag {
            "--input-type" => a.input_type = Some(format(value()?)?),
            "--output-type" => a.output_type = Some(format(value()?)?),
            "--ignore-mac" => a.ignore_mac = true,
            "--config" => a.config = Some(PathBuf::from(value()?)),
            "--verbose" => a.verbose = true,
            other => {
                return Err(format!(
                    "backend args: the sops option {other} is not supported by this plugin (it understands {UNDERSTOOD})"
                ))
            }
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_and_prefixes() {
        assert_eq!(parse("sops"), Ok(Backend::Sops));
        assert_eq!(parse("noop"), Ok(Backend::Noop));
        assert!(parse("vals").unwrap_err().contains("not supported"));
        assert!(parse("./my-backend.sh")
            .unwrap_err()
            .contains("custom backend"));
        assert_eq!(
            split_prefix("noop!a.yaml"),
            Ok((Some(Backend::Noop), "a.yaml"))
        );
        assert_eq!(split_prefix("a!b.yaml"), Ok((None, "a!b.yaml")));
        assert!(split_prefix("vals!ref+x").is_err());
    }

    #[test]
    fn backend_args() {
        let a = parse_args(
            "--input-type yaml --output-type=json --ignore-mac --config c.yaml --verbose",
        )
        .unwrap();
        assert_eq!(a.input_type, Some(Format::Yaml));
        assert_eq!(a.output_type, Some(Format::Json));
        assert!(a.ignore_mac && a.verbose);
        assert_eq!(a.config, Some(PathBuf::from("c.yaml")));
        let e = parse_args("--api-versions x").unwrap_err();
        assert!(
            e.contains("--api-versions") && e.contains("not supported"),
            "{e}"
        );
        assert!(parse_args("--input-type").is_err());
        assert_eq!(parse_args("").unwrap(), SopsArgs::default());
    }
}
