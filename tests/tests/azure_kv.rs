//! Azure Key Vault keys (`azure_kv`) against the wire contract: `../shared/tools/kms/azure-kv-fake.py`
//! (bearer challenge, key version lookup, RSA-OAEP-256, an App Service identity endpoint), served
//! over https as `sops.localhost` inside a loopback-only network namespace with a private
//! `/etc/hosts`. Files real sops 3.13.2 seals open with us byte for byte in every store, files we
//! seal open with sops and are laid out like its own; the credential chain; every bad input fails on
//! one line with exit 128, no token or secret, nothing written, and no token for a foreign domain.
//! Not tested against the live service.

use e2e_tests::cloud::{
    azure_key, azure_vault, CloudEnv, AZURE_PORT, AZURE_VERSION, FAKE_TOKEN, HANG_PORT, TOKEN_PORT,
};
use e2e_tests::servers::STORE_INPUTS;
use e2e_tests::{assert_fails_on_one_line, text as text_of, Outcome, Sops};

/// Words that must never show up in a message.
const SECRETS: &[&str] = &[
    FAKE_TOKEN,
    "dummy-identity-header",
    "right-secret",
    "wrong-secret",
    "federated-jwt",
];

fn setup() -> Option<CloudEnv> {
    CloudEnv::start(STORE_INPUTS)
}

/// `secret.yaml` sealed by real sops for the versioned key.
fn sealed_by_sops(env: &CloudEnv) -> Vec<u8> {
    let secret = env.path("secret.yaml");
    env.sops()
        .ok(["encrypt", "--azure-kv", &azure_key(true), &secret])
}

/// Sealed by real sops with `--azure-kv` (with and without a version); we unseal every store byte
/// for byte.
#[test]
fn we_unseal_what_sops_sealed_with_azure_kv() {
    let Some(env) = setup() else { return };
    for with_version in [true, false] {
        env.assert_we_unseal_what_sops_sealed(
            &["--azure-kv", &azure_key(with_version)],
            AZURE_VERSION,
        );
    }
    // what sops sends (we only decrypted here): the version lookup, then RSA-OAEP-256, API 2025-07-01
    assert_logged(
        &env,
        &[
            "GET /keys/sops-key/ ['2025-07-01']",
            "POST /keys/sops-key/0123456789abcdef0123456789abcdef/encrypt ['2025-07-01'] ['alg', 'value']",
            "POST /keys/sops-key/0123456789abcdef0123456789abcdef/decrypt ['2025-07-01'] ['alg', 'value']",
        ],
    );
}

/// Each of `calls` is in the stand-in's request log.
fn assert_logged(env: &CloudEnv, calls: &[&str]) {
    let log = env.lab.ns.log("azure.log");
    for call in calls {
        assert!(log.contains(call), "{call}: {log}");
    }
}

/// Sealed by us (`.sops.yaml` `azure_keyvault:` without a version: the current one is looked up),
/// opened by sops; the metadata is laid out exactly as sops lays out its own.
#[test]
fn sops_opens_what_we_seal_with_azure_kv() {
    let Some(env) = setup() else { return };
    env.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - azure_keyvault: {}\n    unencrypted_suffix: _unencrypted\n",
            azure_key(false)
        )
        .as_bytes(),
    );
    env.assert_sops_opens_what_we_seal(|name, text, sealed, dargs| {
        assert!(text_of(sealed).contains(AZURE_VERSION), "{name}");
        // the older pinned sops (API 7.6) too, when its peer is there
        if let Some(old) = e2e_tests::peer("sops-3.11") {
            let out = env.lab.runner(&old, env.dir()).ok(dargs);
            assert_eq!(text_of(&out), text, "sops 3.11 {name}");
        }
    });
    let calls = [
        "GET /keys/sops-key/ ['2025-07-01']",
        "/encrypt ['2025-07-01'] ['alg', 'value']",
    ];
    assert_logged(&env, &calls);
}

