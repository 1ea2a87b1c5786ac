//! Fact extraction on the real seed articles.
use std::path::PathBuf;
use ukdigest::article::{Article, Paragraph, ParagraphKind, Published, Sentence};
use ukdigest::facts::{self, Fact, FactKind};

/// A rough test-only segmenter: every non-empty line is a paragraph,
/// sentences end at `.`, `!` or `?` followed by a space.
fn article_from(id: &str, source: &str, published: Option<&str>) -> Article {
    let mut paragraphs = Vec::new();
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let lead = content.len() - content.trim_start().len();
        let body = content.trim();
        if !body.is_empty() {
            let (kind, body, lead) = match body.strip_prefix("- ") {
                Some(rest) => (ParagraphKind::Bullet, rest, lead + 2),
                None => (ParagraphKind::Text, body, lead),
            };
            let base = line_start + lead;
            let mut sentences = Vec::new();
            let mut start = 0;
            let bytes: Vec<(usize, char)> = body.char_indices().collect();
            for (k, &(i, c)) in bytes.iter().enumerate() {
                let next_space = bytes.get(k + 1).is_some_and(|&(_, n)| n == ' ');
                if matches!(c, '.' | '!' | '?') && next_space {
                    let end = i + c.len_utf8();
                    sentences.push(Sentence {
                        text: body[start..end].to_string(),
                        span: (base + start, base + end),
                    });
                    start = end + 1;
                }
            }
            if start < body.len() {
                sentences.push(Sentence {
                    text: body[start..].to_string(),
                    span: (base + start, base + body.len()),
                });
            }
            paragraphs.push(Paragraph { kind, sentences });
        }
        line_start += line.len();
    }
    Article {
        id: id.to_string(),
        title: String::new(),
        published: published.map(|d| Published {
            date: d.to_string(),
            time: None,
        }),
        outlet: None,
        source_line: None,
        source_path: PathBuf::from(format!("seeds/{id}.txt")),
        encoding: "utf-8".into(),
        source_format: Default::default(),
        paragraphs,
    }
}

