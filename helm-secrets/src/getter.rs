//! Fetching a URL of any other scheme (`git+https://`, `s3://`, …) through helm's own getter
//! plugins, the way helm-secrets does: `helm template` of a one-template chart with
//! `--set-file content=URL`, which makes helm run the getter plugin that serves the scheme. The
//! content comes back base64-encoded on helm's stdout (a pipe); the chart on disk holds no data.

use std::process::{Command, Stdio};

use base64::Engine;

/// The chart's only template: the fetched bytes, base64, as one YAML value.
const TEMPLATE: &str = "content: {{ .Values.content | b64enc | quote }}\n";

/// The helm to run: `HELM_SECRETS_HELM_PATH`, else `HELM_BIN` (set by helm for plugins), else `helm`.
pub fn helm_binary() -> std::ffi::OsString {
    [crate::settings::HELM_PATH, "HELM_BIN"]
        .into_iter()
        .filter_map(std::env::var_os)
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "helm".into())
}

/// Fetches `url` with helm's getter for its scheme. Errors are one line without the URL (the
/// caller names it, redacted).
pub fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let chart = tempfile::Builder::new()
        .prefix("helm-secrets-getter")
        .tempdir()
        .map_err(|e| format!("cannot create the getter chart: {e}"))?;
    let write = |rel: &str, text: &str| {
        let p = chart.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(p, text)
    };
    write(
        "Chart.yaml",
        "apiVersion: v2\nname: helm-secrets-getter\nversion: 0.1.0\n",
    )
    .and_then(|_| write("templates/content.yaml", TEMPLATE))
    .map_err(|e| format!("cannot create the getter chart: {e}"))?;
    // strvals: a comma or backslash in the URL would end or escape the value
    let escaped = url.replace('\\', "\\\\").replace(',', "\\,");
    let out = Command::new(helm_binary())
        .arg("template")
        .arg(chart.path())
        .arg("--set-file")
        .arg(format!("content={escaped}"))
        .env_remove("HELM_DEBUG")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run helm to fetch it: {e}"))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        let why = why.replace(url, &crate::remote::redact(url));
        return Err(format!(
            "helm could not fetch it with a getter plugin: {}",
            why.trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let b64 = text
        .lines()
        .find_map(|l| l.strip_prefix("content: "))
        .map(|v| v.trim().trim_matches('"'))
        .ok_or("helm's getter output has no content")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("helm's getter output: {e}"))?;
    if bytes.len() > crate::remote::MAX_BYTES {
        return Err(format!(
            "larger than {} MiB",
            crate::remote::MAX_BYTES >> 20
        ));
    }
    Ok(bytes)
}
