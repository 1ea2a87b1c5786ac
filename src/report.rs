//! How the library tells its caller what is happening: a small event
//! interface. The library never prints; the command line renders events
//! as progress bars (see `src/main.rs`), tests collect or ignore them.
use std::path::Path;

/// A stage of one article's processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Translate,
    Summarize,
    Facts,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Translate => "translate",
            Stage::Summarize => "summarize",
            Stage::Facts => "facts",
        }
    }

    /// What the stage's progress counts.
    pub fn unit(self) -> &'static str {
        match self {
            Stage::Translate => "sentences",
            Stage::Summarize | Stage::Facts => "requests",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A batch job starts over `inputs` files.
    BatchStarted { job: &'a str, inputs: usize },
    /// Work on one input starts (index from 0).
    Input { index: usize, path: &'a Path },
    /// Progress of a stage of article `id`: `done` of `total` units
    /// ([`Stage::unit`]); `done = 0` when the stage starts.
    Progress {
        id: &'a str,
        stage: Stage,
        done: usize,
        total: usize,
    },
    /// A model is being loaded into memory.
    Loading { model: &'a str, path: &'a Path },
    /// A model is being fetched into the cache (`what` says how).
    Fetching { model: &'a str, what: &'a str },
    /// Progress of a fetch: `done` of `total` parts joined.
    FetchProgress {
        model: &'a str,
        done: usize,
        total: usize,
    },
    /// A stage's result was taken from the checkpoint an earlier
    /// (interrupted) run saved.
    Reused { id: &'a str, stage: Stage },
    /// The daily digests (and other outputs made from all records) are
    /// being rebuilt.
    Rebuilding { dir: &'a Path },
    /// Temporaries left by killed runs were removed.
    CleanedUp { files: usize },
    /// One input is finished (written, skipped or failed).
    Finished(&'a crate::jobs::Outcome),
    /// Anything else worth a line.
    Note(&'a str),
}

/// Receives events. Implementations must be cheap: events come from the
/// inner loops (one per translated chunk).
pub trait Reporter: Sync {
    fn report(&self, event: Event<'_>);
}

/// A reporter that drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Event<'_>) {}
}

/// A reporter that keeps one line per event (for tests and logs).
#[derive(Debug, Default)]
pub struct Collect {
    pub lines: std::sync::Mutex<Vec<String>>,
}

impl Reporter for Collect {
    fn report(&self, event: Event<'_>) {
        let line = match event {
            Event::Loading { model, .. } => format!("loading {model}"),
            Event::Fetching { model, what } => format!("fetching {model}: {what}"),
            Event::Finished(o) => format!("finished {}", o.id()),
            Event::Progress {
                id,
                stage,
                done,
                total,
            } => format!("{id} {} {done}/{total}", stage.name()),
            other => format!("{other:?}"),
        };
        self.lines.lock().expect("not poisoned").push(line);
    }
}
