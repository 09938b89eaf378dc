//! `scripts/peers.sh up | env | down` against the real etcd and kube-apiserver peers, in a private
//! state dir: `up` starts a working plane and reuses it when called again, `env` names both
//! kubeconfigs, `down` stops exactly the recorded processes, removes the dir and never fails.

use e2e_tests::{need, workspace_root};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs `bash scripts/peers.sh ARGS` with `KSOPS_PEERS_RUN=run`; returns (code, stdout, stderr).
fn peers_sh(run: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/peers.sh"))
        .args(args)
        .env("KSOPS_PEERS_RUN", run)
        .stdin(Stdio::null())
        .output()
        .expect("run bash scripts/peers.sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Running and not a zombie.
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s.rsplit(") ").next().and_then(|r| r.split(' ').next());
        !matches!(state, Some("Z") | Some("X") | None)
    })
}

fn pid(run: &Path, name: &str) -> u32 {
    let f = run.join(format!("{name}.pid"));
    fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        .trim()
        .parse()
        .unwrap()
}

/// Stops the plane even when an assertion fails half-way.
struct Down(PathBuf);
impl Drop for Down {
    fn drop(&mut self) {
        peers_sh(&self.0, &["down"]);
    }
}

#[test]
fn up_reuses_a_running_plane_and_down_stops_it() {
    let Some(bins) = need(&["etcd", "kube-apiserver", "kubectl"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let _guard = Down(run.clone());

    let (code, _, err) = peers_sh(&run, &["up"]);
    assert_eq!(code, 0, "peers.sh up failed:\n{err}");
    assert!(err.contains("control plane ready in"), "{err}");
    let (etcd, kas) = (pid(&run, "etcd"), pid(&run, "kube-apiserver"));
    assert!(alive(etcd) && alive(kas));

    // the admin kubeconfig works with real kubectl
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(&bins[2])
        .args(["get", "namespace", "default", "-o", "name"])
        .env("KUBECONFIG", run.join("kubeconfig"))
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/default"
    );

    // idempotent: a second `up` reuses the same processes
    let (code, _, err) = peers_sh(&run, &["up"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("reused"), "{err}");
    assert_eq!(
        (pid(&run, "etcd"), pid(&run, "kube-apiserver")),
        (etcd, kas)
    );

    // env names both kubeconfigs; the state dir and its secrets are private
    let (code, env, err) = peers_sh(&run, &["env"]);
    assert_eq!(code, 0, "{err}");
    let kc = run.join("kubeconfig");
    assert!(
        env.contains(&format!("KSOPS_TEST_KUBECONFIG={}\n", kc.display())),
        "{env}"
    );
    assert!(
        env.contains(&format!(
            "KSOPS_TEST_KUBECONFIG_UNPRIVILEGED={}\n",
            run.join("kubeconfig-unprivileged").display()
        )),
        "{env}"
    );
    use std::os::unix::fs::PermissionsExt;
    for p in [
        run.clone(),
        kc,
        run.join("pki/tokens.csv"),
        run.join("pki/ca.key"),
    ] {
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o077;
        assert_eq!(mode, 0, "{} is readable by others", p.display());
    }

    let (code, _, err) = peers_sh(&run, &["down"]);
    assert_eq!(code, 0, "{err}");
    // `down` returns only after the processes ended (TERM, then KILL after 10 s)
    assert!(!alive(etcd) && !alive(kas), "processes survived `down`");
    assert!(!run.exists(), "state dir left behind");
    // once more, and on a dir that never existed: still exit 0 (EXIT-trap safe)
    assert_eq!(peers_sh(&run, &["down"]).0, 0);
    assert_eq!(peers_sh(&tmp.path().join("never/run"), &["down"]).0, 0);
    // without a running plane, env names no kubeconfig
    assert!(!peers_sh(&run, &["env"]).1.contains("KSOPS_TEST_KUBECONFIG"));
}

#[test]
fn down_kills_only_processes_that_belong_to_its_state_dir() {
    // A recorded pid that now belongs to an unrelated process (pid reuse, a stale file) is left alone.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    fs::create_dir(&run).unwrap();
    fs::write(run.join(".ksops-peers-run"), "").unwrap();
    let mut other = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    fs::write(run.join("kube-apiserver.pid"), other.id().to_string()).unwrap();
    fs::write(run.join("etcd.pid"), "not-a-pid").unwrap();
    let (code, _, err) = peers_sh(&run, &["down"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        alive(other.id()),
        "down killed a process that was not its own"
    );
    assert!(!run.exists());
    other.kill().unwrap();
    other.wait().unwrap();

    // a directory `up` did not make is refused, not wiped
    let foreign = tmp.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("keep.txt"), "mine").unwrap();
    if need(&["etcd", "kube-apiserver"]).is_some() {
        let (code, _, err) = peers_sh(&foreign, &["up"]);
        assert_ne!(code, 0);
        assert!(err.contains("was not made by 'peers.sh up'"), "{err}");
    }
    assert_eq!(peers_sh(&foreign, &["down"]).0, 0);
    assert!(
        foreign.join("keep.txt").is_file(),
        "down wiped a foreign dir"
    );
}
