//! `kubectl-sops rekey` and `kubectl-sops check` against real sops (3.13.2 and 3.11.0) and real git:
//! rekeying rewrites only key entries (every value, `lastmodified` and `mac` line stays byte-identical)
//! and the result decrypts with real sops for exactly the new recipients; `--rotate` replaces every
//! ciphertext; 1000 files in one run; `check` flags each kind of problem with exit 1.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e_tests::{need, Env, Sops};

/// Plaintext inputs sealed by us and by sops (canonical forms, so decryption gives them back exactly).
const SECRET_YAML: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: prod\ntype: Opaque\ndata:\n    password: aHVudGVyMg==\n    user: YXBw\nstringData:\n    dsn: postgres://app@db:5432/app\n";
const APP_YAML: &str = "# settings\nuser: alice\nport: 5432\nratio: 0.25\nenabled: true\nhosts:\n    - a.example.com\n    - b.example.com\nnested:\n    key: value\n";
const APP_JSON: &str =
    "{\n\t\"user\": \"alice\",\n\t\"port\": 8080,\n\t\"list\": [\n\t\t1,\n\t\t\"two\"\n\t]\n}\n";
const APP_ENV: &str = "USER=alice\nPASSWORD=s3cr=t\nPUBLIC_unencrypted=visible\n";
const APP_INI: &str = "[database]\nuser     = alice\npassword = secret\n";
/// One file of each text format, with the name it is written under.
const ALL_FORMATS: [(&str, &str); 5] = [
    ("secret.yaml", SECRET_YAML),
    ("app.yaml", APP_YAML),
    ("app.json", APP_JSON),
    ("app.env", APP_ENV),
    ("app.ini", APP_INI),
];

/// The shared [`Env`] with both pinned sops versions, no default key, and the recipients of the
/// vectors' keys `gen_age_a`, `gen_age_b`, `gen_age_c`.
struct RekeyEnv {
    env: Env,
    a: String,
    b: String,
    c: String,
}

impl std::ops::Deref for RekeyEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

fn setup() -> Option<RekeyEnv> {
    let env = Env::new().with_all_sops()?;
    Some(RekeyEnv {
        a: env.recipient_of("gen_age_a"),
        b: env.recipient_of("gen_age_b"),
        c: env.recipient_of("gen_age_c"),
        env,
    })
}

impl RekeyEnv {
    /// A runner in the test dir with the vectors' age key file `key` (`None`: no key at all).
    fn with_key(&self, bin: &Path, key: Option<&str>) -> Sops {
        let s = self.runner(bin);
        match key {
            Some(k) => s.age_key_file(self.keys_dir().join(k)),
            None => s,
        }
    }
    /// Our `kubectl-sops` with [`RekeyEnv::with_key`].
    fn ours(&self, key: Option<&str>) -> Sops {
        self.with_key(&self.ours_bin(), key)
    }
    /// `.sops.yaml` with one rule per (path_regex, age recipients, extra rule fields).
    fn config(&self, rules: &[(&str, Vec<&str>, &str)]) {
        let mut s = String::from("creation_rules:\n");
        for (re, age, extra) in rules {
            s.push_str(&format!("  - path_regex: '{re}'\n"));
            if !age.is_empty() {
                s.push_str(&format!("    age: {}\n", age.join(",")));
            }
            if !extra.is_empty() {
                s.push_str(&format!("    {extra}\n"));
            }
        }
        self.write(".sops.yaml", &s);
    }
    /// Decrypts `name` with real sops and key `key`; `Ok(plaintext)` or `Err((code, stderr))`.
    fn sops_decrypt(&self, sops: &Path, name: &str, key: &str) -> Result<String, (i32, String)> {
        let (code, out, err) = self.with_key(sops, Some(key)).run(["decrypt", name]);
        if code == 0 {
            Ok(String::from_utf8(out).unwrap())
        } else {
            Err((code, err))
        }
    }
}

