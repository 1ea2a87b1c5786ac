//! Decoder for the Llama, Qwen2 and Gemma 3 families with a preallocated KV
//! cache.
//!
//! Same mathematics as candle-transformers' `quantized_llama` /
//! `quantized_qwen2` (and llama.cpp's `gemma3` graph), arranged for CPU
//! decoding speed:
//! * the KV cache is one contiguous buffer per layer, written in place
//!   (no `Tensor::cat` of the whole cache for every token);
//! * grouped-query attention multiplies each KV head with its group of
//!   query heads directly (no `repeat_kv` copies);
//! * `Q4_1` and `Q5_0` weights run on this crate's SIMD kernels
//!   (`kernels.rs`; Candle's are scalar loops); where those are not
//!   available (no AVX2, or off the CPU), and for `Q5_1`, such weights are
//!   re-quantized to `Q8_0` at load.
//!
//! On CUDA (`--features cuda`, `runtime.device = "cuda"`) the weights and the
//! KV cache live on the GPU; only the fused one-token attention is CPU-only,
//! and off the CPU the tensor path computes it instead.
//!
//! Memory: quantized weights are read in place from a memory map of the
//! file, and those Candle runs from its repacked copy are not held a second
//! time (see `mapped.rs`); the token embedding stays quantized (a lookup
//! dequantizes only the rows of its ids); and a long prompt runs in pieces
//! of at most
//! [`PREFILL_ROWS`] rows outside attention and blocks of as many query rows
//! inside it, so that its activations stay a few tens of MB instead of
//! growing with the square of its length. Every piece computes what the
//! whole prompt at once would, bit for bit (see [`pieces`]).
use super::gguf::Metadata;
use super::kernels;
use super::mapped::{Linear, Loaded, Source, Tensors};
use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;
use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

/// Most prompt rows computed at once outside attention, and most (grouped)
/// query rows per attention block: bounds a prompt's activations (4,096
/// positions × 512 rows × 4 B = 8 MB per attention score block, 512 rows ×
/// the MLP width for the MLP).
pub(crate) const PREFILL_ROWS: usize = 512;

/// The smallest piece size [`Transformer::set_prefill_rows`] accepts; see
/// [`pieces`].
const MIN_PREFILL_ROWS: usize = 256;

/// `(start, len)` pieces of `n` rows: at most `max` rows each, as even as
/// possible, one piece when `n <= max`.
///
/// The pieces compute exactly what one pass over all `n` rows computes
/// because every kernel involved treats rows independently *as long as it
/// is the same kernel*: Candle's quantized matmuls pick other kernels for
/// one row (`Q6_K` has a separate one-row path) and AMX ones from 32 rows,
/// and `gemm` picks other blocking for matrices of at most 64 × 64. With
/// `max >= MIN_PREFILL_ROWS`, a split piece has at least `max / 2 >= 128`
/// rows, so it takes the kernels the undivided pass takes.
pub(crate) fn pieces(n: usize, max: usize) -> Vec<(usize, usize)> {
    let count = n.div_ceil(max.max(1)).max(1);
    let (base, extra) = (n / count, n % count);
    (0..count)
        .map(|i| (i * base + i.min(extra), base + usize::from(i < extra)))
        .collect()
}

struct Layer {
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    bq: Option<Tensor>,
    bk: Option<Tensor>,
    bv: Option<Tensor>,
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
    /// Gemma 3: per-head norms of queries and keys, and the norms after
    /// attention and after the MLP.
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    post_attn_norm: Option<RmsNorm>,
    post_ffn_norm: Option<RmsNorm>,
    /// Sliding window: a query at position p sees keys at p - window < k ≤ p
    /// (llama.cpp's `LLAMA_SWA_TYPE_STANDARD`); such layers use the local
    /// rotary tables.
    window: Option<usize>,
}

/// One sequence's keys and values: per layer `(1, n_kv_head, capacity,
/// head_dim)` each, grown on demand in blocks of 256 positions.
#[derive(Default)]
pub(crate) struct KvCache {
    layers: Vec<(Tensor, Tensor)>,
    /// Positions the buffers hold now, and the size to grow them to.
    capacity: usize,
    reserved: usize,
    /// Positions filled.
    filled: usize,
}

impl KvCache {
    /// Grow straight to `n` positions when growing (avoids regrowing).
    pub fn reserve(&mut self, n: usize) {
        self.reserved = n;
    }

