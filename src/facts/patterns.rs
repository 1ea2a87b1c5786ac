//! Extractors for dates, numbers, gazetteer names, acronyms and events.
use super::lexicon::{self, Entry, EVENT_ADJ_STEMS, EVENT_NOUNS, UNITS_EN};
use super::text::{is_verb_like, normalize_word, Tok, TokKind};
use super::{date_unit, Fact, FactKind, SentenceText};
use crate::calendar::{Date, MONTHS_UK, WEEKDAYS};
use regex::Regex;
use std::sync::OnceLock;

/// Date facts of a sentence plus the byte ranges (absolute) that numbers
/// must not reuse (dates and clock times).
pub struct Dates {
    pub facts: Vec<Fact>,
    pub consumed: Vec<(usize, usize)>,
}

struct DateRegexes {
    numeric: Regex,
    iso: Regex,
    time: Regex,
    day_month: Regex,
    month_loc: Regex,
    year: Regex,
    weekday: Regex,
    relative: Regex,
}

fn date_regexes() -> &'static DateRegexes {
    static R: OnceLock<DateRegexes> = OnceLock::new();
    R.get_or_init(|| {
        let gen = MONTHS_UK.map(|m| m.1).join("|");
        let loc = MONTHS_UK.map(|m| m.2).join("|");
        let days = WEEKDAYS
            .map(|w| w.0.replace('\'', "['’ʼ]"))
            .join("|");
        let re = |s: &str| Regex::new(s).expect("valid date regex");
        DateRegexes {
            numeric: re(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b"),
            iso: re(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
            time: re(r"\b\d{1,2}:\d{2}\b"),
            day_month: re(&format!(
                r"(?i)(?:\b(?:у|в) ніч (?:проти|на) )?\b(\d{{1,2}}) ({gen})\b(?:\s+(\d{{4}})(?:\s*(?:року|р\.))?)?"
            )),
            month_loc: re(&format!(r"(?i)\b(?:у|в) ({loc})\b(?:\s+(\d{{4}})(?:\s*(?:року|р\.))?)?")),
            year: re(r"(?i)\b(\d{4})\s*(?:року|році|рік|р\.)"),
            weekday: re(&format!(r"(?i)\b(?:у|в|во) ({days})\b")),
            relative: re(r"(?i)\b(сьогодні|завтра|вчора|учора|позавчора|післязавтра)\b"),
        }
    })
}

fn month_index(name: &str, genitive: bool) -> Option<u32> {
    let l = name.to_lowercase();
    MONTHS_UK
        .iter()
        .position(|m| if genitive { m.1 == l } else { m.2 == l })
        .map(|i| i as u32 + 1)
}

fn overlaps(ranges: &[(usize, usize)], a: usize, b: usize) -> bool {
    ranges.iter().any(|&(x, y)| a < y && x < b)
}

/// Dates in one sentence. Relative dates (`28 серпня`, `сьогодні`) are
/// resolved against `published` when known; a day-month more than six
/// months after publication is taken to be in the previous year.
pub fn dates(s: &SentenceText, published: Option<Date>) -> Dates {
    let r = date_regexes();
    let mut facts: Vec<Fact> = Vec::new();
    let mut consumed: Vec<(usize, usize)> = Vec::new();
    let text = s.text;
    let push = |a: usize,
                b: usize,
                normalized: Option<String>,
                unit: &str,
                facts: &mut Vec<Fact>,
                consumed: &mut Vec<(usize, usize)>| {
        if overlaps(consumed, s.base + a, s.base + b) {
            return;
        }
        consumed.push((s.base + a, s.base + b));
        facts.push(Fact {
            kind: FactKind::Date,
            text: text[a..b].to_string(),
            span: (s.base + a, s.base + b),
            sentence: s.index,
            normalized,
            role: None,
            role_en: None,
            unit: Some(unit.to_string()),
            english: None,
            english_source: None,
            origin: super::Origin::Pattern,
        });
    };
    for c in r.numeric.captures_iter(text) {
        let m = c.get(0).expect("match");
        let (d, mo, y) = (c[1].parse().ok(), c[2].parse().ok(), c[3].parse().ok());
        if let (Some(d), Some(mo), Some(y)) = (d, mo, y) {
            if let Some(ymd) = Date::new(y, mo, d) {
                push(
                    m.start(),
                    m.end(),
                    Some(ymd.iso()),
                    date_unit::FULL,
                    &mut facts,
                    &mut consumed,
                );
            }
        }
    }
    for c in r.iso.captures_iter(text) {
        let m = c.get(0).expect("match");
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|ch| ch == '-' || ch.is_alphanumeric())
            || after.is_some_and(|ch| ch == '-' || ch.is_alphanumeric())
        {
            consumed.push((s.base + m.start(), s.base + m.end()));
            continue;
        }
        if let Some(ymd) = Date::parse_iso(m.as_str()) {
            push(
                m.start(),
                m.end(),
                Some(ymd.iso()),
                date_unit::FULL,
                &mut facts,
                &mut consumed,
            );
        }
    }
    for m in r.time.find_iter(text) {
        consumed.push((s.base + m.start(), s.base + m.end()));
    }
    for c in r.day_month.captures_iter(text) {
        let m = c.get(0).expect("match");
        let day: u32 = c[1].parse().unwrap_or(0);
        let Some(month) = month_index(&c[2], true) else {
            continue;
        };
        let (normalized, unit) = match c.get(3).and_then(|y| y.as_str().parse::<i32>().ok()) {
            Some(y) => (Date::new(y, month, day).map(|d| d.iso()), date_unit::FULL),
            None => match published {
                Some(p) => {
                    let mut ymd = Date::new(p.year, month, day);
                    if let Some(d) = ymd {
                        if d.to_days() - p.to_days() > 183 {
                            ymd = Date::new(p.year - 1, month, day);
                        }
                    }
                    (ymd.map(|d| d.iso()), date_unit::YEAR_FROM_PUBLICATION)
                }
                None => {
                    let valid = Date::new(2000, month, day).is_some();
                    (
                        valid.then(|| format!("--{month:02}-{day:02}")),
                        date_unit::DAY_MONTH,
                    )
                }
            },
        };
        if normalized.is_some() {
            push(
                m.start(),
                m.end(),
                normalized,
                unit,
                &mut facts,
                &mut consumed,
            );
        }
    }
    for c in r.month_loc.captures_iter(text) {
        let m = c.get(0).expect("match");
        let Some(month) = month_index(&c[1], false) else {
            continue;
        };
        let year = c
            .get(2)
            .and_then(|y| y.as_str().parse::<i32>().ok())
            .or(published.map(|p| p.year));
        let normalized = match year {
            Some(y) => format!("{y:04}-{month:02}"),
            None => format!("--{month:02}"),
        };
        push(
            m.start(),
            m.end(),
            Some(normalized),
            date_unit::MONTH,
            &mut facts,
            &mut consumed,
        );
    }
    for c in r.year.captures_iter(text) {
        let m = c.get(0).expect("match");
        let y: i32 = c[1].parse().unwrap_or(0);
        if (1900..=2100).contains(&y) {
            push(
                m.start(),
                m.end(),
                Some(format!("{y:04}")),
                date_unit::YEAR,
                &mut facts,
                &mut consumed,
            );
        }
    }
    for m in r.weekday.find_iter(text) {
        push(
            m.start(),
            m.end(),
            None,
            date_unit::WEEKDAY,
            &mut facts,
            &mut consumed,
        );
    }
    if let Some(p) = published {
        for m in r.relative.find_iter(text) {
            let offset = match m.as_str().to_lowercase().as_str() {
                "сьогодні" => 0,
                "завтра" => 1,
                "післязавтра" => 2,
                "вчора" | "учора" => -1,
                _ => -2,
            };
            let d = p.plus_days(offset);
            push(
                m.start(),
                m.end(),
                Some(d.iso()),
                date_unit::RELATIVE,
                &mut facts,
                &mut consumed,
            );
        }
    }
    Dates { facts, consumed }
}

