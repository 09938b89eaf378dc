//! INI files, read and written like sops 3.13.2 (`stores/ini/store.go` on top of go-ini `gopkg.in/ini.v1`
//! v1.67 with `AllowNonUniqueSections`).
//!
//! Tree: one top-level pair per section (`DEFAULT` first, always present, holding the keys written
//! before any section header), each a map of string values. A section comment is the first item of its
//! map; a key's comment is the item right after the key. Comment markers and the spaces after them are
//! stripped (`; text` → `text`).
//!
//! Reading follows go-ini: `=` or `:` separates key and value; keys and values are trimmed; `;`/`#`
//! start an inline comment (it joins the next key's comment); surrounding `'…'`/`"…"` are removed;
//! `"""…"""` and `` `…` `` values are kept raw (and may span lines); a trailing `\` continues the value
//! on the next line; `-` keys become `#1`, `#2`, …; duplicate sections stay separate, a duplicate key
//! overwrites the earlier value in place; comment lines at the end of the file are dropped. Bytes that
//! are not UTF-8 are kept, in keys, values, section names and comments, as sops keeps them.
//!
//! Writing follows go-ini's pretty format: `[section]` headers (none for a leading `DEFAULT`, which is
//! skipped when empty), keys aligned on `=` per section, comments as `; text` above their key or
//! section, values quoted when needed (`"""` for newlines/backticks, backticks for `#`/`;`, `"` for
//! surrounding spaces), and one blank line between sections. Encrypted files add a `[sops]` section
//! with the flattened metadata (`\n` escaped), sorted by key; 3.13.0/3.13.1 `"""` multi-line values
//! are read too.
use super::json::{go_json_marshal_compact, go_sprint_v, go_val_to_string};
use super::Store;
use crate::error::{Result, SopsError};
use crate::gocompat::lossy_utf8;
use crate::metadata::Metadata;
use std::borrow::Cow;

use crate::tree::{Branch, Comment, Item, Text, Value};

/// INI store.
pub struct IniStore;

// ---------------------------------------------------------------------------------------------------
// Bytes that are not UTF-8
// ---------------------------------------------------------------------------------------------------

/// go-ini works on bytes and sops keeps every byte of keys, values, section names and comments. The
/// parser and writer here work on `str`: each byte that is not part of valid UTF-8 (and each byte of
/// a genuine character in the range used) is carried as the code point `ESCAPE_BASE + byte`, a
/// private-use character that is neither a space nor a delimiter (as for go-ini, where such a byte
/// is a `RuneError`), and turns back into that byte when the tree is built or the file written.
const ESCAPE_BASE: u32 = 0x10_FF00;

fn is_escape(c: char) -> bool {
    (ESCAPE_BASE..=ESCAPE_BASE + 0xFF).contains(&(c as u32))
}

fn escape_char(b: u8) -> char {
    char::from_u32(ESCAPE_BASE + u32::from(b)).expect("private-use code point")
}

/// True when `b` may hold an escape character's UTF-8 form (`F4 8F BC..BF`): a cheap pre-check.
fn may_hold_escapes(b: &[u8]) -> bool {
    b.windows(3)
        .any(|w| w[0] == 0xF4 && w[1] == 0x8F && (0xBC..=0xBF).contains(&w[2]))
}

/// File bytes as parser text (borrowed when they are UTF-8 without escape-range characters).
fn escape(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !may_hold_escapes(bytes) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if is_escape(c) {
                let mut buf = [0u8; 4];
                out.extend(c.encode_utf8(&mut buf).bytes().map(escape_char));
            } else {
                out.push(c);
            }
        }
        out.extend(chunk.invalid().iter().copied().map(escape_char));
    }
    Cow::Owned(out)
}

