//! Network plumbing shared by the key services, built only when a key-service entry is tried: one
//! current-thread tokio runtime (run on a helper thread, so callers may themselves be inside another
//! runtime) and rustls on ring with the system roots, a CA file, or no verification at all.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Runs `fut` to completion on the shared runtime (created on first use) from a helper thread.
pub(crate) fn block_on<F>(fut: F) -> Result<F::Output, String>
where
    F: Future + Send,
    F::Output: Send,
{
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let rt = RT
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the network runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)?;
    std::thread::scope(|s| {
        s.spawn(|| rt.block_on(fut))
            .join()
            .map_err(|_| "the network request panicked".to_string())
    })
}

/// The error and its causes on one line (`client error (Connect): tcp connect error: …`).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        cur = s.source();
    }
    msg.replace('\n', " ")
}

/// How server certificates are checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "kms-vault"), allow(dead_code))]
pub(crate) enum Trust {
    /// The system's roots.
    #[default]
    System,
    /// Only the certificates of this PEM file.
    CaFile(std::path::PathBuf),
    /// No certificate check (signatures of the handshake are still verified).
    Insecure,
}

/// A rustls client configuration on ring for `trust`.
pub(crate) fn tls_config(trust: &Trust) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;
    let roots = match trust {
        Trust::Insecure => {
            return Ok(builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
                .with_no_client_auth())
        }
        Trust::CaFile(path) => roots_from_pem(path)?,
        Trust::System => {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
            roots
        }
    };
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn roots_from_pem(path: &Path) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate in CA file {}", path.display()));
    }
    Ok(roots)
}

/// `VAULT_SKIP_VERIFY`, helm's `--insecure-skip-tls-verify`: accepts any certificate chain, still
/// checks handshake signatures with the provider's algorithms.
#[derive(Debug)]
pub struct NoCertificateCheck(pub Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A JSON HTTP client over hyper that never follows redirects.
#[cfg(feature = "http-client")]
pub(crate) struct JsonClient {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Full<bytes::Bytes>,
    >,
    timeout: Duration,
}

/// A response: status, the headers the key services need, and body.
#[cfg(feature = "http-client")]
pub(crate) struct Response {
    pub status: u16,
    /// `Location` (for redirects).
    #[cfg_attr(not(feature = "kms-vault"), allow(dead_code))]
    pub location: Option<String>,
    /// `WWW-Authenticate` (Azure's bearer challenge).
    #[cfg_attr(not(feature = "kms-azure"), allow(dead_code))]
    pub www_authenticate: Option<String>,
    /// The body: it can hold a token or an unwrapped data key, so it is wiped when dropped.
    pub body: zeroize::Zeroizing<Vec<u8>>,
}

/// `application/x-www-form-urlencoded` of `pairs` (everything but RFC 3986's unreserved characters
/// percent-encoded).
#[cfg(feature = "http-client")]
#[cfg_attr(not(any(feature = "kms-gcp", feature = "kms-azure")), allow(dead_code))]
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = percent_encode;
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(&mut out, k);
        out.push('=');
        enc(&mut out, v);
    }
    out
}

/// Appends `s` to `out` with everything but RFC 3986's unreserved characters percent-encoded.
#[cfg(feature = "http-client")]
#[cfg_attr(not(any(feature = "kms-gcp", feature = "kms-azure")), allow(dead_code))]
fn percent_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `s` as one URL path segment (everything but unreserved characters percent-encoded, like Go's
/// `url.PathEscape` for the names the SDKs put in a path): a name read from a file cannot end the
/// path, start a query or a fragment, or add segments.
#[cfg(feature = "http-client")]
#[cfg_attr(not(any(feature = "kms-gcp", feature = "kms-azure")), allow(dead_code))]
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode(&mut out, s);
    out
}

#[cfg(feature = "http-client")]
impl JsonClient {
    /// A client for `trust`, each request bounded by `timeout`.
    pub fn new(trust: &Trust, timeout: Duration) -> Result<Self, String> {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(trust)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Ok(JsonClient { client, timeout })
    }

    /// POSTs `body` (JSON) to `url` with `headers`; the response whatever its status.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, String> {
        self.send("POST", url, headers, Some(("application/json", body)))
    }

    /// GETs `url` with `headers`; the response whatever its status.
    #[cfg_attr(not(any(feature = "kms-gcp", feature = "kms-azure")), allow(dead_code))]
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
        self.send("GET", url, headers, None)
    }

    /// POSTs the form `pairs` (`application/x-www-form-urlencoded`) to `url`.
    #[cfg_attr(not(any(feature = "kms-gcp", feature = "kms-azure")), allow(dead_code))]
    pub fn post_form(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        pairs: &[(&str, &str)],
    ) -> Result<Response, String> {
        let body = zeroize::Zeroizing::new(form_encode(pairs));
        self.send(
            "POST",
            url,
            headers,
            Some((
                "application/x-www-form-urlencoded",
                body.as_bytes().to_vec(),
            )),
        )
    }

    /// Sends one request (`body`: content type and bytes); the response whatever its status.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Response, String> {
        use http_body_util::BodyExt;
        let method = hyper::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("bad HTTP method {method}"))?;
        let mut req = hyper::Request::builder().method(method).uri(url);
        let body = match body {
            Some((ct, b)) => {
                req = req.header("Content-Type", ct);
                b
            }
            None => Vec::new(),
        };
        for (k, v) in headers {
            let mut value = hyper::header::HeaderValue::from_str(v)
                .map_err(|_| format!("header {k} holds characters HTTP does not allow"))?;
            // tokens never show up in hyper's debug output
            let lower = k.to_ascii_lowercase();
            value.set_sensitive(
                lower.contains("token") || lower == "authorization" || lower.contains("identity"),
            );
            req = req.header(*k, value);
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| format!("bad request: {e}"))?;
        let timeout = self.timeout;
        block_on(async move {
            let run = async {
                let resp = self
                    .client
                    .request(req)
                    .await
                    .map_err(|e| error_chain(&e))?;
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let location = header("location");
                let www_authenticate = header("www-authenticate");
                let bytes = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("reading the response: {}", error_chain(&e)))?
                    .to_bytes();
                let body = zeroize::Zeroizing::new(bytes.to_vec());
                // wipe hyper's copy too when nothing else shares it
                if let Ok(mut b) = bytes.try_into_mut() {
                    zeroize::Zeroize::zeroize(&mut b[..]);
                }
                Ok(Response {
                    status,
                    location,
                    www_authenticate,
                    body,
                })
            };
            match tokio::time::timeout(timeout, run).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f32())),
            }
        })?
    }
}
