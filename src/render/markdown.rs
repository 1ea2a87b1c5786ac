//! Markdown renderings: the per-article page (`<id>.md`) and the daily
//! digest (`digest-YYYY-MM-DD.md`, `digest-undated.md`).
use crate::article::{ParagraphKind, Published};
use crate::facts::{Fact, FactKind, Origin};
use crate::store::{ArticleDigest, Store};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The article page: titles, headline and summary, key facts, the
/// bilingual text paragraph by paragraph, provenance.
pub fn article_markdown(rec: &ArticleDigest) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", rec.title_en);
    let _ = writeln!(s, "*{}*\n", rec.title_uk);
    let mut meta = vec![rec
        .published
        .as_ref()
        .map(Published::iso)
        .unwrap_or_else(|| "undated".into())];
    if let Some(o) = &rec.outlet {
        meta.push(o.clone());
    }
    if let Some(src) = &rec.source_line {
        meta.push(format!("Джерело: {src}"));
    }
    let _ = writeln!(s, "{}\n", meta.join(" · "));
    let _ = writeln!(s, "## {}\n", rec.headline);
    let _ = writeln!(s, "{}\n", rec.summary.join(" "));
    if !rec.facts.is_empty() {
        let _ = writeln!(s, "## Key facts\n");
        for f in &rec.facts {
            let _ = writeln!(s, "- {}", fact_line(f));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Full text (Ukrainian · English)\n");
    for p in &rec.paragraphs {
        let uk: Vec<&str> = p.sentences.iter().map(|x| x.uk.as_str()).collect();
        let en: Vec<&str> = p.sentences.iter().map(|x| x.en.as_str()).collect();
        let bullet = if p.kind == ParagraphKind::Bullet {
            "- "
        } else {
            ""
        };
        let _ = writeln!(s, "> {bullet}{}\n", uk.join(" "));
        let _ = writeln!(s, "{bullet}{}\n", en.join(" "));
        let flags: Vec<String> = p
            .sentences
            .iter()
            .flat_map(|x| x.flags.iter().map(|f| f.to_string()))
            .collect();
        if !flags.is_empty() {
            let _ = writeln!(s, "<sub>checks: {}</sub>\n", flags.join("; "));
        }
    }
    let _ = writeln!(s, "## Provenance\n");
    let _ = writeln!(
        s,
        "```json\n{}\n```",
        serde_json::to_string_pretty(&rec.provenance).unwrap_or_default()
    );
    s
}

fn kind_name(f: &Fact) -> String {
    format!("{:?}", f.kind)
}

/// `**Person** Rustem Umerov — Міністр оборони України Рустем Умєров`
pub fn fact_line(f: &Fact) -> String {
    let mut line = format!("**{}** ", kind_name(f));
    match &f.english {
        Some(en) => line.push_str(en),
        None => line.push_str(&f.text),
    }
    if let Some(n) = &f.normalized {
        if f.english.as_deref() != Some(n.as_str()) {
            let _ = write!(line, " ({n})");
        }
    }
    if let Some(u) = &f.unit {
        let _ = write!(line, " [{u}]");
    }
    let _ = write!(line, " — _{}_", f.text);
    match (&f.role_en, &f.role) {
        (Some(en), Some(uk)) => {
            let _ = write!(line, ", {en} ({uk})");
        }
        (None, Some(uk)) => {
            let _ = write!(line, ", {uk}");
        }
        _ => {}
    }
    if f.origin != Origin::Pattern {
        let _ = write!(line, " ({})", f.origin.name());
    }
    line
}

/// The digest of one day (`day` is `YYYY-MM-DD` or `undated`): each
/// article's headline, titles, outlet and time, summary and people.
pub fn day_markdown(day: &str, entries: &[ArticleDigest]) -> String {
    let mut s = String::new();
    let title = if day == "undated" {
        "Undated articles".to_string()
    } else {
        format!("Daily digest — {day}")
    };
    let _ = writeln!(s, "# {title}\n");
    let _ = writeln!(
        s,
        "{} article{}\n",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
    for (i, e) in entries.iter().enumerate() {
        let _ = writeln!(s, "## {}. {}\n", i + 1, e.headline);
        let mut meta = vec![format!("*{}*", e.title_uk)];
        if let Some(o) = &e.outlet {
            meta.push(o.clone());
        }
        if let Some(t) = e.published.as_ref().and_then(|p| p.time.clone()) {
            meta.push(t);
        }
        meta.push(format!("[full article]({})", Store::article_link(&e.id)));
        let _ = writeln!(s, "{}\n", meta.join(" · "));
        let _ = writeln!(s, "{}\n", e.title_en);
        let _ = writeln!(s, "{}\n", e.summary.join(" "));
        let people: Vec<String> = e
            .facts
            .iter()
            .filter(|f| f.kind == FactKind::Person)
            .map(|f| {
                let name = f.english.clone().unwrap_or_else(|| f.text.clone());
                // English roles only: the day's digest is English.
                match &f.role_en {
                    Some(r) => format!("{name} ({r})"),
                    None => name,
                }
            })
            .collect();
        if !people.is_empty() {
            let _ = writeln!(s, "People: {}\n", people.join("; "));
        }
    }
    s.push_str(&day_provenance(entries));
    s
}

/// The models behind a day's articles (name, file hash) and the time spent.
fn day_provenance(entries: &[ArticleDigest]) -> String {
    let mut models: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    let mut secs = 0.0;
    for e in entries {
        let p = &e.provenance;
        secs += p.timings.total_secs;
        for (stage, m) in p.models.iter() {
            let sha = m.sha256.chars().take(12).collect();
            models.entry(stage).or_default().insert(m.name.clone(), sha);
        }
    }
    let mut s = String::from("---\n\nProvenance: ");
    let parts: Vec<String> = models
        .iter()
        .map(|(stage, names)| {
            let names: Vec<String> = names
                .iter()
                .map(|(n, sha)| format!("{n} (sha256 {sha}…)"))
                .collect();
            format!("{stage}: {}", names.join(", "))
        })
        .collect();
    s.push_str(&parts.join("; "));
    let _ = writeln!(
        s,
        ". Processing time {secs:.0} s for {} article(s); per-article settings, timings and tokens/s are in each `<id>.json`.",
        entries.len()
    );
    s
}