    /// A new cache holding this one's first `n` positions (a shared prompt
    /// prefix), sized to them; it grows on demand like any other.
    pub fn prefix_copy(&self, n: usize) -> candle_core::Result<KvCache> {
        if n > self.filled {
            candle_core::bail!("a prefix of {n} positions of a cache of {}", self.filled);
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        for (k, v) in &self.layers {
            layers.push((
                k.narrow(2, 0, n)?.force_contiguous()?,
                v.narrow(2, 0, n)?.force_contiguous()?,
            ));
        }
        Ok(KvCache {
            layers,
            capacity: n,
            reserved: self.reserved.max(n),
            filled: n,
        })
    }

    /// Positions filled.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Forget every position from `n` on (draft tokens not kept).
    pub fn truncate(&mut self, n: usize) {
        self.filled = self.filled.min(n);
    }

    /// Positions a cache reserved for `n` holds once grown: what it costs.
    pub fn capacity_for(n: usize) -> usize {
        n.div_ceil(256) * 256
    }
}

/// Llama / Qwen2 / Gemma 3 weights plus their KV cache.
pub(crate) struct Transformer {
    /// The token embedding table as stored in the file (shared with the
    /// output projection when the model ties them).
    embed: Arc<QTensor>,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    /// Rotary tables of the sliding-window layers (Gemma 3).
    local_rope: Option<(Tensor, Tensor)>,
    neox: bool,
    /// Gemma 3: embeddings times √width, GELU instead of SiLU.
    embed_scale: Option<f64>,
    gelu: bool,
    /// Final logit soft-capping (`final_logit_softcapping`; Gemma 3: none).
    softcap: Option<f64>,
    /// Attention logit scale (1/√head_dim but for Gemma 3 27B).
    attn_scale: f64,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    /// Positions the rotary tables cover (the model's context).
    max_positions: usize,
    /// The cache of [`Transformer::forward`]'s one sequence.
    cache: KvCache,
    /// See [`PREFILL_ROWS`].
    prefill_rows: usize,
}

/// A matmul weight; with `requantize`, formats without a fast kernel become
/// Q8_0 (on the heap; the file's bytes are released).
fn matmul_weight(
    q: Arc<QTensor>,
    source: Option<Source>,
    requantize: bool,
    device: &Device,
) -> Result<Linear> {
    match (requantize, q.dtype()) {
        (true, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1) if !kernels::takes(&q) => {
            let q8 = QTensor::quantize(&q.dequantize(device)?, GgmlDType::Q8_0)?;
            if let Some(s) = &source {
                s.release();
            }
            Linear::new(Arc::new(q8), None)
        }
        _ => Linear::new(q, source),
    }
}

impl Transformer {
    /// Load an `llama`, `qwen2` or `gemma3` model. `max_positions` bounds
    /// the rotary tables and the KV cache.
    pub fn load(
        md: &Metadata<'_>,
        arch: &str,
        reader: &mut BufReader<File>,
        device: &Device,
        max_positions: usize,
    ) -> crate::Result<Self> {
        let ct = md.content;
        let u = |k: &str| -> crate::Result<usize> {
            let key = format!("{arch}.{k}");
            md.uint(&key)?.map(|v| v as usize).ok_or_else(|| {
                crate::Error::model_file(md.path, format!("missing metadata `{key}`"))
            })
        };
        let f = |k: &str| -> Option<f64> {
            match md.get(&format!("{arch}.{k}")) {
                Some(v) => v.to_f32().ok().map(f64::from),
                None => None,
            }
        };
        let n_head = u("attention.head_count")?;
        let n_kv_head = u("attention.head_count_kv")?;
        let hidden = u("embedding_length")?;
        let n_layer = u("block_count")?;
        let eps = f("attention.layer_norm_rms_epsilon").unwrap_or(1e-6);
        let rope_base = f("rope.freq_base").unwrap_or(10_000.0) as f32;
        if n_head == 0 || n_kv_head == 0 || hidden % n_head != 0 || n_head % n_kv_head != 0 {
            return Err(crate::Error::model_file(
                md.path,
                format!(
                    "bad attention shape: {n_head} heads, {n_kv_head} KV heads, width {hidden}"
                ),
            ));
        }
        let gemma = arch == "gemma3";
        // Gemma 3's heads are wider than width / heads (256 vs 640 / 4).
        let head_dim = match md.uint(&format!("{arch}.attention.key_length"))? {
            Some(d) => d as usize,
            None => hidden / n_head,
        };
        if let Some(vd) = md.uint(&format!("{arch}.attention.value_length"))? {
            if vd as usize != head_dim {
                return Err(crate::Error::model_file(
                    md.path,
                    format!("value heads of {vd} for key heads of {head_dim} are not supported"),
                ));
            }
        }
        // Gemma 3: every sixth layer is global, the others slide.
        let window = match gemma {
            true => u("attention.sliding_window").ok(),
            false => None,
        };
        // Which layers slide, as llama.cpp's `load_swa_pattern(ml, 6)`: an
        // array of flags, or every n-th layer global (default 6).
        let sliding: Vec<bool> = match md.get(&format!("{arch}.attention.sliding_window_pattern")) {
            Some(Value::Array(flags)) => flags
                .iter()
                .map(|v| matches!(v, Value::Bool(true)))
                .chain(std::iter::repeat(false))
                .take(n_layer)
                .collect(),
            Some(v) => {
                let n = v.to_u32().unwrap_or(6).max(1) as usize;
                (0..n_layer).map(|i| (i + 1) % n != 0).collect()
            }
            None => (0..n_layer).map(|i| (i + 1) % 6 != 0).collect(),
        };
        let rope_base_swa = f("rope.freq_base_swa").unwrap_or(10_000.0) as f32;
        let softcap = f("final_logit_softcapping").filter(|c| gemma && *c > 0.0);
        // llama.cpp: 1/√(width/heads) for the 27B (62 layers), else 1/√head_dim.
        let attn_scale = match gemma && n_layer == 62 {
            true => 1.0 / ((hidden / n_head) as f64).sqrt(),
            false => 1.0 / (head_dim as f64).sqrt(),
        };
        // Linear RoPE scaling of the global layers (Gemma 3 4B and up).
        let rope_scale = match md.string(&format!("{arch}.rope.scaling.type"))? {
            Some("linear") => f("rope.scaling.factor").unwrap_or(1.0) as f32,
            _ => 1.0,
        };
        let rope_dim = match md.uint(&format!("{arch}.rope.dimension_count"))? {
            Some(d) => d as usize,
            None => head_dim,
        };
        if rope_dim != head_dim {
            return Err(crate::Error::model_file(
                md.path,
                format!("partial rotary embedding ({rope_dim} of {head_dim}) is not supported"),
            ));
        }
        let matmul = |t: Loaded| matmul_weight(Arc::new(t.tensor), t.source, !gemma, device);
        let load = |r: &mut BufReader<File>| -> Result<Self> {
            let mut ts = Tensors::new(ct, r, device);
            let embed = ts.get("token_embd.weight")?;
            if embed.tensor.shape().dims2()?.1 != hidden {
                candle_core::bail!(
                    "token_embd.weight {:?} for width {hidden}",
                    embed.tensor.shape()
                );
            }
            let embed_source = embed.source.clone();
            let mut embed = Arc::new(embed.tensor);
            let output = match ts.has("output.weight") {
                true => matmul(ts.get("output.weight")?)?,
                false => {
                    let output = matmul_weight(embed.clone(), embed_source, !gemma, device)?;
                    // Where the output projection keeps the table (a heap
                    // copy), the lookups read it there too.
                    if let Some(q) = output.qtensor().filter(|q| q.dtype() == embed.dtype()) {
                        embed = q;
                    }
                    output
                }
            };
            let norm = RmsNorm::from_qtensor(ts.get("output_norm.weight")?.tensor, eps)?;
            let mut layers = Vec::with_capacity(n_layer);
            for (i, &slides) in sliding.iter().enumerate() {
                let mut t = |n: &str| ts.get(&format!("blk.{i}.{n}"));
                let bias = |t: Option<QTensor>| t.map(|t| t.dequantize(device)).transpose();
                let has = |n: &str| ct.tensor_infos.contains_key(&format!("blk.{i}.{n}"));
                let (hq, hk, hv) = (has("attn_q.bias"), has("attn_k.bias"), has("attn_v.bias"));
                let mut norm = |n: &str| -> Result<Option<RmsNorm>> {
                    match gemma {
                        true => Ok(Some(RmsNorm::from_qtensor(t(n)?.tensor, eps)?)),
                        false => Ok(None),
                    }
                };
                let q_norm = norm("attn_q_norm.weight")?;
                let k_norm = norm("attn_k_norm.weight")?;
                let post_attn_norm = norm("post_attention_norm.weight")?;
                let post_ffn_norm = norm("post_ffw_norm.weight")?;
                layers.push(Layer {
                    q_norm,
                    k_norm,
                    post_attn_norm,
                    post_ffn_norm,
                    window: window.filter(|_| slides),
                    wq: matmul(t("attn_q.weight")?)?,
                    wk: matmul(t("attn_k.weight")?)?,
                    wv: matmul(t("attn_v.weight")?)?,
                    wo: matmul(t("attn_output.weight")?)?,
                    bq: bias(hq.then(|| t("attn_q.bias")).transpose()?.map(|t| t.tensor))?,
                    bk: bias(hk.then(|| t("attn_k.bias")).transpose()?.map(|t| t.tensor))?,
                    bv: bias(hv.then(|| t("attn_v.bias")).transpose()?.map(|t| t.tensor))?,
                    attn_norm: RmsNorm::from_qtensor(t("attn_norm.weight")?.tensor, eps)?,
                    ffn_norm: RmsNorm::from_qtensor(t("ffn_norm.weight")?.tensor, eps)?,
                    gate: matmul(t("ffn_gate.weight")?)?,
                    up: matmul(t("ffn_up.weight")?)?,
                    down: matmul(t("ffn_down.weight")?)?,
                });
            }
            let tables = |base: f32, scale: f32| -> Result<(Tensor, Tensor)> {
                let theta: Vec<f32> = (0..head_dim)
                    .step_by(2)
                    .map(|i| 1.0 / base.powf(i as f32 / head_dim as f32) / scale)
                    .collect();
                let theta = Tensor::new(theta.as_slice(), device)?;
                let pos = Tensor::arange(0, max_positions as u32, device)?
                    .to_dtype(DType::F32)?
                    .reshape((max_positions, 1))?;
                let angles = pos.matmul(&theta.reshape((1, head_dim / 2))?)?;
                Ok((angles.cos()?, angles.sin()?))
            };
            let (cos, sin) = tables(rope_base, rope_scale)?;
            let local_rope = match window {
                Some(_) => Some(tables(rope_base_swa, 1.0)?),
                None => None,
            };
            Ok(Self {
                embed,
                layers,
                norm,
                output,
                cos,
                sin,
                local_rope,
                neox: arch == "qwen2" || gemma,
                embed_scale: gemma.then(|| (hidden as f64).sqrt()),
                gelu: gemma,
                softcap,
                attn_scale,
                n_head,
                n_kv_head,
                head_dim,
                max_positions,
                cache: KvCache::default(),
                prefill_rows: PREFILL_ROWS,
            })
        };
        load(reader).map_err(|e| crate::Error::model_file(md.path, format!("loading weights: {e}")))
    }

