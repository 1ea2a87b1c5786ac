//! One long generation with the chat LLM engine, for peak-memory runs
//! (`/usr/bin/time -v`, see `scripts/bench_llm_memory.sh`): load, one prompt
//! of PROMPT_TOKENS tokens in one batched pass, GEN greedy tokens (EOS
//! ignored), then the prompt's next-token logits once more. Prints JSON with
//! the speeds, the generated ids, a hash of the logits' bits and the prompt
//! ids (for llama.cpp).
//!
//! `cargo run --release --example llm_memory -- MODEL.gguf [PROMPT_TOKENS] [GEN] [THREADS] [TEXT_FILE]`
//!
//! The prompt is TEXT_FILE (default: the seed `seeds/002_1e12a2d0a498dcd6.txt`)
//! tokenized as plain text and repeated up to PROMPT_TOKENS tokens. Uses only
//! the public API that older versions of the crate have too, so that the
//! script can run the same program on a build from before a change.
use std::path::PathBuf;
use std::time::Instant;
use ukdigest::llm::{ChatModel, GenerationParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = PathBuf::from(
        args.next()
            .ok_or("usage: llm_memory MODEL [PROMPT] [GEN] [THREADS] [TEXT_FILE]")?,
    );
    let mut num = |default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let prompt_tokens = num(3500)?;
    let gen = num(256)?;
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
    let prompt: Vec<u32> = unit.iter().copied().cycle().take(prompt_tokens).collect();
    let params = GenerationParams {
        ignore_eos: true,
        ..GenerationParams::greedy(gen)
    };
    let g = m.generate_ids(&prompt, &params, None, &mut |_| {})?;
    let logits = m.next_token_logits(&prompt)?;
    // FNV-1a over the bits: equal hashes ⇔ (practically) identical logits.
    let hash = logits.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ x.to_bits() as u64).wrapping_mul(0x100_0000_01b3)
    });
    let report = serde_json::json!({
        "model": model,
        "threads": threads,
        "load_secs": load_secs,
        "prompt_tokens": prompt.len(),
        "generated_tokens": g.generated_tokens,
        "prompt_tokens_per_sec": g.prompt_tokens_per_sec(),
        "decode_tokens_per_sec": g.decode_tokens_per_sec(),
        "generated_ids": g.token_ids,
        "logits_hash": format!("{hash:016x}"),
        "prompt_ids": prompt,
    });
    println!("{report}");
    Ok(())
}
