//! Rendering records for readers: the per-article page and the daily
//! digests, in Markdown. The daily digests are rebuilt from every article
//! record in the store, so a batch of new articles joins the days already
//! written.
mod markdown;

pub use markdown::{article_markdown, day_markdown, fact_line};

use crate::error::Result;
use crate::store::{ArticleDigest, Store};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The store's article records grouped by day (`YYYY-MM-DD` or
/// `undated`), each day's articles by publication time, then id.
pub fn days(store: &Store) -> Result<BTreeMap<String, Vec<ArticleDigest>>> {
    let mut days: BTreeMap<String, Vec<ArticleDigest>> = BTreeMap::new();
    for rec in store.articles()? {
        days.entry(rec.day()).or_default().push(rec);
    }
    for entries in days.values_mut() {
        entries.sort_by(|a, b| {
            let t = |e: &ArticleDigest| e.published.as_ref().and_then(|p| p.time.clone());
            t(a).cmp(&t(b)).then(a.id.cmp(&b.id))
        });
    }
    Ok(days)
}

/// Rebuild every `digest-*.md` from the store's article records. Returns
/// the files written.
pub fn write_daily_digests(store: &Store) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (day, entries) in days(store)? {
        written.push(store.write_day(&day, &day_markdown(&day, &entries))?);
    }
    Ok(written)
}
