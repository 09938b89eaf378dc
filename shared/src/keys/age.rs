//! age master keys: X25519 (`age1…`), post-quantum hybrid (`age1pq1…`, see [`super::age_pq`]), SSH
//! (`ssh-ed25519`, `ssh-rsa`) and plugin (`age1<name>1…`) recipients, with identities found where sops
//! looks for them.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use zeroize::Zeroizing;

use super::age_pq::{HybridIdentity, HybridRecipient};
use super::KeySource;
use crate::error::{Result, SopsError};
use crate::metadata::KeyEntry;

/// Environment variables sops reads for age identities.
pub mod env {
    /// Identities inline (whitespace separated).
    pub const KEY: &str = "SOPS_AGE_KEY";
    /// Path of an identity file.
    pub const KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
    /// Command printing identities.
    pub const KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
    /// Path of an SSH private key.
    pub const SSH_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
    /// Command printing an SSH private key.
    pub const SSH_KEY_CMD: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
    /// Set for the commands above: the recipient being decrypted.
    pub const RECIPIENT: &str = "SOPS_AGE_RECIPIENT";
    /// Recipients for encryption when no flag or rule gives any.
    pub const RECIPIENTS: &str = "SOPS_AGE_RECIPIENTS";
}

/// The identities found on this machine, with the places that held none (for the error message).
struct Loaded {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    unused: Vec<String>,
    errors: Vec<String>,
    /// What each identity is, for messages: its recipient (never the secret part) and origin.
    names: Vec<String>,
}

/// age key source. Identities are loaded once, on first use.
#[derive(Default)]
pub struct AgeSource {
    loaded: OnceLock<Loaded>,
    /// Identity text given by the caller (an imported key file), used besides the discovered ones.
    extra: Option<Zeroizing<String>>,
}

impl AgeSource {
    /// A source that discovers identities like sops.
    pub fn new() -> Self {
        AgeSource::default()
    }

    /// Like [`AgeSource::new`], plus the identities in `text` (the lines of an age key file), tried
    /// after the discovered ones.
    pub fn with_identities(text: Zeroizing<String>) -> Self {
        AgeSource {
            loaded: OnceLock::new(),
            extra: Some(text),
        }
    }

    fn loaded(&self) -> &Loaded {
        self.loaded.get_or_init(|| {
            let mut l = load_identities();
            if let Some(text) = &self.extra {
                add_identity_text(&mut l, "imported age key", text, false);
            }
            l
        })
    }
}

/// How a recipient string is interpreted, in sops' order.
enum RecipientKind {
    PostQuantum,
    Plugin,
    X25519,
    Ssh,
}

fn recipient_kind(r: &str) -> Option<RecipientKind> {
    if r.starts_with("age1pq1") {
        Some(RecipientKind::PostQuantum)
    } else if r.starts_with("age1") && r.matches('1').count() > 1 {
        Some(RecipientKind::Plugin)
    } else if r.starts_with("age1") {
        Some(RecipientKind::X25519)
    } else if r.starts_with("ssh-") {
        Some(RecipientKind::Ssh)
    } else {
        None
    }
}

/// True for strings that look like age identities (secret keys): they must never be echoed.
fn looks_secret(r: &str) -> bool {
    let upper = r.trim_start().get(..11).map(str::to_ascii_uppercase);
    matches!(upper.as_deref(), Some("AGE-SECRET-" | "AGE-PLUGIN-"))
}

/// How a recipient is named in messages: identities are never shown, long `age1…` (post-quantum)
/// recipients are shortened to their start and end so the message stays readable. SSH keys are shown
/// whole (their start is the same for every key).
pub fn display_recipient(r: &str) -> String {
    if looks_secret(r) {
        return "<an age secret key (identity), not shown>".into();
    }
    let chars: Vec<char> = r.chars().collect();
    if chars.len() <= 100 || !r.starts_with("age1") {
        return r.to_string();
    }
    let head: String = chars[..24].iter().collect();
    let tail: String = chars[chars.len() - 12..].iter().collect();
    format!("{head}…{tail} ({} characters)", chars.len())
}

/// A newly generated age key pair.
pub struct NewIdentity {
    /// The recipient (`age1…` or `age1pq1…`).
    pub recipient: String,
    /// The identity file as `age-keygen` writes it: `# created:` and `# public key:` lines, then the key.
    pub file_text: Zeroizing<String>,
}

