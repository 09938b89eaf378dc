//! PGP master keys through the system `gpg` (S:pgp/keysource.go, GnuPG path).
//!
//! - Binary: `SOPS_GPG_EXEC` when set and non-empty, else `gpg` from `PATH`.
//! - Home: an explicit directory ([`PgpSource::with_homedir`]) or `GNUPGHOME`; passed as `--homedir` first on
//!   the command line. Without either, gpg uses its own default (`~/.gnupg`).
//! - Wrap: `gpg [--homedir H] --batch --no-default-recipient --yes --encrypt -a -r <FP> --trusted-key <ID>
//!   --no-encrypt-to`, secret on stdin; the armored output is stored with surrounding whitespace trimmed
//!   (sops trims it, which is why its YAML shows `enc: |-`).
//! - Unwrap: `gpg [--homedir H] --batch -d`, armor on stdin, secret read from stdout.
//!
//! Secrets only travel through pipes, never through files or arguments. gpg's stderr is kept for error
//! messages (it never holds the plaintext).

use super::KeySource;
use crate::error::{Result, SopsError};
use crate::metadata::{now_rfc3339, KeyEntry};
use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// Environment variable naming the gpg binary (as in sops).
pub const SOPS_GPG_EXEC_ENV: &str = "SOPS_GPG_EXEC";

/// Longest stderr excerpt kept in an error message.
const MAX_STDERR_CHARS: usize = 600;

/// PGP master keys, wrapped and unwrapped by the `gpg` binary.
#[derive(Clone, Debug)]
pub struct PgpSource {
    binary: OsString,
    homedir: Option<PathBuf>,
}

impl Default for PgpSource {
    fn default() -> Self {
        Self::new()
    }
}

impl PgpSource {
    /// Binary from `SOPS_GPG_EXEC` (default `gpg`), home from `GNUPGHOME` (default: gpg's own).
    pub fn new() -> Self {
        let binary = std::env::var_os(SOPS_GPG_EXEC_ENV)
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| OsString::from("gpg"));
        let homedir = std::env::var_os("GNUPGHOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        PgpSource { binary, homedir }
    }

    /// Like [`PgpSource::new`] but with an explicit GnuPG home directory (passed as `--homedir`).
    pub fn with_homedir(path: impl Into<PathBuf>) -> Self {
        PgpSource {
            homedir: Some(path.into()),
            ..Self::new()
        }
    }

    /// Replaces the gpg binary (a path, or a name looked up in `PATH`).
    pub fn with_binary(mut self, binary: impl Into<OsString>) -> Self {
        self.binary = binary.into();
        self
    }

    /// The gpg binary that will be run.
    pub fn binary(&self) -> &OsStr {
        &self.binary
    }

    /// The GnuPG home passed with `--homedir`, if any.
    pub fn homedir(&self) -> Option<&Path> {
        self.homedir.as_deref()
    }

    /// Runs gpg with `args` (after `--homedir` when configured), feeding `input` on stdin. Returns stdout
    /// (zeroized on drop) or a short description of the failure.
    fn run(
        &self,
        args: &[&str],
        input: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, super::ServiceError> {
        let fail = super::ServiceError::Program;
        let mut cmd = Command::new(&self.binary);
        if let Some(home) = &self.homedir {
            cmd.arg("--homedir").arg(home);
        }
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            fail(match e.kind() {
                ErrorKind::NotFound => format!(
                    "gpg binary {:?} not found (install GnuPG or set {SOPS_GPG_EXEC_ENV})",
                    self.binary
                ),
                _ => format!("could not run gpg binary {:?}: {e}", self.binary),
            })
        })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| fail("could not open gpg's stdin".into()))?;

        // Feed stdin from a second thread while stdout/stderr are drained here, so neither side can block on
        // a full pipe.
        let (output, write_result) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                let result = stdin.write_all(input);
                drop(stdin);
                result
            });
            let output = child.wait_with_output();
            let write_result = writer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("stdin writer panicked")));
            (output, write_result)
        });
        let output =
            output.map_err(|e| fail(format!("could not run gpg binary {:?}: {e}", self.binary)))?;
        let stdout = Zeroizing::new(output.stdout);
        if !output.status.success() {
            let detail = summarize_stderr(&output.stderr);
            return Err(fail(if detail.is_empty() {
                format!("gpg exited with {}", output.status)
            } else {
                detail
            }));
        }
        if let Err(e) = write_result {
            return Err(fail(format!("could not write to gpg's stdin: {e}")));
        }
        Ok(stdout)
    }
}

/// Trimmed gpg stderr on one line, cut to a reasonable length.
fn summarize_stderr(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if joined.chars().count() <= MAX_STDERR_CHARS {
        joined
    } else {
        let cut: String = joined.chars().take(MAX_STDERR_CHARS).collect();
        format!("{cut}…")
    }
}

