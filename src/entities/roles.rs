//! English roles from the Ukrainian role phrases the facts extractor
//! keeps (`заступник міністра оборони України` → `Deputy Minister of
//! Defence of Ukraine`): the words and phrases of the lexicon's `[[role]]`
//! table and the gazetteer's places and organisations, composed left to
//! right. A phrase with a word the tables do not know has no English role
//! (never a half-Ukrainian one).
use super::lexicon::{lexicon, phrase_stems, RoleKind};
use crate::facts::lexicon::Entry;
use crate::facts::patterns::gazetteer_matches;
use crate::facts::text::{levenshtein, tokenize, TokKind};
use crate::facts::FactKind;

/// Do two folded stems name the same word (one alternation allowed in long stems)?
fn stems_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    ca.len() >= 5 && cb.len() >= 5 && levenshtein(&ca, &cb) <= 1
}

/// `of …` for a place or organisation inside a role.
fn complement(e: &Entry) -> String {
    let en = e.english[0];
    let bare = match e.kind {
        FactKind::Place => {
            !(en.starts_with("United ") || matches!(en, "US" | "UK" | "Netherlands"))
        }
        _ => matches!(en, "NATO" | "PURL") || en.starts_with("Ukraine ") || en == "Ukraine",
    };
    if bare {
        format!("of {en}")
    } else {
        format!("of the {en}")
    }
}

/// The English of a Ukrainian role phrase, or `None` when a word of it is
/// not known.
pub fn english_role(role_uk: &str) -> Option<String> {
    let toks: Vec<_> = tokenize(role_uk, 0)
        .into_iter()
        .filter(|t| t.kind != TokKind::Punct)
        .collect();
    if toks.is_empty() {
        return None;
    }
    let stems: Vec<String> = toks.iter().flat_map(|t| phrase_stems(t.text)).collect();
    if stems.len() != toks.len() {
        return None;
    }
    let gaz = gazetteer_matches(&toks);
    let lex = lexicon();
    let mut titles: Vec<String> = Vec::new();
    let mut ranks: Vec<&str> = Vec::new();
    let mut last_kind: Option<RoleKind> = None;
    let mut i = 0;
    while i < toks.len() {
        // The longest role entry starting here.
        let entry = lex
            .roles
            .iter()
            .filter(|r| {
                i + r.stems.len() <= stems.len()
                    && r.stems
                        .iter()
                        .zip(&stems[i..])
                        .all(|(a, b)| stems_match(a, b))
            })
            .max_by_key(|r| (r.stems.len(), r.kind == RoleKind::Whole));
        let place = gaz.iter().find(|g| g.first == i);
        let entry_len = entry.map_or(0, |r| r.stems.len());
        let place_len = place.map_or(0, |g| g.last + 1 - g.first);
        if place_len > entry_len {
            if titles.is_empty() {
                return None;
            }
            titles.push(complement(place.expect("matched").entry));
            last_kind = Some(RoleKind::Of);
            i += place_len;
            continue;
        }
        let r = entry?;
        match r.kind {
            RoleKind::Rank => ranks.push(&r.en),
            RoleKind::Of => {
                if titles.is_empty() {
                    return None;
                }
                titles.push(r.en.clone());
            }
            RoleKind::Prefix => titles.push(r.en.clone()),
            RoleKind::Title | RoleKind::Whole => {
                let follows_title = matches!(
                    last_kind,
                    Some(RoleKind::Title | RoleKind::Whole | RoleKind::Of)
                );
                if follows_title {
                    titles.push(format!("of the {}", r.en));
                } else {
                    titles.push(r.en.clone());
                }
            }
        }
        if r.kind != RoleKind::Rank {
            last_kind = Some(r.kind);
        }
        i += r.stems.len();
    }
    let mut out = titles.join(" ");
    if out.is_empty() {
        out = ranks.join(", ");
    } else if !ranks.is_empty() {
        out = format!("{out}, {}", ranks.join(", "));
    }
    let mut c = out.chars();
    let first = c.next()?;
    Some(first.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::english_role;

    #[test]
    fn roles_of_the_seeds_in_english() {
        for (uk, en) in [
            ("Міністр оборони України", "Minister of Defence of Ukraine"),
            ("заступник міністра оборони України", "Deputy Minister of Defence of Ukraine"),
            ("Заступник міністра внутрішніх справ", "Deputy Minister of Internal Affairs"),
            ("Перший заступник міністра оборони", "First Deputy Minister of Defence"),
            ("Глава МЗС", "Minister of Foreign Affairs"),
            ("Президент України", "President of Ukraine"),
            ("Генеральний секретар НАТО", "NATO Secretary General"),
            (
                "спецпредставник президента США з питань України генерал",
                "US President's Special Envoy for Ukraine, General",
            ),
            (
                "Висока представниця Європейського Союзу із зовнішніх справ та політики безпеки",
                "High Representative of the European Union for Foreign Affairs and Security Policy",
            ),
            (
                "висока представниця ЄС із зовнішньої політики і політики безпеки",
                "High Representative of the EU for Foreign Affairs and Security Policy",
            ),
            (
                "Головнокомандувач ЗСУ генерал",
                "Commander-in-Chief of the Armed Forces of Ukraine, General",
            ),
            (
                "начальник генерального штабу генерал-майор",
                "Chief of the General Staff, Major General",
            ),
            (
                "начальник ГУР Міноборони генерал-лейтенант",
                "Chief of the Main Intelligence Directorate of the Ministry of Defence, Lieutenant General",
            ),
        ] {
            assert_eq!(english_role(uk).as_deref(), Some(en), "{uk}");
        }
    }

    #[test]
    fn roles_compose_by_rule() {
        assert_eq!(
            english_role("Міністр закордонних справ Росії").as_deref(),
            Some("Minister of Foreign Affairs of Russia")
        );
        assert_eq!(english_role("Мер Києва").as_deref(), Some("Mayor of Kyiv"));
        assert_eq!(
            english_role("спецпредставник президента США").as_deref(),
            Some("Special Envoy of the President of the US")
        );
    }

    #[test]
    fn unknown_words_give_no_role() {
        assert_eq!(english_role("міністр з питань чогось невідомого"), None);
        assert_eq!(english_role("України"), None);
        assert_eq!(english_role(""), None);
    }
}
