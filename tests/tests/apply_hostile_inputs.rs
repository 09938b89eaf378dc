//! What a hostile or careless input must not get through `seal`, `check`, `apply` and `diff -f`,
//! against the real local control plane (etcd + kube-apiserver), real kubectl and real sops:
//! kubectl's last-applied-configuration copy of a Secret, values a custom rule encrypted outside
//! `data`, decrypted values quoted back by the server, the same object twice in a file, directory
//! symlink loops, and names that would reshape a request path.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e_tests::{argv, need, plaintext_marker, Env, Outcome, Sops};
use serde_json::Value as Json;

/// The shared [`Env`]: the age key `gen_age_a`, and every runner as admin of the control plane.
fn setup() -> Option<Env> {
    Env::new().key("gen_age_a").with_cluster()
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn run(e: &Env, args: &[&str]) -> Outcome {
    e.ours().run(args)
}

/// Seals YAML given on stdin (`extra` flags first) into `name`; returns stderr.
fn seal(e: &Env, name: &str, plain: &str, extra: &[&str]) -> String {
    let mut args = vec!["seal", "--age", e.recipient()];
    args.extend_from_slice(extra);
    args.extend(["--input-type", "yaml", "-"]);
    let (code, out, err) = e.ours().run_stdin(&args, Some(plain.as_bytes()));
    assert_eq!(code, 0, "seal: {err}");
    std::fs::write(e.path(name), out).unwrap();
    err
}

fn get(e: &Env, ns: &str, what: &str) -> Json {
    let out = e
        .cluster()
        .kubectl_ok(["-n", ns, "get", what, "-o", "json"]);
    serde_json::from_str(&out).unwrap()
}

/// kubectl's client-side apply of `yaml`: the live object gets a last-applied-configuration.
fn kubectl_apply(e: &Env, ns: &str, yaml: &str) {
    let c = e.cluster();
    let (code, _, err) = c.kubectl_with(
        c.kubeconfig(),
        ["-n", ns, "apply", "-f", "-"],
        Some(yaml.as_bytes()),
    );
    assert_eq!(code, 0, "kubectl apply: {err}");
}

/// A `KUBECTL_EXTERNAL_DIFF` that copies what it is given into `rec`.
fn recording_diff_tool(e: &Env) -> (PathBuf, String) {
    let rec = e.arg("diff.rec");
    let script = format!("#!/bin/sh\ncat \"$1\"/* \"$2\"/* > '{rec}' 2>/dev/null\nexit 1\n");
    let tool = e.write_script("difftool.sh", &script);
    (tool, rec)
}

fn secret_yaml(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\ndata:\n  password: {}\n",
        b64(value)
    )
}

fn assert_absent(what: &str, text: &str, values: &[&str]) {
    for v in values {
        assert!(!text.contains(v), "{what} holds {v:?}:\n{text}");
    }
}

/// `kubectl get secret -o yaml | kubectl sops seal -`: kubectl's last-applied-configuration (the
/// whole data map in base64) does not stay readable, one stderr line says it was dropped; `check`
/// fails a file sealed by real sops that keeps it.
#[test]
fn seal_drops_the_last_applied_copy_and_check_flags_files_that_keep_it() {
    let Some(e) = setup() else { return };
    let Some(sops) = need(&["sops"]) else { return };
    let ns = e.cluster().fresh_namespace("seal-last-applied");
    let marker = plaintext_marker("lastapplied");
    kubectl_apply(&e, &ns, &secret_yaml("db", &marker));
    let live = e
        .cluster()
        .kubectl_ok(["-n", &ns, "get", "secret", "db", "-o", "yaml"]);
    assert!(live.contains("last-applied-configuration") && live.contains(&b64(&marker)));

    let err = seal(&e, "db.enc.yaml", &live, &[]);
    let sealed = std::fs::read_to_string(e.path("db.enc.yaml")).unwrap();
    assert_absent("the sealed file", &sealed, &[&b64(&marker), &marker]);
    assert!(!sealed.contains("last-applied-configuration"), "{sealed}");
    assert!(
        err.contains(
            "dropped metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]"
        ),
        "{err}"
    );
    let (code, out, err) = run(&e, &["check", "db.enc.yaml"]);
    assert_eq!(code, 0, "{}{err}", String::from_utf8_lossy(&out));

    // the same input encrypted by real sops with the Flux rule keeps the copy readable
    std::fs::write(e.path("live.yaml"), &live).unwrap();
    let enc = Sops::new(&sops[0], e.dir()).ok([
        "encrypt",
        "--age",
        e.recipient(),
        "--encrypted-regex",
        "^(data|stringData)$",
        "live.yaml",
    ]);
    std::fs::remove_file(e.path("live.yaml")).unwrap();
    std::fs::write(e.path("theirs.enc.yaml"), enc).unwrap();
    let (code, out, err) = run(&e, &["check", "theirs.enc.yaml"]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("theirs.enc.yaml: readable copy of the object's values at metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]"),
        "{out}"
    );
    assert_absent(
        "check's output",
        &format!("{out}{err}"),
        &[&marker, &b64(&marker)],
    );
}

