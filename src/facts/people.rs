//! People: `role + Name Surname` patterns, known given names, and later
//! bare-surname mentions linked to a full name. Names are normalised to the
//! nominative with a small rule set driven by the case of the given name
//! (from the lexicon) or of the role head (`спецпредставником` → Ins).
use super::lexicon::{given_names, role_heads, Case, Gender, ROLE_ADJ_STEMS};
use super::patterns::GazMatch;
use super::text::{folded_stem, is_verb_like, normalize_word, Tok};
use super::{Fact, FactKind, SentenceText};

const MAX_COMPLEMENT: usize = 12;

fn is_cyrillic_title(t: &Tok) -> bool {
    t.is_word()
        && t.is_title_case()
        && t.text
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(|c| ('\u{400}'..='\u{4ff}').contains(&c))
}

fn capitalize_like(word: &str, model: &str) -> String {
    if model.chars().next().is_some_and(|c| c.is_uppercase()) {
        let mut it = word.chars();
        match it.next() {
            Some(f) => f.to_uppercase().chain(it).collect(),
            None => String::new(),
        }
    } else {
        word.to_string()
    }
}

fn replace_suffix(w: &str, suffix: &str, with: &str) -> Option<String> {
    w.strip_suffix(suffix).map(|s| format!("{s}{with}"))
}

/// Nominative of a surname in `case` for `gender` (regular patterns only;
/// undeclined foreign names come back unchanged).
pub fn surname_nominative(w: &str, case: Case, gender: Gender) -> String {
    let rules: &[(&str, &str)] = match (gender, case) {
        (_, Case::Nom) => &[],
        (Gender::Masc, Case::Gen | Case::Acc) => &[
            ("ського", "ський"),
            ("цького", "цький"),
            ("ого", "ий"),
            ("ова", "ов"),
            ("ева", "ев"),
            ("єва", "єв"),
            ("іна", "ін"),
            ("їна", "їн"),
            ("ля", "ль"),
            ("а", ""),
        ],
        (Gender::Masc, Case::Dat) => &[
            ("ському", "ський"),
            ("ому", "ий"),
            ("ові", ""),
            ("еві", ""),
            ("єві", ""),
            ("ову", "ов"),
            ("еву", "ев"),
            ("єву", "єв"),
            ("лю", "ль"),
        ],
        (Gender::Masc, Case::Ins) => &[
            ("ським", "ський"),
            ("цьким", "цький"),
            ("овим", "ов"),
            ("евим", "ев"),
            ("євим", "єв"),
            ("іним", "ін"),
            ("їним", "їн"),
            ("им", "ий"),
            ("ом", ""),
            ("лем", "ль"),
            ("єм", "й"),
        ],
        (Gender::Fem, Case::Gen) => &[("ської", "ська"), ("цької", "цька"), ("ої", "а")],
        (Gender::Fem, Case::Dat) => &[
            ("ській", "ська"),
            ("цькій", "цька"),
            ("овій", "ова"),
            ("евій", "ева"),
        ],
        (Gender::Fem, Case::Acc) => &[
            ("ську", "ська"),
            ("цьку", "цька"),
            ("ову", "ова"),
            ("еву", "ева"),
        ],
        (Gender::Fem, Case::Ins) => &[
            ("ською", "ська"),
            ("цькою", "цька"),
            ("ою", "а"),
            ("єю", "я"),
            ("ею", "я"),
        ],
    };
    rules
        .iter()
        .find_map(|(suf, with)| replace_suffix(w, suf, with).filter(|s| s.chars().count() >= 2))
        .unwrap_or_else(|| w.to_string())
}

/// Nominative of an unknown given name in `case`.
fn given_nominative(w: &str, case: Case, gender: Gender) -> String {
    match (gender, case) {
        (Gender::Masc, Case::Ins) => replace_suffix(w, "ієм", "ій")
            .or_else(|| replace_suffix(w, "ом", ""))
            .unwrap_or_else(|| w.to_string()),
        (Gender::Masc, Case::Gen | Case::Acc) => replace_suffix(w, "ія", "ій")
            .or_else(|| replace_suffix(w, "а", ""))
            .unwrap_or_else(|| w.to_string()),
        (Gender::Fem, Case::Ins) => replace_suffix(w, "ією", "ія")
            .or_else(|| replace_suffix(w, "єю", "я"))
            .or_else(|| replace_suffix(w, "ою", "а"))
            .unwrap_or_else(|| w.to_string()),
        _ => w.to_string(),
    }
}

