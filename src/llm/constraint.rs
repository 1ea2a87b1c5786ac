//! Constrained decoding: a hook that masks tokens each step, and a JSON
//! schema constraint driven by a byte-level JSON state machine.
//!
//! The schema subset: `object` (all `properties` required, emitted in the
//! order of the schema's `required` list, else in key order), `string` (optional `enum`, `minLength`, `maxLength`;
//! free strings default to at most [`DEFAULT_MAX_LENGTH`] characters) and
//! `array` of those with `minItems` / `maxItems`. Output is compact JSON:
//! no whitespace between tokens, and no backslash escapes inside strings
//! (quotes, backslashes and control characters cannot appear in values).
use crate::{Error, Result};
use serde_json::Value;
use std::sync::OnceLock;

/// Maximum string length when the schema gives none, so that a model cannot
/// loop inside a string forever.
pub const DEFAULT_MAX_LENGTH: usize = 256;
/// Maximum array length when the schema gives none.
pub const DEFAULT_MAX_ITEMS: usize = 64;

/// The bytes each token of a model contributes to text, computed once per model.
pub struct Vocabulary {
    bytes: Vec<Vec<u8>>,
    /// False for control tokens and tokens without text.
    is_text: Vec<bool>,
    index: OnceLock<JsonIndex>,
}

struct JsonIndex {
    /// Text tokens grouped by their first byte.
    by_first_byte: Vec<Vec<u32>>,
    /// For tokens that can sit inside a JSON string as-is (complete UTF-8,
    /// no quote, backslash or control byte): their character count;
    /// `u32::MAX` for the others.
    plain_chars: Vec<u32>,
    /// Text tokens that are not plain (contain `"`, `\`, control bytes).
    not_plain: Vec<u32>,
}

