//! ukdigest: Ukrainian news → English daily digests with local models.
//!
//! The modules follow the data flow:
//! ingest → segment → translate → summarize → facts → digest → compare.
//! `config` and `source` say which models run and where they come from;
//! `llm` and `marian` are the inference engines; `pipeline` runs the jobs.
pub mod article;
pub mod config;
pub mod error;
pub mod fsio;
pub mod source;

pub mod compare;
pub mod digest;
pub mod eval;
pub mod facts;
pub mod ingest;
pub mod segment;
pub mod summarize;
pub mod translate;

pub mod llm;
pub mod marian;
pub mod pipeline;

pub use error::{Error, Result};