/// `--azure-kv` (comma list), `SOPS_AZURE_KEYVAULT_URLS` and a `key_groups` entry
/// `azure_keyvault: [{vaultUrl, key, version}]`; sops opens all three.
#[test]
fn seal_flag_env_and_key_group_name_the_azure_key() {
    let Some(env) = setup() else { return };
    let by_flag = env.ours().ok([
        "seal",
        "--azure-kv",
        &format!("{}, {}", azure_key(true), azure_key(false)),
        &env.path("secret.yaml"),
    ]);
    // like sops, keys from the command line are not deduplicated: two entries, one version
    let flag_text = String::from_utf8_lossy(&by_flag).into_owned();
    assert_eq!(flag_text.matches("vault_url:").count(), 2, "{flag_text}");
    assert_eq!(flag_text.matches(AZURE_VERSION).count(), 2, "{flag_text}");
    let by_env = env
        .ours()
        .env("SOPS_AZURE_KEYVAULT_URLS", azure_key(true))
        .ok(["seal", &env.path("secret.yaml")]);
    env.write(
        "groups.sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - azure_keyvault:\n          - vaultUrl: {}\n            key: sops-key\n            version: {AZURE_VERSION}\n",
            azure_vault()
        )
        .as_bytes(),
    );
    let by_group = env
        .ours()
        .config(env.dir().join("groups.sops.yaml"))
        .ok(["seal", &env.path("secret.yaml")]);
    for (what, sealed) in [("flag", by_flag), ("env", by_env), ("group", by_group)] {
        assert_eq!(env.sops_decrypt(what, &sealed), STORE_INPUTS[0].1, "{what}");
    }
}

/// The chain of Go's DefaultAzureCredential: an environment service principal (secret, or a
/// client certificate whose RS256 assertion the authority verifies), workload identity, managed
/// identity through IMDS and App Service.
#[test]
fn credential_chain_like_default_azure_credential() {
    let Some(env) = setup() else { return };
    let sealed = sealed_by_sops(&env);
    let enc = env.write("azure.yaml", &sealed);
    let authority = format!("http://127.0.0.1:{TOKEN_PORT}");
    let federated = env.write("federated-token", b"federated-jwt\n");
    let no_msi = |s: Sops| {
        s.env_remove("IDENTITY_ENDPOINT")
            .env_remove("IDENTITY_HEADER")
    };
    let app = |s: Sops| app_registration(s, &authority);
    let cert = format!(
        "{}{}",
        std::fs::read_to_string(env.dir().join("sa-cert.pem")).unwrap(),
        env.lab.sa_key
    );
    let cert = env.write("client-cert.pem", cert.as_bytes());
    let cases: Vec<(&str, Sops, &str)> = vec![
        (
            "service principal",
            app(no_msi(env.ours()))
                .env("AZURE_CLIENT_SECRET", "right-secret"),
            "token POST /tenant-1/oauth2/v2.0/token client_credentials ['client_id', 'client_secret', 'grant_type', 'scope']",
        ),
        (
            "client certificate",
            app(no_msi(env.ours()))
                .env("AZURE_CLIENT_CERTIFICATE_PATH", &cert),
            "jwt ok RS256 client-1 http://127.0.0.1:9100/tenant-1/oauth2/v2.0/token 600 x5t",
        ),
        (
            "workload identity",
            app(no_msi(env.ours()))
                .env("AZURE_FEDERATED_TOKEN_FILE", &federated),
            "client_assertion_type",
        ),
        (
            "IMDS",
            no_msi(env.ours()).env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &authority),
            "token GET imds ['api-version', 'resource']",
        ),
    ];
    env.assert_tokens_from(&enc, cases);
    // App Service (the runner's default)
    env.lab.ns.clear_log("azure.log");
    let out = env.ours().ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), STORE_INPUTS[0].1);
    let log = env.lab.ns.log("azure.log");
    assert!(
        log.contains(&format!(
            "token ['2019-08-01'] ['https://localhost:{AZURE_PORT}'] hdr"
        )),
        "{log}"
    );
}

/// `s` as the app registration `client-1` of `tenant-1`, its authority at `authority`.
fn app_registration(s: Sops, authority: &str) -> Sops {
    s.env("AZURE_AUTHORITY_HOST", authority)
        .env("AZURE_TENANT_ID", "tenant-1")
        .env("AZURE_CLIENT_ID", "client-1")
}

/// A failure on one line, exit 128, that says `reason` and none of [`SECRETS`].
fn assert_fails(out: Outcome, reason: &str) {
    assert_fails_on_one_line(out, 128, &[reason], SECRETS);
}

