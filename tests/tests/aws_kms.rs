//! AWS KMS keys (`kms`) against local-kms on loopback, seeded with the fixed test key of
//! `tests/fixtures/kms/local-kms-seed.yaml` and started by each test: the vectors real sops made once
//! open with a fresh server; files sops seals open with us byte for byte and ours with sops 3.13.2 and
//! 3.11; the metadata (`aws_profile: ""`, `context` +2, dotenv flattening) is laid out like sops'; an
//! age+kms file opens with the KMS endpoint dead and no connection; bad inputs fail on one line; a
//! `role` is assumed through STS (moto's server, which has both).

use std::path::{Path, PathBuf};

use e2e_tests::servers::{
    kms_alias_arn, kms_key_arn, metadata_shape, store_args, AcceptCounter, LocalKms, Moto,
};
use e2e_tests::{
    assert_fails_on_one_line, need, need1, workspace_bin, workspace_root, Env, Outcome, Sops,
};

fn fixtures() -> PathBuf {
    workspace_root().join("tests/fixtures/kms")
}

/// The temp dir with the fixtures, both sops versions, and every runner with static test
/// credentials and KMS at local-kms (IMDS pointed at nothing); the server beside it.
fn setup() -> Option<(Env, LocalKms)> {
    let kms = LocalKms::start(&need1("local-kms")?);
    let env = Env::new()
        .with_all_sops()?
        .runner_env("AWS_ACCESS_KEY_ID", "test")
        .runner_env("AWS_SECRET_ACCESS_KEY", "test")
        .runner_env("AWS_ENDPOINT_URL_KMS", kms.endpoint())
        .runner_env("AWS_EC2_METADATA_DISABLED", "true");
    for f in ["secret.yaml", "app.env"] {
        env.write(f, &std::fs::read(fixtures().join(f)).unwrap());
    }
    Some((env, kms))
}

/// The committed vectors (made once by real sops against a seeded server) open with a fresh one.
#[test]
fn committed_vectors_open_with_a_fresh_seeded_server() {
    let Some((env, _kms)) = setup() else { return };
    for (vector, plain) in [
        ("kms-key.enc.yaml", "secret.yaml"),
        ("kms-alias.enc.yaml", "secret.yaml"),
        ("kms-context.enc.yaml", "secret.yaml"),
        ("kms-context-3.11.enc.yaml", "secret.yaml"),
        ("kms-context.enc.env", "app.env"),
        ("kms-age.enc.yaml", "secret.yaml"),
    ] {
        let file = fixtures().join(vector).display().to_string();
        let out = env.ours().ok(store_args(&["unseal"], &file));
        assert_eq!(String::from_utf8_lossy(&out), env.read(plain), "{vector}");
    }
}

/// Sealed now by both sops versions (key ARN, alias ARN, context; YAML and dotenv): we unseal them.
#[test]
fn we_unseal_what_sops_sealed_with_kms() {
    let Some((env, _kms)) = setup() else { return };
    let key = kms_key_arn();
    let alias = kms_alias_arn();
    let modes: [(&str, Vec<&str>); 3] = [
        ("key", vec!["--kms", &key]),
        ("alias", vec!["--kms", &alias]),
        (
            "context",
            vec!["--kms", &key, "--encryption-context", "app:demo,env:test"],
        ),
    ];
    for name in ["secret.yaml", "app.env"] {
        for (mode, flags) in &modes {
            for (sops_name, sops_bin) in env.sops_peers() {
                let head = [&["encrypt"][..], flags].concat();
                let args = store_args(&head, &env.arg(name));
                let enc = env.runner(sops_bin).ok(&args);
                let enc = env.write(&format!("{mode}-{name}"), &enc);
                let uargs = store_args(&["unseal"], &enc);
                let out = env.ours().ok(&uargs);
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    env.read(name),
                    "{sops_name} {mode} {name}"
                );
            }
        }
    }
}

