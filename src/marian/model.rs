//! The Marian transformer (encoder-decoder) as HF transformers' `MarianMTModel` runs it.
//!
//! Post-LN layers, sinusoidal static positions (sin in the first half of the
//! channels, cos in the second), optional `sqrt(d_model)` embedding scale,
//! shared or separate source/target embeddings and a `final_logits_bias`.
//!
//! Unlike candle-transformers' `marian.rs` this model is batch-aware: the
//! encoder takes a key-padding mask, cross-attention keys/values are computed
//! once per batch ([`CrossCache`]), the decoder self-attention keeps a
//! preallocated host KV cache ([`SelfCache`], `super::kv`) that beam search
//! reorders row by row, and the linear layers can run on int8 weights
//! ([`Quant::Q8`], `super::int8`).
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{CpuStorage, DType, Device, Module, Storage, Tensor};
use candle_nn::{LayerNorm, VarBuilder};
use serde::Deserialize;

use super::f32gemm::F32Matrix;
use super::int8::Int8Matrix;
use super::kv::{CrossKv, KvCache};
use super::logits::RowTop;

/// Activation function named by `activation_function` in config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Activation {
    /// `swish` / `silu`: `x * sigmoid(x)` (opus-mt models).
    #[serde(alias = "swish", alias = "silu")]
    Swish,
    /// `relu` (opus-mt-tc-big models).
    #[serde(alias = "relu")]
    Relu,
    /// `gelu`: the exact (erf) GELU.
    #[serde(alias = "gelu")]
    Gelu,
    /// `gelu_new`: the tanh approximation.
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
}

impl Activation {
    fn apply(self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Swish => candle_nn::ops::silu(xs),
            Activation::Relu => xs.relu(),
            Activation::Gelu => xs.gelu_erf(),
            Activation::GeluTanh => xs.gelu(),
        }
    }
}

/// `config.json` of a Marian model. Missing fields take `MarianConfig`'s defaults.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    /// Target vocabulary size when source and target embeddings are separate.
    #[serde(default)]
    pub decoder_vocab_size: Option<usize>,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::d_model")]
    pub d_model: usize,
    #[serde(default = "defaults::layers")]
    pub encoder_layers: usize,
    #[serde(default = "defaults::ffn")]
    pub encoder_ffn_dim: usize,
    #[serde(default = "defaults::heads")]
    pub encoder_attention_heads: usize,
    #[serde(default = "defaults::layers")]
    pub decoder_layers: usize,
    #[serde(default = "defaults::ffn")]
    pub decoder_ffn_dim: usize,
    #[serde(default = "defaults::heads")]
    pub decoder_attention_heads: usize,
    #[serde(default = "defaults::activation")]
    pub activation_function: Activation,
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default = "defaults::pad")]
    pub pad_token_id: u32,
    #[serde(default)]
    pub eos_token_id: u32,
    #[serde(default = "defaults::pad")]
    pub decoder_start_token_id: u32,
    /// Token forced at the last position allowed by `max_length`.
    #[serde(default)]
    pub forced_eos_token_id: Option<u32>,
    #[serde(default = "defaults::yes")]
    pub share_encoder_decoder_embeddings: bool,
    #[serde(default = "defaults::yes")]
    pub tie_word_embeddings: bool,
    /// Pre-LN layers; HF's Marian is always post-LN, so `true` is rejected.
    #[serde(default)]
    pub normalize_before: bool,
    /// Generation defaults that old checkpoints keep in config.json.
    #[serde(default)]
    pub num_beams: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub bad_words_ids: Option<Vec<Vec<u32>>>,
}

mod defaults {
    use super::Activation;
    pub fn vocab_size() -> usize {
        58101
    }
    pub fn max_position_embeddings() -> usize {
        1024
    }
    pub fn d_model() -> usize {
        1024
    }
    pub fn layers() -> usize {
        12
    }
    pub fn ffn() -> usize {
        4096
    }
    pub fn heads() -> usize {
        16
    }
    pub fn activation() -> Activation {
        Activation::Gelu
    }
    pub fn pad() -> u32 {
        58100
    }
    pub fn yes() -> bool {
        true
    }
}

