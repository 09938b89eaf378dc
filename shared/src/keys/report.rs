//! The one-line "no key could decrypt the data key" message: which keys were tried and, shortly, why
//! each failed, instead of sops' multi-line report.

/// A recipient as messages show it: age keys shortened to `age1xxxxxxxx…yyyyyy`.
fn short_recipient(r: &str) -> String {
    if r.starts_with("age1") && r.len() > 24 && r.is_ascii() {
        format!("{}…{}", &r[..12], &r[r.len() - 6..])
    } else {
        r.to_string()
    }
}

/// `$HOME/…` as `~/…`.
fn tilde(p: &str) -> String {
    match std::env::var("HOME") {
        Ok(h) if !h.is_empty() && p.starts_with(&format!("{h}/")) => format!("~{}", &p[h.len()..]),
        _ => p.to_string(),
    }
}

/// Prefixes that only repeat what the summary already says.
const NOISE: [&str; 2] = [
    "failed to decrypt the sops data key with age: ",
    "failed to decrypt sops data key with pgp: ",
];

/// One key's failure in a few words, and the age key locations that held nothing (if named). The
/// errors met while loading identities (a key file that does not open, with its path) and the
/// identities that were loaded (by recipient) are kept whole.
fn short_reason(reason: &str) -> (String, Option<String>) {
    let flat = reason.replace('\n', " ");
    let (flat, locations) = match flat.split_once(". Did not find keys in locations ") {
        Some((m, l)) => {
            let l: Vec<String> = l
                .trim_end_matches('.')
                .split(", ")
                .map(|x| tilde(x.trim_matches('\'')))
                .collect();
            (m.to_string(), Some(l.join(", ")))
        }
        None => (flat.clone(), None),
    };
    let (flat, loaded) = match flat.split_once(". Loaded identities: ") {
        Some((m, l)) => (m.to_string(), Some(l.trim_end_matches('.').to_string())),
        None => (flat, None),
    };
    let (main, errors) = match flat.split_once(". Errors while loading age identities: ") {
        Some((m, e)) => (m.to_string(), Some(e.trim_end_matches('.').to_string())),
        None => (flat, None),
    };
    let mut main = main.trim().to_string();
    // "could not decrypt data key with PGP key FP: failed … pgp: REASON" → REASON
    if let Some(rest) = main.strip_prefix("could not decrypt data key with PGP key ") {
        main = rest.split_once(": ").map_or(rest, |(_, r)| r).to_string();
    }
    for n in NOISE {
        if let Some(rest) = main.strip_prefix(n) {
            main = rest.to_string();
        }
    }
    let no_match =
        main.starts_with("No matching keys found") || main.starts_with("no identity matched");
    if no_match {
        main = "no identity here matches".into();
    }
    if main.chars().count() > 120 {
        main = main.chars().take(119).collect::<String>() + "…";
    }
    if let Some(l) = loaded.filter(|_| no_match) {
        let l: Vec<String> = l
            .split(", ")
            .map(|n| match n.split_once(" from ") {
                Some((r, o)) => format!("{} from {}", short_recipient(r), tilde(o)),
                None => n.to_string(),
            })
            .collect();
        main.push_str(&format!(" (loaded: {})", l.join(", ")));
    }
    if let Some(e) = errors {
        main.push_str(&format!("; {e}"));
    }
    (main, locations)
}

/// The message of a failed data key recovery: `failures` are the groups that failed with each key
/// tried and its error; `recovered` of the `threshold` parts needed were recovered from `groups`.
pub fn no_key_summary(
    failures: &[(usize, Vec<(String, String)>)],
    groups: usize,
    threshold: usize,
    recovered: usize,
) -> String {
    let mut msg = "no key could decrypt the data key".to_string();
    if groups > 1 {
        msg.push_str(&format!(
            ": {recovered} of the {threshold} key group parts needed were recovered"
        ));
    }
    let mut tried = Vec::new();
    let mut empty_locations = None;
    for (gi, keys) in failures {
        for (key, why) in keys {
            let (why, locations) = short_reason(why);
            if locations.is_some() {
                empty_locations = locations;
            }
            let key = short_recipient(key);
            tried.push(if groups > 1 {
                format!("group {gi} {key}: {why}")
            } else {
                format!("{key}: {why}")
            });
        }
    }
    if tried.is_empty() {
        msg.push_str(" (the file lists no keys)");
        return msg;
    }
    msg.push_str(&format!(" (tried {}", tried.join("; ")));
    if let Some(l) = empty_locations {
        msg.push_str(&format!("; no age identity found in {l}"));
    }
    msg.push(')');
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_readable_line() {
        let why = "failed to decrypt the sops data key with age: No matching keys found. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', '/nonexistent-home/.ssh/id_ed25519', 'SOPS_AGE_KEY'.";
        let recipient = "age15pjmgw3zf3qlgl8lkxqrak9l6z32dv84rvjw2efulrzhk3zfgvrskzjgmm";
        let s = no_key_summary(&[(0, vec![(recipient.into(), why.into())])], 1, 1, 0);
        assert_eq!(
            s,
            "no key could decrypt the data key (tried age15pjmgw3z…kzjgmm: no identity here matches; no age identity found in SOPS_AGE_SSH_PRIVATE_KEY_FILE, /nonexistent-home/.ssh/id_ed25519, SOPS_AGE_KEY)"
        );
        assert!(!s.contains('\n'));
        let why = "failed to decrypt the sops data key with age: No matching keys found. Errors while loading age identities: failed to open SOPS_AGE_KEY_FILE file /nonexistent/key.txt: No such file or directory (os error 2). Loaded identities: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p from SOPS_AGE_KEY. Did not find keys in locations 'SOPS_AGE_KEY_CMD'.";
        let s = no_key_summary(&[(0, vec![(recipient.into(), why.into())])], 1, 1, 0);
        assert!(
            s.contains("no identity here matches (loaded: age1ql3z7hjy…mcac8p from SOPS_AGE_KEY); failed to open SOPS_AGE_KEY_FILE file /nonexistent/key.txt: No such file or directory (os error 2)"),
            "{s}"
        );
        let pgp = "could not decrypt data key with PGP key ABCD: failed to decrypt sops data key with pgp: gpg: decryption failed: No secret key";
        let s = no_key_summary(&[(1, vec![("ABCD".into(), pgp.into())])], 2, 2, 1);
        assert_eq!(s, "no key could decrypt the data key: 1 of the 2 key group parts needed were recovered (tried group 1 ABCD: gpg: decryption failed: No secret key)");
    }
}
