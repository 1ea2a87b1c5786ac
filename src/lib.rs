//! ukdigest: Ukrainian news → English daily digests with local models.
//!
//! The modules follow the data flow:
//! ingest → segment → translate → summarize → facts → digest → compare.
pub mod article;
pub mod error;
pub mod eval;
pub mod facts;
pub mod fsio;

pub use error::{Error, Result};
