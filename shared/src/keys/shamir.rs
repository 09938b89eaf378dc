//! Shamir secret sharing compatible with sops key groups (S:shamir/shamir.go, itself a copy of HashiCorp
//! Vault's implementation).
//!
//! - Arithmetic is over GF(2^8) with the Rijndael (AES) reduction polynomial x^8 + x^4 + x^3 + x + 1.
//! - Every byte of the secret gets its own random polynomial of degree `threshold - 1` whose constant term is
//!   that byte.
//! - A share is the evaluations at its x coordinate (one byte per secret byte) followed by one byte holding
//!   the x coordinate itself: `{y_1, …, y_n, x}`, so a share is one byte longer than the secret.
//! - x coordinates: current sops (3.10+) uses `x = i + 1` for share `i` (0-based); older sops and Vault drew a
//!   random permutation of 1..=255. [`combine`] reads x from the trailing byte, so shares of either kind
//!   combine; [`split`] follows current sops.
//!
//! Multiplication is branch-free and table-free (no secret-dependent memory access or branches).

use crate::error::{Result, SopsError};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// Adds (and subtracts) two elements of GF(2^8).
#[inline]
fn gf_add(a: u8, b: u8) -> u8 {
    a ^ b
}

/// Multiplies two elements of GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, in constant time.
#[inline]
fn gf_mul(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    let mut a = a;
    let mut b = b;
    for _ in 0..8 {
        // Add `a` when the low bit of `b` is set (mask is 0x00 or 0xff).
        acc ^= a & 0u8.wrapping_sub(b & 1);
        // a := a * x mod the reduction polynomial.
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    acc
}

/// Multiplicative inverse in GF(2^8) as a^254 (constant time); the inverse of 0 is taken as 0.
#[inline]
fn gf_inv(a: u8) -> u8 {
    // a^254 = a^2 · a^4 · a^8 · … · a^128
    let mut result: u8 = 1;
    let mut power = a;
    for _ in 1..8 {
        power = gf_mul(power, power);
        result = gf_mul(result, power);
    }
    result
}

/// Divides `a` by `b` in GF(2^8); `b` must be non-zero.
#[inline]
fn gf_div(a: u8, b: u8) -> u8 {
    debug_assert!(b != 0, "division by zero in GF(2^8)");
    gf_mul(a, gf_inv(b))
}

/// Evaluates the polynomial with `coefficients` (constant term first) at `x` with Horner's method.
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| gf_add(gf_mul(acc, x), c))
}

fn err(message: &str) -> SopsError {
    SopsError::Shamir(message.to_string())
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
///
/// Each share is `secret.len() + 1` bytes: the y values followed by the x coordinate (`i + 1` for share `i`,
/// like sops). Checks and messages follow sops: `parts >= threshold`, `parts <= 255`, `2 <= threshold <= 255`,
/// non-empty secret.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if parts < threshold {
        return Err(err("parts cannot be less than threshold"));
    }
    if parts > 255 {
        return Err(err("parts cannot exceed 255"));
    }
    if threshold < 2 {
        return Err(err("threshold must be at least 2"));
    }
    if threshold > 255 {
        return Err(err("threshold cannot exceed 255"));
    }
    if secret.is_empty() {
        return Err(err("cannot split an empty secret"));
    }

    let mut out: Vec<Zeroizing<Vec<u8>>> = (0..parts)
        .map(|i| {
            let mut share = Zeroizing::new(vec![0u8; secret.len() + 1]);
            // parts <= 255, so i + 1 fits in a byte and is never 0.
            share[secret.len()] = (i + 1) as u8;
            share
        })
        .collect();

    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for (idx, &byte) in secret.iter().enumerate() {
        coefficients[0] = byte;
        OsRng
            .try_fill_bytes(&mut coefficients[1..])
            .map_err(|e| SopsError::Shamir(format!("failed to generate polynomial: {e}")))?;
        for (i, share) in out.iter_mut().enumerate() {
            share[idx] = evaluate(&coefficients, (i + 1) as u8);
        }
    }
    Ok(out)
}

