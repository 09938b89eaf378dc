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
use crate::tree::{get, Branch, Value};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use crate::tree::Item;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn pair(k: &str, v: Value) -> Item {
        Item::Pair(k.into(), v)
    }

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
}
