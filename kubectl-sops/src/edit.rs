//! `kubectl-sops edit` (being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `edit`.
#[derive(Args)]
pub struct EditArgs {}

/// Runs `edit`.
pub fn run(_a: EditArgs) -> Result<()> {
    anyhow::bail!("edit: not implemented yet")
}
