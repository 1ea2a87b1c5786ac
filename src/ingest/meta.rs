//! Metadata lines: publication date and time, the cited source, and the
//! outlet's own name. Each parser looks at one whole (trimmed) line.
use crate::article::Published;
use regex::Regex;
use std::ops::Range;
use std::sync::LazyLock;

/// A line that carries the publication date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateLine {
    pub published: Published,
    /// For a ` date 2025-09-02 <title>` header: the byte range of the
    /// title within the line.
    pub rest: Option<Range<usize>>,
}

/// ` date 2025-09-02 <title>` (the header of exported pages).
static DATE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^date\s+(?<y>\d{4})-(?<m>\d{2})-(?<d>\d{2})(?:[T ](?<hh>\d{1,2}):(?<mm>\d{2}))?(?:\s+(?<rest>\S.*))?$")
        .expect("valid regex")
});

/// `23.04.2025`, `21:32 11.04.2025`, `11.04.2025, 21:32`; like the
/// other forms, optionally labelled (`Опубліковано: …`).
static DOTTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(?:опубліковано|оновлено|дата публікації|дата|published|updated)\s*:?\s+)?(?:(?<hh>\d{1,2}):(?<mm>\d{2}),?\s+)?(?<d>\d{1,2})\.(?<m>\d{1,2})\.(?<y>\d{4})(?:\s*р\.)?(?:,?\s+(?<hh2>\d{1,2}):(?<mm2>\d{2}))?$")
        .expect("valid regex")
});

/// `2025-04-11`, `2025-04-11 21:32`, `2025-04-11T21:32:05`.
static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:(?:опубліковано|оновлено|дата публікації|дата|published|updated)\s*:?\s+)?(?<y>\d{4})-(?<m>\d{2})-(?<d>\d{2})(?:[T ](?<hh>\d{2}):(?<mm>\d{2})(?::\d{2})?)?$",
    )
    .expect("valid regex")
});

/// `11 квітня 2025`, `П'ятниця, 11 квітня 2025 року, 21:32`, `21:32, 11 квітня 2025`.
static WORDED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:(?:опубліковано|оновлено|дата публікації|дата|published|updated)\s*:?\s+)?(?:(?<hh>\d{1,2}):(?<mm>\d{2}),?\s+)?(?:[\p{Cyrillic}'’]+,\s+)?(?<d>\d{1,2})\s+(?<month>\p{Cyrillic}+)\s+(?<y>\d{4})(?:\s*(?:року|р\.))?(?:,?\s+(?:о\s+)?(?<hh2>\d{1,2}):(?<mm2>\d{2}))?$")
        .expect("valid regex")
});

/// `Джерело: …` (the cited source).
static SOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:джерело|джерела|источник)\s*[:：]\s*(?<rest>\S.*)$").expect("valid regex")
});

/// A bare domain name such as `Leopolis.news` (an outlet's signature).
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,12}$")
        .expect("valid regex")
});

/// Parse a whole line as a date line. `line` must be trimmed.
pub fn parse_date_line(line: &str) -> Option<DateLine> {
    if !line.starts_with("date") && line.chars().nth(80).is_some() {
        return None;
    }
    if let Some(c) = DATE_HEADER.captures(line) {
        let published = published(&c["y"], &c["m"], &c["d"], time(&c, "hh", "mm"))?;
        let rest = c.name("rest").map(|m| m.range());
        return Some(DateLine { published, rest });
    }
    let (c, month) = if let Some(c) = DOTTED.captures(line).or_else(|| ISO.captures(line)) {
        let m = c["m"].to_owned();
        (c, m)
    } else {
        let c = WORDED.captures(line)?;
        let month = crate::calendar::month_from_genitive(&c["month"])?;
        (c, month.to_string())
    };
    let t = time(&c, "hh", "mm").or_else(|| time(&c, "hh2", "mm2"));
    let published = published(&c["y"], &month, &c["d"], t)?;
    Some(DateLine {
        published,
        rest: None,
    })
}

