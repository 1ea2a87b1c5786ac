//! The engines of a run: which model each stage uses (resolved on disk
//! before any article is looked at), and the loaded models, loaded lazily
//! the first time an article needs them. A run over a folder where every
//! article is already done resolves its models (to know their file hashes)
//! but loads none.
use crate::config::{DeviceKind, Engine};
use crate::error::{Error, Result};
use crate::llm::ChatModel;
use crate::marian::tokenizer::MarianTokenizer;
use crate::marian::{DecodeOptions, MarianModel};
use crate::plan::Plan;
use crate::report::{Event, Reporter};
use crate::source::{ResolvedModel, Resolver};
use crate::store::{
    Batching, FactsSettings, MarianSettings, ModelProvenance, Settings, StageModels,
    SummarizeSettings, TranslateSettings,
};
use crate::translate::{self, MarianTranslator, TranslateStats, TranslatedSentence};
use std::path::{Path, PathBuf};

/// Build the candle device.
pub fn device(kind: DeviceKind) -> Result<candle_core::Device> {
    match kind {
        DeviceKind::Cpu => Ok(candle_core::Device::Cpu),
        DeviceKind::Cuda => {
            if cfg!(feature = "cuda") {
                Ok(candle_core::Device::new_cuda(0)?)
            } else {
                Err(Error::Config(
                    "runtime.device = \"cuda\" needs a build with `--features cuda`".into(),
                ))
            }
        }
    }
}

/// The stages that run a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStage {
    Translate,
    Summarize,
    Facts,
}

/// Loaded chat models, shared between stages by file.
struct LlmPool {
    models: Vec<(PathBuf, ChatModel)>,
    /// How every chat model batches.
    batch: crate::llm::BatchOptions,
}

impl LlmPool {
    fn load(
        &mut self,
        path: &Path,
        device: &candle_core::Device,
        name: &str,
        reporter: &dyn Reporter,
    ) -> Result<usize> {
        if let Some(i) = self.models.iter().position(|(p, _)| p == path) {
            return Ok(i);
        }
        reporter.report(Event::Loading { model: name, path });
        let mut m = ChatModel::load(path, device)?;
        m.set_batch_options(self.batch);
        self.models.push((path.to_path_buf(), m));
        Ok(self.models.len() - 1)
    }
}

/// The translator, once loaded.
enum Translator {
    Marian(Box<MarianTranslator>),
    /// A chat model of the pool.
    Llm(usize),
}

/// The resolved models of a run, their effective settings, and the models
/// loaded so far.
pub struct Engines {
    device_kind: DeviceKind,
    device: Option<candle_core::Device>,
    translate_model: ResolvedModel,
    summarize_model: Option<ResolvedModel>,
    facts_model: Option<ResolvedModel>,
    settings: Settings,
    identity: StageModels,
    translator: Option<Translator>,
    pool: LlmPool,
    /// Marian `config.json`, read once for provenance.
    marian_config: Option<serde_json::Value>,
}

