//! `helm-secrets downloader certFile keyFile caFile URL`: the getter helm runs for `-f secrets://…`.
//! The values file may be local or a URL (`secrets://https://host/values.enc.yaml`, also in the
//! key-import forms); it is fetched with the TLS files helm passes. The plaintext goes to stdout
//! only; errors are one line on stderr.

use std::io::Write;

use crate::decrypt::{decrypt_as, values_format};
use crate::error::Failure;
use crate::input::{self, LoadError};
use crate::remote::Tls;
use crate::settings::Settings;
use crate::source;

/// Runs the downloader. `args` are what helm passes after the command's own words; the URL is the
/// last one (helm passes `certFile keyFile caFile URL`).
pub fn run(args: &[String], s: &Settings) -> Result<(), Failure> {
    let url = args.last().ok_or_else(|| {
        Failure::new("downloader: expected certFile keyFile caFile URL (helm passes them)")
    })?;
    let tls = match args {
        [.., cert, key, ca, _] => crate::remote::tls_from_getter_args(cert, key, ca),
        _ => Tls::default(),
    };
    let src = source::parse(url).map_err(Failure::new)?;
    let keys = crate::keys::for_import(&src.import, s)?;
    let bytes = match input::load(&src.file, &tls, s) {
        Ok(b) => b,
        Err(LoadError::Missing(_)) if src.ignore_missing || s.ignore_missing_values => {
            return Ok(())
        }
        Err(e) => return Err(e.into_failure()),
    };
    let name = input::shown(&src.file);
    let format = values_format(input::format_name(&src.file));
    let out = if src.backend.unwrap_or(s.backend) == crate::backend::Backend::Noop {
        crate::decrypt::Decrypted::Plain(bytes)
    } else {
        decrypt_as(format, &name, bytes, &keys.ring, &s.sops_args)?
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Failure::new(format!("{name}: writing to stdout: {e}")))
}
