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
use std::ffi::OsString;
use std::path::Path;

use sops_engine::keys::KeyRing;

use crate::decrypt::{decrypt, Decrypted};
use crate::error::Failure;
use crate::memfd::MemFile;
use crate::settings::{Settings, HELM_PATH};
use crate::source;

/// A values file or URL named on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Job {
    /// A path given to `-f`/`--values`.
    Values(String),
    /// A path given to `--set-file`.
    SetFile(String),
    /// A `secrets://` URL given to `-f`/`--values`.
    Url(String),
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

/// `a.yaml,secrets://b.yaml,https://c` (pflag string slice: comma separated).
fn values_items(p: &mut Plan, index: &mut HashMap<Job, usize>, value: &str) -> Vec<Item> {
    value
        .split(',')
        .map(|v| {
            if source::is_secrets_url(v) {
                Item::Job {
                    prefix: String::new(),
                    job: p.job(index, Job::Url(v.to_string())),
                }
            } else if v.is_empty() || v == "-" || v.contains("://") {
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
            Some((key, path)) if !path.is_empty() && !path.contains("://") => Item::Job {
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
                            Resolution::Keep => Some(format!("{prefix}{}", job_text(&jobs[job]))),
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

/// The decrypted content of one job, or what to do instead.
enum Outcome {
    Keep,
    Drop,
    Secret(Decrypted),
}

fn resolve_one(job: &Job, keys: &KeyRing, s: &Settings) -> Result<Outcome, Failure> {
    match job {
        Job::Values(path) | Job::SetFile(path) => {
            crate::policy::check(path, s).map_err(Failure::new)?;
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(
                        if s.ignore_missing_values && matches!(job, Job::Values(_)) {
                            Outcome::Drop
                        } else {
                            Outcome::Keep
                        },
                    );
                }
                Err(e) => return Err(Failure::new(format!("{path}: {e}"))),
            };
            let format = match job {
                Job::SetFile(_) => crate::decrypt::file_format(path),
                _ => crate::decrypt::values_format(path),
            };
            match crate::decrypt::decrypt_as(format, path, bytes, keys)? {
                Decrypted::Plain(_) => Ok(Outcome::Keep),
                d => Ok(Outcome::Secret(d)),
            }
        }
        Job::Url(url) => {
            let src = source::parse(url).map_err(Failure::new)?;
            crate::policy::check(&src.file, s).map_err(Failure::new)?;
            let bytes = match std::fs::read(&src.file) {
                Ok(b) => b,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && (src.ignore_missing || s.ignore_missing_values) =>
                {
                    return Ok(Outcome::Drop)
                }
                Err(e) => return Err(Failure::new(format!("{}: {e}", src.file))),
            };
            let d = if matches!(src.import, source::KeyImport::None) {
                decrypt(&src.file, bytes, keys)?
            } else {
                let k = crate::keys::for_import(&src.import, s)?;
                decrypt(&src.file, bytes, &k.ring)?
            };
            Ok(Outcome::Secret(d))
        }
    }
}

/// Decrypts the jobs in parallel (at most one thread per core); the first failure, in command
/// line order, wins.
fn resolve_all(jobs: &[Job], s: &Settings) -> Result<Vec<Outcome>, Failure> {
    let keys = KeyRing::default();
    if jobs.len() <= 1 {
        return jobs.iter().map(|j| resolve_one(j, &keys, s)).collect();
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
                let r = resolve_one(&jobs[i], &keys, s);
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

/// The helm to run: `HELM_SECRETS_HELM_PATH`, else `HELM_BIN` (set by helm for plugins), else `helm`.
fn helm_binary() -> OsString {
    [HELM_PATH, "HELM_BIN"]
        .into_iter()
        .filter_map(std::env::var_os)
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "helm".into())
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

/// Runs the wrapper: decrypts, then replaces this process with helm.
pub fn run(args: Vec<String>, s: &Settings) -> Result<(), Failure> {
    let env_ns = std::env::var("HELM_NAMESPACE").unwrap_or_default();
    let ns_is_artifact = !env_ns.is_empty() && leaked_namespace(&args).contains(&env_ns.as_str());
    let Plan { pieces, jobs } = plan(args);
    let outcomes = resolve_all(&jobs, s)?;
    let use_memfd = crate::memfd::available();
    let mut files: Vec<MemFile> = Vec::new();
    let mut res = Vec::with_capacity(jobs.len());
    for (job, outcome) in jobs.iter().zip(outcomes) {
        res.push(match outcome {
            Outcome::Keep => Resolution::Keep,
            Outcome::Drop => Resolution::Drop,
            Outcome::Secret(d) if use_memfd => {
                let name = Path::new(job_text(job))
                    .file_name()
                    .map_or_else(|| "values".into(), |n| n.to_string_lossy().into_owned());
                let f = MemFile::new(&name, d.bytes()).map_err(|e| {
                    Failure::new(format!(
                        "{}: cannot create an in-memory file: {e}",
                        job_text(job)
                    ))
                })?;
                drop(d);
                let path = f.path();
                files.push(f);
                Resolution::Replace(path)
            }
            Outcome::Secret(_) => match job {
                Job::Values(p) => Resolution::Replace(format!(
                    "secrets://{}",
                    std::path::absolute(p)
                        .unwrap_or_else(|_| p.into())
                        .display()
                )),
                Job::Url(_) => Resolution::Keep,
                Job::SetFile(p) => {
                    return Err(Failure::new(format!(
                        "{p}: --set-file with an encrypted file needs /proc/self/fd (Linux)"
                    )))
                }
            },
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
    let helm = helm_binary();
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
                "secrets://j.yaml"
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
                "https://x/v.yaml",
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