/// Generates an X25519 identity, or a post-quantum hybrid one with `post_quantum`.
pub fn generate_identity(post_quantum: bool) -> NewIdentity {
    use age::secrecy::ExposeSecret;
    let (recipient, secret) = if post_quantum {
        let id = HybridIdentity::generate();
        (id.to_public().to_string(), id.to_string_secret())
    } else {
        let id = age::x25519::Identity::generate();
        (
            id.to_public().to_string(),
            Zeroizing::new(id.to_string().expose_secret().to_string()),
        )
    };
    let file_text = Zeroizing::new(format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        created_stamp(),
        secret.as_str()
    ));
    NewIdentity {
        recipient,
        file_text,
    }
}

/// Now in RFC 3339 with whole seconds, in UTC (`…Z`; age-keygen uses the local offset, which is the
/// same instant).
fn created_stamp() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Checks that a recipient string can be used for encryption, with the reason when it cannot.
pub fn parse_recipient(r: &str) -> Result<Box<dyn age::Recipient + Send>> {
    let bad = |reason: String| SopsError::KeyWrap {
        key: display_recipient(r),
        reason,
    };
    if looks_secret(r) {
        return Err(bad(
            "this is a private key, not a recipient: give its public key (age1…), e.g. as printed by \
             `kubectl sops keygen` or `age-keygen -y`"
                .into(),
        ));
    }
    match recipient_kind(r) {
        Some(RecipientKind::X25519) => age::x25519::Recipient::from_str(r)
            .map(|x| Box::new(x) as _)
            .map_err(|e| bad(format!("not a valid age X25519 recipient: {e}"))),
        Some(RecipientKind::Ssh) => age::ssh::Recipient::from_str(r)
            .map(|x| Box::new(x) as _)
            .map_err(|e| bad(format!("not a usable SSH public key: {e:?}"))),
        Some(RecipientKind::Plugin) => {
            let rec = age::plugin::Recipient::from_str(r)
                .map_err(|e| bad(format!("not a plugin recipient: {e}")))?;
            let plugin = age::plugin::RecipientPluginV1::new(
                rec.plugin(),
                std::slice::from_ref(&rec),
                &[],
                age::NoCallbacks,
            )
            .map_err(|_| {
                bad(format!(
                    "age plugin binary age-plugin-{} not found in PATH",
                    rec.plugin()
                ))
            })?;
            Ok(Box::new(plugin))
        }
        Some(RecipientKind::PostQuantum) => HybridRecipient::from_str(r)
            .map(|x| Box::new(x) as _)
            .map_err(|e| bad(format!("not a valid age post-quantum recipient: {e}"))),
        None => Err(bad(
            "unknown recipient type (expected age1…, ssh-ed25519 … or ssh-rsa …)".into(),
        )),
    }
}

impl KeySource for AgeSource {
    fn kind(&self) -> &'static str {
        "age"
    }

    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry> {
        let rec = parse_recipient(recipient)?;
        let fail = |e: String| SopsError::KeyWrap {
            key: display_recipient(recipient),
            reason: e,
        };
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(rec.as_ref() as &dyn age::Recipient))
                .map_err(|e| fail(e.to_string()))?;
        let mut out = Vec::new();
        {
            let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)
                .map_err(|e| fail(e.to_string()))?;
            let mut w = encryptor
                .wrap_output(armor)
                .map_err(|e| fail(e.to_string()))?;
            w.write_all(secret).map_err(|e| fail(e.to_string()))?;
            let armor = w.finish().map_err(|e| fail(e.to_string()))?;
            armor.finish().map_err(|e| fail(e.to_string()))?;
        }
        let mut enc = String::from_utf8(out).map_err(|_| fail("armor is not UTF-8".into()))?;
        if !enc.ends_with('\n') {
            enc.push('\n');
        }
        Ok(KeyEntry::Age {
            recipient: recipient.to_string(),
            enc,
        })
    }

    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>> {
        let KeyEntry::Age { recipient, enc } = entry else {
            return Err(SopsError::wrong_kind("age", entry));
        };
        let loaded = self.loaded();
        let mut identities: Vec<&dyn age::Identity> = loaded
            .identities
            .iter()
            .map(|i| i.as_ref() as &dyn age::Identity)
            .collect();
        // Commands get the recipient in their environment, so they run per key.
        let per_key = load_command_identities(recipient);
        identities.extend(
            per_key
                .identities
                .iter()
                .map(|i| i.as_ref() as &dyn age::Identity),
        );
        let describe = |msg: String| {
            let mut errors = loaded.errors.clone();
            errors.extend(per_key.errors.iter().cloned());
            let mut unused = loaded.unused.clone();
            unused.extend(per_key.unused.iter().cloned());
            let mut names = loaded.names.clone();
            names.extend(per_key.names.iter().cloned());
            format_failure(&msg, &errors, &names, &unused)
        };
        if identities.is_empty() {
            return Err(SopsError::Unwrap(describe(
                "failed to load age identities".to_string(),
            )));
        }
        let reader = ArmoredReader::new(BufReader::new(enc.as_bytes()));
        let decryptor = age::Decryptor::new_buffered(BufReader::new(reader)).map_err(|e| {
            SopsError::Unwrap(describe(format!(
                "invalid age data key for {}: {e}",
                display_recipient(recipient)
            )))
        })?;
        let mut r = decryptor.decrypt(identities.into_iter()).map_err(|e| {
            SopsError::Unwrap(describe(format!(
                "failed to decrypt the sops data key with age: {e}"
            )))
        })?;
        // room for any data key or share up front: growing the buffer would free unwiped copies
        let mut out = Zeroizing::new(Vec::with_capacity(256));
        r.read_to_end(&mut out)
            .map_err(|e| SopsError::Unwrap(format!("failed to read the age payload: {e}")))?;
        Ok(out)
    }
}

