//! The one HTTP/1.1 client of both plugins: the key services' REST calls (Vault, GCP Cloud KMS,
//! Azure Key Vault and their token endpoints) and helm-secrets' remote values files.
//!
//! - Proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` by Go's rules ([`super::proxy`]), which
//!   sops and helm follow: through an HTTP proxy (TLS to it for an `https://` one) https goes in a
//!   `CONNECT` tunnel and plain http in absolute form; through a SOCKS5 proxy both go as direct.
//! - TLS as [`Tls`] says (CA file, client certificate, no verification), rustls on ring.
//! - Credentials in a URL (`https://user:pass@host/…`) are sent as basic auth and never shown:
//!   messages name a URL through [`redact`]. Headers that carry tokens are marked sensitive, and
//!   response bodies (tokens, unwrapped data keys) are wiped when dropped.
//! - Every answer is bounded in size and time; [`Client::fetch`] follows at most
//!   [`MAX_REDIRECTS`] redirects (Go's limit), [`Client::send`] none.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, HOST, LOCATION, PROXY_AUTHORIZATION, USER_AGENT};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use super::net::{block_on, error_chain, tls_config, Tls, TlsError};
use super::proxy::{ProxyEnv, ProxyKind};

/// Redirects [`Client::fetch`] follows before giving up (Go's `http.Client` stops after 10).
pub const MAX_REDIRECTS: usize = 10;

/// An answer: status, the headers callers need, and the body.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// `Location` (for redirects).
    pub location: Option<String>,
    /// `WWW-Authenticate` (Azure's bearer challenge).
    pub www_authenticate: Option<String>,
    /// The body: it can hold a token or an unwrapped data key, so it is wiped when dropped.
    pub body: Zeroizing<Vec<u8>>,
}

#[cfg(all(test, any(feature = "kms-gcp", feature = "kms-azure")))]
impl Response {
    /// An answer with `status` and `body` and no headers (tests of answer parsing).
    pub(crate) fn fake(status: u16, body: &str) -> Response {
        Response {
            status,
            location: None,
            www_authenticate: None,
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }
}

/// Why a request failed. Messages never hold a URL's credentials or a body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// No answer within the client's time bound.
    #[error("no answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The answer is larger than the client accepts (the bound in bytes).
    #[error("larger than {} MiB", .0 >> 20)]
    TooBig(usize),
    /// [`Client::fetch`]: an answer other than 2xx after the redirects.
    #[error("HTTP {0}")]
    Status(http::StatusCode),
    /// The proxy setting for this URL is unusable.
    #[error(transparent)]
    Proxy(#[from] super::proxy::ProxyError),
    /// The TLS set-up (CA file, client certificate) failed.
    #[error(transparent)]
    Tls(#[from] super::net::TlsError),
    /// The shared runtime could not run the request.
    #[error(transparent)]
    Runtime(#[from] super::net::RuntimeError),
    /// Anything else on the way (URL, connection, TLS handshake, HTTP), its causes on one line.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for HttpError {
    fn from(reason: String) -> Self {
        HttpError::Failed(reason)
    }
}

/// A client for one TLS set-up; each request opens its own connection.
pub struct Client {
    tls: Tls,
    /// Built on the first https request (loading the system roots costs time).
    tls_config: OnceLock<Result<Arc<rustls::ClientConfig>, TlsError>>,
    proxies: ProxyEnv,
    timeout: Duration,
    max_body: usize,
    user_agent: Option<String>,
}

/// A byte stream: plain TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Client {
    /// A client for `tls` with the proxies of the environment; each call bounded by `timeout`,
    /// each answer by `max_body` bytes.
    pub fn new(tls: Tls, timeout: Duration, max_body: usize) -> Client {
        Client {
            tls,
            tls_config: OnceLock::new(),
            proxies: ProxyEnv::from_env(),
            timeout,
            max_body,
            user_agent: None,
        }
    }

    /// A client for a REST API: answers up to 4 MiB.
    pub fn for_api(tls: Tls, timeout: Duration) -> Client {
        Client::new(tls, timeout, 4 << 20)
    }

    /// The same client, never through a proxy (metadata servers on the host's own link).
    pub fn without_proxy(mut self) -> Client {
        self.proxies = ProxyEnv::direct();
        self
    }

    /// Sends `User-Agent: agent` with every request.
    pub fn with_user_agent(mut self, agent: &str) -> Client {
        self.user_agent = Some(agent.to_string());
        self
    }

    /// The same client with these proxy rules instead of the environment's (tests).
    #[cfg(test)]
    fn with_proxies(mut self, proxies: ProxyEnv) -> Client {
        self.proxies = proxies;
        self
    }

    /// POSTs `body` (JSON) to `url` with `headers`; the answer whatever its status.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        self.send("POST", url, headers, Some(("application/json", body)))
    }

    /// GETs `url` with `headers`; the answer whatever its status.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        self.send("GET", url, headers, None)
    }

