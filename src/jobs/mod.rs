//! The jobs users run over a batch of articles: `digest` (translate,
//! summarize, facts, per-article and daily digests) and `translate`, plus
//! `eval-translate`. Each input is decided (skip or redo) from its source
//! bytes and the run's models and settings before any model loads; a bad
//! article is reported and the batch goes on.
pub mod digest;
pub mod eval;
pub mod translate;

use crate::article::Article;
use crate::engines::Engines;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::report::{Event, Reporter, Stage};
use crate::shard::Shard;
use crate::store::claim::{self, Claim, Claimed};
use crate::store::{BilingualParagraph, RecordKind, RunKey, Store};
use crate::translate::{TranslateStats, TranslatedSentence};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What happened to one input.
#[derive(Debug)]
pub enum Outcome {
    Written {
        id: String,
        files: Vec<PathBuf>,
        /// One line for the user: what was made, how long it took.
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

impl Outcome {
    /// The article id, or the path of an input that failed.
    pub fn id(&self) -> String {
        match self {
            Outcome::Written { id, .. } | Outcome::Skipped { id, .. } => id.clone(),
            Outcome::Failed { path, .. } => path.display().to_string(),
        }
    }
}

/// What every job of a run shares: the plan, the engines (models load on
/// first use), the output store, the reporter.
pub struct JobContext<'a> {
    pub plan: &'a Plan,
    pub engines: Engines,
    pub store: Store,
    pub reporter: &'a dyn Reporter,
    /// Redo articles even when their record is up to date.
    pub force: bool,
    /// Work only on this shard's articles.
    pub shard: Option<Shard>,
    /// How long a claim holds without renewal (renewed every third of it).
    pub lease: std::time::Duration,
}

/// The default claim lease: a process that dies holds its articles this
/// long at most (on another host; on this host its claims go at once).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(120);

impl<'a> JobContext<'a> {
    /// Resolve the plan's models (no loading) and open the output store.
    pub fn new(
        plan: &'a Plan,
        out_dir: &Path,
        force: bool,
        reporter: &'a dyn Reporter,
    ) -> Result<Self> {
        let engines = Engines::resolve(plan, reporter)?;
        Ok(JobContext {
            plan,
            engines,
            store: Store::create(out_dir)?,
            reporter,
            force,
            shard: None,
            lease: DEFAULT_LEASE,
        })
    }

    /// The key of a stage's checkpoint: a hash of the source and of the
    /// models and settings of this stage and the ones before it.
    fn stage_key(&self, p: &Prepared, stage: Stage) -> String {
        let m = self.engines.identity();
        let s = self.engines.settings();
        let id = |m: &crate::store::ModelProvenance| json!([m.name, m.sha256]);
        let mut v = json!({
            "source": p.source_sha256,
            "translate": [id(&m.translate), s.translate, s.threads],
        });
        if stage != Stage::Translate {
            v["summarize"] = json!([m.summarize.as_ref().map(id), s.summarize]);
        }
        crate::source::sha256_bytes(v.to_string().as_bytes())
    }

    /// Whether article `p`'s record of `kind` is up to date.
    fn is_done(&self, kind: RecordKind, p: &Prepared) -> bool {
        let key = RunKey {
            source_sha256: &p.source_sha256,
            models: self.engines.identity(),
            settings: self.engines.settings(),
        };
        !self.force && self.store.is_done(kind, &p.article.id, &key)
    }

    /// Read and ingest `path`, and decide: its record of `kind` is up to
    /// date (same source, models and settings; unless `force`), another
    /// process works on it, or it needs work (then it is claimed for us).
    /// No model is loaded to decide.
    fn prepare(&self, kind: RecordKind, path: &Path, mode: InputMode) -> Result<Step> {
        let p = Prepared::read(path, mode)?;
        let done = |p: Prepared| {
            Step::Skip(Outcome::Skipped {
                id: p.article.id,
                why: "already done with the same source, models and settings".into(),
            })
        };
        if self.is_done(kind, &p) {
            return Ok(done(p));
        }
        let key = format!("article-{}", p.article.id);
        match claim::try_claim(&self.store.claims_dir(), &key, self.lease)? {
            Claimed::Busy(owner) => Ok(Step::Skip(Outcome::Skipped {
                id: p.article.id,
                why: format!("another run is working on it ({})", owner.describe()),
            })),
            // It may have been finished while we looked.
            Claimed::Mine(_) if self.is_done(kind, &p) => Ok(done(p)),
            Claimed::Mine(claim) => Ok(Step::Work(Box::new(p), claim)),
        }
    }

