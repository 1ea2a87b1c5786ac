//! Page cleaning: find the article in a scraped page.
//!
//! A page is read line by line; each line is one paragraph. Every line is
//! classified once ([`classify`]) and a single pass assembles the article:
//!
//! - **Metadata** lines set the publication date (first one wins), the
//!   cited source (`Джерело: …`) and the outlet: a bare domain name
//!   (`Leopolis.news`), or a short name right before the date line at
//!   the top (`Інтерфакс-Україна` / `21:32 11.04.2025`).
//! - **Furniture** lines (subscribe prompts, reading time, photo captions
//!   and image file names, social links, advertising banners, separators
//!   without any letter or digit) are dropped wherever they are.
//! - An **end heading** (`ЩЕ ЗА ТЕМОЮ`, `ОСТАННЄ`, `Теги`, `Слідкуй за
//!   нами:`, `Попередня публікація`, …) ends the article: what follows is
//!   a list of other headlines.
//! - The **title** is the first substantial line (two or more words)
//!   that is none of the above, or the text after a ` date YYYY-MM-DD`
//!   header. A later line equal to the title, or to an earlier paragraph,
//!   is a duplicate and dropped.
//! - Everything else is the body: short lines ending in `:` are headings
//!   (`Передісторія:`), lines opening with a list marker are bullets.
//!
//! Every step is linear in the size of the page.
use super::meta::{is_domain_line, parse_date_line, parse_source_line, DateLine};
use crate::article::{ParagraphKind, Published};
use crate::segment::{is_space, split_sentences, trim_range};
use regex::{Regex, RegexSet};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

/// One paragraph of the cleaned body: its kind and the byte range of its
/// text (without a list marker) in the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: ParagraphKind,
    pub span: Range<usize>,
}

/// The article found in a page. Ranges are byte ranges into the page text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub title: String,
    pub published: Option<Published>,
    pub outlet: Option<String>,
    pub source_line: Option<String>,
    pub blocks: Vec<Block>,
}

/// Why a page holds no article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("no article text: the page holds only navigation, metadata and page furniture")]
    OnlyFurniture,
    #[error("no article body: the page holds a title ({0} characters) but no text after it")]
    NoBody(usize),
}

/// What a line is, decided from the line alone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineKind {
    Blank,
    Date(DateLine),
    /// `Джерело: …`, with the range of the source name.
    Source(Range<usize>),
    /// A bare domain name: the outlet's signature.
    Domain,
    Furniture,
    /// A heading after which the page lists other articles.
    End,
    Heading,
    /// A list item, with the range of its text after the marker.
    Bullet(Range<usize>),
    /// A list item opened by an en or em dash: a bullet inside a list,
    /// direct speech elsewhere.
    DashItem(Range<usize>),
    Text,
}

/// Lines longer than this are never furniture or headings.
const SHORT_LINE: usize = 300;

/// Headings after which a page lists other articles (lower case, without
/// a trailing colon).
const END_HEADINGS: &[&str] = &[
    "ще за темою",
    "за темою",
    "по темі",
    "новини за темою",
    "новини по темі",
    "останнє",
    "останні новини",
    "теги",
    "мітки",
    "попередня публікація",
    "наступна публікація",
    "попередня новина",
    "наступна новина",
    "попередня стаття",
    "наступна стаття",
    "слідкуй за нами",
    "слідкуйте за нами",
    "стежте за нами",
    "схожі новини",
    "схожі публікації",
    "схожі статті",
    "читайте також",
    "дивіться також",
    "новини партнерів",
    "популярне",
    "найпопулярніше",
    "найчитаніше",
    "рекомендуємо",
    "вас може зацікавити",
    "більше новин",
    "інші новини",
    "коментарі",
    "related",
    "related news",
    "read more",
];

