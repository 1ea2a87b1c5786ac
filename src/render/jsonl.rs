//! `articles.jsonl`: every article record as one line of JSON, for
//! pipelines; and the JSON Schema of a line, generated from the record
//! types with schemars and published as `schema/article.schema.json`.
//!
//! The committed schema is checked against [`article_schema_json`] by
//! `tests/site.rs`; after changing a record type, regenerate it with
//!
//! ```sh
//! UKDIGEST_WRITE_SCHEMA=1 cargo test --test site schema
//! ```
use crate::store::ArticleDigest;
use std::cmp::Ordering;

/// Where the repository publishes [`article_schema_json`].
pub const ARTICLE_SCHEMA_PATH: &str = "schema/article.schema.json";

/// The schema's `$id`.
pub const ARTICLE_SCHEMA_ID: &str = "urn:ukdigest:schema:article";

/// One line per record (its JSON on one line, then `\n`), sorted by
/// publication date, then id; undated records last.
pub fn articles_jsonl(records: &[&ArticleDigest]) -> String {
    let mut sorted: Vec<&ArticleDigest> = records.to_vec();
    sorted.sort_by(|a, b| jsonl_order(a, b));
    let mut out = String::new();
    for rec in sorted {
        // A record always serializes (its fields are plain data).
        out.push_str(&serde_json::to_string(rec).expect("a record serializes"));
        out.push('\n');
    }
    out
}

fn jsonl_order(a: &ArticleDigest, b: &ArticleDigest) -> Ordering {
    let date = |r: &ArticleDigest| r.published.as_ref().map(|p| p.date.clone());
    match (date(a), date(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.id.cmp(&b.id))
}

/// The JSON Schema (draft 2020-12) of an article record, as a line of
/// `articles.jsonl` or a `<id>.json` holds it.
pub fn article_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(ArticleDigest)).expect("a schema serializes");
    if let Some(o) = schema.as_object_mut() {
        o.insert("$id".into(), ARTICLE_SCHEMA_ID.into());
        o.insert(
            "description".into(),
            format!(
                "One article record of ukdigest (schema_version {}): `<id>.json` in an output \
                 folder, or one line of `articles.jsonl`. Generated from the Rust types with \
                 schemars; regenerate with `UKDIGEST_WRITE_SCHEMA=1 cargo test --test site schema`.",
                crate::store::SCHEMA_VERSION
            )
            .into(),
        );
    }
    schema
}

/// [`article_schema`] as the committed file holds it: pretty JSON and a
/// final newline.
pub fn article_schema_json() -> String {
    serde_json::to_string_pretty(&article_schema()).expect("a schema serializes") + "\n"
}
