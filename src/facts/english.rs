//! English renderings of facts, taken from the aligned English sentence
//! where possible.
use super::lexicon::{self, EVENT_NOUNS, UNITS_EN};
use super::patterns::{decimal_value, event_lemma};
use super::text::levenshtein;
use super::translit::transliterate;
use super::{date_unit, EnglishSource, Fact, FactKind};
use crate::calendar::{MONTHS_EN, WEEKDAYS};
use regex::Regex;
use std::sync::OnceLock;

/// Fills `english` and `english_source` of every fact. `english_sentences[i]`
/// is the translation of the article's sentence `i`; a fact whose sentence
/// has no translation gets a rule/lexicon/transliteration rendering.
///
/// Events go last: an event's English clause is checked against the English
/// of the facts inside it (see [`event`]).
pub fn render_english(facts: &mut [Fact], english_sentences: &[String]) {
    let sentence_of = |f: &Fact| english_sentences.get(f.sentence).map_or("", String::as_str);
    for f in facts.iter_mut() {
        let sentence = sentence_of(f);
        let rendered = match f.kind {
            FactKind::Date => date(f, sentence),
            FactKind::Number => number(f, sentence),
            FactKind::Person => person(f, sentence),
            FactKind::Place | FactKind::Organization => named(f, sentence),
            FactKind::Event => gazetteer_event(f, sentence),
        };
        if let Some((text, source)) = rendered {
            f.english = Some(text);
            f.english_source = Some(source);
        }
    }
    let rendered: Vec<Option<(String, EnglishSource)>> = facts
        .iter()
        .map(|f| {
            (f.kind == FactKind::Event && f.english.is_none())
                .then(|| event(f, facts, sentence_of(f)))
                .flatten()
        })
        .collect();
    for (f, r) in facts.iter_mut().zip(rendered) {
        if let Some((text, source)) = r {
            f.english = Some(text);
            f.english_source = Some(source);
        }
    }
}

/// Byte range of `needle` in `hay` as a whole word (ASCII case-insensitive).
pub(crate) fn find_word(hay: &str, needle: &str) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    let h = hay.to_ascii_lowercase();
    let n = needle.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = h[from..].find(&n) {
        let a = from + pos;
        let b = a + n.len();
        let before_ok = !h[..a]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric());
        let after_ok = !h[b..].chars().next().is_some_and(|c| c.is_alphanumeric());
        if before_ok && after_ok {
            return Some((a, b));
        }
        from = a + n.chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn found(sentence: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .find_map(|c| find_word(sentence, c).map(|(a, b)| sentence[a..b].to_string()))
}

