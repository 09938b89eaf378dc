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
    check_ref(r)?;
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
    use kube::Api;

    let target = sops_engine::cli::kube::KubeTarget {
        context: std::env::var("HELM_KUBECONTEXT")
            .ok()
            .filter(|c| !c.is_empty()),
        namespace: r.namespace.clone(),
        ..Default::default()
    };
    let conn = target.connect().await.map_err(|e| e.message)?;
    let api: Api<Secret> = Api::namespaced(conn.client, &conn.namespace);
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

/// The Secret's name and namespace go into a request path: checked as Kubernetes names first.
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
fn check_ref(r: &SecretRef) -> Result<(), Failure> {
    let fail = |e: sops_engine::k8s::NameError| Failure::new(format!("Kubernetes secret {r}: {e}"));
    sops_engine::k8s::check_name("Secret", &r.name).map_err(fail)?;
    if let Some(ns) = &r.namespace {
        sops_engine::k8s::check_namespace(ns).map_err(fail)?;
    }
    Ok(())
}

/// Without the `kubernetes` feature the Kubernetes forms are refused.
#[cfg(not(feature = "kubernetes"))]
pub fn secret_key(r: &SecretRef) -> Result<Zeroizing<Vec<u8>>, Failure> {
    Err(Failure::new(format!(
        "Kubernetes secret {r}: this build has no Kubernetes support (cargo feature `kubernetes`)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_reshape_the_request_are_refused() {
        for (ns, name) in [
            (None, "../x"),
            (None, "a?b"),
            (Some("a/b"), "k"),
            (Some(".."), "k"),
        ] {
            let r = SecretRef {
                namespace: ns.map(str::to_string),
                name: name.into(),
                key: "key.txt".into(),
            };
            assert!(check_ref(&r).is_err(), "{ns:?} {name}");
        }
    }
}
