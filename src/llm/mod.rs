//! Local chat LLM engine: GGUF chat models run by Candle's quantized
//! transformer implementations (Qwen2, Llama/SmolLM2, Gemma 3), with a
//! tokenizer rebuilt from the GGUF metadata, chat templates, sampling,
//! streaming and JSON-schema constrained decoding.
//!
//! Threads: call [`set_threads`] before loading any model (before the first
//! tensor operation); Candle sizes its worker pools once, on first use.
mod batch;
mod bench;
mod constraint;
mod gguf;
mod kernels;
mod kquants;
mod mapped;
mod model;
mod sampling;
mod serve;
mod stream;
mod template;
mod tokenizer;
mod transformer;

pub use batch::{
    BatchOptions, BatchRequest, BatchStats, Batcher, DRAFT_TOKENS, MAX_BATCH, PROMPT_PIECE,
};
pub use bench::{bench, bench_implementation, bench_on, bench_with_prompt, BenchReport, BenchRun};
pub use constraint::{
    JsonSchemaConstraint, TokenConstraint, Vocabulary, DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH,
};
pub use model::{Architecture, Implementation};
pub use sampling::GenerationParams;
pub use serve::{serve, Chat, ChatClient, ChatRequest};
pub use template::{ChatFormat, ChatMessage, PromptFormat, Role, Segment};
pub use tokenizer::{GgufTokenizer, TokenKind};

use crate::{Error, Result};
use candle_core::{Device, Tensor};
use gguf::{GgufFile, Metadata};
use model::Weights;
use sampling::Sampler;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use stream::Utf8Stream;

/// Use `n` CPU threads for tensor work (`n = 0`: leave the default).
///
/// Sets `RAYON_NUM_THREADS` and `CANDLE_NUM_THREADS` and builds the global
/// rayon pool. Candle reads these once, at its first tensor operation, so
/// this must run before any model is loaded; later calls have no effect on
/// pools that already exist.
pub fn set_threads(n: usize) {
    if n == 0 {
        return;
    }
    // Edition 2021: `set_var` is safe; callers must do this before spawning
    // threads that read the environment (see the function docs).
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}

/// The token embeddings of `ids` in the GGUF file `path`, looked up as the
/// engine does (each row dequantized on its own from the file's quantized
/// table, mapped where possible), concatenated: for tests of that lookup
/// against the whole table dequantized.
#[doc(hidden)]
pub fn token_embeddings(path: &Path, ids: &[u32]) -> Result<Vec<f32>> {
    let GgufFile {
        content,
        mut reader,
    } = GgufFile::open(path)?;
    let mut rows = || -> candle_core::Result<Vec<f32>> {
        let mut tensors = mapped::Tensors::new(&content, &mut reader, &Device::Cpu);
        let table = tensors.get("token_embd.weight")?.tensor;
        let ids = Tensor::new(ids, &Device::Cpu)?;
        table.embedding(&ids)?.flatten_all()?.to_vec1()
    };
    rows().map_err(|e| Error::model_file(path, format!("token embeddings: {e}")))
}

/// What a loaded model is.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    /// `general.architecture`.
    pub architecture: Architecture,
    /// `general.name`.
    pub name: Option<String>,
    /// Usable context in tokens: `<arch>.context_length`, capped by the
    /// implementation's position tables (4096 for candle-transformers' llama).
    pub context_length: usize,
    pub vocab_size: usize,
    /// Quantization from `general.file_type` (e.g. `Q4_K_M`).
    pub file_type: Option<String>,
    /// Prompt format; `None` when the model has no known chat template.
    pub chat_format: Option<PromptFormat>,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// An end-of-generation token (EOS / end of turn) was produced.
    EndOfTurn,
    /// `max_new_tokens` were generated.
    MaxTokens,
    /// The constraint's output was complete.
    ConstraintComplete,
}

/// The result of one generation.
#[derive(Clone, Debug, Serialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// The generated token ids (the end-of-turn token that stopped it, if
    /// any, excluded). Not serialized.
    #[serde(skip)]
    pub token_ids: Vec<u32>,
    /// Time of the batched prompt forward pass (gives the first token).
    pub prompt_secs: f64,
    /// Time of the per-token forward passes after the first token
    /// (`generated_tokens - 1` of them) including sampling.
    pub decode_secs: f64,
    pub stop: StopReason,
}

impl Generation {
    pub fn prompt_tokens_per_sec(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_secs.max(1e-9)
    }

    /// Decoding speed over the forward passes after the prompt.
    pub fn decode_tokens_per_sec(&self) -> f64 {
        self.generated_tokens.saturating_sub(1) as f64 / self.decode_secs.max(1e-9)
    }
}

/// A GGUF chat model ready to generate.
pub struct ChatModel {
    info: ModelInfo,
    weights: Weights,
    tokenizer: std::sync::Arc<GgufTokenizer>,
    vocabulary: Vocabulary,
    format: Option<ChatFormat>,
    device: Device,
    /// How [`Chat::answer_all`] batches.
    batch_options: BatchOptions,
}