fn seed(stem: &str, published: Option<&str>) -> (Article, String) {
    let path = format!("{}/seeds/{stem}.txt", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap();
    (article_from(stem, &source, published), source)
}

const SEEDS: [(&str, Option<&str>); 5] = [
    ("000_4e02704fb7287723", Some("2025-09-02")),
    ("001_fb92ec944e2a6a29", Some("2025-04-23")),
    ("002_1e12a2d0a498dcd6", Some("2025-04-11")),
    ("003_dd46adcc9f1925d8", Some("2025-07-14")),
    ("004_d69912333ab1b182", None),
];

fn all_facts() -> Vec<(&'static str, String, Vec<Fact>)> {
    SEEDS
        .iter()
        .map(|&(stem, date)| {
            let (a, src) = seed(stem, date);
            let facts = facts::extract(&a, &src);
            (stem, src, facts)
        })
        .collect()
}

fn person<'a>(facts: &'a [Fact], name: &str) -> &'a Fact {
    facts
        .iter()
        .find(|f| f.kind == FactKind::Person && f.normalized.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no person {name} in {facts:#?}"))
}

fn has(facts: &[Fact], kind: FactKind, normalized: &str) -> bool {
    facts
        .iter()
        .any(|f| f.kind == kind && f.normalized.as_deref() == Some(normalized))
}

#[test]
fn spans_are_exact_sorted_and_unique() {
    for (stem, src, facts) in all_facts() {
        assert!(facts.len() > 10, "{stem}: only {} facts", facts.len());
        let mut keys = std::collections::HashSet::new();
        for (i, f) in facts.iter().enumerate() {
            assert_eq!(&src[f.span.0..f.span.1], f.text, "{stem}: {f:?}");
            assert_eq!(f.origin, facts::Origin::Pattern);
            if i > 0 {
                assert!(facts[i - 1].span.0 <= f.span.0, "{stem}: not sorted");
            }
            if f.kind != FactKind::Event {
                let key = (
                    f.kind,
                    f.normalized.clone(),
                    f.unit.clone(),
                    f.normalized.is_none().then(|| f.text.clone()),
                );
                assert!(keys.insert(key), "{stem}: duplicate {f:?}");
            }
        }
    }
}

#[test]
fn sentence_indices_point_at_the_mention() {
    for &(stem, date) in &SEEDS {
        let (a, src) = seed(stem, date);
        let sentences: Vec<_> = a.sentences().collect();
        for f in facts::extract(&a, &src) {
            let s = sentences[f.sentence];
            assert!(
                s.span.0 <= f.span.0 && f.span.1 <= s.span.1,
                "{stem}: {f:?}"
            );
        }
    }
}

#[test]
fn seed_000_people_roles_places_dates() {
    let (_, _, facts) = &all_facts()[0];
    let boev = person(facts, "Сергій Боєв");
    assert_eq!(
        boev.role.as_deref(),
        Some("заступник міністра оборони України")
    );
    assert_eq!(
        person(facts, "Олексій Сергєєв").role.as_deref(),
        Some("Заступник міністра внутрішніх справ")
    );
    assert_eq!(
        person(facts, "Андрій Сибіга").role.as_deref(),
        Some("Глава МЗС")
    );
    let kallas = person(facts, "Кая Каллас");
    assert_eq!(kallas.text, "Каєю Каллас");
    assert_eq!(
        kallas.role.as_deref(),
        Some("висока представниця ЄС із зовнішньої політики і політики безпеки")
    );
    // A later bare surname is the same person, not a new fact.
    assert_eq!(
        facts.iter().filter(|f| f.kind == FactKind::Person).count(),
        4
    );
    for place in ["Росія", "Північна Корея", "Іран", "КНДР", "Київ", "Україна"]
    {
        assert!(has(facts, FactKind::Place, place), "missing place {place}");
    }
    for org in [
        "НАТО",
        "Рада Україна – НАТО",
        "ЄС",
        "Європейський інвестиційний банк",
        "МЗС",
    ] {
        assert!(has(facts, FactKind::Organization, org), "missing org {org}");
    }
    let night = facts
        .iter()
        .find(|f| f.text == "у ніч проти 28 серпня")
        .unwrap();
    assert_eq!(night.kind, FactKind::Date);
    assert_eq!(night.normalized.as_deref(), Some("2025-08-28"));
    assert_eq!(
        night.unit.as_deref(),
        Some(facts::date_unit::YEAR_FROM_PUBLICATION)
    );
    let attack = facts
        .iter()
        .find(|f| f.kind == FactKind::Event && f.text.starts_with("масовану атаку"))
        .unwrap();
    assert_eq!(attack.normalized.as_deref(), Some("2025-08-28"));
}

#[test]
fn seed_001_umerov_and_meetings() {
    let (_, _, facts) = &all_facts()[1];
    let umerov = person(facts, "Рустем Умєров");
    assert_eq!(umerov.role.as_deref(), Some("Міністр оборони України"));
    assert_eq!(
        person(facts, "Володимир Зеленський").role.as_deref(),
        Some("Президент України")
    );
    assert!(has(facts, FactKind::Place, "Брюссель"));
    assert!(has(facts, FactKind::Place, "Велика Британія"));
    assert!(has(facts, FactKind::Organization, "Коаліція охочих"));
    assert!(has(
        facts,
        FactKind::Organization,
        "Контактна група з питань оборони України"
    ));
    assert!(has(facts, FactKind::Event, "Рамштайн"));
    assert!(
        has(facts, FactKind::Date, "2025-04-24"),
        "завтра = day after publication"
    );
    let n = facts.iter().find(|f| f.kind == FactKind::Number).unwrap();
    assert_eq!(
        (n.text.as_str(), n.normalized.as_deref(), n.unit.as_deref()),
        ("85 боєзіткнень", Some("85"), Some("боєзіткнень"))
    );
    assert!(facts
        .iter()
        .any(|f| f.kind == FactKind::Event && f.text == "зустріч Коаліції охочих"));
}

#[test]
fn seed_002_numbers_and_weekday() {
    let (_, _, facts) = &all_facts()[2];
    assert!(person(facts, "Кая Каллас")
        .role
        .as_deref()
        .unwrap()
        .starts_with("Висока представниця Європейського Союзу"));
    let num = |text: &str| {
        facts
            .iter()
            .find(|f| f.kind == FactKind::Number && f.text == text)
            .unwrap_or_else(|| panic!("no number {text}"))
    };
    assert_eq!(num("51 людину").normalized.as_deref(), Some("51"));
    assert_eq!(num("23 дитини").unit.as_deref(), Some("дитини"));
    assert_eq!(
        num("219 бойових зіткнень").unit.as_deref(),
        Some("бойових зіткнень")
    );
    let area = num("4,81 км²");
    assert_eq!(
        (area.normalized.as_deref(), area.unit.as_deref()),
        (Some("4.81"), Some("км²"))
    );
    assert_eq!(
        num("135 із 156 засобів").normalized.as_deref(),
        Some("135/156")
    );
    let friday = facts.iter().find(|f| f.text == "у п’ятницю").unwrap();
    assert_eq!(
        (friday.kind, friday.normalized.as_deref()),
        (FactKind::Date, None)
    );
    assert!(has(facts, FactKind::Date, "2025-04-11"));
    assert!(
        has(facts, FactKind::Date, "2025-01-12"),
        "в ніч на 12 січня"
    );
    assert!(has(facts, FactKind::Place, "Чернігівщина"));
    assert!(has(facts, FactKind::Organization, "Донецька ОВА"));
    assert!(!has(facts, FactKind::Place, "Донецьк"));
    // photo-2025-04-11-21-10-38 and 21:32 are not facts.
    let mut numbers: Vec<&str> = facts
        .iter()
        .filter(|f| f.kind == FactKind::Number)
        .map(|f| f.text.as_str())
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        [
            "1 хв",
            "135 із 156 засобів",
            "219 бойових зіткнень",
            "23 дитини",
            "4,81 км²",
            "51 людину"
        ]
    );
}

