//! Word tokens with byte spans, and the light morphology the extractors
//! share (case-ending stripping and letter folding).
use super::translit::is_apostrophe;

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// Letters, with inner apostrophes and hyphens (`п’ятницю`, `генерал-майор`).
    Word,
    /// Digits.
    Number,
    /// Any other single non-space character.
    Punct,
}

/// A token of a sentence, with its absolute byte span in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
    pub kind: TokKind,
}

impl Tok<'_> {
    pub fn is_word(&self) -> bool {
        self.kind == TokKind::Word
    }

    /// `Умєров`, `Кітом`: an uppercase letter followed by lowercase ones.
    pub fn is_title_case(&self) -> bool {
        let mut chars = self.text.chars();
        match chars.next() {
            Some(c) if c.is_uppercase() => {
                let rest: Vec<char> = chars.filter(|c| c.is_alphabetic()).collect();
                !rest.is_empty() && rest.iter().all(|c| c.is_lowercase())
            }
            _ => false,
        }
    }

    /// Starts with an uppercase letter (title case or all capitals).
    pub fn is_capitalized(&self) -> bool {
        self.text.chars().next().is_some_and(|c| c.is_uppercase())
    }

    /// `НАТО`, `ЄС`: two or more letters, all capitals.
    pub fn is_all_caps(&self) -> bool {
        let letters: Vec<char> = self.text.chars().filter(|c| c.is_alphabetic()).collect();
        letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase())
    }

    pub fn is_lowercase_word(&self) -> bool {
        self.is_word() && self.text.chars().next().is_some_and(|c| c.is_lowercase())
    }

    pub fn lower(&self) -> String {
        normalize_word(self.text)
    }
}

/// Lowercase with apostrophes unified to `'` and dashes unified to `-`.
pub fn normalize_word(w: &str) -> String {
    w.chars()
        .map(|c| {
            if is_apostrophe(c) {
                '\''
            } else if is_dash(c) {
                '-'
            } else {
                c
            }
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Verb forms that end a role complement (`міністр заявив у розмові з …`).
pub fn is_verb_like(w: &str) -> bool {
    let l = normalize_word(w);
    [
        "ся", "сь", "ла", "ли", "ло", "ють", "ять", "ив", "ав", "ув", "їв",
    ]
    .iter()
    .any(|e| l.ends_with(e))
        && !["справ", "держав"].contains(&l.as_str())
        || ["провів", "розповів", "повів", "вів"].contains(&l.as_str())
}

pub fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—' | '‐' | '‑' | '−')
}

fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || c == '²' || c == '³'
}

/// Splits `text` (which starts at byte `base` of the source) into tokens.
pub fn tokenize(text: &str, base: usize) -> Vec<Tok<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let byte_at = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    while i < chars.len() {
        let (b, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start_i = i;
        let kind = if is_word_char(c) {
            i += 1;
            while i < chars.len() {
                let c = chars[i].1;
                let next_is_letter = chars.get(i + 1).is_some_and(|&(_, n)| n.is_alphabetic());
                if is_word_char(c) || ((is_apostrophe(c) || c == '-' || c == '‑') && next_is_letter)
                {
                    i += 1;
                } else {
                    break;
                }
            }
            TokKind::Word
        } else if c.is_ascii_digit() {
            while i < chars.len() && chars[i].1.is_ascii_digit() {
                i += 1;
            }
            TokKind::Number
        } else {
            i += 1;
            TokKind::Punct
        };
        let _ = start_i;
        let end = byte_at(i);
        toks.push(Tok {
            text: &text[b..end],
            start: base + b,
            end: base + end,
            kind,
        });
    }
    toks
}

/// Inflectional endings of Ukrainian nouns, adjectives and names, longest first.
const ENDINGS: &[&str] = &[
    "ськими",
    "ського",
    "ському",
    "ською",
    "ської",
    "ським",
    "ській",
    "ська",
    "ськи",
    "ами",
    "ями",
    "ові",
    "еві",
    "єві",
    "ого",
    "ому",
    "ими",
    "іми",
    "ієм",
    "ією",
    "ою",
    "ею",
    "єю",
    "ої",
    "ій",
    "ий",
    "ом",
    "ем",
    "єм",
    "ам",
    "ям",
    "ах",
    "ях",
    "ів",
    "їв",
    "ей",
    "им",
    "ім",
    "их",
    "іх",
    "ії",
    "ію",
    "ія",
    "а",
    "я",
    "у",
    "ю",
    "і",
    "и",
    "е",
    "о",
    "ь",
    "й",
    "ї",
    "є",
];

/// Strips one inflectional ending, keeping at least two letters of stem.
pub fn stem(word: &str) -> String {
    let w = normalize_word(word);
    for e in ENDINGS {
        if let Some(s) = w.strip_suffix(e) {
            if s.chars().count() >= 2 {
                return s.to_string();
            }
        }
    }
    w
}

/// A stem with the vowel alternations of declension folded together
/// (`Київ`/`Києві` → `кіів`), apostrophes and `ґ` normalised.
pub fn folded_stem(word: &str) -> String {
    stem(word)
        .chars()
        .filter(|&c| c != '\'')
        .map(|c| match c {
            'и' | 'ї' | 'є' | 'і' => 'і',
            'ґ' => 'г',
            c => c,
        })
        .collect()
}

/// Do two words share a stem (same lemma up to case endings)?
pub fn same_stem(a: &str, b: &str) -> bool {
    let (sa, sb) = (folded_stem(a), folded_stem(b));
    if sa == sb {
        return true;
    }
    // One alternation or a dropped letter in a long stem (Львів/Львова).
    let (ca, cb): (Vec<char>, Vec<char>) = (sa.chars().collect(), sb.chars().collect());
    ca.len() >= 5 && cb.len() >= 5 && levenshtein(&ca, &cb) <= 1
}

pub fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_spans_and_inner_marks() {
        let s = "У п’ятницю генерал-майор, 4,81 км².";
        let toks = tokenize(s, 10);
        let texts: Vec<&str> = toks.iter().map(|t| t.text).collect();
        assert_eq!(
            texts,
            [
                "У",
                "п’ятницю",
                "генерал-майор",
                ",",
                "4",
                ",",
                "81",
                "км²",
                "."
            ]
        );
        for t in &toks {
            assert_eq!(&s[t.start - 10..t.end - 10], t.text);
        }
    }

    #[test]
    fn stems_match_across_cases() {
        assert!(same_stem("Кітом", "Кіт"));
        assert!(same_stem("Келлогом", "Келлог"));
        assert!(same_stem("Києві", "Київ"));
        assert!(same_stem("Каєю", "Кая"));
        assert!(!same_stem("Келлог", "Каллас"));
    }
}
