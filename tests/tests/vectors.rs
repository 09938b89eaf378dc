//! Every real sops-made vector in `../shared/vectors/sops` decrypts with `kubectl-sops unseal` to its
//! expected plaintext; the negative vectors fail with sops' exit codes and print no plaintext.

use std::path::{Path, PathBuf};

use e2e_tests::{vectors_dir_checked, Env, Sops};
use sops_engine::stores::{store_for, Format, StoreSettings};
use sops_engine::tree::{Branch, Item, Value};

/// (vector dir, encrypted file, expected plaintext, extra unseal flags): each unseals with exit 0.
#[rustfmt::skip]
const CASES: &[(&str, &str, &str, &[&str])] = &[
    ("flux-age-dotenv", "env.env", "expected.env", &[]),
    ("flux-age-k8s-secret", "age.yaml", "expected.yaml", &[]),
    ("flux-age-pq", "age-pq.yaml", "expected.yaml", &[]),
    ("flux-pgp-k8s-secret", "pgp.yaml", "expected.yaml", &[]),
    ("gen-binary-text", "blob.enc.txt", "expected.txt", &[]),
    ("gen-dotenv", "app.enc.env", "expected.env", &[]),
    ("gen-json-config-indent2-unencrypted-regex", "nested.enc.json", "expected.json", &[]),
    ("gen-json-keygroups-default-threshold", "nested.enc.json", "expected.json", &[]),
    ("gen-json-nested-types", "nested.enc.json", "expected.json", &[]),
    ("gen-yaml-config-indent2-maconly", "regex.enc.yaml", "expected.yaml", &[]),
    ("gen-yaml-encrypted-suffix", "suffix.enc.yaml", "expected.yaml", &[]),
    ("gen-yaml-set-rotate", "before.enc.yaml", "expected_before.yaml", &[]),
    ("gen-yaml-set-rotate", "after_set.enc.yaml", "expected_after_set.yaml", &[]),
    ("gen-yaml-set-rotate", "after_rotate.enc.yaml", "expected_after_rotate.yaml", &[]),
    ("gen-yaml-ssh-ed25519", "simple.enc.yaml", "expected.yaml", &[]),
    ("gen-yaml-three-age", "simple.enc.yaml", "expected.yaml", &[]),
    ("gen-yaml-unencrypted-comment-regex", "comment_regex_plain.enc.yaml", "expected.yaml", &[]),
    ("gen-yaml-unencrypted-regex", "regex.enc.yaml", "expected.yaml", &[]),
    ("helm-secrets-age", "secrets.age.yaml", "expected.yaml", &[]),
    ("helm-secrets-file-json", "file.json", "expected.json", &[]),
    ("helm-secrets-file-properties", "file.properties", "expected.properties", &[]),
    ("helm-secrets-pgp-3.5", "secrets.yaml", "expected.yaml", &[]),
    ("ksops-unencrypted-regex-yaml", "secret.enc.yaml", "expected.yaml", &[]),
    ("sops-age-npm-env", "secret.enc.env", "expected.env", &[]),
    ("sops-age-npm-yaml", "secret.enc.yaml", "expected.yaml", &[]),
    ("sops-example-binary", "example.txt", "expected.txt", &[]),
    ("sops-example-ini", "example.ini", "expected.ini", &[]),
    ("sops-example-yaml", "example.yaml", "expected.yaml", &[]),
    ("sops-functional-comments", "comments.enc.yaml", "expected.yaml", &[]),
    ("sops-functional-format-env", "format.enc.env", "expected.env", &[]),
    ("sops-functional-format-ini", "format.enc.ini", "expected.ini", &[]),
    ("sops-functional-format-json", "format.enc.json", "expected.json", &[]),
    ("sops-functional-format-yaml", "format.enc.yaml", "expected.yaml", &[]),
    ("sops-functional-multiple-keys", "multiple_keys.yaml", "expected.yaml", &[]),
    ("sops-nix-binary", "secrets.bin", "expected.bin", &[]),
    ("sops-nix-ini", "secrets.ini", "expected.ini", &[]),
    ("sops-nix-json", "secrets.json", "expected.json", &[]),
    // a MAC that does not match, or none: opened with --ignore-mac
    ("gen-negative-mac-mismatch", "simple.enc.yaml", "expected_ignore_mac.yaml", &["--ignore-mac"]),
    ("sops-functional-no-mac", "no_mac.yaml", "expected.yaml", &["--ignore-mac"]),
];

/// Every age identity of the vectors, as `SOPS_AGE_KEY` text (several per line are allowed).
fn all_age_keys(keys: &Path) -> String {
    let mut s = String::new();
    for entry in std::fs::read_dir(keys).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "txt") {
            s.push_str(&std::fs::read_to_string(&p).unwrap());
            s.push('\n');
        }
    }
    s
}

fn all_pgp_keys(keys: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "asc"))
        .collect();
    v.sort();
    v
}

