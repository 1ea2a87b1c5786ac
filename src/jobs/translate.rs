//! `translate`: each input's title and sentences to English, written as
//! `<id>.translation.json` and `<id>.en.txt` ([`run`]; articles already
//! translated from the same source with the same models and settings are
//! skipped, so the job can run on a folder as new articles arrive), or as
//! English text only ([`run_text`], for pipes and standard input).
use super::{InputMode, JobContext, Outcome, Prepared, Step, Translated};
use crate::ingest::plain::Layout;
use crate::report::Event;
use crate::store::claim::Claim;
use crate::store::english_text;

const LINES: InputMode = InputMode::Plain(Layout::Lines);
use crate::calendar::utc_now;
use crate::error::Result;
use crate::store::{tool, Provenance, RecordKind, TranslationRecord, TranslationTimings};
use std::path::PathBuf;

/// Translate every input, in groups of `runtime.max_batch` articles whose
/// chat-model requests run in one continuous batch (see
/// [`JobContext::translate_group`]); a record is written per article.
pub fn run(ctx: &mut JobContext, inputs: &[PathBuf], mode: InputMode) -> Result<Vec<Outcome>> {
    let inputs = ctx.start_batch("translate", inputs);
    let size = ctx.plan.batch.max_batch.max(1);
    let mut outcomes = Vec::with_capacity(inputs.len());
    for (g, paths) in inputs.chunks(size).enumerate() {
        outcomes.extend(group(ctx, paths, g * size, mode));
    }
    Ok(outcomes)
}

/// Translate one group of inputs; the outcomes in input order.
fn group(ctx: &mut JobContext, paths: &[PathBuf], first: usize, mode: InputMode) -> Vec<Outcome> {
    let reporter = ctx.reporter;
    let mut outcomes: Vec<Option<Outcome>> = (0..paths.len()).map(|_| None).collect();
    let failed = |k: usize, e: crate::Error| Outcome::Failed {
        path: paths[k].clone(),
        error: e.to_string(),
    };
    let mut preps = Vec::new();
    let mut meta = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        reporter.report(Event::Input {
            index: first + k,
            path,
        });
        match ctx.prepare(RecordKind::Translation, path, mode) {
            Ok(Step::Skip(o)) => outcomes[k] = Some(o),
            Ok(Step::Work(p, claim)) => {
                preps.push(*p);
                meta.push((k, claim));
            }
            Err(e) => outcomes[k] = Some(failed(k, e)),
        }
        if let Some(o) = &outcomes[k] {
            reporter.report(Event::Finished(o));
        }
    }
    for ((k, claim), t) in meta.into_iter().zip(ctx.translate_group(preps, false)) {
        let o = t
            .and_then(|t| write(ctx, t, mode, claim))
            .unwrap_or_else(|e| failed(k, e));
        reporter.report(Event::Finished(&o));
        outcomes[k] = Some(o);
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every input decided"))
        .collect()
}

/// Translate each input and write only its English to `out`: the title
/// (when the input has one) and the paragraphs, separated by blank lines;
/// in [`Layout::Lines`] one line per input line, so the output stays
/// line-aligned with the input. Nothing is written to the store.
pub fn run_text(
    ctx: &mut JobContext,
    inputs: &[PathBuf],
    mode: InputMode,
    out: &mut dyn std::io::Write,
) -> Vec<Outcome> {
    ctx.run_batch("translate", inputs, |ctx, path| {
        let t = ctx.translate(Prepared::read(path, mode)?)?;
        let text = english_text(&t.title_en, &t.paragraphs, mode == LINES);
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| crate::Error::io("standard output", e))?;
        Ok(Outcome::Written {
            id: t.prepared.article.id.clone(),
            files: Vec::new(),
            line: String::new(),
        })
    })
}

/// The translation record of `t`, written to the store.
fn write(ctx: &mut JobContext, t: Translated, mode: InputMode, claim: Claim) -> Result<Outcome> {
    let total_secs = t.prepared.started.elapsed().as_secs_f64();
    let line = format!(
        "{}  {} sentences, {} flagged, {total_secs:.1}s  → {}",
        t.prepared.article.id, t.stats.sentences, t.stats.flagged, t.title_en
    );
    let article = t.prepared.article;
    let record = TranslationRecord {
        schema_version: crate::store::SCHEMA_VERSION,
        id: article.id,
        source_path: article.source_path,
        source_sha256: t.prepared.source_sha256,
        source_format: article.source_format,
        title_uk: article.title,
        title_en: t.title_en,
        paragraphs: t.paragraphs,
        line_aligned: mode == LINES,
        provenance: Provenance {
            tool: tool(),
            generated_at: utc_now(),
            models: ctx.engines.provenance(),
            settings: ctx.engines.settings().clone(),
            batching: ctx.engines.batching(),
            timings: TranslationTimings {
                translate_secs: t.stats.secs,
                total_secs,
            },
            counts: t.stats,
        },
    };
    if !claim.still_held() {
        return Ok(Outcome::Skipped {
            id: record.id,
            why: "another run took the article over (this run's claim ran out)".into(),
        });
    }
    let files = ctx.store.write_translation(&record)?;
    drop(claim);
    Ok(Outcome::Written {
        id: record.id,
        files,
        line,
    })
}
