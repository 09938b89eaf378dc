//! The value codec: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` with 32-byte IVs and the key path as
//! additional data, plus the IV cache that keeps unchanged values byte-identical on re-encryption.

use std::collections::HashMap;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::tree::{Comment, Value};

/// AES-256-GCM with the 32-byte nonces sops uses.
type Gcm32 = AesGcm<Aes256, U32>;

/// Length of the IV sops writes.
pub const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The 32-byte data key of a file. Wiped from memory when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// Wraps 32 bytes recovered from a master key; other lengths are refused.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        // copied straight into the zeroizing buffer: no unwiped copy on the stack
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(bytes);
        Some(DataKey(k))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// An `ENC[...]` string split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedValue {
    /// Ciphertext without the tag.
    pub data: Vec<u8>,
    /// The GCM nonce.
    pub iv: Vec<u8>,
    /// The 16-byte GCM tag.
    pub tag: Vec<u8>,
    /// `str`, `int`, `float`, `bool`, `time`, `comment` or `bytes`.
    pub datatype: String,
}

/// Splits `ENC[AES256_GCM,data:D,iv:I,tag:T,type:Y]…` into (D, I, T, Y) like sops' start-anchored,
/// greedy pattern `ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`, without a regex engine (it
/// runs once per value, so it matters for large files). Every field must be non-empty.
fn split_fields(s: &str) -> Option<(&str, &str, &str, &str)> {
    let rest = s.strip_prefix("ENC[AES256_GCM,data:")?;
    let body = &rest[..rest.rfind(']')?];
    // single-byte searches (memrchr) are much faster than substring searches here
    let field = |hay: &str, name: &str| -> Option<usize> {
        let mut end = hay.len();
        loop {
            let at = hay[..end].rfind(',')?;
            if hay[at + 1..].starts_with(name) {
                return Some(at);
            }
            end = at;
        }
    };
    let type_at = field(body, "type:")?;
    let tag_at = field(&body[..type_at], "tag:")?;
    let iv_at = field(&body[..tag_at], "iv:")?;
    let fields = (
        &body[..iv_at],
        &body[iv_at + 4..tag_at],
        &body[tag_at + 5..type_at],
        &body[type_at + 6..],
    );
    let all_set = !fields.0.is_empty()
        && !fields.1.is_empty()
        && !fields.2.is_empty()
        && !fields.3.is_empty();
    all_set.then_some(fields)
}

/// True when `s` looks like a sops encrypted value.
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,")
}

impl EncryptedValue {
    /// Parses an `ENC[...]` string the way sops does (anchored at the start only).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (data, iv, tag, datatype) =
            split_fields(s).ok_or_else(|| "value is not in sops' ENC[...] format".to_string())?;
        // the decoder's error names the offending byte, which must not reach a message
        let b64 = |f: &str, what: &str| {
            B64.decode(f)
                .map_err(|_| format!("invalid base64 in {what}"))
        };
        Ok(EncryptedValue {
            data: b64(data, "data")?,
            iv: b64(iv, "iv")?,
            tag: b64(tag, "tag")?,
            datatype: datatype.to_string(),
        })
    }

    /// Formats the value back into its `ENC[...]` string.
    pub fn format(&self) -> String {
        format_parts(&self.data, &self.iv, &self.tag, &self.datatype)
    }
}

/// Writes `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` in one allocation.
fn format_parts(data: &[u8], iv: &[u8], tag: &[u8], datatype: &str) -> String {
    let b64_len = |n: usize| n.div_ceil(3) * 4;
    let mut s =
        String::with_capacity(48 + b64_len(data.len()) + b64_len(iv.len()) + b64_len(tag.len()));
    s.push_str("ENC[AES256_GCM,data:");
    B64.encode_string(data, &mut s);
    s.push_str(",iv:");
    B64.encode_string(iv, &mut s);
    s.push_str(",tag:");
    B64.encode_string(tag, &mut s);
    s.push_str(",type:");
    s.push_str(datatype);
    s.push(']');
    s
}

