//! `kubectl-sops set`/`unset` against real sops 3.13.2 (stable ciphertext, exit codes), the
//! Kubernetes default rules for SopsSecrets, Lists and mixed manifests, and shell completion
//! (`completion SHELL`, the `kubectl_complete-sops` script kubectl ≥ 1.26 runs).

use std::path::{Path, PathBuf};

use e2e_tests::{workspace_bin, Env, Sops};

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: app\ntype: Opaque\nstringData:\n    password: hunter2\n    user: app\n    port: \"5432\"\nlist:\n    - one\n    - two\n";

/// Real sops 3.13.2 and the vectors' age key `gen_age_a`, in a fresh directory.
fn setup() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

/// This file's additions to the shared [`Env`].
trait SealEnv {
    /// Seals `text` with no rule, by us or by real sops, into `name`; returns its path.
    fn seal(&self, by_sops: bool, name: &str, text: &str) -> String;
    /// Real sops decrypts the file; returns the plaintext.
    fn sops_decrypt(&self, file: &str) -> String;
}

impl SealEnv for Env {
    fn seal(&self, by_sops: bool, name: &str, text: &str) -> String {
        let plain = self.write(&format!("plain-{name}"), text);
        let out = if by_sops {
            self.sops()
                .ok(["encrypt", "--age", self.recipient(), plain.as_str()])
        } else {
            self.ours()
                .ok(["seal", "--age", self.recipient(), plain.as_str()])
        };
        self.write(name, &out)
    }
    fn sops_decrypt(&self, file: &str) -> String {
        String::from_utf8(self.sops().ok(["decrypt", file])).unwrap()
    }
}

/// Indexes of the lines that differ between two versions with the same number of lines.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(
        b.len(),
        a.len(),
        "line count changed:\n{before}\n---\n{after}"
    );
    b.iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y.trim_start().split(':').next().unwrap().to_string())
        .collect()
}

