//! `kubectl sops apply` and `kubectl sops diff -f` against the real local control plane (etcd +
//! kube-apiserver from `scripts/peers.sh up`), read back with real kubectl, checked against real
//! `kubectl apply --server-side` on the same decrypted manifests.

use std::path::{Path, PathBuf};

use e2e_tests::{argv, assert_fails_on_one_line, Env, Outcome, Sops};
use serde_json::Value as Json;

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: db
  labels:
    app: shop
type: Opaque
data:
  token: dG9rZW4tdmFsdWUtMQ==
stringData:
  password: hunter2-apply-secret
";

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
  replicas: \"3\"
";

const SOPS_SECRET: &str = "apiVersion: isindir.github.com/v1alpha3
kind: SopsSecret
metadata:
  name: bundle
spec:
  secretTemplates:
    - name: api-creds
      labels:
        team: core
      stringData:
        key: sops-secret-value-1
    - name: tls-pair
      type: kubernetes.io/tls
      annotations:
        note: cert
      data:
        tls.crt: Y2VydA==
        tls.key: a2V5LXZhbHVlLTI=
";

/// Strings of the inputs that must never appear in any output or message.
const PLAINTEXTS: &[&str] = &[
    "hunter2-apply-secret",
    "token-value-1",
    "sops-secret-value-1",
    "key-value-2",
];

/// The shared [`Env`]: the age key `gen_age_a`, and every runner as admin of the control plane.
fn setup() -> Option<Env> {
    Env::new().key("gen_age_a").with_cluster()
}

/// Runs kubectl-sops as the admin; checks that no plaintext leaked into its output.
fn run(e: &Env, args: &[&str]) -> Outcome {
    let out = e.ours().run(args);
    assert_no_plaintext(&out);
    out
}

/// `apply -f GOOD -f BAD -n NS`
fn apply_args<'a>(good: &'a str, bad: &'a str, ns: &'a str) -> [&'a str; 7] {
    ["apply", "-f", good, "-f", bad, "-n", ns]
}

fn ours_ok(e: &Env, args: &[&str]) -> String {
    let (code, out, err) = run(e, args);
    assert_eq!(code, 0, "kubectl-sops {args:?}: {err}");
    String::from_utf8(out).unwrap()
}

/// Seals `plain` into `name` (the plaintext file is removed).
fn sealed(e: &Env, name: &str, plain: &str) -> PathBuf {
    let p = e.path(name);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let tmp = e.path("plain.tmp.yaml");
    std::fs::write(&tmp, plain).unwrap();
    let out = Sops::new(e.ours_bin(), e.dir()).ok([
        "seal",
        "--age",
        e.recipient(),
        tmp.to_str().unwrap(),
    ]);
    std::fs::remove_file(&tmp).unwrap();
    std::fs::write(&p, out).unwrap();
    p
}

fn get(e: &Env, ns: &str, what: &str) -> Json {
    let out =
        e.cluster()
            .kubectl_ok(["-n", ns, "get", what, "-o", "json", "--show-managed-fields"]);
    serde_json::from_str(&out).unwrap()
}

fn exists(e: &Env, ns: &str, what: &str) -> bool {
    e.cluster().kubectl(["-n", ns, "get", what]).0 == 0
}

