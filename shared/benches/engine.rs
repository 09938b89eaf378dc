//! Criterion benches of the engine: the encrypt/decrypt walk over a 10,000-value tree, and the YAML
//! store parsing and emitting the same tree.

use criterion::{criterion_group, criterion_main, Criterion};
use sops_engine::cipher::{Cipher, DataKey};
use sops_engine::metadata::EncryptionRule;
use sops_engine::rules::Rules;
use sops_engine::stores::{store_for, Format, StoreSettings};
use sops_engine::tree::{Branch, Item, Value};
use sops_engine::walk::{decrypt_docs, encrypt_docs, WalkSettings};

/// 100 services × 100 values of mixed types: 10,000 leaves.
fn big_tree() -> Branch {
    (0..100)
        .map(|s| {
            let svc: Branch = (0..100)
                .map(|i| {
                    let v = match i % 4 {
                        0 => Value::Str(format!("secret-value-{s}-{i}-abcdefghijklmnopqrstuvwxyz")),
                        1 => Value::Int(i64::from(s) * 1000 + i64::from(i)),
                        2 => Value::Bool(i % 8 == 2),
                        _ => Value::Str(format!("https://svc{s}.example.com/path/{i}")),
                    };
                    Item::Pair(format!("key_{i}").into(), v)
                })
                .collect();
            Item::Pair(format!("service_{s}").into(), Value::Map(svc))
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let key = DataKey::generate();
    let rules = Rules::new(&EncryptionRule::Default).unwrap();
    let settings = WalkSettings {
        rules: &rules,
        mac_only_encrypted: false,
    };
    let plain = vec![big_tree()];
    let mut encrypted = plain.clone();
    encrypt_docs(&mut encrypted, &settings, &mut Cipher::new(&key)).unwrap();

    c.bench_function("encrypt 10k values", |b| {
        b.iter(|| {
            let mut d = plain.clone();
            encrypt_docs(&mut d, &settings, &mut Cipher::new(&key)).unwrap()
        })
    });
    c.bench_function("decrypt 10k values", |b| {
        b.iter(|| {
            let mut d = encrypted.clone();
            decrypt_docs(&mut d, &settings, &mut Cipher::new(&key)).unwrap()
        })
    });
    let yaml = store_for(Format::Yaml, &StoreSettings::default());
    let text = yaml.emit_plain(&plain).unwrap();
    c.bench_function("yaml parse 10k values", |b| {
        b.iter(|| yaml.load_plain(&text).unwrap())
    });
    c.bench_function("yaml emit 10k values", |b| {
        b.iter(|| yaml.emit_plain(&plain).unwrap())
    });
}

criterion_group!(engine, benches);
criterion_main!(engine);
