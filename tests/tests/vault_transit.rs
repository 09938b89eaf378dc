//! Vault transit keys (`hc_vault`) against a real OpenBao 2.7.2 dev server on loopback, started and
//! stopped by each test: files real sops 3.13.2 and 3.11 seal open with us byte for byte, files we
//! seal open with both, mixed age + Vault files and Shamir groups, and every bad input (wrong token,
//! server down, disallowed address, 5xx, redirect) fails on one line with exit 128 and no token.

use std::path::{Path, PathBuf};

use e2e_tests::servers::{
    metadata_shape, type_flags, AcceptCounter, OpenBao, BAO_ROOT_TOKEN, STORE_INPUTS,
};
use e2e_tests::{age_recipient, need, vectors_dir_checked, workspace_bin, Sops};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ours: PathBuf,
    sops: Vec<(String, PathBuf)>,
    keys: PathBuf,
    bao: OpenBao,
}

fn setup() -> Option<Env> {
    let peers = need(&["bao", "sops", "sops-3.11"])?;
    let bao = OpenBao::start(&peers[0]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    for (name, text) in STORE_INPUTS {
        std::fs::write(dir.join(name), text).unwrap();
    }
    Some(Env {
        _tmp: tmp,
        dir,
        ours: workspace_bin("kubectl-sops"),
        sops: vec![
            ("sops 3.13.2".into(), peers[1].clone()),
            ("sops 3.11.0".into(), peers[2].clone()),
        ],
        keys: vectors_dir_checked().join("keys"),
        bao,
    })
}

impl Env {
    /// `bin` in the temp dir with the root token (and no age key).
    fn run(&self, bin: &Path) -> Sops {
        Sops::new(bin, &self.dir).env("VAULT_TOKEN", BAO_ROOT_TOKEN)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir.join(name), bytes).unwrap();
        self.path(name)
    }

    fn config(&self, text: &str) {
        std::fs::write(self.dir.join(".sops.yaml"), text).unwrap();
    }
}

/// Sealed by real sops (both versions) with a transit key; we unseal every store byte for byte.
#[test]
fn we_unseal_what_sops_sealed_with_vault() {
    let Some(env) = setup() else { return };
    let uri = env.bao.uri("sops");
    for (name, text) in STORE_INPUTS {
        for (sops_name, sops_bin) in &env.sops {
            let mut args = vec!["encrypt".into(), "--hc-vault-transit".into(), uri.clone()];
            args.extend(type_flags(name));
            args.push(env.path(name));
            let enc = env.run(sops_bin).ok(&args);
            let enc_text = String::from_utf8_lossy(&enc).into_owned();
            assert!(
                enc_text.contains("vault:v1:"),
                "{sops_name} {name}: {enc_text}"
            );
            let enc_path = env.write(&format!("by-sops-{name}"), &enc);
            let mut uargs = vec!["unseal".to_string()];
            uargs.extend(type_flags(name));
            uargs.push(enc_path);
            let out = env.run(&env.ours).ok(&uargs);
            assert_eq!(
                String::from_utf8_lossy(&out),
                *text,
                "we unsealed {sops_name}'s {name} differently"
            );
        }
    }
}

/// Sealed by us (keys from `.sops.yaml`), opened by both sops versions; the metadata is laid out
/// exactly as sops 3.13.2 lays out its own (only ciphertexts and dates differ).
#[test]
fn sops_opens_what_we_seal_with_vault() {
    let Some(env) = setup() else { return };
    let uri = env.bao.uri("sops");
    // an explicit rule: sops' default (ours is the Kubernetes one for Secrets)
    env.config(&format!(
        "creation_rules:\n  - hc_vault_transit_uri: {uri}\n    unencrypted_suffix: _unencrypted\n"
    ));
    for (name, text) in STORE_INPUTS {
        let mut args = vec!["seal".to_string()];
        args.extend(type_flags(name));
        args.push(env.path(name));
        let sealed = env.run(&env.ours).ok(&args);
        let enc = env.write(&format!("sealed-{name}"), &sealed);
        for (sops_name, sops_bin) in &env.sops {
            let mut dargs = vec!["decrypt".to_string()];
            dargs.extend(type_flags(name));
            dargs.push(enc.clone());
            let (code, out, err) = env.run(sops_bin).run(&dargs);
            assert_eq!(code, 0, "{sops_name} could not open our {name}: {err}");
            assert_eq!(String::from_utf8_lossy(&out), *text, "{sops_name} {name}");
        }
        // layout: sops re-encrypting the same input with the same rule gives the same metadata lines
        let mut sargs = vec!["encrypt".to_string()];
        sargs.extend(type_flags(name));
        sargs.push(env.path(name));
        let theirs = env.run(&env.sops[0].1).ok(&sargs);
        assert_eq!(
            metadata_shape(&String::from_utf8_lossy(&sealed)),
            metadata_shape(&String::from_utf8_lossy(&theirs)),
            "{name}: our metadata is laid out unlike sops 3.13.2's"
        );
    }
}