fn date(f: &Fact, sentence: &str) -> Option<(String, EnglishSource)> {
    let unit = f.unit.as_deref().unwrap_or("");
    if unit == date_unit::WEEKDAY {
        let l = super::text::normalize_word(&f.text);
        let en = WEEKDAYS
            .iter()
            .find(|(uk, _)| l.ends_with(uk))
            .map(|w| w.1)?;
        return Some(match find_word(sentence, en) {
            Some((a, b)) => (sentence[a..b].to_string(), EnglishSource::Translation),
            None => (en.to_string(), EnglishSource::Rule),
        });
    }
    if unit == date_unit::RELATIVE {
        let l = f.text.to_lowercase();
        let word = match l.as_str() {
            "сьогодні" => "today",
            "завтра" => "tomorrow",
            "післязавтра" => "the day after tomorrow",
            "вчора" | "учора" => "yesterday",
            _ => "the day before yesterday",
        };
        if let Some((a, b)) = find_word(sentence, word) {
            return Some((sentence[a..b].to_string(), EnglishSource::Translation));
        }
    }
    let n = f.normalized.as_deref()?;
    let parts: Vec<&str> = n.trim_start_matches("--").split('-').collect();
    let (year, month, day): (Option<&str>, Option<usize>, Option<u32>) = if n.starts_with("--") {
        (
            None,
            parts.first()?.parse().ok(),
            parts.get(1).and_then(|d| d.parse().ok()),
        )
    } else {
        (
            Some(parts[0]),
            parts.get(1).and_then(|m| m.parse().ok()),
            parts.get(2).and_then(|d| d.parse().ok()),
        )
    };
    let mut cands: Vec<String> = Vec::new();
    let mut fallback = year.unwrap_or_default().to_string();
    if let Some(m) = month.filter(|m| (1..=12).contains(m)) {
        let mon = MONTHS_EN[m - 1];
        let abbr = &mon[..3];
        match (day, year) {
            (Some(d), Some(y)) => {
                cands.extend([
                    format!("{mon} {d}, {y}"),
                    format!("{d} {mon} {y}"),
                    format!("{mon} {d} {y}"),
                    format!("{mon} {d}"),
                    format!("{d} {mon}"),
                    format!("{abbr}. {d}"),
                    format!("{abbr} {d}"),
                    format!("{d} {abbr}"),
                    n.to_string(),
                    format!("{:02}.{:02}.{y}", d, m),
                ]);
                fallback = if unit == date_unit::YEAR_FROM_PUBLICATION {
                    format!("{mon} {d}")
                } else {
                    format!("{mon} {d}, {y}")
                };
            }
            (Some(d), None) => {
                cands.extend([
                    format!("{mon} {d}"),
                    format!("{d} {mon}"),
                    format!("{abbr}. {d}"),
                    format!("{d} {abbr}"),
                ]);
                fallback = format!("{mon} {d}");
            }
            (None, Some(y)) => {
                cands.extend([format!("{mon} {y}"), mon.to_string()]);
                fallback = format!("{mon} {y}");
            }
            (None, None) => {
                cands.push(mon.to_string());
                fallback = mon.to_string();
            }
        }
    } else if let Some(y) = year {
        cands.push(y.to_string());
    }
    Some(match found(sentence, &cands) {
        Some(s) => (s, EnglishSource::Translation),
        None => (fallback, EnglishSource::Rule),
    })
}

const SMALL: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];
const ORDINALS: [&str; 21] = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
];

fn english_number_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)[$€£]?\s?\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s*(thousand|million|billion|trillion|bn|mln)\b)?(?:\s*(?:%|percent|per cent))?")
            .expect("valid")
    })
}

/// Numbers in an English sentence: (value, matched text).
fn english_numbers(sentence: &str) -> Vec<(String, String)> {
    english_number_regex()
        .captures_iter(sentence)
        .filter_map(|c| {
            let int = c[1].replace(',', "");
            let num = match c.get(2) {
                Some(fr) => format!("{int}.{}", fr.as_str()),
                None => int,
            };
            let exp = match c.get(3).map(|m| m.as_str().to_ascii_lowercase()).as_deref() {
                Some("thousand") => 3,
                Some("million" | "mln") => 6,
                Some("billion" | "bn") => 9,
                Some("trillion") => 12,
                _ => 0,
            };
            Some((decimal_value(&num, exp)?, c[0].trim().to_string()))
        })
        .collect()
}

