//! Decrypting one values file with the shared engine.

use sops_engine::file::open_read_only;
use sops_engine::keys::KeyRing;
use sops_engine::stores::{store_for, Format, StoreSettings};
use sops_engine::SopsError;
use zeroize::Zeroizing;

use crate::error::Failure;

/// The result of reading a values file.
pub enum Decrypted {
    /// The file holds no sops metadata: its bytes as they are (helm-secrets passes such files on).
    Plain(Vec<u8>),
    /// The decrypted document, in the file's own format.
    Secret(Zeroizing<Vec<u8>>),
}

impl Decrypted {
    /// The bytes to hand to helm.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Decrypted::Plain(b) => b,
            Decrypted::Secret(b) => b,
        }
    }
}

/// The format of a values file: JSON for `.json`, YAML otherwise (helm values are YAML or JSON).
pub fn values_format(name: &str) -> Format {
    if name.to_ascii_lowercase().ends_with(".json") {
        Format::Json
    } else {
        Format::Yaml
    }
}

/// True when `bytes` may hold sops metadata (a cheap test before parsing a plaintext file).
pub fn may_be_encrypted(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"sops")
}

/// The format of a `--set-file` file: by extension like sops (binary when unknown).
pub fn file_format(name: &str) -> Format {
    Format::from_path(name)
}

/// Decrypts the content of values file `name` (MAC checked). A file without sops metadata is
/// returned as it is.
pub fn decrypt(name: &str, bytes: Vec<u8>, keys: &KeyRing) -> Result<Decrypted, Failure> {
    decrypt_as(values_format(name), name, bytes, keys)
}

/// Like [`decrypt`] with the format given.
pub fn decrypt_as(
    format: Format,
    name: &str,
    bytes: Vec<u8>,
    keys: &KeyRing,
) -> Result<Decrypted, Failure> {
    if !may_be_encrypted(&bytes) {
        return Ok(Decrypted::Plain(bytes));
    }
    let store = store_for(format, &StoreSettings::default());
    let opened = match open_read_only(&bytes, store.as_ref(), keys, false) {
        Ok(o) => o,
        Err(SopsError::MetadataNotFound) => return Ok(Decrypted::Plain(bytes)),
        Err(e) => return Err(Failure::in_file(name, e)),
    };
    drop(bytes);
    let out = store
        .emit_plain(&opened.docs)
        .map_err(|e| Failure::in_file(name, e))?;
    Ok(Decrypted::Secret(Zeroizing::new(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn vectors() -> Option<PathBuf> {
        let v = std::env::var_os("KSOPS_VECTORS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/sops")
            });
        v.join("keys").is_dir().then_some(v)
    }

    #[test]
    fn plaintext_passes_through() {
        let keys = KeyRing::default();
        let d = decrypt("v.yaml", b"a: 1\n".to_vec(), &keys).unwrap();
        assert!(matches!(d, Decrypted::Plain(_)));
        assert_eq!(d.bytes(), b"a: 1\n");
        // mentions sops but has no metadata
        let d = decrypt("v.yaml", b"tool: sops\n".to_vec(), &keys).unwrap();
        assert!(matches!(d, Decrypted::Plain(_)));
    }

    #[test]
    fn helm_secrets_vector_decrypts_like_real_sops() {
        let Some(v) = vectors() else {
            eprintln!("SKIPPED: no shared vectors");
            return;
        };
        let key = std::fs::read_to_string(v.join("keys/helm-secrets_age-key.txt")).unwrap();
        let keys = KeyRing::default().with_age_identities(Zeroizing::new(key));
        let enc = std::fs::read(v.join("helm-secrets-age/secrets.age.yaml")).unwrap();
        let d = decrypt("secrets.age.yaml", enc, &keys).unwrap();
        assert!(matches!(d, Decrypted::Secret(_)));
        let expected = std::fs::read(v.join("helm-secrets-age/expected.yaml")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(d.bytes())
                .lines()
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&expected)
                .lines()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn tampered_vector_fails_with_the_mac_error_and_no_value() {
        let Some(v) = vectors() else {
            eprintln!("SKIPPED: no shared vectors");
            return;
        };
        let keys = KeyRing::default().with_age_identities(Zeroizing::new(
            std::fs::read_to_string(v.join("keys/gen_age_a.txt")).unwrap(),
        ));
        let enc = std::fs::read(v.join("gen-negative-mac-mismatch/simple.enc.yaml")).unwrap();
        let plain =
            std::fs::read_to_string(v.join("gen-negative-mac-mismatch/expected_ignore_mac.yaml"))
                .unwrap();
        let e = match decrypt("simple.enc.yaml", enc, &keys) {
            Err(e) => e,
            Ok(_) => panic!("a tampered file must not decrypt"),
        };
        assert_eq!(e.code, sops_engine::error::exit::MAC_MISMATCH, "{e}");
        assert!(e.message.starts_with("simple.enc.yaml: "));
        for line in plain
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(_, v)| v.trim())
        {
            if line.len() > 3 {
                assert!(!e.message.contains(line), "value leaked: {e}");
            }
        }
    }
}
