use super::*;
use crate::ingest::plain::{article, Layout};
use std::path::Path;

fn table_for(text: &str) -> (EntityTable, Vec<Fact>) {
    let a = article("t", Path::new("t.txt"), "utf-8", text, Layout::Paragraphs);
    let facts = crate::facts::extract(&a, text);
    (EntityTable::build(&facts), facts)
}

/// Every person of the lexicon: its example sentence yields the person,
/// with the canonical English name.
#[test]
fn every_lexicon_person_is_found_in_its_example() {
    let mut failures = Vec::new();
    for p in &lexicon().people {
        let example = p.example.as_deref().expect("checked by the lexicon test");
        let (table, facts) = table_for(example);
        let found = table
            .entities
            .iter()
            .find(|e| e.kind == FactKind::Person && e.en == p.en);
        let Some(e) = found else {
            failures.push(format!(
                "{}: `{example}` gives {:?}",
                p.uk,
                facts
                    .iter()
                    .filter(|f| f.kind == FactKind::Person)
                    .map(|f| (&f.text, &f.normalized))
                    .collect::<Vec<_>>()
            ));
            continue;
        };
        assert!(e.enforced && e.source == EnglishSource::Lexicon);
        // Each variant is rewritten to the canonical name.
        for v in &p.variants {
            let s = format!("Yesterday {v} said so.");
            assert_eq!(
                table.canonicalize(&s),
                format!("Yesterday {} said so.", p.en),
                "{}: variant {v}",
                p.uk
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn spellings_are_rewritten_to_the_canonical_form() {
    let (t, _) = table_for(
        "Міністр оборони України Рустем Умєров провів зустріч з Генеральним секретарем НАТО Марком Рютте у Києві.",
    );
    assert_eq!(
        t.canonicalize("Defence Minister Rustem Umierov met NATO chief Mark Riutte in Kiev."),
        "Defence Minister Rustem Umerov met NATO chief Mark Rutte in Kyiv."
    );
    assert_eq!(t.canonicalize("Umєrov's talks"), "Umerov's talks");
    // Words that only look alike stay.
    assert_eq!(
        t.canonicalize("The route to Kievan Rus"),
        "The route to Kievan Rus"
    );
    let (t, _) = table_for("Заступник міністра внутрішніх справ Олексій Сергєєв виступив.");
    assert_eq!(
        t.canonicalize("The European External Action Service and Oleksiy Sergeev"),
        "The European External Action Service and Oleksii Serhieiev"
    );
    assert_eq!(t.canonicalize("Sergyev said so."), "Serhieiev said so.");
    // `j` as the glide of another transliteration.
    let (t, _) = table_for("Перший заступник міністра оборони Сергій Боєв підкреслив це.");
    assert_eq!(
        t.canonicalize("The first deputy, Sergiy Bojev, stressed it."),
        "The first deputy, Serhii Boiev, stressed it."
    );
    assert_eq!(t.canonicalize("Jonas Bojko"), "Jonas Bojko");
}

#[test]
fn roles_go_into_the_glossary_where_the_sentence_writes_them() {
    let text = "Перший заступник міністра оборони Сергій Боєв підкреслив, що Україна готова.";
    let (t, _) = table_for(text);
    let g = t.glossary(text);
    assert!(
        g.iter().any(|t| t.en == "First Deputy Minister of Defence"),
        "{g:?}"
    );
    // A later sentence naming him without the role gets no role line, and
    // a role is only a hint: its absence from the English is not a problem.
    let later = "Боєв також наголосив на важливості ППО.";
    assert!(t.glossary(later).iter().all(|t| !t.en.contains("Deputy")));
    assert!(t
        .missing(text, "Serhii Boiev stressed that Ukraine is ready.")
        .is_empty());
    // Case forms of the role count (`спецпредставником` for `спецпредставник`).
    let text = "Умєров зустрівся зі спецпредставником президента США з питань України генералом Кітом Келлогом.";
    let (t, _) = table_for(text);
    assert!(
        t.glossary(text)
            .iter()
            .any(|t| t.en.starts_with("US President's Special Envoy for Ukraine")),
        "{:?}",
        t.glossary(text)
    );
}

#[test]
fn glossary_and_missing_names() {
    let text = "Міністр оборони України Денис Шмигаль провів зустріч з Генеральним секретарем НАТО Марком Рютте у Києві.";
    let (t, _) = table_for(text);
    let g: Vec<String> = t.glossary(text).into_iter().map(|t| t.en).collect();
    for want in ["Denys Shmyhal", "Mark Rutte", "Kyiv", "NATO", "Ukraine"] {
        assert!(g.iter().any(|x| x == want), "{want} in {g:?}");
    }
    let en = t.canonicalize(
        "Defence Minister Denis Shmygal met NATO Secretary General Mark Rutte in Kiev.",
    );
    assert!(
        t.missing(text, &en).is_empty(),
        "{en}: {:?}",
        t.missing(text, &en)
    );
    let bad = "Minister Rus Timofey Umler met the alliance chief in the capital.";
    let m = t.missing(text, bad);
    assert!(
        m.contains(&"Shmyhal".to_string()) && m.contains(&"Kyiv".to_string()),
        "{m:?}"
    );
}

#[test]
fn people_get_english_roles_in_facts() {
    let text = "Заступник міністра оборони України Сергій Боєв взяв участь у засіданні.";
    let (t, mut facts) = table_for(text);
    t.apply_to_facts(&mut facts);
    let p = facts.iter().find(|f| f.kind == FactKind::Person).unwrap();
    assert_eq!(p.english.as_deref(), Some("Serhii Boiev"));
    assert_eq!(
        p.role_en.as_deref(),
        Some("Deputy Minister of Defence of Ukraine")
    );
}

#[test]
fn foreign_names_keep_the_translation_spelling() {
    let text = "Колишній спікер Ньют Гінгріч виступив на форумі.";
    let (mut t, _) = table_for(text);
    let e = t
        .entities
        .iter()
        .find(|e| e.kind == FactKind::Person)
        .unwrap();
    assert_eq!(e.en, "Niut Hinhrich");
    // Before it is settled, the translation's spelling is left alone.
    assert_eq!(
        t.canonicalize("Former Speaker Newt Gingrich spoke at the forum."),
        "Former Speaker Newt Gingrich spoke at the forum."
    );
    t.settle(&["Former Speaker Newt Gingrich spoke at the forum."]);
    let e = t
        .entities
        .iter()
        .find(|e| e.kind == FactKind::Person)
        .unwrap();
    assert_eq!(e.en, "Newt Gingrich");
    assert_eq!(t.canonicalize("Niut Hinhrich spoke"), "Newt Gingrich spoke");
}

#[test]
fn foreign_names_are_not_rewritten_into_transliterations() {
    let text = "Деякі люди, включаючи Джона Гранта, вважають, що Гран-прі вплинуло.";
    let (t, _) = table_for(text);
    let en = "Some people, including John Grant, believe the Grand Prix had an effect.";
    assert_eq!(t.canonicalize(en), en);
}

#[test]
fn cyrillic_is_transliterated_as_a_last_resort() {
    assert_eq!(
        transliterate_cyrillic("Minister Умєров met Ramshtайн partners"),
        ("Minister Umierov met Ramshtain partners".to_string(), 2)
    );
    assert_eq!(
        transliterate_cyrillic("no Cyrillic"),
        ("no Cyrillic".to_string(), 0)
    );
    assert!(!has_cyrillic(&transliterate_cyrillic("ёжик ы э ъ Ї").0));
}

#[test]
fn mixed_script_words_are_transliterated_and_cyrillic_words_kept() {
    assert_eq!(
        transliterate_mixed_words("the firm Mossack Fonsека and Умєров"),
        ("the firm Mossack Fonseka and Умєров".to_string(), 1)
    );
    assert_eq!(
        transliterate_mixed_words("Umєrov met Ramshtайн"),
        ("Umierov met Ramshtain".to_string(), 2)
    );
    assert_eq!(
        transliterate_mixed_words("1,200 Київ"),
        ("1,200 Київ".to_string(), 0)
    );
}

#[test]
fn summaries_are_grounded_in_the_article() {
    let text = "Міністр оборони України Рустем Умєров провів зустріч у Брюсселі з Високою представницею ЄС Каєю Каллас.";
    let (t, _) = table_for(text);
    let en = ["Minister of Defence of Ukraine Rustem Umerov met EU High Representative Kaja Kallas in Brussels on 11 April."];
    let g = Grounding::new(&t, "Umerov and Kallas met", &en, text);
    assert!(g.check("Umerov met Kallas in Brussels.").is_empty());
    assert!(g.check("The Minister met Kallas on Friday.").is_empty());
    let bad = g.check("Umerov met Rus Timofey Umler and 40 partners.");
    assert!(bad.contains(&Ungrounded::Name("Rus".into())), "{bad:?}");
    assert!(bad.contains(&Ungrounded::Number("40".into())), "{bad:?}");
    assert!(g
        .check("Умєров met Kallas.")
        .contains(&Ungrounded::Cyrillic));
    assert_eq!(g.count("Umerov met Umler."), (1, 2));
    // Title Case headlines: common words are not names, made-up names are.
    assert!(g.check("Umerov Meets Kallas in Brussels").is_empty());
    assert!(g
        .check("Minister Umerov Speaks With EU High Representative")
        .is_empty());
    assert_eq!(
        g.check("Umerov Meets Timofey Umler in Brussels"),
        vec![
            Ungrounded::Name("Timofey".into()),
            Ungrounded::Name("Umler".into())
        ]
    );
}

#[test]
fn summary_numbers_match_across_thousands_separators() {
    let text = "Компанія має 1200 працівників і 2 500 дронів, бюджет 1,5 млрд.";
    let (t, _) = table_for(text);
    let en = ["The company has 1200 employees and 2500 drones, a budget of 1.5 billion."];
    let g = Grounding::new(&t, "", &en, text);
    assert!(g
        .check("It has 1,200 employees and 2,500 drones.")
        .is_empty());
    assert!(g.check("A budget of 1.5 billion.").is_empty());
    assert_eq!(
        g.check("It has 1,300 employees."),
        vec![Ungrounded::Number("1300".into())]
    );
    assert_eq!(g.count("1,200 employees, 3,000 drones"), (1, 2));
}

#[test]
fn terms_go_into_the_glossary_and_are_checked() {
    let text = "Умєров і Келлог обговорили, як досягти стабільного миру.";
    let (t, _) = table_for(text);
    let g = t.glossary(text);
    assert!(
        g.contains(&Term {
            uk: "мир".into(),
            en: "peace".into()
        }),
        "{g:?}"
    );
    let bad = "Umerov and Kellogg discussed how to achieve a stable world.";
    assert!(t.missing(text, bad).contains(&"peace".to_string()));
    let good = "Umerov and Kellogg discussed how to achieve a lasting peace.";
    assert!(!t.missing(text, good).contains(&"peace".to_string()));
    // A capitalised form is a name, not the word.
    assert!(terms_in("Бої точаться біля Мирного і села Мир.").is_empty());
}

#[test]
fn abbreviations_count_as_written() {
    let uk = "Маємо досвід у сфері БпЛА і готові ним ділитися.";
    let found: Vec<&str> = terms_in(uk).iter().map(|t| t.en.as_str()).collect();
    assert_eq!(found, ["drones"]);
    // The translator left the abbreviation, transliterated: rewritten.
    assert_eq!(
        correct_terms(
            uk,
            "We have experience in the field of BpLA and are ready to share it."
        ),
        "We have experience in the field of drones and are ready to share it."
    );
    let (t, _) = table_for(uk);
    assert!(t
        .missing(uk, "We have experience in this field.")
        .contains(&"drones".to_string()));
    assert!(!t
        .missing(uk, "We have experience with UAVs.")
        .contains(&"drones".to_string()));
    // Another case than the term's forms: not the abbreviation.
    assert!(terms_in("Маємо досвід у сфері бпла.").is_empty());
}

#[test]
fn wrong_renderings_of_a_term_are_rewritten_unless_the_source_licenses_them() {
    let uk = "Ми прагнемо миру, і цей мир має бути справедливим.";
    assert_eq!(
        correct_terms(uk, "We seek peace, and the world must be fair."),
        "We seek peace, and peace must be fair."
    );
    assert_eq!(
        correct_terms(uk, "The world must be just; a stable world."),
        "Peace must be just; a stable peace."
    );
    // «світ» in the source: "world" is right there.
    let uk = "Увесь світ чекає на мир.";
    assert_eq!(
        correct_terms(uk, "The whole world awaits peace."),
        "The whole world awaits peace."
    );
    // No term in the source: nothing to correct.
    assert_eq!(
        correct_terms("Світова економіка.", "The world economy."),
        "The world economy."
    );
    // Honorifics: corrected, not required.
    let uk = "Дякую пані Каллас за діалог.";
    assert_eq!(
        correct_terms(uk, "Thank you, Pan Kallas, for the dialogue."),
        "Thank you, Ms Kallas, for the dialogue."
    );
    let (t, _) = table_for(uk);
    assert!(t
        .missing(uk, "Thank you, Kallas, for the dialogue.")
        .is_empty());
    // Words that merely contain the wrong one stay.
    assert_eq!(
        correct_terms("Потрібен мир.", "Peace is needed worldwide."),
        "Peace is needed worldwide."
    );
}

#[test]
fn house_spellings_apply_everywhere_but_in_kept_names() {
    let t = EntityTable::default();
    assert_eq!(
        t.canonicalize(
            "The Minister of Defense asked for anti-aircraft defense; the Ukraine Defense \
             Contact Group and the US Department of Defense agreed."
        ),
        "The Minister of Defence asked for air defence; the Ukraine Defence \
         Contact Group and the US Department of Defense agreed."
    );
    // Whole words only.
    assert_eq!(t.canonicalize("defenseless"), "defenseless");
}

#[test]
fn an_initial_and_a_surname_after_a_role_are_a_person() {
    let cases = [
        (
            "Про це повідомив міський голова А. Садовий у Телеграм. Центр відкрито, – зазначив Садовий.",
            "Andrii Sadovyi",
            "Mayor",
        ),
        (
            "Міністр зустрівся з делегацією Конгресу США на чолі з сенатором Л. Гремом у Києві.",
            "Lindsey Graham",
            "Senator",
        ),
        (
            "Уночі 14 липня війська атакували Харків дронами, повідомив мер І. Терехов.",
            "Ihor Terekhov",
            "Mayor",
        ),
        // Not in the lexicon: the initial stays, the surname is transliterated.
        (
            "Про це повідомив мер Д. Ковальчук.",
            "D. Kovalchuk",
            "Mayor",
        ),
    ];
    for (text, en, role) in cases {
        let (t, facts) = table_for(text);
        let people: Vec<&Entity> = t
            .entities
            .iter()
            .filter(|e| e.kind == FactKind::Person)
            .collect();
        assert_eq!(people.len(), 1, "{text}: {facts:?}");
        assert_eq!(people[0].en, en, "{text}");
        assert_eq!(people[0].role_en.as_deref(), Some(role), "{text}");
    }
    // An initial with no role before it is not enough.
    let (t, _) = table_for("Документ підписав А. Ковальчук.");
    assert!(t.entities.iter().all(|e| e.kind != FactKind::Person));
}

#[test]
fn a_role_at_the_end_of_a_sentence_is_no_person() {
    for text in [
        "Про це заявив міністр",
        "Це сказав мер А",
        "Це сказав мер А.",
    ] {
        let (t, _) = table_for(text);
        assert!(
            t.entities.iter().all(|e| e.kind != FactKind::Person),
            "{text}"
        );
    }
}

#[test]
fn another_spelling_of_the_given_name_is_rewritten_too() {
    let text = "Міністр провів зустріч з Високою представницею ЄС Каєю Каллас.";
    let (t, _) = table_for(text);
    assert_eq!(t.canonicalize("He met Kaie Kallas."), "He met Kaja Kallas.");
    assert_eq!(t.canonicalize("He met Kaja Kallas."), "He met Kaja Kallas.");
    // Another given name is another person.
    assert_eq!(t.canonicalize("Siim Kallas spoke."), "Siim Kallas spoke.");
    assert_eq!(t.canonicalize("Kate Kallas spoke."), "Kate Kallas spoke.");
}

#[test]
fn phrase_terms_count_as_words_in_a_row() {
    let en_of = |uk: &str| -> Vec<String> { terms_in(uk).iter().map(|t| t.en.clone()).collect() };
    // Inflected, and at the start of a sentence.
    assert_eq!(
        en_of("Умєров зустрівся з начальниками штабів Франції та Британії."),
        ["chief of staff"]
    );
    assert_eq!(
        en_of("Начальник штабу доповів міністру."),
        ["chief of staff"]
    );
    // The words apart, or another staff: not the term.
    assert!(en_of("Начальник прибув до штабу.").is_empty());
    assert!(en_of("Начальник Генерального штабу доповів.").is_empty());
    let uk = "Умєров обговорив з начальниками штабів посилення протиповітряної оборони.";
    assert_eq!(en_of(uk), ["air defence", "chief of staff"]);
    let (t, _) = table_for(uk);
    let bad = "Umerov discussed strengthening the anti-Russian defence system with the heads of the Ministries.";
    assert_eq!(t.missing(uk, bad), ["air defence", "chief of staff"]);
    // A phrase's wrong rendering is rewritten like a word's.
    assert_eq!(
        correct_terms(
            "Порядок денний насичений.",
            "The daily order is saturated; daily order items."
        ),
        "The agenda is saturated; agenda items."
    );
    // A word capitalised as a sentence's first is the word, not a name.
    let uk = "Подякував партнерам. «Водночас армія потребує систем».";
    assert_eq!(en_of(uk), ["at the same time"]);
    assert_eq!(
        correct_terms(
            uk,
            "He thanked the partners. \"Currently the army needs systems.\""
        ),
        "He thanked the partners. \"At the same time the army needs systems.\""
    );
    // «наразі» licenses "currently".
    assert_eq!(
        correct_terms("Водночас наразі армія чекає.", "Currently the army waits."),
        "Currently the army waits."
    );
    assert!(en_of("Село Водночас постраждало.").is_empty());
    let good = "Umerov discussed strengthening air defence with the chiefs of staff.";
    assert!(t.missing(uk, good).is_empty(), "{:?}", t.missing(uk, good));
}
