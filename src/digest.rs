//! Digest stage: the per-article bilingual record (`<id>.json`, `<id>.md`)
//! and the per-day digests (`digest-YYYY-MM-DD.md`, `digest-undated.md`),
//! rebuilt from every article record in the output directory so that a
//! batch of new articles joins the days already written.
use crate::article::{Article, ParagraphKind, Published};
use crate::error::{Error, Result};
use crate::facts::{Fact, FactKind};
use crate::fsio::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One sentence in both languages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BilingualSentence {
    pub uk: String,
    pub en: String,
    /// Byte span of the Ukrainian sentence in the decoded source.
    pub span: (usize, usize),
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BilingualParagraph {
    pub kind: ParagraphKind,
    pub sentences: Vec<BilingualSentence>,
}

/// The per-article record: everything the digest knows about one article.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArticleDigest {
    pub id: String,
    pub source_path: PathBuf,
    pub source_sha256: String,
    pub encoding: String,
    pub title_uk: String,
    pub title_en: String,
    pub published: Option<Published>,
    pub outlet: Option<String>,
    pub source_line: Option<String>,
    pub headline: String,
    pub summary: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary_flags: Vec<String>,
    pub facts: Vec<Fact>,
    pub paragraphs: Vec<BilingualParagraph>,
    /// Models (name, source, file, sha256, metadata), settings, timings.
    pub provenance: serde_json::Value,
}

impl ArticleDigest {
    /// Pair an article's sentences with their translations (same order).
    pub fn bilingual(
        article: &Article,
        english: &[crate::translate::TranslatedSentence],
    ) -> Vec<BilingualParagraph> {
        let mut it = english.iter();
        article
            .paragraphs
            .iter()
            .map(|p| BilingualParagraph {
                kind: p.kind,
                sentences: p
                    .sentences
                    .iter()
                    .map(|s| {
                        let t = it.next();
                        BilingualSentence {
                            uk: s.text.clone(),
                            en: t.map(|t| t.en.clone()).unwrap_or_default(),
                            span: s.span,
                            flags: t.map(|t| t.flags.clone()).unwrap_or_default(),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    pub fn day(&self) -> String {
        self.published
            .as_ref()
            .map(|p| p.date.clone())
            .unwrap_or_else(|| "undated".into())
    }

    /// Write `<id>.json` and `<id>.md` atomically.
    pub fn write(&self, out_dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let json = out_dir.join(format!("{}.json", self.id));
        let md = out_dir.join(format!("{}.md", self.id));
        crate::fsio::write_json_atomic(&json, self)?;
        write_atomic(&md, self.to_markdown().as_bytes())?;
        Ok((json, md))
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# {}\n", self.title_en);
        let _ = writeln!(s, "*{}*\n", self.title_uk);
        let mut meta = vec![self
            .published
            .as_ref()
            .map(Published::iso)
            .unwrap_or_else(|| "undated".into())];
        if let Some(o) = &self.outlet {
            meta.push(o.clone());
        }
        if let Some(src) = &self.source_line {
            meta.push(format!("Джерело: {src}"));
        }
        let _ = writeln!(s, "{}\n", meta.join(" · "));
        let _ = writeln!(s, "## {}\n", self.headline);
        let _ = writeln!(s, "{}\n", self.summary.join(" "));
        if !self.facts.is_empty() {
            let _ = writeln!(s, "## Key facts\n");
            for f in &self.facts {
                let _ = writeln!(s, "- {}", fact_line(f));
            }
            s.push('\n');
        }
        let _ = writeln!(s, "## Full text (Ukrainian · English)\n");
        for p in &self.paragraphs {
            let uk: Vec<&str> = p.sentences.iter().map(|x| x.uk.as_str()).collect();
            let en: Vec<&str> = p.sentences.iter().map(|x| x.en.as_str()).collect();
            let bullet = if p.kind == ParagraphKind::Bullet {
                "- "
            } else {
                ""
            };
            let _ = writeln!(s, "> {bullet}{}\n", uk.join(" "));
            let _ = writeln!(s, "{bullet}{}\n", en.join(" "));
            let flags: Vec<&String> = p.sentences.iter().flat_map(|x| x.flags.iter()).collect();
            if !flags.is_empty() {
                let _ = writeln!(
                    s,
                    "<sub>checks: {}</sub>\n",
                    flags
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
        }
        let _ = writeln!(s, "## Provenance\n");
        let _ = writeln!(
            s,
            "```json\n{}\n```",
            serde_json::to_string_pretty(&self.provenance).unwrap_or_default()
        );
        s
    }
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
    if let Some(r) = &f.role {
        let _ = write!(line, ", {r}");
    }
    if f.origin != "pattern" {
        let _ = write!(line, " ({})", f.origin);
    }
    line
}

/// The fields of an article record that the daily digest needs.
#[derive(Debug, Deserialize)]
struct DayEntry {
    id: String,
    title_uk: String,
    title_en: String,
    published: Option<Published>,
    outlet: Option<String>,
    headline: String,
    summary: Vec<String>,
    facts: Vec<Fact>,
    #[serde(default)]
    provenance: serde_json::Value,
}

/// Rebuild every `digest-*.md` from the `<id>.json` records in `out_dir`.
/// Returns the files written.
pub fn write_daily_digests(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut days: BTreeMap<String, Vec<DayEntry>> = BTreeMap::new();
    let rd = std::fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(".translation."))
        })
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
        // Other JSON files (reports, translations) are not article records.
        let Ok(entry) = serde_json::from_str::<DayEntry>(&text) else {
            continue;
        };
        let day = entry
            .published
            .as_ref()
            .map(|p| p.date.clone())
            .unwrap_or_else(|| "undated".into());
        days.entry(day).or_default().push(entry);
    }
    let mut written = Vec::new();
    for (day, mut entries) in days {
        entries.sort_by(|a, b| {
            let t = |e: &DayEntry| e.published.as_ref().and_then(|p| p.time.clone());
            t(a).cmp(&t(b)).then(a.id.cmp(&b.id))
        });
        let path = out_dir.join(format!("digest-{day}.md"));
        write_atomic(&path, render_day(&day, &entries).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

fn render_day(day: &str, entries: &[DayEntry]) -> String {
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
        meta.push(format!("[full article]({}.md)", e.id));
        let _ = writeln!(s, "{}\n", meta.join(" · "));
        let _ = writeln!(s, "{}\n", e.title_en);
        let _ = writeln!(s, "{}\n", e.summary.join(" "));
        let people: Vec<String> = e
            .facts
            .iter()
            .filter(|f| f.kind == FactKind::Person)
            .map(|f| {
                let name = f.english.clone().unwrap_or_else(|| f.text.clone());
                match &f.role {
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
fn day_provenance(entries: &[DayEntry]) -> String {
    let mut models: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut secs = 0.0;
    for e in entries {
        let p = &e.provenance;
        secs += p["timings"]["total_secs"].as_f64().unwrap_or(0.0);
        if let Some(m) = p["models"].as_object() {
            for (stage, v) in m {
                let name = v["name"].as_str().unwrap_or("?").to_string();
                let sha = v["sha256"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(12)
                    .collect();
                models.entry(stage.clone()).or_default().insert(name, sha);
            }
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

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_now_is_iso() {
        let t = utc_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
