//! OAuth 2 plumbing shared by the GCP and Azure key services: reading a token answer, short
//! one-line errors that never quote a token, a per-process token cache, and running a credential
//! helper program (`az`) with a time limit.

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::ServiceError;
use crate::os::http::Response;

/// An access token and when to stop using it.
#[derive(Clone)]
pub(crate) struct AccessToken {
    /// The bearer token.
    pub secret: Zeroizing<String>,
    /// After this instant the token is fetched again (None: never expires in this process).
    pub refresh_after: Option<Instant>,
}

impl AccessToken {
    /// A token without a known lifetime (a static one, or one a helper program printed).
    #[cfg_attr(not(feature = "kms-gcp"), allow(dead_code))]
    pub fn fixed(secret: Zeroizing<String>) -> Self {
        AccessToken {
            secret,
            refresh_after: None,
        }
    }

    /// Whether it can still be sent.
    pub fn fresh(&self) -> bool {
        self.refresh_after.is_none_or(|t| Instant::now() < t)
    }
}

/// The `access_token` of a token endpoint's JSON answer (`what` names the endpoint in errors). A
/// failed answer is reported with its `error` and the first line of `error_description` (never the
/// request, which holds the credential).
pub(crate) fn token_from(resp: &Response, what: &str) -> Result<AccessToken, ServiceError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    if !(200..300).contains(&resp.status) {
        return Err(ServiceError::Credentials(format!(
            "{what} refused the credentials (HTTP {}): {}",
            resp.status,
            error_text(json.as_ref())
        )));
    }
    let mut json =
        json.ok_or_else(|| ServiceError::Credentials(format!("{what} answered with no JSON")))?;
    // taken out of the answer, so the only copy is the one wiped on drop
    let field = if json.get("access_token").is_some() {
        "access_token"
    } else {
        "accessToken"
    };
    let token = match json.get_mut(field).map(serde_json::Value::take) {
        Some(serde_json::Value::String(t)) if !t.is_empty() => Zeroizing::new(t),
        _ => {
            return Err(ServiceError::Credentials(format!(
                "{what} answered without an access token"
            )))
        }
    };
    // a minute of margin; `expires_in` is a number (or a string, from some managed identity
    // endpoints)
    let lifetime = json
        .get("expires_in")
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(3600);
    Ok(AccessToken {
        secret: token,
        refresh_after: Some(Instant::now() + Duration::from_secs(lifetime.saturating_sub(60))),
    })
}

/// A service's JSON answer: the document for 2xx; a redirect is refused with `redirected(status)`
/// (redirects are never followed with a token); anything else names the service's error text.
/// `what` starts every message (`Key Vault decrypt`, `Cloud KMS encrypt`).
pub(crate) fn json_answer(
    what: &str,
    resp: &Response,
    redirected: impl FnOnce(u16) -> String,
) -> Result<serde_json::Value, ServiceError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let answer = |s: String| ServiceError::Answer(s);
    match resp.status {
        200..=299 => json.ok_or_else(|| answer(format!("{what}: the answer is not JSON"))),
        300..=399 => Err(answer(format!("{what}: {}", redirected(resp.status)))),
        status => Err(answer(format!(
            "{what}: {} (HTTP {status})",
            error_text(json.as_ref())
        ))),
    }
}

/// The error text of a service's JSON error answer on one line (OAuth `error` +
/// `error_description`, Google's and Azure's `error.message`, `error.code`).
pub(crate) fn error_text(json: Option<&serde_json::Value>) -> String {
    let Some(j) = json else {
        return "no error text".into();
    };
    let s = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .or_else(|| v.filter(|v| v.is_number()).map(|v| v.to_string()))
    };
    let text = match j.get("error") {
        Some(serde_json::Value::String(code)) => {
            match s(j.get("error_description")) {
                // AAD's descriptions run over several lines of trace ids: the first is the reason
                Some(d) => format!("{code}: {}", d.lines().next().unwrap_or("")),
                None => code.clone(),
            }
        }
        Some(e @ serde_json::Value::Object(_)) => {
            let code = s(e.get("status")).or_else(|| s(e.get("code")));
            match (code, s(e.get("message"))) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c,
                (None, Some(m)) => m,
                (None, None) => "no error text".into(),
            }
        }
        _ => "no error text".into(),
    };
    excerpt(&text, 300)
}

/// `s` on one line, at most `max` characters.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat.to_string(),
    }
}

/// Runs `program args` with stdin closed and no more than `limit`; its stdout, or why not (the
/// first line of its stderr). `Ok(None)` when the program is not installed.
#[cfg_attr(not(feature = "kms-azure"), allow(dead_code))]
pub(crate) fn run_helper(
    program: &str,
    args: &[&str],
    limit: Duration,
) -> Result<Option<Zeroizing<Vec<u8>>>, ServiceError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ServiceError::Program(format!("cannot run {program}: {e}"))),
    };
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut b = Zeroizing::new(Vec::new());
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ServiceError::Program(format!(
                    "{program} did not finish within {} s",
                    limit.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(ServiceError::Program(format!("waiting for {program}: {e}"))),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        let first = String::from_utf8_lossy(&err)
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| excerpt(l, 300))
            .unwrap_or_else(|| format!("exit status {status}"));
        return Err(ServiceError::Program(format!("{program} failed: {first}")));
    }
    Ok(Some(out))
}

/// A JWT `header.claims.signature` signed RS256 (ring) with the first private key (PKCS#8 or
/// PKCS#1 RSA) of the PEM text `pem`. Errors say what is wrong with the key (to follow the key's
/// name in a message), never quote it.
pub(crate) fn sign_rs256_jwt(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    pem: &[u8],
) -> Result<Zeroizing<String>, &'static str> {
    use base64::Engine;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| "holds no PEM private key")?;
    let pair = match &der {
        PrivateKeyDer::Pkcs8(k) => ring::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => ring::rsa::KeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err("is not an RSA key"),
    }
    .map_err(|_| "is not a usable RSA key")?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "could not sign the token request")?;
    Ok(Zeroizing::new(format!("{signing_input}.{}", b64(&sig))))
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers() {
        let t = token_from(
            &Response::fake(200, r#"{"access_token":"ya29.x","expires_in":"3599"}"#),
            "t",
        )
        .unwrap();
        assert_eq!(t.secret.as_str(), "ya29.x");
        assert!(t.fresh());
        let e = token_from(
            &Response::fake(
                400,
                r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret.\r\nTrace ID: 1"}"#,
            ),
            "login",
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "login refused the credentials (HTTP 400): invalid_client: AADSTS7000215: Invalid client secret."
        );
        let e = token_from(&Response::fake(200, r#"{"token_type":"Bearer"}"#), "t")
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "t answered without an access token");
        assert_eq!(
            error_text(Some(
                &serde_json::json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "denied"}})
            )),
            "PERMISSION_DENIED: denied"
        );
    }
}
