//! Continuous batching: many generations on one model at once.
//!
//! A [`Batcher`] keeps up to [`BatchOptions::max_batch`] sequences in flight.
//! Each step it admits waiting requests into free slots (while their KV
//! caches fit [`BatchOptions::kv_budget_bytes`]), samples one token for
//! every sequence past its prompt, and runs one forward pass for all of
//! those that go on: one pass over the weights for every sequence instead
//! of one each. A sequence that ends leaves the batch at once and its slot
//! goes to the next waiting request, so the batch stays full while there
//! is work.
//!
//! Prompts in pieces: where every kernel computes a row the same way next
//! to any number of other rows (`Transformer::rows_independent`: this
//! crate's kernels on the CPU), a newly admitted prompt does not run by
//! itself while every other sequence waits. It rides in the decode passes,
//! [`PROMPT_PIECE`] rows a pass beside decoding sequences (up to
//! `PREFILL_ROWS` when none decodes), earliest prompt first, and the pass
//! computes logits only for the rows that need them (a decoding token, its
//! drafts, a prompt's last row). The decoding sequences go on meanwhile,
//! and their rows share the pass's read of the weights with the prompt's.
//! Elsewhere (Candle's kernels switch to AMX from 32 rows; CUDA) each
//! prompt runs whole when its request is admitted, and decode passes stay
//! under 32 rows ([`MAX_BATCH`]).
//!
//! Batch invariance: a sequence's tokens do not depend on the batch it runs
//! in. Every row, of a prompt or of a decoding step, is computed by itself
//! (its matmul row with the same kernel whatever the other rows are, its
//! attention over the keys it sees; see `Transformer::decode`), so with
//! greedy decoding a request gives the same tokens alone (as
//! [`ChatModel::generate_ids`] runs it), in a batch of 16, in pieces beside
//! other sequences, or next to requests admitted and retired around it.
//! Sampling state (seed, repeat penalty, constraint) is per request.
//!
//! Shared prefixes: a request may say how many of its leading prompt
//! tokens other requests share ([`BatchRequest::prefix`]: the system prompt
//! and instruction of a translation chunk, say). Their KV cache is computed
//! once, kept (at most [`MAX_PREFIXES`], inside the KV budget, giving way to
//! sequences) and copied to each request that starts with the same tokens,
//! which then computes only the rest of its prompt. A request whose prefix a
//! prompt in progress is about to keep waits for it rather than compute it
//! again. Since every prompt row is computed by itself, a prompt gives the
//! same bits in one pass or as a prefix and the rest, whether the prefix
//! was kept or not.
//!
//! Draft tokens (prompt lookup): where a step leaves rows free (fewer
//! sequences in flight than [`BatchOptions::max_batch`]), a sequence whose
//! last tokens occurred before in its prompt or output proposes the tokens
//! that followed them there ([`lookup_draft`]: names, numbers and phrases a
//! summary or translation copies), and the step computes them as extra rows
//! after its token. Each row's logits are those of a one-token step at its
//! position, so the sequence samples from them in order, exactly as it
//! would one step at a time, and keeps the drafts while they equal what it
//! sampled: several tokens for one pass over the weights, and the same
//! tokens, bit for bit, with any sampler. The cache is cut back to the
//! tokens kept.
//!
//! Memory: each admitted request reserves the KV cache of its whole prompt
//! plus `max_new_tokens` against the budget before it runs, so the budget is
//! never exceeded; a request that could not fit even alone gets an error of
//! its own while the others go on.
use super::model::Weights;
use super::sampling::Sampler;
use super::stream::Utf8Stream;
use super::transformer::{KvCache, PREFILL_ROWS};
use super::{ChatModel, Generation, StopReason, TokenConstraint};
use crate::llm::GenerationParams;
use crate::{Error, Result};
use candle_core::Tensor;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Instant;

/// One generation to run in a batch.
pub struct BatchRequest<'c> {
    /// The prompt's token ids (e.g. from [`ChatModel::chat_prompt`]).
    pub prompt: Vec<u32>,
    pub params: GenerationParams,
    /// Restricts which tokens may be generated (e.g. a JSON schema).
    pub constraint: Option<Box<dyn TokenConstraint + 'c>>,
    /// Leading prompt tokens that other requests share (a system prompt and
    /// an instruction; 0: none). Their KV cache is computed once and
    /// copied to the next request that starts with the same tokens; the
    /// results are the same bits either way (see [`Batcher`]).
    pub prefix: usize,
}

