//! Shared helpers for the integration tests.
#![allow(dead_code)]
use serde_json::Value;
use std::collections::BTreeMap;
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

/// The device the model tests run on: `UKDIGEST_TEST_DEVICE=cuda` (a build
/// with `--features cuda`, GPU 0) or `cpu` (the default).
pub fn device() -> candle_core::Device {
    static D: OnceLock<candle_core::Device> = OnceLock::new();
    D.get_or_init(|| {
        match std::env::var("UKDIGEST_TEST_DEVICE").as_deref() {
            Err(_) | Ok("") | Ok("cpu") => candle_core::Device::Cpu,
            Ok("cuda") => candle_core::Device::new_cuda(0).unwrap_or_else(|e| {
                panic!("UKDIGEST_TEST_DEVICE=cuda: {e} (build with --features cuda, on a machine with an NVIDIA GPU)")
            }),
            Ok(other) => panic!("UKDIGEST_TEST_DEVICE={other}: expected cpu or cuda"),
        }
    })
    .clone()
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

/// Non-integer numbers at f32 precision: the settings hold f32 values
/// (`repeat_penalty`), which the writer before the typed records widened to
/// f64 digits (`1.100000023841858` for `1.1`).
fn f32_precision(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap() as f32;
            *v = serde_json::json!(x as f64);
        }
        Value::Array(a) => a.iter_mut().for_each(f32_precision),
        Value::Object(o) => o.values_mut().for_each(f32_precision),
        _ => {}
    }
}

/// Drop what differs between runs of the same models on the same inputs:
/// timings, the wall-clock stamp, machine paths, and the text of why the
/// hub was unreachable.
fn normalize_record(mut v: Value) -> Value {
    f32_precision(&mut v);
    let o = v.as_object_mut().expect("a record is an object");
    o.remove("schema_version");
    if let Some(p) = o.get("source_path").and_then(Value::as_str) {
        let name = Path::new(p)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        o.insert("source_path".into(), Value::String(name));
    }
    let prov = o.get_mut("provenance").unwrap().as_object_mut().unwrap();
    prov.remove("timings");
    prov.remove("generated_at");
    if let Some(c) = prov.get_mut("counts").and_then(Value::as_object_mut) {
        if let Some(t) = c.get_mut("translate").and_then(Value::as_object_mut) {
            t.remove("secs");
        }
        if let Some(f) = c.get_mut("facts_llm").and_then(Value::as_object_mut) {
            f.remove("secs");
        }
    }
    for (_, m) in prov["models"].as_object_mut().unwrap().iter_mut() {
        let m = m.as_object_mut().unwrap();
        m.remove("path");
        m.remove("skipped_sources");
        if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            md.remove("path");
        }
    }
    v
}

/// Markdown up to the provenance (which holds timings).
fn normalize_markdown(text: &str) -> String {
    let cut = ["\n## Provenance\n", "\n---\n\nProvenance: "]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(text.len());
    text[..cut].to_string()
}

/// The normalized outputs of a digest folder: file name → content (the
/// records and Markdown; not the program's state in `.ukdigest/`).
pub fn normalize_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "README.md" || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".json") {
            let v = normalize_record(serde_json::from_str(&text).unwrap());
            out.insert(name, serde_json::to_string_pretty(&v).unwrap() + "\n");
        } else if name.ends_with(".md") {
            out.insert(name, normalize_markdown(&text));
        }
    }
    out
}

/// The `ukdigest` binary of this build, run from the repository root.
pub fn ukdigest() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ukdigest"));
    c.current_dir(repo());
    c
}

/// Run a command: whether it succeeded, its stdout and its stderr.
pub fn run(c: &mut std::process::Command) -> (bool, String, String) {
    let o = c.output().expect("run ukdigest");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
