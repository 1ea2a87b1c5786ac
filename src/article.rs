//! The data that flows between stages: a cleaned article made of
//! paragraphs of sentences, each sentence tied to its source bytes.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Publication date, and time where the page gives one. Never invented:
/// an article without a date has `published: None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Published {
    /// `YYYY-MM-DD`
    pub date: String,
    /// `HH:MM`, when the page gives a time.
    pub time: Option<String>,
}

impl Published {
    /// ISO 8601: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
    pub fn iso(&self) -> String {
        match &self.time {
            Some(t) => format!("{}T{}", self.date, t),
            None => self.date.clone(),
        }
    }
}

/// One sentence of the cleaned article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub text: String,
    /// Byte span `[start, end)` in the decoded source text (which is the
    /// file itself for UTF-8 input): `source[start..end]` contains this
    /// sentence (whitespace inside may differ only where the cleaner
    /// collapsed runs of spaces).
    pub span: (usize, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParagraphKind {
    /// Running text.
    Text,
    /// A list item (`- …`, `• …`).
    Bullet,
    /// A section heading inside the article, such as `Передісторія:`.
    Heading,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paragraph {
    pub kind: ParagraphKind,
    pub sentences: Vec<Sentence>,
}

impl Paragraph {
    pub fn text(&self) -> String {
        self.sentences
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What an input was, and so what text the byte spans index.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// A scraped news page as text: spans index the decoded file (the file
    /// itself for UTF-8).
    #[default]
    Text,
    /// An HTML page: spans index the text page rendered from the markup
    /// (`ukdigest ingest --format text` prints the article of it).
    Html,
    /// Plain text without a page layout (`translate --plain`, `--lines`,
    /// standard input): spans index the decoded text.
    Plain,
}

impl SourceFormat {
    pub fn is_text(&self) -> bool {
        *self == SourceFormat::Text
    }
}

/// A cleaned, segmented article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// Stable id: the file stem (`000_4e02704fb7287723`).
    pub id: String,
    pub title: String,
    pub published: Option<Published>,
    /// The outlet when the page names it (`Інтерфакс-Україна`, `Leopolis.news`).
    pub outlet: Option<String>,
    /// The cited source line (`Джерело: …`), without the label.
    pub source_line: Option<String>,
    pub source_path: PathBuf,
    /// How the file was decoded: `utf-8` or `windows-1251`.
    pub encoding: String,
    /// What the input was (omitted for text pages).
    #[serde(default, skip_serializing_if = "SourceFormat::is_text")]
    pub source_format: SourceFormat,
    pub paragraphs: Vec<Paragraph>,
}

impl Article {
    pub fn sentences(&self) -> impl Iterator<Item = &Sentence> {
        self.paragraphs.iter().flat_map(|p| p.sentences.iter())
    }

    /// The body as plain text, paragraphs separated by blank lines.
    pub fn body_text(&self) -> String {
        self.paragraphs
            .iter()
            .map(|p| match p.kind {
                ParagraphKind::Bullet => format!("- {}", p.text()),
                _ => p.text(),
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}
