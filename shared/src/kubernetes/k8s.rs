//! Kubernetes conventions for files sealed with no explicit rule (no flag, no `.sops.yaml` rule):
//!
//! | documents (every non-empty one is …) | rule | why |
//! |---|---|---|
//! | a core/v1 `Secret`, or a `List`/`SecretList` of them | `encrypted_regex: ^(data\|stringData)$` | the Flux convention: `apiVersion`, `kind`, `metadata` stay reviewable |
//! | a `SopsSecret` (`isindir.github.com/*`), or a `List`/`SopsSecretList` of them | `encrypted_suffix: Templates` | what the sops-secrets-operator README documents (`sops --encrypt --encrypted-suffix Templates`): all of `spec.secretTemplates` is encrypted |
//! | a mix of the two | `encrypted_regex: ^(data\|stringData\|secretTemplates)$` | one rule that is each convention's for its own documents: a Secret's `data`/`stringData`, a SopsSecret's whole `secretTemplates` |
//! | Kubernetes objects (`apiVersion` and `kind` set), at least one of them neither a Secret nor a SopsSecret (a Secret beside a ConfigMap, a Deployment, a `List` of mixed items) | `unencrypted_regex: ^(apiVersion\|kind\|metadata)$` | every document keeps `apiVersion`, `kind` and `metadata` reviewable; every other value (a Secret's `data`, `stringData` and `type`, a ConfigMap's `data`, a Deployment's `spec` except its pod template's `metadata`) is encrypted, so nothing unknown is left in clear |
//! | anything else | sops' default (everything but `*_unencrypted`) | nothing is known about the document, so nothing is left in clear |
//!
//! sops applies regex and suffix rules to every key of a value's path, so the rules work as well
//! for the `items` of a `List` as for a top-level document. For the object rule this means a key
//! named `apiVersion`, `kind` or `metadata` anywhere stays in clear with its whole subtree (nested
//! `metadata` such as a pod template's, references such as `roleRef.kind`): so that no secret value
//! is left in clear that way, a file where such a key sits inside a Secret's `data`/`stringData` or
//! a SopsSecret's `secretTemplates` gets sops' default instead.

use crate::metadata::EncryptionRule;
use crate::tree::{get, Branch, Item, Value};

/// The regex Flux documents for Secrets.
pub const SECRET_ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// The suffix the sops-secrets-operator documents for `SopsSecret`s (`--encrypted-suffix Templates`).
pub const SOPS_SECRET_ENCRYPTED_SUFFIX: &str = "Templates";

/// The regex for files that mix Secrets and SopsSecrets.
pub const MIXED_ENCRYPTED_REGEX: &str = "^(data|stringData|secretTemplates)$";

/// The regex for files of Kubernetes objects that are not all Secrets: what stays in clear.
pub const OBJECT_UNENCRYPTED_REGEX: &str = "^(apiVersion|kind|metadata)$";

/// The API group of the sops-secrets-operator's `SopsSecret`.
pub const SOPS_SECRET_GROUP: &str = "isindir.github.com";

/// What kind of secret a document (or a list item) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A core/v1 `Secret`.
    Secret,
    /// A sops-secrets-operator `SopsSecret`.
    SopsSecret,
}

fn str_field<'a>(doc: &'a Branch, key: &str) -> Option<&'a str> {
    get(doc, key).and_then(Value::as_str)
}

