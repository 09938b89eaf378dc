//! HTTPS for the remote values tests: a private CA with a server certificate for `127.0.0.1` and
//! `values.test` and a client certificate (made with the openssl CLI), a TLS front (rustls) that
//! hands each request to the loopback HTTP [`super::http_server::Server`], optionally asking for a
//! client certificate. The proxy is [`e2e_tests::proxy::Proxy`].

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The host name only the proxy can reach.
pub const PROXIED_HOST: &str = "values.test";

/// Certificates and keys in one directory (PEM).
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// Makes a CA, a server certificate (`DNS:values.test`, `IP:127.0.0.1`) and a client
    /// certificate signed by it, and a second, unrelated CA, in `dir`.
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("server.ext"),
            format!(
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
                 subjectAltName=DNS:{PROXIED_HOST},IP:127.0.0.1\n"
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
        for (name, cn) in [("server", PROXIED_HOST), ("client", "test client")] {
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

    /// A file of this PKI (`ca.pem`, `other-ca.pem`, `server.pem`, `client.pem`, `client.key`…).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn run_openssl(dir: &Path, args: &[&str]) {
    e2e_tests::openssl(dir, args).unwrap_or_else(|e| panic!("{e}"));
}

/// A TLS listener on 127.0.0.1 that forwards each request to the plain HTTP server on
/// `backend` and sends its answer back.
pub struct TlsFront {
    pub port: u16,
}

impl TlsFront {
    /// Serves with `pki`'s server certificate; with `client_auth`, a handshake without a client
    /// certificate signed by the CA fails.
    pub fn start(backend: u16, pki: &Pki, client_auth: bool) -> TlsFront {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(pki.file("ca.pem")).unwrap() {
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
        let chain = CertificateDer::pem_file_iter(pki.file("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(pki.file("server.key")).unwrap();
        let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                std::thread::spawn(move || {
                    let _ = forward(tcp, config, backend);
                });
            }
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
