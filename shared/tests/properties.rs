//! Property and tamper tests of the engine: decrypt(encrypt(tree)) == tree for generated trees, any
//! flipped byte in a value, the MAC or lastmodified makes opening fail with sops' exit codes, and
//! re-sealing keeps the ciphertext of unchanged values.

use std::sync::OnceLock;

use proptest::prelude::*;
use sops_engine::cipher::Cipher;
use sops_engine::file::{open, seal, SealSpec};
use sops_engine::keys::{KeyRing, Recipient};
use sops_engine::metadata::EncryptionRule;
use sops_engine::rules::Rules;
use sops_engine::stores::{store_for, Format, StoreSettings};
use sops_engine::tree::{Branch, Comment, Item, Value};
use sops_engine::walk::{decrypt_docs, decrypt_mac, WalkSettings};

/// One throw-away age identity for this test process, given to the engine through `SOPS_AGE_KEY`.
fn recipient() -> &'static str {
    static RECIPIENT: OnceLock<String> = OnceLock::new();
    RECIPIENT.get_or_init(|| {
        use age::secrecy::ExposeSecret;
        let id = age::x25519::Identity::generate();
        std::env::set_var("SOPS_AGE_KEY", id.to_string().expose_secret());
        std::env::remove_var("SOPS_AGE_KEY_FILE");
        std::env::remove_var("SOPS_AGE_KEY_CMD");
        std::env::set_var("HOME", std::env::temp_dir().join("sops-engine-props-home"));
        id.to_public().to_string()
    })
}

fn spec(rule: EncryptionRule) -> SealSpec {
    SealSpec {
        groups: vec![vec![Recipient::Age(recipient().to_string())]],
        rule,
        ..Default::default()
    }
}

fn key_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,8}"
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1e12f64..1e12).prop_map(Value::Float),
        "[ -~]{0,20}".prop_map(Value::Str),
        "\\PC{0,10}".prop_map(Value::Str),
        Just(Value::Null),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Seq),
            prop::collection::vec((key_strategy(), inner), 0..4)
                .prop_map(|kv| Value::Map(dedup(kv))),
        ]
    })
}

fn dedup(kv: Vec<(String, Value)>) -> Branch {
    let mut seen = std::collections::HashSet::new();
    kv.into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(k, v)| Item::Pair(k.into(), v))
        .collect()
}

fn doc() -> impl Strategy<Value = Branch> {
    (
        prop::collection::vec((key_strategy(), value()), 1..5),
        prop::option::of("[ a-z]{0,10}"),
    )
        .prop_map(|(kv, c)| {
            let mut d = dedup(kv);
            if let Some(c) = c {
                d.insert(0, Item::Comment(Comment::line(c)));
            }
            d
        })
}