    /// POSTs the form `pairs` (`application/x-www-form-urlencoded`) to `url`.
    pub fn post_form(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        pairs: &[(&str, &str)],
    ) -> Result<Response, HttpError> {
        let body = Zeroizing::new(form_encode(pairs));
        let form = "application/x-www-form-urlencoded";
        self.send("POST", url, headers, Some((form, body.as_bytes().to_vec())))
    }

    /// Sends one request (`body`: content type and bytes) without following redirects; the
    /// answer whatever its status.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Response, HttpError> {
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("bad HTTP method {method}"))?;
        let uri: Uri = url.parse().map_err(|e| format!("not a valid URL: {e}"))?;
        let mut head = Vec::with_capacity(headers.len() + 1);
        for (k, v) in headers {
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| format!("header {k} holds characters HTTP does not allow"))?;
            let lower = k.to_ascii_lowercase();
            value.set_sensitive(
                lower.contains("token") || lower == "authorization" || lower.contains("identity"),
            );
            head.push((k.to_string(), value));
        }
        let body = body.map(|(ct, b)| (ct.to_string(), b));
        self.run(self.exchange(&method, &uri, &head, body, false))
    }

    /// GETs `url`, following redirects: the body of a 2xx answer, anything else an error.
    pub fn fetch(&self, url: &str) -> Result<Zeroizing<Vec<u8>>, HttpError> {
        let first: Uri = url.parse().map_err(|e| format!("not a valid URL: {e}"))?;
        self.run(async {
            let mut uri = first;
            // Go's limit: the request after the tenth is not sent
            for _ in 0..MAX_REDIRECTS {
                let resp = self
                    .exchange(&http::Method::GET, &uri, &[], None, true)
                    .await?;
                let status = http::StatusCode::from_u16(resp.status)
                    .map_err(|_| format!("HTTP {}", resp.status))?;
                if is_redirect(resp.status) {
                    let to = resp
                        .location
                        .ok_or_else(|| format!("HTTP {status} without a Location"))?;
                    uri = join(&uri, &to)?;
                    continue;
                }
                if !status.is_success() {
                    return Err(HttpError::Status(status));
                }
                return Ok(resp.body);
            }
            Err(format!("stopped after {MAX_REDIRECTS} redirects").into())
        })
    }

    /// Runs `fut` on the shared runtime within the client's time bound.
    fn run<T: Send>(
        &self,
        fut: impl std::future::Future<Output = Result<T, HttpError>> + Send,
    ) -> Result<T, HttpError> {
        let timeout = self.timeout;
        block_on(async move {
            match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r,
                Err(_) => Err(HttpError::Timeout(timeout)),
            }
        })?
    }

    /// The TLS configuration, built on first use on the blocking pool (it reads the system roots
    /// and PEM files: blocking work that must not stall the shared runtime).
    async fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        if let Some(built) = self.tls_config.get() {
            return built.clone();
        }
        let tls = self.tls.clone();
        let built = tokio::task::spawn_blocking(move || tls_config(&tls).map(Arc::new))
            .await
            .unwrap_or_else(|_| {
                Err(TlsError::Setup(rustls::Error::General(
                    "the TLS set-up panicked".into(),
                )))
            });
        self.tls_config.get_or_init(|| built).clone()
    }

    /// A TLS connection to `host` over `link` (`what` starts the error).
    async fn tls_over(
        &self,
        link: Box<dyn Stream>,
        host: &str,
        what: &str,
    ) -> Result<tokio_rustls::client::TlsStream<Box<dyn Stream>>, HttpError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("invalid TLS server name {host:?}"))?;
        let stream = tokio_rustls::TlsConnector::from(self.tls_config().await?)
            .connect(name, link)
            .await
            .map_err(|e| format!("{what}: {}", error_chain(&e)))?;
        Ok(stream)
    }

    /// One request on a new connection, through a proxy when the environment names one.
    async fn exchange(
        &self,
        method: &http::Method,
        uri: &Uri,
        headers: &[(String, HeaderValue)],
        body: Option<(String, Vec<u8>)>,
        follows_redirects: bool,
    ) -> Result<Response, HttpError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("{}: only http(s)", redact(&uri.to_string())).into()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "the URL has no host".to_string())?;
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let proxy = self.proxies.for_uri(uri)?;
        let (to_host, to_port) = match &proxy {
            Some(p) => (p.host.as_str(), p.port),
            None => (bare_host, port),
        };
        let tcp = connect(to_host, to_port).await.map_err(|e| match &proxy {
            Some(_) => format!("cannot reach the proxy: {e}"),
            None => format!("cannot connect: {e}"),
        })?;
        let mut link: Box<dyn Stream> = Box::new(tcp);
        if let Some(p) = &proxy {
            match p.kind {
                ProxyKind::Https => {
                    link = Box::new(self.tls_over(link, &p.host, "TLS to the proxy").await?);
                }
                ProxyKind::Socks5 => {
                    socks5_connect(&mut link, bare_host, port, p.credentials.as_ref()).await?;
                }
                ProxyKind::Http => {}
            }
        }
        // past a SOCKS5 proxy the connection is as direct as any
        let proxy = proxy.filter(|p| p.kind != ProxyKind::Socks5);
        let host_header = match authority.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let stream: Box<dyn Stream> = if https {
            if let Some(p) = &proxy {
                connect_tunnel(&mut link, &format!("{host}:{port}"), p.auth.as_ref()).await?;
            }
            Box::new(self.tls_over(link, bare_host, "TLS").await?)
        } else {
            link
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP: {}", error_chain(&e)))?;
        tokio::spawn(conn);
        // origin form, or the absolute form a plain-http proxy expects
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let target = if proxy.is_some() && !https {
            format!("http://{host_header}{path}")
        } else {
            path.to_string()
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(target)
            .header(HOST, &host_header)
            // one request per connection: nothing lingers after the answer
            .header(http::header::CONNECTION, "close");
        if let Some(agent) = &self.user_agent {
            req = req.header(USER_AGENT, agent.as_str());
        }
        if let Some(auth) = basic_auth(authority.as_str()) {
            req = req.header(AUTHORIZATION, auth);
        }
        if let (Some(p), false) = (&proxy, https) {
            if let Some(auth) = &p.auth {
                req = req.header(PROXY_AUTHORIZATION, auth.clone());
            }
        }
        for (k, v) in headers {
            req = req.header(k.as_str(), v.clone());
        }
        let bytes = match body {
            Some((content_type, b)) => {
                req = req.header(http::header::CONTENT_TYPE, content_type);
                b
            }
            None => Vec::new(),
        };
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| format!("bad request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("HTTP: {}", error_chain(&e)))?;
        let header = |name: http::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = resp.status().as_u16();
        let location = header(LOCATION);
        let www_authenticate = header(http::header::WWW_AUTHENTICATE);
        if follows_redirects && is_redirect(status) {
            // the body of a redirect is not read, whatever its size
            return Ok(Response {
                status,
                location,
                www_authenticate,
                body: Zeroizing::new(Vec::new()),
            });
        }
        let too_big = || HttpError::TooBig(self.max_body);
        let announced = header(http::header::CONTENT_LENGTH).and_then(|n| n.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.max_body as u64) {
            return Err(too_big());
        }
        let mut body = Zeroizing::new(Vec::with_capacity(
            announced.map_or(0, |n| n as usize).min(self.max_body),
        ));
        let mut incoming = resp.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| format!("reading the response: {}", error_chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                if body.len() + data.len() > self.max_body {
                    return Err(too_big());
                }
                append_wiped(&mut body, &data);
                // wipe hyper's copy too when nothing else shares it
                if let Ok(mut b) = data.try_into_mut() {
                    zeroize::Zeroize::zeroize(&mut b[..]);
                }
            }
        }
        Ok(Response {
            status,
            location,
            www_authenticate,
            body,
        })
    }
}