/// A live Secret that kubectl applied client-side carries the copy: `apply -o yaml|json` and the
/// LIVE/MERGED files of `diff -f` mask it like the data it copies.
#[test]
fn apply_output_and_external_diff_mask_the_last_applied_copy() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("mask-last-applied");
    let [old, new] = ["old", "new"].map(plaintext_marker);
    kubectl_apply(&e, &ns, &secret_yaml("db", &old));
    seal(&e, "db.enc.yaml", &secret_yaml("db", &new), &[]);
    let values = [old.as_str(), new.as_str(), &b64(&old), &b64(&new)];

    let (tool, rec) = recording_diff_tool(&e);
    let (code, out, err) = e
        .ours()
        .env("KUBECTL_EXTERNAL_DIFF", &tool)
        .run(argv("diff -f db.enc.yaml -n", &[&ns, "--force-conflicts"]));
    assert_eq!(code, 1, "{err}");
    let files = std::fs::read_to_string(&rec).unwrap();
    assert!(files.contains("last-applied-configuration"), "{files}");
    assert_absent("LIVE/MERGED", &files, &values);
    assert_absent(
        "diff output",
        &format!("{}{err}", String::from_utf8_lossy(&out)),
        &values,
    );
    let (code, out, err) = run(
        &e,
        &["diff", "-f", "db.enc.yaml", "-n", &ns, "--force-conflicts"],
    );
    assert_eq!(code, 1, "{err}");
    assert_absent("diff output", &String::from_utf8_lossy(&out), &values);

    for fmt in ["yaml", "json"] {
        let (code, out, err) = run(
            &e,
            &argv(
                "apply -f db.enc.yaml -n",
                &[&ns, "-o", fmt, "--force-conflicts"],
            ),
        );
        assert_eq!(code, 0, "{err}");
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("last-applied-configuration"), "{out}");
        assert_absent(&format!("apply -o {fmt}"), &out, &values);
    }
    // --show-values shows them
    let (_, out, _) = run(
        &e,
        &argv(
            "apply -f db.enc.yaml -n",
            &[&ns, "-o", "json", "--show-values"],
        ),
    );
    assert!(String::from_utf8_lossy(&out).contains(&b64(&new)));
}

/// A rule that encrypts labels and annotations: `diff -f` (printed and external) masks them too,
/// whatever their path, and a server message quoting one (an invalid label) is scrubbed.
#[test]
fn values_encrypted_outside_data_are_masked_and_scrubbed_from_server_messages() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("mask-by-value");
    let [label, note] = ["label", "note"].map(plaintext_marker);
    let cm = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels:\n    team: {label}\n  annotations:\n    note: {note}\ndata:\n  mode: fast\n"
    );
    seal(
        &e,
        "cfg.enc.yaml",
        &cm,
        &["--encrypted-regex", "^(labels|annotations)$"],
    );
    let sealed = std::fs::read_to_string(e.path("cfg.enc.yaml")).unwrap();
    assert_absent("the sealed file", &sealed, &[&label, &note]);

    let (code, out, err) = run(&e, &["diff", "-f", "cfg.enc.yaml", "-n", &ns]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("+ metadata.labels.team: ***"), "{out}");
    assert!(out.contains("+ metadata.name: \"cfg\""), "{out}");
    assert_absent("diff -f", &format!("{out}{err}"), &[&label, &note]);
    let (tool, rec) = recording_diff_tool(&e);
    let (code, _, err) =
        e.ours()
            .env("KUBECTL_EXTERNAL_DIFF", &tool)
            .run(["diff", "-f", "cfg.enc.yaml", "-n", &ns]);
    assert_eq!(code, 1, "{err}");
    assert_absent(
        "MERGED",
        &std::fs::read_to_string(&rec).unwrap(),
        &[&label, &note],
    );

    // the server quotes an invalid label value back: the message names the object, not the value
    let quoted = plaintext_marker("quoted");
    let bad = format!("not a label: {quoted}");
    let cm = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  labels:\n    team: \"{bad}\"\n"
    );
    seal(&e, "bad.enc.yaml", &cm, &["--encrypted-regex", "^labels$"]);
    for cmd in [&["apply"][..], &["diff"][..]] {
        let mut args = cmd.to_vec();
        args.extend(["-f", "bad.enc.yaml", "-n", &ns]);
        let (code, out, err) = run(&e, &args);
        assert!(code != 0, "{args:?} accepted an invalid label");
        assert!(
            err.contains("configmap/bad") && err.contains("Invalid"),
            "{err}"
        );
        assert_absent(
            &format!("{args:?}"),
            &format!("{}{err}", String::from_utf8_lossy(&out)),
            &[&bad, &quoted],
        );
    }
}

