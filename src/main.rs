//! The `ukdigest` command line: argument definitions, the plan, and the
//! rendering of progress; the work happens in the library.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use ukdigest::config::{ModelsConfig, Uses};
use ukdigest::ingest::plain::Layout;
use ukdigest::jobs::{self, InputMode, JobContext, Outcome};
use ukdigest::plan::{Overrides, Plan};
use ukdigest::report::{Event, Reporter};

/// Ukrainian news → English daily digests with local models.
#[derive(Parser)]
#[command(name = "ukdigest", version, about)]
struct Cli {
    /// Model settings layered over the built-in defaults (default:
    /// ./models.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Worker threads for the model kernels (default: models.toml, 0 = all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Chat-model sequences decoded together, and articles worked on at
    /// once (default: models.toml `runtime.max_batch`; 1 = one at a time).
    /// Outputs do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    max_batch: Option<usize>,
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
    /// Work on shard I of N (0-based) of the inputs, partitioned by article
    /// id; default: from JOB_COMPLETION_INDEX (Kubernetes), SLURM_ARRAY_TASK_ID
    /// (Slurm) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch), else all inputs.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The number of shards (overrides the scheduler's; needed with
    /// JOB_COMPLETION_INDEX unless UKDIGEST_SHARD_COUNT is set).
    #[arg(long, value_name = "N")]
    shard_count: Option<usize>,
}

