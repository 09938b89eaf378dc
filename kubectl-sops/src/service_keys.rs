//! The key flags of `seal` and `edit` (sops' `--age`, `--pgp`, `--kms`, `--gcp-kms`, `--azure-kv`,
//! `--hc-vault-transit`, `--aws-profile`, `--encryption-context`), handed to
//! `sops_engine::cli::spec::KeyFlags`.

/// Keys named on the command line; for `edit`, used when the file is new.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// age recipients, comma separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_AGE_RECIPIENTS", value_delimiter = ',')]
    pub age: Vec<String>,
    /// PGP fingerprints, comma separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_PGP_FP", value_delimiter = ',')]
    pub pgp: Vec<String>,
    /// AWS KMS keys `ARN[+ROLE_ARN]`, comma separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_KMS_ARN", value_delimiter = ',')]
    pub kms: Vec<String>,
    /// Vault transit key URIs (https://vault:8200/v1/transit/keys/NAME), comma separated
    /// (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_VAULT_URIS", value_delimiter = ',')]
    pub hc_vault_transit: Vec<String>,
    /// GCP Cloud KMS resource ids (projects/P/locations/L/keyRings/R/cryptoKeys/K), comma
    /// separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_GCP_KMS_IDS", value_delimiter = ',')]
    pub gcp_kms: Vec<String>,
    /// Azure Key Vault key URLs (https://VAULT.vault.azure.net/keys/NAME[/VERSION]), comma
    /// separated (overrides .sops.yaml keys).
    #[arg(long, env = "SOPS_AZURE_KEYVAULT_URLS", value_delimiter = ',')]
    pub azure_kv: Vec<String>,
    /// AWS profile stored with the --kms keys (aws_profile).
    #[arg(long, default_value = "")]
    pub aws_profile: String,
    /// KMS encryption context `key:value,…` for --kms keys and a flat .sops.yaml kms rule.
    #[arg(long, default_value = "")]
    pub encryption_context: String,
}

impl KeyArgs {
    /// The engine's key flags.
    pub fn key_flags(&self) -> sops_engine::cli::spec::KeyFlags {
        sops_engine::cli::spec::KeyFlags {
            age: self.age.clone(),
            pgp: self.pgp.clone(),
            kms: self.kms.clone(),
            hc_vault_transit: self.hc_vault_transit.clone(),
            gcp_kms: self.gcp_kms.clone(),
            azure_kv: self.azure_kv.clone(),
            aws_profile: self.aws_profile.clone(),
            encryption_context: self.encryption_context.clone(),
        }
    }
}
