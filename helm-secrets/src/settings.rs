//! The `HELM_SECRETS_*` environment variables honoured by this plugin (names as the helm-secrets
//! plugin uses them, so CI and Argo CD setups keep working).

use std::ffi::OsString;

/// `HELM_SECRETS_QUIET`: no warnings or notes on stderr.
pub const QUIET: &str = "HELM_SECRETS_QUIET";
/// `HELM_SECRETS_BACKEND`: the secret backend, `sops` (default) or `noop`; others are refused.
pub const BACKEND: &str = "HELM_SECRETS_BACKEND";
/// `HELM_SECRETS_BACKEND_ARGS`: sops options (see [`crate::backend::parse_args`]).
pub const BACKEND_ARGS: &str = "HELM_SECRETS_BACKEND_ARGS";
/// `HELM_SECRETS_ALLOWED_BACKENDS`: comma list of the backends that may be chosen.
pub const ALLOWED_BACKENDS: &str = "HELM_SECRETS_ALLOWED_BACKENDS";
/// `HELM_SECRETS_DECRYPT_SECRETS_IN_TMP_DIR`: accepted; plaintext never lands next to the file.
pub const DECRYPT_SECRETS_IN_TMP_DIR: &str = "HELM_SECRETS_DECRYPT_SECRETS_IN_TMP_DIR";
/// `HELM_SECRETS_EVALUATE_TEMPLATES`: helm-secrets' post-renderer; refused when true.
pub const EVALUATE_TEMPLATES: &str = "HELM_SECRETS_EVALUATE_TEMPLATES";
/// `HELM_SECRETS_EVALUATE_TEMPLATES_DECODE_SECRETS`: refused when true (see [`EVALUATE_TEMPLATES`]).
pub const EVALUATE_TEMPLATES_DECODE_SECRETS: &str =
    "HELM_SECRETS_EVALUATE_TEMPLATES_DECODE_SECRETS";
/// `HELM_SECRETS_URL_VARIABLE_EXPANSION`: `$VAR` in remote values URLs; refused when true.
pub const URL_VARIABLE_EXPANSION: &str = "HELM_SECRETS_URL_VARIABLE_EXPANSION";
/// `HELM_SECRETS_IGNORE_MISSING_VALUES`: a missing values file is left out instead of failing.
pub const IGNORE_MISSING_VALUES: &str = "HELM_SECRETS_IGNORE_MISSING_VALUES";
/// `HELM_SECRETS_VALUES_ALLOW_SYMLINKS`: values files may be (or pass through) symlinks.
pub const ALLOW_SYMLINKS: &str = "HELM_SECRETS_VALUES_ALLOW_SYMLINKS";
/// `HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH`: values files may be given by absolute path.
pub const ALLOW_ABSOLUTE_PATH: &str = "HELM_SECRETS_VALUES_ALLOW_ABSOLUTE_PATH";
/// `HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL`: values file paths may contain `..`.
pub const ALLOW_PATH_TRAVERSAL: &str = "HELM_SECRETS_VALUES_ALLOW_PATH_TRAVERSAL";
/// `HELM_SECRETS_KEY_LOCATION_PREFIX`: key files of the `*-import://` forms must start with it.
pub const KEY_LOCATION_PREFIX: &str = "HELM_SECRETS_KEY_LOCATION_PREFIX";
/// `HELM_SECRETS_LOAD_GPG_KEYS`: PGP key files (or directories of them) imported before decrypting.
pub const LOAD_GPG_KEYS: &str = "HELM_SECRETS_LOAD_GPG_KEYS";
/// `HELM_SECRETS_ALLOW_GPG_IMPORT`: `secrets+gpg-import://` allowed (default true).
pub const ALLOW_GPG_IMPORT: &str = "HELM_SECRETS_ALLOW_GPG_IMPORT";
/// `HELM_SECRETS_ALLOW_GPG_IMPORT_KUBERNETES`: `secrets+gpg-import-kubernetes://` allowed.
pub const ALLOW_GPG_IMPORT_KUBERNETES: &str = "HELM_SECRETS_ALLOW_GPG_IMPORT_KUBERNETES";
/// `HELM_SECRETS_ALLOW_AGE_IMPORT`: `secrets+age-import://` allowed (default true).
pub const ALLOW_AGE_IMPORT: &str = "HELM_SECRETS_ALLOW_AGE_IMPORT";
/// `HELM_SECRETS_ALLOW_AGE_IMPORT_KUBERNETES`: `secrets+age-import-kubernetes://` allowed.
pub const ALLOW_AGE_IMPORT_KUBERNETES: &str = "HELM_SECRETS_ALLOW_AGE_IMPORT_KUBERNETES";
/// `HELM_SECRETS_HELM_PATH`: the helm binary the wrapper runs (before `HELM_BIN`).
pub const HELM_PATH: &str = "HELM_SECRETS_HELM_PATH";