/// A tree without comments, plus the comment texts: YAML comment placement legitimately differs
/// between sops versions (3.11 moves inline comments above the key), their text must not.
fn split_comments(docs: &[Branch]) -> (Vec<Branch>, Vec<String>) {
    fn strip(v: &Value, out: &mut Vec<String>) -> Option<Value> {
        match v {
            Value::Comment(c) => {
                out.push(c.text.trim().to_string());
                None
            }
            Value::Map(m) => Some(Value::Map(strip_branch(m, out))),
            Value::Seq(s) => Some(Value::Seq(s.iter().filter_map(|x| strip(x, out)).collect())),
            other => Some(other.clone()),
        }
    }
    fn strip_branch(b: &Branch, out: &mut Vec<String>) -> Branch {
        b.iter()
            .filter_map(|i| match i {
                Item::Comment(c) => {
                    out.push(c.text.trim().to_string());
                    None
                }
                Item::Pair(k, v) => strip(v, out).map(|v| Item::Pair(k.clone(), v)),
            })
            .collect()
    }
    let mut comments = Vec::new();
    let docs = docs
        .iter()
        .map(|d| strip_branch(d, &mut comments))
        .collect();
    comments.sort();
    (docs, comments)
}

/// Our `kubectl-sops` with every age identity and the ssh key of the vectors (and the GnuPG home
/// of `env`, when it has one).
fn runner(env: &Env) -> Sops {
    let keys = env.keys_dir();
    env.ours().env("SOPS_AGE_KEY", all_age_keys(&keys)).env(
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        keys.join("gen_ssh_ed25519"),
    )
}

/// The vectors' dir, an [`Env`] with their PGP keys (when gpg is there) and its [`runner`].
fn setup() -> (PathBuf, Env, Sops) {
    let vectors = vectors_dir_checked();
    let env = Env::new().maybe_gnupg(&all_pgp_keys(&vectors.join("keys")));
    let sops = runner(&env);
    (vectors, env, sops)
}

#[test]
fn every_vector_unseals_to_its_expected_plaintext() {
    // `_env` keeps the GnuPG home until the end
    let (vectors, _env, sops) = setup();
    let mut failures = Vec::new();
    for (dir, enc, expected, flags) in CASES {
        let enc_path = vectors.join(dir).join(enc);
        let expected_bytes = std::fs::read(vectors.join(dir).join(expected)).unwrap();
        let mut args = vec!["unseal".to_string()];
        args.extend(flags.iter().map(|s| s.to_string()));
        args.push(enc_path.display().to_string());
        let (got_code, out, err) = sops.run(&args);
        if got_code != 0 {
            failures.push(format!("{dir}/{enc}: exit {got_code}, expected 0: {err}"));
            continue;
        }
        let format = Format::from_path(enc);
        let same = if out == expected_bytes {
            true
        } else if format == Format::Yaml {
            let store = store_for(Format::Yaml, &StoreSettings::default());
            match (store.load_plain(&out), store.load_plain(&expected_bytes)) {
                (Ok(a), Ok(b)) => split_comments(&a) == split_comments(&b),
                _ => false,
            }
        } else {
            false
        };
        if !same {
            failures.push(format!(
                "{dir}/{enc}: output differs from {expected}:\n--- got\n{}\n--- expected\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected_bytes)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn negative_vectors_fail_like_sops_without_printing_plaintext() {
    let (vectors, env, sops) = setup();
    for (dir, file) in [
        ("gen-negative-mac-mismatch", "simple.enc.yaml"),
        ("sops-functional-no-mac", "no_mac.yaml"),
    ] {
        if dir == "sops-functional-no-mac" && env.gnupg().is_none() {
            continue;
        }
        let (code, out, err) = sops.run([
            "unseal",
            &vectors.join(dir).join(file).display().to_string(),
        ]);
        assert_eq!(code, 51, "{dir}: {err}");
        assert!(out.is_empty(), "{dir}: printed output on MAC failure");
        assert!(err.contains("MAC mismatch"), "{dir}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one-line error expected: {err}"
        );
    }
}

#[test]
fn missing_key_exits_128_and_post_quantum_key_alone_opens() {
    let vectors = vectors_dir_checked();
    let env = Env::new();
    let sops = env.ours();
    let (code, out, err) = sops.run([
        "unseal",
        &vectors.join("gen-dotenv/app.enc.env").display().to_string(),
    ]);
    assert_eq!(code, 128, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("app.enc.env"), "error names the file: {err}");

    // the post-quantum vector opens with its AGE-SECRET-KEY-PQ identity alone
    let pq_file = vectors
        .join("flux-age-pq/age-pq.yaml")
        .display()
        .to_string();
    let pq = env.ours().age_key_file(env.age_key("flux_age-pq"));
    let out = pq.ok(["unseal", &pq_file]);
    let expected = std::fs::read(vectors.join("flux-age-pq/expected.yaml")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&expected)
    );
    // and without it, the failure names the (shortened) post-quantum recipient on one line
    let (code, out, err) = sops.run(["unseal", &pq_file]);
    assert_eq!(code, 128, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("age1pq1") && err.contains("(1959 characters)"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
