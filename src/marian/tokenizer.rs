//! Marian (OPUS-MT) tokenizer in pure Rust, with the exact behaviour of
//! transformers' `MarianTokenizer` (the sentencepiece-backed "slow" tokenizer;
//! Marian has no fast one).
//!
//! A Marian checkpoint ships two sentencepiece models (`source.spm`,
//! `target.spm`) but takes its ids from `vocab.json` (and `target_vocab.json`
//! when `separate_vocabs` is set), not from the sentencepiece models. So this
//! module has two layers:
//!
//! * [`SpmModel`]: a sentencepiece unigram model read from the `.spm`
//!   protobuf (via `sentencepiece-model`): the normalizer (precompiled
//!   charsmap, dummy prefix, whitespace rules, user-defined symbols), the
//!   optimized Viterbi segmentation and the piece-level decoder.
//! * [`MarianTokenizer`]: special-token splitting, `>>lang<<` codes, the
//!   piece → id mapping through the JSON vocabularies, `</s>` on encode and
//!   `MarianTokenizer.decode` on the way back.
//!
//! Why not `tokenizers`' `Precompiled` normalizer and `Unigram` model: both
//! differ from sentencepiece in ways that change ids. `Precompiled` applies the
//! charsmap per grapheme with the *shortest* match while sentencepiece takes
//! the *longest* match over raw bytes (`ｶﾞ` → `ガ`), and `Unigram` accumulates
//! path scores in `f64` while sentencepiece stores and compares them in `f32`,
//! which decides exact score ties (`"-e2gggbach"` gives `… gg g bach` in
//! sentencepiece, `… g gg bach` in f64; about 0.5% of short random strings
//! differ). `tests/marian_tokenizer.rs` pins those cases against reference
//! output from transformers 5.23 + sentencepiece 0.2.3.
use crate::error::{Error, Result};
use sentencepiece_model::{ModelProto, NormalizerSpec, SentencePieceModel, Type as PieceType};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// sentencepiece's whitespace marker (U+2581).
const SPACE_SYMBOL: &str = "\u{2581}";
/// sentencepiece's penalty for an unknown character, relative to the lowest piece score.
const UNK_PENALTY: f32 = 10.0;

// ---------------------------------------------------------------------------
// Precompiled charsmap (a Darts double-array trie + NUL-terminated strings).
// ---------------------------------------------------------------------------

/// The normalization rules of a sentencepiece model: `precompiled_charsmap`,
/// i.e. `[u32 trie size][double-array units][NUL-terminated replacements]`.
#[derive(Debug, Clone)]
struct CharsMap {
    units: Vec<u32>,
    replacements: Vec<u8>,
}

impl CharsMap {
    fn parse(blob: &[u8]) -> std::result::Result<Self, String> {
        if blob.len() <= 4 {
            return Err("precompiled charsmap is too short".into());
        }
        let trie_size = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        let rest = &blob[4..];
        if trie_size >= blob.len() || trie_size > rest.len() || !trie_size.is_multiple_of(4) {
            return Err(format!(
                "precompiled charsmap trie size {trie_size} does not fit the {} byte blob",
                blob.len()
            ));
        }
        let units = rest[..trie_size]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<_>>();
        if units.is_empty() {
            return Err("precompiled charsmap has an empty trie".into());
        }
        Ok(Self {
            units,
            replacements: rest[trie_size..].to_vec(),
        })
    }

    /// Longest rule matching a prefix of `input`: (matched byte length, replacement).
    fn longest_prefix(&self, input: &[u8]) -> Option<(usize, &[u8])> {
        // Darts-clone unit layout.
        let has_leaf = |u: u32| (u >> 8) & 1 == 1;
        let value = |u: u32| u & ((1 << 31) - 1);
        let label = |u: u32| u & ((1 << 31) | 0xFF);
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;

        let mut best: Option<(usize, u32)> = None;
        let mut node = offset(self.units[0]);
        for (i, &byte) in input.iter().enumerate() {
            node ^= byte as usize;
            let Some(&unit) = self.units.get(node) else {
                break;
            };
            if label(unit) != byte as u32 {
                break;
            }
            node ^= offset(unit);
            if has_leaf(unit) {
                let Some(&leaf) = self.units.get(node) else {
                    break;
                };
                best = Some((i + 1, value(leaf)));
            }
        }
        let (len, start) = best?;
        let start = start as usize;
        let tail = self.replacements.get(start..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        Some((len, &tail[..end]))
    }
}

// ---------------------------------------------------------------------------
// A byte trie over pieces (for segmentation and user-defined symbols).
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct TrieNode {
    /// (byte, child node index), sorted by byte.
    children: Vec<(u8, u32)>,
    /// Index of the piece ending here.
    value: Option<u32>,
}

#[derive(Debug, Clone)]
struct PieceTrie {
    nodes: Vec<TrieNode>,
}

impl PieceTrie {
    fn new() -> Self {
        Self {
            nodes: vec![TrieNode::default()],
        }
    }