/// A 3xx answer that points elsewhere (304 Not Modified does not).
fn is_redirect(status: u16) -> bool {
    (300..400).contains(&status) && status != 304
}

/// The URL scheme of `name` (`[a-z][a-z0-9+.-]*` before `://`), if it has one.
pub fn scheme(name: &str) -> Option<&str> {
    let (s, _) = name.split_once("://")?;
    let mut chars = s.chars();
    (chars.next()?.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
    .then_some(s)
}

/// Appends `data` to `body` without leaving a copy behind: when the buffer must grow, the new one
/// is made here and the old one is wiped as it is dropped (a plain `extend` would free it as is).
fn append_wiped(body: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = body.len() + data.len();
    if needed > body.capacity() {
        let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(body.capacity() * 2)));
        grown.extend_from_slice(body);
        *body = grown;
    }
    body.extend_from_slice(data);
}

/// Connects to `host:port` as Go's dialer does (RFC 6555 "Happy Eyeballs"): the addresses of the
/// family the resolver listed first are tried in turn; when the other family has addresses too,
/// they are tried in turn from [`FALLBACK_DELAY`] on (or as soon as the first family has failed),
/// and the first connection made wins. A host whose IPv6 route is a black hole costs 300 ms, not a
/// time-out.
async fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    let v6_first = addrs.first().is_some_and(|f| f.is_ipv6());
    let (primary, fallback) = addrs.into_iter().partition(|a| a.is_ipv6() == v6_first);
    race(primary, fallback).await
}

