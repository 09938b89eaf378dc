//! GCP Cloud KMS keys (`gcp_kms`) against the wire contract: `../shared/tools/kms/gcp-kms-fake.py`
//! (the REST calls real sops 3.13.2 makes with `SOPS_GCP_KMS_CLIENT_TYPE=rest`), all inside a
//! loopback-only network namespace. Files real sops seals open with us byte for byte in every store,
//! files we seal open with sops and are laid out like its own; the credential chain
//! (`GOOGLE_CREDENTIALS` service account / authorized user, `GOOGLE_OAUTH_ACCESS_TOKEN`, the metadata
//! server); and every bad input fails on one line, with sops' exit code, no credential, nothing
//! written. Not tested against the live service.

use e2e_tests::cloud::{CloudEnv, GCP_KEY, HANG_PORT, TOKEN_PORT};
use e2e_tests::servers::STORE_INPUTS;
use e2e_tests::{assert_fails_on_one_line, Sops};

fn setup() -> Option<CloudEnv> {
    CloudEnv::start(STORE_INPUTS)
}

/// `secret.yaml` sealed by real sops for the test key, and where it was written (`gcp.yaml`).
fn sealed_by_sops(env: &CloudEnv) -> (Vec<u8>, String) {
    let sealed = env
        .sops()
        .ok(["encrypt", "--gcp-kms", GCP_KEY, &env.path("secret.yaml")]);
    let enc = env.write("gcp.yaml", &sealed);
    (sealed, enc)
}

/// The `GOOGLE_CREDENTIALS` of an authorized user (client `cid`) with `refresh_token`.
fn authorized_user(refresh_token: &str, token_uri: &str) -> String {
    serde_json::json!({
        "type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
        "refresh_token": refresh_token, "token_uri": token_uri,
    })
    .to_string()
}

/// Sealed by real sops with `--gcp-kms`; we unseal every store byte for byte.
#[test]
fn we_unseal_what_sops_sealed_with_gcp_kms() {
    let Some(env) = setup() else { return };
    env.assert_we_unseal_what_sops_sealed(&["--gcp-kms", GCP_KEY], GCP_KEY);
    assert!(env
        .lab
        .ns
        .log("gcp.log")
        .contains("decrypt fields=['ciphertext', 'name']"));
}

/// Sealed by us (keys from `.sops.yaml` `gcp_kms:`), opened by sops; the metadata is laid out
/// exactly as sops lays out its own.
#[test]
fn sops_opens_what_we_seal_with_gcp_kms() {
    let Some(env) = setup() else { return };
    env.write(
        ".sops.yaml",
        format!("creation_rules:\n  - gcp_kms: {GCP_KEY}\n    unencrypted_suffix: _unencrypted\n")
            .as_bytes(),
    );
    env.assert_sops_opens_what_we_seal(|_, _, _, _| {});
    assert!(env
        .lab
        .ns
        .log("gcp.log")
        .contains("encrypt fields=['name', 'plaintext']"));
}

/// `--gcp-kms` and `SOPS_GCP_KMS_IDS` (comma lists, spaces removed like sops); sops opens both.
#[test]
fn seal_flag_and_env_name_the_gcp_key() {
    let Some(env) = setup() else { return };
    let other = "projects/demo/locations/global/keyRings/sops/cryptoKeys/other";
    let by_flag = env.ours().ok([
        "seal",
        "--gcp-kms",
        &format!("{GCP_KEY}, {other}"),
        &env.path("secret.yaml"),
    ]);
    let by_env = env
        .ours()
        .env("SOPS_GCP_KMS_IDS", GCP_KEY)
        .ok(["seal", &env.path("secret.yaml")]);
    for (what, sealed) in [("flag", by_flag), ("env", by_env)] {
        let text = String::from_utf8_lossy(&sealed).into_owned();
        assert!(text.contains(GCP_KEY), "{what}: {text}");
        assert_eq!(text.contains(other), what == "flag", "{what}: {text}");
        assert_eq!(env.sops_decrypt(what, &sealed), STORE_INPUTS[0].1, "{what}");
    }
}

