//! Months and weekdays: a date the English gets wrong ("on July 28" for
//! «28 серпня») passes the digit check, since the day survives; this one
//! reads the source's month and weekday names and looks for them in the
//! English.
//!
//! Calibrated on FLORES-200 dev uk→en: of the 33 sentence pairs with a
//! month name, the human references name every month of the source, save
//! abbreviations (`Jan.`, `Nov-Feb`, accepted here) and one misspelling
//! (`Novemeber`); of the 10 with a weekday after «у/в», all name it.
use crate::calendar::{MONTHS_EN, MONTHS_UK, WEEKDAYS};
use std::ops::Range;

/// Month word forms beyond [`MONTHS_UK`]'s three: instrumental (`між
/// червнем і серпнем`) and dative.
const MONTHS_UK_MORE: [(&str, &str); 12] = [
    ("січнем", "січню"),
    ("лютим", "лютому"),
    ("березнем", "березню"),
    ("квітнем", "квітню"),
    ("травнем", "травню"),
    ("червнем", "червню"),
    ("липнем", "липню"),
    ("серпнем", "серпню"),
    ("вереснем", "вересню"),
    ("жовтнем", "жовтню"),
    ("листопадом", "листопаду"),
    ("груднем", "грудню"),
];

/// The month (0–11) a Ukrainian word names, if any.
fn uk_month(word: &str) -> Option<usize> {
    MONTHS_UK
        .iter()
        .zip(MONTHS_UK_MORE)
        .position(|((a, b, c), (d, e))| [*a, *b, *c, d, e].contains(&word))
}

