//! HashiCorp Vault (and OpenBao) transit keys, as sops 3.13.2 uses them (`hcvault/`).
//!
//! A key is named by its URI `{address}/v1/{engine path}/keys/{name}`. The data key is sent as
//! base64 to `POST {address}/v1/{engine}/encrypt/{name}` and Vault's ciphertext (`vault:v1:…`) is
//! stored verbatim; `POST …/decrypt/{name}` returns it. The address comes from the file, never from
//! `VAULT_ADDR`, so the file decides where the token goes: `SOPS_HC_VAULT_ALLOWLIST` limits the
//! addresses (sops' semantics), and redirects are never followed.
//!
//! Token: `VAULT_TOKEN`, else `~/.vault-token`. `VAULT_NAMESPACE` is sent as `X-Vault-Namespace`;
//! `VAULT_CACERT` replaces the system roots; `VAULT_SKIP_VERIFY` turns certificate checks off.

use super::{BadKeyId, ServiceError};
use crate::error::{Result, SopsError};
use crate::metadata::{now_rfc3339, KeyEntry, VaultEntry};
use zeroize::Zeroizing;

/// Environment variable with the Vault addresses a file may name (`all`, `none`, or a comma list of
/// URL prefixes).
pub const ALLOWLIST_ENV: &str = "SOPS_HC_VAULT_ALLOWLIST";

/// Where a transit key lives, parsed from its URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultKey {
    /// `scheme://host[:port]`.
    pub address: String,
    /// Mount path of the transit engine.
    pub engine_path: String,
    /// Key name.
    pub key_name: String,
}

impl VaultKey {
    /// Parses a key URI like sops' `NewMasterKeyFromURI`: a scheme is required, the path must look
    /// like `/v1/{engine}/keys/{name}` and a prefixed URL (`/vault/v1/…`) is refused.
    pub fn from_uri(uri: &str) -> std::result::Result<Self, BadKeyId> {
        let Some((scheme, rest)) = uri.split_once("://").filter(|(s, _)| !s.is_empty()) else {
            return Err(BadKeyId(format!(
                "missing scheme in Vault URL (should be like this: https://vault.example.com:8200/v1/transit/keys/keyName), got: {uri}"
            )));
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split(['?', '#']).next().unwrap_or("/");
        let prefixed = regex::Regex::new(r"/[^/]+/v\d+/[^/]+/[^/]+/[^/]+").expect("valid regex");
        let shape = regex::Regex::new(r"/v\d+/[^/]+/[^/]+/[^/]+").expect("valid regex");
        if prefixed.is_match(path) {
            return Err(BadKeyId("running Vault with a prefixed URL is not supported! (Format has to be like https://vault.example.com:8200/v1/transit/keys/keyName)".into()));
        }
        if !shape.is_match(path) {
            return Err(BadKeyId("vault path does not seem to be formatted correctly: (eg. https://vault.example.com:8200/v1/transit/keys/keyName)".into()));
        }
        let dirs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let key_name = dirs[dirs.len() - 1].to_string();
        let engine_path = dirs[1..dirs.len() - 2]
            .iter()
            .filter(|d| !d.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        Ok(VaultKey {
            address: format!("{scheme}://{authority}"),
            engine_path,
            key_name,
        })
    }

    /// The URI sops prints for the key.
    pub fn uri(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.address, self.engine_path, self.key_name
        )
    }

    fn of_entry(e: &VaultEntry) -> Self {
        VaultKey {
            address: e.vault_address.clone(),
            engine_path: e.engine_path.clone(),
            key_name: e.key_name.clone(),
        }
    }
}

/// Splits a comma separated list of key URIs (`--hc-vault-transit`, `SOPS_VAULT_URIS`); empty parts
/// are skipped, every other part must parse.
pub fn uris_from_list(list: &str) -> std::result::Result<Vec<String>, BadKeyId> {
    list.split(',')
        .filter(|u| !u.is_empty())
        .map(|u| VaultKey::from_uri(u).map(|k| k.uri()))
        .collect()
}

/// `SOPS_HC_VAULT_ALLOWLIST` as sops reads it: unset or empty is `all`; `none` allows nothing; else a
/// comma list of prefixes (each trimmed of spaces, `/` appended), none of them empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowlist {
    all: bool,
    prefixes: Vec<String>,
}

