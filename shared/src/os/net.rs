//! Network plumbing of the key services and the remote values files, built only when first used:
//! one current-thread tokio runtime (run on a helper thread, so callers may themselves be inside
//! another runtime) and rustls on ring with the system roots (`SSL_CERT_FILE`/`SSL_CERT_DIR`
//! honoured), a CA file, or no verification at all, and an optional client certificate.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why the shared runtime could not run a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime could not be created (the OS' reason).
    #[error("cannot start the network runtime: {0}")]
    Start(Arc<std::io::Error>),
    /// The request's future panicked (a defect of ours).
    #[error("the network request panicked")]
    Panicked,
}

/// Why a TLS client configuration could not be built: files are named, their content never quoted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the protocol set-up.
    #[error("TLS set-up failed: {0}")]
    Setup(rustls::Error),
    /// The CA file could not be read as PEM.
    #[error("cannot read CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The PEM reader's reason.
        reason: String,
    },
    /// A certificate of the CA file is unusable.
    #[error("bad certificate in {}: {reason}", path.display())]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The CA file holds no certificate.
    #[error("no certificate in CA file {}", .0.display())]
    NoCaCertificate(PathBuf),
    /// The client certificate or its key could not be read or used.
    #[error("{}: {reason}", path.display())]
    ClientCertificate {
        /// The certificate or key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Only one of certificate and key was given.
    #[error("a client certificate needs both a certificate and a key file")]
    HalfClientCertificate,
}

/// Runs `fut` to completion on the shared runtime (created on first use) from a helper thread.
pub fn block_on<F>(fut: F) -> Result<F::Output, RuntimeError>
where
    F: Future + Send,
    F::Output: Send,
{
    static RT: OnceLock<Result<tokio::runtime::Runtime, RuntimeError>> = OnceLock::new();
    let rt = RT
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| RuntimeError::Start(Arc::new(e)))
        })
        .as_ref()
        .map_err(Clone::clone)?;
    std::thread::scope(|s| {
        s.spawn(|| rt.block_on(fut))
            .join()
            .map_err(|_| RuntimeError::Panicked)
    })
}

/// The error and its causes on one line (`client error (Connect): tcp connect error: …`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
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

/// How a TLS connection is set up: helm's `--ca-file`, `--cert-file`, `--key-file` and
/// `--insecure-skip-tls-verify`, Vault's `VAULT_CACERT` and `VAULT_SKIP_VERIFY`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// The only roots trusted when set (PEM); the system's roots otherwise.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM), with [`Tls::key_file`].
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM), with [`Tls::cert_file`].
    pub key_file: Option<PathBuf>,
    /// No certificate check (handshake signatures are still verified).
    pub insecure: bool,
}

/// A rustls client configuration on ring for `tls`.
pub fn tls_config(tls: &Tls) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
    } else {
        let roots = match &tls.ca_file {
            Some(path) => roots_from_pem(path)?,
            None => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
            let pem = |file: &Path, e: &dyn std::fmt::Display| TlsError::ClientCertificate {
                path: file.to_path_buf(),
                reason: e.to_string(),
            };
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| pem(cert, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem(cert, &e))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, &e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| pem(cert, &e))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(TlsError::HalfClientCertificate),
    }
}

fn roots_from_pem(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| TlsError::CaFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let bad = |e: &dyn std::fmt::Display| TlsError::CaCertificate {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    for c in certs {
        roots.add(c.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCaCertificate(path.to_path_buf()));
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