impl BatchRequest<'_> {
    pub fn new(prompt: Vec<u32>, params: GenerationParams) -> Self {
        Self {
            prompt,
            params,
            constraint: None,
            prefix: 0,
        }
    }
}

/// Tokens `a` and `b` have in common from the start.
fn common_len(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Shared prompt prefixes kept at most (the most recently used stay).
pub const MAX_PREFIXES: usize = 8;

/// `UKDIGEST_NO_SHARED_PREFIXES=1` in the environment runs every prompt
/// whole (for side-by-side benchmarks, and to check that outputs do not
/// change).
fn shared_prefixes_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("UKDIGEST_NO_SHARED_PREFIXES").is_some_and(|v| v == "1"))
}

/// `UKDIGEST_WHOLE_PROMPTS=1` in the environment runs every prompt whole
/// when its request is admitted, as where the kernels are not
/// row-independent (for side-by-side benchmarks; outputs do not change).
fn prompt_pieces_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("UKDIGEST_WHOLE_PROMPTS").is_some_and(|v| v == "1"))
}

/// Prompt rows a decode pass takes beside sequences that decode: a piece of
/// 64 rows costs three to four decode steps' time, so the decoding
/// sequences go on at a third of their pace or so instead of waiting for
/// the whole prompt. With nothing decoding, a pass takes up to
/// `PREFILL_ROWS`. (On the seeds: 64 rows 2:22.6, 128 rows 2:24.9, whole
/// prompts 2:28.1, in one session; BENCHMARKS.md.)
pub const PROMPT_PIECE: usize = 64;

/// How many sequences run at once, and the memory their caches may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BatchOptions {
    /// Sequences in flight at most (1 to [`MAX_BATCH`]).
    pub max_batch: usize,
    /// Bytes the KV caches of the sequences in flight may take together.
    pub kv_budget_bytes: usize,
    /// Draft tokens a sequence may have verified in one step (0: none).
    /// A step computes at most `max(max_batch, draft_tokens + 1)` rows
    /// (and at most [`MAX_BATCH`]); drafts take the rows the sequences in
    /// flight leave free.
    pub draft_tokens: usize,
}

/// The largest batch: Candle's x86 kernels for `Q4_K` switch to AMX tiles
/// from 32 rows, which would break batch invariance on machines with AMX.
pub const MAX_BATCH: usize = 31;

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_batch: 8,
            kv_budget_bytes: 1 << 30,
            draft_tokens: DRAFT_TOKENS,
        }
    }
}

/// Draft tokens per sequence and step by default (`runtime.draft_tokens`).
pub const DRAFT_TOKENS: usize = 4;

/// The n-gram lengths [`lookup_draft`] matches, longest first. Not one
/// token: on the seeds, drafts after one-token matches were two thirds of
/// the rows computed for drafts and few were kept (all: 577 of 1,713 kept;
/// from two tokens on: 554 of 1,132), and a draft row costs a decode row.
const DRAFT_NGRAMS: std::ops::RangeInclusive<usize> = 2..=3;

/// Up to `k` tokens to propose after `history`: those that followed the
/// latest earlier occurrence of its last three tokens (else two),
/// as far as `history` goes; none without such an occurrence.
pub(crate) fn lookup_draft(history: &[u32], k: usize) -> &[u32] {
    let len = history.len();
    if k == 0 {
        return &[];
    }
    for n in DRAFT_NGRAMS.rev() {
        if len <= n {
            continue;
        }
        let tail = &history[len - n..];
        if let Some(i) = (0..len - n).rev().find(|&i| &history[i..i + n] == tail) {
            let from = i + n;
            return &history[from..(from + k).min(len)];
        }
    }
    &[]
}

/// What a batched run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BatchStats {
    pub requests: usize,
    /// Decode forward passes, and the sequences they computed together.
    pub decode_steps: usize,
    pub decode_rows: usize,
    pub max_in_flight: usize,
    /// The most KV cache bytes reserved at once.
    pub peak_kv_bytes: usize,
    /// Seconds of prompts and of decoding; a pass that computes both
    /// counts its time to each by rows.
    pub prefill_secs: f64,
    /// Prompt tokens computed (shared prefixes reused not counted).
    pub prompt_tokens: usize,
    pub decode_secs: f64,
    /// Requests whose shared prefix came from the prefix cache, whole or its
    /// opening, and the prompt tokens they did not compute again.
    pub prefix_hits: usize,
    pub prefix_tokens_reused: usize,
    /// Draft tokens computed, and those kept (equal to the token sampled).
    pub draft_rows: usize,
    pub drafts_accepted: usize,
    /// Decode passes that computed pieces of prompts too.
    pub mixed_passes: usize,
}

