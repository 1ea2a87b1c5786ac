//! Greedy and beam-search decoding with the semantics of HF transformers' `generate`.
//!
//! Logits are processed on the host in f32 with transformers' processors:
//! no-repeat-ngram, bad words, min length, min new tokens (as tokens banned
//! per hypothesis) and forced EOS. A step never holds the vocabulary-wide
//! logits: the output projection hands each row's max, log-sum-exp and best
//! tokens after the bans ([`super::logits`]), which is all that greedy
//! (`argmax`) and beam search (`log_softmax` + top `2 * num_beams`) read.
//! Beam search mirrors transformers' vectorized `_beam_search`: `2 * num_beams`
//! candidates per sentence, candidates that hit a stopping criterion are
//! length-normalized into the finished set (only if ranked in the top
//! `num_beams`), scores use the same f32 arithmetic including the `-1e9`
//! sentinels, and the `early_stopping` heuristic is the same.
use std::collections::HashMap;

use candle_core::Tensor;

use super::logits::top_k;
use super::model::{CrossCache, Marian};
use crate::{Error, Result};

/// When beam search may stop for a sentence (`early_stopping` in generation_config.json).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum EarlyStopping {
    /// `false`: stop when the best running beam, normalized at the current
    /// length, can no longer beat the worst finished hypothesis.
    #[default]
    Heuristic,
    /// `true`: stop as soon as `num_beams` hypotheses are finished.
    Always,
    /// `"never"`: like `Heuristic` but assumes the best case length
    /// (`max_length` when `length_penalty > 0`).
    Never,
}

/// Decoding settings (what `generate` takes besides the inputs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DecodeOptions {
    /// 1 = greedy search.
    pub num_beams: usize,
    /// Target tokens generated at most (the decoder start token excluded).
    pub max_new_tokens: usize,
    /// Exponent of the length normalization of finished beam scores.
    pub length_penalty: f64,
    pub early_stopping: EarlyStopping,
    /// 0 = off. Counts the decoder start token like transformers.
    pub no_repeat_ngram_size: usize,
    /// EOS is forbidden before this many new tokens.
    pub min_new_tokens: usize,
    /// Benchmarks: forbid EOS (and skip forced EOS) so every sentence decodes
    /// exactly `max_new_tokens` steps. Never part of a run's recorded settings.
    #[serde(skip)]
    pub suppress_eos: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            num_beams: 1,
            max_new_tokens: 511,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::Heuristic,
            no_repeat_ngram_size: 0,
            min_new_tokens: 0,
            suppress_eos: false,
        }
    }
}

impl DecodeOptions {
    /// Greedy search for at most `max_new_tokens` tokens.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            ..Self::default()
        }
    }

    /// Beam search with `num_beams` beams, other settings at transformers' defaults.
    pub fn beam(num_beams: usize, max_new_tokens: usize) -> Self {
        Self {
            num_beams,
            max_new_tokens,
            ..Self::default()
        }
    }
}

/// Token-level rules of a model: special ids and banned tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRules {
    pub eos_token_id: u32,
    pub pad_token_id: u32,
    pub decoder_start_token_id: u32,
    /// Forced at the last position `max_length` allows.
    pub forced_eos_token_id: Option<u32>,
    /// Token sequences that may not be generated (`[[pad]]` in Marian configs);
    /// sequences equal to `[eos]` are ignored like transformers does.
    pub bad_words_ids: Vec<Vec<u32>>,
}

/// transformers' sentinel for impossible beams.
const SENTINEL: f32 = -1.0e9;

/// The logits processors of one `generate` call.
struct Processors<'a> {
    rules: &'a TokenRules,
    opts: &'a DecodeOptions,
    /// `max_length` in transformers' sense: decoder start + max_new_tokens.
    max_length: usize,
    /// Single-token bad words (static mask).
    banned_static: Vec<u32>,
    /// Multi-token bad words.
    banned_seqs: Vec<&'a [u32]>,
}

impl<'a> Processors<'a> {
    fn new(rules: &'a TokenRules, opts: &'a DecodeOptions) -> Self {
        let mut banned_static = Vec::new();
        let mut banned_seqs = Vec::new();
        for w in &rules.bad_words_ids {
            match w.as_slice() {
                [] => {}
                [t] if *t == rules.eos_token_id => {}
                [t] => banned_static.push(*t),
                seq => banned_seqs.push(seq),
            }
        }
        if opts.suppress_eos {
            banned_static.push(rules.eos_token_id);
        }
        Self {
            rules,
            opts,
            max_length: opts.max_new_tokens + 1,
            banned_static,
            banned_seqs,
        }
    }

