//! Where writes land, through the real `kubectl-sops` binary:
//! symlinks are followed and kept, FIFOs are written through (never renamed over), a signal during an
//! atomic write leaves no hidden plaintext temp file, and a killed `edit` takes its editor with it.
//! Results are checked with real sops 3.13.2. No test touches the machine's `/dev`.
#![allow(unsafe_code)] // mkfifo and kill(2) on our own children

use std::ffi::CString;
use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{Env, Sops};

/// In the layout sops (and we) emit: 4-space indentation.
const PLAIN: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2-never-on-disk\n";

/// The shared [`Env`] with real sops and the age key `gen_age_a`.
fn setup() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

fn sops_decrypt(env: &Env, file: &Path) -> String {
    let out = env.sops().ok(["decrypt".as_ref(), file.as_os_str()]);
    String::from_utf8(out).unwrap()
}

/// Writes the plaintext and seals it to `name`.
fn sealed(env: &Env, name: &str) -> PathBuf {
    env.write("plain.yaml", PLAIN);
    let out = env
        .ours()
        .ok(["seal", "--age", env.recipient(), "plain.yaml"]);
    env.write(name, &out);
    std::fs::remove_file(env.path("plain.yaml")).unwrap();
    env.path(name)
}

fn fifo(env: &Env, name: &str) -> PathBuf {
    let p = env.path(name);
    let c = CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a fresh path in the test's temp dir.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
    p
}

/// The hidden files in the temp dir (a temp file left by an interrupted write).
fn leftovers(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::os::raw::c_char, mode: u32) -> i32;
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_symlink()
}

