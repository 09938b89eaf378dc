//! `kubectl-sops set` (being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `set`.
#[derive(Args)]
pub struct SetArgs {}

/// Runs `set`.
pub fn run(_a: SetArgs) -> Result<()> {
    anyhow::bail!("set: not implemented yet")
}

/// Arguments of `unset`.
#[derive(Args)]
pub struct UnsetArgs {}

/// Runs `unset`.
pub fn run_unset(_a: UnsetArgs) -> Result<()> {
    anyhow::bail!("unset: not implemented yet")
}
