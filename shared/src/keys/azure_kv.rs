//! Azure Key Vault keys, as sops 3.13.2 uses them (`azkv/`, the Go SDK's `azkeys` 1.5).
//!
//! A key is named by `https://VAULT/keys/NAME[/VERSION]`. The data key is sent to
//! `POST {vault}/keys/{name}/{version}/encrypt?api-version=2025-07-01` as
//! `{alg: "RSA-OAEP-256", value: base64url}` and the answer's `value` is stored as `enc`
//! (base64url without padding); `…/decrypt` reverses it. RSA runs inside the vault. A key named
//! without a version gets the current one from `GET {vault}/keys/{name}/` first, like sops.
//!
//! The bearer token: the first request to a vault goes out without a token and without a body; its
//! `401` names in `WWW-Authenticate` the resource (or scope) to get a token for. As the Azure SDKs
//! do, no token is sent unless the vault's host ends with `.` + the challenge resource's host, so a
//! file cannot send a token for the real vault domain to a host of its choosing. Tokens come from
//! the chain Go's `DefaultAzureCredential` walks (see the `creds` module); redirects are never
//! followed.

use super::{BadKeyId, ServiceError};
use crate::error::{Result, SopsError};
use crate::metadata::{now_rfc3339, AzureKvEntry, KeyEntry};
use zeroize::Zeroizing;

/// The environment variable sops reads for `--azure-kv`.
pub const URLS_ENV: &str = "SOPS_AZURE_KEYVAULT_URLS";

/// The Key Vault REST API version sops 3.13.2 sends (azkeys 1.5.0).
pub const API_VERSION: &str = "2025-07-01";

/// sops' key URL pattern.
const URL_PATTERN: &str = r"^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$";

/// An Azure Key Vault key: vault URL, key name and version (empty: resolved on first use).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AzureKey {
    /// `https://NAME.vault.azure.net` (no trailing slash).
    pub vault_url: String,
    /// Key name.
    pub name: String,
    /// Key version (empty = the current version, looked up before wrapping).
    pub version: String,
}

impl AzureKey {
    /// Parses a key URL like sops' `NewMasterKeyFromURL` (spaces around it trimmed).
    pub fn from_url(url: &str) -> std::result::Result<Self, BadKeyId> {
        let url = url.trim();
        let re = regex::Regex::new(URL_PATTERN).expect("valid regex");
        let Some(c) = re.captures(url) else {
            return Err(BadKeyId(format!(
                "could not parse {url:?} into a valid Azure Key Vault MasterKey"
            )));
        };
        let version = c
            .get(3)
            .map(|m| m.as_str().trim_start_matches('/'))
            .unwrap_or("");
        Ok(AzureKey {
            vault_url: c[1].to_string(),
            name: c[2].to_string(),
            version: version.to_string(),
        })
    }

    /// A key from a `.sops.yaml` key group's `{vaultUrl, key, version}`.
    pub fn new(vault_url: &str, name: &str, version: &str) -> std::result::Result<Self, BadKeyId> {
        let vault_url = vault_url.trim().trim_end_matches('/');
        let key = AzureKey {
            vault_url: vault_url.to_string(),
            name: name.trim().to_string(),
            version: version.trim().to_string(),
        };
        // the same checks as a URL (https, a host, a name without /)
        Self::from_url(&format!(
            "{}/keys/{}/{}",
            key.vault_url, key.name, key.version
        ))?;
        Ok(key)
    }

    /// The key a metadata entry was made for.
    pub fn of_entry(e: &AzureKvEntry) -> Self {
        AzureKey {
            vault_url: e.vault_url.clone(),
            name: e.name.clone(),
            version: e.version.clone(),
        }
    }

    /// The key as sops names it: `{vault_url}/keys/{name}/{version}`.
    pub fn url(&self) -> String {
        format!("{}/keys/{}/{}", self.vault_url, self.name, self.version)
    }
}

