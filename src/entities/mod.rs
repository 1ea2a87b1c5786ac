//! The entity table of an article: each person, organisation, place and
//! named event once, with one canonical English form (and, for people, the
//! English role), built from the deterministic facts before translation
//! and enforced in everything the digest writes in English.
//!
//! Canonical forms come from, in order: the lexicon (`data/entities.toml`:
//! established English spellings of people), the gazetteer (places and
//! organisations, `src/facts/lexicon.rs`: its first English name), for
//! people of foreign names the translation's spelling when it is a
//! spelling of the same name, and KMU 2010 transliteration.
//!
//! The table then
//! * gives the translator a glossary per sentence ([`EntityTable::glossary`]),
//! * rewrites other spellings of an entity in English text to the
//!   canonical one, and Russian-derived place names to the Ukrainian-derived
//!   ones ([`EntityTable::canonicalize`]),
//! * checks that every glossary entity of a sentence appears in its English
//!   ([`EntityTable::missing`]),
//! * and grounds the names and numbers of a summary ([`Grounding`]).
pub mod dates;
pub mod lexicon;
pub mod numbers;
pub mod roles;
pub mod scale;
pub mod titles;

use crate::article::Article;
use crate::facts::english::{capitalized_words, fold_spelling, similar};

/// Adjectives English uses for a place (`Russian attacks` for «атаки
/// Росії»): a place counts as named when its adjective is there.
const DEMONYMS: &[(&str, &str)] = &[
    ("Ukraine", "Ukrainian"),
    ("Russia", "Russian"),
    ("Europe", "European"),
    ("United States", "American"),
    ("US", "American"),
    ("France", "French"),
    ("Germany", "German"),
    ("United Kingdom", "British"),
    ("China", "Chinese"),
    ("Poland", "Polish"),
    ("Iran", "Iranian"),
    ("North Korea", "North Korean"),
    ("Belarus", "Belarusian"),
    ("Kyiv", "Kyiv's"),
];
use crate::facts::lexicon::gazetteer;
use crate::facts::patterns::gazetteer_matches;
use crate::facts::text::{same_stem, tokenize};
use crate::facts::{transliterate, EnglishSource, Fact, FactKind};
use lexicon::lexicon;
use std::collections::HashSet;

pub use roles::english_role;

/// Given names that are not Ukrainian: a person with one of them keeps
/// the translation's spelling of the name (`Newt Gingrich`, not the
/// transliterated `Niut Hinhrich`) when it is a spelling of the same name.
const FOREIGN_GIVEN_NAMES: &[&str] = &[
    "Дональд",
    "Джо",
    "Емманюель",
    "Еммануель",
    "Ентоні",
    "Пітер",
    "Джон",
    "Ллойд",
    "Піт",
    "Кая",
    "Урсула",
    "Стів",
    "Стівен",
    "Девід",
    "Джеймс",
    "Альберт",
    "Томас",
    "Майкл",
    "Річард",
    "Роберт",
    "Вільям",
    "Джордж",
    "Чарльз",
    "Барак",
    "Мітт",
    "Ньют",
    "Фрідріх",
    "Олаф",
    "Ангела",
    "Тереза",
    "Хілларі",
    "Камала",
    "Джорджа",
    "Кіт",
    "Марк",
    "Антоніу",
    "Кір",
    "Єнс",
    "Марко",
    "Енн",
    "Ніколя",
    "Борис",
    "Ріші",
    "Мартін",
    "Вольфганг",
];

/// One entity of an article.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub kind: FactKind,
    /// Nominative Ukrainian name (the fact's `normalized`).
    pub uk: String,
    /// The canonical English form.
    pub en: String,
    pub source: EnglishSource,
    /// People: the role in Ukrainian and in English.
    pub role_uk: Option<String>,
    pub role_en: Option<String>,
    /// Other English spellings rewritten to `en` (lexicon variants; the
    /// gazetteer's Russian-derived place names).
    pub variants: Vec<String>,
    /// Fixed before translation (lexicon or gazetteer): enforced in the
    /// translation as a glossary entry.
    pub enforced: bool,
}