impl Engines {
    /// Resolve the models of the plan's stages (fetching them into the cache
    /// when a source needs it) and compute the run's settings. Loads nothing.
    pub fn resolve(plan: &Plan, reporter: &dyn Reporter) -> Result<Engines> {
        let resolver = Resolver::new(plan.cache_dir.clone(), reporter);
        let cfg = &plan.config;
        let translate_model = resolver.resolve_first(cfg, &plan.translate.candidates)?;
        let summarize_model = match &plan.summarize {
            Some(s) => Some(resolver.resolve_first(cfg, &s.candidates)?),
            None => None,
        };
        let facts_model = match plan.facts.as_ref().and_then(|f| f.candidates.as_ref()) {
            Some(c) => Some(resolver.resolve_first(cfg, c)?),
            None => None,
        };
        let marian_options = match translate_model.engine {
            Engine::Marian => {
                let mut o = DecodeOptions::from_generation_config(&translate_model.path)?;
                if let Some(b) = plan.translate.num_beams {
                    o.num_beams = b;
                }
                Some(o)
            }
            Engine::Gguf => None,
        };
        let settings = Settings {
            translate: TranslateSettings {
                max_sentence_tokens: plan.translate.max_sentence_tokens,
                batch_tokens: plan.translate.batch_tokens,
                marian: marian_options.as_ref().map(|o| MarianSettings {
                    decode: o.clone(),
                    quantize: plan.translate.quantize,
                }),
                llm: match translate_model.engine {
                    Engine::Gguf => Some(plan.translate.llm.clone()),
                    Engine::Marian => None,
                },
            },
            summarize: plan.summarize.as_ref().map(|s| SummarizeSettings {
                params: s.params.clone(),
                min_sentences: s.stage.min_sentences,
                max_sentences: s.stage.max_sentences,
                from: s.stage.from,
            }),
            facts: plan.facts.as_ref().map(|f| FactsSettings {
                llm_facts: f.candidates.is_some(),
                max_new_tokens: f.max_new_tokens,
            }),
            threads: plan.threads,
        };
        let describe = |m: &ResolvedModel| ModelProvenance {
            name: m.name.clone(),
            engine: m.engine,
            path: m.path.clone(),
            sha256: m.sha256.clone(),
            source: m.source.clone(),
            skipped_sources: m.skipped.clone(),
            metadata: None,
        };
        let identity = StageModels {
            translate: describe(&translate_model),
            summarize: summarize_model.as_ref().map(describe),
            facts: facts_model.as_ref().map(describe),
        };
        Ok(Engines {
            device_kind: plan.device,
            device: None,
            translate_model,
            summarize_model,
            facts_model,
            settings,
            identity,
            translator: None,
            pool: LlmPool {
                models: Vec::new(),
                batch: plan.batch,
            },
            marian_config: None,
        })
    }

    /// The chat engine's scheduling, as provenance records it: `None` when
    /// no stage runs a chat model.
    pub fn batching(&self) -> Option<Batching> {
        let models = [
            Some(&self.translate_model),
            self.summarize_model.as_ref(),
            self.facts_model.as_ref(),
        ];
        let chat = models.iter().flatten().any(|m| m.engine == Engine::Gguf);
        let b = &self.pool.batch;
        chat.then_some(Batching {
            max_batch: b.max_batch,
            kv_budget_mb: b.kv_budget_bytes >> 20,
            draft_tokens: b.draft_tokens,
        })
    }

    /// The effective settings, as provenance records them.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The models of each stage by name, file and hash (no metadata: what
    /// the skip check compares).
    pub fn identity(&self) -> &StageModels {
        &self.identity
    }

    pub fn translator_name(&self) -> &str {
        &self.translate_model.name
    }

    fn device(&mut self) -> Result<candle_core::Device> {
        if self.device.is_none() {
            self.device = Some(device(self.device_kind)?);
        }
        Ok(self.device.clone().expect("set above"))
    }

    fn load_translator(&mut self, reporter: &dyn Reporter) -> Result<()> {
        if self.translator.is_some() {
            return Ok(());
        }
        let device = self.device()?;
        let m = &self.translate_model;
        let t = match m.engine {
            Engine::Marian => {
                reporter.report(Event::Loading {
                    model: &m.name,
                    path: &m.path,
                });
                let marian = self.settings.translate.marian.as_ref();
                let quant = marian.map(|s| s.quantize).unwrap_or_default();
                Translator::Marian(Box::new(MarianTranslator {
                    model: MarianModel::load(&m.path, &device, quant)?,
                    tokenizer: MarianTokenizer::from_dir(&m.path)?,
                    options: marian.map(|s| s.decode.clone()).unwrap_or_default(),
                    batch_tokens: self.settings.translate.batch_tokens,
                }))
            }
            Engine::Gguf => Translator::Llm(self.pool.load(&m.path, &device, &m.name, reporter)?),
        };
        self.translator = Some(t);
        Ok(())
    }

    /// The chat model of `stage` (summarize or facts), loaded on first use.
    pub fn chat(&mut self, stage: ModelStage, reporter: &dyn Reporter) -> Result<&mut ChatModel> {
        let m = match stage {
            ModelStage::Translate => Some(&self.translate_model),
            ModelStage::Summarize => self.summarize_model.as_ref(),
            ModelStage::Facts => self.facts_model.as_ref(),
        }
        .filter(|m| m.engine == Engine::Gguf)
        .ok_or_else(|| Error::Config(format!("no chat model for the {stage:?} stage")))?
        .clone();
        let device = self.device()?;
        let i = self.pool.load(&m.path, &device, &m.name, reporter)?;
        Ok(&mut self.pool.models[i].1)
    }

