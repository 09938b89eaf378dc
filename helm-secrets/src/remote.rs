//! Remote values files: `http://` and `https://` fetched with hyper over rustls (ring), every other
//! `scheme://` through helm's own getter plugins (as helm-secrets does), so an encrypted values file
//! behind a URL is decrypted like a local one instead of reaching helm as ciphertext.
//!
//! - Proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` (either case); loopback hosts
//!   are never proxied (as Go's `http.ProxyFromEnvironment`).
//! - TLS as helm's getters take it: `--ca-file` (replaces the system roots), `--cert-file` +
//!   `--key-file` (client certificate), `--insecure-skip-tls-verify`.
//! - At most [`MAX_BYTES`] of content and [`MAX_REDIRECTS`] redirects (Go's limit).
//! - Credentials in a URL (`https://user:pass@host/…`) are sent as basic auth and never printed:
//!   every message names the URL through [`redact`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, HOST, LOCATION, PROXY_AUTHORIZATION, USER_AGENT};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest remote values file accepted (64 MiB).
pub const MAX_BYTES: usize = 64 << 20;
/// Redirects followed before giving up (Go's `http.Client` stops after 10).
pub const MAX_REDIRECTS: usize = 10;
/// Time allowed for one whole fetch, redirects included.
const TIMEOUT: Duration = Duration::from_secs(300);

/// TLS settings as helm hands them to getters (empty strings mean unset).
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// `--ca-file`: the only roots trusted when set.
    pub ca_file: Option<PathBuf>,
    /// `--cert-file`: client certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// `--key-file`: client private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `--insecure-skip-tls-verify`: no server certificate check.
    pub insecure: bool,
}

impl Tls {
    /// From helm's getter arguments `certFile keyFile caFile` (empty: unset).
    pub fn from_getter_args(cert: &str, key: &str, ca: &str) -> Self {
        let p = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        Tls {
            ca_file: p(ca),
            cert_file: p(cert),
            key_file: p(key),
            insecure: false,
        }
    }
}

/// True for `scheme://…` with a scheme other than a `secrets` one: content to fetch.
pub fn is_remote(name: &str) -> bool {
    scheme(name)
        .is_some_and(|s| !crate::source::SCHEMES.contains(&s) && s != crate::source::LITERAL)
}

/// The URL scheme of `name` (`[a-z][a-z0-9+.-]*` before `://`), if it has one.
fn scheme(name: &str) -> Option<&str> {
    let (s, _) = name.split_once("://")?;
    let mut chars = s.chars();
    (chars.next()?.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
    .then_some(s)
}

/// `name` with any `user:password@` of a URL replaced by `***@`, for messages.
pub fn redact(name: &str) -> String {
    let Some((scheme, rest)) = name.split_once("://") else {
        return name.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => name.to_string(),
    }
}

/// The path part of a URL (no query or fragment), to pick the format by extension.
pub fn url_path(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// Fetches `url`: http(s) directly, other schemes through helm's getter plugins. Errors are one
/// line naming the redacted URL.
pub fn fetch(url: &str, tls: &Tls) -> Result<Vec<u8>, String> {
    let shown = redact(url);
    match scheme(url) {
        Some("http" | "https") => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
                .map_err(|e| format!("{shown}: cannot start the HTTP client: {e}"))?;
            rt.block_on(async {
                tokio::time::timeout(TIMEOUT, fetch_http(url, tls, &Matcher::from_env()))
                    .await
                    .unwrap_or_else(|_| Err(format!("timed out after {}s", TIMEOUT.as_secs())))
            })
            .map_err(|e| format!("{shown}: {e}"))
        }
        _ => crate::getter::fetch(url).map_err(|e| format!("{shown}: {e}")),
    }
}

/// A byte stream: plain TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn fetch_http(url: &str, tls: &Tls, proxies: &Matcher) -> Result<Vec<u8>, String> {
    let mut uri: Uri = url.parse().map_err(|e| format!("not a valid URL: {e}"))?;
    let mut tls_config = None;
    for _ in 0..=MAX_REDIRECTS {
        let resp = request(&uri, proxies, tls, &mut tls_config).await?;
        let status = resp.status();
        if status.is_redirection() && status != http::StatusCode::NOT_MODIFIED {
            let to = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("HTTP {status} without a Location"))?;
            uri = join(&uri, to)?;
            continue;
        }
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > MAX_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the response: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > MAX_BYTES {
                    return Err(too_big());
                }
                out.extend_from_slice(&data);
            }
        }
        return Ok(out);
    }
    Err(format!("stopped after {MAX_REDIRECTS} redirects"))
}

