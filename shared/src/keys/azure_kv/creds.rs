//! The credential chain of Go's `DefaultAzureCredential` (azidentity 1.14, which sops 3.13.2 uses):
//! the environment's service principal (client secret, or a PEM certificate with an unencrypted
//! key), workload identity, managed identity, the Azure CLI, the
//! Azure Developer CLI. A source that is not set up is skipped; one that is set up and fails ends
//! the chain with its error (as Go's chain does), except that an unreachable IMDS counts as not set
//! up. Errors never quote a secret, an assertion or a token.

use std::time::Duration;

use zeroize::Zeroizing;

use super::super::oauth::{run_helper, sign_rs256_jwt, token_from, unix_now, AccessToken};
use super::super::ServiceError;
use super::Challenge;
use crate::os::http::{Client, Response};

/// How long the IMDS endpoint may take (it is absent off Azure: fail fast).
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `az` / `azd` may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(10);

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`), without trailing slash.
fn authority_host() -> String {
    var("AZURE_AUTHORITY_HOST")
        .unwrap_or_else(|| "https://login.microsoftonline.com".into())
        .trim_end_matches('/')
        .to_string()
}

/// A source that is not set up (a note for the final message), or the error of one that is.
enum Outcome {
    Unavailable(String),
    Failed(ServiceError),
}

/// A source that is set up and cannot give a token, for `why`.
fn failed(why: impl Into<String>) -> Outcome {
    Outcome::Failed(ServiceError::Credentials(why.into()))
}

/// A request to `at` that did not get through.
fn request_failed(at: &str) -> impl Fn(crate::os::http::HttpError) -> Outcome + '_ {
    move |e| Outcome::Failed(ServiceError::from(e).context(at))
}

/// One credential source of the chain.
type Source = fn(&Client, &Challenge) -> Result<AccessToken, Outcome>;

/// A token for `challenge` from the first source that is set up.
pub(super) fn token(client: &Client, challenge: &Challenge) -> Result<AccessToken, ServiceError> {
    let mut skipped = Vec::new();
    let sources: [(&str, Source); 5] = [
        ("EnvironmentCredential", environment),
        ("WorkloadIdentityCredential", workload_identity),
        ("ManagedIdentityCredential", managed_identity),
        ("AzureCLICredential", azure_cli),
        ("AzureDeveloperCLICredential", azure_developer_cli),
    ];
    for (name, source) in sources {
        match source(client, challenge) {
            Ok(t) => return Ok(t),
            Err(Outcome::Failed(e)) => return Err(e.context(name)),
            Err(Outcome::Unavailable(why)) => skipped.push(why),
        }
    }
    Err(ServiceError::Credentials(format!(
        "no Azure credential: {}",
        skipped.join("; ")
    )))
}

/// The resource a v1 endpoint (managed identity, `az`) wants: the scope without `/.default`.
fn resource_of(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}

/// `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET` (or
/// `AZURE_CLIENT_CERTIFICATE_PATH`).
fn environment(client: &Client, c: &Challenge) -> Result<AccessToken, Outcome> {
    let (Some(tenant), Some(id)) = (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) else {
        return Err(Outcome::Unavailable("env unset".into()));
    };
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority_host());
    if let Some(secret) = std::env::var("AZURE_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .map(Zeroizing::new)
    {
        let resp = client
            .post_form(
                &url,
                &[],
                &[
                    ("client_id", id.as_str()),
                    ("scope", c.scope.as_str()),
                    ("client_secret", secret.as_str()),
                    ("grant_type", "client_credentials"),
                ],
            )
            .map_err(request_failed(&url))?;
        return token_from(&resp, "the authority").map_err(Outcome::Failed);
    }
    if let Some(path) = var("AZURE_CLIENT_CERTIFICATE_PATH") {
        let assertion = certificate_assertion(&path, &url, &id).map_err(Outcome::Failed)?;
        return assertion_grant(client, &url, &id, c, &assertion);
    }
    if var("AZURE_USERNAME").is_some() {
        return Err(failed(
            "AZURE_USERNAME/AZURE_PASSWORD credentials are not supported by this tool",
        ));
    }
    Err(Outcome::Unavailable("env secret unset".into()))
}

/// The client assertion of a certificate credential: a JWT for `aud` signed RS256 with the key
/// of the PEM file `path` (certificate and unencrypted private key), `x5t` = the certificate's
/// SHA-1 thumbprint, as MSAL sends it.
fn certificate_assertion(
    path: &str,
    aud: &str,
    client_id: &str,
) -> Result<Zeroizing<String>, ServiceError> {
    use base64::Engine;
    let creds = ServiceError::Credentials;
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    if var("AZURE_CLIENT_CERTIFICATE_PASSWORD").is_some() {
        return Err(creds("AZURE_CLIENT_CERTIFICATE_PASSWORD: password-protected certificates are not supported; use a PEM file with an unencrypted key".into()));
    }
    let pem =
        Zeroizing::new(std::fs::read(path).map_err(|e| creds(format!("cannot read {path}: {e}")))?);
    let cert = match CertificateDer::pem_slice_iter(&pem).next() {
        Some(Ok(c)) => c,
        _ => {
            return Err(creds(format!(
                "AZURE_CLIENT_CERTIFICATE_PATH {path} holds no PEM certificate (PKCS#12 files are not supported)"
            )))
        }
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
    let header =
        serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5t": b64(thumbprint.as_ref()) });
    let now = unix_now();
    let claims = serde_json::json!({
        "aud": aud, "iss": client_id, "sub": client_id, "jti": hex::encode(rand::random::<[u8; 16]>()),
        "nbf": now, "iat": now, "exp": now + 600,
    });
    sign_rs256_jwt(&header, &claims, &pem)
        .map_err(|e| creds(format!("AZURE_CLIENT_CERTIFICATE_PATH {path} {e}")))
}

/// Exchanges a client assertion (a certificate's JWT, or a federated token) at `url`.
fn assertion_grant(
    client: &Client,
    url: &str,
    client_id: &str,
    c: &Challenge,
    assertion: &str,
) -> Result<AccessToken, Outcome> {
    let resp = client
        .post_form(
            url,
            &[],
            &[
                ("client_id", client_id),
                ("scope", c.scope.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
                ("grant_type", "client_credentials"),
            ],
        )
        .map_err(request_failed(url))?;
    token_from(&resp, "the authority").map_err(Outcome::Failed)
}

/// `AZURE_FEDERATED_TOKEN_FILE` (+ `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`): the file's JWT is the
/// client assertion.
fn workload_identity(client: &Client, c: &Challenge) -> Result<AccessToken, Outcome> {
    let Some(file) = var("AZURE_FEDERATED_TOKEN_FILE") else {
        return Err(Outcome::Unavailable("workload identity unset".into()));
    };
    let (Some(tenant), Some(id)) = (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) else {
        return Err(failed(
            "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID or AZURE_CLIENT_ID is not",
        ));
    };
    let assertion = Zeroizing::new(
        std::fs::read_to_string(&file).map_err(|e| failed(format!("cannot read {file}: {e}")))?,
    );
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority_host());
    assertion_grant(client, &url, &id, c, assertion.trim())
}

/// App Service (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), else IMDS (`Metadata: true`, a short
/// time limit; `AZURE_POD_IDENTITY_AUTHORITY_HOST` replaces its address, as in the SDK). A user
/// assigned identity is chosen with `AZURE_CLIENT_ID`.
fn managed_identity(client: &Client, c: &Challenge) -> Result<AccessToken, Outcome> {
    let resource = resource_of(&c.scope);
    let client_id = var("AZURE_CLIENT_ID");
    let mut query = vec![("resource", resource)];
    if let Some(id) = client_id.as_deref() {
        query.push(("client_id", id));
    }
    if let (Some(endpoint), Some(header)) = (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
        let header = Zeroizing::new(header);
        let mut q = vec![("api-version", "2019-08-01")];
        q.extend(query.iter().copied());
        let url = format!("{endpoint}?{}", crate::os::http::form_encode(&q));
        let resp = client
            .get(&url, &[("X-IDENTITY-HEADER", header.as_str())])
            .map_err(request_failed(&endpoint))?;
        return token_from(&resp, "the App Service identity endpoint").map_err(Outcome::Failed);
    }
    let host =
        var("AZURE_POD_IDENTITY_AUTHORITY_HOST").unwrap_or_else(|| "http://169.254.169.254".into());
    let mut q = vec![("api-version", "2018-02-01")];
    q.extend(query.iter().copied());
    let url = format!(
        "{}/metadata/identity/oauth2/token?{}",
        host.trim_end_matches('/'),
        crate::os::http::form_encode(&q)
    );
    let imds = Client::for_api(crate::os::net::Tls::default(), IMDS_TIMEOUT).without_proxy();
    match imds.get(&url, &[("Metadata", "true")]) {
        Err(e @ crate::os::http::HttpError::Timeout(_)) => {
            Err(Outcome::Unavailable(format!("IMDS: {e}")))
        }
        Err(_) => Err(Outcome::Unavailable("IMDS unreachable".into())),
        Ok(resp) => imds_answer(&resp, client_id.is_some()),
    }
}

/// What an answer at the IMDS address means. `400` without a user-assigned identity: no identity
/// on this machine. An answer that is not JSON does not come from Azure's IMDS (AWS' and GCP's
/// metadata servers listen on the same address and answer 404 with text): not set up, so the chain
/// goes on to the CLIs, as in the Go SDK's chain.
fn imds_answer(resp: &Response, user_assigned: bool) -> Result<AccessToken, Outcome> {
    if resp.status == 400 && !user_assigned {
        return Err(Outcome::Unavailable("IMDS: no identity".into()));
    }
    if serde_json::from_slice::<serde_json::Value>(&resp.body).is_err() {
        return Err(Outcome::Unavailable(format!(
            "no Azure IMDS (HTTP {} without JSON)",
            resp.status
        )));
    }
    token_from(resp, "the IMDS identity endpoint").map_err(Outcome::Failed)
}

/// `az account get-access-token --resource R -o json` (`--tenant` with `AZURE_TENANT_ID`).
fn azure_cli(_client: &Client, c: &Challenge) -> Result<AccessToken, Outcome> {
    let tenant = var("AZURE_TENANT_ID");
    let mut args = vec![
        "account",
        "get-access-token",
        "-o",
        "json",
        "--resource",
        resource_of(&c.scope),
    ];
    if let Some(t) = tenant.as_deref() {
        args.extend(["--tenant", t]);
    }
    cli_token("az", &args)
}

/// `azd auth token --output json --scope S`.
fn azure_developer_cli(_client: &Client, c: &Challenge) -> Result<AccessToken, Outcome> {
    cli_token(
        "azd",
        &["auth", "token", "--output", "json", "--scope", &c.scope],
    )
}

/// Runs a CLI that prints `{"accessToken"|"token": …}`.
fn cli_token(program: &str, args: &[&str]) -> Result<AccessToken, Outcome> {
    let out = match run_helper(program, args, CLI_TIMEOUT) {
        Ok(Some(out)) => out,
        Ok(None) => return Err(Outcome::Unavailable(format!("{program} not installed"))),
        Err(e) => return Err(Outcome::Failed(e)),
    };
    let json: serde_json::Value =
        serde_json::from_slice(&out).map_err(|_| failed(format!("{program} printed no JSON")))?;
    json.get("accessToken")
        .or_else(|| json.get("token"))
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .map(|t| AccessToken {
            secret: Zeroizing::new(t.to_string()),
            // CLIs refresh their own tokens: ask again after five minutes
            refresh_after: Some(std::time::Instant::now() + Duration::from_secs(300)),
        })
        .ok_or_else(|| failed(format!("{program} printed no access token")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_clouds_metadata_server_is_not_imds() {
        // EC2's and GCE's metadata servers answer on 169.254.169.254 too
        let aws = Response::fake(
            404,
            "<?xml version=\"1.0\"?>\n<html><title>404 - Not Found</title></html>",
        );
        assert!(matches!(
            imds_answer(&aws, false),
            Err(Outcome::Unavailable(_))
        ));
        assert!(matches!(
            imds_answer(&Response::fake(404, "Not Found\n"), true),
            Err(Outcome::Unavailable(_))
        ));
        assert!(matches!(
            imds_answer(
                &Response::fake(400, r#"{"error":"invalid_request"}"#),
                false
            ),
            Err(Outcome::Unavailable(_))
        ));
        // Azure's IMDS refusing a user-assigned identity ends the chain with its reason
        match imds_answer(
            &Response::fake(
                400,
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
            ),
            true,
        ) {
            Err(Outcome::Failed(e)) => assert!(e.to_string().contains("Identity not found"), "{e}"),
            _ => panic!("a JSON refusal must end the chain"),
        }
        let ok = imds_answer(
            &Response::fake(200, r#"{"access_token":"t","expires_in":"3599"}"#),
            false,
        );
        assert!(matches!(ok, Ok(t) if t.secret.as_str() == "t"));
    }
}
