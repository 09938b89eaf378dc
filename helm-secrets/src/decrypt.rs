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
        Err(e) => return Err(Failure::engine(name, e)),
    };
    drop(bytes);
    let out = store
        .emit_plain(&opened.docs)
        .map_err(|e| Failure::engine(name, e))?;
    Ok(Decrypted::Secret(Zeroizing::new(out)))
}