/// Words that end a counted-noun phrase.
const STOP_WORDS: &[&str] = &[
    "і",
    "й",
    "та",
    "а",
    "але",
    "в",
    "у",
    "з",
    "із",
    "зі",
    "на",
    "до",
    "від",
    "за",
    "по",
    "о",
    "об",
    "що",
    "як",
    "або",
    "чи",
    "не",
    "ні",
    "для",
    "про",
    "при",
    "через",
    "після",
    "перед",
    "над",
    "під",
    "між",
    "без",
    "понад",
    "близько",
    "майже",
    "тому",
    "числі",
    "це",
    "році",
    "року",
    "рік",
    "р",
];

const ADJ_ENDINGS: &[&str] = &[
    "их", "іх", "ого", "ої", "ий", "ій", "им", "ім", "ому", "ою", "ими",
];

/// Multipliers: lower-case word (or prefix) → power of ten and canonical form.
fn multiplier(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.');
    match w {
        "тис" => Some(3),
        "млн" => Some(6),
        "млрд" => Some(9),
        "трлн" => Some(12),
        _ if w.starts_with("тисяч") => Some(3),
        _ if w.starts_with("мільйон") => Some(6),
        _ if w.starts_with("мільярд") => Some(9),
        _ if w.starts_with("трильйон") => Some(12),
        _ => None,
    }
}

