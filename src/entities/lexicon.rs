//! The entity lexicon (`data/entities.toml`, compiled in): canonical
//! English names of people, the words and phrases of roles, and the
//! Russian-derived place spellings that are rewritten to the Ukrainian-
//! derived ones.
use crate::facts::text::{folded_stem, normalize_word, tokenize, TokKind};
use serde::Deserialize;
use std::sync::OnceLock;

const DATA: &str = include_str!("../../data/entities.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    person: Vec<PersonEntry>,
    #[serde(default)]
    role: Vec<RoleRow>,
    #[serde(default)]
    place_variant: Vec<PlaceVariant>,
    #[serde(default)]
    spelling: Vec<Spelling>,
    #[serde(default)]
    term: Vec<TermEntry>,
}

/// A house-style spelling: `wrong` (whole words, either case of its first
/// letter) is written `en`, except inside one of the `keep` phrases
/// (official names spelled otherwise).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spelling {
    pub wrong: String,
    pub en: String,
    #[serde(default)]
    pub keep: Vec<String>,
    /// An English sentence with `wrong`, and the same with the rule applied.
    pub example: [String; 2],
}

/// A word form written with two capitals or more (`БпЛА`, `ЗСУ`): an
/// abbreviation, not a capitalised word.
pub fn is_abbreviation(form: &str) -> bool {
    form.chars().filter(|c| c.is_uppercase()).count() >= 2
}

/// A common word the translator must render one way (`мир` is peace,
/// which chat models trained mostly on Russian render as "world").
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermEntry {
    /// The Ukrainian word forms, lower case (a capitalised word is a name
    /// and does not count), or an abbreviation's forms as written (two
    /// capitals or more: «БпЛА», «БПЛА»), which count only as written.
    pub uk: Vec<String>,
    /// The English for the glossary.
    pub en: String,
    /// English words any one of which shows the term was kept (empty:
    /// the term is not checked, only its `wrong` renderings corrected).
    pub check: Vec<String>,
    /// English phrases that render the term wrongly (`the world`,
    /// `world`), tried in order and rewritten to `en` where the source has
    /// the term and no word that would license them (`unless`).
    #[serde(default)]
    pub wrong: Vec<String>,
    /// Beginnings of Ukrainian words that license a `wrong` phrase
    /// (`світ`: «світ», «світові» are the world).
    #[serde(default)]
    pub unless: Vec<String>,
    /// A Ukrainian sentence with the term.
    pub example: String,
}

/// A person whose English spelling is fixed by the lexicon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonEntry {
    /// Nominative Ukrainian name, given name(s) first.
    pub uk: String,
    /// The canonical English name.
    pub en: String,
    /// Other English spellings, rewritten to `en`.
    #[serde(default)]
    pub variants: Vec<String>,
    /// A Ukrainian sentence mentioning the person (checked by the tests).
    #[serde(default)]
    pub example: Option<String>,
}

impl PersonEntry {
    /// The Ukrainian surname (the last word of `uk`).
    pub fn surname_uk(&self) -> &str {
        self.uk.split_whitespace().last().unwrap_or("")
    }
}

/// How a role word or phrase takes part in the English role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    Prefix,
    Title,
    Of,
    Rank,
    Whole,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRow {
    uk: String,
    en: String,
    kind: RoleKind,
}

/// A role word or phrase with its matching key.
#[derive(Debug, Clone)]
pub struct RoleEntry {
    pub uk: String,
    pub en: String,
    pub kind: RoleKind,
    /// Folded stems of the Ukrainian words.
    pub stems: Vec<String>,
}

/// A wrong (Russian-derived or outdated) English place spelling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceVariant {
    pub wrong: String,
    pub en: String,
}

pub struct Lexicon {
    pub people: Vec<PersonEntry>,
    pub roles: Vec<RoleEntry>,
    pub place_variants: Vec<PlaceVariant>,
    pub spellings: Vec<Spelling>,
    pub terms: Vec<TermEntry>,
}

/// The words of a phrase as folded stems (acronyms kept whole, lower case).
pub fn phrase_stems(phrase: &str) -> Vec<String> {
    tokenize(phrase, 0)
        .iter()
        .filter(|t| t.kind != TokKind::Punct)
        .map(|t| {
            if t.is_all_caps() || t.kind == TokKind::Number {
                normalize_word(t.text)
            } else {
                folded_stem(t.text)
            }
        })
        .collect()
}

fn parse(text: &str) -> Result<Lexicon, String> {
    let f: File = toml::from_str(text).map_err(|e| format!("data/entities.toml: {e}"))?;
    let roles = f
        .role
        .into_iter()
        .map(|r| RoleEntry {
            stems: phrase_stems(&r.uk),
            uk: r.uk,
            en: r.en,
            kind: r.kind,
        })
        .collect();
    Ok(Lexicon {
        people: f.person,
        roles,
        place_variants: f.place_variant,
        spellings: f.spelling,
        terms: f.term,
    })
}

