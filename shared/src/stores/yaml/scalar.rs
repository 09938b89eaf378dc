//! Scalar typing the way sops sees YAML (go-yaml v3 `resolve`), and the text go-yaml writes for typed values.

use crate::tree::Value;

/// What a plain scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX` that still fits 64 unsigned bits.
    Uint(u64),
    Float(f64),
    /// RFC 3339 text as Go's `time.MarshalText` prints it.
    Time(String),
    Str,
}

impl Resolved {
    /// The tree value for this resolution of `text`; `None` for an unsigned integer above `i64::MAX`,
    /// which sops cannot handle (go-yaml gives a `uint64`, sops' tree walk rejects it).
    pub(crate) fn into_value(self, text: &str) -> Option<Value> {
        Some(match self {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => Value::Int(i),
            Resolved::Uint(_) => return None,
            Resolved::Float(f) => Value::Float(f),
            Resolved::Time(t) => Value::Time(t),
            Resolved::Str => Value::Str(text.to_string()),
        })
    }
    fn is_str(&self) -> bool {
        matches!(self, Resolved::Str)
    }
}

/// Resolves an untagged plain scalar like go-yaml v3 (YAML 1.2 core schema plus 1.1 octals and timestamps).
pub(crate) fn resolve_plain(s: &str) -> Resolved {
    resolve_with(s, true)
}