fn too_big() -> String {
    format!("larger than {} MiB", MAX_BYTES >> 20)
}

/// `to` (a Location header) resolved against `base`.
fn join(base: &Uri, to: &str) -> Result<Uri, String> {
    let origin = || {
        format!(
            "{}://{}",
            base.scheme_str().unwrap_or("http"),
            base.authority().map_or("", |a| a.as_str())
        )
    };
    let full = if scheme(to).is_some() {
        to.to_string()
    } else if let Some(rest) = to.strip_prefix("//") {
        format!("{}://{rest}", base.scheme_str().unwrap_or("http"))
    } else if to.starts_with('/') {
        format!("{}{to}", origin())
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{}{to}", origin(), if dir.is_empty() { "/" } else { dir })
    };
    full.parse()
        .map_err(|_| format!("redirected to an invalid URL {}", redact(&full)))
}

/// One GET of `uri`, through a proxy when the environment names one.
async fn request(
    uri: &Uri,
    proxies: &Matcher,
    tls: &Tls,
    tls_config: &mut Option<Arc<rustls::ClientConfig>>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(format!(
                "redirected to {}: only http(s)",
                redact(&uri.to_string())
            ))
        }
    };
    let authority = uri.authority().ok_or("the URL has no host")?;
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let proxy = if is_loopback(bare_host) {
        None
    } else {
        proxies.intercept(uri)
    };
    let target = match &proxy {
        Some(p) => {
            let pa = p.uri().authority().ok_or("the proxy URL has no host")?;
            let pport = pa.port_u16().unwrap_or(match p.uri().scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            (pa.host().to_string(), pport)
        }
        None => (host.to_string(), port),
    };
    let tcp = TcpStream::connect((
        target.0.trim_start_matches('[').trim_end_matches(']'),
        target.1,
    ))
    .await
    .map_err(|e| match &proxy {
        Some(_) => format!("cannot reach the proxy: {e}"),
        None => format!("cannot connect: {e}"),
    })?;
    let host_header = match authority.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let stream: Box<dyn Stream> = if https {
        let mut tcp = tcp;
        if let Some(p) = &proxy {
            connect_tunnel(&mut tcp, &format!("{host}:{port}"), p.basic_auth()).await?;
        }
        let config = match tls_config {
            Some(c) => c.clone(),
            None => tls_config.insert(client_config(tls)?).clone(),
        };
        let name = ServerName::try_from(bare_host.to_string())
            .map_err(|_| format!("invalid TLS server name {bare_host:?}"))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(conn);
    // origin form, or the absolute form a plain-http proxy expects
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let target_uri = if proxy.is_some() && !https {
        format!("http://{host_header}{path}")
    } else {
        path.to_string()
    };
    let mut req = Request::get(target_uri).header(HOST, &host_header).header(
        USER_AGENT,
        concat!("helm-secrets/", env!("CARGO_PKG_VERSION")),
    );
    if let Some(auth) = basic_auth(authority.as_str()) {
        req = req.header(AUTHORIZATION, auth);
    }
    if let (Some(p), false) = (&proxy, https) {
        if let Some(auth) = p.basic_auth() {
            req = req.header(PROXY_AUTHORIZATION, auth.clone());
        }
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("HTTP request: {e}"))?;
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `Authorization: Basic …` from the `user:password@` of an authority, if any.
fn basic_auth(authority: &str) -> Option<HeaderValue> {
    use base64::Engine;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let decode = |s: &str| {
        percent_decode(s)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|| s.to_string())
    };
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let token = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        decode(user),
        decode(pass)
    ));
    let mut v = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// `CONNECT host:port` through an HTTP proxy; the stream then carries the TLS connection.
