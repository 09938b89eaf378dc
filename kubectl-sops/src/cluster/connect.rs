//! kubectl's connection flags and the client built from them (kube-rs: token, client certificate
//! and exec auth from the kubeconfig).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// `--kubeconfig`, `--context`, `--cluster`, `--user`, `-n/--namespace`, as in kubectl.
#[derive(Args, Clone, Debug, Default)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// The kubeconfig cluster to use.
    #[arg(long)]
    pub cluster: Option<String>,
    /// The kubeconfig user to use.
    #[arg(long)]
    pub user: Option<String>,
    /// Namespace for objects that name none (default: the context's, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// How long to wait for one request to the server (e.g. 30s, 1m; 0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

/// A client for the chosen cluster.
pub struct Cluster {
    /// The client.
    pub client: Client,
    /// The namespace of objects that name none.
    pub namespace: String,
    /// True when `-n` was given (an object naming another namespace is then an error).
    pub namespace_forced: bool,
    /// The server URL, for messages.
    pub server: String,
}

/// Parses `30s`, `2m`, `1h` or a number of seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid duration {s:?} (use s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

impl ClusterArgs {
    /// Loads the kubeconfig (`--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`, else the
    /// in-cluster service account) and builds the client. Sends nothing yet.
    pub async fn connect(&self) -> Result<Cluster> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
        };
        let fail = |e: &dyn std::fmt::Display| crate::fail(1, format!("kubeconfig: {e}"));
        let mut config = match &self.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| crate::fail(1, format!("{}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| fail(&e))?
            }
            None => match Config::from_kubeconfig(&options).await {
                Ok(c) => c,
                Err(file_err) => Config::incluster().map_err(|_| {
                    crate::fail(
                        1,
                        format!(
                            "no usable kubeconfig (set KUBECONFIG or --kubeconfig): {file_err}"
                        ),
                    )
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
        let client = Client::try_from(config).map_err(|e| fail(&e))?;
        Ok(Cluster {
            client,
            namespace,
            namespace_forced: self.namespace.is_some(),
            server: server.trim_end_matches('/').to_string(),
        })
    }
}