/// The plaintext bytes of a leaf: borrowed from the tree where they are already there (strings,
/// comments, times), else a zeroizing buffer holding the formatted number or boolean.
pub(crate) enum Plain<'a> {
    /// Bytes of the tree value itself.
    Borrowed(&'a [u8]),
    /// Formatted text (numbers), wiped when dropped.
    Owned(Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for Plain<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Plain::Borrowed(b) => b,
            Plain::Owned(v) => v,
        }
    }
}

/// Like [`plaintext_of`] without copying strings: what the MAC and the cipher use on every leaf.
pub(crate) fn plain_bytes(v: &Value) -> Option<(Plain<'_>, &'static str)> {
    let owned = |s: String| Plain::Owned(Zeroizing::new(s.into_bytes()));
    Some(match v {
        Value::Str(s) => (Plain::Borrowed(s.as_bytes()), "str"),
        // Raw bytes (binary files that are not UTF-8) are a Go string in sops, hence type `str`.
        Value::Bytes(b) => (Plain::Borrowed(b), "str"),
        Value::Int(i) => (owned(i.to_string()), "int"),
        Value::Float(f) => (owned(crate::gocompat::format_float_f(*f)), "float"),
        Value::Bool(b) => (Plain::Borrowed(if *b { b"True" } else { b"False" }), "bool"),
        Value::Time(t) => (Plain::Borrowed(t.as_bytes()), "time"),
        Value::Comment(c) => (Plain::Borrowed(c.text.as_bytes()), "comment"),
        Value::Null | Value::Map(_) | Value::Seq(_) => return None,
    })
}

/// The plaintext bytes and type tag sops encrypts for a leaf (`None` for maps, sequences and null).
pub fn plaintext_of(v: &Value) -> Option<(Zeroizing<Vec<u8>>, &'static str)> {
    plain_bytes(v).map(|(p, t)| (Zeroizing::new(p.to_vec()), t))
}

fn value_from_plaintext(bytes: Vec<u8>, datatype: &str) -> Result<Value, String> {
    let text =
        |b: Vec<u8>| String::from_utf8(b).map_err(|_| format!("{datatype} value is not UTF-8"));
    Ok(match datatype {
        "str" => match String::from_utf8(bytes) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        "bytes" => Value::Bytes(bytes),
        "int" => Value::Int(
            text(bytes)?
                .parse()
                .map_err(|_| "int value is not a valid integer".to_string())?,
        ),
        "float" => Value::Float(
            crate::gocompat::parse_float(&text(bytes)?)
                .ok_or("float value is not a valid number")?,
        ),
        "bool" => Value::Bool(
            crate::gocompat::parse_bool(&text(bytes)?)
                .ok_or("bool value is not a valid boolean")?,
        ),
        "time" => Value::Time(text(bytes)?),
        // comments keep their bytes, like sops (INI and dotenv comments need not be UTF-8)
        "comment" => Value::Comment(Comment::line(crate::tree::Text::from_bytes(bytes))),
        other => return Err(format!("Unknown datatype: {other}")),
    })
}

/// Plaintext bytes used as an IV-cache key; wiped when dropped.
#[derive(PartialEq, Eq, Hash)]
struct StashBytes(Vec<u8>);