impl BatchStats {
    /// Mean sequences per decode pass.
    pub fn mean_batch(&self) -> f64 {
        self.decode_rows as f64 / self.decode_steps.max(1) as f64
    }
}

impl std::fmt::Display for BatchStats {
    /// One line for a run's log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests; prompts {} tokens, {:.1} s ({} shared prefixes reused, {} tokens); \
             {} decode passes ({} with prompt pieces), {:.1} s, {:.1} sequences per pass; \
             draft tokens {} of {} kept; KV cache peak {}",
            self.requests,
            self.prompt_tokens,
            self.prefill_secs,
            self.prefix_hits,
            self.prefix_tokens_reused,
            self.decode_steps,
            self.mixed_passes,
            self.decode_secs,
            self.mean_batch(),
            self.drafts_accepted,
            self.draft_rows,
            mib(self.peak_kv_bytes),
        )
    }
}

/// A sequence in flight.
struct Running<'c> {
    id: usize,
    cache: KvCache,
    kv_bytes: usize,
    sampler: Sampler,
    params: GenerationParams,
    constraint: Option<Box<dyn TokenConstraint + 'c>>,
    history: Vec<u32>,
    prompt_len: usize,
    text: String,
    utf8: Utf8Stream,
    generated: usize,
    /// Logits of the rows of the last forward pass: the next position's,
    /// then those after each of `drafts`.
    pending: Vec<Vec<f32>>,
    /// Draft tokens the last forward pass computed after the sequence's token.
    drafts: Vec<u32>,
    /// The declared shared prefix to keep once the prompt has been computed
    /// that far (0: none to keep).
    keep: usize,
    admitted: Instant,
    prompt_secs: f64,
    decode_start: Instant,
}

impl Running<'_> {
    /// Part of the prompt is still to be computed (in pieces riding in the
    /// decode passes: [`Batcher::step`]).
    fn in_prompt(&self) -> bool {
        self.cache.filled() < self.prompt_len
    }

    /// The shared prefix this sequence's prompt has now reached, its tokens
    /// and a copy of its cache, for [`Batcher::keep_prefix`] (once).
    fn take_keep(&mut self) -> Result<(Vec<u32>, KvCache)> {
        let n = std::mem::take(&mut self.keep);
        Ok((self.history[..n].to_vec(), self.cache.prefix_copy(n)?))
    }
}

/// Runs requests on one model with continuous batching; see the module
/// docs. Results come back from [`Batcher::step`] as each request ends.
pub struct Batcher<'m, 'c> {
    model: &'m mut ChatModel,
    options: BatchOptions,
    waiting: VecDeque<(usize, BatchRequest<'c>)>,
    running: Vec<Running<'c>>,
    next_id: usize,
    kv_in_use: usize,
    /// Shared prompt prefixes and their caches, least recently used first,
    /// and the bytes they hold (within the KV budget).
    prefixes: Vec<(Vec<u32>, KvCache)>,
    prefix_bytes: usize,
    /// Prompts ride in the decode passes, a piece at a time
    /// (`Transformer::rows_independent`); else each runs whole when its
    /// request is admitted.
    pieces: bool,
    stats: BatchStats,
}

impl ChatModel {
    /// A batcher over this model. Models run by candle-transformers' code
    /// (not this crate's decoder) run one request at a time.
    pub fn batcher<'c>(&mut self, options: BatchOptions) -> Batcher<'_, 'c> {
        let pieces = self.prompts_in_pieces();
        Batcher {
            pieces,
            model: self,
            options: BatchOptions {
                max_batch: options.max_batch.clamp(1, MAX_BATCH),
                ..options
            },
            waiting: VecDeque::new(),
            running: Vec::new(),
            next_id: 0,
            kv_in_use: 0,
            prefixes: Vec::new(),
            prefix_bytes: 0,
            stats: BatchStats::default(),
        }
    }

