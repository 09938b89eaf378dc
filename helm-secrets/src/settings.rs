//! The `HELM_SECRETS_*` environment variables honoured by this plugin (names as the helm-secrets
//! plugin uses them, so CI and Argo CD setups keep working).

use std::ffi::OsString;

/// `HELM_SECRETS_QUIET`: no warnings or notes on stderr.
pub const QUIET: &str = "HELM_SECRETS_QUIET";
/// `HELM_SECRETS_BACKEND`: helm-secrets' backend choice (sops/vals); ignored here.
pub const BACKEND: &str = "HELM_SECRETS_BACKEND";
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
    /// `HELM_SECRETS_BACKEND`, when set to something other than sops.
    pub backend: Option<String>,
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
        let backend = get(BACKEND)
            .map(|v| v.to_string_lossy().trim().to_string())
            .filter(|b| !b.is_empty() && b != "sops");
        Settings {
            quiet: flag(QUIET, false),
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
        }
    }

    /// Prints a one-line warning unless quiet.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("[helm-secrets] warning: {msg}");
        }
    }

    /// Warns once about a backend choice this plugin does not have.
    pub fn warn_backend(&self) {
        if let Some(b) = &self.backend {
            self.warn(&format!(
                "{BACKEND}={b} is ignored: this plugin always decrypts with its built-in sops engine"
            ));
        }
    }
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
        assert!(s.backend.is_none());
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
        assert_eq!(s.backend.as_deref(), Some("vals"));
        assert!(settings(&[(BACKEND, "sops")]).backend.is_none());
        // unparsable values keep the default
        assert!(settings(&[(ALLOW_SYMLINKS, "maybe")]).allow_symlinks);
    }
}