/// Sealed by us from `.sops.yaml` (a flat `kms` rule and a key group with a context), opened by both
/// sops versions; the metadata lines equal those of sops 3.13.2 sealing the same input.
#[test]
fn sops_opens_what_we_seal_with_kms_laid_out_alike() {
    let Some((env, _kms)) = setup() else { return };
    let key = kms_key_arn();
    for (rule, what) in [
        (format!("kms: {key}"), "flat kms"),
        (
            format!("key_groups:\n      - kms:\n          - arn: {key}\n            context:\n              app: demo\n              env: test\n"),
            "key group with context",
        ),
    ] {
        std::fs::write(
            env.path(".sops.yaml"),
            format!("creation_rules:\n  - unencrypted_suffix: _unencrypted\n    {rule}\n"),
        )
        .unwrap();
        for name in ["secret.yaml", "app.env"] {
            let args = store_args(&["seal"], &env.arg(name));
            let sealed = env.ours().ok(&args);
            let text = String::from_utf8_lossy(&sealed).into_owned();
            let enc = env.write(&format!("ours-{name}"), &sealed);
            for (sops_name, sops_bin) in env.sops_peers() {
                let dargs = store_args(&["decrypt"], &enc);
                let (code, out, err) = env.runner(sops_bin).run(&dargs);
                assert_eq!(code, 0, "{sops_name} cannot open our {name} ({what}): {err}");
                assert_eq!(String::from_utf8_lossy(&out), env.read(name));
            }
            let sargs = store_args(&["encrypt"], &env.arg(name));
            let theirs = env.sops().ok(&sargs);
            assert_eq!(
                metadata_shape(&text),
                metadata_shape(&String::from_utf8_lossy(&theirs)),
                "{name} ({what}): laid out unlike sops 3.13.2"
            );
            if name == "secret.yaml" {
                assert!(text.contains("          aws_profile: \"\"\n"), "{text}");
                if what.contains("context") {
                    assert!(
                        text.contains("          context:\n            app: demo\n            env: test\n"),
                        "{text}"
                    );
                }
            }
        }
    }
}

/// An age + kms file with the KMS endpoint (and instance metadata) on a listener that counts: the
/// age identity opens it and no connection is attempted. Without the age key the same file fails
/// with 128, having tried KMS.
#[test]
fn age_and_kms_file_opens_with_kms_down_and_no_connection() {
    let Some((env, _kms)) = setup() else { return };
    let a = env.recipient_of("gen_age_a");
    let sealed = env.sops().ok([
        "encrypt",
        "--kms",
        &kms_key_arn(),
        "--age",
        &a,
        &env.arg("secret.yaml"),
    ]);
    let enc = env.write("mixed.yaml", &sealed);
    let counter = AcceptCounter::start();
    let dead = format!("http://127.0.0.1:{}", counter.port);
    let run = || {
        Sops::new(env.ours_bin(), env.dir())
            .env("AWS_ENDPOINT_URL_KMS", &dead)
            .env("AWS_ENDPOINT_URL", &dead)
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &dead)
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{dead}/creds"),
            )
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
    };
    let out = run()
        .age_key_file(env.age_key("gen_age_a"))
        .ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), env.read("secret.yaml"));
    assert_eq!(counter.count(), 0, "a connection was attempted");
    let (code, _, err) = run().run(["unseal", &enc]);
    assert_eq!(code, 128, "{err}");
    assert!(
        err.contains("mixed.yaml") && err.contains(&kms_key_arn()),
        "{err}"
    );
    assert!(
        counter.count() >= 1,
        "KMS was not tried without the age key"
    );
}

/// Context changed in the file, server down, no credentials at all: one line, exit 128, no secret.
#[test]
fn bad_inputs_fail_on_one_line() {
    let Some((env, mut kms)) = setup() else {
        return;
    };
    let sealed = env.sops().ok([
        "encrypt",
        "--kms",
        &kms_key_arn(),
        "--encryption-context",
        "app:demo",
        &env.arg("secret.yaml"),
    ]);
    let enc = env.write("ctx.yaml", &sealed);
    let check = |out: Outcome, reason: &str| {
        let err = assert_fails_on_one_line(out, 128, &[&kms_key_arn(), reason], &["secret-access"]);
        assert!(
            err.contains("ctx.yaml") || err.contains("changed.yaml"),
            "{err}"
        );
    };

    // the context was changed: KMS refuses the ciphertext
    let changed = env.write(
        "changed.yaml",
        String::from_utf8_lossy(&sealed)
            .replace("app: demo", "app: other")
            .as_bytes(),
    );
    check(
        env.ours().run(["unseal", &changed]),
        "InvalidCiphertextException",
    );
    // no credentials anywhere: the chain is named; instance metadata points at a counting listener
    let counter = AcceptCounter::start();
    let started = std::time::Instant::now();
    let out = Sops::new(env.ours_bin(), env.dir())
        .env("AWS_ENDPOINT_URL_KMS", kms.endpoint())
        .env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{}", counter.port),
        )
        .run(["unseal", &enc]);
    check(out, "no AWS credentials");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the credential chain took {:?}",
        started.elapsed()
    );
    // secret key in the environment never shows up
    let out = env
        .ours()
        .env("AWS_SECRET_ACCESS_KEY", "secret-access-key-value")
        .run(["unseal", &changed]);
    check(out, "InvalidCiphertextException");
    // server down
    kms.stop();
    check(env.ours().run(["unseal", &enc]), "KMS Decrypt");
}

