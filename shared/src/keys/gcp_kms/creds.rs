//! The Google credential chain sops' GCP KMS client walks: `GOOGLE_CREDENTIALS`,
//! `GOOGLE_OAUTH_ACCESS_TOKEN`, then application default credentials. Errors name the source and
//! never quote a key, a refresh token or an access token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::super::oauth::{sign_rs256_jwt, token_from, unix_now, AccessToken};
use super::super::ServiceError;
use super::{ACCESS_TOKEN_ENV, CREDENTIALS_ENV};
use crate::os::http::Client;

/// The scope sops' client asks for.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint (the default `token_uri`).
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long the metadata server may take (it is absent off GCP: fail fast).
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// A token from the first credential source that is set.
pub(super) fn token(client: &Client) -> Result<AccessToken, ServiceError> {
    if let Some(v) = var(CREDENTIALS_ENV) {
        // sops: a path when such a file exists, else the JSON itself
        let json = if Path::new(&v).exists() {
            Zeroizing::new(std::fs::read(&v).map_err(|e| {
                ServiceError::Credentials(format!(
                    "credentials: failed to obtain credentials from \"{CREDENTIALS_ENV}\": {e}"
                ))
            })?)
        } else {
            Zeroizing::new(v.into_bytes())
        };
        return from_json(client, &json, CREDENTIALS_ENV);
    }
    if let Some(t) = var(ACCESS_TOKEN_ENV) {
        return Ok(AccessToken::fixed(Zeroizing::new(t)));
    }
    // application default credentials
    if let Some(p) = var("GOOGLE_APPLICATION_CREDENTIALS") {
        let json = Zeroizing::new(std::fs::read(&p).map_err(|e| {
            ServiceError::Credentials(format!("google: error getting credentials using GOOGLE_APPLICATION_CREDENTIALS environment variable: {p}: {e}"))
        })?);
        return from_json(client, &json, "GOOGLE_APPLICATION_CREDENTIALS");
    }
    if let Some(p) = gcloud_adc_file().filter(|p| p.is_file()) {
        let json =
            Zeroizing::new(std::fs::read(&p).map_err(|e| {
                ServiceError::Credentials(format!("cannot read {}: {e}", p.display()))
            })?);
        return from_json(client, &json, &p.display().to_string());
    }
    metadata_server().map_err(|why| {
        why.context(format!(
            "no Google credentials ({CREDENTIALS_ENV}, {ACCESS_TOKEN_ENV}, ADC); metadata server"
        ))
    })
}

/// gcloud's ADC file: `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
/// `~/.config/gcloud/…`.
fn gcloud_adc_file() -> Option<PathBuf> {
    let dir = match var("CLOUDSDK_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(var("HOME")?).join(".config/gcloud"),
    };
    Some(dir.join("application_default_credentials.json"))
}

/// A token from a credential file's JSON (`origin` names it in errors).
fn from_json(client: &Client, json: &[u8], origin: &str) -> Result<AccessToken, ServiceError> {
    let creds = ServiceError::Credentials;
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|_| {
        creds(format!(
            "credentials from {origin} are neither a file nor valid JSON"
        ))
    })?;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    let token_uri = match field("token_uri") {
        "" => TOKEN_URI,
        u => u,
    };
    match field("type") {
        "service_account" => {
            let jwt = service_account_jwt(
                field("client_email"),
                field("private_key_id"),
                field("private_key"),
                token_uri,
            )
            .map_err(|e| e.context(format!("service account key from {origin}")))?;
            let resp = client.post_form(
                token_uri,
                &[],
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", jwt.as_str()),
                ],
            )?;
            token_from(&resp, "the token endpoint")
        }
        "authorized_user" => {
            let resp = client.post_form(
                token_uri,
                &[],
                &[
                    ("client_id", field("client_id")),
                    ("client_secret", field("client_secret")),
                    ("refresh_token", field("refresh_token")),
                    ("grant_type", "refresh_token"),
                ],
            )?;
            token_from(&resp, "the token endpoint")
        }
        "external_account" => external_account(client, &v)
            .map_err(|e| e.context(format!("workload identity federation ({origin})"))),
        "" => Err(creds(format!("credentials from {origin} have no \"type\""))),
        other => Err(creds(format!(
            "credentials of type {other:?} from {origin} are not supported (use a service account key, an authorized user, external_account, GOOGLE_OAUTH_ACCESS_TOKEN or the metadata server)"
        ))),
    }
}

