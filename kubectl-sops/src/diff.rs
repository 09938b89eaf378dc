//! `kubectl-sops diff`, `textconv` and `git-setup`: per-field changes of encrypted files, on the
//! command line and inside `git diff`/`git log -p`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use clap::Args;
use sops_engine::diff::{
    ciphertext_fingerprint, diff, leaves_of, metadata_lines, render_value, ChangeKind, Leaf,
    ValueDigester, Version,
};
use sops_engine::error::exit;
use sops_engine::file::{open, Opened};
use sops_engine::keys::KeyRing;
use sops_engine::metadata::Metadata;
use sops_engine::stores::{Format, Store};
use sops_engine::tree::Branch;
use sops_engine::SopsError;

use crate::io::{format_of, parse_format, read_input, store, write_output};
use crate::{in_file, CliError};

const DIFF_HELP: &str = "\
Compares two encrypted files, or FILE with its version at a git revision, field by field:

  ~ data.password: *** -> ***
  + data.token: ***
  - data.old: ***
  ~ data.cert: changed or re-encrypted (no key to check)
  + sops.age: age1...

With the keys (found like sops finds them), plaintexts are compared, so a file re-encrypted from
scratch shows no change. Without them, ciphertexts are compared: equal ciphertext is an unchanged
value (exact for files written by `kubectl sops seal --output`, which keeps the ciphertext of
unchanged values), different ciphertext is \"changed or re-encrypted\". Values kept in clear in the
file are shown; encrypted values are masked unless --show-values.

Exit status like diff(1): 0 no difference, 1 differences, 2 trouble.";

/// Arguments of `diff`.
#[derive(Args)]
#[command(after_long_help = DIFF_HELP)]
pub struct DiffArgs {
    /// The old version (with --rev: the file to compare with its committed version).
    #[arg(
        value_name = "OLD|FILE",
        required_unless_present = "files",
        conflicts_with = "files"
    )]
    pub old: Option<String>,
    /// The new version (not with --rev).
    #[arg(value_name = "NEW", conflicts_with = "rev")]
    pub new: Option<String>,
    /// Compare FILE with its version at this git revision (`HEAD`, `main~2`), or the versions at two
    /// revisions with `A..B`.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Show decrypted values instead of `***` (needs the keys).
    #[arg(long)]
    pub show_values: bool,
    /// No colour, even on a terminal (also: NO_COLOR set).
    #[arg(long)]
    pub no_color: bool,
    /// Input format (default: from the extension).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
    #[command(flatten)]
    pub live: crate::cluster::live_diff::LiveArgs,
}

/// Runs `diff`: exits 1 when the versions differ, 2 on trouble.
pub fn run(a: DiffArgs) -> Result<()> {
    match run_diff(&a) {
        Ok(same) => {
            if same {
                Ok(())
            } else {
                let _ = std::io::stdout().flush();
                std::process::exit(1)
            }
        }
        // diff(1): anything above 1 is trouble; keep sops' codes when they are above 1
        Err(e) => {
            let code = e.downcast_ref::<CliError>().map_or(2, |c| c.code.max(2));
            Err(CliError {
                code,
                message: format!("{e:#}"),
            }
            .into())
        }
    }
}

/// One side of a comparison, parsed and (when possible) opened.
struct Side {
    name: String,
    stored: Vec<Branch>,
    metadata: Metadata,
    opened: Option<Opened>,
}

impl Side {
    fn version(&self) -> Version<'_> {
        Version {
            stored: &self.stored,
            metadata: &self.metadata,
            plain: self.opened.as_ref().map(|o| o.docs.as_slice()),
        }
    }
}

/// Opens the file; `None` when no key could decrypt it (any other failure, e.g. a MAC mismatch, is
/// an error).
fn try_open(bytes: &[u8], st: &dyn Store, keys: &KeyRing, name: &str) -> Result<Option<Opened>> {
    match open(bytes, st, keys, false) {
        Ok(o) => Ok(Some(o)),
        Err(SopsError::DataKey(_)) => Ok(None),
        Err(e) => Err(in_file(name, e).into()),
    }
}

/// `--show-values` on a file no key at hand decrypts.
fn no_key_for_values(name: &str) -> anyhow::Error {
    crate::fail(
        exit::COULD_NOT_READ_INPUT,
        format!("{name}: --show-values needs the keys, and no key could decrypt this file"),
    )
}