/// Recovers the secret from shares made by [`split`] (or by sops / Vault).
///
/// Needs at least two shares of equal length (≥ 2 bytes) with distinct x coordinates (their last byte). Giving
/// fewer shares than the threshold used to split yields a wrong value, not an error (as in sops).
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
    if shares.len() < 2 {
        return Err(err(
            "less than two parts cannot be used to reconstruct the secret",
        ));
    }
    let share_len = shares[0].len();
    if share_len < 2 {
        return Err(err("parts must be at least two bytes"));
    }
    if shares.iter().any(|s| s.len() != share_len) {
        return Err(err("all parts must be the same length"));
    }

    let xs: Vec<u8> = shares.iter().map(|s| s[share_len - 1]).collect();
    let mut seen = [false; 256];
    for &x in &xs {
        if seen[x as usize] {
            return Err(err("duplicate part detected"));
        }
        seen[x as usize] = true;
    }

    // Lagrange basis polynomials evaluated at 0: l_i(0) = Π_{j≠i} (0 - x_j) / (x_i - x_j). They depend only on
    // the x coordinates, so compute them once for all bytes.
    let basis: Vec<u8> = (0..xs.len())
        .map(|i| {
            xs.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(1u8, |acc, (_, &xj)| {
                    gf_mul(acc, gf_div(gf_add(0, xj), gf_add(xs[i], xj)))
                })
        })
        .collect();

    let mut secret = Zeroizing::new(vec![0u8; share_len - 1]);
    for (idx, out) in secret.iter_mut().enumerate() {
        let mut value = 0u8;
        for (share, &l) in shares.iter().zip(&basis) {
            value = gf_add(value, gf_mul(share[idx], l));
        }
        *out = value;
        value.zeroize();
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refs(shares: &[Zeroizing<Vec<u8>>]) -> Vec<&[u8]> {
        shares.iter().map(|s| s.as_slice()).collect()
    }

    /// Slow reference multiplication (schoolbook carry-less product, then reduction).
    fn slow_mul(a: u8, b: u8) -> u8 {
        let mut product: u16 = 0;
        for i in 0..8 {
            if b >> i & 1 == 1 {
                product ^= (a as u16) << i;
            }
        }
        for bit in (8..16).rev() {
            if product >> bit & 1 == 1 {
                product ^= 0x11b << (bit - 8);
            }
        }
        product as u8
    }

    #[test]
    fn gf256_known_answers() {
        // FIPS-197 §4.2 examples.
        assert_eq!(gf_mul(0x57, 0x83), 0xc1);
        assert_eq!(gf_mul(0x57, 0x13), 0xfe);
        assert_eq!(gf_mul(0x57, 0x02), 0xae);
        // Inverse used to build the AES S-box: {53}^-1 = {CA}.
        assert_eq!(gf_inv(0x53), 0xca);
        assert_eq!(gf_inv(0x01), 0x01);
        assert_eq!(gf_inv(0x00), 0x00);
        // Powers of the generator 0xe5 as in Vault's exp table: 01 e5 4c b5 fb 9f fc 12.
        let mut p = 1u8;
        let mut powers = Vec::new();
        for _ in 0..8 {
            powers.push(p);
            p = gf_mul(p, 0xe5);
        }
        assert_eq!(powers, [0x01, 0xe5, 0x4c, 0xb5, 0xfb, 0x9f, 0xfc, 0x12]);
    }

    #[test]
    fn gf256_exhaustive() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), slow_mul(a, b), "{a:#x} * {b:#x}");
            }
            if a != 0 {
                assert_eq!(gf_mul(a, gf_inv(a)), 1, "inverse of {a:#x}");
                assert_eq!(gf_div(gf_mul(a, 0x37), a), 0x37);
            }
        }
    }

    #[test]
    fn split_layout_matches_sops() {
        let secret = [7u8; 32];
        let shares = split(&secret, 3, 2).unwrap();
        assert_eq!(shares.len(), 3);
        for (i, share) in shares.iter().enumerate() {
            assert_eq!(share.len(), 33);
            assert_eq!(share[32], i as u8 + 1);
        }
        let max = split(b"x", 255, 255).unwrap();
        assert_eq!(max.last().unwrap()[1], 255);
        assert_eq!(combine(&refs(&max)).unwrap().as_slice(), b"x");
    }

    #[test]
    fn split_validation() {
        let msg = |r: Result<Vec<Zeroizing<Vec<u8>>>>| r.expect_err("must fail").to_string();
        assert_eq!(
            msg(split(b"s", 2, 3)),
            "parts cannot be less than threshold"
        );
        assert_eq!(msg(split(b"s", 256, 2)), "parts cannot exceed 255");
        assert_eq!(msg(split(b"s", 1, 1)), "threshold must be at least 2");
        assert_eq!(msg(split(b"s", 3, 0)), "threshold must be at least 2");
        assert_eq!(msg(split(b"", 3, 2)), "cannot split an empty secret");
        assert!(split(b"s", 2, 2).is_ok());
    }

    #[test]
    fn combine_validation() {
        let msg = |r: Result<Zeroizing<Vec<u8>>>| r.expect_err("must fail").to_string();
        let a = [1u8, 2, 1];
        let b = [3u8, 4, 2];
        assert_eq!(
            msg(combine(&[&a])),
            "less than two parts cannot be used to reconstruct the secret"
        );
        assert_eq!(
            msg(combine(&[])),
            "less than two parts cannot be used to reconstruct the secret"
        );
        assert_eq!(
            msg(combine(&[&[1], &[2]])),
            "parts must be at least two bytes"
        );
        assert_eq!(
            msg(combine(&[&a, &b[..2]])),
            "all parts must be the same length"
        );
        assert_eq!(msg(combine(&[&a, &[9, 9, 1]])), "duplicate part detected");
        assert!(combine(&[&a, &b]).is_ok());
    }

    /// Shares produced by sops' own `shamir.Split` (v3.13.2) for the public test secret
    /// "sops shamir known-answer vector!".
    #[test]
    fn combines_shares_made_by_sops() {
        let secret = b"sops shamir known-answer vector!";
        let t2 = [
            "41c378c685cb79ecae20ab1a8f5e8851ac42cf79911dd33b2fd227f5cd01110f01",
            "172c600271184a60f0fbdb54b80eba3bf1f32640aca312e03e25e1541db3b47d02",
            "258068b7d4a05bed33b2026e5c3e5d1d339c88574ec9a4a93181a3c2a4ddd75303",
        ];
        let t3 = [
            "12aedac35b605669ed7186308bed745575f80b85481bdf3e70729c8c639b868301",
            "ee76f745b5d40e640c887f9f831f887edf44700e1763c7e408f4b049ddcc9a3d02",
            "8fb75df5cec7306c8c908b8f639c935cc4911ae52c0f7da858f049a6ca386e9f03",
            "356b68308614cc3f5cd9bd0f6c27d34a3db27a2cf342237d667724a61769d50e04",
            "54aac280fd07f237dcc1491f8ca4c868266710c7c82e99313673dd49009d21ac05",
        ];
        let decode = |v: &[&str]| {
            v.iter()
                .map(|h| hex::decode(h).unwrap())
                .collect::<Vec<_>>()
        };
        let t2 = decode(&t2);
        let t3 = decode(&t3);
        for (i, j) in [(0, 1), (1, 0), (0, 2), (2, 1)] {
            assert_eq!(combine(&[&t2[i], &t2[j]]).unwrap().as_slice(), secret);
        }
        let all: Vec<&[u8]> = t2.iter().map(|v| v.as_slice()).collect();
        assert_eq!(combine(&all).unwrap().as_slice(), secret);
        for (i, j, k) in [(0, 1, 2), (4, 2, 0), (1, 3, 4), (3, 4, 2)] {
            assert_eq!(
                combine(&[&t3[i], &t3[j], &t3[k]]).unwrap().as_slice(),
                secret
            );
        }
        assert_ne!(combine(&[&t3[0], &t3[1]]).unwrap().as_slice(), secret);
    }

    /// Real sops file with two key groups (threshold 2): group 0's share through gpg, group 1's through the age
    /// crate, combined into the data key, which must open the file's MAC (AES-256-GCM, AAD = lastmodified).
    #[test]
    fn combines_shares_of_sops_key_group_file() {
        use crate::keys::pgp::test_support::{vectors, TestHome};
        use crate::keys::pgp::PgpSource;
        use crate::keys::KeySource;
        use crate::metadata::KeyEntry;
        use aes_gcm::aead::consts::U32;
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use aes_gcm::aes::Aes256;
        use base64::Engine;
        use std::str::FromStr;

        let Some(home) = TestHome::with_key("keys/sops_functional_tests_key.asc") else {
            return;
        };
        let dir = vectors().join("gen-json-keygroups-default-threshold");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("nested.enc.json")).unwrap())
                .unwrap();
        let sops = &doc["sops"];
        assert_eq!(sops["shamir_threshold"], 2);
        let groups = &sops["key_groups"];

        let pgp = &groups[0]["pgp"][0];
        let entry = KeyEntry::Pgp {
            fp: pgp["fp"].as_str().unwrap().into(),
            enc: pgp["enc"].as_str().unwrap().into(),
            created_at: pgp["created_at"].as_str().unwrap().into(),
        };
        let share0 = PgpSource::with_homedir(home.path())
            .with_binary("gpg")
            .unwrap(&entry)
            .expect("pgp unwrap");

        let identity_file = std::fs::read_to_string(vectors().join("keys/gen_age_c.txt")).unwrap();
        let identity_line = identity_file
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        let identity = age::x25519::Identity::from_str(identity_line).unwrap();
        let armored = groups[1]["age"][0]["enc"].as_str().unwrap();
        let share1 =
            Zeroizing::new(age::decrypt(&identity, armored.as_bytes()).expect("age unwrap"));

        assert_eq!((share0.len(), share1.len()), (33, 33));
        // sops >= 3.10 numbers the shares 1, 2, … in key-group order.
        assert_eq!((share0[32], share1[32]), (1, 2));
        let key = combine(&[&share0, &share1]).unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(
            combine(&[&share1, &share0]).unwrap().as_slice(),
            key.as_slice()
        );

        let mac = sops["mac"].as_str().unwrap();
        let field = |name: &str| {
            let start = mac.find(&format!("{name}:")).unwrap() + name.len() + 1;
            let len = mac[start..].find([',', ']']).unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(&mac[start..start + len])
                .unwrap()
        };
        let (mut ciphertext, iv, tag) = (field("data"), field("iv"), field("tag"));
        ciphertext.extend_from_slice(&tag);
        let cipher = aes_gcm::AesGcm::<Aes256, U32>::new_from_slice(&key).unwrap();
        let aad = sops["lastmodified"].as_str().unwrap();
        let plain = cipher
            .decrypt(
                iv.as_slice().into(),
                Payload {
                    msg: &ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("combined key must open the MAC");
        assert_eq!(plain.len(), 128, "MAC is a SHA-512 in hex");
        assert!(plain.iter().all(u8::is_ascii_hexdigit));
    }

    /// Threshold, share count and a subset of share indices of size `k` chosen by `pick`.
    fn params() -> impl Strategy<Value = (Vec<u8>, usize, usize, Vec<usize>)> {
        (prop::collection::vec(any::<u8>(), 1..48), 2usize..=6).prop_flat_map(|(secret, t)| {
            (t..=8usize).prop_flat_map(move |n| {
                let secret = secret.clone();
                prop::sample::subsequence((0..n).collect::<Vec<_>>(), t..=n)
                    .prop_shuffle()
                    .prop_map(move |subset| (secret.clone(), t, n, subset))
            })
        })
    }

    proptest! {
        #[test]
        fn any_threshold_subset_recovers((secret, t, n, subset) in params()) {
            let shares = split(&secret, n, t).unwrap();
            prop_assert_eq!(shares.len(), n);
            let chosen: Vec<&[u8]> = subset.iter().map(|&i| shares[i].as_slice()).collect();
            let recovered = combine(&chosen).unwrap();
            prop_assert_eq!(recovered.as_slice(), secret.as_slice());
        }

        #[test]
        fn fewer_than_threshold_gives_another_value(
            secret in prop::collection::vec(any::<u8>(), 16..48),
            t in 3usize..=7,
            extra in 0usize..3,
        ) {
            let n = t + extra;
            let shares = split(&secret, n, t).unwrap();
            // The last t - 1 shares: enough for combine to run, one short of the threshold.
            let chosen: Vec<&[u8]> = shares[n - (t - 1)..].iter().map(|s| s.as_slice()).collect();
            let recovered = combine(&chosen).unwrap();
            prop_assert_ne!(recovered.as_slice(), secret.as_slice());
        }
    }
}