    /// The tokens the processors set to `-inf` for a hypothesis whose
    /// decoder input is `seq` (decoder start included), sorted: repeated
    /// n-grams, bad words, EOS before the minimum length. A forced EOS is
    /// [`Processors::forces_eos`]'s.
    fn banned(&self, seq: &[u32]) -> Vec<u32> {
        let mut out = self.banned_static.clone();
        let cur_len = seq.len();
        let n = self.opts.no_repeat_ngram_size;
        if n > 0 && cur_len + 1 >= n {
            let prefix = &seq[cur_len + 1 - n..];
            for w in seq.windows(n) {
                if &w[..n - 1] == prefix {
                    out.push(w[n - 1]);
                }
            }
        }
        for bw in &self.banned_seqs {
            let (last, head) = bw.split_last().expect("non-empty bad word");
            if seq.ends_with(head) {
                out.push(*last);
            }
        }
        if cur_len - 1 < self.opts.min_new_tokens {
            out.push(self.rules.eos_token_id);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether the next token of `seq` is forced to be `forced_eos_token_id`
    /// (the last position `max_length` allows).
    fn forces_eos(&self, seq: &[u32]) -> bool {
        self.rules.forced_eos_token_id.is_some()
            && !self.opts.suppress_eos
            && seq.len() == self.max_length - 1
    }

    fn forced_token(&self) -> usize {
        self.rules.forced_eos_token_id.unwrap_or(0) as usize
    }
}

fn ids_tensor(ids: &[u32], rows: usize, dev: &candle_core::Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(ids, (rows, 1), dev)?)
}

/// Strips the decoder start token and everything from the first EOS on.
fn finish(seq: &[u32], eos: u32) -> Vec<u32> {
    let body = seq.get(1..).unwrap_or(&[]);
    let end = body.iter().position(|&t| t == eos).unwrap_or(body.len());
    body[..end].to_vec()
}

/// What one decoding call ran: a sentence leaves the decoder batch as soon as
/// its output is final, so later steps run fewer rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DecodeStats {
    /// Decoder forward passes.
    pub steps: usize,
    /// Decoder rows summed over the steps (greedy: one row per sentence still
    /// decoding; beam search: `num_beams` rows per sentence still open).
    pub row_steps: usize,
}

impl DecodeStats {
    fn step(&mut self, rows: usize) {
        self.steps += 1;
        self.row_steps += rows;
    }
}

/// Greedy search for a batch sharing `cross`. Returns ids without start/EOS.
///
/// A sentence that has produced EOS leaves the batch: its rows are dropped
/// from the self-attention cache and the cross-attention states, so each
/// step decodes only the sentences still running. Every row's arithmetic is
/// its own (row-wise projections, per-row attention), so the ids are the
/// same as with the finished rows kept (transformers pads them instead).
pub(crate) fn greedy(
    net: &Marian,
    mut cross: CrossCache,
    batch: usize,
    rules: &TokenRules,
    opts: &DecodeOptions,
) -> Result<(Vec<Vec<u32>>, DecodeStats)> {
    let procs = Processors::new(rules, opts);
    let mut cache = net.self_cache(batch, opts.max_new_tokens + 1)?;
    let mut seqs: Vec<Vec<u32>> = vec![vec![rules.decoder_start_token_id]; batch];
    // Decoder row `r` is sentence `live[r]`.
    let mut live: Vec<usize> = (0..batch).collect();
    let mut stats = DecodeStats::default();
    let dev = net.device();
    let mut cur_len = 1;
    while cur_len < procs.max_length && !live.is_empty() {
        let n = live.len();
        let last: Vec<u32> = live
            .iter()
            .map(|&i| *seqs[i].last().expect("non-empty"))
            .collect();
        let banned: Vec<Vec<u32>> = live.iter().map(|&i| procs.banned(&seqs[i])).collect();
        let tops =
            net.decode_last_top(&ids_tensor(&last, n, dev)?, &cross, &mut cache, 1, &banned)?;
        stats.step(n);
        // The first maximum after the processors (torch.argmax's choice).
        let next: Vec<u32> = tops
            .iter()
            .zip(&live)
            .map(|(t, &i)| {
                if procs.forces_eos(&seqs[i]) {
                    procs.forced_token() as u32
                } else {
                    t.best[0].1 as u32
                }
            })
            .collect();
        let mut keep = Vec::with_capacity(n);
        for (r, (&i, &t)) in live.iter().zip(&next).enumerate() {
            seqs[i].push(t);
            if t != rules.eos_token_id {
                keep.push(r);
            }
        }
        cur_len += 1;
        if keep.len() < n {
            live = keep.iter().map(|&r| live[r]).collect();
            if !live.is_empty() && cur_len < procs.max_length {
                cache.retain(&keep);
                cross = cross.retain(&keep)?;
            }
        }
    }
    Ok((
        seqs.iter().map(|s| finish(s, rules.eos_token_id)).collect(),
        stats,
    ))
}

