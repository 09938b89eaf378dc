//! JSON object (placeholder)
use super::Store;
use crate::error::{Result, SopsError};
use crate::metadata::Metadata;
use crate::tree::{Branch, Value};

/// JSON object (placeholder)
pub struct JsonStore {
    /// Spaces of indentation; None = one tab like sops.
    pub indent: Option<usize>,
}

impl Store for JsonStore {
    fn load_plain(&self, _input: &[u8]) -> Result<Vec<Branch>> {
        Err(SopsError::Other("not implemented yet".into()))
    }
    fn load_encrypted(&self, _input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
        Err(SopsError::Other("not implemented yet".into()))
    }
    fn emit_plain(&self, _docs: &[Branch]) -> Result<Vec<u8>> {
        Err(SopsError::Other("not implemented yet".into()))
    }
    fn emit_encrypted(&self, _docs: &[Branch], _metadata: &Metadata) -> Result<Vec<u8>> {
        Err(SopsError::Other("not implemented yet".into()))
    }
    fn emit_value(&self, _value: &Value) -> Result<Vec<u8>> {
        Err(SopsError::Other("not implemented yet".into()))
    }
}
