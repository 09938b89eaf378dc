//! Helpers for the end-to-end tests in `tests/*.rs`: finding real peer programs (built by
//! `scripts/peers.sh build`), running real `sops` in an isolated environment, throw-away GnuPG
//! homes, the shared test vectors, the workspace's own `kubectl-sops` binary and the local test
//! control plane ([`cluster`]: real etcd + kube-apiserver started by `scripts/peers.sh up`).
//!
//! Gate: a test that needs a peer calls [`need`]. Locally a missing peer prints `SKIPPED: …` and the
//! test returns early (it counts as passed); in CI (`CI=true|1` or `KSOPS_REQUIRE_PEERS` set) a
//! missing peer panics, so CI can never go green by skipping.
//!
//! ```no_run
//! use e2e_tests::{need, vectors_dir, Sops};
//! let Some(bins) = need(&["sops"]) else { return };
//! let dir = tempfile::tempdir().unwrap();
//! let (code, out, err) = Sops::new(&bins[0], dir.path())
//!     .age_key_file(vectors_dir().join("keys/gen_age_a.txt"))
//!     .run(["decrypt", "x.enc.yaml"]);
//! ```

pub mod cloud;
pub mod proxy;
pub mod servers;
pub mod tls;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{env, fs, io};

/// Cache directory name used by `scripts/peers.sh` (under `$XDG_CACHE_HOME` or `$HOME/.cache`).
pub const PEERS_DIR_NAME: &str = "kubectl-sops-peers";

/// Tools taken from `PATH` when they are not in the peers cache (system packages, not pinned).
/// Pinned peers such as `sops` are never looked up on `PATH`: a stray system sops of another
/// version must not silently stand in for the pinned one.
pub const SYSTEM_TOOLS: &[&str] = &["gpg", "gpgconf", "git"];

fn real_env(k: &str) -> Option<OsString> {
    env::var_os(k)
}

// ------------------------------------------------------------------------------------- gate

/// True in CI: `CI` is `true`/`1`, or `KSOPS_REQUIRE_PEERS` is set (to anything non-empty).
pub fn in_ci() -> bool {
    in_ci_with(real_env)
}

fn in_ci_with(getenv: impl Fn(&str) -> Option<OsString>) -> bool {
    let ci = getenv("CI").map(|v| v.to_string_lossy().trim().to_ascii_lowercase());
    matches!(ci.as_deref(), Some("true") | Some("1"))
        || getenv("KSOPS_REQUIRE_PEERS").is_some_and(|v| !v.is_empty())
}

/// `KSOPS_PEER_<NAME>`: upper case, `-` and `.` become `_` (`sops-3.11` → `KSOPS_PEER_SOPS_3_11`).
pub fn peer_env_var(name: &str) -> String {
    let n: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("KSOPS_PEER_{n}")
}

fn nonempty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|v| !v.is_empty())
}

/// The default peers bin dir: `$KSOPS_PEERS_ROOT/bin`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers/bin` (the same rule as `peers.sh`).
pub fn default_peers_bin() -> Option<PathBuf> {
    default_peers_bin_with(real_env)
}

fn default_peers_bin_with(getenv: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(root) = nonempty(getenv("KSOPS_PEERS_ROOT")) {
        return Some(PathBuf::from(root).join("bin"));
    }
    let cache = match nonempty(getenv("XDG_CACHE_HOME")) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(nonempty(getenv("HOME"))?).join(".cache"),
    };
    Some(cache.join(PEERS_DIR_NAME).join("bin"))
}

/// Where `name` is expected to be, without checking that it exists:
/// `$KSOPS_PEER_<NAME>`, else `$KSOPS_PEERS_BIN/<name>`, else [`default_peers_bin`]`/<name>`.
pub fn peer_location(name: &str) -> Option<PathBuf> {
    peer_location_with(name, real_env)
}