impl Entity {
    /// The word of `en` the checks look for: a person's surname (the
    /// last word), otherwise the whole name.
    fn key(&self) -> &str {
        match self.kind {
            FactKind::Person => self.en.split_whitespace().last().unwrap_or(&self.en),
            _ => &self.en,
        }
    }

    fn is_foreign_person(&self) -> bool {
        let given = self.uk.split_whitespace().next().unwrap_or("");
        self.uk.split_whitespace().count() > 1 && FOREIGN_GIVEN_NAMES.contains(&given)
    }
}

/// A glossary line for the translator: Ukrainian nominative → English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub uk: String,
    pub en: String,
}

/// The entities of one article.
#[derive(Debug, Clone, Default)]
pub struct EntityTable {
    pub entities: Vec<Entity>,
}

/// Does `hay` contain `needle` as a whole word, ASCII case-insensitively?
fn has_word(hay: &str, needle: &str) -> bool {
    crate::facts::english::find_word(hay, needle).is_some()
}

/// Is `c` a Cyrillic letter?
pub fn is_cyrillic(c: char) -> bool {
    ('\u{400}'..='\u{52f}').contains(&c) || ('\u{2de0}'..='\u{2dff}').contains(&c)
}

/// Does the text hold any Cyrillic letter?
pub fn has_cyrillic(s: &str) -> bool {
    s.chars().any(is_cyrillic)
}

impl EntityTable {
    /// The table of an article from its deterministic facts.
    pub fn build(facts: &[Fact]) -> EntityTable {
        let mut entities: Vec<Entity> = Vec::new();
        let mut seen: HashSet<(FactKind, String)> = HashSet::new();
        for f in facts {
            if !matches!(
                f.kind,
                FactKind::Person | FactKind::Place | FactKind::Organization | FactKind::Event
            ) {
                continue;
            }
            let uk = f.normalized.clone().unwrap_or_else(|| f.text.clone());
            let entity = match f.kind {
                FactKind::Person => person_entity(&uk, f.role.as_deref()),
                _ => match gazetteer().by_nominative(&uk) {
                    Some(e) => Entity {
                        kind: f.kind,
                        uk: uk.clone(),
                        en: e.english[0].to_string(),
                        source: EnglishSource::Lexicon,
                        role_uk: None,
                        role_en: None,
                        variants: place_variants(e.english[0]),
                        enforced: true,
                    },
                    // Events without a name (`зустріч у Брюсселі`) are
                    // phrases, not entities; unknown organisations are
                    // transliterated acronyms (`КМВА` → `KMVA`).
                    None if f.kind == FactKind::Organization => Entity {
                        kind: f.kind,
                        uk: uk.clone(),
                        en: transliterate(&uk),
                        source: EnglishSource::Transliteration,
                        role_uk: None,
                        role_en: None,
                        variants: Vec::new(),
                        enforced: false,
                    },
                    None => continue,
                },
            };
            if seen.insert((entity.kind, normalize(&entity.uk))) {
                entities.push(entity);
            } else if let Some(e) = entities
                .iter_mut()
                .find(|e| e.kind == entity.kind && normalize(&e.uk) == normalize(&entity.uk))
            {
                if e.role_uk.is_none() {
                    e.role_uk = entity.role_uk;
                    e.role_en = entity.role_en;
                }
            }
        }
        EntityTable { entities }
    }

    /// The entities a Ukrainian text mentions (any case form).
    pub fn mentioned_in(&self, uk_text: &str) -> Vec<&Entity> {
        self.mentions(uk_text, false)
    }

    /// The entities a Ukrainian text mentions; with `named_only`, places
    /// and organisations that only complete a role (`Міністр оборони
    /// України`, which English writes as `Defence Minister`) are left out.
    fn mentions(&self, uk_text: &str, named_only: bool) -> Vec<&Entity> {
        let toks = tokenize(uk_text, 0);
        let gaz = gazetteer_matches(&toks);
        let heads = crate::facts::lexicon::role_heads();
        let in_role = |first: usize| {
            (first.saturating_sub(4)..first).any(|i| heads.contains_key(&toks[i].lower()))
        };
        self.entities
            .iter()
            .filter(|e| match e.kind {
                FactKind::Person => {
                    let surname = e.uk.split_whitespace().last().unwrap_or("");
                    toks.iter()
                        .any(|t| t.is_capitalized() && same_stem(t.text, surname))
                }
                _ => gaz.iter().any(|g| {
                    normalize(g.entry.nominative) == normalize(&e.uk)
                        && !(named_only && in_role(g.first))
                }),
            })
            .collect()
    }

