//! GCP Cloud KMS keys, as sops 3.13.2 uses them (`gcpkms/`), over the REST API sops speaks with
//! `SOPS_GCP_KMS_CLIENT_TYPE=rest`.
//!
//! A key is named by its resource id `projects/P/locations/L/keyRings/R/cryptoKeys/K`. The data key
//! is sent as base64 to `POST {endpoint}/v1/{resource_id}:encrypt {name, plaintext}` and the
//! returned `ciphertext` (standard base64) is stored as `enc`; `:decrypt {name, ciphertext}` returns
//! the `plaintext`. The endpoint is `SOPS_GCP_KMS_ENDPOINT`, else `https://cloudkms.{universe}` with
//! `SOPS_GCP_KMS_UNIVERSE_DOMAIN`, else `https://cloudkms.googleapis.com`.
//!
//! Credentials, in sops' order: `GOOGLE_CREDENTIALS` (a path, or the JSON itself), then
//! `GOOGLE_OAUTH_ACCESS_TOKEN`, then application default credentials: the file named by
//! `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's `application_default_credentials.json`, then the
//! metadata server (`GCE_METADATA_HOST` overrides its address). A credential file holds a service
//! account key (a JWT signed with ring is exchanged at its `token_uri`), an authorized user's
//! refresh token, or a workload identity federation config (`external_account`: file or URL
//! subject token, STS exchange, optional service account impersonation; AWS and executable
//! sources are refused).

use crate::error::{Result, SopsError};
use crate::metadata::{now_rfc3339, GcpKmsEntry, KeyEntry};
use zeroize::Zeroizing;

/// Environment variable with a credential file path or its JSON text.
pub const CREDENTIALS_ENV: &str = "GOOGLE_CREDENTIALS";
/// Environment variable with a ready OAuth access token.
pub const ACCESS_TOKEN_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";
/// Environment variable with the Cloud KMS endpoint (sops 3.13).
pub const ENDPOINT_ENV: &str = "SOPS_GCP_KMS_ENDPOINT";
/// Environment variable with the universe domain (sops 3.13).
pub const UNIVERSE_DOMAIN_ENV: &str = "SOPS_GCP_KMS_UNIVERSE_DOMAIN";
/// The environment variable sops reads for `--gcp-kms`.
pub const IDS_ENV: &str = "SOPS_GCP_KMS_IDS";

/// sops' resource id pattern.
const RESOURCE_ID_PATTERN: &str =
    r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$";

/// A resource id as sops stores it (spaces removed, `NewMasterKeyFromResourceID`).
pub fn normalize_resource_id(id: &str) -> String {
    id.chars().filter(|c| *c != ' ').collect()
}

/// Refuses a resource id sops would refuse, in sops' words.
pub fn check_resource_id(id: &str) -> std::result::Result<(), super::BadKeyId> {
    if regex::Regex::new(RESOURCE_ID_PATTERN)
        .expect("valid regex")
        .is_match(id)
    {
        Ok(())
    } else {
        Err(super::BadKeyId(format!(
            "no valid resource ID found in {id:?}"
        )))
    }
}

/// Splits a comma separated list of resource ids (`--gcp-kms`, `SOPS_GCP_KMS_IDS`, `.sops.yaml`);
/// empty parts are skipped.
pub fn ids_from_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(normalize_resource_id)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The Cloud KMS base URL sops 3.13 would call.
pub fn endpoint() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let base = match (var(ENDPOINT_ENV), var(UNIVERSE_DOMAIN_ENV)) {
        (Some(e), _) if e.contains("://") => e,
        (Some(e), _) => format!("https://{e}"),
        (None, Some(ud)) => format!("https://cloudkms.{ud}"),
        (None, None) => "https://cloudkms.googleapis.com".into(),
    };
    base.trim_end_matches('/').to_string()
}

/// The GCP Cloud KMS key source. Its HTTP client and token are made on first use.
#[derive(Default)]
pub struct GcpKmsSource {
    #[cfg(feature = "kms-gcp")]
    client: std::sync::OnceLock<crate::os::http::Client>,
    #[cfg(feature = "kms-gcp")]
    token: std::sync::Mutex<Option<super::oauth::AccessToken>>,
}

impl GcpKmsSource {
    /// Calls `:{op}` of the key with `payload`; the answer's JSON object.
    #[cfg(feature = "kms-gcp")]
    fn call(
        &self,
        resource_id: &str,
        op: &str,
        payload: serde_json::Value,
    ) -> std::result::Result<serde_json::Value, super::ServiceError> {
        check_resource_id(resource_id)?;
        let client = self.client();
        let token = self.token(client)?;
        let auth = Zeroizing::new(format!("Bearer {}", token.secret.as_str()));
        let url = request_url(&endpoint(), resource_id, op);
        let body = Zeroizing::new(serde_json::to_vec(&payload).expect("JSON of a map"));
        let resp = client.post(&url, &[("Authorization", auth.as_str())], body.to_vec())?;
        super::oauth::json_answer(&format!("Cloud KMS {op}"), &resp, |status| {
            format!("the server redirected (HTTP {status}); not followed")
        })
    }

