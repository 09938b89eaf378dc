//! age post-quantum hybrid keys: recipients `age1pq1…`, identities `AGE-SECRET-KEY-PQ-1…` and their
//! `mlkem768x25519` stanza (HPKE base mode over [X-Wing](super::xwing) with HKDF-SHA256 and
//! ChaCha20-Poly1305, info `age-encryption.org/mlkem768x25519`), as in age 1.3 and sops 3.13.
//!
//! Both types plug into the `age` crate's [`age::Recipient`] / [`age::Identity`] traits, so the age
//! header, its MAC, the payload and the armor stay the `age` crate's.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use age_core::format::{FileKey, Stanza};
use age_core::primitives::{bech32_decode, bech32_encode};
use age_core::secrecy::ExposeSecret;
use base64::prelude::{Engine, BASE64_STANDARD_NO_PAD};
use hpke::{
    aead::ChaCha20Poly1305, kdf::HkdfSha256, Deserializable, OpModeR, OpModeS, Serializable,
};
use zeroize::Zeroizing;

use super::xwing::{self, XWing};

/// The stanza type (case-sensitive).
pub const STANZA_TAG: &str = "mlkem768x25519";
/// Start of every hybrid recipient string.
pub const RECIPIENT_PREFIX: &str = "age1pq1";
/// Start of every hybrid identity string.
pub const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-PQ-1";
/// HPKE `info` of the stanza.
const INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
const RECIPIENT_HRP: &str = "age1pq";
const IDENTITY_HRP: &str = "age-secret-key-pq-";
/// Label age gives post-quantum recipients: it refuses to mix them with classic ones in one file.
const PQ_LABEL: &str = "postquantum";
/// The wrapped file key: 16 bytes and a 16-byte tag.
const BODY_LEN: usize = 32;

/// Why a hybrid key string was refused. Identity errors never contain the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Not valid Bech32 (bad character, mixed case, bad checksum…).
    #[error("invalid Bech32 encoding: {0}")]
    Bech32(String),
    /// Valid Bech32, but another kind of key.
    #[error("wrong key type (Bech32 prefix '{0}')")]
    WrongType(String),
    /// The payload has the wrong size.
    #[error("wrong key length: {0} bytes, expected {1}")]
    Length(usize, usize),
    /// The ML-KEM key is not canonical or the X25519 point has small order.
    #[error("invalid ML-KEM-768 or X25519 public key")]
    InvalidKey,
}

fn decode(s: &str, hrp: &str) -> Result<Vec<u8>, ParseError> {
    bech32_decode(
        s,
        |e| ParseError::Bech32(e.to_string()),
        |h| {
            if h.as_str().eq_ignore_ascii_case(hrp) {
                Ok(())
            } else {
                Err(ParseError::WrongType(h.to_lowercase()))
            }
        },
        |_, bytes| Ok(bytes.collect()),
    )
}

/// A hybrid recipient (`age1pq1…`): an X-Wing public key.
#[derive(Clone, PartialEq, Eq)]
pub struct HybridRecipient(xwing::PublicKey);

impl FromStr for HybridRecipient {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bytes = decode(s, RECIPIENT_HRP)?;
        if bytes.len() != xwing::PUBLIC_KEY_LEN {
            return Err(ParseError::Length(bytes.len(), xwing::PUBLIC_KEY_LEN));
        }
        xwing::PublicKey::from_bytes(&bytes)
            .map(HybridRecipient)
            .map_err(|_| ParseError::InvalidKey)
    }
}

impl fmt::Display for HybridRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = bech32::Hrp::parse_unchecked(RECIPIENT_HRP);
        f.write_str(&bech32_encode(hrp, &self.0.to_bytes()))
    }
}

impl fmt::Debug for HybridRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HybridRecipient({self})")
    }
}

impl age::Recipient for HybridRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let (enc, body) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, XWing, _>(
            &OpModeS::Base,
            &self.0,
            INFO,
            file_key.expose_secret(),
            &[],
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| {
            age::EncryptError::Io(std::io::Error::other(format!("X-Wing HPKE seal: {e}")))
        })?;
        let stanza = Stanza {
            tag: STANZA_TAG.to_string(),
            args: vec![BASE64_STANDARD_NO_PAD.encode(enc.to_bytes())],
            body,
        };
        Ok((vec![stanza], HashSet::from([PQ_LABEL.to_string()])))
    }
}

