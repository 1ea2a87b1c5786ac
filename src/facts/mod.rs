//! Deterministic key-fact extraction from Ukrainian news, grounded in the
//! source text, with English renderings.
//!
//! [`extract`] runs pattern extractors over every sentence of an
//! [`Article`]: dates, numbers with what they count, people with their
//! roles, organisations, places and events. Every [`Fact`] carries the byte
//! span of its exact surface form in the decoded source. Facts proposed by
//! an LLM are accepted only if [`ground`] finds them in the source.
//! [`render_english`] attaches English forms, preferring the wording of the
//! aligned English translation.
//!
//! Conventions (see the field docs of [`Fact`]):
//! * «Рамштайн» (the Ukraine Defense Contact Group meeting format) is an
//!   [`FactKind::Event`]; bodies such as `Коаліція охочих` or `НАТО` are
//!   organisations; `США`, `КНДР`, `РФ` are places.
//! * Ordinals (`6-ту зустріч`) are numbers with `unit = "ordinal: зустріч"`.
//! * Ratios (`135 із 156 засобів`) are one number fact with
//!   `normalized = "135/156"`.
pub(crate) mod english;
pub(crate) mod lexicon;
pub mod llm;
pub(crate) mod patterns;
mod people;
pub(crate) mod text;
mod translit;

pub use english::render_english;
pub use llm::FactsLlmStats;
pub use translit::transliterate;

use crate::article::Article;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a fact is about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    Person,
    Organization,
    Place,
    Date,
    Number,
    Event,
}

impl FactKind {
    /// The name records use (`person`, `organization`, …).
    pub fn name(self) -> &'static str {
        match self {
            FactKind::Person => "person",
            FactKind::Organization => "organization",
            FactKind::Place => "place",
            FactKind::Date => "date",
            FactKind::Number => "number",
            FactKind::Event => "event",
        }
    }
}

/// How a fact's English form was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnglishSource {
    /// Found in the aligned English translation.
    Translation,
    /// A name transliterated (KMU 2010): the translation had no matching form.
    Transliteration,
    /// A place or organisation from the built-in uk→en lexicon, not found
    /// in the translation.
    Lexicon,
    /// A date or number rendered by rule: the translation did not contain it.
    Rule,
}

impl EnglishSource {
    pub fn name(self) -> &'static str {
        match self {
            EnglishSource::Translation => "translation",
            EnglishSource::Transliteration => "transliteration",
            EnglishSource::Lexicon => "lexicon",
            EnglishSource::Rule => "rule",
        }
    }
}

/// Who found a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// This module's deterministic extractors.
    Pattern,
    /// Proposed by the LLM stage, and grounded with [`ground`].
    Llm,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Pattern => "pattern",
            Origin::Llm => "llm",
        }
    }
}

/// Date qualifiers, stored in [`Fact::unit`] of date facts.
pub mod date_unit {
    /// Day, month and year all written in the text.
    pub const FULL: &str = "date";
    /// Day and month written; the year was taken from the publication date.
    pub const YEAR_FROM_PUBLICATION: &str = "date; year from publication date";
    /// Day and month written, year unknown (`normalized = "--MM-DD"`).
    pub const DAY_MONTH: &str = "day-month";
    /// Month (and year) only: `YYYY-MM`.
    pub const MONTH: &str = "month";
    /// A year only: `YYYY`.
    pub const YEAR: &str = "year";
    /// A decade (`1970-х років`): `normalized = "1970s"`.
    pub const DECADE: &str = "decade";
    /// A weekday (`у п’ятницю`); `normalized` is `None`.
    pub const WEEKDAY: &str = "weekday";
    /// `сьогодні`, `завтра`, …, resolved against the publication date.
    pub const RELATIVE: &str = "relative to publication date";
}