    /// The glossary of a Ukrainian sentence: the enforced entities it
    /// mentions, the English roles of the people it names with their role
    /// (a hint: roles are not checked, English words them in many ways),
    /// then the lexicon's terms it uses.
    pub fn glossary(&self, uk_text: &str) -> Vec<Term> {
        let mentioned = self.mentioned_in(uk_text);
        let toks = tokenize(uk_text, 0);
        let names = mentioned.iter().filter(|e| e.enforced).map(|e| Term {
            uk: e.uk.clone(),
            en: e.en.clone(),
        });
        let roles = mentioned.iter().filter_map(|e| {
            let (uk, en) = (e.role_uk.as_ref()?, e.role_en.as_ref()?);
            role_written_in(uk, &toks).then(|| Term {
                uk: uk.clone(),
                en: en.clone(),
            })
        });
        let terms = terms_in(uk_text).into_iter().map(|t| Term {
            uk: t.uk[0].clone(),
            en: t.en.clone(),
        });
        names.chain(roles).chain(terms).collect()
    }

    /// After translation: people whose English was not fixed by the
    /// lexicon get their canonical form — the translation's spelling for a
    /// foreign name when it is a spelling of the transliterated one,
    /// otherwise the KMU 2010 transliteration already set.
    pub fn settle(&mut self, english: &[&str]) {
        for e in &mut self.entities {
            if e.kind != FactKind::Person || e.enforced || !e.is_foreign_person() {
                continue;
            }
            if let Some(found) = english.iter().find_map(|s| person_in(s, &e.en)) {
                if found.split_whitespace().count() == e.en.split_whitespace().count() {
                    e.variants.push(e.en.clone());
                    e.en = found;
                    e.source = EnglishSource::Translation;
                }
            }
        }
    }

    /// `en` with every entity written in its canonical form: other
    /// spellings of a person's name (`Umierov`, `Umєrov` → `Umerov`), the
    /// lexicon's variants, Russian-derived place names (`Kiev` → `Kyiv`).
    pub fn canonicalize(&self, en: &str) -> String {
        let mut out = apply_spellings(&replace_place_variants(en));
        for e in &self.entities {
            for v in &e.variants {
                if v != &e.en {
                    out = replace_word(&out, v, &e.en);
                }
            }
            // A foreign name not settled yet: the translation's spelling
            // (`John Grant`) is the better one, not the transliteration
            // (`Dzhon Hrant`); [`EntityTable::settle`] adopts it afterwards.
            let unsettled_foreign =
                e.source == EnglishSource::Transliteration && !e.enforced && e.is_foreign_person();
            if e.kind == FactKind::Person && !unsettled_foreign {
                out = rewrite_person(&out, &e.en);
            }
        }
        out
    }

    /// The glossary entities of `uk_text` that `en` does not name, then
    /// the glossary terms it does not render.
    pub fn missing(&self, uk_text: &str, en: &str) -> Vec<String> {
        self.mentions(uk_text, true)
            .into_iter()
            .filter(|e| e.enforced && !self.names(e, en))
            .map(|e| e.key().to_string())
            .chain(
                terms_in(uk_text)
                    .into_iter()
                    .filter(|t| !t.check.is_empty() && !t.check.iter().any(|w| has_word(en, w)))
                    .map(|t| t.en.clone()),
            )
            .collect()
    }

    fn names(&self, e: &Entity, en: &str) -> bool {
        if has_word(en, e.key()) {
            return true;
        }
        if DEMONYMS
            .iter()
            .any(|(place, adj)| *place == e.en && has_word(en, adj))
        {
            return true;
        }
        // Other names of the same place or organisation are fine
        // (`European Union` for «ЄС»); only people have one spelling.
        e.kind != FactKind::Person
            && gazetteer()
                .by_nominative(&e.uk)
                .is_some_and(|g| g.english.iter().any(|n| has_word(en, n)))
    }