impl Vocabulary {
    /// `bytes[i]` is token i's text; `is_text[i]` false forbids it in
    /// constrained output (control tokens).
    pub fn new(bytes: Vec<Vec<u8>>, is_text: Vec<bool>) -> Self {
        assert_eq!(bytes.len(), is_text.len());
        Self {
            bytes,
            is_text,
            index: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn token_bytes(&self, id: u32) -> &[u8] {
        &self.bytes[id as usize]
    }

    fn json_index(&self) -> &JsonIndex {
        self.index.get_or_init(|| {
            let mut by_first_byte = vec![Vec::new(); 256];
            let mut plain_chars = vec![u32::MAX; self.bytes.len()];
            let mut not_plain = Vec::new();
            for (i, b) in self.bytes.iter().enumerate() {
                if !self.is_text[i] || b.is_empty() {
                    continue;
                }
                by_first_byte[b[0] as usize].push(i as u32);
                let plain = b.iter().all(|&c| c >= 0x20 && c != b'"' && c != b'\\')
                    && std::str::from_utf8(b).is_ok();
                if plain {
                    plain_chars[i] = b.iter().filter(|&&c| !is_continuation(c)).count() as u32;
                } else {
                    not_plain.push(i as u32);
                }
            }
            JsonIndex {
                by_first_byte,
                plain_chars,
                not_plain,
            }
        })
    }
}

fn is_continuation(b: u8) -> bool {
    (0x80..0xC0).contains(&b)
}

/// A rule on which tokens may come next, consulted at every decoding step.
pub trait TokenConstraint {
    /// Set the logits of disallowed tokens to `-inf`.
    fn mask(&mut self, vocab: &Vocabulary, logits: &mut [f32]) -> Result<()>;
    /// Record the token that was chosen.
    fn accept(&mut self, vocab: &Vocabulary, token: u32) -> Result<()>;
    /// The output is complete; generation stops.
    fn is_complete(&self) -> bool;
    /// Text that completes the output validly, appended when the token
    /// budget runs out first.
    fn completion(&self) -> String;
}

#[derive(Debug, Clone)]
enum Node {
    Object(Vec<Step>),
    Str {
        min: usize,
        max: usize,
        options: Option<Vec<String>>,
    },
    Array {
        item: usize,
        min: usize,
        max: usize,
    },
}

/// A part of an object: fixed text or a value of a child node.
#[derive(Debug, Clone)]
enum Step {
    Lit(Vec<u8>),
    Value(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayPhase {
    Open,
    FirstOrClose,
    AfterItem,
    NeedItem,
}

#[derive(Debug, Clone)]
enum Frame {
    Object {
        node: usize,
        step: usize,
        pos: usize,
    },
    Array {
        node: usize,
        count: usize,
        phase: ArrayPhase,
    },
    Str {
        node: usize,
        open: bool,
        chars: usize,
        /// Content so far, kept only for enum strings.
        content: Vec<u8>,
        /// UTF-8 continuation bytes still expected, and the allowed range
        /// of the next one.
        need: u8,
        next_range: (u8, u8),
    },
}

/// The JSON state: a stack of open values; empty once the document is done.
#[derive(Debug, Clone)]
struct Machine {
    stack: Vec<Frame>,
    done: bool,
}

/// Constrains output to JSON matching a small JSON-schema subset (see the
/// module documentation).
pub struct JsonSchemaConstraint {
    nodes: Vec<Node>,
    machine: Machine,
    text: Vec<u8>,
}

impl JsonSchemaConstraint {
    /// Compile `schema`; unsupported keywords or types give [`Error::Config`].
    pub fn new(schema: &Value) -> Result<Self> {
        let mut nodes = Vec::new();
        let root = compile(schema, &mut nodes, "$")?;
        let machine = Machine {
            stack: vec![start_frame(&nodes, root)],
            done: false,
        };
        Ok(Self {
            nodes,
            machine,
            text: Vec::new(),
        })
    }

    /// The output accepted so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    fn token_ok(&self, bytes: &[u8]) -> bool {
        let mut m = self.machine.clone();
        bytes.iter().all(|&b| m.step(&self.nodes, b))
    }

    /// Remaining characters in the free string being written, if any.
    fn free_string_room(&self) -> Option<usize> {
        match self.machine.stack.last() {
            Some(Frame::Str {
                node,
                open: true,
                chars,
                need: 0,
                ..
            }) => match &self.nodes[*node] {
                Node::Str {
                    max, options: None, ..
                } => Some(max - chars),
                _ => None,
            },
            _ => None,
        }
    }
}

fn schema_err(at: &str, msg: impl std::fmt::Display) -> Error {
    Error::Config(format!("JSON schema at {at}: {msg}"))
}

fn usize_kw(schema: &Value, key: &str, at: &str) -> Result<Option<usize>> {
    match schema.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| schema_err(at, format!("`{key}` must be a non-negative integer"))),
    }
}

fn json_string_literal(s: &str) -> Vec<u8> {
    serde_json::to_string(s)
        .expect("strings serialize")
        .into_bytes()
}

fn compile(schema: &Value, nodes: &mut Vec<Node>, at: &str) -> Result<usize> {
    let ty = schema.get("type").and_then(Value::as_str);
    let node = match ty {
        Some("string") => {
            let options = match schema.get("enum") {
                None => None,
                Some(Value::Array(items)) if !items.is_empty() => Some(
                    items
                        .iter()
                        .map(|v| match v.as_str() {
                            Some(s) if is_plain_str(s) => Ok(s.to_string()),
                            _ => Err(schema_err(
                                at,
                                "enum values must be strings without quotes, backslashes or control characters",
                            )),
                        })
                        .collect::<Result<Vec<_>>>()?,
                ),
                Some(_) => return Err(schema_err(at, "`enum` must be a non-empty array")),
            };
            let min = usize_kw(schema, "minLength", at)?.unwrap_or(0);
            let max = usize_kw(schema, "maxLength", at)?.unwrap_or(DEFAULT_MAX_LENGTH);
            if min > max {
                return Err(schema_err(at, "minLength > maxLength"));
            }
            Node::Str { min, max, options }
        }
        Some("array") => {
            let items = schema
                .get("items")
                .ok_or_else(|| schema_err(at, "array without `items`"))?;
            let item = compile(items, nodes, &format!("{at}[]"))?;
            let min = usize_kw(schema, "minItems", at)?.unwrap_or(0);
            let max = usize_kw(schema, "maxItems", at)?.unwrap_or(DEFAULT_MAX_ITEMS);
            if min > max || max == 0 {
                return Err(schema_err(
                    at,
                    "need 0 <= minItems <= maxItems, maxItems > 0",
                ));
            }
            Node::Array { item, min, max }
        }
        Some("object") => {
            let props = schema
                .get("properties")
                .and_then(Value::as_object)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| schema_err(at, "object needs non-empty `properties`"))?;
            // The order of `required` fixes the output order (a JSON object's
            // key order is not kept by serde_json's map).
            let order: Vec<&str> = match schema.get("required") {
                Some(Value::Array(names)) => names
                    .iter()
                    .map(|n| {
                        n.as_str()
                            .filter(|n| props.contains_key(*n))
                            .ok_or_else(|| {
                                schema_err(at, format!("`required` entry {n} is not a property"))
                            })
                    })
                    .collect::<Result<_>>()?,
                Some(_) => return Err(schema_err(at, "`required` must be an array")),
                None => props.keys().map(String::as_str).collect(),
            };
            if order.len() != props.len() {
                return Err(schema_err(
                    at,
                    "every property must be listed in `required`",
                ));
            }
            let mut steps = Vec::new();
            for (i, key) in order.into_iter().enumerate() {
                let sub = &props[key];
                if !is_plain_str(key) {
                    return Err(schema_err(at, format!("unsupported property name {key:?}")));
                }
                let mut lit = if i == 0 { b"{".to_vec() } else { b",".to_vec() };
                lit.extend(json_string_literal(key));
                lit.push(b':');
                steps.push(Step::Lit(lit));
                steps.push(Step::Value(compile(sub, nodes, &format!("{at}.{key}"))?));
            }
            steps.push(Step::Lit(b"}".to_vec()));
            Node::Object(steps)
        }
        other => {
            return Err(schema_err(
                at,
                format!("unsupported type {other:?} (object, array, string)"),
            ))
        }
    };
    nodes.push(node);
    Ok(nodes.len() - 1)
}