fn resolve_with(s: &str, allow_time: bool) -> Resolved {
    let hint = match s.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return Resolved::Str,
    };
    match s {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => match go_parse_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'D' | b'S' => {
            if allow_time {
                if let Some(t) = parse_timestamp(s) {
                    return Resolved::Time(t);
                }
            }
            let plain: std::borrow::Cow<'_, str> = if s.contains('_') {
                s.chars().filter(|&c| c != '_').collect::<String>().into()
            } else {
                s.into()
            };
            if let Some(i) = go_parse_int(&plain) {
                return Resolved::Int(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Resolved::Uint(u);
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = go_parse_float(&plain) {
                    return Resolved::Float(f);
                }
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Resolves a scalar carrying an explicit core tag (`!!int`, `!!float`, …). `None` when go-yaml fails to
/// decode it (sops then keeps a null).
pub(crate) fn resolve_tagged(suffix: &str, s: &str) -> Option<Resolved> {
    let r = resolve_with(s, suffix == "timestamp");
    let ok = match suffix {
        "bool" => matches!(r, Resolved::Bool(_)),
        "int" => matches!(r, Resolved::Int(_) | Resolved::Uint(_)),
        "float" => match r {
            Resolved::Float(_) => true,
            Resolved::Int(i) => return Some(Resolved::Float(i as f64)),
            Resolved::Uint(u) => return Some(Resolved::Float(u as f64)),
            _ => false,
        },
        "timestamp" => matches!(r, Resolved::Time(_)),
        "null" => return Some(Resolved::Str),
        _ => return Some(Resolved::Str),
    };
    if ok || r == Resolved::Str && suffix == "str" {
        Some(r)
    } else {
        None
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat(s, 64)` for the decimal text go-yaml's resolver lets through.
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let decimal = !body.is_empty()
        && body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    decimal.then(|| crate::gocompat::parse_float(s)).flatten()
}

/// Splits Go base-0 integer syntax into (negative, radix, digits).
fn go_int_parts(s: &str, allow_sign: bool) -> Option<(bool, u32, &str)> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') if allow_sign => (true, &s[1..]),
        Some(b'+') if allow_sign => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = rest.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &rest[2..]),
        Some("0o") => (8, &rest[2..]),
        Some("0b") => (2, &rest[2..]),
        _ if rest.len() > 1 && rest.starts_with('0') => (8, &rest[1..]),
        _ => (10, rest),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some((neg, radix, digits))
}

fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, radix, digits) = go_int_parts(s, true)?;
    let mag = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

fn go_parse_uint(s: &str) -> Option<u64> {
    let (_, radix, digits) = go_int_parts(s, false)?;
    u64::from_str_radix(digits, radix).ok()
}

/// go-yaml `parseTimestamp`: `2006-1-2T15:4:5.999999999Z07:00` (also `t`), `2006-1-2 15:4:5.999999999`,
/// `2006-1-2`. Returns Go's `time.MarshalText` of the result.
pub(crate) fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let lead = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if lead != 4 || b.len() == 4 || b[4] != b'-' {
        return None;
    }
    parse_ts_full(s, b'T')
        .or_else(|| parse_ts_full(s, b't'))
        .or_else(|| parse_ts_space(s))
        .or_else(|| {
            let mut c = Cursor { b, i: 0 };
            let (y, mo, d) = c.date()?;
            (c.i == b.len()).then(|| format_time(y, mo, d, 0, 0, 0, 0, Some(0)))
        })
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }
    /// Go `getnum(s, false)`: one or two digits.
    fn num12(&mut self) -> Option<u32> {
        let d0 = *self.b.get(self.i).filter(|c| c.is_ascii_digit())?;
        self.i += 1;
        match self.b.get(self.i).filter(|c| c.is_ascii_digit()) {
            Some(&d1) => {
                self.i += 1;
                Some(u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'))
            }
            None => Some(u32::from(d0 - b'0')),
        }
    }
    fn num2(&mut self) -> Option<u32> {
        let s = self.b.get(self.i..self.i + 2)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += 2;
        Some(u32::from(s[0] - b'0') * 10 + u32::from(s[1] - b'0'))
    }
    fn date(&mut self) -> Option<(i32, u32, u32)> {
        let y = std::str::from_utf8(self.b.get(0..4)?)
            .ok()?
            .parse::<i32>()
            .ok()?;
        self.i = 4;
        self.lit(b'-')?;
        let mo = self.num12()?;
        self.lit(b'-')?;
        let d = self.num12()?;
        if !(1..=12).contains(&mo) || d < 1 || d > days_in(y, mo) {
            return None;
        }
        Some((y, mo, d))
    }
    fn time(&mut self) -> Option<(u32, u32, u32, u32)> {
        let h = self.num12()?;
        self.lit(b':')?;
        let mi = self.num12()?;
        self.lit(b':')?;
        let se = self.num12()?;
        if h >= 24 || mi >= 60 || se >= 60 {
            return None;
        }
        let mut nanos = 0u32;
        if matches!(self.b.get(self.i), Some(b'.' | b','))
            && self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit)
        {
            self.i += 1;
            let st = self.i;
            while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let frac = &self.b[st..self.i];
            for k in 0..9 {
                nanos = nanos * 10 + frac.get(k).map_or(0, |c| u32::from(c - b'0'));
            }
        }
        Some((h, mi, se, nanos))
    }
}

fn parse_ts_full(s: &str, sep: u8) -> Option<String> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let (y, mo, d) = c.date()?;
    c.lit(sep)?;
    let (h, mi, se, ns) = c.time()?;
    let off = if c.lit(b'Z').is_some() {
        0
    } else {
        let sign = match c.b.get(c.i)? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        c.i += 1;
        let oh = c.num2()?;
        c.lit(b':')?;
        let om = c.num2()?;
        if oh > 24 || om > 60 {
            return None;
        }
        sign * (oh as i32 * 3600 + om as i32 * 60)
    };
    (c.i == c.b.len()).then(|| format_time(y, mo, d, h, mi, se, ns, Some(off)))
}

fn parse_ts_space(s: &str) -> Option<String> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let (y, mo, d) = c.date()?;
    c.lit(b' ')?;
    let (h, mi, se, ns) = c.time()?;
    (c.i == c.b.len()).then(|| format_time(y, mo, d, h, mi, se, ns, Some(0)))
}

fn days_in(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[allow(clippy::too_many_arguments)]
fn format_time(
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    se: u32,
    ns: u32,
    off: Option<i32>,
) -> String {
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}");
    if ns != 0 {
        let frac = format!("{ns:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    match off.unwrap_or(0) {
        0 => out.push('Z'),
        o => {
            let sign = if o < 0 { '-' } else { '+' };
            let a = o.abs();
            out.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60));
        }
    }
    out
}

/// Go `strconv.FormatFloat(f, 'g', -1, 64)` with go-yaml's `.inf`/`.nan` spellings.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.into()
    } else {
        crate::gocompat::format_float_g(f, false)
    }
}

/// go-yaml `isOldBool`: YAML 1.1 booleans are quoted on output.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// go-yaml `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        match i - st {
            1 => {}
            2 if b[st] <= b'5' => {}
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// True when go-yaml's encoder may write the string unquoted as far as typing goes.
pub(crate) fn can_use_plain(s: &str) -> bool {
    resolve_plain(s).is_str() && !is_base60_float(s) && !is_old_bool(s)
}
