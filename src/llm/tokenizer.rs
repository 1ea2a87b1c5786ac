//! A tokenizer built from a GGUF file's own metadata, matching llama.cpp.
//!
//! Two kinds exist (`tokenizer.ggml.model`):
//! * `gpt2` — byte-level BPE with ranked merges. The pre-tokenizer (the regex
//!   split before BPE) is chosen from `tokenizer.ggml.pre` exactly as
//!   llama.cpp does; the BPE itself runs on the `tokenizers` crate.
//! * `llama` — SentencePiece-style: pieces with scores, merged greedily by
//!   score (highest first, leftmost on ties), with `<0xXX>` byte fallback for
//!   characters not in the vocabulary (Llama 2, Gemma).
//!
//! Text is first partitioned on special-token text the way llama.cpp does:
//! user-defined tokens are always matched as whole tokens, control tokens
//! only when `parse_special` is set.
use super::gguf::Metadata;
use crate::{Error, Result};
use std::collections::HashMap;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::SplitDelimiterBehavior;

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenKind {
    fn from_gguf(v: i64) -> Self {
        match v {
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            5 => TokenKind::Unused,
            6 => TokenKind::Byte,
            _ => TokenKind::Normal,
        }
    }
}

enum Engine {
    /// Byte-level BPE; the `tokenizers` pipeline sees plain text only.
    Bpe(Box<tokenizers::Tokenizer>),
    /// SentencePiece scores.
    Spm(Box<Spm>),
}

/// Tokenizer of one GGUF model, plus each token's decoded bytes.
pub struct GgufTokenizer {
    engine: Engine,
    tokens: Vec<String>,
    kinds: Vec<TokenKind>,
    bytes: Vec<Vec<u8>>,
    /// Special tokens to partition on, longest text first.
    specials: Vec<(String, u32)>,
    by_text: HashMap<String, u32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// Tokens that end a turn (EOS, `<|im_end|>`, `<end_of_turn>`, …).
    end_of_generation: Vec<u32>,
    add_space_prefix: bool,
}

/// The byte ↔ printable-character map of GPT-2's byte-level BPE.
fn byte_level_chars() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        map[b as usize] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + n).expect("valid code point");
            n += 1;
            c
        };
    }
    map
}

const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The regex splits llama.cpp applies for a `tokenizer.ggml.pre` kind.
fn pre_tokenizer_regexes(pre: &str) -> Option<&'static [&'static str]> {
    Some(match pre {
        "qwen2" | "deepseek-r1-qwen" => &[QWEN2_REGEX],
        "llama3" | "llama-bpe" | "llama-v3" | "smaug-bpe" | "falcon3" | "pixtral" => {
            &[LLAMA3_REGEX]
        }
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => {
            &[r"\p{N}", GPT2_REGEX]
        }
        "gpt-2" | "gpt2" | "phi-2" | "jina-es" | "jina-de" | "olmo" | "mpt" | "gpt3-finnish" => {
            &[GPT2_REGEX]
        }
        "default" => &[
            r"[\p{P}\$\+<=>\^~\|]+",
            GPT2_REGEX,
            r"\p{N}+",
            r"[0-9][0-9][0-9]",
        ],
        _ => return None,
    })
}

