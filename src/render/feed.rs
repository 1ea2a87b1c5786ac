//! The Atom feed (`feed.xml`, RFC 4287): one entry per article record,
//! newest first, linking to the article's page of the site.
//!
//! * feed `id` is `urn:ukdigest:feed`; its `updated` is the newest entry's
//!   (1970-01-01T00:00:00Z for an empty folder), so the same records give
//!   the same bytes.
//! * entry `id` is `urn:ukdigest:<id>:<source_sha256>` (the id
//!   percent-encoded): stable while the source is the same, new when the
//!   page changes.
//! * entry `updated` (and `published`) is the publication time, read as
//!   Kyiv time (EET/EEST, the EU summer-time rule) because Ukrainian pages
//!   give local times; a date without a time is midnight Kyiv time; an
//!   undated article uses the record's `generated_at`.
use crate::calendar::Date;
use crate::store::{percent_encode, ArticleDigest, Store};
use atom_syndication::{Entry, FixedDateTime, Generator, Link, Person, Text, WriteConfig};

/// The feed's id.
pub const FEED_ID: &str = "urn:ukdigest:feed";

/// `feed.xml` of the records (any order; entries are sorted newest first,
/// then by id).
pub fn atom_feed(records: &[&ArticleDigest]) -> String {
    let mut entries: Vec<(FixedDateTime, Entry)> =
        records.iter().map(|r| (entry_time(r), entry(r))).collect();
    entries.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then_with(|| a.id.cmp(&b.id)));
    let updated = entries.iter().map(|(t, _)| *t).max().unwrap_or_else(epoch);
    let feed = atom_syndication::Feed {
        title: Text::plain("ukdigest: Ukrainian news in English"),
        subtitle: Some(Text::plain(
            "Machine-made English headlines and summaries of Ukrainian news articles",
        )),
        id: FEED_ID.to_string(),
        updated,
        authors: vec![Person {
            name: "ukdigest".into(),
            ..Person::default()
        }],
        generator: Some(Generator {
            value: "ukdigest".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        links: vec![
            link(&Store::feed_link(), "self", Some("application/atom+xml")),
            link(&Store::site_index_link(), "alternate", Some("text/html")),
        ],
        lang: Some("en".into()),
        entries: entries.into_iter().map(|(_, e)| e).collect(),
        ..atom_syndication::Feed::default()
    };
    let config = WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    let bytes = feed
        .write_with_config(Vec::new(), config)
        .expect("writing to memory does not fail");
    let mut text = String::from_utf8(bytes).expect("the feed is UTF-8");
    text.push('\n');
    text
}

fn link(href: &str, rel: &str, mime: Option<&str>) -> Link {
    Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: mime.map(str::to_string),
        ..Link::default()
    }
}

/// `urn:ukdigest:<id>:<source_sha256>` (`urn:ukdigest:<id>` without a hash).
pub fn entry_id(rec: &ArticleDigest) -> String {
    let id = percent_encode(&rec.id);
    if rec.source_sha256.is_empty() {
        format!("urn:ukdigest:{id}")
    } else {
        format!("urn:ukdigest:{id}:{}", percent_encode(&rec.source_sha256))
    }
}

fn entry(rec: &ArticleDigest) -> Entry {
    let title = [&rec.headline, &rec.title_en, &rec.id]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .map(|s| xml_text(s))
        .unwrap_or_default();
    let summary = xml_text(&rec.summary.join(" "));
    let author = rec
        .outlet
        .as_deref()
        .filter(|o| !o.trim().is_empty())
        .map(|o| Person {
            name: xml_text(o),
            ..Person::default()
        });
    let published = rec
        .published
        .as_ref()
        .and_then(|p| kyiv_time(&p.date, p.time.as_deref()));
    Entry {
        title: Text::plain(title),
        id: entry_id(rec),
        updated: entry_time(rec),
        published,
        authors: author.into_iter().collect(),
        links: vec![link(
            &Store::article_html_link(&rec.id),
            "alternate",
            Some("text/html"),
        )],
        summary: (!summary.is_empty()).then(|| Text::plain(summary)),
        ..Entry::default()
    }
}

/// The entry's `updated`: the publication time, else `generated_at`, else
/// the epoch.
fn entry_time(rec: &ArticleDigest) -> FixedDateTime {
    rec.published
        .as_ref()
        .and_then(|p| kyiv_time(&p.date, p.time.as_deref()))
        .or_else(|| FixedDateTime::parse_from_rfc3339(&rec.provenance.generated_at).ok())
        .unwrap_or_else(epoch)
}

fn epoch() -> FixedDateTime {
    FixedDateTime::parse_from_rfc3339("1970-01-01T00:00:00Z").expect("a valid timestamp")
}

/// A Kyiv wall-clock time (`YYYY-MM-DD`, `HH:MM` or midnight) as a fixed
/// offset time: +03:00 from the last Sunday of March, 03:00, to the last
/// Sunday of October, 04:00; +02:00 otherwise.
pub fn kyiv_time(date: &str, time: Option<&str>) -> Option<FixedDateTime> {
    let d = Date::parse_iso(date)?;
    let (h, m) = match time {
        Some(t) => {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
            (h < 24 && m < 60).then_some((h, m))?
        }
        None => (0, 0),
    };
    let last_sunday = |month: u32| {
        let end = Date::new(d.year, month, 31).expect("March and October have 31 days");
        // 1970-01-01 was a Thursday; Sunday is index 6 from Monday.
        let weekday = (end.to_days() + 3).rem_euclid(7);
        end.plus_days(-((weekday + 1) % 7))
    };
    let minutes = |day: Date, h: u32| (day.to_days() * 24 + i64::from(h)) * 60;
    let local = minutes(d, h) + i64::from(m);
    let summer = local >= minutes(last_sunday(3), 3) && local < minutes(last_sunday(10), 4);
    let offset = if summer { "+03:00" } else { "+02:00" };
    FixedDateTime::parse_from_rfc3339(&format!("{}T{h:02}:{m:02}:00{offset}", d.iso())).ok()
}

/// Text without the characters XML 1.0 cannot hold (C0 controls other
/// than tab, newline and carriage return; U+FFFE, U+FFFF).
fn xml_text(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kyiv_summer_time_follows_the_eu_rule() {
        let t = |d, t| kyiv_time(d, t).unwrap().to_rfc3339();
        assert_eq!(t("2025-07-14", Some("18:16")), "2025-07-14T18:16:00+03:00");
        assert_eq!(t("2025-01-10", Some("09:05")), "2025-01-10T09:05:00+02:00");
        assert_eq!(t("2025-09-02", None), "2025-09-02T00:00:00+03:00");
        // 2025: summer time from 30 March 03:00 to 26 October 04:00.
        assert_eq!(t("2025-03-30", Some("02:59")), "2025-03-30T02:59:00+02:00");
        assert_eq!(t("2025-03-30", Some("04:00")), "2025-03-30T04:00:00+03:00");
        assert_eq!(t("2025-10-26", Some("03:30")), "2025-10-26T03:30:00+03:00");
        assert_eq!(t("2025-10-26", Some("04:00")), "2025-10-26T04:00:00+02:00");
        assert!(kyiv_time("2025-13-01", None).is_none());
        assert!(kyiv_time("2025-01-01", Some("25:00")).is_none());
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(xml_text("a\u{1}b\tc\u{ffff}"), "ab\tc");
    }
}