    /// Facts in the table's English: each person, place, organisation and
    /// named event gets its canonical form (and people their English role).
    pub fn apply_to_facts(&self, facts: &mut [Fact]) {
        for f in facts.iter_mut() {
            let uk = f.normalized.clone().unwrap_or_else(|| f.text.clone());
            let Some(e) = self
                .entities
                .iter()
                .find(|e| e.kind == f.kind && normalize(&e.uk) == normalize(&uk))
            else {
                continue;
            };
            f.english = Some(e.en.clone());
            f.english_source = Some(e.source);
            if f.kind == FactKind::Person {
                f.role_en = f
                    .role
                    .as_deref()
                    .and_then(english_role)
                    .or(e.role_en.clone());
            }
        }
    }

    /// The names and roles the summarizer is told to use, one per line.
    pub fn prompt_lines(&self) -> String {
        let mut out = String::new();
        for e in &self.entities {
            if e.kind == FactKind::Event && !e.enforced {
                continue;
            }
            match &e.role_en {
                Some(r) => out.push_str(&format!("- {} ({r})\n", e.en)),
                None => out.push_str(&format!("- {}\n", e.en)),
            }
        }
        out
    }

    /// Every word of the table's English names (lower case), for grounding.
    pub fn words(&self) -> HashSet<String> {
        let mut w = HashSet::new();
        for e in &self.entities {
            for name in std::iter::once(&e.en)
                .chain(&e.variants)
                .chain(e.role_en.iter())
            {
                w.extend(name_words(name));
            }
            if let Some(g) = gazetteer().by_nominative(&e.uk) {
                for n in g.english {
                    w.extend(name_words(n));
                }
            }
        }
        w
    }
}

/// Is the role `role_uk` (nominative) written in the tokens `toks`, in
/// any case form? Every word of it of more than two letters has a word of
/// the same stem there (`спецпредставником президента США` for
/// `спецпредставник президента США`).
fn role_written_in(role_uk: &str, toks: &[crate::facts::text::Tok]) -> bool {
    let words: Vec<&str> = role_uk
        .split_whitespace()
        .filter(|w| w.chars().count() > 2)
        .collect();
    !words.is_empty()
        && words
            .iter()
            .all(|w| toks.iter().any(|t| same_stem(t.text, w)))
}

fn normalize(s: &str) -> String {
    crate::facts::text::normalize_word(s.trim())
}