    /// Run `requests` with continuous batching; the results in request
    /// order. An error of one request (too long, over the KV budget, every
    /// token masked) is its result; an error of the engine ends the run.
    pub fn generate_batch<'c>(
        &mut self,
        requests: Vec<BatchRequest<'c>>,
        options: BatchOptions,
    ) -> Result<(Vec<Result<Generation>>, BatchStats)> {
        let n = requests.len();
        let mut batcher = self.batcher(options);
        for r in requests {
            batcher.submit(r);
        }
        let mut out: Vec<Option<Result<Generation>>> = (0..n).map(|_| None).collect();
        batcher.run(&mut |id, r| out[id] = Some(r))?;
        let stats = batcher.stats().clone();
        let out = out
            .into_iter()
            .map(|r| r.expect("every request ends"))
            .collect();
        Ok((out, stats))
    }

    /// Whether batched prompts run in pieces inside the decode passes (this
    /// crate's decoder with row-independent kernels; see [`Batcher`]).
    pub fn prompts_in_pieces(&self) -> bool {
        matches!(&self.weights, Weights::Fast(t) if t.rows_independent()) && !prompt_pieces_off()
    }

    /// KV cache bytes of one sequence of `positions` positions.
    pub fn kv_bytes(&self, positions: usize) -> Option<usize> {
        match &self.weights {
            Weights::Fast(t) => {
                let cap = KvCache::capacity_for(positions)
                    .min(t.max_positions())
                    .max(positions);
                Some(cap * t.kv_bytes_per_position())
            }
            _ => None,
        }
    }

    /// Check a prompt and its budget against the model.
    pub(crate) fn check_prompt(&self, prompt: &[u32], params: &GenerationParams) -> Result<()> {
        if prompt.is_empty() {
            return Err(Error::Generation("empty prompt".into()));
        }
        let needed = prompt.len() + params.max_new_tokens;
        if needed > self.info.context_length {
            return Err(Error::Generation(format!(
                "prompt of {} tokens + max_new_tokens {} exceeds the context length {} of {}",
                prompt.len(),
                params.max_new_tokens,
                self.info.context_length,
                self.info.path.display()
            )));
        }
        if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= self.info.vocab_size) {
            return Err(Error::Generation(format!(
                "token id {bad} outside the vocabulary"
            )));
        }
        Ok(())
    }

    fn logit_rows(&self, logits: &Tensor) -> Result<Vec<Vec<f32>>> {
        let mut rows: Vec<Vec<f32>> = logits.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        for r in &mut rows {
            // The output layer may be padded past the tokenizer's vocabulary.
            r.truncate(self.info.vocab_size);
        }
        Ok(rows)
    }
}

/// MiB, for messages.
fn mib(bytes: usize) -> String {
    format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
}