fn load_side(
    bytes: &[u8],
    name: &str,
    st: &dyn Store,
    keys: &KeyRing,
    show_values: bool,
) -> Result<Side> {
    let (stored, metadata) =
        sops_engine::stores::load_encrypted(st, bytes).map_err(|e| in_file(name, e))?;
    let opened = match try_open(bytes, st, keys, name)? {
        Some(o) => Some(o),
        None if show_values => return Err(no_key_for_values(name)),
        None => None,
    };
    Ok(Side {
        name: name.to_string(),
        stored,
        metadata,
        opened,
    })
}

/// Returns true when both versions are the same.
fn run_diff(a: &DiffArgs) -> Result<bool> {
    let Some(old_name) = a.old.as_deref() else {
        return crate::cluster::live_diff::run(&a.live, a.show_values);
    };
    let keys = KeyRing::default();
    let (old_src, new_src) = match (&a.rev, &a.new) {
        (Some(rev), None) => {
            let (from, to) = match rev.split_once("..") {
                Some((f, t)) => (
                    if f.is_empty() { "HEAD" } else { f },
                    Some(if t.is_empty() { "HEAD" } else { t }),
                ),
                None => (rev.as_str(), None),
            };
            let old = (format!("{from}:{old_name}"), git_blob(old_name, from)?);
            let new = match to {
                Some(t) => (format!("{t}:{old_name}"), git_blob(old_name, t)?),
                None => (old_name.to_string(), read_input(Some(old_name))?),
            };
            (old, new)
        }
        (None, Some(new)) => (
            (old_name.to_string(), read_input(Some(old_name))?),
            (new.clone(), read_input(Some(new))?),
        ),
        _ => {
            return Err(CliError {
                code: 2,
                message: "diff needs two files (OLD NEW), or one file and --rev REV".into(),
            }
            .into())
        }
    };
    let old_store = store(format_of(a.input_type, Some(old_name)), None);
    let new_format = format_of(a.input_type, Some(a.new.as_deref().unwrap_or(old_name)));
    let new_store = store(new_format, None);
    let old = load_side(
        &old_src.1,
        &old_src.0,
        old_store.as_ref(),
        &keys,
        a.show_values,
    )?;
    let new = load_side(
        &new_src.1,
        &new_src.0,
        new_store.as_ref(),
        &keys,
        a.show_values,
    )?;

    let mut no_key: Vec<&str> = [&old, &new]
        .iter()
        .filter(|s| s.opened.is_none())
        .map(|s| {
            if a.rev.is_some() {
                old_name
            } else {
                s.name.as_str()
            }
        })
        .collect();
    no_key.dedup();
    if !no_key.is_empty() {
        eprintln!(
            "{}: no key for {}: comparing ciphertexts",
            crate::prog::name(),
            no_key.join(" and ")
        );
    }

    let d = diff(&old.version(), &new.version()).map_err(|e| in_file(&new.name, e))?;
    let color = !a.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    let paint = |mark: char, line: String| -> String {
        let code = match mark {
            '+' => "32",
            '-' => "31",
            _ => "33",
        };
        if color {
            format!("\x1b[{code}m{line}\x1b[0m\n")
        } else {
            format!("{line}\n")
        }
    };
    let show = |l: &Leaf| -> String {
        if !l.is_encrypted() {
            render_value(&l.stored)
        } else {
            match (&l.plain, a.show_values) {
                (Some(p), true) => render_value(p),
                _ => "***".into(),
            }
        }
    };
    let mut out = String::new();
    for c in &d.changes {
        let line = match (c.kind, &c.old, &c.new) {
            (ChangeKind::Added, _, Some(n)) => ('+', format!("+ {}: {}", c.path, show(n))),
            (ChangeKind::Removed, Some(o), _) => ('-', format!("- {}: {}", c.path, show(o))),
            (ChangeKind::Changed { known: true }, Some(o), Some(n)) => {
                ('~', format!("~ {}: {} -> {}", c.path, show(o), show(n)))
            }
            _ => (
                '~',
                format!("~ {}: changed or re-encrypted (no key to check)", c.path),
            ),
        };
        out.push_str(&paint(line.0, line.1));
    }
    for m in &d.metadata {
        let mark = if m.added { '+' } else { '-' };
        out.push_str(&paint(mark, format!("{mark} {}: {}", m.path, m.value)));
    }
    write_output(out.as_bytes(), None)?;
    Ok(d.is_empty())
}