/// The credential chain: a service account key in `GOOGLE_CREDENTIALS` (as JSON text and as a
/// path) signs an RS256 JWT the token endpoint verifies; an authorized user's refresh token;
/// workload identity federation (file and URL sources, STS exchange, impersonation);
/// `GOOGLE_APPLICATION_CREDENTIALS`; the metadata server (`GCE_METADATA_HOST`).
#[test]
fn credential_chain_gets_tokens_like_google_auth() {
    let Some(env) = setup() else { return };
    let (_, enc) = sealed_by_sops(&env);
    let token_uri = format!("http://127.0.0.1:{TOKEN_PORT}/token");
    let sa = serde_json::json!({
        "type": "service_account", "project_id": "demo", "private_key_id": "k1",
        "private_key": env.lab.sa_key, "client_email": "sops@demo.iam.gserviceaccount.com",
        "token_uri": token_uri,
    })
    .to_string();
    let user = authorized_user("good-refresh", &token_uri);
    let sa_path = env.write("sa.json", sa.as_bytes());
    let subject = env.write("subject-token", b"federated-jwt\n");
    let audience =
        "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh";
    let wif_file = serde_json::json!({
        "type": "external_account", "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": token_uri,
        "credential_source": { "file": subject },
        "service_account_impersonation_url": format!("http://127.0.0.1:{TOKEN_PORT}/impersonate"),
    })
    .to_string();
    let wif_url = serde_json::json!({
        "type": "external_account", "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": token_uri,
        "credential_source": {
            "url": format!("http://127.0.0.1:{TOKEN_PORT}/subject-token"),
            "headers": { "X-Test": "yes" },
            "format": { "type": "json", "subject_token_field_name": "value" },
        },
    })
    .to_string();
    let md_host = format!("127.0.0.1:{TOKEN_PORT}");
    let creds = |c: &str| env.ours().env("GOOGLE_CREDENTIALS", c);
    let cases: Vec<(&str, Sops, &str)> = vec![
        (
            "GOOGLE_CREDENTIALS json",
            creds(&sa),
            "jwt ok RS256 sops@demo.iam.gserviceaccount.com https://www.googleapis.com/auth/cloud-platform 3600",
        ),
        (
            "GOOGLE_CREDENTIALS path",
            creds(&sa_path),
            "jwt ok RS256",
        ),
        (
            "authorized user",
            creds(&user),
            "token POST /token refresh_token",
        ),
        (
            "workload identity federation, file + impersonation",
            creds(&wif_file),
            "token POST impersonate ok",
        ),
        (
            "workload identity federation, url",
            creds(&wif_url),
            "token GET subject",
        ),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            env.ours()
                .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
                .env("GOOGLE_APPLICATION_CREDENTIALS", &sa_path),
            "jwt ok RS256",
        ),
        (
            "metadata server",
            env.ours()
                .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
                .env("GCE_METADATA_HOST", &md_host),
            "token GET metadata",
        ),
    ];
    env.assert_tokens_from(&enc, cases);
    // gcloud's ADC file in $HOME
    std::fs::create_dir_all(env.dir().join(".config/gcloud")).unwrap();
    std::fs::write(
        env.dir()
            .join(".config/gcloud/application_default_credentials.json"),
        &user,
    )
    .unwrap();
    env.lab.ns.clear_log("token.log");
    let out = env
        .ours()
        .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
        .ok(["unseal", &enc]);
    assert_eq!(
        String::from_utf8_lossy(&out),
        STORE_INPUTS[0].1,
        "gcloud ADC"
    );
    assert!(env.lab.ns.log("token.log").contains("refresh_token"));
}