/// The nominative full name of name tokens, given the case/gender implied
/// by a role head (when there is one).
fn name_nominative(names: &[&Tok], role: Option<(Gender, Case)>) -> String {
    let known = given_names().get(names[0].text);
    let (gender, case) = match (known, role) {
        (Some(&(_, g, c)), _) => (g, c),
        (None, Some(gc)) => gc,
        (None, None) => (Gender::Masc, Case::Nom),
    };
    if names.len() == 1 {
        return surname_nominative(names[0].text, case, gender);
    }
    let mut parts = vec![match known {
        Some(&(nom, _, _)) => nom.to_string(),
        None => given_nominative(names[0].text, case, gender),
    }];
    parts.extend(
        names[1..]
            .iter()
            .map(|t| surname_nominative(t.text, case, gender)),
    );
    parts.join(" ")
}

/// Nominative of a role adjective stem (`Генеральним` → `Генеральний`).
fn adj_nominative(word: &str, stem: &str, gender: Gender) -> String {
    let lower = normalize_word(word);
    let rest = &lower[..stem.len().min(lower.len())];
    let soft = stem.ends_with("шн"); // колишній
    let end = match (gender, soft) {
        (Gender::Masc, false) => "ий",
        (Gender::Masc, true) => "ій",
        (Gender::Fem, false) => "а",
        (Gender::Fem, true) => "я",
    };
    capitalize_like(&format!("{rest}{end}"), word)
}

/// Words that end a role complement (`міністр під час зустрічі з …`).
const COMPLEMENT_BREAKS: &[&str] = &[
    "під",
    "час",
    "після",
    "для",
    "на",
    "до",
    "за",
    "при",
    "через",
    "про",
    "від",
    "що",
    "як",
    "який",
    "яка",
    "які",
    "разом",
    "вже",
    "також",
    "теж",
    "не",
];

/// May `word` (lower case) continue a role complement? `з`/`із` only before
/// a lower-case word (`з питань України`, not `з Марком Рютте`), `у`/`в`
/// only in `у справах`.
fn complement_word_ok(word: &str, next: Option<&Tok>) -> bool {
    match word {
        "з" | "із" | "зі" => next.is_some_and(|n| n.is_lowercase_word()),
        "у" | "в" => next.is_some_and(|n| n.lower() == "справах"),
        w => !COMPLEMENT_BREAKS.contains(&w),
    }
}

fn is_rank_or_honorific(head: &str) -> bool {
    matches!(head, "пані" | "пан" | "генерал") || head.starts_with("генерал-")
}

/// Endings of adjectives and of common nouns in oblique cases, which a
/// given name (the first of several name words) does not have.
const NOT_GIVEN_NAME_ENDINGS: &[&str] = &[
    "ого",
    "ої",
    "ому",
    "их",
    "ська",
    "ський",
    "ською",
    "ським",
    "ській",
    "ських",
    "ету",
    "ату",
    "оту",
    "иту",
    "ду",
];

/// Trims a run of capitalised words to a plausible personal name:
/// starts at a known given name inside the run (`Епл Стів Джобс` →
/// `Стів Джобс`), and rejects runs that start with an adjective or an
/// oblique-case common noun (`Водійського Чемпіонату`, `Підкомітету Нагляду`).
fn plausible_name<'a, 't>(run: &'a [Tok<'t>]) -> Option<Vec<&'a Tok<'t>>> {
    let known = |t: &Tok| given_names().contains_key(t.text);
    let start = (1..run.len().saturating_sub(1))
        .find(|&p| known(&run[p]))
        .unwrap_or(0);
    let names: Vec<&Tok> = run[start..].iter().collect();
    let first = names.first()?;
    if !known(first) {
        let l = first.lower();
        if NOT_GIVEN_NAME_ENDINGS.iter().any(|e| l.ends_with(e)) {
            return None;
        }
    }
    Some(names)
}

