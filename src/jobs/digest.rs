//! `digest`: ingest → translate → summarize → facts → the article record,
//! for each input; then the daily digests, the site, the feed and the
//! JSON Lines, rebuilt from every record in the output folder.
use super::{progress_of, InputMode, JobContext, Outcome, Step, Translated};
use crate::calendar::utc_now;
use crate::config::SummarySource;
use crate::engines::ModelStage;
use crate::error::{Error, Result};
use crate::facts;
use crate::llm::Chat;
use crate::report::Stage;
use crate::report::{Event, Reporter};
use crate::store::claim::Claim;
use crate::store::{
    rate, tool, ArticleDigest, DigestCounts, DigestTimings, Provenance, RecordKind,
};
use crate::store::{Batching, Settings, StageModels, Store};
use crate::summarize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Digest every input, then rebuild the daily digests, the site, the
/// feed and the JSON Lines.
///
/// Articles go in groups of `runtime.max_batch`: a group's translations
/// run at once, then its summaries, each article on its own thread and
/// every chat-model request of the group in one continuous batch; an
/// article's record is written the moment its summary is done. With one
/// article per group (or a Marian translator), the stages run as before,
/// one article at a time. The records do not depend on the grouping.
pub fn run(ctx: &mut JobContext, inputs: &[PathBuf]) -> Result<Vec<Outcome>> {
    let inputs = ctx.start_batch("digest", inputs);
    let size = ctx.plan.batch.max_batch.max(1);
    let mut outcomes = Vec::with_capacity(inputs.len());
    for (g, paths) in inputs.chunks(size).enumerate() {
        outcomes.extend(group(ctx, paths, g * size));
    }
    rebuild(&ctx.store, ctx.reporter, ctx.lease)?;
    Ok(outcomes)
}

/// Rebuild what is made from all the records of the folder (the daily
/// digests, the site, the feed, the JSON Lines), holding the folder's lock
/// so that concurrent runs take turns.
pub fn rebuild(
    store: &crate::store::Store,
    reporter: &dyn crate::report::Reporter,
    lease: std::time::Duration,
) -> Result<Vec<PathBuf>> {
    let _lock = crate::store::claim::claim_blocking(
        &store.claims_dir(),
        "outputs",
        lease,
        std::time::Duration::from_secs(600),
    )?;
    reporter.report(crate::report::Event::Rebuilding { dir: store.dir() });
    crate::render::write_all(store)
}

/// Digest one group of inputs; the outcomes in input order.
fn group(ctx: &mut JobContext, paths: &[PathBuf], first: usize) -> Vec<Outcome> {
    let reporter = ctx.reporter;
    let mut outcomes: Vec<Option<Outcome>> = (0..paths.len()).map(|_| None).collect();
    let finish = |outcomes: &mut Vec<Option<Outcome>>, k: usize, o: Outcome| {
        reporter.report(Event::Finished(&o));
        outcomes[k] = Some(o);
    };
    let failed = |path: &Path, e: Error| Outcome::Failed {
        path: path.to_path_buf(),
        error: e.to_string(),
    };
    let mut preps = Vec::new();
    let mut meta = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        reporter.report(Event::Input {
            index: first + k,
            path,
        });
        match ctx.prepare(RecordKind::Digest, path, InputMode::Page) {
            Ok(Step::Skip(o)) => finish(&mut outcomes, k, o),
            Ok(Step::Work(p, claim)) => {
                preps.push(*p);
                meta.push((k, claim));
            }
            Err(e) => finish(&mut outcomes, k, failed(path, e)),
        }
    }
    let mut ready = Vec::new();
    // One chat model translates and summarizes: each article goes from its
    // translation straight to its summary, so the batch stays full while
    // the others still translate.
    let one_model = ctx.engines.translator_is_summarizer()
        && (!ctx.engines.has_facts_llm() || ctx.engines.facts_uses_summarizer());
    if one_model && preps.len() > 1 {
        for ((k, claim), p) in meta.into_iter().zip(preps) {
            let work = match ctx.translation_checkpoint(p) {
                Ok(t) => Work::Translated(t),
                Err(p) => {
                    let key = ctx.stage_key(&p, Stage::Translate);
                    Work::Translate(*p, key)
                }
            };
            ready.push(Pending { k, work, claim });
        }
    } else {
        for ((k, claim), t) in meta.into_iter().zip(ctx.translate_group(preps, true)) {
            match t {
                Ok(t) => ready.push(Pending {
                    k,
                    work: Work::Translated(t),
                    claim,
                }),
                Err(e) => finish(&mut outcomes, k, failed(&paths[k], e)),
            }
        }
    }
    for (k, o) in summarize_group(ctx, ready, paths) {
        outcomes[k] = Some(o);
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every input decided"))
        .collect()
}

