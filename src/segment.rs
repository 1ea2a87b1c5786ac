//! Sentence segmentation for Ukrainian news text.
//!
//! [`split_sentences`] is a rule-based splitter: a sentence ends at `.`,
//! `!`, `?`, `…` (plus any closing quotes or brackets after them) when
//! whitespace follows and the next word opens a sentence. It knows the
//! usual Ukrainian traps: abbreviations that precede a name or a number
//! (`вул. Хрещатик`, `м. Київ`, `ст. 15`, `т. зв.`), initials
//! (`В. О. Зеленський`), numbers, times and dates (`1,5`, `21:32`,
//! `11.04.2025`), domain names (`Leopolis.news`), and quoted speech
//! followed by its attribution (`…миру», – зазначив він.`), which is one
//! sentence.
//!
//! [`split_to_limit`] cuts a sentence that is too long for a translator
//! into clause-sized pieces without dropping any text.
use std::ops::Range;

/// Whitespace as the cleaner sees it: Unicode white space (including
/// no-break spaces), control characters and zero-width marks.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
        )
}

/// `range` with leading and trailing [`is_space`] characters removed.
pub fn trim_range(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = &text[range.clone()];
    let lead = slice.len() - slice.trim_start_matches(is_space).len();
    let trail = slice.len() - slice.trim_end_matches(is_space).len();
    if lead == slice.len() {
        return range.start..range.start;
    }
    range.start + lead..range.end - trail
}

/// Sentence terminators.
fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

/// Closing quotes and brackets that may follow a terminator.
fn is_closer(c: char) -> bool {
    matches!(c, '»' | '"' | '”' | '“' | '’' | '\'' | ')' | ']' | '›')
}

/// Opening quotes and brackets that may precede a sentence's first word.
fn is_opener(c: char) -> bool {
    matches!(c, '«' | '"' | '„' | '“' | '‘' | '\'' | '(' | '[' | '‹')
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—' | '‒' | '―')
}

/// Abbreviations (lower case, without the final period) that are followed
/// by a name, a number or a noun rather than ending a sentence:
/// `м. Київ`, `вул. Хрещатик`, `ст. 15`, `ім. Шевченка`, `5 дол. США`,
/// `e.g. Candle`.
///
/// Abbreviations that can end a sentence (`т.д.`, `т.п.`, `тис.`, `грн.`,
/// `н. е.`) are not listed: they split only before a capitalised word,
/// like any other word.
const NON_FINAL_ABBREVIATIONS: &[&str] = &[
    // places and addresses
    "м",
    "с",
    "смт",
    "сел",
    "вул",
    "просп",
    "пр",
    "пл",
    "бул",
    "бульв",
    "пров",
    "узв",
    "буд",
    "кв",
    "обл",
    "р-н",
    "о",
    "оз",
    "г", // references
    "р",
    "рр",
    "ст",
    "ім",
    "св",
    "див",
    "напр",
    "зокр",
    "пор",
    "п",
    "пп",
    "ч",
    "чч",
    "гл",
    "розд",
    "т",
    "тт",
    "стор",
    "рис",
    "табл",
    "мал",
    "прим",
    "т.зв",
    "т.ч",
    "букв",
    "дол",
    // titles and ranks
    "проф",
    "акад",
    "доц",
    "канд",
    "д-р",
    "ген",
    "полк",
    "підполк",
    "лейт",
    "гр",
    "тов",
    "заст",
    "ред",
    "упоряд", // languages
    "укр",
    "англ",
    "рос",
    "лат",
    "нім",
    "франц",
    "фр",
    "пол",
    "італ",
    "ісп",
    "грец",
    "араб",
    "кит",
    "яп", // Latin script
    "e.g",
    "i.e",
    "vs",
    "cf",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "jr",
    "sr",
    "no",
    "nos",
    "fig",
    "vol",
    "pp",
    "approx",
    "dept",
    "gen",
    "col",
    "lt",
    "sgt",
    "capt",
    "gov",
    "sen",
    "rev",
];

/// Of the abbreviations above, those that are also units of measure:
/// after a number (`на висоті 300 м.`) they may end a sentence.
const UNIT_ABBREVIATIONS: &[&str] = &["м", "с", "г", "т", "ч"];

