//! The README's quick example runs as written, top to bottom, in an empty directory, against the
//! local control plane, with the workspace's kubectl-sops and the real kubectl on PATH; and what it
//! prints is what the README says it prints.

use std::process::Command;

use e2e_tests::{cluster, workspace_bin, workspace_root};

/// The first ```sh block after the `## Quick example` heading.
fn quick_example() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Quick example")
        .nth(1)
        .expect("README has a `## Quick example` section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .expect("the quick example has a ```sh block");
    block.split("\n```").next().unwrap().to_string()
}

#[test]
fn quick_example_runs_as_written() {
    let Some(c) = cluster() else { return };
    let ns = c.fresh_namespace("readme");
    let tmp = tempfile::tempdir().unwrap();
    let (dir, home) = (tmp.path().join("work"), tmp.path().join("home"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    // the test cluster, with the fresh namespace as the context's default
    let kc = std::fs::read_to_string(c.kubeconfig()).unwrap();
    assert!(kc.contains("namespace: default"), "{kc}");
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        kc.replace("namespace: default", &format!("namespace: {ns}")),
    )
    .unwrap();

    let ours = workspace_bin("kubectl-sops");
    let path = format!(
        "{}:{}:{}",
        ours.parent().unwrap().display(),
        c.kubectl_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -euo pipefail\n{}\n", quick_example());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the quick example failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // what the README shows it printing
    for expected in [
        "secret/db serverside-applied",
        " data.password: hmac:",
        "+data.user: hmac:",
        &format!("secret/db (namespace {ns})\n  + data.user: ***"),
        "exit 1: apply would change this",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    assert!(stdout.ends_with("app\n"), "{stdout}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    // it applied for real
    let got = c.kubectl_ok([
        "-n",
        &ns,
        "get",
        "secret",
        "db",
        "-o",
        "jsonpath={.data.password}",
    ]);
    assert_eq!(got, "aHVudGVyMg==");
}