impl GgufTokenizer {
    /// Read only the tokenizer of a GGUF file (no weights are loaded).
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let file = super::gguf::GgufFile::open(path)?;
        Self::from_metadata(&Metadata {
            path,
            content: &file.content,
        })
    }

    /// Build the tokenizer from the file's `tokenizer.ggml.*` metadata.
    pub(crate) fn from_metadata(md: &Metadata<'_>) -> Result<Self> {
        let model = md.required_string("tokenizer.ggml.model")?;
        let tokens = md.string_array("tokenizer.ggml.tokens")?;
        if tokens.is_empty() {
            return Err(Error::model_file(md.path, "tokenizer.ggml.tokens is empty"));
        }
        let kinds: Vec<TokenKind> = match md.int_array("tokenizer.ggml.token_type")? {
            Some(types) if types.len() == tokens.len() => {
                types.into_iter().map(TokenKind::from_gguf).collect()
            }
            Some(types) => {
                return Err(Error::model_file(
                    md.path,
                    format!(
                        "tokenizer.ggml.token_type has {} entries for {} tokens",
                        types.len(),
                        tokens.len()
                    ),
                ))
            }
            None => vec![TokenKind::Normal; tokens.len()],
        };
        let id = |key: &str| -> Result<Option<u32>> {
            let v = md.uint(key)?;
            match v {
                Some(v) if (v as usize) < tokens.len() => Ok(Some(v as u32)),
                Some(v) => Err(Error::model_file(
                    md.path,
                    format!("{key} = {v} is outside the vocabulary"),
                )),
                None => Ok(None),
            }
        };
        let bos = id("tokenizer.ggml.bos_token_id")?;
        let eos = id("tokenizer.ggml.eos_token_id")?;
        let eot = id("tokenizer.ggml.eot_token_id")?;
        let (engine, mut bytes, add_space_prefix) = match model {
            "gpt2" => {
                let pre = md.string("tokenizer.ggml.pre")?.unwrap_or("default");
                let regexes = pre_tokenizer_regexes(pre).ok_or_else(|| {
                    Error::model_file(md.path, format!("unsupported pre-tokenizer `{pre}`"))
                })?;
                let merges = md
                    .string_array("tokenizer.ggml.merges")?
                    .into_iter()
                    .map(|m| match m.split_once(' ') {
                        Some((a, b)) => Ok((a.to_string(), b.to_string())),
                        None => Err(Error::model_file(md.path, format!("bad merge `{m}`"))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let bpe = build_bpe(&tokens, merges, regexes)
                    .map_err(|e| Error::model_file(md.path, format!("tokenizer: {e}")))?;
                let bytes = byte_level_token_bytes(&tokens, &kinds);
                (Engine::Bpe(Box::new(bpe)), bytes, false)
            }
            "llama" => {
                let scores = md
                    .f32_array("tokenizer.ggml.scores")?
                    .unwrap_or_else(|| vec![0.0; tokens.len()]);
                if scores.len() != tokens.len() {
                    return Err(Error::model_file(
                        md.path,
                        "tokenizer.ggml.scores and tokens differ in length",
                    ));
                }
                let unk = id("tokenizer.ggml.unknown_token_id")?;
                let add_space_prefix = md.bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
                let spm = Spm::new(&tokens, &kinds, scores, unk);
                let bytes = spm_token_bytes(&tokens, &kinds);
                (Engine::Spm(Box::new(spm)), bytes, add_space_prefix)
            }
            other => {
                return Err(Error::model_file(
                    md.path,
                    format!("unsupported tokenizer model `{other}` (expected gpt2 or llama)"),
                ))
            }
        };
        // llama.cpp's end-of-generation texts: such a token ends generation
        // and becomes a control token whatever its type in the file (Gemma 3
        // ships `</s>` as user-defined; llama.cpp neither matches it in plain
        // text nor lets generation run past it).
        let mut kinds = kinds;
        let mut end_of_generation: Vec<u32> = eos.into_iter().chain(eot).collect();
        for (i, t) in tokens.iter().enumerate() {
            let eog_text = matches!(
                t.as_str(),
                "<|im_end|>" | "<|endoftext|>" | "<end_of_turn>" | "<|eot_id|>" | "<|end|>"
            );
            if eog_text && kinds[i] == TokenKind::Control {
                end_of_generation.push(i as u32);
            }
            if t == "</s>" && matches!(kinds[i], TokenKind::Control | TokenKind::UserDefined) {
                kinds[i] = TokenKind::Control;
                bytes[i].clear();
                end_of_generation.push(i as u32);
            }
        }
        end_of_generation.sort_unstable();
        end_of_generation.dedup();
        let mut specials: Vec<(String, u32)> = tokens
            .iter()
            .zip(&kinds)
            .enumerate()
            .filter(|(_, (t, k))| {
                !t.is_empty()
                    && matches!(
                        k,
                        TokenKind::Control | TokenKind::UserDefined | TokenKind::Unknown
                    )
            })
            .map(|(i, (t, _))| (t.clone(), i as u32))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let by_text = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Ok(Self {
            engine,
            tokens,
            kinds,
            bytes,
            specials,
            by_text,
            bos,
            eos,
            end_of_generation,
            add_space_prefix,
        })
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The id of a token given its exact vocabulary text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.by_text.get(text).copied()
    }

    /// The vocabulary text of a token.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// llama.cpp's type of a token.
    pub fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }

    /// The bytes a token contributes to decoded text (empty for control tokens).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes
            .get(id as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether generation ends when this token is produced.
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.binary_search(&id).is_ok()
    }

    /// Tokens that end generation.
    pub fn end_of_generation(&self) -> &[u32] {
        &self.end_of_generation
    }

    /// Tokenize `text` as llama.cpp does with `add_special = false`.
    /// Control-token text (`<|im_start|>`) becomes that token only when
    /// `parse_special` is true; user-defined tokens always do.
    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut prev_special = true;
        for fragment in self.partition(text, parse_special) {
            match fragment {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text(t) => {
                    match &self.engine {
                        Engine::Bpe(tk) => {
                            let enc = tk
                                .encode(t, false)
                                .map_err(|e| Error::Tokenizer(e.to_string()))?;
                            out.extend_from_slice(enc.get_ids());
                        }
                        Engine::Spm(spm) => {
                            let mut s = String::with_capacity(t.len() + 3);
                            if self.add_space_prefix && prev_special {
                                s.push(' ');
                            }
                            s.push_str(t);
                            spm.encode(&s.replace(' ', "\u{2581}"), &mut out);
                        }
                    }
                    prev_special = false;
                }
            }
        }
        Ok(out)
    }

    /// Decode ids to text (control tokens are dropped; invalid UTF-8 is replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&i| self.token_bytes(i).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        let mut fragments = vec![Fragment::Text(text)];
        for (special, id) in &self.specials {
            let kind = self.kinds[*id as usize];
            if !parse_special && kind != TokenKind::UserDefined {
                continue;
            }
            let mut next = Vec::with_capacity(fragments.len());
            for f in fragments {
                match f {
                    Fragment::Text(t) if t.contains(special.as_str()) => {
                        let mut rest = t;
                        while let Some(pos) = rest.find(special.as_str()) {
                            if pos > 0 {
                                next.push(Fragment::Text(&rest[..pos]));
                            }
                            next.push(Fragment::Token(*id));
                            rest = &rest[pos + special.len()..];
                        }
                        if !rest.is_empty() {
                            next.push(Fragment::Text(rest));
                        }
                    }
                    f => next.push(f),
                }
            }
            fragments = next;
        }
        fragments
    }
}