/// People in one sentence: `(facts, pending)`, where `pending` are
/// surname-only role mentions (`міністр Умєров`) that [`link_mentions`]
/// keeps only if a full name in the article matches them.
pub fn people(s: &SentenceText, toks: &[Tok], gaz: &[GazMatch]) -> (Vec<Fact>, Vec<Fact>) {
    let mut pending = Vec::new();
    let in_gaz = |i: usize| gaz.iter().find(|g| (g.first..=g.last).contains(&i));
    let heads = role_heads();
    let is_name_tok = |i: usize| {
        is_cyrillic_title(&toks[i]) && in_gaz(i).is_none() && !heads.contains_key(&toks[i].lower())
    };
    // `А. Садовий`: an initial, its full stop, a name word.
    let initial_at = |k: usize| {
        let Some(t) = toks.get(k) else {
            return false;
        };
        let mut letters = t.text.chars();
        t.is_word()
            && letters
                .next()
                .is_some_and(|c| c.is_uppercase() && ('\u{400}'..='\u{4ff}').contains(&c))
            && letters.next().is_none()
            && toks
                .get(k + 1)
                .is_some_and(|d| d.text == "." && d.start == t.end)
            && k + 2 < toks.len()
            && is_name_tok(k + 2)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        // Role: [adjective]{0,2} head complement* Name{1,3}
        let mut j = i;
        let mut adjs: Vec<(usize, &str)> = Vec::new();
        while j < toks.len() && adjs.len() < 2 && toks[j].is_word() {
            let l = toks[j].lower();
            if heads.contains_key(&l) {
                break;
            }
            match ROLE_ADJ_STEMS.iter().find(|st| l.starts_with(**st)) {
                Some(st) if j + 1 < toks.len() => {
                    adjs.push((j, st));
                    j += 1;
                }
                _ => break,
            }
        }
        let head = (j < toks.len() && toks[j].is_word())
            .then(|| heads.get(&toks[j].lower()))
            .flatten();
        let Some(&(head_nom, head_gender, head_case)) = head else {
            if let Some(p) = given_name_person(s, toks, i, &is_name_tok) {
                i = p.1;
                out.push(p.0);
            } else {
                i += 1;
            }
            continue;
        };
        let mut k = j + 1;
        let mut complement = 0;
        while k < toks.len() && complement < MAX_COMPLEMENT {
            let t = &toks[k];
            if initial_at(k) {
                break;
            } else if let Some(g) = in_gaz(k) {
                k = g.last + 1;
            } else if t.is_word()
                && (t.is_all_caps()
                    || (t.is_lowercase_word()
                        && !is_verb_like(t.text)
                        && complement_word_ok(&t.lower(), toks.get(k + 1))))
            {
                k += 1;
            } else {
                break;
            }
            complement += 1;
        }
        let initial = initial_at(k).then(|| toks[k].text);
        let first = if initial.is_some() { k + 2 } else { k };
        let mut n = first;
        while n < toks.len() && n - first < 3 && is_name_tok(n) && (initial.is_none() || n == first)
        {
            n += 1;
        }
        if n == first {
            i = if j > i { j } else { i + 1 };
            continue;
        }
        let Some(names) = plausible_name(&toks[first..n]) else {
            i = n;
            continue;
        };
        let single_after_rank = names.len() == 1 && k == j + 1 && is_rank_or_honorific(head_nom);
        let role_gender = if head_nom == "пані" {
            Gender::Fem
        } else {
            head_gender
        };
        let mut normalized = name_nominative(&names, Some((role_gender, head_case)));
        if let Some(initial) = initial {
            normalized = format!("{initial}. {normalized}");
        }
        let mut role_words: Vec<String> = adjs
            .iter()
            .map(|&(a, st)| adj_nominative(toks[a].text, st, head_gender))
            .collect();
        role_words.push(capitalize_like(head_nom, toks[j].text));
        let mut prev_end = toks[j].end;
        for t in &toks[j + 1..k] {
            let w = match heads.get(&t.lower()) {
                Some(&(nom, _, c)) if c == head_case && head_case != Case::Nom => nom.to_string(),
                _ => t.text.to_string(),
            };
            // Keep the source's spacing inside gazetteer phrases (`Україна – НАТО`).
            if t.start == prev_end {
                if let Some(last) = role_words.last_mut() {
                    last.push_str(&w);
                }
            } else {
                role_words.push(w);
            }
            prev_end = t.end;
        }
        let honorific = matches!(head_nom, "пані" | "пан");
        let start = if initial.is_some() {
            toks[k].start
        } else {
            names[0].start
        };
        let span = (start, names[names.len() - 1].end);
        let fact = Fact {
            normalized: Some(normalized),
            role: (!honorific).then(|| role_words.join(" ")),
            ..Fact::new(FactKind::Person, s.full, span, s.index)
        };
        if names.len() > 1 || single_after_rank || initial.is_some() {
            out.push(fact);
        } else {
            // `голова Комітету`: kept only if a full name links it.
            pending.push(fact);
        }
        i = n;
    }
    (out, pending)
}

