//! Titles of office in a translation that its source does not give.
//!
//! A chat translator fills a vague Ukrainian phrase with a title: «з
//! керівництвом НАТО та ЄС» (with NATO's and the EU's leadership) came back
//! "with the President of NATO and the EU", an office that does not exist,
//! and every later stage (summary, digest) repeats it as grounded. A title
//! is a claim about a person, so the English may give one only where the
//! Ukrainian sentence has a word for it or where the article's entity table
//! gives that title to a person the sentence names («Зеленський» alone may
//! be "President Zelensky" when the article calls him «Президент»).

use super::{has_word, EntityTable};
use crate::facts::english::find_word;
use crate::facts::text::{tokenize, Tok};

/// An English title and the beginnings of the Ukrainian words (lower
/// case) that license it, or abbreviations that do as written («ОП», the
/// Office of the President). A title inside a name (`King's Glory` for
/// «Кінгз Глорі») is licensed by the transliteration's beginning, which
/// the list has where it met one. The licence is generous on purpose (any «глава»
/// may be rendered "Minister", "Governor" or "Mayor" by a fair
/// translator): the check is for a title written from nothing. A title
/// comes before any shorter one inside it ("Prime Minister", "Minister").
const TITLES: &[(&str, &[&str])] = &[
    (
        "President",
        &["президент", "віцепрезидент", "віце-президент", "ОП"],
    ),
    ("Presidents", &["президент"]),
    (
        "Prime Minister",
        &["прем'єр", "віцепрем'єр", "віце-прем'єр", "премʼєр"],
    ),
    ("Premier", &["прем'єр", "премʼєр"]),
    ("Chancellor", &["канцлер"]),
    ("King", &["корол", "цар", "фараон", "монарх", "кінг"]),
    ("Queen", &["корол", "цариц", "монарх"]),
    ("Pope", &["папа", "понтифік"]),
    ("Secretary General", &["генсек", "секретар"]),
    ("Secretary-General", &["генсек", "секретар"]),
    (
        "Minister",
        &[
            "міністр",
            "міністерк",
            "прем'єр",
            "віцепрем'єр",
            "віце-прем'єр",
            "глав",
            "очільни",
            "керівни",
            "міноборон",
            "мзс",
            "міністерств",
            "уряд",
            "кабмін",
            "КМУ",
        ],
    ),
    (
        "Ministers",
        &[
            "міністр",
            "міністерк",
            "глав",
            "очільни",
            "керівни",
            "кабмін",
            "кабінет",
            "КМУ",
        ],
    ),
    ("Ambassador", &["посол", "посл", "амбасадор"]),
    ("Governor", &["губернатор", "голов", "очільни", "керівни"]),
    ("Mayor", &["мер", "міськ", "голов", "очільни"]),
];

/// The words of `uk` in lower case, and a compound's parts as words of
/// their own («генерал-губернатор» is a governor).
fn words_and_parts(toks: &[Tok]) -> Vec<String> {
    toks.iter()
        .flat_map(|t| {
            let w = t.lower();
            let parts: Vec<String> = w.split('-').map(str::to_string).collect();
            std::iter::once(w).chain(parts)
        })
        .collect()
}

/// The titles `en` gives that neither the Ukrainian sentence `uk` nor the
/// roles of the people it names (in `table`) license, in [`TITLES`]'
/// order. "Prime Minister" counts as a title of its own, so its "Minister"
/// needs no other licence.
pub fn unlicensed_titles(table: &EntityTable, uk: &str, en: &str) -> Vec<&'static str> {
    let toks = tokenize(uk, 0);
    let words = words_and_parts(&toks);
    let abbreviations: Vec<&str> = toks
        .iter()
        .filter(|t| t.is_all_caps())
        .map(|t| t.text)
        .collect();
    let roles: Vec<&str> = table
        .mentioned_in(uk)
        .into_iter()
        .filter_map(|e| e.role_en.as_deref())
        .collect();
    // "Prime Minister" holds "Minister": once a title is judged, its words
    // are out of the text, and [`TITLES`] lists the longer one first.
    let mut text = en.to_string();
    let mut out = Vec::new();
    for &(title, stems) in TITLES {
        if !has_word(&text, title) {
            continue;
        }
        let licensed = words.iter().any(|w| stems.iter().any(|s| w.starts_with(s)))
            || abbreviations.iter().any(|a| stems.contains(a))
            || roles.iter().any(|r| has_word(r, title));
        if !licensed {
            out.push(title);
        }
        while let Some((a, b)) = find_word(&text, title) {
            text.replace_range(a..b, &" ".repeat(b - a));
        }
    }
    out
}

/// Titles whose Ukrainian noun shows the number: the English singular and
/// plural and the noun's stem.
const COUNTED: &[(&str, &str, &str)] = &[
    ("Minister", "Ministers", "міністр"),
    ("President", "Presidents", "президент"),
    ("Ambassador", "Ambassadors", "посл"),
    ("Governor", "Governors", "губернатор"),
    ("Chancellor", "Chancellors", "канцлер"),
    ("Mayor", "Mayors", "мер"),
];

/// Case endings of a masculine noun's plural, and of its singular
/// («посол» has none: its stem is «посл»).
const PLURAL_ENDINGS: &[&str] = &["и", "ів", "ам", "ами", "ах"];
const SINGULAR_ENDINGS: &[&str] = &["", "а", "у", "ові", "ом", "і", "е", "ол"];

