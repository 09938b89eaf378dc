//! helm-secrets' command line as its users type it, with real Helm 3.21 and 4.2: its options before
//! the command in any order (`-q`, `-b sops|noop`, `-a` sops options, `--ignore-missing-values
//! [true|false]`, `--decrypt-secrets-in-tmp-dir`), the `?`, `sops!` and `noop!` file prefixes, its
//! small commands (`dir`, `-v`, `decrypt --terraform`, `<cmd> --help`, bare `helm secrets`), its
//! messages (`File does not exist: …`, `File is not encrypted: …`, `[helm-secrets] Decrypt: …`,
//! `… is not allowed in this context!`), `.sops.yaml` found from the file's directory, `.gotpl`
//! files read as YAML, `HELM_SECRETS_LOAD_GPG_KEYS` in the wrapper and the commands, and the
//! one-line refusals of what this plugin does not do (vals, custom backends, `secrets+literal://`,
//! the post-renderer).

mod helm_support;

use std::path::Path;

use e2e_tests::{argv, need};
use helm_support::{Install, Setup};

/// Runs `args`; asserts a failure: non-zero, no stdout, exactly one `[helm-secrets]` line holding
/// every word of `want`, and no plaintext.
fn refused(s: &Setup, helm: &Path, env: &[(&str, &str)], args: &[&str], want: &[&str]) {
    let mut r = s.runner(helm);
    for (k, v) in env {
        r = r.env(k, v);
    }
    let (code, out, err) = r.run(args);
    assert_ne!(code, 0, "{args:?} must fail: {err}");
    assert!(
        out.is_empty(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out)
    );
    assert!(!err.contains(&s.token), "{err}");
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("[helm-secrets]"))
        .collect();
    assert_eq!(ours.len(), 1, "{args:?}: one line: {err}");
    for w in want {
        assert!(ours[0].contains(w), "{args:?}: {w:?} not in {err}");
    }
}

