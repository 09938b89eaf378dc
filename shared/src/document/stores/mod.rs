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

/// [`Store::load_encrypted`] with sops' exit code for a file that does not parse: 1 (sops'
/// `LoadEncryptedFile` errors carry no code), where plaintext input that does not parse gives 2.
pub fn load_encrypted(store: &dyn Store, input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
    store.load_encrypted(input).map_err(|e| match e {
        SopsError::Parse { format, message } => SopsError::ParseEncrypted { format, message },
        e => e,
    })
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

/// Splits the `sops` entries off every document and reads the metadata like sops (`ExtractMetadata`):
/// only the first document's entry counts (a file whose metadata sits in a later document has none),
/// two entries in the first document are an error, entries in later documents are dropped.
pub(crate) fn split_metadata(docs: &mut [Branch]) -> Result<Metadata> {
    let mut found = None;
    for (i, doc) in docs.iter_mut().enumerate() {
        while let Some(v) = crate::tree::take(doc, "sops") {
            if i == 0 {
                if found.is_some() {
                    return Err(SopsError::InvalidMetadata(
                        "found duplicate sops entry".into(),
                    ));
                }
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

#[cfg(test)]
mod robustness {
    //! Bad input never panics, never hangs, and errors never quote the document.
    use super::*;
    use proptest::prelude::*;

    const MARKER: &str = "SECRETVAL";

    fn all_stores() -> Vec<(Format, Box<dyn Store>)> {
        [
            Format::Yaml,
            Format::Json,
            Format::Dotenv,
            Format::Ini,
            Format::Binary,
        ]
        .into_iter()
        .map(|f| (f, store_for(f, &StoreSettings::default())))
        .collect()
    }

    /// Loads `input` with every store (plain and encrypted) and emits what loads; errors must not quote
    /// the marker.
    fn exercise(input: &[u8]) {
        for (format, store) in all_stores() {
            let check = |e: SopsError| {
                let msg = e.to_string();
                assert!(!msg.contains(MARKER), "{format:?}: {msg}");
            };
            match store.load_plain(input) {
                Ok(docs) => {
                    let _ = store.emit_plain(&docs).map_err(check);
                    let _ = store.has_metadata(&docs);
                }
                Err(e) => check(e),
            }
            match store.load_encrypted(input) {
                Ok((docs, md)) => {
                    let _ = store.emit_encrypted(&docs, &md).map_err(check);
                }
                Err(e) => check(e),
            }
        }
    }

    /// Pieces of YAML, JSON, INI and dotenv syntax and of sops metadata.
    const TOKENS: &[&str] = &[
        "\n",
        "\r\n",
        "\r",
        " ",
        "  ",
        "\t",
        ":",
        ": ",
        "- ",
        "-",
        "=",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\"",
        "'",
        "#",
        ";",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "!!binary ",
        "!!int ",
        "!!str ",
        "!!float ",
        "? ",
        "|",
        ">",
        "|-",
        "---\n",
        "...\n",
        "\u{feff}",
        "\\",
        "\\n",
        "`",
        "\"\"\"",
        "sops",
        "sops:",
        "sops_",
        "[sops]",
        "age",
        "enc",
        "recipient",
        "mac",
        "lastmodified",
        "version",
        "key_groups",
        "shamir_threshold",
        "unencrypted_suffix",
        "encrypted_regex",
        "pgp",
        "fp",
        "ENC[AES256_GCM,data:",
        ",iv:",
        ",tag:",
        ",type:str]",
        "0",
        "1",
        "-1",
        "1e400",
        "0x1F",
        "9223372036854775808",
        "1.5",
        ".inf",
        "null",
        "true",
        "~",
        "2024-01-02",
        "\u{e9}",
        "\u{1F600}",
        "\u{0}",
        "\u{85}",
        "\u{2028}",
        "a",
        "key",
        MARKER,
    ];

    fn tokens() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..300)) {
            exercise(&input);
        }

        #[test]
        fn syntax_soup_never_panics(input in tokens()) {
            exercise(input.as_bytes());
        }

        #[test]
        fn edited_sops_files_never_panic(
            pick in 0usize..5,
            edits in prop::collection::vec((0usize..400, 0usize..4, prop::sample::select(TOKENS)), 1..6),
        ) {
            let file = [
                "yaml/comments_basic.enc.yaml",
                "json/types.enc.json",
                "dotenv/app.enc.env",
                "ini/app.enc.ini",
                "binary/text.enc.txt",
            ][pick];
            let (dir, name) = file.split_once('/').unwrap();
            let text = String::from_utf8(super::json::test_support::fixture(dir, name)).unwrap();
            let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
            for (at, op, tok) in edits {
                let i = at % lines.len();
                match op {
                    0 => { lines.remove(i); if lines.is_empty() { lines.push(String::new()); } }
                    1 => { let l = lines[i].clone(); lines.insert(i, l); }
                    2 => lines[i].push_str(tok),
                    _ => {
                        let cut = lines[i].char_indices().nth(lines[i].chars().count() / 2).map_or(0, |c| c.0);
                        lines[i].insert_str(cut, tok);
                    }
                }
            }
            exercise(lines.join("\n").as_bytes());
        }
    }

    #[test]
    fn metadata_of_the_wrong_type_is_an_error() {
        let text = String::from_utf8(super::json::test_support::fixture(
            "yaml",
            "comments_basic.enc.yaml",
        ))
        .unwrap();
        let (head, _) = text.split_once("\nsops:\n").unwrap();
        let s = store_for(Format::Yaml, &StoreSettings::default());
        for md in [
            "sops: 5",
            "sops: [a]",
            "sops: {}",
            "sops:\n    mac: [1]\n    version: {a: 1}",
            "sops:\n    age: 5\n    version: 3.13.2",
            "sops:\n    age: [5, [1], {recipient: 1}]\n    version: 3.13.2",
            "sops:\n    key_groups: 5\n    version: 3.13.2",
            "sops:\n    key_groups: [5, {age: x}, {pgp: [{fp: [1]}]}]\n    version: 3.13.2",
            "sops:\n    shamir_threshold: -1\n    lastmodified: {}\n    version: 1e300",
            "sops:\n    shamir_threshold: 1e300\n    mac_only_encrypted: [1]\n    version: !!binary /w==",
            "sops:\n    encrypted_regex: [\n    unencrypted_suffix: 1\n    version: 3.13.2",
            "sops:\n    encrypted_regex: '['\n    version: 3.13.2",
        ] {
            let input = format!("{head}\n{md}\n");
            if let Ok((docs, md)) = s.load_encrypted(input.as_bytes()) {
                s.emit_encrypted(&docs, &md).unwrap();
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = store_for(Format::Yaml, &StoreSettings::default());
        for n in [999usize, 1000, 5000, 100_000] {
            let flow = format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
            let r = s.load_plain(flow.as_bytes());
            assert_eq!(r.is_ok(), n < 1000, "flow {n}");
            if let Ok(docs) = r {
                s.emit_plain(&docs).unwrap();
            }
        }
        let mut block = String::new();
        for i in 0..1200 {
            block.push_str(&" ".repeat(i));
            block.push_str("a:\n");
        }
        let e = s.load_plain(block.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("depth") || e.contains("too deep"), "{e}");
        // aliases cannot build a deeper tree than the text: each level adds 200 through an alias
        let mut text = format!("a0: &a0 {}{}\n", "[".repeat(200), "]".repeat(200));
        for i in 1..50 {
            text.push_str(&format!(
                "a{i}: &a{i} {}*a{}{}\n",
                "[".repeat(200),
                i - 1,
                "]".repeat(200)
            ));
        }
        let e = s.load_plain(text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("max depth"), "{e}");
        // the JSON reader is iterative: 999 levels load on a test thread's small stack
        let json = format!("{{\"a\": {}1{}}}", "[".repeat(998), "]".repeat(998));
        let docs = store_for(Format::Json, &StoreSettings::default())
            .load_plain(json.as_bytes())
            .unwrap();
        store_for(Format::Json, &StoreSettings::default())
            .emit_plain(&docs)
            .unwrap();
        let json = format!("{{\"a\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
        for f in [Format::Json, Format::Binary] {
            assert!(store_for(f, &StoreSettings::default())
                .load_encrypted(json.as_bytes())
                .is_err());
        }
    }

    #[test]
    fn alias_bombs_are_refused() {
        let s = store_for(Format::Yaml, &StoreSettings::default());
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = s.load_plain(text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("excessive aliasing"), "{e}");
        // in a later document too (sops only checks the first one, then runs out of memory)
        let later = format!("x: 1\n---\n{text}");
        assert!(s.load_plain(later.as_bytes()).is_err());
        // a self-referencing anchor
        let e = s.load_plain(b"a: &x\n  b: *x\n").unwrap_err().to_string();
        assert!(e.contains("contains itself"), "{e}");
        // ordinary aliases still work
        let docs = s
            .load_plain(b"base: &b\n  k: v\ncopy: *b\nlist: [*b, *b]\n")
            .unwrap();
        assert_eq!(
            crate::tree::get(&docs[0], "copy"),
            crate::tree::get(&docs[0], "base")
        );
    }

    #[test]
    fn metadata_only_from_the_first_document_like_sops() {
        let s = store_for(Format::Yaml, &StoreSettings::default());
        let enc = super::json::test_support::fixture("yaml", "comments_basic.enc.yaml");
        let text = String::from_utf8(enc).unwrap();
        // sops 3.13.2: "sops metadata not found" when the metadata is in a later document
        let later = format!("x: 1\n---\n{text}");
        assert!(matches!(
            s.load_encrypted(later.as_bytes()),
            Err(SopsError::MetadataNotFound)
        ));
        // a `sops` key in a later document is dropped
        let (docs, _) = s
            .load_encrypted(format!("{text}---\nx: 1\nsops: 5\n").as_bytes())
            .unwrap();
        assert!(crate::tree::get(&docs[1], "sops").is_none());
        // a duplicate `sops` key (possible in JSON) is an error, not data
        let json = String::from_utf8(super::json::test_support::fixture("json", "types.enc.json"))
            .unwrap();
        let (_, md_part) = json.split_once("\n\t\"sops\": ").unwrap();
        let md_part = md_part.trim_end().strip_suffix('}').unwrap();
        let dup = format!("{{\"sops\": {md_part}, \"sops\": {md_part}}}");
        let e = store_for(Format::Json, &StoreSettings::default())
            .load_encrypted(dup.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate sops"), "{e}");
    }

    #[test]
    fn number_errors_do_not_quote_the_number() {
        let s = store_for(Format::Json, &StoreSettings::default());
        let e = s
            .load_plain(b"{\"pin\": 31415e99999}")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("31415"), "{e}");
        assert!(e.contains("offset 9"), "{e}");
    }
}