/// Words of `text` with their byte ranges (letters, digits, apostrophes).
fn words(text: &str) -> Vec<(Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let inner = c.is_alphanumeric() || matches!(c, '\'' | '’' | 'ʼ');
        match (inner, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s..i, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Whether word `i` of `ws` stands next to a number (`28 серпня`,
/// `серпня 2025`, `May 5`).
fn by_a_number(ws: &[(Range<usize>, &str)], i: usize) -> bool {
    let digit = |j: usize| {
        ws.get(j)
            .is_some_and(|w| w.1.starts_with(|c: char| c.is_ascii_digit()))
    };
    (i > 0 && digit(i - 1)) || digit(i + 1)
}

/// The months and weekdays a Ukrainian sentence names, read once for the
/// checks of its English.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceDates {
    /// Months 0–11, each once.
    months: Vec<usize>,
    /// Weekdays 0–6 (Monday first), each once.
    weekdays: Vec<usize>,
}

impl SourceDates {
    /// A month counts in lowercase (a capitalised «Листопад» is also a
    /// surname) or next to a number; «лютий» and its forms, also an
    /// adjective ("fierce"), only next to a number. A weekday counts after
    /// «у», «в» or «во» (`у п'ятницю`).
    pub fn of(uk: &str) -> Self {
        let ws = words(uk);
        let mut out = SourceDates::default();
        for (i, (_, w)) in ws.iter().enumerate() {
            let lower = w.to_lowercase();
            if let Some(m) = uk_month(&lower) {
                let numbered = by_a_number(&ws, i);
                let plain = *w == lower && m != 1;
                if (numbered || plain) && !out.months.contains(&m) {
                    out.months.push(m);
                }
            }
            let folded = lower.replace(['’', 'ʼ'], "'");
            if let Some(d) = WEEKDAYS.iter().position(|(uk, _)| *uk == folded) {
                let after_in =
                    i > 0 && ["у", "в", "во"].contains(&ws[i - 1].1.to_lowercase().as_str());
                if after_in && !out.weekdays.contains(&d) {
                    out.weekdays.push(d);
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.months.is_empty() && self.weekdays.is_empty()
    }

    /// The English names of the source's months and weekdays that `en`
    /// does not have.
    pub fn missing(&self, en: &str) -> Vec<&'static str> {
        if self.is_empty() {
            return Vec::new();
        }
        let named = EnglishDates::of(en, self);
        let months = unnamed(&named.months, &self.months).map(|m| MONTHS_EN[m]);
        let days = unnamed(&named.weekdays, &self.weekdays).map(|d| WEEKDAYS[d].1);
        months.chain(days).collect()
    }

    /// `en` with a month (or weekday) the source does not name replaced by
    /// the one the source names and `en` lacks, when each is the only one
    /// of its kind ("on July 28" → "on August 28" for «28 серпня»); any
    /// other case is left for the retry and the flag.
    pub fn correct(&self, en: &str) -> String {
        if self.is_empty() {
            return en.to_string();
        }
        let named = EnglishDates::of(en, self);
        let mut out = en.to_string();
        let mut swaps: Vec<(Range<usize>, &str)> = Vec::new();
        if let Some((at, m)) = lone_swap(&named.months, &self.months) {
            swaps.push((at, MONTHS_EN[m]));
        }
        if let Some((at, d)) = lone_swap(&named.weekdays, &self.weekdays) {
            swaps.push((at, WEEKDAYS[d].1));
        }
        // Right to left, so earlier ranges stay valid.
        swaps.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        for (r, name) in swaps {
            out.replace_range(r, name);
        }
        out
    }
}

/// The months (or weekdays) of the source that the English does not name.
fn unnamed<'a>(
    named: &'a [(usize, Range<usize>)],
    source: &'a [usize],
) -> impl Iterator<Item = usize> + 'a {
    source
        .iter()
        .copied()
        .filter(|s| !named.iter().any(|(n, _)| n == s))
}

/// Where the English names the one month (or weekday) of its kind that the
/// source does not, and the one of the source it lacks: the correction
/// (none when either is not alone).
fn lone_swap(named: &[(usize, Range<usize>)], source: &[usize]) -> Option<(Range<usize>, usize)> {
    let wrong: Vec<&(usize, Range<usize>)> =
        named.iter().filter(|(n, _)| !source.contains(n)).collect();
    let lacking: Vec<usize> = unnamed(named, source).collect();
    match (wrong.as_slice(), lacking.as_slice()) {
        ([(_, at)], [s]) => Some((at.clone(), *s)),
        _ => None,
    }
}

/// The months and weekdays an English text names, with where.
struct EnglishDates {
    months: Vec<(usize, Range<usize>)>,
    weekdays: Vec<(usize, Range<usize>)>,
}

impl EnglishDates {
    /// Full names (a wrong one is where a correction goes) and, for a month
    /// the source names, its abbreviation (`Jan`, `Sept`). `May` counts next
    /// to a number or where the source names May.
    fn of(en: &str, source: &SourceDates) -> Self {
        let ws = words(en);
        let mut out = EnglishDates {
            months: Vec::new(),
            weekdays: Vec::new(),
        };
        for (i, (r, w)) in ws.iter().enumerate() {
            if let Some(m) = MONTHS_EN.iter().position(|m| m == w) {
                if m != 4 || by_a_number(&ws, i) || source.months.contains(&4) {
                    out.months.push((m, r.clone()));
                }
                continue;
            }
            let abbreviated = MONTHS_EN
                .iter()
                .position(|m| w.len() >= 3 && m.starts_with(*w) && (w.len() == 3 || *w == "Sept"));
            if let Some(m) = abbreviated.filter(|m| source.months.contains(m)) {
                out.months.push((m, r.clone()));
                continue;
            }
            if let Some(d) = WEEKDAYS.iter().position(|(_, e)| e == w) {
                out.weekdays.push((d, r.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(uk: &str, en: &str) -> Vec<&'static str> {
        SourceDates::of(uk).missing(en)
    }

    #[test]
    fn a_wrong_month_is_found_and_corrected() {
        let uk = "Нагадаємо, у ніч проти 28 серпня Росія здійснила масовану атаку.";
        let en = "We remember that on July 28, Russia launched a large-scale attack.";
        assert_eq!(missing(uk, en), vec!["August"]);
        let fixed = SourceDates::of(uk).correct(en);
        assert_eq!(
            fixed,
            "We remember that on August 28, Russia launched a large-scale attack."
        );
        assert!(missing(uk, &fixed).is_empty());
    }

    #[test]
    fn right_dates_and_their_forms_pass() {
        for (uk, en) in [
            ("28 серпня 2025 року", "on 28 August 2025"),
            (
                "між червнем і серпнем цього року",
                "between June and August this year",
            ),
            ("у листопаді", "in November"),
            ("1 січня", "on 1 Jan."),
            ("з листопада по лютий", "Nov-Feb"),
            (
                "Умєров у п’ятницю зустрівся з Каллас.",
                "On Friday Umerov met Kallas.",
            ),
            ("в середу", "on Wednesday"),
            ("засідання 5 травня", "the meeting on May 5"),
            ("у травні", "in May"),
        ] {
            assert!(missing(uk, en).is_empty(), "{uk} | {en}");
        }
    }

    #[test]
    fn words_that_only_look_like_dates_are_not_dates() {
        // «лютий» is also "fierce"; «Листопад» is also a surname; a weekday
        // counts after «у»/«в» only.
        assert!(SourceDates::of("Це був лютий мороз.").is_empty());
        assert!(SourceDates::of("Олег Листопад заявив.").is_empty());
        assert!(SourceDates::of("Неділю тому.").is_empty());
        assert_eq!(missing("12 лютого", "on 12 March"), vec!["February"]);
        // "may" is a verb unless a number or the source says May.
        let uk = "Засідання 12 червня може відбутися.";
        assert!(missing(uk, "The meeting on June 12 may take place.").is_empty());
        assert_eq!(
            SourceDates::of(uk).correct("The meeting May take place on June 12."),
            "The meeting May take place on June 12."
        );
    }

    #[test]
    fn ambiguous_cases_are_flagged_but_not_rewritten() {
        let uk = "з 1 травня до 1 червня";
        let en = "from 1 July to 1 August";
        assert_eq!(missing(uk, en), vec!["May", "June"]);
        assert_eq!(SourceDates::of(uk).correct(en), en);
        // A weekday is corrected like a month.
        let uk = "У вівторок міністр прибув до Києва 3 березня.";
        let en = "On Thursday the minister arrived in Kyiv on March 3.";
        assert_eq!(missing(uk, en), vec!["Tuesday"]);
        assert_eq!(
            SourceDates::of(uk).correct(en),
            "On Tuesday the minister arrived in Kyiv on March 3."
        );
    }
}
