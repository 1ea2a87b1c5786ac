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
//! * weights in a quantization without a SIMD kernel in Candle
//!   (`Q4_1`, `Q5_0`, `Q5_1`) are re-quantized to `Q8_0` at load.
//!
//! On CUDA (`--features cuda`, `runtime.device = "cuda"`) the weights and the
//! KV cache live on the GPU; only the fused one-token attention is CPU-only,
//! and off the CPU the tensor path computes it instead.
use super::gguf::Metadata;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;
use std::io::{Read, Seek};

struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    bq: Option<Tensor>,
    bk: Option<Tensor>,
    bv: Option<Tensor>,
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
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
    /// `(1, n_kv_head, capacity, head_dim)` each, grown on demand.
    cache: Option<(Tensor, Tensor)>,
}

/// Llama / Qwen2 / Gemma 3 weights plus their KV cache.
pub(crate) struct Transformer {
    embed: candle_nn::Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
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
    /// Positions the KV caches hold now, and the size to grow them to.
    capacity: usize,
    reserved: usize,
    /// Positions filled in the cache.
    filled: usize,
}

fn load_tensor<R: Read + Seek>(
    ct: &Content,
    r: &mut R,
    name: &str,
    device: &Device,
) -> Result<QTensor> {
    ct.tensor(r, name, device)
}

/// A matmul weight; formats without a fast kernel become Q8_0.
fn matmul_weight(q: QTensor, device: &Device) -> Result<QMatMul> {
    let q = match q.dtype() {
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
            QTensor::quantize(&q.dequantize(device)?, GgmlDType::Q8_0)?
        }
        _ => q,
    };
    QMatMul::from_qtensor(q)
}