    /// Size the KV cache for sequences of `n` positions (avoids regrowing).
    pub fn reserve(&mut self, n: usize) {
        self.cache.reserve(n.min(self.max_positions));
    }

    /// Bytes of KV cache per position of one sequence.
    pub fn kv_bytes_per_position(&self) -> usize {
        self.layers.len() * 2 * self.n_kv_head * self.head_dim * DType::F32.size_in_bytes()
    }

    /// The positions the rotary tables cover.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Cut prompts into pieces of at most `rows` rows (at least
    /// [`MIN_PREFILL_ROWS`]; `usize::MAX`: never cut). The results do not
    /// depend on it; only the memory a long prompt needs does.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn set_prefill_rows(&mut self, rows: usize) {
        self.prefill_rows = rows.max(MIN_PREFILL_ROWS);
    }

    /// Make every layer of `cache` hold at least `n` positions, keeping
    /// the first `cache.filled` ones.
    fn grow_cache(&self, cache: &mut KvCache, n: usize, device: &Device) -> Result<()> {
        if n <= cache.capacity {
            return Ok(());
        }
        let cap = KvCache::capacity_for(n.max(cache.reserved.min(self.max_positions)));
        let cap = cap.min(self.max_positions).max(n);
        let shape = (1, self.n_kv_head, cap, self.head_dim);
        let mut layers = Vec::with_capacity(self.layers.len());
        for li in 0..self.layers.len() {
            let k = Tensor::zeros(shape, DType::F32, device)?;
            let v = Tensor::zeros(shape, DType::F32, device)?;
            if let (Some((ok, ov)), true) = (cache.layers.get(li), cache.filled > 0) {
                k.slice_set(&ok.narrow(2, 0, cache.filled)?.contiguous()?, 2, 0)?;
                v.slice_set(&ov.narrow(2, 0, cache.filled)?.contiguous()?, 2, 0)?;
            }
            layers.push((k, v));
        }
        cache.layers = layers;
        cache.capacity = cap;
        Ok(())
    }