    fn insert(&mut self, key: &[u8], value: u32) {
        let mut node = 0usize;
        for &b in key {
            node = match self.nodes[node].children.binary_search_by_key(&b, |c| c.0) {
                Ok(i) => self.nodes[node].children[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    self.nodes[node].children.insert(i, (b, next as u32));
                    next
                }
            };
        }
        // Keep the first piece for a duplicated key, like sentencepiece's map.
        self.nodes[node].value.get_or_insert(value);
    }

    #[inline]
    fn child(&self, node: usize, byte: u8) -> Option<usize> {
        let children = &self.nodes[node].children;
        children
            .binary_search_by_key(&byte, |c| c.0)
            .ok()
            .map(|i| children[i].1 as usize)
    }

    /// Byte length of the longest key that is a prefix of `input`.
    fn longest_prefix(&self, input: &[u8]) -> Option<usize> {
        let mut node = 0usize;
        let mut best = None;
        for (i, &b) in input.iter().enumerate() {
            match self.child(node, b) {
                Some(n) => node = n,
                None => break,
            }
            if self.nodes[node].value.is_some() {
                best = Some(i + 1);
            }
        }
        best
    }
}

// ---------------------------------------------------------------------------
// Normalizer.
// ---------------------------------------------------------------------------

/// sentencepiece's `Normalizer`: charsmap rewriting plus whitespace handling.
#[derive(Debug, Clone)]
struct Normalizer {
    charsmap: Option<CharsMap>,
    /// User-defined symbols are copied verbatim (sentencepiece's PrefixMatcher).
    user_defined: Option<PieceTrie>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
    treat_whitespace_as_suffix: bool,
}

impl Normalizer {
    fn new(
        spec: &NormalizerSpec,
        treat_whitespace_as_suffix: bool,
        user_defined: Option<PieceTrie>,
    ) -> std::result::Result<Self, String> {
        let charsmap = match spec.precompiled_charsmap.as_deref() {
            Some(blob) if !blob.is_empty() => Some(CharsMap::parse(blob)?),
            _ => None,
        };
        Ok(Self {
            charsmap,
            user_defined,
            add_dummy_prefix: spec.add_dummy_prefix(),
            remove_extra_whitespaces: spec.remove_extra_whitespaces(),
            escape_whitespaces: spec.escape_whitespaces(),
            treat_whitespace_as_suffix,
        })
    }

    /// Normalizes the first unit of `input`: (replacement, consumed bytes).
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a [u8], usize) {
        let bytes = input.as_bytes();
        if let Some(len) = self
            .user_defined
            .as_ref()
            .and_then(|t| t.longest_prefix(bytes))
        {
            return (&bytes[..len], len);
        }
        if let Some((len, rep)) = self.charsmap.as_ref().and_then(|m| m.longest_prefix(bytes)) {
            return (rep, len);
        }
        let len = input.chars().next().map_or(1, char::len_utf8);
        (&bytes[..len], len)
    }

    /// The normalized form of `input`, with `▁` for spaces when escaping.
    fn normalize(&self, mut input: &str) -> Result<String> {
        let mut out: Vec<u8> = Vec::with_capacity(input.len() * 3);
        if input.is_empty() {
            return Ok(String::new());
        }
        if self.remove_extra_whitespaces {
            loop {
                if input.is_empty() {
                    return Ok(String::new());
                }
                let (rep, len) = self.normalize_prefix(input);
                if rep != b" " {
                    break;
                }
                input = &input[len..];
            }
        }
        let space: &[u8] = if self.escape_whitespaces {
            SPACE_SYMBOL.as_bytes()
        } else {
            b" "
        };
        if !self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            out.extend_from_slice(space);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut rep, len) = self.normalize_prefix(input);
            while is_prev_space && rep.first() == Some(&b' ') {
                rep = &rep[1..];
            }
            if !rep.is_empty() {
                for &b in rep {
                    if self.escape_whitespaces && b == b' ' {
                        out.extend_from_slice(SPACE_SYMBOL.as_bytes());
                    } else {
                        out.push(b);
                    }
                }
                is_prev_space = rep.last() == Some(&b' ');
            }
            input = &input[len..];
            if !self.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        if self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            out.extend_from_slice(space);
        }
        String::from_utf8(out).map_err(|_| {
            Error::Tokenizer("sentencepiece charsmap produced invalid UTF-8 (corrupt model)".into())
        })
    }
}