impl Allowlist {
    /// Parses a value of `SOPS_HC_VAULT_ALLOWLIST`.
    pub fn parse(value: Option<&str>) -> std::result::Result<Self, ServiceError> {
        match value.filter(|v| !v.is_empty()).unwrap_or("all") {
            "all" => Ok(Allowlist {
                all: true,
                prefixes: Vec::new(),
            }),
            "none" => Ok(Allowlist {
                all: false,
                prefixes: Vec::new(),
            }),
            list => {
                let mut prefixes = Vec::new();
                for (i, p) in list.split(',').enumerate() {
                    let p = p.trim_matches(' ');
                    if p.is_empty() {
                        return Err(ServiceError::Settings(format!(
                            "{ALLOWLIST_ENV}'s entry {} is empty",
                            i + 1
                        )));
                    }
                    let mut p = p.to_string();
                    if !p.ends_with('/') {
                        p.push('/');
                    }
                    prefixes.push(p);
                }
                Ok(Allowlist {
                    all: false,
                    prefixes,
                })
            }
        }
    }

    /// Whether the file may send the token to `address`.
    pub fn allows(&self, address: &str) -> bool {
        if self.all {
            return true;
        }
        let mut a = address.to_string();
        if !a.ends_with('/') {
            a.push('/');
        }
        self.prefixes.iter().any(|p| a.starts_with(p.as_str()))
    }
}