/// Lower-case words of a name, possessive `'s` dropped.
pub fn name_words(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| {
            w.trim_end_matches("'s")
                .trim_matches(|c: char| c == '\'' || c == '-')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn person_entity(nominative: &str, role_uk: Option<&str>) -> Entity {
    let role_en = role_uk.and_then(english_role);
    match lexicon().person(nominative) {
        Some(p) => {
            let mut variants = p.variants.clone();
            let latin = transliterate(&p.uk);
            if latin != p.en {
                variants.push(latin);
            }
            Entity {
                kind: FactKind::Person,
                uk: nominative.to_string(),
                en: p.en.clone(),
                source: EnglishSource::Lexicon,
                role_uk: role_uk.map(str::to_string),
                role_en,
                variants,
                enforced: true,
            }
        }
        None => Entity {
            kind: FactKind::Person,
            uk: nominative.to_string(),
            en: transliterate(nominative),
            source: EnglishSource::Transliteration,
            role_uk: role_uk.map(str::to_string),
            role_en,
            variants: Vec::new(),
            enforced: false,
        },
    }
}

/// The lexicon's wrong spellings of a place.
fn place_variants(en: &str) -> Vec<String> {
    lexicon()
        .place_variants
        .iter()
        .filter(|v| v.en == en)
        .map(|v| v.wrong.clone())
        .collect()
}

fn replace_place_variants(en: &str) -> String {
    let mut out = en.to_string();
    for v in &lexicon().place_variants {
        out = replace_word(&out, &v.wrong, &v.en);
    }
    out
}

/// The lexicon's terms that the Ukrainian `uk_text` uses: one of a term's
/// word forms, written in lower case (a capitalised form inside a sentence
/// is a name: «Мирний» the town) or capitalised as a sentence's first word
/// («Водночас, …»), an abbreviation's form exactly as written («БпЛА»), or
/// a phrase's words in a row, its first word in either case (a sentence
/// may start with «Начальник штабу»), the others in lower case.
pub fn terms_in(uk_text: &str) -> Vec<&'static lexicon::TermEntry> {
    let toks = tokenize(uk_text, 0);
    let mut words: HashSet<String> = toks.iter().map(|t| t.text.to_string()).collect();
    for (i, t) in toks.iter().enumerate() {
        let mut j = i;
        while j > 0 && ["«", "\"", "“", "„", "("].contains(&toks[j - 1].text) {
            j -= 1;
        }
        let starts = j == 0 || [".", "!", "?", "…"].contains(&toks[j - 1].text);
        if starts && t.is_title_case() {
            words.insert(t.lower());
        }
    }
    let phrase_at = |i: usize, parts: &[&str]| {
        parts.iter().enumerate().all(|(j, p)| {
            toks.get(i + j).is_some_and(|t| {
                if j == 0 {
                    t.lower() == *p
                } else {
                    t.text == *p
                }
            })
        })
    };
    let used = |form: &str| {
        let parts: Vec<&str> = form.split(' ').collect();
        if parts.len() > 1 {
            return (0..toks.len()).any(|i| phrase_at(i, &parts));
        }
        words.contains(form)
            && (lexicon::is_abbreviation(form)
                || form.chars().next().is_some_and(char::is_lowercase))
    };
    lexicon()
        .terms
        .iter()
        .filter(|t| t.uk.iter().any(|f| used(f)))
        .collect()
}

/// `en` with the lexicon's wrong renderings of a term (`world` for «мир»)
/// rewritten to the term's English, where the Ukrainian `uk_text` uses the
/// term and no word that licenses the wrong one (`світ`).
pub fn correct_terms(uk_text: &str, en: &str) -> String {
    let terms = terms_in(uk_text);
    if terms.iter().all(|t| t.wrong.is_empty()) {
        return en.to_string();
    }
    let words: Vec<String> = tokenize(uk_text, 0).iter().map(|w| w.lower()).collect();
    let licensed = |t: &lexicon::TermEntry| {
        words
            .iter()
            .any(|w| t.unless.iter().any(|u| w.starts_with(u.as_str())))
    };
    let mut out = en.to_string();
    for t in terms {
        if t.wrong.is_empty() || licensed(t) {
            continue;
        }
        for wrong in &t.wrong {
            for (from, to) in [
                (wrong.clone(), t.en.clone()),
                (upper_first(wrong), upper_first(&t.en)),
            ] {
                out = replace_word(&out, &from, &to);
            }
        }
    }
    out
}

/// `en` in the lexicon's house-style spellings (`Minister of Defense` →
/// `Minister of Defence`; official names in a rule's `keep` list stay).
pub fn apply_spellings(en: &str) -> String {
    let mut out = en.to_string();
    for sp in &lexicon().spellings {
        for (wrong, right) in [
            (sp.wrong.clone(), sp.en.clone()),
            (upper_first(&sp.wrong), upper_first(&sp.en)),
        ] {
            out = replace_word_outside(&out, &wrong, &right, &sp.keep);
        }
    }
    out
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `hay` with whole-word, case-sensitive occurrences of `from` replaced,
/// except those inside one of the `keep` phrases of `hay`.
fn replace_word_outside(hay: &str, from: &str, to: &str, keep: &[String]) -> String {
    if from.is_empty() || !hay.contains(from) {
        return hay.to_string();
    }
    let kept: Vec<std::ops::Range<usize>> = keep
        .iter()
        .flat_map(|k| hay.match_indices(k.as_str()).map(|(i, m)| i..i + m.len()))
        .collect();
    let mut out = String::with_capacity(hay.len());
    let mut last = 0;
    for (pos, _) in hay.match_indices(from) {
        let end = pos + from.len();
        let before = hay[..pos].chars().next_back();
        let after = hay[end..].chars().next();
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric());
        let inside = kept.iter().any(|r| r.start <= pos && end <= r.end);
        if boundary(before) && boundary(after) && !inside {
            out.push_str(&hay[last..pos]);
            out.push_str(to);
            last = end;
        }
    }
    out.push_str(&hay[last..]);
    out
}

/// `hay` with whole-word, case-sensitive occurrences of `from` replaced.
fn replace_word(hay: &str, from: &str, to: &str) -> String {
    replace_word_outside(hay, from, to, &[])
}

/// Is `w` another spelling of the name `name`? Spelled alike after the
/// usual transliteration variants ([`similar`]), and close letter by
/// letter too: `Umierov`/`Umerov`, `Shmygaly`/`Shmyhal`, `Kelloh`/`Kellogg`,
/// but not `Service`/`Serhieiev`.
fn same_name(w: &str, name: &str) -> bool {
    if !similar(w, name) {
        return false;
    }
    // Letters compared after folding the known variants (`Sergyev` is
    // `Serhyev`, three edits from `Serhieiev`).
    let (a, b): (Vec<char>, Vec<char>) = (
        fold_spelling(w).chars().collect(),
        fold_spelling(name).chars().collect(),
    );
    crate::facts::text::levenshtein(&a, &b) <= (a.len().max(b.len()) / 3).max(1)
}

/// A run of capitalised words of `sentence` that spells the person
/// `canonical` (`Kit Kellog` for `Kit Kelloh`), if any.
fn person_in(sentence: &str, canonical: &str) -> Option<String> {
    let parts: Vec<&str> = canonical.split_whitespace().collect();
    let surname = *parts.last()?;
    let words = capitalized_words(sentence);
    let k = (0..words.len()).find(|&k| same_name(&sentence[words[k].0..words[k].1], surname))?;
    let first = given_before(
        sentence,
        &words,
        k,
        parts.first().copied().filter(|_| parts.len() > 1),
    );
    let a = first.map_or(words[k].0, |j| words[j].0);
    Some(sentence[a..words[k].1].to_string())
}

/// The index of the given name just before word `k`, when it starts like `given`.
fn given_before(
    sentence: &str,
    words: &[(usize, usize)],
    k: usize,
    given: Option<&str>,
) -> Option<usize> {
    let given = given?;
    let j = k.checked_sub(1)?;
    let between = &sentence[words[j].1..words[k].0];
    let w = &sentence[words[j].0..words[j].1];
    (between.trim().is_empty()
        && fold_spelling(w).chars().next() == fold_spelling(given).chars().next())
    .then_some(j)
}

/// `sentence` with other spellings of the person `canonical` rewritten:
/// a capitalised word spelled like the surname becomes the surname, and a
/// given name before it the given name(s).
fn rewrite_person(sentence: &str, canonical: &str) -> String {
    let parts: Vec<&str> = canonical.split_whitespace().collect();
    let Some(&surname) = parts.last() else {
        return sentence.to_string();
    };
    let given = (parts.len() > 1).then(|| parts[..parts.len() - 1].join(" "));
    let words = capitalized_words(sentence);
    let mut out = String::with_capacity(sentence.len());
    let mut at = 0;
    let mut k = 0;
    while k < words.len() {
        let (a, b) = words[k];
        let w = &sentence[a..b];
        if w != surname && same_name(w, surname) {
            let j = given_before(
                sentence,
                &words,
                k,
                given.as_deref().and_then(|g| g.split(' ').next()),
            );
            let start = j.map_or(a, |j| words[j].0);
            if start >= at {
                out.push_str(&sentence[at..start]);
                match (j, &given) {
                    (Some(_), Some(g)) => out.push_str(&format!("{g} {surname}")),
                    _ => out.push_str(surname),
                }
                at = b;
            }
        } else if let (true, Some(g)) = (w == surname, &given) {
            // The surname is right, the given name another spelling
            // (`Kaie Kallas`).
            let first = g.split(' ').next().unwrap_or(g);
            if let Some(j) = given_before(sentence, &words, k, Some(first)) {
                let (ga, gb) = words[j];
                let gw = &sentence[ga..gb];
                if gw != first && similar(gw, first) && ga >= at {
                    out.push_str(&sentence[at..ga]);
                    out.push_str(g);
                    at = gb;
                }
            }
        }
        k += 1;
    }
    out.push_str(&sentence[at..]);
    out
}

/// English text with its Cyrillic words transliterated (KMU 2010), and
/// how many words that was. The last resort after the translator's
/// retries: no English field keeps a Cyrillic letter.
pub fn transliterate_cyrillic(en: &str) -> (String, usize) {
    transliterate_words(en, has_cyrillic)
}

/// English text with its mixed-script words (`Fonsека`, `Umєrov`: Latin
/// and Cyrillic letters in one word) transliterated, and how many there
/// were. Such a word is a slip inside a Latin-script rendering, not an
/// untranslated one: its Latin letters stand, the Cyrillic ones are
/// transliterated, and the sentence needs no new translation.
pub fn transliterate_mixed_words(en: &str) -> (String, usize) {
    transliterate_words(en, |w| {
        has_cyrillic(w) && w.chars().any(|c| c.is_ascii_alphabetic())
    })
}

fn transliterate_words(en: &str, pick: impl Fn(&str) -> bool) -> (String, usize) {
    let mut out = String::with_capacity(en.len());
    let mut n = 0;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String, n: &mut usize| {
        if pick(word) {
            *n += 1;
            let t = transliterate(word);
            // Letters outside the table (rare scripts) are dropped, not kept.
            out.extend(t.chars().filter(|&c| !is_cyrillic(c)));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in en.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '’' {
            word.push(c);
        } else {
            flush(&mut word, &mut out, &mut n);
            out.push(c);
        }
    }
    flush(&mut word, &mut out, &mut n);
    (out, n)
}

/// What the summary's names and numbers may be: words of the entity
/// table, of the English translation and title, and the source's digits.
pub struct Grounding {
    words: HashSet<String>,
    /// Stems of the words the translation writes in lower case (common
    /// words, for reading Title Case headlines).
    common: HashSet<String>,
    digits: HashSet<String>,
    /// The scaled numbers of the Ukrainian source.
    scales: scale::SourceScales,
}

/// Words a Title Case headline capitalises that are not names.
const HEADLINE_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "with",
    "from",
    "into",
    "over",
    "after",
    "before",
    "amid",
    "about",
    "against",
    "as",
    "is",
    "are",
    "was",
    "were",
    "be",
    "new",
    "says",
    "said",
    "say",
    "speaks",
    "spoke",
    "talks",
    "meets",
    "met",
    "holds",
    "held",
    "discusses",
    "discussed",
    "calls",
    "called",
    "urges",
    "warns",
    "signs",
    "visits",
    "agrees",
    "plans",
    "seeks",
    "backs",
    "vows",
    "steps",
    "up",
    "out",
    "off",
    "down",
    "key",
    "main",
    "more",
    "most",
    "its",
    "his",
    "her",
    "their",
    "our",
    "during",
    "between",
    "among",
    "under",
    "within",
    "without",
    "toward",
    "towards",
    "via",
    "per",
    "not",
    "no",
];

/// A light English stem: possessive and the usual inflections dropped.
fn en_stem(w: &str) -> String {
    let w = w.trim_end_matches("'s").to_lowercase();
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(stem) = w.strip_suffix(suffix) {
            if stem.chars().count() >= 3 {
                return stem.to_string();
            }
        }
    }
    w
}