fn is_sops_secret_api(api_version: Option<&str>) -> bool {
    api_version.is_some_and(|v| {
        v.strip_prefix(SOPS_SECRET_GROUP)
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// True when the document is a core/v1 `Secret`.
pub fn is_secret(doc: &Branch) -> bool {
    str_field(doc, "kind") == Some("Secret") && str_field(doc, "apiVersion") == Some("v1")
}

/// True when the document is a `SopsSecret` of the sops-secrets-operator (`isindir.github.com/*`).
pub fn is_sops_secret(doc: &Branch) -> bool {
    str_field(doc, "kind") == Some("SopsSecret") && is_sops_secret_api(str_field(doc, "apiVersion"))
}

/// The secret kind of one object (not a list).
fn object_kind(doc: &Branch) -> Option<SecretKind> {
    if is_secret(doc) {
        Some(SecretKind::Secret)
    } else if is_sops_secret(doc) {
        Some(SecretKind::SopsSecret)
    } else {
        None
    }
}

/// The secret kinds a document holds: one for a Secret or SopsSecret; for a list (`kind: List`, or
/// `SecretList`/`SopsSecretList`, whose items may omit `kind`) the kinds of its items. `None` when
/// the document, or any item of a list, is something else, or when a list has no items.
pub fn secret_kinds(doc: &Branch) -> Option<Vec<SecretKind>> {
    if let Some(k) = object_kind(doc) {
        return Some(vec![k]);
    }
    let kind = str_field(doc, "kind")?;
    let api = str_field(doc, "apiVersion");
    // the kind every item is known to be, for typed lists
    let typed = match kind {
        "List" => None,
        "SecretList" if api == Some("v1") => Some(SecretKind::Secret),
        "SopsSecretList" if is_sops_secret_api(api) => Some(SecretKind::SopsSecret),
        _ => return None,
    };
    let Some(Value::Seq(items)) = get(doc, "items") else {
        return None;
    };
    let mut kinds = Vec::new();
    for item in items {
        match item {
            Value::Comment(_) => {}
            Value::Map(m) => {
                let k = match (typed, object_kind(m)) {
                    (_, Some(k)) => k,
                    // items of a typed list usually carry no kind of their own
                    (Some(t), None) if str_field(m, "kind").is_none() => t,
                    _ => return None,
                };
                kinds.push(k);
            }
            _ => return None,
        }
    }
    (!kinds.is_empty()).then_some(kinds)
}

/// True when the document is a Secret, or a list whose items are all Secrets.
pub fn is_secret_like(doc: &Branch) -> bool {
    secret_kinds(doc).is_some_and(|k| k.iter().all(|k| *k == SecretKind::Secret))
}

/// The rule to use when neither flags nor `.sops.yaml` give one (see the module docs): a Secret or
/// SopsSecret convention when every non-empty document is (a list of) Secrets and/or SopsSecrets,
/// else sops' default.
pub fn default_rule(docs: &[Branch]) -> EncryptionRule {
    let non_empty: Vec<&Branch> = docs.iter().filter(|d| !d.is_empty()).collect();
    if non_empty.is_empty() {
        return EncryptionRule::Default;
    }
    let mut secret = false;
    let mut sops_secret = false;
    for doc in &non_empty {
        let Some(kinds) = secret_kinds(doc) else {
            return object_rule(&non_empty);
        };
        for k in kinds {
            match k {
                SecretKind::Secret => secret = true,
                SecretKind::SopsSecret => sops_secret = true,
            }
        }
    }
    match (secret, sops_secret) {
        (true, false) => EncryptionRule::EncryptedRegex(SECRET_ENCRYPTED_REGEX.into()),
        (false, true) => EncryptionRule::EncryptedSuffix(SOPS_SECRET_ENCRYPTED_SUFFIX.into()),
        (true, true) => EncryptionRule::EncryptedRegex(MIXED_ENCRYPTED_REGEX.into()),
        (false, false) => EncryptionRule::Default,
    }
}

/// True when the document is a Kubernetes object: string `apiVersion` and `kind`.
pub fn is_object(doc: &Branch) -> bool {
    str_field(doc, "apiVersion").is_some_and(|v| !v.is_empty())
        && str_field(doc, "kind").is_some_and(|v| !v.is_empty())
}

/// The rule for documents that are not all Secrets/SopsSecrets: the object rule when every one is a
/// Kubernetes object and no secret payload holds a key the rule would leave in clear, else sops'
/// default.
fn object_rule(docs: &[&Branch]) -> EncryptionRule {
    if docs.iter().all(|d| is_object(d)) && !docs.iter().any(|d| payload_has_clear_key(d)) {
        EncryptionRule::UnencryptedRegex(OBJECT_UNENCRYPTED_REGEX.into())
    } else {
        EncryptionRule::Default
    }
}

fn is_clear_key(k: &str) -> bool {
    matches!(k, "apiVersion" | "kind" | "metadata")
}

/// True when a key of the object rule sits anywhere inside `v`.
fn has_clear_key(v: &Value) -> bool {
    match v {
        Value::Map(m) => m.iter().any(|i| match i {
            crate::tree::Item::Pair(k, v) => is_clear_key(k) || has_clear_key(v),
            crate::tree::Item::Comment(_) => false,
        }),
        Value::Seq(items) => items.iter().any(has_clear_key),
        _ => false,
    }
}

/// True when a Secret's `data`/`stringData` or a SopsSecret's `spec.secretTemplates` (of the document
/// or of any item of a list) holds a key named `apiVersion`, `kind` or `metadata`.
fn payload_has_clear_key(doc: &Branch) -> bool {
    let own = if is_secret(doc) {
        ["data", "stringData"]
            .iter()
            .any(|f| get(doc, f).is_some_and(has_clear_key))
    } else if is_sops_secret(doc) {
        get(doc, "spec")
            .and_then(Value::as_map)
            .and_then(|s| get(s, "secretTemplates"))
            .is_some_and(has_clear_key)
    } else {
        false
    };
    own || matches!(get(doc, "items"), Some(Value::Seq(items))
        if items.iter().any(|i| matches!(i, Value::Map(m) if payload_has_clear_key(m))))
}

/// True when `s` is what Kubernetes accepts in a Secret's `data`: standard base64 with padding.
pub fn is_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

/// The `data` entries of the Secrets in `docs` (and in their lists' items) whose value is not a
/// base64 string, as `data.KEY` (`items[I].data.KEY` in lists). Kubernetes rejects such a Secret.
pub fn non_base64_data(docs: &[Branch]) -> Vec<String> {
    fn of_secret(doc: &Branch, prefix: &str, out: &mut Vec<String>) {
        if let Some(Value::Map(data)) = get(doc, "data") {
            for item in data {
                if let crate::tree::Item::Pair(k, v) = item {
                    let ok = match v {
                        Value::Str(s) => is_base64(s),
                        Value::Null => true,
                        _ => false,
                    };
                    if !ok {
                        out.push(format!("{prefix}data.{k}"));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for doc in docs {
        if is_secret(doc) {
            of_secret(doc, "", &mut out);
        } else if let Some(Value::Seq(items)) = get(doc, "items") {
            let typed = str_field(doc, "kind") == Some("SecretList");
            for (i, item) in items
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .enumerate()
            {
                if let Value::Map(m) = item {
                    if is_secret(m) || (typed && str_field(m, "kind").is_none()) {
                        of_secret(m, &format!("items[{i}]."), &mut out);
                    }
                }
            }
        }
    }
    out
}

/// One line saying what a rule from [`default_rule`] encrypts, for the note printed when no
/// `.sops.yaml` rule or flag chose the rule.
pub fn describe_default(rule: &EncryptionRule) -> String {
    let what = match rule {
        EncryptionRule::EncryptedRegex(r) if r == SECRET_ENCRYPTED_REGEX => {
            "Kubernetes Secrets: only data and stringData are encrypted"
        }
        EncryptionRule::EncryptedSuffix(s) if s == SOPS_SECRET_ENCRYPTED_SUFFIX => {
            "SopsSecrets: only spec.secretTemplates is encrypted"
        }
        EncryptionRule::EncryptedRegex(r) if r == MIXED_ENCRYPTED_REGEX => {
            "Secrets and SopsSecrets: only data, stringData and secretTemplates are encrypted"
        }
        EncryptionRule::UnencryptedRegex(r) if r == OBJECT_UNENCRYPTED_REGEX => {
            "Kubernetes objects: apiVersion, kind and metadata stay readable, every other value is encrypted"
        }
        EncryptionRule::Default => return "every value is encrypted (sops' default)".into(),
        _ => "the rule",
    };
    let (field, value) = rule.field();
    format!("{what} ({field}: {value})")
}

/// The annotation kubectl's client-side apply keeps on every object it applies: the whole object
/// as JSON, a Secret's `data` included.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// True when an annotation carries a copy of an object or of a Secret's values: kubectl's
/// [`LAST_APPLIED`], or any value that is a JSON object with `kind`, `data` or `stringData` (what
/// `kubectl.kubernetes.io/*` and similar tools store there).
pub fn is_object_copy(key: &str, value: &str) -> bool {
    if key == LAST_APPLIED {
        return true;
    }
    let t = value.trim_start();
    if !t.starts_with('{') {
        return false;
    }
    matches!(serde_json::from_str::<serde_json::Value>(t),
        Ok(serde_json::Value::Object(m)) if ["kind", "data", "stringData"].iter().any(|k| m.contains_key(*k)))
}

/// The documents of `docs` that are Kubernetes objects, with the items of lists, as
/// `(path prefix, object)`: `""` for a document, `items[I].` for an item.
fn objects_mut(docs: &mut [Branch]) -> Vec<(String, &mut Branch)> {
    let mut out = Vec::new();
    for doc in docs.iter_mut() {
        if !is_object(doc) {
            continue;
        }
        let has_items = matches!(get(doc, "items"), Some(Value::Seq(_)));
        if has_items {
            for item in doc.iter_mut() {
                if let Item::Pair(k, Value::Seq(items)) = item {
                    if k == "items" {
                        let maps = items.iter_mut().filter_map(|v| match v {
                            Value::Map(m) => Some(m),
                            _ => None,
                        });
                        for (i, m) in maps.enumerate() {
                            out.push((format!("items[{i}]."), m));
                        }
                    }
                }
            }
        } else {
            out.push((String::new(), doc));
        }
    }
    out
}

fn annotations_mut(obj: &mut Branch) -> Option<&mut Branch> {
    obj.iter_mut().find_map(|i| match i {
        Item::Pair(k, Value::Map(meta)) if k == "metadata" => {
            meta.iter_mut().find_map(|i| match i {
                Item::Pair(k, Value::Map(a)) if k == "annotations" => Some(a),
                _ => None,
            })
        }
        _ => None,
    })
}

/// Removes from every Kubernetes object of `docs` (and every item of its lists) the annotations
/// that carry a copy of the object ([`is_object_copy`]), so that sealing cannot leave the values
/// readable under a rule that keeps `metadata` in clear. Returns what was removed, as
/// `metadata.annotations["KEY"]` (`items[I].…` in lists). An annotation map left empty is removed.
pub fn drop_object_copies(docs: &mut [Branch]) -> Vec<String> {
    let mut dropped = Vec::new();
    for (prefix, obj) in objects_mut(docs) {
        let Some(ann) = annotations_mut(obj) else {
            continue;
        };
        ann.retain(|i| match i {
            Item::Pair(k, Value::Str(v)) if is_object_copy(k, v) => {
                dropped.push(format!("{prefix}metadata.annotations[\"{}\"]", k.as_str()));
                false
            }
            _ => true,
        });
        if !ann.iter().any(|i| matches!(i, Item::Pair(..))) {
            for i in obj.iter_mut() {
                if let Item::Pair(k, Value::Map(meta)) = i {
                    if k == "metadata" {
                        meta.retain(|i| !matches!(i, Item::Pair(k, _) if k == "annotations"));
                    }
                }
            }
        }
    }
    dropped
}

/// The annotations of the Kubernetes objects of `docs` that carry a copy of the object
/// ([`is_object_copy`]) in clear text (not an `ENC[…]` value), as [`drop_object_copies`] names
/// them: in an encrypted file they give away what the rule encrypted.
pub fn readable_object_copies(docs: &[Branch]) -> Vec<String> {
    let mut docs = docs.to_vec();
    let mut out = Vec::new();
    for (prefix, obj) in objects_mut(&mut docs) {
        if let Some(ann) = annotations_mut(obj) {
            for i in ann.iter() {
                if let Item::Pair(k, Value::Str(v)) = i {
                    if !crate::cipher::is_encrypted(v) && is_object_copy(k, v) {
                        out.push(format!("{prefix}metadata.annotations[\"{}\"]", k.as_str()));
                    }
                }
            }
        }
    }
    out
}

/// Kinds whose names Kubernetes validates as path segments only (RBAC: `system:controller:x`).
const PATH_SEGMENT_NAMED: &[&str] = &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// True for a DNS-1123 label: at most 63 of `a-z0-9-`, starting and ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// True for a DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A name the API server would refuse; the message quotes the name (names are not secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// An RBAC name that is not a usable path segment.
    #[error("invalid name {name:?}: a {kind} name may not be '.' or '..' nor contain '/', '%', '?', '#' or spaces")]
    PathSegment {
        /// The object's kind.
        kind: String,
        /// The name as written.
        name: String,
    },
    /// A name that is not a DNS-1123 subdomain.
    #[error("invalid name {0:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")]
    Subdomain(String),
    /// A namespace that is not a DNS-1123 label.
    #[error("invalid namespace {0:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters")]
    Namespace(String),
}

/// Checks an object's `metadata.name` the way the API server does for `kind` (a DNS-1123
/// subdomain; a path segment for the RBAC kinds), so a name can never reshape a request path
/// (`..`, `/`, `%`, `?`, `#`).
pub fn check_name(kind: &str, name: &str) -> Result<(), NameError> {
    if PATH_SEGMENT_NAMED.contains(&kind) {
        let bad = name.is_empty()
            || name == "."
            || name == ".."
            || name.len() > 253
            || name
                .chars()
                .any(|c| matches!(c, '/' | '%' | '?' | '#') || c.is_whitespace() || c.is_control());
        if bad {
            return Err(NameError::PathSegment {
                kind: kind.to_string(),
                name: name.to_string(),
            });
        }
        return Ok(());
    }
    if is_dns_subdomain(name) {
        Ok(())
    } else {
        Err(NameError::Subdomain(name.to_string()))
    }
}

/// Checks a namespace name (a DNS-1123 label), as the API server does.
pub fn check_namespace(ns: &str) -> Result<(), NameError> {
    if is_dns_label(ns) {
        Ok(())
    } else {
        Err(NameError::Namespace(ns.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;

    use crate::tree::build::{pair, s};

    fn secret() -> Branch {
        vec![
            pair("apiVersion", s("v1")),
            pair("kind", s("Secret")),
            pair("metadata", Value::Map(vec![pair("name", s("db"))])),
            pair("stringData", Value::Map(vec![pair("password", s("x"))])),
        ]
    }

    fn sops_secret(api: &str) -> Branch {
        vec![
            pair("apiVersion", s(api)),
            pair("kind", s("SopsSecret")),
            pair("metadata", Value::Map(vec![pair("name", s("s"))])),
            pair(
                "spec",
                Value::Map(vec![pair(
                    "secretTemplates",
                    Value::Seq(vec![Value::Map(vec![
                        pair("name", s("t")),
                        pair("stringData", Value::Map(vec![pair("token", s("x"))])),
                    ])]),
                )]),
            ),
        ]
    }

    fn list(kind: &str, api: &str, items: Vec<Branch>) -> Branch {
        vec![
            pair("apiVersion", s(api)),
            pair("kind", s(kind)),
            pair(
                "items",
                Value::Seq(items.into_iter().map(Value::Map).collect()),
            ),
        ]
    }

    fn config_map() -> Branch {
        vec![
            pair("apiVersion", s("v1")),
            pair("kind", s("ConfigMap")),
            pair("data", Value::Map(vec![pair("a", s("b"))])),
        ]
    }

    fn encrypts(rule: &EncryptionRule, path: &[&str]) -> bool {
        let path: Vec<crate::tree::Text> = path.iter().map(|p| (*p).into()).collect();
        Rules::new(rule).unwrap().should_encrypt(&path, &[], false)
    }

    fn object() -> EncryptionRule {
        EncryptionRule::UnencryptedRegex(OBJECT_UNENCRYPTED_REGEX.into())
    }

    #[test]
    fn objects_keep_api_version_kind_and_metadata() {
        let r = default_rule(&[secret(), config_map(), vec![]]);
        assert_eq!(r, object());
        assert!(!encrypts(&r, &["apiVersion"]));
        assert!(!encrypts(&r, &["kind"]));
        assert!(!encrypts(&r, &["metadata", "name"]));
        assert!(!encrypts(&r, &["metadata", "labels", "app"]));
        assert!(encrypts(&r, &["stringData", "password"]));
        assert!(encrypts(&r, &["data", "a"]));
        assert!(encrypts(&r, &["type"]));
        assert!(!encrypts(&r, &["items", "metadata", "name"]));
        assert!(encrypts(
            &r,
            &["spec", "template", "spec", "containers", "env", "value"]
        ));
        // a Secret whose data holds a key the rule would leave in clear: sops' default
        let mut leaky = secret();
        leaky[3] = pair("stringData", Value::Map(vec![pair("kind", s("x"))]));
        assert_eq!(
            default_rule(&[leaky.clone(), config_map()]),
            EncryptionRule::Default
        );
        let l = list("List", "v1", vec![leaky, config_map()]);
        assert_eq!(default_rule(&[l]), EncryptionRule::Default);
        assert!(describe_default(&r).contains("unencrypted_regex: ^(apiVersion|kind|metadata)$"));
    }

    #[test]
    fn secret_data_must_be_base64() {
        let with_data = |v: &str| -> Branch {
            vec![
                pair("apiVersion", s("v1")),
                pair("kind", s("Secret")),
                pair(
                    "data",
                    Value::Map(vec![pair("ok", s("aGk=")), pair("bad", s(v))]),
                ),
            ]
        };
        assert_eq!(non_base64_data(&[with_data("no way")]), ["data.bad"]);
        assert!(non_base64_data(&[with_data("")]).is_empty());
        let l = list("List", "v1", vec![config_map(), with_data("x!")]);
        assert_eq!(non_base64_data(&[l]), ["items[1].data.bad"]);
        // a ConfigMap's data is text
        assert!(non_base64_data(&[config_map()]).is_empty());
    }

    #[test]
    fn recognizes_kinds() {
        assert!(is_secret(&secret()));
        assert!(is_sops_secret(&sops_secret("isindir.github.com/v1alpha3")));
        assert!(is_sops_secret(&sops_secret("isindir.github.com/v1alpha2")));
        assert!(!is_sops_secret(&sops_secret(
            "craftypath.github.io/v1alpha1"
        )));
        assert!(!is_sops_secret(&sops_secret("isindir.github.com")));
        assert!(!is_sops_secret(&sops_secret("isindir.github.company/v1")));
        assert!(!is_secret(&config_map()));
    }

    #[test]
    fn secrets_keep_the_flux_rule() {
        let r = default_rule(&[secret(), vec![], secret()]);
        assert_eq!(
            r,
            EncryptionRule::EncryptedRegex(SECRET_ENCRYPTED_REGEX.into())
        );
        assert!(encrypts(&r, &["stringData", "password"]));
        assert!(!encrypts(&r, &["metadata", "name"]));
    }

    #[test]
    fn lists_of_secrets_are_secret_like() {
        let l = list("List", "v1", vec![secret(), secret()]);
        assert!(is_secret_like(&l));
        let r = default_rule(std::slice::from_ref(&l));
        assert_eq!(
            r,
            EncryptionRule::EncryptedRegex(SECRET_ENCRYPTED_REGEX.into())
        );
        assert!(encrypts(&r, &["items", "stringData", "password"]));
        assert!(!encrypts(&r, &["items", "metadata", "name"]));
        assert!(!encrypts(&r, &["kind"]));

        // a typed SecretList: items without kind
        let bare: Branch = secret().into_iter().skip(2).collect();
        let typed = list("SecretList", "v1", vec![bare.clone()]);
        assert!(is_secret_like(&typed));
        assert_eq!(
            default_rule(&[typed]),
            EncryptionRule::EncryptedRegex(SECRET_ENCRYPTED_REGEX.into())
        );
        // …but a plain List needs kinds on its items (it is still an object)
        assert_eq!(default_rule(&[list("List", "v1", vec![bare])]), object());
    }

    #[test]
    fn lists_with_other_items_or_none_fall_back() {
        let mixed = list("List", "v1", vec![secret(), config_map()]);
        assert!(!is_secret_like(&mixed));
        assert_eq!(default_rule(&[mixed]), object());
        assert_eq!(default_rule(&[list("List", "v1", vec![])]), object());
        assert_eq!(
            default_rule(&[list("ConfigMapList", "v1", vec![config_map()])]),
            object()
        );
        assert_eq!(default_rule(&[secret(), config_map()]), object());
        // not every document is an object
        let plain = vec![pair("password", s("x"))];
        assert_eq!(default_rule(&[secret(), plain]), EncryptionRule::Default);
        assert_eq!(default_rule(&[]), EncryptionRule::Default);
        assert_eq!(default_rule(&[vec![]]), EncryptionRule::Default);
    }

    #[test]
    fn sops_secrets_use_the_operator_convention() {
        let r = default_rule(&[sops_secret("isindir.github.com/v1alpha3")]);
        assert_eq!(r, EncryptionRule::EncryptedSuffix("Templates".into()));
        assert!(encrypts(
            &r,
            &["spec", "secretTemplates", "stringData", "token"]
        ));
        assert!(encrypts(&r, &["spec", "secretTemplates", "name"]));
        assert!(!encrypts(&r, &["metadata", "name"]));
        assert!(!encrypts(&r, &["apiVersion"]));

        let l = list(
            "List",
            "v1",
            vec![sops_secret("isindir.github.com/v1alpha3")],
        );
        assert_eq!(
            default_rule(&[l]),
            EncryptionRule::EncryptedSuffix("Templates".into())
        );
    }

    #[test]
    fn secrets_and_sops_secrets_together() {
        let r = default_rule(&[secret(), sops_secret("isindir.github.com/v1alpha3")]);
        assert_eq!(
            r,
            EncryptionRule::EncryptedRegex(MIXED_ENCRYPTED_REGEX.into())
        );
        // right for the Secret…
        assert!(encrypts(&r, &["stringData", "password"]));
        assert!(!encrypts(&r, &["metadata", "name"]));
        // …and the same fields as the operator convention for the SopsSecret
        assert!(encrypts(&r, &["spec", "secretTemplates", "name"]));
        assert!(encrypts(
            &r,
            &["spec", "secretTemplates", "stringData", "token"]
        ));
        assert!(!encrypts(&r, &["spec", "other"]));
    }

    #[test]
    fn object_copies_are_found_and_dropped() {
        let copy = r#"{"apiVersion":"v1","data":{"p":"aHVudGVy"},"kind":"Secret"}"#;
        let mut doc = secret();
        doc[2] = pair(
            "metadata",
            Value::Map(vec![
                pair("name", s("db")),
                pair(
                    "annotations",
                    Value::Map(vec![pair(LAST_APPLIED, s(copy)), pair("note", s("{x}"))]),
                ),
            ]),
        );
        let l = list("List", "v1", vec![doc.clone()]);
        let mut docs = vec![doc, l, config_map()];
        let readable = readable_object_copies(&docs);
        assert_eq!(readable.len(), 2, "{readable:?}");
        assert!(readable[1].starts_with("items[0].metadata.annotations"));
        let dropped = drop_object_copies(&mut docs);
        assert_eq!(dropped, readable);
        assert!(readable_object_copies(&docs).is_empty());
        // the other annotation stays
        assert!(
            matches!(get(&docs[0], "metadata"), Some(Value::Map(m)) if get(m, "annotations").is_some())
        );
        assert!(is_object_copy("x/y", r#" {"stringData":{}}"#));
        assert!(!is_object_copy("x/y", r#"{"a":1}"#));
    }

    #[test]
    fn names_are_checked_like_the_api_server() {
        assert!(check_name("Secret", "db.example-1").is_ok());
        for bad in ["..", "a/b", "a?b", "a#b", "A", "a%2f", "", "-a"] {
            assert!(check_name("Secret", bad).is_err(), "{bad}");
        }
        assert!(check_name("ClusterRole", "system:controller:x").is_ok());
        for bad in ["..", ".", "a/b", "a%b", "a?b", "a b"] {
            assert!(check_name("ClusterRole", bad).is_err(), "{bad}");
        }
        assert!(check_namespace("kube-system").is_ok());
        for bad in ["a.b", "..", "A", &"a".repeat(64)] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
    }
}