fn is_unit_word(word: &str) -> bool {
    let w = word.trim_end_matches('.');
    UNITS_EN.iter().any(|(u, _)| *u == w)
}

/// Exact decimal value of `digits` (with `,` or `.` as decimal mark and
/// spaces as thousands separators) times 10^`exp`.
pub fn decimal_value(number: &str, exp: u32) -> Option<String> {
    let cleaned: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    let (int, frac) = match cleaned.find([',', '.']) {
        Some(i) => (&cleaned[..i], &cleaned[i + 1..]),
        None => (cleaned.as_str(), ""),
    };
    let digits = format!("{int}{frac}");
    let mut n: u128 = digits.parse().ok()?;
    let shift = exp as i64 - frac.len() as i64;
    if shift >= 0 {
        n = n.checked_mul(10u128.checked_pow(shift as u32)?)?;
        return Some(n.to_string());
    }
    let s = format!("{:0>width$}", n, width = (-shift) as usize + 1);
    let (i, f) = s.split_at(s.len() - (-shift) as usize);
    let f = f.trim_end_matches('0');
    Some(if f.is_empty() {
        i.to_string()
    } else {
        format!("{i}.{f}")
    })
}

fn number_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"\b\d{1,3}(?:[ \u{a0}\u{202f}]\d{3})+(?:[.,]\d+)?\b|\d+(?:[.,]\d+)?")
            .expect("valid")
    })
}

fn number_fact(
    s: &SentenceText,
    span: (usize, usize),
    normalized: Option<String>,
    unit: String,
) -> Fact {
    Fact {
        normalized,
        unit: Some(unit),
        ..Fact::new(FactKind::Number, s.full, span, s.index)
    }
}

/// Case suffixes of cardinal numerals (`3-х`, `5-ти`, `2-ох`), as opposed
/// to ordinal ones (`6-ту`, `35-го`).
const CARDINAL_SUFFIXES: &[&str] = &["х", "ти", "ох", "ьох", "ми", "ма", "ом", "ьом"];

fn date_fact(s: &SentenceText, span: (usize, usize), normalized: String, unit: &str) -> Fact {
    Fact {
        normalized: Some(normalized),
        unit: Some(unit.to_string()),
        ..Fact::new(FactKind::Date, s.full, span, s.index)
    }
}

