//! dotenv `KEY=value` files, read and written like sops 3.13.2 (`stores/dotenv/store.go`).
//!
//! Lines are split on `\n`; empty lines are dropped; a line starting with `#` is a comment (the text
//! after `#`); any other line is split at its first `=`: key and value are kept literally (spaces,
//! quotes, `\r`), and the two characters `\n` in a value become a newline. A line without `=` is an
//! error. Values that are not UTF-8 load as [`Value::Bytes`], keys and comments keep their bytes
//! ([`crate::tree::Text`]); all are written back unchanged.
//!
//! Encrypted files carry the flattened metadata as `sops_<key>=<value>` lines after the data, sorted by
//! key, newlines written as `\n`; they are read in any order.
use super::json::go_val_to_string;
use super::Store;
use crate::error::{Result, SopsError};
use crate::gocompat::lossy_utf8;
use crate::metadata::Metadata;
use crate::tree::{Branch, Comment, Item, Text, Value};

/// Prefix of the metadata keys.
const SOPS_PREFIX: &str = "sops_";

/// dotenv store.
pub struct DotenvStore;

fn emit_err(message: String) -> SopsError {
    SopsError::Emit {
        format: "dotenv",
        message,
    }
}

/// Replaces every two-character `\n` sequence with a newline.
fn decode_newlines(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && raw.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

fn encode_newlines_into(raw: &[u8], out: &mut Vec<u8>) {
    for &b in raw {
        if b == b'\n' {
            out.extend_from_slice(b"\\n");
        } else {
            out.push(b);
        }
    }
}

fn bytes_value(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::Str(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

/// Go type name of a value, for sops' error messages.
fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) | Value::Bytes(_) => "string",
        Value::Time(_) => "time.Time",
        Value::Comment(_) => "sops.Comment",
        Value::Map(_) => "sops.TreeBranch",
        Value::Seq(_) => "[]interface {}",
    }
}