fn peer_location_with(name: &str, getenv: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(p) = nonempty(getenv(&peer_env_var(name))) {
        return Some(PathBuf::from(p));
    }
    if let Some(bin) = nonempty(getenv("KSOPS_PEERS_BIN")) {
        return Some(PathBuf::from(bin).join(name));
    }
    Some(default_peers_bin_with(getenv)?.join(name))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn which(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// The executable for peer `name`, if present (see [`peer_location`]; [`SYSTEM_TOOLS`] also
/// fall back to `PATH`).
pub fn peer(name: &str) -> Option<PathBuf> {
    if let Some(p) = peer_location(name).filter(|p| is_executable(p)) {
        return Some(p);
    }
    // An explicit KSOPS_PEER_<NAME> that points nowhere is not silently replaced by PATH.
    if SYSTEM_TOOLS.contains(&name) && nonempty(real_env(&peer_env_var(name))).is_none() {
        return which(name);
    }
    None
}

/// All of `names`, in order, or `None` after printing `SKIPPED: …` to stderr.
/// Panics instead of skipping when [`in_ci`].
pub fn need(names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for n in names {
        match peer(n) {
            Some(p) => found.push(p),
            None => missing.push(match peer_location(n) {
                Some(l) => format!(
                    "{n} (not at {}; override: {}=PATH)",
                    l.display(),
                    peer_env_var(n)
                ),
                None => format!("{n} (HOME unset and no KSOPS_PEERS_BIN)"),
            }),
        }
    }
    if missing.is_empty() {
        return Some(found);
    }
    let msg = format!(
        "real peer(s) missing: {}; run `scripts/peers.sh build` (cache: {})",
        missing.join(", "),
        default_peers_bin().map_or_else(|| "?".into(), |p| p.display().to_string()),
    );
    skip_or_fail(&msg)
}

/// The gate's verdict on a missing prerequisite: prints `SKIPPED: {msg}` and returns `None`, or
/// panics when [`in_ci`].
fn skip_or_fail<T>(msg: &str) -> Option<T> {
    if in_ci() {
        panic!(
            "{msg}. CI=true/KSOPS_REQUIRE_PEERS is set, so a missing peer or cluster is a failure"
        );
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Like [`need`] for a single peer.
pub fn need1(name: &str) -> Option<PathBuf> {
    need(&[name]).map(|mut v| v.remove(0))
}

// ------------------------------------------------------------------------------------- paths

/// The cargo workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `shared/vectors/sops` beside the clone (`<workspace>/../shared/vectors/sops`), or
/// `$KSOPS_VECTORS_DIR`. Not checked for existence; see [`vectors_dir_checked`].
pub fn vectors_dir() -> PathBuf {
    if let Some(d) = nonempty(env::var_os("KSOPS_VECTORS_DIR")) {
        return PathBuf::from(d);
    }
    let p = workspace_root().join("../shared/vectors/sops");
    p.canonicalize().unwrap_or(p)
}

/// The `# public key:` recipient of an age key file (the vectors' `keys/*.txt`).
pub fn age_recipient(key_file: &Path) -> String {
    std::fs::read_to_string(key_file)
        .unwrap_or_else(|e| panic!("{}: {e}", key_file.display()))
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap_or_else(|| panic!("{}: no `# public key:` line", key_file.display()))
        .trim()
        .to_string()
}

/// [`vectors_dir`], panicking with a clear message when it is not there.
pub fn vectors_dir_checked() -> PathBuf {
    let d = vectors_dir();
    assert!(
        d.join("keys").is_dir(),
        "sops test vectors not found at {} (expected shared/ beside the clone, or set KSOPS_VECTORS_DIR)",
        d.display()
    );
    d
}

/// Profile output dir (`<target>/<profile>`) of the running test executable, which cargo puts at
/// `<target>/<profile>/deps/<test>-<hash>`.
fn exe_profile_dir() -> Option<PathBuf> {
    let exe = env::current_exe().ok()?;
    let deps = exe.parent()?;
    (deps.file_name()? == "deps").then(|| deps.parent().map(Path::to_path_buf))?
}

/// Cargo's `--profile` name for a profile output dir name (`debug` is the `dev` profile).
pub fn profile_for_dir(dir_name: &str) -> &str {
    if dir_name == "debug" {
        "dev"
    } else {
        dir_name
    }
}

/// `cargo build` results of this test process, per binary name (each is built once).
static BUILD: std::sync::Mutex<Vec<(String, Result<(), String>)>> =
    std::sync::Mutex::new(Vec::new());

/// The workspace binary `name` (e.g. `kubectl-sops`), built for the test's own profile.
///
/// `$KSOPS_BIN_<NAME>` (e.g. `KSOPS_BIN_KUBECTL_SOPS`) overrides the path and skips building.
/// Otherwise the binary is taken from the test executable's `<target>/<profile>/` dir (which
/// follows `CARGO_TARGET_DIR`, `--release`, `--profile`), and `cargo build -p <name>` is run
/// once per test process first so that it is never stale (a no-op when up to date). Set
/// `KSOPS_NO_BUILD=1` to skip that build and use whatever is there.
pub fn workspace_bin(name: &str) -> PathBuf {
    let var = format!(
        "KSOPS_BIN_{}",
        peer_env_var(name).trim_start_matches("KSOPS_PEER_")
    );
    if let Some(p) = nonempty(env::var_os(&var)) {
        let p = PathBuf::from(p);
        assert!(
            is_executable(&p),
            "{var}={} is not an executable file",
            p.display()
        );
        return p;
    }
    let profile_dir = exe_profile_dir()
        .or_else(|| {
            nonempty(env::var_os("CARGO_TARGET_DIR")).map(|t| PathBuf::from(t).join("debug"))
        })
        .unwrap_or_else(|| workspace_root().join("target/debug"));
    let bin = profile_dir.join(name);
    if nonempty(env::var_os("KSOPS_NO_BUILD")).is_none() {
        let mut built = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        if !built.iter().any(|(n, _)| n == name) {
            let res = cargo_build(name, &profile_dir);
            built.push((name.to_string(), res));
        }
        if let Some((_, Err(e))) = built.iter().find(|(n, _)| n == name) {
            panic!("{e}");
        }
    }
    assert!(
        is_executable(&bin),
        "{} not found (build it with `cargo build -p {name}`, or set {var})",
        bin.display()
    );
    bin
}

fn cargo_build(name: &str, profile_dir: &Path) -> Result<(), String> {
    let dir_name = profile_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("debug");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        name,
        // every binary of the package (kubectl-sops also ships kubectl_complete-sops)
        "--bins",
        "--profile",
        profile_for_dir(dir_name),
    ])
    .current_dir(workspace_root());
    // Build into the same target dir as the running tests (unless it is a --target <triple> layout,
    // where the inherited CARGO_TARGET_DIR / default is already right).
    if let Some(target_root) = profile_dir.parent() {
        if target_root.join("CACHEDIR.TAG").is_file() {
            cmd.env("CARGO_TARGET_DIR", target_root);
        }
    }
    eprintln!("e2e-tests: {cmd:?}");
    let out = cmd
        .stdout(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`cargo build -p {name}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

// ------------------------------------------------------------------------------------- runner

/// Variables passed through from the test's environment to peers; everything else is dropped
/// (notably `SOPS_*`, `GNUPGHOME`, `XDG_*` — sops reads `$XDG_CONFIG_HOME/sops/age/keys.txt` —,
/// cloud credentials and `HOME`, which sops uses for `~/.ssh` identities).
pub const PASS_ENV: &[&str] = &["PATH", "TMPDIR", "LANG", "LC_ALL", "TZ"];

/// `(exit code, stdout, stderr)`. The code is `128 + signal` when the child was killed by one.
pub type Outcome = (i32, Vec<u8>, String);

fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Runs a program (typically a real sops, but also `kubectl-sops`) in `dir` with an isolated
/// environment: only [`PASS_ENV`] is inherited, `HOME=dir` and `SOPS_DISABLE_VERSION_CHECK=1`.
/// `SOPS_AGE_KEY_FILE`, `GNUPGHOME`, `SOPS_CONFIG`, … are only set when asked for.
///
/// sops looks for `.sops.yaml` from its working directory upwards; `dir` should be a temp dir
/// (or pin the config with [`Sops::config`]).
#[derive(Debug, Clone)]
pub struct Sops {
    bin: PathBuf,
    dir: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Sops {
    pub fn new(bin: impl AsRef<Path>, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref().to_path_buf();
        let mut s = Sops {
            bin: bin.as_ref().to_path_buf(),
            dir: dir.clone(),
            env: Vec::new(),
        };
        s = s.env("HOME", &dir).env("SOPS_DISABLE_VERSION_CHECK", "1");
        s
    }

    /// Set (or replace) one variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        let k = k.as_ref().to_os_string();
        self.env.retain(|(ek, _)| *ek != k);
        self.env.push((k, v.as_ref().to_os_string()));
        self
    }

    /// Remove a variable set earlier (including the defaults `HOME`, `SOPS_DISABLE_VERSION_CHECK`).
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.env.retain(|(ek, _)| ek != k.as_ref());
        self
    }

    pub fn age_key_file(self, p: impl AsRef<Path>) -> Self {
        self.env("SOPS_AGE_KEY_FILE", p.as_ref())
    }

    pub fn gnupghome(self, p: impl AsRef<Path>) -> Self {
        self.env("GNUPGHOME", p.as_ref())
    }

    /// `SOPS_CONFIG` (the `.sops.yaml` to use instead of searching from the working dir).
    pub fn config(self, p: impl AsRef<Path>) -> Self {
        self.env("SOPS_CONFIG", p.as_ref())
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The command as it would run (for callers needing more control, e.g. timeouts).
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(&self.dir).env_clear();
        for k in PASS_ENV {
            if let Some(v) = env::var_os(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run with stdin closed (`/dev/null`).
    pub fn run<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_stdin(args, None)
    }

    /// Run, feeding `input` on stdin when given.
    pub fn run_stdin<I, S>(&self, args: I, input: Option<&[u8]>) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        if let Some(data) = input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            let data = data.to_vec();
            // Write from a thread so a child that fills its stdout pipe cannot deadlock us.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let out = child.wait_with_output().expect("wait for child");
        (
            exit_code(out.status),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run and require exit 0; returns stdout. Panics with the command's stderr otherwise.
    pub fn ok<I, S>(&self, args: I) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let (code, out, err) = self.run(&args);
        assert_eq!(
            code,
            0,
            "{} {:?} exited {code}; stderr:\n{err}",
            self.bin.display(),
            args
        );
        out
    }

    /// First line of `--version` (e.g. `sops 3.13.2`).
    pub fn version(&self) -> String {
        let out = self.ok(["--version"]);
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    }
}

// ------------------------------------------------------------------------------------- cluster

/// Names the admin kubeconfig (token in group `system:masters`) of the local test control plane
/// that `scripts/peers.sh up` starts (real etcd + kube-apiserver on loopback).
pub const KUBECONFIG_ENV: &str = "KSOPS_TEST_KUBECONFIG";

/// Names the kubeconfig of an authenticated user without any RBAC binding (expect `Forbidden`).
pub const KUBECONFIG_UNPRIVILEGED_ENV: &str = "KSOPS_TEST_KUBECONFIG_UNPRIVILEGED";

/// The local test control plane (see [`cluster`]) and the real `kubectl` peer to drive it.
///
/// There is no kube-controller-manager: namespaces cannot be deleted (they stay `Terminating`),
/// so every test takes its own [`Cluster::fresh_namespace`] and never cleans up.
#[derive(Debug, Clone)]
pub struct Cluster {
    kubeconfig: PathBuf,
    unprivileged: PathBuf,
    kubectl: PathBuf,
}

/// The running control plane named by [`KUBECONFIG_ENV`] and [`KUBECONFIG_UNPRIVILEGED_ENV`], with
/// the `kubectl` peer. When either is missing: `SKIPPED: …` and `None` locally, a panic in CI
/// (same gate as [`need`]). `scripts/test.sh` starts the plane and exports both variables; by hand:
/// `bash scripts/peers.sh up && set -a && eval "$(bash scripts/peers.sh env)" && set +a`.
pub fn cluster() -> Option<Cluster> {
    let kubectl = need1("kubectl")?;
    let mut paths = Vec::with_capacity(2);
    for var in [KUBECONFIG_ENV, KUBECONFIG_UNPRIVILEGED_ENV] {
        match nonempty(env::var_os(var)).map(PathBuf::from) {
            Some(p) if p.is_file() => paths.push(p),
            Some(p) => {
                return skip_or_fail(&format!(
                    "{var}={} does not exist; is the control plane still up? \
                     (`bash scripts/peers.sh up`)",
                    p.display()
                ))
            }
            None => {
                return skip_or_fail(&format!(
                    "no test cluster: {var} is unset; run the tests through scripts/test.sh, or \
                     `bash scripts/peers.sh up` and export `bash scripts/peers.sh env`"
                ))
            }
        }
    }
    let unprivileged = paths.pop()?;
    let kubeconfig = paths.pop()?;
    Some(Cluster {
        kubeconfig,
        unprivileged,
        kubectl,
    })
}

impl Cluster {
    /// The admin kubeconfig (context `ksops-test`, namespace `default`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig of the user without RBAC bindings.
    pub fn unprivileged_kubeconfig(&self) -> &Path {
        &self.unprivileged
    }

    /// The real `kubectl` binary.
    pub fn kubectl_bin(&self) -> &Path {
        &self.kubectl
    }

    /// Runs real `kubectl` as admin (see [`Cluster::kubectl_with`]).
    pub fn kubectl<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.kubectl_with(&self.kubeconfig, args, None)
    }

    /// Runs real `kubectl` with `KUBECONFIG=kubeconfig`, `input` on stdin (else `/dev/null`), and a
    /// fresh `HOME` (so no stale discovery cache, e.g. right after a CRD was added), otherwise the
    /// isolated environment of [`Sops`].
    pub fn kubectl_with<I, S>(&self, kubeconfig: &Path, args: I, input: Option<&[u8]>) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let home = tempfile::tempdir().expect("temp HOME for kubectl");
        self.kubectl_runner(kubeconfig, home.path())
            .run_stdin(args, input)
    }

    /// Real `kubectl` with `KUBECONFIG=kubeconfig` and `HOME=home` (see [`Cluster::kubectl_with`]).
    fn kubectl_runner(&self, kubeconfig: &Path, home: &Path) -> Sops {
        Sops::new(&self.kubectl, home)
            .env_remove("SOPS_DISABLE_VERSION_CHECK")
            .env("KUBECONFIG", kubeconfig)
    }

    /// Runs real `kubectl` as admin and requires exit 0; returns stdout as text.
    pub fn kubectl_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let home = tempfile::tempdir().expect("temp HOME for kubectl");
        let out = self.kubectl_runner(&self.kubeconfig, home.path()).ok(args);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Creates a namespace named `<prefix>-<unique suffix>` with real kubectl and returns its name.
    /// Unique across test threads, test binaries and runs against a long-lived plane.
    pub fn fresh_namespace(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.kubectl_ok(["create", "namespace", &name]);
        name
    }

    /// `kubectl apply --server-side --field-manager=MANAGER -f -` as admin, `manifest` on stdin.
    pub fn apply_server_side(&self, manager: &str, manifest: &str) -> Outcome {
        let manager = format!("--field-manager={manager}");
        let args = argv("apply --server-side", &[&manager, "-f", "-"]);
        self.kubectl_with(&self.kubeconfig, args, Some(manifest.as_bytes()))
    }

    /// `kubectl get KIND NAME -n NS -o jsonpath={PATH}` as admin, required to succeed.
    pub fn jsonpath(&self, kind: &str, name: &str, ns: &str, path: &str) -> String {
        let path = format!("jsonpath={{{path}}}");
        self.kubectl_ok(argv("get", &[kind, name, "-n", ns, "-o", &path]))
    }

    /// `kubectl get secret NAME -n NS` as admin: each of `keys` of its `.data`, base64-decoded.
    pub fn secret_values(&self, ns: &str, name: &str, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .map(|key| {
                self.kubectl_ok([
                    "get",
                    "secret",
                    name,
                    "-n",
                    ns,
                    "-o",
                    &format!("go-template={{{{index .data \"{key}\" | base64decode}}}}"),
                ])
            })
            .collect()
    }

    /// Waits (up to 60 s) until the CRD `name` (`<plural>.<group>`) is `Established`; panics otherwise.
    pub fn wait_crd_established(&self, name: &str) {
        self.kubectl_ok([
            "wait",
            "--for=condition=Established",
            &format!("crd/{name}"),
            "--timeout=60s",
        ]);
    }
}

/// A DNS-1123 label `<prefix>-<pid>-<time>-<counter>` (at most 63 characters).
fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() % 1_000_000_000_000);
    let suffix = format!("-{:x}-{t:x}-{n}", std::process::id());
    let mut p: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    p.truncate(63 - suffix.len());
    let p = p.trim_matches('-');
    format!("{}{suffix}", if p.is_empty() { "t" } else { p })
}

// ------------------------------------------------------------------------------------- gnupg

/// A throw-away `GNUPGHOME` (short path under `/tmp`, mode 0700: gpg-agent's socket path must
/// stay short). The agent it may start is killed and the dir removed on drop.
pub struct GnupgHome {
    dir: tempfile::TempDir,
    gpg: PathBuf,
}

impl GnupgHome {
    /// Create the home and `gpg --batch --import` each of `keys` (armored `.asc`).
    /// `Err` when gpg is missing or an import fails; use [`need`]`(&["gpg"])` first to gate.
    pub fn new<P: AsRef<Path>>(keys: &[P]) -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let gpg =
            peer("gpg").ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "gpg not found"))?;
        let dir = tempfile::Builder::new().prefix("ksg").tempdir_in("/tmp")?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
        let home = GnupgHome { dir, gpg };
        for k in keys {
            let k = k.as_ref();
            let (code, _, err) = home.gpg_cmd().run([OsStr::new("--import"), k.as_os_str()]);
            if code != 0 {
                return Err(io::Error::other(format!(
                    "gpg --import {} failed ({code}): {err}",
                    k.display()
                )));
            }
        }
        Ok(home)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A runner for `gpg --batch …` with this home (same isolation as [`Sops`]).
    pub fn gpg_cmd(&self) -> GpgCmd<'_> {
        GpgCmd(self)
    }
}

/// See [`GnupgHome::gpg_cmd`].
pub struct GpgCmd<'a>(&'a GnupgHome);

impl GpgCmd<'_> {
    pub fn run<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let h = self.0;
        let args: Vec<OsString> = std::iter::once(OsString::from("--batch"))
            .chain(args.into_iter().map(|a| a.as_ref().to_os_string()))
            .collect();
        Sops::new(&h.gpg, h.path()).gnupghome(h.path()).run(args)
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let gpgconf = self.gpg.with_file_name("gpgconf");
        let gpgconf = if is_executable(&gpgconf) {
            gpgconf
        } else {
            PathBuf::from("gpgconf")
        };
        let _ = Command::new(gpgconf)
            .args(["--kill", "all"])
            .env("GNUPGHOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

// ------------------------------------------------------------------------------------- plaintext scan

/// A value that exists only in encrypted form: if it turns up in a file, plaintext was left on
/// disk. Unique per call (pid, time, counter), so concurrent tests never see each other's marker.
pub fn plaintext_marker(what: &str) -> String {
    unique_name(&format!("ksops-marker-{what}"))
}

/// The files under `roots` whose content holds `marker`: a bounded, cheap scan (at most 6 levels
/// deep, 20 000 entries, files up to 8 MiB; links not followed; unreadable entries skipped).
/// Meant for `/dev/shm`, `$XDG_RUNTIME_DIR` and a test's own `TMPDIR` after the runs under test.
pub fn files_containing(marker: &str, roots: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, budget: &mut usize, needle: &[u8], out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() && depth < 6 {
                walk(&p, depth + 1, budget, needle, out);
            } else if ft.is_file() {
                let small = e.metadata().is_ok_and(|m| m.len() <= 8 << 20);
                if small && fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
                {
                    out.push(p);
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut budget = 20_000;
    for r in roots {
        walk(r, 0, &mut budget, marker.as_bytes(), &mut out);
    }
    // roots may nest (`/dev/shm` holds a runtime dir)
    out.sort();
    out.dedup();
    out
}

/// A fresh private directory on tmpfs (under `/dev/shm`), for a program's `XDG_RUNTIME_DIR`, so a
/// test can scan exactly where its editor sessions went. Removed on drop.
pub fn runtime_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::Builder::new()
        .prefix("ksops-rt-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("runtime dir");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).expect("chmod 0700");
    d
}

// ------------------------------------------------------------------------------------- output

/// Output bytes as text (invalid UTF-8 replaced), for assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The words of `line` (split at white space), then `more`: an argument list written on one line,
/// e.g. `argv("template r chart -f", &[&url])`. Only for literal words: a path or a value that may
/// hold a space goes into `more`.
pub fn argv<'a>(line: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    line.split_whitespace()
        .chain(more.iter().copied())
        .collect()
}

/// The lines of output bytes (invalid UTF-8 replaced), to compare outputs line by line.
pub fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `secrets upgrade --install REL chart -n NS -f VALUES --set-file SET_FILE --timeout 60s`: the
/// helm arguments that install or upgrade the test chart's release through the wrapper.
pub fn secrets_upgrade_install<'a>(
    rel: &'a str,
    ns: &'a str,
    values: &'a str,
    set_file: &'a str,
) -> Vec<&'a str> {
    let mut args = argv(
        "secrets upgrade --install",
        &[rel, "chart", "-n", ns, "-f", values],
    );
    args.extend(["--set-file", set_file, "--timeout", "60s"]);
    args
}

/// The one line of an error message (`err` must end in its only `\n`); panics otherwise.
pub fn assert_one_line(err: &str) -> &str {
    assert!(
        err.ends_with('\n') && err.matches('\n').count() == 1,
        "one line expected: {err:?}"
    );
    err.trim_end()
}

/// Runs `openssl ARGS` in `dir` (test certificates and keys); a failure names the command and
/// carries openssl's own words.
pub fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run openssl (test certificates and keys): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed (test certificates and keys): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Asserts a failure on one line: exit `code` (any non-zero one for `None`), nothing on stdout,
/// each of `says` in the message and none of `never` (tokens, secrets). Returns the message.
pub fn assert_fails_on_one_line(
    out: Outcome,
    code: impl Into<Option<i32>>,
    says: &[&str],
    never: &[&str],
) -> String {
    let (got, stdout, err) = out;
    match code.into() {
        Some(code) => assert_eq!(got, code, "exit code; stderr: {err}"),
        None => assert_ne!(got, 0, "must fail; stderr: {err}"),
    }
    assert!(stdout.is_empty(), "nothing on stdout: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for s in says {
        assert!(err.contains(s), "says {s:?}: {err}");
    }
    for s in never {
        assert!(!err.contains(s), "leaks {s:?}: {err}");
    }
    err
}

// ------------------------------------------------------------------------------------- env

/// The pinned real sops peers, as `(peer name, label used in assertion messages)`.
pub const SOPS_PEERS: &[(&str, &str)] = &[("sops", "sops 3.13.2"), ("sops-3.11", "sops 3.11.0")];

/// One test's world: a fresh temp dir (removed on drop) to run in, the workspace's `kubectl-sops`,
/// and, when asked for, real sops peers, a default age key from the shared vectors, a throw-away
/// GnuPG home and the local test control plane.
///
/// Build it with [`Env::new`] and the `with_*`/[`Env::key`] steps. A step that needs a peer or the
/// cluster goes through the [`need`] gate: it returns `None` after printing `SKIPPED: …` (a panic in
/// CI), so a test starts with `let Some(env) = … else { return };`. Every runner
/// ([`Env::ours`], [`Env::sops`], [`Env::runner`]) is a [`Sops`] in the temp dir with an isolated
/// environment, the default key as `SOPS_AGE_KEY_FILE` and the GnuPG home as `GNUPGHOME` when set.
///
/// ```no_run
/// use e2e_tests::Env;
/// let Some(env) = Env::new().with_sops().map(|e| e.key("gen_age_a")) else { return };
/// let plain = env.write("secret.yaml", "password: hunter2\n");
/// let sealed = env.ours().ok(["seal", "--age", env.recipient(), plain.as_str()]);
/// let file = env.write("secret.enc.yaml", &sealed);
/// assert_eq!(env.sops().ok(["decrypt", &file]), b"password: hunter2\n");
/// ```
pub struct Env {
    tmp: tempfile::TempDir,
    sops: Vec<(&'static str, PathBuf)>,
    key: Option<(PathBuf, String)>,
    gnupg: Option<GnupgHome>,
    cluster: Option<Cluster>,
    vars: Vec<(OsString, OsString)>,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    /// A fresh temp dir and nothing else (no peer, no key).
    pub fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().expect("temp dir for the test"),
            sops: Vec::new(),
            key: None,
            gnupg: None,
            cluster: None,
            vars: Vec::new(),
        }
    }

    /// Adds real sops 3.13.2 ([`Env::sops`]); `None` when it is missing (see [`need`]).
    pub fn with_sops(self) -> Option<Env> {
        self.with_sops_peers(&SOPS_PEERS[..1])
    }

    /// Adds every pinned sops of [`SOPS_PEERS`] (3.13.2 first, then 3.11.0; see
    /// [`Env::sops_peers`]); `None` when one is missing.
    pub fn with_all_sops(self) -> Option<Env> {
        self.with_sops_peers(SOPS_PEERS)
    }

    fn with_sops_peers(mut self, peers: &[(&str, &'static str)]) -> Option<Env> {
        let names: Vec<&str> = peers.iter().map(|(n, _)| *n).collect();
        let bins = need(&names)?;
        self.sops = peers.iter().map(|(_, label)| *label).zip(bins).collect();
        Some(self)
    }

    /// Adds the local test control plane and real kubectl ([`Env::cluster`]); every runner talks to
    /// it as admin (`KUBECONFIG`). `None` when it is not running (see [`cluster`]).
    pub fn with_cluster(mut self) -> Option<Env> {
        let c = cluster()?;
        let admin = c.kubeconfig().to_path_buf();
        self.cluster = Some(c);
        Some(self.runner_env("KUBECONFIG", admin))
    }

    /// Adds a throw-away GnuPG home with the armored keys `keys` imported (relative paths are
    /// taken under the vectors' `keys/`, e.g. `sops_functional_tests_key.asc`); `None` when gpg is
    /// missing.
    pub fn with_gnupg<P: AsRef<Path>>(self, keys: &[P]) -> Option<Env> {
        need(&["gpg"])?;
        Some(self.import_gnupg(keys))
    }

    /// Like [`Env::with_gnupg`], but without gpg the test goes on without a GnuPG home (the gate
    /// still prints `SKIPPED: …` for the PGP parts, or panics in CI); check [`Env::gnupg`].
    pub fn maybe_gnupg<P: AsRef<Path>>(self, keys: &[P]) -> Env {
        if need(&["gpg"]).is_some() {
            self.import_gnupg(keys)
        } else {
            self
        }
    }

    fn import_gnupg<P: AsRef<Path>>(mut self, keys: &[P]) -> Env {
        let dir = self.keys_dir();
        let keys: Vec<PathBuf> = keys.iter().map(|k| dir.join(k)).collect();
        self.gnupg = Some(GnupgHome::new(&keys).expect("import the PGP test keys"));
        self
    }

    /// Makes the vectors' age key `keys/<name>.txt` (e.g. `gen_age_a`) the default key of every
    /// runner. Panics when the vectors are missing (see [`vectors_dir_checked`]).
    pub fn key(mut self, name: &str) -> Env {
        let file = self.age_key(name);
        let recipient = age_recipient(&file);
        self.key = Some((file, recipient));
        self
    }

    /// Sets `k=v` for every runner of this Env (after the key and the GnuPG home, so it can
    /// replace them): a local server's endpoint, test credentials.
    pub fn runner_env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Env {
        self.vars
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    // ----------------------------------------------------------------------- paths and files

    /// The temp dir every runner works in.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `name` inside [`Env::dir`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// [`Env::path`] as text, to pass as a command-line argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Writes `contents` to `name` in the temp dir (creating parent dirs); returns its path as text
    /// (see [`Env::arg`]).
    pub fn write<C: AsRef<[u8]> + ?Sized>(&self, name: &str, contents: &C) -> String {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        fs::write(&p, contents.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        self.arg(name)
    }

    /// Writes `contents` to `name` in the temp dir as an executable file (mode 0755): a script that
    /// stands in for an editor, a diff tool, a credential plugin. Returns its path.
    pub fn write_script(&self, name: &str, contents: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        self.write(name, contents);
        let p = self.path(name);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// The text of `name` in the temp dir; panics when it is missing or not UTF-8.
    pub fn read(&self, name: &str) -> String {
        let p = self.path(name);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The bytes of `name` in the temp dir; panics when it is missing.
    pub fn read_bytes(&self, name: &str) -> Vec<u8> {
        let p = self.path(name);
        fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The vectors' key dir (`<vectors>/keys`); panics when the vectors are missing.
    pub fn keys_dir(&self) -> PathBuf {
        vectors_dir_checked().join("keys")
    }

    /// The vectors' age key file `keys/<name>.txt`.
    pub fn age_key(&self, name: &str) -> PathBuf {
        self.keys_dir().join(format!("{name}.txt"))
    }

    /// The recipient (public key) of the vectors' age key `keys/<name>.txt`.
    pub fn recipient_of(&self, name: &str) -> String {
        age_recipient(&self.age_key(name))
    }

    /// The default key file set by [`Env::key`]; panics when none was set.
    pub fn key_file(&self) -> &Path {
        &self.default_key().0
    }

    /// The recipient of the default key set by [`Env::key`]; panics when none was set.
    pub fn recipient(&self) -> &str {
        &self.default_key().1
    }

    fn default_key(&self) -> &(PathBuf, String) {
        self.key
            .as_ref()
            .expect("no default key: build the Env with .key(\"gen_age_a\")")
    }

    // ----------------------------------------------------------------------- programs

    /// The workspace's `kubectl-sops` (see [`workspace_bin`]).
    pub fn ours_bin(&self) -> PathBuf {
        workspace_bin("kubectl-sops")
    }

    /// A runner for `bin` in the temp dir, with the default key and GnuPG home when set, and the
    /// variables of [`Env::runner_env`].
    pub fn runner(&self, bin: impl AsRef<Path>) -> Sops {
        let mut s = Sops::new(bin, self.dir());
        if let Some((file, _)) = &self.key {
            s = s.age_key_file(file);
        }
        if let Some(g) = &self.gnupg {
            s = s.gnupghome(g.path());
        }
        for (k, v) in &self.vars {
            s = s.env(k, v);
        }
        s
    }

    /// A runner for our `kubectl-sops` (see [`Env::runner`]).
    pub fn ours(&self) -> Sops {
        self.runner(self.ours_bin())
    }

    /// A runner for real sops 3.13.2; panics unless built [`Env::with_sops`] or
    /// [`Env::with_all_sops`].
    pub fn sops(&self) -> Sops {
        self.runner(self.sops_bin())
    }

    /// The real sops 3.13.2 binary (see [`Env::sops`]).
    pub fn sops_bin(&self) -> &Path {
        &self
            .sops
            .first()
            .expect("no sops: build the Env with .with_sops()")
            .1
    }

    /// The real sops binaries with their labels (e.g. `sops 3.11.0`), in [`SOPS_PEERS`] order.
    pub fn sops_peers(&self) -> &[(&'static str, PathBuf)] {
        &self.sops
    }

    /// Seals `plain` with our `kubectl-sops seal --age R` into `name`, where R is the recipient
    /// of the vectors' key `keys/<key>.txt`; the plaintext is left as `plain-<name>` (passed to
    /// seal by that relative name). Returns R.
    pub fn sealed_by_ours(&self, name: &str, plain: &str, key: &str) -> String {
        let recipient = self.recipient_of(key);
        let src = format!("plain-{name}");
        self.write(&src, plain);
        let out = self.ours().ok(["seal", "--age", &recipient, &src]);
        self.write(name, &out);
        recipient
    }

    /// The GnuPG home, when one was added.
    pub fn gnupg(&self) -> Option<&GnupgHome> {
        self.gnupg.as_ref()
    }

    /// The test cluster; panics unless built [`Env::with_cluster`].
    pub fn cluster(&self) -> &Cluster {
        self.cluster
            .as_ref()
            .expect("no cluster: build the Env with .with_cluster()")
    }
}

// ------------------------------------------------------------------------------------- randomized tests

/// A small xorshift generator for randomized tests: repeatable from its seed, no crate needed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.bits() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The number in environment variable `var`, else `default` (how many rounds a randomized test runs).
pub fn env_number<T: std::str::FromStr>(var: &str, default: T) -> T {
    env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The seed in environment variable `var`, else one from the clock (odd, so never zero). Print it,
/// so that a failing run can be repeated with `var` set.
pub fn seed_from_env(var: &str) -> u64 {
    env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

// ------------------------------------------------------------------------------------- tests

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn envmap(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn ci_detection() {
        assert!(in_ci_with(envmap(&[("CI", "true")])));
        assert!(in_ci_with(envmap(&[("CI", "1")])));
        assert!(in_ci_with(envmap(&[("CI", "TRUE")])));
        assert!(!in_ci_with(envmap(&[("CI", "false")])));
        assert!(!in_ci_with(envmap(&[("CI", "0")])));
        assert!(!in_ci_with(envmap(&[])));
        assert!(in_ci_with(envmap(&[("KSOPS_REQUIRE_PEERS", "1")])));
        assert!(!in_ci_with(envmap(&[("KSOPS_REQUIRE_PEERS", "")])));
    }

    #[test]
    fn env_var_names() {
        assert_eq!(peer_env_var("sops"), "KSOPS_PEER_SOPS");
        assert_eq!(peer_env_var("sops-3.11"), "KSOPS_PEER_SOPS_3_11");
        assert_eq!(peer_env_var("kube-apiserver"), "KSOPS_PEER_KUBE_APISERVER");
    }

    #[test]
    fn peer_location_precedence() {
        let all = [
            ("KSOPS_PEER_SOPS", "/o/sops"),
            ("KSOPS_PEERS_BIN", "/b"),
            ("KSOPS_PEERS_ROOT", "/r"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        let loc = |n: usize| peer_location_with("sops", envmap(&all[n..]));
        assert_eq!(loc(0), Some("/o/sops".into()));
        assert_eq!(loc(1), Some("/b/sops".into()));
        assert_eq!(loc(2), Some("/r/bin/sops".into()));
        assert_eq!(loc(3), Some("/x/kubectl-sops-peers/bin/sops".into()));
        assert_eq!(loc(4), Some("/h/.cache/kubectl-sops-peers/bin/sops".into()));
        assert_eq!(loc(5), None);
        // empty values count as unset
        let e = envmap(&[
            ("KSOPS_PEERS_BIN", ""),
            ("XDG_CACHE_HOME", ""),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            peer_location_with("sops-3.11", e),
            Some("/h/.cache/kubectl-sops-peers/bin/sops-3.11".into())
        );
    }

    #[test]
    fn unique_names_are_dns_labels() {
        let a = unique_name("Smoke_Test");
        let b = unique_name("Smoke_Test");
        assert_ne!(a, b);
        assert!(a.starts_with("smoke-test-"), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
        for n in [a, long, unique_name("--"), unique_name("")] {
            assert!(
                n.len() <= 63 && !n.starts_with('-') && !n.ends_with('-'),
                "{n}"
            );
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
        }
    }

    #[test]
    fn profile_names() {
        assert_eq!(profile_for_dir("debug"), "dev");
        assert_eq!(profile_for_dir("release"), "release");
        assert_eq!(profile_for_dir("bench"), "bench");
    }

    #[test]
    fn vectors_dir_is_shared_beside_the_clone() {
        let d = vectors_dir();
        assert!(d.ends_with("shared/vectors/sops"), "{}", d.display());
    }

    #[test]
    fn runner_isolates_environment() {
        let dir = tempfile::tempdir().unwrap();
        // `env` prints the child's environment; inherited SOPS_*/GNUPGHOME must not appear.
        let s = Sops::new("/usr/bin/env", dir.path())
            .age_key_file("/k.txt")
            .env("EXTRA", "1");
        let (code, out, _) = s.run(Vec::<&str>::new());
        assert_eq!(code, 0);
        let out = String::from_utf8(out).unwrap();
        let mut vars: Vec<&str> = out.lines().map(|l| l.split('=').next().unwrap()).collect();
        vars.sort();
        for v in &vars {
            assert!(
                PASS_ENV.contains(v)
                    || [
                        "HOME",
                        "SOPS_DISABLE_VERSION_CHECK",
                        "SOPS_AGE_KEY_FILE",
                        "EXTRA"
                    ]
                    .contains(v),
                "unexpected variable {v} leaked into the child"
            );
        }
        assert!(out.contains(&format!("HOME={}\n", dir.path().display())));
        assert!(out.contains("SOPS_AGE_KEY_FILE=/k.txt\n"));
        assert!(out.contains("SOPS_DISABLE_VERSION_CHECK=1\n"));
        let out2 = String::from_utf8(s.env_remove("EXTRA").run(Vec::<&str>::new()).1).unwrap();
        assert!(!out2.contains("EXTRA="));
    }

    #[test]
    fn runner_stdin_exit_code_and_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let sh = Sops::new("/bin/sh", dir.path());
        let (code, out, err) =
            sh.run_stdin(["-c", "cat; pwd; echo oops >&2; exit 3"], Some(b"in\n"));
        assert_eq!(code, 3);
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("in\n{}\n", cwd.display())
        );
        assert_eq!(err, "oops\n");
        let (code, _, _) = sh.run(["-c", "kill -9 $$"]);
        assert_eq!(code, 128 + 9);
    }

    #[test]
    fn env_files_runner_and_default_key() {
        let env = Env::new();
        let file = env.write("sub/a.txt", "hi");
        assert_eq!(file, env.arg("sub/a.txt"));
        assert_eq!(env.read("sub/a.txt"), "hi");
        let (code, out, _) = env
            .runner("/bin/sh")
            .run(["-c", "pwd; echo \"$SOPS_AGE_KEY_FILE\""]);
        assert_eq!(code, 0);
        let cwd = env.dir().canonicalize().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\n\n", cwd.display())
        );
        let dir = env.dir().to_path_buf();
        drop(env);
        assert!(!dir.exists(), "temp dir not removed");
        if vectors_dir().join("keys/gen_age_a.txt").is_file() {
            let env = Env::new().key("gen_age_a");
            assert!(env.recipient().starts_with("age1"), "{}", env.recipient());
            assert_eq!(env.recipient(), env.recipient_of("gen_age_a"));
            let (_, out, _) = env.runner("/usr/bin/env").run(Vec::<&str>::new());
            let want = format!("SOPS_AGE_KEY_FILE={}\n", env.key_file().display());
            assert!(String::from_utf8(out).unwrap().contains(&want));
        }
    }

    #[test]
    fn gnupg_home_imports_and_cleans_up() {
        let Some(_) = peer("gpg") else {
            eprintln!("SKIPPED: no gpg");
            return;
        };
        let key = vectors_dir().join("keys/sops_functional_tests_key.asc");
        if !key.is_file() {
            eprintln!("SKIPPED: no vectors at {}", vectors_dir().display());
            return;
        }
        let path;
        {
            let h = GnupgHome::new(&[&key]).unwrap();
            path = h.path().to_path_buf();
            assert!(path.as_os_str().len() < 40, "{}", path.display());
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o700
            );
            let (code, out, err) = h.gpg_cmd().run(["--list-secret-keys", "--with-colons"]);
            assert_eq!(code, 0, "{err}");
            assert!(
                String::from_utf8_lossy(&out).contains("\nsec:"),
                "no secret key imported"
            );
        }
        assert!(!path.exists(), "GNUPGHOME not removed");
        assert!(GnupgHome::new(&[Path::new("/nonexistent.asc")]).is_err());
    }
}