/// The dial of [`connect`]: `primary` at once, `fallback` after [`FALLBACK_DELAY`] or when
/// `primary` has failed; the first stream made, else the primary's error (Go's `dialParallel`).
async fn race(primary: Vec<SocketAddr>, fallback: Vec<SocketAddr>) -> std::io::Result<TcpStream> {
    if fallback.is_empty() {
        return dial_serial(&primary).await;
    }
    if primary.is_empty() {
        return dial_serial(&fallback).await;
    }
    let first = dial_serial(&primary);
    tokio::pin!(first);
    let delay = tokio::time::sleep(FALLBACK_DELAY);
    tokio::pin!(delay);
    let early_failure = tokio::select! {
        r = &mut first => match r {
            Ok(s) => return Ok(s),
            Err(e) => Some(e),
        },
        () = &mut delay => None,
    };
    let second = dial_serial(&fallback);
    tokio::pin!(second);
    if let Some(e) = early_failure {
        return second.await.map_err(|_| e);
    }
    tokio::select! {
        r = &mut first => match r {
            Ok(s) => Ok(s),
            Err(e) => second.await.map_err(|_| e),
        },
        r = &mut second => match r {
            Ok(s) => Ok(s),
            Err(_) => first.await,
        },
    }
}

/// Tries `addrs` one after the other; each but the last may take [`PER_ADDRESS`], the last has the
/// whole time left. When all fail, the first address' error (Go's: the most relevant one).
async fn dial_serial(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut first_error = None;
    for (i, &addr) in addrs.iter().enumerate() {
        let attempt = TcpStream::connect(addr);
        let result = if i + 1 < addrs.len() {
            tokio::time::timeout(PER_ADDRESS, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("{addr}: no answer within {} s", PER_ADDRESS.as_secs()),
                    ))
                })
        } else {
            attempt.await
        };
        match result {
            Ok(s) => return Ok(s),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address")
    }))
}

/// How long one address of several in a family may take to accept a connection.
const PER_ADDRESS: Duration = Duration::from_secs(3);
/// When the other address family joins in (Go's `fallbackDelay`).
const FALLBACK_DELAY: Duration = Duration::from_millis(300);

/// `name` with any `user:password@` of a URL replaced by `***@`, for messages. When what looks like
/// the host ends in `:` and something other than a port, and an `@` follows, the password holds a
/// `/`, `?` or `#` that hides where it ends: then nothing after `scheme://` is shown.
pub fn redact(name: &str) -> String {
    let Some((scheme, rest)) = name.split_once("://") else {
        return name.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let not_a_port = rest[..end]
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.chars().all(|c| c.is_ascii_digit()));
    if not_a_port && !rest[..end].contains('@') && rest[end..].contains('@') {
        return format!("{scheme}://***");
    }
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => name.to_string(),
    }
}