/// Fingerprint as stored: whitespace removed, upper case.
pub fn normalize_fingerprint(fp: &str) -> String {
    fp.split_whitespace().collect::<String>().to_uppercase()
}

/// The key ID given to `--trusted-key`: the last 16 characters of the fingerprint, or the last 17 when it ends
/// with `!` (an exact-subkey specifier), as sops does.
fn short_key_id(fp: &str) -> &str {
    let keep = if fp.ends_with('!') { 17 } else { 16 };
    match fp.char_indices().rev().nth(keep - 1) {
        Some((start, _)) => &fp[start..],
        None => fp,
    }
}

impl KeySource for PgpSource {
    fn kind(&self) -> &'static str {
        "pgp"
    }

    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry> {
        let fp = normalize_fingerprint(recipient);
        let wrap_err = |reason: String| SopsError::KeyWrap {
            key: fp.clone(),
            reason,
        };
        if fp.is_empty() {
            return Err(wrap_err("empty PGP fingerprint".into()));
        }
        let args = [
            "--batch",
            "--no-default-recipient",
            "--yes",
            "--encrypt",
            "-a",
            "-r",
            fp.as_str(),
            "--trusted-key",
            short_key_id(&fp),
            "--no-encrypt-to",
        ];
        let stdout = self
            .run(&args, secret)
            .map_err(|e| wrap_err(format!("failed to encrypt sops data key with pgp: {e}")))?;
        let armor = std::str::from_utf8(&stdout)
            .map_err(|_| wrap_err("gpg output is not ASCII armor".into()))?
            .trim()
            .to_string();
        if !armor.starts_with("-----BEGIN PGP MESSAGE-----") {
            return Err(wrap_err("gpg output is not an armored PGP message".into()));
        }
        Ok(KeyEntry::Pgp {
            fp,
            enc: armor,
            created_at: now_rfc3339(),
        })
    }

    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>> {
        let KeyEntry::Pgp { fp, enc, .. } = entry else {
            return Err(SopsError::wrong_kind("pgp", entry));
        };
        let fail = |reason: String| {
            SopsError::Unwrap(format!(
                "could not decrypt data key with PGP key {fp}: {reason}"
            ))
        };
        let secret = self
            .run(&["--batch", "-d"], enc.as_bytes())
            .map_err(|e| fail(format!("failed to decrypt sops data key with pgp: {e}")))?;
        if secret.is_empty() {
            // Old gpg versions drop packets they do not understand (AEAD) and succeed with no output.
            return Err(fail(
                "failed to decrypt sops data key with pgp: zero bytes returned".into(),
            ));
        }
        Ok(secret)
    }
}