#[test]
fn seed_003_five_people() {
    let (_, _, facts) = &all_facts()[3];
    let kellog = person(facts, "Кіт Келлог");
    assert_eq!(
        kellog.role.as_deref(),
        Some("спецпредставник президента США з питань України генерал")
    );
    assert_eq!(
        person(facts, "Олександр Сирський").role.as_deref(),
        Some("Головнокомандувач ЗСУ генерал")
    );
    assert_eq!(
        person(facts, "Андрій Гнатов").role.as_deref(),
        Some("начальник генерального штабу генерал-майор")
    );
    assert_eq!(
        person(facts, "Кирило Буданов").role.as_deref(),
        Some("начальник ГУР Міноборони генерал-лейтенант")
    );
    assert_eq!(
        person(facts, "Сергій Боєв").role.as_deref(),
        Some("Перший заступник міністра оборони")
    );
    assert!(person(facts, "Рустем Умєров").role.is_some());
    let ordinal = facts.iter().find(|f| f.text == "6-ту зустріч").unwrap();
    assert_eq!(ordinal.normalized.as_deref(), Some("6"));
    assert_eq!(ordinal.unit.as_deref(), Some("ordinal: зустріч"));
    let euros = facts.iter().find(|f| f.text == "42 млн євро").unwrap();
    assert_eq!(
        (euros.normalized.as_deref(), euros.unit.as_deref()),
        (Some("42000000"), Some("млн євро"))
    );
    assert!(has(facts, FactKind::Place, "Одещина"));
    // Shouted headlines yield no spurious acronym organisations.
    assert!(!facts
        .iter()
        .any(|f| f.text == "СТОЛИЦІ" || f.text == "ПРАЦЮЄ"));
}

