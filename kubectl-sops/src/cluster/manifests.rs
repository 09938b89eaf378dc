//! `-f FILE|DIR|-` for `apply` and `diff -f`: the files named (directories like kubectl: `.yaml`,
//! `.yml` and `.json` files, `-R` for subdirectories), every document decrypted in memory before
//! anything is sent, and turned into the objects to send.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::Value as Json;
use sops_engine::file::open_read_only;
use sops_engine::keys::KeyRing;
use sops_engine::stores::{Format, Store};
use sops_engine::tree::{Branch, Item, Value};

use super::objects::{self, ObjectError};
use crate::in_file;
use crate::io::{read_input, store};

/// One object to send, with where it came from.
pub struct Manifest {
    /// The file it came from (`<stdin>` for `-`).
    pub source: String,
    /// The object as JSON (decrypted, no `sops` key, unless it is a raw SopsSecret).
    pub object: Json,
    /// True when the file was encrypted (values outside `metadata` count as secret).
    pub from_encrypted: bool,
    /// The plaintexts of every value encrypted in its file (hidden in output wherever they appear).
    pub hidden: Arc<[String]>,
}

/// Everything read from the `-f` arguments.
pub struct Manifests {
    /// The objects, in file and document order.
    pub objects: Vec<Manifest>,
    /// Decrypted strings that must never appear in a message (see [`objects::scrub`]).
    pub secrets: Vec<String>,
}

/// The files named by `-f` arguments, in order; a missing path is an error (exit 1, like kubectl).
/// Directories are read like kubectl reads them; directory symlinks are followed, but each real
/// directory and each real file is taken once, so a link loop ends and no object is sent twice.
pub fn files(args: &[String], recursive: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut seen = Seen::default();
    for a in args {
        if a == "-" {
            out.push(a.clone());
            continue;
        }
        let p = Path::new(a);
        if p.is_dir() {
            dir_files(p, recursive, true, &mut seen, &mut out)?;
        } else if p.exists() {
            if seen.first_visit(p) {
                out.push(a.clone());
            }
        } else {
            return Err(crate::fail(1, format!("the path \"{a}\" does not exist")));
        }
    }
    Ok(out)
}

/// Real files and directories (device, inode) already taken.
#[derive(Default)]
struct Seen(HashSet<(u64, u64)>);

impl Seen {
    /// True the first time the file or directory `p` (links followed) comes up.
    fn first_visit(&mut self, p: &Path) -> bool {
        match std::fs::metadata(p) {
            Ok(m) => self.0.insert((m.dev(), m.ino())),
            Err(_) => true,
        }
    }
}

