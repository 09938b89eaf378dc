//! Writes trees the way sops 3.13 does: the tree becomes go-yaml v3 nodes (comments as head/line/foot
//! comments, exactly as sops attaches them), the nodes become events, and a port of the block-style part
//! of go-yaml's emitter state machine turns the events into text.

use std::borrow::Cow;

use super::scalar::{can_use_plain, format_float};
use crate::tree::{Branch, Comment, Item, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn joined(comments: &mut Vec<String>) -> Option<String> {
    if comments.is_empty() {
        return None;
    }
    let s = format!("#{}", comments.join("\n#"));
    comments.clear();
    Some(s)
}

/// The style go-yaml's `Node.Encode` gives a string (encode, then re-parse).
fn string_style(s: &str) -> Style {
    let base = if s.contains('\n') {
        Style::Literal
    } else if can_use_plain(s) {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze_scalar(s);
    let mut style = base;
    if style == Style::Plain && !a.block_plain_allowed {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && !a.block_allowed {
        style = Style::Double;
    }
    style
}

/// The text, tag and style of a scalar event for a leaf value.
fn scalar_parts(v: &Value) -> (Cow<'_, str>, Option<&'static str>, Style) {
    let (value, tag, style) = match v {
        Value::Null => (Cow::Borrowed("null"), None, Style::Plain),
        Value::Bool(b) => (
            Cow::Borrowed(if *b { "true" } else { "false" }),
            None,
            Style::Plain,
        ),
        Value::Int(i) => (Cow::Owned(i.to_string()), None, Style::Plain),
        Value::Float(f) => (Cow::Owned(format_float(*f)), None, Style::Plain),
        Value::Time(t) => (Cow::Borrowed(t.as_str()), None, Style::Plain),
        Value::Str(s) => return str_parts(s),
        Value::Comment(c) => (Cow::Borrowed(c.text.as_str()), None, string_style(&c.text)),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => (Cow::Borrowed(s), None, string_style(s)),
            Err(_) => {
                use base64::Engine as _;
                (
                    Cow::Owned(base64::engine::general_purpose::STANDARD.encode(b)),
                    Some("binary"),
                    Style::Plain,
                )
            }
        },
        Value::Map(_) | Value::Seq(_) => unreachable!("collections are not scalars"),
    };
    (value, tag, style)
}

/// The parts of a string scalar event (map keys too).
fn str_parts(s: &str) -> (Cow<'_, str>, Option<&'static str>, Style) {
    // go-yaml v3.0.4 tags the merge key text even in a plain string.
    let (tag, style) = if s == "<<" {
        (Some("merge"), Style::Plain)
    } else {
        (None, string_style(s))
    };
    (Cow::Borrowed(s), tag, style)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum EvKind {
    StreamStart,
    StreamEnd,
    DocStart,
    DocEnd,
    Scalar,
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
}

struct Ev<'a> {
    kind: EvKind,
    value: Cow<'a, str>,
    tag: Option<&'static str>,
    style: Style,
    /// Head, line, foot and tail comments; boxed because almost every event has none, and a large
    /// file has tens of thousands of events.
    comments: Option<Box<EvComments>>,
}

#[derive(Default)]
struct EvComments {
    head: String,
    line: String,
    foot: String,
    tail: String,
}

impl<'a> Ev<'a> {
    fn bare(kind: EvKind) -> Self {
        Ev {
            kind,
            value: Cow::Borrowed(""),
            tag: None,
            style: Style::Plain,
            comments: None,
        }
    }

    /// Attaches comments (nothing is allocated when all are empty).
    fn with(mut self, head: String, line: String, foot: String, tail: String) -> Self {
        if !(head.is_empty() && line.is_empty() && foot.is_empty() && tail.is_empty()) {
            self.comments = Some(Box::new(EvComments {
                head,
                line,
                foot,
                tail,
            }));
        }
        self
    }
}

/// Where sops attaches the comments of one map or sequence (its `appendTreeBranch` /
/// `appendSequence`): leading comments become the collection's head comment, comments before an
/// entry its head (a key's, or an element's), inline comments the line comment of the next value,
/// and trailing comments the foot of the last entry.
struct Attached {
    own_head: String,
    /// (head, line) per entry, in order
    per_entry: Vec<(String, String)>,
    trailing: String,
}

fn attach<'a>(entries: impl Iterator<Item = Option<&'a Comment>>) -> Attached {
    let (mut heads, mut inlines) = (Vec::new(), Vec::new());
    let mut out = Attached {
        own_head: String::new(),
        per_entry: Vec::new(),
        trailing: String::new(),
    };
    let mut beginning = true;
    for e in entries {
        match e {
            Some(c) if c.inline => inlines.push(c.text.to_string()),
            Some(c) => heads.push(c.text.to_string()),
            None => {
                if beginning {
                    out.own_head = joined(&mut heads).unwrap_or_default();
                    beginning = false;
                }
                let head = joined(&mut heads).unwrap_or_default();
                out.per_entry
                    .push((head, joined(&mut inlines).unwrap_or_default()));
            }
        }
    }
    heads.append(&mut inlines);
    if let Some(c) = joined(&mut heads) {
        if beginning {
            out.own_head = c;
        } else {
            out.trailing = c;
        }
    }
    out
}

/// A parent's head comment goes before the collection's own leading comments.
fn combine(parent: String, own: String) -> String {
    match (parent.is_empty(), own.is_empty()) {
        (_, true) => parent,
        (true, false) => own,
        (false, false) => format!("{parent}\n{own}"),
    }
}

/// Comments a parent gives to one node.
#[derive(Default)]
struct Given {
    head: String,
    line: String,
    foot: String,
    tail: String,
}

enum Frame<'a> {
    Map {
        items: &'a [Item],
        extra: Option<(&'a str, &'a Value)>,
        pos: usize,
        entry: usize,
        attached: Attached,
        end: Option<Ev<'a>>,
    },
    Seq {
        items: &'a [Value],
        pos: usize,
        entry: usize,
        attached: Attached,
        end: Option<Ev<'a>>,
    },
}

