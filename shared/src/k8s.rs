//! Kubernetes conventions: a `Secret` sealed with no explicit rule encrypts only `data` and
//! `stringData` (what Flux and most guides configure), so `apiVersion`, `kind` and `metadata` stay
//! readable and reviewable.

use crate::metadata::EncryptionRule;
use crate::tree::{get, Branch, Value};

/// The regex Flux documents for Secrets.
pub const SECRET_ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// True when the document is a core/v1 `Secret`.
pub fn is_secret(doc: &Branch) -> bool {
    get(doc, "kind").and_then(Value::as_str) == Some("Secret")
        && get(doc, "apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v == "v1")
}

/// The rule to use when neither flags nor `.sops.yaml` give one: the Secret convention when every
/// non-empty document is a `Secret`, else sops' default.
pub fn default_rule(docs: &[Branch]) -> EncryptionRule {
    let non_empty: Vec<&Branch> = docs.iter().filter(|d| !d.is_empty()).collect();
    if !non_empty.is_empty() && non_empty.iter().all(|d| is_secret(d)) {
        EncryptionRule::EncryptedRegex(SECRET_ENCRYPTED_REGEX.into())
    } else {
        EncryptionRule::Default
    }
}
