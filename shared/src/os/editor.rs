//! An editor session on plaintext that must not reach the disk: the text goes into a
//! [`PrivateDir`] (0700 on tmpfs, zeroed and removed on every exit path), the user's editor runs on
//! it until the content parses, and signals (SIGINT/SIGTERM/SIGHUP) are forwarded to the editor and
//! end the session after the directory is wiped. Used by `kubectl-sops edit` and `helm secrets edit`.
//!
//! - The editor is the first non-empty variable of [`EditOptions::editor_vars`], split like a shell
//!   command line (`code --wait` works), else `vi` when it is on `PATH`.
//! - Invalid content re-opens the editor only when stdin is a terminal; otherwise the session fails
//!   and the caller leaves the file untouched (sops would loop).
//! - The editor dies with us: a signal is forwarded to it and it gets SIGKILL 1 s later if it is
//!   still there; when we are killed with SIGKILL, the kernel kills it (`PR_SET_PDEATHSIG`). Without
//!   a terminal it leads its own process group, so what it started goes too. The private directory
//!   of a session killed with SIGKILL is removed by the next session ([`PrivateDir`]).

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use thiserror::Error;
use zeroize::Zeroizing;

use crate::error::{exit, SopsError};
use crate::private_dir::PrivateDir;
use crate::signals;

/// How a session runs.
#[derive(Clone, Debug)]
pub struct EditOptions<'a> {
    /// Variables naming the editor, first set wins (e.g. `SOPS_EDITOR`, `EDITOR`, `VISUAL`).
    pub editor_vars: &'a [&'a str],
    /// Allow the system temp dir when no tmpfs directory is usable.
    pub allow_disk_temp: bool,
    /// Prefix of the prompt printed after invalid content (e.g. `kubectl-sops`).
    pub tool: &'a str,
}

/// Why a session ended without new content. Messages are one line and hold no plaintext.
#[derive(Debug, Error)]
pub enum EditError {
    /// No editor could be found or the variable naming it is malformed.
    #[error("{0}")]
    NoEditor(String),
    /// The editor could not be started.
    #[error("could not run the editor {editor}: {source}")]
    Spawn {
        /// The editor program.
        editor: String,
        /// Why.
        source: std::io::Error,
    },
    /// The editor exited with a failure.
    #[error("{file}: the editor {editor} failed ({status}); the file is unchanged")]
    EditorFailed {
        /// The file being edited.
        file: String,
        /// The editor program.
        editor: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// The private directory or its file could not be made.
    #[error("{file}: {reason}")]
    TempDir {
        /// The file being edited.
        file: String,
        /// Why.
        reason: String,
    },
    /// The edited file could not be read back.
    #[error("{file}: could not read the edited file: {source}")]
    ReadBack {
        /// The file being edited.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The content was saved unchanged.
    #[error("{file}: File has not changed, exiting.")]
    Unchanged {
        /// The file being edited.
        file: String,
    },
    /// The edited content does not parse (or is refused by the caller's check).
    #[error("{file}: the edited content is not valid: {source}; the file is unchanged")]
    Invalid {
        /// The file being edited.
        file: String,
        /// The parse error (never holds values).
        source: SopsError,
    },
    /// Waiting for the editor failed.
    #[error("waiting for the editor: {0}")]
    Wait(std::io::Error),
    /// A signal arrived (it was forwarded to the editor; the private directory is gone).
    #[error("{file}: interrupted by {}; the file is unchanged and the plaintext copy was removed", signals::name(*signal))]
    Interrupted {
        /// The file being edited.
        file: String,
        /// The signal number.
        signal: i32,
    },
}

impl EditError {
    /// sops' exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            EditError::NoEditor(_) | EditError::Spawn { .. } | EditError::EditorFailed { .. } => {
                exit::NO_EDITOR_FOUND
            }
            EditError::TempDir { .. } => exit::COULD_NOT_WRITE_OUTPUT,
            EditError::ReadBack { .. } => exit::COULD_NOT_READ_INPUT,
            EditError::Unchanged { .. } => exit::FILE_HAS_NOT_BEEN_MODIFIED,
            EditError::Invalid { source, .. } => source.exit_code(),
            EditError::Wait(_) => exit::GENERIC,
            EditError::Interrupted { signal, .. } => 128 + signal,
        }
    }
}

