//! Shared helpers for the integration tests.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn shared() -> PathBuf {
    repo().join("../shared")
}

/// The project's models.toml.
pub fn config() -> ukdigest::config::ModelsConfig {
    ukdigest::config::ModelsConfig::load(&repo().join("models.toml")).expect("models.toml")
}

/// Resolve a model of models.toml through the real resolver (on a fresh
/// machine this fetches it with pip into ~/.cache/ukdigest).
pub fn resolve(name: &str) -> PathBuf {
    let cfg = config();
    let spec = cfg
        .models
        .get(name)
        .unwrap_or_else(|| panic!("{name} not in models.toml"));
    ukdigest::source::Resolver::for_config(&cfg)
        .resolve(name, spec)
        .unwrap_or_else(|e| panic!("resolving {name}: {e}"))
        .path
}

/// SmolLM2-135M-Instruct (Q4_1 GGUF), the model of the end-to-end tests.
/// `UKDIGEST_SMOLLM2` points at a local copy instead.
pub fn smollm2_gguf() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| match std::env::var_os("UKDIGEST_SMOLLM2") {
        Some(p) => PathBuf::from(p),
        None => resolve("smollm2-135m-instruct"),
    })
    .clone()
}

/// Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), used for tokenizer parity.
/// `UKDIGEST_QWEN25_CODER_05B` points at a local copy instead.
pub fn qwen25_coder_05b_gguf() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| match std::env::var_os("UKDIGEST_QWEN25_CODER_05B") {
        Some(p) => PathBuf::from(p),
        None => resolve("qwen2.5-coder-0.5b-instruct"),
    })
    .clone()
}
