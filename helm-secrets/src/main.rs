//! helm-secrets: the `secrets` plugin for Helm 3 and Helm 4, on the same SOPS engine as kubectl-sops.
//!
//! - `helm-secrets downloader certFile keyFile caFile URL`: the getter for `-f secrets://…`
//!   (and the helm-secrets `secrets+*-import://` forms); plaintext to stdout only.
//! - `helm secrets encrypt|enc|decrypt|dec|view|edit FILE`: work on values files.
//! - `helm secrets <any helm command> …`: the wrapper (see [`wrapper`]).

mod backend;
mod commands;
mod decrypt;
mod downloader;
mod error;
mod getter;
mod input;
mod keys;
mod kubernetes;
mod memfd;
mod policy;
mod remote;
mod settings;
mod source;
mod wrapper;

use error::Failure;
use settings::Settings;

const HELP: &str = "\
Decrypt SOPS-encrypted values files for helm, without plaintext on disk.

Usage:
  helm secrets [OPTIONS] <helm command> [args]   run helm with every encrypted -f/--values/--set-file
                                            file (local or http(s)/getter URL) decrypted in memory
                                            (install, upgrade, template, lint, diff, ...)
  helm secrets encrypt|enc [-i] FILE        encrypt a values file (.sops.yaml rules)
  helm secrets decrypt|dec [-i] [--terraform] FILE|URL
                                            decrypt a values file (stdout, or in place with -i)
  helm secrets view FILE|URL                print the decrypted values file
  helm secrets edit FILE                    edit in $EDITOR (plaintext only on tmpfs)
  helm secrets dir | -v | --version         the plugin directory | the version
  helm <cmd> -f secrets://FILE|URL          decrypt on the fly through the downloader; also
                                            secrets+age-import://KEY?FILE, secrets+gpg-import://KEY?FILE,
                                            secrets+age-import-kubernetes://[NS/]SECRET#KEY?FILE
  File prefixes: ?FILE (optional), sops!FILE, noop!FILE (passed through unchanged).

Options (before the command, any order):
  -q, --quiet                           no notes or warnings (HELM_SECRETS_QUIET=true)
  --ignore-missing-values [true|false]  leave out missing values files (HELM_SECRETS_IGNORE_MISSING_VALUES)
  -b, --backend sops|noop               secret backend (HELM_SECRETS_BACKEND); vals and custom
                                        backend scripts are not supported
  -a, --backend-args ARGS               sops options: --input-type, --output-type, --ignore-mac,
                                        --config, --verbose (HELM_SECRETS_BACKEND_ARGS)
  --decrypt-secrets-in-tmp-dir [B]      accepted: plaintext never touches a disk anyway

Environment: HELM_SECRETS_QUIET, HELM_SECRETS_IGNORE_MISSING_VALUES, HELM_SECRETS_BACKEND,
HELM_SECRETS_BACKEND_ARGS, HELM_SECRETS_ALLOWED_BACKENDS, HELM_SECRETS_VALUES_ALLOW_SYMLINKS,
HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH, HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL,
HELM_SECRETS_KEY_LOCATION_PREFIX, HELM_SECRETS_LOAD_GPG_KEYS,
HELM_SECRETS_ALLOW_{AGE,GPG}_IMPORT[_KUBERNETES], HELM_SECRETS_HELM_PATH; keys are found like sops
finds them (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, ~/.config/sops/age/keys.txt, GNUPGHOME, ...).
Proxies: HTTPS_PROXY, HTTP_PROXY, NO_PROXY.
";

fn main() {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(a) => a,
        Err(a) => exit(Failure::new(format!("argument {a:?} is not valid UTF-8"))),
    };
    let mut settings = Settings::from_env();
    if let Err(e) = run(args, &mut settings) {
        exit(e);
    }
}

fn exit(e: Failure) -> ! {
    eprintln!("[helm-secrets] {}", e.one_line());
    std::process::exit(e.code);
}