/// sops' wording of a failure, with the identities that were loaded (by recipient) after the
/// loading errors.
fn format_failure(msg: &str, errors: &[String], names: &[String], unused: &[String]) -> String {
    let mut s = msg.to_string();
    if !errors.is_empty() {
        s.push_str(&format!(
            ". Errors while loading age identities: {}",
            errors.join("; ")
        ));
    }
    if !names.is_empty() {
        s.push_str(&format!(". Loaded identities: {}", names.join(", ")));
    }
    if !unused.is_empty() {
        let quoted: Vec<String> = unused.iter().map(|u| format!("'{u}'")).collect();
        s.push_str(&format!(
            ". Did not find keys in locations {}.",
            quoted.join(", ")
        ));
    }
    s
}

/// The user config directory as Go's `os.UserConfigDir` computes it on Unix.
fn user_config_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    if cfg!(target_os = "macos") {
        Some(PathBuf::from(home).join("Library/Application Support"))
    } else {
        Some(PathBuf::from(home).join(".config"))
    }
}

/// Default identity file: `<user config dir>/sops/age/keys.txt`.
pub fn default_key_file() -> Option<PathBuf> {
    user_config_dir().map(|d| d.join("sops/age/keys.txt"))
}

fn load_identities() -> Loaded {
    let mut l = Loaded {
        identities: Vec::new(),
        unused: Vec::new(),
        errors: Vec::new(),
        names: Vec::new(),
    };
    match std::env::var_os(env::SSH_KEY_FILE) {
        Some(p) => add_ssh_file(&mut l, &PathBuf::from(p)),
        None => l.unused.push(env::SSH_KEY_FILE.into()),
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        for name in ["id_ed25519", "id_rsa"] {
            let p = PathBuf::from(&home).join(".ssh").join(name);
            if p.exists() {
                add_ssh_file(&mut l, &p);
            } else {
                l.unused.push(p.display().to_string());
            }
        }
    }
    match std::env::var(env::KEY).map(Zeroizing::new) {
        Ok(keys) => {
            let before = l.identities.len();
            add_identity_text(&mut l, env::KEY, &keys, true);
            if l.identities.len() == before {
                l.unused.push(env::KEY.into());
            }
        }
        Err(_) => l.unused.push(env::KEY.into()),
    }
    match std::env::var_os(env::KEY_FILE) {
        Some(p) => match std::fs::read(&p) {
            Ok(bytes) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
                add_identity_text(&mut l, env::KEY_FILE, &text, false);
            }
            Err(e) => l.errors.push(format!(
                "failed to open {} file {}: {e}",
                env::KEY_FILE,
                Path::new(&p).display()
            )),
        },
        None => l.unused.push(env::KEY_FILE.into()),
    }
    if std::env::var_os(env::KEY_CMD).is_none() {
        l.unused.push(env::KEY_CMD.into());
    }
    if let Some(p) = default_key_file() {
        match std::fs::read(&p) {
            Ok(bytes) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
                add_identity_text(&mut l, &p.display().to_string(), &text, false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if l.identities.is_empty() {
                    l.unused.push(p.display().to_string());
                }
            }
            Err(e) => l
                .errors
                .push(format!("failed to open file {}: {e}", p.display())),
        }
    }
    l
}