/// The lines a rekey must not change: every line holding a value ciphertext or the MAC, and
/// `lastmodified`. For YAML also the whole document part before `sops:`.
/// The `mac` and `lastmodified` lines are compared as a set: sops 3.11 writes the INI metadata
/// section in random order, and a rewrite emits it sorted like sops 3.13.
fn value_lines(text: &str) -> Vec<String> {
    let is_meta = |l: &str| {
        let key = l
            .trim_start()
            .trim_start_matches('"')
            .trim_start_matches("sops_");
        key.starts_with("lastmodified") || (key.starts_with("mac") && l.contains("ENC[AES256_GCM,"))
    };
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| l.contains("ENC[AES256_GCM,") && !is_meta(l))
        .map(str::to_string)
        .collect();
    let mut meta: Vec<String> = text
        .lines()
        .filter(|l| is_meta(l))
        .map(str::to_string)
        .collect();
    meta.sort();
    assert_eq!(meta.len(), 2, "no mac/lastmodified in {text}");
    out.extend(meta);
    if let Some(i) = text.find("\nsops:\n") {
        out.push(text[..i].to_string());
    }
    out
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

/// Our own sealed files: a recipient added in .sops.yaml is added by rekey without touching any value
/// line; the new recipient decrypts with both real sops versions; a removed one no longer can.
#[test]
fn rekey_adds_and_removes_recipients_without_touching_values() {
    let Some(env) = setup() else { return };
    let files = ALL_FORMATS;
    env.config(&[(".*", vec![&env.a], "")]);
    for (name, text) in files {
        env.write(name, text);
        env.ours(Some("gen_age_a.txt")).ok(["seal", "-i", name]);
    }
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();

    // nothing to do yet: every file is left alone, not even rewritten
    let before: Vec<_> = names.iter().map(|n| env.read(n)).collect();
    let times: Vec<_> = names.iter().map(|n| mtime(&env.path(n))).collect();
    std::thread::sleep(Duration::from_millis(20));
    let mut args = vec!["rekey", "-y"];
    args.extend(&names);
    let out = String::from_utf8(env.ours(None).ok(&args)).unwrap();
    for n in &names {
        assert!(out.contains(&format!("{n}: already up to date")), "{out}");
        assert_eq!(
            mtime(&env.path(n)),
            times[names.iter().position(|x| x == n).unwrap()]
        );
    }

    // add B: only key entries change
    env.config(&[(".*", vec![&env.a, &env.b], "")]);
    let out = String::from_utf8(env.ours(Some("gen_age_a.txt")).ok(&args)).unwrap();
    for (i, n) in names.iter().enumerate() {
        assert!(out.contains(&format!("{n}: updated (+{})", env.b)), "{out}");
        let after = env.read(n);
        assert_ne!(after, before[i]);
        assert_eq!(
            value_lines(&after),
            value_lines(&before[i]),
            "{n}: value lines changed"
        );
        assert!(after.contains(&env.a) && after.contains(&env.b));
        for (sops_name, sops) in env.sops_peers() {
            let plain = env
                .sops_decrypt(sops, n, "gen_age_b.txt")
                .unwrap_or_else(|e| panic!("{sops_name} cannot decrypt rekeyed {n} with B: {e:?}"));
            assert_eq!(plain, files[i].1, "{sops_name}: {n}");
        }
    }

    // remove A (needs no key at all: entries are only dropped)
    env.config(&[(".*", vec![&env.b], "")]);
    let out = String::from_utf8(env.ours(None).ok(&args)).unwrap();
    for (i, n) in names.iter().enumerate() {
        assert!(out.contains(&format!("{n}: updated (-{})", env.a)), "{out}");
        let after = env.read(n);
        assert!(!after.contains(&env.a));
        assert_eq!(value_lines(&after), value_lines(&before[i]));
        for (sops_name, sops) in env.sops_peers() {
            let (code, _) = env
                .sops_decrypt(sops, n, "gen_age_a.txt")
                .expect_err("removed recipient must not decrypt");
            assert_eq!(code, 128, "{sops_name}: {n}");
            assert_eq!(
                env.sops_decrypt(sops, n, "gen_age_b.txt").unwrap(),
                files[i].1
            );
        }
    }

    // flags on top of the rule; the alias `updatekeys`; a file without any key fails with 128
    let out = String::from_utf8(env.ours(Some("gen_age_b.txt")).ok([
        "updatekeys",
        "-y",
        "--add-age",
        &env.c,
        "secret.yaml",
    ]))
    .unwrap();
    assert!(out.contains(&format!("+{}", env.c)), "{out}");
    assert_eq!(
        env.sops_decrypt(&env.sops_peers()[0].1, "secret.yaml", "gen_age_c.txt")
            .unwrap(),
        SECRET_YAML
    );
    env.config(&[(".*", vec![&env.a], "")]);
    let (code, _, err) = env.ours(None).run(["rekey", "-y", "app.yaml"]);
    assert_eq!(code, 128, "{err}");
    assert!(err.starts_with("kubectl-sops: app.yaml: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Files written by real sops (both versions, every text format) rekey with every value line intact
/// and still decrypt with real sops, for the new recipient too.
#[test]
fn rekey_files_written_by_real_sops() {
    let Some(env) = setup() else { return };
    let files = ALL_FORMATS;
    env.config(&[(".*", vec![&env.a], "")]);
    for (sops_name, sops) in env.sops_peers() {
        let tag = sops_name.replace(' ', "-");
        let mut names = Vec::new();
        for (name, text) in files {
            let n = format!("{tag}-{name}");
            env.write(&n, text);
            env.with_key(sops, Some("gen_age_a.txt"))
                .ok(["encrypt", "-i", &n]);
            names.push(n);
        }
        let before: Vec<_> = names.iter().map(|n| env.read(n)).collect();
        env.config(&[(".*", vec![&env.a, &env.b], "")]);
        let mut args = vec!["rekey".to_string(), "-y".into()];
        args.extend(names.iter().cloned());
        env.ours(Some("gen_age_a.txt")).ok(&args);
        for (i, n) in names.iter().enumerate() {
            let after = env.read(n);
            assert_eq!(
                value_lines(&after),
                value_lines(&before[i]),
                "{n} ({sops_name}): value lines changed"
            );
            for (other_name, other) in env.sops_peers() {
                assert_eq!(
                    env.sops_decrypt(other, n, "gen_age_b.txt")
                        .unwrap_or_else(|e| panic!("{other_name} on {n}: {e:?}")),
                    files[i].1,
                    "{other_name} on {n}"
                );
            }
        }
        env.config(&[(".*", vec![&env.a], "")]);
    }
}

/// `--rotate`: a new data key; every value's data and tag change, its IV stays (like sops rotate);
/// real sops decrypts the result.
#[test]
fn rotate_replaces_every_ciphertext() {
    let Some(env) = setup() else { return };
    env.config(&[(".*", vec![&env.a], "")]);
    env.write("app.yaml", APP_YAML);
    env.ours(Some("gen_age_a.txt"))
        .ok(["seal", "-i", "app.yaml"]);
    let before = env.read("app.yaml");
    let out = String::from_utf8(
        env.ours(Some("gen_age_a.txt"))
            .ok(["rekey", "--rotate", "-y", "app.yaml"]),
    )
    .unwrap();
    assert_eq!(out.trim(), "app.yaml: rotated");
    let after = env.read("app.yaml");
    let encs = |t: &str| -> Vec<(String, String, String)> {
        t.lines()
            .filter_map(|l| l.split_once("ENC[AES256_GCM,data:"))
            .map(|(_, rest)| {
                let part = |k: &str| {
                    rest.split(k)
                        .nth(1)
                        .and_then(|r| r.split(',').next())
                        .unwrap_or("")
                        .to_string()
                };
                (
                    rest.split(',').next().unwrap().to_string(),
                    part("iv:"),
                    part("tag:"),
                )
            })
            .collect()
    };
    let (old, new) = (encs(&before), encs(&after));
    assert_eq!(old.len(), new.len());
    assert!(old.len() > 8, "{before}");
    // the last ENC line is the MAC: a fresh IV there
    for (o, n) in old.iter().zip(&new).take(old.len() - 1) {
        assert_ne!(o.0, n.0, "data unchanged");
        assert_ne!(o.2, n.2, "tag unchanged");
        assert_eq!(o.1, n.1, "IV not reused");
    }
    assert_ne!(old.last(), new.last(), "MAC unchanged");
    for (sops_name, sops) in env.sops_peers() {
        assert_eq!(
            env.sops_decrypt(sops, "app.yaml", "gen_age_a.txt")
                .unwrap_or_else(|e| panic!("{sops_name}: {e:?}")),
            APP_YAML
        );
    }
    // rotate with a recipient change; the removed key cannot decrypt any more
    let out = String::from_utf8(env.ours(Some("gen_age_a.txt")).ok([
        "rekey",
        "-r",
        "--add-age",
        &env.b,
        "--rm-age",
        &env.a,
        "app.yaml",
    ]))
    .unwrap();
    assert!(out.contains("app.yaml: rotated (+"), "{out}");
    assert!(env
        .sops_decrypt(&env.sops_peers()[0].1, "app.yaml", "gen_age_a.txt")
        .is_err());
    assert_eq!(
        env.sops_decrypt(&env.sops_peers()[1].1, "app.yaml", "gen_age_b.txt")
            .unwrap(),
        APP_YAML
    );
}

/// 1000 files in one run: all updated, every value line untouched, a sample decrypts with real sops;
/// a second run leaves all of them alone.
#[test]
fn rekey_a_thousand_files() {
    use sops_engine::file::{seal_to_bytes, SealSpec};
    use sops_engine::keys::{KeyRing, Recipient};
    use sops_engine::stores::yaml::YamlStore;
    use sops_engine::stores::Store;

    let Some(env) = setup() else { return };
    const N: usize = 1000;
    let store = YamlStore { indent: 4 };
    let spec = SealSpec {
        groups: vec![vec![Recipient::Age(env.a.clone())]],
        ..Default::default()
    };
    let keys = KeyRing::default();
    std::fs::create_dir_all(env.path("many")).unwrap();
    let mut names = Vec::with_capacity(N);
    let mut plains = Vec::with_capacity(N);
    let mut befores = Vec::with_capacity(N);
    for i in 0..N {
        let plain = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n    name: s{i}\ndata:\n    password: {}\n    index: \"{i}\"\n",
            format!("secret-{i}").repeat(3)
        );
        let docs = store.load_plain(plain.as_bytes()).unwrap();
        let bytes = seal_to_bytes(docs, &spec, &keys, None, &store).unwrap();
        let name = format!("many/s{i:04}.yaml");
        std::fs::write(env.path(&name), &bytes).unwrap();
        befores.push(String::from_utf8(bytes).unwrap());
        names.push(name);
        plains.push(plain);
    }
    env.config(&[("^many/", vec![&env.a, &env.b], "")]);
    let mut args = vec!["rekey".to_string(), "-y".into()];
    args.extend(names.iter().cloned());
    let t = Instant::now();
    let out = String::from_utf8(env.ours(Some("gen_age_a.txt")).ok(&args)).unwrap();
    let took = t.elapsed();
    eprintln!("rekey of {N} files took {took:?}");
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with(&format!(": updated (+{})", env.b)))
            .count(),
        N,
        "{out}"
    );
    for (i, n) in names.iter().enumerate() {
        let after = env.read(n);
        assert!(after.contains(&env.b), "{n} not rekeyed");
        assert_eq!(value_lines(&after), value_lines(&befores[i]), "{n}");
    }
    for i in [0, 1, 499, 998, 999] {
        let sops = &env.sops_peers()[i % 2].1;
        assert_eq!(
            env.sops_decrypt(sops, &names[i], "gen_age_b.txt").unwrap(),
            plains[i]
        );
    }
    let out = String::from_utf8(env.ours(None).ok(&args)).unwrap();
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with(": already up to date"))
            .count(),
        N
    );
    // speed is measured by scripts/bench-rekey.sh, not asserted here
}

