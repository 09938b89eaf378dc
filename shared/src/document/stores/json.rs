//! JSON files, read and written like sops 3.13.2 (`stores/json/store.go`).
//!
//! Reading: the top level must be an object; key order and duplicate keys are kept; integers that fit
//! in an `i64` become [`Value::Int`], every other number a [`Value::Float`] (3.13.2 `UseNumber` rule);
//! invalid UTF-8 bytes inside strings become U+FFFD (one per byte, like Go). For a plain file anything
//! after the closing `}` of the top-level object is ignored (sops reads one token stream value); an
//! encrypted file must be a single JSON value (sops `json.Unmarshal`s it first).
//!
//! Writing: values formatted like Go `json.Marshal` (HTML-safe escapes `\u003c` `\u003e` `\u0026`,
//! `\u2028` `\u2029`, `\b` `\f` `\n` `\r` `\t`, other control characters as `\u00XX`, non-ASCII raw;
//! floats `1e+300`, `0.000001`, `1e-7`), laid out like Go `json.Indent` with one tab (or N spaces),
//! empty `{}`/`[]` compact, and a final newline. Comments are dropped.
use super::Store;
use crate::error::{Result, SopsError};
use crate::metadata::Metadata;
use crate::tree::{Branch, Item, Value};

/// JSON object store.
pub struct JsonStore {
    /// Spaces of indentation; None = one tab like sops.
    pub indent: Option<usize>,
}

/// Deepest nesting accepted when reading (Go's decoder allows 10000; we stop earlier to protect the stack).
const MAX_DEPTH: usize = 1000;

fn parse_err(message: impl Into<String>) -> SopsError {
    SopsError::Parse {
        format: "JSON",
        message: message.into(),
    }
}

fn emit_err(message: impl Into<String>) -> SopsError {
    SopsError::Emit {
        format: "JSON",
        message: message.into(),
    }
}

impl JsonStore {
    fn indent_unit(&self) -> String {
        match self.indent {
            None => "\t".to_string(),
            Some(n) => " ".repeat(n),
        }
    }

    /// The document as sops writes it, with `extra` (the metadata) as its last key, and a final newline.
    pub(crate) fn emit_document(
        &self,
        branch: &[Item],
        extra: Option<(&str, &Value)>,
    ) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write_map(branch, extra, 0, &self.indent_unit(), &mut out)?;
        out.push(b'\n');
        Ok(out)
    }
}

impl Store for JsonStore {
    fn load_plain(&self, input: &[u8]) -> Result<Vec<Branch>> {
        Ok(vec![parse_document(input, false)?])
    }

    fn load_encrypted(&self, input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
        let mut docs = vec![parse_document(input, true)?];
        let md = super::split_metadata(&mut docs)?;
        Ok((docs, md))
    }

    fn emit_plain(&self, docs: &[Branch]) -> Result<Vec<u8>> {
        let doc = docs
            .first()
            .ok_or_else(|| emit_err("there is no document to write"))?;
        self.emit_document(doc, None)
    }

    fn emit_encrypted(&self, docs: &[Branch], metadata: &Metadata) -> Result<Vec<u8>> {
        let md = Value::Map(metadata.to_tree());
        let doc = docs.first().map_or(&[][..], Vec::as_slice);
        self.emit_document(doc, Some(("sops", &md)))
    }