/// [`EditError::Interrupted`] when a signal arrived since [`signals::install`]: callers check it
/// once more after sealing, before anything is written.
pub fn interrupted(file: &str) -> Result<(), EditError> {
    match signals::pending() {
        Some(signal) => Err(EditError::Interrupted {
            file: file.to_string(),
            signal,
        }),
        None => Ok(()),
    }
}

/// Writes `plaintext` into a private directory as `file`'s base name, runs the editor until
/// `parse` accepts the content, and returns what it parsed. The directory is gone when this
/// returns (or unwinds). Install [`signals::install`] around the call so signals are recorded; a
/// signal that arrived during the call is reported as [`EditError::Interrupted`], whatever else
/// happened.
pub fn edit_in_private_dir<T>(
    file: &str,
    plaintext: &[u8],
    opts: &EditOptions<'_>,
    parse: impl Fn(&[u8]) -> Result<T, SopsError>,
) -> Result<T, EditError> {
    let result = edit_loop(file, plaintext, opts, parse);
    interrupted(file)?;
    result
}

fn edit_loop<T>(
    file: &str,
    plaintext: &[u8],
    opts: &EditOptions<'_>,
    parse: impl Fn(&[u8]) -> Result<T, SopsError>,
) -> Result<T, EditError> {
    let editor = editor_command(opts.editor_vars)?;
    let base_name = Path::new(file)
        .file_name()
        .unwrap_or(OsStr::new("file"))
        .to_os_string();
    let mut dir =
        PrivateDir::create(&base_name, opts.allow_disk_temp).map_err(|e| EditError::TempDir {
            file: file.to_string(),
            reason: e.to_string(),
        })?;
    dir.write(plaintext).map_err(|e| EditError::TempDir {
        file: file.to_string(),
        reason: format!("could not write the temporary file: {e}"),
    })?;
    let interactive = std::io::stdin().is_terminal();
    loop {
        interrupted(file)?;
        let status = match run_editor(&editor, dir.file())? {
            EditorEnd::Exited(st) => st,
            EditorEnd::Interrupted(ed) => {
                dir.remove();
                reap(ed);
                dir.remove();
                // only ends this way when a signal is pending
                return Err(EditError::Interrupted {
                    file: file.to_string(),
                    signal: signals::pending().unwrap_or(signals::SIGTERM),
                });
            }
        };
        if !status.success() {
            return Err(EditError::EditorFailed {
                file: file.to_string(),
                editor: editor[0].clone(),
                status,
            });
        }
        let edited =
            Zeroizing::new(
                std::fs::read(dir.file()).map_err(|source| EditError::ReadBack {
                    file: file.to_string(),
                    source,
                })?,
            );
        if edited.as_slice() == plaintext {
            return Err(EditError::Unchanged {
                file: file.to_string(),
            });
        }
        match parse(&edited) {
            Ok(v) => return Ok(v),
            Err(e) if interactive => {
                eprintln!(
                    "{}: {file}: the edited content is not valid: {e}. Press Enter to return to the editor, or Ctrl+C to exit.",
                    opts.tool
                );
                if !wait_for_enter() {
                    return Err(EditError::Invalid {
                        file: file.to_string(),
                        source: e,
                    });
                }
            }
            Err(e) => {
                return Err(EditError::Invalid {
                    file: file.to_string(),
                    source: e,
                })
            }
        }
    }
}

/// Waits for a line on stdin; false on end of input or a signal.
fn wait_for_enter() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let got = std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0);
        let _ = tx.send(got);
    });
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(got) => return got,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if signals::pending().is_some() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