/// The bytes of FILE at git revision REV (`git cat-file blob REV:<path from the repository root>`).
fn git_blob(file: &str, rev: &str) -> Result<Vec<u8>> {
    let p = Path::new(file);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = p
        .file_name()
        .and_then(|b| b.to_str())
        .ok_or_else(|| CliError {
            code: 2,
            message: format!("{file}: not a file name"),
        })?;
    let fail = |msg: String| CliError {
        code: 2,
        message: format!("{file}: {msg}"),
    };
    let prefix = git(&dir, &["rev-parse", "--show-prefix"]).map_err(fail)?;
    let spec = format!(
        "{rev}:{}{base}",
        String::from_utf8_lossy(&prefix).trim_end()
    );
    Ok(git(&dir, &["cat-file", "blob", &spec])
        .map_err(|e| fail(format!("cannot read it at revision {rev}: {e}")))?)
}

/// Runs git in `dir`; stdout, or stderr's first line as the error.
fn git(dir: &Path, args: &[&str]) -> std::result::Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("git failed")
            .trim()
            .to_string())
    }
}

const TEXTCONV_HELP: &str = "\
Prints one line per value, `path: value`, then the recipients and dates of the sops metadata
(wrapped keys and the MAC are left out). Git runs it on both versions of a file and diffs the
output, so `git diff` and `git log -p` show which fields changed.

Values kept in clear in the file are shown. Encrypted values show as:
  enc:1a2b3c4d    without the key: the start of the SHA-256 of the ciphertext (unchanged values
                  sealed with `kubectl sops seal --output` keep their ciphertext, so they look the same)
  hmac:1a2b3c4d   with the key: a digest of the plaintext keyed with the file's data key, so equal
                  values look equal and a re-encrypted file shows no change, but a digest cannot be
                  checked against guessed values without the data key
  the value       with --show-values (needs the key)

A file without sops metadata is printed as it is.

Set up with `kubectl sops git-setup`, or by hand:
  git config diff.sops.textconv \"kubectl-sops textconv\"
  git config diff.sops.cachetextconv false
  echo '*.enc.yaml diff=sops' >> .gitattributes";

/// Arguments of `textconv`.
#[derive(Args)]
#[command(after_long_help = TEXTCONV_HELP)]
pub struct TextconvArgs {
    /// The encrypted file (git passes a temporary copy).
    pub file: String,
    /// Show decrypted values (needs the keys).
    #[arg(long)]
    pub show_values: bool,
    /// Input format (default: from the extension).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
}

/// Runs `textconv`.
pub fn run_textconv(a: TextconvArgs) -> Result<()> {
    let name = a.file.as_str();
    let bytes = read_input(Some(name))?;
    let st = store(format_of(a.input_type, Some(name)), None);
    // Anything that is not a sops file (the file before it was encrypted, a config file matched by
    // a pattern) is shown as it is: failing here would break `git diff` for the whole repository.
    let Ok((stored, metadata)) = st.load_encrypted(&bytes) else {
        return write_output(&bytes, None);
    };
    let opened = match try_open(&bytes, st.as_ref(), &KeyRing::default(), name) {
        Ok(Some(o)) => Some(o),
        Ok(None) if !a.show_values => None,
        Ok(None) => return Err(no_key_for_values(name)),
        Err(e) if !a.show_values => {
            eprintln!(
                "{}: textconv: {e:#}; showing ciphertext fingerprints",
                crate::prog::name()
            );
            None
        }
        Err(e) => return Err(e),
    };
    let version = Version {
        stored: &stored,
        metadata: &metadata,
        plain: opened.as_ref().map(|o| o.docs.as_slice()),
    };
    let leaves = leaves_of(&version, stored.len() > 1).map_err(|e| in_file(name, e))?;
    let digester = opened.as_ref().map(|o| ValueDigester::new(&o.data_key));
    let mut out = String::new();
    for l in &leaves {
        let shown = match (&l.plain, &digester) {
            _ if !l.is_encrypted() => render_value(&l.stored),
            (Some(p), _) if a.show_values => render_value(p),
            (Some(p), Some(d)) => d.digest(&l.path, p),
            _ => match &l.stored {
                sops_engine::tree::Value::Str(s) => ciphertext_fingerprint(s),
                other => render_value(other),
            },
        };
        out.push_str(&format!("{}: {shown}\n", l.path));
    }
    for (path, value) in metadata_lines(&metadata, true) {
        out.push_str(&format!("{path}: {value}\n"));
    }
    write_output(out.as_bytes(), None)
}

