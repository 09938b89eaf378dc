//! A private directory for plaintext that a program outside us must read (an editor, an external
//! diff tool): a fresh 0700 directory on tmpfs (`$XDG_RUNTIME_DIR`, else `/dev/shm`), whose files are
//! overwritten with zeros and removed on drop. Pair it with [`crate::signals::install`] so a signal
//! does not skip the drop.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Filesystem types that keep files in memory.
const MEMORY_FS: &[&str] = &["tmpfs", "ramfs"];

/// A fresh 0700 directory holding one 0600 file; wiped and removed on drop.
pub struct PrivateDir {
    dir: PathBuf,
    file: PathBuf,
}

impl PrivateDir {
    /// Creates the directory in `$XDG_RUNTIME_DIR` or `/dev/shm` (whichever is tmpfs and
    /// writable), or, with `allow_disk`, in the system temp dir.
    pub fn create(file_name: &OsStr, allow_disk: bool) -> Result<Self, String> {
        let mut tried = Vec::new();
        let candidates = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|x| !x.is_empty())
            .map(PathBuf::from)
            .into_iter()
            .chain(std::iter::once(PathBuf::from("/dev/shm")));
        for base in candidates {
            match fs_type(&base) {
                Some(t) if MEMORY_FS.contains(&t.as_str()) => match make_dir(&base, file_name) {
                    Ok(d) => return Ok(d),
                    Err(e) => tried.push(format!("{}: {e}", base.display())),
                },
                Some(t) => tried.push(format!("{} is {t}, not tmpfs", base.display())),
                None => tried.push(format!("{} is not usable", base.display())),
            }
        }
        if allow_disk {
            let base = std::env::temp_dir();
            return make_dir(&base, file_name)
                .map_err(|e| format!("could not create a directory in {}: {e}", base.display()));
        }
        Err(format!(
            "no memory-backed directory for the plaintext ({}); pass --allow-disk-temp to use {} (the plaintext may then reach the disk)",
            tried.join("; "),
            std::env::temp_dir().display()
        ))
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file to edit.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Writes the plaintext into a new 0600 file.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&self.file)?;
        f.write_all(bytes)?;
        f.flush()
    }

    /// Overwrites every file in the directory with zeros (best effort) and removes it.
    pub fn remove(&mut self) {
        if self.dir.exists() {
            wipe(&self.dir, 0);
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        self.remove();
    }
}

fn make_dir(base: &Path, file_name: &OsStr) -> std::io::Result<PrivateDir> {
    let mut b = tempfile::Builder::new();
    b.prefix("sops-engine-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = b.tempdir_in(base)?.keep();
    let guard = PrivateDir {
        file: dir.join(file_name),
        dir,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&guard.dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(guard)
}

fn wipe(dir: &Path, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() && depth < 8 {
            wipe(&entry.path(), depth + 1);
        } else if ft.is_file() {
            zero_file(&entry.path());
        }
    }
}

fn zero_file(path: &Path) {
    let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) else {
        return;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return;
    };
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if f.write_all(&zeros[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
    let _ = f.sync_data();
}

/// The filesystem type of the mount holding `path` (longest mount point of /proc/mounts that
/// contains it); None when unknown.
pub fn fs_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    if !path.is_dir() {
        return None;
    }
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mount_type(&mounts, &path)
}

/// [`fs_type`] on the text of a mount table.
pub fn mount_type(mounts: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(point), Some(kind)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let point = PathBuf::from(unescape(point));
        if path.starts_with(&point) {
            let depth = point.components().count();
            // later entries mount over earlier ones at the same point
            if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
                best = Some((depth, kind.to_string()));
            }
        }
    }
    best.map(|(_, k)| k)
}

/// Undoes the octal escapes of /proc/mounts (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
