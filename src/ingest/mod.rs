//! Ingestion: a scraped news page on disk → a cleaned, segmented
//! [`Article`].
//!
//! The steps are [`decode`] (bytes → text, encoding detection, binary
//! rejection), [`html`] (an HTML page → a plain-text page of the same
//! shape as the scraped ones, with the metadata of its markup), [`clean`]
//! (metadata, page furniture, title, body) and [`crate::segment`]
//! (sentences). Sentence spans are byte ranges into the source text: the
//! decoded text, which for UTF-8 input is the file itself, or for an HTML
//! page the text page rendered from it.
//!
//! Input size policy: a page larger than [`MAX_ARTICLE_BYTES`] is refused
//! with a clear error before it is read. News pages are a few kilobytes;
//! a multi-megabyte "article" is a wrong file, and translating it would
//! take hours. Below the limit every step is linear in the input size.
pub mod clean;
pub mod decode;
pub mod html;
pub mod meta;
pub mod plain;

use crate::article::{Article, Paragraph, Sentence};
use crate::error::{Error, Result};
use crate::segment::split_sentences;
use std::path::{Path, PathBuf};

/// The largest page accepted, in bytes (4 MiB).
pub const MAX_ARTICLE_BYTES: u64 = 4 * 1024 * 1024;

/// Read, decode, clean and segment the page at `path`.
pub fn ingest_file(path: &Path) -> Result<Article> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::article(path, "not a regular file"));
    }
    check_size(path, meta.len())?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    ingest_bytes(path, &bytes)
}

/// Decode, clean and segment a page already in memory; `path` names it
/// (its file stem becomes the article id).
pub fn ingest_bytes(path: &Path, bytes: &[u8]) -> Result<Article> {
    ingest_bytes_with_source(path, bytes).map(|(article, _)| article)
}

/// As [`ingest_bytes`], also returning the source text that the sentence
/// spans point into: the decoded text, or for an HTML page (see
/// [`html::looks_like_html`]) the text page rendered from it.
pub fn ingest_bytes_with_source(path: &Path, bytes: &[u8]) -> Result<(Article, String)> {
    check_size(path, bytes.len() as u64)?;
    let id = article_id(path)?;
    let decoded = decode::decode(path, bytes)?;
    let is_html = html::looks_like_html(&decoded.text);
    let (source, page) = if is_html {
        let mut page = html::to_text_page(&decoded.text).map_err(|e| Error::article(path, e))?;
        (std::mem::take(&mut page.text), Some(page))
    } else {
        (decoded.text, None)
    };
    let text = source.as_str();
    let mut cleaned = clean::clean(text).map_err(|e| match page {
        Some(_) => Error::article(path, format!("HTML page: {e}")),
        None => Error::article(path, e),
    })?;
    if let Some(page) = page {
        // The markup's metadata is better than what the cleaner reads back.
        cleaned.title = page.title.unwrap_or(cleaned.title);
        cleaned.published = page.published.or(cleaned.published);
        cleaned.outlet = page.outlet.or(cleaned.outlet);
    }

    let paragraphs = cleaned
        .blocks
        .iter()
        .map(|block| Paragraph {
            kind: block.kind,
            sentences: split_sentences(&text[block.span.clone()])
                .into_iter()
                .map(|r| {
                    let span = (block.span.start + r.start, block.span.start + r.end);
                    Sentence {
                        text: clean::collapse(&text[span.0..span.1]),
                        span,
                    }
                })
                .collect(),
        })
        .collect();

    let article = Article {
        id,
        title: cleaned.title,
        published: cleaned.published,
        outlet: cleaned.outlet,
        source_line: cleaned.source_line,
        source_path: path.to_path_buf(),
        encoding: decoded.encoding.to_owned(),
        source_format: if is_html {
            crate::article::SourceFormat::Html
        } else {
            crate::article::SourceFormat::Text
        },
        paragraphs,
    };
    Ok((article, source))
}

/// The id of the article at `path`: its file stem (`-`, standard input,
/// is `stdin`). Known before the file is read, so shards and claims can
/// use it.
pub fn article_id(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        return Ok("stdin".into());
    }
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::article(path, "the path has no file name to use as the article id"))
}

fn check_size(path: &Path, len: u64) -> Result<()> {
    if len > MAX_ARTICLE_BYTES {
        return Err(Error::article(
            path,
            format!("file too large: {len} bytes, over the {MAX_ARTICLE_BYTES}-byte limit for one article"),
        ));
    }
    Ok(())
}

/// The file name extensions of pages taken from a directory.
const PAGE_EXTENSIONS: &[&str] = &["txt", "html", "htm"];

/// Expand the command line's inputs: files are kept as given (in order),
/// a directory becomes its `*.txt`, `*.html` and `*.htm` files (not
/// recursive), sorted by name. A path that does not exist, or a directory
/// without such files, is an error naming it.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if !meta.is_dir() {
            out.push(input.clone());
            continue;
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(input).map_err(|e| Error::io(input, e))? {
            let path = entry.map_err(|e| Error::io(input, e))?.path();
            let is_page = path
                .extension()
                .is_some_and(|e| PAGE_EXTENSIONS.iter().any(|p| e.eq_ignore_ascii_case(p)));
            if is_page && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(Error::io(
                input,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no *.txt files (nor *.html, *.htm pages) in directory",
                ),
            ));
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// The article as plain text (`--format text`): the title, `date: <ISO
/// date or empty>`, `outlet: <name or empty>`, a blank line, then the
/// body paragraphs separated by blank lines (list items as `- …`).
pub fn format_text(article: &Article) -> String {
    let date = article
        .published
        .as_ref()
        .map(|p| p.iso())
        .unwrap_or_default();
    let outlet = article.outlet.as_deref().unwrap_or("");
    format!(
        "{}\ndate: {date}\noutlet: {outlet}\n\n{}\n",
        article.title,
        article.body_text()
    )
}