/// The event stream of a tree, produced lazily (go-yaml encoder `node()` over the nodes sops builds,
/// including the move of a last key's foot comment to the mapping's end), so a large file never
/// exists as a second tree or as a full event list.
struct Events<'a> {
    queue: std::collections::VecDeque<Ev<'a>>,
    stack: Vec<Frame<'a>>,
}

impl<'a> Events<'a> {
    fn new() -> Self {
        Events {
            queue: std::collections::VecDeque::new(),
            stack: Vec::new(),
        }
    }

    fn open_map(&mut self, items: &'a [Item], extra: Option<(&'a str, &'a Value)>, given: Given) {
        // one entry per item (None for a pair), plus the appended extra pair
        let attached = attach(
            items
                .iter()
                .map(|i| match i {
                    Item::Comment(c) => Some(c),
                    Item::Pair(..) => None,
                })
                .chain(extra.map(|_| None)),
        );
        let head = combine(given.head, attached.own_head.clone());
        self.queue.push_back(Ev::bare(EvKind::MapStart).with(
            head,
            String::new(),
            String::new(),
            given.tail,
        ));
        let end = Ev::bare(EvKind::MapEnd).with(
            String::new(),
            given.line,
            given.foot,
            attached.trailing.clone(),
        );
        self.stack.push(Frame::Map {
            items,
            extra,
            pos: 0,
            entry: 0,
            attached,
            end: Some(end),
        });
    }

    fn open_seq(&mut self, items: &'a [Value], given: Given) {
        let attached = attach(items.iter().map(|v| match v {
            Value::Comment(c) => Some(c),
            _ => None,
        }));
        let head = combine(given.head, attached.own_head.clone());
        self.queue.push_back(Ev::bare(EvKind::SeqStart).with(
            head,
            String::new(),
            String::new(),
            String::new(),
        ));
        let end =
            Ev::bare(EvKind::SeqEnd).with(String::new(), given.line, given.foot, String::new());
        self.stack.push(Frame::Seq {
            items,
            pos: 0,
            entry: 0,
            attached,
            end: Some(end),
        });
    }

