//! `kubectl-sops edit FILE`: decrypt into a private memory-backed directory, run the editor, and
//! re-encrypt with stable ciphertext (only changed values get new `ENC[…]` strings).
//!
//! Like `sops edit`, plus:
//! - the plaintext lives only in a fresh 0700 directory on tmpfs (`$XDG_RUNTIME_DIR`, else
//!   `/dev/shm`); a disk-backed temp dir needs `--allow-disk-temp`;
//! - that directory is wiped (files overwritten with zeros, then removed) on every exit path: success,
//!   no change, editor failure, invalid content, errors, panics, and SIGINT/SIGTERM/SIGHUP while the
//!   editor runs;
//! - the editor is `$SOPS_EDITOR`, `$KUBE_EDITOR`, `$EDITOR`, `$VISUAL`, else `vi` (split like a shell
//!   command line, so `code --wait` works);
//! - invalid content re-opens the editor only when stdin is a terminal; otherwise edit fails and the
//!   file is left untouched (sops would loop);
//! - Kubernetes `Secret` `data` values are shown decoded (see `sops_engine::secret_data`), unless
//!   `--raw-data`.

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use sops_engine::error::exit;
use sops_engine::file::{open, prepare_new, reseal, seal, Opened};
use sops_engine::keys::KeyRing;
use sops_engine::secret_data::{self, DataView};
use sops_engine::stores::{Format, Store};
use sops_engine::tree::{Branch, Comment, Item, Value};
use sops_engine::SopsError;
use zeroize::Zeroizing;

use crate::io::{read_input, write_output, FileArgs, Stores};
use crate::spec::seal_spec;
use crate::{in_file, CliError};

