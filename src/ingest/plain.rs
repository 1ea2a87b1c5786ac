//! Plain text without a news-page layout: no title, date or page
//! furniture to find, every block of text is kept.
//!
//! Two layouts, as translation users have them:
//! * [`Layout::Paragraphs`]: one paragraph per block of lines separated by
//!   blank lines (lines inside a block are joined), each paragraph split
//!   into sentences;
//! * [`Layout::Lines`]: one sentence per line, kept line-aligned (an empty
//!   line stays an empty paragraph), as `marian-decoder` and
//!   `ct2-translator` read their input.
use super::clean::collapse;
use crate::article::{Article, Paragraph, ParagraphKind, Sentence};
use crate::error::{Error, Result};
use crate::segment::{split_sentences, trim_range};
use std::ops::Range;
use std::path::Path;

/// How a plain text is cut into units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Paragraphs,
    Lines,
}

/// Byte ranges of the lines of `text`, without their line ends.
fn lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            let end = if text[..i].ends_with('\r') { i - 1 } else { i };
            out.push(start..end);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// The paragraphs of `text` (decoded) in `layout`. Sentence spans point
/// into `text`. In [`Layout::Lines`] every line gives exactly one
/// paragraph of at most one sentence, so the output can be written back
/// line by line.
pub fn paragraphs(text: &str, layout: Layout) -> Vec<Paragraph> {
    let sentence = |r: Range<usize>| Sentence {
        text: collapse(&text[r.clone()]),
        span: (r.start, r.end),
    };
    match layout {
        Layout::Lines => lines(text)
            .into_iter()
            .map(|r| {
                let r = trim_range(text, r);
                Paragraph {
                    kind: ParagraphKind::Text,
                    sentences: if r.is_empty() {
                        Vec::new()
                    } else {
                        vec![sentence(r)]
                    },
                }
            })
            .collect(),
        Layout::Paragraphs => {
            let mut blocks: Vec<Range<usize>> = Vec::new();
            let mut current: Option<Range<usize>> = None;
            for r in lines(text) {
                let t = trim_range(text, r);
                if t.is_empty() {
                    blocks.extend(current.take());
                } else {
                    current = Some(match current {
                        Some(c) => c.start..t.end,
                        None => t,
                    });
                }
            }
            blocks.extend(current);
            blocks
                .into_iter()
                .map(|b| Paragraph {
                    kind: ParagraphKind::Text,
                    sentences: split_sentences(&text[b.clone()])
                        .into_iter()
                        .map(|r| sentence(b.start + r.start..b.start + r.end))
                        .filter(|s| !s.text.is_empty())
                        .collect(),
                })
                .filter(|p| !p.sentences.is_empty())
                .collect()
        }
    }
}

/// A plain-text [`Article`]: no title, date or outlet; `id` names it.
pub fn article(id: &str, path: &Path, encoding: &str, text: &str, layout: Layout) -> Article {
    Article {
        id: id.to_string(),
        title: String::new(),
        published: None,
        outlet: None,
        source_line: None,
        source_path: path.to_path_buf(),
        encoding: encoding.to_string(),
        source_format: crate::article::SourceFormat::Plain,
        paragraphs: paragraphs(text, layout),
    }
}

/// Decode `bytes` (as [`super::ingest_bytes_with_source`] does) and read
/// them as plain text in `layout`; `path` names the input (its file stem is
/// the id; `-` is standard input, id `stdin`). Returns the article and the
/// decoded text its spans point into. Text with no letters or digits is an
/// error naming the input.
pub fn ingest(path: &Path, bytes: &[u8], layout: Layout) -> Result<(Article, String)> {
    super::check_size(path, bytes.len() as u64)?;
    let id = super::article_id(path)?;
    let decoded = super::decode::decode(path, bytes)?;
    let a = article(&id, path, decoded.encoding, &decoded.text, layout);
    if !a
        .sentences()
        .any(|s| s.text.chars().any(char::is_alphanumeric))
    {
        return Err(Error::article(path, "no text to translate"));
    }
    Ok((a, decoded.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_separate_paragraphs_and_lines_join() {
        let text =
            "Київ — столиця України. Місто на Дніпрі.\r\nДругий рядок.\n\n\n  Новий абзац.\n";
        let ps = paragraphs(text, Layout::Paragraphs);
        assert_eq!(ps.len(), 2);
        let texts: Vec<&str> = ps[0].sentences.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Київ — столиця України.",
                "Місто на Дніпрі.",
                "Другий рядок."
            ]
        );
        for p in &ps {
            for s in &p.sentences {
                assert!(text[s.span.0..s.span.1].contains(s.text.split(' ').next().unwrap()));
            }
        }
        assert_eq!(ps[1].sentences[0].text, "Новий абзац.");
    }

    #[test]
    fn lines_stay_aligned() {
        let text = "Перше. Ще речення в рядку.\n\nТретій рядок\n";
        let ps = paragraphs(text, Layout::Lines);
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].sentences.len(), 1);
        assert_eq!(ps[0].sentences[0].text, "Перше. Ще речення в рядку.");
        assert!(ps[1].sentences.is_empty());
        assert_eq!(ps[2].sentences[0].text, "Третій рядок");
        assert!(paragraphs("", Layout::Lines).is_empty());
        assert_eq!(paragraphs("без кінця рядка", Layout::Lines).len(), 1);
    }
}
