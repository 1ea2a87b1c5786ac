//! The transformer weights of the supported architectures, behind one enum.
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2};

/// Architectures (`general.architecture`) this engine runs.
pub(crate) const SUPPORTED: &[&str] = &["llama", "qwen2", "gemma3"];

/// Quantized weights with their KV cache inside.
pub(crate) enum Weights {
    Llama(Box<quantized_llama::ModelWeights>),
    Qwen2(Box<quantized_qwen2::ModelWeights>),
    Gemma3(Box<quantized_gemma3::ModelWeights>),
}

impl Weights {
    pub fn load(
        architecture: &str,
        content: candle_core::quantized::gguf_file::Content,
        reader: &mut std::io::BufReader<std::fs::File>,
        device: &Device,
    ) -> candle_core::Result<Self> {
        Ok(match architecture {
            "llama" => Weights::Llama(Box::new(quantized_llama::ModelWeights::from_gguf(
                content, reader, device,
            )?)),
            "qwen2" => Weights::Qwen2(Box::new(quantized_qwen2::ModelWeights::from_gguf(
                content, reader, device,
            )?)),
            "gemma3" => Weights::Gemma3(Box::new(quantized_gemma3::ModelWeights::from_gguf(
                content, reader, device,
            )?)),
            other => candle_core::bail!("unsupported architecture `{other}`"),
        })
    }

    /// The longest sequence the implementation's position tables cover.
    pub fn max_positions(&self) -> usize {
        match self {
            Weights::Llama(_) => quantized_llama::MAX_SEQ_LEN,
            Weights::Qwen2(_) => usize::MAX,
            Weights::Gemma3(_) => quantized_gemma3::MAX_SEQ_LEN,
        }
    }

    /// Logits of the last position for `ids` (shape `(1, n)`) placed at
    /// `index_pos`. `index_pos == 0` starts a new sequence: every model
    /// replaces its KV cache then, so no explicit reset is needed.
    /// Multi-token inputs are only ever given at `index_pos == 0` (Gemma 3's
    /// mask does not support a multi-token chunk after a cached prefix).
    pub fn forward(&mut self, ids: &Tensor, index_pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Llama(m) => m.forward(ids, index_pos),
            Weights::Qwen2(m) => m.forward(ids, index_pos),
            Weights::Gemma3(m) => m.forward(ids, index_pos),
        }
    }
}
