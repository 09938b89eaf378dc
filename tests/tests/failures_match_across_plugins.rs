//! The same failure gives the same exit code and the same words from `kubectl-sops` and
//! `helm-secrets` (both report through `sops_engine::cli::CliError`; only the program prefix
//! differs). Each row runs one failure through both binaries, offline, with our own files.

use std::path::Path;

use e2e_tests::{age_recipient, vectors_dir_checked, workspace_bin, Outcome, Sops};

const PLAIN: &str = "db:\n    password: hunter2\n    port: 5432\n";

struct Case {
    /// What fails.
    what: &'static str,
    /// The kubectl-sops arguments, split at spaces (`AGE_A`: the recipient of `gen_age_a`);
    /// helm-secrets gets the same with `encrypt` for `seal` and `decrypt` for `unseal`. Words
    /// `VAR=value` set the environment of both instead.
    line: &'static str,
    /// The exit code sops uses for it.
    code: i32,
    /// Words the message must hold.
    words: &'static str,
}

const CASES: &[Case] = &[
    Case {
        what: "MAC mismatch",
        line: "unseal tampered.yaml",
        code: 51,
        words: "tampered.yaml: MAC mismatch",
    },
    Case {
        what: "no identity opens the data key",
        line: "unseal other.yaml",
        code: 128,
        words: "other.yaml:",
    },
    Case {
        what: "already encrypted",
        line: "seal --age AGE_A enc.yaml",
        code: 203,
        words: "enc.yaml: the file is already encrypted",
    },
    Case {
        what: "no key anywhere (sops exits 1 with these words)",
        line: "seal plain.yaml",
        code: 1,
        words: "plain.yaml: config file not found, or has no creation rules, and no keys provided through command line options",
    },
    Case {
        what: "the config named by SOPS_CONFIG does not exist",
        line: "SOPS_CONFIG=missing.sops.yaml seal plain.yaml",
        code: 61,
        words: "config file not found: missing.sops.yaml",
    },
    Case {
        what: "no creation rule matches the file",
        line: "SOPS_CONFIG=prod-only.sops.yaml seal plain.yaml",
        code: 1,
        words: "plain.yaml: error loading config: no matching creation rules found",
    },
    Case {
        what: "-i with --output",
        line: "seal --age AGE_A -i --output o.yaml plain.yaml",
        code: 8,
        words: "--in-place and --output cannot be used together",
    },
    Case {
        what: "malformed YAML that claims to be encrypted",
        line: "unseal broken.yaml",
        code: 1,
        words: "broken.yaml: error parsing YAML",
    },
];

/// The message without the program's prefix.
fn words(out: &Outcome, prefix: &str) -> String {
    let line = out.2.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line:?}");
    line.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("prefix {prefix:?} in {line:?}"))
        .to_string()
}

#[test]
fn the_same_failure_gives_the_same_code_and_words_from_both_plugins() {
    let keys = vectors_dir_checked().join("keys");
    let (key_a, key_b) = (keys.join("gen_age_a.txt"), keys.join("gen_age_b.txt"));
    let (age_a, age_b) = (age_recipient(&key_a), age_recipient(&key_b));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let kubectl = workspace_bin("kubectl-sops");
    let helm = workspace_bin("helm-secrets");
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();

    write("plain.yaml", PLAIN);
    write(
        "prod-only.sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^prod/\n    age: {age_a}\n"),
    );
    let seal = |recipient: &str| -> String {
        let out = Sops::new(&kubectl, dir).ok(["seal", "--age", recipient, "plain.yaml"]);
        String::from_utf8(out).unwrap()
    };
    let enc = seal(&age_a);
    write("enc.yaml", &enc);
    write("other.yaml", &seal(&age_b));
    // a value removed: every remaining one decrypts, the MAC no longer matches
    let tampered: String = enc
        .lines()
        .filter(|l| !l.trim_start().starts_with("port:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(tampered, enc);
    write("tampered.yaml", &tampered);
    write(
        "broken.yaml",
        "sops:\n    version: 3.13.2\n  bad: [indent\n",
    );

    for case in CASES {
        let line = case.line.replace("AGE_A", &age_a);
        let (env, kubectl_args): (Vec<&str>, Vec<&str>) =
            line.split(' ').partition(|w| w.contains('='));
        let helm_args: Vec<&str> = kubectl_args
            .iter()
            .map(|w| match *w {
                "seal" => "encrypt",
                "unseal" => "decrypt",
                w => w,
            })
            .collect();
        let run = |bin: &Path, args: &[&str]| -> Outcome {
            let mut r = Sops::new(bin, dir).age_key_file(&key_a);
            for (k, v) in env.iter().filter_map(|w| w.split_once('=')) {
                r = r.env(k, v);
            }
            r.run(args)
        };
        let k = run(&kubectl, &kubectl_args);
        let h = run(&helm, &helm_args);
        assert_eq!(
            (k.0, h.0),
            (case.code, case.code),
            "{}: exit codes\nkubectl-sops: {}\nhelm-secrets: {}",
            case.what,
            k.2,
            h.2
        );
        let (kw, hw) = (words(&k, "kubectl-sops: "), words(&h, "[helm-secrets] "));
        assert_eq!(kw, hw, "{}: the same words from both", case.what);
        assert!(
            kw.contains(case.words),
            "{}: {kw:?} should contain {:?}",
            case.what,
            case.words
        );
        assert!(!kw.contains("hunter2"), "{}: no plaintext", case.what);
    }
}
