//! The `secrets` plugin with real Helm 3 (v3.21.4) and Helm 4 (v4.2.4), installed from the repo
//! into isolated `HELM_*_HOME` dirs: the downloader (`-f secrets://…`) and the wrapper
//! (`helm secrets …`) render exactly what plain helm renders from the plaintext, for files sealed
//! by kubectl-sops and encrypted by real sops, by relative and absolute path; tampered files fail
//! cleanly; the Helm 4 plugins serve both helms from one shared plugins dir; and no plaintext file is
//! left anywhere.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use e2e_tests::{
    age_recipient, need, vectors_dir_checked, workspace_bin, workspace_root, Outcome, Sops,
};

/// How the plugins were installed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Install {
    /// Helm 3: the root plugin.yaml.
    Root,
    /// Helm 4 (or shared): plugins/helm4/secrets + plugins/helm4/secrets-getter.
    Helm4Dirs,
}

/// One isolated helm setup: a temp dir holding the helm homes, `TMPDIR`, the chart and the values.
struct Setup {
    dir: tempfile::TempDir,
    /// A value that must never appear in a file, in stderr, or in a failure's stdout.
    token: String,
    helm_secrets: PathBuf,
    started: SystemTime,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("hsT").tempdir().unwrap();
        for d in ["home", "tmp", "work/chart/templates", "plain"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let token = format!("s3cr3t-{}-{nanos}", std::process::id());
        let s = Setup {
            dir,
            token,
            helm_secrets: workspace_bin("helm-secrets"),
            started: SystemTime::now(),
        };
        s.write_chart();
        std::fs::copy(
            vectors_dir_checked().join("keys/gen_age_a.txt"),
            s.path("home/key.txt"),
        )
        .unwrap();
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn work(&self) -> PathBuf {
        self.path("work")
    }

    fn write_chart(&self) {
        std::fs::write(
            self.path("work/chart/Chart.yaml"),
            "apiVersion: v2\nname: t\nversion: 0.1.0\n",
        )
        .unwrap();
        std::fs::write(
            self.path("work/chart/templates/secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\nstringData:\n  password: {{ .Values.password | quote }}\n  user: {{ (.Values.db | default dict).user | quote }}\n  port: {{ (.Values.db | default dict).port | quote }}\n  note: {{ .Values.note | default \"none\" | quote }}\n{{- if .Values.file }}\n  file: {{ .Values.file | quote }}\n{{- end }}\n",
        )
        .unwrap();
        std::fs::write(
            self.path("work/chart/templates/config.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n  namespace: {{ .Release.Namespace }}\ndata:\n  replicas: {{ .Values.replicas | default 1 | quote }}\n  tags: {{ .Values.tags | default list | join \",\" | quote }}\n",
        )
        .unwrap();
        // plaintext inputs live in plain/, which is not scanned
        std::fs::write(
            self.path("plain/values.yaml"),
            format!(
                "# comment\npassword: {}\ndb:\n  user: bob\n  port: 5432\ntags:\n  - a\n  - b\nmultiline: |\n  line one\n  line two\n",
                self.token
            ),
        )
        .unwrap();
        std::fs::write(self.path("plain/extra.yaml"), "replicas: 3\nnote: plain\n").unwrap();
        std::fs::write(self.path("work/extra.yaml"), "replicas: 3\nnote: plain\n").unwrap();
        std::fs::write(self.path("plain/file.txt"), format!("file-{}", self.token)).unwrap();
    }

    /// A runner for `bin` in `work/` with HOME, helm homes, TMPDIR and the age key isolated.
    fn runner(&self, bin: &Path) -> Sops {
        let home = self.path("home");
        Sops::new(bin, self.work())
            .env("HOME", &home)
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("TMPDIR", self.path("tmp"))
            .env("XDG_RUNTIME_DIR", self.path("tmp"))
            .env("SOPS_AGE_KEY_FILE", home.join("key.txt"))
            .env("HELM_SECRETS_BINARY", &self.helm_secrets)
    }

    fn recipient(&self) -> String {
        age_recipient(&self.path("home/key.txt"))
    }

    /// `work/ours.enc.yaml` (kubectl-sops seal) and `work/sops.enc.yaml` (real sops).
    fn encrypt_fixtures(&self, sops: &Path) {
        let r = self.recipient();
        let plain = self.path("plain/values.yaml");
        let ours = self.runner(&workspace_bin("kubectl-sops")).ok([
            OsStr::new("seal"),
            OsStr::new("--age"),
            OsStr::new(&r),
            plain.as_os_str(),
        ]);
        std::fs::write(self.path("work/ours.enc.yaml"), ours).unwrap();
        let real = self.runner(sops).ok([
            OsStr::new("encrypt"),
            OsStr::new("--age"),
            OsStr::new(&r),
            plain.as_os_str(),
        ]);
        std::fs::write(self.path("work/sops.enc.yaml"), real).unwrap();
        let file = self.path("plain/file.txt");
        let f = self.runner(sops).ok([
            OsStr::new("encrypt"),
            OsStr::new("--age"),
            OsStr::new(&r),
            OsStr::new("--input-type"),
            OsStr::new("binary"),
            file.as_os_str(),
        ]);
        std::fs::write(self.path("work/file.enc.txt"), f).unwrap();
    }

    /// Installs the plugins from the repo with `helm` (Root: plugin.yaml; Helm4Dirs: both dirs).
    fn install(&self, helm: &Path, how: Install) {
        let root = workspace_root();
        let dirs = match how {
            Install::Root => vec![root.clone()],
            Install::Helm4Dirs => vec![
                root.join("plugins/helm4/secrets"),
                root.join("plugins/helm4/secrets-getter"),
            ],
        };
        for d in dirs {
            let (code, out, err) =
                self.runner(helm)
                    .run([OsStr::new("plugin"), OsStr::new("install"), d.as_os_str()]);
            assert_eq!(
                code,
                0,
                "{} plugin install {}: {}{err}",
                helm.display(),
                d.display(),
                String::from_utf8_lossy(&out)
            );
        }
    }

    fn helm(&self, helm: &Path, args: &[&str]) -> Outcome {
        self.runner(helm).run(args)
    }

    /// Asserts a successful run and returns stdout.
    fn helm_ok(&self, helm: &Path, args: &[&str]) -> String {
        let (code, out, err) = self.helm(helm, args);
        assert_eq!(code, 0, "{} {args:?} exited {code}: {err}", helm.display());
        String::from_utf8(out).unwrap()
    }

    /// Fails when a file under the test dir (but outside plain/), under the global temp dir or
    /// /dev/shm (files changed since the test started) holds the token.
    fn assert_no_plaintext_files(&self) {
        let mut hits = Vec::new();
        for d in ["home", "tmp", "work"] {
            scan(&self.path(d), &self.token, None, 0, &mut hits);
        }
        for global in [std::env::temp_dir(), PathBuf::from("/dev/shm")] {
            scan(&global, &self.token, Some(self.started), 0, &mut hits);
        }
        let plain = self.path("plain");
        hits.retain(|h| !h.starts_with(&plain));
        assert!(hits.is_empty(), "plaintext found in {hits:?}");
    }
}

fn scan(dir: &Path, token: &str, since: Option<SystemTime>, depth: usize, hits: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() && depth < 6 {
            scan(&p, token, since, depth + 1, hits);
        } else if ft.is_file() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.len() > 4 << 20 {
                continue;
            }
            if since.is_some_and(|t| meta.modified().is_ok_and(|m| m < t)) {
                continue;
            }
            if std::fs::read(&p)
                .is_ok_and(|b| b.windows(token.len()).any(|w| w == token.as_bytes()))
            {
                hits.push(p);
            }
        }
    }
}

/// helm3, helm4 and sops, or None after `SKIPPED`.
fn peers() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let v = need(&["helm3", "helm4", "sops"])?;
    Some((v[0].clone(), v[1].clone(), v[2].clone()))
}

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
    let got = s.runner(helm).env_remove("SOPS_AGE_KEY_FILE").run([
        "template",
        "r",
        "chart",
        "-f",
        &url,
        "-f",
        "extra.yaml",
    ]);
    assert_eq!(got.0, 0, "{url}: {}", got.2);
    assert_eq!(String::from_utf8(got.1).unwrap(), expected);

    // wrapper: byte-identical to plain helm, every -f spelling, comma list, plaintext files untouched
    for args in [
        vec![
            "secrets",
            "template",
            "r",
            "chart",
            "-f",
            "ours.enc.yaml",
            "-f",
            "extra.yaml",
        ],
        vec![
            "secrets",
            "template",
            "r",
            "chart",
            "-fsops.enc.yaml",
            "--values=extra.yaml",
        ],
        vec![
            "secrets",
            "template",
            "r",
            "chart",
            "--values",
            "ours.enc.yaml,extra.yaml",
        ],
        vec![
            "secrets",
            "-q",
            "template",
            "r",
            "chart",
            "-f=secrets://sops.enc.yaml",
            "-f",
            "extra.yaml",
        ],
    ] {
        let got = s.helm_ok(helm, &args);
        assert_eq!(got, expected, "{} {args:?}", helm.display());
    }
    let abs = w.join("sops.enc.yaml");
    let got = s.helm_ok(
        helm,
        &[
            "secrets",
            "template",
            "r",
            "chart",
            "-f",
            abs.to_str().unwrap(),
            "-f",
            extra,
        ],
    );
    assert_eq!(got, expected);

    // --set-file with an encrypted (binary) file, and helm's namespace flag forwarded
    let file_txt = s.path("plain/file.txt");
    let plain_set = s.helm_ok(
        helm,
        &[
            "template",
            "r",
            "chart",
            "-n",
            "ns1",
            "-f",
            plain,
            "--set-file",
            &format!("file={}", file_txt.display()),
        ],
    );
    assert!(plain_set.contains(&format!("file-{}", s.token)));
    assert!(plain_set.contains("namespace: ns1"));
    let got = s.helm_ok(
        helm,
        &[
            "secrets",
            "template",
            "r",
            "chart",
            "-n",
            "ns1",
            "-f",
            "ours.enc.yaml",
            "--set-file",
            "file=file.enc.txt",
        ],
    );
    assert_eq!(got, plain_set);

    // helm's exit code comes back
    let (code, _, err) = s.helm(helm, &["secrets", "template", "r", "no-such-chart"]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-chart"), "{err}");

    // tampered: one encrypted value removed -> MAC mismatch, no plaintext anywhere
    let enc = std::fs::read_to_string(w.join("sops.enc.yaml")).unwrap();
    let tampered: String = enc
        .lines()
        .filter(|l| !l.starts_with("multiline:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(tampered, enc);
    std::fs::write(w.join("tampered.enc.yaml"), tampered).unwrap();
    for args in [
        vec![
            "template",
            "r",
            "chart",
            "-f",
            "secrets://tampered.enc.yaml",
        ],
        vec![
            "secrets",
            "template",
            "r",
            "chart",
            "-f",
            "tampered.enc.yaml",
        ],
    ] {
        let (code, out, err) = s.helm(helm, &args);
        assert_ne!(code, 0, "{} {args:?} must fail", helm.display());
        assert!(out.is_empty(), "no output on failure");
        assert!(!err.contains(&s.token) && !err.contains("bob"), "{err}");
        let ours: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("[helm-secrets]"))
            .collect();
        assert_eq!(ours.len(), 1, "one line from the plugin: {err}");
        assert!(
            ours[0].contains("tampered.enc.yaml") && ours[0].to_lowercase().contains("mac"),
            "{err}"
        );
    }
}

#[test]
fn helm3_root_plugin_downloader_and_wrapper() {
    let Some((helm3, _, sops)) = peers() else {
        return;
    };
    let s = Setup::new();
    s.encrypt_fixtures(&sops);
    s.install(&helm3, Install::Root);
    let list = s.helm_ok(&helm3, &["plugin", "list"]);
    assert!(list.contains("secrets"), "{list}");
    check_helm(&s, &helm3);
    s.assert_no_plaintext_files();
}

#[test]
fn helm4_plugins_downloader_and_wrapper() {
    let Some((_, helm4, sops)) = peers() else {
        return;
    };
    let s = Setup::new();
    s.encrypt_fixtures(&sops);
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
    let Some((helm3, helm4, sops)) = peers() else {
        return;
    };
    let s = Setup::new();
    s.encrypt_fixtures(&sops);
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
    let Some((_, helm4, sops)) = peers() else {
        return;
    };
    let s = Setup::new();
    s.encrypt_fixtures(&sops);
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
    let Some((helm3, helm4, sops)) = peers() else {
        return;
    };
    let s = Setup::new();
    s.encrypt_fixtures(&sops);
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
            &[
                "template",
                "r",
                "chart",
                "-f",
                "secrets://missing.yaml",
                "-f",
                "ours.enc.yaml",
            ],
        );
        assert_ne!(code, 0);
        assert!(err.contains("missing.yaml"), "{err}");
        let got = s
            .runner(helm)
            .env("HELM_SECRETS_IGNORE_MISSING_VALUES", "true")
            .run([
                "secrets",
                "template",
                "r",
                "chart",
                "-f",
                "missing.yaml",
                "-f",
                "ours.enc.yaml",
            ]);
        assert_eq!(got.0, 0, "{}", got.2);
        // backend choice: ignored with one warning line; quiet silences it
        let (code, _, err) = s.runner(helm).env("HELM_SECRETS_BACKEND", "vals").run([
            "secrets",
            "template",
            "r",
            "chart",
            "-f",
            "ours.enc.yaml",
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            err.lines()
                .filter(|l| l.contains("HELM_SECRETS_BACKEND"))
                .count(),
            1,
            "{err}"
        );
        let (_, _, err) = s
            .runner(helm)
            .env("HELM_SECRETS_BACKEND", "vals")
            .env("HELM_SECRETS_QUIET", "true")
            .run(["secrets", "template", "r", "chart", "-f", "ours.enc.yaml"]);
        assert!(!err.contains("HELM_SECRETS_BACKEND"), "{err}");
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
        let out = s.runner(helm).run([
            "template",
            "r",
            "chart",
            "-f",
            &url,
            "--show-only",
            "templates/config.yaml",
        ]);
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
    let a: Vec<String> = String::from_utf8_lossy(&ours)
        .lines()
        .map(str::to_string)
        .collect();
    let b: Vec<String> = String::from_utf8_lossy(&expected)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(a, b);
    s.assert_no_plaintext_files();
}

#[test]
fn encrypt_decrypt_view_edit_through_both_helms() {
    let Some((helm3, helm4, sops)) = peers() else {
        return;
    };
    let s = Setup::new();
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
