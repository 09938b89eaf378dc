//! helm-secrets: the `secrets` plugin for Helm 3 and Helm 4, on the same SOPS engine as kubectl-sops.
//!
//! - `helm-secrets downloader certFile keyFile caFile URL`: the getter for `-f secrets://…`
//!   (and the helm-secrets `secrets+*-import://` forms); plaintext to stdout only.
//! - `helm secrets encrypt|enc|decrypt|dec|view|edit FILE`: work on values files.
//! - `helm secrets <any helm command> …`: the wrapper (see [`wrapper`]).

mod commands;
mod decrypt;
mod downloader;
mod error;
mod keys;
mod kubernetes;
mod memfd;
mod policy;
mod settings;
mod source;
mod wrapper;

use error::Failure;
use settings::Settings;

const HELP: &str = "\
Decrypt SOPS-encrypted values files for helm, without plaintext on disk.

Usage:
  helm secrets [-q] <helm command> [args]   run helm with every encrypted -f/--values/--set-file
                                            file decrypted in memory (install, upgrade, template,
                                            lint, diff, ...)
  helm secrets encrypt|enc [-i] FILE        encrypt a values file (.sops.yaml rules)
  helm secrets decrypt|dec [-i] FILE        decrypt a values file (stdout, or in place with -i)
  helm secrets view FILE                    print the decrypted values file
  helm secrets edit FILE                    edit in $EDITOR (plaintext only on tmpfs)
  helm <cmd> -f secrets://FILE              decrypt on the fly through the downloader; also
                                            secrets+age-import://KEY?FILE, secrets+gpg-import://KEY?FILE,
                                            secrets+age-import-kubernetes://[NS/]SECRET#KEY?FILE

Options before the helm command:
  -q, --quiet                    no warnings (HELM_SECRETS_QUIET=true)
  --ignore-missing-values[=B]    leave out missing values files (HELM_SECRETS_IGNORE_MISSING_VALUES)
  -b, --backend NAME             accepted and ignored (HELM_SECRETS_BACKEND): the sops engine is built in

Environment: HELM_SECRETS_QUIET, HELM_SECRETS_IGNORE_MISSING_VALUES, HELM_SECRETS_BACKEND,
HELM_SECRETS_VALUES_ALLOW_SYMLINKS, HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH,
HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL, HELM_SECRETS_KEY_LOCATION_PREFIX, HELM_SECRETS_LOAD_GPG_KEYS,
HELM_SECRETS_ALLOW_{AGE,GPG}_IMPORT[_KUBERNETES], HELM_SECRETS_HELM_PATH; keys are found like sops
finds them (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, ~/.config/sops/age/keys.txt, GNUPGHOME, ...).
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

fn run(args: Vec<String>, s: &mut Settings) -> Result<(), Failure> {
    let mut rest = args.into_iter().peekable();
    // helm-secrets' own options come before the helm command
    while let Some(a) = rest.peek() {
        match a.as_str() {
            "-q" | "--quiet" => s.quiet = true,
            "--ignore-missing-values" => s.ignore_missing_values = true,
            "-b" | "--backend" | "-d" | "--driver" => {
                rest.next();
                let b = rest.peek().cloned().unwrap_or_default();
                if b != "sops" {
                    s.backend = Some(b);
                }
            }
            x if x.starts_with("--ignore-missing-values=") => {
                s.ignore_missing_values =
                    settings::parse_bool(&x["--ignore-missing-values=".len()..]).unwrap_or(true)
            }
            x if x.starts_with("--backend=") => {
                let b = &x["--backend=".len()..];
                if b != "sops" {
                    s.backend = Some(b.to_string());
                }
            }
            _ => break,
        }
        rest.next();
    }
    let Some(cmd) = rest.next() else {
        print!("{HELP}");
        return Ok(());
    };
    let rest: Vec<String> = rest.collect();
    match cmd.as_str() {
        "downloader" => downloader::run(&rest, s),
        "-h" | "--help" | "help" => {
            print!("{HELP}");
            Ok(())
        }
        "--version" => {
            println!("helm-secrets {}", sops_engine::build_info::VERSION);
            Ok(())
        }
        "encrypt" | "enc" => {
            s.warn_backend();
            commands::encrypt(&rest, s)
        }
        "decrypt" | "dec" => {
            s.warn_backend();
            commands::decrypt(&rest, s)
        }
        "view" => {
            s.warn_backend();
            commands::view(&rest, s)
        }
        "edit" => {
            s.warn_backend();
            commands::edit(&rest, s)
        }
        _ => {
            s.warn_backend();
            let mut all = Vec::with_capacity(rest.len() + 1);
            all.push(cmd);
            all.extend(rest);
            wrapper::run(all, s)
        }
    }
}
