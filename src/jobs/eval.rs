//! `eval-translate`: chrF2 (sacrebleu-compatible) of the run's translator
//! on aligned source and reference lines — by default the first lines of
//! FLORES-200 dev (uk→en), shipped in `data/flores200-uk-en/`.
use crate::calendar::utc_now;
use crate::engines::Engines;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::report::{Event, Reporter, Stage};
use crate::store::StageModels;
use crate::translate::TranslateStats;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// FLORES-200 dev, Ukrainian side (CC-BY-SA-4.0; see the README).
pub const FLORES_DEV_UK: &str = include_str!("../../data/flores200-uk-en/dev.uk");
/// FLORES-200 dev, English side.
pub const FLORES_DEV_EN: &str = include_str!("../../data/flores200-uk-en/dev.en");

/// The result of an evaluation, as `--out` writes it.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub sentences: usize,
    pub chrf: f64,
    pub secs: f64,
    pub provenance: EvalProvenance,
    pub hypotheses: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EvalProvenance {
    pub models: StageModels,
    pub counts: TranslateStats,
    pub generated_at: String,
}

/// Where the evaluation lines come from.
pub enum EvalData<'a> {
    /// The shipped FLORES-200 dev pair.
    Flores,
    /// Line-aligned files.
    Files { src: &'a Path, reference: &'a Path },
}

fn lines(text: &str, limit: usize) -> Vec<String> {
    text.lines().take(limit).map(str::to_string).collect()
}

/// Translate the first `limit` source lines and score them against the
/// references.
pub fn run(
    plan: &Plan,
    data: EvalData,
    limit: usize,
    reporter: &dyn Reporter,
) -> Result<EvalReport> {
    let (srcs, refs, what) = match data {
        EvalData::Flores => (
            lines(FLORES_DEV_UK, limit),
            lines(FLORES_DEV_EN, limit),
            "FLORES-200 dev".to_string(),
        ),
        EvalData::Files { src, reference } => {
            let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::io(p, e));
            (
                lines(&read(src)?, limit),
                lines(&read(reference)?, limit),
                format!("{} and {}", src.display(), reference.display()),
            )
        }
    };
    if srcs.len() != refs.len() || srcs.is_empty() {
        return Err(Error::Config(format!(
            "{what} must be non-empty and line-aligned ({} vs {} lines)",
            srcs.len(),
            refs.len()
        )));
    }
    let mut engines = Engines::resolve(plan, reporter)?;
    let t0 = Instant::now();
    let mut stats = TranslateStats::default();
    // The entities of the test set, as an article of its lines would have.
    let text = srcs.join("\n");
    let article = crate::ingest::plain::article(
        "eval",
        Path::new("eval"),
        "utf-8",
        &text,
        crate::ingest::plain::Layout::Lines,
    );
    let table = crate::entities::table_of(&article, &text);
    let hypotheses: Vec<String> = engines
        .translate(&srcs, &table, &mut stats, reporter, &mut |done, total| {
            reporter.report(Event::Progress {
                id: "eval",
                stage: Stage::Translate,
                done,
                total,
            })
        })?
        .into_iter()
        .map(|t| t.en)
        .collect();
    let chrf = crate::eval::chrf(&hypotheses, &refs)?;
    Ok(EvalReport {
        model: engines.translator_name().to_string(),
        sentences: srcs.len(),
        chrf,
        secs: t0.elapsed().as_secs_f64(),
        provenance: EvalProvenance {
            models: engines.provenance(),
            counts: stats,
            generated_at: utc_now(),
        },
        hypotheses,
    })
}
