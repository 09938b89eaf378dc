//! Remote values files: `http://` and `https://` fetched with the engine's HTTP client
//! ([`sops_engine::os::http`]: proxies from the environment, rustls on ring, credentials in a URL
//! sent as basic auth and never printed), every other `scheme://` through helm's own getter plugins
//! (as helm-secrets does), so an encrypted values file behind a URL is decrypted like a local one
//! instead of reaching helm as ciphertext. TLS as helm's getters take it: `--ca-file` (replaces the
//! system roots), `--cert-file` + `--key-file` (client certificate), `--insecure-skip-tls-verify`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use sops_engine::os::http::redact;
use sops_engine::os::http::{self, Client};
pub use sops_engine::os::net::Tls;

/// The largest remote values file accepted (64 MiB).
pub const MAX_BYTES: usize = 64 << 20;
/// Time allowed for one whole fetch, redirects included.
const TIMEOUT: Duration = Duration::from_secs(300);

/// TLS settings from helm's getter arguments `certFile keyFile caFile` (empty: unset).
pub fn tls_from_getter_args(cert: &str, key: &str, ca: &str) -> Tls {
    let p = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
    Tls {
        ca_file: p(ca),
        cert_file: p(cert),
        key_file: p(key),
        insecure: false,
    }
}

/// True for `scheme://…` with a scheme other than a `secrets` one: content to fetch.
pub fn is_remote(name: &str) -> bool {
    http::scheme(name)
        .is_some_and(|s| !crate::source::SCHEMES.contains(&s) && s != crate::source::LITERAL)
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
    match http::scheme(url) {
        Some("http" | "https") => {
            let mut body = client(tls)
                .fetch(url)
                .map_err(|e| format!("{shown}: {e}"))?;
            Ok(std::mem::take(&mut *body))
        }
        _ => crate::getter::fetch(url).map_err(|e| format!("{shown}: {e}")),
    }
}

/// The HTTP client for `tls`, one per TLS set-up for the whole run: the system roots (or the CA
/// file) are loaded once, however many values files a command names.
fn client(tls: &Tls) -> Arc<Client> {
    static CLIENTS: Mutex<Vec<(Tls, Arc<Client>)>> = Mutex::new(Vec::new());
    let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = clients.iter().find(|(t, _)| t == tls) {
        return Arc::clone(c);
    }
    let c = Arc::new(
        Client::new(tls.clone(), TIMEOUT, MAX_BYTES)
            .with_user_agent(concat!("helm-secrets/", env!("CARGO_PKG_VERSION"))),
    );
    clients.push((tls.clone(), Arc::clone(&c)));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names() {
        assert!(is_remote("https://h/x") && is_remote("git+https://h/x") && is_remote("s3://b/k"));
        assert!(!is_remote("secrets://x") && !is_remote("x.yaml") && !is_remote("/a://b"));
        assert_eq!(url_path("https://h/a.json?x=1"), "https://h/a.json");
    }

    #[test]
    fn one_client_per_tls_setup() {
        let a = client(&Tls::default());
        assert!(Arc::ptr_eq(&a, &client(&Tls::default())));
        let insecure = Tls {
            insecure: true,
            ..Tls::default()
        };
        assert!(!Arc::ptr_eq(&a, &client(&insecure)));
    }
}
