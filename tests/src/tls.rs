//! TLS for the tests: a private CA with server and client certificates (made with the openssl
//! CLI), and a TLS relay that ends TLS on loopback and passes the bytes to a plain TCP service
//! (an `https://` proxy in front of [`crate::proxy::Proxy`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Certificates and keys in one directory (PEM).
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// Makes a CA, a server certificate (`DNS:{dns_name}`, `IP:127.0.0.1`) and a client
    /// certificate signed by it, and a second, unrelated CA, in `dir`.
    pub fn new(dir: &Path, dns_name: &str) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("server.ext"),
            format!(
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
                 subjectAltName=DNS:{dns_name},IP:127.0.0.1\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        for (ca, cn) in [("ca", "/CN=test CA"), ("other-ca", "/CN=other CA")] {
            let (key, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
            run_openssl(
                dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    cn,
                    "-keyout",
                    &key,
                    "-out",
                    &pem,
                ],
            );
        }
        for (name, cn) in [("server", dns_name), ("client", "test client")] {
            let subj = format!("/CN={cn}");
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            run_openssl(
                dir,
                &[
                    "req",
                    "-new",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-subj",
                    &subj,
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                ],
            );
            run_openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                    "-out",
                    &pem,
                ],
            );
        }
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    /// A rustls server configuration with the server certificate; with `client_auth`, a handshake
    /// without a client certificate signed by the CA fails.
    pub fn server_config(&self, client_auth: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(self.file("ca.pem")).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = CertificateDer::pem_file_iter(self.file("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.file("server.key")).unwrap();
        Arc::new(builder.with_single_cert(chain, key).unwrap())
    }

    /// A file of this PKI (`ca.pem`, `other-ca.pem`, `server.pem`, `client.pem`, `client.key`…).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn run_openssl(dir: &Path, args: &[&str]) {
    crate::openssl(dir, args).unwrap_or_else(|e| panic!("{e}"));
}

/// A TLS listener on 127.0.0.1 that passes every connection's bytes, both ways, to the plain TCP
/// service on `backend` (with `pki`'s server certificate).
pub struct TlsRelay {
    /// The loopback port it listens on.
    pub port: u16,
}

impl TlsRelay {
    /// Starts the relay on a free loopback port.
    pub fn start(backend: u16, pki: &Pki) -> TlsRelay {
        let port = serve(pki.server_config(false), move |tcp, config| {
            let _ = relay(tcp, config, backend);
        });
        TlsRelay { port }
    }
}

/// `https://127.0.0.1:PORT`: an `https://` proxy URL for `proxy` (a [`TlsRelay`] in front of it).
pub fn https_proxy_url(proxy: &crate::proxy::Proxy, pki: &Pki) -> String {
    format!(
        "https://127.0.0.1:{}",
        TlsRelay::start(proxy.port, pki).port
    )
}

/// Test proxies of the kinds the clients speak, each with its URL: `http://`, `https://` (a
/// [`TlsRelay`] with `pki`'s certificate in front) and, with `socks5`, `socks5://` with a user and
/// a password that needs escaping in a URL.
pub fn proxies(pki: &Pki, socks5: bool) -> Vec<(crate::proxy::Proxy, String)> {
    use crate::proxy::Proxy;
    let http = Proxy::start();
    let url = http.url();
    let behind_tls = Proxy::start();
    let tls_url = https_proxy_url(&behind_tls, pki);
    let mut all = vec![(http, url), (behind_tls, tls_url)];
    if socks5 {
        let socks = Proxy::start_socks5(Some(("ops", "s3cr%2Ft")));
        let url = socks.url();
        all.push((socks, url));
    }
    all
}

/// Listens on a free loopback port and runs `handle` on a thread of its own for every connection
/// (with `config` for its TLS); the port.
pub fn serve(
    config: Arc<rustls::ServerConfig>,
    handle: impl Fn(TcpStream, Arc<rustls::ServerConfig>) + Clone + Send + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, handle) = (config.clone(), handle.clone());
            std::thread::spawn(move || handle(tcp, config));
        }
    });
    port
}

/// One connection: TLS records from `client` become plaintext to `backend` and back, until either
/// side closes (non-blocking sockets, polled).
fn relay(
    mut client: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: u16,
) -> std::io::Result<()> {
    let mut conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut up = TcpStream::connect(("127.0.0.1", backend))?;
    client.set_nonblocking(true)?;
    up.set_nonblocking(true)?;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let mut busy = false;
        match conn.read_tls(&mut client) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                busy = true;
                conn.process_new_packets().map_err(std::io::Error::other)?;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    busy = true;
                    write_all(&mut up, &buf[..n])?;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let mut closed = false;
        match up.read(&mut buf) {
            Ok(0) => {
                conn.send_close_notify();
                closed = true;
            }
            Ok(n) => {
                busy = true;
                conn.writer().write_all(&buf[..n])?;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        while conn.wants_write() {
            match conn.write_tls(&mut client) {
                Ok(_) => busy = true,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => return Err(e),
            }
        }
        if closed {
            return Ok(());
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// `write_all` on a non-blocking socket.
fn write_all(to: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match to.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