    /// Whether a chat model translates (no Marian model resolved).
    pub fn translator_is_llm(&self) -> bool {
        self.translate_model.engine == Engine::Gguf
    }

    /// The chat model that translates, loaded on first use, with how it
    /// translates; `None` when a Marian model translates.
    pub fn llm_translator(
        &mut self,
        reporter: &dyn Reporter,
    ) -> Result<Option<(&mut ChatModel, translate::LlmTranslateSettings)>> {
        if !self.translator_is_llm() {
            return Ok(None);
        }
        self.load_translator(reporter)?;
        let settings = llm_translate_settings(&self.settings);
        match self.translator.as_ref().expect("loaded above") {
            Translator::Llm(i) => Ok(Some((&mut self.pool.models[*i].1, settings))),
            Translator::Marian(_) => Ok(None),
        }
    }

    /// Whether a chat model translates and it is the summarizer's file.
    pub fn translator_is_summarizer(&self) -> bool {
        self.translator_is_llm()
            && self
                .summarize_model
                .as_ref()
                .is_some_and(|s| s.path == self.translate_model.path)
    }

    /// Whether the facts stage runs the same chat model file as summarize.
    pub fn facts_uses_summarizer(&self) -> bool {
        match (&self.facts_model, &self.summarize_model) {
            (Some(f), Some(s)) => f.path == s.path,
            _ => false,
        }
    }

    /// Whether the run has an LLM facts model.
    pub fn has_facts_llm(&self) -> bool {
        self.facts_model.is_some()
    }

    /// Translate sentences with the stage's translator (loaded on first use).
    pub fn translate(
        &mut self,
        sentences: &[String],
        table: &crate::entities::EntityTable,
        stats: &mut TranslateStats,
        reporter: &dyn Reporter,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<TranslatedSentence>> {
        self.load_translator(reporter)?;
        let t0 = std::time::Instant::now();
        let max_tokens = self.settings.translate.max_sentence_tokens;
        let out = match self.translator.as_mut().expect("loaded above") {
            Translator::Marian(m) => {
                let r = m.translate(sentences, max_tokens, table, stats)?;
                stats.secs += t0.elapsed().as_secs_f64();
                progress(sentences.len(), sentences.len());
                r
            }
            Translator::Llm(i) => {
                let settings = llm_translate_settings(&self.settings);
                let model = &mut self.pool.models[*i].1;
                translate::translate_llm(model, sentences, &settings, table, stats, progress)?
            }
        };
        translate::check_aligned(sentences, &out)?;
        Ok(out)
    }

    /// Provenance of the models in use, with the metadata of those loaded.
    pub fn provenance(&mut self) -> StageModels {
        let mut models = self.identity.clone();
        if let Some(Translator::Marian(m)) = &self.translator {
            if self.marian_config.is_none() {
                self.marian_config = std::fs::read_to_string(m.model.dir().join("config.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok());
            }
        }
        let info = |pool: &LlmPool, path: &Path| {
            pool.models
                .iter()
                .find(|(p, _)| p == path)
                .and_then(|(_, m)| serde_json::to_value(m.info()).ok())
        };
        models.translate.metadata = match self.translate_model.engine {
            Engine::Marian => self.marian_config.clone(),
            Engine::Gguf => info(&self.pool, &self.translate_model.path),
        };
        if let (Some(p), Some(m)) = (models.summarize.as_mut(), &self.summarize_model) {
            p.metadata = info(&self.pool, &m.path);
        }
        if let (Some(p), Some(m)) = (models.facts.as_mut(), &self.facts_model) {
            p.metadata = info(&self.pool, &m.path);
        }
        models
    }
}

/// How the chat-model translator of a run with `settings` translates.
fn llm_translate_settings(settings: &Settings) -> translate::LlmTranslateSettings {
    settings
        .translate
        .llm
        .clone()
        .expect("a chat-model translator has LLM settings")
}
