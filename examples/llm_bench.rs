//! Benchmark the chat LLM engine on a GGUF file and print a JSON report.
//!
//! `cargo run --release --example llm_bench -- MODEL.gguf [PROMPT_TOKENS] [GEN] [THREADS] [REPEATS] [fast|candle] [cpu|cuda]`
//!
//! `cuda` needs a build with `--features cuda` (`scripts/build-cuda.sh`).
use std::path::PathBuf;
use ukdigest::config::DeviceKind;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = PathBuf::from(
        args.next()
            .ok_or("usage: llm_bench MODEL [PROMPT] [GEN] [THREADS] [REPEATS]")?,
    );
    let mut num = |default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let prompt = num(256)?;
    let gen = num(64)?;
    let threads = num(2)?;
    let repeats = num(3)?;
    let implementation = match args.next().as_deref() {
        None | Some("fast") => ukdigest::llm::Implementation::Fast,
        Some("candle") => ukdigest::llm::Implementation::CandleTransformers,
        Some(other) => return Err(format!("unknown implementation {other}").into()),
    };
    let device = match args.next().as_deref() {
        None | Some("cpu") => DeviceKind::Cpu,
        Some("cuda") => DeviceKind::Cuda,
        Some(other) => return Err(format!("unknown device {other} (cpu or cuda)").into()),
    };
    let device = ukdigest::engines::device(device)?;
    ukdigest::llm::set_threads(threads);
    let report = ukdigest::llm::bench_on(&model, &device, prompt, gen, repeats, implementation)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
