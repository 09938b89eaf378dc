//! AWS KMS keys, as sops 3.13.2 uses them (`kms/`).
//!
//! `Encrypt {KeyId: arn, Plaintext: data key, EncryptionContext}` wraps, `enc` is the standard base64
//! of the `CiphertextBlob`; `Decrypt` sends the same `KeyId` and context back. The region comes from
//! the ARN; `role` is assumed through STS first (session `sops@<hostname>`); `aws_profile` from the
//! file names the shared-config profile. Credentials come from the standard AWS chain; endpoints
//! follow `AWS_ENDPOINT_URL[_KMS|_STS]`. The SDK (cargo feature `kms-aws`) is only set up when a
//! `kms` entry is actually tried.

use super::ServiceError;
use crate::error::{Result, SopsError};
use crate::metadata::{KeyEntry, KmsEntry};
use zeroize::Zeroizing;

/// An AWS KMS master key: ARN, optional role, encryption context and profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct KmsKey {
    /// Key or alias ARN.
    pub arn: String,
    /// Role ARN to assume (empty = none).
    pub role: String,
    /// Encryption context, sorted by key.
    pub context: Vec<(String, String)>,
    /// Shared-config profile (empty = default chain).
    pub aws_profile: String,
}

/// sops' ARN pattern; capture 1 is the region.
const ARN_PATTERN: &str = r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$";

impl KmsKey {
    /// One key from `ARN[+ROLE_ARN]` like sops' `NewMasterKeyFromArn` (spaces removed).
    pub fn from_arn(arn: &str, context: &[(String, String)], aws_profile: &str) -> Self {
        let arn: String = arn.chars().filter(|c| *c != ' ').collect();
        let (arn, role) = match arn.find("+arn:") {
            Some(i) if i > 0 => (arn[..i].to_string(), arn[i + 1..].to_string()),
            _ => (arn, String::new()),
        };
        let mut context = context.to_vec();
        context.sort();
        KmsKey {
            arn,
            role,
            context,
            aws_profile: aws_profile.to_string(),
        }
    }

    /// Keys from a comma separated `ARN[+ROLE]` list (`--kms`, `SOPS_KMS_ARN`, `.sops.yaml` `kms`).
    pub fn list(arns: &str, context: &[(String, String)], aws_profile: &str) -> Vec<Self> {
        if arns.is_empty() {
            return Vec::new();
        }
        arns.split(',')
            .map(|a| Self::from_arn(a, context, aws_profile))
            .collect()
    }

    /// The key a `kms` metadata entry was made for.
    pub fn of_entry(e: &KmsEntry) -> Self {
        KmsKey {
            arn: e.arn.clone(),
            role: e.role.clone(),
            context: e.context.clone(),
            aws_profile: e.aws_profile.clone(),
        }
    }

    /// sops' `ToString`: `ARN[+ROLE]`, then `|context` and `|profile` when set.
    pub fn to_sops_string(&self) -> String {
        let mut s = self.arn.clone();
        if !self.role.is_empty() {
            s = format!("{s}+{}", self.role);
        }
        let ctx = self
            .context
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(",");
        if !self.aws_profile.is_empty() {
            format!("{s}|{ctx}|{}", self.aws_profile)
        } else if !ctx.is_empty() {
            format!("{s}|{ctx}")
        } else {
            s
        }
    }

    /// The region named by the ARN.
    pub fn region(&self) -> std::result::Result<String, super::BadKeyId> {
        regex::Regex::new(ARN_PATTERN)
            .expect("valid regex")
            .captures(&self.arn)
            .map(|c| c[1].to_string())
            .ok_or_else(|| super::BadKeyId(format!("no valid ARN found in '{}'", self.arn)))
    }
}

/// Parses `--encryption-context k:v,k:v` (sops' `ParseKMSContext` on a string), sorted by key. sops
/// drops the whole context with a warning when a pair is malformed; here it is an error, so a file
/// is never sealed without the context that was asked for.
pub fn parse_context(s: &str) -> std::result::Result<Vec<(String, String)>, super::BadKeyId> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for kv in s.split(',') {
        let parts: Vec<&str> = kv.split(':').collect();
        if parts.len() != 2 {
            return Err(super::BadKeyId(format!(
                "invalid encryption context {kv:?}: expected key:value pairs separated by commas"
            )));
        }
        out.retain(|(k, _)| k != parts[0]);
        out.push((parts[0].to_string(), parts[1].to_string()));
    }
    out.sort();
    Ok(out)
}

