//! Rendering records for readers: the per-article page and the daily
//! digests in Markdown; the static site (`index.html`, day and article
//! pages, `style.css`); the Atom feed (`feed.xml`); and JSON Lines
//! (`articles.jsonl`) with the record's JSON Schema. Everything is
//! rebuilt from every article record in the store, so a batch of new
//! articles joins the days already written, and the same records give the
//! same bytes.
mod feed;
mod jsonl;
mod markdown;
mod site;

pub use feed::{atom_feed, entry_id, kyiv_time, FEED_ID};
pub use jsonl::{
    article_schema, article_schema_json, articles_jsonl, ARTICLE_SCHEMA_ID, ARTICLE_SCHEMA_PATH,
};
pub use markdown::{article_markdown, day_markdown, fact_line};
pub use site::{day_label, render_site, site_style, write_site, SitePages};

use crate::error::Result;
use crate::fsio::write_atomic;
use crate::store::{ArticleDigest, Store};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The store's article records grouped by day (`YYYY-MM-DD` or
/// `undated`), each day's articles by publication time, then id.
pub fn days(store: &Store) -> Result<BTreeMap<String, Vec<ArticleDigest>>> {
    Ok(group_by_day(store.articles()?))
}

/// Records grouped by day, each day's articles by publication time, then id.
pub fn group_by_day(records: Vec<ArticleDigest>) -> BTreeMap<String, Vec<ArticleDigest>> {
    let mut days: BTreeMap<String, Vec<ArticleDigest>> = BTreeMap::new();
    for rec in records {
        days.entry(rec.day()).or_default().push(rec);
    }
    for entries in days.values_mut() {
        entries.sort_by(|a, b| {
            let t = |e: &ArticleDigest| e.published.as_ref().and_then(|p| p.time.clone());
            t(a).cmp(&t(b)).then(a.id.cmp(&b.id))
        });
    }
    days
}

/// Rebuild every `digest-*.md` from the store's article records. Returns
/// the files written.
pub fn write_daily_digests(store: &Store) -> Result<Vec<PathBuf>> {
    write_markdown_days(store, &days(store)?)
}

fn write_markdown_days(
    store: &Store,
    days: &BTreeMap<String, Vec<ArticleDigest>>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (day, entries) in days {
        written.push(store.write_day(day, &day_markdown(day, entries))?);
    }
    Ok(written)
}

/// Rebuild every output made from all the records: the daily digests in
/// Markdown, the site, `feed.xml` and `articles.jsonl`. Returns the files
/// written.
pub fn write_all(store: &Store) -> Result<Vec<PathBuf>> {
    let days = days(store)?;
    let mut written = write_markdown_days(store, &days)?;
    written.extend(write_site(store, &days)?);
    let records: Vec<&ArticleDigest> = days.values().flatten().collect();
    let feed = store.feed_path();
    write_atomic(&feed, atom_feed(&records).as_bytes())?;
    written.push(feed);
    let jsonl = store.jsonl_path();
    write_atomic(&jsonl, articles_jsonl(&records).as_bytes())?;
    written.push(jsonl);
    Ok(written)
}
