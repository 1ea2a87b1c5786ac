//! The static site: `index.html` (the days, newest first), one page per
//! day (`day-YYYY-MM-DD.html`, `day-undated.html`), one page per article
//! (`<id>.html`) and the shared `style.css`.
//!
//! Pages are rendered with minijinja from the templates in `templates/`,
//! with HTML auto-escaping of every interpolated value and strict
//! undefined variables. They need no JavaScript, link to each other with
//! relative links (so the folder reads from `file://`), and carry `lang`
//! on every Ukrainian and English text.
use crate::article::ParagraphKind;
use crate::calendar::{Date, MONTHS_EN, WEEKDAYS};
use crate::error::{Error, Result};
use crate::facts::{EnglishSource, Fact, FactKind, Origin};
use crate::fsio::write_atomic;
use crate::store::{tool, ArticleDigest, BilingualParagraph, Store};
use crate::summarize::SummaryFlag;
use crate::translate::TranslateFlag;
use minijinja::{context, AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const STYLE: &str = include_str!("templates/style.css");

/// The site's templates, auto-escaping HTML in every one.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("index.html", include_str!("templates/index.html")),
        ("day.html", include_str!("templates/day.html")),
        ("article.html", include_str!("templates/article.html")),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
    }
    env
}

/// Rebuild the site from the records grouped by day (as [`super::days`]
/// gives them). Returns the files written.
pub fn write_site(
    store: &Store,
    days: &BTreeMap<String, Vec<ArticleDigest>>,
) -> Result<Vec<PathBuf>> {
    let pages = render_site(days)?;
    let mut written = Vec::new();
    let mut write = |path: PathBuf, text: &str| -> Result<()> {
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
        Ok(())
    };
    write(store.site_style_path(), STYLE)?;
    write(store.site_index_path(), &pages.index)?;
    for (day, html) in &pages.days {
        write(store.site_day_path(day), html)?;
    }
    for (id, html) in &pages.articles {
        write(store.article_html_path(id), html)?;
    }
    Ok(written)
}

/// The rendered pages of a site.
#[derive(Debug, Clone, Default)]
pub struct SitePages {
    pub index: String,
    /// Day (`YYYY-MM-DD` or `undated`) → page.
    pub days: BTreeMap<String, String>,
    /// Article id → page.
    pub articles: BTreeMap<String, String>,
}

/// The stylesheet every page links to (`style.css`).
pub fn site_style() -> &'static str {
    STYLE
}

/// Render every page of the site (nothing is written).
pub fn render_site(days: &BTreeMap<String, Vec<ArticleDigest>>) -> Result<SitePages> {
    let env = environment();
    let site = SiteView::new();
    // Newest first; `undated` (which sorts after every date) last.
    let mut order: Vec<&String> = days.keys().filter(|d| *d != UNDATED).collect();
    order.reverse();
    order.extend(days.keys().filter(|d| *d == UNDATED));

    let summaries: Vec<DayView> = order
        .iter()
        .map(|day| DayView::new(day, &days[*day]))
        .collect();
    let total: usize = days.values().map(Vec::len).sum();
    let mut pages = SitePages {
        index: render(
            &env,
            "index.html",
            context! {
                site => &site,
                title => "ukdigest — daily digests",
                days => &summaries,
                total => total,
                total_label => count_label(total, "article"),
            },
        )?,
        ..SitePages::default()
    };

    for (i, day) in order.iter().enumerate() {
        let entries = &days[*day];
        let cards: Vec<ArticleCard> = entries.iter().map(ArticleCard::new).collect();
        let view = &summaries[i];
        // `order` is newest first: the newer day is the one before.
        let newer = i.checked_sub(1).map(|j| &summaries[j]);
        let older = summaries.get(i + 1);
        let html = render(
            &env,
            "day.html",
            context! {
                site => &site,
                title => format!("{} — ukdigest", view.label),
                day => view,
                articles => &cards,
                newer => newer,
                older => older,
            },
        )?;
        pages.days.insert((*day).clone(), html);
        for rec in entries {
            let page = ArticlePage::new(rec);
            let html = render(
                &env,
                "article.html",
                context! {
                    site => &site,
                    title => format!("{} — ukdigest", page.card.headline),
                    day => view,
                    article => &page,
                },
            )?;
            pages.articles.insert(rec.id.clone(), html);
        }
    }
    Ok(pages)
}

fn render(env: &Environment<'_>, name: &str, ctx: minijinja::Value) -> Result<String> {
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| {
            Error::io(
                Path::new(name),
                std::io::Error::other(format!("rendering the page failed: {e:#}")),
            )
        })
}

const UNDATED: &str = "undated";