fn is_plain_str(s: &str) -> bool {
    s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\')
}

fn start_frame(nodes: &[Node], node: usize) -> Frame {
    match &nodes[node] {
        Node::Object(_) => Frame::Object {
            node,
            step: 0,
            pos: 0,
        },
        Node::Array { .. } => Frame::Array {
            node,
            count: 0,
            phase: ArrayPhase::Open,
        },
        Node::Str { .. } => Frame::Str {
            node,
            open: false,
            chars: 0,
            content: Vec::new(),
            need: 0,
            next_range: (0x80, 0xBF),
        },
    }
}

impl Machine {
    /// Feed one byte; false if it cannot continue valid output.
    fn step(&mut self, nodes: &[Node], b: u8) -> bool {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return false;
            };
            match top {
                Frame::Object { node, step, pos } => {
                    let Node::Object(steps) = &nodes[*node] else {
                        unreachable!()
                    };
                    match &steps[*step] {
                        Step::Lit(lit) => {
                            if lit[*pos] != b {
                                return false;
                            }
                            *pos += 1;
                            if *pos == lit.len() {
                                *step += 1;
                                *pos = 0;
                                if *step == steps.len() {
                                    self.pop();
                                }
                            }
                            return true;
                        }
                        Step::Value(child) => {
                            let child = *child;
                            *step += 1;
                            self.stack.push(start_frame(nodes, child));
                        }
                    }
                }
                Frame::Array { node, count, phase } => {
                    let Node::Array { item, min, max } = &nodes[*node] else {
                        unreachable!()
                    };
                    match *phase {
                        ArrayPhase::Open => {
                            if b != b'[' {
                                return false;
                            }
                            *phase = ArrayPhase::FirstOrClose;
                            return true;
                        }
                        ArrayPhase::FirstOrClose if b == b']' => {
                            if *min > 0 {
                                return false;
                            }
                            self.pop();
                            return true;
                        }
                        ArrayPhase::FirstOrClose | ArrayPhase::NeedItem => {
                            *count += 1;
                            *phase = ArrayPhase::AfterItem;
                            let item = *item;
                            self.stack.push(start_frame(nodes, item));
                        }
                        ArrayPhase::AfterItem => {
                            if b == b',' && *count < *max {
                                *phase = ArrayPhase::NeedItem;
                                return true;
                            }
                            if b == b']' && *count >= *min {
                                self.pop();
                                return true;
                            }
                            return false;
                        }
                    }
                }
                Frame::Str {
                    node,
                    open,
                    chars,
                    content,
                    need,
                    next_range,
                } => {
                    let Node::Str { min, max, options } = &nodes[*node] else {
                        unreachable!()
                    };
                    if !*open {
                        if b != b'"' {
                            return false;
                        }
                        *open = true;
                        return true;
                    }
                    // Only well-formed UTF-8 inside strings.
                    if *need > 0 {
                        if b < next_range.0 || b > next_range.1 {
                            return false;
                        }
                        *need -= 1;
                        *next_range = (0x80, 0xBF);
                        if let Some(opts) = options {
                            content.push(b);
                            return opts.iter().any(|o| o.as_bytes().starts_with(content));
                        }
                        return true;
                    }
                    if b >= 0x80 {
                        let (n, range) = match b {
                            0xC2..=0xDF => (1, (0x80, 0xBF)),
                            0xE0 => (2, (0xA0, 0xBF)),
                            0xE1..=0xEC | 0xEE..=0xEF => (2, (0x80, 0xBF)),
                            0xED => (2, (0x80, 0x9F)),
                            0xF0 => (3, (0x90, 0xBF)),
                            0xF1..=0xF3 => (3, (0x80, 0xBF)),
                            0xF4 => (3, (0x80, 0x8F)),
                            _ => return false,
                        };
                        *need = n;
                        *next_range = range;
                    }
                    if b == b'"' {
                        let ok = match options {
                            Some(opts) => opts.iter().any(|o| o.as_bytes() == content.as_slice()),
                            None => *chars >= *min,
                        };
                        if ok {
                            self.pop();
                        }
                        return ok;
                    }
                    if b < 0x20 || b == b'\\' {
                        return false;
                    }
                    match options {
                        Some(opts) => {
                            content.push(b);
                            return opts.iter().any(|o| o.as_bytes().starts_with(content));
                        }
                        None => {
                            if !is_continuation(b) {
                                if *chars >= *max {
                                    return false;
                                }
                                *chars += 1;
                            }
                            return true;
                        }
                    }
                }
            }
        }
    }

    fn pop(&mut self) {
        self.stack.pop();
        if self.stack.is_empty() {
            self.done = true;
        }
    }

    /// The shortest text that completes the document from here.
    fn completion(&self, nodes: &[Node]) -> Vec<u8> {
        let mut out = Vec::new();
        for frame in self.stack.iter().rev() {
            match frame {
                Frame::Object { node, step, pos } => {
                    let Node::Object(steps) = &nodes[*node] else {
                        unreachable!()
                    };
                    for (i, s) in steps.iter().enumerate().skip(*step) {
                        match s {
                            Step::Lit(l) => {
                                let from = if i == *step { *pos } else { 0 };
                                out.extend_from_slice(&l[from..]);
                            }
                            Step::Value(c) => minimal_value(nodes, *c, &mut out),
                        }
                    }
                }
                Frame::Array { node, count, phase } => {
                    let Node::Array { item, min, .. } = &nodes[*node] else {
                        unreachable!()
                    };
                    let mut n = *count;
                    match phase {
                        ArrayPhase::Open => {
                            out.push(b'[');
                            for i in 0..*min {
                                if i > 0 {
                                    out.push(b',');
                                }
                                minimal_value(nodes, *item, &mut out);
                            }
                        }
                        ArrayPhase::FirstOrClose | ArrayPhase::NeedItem => {
                            if *phase == ArrayPhase::NeedItem || *min > 0 {
                                minimal_value(nodes, *item, &mut out);
                                n += 1;
                            }
                            while n < *min {
                                out.push(b',');
                                minimal_value(nodes, *item, &mut out);
                                n += 1;
                            }
                        }
                        ArrayPhase::AfterItem => {
                            while n < *min {
                                out.push(b',');
                                minimal_value(nodes, *item, &mut out);
                                n += 1;
                            }
                        }
                    }
                    out.push(b']');
                }
                Frame::Str {
                    node,
                    open,
                    chars,
                    content,
                    ..
                } => {
                    let Node::Str { min, options, .. } = &nodes[*node] else {
                        unreachable!()
                    };
                    if !*open {
                        out.push(b'"');
                    }
                    match options {
                        Some(opts) => {
                            let rest = opts
                                .iter()
                                .filter(|o| o.as_bytes().starts_with(content))
                                .min_by_key(|o| o.len())
                                .map(|o| &o.as_bytes()[content.len()..])
                                .unwrap_or_default();
                            out.extend_from_slice(rest);
                        }
                        None => out.extend(std::iter::repeat_n(b'-', min.saturating_sub(*chars))),
                    }
                    out.push(b'"');
                }
            }
        }
        out
    }
}