/// Wrong credentials, 403, 5xx, no answer, no credentials at all, a malformed resource id, a
/// ciphertext of another key: one line each, sops' exit code (128 when no key opens the file), no
/// token or key in any message; a failed in-place seal leaves the file as it was.
#[test]
fn bad_inputs_fail_on_one_line_without_credentials() {
    let Some(env) = setup() else { return };
    let (sealed, enc) = sealed_by_sops(&env);
    let token_uri = format!("http://127.0.0.1:{TOKEN_PORT}/token");
    let secrets = [
        "gcp-static-token",
        "fake-token",
        "bad-refresh",
        "csecret",
        "PRIVATE KEY",
    ];

    // wrong refresh token: the token endpoint refuses
    let user = authorized_user("bad-refresh", &token_uri);
    // a service account key the token endpoint does not know (another RSA key)
    let other = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .unwrap()
        .stdout;
    let sa = serde_json::json!({
        "type": "service_account", "private_key": String::from_utf8_lossy(&other),
        "client_email": "x@demo.iam.gserviceaccount.com", "token_uri": token_uri,
    })
    .to_string();
    let creds = |c: &str| env.ours().env("GOOGLE_CREDENTIALS", c);
    let endpoint = |e: &str| env.ours().env("SOPS_GCP_KMS_ENDPOINT", e);
    // no credentials at all: the metadata server at `host`
    let metadata = |host: &str| {
        env.ours()
            .env_remove("GOOGLE_OAUTH_ACCESS_TOKEN")
            .env("GCE_METADATA_HOST", host)
    };
    let hang = format!("127.0.0.1:{HANG_PORT}");
    let cases: Vec<(Sops, &str)> = vec![
        (creds(&user), "invalid_client"),
        (creds(&sa), "HTTP 401"),
        // not JSON, unsupported types
        (creds("{not json"), "neither a file nor valid JSON"),
        (
            creds(r#"{"type":"external_account","credential_source":{"environment_id":"aws1"}}"#),
            "only file and url credential sources",
        ),
        (
            creds(r#"{"type":"impersonated_service_account"}"#),
            "\"impersonated_service_account\"",
        ),
        // 403 and 500 from the service, the service down
        (endpoint("http://127.0.0.1:9403"), "PERMISSION_DENIED"),
        (endpoint("http://127.0.0.1:9500"), "HTTP 500"),
        (endpoint("http://127.0.0.1:1"), "refused"),
        // the metadata server never answers (short time limit), or refuses connections
        (metadata(&hang), "no Google credentials"),
        (metadata("127.0.0.1:1"), "metadata server"),
    ];
    for (runner, reason) in cases {
        let t = std::time::Instant::now();
        assert_fails_on_one_line(runner.run(["unseal", &enc]), 128, &[reason], &secrets);
        assert!(
            t.elapsed().as_secs() < 10,
            "{reason}: took {:?}",
            t.elapsed()
        );
    }

    // the ciphertext of another key: the service refuses to decrypt
    let other_key = "projects/demo/locations/global/keyRings/sops/cryptoKeys/other";
    let moved = env.write(
        "moved.yaml",
        String::from_utf8_lossy(&sealed)
            .replace(GCP_KEY, other_key)
            .as_bytes(),
    );
    let out = env.ours().run(["unseal", &moved]);
    assert_fails_on_one_line(out, 128, &["Decryption failed"], &secrets);
    // a malformed resource id: refused before anything is sent, in sops' words
    let before = env.lab.ns.log("gcp.log");
    let id = "projects/demo/keyRings/sops";
    let out = env
        .ours()
        .run(["seal", "--gcp-kms", id, &env.path("secret.yaml")]);
    assert_fails_on_one_line(out, None, &["no valid resource ID found in"], &secrets);
    assert_eq!(env.lab.ns.log("gcp.log"), before, "a request was sent");

    // a failed in-place seal writes nothing
    let plain = env.path("app.json");
    let out = env
        .ours()
        .env("SOPS_GCP_KMS_ENDPOINT", "http://127.0.0.1:9403")
        .run(["seal", "-i", "--gcp-kms", GCP_KEY, &plain]);
    assert_fails_on_one_line(out, None, &["PERMISSION_DENIED"], &secrets);
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), STORE_INPUTS[1].1);
    // sanity: the counter port was never involved
    assert_eq!(env.lab.ns.log("count.log"), "");
}