/// The titles the Ukrainian sentence `uk` has only in the plural («з
/// міністрами оборони») that `en` gives only in the singular ("with the
/// Minister of Defence"), as their English plural: one person where the
/// source has several.
pub fn plurals_as_singular(uk: &str, en: &str) -> Vec<&'static str> {
    let words = words_and_parts(&tokenize(uk, 0));
    COUNTED
        .iter()
        .filter(|(one, many, stem)| {
            let endings = |set: &[&str]| {
                words
                    .iter()
                    .any(|w| w.strip_prefix(stem).is_some_and(|rest| set.contains(&rest)))
            };
            endings(PLURAL_ENDINGS)
                && !endings(SINGULAR_ENDINGS)
                && has_word(en, one)
                && !has_word(en, many)
        })
        .map(|(_, many, _)| *many)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_in_the_source_are_several_in_the_english() {
        let uk = "Сьогодні відбудеться зустріч з міністрами оборони в рамках Коаліції охочих.";
        assert_eq!(
            plurals_as_singular(
                uk,
                "Today, a meeting with the Minister of Defence will take place."
            ),
            ["Ministers"]
        );
        for en in [
            "Today, a meeting with the defence ministers will take place.",
            "Today, a meeting on defence will take place.",
        ] {
            assert!(plurals_as_singular(uk, en).is_empty(), "{en}");
        }
        // One of them named in the singular too: either may be meant.
        let uk = "Міністр зустрівся з міністрами.";
        assert!(plurals_as_singular(uk, "The Minister met the Minister.").is_empty());
        // «посол» / «посли».
        assert_eq!(
            plurals_as_singular(
                "Посли G7 відвідали Київ.",
                "The G7 Ambassador visited Kyiv."
            ),
            ["Ambassadors"]
        );
        assert!(
            plurals_as_singular("Посол G7 відвідав Київ.", "The Ambassador visited Kyiv.")
                .is_empty()
        );
        // Another word that begins alike is no title («мережа», «президентство»).
        assert!(
            plurals_as_singular("Мережі та президентство.", "The Mayor and the President.")
                .is_empty()
        );
    }

    #[test]
    fn a_title_comes_before_the_shorter_ones_inside_it() {
        for (i, (earlier, _)) in TITLES.iter().enumerate() {
            for (later, _) in &TITLES[i + 1..] {
                assert!(!has_word(later, earlier), "{later} after {earlier}");
            }
        }
    }

    fn none() -> EntityTable {
        EntityTable::default()
    }

    #[test]
    fn a_title_written_from_nothing_is_found() {
        let uk = "Заплановано двосторонні зустрічі з керівництвом НАТО та ЄС.";
        assert_eq!(
            unlicensed_titles(
                &none(),
                uk,
                "Bilateral meetings with the President of NATO and the EU are planned."
            ),
            ["President"]
        );
        assert!(unlicensed_titles(
            &none(),
            uk,
            "Bilateral meetings with the leadership of NATO and the EU are planned."
        )
        .is_empty());
    }

    #[test]
    fn the_source_s_words_license_titles_in_any_case() {
        for (uk, en) in [
            (
                "Президент України провів зустріч.",
                "The President of Ukraine held a meeting.",
            ),
            (
                "Прем'єр-міністр Норвегії прибув до Києва.",
                "The Prime Minister of Norway arrived in Kyiv.",
            ),
            (
                "Глава Міноборони виступив у Брюсселі.",
                "The Minister of Defence spoke in Brussels.",
            ),
            (
                "Генсек НАТО заявив про підтримку.",
                "The NATO Secretary General declared support.",
            ),
            ("Міністри оборони зустрілися.", "The defence ministers met."),
            (
                "Керівник ОП прибув до Брюсселя.",
                "The Head of the Office of the President arrived in Brussels.",
            ),
            (
                "Кабмін ухвалив рішення.",
                "The Cabinet of Ministers made a decision.",
            ),
            (
                "Рішення ухвалив КМУ.",
                "The decision was made by the Cabinet of Ministers.",
            ),
        ] {
            assert!(
                unlicensed_titles(&none(), uk, en).is_empty(),
                "{uk} | {en}: {:?}",
                unlicensed_titles(&none(), uk, en)
            );
        }
        // A prime minister is no licence for a president.
        assert_eq!(
            unlicensed_titles(
                &none(),
                "Прем'єр-міністр Норвегії прибув до Києва.",
                "The Prime Minister and the President of Norway arrived in Kyiv."
            ),
            ["President"]
        );
        // Nor a mention of a ministry for a minister.
        assert_eq!(
            unlicensed_titles(
                &none(),
                "Посадовці говорили про безпеку.",
                "The Minister spoke about security."
            ),
            ["Minister"]
        );
    }

    #[test]
    fn a_person_s_role_in_the_article_licenses_the_title() {
        let uk = "Президент України Володимир Зеленський провів зустріч з Умєровим.";
        let a = crate::ingest::plain::article(
            "t",
            std::path::Path::new("t.txt"),
            "utf-8",
            uk,
            crate::ingest::plain::Layout::Paragraphs,
        );
        let table = crate::entities::table_of(&a, uk);
        let again = "Зеленський подякував партнерам.";
        assert!(
            unlicensed_titles(&table, again, "President Zelensky thanked the partners.").is_empty()
        );
        assert_eq!(
            unlicensed_titles(&none(), again, "President Zelensky thanked the partners."),
            ["President"]
        );
    }
}