/// The editor command line: the first non-empty of `vars`, split like a shell would, else `vi`.
pub fn editor_command(vars: &[&str]) -> Result<Vec<String>, EditError> {
    for var in vars {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let value = value.to_string_lossy();
        if value.trim().is_empty() {
            continue;
        }
        return match crate::shell::split_command(&value) {
            Some(parts) if !parts.is_empty() => Ok(parts),
            _ => Err(EditError::NoEditor(format!(
                "invalid ${var}: {value} (unbalanced quotes)"
            ))),
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join("vi"))))
        .unwrap_or(false);
    if on_path {
        Ok(vec!["vi".to_string()])
    } else {
        Err(EditError::NoEditor(format!(
            "no editor available: set {} (vi is not on PATH)",
            vars.join(", ")
        )))
    }
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

enum EditorEnd {
    Exited(ExitStatus),
    /// A signal arrived while the editor ran (it was forwarded to the editor).
    Interrupted(Editor),
}

/// A running editor; `group` when it leads its own process group.
struct Editor {
    child: Child,
    group: bool,
}

impl Editor {
    fn signal(&self, sig: i32) {
        if self.group {
            signals::send_group(self.child.id(), sig);
        } else {
            signals::send(self.child.id(), sig);
        }
    }
}

#[allow(unsafe_code)] // the pre-exec hook below
fn run_editor(editor: &[String], path: &Path) -> Result<EditorEnd, EditError> {
    let mut cmd = Command::new(&editor[0]);
    cmd.args(&editor[1..]).arg(path);
    // with a terminal the editor must stay in the foreground process group to read it
    let group = !std::io::stdin().is_terminal();
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only makes the prctl,
        // getppid and setpgid calls.
        unsafe {
            cmd.pre_exec(move || {
                signals::die_with_parent(parent)?;
                if group {
                    signals::own_process_group()?;
                }
                Ok(())
            })
        };
    }
    let child = cmd.spawn().map_err(|source| EditError::Spawn {
        editor: editor[0].clone(),
        source,
    })?;
    let mut ed = Editor { child, group };
    if group {
        signals::set_child_group(Some(ed.child.id()));
    } else {
        signals::set_child(Some(ed.child.id()));
    }
    // A signal that came before the child was known has not been forwarded yet.
    if let Some(sig) = signals::pending() {
        ed.signal(sig);
    }
    let end = loop {
        match ed.child.try_wait() {
            Ok(Some(st)) => break EditorEnd::Exited(st),
            Ok(None) => {}
            Err(e) => {
                signals::set_child(None);
                ed.signal(signals::SIGKILL);
                let _ = ed.child.wait();
                return Err(EditError::Wait(e));
            }
        }
        if signals::pending().is_some() {
            break EditorEnd::Interrupted(ed);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if matches!(end, EditorEnd::Exited(_)) {
        signals::set_child(None);
    }
    Ok(end)
}

/// Gives an interrupted editor 1 s to exit after the forwarded signal, then SIGKILL (its whole
/// process group when it leads one).
fn reap(mut ed: Editor) {
    let start = Instant::now();
    let mut exited = false;
    while start.elapsed() < Duration::from_secs(1) {
        if matches!(ed.child.try_wait(), Ok(Some(_)) | Err(_)) {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // what the editor started may still run in its group
    if ed.group || !exited {
        ed.signal(signals::SIGKILL);
    }
    let _ = ed.child.wait();
    signals::set_child(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_sops() {
        assert_eq!(EditError::Unchanged { file: "f".into() }.exit_code(), 200);
        assert_eq!(EditError::NoEditor(String::new()).exit_code(), 201);
        assert_eq!(
            EditError::Invalid {
                file: "f".into(),
                source: SopsError::AlreadyEncrypted
            }
            .exit_code(),
            SopsError::AlreadyEncrypted.exit_code()
        );
    }
}
