//! Remote values files with real Helm 3.21 and 4.2: `helm secrets … -f http://…` (and every other
//! flag form, `--set-file k=URL`, `secrets://http://…`, a scheme served by a helm getter plugin)
//! fetches the file, decrypts it when it is SOPS-encrypted and hands helm the plaintext; a plain
//! remote file reaches helm as it was. A guard placed in front of the real helm fails the run when
//! any encrypted values file (local or remote, any flag form) or any URL reaches helm.
//! Bad remote input (404, redirect loop, > 64 MiB, wrong credentials, wrong MAC) is one line naming
//! the URL, without credentials, and helm is not run.

mod helm_support;

use std::path::{Path, PathBuf};

use e2e_tests::need;
use helm_support::http_server::{Server, AUTH_PASSWORD};
use helm_support::{plugin_failure_line, Install, Setup};

/// Exit code of the guard when something reached helm that must not.
const GUARD_CODE: i32 = 97;

/// A `helm` in front of the real one (`REAL_HELM`): exits [`GUARD_CODE`] when a values or
/// set-file argument is a URL (other than `secrets://`, served by our getter) or a file holding
/// sops ciphertext. helm-secrets' own getter chart (fetching through getter plugins) is let through.
const GUARD: &str = r#"#!/bin/sh
set -u
for a in "$@"; do
  case "$a" in *helm-secrets-getter*) exec "$REAL_HELM" "$@" ;; esac
done
check() { # $1: one values item
  case "$1" in
    secrets://*|secrets+*://*) return 0 ;;
    *://*) echo "GUARD: a URL reached helm: $1" >&2; exit 97 ;;
  esac
  if [ -f "$1" ] && grep -q -e 'ENC\[AES256_GCM' -e '^sops:' -e '"sops":' "$1"; then
    echo "GUARD: an encrypted file reached helm: $1" >&2; exit 97
  fi
}
items() { # $1: value, $2: set-file?
  old=$IFS; IFS=,
  for i in $1; do
    IFS=$old
    if [ "$2" = 1 ]; then check "${i#*=}"; else check "$i"; fi
  done
  IFS=$old
}
prev=
for a in "$@"; do
  case "$prev" in
    -f|--values) items "$a" 0 ;;
    --set-file) items "$a" 1 ;;
    *)
      case "$a" in
        --values=*) items "${a#--values=}" 0 ;;
        --set-file=*) items "${a#--set-file=}" 1 ;;
        -f=*) items "${a#-f=}" 0 ;;
        -f?*) items "${a#-f}" 0 ;;
      esac ;;
  esac
  prev=$a
done
exec "$REAL_HELM" "$@"
"#;

/// A getter plugin serving `testget://NAME` from the directory `TESTGET_DIR`.
const TESTGET_PLUGIN: &str = "name: testget\nversion: 0.1.0\nusage: test getter\ndescription: serves testget:// from TESTGET_DIR\ndownloaders:\n  - command: \"fetch.sh\"\n    protocols:\n      - \"testget\"\n";
const TESTGET_SCRIPT: &str = "#!/bin/sh\n# certFile keyFile caFile URL\neval \"url=\\${$#}\"\nexec cat \"$TESTGET_DIR/${url#testget://}\"\n";

struct Remote {
    s: Setup,
    server: Server,
    guard: PathBuf,
}

impl Remote {
    fn new(sops: &Path) -> Self {
        let s = Setup::new(sops);
        let server = Server::start();
        server.put_files(
            &s.work(),
            &[
                ("enc.yaml", "sops.enc.yaml"),
                ("ours.enc.yaml", "ours.enc.yaml"),
                ("extra.yaml", "extra.yaml"),
                ("file.enc.txt", "file.enc.txt"),
            ],
        );
        // wrong MAC: one encrypted value left out
        server.put("tampered.enc.yaml", s.tampered_fixture());
        let guard = s.path("guard-helm");
        std::fs::write(&guard, GUARD).unwrap();
        chmod_x(&guard);
        // the getter plugin's source dir
        let plugin = s.path("testget-plugin");
        std::fs::create_dir_all(&plugin).unwrap();
        std::fs::write(plugin.join("plugin.yaml"), TESTGET_PLUGIN).unwrap();
        std::fs::write(plugin.join("fetch.sh"), TESTGET_SCRIPT).unwrap();
        chmod_x(&plugin.join("fetch.sh"));
        Remote { s, server, guard }
    }