/// Whole-line patterns of page furniture (matched case-insensitively on
/// the line with runs of whitespace collapsed).
static FURNITURE: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // navigation
        r"^перейти до (?:головного |основного )?(?:вмісту|змісту|контенту)$",
        r"^(?:головна|новини)(?:\s*[/›»>|]\s*[^/›»>|]+)+$",
        // subscribe prompts
        r"^не пропустіть\b.{0,40}$",
        r"^отримуйте\b.{0,100}(?:email|e-mail|пошт|скриньк|розсилк)\S*\.?$",
        r"^(?:підпис\w*|приєдну\w*|долуча\w*)\s+(?:на|до)\s+(?:наш|нас)\w*\b.*$",
        r"^(?:читайте|слідкуйте|слідкуй|стежте|стеж)\s+(?:за\s+)?(?:нами|нас)\b.*$",
        // reading time
        r"^\d{1,3}\s*хв(?:\.|илин[аиу]?)?\s+(?:читати|читання|на\s+читання)$",
        r"^час\s+читання\b.*$",
        // captions and credits
        r"^(?:фото|відео|фото та відео|фото і відео|ілюстративне фото|фото ілюстративне|джерело фото|photo|video)(?:\s*(?:[:|]|–|—|-)\s*.*)?$",
        r"^(?:автор|авторка|редактор|редакторка|текст)\s*[:：]\s*.{1,80}$",
        // inline links to other articles
        r"^(?:читайте|дивіться)\s+також\s*[:：–—-].+$",
        // advertising, aggregator banners, sharing, copyright
        r"^(?:реклама|advertisement|поділитися|share|копіювати посилання)\s*:?$",
        r"^ukr\.net\b.*$",
        r"^(?:©|\(c\)|copyright\b).*$",
        // a bare link
        r"^(?:https?://|www\.)\S+$",
        r"^[\w.-]+\.[a-z]{2,12}/\S*$",
        // a time without a date, a view counter
        r"^(?:(?:сьогодні|вчора|учора),?\s*)?\d{1,2}:\d{2}$",
        r"^(?:переглядів|перегляди|views)\s*:?\s*\d[\d\s]*$",
    ])
    .expect("valid furniture patterns")
});

/// `Теги: війна, НАТО` and other end headings followed by their content.
static END_WITH_CONTENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:теги|мітки)\s*[:：].*$").expect("valid regex"));

/// Find the article in `text`.
pub fn clean(text: &str) -> Result<Cleaned, Unusable> {
    let lines = line_ranges(text);
    let kinds: Vec<LineKind> = lines.iter().map(|r| classify(text, r.clone())).collect();

    let mut title: Option<String> = None;
    let mut title_key = String::new();
    let mut published = None;
    let mut outlet: Option<String> = None;
    let mut source_line: Option<String> = None;
    let mut blocks: Vec<Block> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();

    for (idx, kind) in kinds.iter().enumerate() {
        let line = lines[idx].clone();
        let content = match kind {
            LineKind::Blank | LineKind::Furniture => continue,
            LineKind::End => break,
            LineKind::Date(date) => {
                if published.is_none() {
                    published = Some(date.published.clone());
                }
                if let (Some(rest), None) = (&date.rest, &title) {
                    let rest = line.start + rest.start..line.start + rest.end;
                    title_key = normalize(&text[rest.clone()]);
                    title = Some(collapse(&text[rest]));
                }
                continue;
            }
            LineKind::Source(range) => {
                if source_line.is_none() {
                    source_line = Some(collapse(&text[range.clone()]));
                }
                continue;
            }
            LineKind::Domain => {
                if outlet.is_none() {
                    outlet = Some(collapse(&text[line]));
                }
                continue;
            }
            LineKind::Heading | LineKind::Text => line.clone(),
            LineKind::Bullet(c) | LineKind::DashItem(c) => c.clone(),
        };

        let kind = match kind {
            LineKind::Heading => ParagraphKind::Heading,
            LineKind::Bullet(_) => ParagraphKind::Bullet,
            LineKind::DashItem(_)
                if blocks.last().is_some_and(|b| b.kind != ParagraphKind::Text) =>
            {
                ParagraphKind::Bullet
            }
            _ => ParagraphKind::Text,
        };
        // A dash item outside a list keeps its dash: it is direct speech.
        let content = if kind == ParagraphKind::Text {
            line
        } else {
            content
        };

        if title.is_none() {
            if matches!(kinds[idx], LineKind::Text)
                && is_outlet_before_date(text, &lines, &kinds, idx)
            {
                outlet.get_or_insert_with(|| collapse(&text[content]));
                continue;
            }
            if kind != ParagraphKind::Text || word_count(&text[content.clone()]) < 2 {
                // Section labels, menus and breadcrumbs above the title.
                continue;
            }
            match title_of_paragraph(text, content.clone()) {
                TitleSource::WholeLine => {
                    title_key = normalize(&text[content.clone()]);
                    title = Some(collapse(&text[content]));
                    continue;
                }
                TitleSource::FirstSentence(first) => {
                    title_key = normalize(&text[first.clone()]);
                    title = Some(collapse(&text[first]));
                }
            }
        }

        let key = normalize(&text[content.clone()]);
        if key == title_key {
            continue;
        }
        if kind != ParagraphKind::Heading && !seen.insert(key) {
            continue;
        }
        blocks.push(Block {
            kind,
            span: content,
        });
    }

    // A heading with nothing after it is page furniture too.
    while blocks
        .last()
        .is_some_and(|b| b.kind == ParagraphKind::Heading)
    {
        blocks.pop();
    }
    match title {
        None => Err(Unusable::OnlyFurniture),
        Some(t) if blocks.is_empty() => Err(Unusable::NoBody(t.chars().count())),
        Some(title) => Ok(Cleaned {
            title,
            published,
            outlet,
            source_line,
            blocks,
        }),
    }
}

