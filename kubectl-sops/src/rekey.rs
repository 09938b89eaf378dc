//! `kubectl-sops rekey` (being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `rekey`.
#[derive(Args)]
pub struct RekeyArgs {}

/// Runs `rekey`.
pub fn run(_a: RekeyArgs) -> Result<()> {
    anyhow::bail!("rekey: not implemented yet")
}