// ---------------------------------------------------------------------------
// sentencepiece unigram model.
// ---------------------------------------------------------------------------

/// One segment of sentencepiece's output before the vocabulary lookup.
#[derive(Debug, Clone, PartialEq)]
enum SpmPiece {
    /// A byte range of the normalized text (a known piece, or a fused run of
    /// unknown characters whose surface is looked up as is).
    Span(std::ops::Range<usize>),
    /// A byte-fallback piece `<0xNN>`.
    Byte(u8),
}

/// A sentencepiece unigram model (`.spm`), encoding and decoding piece strings.
#[derive(Debug, Clone)]
pub struct SpmModel {
    pieces: Vec<String>,
    scores: Vec<f32>,
    kinds: Vec<PieceType>,
    piece_to_id: HashMap<String, u32>,
    /// Trie over NORMAL, USER_DEFINED and UNUSED pieces (sentencepiece's `pieces_`).
    trie: PieceTrie,
    unk_id: u32,
    min_score: f32,
    max_score: f32,
    byte_fallback: bool,
    unk_surface: String,
    normalizer: Normalizer,
    denormalizer: Option<Normalizer>,
}

impl SpmModel {
    /// Reads a sentencepiece unigram model file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::model_file(path, format!("cannot read: {e}")))?;
        Self::from_bytes(&bytes).map_err(|reason| Error::model_file(path, reason))
    }

    fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let model = SentencePieceModel::from_slice(bytes)
            .map_err(|e| format!("not a sentencepiece model protobuf: {e}"))?;
        let proto: &ModelProto = model.model();
        let trainer = proto
            .trainer_spec
            .as_ref()
            .ok_or("sentencepiece model has no trainer_spec (truncated file?)")?;
        let norm_spec = proto
            .normalizer_spec
            .as_ref()
            .ok_or("sentencepiece model has no normalizer_spec (truncated file?)")?;
        if trainer.model_type() != sentencepiece_model::ModelType::Unigram {
            return Err(format!(
                "only unigram sentencepiece models are supported, found {}",
                trainer.model_type().as_str_name()
            ));
        }
        if proto.pieces.is_empty() {
            return Err("sentencepiece model has no pieces".into());
        }
        let byte_fallback = trainer.byte_fallback();
        let n = proto.pieces.len();
        let mut pieces = Vec::with_capacity(n);
        let mut scores = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut piece_to_id = HashMap::with_capacity(n);
        let mut trie = PieceTrie::new();
        let mut user_defined = PieceTrie::new();
        let mut has_user_defined = false;
        let mut unk_id = None;
        let mut min_score = f32::MAX;
        let mut max_score = f32::MIN_POSITIVE; // sentencepiece starts from FLT_MIN
        for (id, sp) in proto.pieces.iter().enumerate() {
            let piece = sp.piece().to_string();
            if piece.is_empty() {
                return Err(format!("piece {id} is empty"));
            }
            let kind = sp.r#type();
            if kind == PieceType::Unknown && unk_id.replace(id as u32).is_some() {
                return Err("more than one UNKNOWN piece".into());
            }
            match kind {
                PieceType::Normal => {
                    min_score = min_score.min(sp.score());
                    max_score = max_score.max(sp.score());
                }
                PieceType::UserDefined => {
                    user_defined.insert(piece.as_bytes(), id as u32);
                    has_user_defined = true;
                }
                PieceType::Byte if !byte_fallback => {
                    return Err(format!("byte piece {piece:?} but byte_fallback is off"));
                }
                _ => {}
            }
            if matches!(
                kind,
                PieceType::Normal | PieceType::UserDefined | PieceType::Unused
            ) {
                trie.insert(piece.as_bytes(), id as u32);
            }
            if piece_to_id.insert(piece.clone(), id as u32).is_some() {
                return Err(format!("duplicated piece {piece:?}"));
            }
            pieces.push(piece);
            scores.push(sp.score());
            kinds.push(kind);
        }
        let unk_id = unk_id.ok_or("sentencepiece model has no UNKNOWN piece")?;
        let user_defined = has_user_defined.then_some(user_defined);
        let normalizer = Normalizer::new(
            norm_spec,
            trainer.treat_whitespace_as_suffix(),
            user_defined,
        )?;
        let denormalizer = match proto.denormalizer_spec.as_ref() {
            Some(spec)
                if spec
                    .precompiled_charsmap
                    .as_ref()
                    .is_some_and(|m| !m.is_empty()) =>
            {
                Some(Normalizer::new(spec, false, None)?)
            }
            _ => None,
        };
        Ok(Self {
            pieces,
            scores,
            kinds,
            piece_to_id,
            trie,
            unk_id,
            min_score,
            max_score,
            byte_fallback,
            unk_surface: trainer.unk_surface().to_string(),
            normalizer,
            denormalizer,
        })
    }

    /// Number of pieces in the model.
    pub fn piece_size(&self) -> usize {
        self.pieces.len()
    }

    /// The piece with sentencepiece id `id`.
    pub fn id_to_piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// sentencepiece's normalization of `text` (`▁` marks spaces).
    pub fn normalize(&self, text: &str) -> Result<String> {
        self.normalizer.normalize(text)
    }

    /// Pieces of `text` exactly as `SentencePieceProcessor.encode(text, out_type=str)`.
    pub fn encode_pieces(&self, text: &str) -> Result<Vec<String>> {
        let normalized = self.normalize(text)?;
        Ok(self
            .segment(&normalized)
            .into_iter()
            .map(|p| match p {
                SpmPiece::Span(r) => normalized[r].to_string(),
                SpmPiece::Byte(b) => byte_piece(b),
            })
            .collect())
    }

    /// sentencepiece's optimized Viterbi over `normalized`, with its float
    /// arithmetic, unknown-run fusion and byte fallback.
    fn segment(&self, normalized: &str) -> Vec<SpmPiece> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f32,
            starts_at: Option<usize>,
        }
        let bytes = normalized.as_bytes();
        let size = bytes.len();
        if size == 0 {
            return Vec::new();
        }
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: self.unk_id,
                score: 0.0,
                starts_at: None
            };
            size + 1
        ];
        let mut starts_at = 0;
        while starts_at < size {
            let till_here = best[starts_at].score;
            let mblen = utf8_len(bytes[starts_at]).min(size - starts_at);
            let mut has_single_node = false;
            let mut node = 0usize;
            let mut key_pos = starts_at;
            while key_pos < size {
                match self.trie.child(node, bytes[key_pos]) {
                    Some(next) => node = next,
                    None => break,
                }
                key_pos += 1;
                let Some(id) = self.trie.nodes[node].value else {
                    continue;
                };
                let kind = self.kinds[id as usize];
                if kind == PieceType::Unused {
                    continue;
                }
                let length = key_pos - starts_at;
                // User-defined symbols get `length * max_score - 0.1` (a double
                // expression in C++). Path scores are floats and candidates
                // compare as floats, which decides exact ties.
                let candidate = if kind == PieceType::UserDefined {
                    (f64::from(length as f32 * self.max_score) - 0.1 + f64::from(till_here)) as f32
                } else {
                    self.scores[id as usize] + till_here
                };
                let target = &mut best[key_pos];
                if target.starts_at.is_none() || candidate > target.score {
                    *target = Best {
                        id,
                        score: candidate,
                        starts_at: Some(starts_at),
                    };
                }
                if length == mblen {
                    has_single_node = true;
                }
            }
            if !has_single_node {
                let candidate = unk_score + till_here; // float throughout
                let target = &mut best[starts_at + mblen];
                if target.starts_at.is_none() || candidate > target.score {
                    *target = Best {
                        id: self.unk_id,
                        score: candidate,
                        starts_at: Some(starts_at),
                    };
                }
            }
            starts_at += mblen;
        }

        let mut path = Vec::new();
        let mut ends_at = size;
        while ends_at > 0 {
            let node = best[ends_at];
            // Every position reachable by whole characters has a node.
            let start = node.starts_at.unwrap_or(0);
            path.push((start..ends_at, node.id));
            ends_at = start;
        }
        path.reverse();

        let mut out: Vec<SpmPiece> = Vec::with_capacity(path.len());
        let mut prev_unk = false;
        for (range, id) in path {
            let is_unk = id == self.unk_id;
            if is_unk && self.byte_fallback {
                out.extend(bytes[range].iter().map(|&b| SpmPiece::Byte(b)));
            } else if is_unk && prev_unk {
                if let Some(SpmPiece::Span(last)) = out.last_mut() {
                    last.end = range.end;
                }
            } else {
                out.push(SpmPiece::Span(range));
            }
            prev_unk = is_unk;
        }
        out
    }

    fn piece_id(&self, piece: &str) -> u32 {
        self.piece_to_id.get(piece).copied().unwrap_or(self.unk_id)
    }

    /// `SentencePieceProcessor.decode_pieces(pieces)`.
    pub fn decode_pieces<S: AsRef<str>>(&self, pieces: &[S]) -> Result<String> {
        let mut text = String::new();
        let mut pending_bytes: Vec<u8> = Vec::new();
        let mut is_bos_ws = true;
        let mut bos_ws_seen = false;
        let strip_bos =
            self.normalizer.add_dummy_prefix || self.normalizer.remove_extra_whitespaces;
        for piece in pieces {
            let piece = piece.as_ref();
            let id = self.piece_id(piece);
            let kind = self.kinds[id as usize];
            if kind == PieceType::Byte {
                pending_bytes.push(parse_byte_piece(piece).unwrap_or(0));
                continue;
            }
            flush_bytes(&mut pending_bytes, &mut text);
            if bos_ws_seen || !text.is_empty() {
                is_bos_ws = false;
            }
            bos_ws_seen = false;
            match kind {
                PieceType::Control => {}
                PieceType::Unknown => {
                    if self.pieces[id as usize] == piece {
                        text.push_str(&self.unk_surface);
                    } else {
                        text.push_str(piece);
                    }
                }
                _ => {
                    let mut body = piece;
                    if is_bos_ws && strip_bos {
                        if let Some(rest) = body.strip_prefix(SPACE_SYMBOL) {
                            body = rest;
                            bos_ws_seen = !self.normalizer.remove_extra_whitespaces;
                        }
                    }
                    text.push_str(&body.replace(SPACE_SYMBOL, " "));
                }
            }
        }
        flush_bytes(&mut pending_bytes, &mut text);
        match &self.denormalizer {
            Some(d) => d.normalize(&text),
            None => Ok(text),
        }
    }
}