/// An article of a group waiting for its summary.
struct Pending {
    /// Its place in the group.
    k: usize,
    work: Work,
    claim: Claim,
}

/// Where an article is.
enum Work {
    Translated(Translated),
    /// To translate with the summarizer's chat model first, checkpointed
    /// under the key.
    Translate(super::Prepared, String),
}

impl Pending {
    fn prepared(&self) -> &super::Prepared {
        match &self.work {
            Work::Translated(t) => &t.prepared,
            Work::Translate(p, _) => p,
        }
    }
}

/// What the summary and record of an article need besides the article.
struct Shared<'s> {
    store: &'s Store,
    reporter: &'s dyn Reporter,
    stage: &'s crate::config::SummarizeStage,
    facts_max_new_tokens: usize,
    settings: Settings,
    batching: Option<Batching>,
    models: StageModels,
}

/// Summaries, facts and records of the translated articles of a group:
/// each article's [`Outcome`] with its place, reported as it finishes.
fn summarize_group(
    ctx: &mut JobContext,
    ready: Vec<Pending>,
    paths: &[PathBuf],
) -> Vec<(usize, Outcome)> {
    let reporter = ctx.reporter;
    let report = |k: usize, r: Result<Outcome>| {
        let o = r.unwrap_or_else(|e| Outcome::Failed {
            path: paths[k].clone(),
            error: e.to_string(),
        });
        reporter.report(Event::Finished(&o));
        (k, o)
    };
    let Some(plan) = ctx.plan.summarize.as_ref() else {
        let e = || Error::Config("the digest plan has no summarize stage".into());
        return ready.into_iter().map(|p| report(p.k, Err(e()))).collect();
    };
    // Summaries saved by an interrupted run are used as they are.
    let keyed: Vec<(Pending, String, Option<summarize::Summary>)> = ready
        .into_iter()
        .map(|p| {
            let key = ctx.stage_key(p.prepared(), Stage::Summarize);
            let id = &p.prepared().article.id;
            let saved = ctx.store.read_checkpoint(id, Stage::Summarize.name(), &key);
            if saved.is_some() {
                reporter.report(Event::Reused {
                    id,
                    stage: Stage::Summarize,
                });
            }
            (p, key, saved)
        })
        .collect();
    let to_make = keyed
        .iter()
        .filter(|(p, _, s)| s.is_none() || matches!(p.work, Work::Translate(..)))
        .count();
    let translate_settings = ctx.engines.settings().translate.llm.clone();
    if keyed.is_empty() {
        return Vec::new();
    }
    // The models a stage will run are loaded before the provenance is
    // taken (a stage whose outputs are all saved loads none).
    let facts_llm = ctx.engines.has_facts_llm();
    let loaded = match to_make > 0 || facts_llm {
        true => ctx
            .engines
            .chat(ModelStage::Summarize, reporter)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        false => Ok(()),
    };
    if facts_llm {
        if let Err(e) = ctx.engines.chat(ModelStage::Facts, reporter) {
            let why = e.to_string();
            return keyed
                .into_iter()
                .map(|(p, _, _)| report(p.k, Err(Error::Config(why.clone()))))
                .collect();
        }
    }
    let shared = Shared {
        store: &ctx.store,
        reporter,
        stage: &plan.stage,
        facts_max_new_tokens: ctx.plan.facts.as_ref().map_or(0, |f| f.max_new_tokens),
        settings: ctx.engines.settings().clone(),
        batching: ctx.engines.batching(),
        models: ctx.engines.provenance(),
    };
    let facts_in_batch = !facts_llm || ctx.engines.facts_uses_summarizer();
    if let Err(why) = loaded {
        return keyed
            .into_iter()
            .map(|(p, _, _)| report(p.k, Err(Error::Config(why.clone()))))
            .collect();
    }
    if to_make < 2 || !facts_in_batch {
        // One at a time, on the model itself.
        let mut out = Vec::new();
        let mut waiting = Vec::new();
        for (p, key, saved) in keyed {
            let t = match p.work {
                Work::Translated(t) => t,
                Work::Translate(prep, tkey) => {
                    let made = match &translate_settings {
                        Some(settings) => ctx
                            .engines
                            .chat(ModelStage::Translate, reporter)
                            .and_then(|m| super::translate_with_chat(prep, m, settings, reporter))
                            .and_then(|t| super::save_translation(shared.store, &tkey, t)),
                        None => Err(Error::Config("no chat-model translator".into())),
                    };
                    match made {
                        Ok(t) => t,
                        Err(e) => {
                            out.push(report(p.k, Err(e)));
                            continue;
                        }
                    }
                }
            };
            let summary = match saved {
                Some(s) => Ok(s),
                None => ctx
                    .engines
                    .chat(ModelStage::Summarize, reporter)
                    .and_then(|m| summary_of(&shared, &t, &key, m)),
            };
            match summary {
                Err(e) => out.push(report(p.k, Err(e))),
                Ok(s) if !facts_llm => {
                    let r = write_record(&shared, t, s, None, p.claim);
                    out.push(report(p.k, r));
                }
                Ok(s) => waiting.push((p.k, t, s, p.claim)),
            }
        }
        for (k, t, s, claim) in waiting {
            let r = ctx
                .engines
                .chat(ModelStage::Facts, reporter)
                .and_then(|m| write_record(&shared, t, s, Some(m), claim));
            out.push(report(k, r));
        }
        return out;
    }
    let shared = &shared;
    let model = match ctx.engines.chat(ModelStage::Summarize, reporter) {
        Ok(m) => m,
        Err(e) => {
            let why = e.to_string();
            return keyed
                .into_iter()
                .map(|(p, _, _)| report(p.k, Err(Error::Config(why.clone()))))
                .collect();
        }
    };
    let (out, served) = crate::llm::serve(model, |client| {
        std::thread::scope(|scope| {
            let threads: Vec<_> = keyed
                .into_iter()
                .map(|(p, key, saved)| {
                    let mut chat = client.clone();
                    let translate_settings = &translate_settings;
                    scope.spawn(move || {
                        let Pending { k, work, claim } = p;
                        let t =
                            match work {
                                Work::Translated(t) => Ok(t),
                                Work::Translate(prep, tkey) => match translate_settings {
                                    Some(settings) => super::translate_with_chat(
                                        prep, &mut chat, settings, reporter,
                                    )
                                    .and_then(|t| super::save_translation(shared.store, &tkey, t)),
                                    None => Err(Error::Config("no chat-model translator".into())),
                                },
                            };
                        let summary = t.and_then(|t| match saved {
                            Some(s) => Ok((t, s)),
                            None => summary_of(shared, &t, &key, &mut chat).map(|s| (t, s)),
                        });
                        let facts: Option<&mut dyn Chat> = match facts_llm {
                            true => Some(&mut chat),
                            false => None,
                        };
                        let r = summary.and_then(|(t, s)| write_record(shared, t, s, facts, claim));
                        report(k, r)
                    })
                })
                .collect();
            drop(client);
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<Vec<_>>()
        })
    });
    match served {
        Ok(stats) => reporter.report(Event::Note(&format!("chat model: {stats}"))),
        // The articles still waiting failed with "the model's thread
        // stopped": say why.
        Err(e) => reporter.report(Event::Note(&format!("the summarizer failed: {e}"))),
    }
    out
}