impl<'c> Batcher<'_, 'c> {
    /// Queue a request; its id is the number of requests submitted before.
    pub fn submit(&mut self, request: BatchRequest<'c>) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.requests += 1;
        self.waiting.push_back((id, request));
        id
    }

    /// Nothing waiting and nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.running.is_empty()
    }

    /// Sequences in flight now.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// KV cache bytes reserved by the sequences in flight.
    pub fn kv_in_use(&self) -> usize {
        self.kv_in_use
    }

    pub fn stats(&self) -> &BatchStats {
        &self.stats
    }

    pub fn options(&self) -> BatchOptions {
        self.options
    }

    /// Step until every request has ended; `on_done` gets each result as
    /// its request ends (so a caller can write it out at once).
    pub fn run(&mut self, on_done: &mut dyn FnMut(usize, Result<Generation>)) -> Result<()> {
        while !self.is_idle() {
            for (id, r) in self.step()? {
                on_done(id, r);
            }
        }
        Ok(())
    }

    /// Admit what fits, give every sequence in flight one token, and return
    /// the requests that ended.
    pub fn step(&mut self) -> Result<Vec<(usize, Result<Generation>)>> {
        let mut done = Vec::new();
        if !matches!(self.model.weights, Weights::Fast(_)) {
            // No batched decoder: one request at a time, whole.
            if let Some((id, mut r)) = self.waiting.pop_front() {
                let g = self.model.generate_ids(
                    &r.prompt,
                    &r.params,
                    r.constraint
                        .as_deref_mut()
                        .map(|c| c as &mut dyn TokenConstraint),
                    &mut |_| {},
                );
                done.push((id, g));
            }
            return Ok(done);
        }
        self.admit(&mut done)?;
        // One token for each sequence past its prompt; those that go on
        // decode together.
        let mut i = 0;
        while i < self.running.len() {
            if self.running[i].pending.is_empty() {
                i += 1; // still in its prompt
                continue;
            }
            match self.running[i].advance_rows(self.model, &mut self.stats.drafts_accepted) {
                Ok(None) => i += 1,
                Ok(Some(stop)) => {
                    let r = self.running.swap_remove(i);
                    self.kv_in_use -= r.kv_bytes;
                    done.push((r.id, Ok(r.finish(stop))));
                }
                Err(e) => {
                    let r = self.running.swap_remove(i);
                    self.kv_in_use -= r.kv_bytes;
                    done.push((r.id, Err(e)));
                }
            }
        }
        // Keep the order of admission (swap_remove reorders): ids rise, and
        // the earliest prompt gets its pieces first.
        self.running.sort_by_key(|r| r.id);
        if !self.running.is_empty() {
            self.pass()?;
        }
        Ok(done)
    }

    /// One forward pass: every decoding sequence's token (and draft tokens
    /// in the rows they leave free), and pieces of the prompts in progress,
    /// the earliest first, up to [`PROMPT_PIECE`] rows beside decoding
    /// sequences (`PREFILL_ROWS` without).
    fn pass(&mut self) -> Result<()> {
        let t = Instant::now();
        let o = self.options;
        let rows_max = o.max_batch.max(o.draft_tokens + 1).min(MAX_BATCH);
        let mut spare = rows_max.saturating_sub(self.running.len());
        let limit = self.model.info.context_length;
        let mut prompt_rows = match self.running.iter().any(|r| !r.in_prompt()) {
            true => PROMPT_PIECE,
            false => PREFILL_ROWS,
        };
        // Each sequence's rows and how many of their logits it needs.
        let mut rows: Vec<Vec<u32>> = Vec::with_capacity(self.running.len());
        let mut wanted = Vec::with_capacity(self.running.len());
        for r in &mut self.running {
            if r.in_prompt() {
                let from = r.cache.filled();
                // A piece ends where the shared prefix to keep ends.
                let to = match r.keep > from {
                    true => r.keep,
                    false => r.prompt_len,
                };
                let take = (to - from).min(prompt_rows);
                prompt_rows -= take;
                rows.push(r.history[from..from + take].to_vec());
                wanted.push(usize::from(take > 0 && from + take == r.prompt_len));
                continue;
            }
            // After this pass the cache holds the positions so far, the
            // token and the drafts: within the request's reservation.
            let room = (r.params.max_new_tokens - r.generated).min(limit - r.history.len());
            let k = o.draft_tokens.min(spare).min(room);
            r.drafts = lookup_draft(&r.history, k).to_vec();
            spare -= r.drafts.len();
            self.stats.draft_rows += r.drafts.len();
            let last = *r.history.last().expect("a token was just sampled");
            let row: Vec<u32> = std::iter::once(last)
                .chain(r.drafts.iter().copied())
                .collect();
            wanted.push(row.len());
            rows.push(row);
        }
        let members: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].is_empty()).collect();
        let refs: Vec<&[u32]> = members.iter().map(|&i| rows[i].as_slice()).collect();
        let want: Vec<usize> = members.iter().map(|&i| wanted[i]).collect();
        let Weights::Fast(model) = &mut self.model.weights else {
            unreachable!("checked by the caller")
        };
        let mut caches: Vec<&mut KvCache> = self
            .running
            .iter_mut()
            .zip(&rows)
            .filter(|(_, row)| !row.is_empty())
            .map(|(r, _)| &mut r.cache)
            .collect();
        let logits = model.decode(&mut caches, &refs, &want)?;
        drop(caches);
        let mut all = match &logits {
            Some(l) => self.model.logit_rows(l)?,
            None => Vec::new(),
        }
        .into_iter();
        let secs = t.elapsed().as_secs_f64();
        // Prompt rows, decoding sequences and their rows (token and drafts).
        let (mut computed, mut decoding, mut decoded) = (0, 0, 0);
        let mut keep = Vec::new();
        for &i in &members {
            let r = &mut self.running[i];
            let n = rows[i].len();
            if r.cache.filled() > r.prompt_len {
                r.pending = all.by_ref().take(n).collect();
                decoding += 1;
                decoded += n;
                continue;
            }
            computed += n;
            if r.keep > 0 && r.cache.filled() == r.keep {
                keep.push(i);
            }
            if r.cache.filled() == r.prompt_len {
                r.pending = all.by_ref().take(1).collect();
                r.prompt_secs = r.admitted.elapsed().as_secs_f64();
                r.decode_start = Instant::now();
            }
        }
        for i in keep {
            let (ids, cache) = self.running[i].take_keep()?;
            self.keep_prefix(ids, cache);
        }
        // The pass's time, shared by its prompt and decode rows.
        let prompt_share = computed as f64 / (computed + decoded).max(1) as f64;
        self.stats.prompt_tokens += computed;
        self.stats.prefill_secs += secs * prompt_share;
        if decoding > 0 {
            self.stats.mixed_passes += usize::from(computed > 0);
            self.stats.decode_steps += 1;
            self.stats.decode_rows += decoding;
            self.stats.decode_secs += secs * (1.0 - prompt_share);
        }
        Ok(())
    }

    /// Admit waiting requests, in order, while a slot is free and their
    /// caches fit: each starts from the longest opening of its shared prefix
    /// that is kept, and its prompt runs whole now, or in pieces in the
    /// passes to come (where the kernels allow: see the module docs). A
    /// request whose shared prefix a prompt in progress will keep further
    /// than what is kept now waits for it.
    fn admit(&mut self, done: &mut Vec<(usize, Result<Generation>)>) -> Result<()> {
        while self.running.len() < self.options.max_batch {
            let Some((_, front)) = self.waiting.front() else {
                break;
            };
            if let Err(e) = self.model.check_prompt(&front.prompt, &front.params) {
                let (id, _) = self.waiting.pop_front().expect("a front");
                done.push((id, Err(e)));
                continue;
            }
            let (prompt_len, max_new) = (front.prompt.len(), front.params.max_new_tokens);
            // The shared prefix (then the rest, at least one token): the
            // same bits as one pass (every prompt row is computed by itself).
            let split = match shared_prefixes_off() {
                true => 0,
                false => front.prefix.min(prompt_len - 1),
            };
            let positions = prompt_len + max_new;
            let need = self.model.kv_bytes(positions).expect("a batched decoder");
            if need > self.options.kv_budget_bytes {
                let (id, _) = self.waiting.pop_front().expect("a front");
                done.push((
                    id,
                    Err(Error::Generation(format!(
                        "a prompt of {prompt_len} tokens + max_new_tokens {max_new} needs {} \
                         of KV cache, more than the whole budget of {} (llm.kv_budget_mb in \
                         models.toml)",
                        mib(need),
                        mib(self.options.kv_budget_bytes)
                    ))),
                ));
                continue;
            }
            // Shared prefixes give way to sequences.
            while self.kv_in_use + self.prefix_bytes + need > self.options.kv_budget_bytes
                && !self.prefixes.is_empty()
            {
                self.evict_prefix();
            }
            if self.kv_in_use + need > self.options.kv_budget_bytes {
                break; // waits until sequences in flight end
            }
            let Some((_, front)) = self.waiting.front() else {
                break;
            };
            let head = &front.prompt[..split];
            let kept = self.kept_opening(head);
            let coming = self
                .running
                .iter()
                .filter(|r| r.keep > r.cache.filled())
                .map(|r| common_len(&r.history[..r.keep], head))
                .max()
                .unwrap_or(0);
            if coming > kept.map_or(0, |(n, _)| n) {
                break; // the prompt in progress keeps more of it soon
            }
            let (id, request) = self.waiting.pop_front().expect("a front");
            let t = Instant::now();
            let mut cache = match kept {
                Some((n, i)) => self.copy_opening(i, n)?,
                None => KvCache::default(),
            };
            cache.reserve(positions);
            self.kv_in_use += need;
            let keep = match cache.filled() < split {
                true => split,
                false => 0,
            };
            let mut running = Running {
                id,
                cache,
                kv_bytes: need,
                sampler: Sampler::new(&request.params),
                history: request.prompt,
                prompt_len,
                params: request.params,
                constraint: request.constraint,
                text: String::new(),
                utf8: Utf8Stream::default(),
                generated: 0,
                pending: Vec::new(),
                drafts: Vec::new(),
                keep,
                admitted: t,
                prompt_secs: 0.0,
                decode_start: t,
            };
            if !self.pieces {
                self.whole_prompt(&mut running)?;
            }
            self.stats.peak_kv_bytes = self
                .stats
                .peak_kv_bytes
                .max(self.kv_in_use + self.prefix_bytes);
            self.running.push(running);
            self.stats.max_in_flight = self.stats.max_in_flight.max(self.running.len());
        }
        Ok(())
    }

    /// Compute the rest of `r`'s prompt in one pass (its shared prefix
    /// first, kept), as where prompt rows cannot share decode passes.
    fn whole_prompt(&mut self, r: &mut Running) -> Result<()> {
        let device = self.model.device.clone();
        for to in [r.keep, r.prompt_len] {
            let from = r.cache.filled();
            if to <= from {
                continue;
            }
            let input = Tensor::new(&r.history[from..to], &device)?.unsqueeze(0)?;
            let Weights::Fast(model) = &mut self.model.weights else {
                unreachable!("checked by the caller")
            };
            let logits = model.forward_in(&mut r.cache, &input, from)?;
            self.stats.prompt_tokens += to - from;
            if to == r.keep {
                let (ids, cache) = r.take_keep()?;
                self.keep_prefix(ids, cache);
                continue;
            }
            r.pending = vec![self
                .model
                .logit_rows(&logits)?
                .pop()
                .expect("one row of logits")];
        }
        r.prompt_secs = r.admitted.elapsed().as_secs_f64();
        self.stats.prefill_secs += r.prompt_secs;
        r.decode_start = Instant::now();
        Ok(())
    }
}