impl Transformer {
    /// Load an `llama`, `qwen2` or `gemma3` model. `max_positions` bounds
    /// the rotary tables and the KV cache.
    pub fn load<R: Read + Seek>(
        md: &Metadata<'_>,
        arch: &str,
        reader: &mut R,
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
        let matmul = |q: QTensor| match gemma {
            true => QMatMul::from_qtensor(q),
            false => matmul_weight(q, device),
        };
        let load = |r: &mut R| -> Result<Self> {
            let embed_q = load_tensor(ct, r, "token_embd.weight", device)?;
            let embed = embed_q.dequantize(device)?;
            let output = match ct.tensor_infos.contains_key("output.weight") {
                true => load_tensor(ct, r, "output.weight", device)?,
                false => embed_q,
            };
            let norm =
                RmsNorm::from_qtensor(load_tensor(ct, r, "output_norm.weight", device)?, eps)?;
            let mut layers = Vec::with_capacity(n_layer);
            for (i, &slides) in sliding.iter().enumerate() {
                let mut t = |n: &str| load_tensor(ct, r, &format!("blk.{i}.{n}"), device);
                let bias = |t: Option<QTensor>| t.map(|t| t.dequantize(device)).transpose();
                let has = |n: &str| ct.tensor_infos.contains_key(&format!("blk.{i}.{n}"));
                let (hq, hk, hv) = (has("attn_q.bias"), has("attn_k.bias"), has("attn_v.bias"));
                let mut norm = |n: &str| -> Result<Option<RmsNorm>> {
                    match gemma {
                        true => Ok(Some(RmsNorm::from_qtensor(t(n)?, eps)?)),
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
                    bq: bias(hq.then(|| t("attn_q.bias")).transpose()?)?,
                    bk: bias(hk.then(|| t("attn_k.bias")).transpose()?)?,
                    bv: bias(hv.then(|| t("attn_v.bias")).transpose()?)?,
                    attn_norm: RmsNorm::from_qtensor(t("attn_norm.weight")?, eps)?,
                    ffn_norm: RmsNorm::from_qtensor(t("ffn_norm.weight")?, eps)?,
                    gate: matmul(t("ffn_gate.weight")?)?,
                    up: matmul(t("ffn_up.weight")?)?,
                    down: matmul(t("ffn_down.weight")?)?,
                    cache: None,
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
                embed: candle_nn::Embedding::new(embed, hidden),
                layers,
                norm,
                output: matmul(output)?,
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
                capacity: 0,
                reserved: 0,
                filled: 0,
            })
        };
        load(reader).map_err(|e| crate::Error::model_file(md.path, format!("loading weights: {e}")))
    }

    /// Size the KV cache for sequences of `n` positions (avoids regrowing).
    pub fn reserve(&mut self, n: usize) {
        self.reserved = n.min(self.max_positions);
    }

    /// Make every layer's cache hold at least `n` positions, keeping the
    /// first `self.filled` ones.
    fn grow_cache(&mut self, n: usize, device: &Device) -> Result<()> {
        if n <= self.capacity {
            return Ok(());
        }
        let cap = n.max(self.reserved).div_ceil(256) * 256;
        let cap = cap.min(self.max_positions).max(n);
        for layer in &mut self.layers {
            let shape = (1, self.n_kv_head, cap, self.head_dim);
            let k = Tensor::zeros(shape, DType::F32, device)?;
            let v = Tensor::zeros(shape, DType::F32, device)?;
            if let (Some((ok, ov)), true) = (&layer.cache, self.filled > 0) {
                k.slice_set(&ok.narrow(2, 0, self.filled)?.contiguous()?, 2, 0)?;
                v.slice_set(&ov.narrow(2, 0, self.filled)?.contiguous()?, 2, 0)?;
            }
            layer.cache = Some((k, v));
        }
        self.capacity = cap;
        Ok(())
    }

    /// Attention of one new position over `total` cached ones, computed
    /// directly on the CPU cache buffers (no per-call thread dispatch or
    /// matrix packing). `None` when the tensors are not on the CPU: on CUDA
    /// the cache stays on the device and [`Transformer::forward`] runs the
    /// same attention as tensor operations (matmul, softmax), the path that
    /// batched prompts take on every device.
    fn decode_attention(
        &self,
        q: &Tensor,
        kc: &Tensor,
        vc: &Tensor,
        start: usize,
        total: usize,
    ) -> Result<Option<Tensor>> {
        use candle_core::{CpuStorage, Storage};
        if !q.device().is_cpu() {
            return Ok(None);
        }
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let q: Vec<f32> = q.flatten_all()?.to_vec1()?;
        let (ks, kl) = kc.storage_and_layout();
        let (vs, vl) = vc.storage_and_layout();
        if !kl.is_contiguous() || !vl.is_contiguous() {
            return Ok(None);
        }
        let (Storage::Cpu(CpuStorage::F32(k)), Storage::Cpu(CpuStorage::F32(v))) = (&*ks, &*vs)
        else {
            return Ok(None);
        };
        let (k, v) = (&k[kl.start_offset()..], &v[vl.start_offset()..]);
        let cap = self.capacity;
        let mut out = vec![0f32; n_head * hd];
        let mut scores = vec![0f32; total - start];
        let scale = self.attn_scale as f32;
        for h in 0..n_head {
            let base = h / (n_head / n_kv) * cap * hd;
            let (lo, hi) = (base + start * hd, base + total * hd);
            attend(
                &q[h * hd..(h + 1) * hd],
                &k[lo..hi],
                &v[lo..hi],
                scale,
                &mut scores,
                &mut out[h * hd..(h + 1) * hd],
            );
        }
        drop((ks, vs));
        Ok(Some(Tensor::from_vec(
            out,
            (1, 1, n_head * hd),
            kc.device(),
        )?))
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

    /// Logits of the last position of `ids` (shape `(1, n)`) placed at
    /// `pos`; `pos == 0` starts a new sequence.
    pub fn forward(&mut self, ids: &Tensor, pos: usize) -> Result<Tensor> {
        let (_, seq) = ids.dims2()?;
        if pos > self.filled {
            candle_core::bail!("position {pos} after {} cached tokens", self.filled);
        }
        if pos + seq > self.max_positions {
            candle_core::bail!(
                "sequence of {} exceeds {} positions",
                pos + seq,
                self.max_positions
            );
        }
        self.filled = pos;
        self.grow_cache(pos + seq, ids.device())?;
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let n_rep = n_head / n_kv;
        let total = pos + seq;
        // Causal mask over the grouped query rows (r * seq + i) × keys; a
        // window also hides keys `window` or more positions back.
        let mask = |window: Option<usize>| -> Result<Tensor> {
            let mut m = vec![0f32; n_rep * seq * total];
            for r in 0..n_rep {
                for i in 0..seq {
                    let p = pos + i;
                    let row = &mut m[(r * seq + i) * total..(r * seq + i + 1) * total];
                    for (j, v) in row.iter_mut().enumerate() {
                        let far = window.is_some_and(|w| p - j.min(p) >= w);
                        if j > p || far {
                            *v = f32::NEG_INFINITY;
                        }
                    }
                }
            }
            Tensor::from_vec(m, (n_rep * seq, total), ids.device())
        };
        let (mask, local_mask) = match seq {
            1 => (None, None),
            _ => {
                let window = self.layers.iter().find_map(|l| l.window);
                (
                    Some(mask(None)?),
                    window.map(|w| mask(Some(w))).transpose()?,
                )
            }
        };
        let scale = self.attn_scale;
        let mut x = self.embed.forward(ids)?;
        if let Some(s) = self.embed_scale {
            x = (x * s)?;
        }
        for li in 0..self.layers.len() {
            let residual = x.clone();
            let layer = &self.layers[li];
            let h = layer.attn_norm.forward(&x)?;
            let mut q = layer.wq.forward(&h)?;
            let mut k = layer.wk.forward(&h)?;
            let mut v = layer.wv.forward(&h)?;
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
                .reshape((1, seq, n_head, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let k = k
                .reshape((1, seq, n_kv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = v
                .reshape((1, seq, n_kv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let (q, k) = match (&layer.q_norm, &layer.k_norm) {
                (Some(qn), Some(kn)) => (qn.forward(&q)?, kn.forward(&k)?),
                _ => (q, k),
            };
            let window = layer.window;
            let q = self.rope(&q, pos, seq, window.is_some())?;
            let k = self.rope(&k, pos, seq, window.is_some())?;
            let (kc, vc) = self.layers[li].cache.as_ref().expect("grown above");
            kc.slice_set(&k, 2, pos)?;
            vc.slice_set(&v, 2, pos)?;
            let fused = match seq {
                1 => {
                    let start = window.map_or(0, |w| total.saturating_sub(w));
                    self.decode_attention(&q, kc, vc, start, total)?
                }
                _ => None,
            };
            let mask = match window {
                Some(_) => local_mask.as_ref(),
                None => mask.as_ref(),
            };
            let y = match fused {
                Some(y) => y,
                None => {
                    // Off the CPU (CUDA), one new token: its window is the
                    // cache slice `start..total`, so no mask is needed.
                    let lo = match (seq, window) {
                        (1, Some(w)) => total.saturating_sub(w),
                        _ => 0,
                    };
                    let keys = kc.narrow(2, lo, total - lo)?;
                    let values = vc.narrow(2, lo, total - lo)?;
                    // Query heads h = kv * n_rep + r share KV head kv.
                    let qg = q.reshape((1, n_kv, n_rep * seq, hd))?;
                    let att = (qg.matmul(&keys.t()?)? * scale)?;
                    let att = match mask {
                        Some(m) => att.broadcast_add(m)?,
                        None => att,
                    };
                    let att = candle_nn::ops::softmax_last_dim(&att)?;
                    let y = att.matmul(&values)?; // (1, n_kv, n_rep * seq, hd)
                    y.reshape((1, n_head, seq, hd))?.transpose(1, 2)?.reshape((
                        1,
                        seq,
                        n_head * hd,
                    ))?
                }
            };
            let layer = &self.layers[li];
            let mut att = layer.wo.forward(&y)?;
            if let Some(n) = &layer.post_attn_norm {
                att = n.forward(&att)?;
            }
            let x1 = (att + residual)?;
            let h = layer.ffn_norm.forward(&x1)?;
            let gate = layer.gate.forward(&h)?;
            let gate = match self.gelu {
                true => gate.gelu()?,
                false => candle_nn::ops::silu(&gate)?,
            };
            let mut mlp = layer.down.forward(&(gate * layer.up.forward(&h)?)?)?;
            if let Some(n) = &layer.post_ffn_norm {
                mlp = n.forward(&mlp)?;
            }
            x = (mlp + x1)?;
        }
        self.filled = total;
        let last = x.narrow(1, seq - 1, 1)?.squeeze(1)?;
        let last = self.norm.forward(&last)?;
        let logits = self.output.forward(&last)?;
        match self.softcap {
            Some(c) => (logits / c)?.tanh()? * c,
            None => Ok(logits),
        }
    }
}

/// One head's attention: softmax(q·Kᵀ·scale)·V over the rows of `k` / `v`.
fn attend(q: &[f32], k: &[f32], v: &[f32], scale: f32, scores: &mut [f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { attend_avx2(q, k, v, scale, scores, out) };
        return;
    }
    attend_generic(q, k, v, scale, scores, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_avx2(q: &[f32], k: &[f32], v: &[f32], scale: f32, s: &mut [f32], o: &mut [f32]) {
    attend_generic(q, k, v, scale, s, o)
}

#[inline(always)]
fn attend_generic(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    scale: f32,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let hd = q.len();
    let mut max = f32::NEG_INFINITY;
    for (s, row) in scores.iter_mut().zip(k.chunks_exact(hd)) {
        *s = dot(q, row) * scale;
        max = max.max(*s);
    }
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    let inv = 1.0 / sum;
    out.fill(0.0);
    for (s, row) in scores.iter().zip(v.chunks_exact(hd)) {
        let p = s * inv;
        for (o, x) in out.iter_mut().zip(row) {
            *o += p * x;
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