fn assert_no_plaintext((_, out, err): &Outcome) {
    let out = String::from_utf8_lossy(out);
    for p in PLAINTEXTS {
        assert!(!out.contains(p), "plaintext {p:?} in stdout:\n{out}");
        assert!(!err.contains(p), "plaintext {p:?} in stderr:\n{err}");
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn managed_by(obj: &Json, manager: &str) -> bool {
    obj.pointer("/metadata/managedFields")
        .and_then(Json::as_array)
        .is_some_and(|fs| {
            fs.iter()
                .any(|f| f["manager"] == manager && f["operation"] == "Apply")
        })
}

#[test]
fn sealed_secret_and_configmap_apply_and_read_back() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-multi");
    let f = sealed(&e, "app.enc.yaml", &format!("{SECRET}---\n{CONFIGMAP}"));
    let out = ours_ok(&e, &["apply", "-f", f.to_str().unwrap(), "-n", &ns]);
    assert_eq!(
        out,
        "secret/db serverside-applied\nconfigmap/settings serverside-applied\n"
    );
    let s = get(&e, &ns, "secret/db");
    assert_eq!(s["data"]["password"], b64("hunter2-apply-secret"));
    assert_eq!(s["data"]["token"], b64("token-value-1"));
    assert_eq!(s["metadata"]["labels"]["app"], "shop");
    assert_eq!(s["type"], "Opaque");
    assert!(s.get("sops").is_none() && s.pointer("/metadata/annotations").is_none());
    assert!(managed_by(&s, "kubectl-sops"), "{s}");
    let cm = get(&e, &ns, "configmap/settings");
    assert_eq!(cm["data"]["mode"], "fast");
    assert_eq!(cm["data"]["replicas"], "3");

    // a re-apply is a true no-op
    let rv = |o: &Json| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = (rv(&s), rv(&cm));
    ours_ok(&e, &["apply", "-f", f.to_str().unwrap(), "-n", &ns]);
    let after = (
        rv(&get(&e, &ns, "secret/db")),
        rv(&get(&e, &ns, "configmap/settings")),
    );
    assert_eq!(before, after, "re-apply changed resourceVersion");

    // diff right after apply: no change
    let (code, out, err) = run(&e, &["diff", "-f", f.to_str().unwrap(), "-n", &ns]);
    assert_eq!(
        code,
        0,
        "stdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out)
    );
    assert!(out.is_empty());

    // one value changed through `kubectl sops set`: diff names that field only, exit 1, no value
    let (code, _, err) = e.ours().env_remove("KUBECONFIG").run([
        "set",
        f.to_str().unwrap(),
        r#"["stringData"]["password"]"#,
        r#""hunter2-apply-secret-v2""#,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&e, &["diff", "-f", f.to_str().unwrap(), "-n", &ns]);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(
        out,
        format!("secret/db (namespace {ns})\n  ~ data.password: *** -> ***\n")
    );
    assert!(!out.contains("v2"));
    // the diff changed nothing
    assert_eq!(rv(&get(&e, &ns, "secret/db")), before.0);
}

#[test]
fn dry_runs_change_nothing() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-dry");
    let f = sealed(&e, "s.enc.yaml", SECRET);
    let f = f.to_str().unwrap();
    let out = ours_ok(&e, &["apply", "-f", f, "-n", &ns, "--dry-run=server"]);
    assert_eq!(out, "secret/db serverside-applied (server dry run)\n");
    assert!(
        !exists(&e, &ns, "secret/db"),
        "--dry-run=server stored the object"
    );

    // client dry run sends no write: it even works for a user who may not write anything
    let (code, out, err) = e
        .ours()
        .env("KUBECONFIG", e.cluster().unprivileged_kubeconfig())
        .run(["apply", "-f", f, "-n", &ns, "--dry-run=client"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "secret/db serverside-applied (dry run)\n"
    );
    assert!(!exists(&e, &ns, "secret/db"));

    // server dry run of a change leaves the stored object as it was
    ours_ok(&e, &["apply", "-f", f, "-n", &ns]);
    let before = get(&e, &ns, "secret/db");
    e.ours().env_remove("KUBECONFIG").ok([
        "set",
        f,
        r#"["stringData"]["password"]"#,
        r#""other-value""#,
    ]);
    ours_ok(&e, &["apply", "-f", f, "-n", &ns, "--dry-run=server"]);
    let after = get(&e, &ns, "secret/db");
    assert_eq!(before["data"], after["data"]);
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
}

#[test]
fn directories_recursive_and_plain_manifests_pass_through() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-dir");
    sealed(&e, "tree/a/secret.enc.yaml", SECRET);
    std::fs::create_dir_all(e.path("tree/b/c")).unwrap();
    std::fs::write(e.path("tree/b/c/cm.yaml"), CONFIGMAP).unwrap();
    std::fs::write(e.path("tree/b/notes.txt"), "not a manifest").unwrap();
    let tree = e.path("tree");
    let tree = tree.to_str().unwrap();
    // without -R only the top directory's files are read: there are none
    let (code, _, err) = run(&e, &["apply", "-f", tree, "-n", &ns]);
    assert_eq!(code, 1);
    assert!(err.contains("no objects"), "{err}");
    let out = ours_ok(&e, &["apply", "-R", "-f", tree, "-n", &ns]);
    assert_eq!(
        out,
        "secret/db serverside-applied\nconfigmap/settings serverside-applied\n"
    );
    assert_eq!(
        get(&e, &ns, "secret/db")["data"]["password"],
        b64("hunter2-apply-secret")
    );
    assert_eq!(get(&e, &ns, "configmap/settings")["data"]["mode"], "fast");
}

#[test]
fn namespace_from_the_flag_the_object_or_the_context() {
    let Some(e) = setup() else { return };
    let other = e.cluster().fresh_namespace("apply-other");
    let f = sealed(&e, "s.enc.yaml", SECRET);
    let f = f.to_str().unwrap();
    ours_ok(&e, &["apply", "-f", f, "-n", &other]);
    assert!(exists(&e, &other, "secret/db"));

    // an object naming its namespace goes there; -n naming another one is refused like kubectl
    let own = e.cluster().fresh_namespace("apply-own");
    let with_ns = SECRET.replace("  name: db\n", &format!("  name: db\n  namespace: {own}\n"));
    let g = sealed(&e, "own.enc.yaml", &with_ns);
    let g = g.to_str().unwrap();
    ours_ok(&e, &["apply", "-f", g]);
    assert!(exists(&e, &own, "secret/db"));
    let (code, _, err) = run(&e, &["apply", "-f", g, "-n", &other]);
    assert_eq!(code, 1);
    assert!(err.contains("does not match the namespace"), "{err}");
}

#[test]
fn same_objects_as_real_kubectl_server_side_apply() {
    let Some(e) = setup() else { return };
    let ours_ns = e.cluster().fresh_namespace("apply-ours");
    let theirs_ns = e.cluster().fresh_namespace("apply-kubectl");
    let plain = format!("{SECRET}---\n{CONFIGMAP}");
    let f = sealed(&e, "app.enc.yaml", &plain);
    ours_ok(&e, &["apply", "-f", f.to_str().unwrap(), "-n", &ours_ns]);
    // real kubectl on the decrypted input
    let decrypted = e
        .ours()
        .env_remove("KUBECONFIG")
        .ok(["unseal", f.to_str().unwrap()]);
    let (code, _, err) = e.cluster().kubectl_with(
        e.cluster().kubeconfig(),
        ["apply", "--server-side", "-n", &theirs_ns, "-f", "-"],
        Some(&decrypted),
    );
    assert_eq!(code, 0, "{err}");
    for what in ["secret/db", "configmap/settings"] {
        let strip = |mut o: Json| {
            let m = o["metadata"].as_object_mut().unwrap();
            for k in [
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "managedFields",
            ] {
                m.remove(k);
            }
            o
        };
        assert_eq!(
            strip(get(&e, &ours_ns, what)),
            strip(get(&e, &theirs_ns, what)),
            "{what} differs from what kubectl applies"
        );
    }
}

fn install_sops_secret_crd(e: &Env) {
    let crd = e2e_tests::workspace_root().join("tests/fixtures/sopssecret-crd.yaml");
    e.cluster().kubectl_ok([
        "apply".as_ref(),
        "--server-side".as_ref(),
        "-f".as_ref(),
        crd.as_os_str(),
    ]);
    e.cluster()
        .wait_crd_established("sopssecrets.isindir.github.com");
}

#[test]
fn sops_secret_is_expanded_into_its_secrets() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-sopssecret");
    let f = sealed(&e, "bundle.enc.yaml", SOPS_SECRET);
    // the default rule for a SopsSecret encrypts all of spec.secretTemplates
    let stored = std::fs::read_to_string(&f).unwrap();
    assert!(!stored.contains("api-creds"), "templates not encrypted");
    let out = ours_ok(&e, &["apply", "-f", f.to_str().unwrap(), "-n", &ns]);
    assert_eq!(
        out,
        "secret/api-creds serverside-applied\nsecret/tls-pair serverside-applied\n"
    );
    let a = get(&e, &ns, "secret/api-creds");
    assert_eq!(a["data"]["key"], b64("sops-secret-value-1"));
    assert_eq!(a["metadata"]["labels"]["team"], "core");
    let t = get(&e, &ns, "secret/tls-pair");
    assert_eq!(t["type"], "kubernetes.io/tls");
    assert_eq!(t["data"]["tls.key"], b64("key-value-2"));
    assert_eq!(t["metadata"]["annotations"]["note"], "cert");
}