/// Is most of the text capitalised (a Title Case headline)?
fn is_title_case(text: &str) -> bool {
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 4)
        .collect();
    let caps = words
        .iter()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .count();
    words.len() >= 2 && caps * 10 >= words.len() * 7
}

/// English words that start sentences and are not names.
const COMMON_STARTS: &[&str] = &[
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
    "this",
    "that",
    "these",
    "those",
    "he",
    "she",
    "it",
    "they",
    "we",
    "i",
    "his",
    "her",
    "its",
    "their",
    "our",
    "after",
    "before",
    "during",
    "while",
    "both",
    "also",
    "according",
    "as",
    "at",
    "by",
    "for",
    "from",
    "with",
    "meanwhile",
    "however",
    "additionally",
    "furthermore",
    "moreover",
    "there",
    "here",
    "today",
    "yesterday",
    "tomorrow",
    "minister",
    "president",
    "officials",
    "sides",
    "parties",
    "talks",
    "meeting",
    "discussions",
    "key",
    "main",
    "new",
    "overall",
    "summary",
    "headline",
    "ukrainian",
    "russian",
    "european",
];

const CALENDAR: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A problem a summary sentence has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ungrounded {
    /// A name the article does not have.
    Name(String),
    /// Digits the article does not have.
    Number(String),
    /// Cyrillic letters in the English.
    Cyrillic,
}