/// `check`: good files pass with exit 0; each problem gives one `FILE: reason` line and exit 1.
#[test]
fn check_reports_each_problem() {
    let Some(env) = setup() else { return };
    env.config(&[
        ("^enc/", vec![&env.a], ""),
        ("^partial/", vec![&env.a], "encrypted_regex: ^stringData$"),
    ]);
    let secret = |name: &str| SECRET_YAML.replace("name: db", &format!("name: {name}"));
    // good: an encrypted Secret under enc/, a plain ConfigMap no rule covers, .sops.yaml itself
    env.write("enc/good.yaml", &secret("good"));
    env.ours(None).ok(["seal", "-i", "enc/good.yaml"]);
    env.write(
        "plain/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\ndata:\n    a: b\n",
    );
    env.write("plain/template.yaml", "{{ if .Values.x }}\nkey: [\n");
    let good = [
        "enc/good.yaml",
        "plain/config.yaml",
        "plain/template.yaml",
        ".sops.yaml",
    ];
    let (code, out, err) = env
        .ours(Some("gen_age_a.txt"))
        .run(std::iter::once("check").chain(good.iter().copied()));
    assert_eq!(code, 0, "{out:?} {err}");
    assert!(out.is_empty());

    // bad cases, one file each
    env.write("enc/plain.yaml", "user: alice\n");
    env.write("plain/secret.yaml", &secret("leak"));
    env.write("partial/s.yaml", &secret("partial"));
    env.ours(None).ok(["seal", "-i", "partial/s.yaml"]);
    env.write("enc/tampered.yaml", &secret("tampered"));
    env.ours(None).ok(["seal", "-i", "enc/tampered.yaml"]);
    let t = env
        .read("enc/tampered.yaml")
        .replace("namespace: prod", "namespace: evil");
    env.write("enc/tampered.yaml", &t);
    env.write("enc/drift.yaml", &secret("drift"));
    env.ours(None)
        .ok(["seal", "--age", &env.b, "-i", "enc/drift.yaml"]);
    let cases = [
        ("enc/plain.yaml", "not encrypted: the .sops.yaml creation rule with path_regex \"^enc/\" matches it"),
        ("plain/secret.yaml", "not encrypted: Kubernetes Secret with plaintext values at data:password, data:user, stringData:dsn"),
        ("partial/s.yaml", "Kubernetes Secret with plaintext values at data:password, data:user (the file is encrypted"),
        ("enc/tampered.yaml", "MAC mismatch"),
        ("enc/drift.yaml", "recipients differ from .sops.yaml"),
    ];
    for (file, want) in cases {
        let (code, out, err) = env.ours(Some("gen_age_a.txt")).run(["check", file]);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(code, 1, "{file}: {out} {err}");
        assert_eq!(out.lines().count(), 1, "{file}: {out}");
        assert!(out.starts_with(&format!("{file}: {want}")), "{file}: {out}");
    }
    let (_, out, _) = env
        .ours(Some("gen_age_a.txt"))
        .run(["check", "enc/drift.yaml"]);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(&format!("missing {}", env.a)) && out.contains(&format!("extra {}", env.b)),
        "{out}"
    );

    // all together: one line per problem, good files silent
    let all: Vec<&str> = good
        .iter()
        .chain(cases.iter().map(|c| &c.0))
        .copied()
        .collect();
    let (code, out, err) = env
        .ours(Some("gen_age_a.txt"))
        .run(std::iter::once("check").chain(all.iter().copied()));
    assert_eq!(code, 1);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), cases.len());
    assert!(err.contains("5 problem(s) in 5 of 9 file(s)"), "{err}");

    // no key: the MAC is not verified (a note), unless --require-keys
    let (code, _, err) = env.ours(None).run(["check", "enc/good.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("enc/good.yaml: note: MAC not verified (no key)"),
        "{err}"
    );
    let (code, out, _) = env
        .ours(None)
        .run(["check", "--require-keys", "enc/good.yaml"]);
    assert_eq!(code, 1);
    assert!(String::from_utf8(out)
        .unwrap()
        .starts_with("enc/good.yaml: MAC not verified"));

    // after rekey, drift is gone
    env.ours(Some("gen_age_b.txt"))
        .ok(["rekey", "-y", "enc/drift.yaml"]);
    env.ours(Some("gen_age_a.txt"))
        .ok(["check", "enc/drift.yaml"]);
}