    /// Like `sops decrypt --extract`: a map is written as a whole file (trailing newline), a string raw,
    /// anything else as indented JSON without trailing newline.
    fn emit_value(&self, value: &Value) -> Result<Vec<u8>> {
        match value {
            Value::Map(m) => self.emit_plain(std::slice::from_ref(m)),
            Value::Str(s) => Ok(s.as_bytes().to_vec()),
            Value::Bytes(b) => Ok(b.clone()),
            other => {
                let mut out = Vec::new();
                write_value(other, 0, &self.indent_unit(), &mut out)?;
                Ok(out)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------------

/// Parses the top-level object. `strict`: nothing but whitespace may follow it.
fn parse_document(input: &[u8], strict: bool) -> Result<Branch> {
    let mut p = Parser {
        s: input,
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    match p.peek() {
        None => return Err(parse_err("unexpected end of JSON input")),
        Some(b'{') => {}
        Some(b'[') => {
            return Err(parse_err(
                "SOPS only supports JSON files with a top-level object (starting with '{'), not arrays or \
                 other types. Got delimiter [ instead. To encrypt this file, wrap it in an object, e.g., \
                 {\"data\": [...]}",
            ))
        }
        Some(_) => {
            // Validate the scalar first so syntax errors are reported as such.
            let kind = match p.parse_value()? {
                Value::Str(_) => "string",
                Value::Int(_) => "int",
                Value::Float(_) => "float64",
                Value::Bool(_) => "bool",
                _ => "null",
            };
            return Err(parse_err(format!(
                "SOPS only supports JSON files with a top-level object (starting with '{{'), not other JSON \
                 types. Got a value of type {kind} instead"
            )));
        }
    }
    let Value::Map(branch) = p.parse_value()? else {
        unreachable!("object starts with {{")
    };
    if strict {
        p.skip_ws();
        if let Some(c) = p.peek() {
            return Err(p.unexpected(c, "after top-level value"));
        }
    }
    Ok(branch)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

/// Go's `%q`-like rendering of an unexpected byte for error messages (never more than one character).
fn describe_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        b'\n' => "'\\n'".into(),
        b'\r' => "'\\r'".into(),
        b'\t' => "'\\t'".into(),
        0x20..=0x7e => format!("'{}'", c as char),
        _ => format!("'\\x{c:02x}'"),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn unexpected(&self, c: u8, context: &str) -> SopsError {
        parse_err(format!(
            "invalid character {} {context} (offset {})",
            describe_char(c),
            self.pos + 1
        ))
    }

    fn eof(&self) -> SopsError {
        parse_err("unexpected end of JSON input")
    }

    fn expect_byte(&mut self, want: u8, context: &str) -> Result<()> {
        self.skip_ws();
        match self.peek() {
            Some(c) if c == want => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(self.unexpected(c, context)),
            None => Err(self.eof()),
        }
    }

    /// Parses one value. Iterative (an explicit stack of open containers), so the nesting limit, not
    /// the thread's stack size, bounds how deep a document may be.
    fn parse_value(&mut self) -> Result<Value> {
        enum Open {
            /// An object: its pairs so far and the key whose value is being read.
            Obj(Branch, String),
            Arr(Vec<Value>),
        }
        let mut stack: Vec<Open> = Vec::new();
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else {
                return Err(self.eof());
            };
            let mut v = match c {
                b'{' => {
                    self.enter()?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.depth -= 1;
                        Value::Map(Vec::new())
                    } else {
                        let key = self.object_key()?;
                        stack.push(Open::Obj(Vec::new(), key));
                        continue;
                    }
                }
                b'[' => {
                    self.enter()?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.depth -= 1;
                        Value::Seq(Vec::new())
                    } else {
                        stack.push(Open::Arr(Vec::new()));
                        continue;
                    }
                }
                b'"' => Value::Str(self.parse_string()?),
                b't' => self.literal("true", Value::Bool(true))?,
                b'f' => self.literal("false", Value::Bool(false))?,
                b'n' => self.literal("null", Value::Null)?,
                b'-' | b'0'..=b'9' => self.parse_number()?,
                _ => return Err(self.unexpected(c, "looking for beginning of value")),
            };
            // Store the value in its container; close every container that ends right after it.
            loop {
                let (is_obj, close) = match stack.last() {
                    None => return Ok(v),
                    Some(Open::Obj(..)) => (true, b'}'),
                    Some(Open::Arr(_)) => (false, b']'),
                };
                match stack.last_mut() {
                    Some(Open::Obj(items, key)) => {
                        items.push(Item::Pair(std::mem::take(key).into(), v))
                    }
                    Some(Open::Arr(items)) => items.push(v),
                    None => unreachable!("checked above"),
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if let Some(Open::Obj(_, key)) = stack.last_mut() {
                            *key = self.object_key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.pos += 1;
                        self.depth -= 1;
                        v = match stack.pop() {
                            Some(Open::Obj(items, _)) => Value::Map(items),
                            Some(Open::Arr(items)) => Value::Seq(items),
                            None => unreachable!("checked above"),
                        };
                    }
                    Some(c) if is_obj => {
                        return Err(self.unexpected(c, "after object key:value pair"))
                    }
                    Some(c) => return Err(self.unexpected(c, "after array element")),
                    None => return Err(self.eof()),
                }
            }
        }
    }

    /// An object key and the `:` after it.
    fn object_key(&mut self) -> Result<String> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {}
            Some(c) => return Err(self.unexpected(c, "looking for beginning of object key string")),
            None => return Err(self.eof()),
        }
        let key = self.parse_string()?;
        self.expect_byte(b':', "after object key")?;
        Ok(key)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(parse_err(format!(
                "exceeded max depth ({MAX_DEPTH} nested arrays/objects)"
            )));
        }
        Ok(())
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
        for (i, want) in word.bytes().enumerate() {
            match self.peek() {
                Some(c) if c == want => self.pos += 1,
                Some(c) if i > 0 => {
                    return Err(self.unexpected(
                        c,
                        &format!("in literal {word} (expecting '{}')", want as char),
                    ))
                }
                Some(c) => return Err(self.unexpected(c, "looking for beginning of value")),
                None => return Err(self.eof()),
            }
        }
        Ok(v)
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(c) = self.peek() else {
                return Err(self.eof());
            };
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.unexpected(c, "in \\u hexadecimal character escape"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// Parses a string starting at the opening quote.
    fn parse_string(&mut self) -> Result<String> {
        self.pos += 1; // opening quote
        let mut raw: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.eof());
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(crate::gocompat::lossy_utf8(&raw));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.eof());
                    };
                    self.pos += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi) {
                                // A low surrogate escape must follow; otherwise Go writes U+FFFD and
                                // reads the next escape on its own.
                                let save = self.pos;
                                if self.s.get(self.pos..self.pos + 2) == Some(b"\\u") {
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        char::from_u32(
                                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00),
                                        )
                                        .unwrap_or('\u{FFFD}')
                                    } else {
                                        self.pos = save;
                                        '\u{FFFD}'
                                    }
                                } else {
                                    '\u{FFFD}'
                                }
                            } else {
                                char::from_u32(hi).unwrap_or('\u{FFFD}')
                            }
                        }
                        other => return Err(self.unexpected(other, "in string escape code")),
                    };
                    let mut buf = [0u8; 4];
                    raw.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.unexpected(c, "in string literal")),
                _ => {
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn parse_number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            Some(c) => return Err(self.unexpected(c, "in numeric literal")),
            None => return Err(self.eof()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            match self.peek() {
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.unexpected(c, "after decimal point in numeric literal")),
                None => return Err(self.eof()),
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            match self.peek() {
                Some(b'0'..=b'9') => {}
                Some(c) => return Err(self.unexpected(c, "in exponent of numeric literal")),
                None => return Err(self.eof()),
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).expect("number text is ASCII");
        number_value(text).ok_or_else(|| {
            // sops quotes the number here; it may be a secret, so only its position is given
            parse_err(format!("number out of range (offset {})", start + 1))
        })
    }
}

