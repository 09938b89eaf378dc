//! The `secrets` plugin with real Helm 3 (v3.21.4) and Helm 4 (v4.2.4), installed from the repo
//! into isolated `HELM_*_HOME` dirs: the downloader (`-f secrets://…`) and the wrapper
//! (`helm secrets …`) render exactly what plain helm renders from the plaintext, for files sealed
//! by kubectl-sops and encrypted by real sops, by relative and absolute path; tampered files fail
//! cleanly; the Helm 4 plugins serve both helms from one shared plugins dir; and no plaintext file is
//! left anywhere.

mod helm_support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use e2e_tests::{argv, lines_of, vectors_dir_checked};
use helm_support::{peers, plugin_failure_line, Install, Setup};

/// The checks every install must pass with `helm`: downloader (ours and real sops, relative and
/// absolute), wrapper (byte-identical to plain helm, --set-file, every -f spelling), tampered file.
fn check_helm(s: &Setup, helm: &Path) {
    let w = s.work();
    let plain = s.path("plain/values.yaml");
    let plain = plain.to_str().unwrap();
    let extra = s.path("plain/extra.yaml");
    let extra = extra.to_str().unwrap();
    let expected = s.helm_ok(helm, &["template", "r", "chart", "-f", plain, "-f", extra]);
    assert!(expected.contains(&s.token), "the chart renders the secret");

    // downloader
    for f in ["ours.enc.yaml", "sops.enc.yaml"] {
        let rel = format!("secrets://{f}");
        let abs = format!("secrets://{}", w.join(f).display());
        for url in [&rel, &abs] {
            let got = s.helm_ok(
                helm,
                &["template", "r", "chart", "-f", url, "-f", "extra.yaml"],
            );
            assert_eq!(got, expected, "{} -f {url}", helm.display());
        }
    }
    // age-import form with no discovered key
    let key = s.path("home/key.txt");
    let url = format!("secrets+age-import://{}?ours.enc.yaml", key.display());
    let got = s
        .runner(helm)
        .env_remove("SOPS_AGE_KEY_FILE")
        .run(argv("template r chart -f", &[&url, "-f", "extra.yaml"]));
    assert_eq!(got.0, 0, "{url}: {}", got.2);
    assert_eq!(String::from_utf8(got.1).unwrap(), expected);

    // wrapper: byte-identical to plain helm, every -f spelling, comma list, plaintext files untouched
    for args in [
        argv(
            "secrets template r chart -f ours.enc.yaml -f extra.yaml",
            &[],
        ),
        argv(
            "secrets template r chart -fsops.enc.yaml --values=extra.yaml",
            &[],
        ),
        argv(
            "secrets template r chart --values ours.enc.yaml,extra.yaml",
            &[],
        ),
        argv(
            "secrets -q template r chart -f=secrets://sops.enc.yaml -f extra.yaml",
            &[],
        ),
    ] {
        let got = s.helm_ok(helm, &args);
        assert_eq!(got, expected, "{} {args:?}", helm.display());
    }
    let abs = w.join("sops.enc.yaml");
    let got = s.helm_ok(
        helm,
        &argv(
            "secrets template r chart -f",
            &[abs.to_str().unwrap(), "-f", extra],
        ),
    );
    assert_eq!(got, expected);

    // --set-file with an encrypted (binary) file, and helm's namespace flag forwarded
    let file_txt = s.path("plain/file.txt");
    let plain_set = s.helm_ok(
        helm,
        &argv(
            "template r chart -n ns1 -f",
            &[plain, "--set-file", &format!("file={}", file_txt.display())],
        ),
    );
    assert!(plain_set.contains(&format!("file-{}", s.token)));
    assert!(plain_set.contains("namespace: ns1"));
    let got = s.helm_ok(
        helm,
        &argv(
            "secrets template r chart -n ns1 -f ours.enc.yaml --set-file file=file.enc.txt",
            &[],
        ),
    );
    assert_eq!(got, plain_set);

    // helm's exit code comes back
    let (code, _, err) = s.helm(helm, &["secrets", "template", "r", "no-such-chart"]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-chart"), "{err}");

    // tampered: one encrypted value removed -> MAC mismatch, no plaintext anywhere
    std::fs::write(w.join("tampered.enc.yaml"), s.tampered_fixture()).unwrap();
    for args in [
        argv("template r chart -f secrets://tampered.enc.yaml", &[]),
        argv("secrets template r chart -f tampered.enc.yaml", &[]),
    ] {
        let line = plugin_failure_line(s.helm(helm, &args), &[&s.token, "bob"]);
        assert!(
            line.contains("tampered.enc.yaml") && line.to_lowercase().contains("mac"),
            "{} {args:?}: {line}",
            helm.display()
        );
    }
}

/// [`peers`] and a [`Setup::new`] with their sops: `(setup, helm3, helm4, sops)`.
fn setup() -> Option<(Setup, PathBuf, PathBuf, PathBuf)> {
    let (helm3, helm4, sops) = peers()?;
    Some((Setup::new(&sops), helm3, helm4, sops))
}

#[test]
fn helm3_root_plugin_downloader_and_wrapper() {
    let Some((s, helm3, _, _)) = setup() else {
        return;
    };
    s.install(&helm3, Install::Root);
    let list = s.helm_ok(&helm3, &["plugin", "list"]);
    assert!(list.contains("secrets"), "{list}");
    check_helm(&s, &helm3);
    s.assert_no_plaintext_files();
}

#[test]
fn helm4_plugins_downloader_and_wrapper() {
    let Some((s, _, helm4, _)) = setup() else {
        return;
    };
    s.install(&helm4, Install::Helm4Dirs);
    let list = s.helm_ok(&helm4, &["plugin", "list"]);
    assert!(
        list.contains("cli/v1") && list.contains("getter/v1"),
        "{list}"
    );
    check_helm(&s, &helm4);
    s.assert_no_plaintext_files();
}

#[test]
fn helm4_plugins_in_a_dir_shared_with_helm3_serve_both() {
    let Some((s, helm3, helm4, _)) = setup() else {
        return;
    };
    // a plain Helm 3 plugin already in the dir must keep working too
    let other = s.path("other-plugin");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("plugin.yaml"),
        "name: hello\nversion: 0.1.0\nusage: says hello\ndescription: test\ncommand: \"echo hello-from-plugin\"\n",
    )
    .unwrap();
    s.helm_ok(&helm3, &["plugin", "install", other.to_str().unwrap()]);
    s.install(&helm4, Install::Helm4Dirs);
    for helm in [&helm3, &helm4] {
        let hello = s.helm_ok(helm, &["hello"]);
        assert!(
            hello.contains("hello-from-plugin"),
            "{}: {hello}",
            helm.display()
        );
        check_helm(&s, helm);
    }
    s.assert_no_plaintext_files();
}