#[test]
fn seed_004_shmyhal_rutte_money() {
    let (_, _, facts) = &all_facts()[4];
    assert_eq!(
        person(facts, "Денис Шмигаль").role.as_deref(),
        Some("Міністр оборони України")
    );
    let rutte = person(facts, "Марк Рютте");
    assert_eq!(rutte.text, "Марком Рютте");
    assert_eq!(rutte.role.as_deref(), Some("Генеральний секретар НАТО"));
    let money = facts.iter().find(|f| f.kind == FactKind::Number).unwrap();
    assert_eq!(money.text, "1,5 млрд доларів");
    assert_eq!(money.normalized.as_deref(), Some("1500000000"));
    assert_eq!(money.unit.as_deref(), Some("млрд доларів"));
    assert!(has(facts, FactKind::Place, "Київ"));
    assert!(has(facts, FactKind::Organization, "Збройні Сили України"));
    // No publication date: no date is invented.
    assert!(!facts.iter().any(|f| f.kind == FactKind::Date));
}

/// Sectors and capabilities written as abbreviations («ОПК», «ППО») are
/// glossary terms, not organisations (tests/gold/README.md); seed 003 has
/// both, and NATO beside them.
#[test]
fn sector_abbreviations_are_terms_not_organisations() {
    let (_, src, facts) = &all_facts()[3];
    assert!(src.contains("ОПК") && src.contains("ППО"));
    for word in ["ОПК", "ППО"] {
        assert!(
            !facts.iter().any(|f| f.text == word),
            "{word} is not a fact: {facts:#?}"
        );
    }
    let terms: Vec<&str> = ukdigest::entities::terms_in(src)
        .iter()
        .map(|t| t.en.as_str())
        .collect();
    for en in ["defence industry", "air defence", "drones"] {
        assert!(terms.contains(&en), "{en} in {terms:?}");
    }
}

#[test]
fn day_month_without_publication_date_keeps_year_unknown() {
    let src = "Атака сталася у ніч проти 28 серпня. Зустріч відбулася 3 вересня 2024 року.";
    let a = article_from("t", src, None);
    let facts = facts::extract(&a, src);
    assert!(has(&facts, FactKind::Date, "--08-28"));
    assert!(has(&facts, FactKind::Date, "2024-09-03"));
    let with_date = article_from("t", src, Some("2025-09-02"));
    assert!(has(
        &facts::extract(&with_date, src),
        FactKind::Date,
        "2025-08-28"
    ));
}

#[test]
fn role_complement_stops_at_prepositions_and_verbs() {
    let src = "Міністр під час зустрічі з Марком Рютте наголосив на підтримці. \
               Міністр оборони заявив Денису Шмигалю про це. \
               Урядовий уповноважений у справах ветеранів Іван Петренко виступив.";
    let a = article_from("t", src, None);
    let facts = facts::extract(&a, src);
    assert_eq!(person(&facts, "Марк Рютте").role, None);
    assert_eq!(person(&facts, "Денис Шмигаль").role, None);
    let p = facts.iter().find(|f| f.text == "Іван Петренко").unwrap();
    assert_eq!(p.normalized.as_deref(), Some("Іван Петренко"));
}

#[test]
fn percentages_and_thousands() {
    let src = "Рівень підтримки зріс до 64 % за рік. Україна отримала 2 500 дронів.";
    let a = article_from("t", src, None);
    let facts = facts::extract(&a, src);
    let pct = facts
        .iter()
        .find(|f| f.kind == FactKind::Number && f.unit.as_deref() == Some("%"))
        .unwrap();
    assert_eq!(pct.normalized.as_deref(), Some("64"));
    let drones = facts.iter().find(|f| f.text == "2 500 дронів").unwrap();
    assert_eq!(drones.normalized.as_deref(), Some("2500"));
    let src = "Виділено 1 500 000 гривень і 3 тис. дронів.";
    let a = article_from("t", src, None);
    let facts = facts::extract(&a, src);
    let uah = facts
        .iter()
        .find(|f| f.text == "1 500 000 гривень")
        .unwrap();
    assert_eq!(uah.normalized.as_deref(), Some("1500000"));
    let k = facts.iter().find(|f| f.text.starts_with("3 тис")).unwrap();
    assert_eq!(k.normalized.as_deref(), Some("3000"));
}

