//! HTTPS for the remote values tests: a TLS front (rustls) with the certificates of
//! [`e2e_tests::tls::Pki`] that hands each request to the loopback HTTP
//! [`super::http_server::Server`], optionally asking for a client certificate. The proxy is
//! [`e2e_tests::proxy::Proxy`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

pub use e2e_tests::tls::Pki;

/// The host name only the proxy can reach.
pub const PROXIED_HOST: &str = "values.test";

/// A TLS listener on 127.0.0.1 that forwards each request to the plain HTTP server on
/// `backend` and sends its answer back.
pub struct TlsFront {
    pub port: u16,
}

impl TlsFront {
    /// Serves with `pki`'s server certificate; with `client_auth`, a handshake without a client
    /// certificate signed by the CA fails.
    pub fn start(backend: u16, pki: &Pki, client_auth: bool) -> TlsFront {
        let port = e2e_tests::tls::serve(pki.server_config(client_auth), move |tcp, config| {
            let _ = forward(tcp, config, backend);
        });
        TlsFront { port }
    }
}

fn forward(tcp: TcpStream, config: Arc<rustls::ServerConfig>, backend: u16) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let head = e2e_tests::proxy::read_head(&mut tls)?;
    let mut back = TcpStream::connect(("127.0.0.1", backend))?;
    back.write_all(&head)?;
    let mut answer = Vec::new();
    back.read_to_end(&mut answer)?;
    tls.write_all(&answer)?;
    tls.conn.send_close_notify();
    tls.flush()
}
