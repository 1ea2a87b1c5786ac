//! The jobs users run: `digest` (ingest → translate → summarize → facts →
//! digest) and `translate`, over a batch of articles. Models are resolved
//! and loaded once; a bad article is reported and the batch goes on.
use crate::article::Article;
use crate::config::{DeviceKind, Engine, ModelsConfig};
use crate::digest::{utc_now, ArticleDigest};
use crate::error::{Error, Result};
use crate::facts;
use crate::llm::ChatModel;
use crate::marian::tokenizer::MarianTokenizer;
use crate::marian::{DecodeOptions, MarianModel, Quant};
use crate::source::{ResolvedModel, Resolver};
use crate::summarize;
use crate::translate::{
    self, LlmTranslateSettings, MarianTranslator, TranslateStats, TranslatedSentence,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which models to run, after CLI overrides.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Use this model for translation instead of `[translate] models`.
    pub translator: Option<String>,
    /// Use this chat model for summarize and facts (and as the LLM
    /// translator when `translator` is not set and no Marian resolves).
    pub llm: Option<String>,
}

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

/// Loaded chat models, shared between stages by file.
#[derive(Default)]
pub struct LlmPool {
    models: Vec<(PathBuf, ChatModel)>,
}

impl LlmPool {
    pub fn load(&mut self, path: &Path, device: &candle_core::Device) -> Result<usize> {
        if let Some(i) = self.models.iter().position(|(p, _)| p == path) {
            return Ok(i);
        }
        eprintln!("ukdigest: loading {}", path.display());
        let m = ChatModel::load(path, device)?;
        self.models.push((path.to_path_buf(), m));
        Ok(self.models.len() - 1)
    }
    pub fn get(&mut self, i: usize) -> &mut ChatModel {
        &mut self.models[i].1
    }
}

/// The translator that resolved.
pub enum TranslatorEngine {
    Marian(Box<MarianTranslator>),
    Llm(usize),
}

/// Resolved and loaded models for a run.
pub struct Engines {
    pub translator: TranslatorEngine,
    pub translator_model: ResolvedModel,
    pub summarizer: Option<(usize, ResolvedModel)>,
    pub facts_llm: Option<(usize, ResolvedModel)>,
    pub pool: LlmPool,
    pub llm_translate: LlmTranslateSettings,
}

fn candidates(list: &[String], chosen: &Option<String>) -> Vec<String> {
    match chosen {
        Some(m) => vec![m.clone()],
        None => list.to_vec(),
    }
}

impl Engines {
    /// Resolve and load the translator, and (when `with_llm_stages`) the
    /// summarize and facts models.
    pub fn load(cfg: &ModelsConfig, sel: &Selection, with_llm_stages: bool) -> Result<Self> {
        let resolver = Resolver::for_config(cfg);
        let device = device(cfg.runtime.device)?;
        let mut pool = LlmPool::default();
        let mut tr_list = candidates(&cfg.translate.models, &sel.translator);
        if sel.translator.is_none() {
            if let Some(l) = &sel.llm {
                // Marian candidates first, then the chosen chat model.
                tr_list.retain(|m| {
                    cfg.models
                        .get(m)
                        .is_some_and(|s| s.engine == Engine::Marian)
                });
                tr_list.push(l.clone());
            }
        }
        let translator_model = resolver.resolve_first(cfg, &tr_list)?;
        let translator = match translator_model.engine {
            Engine::Marian => {
                let quant = match cfg.translate.quantize.as_str() {
                    "q8" => Quant::Q8,
                    _ => Quant::F32,
                };
                let dir = &translator_model.path;
                let mut options = DecodeOptions::from_generation_config(dir)?;
                if cfg.translate.num_beams > 0 {
                    options.num_beams = cfg.translate.num_beams;
                }
                TranslatorEngine::Marian(Box::new(MarianTranslator {
                    model: MarianModel::load(dir, &device, quant)?,
                    tokenizer: MarianTokenizer::from_dir(dir)?,
                    options,
                    batch_tokens: cfg.translate.batch_tokens,
                }))
            }
            Engine::Gguf => TranslatorEngine::Llm(pool.load(&translator_model.path, &device)?),
        };
        let mut load_llm = |list: &[String]| -> Result<(usize, ResolvedModel)> {
            let m = resolver.resolve_first(cfg, &candidates(list, &sel.llm))?;
            let i = pool.load(&m.path, &device)?;
            Ok((i, m))
        };
        let (summarizer, facts_llm) = if with_llm_stages {
            let s = load_llm(&cfg.summarize.models)?;
            let f = if cfg.facts.llm_facts {
                Some(load_llm(&cfg.facts.models)?)
            } else {
                None
            };
            (Some(s), f)
        } else {
            (None, None)
        };
        Ok(Engines {
            translator,
            translator_model,
            summarizer,
            facts_llm,
            pool,
            llm_translate: LlmTranslateSettings::default(),
        })
    }