impl Config {
    /// Size of the target vocabulary (rows of the output projection).
    pub fn target_vocab_size(&self) -> usize {
        self.decoder_vocab_size.unwrap_or(self.vocab_size)
    }
}

/// How linear-layer weights are stored and multiplied (`quantize` in
/// `models.toml`: `"f32"` or `"q8"`).
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
#[serde(rename_all = "lowercase")]
pub enum Quant {
    /// Full-precision f32 weights (on CPUs with AVX-512, packed once at load
    /// for the engine's own f32 GEMM).
    #[default]
    F32,
    /// Int8 weights for every linear layer and the output projection: on CPU
    /// per-channel int8 with a VNNI GEMM ([`super::int8`]), elsewhere candle's
    /// Q8_0; activations are quantized per row on the fly.
    Q8,
}

/// A linear layer `y = x W^T + b` on 2-D inputs: f32 (packed or candle's) or int8.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight: Weight,
    bias: Option<Tensor>,
}

#[derive(Debug, Clone)]
enum Weight {
    Dense(Tensor),
    /// CPU: the weight packed once for an own GEMM, bias fused: int8
    /// ([`Int8Matrix`]) or, with AVX-512, f32 ([`F32Matrix`]).
    Host(std::sync::Arc<dyn HostGemm>),
    /// Other devices: candle's Q8_0.
    Quantized(QMatMul),
}

impl Linear {
    fn from_weights(w: Tensor, bias: Option<Tensor>, quant: Quant) -> candle_core::Result<Self> {
        type Pack = fn(&[f32], usize, usize, Option<&[f32]>) -> std::sync::Arc<dyn HostGemm>;
        let (out_dim, in_dim) = w.dims2()?;
        let cpu = w.device().is_cpu();
        let host: Option<Pack> = match quant {
            Quant::Q8 if cpu && in_dim % 4 == 0 => {
                Some(|w, n, k, b| std::sync::Arc::new(Int8Matrix::new(w, n, k, b)))
            }
            Quant::F32 if cpu && F32Matrix::available() => {
                Some(|w, n, k, b| std::sync::Arc::new(F32Matrix::new(w, n, k, b)))
            }
            _ => None,
        };
        if let Some(pack) = host {
            let b = bias.as_ref().map(|b| b.to_vec1::<f32>()).transpose()?;
            let m = with_host_f32(&w, |data| pack(data, out_dim, in_dim, b.as_deref()))?;
            return Ok(Self {
                weight: Weight::Host(m),
                bias: None,
            });
        }
        let weight = match quant {
            Quant::Q8 if in_dim % GgmlDType::Q8_0.block_size() == 0 => {
                let q = QTensor::quantize(&w, GgmlDType::Q8_0)?;
                Weight::Quantized(QMatMul::from_qtensor(q)?)
            }
            _ => Weight::Dense(w),
        };
        Ok(Self { weight, bias })
    }

    fn load(
        in_dim: usize,
        out_dim: usize,
        quant: Quant,
        vb: &VarBuilder,
    ) -> candle_core::Result<Self> {
        let w = vb.get((out_dim, in_dim), "weight")?;
        let b = vb.get(out_dim, "bias")?;
        Self::from_weights(w, Some(b), quant)
    }

    /// Stacks several layers with the same input into one (fused projections).
    fn fused(
        parts: &[&str],
        in_dim: usize,
        out_dim: usize,
        quant: Quant,
        vb: &VarBuilder,
    ) -> candle_core::Result<Self> {
        let mut ws = Vec::with_capacity(parts.len());
        let mut bs = Vec::with_capacity(parts.len());
        for p in parts {
            ws.push(vb.pp(*p).get((out_dim, in_dim), "weight")?);
            bs.push(vb.pp(*p).get(out_dim, "bias")?);
        }
        Self::from_weights(Tensor::cat(&ws, 0)?, Some(Tensor::cat(&bs, 0)?), quant)
    }

