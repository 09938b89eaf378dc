//! A decoded view of Kubernetes `Secret` `data` for editing: base64 values are shown as plain text and
//! encoded again afterwards.
//!
//! The view is reversible by construction. A `data` value is decoded only when it is canonical base64
//! (encoding the decoded bytes gives back the exact same text) of text (valid UTF-8 without control
//! characters other than newline and tab), so a value nobody touched encodes to exactly the base64 it
//! had, and its ciphertext stays the same under stable re-encryption. Every other `data` value (binary,
//! non-canonical base64, non-string) stays as it is and is left alone on the way back, so it can never
//! be double-encoded. New `data` entries written in the view are plain text and get encoded.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::error::{Result, SopsError};
use crate::k8s::is_secret;
use crate::tree::{Branch, Item, Value};

/// The first word of every header line, so readers know where the lines come from.
const HEADER_PREFIX: &str = "# kubectl-sops:";

/// What [`decode`] did: which `data` entries of which document were left undecoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataView {
    /// Per document: the `data` keys left as they were (not decodable text), to leave alone on save.
    kept: Vec<Vec<String>>,
    /// Per document: the `data` keys that are base64 strings but not text (listed in the header).
    binary: Vec<Vec<String>>,
    /// True when at least one document is a `Secret` (the view applies).
    active: bool,
}

