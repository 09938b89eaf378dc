//! `helm-secrets downloader certFile keyFile caFile URL`: the getter helm runs for `-f secrets://…`.
//! The plaintext goes to stdout only; errors are one line on stderr.

use std::io::Write;

use crate::decrypt::decrypt;
use crate::error::Failure;
use crate::settings::Settings;
use crate::source;

/// Runs the downloader. `args` are what helm passes after the command's own words; the URL is the
/// last one (helm passes `certFile keyFile caFile URL`).
pub fn run(args: &[String], s: &Settings) -> Result<(), Failure> {
    let url = args.last().ok_or_else(|| {
        Failure::new("downloader: expected certFile keyFile caFile URL (helm passes them)")
    })?;
    let src = source::parse(url).map_err(Failure::new)?;
    crate::policy::check(&src.file, s).map_err(Failure::new)?;
    let keys = crate::keys::for_import(&src.import, s)?;
    let bytes = match std::fs::read(&src.file) {
        Ok(b) => b,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && (src.ignore_missing || s.ignore_missing_values) =>
        {
            return Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure {
                code: sops_engine::error::exit::NO_FILE_SPECIFIED,
                message: format!("{}: file does not exist", src.file),
            })
        }
        Err(e) => return Err(Failure::new(format!("{}: {e}", src.file))),
    };
    let out = decrypt(&src.file, bytes, &keys.ring)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.bytes())
        .and_then(|_| stdout.flush())
        .map_err(|e| Failure::new(format!("{}: writing to stdout: {e}", src.file)))
}