    /// The translations of `preps`: with `checkpoints`, from their
    /// checkpoints where an interrupted run saved them, else made now (and
    /// checkpointed, with `checkpoints`). With a
    /// chat-model translator, the articles are translated at once, each on
    /// its own thread, and all their requests run in one continuous batch
    /// (see [`crate::llm::serve`]); the translations are the same as one
    /// article at a time.
    fn translate_group(
        &mut self,
        preps: Vec<Prepared>,
        checkpoints: bool,
    ) -> Vec<Result<Translated>> {
        let mut out: Vec<Option<Result<Translated>>> = (0..preps.len()).map(|_| None).collect();
        let mut todo = Vec::new();
        for (i, p) in preps.into_iter().enumerate() {
            match checkpoints {
                true => match self.translation_checkpoint(p) {
                    Ok(t) => out[i] = Some(Ok(t)),
                    Err(p) => todo.push((i, *p)),
                },
                false => todo.push((i, p)),
            }
        }
        let save = |ctx: &Self, t: Translated| match checkpoints {
            true => ctx.checkpoint_translation(t),
            false => Ok(t),
        };
        if todo.len() > 1 && self.engines.translator_is_llm() {
            let reporter = self.reporter;
            let made = match self.engines.llm_translator(reporter) {
                Ok(Some((model, settings))) => Ok(crate::llm::serve(model, |client| {
                    std::thread::scope(|scope| {
                        let threads: Vec<_> = todo
                            .into_iter()
                            .map(|(i, p)| {
                                let mut chat = client.clone();
                                let settings = &settings;
                                scope.spawn(move || {
                                    (i, translate_with_chat(p, &mut chat, settings, reporter))
                                })
                            })
                            .collect();
                        drop(client);
                        threads
                            .into_iter()
                            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                            .collect::<Vec<_>>()
                    })
                })),
                Ok(None) => unreachable!("the translator is a chat model"),
                Err(e) => Err(e),
            };
            match made {
                Ok((made, served)) => {
                    let note = match served {
                        Ok(stats) => format!("translator: {stats}"),
                        Err(e) => format!("the translator failed: {e}"),
                    };
                    self.reporter.report(Event::Note(&note));
                    for (i, t) in made {
                        out[i] = Some(t.and_then(|t| save(self, t)));
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    for slot in out.iter_mut().filter(|o| o.is_none()) {
                        *slot = Some(Err(Error::Generation(why.clone())));
                    }
                }
            }
        } else {
            for (i, p) in todo {
                out[i] = Some(self.translate(p).and_then(|t| save(self, t)));
            }
        }
        out.into_iter()
            .map(|o| o.expect("every article decided"))
            .collect()
    }

    /// `p`'s translation from its checkpoint, or `p` back when there is none.
    fn translation_checkpoint(
        &self,
        p: Prepared,
    ) -> std::result::Result<Translated, Box<Prepared>> {
        let key = self.stage_key(&p, Stage::Translate);
        let id = p.article.id.clone();
        let Some(c) = self
            .store
            .read_checkpoint::<TranslationCheckpoint>(&id, "translate", &key)
        else {
            return Err(Box::new(p));
        };
        self.reporter.report(Event::Reused {
            id: &id,
            stage: Stage::Translate,
        });
        let paragraphs = BilingualParagraph::pair(&p.article, &c.sentences);
        let entities = Translated::entities_of(&p, &c.title_en, &c.sentences);
        Ok(Translated {
            prepared: p,
            title_en: c.title_en,
            sentences: c.sentences,
            paragraphs,
            stats: c.stats,
            entities,
        })
    }

    /// Save `t` as its article's translation checkpoint.
    fn checkpoint_translation(&self, t: Translated) -> Result<Translated> {
        let key = self.stage_key(&t.prepared, Stage::Translate);
        save_translation(&self.store, &key, t)
    }
}

/// Save `t` as its article's translation checkpoint under `key`.
fn save_translation(store: &Store, key: &str, t: Translated) -> Result<Translated> {
    let c = TranslationCheckpoint {
        title_en: t.title_en.clone(),
        sentences: t.sentences.clone(),
        stats: t.stats.clone(),
    };
    store.write_checkpoint(&t.prepared.article.id, "translate", key, &c)?;
    Ok(t)
}

/// Translate `p` with a chat model (its title, when it has one, first).
fn translate_with_chat(
    p: Prepared,
    chat: &mut dyn crate::llm::Chat,
    settings: &crate::translate::LlmTranslateSettings,
    reporter: &dyn Reporter,
) -> Result<Translated> {
    let (all, has_title) = translation_inputs(&p);
    let mut stats = TranslateStats::default();
    let id = p.article.id.clone();
    let mut progress = progress_of(reporter, &id, Stage::Translate);
    progress(0, all.len());
    let table = crate::entities::table_of(&p.article, &p.source_text);
    let sentences =
        crate::translate::translate_llm(chat, &all, settings, &table, &mut stats, &mut progress)?;
    crate::translate::check_aligned(&all, &sentences)?;
    Ok(Translated::assemble(p, has_title, sentences, stats))
}

/// What a translation of `p` translates: its title (when it has one) and
/// its sentences; and whether the first is the title.
fn translation_inputs(p: &Prepared) -> (Vec<String>, bool) {
    let has_title = !p.article.title.trim().is_empty();
    let mut all: Vec<String> = has_title
        .then(|| p.article.title.clone())
        .into_iter()
        .collect();
    all.extend(crate::translate::article_sentences(&p.article));
    (all, has_title)
}

/// A progress callback reporting stage `stage` of article `id`.
pub(crate) fn progress_of<'r>(
    reporter: &'r dyn Reporter,
    id: &'r str,
    stage: Stage,
) -> impl FnMut(usize, usize) + 'r {
    move |done, total| {
        reporter.report(Event::Progress {
            id,
            stage,
            done,
            total,
        })
    }
}