fn minimal_value(nodes: &[Node], node: usize, out: &mut Vec<u8>) {
    let m = Machine {
        stack: vec![start_frame(nodes, node)],
        done: false,
    };
    out.extend(m.completion(nodes));
}

impl TokenConstraint for JsonSchemaConstraint {
    fn mask(&mut self, vocab: &Vocabulary, logits: &mut [f32]) -> Result<()> {
        if logits.len() < vocab.len() {
            return Err(Error::Generation(format!(
                "constraint: {} logits for a vocabulary of {}",
                logits.len(),
                vocab.len()
            )));
        }
        let index = vocab.json_index();
        let mut allowed = vec![false; logits.len()];
        if let Some(room) = self.free_string_room() {
            // Inside a free string: plain tokens only need a length check.
            for (i, &n) in index.plain_chars.iter().enumerate() {
                allowed[i] = n != u32::MAX && (n as usize) <= room;
            }
            for &i in &index.not_plain {
                allowed[i as usize] = self.token_ok(vocab.token_bytes(i));
            }
        } else {
            for b in 0..=255u8 {
                let mut m = self.machine.clone();
                if !m.step(&self.nodes, b) {
                    continue;
                }
                for &i in &index.by_first_byte[b as usize] {
                    allowed[i as usize] = self.token_ok(vocab.token_bytes(i));
                }
            }
        }
        let mut any = false;
        for (l, ok) in logits.iter_mut().zip(&allowed) {
            if *ok {
                any |= *l > f32::NEG_INFINITY;
            } else {
                *l = f32::NEG_INFINITY;
            }
        }
        if !any {
            return Err(Error::Generation(
                "JSON constraint: no token of the vocabulary can continue the output".into(),
            ));
        }
        Ok(())
    }