/// `.gitattributes` lines `git-setup` adds.
const ATTRIBUTE_LINES: &[&str] = &[
    "*.enc.yaml diff=sops",
    "*.enc.yml diff=sops",
    "*.enc.json diff=sops",
    "*.enc.env diff=sops",
    "*.enc.ini diff=sops",
    "*.sops.yaml diff=sops",
    "*.sops.yml diff=sops",
    "*.sops.json diff=sops",
    "*.sops.env diff=sops",
    "*.sops.ini diff=sops",
    // the sops config file matches `*.sops.yaml`; it is plain text
    ".sops.yaml !diff",
];

const GIT_SETUP_HELP: &str = "\
Does, in the current repository (or with --global for your user):
  git config diff.sops.textconv \"kubectl-sops textconv\"
  git config diff.sops.cachetextconv false
and adds to .gitattributes (with --global: core.attributesFile, default ~/.config/git/attributes)
the lines that are missing of:
  *.enc.yaml diff=sops   *.enc.yml diff=sops   *.enc.json diff=sops   *.enc.env diff=sops
  *.enc.ini diff=sops    *.sops.yaml diff=sops (and .yml, .json, .env, .ini)   .sops.yaml !diff
Use your own patterns for other file names (`secrets/** diff=sops`). kubectl plugins are on PATH,
so the plain name is used; --absolute writes the full path of this executable instead.";

/// Arguments of `git-setup`.
#[derive(Args)]
#[command(after_long_help = GIT_SETUP_HELP)]
pub struct GitSetupArgs {
    /// Configure your user (`git config --global`, global attributes file) instead of this repository.
    #[arg(long)]
    pub global: bool,
    /// Use the absolute path of this executable in the textconv command.
    #[arg(long)]
    pub absolute: bool,
}

/// Runs `git-setup`.
pub fn run_git_setup(a: GitSetupArgs) -> Result<()> {
    let here = PathBuf::from(".");
    let fail = |msg: String| CliError {
        code: exit::GENERIC,
        message: msg,
    };
    let scope = if a.global { "--global" } else { "--local" };
    let attributes = if a.global {
        global_attributes_file(&here).map_err(fail)?
    } else {
        let top = git(&here, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            fail(format!(
                "not in a git repository ({e}); run it inside one, or use --global"
            ))
        })?;
        PathBuf::from(String::from_utf8_lossy(&top).trim_end()).join(".gitattributes")
    };
    let program = if a.absolute {
        let exe = std::env::current_exe()
            .map_err(|e| fail(format!("cannot find this executable: {e}")))?;
        shell_quote(&exe.to_string_lossy())
    } else {
        "kubectl-sops".to_string()
    };
    let textconv = format!("{program} textconv");
    for (key, value) in [
        ("diff.sops.textconv", textconv.as_str()),
        ("diff.sops.cachetextconv", "false"),
    ] {
        git(&here, &["config", scope, key, value]).map_err(|e| fail(format!("git config: {e}")))?;
        println!("git config {scope} {key} {}", shell_quote(value));
    }

    let existing = match std::fs::read(&attributes) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(format!("{}: {e}", attributes.display())).into()),
    };
    let have: std::collections::HashSet<String> = existing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let missing: Vec<&str> = ATTRIBUTE_LINES
        .iter()
        .copied()
        .filter(|l| !have.contains(*l))
        .collect();
    let shown = attributes.display().to_string();
    if missing.is_empty() {
        println!("{shown}: already has every pattern");
        return Ok(());
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for l in &missing {
        text.push_str(l);
        text.push('\n');
    }
    if let Some(dir) = attributes.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    }
    write_output(text.as_bytes(), Some(&shown))?;
    println!("{shown}: added {}", missing.join(", "));
    Ok(())
}

/// `core.attributesFile` of the user, else `$XDG_CONFIG_HOME/git/attributes`, else
/// `~/.config/git/attributes` (where git looks by default).
fn global_attributes_file(dir: &Path) -> std::result::Result<PathBuf, String> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    if let Ok(v) = git(dir, &["config", "--global", "--get", "core.attributesFile"]) {
        let v = String::from_utf8_lossy(&v).trim().to_string();
        if !v.is_empty() {
            return Ok(match (v.strip_prefix("~/"), &home) {
                (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
                _ => PathBuf::from(v),
            });
        }
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("git/attributes"));
    }
    home.map(|h| PathBuf::from(h).join(".config/git/attributes"))
        .ok_or_else(|| "HOME is not set; cannot find the global git attributes file".into())
}

/// Quotes for the shell git runs textconv commands with, when needed.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
