//! `kubectl-sops rekey FILE…` (alias `updatekeys`): make the recipients of encrypted files match the
//! matching `.sops.yaml` creation rule (and/or `--add-*`/`--rm-*` flags), like `sops updatekeys`,
//! without decrypting or touching any value; `--rotate` also replaces the data key (`sops rotate`).
//!
//! Files are processed in parallel. One line per file: `FILE: updated (+…, -…)`,
//! `FILE: already up to date` (the file is not rewritten), `FILE: rotated`, on stdout, or
//! `kubectl-sops: FILE: …` on stderr. A progress bar is drawn on stderr when it is a terminal. When stdin is
//! a terminal and `--yes` is not given, the key group changes of each file are shown and confirmed
//! first, like `sops updatekeys`; when it is not (CI, pipes), they are applied without asking and
//! printed (without `--yes`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Result;
use clap::Args;
use sops_engine::cli::spec::KeyFlags;
use sops_engine::config::Config;
use sops_engine::error::exit;
use sops_engine::keys::{KeyRing, Recipient};
use sops_engine::metadata::Metadata;
use sops_engine::rekey::{plan, rekey_metadata, rotate, Plan, Target};
use sops_engine::stores::Format;
use sops_engine::tree::Branch;
use sops_engine::SopsError;

use crate::io::{format_of, load_config, parse_format, store, write_output};
use crate::{one_line, CliError};

/// Arguments of `rekey`.
#[derive(Args)]
pub struct RekeyArgs {
    /// Encrypted files to update.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Pre-approve all changes (never prompt). Without a terminal on stdin (CI, pipes) rekey never
    /// asks either: it applies the changes and prints, for each file, the key groups it changed.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Also generate a new data key and re-encrypt every value with it (like `sops rotate`); without
    /// `.sops.yaml` or flags the recipients stay as they are.
    #[arg(short = 'r', long)]
    pub rotate: bool,
    /// age recipients to add to the first key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub add_age: Vec<String>,
    /// age recipients to remove from every key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub rm_age: Vec<String>,
    /// PGP fingerprints to add to the first key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub add_pgp: Vec<String>,
    /// PGP fingerprints to remove from every key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub rm_pgp: Vec<String>,
    /// AWS KMS keys `ARN[+ROLE_ARN]` to add to the first key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub add_kms: Vec<String>,
    /// AWS KMS keys `ARN[+ROLE_ARN]` to remove from every key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub rm_kms: Vec<String>,
    /// GCP Cloud KMS resource ids to add to the first key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub add_gcp_kms: Vec<String>,
    /// GCP Cloud KMS resource ids to remove from every key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub rm_gcp_kms: Vec<String>,
    /// Azure Key Vault key URLs to add to the first key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub add_azure_kv: Vec<String>,
    /// Azure Key Vault key URLs to remove from every key group (without a version: every
    /// version), comma separated.
    #[arg(long, value_delimiter = ',')]
    pub rm_azure_kv: Vec<String>,
    /// Vault transit key URIs to add to the first key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub add_hc_vault_transit: Vec<String>,
    /// Vault transit key URIs to remove from every key group, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub rm_hc_vault_transit: Vec<String>,
    /// Shamir threshold (default: the file's, capped at the number of key groups).
    #[arg(long = "shamir-secret-sharing-threshold")]
    pub shamir_threshold: Option<usize>,
    /// Input format (default: from each file's extension).
    #[arg(long, value_parser = parse_format)]
    pub input_type: Option<Format>,
    /// With --rotate: do not check the MAC before re-encrypting.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Files processed at once (default: the number of CPUs).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Path of .sops.yaml (default: searched from the working directory upward).
    #[arg(long, env = "SOPS_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The recipient edits given by flags.
struct Edits {
    add: Vec<Recipient>,
    rm: Vec<Recipient>,
}

impl Edits {
    /// The `--add-*` and `--rm-*` keys, checked and parsed as `seal`'s key flags are.
    fn from_args(a: &RekeyArgs) -> std::result::Result<Self, sops_engine::keys::BadKeyId> {
        let clean = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let flags = |age, pgp, kms, gcp, azure, vault| KeyFlags {
            age: clean(age),
            pgp: clean(pgp),
            kms: clean(kms),
            gcp_kms: clean(gcp),
            azure_kv: clean(azure),
            hc_vault_transit: clean(vault),
            ..KeyFlags::default()
        };
        let add = flags(
            &a.add_age,
            &a.add_pgp,
            &a.add_kms,
            &a.add_gcp_kms,
            &a.add_azure_kv,
            &a.add_hc_vault_transit,
        );
        let rm = flags(
            &a.rm_age,
            &a.rm_pgp,
            &a.rm_kms,
            &a.rm_gcp_kms,
            &a.rm_azure_kv,
            &a.rm_hc_vault_transit,
        );
        add.check()?;
        rm.check()?;
        Ok(Edits {
            add: add.recipients(),
            rm: rm.recipients(),
        })
    }

    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.rm.is_empty()
    }
}

