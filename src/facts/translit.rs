//! Official Ukrainian → Latin transliteration (Resolution of the Cabinet of
//! Ministers of Ukraine No. 55, 27 January 2010).
//!
//! Position-dependent letters: Є, Ї, Й, Ю, Я are `Ye Yi Y Yu Ya` at the
//! start of a word and `ie i i iu ia` elsewhere; the soft sign and the
//! apostrophe are dropped; `зг` becomes `zgh` (to keep it apart from `ж`).
//! Words written in capitals stay in capitals (`ЗСУ` → `ZSU`); characters
//! that are not Ukrainian letters pass through unchanged.

/// Transliterates Ukrainian text with the KMU 2010 table.
pub fn transliterate(uk: &str) -> String {
    let chars: Vec<char> = uk.chars().collect();
    let mut out = String::with_capacity(uk.len());
    for (i, &c) in chars.iter().enumerate() {
        let lower = lower_char(c);
        if is_apostrophe(c) && i > 0 && is_uk_letter(chars[i - 1]) {
            continue;
        }
        let Some(word_start_form) = latin(lower, true) else {
            out.push(c);
            continue;
        };
        // Any letter before counts, Latin too: `Umєrov` is mid-word.
        let at_word_start =
            i == 0 || !(chars[i - 1].is_alphabetic() || is_apostrophe(chars[i - 1]));
        let mut latin_form = if at_word_start {
            word_start_form
        } else {
            latin(lower, false).unwrap_or_default()
        };
        if lower == 'г' && i > 0 && lower_char(chars[i - 1]) == 'з' {
            latin_form = "gh";
        }
        if c == lower {
            out.push_str(latin_form);
        } else if word_is_upper(&chars, i) {
            out.push_str(&latin_form.to_uppercase());
        } else {
            let mut it = latin_form.chars();
            if let Some(first) = it.next() {
                out.extend(first.to_uppercase());
                out.push_str(it.as_str());
            }
        }
    }
    out
}

fn lower_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Apostrophes used inside Ukrainian words.
pub(crate) fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '`' | '‘')
}

/// A letter of the Ukrainian alphabet (plus ё/ы/э/ъ seen in Russian names).
pub(crate) fn is_uk_letter(c: char) -> bool {
    latin(lower_char(c), false).is_some()
}

/// Is the word around position `i` written in capitals (two or more letters)?
fn word_is_upper(chars: &[char], i: usize) -> bool {
    let in_word = |c: char| is_uk_letter(c) || c.is_alphabetic();
    let mut start = i;
    while start > 0 && in_word(chars[start - 1]) {
        start -= 1;
    }
    let mut end = i + 1;
    while end < chars.len() && in_word(chars[end]) {
        end += 1;
    }
    let letters: Vec<char> = chars[start..end].to_vec();
    letters.len() >= 2 && letters.iter().all(|c| !c.is_lowercase())
}

/// The Latin form of a lowercase Ukrainian letter at a word start or inside a word.
fn latin(c: char, word_start: bool) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "h",
        'ґ' => "g",
        'д' => "d",
        'е' => "e",
        'є' => {
            if word_start {
                "ye"
            } else {
                "ie"
            }
        }
        'ж' => "zh",
        'з' => "z",
        'и' => "y",
        'і' => "i",
        'ї' => {
            if word_start {
                "yi"
            } else {
                "i"
            }
        }
        'й' => {
            if word_start {
                "y"
            } else {
                "i"
            }
        }
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ь' => "",
        'ю' => {
            if word_start {
                "yu"
            } else {
                "iu"
            }
        }
        'я' => {
            if word_start {
                "ya"
            } else {
                "ia"
            }
        }
        // Not in the Ukrainian alphabet; common in Russian names in the news.
        'ё' => "io",
        'ы' => "y",
        'э' => "e",
        'ъ' => "",
        _ => return None,
    })
}