    /// `helm` with the guard in front of it for the wrapper.
    fn run(&self, helm: &Path, args: &[&str]) -> e2e_tests::Outcome {
        self.s
            .runner(helm)
            .env("HELM_SECRETS_HELM_PATH", &self.guard)
            .env("REAL_HELM", helm)
            .env("TESTGET_DIR", self.s.work())
            .run(args)
    }

    fn ok(&self, helm: &Path, args: &[&str]) -> String {
        let (code, out, err) = self.run(helm, args);
        assert_eq!(code, 0, "{} {args:?} exited {code}: {err}", helm.display());
        assert!(!err.contains("GUARD"), "{err}");
        assert!(!err.contains(AUTH_PASSWORD), "credentials printed: {err}");
        String::from_utf8(out).unwrap()
    }

    /// A failing run: non-zero, nothing on stdout, helm not run, one `[helm-secrets]` line holding
    /// every word of `want`, no plaintext and no password anywhere.
    fn fails(&self, helm: &Path, args: &[&str], want: &[&str]) {
        let out = self.run(helm, args);
        assert_ne!(out.0, GUARD_CODE, "{args:?} reached helm: {}", out.2);
        let line = plugin_failure_line(out, &[self.s.token.as_str(), "bob", AUTH_PASSWORD]);
        for w in want {
            assert!(line.contains(w), "{args:?}: {w:?} not in {line}");
        }
    }
}

fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn check(r: &Remote, helm: &Path, sops: &Path) {
    let s = &r.s;
    r.ok(
        helm,
        &[
            "plugin",
            "install",
            s.path("testget-plugin").to_str().unwrap(),
        ],
    );
    let plain = s.path("plain/values.yaml");
    let plain = plain.to_str().unwrap();
    let expected = s.helm_ok(
        helm,
        &["template", "r", "chart", "-f", plain, "-f", "extra.yaml"],
    );
    assert!(expected.contains(&s.token) && !expected.contains("ENC["));
    let file_txt = s.path("plain/file.txt");
    let expected_set = s.helm_ok(
        helm,
        &[
            "template",
            "r",
            "chart",
            "-f",
            plain,
            "-f",
            "extra.yaml",
            "--set-file",
            &format!("file={}", file_txt.display()),
        ],
    );
    assert!(expected_set.contains(&format!("file-{}", s.token)));

    // the guard works: the bare encrypted file and a URL are caught
    for bad in ["sops.enc.yaml", &r.server.url("extra.yaml")] {
        let (code, _, err) = s
            .runner(&r.guard)
            .env("REAL_HELM", helm)
            .run(["template", "r", "chart", "--values", bad]);
        assert_eq!(code, GUARD_CODE, "the guard must catch {bad}: {err}");
    }

    let enc = r.server.url("enc.yaml");
    let extra = r.server.url("extra.yaml");
    let sources = [
        "sops.enc.yaml".to_string(),
        enc.clone(),
        r.server.url("redirect/ours.enc.yaml"),
        format!("secrets://{enc}"),
        "secrets://sops.enc.yaml".into(),
        "testget://sops.enc.yaml".into(),
        format!(
            "secrets+age-import://{}?{enc}",
            s.path("home/key.txt").display()
        ),
    ];
    for src in &sources {
        let forms: Vec<Vec<String>> = vec![
            vec!["-f".into(), src.clone()],
            vec![format!("-f{src}")],
            vec![format!("-f={src}")],
            vec!["--values".into(), src.clone()],
            vec![format!("--values={src}")],
        ];
        for form in forms {
            // `-fX`: helm reads a plugin's `-f…` as a chain of its own shorthand flags, and `-fh…`
            // holds `-h` (helm's help): only the forms helm itself lets through are tried
            if form.len() == 1 && form[0].starts_with("-fh") {
                continue;
            }
            let mut args = vec!["secrets", "template", "r", "chart"];
            args.extend(form.iter().map(String::as_str));
            // a plain remote file passes unchanged
            args.extend(["-f", extra.as_str()]);
            let got = r.ok(helm, &args);
            assert_eq!(got, expected, "{} {args:?}", helm.display());
        }
    }
    // comma list of local and remote
    let list = format!("{enc},{extra}");
    assert_eq!(
        r.ok(
            helm,
            &["secrets", "template", "r", "chart", "--values", &list]
        ),
        expected
    );
    // --set-file with a local, remote and getter-plugin encrypted file, every spelling
    for f in [
        "file.enc.txt".to_string(),
        r.server.url("file.enc.txt"),
        "testget://file.enc.txt".into(),
    ] {
        for form in [
            vec!["--set-file".to_string(), format!("file={f}")],
            vec![format!("--set-file=file={f}")],
        ] {
            let mut args = vec![
                "secrets", "template", "r", "chart", "-f", &enc, "-f", &extra,
            ];
            args.extend(form.iter().map(String::as_str));
            assert_eq!(r.ok(helm, &args), expected_set, "{args:?}");
        }
    }
    // the downloader serves secrets://http://… to plain helm
    let got = s.helm_ok(
        helm,
        &[
            "template",
            "r",
            "chart",
            "-f",
            &format!("secrets://{enc}"),
            "-f",
            "extra.yaml",
        ],
    );
    assert_eq!(got, expected);
    // basic auth from the URL, never printed
    let auth = enc
        .replace("://", &format!("://user:{AUTH_PASSWORD}@"))
        .replace("/enc.yaml", "/auth/enc.yaml");
    assert_eq!(
        r.ok(
            helm,
            &["secrets", "template", "r", "chart", "-f", &auth, "-f", &extra]
        ),
        expected
    );

    // helm secrets decrypt URL prints what real sops decrypts
    let real = s.runner(sops).ok(["decrypt", "sops.enc.yaml"]);
    assert_eq!(
        r.ok(helm, &["secrets", "decrypt", &enc]).as_bytes(),
        real.as_slice()
    );
    assert_eq!(
        r.ok(helm, &["secrets", "view", &auth]).as_bytes(),
        real.as_slice()
    );

    // bad remote input: one line naming the URL, helm not run
    let wrong = auth.replace(AUTH_PASSWORD, "nope");
    let redacted = r.server.url("auth/enc.yaml").replace("://", "://***@");
    for (url, want) in [
        (r.server.url("missing.yaml"), vec!["missing.yaml", "404"]),
        (r.server.url("loop"), vec!["/loop", "redirects"]),
        (r.server.url("big"), vec!["/big", "64 MiB"]),
        (wrong.clone(), vec![redacted.as_str(), "401"]),
        (
            r.server.url("tampered.enc.yaml"),
            vec!["tampered.enc.yaml", "MAC"],
        ),
        (
            "testget://no-such.yaml".into(),
            vec!["testget://no-such.yaml"],
        ),
    ] {
        let mut wants = want.clone();
        let shown = url.replace("nope@", "");
        if !url.contains("nope") {
            wants.push(shown.as_str());
        }
        r.fails(
            helm,
            &["secrets", "template", "r", "chart", "-f", &url],
            &wants,
        );
        r.fails(
            helm,
            &[
                "secrets",
                "template",
                "r",
                "chart",
                "--set-file",
                &format!("file={url}"),
            ],
            &wants,
        );
    }
    // the getter fails the same way
    let (code, out, err) = s.helm(
        helm,
        &[
            "template",
            "r",
            "chart",
            "-f",
            &format!("secrets://{}", r.server.url("missing.yaml")),
        ],
    );
    assert_ne!(code, 0);
    assert!(
        out.is_empty() && err.contains("missing.yaml") && err.contains("404"),
        "{err}"
    );
    // a missing remote file is left out with --ignore-missing-values
    let got = r.ok(
        helm,
        &[
            "secrets",
            "--ignore-missing-values",
            "template",
            "r",
            "chart",
            "-f",
            &enc,
            "-f",
            &r.server.url("missing.yaml"),
            "-f",
            &extra,
        ],
    );
    assert_eq!(got, expected);
    s.assert_no_plaintext_files();
}

/// [`check`] through `helm` (a peer name) with the plugins installed the
/// [usual way](Install::usual_for); the remote values' server, `None` when a peer is missing.
fn check_with(helm: &str) -> Option<Remote> {
    let v = need(&[helm, "sops"])?;
    let r = Remote::new(&v[1]);
    r.s.install(&v[0], Install::usual_for(helm));
    check(&r, &v[0], &v[1]);
    Some(r)
}

#[test]
fn helm3_remote_values_never_reach_helm_encrypted() {
    check_with("helm3");
}

#[test]
fn helm4_remote_values_never_reach_helm_encrypted() {
    let Some(r) = check_with("helm4") else {
        return;
    };
    // each remote file is fetched once per run
    assert!(r.server.hits("enc.yaml") > 0);
}