/// `check --all` walks the git-tracked files (real git); files encrypted by real sops pass.
#[test]
fn check_all_walks_git_tracked_files() {
    let Some(env) = setup() else { return };
    let Some(git) = need(&["git"]) else { return };
    let git = Sops::new(&git[0], env.dir())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com");
    git.ok(["init", "-q", "."]);
    env.config(&[("^secrets/", vec![&env.a], "")]);
    env.write("secrets/db.yaml", SECRET_YAML);
    env.with_key(&env.sops_peers()[0].1, Some("gen_age_a.txt"))
        .ok(["encrypt", "-i", "secrets/db.yaml"]);
    env.write("app/config.json", APP_JSON);
    env.write("untracked/leak.yaml", SECRET_YAML);
    // untracked files are checked unless git ignores them (see tests/messages.rs)
    env.write(".gitignore", "untracked/\n");
    git.ok(["add", ".sops.yaml", "secrets", "app"]);
    env.ours(Some("gen_age_a.txt")).ok(["check", "--all"]);
    // a tracked plaintext Secret fails --all; the ignored one is not looked at
    env.write("app/leak.yaml", SECRET_YAML);
    git.ok(["add", "app/leak.yaml"]);
    let (code, out, _) = env.ours(Some("gen_age_a.txt")).run(["check", "--all"]);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1);
    assert!(out.starts_with("app/leak.yaml: not encrypted"), "{out}");
    assert!(!out.contains("untracked"), "{out}");
}