/// One sentence's finished hypotheses (transformers' `sequences` / `beam_scores`).
struct Finished {
    seqs: Vec<Vec<u32>>,
    scores: Vec<f32>,
    done: Vec<bool>,
}

/// Beam search for a batch sharing `cross`. Returns the best hypothesis per
/// sentence, ids without start/EOS.
///
/// A sentence whose finished hypotheses can no longer change leaves the
/// batch (its `num_beams` rows are dropped from the caches): once its
/// early-stop heuristic is satisfied, or under `early_stopping=True` once
/// `num_beams` hypotheses are finished, transformers keeps decoding its beams
/// but every candidate it could add to the finished set carries the `-1e9`
/// sentinel and loses to the hypotheses already there. The loop's stopping
/// test is unchanged while any sentence is open: an open sentence is one
/// whose heuristic is unsatisfied (so "improvement possible" holds), and
/// before `max_length` each of its steps has a candidate that is not EOS
/// (at most one EOS candidate per beam among `2 * num_beams`).
pub(crate) fn beam_search(
    net: &Marian,
    mut cross: CrossCache,
    batch: usize,
    rules: &TokenRules,
    opts: &DecodeOptions,
) -> Result<(Vec<Vec<u32>>, DecodeStats)> {
    let nb = opts.num_beams;
    if nb == 0 {
        return Err(Error::Generation("num_beams must be at least 1".into()));
    }
    let procs = Processors::new(rules, opts);
    let max_length = procs.max_length;
    let lp = opts.length_penalty;
    let keep = 2 * nb; // max(2, 1 + number of EOS ids) * num_beams with one EOS id
    let dev = net.device();
    let mut cache = net.self_cache(batch * nb, opts.max_new_tokens + 1)?;
    // Open sentences: position `p` of the decoder batch (rows `p * nb ..
    // (p + 1) * nb`) is sentence `live[p]`.
    let mut live: Vec<usize> = (0..batch).collect();
    let mut running: Vec<Vec<u32>> = vec![vec![rules.decoder_start_token_id]; batch * nb];
    let mut running_scores: Vec<f32> = (0..batch * nb)
        .map(|r| if r % nb == 0 { 0.0 } else { SENTINEL })
        .collect();
    let mut fin: Vec<Finished> = (0..batch)
        .map(|_| Finished {
            seqs: vec![Vec::new(); nb],
            scores: vec![SENTINEL; nb],
            done: vec![false; nb],
        })
        .collect();
    let mut unsatisfied = vec![true; batch];
    let mut stats = DecodeStats::default();
    let mut cur_len = 1usize;
    let vocab = net.config().target_vocab_size();
    loop {
        let rows = live.len() * nb;
        let last: Vec<u32> = running
            .iter()
            .map(|s| *s.last().expect("non-empty"))
            .collect();
        let banned: Vec<Vec<u32>> = running.iter().map(|s| procs.banned(s)).collect();
        let tops = net.decode_last_top(
            &ids_tensor(&last, rows, dev)?,
            &cross,
            &mut cache,
            keep,
            &banned,
        )?;
        stats.step(rows);
        // Per row: the best `keep` tokens after the processors, scored
        // `log_softmax + beam score`. Log-softmax is monotonic, so the row's
        // best tokens are its best logits; the exact f32 score
        // `((x - max) - log_sum) + s` is computed only for those.
        let row_best: Vec<Vec<(f32, usize)>> = tops
            .iter()
            .enumerate()
            .map(|(r, t)| {
                let s = running_scores[r];
                if procs.forces_eos(&running[r]) {
                    // Every log-prob is -inf except the forced token's, which is 0.
                    return vec![(0.0 + s, procs.forced_token())];
                }
                t.best
                    .iter()
                    .map(|&(x, tok)| (((x - t.max) - t.log_sum) + s, tok))
                    .collect()
            })
            .collect();
        let mut any_not_hit = false;
        let mut new_running = Vec::with_capacity(rows);
        let mut new_scores = Vec::with_capacity(rows);
        let mut reorder = Vec::with_capacity(rows);
        for (p, &b) in live.iter().enumerate() {
            let f = &mut fin[b];
            // Candidates over the flattened (beam, token) space of this sentence.
            let cands = top_k(
                (0..nb).flat_map(|j| {
                    row_best[p * nb + j]
                        .iter()
                        .map(move |&(x, t)| (x, j * vocab + t))
                }),
                keep,
            );
            let hits: Vec<bool> = cands
                .iter()
                .map(|&(_, idx)| {
                    idx % vocab == rules.eos_token_id as usize || cur_len + 1 >= max_length
                })
                .collect();
            any_not_hit |= hits.iter().any(|h| !h);
            let seq_of = |idx: usize| {
                let mut s = running[p * nb + idx / vocab].clone();
                s.push((idx % vocab) as u32);
                s
            };
            // Running beams for the next step: the best `nb` that did not stop.
            let penalized: Vec<(f32, usize)> = cands
                .iter()
                .zip(&hits)
                .enumerate()
                .map(|(i, (&(x, _), &h))| (if h { x + SENTINEL } else { x }, i))
                .collect();
            for &(score, i) in &top_k(penalized.iter().copied(), nb) {
                let idx = cands[i].1;
                new_running.push(seq_of(idx));
                new_scores.push(score);
                reorder.push((p * nb + idx / vocab) as u32);
            }
            // Finished set: merge in candidates of the top `nb` that stopped.
            let full = f.done.iter().all(|&d| d) && opts.early_stopping == EarlyStopping::Always;
            let norm = ((cur_len + 1 - 1) as f64).powf(lp) as f32;
            let mut merged: Vec<(f32, usize)> =
                f.scores.iter().enumerate().map(|(i, &s)| (s, i)).collect();
            for (i, (&(x, _), &h)) in cands.iter().zip(&hits).enumerate() {
                let mut s = x / norm;
                if full {
                    s += SENTINEL;
                }
                if !unsatisfied[b] {
                    s += SENTINEL;
                }
                if !(h && i < nb) {
                    s += SENTINEL;
                }
                merged.push((s, nb + i));
            }
            let best = top_k(merged.iter().copied(), nb);
            let mut seqs = Vec::with_capacity(nb);
            let mut done = Vec::with_capacity(nb);
            for &(_, m) in &best {
                if m < nb {
                    seqs.push(std::mem::take(&mut f.seqs[m]));
                    done.push(f.done[m]);
                } else {
                    let i = m - nb;
                    seqs.push(seq_of(cands[i].1));
                    done.push(hits[i] && i < nb);
                }
            }
            f.scores = best.iter().map(|&(s, _)| s).collect();
            f.seqs = seqs;
            f.done = done;
        }
        running = new_running;
        running_scores = new_scores;
        cache.reorder(&reorder);
        cur_len += 1;
        // Early-stop heuristic, per sentence (sticky once satisfied).
        for (p, &b) in live.iter().enumerate() {
            let f = &fin[b];
            let best_len = if opts.early_stopping == EarlyStopping::Never && lp > 0.0 {
                max_length - 1
            } else {
                cur_len - 1
            };
            let best_running = running_scores[p * nb] / (best_len as f64).powf(lp) as f32;
            let worst = f.scores.iter().copied().fold(f32::INFINITY, f32::min);
            let improvable = f
                .done
                .iter()
                .any(|&d| best_running > if d { worst } else { SENTINEL });
            unsatisfied[b] &= improvable;
        }
        let improvement_possible = unsatisfied.iter().any(|&u| u);
        let all_full = fin.iter().all(|f| f.done.iter().all(|&d| d));
        let open = !(all_full && opts.early_stopping == EarlyStopping::Always);
        if !(improvement_possible && open && any_not_hit) {
            break;
        }
        // Sentences whose finished set is now final leave the batch.
        let still_open: Vec<usize> = (0..live.len())
            .filter(|&p| {
                let b = live[p];
                let full =
                    fin[b].done.iter().all(|&d| d) && opts.early_stopping == EarlyStopping::Always;
                unsatisfied[b] && !full
            })
            .collect();
        if still_open.len() < live.len() {
            if still_open.is_empty() {
                break;
            }
            let keep_rows: Vec<usize> = still_open
                .iter()
                .flat_map(|&p| p * nb..(p + 1) * nb)
                .collect();
            running = keep_rows
                .iter()
                .map(|&r| std::mem::take(&mut running[r]))
                .collect();
            running_scores = keep_rows.iter().map(|&r| running_scores[r]).collect();
            cache.retain(&keep_rows);
            cross = cross.retain(&still_open)?;
            live = still_open.iter().map(|&p| live[p]).collect();
        }
    }
    Ok((
        fin.iter()
            .map(|f| finish(&f.seqs[0], rules.eos_token_id))
            .collect(),
        stats,
    ))
}

