//! GCP Cloud KMS and Azure Key Vault contract tests: a loopback-only network namespace per test
//! ([`Netns`]), the stand-ins `../shared/tools/kms/gcp-kms-fake.py` and `azure-kv-fake.py` started
//! inside it, and the test-side endpoints of `cloud_helper.py` (token endpoints, fixed-status
//! servers, a silent server, a connection counter).
//!
//! The namespace: `unshare -n -m` (as root; else `unshare -r -n -m`, a user namespace) runs a holder
//! process that brings `lo` up and bind-mounts a private hosts file over `/etc/hosts` (so the vault
//! host `sops.localhost` resolves to 127.0.0.1 for Go and for glibc alike); every program of the test
//! (the fakes, real sops, our binary) is started with `nsenter` into it. Nothing can leave 127.0.0.1,
//! and ports are the same in every test without clashing.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::servers::{metadata_shape, store_args};

/// GCP resource id of the fake's key (any well-formed id works with the fake).
pub const GCP_KEY: &str = "projects/demo/locations/global/keyRings/sops/cryptoKeys/test";
/// The fake vault's key version.
pub const AZURE_VERSION: &str = "0123456789abcdef0123456789abcdef";
/// Port of the GCP fake.
pub const GCP_PORT: u16 = 9090;
/// HTTPS port of the Azure fake vault.
pub const AZURE_PORT: u16 = 8443;
/// Port of the Azure fake's App Service identity endpoint.
pub const AZURE_TOKEN_PORT: u16 = 8080;
/// The token the fakes and the helper hand out (must never show up in a message).
pub const FAKE_TOKEN: &str = "fake-token";

/// The Azure fake's vault URL.
pub fn azure_vault() -> String {
    format!("https://sops.localhost:{AZURE_PORT}")
}

/// The fake vault's key URL, with the version or without.
pub fn azure_key(with_version: bool) -> String {
    if with_version {
        format!("{}/keys/sops-key/{AZURE_VERSION}", azure_vault())
    } else {
        format!("{}/keys/sops-key", azure_vault())
    }
}

/// `../shared/tools/kms` beside the workspace (next to the vectors), or `$KSOPS_KMS_TOOLS_DIR`.
pub fn kms_tools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KSOPS_KMS_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let p = crate::workspace_root().join("../shared/tools/kms");
    p.canonicalize().unwrap_or(p)
}

/// A loopback-only network namespace with a private `/etc/hosts`, held by a sleeping process.
pub struct Netns {
    holder: Child,
    user_ns: bool,
    dir: PathBuf,
    children: Vec<Child>,
}

