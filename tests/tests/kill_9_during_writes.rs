//! `kill -9` at random moments during `seal -i`, `set` and `rekey --rotate` on a large file always
//! leaves the complete old file or a complete new one that real sops 3.13.2 opens with a valid MAC.
//! The random moments come from a seed printed by the test (`KSOPS_KILL_SEED` replays it).

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use e2e_tests::{Env, Rng};

fn setup() -> Option<Env> {
    Some(Env::new().with_sops()?.key("gen_age_a"))
}

fn gen_large(dir: &Path, leaves: usize) -> Vec<u8> {
    let script = e2e_tests::workspace_root().join("scripts/gen-bench-input.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir)
        .args(["--leaves", &leaves.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("large.yaml")).unwrap()
}

/// One kind of write under test: the file before, the command, and how to recognise the
/// complete new version (its decryption by real sops).
struct Case {
    name: &'static str,
    before: Vec<u8>,
    args: Vec<String>,
    /// What `sops decrypt` must give for the new version.
    new_plain: Vec<u8>,
}

/// `kill -9` at random moments during `seal -i`, `set` and `rekey --rotate` on a large file: the
/// file is always the complete old version or a complete new version that real sops opens with a
/// valid MAC. Rounds: `KSOPS_KILL_ROUNDS` (default 70 per command, 210 in all).
#[test]
fn kill_9_leaves_old_or_new_file() {
    let Some(env) = setup() else { return };
    let work = env.path("kill");
    std::fs::create_dir_all(&work).unwrap();
    let plain = gen_large(env.dir(), 4000);
    let file = "kill/big.yaml";
    // reference versions, made without interruption
    env.write(file, &plain);
    env.ours()
        .ok(["seal", "--age", env.recipient(), "-i", file]);
    let sealed = env.read_bytes(file);
    let canonical = env.sops().ok(["decrypt", file]);
    env.ours().ok(["set", file, "[\"extra\"]", "\"added\""]);
    let with_extra = env.sops().ok(["decrypt", file]);
    assert_ne!(with_extra, canonical);
    let cases = [
        Case {
            name: "seal -i",
            before: plain.clone(),
            args: ["seal", "--age", env.recipient(), "-i", file]
                .map(String::from)
                .to_vec(),
            new_plain: canonical.clone(),
        },
        Case {
            name: "set",
            before: sealed.clone(),
            args: ["set", file, "[\"extra\"]", "\"added\""]
                .map(String::from)
                .to_vec(),
            new_plain: with_extra,
        },
        Case {
            name: "rekey --rotate",
            before: sealed.clone(),
            args: ["rekey", "--rotate", "-y", file].map(String::from).to_vec(),
            new_plain: canonical,
        },
    ];
    let rounds: usize = e2e_tests::env_number("KSOPS_KILL_ROUNDS", 70);
    let seed = e2e_tests::seed_from_env("KSOPS_KILL_SEED");
    eprintln!("kill -9 test: seed {seed}, {rounds} rounds per command");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut totals = Vec::new();
    for case in &cases {
        // the command's duration, measured uninterrupted
        env.write(file, &case.before);
        let t0 = Instant::now();
        let (code, _, err) = env.ours().run(&case.args);
        assert_eq!(code, 0, "{}: {err}", case.name);
        let full = t0.elapsed();
        let (mut old, mut new, mut verified) = (0, 0, std::collections::HashSet::new());
        for round in 0..rounds {
            env.write(file, &case.before);
            let mut child = env
                .ours()
                .command(&case.args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // delays over the whole run, a little past its end
            let delay = full.mul_f64(rng.unit() * 1.1);
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
            let now = env.read_bytes(file);
            if now == case.before {
                old += 1;
                continue;
            }
            new += 1;
            if !verified.insert(now.clone()) {
                continue;
            }
            let (code, out, err) = env.sops().run(["decrypt", file]);
            assert_eq!(
                code, 0,
                "{} round {round} (killed after {delay:?} of {full:?}, seed {seed}): neither the old \
                 file nor a new one real sops opens: {err}",
                case.name
            );
            assert!(
                out == case.new_plain,
                "{} round {round} (seed {seed}): sops opens the file but it is not the new version",
                case.name
            );
        }
        eprintln!(
            "{}: {rounds} kills over {full:?}: {old} old, {new} new",
            case.name
        );
        totals.push((case.name, old, new));
    }
    eprintln!("kill -9 test took {:?}", started.elapsed());
    assert!(
        totals.iter().map(|t| t.1 + t.2).sum::<usize>() >= 3 * rounds,
        "{totals:?}"
    );
}
