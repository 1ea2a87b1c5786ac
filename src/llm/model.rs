//! The transformer weights of the supported architectures, behind one enum.
use super::gguf::{GgufFile, Metadata};
use super::transformer::Transformer;
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2};
use serde::{Deserialize, Serialize};

/// The model architectures (`general.architecture`) this engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Llama,
    Qwen2,
    Gemma3,
}

impl Architecture {
    pub const ALL: [Architecture; 3] = [
        Architecture::Llama,
        Architecture::Qwen2,
        Architecture::Gemma3,
    ];

    /// The architecture of a `general.architecture` value, if supported.
    pub fn from_gguf(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.gguf_name() == name)
    }

    /// The `general.architecture` value (also the metadata key prefix).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
            Architecture::Gemma3 => "gemma3",
        }
    }
}

/// Which transformer code runs a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Implementation {
    /// This crate's decoder (preallocated KV cache, no KV repeats, Q8_0
    /// for Llama / Qwen2 quantizations without a fast Candle kernel; Gemma 3
    /// as llama.cpp computes it).
    #[default]
    Fast,
    /// candle-transformers' `quantized_llama` / `quantized_qwen2` /
    /// `quantized_gemma3` as they are. The latter is not a reference: its
    /// MLP uses SiLU where Gemma 3 uses GELU, so its output differs from
    /// llama.cpp's (see `transformer.rs`).
    CandleTransformers,
}

/// Quantized weights with their KV cache inside.
pub(crate) enum Weights {
    Fast(Box<Transformer>),
    Llama(Box<quantized_llama::ModelWeights>),
    Qwen2(Box<quantized_qwen2::ModelWeights>),
    Gemma3(Box<quantized_gemma3::ModelWeights>),
}

impl Weights {
    pub fn load(
        path: &std::path::Path,
        architecture: Architecture,
        file: GgufFile,
        device: &Device,
        implementation: Implementation,
        max_positions: usize,
    ) -> crate::Result<Self> {
        let GgufFile {
            content,
            mut reader,
        } = file;
        let reader = &mut reader;
        if implementation == Implementation::Fast {
            let md = Metadata {
                path,
                content: &content,
            };
            return Ok(Weights::Fast(Box::new(Transformer::load(
                &md,
                architecture.gguf_name(),
                reader,
                device,
                max_positions,
            )?)));
        }
        Self::load_candle(architecture, content, reader, device)
            .map_err(|e| crate::Error::model_file(path, format!("loading weights: {e}")))
    }

    fn load_candle(
        architecture: Architecture,
        content: candle_core::quantized::gguf_file::Content,
        reader: &mut std::io::BufReader<std::fs::File>,
        device: &Device,
    ) -> candle_core::Result<Self> {
        Ok(match architecture {
            Architecture::Llama => Weights::Llama(Box::new(
                quantized_llama::ModelWeights::from_gguf(content, reader, device)?,
            )),
            Architecture::Qwen2 => Weights::Qwen2(Box::new(
                quantized_qwen2::ModelWeights::from_gguf(content, reader, device)?,
            )),
            Architecture::Gemma3 => Weights::Gemma3(Box::new(
                quantized_gemma3::ModelWeights::from_gguf(content, reader, device)?,
            )),
        })
    }

    /// The longest sequence the implementation's position tables cover.
    pub fn max_positions(&self) -> usize {
        match self {
            Weights::Fast(_) => usize::MAX,
            Weights::Llama(_) => quantized_llama::MAX_SEQ_LEN,
            Weights::Qwen2(_) => usize::MAX,
            Weights::Gemma3(_) => quantized_gemma3::MAX_SEQ_LEN,
        }
    }

    /// Prepare for a sequence of `n` positions.
    pub fn reserve(&mut self, n: usize) {
        if let Weights::Fast(m) = self {
            m.reserve(n);
        }
    }

    /// Logits of the last position for `ids` (shape `(1, n)`) placed at
    /// `index_pos`. `index_pos == 0` starts a new sequence: every model
    /// replaces its KV cache then, so no explicit reset is needed.
    /// Multi-token inputs are only ever given at `index_pos == 0` (Gemma 3's
    /// mask does not support a multi-token chunk after a cached prefix).
    pub fn forward(&mut self, ids: &Tensor, index_pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Fast(m) => m.forward(ids, index_pos),
            Weights::Llama(m) => m.forward(ids, index_pos),
            Weights::Qwen2(m) => m.forward(ids, index_pos),
            Weights::Gemma3(m) => m.forward(ids, index_pos),
        }
    }
}
