//! Helpers shared by the integration tests.
#![allow(dead_code)]
use std::path::PathBuf;

/// SmolLM2-135M-Instruct (Q4_1 GGUF) used by the real-model tests.
pub fn smollm2_gguf() -> PathBuf {
    std::env::var_os("UKDIGEST_SMOLLM2")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from("/root/.cache/ukdigest/dev/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

/// Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), used for tokenizer parity only.
pub fn qwen25_coder_05b_gguf() -> PathBuf {
    std::env::var_os("UKDIGEST_QWEN25_CODER_05B")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from("/root/.cache/ukdigest/dev/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
        })
}
