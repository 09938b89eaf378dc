//! Reading a key from a Kubernetes Secret (`secrets+*-import-kubernetes://`) with kube-rs.
//!
//! The client is configured like kubectl: `KUBECONFIG` or `~/.kube/config` (in-cluster config
//! otherwise), with helm's `--kube-context` (`HELM_KUBECONTEXT`) when set. A Secret given without a
//! namespace is read from the context's namespace.

use zeroize::Zeroizing;

use crate::error::Failure;
use crate::source::SecretRef;

/// The bytes of `r.key` in the Secret's `data`.
#[cfg(feature = "kubernetes")]
pub fn secret_key(r: &SecretRef) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("Kubernetes secret {r}: {e}")))?;
    rt.block_on(fetch(r)).map_err(|e| {
        Failure::new(format!(
            "Kubernetes secret {r}: {}",
            sops_engine::error::one_line(&e)
        ))
    })
}

#[cfg(feature = "kubernetes")]
async fn fetch(r: &SecretRef) -> Result<Zeroizing<Vec<u8>>, String> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::config::KubeConfigOptions;
    use kube::{Api, Client, Config};

    let context = std::env::var("HELM_KUBECONTEXT")
        .ok()
        .filter(|c| !c.is_empty());
    let config = match context {
        Some(context) => Config::from_kubeconfig(&KubeConfigOptions {
            context: Some(context),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?,
        None => Config::infer()
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?,
    };
    let client = Client::try_from(config).map_err(|e| format!("client: {e}"))?;
    let api: Api<Secret> = match &r.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::default_namespaced(client),
    };
    let mut secret = api.get(&r.name).await.map_err(|e| match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    })?;
    let data = secret.data.take().unwrap_or_default();
    let mut found = None;
    for (k, v) in data {
        let v = Zeroizing::new(v.0);
        if k == r.key {
            found = Some(v);
        }
    }
    found.ok_or_else(|| format!("no key {:?} in its data", r.key))
}

/// Without the `kubernetes` feature the Kubernetes forms are refused.
#[cfg(not(feature = "kubernetes"))]
pub fn secret_key(r: &SecretRef) -> Result<Zeroizing<Vec<u8>>, Failure> {
    Err(Failure::new(format!(
        "Kubernetes secret {r}: this build has no Kubernetes support (cargo feature `kubernetes`)"
    )))
}