fn sbin(name: &str) -> PathBuf {
    for d in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let p = Path::new(d).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

impl Netns {
    /// Creates the namespace; `hosts` becomes its `/etc/hosts`, `dir` holds scripts and logs.
    /// `Err(why)` when this machine cannot make one.
    pub fn start(dir: &Path, hosts: &str) -> Result<Netns, String> {
        let hosts_file = dir.join("hosts");
        std::fs::write(&hosts_file, hosts).map_err(|e| e.to_string())?;
        let script = format!(
            "ip link set lo up && mount --bind '{}' /etc/hosts && echo ready && exec sleep 100000",
            hosts_file.display()
        );
        let mut last = String::new();
        for user_ns in [false, true] {
            let mut c = Command::new(sbin("unshare"));
            if user_ns {
                c.arg("-r");
            }
            c.args(["-n", "-m", "--", "sh", "-c", &script])
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = match c.spawn() {
                Ok(c) => c,
                Err(e) => return Err(format!("unshare: {e}")),
            };
            let mut line = String::new();
            let out = child.stdout.take().expect("piped");
            let _ = std::io::BufReader::new(out).read_line(&mut line);
            if line.trim() == "ready" {
                return Ok(Netns {
                    holder: child,
                    user_ns,
                    dir: dir.to_path_buf(),
                    children: Vec::new(),
                });
            }
            let _ = child.kill();
            let out = child
                .wait_with_output()
                .map(|o| o.stderr)
                .unwrap_or_default();
            last = String::from_utf8_lossy(&out).trim().to_string();
        }
        Err(format!("cannot create a network namespace: {last}"))
    }

    fn nsenter_args(&self) -> Vec<String> {
        let mut a = vec![
            "-t".to_string(),
            self.holder.id().to_string(),
            "-n".into(),
            "-m".into(),
        ];
        if self.user_ns {
            a.extend(["-U".into(), "--preserve-credentials".into()]);
        }
        a.push("--".into());
        a
    }

    /// A script in the test dir that runs `bin` inside the namespace (give it to
    /// [`crate::Sops::new`]); the environment is passed through.
    pub fn wrap(&self, bin: &Path) -> PathBuf {
        let name = format!(
            "in-netns-{}",
            bin.file_name()
                .map_or("bin".into(), |n| n.to_string_lossy())
        );
        let path = self.dir.join(name);
        let args: Vec<String> = self
            .nsenter_args()
            .iter()
            .map(|a| format!("'{a}'"))
            .collect();
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nexec '{}' --wd=\"$PWD\" {} '{}' \"$@\"\n",
                sbin("nsenter").display(),
                args.join(" "),
                bin.display()
            ),
        )
        .expect("write the netns wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A command running `program args` inside the namespace.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, program: &str, args: &[S]) -> Command {
        let mut c = Command::new(sbin("nsenter"));
        c.args(self.nsenter_args()).arg(program).args(args);
        c
    }

    /// Starts `python3 script args` inside the namespace (stderr to `log`) and waits until it
    /// accepts connections on `port`.
    pub fn python(&mut self, script: &Path, args: &[String], port: u16, log: &str) {
        let err = std::fs::File::create(self.dir.join(log)).expect("log file");
        let mut a = vec![script.display().to_string()];
        a.extend(args.iter().cloned());
        let mut c = Command::new(sbin("nsenter"));
        c.arg(format!("--wd={}", self.dir.display()))
            .args(self.nsenter_args())
            .arg("python3")
            .args(&a);
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start python3 in the namespace");
        self.children.push(child);
        let start = Instant::now();
        loop {
            let probe = self
                .command(
                    "bash",
                    &["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")],
                )
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if probe {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} did not listen on {port}: {}",
                script.display(),
                self.log(log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The text of a log file in the test dir.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Empties a log file (the server keeps appending to it).
    pub fn clear_log(&self, name: &str) {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.dir.join(name));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The namespace of a cloud test with the stand-ins running: the GCP fake on [`GCP_PORT`], the
/// Azure fake on [`AZURE_PORT`] (its identity endpoint on [`AZURE_TOKEN_PORT`]), the helper's token
/// endpoint on 9100 (RS256 checked with `sa.pub.pem`), a 403 vault on 9443, a 500 vault on 9444,
/// a 403 and a 500 REST endpoint on 9403/9500, a silent server on 9200 and a counter on 9300.
pub struct CloudLab {
    /// The namespace (and the test dir: certificates, keys, logs).
    pub ns: Netns,
    /// The PEM CA certificate of the vaults' certificate (`SSL_CERT_FILE`).
    pub cert: PathBuf,
    /// A service account's PKCS#8 private key (PEM) the token endpoint accepts (and, with
    /// `sa-cert.pem`, an Azure client certificate).
    pub sa_key: String,
}

/// Port of the helper's token endpoint.
pub const TOKEN_PORT: u16 = 9100;
/// Port of a silent server.
pub const HANG_PORT: u16 = 9200;
/// Port of a connection counter.
pub const COUNT_PORT: u16 = 9300;
/// An HTTP proxy (CONNECT and absolute form) to 127.0.0.1, logging its targets to `proxy.log`.
pub const PROXY_PORT: u16 = 9310;

impl CloudLab {
    /// Starts everything in `dir`; `Err(why)` when a namespace cannot be made or a tool is missing.
    pub fn start(dir: &Path) -> Result<CloudLab, String> {
        let tools = kms_tools_dir();
        for f in ["gcp-kms-fake.py", "azure-kv-fake.py"] {
            if !tools.join(f).is_file() {
                return Err(format!(
                    "{} not found (../shared/tools/kms beside the clone, or KSOPS_KMS_TOOLS_DIR)",
                    tools.join(f).display()
                ));
            }
        }
        let py = Command::new("python3")
            .args(["-c", "import cryptography"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !py {
            return Err("python3 with the cryptography module is needed by the stand-ins".into());
        }
        let helper = dir.join("cloud_helper.py");
        std::fs::write(&helper, include_str!("cloud_helper.py")).map_err(|e| e.to_string())?;
        // a CA and a server certificate for the vault names (rustls, unlike Go, refuses a
        // self-signed CA certificate as a server's), and a service account key
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=DNS:sops.localhost,DNS:localhost,DNS:vault.evil.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        let steps: [&[&str]; 7] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=kubectl-sops test CA",
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=sops.localhost",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "sa.pem",
            ],
            &["pkey", "-in", "sa.pem", "-pubout", "-out", "sa.pub.pem"],
            &[
                "req",
                "-x509",
                "-key",
                "sa.pem",
                "-out",
                "sa-cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=sops-sp",
            ],
            &["version"],
        ];
        for args in steps {
            crate::openssl(dir, args)?;
        }
        let mut ns = Netns::start(
            dir,
            "127.0.0.1 localhost sops.localhost vault.evil.test\n::1 localhost\n",
        )?;
        let s = |v: &str| v.to_string();
        let (cert, key) = (s("cert.pem"), s("key.pem"));
        ns.python(
            &tools.join("gcp-kms-fake.py"),
            &[GCP_PORT.to_string()],
            GCP_PORT,
            "gcp.log",
        );
        ns.python(
            &tools.join("azure-kv-fake.py"),
            &[
                cert.clone(),
                key.clone(),
                AZURE_PORT.to_string(),
                AZURE_TOKEN_PORT.to_string(),
            ],
            AZURE_PORT,
            "azure.log",
        );
        ns.python(
            &helper,
            &[s("token"), TOKEN_PORT.to_string(), s("sa.pub.pem")],
            TOKEN_PORT,
            "token.log",
        );
        for (port, code, tls) in [
            (9443, "403", true),
            (9444, "500", true),
            (9403, "403", false),
            (9500, "500", false),
        ] {
            let mut a = vec![s("status"), port.to_string(), s(code)];
            if tls {
                a.extend([cert.clone(), key.clone()]);
            }
            ns.python(&helper, &a, port, &format!("status{port}.log"));
        }
        ns.python(
            &helper,
            &[s("hang"), HANG_PORT.to_string()],
            HANG_PORT,
            "hang.log",
        );
        ns.python(
            &helper,
            &[s("count"), COUNT_PORT.to_string()],
            COUNT_PORT,
            "count.log",
        );
        ns.python(
            &helper,
            &[s("proxy"), PROXY_PORT.to_string()],
            PROXY_PORT,
            "proxy.log",
        );
        // the readiness probes were counted: wait for their lines, then start from empty logs
        let start = Instant::now();
        while !(ns.log("count.log").contains("accept") && ns.log("hang.log").contains("accept"))
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        ns.clear_log("count.log");
        ns.clear_log("hang.log");
        let sa_key = std::fs::read_to_string(dir.join("sa.pem")).map_err(|e| e.to_string())?;
        Ok(CloudLab {
            cert: dir.join("ca.pem"),
            ns,
            sa_key,
        })
    }

    /// `bin` run inside the namespace from `dir`, with the environment both fakes need: the
    /// vault certificate trusted, the App Service identity endpoint, the GCP REST endpoint and a
    /// static GCP token; no cloud credential of the machine leaks in.
    pub fn runner(&self, bin: &Path, dir: &Path) -> crate::Sops {
        crate::Sops::new(self.ns.wrap(bin), dir)
            .env("SSL_CERT_FILE", &self.cert)
            .env(
                "IDENTITY_ENDPOINT",
                format!("http://127.0.0.1:{AZURE_TOKEN_PORT}/msi/token"),
            )
            .env("IDENTITY_HEADER", "dummy-identity-header")
            .env("SOPS_GCP_KMS_CLIENT_TYPE", "rest")
            .env(
                "SOPS_GCP_KMS_ENDPOINT",
                format!("http://127.0.0.1:{GCP_PORT}"),
            )
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "gcp-static-token")
    }
}

/// A cloud test's temp dir (holding `files`), its lab, real sops 3.13.2 and our binary.
pub struct CloudEnv {
    /// The test dir (the lab's files live in it too).
    pub tmp: tempfile::TempDir,
    /// The namespace and the servers in it.
    pub lab: CloudLab,
    /// Real sops 3.13.2.
    pub sops: PathBuf,
    /// Our `kubectl-sops`.
    pub ours: PathBuf,
}

impl CloudEnv {
    /// Writes `files` into a new temp dir and starts the lab; `None` when skipped (see [`lab`]).
    pub fn start(files: &[(&str, &str)]) -> Option<CloudEnv> {
        let sops = crate::need1("sops")?;
        let tmp = tempfile::tempdir().unwrap();
        let lab = lab(tmp.path())?;
        for (name, text) in files {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        Some(CloudEnv {
            lab,
            sops,
            ours: crate::workspace_bin("kubectl-sops"),
            tmp,
        })
    }

    /// The test dir.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `name` in the test dir, as a string argument.
    pub fn path(&self, name: &str) -> String {
        self.dir().join(name).display().to_string()
    }

    /// Writes `bytes` to `name` in the test dir; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir().join(name), bytes).unwrap();
        self.path(name)
    }

    /// Our binary in the namespace (see [`CloudLab::runner`]).
    pub fn ours(&self) -> crate::Sops {
        self.lab.runner(&self.ours, self.dir())
    }

    /// Real sops in the namespace.
    pub fn sops(&self) -> crate::Sops {
        self.lab.runner(&self.sops, self.dir())
    }

    /// Every one of [`STORE_INPUTS`] (already in the test dir) sealed by real sops with `flags`,
    /// its file holding `names` (the key); we unseal each byte for byte.
    ///
    /// [`STORE_INPUTS`]: crate::servers::STORE_INPUTS
    pub fn assert_we_unseal_what_sops_sealed(&self, flags: &[&str], names: &str) {
        for (name, text) in crate::servers::STORE_INPUTS {
            let mut head = vec!["encrypt"];
            head.extend(flags);
            let enc = self.sops().ok(store_args(&head, &self.path(name)));
            let enc_text = crate::text(&enc);
            assert!(enc_text.contains(names), "{name}: {enc_text}");
            let enc_path = self.write(&format!("by-sops-{name}"), &enc);
            let out = self.ours().ok(store_args(&["unseal"], &enc_path));
            assert_eq!(crate::text(&out), *text, "{name}");
        }
    }

    /// Every one of [`STORE_INPUTS`] sealed by us (keys from the `.sops.yaml` the test wrote) opens
    /// with real sops, and its metadata is laid out exactly as sops lays out its own.
    /// `also(name, plaintext, sealed, decrypt arguments)` checks more of each file.
    ///
    /// [`STORE_INPUTS`]: crate::servers::STORE_INPUTS
    pub fn assert_sops_opens_what_we_seal(&self, also: impl Fn(&str, &str, &[u8], &[String])) {
        for (name, text) in crate::servers::STORE_INPUTS {
            let sealed = self.ours().ok(store_args(&["seal"], &self.path(name)));
            let enc = self.write(&format!("sealed-{name}"), &sealed);
            let dargs = store_args(&["decrypt"], &enc);
            let out = self.sops().ok(&dargs);
            assert_eq!(crate::text(&out), *text, "{name}");
            also(name, text, &sealed, &dargs);
            let theirs = self.sops().ok(store_args(&["encrypt"], &self.path(name)));
            assert_eq!(
                metadata_shape(&crate::text(&sealed)),
                metadata_shape(&crate::text(&theirs)),
                "{name}: metadata laid out differently from sops"
            );
        }
    }

    /// `sealed` written to `<what>.yaml` and decrypted by real sops: the plaintext.
    pub fn sops_decrypt(&self, what: &str, sealed: &[u8]) -> String {
        let enc = self.write(&format!("{what}.yaml"), sealed);
        crate::text(&self.sops().ok(["decrypt", &enc]))
    }

    /// Each `(what, runner, logged)` unseals `enc` to the first of [`STORE_INPUTS`], and the token
    /// endpoint's log of that run holds `logged` (how the credential asked for its token).
    ///
    /// [`STORE_INPUTS`]: crate::servers::STORE_INPUTS
    pub fn assert_tokens_from(&self, enc: &str, cases: Vec<(&str, crate::Sops, &str)>) {
        for (what, runner, logged) in cases {
            self.lab.ns.clear_log("token.log");
            let out = runner.ok(["unseal", enc]);
            assert_eq!(
                crate::text(&out),
                crate::servers::STORE_INPUTS[0].1,
                "{what}"
            );
            let log = self.lab.ns.log("token.log");
            assert!(log.contains(logged), "{what}: token endpoint log: {log}");
        }
    }
}

/// A cloud test's set-up: `Some(lab)`, or `None` after printing why it is skipped (a panic in CI,
/// like a missing peer).
pub fn lab(dir: &Path) -> Option<CloudLab> {
    match CloudLab::start(dir) {
        Ok(l) => Some(l),
        Err(why) => {
            let msg = format!("SKIPPED: GCP/Azure contract test: {why}");
            if crate::in_ci() {
                panic!("{msg}. CI=true/KSOPS_REQUIRE_PEERS is set, so this is a failure");
            }
            eprintln!("{msg}");
            None
        }
    }
}
