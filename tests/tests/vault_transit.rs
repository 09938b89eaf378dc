//! Vault transit keys (`hc_vault`) against a real OpenBao 2.7.2 dev server on loopback, started and
//! stopped by each test: files real sops 3.13.2 and 3.11 seal open with us byte for byte, files we
//! seal open with both, mixed age + Vault files and Shamir groups, and every bad input (wrong token,
//! server down, disallowed address, 5xx, redirect) fails on one line with exit 128 and no token.

use std::path::Path;

use e2e_tests::servers::{
    metadata_shape, store_args, AcceptCounter, OpenBao, BAO_ROOT_TOKEN, STORE_INPUTS,
};
use e2e_tests::{assert_fails_on_one_line, need1, Env, Outcome, Sops};

/// The temp dir with the store inputs, both sops versions, and every runner with the root token
/// (and no age key); the server beside it.
fn setup() -> Option<(Env, OpenBao)> {
    let bao = OpenBao::start(&need1("bao")?);
    let env = Env::new()
        .with_all_sops()?
        .runner_env("VAULT_TOKEN", BAO_ROOT_TOKEN);
    for (name, text) in STORE_INPUTS {
        env.write(name, text);
    }
    Some((env, bao))
}

/// Sealed by real sops (both versions) with a transit key; we unseal every store byte for byte.
#[test]
fn we_unseal_what_sops_sealed_with_vault() {
    let Some((env, bao)) = setup() else { return };
    let uri = bao.uri("sops");
    for (name, text) in STORE_INPUTS {
        for (sops_name, sops_bin) in env.sops_peers() {
            let args = store_args(&["encrypt", "--hc-vault-transit", &uri], &env.arg(name));
            let enc = env.runner(sops_bin).ok(&args);
            let enc_text = String::from_utf8_lossy(&enc).into_owned();
            assert!(
                enc_text.contains("vault:v1:"),
                "{sops_name} {name}: {enc_text}"
            );
            let enc_path = env.write(&format!("by-sops-{name}"), &enc);
            let uargs = store_args(&["unseal"], &enc_path);
            let out = env.ours().ok(&uargs);
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
    let Some((env, bao)) = setup() else { return };
    let uri = bao.uri("sops");
    // an explicit rule: sops' default (ours is the Kubernetes one for Secrets)
    env.write(
        ".sops.yaml",
        &format!(
        "creation_rules:\n  - hc_vault_transit_uri: {uri}\n    unencrypted_suffix: _unencrypted\n"
    ),
    );
    for (name, text) in STORE_INPUTS {
        let args = store_args(&["seal"], &env.arg(name));
        let sealed = env.ours().ok(&args);
        let enc = env.write(&format!("sealed-{name}"), &sealed);
        for (sops_name, sops_bin) in env.sops_peers() {
            let dargs = store_args(&["decrypt"], &enc);
            let (code, out, err) = env.runner(sops_bin).run(&dargs);
            assert_eq!(code, 0, "{sops_name} could not open our {name}: {err}");
            assert_eq!(String::from_utf8_lossy(&out), *text, "{sops_name} {name}");
        }
        // layout: sops re-encrypting the same input with the same rule gives the same metadata lines
        let sargs = store_args(&["encrypt"], &env.arg(name));
        let theirs = env.sops().ok(&sargs);
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
    let Some((env, bao)) = setup() else { return };
    let a = env.recipient_of("gen_age_a");
    let uri = bao.uri("sops");
    env.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - age: {a}\n    hc_vault_transit_uri: {uri}\n"),
    );
    let sealed = env.ours().ok(["seal", &env.arg("secret.yaml")]);
    let enc = env.write("mixed.yaml", &sealed);
    let plain = STORE_INPUTS[0].1;
    // without the age key: Vault opens it, for us and for sops
    let out = env.ours().ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    let out = env.sops().ok(["decrypt", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    // with the age key and the Vault address pointing at a counting listener: no connection
    let counter = AcceptCounter::start();
    let moved = String::from_utf8_lossy(&sealed).replace(
        &bao.address(),
        &format!("http://127.0.0.1:{}", counter.port),
    );
    let moved = env.write("moved.yaml", moved.as_bytes());
    let out = env
        .ours()
        .age_key_file(env.age_key("gen_age_a"))
        .ok(["unseal", &moved]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    assert_eq!(
        counter.count(),
        0,
        "a connection was made although age opened the file"
    );
    // SOPS_DECRYPTION_ORDER=hc_vault tries Vault first: now the listener is reached
    let (code, out, _) = env
        .ours()
        .age_key_file(env.age_key("gen_age_a"))
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
    let Some((env, bao)) = setup() else { return };
    let a = env.recipient_of("gen_age_a");
    let uri = bao.uri("sops");
    env.write(".sops.yaml", &format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{a}]\n      - hc_vault: [{uri}]\n"
    ));
    let sealed = env.ours().ok(["seal", &env.arg("secret.yaml")]);
    let text = String::from_utf8_lossy(&sealed).into_owned();
    assert!(
        text.contains("key_groups:") && text.contains("vault:v1:"),
        "{text}"
    );
    let enc = env.write("shamir.yaml", &sealed);
    let plain = STORE_INPUTS[0].1;
    let age_key = env.age_key("gen_age_a");
    for (who, bin) in [
        ("ours", env.ours_bin()),
        ("sops", env.sops_bin().to_path_buf()),
    ] {
        let args: Vec<&str> = if who == "ours" {
            vec!["unseal", &enc]
        } else {
            vec!["decrypt", &enc]
        };
        let out = env.runner(bin).age_key_file(&age_key).ok(&args);
        assert_eq!(String::from_utf8_lossy(&out), plain, "{who}");
    }
    // sops seals one too; we open it
    let theirs = env.sops().ok(["encrypt", &env.arg("secret.yaml")]);
    let theirs = env.write("shamir-sops.yaml", &theirs);
    let out = env.ours().age_key_file(&age_key).ok(["unseal", &theirs]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    // one share is not enough
    let (code, _, err) = env.ours().ok_or(["unseal", &enc], &age_key, "wrong");
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
fn assert_fails(out: Outcome, file: &str, key: &str, reason: &str, token: &str) {
    assert_fails_on_one_line(out, 128, &[file, key, reason], &[token]);
}

/// Wrong token, server down, an address the allowlist refuses, a 5xx and a redirect: one line each,
/// exit 128, no token; the refused address and the redirect target get no connection.
#[test]
fn bad_inputs_fail_on_one_line_without_the_token() {
    let Some((env, mut bao)) = setup() else {
        return;
    };
    let uri = bao.uri("sops");
    let sealed = env.sops().ok([
        "encrypt",
        "--hc-vault-transit",
        &uri,
        &env.arg("secret.yaml"),
    ]);
    let enc = env.write("vault.yaml", &sealed);
    let secret_token = "s.wrong-token-value-1234";
    // the sealed file with the server's address changed to 127.0.0.1:`port`, written as `name`:
    // (its path, the new address)
    let moved_to = |port: u16, name: &str| {
        let addr = format!("http://127.0.0.1:{port}");
        let text = String::from_utf8_lossy(&sealed).replace(&bao.address(), &addr);
        (env.write(name, text.as_bytes()), addr)
    };

    // wrong token
    let out = env
        .ours()
        .env("VAULT_TOKEN", secret_token)
        .run(["unseal", &enc]);
    assert_fails(out, "vault.yaml", &uri, "permission denied", secret_token);

    // token from ~/.vault-token when VAULT_TOKEN is unset
    std::fs::write(env.path(".vault-token"), format!("{BAO_ROOT_TOKEN}\n")).unwrap();
    let out = Sops::new(env.ours_bin(), env.dir()).ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), STORE_INPUTS[0].1);
    std::fs::remove_file(env.path(".vault-token")).unwrap();

    // the allowlist refuses the file's address: no connection is made
    let counter = AcceptCounter::start();
    let (moved, elsewhere) = moved_to(counter.port, "elsewhere.yaml");
    let out = env
        .ours()
        .env("SOPS_HC_VAULT_ALLOWLIST", bao.address())
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
        .ours()
        .env(
            "SOPS_HC_VAULT_ALLOWLIST",
            format!("http://x.invalid,{}", bao.address()),
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
        let (f, addr) = moved_to(fake.port, "fake.yaml");
        let out = env.ours().run(["unseal", &f]);
        assert_fails(out, "fake.yaml", &addr, reason, BAO_ROOT_TOKEN);
    }
    assert_eq!(target.count(), 0, "the redirect was followed");

    // server down
    bao.stop();
    let out = env.ours().run(["unseal", &enc]);
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
    let Some((env, bao)) = setup() else { return };
    let uri = bao.uri("sops");
    let plain = STORE_INPUTS[0].1;
    let by_flag = env
        .ours()
        .ok(["seal", "--hc-vault-transit", &uri, &env.arg("secret.yaml")]);
    let by_env = env
        .ours()
        .env("SOPS_VAULT_URIS", &uri)
        .ok(["seal", &env.arg("secret.yaml")]);
    for (what, sealed) in [("flag", by_flag), ("env", by_env)] {
        let enc = env.write(&format!("{what}.yaml"), &sealed);
        let out = env.sops().ok(["decrypt", &enc]);
        assert_eq!(String::from_utf8_lossy(&out), plain, "{what}");
    }
    let no_scheme = "127.0.0.1:8200/v1/transit/keys/sops";
    let out = env.ours().run([
        "seal",
        "--hc-vault-transit",
        no_scheme,
        &env.arg("secret.yaml"),
    ]);
    assert_fails_on_one_line(out, None, &["missing scheme"], &[]);
}

/// `diff`, `textconv` and `check` treat Vault keys like age keys, without any credential: the keyless
/// diff of two files sealed for different transit keys names both URIs as recipient lines (and
/// masks the values), `textconv` shows the file's `sops.hc_vault` line, and `check` passes the file
/// (its MAC unverifiable without a token, which is not an error unless `--require-keys`).
#[test]
fn keyless_diff_textconv_and_check_name_the_vault_key() {
    let Some((env, bao)) = setup() else { return };
    bao.create_key("other");
    let (a, b) = (bao.uri("sops"), bao.uri("other"));
    let name = STORE_INPUTS[0].0;
    let seal = |uri: &str, out: &str| {
        let sealed = env
            .ours()
            .ok(["seal", "--hc-vault-transit", uri, &env.arg(name)]);
        env.write(out, &sealed)
    };
    let (old, new) = (seal(&a, "old.enc.yaml"), seal(&b, "new.enc.yaml"));
    // no token, no age key: nothing can be decrypted
    let keyless = || Sops::new(env.ours_bin(), env.dir()).env("VAULT_ADDR", "http://127.0.0.1:9");
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

/// `HTTP_PROXY` from the environment carries the Vault requests of both tools, to an `http://`
/// proxy, an `https://` one (TLS to the proxy, its certificate trusted through `SSL_CERT_FILE`)
/// and a `socks5://` one with a user and password: a Vault named `vault.test` (resolved by the
/// proxy only) seals with us and opens with sops 3.13.2 and with us.
#[test]
fn vault_requests_go_through_the_proxy_from_the_environment() {
    let Some((env, bao)) = setup() else { return };
    let pki = e2e_tests::tls::Pki::new(&env.path("pki"), "proxy.test");
    let uri = bao.uri("sops").replace("127.0.0.1", "vault.test");
    let authority = uri
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let want = STORE_INPUTS
        .iter()
        .find(|(n, _)| *n == "secret.yaml")
        .unwrap()
        .1;
    for (proxy, url) in e2e_tests::tls::proxies(&pki, true) {
        let via = |s: Sops| {
            s.env("HTTP_PROXY", &url)
                .env("NO_PROXY", "")
                .env("SSL_CERT_FILE", pki.file("ca.pem"))
        };
        let sealed =
            via(env.ours()).ok(["seal", "--hc-vault-transit", &uri, &env.arg("secret.yaml")]);
        assert!(String::from_utf8_lossy(&sealed).contains("vault.test"));
        let enc = env.write("via-proxy.enc.yaml", &sealed);
        for runner in [via(env.sops()), via(env.ours())] {
            let verb = if runner.bin() == env.ours_bin() {
                "unseal"
            } else {
                "decrypt"
            };
            let out = runner.ok([verb, &enc]);
            assert_eq!(String::from_utf8_lossy(&out), want, "{url}: {verb}");
        }
        let targets = proxy.targets();
        assert_eq!(
            targets.len(),
            3,
            "{url}: seal, sops' decrypt, our unseal: {targets:?}"
        );
        assert!(targets.iter().all(|t| *t == authority), "{targets:?}");
    }
}
