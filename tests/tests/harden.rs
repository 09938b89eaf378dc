//! Hardening (issue 10) against real sops 3.13.2: bytes that are not UTF-8 in INI and dotenv files
//! survive sealing and unsealing exactly as sops keeps them; `check` fails encrypted files that no
//! longer open; metadata sops refuses (duplicated flattened keys, versions that are not versions) is
//! refused with sops' message and exit code; and `kill -9` at random moments during `seal -i`,
//! `set` and `rekey --rotate` always leaves the complete old or the complete new file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use e2e_tests::{age_recipient, need, vectors_dir_checked, workspace_bin, Sops};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    sops: PathBuf,
    ours: PathBuf,
    key: PathBuf,
    a: String,
    b: String,
}

fn setup() -> Option<Env> {
    let peers = need(&["sops"])?;
    let keys = vectors_dir_checked().join("keys");
    let tmp = tempfile::tempdir().unwrap();
    Some(Env {
        dir: tmp.path().to_path_buf(),
        _tmp: tmp,
        sops: peers[0].clone(),
        ours: workspace_bin("kubectl-sops"),
        key: keys.join("gen_age_a.txt"),
        a: age_recipient(&keys.join("gen_age_a.txt")),
        b: age_recipient(&keys.join("gen_age_b.txt")),
    })
}