#[test]
fn ground_accepts_inflected_and_rejects_invented() {
    let (a, src) = seed("003_dd46adcc9f1925d8", Some("2025-07-14"));
    // Verbatim.
    let (s, e, _) = facts::ground(&a, &src, "Кирило Буданов").unwrap();
    assert_eq!(&src[s..e], "Кирило Буданов");
    // Nominative proposed, instrumental in the text.
    let (s, e, sent) = facts::ground(&a, &src, "Кіт Келлог").unwrap();
    assert_eq!(&src[s..e], "Кітом Келлогом");
    let sentence = a.sentences().nth(sent).unwrap();
    assert!(sentence.text.contains("Кітом Келлогом"));
    // Different case of a place.
    let (s, e, _) = facts::ground(&a, &src, "Київ").unwrap();
    assert_eq!(&src[s..e], "Києві");
    // Invented.
    assert_eq!(facts::ground(&a, &src, "Джон Сміт"), None);
    assert_eq!(facts::ground(&a, &src, "Кіт Петренко"), None);
    assert_eq!(facts::ground(&a, &src, ""), None);
    // Whole words only.
    assert_eq!(facts::ground(&a, &src, "Умєр"), None);
}

#[test]
fn llm_facts_are_grounded_and_merged() {
    let (a, src) = seed("003_dd46adcc9f1925d8", Some("2025-07-14"));
    let pattern = facts::extract(&a, &src);
    let kellog = facts::llm_fact(&a, &src, FactKind::Person, "Кіт Келлог").unwrap();
    assert_eq!(
        (kellog.text.as_str(), kellog.origin.name()),
        ("Кітом Келлогом", "llm")
    );
    assert!(facts::llm_fact(&a, &src, FactKind::Person, "Джо Байден").is_none());
    let sanctions = facts::llm_fact(&a, &src, FactKind::Event, "питання санкцій").unwrap();
    let merged = facts::merge(pattern.clone(), vec![kellog, sanctions.clone()]);
    // Kellog overlaps a pattern person: dropped; the event is new to the
    // merge only if no pattern event covers it.
    assert!(merged
        .iter()
        .all(|f| f.origin == facts::Origin::Pattern || f.text == sanctions.text));
    assert!(merged.len() <= pattern.len() + 1);
    for w in merged.windows(2) {
        assert!(w[0].span.0 <= w[1].span.0);
    }
    let org = facts::llm_fact(&a, &src, FactKind::Organization, "генеральний штаб").unwrap();
    assert_eq!(org.text, "генерального штабу");
    let merged = facts::merge(pattern.clone(), vec![org]);
    assert_eq!(merged.len(), pattern.len() + 1);
    assert!(merged
        .iter()
        .any(|f| f.origin == facts::Origin::Llm && f.text == "генерального штабу"));
}

