//! Key-service servers for the e2e tests, started and stopped by the tests themselves on free
//! 127.0.0.1 ports: an OpenBao dev server (Vault transit) and local-kms (AWS KMS) seeded with the
//! fixed test key of `tests/fixtures/kms/local-kms-seed.yaml`, and moto (KMS + STS, for roles). Each
//! is killed when dropped.
//! [`AcceptCounter`] is a listener that only counts connection attempts (for "no network call").

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Plaintexts in sops' canonical form, one per store: the key-service tests seal each of them.
pub const STORE_INPUTS: &[(&str, &str)] = &[
    (
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: demo\nstringData:\n    password: hunter2\n    token: abc\n",
    ),
    ("app.json", "{\n\t\"user\": \"alice\",\n\t\"port\": 8080\n}\n"),
    ("app.env", "USER=alice\nPASSWORD=s3cr=t\n"),
    ("app.ini", "[database]\nuser     = alice\npassword = secret\n"),
];

/// The type flags sops and we need for the file `name` (`--input-type dotenv` for `.env`).
pub fn type_flags(name: &str) -> Vec<String> {
    if name.ends_with(".env") {
        vec!["--input-type".into(), "dotenv".into()]
    } else {
        Vec::new()
    }
}

/// `head` (a command and its flags), then [`type_flags`] for `file`, then `file`: the arguments
/// that seal, encrypt, unseal or decrypt `file` in any store.
pub fn store_args(head: &[&str], file: &str) -> Vec<String> {
    let mut args: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    args.extend(type_flags(file));
    args.push(file.to_string());
    args
}

/// The dev server's root token.
pub const BAO_ROOT_TOKEN: &str = "root";
/// local-kms' region and account (the ARNs of the seeded key use them).
pub const KMS_REGION: &str = "eu-west-2";
/// Account id of the seeded local-kms.
pub const KMS_ACCOUNT: &str = "111122223333";
/// Key id of the seeded local-kms key.
pub const KMS_KEY_ID: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

/// The ARN of the seeded key.
pub fn kms_key_arn() -> String {
    format!("arn:aws:kms:{KMS_REGION}:{KMS_ACCOUNT}:key/{KMS_KEY_ID}")
}

/// The ARN of the seeded alias `alias/sops-test`.
pub fn kms_alias_arn() -> String {
    format!("arn:aws:kms:{KMS_REGION}:{KMS_ACCOUNT}:alias/sops-test")
}

/// The committed local-kms seed (fixed key material: files made once stay openable).
pub fn kms_seed_file() -> PathBuf {
    crate::workspace_root().join("tests/fixtures/kms/local-kms-seed.yaml")
}

/// A port the kernel just handed out on 127.0.0.1 (free at the time of the call).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// One plain HTTP/1.0 request to 127.0.0.1:`port`: `(status, body)`, `None` when nothing answers.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let start = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some((status, out[start..].to_vec()))
}

fn wait_until(what: &str, child: &mut Child, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if ready() {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited before it was ready ({st})");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} not ready within 30 s");
}