async fn connect_tunnel(
    tcp: &mut TcpStream,
    dest: &str,
    auth: Option<&HeaderValue>,
) -> Result<(), String> {
    let mut head = format!("CONNECT {dest} HTTP/1.1\r\nHost: {dest}\r\n").into_bytes();
    if let Some(a) = auth {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(a.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    tcp.write_all(&head)
        .await
        .map_err(|e| format!("proxy CONNECT: {e}"))?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        if reply.len() > 16 << 10 || tcp.read(&mut byte).await.map_err(|e| e.to_string())? == 0 {
            return Err("the proxy closed the CONNECT tunnel".into());
        }
        reply.push(byte[0]);
    }
    let status = reply
        .split(|&b| b == b' ')
        .nth(1)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    if status != "200" {
        return Err(format!("the proxy refused CONNECT (HTTP {status})"));
    }
    Ok(())
}

/// The rustls client configuration for the TLS settings.
fn client_config(tls: &Tls) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(sops_engine::keys::NoCertificateCheck(
                provider,
            )))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_file {
            Some(ca) => {
                for c in CertificateDer::pem_file_iter(ca).map_err(|e| pem_error(ca, e))? {
                    roots
                        .add(c.map_err(|e| pem_error(ca, e))?)
                        .map_err(|e| format!("{}: {e}", ca.display()))?;
                }
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| pem_error(cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error(cert, e))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("{}: {e}", cert.display()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--cert-file and --key-file go together".into()),
    };
    Ok(Arc::new(config))
}

fn pem_error(file: &std::path::Path, e: rustls::pki_types::pem::Error) -> String {
    format!("{}: {e}", file.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_and_schemes() {
        assert_eq!(
            redact("https://u:p@h.example/x@y.yaml"),
            "https://***@h.example/x@y.yaml"
        );
        assert_eq!(redact("https://h/x.yaml"), "https://h/x.yaml");
        assert_eq!(redact("a.yaml"), "a.yaml");
        assert!(is_remote("https://h/x") && is_remote("git+https://h/x") && is_remote("s3://b/k"));
        assert!(!is_remote("secrets://x") && !is_remote("x.yaml") && !is_remote("/a://b"));
        assert_eq!(url_path("https://h/a.json?x=1"), "https://h/a.json");
    }

    #[test]
    fn location_joins() {
        let base: Uri = "http://u:p@h:8/a/b.yaml?q".parse().unwrap();
        assert_eq!(join(&base, "/c").unwrap(), "http://u:p@h:8/c");
        assert_eq!(join(&base, "c.yaml").unwrap(), "http://u:p@h:8/a/c.yaml");
        assert_eq!(join(&base, "https://o/x").unwrap(), "https://o/x");
        assert_eq!(join(&base, "//o/x").unwrap(), "http://o/x");
    }

    /// A plain-http proxy on loopback: the request goes to it in absolute form with the proxy's
    /// credentials; the destination host is never resolved here.
    #[test]
    fn plain_http_through_a_proxy() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut l = String::new();
                r.read_line(&mut l).unwrap();
                if l == "\r\n" || l.is_empty() {
                    break;
                }
                head.push(l.trim_end().to_string());
            }
            let mut c = conn;
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\na: 1\n")
                .unwrap();
            head
        });
        let proxies = Matcher::builder()
            .http(format!("http://pu:pp@127.0.0.1:{port}"))
            .build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = rt
            .block_on(fetch_http(
                "http://values.example/v.yaml",
                &Tls::default(),
                &proxies,
            ))
            .unwrap();
        assert_eq!(got, b"a: 1\n");
        let head = seen.join().unwrap();
        assert_eq!(
            head[0], "GET http://values.example/v.yaml HTTP/1.1",
            "{head:?}"
        );
        assert!(
            head.iter()
                .any(|h| h.eq_ignore_ascii_case("proxy-authorization: Basic cHU6cHA=")),
            "{head:?}"
        );
        // loopback destinations never go through the proxy
        let refused = rt.block_on(fetch_http(
            "http://127.0.0.1:1/x",
            &Tls::default(),
            &proxies,
        ));
        assert!(refused.unwrap_err().starts_with("cannot connect"));
    }

    #[test]
    fn basic_auth_header() {
        let v = basic_auth("us%40r:p%3Ass@h").unwrap();
        assert_eq!(v.to_str().unwrap(), "Basic dXNAcjpwOnNz");
        assert!(basic_auth("h:80").is_none());
    }
}