/// Byte length of the UTF-8 sequence starting with `lead` (1 for a stray byte).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// sentencepiece's byte piece `<0xNN>`.
fn byte_piece(b: u8) -> String {
    format!("<0x{b:02X}>")
}

fn parse_byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16).ok()
}

/// Appends decoded byte pieces: one character at a time, U+FFFD per invalid byte.
fn flush_bytes(bytes: &mut Vec<u8>, text: &mut String) {
    let mut i = 0;
    while i < bytes.len() {
        let len = utf8_len(bytes[i]);
        match bytes
            .get(i..i + len)
            .and_then(|s| std::str::from_utf8(s).ok())
        {
            Some(ch) => {
                text.push_str(ch);
                i += len;
            }
            None => {
                text.push('\u{FFFD}');
                i += 1;
            }
        }
    }
    bytes.clear();
}

// ---------------------------------------------------------------------------
// MarianTokenizer.
// ---------------------------------------------------------------------------

/// The special tokens of a Marian tokenizer (strings and ids).
#[derive(Debug, Clone)]
struct Specials {
    eos: (String, u32),
    unk: (String, u32),
    pad: (String, u32),
}

impl Specials {
    fn id_of(&self, token: &str) -> Option<u32> {
        [&self.eos, &self.unk, &self.pad]
            .into_iter()
            .find(|(s, _)| s == token)
            .map(|(_, id)| *id)
    }

