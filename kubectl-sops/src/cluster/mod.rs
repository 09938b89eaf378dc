//! The cluster half of kubectl-sops: `apply` and `diff -f` against a live API server (kube-rs).

pub mod apply;
pub mod connect;
pub mod live_diff;
mod manifests;
mod objects;
mod resolve;

/// A single-threaded async runtime for one command's requests (they run concurrently on it).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::fail(1, format!("cannot start the async runtime: {e}")))
}