/// Of the abbreviations above, year and century (`2025 р.`, `XX ст.`):
/// after a number they end a sentence unless they sit in its first few
/// words, where they open it as a time adverbial (`У 2014 р. Росія …`).
const YEAR_ABBREVIATIONS: &[&str] = &["р", "рр", "ст"];

/// How many words a sentence-opening time adverbial (`У 2014 р.`) spans.
const OPENING_ADVERBIAL_WORDS: usize = 4;

/// Split `text` into sentences. Returns byte ranges into `text`, in order,
/// each trimmed of surrounding whitespace and never empty. Text between
/// the ranges is whitespace only. A blank line is always a boundary, and
/// so is a line break before a list item (`- `, `• `).
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if i < start {
            // Whitespace after a boundary already taken.
            continue;
        }
        if c == '\n' {
            // A blank line (newline, optional spaces, newline) ends a
            // sentence, and so does a new line opening a list item.
            let rest = &text[i + 1..];
            let ws = rest.len() - rest.trim_start_matches(is_space).len();
            if rest[..ws].contains('\n') || opens_list_item(&rest[ws..]) {
                push_trimmed(text, start..i, &mut out);
                start = i + 1 + ws;
                while chars.peek().is_some_and(|&(j, _)| j < start) {
                    chars.next();
                }
            }
            continue;
        }
        if !is_terminal(c) {
            continue;
        }
        // The terminal cluster: terminators and closers, e.g. `?»` or `».`
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if is_terminal(d) || is_closer(d) {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let after = &text[end..];
        let Some(first) = after.chars().next() else {
            break;
        };
        if !is_space(first) {
            continue;
        }
        let next = end + (after.len() - after.trim_start_matches(is_space).len());
        if next >= text.len() {
            break;
        }
        if is_boundary(text, start, i, end, next) {
            push_trimmed(text, start..end, &mut out);
            start = next;
        }
    }
    push_trimmed(text, start..text.len(), &mut out);
    out
}

/// Whether `line` opens with a list marker and a space (`- `, `• `).
fn opens_list_item(line: &str) -> bool {
    let mut chars = line.chars();
    matches!(
        (chars.next(), chars.next()),
        (
            Some('-' | '•' | '*' | '·' | '▪' | '●' | '◦' | '–' | '—'),
            Some(' ' | '\u{a0}' | '\t')
        )
    )
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let r = trim_range(text, range);
    if !r.is_empty() {
        out.push(r);
    }
}

/// How the text after a candidate boundary begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// A capital letter or a digit, possibly after quotes or a bracket.
    Sentence,
    /// A lower-case letter: the sentence goes on.
    Continuation,
    /// Something else (a symbol, a bullet).
    Other,
}

fn opening(rest: &str) -> Opening {
    let mut it = rest.chars().peekable();
    // Skip openers; a dash introduces speech or an attribution, so look at
    // the word after it.
    while let Some(&c) = it.peek() {
        if is_opener(c) || is_dash(c) || is_space(c) {
            it.next();
        } else {
            break;
        }
    }
    match it.next() {
        Some(c) if c.is_lowercase() => Opening::Continuation,
        Some(c) if c.is_uppercase() || c.is_numeric() => Opening::Sentence,
        _ => Opening::Other,
    }
}

/// Decide whether the terminal cluster `text[term..end]`, followed by
/// whitespace and then `text[next..]`, ends the sentence that began at
/// `sent_start`.
fn is_boundary(text: &str, sent_start: usize, term: usize, end: usize, next: usize) -> bool {
    if opening(&text[next..]) == Opening::Continuation {
        return false;
    }
    let cluster = &text[term..end];
    let only_period = !cluster.contains(['!', '?', '…']) && !cluster.contains("..");
    if !only_period {
        return true;
    }
    // The word before the period, without opening quotes or closing marks.
    let before = &text[sent_start..term];
    let token_start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| is_space(c))
        .map_or(0, |(j, c)| j + c.len_utf8());
    let raw_token = &before[token_start..];
    let token = raw_token
        .trim_start_matches(is_opener)
        .trim_end_matches(is_closer);
    if token.is_empty() {
        return true;
    }
    let mut letters = token.chars();
    let first = letters.next().unwrap_or(' ');
    // An initial: `В. Зеленський`, `J. K. Rowling`.
    if first.is_uppercase() && letters.next().is_none() {
        return false;
    }
    // A list number at the start of the text: `1. Перше`.
    if token_start == 0 && token.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let lower = token.to_lowercase();
    let previous = previous_token(before, token_start);
    // Counting stops early: only "more than a few" matters, and a long
    // sentence must not be rescanned at every candidate.
    let words_before = before
        .split(is_space)
        .filter(|w| !w.is_empty())
        .take(OPENING_ADVERBIAL_WORDS + 1)
        .count();
    if is_non_final_abbreviation(&lower, previous, words_before) {
        return false;
    }
    // Spaced abbreviations: `т. зв. Назва`.
    if let Some(prev) = previous {
        let prev = prev.trim_end_matches('.');
        if prev.chars().count() <= 2 && prev.chars().all(char::is_alphabetic) {
            let joined = format!("{}.{}", prev.to_lowercase(), lower);
            if NON_FINAL_ABBREVIATIONS.contains(&joined.as_str()) {
                return false;
            }
        }
    }
    true
}

