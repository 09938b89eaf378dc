//! Encrypted files that are damaged, against real sops 3.13.2: `check` fails files that look
//! encrypted and no longer open; metadata sops refuses (duplicated flattened keys, versions that are
//! not versions) is refused with sops' message and exit code, and `rekey` never writes a file sops
//! cannot open; an encrypted file that no longer parses exits like sops for every command.

use e2e_tests::Env;

fn setup() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

/// `plain` written to `name`, then encrypted by real sops for the default key: the encrypted bytes.
fn sops_encrypted(env: &Env, name: &str, plain: &[u8]) -> Vec<u8> {
    env.write(name, plain);
    env.sops().ok(["encrypt", "--age", env.recipient(), name])
}

/// `check --require-keys` fails every file that looks encrypted and does not open (git
/// merge-conflict markers, a broken quote in `mac:`), with one line each, when no `.sops.yaml`
/// rule covers it and whether or not a key is at hand; real sops cannot open them either.
#[test]
fn check_fails_encrypted_files_that_do_not_open() {
    let Some(env) = setup() else { return };
    let inputs: [(&str, &[u8]); 4] = [
        ("s.yaml", b"user: alice\npassword: hunter2\n"),
        (
            "s.json",
            b"{\"user\": \"alice\", \"password\": \"hunter2\"}\n",
        ),
        ("s.env", b"USER=alice\nPASSWORD=hunter2\n"),
        ("s.ini", b"[db]\nuser = alice\npassword = hunter2\n"),
    ];
    let mut broken = Vec::new();
    for (name, text) in inputs {
        let enc = sops_encrypted(&env, name, text);
        let ext = name.rsplit('.').next().unwrap();
        // a merge conflict around the first value line
        let lines: Vec<&[u8]> = enc.split(|b| *b == b'\n').collect();
        let mut conflicted = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if i == 1 {
                conflicted.extend_from_slice(b"<<<<<<< HEAD\n");
                conflicted.extend_from_slice(l);
                conflicted.extend_from_slice(b"\n=======\n");
                conflicted.extend_from_slice(l);
                conflicted.extend_from_slice(b"\n>>>>>>> branch\n");
            } else {
                conflicted.extend_from_slice(l);
                conflicted.push(b'\n');
            }
        }
        let f = format!("conflict.enc.{ext}");
        env.write(&f, &conflicted);
        broken.push(f);
        if ext == "yaml" || ext == "json" {
            let text = String::from_utf8(enc.clone()).unwrap();
            let quoted = if ext == "yaml" {
                text.replace("    mac: ENC[", "    mac: \"ENC[")
            } else {
                text.replace("\"mac\": \"ENC[", "\"mac\": ENC[")
            };
            assert_ne!(quoted, text);
            let f = format!("quote.enc.{ext}");
            env.write(&f, quoted.as_bytes());
            broken.push(f);
        }
        env.write(&format!("good.enc.{ext}"), &enc);
    }
    for f in &broken {
        let (code, _, _) = env.sops().run(["decrypt", f.as_str()]);
        assert_ne!(code, 0, "real sops opens {f}");
    }
    for with_key in [true, false] {
        let runner = if with_key {
            env.ours()
        } else {
            env.ours().env_remove("SOPS_AGE_KEY_FILE")
        };
        let mut args = vec!["check", "--require-keys"];
        args.extend(broken.iter().map(String::as_str));
        let (code, out, err) = runner.run(&args);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(code, 1, "{out} {err}");
        assert_eq!(out.lines().count(), broken.len(), "{out}");
        for f in &broken {
            assert!(
                out.lines()
                    .any(|l| l.starts_with(&format!("{f}: looks encrypted"))),
                "{f} not reported: {out}"
            );
        }
        assert!(!out.contains("hunter2") && !err.contains("hunter2"));
    }
    // the intact files pass
    let (code, out, err) = env.ours().run([
        "check",
        "--require-keys",
        "good.enc.yaml",
        "good.enc.json",
        "good.enc.env",
        "good.enc.ini",
    ]);
    assert_eq!(code, 0, "{} {err}", String::from_utf8_lossy(&out));
}