/// `seal --kms ARN --encryption-context k:v --aws-profile P`: the entry carries the context and the
/// profile as sops writes them, and sops opens the file (the profile exists in ~/.aws/config).
#[test]
fn seal_flags_name_the_kms_key_context_and_profile() {
    let Some((env, _kms)) = setup() else { return };
    std::fs::create_dir_all(env.path(".aws")).unwrap();
    std::fs::write(
        env.path(".aws/credentials"),
        "[bench]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    let sealed = env.ours().ok([
        "seal",
        "--kms",
        &kms_key_arn(),
        "--encryption-context",
        "app:demo",
        "--aws-profile",
        "bench",
        &env.arg("secret.yaml"),
    ]);
    let text = String::from_utf8_lossy(&sealed).into_owned();
    assert!(
        text.contains("          aws_profile: bench\n          context:\n            app: demo\n"),
        "{text}"
    );
    let enc = env.write("flags.yaml", &sealed);
    for (sops_name, sops_bin) in env.sops_peers() {
        let out = env
            .runner(sops_bin)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .ok(["decrypt", &enc]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            env.read("secret.yaml"),
            "{sops_name}"
        );
    }
}

/// `--kms ARN+ROLE`: the role is assumed through STS before KMS is called. moto serves KMS and STS
/// on one endpoint (local-kms has no STS): our file carries `role` like sops' and opens with sops
/// 3.13.2 and 3.11, sops' opens with us byte for byte; with STS pointed at a counting listener the
/// role file fails on one line after STS was tried, while the same key without a role still opens.
#[test]
fn kms_role_is_assumed_through_sts_both_ways() {
    let Some(peers) = need(&["moto_server", "sops", "sops-3.11"]) else {
        return;
    };
    let moto = Moto::start(&peers[0]);
    let arn = moto.create_key();
    let role = "arn:aws:iam::123456789012:role/sops-test";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(fixtures().join("secret.yaml"), dir.join("secret.yaml")).unwrap();
    let plain = std::fs::read_to_string(dir.join("secret.yaml")).unwrap();
    let ours = workspace_bin("kubectl-sops");
    let run = |bin: &Path, sts: &str| {
        Sops::new(bin, dir)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_ENDPOINT_URL_STS", sts)
            .env("AWS_EC2_METADATA_DISABLED", "true")
    };
    let sts = moto.endpoint();
    let key = format!("{arn}+{role}");

    let sealed = run(&ours, &sts).ok(["seal", "--kms", &key, "secret.yaml"]);
    let text = String::from_utf8_lossy(&sealed).into_owned();
    assert!(
        text.contains(&format!("          role: {role}\n")),
        "{text}"
    );
    std::fs::write(dir.join("ours.yaml"), &sealed).unwrap();
    for sops in &peers[1..] {
        let (code, out, err) = run(sops, &sts).run(["decrypt", "ours.yaml"]);
        assert_eq!(
            code,
            0,
            "{} cannot open our role file: {err}",
            sops.display()
        );
        assert_eq!(String::from_utf8_lossy(&out), plain);
    }
    // kubectl-sops seals a manifest's data/stringData by default; sops is told the same
    let theirs = run(&peers[1], &sts).ok([
        "encrypt",
        "--kms",
        &key,
        "--encrypted-regex",
        "^(data|stringData)$",
        "secret.yaml",
    ]);
    assert_eq!(
        metadata_shape(&text),
        metadata_shape(&String::from_utf8_lossy(&theirs)),
        "laid out unlike sops 3.13.2"
    );
    std::fs::write(dir.join("theirs.yaml"), &theirs).unwrap();
    let out = run(&ours, &sts).ok(["unseal", "theirs.yaml"]);
    assert_eq!(String::from_utf8_lossy(&out), plain);

    // STS down: the role file fails after trying STS; without a role KMS alone opens the file
    let counter = AcceptCounter::start();
    let dead = format!("http://127.0.0.1:{}", counter.port);
    let (code, out, err) = run(&ours, &dead).run(["unseal", "theirs.yaml"]);
    assert_eq!(code, 128, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("theirs.yaml") && err.contains(&arn), "{err}");
    assert!(counter.count() >= 1, "STS was not tried for the role");
    let no_role = run(&ours, &dead).ok(["seal", "--kms", &arn, "secret.yaml"]);
    std::fs::write(dir.join("no-role.yaml"), &no_role).unwrap();
    let before = counter.count();
    let out = run(&ours, &dead).ok(["unseal", "no-role.yaml"]);
    assert_eq!(String::from_utf8_lossy(&out), plain);
    assert_eq!(counter.count(), before, "STS was called without a role");
}

