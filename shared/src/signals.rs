//! SIGINT, SIGTERM and SIGHUP while plaintext may sit somewhere it must not stay.
//!
//! Two uses, one set of handlers:
//! - **Temp files** ([`TempGuard`]): while an atomic write has its temp file in the target's directory,
//!   a signal removes that file, then the process dies of the same signal (default disposition,
//!   re-raised), so an interrupted `unseal -i` never leaves a hidden plaintext copy behind.
//! - **Sessions** ([`install`]): a program that must clean up itself (an editor session wiping its
//!   private directory) records the signal instead, forwards it to its child, and reads it with
//!   [`pending`] to exit 128+signal after cleaning up.
//!
//! The handler only does async-signal-safe work: atomics, `unlink`, `kill`, `signal` and `raise`.

// Signal handlers and kill/prctl calls need libc directly.
#[cfg(unix)]
#[allow(unsafe_code)]
mod imp {
    use std::ffi::CString;
    use std::os::raw::c_int;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Hang-up.
    pub const SIGHUP: i32 = libc::SIGHUP;
    /// Interrupt (Ctrl+C).
    pub const SIGINT: i32 = libc::SIGINT;
    /// Termination request.
    pub const SIGTERM: i32 = libc::SIGTERM;
    const HANDLED: [c_int; 3] = [libc::SIGHUP, libc::SIGINT, libc::SIGTERM];

    /// Temp files to unlink on a signal (null: free slot).
    const SLOTS: usize = 64;
    static TEMPS: [AtomicPtr<libc::c_char>; SLOTS] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];
    /// The signal received while a session was active (0: none).
    static PENDING: AtomicI32 = AtomicI32::new(0);
    /// The child to forward signals to (0: none).
    static CHILD: AtomicI32 = AtomicI32::new(0);
    /// Active sessions ([`install`] guards); while > 0 a signal is recorded, not fatal.
    static SESSIONS: AtomicUsize = AtomicUsize::new(0);
    /// Handler users (sessions + temp guards) and the dispositions to restore when the last one goes.
    static USERS: Mutex<(usize, Vec<(c_int, libc::sighandler_t)>)> = Mutex::new((0, Vec::new()));

    extern "C" fn on_signal(sig: c_int) {
        for slot in &TEMPS {
            let p = slot.swap(std::ptr::null_mut(), Ordering::SeqCst);
            if !p.is_null() {
                // SAFETY: p came from CString::into_raw and stays allocated (leaked on purpose once
                // taken here); unlink is async-signal-safe.
                unsafe { libc::unlink(p) };
            }
        }
        if SESSIONS.load(Ordering::SeqCst) > 0 {
            PENDING.store(sig, Ordering::SeqCst);
            let pid = CHILD.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: kill is async-signal-safe; pid is our own child.
                unsafe { libc::kill(pid, sig) };
            }
            return;
        }
        // SAFETY: restore the default action and die of the same signal, as an unhandled one would.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }

    fn acquire() {
        let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
        if users.0 == 0 {
            let handler = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
            for sig in HANDLED {
                // SAFETY: installs a handler that only does async-signal-safe work. Like sops (Go's
                // signal.Notify), a signal ignored before (nohup, background job) is handled too:
                // plaintext must not outlive the process.
                let prev = unsafe { libc::signal(sig, handler) };
                if prev != libc::SIG_ERR {
                    users.1.push((sig, prev));
                }
            }
        }
        users.0 += 1;
    }

    fn release() {
        let mut users = USERS.lock().unwrap_or_else(|e| e.into_inner());
        users.0 = users.0.saturating_sub(1);
        if users.0 == 0 {
            for (sig, prev) in users.1.drain(..) {
                // SAFETY: puts back the disposition that was there before.
                unsafe { libc::signal(sig, prev) };
            }
        }
    }

    /// While alive, a SIGINT/SIGTERM/SIGHUP removes the temp file at its path before the process
    /// dies (or, inside a session, before the signal is recorded).
    pub struct TempGuard {
        slot: Option<usize>,
        path: *mut libc::c_char,
    }

    impl TempGuard {
        /// Registers `path` for removal on a signal.
        pub fn new(path: &Path) -> TempGuard {
            let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
                return TempGuard {
                    slot: None,
                    path: std::ptr::null_mut(),
                };
            };
            let raw = c.into_raw();
            acquire();
            let slot = TEMPS.iter().position(|s| {
                s.compare_exchange(
                    std::ptr::null_mut(),
                    raw,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            });
            TempGuard { slot, path: raw }
        }
    }

    impl Drop for TempGuard {
        fn drop(&mut self) {
            if self.path.is_null() {
                return;
            }
            let still_ours = self.slot.is_some_and(|i| {
                TEMPS[i]
                    .compare_exchange(
                        self.path,
                        std::ptr::null_mut(),
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
            });
            if still_ours || self.slot.is_none() {
                // SAFETY: from CString::into_raw above; the handler did not take it.
                drop(unsafe { CString::from_raw(self.path) });
            }
            release();
        }
    }

    /// A session's handlers; dropping it restores the previous dispositions.
    pub struct Guard(());

    /// Starts a session: signals are recorded ([`pending`]) and forwarded to the child set with
    /// [`set_child`] instead of ending the process.
    pub fn install() -> Guard {
        SESSIONS.fetch_add(1, Ordering::SeqCst);
        acquire();
        Guard(())
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            release();
            SESSIONS.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The signal received during a session, if any.
    pub fn pending() -> Option<i32> {
        match PENDING.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Records the running child (an editor), to forward signals to it.
    pub fn set_child(pid: Option<u32>) {
        let pid = pid.and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        CHILD.store(pid, Ordering::SeqCst);
    }

    /// Sends `sig` to our child `pid`.
    pub fn send(pid: u32, sig: i32) {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: plain kill(2) on our own child.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// Asks the kernel to send SIGTERM to the calling process when its parent dies (Linux), so a
    /// child (an editor) does not outlive a killed parent. Meant for `Command::pre_exec`.
    pub fn die_with_parent() -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag on the calling process.
            if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    //! No signal handling off Unix; temp files and private dirs are still removed on every other path.
    use std::path::Path;
    /// Hang-up (unused here).
    pub const SIGHUP: i32 = 1;
    /// Interrupt (unused here).
    pub const SIGINT: i32 = 2;
    /// Termination request (unused here).
    pub const SIGTERM: i32 = 15;
    /// Nothing registered.
    pub struct TempGuard;
    impl TempGuard {
        /// No-op.
        pub fn new(_path: &Path) -> TempGuard {
            TempGuard
        }
    }
    /// Nothing to restore.
    pub struct Guard;
    /// No handlers.
    pub fn install() -> Guard {
        Guard
    }
    /// Never a signal.
    pub fn pending() -> Option<i32> {
        None
    }
    /// Nothing to record.
    pub fn set_child(_pid: Option<u32>) {}
    /// Nothing to send.
    pub fn send(_pid: u32, _sig: i32) {}
    /// Nothing to ask.
    pub fn die_with_parent() -> std::io::Result<()> {
        Ok(())
    }
}

pub use imp::*;

/// The name of a handled signal (`SIGINT`, …).
pub fn name(sig: i32) -> String {
    match sig {
        SIGHUP => "SIGHUP".into(),
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}