/// sops 3.13.2 `normalizeJSONNumber`: an integer that fits int64 (`strconv.ParseInt`) stays an int,
/// anything else is a float64 (`strconv.ParseFloat`; out of range is an error: `None`).
fn number_value(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Int(i));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(Value::Float(f)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------------

fn newline_indent(out: &mut Vec<u8>, unit: &str, depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(unit.as_bytes());
    }
}

fn write_map(
    items: &[Item],
    extra: Option<(&str, &Value)>,
    depth: usize,
    unit: &str,
    out: &mut Vec<u8>,
) -> Result<()> {
    out.push(b'{');
    let mut empty = true;
    let pairs = items.iter().filter_map(|i| match i {
        Item::Pair(k, v) => Some((k.as_str(), v)),
        Item::Comment(_) => None,
    });
    for (k, v) in pairs.chain(extra) {
        if !empty {
            out.push(b',');
        }
        newline_indent(out, unit, depth + 1);
        go_quote_into(k.as_bytes(), out);
        out.extend_from_slice(b": ");
        write_value(v, depth + 1, unit, out)?;
        empty = false;
    }
    if !empty {
        newline_indent(out, unit, depth);
    }
    out.push(b'}');
    Ok(())
}

fn write_value(v: &Value, depth: usize, unit: &str, out: &mut Vec<u8>) -> Result<()> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => out.extend_from_slice(go_json_float(*f)?.as_bytes()),
        Value::Str(s) | Value::Time(s) => go_quote_into(s.as_bytes(), out),
        Value::Bytes(b) => go_quote_into(b, out),
        Value::Comment(c) => go_quote_into(c.text.as_bytes(), out),
        Value::Map(m) => write_map(m, None, depth, unit, out)?,
        Value::Seq(items) => {
            out.push(b'[');
            let mut empty = true;
            for item in items {
                if matches!(item, Value::Comment(_)) {
                    continue;
                }
                if !empty {
                    out.push(b',');
                }
                newline_indent(out, unit, depth + 1);
                write_value(item, depth + 1, unit, out)?;
                empty = false;
            }
            if !empty {
                newline_indent(out, unit, depth);
            }
            out.push(b']');
        }
    }
    Ok(())
}