/// Reads a FIFO on a thread while `f` writes to it.
fn read_fifo_while(fifo: &Path, f: impl FnOnce()) -> String {
    let reader = {
        let fifo = fifo.to_path_buf();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    f();
    reader.join().unwrap()
}

#[test]
fn unseal_output_into_a_fifo_reaches_its_reader() {
    let Some(env) = setup() else { return };
    let enc = sealed(&env, "s.enc.yaml");
    let fifo = fifo(&env, "pipe");
    let got = read_fifo_while(&fifo, || {
        let (code, _, err) = env.ours().run([
            "unseal".as_ref(),
            "--output".as_ref(),
            fifo.as_os_str(),
            enc.as_os_str(),
        ]);
        assert_eq!(code, 0, "{err}");
    });
    assert_eq!(got, PLAIN);
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(ft.is_fifo(), "the FIFO was replaced by a file");
}

#[test]
fn unseal_output_through_a_symlink_to_a_fifo() {
    let Some(env) = setup() else { return };
    let enc = sealed(&env, "s.enc.yaml");
    let fifo = fifo(&env, "pipe");
    symlink("pipe", env.path("out")).unwrap();
    let got = read_fifo_while(&fifo, || {
        let (code, _, err) = env.ours().run(["unseal", "--output", "out", "s.enc.yaml"]);
        assert_eq!(code, 0, "{err}");
    });
    assert_eq!(got, PLAIN);
    assert!(is_link(&env.path("out")));
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let _ = enc;
}

#[test]
fn set_through_a_symlink_updates_the_real_file_and_keeps_the_link() {
    let Some(env) = setup() else { return };
    std::fs::create_dir(env.path("real")).unwrap();
    let real = sealed(&env, "real/db.enc.yaml");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    symlink("real/db.enc.yaml", env.path("link.enc.yaml")).unwrap();
    let (code, _, err) = env.ours().run([
        "set",
        "link.enc.yaml",
        r#"["stringData"]["user"]"#,
        r#""app""#,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(is_link(&env.path("link.enc.yaml")), "the link was replaced");
    let plain = sops_decrypt(&env, &real);
    assert!(plain.contains("user: app"), "{plain}");
    assert_eq!(
        std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
}

#[test]
fn seal_in_place_and_rekey_through_symlinks() {
    let Some(env) = setup() else { return };
    std::fs::write(env.path("plain.yaml"), PLAIN).unwrap();
    // the format comes from the name given, as in sops: links keep the extension
    symlink("plain.yaml", env.path("l1.yaml")).unwrap();
    symlink("l1.yaml", env.path("l2.yaml")).unwrap();
    let (code, _, err) = env
        .ours()
        .run(["seal", "-i", "--age", env.recipient(), "l2.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(is_link(&env.path("l1.yaml")) && is_link(&env.path("l2.yaml")));
    assert_eq!(sops_decrypt(&env, &env.path("plain.yaml")), PLAIN);

    let other = env.recipient_of("gen_age_b");
    let (code, _, err) = env
        .ours()
        .run(["rekey", "-y", "--add-age", &other, "l2.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(is_link(&env.path("l2.yaml")));
    let text = std::fs::read_to_string(env.path("plain.yaml")).unwrap();
    assert!(text.contains(&other), "rekey did not reach the real file");
    assert_eq!(sops_decrypt(&env, &env.path("plain.yaml")), PLAIN);
}

/// `seal -i` on a file with a second hard link writes through, as real sops does: the other name
/// holds the ciphertext too, never the plaintext; `set` keeps the link as well.
#[test]
fn seal_in_place_writes_through_hard_links_like_sops() {
    let Some(env) = setup() else { return };
    for (tool, name) in [("ours", "ours.yaml"), ("sops", "theirs.yaml")] {
        std::fs::write(env.path(name), PLAIN).unwrap();
        let other = env.path(&format!("{name}.second-name"));
        std::fs::hard_link(env.path(name), &other).unwrap();
        let (code, _, err) = match tool {
            "ours" => env
                .ours()
                .run(["seal", "-i", "--age", env.recipient(), name]),
            _ => Sops::new(env.sops_bin(), env.dir()).run([
                "encrypt",
                "-i",
                "--age",
                env.recipient(),
                name,
            ]),
        };
        assert_eq!(code, 0, "{tool}: {err}");
        let second = std::fs::read_to_string(&other).unwrap();
        assert!(
            !second.contains("hunter2-never-on-disk"),
            "{tool}: the second hard link keeps the plaintext"
        );
        assert_eq!(
            second,
            std::fs::read_to_string(env.path(name)).unwrap(),
            "{tool}"
        );
        assert_eq!(sops_decrypt(&env, &env.path(name)), PLAIN, "{tool}");
    }
    let (code, _, err) =
        env.ours()
            .run(["set", "ours.yaml", r#"["stringData"]["user"]"#, r#""app""#]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(env.path("ours.yaml")).unwrap(),
        std::fs::read(env.path("ours.yaml.second-name")).unwrap()
    );
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
}

#[test]
fn unseal_in_place_through_a_dangling_link_creates_the_target() {
    let Some(env) = setup() else { return };
    sealed(&env, "s.enc.yaml");
    symlink("made.yaml", env.path("out")).unwrap();
    let (code, _, err) = env.ours().run(["unseal", "--output", "out", "s.enc.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(is_link(&env.path("out")));
    assert_eq!(
        std::fs::read_to_string(env.path("made.yaml")).unwrap(),
        PLAIN
    );
    assert_eq!(
        std::fs::metadata(env.path("made.yaml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "decrypted output is created 0600"
    );
}

/// A large file, so the write takes long enough for signals to land during it.
fn large_plain(n: usize) -> String {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
    for i in 0..n {
        s.push_str(&format!("  key{i}: value-{i}-{}\n", "x".repeat(40)));
    }
    s
}

#[test]
fn signals_during_atomic_writes_leave_no_temp_file() {
    let Some(env) = setup() else { return };
    std::fs::write(env.path("big.yaml"), large_plain(20_000)).unwrap();
    let enc = env
        .ours()
        .ok(["seal", "--age", env.recipient(), "big.yaml"]);
    std::fs::write(env.path("big.enc.yaml"), enc).unwrap();
    let run = || {
        Command::new(env.ours_bin())
            .current_dir(env.dir())
            .env("SOPS_AGE_KEY_FILE", env.key_file())
            .args(["unseal", "--output", "out.yaml", "big.enc.yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // how long one run takes, to spread the signals over it
    let t0 = Instant::now();
    assert!(run().wait().unwrap().success());
    let span = t0.elapsed().as_micros().max(1_000) as u64;
    let signals = [libc_sig::SIGINT, libc_sig::SIGTERM, libc_sig::SIGHUP];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut interrupted = 0;
    for i in 0..60 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = run();
        std::thread::sleep(Duration::from_micros(seed % span));
        send(child.id(), signals[i % 3]);
        let st = child.wait().unwrap();
        if !st.success() {
            interrupted += 1;
        }
        let left = leftovers(&env);
        assert!(left.is_empty(), "temp files left after a signal: {left:?}");
    }
    assert!(
        interrupted > 0,
        "no run was interrupted; the test proves nothing"
    );
}

mod libc_sig {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
    pub const SIGKILL: i32 = 9;
}

fn send(pid: u32, sig: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: kill(2) on our own child.
    unsafe { kill(pid as i32, sig) };
}

#[test]
fn killed_edit_takes_its_editor_with_it() {
    let Some(env) = setup() else { return };
    sealed(&env, "s.enc.yaml");
    let pidfile = env.arg("editor.pid");
    let editor = env.write_script(
        "editor.sh",
        &format!(
            "#!/bin/sh\necho \"$1\" > '{pidfile}.file'\necho $$ > '{pidfile}'\nexec sleep 60\n"
        ),
    );
    let mut child = Command::new(env.ours_bin())
        .current_dir(env.dir())
        .env("SOPS_AGE_KEY_FILE", env.key_file())
        .env("EDITOR", &editor)
        .args(["edit", "s.enc.yaml"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Ok(s) = std::fs::read_to_string(&pidfile) {
            if let Ok(p) = s.trim().parse::<u32>() {
                break p;
            }
        }
        assert!(Instant::now() < deadline, "the editor never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    send(child.id(), libc_sig::SIGKILL);
    child.wait().unwrap();
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the editor (pid {pid}) outlived its killed parent"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL cannot be caught: the private dir is left behind, so remove it here
    let edited = std::fs::read_to_string(format!("{pidfile}.file")).unwrap();
    if let Some(dir) = Path::new(edited.trim()).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