/// Identities from `SOPS_AGE_KEY_CMD` / `SOPS_AGE_SSH_PRIVATE_KEY_CMD`, run for one recipient.
fn load_command_identities(recipient: &str) -> Loaded {
    let mut l = Loaded {
        identities: Vec::new(),
        unused: Vec::new(),
        errors: Vec::new(),
        names: Vec::new(),
    };
    if let Ok(cmd) = std::env::var(env::SSH_KEY_CMD) {
        match run_key_command(&cmd, recipient) {
            Ok(out) => {
                match age::ssh::Identity::from_buffer(BufReader::new(out.as_slice()), None) {
                    Ok(id) => push_ssh_identity(&mut l, id, env::SSH_KEY_CMD),
                    Err(e) => l
                        .errors
                        .push(format!("{}: not an SSH private key: {e}", env::SSH_KEY_CMD)),
                }
            }
            Err(e) => l.errors.push(e.to_string()),
        }
    }
    if let Ok(cmd) = std::env::var(env::KEY_CMD) {
        match run_key_command(&cmd, recipient) {
            Ok(out) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&out).into_owned());
                add_identity_text(&mut l, env::KEY_CMD, &text, false);
            }
            Err(e) => l.errors.push(e.to_string()),
        }
    }
    l
}

/// Runs a key command split like a shell would (no shell involved), with `SOPS_AGE_RECIPIENT` set.
fn run_key_command(
    cmd: &str,
    recipient: &str,
) -> std::result::Result<Zeroizing<Vec<u8>>, super::ServiceError> {
    let fail = super::ServiceError::Program;
    let argv = crate::shell::split_command(cmd)
        .ok_or_else(|| fail(format!("failed to parse command {cmd:?}")))?;
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| fail("empty key command".into()))?;
    let out = Command::new(prog)
        .args(args)
        .env(env::RECIPIENT, recipient)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| fail(format!("failed to run {prog}: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "key command {prog} failed with {}",
            out.status
        )));
    }
    Ok(Zeroizing::new(out.stdout))
}

fn add_ssh_file(l: &mut Loaded, path: &PathBuf) {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            match age::ssh::Identity::from_buffer(
                BufReader::new(bytes.as_slice()),
                Some(path.display().to_string()),
            ) {
                Ok(id) => push_ssh_identity(l, id, &path.display().to_string()),
                Err(e) => l
                    .errors
                    .push(format!("failed to parse SSH key {}: {e}", path.display())),
            }
        }
        Err(e) => l
            .errors
            .push(format!("failed to read SSH key {}: {e}", path.display())),
    }
}

fn push_ssh_identity(l: &mut Loaded, id: age::ssh::Identity, origin: &str) {
    match id {
        age::ssh::Identity::Unsupported(k) => {
            l.errors
                .push(format!("{origin}: unsupported SSH key ({k:?})"));
        }
        age::ssh::Identity::Encrypted(_) => {
            l.errors.push(format!(
                "{origin}: passphrase-protected SSH keys are not supported"
            ));
        }
        unencrypted => {
            l.names.push(format!("SSH key from {origin}"));
            l.identities.push(Box::new(unencrypted))
        }
    }
}

