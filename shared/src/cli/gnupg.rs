//! PGP keys imported for one run: a throw-away GnuPG home (0700, on tmpfs when there is one, a
//! short path for the agent's socket) holding the keys given as files, directories of files, or
//! bytes (read from a Kubernetes Secret, a key file already opened), removed with its agent
//! stopped on drop. helm-secrets' `HELM_SECRETS_LOAD_GPG_KEYS` and `secrets+gpg-import*://`.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::CliError;

/// A PGP key to import.
pub enum GpgKey {
    /// A key file, given to gpg by path.
    File(PathBuf),
    /// Key bytes, given to gpg on stdin; `origin` names them in messages.
    Bytes {
        /// Where the bytes come from, for messages (`'key.asc'`, `the key of Kubernetes secret …`).
        origin: String,
        /// The key (a secret key: wiped on drop).
        bytes: Zeroizing<Vec<u8>>,
    },
}

impl GpgKey {
    /// The file `p`, or the regular files directly in the directory `p` (sorted); `setting` names
    /// where the path was given, for messages.
    pub fn files(p: &Path, setting: &str) -> Result<Vec<GpgKey>, CliError> {
        if !p.is_dir() {
            return Ok(vec![GpgKey::File(p.to_path_buf())]);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| CliError::new(format!("{setting} '{}': {e}", p.display())))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(files.into_iter().map(GpgKey::File).collect())
    }
}

/// A throw-away GnuPG home with imported keys; removed, its agent stopped, on drop.
pub struct GnupgHome {
    dir: tempfile::TempDir,
    gpg: OsString,
}

impl GnupgHome {
    /// A new home (gpg is `SOPS_GPG_EXEC`, else `gpg`) with `keys` imported.
    pub fn with_keys(keys: &[GpgKey]) -> Result<Self, CliError> {
        let base = ["/dev/shm", "/tmp"]
            .into_iter()
            .map(PathBuf::from)
            .find(|b| b.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let mut b = tempfile::Builder::new();
        b.prefix("hsg");
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = b.tempdir_in(&base).map_err(|e| {
            CliError::new(format!(
                "cannot create a GnuPG home in {}: {e}",
                base.display()
            ))
        })?;
        let gpg = std::env::var_os("SOPS_GPG_EXEC")
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| "gpg".into());
        let home = GnupgHome { dir, gpg };
        for k in keys {
            home.import(k)?;
        }
        Ok(home)
    }

    /// The home directory (`GNUPGHOME`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn import(&self, key: &GpgKey) -> Result<(), CliError> {
        let mut cmd = Command::new(&self.gpg);
        cmd.arg("--homedir")
            .arg(self.path())
            .args(["--batch", "--no-permission-warning", "--quiet", "--import"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let what = match key {
            GpgKey::File(p) => {
                cmd.arg(p).stdin(Stdio::null());
                format!("'{}'", p.display())
            }
            GpgKey::Bytes { origin, .. } => {
                cmd.stdin(Stdio::piped());
                origin.clone()
            }
        };
        let mut child = cmd.spawn().map_err(|e| {
            CliError::new(format!(
                "cannot run {} to import {what}: {e}",
                Path::new(&self.gpg).display()
            ))
        })?;
        if let (GpgKey::Bytes { bytes, .. }, Some(mut stdin)) = (key, child.stdin.take()) {
            let _ = stdin.write_all(bytes);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| CliError::new(format!("gpg --import {what}: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(CliError::new(format!(
                "gpg --import {what} failed: {}",
                crate::error::one_line(&err)
            )));
        }
        Ok(())
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let gpgconf = Path::new(&self.gpg).with_file_name("gpgconf");
        let gpgconf = if gpgconf.is_file() {
            gpgconf.into_os_string()
        } else {
            "gpgconf".into()
        };
        let _ = Command::new(gpgconf)
            .args(["--kill", "all"])
            .env("GNUPGHOME", self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
