//! An editor session killed from outside: `kubectl-sops edit` and `helm secrets edit` (the real
//! binaries, scripted editors) under SIGKILL and SIGTERM. After SIGKILL nothing of ours runs, so the
//! editor must die with us (the kernel kills it) and the next run must remove the plaintext the
//! session left on tmpfs, but never the directory of a session that still runs. After SIGTERM the
//! editor (even one that ignores SIGTERM, with a child of its own) is gone within seconds.
//!
//! Every session works on a marker value that exists only encrypted; after each run the test's
//! `XDG_RUNTIME_DIR`, `/dev/shm` and `TMPDIR` are scanned for it. Rounds of the random kill test:
//! `KSOPS_EDIT_KILL_ROUNDS` (default 10 per binary), `KSOPS_KILL_SEED` to replay.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{
    age_recipient, files_containing, plaintext_marker, runtime_dir, vectors_dir_checked,
    workspace_bin, Sops,
};

/// The two editing binaries.
#[derive(Clone, Copy, Debug)]
enum Tool {
    KubectlSops,
    HelmSecrets,
}

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    runtime: tempfile::TempDir,
    key: PathBuf,
    marker: String,
}

fn setup(what: &str) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir(dir.join("tmp")).unwrap();
    Env {
        _tmp: tmp,
        dir,
        runtime: runtime_dir(),
        key: vectors_dir_checked().join("keys/gen_age_a.txt"),
        marker: plaintext_marker(what),
    }
}

impl Env {
    fn path(&self, n: &str) -> PathBuf {
        self.dir.join(n)
    }

    fn bin(&self, tool: Tool) -> PathBuf {
        workspace_bin(match tool {
            Tool::KubectlSops => "kubectl-sops",
            Tool::HelmSecrets => "helm-secrets",
        })
    }

    /// `tool` with the key, the editor, and this test's runtime and temp dirs.
    fn run(&self, tool: Tool, editor: &Path) -> Sops {
        Sops::new(self.bin(tool), &self.dir)
            .age_key_file(&self.key)
            .env("EDITOR", editor)
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("TMPDIR", self.path("tmp"))
    }

    /// An encrypted file holding the marker; the plaintext only goes through a pipe.
    fn sealed(&self, name: &str) -> String {
        let plain = format!("db:\n    password: {}\n    user: app\n", self.marker);
        let (code, out, err) = Sops::new(workspace_bin("kubectl-sops"), &self.dir).run_stdin(
            [
                "seal",
                "--age",
                &age_recipient(&self.key),
                "--input-type",
                "yaml",
                "-",
            ],
            Some(plain.as_bytes()),
        );
        assert_eq!(code, 0, "seal: {err}");
        std::fs::write(self.path(name), out).unwrap();
        name.to_string()
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn start_edit(&self, tool: Tool, editor: &Path, file: &str) -> Child {
        self.run(tool, editor)
            .command(["edit", file])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Where plaintext could be left: our runtime dir, `/dev/shm` itself, our `TMPDIR`.
    fn leftovers(&self) -> Vec<PathBuf> {
        files_containing(
            &self.marker,
            &[
                self.runtime.path().to_path_buf(),
                PathBuf::from("/dev/shm"),
                self.path("tmp"),
            ],
        )
    }

    /// A run that ends at once (an editor that changes nothing): its start cleans up.
    fn next_run(&self, tool: Tool) {
        let noop = self.script("noop.sh", "exit 0");
        let file = self.sealed("other.enc.yaml");
        let (code, _, err) = self.run(tool, &noop).run(["edit", &file]);
        assert_eq!(code, 200, "{tool:?}: {err}");
    }
}

/// Waits until `p` exists (the editor started and recorded itself).
fn wait_for(p: &Path, what: &str) {
    let t = Instant::now();
    while !p.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what} never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // the recording is written in one go, but give the shell a moment to finish it
    std::thread::sleep(Duration::from_millis(50));
}

/// True while process `pid` runs (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

fn gone_within(pid: u32, d: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < d {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

fn pids(p: &Path) -> Vec<u32> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn sigkill_leaves_nothing_after_the_next_run(tool: Tool) {
    let e = setup("sigkill");
    let file = e.sealed("s.enc.yaml");
    let rec = e.path("editor.pid");
    let editor = e.script(
        "hold.sh",
        &format!("echo $$ > '{}'\nexec sleep 60", rec.display()),
    );
    let mut child = e.start_edit(tool, &editor, &file);
    wait_for(&rec, "the editor");
    let editor_pid = pids(&rec)[0];
    // the session's plaintext is where the scan looks (so the scan can find it)
    assert!(
        !e.leftovers().is_empty(),
        "{tool:?}: the scan does not see the open session"
    );

    // a second session that still runs must never be touched by the first one's cleanup
    let live_rec = e.path("live.pid");
    let live_editor = e.script(
        "live.sh",
        &format!("echo $$ > '{}'\nexec sleep 60", live_rec.display()),
    );
    let live_file = e.sealed("live.enc.yaml");
    let mut live = e.start_edit(tool, &live_editor, &live_file);
    wait_for(&live_rec, "the live editor");

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        gone_within(editor_pid, Duration::from_secs(5)),
        "{tool:?}: the editor outlived the SIGKILLed session"
    );
    e.next_run(tool);
    let left = e.leftovers();
    // only the live session's copy may remain
    assert_eq!(
        left.len(),
        1,
        "{tool:?}: plaintext left after the next run: {left:?}"
    );
    assert!(
        alive(pids(&live_rec)[0]) && live.try_wait().unwrap().is_none(),
        "{tool:?}: the live session was disturbed"
    );
    signal(live.id(), "TERM");
    let status = live.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15), "{tool:?}: {status}");
    let left = e.leftovers();
    assert!(left.is_empty(), "{tool:?}: plaintext left: {left:?}");
}

