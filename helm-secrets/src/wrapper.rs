//! `helm secrets <helm command> …`: decrypts every encrypted `-f/--values/--set-file` file and runs
//! helm on the plaintext, which never touches a filesystem.
//!
//! - One pass over the arguments (linear in their number and length) finds the values files:
//!   `-f x`, `-fx`, `-f=x`, `--values x`, `--values=x` (comma lists like pflag's string slices),
//!   `--set-file k=path[,k2=path2]` and `--set-file=…`. Everything after `--` and every other
//!   argument is passed on unchanged.
//! - The distinct files are decrypted in parallel. An encrypted file is replaced by a sealed memfd
//!   that helm opens as `/proc/self/fd/N`; `secrets://` URLs are served the same way. Files without
//!   sops metadata, URLs of other schemes and `-` are left as they are.
//! - helm's global flags reach a plugin only as `HELM_*` variables; they are inherited by the helm
//!   we run (which reads them back), and the visible ones are passed as flags too: `--namespace`,
//!   `--kube-context`, `--debug`. Tokens stay in the environment, never on a command line.
//! - helm replaces this process (`exec`), so its exit code and signals are helm's own.

use std::collections::HashMap;
use std::path::Path;

use sops_engine::keys::KeyRing;

use crate::backend::Backend;
use crate::decrypt::Decrypted;
use crate::error::Failure;
use crate::input::{self, LoadError};
use crate::memfd::MemFile;
use crate::remote::Tls;
use crate::settings::Settings;
use crate::source;

/// A values file or URL named on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Job {
    /// A path or URL given to `-f`/`--values` (with its `?`/`backend!` prefixes).
    Values(String),
    /// A path or URL given to `--set-file`.
    SetFile(String),
    /// A `secrets://` URL given to `-f`/`--values`.
    Url(String),
}

/// A file item with helm-secrets' prefixes split off: `?` (optional), `sops!`/`noop!` (backend).
struct FileRef<'a> {
    path: &'a str,
    optional: bool,
    backend: Option<Backend>,
}

fn file_ref(text: &str) -> Result<FileRef<'_>, Failure> {
    let (optional, rest) = match text.strip_prefix('?') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (backend, path) = crate::backend::split_prefix(rest).map_err(Failure::new)?;
    Ok(FileRef {
        path,
        optional,
        backend,
    })
}

/// The path of an item, prefixes removed.
fn bare_path(text: &str) -> &str {
    file_ref(text).map_or(text, |f| f.path)
}

/// What to pass to helm instead of a job's original text.
#[derive(Debug, PartialEq, Eq)]
enum Resolution {
    /// The original text (plaintext file, missing file helm should report).
    Keep,
    /// A replacement path (a memfd).
    Replace(String),
    /// Left out (missing file with `HELM_SECRETS_IGNORE_MISSING_VALUES`).
    Drop,
}

/// One item of a values list or set-file list.
#[derive(Debug)]
enum Item {
    /// Passed as written.
    Raw(String),
    /// A job; for `--set-file` with its `key=` prefix.
    Job { prefix: String, job: usize },
}

/// How a file flag was written.
#[derive(Debug)]
enum Form {
    /// `-f VALUE`: the flag word, then the value as its own argument.
    Separate(String),
    /// `-fVALUE`, `-f=VALUE`, `--values=VALUE`: the text before the value.
    Attached(String),
}

/// The command line, split into pieces that are passed on and pieces that name files.
#[derive(Debug)]
enum Piece {
    Arg(String),
    Files { form: Form, items: Vec<Item> },
}

/// The parsed command line.
#[derive(Debug, Default)]
struct Plan {
    pieces: Vec<Piece>,
    jobs: Vec<Job>,
    /// helm's TLS flags, used for remote values files too.
    tls: Tls,
}

impl Plan {
    fn job(&mut self, index: &mut HashMap<Job, usize>, job: Job) -> usize {
        *index.entry(job.clone()).or_insert_with(|| {
            self.jobs.push(job);
            self.jobs.len() - 1
        })
    }
}

