//! Marian engine throughput (run by `scripts/bench_marian.sh`).
//!
//! cargo run --release --example bench_marian -- --model DIR --inputs ids.json \
//!     --batch 16 --beams 4 --quant q8 --max-new-tokens 64 [--limit 64] [--allow-eos] [--device cuda]
use std::path::PathBuf;

use clap::Parser;
use ukdigest::config::DeviceKind;
use ukdigest::marian::bench::{bench, BenchOptions};
use ukdigest::marian::Quant;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    inputs: PathBuf,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 1)]
    beams: usize,
    #[arg(long, default_value = "f32")]
    quant: String,
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    #[arg(long)]
    limit: Option<usize>,
    /// Let sentences stop at EOS (default: EOS suppressed, fixed output length).
    #[arg(long)]
    allow_eos: bool,
    /// `cpu` or `cuda` (a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let quant = match a.quant.as_str() {
        "f32" => Quant::F32,
        "q8" => Quant::Q8,
        other => anyhow::bail!("--quant must be f32 or q8, got {other}"),
    };
    let device = match a.device.as_str() {
        "cpu" => DeviceKind::Cpu,
        "cuda" => DeviceKind::Cuda,
        other => anyhow::bail!("--device must be cpu or cuda, got {other}"),
    };
    let device = ukdigest::engines::device(device)?;
    let report = bench(
        &a.model,
        &a.inputs,
        &BenchOptions {
            batch: a.batch,
            beams: a.beams,
            quant,
            max_new_tokens: a.max_new_tokens,
            allow_eos: a.allow_eos,
            limit: a.limit,
            device,
        },
    )?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
