//! Aggregate decode speed of the chat LLM engine with N sequences decoded
//! together (continuous batching), for `scripts/bench_llm_batch.sh`. Prints
//! JSON with the speeds, the KV cache reserved, the prompts' ids and every
//! sequence's greedy ids (so that llama.cpp can run the same prompts and the
//! outputs can be compared).
//!
//! `cargo run --release --example llm_batch_bench -- MODEL.gguf [BATCH] [PROMPT_TOKENS] [GEN] [THREADS] [TEXT_FILE]`
//!
//! Sequence i's prompt is TEXT_FILE (default: the seed
//! `seeds/002_1e12a2d0a498dcd6.txt`) tokenized as plain text, read from
//! token 17·i on, cycled to PROMPT_TOKENS tokens: same length, different
//! text. EOS is ignored, so every sequence decodes GEN tokens. Draft tokens
//! are off unless `DRAFT_TOKENS` is set in the environment (llama.cpp's
//! batched decoding has none).
use std::path::PathBuf;
use std::time::Instant;
use ukdigest::llm::{BatchOptions, BatchRequest, ChatModel, GenerationParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = PathBuf::from(
        args.next()
            .ok_or("usage: llm_batch_bench MODEL [BATCH] [PROMPT] [GEN] [THREADS] [TEXT_FILE]")?,
    );
    let mut num = |default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let batch = num(8)?;
    let prompt_tokens = num(128)?;
    let gen = num(32)?;
    let threads = num(2)?;
    let text_file = args
        .next()
        .unwrap_or_else(|| "seeds/002_1e12a2d0a498dcd6.txt".into());
    ukdigest::llm::set_threads(threads);
    let load = Instant::now();
    let mut m = ChatModel::load(&model, &candle_core::Device::Cpu)?;
    let load_secs = load.elapsed().as_secs_f64();
    let unit = m.encode(&std::fs::read_to_string(&text_file)?)?;
    if unit.is_empty() {
        return Err(format!("{text_file} has no tokens").into());
    }
    let prompts: Vec<Vec<u32>> = (0..batch)
        .map(|i| {
            unit.iter()
                .cycle()
                .skip(17 * i)
                .take(prompt_tokens)
                .copied()
                .collect()
        })
        .collect();
    let params = GenerationParams {
        ignore_eos: true,
        ..GenerationParams::greedy(gen)
    };
    let requests = prompts
        .iter()
        .map(|p| BatchRequest::new(p.clone(), params.clone()))
        .collect();
    let draft_tokens = std::env::var("DRAFT_TOKENS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(0);
    let options = BatchOptions {
        max_batch: batch,
        kv_budget_bytes: usize::MAX,
        draft_tokens,
    };
    let t = Instant::now();
    let (results, stats) = m.generate_batch(requests, options)?;
    let wall_secs = t.elapsed().as_secs_f64();
    let mut generated = Vec::new();
    for r in results {
        generated.push(r?.token_ids);
    }
    let report = serde_json::json!({
        "engine": "ukdigest",
        "model": model,
        "threads": threads,
        "batch": batch,
        "draft_tokens": draft_tokens,
        "load_secs": load_secs,
        "prompt_tokens": prompt_tokens,
        "generated_tokens": gen,
        "wall_secs": wall_secs,
        "prefill_tokens_per_sec": (batch * prompt_tokens) as f64 / stats.prefill_secs.max(1e-9),
        // Every token but each sequence's first (sampled from its prompt).
        "decode_tokens_per_sec": generated.iter().map(|g| g.len().saturating_sub(1)).sum::<usize>()
            as f64 / stats.decode_secs.max(1e-9),
        "decode_steps": stats.decode_steps,
        "mean_batch": stats.mean_batch(),
        "peak_kv_bytes": stats.peak_kv_bytes,
        "prompt_ids": prompts,
        "generated_ids": generated,
    });
    println!("{report}");
    Ok(())
}
