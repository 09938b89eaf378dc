//! Which proxy a request goes through, by the rules of Go's `http.ProxyFromEnvironment`
//! (`golang.org/x/net/http/httpproxy`), which sops, helm and kubectl follow:
//!
//! - `HTTPS_PROXY`/`https_proxy` for https URLs, `HTTP_PROXY`/`http_proxy` for http URLs (the
//!   upper-case name first, an empty value counts as unset; `HTTP_PROXY` is ignored when
//!   `REQUEST_METHOD` is set, as in a CGI script). `ALL_PROXY` is not read.
//! - `localhost` and loopback addresses never go through a proxy.
//! - `NO_PROXY`/`no_proxy`: `*` (nothing is proxied), or a comma-separated list of IP addresses,
//!   CIDR ranges, and domain names with an optional port; `example.com` matches it and its
//!   subdomains, `.example.com` and `*.example.com` only its subdomains.
//! - A proxy URL without a scheme is `http://`. `http://`, `https://` (TLS to the proxy, checked
//!   against the client's roots) and `socks5://`/`socks5h://` proxies are spoken to, as by Go (a
//!   SOCKS5 proxy is handed the host name, with the URL's user and password if any); another
//!   scheme is an error at the request, never a silent direct connection.

use std::net::IpAddr;

use http::header::HeaderValue;
use http::Uri;

/// An unusable proxy setting (the URL shown with its password redacted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// Not a URL.
    #[error("the proxy setting {0} is not a valid URL")]
    Invalid(String),
    /// A proxy that speaks something the client does not.
    #[error("the proxy {shown} speaks {scheme}; only {supported} proxies are supported")]
    Scheme {
        /// The setting, redacted.
        shown: String,
        /// Its scheme (`ftp`, `socks4`).
        scheme: String,
        /// What the client speaks (`http://, https:// and socks5://`).
        supported: &'static str,
    },
    /// A URL without a host.
    #[error("the proxy setting {0} names no host")]
    NoHost(String),
}

/// The proxy settings in the form another HTTP client takes them (see
/// [`ProxyEnv::for_other_client`]). `Debug` shows the URLs redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OtherClientProxies {
    /// The proxy URL for https requests.
    pub https: Option<String>,
    /// The proxy URL for http requests.
    pub http: Option<String>,
    /// Hosts, domains and ranges reached directly, loopback included.
    pub no_proxy: String,
}

/// How a proxy is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP: `CONNECT` for https, the absolute form for http.
    Http,
    /// HTTP over TLS to the proxy.
    Https,
    /// SOCKS5 (RFC 1928), the host name resolved by the proxy.
    Socks5,
}

/// What this crate's client speaks, for [`ProxyError::Scheme`].
const SPOKEN: &str = "http://, https:// and socks5://";

/// A proxy to send one request through.
pub struct Proxy {
    /// `host` and `port` of the proxy.
    pub host: String,
    /// The proxy's port (80, 443 for https, 1080 for socks5 when the URL gives none).
    pub port: u16,
    /// How it is spoken to.
    pub kind: ProxyKind,
    /// `Proxy-Authorization: Basic …` from the proxy URL's user info (HTTP proxies).
    pub auth: Option<HeaderValue>,
    /// The URL's user and password (SOCKS5 proxies).
    pub credentials: Option<(String, zeroize::Zeroizing<String>)>,
}

/// The proxy settings read from the environment once per client.
#[derive(Clone, Default)]
pub struct ProxyEnv {
    http: Option<String>,
    https: Option<String>,
    no_proxy: Vec<NoProxy>,
    /// `NO_PROXY=*`.
    none: bool,
}

#[derive(Clone, Debug)]
enum NoProxy {
    /// An address, with an optional port.
    Ip(IpAddr, Option<u16>),
    /// A range of addresses.
    Cidr(IpAddr, u8),
    /// A domain; `subdomains_only` for `.x` and `*.x`.
    Domain {
        name: String,
        subdomains_only: bool,
        port: Option<u16>,
    },
}

/// A proxy URL for `Debug`: its user information redacted.
fn shown(url: &Option<String>) -> Option<String> {
    url.as_deref().map(super::http::redact)
}

impl std::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("http", &shown(&self.http))
            .field("https", &shown(&self.https))
            .field("no_proxy", &self.no_proxy)
            .field("none", &self.none)
            .finish()
    }
}

