//! The `ukdigest` command line: argument definitions and glue only; the
//! work happens in the library.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use ukdigest::config::ModelsConfig;
use ukdigest::pipeline::{self, Engines, Outcome, Selection};

/// Ukrainian news → English daily digests with local models.
#[derive(Parser)]
#[command(name = "ukdigest", version, about)]
struct Cli {
    /// Model settings (default: ./models.toml, else the built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Worker threads for the model kernels (default: models.toml, 0 = all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Text,
}

/// Options of the batch jobs (`translate`, `digest`).
#[derive(clap::Args)]
struct Batch {
    /// Article files or directories of *.txt files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[arg(long, default_value = "outputs")]
    out: PathBuf,
    /// Translation model (a name from models.toml).
    #[arg(long)]
    translator: Option<String>,
    /// Redo articles already done from the same source with the same models and settings.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Clean and segment articles; write one JSON per article.
    Ingest {
        /// Article files or directories of *.txt files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where to write `<id>.json` (JSON format only).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Translate articles to English, sentence by sentence.
    Translate(Batch),
    /// Full job: translate, summarize, extract facts; per-article and daily digests.
    Digest {
        #[command(flatten)]
        batch: Batch,
        /// Chat model for summaries and facts (a name from models.toml).
        #[arg(long)]
        llm: Option<String>,
    },
    /// chrF of the translator on FLORES-200 dev (sacrebleu-compatible chrF2).
    EvalTranslate {
        #[arg(long, default_value = "../shared/testdata/flores200-uk-en/dev.uk")]
        src: PathBuf,
        #[arg(long, default_value = "../shared/testdata/flores200-uk-en/dev.en")]
        reference: PathBuf,
        /// Number of sentence pairs, from the first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        translator: Option<String>,
        /// Write hypotheses and the score as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare the article records of two digest runs (summaries, headlines, facts).
    Compare {
        /// Baseline output directory.
        baseline: PathBuf,
        /// New output directory.
        new: PathBuf,
        /// Fail when an article's summary chrF2 against the baseline is below this.
        #[arg(long, default_value_t = 0.0)]
        min_chrf: f64,
        /// Write the full comparison as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// List models and where they resolve; `--fetch` downloads them.
    Models {
        /// Only these models (default: all).
        names: Vec<String>,
        #[arg(long)]
        fetch: bool,
    },
}

fn load_config(path: Option<&Path>) -> Result<ModelsConfig> {
    match path {
        Some(p) => Ok(ModelsConfig::load(p)?),
        None if Path::new("models.toml").is_file() => {
            Ok(ModelsConfig::load(Path::new("models.toml"))?)
        }
        None => Ok(ModelsConfig::parse(include_str!("../models.toml"))?),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut cfg = load_config(cli.config.as_deref())?;
    if let Some(t) = cli.threads {
        cfg.runtime.threads = t;
    }
    let threads = if cfg.runtime.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        cfg.runtime.threads
    };
    // Before the first tensor operation.
    ukdigest::llm::set_threads(threads);

    match cli.command {
        Command::Ingest {
            inputs,
            out,
            format,
        } => ingest(&inputs, out.as_deref(), format),
        Command::Translate(b) => {
            let sel = Selection {
                translator: b.translator,
                llm: None,
            };
            let mut engines = Engines::load(&cfg, &sel, false)?;
            let files = ukdigest::ingest::collect_inputs(&b.inputs)?;
            let outcomes = pipeline::run_translate(
                &cfg,
                &mut engines,
                &files,
                &b.out,
                b.force,
                &mut print_outcome,
            )?;
            finish(&outcomes)
        }
        Command::Digest { batch: b, llm } => {
            let sel = Selection {
                translator: b.translator,
                llm,
            };
            let mut engines = Engines::load(&cfg, &sel, true)?;
            let files = ukdigest::ingest::collect_inputs(&b.inputs)?;
            let outcomes = pipeline::run_digest(
                &cfg,
                &mut engines,
                &files,
                &b.out,
                b.force,
                &mut print_outcome,
            )?;
            eprintln!("daily digests in {}", b.out.display());
            finish(&outcomes)
        }
        Command::EvalTranslate {
            src,
            reference,
            limit,
            translator,
            out,
        } => {
            let sel = Selection {
                translator,
                llm: None,
            };
            let mut engines = Engines::load(&cfg, &sel, false)?;
            let report = pipeline::eval_translate(&cfg, &mut engines, &src, &reference, limit)?;
            println!(
                "chrF2 = {:.2}  ({} sentences, model {}, {:.1}s)",
                report.chrf, report.sentences, report.model, report.secs
            );
            if let Some(o) = out {
                ukdigest::fsio::write_json_atomic(&o, &report)?;
            }
            Ok(())
        }
        Command::Models { names, fetch } => models(&cfg, &names, fetch),
        Command::Compare {
            baseline,
            new,
            min_chrf,
            json,
        } => compare(&baseline, &new, min_chrf, json.as_deref()),
    }
}

fn print_outcome(o: &Outcome) {
    match o {
        Outcome::Written { line, .. } => println!("{line}"),
        Outcome::Skipped { id, why } => println!("{id}  skipped: {why}"),
        Outcome::Failed { path, error } => eprintln!("error: {}: {error}", path.display()),
    }
}

/// Non-zero exit only when no article could be processed.
fn finish(outcomes: &[Outcome]) -> Result<()> {
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failed { .. }))
        .count();
    if failed > 0 {
        eprintln!("{failed} of {} input(s) failed", outcomes.len());
    }
    if !outcomes.is_empty() && failed == outcomes.len() {
        bail!("no article could be processed");
    }
    Ok(())
}

fn ingest(inputs: &[PathBuf], out: Option<&Path>, format: Format) -> Result<()> {
    let files = ukdigest::ingest::collect_inputs(inputs)?;
    let mut ok = 0;
    for f in &files {
        match ukdigest::ingest::ingest_file(f) {
            Ok(a) => {
                ok += 1;
                match format {
                    Format::Text => println!("{}", ukdigest::ingest::format_text(&a)),
                    Format::Json => {
                        if let Some(dir) = out {
                            let p = dir.join(format!("{}.json", a.id));
                            ukdigest::fsio::write_json_atomic(&p, &a)
                                .with_context(|| format!("writing {}", p.display()))?;
                        }
                        let n: usize = a.paragraphs.iter().map(|p| p.sentences.len()).sum();
                        println!(
                            "{}  {}  {}  {} paragraphs, {} sentences  {}",
                            a.id,
                            a.published
                                .as_ref()
                                .map(|p| p.iso())
                                .unwrap_or_else(|| "undated".into()),
                            a.outlet.as_deref().unwrap_or("-"),
                            a.paragraphs.len(),
                            n,
                            a.title
                        );
                    }
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if ok == 0 {
        bail!("no article could be read ({} input file(s))", files.len());
    }
    Ok(())
}

fn compare(baseline: &Path, new: &Path, min_chrf: f64, json: Option<&Path>) -> Result<()> {
    let r = ukdigest::compare::compare_dirs(baseline, new)?;
    let f = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for a in &r.articles {
        println!(
            "{}  {}  summary chrF2 {}  ROUGE-L {}  headline chrF2 {}  facts -{} +{}",
            a.id,
            a.status,
            f(a.summary_chrf),
            f(a.summary_rouge_l.map(|x| x * 100.0)),
            f(a.headline_chrf),
            a.facts_removed.len(),
            a.facts_added.len()
        );
    }
    println!(
        "mean summary chrF2 {}  min {}",
        f(r.mean_summary_chrf),
        f(r.min_summary_chrf)
    );
    if let Some(p) = json {
        ukdigest::fsio::write_json_atomic(p, &r)?;
    }
    let bad = r.regressions(min_chrf);
    if !bad.is_empty() {
        let ids: Vec<&str> = bad.iter().map(|a| a.id.as_str()).collect();
        bail!(
            "{} article(s) regressed or missing: {}",
            bad.len(),
            ids.join(", ")
        );
    }
    Ok(())
}

fn models(cfg: &ModelsConfig, names: &[String], fetch: bool) -> Result<()> {
    let resolver = ukdigest::source::Resolver::for_config(cfg);
    let mut failed = 0;
    for (name, spec) in &cfg.models {
        if !names.is_empty() && !names.contains(name) {
            continue;
        }
        if fetch {
            match resolver.resolve(name, spec) {
                Ok(m) => println!(
                    "{name}  {:?}  {}  sha256 {}  [{}]",
                    m.engine,
                    m.path.display(),
                    m.sha256,
                    m.source.kind()
                ),
                Err(e) => {
                    failed += 1;
                    println!("{name}  unavailable: {e}");
                }
            }
        } else {
            let kinds: Vec<&str> = spec.sources.iter().map(|s| s.kind()).collect();
            println!("{name}  {:?}  sources: {}", spec.engine, kinds.join(", "));
        }
    }
    if fetch && !names.is_empty() && failed > 0 {
        bail!("{failed} model(s) could not be fetched");
    }
    Ok(())
}