impl<'a> JobContext<'a> {
    /// Translate an article's title (when it has one) and sentences in one
    /// engine pass.
    fn translate(&mut self, p: Prepared) -> Result<Translated> {
        let (all, has_title) = translation_inputs(&p);
        let mut stats = TranslateStats::default();
        let id = p.article.id.clone();
        let mut progress = progress_of(self.reporter, &id, Stage::Translate);
        progress(0, all.len());
        let table = crate::entities::table_of(&p.article, &p.source_text);
        let sentences =
            self.engines
                .translate(&all, &table, &mut stats, self.reporter, &mut progress)?;
        Ok(Translated::assemble(p, has_title, sentences, stats))
    }
}

impl Translated {
    /// The translation of `p` from the engine's sentences (the title
    /// first when `has_title`), in the settled entity table's spelling.
    fn assemble(
        p: Prepared,
        has_title: bool,
        mut sentences: Vec<TranslatedSentence>,
        stats: TranslateStats,
    ) -> Translated {
        let title_en = if has_title {
            sentences.remove(0).en
        } else {
            String::new()
        };
        let entities = Translated::entities_of(&p, &title_en, &sentences);
        // The table settled on the spelling of names it did not fix
        // beforehand: write them one way everywhere.
        for s in &mut sentences {
            s.en = entities.canonicalize(&s.en);
        }
        let title_en = entities.canonicalize(&title_en);
        let paragraphs = BilingualParagraph::pair(&p.article, &sentences);
        Translated {
            prepared: p,
            title_en,
            sentences,
            paragraphs,
            stats,
            entities,
        }
    }
}

impl<'a> JobContext<'a> {
    /// Start a batch job: clean up what an interrupted run left, keep
    /// the inputs of this run's shard, and report the start.
    fn start_batch(&mut self, job: &str, inputs: &[PathBuf]) -> Vec<PathBuf> {
        let cleaned = self.store.clean_up().len();
        if cleaned > 0 {
            self.reporter.report(Event::CleanedUp { files: cleaned });
        }
        let inputs: Vec<PathBuf> = inputs
            .iter()
            .filter(|p| match (&self.shard, crate::ingest::article_id(p)) {
                (Some(shard), Ok(id)) => shard.contains(&id),
                // No shard, or no id: the input is reported where it fails.
                _ => true,
            })
            .cloned()
            .collect();
        self.reporter.report(Event::BatchStarted {
            job,
            inputs: inputs.len(),
        });
        inputs
    }