#[test]
fn helm3_root_plugin_gives_helm4_the_downloader() {
    // Helm 4 loads the root plugin.yaml (command + downloaders) as a getter only.
    let Some((s, _, helm4, _)) = setup() else {
        return;
    };
    s.install(&helm4, Install::Root);
    let plain = s.path("plain/values.yaml");
    let expected = s.helm_ok(
        &helm4,
        &["template", "r", "chart", "-f", plain.to_str().unwrap()],
    );
    let got = s.helm_ok(
        &helm4,
        &["template", "r", "chart", "-f", "secrets://ours.enc.yaml"],
    );
    assert_eq!(got, expected);
    s.assert_no_plaintext_files();
}

#[test]
fn helm_secrets_env_policies_and_helm_secrets_vectors() {
    let Some((s, helm3, helm4, sops)) = setup() else {
        return;
    };
    s.install(&helm4, Install::Helm4Dirs);
    std::fs::create_dir_all(s.path("work/sub")).unwrap();
    std::os::unix::fs::symlink("../ours.enc.yaml", s.path("work/sub/link.enc.yaml")).unwrap();
    let abs = format!("secrets://{}", s.path("work/ours.enc.yaml").display());
    for helm in [&helm3, &helm4] {
        for (var, url, needle) in [
            (
                "HELM_SECRETS_VALUES_ALLOW_SYMLINKS",
                "secrets://sub/link.enc.yaml",
                "symlink",
            ),
            (
                "HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH",
                abs.as_str(),
                "absolute",
            ),
            (
                "HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL",
                "secrets://sub/../ours.enc.yaml",
                "'..'",
            ),
        ] {
            let (code, out, err) = s
                .runner(helm)
                .env(var, "false")
                .run(["template", "r", "chart", "-f", url]);
            assert_ne!(code, 0, "{var}=false must refuse {url}");
            assert!(out.is_empty());
            assert!(err.contains(needle) && err.contains(var), "{err}");
            // allowed by default
            s.helm_ok(helm, &["template", "r", "chart", "-f", url]);
        }
        // missing values files
        let (code, _, err) = s.helm(
            helm,
            &argv(
                "template r chart -f secrets://missing.yaml -f ours.enc.yaml",
                &[],
            ),
        );
        assert_ne!(code, 0);
        assert!(err.contains("missing.yaml"), "{err}");
        let got = s
            .runner(helm)
            .env("HELM_SECRETS_IGNORE_MISSING_VALUES", "true")
            .run(argv(
                "secrets template r chart -f missing.yaml -f ours.enc.yaml",
                &[],
            ));
        assert_eq!(got.0, 0, "{}", got.2);
        // backend choice: vals is refused in one line naming the alternative, before helm runs
        let (code, out, err) = s
            .runner(helm)
            .env("HELM_SECRETS_BACKEND", "vals")
            .run(argv("secrets template r chart -f ours.enc.yaml", &[]));
        assert_ne!(code, 0, "{err}");
        assert!(out.is_empty());
        let ours: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("[helm-secrets]"))
            .collect();
        assert_eq!(ours.len(), 1, "{err}");
        assert!(
            ours[0].contains("HELM_SECRETS_BACKEND")
                && ours[0].contains("not supported")
                && ours[0].contains("sops"),
            "{err}"
        );
    }
    // the helm-secrets project's own age fixture, with its key imported by URL
    let v = vectors_dir_checked();
    let key = v.join("keys/helm-secrets_age-key.txt");
    let file = v.join("helm-secrets-age/secrets.age.yaml");
    let expected = s
        .runner(&sops)
        .age_key_file(&key)
        .ok([OsStr::new("decrypt"), file.as_os_str()]);
    for helm in [&helm3, &helm4] {
        let url = format!("secrets+age-import://{}?{}", key.display(), file.display());
        let out = s.runner(helm).run(argv(
            "template r chart -f",
            &[&url, "--show-only", "templates/config.yaml"],
        ));
        assert_eq!(out.0, 0, "{url}: {}", out.2);
        // key location prefix
        let (code, _, err) = s
            .runner(helm)
            .env("HELM_SECRETS_KEY_LOCATION_PREFIX", "/nowhere/")
            .run(["template", "r", "chart", "-f", &url]);
        assert_ne!(code, 0);
        assert!(err.contains("HELM_SECRETS_KEY_LOCATION_PREFIX"), "{err}");
    }
    // what the downloader prints is what real sops decrypts (same tree)
    let url = format!("secrets+age-import://{}?{}", key.display(), file.display());
    let ours = s
        .runner(&s.helm_secrets)
        .ok(["downloader", "", "", "", &url]);
    assert_eq!(lines_of(&ours), lines_of(&expected));

    // PGP: the helm-secrets project's key, by HELM_SECRETS_LOAD_GPG_KEYS and by secrets+gpg-import://
    if e2e_tests::need1("gpg").is_some() {
        let asc = v.join("keys/helm-secrets_private.gpg.asc");
        let file = v.join("helm-secrets-pgp-3.5/secrets.yaml");
        let gpg = e2e_tests::GnupgHome::new(&[&asc]).unwrap();
        let real = s
            .runner(&sops)
            .gnupghome(gpg.path())
            .ok([OsStr::new("decrypt"), file.as_os_str()]);
        let plain_url = format!("secrets://{}", file.display());
        let ours = s
            .runner(&s.helm_secrets)
            .env("HELM_SECRETS_LOAD_GPG_KEYS", &asc)
            .ok(["downloader", "", "", "", plain_url.as_str()]);
        assert_eq!(lines_of(&ours), lines_of(&real));
        let url = format!("secrets+gpg-import://{}?{}", asc.display(), file.display());
        for helm in [&helm3, &helm4] {
            let (code, _, err) = s.runner(helm).run(argv(
                "template r chart -f",
                &[&url, "--show-only", "templates/config.yaml"],
            ));
            assert_eq!(code, 0, "{url}: {err}");
        }
        let ours = s
            .runner(&s.helm_secrets)
            .ok(["downloader", "", "", "", url.as_str()]);
        assert_eq!(lines_of(&ours), lines_of(&real));
        // without the key: a one-line failure
        let (code, out, err) =
            s.runner(&s.helm_secrets)
                .run(["downloader", "", "", "", plain_url.as_str()]);
        assert_ne!(code, 0);
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    s.assert_no_plaintext_files();
}

