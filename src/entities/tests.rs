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
