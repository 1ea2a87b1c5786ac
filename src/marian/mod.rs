//! Marian (opus-mt) translation engine on Candle.
//!
//! [`MarianModel::load`] reads a model directory as the hub ships it
//! (`config.json`, `model.safetensors` or `pytorch_model.bin`,
//! `generation_config.json`) tensor by tensor, never holding the whole f32
//! checkpoint (`weights`); [`MarianModel::translate_ids`] translates a batch
//! of source id sequences with greedy or beam search, giving the same ids as
//! HF transformers' `generate` (a sentence whose output is final leaves the
//! batch, so the remaining steps decode fewer rows).
//!
//! Threads: the GEMMs run on rayon's pool (`RAYON_NUM_THREADS`). Candle's own
//! element-wise thread pool spins against it on small machines; running with
//! `CANDLE_NUM_THREADS=1` (set before the first tensor operation) cut CPU time
//! by ~20 % in the benchmarks (see BENCHMARKS.md).
pub mod bench;
pub mod f32gemm;
pub mod generate;
pub mod int8;
mod kv;
mod logits;
pub mod model;
pub mod tokenizer;
mod weights;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

pub use generate::{DecodeOptions, DecodeStats, EarlyStopping, TokenRules};
pub use model::{Config, Quant};

use crate::{Error, Result};
use generate::{first_id, GenerationConfig};
use model::Marian;

/// A loaded Marian model plus its generation defaults.
#[derive(Debug, Clone)]
pub struct MarianModel {
    net: Marian,
    rules: TokenRules,
    dir: PathBuf,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::model_file(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::model_file(path, format!("invalid JSON: {e}")))
}

/// `generation_config.json` if present, else the generation keys of `config.json`.
fn generation_config(dir: &Path) -> Result<GenerationConfig> {
    let gen = dir.join("generation_config.json");
    if gen.exists() {
        read_json(&gen)
    } else {
        read_json(&dir.join("config.json"))
    }
}

/// The checkpoint of `dir` (safetensors preferred, else PyTorch pickle) as a
/// `VarBuilder` that reads one tensor at a time (see `weights`).
fn open_checkpoint(dir: &Path, device: &Device) -> Result<(PathBuf, VarBuilder<'static>)> {
    let st = dir.join("model.safetensors");
    let pth = dir.join("pytorch_model.bin");
    if st.exists() {
        let vb = weights::lazy_var_builder(&st, device)
            .map_err(|e| Error::model_file(&st, format!("unreadable safetensors: {e}")))?;
        Ok((st, vb))
    } else if pth.exists() {
        let vb = weights::lazy_var_builder(&pth, device)
            .map_err(|e| Error::model_file(&pth, format!("unreadable PyTorch checkpoint: {e}")))?;
        Ok((pth, vb))
    } else {
        Err(Error::model_file(
            &st,
            "missing: the directory has neither model.safetensors nor pytorch_model.bin",
        ))
    }
}

