//! `kubectl-sops completion` (being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `completion`.
#[derive(Args)]
pub struct CompletionArgs {}

/// Runs `completion`.
pub fn run(_a: CompletionArgs) -> Result<()> {
    anyhow::bail!("completion: not implemented yet")
}
