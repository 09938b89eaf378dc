//! What a new user reads on the first runs, through the real binaries: a key file that does not
//! exist is named, "no identity here matches" says which identities were loaded (by recipient,
//! never the secret part), the default-rule note after `seal` only when it tells something (and
//! never "Kubernetes Secrets" for something else; `-q` silences it), and `helm secrets clean`.

use e2e_tests::{age_recipient, vectors_dir_checked, workspace_bin, Sops};

struct Env {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
}

fn setup() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    Env {
        dir: tmp.path().to_path_buf(),
        _tmp: tmp,
    }
}

fn key(name: &str) -> std::path::PathBuf {
    vectors_dir_checked().join("keys").join(name)
}

impl Env {
    fn ours(&self) -> Sops {
        Sops::new(workspace_bin("kubectl-sops"), &self.dir)
    }

    /// `seal --age A -` of `plain` with `extra` flags: (exit code, stderr).
    fn seal(&self, plain: &str, extra: &[&str]) -> (i32, String) {
        let r = age_recipient(&key("gen_age_a.txt"));
        let mut args = vec!["seal", "--age", &r];
        args.extend_from_slice(extra);
        args.push("-");
        let (code, _, err) = self.ours().run_stdin(&args, Some(plain.as_bytes()));
        (code, err)
    }

    fn sealed(&self, name: &str) {
        let r = age_recipient(&key("gen_age_a.txt"));
        let out = self
            .ours()
            .run_stdin(["seal", "-q", "--age", &r, "-"], Some(b"password: x1\n"));
        assert_eq!(out.0, 0, "{}", out.2);
        std::fs::write(self.dir.join(name), out.1).unwrap();
    }
}

#[test]
fn a_missing_key_file_is_named_with_its_path() {
    let e = setup();
    e.sealed("s.enc.yaml");
    let (code, _, err) = e
        .ours()
        .age_key_file("/nonexistent/key.txt")
        .run(["unseal", "s.enc.yaml"]);
    assert_eq!(code, 128, "{err}");
    assert!(
        err.contains("SOPS_AGE_KEY_FILE file /nonexistent/key.txt: No such file or directory"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn no_matching_identity_names_the_loaded_ones_by_recipient() {
    let e = setup();
    e.sealed("s.enc.yaml");
    let b = key("gen_age_b.txt");
    let (code, _, err) = e.ours().age_key_file(&b).run(["unseal", "s.enc.yaml"]);
    assert_eq!(code, 128, "{err}");
    let rb = age_recipient(&b);
    let short = format!("{}…{}", &rb[..12], &rb[rb.len() - 6..]);
    assert!(
        err.contains(&format!(
            "no identity here matches (loaded: {short} from SOPS_AGE_KEY_FILE)"
        )),
        "{err}"
    );
    let secret = std::fs::read_to_string(&b).unwrap();
    let secret = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY"))
        .unwrap();
    assert!(!err.contains(secret) && !err.contains("AGE-SECRET-KEY"));
}

#[test]
fn the_default_rule_note_only_when_it_tells_something() {
    let e = setup();
    // keys on the command line, not a Kubernetes object: sops' default, nothing to say
    let (code, err) = e.seal("password: x\n", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    // a Secret: the Flux convention is announced
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  p: x\n";
    let (_, err) = e.seal(secret, &[]);
    assert!(
        err.contains("Kubernetes Secrets: only data and stringData"),
        "{err}"
    );
    // a ConfigMap is not called a Secret
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n";
    let (_, err) = e.seal(cm, &[]);
    assert!(
        err.contains("Kubernetes objects:") && !err.contains("Secrets"),
        "{err}"
    );
    // -q / --quiet: nothing
    for q in ["-q", "--quiet"] {
        let (code, err) = e.seal(secret, &[q]);
        assert_eq!(code, 0);
        assert!(err.is_empty(), "{q}: {err}");
    }
    // keys from .sops.yaml, no rule there: the note says sops' default, no Kubernetes words
    let r = age_recipient(&key("gen_age_a.txt"));
    std::fs::write(
        e.dir.join(".sops.yaml"),
        format!("creation_rules:\n  - age: {r}\n"),
    )
    .unwrap();
    let (code, _, err) = e.ours().run_stdin(["seal", "-"], Some(b"password: x\n"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("sops' default") && !err.contains("Kubernetes"),
        "{err}"
    );
}

#[test]
fn helm_secrets_clean_explains_and_succeeds() {
    let e = setup();
    let (code, out, err) = Sops::new(workspace_bin("helm-secrets"), &e.dir).run(["clean", "."]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(".dec"), "{err}");
}