/// The compiled-in lexicon.
pub fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| parse(DATA).expect("data/entities.toml is checked by the tests"))
}

impl Lexicon {
    /// The entry for a person's nominative name: the same full name, or
    /// the same surname with a given name of the same initial (or none).
    pub fn person(&self, nominative: &str) -> Option<&PersonEntry> {
        let norm = |s: &str| normalize_word(s.trim());
        let want = norm(nominative);
        if let Some(e) = self.people.iter().find(|e| norm(&e.uk) == want) {
            return Some(e);
        }
        let words: Vec<&str> = nominative.split_whitespace().collect();
        let surname = norm(words.last()?);
        let initial = words
            .first()
            .filter(|_| words.len() > 1)
            .and_then(|w| w.chars().next())
            .map(|c| c.to_lowercase().collect::<String>());
        self.people.iter().find(|e| {
            norm(e.surname_uk()) == surname
                && match &initial {
                    None => true,
                    Some(i) => {
                        e.uk.chars()
                            .next()
                            .map(|c| c.to_lowercase().collect::<String>())
                            == Some(i.clone())
                    }
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexicon_parses_and_is_clean() {
        let l = parse(DATA).unwrap();
        assert!(l.people.len() >= 30, "{}", l.people.len());
        let cyr = |s: &str| s.chars().any(|c| ('\u{400}'..='\u{52f}').contains(&c));
        let mut seen = std::collections::HashSet::new();
        for p in &l.people {
            assert!(
                seen.insert(normalize_word(&p.uk)),
                "duplicate person {}",
                p.uk
            );
            assert!(
                p.uk.split_whitespace().count() >= 2,
                "{}: given name and surname",
                p.uk
            );
            assert!(cyr(&p.uk), "{}: the Ukrainian name is Cyrillic", p.uk);
            for en in std::iter::once(&p.en).chain(&p.variants) {
                assert!(
                    !en.trim().is_empty() && !cyr(en),
                    "{}: `{en}` must be Latin",
                    p.uk
                );
            }
            assert!(
                !p.variants.contains(&p.en),
                "{}: a variant equals the name",
                p.uk
            );
            assert!(p.example.is_some(), "{}: every person has an example", p.uk);
        }
        for r in &l.roles {
            assert!(!r.stems.is_empty() && !cyr(&r.en), "role {}", r.uk);
        }
        for v in &l.place_variants {
            assert!(!cyr(&v.wrong) && !cyr(&v.en) && v.wrong != v.en, "{v:?}");
        }
        for sp in &l.spellings {
            assert!(
                !cyr(&sp.wrong) && !cyr(&sp.en) && sp.wrong != sp.en,
                "{sp:?}"
            );
            assert_eq!(
                crate::entities::apply_spellings(&sp.example[0]),
                sp.example[1],
                "spelling `{}`",
                sp.wrong
            );
            for k in &sp.keep {
                assert_eq!(crate::entities::apply_spellings(k), *k, "kept `{k}`");
            }
        }
        for t in &l.terms {
            assert!(
                !t.uk.is_empty() && (!t.check.is_empty() || !t.wrong.is_empty()) && !cyr(&t.en),
                "{t:?}"
            );
            for f in &t.uk {
                assert!(
                    *f == f.to_lowercase() || is_abbreviation(f),
                    "term forms are lower case or abbreviations: {f}"
                );
                assert!(cyr(f), "{f}");
            }
            for f in &t.unless {
                assert_eq!(f, &f.to_lowercase(), "`unless` forms are lower case: {f}");
                assert!(cyr(f), "{f}");
            }
            for w in &t.wrong {
                assert!(!cyr(w) && !t.check.contains(w), "{t:?}");
            }
            assert_eq!(
                crate::entities::terms_in(&t.example),
                vec![t],
                "term `{}`: its example must mention it",
                t.en
            );
        }
    }

    #[test]
    fn people_are_found_by_nominative_or_surname() {
        let l = lexicon();
        assert_eq!(l.person("Рустем Умєров").unwrap().en, "Rustem Umerov");
        assert_eq!(l.person("Умєров").unwrap().en, "Rustem Umerov");
        assert_eq!(l.person("Р. Умєров").unwrap().en, "Rustem Umerov");
        assert!(l.person("Олег Умєров").is_none());
        assert!(l.person("Іван Петренко").is_none());
    }

    #[test]
    fn bad_lexicon_files_are_refused() {
        assert!(parse("[[person]]\nuk = \"А Б\"\n").is_err());
        assert!(parse("[[role]]\nuk = \"а\"\nen = \"b\"\nkind = \"odd\"\n").is_err());
        assert!(parse("[[oops]]\n").is_err());
    }
}