/// Parses a comma separated list of key URLs (`--azure-kv`, `SOPS_AZURE_KEYVAULT_URLS`,
/// `.sops.yaml` `azure_keyvault`); empty parts are skipped, every other part must parse.
pub fn keys_from_list(list: &str) -> std::result::Result<Vec<AzureKey>, BadKeyId> {
    list.split(',')
        .filter(|u| !u.trim().is_empty())
        .map(AzureKey::from_url)
        .collect()
}

/// The authority (`[user@]host[:port]`) of a `scheme://…` URL; empty without a scheme (as Go's
/// `url.Parse(…).Host` of a bare `vault.azure.net`).
fn authority(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return "";
    };
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The host (with port, lower case) an HTTP client connects to for `url`: the authority after its
/// last `@`, as the `http` crate and Go's `net/url` read it.
fn host_of(url: &str) -> String {
    authority(url)
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// What a vault's bearer challenge asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The token scope (`{resource}/.default`).
    pub scope: String,
    /// The tenant named by the `authorization` URL (may be empty).
    pub tenant: String,
}

impl Challenge {
    /// Parses `WWW-Authenticate: Bearer authorization="…", resource="…"` (or `scope="…"`) and checks,
    /// like the SDK's `verifyChallengeResource`, that the vault host ends with `.` + the host of the
    /// scope.
    pub fn parse(header: &str, vault_url: &str) -> std::result::Result<Self, ServiceError> {
        let refuse = |why: String| ServiceError::Answer(why);
        let re = regex::Regex::new(r#"(\w+)="([^"]*)""#).expect("valid regex");
        let (mut scope, mut resource, mut auth) = (String::new(), String::new(), String::new());
        if !header
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("bearer")
        {
            return Err(refuse(
                "the vault's challenge is not a bearer challenge".into(),
            ));
        }
        for c in re.captures_iter(header) {
            match &c[1] {
                "scope" => scope = c[2].to_string(),
                "resource" => resource = c[2].to_string(),
                "authorization" | "authorization_uri" => auth = c[2].to_string(),
                _ => {}
            }
        }
        if scope.is_empty() {
            if resource.is_empty() {
                return Err(refuse(
                    "the vault's challenge names no resource or scope".into(),
                ));
            }
            scope = format!("{}/.default", resource.trim_end_matches('/'));
        }
        // user information (`https://x.vault.azure.net@evil.test`) would make the text before the
        // `@` look like the vault while the request goes to the host after it: refused outright
        if authority(vault_url).contains('@') || authority(&scope).contains('@') {
            return Err(refuse(
                "the vault URL or the challenge resource holds user information; no token is sent there"
                    .into(),
            ));
        }
        let challenge_host = host_of(&scope);
        let vault_host = host_of(vault_url);
        if challenge_host.is_empty() || !vault_host.ends_with(&format!(".{challenge_host}")) {
            return Err(refuse(format!(
                "the challenge resource {challenge_host:?} does not match the vault's domain {vault_host:?}; no token is sent there"
            )));
        }
        let tenant = auth
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|t| !t.contains(':') && !t.is_empty())
            .unwrap_or("")
            .to_string();
        Ok(Challenge { scope, tenant })
    }
}

/// The Azure Key Vault key source. Its HTTP client, challenges and tokens are made on first use.
#[derive(Default)]
pub struct AzureKvSource {
    #[cfg(feature = "kms-azure")]
    client: std::sync::OnceLock<crate::os::http::Client>,
    #[cfg(feature = "kms-azure")]
    challenges: std::sync::Mutex<std::collections::HashMap<String, Challenge>>,
    #[cfg(feature = "kms-azure")]
    tokens: std::sync::Mutex<std::collections::HashMap<String, super::oauth::AccessToken>>,
}

/// How long one vault or token request may take.
#[cfg(feature = "kms-azure")]
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

#[cfg(feature = "kms-azure")]
impl AzureKvSource {
    fn client(&self) -> &crate::os::http::Client {
        self.client.get_or_init(|| {
            crate::os::http::Client::for_api(crate::os::net::Tls::default(), REQUEST_TIMEOUT)
        })
    }