    fn token_of(&self, id: u32) -> Option<&str> {
        [&self.eos, &self.unk, &self.pad]
            .into_iter()
            .find(|(_, i)| *i == id)
            .map(|(s, _)| s.as_str())
    }

    fn is_special_token(&self, token: &str) -> bool {
        self.id_of(token).is_some()
    }

    /// Longest special token starting at the beginning of `text`.
    fn match_at(&self, text: &str) -> Option<(usize, u32)> {
        [&self.eos, &self.unk, &self.pad]
            .into_iter()
            .filter(|(s, _)| !s.is_empty() && text.starts_with(s.as_str()))
            .max_by_key(|(s, _)| s.len())
            .map(|(s, id)| (s.len(), *id))
    }
}

/// One piece of input text after splitting out special tokens.
enum Chunk<'a> {
    Special(u32),
    Text(&'a str),
}

/// Which side of the translation a text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Target,
}

/// Marian's tokenizer: two sentencepiece models plus the Marian vocabulary.
///
/// Encoding and decoding reproduce transformers' `MarianTokenizer`
/// (`tokenizer(text)["input_ids"]`, `tokenizer(text_target=text)`,
/// `tokenizer.decode(ids, skip_special_tokens=…)`) id for id.
#[derive(Debug, Clone)]
pub struct MarianTokenizer {
    source_spm: SpmModel,
    target_spm: SpmModel,
    /// `vocab.json`: piece → id (source side, and target side unless separate).
    encoder: HashMap<String, u32>,
    /// `target_vocab.json` when `separate_vocabs`.
    target_encoder: Option<HashMap<String, u32>>,
    /// id → piece for decoding (the target vocabulary when separate).
    decoder: HashMap<u32, String>,
    /// id → piece of the source vocabulary (for [`Self::source_pieces`]).
    source_decoder: HashMap<u32, String>,
    specials: Specials,
    special_ids: HashSet<u32>,
    clean_up_tokenization_spaces: bool,
}

