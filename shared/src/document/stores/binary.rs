//! Binary files: the whole file is one value under the key `data`; the encrypted file is a JSON
//! envelope written like the JSON store (`stores.json_binary.indent`, default one tab).
//!
//! Bytes that are valid UTF-8 load as [`Value::Str`]; anything else loads as [`Value::Bytes`] so the
//! file round-trips byte for byte (the cipher encrypts both as sops `type:str` with the raw bytes, and
//! decrypting a non-UTF-8 `str` gives `Value::Bytes` back).
//!
//! sops ≥3.11 writes no encryption rule into a freshly encrypted binary file, so a [`Metadata`] whose
//! rule is [`EncryptionRule::Default`] is written without `unencrypted_suffix`.
use super::json::JsonStore;
use super::Store;
use crate::error::{Result, SopsError};
use crate::metadata::{EncryptionRule, Metadata};
use crate::tree::{Branch, Item, Value};

/// Binary blob store.
pub struct BinaryStore {
    /// Spaces of indentation; None = one tab like sops.
    pub indent: Option<usize>,
}

fn emit_err(message: &str) -> SopsError {
    SopsError::Emit {
        format: "binary",
        message: message.into(),
    }
}

impl BinaryStore {
    fn json(&self) -> JsonStore {
        JsonStore {
            indent: self.indent,
        }
    }
}

impl Store for BinaryStore {
    fn load_plain(&self, input: &[u8]) -> Result<Vec<Branch>> {
        let value = match std::str::from_utf8(input) {
            Ok(s) => Value::Str(s.to_string()),
            Err(_) => Value::Bytes(input.to_vec()),
        };
        Ok(vec![vec![Item::Pair("data".into(), value)]])
    }

    fn load_encrypted(&self, input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
        self.json().load_encrypted(input)
    }

    fn emit_plain(&self, docs: &[Branch]) -> Result<Vec<u8>> {
        if docs.len() != 1 {
            return Err(emit_err(
                "error emitting binary store: there must be exactly one tree branch",
            ));
        }
        match crate::tree::get(&docs[0], "data") {
            Some(Value::Str(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Ok(b.clone()),
            Some(_) => Err(emit_err(
                "error emitting binary store: 'data' key in tree does not have a string value",
            )),
            None => Err(emit_err(
                "error emitting binary store: no binary data found in tree",
            )),
        }
    }

    fn emit_encrypted(&self, docs: &[Branch], metadata: &Metadata) -> Result<Vec<u8>> {
        let mut md = metadata.to_tree();
        if metadata.rule == EncryptionRule::Default {
            crate::tree::take(&mut md, EncryptionRule::Default.field().0);
        }
        let doc = docs.first().map_or(&[][..], Vec::as_slice);
        self.json()
            .emit_document(doc, Some(("sops", &Value::Map(md))))
    }

    fn emit_value(&self, _value: &Value) -> Result<Vec<u8>> {
        Err(SopsError::Unsupported(
            "Binary files are not structured and extracting a single value is not possible".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_any_bytes() {
        let s = BinaryStore { indent: None };
        for input in [&b""[..], b"hello\n", b"bin\xff\x00\xe2\x82 <tail>\n"] {
            let docs = s.load_plain(input).unwrap();
            assert_eq!(s.emit_plain(&docs).unwrap(), input);
        }
        assert!(matches!(
            s.load_plain(b"\xff").unwrap()[0][0],
            Item::Pair(_, Value::Bytes(_))
        ));
        let err = s.emit_plain(&[vec![]]).unwrap_err().to_string();
        assert!(err.contains("no binary data found in tree"), "{err}");
        assert!(s.emit_value(&Value::Null).is_err());
    }
}

#[cfg(test)]
mod golden {
    use super::super::json::test_support::*;
    use super::*;

    #[test]
    fn golden_sops_3_13_2() {
        let s = BinaryStore { indent: None };
        check_golden(&s, "binary", "text.txt", "text.enc.txt", "text.dec.txt");
        check_golden(
            &s,
            "binary",
            "invalid.bin",
            "invalid.enc.bin",
            "invalid.dec.bin",
        );
        check_golden(&s, "binary", "empty.bin", "empty.enc.bin", "empty.dec.bin");
        check_golden(&s, "binary", "nonl.bin", "nonl.enc.bin", "nonl.dec.bin");
        // the decrypted file is the input, byte for byte
        assert_eq!(
            fixture("binary", "invalid.bin"),
            fixture("binary", "invalid.dec.bin")
        );
    }

    #[test]
    fn vectors_load() {
        let s = BinaryStore { indent: None };
        for (enc, exp) in [
            (
                "sops-example-binary/example.txt",
                "sops-example-binary/expected.txt",
            ),
            (
                "sops-nix-binary/secrets.bin",
                "sops-nix-binary/expected.bin",
            ),
            (
                "helm-secrets-file-properties/file.properties",
                "helm-secrets-file-properties/expected.properties",
            ),
            (
                "gen-binary-text/blob.enc.txt",
                "gen-binary-text/expected.txt",
            ),
        ] {
            let (_, plain_exact) = check_vector(&s, enc, exp);
            assert!(plain_exact, "{exp}");
        }
    }
}
