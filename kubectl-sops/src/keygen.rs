//! `kubectl-sops keygen [--pq] [-o FILE]`: a new age identity, written like `age-keygen` 1.3 writes it
//! (`# created:` and `# public key:` lines, then the key; a file is created with mode 0600 and never
//! overwritten). The recipient goes to stderr as `Public key: …` unless the output is a terminal.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

/// Arguments of `keygen`.
#[derive(Args)]
pub struct KeygenArgs {
    /// Generate a post-quantum hybrid ML-KEM-768 + X25519 key pair (`age1pq1…`, needs sops ≥ 3.13).
    #[arg(long)]
    pq: bool,
    /// Write the identity to this new file (mode 0600; an existing file is not overwritten).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `keygen`.
pub fn run(a: KeygenArgs) -> Result<()> {
    let new = sops_engine::keys::age::generate_identity(a.pq);
    match &a.output {
        Some(path) => {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("failed to open output file {}", path.display()))?;
            let written = f
                .write_all(new.file_text.as_bytes())
                .and_then(|()| f.sync_all());
            if let Err(e) = written {
                drop(f);
                let _ = std::fs::remove_file(path);
                return Err(e).with_context(|| format!("failed to write {}", path.display()));
            }
            eprintln!("Public key: {}", new.recipient);
        }
        None => {
            let mut out = std::io::stdout().lock();
            if !out.is_terminal() {
                eprintln!("Public key: {}", new.recipient);
            }
            if stdout_is_world_readable_file() {
                eprintln!("kubectl-sops: warning: writing secret key to a world-readable file");
            }
            out.write_all(new.file_text.as_bytes())
                .and_then(|()| out.flush())
                .context("failed to write the identity to stdout")?;
        }
    }
    Ok(())
}

/// True when stdout is a regular file others may read (age-keygen warns then too).
fn stdout_is_world_readable_file() -> bool {
    std::fs::metadata("/dev/stdout")
        .map(|m| m.is_file() && m.permissions().mode() & 0o004 != 0)
        .unwrap_or(false)
}