/// A number with a dashed case suffix: `6-ту зустріч` (ordinal),
/// `1951-го року` (a year), `1970-х років` (a decade), `3-х десятиліть`
/// (a cardinal in an oblique case).
fn suffixed(s: &SentenceText, core: &str, start: usize, next: &[&Tok]) -> Option<Fact> {
    let (dash, suffix, noun) = (next.first()?, next.get(1)?, next.get(2)?);
    let ok = dash.text == "-"
        && suffix.is_word()
        && suffix.start == dash.end
        && suffix.text.chars().count() <= 3
        && noun.is_word()
        && (noun.is_lowercase_word() || noun.is_all_caps());
    if !ok {
        return None;
    }
    let suffix = suffix.lower();
    let noun_l = noun.lower();
    let year = core
        .parse::<u32>()
        .ok()
        .filter(|y| core.len() == 4 && (1000..=2100).contains(y));
    let about_years = noun_l.starts_with("рок") || noun_l.starts_with("рік") || noun_l == "році";
    if CARDINAL_SUFFIXES.contains(&suffix.as_str()) {
        if let (Some(y), true, "х") = (year, about_years, suffix.as_str()) {
            return Some(date_fact(
                s,
                (start, noun.end),
                format!("{y}s"),
                date_unit::DECADE,
            ));
        }
        return quantity(s, core, start, &next[2..]);
    }
    if let (Some(y), true) = (year, about_years) {
        return Some(date_fact(
            s,
            (start, noun.end),
            format!("{y:04}"),
            date_unit::YEAR,
        ));
    }
    Some(number_fact(
        s,
        (start, noun.end),
        decimal_value(core, 0),
        format!("ordinal: {noun_l}"),
    ))
}

/// `135 із 156 засобів`.
fn ratio(s: &SentenceText, core: &str, start: usize, next: &[&Tok]) -> Option<Fact> {
    let (prep, total, noun) = (next.first()?, next.get(1)?, next.get(2)?);
    let ok = matches!(prep.lower().as_str(), "із" | "з")
        && total.kind == TokKind::Number
        && noun.is_lowercase_word();
    ok.then(|| {
        let value = decimal_value(core, 0).unwrap_or_default();
        number_fact(
            s,
            (start, noun.end),
            Some(format!("{value}/{}", total.text)),
            noun.text.to_string(),
        )
    })
}

/// `1,5 млрд доларів`, `64 %`, `4,81 км²`, `219 бойових зіткнень`.
fn quantity(s: &SentenceText, core: &str, start: usize, next: &[&Tok]) -> Option<Fact> {
    let first = next.first()?;
    if first.text == "%" {
        return Some(number_fact(
            s,
            (start, first.end),
            decimal_value(core, 0),
            "%".into(),
        ));
    }
    let mut i = 0;
    let mut exp = 0;
    let mut words: Vec<&str> = Vec::new();
    let mut end = start;
    if let Some(e) = first
        .is_word()
        .then(|| multiplier(&first.lower()))
        .flatten()
    {
        exp = e;
        words.push(first.text);
        end = first.end;
        i = 1;
    }
    if let Some(t) = next.get(i).filter(|t| t.is_word()) {
        let l = t.lower();
        if l.starts_with("відсот") {
            return Some(number_fact(
                s,
                (start, t.end),
                decimal_value(core, exp),
                "%".into(),
            ));
        }
        if is_unit_word(&l) {
            words.push(t.text);
            end = t.end;
        } else if exp == 0 && t.is_lowercase_word() && !STOP_WORDS.contains(&l.as_str()) {
            // A counted noun, with one adjective before it: `бойових зіткнень`.
            words.push(t.text);
            end = t.end;
            if ADJ_ENDINGS.iter().any(|e| l.ends_with(e)) {
                if let Some(n) = next.get(i + 1).filter(|n| n.is_lowercase_word()) {
                    if !STOP_WORDS.contains(&n.lower().as_str()) {
                        words.push(n.text);
                        end = n.end;
                    }
                }
            }
        }
    }
    (!words.is_empty())
        .then(|| number_fact(s, (start, end), decimal_value(core, exp), words.join(" ")))
}