/// Parses identity lines (`AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…`, `AGE-PLUGIN-…`); `#` and blank
/// lines are skipped.
fn add_identity_text(l: &mut Loaded, origin: &str, text: &str, many_per_line: bool) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = if many_per_line {
            line.split_whitespace().collect()
        } else {
            vec![line]
        };
        for w in words {
            if w.starts_with("AGE-SECRET-KEY-PQ-") {
                match HybridIdentity::from_str(w) {
                    Ok(id) => {
                        l.names.push(format!("{} from {origin}", id.to_public()));
                        l.identities.push(Box::new(id))
                    }
                    Err(_) => l
                        .errors
                        .push(format!("{origin}: malformed age post-quantum secret key")),
                }
            } else if w.starts_with("AGE-SECRET-KEY-1") {
                match age::x25519::Identity::from_str(w) {
                    Ok(id) => {
                        l.names.push(format!("{} from {origin}", id.to_public()));
                        l.identities.push(Box::new(id))
                    }
                    Err(_) => l.errors.push(format!("{origin}: malformed age secret key")),
                }
            } else if w.starts_with("AGE-PLUGIN-") {
                match age::plugin::Identity::from_str(w) {
                    Ok(id) => match age::plugin::IdentityPluginV1::new(
                        id.plugin(),
                        std::slice::from_ref(&id),
                        age::NoCallbacks,
                    ) {
                        Ok(p) => {
                            l.names
                                .push(format!("age-plugin-{} from {origin}", id.plugin()));
                            l.identities.push(Box::new(p))
                        }
                        Err(_) => l.errors.push(format!(
                            "{origin}: age-plugin-{} not found in PATH",
                            id.plugin()
                        )),
                    },
                    Err(_) => l
                        .errors
                        .push(format!("{origin}: malformed age plugin identity")),
                }
            } else {
                l.errors.push(format!("{origin}: unknown identity format"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn wrap_unwrap_round_trip_with_env_key() {
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        let src = AgeSource::new();
        let entry = src.wrap(&recipient, &[7u8; 32]).unwrap();
        let KeyEntry::Age { enc, .. } = &entry else {
            panic!()
        };
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        // unwrap with an explicitly loaded identity (env is process-global; avoid mutating it in tests)
        let l = Loaded {
            identities: vec![Box::new(id)],
            unused: vec![],
            errors: vec![],
            names: vec![],
        };
        let src = AgeSource {
            loaded: OnceLock::from(l),
            extra: None,
        };
        assert_eq!(&src.unwrap(&entry).unwrap()[..], &[7u8; 32]);
    }

    #[test]
    fn pq_round_trip_and_mixed_identities() {
        let pq = HybridIdentity::generate();
        let x = age::x25519::Identity::generate();
        let src = AgeSource::new();
        let pq_entry = src.wrap(&pq.to_public().to_string(), &[9u8; 32]).unwrap();
        let x_entry = src.wrap(&x.to_public().to_string(), &[9u8; 32]).unwrap();
        let text = format!(
            "# mixed\n{}\n{}\n",
            x.to_string().expose_secret(),
            pq.to_string_secret().as_str()
        );
        let mut l = load_command_identities("unused");
        add_identity_text(&mut l, "test", &text, false);
        assert!(l.errors.is_empty(), "{:?}", l.errors);
        let src = AgeSource {
            loaded: OnceLock::from(l),
            extra: None,
        };
        assert_eq!(&src.unwrap(&pq_entry).unwrap()[..], &[9u8; 32]);
        assert_eq!(&src.unwrap(&x_entry).unwrap()[..], &[9u8; 32]);
    }

    #[test]
    fn generated_identity_files_parse_like_keys_files() {
        for pq in [false, true] {
            let new = generate_identity(pq);
            let lines: Vec<&str> = new.file_text.lines().collect();
            assert_eq!(lines.len(), 3);
            assert!(lines[0].starts_with("# created: 20"), "{}", lines[0]);
            assert!(!lines[0].contains('.'), "whole seconds: {}", lines[0]);
            assert_eq!(lines[1], format!("# public key: {}", new.recipient));
            assert_eq!(new.recipient.starts_with("age1pq1"), pq);
            let mut l = load_command_identities("unused");
            add_identity_text(&mut l, "test", &new.file_text, false);
            assert_eq!((l.identities.len(), l.errors.len()), (1, 0));
            assert!(parse_recipient(&new.recipient).is_ok());
        }
    }

    #[test]
    fn malformed_pq_identity_is_reported_without_echo() {
        let good = HybridIdentity::generate().to_string_secret();
        let mut bad = good.to_string();
        bad.replace_range(30..31, if &good[30..31] == "Q" { "P" } else { "Q" });
        let mut l = load_command_identities("unused");
        add_identity_text(&mut l, "keys.txt", &bad, false);
        assert!(l.identities.is_empty());
        assert_eq!(
            l.errors,
            ["keys.txt: malformed age post-quantum secret key"]
        );
    }

    #[test]
    fn bad_pq_recipient_is_named_on_one_line() {
        let r = HybridIdentity::generate().to_public().to_string();
        let mut bad = r.clone();
        bad.replace_range(100..101, if &r[100..101] == "q" { "p" } else { "q" });
        let err = parse_recipient(&bad).err().unwrap().to_string();
        assert!(
            err.contains("not a valid age post-quantum recipient"),
            "{err}"
        );
        assert!(
            err.contains(&bad[..24]) && err.contains(&bad[bad.len() - 12..]),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn secret_key_as_recipient_is_not_echoed() {
        let x = age::x25519::Identity::generate();
        let pq = HybridIdentity::generate();
        for secret in [
            x.to_string().expose_secret().to_string(),
            pq.to_string_secret().to_string(),
            x.to_string().expose_secret().to_lowercase(),
        ] {
            let err = parse_recipient(&secret).err().unwrap().to_string();
            assert!(!err.contains(&secret[16..40]), "{err}");
            assert!(err.contains("private key"), "{err}");
        }
    }
}
