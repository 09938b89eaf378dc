//! Smoke tests of the local control plane (`scripts/peers.sh up`: real etcd + kube-apiserver) driven
//! by real kubectl: server-side apply round-trips a Secret, the unprivileged kubeconfig is refused
//! by RBAC, and the SopsSecret CRD fixture is served and accepts a CR carrying `sops` metadata.

use e2e_tests::{cluster, workspace_root, Cluster};

/// `base64` of ASCII text (kept here to avoid a dependency for one test).
fn b64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_helper() {
    for (text, encoded) in [("hunter2", "aHVudGVyMg=="), ("ab", "YWI="), ("abc", "YWJj")] {
        assert_eq!(b64(text), encoded, "{text}");
    }
}

/// `kubectl apply --server-side` of `manifest` as field manager `manager`, required to succeed:
/// kubectl's output, trimmed.
fn apply_ok(c: &Cluster, manager: &str, manifest: &str) -> String {
    let (code, out, err) = c.apply_server_side(manager, manifest);
    assert_eq!(code, 0, "{err}");
    String::from_utf8_lossy(&out).trim().to_string()
}

#[test]
fn server_side_apply_round_trips_a_secret() {
    let Some(c) = cluster() else { return };
    let ns = c.fresh_namespace("smoke-ssa");
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {ns}\ntype: Opaque\n\
         data:\n  password: {}\nstringData:\n  user: app\n",
        b64("hunter2")
    );
    let applied = apply_ok(&c, "e2e-smoke", &manifest);
    assert_eq!(applied, "secret/db serverside-applied");

    let get = |path: &str| c.jsonpath("secret", "db", &ns, path);
    assert_eq!(get(".data.password"), b64("hunter2"));
    // the server folds stringData into data
    assert_eq!(get(".data.user"), b64("app"));
    assert_eq!(
        get(".metadata.managedFields[0].manager"),
        "e2e-smoke",
        "field manager"
    );
    assert_eq!(get(".metadata.managedFields[0].operation"), "Apply");

    // a second identical apply is a no-op: the resourceVersion stays
    let rv = get(".metadata.resourceVersion");
    let (code, _, err) = c.apply_server_side("e2e-smoke", &manifest);
    assert_eq!(code, 0, "{err}");
    assert_eq!(get(".metadata.resourceVersion"), rv);
}

#[test]
fn unprivileged_kubeconfig_is_forbidden() {
    let Some(c) = cluster() else { return };
    let (code, out, err) = c.kubectl_with(
        c.unprivileged_kubeconfig(),
        ["get", "secrets", "-n", "default"],
        None,
    );
    assert_ne!(
        code,
        0,
        "unprivileged user listed secrets: {}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        err.contains("(Forbidden)") && err.contains("\"unprivileged\""),
        "expected an RBAC refusal, got: {err}"
    );
    // it is authenticated (not anonymous): the token is valid, only RBAC refuses
    let (code, out, err) = c.kubectl_with(
        c.unprivileged_kubeconfig(),
        [
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "unprivileged");
}

#[test]
fn sopssecret_crd_becomes_established_and_keeps_sops_metadata() {
    let Some(c) = cluster() else { return };
    let crd = workspace_root().join("tests/fixtures/sopssecret-crd.yaml");
    let (code, _, err) = c.kubectl([
        "apply".as_ref(),
        "--server-side".as_ref(),
        "--field-manager=e2e-crd".as_ref(),
        "-f".as_ref(),
        crd.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    c.wait_crd_established("sopssecrets.isindir.github.com");

    let ns = c.fresh_namespace("smoke-crd");
    let cr = format!(
        "apiVersion: isindir.github.com/v1alpha3\nkind: SopsSecret\nmetadata:\n  name: app\n  namespace: {ns}\n\
         spec:\n  secretTemplates:\n  - name: app-db\n    stringData:\n      \
         password: ENC[AES256_GCM,data:aGk=,iv:aXY=,tag:dGFn,type:str]\n\
         sops:\n  age:\n  - recipient: age1example\n    enc: |\n      -----BEGIN AGE ENCRYPTED FILE-----\n      \
         -----END AGE ENCRYPTED FILE-----\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  \
         mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]\n  unencrypted_suffix: _unencrypted\n  \
         mac_only_encrypted: true\n  version: 3.13.2\n"
    );
    let applied = apply_ok(&c, "e2e-crd", &cr);
    assert_eq!(
        applied,
        "sopssecret.isindir.github.com/app serverside-applied"
    );
    let get = |path: &str| c.jsonpath("sopssecrets.isindir.github.com", "app", &ns, path);
    // preserve-unknown-fields: every sops field is kept, with its type
    assert_eq!(get(".sops.unencrypted_suffix"), "_unencrypted");
    assert_eq!(get(".sops.mac_only_encrypted"), "true");
    assert_eq!(get(".sops.age[0].recipient"), "age1example");
    assert_eq!(
        get(".spec.secretTemplates[0].stringData.password"),
        "ENC[AES256_GCM,data:aGk=,iv:aXY=,tag:dGFn,type:str]"
    );
}
