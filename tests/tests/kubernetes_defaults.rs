//! Kubernetes defaults for files of several objects and for Secrets' `data`: without a rule only
//! Secret values are encrypted (apiVersion, kind and metadata stay readable), no rule leaves a
//! Secret value in clear, and `data` must stay base64. Real sops 3.13.2 is the reference.

use e2e_tests::{assert_one_line, text, Env};

/// Real sops 3.13.2 and the vectors' age key `gen_age_a`, in a fresh directory.
fn env() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2\n    user: app\n";

const MIXED: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    labels:\n        app: db\ntype: Opaque\nstringData:\n    password: hunter2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: settings\ndata:\n    mode: fast\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: web\nspec:\n    replicas: 2\n    template:\n        metadata:\n            labels:\n                app: web\n        spec:\n            containers:\n                - name: web\n                  image: nginx\n";

/// A Secret, a ConfigMap and a Deployment sealed without a rule: every document keeps apiVersion,
/// kind and metadata readable, everything else is encrypted, one stderr line says so, and real sops
/// decrypts the result to the input.
#[test]
fn objects_without_a_rule_keep_api_version_kind_and_metadata() {
    let Some(e) = env() else { return };
    e.write("app.yaml", MIXED);
    let (code, out, err) = e.ours().run([
        "seal",
        "--age",
        e.recipient(),
        "--output",
        "app.enc.yaml",
        "app.yaml",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert_eq!(
        err,
        "kubectl-sops: app.yaml: no .sops.yaml rule or rule flag applies; Kubernetes objects: apiVersion, kind and metadata stay readable, every other value is encrypted (unencrypted_regex: ^(apiVersion|kind|metadata)$)\n"
    );
    let enc = e.read("app.enc.yaml");
    for clear in [
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    labels:\n        app: db\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: settings\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: web\n",
        "        metadata:\n            labels:\n                app: web\n",
    ] {
        assert!(enc.contains(clear), "{clear:?} in\n{enc}");
    }
    for secret in ["hunter2", "Opaque", "fast", "nginx", "replicas: 2"] {
        assert!(!enc.contains(secret), "{secret} in clear:\n{enc}");
    }
    assert!(enc.contains("    password: ENC["), "{enc}");
    assert!(enc.contains("    mode: ENC["), "{enc}");
    // real sops reads the rule from every document's metadata and decrypts
    let plain = e.sops().ok(["decrypt", "app.enc.yaml"]);
    assert_eq!(text(&plain), MIXED);
    // …and so do we
    assert_eq!(text(&e.ours().ok(["unseal", "app.enc.yaml"])), MIXED);

    // a Secret alone keeps the Flux rule, also announced
    let secret = MIXED.split("---\n").next().unwrap();
    e.write("s.yaml", secret);
    let (code, _, err) = e.ours().run(["seal", "--age", e.recipient(), "s.yaml"]);
    assert_eq!(code, 0);
    assert!(
        err.ends_with("Kubernetes Secrets: only data and stringData are encrypted (encrypted_regex: ^(data|stringData)$)\n"),
        "{err}"
    );
    // a rule flag: no note
    let (_, _, err) = e.ours().run([
        "seal",
        "--age",
        e.recipient(),
        "--encrypted-regex",
        "^data$",
        "s.yaml",
    ]);
    assert_eq!(err, "");
}

/// A Secret whose `stringData` holds a key named `kind` would leak under the object rule: sops'
/// default applies instead, and the note says so.
#[test]
fn objects_rule_never_leaves_secret_values_in_clear() {
    let Some(e) = env() else { return };
    let leaky = MIXED.replace("    password: hunter2\n", "    kind: hunter2\n");
    e.write("leaky.yaml", &leaky);
    let (code, out, err) = e.ours().run(["seal", "--age", e.recipient(), "leaky.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.ends_with("every value is encrypted (sops' default)\n"),
        "{err}"
    );
    let enc = text(&out);
    assert!(!enc.contains("hunter2"));
    e.write("leaky.enc.yaml", &enc);
    assert_eq!(text(&e.sops().ok(["decrypt", "leaky.enc.yaml"])), leaky);
}

// ------------------------------------------------------------------ Secrets in `data`

#[test]
fn set_refuses_plain_text_in_secret_data_and_base64_encodes_on_request() {
    let Some(e) = env() else { return };
    e.sealed_by_ours("s.enc.yaml", SECRET, "gen_age_a");
    let before = e.read("s.enc.yaml");
    let p = r#"["data"]["token"]"#;
    let (code, _, err) = e.ours().run(["set", "s.enc.yaml", p, "\"not base64!\""]);
    assert_eq!(code, 7, "{err}");
    let line = assert_one_line(&err);
    assert!(!line.contains("not base64!"), "the value leaked: {line}");
    assert!(
        line.contains("stringData") && line.contains("--base64"),
        "{line}"
    );
    assert_eq!(e.read("s.enc.yaml"), before, "unchanged");
    // --base64 encodes
    e.ours()
        .ok(["set", "--base64", "s.enc.yaml", p, "\"not base64!\""]);
    assert_eq!(
        e.sops().ok(["decrypt", "--extract", p, "s.enc.yaml"]),
        b"bm90IGJhc2U2NCE="
    );
    // base64 is accepted as is; stringData takes anything
    e.ours().ok(["set", "s.enc.yaml", p, "\"aGk=\""]);
    e.ours().ok([
        "set",
        "s.enc.yaml",
        r#"["stringData"]["x"]"#,
        "\"any text\"",
    ]);
    // a whole data map is checked too
    let (code, _, _) = e.ours().run([
        "set",
        "s.enc.yaml",
        r#"["data"]"#,
        r#"{"a":"aGk=","b":"no way"}"#,
    ]);
    assert_eq!(code, 7);
}

#[test]
fn check_reports_secret_data_that_is_not_base64() {
    let Some(e) = env() else { return };
    let bad = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\ndata:\n    password: hunter2!\n    ok: aGk=\n";
    e.write("bad.yaml", bad);
    // sealed by real sops, so the file itself is sound
    let out = e.sops().ok([
        "encrypt",
        "--age",
        e.recipient(),
        "--encrypted-regex",
        "^data$",
        "bad.yaml",
    ]);
    e.write("bad.enc.yaml", &text(&out));
    let (code, out, _) = e.ours().run(["check", "bad.enc.yaml"]);
    assert_eq!(code, 1);
    let out = text(&out);
    assert!(
        out.starts_with(
            "bad.enc.yaml: Kubernetes Secret with data that is not base64 at data.password ("
        ),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
}