#[test]
fn transliteration_follows_kmu_2010() {
    let cases = [
        ("Згорани", "Zghorany"),
        ("Розгон", "Rozghon"),
        ("Юрій", "Yurii"),
        ("Їжакевич", "Yizhakevych"),
        ("Щербухи", "Shcherbukhy"),
        ("Знам'янка", "Znamianka"),
        ("Знам’янка", "Znamianka"),
        ("Алушта", "Alushta"),
        ("Борщагівка", "Borshchahivka"),
        ("Вінниця", "Vinnytsia"),
        ("Гадяч", "Hadiach"),
        ("Ґалаґан", "Galagan"),
        ("Єнакієве", "Yenakiieve"),
        ("Житомир", "Zhytomyr"),
        ("Закарпаття", "Zakarpattia"),
        ("Кадиївка", "Kadyivka"),
        ("Йосипівка", "Yosypivka"),
        ("Стрий", "Stryi"),
        ("Київ", "Kyiv"),
        ("Миколаїв", "Mykolaiv"),
        ("Ніжин", "Nizhyn"),
        ("Ужгород", "Uzhhorod"),
        ("Харків", "Kharkiv"),
        ("Біла Церква", "Bila Tserkva"),
        ("Чернівці", "Chernivtsi"),
        ("Гоща", "Hoshcha"),
        ("Русь", "Rus"),
        ("Крюківка", "Kriukivka"),
        ("Яготин", "Yahotyn"),
        ("Ічня", "Ichnia"),
        ("Рустем Умєров", "Rustem Umierov"),
        ("ЗСУ", "ZSU"),
        ("ЩЕ", "SHCHE"),
    ];
    for (uk, en) in cases {
        assert_eq!(facts::transliterate(uk), en, "{uk}");
    }
}

fn rendered<'a>(facts: &'a [Fact], text: &str) -> (&'a str, &'a str) {
    let f = facts
        .iter()
        .find(|f| f.text == text)
        .unwrap_or_else(|| panic!("no fact {text}"));
    (
        f.english.as_deref().unwrap(),
        f.english_source.unwrap().name(),
    )
}

#[test]
fn english_rendering_prefers_the_translation() {
    let src = "Міністр оборони України Рустем Умєров провів зустріч з Генеральним секретарем НАТО Марком Рютте у Брюсселі 28 серпня. \
               Вже мобілізовано близько 1,5 млрд доларів. Окупанти захопили 4,81 км² за добу.";
    let a = article_from("t", src, Some("2025-09-01"));
    let mut facts = facts::extract(&a, src);
    let english = vec![
        "Ukrainian Defense Minister Rustem Umerov met NATO Secretary General Mark Rutte in Brussels on August 28.".to_string(),
        "About $1.5 billion has already been mobilized.".to_string(),
    ];
    facts::render_english(&mut facts, &english);
    assert_eq!(
        rendered(&facts, "Рустем Умєров"),
        ("Rustem Umerov", "translation")
    );
    assert_eq!(
        rendered(&facts, "Марком Рютте"),
        ("Mark Rutte", "translation")
    );
    assert_eq!(rendered(&facts, "НАТО"), ("NATO", "translation"));
    assert_eq!(rendered(&facts, "Брюсселі"), ("Brussels", "translation"));
    assert_eq!(rendered(&facts, "України"), ("Ukraine", "lexicon"));
    assert_eq!(rendered(&facts, "28 серпня"), ("August 28", "translation"));
    assert_eq!(
        rendered(&facts, "1,5 млрд доларів"),
        ("$1.5 billion", "translation")
    );
    // Sentence 2 has no translation: rule-based rendering.
    assert_eq!(rendered(&facts, "4,81 км²"), ("4.81 km²", "rule"));
    let meeting = facts
        .iter()
        .find(|f| f.kind == FactKind::Event && f.text.starts_with("зустріч"))
        .unwrap();
    assert_eq!(
        meeting.english.as_deref(),
        Some("met NATO Secretary General Mark Rutte in Brussels on August")
    );
}

#[test]
fn english_rendering_falls_back_to_transliteration() {
    let src = "Перший заступник міністра оборони Сергій Боєв прибув до Києва.";
    let a = article_from("t", src, None);
    let mut facts = facts::extract(&a, src);
    facts::render_english(
        &mut facts,
        &["The first deputy minister arrived in Kyiv.".to_string()],
    );
    assert_eq!(
        rendered(&facts, "Сергій Боєв"),
        ("Serhii Boiev", "transliteration")
    );
    assert_eq!(rendered(&facts, "Києва"), ("Kyiv", "translation"));
    facts::render_english(
        &mut facts,
        &["First Deputy Defense Minister Serhiy Boyev arrived in Kyiv.".to_string()],
    );
    assert_eq!(
        rendered(&facts, "Сергій Боєв"),
        ("Serhiy Boyev", "translation")
    );
}