#[test]
fn kubectl_sops_edit_sigkill_leaves_no_plaintext_after_the_next_run() {
    sigkill_leaves_nothing_after_the_next_run(Tool::KubectlSops);
}

#[test]
fn helm_secrets_edit_sigkill_leaves_no_plaintext_after_the_next_run() {
    sigkill_leaves_nothing_after_the_next_run(Tool::HelmSecrets);
}

/// SIGTERM to the session: an editor that ignores SIGTERM, and the child it started, are gone
/// within a few seconds; the exit code is 128+15 and no plaintext is left.
#[test]
fn sigterm_takes_a_stubborn_editor_and_its_children_along() {
    for tool in [Tool::KubectlSops, Tool::HelmSecrets] {
        let e = setup("sigterm");
        let file = e.sealed("s.enc.yaml");
        let rec = e.path("editor.pids");
        let editor = e.script(
            "stubborn.sh",
            &format!(
                "trap '' TERM INT HUP\nsleep 60 &\necho $$ $! > '{}'\nwhile :; do sleep 0.1; done",
                rec.display()
            ),
        );
        let mut child = e.start_edit(tool, &editor, &file);
        wait_for(&rec, "the editor");
        let started = pids(&rec);
        assert_eq!(started.len(), 2);
        signal(child.id(), "TERM");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + 15), "{tool:?}");
        for pid in started {
            assert!(
                gone_within(pid, Duration::from_secs(3)),
                "{tool:?}: editor process {pid} still runs after the session ended"
            );
        }
        let left = e.leftovers();
        assert!(left.is_empty(), "{tool:?}: plaintext left: {left:?}");
    }
}

/// xorshift64* (seed printed; `KSOPS_KILL_SEED` replays).
use e2e_tests::Rng;

/// SIGKILL at random moments of whole edit sessions (decrypt, editor, re-encrypt, write) of both
/// binaries: after the next run no marker is left anywhere we scan, and the file is the old
/// version or the new one.
#[test]
fn sigkill_at_random_points_of_edit_then_next_run_leaves_no_plaintext() {
    let rounds: usize = e2e_tests::env_number("KSOPS_EDIT_KILL_ROUNDS", 10);
    let seed = e2e_tests::seed_from_env("KSOPS_KILL_SEED");
    eprintln!("edit kill test: seed {seed}, {rounds} rounds per binary");
    let mut rng = Rng(seed);
    for tool in [Tool::KubectlSops, Tool::HelmSecrets] {
        let e = setup("randomkill");
        // the editor changes the user name, a little slowly
        let editor = e.script(
            "change.sh",
            "sleep 0.2\nsed -i 's/user: app/user: changed/' \"$1\"",
        );
        let file = e.sealed("s.enc.yaml");
        let before = std::fs::read(e.path(&file)).unwrap();
        let t0 = Instant::now();
        let (code, _, err) = e.run(tool, &editor).run(["edit", &file]);
        assert_eq!(code, 0, "{tool:?}: {err}");
        let full = t0.elapsed();
        let after_plain = Sops::new(workspace_bin("kubectl-sops"), &e.dir)
            .age_key_file(&e.key)
            .ok(["unseal", &file]);
        for round in 0..rounds {
            std::fs::write(e.path(&file), &before).unwrap();
            let mut child = e.start_edit(tool, &editor, &file);
            let delay = full.mul_f64(rng.unit() * 1.2);
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
            e.next_run(tool);
            let left = e.leftovers();
            assert!(
                left.is_empty(),
                "{tool:?} round {round} (killed after {delay:?} of {full:?}, seed {seed}): plaintext left after the next run: {left:?}"
            );
            let now = std::fs::read(e.path(&file)).unwrap();
            if now != before {
                let plain = Sops::new(workspace_bin("kubectl-sops"), &e.dir)
                    .age_key_file(&e.key)
                    .ok(["unseal", &file]);
                assert_eq!(
                    plain, after_plain,
                    "{tool:?} round {round} (seed {seed}): neither the old nor the new file"
                );
            }
        }
    }
}