impl Env {
    fn sops(&self) -> Sops {
        Sops::new(&self.sops, &self.dir).age_key_file(&self.key)
    }
    fn ours(&self) -> Sops {
        Sops::new(&self.ours, &self.dir).age_key_file(&self.key)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap();
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

/// Every `ENC[...]` replaced by `ENC`, and the metadata lines dropped: the layout of a file.
fn layout(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        if line.starts_with(b"[sops]") || line.starts_with(b"sops_") {
            break;
        }
        let mut rest = line;
        while let Some(i) = rest.windows(4).position(|w| w == b"ENC[") {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(b"ENC");
            let end = rest[i..].iter().position(|b| *b == b']').unwrap();
            rest = &rest[i + end + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'\n');
    }
    out
}

const INI_BYTES: &[u8] = b"; c\xffomment at the top\n[sec\xfe]\nk\xfdey = va\xfcl\xe9ue\n# co\xffm2\nplain = x\n\n[ok]\n\xe9t\xe9 = caf\xe9\n";
const ENV_BYTES: &[u8] = b"#co\xffmment\nK\xfeEY=v\xfdal\nA=b\n# \xe9\xe9\nZ\xff=\xff\n";

/// Defect 2: INI keys, values, section names and comments and dotenv keys, values and comments
/// keep bytes that are not UTF-8 through `seal` and `unseal`, exactly as sops 3.13.2 does.
#[test]
fn non_utf8_ini_and_dotenv_bytes_survive_like_sops() {
    let Some(env) = setup() else { return };
    for (name, input, must_keep) in [
        (
            "b.ini",
            INI_BYTES,
            vec![
                &b"[sec\xfe]"[..],
                b"k\xfdey",
                b"va\xfcl\xe9ue",
                b"c\xffomment",
                b"co\xffm2",
                b"caf\xe9",
            ],
        ),
        (
            "b.env",
            ENV_BYTES,
            vec![
                &b"K\xfeEY=v\xfdal"[..],
                b"#co\xffmment",
                b"# \xe9\xe9",
                b"Z\xff=\xff",
            ],
        ),
    ] {
        env.write(name, input);
        let by_sops = env.sops().ok(["encrypt", "--age", &env.a, name]);
        let by_ours = env.ours().ok(["seal", "--age", &env.a, name]);
        let enc_sops = format!("sops.enc.{name}");
        let enc_ours = format!("ours.enc.{name}");
        env.write(&enc_sops, &by_sops);
        env.write(&enc_ours, &by_ours);
        // the same layout: key, section and comment bytes, alignment
        assert_eq!(
            String::from_utf8_lossy(&layout(&by_ours)),
            String::from_utf8_lossy(&layout(&by_sops)),
            "{name}: encrypted layout differs from sops"
        );
        let plain_sops = env.sops().ok(["decrypt", &enc_sops]);
        for (what, file) in [("sops", &enc_sops), ("ours", &enc_ours)] {
            let by_sops = env.sops().ok(["decrypt", file.as_str()]);
            let by_ours = env.ours().ok(["unseal", file.as_str()]);
            assert_eq!(
                by_sops, plain_sops,
                "{name}: sops decrypting the file by {what}"
            );
            assert_eq!(by_ours, plain_sops, "{name}: we decrypt the file by {what}");
        }
        for bytes in must_keep {
            assert!(
                plain_sops.windows(bytes.len()).any(|w| w == bytes),
                "{name}: {bytes:?} not kept"
            );
        }
        // and again: re-sealing the decrypted output gives the same bytes back
        env.write(&format!("again.{name}"), &plain_sops);
        let again = env
            .ours()
            .ok(["seal", "--age", &env.a, &format!("again.{name}")]);
        env.write(&format!("again.enc.{name}"), &again);
        assert_eq!(
            env.sops().ok(["decrypt", &format!("again.enc.{name}")]),
            plain_sops
        );
    }
}

/// Defect 3: `check --require-keys` fails every file that looks encrypted and does not open (git
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
        env.write(name, text);
        let enc = env.sops().ok(["encrypt", "--age", &env.a, name]);
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
            Sops::new(&env.ours, &env.dir)
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

/// Defect 5: duplicated flattened metadata keys in dotenv and INI files, and a `version` sops
/// cannot parse, are refused with sops' message and exit code; `rekey` never writes a file sops
/// cannot open.
#[test]
fn metadata_sops_refuses_is_refused() {
    let Some(env) = setup() else { return };
    env.write("d.env", b"A=1\nB=2\n");
    let denv = env.sops().ok(["encrypt", "--age", &env.a, "d.env"]);
    env.write("d.ini", b"[s]\na = 1\n");
    let dini = env.sops().ok(["encrypt", "--age", &env.a, "d.ini"]);
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

    env.write("v.yaml", b"a: 1\nb: two\n");
    let base = String::from_utf8(env.sops().ok(["encrypt", "--age", &env.a, "v.yaml"])).unwrap();
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
            let why = serr.trim().lines().last().unwrap();
            assert!(
                oerr.contains(why),
                "version {version}: sops {why:?}, ours {oerr}"
            );
            // rekey refuses too and leaves the file alone
            let (rc, _, rerr) = env
                .ours()
                .run(["rekey", "-y", "--add-age", &env.b, "w.enc.yaml"]);
            assert_ne!(rc, 0, "rekey took version {version}: {rerr}");
            assert_eq!(env.read("w.enc.yaml"), text.as_bytes());
        } else {
            env.ours()
                .ok(["rekey", "-y", "--add-age", &env.b, "w.enc.yaml"]);
            assert_eq!(
                env.sops().ok(["decrypt", "w.enc.yaml"]),
                sout,
                "after rekey"
            );
        }
    }
}

// ------------------------------------------------------------------------------------ kill -9

/// xorshift64*, seeded from the clock (printed, so a failure can be replayed with
/// `KSOPS_KILL_SEED`).
use e2e_tests::Rng;