/// Splits the command line (one pass).
fn plan(args: Vec<String>) -> Plan {
    let mut p = Plan::default();
    let mut index: HashMap<Job, usize> = HashMap::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            p.pieces.push(Piece::Arg(arg));
            p.pieces.extend(it.by_ref().map(Piece::Arg));
            break;
        }
        tls_flag(&mut p.tls, &arg, it.as_slice().first());
        let (form, value, set_file) = if arg == "-f" || arg == "--values" || arg == "--set-file" {
            let set_file = arg == "--set-file";
            match it.next() {
                Some(v) => (Form::Separate(arg), v, set_file),
                None => {
                    p.pieces.push(Piece::Arg(arg));
                    break;
                }
            }
        } else if let Some(v) = arg.strip_prefix("--values=") {
            (Form::Attached("--values=".into()), v.to_string(), false)
        } else if let Some(v) = arg.strip_prefix("--set-file=") {
            (Form::Attached("--set-file=".into()), v.to_string(), true)
        } else if let Some(v) = arg.strip_prefix("-f").filter(|_| !arg.starts_with("--")) {
            let (prefix, v) = match v.strip_prefix('=') {
                Some(rest) => ("-f=", rest),
                None => ("-f", v),
            };
            (Form::Attached(prefix.into()), v.to_string(), false)
        } else {
            p.pieces.push(Piece::Arg(arg));
            continue;
        };
        let items = if set_file {
            set_file_items(&mut p, &mut index, &value)
        } else {
            values_items(&mut p, &mut index, &value)
        };
        p.pieces.push(Piece::Files { form, items });
    }
    p
}

/// Notes helm's `--ca-file`, `--cert-file`, `--key-file` and `--insecure-skip-tls-verify`.
fn tls_flag(tls: &mut Tls, arg: &str, next: Option<&String>) {
    let (flag, value) = match arg.split_once('=') {
        Some((f, v)) => (f, Some(v)),
        None => (arg, next.map(String::as_str)),
    };
    let path = || {
        value
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    match flag {
        "--ca-file" => tls.ca_file = path(),
        "--cert-file" => tls.cert_file = path(),
        "--key-file" => tls.key_file = path(),
        "--insecure-skip-tls-verify" => {
            tls.insecure = arg == flag
                || crate::settings::parse_bool(value.unwrap_or_default()).unwrap_or(false)
        }
        _ => {}
    }
}

/// `a.yaml,secrets://b.yaml,https://c` (pflag string slice: comma separated).
fn values_items(p: &mut Plan, index: &mut HashMap<Job, usize>, value: &str) -> Vec<Item> {
    value
        .split(',')
        .map(|v| {
            if source::is_secrets_url(bare_path(v)) {
                Item::Job {
                    prefix: String::new(),
                    job: p.job(index, Job::Url(v.to_string())),
                }
            } else if v.is_empty() || v == "-" {
                Item::Raw(v.to_string())
            } else {
                Item::Job {
                    prefix: String::new(),
                    job: p.job(index, Job::Values(v.to_string())),
                }
            }
        })
        .collect()
}

/// `key=path,key2=path2` (helm's strvals syntax). Parts with backslash escapes are left alone.
fn set_file_items(p: &mut Plan, index: &mut HashMap<Job, usize>, value: &str) -> Vec<Item> {
    if value.contains('\\') {
        return vec![Item::Raw(value.to_string())];
    }
    value
        .split(',')
        .map(|part| match part.split_once('=') {
            Some((key, path)) if !path.is_empty() && !source::is_secrets_url(path) => Item::Job {
                prefix: format!("{key}="),
                job: p.job(index, Job::SetFile(path.to_string())),
            },
            _ => Item::Raw(part.to_string()),
        })
        .collect()
}

/// Rebuilds the command line with the resolutions (one pass).
fn render(pieces: Vec<Piece>, res: &[Resolution], jobs: &[Job]) -> Vec<String> {
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Piece::Arg(a) => out.push(a),
            Piece::Files { form, items } => {
                let kept: Vec<String> = items
                    .into_iter()
                    .filter_map(|item| match item {
                        Item::Raw(r) => Some(r),
                        Item::Job { prefix, job } => match &res[job] {
                            Resolution::Keep => {
                                Some(format!("{prefix}{}", bare_path(job_text(&jobs[job]))))
                            }
                            Resolution::Replace(r) => Some(format!("{prefix}{r}")),
                            Resolution::Drop => None,
                        },
                    })
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                let joined = kept.join(",");
                match form {
                    Form::Separate(flag) => {
                        out.push(flag);
                        out.push(joined);
                    }
                    Form::Attached(prefix) => out.push(format!("{prefix}{joined}")),
                }
            }
        }
    }
    out
}

