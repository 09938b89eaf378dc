//! The Kubernetes client both binaries build the same way (kube-rs: token, client certificate and
//! exec auth from the kubeconfig): `kubectl sops apply`/`diff` from kubectl's flags, helm-secrets'
//! `secrets+*-import-kubernetes://` from helm's `--kube-context`.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::CliError;

/// Where the cluster is: kubectl's `--kubeconfig`, `--context`, `--cluster`, `--user`,
/// `-n/--namespace` and `--request-timeout` (zero: no limit).
#[derive(Clone, Debug, Default)]
pub struct KubeTarget {
    /// The kubeconfig file; `KUBECONFIG`, then `~/.kube/config`, then the in-cluster service
    /// account when unset.
    pub kubeconfig: Option<PathBuf>,
    /// The context to use instead of the current one.
    pub context: Option<String>,
    /// The cluster to use instead of the context's.
    pub cluster: Option<String>,
    /// The user to use instead of the context's.
    pub user: Option<String>,
    /// The namespace instead of the context's (else `default`).
    pub namespace: Option<String>,
    /// The limit on one request to the server.
    pub request_timeout: Duration,
}

/// A client for the chosen cluster; nothing has been sent yet.
pub struct Connection {
    /// The client.
    pub client: Client,
    /// The namespace of objects that name none: [`KubeTarget::namespace`], else the context's.
    pub namespace: String,
    /// True when the namespace was given (an object naming another one is then an error).
    pub namespace_forced: bool,
    /// The server URL, for messages.
    pub server: String,
}

impl KubeTarget {
    /// Loads the kubeconfig and builds the client; the namespace is checked like the API server
    /// checks it (it goes into request paths). Failures exit 1, as kubectl's.
    pub async fn connect(&self) -> Result<Connection, CliError> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
        };
        let fail = |e: &dyn std::fmt::Display| CliError::new(format!("kubeconfig: {e}"));
        let mut config = match &self.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| fail(&e))?
            }
            None => match Config::from_kubeconfig(&options).await {
                Ok(c) => c,
                // the in-cluster account only when no context, cluster or user was asked for
                // (kubectl does not fall back then either)
                Err(file_err)
                    if self.context.is_some() || self.cluster.is_some() || self.user.is_some() =>
                {
                    return Err(fail(&file_err));
                }
                Err(file_err) => Config::incluster().map_err(|_| {
                    CliError::new(format!(
                        "no usable kubeconfig (set KUBECONFIG or --kubeconfig): {file_err}"
                    ))
                })?,
            },
        };
        config.connect_timeout = Some(Duration::from_secs(10));
        if !self.request_timeout.is_zero() {
            config.read_timeout = Some(self.request_timeout);
            config.write_timeout = Some(self.request_timeout);
        }
        let server = config.cluster_url.to_string();
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        crate::k8s::check_namespace(&namespace).map_err(|e| {
            CliError::new(match &self.namespace {
                Some(_) => format!("--namespace: {e}"),
                None => format!("kubeconfig: the context's {e}"),
            })
        })?;
        let client = Client::try_from(config).map_err(|e| fail(&e))?;
        Ok(Connection {
            client,
            namespace,
            namespace_forced: self.namespace.is_some(),
            server: server.trim_end_matches('/').to_string(),
        })
    }
}