    /// Translate sentences with whichever translator resolved.
    pub fn translate(
        &mut self,
        sentences: &[String],
        cfg: &ModelsConfig,
        stats: &mut TranslateStats,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<TranslatedSentence>> {
        let t0 = Instant::now();
        let out = match &mut self.translator {
            TranslatorEngine::Marian(m) => {
                let r = m.translate(sentences, cfg.translate.max_sentence_tokens, stats)?;
                stats.secs += t0.elapsed().as_secs_f64();
                r
            }
            TranslatorEngine::Llm(i) => {
                let model = self.pool.get(*i);
                translate::translate_llm(model, sentences, &self.llm_translate, stats, progress)?
            }
        };
        translate::check_aligned(sentences, &out)?;
        Ok(out)
    }

    /// Provenance of the models in use.
    pub fn provenance(&mut self) -> serde_json::Value {
        let describe = |m: &ResolvedModel, info: Option<serde_json::Value>| {
            json!({
                "name": m.name, "engine": m.engine, "path": m.path, "sha256": m.sha256,
                "source": m.source, "skipped_sources": m.skipped, "metadata": info,
            })
        };
        let tr_info = match &self.translator {
            TranslatorEngine::Marian(m) => {
                std::fs::read_to_string(m.model.dir().join("config.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
            }
            TranslatorEngine::Llm(i) => serde_json::to_value(self.pool.get(*i).info()).ok(),
        };
        let mut v = json!({ "translate": describe(&self.translator_model, tr_info) });
        if let Some((i, m)) = self.summarizer.clone() {
            let info = serde_json::to_value(self.pool.get(i).info()).ok();
            v["summarize"] = describe(&m, info);
        }
        if let Some((i, m)) = self.facts_llm.clone() {
            let info = serde_json::to_value(self.pool.get(i).info()).ok();
            v["facts"] = describe(&m, info);
        }
        v
    }
}

/// What happened to one input.
#[derive(Debug)]
pub enum Outcome {
    Written {
        id: String,
        files: Vec<PathBuf>,
        line: String,
    },
    Skipped {
        id: String,
        why: String,
    },
    Failed {
        path: PathBuf,
        error: String,
    },
}

fn sha256_bytes(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// An existing record made from the same source bytes with the same
/// models and settings means the article is already done.
fn already_done(
    record: &Path,
    source_sha: &str,
    models: &serde_json::Value,
    settings: &serde_json::Value,
) -> bool {
    let Ok(text) = std::fs::read_to_string(record) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    v["source_sha256"] == source_sha
        && v["provenance"]["models"] == *models
        && v["provenance"]["settings"] == *settings
}

fn marian_options(o: &DecodeOptions) -> serde_json::Value {
    json!({
        "num_beams": o.num_beams,
        "max_new_tokens": o.max_new_tokens,
        "length_penalty": o.length_penalty,
        "early_stopping": format!("{:?}", o.early_stopping),
        "no_repeat_ngram_size": o.no_repeat_ngram_size,
        "min_new_tokens": o.min_new_tokens,
    })
}

/// Settings recorded in every output.
fn settings(cfg: &ModelsConfig, engines: &Engines) -> serde_json::Value {
    json!({
        "translate": {
            "max_sentence_tokens": cfg.translate.max_sentence_tokens,
            "batch_tokens": cfg.translate.batch_tokens,
            "marian": match &engines.translator { TranslatorEngine::Marian(m) => Some(marian_options(&m.options)), _ => None },
            "llm": match &engines.translator { TranslatorEngine::Llm(_) => serde_json::to_value(&engines.llm_translate).ok(), _ => None },
        },
        "summarize": { "params": summarize::params(cfg.summarize.max_new_tokens), "min_sentences": cfg.summarize.min_sentences, "max_sentences": cfg.summarize.max_sentences },
        "facts": { "llm_facts": cfg.facts.llm_facts, "max_new_tokens": cfg.facts.max_new_tokens },
        "threads": candle_core::utils::get_num_threads(),
    })
}

/// Run `one` over every input: a failed article is reported and the batch
/// goes on.
fn run_batch(
    inputs: &[PathBuf],
    out_dir: &Path,
    report: &mut dyn FnMut(&Outcome),
    mut one: impl FnMut(&Path) -> Result<Outcome>,
) -> Result<Vec<Outcome>> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut outcomes = Vec::new();
    for path in inputs {
        let outcome = one(path).unwrap_or_else(|e| Outcome::Failed {
            path: path.clone(),
            error: e.to_string(),
        });
        report(&outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// An article read, ingested and translated (title first, then the body,
/// in one engine pass).
struct Translated {
    started: Instant,
    article: Article,
    source_sha: String,
    /// The decoded source text the sentence spans point into.
    source_text: String,
    ingest_secs: f64,
    title_en: String,
    sentences: Vec<TranslatedSentence>,
    paragraphs: Vec<crate::digest::BilingualParagraph>,
    stats: TranslateStats,
}

impl Translated {
    fn english_paragraphs(&self) -> Vec<String> {
        self.paragraphs
            .iter()
            .map(|p| {
                p.sentences
                    .iter()
                    .map(|s| s.en.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

/// Read and ingest `path`; unless `force`, stop with `Skipped` when the
/// record `record_name(id)` in `out_dir` was made from the same source
/// with the same models and settings; else translate.
#[allow(clippy::too_many_arguments)]
fn read_and_translate(
    cfg: &ModelsConfig,
    engines: &mut Engines,
    path: &Path,
    out_dir: &Path,
    record_name: &dyn Fn(&str) -> String,
    force: bool,
    models: &serde_json::Value,
    settings: &serde_json::Value,
) -> Result<std::result::Result<Translated, Outcome>> {
    let started = Instant::now();
    let bytes = std::fs::read(path).map_err(|e| Error::article(path, e))?;
    let source_sha = sha256_bytes(&bytes);
    let (article, source_text) = crate::ingest::ingest_bytes_with_source(path, &bytes)?;
    let record = out_dir.join(record_name(&article.id));
    if !force && already_done(&record, &source_sha, models, settings) {
        return Ok(Err(Outcome::Skipped {
            id: article.id,
            why: "already done with the same source, models and settings".into(),
        }));
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    let mut all = vec![article.title.clone()];
    all.extend(translate::article_sentences(&article));
    let mut stats = TranslateStats::default();
    let id = article.id.clone();
    let mut sentences = engines.translate(&all, cfg, &mut stats, &mut |done, n| {
        eprint!("\r  {id}: translated {done}/{n} sentences");
    })?;
    eprintln!();
    let title_en = sentences.remove(0).en;
    let paragraphs = ArticleDigest::bilingual(&article, &sentences);
    Ok(Ok(Translated {
        started,
        article,
        source_sha,
        source_text,
        ingest_secs,
        title_en,
        sentences,
        paragraphs,
        stats,
    }))
}

/// Run the digest over `inputs`, writing into `out_dir`.
pub fn run_digest(
    cfg: &ModelsConfig,
    engines: &mut Engines,
    inputs: &[PathBuf],
    out_dir: &Path,
    force: bool,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Vec<Outcome>> {
    let models = engines.provenance();
    let settings = settings(cfg, engines);
    let outcomes = run_batch(inputs, out_dir, report, |path| {
        digest_one(cfg, engines, path, out_dir, force, &models, &settings)
    })?;
    crate::digest::write_daily_digests(out_dir)?;
    Ok(outcomes)
}

fn digest_one(
    cfg: &ModelsConfig,
    engines: &mut Engines,
    path: &Path,
    out_dir: &Path,
    force: bool,
    models: &serde_json::Value,
    settings: &serde_json::Value,
) -> Result<Outcome> {
    let record_name = |id: &str| format!("{id}.json");
    let t = match read_and_translate(
        cfg,
        engines,
        path,
        out_dir,
        &record_name,
        force,
        models,
        settings,
    )? {
        Ok(t) => t,
        Err(skipped) => return Ok(skipped),
    };
    let (si, _) = engines
        .summarizer
        .clone()
        .ok_or_else(|| Error::Config("no summarize model loaded".into()))?;
    let summary = summarize::summarize(
        engines.pool.get(si),
        &t.title_en,
        &t.english_paragraphs(),
        &cfg.summarize,
    )?;

    let tf = Instant::now();
    let mut facts = facts::extract(&t.article, &t.source_text);
    let mut facts_llm_stats = json!(null);
    if let Some((fi, _)) = engines.facts_llm.clone() {
        let (added, stats) = facts::llm::propose(
            engines.pool.get(fi),
            &t.article,
            &t.source_text,
            &facts,
            cfg.facts.max_new_tokens,
        )?;
        facts = facts::merge(facts, added);
        facts_llm_stats = stats;
    }
    let english: Vec<String> = t.sentences.iter().map(|s| s.en.clone()).collect();
    facts::render_english(&mut facts, &english);
    let facts_secs = tf.elapsed().as_secs_f64();

    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let total_secs = t.started.elapsed().as_secs_f64();
    let article = t.article;
    let record = ArticleDigest {
        id: article.id,
        source_path: article.source_path,
        source_sha256: t.source_sha,
        encoding: article.encoding,
        title_uk: article.title,
        title_en: t.title_en,
        published: article.published,
        outlet: article.outlet,
        source_line: article.source_line,
        headline: summary.headline.clone(),
        summary: summary.sentences.clone(),
        summary_flags: summary.flags.clone(),
        facts,
        paragraphs: t.paragraphs,
        provenance: json!({
            "tool": format!("ukdigest {}", env!("CARGO_PKG_VERSION")),
            "generated_at": utc_now(),
            "models": models,
            "settings": settings,
            "timings": {
                "ingest_secs": t.ingest_secs,
                "translate_secs": t.stats.secs,
                "translate_generated_tokens_per_sec": rate(t.stats.generated_tokens, t.stats.secs),
                "summarize_secs": summary.secs,
                "summarize_generated_tokens_per_sec": rate(summary.generated_tokens, summary.secs),
                "facts_secs": facts_secs,
                "total_secs": total_secs,
            },
            "counts": {
                "sentences": t.stats.sentences,
                "translate": t.stats,
                "summarize_prompt_tokens": summary.prompt_tokens,
                "summarize_generated_tokens": summary.generated_tokens,
                "facts_llm": facts_llm_stats,
            },
        }),
    };
    let (json_path, md_path) = record.write(out_dir)?;
    let line = format!(
        "{}  {}  {} sentences, {} facts, {total_secs:.1}s  → {}",
        record.id,
        record.day(),
        t.stats.sentences,
        record.facts.len(),
        record.headline
    );
    Ok(Outcome::Written {
        id: record.id,
        files: vec![json_path, md_path],
        line,
    })
}

/// The translation-only record, `<id>.translation.json`.
#[derive(Debug, serde::Serialize)]
pub struct TranslationRecord {
    pub id: String,
    pub source_path: PathBuf,
    pub source_sha256: String,
    pub title_uk: String,
    pub title_en: String,
    pub paragraphs: Vec<crate::digest::BilingualParagraph>,
    pub provenance: serde_json::Value,
}

/// Translate a batch of articles; articles already translated with the
/// same source and models are skipped unless `force`.
pub fn run_translate(
    cfg: &ModelsConfig,
    engines: &mut Engines,
    inputs: &[PathBuf],
    out_dir: &Path,
    force: bool,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Vec<Outcome>> {
    let models = engines.provenance();
    let settings = settings(cfg, engines);
    let record_name = |id: &str| format!("{id}.translation.json");
    run_batch(inputs, out_dir, report, |path| {
        let t = match read_and_translate(
            cfg,
            engines,
            path,
            out_dir,
            &record_name,
            force,
            &models,
            &settings,
        )? {
            Ok(t) => t,
            Err(skipped) => return Ok(skipped),
        };
        let text_en = format!(
            "{}\n\n{}\n",
            t.title_en,
            t.english_paragraphs().join("\n\n")
        );
        let total_secs = t.started.elapsed().as_secs_f64();
        let line = format!(
            "{}  {} sentences, {} flagged, {total_secs:.1}s  → {}",
            t.article.id, t.stats.sentences, t.stats.flagged, t.title_en
        );
        let record = TranslationRecord {
            id: t.article.id.clone(),
            source_path: t.article.source_path,
            source_sha256: t.source_sha,
            title_uk: t.article.title,
            title_en: t.title_en,
            paragraphs: t.paragraphs,
            provenance: json!({
                "tool": format!("ukdigest {}", env!("CARGO_PKG_VERSION")),
                "generated_at": utc_now(),
                "models": models,
                "settings": settings,
                "timings": { "translate_secs": t.stats.secs, "total_secs": total_secs },
                "counts": t.stats,
            }),
        };
        let json_path = out_dir.join(record_name(&record.id));
        crate::fsio::write_json_atomic(&json_path, &record)?;
        let txt_path = out_dir.join(format!("{}.en.txt", record.id));
        crate::fsio::write_atomic(&txt_path, text_en.as_bytes())?;
        Ok(Outcome::Written {
            id: record.id,
            files: vec![json_path, txt_path],
            line,
        })
    })
}

/// chrF of the translator on aligned source/reference files.
#[derive(Debug, serde::Serialize)]
pub struct EvalReport {
    pub model: String,
    pub sentences: usize,
    pub chrf: f64,
    pub secs: f64,
    pub provenance: serde_json::Value,
    pub hypotheses: Vec<String>,
}

pub fn eval_translate(
    cfg: &ModelsConfig,
    engines: &mut Engines,
    src: &Path,
    reference: &Path,
    limit: usize,
) -> Result<EvalReport> {
    let read = |p: &Path| -> Result<Vec<String>> {
        let t = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        Ok(t.lines().take(limit).map(str::to_string).collect())
    };
    let (srcs, refs) = (read(src)?, read(reference)?);
    if srcs.len() != refs.len() || srcs.is_empty() {
        return Err(Error::Config(format!(
            "{} and {} must be non-empty and line-aligned ({} vs {} lines)",
            src.display(),
            reference.display(),
            srcs.len(),
            refs.len()
        )));
    }
    let t0 = Instant::now();
    let mut stats = TranslateStats::default();
    let hyps: Vec<String> = engines
        .translate(&srcs, cfg, &mut stats, &mut |d, n| {
            eprint!("\r  translated {d}/{n}")
        })?
        .into_iter()
        .map(|t| t.en)
        .collect();
    eprintln!();
    let chrf = crate::eval::chrf(&hyps, &refs)?;
    Ok(EvalReport {
        model: engines.translator_model.name.clone(),
        sentences: srcs.len(),
        chrf,
        secs: t0.elapsed().as_secs_f64(),
        provenance: json!({ "models": engines.provenance(), "counts": stats, "generated_at": utc_now() }),
        hypotheses: hyps,
    })
}
