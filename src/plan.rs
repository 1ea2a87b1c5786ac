//! The plan of a run: the command line and the layered `models.toml`
//! turned into one typed value, with every effective setting computed
//! once. Jobs read the plan; nothing downstream re-derives a setting.
use crate::config::{DeviceKind, Engine, ModelsConfig, SummarizeStage, Uses};
use crate::error::Result;
use crate::llm::{BatchOptions, GenerationParams};
use crate::marian::Quant;
use crate::translate::LlmTranslateSettings;
use std::path::PathBuf;

/// What the command line chose over `models.toml`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Worker threads (`--threads`).
    pub threads: Option<usize>,
    /// Chat-model sequences (and articles) at once (`--max-batch`).
    pub max_batch: Option<usize>,
    /// The translation model (`--translator`): the only candidate.
    pub translator: Option<String>,
    /// The chat model (`--llm`) for summarize and facts, and the LLM
    /// translator when no Marian candidate resolves.
    pub llm: Option<String>,
}

/// The translate stage, as it will run.
#[derive(Debug, Clone)]
pub struct TranslatePlan {
    /// Models to try, in order.
    pub candidates: Vec<String>,
    pub max_sentence_tokens: usize,
    pub batch_tokens: usize,
    /// Marian beam width; `None` keeps the model's generation_config.json.
    pub num_beams: Option<usize>,
    pub quantize: Quant,
    /// How a chat model translates (when one does).
    pub llm: LlmTranslateSettings,
}

#[derive(Debug, Clone)]
pub struct SummarizePlan {
    pub candidates: Vec<String>,
    pub stage: SummarizeStage,
    /// Generation settings of every summarize request.
    pub params: GenerationParams,
}

#[derive(Debug, Clone)]
pub struct FactsPlan {
    /// Chat models for LLM facts; `None` when `llm_facts = false` (the
    /// deterministic extractors always run).
    pub candidates: Option<Vec<String>>,
    pub max_new_tokens: usize,
}

/// One run, fully decided.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: ModelsConfig,
    /// Effective worker threads (never 0).
    pub threads: usize,
    pub device: DeviceKind,
    pub cache_dir: PathBuf,
    /// How chat models batch: sequences at once and their KV budget. Also
    /// the number of articles a run works on at once.
    pub batch: BatchOptions,
    pub translate: TranslatePlan,
    /// `None` for commands that do not summarize.
    pub summarize: Option<SummarizePlan>,
    /// `None` for commands that do not extract facts.
    pub facts: Option<FactsPlan>,
}

impl Plan {
    /// The plan of a command that runs the stages in `uses`.
    pub fn new(config: ModelsConfig, uses: Uses, o: &Overrides) -> Result<Plan> {
        let mut config = config;
        if let Some(b) = o.max_batch {
            config.runtime.max_batch = b;
        }
        config.check(uses)?;
        let threads = match o.threads.unwrap_or(config.runtime.threads) {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n => n,
        };
        if let Some(t) = &o.translator {
            config.check_model_for(t, "--translator", &[Engine::Marian, Engine::Gguf])?;
        }
        if let Some(l) = &o.llm {
            config.check_model_for(l, "--llm", &[Engine::Gguf])?;
        }
        let t = &config.translate;
        let translate = TranslatePlan {
            candidates: translate_candidates(&config, o),
            max_sentence_tokens: t.max_sentence_tokens,
            batch_tokens: t.batch_tokens,
            num_beams: (t.num_beams > 0).then_some(t.num_beams),
            quantize: t.quantize,
            llm: LlmTranslateSettings {
                chunk_sentences: t.llm_chunk_sentences,
                ..LlmTranslateSettings::default()
            },
        };
        let chat = |list: &[String]| match &o.llm {
            Some(m) => vec![m.clone()],
            None => list.to_vec(),
        };
        let summarize = uses.summarize.then(|| SummarizePlan {
            candidates: chat(&config.summarize.models),
            stage: config.summarize.clone(),
            params: crate::summarize::params(config.summarize.max_new_tokens),
        });
        let facts = uses.facts.then(|| FactsPlan {
            candidates: config.facts.llm_facts.then(|| chat(&config.facts.models)),
            max_new_tokens: config.facts.max_new_tokens,
        });
        let batch = BatchOptions {
            max_batch: config.runtime.max_batch,
            kv_budget_bytes: config.runtime.kv_budget_mb.saturating_mul(1 << 20),
            draft_tokens: config.runtime.draft_tokens,
        };
        Ok(Plan {
            threads,
            batch,
            device: config.runtime.device,
            cache_dir: config.cache_dir(),
            translate,
            summarize,
            facts,
            config,
        })
    }
}

/// `--translator` alone; else `[translate] models`, where `--llm` keeps the
/// Marian candidates first and then the chosen chat model.
fn translate_candidates(config: &ModelsConfig, o: &Overrides) -> Vec<String> {
    if let Some(t) = &o.translator {
        return vec![t.clone()];
    }
    let mut list = config.translate.models.clone();
    if let Some(l) = &o.llm {
        list.retain(|m| {
            config
                .models
                .get(m)
                .is_some_and(|s| s.engine == Engine::Marian)
        });
        list.push(l.clone());
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_shape_the_candidates() {
        let cfg = ModelsConfig::builtin();
        let o = Overrides {
            llm: Some("smollm2-135m-instruct".into()),
            threads: Some(3),
            ..Default::default()
        };
        let p = Plan::new(cfg.clone(), Uses::DIGEST, &o).unwrap();
        assert_eq!(p.threads, 3);
        assert_eq!(
            p.translate.candidates,
            vec![
                "opus-mt-tc-big-zle-en",
                "opus-mt-uk-en",
                "smollm2-135m-instruct"
            ]
        );
        assert_eq!(
            p.summarize.unwrap().candidates,
            vec!["smollm2-135m-instruct"]
        );
        let p = Plan::new(cfg.clone(), Uses::TRANSLATE, &Overrides::default()).unwrap();
        assert!(p.summarize.is_none() && p.facts.is_none());
        assert!(p.threads >= 1);
        let bad = Overrides {
            llm: Some("opus-mt-uk-en".into()),
            ..Default::default()
        };
        let e = Plan::new(cfg, Uses::DIGEST, &bad).unwrap_err().to_string();
        assert!(e.contains("--llm") && e.contains("opus-mt-uk-en"), "{e}");
    }
}