/// True for text that can be shown and typed in an editor without changing on the way back.
fn is_text(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// The decoded text of a canonical base64 value holding text, or None.
fn decode_value(b64: &str) -> Option<String> {
    let bytes = B64.decode(b64).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    (is_text(&text) && B64.encode(text.as_bytes()) == b64).then_some(text)
}

fn data_map_mut(doc: &mut Branch) -> Option<&mut Branch> {
    doc.iter_mut().find_map(|item| match item {
        Item::Pair(k, Value::Map(m)) if k == "data" => Some(m),
        _ => None,
    })
}

/// A key name safe to print on one comment line.
fn printable(k: &str) -> String {
    if k.chars().all(|c| !c.is_control()) {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Decodes, in place, the `data` values of every `v1` `Secret` document that are base64 of text.
/// Returns what is needed to encode them again with [`DataView::encode`].
pub fn decode(docs: &mut [Branch]) -> DataView {
    let mut view = DataView {
        kept: vec![Vec::new(); docs.len()],
        binary: vec![Vec::new(); docs.len()],
        active: false,
    };
    for (i, doc) in docs.iter_mut().enumerate() {
        if !is_secret(doc) {
            continue;
        }
        view.active = true;
        let Some(data) = data_map_mut(doc) else {
            continue;
        };
        for item in data.iter_mut() {
            let Item::Pair(k, v) = item else { continue };
            match v {
                Value::Str(s) => match decode_value(s) {
                    Some(text) => *s = text,
                    None => {
                        view.kept[i].push(k.to_string());
                        view.binary[i].push(k.to_string());
                    }
                },
                _ => view.kept[i].push(k.to_string()),
            }
        }
    }
    view
}

impl DataView {
    /// True when at least one document is a `Secret`, so the view changes how `data` is read back.
    #[cfg(test)]
    fn is_active(&self) -> bool {
        self.active
    }

    /// Comment lines (each starting with `# kubectl-sops:`) explaining the view, to put at the top of
    /// the file being edited; empty when no document is a `Secret`. Names keys, never values.
    pub fn header(&self) -> Vec<String> {
        if !self.active {
            return Vec::new();
        }
        let mut lines = vec![
            format!("{HEADER_PREFIX} Secret `data` values are shown decoded (plain text) and are base64-encoded again on save."),
            format!("{HEADER_PREFIX} New `data` entries are plain text too; `stringData` is unchanged. These lines are removed on save."),
        ];
        let binary: Vec<String> = self
            .binary
            .iter()
            .enumerate()
            .flat_map(|(i, keys)| {
                keys.iter()
                    .map(move |k| format!("{} (document {})", printable(k), i + 1))
            })
            .collect();
        if !binary.is_empty() {
            lines.push(format!(
                "{HEADER_PREFIX} Not text, so left as base64 (edit them as base64): {}",
                binary.join(", ")
            ));
        }
        lines
    }

    /// Encodes, in place, the `data` values of every `Secret` document again: each string becomes its
    /// base64, except the entries [`decode`] left alone. Unquoted numbers and booleans are encoded as
    /// their text; floats and timestamps are refused (their exact text is lost in parsing), as are
    /// non-scalar values, which Kubernetes would refuse too.
    pub fn encode(&self, docs: &mut [Branch]) -> Result<()> {
        if !self.active {
            return Ok(());
        }
        let n = docs.len();
        for (i, doc) in docs.iter_mut().enumerate() {
            if !is_secret(doc) {
                continue;
            }
            let kept = self.kept.get(i).map(Vec::as_slice).unwrap_or(&[]);
            let Some(data) = data_map_mut(doc) else {
                continue;
            };
            for item in data.iter_mut() {
                let Item::Pair(k, v) = item else { continue };
                if kept.iter().any(|x| k == x) {
                    continue;
                }
                let bad = |what: &str| SopsError::Parse {
                    format: "YAML",
                    message: format!(
                        "data.{} in document {} of {n} is {what}; write it as a quoted string",
                        printable(k),
                        i + 1
                    ),
                };
                let text = match v {
                    Value::Str(s) => std::mem::take(s),
                    Value::Int(x) => x.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null | Value::Comment(_) => continue,
                    Value::Bytes(b) => {
                        *v = Value::Str(B64.encode(b));
                        continue;
                    }
                    Value::Float(_) => return Err(bad("an unquoted number")),
                    Value::Time(_) => return Err(bad("an unquoted timestamp")),
                    Value::Map(_) | Value::Seq(_) => return Err(bad("not a scalar")),
                };
                *v = Value::Str(B64.encode(text.as_bytes()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::yaml::YamlStore;
    use crate::stores::Store;

    fn b64(s: &[u8]) -> String {
        B64.encode(s)
    }

    fn secret(data: &[(&str, Value)]) -> Branch {
        vec![
            Item::Pair("apiVersion".into(), Value::Str("v1".into())),
            Item::Pair("kind".into(), Value::Str("Secret".into())),
            Item::Pair(
                "metadata".into(),
                Value::Map(vec![Item::Pair("name".into(), Value::Str("db".into()))]),
            ),
            Item::Pair(
                "data".into(),
                Value::Map(
                    data.iter()
                        .map(|(k, v)| Item::Pair(k.to_string().into(), v.clone()))
                        .collect(),
                ),
            ),
        ]
    }

    fn data_of(doc: &Branch) -> &Branch {
        crate::tree::get(doc, "data")
            .and_then(Value::as_map)
            .unwrap()
    }

    /// decode → emit YAML → parse YAML → encode gives back the exact documents.
    fn round_trip(docs: &[Branch]) -> (Vec<u8>, DataView) {
        let store = YamlStore { indent: 4 };
        let mut view_docs = docs.to_vec();
        let view = decode(&mut view_docs);
        let text = store.emit_plain(&view_docs).unwrap();
        let mut back = store.load_plain(&text).unwrap();
        view.encode(&mut back).unwrap();
        assert_eq!(back, docs, "view of {}", String::from_utf8_lossy(&text));
        (text, view)
    }

    #[test]
    fn text_values_round_trip_exactly() {
        let values: &[&str] = &[
            "hunter2",
            "",
            "12345",
            "true",
            "null",
            "0x1F",
            "1.50",
            "2024-01-02",
            " leading and trailing ",
            "line one\nline two\n",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "no newline\nat end",
            "two newlines\n\n",
            "tab\there",
            "unicode ü — 雪",
            "# not a comment",
            "key: value",
            "'quoted'",
            "\"double\"",
        ];
        let data: Vec<(String, Value)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}"), Value::Str(b64(v.as_bytes()))))
            .collect();
        let refs: Vec<(&str, Value)> = data.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let doc = secret(&refs);
        let (text, view) = round_trip(std::slice::from_ref(&doc));
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("k0: hunter2\n"), "{text}");
        assert!(view.header().len() == 2, "no binary values expected");
    }

    #[test]
    fn binary_and_odd_values_stay_untouched() {
        let bin = b64(&[0xff, 0x00, 0x10, 0x80]);
        let ctrl = b64(b"bell\x07");
        let doc = secret(&[
            ("bin", Value::Str(bin.clone())),
            ("ctrl", Value::Str(ctrl.clone())),
            ("notb64", Value::Str("not base64!".into())),
            ("unpadded", Value::Str("aGk".into())),
            ("num", Value::Int(7)),
            ("nothing", Value::Null),
            ("text", Value::Str(b64(b"hi"))),
        ]);
        let mut view_docs = vec![doc.clone()];
        let view = decode(&mut view_docs);
        let d = data_of(&view_docs[0]);
        assert_eq!(crate::tree::get(d, "bin"), Some(&Value::Str(bin)));
        assert_eq!(crate::tree::get(d, "ctrl"), Some(&Value::Str(ctrl)));
        assert_eq!(crate::tree::get(d, "text"), Some(&Value::Str("hi".into())));
        let header = view.header().join("\n");
        assert!(header.contains("bin (document 1)"), "{header}");
        assert!(header.contains("unpadded (document 1)"), "{header}");
        assert!(!header.contains(" text (document"), "{header}");
        round_trip(&[doc]);
    }

    #[test]
    fn multi_document_only_secrets_change() {
        let config_map = vec![
            Item::Pair("apiVersion".into(), Value::Str("v1".into())),
            Item::Pair("kind".into(), Value::Str("ConfigMap".into())),
            Item::Pair(
                "data".into(),
                Value::Map(vec![Item::Pair("x".into(), Value::Str(b64(b"hi")))]),
            ),
        ];
        let docs = vec![
            config_map.clone(),
            secret(&[("a", Value::Str(b64(b"first")))]),
            secret(&[("b", Value::Str(b64(&[0xfe])))]),
        ];
        let mut view_docs = docs.clone();
        let view = decode(&mut view_docs);
        assert_eq!(view_docs[0], config_map);
        assert_eq!(
            crate::tree::get(data_of(&view_docs[1]), "a"),
            Some(&Value::Str("first".into()))
        );
        assert!(view.header().join("\n").contains("b (document 3)"));
        round_trip(&docs);
    }

    #[test]
    fn edits_and_new_entries_are_encoded() {
        let doc = secret(&[
            ("password", Value::Str(b64(b"hunter2"))),
            ("user", Value::Str(b64(b"app"))),
            ("bin", Value::Str(b64(&[0xff]))),
        ]);
        let mut docs = vec![doc];
        let view = decode(&mut docs);
        if let Some(Item::Pair(_, Value::Map(m))) = docs[0].last_mut() {
            m[0] = Item::Pair("password".into(), Value::Str("s3cret".into()));
            m.push(Item::Pair("port".into(), Value::Int(5432)));
            m.push(Item::Pair("debug".into(), Value::Bool(false)));
        }
        view.encode(&mut docs).unwrap();
        let d = data_of(&docs[0]);
        assert_eq!(
            crate::tree::get(d, "password"),
            Some(&Value::Str(b64(b"s3cret")))
        );
        assert_eq!(crate::tree::get(d, "user"), Some(&Value::Str(b64(b"app"))));
        assert_eq!(crate::tree::get(d, "bin"), Some(&Value::Str(b64(&[0xff]))));
        assert_eq!(crate::tree::get(d, "port"), Some(&Value::Str(b64(b"5432"))));
        assert_eq!(
            crate::tree::get(d, "debug"),
            Some(&Value::Str(b64(b"false")))
        );
    }

    #[test]
    fn ambiguous_values_are_refused_without_the_value() {
        let mut docs = vec![secret(&[("a", Value::Str(b64(b"x")))])];
        let view = decode(&mut docs);
        if let Some(Item::Pair(_, Value::Map(m))) = docs[0].last_mut() {
            m[0] = Item::Pair("a".into(), Value::Float(1.5));
        }
        let err = view.encode(&mut docs).unwrap_err().to_string();
        assert!(err.contains("data.a in document 1"), "{err}");
        assert!(!err.contains("1.5"), "{err}");
    }

    #[test]
    fn no_secret_no_view() {
        let mut docs = vec![vec![Item::Pair("a".into(), Value::Str(b64(b"x")))]];
        let before = docs.clone();
        let view = decode(&mut docs);
        assert!(!view.is_active());
        assert!(view.header().is_empty());
        view.encode(&mut docs).unwrap();
        assert_eq!(docs, before);
    }
}