/// Arguments of `edit`.
#[derive(Args)]
#[command(after_help = "\
Editor: $SOPS_EDITOR, $KUBE_EDITOR, $EDITOR, $VISUAL (first set wins; may hold arguments, e.g. \"code --wait\"), else vi.
The plaintext is only written to a fresh 0700 directory on tmpfs ($XDG_RUNTIME_DIR, else /dev/shm), removed on every exit.
Exit codes (sops): 200 file not changed, 201 no editor / editor failed, 2 invalid content, 128+N interrupted by signal N.")]
pub struct EditArgs {
    /// Encrypted file to edit; a file that does not exist yet is created from a template and
    /// encrypted with the matching .sops.yaml creation rule (or --age/--pgp).
    pub file: String,
    /// Show Secret `data` values as stored (base64) instead of decoded.
    #[arg(long, visible_alias = "no-decode")]
    pub raw_data: bool,
    /// Allow the plaintext in the system temp dir when no tmpfs directory ($XDG_RUNTIME_DIR,
    /// /dev/shm) is usable; the plaintext may then reach the disk.
    #[arg(long)]
    pub allow_disk_temp: bool,
    /// age recipients for a new file, comma separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_AGE_RECIPIENTS", value_delimiter = ',')]
    pub age: Vec<String>,
    /// PGP fingerprints for a new file, comma separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_PGP_FP", value_delimiter = ',')]
    pub pgp: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
}

/// Environment variables naming the editor, in the order they are honoured.
const EDITOR_VARS: &[&str] = &["SOPS_EDITOR", "KUBE_EDITOR", "EDITOR", "VISUAL"];

/// Prefix of the explanation lines put at the top of the file being edited (removed on save).
const HEADER_PREFIX: &str = "# kubectl-sops:";

/// Runs `edit`.
pub fn run(a: EditArgs) -> Result<()> {
    let file = a.file.as_str();
    let Stores {
        config,
        in_format,
        input: in_store,
        output: out_store,
    } = a.files.stores(Some(file))?;
    let keys = KeyRing::default();
    let decode_secrets = in_format == Format::Yaml && !a.raw_data;

    // What to encrypt with afterwards, decided (and checked) before any plaintext is written.
    let (existing, mut docs, mut header) = if Path::new(file).exists() {
        let input = read_input(Some(file))?;
        let mut opened = open(&input, in_store.as_ref(), &keys, a.files.ignore_mac)
            .map_err(|e| in_file(file, e))?;
        let docs = std::mem::take(&mut opened.docs);
        (Existing::File(opened), docs, Vec::new())
    } else {
        let parent = match Path::new(file).parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(CliError::err(
                exit::COULD_NOT_WRITE_OUTPUT,
                format!("{file}: directory {} does not exist", parent.display()),
            ));
        }
        let docs = template(in_format, in_store.as_ref()).map_err(|e| in_file(file, e))?;
        // wrap the data key now, so a key that cannot be used fails before the editor opens
        let spec = new_file_spec(&a, config.as_ref(), &docs)?;
        let prepared = prepare_new(&spec, &keys).map_err(|e| in_file(file, e))?;
        (Existing::New(prepared), docs, template_header(in_format))
    };
    let view = if decode_secrets {
        secret_data::decode(&mut docs)
    } else {
        DataView::default()
    };
    header.extend(view.header());
    let mut plaintext = Zeroizing::new(Vec::new());
    for line in &header {
        plaintext.extend_from_slice(line.as_bytes());
        plaintext.push(b'\n');
    }
    plaintext.extend_from_slice(&in_store.emit_plain(&docs).map_err(|e| in_file(file, e))?);
    drop(docs);

    let parse = |bytes: &[u8]| -> std::result::Result<Vec<Branch>, SopsError> {
        let text = strip_header(bytes, &header);
        let mut docs = in_store.load_plain(&text)?;
        if in_store.has_metadata(&docs) {
            return Err(SopsError::AlreadyEncrypted);
        }
        view.encode(&mut docs)?;
        Ok(docs)
    };

    let signals = signals::install();
    let edited = edit_in_private_dir(file, &plaintext, &a, parse);
    drop(plaintext);
    let docs = match (edited, signals::pending()) {
        (_, Some(sig)) => return Err(interrupted(file, sig)),
        (Err(e), None) => return Err(e),
        (Ok(docs), None) => docs,
    };

    let bytes = match existing {
        Existing::File(opened) => reseal_to_bytes(opened, docs, out_store.as_ref()),
        Existing::New(prepared) => {
            let spec = new_file_spec(&a, config.as_ref(), &docs)?;
            seal(docs, &spec, &keys, Some(prepared))
                .and_then(|(docs, md)| out_store.emit_encrypted(&docs, &md))
        }
    }
    .map_err(|e| in_file(file, e))?;
    if let Some(sig) = signals::pending() {
        return Err(interrupted(file, sig));
    }
    write_output(&bytes, Some(file))?;
    drop(signals);
    Ok(())
}

/// What the edited text is sealed onto: the opened file, or the data key already wrapped for a new
/// file.
enum Existing {
    File(Opened),
    New(Opened),
}

fn reseal_to_bytes(
    opened: Opened,
    docs: Vec<Branch>,
    out_store: &dyn Store,
) -> std::result::Result<Vec<u8>, SopsError> {
    let (docs, md) = reseal(opened, docs)?;
    out_store.emit_encrypted(&docs, &md)
}

fn interrupted(file: &str, sig: i32) -> anyhow::Error {
    CliError::err(
        128 + sig,
        format!(
            "{file}: interrupted by {}; the file is unchanged and the plaintext copy was removed",
            signals::name(sig)
        ),
    )
}

/// The seal spec of a new file: flags first, then the matching creation rule; errors when it names no
/// key this tool can use.
fn new_file_spec(
    a: &EditArgs,
    config: Option<&sops_engine::config::Config>,
    docs: &[Branch],
) -> Result<sops_engine::file::SealSpec> {
    let file = a.file.as_str();
    let spec = seal_spec(config, Some(file), file, docs, &a.age, &a.pgp)?;
    if spec.groups.iter().all(Vec::is_empty) {
        return Err(in_file(
            file,
            SopsError::NoEncryptionKey(
                "config file not found, or has no creation rules, and no keys provided through command line options"
                    .into(),
            ),
        )
        .into());
    }
    Ok(spec)
}