/// Go `json.Marshal` of a tree value: compact JSON (maps keep their order, comments are dropped).
pub(crate) fn go_json_marshal_compact(v: &Value) -> Result<Vec<u8>> {
    fn go(v: &Value, out: &mut Vec<u8>) -> Result<()> {
        match v {
            Value::Map(m) => {
                out.push(b'{');
                let mut first = true;
                for item in m {
                    let Item::Pair(k, v) = item else { continue };
                    if !first {
                        out.push(b',');
                    }
                    go_quote_into(k.as_bytes(), out);
                    out.push(b':');
                    go(v, out)?;
                    first = false;
                }
                out.push(b'}');
            }
            Value::Seq(items) => {
                out.push(b'[');
                let mut first = true;
                for item in items.iter().filter(|i| !matches!(i, Value::Comment(_))) {
                    if !first {
                        out.push(b',');
                    }
                    go(item, out)?;
                    first = false;
                }
                out.push(b']');
            }
            other => write_value(other, 0, "", out)?,
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(v, &mut out)?;
    Ok(out)
}

/// Writes a JSON string literal like Go's `json.Marshal` with HTML escaping.
pub(crate) fn go_quote_into(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x80 {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..=0x1f | b'<' | b'>' | b'&' => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
                _ => out.push(b),
            }
            i += 1;
            continue;
        }
        // multi-byte: find the length of a valid sequence, if any
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        let valid = len > 0 && i + len <= s.len() && std::str::from_utf8(&s[i..i + len]).is_ok();
        if !valid {
            out.extend_from_slice(b"\\ufffd");
            i += 1;
            continue;
        }
        let seq = &s[i..i + len];
        if seq == "\u{2028}".as_bytes() {
            out.extend_from_slice(b"\\u2028");
        } else if seq == "\u{2029}".as_bytes() {
            out.extend_from_slice(b"\\u2029");
        } else {
            out.extend_from_slice(seq);
        }
        i += len;
    }
    out.push(b'"');
}

/// A float as Go's `encoding/json` writes it: `'f'` format for 1e-6 ≤ |f| < 1e21 (and zero), else `'e'`
/// with a one-digit negative exponent shortened (`1e-07` → `1e-7`). NaN and infinities are an error.
pub(crate) fn go_json_float(f: f64) -> Result<String> {
    if !f.is_finite() {
        return Err(emit_err(format!(
            "json: unsupported value: {}",
            crate::gocompat::format_float_f(f)
        )));
    }
    let a = f.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        return Ok(crate::gocompat::format_float_f(f));
    }
    let mut s = crate::gocompat::format_float_exp(f, false);
    let n = s.len();
    let b = s.as_bytes();
    if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
        s.remove(n - 2);
    }
    Ok(s)
}

