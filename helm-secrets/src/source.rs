//! The downloader URLs: `secrets://FILE` and the helm-secrets key-import forms
//! `secrets+age-import://KEYFILE?FILE`, `secrets+gpg-import://KEYFILE?FILE`,
//! `secrets+age-import-kubernetes://[NAMESPACE/]SECRET#KEY?FILE` and
//! `secrets+gpg-import-kubernetes://[NAMESPACE/]SECRET#KEY?FILE`.
//!
//! In the import forms a `?` right after the scheme (`secrets+age-import://?KEY?FILE`) makes a missing
//! values file an empty document instead of an error, as in helm-secrets.

/// A key read from a Kubernetes Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    /// Namespace; `None`: the kubeconfig context's namespace.
    pub namespace: Option<String>,
    /// Secret name.
    pub name: String,
    /// Key in the Secret's `data`.
    pub key: String,
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}#{}", self.name, self.key),
            None => write!(f, "{}#{}", self.name, self.key),
        }
    }
}

/// Extra key material named by the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyImport {
    /// Keys found like sops finds them.
    None,
    /// An age identity file.
    AgeFile(String),
    /// An armored PGP private key file, imported into a throw-away GnuPG home.
    GpgFile(String),
    /// An age identity file stored in a Kubernetes Secret.
    AgeKubernetes(SecretRef),
    /// A PGP private key stored in a Kubernetes Secret.
    GpgKubernetes(SecretRef),
}

impl KeyImport {
    /// The scheme that names this import (for messages and the `HELM_SECRETS_ALLOW_*` switches).
    pub fn scheme(&self) -> &'static str {
        match self {
            KeyImport::None => "secrets",
            KeyImport::AgeFile(_) => "secrets+age-import",
            KeyImport::GpgFile(_) => "secrets+gpg-import",
            KeyImport::AgeKubernetes(_) => "secrets+age-import-kubernetes",
            KeyImport::GpgKubernetes(_) => "secrets+gpg-import-kubernetes",
        }
    }
}

/// A parsed downloader URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The values file, as written (relative to the working directory, or absolute).
    pub file: String,
    /// Keys to use besides the discovered ones.
    pub import: KeyImport,
    /// A missing file yields empty output.
    pub ignore_missing: bool,
    /// A `sops!`/`noop!` prefix.
    pub backend: Option<crate::backend::Backend>,
}

/// The schemes this plugin serves (helm's `downloaders[].protocols`).
pub const SCHEMES: &[&str] = &[
    "secrets",
    "secrets+age-import",
    "secrets+gpg-import",
    "secrets+age-import-kubernetes",
    "secrets+gpg-import-kubernetes",
];

/// helm-secrets' `secrets+literal://` (a value inline in the URL): refused.
pub const LITERAL: &str = "secrets+literal";

/// The one-line refusal of `secrets+literal://`.
pub fn literal_refusal() -> String {
    format!("{LITERAL}:// is not supported by this plugin: put the value into an encrypted values file and pass it with -f secrets://FILE (or --set-file)")
}

/// True when `arg` starts with one of [`SCHEMES`] and `://`.
pub fn is_secrets_url(arg: &str) -> bool {
    arg.split_once("://")
        .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme) || scheme == LITERAL)
}

/// Parses a downloader URL. Errors are one line and never contain file content.
pub fn parse(url: &str) -> Result<Source, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url}: not a secrets:// URL"))?;
    if scheme == LITERAL {
        return Err(literal_refusal());
    }
    if !SCHEMES.contains(&scheme) {
        return Err(format!(
            "{url}: unknown protocol {scheme:?} (this plugin serves {})",
            SCHEMES.join(", ")
        ));
    }
    let (ignore_missing, rest) = match rest.strip_prefix('?') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (backend, rest) = crate::backend::split_prefix(rest).map_err(|e| format!("{url}: {e}"))?;
    if scheme == "secrets" {
        return Ok(Source {
            file: non_empty_file(url, rest)?,
            import: KeyImport::None,
            ignore_missing,
            backend,
        });
    }
    let (key, file) = rest.split_once('?').ok_or_else(|| {
        format!("{url}: expected {scheme}://KEY?FILE (a `?` between the key location and the values file)")
    })?;
    if key.is_empty() {
        return Err(format!("{url}: the key location is empty"));
    }
    let file = non_empty_file(url, file)?;
    let import = match scheme {
        "secrets+age-import" => KeyImport::AgeFile(key.to_string()),
        "secrets+gpg-import" => KeyImport::GpgFile(key.to_string()),
        "secrets+age-import-kubernetes" => KeyImport::AgeKubernetes(secret_ref(url, key)?),
        _ => KeyImport::GpgKubernetes(secret_ref(url, key)?),
    };
    Ok(Source {
        file,
        import,
        ignore_missing,
        backend,
    })
}