fn check(s: &Setup, helm: &Path, sops: &Path) {
    let plain = s.path("plain/values.yaml");
    let plain = plain.to_str().unwrap();
    let expected = s.helm_ok(
        helm,
        &["template", "r", "chart", "-f", plain, "-f", "extra.yaml"],
    );
    let only_extra = s.helm_ok(helm, &["template", "r", "chart", "-f", "extra.yaml"]);
    let t = |pre: &[&str], post: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["secrets".into()];
        v.extend(pre.iter().map(|a| a.to_string()));
        v.extend(["template", "r", "chart"].map(String::from));
        v.extend(post.iter().map(|a| a.to_string()));
        v
    };
    let ok = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        s.helm_ok(helm, &a)
    };

    // options before the command, any order, every spelling
    for pre in [
        vec!["-q", "-b", "sops"],
        vec!["--backend=sops", "--quiet"],
        vec!["-a", "--input-type yaml", "-q"],
        vec!["--backend-args=--input-type yaml --verbose"],
        vec!["--ignore-missing-values", "true", "-b", "sops"],
        vec!["--ignore-missing-values=true"],
        vec!["--decrypt-secrets-in-tmp-dir", "-q"],
        argv(
            "--decrypt-secrets-in-tmp-dir true --ignore-missing-values",
            &[],
        ),
        vec!["--evaluate-templates", "false"],
    ] {
        let got = ok(t(
            &pre,
            &argv("-f ours.enc.yaml -f ?missing.yaml -f extra.yaml", &[]),
        ));
        assert_eq!(got, expected, "{pre:?}");
    }
    // -a with a sops option this plugin does not know: one line naming it, never given to helm
    refused(
        s,
        helm,
        &[],
        &t(&["-a", "--api-versions v1"], &["-f", "ours.enc.yaml"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &["--api-versions", "not supported"],
    );
    // --ignore-missing-values false, and the missing file in helm-secrets' words
    for pre in [vec!["--ignore-missing-values", "false"], vec![]] {
        let args = t(&pre, &["-f", "ours.enc.yaml", "-f", "missing.yaml"]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(s, helm, &[], &a, &["File does not exist: missing.yaml"]);
    }
    // backends: noop passes files unchanged; sops!/noop! prefixes; vals and scripts refused
    assert_eq!(ok(t(&["-b", "noop"], &["-f", "extra.yaml"])), only_extra);
    assert_eq!(
        ok(t(
            &["--backend", "noop"],
            &["-f", "sops!ours.enc.yaml", "-f", "noop!extra.yaml"]
        )),
        expected
    );
    for (pre, want) in [
        (vec!["-b", "vals"], vec!["vals", "not supported", "sops"]),
        (
            vec!["--backend=./backend.sh"],
            vec!["custom backend", "sops"],
        ),
        (
            vec!["--evaluate-templates"],
            vec!["--evaluate-templates", "not supported"],
        ),
    ] {
        let args = t(&pre, &["-f", "ours.enc.yaml"]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(s, helm, &[], &a, &want);
    }
    let args = t(&[], &["-f", "vals!ref+vault://x"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(s, helm, &[], &a, &["vals", "not supported"]);
    refused(
        s,
        helm,
        &[("HELM_SECRETS_BACKEND", "vals")],
        &["secrets", "template", "r", "chart"],
        &["HELM_SECRETS_BACKEND", "vals"],
    );
    refused(
        s,
        helm,
        &[("HELM_SECRETS_ALLOWED_BACKENDS", "sops")],
        &argv("secrets -b noop template r chart -f extra.yaml", &[]),
        &["noop", "not allowed", "HELM_SECRETS_ALLOWED_BACKENDS"],
    );
    // secrets+literal:// through the wrapper and through plain helm
    refused(
        s,
        helm,
        &[],
        &[
            "secrets",
            "template",
            "r",
            "chart",
            "-f",
            "secrets+literal://ENC[x]",
        ],
        &["secrets+literal://", "not supported", "secrets://"],
    );
    let (code, _, err) = s.helm(
        helm,
        &["template", "r", "chart", "-f", "secrets+literal://x"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("secrets+literal:// is not supported"), "{err}");

    // optional files: ?path in -f, --set-file and secrets://
    let got = ok(t(
        &[],
        &argv("-f ?missing.yaml -f secrets://?missing.yaml -f ours.enc.yaml --set-file file=?missing.txt -f extra.yaml", &[]),
    ));
    assert_eq!(got, expected);

    // Decrypt lines (not when quiet), never a .dec file
    let (code, _, err) = s.helm(
        helm,
        &argv(
            "secrets template r chart -f ours.enc.yaml -f extra.yaml",
            &[],
        ),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("[helm-secrets] Decrypt: ours.enc.yaml"),
        "{err}"
    );
    assert!(
        !err.contains("extra.yaml") && !err.contains(".dec"),
        "{err}"
    );
    let (_, _, err) = s.helm(
        helm,
        &argv("secrets -q template r chart -f ours.enc.yaml", &[]),
    );
    assert!(!err.contains("Decrypt"), "{err}");
    let (_, _, err) = s
        .runner(helm)
        .env("HELM_SECRETS_QUIET", "true")
        .run(argv("secrets template r chart -f ours.enc.yaml", &[]));
    assert!(!err.contains("Decrypt"), "{err}");

    // import switches in helm-secrets' words
    let url = format!(
        "secrets+age-import://{}?ours.enc.yaml",
        s.path("home/key.txt").display()
    );
    refused(
        s,
        helm,
        &[("HELM_SECRETS_ALLOW_AGE_IMPORT", "false")],
        &["secrets", "template", "r", "chart", "-f", &url],
        &["secrets+age-import:// is not allowed in this context!"],
    );

    // small commands
    let dir = s.helm_ok(helm, &["secrets", "dir"]);
    assert!(Path::new(dir.trim()).join("plugin.yaml").is_file(), "{dir}");
    for v in ["-v", "--version"] {
        let out = s.helm_ok(helm, &["secrets", v]);
        assert!(
            out.trim()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit()),
            "{out}"
        );
    }
    for cmd in ["template", "upgrade", "decrypt", "encrypt", "view", "edit"] {
        let out = s.helm_ok(helm, &["secrets", cmd, "--help"]);
        assert!(out.contains("helm secrets"), "{cmd}: {out}");
    }
    let (code, out, _) = s.helm(helm, &["secrets"]);
    assert_ne!(code, 0);
    assert!(String::from_utf8_lossy(&out).contains("Usage"));

    // decrypt: plain stdout, --terraform, a .gotpl file, a URL-less plain file refused
    let dec = s.helm_ok(helm, &["secrets", "decrypt", "sops.enc.yaml"]);
    let real = s.runner(sops).ok(["decrypt", "sops.enc.yaml"]);
    assert_eq!(dec.as_bytes(), real.as_slice());
    let tf = s.helm_ok(
        helm,
        &["secrets", "decrypt", "--terraform", "sops.enc.yaml"],
    );
    let v: serde_json::Value = serde_json::from_str(&tf).unwrap();
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD
        .decode(v["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(b, real);
    std::fs::copy(
        s.work().join("sops.enc.yaml"),
        s.work().join("values.enc.gotpl"),
    )
    .unwrap();
    assert_eq!(
        s.helm_ok(helm, &["secrets", "view", "values.enc.gotpl"]),
        dec
    );
    assert_eq!(
        ok(t(&[], &["-f", "values.enc.gotpl", "-f", "extra.yaml"])),
        expected
    );
    refused(
        s,
        helm,
        &[],
        &["secrets", "decrypt", "extra.yaml"],
        &["File is not encrypted: extra.yaml"],
    );
    refused(
        s,
        helm,
        &[],
        &["secrets", "decrypt", "nope.yaml"],
        &["File does not exist: nope.yaml"],
    );
    s.assert_no_plaintext_files();
}

/// `.sops.yaml` next to the file (not in the working directory) drives encrypt and a new edit.
fn sops_yaml_from_the_files_dir(s: &Setup, helm: &Path, sops: &Path) {
    let sub = s.work().join("team");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: secrets\\.yaml$\n    encrypted_regex: ^password$\n    age: {}\n",
            s.recipient()
        ),
    )
    .unwrap();
    std::fs::copy(s.path("plain/values.yaml"), sub.join("secrets.yaml")).unwrap();
    let (code, _, err) = s.helm(helm, &["secrets", "encrypt", "-i", "team/secrets.yaml"]);
    assert_eq!(code, 0, "{err}");
    let enc = std::fs::read_to_string(sub.join("secrets.yaml")).unwrap();
    assert!(
        enc.contains("encrypted_regex: ^password$") && !enc.contains(&s.token),
        "{enc}"
    );
    let real = s.runner(sops).ok(["decrypt", "team/secrets.yaml"]);
    assert!(String::from_utf8_lossy(&real).contains(&s.token));
    // a new file in edit: the rule from team/.sops.yaml
    let editor = s.path("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'password: typed\\n' > \"$1\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, _, err) =
        s.runner(helm)
            .env("EDITOR", &editor)
            .run(["secrets", "edit", "team/new-secrets.yaml"]);
    assert_eq!(code, 0, "{err}");
    let new = std::fs::read_to_string(sub.join("new-secrets.yaml")).unwrap();
    assert!(new.contains("encrypted_regex: ^password$"), "{new}");
    assert_eq!(
        s.runner(sops).ok(["decrypt", "team/new-secrets.yaml"]),
        b"password: typed\n"
    );
}

/// `HELM_SECRETS_LOAD_GPG_KEYS` in the wrapper and in decrypt/view (the helm-secrets PGP fixture).
fn load_gpg_keys(s: &Setup, helm: &Path, sops: &Path) {
    if need(&["gpg"]).is_none() {
        return;
    }
    let v = e2e_tests::vectors_dir_checked();
    let asc = v.join("keys/helm-secrets_private.gpg.asc");
    let file = v.join("helm-secrets-pgp-3.5/secrets.yaml");
    let gpg = e2e_tests::GnupgHome::new(&[&asc]).unwrap();
    let real = s
        .runner(sops)
        .gnupghome(gpg.path())
        .ok([std::ffi::OsStr::new("decrypt"), file.as_os_str()]);
    let r = s
        .runner(helm)
        .env("HELM_SECRETS_LOAD_GPG_KEYS", &asc)
        .env("GNUPGHOME", s.path("home/empty-gnupg"));
    for cmd in ["decrypt", "view"] {
        let (code, out, err) = r.run([
            std::ffi::OsStr::new("secrets"),
            cmd.as_ref(),
            file.as_os_str(),
        ]);
        assert_eq!(code, 0, "{cmd}: {err}");
        assert_eq!(out, real, "{cmd}");
    }
    let (code, out, err) = r.run([
        std::ffi::OsStr::new("secrets"),
        "template".as_ref(),
        "r".as_ref(),
        "chart".as_ref(),
        "-f".as_ref(),
        file.as_os_str(),
        "--show-only".as_ref(),
        "templates/config.yaml".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    // without the variable there is no key
    let (code, _, _) = s
        .runner(helm)
        .env("GNUPGHOME", s.path("home/empty-gnupg"))
        .run([
            std::ffi::OsStr::new("secrets"),
            "decrypt".as_ref(),
            file.as_os_str(),
        ]);
    assert_ne!(code, 0);
}

fn run_all(helm_name: &str, install: Install) {
    let Some(v) = need(&[helm_name, "sops"]) else {
        return;
    };
    let (helm, sops) = (v[0].clone(), v[1].clone());
    let s = Setup::new(&sops);
    s.install(&helm, install);
    std::fs::create_dir_all(s.path("home/empty-gnupg")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        s.path("home/empty-gnupg"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    check(&s, &helm, &sops);
    sops_yaml_from_the_files_dir(&s, &helm, &sops);
    load_gpg_keys(&s, &helm, &sops);
}

#[test]
fn helm3_helm_secrets_command_line() {
    run_all("helm3", Install::Root);
}

#[test]
fn helm4_helm_secrets_command_line() {
    run_all("helm4", Install::Helm4Dirs);
}