enum Fragment<'t> {
    Text(&'t str),
    Token(u32),
}

fn build_bpe(
    tokens: &[String],
    merges: Vec<(String, String)>,
    regexes: &[&str],
) -> std::result::Result<tokenizers::Tokenizer, Box<dyn std::error::Error + Send + Sync>> {
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build()?;
    let mut steps: Vec<PreTokenizerWrapper> = Vec::with_capacity(regexes.len() + 1);
    for r in regexes {
        let split = Split::new(
            SplitPattern::Regex((*r).to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )?;
        steps.push(split.into());
    }
    steps.push(ByteLevel::new(false, false, false).into());
    let mut tk = tokenizers::Tokenizer::new(bpe);
    tk.with_pre_tokenizer(Some(Sequence::new(steps)));
    Ok(tk)
}

fn byte_level_token_bytes(tokens: &[String], kinds: &[TokenKind]) -> Vec<Vec<u8>> {
    let chars = byte_level_chars();
    let mut inverse: HashMap<char, u8> = HashMap::with_capacity(256);
    for (b, c) in chars.iter().enumerate() {
        inverse.insert(*c, b as u8);
    }
    tokens
        .iter()
        .zip(kinds)
        .map(|(t, k)| match k {
            TokenKind::Normal => {
                let mut out = Vec::with_capacity(t.len());
                for c in t.chars() {
                    match inverse.get(&c) {
                        Some(b) => out.push(*b),
                        None => {
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                }
                out
            }
            TokenKind::UserDefined => t.as_bytes().to_vec(),
            _ => Vec::new(),
        })
        .collect()
}

fn parse_byte_token(t: &str) -> Option<u8> {
    let hex = t.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

fn spm_token_bytes(tokens: &[String], kinds: &[TokenKind]) -> Vec<Vec<u8>> {
    tokens
        .iter()
        .zip(kinds)
        .map(|(t, k)| match k {
            TokenKind::Normal => t.replace('\u{2581}', " ").into_bytes(),
            TokenKind::Byte => parse_byte_token(t).map(|b| vec![b]).unwrap_or_default(),
            TokenKind::UserDefined => t.as_bytes().to_vec(),
            _ => Vec::new(),
        })
        .collect()
}

/// SentencePiece-style greedy merging by piece score (llama.cpp `llm_tokenizer_spm`).
struct Spm {
    pieces: HashMap<String, u32>,
    scores: Vec<f32>,
    byte_tokens: [Option<u32>; 256],
    unk: Option<u32>,
}

struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

#[derive(PartialEq)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Max-heap: higher score first, then the leftmost pair.
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Spm {
    fn new(tokens: &[String], kinds: &[TokenKind], scores: Vec<f32>, unk: Option<u32>) -> Self {
        let mut byte_tokens = [None; 256];
        let mut pieces = HashMap::with_capacity(tokens.len());
        for (i, (t, k)) in tokens.iter().zip(kinds).enumerate() {
            if *k == TokenKind::Byte {
                if let Some(b) = parse_byte_token(t) {
                    byte_tokens[b as usize] = Some(i as u32);
                }
            }
            pieces.insert(t.clone(), i as u32);
        }
        Self {
            pieces,
            scores,
            byte_tokens,
            unk,
        }
    }

    fn try_bigram(
        &self,
        text: &str,
        symbols: &[Symbol],
        left: usize,
        right: usize,
        heap: &mut std::collections::BinaryHeap<Bigram>,
    ) {
        let start = symbols[left].start;
        let len = symbols[left].len + symbols[right].len;
        if let Some(&id) = self.pieces.get(&text[start..start + len]) {
            heap.push(Bigram {
                score: self.scores[id as usize],
                left,
                right,
                len,
            });
        }
    }

    fn encode(&self, text: &str, out: &mut Vec<u32>) {
        let mut symbols: Vec<Symbol> = Vec::new();
        for (i, (start, c)) in text.char_indices().enumerate() {
            symbols.push(Symbol {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: None,
            });
            if i > 0 {
                symbols[i - 1].next = Some(i);
            }
        }
        let mut heap = std::collections::BinaryHeap::new();
        for i in 1..symbols.len() {
            self.try_bigram(text, &symbols, i - 1, i, &mut heap);
        }
        while let Some(b) = heap.pop() {
            let (l, r) = (b.left, b.right);
            // Skip pairs whose symbols changed since the bigram was queued.
            if symbols[l].len == 0
                || symbols[r].len == 0
                || symbols[l].len + symbols[r].len != b.len
            {
                continue;
            }
            symbols[l].len += symbols[r].len;
            symbols[r].len = 0;
            symbols[l].next = symbols[r].next;
            if let Some(n) = symbols[r].next {
                symbols[n].prev = Some(l);
            }
            if let Some(p) = symbols[l].prev {
                self.try_bigram(text, &symbols, p, l, &mut heap);
            }
            if let Some(n) = symbols[l].next {
                self.try_bigram(text, &symbols, l, n, &mut heap);
            }
        }
        let mut cur = if symbols.is_empty() { None } else { Some(0) };
        while let Some(i) = cur {
            let s = &symbols[i];
            let piece = &text[s.start..s.start + s.len];
            match self.pieces.get(piece) {
                Some(&id) => out.push(id),
                None => {
                    for b in piece.bytes() {
                        if let Some(id) = self.byte_tokens[b as usize].or(self.unk) {
                            out.push(id);
                        }
                    }
                }
            }
            cur = s.next;
        }
    }
}