    /// Calls `{vault}/keys/{name}/{version}{/op}` (GET without `payload`), answering the bearer
    /// challenge first; the answer's JSON.
    fn call(
        &self,
        key: &AzureKey,
        op: &str,
        payload: Option<serde_json::Value>,
    ) -> std::result::Result<serde_json::Value, ServiceError> {
        AzureKey::from_url(&key.url())?;
        let client = self.client();
        let op_path = if op == "get" {
            String::new()
        } else {
            format!("/{op}")
        };
        let url = request_url(key, &op_path);
        let method = if payload.is_some() { "POST" } else { "GET" };
        let challenge = self.challenge(client, &key.vault_url, method, &url)?;
        let token = self.token(client, &challenge)?;
        let auth = Zeroizing::new(format!("Bearer {}", token.secret.as_str()));
        let headers = [("Authorization", auth.as_str())];
        let resp = match payload {
            Some(p) => {
                let body = Zeroizing::new(serde_json::to_vec(&p).expect("JSON of a map"));
                client.post(&url, &headers, body.to_vec())?
            }
            None => client.get(&url, &headers)?,
        };
        super::oauth::json_answer(&format!("Key Vault {op}"), &resp, |status| {
            format!(
                "the vault redirected (HTTP {status}); not followed, the token is only sent to the vault in the file"
            )
        })
    }

    /// The vault's bearer challenge (asked once per vault: the request without token or body).
    fn challenge(
        &self,
        client: &crate::os::http::Client,
        vault_url: &str,
        method: &str,
        url: &str,
    ) -> std::result::Result<Challenge, ServiceError> {
        let mut cache = self.challenges.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(vault_url) {
            return Ok(c.clone());
        }
        let body = (method == "POST").then(|| ("application/json", Vec::new()));
        let resp = client.send(method, url, &[], body)?;
        let header = match (resp.status, resp.www_authenticate) {
            (401, Some(h)) => h,
            (status, _) => {
                return Err(ServiceError::Answer(format!(
                    "{vault_url} did not answer with a bearer challenge (HTTP {status}); is it an Azure Key Vault?"
                )))
            }
        };
        let c = Challenge::parse(&header, vault_url)?;
        cache.insert(vault_url.to_string(), c.clone());
        Ok(c)
    }

    fn token(
        &self,
        client: &crate::os::http::Client,
        challenge: &Challenge,
    ) -> std::result::Result<super::oauth::AccessToken, ServiceError> {
        let mut cache = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = cache.get(&challenge.scope).filter(|t| t.fresh()) {
            return Ok(t.clone());
        }
        let t = creds::token(client, challenge)?;
        cache.insert(challenge.scope.clone(), t.clone());
        Ok(t)
    }

    fn operation(
        &self,
        key: &AzureKey,
        op: &str,
        value: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, ServiceError> {
        use base64::Engine;
        let v = Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
        let mut json = self.call(
            key,
            op,
            Some(serde_json::json!({ "alg": "RSA-OAEP-256", "value": v.as_str() })),
        )?;
        let out = match json.get_mut("value").map(serde_json::Value::take) {
            Some(serde_json::Value::String(s)) => Zeroizing::new(s),
            _ => {
                return Err(ServiceError::Answer(format!(
                    "Key Vault {op}: the answer holds no value"
                )))
            }
        };
        b64url_decode(&out).ok_or_else(|| {
            ServiceError::Answer(format!("Key Vault {op}: the value is not base64url"))
        })
    }

    /// The current version of `key` (`GET {vault}/keys/{name}/`, the last segment of `key.kid`).
    fn current_version(&self, key: &AzureKey) -> std::result::Result<String, ServiceError> {
        let json = self.call(key, "get", None)?;
        json.get("key")
            .and_then(|k| k.get("kid"))
            .and_then(serde_json::Value::as_str)
            .and_then(|kid| kid.trim_end_matches('/').rsplit('/').next())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ServiceError::Answer("Key Vault get: the answer names no key version".into())
            })
    }
}

