//! Anonymous in-memory files (`memfd_create`) that hand decrypted values to a child helm without
//! touching any filesystem: the child opens them as `/proc/self/fd/N`.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
use rustix::io::{fcntl_setfd, FdFlags};

/// A sealed in-memory file holding one decrypted values document.
pub struct MemFile {
    fd: OwnedFd,
}

impl MemFile {
    /// Creates the file (close-on-exec until [`MemFile::inherit`]), writes `bytes` and seals it
    /// against any further change.
    pub fn new(name: &str, bytes: &[u8]) -> std::io::Result<Self> {
        let fd = memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
        let mut f = std::fs::File::from(fd);
        f.write_all(bytes)?;
        let fd = OwnedFd::from(f);
        fcntl_add_seals(
            &fd,
            SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
        )?;
        Ok(MemFile { fd })
    }

    /// The path a child process opens it by (after [`MemFile::inherit`]).
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }

    /// Lets the next `exec` keep the descriptor open (clears close-on-exec).
    pub fn inherit(&self) -> std::io::Result<()> {
        fcntl_setfd(self.fd.as_fd(), FdFlags::empty())?;
        Ok(())
    }
}

/// True when memfds can be created and reopened through `/proc/self/fd` here.
pub fn available() -> bool {
    std::path::Path::new("/proc/self/fd").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopens_through_proc_and_is_sealed() {
        let m = MemFile::new("t", b"a: 1\n").unwrap();
        assert_eq!(std::fs::read(m.path()).unwrap(), b"a: 1\n");
        assert!(std::fs::OpenOptions::new()
            .append(true)
            .open(m.path())
            .and_then(|mut f| f.write_all(b"x"))
            .is_err());
        assert_eq!(std::fs::read(m.path()).unwrap(), b"a: 1\n");
    }
}