/// `Денис Шмигаль`, `Марка Рютте`: a known given name + a title-case word.
fn given_name_person(
    s: &SentenceText,
    toks: &[Tok],
    i: usize,
    is_name_tok: &dyn Fn(usize) -> bool,
) -> Option<(Fact, usize)> {
    if !(is_name_tok(i) && given_names().contains_key(toks[i].text)) {
        return None;
    }
    if !(i + 1 < toks.len() && is_name_tok(i + 1)) {
        return None;
    }
    let names = [&toks[i], &toks[i + 1]];
    let f = Fact {
        normalized: Some(name_nominative(&names, None)),
        ..Fact::new(
            FactKind::Person,
            s.full,
            (toks[i].start, toks[i + 1].end),
            s.index,
        )
    };
    Some((f, i + 2))
}

/// Later mentions by surname alone (`Умєров`, `Келлогом`, `Сирський`),
/// linked to a full name found elsewhere in the article; also completes
/// role mentions that gave only a surname (`Генерал Сирський`).
pub fn link_mentions(sentences: &[SentenceText], facts: &mut Vec<Fact>, pending: Vec<Fact>) {
    let full: Vec<String> = facts
        .iter()
        .filter(|f| f.kind == FactKind::Person)
        .filter_map(|f| f.normalized.clone())
        .filter(|n| n.contains(' '))
        .collect();
    let full_for = |word: &str| -> Option<String> {
        full.iter()
            .find(|n| {
                n.rsplit(' ')
                    .next()
                    .is_some_and(|sur| sur == word || folded_stem(sur) == folded_stem(word))
            })
            .cloned()
    };
    for f in facts.iter_mut().filter(|f| f.kind == FactKind::Person) {
        if let Some(n) = f.normalized.as_deref().filter(|n| !n.contains(' ')) {
            if let Some(full) = full_for(n) {
                f.normalized = Some(full);
            }
        }
    }
    for mut f in pending {
        if let Some(full) = f.normalized.as_deref().and_then(full_for) {
            f.normalized = Some(full);
            facts.push(f);
        }
    }
    let mut added = Vec::new();
    for s in sentences {
        for t in super::text::tokenize(s.text, s.base) {
            if !is_cyrillic_title(&t) || given_names().contains_key(t.text) {
                continue;
            }
            let taken = facts.iter().any(|f| {
                matches!(
                    f.kind,
                    FactKind::Person | FactKind::Place | FactKind::Organization
                ) && f.span.0 < t.end
                    && t.start < f.span.1
                    && f.sentence == s.index
            });
            if taken {
                continue;
            }
            if let Some(full) = full_for(t.text) {
                added.push(Fact {
                    normalized: Some(full),
                    ..Fact::new(FactKind::Person, s.full, (t.start, t.end), s.index)
                });
            }
        }
    }
    facts.extend(added);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surnames_to_nominative() {
        assert_eq!(
            surname_nominative("Келлогом", Case::Ins, Gender::Masc),
            "Келлог"
        );
        assert_eq!(
            surname_nominative("Зеленського", Case::Gen, Gender::Masc),
            "Зеленський"
        );
        assert_eq!(
            surname_nominative("Умєровим", Case::Ins, Gender::Masc),
            "Умєров"
        );
        assert_eq!(
            surname_nominative("Сирським", Case::Ins, Gender::Masc),
            "Сирський"
        );
        assert_eq!(
            surname_nominative("Рютте", Case::Ins, Gender::Masc),
            "Рютте"
        );
        assert_eq!(
            surname_nominative("Каллас", Case::Ins, Gender::Fem),
            "Каллас"
        );
        assert_eq!(
            surname_nominative("Ковальовою", Case::Ins, Gender::Fem),
            "Ковальова"
        );
        assert_eq!(
            surname_nominative("Шмигаля", Case::Gen, Gender::Masc),
            "Шмигаль"
        );
    }
}
