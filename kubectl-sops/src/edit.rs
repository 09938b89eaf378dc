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

use std::path::Path;

use anyhow::Result;
use clap::Args;
use sops_engine::editor;
use sops_engine::error::exit;
use sops_engine::keys::KeyRing;
use sops_engine::secret_data::{self, DataView};
use sops_engine::signals;
use sops_engine::stores::{Format, Store};
use sops_engine::tree::{Branch, Comment, Item, Value};
use sops_engine::SopsError;
use zeroize::Zeroizing;

use crate::in_file;
use crate::io::{FileArgs, Stores};
use sops_engine::cli::edit as cli_edit;
use sops_engine::cli::io::ConfigOrigin;
use sops_engine::cli::spec::{seal_spec, SealRequest};
use sops_engine::cli::CliError;
use sops_engine::config::Config;
use sops_engine::file::SealSpec;

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
    #[command(flatten)]
    pub files: FileArgs,
    /// The keys a new file is sealed for (an existing file keeps its own).
    #[command(flatten, next_help_heading = "Keys for a new file")]
    pub keys: crate::service_keys::KeyArgs,
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
        config_origin,
        in_format,
        input: in_store,
        output: out_store,
    } = a.files.stores(Some(file))?;
    let keys = KeyRing::default();
    let decode_secrets = in_format == Format::Yaml && !a.raw_data;

    // What to encrypt with afterwards, decided (and checked) before any plaintext is written.
    let is_new = !Path::new(file).exists();
    if is_new {
        let parent = match Path::new(file).parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(crate::fail(
                exit::COULD_NOT_WRITE_OUTPUT,
                format!("{file}: directory {} does not exist", parent.display()),
            ));
        }
    }
    let spec_for = |docs: &[Branch]| new_file_spec(&a, config.as_ref(), &config_origin, docs);
    let (base, mut docs) = cli_edit::begin(
        file,
        in_store.as_ref(),
        &keys,
        a.files.ignore_mac,
        || template(in_format, in_store.as_ref()).map_err(|e| CliError::in_file(file, e)),
        spec_for,
    )?;
    let mut header = if is_new {
        template_header(in_format)
    } else {
        Vec::new()
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
    let docs = edited?;

    cli_edit::finish(file, base, docs, out_store.as_ref(), &keys, spec_for)?;
    drop(signals);
    Ok(())
}

/// The seal spec of a new file: flags first, then the matching creation rule; errors when it names no
/// key this tool can use.
fn new_file_spec(
    a: &EditArgs,
    config: Option<&Config>,
    origin: &ConfigOrigin,
    docs: &[Branch],
) -> Result<SealSpec, CliError> {
    let file = a.file.as_str();
    let plan = seal_spec(
        &SealRequest {
            config,
            origin,
            path: Some(file),
            name: file,
            keys: &a.keys.key_flags(),
            rule: None,
        },
        docs,
    )?;
    if let Some(note) = plan.default_rule_note {
        eprintln!("{}: {note}", crate::prog::name());
    }
    Ok(plan.spec)
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

/// The shared editor session (`sops_engine::editor`) with this command's editor variables.
fn edit_in_private_dir(
    file: &str,
    plaintext: &[u8],
    a: &EditArgs,
    parse: impl Fn(&[u8]) -> std::result::Result<Vec<Branch>, SopsError>,
) -> Result<Vec<Branch>> {
    let opts = editor::EditOptions {
        editor_vars: EDITOR_VARS,
        allow_disk_temp: a.allow_disk_temp,
        tool: crate::prog::name(),
    };
    editor::edit_in_private_dir(file, plaintext, &opts, parse).map_err(edit_error)
}

fn edit_error(e: editor::EditError) -> anyhow::Error {
    crate::fail(e.exit_code(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_puts_the_key_flags_under_a_new_file() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Edit {
            #[command(flatten)]
            args: EditArgs,
        }
        let help = Edit::command().render_help().to_string();
        let heading = help.find("Keys for a new file:").expect("heading");
        for flag in ["--age", "--pgp", "--kms", "--azure-kv"] {
            let at = help.find(&format!("      {flag} <")).expect(flag);
            assert!(at > heading, "{flag} before the heading:\n{help}");
        }
        assert!(help.find("--ignore-mac").unwrap() < heading, "{help}");
    }

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
        let t = |p: &str| sops_engine::private_dir::mount_type(table, Path::new(p));
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