/// Parser text back to file bytes.
fn unescape(s: &str) -> Cow<'_, [u8]> {
    if !may_hold_escapes(s.as_bytes()) {
        return Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if is_escape(c) {
            out.push((c as u32 - ESCAPE_BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Cow::Owned(out)
}

/// Length in file bytes of parser text (go-ini aligns keys by byte length).
fn raw_len(s: &str) -> usize {
    if !may_hold_escapes(s.as_bytes()) {
        return s.len();
    }
    s.chars()
        .map(|c| if is_escape(c) { 1 } else { c.len_utf8() })
        .sum()
}

/// Name of the implicit first section.
const DEFAULT_SECTION: &str = "DEFAULT";
/// go-ini's default key/value delimiters.
const DELIMITERS: [char; 2] = ['=', ':'];

fn parse_err(message: impl Into<String>) -> SopsError {
    SopsError::Parse {
        format: "INI",
        message: message.into(),
    }
}

fn emit_err(message: impl Into<String>) -> SopsError {
    SopsError::Emit {
        format: "INI",
        message: message.into(),
    }
}

/// (No `Debug`: a key holds a plaintext value.)
#[derive(Default)]
struct IniKey {
    name: String,
    value: String,
    comment: String,
}

#[derive(Default)]
struct IniSection {
    name: String,
    comment: String,
    keys: Vec<IniKey>,
}

impl IniSection {
    fn new(name: &str) -> Self {
        IniSection {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// go-ini `NewKey` without shadows: an existing key gets the new value and keeps its place.
    fn set_key(&mut self, name: String, value: String) -> usize {
        match self.keys.iter().position(|k| k.name == name) {
            Some(i) => {
                self.keys[i].value = value;
                i
            }
            None => {
                self.keys.push(IniKey {
                    name,
                    value,
                    comment: String::new(),
                });
                self.keys.len() - 1
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading (go-ini parser.go)
// ---------------------------------------------------------------------------------------------------

struct LineReader<'a> {
    s: &'a str,
    pos: usize,
    eof: bool,
    line_no: usize,
}

impl<'a> LineReader<'a> {
    /// The next line including its `\n`; at the end, the rest (possibly empty) and `eof` set.
    fn read_line(&mut self) -> &'a str {
        self.line_no += 1;
        let rest = &self.s[self.pos..];
        match rest.find('\n') {
            Some(i) => {
                self.pos += i + 1;
                &rest[..=i]
            }
            None => {
                self.pos = self.s.len();
                self.eof = true;
                rest
            }
        }
    }
}

fn has_surrounded_quote(s: &str, q: char) -> bool {
    let b = s.as_bytes();
    s.len() >= 2
        && b[0] == q as u8
        && b[s.len() - 1] == q as u8
        && s[1..].find(q) == Some(s.len() - 2)
}

/// go-ini `readKeyName`: the trimmed key and the offset of the value after the delimiter.
fn read_key_name(line: &str, line_no: usize) -> Result<(String, usize)> {
    let quote = if line.starts_with('"') {
        if line.len() > 6 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else {
            "\""
        }
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };
    let no_delim = || parse_err(format!("key-value delimiter not found on line {line_no}"));
    if !quote.is_empty() {
        let start = quote.len();
        let pos = line[start..]
            .find(quote)
            .ok_or_else(|| parse_err(format!("missing closing key quote on line {line_no}")))?
            + start;
        let i = line
            .get(pos + start..)
            .and_then(|rest| rest.find(DELIMITERS))
            .ok_or_else(no_delim)?;
        let end = pos + i;
        return Ok((line[start..pos].trim().to_string(), end + start + 1));
    }
    let end = line.find(DELIMITERS).ok_or_else(no_delim)?;
    Ok((line[..end].trim().to_string(), end + 1))
}

/// go-ini `readValue` (no Python multi-line values, inline comments on, quotes trimmed).
fn read_value(input: &str, r: &mut LineReader<'_>, comment: &mut String) -> Result<String> {
    let line = input.trim_start();
    if line.is_empty() {
        return Ok(String::new());
    }
    let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
        "\"\"\""
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };
    if !quote.is_empty() {
        let start = quote.len();
        return match line[start..].rfind(quote) {
            Some(pos) => Ok(line[start..start + pos].to_string()),
            None => read_multilines(&line[start..], quote, r, comment),
        };
    }
    let mut line = line.trim();
    if let Some(head) = line.strip_suffix('\\') {
        return Ok(read_continuation(head, r));
    }
    if let Some(i) = line.find(['#', ';']) {
        comment.push_str(&line[i..]);
        line = line[..i].trim();
    }
    if has_surrounded_quote(line, '\'') || has_surrounded_quote(line, '"') {
        line = &line[1..line.len() - 1];
    }
    Ok(line.to_string())
}

fn read_multilines(
    first: &str,
    quote: &str,
    r: &mut LineReader<'_>,
    comment: &mut String,
) -> Result<String> {
    let start_line = r.line_no;
    let mut val = first.to_string();
    loop {
        let next = r.read_line();
        if let Some(pos) = next.rfind(quote) {
            val.push_str(&next[..pos]);
            if let Some(i) = next[pos..].find(['#', ';']) {
                comment.push_str(next[pos + i..].trim());
            }
            return Ok(val);
        }
        val.push_str(next);
        if r.eof {
            return Err(parse_err(format!(
                "missing closing value quote for the value on line {start_line}"
            )));
        }
    }
}

fn read_continuation(first: &str, r: &mut LineReader<'_>) -> String {
    let mut val = first.to_string();
    loop {
        let next = r.read_line().trim();
        if next.is_empty() {
            break;
        }
        val.push_str(next);
        if !val.ends_with('\\') {
            break;
        }
        val.pop();
    }
    val
}

fn strip_bom(input: &[u8]) -> &[u8] {
    if input.starts_with(&[0xFE, 0xFF]) || input.starts_with(&[0xFF, 0xFE]) {
        &input[2..]
    } else if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        &input[3..]
    } else {
        input
    }
}

fn parse_sections(input: &[u8]) -> Result<Vec<IniSection>> {
    let text = escape(strip_bom(input));
    let mut r = LineReader {
        s: &text,
        pos: 0,
        eof: false,
        line_no: 0,
    };
    let mut sections = vec![IniSection::new(DEFAULT_SECTION)];
    let mut comment = String::new();
    let mut auto_count = 1;
    while !r.eof {
        let line = r.read_line().trim_start();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(['#', ';']) {
            comment.push_str(line);
            continue;
        }
        if line.starts_with('[') {
            let close = line
                .rfind(']')
                .ok_or_else(|| parse_err(format!("unclosed section on line {}", r.line_no)))?;
            let name = &line[1..close];
            if name.is_empty() {
                return Err(parse_err(format!(
                    "empty section name on line {}",
                    r.line_no
                )));
            }
            if let Some(i) = line[close + 1..].find(['#', ';']) {
                comment.push_str(&line[close + 1 + i..]);
            }
            let mut section = IniSection::new(name);
            section.comment = comment.trim().to_string();
            comment.clear();
            sections.push(section);
            auto_count = 1;
            continue;
        }
        let line_no = r.line_no;
        let (mut name, offset) = read_key_name(line, line_no)?;
        if name == "-" {
            name = format!("#{auto_count}");
            auto_count += 1;
        }
        let value = read_value(&line[offset..], &mut r, &mut comment)?;
        if name.is_empty() {
            return Err(parse_err(format!(
                "error creating new key: empty key name (line {line_no})"
            )));
        }
        let section = sections.last_mut().expect("DEFAULT section exists");
        let i = section.set_key(name, value);
        section.keys[i].comment = comment.trim().to_string();
        comment.clear();
    }
    Ok(sections)
}

/// sops `stripCommentChar`: drops the leading comment marker and any `;`/`#` and spaces after it.
fn strip_comment_char(c: &str) -> String {
    if c.starts_with(';') {
        c.trim_start_matches([';', ' ']).to_string()
    } else if c.starts_with('#') {
        c.trim_start_matches(['#', ' ']).to_string()
    } else {
        c.to_string()
    }
}

fn section_to_item(section: IniSection) -> Item {
    let text = |s: &str| Text::from_bytes(unescape(s).into_owned());
    let comment = |s: &str| Item::Comment(Comment::line(text(&strip_comment_char(s))));
    let mut items = Vec::new();
    if !section.comment.is_empty() {
        items.push(comment(&section.comment));
    }
    for key in section.keys {
        let value = match unescape(&key.value) {
            Cow::Borrowed(_) => Value::Str(key.value),
            Cow::Owned(b) => match String::from_utf8(b) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            },
        };
        items.push(Item::Pair(text(&key.name), value));
        if !key.comment.is_empty() {
            items.push(comment(&key.comment));
        }
    }
    Item::Pair(text(&section.name), Value::Map(items))
}

// ---------------------------------------------------------------------------------------------------
// Writing (sops encodeTree + go-ini writeToBuffer)
// ---------------------------------------------------------------------------------------------------

/// A section value as sops writes it (`stores.ValToString`; nested values as Go `%v`).
fn ini_value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => escape(s.as_bytes()).into_owned(),
        Value::Bytes(b) => escape(b).into_owned(),
        Value::Comment(c) => escape(c.text.as_bytes()).into_owned(),
        v => go_val_to_string(v).unwrap_or_else(|| go_sprint_v(v)),
    }
}

fn sections_from_docs(docs: &[Branch]) -> Result<Vec<IniSection>> {
    let mut sections = Vec::new();
    for doc in docs {
        for item in doc {
            let Item::Pair(name, value) = item else {
                continue;
            };
            if name.is_empty() {
                return Err(emit_err("Error encoding section : empty section name"));
            }
            let Value::Map(items) = value else {
                return Err(emit_err(
                    "Error encoding section: Section values should always be TreeBranches",
                ));
            };
            let mut section = IniSection::new(&escape(name.as_bytes()));
            let mut rest = &items[..];
            if let Some(Item::Comment(c)) = items.first() {
                section.comment = escape(c.text.as_bytes()).into_owned();
                rest = &items[1..];
            }
            let mut last: Option<usize> = None;
            for item in rest {
                match item {
                    Item::Comment(c) => {
                        if let Some(i) = last {
                            section.keys[i].comment = escape(c.text.as_bytes()).into_owned();
                        }
                    }
                    Item::Pair(k, v) => {
                        if k.is_empty() {
                            return Err(emit_err(
                                "Error encoding key: error creating new key: empty key name",
                            ));
                        }
                        last = Some(
                            section.set_key(escape(k.as_bytes()).into_owned(), ini_value_text(v)),
                        );
                    }
                }
            }
            sections.push(section);
        }
    }
    Ok(sections)
}

fn write_comment(comment: &str, trim_plain: bool, out: &mut String) {
    for line in comment.split('\n') {
        if line.starts_with(['#', ';']) {
            out.push_str(&line[..1]);
            out.push(' ');
            out.push_str(line[1..].trim());
        } else {
            out.push_str("; ");
            out.push_str(if trim_plain { line.trim() } else { line });
        }
        out.push('\n');
    }
}

fn write_sections(sections: &[IniSection]) -> Vec<u8> {
    let mut out = String::new();
    let last = sections.len().saturating_sub(1);
    for (i, sec) in sections.iter().enumerate() {
        if !sec.comment.is_empty() {
            write_comment(&sec.comment, false, &mut out);
        }
        if i > 0 || sec.name.to_uppercase() != DEFAULT_SECTION {
            out.push('[');
            out.push_str(&sec.name);
            out.push_str("]\n");
        } else if sec.keys.is_empty() {
            continue;
        }
        let quoted_name = |name: &str| -> String {
            if name.contains('"') || name.contains(DELIMITERS) {
                format!("`{name}`")
            } else if name.contains('`') {
                format!("\"\"\"{name}\"\"\"")
            } else {
                name.to_string()
            }
        };
        let align = sec
            .keys
            .iter()
            .map(|k| raw_len(&quoted_name(&k.name)))
            .max()
            .unwrap_or(0);
        for key in &sec.keys {
            if !key.comment.is_empty() {
                write_comment(&key.comment, true, &mut out);
            }
            let name = quoted_name(&key.name);
            out.push_str(&name);
            out.push_str(&" ".repeat(align - raw_len(&name)));
            out.push_str(" = ");
            let v = &key.value;
            if v.contains(['\n', '`']) {
                out.push_str("\"\"\"");
                out.push_str(v);
                out.push_str("\"\"\"");
            } else if v.contains(['#', ';']) {
                out.push('`');
                out.push_str(v);
                out.push('`');
            } else if v.trim().len() != v.len() {
                out.push('"');
                out.push_str(v);
                out.push('"');
            } else {
                out.push_str(v);
            }
            out.push('\n');
        }
        if i != last {
            out.push('\n');
        }
    }
    match unescape(&out) {
        Cow::Borrowed(_) => out.into_bytes(),
        Cow::Owned(b) => b,
    }
}

fn decode_newlines(s: &str) -> String {
    s.replace("\\n", "\n")
}

impl Store for IniStore {
    fn load_plain(&self, input: &[u8]) -> Result<Vec<Branch>> {
        let sections = parse_sections(input)?;
        Ok(vec![sections.into_iter().map(section_to_item).collect()])
    }

    fn load_encrypted(&self, input: &[u8]) -> Result<(Vec<Branch>, Metadata)> {
        let sections = parse_sections(input)?;
        if sections.iter().filter(|s| s.name == "sops").count() > 1 {
            return Err(SopsError::InvalidMetadata(
                "Found duplicate sops entry".into(),
            ));
        }
        let md_section = sections
            .iter()
            .find(|s| s.name == "sops")
            .ok_or(SopsError::MetadataNotFound)?;
        let flat: Vec<(String, String)> = md_section
            .keys
            .iter()
            .map(|k| {
                (
                    lossy_utf8(&unescape(&k.name)),
                    decode_newlines(&lossy_utf8(&unescape(&k.value))),
                )
            })
            .collect();
        let md = Metadata::from_flat(&flat)?;
        let branch = sections
            .into_iter()
            .filter(|s| s.name != "sops")
            .map(section_to_item)
            .collect();
        Ok((vec![branch], md))
    }

    fn emit_plain(&self, docs: &[Branch]) -> Result<Vec<u8>> {
        Ok(write_sections(&sections_from_docs(docs)?))
    }

    fn emit_encrypted(&self, docs: &[Branch], metadata: &Metadata) -> Result<Vec<u8>> {
        let mut sections = sections_from_docs(docs)?;
        let mut md = IniSection::new("sops");
        for (k, v) in metadata.to_flat() {
            md.set_key(k, v.replace('\n', "\\n"));
        }
        sections.push(md);
        Ok(write_sections(&sections))
    }

    /// Like sops: a map is written as a whole file (so it must hold sections), a string raw, anything
    /// else as compact JSON.
    fn emit_value(&self, value: &Value) -> Result<Vec<u8>> {
        match value {
            Value::Map(m) => self.emit_plain(std::slice::from_ref(m)),
            Value::Str(s) => Ok(s.as_bytes().to_vec()),
            Value::Bytes(b) => Ok(b.clone()),
            other => go_json_marshal_compact(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(doc: &Branch) -> Vec<String> {
        doc.iter()
            .map(|it| match it {
                Item::Pair(k, Value::Map(m)) => format!("[{k}] {}", pairs(m).join(" | ")),
                Item::Pair(k, Value::Str(v)) => format!("{k}={v:?}"),
                Item::Pair(k, v) => format!("{k}={v:?}"),
                Item::Comment(c) => format!("#{:?}", c.text),
            })
            .collect()
    }

    #[test]
    fn parse_like_go_ini() {
        let input = "; top comment\ntoplevel = yes\n# hash comment\n[first]\na = 1\nlonger_key   =   spaced value   \n\
                     ; key comment\nb=2\nc = \"quoted value\"\nd = 'single'\ne = multi \\\n  line\nf = with ; semicolon\n\
                     h=\n[second]\nx = y\n[first]\ndup = again\nDup = 1\ndup = 2\nk: colon\n\"q=k\" = quoted key\n\
                     ml = \"\"\"line1\nline2\"\"\"\nbt = `a;b` ; after\nsp = \"  lead\"\ncrlf = v\r\n;c1\n  ;c2\nlast = x ; inline\n\
                     - = auto1\n- = auto2\n;trailing\n[ spaced ] ; sec comment\nz=1\n;lost\n";
        let docs = IniStore.load_plain(input.as_bytes()).unwrap();
        let got = pairs(&docs[0]);
        assert_eq!(
            got,
            vec![
                "[DEFAULT] toplevel=\"yes\" | #\"top comment\"",
                "[first] #\"hash comment\" | a=\"1\" | longer_key=\"spaced value\" | b=\"2\" | #\"key comment\" | \
                 c=\"quoted value\" | d=\"single\" | e=\"multi line\" | f=\"with\" | #\"semicolon\" | h=\"\"",
                "[second] x=\"y\"",
                "[first] dup=\"2\" | Dup=\"1\" | k=\"colon\" | q=k=\"quoted key\" | ml=\"line1\\nline2\" | bt=\"a;b\" | \
                 sp=\"  lead\" | crlf=\"v\" | last=\"x\" | #\"c1\\n;c2\\n; inline\" | #1=\"auto1\" | #2=\"auto2\"",
                "[ spaced ] #\"trailing\\n; sec comment\" | z=\"1\"",
            ]
        );
        for bad in [
            "[sec\n",
            "[]\n",
            "novalue\n",
            "k = \"\"\"open\nstill\n",
            "\"k = v\n",
            "= v\n",
            "k = v\n  indented\n",
        ] {
            assert!(IniStore.load_plain(bad.as_bytes()).is_err(), "{bad:?}");
        }
        // empty file: only the implicit DEFAULT section
        assert_eq!(
            pairs(&IniStore.load_plain(b"").unwrap()[0]),
            vec!["[DEFAULT] "]
        );
    }

    #[test]
    fn emit_like_go_ini() {
        let input = "; top comment\ntoplevel = yes\n# hash comment\n[first]\na = 1\nlonger_key = v\n; key comment\nb=2\n\
                     [second]\n;c1\n  ;c2\nlast = x ; inline\n[empty]\n";
        let docs = IniStore.load_plain(input.as_bytes()).unwrap();
        let out = String::from_utf8(IniStore.emit_plain(&docs).unwrap()).unwrap();
        assert_eq!(
            out,
            "; top comment\ntoplevel = yes\n\n; hash comment\n[first]\na          = 1\nlonger_key = v\n; key comment\n\
             b          = 2\n\n[second]\n; c1\n; c2\n; inline\nlast = x\n\n[empty]\n"
        );
        let doc = vec![
            Item::Pair("DEFAULT".into(), Value::Map(vec![])),
            Item::Pair(
                "x".into(),
                Value::Map(vec![
                    Item::Pair("k".into(), Value::Str("  v  ".into())),
                    Item::Pair("h".into(), Value::Str("a#b".into())),
                    Item::Pair("bt".into(), Value::Str("a`b".into())),
                    Item::Pair("nl".into(), Value::Str("a\nb".into())),
                    Item::Pair("k=y".into(), Value::Str("1".into())),
                    Item::Pair("k`".into(), Value::Str("3".into())),
                    Item::Pair("é".into(), Value::Str("ü".into())),
                    Item::Pair("f".into(), Value::Float(1.0)),
                    Item::Pair("n".into(), Value::Null),
                    Item::Pair("e".into(), Value::Str(String::new())),
                ]),
            ),
        ];
        let out = String::from_utf8(IniStore.emit_plain(&[doc]).unwrap()).unwrap();
        assert_eq!(
            out,
            "[x]\nk        = \"  v  \"\nh        = `a#b`\nbt       = \"\"\"a`b\"\"\"\nnl       = \"\"\"a\nb\"\"\"\n\
             `k=y`    = 1\n\"\"\"k`\"\"\" = 3\né       = ü\nf        = 1.0\nn        = <nil>\ne        = \n"
        );
        // a DEFAULT section that is not first gets a header
        let doc = vec![
            Item::Pair(
                "x".into(),
                Value::Map(vec![Item::Pair("b".into(), Value::Str("2".into()))]),
            ),
            Item::Pair(
                "DEFAULT".into(),
                Value::Map(vec![Item::Pair("a".into(), Value::Str("1".into()))]),
            ),
        ];
        assert_eq!(
            IniStore.emit_plain(&[doc]).unwrap(),
            b"[x]\nb = 2\n\n[DEFAULT]\na = 1\n"
        );
        let bad = vec![Item::Pair("x".into(), Value::Str("s".into()))];
        assert!(IniStore.emit_plain(&[bad]).is_err());
        assert_eq!(IniStore.emit_plain(&[vec![]]).unwrap(), b"");
    }

    #[test]
    fn emit_value_like_sops() {
        assert_eq!(IniStore.emit_value(&Value::Int(1)).unwrap(), b"1");
        assert_eq!(IniStore.emit_value(&Value::Null).unwrap(), b"null");
        assert_eq!(
            IniStore.emit_value(&Value::Str("x\ny".into())).unwrap(),
            b"x\ny"
        );
    }
}

#[cfg(test)]
mod golden {
    use super::super::json::test_support::*;
    use super::*;

    #[test]
    fn golden_sops_3_13_2() {
        check_golden(&IniStore, "ini", "app.ini", "app.enc.ini", "app.dec.ini");
        check_golden(&IniStore, "ini", "kg.ini", "kg.enc.ini", "kg.dec.ini");
        check_golden(
            &IniStore,
            "ini",
            "default.ini",
            "default.enc.ini",
            "default.dec.ini",
        );
    }

    #[test]
    fn vectors_load() {
        // (encrypted, plaintext, re-emitted encrypted file is byte-exact)
        check_vectors(
            &IniStore,
            &[
                (
                    "sops-functional-format-ini/format.enc.ini",
                    "sops-functional-format-ini/expected.ini",
                    true,
                ),
                (
                    "sops-example-ini/example.ini",
                    "sops-example-ini/expected.ini",
                    false,
                ),
                (
                    "sops-nix-ini/secrets.ini",
                    "sops-nix-ini/expected.ini",
                    false,
                ),
            ],
        );
    }

    #[test]
    fn reads_3_13_0_multiline_armor() {
        let (docs, md) = IniStore
            .load_encrypted(&vector("sops-functional-format-ini/format.enc.ini"))
            .unwrap();
        // rewrite the [sops] section the 3.13.0/3.13.1 way: real newlines inside """…"""
        let mut sections = sections_from_docs(&docs).unwrap();
        let mut old = IniSection::new("sops");
        for (k, v) in md.to_flat() {
            old.set_key(k, v);
        }
        sections.push(old);
        let text = write_sections(&sections);
        assert!(String::from_utf8_lossy(&text)
            .contains("enc        = \"\"\"-----BEGIN PGP MESSAGE-----\n"));
        let (docs2, md2) = IniStore.load_encrypted(&text).unwrap();
        assert_eq!((docs2, md2), (docs, md));
    }
}
