//! Smoke tests of the real-peer setup (`scripts/peers.sh build`): the pinned sops binaries are
//! found, report their versions, and decrypt a shared vector exactly.

use e2e_tests::{need, vectors_dir_checked, GnupgHome, Sops};
use std::fs;

#[test]
fn sops_peers_report_their_versions() {
    let Some(bins) = need(&["sops", "sops-3.11"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Sops::new(&bins[0], dir.path()).version(), "sops 3.13.2");
    assert_eq!(Sops::new(&bins[1], dir.path()).version(), "sops 3.11.0");
}

#[test]
fn real_sops_decrypts_an_age_dotenv_vector() {
    let Some(bins) = need(&["sops", "sops-3.11"]) else {
        return;
    };
    let v = vectors_dir_checked();
    let expected = fs::read(v.join("gen-dotenv/expected.env")).unwrap();
    for bin in &bins {
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = Sops::new(bin, dir.path())
            .age_key_file(v.join("keys/gen_age_a.txt"))
            .run([
                "decrypt".as_ref(),
                v.join("gen-dotenv/app.enc.env").as_os_str(),
            ]);
        assert_eq!(code, 0, "{}: {err}", bin.display());
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{} output differs from expected.env",
            bin.display()
        );
    }
}

#[test]
fn real_sops_fails_without_the_key() {
    // Guards the isolation: no key from the developer's environment may leak in.
    let Some(bins) = need(&["sops"]) else { return };
    let v = vectors_dir_checked();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = Sops::new(&bins[0], dir.path()).run([
        "decrypt".as_ref(),
        v.join("gen-dotenv/app.enc.env").as_os_str(),
    ]);
    assert_ne!(code, 0, "decrypted without a key?");
    assert!(out.is_empty());
    assert!(err.contains("Failed to get the data key"), "{err}");
}

#[test]
fn real_sops_decrypts_a_pgp_vector_with_a_throwaway_gnupghome() {
    let Some(bins) = need(&["sops", "gpg"]) else {
        return;
    };
    let v = vectors_dir_checked();
    let gh = GnupgHome::new(&[v.join("keys/sops_functional_tests_key.asc")]).expect("import key");
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = Sops::new(&bins[0], dir.path()).gnupghome(gh.path()).run([
        "decrypt".as_ref(),
        v.join("sops-functional-format-env/format.enc.env")
            .as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        fs::read(v.join("sops-functional-format-env/expected.env")).unwrap()
    );
}

#[test]
fn workspace_bin_finds_or_builds_kubectl_sops() {
    let bin = e2e_tests::workspace_bin("kubectl-sops");
    assert!(bin.is_file(), "{}", bin.display());
    assert!(bin.ends_with("kubectl-sops"));
    // same target dir and profile as this test executable
    let exe = std::env::current_exe().unwrap();
    assert_eq!(bin.parent(), exe.parent().and_then(|d| d.parent()));
}