/// The words after an option that takes an optional `true|false` (helm-secrets' shell syntax).
fn optional_bool(rest: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> bool {
    match rest.peek().map(String::as_str) {
        Some(v @ ("true" | "false")) => {
            let b = v == "true";
            rest.next();
            b
        }
        _ => true,
    }
}

/// `--flag=B`: the boolean after `=`.
fn attached_bool(flag: &str, v: &str) -> Result<bool, Failure> {
    settings::parse_bool(v)
        .ok_or_else(|| Failure::new(format!("{flag}: expected true or false, got {v:?}")))
}

fn run(args: Vec<String>, s: &mut Settings) -> Result<(), Failure> {
    if let Some(why) = s.refused.take() {
        return Err(Failure::new(why));
    }
    let mut rest = args.into_iter().peekable();
    // helm-secrets' own options come before the command, in any order
    while let Some(a) = rest.next() {
        let (flag, attached) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let value = |rest: &mut std::iter::Peekable<std::vec::IntoIter<String>>| {
            attached
                .clone()
                .or_else(|| rest.next())
                .ok_or_else(|| Failure::new(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "-q" | "--quiet" => s.quiet = true,
            "-b" | "--backend" | "-d" | "--driver" => {
                let v = value(&mut rest)?;
                s.backend = s.choose_backend(&v).map_err(Failure::new)?;
            }
            "-a" | "--backend-args" => {
                s.sops_args = backend::parse_args(&value(&mut rest)?).map_err(Failure::new)?;
            }
            "--ignore-missing-values" => {
                s.ignore_missing_values = match &attached {
                    Some(v) => attached_bool(&flag, v)?,
                    None => optional_bool(&mut rest),
                }
            }
            "--decrypt-secrets-in-tmp-dir" => {
                s.decrypt_in_tmp_dir = match &attached {
                    Some(v) => attached_bool(&flag, v)?,
                    None => optional_bool(&mut rest),
                }
            }
            "--evaluate-templates" | "--evaluate-templates-decode-secrets" => {
                let on = match &attached {
                    Some(v) => attached_bool(&flag, v)?,
                    None => optional_bool(&mut rest),
                };
                if on {
                    return Err(Failure::new(settings::evaluate_templates_refusal(&flag)));
                }
            }
            _ => {
                let rest: Vec<String> = rest.collect();
                return command(a, rest, s);
            }
        }
    }
    print!("{HELP}");
    Err(Failure::new("no command given (see the usage above)"))
}

/// True for `-h`, `--help`, `help`.
fn is_help(a: Option<&String>) -> bool {
    matches!(a.map(String::as_str), Some("-h" | "--help" | "help"))
}

fn command(cmd: String, rest: Vec<String>, s: &Settings) -> Result<(), Failure> {
    let sub = |usage: &str| -> bool {
        if is_help(rest.first()) {
            print!("{usage}");
            true
        } else {
            false
        }
    };
    match cmd.as_str() {
        "downloader" => downloader::run(&rest, s),
        "-h" | "--help" | "help" => {
            print!("{HELP}");
            Ok(())
        }
        "-v" | "--version" | "version" => {
            println!("{}", sops_engine::build_info::VERSION);
            Ok(())
        }
        "dir" => {
            println!("{}", plugin_dir().display());
            Ok(())
        }
        "post-renderer" => Err(Failure::new(settings::evaluate_templates_refusal(
            "helm secrets post-renderer",
        ))),
        "encrypt" | "enc" if sub(commands::ENCRYPT_USAGE) => Ok(()),
        "decrypt" | "dec" if sub(commands::DECRYPT_USAGE) => Ok(()),
        "view" if sub(commands::VIEW_USAGE) => Ok(()),
        "edit" if sub(commands::EDIT_USAGE) => Ok(()),
        "encrypt" | "enc" => commands::encrypt(&rest, s),
        "decrypt" | "dec" => commands::decrypt(&rest, s),
        "view" => commands::view(&rest, s),
        "edit" => commands::edit(&rest, s),
        _ if rest.is_empty() || is_help(rest.first()) => {
            print!("{}", wrapper::usage(&cmd));
            Ok(())
        }
        "clean" => {
            // helm-secrets' `clean DIR` removes the .dec files it wrote; this plugin writes none
            eprintln!("[helm-secrets] clean: nothing to do, this plugin never writes decrypted .dec files");
            Ok(())
        }
        _ => {
            let mut all = Vec::with_capacity(rest.len() + 1);
            all.push(cmd);
            all.extend(rest);
            wrapper::run(all, s)
        }
    }
}

/// The plugin's directory: `HELM_PLUGIN_DIR` (helm sets it), else the parent of the binary's dir.
fn plugin_dir() -> std::path::PathBuf {
    std::env::var_os("HELM_PLUGIN_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_default()
}