fn job_text(j: &Job) -> &str {
    match j {
        Job::Values(s) | Job::SetFile(s) | Job::Url(s) => s,
    }
}

/// The content of one job for helm, or what to do instead.
enum Outcome {
    Keep,
    Drop,
    /// Content for a memfd: decrypted, or a remote file's plain bytes.
    Content(Decrypted),
}

fn resolve_one(job: &Job, keys: &KeyRing, tls: &Tls, s: &Settings) -> Result<Outcome, Failure> {
    let f = file_ref(job_text(job))?;
    let noop = f.backend.unwrap_or(s.backend) == Backend::Noop;
    match job {
        Job::Values(_) | Job::SetFile(_) => {
            let path = f.path;
            let remote = crate::remote::is_remote(path);
            let bytes = match input::load(path, tls, s) {
                Ok(b) => b,
                Err(LoadError::Missing(e)) => {
                    return match job {
                        Job::Values(_) if f.optional || s.ignore_missing_values => {
                            Ok(Outcome::Drop)
                        }
                        // helm-secrets hands helm an empty file
                        Job::SetFile(_) if f.optional => {
                            Ok(Outcome::Content(Decrypted::Plain(Vec::new())))
                        }
                        _ => Err(e),
                    };
                }
                Err(e) => return Err(e.into_failure()),
            };
            let name = input::format_name(path);
            let format = match job {
                Job::SetFile(_) => crate::decrypt::sniff_format(name, &bytes),
                _ => crate::decrypt::values_format(name),
            };
            let d = if noop {
                Decrypted::Plain(bytes)
            } else {
                crate::decrypt::decrypt_as(format, &input::shown(path), bytes, keys, &s.sops_args)?
            };
            match d {
                // a fetched file goes to helm as fetched: helm must not fetch it a second time
                Decrypted::Plain(b) if remote => Ok(Outcome::Content(Decrypted::Plain(b))),
                Decrypted::Plain(_) => Ok(Outcome::Keep),
                d => Ok(Outcome::Content(d)),
            }
        }
        Job::Url(_) => {
            let src = source::parse(f.path).map_err(Failure::new)?;
            let bytes = match input::load(&src.file, tls, s) {
                Ok(b) => b,
                Err(LoadError::Missing(_))
                    if f.optional || src.ignore_missing || s.ignore_missing_values =>
                {
                    return Ok(Outcome::Drop)
                }
                Err(e) => return Err(e.into_failure()),
            };
            if noop {
                return Ok(Outcome::Content(Decrypted::Plain(bytes)));
            }
            let name = input::shown(&src.file);
            let format = crate::decrypt::values_format(input::format_name(&src.file));
            let k = crate::keys::for_import(&src.import, s)?;
            let ring = if matches!(src.import, source::KeyImport::None) {
                keys
            } else {
                &k.ring
            };
            let d = crate::decrypt::decrypt_as(format, &name, bytes, ring, &s.sops_args)?;
            Ok(Outcome::Content(d))
        }
    }
}

/// Decrypts the jobs in parallel (at most one thread per core); the first failure, in command
/// line order, wins.
fn resolve_all(jobs: &[Job], tls: &Tls, s: &Settings) -> Result<Vec<Outcome>, Failure> {
    // HELM_SECRETS_LOAD_GPG_KEYS; a throw-away GnuPG home is removed when this returns, before exec
    let keys = crate::keys::for_import(&source::KeyImport::None, s)?;
    let keys = &keys.ring;
    if jobs.len() <= 1 {
        return jobs.iter().map(|j| resolve_one(j, keys, tls, s)).collect();
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<Outcome, Failure>>> = (0..jobs.len()).map(|_| None).collect();
    let done = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs.len() {
                    break;
                }
                let r = resolve_one(&jobs[i], keys, tls, s);
                done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Failure::new(
                    "internal error: a values file was not decrypted",
                ))
            })
        })
        .collect()
}

/// Flags for helm's global options that plugins only see in the environment.
fn global_flags(get: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut flags = Vec::new();
    let non_empty = |k: &str| get(k).filter(|v| !v.is_empty());
    if let Some(ns) = non_empty("HELM_NAMESPACE") {
        flags.push(format!("--namespace={ns}"));
    }
    if let Some(ctx) = non_empty("HELM_KUBECONTEXT") {
        flags.push(format!("--kube-context={ctx}"));
    }
    if non_empty("HELM_DEBUG").and_then(|v| crate::settings::parse_bool(&v)) == Some(true) {
        flags.push("--debug".into());
    }
    flags
}