// ------------------------------------------------------------------------------------ templates

/// The plaintext a new file starts from: a Kubernetes Secret for YAML, sops' examples otherwise.
fn template(format: Format, store: &dyn Store) -> std::result::Result<Vec<Branch>, SopsError> {
    let s = |v: &str| Value::Str(v.to_string());
    let pair = |k: &str, v: Value| Item::Pair(k.into(), v);
    let comment = |t: &str| Item::Comment(Comment::line(t));
    const HELLO: &str = "Welcome to SOPS! Edit this file as you please!";
    Ok(match format {
        Format::Yaml => store.load_plain(
            b"apiVersion: v1\nkind: Secret\nmetadata:\n    name: example\ntype: Opaque\nstringData:\n    username: admin\n    password: change-me\n",
        )?,
        Format::Json => vec![vec![
            pair("hello", s(HELLO)),
            pair("example_key", s("example_value")),
            pair(
                "example_array",
                Value::Seq(vec![s("example_value1"), s("example_value2")]),
            ),
            pair("example_number", Value::Float(1234.56789)),
            pair(
                "example_booleans",
                Value::Seq(vec![Value::Bool(true), Value::Bool(false)]),
            ),
        ]],
        Format::Dotenv => vec![vec![
            comment(" This is an example file."),
            pair("hello", s(HELLO)),
            pair("example_key", s("example_value")),
            pair("example_multiline", s("foo\nbar\nbaz")),
        ]],
        Format::Ini => vec![vec![pair(
            "Welcome!",
            Value::Map(vec![
                comment("This is an example file."),
                pair("hello", s(HELLO)),
                pair("example_key", s("example_value")),
            ]),
        )]],
        Format::Binary => vec![vec![pair("data", s(HELLO))]],
    })
}

/// The explanation put above a new file's template (YAML only: other formats have no safe comment
/// syntax for every store, and sops shows its examples bare).
fn template_header(format: Format) -> Vec<String> {
    match format {
        Format::Yaml => vec![format!(
            "{HEADER_PREFIX} new file: it is encrypted on save with the matching .sops.yaml rule (or --age/--pgp); save it unchanged to cancel."
        )],
        _ => Vec::new(),
    }
}

/// Removes the leading lines of `bytes` that are exactly lines of `header`.
fn strip_header(bytes: &[u8], header: &[String]) -> Zeroizing<Vec<u8>> {
    let mut rest = bytes;
    if !header.is_empty() {
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let line = &rest[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if header.iter().any(|h| h.as_bytes() == line) {
                rest = &rest[nl + 1..];
            } else {
                break;
            }
        }
    }
    Zeroizing::new(rest.to_vec())
}

// ------------------------------------------------------------------------------------ edit loop