impl Store for DotenvStore {
    fn load_plain(&self, input: &[u8]) -> Result<Vec<Branch>> {
        let mut branch = Vec::new();
        for (n, line) in input.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            if line[0] == b'#' {
                branch.push(Item::Comment(Comment::line(Text::from_bytes(
                    line[1..].to_vec(),
                ))));
                continue;
            }
            let Some(pos) = line.iter().position(|b| *b == b'=') else {
                return Err(SopsError::Parse {
                    format: "dotenv",
                    message: format!("invalid dotenv input line {} (no '=')", n + 1),
                });
            };
            let key = Text::from_bytes(line[..pos].to_vec());
            branch.push(Item::Pair(
                key,
                bytes_value(decode_newlines(&line[pos + 1..])),
            ));
        }
        Ok(vec![branch])
    }

    fn load_encrypted(&self, input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
        let mut docs = self.load_plain(input)?;
        let mut data = Vec::new();
        let mut flat = Vec::new();
        for item in docs.remove(0) {
            match item {
                Item::Pair(k, v) if k.starts_with(SOPS_PREFIX) => {
                    // `load_plain` gives strings (`\n` already decoded) or bytes
                    let text = match v {
                        Value::Str(s) => s,
                        Value::Bytes(b) => lossy_utf8(&b),
                        other => go_val_to_string(&other).unwrap_or_default(),
                    };
                    flat.push((k[SOPS_PREFIX.len()..].to_string(), text));
                }
                other => data.push(other),
            }
        }
        if flat.is_empty() {
            return Err(SopsError::MetadataNotFound);
        }
        let md = Metadata::from_flat(&flat)?;
        Ok((vec![data], md))
    }

    fn emit_plain(&self, docs: &[Branch]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let Some(doc) = docs.first() else {
            return Ok(out);
        };
        for item in doc {
            match item {
                Item::Comment(c) => {
                    out.push(b'#');
                    out.extend_from_slice(c.text.as_bytes());
                    out.push(b'\n');
                }
                Item::Pair(k, v) => {
                    let bytes: Vec<u8> = match v {
                        Value::Map(_) | Value::Seq(_) => {
                            return Err(emit_err(format!(
                                "cannot use complex value in dotenv file; offending key {k}"
                            )))
                        }
                        Value::Bytes(b) => b.clone(),
                        other => go_val_to_string(other).unwrap_or_default().into_bytes(),
                    };
                    out.extend_from_slice(k.as_bytes());
                    out.push(b'=');
                    encode_newlines_into(&bytes, &mut out);
                    out.push(b'\n');
                }
            }
        }
        Ok(out)
    }

    fn emit_encrypted(&self, docs: &[Branch], metadata: &Metadata) -> Result<Vec<u8>> {
        let mut out = self.emit_plain(docs)?;
        for (k, v) in metadata.to_flat() {
            out.extend_from_slice(SOPS_PREFIX.as_bytes());
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            encode_newlines_into(v.as_bytes(), &mut out);
            out.push(b'\n');
        }
        Ok(out)
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>> {
        match value {
            Value::Str(s) => Ok(s.as_bytes().to_vec()),
            Value::Bytes(b) => Ok(b.clone()),
            other => Err(emit_err(format!(
                "the dotenv store only supports emitting strings, got {}",
                go_type_name(other)
            ))),
        }
    }

    fn has_metadata(&self, docs: &[Branch]) -> bool {
        docs.iter()
            .flatten()
            .any(|item| matches!(item, Item::Pair(k, _) if k.starts_with(SOPS_PREFIX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_sops() {
        let input = b"# top comment\nA=1\n\nB= spaced value \nC=a=b=c\n#c2\nD=line1\\nline2\nE=\n F =x\nG=\"q\"\r\nH=\xff\n";
        let docs = DotenvStore.load_plain(input).unwrap();
        let d = &docs[0];
        assert_eq!(d[0], Item::Comment(Comment::line(" top comment")));
        assert_eq!(
            crate::tree::get(d, "B"),
            Some(&Value::Str(" spaced value ".into()))
        );
        assert_eq!(crate::tree::get(d, "C"), Some(&Value::Str("a=b=c".into())));
        assert_eq!(
            crate::tree::get(d, "D"),
            Some(&Value::Str("line1\nline2".into()))
        );
        assert_eq!(crate::tree::get(d, "E"), Some(&Value::Str(String::new())));
        assert_eq!(crate::tree::get(d, " F "), Some(&Value::Str("x".into())));
        assert_eq!(
            crate::tree::get(d, "G"),
            Some(&Value::Str("\"q\"\r".into()))
        );
        assert_eq!(crate::tree::get(d, "H"), Some(&Value::Bytes(vec![0xff])));
        let out = DotenvStore.emit_plain(&docs).unwrap();
        assert_eq!(out, b"# top comment\nA=1\nB= spaced value \nC=a=b=c\n#c2\nD=line1\\nline2\nE=\n F =x\nG=\"q\"\r\nH=\xff\n");
        assert!(DotenvStore.load_plain(b"A=1\nnoequals\n").is_err());
        assert_eq!(DotenvStore.load_plain(b"").unwrap(), vec![vec![]]);
    }

    #[test]
    fn emit_scalars_and_errors() {
        let doc = vec![
            Item::Pair("i".into(), Value::Int(1)),
            Item::Pair("f".into(), Value::Float(1.0)),
            Item::Pair("g".into(), Value::Float(1e300)),
            Item::Pair("b".into(), Value::Bool(true)),
            Item::Pair("n".into(), Value::Null),
        ];
        let out = DotenvStore.emit_plain(&[doc]).unwrap();
        assert_eq!(out, b"i=1\nf=1.0\ng=1E+300\nb=true\nn=<nil>\n");
        let bad = vec![Item::Pair("m".into(), Value::Map(vec![]))];
        let err = DotenvStore.emit_plain(&[bad]).unwrap_err().to_string();
        assert!(
            err.contains("cannot use complex value in dotenv file; offending key m"),
            "{err}"
        );
        assert!(DotenvStore.emit_value(&Value::Int(1)).is_err());
        assert_eq!(
            DotenvStore.emit_value(&Value::Str("x\ny".into())).unwrap(),
            b"x\ny"
        );
    }

    #[test]
    fn metadata_detection() {
        let docs = DotenvStore.load_plain(b"A=1\nsops_version=3\n").unwrap();
        assert!(DotenvStore.has_metadata(&docs));
        assert!(matches!(
            DotenvStore.load_encrypted(b"A=1\n"),
            Err(SopsError::MetadataNotFound)
        ));
    }
}

#[cfg(test)]
mod golden {
    use super::super::json::test_support::*;
    use super::*;

    #[test]
    fn golden_sops_3_13_2() {
        check_golden(
            &DotenvStore,
            "dotenv",
            "app.env",
            "app.enc.env",
            "app.dec.env",
        );
        check_golden(&DotenvStore, "dotenv", "kg.env", "kg.enc.env", "kg.dec.env");
        check_golden(
            &DotenvStore,
            "dotenv",
            "empty.env",
            "empty.enc.env",
            "empty.dec.env",
        );
    }

    #[test]
    fn vectors_load() {
        // (encrypted, plaintext, re-emitted encrypted file is byte-exact)
        check_vectors(
            &DotenvStore,
            &[
                (
                    "sops-functional-format-env/format.enc.env",
                    "sops-functional-format-env/expected.env",
                    true,
                ),
                (
                    "sops-age-npm-env/secret.enc.env",
                    "sops-age-npm-env/expected.env",
                    true,
                ),
                (
                    "flux-age-dotenv/env.env",
                    "flux-age-dotenv/expected.env",
                    true,
                ),
                ("gen-dotenv/app.enc.env", "gen-dotenv/expected.env", true),
            ],
        );
        // the key with a trailing space and the value with a leading space are kept
        let (docs, _) = DotenvStore
            .load_encrypted(&vector("sops-functional-format-env/format.enc.env"))
            .unwrap();
        assert!(matches!(&docs[0][0], Item::Pair(k, _) if k == "foo "));
    }
}
