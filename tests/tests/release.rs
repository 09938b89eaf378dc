//! Issue 18: `scripts/release.sh` and what a user without Rust installs from its output.
//!
//! One test function with steps, so the release build (`cargo build --release --target …`, the
//! expensive part) runs once per test run: the release into a temp dir signed with a throw-away gpg
//! key; static, fixed-address binaries (`ldd`, ELF type) that unseal in an empty root; real krew
//! v0.4.3 installing the archive with the manifest into a private `KREW_ROOT` (`kubectl sops
//! --version` through real kubectl); real
//! Helm 3.21 and 4.2 installing the plugin archives from a loopback HTTP server (Helm 4 with
//! `--verify` against the key's keyring) and decrypting a `secrets://` values file; tampered archives
//! refused by Helm 4 and krew; the install hook's one-line failure in a checkout without a binary
//! and without cargo.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use std::{fs, thread};

use e2e_tests::{age_recipient, need, vectors_dir_checked, workspace_root, GnupgHome, Sops};

const VERSION: &str = "9.8.7";

/// Serves the files of `root` on 127.0.0.1 (GET and HEAD; `.tgz`/`.tar.gz` as application/gzip,
/// which Helm 3 needs to take a URL for an archive). Returns the base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let root = root.clone();
            thread::spawn(move || {
                let _ = answer(conn, &root);
            });
        }
    });
    url
}

