//! kubectl's connection flags; the client is built by [`sops_engine::cli::kube`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use sops_engine::cli::kube::KubeTarget;

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

/// A client for the chosen cluster (namespace, whether it was forced, server URL).
pub type Cluster = sops_engine::cli::kube::Connection;

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
        let target = KubeTarget {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
            namespace: self.namespace.clone(),
            request_timeout: self.request_timeout,
        };
        Ok(target.connect().await?)
    }
}