#[test]
fn facts_serialize_round_trip() {
    let (_, _, facts) = &all_facts()[4];
    let json = serde_json::to_string(facts).unwrap();
    assert!(json.contains("\"kind\":\"person\""));
    let back: Vec<Fact> = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, facts);
}

fn flores() -> (Vec<String>, Vec<String>) {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/flores200-uk-en"
    );
    let uk = ukdigest::eval::read_lines(format!("{dir}/dev.uk")).unwrap();
    let en = ukdigest::eval::read_lines(format!("{dir}/dev.en")).unwrap();
    (uk, en)
}

/// FLORES dev as one long article (one sentence per line): every span must
/// be exact, and most numbers/dates/places must be found in the reference
/// English translation.
#[test]
fn flores_dev_spans_and_english_alignment() {
    let (uk, en) = flores();
    let source = uk.join("\n");
    let mut paragraphs = Vec::new();
    let mut offset = 0;
    for line in &uk {
        paragraphs.push(Paragraph {
            kind: ParagraphKind::Text,
            sentences: vec![Sentence {
                text: line.clone(),
                span: (offset, offset + line.len()),
            }],
        });
        offset += line.len() + 1;
    }
    let a = Article {
        id: "flores-dev".into(),
        title: String::new(),
        published: None,
        outlet: None,
        source_line: None,
        source_path: PathBuf::from("dev.uk"),
        encoding: "utf-8".into(),
        source_format: Default::default(),
        paragraphs,
    };
    let mut facts = facts::extract(&a, &source);
    for f in &facts {
        assert_eq!(&source[f.span.0..f.span.1], f.text);
    }
    facts::render_english(&mut facts, &en);
    let mut stats = std::collections::BTreeMap::<String, (usize, usize)>::new();
    for f in &facts {
        let e = stats.entry(format!("{:?}", f.kind)).or_default();
        e.0 += 1;
        if f.english_source == Some(facts::EnglishSource::Translation) {
            e.1 += 1;
        }
    }
    eprintln!("flores dev facts (kind: total, found in translation): {stats:?}");
    if std::env::var("FACTS_DEBUG").is_ok() {
        for f in &facts {
            eprintln!(
                "{:?}\t{}\t{:?}\t{:?}\t|| {}",
                f.kind, f.text, f.normalized, f.english, en[f.sentence]
            );
        }
    }
    // Measured: Number 163/164, Date 64/65, Person 23/24, Place 31/35.
    for (kind, min_total, min_share) in [
        ("Number", 100, 0.9),
        ("Date", 40, 0.9),
        ("Person", 20, 0.85),
        ("Place", 25, 0.8),
    ] {
        let (total, found) = stats[kind];
        assert!(total >= min_total, "{kind}: only {total}");
        assert!(
            found as f64 >= total as f64 * min_share,
            "{kind}: {found}/{total} found in the translation"
        );
    }
}

/// The English renderings (text, source) of the event facts whose Ukrainian text starts with `prefix`.
fn event_english<'a>(facts: &'a [Fact], prefix: &str) -> Vec<(&'a str, &'a str)> {
    facts
        .iter()
        .filter(|f| f.kind == FactKind::Event && f.text.starts_with(prefix))
        .map(|f| {
            (
                f.english.as_deref().unwrap_or("<none>"),
                f.english_source.map_or("<none>", |s| s.name()),
            )
        })
        .collect()
}