fn configmap(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"{value}\"\n")
}

/// Eight documents for the same object in one file: applied one after the other in file order,
/// so the last one wins every time (as with kubectl); the same for a SopsSecret whose templates
/// name the same Secret twice.
#[test]
fn documents_for_the_same_object_apply_in_file_order() {
    let Some(e) = setup() else { return };
    for round in 0..3 {
        let ns = e.cluster().fresh_namespace("dup-order");
        let docs: Vec<String> = (1..=8)
            .map(|i| configmap("same", &format!("v{i}")))
            .collect();
        std::fs::write(e.path("dups.yaml"), docs.join("---\n")).unwrap();
        let (code, out, err) = run(&e, &["apply", "-f", "dups.yaml", "-n", &ns]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(String::from_utf8_lossy(&out).lines().count(), 8);
        assert_eq!(
            get(&e, &ns, "configmap/same")["data"]["v"],
            "v8",
            "round {round}: not the last document"
        );
    }
    let ns = e.cluster().fresh_namespace("dup-templates");
    let ss = "apiVersion: isindir.github.com/v1alpha3\nkind: SopsSecret\nmetadata:\n  name: bundle\nspec:\n  secretTemplates:\n    - name: twice\n      stringData:\n        v: first\n    - name: twice\n      stringData:\n        v: second\n";
    seal(&e, "ss.enc.yaml", ss, &[]);
    let (code, _, err) = run(&e, &["apply", "-f", "ss.enc.yaml", "-n", &ns]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(get(&e, &ns, "secret/twice")["data"]["v"], b64("second"));
}

/// Runs `args` with a deadline; `None` when it had to be killed.
fn run_with_deadline(e: &Env, args: &[&str], limit: Duration) -> Option<Outcome> {
    let mut child = e
        .ours()
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return Some((
                out.status.code().unwrap_or(-1),
                out.stdout,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `apply -R` and `diff -f -R` on a tree with directory symlink loops (one to itself, two that
/// point at each other's parents): each real directory is read once, each object applied once,
/// and the run ends.
#[test]
fn directory_symlink_loops_end_and_apply_each_object_once() {
    let Some(e) = setup() else { return };
    let ns = e.cluster().fresh_namespace("symlink-loops");
    let root = e.path("tree");
    std::fs::create_dir_all(root.join("a/deeper")).unwrap();
    std::fs::create_dir_all(root.join("b")).unwrap();
    std::fs::write(root.join("top.yaml"), configmap("top", "1")).unwrap();
    std::fs::write(root.join("a/deeper/one.yaml"), configmap("one", "1")).unwrap();
    std::fs::write(root.join("b/two.yaml"), configmap("two", "1")).unwrap();
    symlink(".", root.join("self")).unwrap();
    symlink("../../b", root.join("a/deeper/to-b")).unwrap();
    symlink("../a", root.join("b/to-a")).unwrap();
    symlink("top.yaml", root.join("same-file.yaml")).unwrap();
    let tree = root.to_str().unwrap();
    // `apply -R` and `diff -R` both end (within 2 minutes) on the tree
    let run = |verb: &str| {
        let args = [verb, "-R", "-f", tree, "-n", &ns];
        run_with_deadline(&e, &args, Duration::from_secs(120))
            .unwrap_or_else(|| panic!("{verb} -R did not end on a tree with symlink loops"))
    };
    let (code, out, err) = run("apply");
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8_lossy(&out);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "configmap/one serverside-applied",
            "configmap/top serverside-applied",
            "configmap/two serverside-applied"
        ],
        "{out}"
    );
    let (code, _, err) = run("diff");
    assert_eq!(code, 0, "{err}");
}

/// Names and namespaces that would reshape a request path (`..`, `/`, `?`, `#`) are refused with
/// one line naming the file, before any request: here the kubeconfig points at a closed port, so a
/// request would fail differently.
#[test]
fn names_that_would_reshape_a_request_are_refused_before_any_request() {
    let Some(e) = setup() else { return };
    let kc = e.write(
        "closed.kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
    );
    for (i, (name, ns)) in [
        ("../../namespaces/x", "default"),
        ("db?dryRun=All", "default"),
        ("db#x", "default"),
        ("db", "../kube-system"),
    ]
    .into_iter()
    .enumerate()
    {
        let file = format!("n{i}.yaml");
        std::fs::write(
            e.path(&file),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{name}\"\n  namespace: \"{ns}\"\n"),
        )
        .unwrap();
        for cmd in ["apply", "diff"] {
            let (code, _, err) = e.ours().env("KUBECONFIG", &kc).run([cmd, "-f", &file]);
            assert!(code != 0, "{cmd} {name} {ns}");
            assert!(
                err.contains(&file) && err.contains("invalid") && !err.contains("connect"),
                "{cmd} {name} {ns}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
    std::fs::write(e.path("valid.yaml"), configmap("fine", "1")).unwrap();
    let (code, _, err) =
        e.ours()
            .env("KUBECONFIG", &kc)
            .run(["apply", "-f", "valid.yaml", "-n", "a/b"]);
    assert!(code != 0 && err.contains("invalid"), "{err}");
}

/// xorshift64* (seed printed; `KSOPS_APPLY_FUZZ_SEED` replays).
use e2e_tests::Rng;

/// Random trees of files holding random documents for a few objects (each object several times),
/// with directory links back to ancestors: `apply -R` ends, and each object holds the value of
/// its last document in kubectl's reading order (sorted names, depth first). Rounds:
/// `KSOPS_APPLY_FUZZ_ROUNDS` (default 4).
#[test]
fn random_duplicate_and_looping_inputs() {
    let Some(e) = setup() else { return };
    let rounds: usize = e2e_tests::env_number("KSOPS_APPLY_FUZZ_ROUNDS", 4);
    let seed = e2e_tests::seed_from_env("KSOPS_APPLY_FUZZ_SEED");
    eprintln!("apply fuzz: seed {seed}, {rounds} rounds");
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let ns = e.cluster().fresh_namespace("apply-fuzz");
        let root = e.path(&format!("fuzz{round}"));
        // a random tree of real directories, in creation order (parents first)
        let mut dirs = vec![root.clone()];
        for i in 0..(2 + rng.below(4)) {
            let parent = dirs[rng.below(dirs.len() as u64) as usize].clone();
            dirs.push(parent.join(format!("d{i}")));
        }
        for d in &dirs {
            std::fs::create_dir_all(d).unwrap();
        }
        // files of random documents for objects o0..o3
        let mut counter = 0;
        for d in &dirs {
            for f in 0..rng.below(3) {
                let docs: Vec<String> = (0..(1 + rng.below(4)))
                    .map(|_| {
                        counter += 1;
                        configmap(&format!("o{}", rng.below(4)), &format!("{counter}"))
                    })
                    .collect();
                std::fs::write(d.join(format!("f{f}.yaml")), docs.join("---\n")).unwrap();
            }
        }
        // links back to ancestors (loops), never to a directory not already read
        for (i, d) in dirs.iter().enumerate().skip(1) {
            let up = rng.below(3) + 1;
            let target: PathBuf = std::iter::repeat_n("..", up as usize).collect();
            if d.join(&target)
                .canonicalize()
                .is_ok_and(|t| t.starts_with(&root))
            {
                symlink(&target, d.join(format!("loop{i}"))).unwrap();
            }
        }
        symlink(".", root.join("self")).unwrap();
        // expected: the last document of each object in reading order of the real tree
        let mut expected = std::collections::BTreeMap::new();
        read_in_order(&root, &mut expected);
        let tree = root.to_str().unwrap();
        let (code, _, err) = run_with_deadline(
            &e,
            &["apply", "-R", "-f", tree, "-n", &ns],
            Duration::from_secs(120),
        )
        .unwrap_or_else(|| panic!("round {round} (seed {seed}): apply -R did not end"));
        if expected.is_empty() {
            assert_eq!(code, 1, "{err}");
            continue;
        }
        assert_eq!(code, 0, "round {round} (seed {seed}): {err}");
        for (name, v) in &expected {
            assert_eq!(
                get(&e, &ns, &format!("configmap/{name}"))["data"]["v"],
                v.as_str(),
                "round {round} (seed {seed}): {name} does not hold its last document"
            );
        }
    }
}

/// Reads the files of `dir` like `apply -R` (sorted, depth first, links skipped: they only lead
/// back to directories already read) and records each object's last value.
fn read_in_order(dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink()
        {
            continue;
        }
        if p.is_dir() {
            read_in_order(&p, out);
        } else {
            let text = std::fs::read_to_string(&p).unwrap();
            for doc in text.split("---\n") {
                let name = doc.lines().find_map(|l| l.strip_prefix("  name: "));
                let v = doc.lines().find_map(|l| l.strip_prefix("  v: "));
                if let (Some(n), Some(v)) = (name, v) {
                    out.insert(n.to_string(), v.trim_matches('"').to_string());
                }
            }
        }
    }
}