fn number(f: &Fact, sentence: &str) -> Option<(String, EnglishSource)> {
    let n = f.normalized.as_deref()?;
    let unit = f.unit.as_deref().unwrap_or("");
    if let Some((a, b)) = n.split_once('/') {
        let re = Regex::new(&format!(
            r"\b{}\b\D{{1,20}}?\b{}\b",
            regex::escape(a),
            regex::escape(b)
        ))
        .ok()?;
        return Some(match re.find(sentence) {
            Some(m) => (m.as_str().to_string(), EnglishSource::Translation),
            None => (format!("{a} of {b}"), EnglishSource::Rule),
        });
    }
    if unit.starts_with("ordinal") {
        let k: usize = n.parse().ok()?;
        let suffix = match (k % 10, k % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        let mut cands = vec![format!("{k}{suffix}")];
        if let Some(w) = ORDINALS.get(k) {
            cands.push(w.to_string());
        }
        return Some(match found(sentence, &cands) {
            Some(s) => (s, EnglishSource::Translation),
            None => (cands[0].clone(), EnglishSource::Rule),
        });
    }
    if let Some((_, text)) = english_numbers(sentence).into_iter().find(|(v, _)| v == n) {
        return Some((text, EnglishSource::Translation));
    }
    if let Ok(k) = n.parse::<usize>() {
        if let Some(w) = SMALL.get(k) {
            if let Some((a, b)) = find_word(sentence, w) {
                return Some((sentence[a..b].to_string(), EnglishSource::Translation));
            }
        }
    }
    Some((rule_number(n, unit), EnglishSource::Rule))
}

/// `1500000000` + `млрд доларів` → `1.5 billion dollars`.
fn rule_number(n: &str, unit: &str) -> String {
    let words: Vec<&str> = unit.split(' ').collect();
    let scale = match words.first().map(|w| w.trim_end_matches('.')) {
        Some("тис") => Some((3, "thousand")),
        Some("млн") => Some((6, "million")),
        Some("млрд") => Some((9, "billion")),
        Some("трлн") => Some((12, "trillion")),
        Some(w) if w.starts_with("тисяч") => Some((3, "thousand")),
        Some(w) if w.starts_with("мільйон") => Some((6, "million")),
        Some(w) if w.starts_with("мільярд") => Some((9, "billion")),
        _ => None,
    };
    let mut out = match scale {
        Some((exp, word)) => {
            let v = scale_down(n, exp);
            format!("{v} {word}")
        }
        None => n.to_string(),
    };
    let last = words.last().map(|w| w.trim_end_matches('.')).unwrap_or("");
    if let Some((_, en)) = UNITS_EN.iter().find(|(uk, _)| *uk == last) {
        if *en == "%" {
            out.push('%');
        } else {
            out = format!("{out} {en}");
        }
    }
    out
}

/// `1500000000`, 9 → `1.5`.
fn scale_down(n: &str, exp: usize) -> String {
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    let digits = format!("{int}{frac}");
    let point = int.len() as i64 - exp as i64;
    if point <= 0 {
        return n.to_string();
    }
    let (a, b) = digits.split_at(point as usize);
    let b = b.trim_end_matches('0');
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// Spelling variants folded together before comparing names
/// (`Dzhon`/`John`, `Kostello`/`Costello`, `Khovard`/`Howard`, `Lents`/`Lenz`,
/// `Bojev`/`Boyev`).
pub(crate) fn fold_spelling(name: &str) -> String {
    let mut l = name.to_lowercase();
    for (from, to) in [
        ("dzh", "j"),
        ("kh", "h"),
        ("ck", "k"),
        ("ph", "f"),
        ("tz", "z"),
        ("ts", "z"),
        ("c", "k"),
        ("w", "v"),
        ("g", "h"),
    ] {
        l = l.replace(from, to);
    }
    // `j` after a vowel is the glide `y`/`i` (`Bojev`/`Boiev`, `Sergij`).
    let mut out = String::with_capacity(l.len());
    let mut prev = None;
    for c in l.chars() {
        let glide = c == 'j' && prev.is_some_and(|p: char| "aeiouy".contains(p));
        out.push(if glide { 'y' } else { c });
        prev = Some(c);
    }
    out
}

/// A consonant skeleton for comparing spellings of one name
/// (`Umierov`/`Umerov` → `mrv`, `Kellog`/`Kellogg` → `klh`): spelling
/// variants folded, vowels and non-initial `h` dropped, doubles collapsed.
fn skeleton(name: &str) -> String {
    let l = fold_spelling(name);
    let mut out = String::new();
    for (i, c) in l.chars().enumerate() {
        if !c.is_alphabetic() || "aeiouy".contains(c) || (c == 'h' && i > 0) {
            continue;
        }
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

pub(crate) fn similar(a: &str, b: &str) -> bool {
    let (sa, sb) = (skeleton(a), skeleton(b));
    let (ca, cb): (Vec<char>, Vec<char>) = if sa.is_empty() || sb.is_empty() {
        (
            a.to_lowercase().chars().collect(),
            b.to_lowercase().chars().collect(),
        )
    } else {
        (sa.chars().collect(), sb.chars().collect())
    };
    let max = ca.len().max(cb.len());
    // First letters must agree (Kaja/Kaia vs Maia), after folding (C/K).
    if max == 0 || fold_spelling(a).chars().next() != fold_spelling(b).chars().next() {
        return false;
    }
    // One edit per four skeleton letters: `klh`/`kls` differ, `srhv`/`srhf` match.
    levenshtein(&ca, &cb) <= max / 4
}

/// Capitalised words of an English sentence with byte spans (a possessive
/// `'s` is not part of the word).
pub(crate) fn capitalized_words(sentence: &str) -> Vec<(usize, usize)> {
    static R: OnceLock<Regex> = OnceLock::new();
    let re = R.get_or_init(|| Regex::new(r"\b\p{Lu}[\p{L}\-]*").expect("valid"));
    re.find_iter(sentence)
        .map(|m| (m.start(), m.end()))
        .collect()
}

fn person(f: &Fact, sentence: &str) -> Option<(String, EnglishSource)> {
    let nominative = f.normalized.clone().unwrap_or_else(|| f.text.clone());
    let latin = transliterate(&nominative);
    let parts: Vec<&str> = latin.split(' ').collect();
    let words = capitalized_words(sentence);
    let word = |k: usize| &sentence[words[k].0..words[k].1];
    // Consecutive words separated by whitespace only.
    let adjacent = |k: usize| sentence[words[k].1..words[k + 1].0].trim().is_empty();
    if parts.len() > 1 && words.len() >= parts.len() {
        for k in 0..=words.len() - parts.len() {
            let run = k..k + parts.len();
            if run.clone().skip(1).all(|m| adjacent(m - 1))
                && run.clone().zip(&parts).all(|(m, p)| similar(word(m), p))
            {
                let (a, b) = (words[k].0, words[k + parts.len() - 1].1);
                return Some((sentence[a..b].to_string(), EnglishSource::Translation));
            }
        }
    }
    let surname = parts.last()?;
    if let Some(k) = (0..words.len()).find(|&k| similar(word(k), surname)) {
        // `Newt Gingrich` for `Ньют Гінгріч`: the word before the surname
        // is the given name when it starts with the same letter.
        let given_en = (parts.len() > 1 && k > 0 && adjacent(k - 1))
            .then(|| word(k - 1))
            .filter(|g| fold_spelling(g).chars().next() == fold_spelling(parts[0]).chars().next());
        let mut full: Vec<&str> = match given_en {
            Some(g) => vec![g],
            None => parts[..parts.len() - 1].to_vec(),
        };
        full.push(word(k));
        return Some((full.join(" "), EnglishSource::Translation));
    }
    Some((latin, EnglishSource::Transliteration))
}

fn named(f: &Fact, sentence: &str) -> Option<(String, EnglishSource)> {
    let nominative = f.normalized.as_deref().unwrap_or(&f.text);
    match lexicon::gazetteer().by_nominative(nominative) {
        Some(e) => {
            let cands: Vec<String> = e.english.iter().map(|s| s.to_string()).collect();
            Some(match found(sentence, &cands) {
                Some(s) => (s, EnglishSource::Translation),
                None => (e.english[0].to_string(), EnglishSource::Lexicon),
            })
        }
        None => {
            let latin = transliterate(nominative);
            Some(match find_word(sentence, &latin) {
                Some((a, b)) => (sentence[a..b].to_string(), EnglishSource::Translation),
                None => (latin, EnglishSource::Transliteration),
            })
        }
    }
}

/// A gazetteer event (`Рамштайн`): its English name as the translation
/// spells it, else the lexicon's.
fn gazetteer_event(f: &Fact, sentence: &str) -> Option<(String, EnglishSource)> {
    let e = lexicon::gazetteer().by_nominative(f.normalized.as_deref().unwrap_or(""))?;
    let cands: Vec<String> = e.english.iter().map(|s| s.to_string()).collect();
    Some(match found(sentence, &cands) {
        Some(s) => (s, EnglishSource::Translation),
        None => (e.english[0].to_string(), EnglishSource::Lexicon),
    })
}

/// English keywords of an event phrase's lemma (the first is its English
/// noun).
fn event_keywords(f: &Fact) -> Option<&'static [&'static str]> {
    let lemma = f
        .text
        .split(|c: char| !c.is_alphabetic() && c != '-' && c != '\'' && c != '’')
        .find_map(event_lemma)?;
    EVENT_NOUNS
        .iter()
        .find(|(l, _, _)| *l == lemma)
        .map(|(_, _, k)| *k)
}

/// Byte offsets of every whole-word occurrence of any of `words` in `hay`, in order.
fn word_starts(hay: &str, words: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    for w in words {
        let mut from = 0;
        while let Some((a, b)) = find_word(&hay[from..], w) {
            out.push(from + a);
            from += b;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The English clause of an event phrase (`f.text`), taken from its aligned
/// English sentence at one of the lemma's keywords:
/// * the k-th event of a sentence among those whose keywords overlap
///   (`зустріч`, `засідання` → "meeting") takes the k-th keyword occurrence,
///   so two meetings in one sentence never both get the first;
/// * when names, places or bodies inside the phrase were found in the
///   translation, the clause (up to its punctuation) must contain one of
///   them; otherwise another occurrence is tried;
/// * with no such clause, the lexicon's noun for the lemma, with the English
///   of the names inside the phrase (`meeting (Coalition of the Willing)`):
///   never the wording of another part of the sentence, never Ukrainian only.
fn event(f: &Fact, facts: &[Fact], sentence: &str) -> Option<(String, EnglishSource)> {
    let keywords = event_keywords(f)?;
    let inner: Vec<&Fact> = facts
        .iter()
        .filter(|g| !std::ptr::eq(*g, f) && within(g, f) && g.english.is_some())
        .collect();
    let anchors: Vec<&str> = inner
        .iter()
        .filter(|g| g.english_source == Some(EnglishSource::Translation))
        .filter_map(|g| g.english.as_deref())
        .collect();
    let rank = facts
        .iter()
        .filter(|g| {
            g.kind == FactKind::Event
                && g.sentence == f.sentence
                && g.span.0 < f.span.0
                && event_keywords(g).is_some_and(|k| k.iter().any(|w| keywords.contains(w)))
        })
        .count();
    let starts = word_starts(sentence, keywords);
    let clause = |a: usize| {
        let rest = &sentence[a..];
        let end = rest
            .find([',', '.', ';', ':', '!', '?', '"', '('])
            .unwrap_or(rest.len());
        let whole = &rest[..end];
        let words: Vec<&str> = whole.split_whitespace().collect();
        let n = clause_len(&words, EVENT_WORDS);
        (words[..n].join(" "), whole)
    };
    let anchored = |whole: &str| {
        let w = whole.to_lowercase();
        anchors.iter().any(|x| w.contains(&x.to_lowercase()))
    };
    if anchors.is_empty() {
        if let Some(&a) = starts.get(rank) {
            return Some((clause(a).0, EnglishSource::Translation));
        }
    } else {
        for &a in starts.iter().skip(rank).chain(starts.iter().take(rank)) {
            let (text, whole) = clause(a);
            if anchored(whole) {
                return Some((text, EnglishSource::Translation));
            }
        }
    }
    // Names inside the phrase, outermost only (`NATO` inside `NATO-Ukraine
    // Council` is not repeated), each once.
    let mut names: Vec<&str> = Vec::new();
    for g in &inner {
        let nested = inner.iter().any(|h| h.span != g.span && within(g, h));
        let name = g.kind != FactKind::Date && g.kind != FactKind::Number;
        if let (false, true, Some(e)) = (nested, name, g.english.as_deref()) {
            if !names.contains(&e) {
                names.push(e);
            }
        }
    }
    let noun = keywords[0];
    Some(if names.is_empty() {
        (noun.to_string(), EnglishSource::Lexicon)
    } else {
        (
            format!("{noun} ({})", names.join(", ")),
            EnglishSource::Lexicon,
        )
    })
}

/// Whether `inner`'s span lies inside `outer`'s, in the same sentence.
fn within(inner: &Fact, outer: &Fact) -> bool {
    inner.sentence == outer.sentence && outer.span.0 <= inner.span.0 && inner.span.1 <= outer.span.1
}

/// Words an event's English clause keeps, about.
const EVENT_WORDS: usize = 10;

/// How many of `words` a clause of about `max` words keeps without cutting
/// a name: when word `max` and the next are both capitalised (`General
/// Keith | Kellogg`), the clause runs on to the end of the name (three more
/// words at most), or, for a longer run, stops before it.
fn clause_len(words: &[&str], max: usize) -> usize {
    let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let n = words.len().min(max);
    if n == 0 || n == words.len() || !(capital(words[n - 1]) && capital(words[n])) {
        return n;
    }
    let more = words[n..].iter().take(3).take_while(|w| capital(w)).count();
    if words.get(n + more).is_none_or(|w| !capital(w)) {
        return n + more;
    }
    let run = words[..n].iter().rev().take_while(|w| capital(w)).count();
    (n - run).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_similarity() {
        assert!(similar("Umerov", "Umierov"));
        assert!(similar("Kellogg", "Kellog"));
        assert!(similar("Rutte", "Riutte"));
        assert!(similar("Serhiy", "Serhii"));
        assert!(!similar("Kallas", "Kellog"));
        assert!(!similar("Kyiv", "Kaia"));
        assert!(similar("John", "Dzhon"));
        assert!(similar("Howard", "Khovard"));
        assert!(similar("Costello", "Kostello"));
        assert!(similar("Lenz", "Lents"));
        assert!(!similar("Sybiha", "Syrskyi"));
    }

    #[test]
    fn event_clause_keeps_names_whole() {
        let words = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        let met = words(
            "met with US President's Special Envoy for Ukraine General Keith Kellogg who is here",
        );
        // Word 10 ("Keith") and 11 are capitalised: the name is completed.
        assert_eq!(clause_len(&met, 10), 11);
        // The clause ends inside lower-case words: cut at the limit.
        let talks = words("held talks on the supply of air defence systems to the front line");
        assert_eq!(clause_len(&talks, 10), 10);
        // A capitalised run too long to complete: stop before it.
        let long = words("visit to the A B C D E F G H I J K");
        assert_eq!(clause_len(&long, 5), 3);
        // Shorter than the limit, or empty: every word.
        assert_eq!(clause_len(&words("met Keith Kellogg"), 10), 3);
        assert_eq!(clause_len(&[], 10), 0);
    }

    #[test]
    fn numbers_in_english() {
        let v = english_numbers("NATO mobilised about $1.5 billion and 2,300 drones, 30%.");
        let vals: Vec<&str> = v.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(vals, ["1500000000", "2300", "30"]);
        assert_eq!(
            rule_number("1500000000", "млрд доларів"),
            "1.5 billion dollars"
        );
        assert_eq!(rule_number("42000000", "млн євро"), "42 million euros");
    }
}