/// The summary of `t`, made now and checkpointed under `key`.
fn summary_of(
    shared: &Shared,
    t: &Translated,
    key: &str,
    model: &mut dyn Chat,
) -> Result<summarize::Summary> {
    let id = &t.prepared.article.id;
    // Sentences that read like instructions to a model are held out of
    // the summary's input and of what grounds it.
    let mut held_out = 0;
    let mut grounded_english: Vec<&str> = Vec::new();
    let body: Vec<String> = t
        .paragraphs
        .iter()
        .map(|p| {
            let kept: Vec<&crate::store::BilingualSentence> = p
                .sentences
                .iter()
                .filter(|s| {
                    let suspect = crate::guard::looks_like_instruction(&s.uk)
                        || crate::guard::looks_like_instruction(&s.en);
                    held_out += usize::from(suspect);
                    !suspect
                })
                .collect();
            grounded_english.extend(kept.iter().map(|s| s.en.as_str()));
            let text: Vec<&str> = kept
                .iter()
                .map(|s| match shared.stage.from {
                    SummarySource::English => s.en.as_str(),
                    SummarySource::Ukrainian => s.uk.as_str(),
                })
                .collect();
            text.join(" ")
        })
        .filter(|p| !p.trim().is_empty())
        .collect();
    let grounding = crate::entities::Grounding::new(
        &t.entities,
        &t.title_en,
        &grounded_english,
        &t.prepared.source_text,
    );
    let inputs = summarize::SummaryInputs {
        table: &t.entities,
        grounding: &grounding,
        held_out,
    };
    let mut progress = progress_of(shared.reporter, id, Stage::Summarize);
    let title = match shared.stage.from {
        SummarySource::English => &t.title_en,
        SummarySource::Ukrainian => &t.prepared.article.title,
    };
    let summary = summarize::summarize(model, title, &body, shared.stage, &inputs, &mut progress)?;
    shared
        .store
        .write_checkpoint(id, Stage::Summarize.name(), key, &summary)?;
    Ok(summary)
}