/// Writes the plaintext into a private directory, runs the editor until the content parses (or fails),
/// and returns the parsed documents. The directory is gone when this returns (or unwinds).
fn edit_in_private_dir(
    file: &str,
    plaintext: &[u8],
    a: &EditArgs,
    parse: impl Fn(&[u8]) -> std::result::Result<Vec<Branch>, SopsError>,
) -> Result<Vec<Branch>> {
    let editor = editor_command()?;
    let base_name = Path::new(file)
        .file_name()
        .unwrap_or(OsStr::new("file"))
        .to_os_string();
    let mut dir = private::PrivateDir::create(&base_name, a.allow_disk_temp)
        .map_err(|e| CliError::err(exit::COULD_NOT_WRITE_OUTPUT, format!("{file}: {e}")))?;
    dir.write(plaintext).map_err(|e| {
        CliError::err(
            exit::COULD_NOT_WRITE_OUTPUT,
            format!("{file}: could not write the temporary file: {e}"),
        )
    })?;
    let interactive = std::io::stdin().is_terminal();
    loop {
        if signals::pending().is_some() {
            return Err(CliError::err(1, "interrupted"));
        }
        let status = match run_editor(&editor, dir.file())? {
            EditorEnd::Exited(st) => st,
            EditorEnd::Interrupted(child) => {
                dir.remove();
                reap(child);
                dir.remove();
                return Err(CliError::err(1, "interrupted"));
            }
        };
        if !status.success() {
            return Err(CliError::err(
                exit::NO_EDITOR_FOUND,
                format!(
                    "{file}: the editor {} failed ({status}); the file is unchanged",
                    editor[0]
                ),
            ));
        }
        let edited = Zeroizing::new(std::fs::read(dir.file()).map_err(|e| {
            CliError::err(
                exit::COULD_NOT_READ_INPUT,
                format!("{file}: could not read the edited file: {e}"),
            )
        })?);
        if edited.as_slice() == plaintext {
            return Err(CliError::err(
                exit::FILE_HAS_NOT_BEEN_MODIFIED,
                "File has not changed, exiting.",
            ));
        }
        match parse(&edited) {
            Ok(docs) => return Ok(docs),
            Err(e) if interactive => {
                eprintln!(
                    "kubectl-sops: {file}: the edited content is not valid: {e}. Press Enter to return to the editor, or Ctrl+C to exit."
                );
                if !wait_for_enter() {
                    return Err(CliError::err(
                        e.exit_code(),
                        format!(
                            "{file}: the edited content is not valid: {e}; the file is unchanged"
                        ),
                    ));
                }
            }
            Err(e) => {
                return Err(CliError::err(
                    e.exit_code(),
                    format!("{file}: the edited content is not valid: {e}; the file is unchanged"),
                ))
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

/// The editor command line: the first non-empty of [`EDITOR_VARS`], split like a shell would, else `vi`.
fn editor_command() -> Result<Vec<String>> {
    for var in EDITOR_VARS {
        let Some(value) = std::env::var_os(var) else {
            continue;
        };
        let value = value.to_string_lossy();
        if value.trim().is_empty() {
            continue;
        }
        return match sops_engine::shell::split_command(&value) {
            Some(parts) if !parts.is_empty() => Ok(parts),
            _ => Err(CliError::err(
                exit::NO_EDITOR_FOUND,
                format!("invalid ${var}: {value} (unbalanced quotes)"),
            )),
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join("vi"))))
        .unwrap_or(false);
    if on_path {
        Ok(vec!["vi".to_string()])
    } else {
        Err(CliError::err(
            exit::NO_EDITOR_FOUND,
            "no editor available: set SOPS_EDITOR, KUBE_EDITOR, EDITOR or VISUAL (vi is not on PATH)",
        ))
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
    Interrupted(Child),
}

fn run_editor(editor: &[String], path: &Path) -> Result<EditorEnd> {
    let mut child = Command::new(&editor[0])
        .args(&editor[1..])
        .arg(path)
        .spawn()
        .map_err(|e| {
            CliError::err(
                exit::NO_EDITOR_FOUND,
                format!("could not run the editor {}: {e}", editor[0]),
            )
        })?;
    signals::set_child(Some(child.id()));
    // A signal that came before the child was known has not been forwarded yet.
    if let Some(sig) = signals::pending() {
        signals::send(child.id(), sig);
    }
    let end = loop {
        match child.try_wait() {
            Ok(Some(st)) => break EditorEnd::Exited(st),
            Ok(None) => {}
            Err(e) => {
                signals::set_child(None);
                let _ = child.kill();
                let _ = child.wait();
                return Err(CliError::err(1, format!("waiting for the editor: {e}")));
            }
        }
        if signals::pending().is_some() {
            break EditorEnd::Interrupted(child);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if matches!(end, EditorEnd::Exited(_)) {
        signals::set_child(None);
    }
    Ok(end)
}

/// Gives an interrupted editor 2 s to exit, then SIGTERM, 2 s more, then SIGKILL.
fn reap(mut child: Child) {
    let wait = |child: &mut Child, d: Duration| {
        let start = Instant::now();
        while start.elapsed() < d {
            if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    if !wait(&mut child, Duration::from_secs(2)) {
        signals::send(child.id(), signals::SIGTERM);
        if !wait(&mut child, Duration::from_secs(2)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    signals::set_child(None);
}

// ------------------------------------------------------------------------------------ private dir

mod private {
    //! The private directory holding the plaintext while it is edited.

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
                    Some(t) if MEMORY_FS.contains(&t.as_str()) => {
                        match make_dir(&base, file_name) {
                            Ok(d) => return Ok(d),
                            Err(e) => tried.push(format!("{}: {e}", base.display())),
                        }
                    }
                    Some(t) => tried.push(format!("{} is {t}, not tmpfs", base.display())),
                    None => tried.push(format!("{} is not usable", base.display())),
                }
            }
            if allow_disk {
                let base = std::env::temp_dir();
                return make_dir(&base, file_name).map_err(|e| {
                    format!("could not create a directory in {}: {e}", base.display())
                });
            }
            Err(format!(
                "no memory-backed directory for the plaintext ({}); pass --allow-disk-temp to use {} (the plaintext may then reach the disk)",
                tried.join("; "),
                std::env::temp_dir().display()
            ))
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
        b.prefix("kubectl-sops-");
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
}

// ------------------------------------------------------------------------------------ signals

#[cfg(unix)]
mod signals {
    //! SIGINT/SIGTERM/SIGHUP while editing: recorded and forwarded to the editor, so the main thread
    //! can wipe the private directory and exit 128+signal. A tiny binding to libc's `signal` and
    //! `kill` (std links libc already); the handler only does async-signal-safe work.

    use std::os::raw::c_int;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// Hang-up.
    pub const SIGHUP: c_int = 1;
    /// Interrupt (Ctrl+C).
    pub const SIGINT: c_int = 2;
    /// Termination request.
    pub const SIGTERM: c_int = 15;
    const HANDLED: [c_int; 3] = [SIGHUP, SIGINT, SIGTERM];
    const SIG_ERR: usize = usize::MAX;

    static PENDING: AtomicI32 = AtomicI32::new(0);
    static CHILD: AtomicI32 = AtomicI32::new(0);

    extern "C" {
        fn signal(signum: c_int, handler: usize) -> usize;
        fn kill(pid: i32, sig: c_int) -> c_int;
    }

    extern "C" fn on_signal(sig: c_int) {
        PENDING.store(sig, Ordering::SeqCst);
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe; pid is our own child.
            unsafe {
                kill(pid, sig);
            }
        }
    }

    /// Restores the previous dispositions on drop.
    pub struct Guard {
        previous: Vec<(c_int, usize)>,
    }

    /// Installs the handlers. Like sops (Go's `signal.Notify`), a signal ignored before (a background
    /// job's SIGINT, SIGHUP under nohup) is handled too: the plaintext must not outlive the process.
    pub fn install() -> Guard {
        let handler = on_signal as extern "C" fn(c_int) as usize;
        let mut previous = Vec::new();
        for sig in HANDLED {
            // SAFETY: installs a handler that only touches atomics and calls kill.
            let prev = unsafe { signal(sig, handler) };
            if prev != SIG_ERR {
                previous.push((sig, prev));
            }
        }
        Guard { previous }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            for (sig, prev) in &self.previous {
                // SAFETY: puts back the disposition that was there before.
                unsafe { signal(*sig, *prev) };
            }
        }
    }

    /// The signal received since [`install`], if any.
    pub fn pending() -> Option<i32> {
        match PENDING.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Records the running editor, to forward signals to it.
    pub fn set_child(pid: Option<u32>) {
        let pid = pid.and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        CHILD.store(pid, Ordering::SeqCst);
    }

    /// Sends `sig` to our child `pid`.
    pub fn send(pid: u32, sig: i32) {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                kill(pid, sig);
            }
        }
    }

    /// The name of a handled signal.
    pub fn name(sig: i32) -> String {
        match sig {
            SIGHUP => "SIGHUP".into(),
            SIGINT => "SIGINT".into(),
            SIGTERM => "SIGTERM".into(),
            s => format!("signal {s}"),
        }
    }
}

#[cfg(not(unix))]
mod signals {
    //! No signal handling off Unix: the private directory is still removed on every other path.

    /// Termination request (unused here).
    pub const SIGTERM: i32 = 15;
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
    /// The signal number.
    pub fn name(sig: i32) -> String {
        format!("signal {sig}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_splitting() {
        let s = |x: &str| sops_engine::shell::split_command(x).map(|v| v.join("|"));
        assert_eq!(s("vi").as_deref(), Some("vi"));
        assert_eq!(s("  code --wait ").as_deref(), Some("code|--wait"));
        assert_eq!(
            s(r#"'/opt/my editor/bin' -c "set ft=yaml" a\ b"#).as_deref(),
            Some("/opt/my editor/bin|-c|set ft=yaml|a b")
        );
        assert_eq!(s(r#"x "" ''"#).as_deref(), Some("x||"));
        assert_eq!(s(r#""a\"b\n""#).as_deref(), Some("a\"b\\n"));
        assert_eq!(s("'open"), None);
        assert_eq!(s("\"open"), None);
        assert_eq!(s("").as_deref(), Some(""));
    }

    #[test]
    fn mount_table_lookup() {
        let table = "proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\ntmpfs /run/user/1000 tmpfs rw 0 0\n/dev/sdb /mnt/my\\040disk xfs rw 0 0\noverlay /run/user/1000 overlay rw 0 0\n";
        let t = |p: &str| private::mount_type(table, Path::new(p));
        assert_eq!(t("/dev/shm/x").as_deref(), Some("tmpfs"));
        assert_eq!(t("/dev/shmx").as_deref(), Some("ext4"));
        assert_eq!(t("/home/u").as_deref(), Some("ext4"));
        assert_eq!(t("/mnt/my disk/a").as_deref(), Some("xfs"));
        // the later mount at the same point wins
        assert_eq!(t("/run/user/1000").as_deref(), Some("overlay"));
    }

    #[test]
    fn header_lines_are_stripped_exactly() {
        let header = vec![format!("{HEADER_PREFIX} a"), format!("{HEADER_PREFIX} b")];
        let text =
            format!("{HEADER_PREFIX} a\n{HEADER_PREFIX} b\n# mine\n{HEADER_PREFIX} a\nk: v\n");
        assert_eq!(
            strip_header(text.as_bytes(), &header).as_slice(),
            format!("# mine\n{HEADER_PREFIX} a\nk: v\n").as_bytes()
        );
        assert_eq!(strip_header(b"k: v\n", &header).as_slice(), b"k: v\n");
        assert_eq!(
            strip_header(text.as_bytes(), &[]).as_slice(),
            text.as_bytes()
        );
    }

    #[test]
    fn templates_parse_in_their_store() {
        use sops_engine::stores::{store_for, StoreSettings};
        for f in [
            Format::Yaml,
            Format::Json,
            Format::Dotenv,
            Format::Ini,
            Format::Binary,
        ] {
            let st = store_for(f, &StoreSettings::default());
            let docs = template(f, st.as_ref()).unwrap();
            let bytes = st.emit_plain(&docs).unwrap();
            let again = st.emit_plain(&st.load_plain(&bytes).unwrap()).unwrap();
            assert_eq!(again, bytes, "{f:?}");
        }
    }
}
