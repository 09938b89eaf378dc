//! `helm secrets upgrade --install` with an encrypted values file and an encrypted `--set-file`
//! file served over loopback HTTP, against the local control plane (real etcd + kube-apiserver from
//! `scripts/peers.sh up`), with real Helm 3 and Helm 4: the Secret read back with real kubectl holds
//! the plaintext. With the helm-diff plugin (`scripts/peers.sh build helm-diff`), `helm secrets
//! diff upgrade` shows the change of an encrypted value against the release, masked.

mod helm_support;

use std::path::Path;

use e2e_tests::{argv, cluster, need, secrets_upgrade_install};
use helm_support::http_server::Server;
use helm_support::{Install, Setup};

fn upgrade(s: &Setup, c: &e2e_tests::Cluster, helm: &Path, args: &[&str]) -> String {
    let (code, out, err) = s.runner(helm).env("KUBECONFIG", c.kubeconfig()).run(args);
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, 0, "{} {args:?}: {out}{err}", helm.display());
    assert!(!out.contains(&s.token) && !err.contains(&s.token), "{err}");
    out
}

#[test]
fn upgrade_install_with_remote_encrypted_values() {
    let Some(v) = need(&["helm3", "helm4", "sops"]) else {
        return;
    };
    let (helm3, helm4, sops) = (v[0].clone(), v[1].clone(), v[2].clone());
    let Some(c) = cluster() else { return };
    let s = Setup::new(&sops);
    s.install(&helm4, Install::Helm4Dirs);
    let server = Server::start();
    for f in ["sops.enc.yaml", "file.enc.txt"] {
        server.put(f, std::fs::read(s.work().join(f)).unwrap());
    }
    let enc = server.url("sops.enc.yaml");
    let file = format!("file={}", server.url("file.enc.txt"));
    let ns = c.fresh_namespace("helm-remote");
    for (helm, rel) in [(&helm3, "remote3"), (&helm4, "remote4")] {
        upgrade(
            &s,
            &c,
            helm,
            &secrets_upgrade_install(rel, &ns, &enc, &file),
        );
        assert_eq!(
            c.secret_values(&ns, rel, &["password", "user", "file"]),
            [s.token.clone(), "bob".into(), format!("file-{}", s.token)]
        );
    }
    // helm-diff through the wrapper: the encrypted value changed remotely shows as a masked change
    if let Some(d) = need(&["helm-diff"]) {
        // $ROOT/bin/helm-diff links to <plugin dir>/bin/diff
        let diff = std::fs::canonicalize(&d[0]).unwrap();
        let plugin = diff.parent().unwrap().parent().unwrap().to_path_buf();
        // helm-diff 3.9.14 passes helm 3's `template --validate`, which Helm 4 refuses next to
        // --dry-run: with Helm 4 it renders without cluster validation (--disable-validation)
        for (helm, rel, extra) in [
            (&helm3, "remote3", None),
            (&helm4, "remote4", Some("--disable-validation")),
        ] {
            let (code, _, err) =
                s.runner(helm)
                    .run(["plugin", "install", plugin.to_str().unwrap()]);
            assert!(code == 0 || err.contains("already exists"), "{err}");
            let base = argv(
                "secrets diff upgrade",
                &[rel, "chart", "-n", &ns, "-f", &enc, "--set-file", &file],
            );
            let mut args = base;
            args.extend(extra);
            let unchanged = upgrade(&s, &c, helm, &args);
            assert!(!unchanged.contains("has changed"), "{unchanged}");
            args.extend(["--set", "note=changed"]);
            let changed = upgrade(&s, &c, helm, &args);
            assert!(changed.contains("has changed"), "{changed}");
            assert!(
                !changed.contains("ENC[") && !changed.contains(&s.token),
                "{changed}"
            );
        }
    }
    s.assert_no_plaintext_files();
}