/// The part of `tokenizer_config.json` the tokenizer uses.
#[derive(Debug)]
struct TokenizerConfig {
    separate_vocabs: bool,
    unk_token: String,
    eos_token: String,
    pad_token: String,
    clean_up_tokenization_spaces: bool,
}

impl TokenizerConfig {
    fn read(path: &Path) -> Result<Self> {
        let mut config = TokenizerConfig {
            separate_vocabs: false,
            unk_token: "<unk>".into(),
            eos_token: "</s>".into(),
            pad_token: "<pad>".into(),
            clean_up_tokenization_spaces: false,
        };
        if !path.exists() {
            return Ok(config);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::model_file(path, format!("cannot read: {e}")))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::model_file(path, format!("invalid JSON: {e}")))?;
        let obj = json
            .as_object()
            .ok_or_else(|| Error::model_file(path, "expected a JSON object"))?;
        let flag = |key: &str| -> Result<Option<bool>> {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
                Some(other) => Err(Error::model_file(
                    path,
                    format!("`{key}` must be a boolean, found {other}"),
                )),
            }
        };
        let token = |key: &str| -> Result<Option<String>> {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(serde_json::Value::Object(o)) => match o.get("content") {
                    Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                    _ => Err(Error::model_file(path, format!("`{key}` has no content"))),
                },
                Some(other) => Err(Error::model_file(
                    path,
                    format!("`{key}` must be a string, found {other}"),
                )),
            }
        };
        if let Some(b) = flag("separate_vocabs")? {
            config.separate_vocabs = b;
        }
        if let Some(b) = flag("clean_up_tokenization_spaces")? {
            config.clean_up_tokenization_spaces = b;
        }
        if let Some(t) = token("unk_token")? {
            config.unk_token = t;
        }
        if let Some(t) = token("eos_token")? {
            config.eos_token = t;
        }
        if let Some(t) = token("pad_token")? {
            config.pad_token = t;
        }
        if let Some(kwargs) = obj.get("sp_model_kwargs").and_then(|v| v.as_object()) {
            if kwargs.get("enable_sampling").and_then(|v| v.as_bool()) == Some(true) {
                return Err(Error::model_file(
                    path,
                    "sp_model_kwargs.enable_sampling is not supported (sampling is not deterministic)",
                ));
            }
        }
        Ok(config)
    }
}

fn read_vocab(path: &Path) -> Result<HashMap<String, u32>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::model_file(path, format!("cannot read: {e}")))?;
    let vocab: HashMap<String, u32> = serde_json::from_str(&text).map_err(|e| {
        Error::model_file(path, format!("expected a JSON object of piece → id: {e}"))
    })?;
    if vocab.is_empty() {
        return Err(Error::model_file(path, "vocabulary is empty"));
    }
    Ok(vocab)
}

fn invert(vocab: &HashMap<String, u32>) -> HashMap<u32, String> {
    vocab.iter().map(|(k, &v)| (v, k.clone())).collect()
}