    fn accept(&mut self, vocab: &Vocabulary, token: u32) -> Result<()> {
        let bytes = vocab.token_bytes(token);
        for &b in bytes {
            if !self.machine.step(&self.nodes, b) {
                return Err(Error::Generation(format!(
                    "JSON constraint: token {token} ({:?}) does not fit after {:?}",
                    String::from_utf8_lossy(bytes),
                    self.text()
                )));
            }
        }
        self.text.extend_from_slice(bytes);
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.machine.done
    }

    fn completion(&self) -> String {
        String::from_utf8_lossy(&self.machine.completion(&self.nodes)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts_schema() -> Value {
        json!({"type":"object","properties":{"facts":{"type":"array","maxItems":2,"items":{
            "type":"object","properties":{
                "type":{"type":"string","enum":["person","organization","place","event"]},
                "text":{"type":"string","minLength":1,"maxLength":5}},
            "required":["type","text"]}}},"required":["facts"]})
    }

    fn feed(c: &mut JsonSchemaConstraint, s: &str) -> bool {
        s.bytes().all(|b| c.machine.step(&c.nodes, b))
    }

    #[test]
    fn accepts_exactly_the_schema_language() {
        let ok = r#"{"facts":[{"type":"place","text":"Kyiv"},{"type":"event","text":"x"}]}"#;
        let mut c = JsonSchemaConstraint::new(&facts_schema()).unwrap();
        assert!(feed(&mut c, ok));
        assert!(c.machine.done);
        for bad in [
            r#"{"facts": ["#,                               // whitespace
            r#"{"facts":[{"type":"city""#,                  // not in enum
            r#"{"facts":[{"type":"place","text":"Kyiv!!""#, // too long
            r#"{"facts":[{"type":"place","text":"""#,       // below minLength
            r#"{"facts":[{"text":"#,                        // property order
            r#"{"facts":[{"type":"place","text":"a\"#,      // escapes
            r#"{"facts":[{"type":"place","text":"a"},{"type":"place","text":"b"},"#, // maxItems
        ] {
            let mut c = JsonSchemaConstraint::new(&facts_schema()).unwrap();
            assert!(!feed(&mut c, bad), "accepted {bad}");
        }
    }

    #[test]
    fn strings_hold_only_well_formed_utf8() {
        let prefix = r#"{"facts":[{"type":"place","text":""#;
        let bytes = |extra: &[u8]| {
            let mut c = JsonSchemaConstraint::new(&facts_schema()).unwrap();
            prefix
                .bytes()
                .chain(extra.iter().copied())
                .all(|b| c.machine.step(&c.nodes, b))
        };
        assert!(bytes("Київ".as_bytes()));
        assert!(bytes(&[0xD0]));
        assert!(!bytes(&[0xD0, b'"'])); // unfinished character
        assert!(!bytes(&[0x80])); // lone continuation byte
        assert!(!bytes(&[0xFF]));
        assert!(!bytes(&[0xED, 0xA0])); // surrogate
                                        // Five characters fit maxLength 5, a sixth does not, whatever their bytes.
        assert!(bytes("Київ🇺".as_bytes()));
        assert!(!bytes("Київ🇺🇦".as_bytes()));
    }

    #[test]
    fn completion_closes_any_prefix_validly() {
        let full =
            r#"{"facts":[{"type":"organization","text":"NBU"},{"type":"person","text":"Ivan"}]}"#;
        for cut in 0..full.len() {
            let mut c = JsonSchemaConstraint::new(&facts_schema()).unwrap();
            assert!(feed(&mut c, &full[..cut]));
            let done = format!("{}{}", &full[..cut], c.completion());
            let mut check = JsonSchemaConstraint::new(&facts_schema()).unwrap();
            assert!(feed(&mut check, &done) && check.machine.done, "{done}");
            serde_json::from_str::<Value>(&done).unwrap();
        }
    }

    #[test]
    fn mask_uses_whole_tokens() {
        let words = [
            "{\"",
            "facts",
            "\":[",
            "{\"facts\":[",
            "]}",
            " ",
            "\"",
            "ab",
            "abcdef",
            "a\"}",
        ];
        let vocab = Vocabulary::new(
            words.iter().map(|w| w.as_bytes().to_vec()).collect(),
            vec![true; words.len()],
        );
        let mut c = JsonSchemaConstraint::new(&json!({"type":"object","properties":{
            "facts":{"type":"array","items":{"type":"string","maxLength":3}}}}))
        .unwrap();
        let mut logits = vec![0.0f32; words.len()];
        c.mask(&vocab, &mut logits).unwrap();
        let allowed: Vec<_> = (0..words.len()).filter(|&i| logits[i] == 0.0).collect();
        assert_eq!(allowed, vec![0, 3]);
        c.accept(&vocab, 3).unwrap();
        c.accept(&vocab, 6).unwrap();
        let mut logits = vec![0.0f32; words.len()];
        c.mask(&vocab, &mut logits).unwrap();
        let allowed: Vec<_> = (0..words.len()).filter(|&i| logits[i] == 0.0).collect();
        // Plain text up to 3 characters ("]}" is text here), or the closing quote
        // (also after "{");
        // "facts" and "abcdef" are too long, "a\"}" cannot close the array with `}`.
        assert_eq!(allowed, vec![0, 4, 5, 6, 7]);
        assert!(c.accept(&vocab, 9).is_err());
    }

    #[test]
    fn rejects_unsupported_schemas() {
        assert!(JsonSchemaConstraint::new(&json!({"type":"number"})).is_err());
        assert!(JsonSchemaConstraint::new(&json!({"type":"array"})).is_err());
    }
}
