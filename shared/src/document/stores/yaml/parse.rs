//! Reads YAML documents into sops trees with granit-parser events, typing scalars like go-yaml v3 and
//! placing comments where sops (through go-yaml's head/line/foot comments) puts them.

use std::collections::HashMap;

use granit_parser::{ErrorKind, Event, Parser, Placement, ScalarStyle, Span};

use super::scalar::{resolve_plain, resolve_tagged};
use crate::error::{Result, SopsError};
use crate::tree::{Branch, Comment, Item, Text, Value};

fn err(message: impl Into<String>) -> SopsError {
    SopsError::Parse {
        format: "YAML",
        message: message.into(),
    }
}

/// Deepest nesting of maps and sequences in a document, aliases expanded (like the JSON store; go-yaml
/// allows 10000). Every later pass over the tree (encryption, emit, drop) is then safe for the stack.
const MAX_DEPTH: usize = 1000;

/// go-yaml's `allowedAliasRatio`: how much of a document may come from alias expansion (99% for small
/// documents, down to 10% above four million nodes). Stops "billion laughs" documents.
fn allowed_alias_ratio(decoded: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

fn too_deep(span: &Span) -> SopsError {
    err(format!(
        "exceeded max depth ({MAX_DEPTH} nested maps/sequences) at {}",
        at(span)
    ))
}

fn at(span: &Span) -> String {
    format!("line {} column {}", span.start.line(), span.start.col() + 1)
}

/// A value while the document is read: leaves are final, collections live in the arena.
#[derive(Clone)]
enum AVal {
    Leaf(Value),
    Cont(usize),
}

enum AItem {
    Comment(Comment),
    Pair(String, AVal),
    Elem(AVal),
}

struct Cont {
    is_map: bool,
    flow: bool,
    /// Column of the keys (maps) or dashes (sequences); `None` until the first entry.
    indent: Option<usize>,
    items: Vec<AItem>,
    entries: usize,
}

// Only one frame per open collection exists at a time: the size of the map variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Frame {
    Map {
        cid: usize,
        key: Option<(String, Span)>,
        /// Keys seen so far and their lines (duplicate check, first document only).
        keys: HashMap<String, usize>,
    },
    Seq {
        cid: usize,
    },
}

/// What was read last, for placing a same-line comment.
#[derive(Clone, Copy)]
enum Recent {
    Nothing,
    /// A key whose value has not started yet.
    Key(usize),
    /// A scalar value stored as the last pair of a map.
    MapLeaf(usize),
    /// An empty (null) value stored as the last pair of a map: a comment after it belongs to the key.
    MapEmpty(usize),
    /// A scalar stored as the last element of a sequence.
    SeqLeaf(usize),
    /// A flow collection that just closed.
    Flow(usize),
}

struct Pending {
    text: String,
    col: usize,
}

struct Doc<'a> {
    conts: Vec<Cont>,
    frames: Vec<Frame>,
    anchors: HashMap<usize, AVal>,
    pending: Vec<Pending>,
    recent: Recent,
    /// The container that received the last leaf.
    last: Option<usize>,
    root: Option<usize>,
    check_dups: bool,
    flow_depth: usize,
    /// Nodes read, counting the copies made for aliases (go-yaml `decodeCount`).
    decoded: usize,
    /// Nodes copied for aliases (go-yaml `aliasCount`).
    aliased: usize,
    _src: &'a str,
}

