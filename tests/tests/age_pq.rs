//! age post-quantum hybrid keys (`age1pq1…`, `AGE-SECRET-KEY-PQ-1…`, stanza `mlkem768x25519`):
//! the official C2SP vectors, the Go age 1.3.1 vectors of `../shared/vectors/age-pq`, and round
//! trips with real sops 3.13.2 and Go age / age-keygen 1.3.1 on every path that writes a file.

use std::io::{BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::armor::ArmoredReader;
use e2e_tests::{need, vectors_dir_checked, Env, Sops};
use sha2::{Digest, Sha256};
use sops_engine::keys::age_pq::HybridIdentity;
use sops_engine::keys::KeySource;
use sops_engine::metadata::KeyEntry;

// ------------------------------------------------------------------------- C2SP vectors

/// One C2SP age test vector: the textual header, then the age file.
struct Vector {
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    armored: bool,
    compressed: bool,
    file: Vec<u8>,
}

fn parse_vector(bytes: &[u8]) -> Vector {
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("header ends with an empty line");
    let header = std::str::from_utf8(&bytes[..split]).expect("UTF-8 header");
    let mut v = Vector {
        expect: String::new(),
        payload: None,
        identities: Vec::new(),
        armored: false,
        compressed: false,
        file: bytes[split + 2..].to_vec(),
    };
    for line in header.lines() {
        let (k, val) = line.split_once(": ").expect("key: value");
        match k {
            "expect" => v.expect = val.to_string(),
            "payload" => v.payload = Some(val.to_string()),
            "identity" => v.identities.push(val.to_string()),
            "armored" => v.armored = val == "yes",
            "compressed" => v.compressed = val == "zlib",
            _ => {}
        }
    }
    v
}

fn identity(s: &str) -> Box<dyn age::Identity> {
    if s.starts_with("AGE-SECRET-KEY-PQ-") {
        Box::new(HybridIdentity::from_str(s).expect("hybrid identity"))
    } else {
        Box::new(age::x25519::Identity::from_str(s).expect("X25519 identity"))
    }
}

fn classify(e: &age::DecryptError) -> &'static str {
    match e {
        age::DecryptError::NoMatchingKeys => "no match",
        age::DecryptError::InvalidMac => "HMAC failure",
        _ => "header failure",
    }
}

/// The outcome class of decrypting a vector (the C2SP `expect` values) and the payload released.
fn decrypt_vector(v: &Vector) -> (&'static str, Vec<u8>) {
    let mut data = v.file.clone();
    if v.compressed {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&data[..])
            .read_to_end(&mut out)
            .expect("zlib");
        data = out;
    }
    let input: Box<dyn Read> = if v.armored {
        Box::new(ArmoredReader::new(&data[..]))
    } else {
        Box::new(&data[..])
    };
    let dec = match age::Decryptor::new_buffered(BufReader::new(input)) {
        Ok(d) => d,
        Err(age::DecryptError::Io(_)) if v.armored => return ("armor failure", Vec::new()),
        Err(e) => return (classify(&e), Vec::new()),
    };
    let ids: Vec<Box<dyn age::Identity>> = v.identities.iter().map(|s| identity(s)).collect();
    let mut r = match dec.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity)) {
        Ok(r) => r,
        Err(e) => return (classify(&e), Vec::new()),
    };
    let mut out = Vec::new();
    match r.read_to_end(&mut out) {
        Ok(_) => ("success", out),
        Err(_) => ("payload failure", out),
    }
}

