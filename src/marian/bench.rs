//! Throughput benchmark of the Marian engine (`examples/bench_marian.rs`, `scripts/bench_marian.sh`).
use std::path::Path;
use std::time::Instant;

use candle_core::Device;

use super::{DecodeOptions, MarianModel, Quant};
use crate::{Error, Result};

/// What the Marian benchmark measures.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Sentences per `translate_ids` call.
    pub batch: usize,
    /// 1 = greedy.
    pub beams: usize,
    pub quant: Quant,
    /// At most this many tokens per sentence; exactly this many unless `allow_eos`.
    pub max_new_tokens: usize,
    /// Let sentences end at EOS (then finished sentences leave the batch);
    /// `false` suppresses EOS so every sentence decodes `max_new_tokens`.
    pub allow_eos: bool,
    /// Use only the first `limit` inputs.
    pub limit: Option<usize>,
    /// Where the model runs (CUDA: `--features cuda`).
    pub device: Device,
}

/// Result of one benchmark run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub sentences: usize,
    pub target_tokens: usize,
    pub load_seconds: f64,
    pub translate_seconds: f64,
    pub tokens_per_second: f64,
    /// Decoder forward passes, summed over the batches.
    pub decoder_steps: usize,
    /// Decoder rows summed over those passes (what retiring finished
    /// sentences saves: without it, steps × rows of each batch).
    pub decoder_row_steps: usize,
    /// Peak resident set size of the process (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// `cpu` or `cuda`.
    pub device: &'static str,
    /// The output ids of every sentence (to compare devices).
    pub outputs: Vec<Vec<u32>>,
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), 0 elsewhere.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Loads `model_dir`, translates the id sequences of `inputs` (a JSON array of
/// arrays of source ids) in consecutive batches with a fixed output length
/// (or up to EOS with `allow_eos`), and reports target tokens per second and peak memory.
pub fn bench(model_dir: &Path, inputs: &Path, opts: &BenchOptions) -> Result<BenchReport> {
    let text = std::fs::read_to_string(inputs).map_err(|e| Error::io(inputs, e))?;
    let mut sources: Vec<Vec<u32>> = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: expected [[ids]]: {e}", inputs.display())))?;
    if let Some(n) = opts.limit {
        sources.truncate(n);
    }
    if opts.batch == 0 {
        return Err(Error::Config("batch must be at least 1".into()));
    }
    let t0 = Instant::now();
    let mut model = MarianModel::load(model_dir, &opts.device, opts.quant)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let decode = DecodeOptions {
        num_beams: opts.beams.max(1),
        max_new_tokens: opts.max_new_tokens,
        suppress_eos: !opts.allow_eos,
        ..DecodeOptions::default()
    };
    // Warm-up (allocator, thread pools), not timed: the engines compared do the same.
    if let Some(first) = sources.first() {
        let warm = DecodeOptions {
            max_new_tokens: 2,
            ..decode.clone()
        };
        model.translate_ids(std::slice::from_ref(first), &warm)?;
    }
    let t1 = Instant::now();
    let mut outputs = Vec::with_capacity(sources.len());
    let (mut decoder_steps, mut decoder_row_steps) = (0, 0);
    for chunk in sources.chunks(opts.batch) {
        let (out, stats) = model.translate_ids_with_stats(chunk, &decode)?;
        outputs.extend(out);
        decoder_steps += stats.steps;
        decoder_row_steps += stats.row_steps;
    }
    let target_tokens = outputs.iter().map(Vec::len).sum::<usize>();
    let translate_seconds = t1.elapsed().as_secs_f64();
    Ok(BenchReport {
        sentences: sources.len(),
        target_tokens,
        load_seconds,
        translate_seconds,
        tokens_per_second: target_tokens as f64 / translate_seconds,
        decoder_steps,
        decoder_row_steps,
        peak_rss_mib: peak_rss_mib(),
        device: if opts.device.is_cuda() { "cuda" } else { "cpu" },
        outputs,
    })
}