/// The key of each line holding an `ENC[` value.
fn encrypted_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("ENC[AES256_GCM") && !l.trim_start().starts_with("mac:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn set_changes_only_that_line_and_real_sops_reads_it() {
    let Some(env) = setup() else { return };
    for by_sops in [false, true] {
        let who = if by_sops { "sops" } else { "us" };
        let file = env.seal(by_sops, &format!("set-{who}.yaml"), SECRET);
        let before = std::fs::read_to_string(&file).unwrap();
        env.ours()
            .ok(["set", &file, r#"["stringData"]["password"]"#, r#""s3cret""#]);
        let after = std::fs::read_to_string(&file).unwrap();
        let changed = changed_lines(&before, &after);
        assert!(
            changed.contains(&"password".to_string()) && changed.contains(&"mac".to_string()),
            "sealed by {who}: {changed:?}"
        );
        assert!(
            changed
                .iter()
                .all(|k| ["password", "mac", "lastmodified"].contains(&k.as_str())),
            "sealed by {who}: only the value, lastmodified and mac may change, got {changed:?}"
        );
        let plain = env.sops_decrypt(&file);
        assert_eq!(
            plain,
            SECRET.replace("hunter2", "s3cret"),
            "sealed by {who}"
        );

        // a new nested key, an object value, a sequence element: real sops reads them all
        env.ours().ok([
            "set",
            &file,
            r#"["stringData"]["extra"]"#,
            r#"{"a":1,"b":[true,"x"]}"#,
        ]);
        env.ours().ok(["set", &file, r#"["list"][1]"#, r#""TWO""#]);
        env.ours().ok(["set", &file, r#"["list"][7]"#, "3"]);
        let plain = env.sops_decrypt(&file);
        assert!(
            plain.contains(
                "    extra:\n        a: 1\n        b:\n            - true\n            - x\n"
            ),
            "{plain}"
        );
        assert!(
            plain.ends_with("list:\n    - one\n    - TWO\n    - 3\n"),
            "{plain}"
        );
    }
}

#[test]
fn set_from_stdin_and_value_file() {
    let Some(env) = setup() else { return };
    let file = env.seal(false, "stdin.yaml", SECRET);
    let (code, _, err) = env.ours().run_stdin(
        [
            "set",
            "--value-stdin",
            &file,
            r#"["stringData"]["password"]"#,
        ],
        Some(b"\"from-stdin\"\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.ours().run_stdin(
        [
            "set",
            "--value-stdin",
            &file,
            r#"["stringData"]["password"]"#,
            "x",
        ],
        Some(b"\"from-stdin\"\n"),
    );
    assert_eq!(code, 100, "VALUE with --value-stdin: {err}");
    let vf = env.write("value.json", "\"from-file\"");
    env.ours().ok([
        "set",
        "--value-file",
        &file,
        r#"["stringData"]["user"]"#,
        &vf,
    ]);
    let out = env.sops().ok([
        "decrypt",
        "--extract",
        r#"["stringData"]["password"]"#,
        &file,
    ]);
    assert_eq!(out, b"from-stdin");
    let out = env
        .sops()
        .ok(["decrypt", "--extract", r#"["stringData"]["user"]"#, &file]);
    assert_eq!(out, b"from-file");
}

#[test]
fn idempotent_set_does_not_write() {
    let Some(env) = setup() else { return };
    let file = env.seal(true, "idem.yaml", SECRET);
    let before = env.read("idem.yaml");
    env.ours().ok([
        "set",
        "--idempotent",
        &file,
        r#"["stringData"]["password"]"#,
        r#""hunter2""#,
    ]);
    assert_eq!(
        env.read("idem.yaml"),
        before,
        "unchanged value: not written"
    );
}

#[test]
fn unset_removes_and_real_sops_still_decrypts() {
    let Some(env) = setup() else { return };
    for by_sops in [false, true] {
        let name = format!("unset-{by_sops}.yaml");
        let file = env.seal(by_sops, &name, SECRET);
        env.ours().ok(["unset", &file, r#"["stringData"]["user"]"#]);
        env.ours().ok(["unset", &file, r#"["list"][0]"#]);
        let plain = env.sops_decrypt(&file);
        assert_eq!(
            plain,
            SECRET
                .replace("    user: app\n", "")
                .replace("    - one\n", "")
        );
        // missing path: exit 1 like sops, file untouched; --idempotent: exit 0
        let before = env.read(&name);
        let (code, _, err) = env
            .ours()
            .run(["unset", &file, r#"["stringData"]["user"]"#]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("Key not found: user"), "{err}");
        assert_eq!(env.read(&name), before);
        env.ours()
            .ok(["unset", "--idempotent", &file, r#"["stringData"]["user"]"#]);
        assert_eq!(env.read(&name), before);
    }
}

/// Same exit codes as sops 3.13.2 for the same mistakes; no value in any message.
#[test]
fn errors_exit_like_sops() {
    let Some(env) = setup() else { return };
    let cases: &[(&[&str], &str)] = &[
        (&["set", "F", "stringData.password", r#""x""#], "bad path"),
        (
            &["set", "F", r#"["stringData"]["password"]"#, "hunter3"],
            "bad JSON",
        ),
        (&["set", "F", r#"["stringData"]["password"]"#], "no value"),
        (&["unset", "F", "bad"], "bad unset path"),
        (&["unset", "F", r#"["nope"]"#], "missing key"),
        (&["unset", "F", r#"["list"][9]"#], "index out of bounds"),
        (&["unset", "F", r#"["type"]["x"]"#], "through a scalar"),
        (
            &["decrypt", "--extract", r#"["stringData"]["nope"]"#, "F"],
            "extract a missing key",
        ),
        (
            &["decrypt", "--extract", "nope", "F"],
            "malformed extract path",
        ),
        (&["decrypt", "missing.yaml"], "decrypt a missing file"),
        (
            &["encrypt", "--age", "R", "missing.yaml"],
            "encrypt a missing file",
        ),
    ];
    for (args, what) in cases {
        let mut codes = Vec::new();
        for by_sops in [false, true] {
            let name = format!("err-{by_sops}.yaml");
            let file = env.seal(true, &name, SECRET);
            let before = env.read(&name);
            let args: Vec<&str> = args
                .iter()
                .map(|a| match *a {
                    "F" => file.as_str(),
                    "R" => env.recipient(),
                    a => a,
                })
                .collect();
            let runner = if by_sops { env.sops() } else { env.ours() };
            let (code, _, err) = runner.run(&args);
            assert_eq!(env.read(&name), before, "{what}: file must stay as it was");
            if !by_sops {
                assert!(!err.contains("hunter"), "{what}: a value leaked: {err}");
                assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
            }
            codes.push(code);
        }
        assert_eq!(codes[0], codes[1], "{what}: ours vs sops exit code");
        assert_ne!(codes[0], 0, "{what}");
    }
}

/// `--age` replaces the keys of the matching creation rule, so a rule that only names key kinds we
/// cannot use (KMS) does not stop `seal --age`, as with `sops encrypt --age`; without the flag both
/// refuse.
#[test]
fn age_flag_overrides_a_rule_without_usable_keys() {
    let Some(env) = setup() else { return };
    env.write(
        ".sops.yaml",
        "creation_rules:\n  - kms: arn:aws:kms:us-east-1:123456789012:key/abc\n",
    );
    let plain = env.write("plain.yaml", SECRET);
    let sealed = env
        .ours()
        .ok(["seal", "--age", env.recipient(), plain.as_str()]);
    std::fs::write(env.path("sealed.yaml"), &sealed).unwrap();
    assert_eq!(env.sops_decrypt(&env.arg("sealed.yaml")), SECRET);
    let (code, _, err) = env.ours().run(["seal", plain.as_str()]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("kms"), "{err}");
}

const SOPS_SECRET: &str = "apiVersion: isindir.github.com/v1alpha3\nkind: SopsSecret\nmetadata:\n    name: app-secrets\nspec:\n    suspend: false\n    secretTemplates:\n        - name: db\n          labels:\n            app: db\n          stringData:\n            password: hunter2\n        - name: token\n          data:\n            token: aHVudGVyMg==\n";

const SECRET_LIST: &str = "apiVersion: v1\nkind: List\nitems:\n    - apiVersion: v1\n      kind: Secret\n      metadata:\n        name: a\n      data:\n        password: aHVudGVyMg==\n    - apiVersion: v1\n      kind: Secret\n      metadata:\n        name: b\n      stringData:\n        token: hunter2\nmetadata:\n    resourceVersion: \"\"\n";

#[test]
fn sops_secret_and_lists_encrypt_only_the_secret_fields() {
    let Some(env) = setup() else { return };
    let mixed = format!("{SECRET}---\n{SOPS_SECRET}");
    let other = SECRET_LIST.replace(
        "kind: Secret\n      metadata:\n        name: b",
        "kind: ConfigMap\n      metadata:\n        name: b",
    );
    // (file, plaintext, the keys encrypted, the rule written into the metadata)
    let cases: [(&str, &str, &[&str], &str); 4] = [
        // SopsSecret: the operator's convention, everything under spec.secretTemplates
        (
            "sopssecret.yaml",
            SOPS_SECRET,
            &["name", "app", "password", "name", "token"],
            "encrypted_suffix: Templates",
        ),
        // a List of Secrets: only data/stringData of the items
        (
            "list.yaml",
            SECRET_LIST,
            &["password", "token"],
            "encrypted_regex: ^(data|stringData)$",
        ),
        // Secret + SopsSecret in one manifest: each keeps its convention's fields encrypted
        (
            "mixed.yaml",
            &mixed,
            &[
                "password", "user", "port", "name", "app", "password", "name", "token",
            ],
            "encrypted_regex: ^(data|stringData|secretTemplates)$",
        ),
        // a List holding something else: the object rule, apiVersion, kind and metadata stay readable
        (
            "other.yaml",
            &other,
            &["password", "token"],
            "unencrypted_regex: ^(apiVersion|kind|metadata)$",
        ),
    ];
    for (name, plain, keys, rule) in cases {
        let f = env.seal(false, name, plain);
        let enc = env.read(name);
        assert_eq!(encrypted_keys(&enc), keys, "{name}: {enc}");
        assert!(enc.contains(&format!("    {rule}\n")), "{name}: {enc}");
        assert_eq!(env.sops_decrypt(&f), plain, "{name}");
    }
    // the SopsSecret's own fields stay readable
    let enc = env.read("sopssecret.yaml");
    assert!(enc.contains("    name: app-secrets\n") && enc.contains("    suspend: false\n"));
}

/// The `kubectl_complete-sops` binary built beside `kubectl-sops`.
fn completion_script() -> PathBuf {
    workspace_bin("kubectl-sops").with_file_name("kubectl_complete-sops")
}

fn path_with(dir: &Path) -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

#[test]
fn completion_scripts_name_the_subcommands() {
    let ours = workspace_bin("kubectl-sops");
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Sops::new(&ours, tmp.path()).ok(["completion", shell]);
        let text = String::from_utf8(out).unwrap();
        for sub in ["seal", "unseal", "set", "unset", "completion"] {
            assert!(text.contains(sub), "{shell} script lacks {sub}");
        }
    }
    // the bash script is valid bash
    let bash_script = tmp.path().join("c.bash");
    std::fs::write(
        &bash_script,
        Sops::new(&ours, tmp.path()).ok(["completion", "bash"]),
    )
    .unwrap();
    let st = std::process::Command::new("bash")
        .arg("-n")
        .arg(&bash_script)
        .status()
        .unwrap();
    assert!(st.success());
}

/// kubectl ≥ 1.26 runs `kubectl_complete-sops WORDS… TO_COMPLETE` and reads cobra's `__complete`
/// answer (candidates, then `:<directive>`).
#[test]
fn kubectl_complete_script_answers_like_cobra() {
    let ours = workspace_bin("kubectl-sops");
    let tmp = tempfile::tempdir().unwrap();
    let script = completion_script();
    let run = |args: &[&str]| -> Vec<String> {
        let out = Sops::new(&script, tmp.path())
            .env("PATH", path_with(ours.parent().unwrap()))
            .ok(args);
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let names = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    // what kubectl passes for `kubectl sops <TAB>`
    let lines = run(&[""]);
    assert_eq!(lines.last().map(String::as_str), Some(":4"));
    let n = names(&lines);
    for sub in [
        "seal",
        "unseal",
        "edit",
        "set",
        "unset",
        "diff",
        "completion",
    ] {
        assert!(n.contains(&sub.to_string()), "{sub} in {n:?}");
    }
    // the cobra-plugin form with a leading __complete gives the same answer
    assert_eq!(run(&["__complete", ""]), lines);
    // `kubectl sops set --val<TAB>`
    let n = names(&run(&["set", "--val"]));
    assert_eq!(n, ["--value-stdin", "--value-file", ":4"]);
    // `kubectl sops unseal <TAB>`: files (directive 0)
    assert_eq!(run(&["unseal", ""]), [":0"]);
    // `kubectl sops seal --input-type <TAB>`
    let n = names(&run(&["seal", "--input-type", ""]));
    assert_eq!(n, ["yaml", "json", "dotenv", "ini", "binary", ":4"]);
}