    fn open_value(&mut self, v: &'a Value, given: Given) {
        match v {
            Value::Map(b) => self.open_map(b, None, given),
            Value::Seq(items) => self.open_seq(items, given),
            other => {
                let (value, tag, style) = scalar_parts(other);
                let ev = Ev {
                    value,
                    tag,
                    style,
                    ..Ev::bare(EvKind::Scalar)
                };
                self.queue
                    .push_back(ev.with(given.head, given.line, given.foot, given.tail));
            }
        }
    }

    /// Advances the innermost open collection by one entry (or closes it).
    fn step(&mut self) {
        enum Next<'a> {
            Pair(&'a str, &'a Value, String, String),
            Element(&'a Value, String, String, String),
            Close(Ev<'a>),
        }
        let next = match self.stack.last_mut().expect("a frame is open") {
            Frame::Map {
                items,
                extra,
                pos,
                entry,
                attached,
                end,
            } => {
                let mut found = None;
                while *pos < items.len() {
                    let i = *pos;
                    *pos += 1;
                    if let Item::Pair(k, v) = &items[i] {
                        found = Some((k.as_str(), v));
                        break;
                    }
                }
                if found.is_none() {
                    found = extra.take();
                }
                match found {
                    Some((k, v)) => {
                        let (head, line) = std::mem::take(&mut attached.per_entry[*entry]);
                        *entry += 1;
                        Next::Pair(k, v, head, line)
                    }
                    None => Next::Close(end.take().expect("closed once")),
                }
            }
            Frame::Seq {
                items,
                pos,
                entry,
                attached,
                end,
            } => {
                let mut found = None;
                while *pos < items.len() {
                    let i = *pos;
                    *pos += 1;
                    if !matches!(items[i], Value::Comment(_)) {
                        found = Some(&items[i]);
                        break;
                    }
                }
                match found {
                    Some(v) => {
                        let (head, line) = std::mem::take(&mut attached.per_entry[*entry]);
                        *entry += 1;
                        let foot = if *entry == attached.per_entry.len() {
                            std::mem::take(&mut attached.trailing)
                        } else {
                            String::new()
                        };
                        Next::Element(v, head, line, foot)
                    }
                    None => Next::Close(end.take().expect("closed once")),
                }
            }
        };
        match next {
            Next::Pair(k, v, head, line) => {
                let (value, tag, style) = str_parts(k);
                let key = Ev {
                    value,
                    tag,
                    style,
                    ..Ev::bare(EvKind::Scalar)
                };
                self.queue
                    .push_back(key.with(head, String::new(), String::new(), String::new()));
                self.open_value(
                    v,
                    Given {
                        line,
                        ..Given::default()
                    },
                );
            }
            Next::Element(v, head, line, foot) => self.open_value(
                v,
                Given {
                    head,
                    line,
                    foot,
                    tail: String::new(),
                },
            ),
            Next::Close(ev) => {
                self.stack.pop();
                self.queue.push_back(ev);
            }
        }
    }

    /// The next event of the open collections, if any.
    fn next_event(&mut self) -> Option<Ev<'a>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            if self.stack.is_empty() {
                return None;
            }
            self.step();
        }
    }
}

/// Emits documents (one mapping each) like sops' `EmitPlainFile` with `SetIndent(indent)`; `extra`
/// is appended as the last key of every document (sops' metadata) without copying the documents.
pub(crate) fn emit_documents(
    docs: &[&Branch],
    extra: Option<(&str, &Value)>,
    indent: usize,
) -> String {
    let mut emitter = Emitter::new(indent);
    let mut window = Window::default();
    window.push(&mut emitter, Ev::bare(EvKind::StreamStart));
    for doc in docs {
        window.push(&mut emitter, Ev::bare(EvKind::DocStart));
        let mut events = Events::new();
        events.open_map(doc, extra, Given::default());
        while let Some(ev) = events.next_event() {
            window.push(&mut emitter, ev);
        }
        window.push(&mut emitter, Ev::bare(EvKind::DocEnd));
    }
    window.push(&mut emitter, Ev::bare(EvKind::StreamEnd));
    window.finish(emitter)
}