/// `{vault}/keys/{name}/{version}{op_path}?api-version=…`, name and version escaped as path
/// segments (as azkeys does): text from the file cannot turn the request into another operation
/// (`version: "rotate?api-version=7.4&x="` would otherwise POST to `/keys/NAME/rotate`).
#[cfg(feature = "kms-azure")]
fn request_url(key: &AzureKey, op_path: &str) -> String {
    use crate::os::http::path_segment;
    format!(
        "{}/keys/{}/{}{op_path}?api-version={API_VERSION}",
        key.vault_url,
        path_segment(&key.name),
        path_segment(&key.version)
    )
}

/// Decodes base64url with or without padding.
fn b64url_decode(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
    use base64::Engine;
    let engine = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        general_purpose::NO_PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    engine.decode(s.trim()).ok().map(Zeroizing::new)
}

impl AzureKvSource {
    /// Wraps `secret` with `key` (its current version looked up first when none is named).
    pub fn wrap_key(&self, key: &AzureKey, secret: &[u8]) -> Result<KeyEntry> {
        use base64::Engine;
        let (key, blob) = self.encrypt(key, secret).map_err(|e| SopsError::KeyWrap {
            key: key.url(),
            reason: e.to_string(),
        })?;
        Ok(KeyEntry::AzureKv(AzureKvEntry {
            vault_url: key.vault_url,
            name: key.name,
            version: key.version,
            created_at: now_rfc3339(),
            enc: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*blob),
        }))
    }

    #[cfg(feature = "kms-azure")]
    fn encrypt(
        &self,
        key: &AzureKey,
        secret: &[u8],
    ) -> std::result::Result<(AzureKey, Zeroizing<Vec<u8>>), ServiceError> {
        let mut key = key.clone();
        if key.version.is_empty() {
            key.version = self.current_version(&key)?;
        }
        let blob = self.operation(&key, "encrypt", secret)?;
        Ok((key, blob))
    }

    #[cfg(feature = "kms-azure")]
    fn decrypt(
        &self,
        key: &AzureKey,
        blob: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, ServiceError> {
        if key.version.is_empty() {
            return Err(BadKeyId("the entry names no key version".into()).into());
        }
        self.operation(key, "decrypt", blob)
    }

    #[cfg(not(feature = "kms-azure"))]
    fn encrypt(
        &self,
        _key: &AzureKey,
        _secret: &[u8],
    ) -> std::result::Result<(AzureKey, Zeroizing<Vec<u8>>), ServiceError> {
        Err(ServiceError::NotBuilt("Azure Key Vault"))
    }

    #[cfg(not(feature = "kms-azure"))]
    fn decrypt(
        &self,
        _key: &AzureKey,
        _blob: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, ServiceError> {
        Err(ServiceError::NotBuilt("Azure Key Vault"))
    }
}

impl super::KeySource for AzureKvSource {
    fn kind(&self) -> &'static str {
        "azure_kv"
    }

    /// Wraps `secret` for the key URL `recipient`.
    fn wrap(&self, recipient: &str, secret: &[u8]) -> Result<KeyEntry> {
        let key = AzureKey::from_url(recipient).map_err(|e| SopsError::KeyWrap {
            key: recipient.to_string(),
            reason: e.to_string(),
        })?;
        self.wrap_key(&key, secret)
    }

    fn unwrap(&self, entry: &KeyEntry) -> Result<Zeroizing<Vec<u8>>> {
        let KeyEntry::AzureKv(e) = entry else {
            return Err(SopsError::wrong_kind("azure_kv", entry));
        };
        let blob = b64url_decode(&e.enc).ok_or_else(|| {
            SopsError::Unwrap("failed to base64 decode Azure Key Vault encrypted key".to_string())
        })?;
        self.decrypt(&AzureKey::of_entry(e), &blob)
            .map_err(|e| SopsError::Unwrap(e.to_string()))
    }
}

