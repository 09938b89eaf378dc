//! Messages that say what happened and what to do: one-line errors naming the file, exit codes
//! listed in the README, errors that used to mislead (stdin without a rule, check's suggested
//! command, missing components), and `rekey` without a terminal. Real `kubectl-sops`; real sops
//! 3.13.2 and git where they are the reference.

use e2e_tests::{assert_one_line, need1, text, Env, Sops};

/// Real sops 3.13.2 and the vectors' age key `gen_age_a`, in a fresh directory.
fn env() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

// ------------------------------------------------------------------ one line, naming the file

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2\n    user: app\n";

#[test]
fn edit_without_change_names_the_file() {
    let Some(e) = env() else { return };
    e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_a");
    let (code, _, err) = e.ours().env("EDITOR", "true").run(["edit", "s.enc.yaml"]);
    assert_eq!(code, 200);
    assert_eq!(
        assert_one_line(&err),
        "kubectl-sops: s.enc.yaml: File has not changed, exiting."
    );
}

#[test]
fn no_key_error_is_one_readable_line_with_exit_128() {
    let Some(e) = env() else { return };
    let b = e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_b");
    let (code, out, err) = e.ours().run(["unseal", "s.enc.yaml"]);
    assert_eq!(code, 128, "{err}");
    assert!(out.is_empty());
    let line = assert_one_line(&err);
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
    e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_a");
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
    let line = assert_one_line(&err);
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
    let b = e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_b");
    e.write("plain.yaml", SECRET);
    let a = e.recipient().to_string();
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
    let line = assert_one_line(&err);
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
    e.sealed_by_ours("good.enc.yaml", SECRET, "gen_age_a");
    e.write("broken.enc.yaml", "a: [\n");
    let (code, _, err) = e.ours().run([
        "rekey",
        "-y",
        "--add-age",
        e.recipient(),
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

// ------------------------------------------------------------------ rekey without a terminal

#[test]
fn rekey_without_a_terminal_applies_and_prints_what_changed() {
    let Some(e) = env() else { return };
    e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_a");
    let c = e.recipient_of("gen_age_c");
    let (code, out, err) = e.ours().run(["rekey", "--add-age", &c, "s.enc.yaml"]);
    assert_eq!(code, 0, "{err}");
    let out = text(&out);
    assert!(
        out.contains("s.enc.yaml: changed without asking (stdin is not a terminal; -y to silence):\nGroup 1\n"),
        "{out}"
    );
    assert!(out.contains(&format!("\n    {}\n", e.recipient())), "{out}");
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

// ------------------------------------------------------------------ errors that mislead

/// `seal -` inside a repo whose rules all have a path_regex: the error says no rule matched `<stdin>`
/// and points to `--filename-override`, which then works (real sops decrypts the result).
#[test]
fn seal_from_stdin_without_a_matching_rule_points_to_filename_override() {
    let Some(e) = env() else { return };
    e.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {}\n",
            e.recipient()
        ),
    );
    let (code, out, err) = e.ours().run_stdin(["seal", "-"], Some(SECRET.as_bytes()));
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    let line = assert_one_line(&err);
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
        assert_one_line(&err).ends_with(".sops.yaml has no rule for other.yaml)"),
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
        .replace("RECIPIENT", e.recipient())
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
        let (code, _, err) = Sops::new(&git, e.dir()).run(args);
        assert_eq!(code, 0, "git {args:?}: {err}");
    };
    git(&["init", "-q"]);
    e.sealed_by_ours("tracked.enc.yaml", SECRET, "gen_age_a");
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
        assert_one_line(&err),
        "kubectl-sops: check: 2 file(s) checked, 1 skipped, 1 failed (1 problem(s) in 1 of 3 file(s))"
    );
}

/// `--value-file F FILE PATH` reads the value from F; sops' order `--value-file FILE PATH F` still
/// works.
#[test]
fn set_value_file_takes_its_value() {
    let Some(e) = env() else { return };
    e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_a");
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
    e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_a");
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
            assert_one_line(&err),
            format!("kubectl-sops: s.enc.yaml: {what}")
        );
        if !what.contains("integer") {
            assert!(sops_err.contains(what), "sops says {sops_err}");
        }
    }
}

/// `--extract` of a value that is there prints what sops prints: a string as is, a map as YAML,
/// and an element of a list (the first document only).
#[test]
fn extract_prints_the_value_like_sops() {
    let Some(e) = env() else { return };
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2\n    user: app\nlist:\n    - one\n    - k: v\n";
    e.sealed_by_ours("x.enc.yaml", plain, "gen_age_a");
    for path in [
        r#"["stringData"]["password"]"#,
        r#"["stringData"]"#,
        r#"["list"][0]"#,
        r#"["list"][1]"#,
    ] {
        let ours = e.ours().ok(["unseal", "--extract", path, "x.enc.yaml"]);
        let sops = e.sops().ok(["decrypt", "--extract", path, "x.enc.yaml"]);
        assert_eq!(text(&ours), text(&sops), "{path}");
    }
}
