//! Encrypts or decrypts every selected leaf of a document tree and computes the MAC on the way, in the
//! same depth-first order as sops.

use sha2::{Digest, Sha256, Sha512};

use crate::cipher::{plain_bytes, Cipher, DataKey, ValueError};
use crate::error::{Result, SopsError};
use crate::rules::Rules;
use crate::tree::{Branch, Comment, Item, Text, Value};

/// Settings of a walk: which leaves are encrypted and which enter the MAC.
pub struct WalkSettings<'a> {
    /// The compiled encryption rule.
    pub rules: &'a Rules,
    /// Only encrypted values enter the MAC.
    pub mac_only_encrypted: bool,
}

/// The MAC hasher: SHA-512 over the plaintext of the hashed leaves, seeded for `mac_only_encrypted`.
struct Mac(Sha512);

impl Mac {
    fn new(mac_only_encrypted: bool) -> Self {
        let mut h = Sha512::new();
        if mac_only_encrypted {
            h.update(Sha256::digest(b"sops"));
        }
        Mac(h)
    }
    fn feed(&mut self, v: &Value) {
        if matches!(v, Value::Comment(_)) {
            return;
        }
        if let Some((bytes, _)) = plain_bytes(v) {
            self.0.update(&bytes[..]);
        }
    }
    fn hex(self) -> String {
        hex::encode_upper(self.0.finalize())
    }
}

/// The additional data of a leaf: its key path joined with `:` plus a trailing `:`, as bytes (keys
/// from INI and dotenv files need not be UTF-8).
fn aad(path: &[Text]) -> Vec<u8> {
    let mut s = Vec::with_capacity(path.iter().map(|k| k.len() + 1).sum::<usize>() + 1);
    for (i, k) in path.iter().enumerate() {
        if i > 0 {
            s.push(b':');
        }
        s.extend_from_slice(k.as_bytes());
    }
    s.push(b':');
    s
}

/// The key path for messages.
fn shown(aad: &[u8]) -> String {
    String::from_utf8_lossy(aad).into_owned()
}

/// Encrypts the selected leaves of every document in place and returns the MAC (uppercase hex).
pub fn encrypt_docs(
    docs: &mut [Branch],
    settings: &WalkSettings,
    cipher: &mut Cipher,
) -> Result<String> {
    let mut mac = Mac::new(settings.mac_only_encrypted);
    walk_docs(docs, settings, &mut |v, path, encrypt, is_comment| {
        if !settings.mac_only_encrypted || encrypt {
            mac.feed(v);
        }
        if !encrypt {
            return Ok(None);
        }
        let at = aad(path);
        let enc = cipher
            .encrypt(v, &at)
            .map_err(|reason| SopsError::Encrypt {
                path: shown(&at),
                reason: reason.to_string(),
            })?
            .unwrap_or_default();
        if is_comment {
            if let Some(re) = settings.rules.unencrypted_comment_regex() {
                if re.is_match(&enc) {
                    return Err(SopsError::Encrypt {
                            path: shown(&at),
                            reason: "an encrypted comment matches unencrypted_comment_regex; choose a regex that \
                                     cannot match ENC[...] text"
                                .into(),
                        });
                }
            }
        }
        Ok(Some(Value::Str(enc)))
    })?;
    Ok(mac.hex())
}

/// Decrypts the selected leaves of every document in place and returns the MAC of the plaintext.
/// An encrypted-looking comment that does not decrypt is kept as it is (files from sops < 3.4).
pub fn decrypt_docs(
    docs: &mut [Branch],
    settings: &WalkSettings,
    cipher: &mut Cipher,
) -> Result<String> {
    let mut mac = Mac::new(settings.mac_only_encrypted);
    walk_docs(docs, settings, &mut |v, path, decrypt, _| {
        let plain = if !decrypt {
            None
        } else if let Value::Comment(c) = v {
            cipher.decrypt(&c.text, aad(path)).ok().map(|d| match d {
                Value::Str(s) => Value::Comment(Comment::line(s)),
                other => other,
            })
        } else if let Value::Str(s) = v {
            Some(
                cipher
                    .decrypt(s, aad(path))
                    .map_err(|reason| SopsError::Decrypt {
                        path: shown(&aad(path)),
                        reason: reason.to_string(),
                    })?,
            )
        } else {
            return Err(SopsError::Decrypt {
                path: shown(&aad(path)),
                reason: "expected an encrypted string, found a plain value".into(),
            });
        };
        if !settings.mac_only_encrypted || decrypt {
            mac.feed(plain.as_ref().unwrap_or(v));
        }
        Ok(plain)
    })?;
    Ok(mac.hex())
}

/// Encrypts the MAC string with `lastmodified` as additional data.
pub fn encrypt_mac(mac: &str, lastmodified: &str, key: &DataKey) -> Result<String> {
    // A fresh cipher: the MAC never reuses an IV.
    Cipher::new(key)
        .encrypt(&Value::Str(mac.to_string()), lastmodified)
        .map_err(|reason| SopsError::Encrypt {
            path: "mac".into(),
            reason: reason.to_string(),
        })
        .map(Option::unwrap_or_default)
}