impl std::fmt::Debug for OtherClientProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtherClientProxies")
            .field("https", &shown(&self.https))
            .field("http", &shown(&self.http))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// The settings of this process' environment.
    pub fn from_env() -> ProxyEnv {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The settings from `get` (a variable's value, if set).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let first = |names: [&str; 2]| {
            names
                .iter()
                .filter_map(|n| get(n))
                .find(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_string())
        };
        let cgi = get("REQUEST_METHOD").is_some_and(|m| !m.is_empty());
        let no = first(["NO_PROXY", "no_proxy"]).unwrap_or_default();
        ProxyEnv {
            http: if cgi {
                None
            } else {
                first(["HTTP_PROXY", "http_proxy"])
            },
            https: first(["HTTPS_PROXY", "https_proxy"]),
            none: no.split(',').any(|e| e.trim() == "*"),
            no_proxy: no.split(',').filter_map(parse_no_proxy).collect(),
        }
    }

    /// Settings without any proxy.
    pub fn direct() -> ProxyEnv {
        ProxyEnv::default()
    }

    /// The proxy for `uri` (`Ok(None)`: connect directly); an unusable proxy setting is an error.
    pub fn for_uri(&self, uri: &Uri) -> Result<Option<Proxy>, ProxyError> {
        let setting = match uri.scheme_str() {
            Some("https") => &self.https,
            _ => &self.http,
        };
        let Some(setting) = setting else {
            return Ok(None);
        };
        let host = uri.host().unwrap_or("");
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        if !self.use_proxy(bare, port) {
            return Ok(None);
        }
        parse_proxy(setting).map(Some)
    }

    /// For a client that takes a proxy URL and a `NO_PROXY` list of its own (the AWS SDK's): the
    /// `https` proxy and the `http` proxy as URLs (`http://` added when the setting has no scheme;
    /// the refusals of [`ProxyEnv::for_uri`], and SOCKS5, which that client does not speak), and
    /// `NO_PROXY` with the loopback names and ranges added, which Go never proxies; an
    /// `HTTP_PROXY` it cannot use is left out unless `http_needed` (the service itself is plain
    /// http). `None` when nothing goes through a proxy.
    pub fn for_other_client(
        &self,
        http_needed: bool,
    ) -> Result<Option<OtherClientProxies>, ProxyError> {
        let url = |setting: &Option<String>| -> Result<Option<String>, ProxyError> {
            let Some(s) = setting else { return Ok(None) };
            if parse_proxy(s)?.kind == ProxyKind::Socks5 {
                return Err(ProxyError::Scheme {
                    shown: super::http::redact(s),
                    scheme: "socks5".into(),
                    supported: "http:// and https://",
                });
            }
            Ok(Some(with_scheme(s)))
        };
        if self.none {
            return Ok(None);
        }
        // https calls need HTTPS_PROXY; unless the caller's own service is plain http, an
        // HTTP_PROXY that client cannot use is left out (plain-http calls then go direct), as Go
        // never reads it for https
        let https = url(&self.https)?;
        let http = match url(&self.http) {
            Err(_) if !http_needed => None,
            other => other?,
        };
        if https.is_none() && http.is_none() {
            return Ok(None);
        }
        // in the curl-like syntax of that client: `*.x` and `.x` become `.x` (which matches `x`
        // too), ports are dropped (every port of the host is then direct)
        let mut no_proxy = String::from("localhost,127.0.0.0/8,::1");
        for rule in &self.no_proxy {
            no_proxy.push(',');
            match rule {
                NoProxy::Ip(ip, _) => no_proxy.push_str(&ip.to_string()),
                NoProxy::Cidr(net, bits) => no_proxy.push_str(&format!("{net}/{bits}")),
                NoProxy::Domain {
                    name,
                    subdomains_only,
                    ..
                } => {
                    if *subdomains_only {
                        no_proxy.push('.');
                    }
                    no_proxy.push_str(name);
                }
            }
        }
        Ok(Some(OtherClientProxies {
            https,
            http,
            no_proxy,
        }))
    }

    fn use_proxy(&self, host: &str, port: u16) -> bool {
        if host.is_empty() || host.eq_ignore_ascii_case("localhost") || self.none {
            return false;
        }
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return false;
        }
        let host = host.to_ascii_lowercase();
        !self.no_proxy.iter().any(|rule| match rule {
            NoProxy::Ip(a, p) => ip == Some(*a) && p.is_none_or(|p| p == port),
            NoProxy::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
            NoProxy::Domain {
                name,
                subdomains_only,
                port: p,
            } => {
                p.is_none_or(|p| p == port)
                    && (host.ends_with(&format!(".{name}")) || (!subdomains_only && host == *name))
            }
        })
    }
}