/// `1 article`, `3 articles`.
fn count_label(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `Tuesday, 2 September 2025` for `2025-09-02`; `Undated articles`.
pub fn day_label(day: &str) -> String {
    match Date::parse_iso(day) {
        Some(d) => {
            // 1970-01-01 was a Thursday (index 3 from Monday).
            let weekday = WEEKDAYS[(d.to_days() + 3).rem_euclid(7) as usize].1;
            format!(
                "{weekday}, {} {} {}",
                d.day,
                MONTHS_EN[d.month as usize - 1],
                d.year
            )
        }
        None if day == UNDATED => "Undated articles".into(),
        None => day.to_string(),
    }
}

/// What every page knows of the site: links and the program.
#[derive(Serialize)]
struct SiteView {
    generator: String,
    index: String,
    style: String,
    feed: String,
    jsonl: String,
}

impl SiteView {
    fn new() -> Self {
        SiteView {
            generator: tool(),
            index: Store::site_index_link(),
            style: Store::site_style_link(),
            feed: Store::feed_link(),
            jsonl: Store::jsonl_link(),
        }
    }
}

/// A day as the index lists it.
#[derive(Serialize)]
struct DayView {
    day: String,
    label: String,
    dated: bool,
    href: String,
    count: usize,
    count_label: String,
    headlines: Vec<Link>,
}

impl DayView {
    fn new(day: &str, entries: &[ArticleDigest]) -> Self {
        DayView {
            day: day.to_string(),
            label: day_label(day),
            dated: day != UNDATED,
            href: Store::site_day_link(day),
            count: entries.len(),
            count_label: count_label(entries.len(), "article"),
            headlines: entries
                .iter()
                .map(|e| Link {
                    text: headline(e),
                    href: Store::article_html_link(&e.id),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct Link {
    text: String,
    href: String,
}

fn headline(rec: &ArticleDigest) -> String {
    [&rec.headline, &rec.title_en, &rec.title_uk, &rec.id]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_default()
}

/// An article as a day page shows it.
#[derive(Serialize)]
struct ArticleCard {
    id: String,
    href: String,
    headline: String,
    title_en: String,
    title_uk: String,
    outlet: Option<String>,
    /// `HH:MM` as the page gives it.
    time: Option<String>,
    /// What `<time datetime>` holds: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
    datetime: Option<String>,
    /// `14 July 2025, 18:16`.
    when: Option<String>,
    summary: Vec<String>,
    people: Vec<PersonView>,
}

#[derive(Serialize)]
struct PersonView {
    /// The English rendering of the name (the Ukrainian one when there is none).
    name: String,
    name_lang: &'static str,
    /// The name as the article writes it (Ukrainian).
    native: String,
    /// The role in English (none when the role lexicon cannot render it:
    /// the day page is English).
    role: Option<String>,
}

impl ArticleCard {
    fn new(rec: &ArticleDigest) -> Self {
        let published = rec.published.as_ref();
        ArticleCard {
            id: rec.id.clone(),
            href: Store::article_html_link(&rec.id),
            headline: headline(rec),
            title_en: rec.title_en.clone(),
            title_uk: rec.title_uk.clone(),
            outlet: rec.outlet.clone().filter(|o| !o.trim().is_empty()),
            time: published.and_then(|p| p.time.clone()),
            datetime: published.map(|p| p.iso()),
            when: published.map(|p| {
                let date = match Date::parse_iso(&p.date) {
                    Some(d) => format!("{} {} {}", d.day, MONTHS_EN[d.month as usize - 1], d.year),
                    None => p.date.clone(),
                };
                match &p.time {
                    Some(t) => format!("{date}, {t}"),
                    None => date,
                }
            }),
            summary: rec.summary.clone(),
            people: people(&rec.facts),
        }
    }
}

/// The people of an article, once each (by normalized name), in order of
/// first mention.
fn people(facts: &[Fact]) -> Vec<PersonView> {
    let mut seen = std::collections::HashSet::new();
    facts
        .iter()
        .filter(|f| f.kind == FactKind::Person)
        .filter(|f| seen.insert(f.normalized.clone().unwrap_or_else(|| f.text.clone())))
        .map(|f| PersonView {
            name: f.english.clone().unwrap_or_else(|| f.text.clone()),
            name_lang: if f.english.is_some() { "en" } else { "uk" },
            native: f.normalized.clone().unwrap_or_else(|| f.text.clone()),
            role: f.role_en.clone().filter(|r| !r.trim().is_empty()),
        })
        .collect()
}

/// The article page's data.
#[derive(Serialize)]
struct ArticlePage {
    card: ArticleCard,
    source_line: Option<String>,
    summary_flags: Vec<FlagView>,
    fact_groups: Vec<FactGroup>,
    fact_count: usize,
    paragraphs: Vec<ParagraphView>,
    flagged_sentences: usize,
    flagged_label: String,
    provenance: ProvenanceView,
}

#[derive(Serialize)]
struct FlagView {
    code: String,
    label: String,
}

#[derive(Serialize)]
struct FactGroup {
    kind: &'static str,
    label: &'static str,
    facts: Vec<FactRow>,
}

#[derive(Serialize)]
struct FactRow {
    /// English rendering, when there is one.
    english: Option<String>,
    /// The Ukrainian surface form.
    text: String,
    details: Vec<Detail>,
    origin_llm: bool,
}

/// A labelled value of a fact's details.
#[derive(Serialize)]
struct Detail {
    label: &'static str,
    value: String,
    lang: &'static str,
}

#[derive(Serialize)]
struct ParagraphView {
    kind: &'static str,
    sentences: Vec<SentenceView>,
    flags: Vec<FlagView>,
}

#[derive(Serialize)]
struct SentenceView {
    uk: String,
    en: String,
    flagged: bool,
    /// The flags in words, for the `title` of a flagged sentence.
    why: String,
}

#[derive(Serialize)]
struct ProvenanceView {
    tool: String,
    generated_at: String,
    source_path: String,
    source_sha256: String,
    encoding: String,
    schema_version: u32,
    models: Vec<ModelRow>,
    total_secs: String,
    json: String,
}

#[derive(Serialize)]
struct ModelRow {
    stage: &'static str,
    name: String,
    engine: String,
    sha256: String,
    source: String,
}

impl ArticlePage {
    fn new(rec: &ArticleDigest) -> Self {
        let paragraphs: Vec<ParagraphView> = rec.paragraphs.iter().map(paragraph).collect();
        let flagged = paragraphs
            .iter()
            .flat_map(|p| &p.sentences)
            .filter(|s| s.flagged)
            .count();
        let p = &rec.provenance;
        ArticlePage {
            card: ArticleCard::new(rec),
            source_line: rec.source_line.clone().filter(|s| !s.trim().is_empty()),
            summary_flags: rec.summary_flags.iter().map(summary_flag).collect(),
            fact_groups: fact_groups(&rec.facts),
            fact_count: rec.facts.len(),
            paragraphs,
            flagged_sentences: flagged,
            flagged_label: count_label(flagged, "sentence"),
            provenance: ProvenanceView {
                tool: p.tool.clone(),
                generated_at: p.generated_at.clone(),
                source_path: rec.source_path.display().to_string(),
                source_sha256: rec.source_sha256.clone(),
                encoding: rec.encoding.clone(),
                schema_version: rec.schema_version,
                models: p
                    .models
                    .iter()
                    .map(|(stage, m)| ModelRow {
                        stage,
                        name: m.name.clone(),
                        engine: serde_json::to_value(m.engine)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        sha256: m.sha256.clone(),
                        source: m.source.kind().to_string(),
                    })
                    .collect(),
                total_secs: format!("{:.1}", p.timings.total_secs),
                json: serde_json::to_string_pretty(p).unwrap_or_default(),
            },
        }
    }
}

fn paragraph(p: &BilingualParagraph) -> ParagraphView {
    let mut flags = Vec::new();
    let sentences = p
        .sentences
        .iter()
        .map(|s| {
            let views: Vec<FlagView> = s.flags.iter().map(translate_flag).collect();
            let why = views
                .iter()
                .map(|f| f.label.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let flagged = !views.is_empty();
            flags.extend(views);
            SentenceView {
                uk: s.uk.clone(),
                en: s.en.clone(),
                flagged,
                why,
            }
        })
        .collect();
    ParagraphView {
        kind: match p.kind {
            ParagraphKind::Text => "text",
            ParagraphKind::Bullet => "bullet",
            ParagraphKind::Heading => "heading",
        },
        sentences,
        flags,
    }
}

fn translate_flag(f: &TranslateFlag) -> FlagView {
    let label = match f {
        TranslateFlag::DigitsMissing(d) => format!("digits missing in the English: {d}"),
        TranslateFlag::Split(n) => {
            format!("over the model's length limit, translated in {n} pieces")
        }
        TranslateFlag::EmptyTranslation => "the translation came back empty".to_string(),
        TranslateFlag::EntityMissing(e) => {
            format!("names of the source missing in the English: {e}")
        }
        TranslateFlag::Cyrillic(n) => {
            format!("{n} words left in Cyrillic by the translator, transliterated")
        }
        TranslateFlag::NumberScale(n) => {
            format!("a number's scale contradicts the source: {n}")
        }
        TranslateFlag::Longer(r) => {
            format!(
                "the English is {r}× the source's length: it may add what the source does not say"
            )
        }
        TranslateFlag::DateMissing(d) => {
            format!("a month or weekday of the source is not in the English: {d}")
        }
        TranslateFlag::TitleAdded(t) => {
            format!("a title of office the source does not give: {t}")
        }
        TranslateFlag::TitleNumber(t) => {
            format!("several in the source, one in the English: {t}")
        }
    };
    FlagView {
        code: f.to_string(),
        label,
    }
}

fn summary_flag(f: &SummaryFlag) -> FlagView {
    let label = match f {
        SummaryFlag::Chunked(n) => format!("long article: summarized in {n} chunks first"),
        SummaryFlag::Trimmed { from, to } => {
            format!("the model wrote {from} sentences; trimmed to {to}")
        }
        SummaryFlag::Short { got, min } => {
            format!("shorter than asked: {got} sentence(s), at least {min} wanted")
        }
        SummaryFlag::HeadlineFromTitle => {
            "the model gave no usable headline: the English title stands in".to_string()
        }
        SummaryFlag::Dropped(n) => {
            format!("{n} sentence(s) dropped: they named what the article does not")
        }
        SummaryFlag::HeldOut(n) => {
            format!("{n} sentence(s) of the page read like instructions to a model: held out of the summary")
        }
    };
    FlagView {
        code: f.to_string(),
        label,
    }
}

const KINDS: [(FactKind, &str); 6] = [
    (FactKind::Person, "People"),
    (FactKind::Organization, "Organisations"),
    (FactKind::Place, "Places"),
    (FactKind::Date, "Dates"),
    (FactKind::Number, "Numbers"),
    (FactKind::Event, "Events"),
];

fn fact_groups(facts: &[Fact]) -> Vec<FactGroup> {
    KINDS
        .iter()
        .map(|&(kind, label)| FactGroup {
            kind: kind.name(),
            label,
            facts: facts
                .iter()
                .filter(|f| f.kind == kind)
                .map(fact_row)
                .collect(),
        })
        .filter(|g| !g.facts.is_empty())
        .collect()
}

fn fact_row(f: &Fact) -> FactRow {
    let mut details = Vec::new();
    if let Some(r) = f.role_en.as_ref().filter(|r| !r.trim().is_empty()) {
        details.push(Detail {
            label: "role",
            value: r.clone(),
            lang: "en",
        });
    }
    if let Some(r) = f.role.as_ref().filter(|r| !r.trim().is_empty()) {
        details.push(Detail {
            label: "role (Ukrainian)",
            value: r.clone(),
            lang: "uk",
        });
    }
    if let Some(n) = &f.normalized {
        if f.english.as_deref() != Some(n.as_str()) && *n != f.text {
            // Names are normalized to the Ukrainian nominative; dates and
            // numbers to ISO forms and plain digits.
            let lang = match f.kind {
                FactKind::Date | FactKind::Number | FactKind::Event => "en",
                _ => "uk",
            };
            details.push(Detail {
                label: "normalized",
                value: n.clone(),
                lang,
            });
        }
    }
    if let Some(u) = f.unit.as_ref().filter(|u| !u.trim().is_empty()) {
        let lang = if f.kind == FactKind::Date { "en" } else { "uk" };
        details.push(Detail {
            label: if f.kind == FactKind::Date {
                "precision"
            } else {
                "unit"
            },
            value: u.clone(),
            lang,
        });
    }
    let by = match f.english_source {
        None => None,
        Some(EnglishSource::Translation) => Some("the translation's spelling"),
        Some(EnglishSource::Transliteration) => Some("transliteration (KMU 2010)"),
        Some(EnglishSource::Lexicon) => Some("the built-in lexicon"),
        Some(EnglishSource::Rule) => Some("rule"),
    };
    if let Some(by) = by {
        details.push(Detail {
            label: "English by",
            value: by.to_string(),
            lang: "en",
        });
    }
    FactRow {
        english: f.english.clone().filter(|e| !e.trim().is_empty()),
        text: f.text.clone(),
        details,
        origin_llm: f.origin == Origin::Llm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_labels_name_the_weekday() {
        assert_eq!(day_label("2025-09-02"), "Tuesday, 2 September 2025");
        assert_eq!(day_label("2025-04-11"), "Friday, 11 April 2025");
        assert_eq!(day_label("1970-01-01"), "Thursday, 1 January 1970");
        assert_eq!(day_label("undated"), "Undated articles");
    }

    #[test]
    fn templates_parse() {
        let env = environment();
        for name in ["index.html", "day.html", "article.html"] {
            env.get_template(name).unwrap();
        }
    }
}