impl Doc<'_> {
    fn new_cont(&mut self, is_map: bool, flow: bool, indent: Option<usize>) -> usize {
        self.conts.push(Cont {
            is_map,
            flow,
            indent,
            items: Vec::new(),
            entries: 0,
        });
        self.conts.len() - 1
    }

    /// Places the own-line comments read since the last content, now that the next entry (in `n_cont`,
    /// at column `n_col`) is known.
    fn flush(&mut self, n_cont: usize, n_col: usize) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let deep = match self.last {
            Some(d) if self.conts[n_cont].entries > 0 => d,
            _ => {
                for p in pending {
                    self.conts[n_cont]
                        .items
                        .push(AItem::Comment(Comment::line(p.text)));
                }
                return;
            }
        };
        let inner = self.conts[deep].indent.unwrap_or(0);
        // Split where a line is dedented below the innermost block and starts a new column.
        let mut groups: Vec<Vec<Pending>> = Vec::new();
        for p in pending {
            match groups.last_mut() {
                Some(g) if !(p.col < inner && p.col != g[0].col) => g.push(p),
                _ => groups.push(vec![p]),
            }
        }
        let count = groups.len();
        for (i, g) in groups.into_iter().enumerate() {
            let dest = if count > 1 && i == 0 {
                deep
            } else if count > 1 && i + 1 == count {
                n_cont
            } else if g[0].col > n_col {
                deep
            } else {
                n_cont
            };
            for p in g {
                self.conts[dest]
                    .items
                    .push(AItem::Comment(Comment::line(p.text)));
            }
        }
    }

    fn right_comment(&mut self, text: String, next_is_block_scalar: bool) {
        let c = |inline| {
            AItem::Comment(Comment {
                text: text.clone().into(),
                inline,
            })
        };
        match self.recent {
            Recent::MapLeaf(cid) | Recent::SeqLeaf(cid) => {
                let items = &mut self.conts[cid].items;
                let pos = items.len().saturating_sub(1);
                items.insert(pos, c(true));
            }
            Recent::MapEmpty(cid) => {
                let items = &mut self.conts[cid].items;
                let pos = items.len().saturating_sub(1);
                items.insert(pos, c(false));
            }
            Recent::Key(cid) => self.conts[cid].items.push(c(next_is_block_scalar)),
            Recent::Flow(cid) => self.conts[cid].items.insert(0, c(false)),
            Recent::Nothing => {
                if let Some(Frame::Seq { cid }) = self.frames.last() {
                    let cid = *cid;
                    self.conts[cid].items.push(c(true));
                } else {
                    self.pending.push(Pending { text, col: 0 });
                }
            }
        }
    }

    /// Adds a finished value to the innermost open collection (or makes it the document root).
    fn add_value(&mut self, v: AVal, span: &Span, leaf: bool) -> Result<()> {
        match self.frames.last_mut() {
            None => match v {
                AVal::Cont(cid) if self.conts[cid].is_map => self.root = Some(cid),
                AVal::Cont(_) => {
                    return Err(err("YAML documents that are sequences are not supported"))
                }
                AVal::Leaf(Value::Null) => {}
                AVal::Leaf(_) => {
                    return Err(err("YAML documents that are values are not supported"))
                }
            },
            Some(Frame::Map { cid, key, .. }) => {
                let cid = *cid;
                let (k, _) = key
                    .take()
                    .ok_or_else(|| err(format!("unexpected value at {}", at(span))))?;
                self.conts[cid].items.push(AItem::Pair(k, v));
                if leaf {
                    self.recent = Recent::MapLeaf(cid);
                    self.last = Some(cid);
                }
            }
            Some(Frame::Seq { cid }) => {
                let cid = *cid;
                self.conts[cid].items.push(AItem::Elem(v));
                if leaf {
                    self.recent = Recent::SeqLeaf(cid);
                    self.last = Some(cid);
                }
            }
        }
        Ok(())
    }

    /// Called when a node starts: a sequence entry begins, or (in a map expecting a key) a key begins.
    /// Returns true when the node is a key.
    fn node_start(&mut self, span: &Span) -> bool {
        let col = span.start.col();
        match self.frames.last() {
            Some(Frame::Map { cid, key: None, .. }) => {
                let cid = *cid;
                if self.flow_depth == 0 {
                    let c = &mut self.conts[cid];
                    c.indent.get_or_insert(col);
                    let n_col = c.indent.unwrap_or(col);
                    self.flush(cid, n_col);
                }
                self.conts[cid].entries += 1;
                true
            }
            Some(Frame::Seq { cid }) => {
                let cid = *cid;
                if self.flow_depth == 0 {
                    let n_col = self.conts[cid].indent.unwrap_or(col);
                    self.flush(cid, n_col);
                }
                self.conts[cid].entries += 1;
                false
            }
            _ => false,
        }
    }

    /// Number of nodes and nesting height (maps/sequences) of a value.
    fn measure(&self, v: &AVal) -> (usize, usize) {
        fn value(v: &Value) -> (usize, usize) {
            let (mut n, mut h) = (1, 0);
            let mut child = |c: &Value| {
                let (cn, ch) = value(c);
                n += cn;
                h = h.max(ch);
            };
            match v {
                Value::Map(b) => b.iter().for_each(|i| match i {
                    Item::Pair(_, v) => child(v),
                    Item::Comment(_) => {}
                }),
                Value::Seq(items) => items.iter().for_each(child),
                _ => return (1, 0),
            }
            (n, h + 1)
        }
        match v {
            AVal::Leaf(v) => value(v),
            AVal::Cont(cid) => {
                let (mut n, mut h) = (1, 0);
                for i in &self.conts[*cid].items {
                    if let AItem::Pair(_, v) | AItem::Elem(v) = i {
                        let (cn, ch) = self.measure(v);
                        n += cn;
                        h = h.max(ch);
                    }
                }
                (n, h + 1)
            }
        }
    }

    fn build(&self, v: &AVal) -> Value {
        match v {
            AVal::Leaf(v) => v.clone(),
            AVal::Cont(cid) => {
                let c = &self.conts[*cid];
                if c.is_map {
                    Value::Map(self.build_branch(*cid))
                } else {
                    Value::Seq(
                        c.items
                            .iter()
                            .map(|i| match i {
                                AItem::Comment(c) => Value::Comment(c.clone()),
                                AItem::Elem(v) | AItem::Pair(_, v) => self.build(v),
                            })
                            .collect(),
                    )
                }
            }
        }
    }

    /// Moves the finished document out of the arena (no copy of its strings). Aliases were already
    /// expanded with copies (`build`) when they were read, so consuming the arena here is safe.
    fn take_value(&mut self, v: AVal) -> Value {
        match v {
            AVal::Leaf(v) => v,
            AVal::Cont(cid) if self.conts[cid].is_map => Value::Map(self.take_branch(cid)),
            AVal::Cont(cid) => {
                let items = std::mem::take(&mut self.conts[cid].items);
                Value::Seq(
                    items
                        .into_iter()
                        .map(|i| match i {
                            AItem::Comment(c) => Value::Comment(c),
                            AItem::Elem(v) | AItem::Pair(_, v) => self.take_value(v),
                        })
                        .collect(),
                )
            }
        }
    }

    fn take_branch(&mut self, cid: usize) -> Branch {
        let items = std::mem::take(&mut self.conts[cid].items);
        items
            .into_iter()
            .map(|i| match i {
                AItem::Comment(c) => Item::Comment(c),
                AItem::Pair(k, v) => Item::Pair(k.into(), self.take_value(v)),
                AItem::Elem(v) => Item::Pair(Text::default(), self.take_value(v)),
            })
            .collect()
    }

    fn build_branch(&self, cid: usize) -> Branch {
        self.conts[cid]
            .items
            .iter()
            .map(|i| match i {
                AItem::Comment(c) => Item::Comment(c.clone()),
                AItem::Pair(k, v) => Item::Pair(k.into(), self.build(v)),
                AItem::Elem(v) => Item::Pair(Text::default(), self.build(v)),
            })
            .collect()
    }
}