/// Python's `str.strip()` whitespace (Rust's plus the ASCII separators 0x1C–0x1F).
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// transformers' `clean_up_tokenization`.
fn clean_up_tokenization(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

impl MarianTokenizer {
    /// Loads `source.spm`, `target.spm`, `vocab.json` (+ `target_vocab.json`
    /// when `separate_vocabs`) and the optional `tokenizer_config.json` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let config = TokenizerConfig::read(&dir.join("tokenizer_config.json"))?;
        let source_spm = SpmModel::from_file(&dir.join("source.spm"))?;
        let target_spm = SpmModel::from_file(&dir.join("target.spm"))?;
        let vocab_path = dir.join("vocab.json");
        let encoder = read_vocab(&vocab_path)?;
        let target_encoder = if config.separate_vocabs {
            let path = dir.join("target_vocab.json");
            let vocab = read_vocab(&path)?;
            if !vocab.contains_key(&config.unk_token) {
                return Err(Error::model_file(
                    &path,
                    format!("unknown token {:?} is missing", config.unk_token),
                ));
            }
            Some(vocab)
        } else {
            None
        };

        // Special tokens take their ids from vocab.json, as transformers'
        // added-token table does at construction time.
        let special = |token: &str| -> Result<(String, u32)> {
            encoder
                .get(token)
                .map(|&id| (token.to_string(), id))
                .ok_or_else(|| {
                    Error::model_file(&vocab_path, format!("special token {token:?} is missing"))
                })
        };
        let specials = Specials {
            eos: special(&config.eos_token)?,
            unk: special(&config.unk_token)?,
            pad: special(&config.pad_token)?,
        };
        let special_ids = [specials.eos.1, specials.unk.1, specials.pad.1]
            .into_iter()
            .collect();
        let source_decoder = invert(&encoder);
        let decoder = match &target_encoder {
            Some(t) => invert(t),
            None => source_decoder.clone(),
        };
        Ok(Self {
            source_spm,
            target_spm,
            encoder,
            target_encoder,
            decoder,
            source_decoder,
            specials,
            special_ids,
            clean_up_tokenization_spaces: config.clean_up_tokenization_spaces,
        })
    }

    fn spm(&self, side: Side) -> &SpmModel {
        match side {
            Side::Source => &self.source_spm,
            Side::Target => &self.target_spm,
        }
    }

    fn encoder(&self, side: Side) -> &HashMap<String, u32> {
        match (side, &self.target_encoder) {
            (Side::Target, Some(t)) => t,
            _ => &self.encoder,
        }
    }

    /// Splits `text` around special-token strings (transformers' tokens trie).
    fn split_specials<'a>(&self, text: &'a str) -> Vec<Chunk<'a>> {
        let mut chunks = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < text.len() {
            if let Some((len, id)) = self.specials.match_at(&text[i..]) {
                if start < i {
                    chunks.push(Chunk::Text(&text[start..i]));
                }
                chunks.push(Chunk::Special(id));
                i += len;
                start = i;
            } else {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if start < text.len() {
            chunks.push(Chunk::Text(&text[start..]));
        }
        chunks
    }

    /// transformers' `_convert_token_to_id_with_added_voc`: special tokens
    /// first, then the side's vocabulary, then that vocabulary's `<unk>`.
    fn token_id(&self, encoder: &HashMap<String, u32>, token: &str) -> u32 {
        self.specials
            .id_of(token)
            .or_else(|| encoder.get(token).copied())
            .or_else(|| encoder.get(&self.specials.unk.0).copied())
            .unwrap_or(self.specials.unk.1)
    }

    /// Ids of `text` on `side`, without `</s>`.
    fn encode_side(&self, side: Side, text: &str) -> Result<Vec<u32>> {
        let spm = self.spm(side);
        let encoder = self.encoder(side);
        let mut ids = Vec::new();
        for chunk in self.split_specials(text) {
            let mut text = match chunk {
                Chunk::Special(id) => {
                    ids.push(id);
                    continue;
                }
                Chunk::Text(t) => t,
            };
            // A leading language code like `>>ukr<<` is one token.
            if text.starts_with(">>") {
                if let Some(end) = text.find("<<") {
                    ids.push(self.token_id(encoder, &text[..end + 2]));
                    text = &text[end + 2..];
                }
            }
            let normalized = spm.normalize(text)?;
            for piece in spm.segment(&normalized) {
                let id = match piece {
                    SpmPiece::Span(r) => self.token_id(encoder, &normalized[r]),
                    SpmPiece::Byte(b) => self.token_id(encoder, &byte_piece(b)),
                };
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Source-side ids of `text`, ending with `</s>` (`tokenizer(text)["input_ids"]`).
    pub fn encode_source(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_side(Side::Source, text)?;
        ids.push(self.eos_id());
        Ok(ids)
    }

    /// [`Self::encode_source`] over a batch, in order. (Encoding runs at tens
    /// of thousands of sentences per second, so it is not parallelized.)
    pub fn encode_source_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        texts.iter().map(|t| self.encode_source(t)).collect()
    }

    /// Target-side (labels) ids of `text`, ending with `</s>`
    /// (`tokenizer(text_target=text)["input_ids"]`).
    pub fn encode_target(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_side(Side::Target, text)?;
        ids.push(self.eos_id());
        Ok(ids)
    }

    /// The source vocabulary's token for each id of [`Self::encode_source`]
    /// (pieces missing from `vocab.json` show as the unknown token).
    pub fn source_pieces(&self, text: &str) -> Result<Vec<String>> {
        let ids = self.encode_source(text)?;
        Ok(ids
            .into_iter()
            .map(|id| {
                self.specials
                    .token_of(id)
                    .or_else(|| self.source_decoder.get(&id).map(String::as_str))
                    .unwrap_or(&self.specials.unk.0)
                    .to_string()
            })
            .collect())
    }

    /// The token of one id, like `convert_ids_to_tokens`.
    pub fn id_to_token(&self, id: u32) -> Result<String> {
        if let Some(token) = self.specials.token_of(id) {
            return Ok(token.to_string());
        }
        if let Some(token) = self.decoder.get(&id) {
            return Ok(token.clone());
        }
        // transformers falls back to the sentencepiece model's own ids.
        let spm = self.decode_spm();
        match spm.id_to_piece(id) {
            Some(piece) => Ok(piece.to_string()),
            None => Err(Error::Tokenizer(format!(
                "token id {id} is out of range (vocabulary has {} entries)",
                self.vocab_size()
            ))),
        }
    }

    /// Decoding uses the source model unless the vocabularies are separate.
    fn decode_spm(&self) -> &SpmModel {
        if self.target_encoder.is_some() {
            &self.target_spm
        } else {
            &self.source_spm
        }
    }

    /// Text of `ids`, as `MarianTokenizer.decode(ids, skip_special_tokens=…)`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let spm = self.decode_spm();
        let mut out = String::new();
        let mut run: Vec<String> = Vec::new();
        for &id in ids {
            if skip_special_tokens && self.special_ids.contains(&id) {
                continue;
            }
            let token = self.id_to_token(id)?;
            if self.specials.is_special_token(&token) {
                out.push_str(&spm.decode_pieces(&run)?);
                out.push_str(&token);
                out.push(' ');
                run.clear();
            } else {
                run.push(token);
            }
        }
        out.push_str(&spm.decode_pieces(&run)?);
        let out = out.replace(SPACE_SYMBOL, " ");
        let out = out.trim_matches(is_python_space);
        Ok(if self.clean_up_tokenization_spaces {
            clean_up_tokenization(out)
        } else {
            out.to_string()
        })
    }

    /// sentencepiece normalization of a source text, with plain spaces and no
    /// leading space: what a lossless round trip through the source side gives.
    pub fn normalize_source(&self, text: &str) -> Result<String> {
        let n = self.source_spm.normalize(text)?;
        Ok(n.replace(SPACE_SYMBOL, " ").trim_matches(' ').to_string())
    }

    /// Id of `<pad>` (Marian's decoder start token).
    pub fn pad_id(&self) -> u32 {
        self.specials.pad.1
    }

    /// Id of `</s>`.
    pub fn eos_id(&self) -> u32 {
        self.specials.eos.1
    }

    /// Id of `<unk>`.
    pub fn unk_id(&self) -> u32 {
        self.specials.unk.1
    }

    /// Number of entries in `vocab.json` (transformers' `vocab_size`).
    pub fn vocab_size(&self) -> usize {
        self.encoder.len()
    }

    /// Number of source ids of `text`, `</s>` included.
    pub fn count_source_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.encode_side(Side::Source, text)?.len() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_pieces_round_trip() {
        assert_eq!(byte_piece(0x0A), "<0x0A>");
        assert_eq!(parse_byte_piece("<0xE2>"), Some(0xE2));
        assert_eq!(parse_byte_piece("<0xZZ>"), None);
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut text = String::new();
        let mut bytes = vec![0xE2, 0x96, 0x81, 0xFF, b'a', 0xE2];
        flush_bytes(&mut bytes, &mut text);
        assert_eq!(text, "\u{2581}\u{FFFD}a\u{FFFD}");
        assert!(bytes.is_empty());
    }

    #[test]
    fn trie_finds_longest_prefix() {
        let mut t = PieceTrie::new();
        t.insert(b"ab", 0);
        t.insert(b"abcd", 1);
        assert_eq!(t.longest_prefix(b"abcx"), Some(2));
        assert_eq!(t.longest_prefix(b"abcde"), Some(4));
        assert_eq!(t.longest_prefix(b"x"), None);
    }

    #[test]
    fn python_strip_includes_information_separators() {
        assert_eq!(" \u{1f}a\u{3000}".trim_matches(is_python_space), "a");
    }

    #[test]
    fn cleanup_matches_transformers() {
        assert_eq!(clean_up_tokenization("a , b . c ?"), "a, b. c?");
    }
}