/// Emits one value like sops' `EmitValue` (`yaml.Marshal` of the node: indent 4).
pub(crate) fn emit_single(v: &Value) -> String {
    let mut emitter = Emitter::new(4);
    let mut window = Window::default();
    window.push(&mut emitter, Ev::bare(EvKind::StreamStart));
    window.push(&mut emitter, Ev::bare(EvKind::DocStart));
    let mut events = Events::new();
    match v {
        // A lone comment is a string to go-yaml.
        Value::Comment(c) => {
            let (value, tag, style) = str_parts(&c.text);
            events.queue.push_back(Ev {
                value,
                tag,
                style,
                ..Ev::bare(EvKind::Scalar)
            });
        }
        other => events.open_value(other, Given::default()),
    }
    while let Some(ev) = events.next_event() {
        window.push(&mut emitter, ev);
    }
    window.push(&mut emitter, Ev::bare(EvKind::DocEnd));
    window.push(&mut emitter, Ev::bare(EvKind::StreamEnd));
    window.finish(emitter)
}

/// The two-event window the emitter looks at (an event and the one after it).
#[derive(Default)]
struct Window<'a> {
    evs: Vec<Ev<'a>>,
}

impl<'a> Window<'a> {
    fn push(&mut self, emitter: &mut Emitter, ev: Ev<'a>) {
        self.evs.push(ev);
        if self.evs.len() == 2 {
            emitter.handle(&self.evs, 0);
            self.evs.remove(0);
        }
    }

    fn finish(self, mut emitter: Emitter) -> String {
        for i in 0..self.evs.len() {
            emitter.handle(&self.evs, i);
        }
        emitter.out
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    StreamStart,
    FirstDocStart,
    DocStart,
    DocContent,
    DocEnd,
    FlowSeqFirstItem,
    FlowMapFirstKey,
    BlockSeqFirstItem,
    BlockSeqItem,
    BlockMapFirstKey,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    End,
}

#[derive(Default, Clone, Copy)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

const OTHER: u8 = 0;
const SAFE: u8 = 1;
const FLOW: u8 = 2;
const COLON: u8 = 3;

/// Byte classes of [`analyze_simple_scalar`]: letters, digits and `_-./+=#` are safe, `[]{},?` only
/// rule out flow plain style, `:` depends on the next byte, everything else takes the full analysis.
static SIMPLE_CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'_'
            | b'-'
            | b'.'
            | b'/'
            | b'+'
            | b'='
            | b'#' => SAFE,
            b'[' | b']' | b',' | b'{' | b'}' | b'?' => FLOW,
            b':' => COLON,
            _ => OTHER,
        };
        c += 1;
    }
    t
};

/// The result of [`analyze_scalar`] for the common simple scalars (keys, numbers, `ENC[...]` values,
/// base64, URLs without spaces), computed in one tight pass; `None` sends everything else through the
/// full analysis. For these inputs the full analysis only ever sets the flow indicator flag.
fn analyze_simple_scalar(value: &str) -> Option<Analysis> {
    let b = value.as_bytes();
    let first = *b.first()?;
    if !(first.is_ascii_alphanumeric() || first == b'_' || first == b'/') {
        return None;
    }
    let mut flow_ind = false;
    for (i, &c) in b.iter().enumerate() {
        match SIMPLE_CLASS[c as usize] {
            SAFE => {}
            FLOW => flow_ind = true,
            COLON if i + 1 < b.len() && !matches!(b[i + 1], b' ' | b'\t') => flow_ind = true,
            _ => return None,
        }
    }
    Some(Analysis {
        multiline: false,
        flow_plain_allowed: !flow_ind,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    })
}