    /// The output projection of a decode step reduced per row (see
    /// [`super::logits`]): host GEMMs reduce each chunk of columns as they
    /// make it; other weights materialize the logits and reduce them the
    /// same way.
    pub(crate) fn forward_top(
        &self,
        x: &Tensor,
        k: usize,
        banned: &[Vec<u32>],
    ) -> candle_core::Result<Vec<RowTop>> {
        let m = x.dim(0)?;
        match &self.weight {
            Weight::Host(h) => with_host_f32(x, |data| h.forward_top(data, m, k, banned)),
            _ => {
                let y = self.forward(x)?;
                let n = y.dim(1)?;
                let logits = y.flatten_all()?.to_vec1::<f32>()?;
                Ok(super::logits::reduce_logits(&logits, m, n, k, banned))
            }
        }
    }

    /// `x`: `(rows, in)` → `(rows, out)`.
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.weight {
            Weight::Dense(w) => x.matmul(&w.t()?)?,
            Weight::Host(h) => {
                let m = x.dim(0)?;
                let mut y = Vec::new();
                with_host_f32(x, |data| h.forward_into(data, m, &mut y))?;
                Tensor::from_vec(y, (m, h.out_dim()), x.device())?
            }
            Weight::Quantized(q) => q.forward(x)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// A linear layer's GEMM on the host with its weight packed at load and the
/// bias fused: `x` row-major `(m, in)` → `out` row-major `(m, out)`.
trait HostGemm: std::fmt::Debug + Send + Sync {
    fn out_dim(&self) -> usize;
    fn forward_into(&self, x: &[f32], m: usize, out: &mut Vec<f32>);
    /// The reduced output projection ([`Linear::forward_top`]).
    fn forward_top(&self, x: &[f32], m: usize, k: usize, banned: &[Vec<u32>]) -> Vec<RowTop>;
}

impl HostGemm for Int8Matrix {
    fn out_dim(&self) -> usize {
        Int8Matrix::out_dim(self)
    }
    fn forward_into(&self, x: &[f32], m: usize, out: &mut Vec<f32>) {
        Int8Matrix::forward_into(self, x, m, out)
    }
    fn forward_top(&self, x: &[f32], m: usize, k: usize, banned: &[Vec<u32>]) -> Vec<RowTop> {
        Int8Matrix::forward_top(self, x, m, k, banned)
    }
}

impl HostGemm for F32Matrix {
    fn out_dim(&self) -> usize {
        F32Matrix::out_dim(self)
    }
    fn forward_into(&self, x: &[f32], m: usize, out: &mut Vec<f32>) {
        F32Matrix::forward_into(self, x, m, out)
    }
    fn forward_top(&self, x: &[f32], m: usize, k: usize, banned: &[Vec<u32>]) -> Vec<RowTop> {
        F32Matrix::forward_top(self, x, m, k, banned)
    }
}

/// Runs `f` on the row-major f32 data of a CPU tensor, in place when the
/// tensor is contiguous f32 (no copy of a large weight while it is quantized).
fn with_host_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            return Ok(f(&v[a..b]));
        }
    }
    Ok(f(&t.flatten_all()?.to_vec1::<f32>()?))
}

fn layer_norm(dim: usize, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    candle_nn::layer_norm(dim, 1e-5, vb)
}