/// Every `hybrid*` vector of `c2sp.org/CCTV/age` (fetched by `scripts/peers.sh build cctv-age`) gives
/// its expected result and payload; those meant to fail fail the way they should.
#[test]
fn c2sp_hybrid_vectors() {
    let Some(bins) = need(&["cctv-age"]) else {
        return;
    };
    let out = std::process::Command::new(&bins[0]).output().unwrap();
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("hybrid") || n.starts_with("armor_hybrid"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 19,
        "only {} hybrid vectors: {names:?}",
        names.len()
    );
    let mut failures = Vec::new();
    let mut failing = 0;
    for name in &names {
        let v = parse_vector(&std::fs::read(dir.join(name)).unwrap());
        let (got, payload) = decrypt_vector(&v);
        if got != v.expect {
            failures.push(format!("{name}: got {got}, expected {}", v.expect));
            continue;
        }
        if got != "success" {
            failing += 1;
        }
        if let Some(want) = &v.payload {
            let have = hex::encode(Sha256::digest(&payload));
            if &have != want {
                failures.push(format!("{name}: payload hash {have}, expected {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(failing >= 12, "only {failing} failure vectors exercised");
    eprintln!(
        "{} C2SP hybrid vectors OK ({failing} meant to fail)",
        names.len()
    );
}

// ------------------------------------------------------------------------- Go age vectors

fn age_pq_vectors() -> PathBuf {
    vectors_dir_checked().join("../age-pq")
}

/// The identity line of an identity file.
fn identity_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("an identity line")
}

fn open_with(id: &HybridIdentity, file: &[u8]) -> Vec<u8> {
    let input = ArmoredReader::new(file); // reads binary files unchanged too
    let dec = age::Decryptor::new_buffered(BufReader::new(input)).expect("age header");
    let mut r = dec
        .decrypt(std::iter::once(id as &dyn age::Identity))
        .expect("file key");
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("payload");
    out
}

/// `../shared/vectors/age-pq` (made with Go age 1.3.1): our recipient from each identity is Go's, and
/// each data key opens from the binary and the armored file.
#[test]
fn go_age_vectors_decrypt() {
    let dir = age_pq_vectors();
    for n in 1..=2 {
        let key = std::fs::read_to_string(dir.join(format!("key{n}.txt"))).unwrap();
        let id = HybridIdentity::from_str(identity_line(&key)).unwrap();
        let recipient = std::fs::read_to_string(dir.join(format!("recipient{n}.txt"))).unwrap();
        assert_eq!(id.to_public().to_string(), recipient.trim(), "recipient{n}");
        assert!(key.contains(&format!("# public key: {}", recipient.trim())));
        let want = hex::decode(
            std::fs::read_to_string(dir.join(format!("datakey{n}.hex")))
                .unwrap()
                .trim(),
        )
        .unwrap();
        for f in [
            format!("datakey{n}.bin.age"),
            format!("datakey{n}.bin.age.armor"),
        ] {
            let got = open_with(&id, &std::fs::read(dir.join(&f)).unwrap());
            assert_eq!(got, want, "{f}");
        }
        // the other identity does not match
        let other = std::fs::read_to_string(dir.join(format!("key{}.txt", 3 - n))).unwrap();
        let other = HybridIdentity::from_str(identity_line(&other)).unwrap();
        let file = std::fs::read(dir.join(format!("datakey{n}.bin.age"))).unwrap();
        let dec = age::Decryptor::new_buffered(&file[..]).unwrap();
        assert!(matches!(
            dec.decrypt(std::iter::once(&other as &dyn age::Identity)),
            Err(age::DecryptError::NoMatchingKeys)
        ));
    }
}

// ------------------------------------------------------------------------- real peers

/// `kubectl-sops keygen [--pq] -o NAME` in the test dir; returns the recipient it printed.
fn keygen(env: &Env, pq: bool, name: &str) -> String {
    let mut args = vec!["keygen".to_string()];
    if pq {
        args.push("--pq".into());
    }
    args.extend(["-o".into(), env.arg(name)]);
    let (code, out, err) = env.ours().run(&args);
    assert_eq!(code, 0, "keygen: {err}");
    assert!(out.is_empty(), "keygen -o prints nothing on stdout");
    let r = err
        .strip_prefix("Public key: ")
        .unwrap_or_else(|| panic!("keygen stderr: {err}"))
        .trim()
        .to_string();
    r
}

/// A runner for `bin` with the age key file `key` of the test dir.
fn with_key(env: &Env, bin: &Path, key: &str) -> Sops {
    env.runner(bin).age_key_file(env.path(key))
}

/// Our `kubectl-sops` with the age key file `key` of the test dir.
fn ours_with(env: &Env, key: &str) -> Sops {
    with_key(env, &env.ours_bin(), key)
}

const PLAIN: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: demo\nstringData:\n    password: hunter2\n    token: abc\n";

fn age_recipients_of(sealed: &str) -> Vec<String> {
    sealed
        .lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .filter_map(|l| l.strip_prefix("recipient: "))
        .map(str::to_string)
        .collect()
}

/// keygen writes an identity file like age-keygen: 0600, `# created:`/`# public key:` lines, the
/// recipient on stderr; Go age-keygen derives the same recipient; an existing file is kept.
#[test]
fn keygen_writes_identity_files_like_age_keygen() {
    let env = Env::new();
    for (pq, name) in [(false, "x.txt"), (true, "pq.txt")] {
        let r = keygen(&env, pq, name);
        assert_eq!(r.starts_with("age1pq1"), pq, "{r}");
        let meta = std::fs::metadata(env.path(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = env.read(name);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("# created: "), "{}", lines[0]);
        let stamp = &lines[0]["# created: ".len()..];
        assert!(
            stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "RFC 3339: {stamp}"
        );
        assert_eq!(lines[1], format!("# public key: {r}"));
        let prefix = if pq {
            "AGE-SECRET-KEY-PQ-1"
        } else {
            "AGE-SECRET-KEY-1"
        };
        assert!(lines[2].starts_with(prefix));

        // an existing file is not overwritten
        let (code, _, err) = env.ours().run(["keygen", "-o", &env.arg(name)]);
        assert_ne!(code, 0);
        assert!(err.contains(&env.arg(name)), "{err}");
        assert_eq!(env.read(name), text);
    }
    // without -o: the identity on stdout, the recipient on stderr (stdout is not a terminal)
    let (code, out, err) = env.ours().run(["keygen", "--pq"]);
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    let r = err.strip_prefix("Public key: ").unwrap().trim();
    assert!(out.contains(&format!("# public key: {r}\n")));

    let Some(bins) = need(&["age-keygen"]) else {
        return;
    };
    for name in ["x.txt", "pq.txt"] {
        let y = env.runner(&bins[0]).ok(["-y", &env.arg(name)]);
        let text = env.read(name);
        assert!(text.contains(&format!(
            "# public key: {}",
            String::from_utf8(y).unwrap().trim()
        )));
    }
}

/// Go age 1.3.1 opens a data-key stanza our engine wrapped for its key and ours, and our engine
/// opens what Go age wrapped; a `keygen --pq` identity works with Go age in both directions.
#[test]
fn go_age_round_trips() {
    let Some(bins) = need(&["age", "age-keygen"]) else {
        return;
    };
    let (age, age_keygen) = (&bins[0], &bins[1]);
    let env = Env::new();
    let go = env.runner(age);
    env.runner(age_keygen).ok(["-pq", "-o", &env.arg("go.txt")]);
    let go_r = String::from_utf8(env.runner(age_keygen).ok(["-y", &env.arg("go.txt")]))
        .unwrap()
        .trim()
        .to_string();
    let our_r = keygen(&env, true, "ours.txt");
    let data_key: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();

    // our engine wraps (armored, as in sops metadata); Go age opens it with the identity alone
    let src = sops_engine::keys::age::AgeSource::new();
    for (r, key) in [(&go_r, "go.txt"), (&our_r, "ours.txt")] {
        let KeyEntry::Age { enc, .. } = src.wrap(r, &data_key).unwrap() else {
            panic!("not an age entry")
        };
        assert!(enc.contains("-----BEGIN AGE ENCRYPTED FILE-----"));
        let f = env.write(&format!("wrapped-for-{key}.age"), &enc);
        let out = go.ok(["-d", "-i", &env.arg(key), &f]);
        assert_eq!(
            out, data_key,
            "Go age opened our stanza for {key} differently"
        );
    }

    // Go age wraps for both keys; our engine opens each with that identity alone
    for (r, key) in [(&go_r, "go.txt"), (&our_r, "ours.txt")] {
        let (code, armored, err) = go.run_stdin(["-a", "-r", r.as_str()], Some(&data_key));
        assert_eq!(code, 0, "{err}");
        let armored = String::from_utf8(armored).unwrap();
        let text = env.read(key);
        let id = HybridIdentity::from_str(identity_line(&text)).unwrap();
        assert_eq!(open_with(&id, armored.as_bytes()), data_key, "{key}");
        // and through the engine's key source, as a sops metadata entry
        let entry = KeyEntry::Age {
            recipient: r.clone(),
            enc: armored,
        };
        let got = unwrap_with_key_file(&env.arg(key), &entry);
        assert_eq!(
            &got[..],
            &data_key[..],
            "engine unwrap of Go age's stanza for {key}"
        );
    }
}

/// Unwraps with a fresh `AgeSource` that finds its identities in `SOPS_AGE_KEY_FILE` (sops' way).
/// The variable is set for this process only, under a lock: no other test here reads it.
fn unwrap_with_key_file(key_file: &str, entry: &KeyEntry) -> Vec<u8> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap();
    std::env::set_var("SOPS_AGE_KEY_FILE", key_file);
    let src = sops_engine::keys::age::AgeSource::new();
    let r = src.unwrap(entry).map(|k| k.to_vec());
    std::env::remove_var("SOPS_AGE_KEY_FILE");
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// An [`Env`] with real sops 3.13.2 and two keys made by our `keygen`: `pq.txt` (post-quantum)
/// and `x.txt` (X25519); with their recipients. `None` when sops is missing (see [`need`]).
fn env_with_keys() -> Option<(Env, String, String)> {
    let env = Env::new().with_sops()?;
    let pq = keygen(&env, true, "pq.txt");
    let x = keygen(&env, false, "x.txt");
    Some((env, pq, x))
}

/// Real sops 3.13.2 decrypts what we seal to a PQ recipient (a `keygen --pq` key) with the PQ
/// identity alone, also when mixed with an X25519 recipient (one stanza each); we unseal what sops
/// seals to PQ + X25519 recipients with either identity alone.
#[test]
fn sops_round_trips_with_pq_recipients() {
    let Some((env, pq, x)) = env_with_keys() else {
        return;
    };
    let sops = env.sops_bin();
    let plain = env.write("secret.yaml", PLAIN);

    for (what, recipients) in [("PQ", pq.clone()), ("PQ + X25519", format!("{pq},{x}"))] {
        let sealed = ours_with(&env, "pq.txt").ok(["seal", "--age", &recipients, &plain]);
        let sealed = String::from_utf8(sealed).unwrap();
        assert_eq!(
            age_recipients_of(&sealed),
            recipients.split(',').collect::<Vec<_>>(),
            "{what}: one age entry per recipient"
        );
        let f = env.write("ours.enc.yaml", &sealed);
        for key in ["pq.txt", "x.txt"]
            .iter()
            .take(if what == "PQ" { 1 } else { 2 })
        {
            let out = with_key(&env, sops, key).ok(["decrypt", &f]);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                PLAIN,
                "sops with {key} ({what})"
            );
        }
    }

    let enc = with_key(&env, sops, "pq.txt").ok(["encrypt", "--age", &format!("{pq},{x}"), &plain]);
    let f = env.write("theirs.enc.yaml", &String::from_utf8(enc).unwrap());
    for key in ["pq.txt", "x.txt"] {
        let out = ours_with(&env, key).ok(["unseal", &f]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            PLAIN,
            "we unseal with {key} alone"
        );
    }
    // a keys file mixing both kinds works too
    let both = format!("{}\n{}", env.read("x.txt"), env.read("pq.txt"));
    env.write("both.txt", &both);
    assert_eq!(
        ours_with(&env, "both.txt").ok(["unseal", &f]),
        PLAIN.as_bytes()
    );
}

/// Every writing path takes PQ recipients: `.sops.yaml` rules (seal, edit of a new file), `set`,
/// `rekey --add-age/--rm-age` and `--rotate`; real sops decrypts each result with the PQ key alone.
#[test]
fn every_writing_path_takes_pq_recipients() {
    let Some((env, pq, x)) = env_with_keys() else {
        return;
    };
    let sops = env.sops_bin();
    let pq2 = keygen(&env, true, "pq2.txt");
    env.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    age: >-\n      {pq},\n      {x}\n"
        ),
    );
    let decrypt = |key: &str, f: &str| -> String {
        String::from_utf8(with_key(&env, sops, key).ok(["decrypt", f])).unwrap()
    };

    // seal with the rule (folded multi-line `age:` list)
    let plain = env.write("secret.yaml", PLAIN);
    let sealed = ours_with(&env, "pq.txt").ok(["seal", &plain]);
    let f = env.write("app.enc.yaml", &String::from_utf8(sealed).unwrap());
    assert_eq!(decrypt("pq.txt", &f), PLAIN);
    assert_eq!(decrypt("x.txt", &f), PLAIN);

    // edit of a new file: the rule's recipients
    let editor = env.write_script("editor.sh", "#!/bin/sh\nprintf 'a: edited\\n' > \"$1\"\n");
    let new = env.arg("new.yaml");
    ours_with(&env, "pq.txt")
        .env("EDITOR", &editor)
        .ok(["edit", &new]);
    assert_eq!(decrypt("pq.txt", &new), "a: edited\n");
    assert_eq!(
        age_recipients_of(&std::fs::read_to_string(&new).unwrap()),
        [pq.clone(), x.clone()]
    );

    // edit of a new file with --age
    let new2 = env.arg("new2.yaml");
    ours_with(&env, "pq2.txt")
        .env("EDITOR", &editor)
        .ok(["edit", "--age", &pq2, &new2]);
    assert_eq!(decrypt("pq2.txt", &new2), "a: edited\n");

    // set keeps the recipients
    ours_with(&env, "pq.txt").ok(["set", &f, r#"["stringData"]["password"]"#, r#""s3cret""#]);
    assert!(decrypt("pq.txt", &f).contains("password: s3cret"));

    // rekey: add a second PQ recipient, remove the X25519 one (flags act on the file's keys once
    // no .sops.yaml rule names them)
    std::fs::remove_file(env.path(".sops.yaml")).unwrap();
    ours_with(&env, "pq.txt").ok(["rekey", "-y", "--add-age", &pq2, "--rm-age", &x, &f]);
    let text = std::fs::read_to_string(&f).unwrap();
    assert_eq!(age_recipients_of(&text), [pq.clone(), pq2.clone()]);
    assert!(decrypt("pq2.txt", &f).contains("password: s3cret"));
    let (code, _, _) = with_key(&env, sops, "x.txt").run(["decrypt", &f]);
    assert_ne!(code, 0, "the removed X25519 key no longer opens the file");

    // rekey --rm-age of a PQ recipient
    ours_with(&env, "pq.txt").ok(["rekey", "-y", "--rm-age", &pq, &f]);
    assert_eq!(
        age_recipients_of(&std::fs::read_to_string(&f).unwrap()),
        std::slice::from_ref(&pq2)
    );
    assert!(decrypt("pq2.txt", &f).contains("password: s3cret"));

    // --rotate: new data key, same PQ recipient
    let before = std::fs::read_to_string(&f).unwrap();
    ours_with(&env, "pq2.txt").ok(["rekey", "-y", "--rotate", &f]);
    let after = std::fs::read_to_string(&f).unwrap();
    assert_ne!(before, after);
    assert_eq!(age_recipients_of(&after), std::slice::from_ref(&pq2));
    assert!(decrypt("pq2.txt", &f).contains("password: s3cret"));

    // rekey to a .sops.yaml rule naming PQ recipients (sops updatekeys)
    env.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: \\.yaml$\n    age: {pq},{x}\n"),
    );
    ours_with(&env, "pq2.txt").ok(["rekey", "-y", &f]);
    assert_eq!(
        age_recipients_of(&std::fs::read_to_string(&f).unwrap()),
        [pq.clone(), x.clone()]
    );
    assert!(decrypt("pq.txt", &f).contains("password: s3cret"));
    assert!(decrypt("x.txt", &f).contains("password: s3cret"));
}

/// A malformed or bad-checksum PQ recipient is a one-line error naming it; a secret key given as a
/// recipient is never echoed.
#[test]
fn bad_recipients_give_one_line_errors() {
    let env = Env::new();
    let pq = keygen(&env, true, "pq.txt");
    let plain = env.write("secret.yaml", PLAIN);
    let mut bad = pq.clone();
    let i = 700;
    let c = if &pq[i..=i] == "q" { "p" } else { "q" };
    bad.replace_range(i..=i, c);
    let truncated = pq[..1000].to_string();
    for (r, why) in [(&bad, "checksum"), (&truncated, "checksum")] {
        let (code, out, err) = ours_with(&env, "pq.txt").run(["seal", "--age", r, &plain]);
        assert_ne!(code, 0);
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("post-quantum recipient") && err.contains(why),
            "{err}"
        );
        assert!(
            err.contains(&r[..24]) && err.contains(&r[r.len() - 12..]),
            "names it: {err}"
        );
    }
    let key_text = env.read("pq.txt");
    let secret = identity_line(&key_text).to_string();
    let x_text = {
        keygen(&env, false, "x.txt");
        env.read("x.txt")
    };
    let x_secret = identity_line(&x_text).to_string();
    for s in [&secret, &x_secret] {
        let (code, out, err) = ours_with(&env, "pq.txt").run(["seal", "--age", s, &plain]);
        assert_ne!(code, 0);
        assert!(out.is_empty());
        assert!(!err.contains(&s[20..]), "secret echoed: {err}");
        assert!(err.contains("private key"), "{err}");
    }
}