/// The whitespace-separated token that ends right before `token_start`
/// in `before`, if any.
fn previous_token(before: &str, token_start: usize) -> Option<&str> {
    let head = before[..token_start].trim_end_matches(is_space);
    if head.is_empty() {
        return None;
    }
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| is_space(c))
        .map_or(0, |(j, c)| j + c.len_utf8());
    Some(&head[start..])
}

/// `words_before` counts the words of the sentence up to and including
/// the abbreviation.
fn is_non_final_abbreviation(lower: &str, previous: Option<&str>, words_before: usize) -> bool {
    if !NON_FINAL_ABBREVIATIONS.contains(&lower) {
        return false;
    }
    let after_number = previous.is_some_and(is_number);
    // `300 м.` is a unit at the end of a sentence, `м. Київ` is not.
    if UNIT_ABBREVIATIONS.contains(&lower) && after_number {
        return false;
    }
    // `… до кінця 2025 р. Дякую` ends; `У 2014 р. Росія …` does not.
    if YEAR_ABBREVIATIONS.contains(&lower) && after_number && words_before > OPENING_ADVERBIAL_WORDS
    {
        return false;
    }
    true
}

/// Arabic (`2025`, `1,5`, `2014–2022`) or Roman (`XIX`) numbers.
fn is_number(token: &str) -> bool {
    let token = token.trim_start_matches(is_opener);
    token.chars().any(|c| c.is_ascii_digit())
        && token
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-' | '–'))
        || (!token.is_empty()
            && token
                .chars()
                .all(|c| matches!(c, 'I' | 'V' | 'X' | 'L' | 'C')))
}

/// Where a long sentence may be cut, from the most to the least natural.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Semicolon,
    Colon,
    Dash,
    Comma,
    Conjunction,
    Whitespace,
}

const CUTS: [Cut; 6] = [
    Cut::Semicolon,
    Cut::Colon,
    Cut::Dash,
    Cut::Comma,
    Cut::Conjunction,
    Cut::Whitespace,
];

/// Words that open a clause; a cut goes before them.
const CONJUNCTIONS: &[&str] = &[
    "і",
    "й",
    "та",
    "а",
    "але",
    "проте",
    "однак",
    "або",
    "чи",
    "що",
    "щоб",
    "який",
    "яка",
    "яке",
    "які",
    "якого",
    "якої",
    "якому",
    "яких",
    "де",
    "коли",
    "бо",
    "тому",
    "оскільки",
    "якщо",
    "хоча",
    "поки",
    "and",
    "but",
    "or",
    "which",
    "that",
    "because",
    "while",
    "when",
];

/// Split a sentence that measures more than `limit` (by `measure`, e.g. a
/// token count) into pieces at clause boundaries: `;`, then `:`, then
/// spaced dashes (` – `, ` — `), then `,`, then before conjunctions, and
/// finally at any whitespace.
///
/// Pieces are packed greedily, as long as they fit. Returns trimmed byte
/// ranges into `sentence`, in order; the text between them is whitespace
/// only, so nothing is dropped. Every piece measures at most `limit`
/// unless it is a single unbreakable word. A sentence that fits is
/// returned whole.
pub fn split_to_limit(
    sentence: &str,
    limit: usize,
    measure: &dyn Fn(&str) -> usize,
) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let whole = trim_range(sentence, 0..sentence.len());
    if !whole.is_empty() {
        split_at_level(sentence, whole, limit, measure, 0, &mut out);
    }
    out
}

