//! The typed records the program writes: the per-article digest, the
//! translation-only record, and their provenance (models, settings,
//! timings, counts).
//!
//! Every record carries [`SCHEMA_VERSION`]. Version history:
//! * 1 — this layout. Records written before the field existed (ukdigest
//!   0.1) have the same layout and are read as version 1.
use crate::article::{Article, ParagraphKind, Published, SourceFormat};
use crate::config::{Engine, Source, SummarySource};
use crate::facts::{Fact, FactsLlmStats};
use crate::llm::GenerationParams;
use crate::marian::DecodeOptions;
use crate::summarize::{SummaryCheck, SummaryFlag};
use crate::translate::{LlmTranslateSettings, TranslateFlag, TranslateStats, TranslatedSentence};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The layout version of the records this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// One sentence in both languages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BilingualSentence {
    pub uk: String,
    pub en: String,
    /// Byte span of the Ukrainian sentence in the decoded source.
    pub span: (usize, usize),
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<TranslateFlag>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BilingualParagraph {
    pub kind: ParagraphKind,
    pub sentences: Vec<BilingualSentence>,
}

impl BilingualParagraph {
    /// Pair an article's sentences with their translations (same order).
    pub fn pair(article: &Article, english: &[TranslatedSentence]) -> Vec<BilingualParagraph> {
        let mut it = english.iter();
        article
            .paragraphs
            .iter()
            .map(|p| BilingualParagraph {
                kind: p.kind,
                sentences: p
                    .sentences
                    .iter()
                    .map(|s| {
                        let t = it.next();
                        BilingualSentence {
                            uk: s.text.clone(),
                            en: t.map(|t| t.en.clone()).unwrap_or_default(),
                            span: s.span,
                            flags: t.map(|t| t.flags.clone()).unwrap_or_default(),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    /// The English of the paragraph, sentences joined by spaces.
    pub fn english(&self) -> String {
        self.sentences
            .iter()
            .map(|s| s.en.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The per-article record (`<id>.json`): everything the digest knows
/// about one article.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ArticleDigest {
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    pub id: String,
    pub source_path: PathBuf,
    pub source_sha256: String,
    pub encoding: String,
    /// What the input was, and so what the spans index (omitted for text
    /// pages, whose spans index the decoded file).
    #[serde(default, skip_serializing_if = "SourceFormat::is_text")]
    pub source_format: SourceFormat,
    pub title_uk: String,
    pub title_en: String,
    pub published: Option<Published>,
    pub outlet: Option<String>,
    pub source_line: Option<String>,
    pub headline: String,
    pub summary: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary_flags: Vec<SummaryFlag>,
    /// The grounding check of the headline and summary (records before
    /// it existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_check: Option<SummaryCheck>,
    pub facts: Vec<Fact>,
    pub paragraphs: Vec<BilingualParagraph>,
    pub provenance: Provenance<DigestTimings, DigestCounts>,
}

impl ArticleDigest {
    /// The day the article belongs to: its publication date, or `undated`.
    pub fn day(&self) -> String {
        self.published
            .as_ref()
            .map(|p| p.date.clone())
            .unwrap_or_else(|| "undated".into())
    }
}

/// The translation-only record (`<id>.translation.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TranslationRecord {
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    pub id: String,
    pub source_path: PathBuf,
    pub source_sha256: String,
    /// What the input was (omitted for text pages).
    #[serde(default, skip_serializing_if = "SourceFormat::is_text")]
    pub source_format: SourceFormat,
    pub title_uk: String,
    pub title_en: String,
    pub paragraphs: Vec<BilingualParagraph>,
    /// The input was one sentence per line (`translate --lines`): each
    /// paragraph is one input line, and the English text keeps the lines.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub line_aligned: bool,
    pub provenance: Provenance<TranslationTimings, TranslateStats>,
}

impl TranslationRecord {
    /// The English text: the title (when there is one) and the paragraphs,
    /// separated by blank lines; for line-aligned input, one line per input
    /// line.
    pub fn english_text(&self) -> String {
        english_text(&self.title_en, &self.paragraphs, self.line_aligned)
    }
}

/// English text of a translation: the title (when there is one) and the
/// paragraphs, separated by blank lines; `line_aligned`: one line per
/// paragraph and no title, so the lines match the input's.
pub fn english_text(
    title_en: &str,
    paragraphs: &[BilingualParagraph],
    line_aligned: bool,
) -> String {
    let english = paragraphs.iter().map(|p| p.english());
    if line_aligned {
        return english.map(|l| l + "\n").collect();
    }
    let blocks: Vec<String> = (!title_en.is_empty())
        .then(|| title_en.to_string())
        .into_iter()
        .chain(english)
        .collect();
    blocks.join("\n\n") + "\n"
}

/// Where a record came from: the program, the models, the settings, and
/// what the run measured.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Provenance<T, C> {
    pub tool: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub generated_at: String,
    pub models: StageModels,
    pub settings: Settings,
    /// How the chat model's requests were scheduled; absent when no chat
    /// model ran (and in records written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching: Option<Batching>,
    pub timings: T,
    pub counts: C,
}

/// The chat engine's scheduling in the run that wrote a record. A
/// sequence's tokens are the same alone or in any batch, so, unlike
/// [`Settings`], other values here do not make a record stale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Batching {
    /// Sequences decoded together at most (`runtime.max_batch`).
    pub max_batch: usize,
    /// KV cache of the sequences in flight, MiB (`runtime.kv_budget_mb`).
    pub kv_budget_mb: usize,
    /// Prompt-lookup draft tokens a sequence may verify per decode step
    /// (`runtime.draft_tokens`).
    pub draft_tokens: usize,
}

/// `ukdigest <version>`, as provenance names the program.
pub fn tool() -> String {
    format!("ukdigest {}", env!("CARGO_PKG_VERSION"))
}

/// The model of each stage that ran.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StageModels {
    pub translate: ModelProvenance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summarize: Option<ModelProvenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<ModelProvenance>,
}

impl StageModels {
    /// `(stage, model)` pairs, in pipeline order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &ModelProvenance)> {
        [
            ("translate", Some(&self.translate)),
            ("summarize", self.summarize.as_ref()),
            ("facts", self.facts.as_ref()),
        ]
        .into_iter()
        .filter_map(|(s, m)| m.map(|m| (s, m)))
    }

    /// The same models (by name and file hash) for the same stages.
    pub fn same_models(&self, other: &StageModels) -> bool {
        let ids = |m: &StageModels| -> Vec<(&'static str, String, String)> {
            m.iter()
                .map(|(s, p)| (s, p.name.clone(), p.sha256.clone()))
                .collect()
        };
        ids(self) == ids(other)
    }
}

/// One model as it ran: its name in `models.toml`, the file, its hash,
/// the source that resolved it, and the metadata the model file states.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelProvenance {
    pub name: String,
    pub engine: Engine,
    /// The GGUF file, or the Marian directory.
    pub path: PathBuf,
    /// sha256 of the GGUF file, or of the Marian weights file.
    pub sha256: String,
    pub source: Source,
    /// Why earlier candidates or sources did not resolve.
    #[serde(default)]
    pub skipped_sources: Vec<String>,
    /// What the model's own files say of it: for GGUF the engine's
    /// [`crate::llm::ModelInfo`], for Marian its `config.json`, as written.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// Every setting that shapes the outputs, as the run used it: a record
/// made with other settings is redone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    pub translate: TranslateSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summarize: Option<SummarizeSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<FactsSettings>,
    /// Worker threads of the tensor kernels.
    pub threads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranslateSettings {
    pub max_sentence_tokens: usize,
    pub batch_tokens: usize,
    /// Set when a Marian model translates.
    pub marian: Option<MarianSettings>,
    /// Set when a chat model translates.
    pub llm: Option<LlmTranslateSettings>,
}

/// Marian decoding, after `generation_config.json` and `models.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MarianSettings {
    #[serde(flatten)]
    pub decode: DecodeOptions,
    /// Weight quantization of the linear layers.
    #[serde(default)]
    pub quantize: crate::marian::Quant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummarizeSettings {
    pub params: GenerationParams,
    pub min_sentences: usize,
    pub max_sentences: usize,
    /// The text summarized (absent: the English translation).
    #[serde(default, skip_serializing_if = "SummarySource::is_english")]
    pub from: SummarySource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FactsSettings {
    pub llm_facts: bool,
    pub max_new_tokens: usize,
}

/// Seconds per stage of one article's digest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DigestTimings {
    pub ingest_secs: f64,
    pub translate_secs: f64,
    pub translate_generated_tokens_per_sec: f64,
    pub summarize_secs: f64,
    pub summarize_generated_tokens_per_sec: f64,
    pub facts_secs: f64,
    pub total_secs: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct TranslationTimings {
    pub translate_secs: f64,
    pub total_secs: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DigestCounts {
    pub sentences: usize,
    pub translate: TranslateStats,
    pub summarize_prompt_tokens: usize,
    pub summarize_generated_tokens: usize,
    /// What the LLM facts step proposed and kept; `null` when it is off.
    pub facts_llm: Option<FactsLlmStats>,
}

/// Generated tokens per second, 0 when nothing was timed.
pub fn rate(tokens: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    }
}

/// A minimal, complete article record (for tests and examples): no
/// paragraphs, the given headline, summary and facts, empty provenance.
pub fn sample(id: &str, headline: &str, summary: &[&str], facts: Vec<Fact>) -> ArticleDigest {
    let model = ModelProvenance {
        name: "sample".into(),
        engine: Engine::Gguf,
        path: PathBuf::new(),
        sha256: String::new(),
        source: Source::file("sample.gguf"),
        skipped_sources: Vec::new(),
        metadata: None,
    };
    ArticleDigest {
        schema_version: SCHEMA_VERSION,
        id: id.into(),
        source_path: PathBuf::from(format!("{id}.txt")),
        source_sha256: String::new(),
        encoding: "utf-8".into(),
        source_format: SourceFormat::Text,
        title_uk: String::new(),
        title_en: String::new(),
        published: None,
        outlet: None,
        source_line: None,
        headline: headline.into(),
        summary: summary.iter().map(|s| s.to_string()).collect(),
        summary_flags: Vec::new(),
        summary_check: None,
        facts,
        paragraphs: Vec::new(),
        provenance: Provenance {
            tool: tool(),
            generated_at: String::new(),
            models: StageModels {
                translate: model,
                summarize: None,
                facts: None,
            },
            settings: Settings {
                translate: TranslateSettings {
                    max_sentence_tokens: 0,
                    batch_tokens: 0,
                    marian: None,
                    llm: None,
                },
                summarize: None,
                facts: None,
                threads: 1,
            },
            batching: None,
            timings: DigestTimings::default(),
            counts: DigestCounts::default(),
        },
    }
}
