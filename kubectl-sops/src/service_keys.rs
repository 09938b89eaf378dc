//! The key-service flags of `seal` and `edit` (sops' `--kms`, `--hc-vault-transit`, `--aws-profile`,
//! `--encryption-context`), handed to `sops_engine::cli::spec::KeyFlags`.

/// Key-service keys named on the command line.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServiceKeyArgs {
    /// AWS KMS keys `ARN[+ROLE_ARN]`, comma separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_KMS_ARN", value_delimiter = ',')]
    pub kms: Vec<String>,
    /// Vault transit key URIs (https://vault:8200/v1/transit/keys/NAME), comma separated
    /// (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_VAULT_URIS", value_delimiter = ',')]
    pub hc_vault_transit: Vec<String>,
    /// AWS profile stored with the --kms keys (aws_profile).
    #[arg(long, default_value = "")]
    pub aws_profile: String,
    /// KMS encryption context `key:value,…` for --kms keys and a flat .sops.yaml kms rule.
    #[arg(long, default_value = "")]
    pub encryption_context: String,
}