/// Parsed generation defaults of a model directory.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct GenerationConfig {
    pub num_beams: Option<usize>,
    pub max_length: Option<usize>,
    pub max_new_tokens: Option<usize>,
    pub min_length: Option<usize>,
    pub min_new_tokens: Option<usize>,
    pub length_penalty: Option<f64>,
    pub early_stopping: Option<serde_json::Value>,
    pub no_repeat_ngram_size: Option<usize>,
    pub bad_words_ids: Option<Vec<Vec<u32>>>,
    pub eos_token_id: Option<serde_json::Value>,
    pub pad_token_id: Option<u32>,
    pub decoder_start_token_id: Option<u32>,
    pub forced_eos_token_id: Option<serde_json::Value>,
    #[serde(flatten)]
    pub _rest: HashMap<String, serde_json::Value>,
}

impl GenerationConfig {
    pub fn early_stopping(&self) -> std::result::Result<EarlyStopping, String> {
        match &self.early_stopping {
            None | Some(serde_json::Value::Bool(false)) | Some(serde_json::Value::Null) => {
                Ok(EarlyStopping::Heuristic)
            }
            Some(serde_json::Value::Bool(true)) => Ok(EarlyStopping::Always),
            Some(serde_json::Value::String(s)) if s == "never" => Ok(EarlyStopping::Never),
            Some(v) => Err(format!(
                "early_stopping must be true, false or \"never\", got {v}"
            )),
        }
    }
}