impl std::fmt::Display for Ungrounded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ungrounded::Name(n) => write!(f, "name `{n}`"),
            Ungrounded::Number(n) => write!(f, "number `{n}`"),
            Ungrounded::Cyrillic => f.write_str("Cyrillic letters"),
        }
    }
}

impl Grounding {
    /// `english` is the article's translation (held-out sentences left out).
    pub fn new(table: &EntityTable, title_en: &str, english: &[&str], source_text: &str) -> Self {
        let mut words = table.words();
        for s in english.iter().copied().chain(std::iter::once(title_en)) {
            words.extend(name_words(s));
        }
        let digits = numbers::number_runs(source_text)
            .into_iter()
            .chain(english.iter().flat_map(|s| numbers::number_runs(s)))
            .collect();
        let common = english
            .iter()
            .flat_map(|s| s.split(|c: char| !c.is_alphabetic() && c != '\''))
            .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
            .map(en_stem)
            .collect();
        Grounding {
            words,
            common,
            digits,
            scales: scale::SourceScales::of(source_text),
        }
    }

    /// The names of `text` (see [`Grounding::names_of`]); in a Title Case
    /// headline, capitalised words the translation uses as common words
    /// (`Discusses`, `Meeting`) are not names.
    fn names_in(&self, text: &str) -> Vec<String> {
        let names = Self::names_of(text);
        if !is_title_case(text) {
            return names;
        }
        names
            .into_iter()
            .filter(|n| {
                let l = n.trim_end_matches("'s").to_lowercase();
                !HEADLINE_WORDS.contains(&l.as_str()) && !self.common.contains(&en_stem(n))
            })
            .collect()
    }

