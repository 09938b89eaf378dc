//! First-run polish (issue 11): kubectl-native naming and completion, Kubernetes defaults for files
//! of several objects, errors that say what to do, one-line messages, Secrets' `data`, and `rekey`
//! without a terminal. Real `kubectl-sops`; real kubectl, bash and sops 3.13.2 where they are the
//! reference.

use std::path::{Path, PathBuf};

use e2e_tests::{age_recipient, need1, vectors_dir_checked, workspace_bin, Outcome, Sops};

fn ours() -> PathBuf {
    workspace_bin("kubectl-sops")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory holding links to `kubectl-sops` and `kubectl_complete-sops`, as `cargo install` leaves
/// them, plus `kubectl` when given.
fn install_dir(kubectl: Option<&Path>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let bin = ours();
    for name in ["kubectl-sops", "kubectl_complete-sops"] {
        std::os::unix::fs::symlink(bin.with_file_name(name), d.path().join(name)).unwrap();
    }
    if let Some(k) = kubectl {
        std::os::unix::fs::symlink(k, d.path().join("kubectl")).unwrap();
    }
    d
}

/// Runs `script` with bash in `dir`, with only the install dir and the system dirs on PATH.
fn bash(bin_dir: &Path, dir: &Path, script: &str) -> Outcome {
    Sops::new("/bin/bash", dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .run(["-c", script])
}

// ------------------------------------------------------------------ 2: kubectl-native naming

/// kubectl 1.34 exports nothing to its plugins (checked: no KUBECTL_PATH); the shell's `$_` names
/// kubectl. Help, usage and errors then say `kubectl sops`; run directly, `kubectl-sops`.
#[test]
fn run_by_kubectl_help_and_errors_say_kubectl_sops() {
    let Some(kubectl) = need1("kubectl") else {
        return;
    };
    let inst = install_dir(Some(&kubectl));
    let work = tempfile::tempdir().unwrap();
    let (code, out, err) = bash(inst.path(), work.path(), "kubectl sops --help");
    assert_eq!(code, 0, "{err}");
    let help = text(&out);
    assert!(help.contains("Usage: kubectl sops <COMMAND>"), "{help}");
    assert!(!help.contains("kubectl-sops"), "{help}");
    let (code, out, _) = bash(inst.path(), work.path(), "kubectl sops seal --help");
    assert_eq!(code, 0);
    assert!(
        text(&out).contains("Usage: kubectl sops seal"),
        "{}",
        text(&out)
    );
    let (code, _, err) = bash(inst.path(), work.path(), "kubectl sops unseal missing.yaml");
    assert_eq!(code, 100, "{err}");
    assert_eq!(
        err,
        "kubectl sops: missing.yaml: cannot operate on non-existent file\n"
    );
    // usage errors too
    let (code, _, err) = bash(inst.path(), work.path(), "kubectl sops sael");
    assert_eq!(code, 2);
    assert!(err.contains("Usage: kubectl sops <COMMAND>"), "{err}");

    // run directly
    let (code, out, _) = bash(inst.path(), work.path(), "kubectl-sops --help");
    assert_eq!(code, 0);
    assert!(text(&out).contains("Usage: kubectl-sops <COMMAND>"));
    let (_, _, err) = bash(inst.path(), work.path(), "kubectl-sops unseal missing.yaml");
    assert_eq!(
        err,
        "kubectl-sops: missing.yaml: cannot operate on non-existent file\n"
    );
    // a kubectl that exports KUBECTL_PATH is recognized as well
    let (_, _, err) = Sops::new(ours(), work.path())
        .env("KUBECTL_PATH", &kubectl)
        .run(["unseal", "missing.yaml"]);
    assert!(err.starts_with("kubectl sops: missing.yaml"), "{err}");
}

/// After `cargo install` alone (both binaries in one directory), real kubectl completes
/// `kubectl sops …` through `kubectl_complete-sops`.
#[test]
fn real_kubectl_completes_the_plugin_with_the_installed_completer() {
    let Some(kubectl) = need1("kubectl") else {
        return;
    };
    let inst = install_dir(Some(&kubectl));
    let work = tempfile::tempdir().unwrap();
    let (code, out, err) = bash(inst.path(), work.path(), "kubectl __complete sops un");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = text(&out).lines().map(str::to_string).collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["unseal", "unset", ":4"], "{lines:?}");
    let (_, out, _) = bash(
        inst.path(),
        work.path(),
        "kubectl __complete sops unseal --output-type j",
    );
    assert!(text(&out).starts_with("json\n"), "{}", text(&out));
}

/// `completion bash` completes both spellings: `kubectl-sops …` (clap's script) and, when kubectl's
/// own completion is not loaded, `kubectl sops …`.
#[test]
fn bash_completion_covers_both_spellings() {
    let inst = install_dir(None);
    let work = tempfile::tempdir().unwrap();
    let script = r#"
source <(kubectl-sops completion bash) || exit 9
COMP_WORDS=(kubectl sops un); COMP_CWORD=2; _kubectl_sops_plugin; echo "plugin: ${COMPREPLY[*]}"
COMP_WORDS=(kubectl s); COMP_CWORD=1; _kubectl_sops_plugin; echo "top: ${COMPREPLY[*]}"
COMP_WORDS=(kubectl sops seal --input-type ""); COMP_CWORD=4; _kubectl_sops_plugin; echo "types: ${COMPREPLY[*]}"
touch afile.yaml
COMP_WORDS=(kubectl sops unseal af); COMP_CWORD=3; _kubectl_sops_plugin; echo "files: ${COMPREPLY[*]}"
complete -p kubectl-sops
complete -p kubectl
"#;
    let (code, out, err) = bash(inst.path(), work.path(), script);
    assert_eq!(code, 0, "{err}");
    let out = text(&out);
    assert!(out.contains("plugin: unseal unset\n"), "{out}");
    assert!(out.contains("top: sops\n"), "{out}");
    assert!(
        out.contains("types: yaml json dotenv ini binary\n"),
        "{out}"
    );
    assert!(out.contains("files: afile.yaml\n"), "{out}");
    assert!(
        out.contains("kubectl-sops\n"),
        "clap's completion is registered: {out}"
    );
    assert!(out.contains("-F _kubectl_sops_plugin kubectl\n"), "{out}");
    // with kubectl's own completion loaded, it is left alone
    let (_, out, _) = bash(
        inst.path(),
        work.path(),
        "complete -F _fake kubectl; source <(kubectl-sops completion bash); complete -p kubectl",
    );
    assert_eq!(text(&out), "complete -F _fake kubectl\n");
    // the other shells' scripts carry their `kubectl sops` part
    for shell in ["zsh", "fish"] {
        let (_, out, _) = bash(
            inst.path(),
            work.path(),
            &format!("kubectl-sops completion {shell}"),
        );
        assert!(text(&out).contains("kubectl_complete-sops"), "{shell}");
    }
}

// ------------------------------------------------------------------ 3: Kubernetes defaults

/// Real sops 3.13.2 and an age key from the vectors, in a fresh directory.
struct Env {
    sops: PathBuf,
    key: PathBuf,
    recipient: String,
    dir: tempfile::TempDir,
}

fn env() -> Option<Env> {
    let sops = need1("sops")?;
    let key = vectors_dir_checked().join("keys/gen_age_a.txt");
    Some(Env {
        sops,
        recipient: age_recipient(&key),
        key,
        dir: tempfile::tempdir().unwrap(),
    })
}

impl Env {
    fn ours(&self) -> Sops {
        Sops::new(ours(), self.dir.path()).age_key_file(&self.key)
    }
    fn sops(&self) -> Sops {
        Sops::new(&self.sops, self.dir.path()).age_key_file(&self.key)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }
}

const MIXED: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    labels:\n        app: db\ntype: Opaque\nstringData:\n    password: hunter2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: settings\ndata:\n    mode: fast\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: web\nspec:\n    replicas: 2\n    template:\n        metadata:\n            labels:\n                app: web\n        spec:\n            containers:\n                - name: web\n                  image: nginx\n";

/// A Secret, a ConfigMap and a Deployment sealed without a rule: every document keeps apiVersion,
/// kind and metadata readable, everything else is encrypted, one stderr line says so, and real sops
/// decrypts the result to the input.
#[test]
fn objects_without_a_rule_keep_api_version_kind_and_metadata() {
    let Some(e) = env() else { return };
    e.write("app.yaml", MIXED);
    let (code, out, err) = e.ours().run([
        "seal",
        "--age",
        &e.recipient,
        "--output",
        "app.enc.yaml",
        "app.yaml",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert_eq!(
        err,
        "kubectl-sops: app.yaml: no .sops.yaml rule or rule flag applies; Kubernetes objects: apiVersion, kind and metadata stay readable, every other value is encrypted (unencrypted_regex: ^(apiVersion|kind|metadata)$)\n"
    );
    let enc = e.read("app.enc.yaml");
    for clear in [
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    labels:\n        app: db\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: settings\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: web\n",
        "        metadata:\n            labels:\n                app: web\n",
    ] {
        assert!(enc.contains(clear), "{clear:?} in\n{enc}");
    }
    for secret in ["hunter2", "Opaque", "fast", "nginx", "replicas: 2"] {
        assert!(!enc.contains(secret), "{secret} in clear:\n{enc}");
    }
    assert!(enc.contains("    password: ENC["), "{enc}");
    assert!(enc.contains("    mode: ENC["), "{enc}");
    // real sops reads the rule from every document's metadata and decrypts
    let plain = e.sops().ok(["decrypt", "app.enc.yaml"]);
    assert_eq!(text(&plain), MIXED);
    // …and so do we
    assert_eq!(text(&e.ours().ok(["unseal", "app.enc.yaml"])), MIXED);

    // a Secret alone keeps the Flux rule, also announced
    let secret = MIXED.split("---\n").next().unwrap();
    e.write("s.yaml", secret);
    let (code, _, err) = e.ours().run(["seal", "--age", &e.recipient, "s.yaml"]);
    assert_eq!(code, 0);
    assert!(
        err.ends_with("Kubernetes Secrets: only data and stringData are encrypted (encrypted_regex: ^(data|stringData)$)\n"),
        "{err}"
    );
    // a rule flag: no note
    let (_, _, err) = e.ours().run([
        "seal",
        "--age",
        &e.recipient,
        "--encrypted-regex",
        "^data$",
        "s.yaml",
    ]);
    assert_eq!(err, "");
}

/// A Secret whose `stringData` holds a key named `kind` would leak under the object rule: sops'
/// default applies instead, and the note says so.
#[test]
fn objects_rule_never_leaves_secret_values_in_clear() {
    let Some(e) = env() else { return };
    let leaky = MIXED.replace("    password: hunter2\n", "    kind: hunter2\n");
    e.write("leaky.yaml", &leaky);
    let (code, out, err) = e.ours().run(["seal", "--age", &e.recipient, "leaky.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.ends_with("every value is encrypted (sops' default)\n"),
        "{err}"
    );
    let enc = text(&out);
    assert!(!enc.contains("hunter2"));
    e.write("leaky.enc.yaml", &enc);
    assert_eq!(text(&e.sops().ok(["decrypt", "leaky.enc.yaml"])), leaky);
}

// ------------------------------------------------------------------ 5: one line, naming the file

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2\n    user: app\n";

impl Env {
    /// FILE sealed by us for key `gen_age_<which>`.
    fn sealed_for(&self, name: &str, which: &str) -> String {
        let key = vectors_dir_checked().join(format!("keys/gen_age_{which}.txt"));
        self.write(&format!("plain-{name}"), SECRET);
        let out = self.ours().ok([
            "seal",
            "--age",
            &age_recipient(&key),
            &format!("plain-{name}"),
        ]);
        self.write(name, &text(&out));
        age_recipient(&key)
    }
}

fn one_line_err(err: &str) -> &str {
    assert!(
        err.ends_with('\n') && err.matches('\n').count() == 1,
        "one line expected: {err:?}"
    );
    err.trim_end()
}

#[test]
fn edit_without_change_names_the_file() {
    let Some(e) = env() else { return };
    e.sealed_for("s.enc.yaml", "a");
    let (code, _, err) = e.ours().env("EDITOR", "true").run(["edit", "s.enc.yaml"]);
    assert_eq!(code, 200);
    assert_eq!(
        one_line_err(&err),
        "kubectl-sops: s.enc.yaml: File has not changed, exiting."
    );
}

#[test]
fn no_key_error_is_one_readable_line_with_exit_128() {
    let Some(e) = env() else { return };
    let b = e.sealed_for("s.enc.yaml", "b");
    let (code, out, err) = e.ours().run(["unseal", "s.enc.yaml"]);
    assert_eq!(code, 128, "{err}");
    assert!(out.is_empty());
    let line = one_line_err(&err);
    assert!(
        line.starts_with("kubectl-sops: s.enc.yaml: no key could decrypt the data key (tried age1"),
        "{line}"
    );
    assert!(
        line.contains(&b[b.len() - 6..]),
        "names the recipient: {line}"
    );
    assert!(line.contains("no identity here matches"), "{line}");
    assert!(line.len() < 300, "{} chars: {line}", line.len());
    // real sops agrees on the exit code
    let (code, _, _) = e.sops().run(["decrypt", "s.enc.yaml"]);
    assert_eq!(code, 128);
}

#[test]
fn value_error_path_has_no_doubled_colon() {
    let Some(e) = env() else { return };
    e.sealed_for("s.enc.yaml", "a");
    // swap the two ciphertexts: each now fails its authentication (the path is in the AAD)
    let enc = e.read("s.enc.yaml");
    let grab = |k: &str| {
        let l = enc.lines().find(|l| l.trim_start().starts_with(k)).unwrap();
        l.split_once(": ").unwrap().1.to_string()
    };
    let (p, u) = (grab("password:"), grab("user:"));
    let swapped = enc.replace(&p, "@P@").replace(&u, &p).replace("@P@", &u);
    e.write("x.enc.yaml", &swapped);
    let (code, _, err) = e.ours().run(["unseal", "x.enc.yaml"]);
    assert_eq!(code, 25, "{err}");
    let line = one_line_err(&err);
    assert!(
        line.starts_with(
            "kubectl-sops: x.enc.yaml: could not decrypt value at stringData:password: "
        ),
        "{line}"
    );
    assert!(!line.contains("::"), "{line}");
    let (code, _, _) = e.sops().run(["decrypt", "x.enc.yaml"]);
    assert_eq!(code, 25, "real sops exits the same");
}

#[test]
fn seal_output_onto_an_undecryptable_file_says_what_happens_in_one_line() {
    let Some(e) = env() else { return };
    let b = e.sealed_for("s.enc.yaml", "b");
    e.write("plain.yaml", SECRET);
    let a = e.recipient.clone();
    let (code, _, err) = e.ours().run([
        "seal",
        "--age",
        &a,
        "--encrypted-regex",
        "^(data|stringData)$",
        "--output",
        "s.enc.yaml",
        "plain.yaml",
    ]);
    assert_eq!(code, 0, "{err}");
    let line = one_line_err(&err);
    let line = line
        .rsplit_once("kubectl-sops: note: ")
        .map(|(_, l)| l)
        .unwrap_or(line);
    assert!(
        line.starts_with(
            "s.enc.yaml: no key here can decrypt it, so it is replaced by a new encryption"
        ),
        "{line}"
    );
    assert!(line.contains(&format!("for {a};")), "{line}");
    assert!(
        line.ends_with(&format!("its recipient(s) {b} lose access")),
        "{line}"
    );
}

#[test]
fn multi_file_rekey_errors_use_the_usual_prefix() {
    let Some(e) = env() else { return };
    e.sealed_for("good.enc.yaml", "a");
    e.write("broken.enc.yaml", "a: [\n");
    let (code, _, err) = e.ours().run([
        "rekey",
        "-y",
        "--add-age",
        &e.recipient,
        "good.enc.yaml",
        "broken.enc.yaml",
    ]);
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("kubectl-sops: broken.enc.yaml: ")),
        "{err}"
    );
    assert!(!err.contains(": error: "), "{err}");
    assert_eq!(
        lines.last(),
        Some(&"kubectl-sops: failed updating 1 of 2 file(s)")
    );
}

/// Every exit code the tool uses is in the README's table.
#[test]
fn readme_lists_every_exit_code() {
    use sops_engine::error::exit;
    let readme = std::fs::read_to_string(e2e_tests::workspace_root().join("README.md")).unwrap();
    let codes = [
        0,
        exit::GENERIC,
        exit::COULD_NOT_READ_INPUT,
        exit::COULD_NOT_WRITE_OUTPUT,
        exit::ERROR_DUMPING_TREE,
        exit::ERROR_READING_CONFIG,
        7,
        exit::CONFLICTING_PARAMETERS,
        exit::ERROR_ENCRYPTING_TREE,
        exit::ERROR_DECRYPTING_MAC,
        exit::ERROR_DECRYPTING_TREE,
        exit::MAC_MISMATCH,
        exit::CONFIG_FILE_NOT_FOUND,
        exit::INVALID_TREE_PATH_FORMAT,
        exit::NEED_AT_LEAST_ONE_DOCUMENT,
        100,
        exit::NO_ENCRYPTION_KEY_FOUND,
        exit::DUPLICATE_DECRYPTION_KEY_TYPE,
        exit::COULD_NOT_RETRIEVE_KEY,
        exit::FILE_HAS_NOT_BEEN_MODIFIED,
        exit::NO_EDITOR_FOUND,
        exit::FILE_ALREADY_ENCRYPTED,
    ];
    for c in codes {
        assert!(
            readme.contains(&format!("\n| {c} | ")),
            "exit code {c} missing from README"
        );
    }
}

// ------------------------------------------------------------------ 7: rekey without a terminal

#[test]
fn rekey_without_a_terminal_applies_and_prints_what_changed() {
    let Some(e) = env() else { return };
    e.sealed_for("s.enc.yaml", "a");
    let c = age_recipient(&vectors_dir_checked().join("keys/gen_age_c.txt"));
    let (code, out, err) = e.ours().run(["rekey", "--add-age", &c, "s.enc.yaml"]);
    assert_eq!(code, 0, "{err}");
    let out = text(&out);
    assert!(
        out.contains("s.enc.yaml: changed without asking (stdin is not a terminal; -y to silence):\nGroup 1\n"),
        "{out}"
    );
    assert!(out.contains(&format!("\n    {}\n", e.recipient)), "{out}");
    assert!(out.contains(&format!("\n+++ {c}\n")), "{out}");
    assert!(
        out.ends_with(&format!("s.enc.yaml: updated (+{c})\n")),
        "{out}"
    );
    // real sops sees the new recipient
    let enc = e.read("s.enc.yaml");
    assert!(enc.contains(&c));
    assert_eq!(text(&e.sops().ok(["decrypt", "s.enc.yaml"])), SECRET);
    // with -y: just the summary line
    let (_, out, _) = e.ours().run(["rekey", "-y", "--rm-age", &c, "s.enc.yaml"]);
    assert_eq!(text(&out), format!("s.enc.yaml: updated (-{c})\n"));
    // --help says so
    let help = text(&e.ours().ok(["rekey", "--help"]));
    assert!(help.contains("Without a terminal on stdin"), "{help}");
}

// ------------------------------------------------------------------ 4: errors that mislead

/// `seal -` inside a repo whose rules all have a path_regex: the error says no rule matched `<stdin>`
/// and points to `--filename-override`, which then works (real sops decrypts the result).
#[test]
fn seal_from_stdin_without_a_matching_rule_points_to_filename_override() {
    let Some(e) = env() else { return };
    e.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {}\n",
            e.recipient
        ),
    );
    let (code, out, err) = e.ours().run_stdin(["seal", "-"], Some(SECRET.as_bytes()));
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    let line = one_line_err(&err);
    assert!(
        line.starts_with("kubectl-sops: no creation rule of "),
        "{line}"
    );
    assert!(line.contains("matches <stdin>"), "{line}");
    assert!(line.contains("--filename-override"), "{line}");
    assert!(!line.contains("config file not found"), "{line}");
    let out = e.ours().run_stdin(
        ["seal", "--filename-override", "secrets/db.yaml", "-"],
        Some(SECRET.as_bytes()),
    );
    assert_eq!(out.0, 0, "{}", out.2);
    e.write("db.enc.yaml", &text(&out.1));
    assert_eq!(text(&e.sops().ok(["decrypt", "db.enc.yaml"])), SECRET);
    // a path no rule matches says so too
    e.write("other.yaml", SECRET);
    let (code, _, err) = e.ours().run(["seal", "other.yaml"]);
    assert_eq!(code, 1);
    assert!(
        one_line_err(&err).ends_with(".sops.yaml has no rule for other.yaml)"),
        "{err}"
    );
}

/// `check`'s advice for a file no rule covers is a command that works.
#[test]
fn check_suggests_a_seal_command_that_works() {
    let Some(e) = env() else { return };
    e.write("s.yaml", SECRET);
    let (code, out, _) = e.ours().run(["check", "s.yaml"]);
    assert_eq!(code, 1);
    let out = text(&out);
    let cmd = out
        .split_once("encrypt it with `")
        .and_then(|(_, r)| r.split_once('`'))
        .map(|(c, _)| c.to_string())
        .unwrap_or_else(|| panic!("no suggestion in {out}"));
    assert_eq!(cmd, "kubectl-sops seal -i --age RECIPIENT s.yaml");
    let args: Vec<String> = cmd
        .replace("RECIPIENT", &e.recipient)
        .split(' ')
        .skip(1)
        .map(str::to_string)
        .collect();
    let (code, _, err) = e.ours().run(&args);
    assert_eq!(code, 0, "the suggestion fails: {err}");
    let (code, _, err) = e.ours().run(["check", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
}

/// `check --all` looks at untracked files that .gitignore does not exclude, and ends with a summary.
#[test]
fn check_all_covers_untracked_files_and_summarizes() {
    let Some(e) = env() else { return };
    let Some(git) = need1("git") else { return };
    let git = |args: &[&str]| {
        let (code, _, err) = Sops::new(&git, e.dir.path()).run(args);
        assert_eq!(code, 0, "git {args:?}: {err}");
    };
    git(&["init", "-q"]);
    e.sealed_for("tracked.enc.yaml", "a");
    e.write(".gitignore", "ignored.yaml\nplain-*\n");
    e.write("ignored.yaml", SECRET);
    e.write("template.yaml", "{{ .Values.x }}: [\n");
    git(&["add", "tracked.enc.yaml", ".gitignore"]);
    let (code, out, err) = e.ours().run(["check", "--all"]);
    assert_eq!(code, 0, "{}{err}", text(&out));
    assert_eq!(
        err.lines().last(),
        Some("kubectl-sops: check: 1 file(s) checked, 1 skipped, 0 failed"),
        "{err}"
    );
    // an untracked plaintext Secret is caught
    e.write("new.yaml", SECRET);
    let (code, out, err) = e.ours().run(["check", "--all"]);
    assert_eq!(code, 1, "{err}");
    let out = text(&out);
    assert!(out.starts_with("new.yaml: not encrypted"), "{out}");
    assert!(!out.contains("ignored.yaml"), "{out}");
    assert_eq!(
        one_line_err(&err),
        "kubectl-sops: check: 2 file(s) checked, 1 skipped, 1 failed (1 problem(s) in 1 of 3 file(s))"
    );
}

/// `--value-file F FILE PATH` reads the value from F; sops' order `--value-file FILE PATH F` still
/// works.
#[test]
fn set_value_file_takes_its_value() {
    let Some(e) = env() else { return };
    e.sealed_for("s.enc.yaml", "a");
    e.write("v1.json", "\"first\"");
    e.write("v2.json", "\"second\"");
    let p = r#"["stringData"]["password"]"#;
    e.ours()
        .ok(["set", "--value-file", "v1.json", "s.enc.yaml", p]);
    assert_eq!(
        e.sops().ok(["decrypt", "--extract", p, "s.enc.yaml"]),
        b"first"
    );
    e.ours()
        .ok(["set", "--value-file", "s.enc.yaml", p, "v2.json"]);
    assert_eq!(
        e.sops().ok(["decrypt", "--extract", p, "s.enc.yaml"]),
        b"second"
    );
    let (code, _, err) = e.ours().run(["set", "s.enc.yaml", p, "--value-file"]);
    assert_eq!(code, 2, "the flag needs its value: {err}");
}

/// `--extract` with a missing key names it, as sops does, with the same exit code.
#[test]
fn extract_names_the_missing_component_like_sops() {
    let Some(e) = env() else { return };
    e.sealed_for("s.enc.yaml", "a");
    for (path, what) in [
        (r#"["stringData"]["nope"]"#, "component ['nope'] not found"),
        (r#"["nope"]["x"]"#, "component ['nope'] not found"),
        (
            r#"["stringData"][3]"#,
            "component [3] is integer, but tree part is not a slice",
        ),
    ] {
        let (code, _, err) = e.ours().run(["unseal", "--extract", path, "s.enc.yaml"]);
        let (sops_code, _, sops_err) = e.sops().run(["decrypt", "--extract", path, "s.enc.yaml"]);
        assert_eq!(code, sops_code, "{path}: {err} / {sops_err}");
        assert_eq!(
            one_line_err(&err),
            format!("kubectl-sops: s.enc.yaml: {what}")
        );
        if !what.contains("integer") {
            assert!(sops_err.contains(what), "sops says {sops_err}");
        }
    }
}

// ------------------------------------------------------------------ 6: Secrets in `data`

#[test]
fn set_refuses_plain_text_in_secret_data_and_base64_encodes_on_request() {
    let Some(e) = env() else { return };
    e.sealed_for("s.enc.yaml", "a");
    let before = e.read("s.enc.yaml");
    let p = r#"["data"]["token"]"#;
    let (code, _, err) = e.ours().run(["set", "s.enc.yaml", p, "\"not base64!\""]);
    assert_eq!(code, 7, "{err}");
    let line = one_line_err(&err);
    assert!(!line.contains("not base64!"), "the value leaked: {line}");
    assert!(
        line.contains("stringData") && line.contains("--base64"),
        "{line}"
    );
    assert_eq!(e.read("s.enc.yaml"), before, "unchanged");
    // --base64 encodes
    e.ours()
        .ok(["set", "--base64", "s.enc.yaml", p, "\"not base64!\""]);
    assert_eq!(
        e.sops().ok(["decrypt", "--extract", p, "s.enc.yaml"]),
        b"bm90IGJhc2U2NCE="
    );
    // base64 is accepted as is; stringData takes anything
    e.ours().ok(["set", "s.enc.yaml", p, "\"aGk=\""]);
    e.ours().ok([
        "set",
        "s.enc.yaml",
        r#"["stringData"]["x"]"#,
        "\"any text\"",
    ]);
    // a whole data map is checked too
    let (code, _, _) = e.ours().run([
        "set",
        "s.enc.yaml",
        r#"["data"]"#,
        r#"{"a":"aGk=","b":"no way"}"#,
    ]);
    assert_eq!(code, 7);
}

#[test]
fn check_reports_secret_data_that_is_not_base64() {
    let Some(e) = env() else { return };
    let bad = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\ndata:\n    password: hunter2!\n    ok: aGk=\n";
    e.write("bad.yaml", bad);
    // sealed by real sops, so the file itself is sound
    let out = e.sops().ok([
        "encrypt",
        "--age",
        &e.recipient,
        "--encrypted-regex",
        "^data$",
        "bad.yaml",
    ]);
    e.write("bad.enc.yaml", &text(&out));
    let (code, out, _) = e.ours().run(["check", "bad.enc.yaml"]);
    assert_eq!(code, 1);
    let out = text(&out);
    assert!(
        out.starts_with(
            "bad.enc.yaml: Kubernetes Secret with data that is not base64 at data.password ("
        ),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
}