/// `HTTP_PROXY` from the environment carries the KMS calls of both tools, to an `http://` proxy
/// and to an `https://` one (its certificate trusted through `SSL_CERT_FILE`): a KMS endpoint
/// named `kms.test` (resolved by the proxy only) opens a committed vector with us, and what we
/// seal opens with sops 3.13.2. A `socks5://` proxy is refused for KMS in one line.
#[test]
fn kms_requests_go_through_the_proxy_from_the_environment() {
    let Some((env, kms)) = setup() else { return };
    let pki = e2e_tests::tls::Pki::new(&env.path("pki"), "proxy.test");
    let endpoint = kms.endpoint().replace("127.0.0.1", "kms.test");
    let target = endpoint.trim_start_matches("http://").to_string();
    let vector = fixtures().join("kms-key.enc.yaml").display().to_string();
    for (proxy, url) in e2e_tests::tls::proxies(&pki, false) {
        let via = |s: Sops| {
            s.env("HTTP_PROXY", &url)
                .env("NO_PROXY", "")
                .env("SSL_CERT_FILE", pki.file("ca.pem"))
                .env("AWS_ENDPOINT_URL_KMS", &endpoint)
        };
        let out = via(env.ours()).ok(["unseal", &vector]);
        assert_eq!(String::from_utf8_lossy(&out), env.read("secret.yaml"));
        let sealed = via(env.ours()).ok(["seal", "--kms", &kms_key_arn(), &env.arg("secret.yaml")]);
        let enc = env.write("via-proxy.enc.yaml", &sealed);
        let out = via(env.sops()).ok(["decrypt", &enc]);
        assert_eq!(String::from_utf8_lossy(&out), env.read("secret.yaml"));
        let seen = proxy.targets();
        assert!(
            seen.len() >= 3,
            "{url}: unseal, seal, sops' decrypt: {seen:?}"
        );
        assert!(seen.iter().all(|t| *t == target), "{seen:?}");
    }
    // the AWS SDK takes no SOCKS5 proxy (sops' Go SDK does): one line saying so, nothing sent
    let socks = e2e_tests::proxy::Proxy::start_socks5(None);
    let out = env
        .ours()
        .env("HTTP_PROXY", socks.url())
        .env("NO_PROXY", "")
        .env("AWS_ENDPOINT_URL_KMS", &endpoint)
        .run(["unseal", &vector]);
    assert_fails_on_one_line(out, 128, &["socks5", "only http:// and https://"], &[]);
    assert!(socks.targets().is_empty());
}

/// Go's proxy rules, which sops' AWS SDK follows, not the Rust SDK's own: a KMS endpoint on
/// loopback is reached directly even with `HTTP_PROXY` set and `NO_PROXY` empty, and `ALL_PROXY` is
/// not read. Both tools open the same file with a proxy that accepts nothing set in all three.
#[test]
fn loopback_kms_is_reached_directly_and_all_proxy_is_not_read() {
    let Some((env, kms)) = setup() else { return };
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let via = |s: Sops| {
        s.env("HTTP_PROXY", &dead)
            .env("HTTPS_PROXY", &dead)
            .env("ALL_PROXY", &dead)
            .env("NO_PROXY", "")
            .env("AWS_ENDPOINT_URL_KMS", kms.endpoint())
    };
    let sealed = via(env.ours()).ok(["seal", "--kms", &kms_key_arn(), &env.arg("secret.yaml")]);
    let enc = env.write("direct.enc.yaml", &sealed);
    for tool in [env.ours(), env.sops()] {
        let out = via(tool).ok(["decrypt", &enc]);
        assert_eq!(String::from_utf8_lossy(&out), env.read("secret.yaml"));
    }
}