/// A server process of a test on a free 127.0.0.1 port, with a fresh temp dir of its own; killed
/// (and reaped) when stopped or dropped.
struct Running {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Runs `bin` with an empty environment but `PATH`, stdin, stdout and stderr on `/dev/null`,
    /// and what `cmd(command, port, dir)` adds; then waits until `ready(port)` says yes.
    fn start(
        what: &str,
        bin: &Path,
        ready: impl Fn(u16) -> bool,
        cmd: impl FnOnce(&mut Command, u16, &Path),
    ) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut command = Command::new(bin);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd(&mut command, port, dir.path());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        wait_until(what, &mut child, || ready(port));
        Running {
            child,
            port,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An OpenBao dev server with the transit engine mounted at `transit/` and the key `sops`.
pub struct OpenBao(Running);

impl OpenBao {
    /// Starts `bao server -dev` on a free loopback port and sets transit up.
    pub fn start(bao: &Path) -> OpenBao {
        let ready = |port| {
            let health = http(port, "GET", "/v1/sys/health", &[], b"");
            matches!(health, Some((200, _)))
        };
        let bao = OpenBao(Running::start(
            "bao server -dev",
            bao,
            ready,
            |cmd, port, dir| {
                cmd.args([
                    "server",
                    "-dev",
                    &format!("-dev-root-token-id={BAO_ROOT_TOKEN}"),
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                ])
                .env("HOME", dir);
            },
        ));
        bao.api("/v1/sys/mounts/transit", r#"{"type":"transit"}"#);
        bao.create_key("sops");
        bao
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.0.url()
    }

    /// The sops URI of transit key `name`.
    pub fn uri(&self, name: &str) -> String {
        format!("{}/v1/transit/keys/{name}", self.address())
    }

    /// Creates transit key `name`.
    pub fn create_key(&self, name: &str) {
        self.api(&format!("/v1/transit/keys/{name}"), "{}");
    }

    /// POSTs `body` as root; panics unless 2xx. Returns the body.
    pub fn api(&self, path: &str, body: &str) -> Vec<u8> {
        let (status, out) = http(
            self.0.port,
            "POST",
            path,
            &[("X-Vault-Token", BAO_ROOT_TOKEN)],
            body.as_bytes(),
        )
        .expect("bao answers");
        assert!(
            (200..300).contains(&status),
            "bao {path}: HTTP {status} {}",
            String::from_utf8_lossy(&out)
        );
        out
    }

    /// Stops the server now (dropping does too).
    pub fn stop(&mut self) {
        self.0.stop();
    }
}

/// local-kms on a free loopback port, seeded from [`kms_seed_file`], with a fresh data dir.
pub struct LocalKms(Running);

impl LocalKms {
    /// Starts local-kms and waits until it answers `ListKeys`.
    pub fn start(bin: &Path) -> LocalKms {
        LocalKms(Running::start(
            "local-kms",
            bin,
            kms_ready,
            |cmd, port, dir| {
                cmd.env("PORT", port.to_string())
                    .env("KMS_REGION", KMS_REGION)
                    .env("KMS_ACCOUNT_ID", KMS_ACCOUNT)
                    .env("KMS_DATA_PATH", dir.join("data"))
                    .env("KMS_SEED_PATH", kms_seed_file());
            },
        ))
    }

    /// `http://127.0.0.1:PORT` (for `AWS_ENDPOINT_URL_KMS`).
    pub fn endpoint(&self) -> String {
        self.0.url()
    }

    /// Stops the server now (dropping does too).
    pub fn stop(&mut self) {
        self.0.stop();
    }
}

/// moto's server (KMS and STS in one endpoint) on a free loopback port: the `role` path of `kms`
/// keys, which local-kms cannot serve (it has no STS).
pub struct Moto(Running);

impl Moto {
    /// Starts `moto_server` and waits until it answers.
    pub fn start(bin: &Path) -> Moto {
        Moto(Running::start("moto", bin, kms_ready, |cmd, port, _| {
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        }))
    }

    /// `http://127.0.0.1:PORT` (for `AWS_ENDPOINT_URL`: KMS and STS).
    pub fn endpoint(&self) -> String {
        self.0.url()
    }

    /// Creates a symmetric key and returns its ARN (region us-east-1, moto's default account).
    pub fn create_key(&self) -> String {
        // moto routes a request by the service in the credential scope (unsigned checks are off)
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, \
                    SignedHeaders=host, Signature=0";
        let (status, body) = http(
            self.0.port,
            "POST",
            "/",
            &[
                ("X-Amz-Target", "TrentService.CreateKey"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Authorization", auth),
            ],
            b"{}",
        )
        .expect("moto answers");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        // `"Arn": "arn:aws:kms:…"` (the only ARN of the answer; the lib has no JSON parser)
        let text = String::from_utf8_lossy(&body);
        let arn = text
            .split('"')
            .find(|s| s.starts_with("arn:aws:kms:"))
            .unwrap_or_else(|| panic!("no key ARN in CreateKey's answer: {text}"));
        arn.to_string()
    }
}

/// One KMS JSON 1.1 call (`TrentService.<op>`) to the KMS server (local-kms, moto) on `port`.
pub fn kms_call(port: u16, op: &str, body: &str) -> Option<(u16, Vec<u8>)> {
    http(
        port,
        "POST",
        "/",
        &[
            ("X-Amz-Target", &format!("TrentService.{op}")),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
    )
}

/// True when the KMS server on `port` answers `ListKeys`.
fn kms_ready(port: u16) -> bool {
    matches!(kms_call(port, "ListKeys", "{}"), Some((200, _)))
}

/// A 127.0.0.1 listener that accepts and counts connections and closes each at once: point a key
/// service address at it to prove no connection was attempted.
pub struct AcceptCounter {
    /// Its port.
    pub port: u16,
    count: Arc<AtomicUsize>,
}

impl AcceptCounter {
    /// Binds a free port and counts in a background thread.
    pub fn start() -> AcceptCounter {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                c.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        AcceptCounter { port, count }
    }

    /// Connections accepted so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// The metadata lines of an encrypted file (any store) with ciphertexts, dates and MACs masked: two
/// files sealed with the same keys and rule give the same lines when laid out alike.
pub fn metadata_shape(text: &str) -> Vec<String> {
    let start = ["sops:", "\"sops\": {", "sops_", "[sops]"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(0);
    text[start..]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // the field name, past indentation, list dashes, quotes and dotenv/INI flattening
            let t = l.trim_start_matches([' ', '\t', '-', '"']);
            let base = t.rsplit("__map_").next().unwrap_or(t);
            let base = base.strip_prefix("sops_").unwrap_or(base);
            for key in ["enc", "created_at", "lastmodified", "mac"] {
                if let Some(rest) = base.strip_prefix(key) {
                    if rest.starts_with(['"', ':', '=', ' ']) {
                        let keep = l.len() - base.len() + key.len();
                        return format!("{}<masked>", &l[..keep]);
                    }
                }
            }
            l.to_string()
        })
        .collect()
}