#[test]
fn sops_secret_raw_is_applied_encrypted() {
    let Some(e) = setup() else { return };
    install_sops_secret_crd(&e);
    let ns = e.cluster().fresh_namespace("apply-raw");
    let f = sealed(&e, "bundle.enc.yaml", SOPS_SECRET);
    // no key is needed to send it as it is
    let (code, out, err) = e
        .ours()
        .env_remove("SOPS_AGE_KEY_FILE")
        .run(argv("apply --raw -f", &[f.to_str().unwrap(), "-n", &ns]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "sopssecret.isindir.github.com/bundle serverside-applied\n"
    );
    let o = get(&e, &ns, "sopssecret/bundle");
    let text = o.to_string();
    assert!(
        o["sops"]["mac"].as_str().unwrap().starts_with("ENC["),
        "{text}"
    );
    assert!(o["sops"]["age"].is_array());
    for p in PLAINTEXTS {
        assert!(!text.contains(p));
    }
    assert!(!exists(&e, &ns, "secret/api-creds"));
}

#[test]
fn bad_input_applies_nothing_and_says_why_in_one_line() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-bad");
    // a plain manifest, given before the encrypted file
    let good = e.path("good.yaml");
    std::fs::write(&good, CONFIGMAP).unwrap();
    let secret = sealed(&e, "s.enc.yaml", SECRET);
    let good = good.to_str().unwrap();
    // wrong key: exit 128, nothing applied, even the good file given before it
    let out = e
        .ours()
        .age_key_file(e.age_key("gen_age_b"))
        .run(apply_args(good, secret.to_str().unwrap(), &ns));
    assert_no_plaintext(&out);
    assert_eq!(out.0, 128, "{}", out.2);
    assert!(out.2.contains("s.enc.yaml"), "{}", out.2);
    assert!(!exists(&e, &ns, "configmap/settings"), "partly applied");

    // tampered file: exit 51 (MAC mismatch), nothing applied
    let text = std::fs::read_to_string(&secret).unwrap();
    let i = text.find("ENC[AES256_GCM,data:").unwrap() + 21;
    let mut bytes = text.into_bytes();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(e.path("tampered.enc.yaml"), &bytes).unwrap();
    let out = run(&e, &apply_args(good, "tampered.enc.yaml", &ns));
    assert_eq!(out.0, 25, "{}", out.2); // sops: could not decrypt a value
    assert!(!exists(&e, &ns, "configmap/settings"), "partly applied");

    // a value swapped for another valid ciphertext of the same key: MAC mismatch, exit 51
    let v1 = std::fs::read_to_string(&secret).unwrap();
    std::fs::copy(&secret, e.path("v2.enc.yaml")).unwrap();
    e.ours().env_remove("KUBECONFIG").ok([
        "set",
        "v2.enc.yaml",
        r#"["stringData"]["password"]"#,
        r#""another-secret-9""#,
    ]);
    let v2 = std::fs::read_to_string(e.path("v2.enc.yaml")).unwrap();
    let line = |t: &str| {
        t.lines()
            .find(|l| l.contains("password: ENC["))
            .unwrap()
            .to_string()
    };
    std::fs::write(
        e.path("swapped.enc.yaml"),
        v1.replace(&line(&v1), &line(&v2)),
    )
    .unwrap();
    let out = run(&e, &apply_args(good, "swapped.enc.yaml", &ns));
    assert_eq!(out.0, 51, "{}", out.2);
    assert!(!out.2.contains("another-secret-9"));
    assert!(!exists(&e, &ns, "configmap/settings"), "partly applied");

    // missing path
    let (code, _, err) = run(&e, &["apply", "-f", "nope.yaml", "-n", &ns]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "kubectl-sops: the path \"nope.yaml\" does not exist"
    );

    // unknown kind: that object fails by name, the others are applied, exit 1
    std::fs::write(
        e.path("widget.yaml"),
        format!("{CONFIGMAP}---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"),
    )
    .unwrap();
    let (code, out, err) = run(&e, &["apply", "-f", "widget.yaml", "-n", &ns]);
    assert_eq!(code, 1);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "configmap/settings serverside-applied\n"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("widget.example.com/w") && err.contains("no matches for kind \"Widget\""),
        "{err}"
    );

    // one line each, exit 1, nothing on stdout, no value: the server rejects an object (named); a
    // name the API server would refuse (refused before any request, naming the file); RBAC
    // forbids; the server is unreachable (one line for the whole run)
    let bad = SECRET.replace("app: shop", "app: \"not a label value\"");
    let bad = sealed(&e, "bad.enc.yaml", &bad);
    let bad_name = SECRET.replace("name: db", "name: Not_A_Valid_Name");
    let bad_name = sealed(&e, "badname.enc.yaml", &bad_name);
    let kc = std::fs::read_to_string(e.cluster().kubeconfig()).unwrap();
    let port = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://127.0.0.1:"))
        .unwrap()
        .trim()
        .to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        e.path("down.kubeconfig"),
        kc.replace(&port, &closed_port.to_string()),
    )
    .unwrap();
    let unprivileged = e.cluster().unprivileged_kubeconfig();
    for (kubeconfig, file, says) in [
        (None, &bad, &["secret/db", "Invalid"][..]),
        (
            None,
            &bad_name,
            &["badname.enc.yaml", "invalid name \"Not_A_Valid_Name\""],
        ),
        (
            Some(unprivileged.to_path_buf()),
            &secret,
            &["secret/db", "Forbidden"],
        ),
        (
            Some(e.path("down.kubeconfig")),
            &secret,
            &["unable to connect to the server"],
        ),
    ] {
        let mut runner = e.ours();
        if let Some(kc) = kubeconfig {
            runner = runner.env("KUBECONFIG", kc);
        }
        let out = runner.run(["apply", "-f", file.to_str().unwrap(), "-n", &ns]);
        assert_fails_on_one_line(out, 1, says, PLAINTEXTS);
    }
}