/// The namespace helm takes out of an attached `-fVALUE` before running a plugin.
///
/// Both helms parse a plugin's arguments for their global flags as shorthand chains, so
/// `-fsops.enc.yaml` reads as `-f -s -o -p -s -. -e -n c.yaml` and sets `HELM_NAMESPACE=c.yaml`
/// (checked with helm 3.21.4 and 4.2.4). The value after the first `n` of such an argument is what
/// `HELM_NAMESPACE` then holds; `-f=VALUE` is not affected.
fn leaked_namespace(args: &[String]) -> Vec<&str> {
    args.iter()
        .take_while(|a| *a != "--")
        .filter_map(|a| a.strip_prefix("-f").filter(|_| !a.starts_with("--")))
        .filter(|v| !v.starts_with('='))
        .filter_map(|v| v.split_once('n').map(|(_, ns)| ns))
        .filter(|ns| !ns.is_empty())
        .collect()
}

/// The usage of `helm secrets <cmd> --help` (and of `helm secrets <cmd>` with no arguments).
pub fn usage(cmd: &str) -> String {
    format!(
        "helm secrets [ OPTIONS ] {cmd}

This is a wrapper for \"helm {cmd}\". Every encrypted values file given with -f, --values or
--set-file (local, http(s), or any scheme a helm getter plugin serves) is decrypted in memory and
handed to helm; plain files pass unchanged.

Example:
  $ helm secrets <HELM SECRETS OPTIONS> {cmd} <HELM {upper} OPTIONS>

Typical usage:
  $ helm secrets upgrade i1 ./chart -f values.test.yaml -f secrets.test.yaml
  $ helm secrets template ./chart -f https://example.com/secrets.yaml
",
        upper = cmd.to_uppercase()
    )
}

