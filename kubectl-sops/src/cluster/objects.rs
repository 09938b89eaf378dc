//! Kubernetes objects as JSON, ready for the API server: conversion from the engine's tree, `List`
//! and `SopsSecret` expansion, a Secret's `stringData` folded into `data`, names for messages, and
//! masking for output.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{Map, Value as Json};
use sops_engine::tree::{Branch, Item, Value};

/// What went wrong turning a document into objects (no values in the message).
#[derive(Debug)]
pub struct ObjectError(pub String);

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A document as a JSON object (comments dropped, key order kept).
pub fn tree_to_json(doc: &Branch) -> Result<Json, ObjectError> {
    Ok(Json::Object(map_to_json(doc, "")?))
}

fn map_to_json(items: &Branch, path: &str) -> Result<Map<String, Json>, ObjectError> {
    let mut m = Map::new();
    for item in items {
        if let Item::Pair(k, v) = item {
            let p = join(path, k);
            m.insert(k.as_str().to_string(), value_to_json(v, &p)?);
        }
    }
    Ok(m)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn value_to_json(v: &Value, path: &str) -> Result<Json, ObjectError> {
    Ok(match v {
        Value::Null | Value::Comment(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| {
                ObjectError(format!("{path}: a NaN or infinite number has no JSON form"))
            })?,
        Value::Str(s) | Value::Time(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(B64.encode(b)),
        Value::Map(m) => Json::Object(map_to_json(m, path)?),
        Value::Seq(items) => Json::Array(
            items
                .iter()
                .filter(|i| !matches!(i, Value::Comment(_)))
                .enumerate()
                .map(|(n, i)| value_to_json(i, &format!("{path}[{n}]")))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A JSON value as a tree value (for emitting YAML with the engine's store).
pub fn json_to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::Seq(a.iter().map(json_to_value).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| Item::Pair(k.as_str().into(), json_to_value(v)))
                .collect(),
        ),
    }
}

/// A JSON object as a tree document (for the engine's YAML store); anything else is empty.
pub fn to_branch(o: &Json) -> Branch {
    match json_to_value(o) {
        Value::Map(m) => m,
        _ => Vec::new(),
    }
}

/// `apiVersion` of an object ("" when missing).
pub fn api_version(o: &Json) -> &str {
    o.get("apiVersion").and_then(Json::as_str).unwrap_or("")
}

/// `kind` of an object ("" when missing).
pub fn kind(o: &Json) -> &str {
    o.get("kind").and_then(Json::as_str).unwrap_or("")
}

/// `metadata.name` ("" when missing).
pub fn name(o: &Json) -> &str {
    o.pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("")
}

/// `metadata.namespace`, when set and not empty.
pub fn namespace(o: &Json) -> Option<&str> {
    o.pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

/// The API group of an `apiVersion` ("" for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// A core/v1 `Secret`.
pub fn is_secret(o: &Json) -> bool {
    api_version(o) == "v1" && kind(o) == "Secret"
}

/// A sops-secrets-operator `SopsSecret` (`isindir.github.com/*`).
pub fn is_sops_secret(o: &Json) -> bool {
    kind(o) == "SopsSecret" && group_of(api_version(o)) == "isindir.github.com"
}

/// kubectl's name for an object in messages: `secret/db`, `customresourcedefinition.apiextensions.k8s.io/x`.
pub fn display_name(o: &Json) -> String {
    let g = group_of(api_version(o));
    let k = kind(o).to_ascii_lowercase();
    let n = name(o);
    if g.is_empty() {
        format!("{k}/{n}")
    } else {
        format!("{k}.{g}/{n}")
    }
}

/// The items of a `List` (`v1 List` or any `*List` with `items`), or the object itself.
pub fn expand_list(o: Json) -> Vec<Json> {
    let is_list = kind(&o).ends_with("List") && o.get("items").is_some_and(Json::is_array);
    if !is_list {
        return vec![o];
    }
    match o {
        Json::Object(mut m) => match m.remove("items") {
            Some(Json::Array(items)) => items.into_iter().flat_map(expand_list).collect(),
            _ => Vec::new(),
        },
        other => vec![other],
    }
}

/// Folds a Secret's `stringData` into base64 `data` (a `stringData` key wins, as in the API server),
/// so what is applied is what the server stores and a re-apply changes nothing.
pub fn fold_string_data(o: &mut Json) -> Result<(), ObjectError> {
    if !is_secret(o) {
        return Ok(());
    }
    let Some(obj) = o.as_object_mut() else {
        return Ok(());
    };
    let Some(sd) = obj.remove("stringData") else {
        return Ok(());
    };
    let sd = match sd {
        Json::Null => return Ok(()),
        Json::Object(m) => m,
        _ => return Err(ObjectError("stringData is not a map".into())),
    };
    let data = obj
        .entry("data")
        .or_insert_with(|| Json::Object(Map::new()));
    if data.is_null() {
        *data = Json::Object(Map::new());
    }
    let Some(data) = data.as_object_mut() else {
        return Err(ObjectError("data is not a map".into()));
    };
    for (k, v) in sd {
        let text = match v {
            Json::String(s) => s,
            Json::Null => String::new(),
            Json::Bool(_) | Json::Number(_) => v.to_string(),
            _ => return Err(ObjectError(format!("stringData.{k} is not a string"))),
        };
        data.insert(k, Json::String(B64.encode(text.as_bytes())));
    }
    Ok(())
}

/// The Secrets a `SopsSecret` describes (`spec.secretTemplates`: name, type, labels, annotations,
/// data, stringData), in the SopsSecret's namespace.
pub fn expand_sops_secret(o: &Json) -> Result<Vec<Json>, ObjectError> {
    let templates = o
        .pointer("/spec/secretTemplates")
        .and_then(Json::as_array)
        .ok_or_else(|| ObjectError("spec.secretTemplates is missing or not a list".into()))?;
    let mut out = Vec::with_capacity(templates.len());
    for (i, t) in templates.iter().enumerate() {
        let name = t
            .get("name")
            .and_then(Json::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ObjectError(format!("spec.secretTemplates[{i}].name is missing")))?;
        let mut meta = Map::new();
        meta.insert("name".into(), Json::String(name.into()));
        if let Some(ns) = namespace(o) {
            meta.insert("namespace".into(), Json::String(ns.into()));
        }
        for key in ["labels", "annotations"] {
            if let Some(v) = t.get(key).filter(|v| v.is_object()) {
                meta.insert(key.into(), v.clone());
            }
        }
        let mut secret = Map::new();
        secret.insert("apiVersion".into(), Json::String("v1".into()));
        secret.insert("kind".into(), Json::String("Secret".into()));
        secret.insert("metadata".into(), Json::Object(meta));
        if let Some(ty) = t.get("type").and_then(Json::as_str) {
            secret.insert("type".into(), Json::String(ty.into()));
        }
        for key in ["data", "stringData"] {
            if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
                secret.insert(key.into(), v.clone());
            }
        }
        let mut secret = Json::Object(secret);
        fold_string_data(&mut secret)
            .map_err(|e| ObjectError(format!("spec.secretTemplates[{i}]: {e}")))?;
        out.push(secret);
    }
    Ok(out)
}

/// Decodes a Secret's `data` values (base64) into text where they are UTF-8, for comparison and
/// display; other values stay base64 with a `base64:` prefix.
pub fn decode_secret_data(o: &mut Json) {
    if !is_secret(o) {
        return;
    }
    if let Some(Json::Object(data)) = o.get_mut("data") {
        for v in data.values_mut() {
            if let Json::String(s) = v {
                match B64.decode(s.as_bytes()).ok().map(String::from_utf8) {
                    Some(Ok(text)) => *s = text,
                    _ => *s = format!("base64:{s}"),
                }
            }
        }
    }
}

/// What output without `--show-values` hides of one object.
#[derive(Clone, Copy)]
pub struct Masking<'a> {
    /// The object came from an encrypted file: everything outside `apiVersion`, `kind` and
    /// `metadata` is hidden (a Secret: its `data`/`stringData`, as for any Secret).
    pub everywhere: bool,
    /// The plaintexts of the values that were encrypted in its file: hidden wherever they appear
    /// (an encrypted label, annotation or `type` included).
    pub hidden: &'a [String],
}

/// True when the leaf at `path` (keys and indexes from the top of the object) holding `value`
/// is hidden: a Secret's `data`/`stringData`; every field outside `metadata` of an object from an
/// encrypted file; an annotation that carries a copy of a Secret or of such an object (kubectl's
/// last-applied-configuration); a value that was encrypted in the file, whatever its path.
pub fn is_masked(path: &[String], value: &Json, is_secret: bool, m: Masking<'_>) -> bool {
    let top = path.first().map_or("", String::as_str);
    if is_secret && matches!(top, "data" | "stringData") {
        return true;
    }
    if !is_secret && m.everywhere && !matches!(top, "metadata" | "apiVersion" | "kind") {
        return true;
    }
    if (is_secret || m.everywhere)
        && path.len() == 3
        && top == "metadata"
        && path[1] == "annotations"
        && value
            .as_str()
            .is_some_and(|v| sops_engine::k8s::is_object_copy(&path[2], v))
    {
        return true;
    }
    let text = match value {
        Json::String(s) => s.clone(),
        Json::Null | Json::Array(_) | Json::Object(_) => return false,
        other => other.to_string(),
    };
    m.hidden.contains(&text)
}

/// Replaces every hidden leaf ([`is_masked`]) of `o` with `***` where `other` (the other side of a
/// diff) holds the same value at the same place, else with `tag`, so that a change still shows
/// (for plain output: no `other` and `tag` `***`).
pub fn mask(o: &mut Json, other: Option<&Json>, tag: &str, m: Masking<'_>) {
    let is_secret = is_secret(o);
    let mut path = Vec::new();
    mask_walk(o, other, tag, &mut path, &|p, v| {
        is_masked(p, v, is_secret, m)
    });
}

fn mask_walk(
    v: &mut Json,
    other: Option<&Json>,
    tag: &str,
    path: &mut Vec<String>,
    hide: &dyn Fn(&[String], &Json) -> bool,
) {
    match v {
        Json::Object(map) => {
            for (k, v) in map.iter_mut() {
                path.push(k.clone());
                mask_walk(v, other.and_then(|o| o.get(k.as_str())), tag, path, hide);
                path.pop();
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                path.push(i.to_string());
                mask_walk(v, other.and_then(|o| o.get(i)), tag, path, hide);
                path.pop();
            }
        }
        Json::Null => {}
        leaf => {
            if hide(path, leaf) {
                let same = other.is_some_and(|o| o == leaf);
                *leaf = Json::String(if same { "***" } else { tag }.into());
            }
        }
    }
}

/// Checks the name and namespace an object would put into a request path, as the API server
/// checks them (see [`sops_engine::k8s::check_name`]).
pub fn check_names(o: &Json) -> Result<(), ObjectError> {
    if let Some(n) = o.pointer("/metadata/name").and_then(Json::as_str) {
        if !n.is_empty() {
            sops_engine::k8s::check_name(kind(o), n).map_err(|e| ObjectError(e.to_string()))?;
        }
    }
    if let Some(ns) = namespace(o) {
        sops_engine::k8s::check_namespace(ns).map_err(|e| ObjectError(e.to_string()))?;
    }
    Ok(())
}

/// Every string of a document outside `apiVersion`, `kind` and `metadata`, with the base64 form of a
/// Secret's `data` values: what must never appear in a message.
pub fn secret_strings(o: &Json, out: &mut Vec<String>) {
    fn walk(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::String(s) if s.len() >= 4 => out.push(s.clone()),
            Json::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Json::Object(m) => m.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    if let Json::Object(m) = o {
        for (k, v) in m {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                walk(v, out);
            }
        }
    }
    if is_secret(o) {
        if let Some(Json::Object(data)) = o.get("data") {
            for v in data.values() {
                if let Some(decoded) = v
                    .as_str()
                    .and_then(|s| B64.decode(s).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|s| s.len() >= 4)
                {
                    out.push(decoded);
                }
            }
        }
    }
}

/// `msg` with every occurrence of a secret string replaced by `***`.
pub fn scrub(msg: &str, secrets: &[String]) -> String {
    let mut out = msg.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_folds_into_data() {
        let mut s = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"},
            "data":{"a":"eA==","b":"eA=="},"stringData":{"b":"yy","c":"zz"}});
        fold_string_data(&mut s).unwrap();
        assert_eq!(s["data"], json!({"a":"eA==","b":"eXk=","c":"eno="}));
        assert!(s.get("stringData").is_none());
    }

    #[test]
    fn sops_secret_expands_to_secrets() {
        let o = json!({"apiVersion":"isindir.github.com/v1alpha3","kind":"SopsSecret",
            "metadata":{"name":"s","namespace":"ns"},
            "spec":{"secretTemplates":[
                {"name":"one","type":"kubernetes.io/tls","labels":{"l":"1"},"data":{"k":"eA=="}},
                {"name":"two","annotations":{"a":"2"},"stringData":{"p":"pw"}}]}});
        let s = expand_sops_secret(&o).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(display_name(&s[0]), "secret/one");
        assert_eq!(s[0]["type"], "kubernetes.io/tls");
        assert_eq!(s[0]["metadata"]["labels"], json!({"l":"1"}));
        assert_eq!(s[0]["metadata"]["namespace"], "ns");
        assert_eq!(s[1]["data"], json!({"p":"cHc="}));
        assert_eq!(s[1]["metadata"]["annotations"], json!({"a":"2"}));
    }

    #[test]
    fn sops_secret_without_template_name_is_an_error() {
        let o = json!({"apiVersion":"isindir.github.com/v1alpha3","kind":"SopsSecret",
            "metadata":{"name":"s"},"spec":{"secretTemplates":[{"data":{}}]}});
        assert!(expand_sops_secret(&o).unwrap_err().0.contains("[0].name"));
    }

    #[test]
    fn lists_expand() {
        let l = json!({"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}},
            {"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"}}]}]});
        let names: Vec<_> = expand_list(l).iter().map(display_name).collect();
        assert_eq!(names, ["configmap/a", "secret/b"]);
    }

    #[test]
    fn names_like_kubectl() {
        let crd = json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"x.y"}});
        assert_eq!(
            display_name(&crd),
            "customresourcedefinition.apiextensions.k8s.io/x.y"
        );
    }

    #[test]
    fn scrub_hides_decrypted_values() {
        let s = json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"p":"aHVudGVyMg=="}});
        let mut secrets = Vec::new();
        secret_strings(&s, &mut secrets);
        let msg = scrub("bad value hunter2 and aHVudGVyMg== for db", &secrets);
        assert_eq!(msg, "bad value *** and *** for db");
    }

    #[test]
    fn secret_data_decodes_for_comparison() {
        let mut s = json!({"apiVersion":"v1","kind":"Secret","data":{"t":"aGk=","b":"/w=="}});
        decode_secret_data(&mut s);
        assert_eq!(s["data"], json!({"t":"hi","b":"base64:/w=="}));
    }

    #[test]
    fn masking_follows_what_is_secret() {
        let copy = r#"{"apiVersion":"v1","data":{"p":"aHVudGVy"},"kind":"Secret"}"#;
        let mut s = json!({"apiVersion":"v1","kind":"Secret","type":"Opaque",
            "metadata":{"name":"db","labels":{"team":"t0p-s3cret"},
                "annotations":{"kubectl.kubernetes.io/last-applied-configuration":copy,"note":"n"}},
            "data":{"p":"aHVudGVy"}});
        let hidden = vec!["t0p-s3cret".to_string()];
        mask(
            &mut s,
            None,
            "***",
            Masking {
                everywhere: false,
                hidden: &hidden,
            },
        );
        assert_eq!(s["data"]["p"], "***");
        assert_eq!(s["metadata"]["labels"]["team"], "***");
        assert_eq!(
            s["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "***"
        );
        assert_eq!(s["metadata"]["annotations"]["note"], "n");
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["metadata"]["name"], "db");
        // a plain ConfigMap keeps its copy and values
        let mut c = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"kind\":\"ConfigMap\"}"}},"data":{"a":"b"}});
        let before = c.clone();
        mask(
            &mut c,
            None,
            "***",
            Masking {
                everywhere: false,
                hidden: &[],
            },
        );
        assert_eq!(c, before);
        mask(
            &mut c,
            None,
            "***",
            Masking {
                everywhere: true,
                hidden: &[],
            },
        );
        assert_eq!(c["data"]["a"], "***");
        assert_eq!(
            c["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "***"
        );
    }

    #[test]
    fn names_that_would_reshape_a_request_are_refused() {
        for (name, ns) in [
            ("../x", "a"),
            ("a?b", "a"),
            ("a#b", "a"),
            ("ok", "a/b"),
            ("ok", ".."),
        ] {
            let o =
                json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":name,"namespace":ns}});
            assert!(check_names(&o).is_err(), "{name} {ns}");
        }
        let o = json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"system:x"}});
        assert!(check_names(&o).is_ok());
    }
}