impl Drop for StashBytes {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Encrypts and decrypts values with one data key, remembering the IV of every value it decrypted so an
/// equal value at the same path encrypts to the same `ENC[...]` again.
pub struct Cipher {
    gcm: Gcm32,
    /// (additional data, type, plaintext) → IV
    stash: HashMap<StashKey, [u8; IV_LEN]>,
    /// IVs seen while decrypting, moved into `stash` on the first encryption: decrypt-only runs
    /// (`unseal`, helm) never pay for hashing.
    pending: Vec<(StashKey, [u8; IV_LEN])>,
    /// False for read-only use: decrypted IVs are not recorded.
    remember: bool,
}

type StashKey = (Vec<u8>, &'static str, StashBytes);

impl Cipher {
    /// A cipher for the given data key with an empty IV cache.
    pub fn new(key: &DataKey) -> Self {
        Cipher {
            gcm: Gcm32::new(GenericArray::from_slice(key.as_bytes())),
            stash: HashMap::new(),
            pending: Vec::new(),
            remember: true,
        }
    }

    /// Turns recording of decrypted IVs on (the default) or off (read-only use).
    pub fn remember_ivs(&mut self, on: bool) {
        self.remember = on;
    }

    fn stash(&mut self) -> &mut HashMap<StashKey, [u8; IV_LEN]> {
        if !self.pending.is_empty() {
            self.stash.extend(self.pending.drain(..));
        }
        &mut self.stash
    }

    /// Encrypts a leaf value for key path `aad`. Empty strings and empty comments stay empty (like sops).
    /// Returns `None` for values that are not leaves.
    pub fn encrypt(&mut self, v: &Value, aad: impl AsRef<[u8]>) -> Result<Option<String>, String> {
        let aad = aad.as_ref();
        let Some((plain, datatype)) = plain_bytes(v) else {
            return Ok(None);
        };
        if plain.is_empty() && matches!(v, Value::Str(_) | Value::Bytes(_) | Value::Comment(_)) {
            return Ok(Some(String::new()));
        }
        let known = if self.stash.is_empty() && self.pending.is_empty() {
            None // a fresh seal: skip building the cache key
        } else {
            let stash_key = (aad.to_vec(), datatype, StashBytes(plain.to_vec()));
            self.stash().get(&stash_key).copied()
        };
        let iv = known.unwrap_or_else(|| {
            // rand's thread RNG is a CSPRNG (ChaCha, reseeded from the OS); one getrandom call per
            // value would dominate sealing large files
            let mut iv = [0u8; IV_LEN];
            rand::thread_rng().fill_bytes(&mut iv);
            iv
        });
        let mut buf = Zeroizing::new(plain.to_vec());
        let tag = self
            .gcm
            .encrypt_in_place_detached(GenericArray::from_slice(&iv), aad, &mut buf)
            .map_err(|_| "AES-GCM encryption failed".to_string())?;
        Ok(Some(format_parts(&buf, &iv, &tag, datatype)))
    }

    /// Decrypts an `ENC[...]` string with key path `aad`; remembers its IV for later re-encryption.
    /// An empty string decrypts to an empty string.
    pub fn decrypt(&mut self, s: &str, aad: impl AsRef<[u8]>) -> Result<Value, String> {
        let aad = aad.as_ref();
        if s.is_empty() {
            return Ok(Value::Str(String::new()));
        }
        let ev = EncryptedValue::parse(s)?;
        if ev.tag.len() != TAG_LEN {
            return Err("tag has the wrong length".into());
        }
        let plain = if ev.iv.len() == IV_LEN {
            let mut buf = ev.data;
            self.gcm
                .decrypt_in_place_detached(
                    GenericArray::from_slice(&ev.iv),
                    aad,
                    &mut buf,
                    GenericArray::from_slice(&ev.tag),
                )
                .map_err(|_| {
                    "could not decrypt with AES_GCM (wrong key, tampered value or moved key)"
                        .to_string()
                })?;
            buf
        } else {
            return Err(format!("unsupported IV length {}", ev.iv.len()));
        };
        let value = value_from_plaintext(plain, &ev.datatype)?;
        if !self.remember {
            return Ok(value);
        }
        if let (Some((p, t)), Ok(iv)) = (
            plain_bytes(&value),
            <[u8; IV_LEN]>::try_from(ev.iv.as_slice()),
        ) {
            self.pending
                .push(((aad.to_vec(), t, StashBytes(p.to_vec())), iv));
        }
        Ok(value)
    }

    /// A cipher for a new data key that reuses the IVs `other` remembered (what `sops rotate` does:
    /// every value is re-encrypted under the new key with the IV it had). Reusing an IV under a
    /// *different* key is safe for AES-GCM; within the new key each IV still belongs to one
    /// (path, type, plaintext) triple only.
    pub fn with_stash_from(key: &DataKey, other: &Cipher) -> Self {
        let mut c = Cipher::new(key);
        for ((aad, t, p), iv) in other
            .stash
            .iter()
            .chain(other.pending.iter().map(|(k, v)| (k, v)))
        {
            c.pending
                .push(((aad.clone(), *t, StashBytes(p.0.clone())), *iv));
        }
        c
    }

    /// Number of IVs remembered.
    pub fn stash_len(&self) -> usize {
        self.stash.len() + self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::excessive_precision)] // an exact tie between two shortest decimals
    fn float_format_matches_go() {
        assert_eq!(crate::gocompat::format_float_f(1.0), "1");
        assert_eq!(
            crate::gocompat::format_float_f(1e20),
            "100000000000000000000"
        );
        assert_eq!(crate::gocompat::format_float_f(0.25), "0.25");
        assert_eq!(crate::gocompat::format_float_f(-0.0), "-0");
        assert_eq!(crate::gocompat::format_float_f(1e-7), "0.0000001");
        assert_eq!(crate::gocompat::format_float_f(f64::INFINITY), "+Inf");
        assert_eq!(crate::gocompat::format_float_f(f64::NAN), "NaN");
        assert_eq!(
            crate::gocompat::format_float_f(-169230132522575.125),
            "-169230132522575.12"
        );
    }

    #[test]
    fn round_trip_and_stash() {
        let key = DataKey::generate();
        let mut c = Cipher::new(&key);
        for v in [
            Value::Str("hello".into()),
            Value::Int(-3),
            Value::Float(1.5),
            Value::Bool(false),
        ] {
            let enc = c.encrypt(&v, "a:b:").unwrap().unwrap();
            assert!(enc.starts_with("ENC[AES256_GCM,data:"));
            let mut fresh = Cipher::new(&key);
            assert_eq!(fresh.decrypt(&enc, "a:b:").unwrap(), v);
            // re-encrypting the equal value reuses the IV: same ciphertext
            assert_eq!(fresh.encrypt(&v, "a:b:").unwrap().unwrap(), enc);
            // another path gets a fresh IV and the old one does not decrypt there
            assert!(fresh.decrypt(&enc, "a:c:").is_err());
        }
    }

    #[test]
    fn parses_like_sops_pattern() {
        let v =
            EncryptedValue::parse("ENC[AES256_GCM,data:AAAA,iv:AQID,tag:BAUG,type:str]").unwrap();
        assert_eq!(
            (v.data, v.iv, v.tag, v.datatype.as_str()),
            (vec![0, 0, 0], vec![1, 2, 3], vec![4, 5, 6], "str")
        );
        // trailing text after `]` is ignored, like sops' start-anchored regex
        assert!(
            EncryptedValue::parse("ENC[AES256_GCM,data:AAAA,iv:AQID,tag:BAUG,type:int] x").is_ok()
        );
        for bad in [
            "ENC[AES256_GCM,data:,iv:AQID,tag:BAUG,type:str]",
            "ENC[AES256_GCM,data:AAAA,iv:AQID,type:str]",
            "plain",
        ] {
            assert!(EncryptedValue::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_errors_name_no_input_bytes() {
        // `-` is not base64; the decoder's own message would name the byte and its offset
        let e = EncryptedValue::parse("ENC[AES256_GCM,data:hunter2-x,iv:AQID,tag:BAUG,type:str]")
            .unwrap_err();
        assert_eq!(e, "invalid base64 in data");
        assert!(DataKey::from_slice(&[1; 31]).is_none());
        assert!(DataKey::from_slice(&[1; 33]).is_none());
        assert_eq!(DataKey::from_slice(&[7; 32]).unwrap().as_bytes(), &[7; 32]);
    }

    #[test]
    fn empty_strings_stay_empty() {
        let mut c = Cipher::new(&DataKey::generate());
        assert_eq!(
            c.encrypt(&Value::Str(String::new()), "k:")
                .unwrap()
                .unwrap(),
            ""
        );
        assert_eq!(c.decrypt("", "k:").unwrap(), Value::Str(String::new()));
    }

    #[test]
    fn non_utf8_round_trips_as_bytes() {
        let mut c = Cipher::new(&DataKey::generate());
        let v = Value::Bytes(vec![0xff, 0x00, 0xfe]);
        let enc = c.encrypt(&v, "data:").unwrap().unwrap();
        assert!(enc.ends_with("type:str]"));
        assert_eq!(c.decrypt(&enc, "data:").unwrap(), v);
    }
}
