//! File formats behind one trait: each store parses bytes into [`Branch`]es and emits them back, with or
//! without the `sops` metadata block.

use crate::error::{Result, SopsError};
use crate::metadata::Metadata;
use crate::tree::{Branch, Value};

pub mod binary;
pub mod dotenv;
pub mod ini;
pub mod json;
pub mod yaml;

/// A file format sops can encrypt.
pub trait Store {
    /// Parses a plaintext file into its documents (one branch per YAML document; one for other formats).
    fn load_plain(&self, input: &[u8]) -> Result<Vec<Branch>>;
    /// Parses an encrypted file: its documents (values still `ENC[...]`) and the metadata block.
    /// A file without metadata gives [`SopsError::MetadataNotFound`].
    fn load_encrypted(&self, input: &[u8]) -> Result<(Vec<Branch>, Metadata)>;
    /// Emits documents without metadata (decrypted output).
    fn emit_plain(&self, docs: &[Branch]) -> Result<Vec<u8>>;
    /// Emits documents with the metadata block (encrypted output).
    fn emit_encrypted(&self, docs: &[Branch], metadata: &Metadata) -> Result<Vec<u8>>;
    /// Emits one value on its own (used by `--extract` for non-string leaves and maps).
    fn emit_value(&self, value: &Value) -> Result<Vec<u8>>;
    /// True when a plaintext input already carries sops metadata (so encrypting it again is refused).
    fn has_metadata(&self, docs: &[Branch]) -> bool {
        docs.iter().any(|d| crate::tree::get(d, "sops").is_some())
    }
}

/// The formats sops knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML (multi-document, comments kept).
    Yaml,
    /// JSON (top-level object).
    Json,
    /// dotenv `KEY=value` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any bytes, stored under a single `data` key.
    Binary,
}

impl Format {
    /// Parses a `--input-type`/`--output-type` name.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "dotenv" => Some(Format::Dotenv),
            "ini" => Some(Format::Ini),
            "binary" => Some(Format::Binary),
            _ => None,
        }
    }

    /// The format sops picks from a file name: `.yaml`/`.yml`, `.json`, `.env`, `.ini`, else binary.
    pub fn from_path(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".env") {
            Format::Dotenv
        } else if lower.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }
}

/// Per-format settings from `.sops.yaml` `stores:` (or flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSettings {
    /// `stores.yaml.indent` (default 4).
    pub yaml_indent: Option<usize>,
    /// `stores.json.indent` (default: one tab).
    pub json_indent: Option<usize>,
    /// `stores.json_binary.indent` (default: one tab).
    pub json_binary_indent: Option<usize>,
}

/// Builds the store for a format.
pub fn store_for(format: Format, settings: &StoreSettings) -> Box<dyn Store> {
    match format {
        Format::Yaml => Box::new(yaml::YamlStore {
            indent: settings.yaml_indent.unwrap_or(4),
        }),
        Format::Json => Box::new(json::JsonStore {
            indent: settings.json_indent,
        }),
        Format::Dotenv => Box::new(dotenv::DotenvStore),
        Format::Ini => Box::new(ini::IniStore),
        Format::Binary => Box::new(binary::BinaryStore {
            indent: settings.json_binary_indent,
        }),
    }
}

/// Splits the `sops` entry off every document; returns the metadata of the first one that has it.
pub(crate) fn split_metadata(docs: &mut [Branch]) -> Result<Metadata> {
    let mut found = None;
    for doc in docs.iter_mut() {
        if let Some(v) = crate::tree::take(doc, "sops") {
            if found.is_none() {
                found = Some(v);
            }
        }
    }
    match found {
        Some(Value::Map(m)) => Metadata::from_tree(&m),
        Some(_) => Err(SopsError::InvalidMetadata(
            "the sops key is not a map".into(),
        )),
        None => Err(SopsError::MetadataNotFound),
    }
}
