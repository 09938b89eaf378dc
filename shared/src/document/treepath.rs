//! Setting and removing one value of a document by its tree path (`["data"]["password"]`, `["a"][0]`),
//! the tree side of `sops set` / `sops unset` (`TreeBranch.Set` / `TreeBranch.Unset`).
//!
//! Behaviour follows sops 3.13.2:
//!
//! - `set` creates missing map keys (appended at the end of their map), replaces an existing value in
//!   place (keeping its position), appends to a sequence when the index is past its end, and replaces
//!   a scalar or `null` that stands where the path needs a map or sequence.
//! - `unset` removes a map entry or a sequence element; a missing key or an index past the end is
//!   [`PathError::KeyNotFound`] / [`PathError::IndexOutOfBounds`] (sops' `SopsKeyNotFound`, which
//!   `unset --idempotent` ignores).
//!
//! Where sops misbehaves the functions return an error instead: a key step on a sequence panics in
//! sops, and an index step on a map is silently ignored by sops `set`. Both are
//! [`PathError::Mismatch`] here. Sequence indexes count elements only: comment lines kept between the
//! elements of a sequence do not take an index (the same rule as [`crate::file::extract`]; sops counts
//! them, but sops 3.13.2 cannot even verify the MAC of files with such comments).

use thiserror::Error;

use crate::error::SopsError;
use crate::file::PathStep;
use crate::tree::{Branch, Item, Value};

/// Why a tree path could not be applied. Messages name path components, never values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path has no component.
    #[error("the tree path is empty")]
    Empty,
    /// A map has no such key (sops: `Key not found: KEY`).
    #[error("Key not found: {0}")]
    KeyNotFound(String),
    /// A sequence is shorter than the index (sops: `Index N out of bounds`).
    #[error("Index {0} out of bounds")]
    IndexOutOfBounds(usize),
    /// A component cannot apply to the part of the tree it reaches (a key on a sequence, an index on
    /// a map, or `unset` through a scalar).
    #[error("component {component} cannot be applied to {found}")]
    Mismatch {
        /// The component as written (`["key"]` or `[0]`).
        component: String,
        /// What the tree holds there ("a sequence", "a map", "a scalar").
        found: &'static str,
    },
}

impl PathError {
    /// True for a path that simply does not exist (what `unset --idempotent` ignores, like sops).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            PathError::KeyNotFound(_) | PathError::IndexOutOfBounds(_)
        )
    }
}

fn show(step: &PathStep) -> String {
    match step {
        PathStep::Key(k) => format!("[{k:?}]"),
        PathStep::Index(i) => format!("[{i}]"),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Map(_) => "a map",
        Value::Seq(_) => "a sequence",
        _ => "a scalar",
    }
}

/// The value the rest of a path builds when it does not exist yet: maps for keys, one-element
/// sequences for indexes (sops' `valueFromPathAndLeaf`).
fn build(path: &[PathStep], leaf: Value) -> Value {
    path.iter().rev().fold(leaf, |inner, step| match step {
        PathStep::Key(k) => Value::Map(vec![Item::Pair(k.into(), inner)]),
        PathStep::Index(_) => Value::Seq(vec![inner]),
    })
}

/// Position in `seq` of the `i`-th element that is not a comment.
fn element_pos(seq: &[Value], i: usize) -> Option<usize> {
    seq.iter()
        .enumerate()
        .filter(|(_, v)| !matches!(v, Value::Comment(_)))
        .nth(i)
        .map(|(pos, _)| pos)
}

/// Sets `value` at `path` in a document, creating what is missing. Returns whether the document
/// changed (false when the same value of the same type was already there).
pub fn set(doc: &mut Branch, path: &[PathStep], value: Value) -> Result<bool, PathError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(PathError::Empty);
    };
    set_in_map(doc, first, rest, value)
}

fn set_in_map(
    map: &mut Branch,
    step: &PathStep,
    rest: &[PathStep],
    value: Value,
) -> Result<bool, PathError> {
    let PathStep::Key(key) = step else {
        return Err(PathError::Mismatch {
            component: show(step),
            found: "a map",
        });
    };
    let slot = map.iter_mut().find_map(|item| match item {
        Item::Pair(k, v) if k == key => Some(v),
        _ => None,
    });
    match slot {
        Some(slot) => set_at(slot, rest, value),
        None => {
            map.push(Item::Pair(key.into(), build(rest, value)));
            Ok(true)
        }
    }
}