#[test]
fn encrypt_decrypt_view_edit_through_both_helms() {
    let Some((helm3, helm4, sops)) = peers() else {
        return;
    };
    let s = Setup::bare();
    s.install(&helm4, Install::Helm4Dirs);
    let r = s.recipient();
    std::fs::write(
        s.path("work/.sops.yaml"),
        format!("creation_rules:\n  - path_regex: secrets.*\\.yaml$\n    age: {r}\n"),
    )
    .unwrap();
    let editor = s.path("home/editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/^note: .*/note: edited/' \"$1\"\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let plain = std::fs::read_to_string(s.path("plain/values.yaml")).unwrap() + "note: first\n";
    for (i, helm) in [&helm3, &helm4].into_iter().enumerate() {
        let f = format!("secrets.{i}.yaml");
        std::fs::write(s.work().join(&f), &plain).unwrap();
        // enc -i (creation rule), then real sops reads it
        s.helm_ok(helm, &["secrets", "enc", "-i", &f]);
        let enc = std::fs::read_to_string(s.work().join(&f)).unwrap();
        assert!(!enc.contains(&s.token) && enc.contains("ENC[AES256_GCM"));
        let real = s.runner(&sops).ok(["decrypt", f.as_str()]);
        assert!(String::from_utf8_lossy(&real).contains(&s.token));
        // view / dec print the plaintext; encrypting again is refused (203)
        let view = s.helm_ok(helm, &["secrets", "view", &f]);
        assert!(view.contains(&s.token) && view.contains("note: first"));
        assert_eq!(s.helm_ok(helm, &["secrets", "dec", &f]), view);
        let (code, _, err) = s.helm(helm, &["secrets", "encrypt", &f]);
        assert_eq!(code, 203, "{err}");
        // edit: only the edited value and the MAC change; the plaintext never lands in the tree
        let (code, _, err) =
            s.runner(helm)
                .env("EDITOR", &editor)
                .run(["secrets", "edit", f.as_str()]);
        assert_eq!(code, 0, "{err}");
        let after = std::fs::read_to_string(s.work().join(&f)).unwrap();
        let changed: Vec<&str> = enc
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.trim_start().split(':').next().unwrap())
            .collect();
        assert!(
            changed
                .iter()
                .all(|k| ["note", "mac", "lastmodified"].contains(k)),
            "changed: {changed:?}"
        );
        let real = String::from_utf8(s.runner(&sops).ok(["decrypt", f.as_str()])).unwrap();
        assert!(real.contains("note: edited") && real.contains(&s.token));
        // unchanged edit: sops' exit code 200
        let (code, _, _) =
            s.runner(helm)
                .env("EDITOR", "true")
                .run(["secrets", "edit", f.as_str()]);
        assert_eq!(code, 200);
        // the file then renders through the wrapper
        let out = s.helm_ok(helm, &["secrets", "template", "r", "chart", "-f", &f]);
        assert!(out.contains("note: \"edited\""), "{out}");
    }
    s.assert_no_plaintext_files();
}