fn parse_no_proxy(entry: &str) -> Option<NoProxy> {
    let e = entry.trim().to_ascii_lowercase();
    if e.is_empty() {
        return None;
    }
    if let Some((net, bits)) = e.split_once('/') {
        return Some(NoProxy::Cidr(net.parse().ok()?, bits.parse().ok()?));
    }
    if let Ok(ip) = e.trim_start_matches('[').trim_end_matches(']').parse() {
        return Some(NoProxy::Ip(ip, None));
    }
    // host:port, [v6]:port
    let (host, port) = match e.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) => {
            (h.to_string(), p.parse().ok())
        }
        _ => (e.clone(), None),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse() {
        return Some(NoProxy::Ip(ip, port));
    }
    let (name, subdomains_only) = match host.strip_prefix("*.").or(host.strip_prefix('.')) {
        Some(rest) => (rest.to_string(), true),
        None => (host, false),
    };
    Some(NoProxy::Domain {
        name,
        subdomains_only,
        port,
    })
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |a: &[u8], b: &[u8]| {
        let bits = usize::from(bits);
        if bits > a.len() * 8 {
            return false;
        }
        let (whole, rest) = (bits / 8, bits % 8);
        a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix(&a.octets(), &b.octets()),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix(&a.octets(), &b.octets()),
        _ => false,
    }
}

/// A proxy setting as a URL: `http://` when it names no scheme (`host:port`), as Go reads it.
fn with_scheme(setting: &str) -> String {
    if setting.contains("://") {
        setting.to_string()
    } else {
        format!("http://{setting}")
    }
}