/// A file loaded and compared with its target.
struct Loaded {
    format: Format,
    docs: Vec<Branch>,
    metadata: Metadata,
    plan: Plan,
}

/// The outcome of one file.
enum Outcome {
    Updated(String),
    UpToDate,
    Rotated(String),
    Declined,
    Failed(CliError),
}

fn fail(name: &str, e: SopsError) -> CliError {
    CliError {
        code: e.exit_code(),
        message: format!("{name}: {}", one_line(&e.to_string())),
    }
}

/// Shared settings of a run.
struct Run<'a> {
    args: &'a RekeyArgs,
    config: Option<&'a Config>,
    edits: &'a Edits,
    keys: &'a KeyRing,
}

impl Run<'_> {
    /// Reads, parses and plans one file.
    fn load(&self, name: &str) -> Result<Loaded, CliError> {
        let path = Path::new(name);
        if path.is_dir() {
            return Err(CliError {
                code: exit::COULD_NOT_READ_INPUT,
                message: format!("{name}: can't operate on a directory"),
            });
        }
        let input = std::fs::read(path).map_err(|e| CliError {
            code: exit::COULD_NOT_READ_INPUT,
            message: format!("{name}: {e}"),
        })?;
        let format = format_of(self.args.input_type, Some(name));
        let store = store(format, self.config);
        let (docs, metadata) = sops_engine::stores::load_encrypted(store.as_ref(), &input)
            .map_err(|e| fail(name, e))?;
        let rule = match self.config {
            Some(c) => match c.rule_for(path) {
                Ok(r) => r,
                // no rule matches: fine when flags or --rotate say what to do
                Err(_) if !self.edits.is_empty() || self.args.rotate => None,
                Err(e) => return Err(fail(name, e)),
            },
            None => None,
        };
        let mut target = match rule {
            Some(r) => Target::from_rule(r),
            None if self.config.is_some() && self.edits.is_empty() && !self.args.rotate => {
                return Err(CliError {
                    code: exit::GENERIC,
                    message: format!(
                        "{name}: the config file {} does not contain any creation rule",
                        self.config
                            .map_or(String::new(), |c| c.path.display().to_string())
                    ),
                })
            }
            None => Target::from_metadata(&metadata),
        };
        for r in &self.edits.add {
            target.add(r.clone());
        }
        for r in &self.edits.rm {
            target.remove(r);
        }
        let plan =
            plan(&metadata, &target, self.args.shamir_threshold).map_err(|e| fail(name, e))?;
        Ok(Loaded {
            format,
            docs,
            metadata,
            plan,
        })
    }

    /// Rewrites one file (or leaves it alone when it is up to date).
    fn apply(&self, name: &str, l: Loaded) -> Outcome {
        let out = store(l.format, self.config);
        let res = if self.args.rotate {
            rotate(
                l.docs,
                &l.metadata,
                &l.plan,
                self.keys,
                self.args.ignore_mac,
            )
            .and_then(|(docs, md)| out.emit_encrypted(&docs, &md))
            .map(|bytes| (bytes, Outcome::Rotated(l.plan.summary())))
        } else if !l.plan.changes() {
            return Outcome::UpToDate;
        } else {
            rekey_metadata(&l.metadata, &l.plan, self.keys)
                .and_then(|md| out.emit_encrypted(&l.docs, &md))
                .map(|bytes| (bytes, Outcome::Updated(l.plan.summary())))
        };
        match res {
            Ok((bytes, outcome)) => match write_output(&bytes, Some(name)) {
                Ok(()) => outcome,
                Err(e) => Outcome::Failed(CliError {
                    code: e
                        .downcast_ref::<CliError>()
                        .map_or(exit::COULD_NOT_WRITE_OUTPUT, |c| c.code),
                    message: one_line(&format!("{e:#}")),
                }),
            },
            Err(e) => Outcome::Failed(fail(name, e)),
        }
    }
}

/// Per-file lines on stdout/stderr and a progress bar on stderr when it is a terminal.
struct Reporter {
    total: usize,
    done: usize,
    bar: bool,
}