impl MarianModel {
    /// Loads the model in `dir` onto `device`, with f32 or Q8_0 linear layers.
    ///
    /// Errors name the file at fault: a missing or corrupt weights file, an
    /// invalid `config.json` / `generation_config.json`, or a checkpoint whose
    /// tensors do not fit the configuration.
    pub fn load(dir: &Path, device: &Device, quant: Quant) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        let cfg: Config = read_json(&cfg_path)?;
        if cfg.normalize_before {
            return Err(Error::model_file(
                &cfg_path,
                "normalize_before=true (pre-LN) is not a Marian layout",
            ));
        }
        if !cfg.d_model.is_multiple_of(cfg.encoder_attention_heads)
            || !cfg.d_model.is_multiple_of(cfg.decoder_attention_heads)
        {
            return Err(Error::model_file(
                &cfg_path,
                "d_model is not a multiple of the attention heads",
            ));
        }
        let gen = generation_config(dir)?;
        let gen_path = dir.join("generation_config.json");
        let bad = |e: String| Error::model_file(&gen_path, e);
        let rules = TokenRules {
            eos_token_id: first_id(&gen.eos_token_id)
                .map_err(bad)?
                .unwrap_or(cfg.eos_token_id),
            pad_token_id: gen.pad_token_id.unwrap_or(cfg.pad_token_id),
            decoder_start_token_id: gen
                .decoder_start_token_id
                .unwrap_or(cfg.decoder_start_token_id),
            forced_eos_token_id: first_id(&gen.forced_eos_token_id)
                .map_err(bad)?
                .or(cfg.forced_eos_token_id),
            bad_words_ids: gen
                .bad_words_ids
                .clone()
                .or_else(|| cfg.bad_words_ids.clone())
                .unwrap_or_default(),
        };
        let (weights_path, vb) = open_checkpoint(dir, device)?;
        let net = Marian::new(&cfg, quant, vb).map_err(|e| Error::model_file(&weights_path, e))?;
        Ok(Self {
            net,
            rules,
            dir: dir.to_path_buf(),
        })
    }

    /// The model's `config.json`.
    pub fn config(&self) -> &Config {
        self.net.config()
    }

    /// Special tokens and banned words used when decoding.
    pub fn token_rules(&self) -> &TokenRules {
        &self.rules
    }

    /// Directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Longest source (in tokens, EOS included) the encoder accepts.
    pub fn max_source_positions(&self) -> usize {
        self.config().max_position_embeddings
    }

    /// Right-pads `batch` with the pad id: ids `(b, s)` and the real lengths.
    fn pad_batch(&self, batch: &[Vec<u32>]) -> Result<(Tensor, Vec<usize>)> {
        let s = batch.iter().map(Vec::len).max().unwrap_or(0);
        if let Some(i) = batch.iter().position(Vec::is_empty) {
            return Err(Error::Generation(format!("source {i} has no tokens")));
        }
        if s > self.max_source_positions() {
            return Err(Error::Generation(format!(
                "source of {s} tokens is longer than the model's {} positions",
                self.max_source_positions()
            )));
        }
        let vocab = self.config().vocab_size as u32;
        let mut ids = Vec::with_capacity(batch.len() * s);
        for (i, src) in batch.iter().enumerate() {
            if let Some(bad) = src.iter().find(|&&t| t >= vocab) {
                return Err(Error::Generation(format!(
                    "source {i}: token id {bad} outside the vocabulary of {vocab}"
                )));
            }
            ids.extend_from_slice(src);
            ids.extend(std::iter::repeat_n(self.rules.pad_token_id, s - src.len()));
        }
        let lengths = batch.iter().map(Vec::len).collect();
        Ok((
            Tensor::from_vec(ids, (batch.len(), s), self.net.device())?,
            lengths,
        ))
    }

    /// Encoder last hidden states `(b, s, d_model)` of a right-padded batch
    /// (rows past a sentence's length are padding and meaningless).
    pub fn encode(&self, batch: &[Vec<u32>]) -> Result<Tensor> {
        let (ids, lengths) = self.pad_batch(batch)?;
        Ok(self.net.encode(&ids, &lengths)?.0)
    }

    /// Logits `(t, target_vocab)` of a forced decoder input (`decoder_input`
    /// starts with the decoder start token) for one source sentence.
    pub fn forced_logits(&self, source: &[u32], decoder_input: &[u32]) -> Result<Tensor> {
        let (ids, lengths) = self.pad_batch(&[source.to_vec()])?;
        let (enc, mask) = self.net.encode(&ids, &lengths)?;
        let cross = self.net.cross_cache(&enc, &mask)?;
        let mut cache = self.net.self_cache(1, decoder_input.len())?;
        let dec = Tensor::from_slice(decoder_input, (1, decoder_input.len()), self.net.device())?;
        Ok(self.net.decode(&dec, &cross, &mut cache)?.squeeze(0)?)
    }

    /// Translates a batch of source id sequences (each ending with EOS) and
    /// returns the target ids without the decoder start token and EOS.
    pub fn translate_ids(
        &mut self,
        batch: &[Vec<u32>],
        opts: &DecodeOptions,
    ) -> Result<Vec<Vec<u32>>> {
        Ok(self.translate_ids_with_stats(batch, opts)?.0)
    }

    /// [`MarianModel::translate_ids`], also saying how many decoder rows ran
    /// (sentences leave the batch once their output is final).
    pub fn translate_ids_with_stats(
        &mut self,
        batch: &[Vec<u32>],
        opts: &DecodeOptions,
    ) -> Result<(Vec<Vec<u32>>, DecodeStats)> {
        if batch.is_empty() {
            return Ok((Vec::new(), DecodeStats::default()));
        }
        if opts.max_new_tokens + 1 > self.config().max_position_embeddings {
            return Err(Error::Generation(format!(
                "max_new_tokens {} exceeds the model's {} target positions",
                opts.max_new_tokens,
                self.config().max_position_embeddings - 1
            )));
        }
        if opts.max_new_tokens == 0 {
            return Ok((vec![Vec::new(); batch.len()], DecodeStats::default()));
        }
        let (ids, lengths) = self.pad_batch(batch)?;
        // The whole translation runs on a worker of rayon's pool: the GEMMs'
        // parallel loops then start from inside the pool (work stealing)
        // instead of injecting a job and waking the workers from outside at
        // every call, dozens of times per decoder step.
        let (net, rules) = (&self.net, &self.rules);
        rayon::scope(|_| {
            let (enc, mask) = net.encode(&ids, &lengths)?;
            let cross = net.cross_cache(&enc, &mask)?;
            if opts.num_beams <= 1 {
                generate::greedy(net, cross, batch.len(), rules, opts)
            } else {
                generate::beam_search(net, cross, batch.len(), rules, opts)
            }
        })
    }
}

impl DecodeOptions {
    /// Decoding defaults of a model directory: `generation_config.json`, or the
    /// generation keys of `config.json` for old checkpoints, with transformers'
    /// defaults for missing keys.
    pub fn from_generation_config(dir: &Path) -> Result<Self> {
        let gen = generation_config(dir)?;
        let path = if dir.join("generation_config.json").exists() {
            dir.join("generation_config.json")
        } else {
            dir.join("config.json")
        };
        let early_stopping = gen
            .early_stopping()
            .map_err(|e| Error::model_file(&path, e))?;
        let max_new_tokens = match (gen.max_new_tokens, gen.max_length) {
            (Some(n), _) => n,
            (None, Some(l)) => l.saturating_sub(1),
            (None, None) => 19, // transformers' max_length default of 20
        };
        let min_new_tokens = gen
            .min_new_tokens
            .unwrap_or(0)
            .max(gen.min_length.unwrap_or(0).saturating_sub(1));
        Ok(Self {
            num_beams: gen.num_beams.unwrap_or(1).max(1),
            max_new_tokens,
            length_penalty: gen.length_penalty.unwrap_or(1.0),
            early_stopping,
            no_repeat_ngram_size: gen.no_repeat_ngram_size.unwrap_or(0),
            min_new_tokens,
            suppress_eos: false,
        })
    }
}