/// One key fact, tied to its exact place in the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fact {
    pub kind: FactKind,
    /// Ukrainian surface form exactly as in the source.
    pub text: String,
    /// Byte span in the article's decoded source text: `source[span] == text`.
    pub span: (usize, usize),
    /// Index into `article.sentences()` (flattened order).
    pub sentence: usize,
    /// Dates: ISO `YYYY-MM-DD`, `--MM-DD`, `YYYY-MM` or `YYYY` (see
    /// [`date_unit`]); numbers: the exact value (`1500000000`, `4.81`,
    /// `135/156`); people, places, organisations: the nominative name;
    /// events: the ISO date of a date in the same sentence, if any.
    pub normalized: Option<String>,
    /// People: the role phrase in Ukrainian, head words in the nominative
    /// (`Міністр оборони України`, `спецпредставник президента США з питань
    /// України генерал`).
    pub role: Option<String>,
    /// People: the role in English (`Minister of Defence of Ukraine`),
    /// when every word of `role` is known to the role lexicon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_en: Option<String>,
    /// Numbers: multiplier and currency/measure or the counted noun
    /// (`млрд доларів`, `км²`, `бойових зіткнень`, `%`, `ordinal: зустріч`).
    /// Dates: a qualifier from [`date_unit`].
    pub unit: Option<String>,
    /// English rendering, filled by [`render_english`].
    pub english: Option<String>,
    /// How `english` was obtained.
    pub english_source: Option<EnglishSource>,
    pub origin: Origin,
}

impl Fact {
    /// A pattern fact with no optional fields set; `text` is `source[span]`.
    ///
    /// # Panics
    /// If `span` is not a range of `source` on character boundaries.
    pub fn new(kind: FactKind, source: &str, span: (usize, usize), sentence: usize) -> Self {
        Fact {
            kind,
            text: source[span.0..span.1].to_string(),
            span,
            sentence,
            normalized: None,
            role: None,
            role_en: None,
            unit: None,
            english: None,
            english_source: None,
            origin: Origin::Pattern,
        }
    }

    fn dedup_key(&self) -> (FactKind, String, Option<String>) {
        let base = match (&self.normalized, self.kind) {
            (_, FactKind::Event) => self.text.to_lowercase(),
            (Some(n), _) => n.clone(),
            (None, _) => self.text.to_lowercase(),
        };
        let unit = match self.kind {
            FactKind::Number => self.unit.clone(),
            _ => None,
        };
        (self.kind, base, unit)
    }
}

/// A sentence of the article with its source slice.
pub(crate) struct SentenceText<'a> {
    pub index: usize,
    /// The sentence's slice of the source.
    pub text: &'a str,
    /// Byte offset of `text` in the source.
    pub base: usize,
    /// The whole source text.
    pub full: &'a str,
}

/// The sentences whose spans are valid in `source_text` (a span outside
/// the text or off a character boundary is skipped).
pub(crate) fn sentence_texts<'a>(article: &Article, source_text: &'a str) -> Vec<SentenceText<'a>> {
    article
        .sentences()
        .enumerate()
        .filter_map(|(index, s)| {
            let (a, b) = s.span;
            source_text.get(a..b).map(|text| SentenceText {
                index,
                text,
                base: a,
                full: source_text,
            })
        })
        .collect()
}

/// Extracts the key facts of an article: deterministic, sorted by span,
/// one fact per (kind, normalized value) — the first mention, with a role
/// merged in from a later mention where the first has none.
pub fn extract(article: &Article, source_text: &str) -> Vec<Fact> {
    let published = article
        .published
        .as_ref()
        .and_then(|p| crate::calendar::Date::parse_iso(&p.date));
    let sentences = sentence_texts(article, source_text);
    let mut facts = Vec::new();
    let mut pending = Vec::new();
    for s in &sentences {
        let toks = text::tokenize(s.text, s.base);
        let dates = patterns::dates(s, published);
        let numbers = patterns::numbers(s, &toks, &dates.consumed);
        let gaz = patterns::gazetteer_matches(&toks);
        let acronyms = patterns::acronyms(&toks, &gaz);
        let (persons, maybe) = people::people(s, &toks, &gaz);
        pending.extend(maybe);
        let mut sentence_facts: Vec<Fact> = Vec::new();
        sentence_facts.extend(dates.facts);
        sentence_facts.extend(numbers);
        sentence_facts.extend(gaz.iter().map(|m| m.to_fact(source_text, s.index)));
        sentence_facts.extend(acronyms.into_iter().map(|(a, b)| {
            let mut f = Fact::new(FactKind::Organization, source_text, (a, b), s.index);
            f.normalized = Some(f.text.clone());
            f
        }));
        let events = patterns::events(s, &toks, &sentence_facts, &persons);
        sentence_facts.extend(events);
        sentence_facts.extend(persons);
        facts.extend(sentence_facts);
    }
    people::link_mentions(&sentences, &mut facts, pending);
    finish(facts)
}

