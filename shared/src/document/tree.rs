//! The ordered document tree every store parses into and emits from.
//!
//! It mirrors the sops tree: a document is a [`Branch`] (an ordered list of [`Item`]s), map keys are
//! always strings, comments are items of their own (keyless items in maps, [`Value::Comment`] elements in
//! sequences), and scalars keep the type sops encrypts them with.

/// A map key or comment text as read from a file: UTF-8 text, or, when the file held bytes that are
/// not UTF-8 (INI and dotenv files can), exactly those bytes. sops keeps such bytes (Go strings are
/// bytes), so encryption (the key path is the additional data), the MAC and the INI/dotenv writers
/// use [`Text::as_bytes`]; everything else sees text through `Deref<Target = str>`, where invalid
/// bytes read as U+FFFD, one per byte, as Go prints them.
///
/// UTF-8 text (every YAML and JSON key) costs nothing extra: the type is a `String` then.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(TextRepr);

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TextRepr {
    Utf8(String),
    /// (bytes that are not UTF-8, their U+FFFD rendering)
    Raw(Box<(Vec<u8>, String)>),
}

impl Text {
    /// Text from bytes: kept as a `String` when they are UTF-8, as the bytes otherwise.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(s) => Text(TextRepr::Utf8(s)),
            Err(e) => {
                let bytes = e.into_bytes();
                let shown = crate::gocompat::lossy_utf8(&bytes);
                Text(TextRepr::Raw(Box::new((bytes, shown))))
            }
        }
    }
    /// The exact bytes from the file (what sops encrypts, hashes and writes).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            TextRepr::Utf8(s) => s.as_bytes(),
            TextRepr::Raw(r) => &r.0,
        }
    }
    /// The text as `str` (U+FFFD for bytes that are not UTF-8).
    pub fn as_str(&self) -> &str {
        self
    }
    /// Length in bytes of [`Text::as_bytes`].
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }
    /// True for the empty text.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
    /// The text when it is UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        match &self.0 {
            TextRepr::Utf8(s) => Some(s),
            TextRepr::Raw(_) => None,
        }
    }
    /// Consumes the text into its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self.0 {
            TextRepr::Utf8(s) => s.into_bytes(),
            TextRepr::Raw(r) => r.0,
        }
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self
    }
}

impl Default for Text {
    fn default() -> Self {
        Text(TextRepr::Utf8(String::new()))
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        match &self.0 {
            TextRepr::Utf8(s) => s,
            TextRepr::Raw(r) => &r.1,
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(TextRepr::Utf8(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(TextRepr::Utf8(s.to_string()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(TextRepr::Utf8(s.clone()))
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        other == self
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        other == *self
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// One YAML document, JSON object, dotenv file, INI section set or binary blob: an ordered map.
pub type Branch = Vec<Item>;

/// An entry of a map: a key with its value, or a comment line between entries.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `key: value`.
    Pair(Text, Value),
    /// A comment line (text without the leading `#`).
    Comment(Comment),
}

/// A comment as sops keeps it: the text after the `#` (leading space included).
#[derive(Clone, PartialEq, Eq)]
pub struct Comment {
    /// The text after `#`; after encryption, an `ENC[...,type:comment]` string.
    pub text: Text,
    /// True for a comment that stood at the end of the previous item's line (`key: v # note`).
    pub inline: bool,
}

impl Comment {
    /// A comment on a line of its own.
    pub fn line(text: impl Into<Text>) -> Self {
        Comment {
            text: text.into(),
            inline: false,
        }
    }
}

/// A value in the tree.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `null` / `~` / empty YAML value. Never encrypted, never hashed.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string; after encryption, an `ENC[...]` string.
    Str(String),
    /// A YAML timestamp, kept as the RFC 3339 text sops encrypts (`2024-01-02T00:00:00Z`).
    Time(String),
    /// Raw bytes (only produced by decrypting a `type:bytes` value).
    Bytes(Vec<u8>),
    /// A comment that sits between the elements of a sequence.
    Comment(Comment),
    /// A nested map.
    Map(Branch),
    /// A sequence.
    Seq(Vec<Value>),
}

impl Value {
    /// The string inside `Value::Str`, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The map inside `Value::Map`, if this is one.
    pub fn as_map(&self) -> Option<&Branch> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// Looks up the value of `key` in a map (the first pair with that key).
pub fn get<'a>(branch: &'a Branch, key: &str) -> Option<&'a Value> {
    branch.iter().find_map(|item| match item {
        Item::Pair(k, v) if k == key => Some(v),
        _ => None,
    })
}

/// Removes the pair with `key` from a map and returns its value.
pub fn take(branch: &mut Branch, key: &str) -> Option<Value> {
    let pos = branch
        .iter()
        .position(|item| matches!(item, Item::Pair(k, _) if k == key))?;
    match branch.remove(pos) {
        Item::Pair(_, v) => Some(v),
        Item::Comment(_) => None,
    }
}

/// Debug output never shows values or comment text (they may be secrets): only their kind and size.
/// Structure and keys are shown.
impl std::fmt::Debug for Comment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Comment(<{} bytes>{})",
            self.text.len(),
            if self.inline { ", inline" } else { "" }
        )
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(_) => f.write_str("Bool(<redacted>)"),
            Value::Int(_) => f.write_str("Int(<redacted>)"),
            Value::Float(_) => f.write_str("Float(<redacted>)"),
            Value::Str(s) => write!(f, "Str(<{} bytes>)", s.len()),
            Value::Time(_) => f.write_str("Time(<redacted>)"),
            Value::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Value::Comment(c) => write!(f, "{c:?}"),
            Value::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Value::Seq(s) => f.debug_tuple("Seq").field(s).finish(),
        }
    }
}

/// Short constructors for the engine's unit tests.
#[cfg(test)]
pub(crate) mod build {
    use super::{Item, Value};

    /// A string value.
    pub fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    /// A `key: value` pair.
    pub fn pair(k: &str, v: Value) -> Item {
        Item::Pair(k.into(), v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_bytes_and_costs_nothing_for_utf8() {
        assert_eq!(std::mem::size_of::<Text>(), std::mem::size_of::<String>());
        let t = Text::from_bytes(b"k\xffey".to_vec());
        assert_eq!(t.as_bytes(), b"k\xffey");
        assert_eq!(&*t, "k\u{FFFD}ey");
        assert_eq!(t.len(), 4);
        assert_ne!(t, Text::from("k\u{FFFD}ey"));
        assert_eq!(Text::from_bytes(b"abc".to_vec()), "abc");
        assert_eq!(Text::from_bytes(b"abc".to_vec()).to_str(), Some("abc"));
    }

    #[test]
    fn debug_output_hides_values() {
        let v = Value::Map(vec![
            Item::Pair("password".into(), Value::Str("hunter2".into())),
            Item::Pair("pin".into(), Value::Int(1234)),
            Item::Comment(Comment::line(" secret note")),
        ]);
        let shown = format!("{v:?}");
        assert!(shown.contains("password"), "keys stay visible: {shown}");
        for secret in ["hunter2", "1234", "secret note"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