fn time(c: &regex::Captures<'_>, h: &str, m: &str) -> Option<(u32, u32)> {
    let hh = c.name(h)?.as_str().parse().ok()?;
    let mm = c.name(m)?.as_str().parse().ok()?;
    Some((hh, mm))
}

/// A validated [`Published`]; `None` for impossible dates or times.
fn published(y: &str, m: &str, d: &str, time: Option<(u32, u32)>) -> Option<Published> {
    let (y, m, d): (i32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1990..=2100).contains(&y) {
        return None;
    }
    crate::calendar::Date::new(y, m, d)?;
    let time = match time {
        Some((hh, mm)) if hh < 24 && mm < 60 => Some(format!("{hh:02}:{mm:02}")),
        Some(_) => return None,
        None => None,
    };
    Some(Published {
        date: format!("{y:04}-{m:02}-{d:02}"),
        time,
    })
}

/// For a `Джерело: …` line, the range of the cited source within it.
pub fn parse_source_line(line: &str) -> Option<Range<usize>> {
    if line.chars().count() > 300 {
        return None;
    }
    SOURCE
        .captures(line)
        .and_then(|c| c.name("rest"))
        .map(|m| m.range())
}

/// Whether the line is a bare domain name (`Leopolis.news`), not a file
/// name.
pub fn is_domain_line(line: &str) -> bool {
    const FILE_EXTENSIONS: &[&str] = &[
        "jpg", "jpeg", "png", "gif", "webp", "heic", "bmp", "svg", "tif", "tiff", "txt", "pdf",
        "doc", "docx", "html", "htm", "mp4", "mp3",
    ];
    line.len() <= 64
        && DOMAIN.is_match(line)
        && !line
            .rsplit('.')
            .next()
            .is_some_and(|ext| FILE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(line: &str) -> Option<(String, Option<String>)> {
        parse_date_line(line).map(|d| (d.published.date, d.published.time))
    }

    #[test]
    fn date_formats() {
        let d = |s: &str| Some((s.to_owned(), None));
        let dt = |s: &str, t: &str| Some((s.to_owned(), Some(t.to_owned())));
        assert_eq!(date("23.04.2025"), d("2025-04-23"));
        assert_eq!(date("21:32 11.04.2025"), dt("2025-04-11", "21:32"));
        assert_eq!(date("11.04.2025, 9:05"), dt("2025-04-11", "09:05"));
        assert_eq!(date("2025-04-11T21:32:00"), dt("2025-04-11", "21:32"));
        assert_eq!(date("11 квітня 2025"), d("2025-04-11"));
        assert_eq!(
            date("П'ятниця, 11 квітня 2025 року, 21:32"),
            dt("2025-04-11", "21:32")
        );
        assert_eq!(
            date("Оновлено: 12.04.2025 08:15"),
            dt("2025-04-12", "08:15")
        );
        assert_eq!(date("31.02.2025"), None);
        assert_eq!(date("25:10 11.04.2025"), None);
        assert_eq!(date("11 квітня 2025 року Умєров провів зустріч"), None);
        let h = parse_date_line("date 2025-09-02 Заголовок статті").unwrap();
        assert_eq!(h.published.date, "2025-09-02");
        assert_eq!(
            &"date 2025-09-02 Заголовок статті"[h.rest.unwrap()],
            "Заголовок статті"
        );
    }

    #[test]
    fn source_and_domain() {
        let line = "Джерело: Міністерство закордонних справ України";
        assert_eq!(
            &line[parse_source_line(line).unwrap()],
            "Міністерство закордонних справ України"
        );
        assert!(parse_source_line("Джерело повідомило, що…").is_none());
        assert!(is_domain_line("Leopolis.news"));
        assert!(is_domain_line("www.ukrinform.ua"));
        assert!(!is_domain_line("IMG_8359.JPG"));
        assert!(!is_domain_line("Leopolis.news пише"));
    }
}