/// `application/x-www-form-urlencoded` of `pairs` (everything but RFC 3986's unreserved characters
/// percent-encoded).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(&mut out, k);
        out.push('=');
        percent_encode(&mut out, v);
    }
    out
}

/// `s` as one URL path segment (everything but unreserved characters percent-encoded, like Go's
/// `url.PathEscape` for the names the SDKs put in a path): a name read from a file cannot end the
/// path, start a query or a fragment, or add segments.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode(&mut out, s);
    out
}

/// Appends `s` to `out` with everything but RFC 3986's unreserved characters percent-encoded.
fn percent_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
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

/// `to` (a Location header) resolved against `base`.
fn join(base: &Uri, to: &str) -> Result<Uri, HttpError> {
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
        .map_err(|_| HttpError::Failed(format!("redirected to an invalid URL {}", redact(&full))))
}

/// The user and password of the `user:password@` of an authority (percent-decoded), if any.
pub(crate) fn userinfo(authority: &str) -> Option<(String, Zeroizing<String>)> {
    let (userinfo, _) = authority.rsplit_once('@')?;
    let decode = |s: &str| {
        percent_decode(s)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|| s.to_string())
    };
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((decode(user), Zeroizing::new(decode(pass))))
}

/// `Authorization: Basic …` from the `user:password@` of an authority, if any.
pub(crate) fn basic_auth(authority: &str) -> Option<HeaderValue> {
    use base64::Engine;
    let (user, pass) = userinfo(authority)?;
    let pair = Zeroizing::new(format!("{user}:{}", pass.as_str()));
    let token = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
    let text = Zeroizing::new(format!("Basic {}", token.as_str()));
    let mut v = HeaderValue::from_str(&text).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// Asks a SOCKS5 proxy (RFC 1928; RFC 1929 user and password when given) to connect to
/// `host:port` (the name resolved by the proxy); the stream then carries the connection.
async fn socks5_connect(
    s: &mut (impl AsyncRead + AsyncWrite + Unpin),
    host: &str,
    port: u16,
    credentials: Option<&(String, Zeroizing<String>)>,
) -> Result<(), HttpError> {
    let fail = |why: &str| HttpError::Failed(format!("SOCKS5 proxy: {why}"));
    let io = |e: std::io::Error| HttpError::Failed(format!("SOCKS5 proxy: {e}"));
    let offer: &[u8] = if credentials.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    s.write_all(offer).await.map_err(io)?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).await.map_err(io)?;
    match (choice, credentials) {
        ([5, 0], _) => {}
        ([5, 2], Some((user, pass))) => {
            if user.is_empty() || user.len() > 255 || pass.len() > 255 {
                return Err(fail(
                    "the user name must be 1 to 255 bytes, the password at most 255",
                ));
            }
            let mut msg = Zeroizing::new(vec![1, user.len() as u8]);
            msg.extend_from_slice(user.as_bytes());
            msg.push(pass.len() as u8);
            msg.extend_from_slice(pass.as_bytes());
            s.write_all(&msg).await.map_err(io)?;
            let mut status = [0u8; 2];
            s.read_exact(&mut status).await.map_err(io)?;
            if status != [1, 0] {
                return Err(fail("the proxy refused the user name and password"));
            }
        }
        ([5, 0xff], _) | ([5, 2], None) => {
            return Err(fail("the proxy accepts none of the offered ways to log in"))
        }
        _ => return Err(fail("the answer is not SOCKS5")),
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Ok(std::net::IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len()).map_err(|_| fail("host name too long"))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 5 || head[2] != 0 {
        return Err(fail("the answer is not SOCKS5"));
    }
    if head[1] != 0 {
        let why = match head[1] {
            1 => "general failure",
            2 => "connection not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return Err(fail(&format!("cannot connect to {host}:{port}: {why}")));
    }
    // the address the proxy bound and its port: read and dropped
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).await.map_err(io)?;
            usize::from(len[0]) + 2
        }
        _ => return Err(fail("the answer is not SOCKS5")),
    };
    let mut bound = vec![0u8; rest];
    s.read_exact(&mut bound).await.map_err(io)?;
    Ok(())
}