#[cfg(feature = "kms-azure")]
mod creds;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_like_sops() {
        let k = AzureKey::from_url(" https://v.vault.azure.net/keys/k/0123 ").unwrap();
        assert_eq!(
            (k.vault_url.as_str(), k.name.as_str(), k.version.as_str()),
            ("https://v.vault.azure.net", "k", "0123")
        );
        assert_eq!(k.url(), "https://v.vault.azure.net/keys/k/0123");
        let k = AzureKey::from_url("https://v.vault.azure.net/keys/k").unwrap();
        assert_eq!(k.version, "");
        assert_eq!(AzureKey::from_url("https://v/keys/k/").unwrap().version, "");
        assert!(AzureKey::from_url("http://v/keys/k").is_err());
        assert!(AzureKey::from_url("https://v/keys/k/1/2").is_err());
        assert_eq!(
            keys_from_list("https://a/keys/x,,https://b/keys/y/1")
                .unwrap()
                .len(),
            2
        );
        assert!(AzureKey::new("https://v.vault.azure.net/", "k", "").is_ok());
        assert!(AzureKey::new("v.vault.azure.net", "k", "").is_err());
    }

    #[test]
    fn challenge_resource_must_be_a_parent_domain() {
        let h = r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;
        let c = Challenge::parse(h, "https://v.vault.azure.net").unwrap();
        assert_eq!(c.scope, "https://vault.azure.net/.default");
        assert_eq!(c.tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
        let e = Challenge::parse(h, "https://evil.example.com").unwrap_err();
        assert!(
            e.to_string().contains("does not match the vault's domain"),
            "{e}"
        );
        assert!(Challenge::parse(h, "https://vault.azure.net").is_err());
        assert!(Challenge::parse(h, "https://xvault.azure.net").is_err());
        let h = r#"Bearer authorization="https://login.microsoftonline.com/t", scope="https://localhost:8443/.default""#;
        assert!(Challenge::parse(h, "https://sops.localhost:8443").is_ok());
        assert!(Challenge::parse("Basic realm=\"x\"", "https://a.b").is_err());
    }

    #[cfg(feature = "kms-azure")]
    #[test]
    fn names_from_the_file_stay_path_segments() {
        let key = AzureKey::from_url("https://v.vault.azure.net/keys/sops-key/0123abcd").unwrap();
        assert_eq!(
            request_url(&key, "/decrypt"),
            format!("https://v.vault.azure.net/keys/sops-key/0123abcd/decrypt?api-version={API_VERSION}")
        );
        let key = AzureKey::from_url("https://v.vault.azure.net/keys/k").unwrap();
        assert_eq!(
            request_url(&key, ""),
            format!("https://v.vault.azure.net/keys/k/?api-version={API_VERSION}")
        );
        // a hostile entry: version "rotate?api-version=7.4&x=" must not POST to /keys/k/rotate
        let key = AzureKey::of_entry(&AzureKvEntry {
            vault_url: "https://v.vault.azure.net".into(),
            name: "k#".into(),
            version: "rotate?api-version=7.4&x=".into(),
            ..AzureKvEntry::default()
        });
        assert_eq!(
            request_url(&key, "/decrypt"),
            format!("https://v.vault.azure.net/keys/k%23/rotate%3Fapi-version%3D7.4%26x%3D/decrypt?api-version={API_VERSION}")
        );
    }

    #[test]
    fn user_information_cannot_pass_for_the_vault_domain() {
        // the request to this URL goes to evil.test, whose challenge names a resource that ends
        // the same way: no token may be asked for
        let h = r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net@evil.test""#;
        let e = Challenge::parse(h, "https://x.vault.azure.net@evil.test").unwrap_err();
        assert!(e.to_string().contains("no token is sent"), "{e}");
        let h = r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#;
        assert!(Challenge::parse(h, "https://x.vault.azure.net@evil.test").is_err());
        assert!(Challenge::parse(h, "https://evil.test@x.vault.azure.net").is_err());
        // a resource without a scheme names no host (Go: an empty Host never matches)
        let h = r#"Bearer authorization="https://login.microsoftonline.com/t", resource="vault.azure.net""#;
        assert!(Challenge::parse(h, "https://x.vault.azure.net").is_err());
        // host names compare without regard to case, as Go lowercases the request's host
        let h = r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#;
        assert!(Challenge::parse(h, "https://X.Vault.Azure.NET").is_ok());
    }
}
