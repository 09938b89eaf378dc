//! `kubectl-sops diff`, `textconv` and `git-setup` against real git (and files made by real sops
//! 3.13.2): per-field changes with and without keys, exit codes like diff(1), and `git diff` /
//! `git log -p` showing only the changed fields without ever printing a secret.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e_tests::{need, Env};

/// Secret values that must never appear in any output (raw and as the base64 of a Secret's `data`).
const OLD_PASSWORD: &str = "hunter2-old-secret";
const NEW_PASSWORD: &str = "s3cr3t-new-pass";
const TOKEN: &str = "tok-abc-123-xyz";
const USER: &str = "app-user-unchanged";

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (u32::from(c) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn secret(password: &str, token: Option<&str>) -> String {
    let mut s = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: prod\ntype: Opaque\ndata:\n    password: {}\n    user: {}\n",
        b64(password),
        b64(USER)
    );
    if let Some(t) = token {
        s.push_str(&format!("    token: {}\n", b64(t)));
    }
    s
}

/// A git repository in the shared [`Env`]'s temp dir (with the key `gen_age_a`), and a controlled
/// environment for git and kubectl-sops alike.
struct Repo {
    env: Env,
    root: PathBuf,
    home: PathBuf,
    bin: PathBuf,
}

struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Repo {
    fn new() -> Option<Repo> {
        need(&["git"])?;
        let env = Env::new().key("gen_age_a");
        let root = env.path("repo");
        let home = env.path("home");
        std::fs::create_dir_all(root.join("apps")).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let repo = Repo {
            root,
            home,
            bin: env.ours_bin(),
            env,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        Some(repo)
    }

    /// The command with a clean environment: git sees no system or user config but ours, and finds
    /// `kubectl-sops` on PATH (for the textconv driver); the age key only when `keys`.
    fn cmd(&self, program: &Path, dir: &Path, keys: bool) -> Command {
        let mut c = Command::new(program);
        let path = std::env::join_paths(
            std::iter::once(self.bin.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
        )
        .unwrap();
        c.current_dir(dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_PAGER", "cat")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if keys {
            c.env("SOPS_AGE_KEY_FILE", self.env.key_file());
        }
        c
    }

    fn run(&self, mut c: Command) -> Run {
        let o = c.output().expect("run");
        Run {
            code: o.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_k(args, false)
    }

    fn git_k(&self, args: &[&str], keys: bool) -> String {
        let mut c = self.cmd(Path::new("git"), &self.root, keys);
        c.args(args);
        let r = self.run(c);
        assert_eq!(r.code, 0, "git {args:?} failed: {}", r.err);
        r.out
    }

    fn ks_in(&self, dir: &Path, args: &[&str], keys: bool) -> Run {
        let mut c = self.cmd(&self.bin, dir, keys);
        c.args(args);
        self.run(c)
    }

    fn ks(&self, args: &[&str], keys: bool) -> Run {
        self.ks_in(&self.root, args, keys)
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for s in [OLD_PASSWORD, NEW_PASSWORD, TOKEN, USER] {
        assert!(
            !text.contains(s),
            "{what} shows a plaintext secret:\n{text}"
        );
        assert!(
            !text.contains(&b64(s)),
            "{what} shows a secret's base64:\n{text}"
        );
    }
}

/// Lines of a unified diff that were added or removed (not the `+++`/`---` headers).
fn changed_lines(patch: &str) -> Vec<String> {
    patch
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn diff_against_git_revision_and_git_textconv() {
    let Some(repo) = Repo::new() else { return };
    let age = repo.env.recipient().to_string();
    let plain_dir = repo.home.clone(); // plaintext lives outside the repository
    std::fs::write(plain_dir.join("v1.yaml"), secret(OLD_PASSWORD, None)).unwrap();
    std::fs::write(plain_dir.join("v2.yaml"), secret(NEW_PASSWORD, Some(TOKEN))).unwrap();
    let file = "apps/db.enc.yaml";
    let v1 = plain_dir.join("v1.yaml");
    let v2 = plain_dir.join("v2.yaml");

    // v1: sealed, committed
    let r = repo.ks(&["seal", "--age", &age, v1.to_str().unwrap()], true);
    assert_eq!(r.code, 0, "{}", r.err);
    std::fs::write(repo.root.join(file), &r.out).unwrap();
    repo.git(&["add", file]);
    repo.git(&["commit", "-q", "-m", "v1"]);

    // nothing changed yet: exit 0, no output
    for keys in [true, false] {
        let r = repo.ks(&["diff", file, "--rev", "HEAD"], keys);
        assert_eq!(r.code, 0, "keys={keys}: {}{}", r.out, r.err);
        assert_eq!(r.out, "");
    }

    // v2: one value changed, one added, sealed onto the file (stable ciphertext)
    let r = repo.ks(
        &[
            "seal",
            "--age",
            &age,
            v2.to_str().unwrap(),
            "--output",
            file,
        ],
        true,
    );
    assert_eq!(r.code, 0, "{}", r.err);

    // with keys: exactly the two changes, masked
    let with = repo.ks(&["diff", file, "--rev", "HEAD"], true);
    assert_eq!(with.code, 1, "{}", with.err);
    assert_eq!(with.out, "~ data.password: *** -> ***\n+ data.token: ***\n");
    assert_eq!(with.err, "");
    // same from the file's own directory (path relative to the repository root via the prefix)
    let sub = repo.ks_in(
        &repo.root.join("apps"),
        &["diff", "db.enc.yaml", "--rev", "HEAD"],
        true,
    );
    assert_eq!((sub.code, sub.out.as_str()), (1, with.out.as_str()));

    // without keys: same paths; the changed one cannot be told from a re-encryption
    let without = repo.ks(&["diff", file, "--rev", "HEAD"], false);
    assert_eq!(without.code, 1, "{}", without.err);
    assert_eq!(
        without.out,
        "~ data.password: changed or re-encrypted (no key to check)\n+ data.token: ***\n"
    );
    assert!(
        without
            .err
            .contains(&format!("no key for {file}: comparing ciphertexts")),
        "{}",
        without.err
    );
    assert_no_secret(
        "diff",
        &(with.out + &with.err + &without.out + &without.err),
    );

    // --show-values needs keys: shows the values with them, exit 2 without
    let shown = repo.ks(&["diff", file, "--rev", "HEAD", "--show-values"], true);
    assert_eq!(shown.code, 1, "{}", shown.err);
    assert_eq!(
        shown.out,
        format!(
            "~ data.password: \"{}\" -> \"{}\"\n+ data.token: \"{}\"\n",
            b64(OLD_PASSWORD),
            b64(NEW_PASSWORD),
            b64(TOKEN)
        )
    );
    let refused = repo.ks(&["diff", file, "--rev", "HEAD", "--show-values"], false);
    assert_eq!(refused.code, 2);
    assert!(
        refused.err.contains("--show-values needs the keys"),
        "{}",
        refused.err
    );
    assert_no_secret("refused --show-values", &(refused.out + &refused.err));

    // trouble is > 1: unknown revision, missing file
    assert_eq!(repo.ks(&["diff", file, "--rev", "nope"], true).code, 2);
    assert_eq!(repo.ks(&["diff", file, "missing.enc.yaml"], true).code, 2);

    // git-setup: config and attributes, idempotent
    let setup = repo.ks(&["git-setup"], false);
    assert_eq!(setup.code, 0, "{}", setup.err);
    assert!(setup.out.contains("diff.sops.textconv"), "{}", setup.out);
    assert_eq!(
        repo.git(&["config", "diff.sops.textconv"]).trim(),
        "kubectl-sops textconv"
    );
    assert_eq!(
        repo.git(&["config", "diff.sops.cachetextconv"]).trim(),
        "false"
    );
    let again = repo.ks(&["git-setup"], false);
    assert_eq!(again.code, 0, "{}", again.err);
    assert!(
        again.out.contains("already has every pattern"),
        "{}",
        again.out
    );
    let attrs = std::fs::read_to_string(repo.root.join(".gitattributes")).unwrap();
    assert_eq!(attrs.matches("*.enc.yaml diff=sops").count(), 1, "{attrs}");
    assert_eq!(
        repo.git(&["check-attr", "diff", file]).trim(),
        format!("{file}: diff: sops")
    );

    // git diff of the working tree: per-field lines for the changed fields only
    let check_patch = |what: &str, patch: &str, keys: bool| {
        assert_no_secret(what, patch);
        let tag = if keys { "hmac:" } else { "enc:" };
        let changed = changed_lines(patch);
        let fields: Vec<&String> = changed
            .iter()
            .filter(|l| l.contains("data.") || l.contains("metadata."))
            .collect();
        assert_eq!(fields.len(), 3, "{what}: {patch}");
        assert!(
            fields[0].starts_with(&format!("-data.password: {tag}")),
            "{what}: {patch}"
        );
        assert!(
            fields[1].starts_with(&format!("+data.password: {tag}")),
            "{what}: {patch}"
        );
        assert!(
            fields[2].starts_with(&format!("+data.token: {tag}")),
            "{what}: {patch}"
        );
        assert_ne!(fields[0][1..], fields[1][1..], "{what}");
        // the unchanged value is a context line, rendered identically in both versions
        assert!(
            patch
                .lines()
                .any(|l| l.starts_with(&format!(" data.user: {tag}"))),
            "{what}: {patch}"
        );
        // only fields and the always-changing lastmodified differ
        for l in &changed {
            assert!(
                l.contains("data.") || l.contains("sops.lastmodified"),
                "{what}: unexpected change {l}\n{patch}"
            );
        }
    };
    for keys in [true, false] {
        let patch = repo.git_k(&["diff"], keys);
        check_patch(&format!("git diff (keys={keys})"), &patch, keys);
    }

    // committed: git log -p shows the same per-field change
    repo.git(&["add", file, ".gitattributes"]);
    repo.git(&["commit", "-q", "-m", "v2"]);
    for keys in [true, false] {
        let log = repo.git_k(&["log", "-p", "-1", "--", file], keys);
        check_patch(&format!("git log -p (keys={keys})"), &log, keys);
    }
    // the raw ciphertext of the file is not what git shows
    let log = repo.git_k(&["log", "-p", "-1", "--", file], false);
    assert!(!log.contains("ENC[AES256_GCM"), "{log}");

    // two revisions, and after the commit the working tree equals HEAD
    let range = repo.ks(&["diff", file, "--rev", "HEAD~1..HEAD"], true);
    assert_eq!(
        (range.code, range.out.as_str()),
        (1, "~ data.password: *** -> ***\n+ data.token: ***\n")
    );
    assert_eq!(repo.ks(&["diff", file, "--rev", "HEAD"], true).code, 0);
    assert_eq!(repo.ks(&["diff", file, file], false).code, 0);
}

#[test]
fn textconv_passes_plain_files_through_and_renders_metadata() {
    let Some(repo) = Repo::new() else { return };
    let age = repo.env.recipient().to_string();
    let plain = secret(OLD_PASSWORD, None);
    std::fs::write(repo.home.join("p.yaml"), &plain).unwrap();
    let r = repo.ks(
        &["textconv", repo.home.join("p.yaml").to_str().unwrap()],
        false,
    );
    assert_eq!((r.code, r.out.as_str()), (0, plain.as_str()));

    let r = repo.ks(
        &[
            "seal",
            "--age",
            &age,
            repo.home.join("p.yaml").to_str().unwrap(),
        ],
        true,
    );
    std::fs::write(repo.root.join("s.enc.yaml"), &r.out).unwrap();
    for keys in [true, false] {
        let t = repo.ks(&["textconv", "s.enc.yaml"], keys);
        assert_eq!(t.code, 0, "{}", t.err);
        assert_no_secret("textconv", &t.out);
        let lines: Vec<&str> = t.out.lines().collect();
        assert_eq!(lines[0], "apiVersion: \"v1\"");
        assert!(lines.contains(&"metadata.name: \"db\""), "{}", t.out);
        assert!(
            lines.contains(&format!("sops.age: {age}").as_str()),
            "{}",
            t.out
        );
        assert!(lines.iter().any(|l| l.starts_with("sops.lastmodified: ")));
        assert!(!t.out.contains("ENC["), "{}", t.out);
        assert!(!t.out.contains("sops.mac"), "{}", t.out);
        assert!(!t.out.contains(".enc:"), "{}", t.out);
    }
    let shown = repo.ks(&["textconv", "--show-values", "s.enc.yaml"], true);
    assert!(shown
        .out
        .contains(&format!("data.password: \"{}\"", b64(OLD_PASSWORD))));
    assert_eq!(
        repo.ks(&["textconv", "--show-values", "s.enc.yaml"], false)
            .code,
        2
    );

    // a hand-edited file: the MAC no longer matches. With keys that is an error (sops' code 51);
    // without keys the clear value is compared as it is.
    let sealed = std::fs::read_to_string(repo.root.join("s.enc.yaml")).unwrap();
    let edited = sealed.replacen("name: db", "name: db2", 1);
    assert_ne!(sealed, edited);
    std::fs::write(repo.root.join("t.enc.yaml"), edited).unwrap();
    let r = repo.ks(&["diff", "s.enc.yaml", "t.enc.yaml"], true);
    assert_eq!(r.code, 51, "{}{}", r.out, r.err);
    assert!(r.err.contains("MAC mismatch"), "{}", r.err);
    assert_no_secret("MAC mismatch error", &(r.out + &r.err));
    let r = repo.ks(&["diff", "s.enc.yaml", "t.enc.yaml"], false);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(r.out, "~ metadata.name: \"db\" -> \"db2\"\n");
}

/// A file made by real `sops encrypt` and a copy encrypted again from the same plaintext (new data
/// key, new IVs): with keys nothing changed; without them every encrypted value may have.
#[test]
fn reencrypted_by_real_sops() {
    let Some(env) = Env::new().with_sops().map(|e| e.key("gen_age_a")) else {
        return;
    };
    let age = env.recipient();
    let inputs: &[(&str, &str, &[&str])] = &[
        (
            "app.yaml",
            "user: alice\npassword: hunter2\nport: 5432\nenabled: true\nlist:\n    - a\n    - name: x\npublic_unencrypted: visible\n",
            &["user", "password", "port", "enabled", "list[0]", "list[1].name"],
        ),
        (
            "app.json",
            "{\n\t\"user\": \"alice\",\n\t\"ratio\": 1.5,\n\t\"obj\": {\n\t\t\"tls.crt\": \"x\"\n\t}\n}\n",
            &["user", "ratio", "obj[\"tls.crt\"]"],
        ),
        ("app.env", "USER=alice\nPASSWORD=s3cr=t\n", &["USER", "PASSWORD"]),
    ];
    let sops = env.sops();
    for (name, text, encrypted) in inputs {
        env.write(name, text);
        let a = sops.ok(["encrypt", "--age", age, name]);
        let b = sops.ok(["encrypt", "--age", age, name]);
        assert_ne!(a, b);
        let (ext, stem) = (name.rsplit('.').next().unwrap(), "app");
        let fa = format!("{stem}.a.{ext}");
        let fb = format!("{stem}.b.{ext}");
        env.write(&fa, &a);
        env.write(&fb, &b);

        let with = env.ours();
        let (code, out, err) = with.run(["diff", &fa, &fb]);
        assert_eq!(code, 0, "{name}: {}{err}", String::from_utf8_lossy(&out));
        assert!(out.is_empty());

        let without = env.ours().env_remove("SOPS_AGE_KEY_FILE");
        let (code, out, err) = without.run(["diff", &fa, &fb]);
        assert_eq!(code, 1, "{name}: {err}");
        let expected: String = encrypted
            .iter()
            .map(|p| format!("~ {p}: changed or re-encrypted (no key to check)\n"))
            .collect();
        assert_eq!(String::from_utf8_lossy(&out), expected, "{name}");
        assert!(err.contains("comparing ciphertexts"), "{err}");
    }
}