/// A throw-away GnuPG home for tests (short path under /tmp for the agent sockets); its agent is killed and the
/// directory removed on drop.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    /// Test vectors directory.
    pub(crate) fn vectors() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/sops")
    }

    /// Whether a `gpg` binary runs here.
    pub(crate) fn gpg_available() -> bool {
        Command::new("gpg")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    pub(crate) struct TestHome {
        dir: tempfile::TempDir,
    }

    impl TestHome {
        /// An empty home (0700), or `None` when gpg is missing.
        pub(crate) fn empty() -> Option<TestHome> {
            if !gpg_available() {
                eprintln!("gpg not available: skipping");
                return None;
            }
            let dir = tempfile::Builder::new()
                .prefix("sg")
                .tempdir_in("/tmp")
                .expect("temp GNUPGHOME");
            Some(TestHome { dir })
        }

        /// A home holding the keys of the armored key file `asc` (path relative to the vectors directory).
        pub(crate) fn with_key(asc: &str) -> Option<TestHome> {
            let home = Self::empty()?;
            let out = Command::new("gpg")
                .arg("--homedir")
                .arg(home.path())
                .args(["--batch", "--import"])
                .arg(vectors().join(asc))
                .output()
                .expect("run gpg --import");
            assert!(
                out.status.success(),
                "gpg --import failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(home)
        }

        pub(crate) fn path(&self) -> &Path {
            self.dir.path()
        }
    }

    impl Drop for TestHome {
        fn drop(&mut self) {
            let _ = Command::new("gpgconf")
                .arg("--homedir")
                .arg(self.dir.path())
                .args(["--kill", "gpg-agent"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{vectors, TestHome};
    use super::*;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    const FP: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
    const KEY: &str = "keys/sops_functional_tests_key.asc";

    /// The first armored PGP message in a YAML file (`enc: |-` block), indentation removed.
    fn first_armor_in_yaml(text: &str) -> String {
        let begin = text
            .find("-----BEGIN PGP MESSAGE-----")
            .expect("armor begin");
        let end_marker = "-----END PGP MESSAGE-----";
        let end = begin + text[begin..].find(end_marker).expect("armor end") + end_marker.len();
        text[begin..end]
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn source(home: &TestHome) -> PgpSource {
        PgpSource::with_homedir(home.path()).with_binary("gpg")
    }

    #[test]
    fn fingerprint_helpers() {
        assert_eq!(
            normalize_fingerprint(" fbc7 b9e2 A4F9\t289A "),
            "FBC7B9E2A4F9289A"
        );
        assert_eq!(short_key_id(FP), "3D16CEE4A27381B4");
        assert_eq!(short_key_id("ABCD"), "ABCD");
        assert_eq!(
            short_key_id("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4!"),
            "3D16CEE4A27381B4!"
        );
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
        assert!(OffsetDateTime::parse(&now, &Rfc3339).is_ok());
    }

    /// The PGP entry of the sops-made YAML vector.
    fn vector_entry() -> KeyEntry {
        let text =
            std::fs::read_to_string(vectors().join("sops-functional-format-yaml/format.enc.yaml"))
                .unwrap();
        KeyEntry::Pgp {
            fp: FP.into(),
            enc: first_armor_in_yaml(&text),
            created_at: String::new(),
        }
    }

    #[test]
    fn unwraps_sops_vector() {
        let Some(home) = TestHome::with_key(KEY) else {
            return;
        };
        let entry = vector_entry();
        let key = source(&home).unwrap(&entry).expect("unwrap");
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let Some(home) = TestHome::with_key(KEY) else {
            return;
        };
        let src = source(&home);
        assert_eq!(src.kind(), "pgp");
        let secret: Vec<u8> = (0u8..=32).collect();
        let entry = src
            .wrap("fbc7 b9e2 a4f9 289a c0c1 d484 3d16 cee4 a273 81b4", &secret)
            .expect("wrap");
        let KeyEntry::Pgp {
            fp,
            enc,
            created_at,
        } = &entry
        else {
            panic!("not pgp: {entry:?}")
        };
        assert_eq!(fp, FP);
        assert!(enc.starts_with("-----BEGIN PGP MESSAGE-----\n"), "{enc}");
        assert!(
            enc.ends_with("-----END PGP MESSAGE-----"),
            "armor must be trimmed like sops"
        );
        assert!(
            OffsetDateTime::parse(created_at, &Rfc3339).is_ok(),
            "{created_at}"
        );
        assert_eq!(
            src.unwrap(&entry).expect("unwrap").as_slice(),
            secret.as_slice()
        );
        // A trailing newline (as in `enc: |` blocks of older files) is accepted too.
        let with_newline = KeyEntry::Pgp {
            fp: fp.clone(),
            enc: format!("{enc}\n"),
            created_at: created_at.clone(),
        };
        assert_eq!(
            src.unwrap(&with_newline).expect("unwrap").as_slice(),
            secret.as_slice()
        );
    }

    #[test]
    fn failures_are_reported() {
        let Some(home) = TestHome::empty() else {
            return;
        };
        let src = source(&home);
        // No secret key in this home.
        let entry = vector_entry();
        let e = src.unwrap(&entry).expect_err("no secret key").to_string();
        assert!(
            e.contains("could not decrypt data key with PGP key") && e.contains("gpg:"),
            "{e}"
        );
        // Unknown recipient.
        let e = src.wrap(FP, b"secret").expect_err("no public key");
        assert!(
            matches!(&e, SopsError::KeyWrap { key, .. } if key == FP),
            "{e:?}"
        );
        // Not a PGP message.
        let junk = KeyEntry::Pgp {
            fp: FP.into(),
            enc: "junk".into(),
            created_at: String::new(),
        };
        assert!(src.unwrap(&junk).is_err());
        // Wrong kind of entry.
        let age = KeyEntry::Age {
            recipient: "age1x".into(),
            enc: String::new(),
        };
        assert!(src.unwrap(&age).is_err());
    }

    #[test]
    fn missing_binary_is_a_clear_error() {
        let src =
            PgpSource::with_homedir("/nonexistent").with_binary("/nonexistent/sops-test-no-gpg");
        let e = src.wrap(FP, b"secret").expect_err("no binary").to_string();
        assert!(
            e.contains("not found") && e.contains("SOPS_GPG_EXEC"),
            "{e}"
        );
        let entry = KeyEntry::Pgp {
            fp: FP.into(),
            enc: "x".into(),
            created_at: String::new(),
        };
        let e = src.unwrap(&entry).expect_err("no binary").to_string();
        assert!(e.contains("not found"), "{e}");
    }
}
