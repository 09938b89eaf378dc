//! Files mixing age, Azure Key Vault and GCP Cloud KMS keys, against the two stand-ins in a
//! loopback-only network namespace (see `e2e_tests::cloud`): Shamir groups (age | azure_kv |
//! gcp_kms, threshold 2) both ways with real sops 3.13.2, and the default decryption order: with an
//! age identity present no connection is made to any key service.

use e2e_tests::cloud::{
    azure_key, azure_vault, CloudEnv, AZURE_PORT, AZURE_VERSION, COUNT_PORT, GCP_KEY, GCP_PORT,
    PROXY_PORT,
};
use e2e_tests::servers::metadata_shape;
use e2e_tests::{age_recipient, vectors_dir_checked, Sops};

const PLAIN: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n    name: demo\nstringData:\n    password: hunter2\n";

fn setup() -> Option<CloudEnv> {
    CloudEnv::start(&[("secret.yaml", PLAIN)])
}

/// The public test age identity.
fn age_key() -> std::path::PathBuf {
    vectors_dir_checked().join("keys/gen_age_a.txt")
}

/// Shamir groups age | azure_kv | gcp_kms with threshold 2, sealed by us and by sops: each opens
/// the other's file with the age key (age + one service) and without it (both services); the
/// metadata is laid out alike.
#[test]
fn shamir_groups_of_age_azure_and_gcp_both_ways() {
    let Some(env) = setup() else { return };
    let recipient = age_recipient(&age_key());
    env.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    encrypted_regex: '^(data|stringData)$'\n    key_groups:\n      - age: [{recipient}]\n      - azure_keyvault:\n          - vaultUrl: {}\n            key: sops-key\n            version: {AZURE_VERSION}\n      - gcp_kms:\n          - resource_id: {GCP_KEY}\n",
            azure_vault()
        )
        .as_bytes(),
    );
    let ours = env.ours().ok(["seal", &env.path("secret.yaml")]);
    let theirs = env.sops().ok(["encrypt", &env.path("secret.yaml")]);
    // the shapes without the lines of the age armor (a multi-line value)
    let shape = |b: &[u8]| -> Vec<String> {
        metadata_shape(&String::from_utf8_lossy(b))
            .into_iter()
            .filter(|l| l.contains(':'))
            .collect()
    };
    assert_eq!(
        shape(&ours),
        shape(&theirs),
        "metadata laid out differently from sops"
    );
    let ours = env.write("ours.yaml", &ours);
    let theirs = env.write("theirs.yaml", &theirs);
    for (who, opener) in [("sops", env.sops()), ("ours", env.ours())] {
        let verb = if who == "sops" { "decrypt" } else { "unseal" };
        for file in [&ours, &theirs] {
            let with_age = opener.clone().age_key_file(age_key()).ok([verb, file]);
            assert_eq!(
                String::from_utf8_lossy(&with_age),
                PLAIN,
                "{who} {file} with age"
            );
            let services_only = opener.clone().ok([verb, file]);
            assert_eq!(
                String::from_utf8_lossy(&services_only),
                PLAIN,
                "{who} {file} without age"
            );
        }
    }
}

/// One group with age, azure_kv and gcp_kms (sealed by sops): with the age identity, unsealing
/// makes no connection to the vault, the Cloud KMS endpoint or an identity endpoint (all pointed at
/// a connection counter); without it (the control) the counter sees the attempts.
#[test]
fn age_first_makes_no_network_call() {
    let Some(env) = setup() else { return };
    let recipient = age_recipient(&age_key());
    let sealed = env.sops().ok([
        "encrypt",
        "--age",
        &recipient,
        "--azure-kv",
        &azure_key(true),
        "--gcp-kms",
        GCP_KEY,
        &env.path("secret.yaml"),
    ]);
    let text = String::from_utf8_lossy(&sealed)
        .replace(&format!(":{AZURE_PORT}"), &format!(":{COUNT_PORT}"));
    let enc = env.write("mixed.yaml", text.as_bytes());
    let counted = |s: Sops| {
        s.env(
            "SOPS_GCP_KMS_ENDPOINT",
            format!("http://127.0.0.1:{COUNT_PORT}"),
        )
        .env(
            "IDENTITY_ENDPOINT",
            format!("http://127.0.0.1:{COUNT_PORT}/msi"),
        )
        .env("GCE_METADATA_HOST", format!("127.0.0.1:{COUNT_PORT}"))
    };
    env.lab.ns.clear_log("count.log");
    let out = counted(env.ours().age_key_file(age_key())).ok(["unseal", &enc]);
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);
    assert_eq!(
        env.lab.ns.log("count.log"),
        "",
        "a key service was contacted"
    );
    // the control: without the age key both services are tried, and fail
    let (code, _, err) = counted(env.ours()).run(["unseal", &enc]);
    assert_eq!(code, 128, "{err}");
    let log = env.lab.ns.log("count.log");
    assert!(log.matches("accept").count() >= 2, "{log}");
}