/// True when the branch holds a value sops would encrypt (not null, not an empty string).
fn has_encryptable_leaf(b: &Branch) -> bool {
    fn value(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => has_encryptable_leaf(m),
            Value::Seq(s) => s.iter().any(value),
            _ => true,
        }
    }
    b.iter().any(|i| match i {
        Item::Pair(_, v) => value(v),
        Item::Comment(c) => !c.text.is_empty(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn decrypt_of_encrypt_is_identity(docs in prop::collection::vec(doc(), 1..3)) {
        let keys = KeyRing::default();
        let (mut enc, md) = seal(docs.clone(), &spec(EncryptionRule::Default), &keys, None).unwrap();
        if docs.iter().any(has_encryptable_leaf) {
            prop_assert_ne!(&enc, &docs);
        }
        let rules = Rules::new(&md.rule).unwrap();
        let dk = keys.data_key(&md).unwrap();
        let settings = WalkSettings { rules: &rules, mac_only_encrypted: false };
        let mac = decrypt_docs(&mut enc, &settings, &mut Cipher::new(&dk)).unwrap();
        prop_assert_eq!(&enc, &docs);
        prop_assert_eq!(decrypt_mac(&md.mac, &md.lastmodified, &dk).unwrap(), mac);
    }

    #[test]
    fn yaml_file_round_trip(d in doc()) {
        let keys = KeyRing::default();
        let store = store_for(Format::Yaml, &StoreSettings::default());
        let (enc, md) = seal(vec![d.clone()], &spec(EncryptionRule::Default), &keys, None).unwrap();
        let bytes = store.emit_encrypted(&enc, &md).unwrap();
        let opened = open(&bytes, store.as_ref(), &keys, false).unwrap();
        // floats and comments pass through YAML text: compare the emitted plaintext
        prop_assert_eq!(store.emit_plain(&opened.docs).unwrap(), store.emit_plain(&[d]).unwrap());
    }
}

/// A small YAML file sealed with the default rule, as text.
fn sealed_yaml() -> (String, KeyRing) {
    let keys = KeyRing::default();
    let store = store_for(Format::Yaml, &StoreSettings::default());
    let plain = b"user: alice\npassword: hunter2\nport: 5432\nlist:\n    - a\n    - true\n";
    let docs = store.load_plain(plain).unwrap();
    let (enc, md) = seal(docs, &spec(EncryptionRule::Default), &keys, None).unwrap();
    (
        String::from_utf8(store.emit_encrypted(&enc, &md).unwrap()).unwrap(),
        keys,
    )
}

#[test]
fn any_tampered_value_mac_or_date_fails_without_plaintext() {
    let (text, keys) = sealed_yaml();
    let store = store_for(Format::Yaml, &StoreSettings::default());
    assert!(open(text.as_bytes(), store.as_ref(), &keys, false).is_ok());
    // the first base64 character of every `data:` and `tag:` payload, the MAC's included
    let mut positions: Vec<usize> = text.match_indices("data:").map(|(i, _)| i + 5).collect();
    positions.extend(text.match_indices("tag:").map(|(i, _)| i + 4));
    assert!(positions.len() >= 10, "{text}");
    for pos in positions {
        let mut b = text.clone().into_bytes();
        b[pos] = if b[pos] == b'A' { b'B' } else { b'A' };
        let err = match open(&b, store.as_ref(), &keys, false) {
            Ok(_) => panic!("tampering at byte {pos} was not detected"),
            Err(e) => e,
        };
        assert!(
            [24, 25, 51].contains(&err.exit_code()),
            "unexpected code {} for {err}",
            err.exit_code()
        );
        let msg = err.to_string();
        for secret in ["hunter2", "alice", "5432"] {
            assert!(!msg.contains(secret), "plaintext in error: {msg}");
        }
    }
    // lastmodified is the MAC's additional data
    let i = text.find("lastmodified: \"").unwrap() + "lastmodified: \"".len() + 3;
    let mut b = text.into_bytes();
    b[i] = if b[i] == b'9' { b'8' } else { b'9' };
    let err = open(&b, store.as_ref(), &keys, false)
        .err()
        .expect("tampered lastmodified must fail");
    assert_eq!(err.exit_code(), 24, "{err}");
}

#[test]
fn reseal_keeps_unchanged_ciphertext() {
    let keys = KeyRing::default();
    let store = store_for(Format::Yaml, &StoreSettings::default());
    let plain1 = "a: one\nb: two\nnested:\n    c: 3\n    d: [x, y]\n";
    let plain2 = "a: one\nb: CHANGED\nnested:\n    c: 3\n    d: [x, y]\n";
    let rule = spec(EncryptionRule::Default);
    let (enc, md) = seal(
        store.load_plain(plain1.as_bytes()).unwrap(),
        &rule,
        &keys,
        None,
    )
    .unwrap();
    let v1 = String::from_utf8(store.emit_encrypted(&enc, &md).unwrap()).unwrap();
    let prev = open(v1.as_bytes(), store.as_ref(), &keys, false).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a new lastmodified second
    let (enc2, md2) = seal(
        store.load_plain(plain2.as_bytes()).unwrap(),
        &rule,
        &keys,
        Some(prev),
    )
    .unwrap();
    let v2 = String::from_utf8(store.emit_encrypted(&enc2, &md2).unwrap()).unwrap();
    let l1: Vec<&str> = v1.lines().collect();
    let l2: Vec<&str> = v2.lines().collect();
    assert_eq!(l1.len(), l2.len());
    let changed: Vec<&str> = l1
        .iter()
        .zip(&l2)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.trim_start().split(':').next().unwrap())
        .collect();
    assert_eq!(changed, ["b", "lastmodified", "mac"], "\n{v1}\n---\n{v2}");
}