/// `CONNECT host:port` through an HTTP proxy; the stream then carries the TLS connection.
async fn connect_tunnel(
    tcp: &mut (impl AsyncRead + AsyncWrite + Unpin),
    dest: &str,
    auth: Option<&HeaderValue>,
) -> Result<(), HttpError> {
    let mut head = format!("CONNECT {dest} HTTP/1.1\r\nHost: {dest}\r\n").into_bytes();
    if let Some(a) = auth {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(a.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    tcp.write_all(&head)
        .await
        .map_err(|e| HttpError::Failed(format!("proxy CONNECT: {e}")))?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        let read = tcp.read(&mut byte).await;
        if reply.len() > 16 << 10 || read.map_err(|e| HttpError::Failed(e.to_string()))? == 0 {
            return Err(HttpError::Failed(
                "the proxy closed the CONNECT tunnel".into(),
            ));
        }
        reply.push(byte[0]);
    }
    let status = reply
        .split(|&b| b == b' ')
        .nth(1)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    if status != "200" {
        return Err(HttpError::Failed(format!(
            "the proxy refused CONNECT (HTTP {status})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback address whose listener never accepts and whose queue is full: the kernel drops
    /// further SYNs, so a connect there hangs (as towards a black-holed route). The held
    /// connections keep the queue full.
    async fn silent_address() -> (SocketAddr, tokio::net::TcpListener, Vec<TcpStream>) {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = sock.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => held.push(s),
                Ok(Err(e)) => panic!("connect to the silent listener: {e}"),
                Err(_) => return (addr, listener, held),
            }
            assert!(held.len() < 64, "the listener's queue never filled");
        }
    }

    /// [`socks5_connect`] against a proxy that answers `answers` (the bytes it would send, all at
    /// once); what the client sent, or its error.
    fn socks5_against(
        answers: &'static [u8],
        credentials: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, String> {
        block_on(async move {
            let (mut client, mut proxy) = tokio::io::duplex(4096);
            proxy.write_all(answers).await.unwrap();
            // and nothing more: a short answer ends in end of file, not a wait
            proxy.shutdown().await.unwrap();
            let creds = credentials.map(|(u, p)| (u.to_string(), Zeroizing::new(p.to_string())));
            let result = socks5_connect(&mut client, "vault.test", 8200, creds.as_ref()).await;
            drop(client);
            let mut sent = Vec::new();
            proxy.read_to_end(&mut sent).await.unwrap();
            result.map(|()| sent).map_err(|e| e.to_string())
        })
        .unwrap()
    }

    #[test]
    fn socks5_handshakes_and_refusals() {
        let ok_reply: &[u8] = &[5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
        let sent = socks5_against(ok_reply, None).unwrap();
        let mut want = vec![5, 1, 0, 5, 1, 0, 3, 10];
        want.extend_from_slice(b"vault.test");
        want.extend_from_slice(&8200u16.to_be_bytes());
        assert_eq!(sent, want);
        let with_login: &[u8] = &[5, 2, 1, 0, 5, 0, 0, 3, 1, b'x', 0, 80];
        let sent = socks5_against(with_login, Some(("u", "pw"))).unwrap();
        assert_eq!(&sent[..11], &[5, 2, 0, 2, 1, 1, b'u', 2, b'p', b'w', 5]);
        for (answers, creds, says) in [
            (
                &[5u8, 2, 1, 1][..],
                Some(("u", "pw")),
                "refused the user name and password",
            ),
            (
                &[5, 0xff][..],
                None,
                "accepts none of the offered ways to log in",
            ),
            (
                &[5, 2][..],
                None,
                "accepts none of the offered ways to log in",
            ),
            (
                &[5, 0, 5, 5, 0, 1][..],
                None,
                "cannot connect to vault.test:8200: connection refused",
            ),
            (&[4, 90][..], None, "the answer is not SOCKS5"),
            (&[5][..], None, "SOCKS5 proxy: "),
            (
                &[5, 2, 2, 0][..],
                Some(("u", "pw")),
                "refused the user name and password",
            ),
            (
                &[5, 2][..],
                Some(("", "pw")),
                "the user name must be 1 to 255 bytes",
            ),
            (&[5, 0, 5, 0, 9, 1][..], None, "the answer is not SOCKS5"),
        ] {
            let e = socks5_against(answers, creds).unwrap_err();
            assert!(e.contains(says), "{answers:?}: {e}");
            assert!(!e.contains("pw"), "{e}");
        }
    }

    #[test]
    fn the_other_family_joins_when_the_first_is_silent_or_fails() {
        block_on(async {
            let (silent, _l, _held) = silent_address().await;
            let good = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let good_addr = good.local_addr().unwrap();
            // a silent primary: the fallback is dialled after 300 ms, well before the 3 s a single
            // address of a family may take (and the primary here has no bound at all)
            let s = tokio::time::timeout(
                Duration::from_millis(2500),
                race(vec![silent], vec![good_addr]),
            )
            .await
            .expect("the fallback did not join in")
            .unwrap();
            assert_eq!(s.peer_addr().unwrap(), good_addr);
            // a refused primary: the fallback at once; both refused: the primary's error
            let closed = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap()
            };
            let s = race(vec![closed], vec![good_addr]).await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), good_addr);
            let e = race(vec![closed], vec![closed]).await.unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
            // a primary that answers wins without waiting for anything
            let s = race(vec![good_addr], vec![silent]).await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), good_addr);
        })
        .unwrap();
    }

    #[test]
    fn redaction_and_schemes() {
        assert_eq!(
            redact("https://u:p@h.example/x@y.yaml"),
            "https://***@h.example/x@y.yaml"
        );
        assert_eq!(redact("https://h/x.yaml"), "https://h/x.yaml");
        assert_eq!(redact("a.yaml"), "a.yaml");
        // a `/` in the password: the authority cannot be told, nothing after the scheme is shown
        assert_eq!(redact("https://u:p/ss@h/x.yaml"), "https://***");
        assert_eq!(redact("https://u:p?s@h/x.yaml"), "https://***");
        assert_eq!(redact("https://h:8443/x@y.yaml"), "https://h:8443/x@y.yaml");
        assert_eq!(scheme("git+https://h/x"), Some("git+https"));
        assert_eq!(scheme("/a://b"), None);
    }

    #[test]
    fn growing_a_body_keeps_its_bytes() {
        let mut body = Zeroizing::new(Vec::with_capacity(2));
        for chunk in [&b"ab"[..], b"cde", b"", b"fghij"] {
            append_wiped(&mut body, chunk);
        }
        assert_eq!(&body[..], b"abcdefghij");
    }

    #[test]
    fn location_joins() {
        let base: Uri = "http://u:p@h:8/a/b.yaml?q".parse().unwrap();
        assert_eq!(join(&base, "/c").unwrap(), "http://u:p@h:8/c");
        assert_eq!(join(&base, "c.yaml").unwrap(), "http://u:p@h:8/a/c.yaml");
        assert_eq!(join(&base, "https://o/x").unwrap(), "https://o/x");
        assert_eq!(join(&base, "//o/x").unwrap(), "http://o/x");
    }

    #[test]
    fn encodings() {
        assert_eq!(
            form_encode(&[("a b", "x&y=z"), ("k", "é")]),
            "a%20b=x%26y%3Dz&k=%C3%A9"
        );
        assert_eq!(
            path_segment("rotate?api-version=1/x"),
            "rotate%3Fapi-version%3D1%2Fx"
        );
        let v = basic_auth("us%40r:p%3Ass@h").unwrap();
        assert_eq!(v.to_str().unwrap(), "Basic dXNAcjpwOnNz");
        assert!(basic_auth("h:80").is_none());
    }

    /// A plain-http proxy on loopback: the request goes to it in absolute form with the proxy's
    /// credentials; the destination host is never resolved here. Loopback destinations are never
    /// proxied.
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
        let proxy = format!("http://pu:pp@127.0.0.1:{port}");
        let proxies = ProxyEnv::from_lookup(move |k| (k == "HTTP_PROXY").then(|| proxy.clone()));
        let client =
            Client::new(Tls::default(), Duration::from_secs(10), 1 << 20).with_proxies(proxies);
        let got = client.fetch("http://values.example/v.yaml").unwrap();
        assert_eq!(&got[..], b"a: 1\n");
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
        let refused = client.fetch("http://127.0.0.1:1/x");
        assert!(refused
            .unwrap_err()
            .to_string()
            .starts_with("cannot connect"));
    }
}