/// A proxy setting (`host:port`, `http://[user:pass@]host[:port]`) as the proxy to dial.
fn parse_proxy(setting: &str) -> Result<Proxy, ProxyError> {
    let full = with_scheme(setting);
    let shown = super::http::redact(&full);
    let uri: Uri = full
        .parse()
        .map_err(|_| ProxyError::Invalid(shown.clone()))?;
    let (kind, default_port) = match uri.scheme_str() {
        Some("http") => (ProxyKind::Http, 80),
        Some("https") => (ProxyKind::Https, 443),
        Some("socks5" | "socks5h") => (ProxyKind::Socks5, 1080),
        Some(other) => {
            return Err(ProxyError::Scheme {
                scheme: other.to_string(),
                shown,
                supported: SPOKEN,
            })
        }
        None => return Err(ProxyError::Invalid(shown)),
    };
    let authority = uri.authority().ok_or(ProxyError::NoHost(shown))?;
    Ok(Proxy {
        host: authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: authority.port_u16().unwrap_or(default_port),
        kind,
        auth: super::http::basic_auth(authority.as_str()),
        credentials: super::http::userinfo(authority.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ProxyEnv {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyEnv::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    fn via(e: &ProxyEnv, url: &str) -> Option<String> {
        e.for_uri(&url.parse().unwrap())
            .unwrap()
            .map(|p| format!("{}:{}", p.host, p.port))
    }

    #[test]
    fn scheme_picks_the_variable_and_loopback_is_direct() {
        let e = env(&[
            ("HTTPS_PROXY", "proxy.corp:3128"),
            ("http_proxy", "http://other:8080"),
        ]);
        assert_eq!(
            via(&e, "https://vault.corp/v1").as_deref(),
            Some("proxy.corp:3128")
        );
        assert_eq!(
            via(&e, "http://vault.corp/v1").as_deref(),
            Some("other:8080")
        );
        for direct in [
            "https://localhost/x",
            "https://127.0.0.1:8200/x",
            "https://[::1]/x",
        ] {
            assert_eq!(via(&e, direct), None, "{direct}");
        }
        // ALL_PROXY is not Go's; an empty upper-case value does not hide the lower-case one
        let e = env(&[
            ("ALL_PROXY", "socks5://x"),
            ("HTTPS_PROXY", ""),
            ("https_proxy", "p:1"),
        ]);
        assert_eq!(via(&e, "https://h/").as_deref(), Some("p:1"));
        assert_eq!(via(&e, "http://h/"), None);
        // CGI: HTTP_PROXY may come from a request header
        let e = env(&[
            ("HTTP_PROXY", "p:1"),
            ("HTTPS_PROXY", "p:2"),
            ("REQUEST_METHOD", "GET"),
        ]);
        assert_eq!(via(&e, "http://h/"), None);
        assert_eq!(via(&e, "https://h/").as_deref(), Some("p:2"));
    }

    #[test]
    fn no_proxy_like_go() {
        let e = env(&[
            ("HTTPS_PROXY", "p:1"),
            (
                "NO_PROXY",
                "corp.example, .internal,*.svc.local,10.0.0.0/8,192.168.1.5,vault.io:8200",
            ),
        ]);
        for direct in [
            "https://corp.example/",
            "https://a.corp.example/",
            "https://x.internal/",
            "https://a.svc.local/",
            "https://10.1.2.3/",
            "https://192.168.1.5:9/",
            "https://vault.io:8200/",
        ] {
            assert_eq!(via(&e, direct), None, "{direct}");
        }
        for proxied in [
            "https://internal/",
            "https://svc.local/",
            "https://notcorp.example/",
            "https://11.0.0.1/",
            "https://vault.io/",
        ] {
            assert!(via(&e, proxied).is_some(), "{proxied}");
        }
        let e = env(&[("HTTPS_PROXY", "p:1"), ("no_proxy", "*")]);
        assert_eq!(via(&e, "https://anything/"), None);
    }

    #[test]
    fn settings_for_another_client_follow_go() {
        let other = |pairs: &[(&str, &str)]| env(pairs).for_other_client(false);
        assert_eq!(other(&[("ALL_PROXY", "http://p:1")]), Ok(None));
        assert_eq!(
            other(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "*")]),
            Ok(None)
        );
        assert_eq!(
            other(&[("HTTP_PROXY", "h:3128"), ("REQUEST_METHOD", "GET")]),
            Ok(None),
            "no HTTP_PROXY in a CGI process"
        );
        assert_eq!(
            other(&[
                ("HTTPS_PROXY", "p:8080"),
                ("http_proxy", "http://h:3128"),
                ("no_proxy", " .corp, 10.0.0.0/8 ,"),
            ]),
            Ok(Some(OtherClientProxies {
                https: Some("http://p:8080".into()),
                http: Some("http://h:3128".into()),
                no_proxy: "localhost,127.0.0.0/8,::1,.corp,10.0.0.0/8".into(),
            }))
        );
        assert!(matches!(
            other(&[("HTTPS_PROXY", "socks5://p:1080")]),
            Err(ProxyError::Scheme { .. })
        ));
        // `*` anywhere turns proxies off; an unusable HTTP_PROXY is left out, not an error
        assert_eq!(
            other(&[("HTTPS_PROXY", "socks4://p"), ("NO_PROXY", "localhost, *")]),
            Ok(None)
        );
        assert_eq!(
            other(&[
                ("HTTPS_PROXY", "http://p:1"),
                ("HTTP_PROXY", "socks4://s"),
                (
                    "NO_PROXY",
                    "*.corp.internal,kms.corp:443,[::2]:8200,10.1.2.3"
                ),
            ]),
            Ok(Some(OtherClientProxies {
                https: Some("http://p:1".into()),
                http: None,
                no_proxy: "localhost,127.0.0.0/8,::1,.corp.internal,kms.corp,::2,10.1.2.3".into(),
            }))
        );
        assert!(matches!(
            env(&[("HTTP_PROXY", "socks4://s")]).for_other_client(true),
            Err(ProxyError::Scheme { .. })
        ));
        let dbg = format!(
            "{:?} {:?}",
            env(&[("HTTPS_PROXY", "http://u:pw@p:1")]),
            other(&[("HTTPS_PROXY", "http://u:pw@p:1")])
        );
        assert!(!dbg.contains("pw") && dbg.contains("***@p:1"), "{dbg}");
    }

    #[test]
    fn proxies_by_scheme_and_their_credentials() {
        let e = env(&[("HTTPS_PROXY", "socks4://u:pw@127.0.0.1:1080")]);
        let err = e.for_uri(&"https://h/".parse().unwrap()).err().unwrap();
        assert!(
            matches!(&err, ProxyError::Scheme { scheme, .. } if scheme == "socks4"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("only http://, https:// and socks5:// proxies"),
            "{err}"
        );
        assert!(!err.to_string().contains("pw"), "{err}");
        let e = env(&[("HTTPS_PROXY", "https://u:pw@proxy")]);
        let p = e.for_uri(&"https://h/".parse().unwrap()).unwrap().unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.kind),
            ("proxy", 443, ProxyKind::Https)
        );
        let e = env(&[("HTTPS_PROXY", "http://pu:pp@proxy")]);
        let p = e.for_uri(&"https://h/".parse().unwrap()).unwrap().unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.kind),
            ("proxy", 80, ProxyKind::Http)
        );
        assert_eq!(p.auth.unwrap().to_str().unwrap(), "Basic cHU6cHA=");
        let e = env(&[("HTTP_PROXY", "socks5h://a%40b:p%3Aw@[::1]")]);
        let p = e.for_uri(&"http://h/".parse().unwrap()).unwrap().unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.kind),
            ("::1", 1080, ProxyKind::Socks5)
        );
        let (user, pass) = p.credentials.unwrap();
        assert_eq!((user.as_str(), pass.as_str()), ("a@b", "p:w"));
    }
}
