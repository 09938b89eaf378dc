//! `kubectl-sops edit` end to end: the real binary with scripted editors (shell scripts written by the
//! test), results checked with real sops 3.13.2.
//!
//! The editor scripts record the path they were given (and facts about its directory) into files of the
//! test's own temp dir, so the tests can check that the private directory was tmpfs, 0700, and is gone
//! afterwards, without racing other tests that also use /dev/shm.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e_tests::{Env, Outcome, Sops};

/// This file's additions to the shared [`Env`] (built with sops and the key `gen_age_a`).
trait EditEnv {
    /// An executable `/bin/sh` script; `$REC` in `body` is a file of the test dir to record into.
    fn script(&self, name: &str, body: &str) -> PathBuf;
    /// What the script `name` recorded (one value per line).
    fn recorded(&self, name: &str) -> Vec<String>;
    /// Our `kubectl-sops` with `EDITOR=editor`.
    fn editing(&self, editor: &Path) -> Sops;
    /// `kubectl-sops edit FILE` with `EDITOR=editor`.
    fn edit(&self, editor: &Path, file: &str) -> Outcome;
    /// Real sops decrypts `file`; returns the plaintext.
    fn sops_decrypt(&self, file: &str) -> String;
    /// A file encrypted by real sops (`sops encrypt --age …`, extra flags first).
    fn sops_encrypted(&self, name: &str, plain: &str, flags: &[&str]) -> Vec<u8>;
    /// A file sealed by us.
    fn our_sealed(&self, name: &str, plain: &str) -> Vec<u8>;
}

fn setup() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

impl EditEnv for Env {
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        let rec = self.path(&format!("{name}.rec"));
        let text = format!("#!/bin/sh\nset -e\nREC='{}'\n{body}\n", rec.display());
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn recorded(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{name}.rec")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn editing(&self, editor: &Path) -> Sops {
        self.ours().env("EDITOR", editor)
    }

    fn edit(&self, editor: &Path, file: &str) -> Outcome {
        self.editing(editor).run(["edit", file])
    }

    fn sops_decrypt(&self, file: &str) -> String {
        String::from_utf8(self.sops().ok(["decrypt", file])).unwrap()
    }

    fn sops_encrypted(&self, name: &str, plain: &str, flags: &[&str]) -> Vec<u8> {
        let src = self.write(&format!("{name}.plain"), plain);
        let mut args = vec!["encrypt", "--age", self.recipient()];
        args.extend_from_slice(flags);
        args.extend(["--input-type", "yaml", "--output-type", "yaml"]);
        args.push(&src);
        let enc = self.sops().ok(&args);
        self.write(name, &enc);
        enc
    }

    fn our_sealed(&self, name: &str, plain: &str) -> Vec<u8> {
        let src = self.write(&format!("plain-{name}"), plain);
        let enc = self.ours().ok(["seal", "--age", self.recipient(), &src]);
        self.write(name, &enc);
        enc
    }
}

