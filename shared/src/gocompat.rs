//! Go behaviour the SOPS format depends on, in one place at the bottom of the engine: how Go formats
//! and parses floats and booleans (`strconv`), and how it decodes invalid UTF-8. sops writes and
//! reads values with these rules, so byte-identical files need them. Depends on nothing else here.

/// Formats a float like Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an
/// exponent; `NaN`, `+Inf`, `-Inf` as Go spells them.
pub fn format_float_f(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if f == 0.0 {
        format!("{f}")
    } else {
        // Shortest round-trip digits with Go's tie-breaking (Rust's Display rounds ties differently).
        format_finite_f(f)
    }
}

/// Parses a float like Go's `strconv.ParseFloat(s, 64)`: decimal text (no digit separators without
/// a base prefix), `inf`/`infinity` with an optional sign and `nan`, case-insensitive; a value out
/// of range is an error, as in Go.
pub fn parse_float(s: &str) -> Option<f64> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if !body
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == b'.')
    {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Decodes bytes as UTF-8 the way Go does when it meets invalid input: every byte that does not start
/// a valid sequence becomes U+FFFD.
pub(crate) fn lossy_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            let mut rest = bytes;
            while !rest.is_empty() {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let good = e.valid_up_to();
                        out.push_str(std::str::from_utf8(&rest[..good]).expect("valid prefix"));
                        out.push('\u{FFFD}');
                        rest = &rest[good + 1..];
                    }
                }
            }
            out
        }
    }
}

/// The digits and decimal point position of Rust's `{:e}` text (`1.25e3` → `("125", 4)`).
fn split_exp(s: &str) -> (String, i32) {
    let (mant, exp) = s.split_once('e').expect("{:e} has an exponent");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (
        digits,
        exp.parse::<i32>().expect("exponent is an integer") + 1,
    )
}

/// Shortest round-trip decimal digits of a finite, non-zero float and its decimal exponent, so that
/// `|f| = 0.d1d2d3… × 10^point`, chosen like Go: among the shortest candidates the one closest to the
/// exact value, ties to an even last digit. (Rust's shortest formatting rounds ties up:
/// -169230132522575.125 is `…575.13` in Rust but `…575.12` in Go.)
pub(crate) fn shortest_digits(f: f64) -> (String, i32) {
    let a = f.abs();
    let (digits, point) = split_exp(&format!("{a:e}"));
    let n = digits.len();
    if n < 15 {
        return (digits, point);
    }
    // Round the exact expansion to n digits, half to even.
    let (exact, exact_point) = split_exp(&format!("{a:.800e}"));
    let bytes = exact.as_bytes();
    let mut cand: Vec<u8> = bytes[..n].to_vec();
    let rest = &bytes[n..];
    let round_up = match rest.first() {
        Some(b'6'..=b'9') => true,
        Some(b'5') => rest[1..].iter().any(|d| *d != b'0') || (cand[n - 1] - b'0') % 2 == 1,
        _ => false,
    };
    let mut cand_point = exact_point;
    if round_up {
        let mut i = n;
        loop {
            if i == 0 {
                cand.insert(0, b'1');
                cand.pop();
                cand_point += 1;
                break;
            }
            i -= 1;
            if cand[i] == b'9' {
                cand[i] = b'0';
            } else {
                cand[i] += 1;
                break;
            }
        }
    }
    while cand.len() > 1 && cand.last() == Some(&b'0') {
        cand.pop();
    }
    let cand = String::from_utf8(cand).expect("ASCII digits");
    let back: Option<f64> = format!("0.{cand}e{cand_point}").parse().ok();
    if cand.len() <= n && back == Some(a) {
        (cand, cand_point)
    } else {
        (digits, point)
    }
}

/// [`format_float_f`] of a finite, non-zero float.
fn format_finite_f(f: f64) -> String {
    let (digits, point) = shortest_digits(f);
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// Go's `strconv.FormatFloat(f, fmt, -1, 64)` for `fmt` in `e`/`E` (exponent at least two digits).
pub(crate) fn format_float_exp(f: f64, upper: bool) -> String {
    let neg = f.is_sign_negative();
    let (digits, point) = if f == 0.0 {
        ("0".to_string(), 1)
    } else {
        shortest_digits(f)
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push(if upper { 'E' } else { 'e' });
    let e = point - 1;
    out.push(if e < 0 { '-' } else { '+' });
    let a = e.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
    out
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` (`'G'` when `upper`).
pub(crate) fn format_float_g(f: f64, upper: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (_, point) = shortest_digits(f);
    let exp = point - 1;
    // with the shortest precision Go decides between %e and %f with precision 6
    if !(-4..6).contains(&exp) {
        format_float_exp(f, upper)
    } else {
        format_float_f(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_parse_like_go_strconv() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("-2e3"), Some(-2000.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("+nan"), None, "Go takes no sign before nan");
        assert_eq!(parse_float("1e400"), None, "out of range is an error in Go");
        assert_eq!(
            parse_float("1_000"),
            None,
            "no separators without a base prefix"
        );
        assert_eq!(parse_float(""), None);
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn booleans_parse_like_go_strconv() {
        assert_eq!(parse_bool("T"), Some(true));
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