/// Workload identity federation (`external_account`): the subject token from
/// `credential_source` (a `file` or a `url`, as text or a JSON field) is exchanged at `token_url`
/// (RFC 8693), then, with `service_account_impersonation_url`, for the service account's token.
/// AWS and executable sources are refused.
fn external_account(client: &Client, v: &serde_json::Value) -> Result<AccessToken, ServiceError> {
    let creds = ServiceError::Credentials;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    let src = v.get("credential_source").cloned().unwrap_or_default();
    let src_field = |k: &str| src.get(k).and_then(serde_json::Value::as_str);
    let raw = if let Some(file) = src_field("file") {
        Zeroizing::new(
            std::fs::read_to_string(file)
                .map_err(|e| creds(format!("cannot read the subject token file {file}: {e}")))?,
        )
    } else if let Some(url) = src_field("url") {
        let headers: Vec<(String, String)> = src
            .get("headers")
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = client.get(url, &h)?;
        if !(200..300).contains(&resp.status) {
            return Err(creds(format!(
                "the subject token URL answered HTTP {}",
                resp.status
            )));
        }
        Zeroizing::new(String::from_utf8_lossy(&resp.body).into_owned())
    } else {
        return Err(creds(
            "only file and url credential sources are supported".into(),
        ));
    };
    let format = src.get("format");
    let subject = match format
        .and_then(|f| f.get("type"))
        .and_then(serde_json::Value::as_str)
    {
        Some("json") => {
            let name = format
                .and_then(|f| f.get("subject_token_field_name"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let j: serde_json::Value = serde_json::from_str(&raw)
                .map_err(|_| creds("the subject token is not JSON".into()))?;
            Zeroizing::new(
                j.get(name)
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| creds(format!("the subject token has no field {name:?}")))?
                    .to_string(),
            )
        }
        _ => Zeroizing::new(raw.trim().to_string()),
    };
    let token_url = match field("token_url") {
        "" => "https://sts.googleapis.com/v1/token",
        u => u,
    };
    let resp = client.post_form(
        token_url,
        &[],
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("audience", field("audience")),
            ("scope", SCOPE),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("subject_token_type", field("subject_token_type")),
            ("subject_token", subject.as_str()),
        ],
    )?;
    let sts = token_from(&resp, "the STS endpoint")?;
    let url = field("service_account_impersonation_url");
    if url.is_empty() {
        return Ok(sts);
    }
    let auth = Zeroizing::new(format!("Bearer {}", sts.secret.as_str()));
    let body = serde_json::json!({ "scope": [SCOPE], "lifetime": "3600s" });
    let resp = client.post(
        url,
        &[("Authorization", auth.as_str())],
        body.to_string().into_bytes(),
    )?;
    token_from(&resp, "the service account impersonation endpoint")
}

/// The signed JWT a service account exchanges for a token (RS256 with ring).
fn service_account_jwt(
    email: &str,
    key_id: &str,
    pem: &str,
    aud: &str,
) -> Result<Zeroizing<String>, ServiceError> {
    if email.is_empty() || pem.is_empty() {
        return Err(ServiceError::Credentials(
            "client_email or private_key is missing".into(),
        ));
    }
    let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    if !key_id.is_empty() {
        header["kid"] = key_id.into();
    }
    let now = unix_now();
    let claims = serde_json::json!({
        "iss": email, "scope": SCOPE, "aud": aud, "iat": now, "exp": now + 3600,
    });
    sign_rs256_jwt(&header, &claims, pem.as_bytes())
        .map_err(|e| ServiceError::Credentials(format!("private_key {e}")))
}

/// The default service account's token from the metadata server (`GCE_METADATA_HOST` or
/// 169.254.169.254), with a short time limit.
fn metadata_server() -> Result<AccessToken, ServiceError> {
    let host = var("GCE_METADATA_HOST").unwrap_or_else(|| "169.254.169.254".into());
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
    let client = Client::for_api(crate::os::net::Tls::default(), METADATA_TIMEOUT).without_proxy();
    let resp = client.get(&url, &[("Metadata-Flavor", "Google")])?;
    token_from(&resp, "the metadata server")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_service_account_keys_are_named_not_quoted() {
        let e = service_account_jwt(
            "a@b",
            "",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            TOKEN_URI,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "private_key is not a usable RSA key");
        assert_eq!(
            service_account_jwt("a@b", "", "no pem", TOKEN_URI)
                .unwrap_err()
                .to_string(),
            "private_key holds no PEM private key"
        );
        assert_eq!(
            service_account_jwt("", "", "x", TOKEN_URI)
                .unwrap_err()
                .to_string(),
            "client_email or private_key is missing"
        );
    }
}