/// Sets `value` at `path` below `slot` (the slot itself when `path` is empty).
fn set_at(slot: &mut Value, path: &[PathStep], value: Value) -> Result<bool, PathError> {
    let Some((first, rest)) = path.split_first() else {
        let changed = *slot != value;
        *slot = value;
        return Ok(changed);
    };
    match slot {
        Value::Map(m) => set_in_map(m, first, rest, value),
        Value::Seq(s) => {
            let PathStep::Index(i) = first else {
                return Err(PathError::Mismatch {
                    component: show(first),
                    found: "a sequence",
                });
            };
            match element_pos(s, *i) {
                Some(pos) => set_at(&mut s[pos], rest, value),
                None => {
                    s.push(build(rest, value));
                    Ok(true)
                }
            }
        }
        // A scalar (or null) where the path goes on: replaced by the structure the path describes.
        other => {
            *other = build(path, value);
            Ok(true)
        }
    }
}

/// Removes the value at `path` from a document.
pub fn unset(doc: &mut Branch, path: &[PathStep]) -> Result<(), PathError> {
    let Some((first, rest)) = path.split_first() else {
        return Err(PathError::Empty);
    };
    unset_in_map(doc, first, rest)
}

fn unset_in_map(map: &mut Branch, step: &PathStep, rest: &[PathStep]) -> Result<(), PathError> {
    let key = match step {
        PathStep::Key(k) => k,
        // sops compares the index with the (string) keys and finds none
        PathStep::Index(i) => return Err(PathError::KeyNotFound(i.to_string())),
    };
    let pos = map
        .iter()
        .position(|item| matches!(item, Item::Pair(k, _) if k == key))
        .ok_or_else(|| PathError::KeyNotFound(key.clone()))?;
    if rest.is_empty() {
        map.remove(pos);
        return Ok(());
    }
    match &mut map[pos] {
        Item::Pair(_, v) => unset_at(v, rest),
        Item::Comment(_) => Err(PathError::KeyNotFound(key.clone())),
    }
}

fn unset_at(node: &mut Value, path: &[PathStep]) -> Result<(), PathError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    match node {
        Value::Map(m) => unset_in_map(m, first, rest),
        Value::Seq(s) => {
            let PathStep::Index(i) = first else {
                return Err(PathError::Mismatch {
                    component: show(first),
                    found: "a sequence",
                });
            };
            let pos = element_pos(s, *i).ok_or(PathError::IndexOutOfBounds(*i))?;
            if rest.is_empty() {
                s.remove(pos);
                Ok(())
            } else {
                unset_at(&mut s[pos], rest)
            }
        }
        other => Err(PathError::Mismatch {
            component: show(first),
            found: kind_of(other),
        }),
    }
}

/// Converts a JSON value (the `VALUE` of `set`) into a tree value: objects keep their key order,
/// integers that fit in 64 bits become [`Value::Int`] and other numbers [`Value::Float`] (the rule of
/// sops' JSON store; sops itself turns a bare top-level number into a float).
pub fn value_from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::Seq(a.into_iter().map(value_from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.into_iter()
                .map(|(k, v)| Item::Pair(k.into(), value_from_json(v)))
                .collect(),
        ),
    }
}