/// Numbers with a unit, multiplier, counted noun, percent sign or ordinal
/// suffix. Bare numbers (`(2)`, `IMG_8359`) are not facts.
pub fn numbers(s: &SentenceText, toks: &[Tok], consumed: &[(usize, usize)]) -> Vec<Fact> {
    let text = s.text;
    let mut out: Vec<Fact> = Vec::new();
    let mut skip_until = 0usize;
    for m in number_regex().find_iter(text) {
        let (a, b) = (m.start(), m.end());
        let (abs_a, abs_b) = (s.base + a, s.base + b);
        if abs_a < skip_until || overlaps(consumed, abs_a, abs_b) {
            continue;
        }
        let before = text[..a].chars().next_back();
        let after = text[b..].chars().next();
        let glued_before =
            before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
        if glued_before || after.is_some_and(|c| c.is_alphabetic()) {
            continue;
        }
        let next: Vec<&Tok> = toks.iter().filter(|t| t.start >= abs_b).collect();
        let fact = if after == Some('-') {
            suffixed(s, m.as_str(), abs_a, &next)
        } else {
            ratio(s, m.as_str(), abs_a, &next).or_else(|| quantity(s, m.as_str(), abs_a, &next))
        };
        if let Some(f) = fact {
            skip_until = f.span.1;
            out.push(f);
        }
    }
    out
}

/// A gazetteer match in a sentence.
pub struct GazMatch<'g> {
    /// Token range `[first, last]` inclusive.
    pub first: usize,
    pub last: usize,
    pub span: (usize, usize),
    pub entry: &'g Entry,
}

impl GazMatch<'_> {
    pub fn to_fact(&self, source: &str, sentence: usize) -> Fact {
        let mut f = Fact::new(self.entry.kind, source, self.span, sentence);
        f.normalized = Some(self.entry.nominative.to_string());
        f
    }
}

/// Longest-first, left-to-right matches of places and organisations. The
/// first token must be capitalised in the source.
pub fn gazetteer_matches<'t>(toks: &[Tok<'t>]) -> Vec<GazMatch<'static>> {
    let g = lexicon::gazetteer();
    let lower: Vec<String> = toks.iter().map(|t| t.lower()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let mut best: Option<(usize, usize)> = None; // (len, entry)
        if toks[i].is_capitalized() {
            if let Some(cands) = g.by_first.get(&lower[i]) {
                for &(ei, fi) in cands {
                    let form = &g.entries[ei].forms[fi];
                    if i + form.len() <= toks.len()
                        && form.iter().zip(&lower[i..]).all(|(f, t)| f == t)
                        && best.is_none_or(|(len, _)| form.len() > len)
                    {
                        best = Some((form.len(), ei));
                    }
                }
            }
        }
        match best {
            Some((len, ei)) => {
                let last = i + len - 1;
                out.push(GazMatch {
                    first: i,
                    last,
                    span: (toks[i].start, toks[last].end),
                    entry: &g.entries[ei],
                });
                i += len;
            }
            None => i += 1,
        }
    }
    out
}

/// Is the sentence written in capitals (a shouted headline)?
pub fn is_shouting(toks: &[Tok]) -> bool {
    let words: Vec<&Tok> = toks
        .iter()
        .filter(|t| t.is_word() && t.text.chars().count() >= 3)
        .collect();
    let caps = words.iter().filter(|t| t.is_all_caps()).count();
    !words.is_empty() && caps * 2 > words.len()
}

/// Unknown all-capital Cyrillic words (2–6 letters) not covered by the
/// gazetteer: organisations such as `КМВА`. Skipped in shouted headlines.
pub fn acronyms(toks: &[Tok], gaz: &[GazMatch]) -> Vec<(usize, usize)> {
    if is_shouting(toks) {
        return Vec::new();
    }
    toks.iter()
        .enumerate()
        .filter(|(i, t)| {
            let n = t.text.chars().count();
            t.is_word()
                && t.is_all_caps()
                && (2..=6).contains(&n)
                && t.text.chars().all(|c| ('\u{400}'..='\u{4ff}').contains(&c))
                && !gaz.iter().any(|g| (g.first..=g.last).contains(i))
                && !lexicon::NOT_ORG_ACRONYMS.contains(&t.text)
        })
        .map(|(_, t)| (t.start, t.end))
        .collect()
}

