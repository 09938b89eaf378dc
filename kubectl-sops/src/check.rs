//! `kubectl-sops check` (being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `check`.
#[derive(Args)]
pub struct CheckArgs {}

/// Runs `check`.
pub fn run(_a: CheckArgs) -> Result<()> {
    anyhow::bail!("check: not implemented yet")
}