/// The lines that differ between two files with the same number of lines (a `git diff` of an edit
/// that changes values only).
fn changed_lines(before: &[u8], after: &[u8]) -> Vec<(String, String)> {
    let b: Vec<&str> = std::str::from_utf8(before).unwrap().lines().collect();
    let a: Vec<&str> = std::str::from_utf8(after).unwrap().lines().collect();
    assert_eq!(b.len(), a.len(), "line count changed");
    b.iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

fn line_key(l: &str) -> &str {
    l.trim_start().split(':').next().unwrap_or("")
}

/// Asserts that only `key`'s line changed, plus `mac` and (when the second changed) `lastmodified`.
fn assert_only_changed(before: &[u8], after: &[u8], key: &str) {
    let changed = changed_lines(before, after);
    let keys: Vec<&str> = changed.iter().map(|(b, _)| line_key(b)).collect();
    assert!(keys.contains(&key), "{key} did not change: {keys:?}");
    assert!(keys.contains(&"mac"), "mac did not change: {keys:?}");
    for k in &keys {
        assert!(
            [key, "mac", "lastmodified"].contains(k),
            "unexpected changed line {k}: {changed:?}"
        );
    }
}

/// The line of `key` (first match) in a file.
fn line_of(bytes: &[u8], key: &str) -> String {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .find(|l| line_key(l) == key)
        .unwrap_or_else(|| panic!("no {key} line"))
        .to_string()
}

/// Records the edited path and its directory's facts, then runs `rest`.
fn recording(rest: &str) -> String {
    format!(
        "echo \"$1\" > \"$REC\"\nD=$(dirname \"$1\")\nstat -f -c %T \"$D\" >> \"$REC\"\nstat -c %a \"$D\" >> \"$REC\"\nstat -c %a \"$1\" >> \"$REC\"\n{rest}"
    )
}

/// `kubectl-sops edit f.yaml` with the recording editor script `name` running `body` exits `code`,
/// leaves `f.yaml` as it was (`before`) and its private directory gone. Returns stderr.
fn edit_keeps_the_file(env: &Env, before: &[u8], name: &str, body: &str, code: i32) -> String {
    let ed = env.script(name, &recording(body));
    let (got, _, err) = env.edit(&ed, "f.yaml");
    assert_eq!(got, code, "{err}");
    assert_eq!(std::fs::read(env.path("f.yaml")).unwrap(), before);
    assert_gone(env, name);
    err
}

fn assert_gone(env: &Env, script: &str) {
    let rec = env.recorded(script);
    let file = rec.first().expect("the editor ran and recorded its file");
    let dir = Path::new(file).parent().unwrap();
    assert!(!Path::new(file).exists(), "{file} still exists");
    assert!(!dir.exists(), "{} still exists", dir.display());
}

const CONFIG: &str = "app:\n    name: demo\n    password: hunter2\n    port: 5432\n    token: abc123\nlist:\n    - one\n    - two\n";

/// (a) One changed value: only its line, `mac` and `lastmodified` change; real sops reads the result.
#[test]
fn edit_changes_only_the_edited_value() {
    let Some(env) = setup() else { return };
    let ed = env.script(
        "ed",
        &recording("sed -i 's/password: hunter2/password: changed-pw/' \"$1\""),
    );
    for (name, before) in [
        (
            "by-sops.yaml",
            env.sops_encrypted("by-sops.yaml", CONFIG, &[]),
        ),
        ("ours.yaml", env.our_sealed("ours.yaml", CONFIG)),
    ] {
        let (code, out, err) = env.edit(&ed, name);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.is_empty());
        assert!(
            !err.contains("changed-pw") && !err.contains("hunter2"),
            "{err}"
        );
        let after = std::fs::read(env.path(name)).unwrap();
        assert_only_changed(&before, &after, "password");
        let plain = env.sops_decrypt(name);
        assert_eq!(plain, CONFIG.replace("hunter2", "changed-pw"), "{name}");
        assert_gone(&env, "ed");
    }
}

/// (b) Saving without a change exits 200 (sops' code) and leaves the file byte-identical.
#[test]
fn unchanged_exits_200_and_keeps_the_file() {
    let Some(env) = setup() else { return };
    let before = env.our_sealed("f.yaml", CONFIG);
    let err = edit_keeps_the_file(&env, &before, "ed", "true", 200);
    assert!(err.contains("File has not changed, exiting."), "{err}");
}

/// (c) A failing editor leaves the original untouched, even after changing the temp file.
#[test]
fn editor_failure_keeps_the_original() {
    let Some(env) = setup() else { return };
    let before = env.our_sealed("f.yaml", CONFIG);
    let body = "sed -i 's/hunter2/half-done/' \"$1\"\nexit 1";
    let err = edit_keeps_the_file(&env, &before, "ed", body, 201);
    assert!(err.contains("f.yaml"), "{err}");

    // no editor at all: 201 too
    let (code, _, err) = env
        .editing(Path::new("/nonexistent/editor"))
        .run(["edit", "f.yaml"]);
    assert_eq!(code, 201, "{err}");
    assert_eq!(std::fs::read(env.path("f.yaml")).unwrap(), before);
}

