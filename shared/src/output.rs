//! Writing a result to a path the way users expect, and never leaving plaintext behind.
//!
//! - A **regular file** (or a new one) is replaced atomically: a temp file in the same directory,
//!   fsync, rename, fsync of the directory. It keeps the old file's mode (and owner, when we may set
//!   it); a new file gets the caller's mode.
//! - A **symlink** is followed to its final target, which is replaced atomically; the link stays.
//!   A dangling link creates its target, as `open(O_CREAT)` would.
//! - A **FIFO, device or socket**, and any path through `/dev/fd`, `/dev/std*` or `/proc`, is written
//!   in place, never renamed over: `--output /dev/stdout` goes down the pipe, `/dev/null` stays a device.
//! - While the temp file exists, SIGINT/SIGTERM/SIGHUP remove it ([`crate::signals::TempGuard`]).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::signals::TempGuard;

/// Prefix of the hidden temp files made next to their target.
pub const TEMP_PREFIX: &str = ".sops-engine-";

/// Symlinks followed before giving up (Linux' `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` (see the module doc). `new_mode` is the mode of a file that did not
/// exist before.
pub fn write_file(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    if writes_in_place(path) {
        return write_in_place(path, bytes);
    }
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            let target = final_target(path)?;
            replace_atomically(&target, bytes, Some(&meta), new_mode)
        }
        Ok(meta) if meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )),
        Ok(_) => write_in_place(path, bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let target = final_target(path)?;
            replace_atomically(&target, bytes, None, new_mode)
        }
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to stdout (`target` None) or to the file `target` with [`write_file`]. The error
/// names what failed: `stdout` or the path.
pub fn write_stdout_or_file(
    bytes: &[u8],
    target: Option<&str>,
    new_mode: u32,
) -> Result<(), (String, io::Error)> {
    match target {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)
                .and_then(|_| out.flush())
                .map_err(|e| ("stdout".to_string(), e))
        }
        Some(t) => write_file(Path::new(t), bytes, new_mode).map_err(|e| (t.to_string(), e)),
    }
}

/// The process umask (read from `/proc/self/status`; 022 when unknown).
pub fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// The mode of a new non-secret file: `0666 & !umask`, as `open(2)` would give it.
pub fn default_mode() -> u32 {
    0o666 & !umask()
}

/// Paths that name an open descriptor or a kernel object: written through, never renamed over.
fn writes_in_place(path: &Path) -> bool {
    ["/dev/fd/", "/dev/stdout", "/dev/stderr", "/proc/"]
        .iter()
        .any(|p| {
            path.as_os_str()
                .as_encoded_bytes()
                .starts_with(p.as_bytes())
        })
}

fn write_in_place(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let is_file = fs::metadata(path).is_ok_and(|m| m.is_file());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(is_file)
        .open(path)?;
    f.write_all(bytes)?;
    f.flush()?;
    if is_file {
        f.sync_all()?;
    }
    Ok(())
}

/// Follows the symlink chain of `path` to the path that is not a link (which may not exist yet).
fn final_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = if to.is_absolute() {
                    to
                } else {
                    parent_dir(&p).join(to)
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn replace_atomically(
    target: &Path,
    bytes: &[u8],
    old: Option<&fs::Metadata>,
    new_mode: u32,
) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = parent_dir(target);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)?;
    let _cleanup = TempGuard::new(tmp.path());
    tmp.write_all(bytes)?;
    let file = tmp.as_file();
    if let Some(meta) = old {
        // keep the owner when allowed (root editing another user's file); ignore EPERM otherwise
        let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
    }
    let mode = old.map_or(new_mode, |m| m.permissions().mode() & 0o7777);
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};

    #[test]
    fn regular_file_keeps_mode() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.yaml");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        write_file(&f, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1, "no temp left");
    }

    #[test]
    fn new_file_gets_new_mode() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("n.yaml");
        write_file(&f, b"x", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn symlink_chain_is_followed_and_kept() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("real")).unwrap();
        let real = d.path().join("real/f.yaml");
        fs::write(&real, "old").unwrap();
        symlink("real/f.yaml", d.path().join("l1")).unwrap();
        symlink(d.path().join("l1"), d.path().join("l2")).unwrap();
        write_file(&d.path().join("l2"), b"new", 0o600).unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"new");
        for l in ["l1", "l2"] {
            let m = fs::symlink_metadata(d.path().join(l)).unwrap();
            assert!(m.file_type().is_symlink(), "{l} is still a link");
        }
    }

    #[test]
    fn dangling_link_creates_its_target() {
        let d = tempfile::tempdir().unwrap();
        symlink("t.yaml", d.path().join("l")).unwrap();
        write_file(&d.path().join("l"), b"x", 0o600).unwrap();
        assert_eq!(fs::read(d.path().join("t.yaml")).unwrap(), b"x");
        assert!(fs::symlink_metadata(d.path().join("l"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn link_loop_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        symlink("b", d.path().join("a")).unwrap();
        symlink("a", d.path().join("b")).unwrap();
        assert!(write_file(&d.path().join("a"), b"x", 0o600).is_err());
    }

    #[test]
    fn directory_is_refused() {
        let d = tempfile::tempdir().unwrap();
        assert!(write_file(d.path(), b"x", 0o600).is_err());
    }

    #[test]
    #[allow(unsafe_code)] // mkfifo
    fn fifo_is_written_in_place() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("p");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a fresh path in our temp dir.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_file(&fifo, b"through the pipe", 0o600).unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
