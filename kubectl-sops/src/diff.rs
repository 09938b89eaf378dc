//! `kubectl-sops diff` (being written).

use anyhow::Result;
use clap::Args;

/// Arguments of `diff`.
#[derive(Args)]
pub struct DiffArgs {}

/// Runs `diff`.
pub fn run(_a: DiffArgs) -> Result<()> {
    anyhow::bail!("diff: not implemented yet")
}

/// Arguments of `textconv`.
#[derive(Args)]
pub struct TextconvArgs {}

/// Runs `textconv`.
pub fn run_textconv(_a: TextconvArgs) -> Result<()> {
    anyhow::bail!("textconv: not implemented yet")
}

/// Arguments of `git-setup`.
#[derive(Args)]
pub struct GitSetupArgs {}

/// Runs `git-setup`.
pub fn run_git_setup(_a: GitSetupArgs) -> Result<()> {
    anyhow::bail!("git-setup: not implemented yet")
}