/// The event lemma of a lower-cased word (`засіданні` → `засідання`),
/// also for hyphenated forms (`онлайн-засідання`).
pub fn event_lemma(word: &str) -> Option<&'static str> {
    let w = normalize_word(word);
    let last = w.rsplit('-').next().unwrap_or(&w);
    EVENT_NOUNS
        .iter()
        .find(|(_, forms, _)| forms.contains(&last))
        .map(|(lemma, _, _)| *lemma)
}

const EVENT_MAX_WORDS: usize = 10;
const EVENT_END_WORDS: &[&str] = &[
    "що", "який", "яка", "які", "яке", "де", "коли", "щоб", "адже", "тому",
];

/// Event phrases: an event noun or verb (`зустріч`, `засідання`, `атаку`,
/// `обговорили`), with one preceding adjective from a short list and the
/// following words up to punctuation, bounded to ten words. Events carry the
/// ISO date of the sentence's first resolved date in `normalized`.
///
/// An event phrase also ends before a verb form, before a role word (for
/// noun events) and before a person's name.
pub fn events(s: &SentenceText, toks: &[Tok], facts: &[Fact], people: &[Fact]) -> Vec<Fact> {
    let heads = lexicon::role_heads();
    let in_person = |t: &Tok| {
        people
            .iter()
            .any(|p| p.span.0 < t.end && t.start < p.span.1)
    };
    let date = facts
        .iter()
        .filter(|f| f.kind == FactKind::Date)
        .find_map(|f| f.normalized.clone());
    let mut out: Vec<Fact> = Vec::new();
    // «Рамштайн» from the gazetteer is reported by gazetteer_matches.
    let mut i = 0;
    while i < toks.len() {
        if !(toks[i].is_word() && event_lemma(toks[i].text).is_some()) || toks[i].is_all_caps() {
            i += 1;
            continue;
        }
        let mut first = i;
        if i > 0 {
            let prev = normalize_word(toks[i - 1].text);
            if toks[i - 1].is_lowercase_word()
                && EVENT_ADJ_STEMS.iter().any(|st| prev.starts_with(st))
            {
                first = i - 1;
            }
        }
        let mut last = i;
        let mut words = last - first + 1;
        while last + 1 < toks.len() && words < EVENT_MAX_WORDS {
            let t = &toks[last + 1];
            let is_dash_tok = t.kind == TokKind::Punct
                && super::text::is_dash(t.text.chars().next().unwrap_or(' '));
            let inner_dash = is_dash_tok
                && toks.get(last + 2).is_some_and(|n| n.is_capitalized())
                && toks[last].is_capitalized();
            let verb_event =
                event_lemma(toks[i].text).is_some_and(|l| l == "обговорення" || l == "зустрітися");
            if (t.kind == TokKind::Punct && !inner_dash)
                || EVENT_END_WORDS.contains(&t.lower().as_str())
                || in_person(t)
                || (t.is_lowercase_word() && is_verb_like(t.text))
                || (!verb_event && t.is_word() && heads.contains_key(&t.lower()))
            {
                break;
            }
            last += 1;
            if t.kind != TokKind::Punct {
                words += 1;
            }
        }
        // Do not end on a preposition or conjunction.
        while last > i && STOP_WORDS.contains(&toks[last].lower().as_str()) {
            last -= 1;
        }
        let span = (toks[first].start, toks[last].end);
        out.push(Fact {
            normalized: date.clone(),
            ..Fact::new(FactKind::Event, s.full, span, s.index)
        });
        i = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_values_are_exact() {
        assert_eq!(decimal_value("1,5", 9).as_deref(), Some("1500000000"));
        assert_eq!(decimal_value("4,81", 0).as_deref(), Some("4.81"));
        assert_eq!(decimal_value("42", 6).as_deref(), Some("42000000"));
        assert_eq!(decimal_value("1 500", 0).as_deref(), Some("1500"));
        assert_eq!(decimal_value("0,25", 0).as_deref(), Some("0.25"));
    }
}