/// One group with an age key and a Vault key: with the age identity present no request reaches the
/// Vault address at all (it points at a listener that counts connections); without it, Vault opens
/// the file. sops opens what we wrote either way.
#[test]
fn age_first_then_vault_and_no_call_when_age_opens() {
    let Some(env) = setup() else { return };
    let a = age_recipient(&env.keys.join("gen_age_a.txt"));
    let uri = env.bao.uri("sops");
    env.config(&format!(
        "creation_rules:\n  - age: {a}\n    hc_vault_transit_uri: {uri}\n"
    ));
    let sealed = env.run(&env.ours).ok(["seal", &env.path("secret.yaml")]);
    let enc = env.write("mixed.yaml", &sealed);
    let plain = STORE_INPUTS[0].1;
    // without the age key: Vault opens it, for us and for sops
    let out = env.run(&env.ours).ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    let out = env.run(&env.sops[0].1).ok(["decrypt", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    // with the age key and the Vault address pointing at a counting listener: no connection
    let counter = AcceptCounter::start();
    let moved = String::from_utf8_lossy(&sealed).replace(
        &env.bao.address(),
        &format!("http://127.0.0.1:{}", counter.port),
    );
    let moved = env.write("moved.yaml", moved.as_bytes());
    let out = env
        .run(&env.ours)
        .age_key_file(env.keys.join("gen_age_a.txt"))
        .ok(["unseal", &moved]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    assert_eq!(
        counter.count(),
        0,
        "a connection was made although age opened the file"
    );
    // SOPS_DECRYPTION_ORDER=hc_vault tries Vault first: now the listener is reached
    let (code, out, _) = env
        .run(&env.ours)
        .age_key_file(env.keys.join("gen_age_a.txt"))
        .env("SOPS_DECRYPTION_ORDER", "hc_vault,age")
        .run(["unseal", &moved]);
    assert_eq!(
        (code, String::from_utf8_lossy(&out).into_owned()),
        (0, plain.to_string())
    );
    assert!(counter.count() >= 1, "hc_vault was not tried first");
}

/// Two key groups (age | Vault) with threshold 2: both shares are needed; sops and we agree.
#[test]
fn shamir_groups_age_and_vault() {
    let Some(env) = setup() else { return };
    let a = age_recipient(&env.keys.join("gen_age_a.txt"));
    let uri = env.bao.uri("sops");
    env.config(&format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{a}]\n      - hc_vault: [{uri}]\n"
    ));
    let sealed = env.run(&env.ours).ok(["seal", &env.path("secret.yaml")]);
    let text = String::from_utf8_lossy(&sealed).into_owned();
    assert!(
        text.contains("key_groups:") && text.contains("vault:v1:"),
        "{text}"
    );
    let enc = env.write("shamir.yaml", &sealed);
    let plain = STORE_INPUTS[0].1;
    let age_key = env.keys.join("gen_age_a.txt");
    for (who, bin) in [("ours", &env.ours), ("sops", &env.sops[0].1)] {
        let args: Vec<&str> = if who == "ours" {
            vec!["unseal", &enc]
        } else {
            vec!["decrypt", &enc]
        };
        let out = env.run(bin).age_key_file(&age_key).ok(&args);
        assert_eq!(String::from_utf8_lossy(&out), plain, "{who}");
    }
    // sops seals one too; we open it
    let theirs = env
        .run(&env.sops[0].1)
        .ok(["encrypt", &env.path("secret.yaml")]);
    let theirs = env.write("shamir-sops.yaml", &theirs);
    let out = env
        .run(&env.ours)
        .age_key_file(&age_key)
        .ok(["unseal", &theirs]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    // one share is not enough
    let (code, _, err) = env
        .run(&env.ours)
        .ok_or(["unseal", &enc], &age_key, "wrong");
    assert_eq!(code, 128, "{err}");
    assert!(err.contains("1 of the 2"), "{err}");
}

trait RunWith {
    fn ok_or(&self, args: [&str; 2], age: &Path, token: &str) -> (i32, Vec<u8>, String);
}

impl RunWith for Sops {
    fn ok_or(&self, args: [&str; 2], age: &Path, token: &str) -> (i32, Vec<u8>, String) {
        self.clone()
            .age_key_file(age)
            .env("VAULT_TOKEN", token)
            .run(args)
    }
}

/// Asserts the one-line failure of an unseal: exit 128, the file and the key named, `reason` in it,
/// no token.
fn assert_fails(out: (i32, Vec<u8>, String), file: &str, key: &str, reason: &str, token: &str) {
    let (code, stdout, err) = out;
    assert_eq!(code, 128, "exit code; stderr: {err}");
    assert!(stdout.is_empty(), "nothing on stdout");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(file), "names the file: {err}");
    assert!(err.contains(key), "names the key: {err}");
    assert!(err.contains(reason), "says {reason:?}: {err}");
    assert!(!err.contains(token), "leaks the token: {err}");
}

/// Wrong token, server down, an address the allowlist refuses, a 5xx and a redirect: one line each,
/// exit 128, no token; the refused address and the redirect target get no connection.
#[test]
fn bad_inputs_fail_on_one_line_without_the_token() {
    let Some(mut env) = setup() else { return };
    let uri = env.bao.uri("sops");
    let sealed = env.run(&env.sops[0].1).ok([
        "encrypt",
        "--hc-vault-transit",
        &uri,
        &env.path("secret.yaml"),
    ]);
    let enc = env.write("vault.yaml", &sealed);
    let secret_token = "s.wrong-token-value-1234";

    // wrong token
    let out = env
        .run(&env.ours)
        .env("VAULT_TOKEN", secret_token)
        .run(["unseal", &enc]);
    assert_fails(out, "vault.yaml", &uri, "permission denied", secret_token);

    // token from ~/.vault-token when VAULT_TOKEN is unset
    std::fs::write(env.dir.join(".vault-token"), format!("{BAO_ROOT_TOKEN}\n")).unwrap();
    let out = Sops::new(&env.ours, &env.dir).ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), STORE_INPUTS[0].1);
    std::fs::remove_file(env.dir.join(".vault-token")).unwrap();

    // the allowlist refuses the file's address: no connection is made
    let counter = AcceptCounter::start();
    let elsewhere = format!("http://127.0.0.1:{}", counter.port);
    let moved = env.write(
        "elsewhere.yaml",
        String::from_utf8_lossy(&sealed)
            .replace(&env.bao.address(), &elsewhere)
            .as_bytes(),
    );
    let out = env
        .run(&env.ours)
        .env("SOPS_HC_VAULT_ALLOWLIST", env.bao.address())
        .run(["unseal", &moved]);
    assert_fails(
        out,
        "elsewhere.yaml",
        &elsewhere,
        "does not allow",
        BAO_ROOT_TOKEN,
    );
    assert_eq!(counter.count(), 0);
    // …while the allowed address still works
    let out = env
        .run(&env.ours)
        .env(
            "SOPS_HC_VAULT_ALLOWLIST",
            format!("http://x.invalid,{}", env.bao.address()),
        )
        .ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), STORE_INPUTS[0].1);

    // a 5xx and a redirect from a fake server
    let target = AcceptCounter::start();
    for (status, extra, reason) in [
        ("500 Internal Server Error", String::new(), "HTTP 500"),
        (
            "307 Temporary Redirect",
            format!(
                "Location: http://127.0.0.1:{}/v1/transit/decrypt/sops\r\n",
                target.port
            ),
            "not followed",
        ),
    ] {
        let fake = FixedResponder::start(status, &extra);
        let addr = format!("http://127.0.0.1:{}", fake.port);
        let f = env.write(
            "fake.yaml",
            String::from_utf8_lossy(&sealed)
                .replace(&env.bao.address(), &addr)
                .as_bytes(),
        );
        let out = env.run(&env.ours).run(["unseal", &f]);
        assert_fails(out, "fake.yaml", &addr, reason, BAO_ROOT_TOKEN);
    }
    assert_eq!(target.count(), 0, "the redirect was followed");

    // server down
    env.bao.stop();
    let out = env.run(&env.ours).run(["unseal", &enc]);
    assert_fails(out, "vault.yaml", &uri, "refused", BAO_ROOT_TOKEN);
}

