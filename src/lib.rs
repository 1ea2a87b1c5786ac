//! ukdigest: Ukrainian news → English daily digests with local models.
//!
//! The modules follow the data flow:
//! ingest → segment → translate → summarize → facts → digest → compare.
//! `config` and `source` say which models run and where they come from.
pub mod article;
pub mod config;
pub mod error;
pub mod fsio;
pub mod source;

pub use error::{Error, Result};