fn split_at_level(
    text: &str,
    range: Range<usize>,
    limit: usize,
    measure: &dyn Fn(&str) -> usize,
    level: usize,
    out: &mut Vec<Range<usize>>,
) {
    if level >= CUTS.len() || measure(&text[range.clone()]) <= limit {
        out.push(range);
        return;
    }
    let cuts = cut_points(text, range.clone(), CUTS[level]);
    if cuts.is_empty() {
        split_at_level(text, range, limit, measure, level + 1, out);
        return;
    }
    // Greedy packing: extend the current piece over consecutive segments
    // while it fits; a single segment that does not fit goes one level down.
    let fits = |r: &Range<usize>| measure(&text[r.clone()]) <= limit;
    let mut piece_start = range.start;
    let mut fitting_end: Option<usize> = None;
    for bound in cuts.into_iter().chain(std::iter::once(range.end)) {
        let candidate = trim_range(text, piece_start..bound);
        if fits(&candidate) {
            fitting_end = Some(bound);
            continue;
        }
        if let Some(e) = fitting_end.take() {
            push_trimmed(text, piece_start..e, out);
            piece_start = e;
            let candidate = trim_range(text, piece_start..bound);
            if fits(&candidate) {
                fitting_end = Some(bound);
                continue;
            }
        }
        let oversized = trim_range(text, piece_start..bound);
        if !oversized.is_empty() {
            split_at_level(text, oversized, limit, measure, level + 1, out);
        }
        piece_start = bound;
    }
    if let Some(e) = fitting_end {
        push_trimmed(text, piece_start..e, out);
    }
}

/// Byte offsets inside `range` where a new piece may begin.
fn cut_points(text: &str, range: Range<usize>, cut: Cut) -> Vec<usize> {
    let slice = &text[range.clone()];
    let base = range.start;
    let mut cuts = Vec::new();
    let mut prev: Option<char> = None;
    let mut iter = slice.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        let next_is_space = next.is_some_and(is_space);
        let at = match cut {
            Cut::Semicolon if c == ';' && next_is_space => Some(i + 1),
            Cut::Colon if c == ':' && next_is_space => Some(i + 1),
            Cut::Comma if c == ',' && next_is_space => Some(i + 1),
            Cut::Dash if is_dash(c) && prev.is_some_and(is_space) && next_is_space => Some(i),
            Cut::Conjunction if prev.is_some_and(is_space) && c.is_alphabetic() => {
                let word_end = slice[i..]
                    .find(|ch: char| !ch.is_alphabetic())
                    .map_or(slice.len(), |k| i + k);
                let word = slice[i..word_end].to_lowercase();
                let followed_by_space = slice[word_end..].starts_with(is_space);
                (followed_by_space && CONJUNCTIONS.contains(&word.as_str())).then_some(i)
            }
            Cut::Whitespace if is_space(c) && next.is_some_and(|n| !is_space(n)) => {
                Some(i + c.len_utf8())
            }
            _ => None,
        };
        if let Some(at) = at {
            // Never cut at the very start: the first piece must hold text.
            if !slice[..at].trim_matches(is_space).is_empty() {
                cuts.push(base + at);
            }
        }
        prev = Some(c);
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn trims_and_keeps_order() {
        assert_eq!(sentences("  Один.  Два!  "), vec!["Один.", "Два!"]);
        assert!(split_sentences("   ").is_empty());
    }

    #[test]
    fn blank_line_is_a_boundary() {
        assert_eq!(
            sentences("Заголовок\n\nТекст далі"),
            vec!["Заголовок", "Текст далі"]
        );
        assert_eq!(
            sentences("рядок\nпродовження."),
            vec!["рядок\nпродовження."]
        );
    }
}

#[cfg(test)]
mod split_regressions {
    use super::*;

    /// Found by the property tests (`tests/props.rs`).
    #[test]
    fn cuts_inside_a_sentence_with_a_bullet_line() {
        let text = "В. О. Зеленський провів зустріч о 21:32 11.04.2025.\n• ще один\n";
        let measure = |t: &str| t.chars().count();
        for r in split_sentences(text) {
            let s = &text[r];
            for p in split_to_limit(s, 8, &measure) {
                assert!(p.start <= p.end && p.end <= s.len());
            }
        }
    }
}