/// Marian's sinusoidal table: row `p`, channel `j < d/2` is `sin(p / 10000^(2j/d))`,
/// channel `d/2 + j` is `cos(p / 10000^(2j/d))`. Computed in f64 like HF's numpy.
fn sinusoidal_table(n_pos: usize, dim: usize, dev: &Device) -> candle_core::Result<Tensor> {
    let half = dim.div_ceil(2);
    let mut data = vec![0f32; n_pos * dim];
    for pos in 0..n_pos {
        let row = &mut data[pos * dim..(pos + 1) * dim];
        for j in 0..dim {
            // HF: angle(pos, j) = pos / 10000^(2*(j//2)/dim); even j → sin half, odd j → cos half.
            let angle = pos as f64 / 10000f64.powf((2 * (j / 2)) as f64 / dim as f64);
            if j % 2 == 0 {
                row[j / 2] = angle.sin() as f32;
            } else {
                row[half + j / 2] = angle.cos() as f32;
            }
        }
    }
    Tensor::from_vec(data, (n_pos, dim), dev)
}

/// Multi-head attention with fused projections.
#[derive(Debug, Clone)]
struct Attention {
    /// Self-attention: fused q|k|v. Cross-attention: q only.
    in_proj: Linear,
    /// Cross-attention only: fused k|v applied to the encoder states.
    kv_proj: Option<Linear>,
    out_proj: Linear,
    num_heads: usize,
    head_dim: usize,
    scaling: f64,
}

impl Attention {
    fn new(
        d: usize,
        heads: usize,
        cross: bool,
        quant: Quant,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let (in_proj, kv_proj) = if cross {
            (
                Linear::load(d, d, quant, &vb.pp("q_proj"))?,
                Some(Linear::fused(&["k_proj", "v_proj"], d, d, quant, &vb)?),
            )
        } else {
            (
                Linear::fused(&["q_proj", "k_proj", "v_proj"], d, d, quant, &vb)?,
                None,
            )
        };
        let head_dim = d / heads;
        Ok(Self {
            in_proj,
            kv_proj,
            out_proj: Linear::load(d, d, quant, &vb.pp("out_proj"))?,
            num_heads: heads,
            head_dim,
            scaling: (head_dim as f64).powf(-0.5),
        })
    }

