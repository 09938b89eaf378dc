//! The `secrets` plugin against the local control plane (real etcd + kube-apiserver from
//! `scripts/peers.sh up`): `helm secrets upgrade --install` creates the release with real Helm 3 and
//! Helm 4, and the Secret it renders reads back with real kubectl holding the decrypted value; the
//! `secrets+age-import-kubernetes://` and `secrets+gpg-import-kubernetes://` forms read their key
//! from a Secret with kube-rs.

mod helm_support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use e2e_tests::{
    argv, cluster, lines_of, need1, secrets_upgrade_install, vectors_dir_checked, Cluster,
};
use helm_support::{peers, Install, Setup};

/// Helm 3, Helm 4 and real sops, the control plane, the fixtures encrypted, the Helm 4 plugins
/// installed, and a fresh namespace `<prefix>-…`.
fn setup(prefix: &str) -> Option<([PathBuf; 3], Cluster, Setup, String)> {
    let (helm3, helm4, sops) = peers()?;
    let c = cluster()?;
    let s = Setup::new(&sops);
    s.install(&helm4, Install::Helm4Dirs);
    let ns = c.fresh_namespace(prefix);
    Some(([helm3, helm4, sops], c, s, ns))
}

#[test]
fn helm_secrets_upgrade_install_creates_the_release_in_both_helms() {
    let Some(([helm3, helm4, _], c, s, ns)) = setup("helm-secrets") else {
        return;
    };
    for (helm, rel) in [(&helm3, "rel3"), (&helm4, "rel4")] {
        for round in 0..2 {
            // a second round upgrades the existing release
            let (code, out, err) =
                s.runner(helm)
                    .env("KUBECONFIG", c.kubeconfig())
                    .run(secrets_upgrade_install(
                        rel,
                        &ns,
                        "ours.enc.yaml",
                        "file=file.enc.txt",
                    ));
            let out = String::from_utf8_lossy(&out);
            assert_eq!(code, 0, "{} round {round}: {out}{err}", helm.display());
            assert!(!out.contains(&s.token) && !err.contains(&s.token));
        }
        assert_eq!(
            c.secret_values(&ns, rel, &["password", "user", "file"]),
            [s.token.clone(), "bob".into(), format!("file-{}", s.token)]
        );
        let cm = c.jsonpath(
            "configmap",
            &format!("{rel}-cfg"),
            &ns,
            ".metadata.namespace",
        );
        assert_eq!(cm, ns, "helm's -n reached the helm the wrapper ran");
        let (code, out, err) = s
            .runner(helm)
            .env("KUBECONFIG", c.kubeconfig())
            .run(["status", rel, "-n", &ns]);
        assert_eq!(code, 0, "{err}");
        assert!(String::from_utf8_lossy(&out).contains("REVISION: 2"));
    }
    s.assert_no_plaintext_files();
}

#[test]
fn key_import_from_a_kubernetes_secret() {
    let Some(([helm3, helm4, sops], c, s, ns)) = setup("helm-keys") else {
        return;
    };
    let key = s.path("home/key.txt");
    c.kubectl_ok(argv(
        "create secret generic age-key -n",
        &[&ns, &format!("--from-file=key.txt={}", key.display())],
    ));
    let plain = s.path("plain/values.yaml");
    for helm in [&helm3, &helm4] {
        let expected = s.helm_ok(
            helm,
            &["template", "r", "chart", "-f", plain.to_str().unwrap()],
        );
        // `helm template -f URL` without a local key, as the user of `kubeconfig`
        let template = |kubeconfig: &Path, url: &str| {
            s.runner(helm)
                .env_remove("SOPS_AGE_KEY_FILE")
                .env("KUBECONFIG", kubeconfig)
                .run(["template", "r", "chart", "-f", url])
        };
        let url = format!("secrets+age-import-kubernetes://{ns}/age-key#key.txt?ours.enc.yaml");
        let (code, out, err) = template(c.kubeconfig(), &url);
        assert_eq!(code, 0, "{url}: {err}");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        // a wrong key name fails in one line, naming the secret
        let bad = format!("secrets+age-import-kubernetes://{ns}/age-key#nope?ours.enc.yaml");
        let (code, _, err) = template(c.kubeconfig(), &bad);
        assert_ne!(code, 0);
        assert!(err.contains("age-key") && err.contains("nope"), "{err}");
        // the unprivileged user is refused by RBAC
        let (code, _, err) = template(c.unprivileged_kubeconfig(), &url);
        assert_ne!(code, 0);
        assert!(err.to_lowercase().contains("forbidden"), "{err}");
    }
    // PGP: the helm-secrets project's own key and fixture, imported from a Secret into a throw-away
    // GnuPG home
    if need1("gpg").is_some() {
        let v = vectors_dir_checked();
        c.kubectl_ok([
            "create",
            "secret",
            "generic",
            "gpg-key",
            "-n",
            &ns,
            &format!(
                "--from-file=private.asc={}",
                v.join("keys/helm-secrets_private.gpg.asc").display()
            ),
        ]);
        let file = v.join("helm-secrets-pgp-3.5/secrets.yaml");
        let url = format!(
            "secrets+gpg-import-kubernetes://{ns}/gpg-key#private.asc?{}",
            file.display()
        );
        let ours = s
            .runner(&s.helm_secrets)
            .env("KUBECONFIG", c.kubeconfig())
            .ok([
                OsStr::new("downloader"),
                "".as_ref(),
                "".as_ref(),
                "".as_ref(),
                url.as_ref(),
            ]);
        let gpg =
            e2e_tests::GnupgHome::new(&[v.join("keys/helm-secrets_private.gpg.asc")]).unwrap();
        let real = s
            .runner(&sops)
            .gnupghome(gpg.path())
            .ok([OsStr::new("decrypt"), file.as_os_str()]);
        assert_eq!(lines_of(&ours), lines_of(&real));
    }
    s.assert_no_plaintext_files();
}