/// Decrypts the stored MAC with `lastmodified` as additional data.
pub fn decrypt_mac(enc: &str, lastmodified: &str, key: &DataKey) -> Result<String> {
    match Cipher::new(key)
        .decrypt(enc, lastmodified)
        .map_err(SopsError::MacDecrypt)?
    {
        Value::Str(s) => Ok(s),
        _ => Err(SopsError::MacDecrypt(ValueError::NotEncFormat)),
    }
}

/// What [`walk_docs`] calls per leaf: the value, its key path, whether the encryption rules
/// select it, whether it is a comment; a returned value replaces the leaf.
type SelectedFn<'a> = dyn FnMut(&Value, &[Text], bool, bool) -> Result<Option<Value>> + 'a;

/// Calls `f` on every leaf of every document, with the rules' verdict for it.
fn walk_docs(docs: &mut [Branch], settings: &WalkSettings, f: &mut SelectedFn) -> Result<()> {
    for doc in docs.iter_mut() {
        walk_branch(
            doc,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut |v, path, stack| {
                let is_comment = matches!(v, Value::Comment(_));
                let selected = settings.rules.should_encrypt(path, stack, is_comment);
                f(v, path, selected, is_comment)
            },
        )?;
    }
    Ok(())
}

type LeafFn<'a> = dyn FnMut(&Value, &[Text], &[Vec<Text>]) -> Result<Option<Value>> + 'a;

fn walk_branch(
    branch: &mut Branch,
    path: &mut Vec<Text>,
    stack: &mut Vec<Vec<Text>>,
    f: &mut LeafFn,
) -> Result<()> {
    stack.push(Vec::new());
    for item in branch.iter_mut() {
        match item {
            Item::Comment(c) => {
                stack.last_mut().expect("level pushed").push(c.text.clone());
                let leaf = Value::Comment(c.clone());
                if let Some(new) = f(&leaf, path, stack)? {
                    c.text = match new {
                        Value::Str(s) => s.into(),
                        Value::Comment(n) => n.text,
                        _ => c.text.clone(),
                    };
                }
            }
            Item::Pair(k, v) => {
                let is_comment = matches!(v, Value::Comment(_));
                if let Value::Comment(c) = v {
                    stack.last_mut().expect("level pushed").push(c.text.clone());
                }
                path.push(k.clone());
                let r = walk_value(v, path, stack, f);
                path.pop();
                r?;
                if !is_comment {
                    stack.last_mut().expect("level pushed").clear();
                }
            }
        }
    }
    stack.pop();
    Ok(())
}

fn walk_value(
    v: &mut Value,
    path: &mut Vec<Text>,
    stack: &mut Vec<Vec<Text>>,
    f: &mut LeafFn,
) -> Result<()> {
    match v {
        Value::Map(m) => walk_branch(m, path, stack, f),
        Value::Seq(items) => {
            stack.push(Vec::new());
            for item in items.iter_mut() {
                let is_comment = matches!(item, Value::Comment(_));
                if let Value::Comment(c) = item {
                    stack.last_mut().expect("level pushed").push(c.text.clone());
                }
                walk_value(item, path, stack, f)?;
                if !is_comment {
                    stack.last_mut().expect("level pushed").clear();
                }
            }
            stack.pop();
            Ok(())
        }
        Value::Null => Ok(()),
        leaf => {
            if let Some(new) = f(leaf, path, stack)? {
                *leaf = new;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::EncryptionRule;

    fn doc() -> Branch {
        vec![
            Item::Comment(Comment::line(" top")),
            Item::Pair("user".into(), Value::Str("alice".into())),
            Item::Pair("port".into(), Value::Int(5432)),
            Item::Pair("public_unencrypted".into(), Value::Str("x".into())),
            Item::Pair(
                "list".into(),
                Value::Seq(vec![
                    Value::Comment(Comment::line(" c")),
                    Value::Bool(true),
                    Value::Null,
                ]),
            ),
        ]
    }

    #[test]
    fn encrypt_then_decrypt_gives_tree_and_same_mac() {
        let rules = Rules::new(&EncryptionRule::Default).unwrap();
        let s = WalkSettings {
            rules: &rules,
            mac_only_encrypted: false,
        };
        let key = DataKey::generate();
        let mut docs = vec![doc()];
        let mac1 = encrypt_docs(&mut docs, &s, &mut Cipher::new(&key)).unwrap();
        assert_ne!(docs[0], doc());
        assert!(matches!(&docs[0][0], Item::Comment(c) if c.text.starts_with("ENC[")));
        let mac2 = decrypt_docs(&mut docs, &s, &mut Cipher::new(&key)).unwrap();
        assert_eq!(mac1, mac2);
        assert_eq!(docs[0], doc());
    }
}