fn gen_large(dir: &Path, leaves: usize) -> Vec<u8> {
    let script = e2e_tests::workspace_root().join("scripts/gen-bench-input.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir)
        .args(["--leaves", &leaves.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("large.yaml")).unwrap()
}

/// One kind of write under test: the file before, the command, and how to recognise the
/// complete new version (its decryption by real sops).
struct Case {
    name: &'static str,
    before: Vec<u8>,
    args: Vec<String>,
    /// What `sops decrypt` must give for the new version.
    new_plain: Vec<u8>,
}

/// `kill -9` at random moments during `seal -i`, `set` and `rekey --rotate` on a large file: the
/// file is always the complete old version or a complete new version that real sops opens with a
/// valid MAC. Rounds: `KSOPS_KILL_ROUNDS` (default 70 per command, 210 in all).
#[test]
fn kill_9_leaves_old_or_new_file() {
    let Some(env) = setup() else { return };
    let work = env.dir.join("kill");
    std::fs::create_dir_all(&work).unwrap();
    let plain = gen_large(&env.dir, 4000);
    let file = "kill/big.yaml";
    // reference versions, made without interruption
    env.write(file, &plain);
    env.ours().ok(["seal", "--age", &env.a, "-i", file]);
    let sealed = env.read(file);
    let canonical = env.sops().ok(["decrypt", file]);
    env.ours().ok(["set", file, "[\"extra\"]", "\"added\""]);
    let with_extra = env.sops().ok(["decrypt", file]);
    assert_ne!(with_extra, canonical);
    let cases = [
        Case {
            name: "seal -i",
            before: plain.clone(),
            args: ["seal", "--age", &env.a, "-i", file]
                .map(String::from)
                .to_vec(),
            new_plain: canonical.clone(),
        },
        Case {
            name: "set",
            before: sealed.clone(),
            args: ["set", file, "[\"extra\"]", "\"added\""]
                .map(String::from)
                .to_vec(),
            new_plain: with_extra,
        },
        Case {
            name: "rekey --rotate",
            before: sealed.clone(),
            args: ["rekey", "--rotate", "-y", file].map(String::from).to_vec(),
            new_plain: canonical,
        },
    ];
    let rounds: usize = e2e_tests::env_number("KSOPS_KILL_ROUNDS", 70);
    let seed = e2e_tests::seed_from_env("KSOPS_KILL_SEED");
    eprintln!("kill -9 test: seed {seed}, {rounds} rounds per command");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut totals = Vec::new();
    for case in &cases {
        // the command's duration, measured uninterrupted
        env.write(file, &case.before);
        let t0 = Instant::now();
        let (code, _, err) = env.ours().run(&case.args);
        assert_eq!(code, 0, "{}: {err}", case.name);
        let full = t0.elapsed();
        let (mut old, mut new, mut verified) = (0, 0, std::collections::HashSet::new());
        for round in 0..rounds {
            env.write(file, &case.before);
            let mut child = env
                .ours()
                .command(&case.args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // delays over the whole run, a little past its end
            let delay = full.mul_f64(rng.unit() * 1.1);
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
            let now = env.read(file);
            if now == case.before {
                old += 1;
                continue;
            }
            new += 1;
            if !verified.insert(now.clone()) {
                continue;
            }
            let (code, out, err) = env.sops().run(["decrypt", file]);
            assert_eq!(
                code, 0,
                "{} round {round} (killed after {delay:?} of {full:?}, seed {seed}): neither the old \
                 file nor a new one real sops opens: {err}",
                case.name
            );
            assert!(
                out == case.new_plain,
                "{} round {round} (seed {seed}): sops opens the file but it is not the new version",
                case.name
            );
        }
        eprintln!(
            "{}: {rounds} kills over {full:?}: {old} old, {new} new",
            case.name
        );
        totals.push((case.name, old, new));
    }
    eprintln!("kill -9 test took {:?}", started.elapsed());
    assert!(
        totals.iter().map(|t| t.1 + t.2).sum::<usize>() >= 3 * rounds,
        "{totals:?}"
    );
}

/// An encrypted file that no longer parses fails with sops' exit code (1, where a plaintext input
/// that does not parse gives 2) for every command that opens it.
#[test]
fn unparseable_encrypted_files_exit_like_sops() {
    let Some(env) = setup() else { return };
    env.write("p.yaml", b"a: 1\n");
    let enc = env.sops().ok(["encrypt", "--age", &env.a, "p.yaml"]);
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
            vec!["rekey", "-y", "--add-age", env.b.as_str()],
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
    let (sc, _, _) = env.sops().run(["encrypt", "--age", &env.a, "bad.yaml"]);
    let (oc, _, _) = env.ours().run(["seal", "--age", &env.a, "bad.yaml"]);
    assert_eq!((sc, oc), (2, 2));
}