impl Batch {
    /// The job context of this batch: its shard, the output store.
    fn context<'a>(&self, plan: &'a Plan, reporter: &'a dyn Reporter) -> Result<JobContext<'a>> {
        let shard = ukdigest::shard::Shard::resolve(self.shard.as_deref(), self.shard_count)?;
        let mut ctx = JobContext::new(plan, &self.out, self.force, reporter)?;
        ctx.shard = shard;
        Ok(ctx)
    }
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
    /// Translate articles to English, sentence by sentence (`-` reads
    /// standard input as plain text and prints the English).
    Translate {
        #[command(flatten)]
        batch: Batch,
        /// `json`: records and `<id>.en.txt` in --out (default for files);
        /// `text`: only the English, on standard output (default for `-`).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Inputs are plain text: one paragraph per blank-line block, no
        /// news-page layout (a page without an article body is read this way
        /// anyway).
        #[arg(long)]
        plain: bool,
        /// Inputs hold one sentence per line; the English keeps the lines.
        #[arg(long, conflicts_with = "plain")]
        lines: bool,
    },
    /// Full job: translate, summarize, extract facts; per-article and daily digests.
    Digest {
        #[command(flatten)]
        batch: Batch,
        /// Chat model for summaries and facts (a name from models.toml).
        #[arg(long)]
        llm: Option<String>,
    },
    /// chrF of the translator (sacrebleu-compatible chrF2), by default on
    /// the shipped FLORES-200 dev set.
    EvalTranslate {
        /// Source lines (default: FLORES-200 dev, Ukrainian).
        #[arg(long, requires = "reference")]
        src: Option<PathBuf>,
        /// Reference lines, aligned with --src.
        #[arg(long, requires = "src")]
        reference: Option<PathBuf>,
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
    /// Score the article records of a digest run against a hand-made gold
    /// set: people, roles, organisations, places, numbers, must-mention
    /// terms, summary names, name consistency, Cyrillic left in English.
    /// Exit status 1 when a threshold fails, 2 on usage or read errors.
    EvalDigest {
        /// The digest's output folder (its `<id>.json` records).
        outdir: PathBuf,
        /// The gold file (e.g. tests/gold/seeds.json).
        #[arg(long, value_name = "FILE")]
        gold: PathBuf,
        /// Fail when the total of METRIC is below VALUE (repeatable).
        #[arg(long, value_name = "METRIC=VALUE")]
        min: Vec<String>,
        /// Fail when the total of METRIC is above VALUE (repeatable).
        #[arg(long, value_name = "METRIC=VALUE")]
        max: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Rebuild the daily digests, the static site, the Atom feed and the
    /// JSON Lines of an output folder from all its records (loads no model;
    /// run it after the shards of an array job).
    #[command(alias = "render")]
    Merge {
        /// The output folder.
        dir: PathBuf,
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
        None => Ok(ModelsConfig::builtin()),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::EvalDigest {
        outdir,
        gold,
        min,
        max,
        format,
    } = &cli.command
    {
        // Needs no models: before the configuration is read.
        std::process::exit(eval_digest(outdir, gold, min, max, *format));
    }
    let cfg = load_config(cli.config.as_deref())?;
    let overrides = |translator: Option<String>, llm: Option<String>| Overrides {
        threads: cli.threads,
        max_batch: cli.max_batch,
        translator,
        llm,
    };
    let plan = |uses: Uses, o: Overrides| -> Result<Plan> {
        let plan = Plan::new(cfg.clone(), uses, &o)?;
        // Before the first tensor operation.
        ukdigest::llm::set_threads(plan.threads);
        Ok(plan)
    };
    match cli.command {
        Command::Ingest {
            inputs,
            out,
            format,
        } => ingest(&inputs, out.as_deref(), format),
        Command::Translate {
            batch: b,
            format,
            plain,
            lines,
        } => {
            let plan = plan(Uses::TRANSLATE, overrides(b.translator.clone(), None))?;
            let stdin = b.inputs.iter().any(|p| p == Path::new("-"));
            let mode = if lines {
                InputMode::Plain(Layout::Lines)
            } else if plain || stdin {
                InputMode::Plain(Layout::Paragraphs)
            } else {
                InputMode::PageOrPlain
            };
            let files = collect_inputs(&b.inputs)?;
            let progress = Progress::new();
            let mut ctx = b.context(&plan, &progress)?;
            let text = matches!(format, Some(Format::Text)) || (format.is_none() && stdin);
            let outcomes = if text {
                jobs::translate::run_text(&mut ctx, &files, mode, &mut std::io::stdout().lock())
            } else {
                jobs::translate::run(&mut ctx, &files, mode)?
            };
            progress.finish();
            finish(&outcomes)
        }
        Command::Digest { batch: b, llm } => {
            let plan = plan(Uses::DIGEST, overrides(b.translator.clone(), llm))?;
            let progress = Progress::new();
            let files = collect_inputs(&b.inputs)?;
            let mut ctx = b.context(&plan, &progress)?;
            let outcomes = jobs::digest::run(&mut ctx, &files)?;
            progress.finish();
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
            let plan = plan(Uses::TRANSLATE, overrides(translator, None))?;
            let data = match (&src, &reference) {
                (Some(src), Some(reference)) => jobs::eval::EvalData::Files { src, reference },
                _ => jobs::eval::EvalData::Flores,
            };
            let progress = Progress::new();
            let report = jobs::eval::run(&plan, data, limit, &progress)?;
            progress.finish();
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
        Command::Merge { dir } => {
            let store = ukdigest::store::Store::open(&dir)?;
            let progress = Progress::new();
            let written = jobs::digest::rebuild(&store, &progress, jobs::DEFAULT_LEASE)?;
            progress.finish();
            println!(
                "{} file(s) rebuilt in {} (open {})",
                written.len(),
                dir.display(),
                store.site_index_path().display()
            );
            Ok(())
        }
        Command::Compare {
            baseline,
            new,
            min_chrf,
            json,
        } => compare(&baseline, &new, min_chrf, json.as_deref()),
        Command::EvalDigest { .. } => unreachable!("handled before the configuration"),
    }
}

/// `eval-digest`: the report on stdout; the exit status (0: every
/// threshold holds, 1: one fails, 2: the gold file, the folder or a
/// threshold cannot be used).
fn eval_digest(outdir: &Path, gold: &Path, min: &[String], max: &[String], format: Format) -> i32 {
    use ukdigest::eval_digest::{self as ed, Bound, Threshold};
    let thresholds: Result<Vec<Threshold>, ed::EvalError> = min
        .iter()
        .map(|s| Threshold::parse(s, Bound::Min))
        .chain(max.iter().map(|s| Threshold::parse(s, Bound::Max)))
        .collect();
    let report = match thresholds.and_then(|t| ed::run(outdir, gold, &t)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match format {
        Format::Text => print!("{}", ed::render_text(&report)),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
    }
    let failed: Vec<String> = report
        .thresholds
        .iter()
        .filter(|t| !t.ok)
        .map(|t| {
            let value = t.value.map_or_else(|| "none".into(), |v| format!("{v:.3}"));
            let op = if t.bound == Bound::Min { ">=" } else { "<=" };
            format!("{} = {value} (required {op} {})", t.metric, t.limit)
        })
        .collect();
    if failed.is_empty() {
        0
    } else {
        eprintln!("threshold failed: {}", failed.join("; "));
        1
    }
}

/// Progress bars on stderr: one for the inputs of a batch, one for the
/// stage of the article at hand (translate, summarize, facts) with counts
/// and ETA. Outcomes are printed above the bars; without a terminal the
/// bars are hidden and only the lines remain.
struct Progress {
    multi: MultiProgress,
    /// Without a terminal: a log line per stage instead of bars.
    log: bool,
    inputs: Mutex<Option<ProgressBar>>,
    stage: Mutex<Option<ProgressBar>>,
}

impl Progress {
    fn new() -> Self {
        use std::io::IsTerminal;
        Progress {
            log: !std::io::stderr().is_terminal(),
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            inputs: Mutex::new(None),
            stage: Mutex::new(None),
        }
    }

    /// Print a line above the bars (stdout when `out`, else stderr).
    fn line(&self, text: &str, out: bool) {
        self.multi.suspend(|| {
            if out {
                println!("{text}");
            } else {
                eprintln!("{text}");
            }
        });
    }

    fn finish(&self) {
        for bar in [&self.stage, &self.inputs] {
            if let Some(b) = bar.lock().expect("not poisoned").take() {
                b.finish_and_clear();
            }
        }
    }
}

impl Reporter for Progress {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::BatchStarted { job, inputs } => {
                let bar = self.multi.add(ProgressBar::new(inputs as u64));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>9} [{bar:30}] {pos}/{len} articles, {elapsed} (ETA {eta})",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(job.to_string());
                *self.inputs.lock().expect("not poisoned") = Some(bar);
            }
            Event::Input { .. } => {}
            Event::Progress {
                id,
                stage,
                done,
                total,
            } => {
                if self.log && done == 0 {
                    self.line(
                        &format!("{id}: {} ({total} {})", stage.name(), stage.unit()),
                        false,
                    );
                }
                let mut slot = self.stage.lock().expect("not poisoned");
                let bar = slot.get_or_insert_with(|| {
                    let b = self.multi.add(ProgressBar::new(total as u64));
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>9} [{bar:30}] {pos}/{len} {msg} (ETA {eta})",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    b
                });
                if done == 0 {
                    bar.reset();
                    bar.set_prefix(stage.name());
                    bar.set_message(format!("{} of {id}", stage.unit()));
                }
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            Event::Loading { model, path } => {
                self.line(&format!("loading {model} ({})", path.display()), false)
            }
            Event::Fetching { model, what } => {
                self.line(&format!("fetching {model}: {what}"), false)
            }
            Event::FetchProgress { model, done, total } => {
                if done == total {
                    self.line(&format!("fetched {model} ({total} part(s) joined)"), false);
                }
            }
            Event::Finished(outcome) => {
                match outcome {
                    Outcome::Written { line, .. } if line.is_empty() => {}
                    Outcome::Written { line, .. } => self.line(line, true),
                    Outcome::Skipped { id, why } => {
                        self.line(&format!("{id}  skipped: {why}"), true)
                    }
                    Outcome::Failed { path, error } => {
                        self.line(&format!("error: {}: {error}", path.display()), false)
                    }
                }
                if let Some(b) = self.inputs.lock().expect("not poisoned").as_ref() {
                    b.inc(1);
                }
            }
            Event::Reused { id, stage } => self.line(
                &format!(
                    "{id}: {} reused from the checkpoint of an earlier run",
                    stage.name()
                ),
                false,
            ),
            Event::Rebuilding { dir } => self.line(
                &format!("rebuilding the daily digests in {}", dir.display()),
                false,
            ),
            Event::CleanedUp { files } => self.line(
                &format!("removed {files} temporary file(s) left by an interrupted run"),
                false,
            ),
            Event::Note(text) => self.line(text, false),
        }
    }
}

/// The inputs of a batch: files as given, directories expanded; `-`
/// (standard input) is kept as it is.
fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for i in inputs {
        if i == Path::new("-") {
            out.push(i.clone());
        } else {
            out.extend(ukdigest::ingest::collect_inputs(std::slice::from_ref(i))?);
        }
    }
    Ok(out)
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
    if jobs::all_failed(outcomes) {
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

/// `render OUTDIR`: every output made from all the records, rebuilt.
fn compare(baseline: &Path, new: &Path, min_chrf: f64, json: Option<&Path>) -> Result<()> {
    let r = ukdigest::compare::compare_dirs(baseline, new)?;
    let f = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for a in &r.articles {
        println!(
            "{}  {}  summary chrF2 {}  ROUGE-L {}  headline chrF2 {}  facts -{} +{}",
            a.id,
            a.status.name(),
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
    let progress = Progress::new();
    let resolver = ukdigest::source::Resolver::new(cfg.cache_dir(), &progress);
    for n in names {
        if !cfg.models.contains_key(n) {
            bail!("model \"{n}\" is not defined in [models]");
        }
    }
    let mut failed = 0;
    for (name, spec) in &cfg.models {
        if !names.is_empty() && !names.contains(name) {
            continue;
        }
        if let Err(e) = cfg.check_model(name) {
            failed += 1;
            println!("{name}  invalid: {e}");
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