/// Sorts by span and keeps the first mention of each (kind, normalized).
fn finish(mut facts: Vec<Fact>) -> Vec<Fact> {
    // By start; at the same start the longer span first.
    facts.sort_by_key(|f| (f.span.0, std::cmp::Reverse(f.span.1), f.kind));
    let mut out: Vec<Fact> = Vec::new();
    let mut seen: HashMap<(FactKind, String, Option<String>), usize> = HashMap::new();
    for f in facts {
        match seen.get(&f.dedup_key()) {
            Some(&i) => {
                if out[i].role.is_none() && f.role.is_some() {
                    out[i].role = f.role;
                }
            }
            None => {
                seen.insert(f.dedup_key(), out.len());
                out.push(f);
            }
        }
    }
    out
}

/// Finds an LLM-proposed Ukrainian phrase in the article: first verbatim,
/// then word by word with case endings stripped (`Кіт Келлог` grounds to
/// `Кітом Келлогом`). Returns `(start, end, sentence)` or `None`, in which
/// case the proposed fact must be dropped.
pub fn ground(
    article: &Article,
    source_text: &str,
    candidate: &str,
) -> Option<(usize, usize, usize)> {
    let candidate = candidate.trim();
    if candidate.is_empty() {
        return None;
    }
    let sentences = sentence_texts(article, source_text);
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    for s in &sentences {
        for (pos, _) in s.text.match_indices(candidate) {
            let end = pos + candidate.len();
            // Whole words only: `Кая` is not found inside `Каяк`.
            if is_word(s.text[..pos].chars().next_back()) || is_word(s.text[end..].chars().next()) {
                continue;
            }
            return Some((s.base + pos, s.base + end, s.index));
        }
    }
    let want: Vec<String> = text::tokenize(candidate, 0)
        .iter()
        .filter(|t| t.kind != text::TokKind::Punct)
        .map(|t| t.text.to_string())
        .collect();
    if want.is_empty() {
        return None;
    }
    for s in &sentences {
        let toks: Vec<text::Tok> = text::tokenize(s.text, s.base)
            .into_iter()
            .filter(|t| t.kind != text::TokKind::Punct)
            .collect();
        if toks.len() < want.len() {
            continue;
        }
        for w in toks.windows(want.len()) {
            let all = w.iter().zip(&want).all(|(t, c)| {
                if t.kind == text::TokKind::Number || c.chars().all(|ch| ch.is_ascii_digit()) {
                    t.text == c
                } else {
                    text::same_stem(t.text, c)
                }
            });
            if all {
                return Some((w[0].start, w[w.len() - 1].end, s.index));
            }
        }
    }
    None
}

/// Turns a fact proposed by the LLM stage (a Ukrainian phrase) into a
/// grounded [`Fact`] with `origin = "llm"`, or `None` when [`ground`] cannot
/// find it in the article (the proposal is then dropped). `text` and `span`
/// are the source's surface form; `normalized` keeps the proposed phrase.
pub fn llm_fact(
    article: &Article,
    source_text: &str,
    kind: FactKind,
    candidate: &str,
) -> Option<Fact> {
    let (start, end, sentence) = ground(article, source_text, candidate)?;
    Some(Fact {
        normalized: Some(candidate.trim().to_string()),
        origin: Origin::Llm,
        ..Fact::new(kind, source_text, (start, end), sentence)
    })
}

/// Adds grounded LLM facts to pattern facts: an LLM fact that overlaps a
/// pattern fact of the same kind is dropped (the pattern fact is more
/// precise), the rest are merged, sorted by span and deduplicated as in
/// [`extract`].
pub fn merge(pattern: Vec<Fact>, llm: Vec<Fact>) -> Vec<Fact> {
    let extra: Vec<Fact> = llm
        .into_iter()
        .filter(|f| {
            !pattern
                .iter()
                .any(|p| p.kind == f.kind && p.span.0 < f.span.1 && f.span.0 < p.span.1)
        })
        .collect();
    let mut all = pattern;
    all.extend(extra);
    finish(all)
}