/// The settings of one run, read once from the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// No warnings on stderr.
    pub quiet: bool,
    /// Missing values files are skipped.
    pub ignore_missing_values: bool,
    /// Symlinked values files allowed.
    pub allow_symlinks: bool,
    /// Absolute values file paths allowed.
    pub allow_absolute_path: bool,
    /// `..` in values file paths allowed.
    pub allow_path_traversal: bool,
    /// Required prefix of imported key locations (empty: any).
    pub key_location_prefix: String,
    /// PGP key files to import before decrypting.
    pub load_gpg_keys: Option<OsString>,
    /// The `HELM_SECRETS_ALLOW_*_IMPORT*` switches set to false (those URL forms are refused).
    pub denied_imports: Vec<&'static str>,
    /// The default secret backend.
    pub backend: crate::backend::Backend,
    /// The sops options of `--backend-args`.
    pub sops_args: crate::backend::SopsArgs,
    /// `HELM_SECRETS_ALLOWED_BACKENDS` (empty: any).
    pub allowed_backends: Vec<String>,
    /// `--decrypt-secrets-in-tmp-dir`: accepted (no file is ever written).
    pub decrypt_in_tmp_dir: bool,
    /// The first setting that cannot be honoured (one line), reported before any work.
    pub refused: Option<String>,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var_os(k))
    }

    /// Reads the settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Self {
        let flag = |k: &str, default: bool| match get(k) {
            Some(v) => parse_bool(&v.to_string_lossy()).unwrap_or(default),
            None => default,
        };
        let text = |k: &str| get(k).map(|v| v.to_string_lossy().into_owned());
        let mut refused = None;
        let mut refuse = |m: String| {
            refused.get_or_insert(m);
        };
        let backend_name = text(BACKEND).unwrap_or_default();
        let backend = crate::backend::parse(&backend_name).unwrap_or_else(|e| {
            refuse(format!("{BACKEND}: {e}"));
            Default::default()
        });
        let sops_args = crate::backend::parse_args(&text(BACKEND_ARGS).unwrap_or_default())
            .unwrap_or_else(|e| {
                refuse(format!("{BACKEND_ARGS}: {e}"));
                Default::default()
            });
        for k in [EVALUATE_TEMPLATES, EVALUATE_TEMPLATES_DECODE_SECRETS] {
            if flag(k, false) {
                refuse(evaluate_templates_refusal(k));
            }
        }
        if flag(URL_VARIABLE_EXPANSION, false) {
            refuse(format!(
                "{URL_VARIABLE_EXPANSION}=true is not supported: write the URL out (expand it in the shell)"
            ));
        }
        let allowed_backends = text(ALLOWED_BACKENDS)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(String::from)
            .collect();
        Settings {
            // helm-secrets is quiet by default under Argo CD
            quiet: flag(QUIET, get("ARGOCD_APP_NAME").is_some()),
            ignore_missing_values: flag(IGNORE_MISSING_VALUES, false),
            allow_symlinks: flag(ALLOW_SYMLINKS, true),
            allow_absolute_path: flag(ALLOW_ABSOLUTE_PATH, true),
            allow_path_traversal: flag(ALLOW_PATH_TRAVERSAL, true),
            key_location_prefix: get(KEY_LOCATION_PREFIX)
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default(),
            load_gpg_keys: get(LOAD_GPG_KEYS).filter(|v| !v.is_empty()),
            denied_imports: [
                ALLOW_GPG_IMPORT,
                ALLOW_GPG_IMPORT_KUBERNETES,
                ALLOW_AGE_IMPORT,
                ALLOW_AGE_IMPORT_KUBERNETES,
            ]
            .into_iter()
            .filter(|k| !flag(k, true))
            .collect(),
            backend,
            sops_args,
            allowed_backends,
            decrypt_in_tmp_dir: flag(DECRYPT_SECRETS_IN_TMP_DIR, false),
            refused,
        }
    }

    /// Sets the backend by name (`-b`, a file prefix), within `HELM_SECRETS_ALLOWED_BACKENDS`.
    pub fn choose_backend(&self, name: &str) -> Result<crate::backend::Backend, String> {
        let name = name.trim();
        if !self.allowed_backends.is_empty() && !self.allowed_backends.iter().any(|b| b == name) {
            return Err(format!(
                "secret backend '{name}' not allowed ({ALLOWED_BACKENDS}={})",
                self.allowed_backends.join(",")
            ));
        }
        crate::backend::parse(name)
    }
}

/// The one-line refusal of helm-secrets' post-renderer settings.
pub fn evaluate_templates_refusal(what: &str) -> String {
    format!("{what} is not supported: this plugin decrypts values files only (encrypt the values, not the templates)")
}

/// Parses a boolean the way helm-secrets' shell scripts and Go's `strconv.ParseBool` accept it.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" | "y" | "on" => Some(true),
        "0" | "f" | "false" | "no" | "n" | "off" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_permissive_like_helm_secrets() {
        let s = settings(&[]);
        assert!(!s.quiet && !s.ignore_missing_values);
        assert!(s.allow_symlinks && s.allow_absolute_path && s.allow_path_traversal);
        assert!(s.denied_imports.is_empty());
        assert_eq!(s.backend, crate::backend::Backend::Sops);
        assert!(s.refused.is_none());
    }

    #[test]
    fn flags_and_backend() {
        let s = settings(&[
            (QUIET, "true"),
            (ALLOW_SYMLINKS, "false"),
            (ALLOW_ABSOLUTE_PATH, "0"),
            (ALLOW_PATH_TRAVERSAL, "False"),
            (IGNORE_MISSING_VALUES, "1"),
            (ALLOW_AGE_IMPORT, "false"),
            (BACKEND, "vals"),
        ]);
        assert!(s.quiet && s.ignore_missing_values);
        assert!(!s.allow_symlinks && !s.allow_absolute_path && !s.allow_path_traversal);
        assert_eq!(s.denied_imports, [ALLOW_AGE_IMPORT]);
        assert!(s.refused.as_deref().unwrap().contains("vals"));
        assert!(settings(&[(BACKEND, "noop")]).refused.is_none());
        assert!(settings(&[(BACKEND_ARGS, "--foo")])
            .refused
            .unwrap()
            .contains("--foo"));
        // unparsable values keep the default
        assert!(settings(&[(ALLOW_SYMLINKS, "maybe")]).allow_symlinks);
    }
}