    /// The names (capitalised word runs that are not a common sentence
    /// start or a calendar word) of an English text, each as its words.
    pub fn names_of(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (a, b) in capitalized_words(text) {
            let w = &text[a..b];
            let lw = w.trim_end_matches("'s").to_lowercase();
            let before = text[..a].trim_end();
            let sentence_start = before.is_empty()
                || before.ends_with(['.', '!', '?', ':', '"', '«', '“'])
                || before.ends_with("—");
            if CALENDAR.contains(&lw.as_str()) || lw.len() < 2 && lw != "i" {
                continue;
            }
            if sentence_start && COMMON_STARTS.contains(&lw.as_str()) {
                continue;
            }
            if lw == "i" {
                continue;
            }
            out.push(w.to_string());
        }
        out
    }

    /// The names and numbers of `text` the article does not have.
    pub fn check(&self, text: &str) -> Vec<Ungrounded> {
        let mut out = Vec::new();
        if has_cyrillic(text) {
            out.push(Ungrounded::Cyrillic);
        }
        for n in self.names_in(text) {
            let ok = name_words(&n).iter().all(|w| self.words.contains(w));
            if !ok {
                out.push(Ungrounded::Name(n));
            }
        }
        for g in numbers::number_groups(text) {
            if !numbers::number_present(&g, &self.digits) {
                out.push(Ungrounded::Number(g.concat()));
            }
        }
        // `1.5 trillion` where the source says «1,5 млрд».
        out.extend(
            self.scales
                .contradicted(text)
                .into_iter()
                .map(Ungrounded::Number),
        );
        out
    }

    /// Names and numbers of `text`, and how many of them are grounded.
    pub fn count(&self, text: &str) -> (usize, usize) {
        let names = self.names_in(text);
        let numbers = numbers::number_groups(text);
        let found = names
            .iter()
            .filter(|n| name_words(n).iter().all(|w| self.words.contains(w)))
            .count()
            + numbers
                .iter()
                .filter(|g| numbers::number_present(g, &self.digits))
                .count();
        (found, names.len() + numbers.len())
    }
}

/// The entity table of an article (facts extracted here).
pub fn table_of(article: &Article, source_text: &str) -> EntityTable {
    EntityTable::build(&crate::facts::extract(article, source_text))
}

#[cfg(test)]
mod tests;
