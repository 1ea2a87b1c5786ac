//! Prompt-processing and decoding speed of a GGUF model on this engine.
use super::{ChatModel, GenerationParams, Implementation, ModelInfo};
use crate::{Error, Result};
use candle_core::Device;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Text the benchmark prompt is cut from (repeated as needed).
const BENCH_TEXT: &str = "Київ, 12 березня. Уряд України затвердив нову програму підтримки \
малого бізнесу, повідомило Міністерство економіки. The programme covers grants, \
cheaper loans and training for 25,000 entrepreneurs in 2025; officials said the first \
payments would arrive within three months. Експерти вважають, що це допоможе відновити \
економіку регіонів, які постраждали від війни.\n";

/// One measured generation.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRun {
    pub prompt_tokens_per_sec: f64,
    pub decode_tokens_per_sec: f64,
}

/// Speeds measured for one model (best of the repeats).
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub model: ModelInfo,
    /// `cpu` or `cuda`.
    pub device: &'static str,
    /// Threads Candle uses (`RAYON_NUM_THREADS` / default).
    pub threads: usize,
    pub load_secs: f64,
    pub prompt_tokens: usize,
    /// Tokens generated per run (EOS ignored).
    pub generated_tokens: usize,
    pub prompt_tokens_per_sec: f64,
    pub decode_tokens_per_sec: f64,
    pub runs: Vec<BenchRun>,
    /// The exact prompt ids, so that another engine can be run on them.
    pub prompt_ids: Vec<u32>,
    /// The greedy ids of the last run (to compare devices and engines).
    pub generated_ids: Vec<u32>,
}

/// Benchmark `model` on CPU: a prompt of `prompt_tokens` tokens in one
/// batched pass, then `gen` greedy tokens ignoring EOS, `repeats` times.
/// Call [`super::set_threads`] first to choose the thread count.
pub fn bench(
    model: &Path,
    prompt_tokens: usize,
    gen: usize,
    repeats: usize,
) -> Result<BenchReport> {
    bench_implementation(model, prompt_tokens, gen, repeats, Implementation::Fast)
}

/// [`bench`] with a chosen transformer implementation.
pub fn bench_implementation(
    model: &Path,
    prompt_tokens: usize,
    gen: usize,
    repeats: usize,
    implementation: Implementation,
) -> Result<BenchReport> {
    bench_on(
        model,
        &Device::Cpu,
        prompt_tokens,
        gen,
        repeats,
        implementation,
    )
}

/// [`bench_implementation`] on a chosen device (CUDA: `--features cuda`).
pub fn bench_on(
    model: &Path,
    device: &Device,
    prompt_tokens: usize,
    gen: usize,
    repeats: usize,
    implementation: Implementation,
) -> Result<BenchReport> {
    let load = Instant::now();
    let mut m = ChatModel::load_with(model, device, implementation)?;
    let load_secs = load.elapsed().as_secs_f64();
    let ids = bench_prompt(&m, prompt_tokens)?;
    bench_with_prompt(&mut m, &ids, gen, repeats, load_secs)
}

/// The first `n` tokens of the benchmark text, repeated as needed.
fn bench_prompt(m: &ChatModel, n: usize) -> Result<Vec<u32>> {
    let unit = m.encode(BENCH_TEXT)?;
    if unit.is_empty() || n == 0 {
        return Err(Error::Config("bench: prompt length must be > 0".into()));
    }
    Ok(unit.iter().copied().cycle().take(n).collect())
}

/// Benchmark an already loaded model on fixed prompt ids.
pub fn bench_with_prompt(
    m: &mut ChatModel,
    prompt: &[u32],
    gen: usize,
    repeats: usize,
    load_secs: f64,
) -> Result<BenchReport> {
    let params = GenerationParams {
        ignore_eos: true,
        ..GenerationParams::greedy(gen)
    };
    let mut runs = Vec::new();
    let mut generated_ids = Vec::new();
    // One untimed warm-up run (first-touch of weights and caches).
    m.generate_ids(prompt, &params, None, &mut |_| {})?;
    for _ in 0..repeats.max(1) {
        let g = m.generate_ids(prompt, &params, None, &mut |_| {})?;
        generated_ids.clone_from(&g.token_ids);
        if g.generated_tokens != gen {
            return Err(Error::Generation(format!(
                "bench: generated {} tokens instead of {gen}",
                g.generated_tokens
            )));
        }
        runs.push(BenchRun {
            prompt_tokens_per_sec: g.prompt_tokens_per_sec(),
            decode_tokens_per_sec: g.decode_tokens_per_sec(),
        });
    }
    let best = |f: fn(&BenchRun) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    Ok(BenchReport {
        model: m.info().clone(),
        device: if m.device().is_cuda() { "cuda" } else { "cpu" },
        threads: candle_core::utils::get_num_threads(),
        load_secs,
        prompt_tokens: prompt.len(),
        generated_tokens: gen,
        prompt_tokens_per_sec: best(|r| r.prompt_tokens_per_sec),
        decode_tokens_per_sec: best(|r| r.decode_tokens_per_sec),
        runs,
        prompt_ids: prompt.to_vec(),
        generated_ids,
    })
}
