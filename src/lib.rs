//! ukdigest: Ukrainian news → English daily digests with local models.
//!
//! The modules follow the data flow (see `ARCHITECTURE.md`):
//! ingest → segment → translate → summarize → facts → store → render,
//! with `compare` and `eval` reading runs back. `config` (layered
//! `models.toml`) and the command line become one typed [`plan::Plan`];
//! `source` resolves models onto disk, `engines` loads them when an article
//! first needs them, `jobs` runs the batch jobs, and `report` carries
//! progress to the caller. `llm` and `marian` are the inference engines.
/// Implement `Serialize` and `Deserialize` for a type as its `Display`
/// and `FromStr` text (record fields written as one readable string).
macro_rules! serde_via_str {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod article;
pub mod calendar;
pub mod chunk;
pub mod config;
pub mod error;
pub mod fsio;
pub mod guard;
pub mod plan;
pub mod report;
pub mod source;

pub mod compare;
pub mod eval;
pub mod eval_digest;
pub mod facts;
pub mod ingest;
pub mod render;
pub mod segment;
pub mod shard;
pub mod store;
pub mod summarize;
pub mod translate;

pub mod engines;
pub mod entities;
pub mod jobs;
pub mod llm;
pub mod marian;
mod pages;

pub use error::{Error, Result};