/// A loopback HTTP server answering every request with one fixed status (and headers).
struct FixedResponder {
    port: u16,
}

impl FixedResponder {
    fn start(status: &str, headers: &str) -> FixedResponder {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let reply = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 8192];
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let _ = s.read(&mut buf);
                let _ = s.write_all(reply.as_bytes());
            }
        });
        FixedResponder { port }
    }
}

/// `seal --hc-vault-transit URI` and `SOPS_VAULT_URIS` (no `.sops.yaml`): sops opens the result; a
/// URI without a scheme is refused with sops' words before anything is sent.
#[test]
fn seal_flag_and_env_name_the_vault_key() {
    let Some(env) = setup() else { return };
    let uri = env.bao.uri("sops");
    let plain = STORE_INPUTS[0].1;
    let by_flag =
        env.run(&env.ours)
            .ok(["seal", "--hc-vault-transit", &uri, &env.path("secret.yaml")]);
    let by_env = env
        .run(&env.ours)
        .env("SOPS_VAULT_URIS", &uri)
        .ok(["seal", &env.path("secret.yaml")]);
    for (what, sealed) in [("flag", by_flag), ("env", by_env)] {
        let enc = env.write(&format!("{what}.yaml"), &sealed);
        let out = env.run(&env.sops[0].1).ok(["decrypt", &enc]);
        assert_eq!(String::from_utf8_lossy(&out), plain, "{what}");
    }
    let (code, _, err) = env.run(&env.ours).run([
        "seal",
        "--hc-vault-transit",
        "127.0.0.1:8200/v1/transit/keys/sops",
        &env.path("secret.yaml"),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("missing scheme"), "{err}");
}

/// `diff`, `textconv` and `check` treat Vault keys like age keys, without any credential: the keyless
/// diff of two files sealed for different transit keys names both URIs as recipient lines (and
/// masks the values), `textconv` shows the file's `sops.hc_vault` line, and `check` passes the file
/// (its MAC unverifiable without a token, which is not an error unless `--require-keys`).
#[test]
fn keyless_diff_textconv_and_check_name_the_vault_key() {
    let Some(env) = setup() else { return };
    env.bao.create_key("other");
    let (a, b) = (env.bao.uri("sops"), env.bao.uri("other"));
    let name = STORE_INPUTS[0].0;
    let seal = |uri: &str, out: &str| {
        let sealed = env
            .run(&env.ours)
            .ok(["seal", "--hc-vault-transit", uri, &env.path(name)]);
        env.write(out, &sealed)
    };
    let (old, new) = (seal(&a, "old.enc.yaml"), seal(&b, "new.enc.yaml"));
    // no token, no age key: nothing can be decrypted
    let keyless = || Sops::new(&env.ours, &env.dir).env("VAULT_ADDR", "http://127.0.0.1:9");
    let (code, out, err) = keyless().run(["diff", "--no-color", &old, &new]);
    let out = String::from_utf8_lossy(&out);
    assert!(code == 0 || code == 1, "diff exited {code}: {err}");
    assert!(out.contains(&format!("- sops.hc_vault: {a}")), "{out}{err}");
    assert!(out.contains(&format!("+ sops.hc_vault: {b}")), "{out}{err}");
    let (code, out, err) = keyless().run(["textconv", &old]);
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains(&format!("sops.hc_vault: {a}")), "{out}");
    let (code, _, err) = keyless().run(["check", &old]);
    assert_eq!(code, 0, "check: {err}");
}