#[test]
fn event_english_follows_occurrences_and_names_and_never_stays_ukrainian() {
    let src = "У Брюсселі відбулася зустріч Коаліції охочих, а потім засідання Контактної групи в форматі Рамштайн. \
               Сторони обговорили підготовку наступних кроків.";
    let a = article_from("t", src, Some("2025-04-23"));
    let mut facts = facts::extract(&a, src);
    let english = vec![
        "In Brussels, a meeting of the Coalition of the Willing took place, and then a meeting of the Contact Group in the Ramstein format.".to_string(),
        // The translator dropped the verb: no keyword to align to.
        "The parties prepared the next steps.".to_string(),
    ];
    facts::render_english(&mut facts, &english);
    // The second meeting of the sentence takes the second "meeting", whose
    // clause holds the names found inside it.
    assert_eq!(
        event_english(&facts, "зустріч"),
        [(
            "meeting of the Coalition of the Willing took place",
            "translation"
        )]
    );
    assert_eq!(
        event_english(&facts, "засідання"),
        [(
            "meeting of the Contact Group in the Ramstein format",
            "translation"
        )]
    );
    // No clause to take: the lexicon's noun, not Ukrainian only.
    assert_eq!(
        event_english(&facts, "обговорили"),
        [("discussion", "lexicon")]
    );
}

/// The date check against human translations: FLORES-200 dev's references
/// name the months and weekdays of their sources (all but one misspelt
/// "Novemeber"), and the correction leaves every reference as it is.
#[test]
fn flores_dev_references_name_the_sources_months_and_weekdays() {
    use ukdigest::entities::dates::SourceDates;
    let (uk, en) = flores();
    let mut dated = 0;
    let mut missed = Vec::new();
    for (u, e) in uk.iter().zip(&en) {
        let dates = SourceDates::of(u);
        if dates.is_empty() {
            continue;
        }
        dated += 1;
        assert_eq!(&dates.correct(e), e, "{u}");
        if !dates.missing(e).is_empty() {
            missed.push(format!("{:?}: {e}", dates.missing(e)));
        }
    }
    eprintln!(
        "flores dev: {dated} sentences with a month or weekday; references missing one: {missed:?}"
    );
    assert!(dated >= 35, "{dated}");
    assert!(missed.len() <= 1, "{missed:?}");
}

/// The title check and the glossary terms against human translations:
/// FLORES-200 dev's references (997 sentences) give no title of office
/// their source has no word for (five did before pharaohs, tsars,
/// compounds and a name were licensed; two allowed here), and seldom leave out a term's
/// checked English. Each sentence is judged alone with the entity table
/// its own facts give, as the translator's review does.
#[test]
fn flores_dev_references_give_the_sources_titles_and_terms() {
    use ukdigest::entities::titles::{plurals_as_singular, unlicensed_titles};
    use ukdigest::entities::{table_of, terms_in};
    let (uk, en) = flores();
    let mut titled = Vec::new();
    let mut terms = 0;
    let mut untermed = Vec::new();
    for (u, e) in uk.iter().zip(&en) {
        let a = ukdigest::ingest::plain::article(
            "flores",
            std::path::Path::new("flores.txt"),
            "utf-8",
            u,
            ukdigest::ingest::plain::Layout::Paragraphs,
        );
        let table = table_of(&a, u);
        let t = unlicensed_titles(&table, u, e);
        if !t.is_empty() {
            titled.push(format!("{t:?}: {u} | {e}"));
        }
        let n = plurals_as_singular(u, e);
        if !n.is_empty() {
            titled.push(format!("number {n:?}: {u} | {e}"));
        }
        let used: Vec<_> = terms_in(u)
            .into_iter()
            .filter(|t| !t.check.is_empty())
            .collect();
        terms += used.len();
        let missing: Vec<_> = table
            .missing(u, e)
            .into_iter()
            .filter(|m| used.iter().any(|t| &t.en == m))
            .collect();
        if !missing.is_empty() {
            untermed.push(format!("{missing:?}: {u} | {e}"));
        }
    }
    eprintln!(
        "flores dev: {} references with a title the source does not give: {titled:#?}\n\
         {terms} checked terms, {} references without one: {untermed:#?}",
        titled.len(),
        untermed.len()
    );
    assert!(uk.len() >= 990, "{}", uk.len());
    assert!(titled.len() <= 2, "{titled:#?}");
    assert!(untermed.len() * 5 <= terms.max(5), "{untermed:#?}");
}
