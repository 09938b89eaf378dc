//! The key ring for one URL: keys found like sops finds them, plus what the URL imports (an age
//! identity file, a PGP key imported into a throw-away GnuPG home, or either read from a Kubernetes
//! Secret) and `HELM_SECRETS_LOAD_GPG_KEYS`.

use std::path::{Path, PathBuf};

use sops_engine::cli::gnupg::{GnupgHome, GpgKey};
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
            "{}:// is not allowed in this context! ({var}=false)",
            import.scheme()
        )));
    }
    // a key file is opened once, here, and checked on what was opened
    let key_file = match import {
        KeyImport::AgeFile(p) | KeyImport::GpgFile(p) => Some(open_key_file(p, s)?),
        _ => None,
    };
    let mut ring = KeyRing::default();
    let mut gpg_keys: Vec<GpgKey> = Vec::new();
    if let Some(list) = &s.load_gpg_keys {
        for p in std::env::split_paths(list) {
            gpg_keys.extend(GpgKey::files(&p, "HELM_SECRETS_LOAD_GPG_KEYS")?);
        }
    }
    match import {
        KeyImport::None => {}
        KeyImport::AgeFile(p) => {
            let bytes = key_file.unwrap_or_default();
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Failure::new(format!("age key file '{p}': not a text file")))?;
            ring = ring.with_age_identities(Zeroizing::new(text.to_string()));
        }
        KeyImport::GpgFile(p) => gpg_keys.push(GpgKey::Bytes {
            origin: format!("'{p}'"),
            bytes: key_file.unwrap_or_default(),
        }),
        KeyImport::AgeKubernetes(r) => {
            let bytes = crate::kubernetes::secret_key(r)?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| Failure::new(format!("Kubernetes secret {r}: the key is not text")))?;
            ring = ring.with_age_identities(Zeroizing::new(text));
        }
        KeyImport::GpgKubernetes(r) => {
            gpg_keys.push(GpgKey::Bytes {
                origin: format!("the key of Kubernetes secret {r}"),
                bytes: crate::kubernetes::secret_key(r)?,
            });
        }
    }
    let gnupg = if gpg_keys.is_empty() {
        None
    } else {
        let home = GnupgHome::with_keys(&gpg_keys)?;
        ring = ring.with_pgp_homedir(home.path());
        Some(home)
    };
    Ok(Keys {
        ring,
        _gnupg: gnupg,
    })
}

/// Reads the key file `p` of a `*-import://` URL: the `HELM_SECRETS_VALUES_ALLOW_*` switches on
/// the path as written, then the file is opened once and the opened file is checked (a regular
/// file; its real path, read back from the descriptor, free of symlinks when they are not allowed
/// and under the resolved `HELM_SECRETS_KEY_LOCATION_PREFIX`), so a link swapped between the check
/// and the read cannot lead elsewhere.
fn open_key_file(p: &str, s: &Settings) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let prefix = &s.key_location_prefix;
    let refused = |why: String| {
        Failure::new(format!(
            "key location '{p}' is not allowed ({KEY_LOCATION_PREFIX}={prefix}): {why}"
        ))
    };
    if !p.starts_with(prefix.as_str()) {
        return Err(refused("it does not start with the prefix".into()));
    }
    crate::policy::check_path("key file", p, s).map_err(Failure::new)?;
    let mut flags = rustix::fs::OFlags::NOCTTY;
    if !s.allow_symlinks {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(p)
        .map_err(|e| Failure::new(format!("key file '{p}': {e}")))?;
    let meta = f
        .metadata()
        .map_err(|e| Failure::new(format!("key file '{p}': {e}")))?;
    if !meta.is_file() {
        return Err(Failure::new(format!("key file '{p}': not a regular file")));
    }
    {
        use std::os::fd::AsRawFd;
        let real = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))
            .map_err(|e| Failure::new(format!("key file '{p}': {e}")))?;
        if !s.allow_symlinks && real != lexical_absolute(Path::new(p)) {
            return Err(Failure::new(format!(
                "key file '{p}' goes through a symlink (to '{}'), which is not allowed ({}=false)",
                real.display(),
                settings::ALLOW_SYMLINKS
            )));
        }
        if !prefix.is_empty() && !under_prefix(&real, prefix)? {
            return Err(refused(format!(
                "it resolves to '{}', outside the prefix",
                real.display()
            )));
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    f.read_to_end(&mut bytes)
        .map_err(|e| Failure::new(format!("key file '{p}': {e}")))?;
    Ok(bytes)
}

/// `p` made absolute against the working directory, `.` and `..` applied to the words (no
/// symlink resolved): where the path points when it goes through no link.
fn lexical_absolute(p: &Path) -> PathBuf {
    use std::path::Component;
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// True when the real path `real` lies under the prefix, itself resolved (symlinks followed): a
/// directory (`/keys/`, or a path naming one) holds it, or a name prefix (`/keys/team-`) starts its
/// first component below the prefix' resolved parent.
fn under_prefix(real: &Path, prefix: &str) -> Result<bool, Failure> {
    let missing = |e: std::io::Error| {
        Failure::new(format!(
            "{KEY_LOCATION_PREFIX}={prefix}: cannot resolve it: {e}"
        ))
    };
    let pp = Path::new(prefix);
    if prefix.ends_with('/') || pp.is_dir() {
        let dir = pp.canonicalize().map_err(missing)?;
        return Ok(real.starts_with(&dir) && real != dir);
    }
    let parent = match pp.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = parent.canonicalize().map_err(missing)?;
    let name = pp.file_name().unwrap_or_default().as_encoded_bytes();
    Ok(real
        .strip_prefix(&dir)
        .ok()
        .and_then(|rest| rest.components().next())
        .is_some_and(|first| first.as_os_str().as_encoded_bytes().starts_with(name)))
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

    #[test]
    fn key_paths_are_resolved_under_the_prefix() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("keys")).unwrap();
        std::fs::write(root.join("keys/k.txt"), "# key\n").unwrap();
        std::fs::write(root.join("outside.txt"), "# other\n").unwrap();
        std::os::unix::fs::symlink(root.join("outside.txt"), root.join("keys/link.txt")).unwrap();
        let mut s = Settings::from_lookup(|_| None);
        s.key_location_prefix = format!("{}/keys/", root.display());
        let p = |n: &str| format!("{}/{n}", root.display());
        assert!(open_key_file(&p("keys/k.txt"), &s).is_ok());
        let e = open_key_file(&p("keys/../outside.txt"), &s).err().unwrap();
        assert!(e.message.contains("outside the prefix"), "{e}");
        let e = open_key_file(&p("keys/link.txt"), &s).err().unwrap();
        assert!(e.message.contains("outside the prefix"), "{e}");
        // a name prefix
        s.key_location_prefix = p("keys/k");
        assert!(open_key_file(&p("keys/k.txt"), &s).is_ok());
        s.key_location_prefix = String::new();
        s.allow_path_traversal = false;
        let e = open_key_file(&p("keys/../keys/k.txt"), &s).err().unwrap();
        assert!(
            e.message.contains("key file") && e.message.contains("'..'"),
            "{e}"
        );
        s.allow_path_traversal = true;
        s.allow_symlinks = false;
        let e = open_key_file(&p("keys/link.txt"), &s).err().unwrap();
        assert!(e.message.contains("symlink"), "{e}");
    }
}