/// Why a scalar has no tree value.
enum BadScalar {
    /// An explicit core tag go-yaml cannot decode (`!!bool yes`, bad `!!binary`): an error in the first
    /// document (sops decodes it into a map first), a null in later ones.
    Tag,
    /// An integer that only fits 64 unsigned bits (a Go `uint64`, which sops cannot walk).
    Uint,
}

/// Types a scalar like sops (go-yaml `node.Decode` into `interface{}`).
fn scalar_value(
    text: &str,
    style: ScalarStyle,
    tag: Option<&granit_parser::Tag>,
) -> std::result::Result<Value, BadScalar> {
    if let Some(tag) = tag {
        let (handle, suffix) = tag.parts();
        if handle == "tag:yaml.org,2002:" {
            return match suffix {
                "str" => Ok(Value::Str(text.to_string())),
                "binary" => {
                    use base64::Engine as _;
                    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    match base64::engine::general_purpose::STANDARD.decode(cleaned) {
                        Ok(bytes) => Ok(match String::from_utf8(bytes) {
                            Ok(s) => Value::Str(s),
                            Err(e) => Value::Bytes(e.into_bytes()),
                        }),
                        Err(_) => Err(BadScalar::Tag),
                    }
                }
                s => match resolve_tagged(s, text) {
                    Some(r) => r.into_value(text).ok_or(BadScalar::Uint),
                    None => Err(BadScalar::Tag),
                },
            };
        }
        if handle != "!" || !suffix.is_empty() {
            // Custom tags: go-yaml keeps the text.
            return Ok(Value::Str(text.to_string()));
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_string()));
    }
    resolve_plain(text).into_value(text).ok_or(BadScalar::Uint)
}