/// sops `stores.ValToString` for a scalar: floats with `'G'` formatting and a `.0` added when the text
/// could be taken for an integer; bools `true`/`false`; null `<nil>`.
pub(crate) fn go_val_to_string(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) | Value::Time(s) => s.clone(),
        Value::Bytes(b) => crate::gocompat::lossy_utf8(b),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            let g = crate::gocompat::format_float_g(*f, true);
            if !g.contains('.') && !g.contains('E') && f.is_finite() {
                format!("{}.0", crate::gocompat::format_float_f(*f))
            } else {
                g
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        Value::Comment(c) => c.text.to_string(),
        Value::Map(_) | Value::Seq(_) => return None,
    })
}

/// Go's `fmt.Sprintf("%v", v)` of a sops tree value (what sops writes for a nested value in an INI
/// section): lists `[a b]`, maps `[{key value} …]`.
pub(crate) fn go_sprint_v(v: &Value) -> String {
    match v {
        Value::Float(f) => {
            if !f.is_finite() {
                return crate::gocompat::format_float_g(*f, true);
            }
            if *f == 0.0 {
                return if f.is_sign_negative() { "-0" } else { "0" }.into();
            }
            let (_, point) = crate::gocompat::shortest_digits(*f);
            let exp = point - 1;
            if !(-4..21).contains(&exp) {
                crate::gocompat::format_float_exp(*f, false)
            } else {
                crate::gocompat::format_float_f(*f)
            }
        }
        Value::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|it| match it {
                    Item::Pair(k, v) => format!("{{{k} {}}}", go_sprint_v(v)),
                    Item::Comment(c) => format!("{{{{{}}} <nil>}}", c.text),
                })
                .collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Seq(s) => format!(
            "[{}]",
            s.iter().map(go_sprint_v).collect::<Vec<_>>().join(" ")
        ),
        Value::Comment(c) => format!("{{{}}}", c.text),
        other => go_val_to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[u8]) -> String {
        let mut out = Vec::new();
        go_quote_into(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_float_format_like_go() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e300, "1e+300"),
            (0.000001, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (1e-7, "1e-7"),
            (123456789012345678901234567890.0, "1.2345678901234568e+29"),
            (9223372036854775808.0, "9223372036854776000"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e23, "1e+23"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            (12345678.9, "12345678.9"),
            (-2.5e-10, "-2.5e-10"),
            // exact value …575.125: Go rounds the tie to even, Rust's `{}` would print …575.13
            (-169230132522575.12, "-169230132522575.12"),
            (-1.6923013252257512e14, "-169230132522575.12"),
        ];
        for (f, want) in cases {
            assert_eq!(go_json_float(*f).unwrap(), *want, "{f}");
        }
        assert!(go_json_float(f64::NAN).is_err());
        assert!(go_json_float(f64::INFINITY).is_err());
    }

    #[test]
    fn val_to_string_like_sops() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (1.5, "1.5"),
            (1e300, "1E+300"),
            (1e21, "1E+21"),
            (100000.0, "100000.0"),
            (1234567.0, "1.234567E+06"),
            (0.0001, "0.0001"),
            (0.00001, "1E-05"),
            (0.000001, "1E-06"),
            (-0.0, "-0.0"),
            (123456789012345678901234567890.0, "1.2345678901234568E+29"),
            (25.4, "25.4"),
        ];
        for (f, want) in cases {
            assert_eq!(go_val_to_string(&Value::Float(*f)).unwrap(), *want, "{f}");
        }
        assert_eq!(go_val_to_string(&Value::Null).unwrap(), "<nil>");
        assert_eq!(go_val_to_string(&Value::Bool(false)).unwrap(), "false");
        assert_eq!(go_val_to_string(&Value::Int(-5)).unwrap(), "-5");
    }

    #[test]
    fn sprint_v_nested() {
        let m = Value::Map(vec![Item::Pair("a".into(), Value::Int(1))]);
        assert_eq!(go_sprint_v(&Value::Seq(vec![m])), "[[{a 1}]]");
        assert_eq!(
            go_sprint_v(&Value::Seq(vec![Value::Int(1), Value::Float(1e21)])),
            "[1 1e+21]"
        );
    }

    #[test]
    fn string_escaping_like_go() {
        assert_eq!(q(b"<>&"), r#""\u003c\u003e\u0026""#);
        assert_eq!(q("\u{2028}\u{2029}".as_bytes()), r#""\u2028\u2029""#);
        assert_eq!(
            q(b"\x01\x08\x0c\n\r\t\x1f\x7f"),
            "\"\\u0001\\b\\f\\n\\r\\t\\u001f\x7f\""
        );
        assert_eq!(q(b"\"\\/"), r#""\"\\/""#);
        assert_eq!(q("é ü 😀".as_bytes()), "\"é ü 😀\"");
        assert_eq!(
            q(b"bin\xff\x00\xe2\x82 x"),
            r#""bin\ufffd\u0000\ufffd\ufffd x""#
        );
    }

    #[test]
    fn lossy_utf8_per_byte() {
        assert_eq!(
            crate::gocompat::lossy_utf8(b"\xff\xe2\x82x\xed\xa0\x80"),
            "\u{FFFD}\u{FFFD}\u{FFFD}x\u{FFFD}\u{FFFD}\u{FFFD}"
        );
    }

    #[test]
    fn numbers_int_or_float() {
        let store = JsonStore { indent: None };
        let docs = store
            .load_plain(br#"{"a": 1, "b": 1.0, "c": -0, "d": 9223372036854775808, "e": 1E2, "f": -9223372036854775808}"#)
            .unwrap();
        let d = &docs[0];
        assert_eq!(crate::tree::get(d, "a"), Some(&Value::Int(1)));
        assert_eq!(crate::tree::get(d, "b"), Some(&Value::Float(1.0)));
        assert_eq!(crate::tree::get(d, "c"), Some(&Value::Int(0)));
        assert_eq!(
            crate::tree::get(d, "d"),
            Some(&Value::Float(9223372036854775808.0))
        );
        assert_eq!(crate::tree::get(d, "e"), Some(&Value::Float(100.0)));
        assert_eq!(crate::tree::get(d, "f"), Some(&Value::Int(i64::MIN)));
        assert!(store.load_plain(br#"{"a": 1e400}"#).is_err());
    }

    #[test]
    fn parse_errors_and_quirks() {
        let store = JsonStore { indent: None };
        for bad in [
            &b"[1,2]"[..],
            b"\"x\"",
            b"12",
            b"",
            b"  ",
            b"{\"a\":1",
            b"{\"a\":1,}",
            b"{\"a\":[1,2}",
            b"{\"a\" 1}",
            b"{1:2}",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":NaN}",
            b"{\"a\":tru}",
            b"{\"a\":\"x\ny\"}",
        ] {
            assert!(
                store.load_plain(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let msg = store.load_plain(b"[1]").unwrap_err().to_string();
        assert!(msg.contains("top-level object"), "{msg}");
        // sops reads one value and ignores what follows (plain files only)
        let docs = store.load_plain(b"{\"a\":1} trailing").unwrap();
        assert_eq!(docs[0], vec![Item::Pair("a".into(), Value::Int(1))]);
        // duplicate keys are kept
        let docs = store.load_plain(b"{\"a\":1,\"a\":2}").unwrap();
        assert_eq!(docs[0].len(), 2);
        // surrogates
        let docs = store
            .load_plain(br#"{"a":"\ud83d\ude00 \ud800 \/ \u00e9"}"#)
            .unwrap();
        assert_eq!(
            crate::tree::get(&docs[0], "a"),
            Some(&Value::Str("😀 \u{FFFD} / é".into()))
        );
    }

    #[test]
    fn emit_layout() {
        let doc = vec![
            Item::Pair(
                "a".into(),
                Value::Seq(vec![Value::Int(1), Value::Seq(vec![]), Value::Map(vec![])]),
            ),
            Item::Comment(crate::tree::Comment::line("dropped")),
            Item::Pair(
                "m".into(),
                Value::Map(vec![Item::Pair("x".into(), Value::Null)]),
            ),
        ];
        let tab = JsonStore { indent: None }
            .emit_plain(std::slice::from_ref(&doc))
            .unwrap();
        assert_eq!(
            String::from_utf8(tab).unwrap(),
            "{\n\t\"a\": [\n\t\t1,\n\t\t[],\n\t\t{}\n\t],\n\t\"m\": {\n\t\t\"x\": null\n\t}\n}\n"
        );
        let zero = JsonStore { indent: Some(0) }
            .emit_plain(std::slice::from_ref(&doc))
            .unwrap();
        assert_eq!(
            String::from_utf8(zero).unwrap(),
            "{\n\"a\": [\n1,\n[],\n{}\n],\n\"m\": {\n\"x\": null\n}\n}\n"
        );
        let empty = JsonStore { indent: Some(2) }.emit_plain(&[vec![]]).unwrap();
        assert_eq!(empty, b"{}\n");
    }

    #[test]
    fn emit_value_like_extract() {
        let s = JsonStore { indent: None };
        assert_eq!(s.emit_value(&Value::Float(1e300)).unwrap(), b"1e+300");
        assert_eq!(s.emit_value(&Value::Seq(vec![])).unwrap(), b"[]");
        assert_eq!(s.emit_value(&Value::Map(vec![])).unwrap(), b"{}\n");
        assert_eq!(
            s.emit_value(&Value::Seq(vec![Value::Bool(true)])).unwrap(),
            b"[\n\ttrue\n]"
        );
        assert_eq!(s.emit_value(&Value::Null).unwrap(), b"null");
    }
}

/// Helpers shared by the store tests: fixtures made with real sops 3.13.2 and the public vectors.
#[cfg(test)]
pub(crate) mod test_support {
    use super::super::Store;
    use crate::tree::{Branch, Item, Value};

    /// Reads `shared/tests/fixtures/<dir>/<name>`.
    pub(crate) fn fixture(dir: &str, name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Reads a file of the public sops vectors.
    pub(crate) fn vector(rel: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../shared/vectors/sops/{rel}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn show(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// Byte-exact checks against sops output: `enc` = `sops encrypt plain`, `dec` = `sops decrypt enc`.
    pub(crate) fn check_golden(store: &dyn Store, dir: &str, plain: &str, enc: &str, dec: &str) {
        let enc_bytes = fixture(dir, enc);
        let (docs, md) = store
            .load_encrypted(&enc_bytes)
            .unwrap_or_else(|e| panic!("{enc}: {e}"));
        let again = store.emit_encrypted(&docs, &md).unwrap();
        assert_eq!(
            show(&again),
            show(&enc_bytes),
            "{dir}/{enc}: encrypted round trip"
        );
        assert_eq!(
            again, enc_bytes,
            "{dir}/{enc}: encrypted round trip (bytes)"
        );

        let dec_bytes = fixture(dir, dec);
        let plain_docs = store
            .load_plain(&dec_bytes)
            .unwrap_or_else(|e| panic!("{dec}: {e}"));
        let out = store.emit_plain(&plain_docs).unwrap();
        assert_eq!(
            out,
            dec_bytes,
            "{dir}/{dec}: plain round trip\n{}\n---\n{}",
            show(&out),
            show(&dec_bytes)
        );

        // sops normalises the input the same way we do: emitting the parsed input gives its decryption
        let input = fixture(dir, plain);
        let out = store
            .emit_plain(&store.load_plain(&input).unwrap())
            .unwrap();
        assert_eq!(
            out,
            dec_bytes,
            "{dir}/{plain}: normalised\n{}\n---\n{}",
            show(&out),
            show(&dec_bytes)
        );

        // encrypted and plain trees have the same keys in the same places
        assert_eq!(
            shape_docs(&docs),
            shape_docs(&plain_docs),
            "{dir}/{enc}: shape"
        );
        assert!(!store.has_metadata(&plain_docs));
    }

    /// The key layout of documents, leaves blanked.
    pub(crate) fn shape_docs(docs: &[Branch]) -> Vec<String> {
        fn value(v: &Value, out: &mut String) {
            match v {
                Value::Map(m) => {
                    out.push('{');
                    for it in m {
                        match it {
                            Item::Pair(k, v) => {
                                out.push_str(&format!("{k:?}:"));
                                value(v, out);
                                out.push(',');
                            }
                            Item::Comment(_) => out.push_str("#,"),
                        }
                    }
                    out.push('}');
                }
                Value::Seq(s) => {
                    out.push('[');
                    for v in s {
                        value(v, out);
                        out.push(',');
                    }
                    out.push(']');
                }
                Value::Null => out.push_str("null"),
                _ => out.push('_'),
            }
        }
        docs.iter()
            .map(|d| {
                let mut s = String::new();
                value(&Value::Map(d.clone()), &mut s);
                s
            })
            .collect()
    }

    /// Loads a vector with `load_encrypted` and its plaintext with `load_plain`; checks both trees have
    /// the same shape. Returns the re-emitted encrypted file and whether the plaintext re-emits exactly.
    pub(crate) fn check_vector(store: &dyn Store, enc: &str, expected: &str) -> (Vec<u8>, bool) {
        let enc_bytes = vector(enc);
        let (docs, md) = store
            .load_encrypted(&enc_bytes)
            .unwrap_or_else(|e| panic!("{enc}: {e}"));
        assert!(!md.version.is_empty());
        let exp_bytes = vector(expected);
        let plain = store
            .load_plain(&exp_bytes)
            .unwrap_or_else(|e| panic!("{expected}: {e}"));
        assert_eq!(shape_docs(&docs), shape_docs(&plain), "{enc}: shape");
        let re = store.emit_encrypted(&docs, &md).unwrap();
        let (docs2, md2) = store.load_encrypted(&re).unwrap();
        assert_eq!(
            (docs2, md2),
            (docs, md),
            "{enc}: re-emitted file reads back the same"
        );
        let plain_exact = store.emit_plain(&plain).unwrap() == exp_bytes;
        (re, plain_exact)
    }

    /// [`check_vector`] for each `(encrypted, expected, exact)`: every plaintext re-emits exactly,
    /// and the encrypted file re-emits byte for byte exactly when `exact` says so.
    pub(crate) fn check_vectors(store: &dyn Store, cases: &[(&str, &str, bool)]) {
        for &(enc, exp, exact) in cases {
            let (re, plain_exact) = check_vector(store, enc, exp);
            assert!(plain_exact, "{exp}: plain round trip");
            assert_eq!(
                re == vector(enc),
                exact,
                "{enc}: byte-exact re-emit expected {exact}"
            );
        }
    }
}

#[cfg(test)]
mod golden {
    use super::test_support::*;
    use super::*;

    #[test]
    fn golden_sops_3_13_2() {
        let tab = JsonStore { indent: None };
        check_golden(
            &tab,
            "json",
            "types.json",
            "types.enc.json",
            "types.dec.json",
        );
        check_golden(&tab, "json", "kg.json", "kg.enc.json", "kg.dec.json");
        check_golden(
            &tab,
            "json",
            "empty.json",
            "empty.enc.json",
            "empty.dec.json",
        );
        check_golden(
            &JsonStore { indent: Some(2) },
            "json",
            "indent2.json",
            "indent2.enc.json",
            "indent2.dec.json",
        );
    }

    #[test]
    fn vectors_load() {
        let s = JsonStore { indent: None };
        // (encrypted, plaintext, re-emitted encrypted file is byte-exact: 3.13 layout only)
        check_vectors(
            &s,
            &[
                (
                    "sops-functional-format-json/format.enc.json",
                    "sops-functional-format-json/expected.json",
                    true,
                ),
                (
                    "sops-nix-json/secrets.json",
                    "sops-nix-json/expected.json",
                    false,
                ),
                (
                    "helm-secrets-file-json/file.json",
                    "helm-secrets-file-json/expected.json",
                    false,
                ),
                (
                    "gen-json-nested-types/nested.enc.json",
                    "gen-json-nested-types/expected.json",
                    false,
                ),
                (
                    "gen-json-keygroups-default-threshold/nested.enc.json",
                    "gen-json-keygroups-default-threshold/expected.json",
                    false,
                ),
                (
                    "gen-json-config-indent2-unencrypted-regex/nested.enc.json",
                    "gen-json-config-indent2-unencrypted-regex/expected.json",
                    false,
                ),
            ],
        );
    }
}