fn dir_files(
    dir: &Path,
    recursive: bool,
    top: bool,
    seen: &mut Seen,
    out: &mut Vec<String>,
) -> Result<()> {
    if (!top && !recursive) || !seen.first_visit(dir) {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| crate::fail(1, format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            dir_files(&p, recursive, false, seen, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) && seen.first_visit(&p)
        {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// The plaintexts of the values that are `ENC[…]` in `stored`, read at the same place in
/// `plain` (its decrypted form), as text.
fn encrypted_plaintexts(stored: &Value, plain: &Value, out: &mut Vec<String>) {
    match (stored, plain) {
        (Value::Str(s), p) if sops_engine::cipher::is_encrypted(s) => {
            let text = match p {
                Value::Str(t) | Value::Time(t) => t.clone(),
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                _ => return,
            };
            if !text.is_empty() {
                out.push(text);
            }
        }
        (Value::Map(a), Value::Map(b)) => encrypted_in_branch(a, b, out),
        (Value::Seq(a), Value::Seq(b)) => {
            for (x, y) in a.iter().zip(b) {
                encrypted_plaintexts(x, y, out);
            }
        }
        _ => {}
    }
}

fn encrypted_in_branch(stored: &Branch, plain: &Branch, out: &mut Vec<String>) {
    for item in stored {
        if let Item::Pair(k, v) = item {
            if k == "sops" {
                continue;
            }
            if let Some(p) = sops_engine::tree::get(plain, k) {
                encrypted_plaintexts(v, p, out);
            }
        }
    }
}

/// Reads and decrypts every file (all of them before anything is sent), and turns each document
/// into objects: `List`s expanded, SopsSecrets expanded into their Secrets (kept as they are, still
/// encrypted, with `raw_sops_secrets`), a Secret's `stringData` folded into `data`.
pub fn load(files: &[String], keys: &KeyRing, raw_sops_secrets: bool) -> Result<Manifests> {
    let mut m = Manifests {
        objects: Vec::new(),
        secrets: Vec::new(),
    };
    for f in files {
        load_file(f, keys, raw_sops_secrets, &mut m)?;
    }
    Ok(m)
}

fn load_file(file: &str, keys: &KeyRing, raw: bool, m: &mut Manifests) -> Result<()> {
    let name = if file == "-" { "<stdin>" } else { file };
    let bytes = read_input(Some(file))?;
    let format = if file.ends_with(".json") {
        Format::Json
    } else {
        Format::Yaml
    };
    let st: Box<dyn Store> = store(format, None);
    let stored = st.load_plain(&bytes).map_err(|e| in_file(name, e))?;
    let encrypted = st.has_metadata(&stored);
    let docs = if encrypted {
        let all_raw = raw
            && stored.iter().all(|d| {
                d.is_empty() || objects::tree_to_json(d).is_ok_and(|o| objects::is_sops_secret(&o))
            });
        if all_raw {
            // sent as they are: nothing to decrypt, the operator in the cluster holds the keys
            None
        } else {
            Some(
                open_read_only(&bytes, st.as_ref(), keys, false)
                    .map_err(|e| in_file(name, e))?
                    .docs,
            )
        }
    } else {
        None
    };
    let bad = |doc: usize, e: ObjectError| crate::fail(1, format!("{name}: document {doc}: {e}"));
    // every value encrypted in the file: hidden in output, scrubbed from messages, whatever its path
    let mut hidden = Vec::new();
    if let Some(plain) = &docs {
        for (s, p) in stored.iter().zip(plain) {
            encrypted_in_branch(s, p, &mut hidden);
        }
        hidden.sort();
        hidden.dedup();
        m.secrets
            .extend(hidden.iter().filter(|h| h.len() >= 4).cloned());
    }
    let hidden: Arc<[String]> = hidden.into();
    let manifest = |object, from_encrypted| Manifest {
        source: name.to_string(),
        object,
        from_encrypted,
        hidden: Arc::clone(&hidden),
    };
    let first = m.objects.len();
    for (i, doc) in stored.iter().enumerate() {
        let plain = docs.as_ref().and_then(|d| d.get(i));
        let source = plain.unwrap_or(doc);
        if !source
            .iter()
            .any(|it| matches!(it, sops_engine::tree::Item::Pair(..)))
        {
            continue; // an empty document (`---` at the end, only comments)
        }
        let json = objects::tree_to_json(source).map_err(|e| bad(i, e))?;
        for mut o in objects::expand_list(json) {
            if objects::is_sops_secret(&o) {
                if raw {
                    let raw_doc = objects::tree_to_json(doc).map_err(|e| bad(i, e))?;
                    m.objects.push(manifest(raw_doc, false));
                    continue;
                }
                if encrypted {
                    objects::secret_strings(&o, &mut m.secrets);
                }
                for s in objects::expand_sops_secret(&o).map_err(|e| bad(i, e))? {
                    m.objects.push(manifest(s, encrypted));
                }
                continue;
            }
            if let Some(obj) = o.as_object_mut() {
                obj.remove("sops");
            }
            objects::fold_string_data(&mut o).map_err(|e| bad(i, e))?;
            if encrypted || objects::is_secret(&o) {
                objects::secret_strings(&o, &mut m.secrets);
            }
            m.objects.push(manifest(o, encrypted));
        }
    }
    // names go into request paths: checked before anything is sent
    for o in &m.objects[first..] {
        objects::check_names(&o.object)
            .map_err(|e| crate::fail(1, format!("{name}: {}: {e}", objects::kind(&o.object))))?;
    }
    Ok(())
}