/// The facts and the record of `t` with its summary, written to the store;
/// `facts_model` adds LLM facts.
fn write_record(
    shared: &Shared,
    t: Translated,
    summary: summarize::Summary,
    facts_model: Option<&mut dyn Chat>,
    claim: Claim,
) -> Result<Outcome> {
    let id = t.prepared.article.id.clone();
    let tf = Instant::now();
    let (article, source_text) = (&t.prepared.article, &t.prepared.source_text);
    let mut facts = facts::extract(article, source_text);
    let mut facts_llm_stats = None;
    if let Some(model) = facts_model {
        let mut progress = progress_of(shared.reporter, &id, Stage::Facts);
        let (added, stats) = facts::llm::propose(
            model,
            article,
            source_text,
            &facts,
            shared.facts_max_new_tokens,
            &mut progress,
        )?;
        facts = facts::merge(facts, added);
        facts_llm_stats = Some(stats);
    }
    let english: Vec<String> = t.sentences.iter().map(|s| s.en.clone()).collect();
    facts::render_english(&mut facts, &english);
    t.entities.apply_to_facts(&mut facts);
    let facts_secs = tf.elapsed().as_secs_f64();

    let total_secs = t.prepared.started.elapsed().as_secs_f64();
    let models = shared.models.clone();
    let article = t.prepared.article;
    let record = ArticleDigest {
        schema_version: crate::store::SCHEMA_VERSION,
        id: article.id,
        source_path: article.source_path,
        source_sha256: t.prepared.source_sha256,
        encoding: article.encoding,
        source_format: article.source_format,
        title_uk: article.title,
        title_en: t.title_en,
        published: article.published,
        outlet: article.outlet,
        source_line: article.source_line,
        headline: summary.headline.clone(),
        summary: summary.sentences.clone(),
        summary_flags: summary.flags.clone(),
        summary_check: Some(summary.check.clone()),
        facts,
        paragraphs: t.paragraphs,
        provenance: Provenance {
            tool: tool(),
            generated_at: utc_now(),
            models,
            settings: shared.settings.clone(),
            batching: shared.batching.clone(),
            timings: DigestTimings {
                ingest_secs: t.prepared.ingest_secs,
                translate_secs: t.stats.secs,
                translate_generated_tokens_per_sec: rate(t.stats.generated_tokens, t.stats.secs),
                summarize_secs: summary.secs,
                summarize_generated_tokens_per_sec: rate(summary.generated_tokens, summary.secs),
                facts_secs,
                total_secs,
            },
            counts: DigestCounts {
                sentences: t.stats.sentences,
                translate: t.stats.clone(),
                summarize_prompt_tokens: summary.prompt_tokens,
                summarize_generated_tokens: summary.generated_tokens,
                facts_llm: facts_llm_stats,
            },
        },
    };
    if !claim.still_held() {
        return Ok(Outcome::Skipped {
            id: record.id,
            why: "another run took the article over (this run's claim ran out)".into(),
        });
    }
    let files = shared
        .store
        .write_article(&record, &crate::render::article_markdown(&record))?;
    shared.store.remove_checkpoints(&record.id);
    drop(claim);
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
        files,
        line,
    })
}