/// The pre-commit manifest names the hook and runs `kubectl-sops check` on YAML/JSON/dotenv/INI.
#[test]
fn pre_commit_manifest() {
    let text = std::fs::read_to_string(e2e_tests::workspace_root().join(".pre-commit-hooks.yaml"))
        .unwrap();
    for want in [
        "- id: kubectl-sops-check",
        "entry: kubectl-sops check",
        "language: system",
        r"files: \.(ya?ml|json|env|ini)$",
    ] {
        assert!(text.contains(want), "missing {want:?}");
    }
}

/// Key groups: rekey splits the data key again for new groups (like sops updatekeys), keeps the file's
/// threshold unless `--shamir-secret-sharing-threshold` says otherwise, and real sops recombines it.
#[test]
fn rekey_key_groups_with_shamir() {
    let Some(env) = setup() else { return };
    let key_of = |n: &str| std::fs::read_to_string(env.keys_dir().join(n)).unwrap();
    let keys = |names: &[&str]| {
        names
            .iter()
            .map(|n| key_of(n))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let groups = |gs: &[&[&str]], extra: &str| {
        let mut s = String::from("creation_rules:\n  - key_groups:\n");
        for g in gs {
            s.push_str(&format!("      - age: [{}]\n", g.join(", ")));
        }
        s.push_str(extra);
        env.write(".sops.yaml", &s);
    };
    groups(&[&[&env.a], &[&env.b]], "");
    env.write("app.yaml", APP_YAML);
    env.ours(None).ok(["seal", "-i", "app.yaml"]);
    let before = env.read("app.yaml");
    assert!(before.contains("shamir_threshold: 2"), "{before}");
    let ab = keys(&["gen_age_a.txt", "gen_age_b.txt"]);
    let decrypt = |sops: &Path, key: &str| {
        let (code, out, err) = Sops::new(sops, env.dir())
            .env("SOPS_AGE_KEY", key)
            .run(["decrypt", "app.yaml"]);
        (code == 0 && out == APP_YAML.as_bytes(), err)
    };

    // a third group: the file's threshold (2) stays; any two groups decrypt
    groups(
        &[&[&env.a], &[&env.b], &[&env.c]],
        "    shamir_threshold: 3\n",
    );
    let out = String::from_utf8(
        env.ours(None)
            .env("SOPS_AGE_KEY", &ab)
            .ok(["rekey", "-y", "app.yaml"]),
    )
    .unwrap();
    assert_eq!(out.trim(), format!("app.yaml: updated (+{})", env.c));
    let after = env.read("app.yaml");
    assert_eq!(value_lines(&after), value_lines(&before));
    assert!(after.contains("shamir_threshold: 2"), "{after}");
    for (sops_name, sops) in env.sops_peers() {
        let (ok, err) = decrypt(sops, &keys(&["gen_age_a.txt", "gen_age_c.txt"]));
        assert!(ok, "{sops_name}: {err}");
        let (ok, _) = decrypt(sops, &key_of("gen_age_c.txt"));
        assert!(!ok, "{sops_name}: one group of three must not be enough");
    }

    // threshold 3 by flag: two groups are no longer enough, all three are
    let out = String::from_utf8(env.ours(None).env("SOPS_AGE_KEY", &ab).ok([
        "rekey",
        "-y",
        "--shamir-secret-sharing-threshold",
        "3",
        "app.yaml",
    ]))
    .unwrap();
    assert_eq!(out.trim(), "app.yaml: updated (shamir_threshold 2→3)");
    assert!(!decrypt(&env.sops_peers()[0].1, &ab).0);
    let (ok, err) = decrypt(
        &env.sops_peers()[0].1,
        &keys(&["gen_age_a.txt", "gen_age_b.txt", "gen_age_c.txt"]),
    );
    assert!(ok, "{err}");

    // back to one group: every entry rewrapped with the whole data key, no threshold
    groups(&[&[&env.a, &env.b]], "");
    env.ours(None)
        .env(
            "SOPS_AGE_KEY",
            keys(&["gen_age_a.txt", "gen_age_b.txt", "gen_age_c.txt"]),
        )
        .ok(["rekey", "-y", "app.yaml"]);
    let after = env.read("app.yaml");
    assert!(!after.contains("key_groups") && !after.contains("shamir_threshold"));
    assert_eq!(value_lines(&after), value_lines(&before));
    for (sops_name, sops) in env.sops_peers() {
        let (ok, err) = decrypt(sops, &key_of("gen_age_b.txt"));
        assert!(ok, "{sops_name}: {err}");
    }
}

/// PGP recipients by flag (no .sops.yaml: the file's own groups are the start): the added
/// fingerprint decrypts with real sops through gpg; after `--rm-pgp` it no longer does.
#[test]
fn rekey_add_and_remove_pgp() {
    let Some(env) = setup() else { return };
    let Some(_) = need(&["gpg"]) else { return };
    const FP: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
    let gnupg =
        e2e_tests::GnupgHome::new(&[env.keys_dir().join("sops_functional_tests_key.asc")]).unwrap();
    env.write("app.json", APP_JSON);
    env.ours(None)
        .ok(["seal", "--age", &env.a, "-i", "app.json"]);
    let before = env.read("app.json");
    let out = String::from_utf8(env.ours(Some("gen_age_a.txt")).gnupghome(gnupg.path()).ok([
        "rekey",
        "--add-pgp",
        FP,
        "app.json",
    ]))
    .unwrap();
    // no terminal and no -y: the key group change is printed before the summary line
    assert!(out.contains(&format!("\n+++ {FP}\n")), "{out}");
    assert!(
        out.trim_end()
            .ends_with(&format!("app.json: updated (+{FP})")),
        "{out}"
    );
    assert_eq!(value_lines(&env.read("app.json")), value_lines(&before));
    let pgp_only = |sops: &Path| {
        Sops::new(sops, env.dir())
            .gnupghome(gnupg.path())
            .run(["decrypt", "app.json"])
    };
    for (sops_name, sops) in env.sops_peers() {
        let (code, out, err) = pgp_only(sops);
        assert_eq!(code, 0, "{sops_name}: {err}");
        assert_eq!(String::from_utf8(out).unwrap(), APP_JSON);
    }
    env.ours(None).ok(["rekey", "--rm-pgp", FP, "app.json"]);
    assert_eq!(pgp_only(&env.sops_peers()[0].1).0, 128);
    // removing the last key is refused, and the file is left alone
    let kept = env.read("app.json");
    let (code, _, err) = env
        .ours(None)
        .run(["rekey", "--rm-age", &env.a, "app.json"]);
    assert_ne!(code, 0);
    assert!(err.contains("no keys left"), "{err}");
    assert_eq!(env.read("app.json"), kept);
}