/// Parses a YAML stream into one branch per document.
pub(crate) fn parse(input: &str) -> Result<Vec<Branch>> {
    let options = granit_parser::options! {
        block_scalar_eof_without_line_feed: true,
        flow_nesting_limit: MAX_DEPTH,
        block_nesting_limit: MAX_DEPTH,
    };
    let mut parser = Parser::new_from_str_with_options(input, options);
    let mut docs = Vec::new();
    let mut doc: Option<Doc> = None;
    let mut first_doc = true;
    let mut orphans: Vec<Pending> = Vec::new();
    loop {
        let next = parser.next_event();
        let (event, span) = match next {
            None => break,
            Some(Ok(x)) => x,
            Some(Err(e)) => {
                let m = e.marker();
                // The parser's own messages may quote the input: only the position is reported.
                let what = match e.kind() {
                    ErrorKind::RecursionLimitExceeded => "nesting too deep",
                    _ => "syntax error",
                };
                return Err(err(format!(
                    "{what} at line {} column {}",
                    m.line(),
                    m.col() + 1
                )));
            }
        };
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) => {}
            Event::UnresolvedAlias(_) => {
                return Err(err(format!("unknown anchor at {}", at(&span))))
            }
            Event::DocumentStart(..) => {
                doc = Some(Doc {
                    conts: Vec::new(),
                    frames: Vec::new(),
                    anchors: HashMap::new(),
                    pending: std::mem::take(&mut orphans),
                    recent: Recent::Nothing,
                    last: None,
                    root: None,
                    check_dups: first_doc,
                    flow_depth: 0,
                    decoded: 0,
                    aliased: 0,
                    _src: input,
                });
                first_doc = false;
            }
            Event::DocumentEnd => {
                let Some(mut d) = doc.take() else { continue };
                let root = match d.root {
                    Some(r) => r,
                    None => d.new_cont(true, false, Some(0)),
                };
                d.flush(root, 0);
                docs.push(d.take_branch(root));
            }
            Event::Comment(text, placement) => {
                let text = text.into_owned();
                let Some(d) = doc.as_mut() else {
                    orphans.push(Pending {
                        text,
                        col: span.start.col(),
                    });
                    continue;
                };
                if placement == Placement::Right {
                    let block = matches!(
                        parser.peek(),
                        Some(Ok((
                            Event::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded, ..),
                            _
                        )))
                    );
                    d.right_comment(text, block);
                } else {
                    d.pending.push(Pending {
                        text,
                        col: span.start.col(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let d = doc
                    .as_mut()
                    .ok_or_else(|| err("scalar outside a document"))?;
                d.decoded += 1;
                let is_key = d.node_start(&span);
                let value = match scalar_value(&text, style, tag.as_deref()) {
                    Ok(v) => v,
                    Err(BadScalar::Tag) if !d.check_dups => Value::Null,
                    Err(BadScalar::Tag) => {
                        return Err(err(format!(
                            "cannot decode the tagged value at {}",
                            at(&span)
                        )))
                    }
                    Err(BadScalar::Uint) => {
                        return Err(err(format!(
                            "unsupported value type uint64 (an integer above 9223372036854775807) at {}",
                            at(&span)
                        )))
                    }
                };
                if is_key {
                    let key = match value {
                        Value::Str(s) => s,
                        other => {
                            let kind = match other {
                                Value::Null => "<nil>",
                                Value::Bool(_) => "bool",
                                Value::Int(_) => "int",
                                Value::Float(_) => "float64",
                                Value::Time(_) => "time.Time",
                                _ => "[]byte",
                            };
                            return Err(err(format!(
                                "Tree contains a non-string key (type {kind}) at {}. Only string keys are supported",
                                at(&span)
                            )));
                        }
                    };
                    if let Some(Frame::Map {
                        cid,
                        key: slot,
                        keys,
                    }) = d.frames.last_mut()
                    {
                        if d.check_dups {
                            if let Some(line) = keys.get(&key) {
                                return Err(err(format!(
                                    "line {}: mapping key already defined at line {}",
                                    span.start.line(),
                                    line
                                )));
                            }
                            keys.insert(key.clone(), span.start.line());
                        }
                        *slot = Some((key, span));
                        d.recent = Recent::Key(*cid);
                    }
                    if anchor != 0 {
                        d.anchors
                            .insert(anchor, AVal::Leaf(Value::Str(text.into_owned())));
                    }
                } else {
                    if anchor != 0 {
                        d.anchors.insert(anchor, AVal::Leaf(value.clone()));
                    }
                    d.add_value(AVal::Leaf(value), &span, true)?;
                    let empty = span.start.index() == span.end.index();
                    if let (Recent::MapLeaf(cid), true) = (d.recent, empty) {
                        d.recent = Recent::MapEmpty(cid);
                    }
                }
            }
            Event::Alias(id) => {
                let d = doc
                    .as_mut()
                    .ok_or_else(|| err("alias outside a document"))?;
                let is_key = d.node_start(&span);
                let target = d
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err(format!("unknown anchor at {}", at(&span))))?;
                if let AVal::Cont(cid) = target {
                    let open = d.frames.iter().any(|f| match f {
                        Frame::Map { cid: c, .. } | Frame::Seq { cid: c } => *c == cid,
                    });
                    if open {
                        return Err(err(format!(
                            "anchor value contains itself, at {}",
                            at(&span)
                        )));
                    }
                }
                let (nodes, height) = d.measure(&target);
                d.decoded += 1 + nodes;
                d.aliased += nodes;
                if d.aliased > 100
                    && d.decoded > 1000
                    && d.aliased as f64 / d.decoded as f64 > allowed_alias_ratio(d.decoded)
                {
                    return Err(err(format!(
                        "document contains excessive aliasing, at {}",
                        at(&span)
                    )));
                }
                if d.frames.len() + height > MAX_DEPTH {
                    return Err(too_deep(&span));
                }
                if is_key {
                    let key = match &target {
                        AVal::Leaf(Value::Str(s)) => s.clone(),
                        _ => return Err(err(format!("invalid map key at {}", at(&span)))),
                    };
                    if let Some(Frame::Map { cid, key: slot, .. }) = d.frames.last_mut() {
                        *slot = Some((key, span));
                        d.recent = Recent::Key(*cid);
                    }
                } else {
                    let v = AVal::Leaf(d.build(&target));
                    d.add_value(v, &span, true)?;
                }
            }
            Event::SequenceStart(style, anchor, _) | Event::MappingStart(style, anchor, _) => {
                let is_map = matches!(event, Event::MappingStart(..));
                let d = doc
                    .as_mut()
                    .ok_or_else(|| err("collection outside a document"))?;
                d.decoded += 1;
                if d.node_start(&span) {
                    return Err(err(format!("a map key must be a string, at {}", at(&span))));
                }
                if d.frames.len() >= MAX_DEPTH {
                    return Err(too_deep(&span));
                }
                let flow = style == granit_parser::StructureStyle::Flow;
                let indent = if is_map || flow {
                    None
                } else {
                    Some(span.start.col())
                };
                let cid = d.new_cont(is_map, flow, indent);
                if anchor != 0 {
                    d.anchors.insert(anchor, AVal::Cont(cid));
                }
                if flow {
                    d.flow_depth += 1;
                }
                d.frames.push(if is_map {
                    Frame::Map {
                        cid,
                        key: None,
                        keys: HashMap::new(),
                    }
                } else {
                    Frame::Seq { cid }
                });
                d.recent = Recent::Nothing;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let d = doc
                    .as_mut()
                    .ok_or_else(|| err("collection end outside a document"))?;
                let frame = d.frames.pop().ok_or_else(|| err("unbalanced collection"))?;
                let cid = match frame {
                    Frame::Map { cid, .. } | Frame::Seq { cid } => cid,
                };
                let was_flow = d.conts[cid].flow;
                if was_flow {
                    d.flow_depth -= 1;
                }
                d.add_value(AVal::Cont(cid), &span, false)?;
                if was_flow {
                    d.recent = Recent::Flow(cid);
                    d.last = d.frames.last().map(|f| match f {
                        Frame::Map { cid, .. } | Frame::Seq { cid } => *cid,
                    });
                } else {
                    d.recent = Recent::Nothing;
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }
    Ok(docs)
}