/// Duplicated flattened metadata keys in dotenv and INI files, and a `version` sops
/// cannot parse, are refused with sops' message and exit code; `rekey` never writes a file sops
/// cannot open.
#[test]
fn metadata_sops_refuses_is_refused() {
    let Some(env) = setup() else { return };
    let b = env.recipient_of("gen_age_b");
    let denv = sops_encrypted(&env, "d.env", b"A=1\nB=2\n");
    let dini = sops_encrypted(&env, "d.ini", b"[s]\na = 1\n");
    let dup_version = [&denv[..], b"sops_version=3.13.2\n"].concat();
    let lm = denv
        .split(|b| *b == b'\n')
        .find(|l| l.starts_with(b"sops_lastmodified="))
        .unwrap()
        .to_vec();
    let dup_lastmodified = [&denv[..], &lm, b"\n"].concat();
    let dup_section = [&dini[..], b"\n[sops]\nversion = 3.13.2\n"].concat();
    for (name, bytes, msg) in [
        (
            "dup-version.enc.env",
            dup_version,
            "Error while unflattening \"version\": Duplicate value",
        ),
        (
            "dup-lm.enc.env",
            dup_lastmodified,
            "Error while unflattening \"lastmodified\": Duplicate value",
        ),
        (
            "dup-section.enc.ini",
            dup_section,
            "Found duplicate sops entry",
        ),
    ] {
        env.write(name, &bytes);
        let (sc, _, serr) = env.sops().run(["decrypt", name]);
        let (oc, out, oerr) = env.ours().run(["unseal", name]);
        assert!(serr.contains(msg), "sops: {serr}");
        assert_eq!(oc, sc, "{name}: {oerr}");
        assert!(out.is_empty());
        assert!(oerr.contains(msg) && oerr.contains(name), "{name}: {oerr}");
        assert_eq!(oerr.trim().lines().count(), 1, "{oerr}");
    }

    let base = String::from_utf8(sops_encrypted(&env, "v.yaml", b"a: 1\nb: two\n")).unwrap();
    for version in [
        "abc",
        "\"\"",
        "3",
        "3.7",
        "v3.7.1",
        "3.13.2-rc1",
        "1.0",
        "999.0.0",
        "3.x.1",
        "\"3.7.1 \"",
        "1.2.3.4",
        "0.0.0",
        "-1.0.0",
        "3.7.1+meta",
        "3.1.1a",
        "03.1.1",
        "3.1.1-",
        "3.1.1+",
        "v",
        "99999999999999999999.0.0",
    ] {
        let text = base
            .lines()
            .map(|l| {
                if l.starts_with("    version: ") {
                    format!("    version: {version}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        env.write("w.enc.yaml", text.as_bytes());
        let (sc, sout, serr) = env.sops().run(["decrypt", "w.enc.yaml"]);
        let (oc, oout, oerr) = env.ours().run(["unseal", "w.enc.yaml"]);
        assert_eq!(oc, sc, "version {version}: sops {serr} / ours {oerr}");
        assert_eq!(oout, sout, "version {version}");
        if sc != 0 {
            // sops' words without the part of the file they quote: our errors never echo file
            // content (`… in minor number "x"` → `… in minor number`)
            let why = serr.trim().lines().last().unwrap();
            let pieces: Vec<&str> = why.split('"').collect();
            let words: String = pieces.iter().step_by(2).copied().collect();
            let words = words.trim_end().replace("parsing : ", "");
            assert!(
                oerr.contains(&words),
                "version {version}: sops {why:?}, ours {oerr}"
            );
            for quoted in pieces.iter().skip(1).step_by(2) {
                assert!(
                    !oerr.contains(&format!("\"{quoted}\"")),
                    "version {version}: {oerr}"
                );
            }
            // rekey refuses too and leaves the file alone
            let (rc, _, rerr) = env
                .ours()
                .run(["rekey", "-y", "--add-age", &b, "w.enc.yaml"]);
            assert_ne!(rc, 0, "rekey took version {version}: {rerr}");
            assert_eq!(env.read_bytes("w.enc.yaml"), text.as_bytes());
        } else {
            env.ours()
                .ok(["rekey", "-y", "--add-age", &b, "w.enc.yaml"]);
            assert_eq!(
                env.sops().ok(["decrypt", "w.enc.yaml"]),
                sout,
                "after rekey"
            );
        }
    }
}

/// An encrypted file that no longer parses fails with sops' exit code (1, where a plaintext input
/// that does not parse gives 2) for every command that opens it.
#[test]
fn unparseable_encrypted_files_exit_like_sops() {
    let Some(env) = setup() else { return };
    let b = env.recipient_of("gen_age_b");
    let enc = sops_encrypted(&env, "p.yaml", b"a: 1\n");
    env.write(
        "c.enc.yaml",
        &[b"<<<<<<< HEAD\n", &enc[..], b">>>>>>> x\n"].concat(),
    );
    for (sops_args, our_args) in [
        (vec!["decrypt"], vec!["unseal"]),
        (vec!["set"], vec!["set"]),
        (vec!["rotate", "-i"], vec!["rekey", "--rotate", "-y"]),
        (
            vec!["updatekeys", "-y"],
            vec!["rekey", "-y", "--add-age", b.as_str()],
        ),
    ] {
        let tail: &[&str] = if sops_args[0] == "set" {
            &["[\"a\"]", "2"]
        } else {
            &[]
        };
        let mut s = sops_args.clone();
        s.push("c.enc.yaml");
        s.extend(tail);
        let mut o = our_args.clone();
        o.push("c.enc.yaml");
        o.extend(tail);
        let (sc, _, serr) = env.sops().run(&s);
        let (oc, _, oerr) = env.ours().run(&o);
        assert_eq!(sc, 1, "sops {s:?}: {serr}");
        assert_eq!(oc, sc, "ours {o:?}: {oerr}");
        assert!(oerr.contains("c.enc.yaml: error parsing YAML"), "{oerr}");
    }
    // plaintext that does not parse: 2 for both
    env.write("bad.yaml", b"a: [\n");
    let (sc, _, _) = env
        .sops()
        .run(["encrypt", "--age", env.recipient(), "bad.yaml"]);
    let (oc, _, _) = env
        .ours()
        .run(["seal", "--age", env.recipient(), "bad.yaml"]);
    assert_eq!((sc, oc), (2, 2));
}
