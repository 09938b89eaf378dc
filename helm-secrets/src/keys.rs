//! The key ring for one URL: keys found like sops finds them, plus what the URL imports (an age
//! identity file, a PGP key imported into a throw-away GnuPG home, or either read from a Kubernetes
//! Secret) and `HELM_SECRETS_LOAD_GPG_KEYS`.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sops_engine::keys::KeyRing;
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::settings::{self, Settings, KEY_LOCATION_PREFIX};
use crate::source::KeyImport;

/// A key ring and the GnuPG home it may use (removed, agent stopped, on drop).
pub struct Keys {
    /// The key ring to decrypt with.
    pub ring: KeyRing,
    _gnupg: Option<GnupgHome>,
}

/// Builds the key ring for `import`, checking the `HELM_SECRETS_ALLOW_*` switches and the key
/// location prefix first.
pub fn for_import(import: &KeyImport, s: &Settings) -> Result<Keys, Failure> {
    let switch = match import {
        KeyImport::None => None,
        KeyImport::GpgFile(_) => Some(settings::ALLOW_GPG_IMPORT),
        KeyImport::GpgKubernetes(_) => Some(settings::ALLOW_GPG_IMPORT_KUBERNETES),
        KeyImport::AgeFile(_) => Some(settings::ALLOW_AGE_IMPORT),
        KeyImport::AgeKubernetes(_) => Some(settings::ALLOW_AGE_IMPORT_KUBERNETES),
    };
    if let Some(var) = switch.filter(|v| s.denied_imports.contains(v)) {
        return Err(Failure::new(format!(
            "{}:// is not allowed here ({var}=false)",
            import.scheme()
        )));
    }
    if let KeyImport::AgeFile(p) | KeyImport::GpgFile(p) = import {
        if !p.starts_with(&s.key_location_prefix) {
            return Err(Failure::new(format!(
                "key location '{p}' is not allowed ({KEY_LOCATION_PREFIX}={})",
                s.key_location_prefix
            )));
        }
    }
    let mut ring = KeyRing::default();
    let mut gpg_keys: Vec<GpgKey> = Vec::new();
    if let Some(list) = &s.load_gpg_keys {
        for p in std::env::split_paths(list) {
            gpg_keys.extend(gpg_key_files(&p)?);
        }
    }
    match import {
        KeyImport::None => {}
        KeyImport::AgeFile(p) => ring = ring.with_age_identities(read_key_text(p)?),
        KeyImport::GpgFile(p) => gpg_keys.push(GpgKey::File(PathBuf::from(p))),
        KeyImport::AgeKubernetes(r) => {
            let bytes = crate::kubernetes::secret_key(r)?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| Failure::new(format!("Kubernetes secret {r}: the key is not text")))?;
            ring = ring.with_age_identities(Zeroizing::new(text));
        }
        KeyImport::GpgKubernetes(r) => {
            gpg_keys.push(GpgKey::Bytes(crate::kubernetes::secret_key(r)?));
        }
    }
    let gnupg = if gpg_keys.is_empty() {
        None
    } else {
        let home = GnupgHome::new()?;
        for k in &gpg_keys {
            home.import(k)?;
        }
        ring = ring.with_pgp_homedir(home.path());
        Some(home)
    };
    Ok(Keys {
        ring,
        _gnupg: gnupg,
    })
}

fn read_key_text(p: &str) -> Result<Zeroizing<String>, Failure> {
    let bytes = Zeroizing::new(
        std::fs::read(p).map_err(|e| Failure::new(format!("age key file '{p}': {e}")))?,
    );
    match std::str::from_utf8(&bytes) {
        Ok(t) => Ok(Zeroizing::new(t.to_string())),
        Err(_) => Err(Failure::new(format!("age key file '{p}': not a text file"))),
    }
}

/// A PGP key to import.
enum GpgKey {
    File(PathBuf),
    Bytes(Zeroizing<Vec<u8>>),
}

/// A file, or the regular files directly in a directory.
fn gpg_key_files(p: &Path) -> Result<Vec<GpgKey>, Failure> {
    if p.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| {
                Failure::new(format!("HELM_SECRETS_LOAD_GPG_KEYS '{}': {e}", p.display()))
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(files.into_iter().map(GpgKey::File).collect())
    } else {
        Ok(vec![GpgKey::File(p.to_path_buf())])
    }
}

/// A throw-away GnuPG home (0700, on tmpfs when there is one, short path for the agent socket).
struct GnupgHome {
    dir: tempfile::TempDir,
    gpg: OsString,
}

impl GnupgHome {
    fn new() -> Result<Self, Failure> {
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
            Failure::new(format!(
                "cannot create a GnuPG home in {}: {e}",
                base.display()
            ))
        })?;
        let gpg = std::env::var_os("SOPS_GPG_EXEC")
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| "gpg".into());
        Ok(GnupgHome { dir, gpg })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn import(&self, key: &GpgKey) -> Result<(), Failure> {
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
            GpgKey::Bytes(_) => {
                cmd.stdin(Stdio::piped());
                "the key from Kubernetes".to_string()
            }
        };
        let mut child = cmd.spawn().map_err(|e| {
            Failure::new(format!(
                "cannot run {} to import {what}: {e}",
                Path::new(&self.gpg).display()
            ))
        })?;
        if let (GpgKey::Bytes(b), Some(mut stdin)) = (key, child.stdin.take()) {
            let _ = stdin.write_all(b);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Failure::new(format!("gpg --import {what}: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(Failure::new(format!(
                "gpg --import {what} failed: {}",
                sops_engine::error::one_line(&err)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_switches_and_prefix() {
        let mut s = Settings::from_lookup(|_| None);
        s.denied_imports.push(settings::ALLOW_AGE_IMPORT);
        let e = for_import(&KeyImport::AgeFile("/k".into()), &s)
            .err()
            .unwrap();
        assert!(
            e.message.contains("HELM_SECRETS_ALLOW_AGE_IMPORT=false"),
            "{e}"
        );
        let mut s = Settings::from_lookup(|_| None);
        s.key_location_prefix = "/secrets/".into();
        let e = for_import(&KeyImport::AgeFile("/etc/k.txt".into()), &s)
            .err()
            .unwrap();
        assert!(e.message.contains("not allowed"), "{e}");
        let e = for_import(&KeyImport::AgeFile("/secrets/none.txt".into()), &s)
            .err()
            .unwrap();
        assert!(e.message.contains("/secrets/none.txt"), "{e}");
    }
}