/// `rekey --add-gcp-kms/--add-azure-kv` (a key URL without a version gets the current one) and
/// `--rm-gcp-kms/--rm-azure-kv` (without a version: every version): values untouched, sops opens
/// each result with the keys it names.
#[test]
fn rekey_adds_and_removes_gcp_and_azure_keys() {
    let Some(env) = setup() else { return };
    let recipient = age_recipient(&age_key());
    let sealed = env
        .ours()
        .ok(["seal", "--age", &recipient, &env.path("secret.yaml")]);
    let file = env.write("rekeyed.yaml", &sealed);
    let values = |t: &str| t[..t.find("sops:").unwrap()].to_string();
    let before = std::fs::read_to_string(&file).unwrap();

    env.ours().age_key_file(age_key()).ok([
        "rekey",
        "-y",
        "--add-gcp-kms",
        GCP_KEY,
        "--add-azure-kv",
        &azure_key(false),
        &file,
    ]);
    let added = std::fs::read_to_string(&file).unwrap();
    assert_eq!(values(&added), values(&before), "values changed");
    assert!(
        added.contains(GCP_KEY) && added.contains(AZURE_VERSION),
        "{added}"
    );
    // sops opens it with the services alone, and so do we
    for order in ["azure_kv", "gcp_kms"] {
        let out = env
            .sops()
            .env("SOPS_DECRYPTION_ORDER", order)
            .ok(["decrypt", &file]);
        assert_eq!(String::from_utf8_lossy(&out), PLAIN, "{order}");
    }
    assert_eq!(
        String::from_utf8_lossy(&env.ours().ok(["unseal", &file])),
        PLAIN
    );

    // removing needs no key; a versionless URL names every version
    env.ours().ok([
        "rekey",
        "-y",
        "--rm-gcp-kms",
        GCP_KEY,
        "--rm-azure-kv",
        &azure_key(false),
        &file,
    ]);
    let removed = std::fs::read_to_string(&file).unwrap();
    assert!(
        !removed.contains("gcp_kms") && !removed.contains("azure_kv"),
        "{removed}"
    );
    let out = env.sops().age_key_file(age_key()).ok(["decrypt", &file]);
    assert_eq!(String::from_utf8_lossy(&out), PLAIN);

    // malformed keys are refused before anything is touched
    for (flag, value, words) in [
        ("--add-gcp-kms", "projects/p", "no valid resource ID"),
        ("--add-azure-kv", "http://v/keys/k", "could not parse"),
        (
            "--add-hc-vault-transit",
            "v:8200/v1/t/keys/k",
            "missing scheme",
        ),
    ] {
        let (code, _, err) = env.ours().run(["rekey", "-y", flag, value, &file]);
        assert_ne!(code, 0, "{flag}");
        assert!(err.contains(words), "{flag}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), removed);
}

/// `HTTPS_PROXY`/`HTTP_PROXY` carry our Azure Key Vault (`CONNECT`) and GCP Cloud KMS (absolute
/// form) calls to `sops.localhost`, which is not loopback; the token endpoint on 127.0.0.1 is
/// reached directly. What we seal through the proxy opens with sops 3.13.2 under the same settings.
#[test]
fn azure_and_gcp_requests_go_through_the_proxy_from_the_environment() {
    let Some(env) = setup() else { return };
    let proxy = format!("http://127.0.0.1:{PROXY_PORT}");
    let gcp = format!("http://sops.localhost:{GCP_PORT}");
    let via = |s: Sops| {
        s.env("HTTPS_PROXY", &proxy)
            .env("HTTP_PROXY", &proxy)
            .env("SOPS_GCP_KMS_ENDPOINT", &gcp)
    };
    let proxied = |what: &str, target: String| {
        let log = env.lab.ns.log("proxy.log");
        assert!(
            log.lines().any(|l| l.ends_with(&target)),
            "{what}: no request for {target} through the proxy: {log:?}"
        );
        env.lab.ns.clear_log("proxy.log");
    };
    for (flag, key, target) in [
        (
            "--azure-kv",
            azure_key(true),
            format!("CONNECT sops.localhost:{AZURE_PORT}"),
        ),
        (
            "--gcp-kms",
            GCP_KEY.to_string(),
            format!("POST sops.localhost:{GCP_PORT}"),
        ),
    ] {
        env.lab.ns.clear_log("proxy.log");
        let sealed = via(env.ours()).ok(["seal", flag, &key, &env.path("secret.yaml")]);
        proxied(flag, target.clone());
        let enc = env.write("via-proxy.enc.yaml", &sealed);
        let out = via(env.ours()).ok(["unseal", &enc]);
        assert_eq!(String::from_utf8_lossy(&out), PLAIN, "{flag}");
        proxied(flag, target);
        let out = via(env.sops()).ok(["decrypt", &enc]);
        assert_eq!(String::from_utf8_lossy(&out), PLAIN, "sops {flag}");
    }
}
