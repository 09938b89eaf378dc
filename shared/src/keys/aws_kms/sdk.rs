//! The AWS SDK side of [`super::KmsSource`]: `aws-config`'s standard chain and `aws-sdk-kms` on
//! rustls + ring, loaded only when a `kms` entry is tried, with short time-outs.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_kms::primitives::Blob;
use zeroize::Zeroizing;

use super::KmsKey;
use crate::keys::ServiceError;
use crate::os::net::block_on;

/// Time to connect to KMS, STS or a credential endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for one whole KMS call, credential resolution and retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the standard chain looks for credentials, for the message when it finds none.
const CHAIN: &str = "environment (AWS_ACCESS_KEY_ID…), shared config/credentials files and their profile (incl. SSO and credential_process), web identity token (IRSA), ECS/EKS container credentials, EC2 instance metadata";

/// The SDK entry points; holds nothing until used.
#[derive(Default)]
pub(super) struct Sdk;

impl Sdk {
    /// KMS `Encrypt`: the ciphertext blob.
    pub fn encrypt(&self, key: &KmsKey, secret: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let region = key.region()?;
        block_on(async {
            let client = client(key, region).await?;
            let mut req = client
                .encrypt()
                .key_id(&key.arn)
                .plaintext(Blob::new(secret.to_vec()));
            for (k, v) in &key.context {
                req = req.encryption_context(k, v);
            }
            let out = req.send().await.map_err(|e| sdk_error("Encrypt", e))?;
            out.ciphertext_blob.map(Blob::into_inner).ok_or_else(|| {
                ServiceError::Answer("KMS Encrypt returned no CiphertextBlob".into())
            })
        })?
    }

    /// KMS `Decrypt` with the entry's key id and context: the data key.
    pub fn decrypt(&self, key: &KmsKey, blob: Vec<u8>) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        let region = key.region()?;
        block_on(async {
            let client = client(key, region).await?;
            let mut req = client
                .decrypt()
                .key_id(&key.arn)
                .ciphertext_blob(Blob::new(blob));
            for (k, v) in &key.context {
                req = req.encryption_context(k, v);
            }
            let out = req.send().await.map_err(|e| sdk_error("Decrypt", e))?;
            out.plaintext
                .map(|p| Zeroizing::new(p.into_inner()))
                .ok_or_else(|| ServiceError::Answer("KMS Decrypt returned no Plaintext".into()))
        })?
    }
}

/// A KMS client for `key`: region from the ARN, `aws_profile` when set, the role assumed first.
async fn client(key: &KmsKey, region: String) -> Result<aws_sdk_kms::Client, ServiceError> {
    use aws_smithy_http_client::{tls, Connector};
    // rustls on ring, and HTTPS_PROXY/HTTP_PROXY/NO_PROXY as the Go SDK under sops honours them
    // (the Rust SDK's client leaves proxies off unless its connector is told)
    let proxies = proxy_config()?;
    let http = aws_smithy_http_client::Builder::new().build_with_connector_fn(
        move |settings, components| {
            let mut b = Connector::builder()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .proxy_config(proxies.clone());
            b.set_connector_settings(settings.cloned());
            if let Some(c) = components {
                // (the time source, only for connect-time logging, stays the system clock)
                b.set_sleep_impl(c.sleep_impl());
            }
            b.build()
        },
    );
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .http_client(http)
        .timeout_config(timeouts);
    if !key.aws_profile.is_empty() {
        loader = loader.profile_name(&key.aws_profile);
    }
    let conf = loader.load().await;
    let mut builder = aws_sdk_kms::config::Builder::from(&conf);
    if !key.role.is_empty() {
        let provider = aws_config::sts::AssumeRoleProvider::builder(&key.role)
            .session_name(session_name())
            .configure(&conf)
            .build()
            .await;
        builder = builder.credentials_provider(provider);
    }
    Ok(aws_sdk_kms::Client::from_conf(builder.build()))
}

/// The SDK's proxy settings by Go's rules (`http.ProxyFromEnvironment`, which the Go SDK under sops
/// follows) rather than its own reading of the environment: no `ALL_PROXY`, no `HTTP_PROXY` in a
/// CGI process, loopback never proxied. The SDK takes one proxy URL: `HTTPS_PROXY` for https
/// requests (all requests when `HTTP_PROXY` is the same), else `HTTP_PROXY` for http requests.
fn proxy_config() -> Result<aws_smithy_http_client::proxy::ProxyConfig, ServiceError> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    // an `http://` KMS endpoint (a local test server) goes through HTTP_PROXY
    let endpoint = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    let http_needed = endpoint.is_some_and(|e| e.starts_with("http://"));
    let Some(p) = crate::os::proxy::ProxyEnv::from_env()
        .for_other_client(http_needed)
        .map_err(crate::os::http::HttpError::from)?
    else {
        return Ok(ProxyConfig::disabled());
    };
    let (url, config) = match (&p.https, &p.http) {
        (Some(s), Some(h)) if s == h => (s, ProxyConfig::all(s)),
        (Some(s), _) => (s, ProxyConfig::https(s)),
        (None, Some(h)) => (h, ProxyConfig::http(h)),
        (None, None) => return Ok(ProxyConfig::disabled()),
    };
    // (the SDK's error may quote the URL, password and all: not passed on)
    let config = config.map_err(|_| {
        ServiceError::Settings(format!(
            "the AWS SDK cannot use the proxy {}",
            crate::os::http::redact(url)
        ))
    })?;
    Ok(config.no_proxy(&p.no_proxy))
}

/// `sops@<hostname>` with the characters STS refuses removed, at most 64 characters (sops'
/// `stsSessionName`).
fn session_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let clean: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(*c))
        .collect();
    let mut name = format!("sops@{clean}");
    name.truncate(64);
    name
}

/// One line for an SDK failure; a missing credential source names the chain that was tried.
fn sdk_error<E, R>(op: &str, e: aws_sdk_kms::error::SdkError<E, R>) -> ServiceError
where
    E: std::error::Error + aws_sdk_kms::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_kms::error::SdkError;
    let text = aws_sdk_kms::error::DisplayErrorContext(&e)
        .to_string()
        .replace('\n', " ");
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) if text.contains("credential") => {
            ServiceError::Credentials(format!(
                "KMS {op}: no AWS credentials (tried {CHAIN}): {text}"
            ))
        }
        _ if text.contains("no providers in chain provided credentials")
            || text.contains("failed to load credentials") =>
        {
            ServiceError::Credentials(format!(
                "KMS {op}: no AWS credentials (tried {CHAIN}): {text}"
            ))
        }
        SdkError::ServiceError(s) => {
            let msg = aws_sdk_kms::error::ProvideErrorMetadata::message(s.err())
                .unwrap_or_default()
                .to_string();
            let code = aws_sdk_kms::error::ProvideErrorMetadata::code(s.err())
                .unwrap_or("error")
                .to_string();
            ServiceError::Answer(if msg.is_empty() {
                format!("KMS {op}: {code}")
            } else {
                format!("KMS {op}: {code}: {msg}")
            })
        }
        _ => ServiceError::Sdk(format!("KMS {op}: {text}")),
    }
}