/// Lines of `text` as trimmed byte ranges (empty for blank lines). Line
/// ends are `\n`, `\r\n` or a lone `\r`.
fn line_ranges(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(trim_range(text, start..i));
                start = i + 1;
            }
            b'\r' => {
                out.push(trim_range(text, start..i));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(trim_range(text, start..text.len()));
    out
}

fn classify(text: &str, range: Range<usize>) -> LineKind {
    if range.is_empty() {
        return LineKind::Blank;
    }
    let line = &text[range.clone()];
    // Separators (`***`, `—`) and icon rows carry no words.
    if !line.chars().any(char::is_alphanumeric) {
        return LineKind::Furniture;
    }
    if let Some(date) = parse_date_line(line) {
        return LineKind::Date(date);
    }
    if let Some(source) = parse_source_line(line) {
        return LineKind::Source(range.start + source.start..range.start + source.end);
    }
    if is_domain_line(line) {
        return LineKind::Domain;
    }
    if line.len() <= SHORT_LINE {
        let collapsed = collapse(line);
        let lower = collapsed.to_lowercase();
        let heading = lower.trim_end_matches([':', '：', '.']).trim_end();
        if END_HEADINGS.contains(&heading) || END_WITH_CONTENT.is_match(&collapsed) {
            return LineKind::End;
        }
        if FURNITURE.is_match(&lower) || is_file_or_slug(&collapsed) {
            return LineKind::Furniture;
        }
        if (line.ends_with(':') || line.ends_with('：'))
            && line.chars().count() <= 60
            && word_count(line) <= 6
            && !line.contains(['.', '!', '?'])
        {
            return LineKind::Heading;
        }
    }
    if let Some(marker_len) = list_marker(line, &['-', '•', '*', '·', '▪', '●', '◦']) {
        return LineKind::Bullet(trim_range(text, range.start + marker_len..range.end));
    }
    if let Some(marker_len) = list_marker(line, &['–', '—']) {
        return LineKind::DashItem(trim_range(text, range.start + marker_len..range.end));
    }
    LineKind::Text
}

/// The byte length of a list marker (`- `, `• `) opening `line`.
fn list_marker(line: &str, markers: &[char]) -> Option<usize> {
    let mut chars = line.chars();
    let first = chars.next()?;
    let second = chars.next()?;
    (markers.contains(&first) && is_space(second)).then_some(first.len_utf8())
}

