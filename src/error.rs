//! The library's one error type.
use std::path::PathBuf;

/// Everything that can go wrong inside the ukdigest library.
///
/// Variants name the thing that failed (an article, a model file, a
/// configuration key) so that messages are useful without a backtrace.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input article could not be turned into an [`crate::article::Article`].
    #[error("article {path}: {reason}")]
    Article { path: PathBuf, reason: String },

    /// A model file is missing, truncated, corrupt or of an unsupported kind.
    #[error("model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },

    /// `models.toml` (or a CLI option) is invalid.
    #[error("configuration: {0}")]
    Config(String),

    /// No source of a model could be resolved (hub offline, pip failed, …).
    #[error("model {model}: {reason}")]
    Source { model: String, reason: String },

    /// An output record that cannot be read (wrong schema version, not a record).
    #[error("record {path}: {reason}")]
    Record { path: PathBuf, reason: String },

    /// File-system failure on a named path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Tokenizer construction or use failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// A model produced something the stage cannot use.
    #[error("generation: {0}")]
    Generation(String),

    /// Tensor runtime failure.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),

    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn model_file(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Error::ModelFile {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub fn article(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Error::Article {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
