//! `secrets+age-import://KEY?FILE` under `HELM_SECRETS_KEY_LOCATION_PREFIX` and the
//! `HELM_SECRETS_VALUES_ALLOW_*` switches: the key path is resolved (symlinks followed) and must lie
//! under the resolved prefix, `..` and links are refused when the switches say so, and a link
//! swapped while the downloader runs never leads to a key outside the prefix. Runs the real
//! `helm-secrets` downloader (what helm runs for `-f secrets+age-import://…`), and real helm when
//! the peer is there.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod helm_support;

use e2e_tests::{age_recipient, vectors_dir_checked, workspace_bin, Outcome, Sops};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

/// `root/keys/inside.txt` (gen_age_b: does not open the values), `root/outside/key.txt`
/// (gen_age_a: opens them), `root/values.enc.yaml` sealed to gen_age_a only.
fn setup() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let v = vectors_dir_checked().join("keys");
    std::fs::create_dir_all(root.join("keys")).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::copy(v.join("gen_age_b.txt"), root.join("keys/inside.txt")).unwrap();
    std::fs::copy(v.join("gen_age_a.txt"), root.join("outside/key.txt")).unwrap();
    let (code, out, err) = Sops::new(workspace_bin("kubectl-sops"), &root).run_stdin(
        [
            "seal",
            "--age",
            &age_recipient(&v.join("gen_age_a.txt")),
            "--input-type",
            "yaml",
            "-",
        ],
        Some(b"password: only-with-the-outside-key\n"),
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(root.join("values.enc.yaml"), out).unwrap();
    Env { _tmp: tmp, root }
}

impl Env {
    fn downloader(&self, key: &str, vars: &[(&str, &str)]) -> Outcome {
        let mut s = Sops::new(workspace_bin("helm-secrets"), &self.root).env(
            "HELM_SECRETS_KEY_LOCATION_PREFIX",
            format!("{}/keys/", self.root.display()),
        );
        for (k, v) in vars {
            s = s.env(k, v);
        }
        let url = format!("secrets+age-import://{key}?values.enc.yaml");
        s.run(["downloader", "", "", "", &url])
    }

    fn key(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root.display())
    }
}

fn refused(out: &Outcome, needle: &str) {
    let (code, stdout, err) = out;
    assert_ne!(*code, 0, "accepted: {err}");
    assert!(stdout.is_empty(), "plaintext printed");
    assert!(err.contains(needle), "{err}");
    assert!(!err.contains("only-with-the-outside-key"));
}

#[test]
fn key_paths_must_resolve_under_the_prefix() {
    let e = setup();
    // inside: opens (and fails for lack of the right key: proof the path was accepted)
    let (code, _, err) = e.downloader(&e.key("keys/inside.txt"), &[]);
    assert_ne!(code, 0);
    assert!(err.contains("no key could decrypt"), "{err}");
    // `..` out of the prefix: a string prefix let it through
    refused(
        &e.downloader(&e.key("keys/../outside/key.txt"), &[]),
        "outside the prefix",
    );
    // a link inside the prefix to a key outside
    std::os::unix::fs::symlink(e.key("outside/key.txt"), e.root.join("keys/link.txt")).unwrap();
    refused(
        &e.downloader(&e.key("keys/link.txt"), &[]),
        "outside the prefix",
    );
    // a link inside the prefix to a key inside is fine
    std::os::unix::fs::symlink("inside.txt", e.root.join("keys/ok-link.txt")).unwrap();
    let (_, _, err) = e.downloader(&e.key("keys/ok-link.txt"), &[]);
    assert!(err.contains("no key could decrypt"), "{err}");
    // the prefix itself may be a link: it is resolved too
    std::os::unix::fs::symlink("keys", e.root.join("keys-link")).unwrap();
    let (_, _, err) = Sops::new(workspace_bin("helm-secrets"), &e.root)
        .env(
            "HELM_SECRETS_KEY_LOCATION_PREFIX",
            format!("{}/keys-link/", e.root.display()),
        )
        .run([
            "downloader",
            "",
            "",
            "",
            &format!(
                "secrets+age-import://{}?values.enc.yaml",
                e.key("keys-link/inside.txt")
            ),
        ]);
    assert!(err.contains("no key could decrypt"), "{err}");
}

#[test]
fn value_path_switches_apply_to_key_paths() {
    let e = setup();
    refused(
        &e.downloader(
            &e.key("keys/../keys/inside.txt"),
            &[("HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL", "false")],
        ),
        "HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL=false",
    );
    std::os::unix::fs::symlink("inside.txt", e.root.join("keys/ok-link.txt")).unwrap();
    refused(
        &e.downloader(
            &e.key("keys/ok-link.txt"),
            &[("HELM_SECRETS_VALUES_ALLOW_SYMLINKS", "false")],
        ),
        "HELM_SECRETS_VALUES_ALLOW_SYMLINKS=false",
    );
    refused(
        &e.downloader(
            &e.key("keys/inside.txt"),
            &[("HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH", "false")],
        ),
        "HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH=false",
    );
}

/// A link inside the prefix swapped between a key inside and the key outside while the
/// downloader runs: the check and the read are one open, so the outside key is never used.
#[test]
fn a_swapped_link_never_reaches_a_key_outside_the_prefix() {
    let e = setup();
    let link = e.root.join("keys/swap.txt");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, link, root) = (Arc::clone(&stop), link.clone(), e.root.clone());
        std::thread::spawn(move || {
            let tmp = root.join("keys/.swap.tmp");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let target = if n.is_multiple_of(2) {
                    root.join("keys/inside.txt")
                } else {
                    root.join("outside/key.txt")
                };
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(&target, &tmp).unwrap();
                std::fs::rename(&tmp, &link).unwrap();
                n += 1;
            }
            n
        })
    };
    let rounds = 60;
    let mut opened = 0;
    for _ in 0..rounds {
        let (code, out, err) = e.downloader(link.to_str().unwrap(), &[]);
        assert!(
            code != 0 && out.is_empty(),
            "the key outside the prefix was used: {err}"
        );
        opened += usize::from(err.contains("no key could decrypt"));
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("{rounds} runs, {swaps} swaps, {opened} opened the key inside");
    assert!(
        swaps > rounds as u64,
        "the link did not move during the runs"
    );
}

/// The same through real helm 3 and 4: `helm template -f secrets+age-import://…` refuses a key
/// outside the prefix.
#[test]
fn helm_template_refuses_a_key_outside_the_prefix() {
    let Some((helm3, helm4, sops)) = helm_support::peers() else {
        return;
    };
    let s = helm_support::Setup::new(&sops);
    s.install(&helm3, helm_support::Install::Root);
    std::fs::create_dir_all(s.path("keys")).unwrap();
    let url = format!(
        "secrets+age-import://{}/../home/key.txt?ours.enc.yaml",
        s.path("keys").display()
    );
    for helm in [&helm3, &helm4] {
        let (code, out, err) = s
            .runner(helm)
            .env(
                "HELM_SECRETS_KEY_LOCATION_PREFIX",
                format!("{}/", s.path("keys").display()),
            )
            .run(["template", "r", "chart", "-f", &url]);
        assert_ne!(code, 0, "{}", helm.display());
        assert!(!String::from_utf8_lossy(&out).contains(&s.token));
        assert!(err.contains("outside the prefix"), "{err}");
    }
}