/// go-yaml `yaml_emitter_analyze_scalar`.
fn analyze_scalar(value: &str) -> Analysis {
    if let Some(a) = analyze_simple_scalar(value) {
        return a;
    }
    analyze_scalar_full(value)
}

fn analyze_scalar_full(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let (mut block_ind, mut flow_ind) = (false, false);
    if value.starts_with("---") || value.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let (mut line_breaks, mut special, mut tabs) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    // one pass without collecting the chars (this runs for every scalar of large files); ASCII text,
    // the common case, is walked byte by byte
    let ascii = value.is_ascii();
    let bytes = value.as_bytes();
    let mut chars = value.chars().peekable();
    let mut i = 0usize;
    loop {
        let (c, next) = if ascii {
            match bytes.get(i) {
                Some(b) => (*b as char, bytes.get(i + 1).map(|b| *b as char)),
                None => break,
            }
        } else {
            match chars.next() {
                Some(c) => (c, chars.peek().copied()),
                None => break,
            }
        };
        let last = next.is_none();
        let followed_by_ws = matches!(next, None | Some(' ' | '\t'));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_ind = true,
                ':' => {
                    flow_ind = true;
                    if followed_by_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t' | '\0') || is_break(c);
        i += 1;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_ind {
        a.flow_plain_allowed = false;
    }
    if block_ind {
        a.block_plain_allowed = false;
    }
    a
}

/// Port of the parts of go-yaml v3's `emitterc.go` that block-style documents use.
struct Emitter {
    out: String,
    best_indent: i32,
    state: St,
    states: Vec<St>,
    indent: i32,
    indents: Vec<i32>,
    flow_level: i32,
    simple_key_context: bool,
    mapping_context: bool,
    column: i32,
    whitespace: bool,
    indention: bool,
    foot_indent: i32,
    head_comment: String,
    line_comment: String,
    foot_comment: String,
    tail_comment: String,
    key_line_comment: String,
    tag: Option<&'static str>,
    sd: Analysis,
    sd_style: Style,
}

impl Emitter {
    fn new(indent: usize) -> Self {
        let mut best = i32::try_from(indent).unwrap_or(2);
        if best == 0 {
            best = 4;
        }
        if !(2..=9).contains(&best) {
            best = 2;
        }
        Emitter {
            out: String::new(),
            best_indent: best,
            state: St::StreamStart,
            states: Vec::new(),
            indent: -1,
            indents: Vec::new(),
            flow_level: 0,
            simple_key_context: false,
            mapping_context: false,
            column: 0,
            whitespace: true,
            indention: true,
            foot_indent: -1,
            head_comment: String::new(),
            line_comment: String::new(),
            foot_comment: String::new(),
            tail_comment: String::new(),
            key_line_comment: String::new(),
            tag: None,
            sd: Analysis::default(),
            sd_style: Style::Plain,
        }
    }

    /// Processes event `i`; `evs[i + 1]`, when present, is the lookahead go-yaml needs.
    fn handle(&mut self, evs: &[Ev], i: usize) {
        self.analyze_event(&evs[i]);
        self.state_machine(evs, i);
    }

    // ---- low-level writers ----

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    fn write_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn write_break_char(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            self.indention = true;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.foot_indent == indent {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.foot_indent = -1;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.write_char(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn write_comment(&mut self, comment: &str) {
        let mut breaks = false;
        let mut pound = false;
        for c in comment.chars() {
            if is_break(c) {
                self.write_break_char(c);
                breaks = true;
                pound = false;
            } else {
                if breaks {
                    self.write_indent();
                }
                if !pound {
                    if c != '#' {
                        self.put('#');
                        self.put(' ');
                    }
                    pound = true;
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !breaks {
            self.put_break();
        }
        self.whitespace = true;
    }

    fn process_head_comment(&mut self) {
        if !self.tail_comment.is_empty() {
            self.write_indent();
            let t = std::mem::take(&mut self.tail_comment);
            self.write_comment(&t);
            self.foot_indent = self.indent.max(0);
        }
        if self.head_comment.is_empty() {
            return;
        }
        self.write_indent();
        let h = std::mem::take(&mut self.head_comment);
        self.write_comment(&h);
    }

    fn process_line_comment(&mut self, linebreak: bool) {
        if self.line_comment.is_empty() {
            if linebreak {
                self.put_break();
            }
            return;
        }
        if !self.whitespace {
            self.put(' ');
        }
        let l = std::mem::take(&mut self.line_comment);
        self.write_comment(&l);
    }

    fn process_foot_comment(&mut self) {
        if self.foot_comment.is_empty() {
            return;
        }
        self.write_indent();
        let f = std::mem::take(&mut self.foot_comment);
        self.write_comment(&f);
        self.foot_indent = self.indent.max(0);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            if self.states.last() == Some(&St::BlockSeqItem) {
                self.indent += 2;
            } else {
                self.indent =
                    self.best_indent * ((self.indent + self.best_indent) / self.best_indent);
            }
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(St::End);
    }

    // ---- analysis ----

    fn analyze_event(&mut self, ev: &Ev) {
        self.tag = None;
        if let Some(c) = &ev.comments {
            if !c.head.is_empty() {
                self.head_comment = c.head.clone();
            }
            if !c.line.is_empty() {
                self.line_comment = c.line.clone();
            }
            if !c.foot.is_empty() {
                self.foot_comment = c.foot.clone();
            }
            if !c.tail.is_empty() {
                self.tail_comment = c.tail.clone();
            }
        }
        if ev.kind == EvKind::Scalar {
            self.tag = ev.tag;
            self.sd = analyze_scalar(&ev.value);
        }
    }

    // ---- state machine ----

    fn state_machine(&mut self, evs: &[Ev], i: usize) {
        let ev = &evs[i];
        match self.state {
            St::StreamStart => {
                self.indent = -1;
                self.column = 0;
                self.whitespace = true;
                self.indention = true;
                self.foot_indent = -1;
                self.state = St::FirstDocStart;
            }
            St::FirstDocStart => self.document_start(ev, true),
            St::DocStart => self.document_start(ev, false),
            St::DocContent => {
                self.states.push(St::DocEnd);
                self.process_head_comment();
                self.emit_node(evs, i, false, false);
                self.process_line_comment(false);
                self.process_foot_comment();
            }
            St::DocEnd => {
                self.foot_indent = 0;
                self.process_foot_comment();
                self.foot_indent = -1;
                self.write_indent();
                self.state = St::DocStart;
            }
            St::FlowSeqFirstItem => self.flow_end(ev, '[', ']'),
            St::FlowMapFirstKey => self.flow_end(ev, '{', '}'),
            St::BlockSeqFirstItem => self.block_sequence_item(evs, i, true),
            St::BlockSeqItem => self.block_sequence_item(evs, i, false),
            St::BlockMapFirstKey => self.block_mapping_key(evs, i, true),
            St::BlockMapKey => self.block_mapping_key(evs, i, false),
            St::BlockMapSimpleValue => self.block_mapping_value(evs, i, true),
            St::BlockMapValue => self.block_mapping_value(evs, i, false),
            St::End => {}
        }
    }

    fn document_start(&mut self, ev: &Ev, first: bool) {
        match ev.kind {
            EvKind::DocStart => {
                if !first {
                    self.write_indent();
                    self.write_indicator("---", true, false, false);
                    self.write_indent();
                }
                if !self.head_comment.is_empty() {
                    self.process_head_comment();
                    self.put_break();
                }
                self.state = St::DocContent;
            }
            _ => self.state = St::End,
        }
    }

    /// Only empty collections are written in flow style: open and close at once.
    fn flow_end(&mut self, ev: &Ev, open: char, close: char) {
        self.write_indicator(&open.to_string(), true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        debug_assert!(matches!(ev.kind, EvKind::SeqEnd | EvKind::MapEnd));
        if close == '}' {
            self.process_head_comment();
        }
        self.flow_level -= 1;
        self.pop_indent();
        if close == ']' && self.column == 0 {
            self.write_indent();
        }
        self.write_indicator(&close.to_string(), false, false, false);
        self.process_line_comment(false);
        self.process_foot_comment();
        self.pop_state();
    }

    fn block_sequence_item(&mut self, evs: &[Ev], i: usize, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        if evs[i].kind == EvKind::SeqEnd {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.process_head_comment();
        self.write_indent();
        self.write_indicator("-", true, false, true);
        self.states.push(St::BlockSeqItem);
        self.emit_node(evs, i, false, false);
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn block_mapping_key(&mut self, evs: &[Ev], i: usize, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        self.process_head_comment();
        if evs[i].kind == EvKind::MapEnd {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.write_indent();
        if !self.line_comment.is_empty() {
            self.key_line_comment = std::mem::take(&mut self.line_comment);
        }
        if self.check_simple_key(evs, i) {
            self.states.push(St::BlockMapSimpleValue);
            self.emit_node(evs, i, true, true);
        } else {
            self.write_indicator("?", true, false, true);
            self.states.push(St::BlockMapValue);
            self.emit_node(evs, i, true, false);
        }
    }

    fn block_mapping_value(&mut self, evs: &[Ev], i: usize, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indent();
            self.write_indicator(":", true, false, true);
        }
        if !self.key_line_comment.is_empty() {
            match evs[i].kind {
                EvKind::Scalar if self.line_comment.is_empty() => {
                    self.line_comment = std::mem::take(&mut self.key_line_comment);
                }
                EvKind::MapStart | EvKind::SeqStart => {
                    std::mem::swap(&mut self.line_comment, &mut self.key_line_comment);
                    self.process_line_comment(false);
                    std::mem::swap(&mut self.line_comment, &mut self.key_line_comment);
                }
                _ => {}
            }
        }
        self.states.push(St::BlockMapKey);
        self.emit_node(evs, i, true, false);
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn check_empty(evs: &[Ev], i: usize, start: EvKind, end: EvKind) -> bool {
        evs[i].kind == start && evs.get(i + 1).is_some_and(|e| e.kind == end)
    }

    fn check_simple_key(&self, evs: &[Ev], i: usize) -> bool {
        let len = match evs[i].kind {
            EvKind::Scalar => {
                if self.sd.multiline {
                    return false;
                }
                self.tag.map_or(0, |t| 2 + t.len()) + evs[i].value.len()
            }
            EvKind::SeqStart if Self::check_empty(evs, i, EvKind::SeqStart, EvKind::SeqEnd) => 0,
            EvKind::MapStart if Self::check_empty(evs, i, EvKind::MapStart, EvKind::MapEnd) => 0,
            _ => return false,
        };
        len <= 128
    }

    fn emit_node(&mut self, evs: &[Ev], i: usize, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        let ev = &evs[i];
        match ev.kind {
            EvKind::Scalar => {
                self.select_scalar_style(ev);
                if let Some(t) = self.tag {
                    if !self.whitespace {
                        self.put(' ');
                    }
                    self.out.push_str("!!");
                    self.out.push_str(t);
                    self.column += 2 + t.len() as i32;
                    self.whitespace = false;
                    self.indention = false;
                }
                self.increase_indent(true, false);
                self.process_scalar(&ev.value);
                self.pop_indent();
                self.pop_state();
            }
            EvKind::SeqStart => {
                self.state = if self.flow_level > 0
                    || Self::check_empty(evs, i, EvKind::SeqStart, EvKind::SeqEnd)
                {
                    St::FlowSeqFirstItem
                } else {
                    St::BlockSeqFirstItem
                };
            }
            EvKind::MapStart => {
                self.state = if self.flow_level > 0
                    || Self::check_empty(evs, i, EvKind::MapStart, EvKind::MapEnd)
                {
                    St::FlowMapFirstKey
                } else {
                    St::BlockMapFirstKey
                };
            }
            _ => {}
        }
    }

    fn select_scalar_style(&mut self, ev: &Ev) {
        let mut style = ev.style;
        if self.simple_key_context && self.sd.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !self.sd.flow_plain_allowed)
                || (self.flow_level == 0 && !self.sd.block_plain_allowed)
            {
                style = Style::Single;
            }
            if ev.value.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !self.sd.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!self.sd.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::Double;
        }
        self.sd_style = style;
    }

    /// Writes the scalar of the current event (lines are never wrapped: sops' encoder has an
    /// unlimited width).
    fn process_scalar(&mut self, value: &str) {
        match self.sd_style {
            Style::Plain => self.write_plain(value),
            Style::Single => self.write_single(value),
            Style::Double => self.write_double(value),
            Style::Literal => self.write_literal(value),
        }
    }

    fn write_plain(&mut self, value: &str) {
        if !value.is_empty() && !self.whitespace {
            self.put(' ');
        }
        if value
            .bytes()
            .all(|b| b.is_ascii() && b != b' ' && b != b'\n' && b != b'\r')
        {
            // no spaces or breaks (most scalars): the loop below would copy it char by char
            self.out.push_str(value);
            self.column += i32::try_from(value.len()).unwrap_or(i32::MAX);
        } else {
            self.write_plain_chars(value);
        }
        if !value.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
    }

    fn write_plain_chars(&mut self, value: &str) {
        self.write_flow_chars(value, None);
    }

    /// Plain or single-quoted text: line breaks kept (a `\n` doubled), lines indented, `quote`
    /// (the single quote) doubled.
    fn write_flow_chars(&mut self, value: &str, quote: Option<char>) {
        let mut breaks = false;
        for c in value.chars() {
            if c == ' ' {
                self.write_char(c);
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break_char(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if Some(c) == quote {
                    self.put(c);
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    fn write_single(&mut self, value: &str) {
        self.write_indicator("'", true, false, false);
        self.write_flow_chars(value, Some('\''));
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        for c in value.chars() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let esc = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put(e),
                    None => {
                        let v = c as u32;
                        let s = if v <= 0xFF {
                            format!("x{v:02X}")
                        } else if v <= 0xFFFF {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        for ch in s.chars() {
                            self.put(ch);
                        }
                    }
                }
            } else {
                self.write_char(c);
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_block_hints(&mut self, value: &str) {
        let mut chars = value.chars();
        if let Some(c0) = value.chars().next() {
            if c0 == ' ' || is_break(c0) {
                let hint = char::from_digit(self.best_indent as u32, 10).unwrap_or('2');
                self.write_indicator(&hint.to_string(), false, false, false);
            }
        }
        let chomp = match chars.next_back() {
            None => Some('-'),
            Some(last) if !is_break(last) => Some('-'),
            Some(_) => match chars.next_back() {
                None => Some('+'),
                Some(prev) if is_break(prev) => Some('+'),
                Some(_) => None,
            },
        };
        if let Some(c) = chomp {
            self.write_indicator(&c.to_string(), false, false, false);
        }
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        self.write_block_hints(value);
        self.process_line_comment(true);
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break_char(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(a: &Analysis) -> (bool, bool, bool, bool, bool) {
        (
            a.multiline,
            a.flow_plain_allowed,
            a.block_plain_allowed,
            a.single_quoted_allowed,
            a.block_allowed,
        )
    }

    #[test]
    fn simple_scalar_fast_path_agrees_with_full_analysis() {
        let mut fast_taken = 0;
        for v in [
            "abc",
            "key_0",
            "ENC[AES256_GCM,data:YWJj+/=,iv:AAA=,tag:BBB=,type:str]",
            "https://x.example.com/p?q=1",
            "a:b",
            "a:",
            "a#b",
            "1.5",
            "0x1F",
            "a-b",
            "/etc/x",
            "_x",
            "v1",
            "a,b",
            "a[0]",
            "x{y}",
            "-a",
            ".x",
            "a b",
        ] {
            if let Some(fast) = analyze_simple_scalar(v) {
                fast_taken += 1;
                assert_eq!(flags(&fast), flags(&analyze_scalar_full(v)), "{v}");
            }
        }
        assert!(
            fast_taken >= 14,
            "the fast path should cover the simple cases"
        );
    }
}