/// (d) Invalid YAML without a terminal: parse error, no value in the message, original untouched.
#[test]
fn invalid_content_fails_when_not_interactive() {
    let Some(env) = setup() else { return };
    let before = env.our_sealed("f.yaml", CONFIG);
    let body = "printf 'app: [unclosed\\n  password: hunter3\\n' > \"$1\"";
    let err = edit_keeps_the_file(&env, &before, "ed", body, 2);
    assert!(err.contains("error parsing YAML"), "{err}");
    assert!(!err.contains("hunter"), "{err}");

    // a top-level sops key is refused the same way (exit 203, like sops' "already encrypted")
    let body = "printf 'a: b\\nsops:\\n    x: y\\n' > \"$1\"";
    edit_keeps_the_file(&env, &before, "ed2", body, 203);
}

/// (e) The plaintext is in a 0700 directory on tmpfs, in a 0600 file with FILE's base name.
#[test]
fn plaintext_lives_in_a_private_tmpfs_dir() {
    let Some(env) = setup() else { return };
    env.our_sealed("db.enc.yaml", CONFIG);
    let ed = env.script("ed", &recording("true"));
    let (code, _, err) = env.edit(&ed, "db.enc.yaml");
    assert_eq!(code, 200, "{err}");
    let rec = env.recorded("ed");
    assert_eq!(rec.len(), 4, "{rec:?}");
    assert!(rec[0].ends_with("/db.enc.yaml"), "{rec:?}");
    assert!(rec[0].starts_with("/dev/shm/"), "{rec:?}");
    assert_eq!(rec[1], "tmpfs");
    assert_eq!(rec[2], "700");
    assert_eq!(rec[3], "600");
    assert_gone(&env, "ed");

    // $XDG_RUNTIME_DIR is preferred when it is tmpfs (a fresh dir under /dev/shm stands in for it)
    let xdg = tempfile::Builder::new()
        .prefix("xdg-test-")
        .tempdir_in("/dev/shm")
        .unwrap();
    let (code, _, err) = env
        .editing(&ed)
        .env("XDG_RUNTIME_DIR", xdg.path())
        .run(["edit", "db.enc.yaml"]);
    assert_eq!(code, 200, "{err}");
    let rec = env.recorded("ed");
    assert!(
        Path::new(&rec[0]).starts_with(xdg.path()),
        "{rec:?} not under {}",
        xdg.path().display()
    );
    assert_gone(&env, "ed");

    // a disk-backed $XDG_RUNTIME_DIR is skipped for /dev/shm
    let (code, _, err) = env
        .editing(&ed)
        .env("XDG_RUNTIME_DIR", env.dir())
        .run(["edit", "db.enc.yaml"]);
    assert_eq!(code, 200, "{err}");
    assert!(env.recorded("ed")[0].starts_with("/dev/shm/"));
}