#[test]
fn output_formats_mask_values_unless_asked() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-output");
    let f = sealed(&e, "s.enc.yaml", SECRET);
    let f = f.to_str().unwrap();
    assert_eq!(
        ours_ok(&e, &["apply", "-f", f, "-n", &ns, "-o", "name"]),
        "secret/db\n"
    );
    let yaml = ours_ok(&e, &["apply", "-f", f, "-n", &ns, "-o", "yaml"]);
    assert!(yaml.contains("password: '***'"), "{yaml}");
    assert!(yaml.contains("manager: kubectl-sops"), "{yaml}");
    let (code, out, _) = e
        .ours()
        .run(["apply", "-f", f, "-n", &ns, "-o", "yaml", "--show-values"]);
    assert_eq!(code, 0);
    assert!(String::from_utf8(out)
        .unwrap()
        .contains(&format!("password: {}", b64("hunter2-apply-secret"))));
}

#[test]
fn external_diff_gets_masked_files_on_tmpfs_and_they_are_removed() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("diff-external");
    let f = sealed(&e, "s.enc.yaml", SECRET);
    let f = f.to_str().unwrap();
    ours_ok(&e, &["apply", "-f", f, "-n", &ns]);
    e.ours().env_remove("KUBECONFIG").ok([
        "set",
        f,
        r#"["stringData"]["password"]"#,
        r#""changed-value-9""#,
    ]);
    // the "diff tool" records its arguments and the files it was given
    let rec = e.arg("rec.txt");
    let tool = e.write_script(
        "tool.sh",
        &format!("#!/bin/sh\n{{ echo \"$1\"; echo \"$2\"; stat -f -c %T \"$1\"; cat \"$1\"/* \"$2\"/*; }} > '{rec}'\nexit 1\n"),
    );
    let (code, _, err) = e
        .ours()
        .env("KUBECTL_EXTERNAL_DIFF", &tool)
        .run(["diff", "-f", f, "-n", &ns]);
    assert_eq!(code, 1, "{err}");
    let rec = std::fs::read_to_string(&rec).unwrap();
    let mut lines = rec.lines();
    let (live, merged) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(
        live.ends_with("/LIVE") && merged.ends_with("/MERGED"),
        "{rec}"
    );
    assert_eq!(lines.next(), Some("tmpfs"));
    assert!(
        rec.contains("'*** (before)'") && rec.contains("'*** (after)'"),
        "{rec}"
    );
    assert!(
        !rec.contains("changed-value-9") && !rec.contains("hunter2"),
        "{rec}"
    );
    assert!(!Path::new(live).exists(), "the private dir was not removed");
}