/// A hybrid identity (`AGE-SECRET-KEY-PQ-1…`): a 32-byte X-Wing seed.
#[derive(Clone)]
pub struct HybridIdentity(xwing::PrivateKey);

impl HybridIdentity {
    /// A new random identity.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut seed = Zeroizing::new([0u8; xwing::SEED_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut seed[..]);
        HybridIdentity(xwing::PrivateKey::from_seed(&seed))
    }

    /// The recipient that encrypts to this identity.
    pub fn to_public(&self) -> HybridRecipient {
        HybridRecipient(<XWing as hpke::Kem>::sk_to_pk(&self.0))
    }

    /// The identity string (`AGE-SECRET-KEY-PQ-1…`, upper case as age writes it).
    pub fn to_string_secret(&self) -> Zeroizing<String> {
        let hrp = bech32::Hrp::parse_unchecked(IDENTITY_HRP);
        let lower = Zeroizing::new(bech32_encode(hrp, self.0.seed()));
        Zeroizing::new(lower.to_ascii_uppercase())
    }
}

impl FromStr for HybridIdentity {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bytes = Zeroizing::new(decode(s, IDENTITY_HRP)?);
        let seed: &[u8; xwing::SEED_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| ParseError::Length(bytes.len(), xwing::SEED_LEN))?;
        Ok(HybridIdentity(xwing::PrivateKey::from_seed(seed)))
    }
}

impl fmt::Debug for HybridIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HybridIdentity(for {})", self.to_public())
    }
}

impl age::Identity for HybridIdentity {
    /// `None` for other stanza types and for stanzas this key cannot open; a malformed stanza or an
    /// all-zero X25519 secret is a header error, as in the age spec.
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let bad = || Some(Err(age::DecryptError::InvalidHeader));
        let [arg] = &stanza.args[..] else {
            return bad();
        };
        // The standard engine refuses non-canonical encodings (trailing bits, padding).
        let Ok(enc) = BASE64_STANDARD_NO_PAD.decode(arg) else {
            return bad();
        };
        if enc.len() != xwing::ENC_LEN || stanza.body.len() != BODY_LEN {
            return bad();
        }
        let enc = xwing::EncappedKey::from_bytes(&enc).expect("length checked");
        match hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, XWing>(
            &OpModeR::Base,
            &self.0,
            &enc,
            INFO,
            &stanza.body,
            &[],
        ) {
            Ok(key) => {
                let key = Zeroizing::new(key);
                Some(Ok(FileKey::init_with_mut(|k| k.copy_from_slice(&key))))
            }
            Err(hpke::HpkeError::DecapError) => bad(),
            // not ours (or tampered with): other identities may still match
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_their_strings() {
        let id = HybridIdentity::generate();
        let text = id.to_string_secret();
        assert!(text.starts_with(IDENTITY_PREFIX));
        let again: HybridIdentity = text.parse().unwrap();
        let r = id.to_public().to_string();
        assert!(r.starts_with(RECIPIENT_PREFIX), "{r}");
        assert_eq!(r.len(), 1959);
        assert_eq!(again.to_public().to_string(), r);
        assert_eq!(r.parse::<HybridRecipient>().unwrap(), id.to_public());
    }

    #[test]
    fn bad_strings_are_refused_without_echo() {
        let id = HybridIdentity::generate();
        let r = id.to_public().to_string();
        let mut bad = r.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == 'q' { 'p' } else { 'q' });
        assert!(matches!(
            bad.parse::<HybridRecipient>(),
            Err(ParseError::Bech32(_))
        ));
        let short = bech32_encode(bech32::Hrp::parse_unchecked(RECIPIENT_HRP), &[1; 32]);
        assert_eq!(
            short.parse::<HybridRecipient>(),
            Err(ParseError::Length(32, 1216))
        );
        let e = r.parse::<HybridIdentity>().err().unwrap().to_string();
        assert_eq!(e, "wrong key type (Bech32 prefix 'age1pq')");
        let secret = id.to_string_secret();
        let e = secret.parse::<HybridRecipient>().unwrap_err().to_string();
        assert!(!e.contains(&secret[20..]), "{e}");
    }

    #[test]
    fn small_order_x25519_part_is_refused() {
        let id = HybridIdentity::generate();
        let mut bytes = id.to_public().0.to_bytes().to_vec();
        bytes[1184..].fill(0);
        let s = bech32_encode(bech32::Hrp::parse_unchecked(RECIPIENT_HRP), &bytes);
        assert_eq!(s.parse::<HybridRecipient>(), Err(ParseError::InvalidKey));
    }
}
