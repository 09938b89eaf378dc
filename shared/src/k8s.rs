//! Kubernetes conventions for files sealed with no explicit rule (no flag, no `.sops.yaml` rule):
//!
//! | documents (every non-empty one is …) | rule | why |
//! |---|---|---|
//! | a core/v1 `Secret`, or a `List`/`SecretList` of them | `encrypted_regex: ^(data\|stringData)$` | the Flux convention: `apiVersion`, `kind`, `metadata` stay reviewable |
//! | a `SopsSecret` (`isindir.github.com/*`), or a `List`/`SopsSecretList` of them | `encrypted_suffix: Templates` | what the sops-secrets-operator README documents (`sops --encrypt --encrypted-suffix Templates`): all of `spec.secretTemplates` is encrypted |
//! | a mix of the two | `encrypted_regex: ^(data\|stringData\|secretTemplates)$` | one rule that is each convention's for its own documents: a Secret's `data`/`stringData`, a SopsSecret's whole `secretTemplates` |
//! | anything else | sops' default (everything but `*_unencrypted`) | nothing is known about the document, so nothing is left in clear |
//!
//! sops applies regex and suffix rules to every key of a value's path, so the rules work as well
//! for the `items` of a `List` as for a top-level document.

use crate::metadata::EncryptionRule;
use crate::tree::{get, Branch, Value};

/// The regex Flux documents for Secrets.
pub const SECRET_ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// The suffix the sops-secrets-operator documents for `SopsSecret`s (`--encrypted-suffix Templates`).
pub const SOPS_SECRET_ENCRYPTED_SUFFIX: &str = "Templates";

/// The regex for files that mix Secrets and SopsSecrets.
pub const MIXED_ENCRYPTED_REGEX: &str = "^(data|stringData|secretTemplates)$";

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
    for doc in non_empty {
        let Some(kinds) = secret_kinds(doc) else {
            return EncryptionRule::Default;
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
        // …but a plain List needs kinds on its items
        assert_eq!(
            default_rule(&[list("List", "v1", vec![bare])]),
            EncryptionRule::Default
        );
    }

    #[test]
    fn lists_with_other_items_or_none_fall_back() {
        let mixed = list("List", "v1", vec![secret(), config_map()]);
        assert!(!is_secret_like(&mixed));
        assert_eq!(default_rule(&[mixed]), EncryptionRule::Default);
        assert_eq!(
            default_rule(&[list("List", "v1", vec![])]),
            EncryptionRule::Default
        );
        assert_eq!(
            default_rule(&[list("ConfigMapList", "v1", vec![config_map()])]),
            EncryptionRule::Default
        );
        assert_eq!(
            default_rule(&[secret(), config_map()]),
            EncryptionRule::Default
        );
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
