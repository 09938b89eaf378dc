//! YAML store: reads documents with comments and writes them byte for byte like sops 3.13 (go-yaml v3).

mod emit;
mod parse;
mod scalar;

use super::Store;
use crate::error::{Result, SopsError};
use crate::metadata::Metadata;
use crate::tree::{Branch, Value};

/// YAML documents with comments, emitted like sops (go-yaml v3).
pub struct YamlStore {
    /// Spaces per indentation level (sops default 4).
    pub indent: usize,
}

fn utf8(input: &[u8]) -> Result<&str> {
    std::str::from_utf8(input).map_err(|e| SopsError::Parse {
        format: "YAML",
        message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
    })
}

impl Store for YamlStore {
    fn load_plain(&self, input: &[u8]) -> Result<Vec<Branch>> {
        let text = utf8(input)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        parse::parse(text)
    }
    fn load_encrypted(&self, input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
        let mut docs = self.load_plain(input)?;
        let md = super::split_metadata(&mut docs)?;
        Ok((docs, md))
    }
    fn emit_plain(&self, docs: &[Branch]) -> Result<Vec<u8>> {
        let refs: Vec<&Branch> = docs.iter().collect();
        Ok(emit::emit_documents(&refs, None, self.indent).into_bytes())
    }
    fn emit_encrypted(&self, docs: &[Branch], metadata: &Metadata) -> Result<Vec<u8>> {
        let md = Value::Map(metadata.to_tree());
        let refs: Vec<&Branch> = docs.iter().collect();
        Ok(emit::emit_documents(&refs, Some(("sops", &md)), self.indent).into_bytes())
    }
    fn emit_value(&self, value: &Value) -> Result<Vec<u8>> {
        Ok(emit::emit_single(value).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::scalar::{format_float, parse_timestamp, resolve_plain, Resolved};
    use super::*;
    use crate::tree::Comment;
    use crate::tree::Item;
    use std::path::{Path, PathBuf};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml")
    }

    fn vectors() -> PathBuf {
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/sops"
        ))
        .to_path_buf()
    }

    fn store(name: &str) -> YamlStore {
        YamlStore {
            indent: if name.starts_with("indent2") { 2 } else { 4 },
        }
    }

    fn fixture_names() -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(fixtures())
            .expect("fixtures dir")
            .filter_map(|e| {
                let n = e.ok()?.file_name().into_string().ok()?;
                n.strip_suffix(".enc.yaml").map(str::to_string)
            })
            .collect();
        names.sort();
        assert!(!names.is_empty());
        names
    }

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn diff(name: &str, got: &[u8], want: &[u8]) {
        if got != want {
            let g = String::from_utf8_lossy(got);
            let w = String::from_utf8_lossy(want);
            for (i, (a, b)) in g.lines().zip(w.lines()).enumerate() {
                if a != b {
                    panic!(
                        "{name}: first difference at line {}:\n got: {a:?}\nwant: {b:?}",
                        i + 1
                    );
                }
            }
            panic!(
                "{name}: outputs differ in length ({} vs {} lines)",
                g.lines().count(),
                w.lines().count()
            );
        }
    }

    /// sops 3.13.2 loses the inline flag of the comments it decrypts: clear it where the encrypted twin
    /// (same tree shape) holds an encrypted comment.
    fn strip_inline(v: &mut Value, enc: &Value) {
        match (v, enc) {
            (Value::Map(b), Value::Map(e)) => strip_inline_branch(b, e),
            (Value::Seq(items), Value::Seq(e)) => {
                items
                    .iter_mut()
                    .zip(e)
                    .for_each(|(v, e)| strip_inline(v, e));
            }
            (Value::Comment(c), _) => c.inline = false,
            _ => {}
        }
    }

    fn strip_inline_branch(b: &mut Branch, enc: &Branch) {
        for (item, e) in b.iter_mut().zip(enc) {
            match (item, e) {
                (Item::Comment(c), Item::Comment(ec)) if ec.text.starts_with("ENC[") => {
                    c.inline = false
                }
                (Item::Pair(_, v), Item::Pair(_, ev)) => strip_inline(v, ev),
                _ => {}
            }
        }
    }

    #[test]
    fn golden_encrypted_round_trip() {
        for name in fixture_names() {
            let enc = read(&fixtures().join(format!("{name}.enc.yaml")));
            let s = store(&name);
            let (docs, md) = s
                .load_encrypted(&enc)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            diff(&name, &s.emit_encrypted(&docs, &md).unwrap(), &enc);
        }
    }

    #[test]
    fn golden_plain_round_trip() {
        for name in fixture_names() {
            let dec = read(&fixtures().join(format!("{name}.dec.yaml")));
            let s = store(&name);
            let docs = s.load_plain(&dec).unwrap_or_else(|e| panic!("{name}: {e}"));
            diff(&name, &s.emit_plain(&docs).unwrap(), &dec);
        }
    }

    /// Reading the original plaintext and writing it gives what sops gives after encrypt + decrypt.
    #[test]
    fn golden_normalization_matches_sops() {
        for name in fixture_names() {
            let input = read(&fixtures().join(format!("{name}.input.yaml")));
            let dec = read(&fixtures().join(format!("{name}.dec.yaml")));
            let enc = read(&fixtures().join(format!("{name}.enc.yaml")));
            let s = store(&name);
            let mut docs = s
                .load_plain(&input)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let (edocs, _) = s.load_encrypted(&enc).unwrap();
            docs.iter_mut()
                .zip(&edocs)
                .for_each(|(d, e)| strip_inline_branch(d, e));
            diff(&name, &s.emit_plain(&docs).unwrap(), &dec);
        }
    }

    /// Comments keep their inline flag when encrypted: the encrypted layout equals sops' own.
    #[test]
    fn golden_inline_comments_survive_encryption_layout() {
        for name in fixture_names() {
            let input = read(&fixtures().join(format!("{name}.input.yaml")));
            let enc =
                String::from_utf8(read(&fixtures().join(format!("{name}.enc.yaml")))).unwrap();
            let s = store(&name);
            let docs = s.load_plain(&input).unwrap();
            let (edocs, _) = s.load_encrypted(enc.as_bytes()).unwrap();
            let shape = |b: &[Branch]| -> Vec<String> {
                fn walk(v: &Value, out: &mut Vec<String>) {
                    match v {
                        Value::Map(b) => b.iter().for_each(|i| match i {
                            Item::Comment(c) => out.push(format!("c{}", c.inline)),
                            Item::Pair(k, v) => {
                                out.push(k.to_string());
                                walk(v, out)
                            }
                        }),
                        Value::Seq(items) => items.iter().for_each(|i| match i {
                            Value::Comment(_) => out.push("seqc".into()),
                            Value::Str(s) if s.contains("type:comment]") => out.push("seqc".into()),
                            other => walk(other, out),
                        }),
                        _ => out.push("leaf".into()),
                    }
                }
                let mut out = Vec::new();
                b.iter()
                    .for_each(|d| walk(&Value::Map(d.clone()), &mut out));
                out
            };
            assert_eq!(shape(&docs), shape(&edocs), "{name}");
        }
    }

    #[test]
    fn sops_vectors_load() {
        let mut n = 0;
        for dir in std::fs::read_dir(vectors()).expect("vectors") {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let p = f.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                if !(name.ends_with(".yaml") || name.ends_with(".yml"))
                    || name.starts_with("sops-config")
                {
                    continue;
                }
                let s = YamlStore { indent: 4 };
                if name.starts_with("expected") {
                    s.load_plain(&read(&p))
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                } else {
                    s.load_encrypted(&read(&p))
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                }
                n += 1;
            }
        }
        assert!(n >= 20, "only {n} YAML vector files found");
    }

    #[test]
    fn vector_indent2_round_trip() {
        let p = vectors().join("gen-yaml-config-indent2-maconly/regex.enc.yaml");
        let enc = read(&p);
        let s = YamlStore { indent: 2 };
        let (docs, md) = s.load_encrypted(&enc).unwrap();
        let out = s.emit_encrypted(&docs, &md).unwrap();
        // 3.11 wrote the metadata in struct order; compare the document part only.
        let cut = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .split("\nsops:")
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(cut(&out), cut(&enc));
    }

    fn r(s: &str) -> Resolved {
        resolve_plain(s)
    }

    #[test]
    fn scalar_resolution() {
        assert_eq!(r(""), Resolved::Null);
        assert_eq!(r("~"), Resolved::Null);
        assert_eq!(r("NULL"), Resolved::Null);
        assert_eq!(r("True"), Resolved::Bool(true));
        assert_eq!(r("FALSE"), Resolved::Bool(false));
        assert_eq!(r("yes"), Resolved::Str);
        assert_eq!(r("off"), Resolved::Str);
        assert_eq!(r("0777"), Resolved::Int(511));
        assert_eq!(r("0o17"), Resolved::Int(15));
        assert_eq!(r("0x1F"), Resolved::Int(31));
        assert_eq!(r("-0x1F"), Resolved::Int(-31));
        assert_eq!(r("1_000"), Resolved::Int(1000));
        assert_eq!(r("+5"), Resolved::Int(5));
        assert_eq!(r("08"), Resolved::Float(8.0));
        assert_eq!(r("1e3"), Resolved::Float(1000.0));
        assert_eq!(r("1.5"), Resolved::Float(1.5));
        assert_eq!(r(".5"), Resolved::Float(0.5));
        assert_eq!(r("-.Inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(r(".nan"), Resolved::Float(f) if f.is_nan()));
        assert_eq!(r("1e400"), Resolved::Str);
        assert_eq!(r("1.2.3"), Resolved::Str);
        assert_eq!(r("_1"), Resolved::Str);
        assert_eq!(
            r("2024-01-02"),
            Resolved::Time("2024-01-02T00:00:00Z".into())
        );
        assert_eq!(
            r("2001-12-14t21:59:43.10-05:00"),
            Resolved::Time("2001-12-14T21:59:43.1-05:00".into())
        );
        assert_eq!(
            r("2001-12-14 21:59:43.10"),
            Resolved::Time("2001-12-14T21:59:43.1Z".into())
        );
        assert_eq!(
            r("2001-12-14T21:59:43+00:00"),
            Resolved::Time("2001-12-14T21:59:43Z".into())
        );
        assert_eq!(r("2024-02-30"), Resolved::Str);
        assert_eq!(
            parse_timestamp("2024-1-2"),
            Some("2024-01-02T00:00:00Z".into())
        );
        assert_eq!(parse_timestamp("2001-12-14 21:59:43.10 -5"), None);
    }

    #[test]
    fn float_formatting() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(1e20), "1e+20");
        assert_eq!(format_float(1e6), "1e+06");
        assert_eq!(format_float(123456.0), "123456");
        assert_eq!(format_float(0.0001), "0.0001");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(-2.5e-7), "-2.5e-07");
        assert_eq!(format_float(f64::INFINITY), ".inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-.inf");
        assert_eq!(format_float(f64::NAN), ".nan");
        assert_eq!(format_float(-0.0), "-0");
        // Go breaks the tie of the exact value …575.125 to even; Rust's `{:e}` would give …513e+14
        assert_eq!(format_float(169230132522575.12), "1.6923013252257512e+14");
        assert_eq!(
            format_float(-1.6923013252257512e14),
            "-1.6923013252257512e+14"
        );
    }

    fn emit_one(key: &str, v: Value) -> String {
        let s = YamlStore { indent: 4 };
        String::from_utf8(s.emit_plain(&[vec![Item::Pair(key.into(), v)]]).unwrap()).unwrap()
    }

    #[test]
    fn quoting_decisions() {
        let q = |s: &str| emit_one("k", Value::Str(s.into()));
        assert_eq!(q("plain"), "k: plain\n");
        assert_eq!(q("12345"), "k: \"12345\"\n");
        assert_eq!(q("true"), "k: \"true\"\n");
        assert_eq!(q("yes"), "k: \"yes\"\n");
        assert_eq!(q("Off"), "k: \"Off\"\n");
        assert_eq!(q("null"), "k: \"null\"\n");
        assert_eq!(q(""), "k: \"\"\n");
        assert_eq!(q("2026-05-22T20:16:23Z"), "k: \"2026-05-22T20:16:23Z\"\n");
        assert_eq!(q("1:20"), "k: \"1:20\"\n");
        assert_eq!(q(" lead"), "k: ' lead'\n");
        assert_eq!(q("a: b"), "k: 'a: b'\n");
        assert_eq!(q("a #b"), "k: 'a #b'\n");
        assert_eq!(q("a#b"), "k: a#b\n");
        assert_eq!(q("- x"), "k: '- x'\n");
        assert_eq!(q("it's"), "k: it's\n");
        assert_eq!(q("'q'"), "k: '''q'''\n");
        assert_eq!(q("a\tb"), "k: \"a\\tb\"\n");
        assert_eq!(q("😀"), "k: \"\\U0001F600\"\n");
        assert_eq!(q("a\nb"), "k: |-\n    a\n    b\n");
        assert_eq!(q("a\nb\n"), "k: |\n    a\n    b\n");
        assert_eq!(q("a\n\n"), "k: |+\n    a\n\n");
        assert_eq!(q(" a\nb"), "k: |4-\n     a\n    b\n");
        assert_eq!(q("a \nb"), "k: \"a \\nb\"\n");
        assert_eq!(emit_one("yes", Value::Int(1)), "\"yes\": 1\n");
        assert_eq!(emit_one("", Value::Null), "\"\": null\n");
        assert_eq!(emit_one("k", Value::Float(1.0)), "k: 1\n");
        assert_eq!(
            emit_one("k", Value::Time("2024-01-02T00:00:00Z".into())),
            "k: 2024-01-02T00:00:00Z\n"
        );
        assert_eq!(emit_one("k", Value::Map(vec![])), "k: {}\n");
        assert_eq!(emit_one("k", Value::Seq(vec![])), "k: []\n");
    }

    #[test]
    fn comments_emit() {
        let doc = vec![
            Item::Comment(Comment::line(" top")),
            Item::Comment(Comment {
                text: " note".into(),
                inline: true,
            }),
            Item::Pair("a".into(), Value::Int(1)),
            Item::Pair(
                "l".into(),
                Value::Seq(vec![
                    Value::Comment(Comment::line(" first")),
                    Value::Str("x".into()),
                    Value::Comment(Comment {
                        text: " inl".into(),
                        inline: true,
                    }),
                    Value::Str("z".into()),
                ]),
            ),
            Item::Comment(Comment::line(" end")),
        ];
        let out = YamlStore { indent: 4 }.emit_plain(&[doc]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# top\na: 1 # note\nl:\n    # first\n    - x\n    - z # inl\n# end\n"
        );
    }

    #[test]
    fn parse_errors_hide_content() {
        let s = YamlStore { indent: 4 };
        for bad in [
            "- a\n- b\n",
            "just a scalar\n",
            "a: 1\na: 2\n",
            "1: secretvalue\n",
            "a: [unclosed secretvalue\n",
        ] {
            let e = s.load_plain(bad.as_bytes()).expect_err(bad).to_string();
            assert!(!e.contains("secretvalue"), "{e}");
        }
        assert_eq!(s.load_plain(b"---\n").unwrap(), vec![Vec::<Item>::new()]);
        assert_eq!(s.load_plain(b"").unwrap(), Vec::<Branch>::new());
        // duplicates in later documents are not checked by sops either
        assert!(s.load_plain(b"a: 1\n---\nb: 1\nb: 2\n").is_ok());
    }

    /// sops 3.13.2 refuses these (first document: go-yaml's decode into a map; uint64: its tree walk);
    /// the reader used to turn them into a null and a rounded float.
    #[test]
    fn undecodable_scalars_like_sops() {
        let s = YamlStore { indent: 4 };
        for bad in [
            "a: !!bool secretvalue\n",
            "a: !!int secretvalue\n",
            "a: !!binary secretvalue!\n",
            "a: 18446744073709551615\n",
            "b: 1\n---\na: !!int 18446744073709551615\n",
        ] {
            let e = s.load_plain(bad.as_bytes()).expect_err(bad).to_string();
            assert!(
                !e.contains("secretvalue") && !e.contains("18446744073709551615 "),
                "{e}"
            );
            assert!(e.contains("line "), "{e}");
        }
        // in later documents sops keeps a null for a tag it cannot decode
        let docs = s.load_plain(b"a: 1\n---\nb: !!bool yes\n").unwrap();
        assert_eq!(docs[1], vec![Item::Pair("b".into(), Value::Null)]);
        // one more than u64::MAX is a float for go-yaml too
        let docs = s.load_plain(b"a: 18446744073709551616\n").unwrap();
        assert_eq!(
            docs[0],
            vec![Item::Pair("a".into(), Value::Float(18446744073709551616.0))]
        );
    }

    #[test]
    fn emit_value_like_yaml_marshal() {
        let s = YamlStore { indent: 2 };
        assert_eq!(s.emit_value(&Value::Int(5)).unwrap(), b"5\n");
        assert_eq!(
            s.emit_value(&Value::Map(vec![Item::Pair(
                "a".into(),
                Value::Map(vec![Item::Pair("b".into(), Value::Null)])
            )]))
            .unwrap(),
            b"a:\n    b: null\n"
        );
    }
}
