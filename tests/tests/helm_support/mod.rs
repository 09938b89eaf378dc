//! Shared setup of the helm tests: isolated helm homes, a small chart, values sealed by
//! kubectl-sops and encrypted by real sops, plugin install from the repo, and the plaintext scan.
#![allow(dead_code)]

pub mod http_server;
pub mod tls;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use e2e_tests::{
    age_recipient, need, vectors_dir_checked, workspace_bin, workspace_root, Outcome, Sops,
};

/// How the plugins were installed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Install {
    /// Helm 3: the root plugin.yaml.
    Root,
    /// Helm 4 (or shared): plugins/helm4/secrets + plugins/helm4/secrets-getter.
    Helm4Dirs,
}

impl Install {
    /// How `helm` (the peer `helm3` or `helm4`) takes the plugins in most tests: Helm 3 the root
    /// plugin.yaml, Helm 4 the two plugin dirs.
    pub fn usual_for(helm: &str) -> Install {
        match helm {
            "helm3" => Install::Root,
            "helm4" => Install::Helm4Dirs,
            other => panic!("no usual install for {other}"),
        }
    }
}

/// One isolated helm setup: a temp dir holding the helm homes, `TMPDIR`, the chart and the values.
pub struct Setup {
    dir: tempfile::TempDir,
    /// A value that must never appear in a file, in stderr, or in a failure's stdout.
    pub token: String,
    pub helm_secrets: PathBuf,
    started: SystemTime,
}

impl Setup {
    /// A fresh setup ([`Setup::bare`]) with the encrypted fixtures of [`Setup::encrypt_fixtures`]
    /// (real sops `sops`).
    pub fn new(sops: &Path) -> Self {
        let s = Setup::bare();
        s.encrypt_fixtures(sops);
        s
    }

    /// A fresh setup: the helm homes, the chart and the plaintext values, no encrypted file.
    pub fn bare() -> Self {
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

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn work(&self) -> PathBuf {
        self.path("work")
    }

    pub fn write_chart(&self) {
        let token = &self.token;
        let values = format!(
            "# comment\npassword: {token}\ndb:\n  user: bob\n  port: 5432\ntags:\n  - a\n  - b\nmultiline: |\n  line one\n  line two\n"
        );
        let file = format!("file-{token}");
        // plaintext inputs live in plain/, which is not scanned
        for (path, text) in [
            ("work/chart/Chart.yaml", "apiVersion: v2\nname: t\nversion: 0.1.0\n"),
            (
                "work/chart/templates/secret.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\nstringData:\n  password: {{ .Values.password | quote }}\n  user: {{ (.Values.db | default dict).user | quote }}\n  port: {{ (.Values.db | default dict).port | quote }}\n  note: {{ .Values.note | default \"none\" | quote }}\n{{- if .Values.file }}\n  file: {{ .Values.file | quote }}\n{{- end }}\n",
            ),
            (
                "work/chart/templates/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n  namespace: {{ .Release.Namespace }}\ndata:\n  replicas: {{ .Values.replicas | default 1 | quote }}\n  tags: {{ .Values.tags | default list | join \",\" | quote }}\n",
            ),
            ("plain/values.yaml", values.as_str()),
            ("plain/extra.yaml", "replicas: 3\nnote: plain\n"),
            ("work/extra.yaml", "replicas: 3\nnote: plain\n"),
            ("plain/file.txt", file.as_str()),
        ] {
            std::fs::write(self.path(path), text).unwrap();
        }
    }

    /// A runner for `bin` in `work/` with HOME, helm homes, TMPDIR and the age key isolated.
    pub fn runner(&self, bin: &Path) -> Sops {
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

    pub fn recipient(&self) -> String {
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
    pub fn install(&self, helm: &Path, how: Install) {
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

    /// `work/sops.enc.yaml` with one encrypted value left out: its MAC no longer matches.
    pub fn tampered_fixture(&self) -> String {
        let enc = std::fs::read_to_string(self.path("work/sops.enc.yaml")).unwrap();
        let tampered: String = enc
            .lines()
            .filter(|l| !l.starts_with("multiline:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(tampered, enc);
        tampered
    }

    pub fn helm(&self, helm: &Path, args: &[&str]) -> Outcome {
        self.runner(helm).run(args)
    }

    /// Asserts a successful run and returns stdout.
    pub fn helm_ok(&self, helm: &Path, args: &[&str]) -> String {
        let (code, out, err) = self.helm(helm, args);
        assert_eq!(code, 0, "{} {args:?} exited {code}: {err}", helm.display());
        String::from_utf8(out).unwrap()
    }

    /// Fails when a file under the test dir (but outside plain/), under the global temp dir or
    /// /dev/shm (files changed since the test started) holds the token.
    pub fn assert_no_plaintext_files(&self) {
        let mut hits = Vec::new();
        for d in ["home", "tmp", "work"] {
            scan(&self.path(d), &self.token, None, 0, &mut hits);
        }
        for global in [std::env::temp_dir(), PathBuf::from("/dev/shm")] {
            scan(&global, &self.token, Some(self.started), 0, &mut hits);
        }
        let plain = self.path("plain");
        // the cluster's own storage (etcd under the control plane's state dir) holds what was applied
        let plane = std::env::var_os(e2e_tests::KUBECONFIG_ENV)
            .map(PathBuf::from)
            .and_then(|k| k.parent().map(Path::to_path_buf));
        hits.retain(|h| {
            !h.starts_with(&plain) && !plane.as_ref().is_some_and(|p| h.starts_with(p))
        });
        assert!(hits.is_empty(), "plaintext found in {hits:?}");
    }
}

pub fn scan(
    dir: &Path,
    token: &str,
    since: Option<SystemTime>,
    depth: usize,
    hits: &mut Vec<PathBuf>,
) {
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
pub fn peers() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let v = need(&["helm3", "helm4", "sops"])?;
    Some((v[0].clone(), v[1].clone(), v[2].clone()))
}

/// The plugin's line of a failed run: a non-zero exit, nothing on stdout, exactly one
/// `[helm-secrets]` line on stderr (helm adds its own), none of `never` anywhere on stderr.
pub fn plugin_failure_line(out: Outcome, never: &[&str]) -> String {
    let (code, stdout, err) = out;
    assert_ne!(code, 0, "must fail: {err}");
    assert!(
        stdout.is_empty(),
        "no output on failure: {}",
        String::from_utf8_lossy(&stdout)
    );
    for secret in never {
        assert!(!err.contains(secret), "leaked {secret}: {err}");
    }
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("[helm-secrets]"))
        .collect();
    assert_eq!(ours.len(), 1, "one line from the plugin: {err}");
    ours[0].to_string()
}