    /// `(rows, d)` viewed as `(n, t, H, hd)` → `(n, H, t, hd)` contiguous.
    fn heads(&self, x: &Tensor, n: usize, t: usize) -> candle_core::Result<Tensor> {
        x.reshape((n, t, self.num_heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `(n, H, t, hd)` → `(n * t, d)`.
    fn merge(&self, x: &Tensor, n: usize, t: usize) -> candle_core::Result<Tensor> {
        x.transpose(1, 2)?
            .reshape((n * t, self.num_heads * self.head_dim))
    }

    /// Splits a fused projection `(rows, k*d)` into `k` contiguous `(rows, d)` parts.
    fn split(x: &Tensor, k: usize) -> candle_core::Result<Vec<Tensor>> {
        let d = x.dim(1)? / k;
        (0..k)
            .map(|i| x.narrow(1, i * d, d)?.contiguous())
            .collect()
    }

    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let w = q.matmul(&k.t()?)?;
        let w = match mask {
            Some(m) => w.broadcast_add(m)?,
            None => w,
        };
        candle_nn::ops::softmax_last_dim(&w)?.matmul(v)
    }

    /// Encoder self-attention over `(b*t, d)` with an additive key mask `(b,1,1,t)`.
    fn forward_full(
        &self,
        x: &Tensor,
        b: usize,
        t: usize,
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let qkv = Self::split(&self.in_proj.forward(x)?, 3)?;
        let q = self.heads(&(&qkv[0] * self.scaling)?, b, t)?;
        let k = self.heads(&qkv[1], b, t)?;
        let v = self.heads(&qkv[2], b, t)?;
        let o = self.attend(&q, &k, &v, Some(mask))?;
        self.out_proj.forward(&self.merge(&o, b, t)?)
    }

    /// Decoder self-attention for `t` new positions of `n` rows, appending to `cache`.
    fn forward_cached(
        &self,
        x: &Tensor,
        n: usize,
        t: usize,
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let d = self.num_heads * self.head_dim;
        let qkv = self.in_proj.forward(x)?.flatten_all()?.to_vec1::<f32>()?;
        let rows = n * t;
        let mut q = Vec::with_capacity(rows * d);
        let mut k = Vec::with_capacity(rows * d);
        let mut v = Vec::with_capacity(rows * d);
        let scale = self.scaling as f32;
        for r in qkv.chunks_exact(3 * d) {
            q.extend(r[..d].iter().map(|&x| x * scale));
            k.extend_from_slice(&r[d..2 * d]);
            v.extend_from_slice(&r[2 * d..]);
        }
        cache.append(&k, &v, t).map_err(candle_core::Error::msg)?;
        let o = Tensor::from_vec(cache.attend(&q, t), (rows, d), x.device())?;
        self.out_proj.forward(&o)
    }

    /// Cross-attention: keys/values `(b, H, s, hd)` of the encoder; `x` holds
    /// `b * g` rows (g hypotheses per sentence) of `t` positions each.
    fn forward_cross(
        &self,
        x: &Tensor,
        b: usize,
        rows_per_sentence: usize,
        kv: &(Tensor, Tensor),
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        if x.device().is_cpu() {
            return self.forward_cross_host(x, rows_per_sentence, kv, mask);
        }
        let q = (self.in_proj.forward(x)? * self.scaling)?;
        let q = self.heads(&q, b, rows_per_sentence)?;
        let o = self.attend(&q, &kv.0, &kv.1, Some(mask))?;
        self.out_proj
            .forward(&self.merge(&o, b, rows_per_sentence)?)
    }

    /// [`Attention::forward_cross`] on the host: one kernel per query row
    /// ([`CrossKv::attend`]) instead of candle's batched matmuls, which pack
    /// their few-row operands on every call.
    fn forward_cross_host(
        &self,
        x: &Tensor,
        rows_per_sentence: usize,
        kv: &(Tensor, Tensor),
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let s = kv.0.dim(2)?;
        let scale = self.scaling as f32;
        let mut q = self.in_proj.forward(x)?.flatten_all()?.to_vec1::<f32>()?;
        for v in &mut q {
            *v *= scale;
        }
        let o = with_host_f32(&kv.0, |k| {
            with_host_f32(&kv.1, |v| {
                with_host_f32(mask, |mask| {
                    CrossKv {
                        k,
                        v,
                        mask,
                        heads: self.num_heads,
                        s,
                        hd: self.head_dim,
                    }
                    .attend(&q, rows_per_sentence)
                })
            })
        })???;
        let rows = x.dim(0)?;
        self.out_proj.forward(&Tensor::from_vec(
            o,
            (rows, self.num_heads * self.head_dim),
            x.device(),
        )?)
    }

    /// Encoder states `(b*s, d)` → cross-attention keys and values `(b, H, s, hd)`.
    fn cross_kv(&self, enc: &Tensor, b: usize, s: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let proj = self
            .kv_proj
            .as_ref()
            .expect("cross-attention has a key/value projection");
        let kv = Self::split(&proj.forward(enc)?, 2)?;
        Ok((self.heads(&kv[0], b, s)?, self.heads(&kv[1], b, s)?))
    }
}

/// Decoder self-attention caches of all layers.
#[derive(Debug, Clone)]
pub struct SelfCache {
    layers: Vec<KvCache>,
}

impl SelfCache {
    /// Number of target positions already in the cache.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, KvCache::len)
    }

    /// Whether no position has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reorders rows (beam hypotheses): row `i` becomes old row `idx[i]`.
    pub fn reorder(&mut self, idx: &[u32]) {
        self.layers.iter_mut().for_each(|l| l.reorder(idx));
    }

    /// Keeps only the rows `keep` (strictly increasing), in that order.
    pub fn retain(&mut self, keep: &[usize]) {
        self.layers.iter_mut().for_each(|l| l.retain(keep));
    }
}

/// Per-batch encoder-side state: cross-attention keys/values of every decoder
/// layer and the additive key mask.
#[derive(Debug, Clone)]
pub struct CrossCache {
    kv: Vec<(Tensor, Tensor)>,
    /// `(b, 1, 1, s)`: 0 for real tokens, -inf for padding.
    mask: Tensor,
    batch: usize,
}

impl CrossCache {
    /// The states of the sentences `keep` only (indices into this batch), in that order.
    pub fn retain(&self, keep: &[usize]) -> candle_core::Result<Self> {
        let idx: Vec<u32> = keep.iter().map(|&i| i as u32).collect();
        let idx = Tensor::from_vec(idx, keep.len(), self.mask.device())?;
        Ok(Self {
            kv: self
                .kv
                .iter()
                .map(|(k, v)| Ok((k.index_select(&idx, 0)?, v.index_select(&idx, 0)?)))
                .collect::<candle_core::Result<_>>()?,
            mask: self.mask.index_select(&idx, 0)?,
            batch: keep.len(),
        })
    }
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    act: Activation,
}

impl EncoderLayer {
    fn new(cfg: &Config, quant: Quant, vb: VarBuilder) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        Ok(Self {
            self_attn: Attention::new(
                d,
                cfg.encoder_attention_heads,
                false,
                quant,
                vb.pp("self_attn"),
            )?,
            self_attn_layer_norm: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
            fc1: Linear::load(d, cfg.encoder_ffn_dim, quant, &vb.pp("fc1"))?,
            fc2: Linear::load(cfg.encoder_ffn_dim, d, quant, &vb.pp("fc2"))?,
            final_layer_norm: layer_norm(d, vb.pp("final_layer_norm"))?,
            act: cfg.activation_function,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        b: usize,
        t: usize,
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let h = (self.self_attn.forward_full(x, b, t, mask)? + x)?;
        let h = self.self_attn_layer_norm.forward(&h)?;
        let f = self.fc2.forward(&self.act.apply(&self.fc1.forward(&h)?)?)?;
        self.final_layer_norm.forward(&(f + h)?)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    act: Activation,
}

impl DecoderLayer {
    fn new(cfg: &Config, quant: Quant, vb: VarBuilder) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        let h = cfg.decoder_attention_heads;
        Ok(Self {
            self_attn: Attention::new(d, h, false, quant, vb.pp("self_attn"))?,
            self_attn_layer_norm: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
            encoder_attn: Attention::new(d, h, true, quant, vb.pp("encoder_attn"))?,
            encoder_attn_layer_norm: layer_norm(d, vb.pp("encoder_attn_layer_norm"))?,
            fc1: Linear::load(d, cfg.decoder_ffn_dim, quant, &vb.pp("fc1"))?,
            fc2: Linear::load(cfg.decoder_ffn_dim, d, quant, &vb.pp("fc2"))?,
            final_layer_norm: layer_norm(d, vb.pp("final_layer_norm"))?,
            act: cfg.activation_function,
        })
    }
}

/// Looks a tensor up under the first of several names the checkpoint may use.
fn get_any(vb: &VarBuilder, shape: (usize, usize), names: &[&str]) -> candle_core::Result<Tensor> {
    for n in names {
        if vb.contains_tensor(n) {
            return vb.get(shape, n);
        }
    }
    candle_core::bail!("none of the tensors {names:?} is in the checkpoint")
}

/// The Marian network: encoder, decoder, output projection.
#[derive(Debug, Clone)]
pub struct Marian {
    cfg: Config,
    enc_embed: Tensor,
    dec_embed: Tensor,
    positions: Tensor,
    embed_scale: f64,
    encoder: Vec<EncoderLayer>,
    decoder: Vec<DecoderLayer>,
    lm_head: Linear,
    device: Device,
}

impl Marian {
    /// Builds the network from checkpoint tensors named as HF saves `MarianMTModel`.
    pub fn new(cfg: &Config, quant: Quant, vb: VarBuilder) -> candle_core::Result<Self> {
        let d = cfg.d_model;
        let src_v = cfg.vocab_size;
        let tgt_v = cfg.target_vocab_size();
        // One table when the embeddings are shared (HF ties the encoder's,
        // the decoder's and `model.shared` to one parameter): read it once.
        let (enc_embed, dec_embed) = if cfg.share_encoder_decoder_embeddings {
            if tgt_v != src_v {
                candle_core::bail!(
                    "shared embeddings need decoder_vocab_size {tgt_v} == vocab_size {src_v}"
                )
            }
            let t = get_any(
                &vb,
                (src_v, d),
                &[
                    "model.shared.weight",
                    "model.encoder.embed_tokens.weight",
                    "model.decoder.embed_tokens.weight",
                ],
            )?;
            (t.clone(), t)
        } else {
            (
                get_any(
                    &vb,
                    (src_v, d),
                    &["model.encoder.embed_tokens.weight", "model.shared.weight"],
                )?,
                get_any(&vb, (tgt_v, d), &["model.decoder.embed_tokens.weight"])?,
            )
        };
        let head_w = if !cfg.tie_word_embeddings && vb.contains_tensor("lm_head.weight") {
            vb.get((tgt_v, d), "lm_head.weight")?
        } else {
            dec_embed.clone()
        };
        let bias = if vb.contains_tensor("final_logits_bias") {
            vb.get((1, tgt_v), "final_logits_bias")?.reshape(tgt_v)?
        } else {
            Tensor::zeros(tgt_v, DType::F32, vb.device())?
        };
        let lm_head = Linear::from_weights(head_w, Some(bias), quant)?;
        let encoder = (0..cfg.encoder_layers)
            .map(|i| EncoderLayer::new(cfg, quant, vb.pp("model.encoder.layers").pp(i)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let decoder = (0..cfg.decoder_layers)
            .map(|i| DecoderLayer::new(cfg, quant, vb.pp("model.decoder.layers").pp(i)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            enc_embed,
            dec_embed,
            positions: sinusoidal_table(cfg.max_position_embeddings, d, vb.device())?,
            embed_scale: if cfg.scale_embedding {
                (d as f64).sqrt()
            } else {
                1.0
            },
            encoder,
            decoder,
            lm_head,
            device: vb.device().clone(),
        })
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token embeddings (scaled) plus positions `offset..offset+t`, as `(n*t, d)`.
    fn embed(&self, table: &Tensor, ids: &Tensor, offset: usize) -> candle_core::Result<Tensor> {
        let (n, t) = ids.dims2()?;
        let x = table.index_select(&ids.flatten_all()?, 0)?;
        let x = if self.embed_scale != 1.0 {
            (x * self.embed_scale)?
        } else {
            x
        };
        let pos = self.positions.narrow(0, offset, t)?;
        x.reshape((n, t, self.cfg.d_model))?
            .broadcast_add(&pos)?
            .reshape((n * t, self.cfg.d_model))
    }

    /// Encodes right-padded source ids `(b, s)` with `lengths[i]` real tokens each.
    /// Returns the last hidden states `(b, s, d)` and the additive key mask `(b,1,1,s)`.
    pub fn encode(&self, ids: &Tensor, lengths: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
        let (b, s) = ids.dims2()?;
        if s > self.cfg.max_position_embeddings {
            candle_core::bail!(
                "source of {s} tokens exceeds max_position_embeddings {}",
                self.cfg.max_position_embeddings
            )
        }
        let mut mask = vec![0f32; b * s];
        for (i, &len) in lengths.iter().enumerate() {
            for m in &mut mask[i * s + len.min(s)..(i + 1) * s] {
                *m = f32::NEG_INFINITY;
            }
        }
        let mask = Tensor::from_vec(mask, (b, 1, 1, s), &self.device)?;
        let mut x = self.embed(&self.enc_embed, ids, 0)?;
        for layer in &self.encoder {
            x = layer.forward(&x, b, s, &mask)?;
        }
        Ok((x.reshape((b, s, self.cfg.d_model))?, mask))
    }

    /// Cross-attention keys/values of every decoder layer for encoder states `(b, s, d)`.
    pub fn cross_cache(&self, enc: &Tensor, mask: &Tensor) -> candle_core::Result<CrossCache> {
        let (b, s, d) = enc.dims3()?;
        let flat = enc.reshape((b * s, d))?;
        let kv = self
            .decoder
            .iter()
            .map(|l| l.encoder_attn.cross_kv(&flat, b, s))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(CrossCache {
            kv,
            mask: mask.clone(),
            batch: b,
        })
    }

    /// An empty decoder self-attention cache for `rows` hypotheses and up to `capacity` positions.
    pub fn self_cache(&self, rows: usize, capacity: usize) -> candle_core::Result<SelfCache> {
        let h = self.cfg.decoder_attention_heads;
        let hd = self.cfg.d_model / h;
        let layers = (0..self.decoder.len())
            .map(|_| KvCache::new(rows, h, capacity, hd))
            .collect();
        Ok(SelfCache { layers })
    }

    /// Runs the decoder on `ids` `(rows, t)` (rows grouped by sentence: `rows / batch`
    /// consecutive hypotheses per sentence), extending `cache`. Returns the last
    /// hidden states `(rows * t, d_model)`.
    fn decode_hidden(
        &self,
        ids: &Tensor,
        cross: &CrossCache,
        cache: &mut SelfCache,
    ) -> candle_core::Result<Tensor> {
        let (n, t) = ids.dims2()?;
        if n % cross.batch != 0 {
            candle_core::bail!("{n} decoder rows for a batch of {}", cross.batch)
        }
        let per = n / cross.batch;
        let past = cache.len();
        if past + t > self.cfg.max_position_embeddings {
            candle_core::bail!("target longer than max_position_embeddings")
        }
        let mut x = self.embed(&self.dec_embed, ids, past)?;
        for (i, layer) in self.decoder.iter().enumerate() {
            let h = layer
                .self_attn
                .forward_cached(&x, n, t, &mut cache.layers[i])?;
            let h = layer.self_attn_layer_norm.forward(&(h + &x)?)?;
            let c = layer.encoder_attn.forward_cross(
                &h,
                cross.batch,
                per * t,
                &cross.kv[i],
                &cross.mask,
            )?;
            let c = layer.encoder_attn_layer_norm.forward(&(c + h)?)?;
            let f = layer
                .fc2
                .forward(&layer.act.apply(&layer.fc1.forward(&c)?)?)?;
            x = layer.final_layer_norm.forward(&(f + c)?)?;
        }
        Ok(x)
    }

    /// Logits `(rows, t, target_vocab)` of every new position (`final_logits_bias` added).
    pub fn decode(
        &self,
        ids: &Tensor,
        cross: &CrossCache,
        cache: &mut SelfCache,
    ) -> candle_core::Result<Tensor> {
        let (n, t) = ids.dims2()?;
        let x = self.decode_hidden(ids, cross, cache)?;
        self.lm_head
            .forward(&x)?
            .reshape((n, t, self.cfg.target_vocab_size()))
    }

    /// The last position's logits of each row reduced to what a search step
    /// needs: max, log-sum-exp and the best `k` tokens, `banned[row]` scoring
    /// `-inf` ([`super::logits`]; the vocabulary-wide logits are never stored
    /// on the host path).
    pub(crate) fn decode_last_top(
        &self,
        ids: &Tensor,
        cross: &CrossCache,
        cache: &mut SelfCache,
        k: usize,
        banned: &[Vec<u32>],
    ) -> candle_core::Result<Vec<RowTop>> {
        let (n, t) = ids.dims2()?;
        let x = self.decode_hidden(ids, cross, cache)?;
        let last = if t == 1 {
            x
        } else {
            x.reshape((n, t, self.cfg.d_model))?
                .narrow(1, t - 1, 1)?
                .reshape((n, self.cfg.d_model))?
        };
        self.lm_head.forward_top(&last, k, banned)
    }
}