/// A token id field that transformers allows as an int or a list of ints.
pub(crate) fn first_id(v: &Option<serde_json::Value>) -> std::result::Result<Option<u32>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(|x| Some(x as u32))
            .ok_or_else(|| format!("bad token id {n}")),
        Some(serde_json::Value::Array(a)) if a.len() == 1 => first_id(&Some(a[0].clone())),
        Some(other) => Err(format!("unsupported token id value {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_repeat_ngram_bans_seen_continuations() {
        let rules = TokenRules {
            eos_token_id: 0,
            pad_token_id: 9,
            decoder_start_token_id: 9,
            forced_eos_token_id: None,
            bad_words_ids: vec![vec![9]],
        };
        let opts = DecodeOptions {
            no_repeat_ngram_size: 2,
            ..DecodeOptions::greedy(10)
        };
        let p = Processors::new(&rules, &opts);
        // Bigram (3,4) already seen; pad is a bad word; EOS (0) is allowed.
        assert_eq!(p.banned(&[9, 3, 4, 3]), vec![4, 9]);
        assert_eq!(p.banned(&[9, 3, 4]), vec![9]);
    }

    #[test]
    fn forced_eos_at_last_position() {
        let rules = TokenRules {
            eos_token_id: 0,
            pad_token_id: 9,
            decoder_start_token_id: 9,
            forced_eos_token_id: Some(0),
            bad_words_ids: vec![],
        };
        let opts = DecodeOptions::greedy(3);
        let p = Processors::new(&rules, &opts);
        assert!(p.forces_eos(&[9, 1, 2]));
        assert!(!p.forces_eos(&[9, 1]));
        assert_eq!(p.forced_token(), 0);
    }
}
