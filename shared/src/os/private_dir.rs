//! A private directory for plaintext that a program outside us must read (an editor, an external
//! diff tool): a fresh 0700 directory on tmpfs (`$XDG_RUNTIME_DIR`, else `/dev/shm`), whose files are
//! overwritten with zeros and removed on drop. Pair it with [`crate::signals::install`] so a signal
//! does not skip the drop.
//!
//! Nothing runs after SIGKILL (or a power loss), so the directory is named after its process
//! (`sops-engine-<pid>-<start time>-…`) and every later [`PrivateDir::create`] (and
//! [`remove_stale`]) removes the directories of ours whose process is gone: owned by the same
//! user, and never one of a process that still runs.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Filesystem types that keep files in memory.
const MEMORY_FS: &[&str] = &["tmpfs", "ramfs"];

/// Why no private directory could be made.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    /// No tmpfs/ramfs directory was usable and the disk was not allowed.
    #[error("no memory-backed directory for the plaintext ({tried}); pass --allow-disk-temp to use {} (the plaintext may then reach the disk)", temp.display())]
    NoMemoryDir {
        /// What was tried, and why each failed.
        tried: String,
        /// The system temp dir the flag would allow.
        temp: PathBuf,
    },
    /// The directory could not be made in the system temp dir.
    #[error("could not create a directory in {}: {source}", base.display())]
    Disk {
        /// The system temp dir.
        base: PathBuf,
        /// The OS' reason.
        source: std::io::Error,
    },
}

/// A fresh 0700 directory holding one 0600 file; wiped and removed on drop.
pub struct PrivateDir {
    dir: PathBuf,
    file: PathBuf,
}

impl PrivateDir {
    /// Creates the directory in `$XDG_RUNTIME_DIR` or `/dev/shm` (whichever is tmpfs and
    /// writable), or, with `allow_disk`, in the system temp dir.
    pub fn create(file_name: &OsStr, allow_disk: bool) -> Result<Self, PrivateDirError> {
        let mut tried = Vec::new();
        remove_stale();
        for base in memory_bases() {
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
                .map_err(|source| PrivateDirError::Disk { base, source });
        }
        Err(PrivateDirError::NoMemoryDir {
            tried: tried.join("; "),
            temp: std::env::temp_dir(),
        })
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

/// Where private directories go: `$XDG_RUNTIME_DIR`, then `/dev/shm`.
fn memory_bases() -> impl Iterator<Item = PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/dev/shm")))
}

/// Prefix of every private directory.
const DIR_PREFIX: &str = "sops-engine-";

/// The start time of process `pid` (clock ticks since boot, field 22 of `/proc/PID/stat`); None
/// when there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `<pid>-<start time>` of this process, for the directory name.
fn owner_tag() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", start_time(pid).unwrap_or(0))
}

/// Removes the private directories left by processes of this user that no longer run (killed with
/// SIGKILL while a file was open in an editor): in `$XDG_RUNTIME_DIR`, `/dev/shm` and the system
/// temp dir. A directory is only removed when it is ours (same owner, a real directory, our name
/// pattern) and the process named in it is gone or is another process with the same pid.
/// Returns how many were removed.
pub fn remove_stale() -> usize {
    let mut removed = 0;
    for base in memory_bases().chain(std::iter::once(std::env::temp_dir())) {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(tag) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
                continue;
            };
            if is_stale(tag) && is_ours(&e.path()) {
                wipe(&e.path(), 0);
                if std::fs::remove_dir_all(e.path()).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

/// True when the `<pid>-<start time>-…` of a directory name names a process that is gone.
fn is_stale(tag: &str) -> bool {
    let mut parts = tag.splitn(3, '-');
    let (Some(pid), Some(start), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    match start_time(pid) {
        None => !Path::new(&format!("/proc/{pid}")).exists(),
        Some(now) => start != 0 && now != start,
    }
}

/// A real directory (not a link) owned by our effective user.
fn is_ours(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the effective user of this process
        let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
            return false;
        };
        std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == me)
    }
    #[cfg(not(unix))]
    {
        let _ = p;
        false
    }
}

fn make_dir(base: &Path, file_name: &OsStr) -> std::io::Result<PrivateDir> {
    let mut b = tempfile::Builder::new();
    let prefix = format!("{DIR_PREFIX}{}-", owner_tag());
    b.prefix(&prefix);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_means_the_process_is_gone() {
        let me = owner_tag();
        assert!(
            !is_stale(&format!("{me}-abc")),
            "our own dir is never stale"
        );
        // pid 1 runs, with another start time than 1: another process took the pid
        let init = start_time(1).unwrap_or(0);
        assert!(!is_stale(&format!("1-{init}-abc")));
        assert!(is_stale(&format!("1-{}-abc", init + 1)) || init == 0);
        // a pid above pid_max cannot run
        assert!(is_stale("4194399-5-abc"));
        // other names are left alone
        assert!(!is_stale("abcdef"));
        assert!(!is_stale("12-abc"));
    }

    #[test]
    fn names_carry_the_owner() {
        let d = PrivateDir::create(OsStr::new("f.yaml"), true).unwrap();
        let name = d.dir().file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("{DIR_PREFIX}{}-", owner_tag())),
            "{name}"
        );
    }
}
