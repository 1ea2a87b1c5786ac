//! Numbers with a scale word: «1,5 млрд доларів» is "1.5 billion dollars",
//! never "1.5 trillion". The digit check cannot see this (the digits are
//! the same), and it is the error that makes a figure in a digest wrong by
//! a factor of a thousand. Here: the scaled numbers of a Ukrainian and of
//! an English text, the English ones whose scale the source contradicts,
//! and the rewrite to the source's scale where it is unambiguous.
use regex::Regex;
use std::sync::OnceLock;

/// A number with a scale word: its value as written (decimal point, no
/// thousands separators) and the power of ten of the scale.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scaled {
    value: String,
    exp: u8,
    /// Byte range of the scale word (English: what a rewrite replaces).
    word: std::ops::Range<usize>,
}

/// English scale words, for a rewrite: 10³, 10⁶, 10⁹, 10¹².
fn english_word(exp: u8) -> &'static str {
    match exp {
        3 => "thousand",
        6 => "million",
        9 => "billion",
        _ => "trillion",
    }
}

fn ukrainian() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)(\d+(?:[.,]\d+)?)\s*(тис|тисяч\w*|млн|мільйон\w*|млрд|мільярд\w*|трлн|трильйон\w*)\b")
            .expect("valid regex")
    })
}

fn english() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"(?i)(\d+(?:[.,]\d+)*)[\s-]*(thousands?|millions?|billions?|trillions?|bn|tn|mln)\b",
        )
        .expect("valid regex")
    })
}

fn uk_exp(word: &str) -> u8 {
    let w = word.to_lowercase();
    if w.starts_with("тис") {
        3
    } else if w.starts_with("млн") || w.starts_with("мільйон") {
        6
    } else if w.starts_with("млрд") || w.starts_with("мільярд") {
        9
    } else {
        12
    }
}

fn en_exp(word: &str) -> u8 {
    let w = word.to_lowercase();
    if w.starts_with("thousand") {
        3
    } else if w.starts_with("million") || w == "mln" {
        6
    } else if w.starts_with("billion") || w == "bn" {
        9
    } else {
        12
    }
}

/// Ukrainian numbers: the comma is the decimal mark (`1,5`).
fn scaled_uk(text: &str) -> Vec<Scaled> {
    ukrainian()
        .captures_iter(text)
        .map(|c| Scaled {
            value: c[1].replace(',', "."),
            exp: uk_exp(&c[2]),
            word: c.get(2).expect("group").range(),
        })
        .collect()
}

/// English numbers: a comma before three digits groups thousands
/// (`1,500 million`), any other comma is a decimal mark.
fn scaled_en(text: &str) -> Vec<Scaled> {
    english()
        .captures_iter(text)
        .map(|c| {
            let mut value = String::new();
            let parts: Vec<&str> = c[1].split(',').collect();
            for (i, p) in parts.iter().enumerate() {
                let grouping = i > 0 && p.len() == 3 && !p.contains('.');
                if i > 0 && !grouping {
                    value.push('.');
                }
                value.push_str(p);
            }
            Scaled {
                value,
                exp: en_exp(&c[2]),
                word: c.get(2).expect("group").range(),
            }
        })
        .collect()
}

/// The scaled numbers of a Ukrainian source, read once for the checks of
/// its English.
#[derive(Debug, Clone, Default)]
pub struct SourceScales(Vec<Scaled>);

impl SourceScales {
    pub fn of(uk: &str) -> Self {
        SourceScales(scaled_uk(uk))
    }

    /// The scales the source gives the number `value`.
    fn exps(&self, value: &str) -> Vec<u8> {
        self.0
            .iter()
            .filter(|s| s.value == value)
            .map(|s| s.exp)
            .collect()
    }

    /// The scaled numbers of `en` whose scale the source contradicts: the
    /// source writes the same number, always with another scale (`1.5
    /// trillion` for «1,5 млрд»). A number the source does not have is the
    /// digit check's business, not this one's.
    pub fn contradicted(&self, en: &str) -> Vec<String> {
        scaled_en(en)
            .into_iter()
            .filter(|e| {
                let exps = self.exps(&e.value);
                !exps.is_empty() && exps.iter().all(|&x| x != e.exp)
            })
            .map(|e| format!("{} {}", e.value, &en[e.word]))
            .collect()
    }

    /// `en` with each contradicted scale word replaced by the source's,
    /// when the source gives that number one scale only (`1.5 trillion
    /// dollars` → `1.5 billion dollars` for «1,5 млрд доларів»).
    pub fn correct(&self, en: &str) -> String {
        let mut out = en.to_string();
        // Right to left, so earlier ranges stay valid.
        for e in scaled_en(en).into_iter().rev() {
            let exps = self.exps(&e.value);
            let Some(&exp) = exps.first() else { continue };
            if exps.iter().all(|&x| x == exp) && exp != e.exp {
                out.replace_range(e.word.clone(), english_word(exp));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contradicted(uk: &str, en: &str) -> Vec<String> {
        SourceScales::of(uk).contradicted(en)
    }

    fn correct(uk: &str, en: &str) -> String {
        SourceScales::of(uk).correct(en)
    }

    const SRC: &str = "Вже мобілізовано близько 1,5 млрд доларів військової допомоги.";

    #[test]
    fn a_wrong_scale_is_found_and_corrected() {
        let en = "About 1.5 trillion dollars of military aid has been mobilized.";
        assert_eq!(contradicted(SRC, en), vec!["1.5 trillion"]);
        assert_eq!(
            correct(SRC, en),
            "About 1.5 billion dollars of military aid has been mobilized."
        );
        assert!(contradicted(SRC, &correct(SRC, en)).is_empty());
    }

    #[test]
    fn right_scales_and_other_numbers_are_left_alone() {
        for en in [
            "About 1.5 billion dollars of military aid has been mobilized.",
            "About $1.5bn of military aid has been mobilized.",
            "Some 2 million people left.",
            "It was mobilized.",
        ] {
            assert!(contradicted(SRC, en).is_empty(), "{en}");
            assert_eq!(correct(SRC, en), en);
        }
        // Word forms and spellings of the scales.
        let uk = "Бюджет — 500 мільйонів гривень, борг — 2 трлн, внесок — 10 тис. доларів.";
        assert!(contradicted(
            uk,
            "a budget of 500 million, a debt of 2 trillion, 10 thousand"
        )
        .is_empty());
        assert_eq!(
            contradicted(
                uk,
                "a budget of 500 billion hryvnias and 10 million dollars"
            ),
            vec!["500 billion", "10 million"]
        );
        assert_eq!(
            correct(
                uk,
                "a budget of 500 billion hryvnias and 10 million dollars"
            ),
            "a budget of 500 million hryvnias and 10 thousand dollars"
        );
    }

    #[test]
    fn ambiguous_sources_are_flagged_but_not_rewritten() {
        let uk = "Спершу 2 млн, потім 2 млрд.";
        let en = "First 2 trillion, then 2 trillion.";
        assert_eq!(contradicted(uk, en).len(), 2);
        assert_eq!(correct(uk, en), en);
        // English grouping commas and decimal commas.
        assert_eq!(scaled_en("1,500 million")[0].value, "1500");
        assert_eq!(scaled_en("1,5 billion")[0].value, "1.5");
    }
}