    #[cfg(feature = "kms-gcp")]
    fn client(&self) -> &crate::os::http::Client {
        self.client.get_or_init(|| {
            crate::os::http::Client::for_api(crate::os::net::Tls::default(), REQUEST_TIMEOUT)
        })
    }

    /// A fresh token from the credential chain (cached for the process).
    #[cfg(feature = "kms-gcp")]
    fn token(
        &self,
        client: &crate::os::http::Client,
    ) -> std::result::Result<super::oauth::AccessToken, super::ServiceError> {
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = cached.as_ref().filter(|t| t.fresh()) {
            return Ok(t.clone());
        }
        let t = creds::token(client)?;
        *cached = Some(t.clone());
        Ok(t)
    }

    #[cfg(not(feature = "kms-gcp"))]
    fn call(
        &self,
        _resource_id: &str,
        _op: &str,
        _payload: serde_json::Value,
    ) -> std::result::Result<serde_json::Value, super::ServiceError> {
        Err(super::ServiceError::NotBuilt("GCP KMS"))
    }
}

/// `{endpoint}/v1/{resource_id}:{op}`, each segment of the resource id escaped (Go's REST client
/// escapes the path too): an id from the file cannot add a query or a fragment, or drop the `:op`.
#[cfg(feature = "kms-gcp")]
fn request_url(endpoint: &str, resource_id: &str, op: &str) -> String {
    let path: Vec<String> = resource_id
        .split('/')
        .map(crate::os::http::path_segment)
        .collect();
    format!("{endpoint}/v1/{}:{op}", path.join("/"))
}

/// How long one Cloud KMS or token request may take.
#[cfg(feature = "kms-gcp")]
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl super::KeySource for GcpKmsSource {
    fn kind(&self) -> &'static str {
        "gcp_kms"
    }

    /// Wraps `secret` with the key named by resource id `recipient`.
    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry> {
        use base64::Engine;
        let id = normalize_resource_id(recipient);
        let fail = |reason: String| SopsError::KeyWrap {
            key: id.clone(),
            reason,
        };
        let plaintext = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(secret));
        let json = self
            .call(
                &id,
                "encrypt",
                serde_json::json!({ "name": id, "plaintext": plaintext.as_str() }),
            )
            .map_err(|e| fail(e.to_string()))?;
        let enc = json
            .get("ciphertext")
            .and_then(serde_json::Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("Cloud KMS encrypt: the answer holds no ciphertext".into()))?;
        Ok(KeyEntry::GcpKms(GcpKmsEntry {
            resource_id: id.clone(),
            created_at: now_rfc3339(),
            enc: enc.to_string(),
        }))
    }

    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>> {
        use base64::Engine;
        let KeyEntry::GcpKms(e) = entry else {
            return Err(SopsError::wrong_kind("gcp_kms", entry));
        };
        base64::engine::general_purpose::STANDARD
            .decode(e.enc.trim())
            .map_err(|err| {
                SopsError::Unwrap(format!("error base64-decoding encrypted data key: {err}"))
            })?;
        let mut json = self
            .call(
                &e.resource_id,
                "decrypt",
                serde_json::json!({ "name": e.resource_id, "ciphertext": e.enc.trim() }),
            )
            .map_err(|e| SopsError::Unwrap(e.to_string()))?;
        super::decoded_plaintext(
            json.get_mut("plaintext").map(serde_json::Value::take),
            "Cloud KMS decrypt",
        )
    }
}

#[cfg(feature = "kms-gcp")]
mod creds;

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "kms-gcp")]
    #[test]
    fn resource_ids_stay_in_the_path() {
        let e = "https://cloudkms.googleapis.com";
        assert_eq!(
            request_url(e, "projects/my-p/locations/global/keyRings/r_1/cryptoKeys/sops", "decrypt"),
            "https://cloudkms.googleapis.com/v1/projects/my-p/locations/global/keyRings/r_1/cryptoKeys/sops:decrypt"
        );
        // a hostile entry cannot call another method: `?` would move `:decrypt` into the query
        let id = "projects/p/locations/l/keyRings/r/cryptoKeys/k:updatePrimaryVersion?";
        assert!(check_resource_id(id).is_ok());
        assert_eq!(
            request_url(e, id, "decrypt"),
            "https://cloudkms.googleapis.com/v1/projects/p/locations/l/keyRings/r/cryptoKeys/k%3AupdatePrimaryVersion%3F:decrypt"
        );
    }

    #[test]
    fn resource_ids_like_sops() {
        let id = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
        assert!(check_resource_id(id).is_ok());
        assert_eq!(
            check_resource_id("projects/p/keyRings/r")
                .unwrap_err()
                .to_string(),
            "no valid resource ID found in \"projects/p/keyRings/r\""
        );
        assert!(check_resource_id(&format!("{id}/cryptoKeyVersions/1")).is_err());
        assert_eq!(
            ids_from_list(&format!(" {id} ,,{id}")),
            [id.to_string(), id.to_string()]
        );
    }
}