/// Wrong credentials, unusable certificate credentials, a vault on a foreign domain (no token is asked for
/// or sent), 403, 5xx, a missing or wrong key version, no credential at all (IMDS silent), a vault
/// that is down or never answers: one line each, exit 128, no secret; a failed in-place seal
/// leaves the file as it was.
#[test]
fn bad_inputs_fail_on_one_line_without_secrets() {
    let Some(env) = setup() else { return };
    let sealed = sealed_by_sops(&env);
    let text = String::from_utf8_lossy(&sealed).into_owned();
    let enc = env.write("azure.yaml", &sealed);
    let authority = format!("http://127.0.0.1:{TOKEN_PORT}");
    let sp = |secret: &str| {
        app_registration(env.ours().env_remove("IDENTITY_ENDPOINT"), &authority)
            .env("AZURE_CLIENT_SECRET", secret)
    };

    // wrong client secret
    assert_fails(sp("wrong-secret").run(["unseal", &enc]), "invalid_client");
    // certificate credentials: one without its key, a password-protected one (unsupported)
    let cert_only = |s: Sops| {
        s.env("AZURE_TENANT_ID", "tenant-1")
            .env("AZURE_CLIENT_ID", "client-1")
            .env("AZURE_CLIENT_CERTIFICATE_PATH", env.path("sa-cert.pem"))
    };
    assert_fails(
        cert_only(env.ours()).run(["unseal", &enc]),
        "holds no PEM private key",
    );
    assert_fails(
        cert_only(env.ours())
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pw")
            .run(["unseal", &enc]),
        "password-protected certificates are not supported",
    );

    // a foreign domain: the challenge resource (localhost) is not a parent of vault.evil.test
    env.lab.ns.clear_log("azure.log");
    let evil = env.write(
        "evil.yaml",
        text.replace("https://sops.localhost:", "https://vault.evil.test:")
            .as_bytes(),
    );
    assert_fails(
        env.ours().run(["unseal", &evil]),
        "does not match the vault's domain",
    );
    assert_eq!(
        env.lab.ns.log("azure.log"),
        "",
        "a token was asked for or sent"
    );

    // 403 and 500 from a vault of the right domain; the entry's version is missing, or no such
    // version
    let port = format!(":{AZURE_PORT}");
    let version = format!("version: {AZURE_VERSION}");
    for (name, from, to, reason) in [
        ("status.yaml", port.as_str(), ":9443", "Forbidden"),
        ("status.yaml", &port, ":9444", "HTTP 500"),
        (
            "nover.yaml",
            &version,
            "version: \"\"",
            "names no key version",
        ),
        ("badver.yaml", &version, "version: ffff", "BadParameter"),
    ] {
        let f = env.write(name, text.replace(from, to).as_bytes());
        assert_fails(env.ours().run(["unseal", &f]), reason);
    }

    // no credential at all: IMDS never answers (short limit), no az/azd
    let t = std::time::Instant::now();
    let out = env
        .ours()
        .env_remove("IDENTITY_ENDPOINT")
        .env(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{HANG_PORT}"),
        )
        .run(["unseal", &enc]);
    assert_fails(out, "no Azure credential");
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());

    // the vault is down, or never answers
    let hang_port = format!(":{HANG_PORT}");
    for (name, to, reason) in [
        ("down.yaml", ":1", "refused"),
        ("hang.yaml", hang_port.as_str(), "no answer within"),
    ] {
        let f = env.write(name, text.replace(&port, to).as_bytes());
        assert_fails(env.ours().run(["unseal", &f]), reason);
    }

    // a malformed URL: sops' words, nothing sent
    let url = "http://sops.localhost:8443/keys/k";
    let out = env
        .ours()
        .run(["seal", "--azure-kv", url, &env.path("secret.yaml")]);
    assert_fails_on_one_line(out, None, &["could not parse"], SECRETS);

    // a failed in-place seal writes nothing
    let plain = env.path("app.json");
    let out = env.ours().run([
        "seal",
        "-i",
        "--azure-kv",
        &format!("https://sops.localhost:9443/keys/sops-key/{AZURE_VERSION}"),
        &plain,
    ]);
    assert_fails_on_one_line(out, None, &["Forbidden"], SECRETS);
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), STORE_INPUTS[1].1);
}