/// Runs the wrapper: decrypts, then replaces this process with helm.
pub fn run(args: Vec<String>, s: &Settings) -> Result<(), Failure> {
    let env_ns = std::env::var("HELM_NAMESPACE").unwrap_or_default();
    let ns_is_artifact = !env_ns.is_empty() && leaked_namespace(&args).contains(&env_ns.as_str());
    let Plan { pieces, jobs, tls } = plan(args);
    let outcomes = resolve_all(&jobs, &tls, s)?;
    let use_memfd = crate::memfd::available();
    let mut files: Vec<MemFile> = Vec::new();
    let mut res = Vec::with_capacity(jobs.len());
    for (job, outcome) in jobs.iter().zip(outcomes) {
        if matches!(outcome, Outcome::Content(Decrypted::Secret(_))) && !s.quiet {
            eprintln!(
                "[helm-secrets] Decrypt: {}",
                input::shown(bare_path(job_text(job)))
            );
        }
        res.push(match outcome {
            Outcome::Keep => Resolution::Keep,
            Outcome::Drop => Resolution::Drop,
            Outcome::Content(d) if use_memfd => {
                let shown = input::shown(bare_path(job_text(job)));
                let name = Path::new(input::format_name(&shown))
                    .file_name()
                    .map_or_else(|| "values".into(), |n| n.to_string_lossy().into_owned());
                let f = MemFile::new(&name, d.bytes()).map_err(|e| {
                    Failure::new(format!("{shown}: cannot create an in-memory file: {e}"))
                })?;
                drop(d);
                let path = f.path();
                files.push(f);
                Resolution::Replace(path)
            }
            Outcome::Content(_) => {
                return Err(Failure::new(format!(
                    "{}: handing decrypted values to helm needs /proc/self/fd (Linux)",
                    input::shown(bare_path(job_text(job)))
                )))
            }
        });
    }
    let mut argv = global_flags(|k| {
        (k != "HELM_NAMESPACE" || !ns_is_artifact)
            .then(|| std::env::var(k).ok())
            .flatten()
    });
    argv.extend(render(pieces, &res, &jobs));
    for f in &files {
        f.inherit()
            .map_err(|e| Failure::new(format!("cannot pass an in-memory file to helm: {e}")))?;
    }
    let helm = crate::getter::helm_binary();
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(&helm);
    cmd.args(&argv);
    if ns_is_artifact {
        cmd.env_remove("HELM_NAMESPACE");
    }
    let err = cmd.exec();
    Err(Failure::new(format!(
        "cannot run helm ({}): {err}",
        Path::new(&helm).display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn replace_all(p: &Plan) -> Vec<Resolution> {
        p.jobs
            .iter()
            .map(|j| Resolution::Replace(format!("<{}>", job_text(j))))
            .collect()
    }

    #[test]
    fn every_spelling_is_found() {
        let a = args(&[
            "template",
            "rel",
            "chart",
            "-f",
            "a.yaml",
            "-fb.yaml",
            "-f=c.yaml",
            "--values",
            "d.yaml,e.yaml",
            "--values=f.yaml",
            "--set-file",
            "k=g.txt,k2=h.txt",
            "--set-file=k3=i.txt",
            "--set",
            "x=-fnot",
            "-f",
            "secrets://j.yaml",
            "-f",
            "https://x/v.yaml",
            "-f",
            "-",
            "--",
            "-f",
            "after.yaml",
        ]);
        let p = plan(a);
        let jobs: Vec<&str> = p.jobs.iter().map(job_text).collect();
        assert_eq!(
            jobs,
            [
                "a.yaml",
                "b.yaml",
                "c.yaml",
                "d.yaml",
                "e.yaml",
                "f.yaml",
                "g.txt",
                "h.txt",
                "i.txt",
                "secrets://j.yaml",
                "https://x/v.yaml"
            ]
        );
        assert!(matches!(p.jobs[9], Job::Url(_)));
        assert!(matches!(p.jobs[6], Job::SetFile(_)));
        let res = replace_all(&p);
        let out = render(p.pieces, &res, &p.jobs);
        assert_eq!(
            out,
            args(&[
                "template",
                "rel",
                "chart",
                "-f",
                "<a.yaml>",
                "-f<b.yaml>",
                "-f=<c.yaml>",
                "--values",
                "<d.yaml>,<e.yaml>",
                "--values=<f.yaml>",
                "--set-file",
                "k=<g.txt>,k2=<h.txt>",
                "--set-file=k3=<i.txt>",
                "--set",
                "x=-fnot",
                "-f",
                "<secrets://j.yaml>",
                "-f",
                "<https://x/v.yaml>",
                "-f",
                "-",
                "--",
                "-f",
                "after.yaml",
            ])
        );
    }

    #[test]
    fn keep_and_drop() {
        let p = plan(args(&[
            "-f",
            "a.yaml,b.yaml",
            "-f",
            "c.yaml",
            "--values=c.yaml",
            "x",
        ]));
        assert_eq!(p.jobs.len(), 3, "duplicates share a job");
        let res = vec![Resolution::Keep, Resolution::Drop, Resolution::Drop];
        let out = render(p.pieces, &res, &p.jobs);
        assert_eq!(out, args(&["-f", "a.yaml", "x"]));
    }

    #[test]
    fn dangling_flag_and_escapes() {
        let p = plan(args(&["template", "-f"]));
        assert!(p.jobs.is_empty());
        assert_eq!(render(p.pieces, &[], &[]), args(&["template", "-f"]));
        let p = plan(args(&["--set-file", r"a\,b=x.txt"]));
        assert!(p.jobs.is_empty());
    }

    #[test]
    fn linear_in_many_args() {
        let mut a = vec!["template".to_string(), "c".into()];
        for i in 0..200_000 {
            a.push("--api-versions".into());
            a.push(format!("example.com/v{i}/Kind"));
        }
        let start = std::time::Instant::now();
        let p = plan(a);
        let out = render(p.pieces, &[], &p.jobs);
        assert_eq!(out.len(), 400_002);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn namespace_taken_from_attached_values_flag() {
        let a = args(&[
            "template",
            "-fsops.enc.yaml",
            "-f=an.yaml",
            "-fabc",
            "--",
            "-fxny",
        ]);
        assert_eq!(leaked_namespace(&a), ["c.yaml"]);
    }

    #[test]
    fn global_flags_from_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            global_flags(env(&[
                ("HELM_NAMESPACE", "ns"),
                ("HELM_KUBECONTEXT", "ctx"),
                ("HELM_DEBUG", "true"),
                ("HELM_KUBETOKEN", "t")
            ])),
            args(&["--namespace=ns", "--kube-context=ctx", "--debug"])
        );
        assert!(global_flags(env(&[("HELM_DEBUG", "false"), ("HELM_NAMESPACE", "")])).is_empty());
    }
}
