//! Criterion bench of what a post-quantum age key adds to an unseal: parsing the identity (ML-KEM key
//! expansion from the seed) and opening one armored data-key stanza, against X25519.

use std::io::Read;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use criterion::{criterion_group, criterion_main, Criterion};
use sops_engine::keys::age_pq::HybridIdentity;
use sops_engine::keys::KeySource;
use sops_engine::metadata::KeyEntry;

/// An armored age file holding a 32-byte data key for `recipient`, as in sops metadata.
fn wrapped(recipient: &str) -> String {
    let src = sops_engine::keys::age::AgeSource::new();
    match src.wrap(recipient, &[7u8; 32]).expect("wrap") {
        KeyEntry::Age { enc, .. } => enc,
        _ => unreachable!("age entry"),
    }
}

fn open(id: &dyn age::Identity, enc: &str) -> Vec<u8> {
    let r = age::armor::ArmoredReader::new(enc.as_bytes());
    let d = age::Decryptor::new_buffered(std::io::BufReader::new(r)).expect("header");
    let mut out = Vec::new();
    d.decrypt(std::iter::once(id))
        .expect("file key")
        .read_to_end(&mut out)
        .expect("payload");
    out
}

fn benches(c: &mut Criterion) {
    let x = age::x25519::Identity::generate();
    let x_text = x.to_string().expose_secret().to_string();
    let x_enc = wrapped(&x.to_public().to_string());
    let pq = HybridIdentity::generate();
    let pq_text = pq.to_string_secret();
    let pq_enc = wrapped(&pq.to_public().to_string());

    let mut g = c.benchmark_group("age data key: parse identity + open stanza");
    g.bench_function("x25519", |b| {
        b.iter(|| {
            let id = age::x25519::Identity::from_str(&x_text).unwrap();
            open(&id, &x_enc)
        })
    });
    g.bench_function("mlkem768x25519", |b| {
        b.iter(|| {
            let id = HybridIdentity::from_str(&pq_text).unwrap();
            open(&id, &pq_enc)
        })
    });
    g.finish();
}

criterion_group!(age_pq, benches);
criterion_main!(age_pq);