/// (f) SIGTERM or SIGINT while the editor runs: the private dir is removed, the file untouched, and the
/// exit code is 128 + signal.
#[test]
fn signals_while_editing_remove_the_plaintext() {
    let Some(env) = setup() else { return };
    let before = env.our_sealed("f.yaml", CONFIG);
    for (sig, code_expected) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let name = format!("ed-{sig}");
        let ed = env.script(
            &name,
            &recording("sed -i 's/hunter2/unsaved/' \"$1\"\nexec sleep 60"),
        );
        let mut child = env
            .editing(&ed)
            .command(["edit", "f.yaml"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while env.recorded(&name).len() < 4 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "editor never ran"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let file = env.recorded(&name)[0].clone();
        assert!(Path::new(&file).exists());
        let st = std::process::Command::new("kill")
            .args([format!("-{sig}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "kubectl-sops did not exit after SIG{sig}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(code_expected), "SIG{sig}: {err}");
        assert!(err.contains(&format!("SIG{sig}")), "{err}");
        assert!(!err.contains("unsaved"), "{err}");
        assert_gone(&env, &name);
        assert_eq!(std::fs::read(env.path("f.yaml")).unwrap(), before);
    }
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\ntype: Opaque\ndata:\n    password: aHVudGVyMg==\n    user: YXBw\n    blob: /wA=\n";

/// (g) Secret `data` is shown decoded; the edit is saved base64-encoded, untouched keys keep their
/// ciphertext, and a binary value is left as base64.
#[test]
fn secret_data_is_edited_decoded() {
    let Some(env) = setup() else { return };
    for (name, before) in [
        (
            "s-by-sops.yaml",
            env.sops_encrypted(
                "s-by-sops.yaml",
                SECRET,
                &["--encrypted-regex", "^(data|stringData)$"],
            ),
        ),
        ("s-ours.yaml", env.our_sealed("s-ours.yaml", SECRET)),
    ] {
        let ed = env.script(
            "ed",
            &recording(
                "grep -q '^    password: hunter2$' \"$1\"\ngrep -q '^    user: app$' \"$1\"\ngrep -q '^    blob: /wA=$' \"$1\"\nsed -i 's/password: hunter2/password: n3w-pass/' \"$1\"",
            ),
        );
        let (code, _, err) = env.edit(&ed, name);
        assert_eq!(code, 0, "{name}: {err}");
        let after = std::fs::read(env.path(name)).unwrap();
        assert_only_changed(&before, &after, "password");
        assert_eq!(line_of(&before, "user"), line_of(&after, "user"));
        assert_eq!(line_of(&before, "blob"), line_of(&after, "blob"));
        let plain = env.sops_decrypt(name);
        assert_eq!(
            plain,
            SECRET.replace("aHVudGVyMg==", "bjN3LXBhc3M="),
            "{name}"
        );
        assert_gone(&env, "ed");
    }

    // --raw-data shows the stored base64
    let ed = env.script(
        "raw",
        &recording("grep -q '^    password: bjN3LXBhc3M=$' \"$1\""),
    );
    let (code, _, err) = env.editing(&ed).run(["edit", "--raw-data", "s-ours.yaml"]);
    assert_eq!(code, 200, "{err}");
}

/// (h) A new file starts from a Secret template and is encrypted with the `.sops.yaml` rule; an
/// unchanged template creates nothing.
#[test]
fn new_file_from_template_with_creation_rule() {
    let Some(env) = setup() else { return };
    let config = env.write(
        "sops-config.yaml",
        &format!(
            "creation_rules:\n    - path_regex: \\.enc\\.yaml$\n      age: {}\n",
            env.recipient()
        ),
    );

    let untouched = env.script("ed0", &recording("true"));
    let (code, _, err) = env
        .editing(&untouched)
        .config(&config)
        .run(["edit", "new.enc.yaml"]);
    assert_eq!(code, 200, "{err}");
    assert!(!env.path("new.enc.yaml").exists());
    assert_gone(&env, "ed0");

    let ed = env.script(
        "ed",
        &recording("sed -i 's/password: change-me/password: fresh-one/' \"$1\""),
    );
    let (code, _, err) = env
        .editing(&ed)
        .config(&config)
        .run(["edit", "new.enc.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_gone(&env, "ed");
    let enc = env.read("new.enc.yaml");
    assert!(
        enc.contains("    name: example\n"),
        "metadata stays readable:\n{enc}"
    );
    assert!(!enc.contains("fresh-one"));
    assert!(enc.contains(env.recipient()));
    let plain = env.sops_decrypt("new.enc.yaml");
    assert!(plain.contains("kind: Secret\n"), "{plain}");
    assert!(plain.contains("    password: fresh-one\n"), "{plain}");
    assert!(
        !plain.contains("kubectl-sops:"),
        "header lines leaked:\n{plain}"
    );

    // no rule matches and no --age: refused before any editor runs
    let ed = env.script("never", "touch \"$REC\"");
    let (code, _, err) = env.editing(&ed).config(&config).run(["edit", "other.yaml"]);
    assert_ne!(code, 0);
    assert!(err.contains("other.yaml"), "{err}");
    assert!(!env.path("never.rec").exists(), "the editor ran");
    assert!(!env.path("other.yaml").exists());

    // like sops, a config without a matching rule is an error even with --age
    let (code, _, err) =
        env.editing(&ed)
            .config(&config)
            .run(["edit", "--age", env.recipient(), "new.json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no matching creation rules"), "{err}");

    // a recipient that cannot be used fails when the data key is wrapped, before the editor runs
    // (like sops), so nothing typed is lost
    let (code, _, err) =
        env.editing(&ed)
            .run(["edit", "--age", "age1notavalidrecipient", "new2.yaml"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("new2.yaml"), "{err}");
    assert!(!env.path("never.rec").exists(), "the editor ran");
    assert!(!env.path("new2.yaml").exists());

    // --age without a config, for a JSON file: sops' example, encrypted and readable by sops
    let ed = env.script(
        "edj",
        &recording("sed -i 's/example_value\"/edited\"/' \"$1\""),
    );
    let (code, _, err) = env
        .editing(&ed)
        .run(["edit", "--age", env.recipient(), "new.json"]);
    assert_eq!(code, 0, "{err}");
    let plain = env.sops_decrypt("new.json");
    assert!(plain.contains("\"example_key\": \"edited\""), "{plain}");
}

/// The editor comes from SOPS_EDITOR, KUBE_EDITOR, EDITOR, VISUAL (first set wins) and may carry
/// arguments, split like a shell command line.
#[test]
fn editor_variables_and_arguments() {
    let Some(env) = setup() else { return };
    let before = env.our_sealed("f.yaml", CONFIG);
    let rec = |name: &str| env.script(name, "echo \"$@\" > \"$REC\"");
    let (sops_ed, kube_ed, ed, visual) = (rec("s"), rec("k"), rec("e"), rec("v"));
    let run = |vars: &[(&str, String)]| {
        let mut s = env.ours();
        for (k, v) in vars {
            s = s.env(k, v);
        }
        let (code, _, err) = s.run(["edit", "f.yaml"]);
        assert_eq!(code, 200, "{err}");
    };
    let q = |p: &Path| format!("'{}' --wait \"two words\"", p.display());
    run(&[
        ("VISUAL", q(&visual)),
        ("EDITOR", q(&ed)),
        ("KUBE_EDITOR", q(&kube_ed)),
    ]);
    let got = env.recorded("k");
    assert_eq!(got.len(), 1, "KUBE_EDITOR not used first: {got:?}");
    assert!(got[0].starts_with("--wait two words /"), "{got:?}");
    assert!(got[0].ends_with("/f.yaml"), "{got:?}");
    assert!(env.recorded("e").is_empty() && env.recorded("v").is_empty());

    run(&[
        ("SOPS_EDITOR", q(&sops_ed)),
        ("KUBE_EDITOR", q(&kube_ed)),
        ("EDITOR", String::new()),
    ]);
    assert_eq!(env.recorded("s").len(), 1, "SOPS_EDITOR is honoured first");

    run(&[("EDITOR", String::new()), ("VISUAL", q(&visual))]);
    assert_eq!(env.recorded("v").len(), 1, "VISUAL is the last variable");

    // an unbalanced quote is refused like sops (201) without touching the file
    let (code, _, err) = env.editing(Path::new("'oops")).run(["edit", "f.yaml"]);
    assert_eq!(code, 201, "{err}");
    assert!(err.contains("$EDITOR"), "{err}");
    assert_eq!(std::fs::read(env.path("f.yaml")).unwrap(), before);
}