    /// The attention of `rows` query rows into `out` (`rows × n_head ×
    /// head_dim`, row-major). `q` is head-major: row `r`'s head `h` starts at
    /// `(h * rows + r) * head_dim`. Row `r` attends over `kv(r)`: the host
    /// key and value buffers of its cache, their capacity, and the positions
    /// it sees. A work item is one row and some query heads of one KV head
    /// (all of them when there are enough items for the pool): the keys and
    /// values it reads are shared by those heads, so it reads them once for
    /// all (grouped-query attention). Each head is computed by [`attend`]'s
    /// arithmetic whatever its company, so a row's result does not depend on
    /// the rows or heads computed with it: the one loop of a decode step (one
    /// sequence or several) and of a prompt.
    fn attend_rows<'k>(
        &self,
        q: &[f32],
        rows: usize,
        kv: impl Fn(usize) -> ((&'k [f32], &'k [f32]), usize, std::ops::Range<usize>) + Sync,
        out: &mut [f32],
    ) {
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let width = n_head * hd;
        assert!(q.len() >= rows * width && out.len() >= rows * width);
        let group = n_head / n_kv;
        let parts = split_for(group, rows * n_kv, candle_core::utils::get_num_threads());
        let per = group / parts;
        let scale = self.attn_scale as f32;
        let out_ptr = out.as_mut_ptr() as usize;
        candle_core::utils::barrier_pool().execute_chunked(rows * n_kv * parts, |units| {
            let (mut scores, mut qs) = (Vec::new(), vec![0f32; per * hd]);
            for unit in units {
                let (r, rest) = (unit % rows, unit / rows);
                let (g, part) = (rest / parts, rest % parts);
                let first = g * group + part * per;
                let ((k, v), cap, keys) = kv(r);
                for (i, dst) in qs.chunks_exact_mut(hd).enumerate() {
                    let at = ((first + i) * rows + r) * hd;
                    dst.copy_from_slice(&q[at..at + hd]);
                }
                let base = g * cap * hd;
                let (lo, hi) = (base + keys.start * hd, base + keys.end * hd);
                scores.resize(per * (keys.len() + 1), 0.0);
                // SAFETY: `out` holds `rows × width` values (asserted above)
                // and outlives this call, which returns when every worker is
                // done; row r's heads first..first + per are this unit's
                // alone (contiguous in a row), so no two workers write the
                // same values, and nothing reads `out` until the call returns.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        (out_ptr as *mut f32).add(r * width + first * hd),
                        per * hd,
                    )
                };
                attend(&qs, hd, (&k[lo..hi], &v[lo..hi]), scale, &mut scores, dst);
            }
        });
    }

    /// Layer `li`'s attention of `seq` query rows `q` (`(1, n_head, seq,
    /// head_dim)`: a prompt's, or one new position's) placed at `pos`, each
    /// row over exactly the keys it sees, by the [`attend`] a decode step at
    /// that position runs, directly on the CPU cache buffers (rows and heads
    /// spread over the thread pool; no matrix packing), as
    /// `(1, seq, n_head * head_dim)`. A row's result does not depend on the rows computed
    /// with it, so a prompt gives the same bits in one pass, in pieces, or
    /// after a prefix taken from another sequence's cache. `None` off the
    /// CPU: on CUDA the cache stays on the device and
    /// [`Transformer::attention`] runs the same attention as tensor
    /// operations.
    fn host_attention(
        &self,
        li: usize,
        q: &Tensor,
        cache: (&Tensor, &Tensor),
        cap: usize,
        pos: usize,
        seq: usize,
    ) -> Result<Option<Tensor>> {
        if !q.device().is_cpu() {
            return Ok(None);
        }
        let (n_head, hd) = (self.n_head, self.head_dim);
        let qh: Vec<f32> = q.flatten_all()?.to_vec1()?;
        let window = self.layers[li].window;
        let width = n_head * hd;
        let mut out = vec![0f32; seq * width];
        let done = with_host_kv(cache, |k, v| {
            let keys = |i: usize| ((k, v), cap, visible(window, pos + i));
            self.attend_rows(&qh, seq, keys, &mut out)
        });
        match done {
            Some(()) => Ok(Some(Tensor::from_vec(out, (1, seq, width), q.device())?)),
            None => Ok(None),
        }
    }

    fn rope(&self, x: &Tensor, pos: usize, len: usize, local: bool) -> Result<Tensor> {
        let (cos, sin) = match (&self.local_rope, local) {
            (Some((c, s)), true) => (c, s),
            _ => (&self.cos, &self.sin),
        };
        let cos = cos.narrow(0, pos, len)?;
        let sin = sin.narrow(0, pos, len)?;
        if self.neox {
            candle_nn::rotary_emb::rope(x, &cos, &sin)
        } else {
            candle_nn::rotary_emb::rope_i(x, &cos, &sin)
        }
    }

    /// Rotary embedding of rows (dimension 2 of `x`) at the positions
    /// `positions`, one each: the same products as [`Transformer::rope`]
    /// computes for each row at its position.
    fn rope_at(&self, x: &Tensor, positions: &[u32], local: bool) -> Result<Tensor> {
        let (cos, sin) = match (&self.local_rope, local) {
            (Some((c, s)), true) => (c, s),
            _ => (&self.cos, &self.sin),
        };
        let at = Tensor::new(positions, cos.device())?;
        let cos = cos.index_select(&at, 0)?;
        let sin = sin.index_select(&at, 0)?;
        if self.neox {
            candle_nn::rotary_emb::rope(x, &cos, &sin)
        } else {
            candle_nn::rotary_emb::rope_i(x, &cos, &sin)
        }
    }

    /// Logits of the last position of `ids` (shape `(1, n)`) placed at
    /// `pos` in the model's own cache; `pos == 0` starts a new sequence.
    pub fn forward(&mut self, ids: &Tensor, pos: usize) -> Result<Tensor> {
        let mut cache = std::mem::take(&mut self.cache);
        let out = self.forward_in(&mut cache, ids, pos);
        self.cache = cache;
        out
    }

    /// [`Transformer::forward`] on the sequence of `cache`.
    pub fn forward_in(&mut self, cache: &mut KvCache, ids: &Tensor, pos: usize) -> Result<Tensor> {
        let (_, seq) = ids.dims2()?;
        if pos > cache.filled {
            candle_core::bail!("position {pos} after {} cached tokens", cache.filled);
        }
        if pos + seq > self.max_positions {
            candle_core::bail!(
                "sequence of {} exceeds {} positions",
                pos + seq,
                self.max_positions
            );
        }
        cache.filled = pos;
        self.grow_cache(cache, pos + seq, ids.device())?;
        let rows = pieces(seq, self.prefill_rows);
        let mut x = self.embed.embedding(ids)?;
        if let Some(s) = self.embed_scale {
            x = (x * s)?;
        }
        for li in 0..self.layers.len() {
            let q = self.queries(li, cache, &x, pos, &rows)?;
            let (kc, vc) = &cache.layers[li];
            let y = self.attention(li, (kc, vc), cache.capacity, &q, pos, seq)?;
            drop(q);
            x = self.output_and_mlp(li, &x, &y, &rows)?;
        }
        cache.filled = pos + seq;
        let last = x.narrow(1, seq - 1, 1)?.squeeze(1)?;
        let last = self.norm.forward(&last)?;
        let logits = self.output.forward(&last)?;
        self.settle()?;
        match self.softcap {
            Some(c) => (logits / c)?.tanh()? * c,
            None => Ok(logits),
        }
    }

    /// One decode step of several sequences at once: the tokens `rows[i]`
    /// placed after the `caches[i].filled` positions of sequence `i` (one
    /// token, a token and draft tokens after it to verify, or a piece of a
    /// prompt, from position 0 on). Returns the next-token logits of the
    /// last `wanted[i]` rows of each sequence, sequence after sequence,
    /// shape `(rows wanted, vocab)`; `None` when no row is wanted (the
    /// output layer is skipped, as a prompt skips it for all but its last
    /// row).
    ///
    /// The rows of all sequences go through each weight together (one pass
    /// over the weights for all of them); attention runs per row over its
    /// own sequence's cache up to its position. Each row's logits are bit
    /// for bit those of [`Transformer::forward_in`] on its sequence alone,
    /// one token at a time: every kernel computes a row the same way
    /// whatever the other rows are (see [`Linear`]), and a row's attention
    /// is the [`attend`] of a one-token step.
    pub fn decode(
        &mut self,
        caches: &mut [&mut KvCache],
        rows: &[&[u32]],
        wanted: &[usize],
    ) -> Result<Option<Tensor>> {
        let n: usize = rows.iter().map(|r| r.len()).sum();
        if rows.is_empty()
            || caches.len() != rows.len()
            || wanted.len() != rows.len()
            || rows
                .iter()
                .zip(wanted)
                .any(|(r, &w)| r.is_empty() || w > r.len())
        {
            candle_core::bail!("{} token rows for {} sequences", n, caches.len());
        }
        let device = self.cos.device().clone();
        let mut positions = Vec::with_capacity(n);
        for (cache, r) in caches.iter_mut().zip(rows) {
            let pos = cache.filled;
            if pos + r.len() > self.max_positions {
                candle_core::bail!(
                    "decode of {} tokens at position {pos} of {}",
                    r.len(),
                    self.max_positions
                );
            }
            self.grow_cache(cache, pos + r.len(), &device)?;
            positions.extend((pos..pos + r.len()).map(|p| p as u32));
        }
        let tokens: Vec<u32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        let lens: Vec<usize> = rows.iter().map(|r| r.len()).collect();
        let ids = Tensor::new(tokens.as_slice(), &device)?.unsqueeze(0)?;
        let mut x = self.embed.embedding(&ids)?;
        if let Some(s) = self.embed_scale {
            x = (x * s)?;
        }
        for li in 0..self.layers.len() {
            let local = self.layers[li].window.is_some();
            let (q, k, v) = self.qkv(li, &x, n)?;
            let q = self.rope_at(&q, &positions, local)?;
            let k = self.rope_at(&k, &positions, local)?;
            if device.is_cpu() {
                let y = self.decode_attention_host(li, caches, &lens, &positions, &q, &k, &v)?;
                x = self.output_and_mlp(li, &x, &y, &[(0, n)])?;
                continue;
            }
            let mut ys = Vec::with_capacity(rows.len());
            let mut first = 0;
            for (cache, &len) in caches.iter_mut().zip(&lens) {
                let pos = positions[first] as usize;
                let (kc, vc) = &cache.layers[li];
                kc.slice_set(&k.narrow(2, first, len)?.contiguous()?, 2, pos)?;
                vc.slice_set(&v.narrow(2, first, len)?.contiguous()?, 2, pos)?;
                let qi = q.narrow(2, first, len)?.contiguous()?;
                ys.push(self.attention(li, (kc, vc), cache.capacity, &qi, pos, len)?);
                first += len;
            }
            let y = Tensor::cat(&ys, 1)?;
            x = self.output_and_mlp(li, &x, &y, &[(0, n)])?;
        }
        for (cache, &len) in caches.iter_mut().zip(&lens) {
            cache.filled += len;
        }
        let mut keep = Vec::with_capacity(n);
        let mut first = 0;
        for (&len, &w) in lens.iter().zip(wanted) {
            keep.extend((first + len - w..first + len).map(|r| r as u32));
            first += len;
        }
        if keep.is_empty() {
            self.settle()?;
            return Ok(None);
        }
        let x = x.squeeze(0)?;
        let x = match keep.len() == n {
            true => x,
            false => x.index_select(&Tensor::new(keep.as_slice(), &device)?, 0)?,
        };
        let last = self.norm.forward(&x)?;
        let logits = self.output.forward(&last)?;
        self.settle()?;
        match self.softcap {
            Some(c) => Ok(Some(((logits / c)?.tanh()? * c)?)),
            None => Ok(Some(logits)),
        }
    }

    /// Layer `li` of a decode step on the CPU: the keys and values `k`, `v`
    /// (`(1, heads, rows, head_dim)`; sequence `i` has `lens[i]` rows in a
    /// row, at `positions`) written to each sequence's cache, then each
    /// row's attention of its query row of `q` over its sequence's cache up
    /// to its position (the same [`attend`] as one sequence alone), as `(1,
    /// rows, n_head * head_dim)`. Rows and heads are spread over the thread
    /// pool; one copy of the rows to the host per layer, instead of tensor
    /// operations per sequence.
    #[allow(clippy::too_many_arguments)]
    fn decode_attention_host(
        &self,
        li: usize,
        caches: &mut [&mut KvCache],
        lens: &[usize],
        positions: &[u32],
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<Tensor> {
        let n = positions.len();
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let window = self.layers[li].window;
        let device = q.device();
        let (qh, kh, vh): (Vec<f32>, Vec<f32>, Vec<f32>) = (
            q.flatten_all()?.to_vec1()?,
            k.flatten_all()?.to_vec1()?,
            v.flatten_all()?.to_vec1()?,
        );
        // Rows first..first + len of every head of a `(1, heads, n, hd)`
        // tensor, as `(1, heads, len, hd)`.
        let rows = |src: &[f32], heads: usize, first: usize, len: usize| -> Vec<f32> {
            (0..heads)
                .flat_map(|h| {
                    src[(h * n + first) * hd..(h * n + first + len) * hd]
                        .iter()
                        .copied()
                })
                .collect()
        };
        // Row r's sequence, and where that sequence's rows start.
        let mut owner = Vec::with_capacity(n);
        let mut first = 0;
        for (i, cache) in caches.iter_mut().enumerate() {
            let (len, pos) = (lens[i], positions[first] as usize);
            let (kc, vc) = &cache.layers[li];
            let shape = (1, n_kv, len, hd);
            kc.slice_set(
                &Tensor::from_vec(rows(&kh, n_kv, first, len), shape, device)?,
                2,
                pos,
            )?;
            vc.slice_set(
                &Tensor::from_vec(rows(&vh, n_kv, first, len), shape, device)?,
                2,
                pos,
            )?;
            owner.extend(std::iter::repeat_n(i, len));
            first += len;
        }
        // The host buffers of every sequence's cache, read-locked while the
        // rows attend.
        let guards: Vec<_> = caches
            .iter()
            .map(|c| {
                (
                    c.layers[li].0.storage_and_layout(),
                    c.layers[li].1.storage_and_layout(),
                )
            })
            .collect();
        let host = guards
            .iter()
            .map(|((ks, kl), (vs, vl))| Some((host_f32(ks, kl)?, host_f32(vs, vl)?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                candle_core::Error::Msg("a KV cache off the host buffer layout".into())
            })?;
        let caps: Vec<usize> = caches.iter().map(|c| c.capacity).collect();
        let mut out = vec![0f32; n * n_head * hd];
        let keys = |r: usize| {
            let s = owner[r];
            (host[s], caps[s], visible(window, positions[r] as usize))
        };
        self.attend_rows(&qh, n, keys, &mut out);
        drop(host);
        drop(guards);
        Tensor::from_vec(out, (1, n, n_head * hd), device)
    }

    /// Whether a row's result is the same in a pass of any number of rows
    /// (1 to hundreds): every weight on this crate's kernels
    /// ([`Linear::rows_independent`]) and the CPU's attention, which
    /// computes each row by itself. Then a piece of a prompt may share a
    /// [`Transformer::decode`] pass with decoding sequences (otherwise
    /// decode passes stay under 32 rows, and prompts run by themselves).
    pub fn rows_independent(&self) -> bool {
        self.cos.device().is_cpu()
            && self.output.rows_independent()
            && self.layers.iter().all(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]
                    .iter()
                    .all(|w| w.rows_independent())
            })
    }

    /// After a forward pass: see [`Linear::settle`].
    fn settle(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            for w in [
                &mut layer.wq,
                &mut layer.wk,
                &mut layer.wv,
                &mut layer.wo,
                &mut layer.gate,
                &mut layer.up,
                &mut layer.down,
            ] {
                w.settle()?;
            }
        }
        self.output.settle()
    }

    /// Layer `li`'s queries, keys and values of the `len` rows of `x`
    /// before the rotary embedding, each `(1, heads, len, head_dim)`.
    fn qkv(&self, li: usize, x: &Tensor, len: usize) -> Result<(Tensor, Tensor, Tensor)> {
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let layer = &self.layers[li];
        let h = layer.attn_norm.forward(x)?;
        let [mut q, mut k, mut v]: [Tensor; 3] =
            Linear::forward_many(&[&layer.wq, &layer.wk, &layer.wv], &h)?
                .try_into()
                .expect("three weights, three products");
        if let Some(b) = &layer.bq {
            q = q.broadcast_add(b)?;
        }
        if let Some(b) = &layer.bk {
            k = k.broadcast_add(b)?;
        }
        if let Some(b) = &layer.bv {
            v = v.broadcast_add(b)?;
        }
        let q = q
            .reshape((1, len, n_head, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let k = k
            .reshape((1, len, n_kv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let v = v
            .reshape((1, len, n_kv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let (q, k) = match (&layer.q_norm, &layer.k_norm) {
            (Some(qn), Some(kn)) => (qn.forward(&q)?, kn.forward(&k)?),
            _ => (q, k),
        };
        Ok((q, k, v))
    }

    /// Layer `li`'s queries of the positions of `x` (placed at `pos`), shape
    /// `(1, n_head, seq, head_dim)`, computed piece by piece; their keys and
    /// values are written to the cache.
    fn queries(
        &self,
        li: usize,
        cache: &KvCache,
        x: &Tensor,
        pos: usize,
        rows: &[(usize, usize)],
    ) -> Result<Tensor> {
        let local = self.layers[li].window.is_some();
        let (kc, vc) = &cache.layers[li];
        let mut queries = Vec::with_capacity(rows.len());
        for &(start, len) in rows {
            let (q, k, v) = self.qkv(li, &x.narrow(1, start, len)?, len)?;
            let q = self.rope(&q, pos + start, len, local)?;
            let k = self.rope(&k, pos + start, len, local)?;
            kc.slice_set(&k, 2, pos + start)?;
            vc.slice_set(&v, 2, pos + start)?;
            queries.push(q);
        }
        match queries.len() {
            1 => Ok(queries.swap_remove(0)),
            _ => Tensor::cat(&queries, 2),
        }
    }

    /// Layer `li`'s attention of the queries `q` of `seq` positions placed
    /// at `pos` over the cache `(kc, vc)` of `cap` positions, shape
    /// `(1, seq, n_head * head_dim)`.
    fn attention(
        &self,
        li: usize,
        (kc, vc): (&Tensor, &Tensor),
        cap: usize,
        q: &Tensor,
        pos: usize,
        seq: usize,
    ) -> Result<Tensor> {
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let n_rep = n_head / n_kv;
        let total = pos + seq;
        let window = self.layers[li].window;
        if let Some(y) = self.host_attention(li, q, (kc, vc), cap, pos, seq)? {
            return Ok(y);
        }
        // Off the CPU (CUDA), one new token: its window is the cache slice
        // `lo..total`, so no mask is needed.
        let lo = match (seq, window) {
            (1, Some(w)) => total.saturating_sub(w),
            _ => 0,
        };
        // Query heads h = kv * n_rep + r share KV head kv: the grouped rows
        // of one KV head are r * seq + i for the query of position pos + i.
        let qg = q.reshape((1, n_kv, n_rep * seq, hd))?;
        // Causal mask of the grouped rows `rows` × keys; a window also hides
        // keys `window` or more positions back. None: one query, which sees
        // every cached key.
        let mask = |(first, len): (usize, usize)| -> Result<Option<Tensor>> {
            if seq == 1 {
                return Ok(None);
            }
            let mut m = vec![0f32; len * total];
            for (row, out) in m.chunks_exact_mut(total).enumerate() {
                let p = pos + (first + row) % seq;
                for (j, v) in out.iter_mut().enumerate() {
                    let far = window.is_some_and(|w| p - j.min(p) >= w);
                    if j > p || far {
                        *v = f32::NEG_INFINITY;
                    }
                }
            }
            Tensor::from_vec(m, (len, total), q.device()).map(Some)
        };
        let attend = |q: &Tensor, keys: &Tensor, values: &Tensor, rows: (usize, usize)| {
            let att = (q.matmul(&keys.t()?)? * self.attn_scale)?;
            let att = match mask(rows)? {
                Some(m) => att.broadcast_add(&m)?,
                None => att,
            };
            candle_nn::ops::softmax_last_dim(&att)?.matmul(values)
        };
        let blocks = pieces(n_rep * seq, self.prefill_rows);
        let y = match blocks.as_slice() {
            // Every KV head in one batched matmul.
            [rows] => attend(
                &qg,
                &kc.narrow(2, lo, total - lo)?,
                &vc.narrow(2, lo, total - lo)?,
                *rows,
            )?,
            // One KV head and one block of its query rows at a time: the same
            // matmuls as the batched one (which runs one `gemm` per head), on
            // fewer rows.
            _ => {
                let mut heads = Vec::with_capacity(n_kv);
                for g in 0..n_kv {
                    let keys = kc.narrow(1, g, 1)?.narrow(2, 0, total)?;
                    let values = vc.narrow(1, g, 1)?.narrow(2, 0, total)?;
                    let qh = qg.narrow(1, g, 1)?;
                    let parts = blocks
                        .iter()
                        .map(|&(first, len)| {
                            attend(&qh.narrow(2, first, len)?, &keys, &values, (first, len))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    heads.push(Tensor::cat(&parts, 2)?);
                }
                Tensor::cat(&heads, 1)?
            }
        }; // (1, n_kv, n_rep * seq, hd)
        y.reshape((1, n_head, seq, hd))?
            .transpose(1, 2)?
            .reshape((1, seq, n_head * hd))
    }

    /// The rest of layer `li` piece by piece: the attention output `y`
    /// projected and added to `x`, then the MLP.
    fn output_and_mlp(
        &self,
        li: usize,
        x: &Tensor,
        y: &Tensor,
        rows: &[(usize, usize)],
    ) -> Result<Tensor> {
        let layer = &self.layers[li];
        let mut out = Vec::with_capacity(rows.len());
        for &(start, len) in rows {
            let mut att = layer.wo.forward(&y.narrow(1, start, len)?)?;
            if let Some(n) = &layer.post_attn_norm {
                att = n.forward(&att)?;
            }
            let x1 = (att + x.narrow(1, start, len)?)?;
            let h = layer.ffn_norm.forward(&x1)?;
            let [gate, up]: [Tensor; 2] = Linear::forward_many(&[&layer.gate, &layer.up], &h)?
                .try_into()
                .expect("two weights, two products");
            let gate = match self.gelu {
                true => gate.gelu()?,
                false => candle_nn::ops::silu(&gate)?,
            };
            let mut mlp = layer.down.forward(&(gate * up)?)?;
            if let Some(n) = &layer.post_ffn_norm {
                mlp = n.forward(&mlp)?;
            }
            out.push((mlp + x1)?);
        }
        match out.len() {
            1 => Ok(out.swap_remove(0)),
            _ => Tensor::cat(&out, 1),
        }
    }
}

/// The cached positions a row at `pos` attends to: every one up to its own,
/// or the last `window` of them in a sliding-window layer.
fn visible(window: Option<usize>, pos: usize) -> std::ops::Range<usize> {
    let total = pos + 1;
    window.map_or(0, |w| total.saturating_sub(w))..total
}

/// `f` on the host buffers of a layer's keys and values `(kc, vc)`; `None`
/// when they are not contiguous `f32` CPU buffers.
fn with_host_kv<R>((kc, vc): (&Tensor, &Tensor), f: impl FnOnce(&[f32], &[f32]) -> R) -> Option<R> {
    let (ks, kl) = kc.storage_and_layout();
    let (vs, vl) = vc.storage_and_layout();
    Some(f(host_f32(&ks, kl)?, host_f32(&vs, vl)?))
}

/// The values of a contiguous `f32` CPU tensor with this storage and
/// layout; `None` for any other.
fn host_f32<'s>(s: &'s candle_core::Storage, l: &candle_core::Layout) -> Option<&'s [f32]> {
    use candle_core::{CpuStorage, Storage};
    match s {
        Storage::Cpu(CpuStorage::F32(v)) if l.is_contiguous() => Some(&v[l.start_offset()..]),
        _ => None,
    }
}

/// Work items per KV head for `items` (rows × KV heads) on `threads`: the
/// fewest that divide the `group` of query heads sharing a KV head and give
/// every thread an item (a KV head's heads together read its keys once; a
/// one-row decode step of a model with one KV head would leave the other
/// threads idle).
fn split_for(group: usize, items: usize, threads: usize) -> usize {
    (1..=group)
        .filter(|&d| group.is_multiple_of(d))
        .find(|d| items * d >= threads)
        .unwrap_or(group)
}

/// Attention of the query heads `q` (`heads × hd`) sharing one KV head:
/// per head softmax(q·Kᵀ·scale)·V over the rows of `k` / `v`, into `out`
/// (`heads × hd`); `scores` holds `heads × (rows + 1)` values. Each key and value row is
/// read once for all heads; every head's arithmetic is the same as alone.
fn attend(
    q: &[f32],
    hd: usize,
    (k, v): (&[f32], &[f32]),
    scale: f32,
    s: &mut [f32],
    o: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { attend_avx512(q, hd, (k, v), scale, s, o) };
            return;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            unsafe { attend_avx2(q, hd, (k, v), scale, s, o) };
            return;
        }
    }
    attend_generic(q, hd, (k, v), scale, s, o)
}

// The three compile the same scalar operations in the same order (no
// contraction into fused multiply-adds, no reassociation): wider vectors
// give the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn attend_avx512(
    q: &[f32],
    hd: usize,
    kv: (&[f32], &[f32]),
    scale: f32,
    s: &mut [f32],
    o: &mut [f32],
) {
    attend_generic(q, hd, kv, scale, s, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_avx2(
    q: &[f32],
    hd: usize,
    kv: (&[f32], &[f32]),
    scale: f32,
    s: &mut [f32],
    o: &mut [f32],
) {
    attend_generic(q, hd, kv, scale, s, o)
}

#[inline(always)]
fn attend_generic(
    q: &[f32],
    hd: usize,
    (k, v): (&[f32], &[f32]),
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let (heads, n) = (q.len() / hd, k.len() / hd);
    debug_assert!(scores.len() == heads * (n + 1) && out.len() == heads * hd);
    let (scores, inv) = scores.split_at_mut(heads * n);
    for (j, row) in k.chunks_exact(hd).enumerate() {
        for (h, qh) in q.chunks_exact(hd).enumerate() {
            scores[h * n + j] = dot(qh, row) * scale;
        }
    }
    for (h, s) in scores.chunks_exact_mut(n).enumerate() {
        let max = s.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut sum = 0f32;
        for x in s.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        inv[h] = 1.0 / sum;
    }
    // Each output value is the sum over the key rows, in their order, of
    // `p · v` (`p` = score · 1/sum). The sums of a head's `W` values at a
    // time stay in registers over a block of `BLOCK` key rows (whose values
    // stay in cache for every head), instead of being loaded
    // and stored for each key row: the same operations in the same order,
    // so the same bits.
    const BLOCK: usize = 64;
    const W: usize = 64;
    out.fill(0.0);
    for j0 in (0..n).step_by(BLOCK) {
        let j1 = (j0 + BLOCK).min(n);
        let block = &v[j0 * hd..j1 * hd];
        for (h, o) in out.chunks_exact_mut(hd).enumerate() {
            let (ps, ih) = (&scores[h * n + j0..h * n + j1], inv[h]);
            let mut c = 0;
            while c + W <= hd {
                let mut acc: [f32; W] = o[c..c + W].try_into().expect("W values");
                for (&s, row) in ps.iter().zip(block.chunks_exact(hd)) {
                    let p = s * ih;
                    let row: &[f32; W] = row[c..c + W].try_into().expect("W values");
                    for i in 0..W {
                        acc[i] += p * row[i];
                    }
                }
                o[c..c + W].copy_from_slice(&acc);
                c += W;
            }
            if c < hd {
                for (&s, row) in ps.iter().zip(block.chunks_exact(hd)) {
                    let p = s * ih;
                    for (o, x) in o[c..].iter_mut().zip(&row[c..]) {
                        *o += p * x;
                    }
                }
            }
        }
    }
}

/// Dot product with independent partial sums, so that it vectorizes.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::gguf::GgufFile;
    use candle_core::quantized::gguf_file;
    use std::path::Path;

    const HIDDEN: usize = 256;
    const HEADS: usize = 4;
    const KV_HEADS: usize = 2;
    const FFN: usize = 512;
    const VOCAB: usize = 320;
    /// Gemma 3's sliding window in the tiny model.
    const WINDOW: u32 = 37;

    fn random(seed: &mut u64, shape: &[usize], dtype: GgmlDType, scale: f32) -> QTensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect();
        let t = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
        QTensor::quantize(&t, dtype).unwrap()
    }

    /// A two-layer random model of `arch` (`qwen2` or `gemma3`) whose
    /// matrices are Q4_K and Q6_K like a Q4_K_M file, wide enough for
    /// Candle's repacked kernels.
    fn write_tiny(path: &Path, arch: &str) {
        let gemma = arch == "gemma3";
        let hd = HIDDEN / HEADS;
        let mut seed = 7u64;
        let mut t = vec![
            (
                "token_embd.weight".to_string(),
                random(&mut seed, &[VOCAB, HIDDEN], GgmlDType::Q4K, 1.0),
            ),
            (
                "output.weight".to_string(),
                random(&mut seed, &[VOCAB, HIDDEN], GgmlDType::Q6K, 0.5),
            ),
            (
                "output_norm.weight".to_string(),
                random(&mut seed, &[HIDDEN], GgmlDType::F32, 1.0),
            ),
        ];
        for l in 0..2 {
            let mut w = |n: &str, shape: &[usize], dtype| {
                let q = random(&mut seed, shape, dtype, 0.3);
                t.push((format!("blk.{l}.{n}"), q));
            };
            w("attn_q.weight", &[HIDDEN, HIDDEN], GgmlDType::Q4K);
            w("attn_k.weight", &[KV_HEADS * hd, HIDDEN], GgmlDType::Q4K);
            w("attn_v.weight", &[KV_HEADS * hd, HIDDEN], GgmlDType::Q6K);
            w("attn_output.weight", &[HIDDEN, HIDDEN], GgmlDType::Q4K);
            w("ffn_gate.weight", &[FFN, HIDDEN], GgmlDType::Q4K);
            w("ffn_up.weight", &[FFN, HIDDEN], GgmlDType::Q4K);
            w("ffn_down.weight", &[HIDDEN, FFN], GgmlDType::Q6K);
            w("attn_norm.weight", &[HIDDEN], GgmlDType::F32);
            w("ffn_norm.weight", &[HIDDEN], GgmlDType::F32);
            if gemma {
                w("attn_q_norm.weight", &[hd], GgmlDType::F32);
                w("attn_k_norm.weight", &[hd], GgmlDType::F32);
                w("post_attention_norm.weight", &[HIDDEN], GgmlDType::F32);
                w("post_ffw_norm.weight", &[HIDDEN], GgmlDType::F32);
            } else {
                w("attn_q.bias", &[HIDDEN], GgmlDType::F32);
                w("attn_k.bias", &[KV_HEADS * hd], GgmlDType::F32);
                w("attn_v.bias", &[KV_HEADS * hd], GgmlDType::F32);
            }
        }
        let u = |v: usize| Value::U32(v as u32);
        let mut md = vec![
            (
                "general.architecture".to_string(),
                Value::String(arch.into()),
            ),
            (format!("{arch}.context_length"), u(1024)),
            (format!("{arch}.embedding_length"), u(HIDDEN)),
            (format!("{arch}.block_count"), u(2)),
            (format!("{arch}.attention.head_count"), u(HEADS)),
            (format!("{arch}.attention.head_count_kv"), u(KV_HEADS)),
            (
                format!("{arch}.attention.layer_norm_rms_epsilon"),
                Value::F32(1e-6),
            ),
        ];
        if gemma {
            md.push((
                format!("{arch}.attention.sliding_window"),
                u(WINDOW as usize),
            ));
            md.push((
                format!("{arch}.attention.sliding_window_pattern"),
                Value::U32(2),
            ));
        }
        let md: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let t: Vec<(&str, &QTensor)> = t.iter().map(|(k, v)| (k.as_str(), v)).collect();
        gguf_file::write(&mut std::fs::File::create(path).unwrap(), &md, &t).unwrap();
    }

    fn load(path: &Path, arch: &str) -> Transformer {
        let GgufFile {
            content,
            mut reader,
        } = GgufFile::open(path).unwrap();
        let md = Metadata {
            path,
            content: &content,
        };
        Transformer::load(&md, arch, &mut reader, &Device::Cpu, 1024).unwrap()
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    }

    #[test]
    fn split_for_gives_every_thread_an_item_with_the_fewest_parts() {
        // Enough (row, KV head) items: a KV head's heads stay together.
        assert_eq!(split_for(6, 2, 2), 1);
        assert_eq!(split_for(7, 16, 8), 1);
        // One row of a one-KV-head model: on 4 threads 1, 2 or 3 parts of
        // its 6 heads would leave a thread idle, so 6; on 3 threads, 3.
        assert_eq!(split_for(6, 1, 4), 6);
        assert_eq!(split_for(6, 1, 3), 3);
        assert_eq!(split_for(6, 2, 4), 2);
        // More threads than heads can use: every head its own item.
        assert_eq!(split_for(4, 1, 16), 4);
        assert_eq!(split_for(1, 1, 16), 1);
    }

    /// Heads attended together over one KV head give each head's result
    /// alone, bit for bit, in every dispatch (AVX-512, AVX2, generic).
    #[test]
    fn grouped_attention_equals_each_head_alone() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        };
        for (hd, heads, n) in [
            (64, 1, 1),
            (64, 6, 37),
            (80, 7, 5),
            (128, 8, 300),
            (48, 3, 2),
        ] {
            let q: Vec<f32> = (0..heads * hd).map(|_| next()).collect();
            let k: Vec<f32> = (0..n * hd).map(|_| next() * 3.0).collect();
            let v: Vec<f32> = (0..n * hd).map(|_| next()).collect();
            let scale = 1.0 / (hd as f32).sqrt();
            let mut alone = Vec::new();
            for qh in q.chunks_exact(hd) {
                let (mut s, mut o) = (vec![0f32; n + 1], vec![0f32; hd]);
                attend(qh, hd, (&k, &v), scale, &mut s, &mut o);
                alone.extend(o.into_iter().map(f32::to_bits));
            }
            type Attend<'a> = Box<dyn Fn(&mut [f32], &mut [f32]) + 'a>;
            let mut each: Vec<Attend> = vec![
                Box::new(|s, o| attend(&q, hd, (&k, &v), scale, s, o)),
                Box::new(|s, o| attend_generic(&q, hd, (&k, &v), scale, s, o)),
            ];
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features.
                    each.push(Box::new(|s, o| unsafe {
                        attend_avx2(&q, hd, (&k, &v), scale, s, o)
                    }));
                }
                if is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features.
                    each.push(Box::new(|s, o| unsafe {
                        attend_avx512(&q, hd, (&k, &v), scale, s, o)
                    }));
                }
            }
            for f in &mut each {
                let (mut s, mut o) = (vec![0f32; heads * (n + 1)], vec![f32::NAN; heads * hd]);
                f(&mut s, &mut o);
                let got: Vec<u32> = o.into_iter().map(f32::to_bits).collect();
                assert_eq!(got, alone, "hd {hd}, {heads} heads, {n} keys");
            }
        }
    }

    #[test]
    fn pieces_are_even_and_cover_the_rows() {
        assert_eq!(pieces(1, 512), [(0, 1)]);
        assert_eq!(pieces(512, 512), [(0, 512)]);
        assert_eq!(pieces(513, 512), [(0, 257), (257, 256)]);
        assert_eq!(pieces(1100, 512), [(0, 367), (367, 367), (734, 366)]);
        for n in 1..2000 {
            let p = pieces(n, MIN_PREFILL_ROWS);
            assert_eq!(p.iter().map(|&(_, len)| len).sum::<usize>(), n);
            assert!(p.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
            assert!(p.len() == 1 || p.iter().all(|&(_, len)| len >= MIN_PREFILL_ROWS / 2));
        }
    }

    /// A prompt cut into pieces (MLP rows and attention blocks) gives the
    /// logits of the prompt in one piece, bit for bit, and so does the
    /// decoding after it.
    #[test]
    fn prompt_pieces_compute_what_one_pass_computes() {
        let dir = tempfile::tempdir().unwrap();
        for arch in ["qwen2", "gemma3"] {
            let path = dir.path().join(format!("{arch}.gguf"));
            write_tiny(&path, arch);
            let mut whole = load(&path, arch);
            whole.set_prefill_rows(usize::MAX);
            let mut cut = load(&path, arch);
            cut.set_prefill_rows(MIN_PREFILL_ROWS);
            // 300 rows → 2 pieces; 600 grouped query rows → 3 blocks.
            let ids: Vec<u32> = (0..300).map(|i| (i * 37 % VOCAB) as u32).collect();
            let prompt = Tensor::new(ids.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let a = whole.forward(&prompt, 0).unwrap();
            let b = cut.forward(&prompt, 0).unwrap();
            assert_eq!(bits(&a), bits(&b), "{arch}: prompt logits");
            for (i, id) in [5u32, 17, 250].into_iter().enumerate() {
                let t = Tensor::new(&[id], &Device::Cpu)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap();
                let a = whole.forward(&t, 300 + i).unwrap();
                let b = cut.forward(&t, 300 + i).unwrap();
                assert_eq!(bits(&a), bits(&b), "{arch}: decode step {i}");
            }
        }
    }

    /// A prompt run as a prefix and then the rest on the prefix's cache
    /// (the split of a shared prompt prefix) gives the logits of the prompt
    /// in one pass, bit for bit, and so does the decoding after it, also
    /// when the prefix comes from another sequence's cache.
    #[test]
    fn a_prefix_then_the_rest_computes_what_one_pass_computes() {
        let dir = tempfile::tempdir().unwrap();
        for arch in ["qwen2", "gemma3"] {
            let path = dir.path().join(format!("{arch}.gguf"));
            write_tiny(&path, arch);
            let mut m = load(&path, arch);
            let ids = |v: &[u32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            for (len, split) in [
                (90usize, 61usize),
                (300, 100),
                (40, 2),
                (64, 62),
                (700, 300),
            ] {
                let prompt: Vec<u32> = (0..len).map(|i| ((i * 37 + 11) % VOCAB) as u32).collect();
                let mut whole = KvCache::default();
                let a = m.forward_in(&mut whole, &ids(&prompt), 0).unwrap();
                let mut shared = KvCache::default();
                m.forward_in(&mut shared, &ids(&prompt[..split]), 0)
                    .unwrap();
                let mut cut = shared.prefix_copy(split).unwrap();
                let b = m
                    .forward_in(&mut cut, &ids(&prompt[split..]), split)
                    .unwrap();
                assert_eq!(
                    bits(&a),
                    bits(&b),
                    "{arch}: {len} split at {split}: prompt logits"
                );
                for step in 0..3 {
                    let t = [(step * 97 + 5) as u32];
                    let a = m.forward_in(&mut whole, &ids(&t), len + step).unwrap();
                    let b = m.forward_in(&mut cut, &ids(&t), len + step).unwrap();
                    assert_eq!(
                        bits(&a),
                        bits(&b),
                        "{arch}: {len} split at {split}: step {step}"
                    );
                }
            }
        }
    }

    /// The rows of an embedding lookup are the rows of the whole table
    /// dequantized, bit for bit.
    #[test]
    fn embedding_rows_are_the_rows_of_the_dequantized_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qwen2.gguf");
        write_tiny(&path, "qwen2");
        let m = load(&path, "qwen2");
        let table = m.embed.dequantize(&Device::Cpu).unwrap();
        let ids: Vec<u32> = vec![0, 319, 7, 7, 100];
        let t = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap();
        let rows = m.embed.embedding(&t.unsqueeze(0).unwrap()).unwrap();
        assert_eq!(rows.dims(), [1, 5, HIDDEN]);
        assert_eq!(bits(&rows), bits(&table.index_select(&t, 0).unwrap()));
    }

    /// Logits of one decode step of several sequences together are, row by
    /// row, those of each sequence decoded alone, bit for bit, also when
    /// sequences leave the batch and when the Gemma 3 window slides.
    #[test]
    #[allow(clippy::needless_range_loop)] // steps index two tables
    fn decode_batches_compute_what_each_sequence_alone_computes() {
        let dir = tempfile::tempdir().unwrap();
        for arch in ["qwen2", "gemma3"] {
            let path = dir.path().join(format!("{arch}.gguf"));
            write_tiny(&path, arch);
            let mut m = load(&path, arch);
            let lens = [3usize, 40, 1, 17, 60];
            let prompt = |s: usize| -> Vec<u32> {
                (0..lens[s])
                    .map(|i| ((i * 31 + s * 7) % VOCAB) as u32)
                    .collect()
            };
            let token = |s: usize, step: usize| ((s * 13 + step * 29 + 1) % VOCAB) as u32;
            let steps = 12;
            // Sequence s stops after `steps - s` steps: the batch shrinks.
            let last = |s: usize| steps - s;
            let ids = |v: &[u32]| Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            let mut alone = Vec::new();
            for (s, &len) in lens.iter().enumerate() {
                let mut cache = KvCache::default();
                let mut rows = Vec::new();
                m.forward_in(&mut cache, &ids(&prompt(s)), 0).unwrap();
                for step in 0..last(s) {
                    let pos = len + step;
                    let l = m
                        .forward_in(&mut cache, &ids(&[token(s, step)]), pos)
                        .unwrap();
                    rows.push(bits(&l));
                }
                alone.push(rows);
            }
            let mut caches: Vec<KvCache> = (0..lens.len()).map(|_| KvCache::default()).collect();
            for (s, cache) in caches.iter_mut().enumerate() {
                m.forward_in(cache, &ids(&prompt(s)), 0).unwrap();
            }
            for step in 0..steps {
                let live: Vec<usize> = (0..lens.len()).filter(|&s| step < last(s)).collect();
                let tokens: Vec<u32> = live.iter().map(|&s| token(s, step)).collect();
                let mut refs: Vec<&mut KvCache> = caches
                    .iter_mut()
                    .enumerate()
                    .filter(|(s, _)| live.contains(s))
                    .map(|(_, c)| c)
                    .collect();
                let rows: Vec<&[u32]> = tokens.iter().map(std::slice::from_ref).collect();
                let logits = m
                    .decode(&mut refs, &rows, &vec![1; rows.len()])
                    .unwrap()
                    .unwrap();
                assert_eq!(logits.dims(), [live.len(), VOCAB]);
                for (row, &s) in live.iter().enumerate() {
                    let got = bits(&logits.narrow(0, row, 1).unwrap());
                    assert_eq!(got, alone[s][step], "{arch}: sequence {s}, step {step}");
                }
            }
        }
    }
}