/// The Vault token: `VAULT_TOKEN`, else `~/.vault-token` (trimmed); `None` when neither is set.
#[cfg_attr(not(feature = "kms-vault"), allow(dead_code))]
fn token() -> std::result::Result<Option<Zeroizing<String>>, ServiceError> {
    if let Ok(t) = std::env::var("VAULT_TOKEN") {
        if !t.is_empty() {
            return Ok(Some(Zeroizing::new(t)));
        }
    }
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let path = std::path::Path::new(&home).join(".vault-token");
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let t = Zeroizing::new(t);
            Ok(Some(Zeroizing::new(t.trim().to_string())).filter(|t| !t.is_empty()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ServiceError::Credentials(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// The Vault transit key source. Its HTTP client is built on first use.
#[derive(Default)]
pub struct VaultSource {
    #[cfg(feature = "kms-vault")]
    client: std::sync::OnceLock<crate::os::http::Client>,
}

/// How long one Vault request may take.
#[cfg(feature = "kms-vault")]
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl VaultSource {
    /// Calls `{address}/v1/{engine}/{op}/{key}` with `payload`; the `data` object of the answer.
    #[cfg(feature = "kms-vault")]
    fn call(
        &self,
        key: &VaultKey,
        op: &str,
        payload: serde_json::Value,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, ServiceError> {
        use crate::os::{http::Client, net::Tls};
        let allow = Allowlist::parse(std::env::var(ALLOWLIST_ENV).ok().as_deref())?;
        if !allow.allows(&key.address) {
            return Err(ServiceError::Settings(format!(
                "{ALLOWLIST_ENV} does not allow {}, so no token is sent there",
                key.address
            )));
        }
        let skip = match std::env::var("VAULT_SKIP_VERIFY") {
            Ok(v) if !v.is_empty() => crate::gocompat::parse_bool(&v).ok_or_else(|| {
                ServiceError::Settings(format!("VAULT_SKIP_VERIFY is not a boolean: {v:?}"))
            })?,
            _ => false,
        };
        let client = self.client.get_or_init(|| {
            let tls = Tls {
                ca_file: std::env::var_os("VAULT_CACERT")
                    .filter(|v| !v.is_empty())
                    .map(Into::into),
                insecure: skip,
                ..Tls::default()
            };
            Client::for_api(tls, REQUEST_TIMEOUT)
        });
        let token = token()?;
        let namespace = std::env::var("VAULT_NAMESPACE").unwrap_or_default();
        let mut headers = vec![("X-Vault-Request", "true")];
        if let Some(t) = token.as_deref() {
            headers.push(("X-Vault-Token", t.as_str()));
        }
        if !namespace.is_empty() {
            headers.push(("X-Vault-Namespace", namespace.as_str()));
        }
        let path = format!("{}/{op}/{}", key.engine_path, key.key_name);
        let url = format!("{}/v1/{path}", key.address);
        let body = Zeroizing::new(serde_json::to_vec(&payload).expect("JSON of a map"));
        let resp = client.post(&url, &headers, body.to_vec())?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        match resp.status {
            200..=299 => match json.and_then(|mut j| j.get_mut("data").map(serde_json::Value::take)) {
                Some(serde_json::Value::Object(data)) => Ok(data),
                _ => Err(ServiceError::Answer(format!(
                    "transit {op}: the answer holds no data"
                ))),
            },
            300..=399 => Err(ServiceError::Answer(format!(
                "transit {op}: the server redirected (HTTP {}) to {}; not followed, the token is only sent to the address in the file",
                resp.status,
                resp.location.as_deref().unwrap_or("?")
            ))),
            status => {
                let errors = json
                    .as_ref()
                    .and_then(|j| j.get("errors"))
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(serde_json::Value::as_str)
                            .map(|s| s.replace('\n', " "))
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "no error text".into());
                Err(ServiceError::Answer(format!(
                    "transit {op}: {errors} (HTTP {status})"
                )))
            }
        }
    }

    #[cfg(not(feature = "kms-vault"))]
    fn call(
        &self,
        _key: &VaultKey,
        _op: &str,
        _payload: serde_json::Value,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, ServiceError> {
        Err(ServiceError::NotBuilt("Vault transit"))
    }
}

impl super::KeySource for VaultSource {
    fn kind(&self) -> &'static str {
        "hc_vault"
    }

    /// Wraps `secret` with the transit key at URI `recipient`.
    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry> {
        use base64::Engine;
        let fail = |reason: &dyn std::fmt::Display| SopsError::KeyWrap {
            key: recipient.to_string(),
            reason: reason.to_string(),
        };
        let key = VaultKey::from_uri(recipient).map_err(|e| fail(&e))?;
        let plaintext = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(secret));
        let data = self
            .call(
                &key,
                "encrypt",
                serde_json::json!({ "plaintext": plaintext.as_str() }),
            )
            .map_err(|e| fail(&e))?;
        let enc = data
            .get("ciphertext")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| fail(&"transit encrypt: the answer holds no ciphertext"))?;
        Ok(KeyEntry::HcVault(VaultEntry {
            vault_address: key.address,
            engine_path: key.engine_path,
            key_name: key.key_name,
            created_at: now_rfc3339(),
            enc: enc.to_string(),
        }))
    }

    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>> {
        let KeyEntry::HcVault(e) = entry else {
            return Err(SopsError::wrong_kind("hc_vault", entry));
        };
        let key = VaultKey::of_entry(e);
        let mut data = self
            .call(
                &key,
                "decrypt",
                serde_json::json!({ "ciphertext": e.enc.as_str() }),
            )
            .map_err(|e| SopsError::Unwrap(e.to_string()))?;
        super::decoded_plaintext(data.remove("plaintext"), "transit decrypt")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_like_sops() {
        let k = VaultKey::from_uri("https://vault.example.com:8200/v1/transit/keys/sops").unwrap();
        assert_eq!(k.address, "https://vault.example.com:8200");
        assert_eq!(k.engine_path, "transit");
        assert_eq!(k.key_name, "sops");
        let k = VaultKey::from_uri("http://127.0.0.1:8200/v1/a/b/transit/keys/k1/").unwrap();
        assert_eq!(
            (k.engine_path.as_str(), k.key_name.as_str()),
            ("a/b/transit", "k1")
        );
        assert_eq!(k.uri(), "http://127.0.0.1:8200/v1/a/b/transit/keys/k1");
        assert!(VaultKey::from_uri("vault:8200/v1/transit/keys/k")
            .unwrap_err()
            .to_string()
            .starts_with("missing scheme"));
        assert!(VaultKey::from_uri("https://v/vault/v1/transit/keys/k")
            .unwrap_err()
            .to_string()
            .contains("prefixed URL"));
        assert!(VaultKey::from_uri("https://v/v1/transit")
            .unwrap_err()
            .to_string()
            .contains("not seem to be formatted"));
        assert_eq!(
            uris_from_list("http://a/v1/t/keys/x,,http://b/v1/t/keys/y").unwrap(),
            ["http://a/v1/t/keys/x", "http://b/v1/t/keys/y"]
        );
    }

    #[test]
    fn allowlist_like_sops() {
        let all = Allowlist::parse(None).unwrap();
        assert!(all.allows("http://evil:1"));
        assert!(Allowlist::parse(Some("")).unwrap().allows("http://x"));
        assert!(!Allowlist::parse(Some("none"))
            .unwrap()
            .allows("http://127.0.0.1:8200"));
        let l = Allowlist::parse(Some("http://127.0.0.1:8200, https://vault.corp")).unwrap();
        assert!(l.allows("http://127.0.0.1:8200"));
        assert!(l.allows("https://vault.corp"));
        assert!(!l.allows("http://127.0.0.1:82001"), "prefix ends at a /");
        assert!(!l.allows("https://vault.corp.evil"));
        assert_eq!(
            Allowlist::parse(Some("http://a,,http://b"))
                .unwrap_err()
                .to_string(),
            "SOPS_HC_VAULT_ALLOWLIST's entry 2 is empty"
        );
    }
}