fn answer(mut conn: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/").split('?').next().unwrap_or("/");
    let rel = path.trim_start_matches('/');
    let file = (!rel.split('/').any(|c| c == ".." || c.is_empty()))
        .then(|| root.join(rel))
        .filter(|p| p.is_file());
    let Some(file) = file else {
        return conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let body = fs::read(&file)?;
    let ctype = if rel.ends_with(".tgz") || rel.ends_with(".tar.gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    };
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        conn.write_all(&body)?;
    }
    conn.flush()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The short commit release.sh stamps (12 hex digits, `-dirty` with uncommitted changes).
fn head_commit() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(workspace_root())
        .output()
        .expect("git rev-parse");
    text(&out.stdout).trim().to_string()
}

/// A throw-away ed25519 signing key in a fresh GNUPGHOME; returns the home and the fingerprint.
fn signing_key() -> (GnupgHome, String) {
    let home = GnupgHome::new::<&Path>(&[]).expect("GNUPGHOME");
    let (code, _, err) = home.gpg_cmd().run([
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        "kubectl-sops release test <release-test@example.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    assert_eq!(code, 0, "gpg --quick-gen-key: {err}");
    let (code, out, err) = home.gpg_cmd().run(["--list-secret-keys", "--with-colons"]);
    assert_eq!(code, 0, "{err}");
    let fpr = text(&out)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .expect("fingerprint of the new key")
        .to_string();
    (home, fpr)
}

/// An isolated environment for helm/krew/kubectl: only PATH (given), HOME and what is set here.
fn isolated(bin: &Path, dir: &Path, path: &str) -> Sops {
    Sops::new(bin, dir)
        .env("PATH", path)
        .env_remove("SOPS_DISABLE_VERSION_CHECK")
}

fn run_ok(s: &Sops, args: &[&str]) -> String {
    let (code, out, err) = s.run(args);
    assert_eq!(
        code,
        0,
        "{} {args:?} exited {code}:\n{}{err}",
        s.bin().display(),
        text(&out)
    );
    text(&out) + &err
}

#[test]
fn release_archives_install_without_rust() {
    let Some(peers) = need(&["helm3", "helm4", "krew", "kubectl", "sops", "gpg"]) else {
        return;
    };
    let [helm3, helm4, krew, kubectl, sops, _gpg] = &peers[..] else {
        unreachable!()
    };
    let tmp = tempfile::Builder::new().prefix("ksrel").tempdir().unwrap();
    let t = tmp.path();
    let dist = t.join("dist");
    let served = t.join("www");
    fs::create_dir_all(served.join("tampered")).unwrap();
    let base_url = serve(served.clone());

    // ---------------------------------------------------------------- release.sh
    let (gnupg, fpr) = signing_key();
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/release.sh"))
        .args([VERSION, "--sign", &fpr, "--base-url", &base_url, "--out"])
        .arg(&dist)
        .env("GNUPGHOME", gnupg.path())
        .current_dir(workspace_root())
        .output()
        .expect("bash scripts/release.sh");
    eprintln!(
        "release.sh took {:.1}s:\n{}",
        started.elapsed().as_secs_f64(),
        text(&out.stderr)
    );
    assert!(
        out.status.success(),
        "release.sh failed: {}",
        text(&out.stderr)
    );

    let ks_archive = format!("kubectl-sops_{VERSION}_linux_amd64.tar.gz");
    let h3 = format!("helm-secrets_{VERSION}.tgz");
    let h4cli = format!("helm-secrets-cli_{VERSION}.tgz");
    let h4get = format!("helm-secrets-getter_{VERSION}.tgz");
    let ks_bin = dist.join(format!("kubectl-sops_{VERSION}_linux_amd64"));
    let hs_bin = dist.join(format!("helm-secrets_{VERSION}_linux_amd64"));
    let mut expected: Vec<String> = vec![
        ks_archive.clone(),
        "sops.yaml".into(),
        h3.clone(),
        h4cli.clone(),
        h4get.clone(),
        format!("{h3}.prov"),
        format!("{h4cli}.prov"),
        format!("{h4get}.prov"),
        "helm-secrets-keyring.gpg".into(),
        format!("kubectl-sops_{VERSION}_linux_amd64"),
        format!("helm-secrets_{VERSION}_linux_amd64"),
    ];
    expected.sort();
    // SHA256SUMS names every file and matches it
    let sums = fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let mut listed: Vec<String> = sums
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, expected, "SHA256SUMS:\n{sums}");
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sha256sum --check: {}",
        text(&check.stdout)
    );

    // ---------------------------------------------------------------- static binaries
    let commit = head_commit();
    for (bin, name) in [(&ks_bin, "kubectl-sops"), (&hs_bin, "helm-secrets")] {
        let ldd = Command::new("ldd").arg(bin).output().expect("ldd");
        let said = text(&ldd.stdout) + &text(&ldd.stderr);
        assert!(
            said.contains("not a dynamic executable") || said.contains("statically linked"),
            "ldd {}: {said}",
            bin.display()
        );
        assert!(!said.contains("=>"), "ldd {}: {said}", bin.display());
        // a fixed-address executable (ELF e_type 2, EXEC), not static-pie (3, DYN): see README
        let elf = fs::read(bin).unwrap();
        assert_eq!(
            u16::from_le_bytes([elf[16], elf[17]]),
            2,
            "{} is not a fixed-address executable",
            bin.display()
        );
        let v = Command::new(bin).arg("--version").output().unwrap();
        let v = text(&v.stdout);
        // helm-secrets prints the bare version, like the helm-secrets plugin
        let want = match name {
            "helm-secrets" => format!("{VERSION} (commit {commit}"),
            _ => format!("{name} {VERSION} (commit {commit}"),
        };
        assert!(
            v.starts_with(&want),
            "{name} --version: {v} (HEAD {commit})"
        );
    }

    // ---------------------------------------------------------------- empty root: unseal
    let key = vectors_dir_checked().join("keys/gen_age_a.txt");
    let recipient = age_recipient(&key);
    let token = format!(
        "tok-{}-{}",
        std::process::id(),
        started.elapsed().as_nanos()
    );
    let plain = t.join("secret.yaml");
    fs::write(
        &plain,
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {token}\n"),
    )
    .unwrap();
    let sealed = Sops::new(&ks_bin, t).ok([
        OsStr::new("seal"),
        OsStr::new("--age"),
        OsStr::new(&recipient),
        plain.as_os_str(),
    ]);
    assert!(!text(&sealed).contains(&token));
    let root = t.join("root");
    fs::create_dir(&root).unwrap();
    fs::copy(&ks_bin, root.join("kubectl-sops")).unwrap();
    fs::copy(&key, root.join("key.txt")).unwrap();
    fs::write(root.join("secret.enc.yaml"), &sealed).unwrap();
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0");
    // absolute paths: the child's environment is cleared, and chroot lives in /usr/sbin
    let sbin = |tool: &str| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not found"))
    };
    let mut chroot = if as_root.unwrap_or(false) {
        Command::new(sbin("chroot"))
    } else {
        let mut c = Command::new(sbin("unshare"));
        c.arg("--map-root-user").arg(sbin("chroot"));
        c
    };
    let out = chroot
        .arg(&root)
        .args(["/kubectl-sops", "unseal", "/secret.enc.yaml"])
        .env_clear()
        .env("SOPS_AGE_KEY_FILE", "/key.txt")
        .output()
        .expect("chroot");
    assert!(
        out.status.success(),
        "unseal in an empty root (only the binary, the key, the file): {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(&format!("password: {token}")),
        "{}",
        text(&out.stdout)
    );

    // ---------------------------------------------------------------- krew
    let sys_path = std::env::var("PATH").unwrap_or_default();
    let krew_root = t.join("krew");
    let kubectl_dir = kubectl.parent().unwrap();
    let kpath = format!(
        "{}:{}:{sys_path}",
        krew_root.join("bin").display(),
        kubectl_dir.display()
    );
    let krew_env = |root: &Path| {
        isolated(krew, t, &kpath)
            .env("KREW_ROOT", root)
            .env("KREW_NO_UPGRADE_CHECK", "1")
    };
    let manifest = dist.join("sops.yaml");
    let archive = dist.join(&ks_archive);
    let said = run_ok(
        &krew_env(&krew_root),
        &[
            "install",
            &format!("--manifest={}", manifest.display()),
            &format!("--archive={}", archive.display()),
        ],
    );
    assert!(said.contains("Installed plugin: sops"), "{said}");
    let v = run_ok(&isolated(kubectl, t, &kpath), &["sops", "--version"]);
    assert!(
        v.contains(&format!("kubectl-sops {VERSION} (commit {commit}")),
        "{v}"
    );
    let store = krew_root.join(format!("store/sops/v{VERSION}"));
    assert!(
        store.join("kubectl_complete-sops").is_file(),
        "no completer in {}",
        store.display()
    );
    // a changed archive does not match the manifest's sha256
    let mut bytes = fs::read(&archive).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    let bad = t.join(&ks_archive);
    fs::write(&bad, &bytes).unwrap();
    let (code, out, err) = krew_env(&t.join("krew2")).run([
        "install",
        &format!("--manifest={}", manifest.display()),
        &format!("--archive={}", bad.display()),
    ]);
    assert_ne!(
        code,
        0,
        "krew installed a tampered archive: {}{err}",
        text(&out)
    );

    // ---------------------------------------------------------------- helm: served archives
    for f in [&h3, &h4cli, &h4get] {
        fs::copy(dist.join(f), served.join(f)).unwrap();
        fs::copy(
            dist.join(format!("{f}.prov")),
            served.join(format!("{f}.prov")),
        )
        .unwrap();
    }
    let mut tampered = fs::read(dist.join(&h4cli)).unwrap();
    let n = tampered.len();
    tampered[n - 20] ^= 0x01;
    fs::write(served.join("tampered").join(&h4cli), &tampered).unwrap();
    fs::copy(
        dist.join(format!("{h4cli}.prov")),
        served.join("tampered").join(format!("{h4cli}.prov")),
    )
    .unwrap();
    let work = t.join("work");
    fs::create_dir_all(work.join("chart/templates")).unwrap();
    fs::write(
        work.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: t\nversion: 0.1.0\n",
    )
    .unwrap();
    fs::write(
        work.join("chart/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  password: {{ .Values.password | quote }}\n",
    )
    .unwrap();
    fs::write(t.join("values.yaml"), format!("password: {token}\n")).unwrap();
    let enc = Sops::new(sops, t).age_key_file(&key).ok([
        OsStr::new("encrypt"),
        OsStr::new("--age"),
        OsStr::new(&recipient),
        t.join("values.yaml").as_os_str(),
    ]);
    fs::write(work.join("values.enc.yaml"), enc).unwrap();
    // no cargo on this PATH: the plugins run what they ship
    let helm_path = "/usr/local/bin:/usr/bin:/bin";
    let helm_env = |helm: &Path, name: &str| {
        let home = t.join(name);
        isolated(helm, &work, helm_path)
            .env("HOME", &home)
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("SOPS_AGE_KEY_FILE", &key)
    };
    let rendered = |s: &Sops| {
        let out = run_ok(
            s,
            &[
                "template",
                "app",
                "chart",
                "-f",
                "secrets://values.enc.yaml",
            ],
        );
        assert!(out.contains(&format!("password: \"{token}\"")), "{out}");
    };

    // Helm 3: the root plugin from its URL
    let h3env = helm_env(helm3, "helm3");
    let said = run_ok(&h3env, &["plugin", "install", &format!("{base_url}/{h3}")]);
    assert!(
        said.contains(&format!(
            "installed helm-secrets {VERSION} (commit {commit}"
        )),
        "the hook did not report the shipped binary: {said}"
    );
    rendered(&h3env);
    let dec = run_ok(&h3env, &["secrets", "decrypt", "values.enc.yaml"]);
    assert!(dec.contains(&token), "{dec}");

    // Helm 4: the pair, signature verified against the signing key's keyring
    let h4env = helm_env(helm4, "helm4");
    let keyring = dist.join("helm-secrets-keyring.gpg");
    let ring = keyring.to_str().unwrap();
    for a in [&h4cli, &h4get] {
        let said = run_ok(
            &h4env,
            &[
                "plugin",
                "install",
                "--verify",
                "--keyring",
                ring,
                &format!("{base_url}/{a}"),
            ],
        );
        assert!(said.contains("Plugin Hash Verified: sha256:"), "{said}");
        assert!(
            said.contains(&fpr),
            "signer's fingerprint not reported: {said}"
        );
    }
    rendered(&h4env);
    let dec = run_ok(&h4env, &["secrets", "decrypt", "values.enc.yaml"]);
    assert!(dec.contains(&token), "{dec}");

    // Helm 4 refuses a tampered archive (default --verify) and an archive its keyring cannot vouch for
    let fresh = helm_env(helm4, "helm4-tampered");
    let (code, out, err) = fresh.run([
        "plugin",
        "install",
        "--keyring",
        ring,
        &format!("{base_url}/tampered/{h4cli}"),
    ]);
    assert_ne!(
        code,
        0,
        "Helm 4 installed a tampered archive: {}",
        text(&out)
    );
    assert!(err.contains("sha256 sum does not match"), "{err}");
    let (stranger, stranger_fpr) = signing_key();
    let (code, ring2, err) = stranger.gpg_cmd().run(["--export", &stranger_fpr]);
    assert_eq!(code, 0, "{err}");
    let stranger_ring = t.join("stranger.gpg");
    fs::write(&stranger_ring, ring2).unwrap();
    let (code, out, err) = fresh.run([
        "plugin",
        "install",
        "--keyring",
        stranger_ring.to_str().unwrap(),
        &format!("{base_url}/{h4cli}"),
    ]);
    assert_ne!(
        code,
        0,
        "Helm 4 installed with another key's keyring: {}",
        text(&out)
    );
    assert!(err.contains("plugin verification failed"), "{err}");
    let (_, list, _) = fresh.run(["plugin", "list"]);
    assert!(!text(&list).contains("secrets"), "{}", text(&list));

    // ---------------------------------------------------------------- hook in a bare checkout
    let checkout = t.join("checkout");
    fs::create_dir_all(checkout.join("scripts")).unwrap();
    fs::write(checkout.join("Cargo.toml"), "[workspace]\n").unwrap();
    fs::copy(
        workspace_root().join("plugin.yaml"),
        checkout.join("plugin.yaml"),
    )
    .unwrap();
    fs::copy(
        workspace_root().join("scripts/helm-plugin-install.sh"),
        checkout.join("scripts/helm-plugin-install.sh"),
    )
    .unwrap();
    let tools = t.join("tools");
    fs::create_dir(&tools).unwrap();
    for tool in ["dirname", "sed", "head", "mkdir"] {
        let p = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not in /usr/bin or /bin"));
        std::os::unix::fs::symlink(p, tools.join(tool)).unwrap();
    }
    let (code, out, err) = isolated(Path::new("/bin/sh"), t, tools.to_str().unwrap())
        .env("HELM_PLUGIN_DIR", &checkout)
        .run([checkout.join("scripts/helm-plugin-install.sh")]);
    assert_ne!(
        code,
        0,
        "hook without binary and cargo succeeded: {}",
        text(&out)
    );
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(
        err.contains("no cargo")
            && err.contains("helm plugin install")
            && err.contains("HELM_SECRETS_BINARY"),
        "{err}"
    );
}