impl Batcher<'_, '_> {
    /// The kept prefix with the longest common opening with `ids`, if any:
    /// (that length, its index).
    fn kept_opening(&self, ids: &[u32]) -> Option<(usize, usize)> {
        self.prefixes
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (common_len(k, ids), i))
            .max()
            .filter(|&(n, _)| n > 0)
    }

    /// A cache holding the first `n` positions of kept prefix `i`, which
    /// becomes the most recently used.
    fn copy_opening(&mut self, i: usize, n: usize) -> Result<KvCache> {
        let entry = self.prefixes.remove(i);
        let copy = entry.1.prefix_copy(n)?;
        self.prefixes.push(entry);
        self.stats.prefix_hits += 1;
        self.stats.prefix_tokens_reused += n;
        Ok(copy)
    }

    /// Keep the prompt prefix `ids` and its cache for the requests that
    /// start the same way (while it fits the budget beside the caches in
    /// flight, which reserved their whole length): so a summary asked again
    /// reuses its article, and requests whose declared prefixes part after
    /// a common opening share that opening. Kept prefixes that it extends
    /// give way to it: whatever starts like them starts at least as far
    /// like it.
    fn keep_prefix(&mut self, ids: Vec<u32>, cache: KvCache) {
        let Weights::Fast(model) = &self.model.weights else {
            unreachable!("prefixes are kept for the batched decoder only")
        };
        let per_position = model.kv_bytes_per_position();
        let bytes = ids.len() * per_position;
        let mut freed = 0;
        self.prefixes.retain(|(k, _)| {
            let extended = ids.starts_with(k);
            freed += usize::from(extended) * k.len() * per_position;
            !extended
        });
        self.prefix_bytes -= freed;
        if self.prefixes.len() == MAX_PREFIXES {
            self.evict_prefix();
        }
        if self.kv_in_use + self.prefix_bytes + bytes <= self.options.kv_budget_bytes {
            self.prefix_bytes += bytes;
            self.prefixes.push((ids, cache));
        }
    }

    /// Drop the least recently used shared prefix.
    fn evict_prefix(&mut self) {
        if !self.prefixes.is_empty() {
            let (ids, _) = self.prefixes.remove(0);
            let Weights::Fast(model) = &self.model.weights else {
                unreachable!("prefixes are kept for the batched decoder only")
            };
            self.prefix_bytes -= ids.len() * model.kv_bytes_per_position();
        }
    }
}