impl Reporter {
    fn line(&mut self, text: &str, to_stderr: bool) {
        if self.bar {
            eprint!("\r\x1b[K");
        }
        if to_stderr {
            eprintln!("{text}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
        self.draw();
    }

    fn draw(&self) {
        if !self.bar {
            return;
        }
        const WIDTH: usize = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        eprint!(
            "\r[{}{}] {}/{}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            self.done,
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.bar {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// The `--jobs` flag, else the number of CPUs.
pub(crate) fn job_count(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(4)
    })
}

/// Runs `f` on every index in `0..n` with `jobs` threads; results in index order.
pub(crate) fn parallel<T: Send>(n: usize, jobs: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = f(i);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every index is processed")
        })
        .collect()
}

/// Asks `question` on stdout and reads y/N from stdin.
fn confirm(question: &str) -> bool {
    print!("{question} (y/N): ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Runs `rekey`.
pub fn run(a: RekeyArgs) -> Result<()> {
    let edits = Edits::from_args(&a).map_err(|e| CliError {
        code: exit::GENERIC,
        message: e.to_string(),
    })?;
    let config = load_config(a.config.as_deref())?;
    if config.is_none() && edits.is_empty() && !a.rotate {
        return Err(CliError {
            code: exit::GENERIC,
            message: "config file not found (.sops.yaml), and no --add-*/--rm-* flags (age, pgp, kms, gcp-kms, azure-kv, hc-vault-transit) or --rotate given".into(),
        }
        .into());
    }
    let keys = KeyRing::default();
    let run = Run {
        args: &a,
        config: config.as_ref(),
        edits: &edits,
        keys: &keys,
    };
    let n = a.files.len();
    let jobs = job_count(a.jobs);
    let interactive = !a.yes && std::io::stdin().is_terminal();
    let reporter = Mutex::new(Reporter {
        total: n,
        done: 0,
        bar: std::io::stderr().is_terminal() && n > 1,
    });
    let report = |name: &str, o: &Outcome| {
        let mut r = reporter.lock().unwrap_or_else(|p| p.into_inner());
        r.done += 1;
        match o {
            Outcome::Updated(s) => r.line(&format!("{name}: updated ({s})"), false),
            Outcome::Rotated(s) if s.is_empty() => r.line(&format!("{name}: rotated"), false),
            Outcome::Rotated(s) => r.line(&format!("{name}: rotated ({s})"), false),
            Outcome::UpToDate => r.line(&format!("{name}: already up to date"), false),
            Outcome::Declined => r.line(&format!("{name}: left unchanged"), false),
            // a single file's error is reported once, by main, with its own exit code
            Outcome::Failed(e) if n > 1 => r.line(
                &format!(
                    "{}: {name}: {}",
                    crate::prog::name(),
                    e.message
                        .strip_prefix(&format!("{name}: "))
                        .unwrap_or(&e.message)
                ),
                true,
            ),
            Outcome::Failed(_) => r.draw(),
        }
    };

    let outcomes: Vec<Outcome> = if interactive {
        // Load everything, confirm file by file, then write in parallel.
        let loaded = parallel(n, jobs, |i| run.load(&a.files[i]));
        let mut decided: Vec<Option<Outcome>> = Vec::with_capacity(n);
        let mut todo: Vec<Option<Loaded>> = Vec::with_capacity(n);
        for (name, l) in a.files.iter().zip(loaded) {
            match l {
                Err(e) => {
                    decided.push(Some(Outcome::Failed(e)));
                    todo.push(None);
                }
                Ok(l) if l.plan.changes() => {
                    println!("{name}: the following changes will be made to the file's groups:");
                    print!("{}", l.plan.pretty());
                    if confirm("Is this okay?") {
                        decided.push(None);
                        todo.push(Some(l));
                    } else {
                        decided.push(Some(Outcome::Declined));
                        todo.push(None);
                    }
                }
                Ok(l) => {
                    decided.push(None);
                    todo.push(Some(l));
                }
            }
        }
        let todo: Vec<Mutex<Option<Loaded>>> = todo.into_iter().map(Mutex::new).collect();
        let applied = parallel(n, jobs, |i| {
            let taken = todo[i].lock().unwrap_or_else(|p| p.into_inner()).take();
            let o = taken.map(|l| run.apply(&a.files[i], l));
            if let Some(o) = &o {
                report(&a.files[i], o);
            }
            o
        });
        decided
            .into_iter()
            .zip(applied)
            .zip(&a.files)
            .map(|((d, ap), name)| match (d, ap) {
                (Some(d), _) => {
                    report(name, &d);
                    d
                }
                (None, Some(o)) => o,
                (None, None) => Outcome::UpToDate,
            })
            .collect()
    } else {
        parallel(n, jobs, |i| {
            let name = &a.files[i];
            let o = match run.load(name) {
                Ok(l) => {
                    // not asked (no terminal): say what changed, as the question would have
                    let shown = (!a.yes && l.plan.changes()).then(|| l.plan.pretty());
                    let o = run.apply(name, l);
                    if let (Some(p), Outcome::Updated(_) | Outcome::Rotated(_)) = (shown, &o) {
                        let mut r = reporter.lock().unwrap_or_else(|p| p.into_inner());
                        r.line(
                            &format!(
                                "{name}: changed without asking (stdin is not a terminal; -y to silence):\n{}",
                                p.trim_end()
                            ),
                            false,
                        );
                    }
                    o
                }
                Err(e) => Outcome::Failed(e),
            };
            report(name, &o);
            o
        })
    };
    reporter.lock().unwrap_or_else(|p| p.into_inner()).finish();

    let failed: Vec<CliError> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    match failed.len() {
        0 => Ok(()),
        _ if n == 1 => Err(failed.into_iter().next().expect("one").into()),
        k => Err(CliError {
            code: exit::GENERIC,
            message: format!("failed updating {k} of {n} file(s)"),
        }
        .into()),
    }
}
