//! `digest`: ingest → translate → summarize → facts → the article record,
//! for each input; then the daily digests, the site, the feed and the
//! JSON Lines, rebuilt from every record in the output folder.
use super::{InputMode, JobContext, Outcome, Step};
use crate::calendar::utc_now;
use crate::engines::ModelStage;
use crate::error::{Error, Result};
use crate::facts;
use crate::report::Stage;
use crate::store::{
    rate, tool, ArticleDigest, DigestCounts, DigestTimings, Provenance, RecordKind,
};
use crate::summarize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Digest every input, then rebuild the daily digests, the site, the
/// feed and the JSON Lines.
pub fn run(ctx: &mut JobContext, inputs: &[PathBuf]) -> Result<Vec<Outcome>> {
    let outcomes = ctx.run_batch("digest", inputs, one);
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

fn one(ctx: &mut JobContext, path: &Path) -> Result<Outcome> {
    let (prepared, claim) = match ctx.prepare(RecordKind::Digest, path, InputMode::Page)? {
        Step::Skip(done) => return Ok(done),
        Step::Work(p, claim) => (*p, claim),
    };
    let t = ctx.translate_checkpointed(prepared)?;
    let id = t.prepared.article.id.clone();
    let reporter = ctx.reporter;
    let plan = ctx
        .plan
        .summarize
        .as_ref()
        .ok_or_else(|| Error::Config("the digest plan has no summarize stage".into()))?;
    // Sentences that read like instructions to a model are held out of
    // the summary's input and of what grounds it.
    let mut held_out = 0;
    let mut grounded_english: Vec<&str> = Vec::new();
    let body: Vec<String> = t
        .paragraphs
        .iter()
        .map(|p| {
            let kept: Vec<&str> = p
                .sentences
                .iter()
                .filter(|s| {
                    let suspect = crate::guard::looks_like_instruction(&s.uk)
                        || crate::guard::looks_like_instruction(&s.en);
                    held_out += usize::from(suspect);
                    !suspect
                })
                .map(|s| s.en.as_str())
                .collect();
            grounded_english.extend(&kept);
            kept.join(" ")
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
    let summary = ctx.checkpointed(&t.prepared, Stage::Summarize, |ctx| {
        let mut progress = ctx.progress(&id, Stage::Summarize);
        let model = ctx.engines.chat(ModelStage::Summarize, reporter)?;
        summarize::summarize(
            model,
            &t.title_en,
            &body,
            &plan.stage,
            &inputs,
            &mut progress,
        )
    })?;

    let tf = Instant::now();
    let (article, source_text) = (&t.prepared.article, &t.prepared.source_text);
    let mut facts = facts::extract(article, source_text);
    let mut facts_llm_stats = None;
    if ctx.engines.has_facts_llm() {
        let max_new_tokens = ctx.plan.facts.as_ref().map_or(0, |f| f.max_new_tokens);
        let mut progress = ctx.progress(&id, Stage::Facts);
        let model = ctx.engines.chat(ModelStage::Facts, reporter)?;
        let (added, stats) = facts::llm::propose(
            model,
            article,
            source_text,
            &facts,
            max_new_tokens,
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
    let models = ctx.engines.provenance();
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
            settings: ctx.engines.settings().clone(),
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
    let files = ctx
        .store
        .write_article(&record, &crate::render::article_markdown(&record))?;
    ctx.store.remove_checkpoints(&record.id);
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