#[test]
fn exec_credential_plugins_authenticate() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("apply-exec");
    // the admin token, handed over by an exec credential plugin instead of the kubeconfig
    let kc = std::fs::read_to_string(e.cluster().kubeconfig()).unwrap();
    let token_line = kc
        .lines()
        .find(|l| l.trim_start().starts_with("token: "))
        .unwrap()
        .to_string();
    let token = token_line.trim().trim_start_matches("token: ").to_string();
    let plugin = e.write_script(
        "cred.sh",
        &format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'\n"
        ),
    );
    let indent = &token_line[..token_line.len() - token_line.trim_start().len()];
    let exec = format!(
        "{indent}exec:\n{indent}  apiVersion: client.authentication.k8s.io/v1\n{indent}  command: {}\n{indent}  interactiveMode: Never\n",
        plugin.display()
    );
    std::fs::write(
        e.path("exec.kubeconfig"),
        kc.replace(&format!("{token_line}\n"), &exec),
    )
    .unwrap();
    let f = sealed(&e, "s.enc.yaml", SECRET);
    let out = e.ours().env("KUBECONFIG", e.path("exec.kubeconfig")).run([
        "apply",
        "-f",
        f.to_str().unwrap(),
        "-n",
        &ns,
    ]);
    assert_eq!(out.0, 0, "{}", out.2);
    assert!(exists(&e, &ns, "secret/db"));
}

#[test]
fn client_certificates_authenticate() {
    let Some(e) = setup() else { return };
    // written by `scripts/peers.sh up` beside the admin kubeconfig
    let kc = e.cluster().kubeconfig().with_file_name("kubeconfig-cert");
    if !kc.is_file() {
        let msg = format!(
            "{} missing: the control plane predates client certificates",
            kc.display()
        );
        assert!(!e2e_tests::in_ci(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let text = std::fs::read_to_string(&kc).unwrap();
    assert!(text.contains("client-certificate:") && !text.contains("token:"));
    let ns = e.cluster().fresh_namespace("apply-cert");
    let f = sealed(&e, "s.enc.yaml", SECRET);
    let out = e
        .ours()
        .env("KUBECONFIG", &kc)
        .run(["apply", "-f", f.to_str().unwrap(), "-n", &ns]);
    assert_eq!(out.0, 0, "{}", out.2);
    assert_eq!(
        get(&e, &ns, "secret/db")["data"]["password"],
        b64("hunter2-apply-secret")
    );
}