    /// Run `one` over every input: a failed article is reported and the
    /// batch goes on.
    fn run_batch(
        &mut self,
        job: &str,
        inputs: &[PathBuf],
        mut one: impl FnMut(&mut Self, &Path) -> Result<Outcome>,
    ) -> Vec<Outcome> {
        let inputs = self.start_batch(job, inputs);
        let mut outcomes = Vec::new();
        for (index, path) in inputs.iter().enumerate() {
            self.reporter.report(Event::Input { index, path });
            let outcome = one(self, path).unwrap_or_else(|e| Outcome::Failed {
                path: path.clone(),
                error: e.to_string(),
            });
            self.reporter.report(Event::Finished(&outcome));
            outcomes.push(outcome);
        }
        outcomes
    }
}

/// What to do with an input.
enum Step {
    /// Its record is up to date, or another run works on it.
    Skip(Outcome),
    /// It needs work; the claim is ours until dropped.
    Work(Box<Prepared>, Claim),
}

/// A translation saved before summarize.
#[derive(serde::Serialize, serde::Deserialize)]
struct TranslationCheckpoint {
    title_en: String,
    sentences: Vec<TranslatedSentence>,
    stats: TranslateStats,
}

/// How an input file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// A scraped news page (title, date, furniture, body).
    Page,
    /// A news page, or plain paragraphs when no article is found in it (a
    /// file of one sentence, a text without a page layout).
    PageOrPlain,
    /// Plain text in this layout.
    Plain(crate::ingest::plain::Layout),
}

/// An input read and ingested, not yet translated.
pub(crate) struct Prepared {
    started: Instant,
    article: Article,
    source_sha256: String,
    /// The decoded source text the sentence spans point into.
    source_text: String,
    ingest_secs: f64,
}

impl Prepared {
    /// Read, hash and ingest `path` (`-` is standard input).
    pub(crate) fn read(path: &Path, mode: InputMode) -> Result<Prepared> {
        use crate::ingest::plain::{self, Layout};
        let started = Instant::now();
        let bytes = if path == Path::new("-") {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                .map_err(|e| Error::article(path, e))?;
            b
        } else {
            std::fs::read(path).map_err(|e| Error::article(path, e))?
        };
        let source_sha256 = crate::source::sha256_bytes(&bytes);
        let (article, source_text) = match mode {
            InputMode::Page => crate::ingest::ingest_bytes_with_source(path, &bytes)?,
            InputMode::Plain(layout) => plain::ingest(path, &bytes, layout)?,
            InputMode::PageOrPlain => match crate::ingest::ingest_bytes_with_source(path, &bytes) {
                Ok(r) => r,
                Err(Error::Article { .. }) => plain::ingest(path, &bytes, Layout::Paragraphs)?,
                Err(e) => return Err(e),
            },
        };
        Ok(Prepared {
            started,
            article,
            source_sha256,
            source_text,
            ingest_secs: started.elapsed().as_secs_f64(),
        })
    }
}

/// An article translated, title first.
pub(crate) struct Translated {
    prepared: Prepared,
    title_en: String,
    sentences: Vec<TranslatedSentence>,
    paragraphs: Vec<BilingualParagraph>,
    stats: TranslateStats,
    /// The article's entities, settled against the translation.
    entities: crate::entities::EntityTable,
}

impl Translated {
    /// The entity table of an article, settled against its translation.
    fn entities_of(
        p: &Prepared,
        title_en: &str,
        sentences: &[TranslatedSentence],
    ) -> crate::entities::EntityTable {
        let mut table = crate::entities::table_of(&p.article, &p.source_text);
        let english: Vec<&str> = std::iter::once(title_en)
            .chain(sentences.iter().map(|s| s.en.as_str()))
            .collect();
        table.settle(&english);
        table
    }
}

/// Non-zero exit only when no article could be processed.
pub fn all_failed(outcomes: &[Outcome]) -> bool {
    !outcomes.is_empty() && outcomes.iter().all(|o| matches!(o, Outcome::Failed { .. }))
}