/// Parses the `VALUE` of `set` (JSON text, like sops) into a tree value.
pub fn parse_json_value(text: &str) -> Result<Value, SopsError> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(value_from_json)
        .map_err(|e| {
            SopsError::InvalidValue(format!(
                "the value is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::parse_tree_path;
    use crate::tree::{get, Comment};

    fn p(s: &str) -> Vec<PathStep> {
        parse_tree_path(s).unwrap()
    }

    fn doc() -> Branch {
        vec![
            Item::Pair("a".into(), Value::Int(1)),
            Item::Comment(Comment::line(" note")),
            Item::Pair(
                "list".into(),
                Value::Seq(vec![
                    Value::Comment(Comment::line(" first")),
                    Value::Str("x".into()),
                    Value::Str("y".into()),
                ]),
            ),
            Item::Pair(
                "m".into(),
                Value::Map(vec![Item::Pair("k".into(), Value::Str("v".into()))]),
            ),
            Item::Pair("n".into(), Value::Null),
        ]
    }

    #[test]
    fn set_replaces_in_place_and_reports_change() {
        let mut d = doc();
        assert!(set(&mut d, &p(r#"["m"]["k"]"#), Value::Str("w".into())).unwrap());
        assert_eq!(
            get(&d, "m"),
            Some(&Value::Map(vec![Item::Pair(
                "k".into(),
                Value::Str("w".into())
            )]))
        );
        // same value, same type: unchanged
        assert!(!set(&mut d, &p(r#"["m"]["k"]"#), Value::Str("w".into())).unwrap());
        assert!(!set(&mut d, &p(r#"["a"]"#), Value::Int(1)).unwrap());
        // same text, other type: changed
        assert!(set(&mut d, &p(r#"["a"]"#), Value::Float(1.0)).unwrap());
        // order of the top-level keys is kept
        let keys: Vec<_> = d
            .iter()
            .filter_map(|i| match i {
                Item::Pair(k, _) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(keys, ["a", "list", "m", "n"]);
    }

    #[test]
    fn set_creates_missing_components() {
        let mut d = doc();
        assert!(set(&mut d, &p(r#"["new"]["deep"][0]"#), Value::Int(5)).unwrap());
        assert_eq!(
            get(&d, "new"),
            Some(&Value::Map(vec![Item::Pair(
                "deep".into(),
                Value::Seq(vec![Value::Int(5)])
            )]))
        );
        // a null or scalar on the way becomes a map
        assert!(set(&mut d, &p(r#"["n"]["x"]"#), Value::Bool(true)).unwrap());
        assert_eq!(
            get(&d, "n"),
            Some(&Value::Map(vec![Item::Pair("x".into(), Value::Bool(true))]))
        );
        assert!(set(&mut d, &p(r#"["a"]["b"]"#), Value::Int(2)).unwrap());
        assert_eq!(get(&d, "a").unwrap().as_map().unwrap().len(), 1);
    }

    #[test]
    fn set_in_sequences_skips_comments_and_appends_past_the_end() {
        let mut d = doc();
        assert!(set(&mut d, &p(r#"["list"][0]"#), Value::Str("X".into())).unwrap());
        assert!(set(&mut d, &p(r#"["list"][9]"#), Value::Str("z".into())).unwrap());
        assert_eq!(
            get(&d, "list"),
            Some(&Value::Seq(vec![
                Value::Comment(Comment::line(" first")),
                Value::Str("X".into()),
                Value::Str("y".into()),
                Value::Str("z".into()),
            ]))
        );
    }

    #[test]
    fn set_mismatches_are_errors() {
        let mut d = doc();
        assert!(matches!(
            set(&mut d, &p(r#"["list"]["k"]"#), Value::Null),
            Err(PathError::Mismatch { .. })
        ));
        assert!(matches!(
            set(&mut d, &p(r#"["m"][0]"#), Value::Null),
            Err(PathError::Mismatch { .. })
        ));
        assert!(matches!(
            set(&mut d, &p("[0]"), Value::Null),
            Err(PathError::Mismatch { .. })
        ));
        assert_eq!(set(&mut d, &[], Value::Null), Err(PathError::Empty));
        assert_eq!(d, doc());
    }

    #[test]
    fn unset_removes_and_reports_missing() {
        let mut d = doc();
        unset(&mut d, &p(r#"["m"]["k"]"#)).unwrap();
        assert_eq!(get(&d, "m"), Some(&Value::Map(vec![])));
        unset(&mut d, &p(r#"["list"][1]"#)).unwrap();
        assert_eq!(
            get(&d, "list"),
            Some(&Value::Seq(vec![
                Value::Comment(Comment::line(" first")),
                Value::Str("x".into()),
            ]))
        );
        unset(&mut d, &p(r#"["a"]"#)).unwrap();
        assert_eq!(get(&d, "a"), None);
        // the comment line stays
        assert!(matches!(d[0], Item::Comment(_)));

        let e = unset(&mut d, &p(r#"["nope"]"#)).unwrap_err();
        assert_eq!(e.to_string(), "Key not found: nope");
        assert!(e.is_not_found());
        let e = unset(&mut d, &p(r#"["list"][5]"#)).unwrap_err();
        assert_eq!(e.to_string(), "Index 5 out of bounds");
        assert!(e.is_not_found());
        let e = unset(&mut d, &p(r#"["n"]["x"]"#)).unwrap_err();
        assert!(!e.is_not_found());
        let e = unset(&mut d, &p(r#"["list"]["x"]"#)).unwrap_err();
        assert!(matches!(e, PathError::Mismatch { .. }));
        assert_eq!(unset(&mut d, &[]), Err(PathError::Empty));
    }

    #[test]
    fn json_values() {
        assert_eq!(parse_json_value(r#""s""#).unwrap(), Value::Str("s".into()));
        assert_eq!(parse_json_value("5").unwrap(), Value::Int(5));
        assert_eq!(parse_json_value("1.5").unwrap(), Value::Float(1.5));
        assert_eq!(
            parse_json_value("18446744073709551615").unwrap(),
            Value::Float(18446744073709551615.0)
        );
        assert_eq!(parse_json_value("null").unwrap(), Value::Null);
        assert_eq!(
            parse_json_value(r#"{"z":1,"a":[true,"x"]}"#).unwrap(),
            Value::Map(vec![
                Item::Pair("z".into(), Value::Int(1)),
                Item::Pair(
                    "a".into(),
                    Value::Seq(vec![Value::Bool(true), Value::Str("x".into())])
                ),
            ])
        );
        let e = parse_json_value("hunter2").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }
}