fn non_empty_file(url: &str, file: &str) -> Result<String, String> {
    if file.is_empty() {
        Err(format!("{url}: no values file in the URL"))
    } else {
        Ok(file.to_string())
    }
}

/// `[NAMESPACE/]SECRET#KEY`.
fn secret_ref(url: &str, loc: &str) -> Result<SecretRef, String> {
    let (location, key) = loc
        .split_once('#')
        .ok_or_else(|| format!("{url}: expected [NAMESPACE/]SECRET#KEY as the key location"))?;
    let (namespace, name) = match location.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, location.to_string()),
    };
    if name.is_empty() || key.is_empty() || namespace.as_deref() == Some("") {
        return Err(format!(
            "{url}: expected [NAMESPACE/]SECRET#KEY as the key location"
        ));
    }
    Ok(SecretRef {
        namespace,
        name,
        key: key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls() {
        let s = parse("secrets://values.enc.yaml").unwrap();
        assert_eq!(s.file, "values.enc.yaml");
        assert_eq!(s.import, KeyImport::None);
        assert_eq!(parse("secrets:///abs/v.yaml").unwrap().file, "/abs/v.yaml");
        assert_eq!(parse("secrets://a?b.yaml").unwrap().file, "a?b.yaml");
        let s = parse("secrets://?noop!v.yaml").unwrap();
        assert!(s.ignore_missing && s.backend == Some(crate::backend::Backend::Noop));
        assert_eq!(s.file, "v.yaml");
        assert!(parse("secrets://").is_err());
        assert!(parse("other://x").unwrap_err().contains("unknown protocol"));
        assert!(parse("values.yaml").is_err());
    }

    #[test]
    fn import_urls() {
        let s = parse("secrets+age-import:///keys/key.txt?values.yaml").unwrap();
        assert_eq!(s.import, KeyImport::AgeFile("/keys/key.txt".into()));
        assert_eq!(s.file, "values.yaml");
        assert!(!s.ignore_missing);
        let s = parse("secrets+gpg-import://?k.asc?dir/v.yaml").unwrap();
        assert_eq!(s.import, KeyImport::GpgFile("k.asc".into()));
        assert!(s.ignore_missing);
        let s = parse("secrets+age-import-kubernetes://ns/sec#key.txt?v.yaml").unwrap();
        assert_eq!(
            s.import,
            KeyImport::AgeKubernetes(SecretRef {
                namespace: Some("ns".into()),
                name: "sec".into(),
                key: "key.txt".into()
            })
        );
        let s = parse("secrets+gpg-import-kubernetes://sec#k?v.yaml").unwrap();
        let KeyImport::GpgKubernetes(r) = s.import else {
            panic!()
        };
        assert_eq!(r.namespace, None);
        assert_eq!(r.to_string(), "sec#k");
        assert!(parse("secrets+age-import://key.txt").is_err());
        assert!(parse("secrets+age-import-kubernetes://ns/sec?v.yaml").is_err());
        assert!(parse("secrets+age-import-kubernetes:///sec#k?v.yaml").is_err());
        assert!(parse("secrets+age-import://?v.yaml").is_err());
    }

    #[test]
    fn url_detection() {
        assert!(is_secrets_url("secrets://x"));
        assert!(is_secrets_url("secrets+age-import://k?x"));
        assert!(!is_secrets_url("https://x"));
        assert!(!is_secrets_url("values.yaml"));
    }
}