fn file_type_name(t: u64) -> Option<&'static str> {
    Some(match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}

impl ChatModel {
    /// Load a GGUF chat model. Files that are not GGUF, are truncated, lack
    /// metadata or hold an unsupported architecture give [`Error::ModelFile`].
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::load_with(path, device, Implementation::Fast)
    }

    /// [`ChatModel::load`] choosing the transformer implementation.
    pub fn load_with(path: &Path, device: &Device, implementation: Implementation) -> Result<Self> {
        let file = GgufFile::open(path)?;
        let md = Metadata {
            path,
            content: &file.content,
        };
        let arch_name = md.required_string("general.architecture")?;
        let architecture = Architecture::from_gguf(arch_name).ok_or_else(|| {
            let supported: Vec<&str> = Architecture::ALL.iter().map(|a| a.gguf_name()).collect();
            Error::model_file(
                path,
                format!(
                    "unsupported architecture `{arch_name}` (supported: {})",
                    supported.join(", ")
                ),
            )
        })?;
        let context_key = format!("{}.context_length", architecture.gguf_name());
        let context_length = md
            .uint(&context_key)?
            .ok_or_else(|| Error::model_file(path, format!("missing metadata `{context_key}`")))?
            as usize;
        let name = md.string("general.name")?.map(str::to_string);
        let file_type = md
            .uint("general.file_type")?
            .and_then(file_type_name)
            .map(str::to_string);
        let tokenizer = GgufTokenizer::from_metadata(&md)?;
        let template = md.string("tokenizer.chat_template")?;
        let format = ChatFormat::detect(template, architecture).filter(|f| {
            f.required_specials()
                .iter()
                .all(|s| tokenizer.token_id(s).is_some())
        });
        let weights = Weights::load(
            path,
            architecture,
            file,
            device,
            implementation,
            context_length,
        )?;
        let vocabulary = Vocabulary::new(
            (0..tokenizer.vocab_size() as u32)
                .map(|i| tokenizer.token_bytes(i).to_vec())
                .collect(),
            (0..tokenizer.vocab_size() as u32)
                .map(|i| {
                    matches!(
                        tokenizer.kind(i),
                        Some(TokenKind::Normal | TokenKind::Byte | TokenKind::UserDefined)
                    )
                })
                .collect(),
        );
        let info = ModelInfo {
            path: path.to_path_buf(),
            architecture,
            name,
            context_length: context_length.min(weights.max_positions()),
            vocab_size: tokenizer.vocab_size(),
            file_type,
            chat_format: format.map(|f| f.kind()),
        };
        Ok(Self {
            info,
            weights,
            tokenizer: std::sync::Arc::new(tokenizer),
            vocabulary,
            format,
            device: device.clone(),
            batch_options: BatchOptions::default(),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The device the weights are on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The model's tokenizer.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// Every token's text bytes, for constraints.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Number of tokens of `text` (plain text, no special tokens).
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.encode(text)?.len())
    }

    /// Token ids of `text` as plain text: no BOS/EOS added, special-token
    /// text not turned into control tokens (llama.cpp `special = false`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text, false)
    }

    /// Token ids of the chat prompt for `messages`, ending with the opening
    /// of the assistant's turn.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>> {
        render_prompt(&self.info, &self.tokenizer, self.format, messages)
    }

    /// How [`Chat::answer_all`] batches requests on this model.
    pub fn set_batch_options(&mut self, options: BatchOptions) {
        self.batch_options = options;
    }

    pub fn batch_options(&self) -> BatchOptions {
        self.batch_options
    }

    /// Answer a conversation. `on_text` receives each decoded piece as it is
    /// produced; a `constraint` restricts which tokens may be generated.
    pub fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        constraint: Option<&mut dyn TokenConstraint>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let prompt = self.chat_prompt(messages)?;
        self.generate_ids(&prompt, params, constraint, on_text)
    }

    /// Generate after the fixed prompt `prompt` (the whole prompt runs in one
    /// batched forward pass, then one pass per new token on the KV cache).
    pub fn generate_ids(
        &mut self,
        prompt: &[u32],
        params: &GenerationParams,
        mut constraint: Option<&mut dyn TokenConstraint>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        self.check_prompt(prompt, params)?;
        let needed = prompt.len() + params.max_new_tokens;
        let mut sampler = Sampler::new(params);
        let mut history: Vec<u32> = prompt.to_vec();
        let mut text = String::new();
        let mut utf8 = Utf8Stream::default();
        let mut generated = 0usize;
        let mut emit = |piece: String, text: &mut String| {
            if !piece.is_empty() {
                on_text(&piece);
                text.push_str(&piece);
            }
        };

        self.weights.reserve(needed);
        let start = Instant::now();
        let input = Tensor::new(prompt, &self.device)?.unsqueeze(0)?;
        let mut logits = self.logits(&input, 0)?;
        let prompt_secs = start.elapsed().as_secs_f64();
        let decode_start = Instant::now();

        let stop = loop {
            if constraint.as_ref().is_some_and(|c| c.is_complete()) {
                break StopReason::ConstraintComplete;
            }
            if generated == params.max_new_tokens {
                break StopReason::MaxTokens;
            }
            sampler.apply_repeat_penalty(&mut logits, &history);
            if let Some(c) = constraint.as_deref_mut() {
                c.mask(&self.vocabulary, &mut logits)?;
            }
            let token = sampler.sample(&logits).ok_or_else(|| {
                Error::Generation("every token was masked out; nothing to sample".into())
            })?;
            if !params.ignore_eos && self.tokenizer.is_end_of_generation(token) {
                break StopReason::EndOfTurn;
            }
            if let Some(c) = constraint.as_deref_mut() {
                c.accept(&self.vocabulary, token)?;
            }
            generated += 1;
            history.push(token);
            emit(utf8.push(self.tokenizer.token_bytes(token)), &mut text);
            let more = generated < params.max_new_tokens
                && !constraint.as_ref().is_some_and(|c| c.is_complete());
            if more {
                let input = Tensor::new(&[token], &self.device)?.unsqueeze(0)?;
                logits = self.logits(&input, history.len() - 1)?;
            }
        };
        emit(utf8.finish(), &mut text);
        if let Some(c) = constraint.as_deref() {
            if !c.is_complete() {
                // Out of budget: close the structure so the output stays valid.
                emit(c.completion(), &mut text);
            }
        }
        Ok(Generation {
            text,
            prompt_tokens: prompt.len(),
            generated_tokens: generated,
            token_ids: history[prompt.len()..].to_vec(),
            prompt_secs,
            decode_secs: decode_start.elapsed().as_secs_f64(),
            stop,
        })
    }

    /// Logits for the token after `prompt` (a fresh sequence).
    pub fn next_token_logits(&mut self, prompt: &[u32]) -> Result<Vec<f32>> {
        if prompt.is_empty() || prompt.len() > self.info.context_length {
            return Err(Error::Generation(format!(
                "prompt of {} tokens for a context of {}",
                prompt.len(),
                self.info.context_length
            )));
        }
        self.weights.reserve(prompt.len());
        let input = Tensor::new(prompt, &self.device)?.unsqueeze(0)?;
        self.logits(&input, 0)
    }

    /// Teacher forcing: the logits after `prompt` and after each token of
    /// `forced` appended in turn, computed as generation computes them (the
    /// prompt in one pass, then one cached pass per token), handed to
    /// `on_logits(step, logits)` for steps `0..=forced.len()`. For scoring a
    /// given continuation and for comparing the decoder with a reference
    /// along the reference's own tokens.
    pub fn teacher_forced(
        &mut self,
        prompt: &[u32],
        forced: &[u32],
        on_logits: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<()> {
        let total = prompt.len() + forced.len();
        if prompt.is_empty() || total > self.info.context_length {
            return Err(Error::Generation(format!(
                "{total} tokens for a context of {}",
                self.info.context_length
            )));
        }
        self.weights.reserve(total);
        let input = Tensor::new(prompt, &self.device)?.unsqueeze(0)?;
        on_logits(0, &self.logits(&input, 0)?);
        for (step, &token) in forced.iter().enumerate() {
            let input = Tensor::new(&[token], &self.device)?.unsqueeze(0)?;
            on_logits(step + 1, &self.logits(&input, prompt.len() + step)?);
        }
        Ok(())
    }

    fn logits(&mut self, input: &Tensor, index_pos: usize) -> Result<Vec<f32>> {
        let out = self.weights.forward(input, index_pos)?;
        let mut v: Vec<f32> = out
            .squeeze(0)?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1()?;
        // The output layer may be padded past the tokenizer's vocabulary.
        v.truncate(self.info.vocab_size);
        Ok(v)
    }
}

/// The token ids of the chat prompt for `messages` in `format`, ending with
/// the opening of the assistant's turn.
fn render_prompt(
    info: &ModelInfo,
    tokenizer: &GgufTokenizer,
    format: Option<ChatFormat>,
    messages: &[ChatMessage],
) -> Result<Vec<u32>> {
    let format = format
        .ok_or_else(|| Error::model_file(&info.path, "no known chat format for this model"))?;
    let mut ids = Vec::new();
    for seg in format.render(messages, tokenizer.bos.is_some()) {
        match seg {
            Segment::Bos => ids.extend(tokenizer.bos),
            Segment::Special(s) => {
                ids.push(tokenizer.token_id(s).ok_or_else(|| {
                    Error::model_file(&info.path, format!("no special token {s}"))
                })?)
            }
            Segment::Text(t) => ids.extend(tokenizer.encode(&t, false)?),
        }
    }
    Ok(ids)
}