impl Running<'_> {
    /// Sample from the rows of the last forward pass in order, keeping
    /// each draft token while it equals the token sampled before it (the
    /// count kept is added to `accepted`), and cut the cache back to the
    /// tokens kept: `Some(reason)` when the sequence has ended, `None` when
    /// its last token needs a forward pass.
    fn advance_rows(
        &mut self,
        model: &ChatModel,
        accepted: &mut usize,
    ) -> Result<Option<StopReason>> {
        let drafts = std::mem::take(&mut self.drafts);
        let rows = std::mem::take(&mut self.pending);
        for (j, logits) in rows.into_iter().enumerate() {
            if let Some(stop) = self.advance(model, logits)? {
                return Ok(Some(stop));
            }
            if drafts.get(j) != self.history.last() {
                break;
            }
            *accepted += 1;
        }
        // The last token sampled is not in the cache yet.
        self.cache.truncate(self.history.len() - 1);
        Ok(None)
    }

    /// Sample this sequence's next token from its logits, exactly as
    /// [`ChatModel::generate_ids`] does: `Some(reason)` when it has ended,
    /// `None` when the new token needs a forward pass.
    fn advance(&mut self, model: &ChatModel, mut logits: Vec<f32>) -> Result<Option<StopReason>> {
        if self.constraint.as_ref().is_some_and(|c| c.is_complete()) {
            return Ok(Some(StopReason::ConstraintComplete));
        }
        if self.generated == self.params.max_new_tokens {
            return Ok(Some(StopReason::MaxTokens));
        }
        self.sampler
            .apply_repeat_penalty(&mut logits, &self.history);
        if let Some(c) = self.constraint.as_deref_mut() {
            c.mask(&model.vocabulary, &mut logits)?;
        }
        let token = self.sampler.sample(&logits).ok_or_else(|| {
            Error::Generation("every token was masked out; nothing to sample".into())
        })?;
        if !self.params.ignore_eos && model.tokenizer.is_end_of_generation(token) {
            return Ok(Some(StopReason::EndOfTurn));
        }
        if let Some(c) = self.constraint.as_deref_mut() {
            c.accept(&model.vocabulary, token)?;
        }
        self.generated += 1;
        self.history.push(token);
        let piece = self.utf8.push(model.tokenizer.token_bytes(token));
        self.text.push_str(&piece);
        let complete = self.constraint.as_ref().is_some_and(|c| c.is_complete());
        if complete {
            return Ok(Some(StopReason::ConstraintComplete));
        }
        if self.generated == self.params.max_new_tokens {
            return Ok(Some(StopReason::MaxTokens));
        }
        Ok(None)
    }

    fn finish(mut self, stop: StopReason) -> Generation {
        let tail = self.utf8.finish();
        self.text.push_str(&tail);
        if let Some(c) = self.constraint.as_deref() {
            if !c.is_complete() {
                // Out of budget: close the structure so the output stays valid.
                self.text.push_str(&c.completion());
            }
        }
        Generation {
            text: self.text,
            prompt_tokens: self.prompt_len,
            generated_tokens: self.generated,
            token_ids: self.history[self.prompt_len..].to_vec(),
            prompt_secs: self.prompt_secs,
            decode_secs: self.decode_start.elapsed().as_secs_f64(),
            stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lookup_draft;

    #[test]
    fn drafts_follow_the_latest_longest_match() {
        // The last three tokens 1 2 3 occurred at 0 and at 4: the latest wins.
        let h = [1, 2, 3, 9, 1, 2, 3, 7, 5, 1, 2, 3];
        assert_eq!(lookup_draft(&h, 2), &[7, 5]);
        // As far as the history goes.
        assert_eq!(lookup_draft(&h, 10), &[7, 5, 1, 2, 3]);
        assert_eq!(lookup_draft(&h, 0), &[] as &[u32]);
        // No earlier 8 9 4 nor 9 4: a one-token match (4 … 6) is not enough.
        assert_eq!(lookup_draft(&[4, 6, 8, 9, 4], 3), &[] as &[u32]);
        // A two-token match; a later one-token match does not count.
        assert_eq!(lookup_draft(&[5, 6, 1, 6, 2, 5, 6], 1), &[1]);
        assert_eq!(lookup_draft(&[9, 4, 6, 8, 9, 4], 3), &[6, 8, 9]);
        assert_eq!(lookup_draft(&[1, 2, 3], 4), &[] as &[u32]);
        assert_eq!(lookup_draft(&[], 4), &[] as &[u32]);
    }
}