/// Image file names and camera or upload slugs left where a picture was:
/// `IMG_8359.JPG`, `IMG_8360 (2).JPG`, `photo-2025-04-11-21-10-38`.
fn is_file_or_slug(line: &str) -> bool {
    const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "heic", "bmp", "svg"];
    // A copy counter such as ` (2)` may sit before the extension or at the end.
    let (stem, ext) = match line.rsplit_once('.') {
        Some((stem, ext)) if IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) => {
            (stem, true)
        }
        _ => (line, false),
    };
    let stem = match stem.rsplit_once(" (") {
        Some((head, counter))
            if counter.ends_with(')')
                && counter[..counter.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_digit()) =>
        {
            head
        }
        _ => stem,
    };
    if stem.is_empty() || stem.len() > 100 {
        return false;
    }
    let name_like = stem
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ext {
        return name_like;
    }
    // Without an extension: ASCII letters, digits and separators, with at
    // least four digits and a separator (`photo-2025-04-11`, `IMG_8359`).
    let digits = stem.chars().filter(char::is_ascii_digit).count();
    name_like
        && stem.is_ascii()
        && stem.starts_with(|c: char| c.is_ascii_alphabetic())
        && stem.contains(['-', '_'])
        && digits >= 4
}

/// Whether the short line at `idx` names the outlet: it stands right
/// before the date line at the top of the page (`Інтерфакс-Україна`).
fn is_outlet_before_date(
    text: &str,
    lines: &[Range<usize>],
    kinds: &[LineKind],
    idx: usize,
) -> bool {
    let line = &text[lines[idx].clone()];
    let short = word_count(line) <= 3
        && line.chars().count() <= 40
        && !line.ends_with(['.', '!', '?', '…', ':']);
    short
        && kinds[idx + 1..]
            .iter()
            .find(|k| **k != LineKind::Blank)
            .is_some_and(|k| matches!(k, LineKind::Date(d) if d.rest.is_none()))
}

enum TitleSource {
    WholeLine,
    /// The first substantial line is a body paragraph; its first
    /// sentence serves as the title and the paragraph stays in the body.
    FirstSentence(Range<usize>),
}

fn title_of_paragraph(text: &str, range: Range<usize>) -> TitleSource {
    let line = &text[range.clone()];
    let ends_like_prose = line
        .trim_end_matches(['»', '"', '”', ')'])
        .ends_with(['.', '!', '?', '…']);
    if line.chars().count() > 250 && ends_like_prose {
        let sentences = split_sentences(line);
        if sentences.len() >= 2 {
            let first = sentences[0].clone();
            return TitleSource::FirstSentence(range.start + first.start..range.start + first.end);
        }
    }
    TitleSource::WholeLine
}

/// Runs of whitespace (including no-break spaces and control characters)
/// collapsed into one space, ends trimmed.
pub fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(is_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The comparison key of a line: collapsed, lower case, without final
/// punctuation.
fn normalize(s: &str) -> String {
    collapse(s)
        .to_lowercase()
        .trim_end_matches(['.', '!', '?', '…', ':'])
        .to_owned()
}

fn word_count(s: &str) -> usize {
    s.split(is_space).filter(|w| !w.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_file_names() {
        for s in [
            "IMG_8359.JPG",
            "IMG_8360 (2).JPG",
            "photo-2025-04-11-21-10-38",
            "DSC_0042",
            "зустріч.jpg",
        ] {
            assert!(is_file_or_slug(s), "{s}");
        }
        for s in ["F-16", "COVID-19", "Умєров", "G7", "2025-04-11"] {
            assert!(!is_file_or_slug(s), "{s}");
        }
    }

    #[test]
    fn lines_split_on_any_line_end() {
        let t = "a\r\nb\rc\n  \nd";
        let got: Vec<&str> = line_ranges(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(got, ["a", "b", "c", "", "d"]);
    }

    #[test]
    fn collapse_whitespace() {
        assert_eq!(
            collapse("  Про це він\u{a0}написав\u{200b} "),
            "Про це він написав"
        );
    }
}