/// The AWS KMS key source. The SDK configuration is loaded on first use.
#[derive(Default)]
pub struct KmsSource {
    #[cfg(feature = "kms-aws")]
    sdk: sdk::Sdk,
}

impl KmsSource {
    /// Wraps `secret` with `key`.
    pub fn wrap_key(&self, key: &KmsKey, secret: &[u8]) -> Result<KeyEntry> {
        use base64::Engine;
        let blob = self.encrypt(key, secret).map_err(|e| SopsError::KeyWrap {
            key: key.arn.clone(),
            reason: e.to_string(),
        })?;
        Ok(KeyEntry::Kms(KmsEntry {
            arn: key.arn.clone(),
            role: key.role.clone(),
            context: key.context.clone(),
            aws_profile: key.aws_profile.clone(),
            created_at: crate::metadata::now_rfc3339(),
            enc: base64::engine::general_purpose::STANDARD.encode(blob),
        }))
    }

    #[cfg(feature = "kms-aws")]
    fn encrypt(&self, key: &KmsKey, secret: &[u8]) -> std::result::Result<Vec<u8>, ServiceError> {
        self.sdk.encrypt(key, secret)
    }

    #[cfg(feature = "kms-aws")]
    fn decrypt(
        &self,
        key: &KmsKey,
        blob: Vec<u8>,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, ServiceError> {
        self.sdk.decrypt(key, blob)
    }

    #[cfg(not(feature = "kms-aws"))]
    fn encrypt(&self, _key: &KmsKey, _secret: &[u8]) -> std::result::Result<Vec<u8>, ServiceError> {
        Err(ServiceError::NotBuilt("AWS KMS"))
    }

    #[cfg(not(feature = "kms-aws"))]
    fn decrypt(
        &self,
        _key: &KmsKey,
        _blob: Vec<u8>,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, ServiceError> {
        Err(ServiceError::NotBuilt("AWS KMS"))
    }
}

impl super::KeySource for KmsSource {
    fn kind(&self) -> &'static str {
        "kms"
    }

    /// Wraps `secret` for `ARN[+ROLE]` (no encryption context, default credentials).
    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry> {
        self.wrap_key(&KmsKey::from_arn(recipient, &[], ""), secret)
    }

    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>> {
        use base64::Engine;
        let KeyEntry::Kms(e) = entry else {
            return Err(SopsError::wrong_kind("kms", entry));
        };
        let blob = base64::engine::general_purpose::STANDARD
            .decode(e.enc.trim())
            .map_err(|err| {
                SopsError::Unwrap(format!("error base64-decoding encrypted data key: {err}"))
            })?;
        self.decrypt(&KmsKey::of_entry(e), blob)
            .map_err(|e| SopsError::Unwrap(e.to_string()))
    }
}

#[cfg(feature = "kms-aws")]
mod sdk;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_list_role_context_like_sops() {
        let ctx = parse_context("b:2,a:1").unwrap();
        assert_eq!(ctx, [("a".into(), "1".into()), ("b".into(), "2".into())]);
        let keys = KmsKey::list(
            "arn:aws:kms:eu-west-2:111122223333:key/k1+arn:aws:iam::111122223333:role/r, arn:aws:kms:us-east-1:1:alias/x",
            &ctx,
            "dev",
        );
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].arn, "arn:aws:kms:eu-west-2:111122223333:key/k1");
        assert_eq!(keys[0].role, "arn:aws:iam::111122223333:role/r");
        assert_eq!(keys[0].region().unwrap(), "eu-west-2");
        assert_eq!(keys[1].arn, "arn:aws:kms:us-east-1:1:alias/x");
        assert_eq!(keys[1].region().unwrap(), "us-east-1");
        assert_eq!(
            keys[0].to_sops_string(),
            "arn:aws:kms:eu-west-2:111122223333:key/k1+arn:aws:iam::111122223333:role/r|a:1,b:2|dev"
        );
        assert!(parse_context("a:1,b").is_err());
        assert!(KmsKey::from_arn("not-an-arn", &[], "").region().is_err());
        assert!(KmsKey::list("", &[], "").is_empty());
    }
}
