//! The ordered document tree every store parses into and emits from.
//!
//! It mirrors the sops tree: a document is a [`Branch`] (an ordered list of [`Item`]s), map keys are
//! always strings, comments are items of their own (keyless items in maps, [`Value::Comment`] elements in
//! sequences), and scalars keep the type sops encrypts them with.

/// One YAML document, JSON object, dotenv file, INI section set or binary blob: an ordered map.
pub type Branch = Vec<Item>;

/// An entry of a map: a key with its value, or a comment line between entries.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `key: value`.
    Pair(String, Value),
    /// A comment line (text without the leading `#`).
    Comment(Comment),
}

/// A comment as sops keeps it: the text after the `#` (leading space included).
#[derive(Clone, PartialEq, Eq)]
pub struct Comment {
    /// The text after `#`; after encryption, an `ENC[...,type:comment]` string.
    pub text: String,
    /// True for a comment that stood at the end of the previous item's line (`key: v # note`).
    pub inline: bool,
}

impl Comment {
    /// A comment on a line of its own.
    pub fn line(text: impl Into<String>) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
