//! Closed word lists: places, organisations, given names, role words,
//! months and event words, each with its inflected forms and English.
//!
//! Inflected forms are generated from the nominative by the regular
//! declension patterns ([`Decl`]); irregular words list their forms.
use super::text::normalize_word;
use super::FactKind;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Declension pattern used to generate case forms from a nominative.
#[derive(Debug, Clone, Copy)]
pub enum Decl {
    /// Does not decline (`США`, `Рютте`, `Токіо`).
    None,
    /// Feminine noun in `-а`/`-я` (`Україна`, `Росія`, `Кая`, `Одещина`).
    Fem,
    /// Masculine noun ending in a hard consonant (`Брюссель` is [`Decl::MascSoft`]).
    Masc,
    /// Masculine noun in `-ь` (`Брюссель`, `Ізраїль`).
    MascSoft,
    /// Masculine noun with genitive in `-у` (`Іран`, `Крим`, `Альянс`).
    MascU,
    /// Neuter in `-о` (`Дніпро`, `Міністерство`).
    Neut,
    /// Phrase of a feminine adjective + feminine noun (+ fixed tail):
    /// `Північна Корея`, `Донецька область`, `Контактна група з питань …`.
    FemAdjNoun,
    /// Masculine adjective + masculine noun (+ fixed tail), genitive in `-у`
    /// (`Європейський Союз`, `Європейський інвестиційний банк`).
    MascAdjNounU,
}

/// Case forms of one word for the patterns above.
fn word_forms(w: &str, decl: Decl) -> Vec<String> {
    let cut = |n: usize| -> String {
        let chars: Vec<char> = w.chars().collect();
        chars[..chars.len().saturating_sub(n)].iter().collect()
    };
    let with = |stem: &str, ends: &[&str]| ends.iter().map(|e| format!("{stem}{e}")).collect();
    match decl {
        Decl::None => vec![w.to_string()],
        Decl::Fem => {
            if w.ends_with("ія") {
                with(&cut(2), &["ія", "ії", "ію", "ією"])
            } else if w.ends_with("ея")
                || w.ends_with("ая")
                || w.ends_with("оя")
                || w.ends_with("уя")
            {
                with(&cut(1), &["я", "ї", "ю", "єю"])
            } else if w.ends_with('я') {
                with(&cut(1), &["я", "і", "ю", "ею"])
            } else if w.ends_with("ка") {
                with(&cut(2), &["ка", "ки", "ці", "ку", "кою"])
            } else if w.ends_with("га") {
                with(&cut(2), &["га", "ги", "зі", "гу", "гою"])
            } else if w.ends_with('а') {
                // `-ею` is the instrumental after sibilants (Польщею).
                with(&cut(1), &["а", "и", "і", "у", "ою", "ею"])
            } else if w.ends_with('ь') {
                // область, Білорусь
                with(&cut(1), &["ь", "і", "ю"])
            } else {
                vec![w.to_string()]
            }
        }
        Decl::Masc => with(w, &["", "а", "у", "ові", "і", "ом", "ом"]),
        Decl::MascSoft => with(&cut(1), &["ь", "я", "ю", "еві", "і", "ем"]),
        Decl::MascU => with(w, &["", "у", "ові", "і", "ом"]),
        Decl::Neut => with(&cut(1), &["о", "а", "у", "ові", "і", "ом"]),
        // Phrase patterns are expanded by `phrase_forms`.
        Decl::FemAdjNoun | Decl::MascAdjNounU => vec![w.to_string()],
    }
}

/// Feminine adjective forms aligned with [`word_forms`] cases nom/gen/dat/acc/ins.
fn fem_adj(w: &str) -> [String; 5] {
    let stem = w
        .strip_suffix('а')
        .or_else(|| w.strip_suffix('я'))
        .unwrap_or(w);
    let soft = w.ends_with('я');
    if soft {
        [
            format!("{stem}я"),
            format!("{stem}ьої"),
            format!("{stem}ій"),
            format!("{stem}ю"),
            format!("{stem}ьою"),
        ]
    } else {
        [
            format!("{stem}а"),
            format!("{stem}ої"),
            format!("{stem}ій"),
            format!("{stem}у"),
            format!("{stem}ою"),
        ]
    }
}

/// Nominative/genitive/dative/accusative/instrumental of a feminine noun.
fn fem_noun_cases(w: &str) -> [String; 5] {
    let f = word_forms(w, Decl::Fem);
    if w.ends_with('ь') {
        // область: області, області, область, областю
        let s = &f[0][..f[0].len() - 'ь'.len_utf8()];
        return [
            w.to_string(),
            format!("{s}і"),
            format!("{s}і"),
            w.to_string(),
            format!("{s}ю"),
        ];
    }
    match f.len() {
        // -ія / vowel + я: nom, gen = dat, acc, ins
        4 => [
            f[0].clone(),
            f[1].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].clone(),
        ],
        n if n >= 5 => [
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].clone(),
            f[4].clone(),
        ],
        _ => [
            w.to_string(),
            w.to_string(),
            w.to_string(),
            w.to_string(),
            w.to_string(),
        ],
    }
}

/// All surface forms (as word sequences) of a lexicon entry.
fn phrase_forms(nominative: &str, decl: Decl) -> Vec<String> {
    let words: Vec<&str> = nominative.split(' ').collect();
    match decl {
        Decl::FemAdjNoun => {
            // Leading feminine adjectives, then the head noun (the last word
            // of the leading run in -а/-я/-ь), then a fixed tail.
            let run = words
                .iter()
                .take_while(|w| w.ends_with('а') || w.ends_with('я') || w.ends_with('ь'))
                .count();
            let head = run.max(1) - 1;
            let noun = fem_noun_cases(words[head]);
            let adjs: Vec<[String; 5]> = words[..head].iter().map(|a| fem_adj(a)).collect();
            let tail = words[head + 1..].join(" ");
            (0..5)
                .map(|c| {
                    let mut parts: Vec<String> = adjs.iter().map(|a| a[c].clone()).collect();
                    parts.push(noun[c].clone());
                    if !tail.is_empty() {
                        parts.push(tail.clone());
                    }
                    parts.join(" ")
                })
                .collect()
        }
        Decl::MascAdjNounU => {
            let head = words
                .iter()
                .position(|w| !(w.ends_with("ий") || w.ends_with("ій")))
                .unwrap_or(words.len() - 1);
            let tail = words[head + 1..].join(" ");
            let adj_ends = ["ий", "ого", "ому", "им", "ому"];
            let noun_ends = ["", "у", "у", "ом", "і"];
            (0..5)
                .map(|c| {
                    let mut parts: Vec<String> = words[..head]
                        .iter()
                        .map(|a| {
                            let s = &a[..a.len() - "ий".len()];
                            format!("{s}{}", adj_ends[c])
                        })
                        .collect();
                    parts.push(format!("{}{}", words[head], noun_ends[c]));
                    if !tail.is_empty() {
                        parts.push(tail.clone());
                    }
                    parts.join(" ")
                })
                .collect()
        }
        _ if words.len() == 1 => word_forms(nominative, decl),
        _ => {
            // Decline the first word, keep the rest (`Міністерство оборони України`).
            let rest = words[1..].join(" ");
            word_forms(words[0], decl)
                .into_iter()
                .map(|f| format!("{f} {rest}"))
                .collect()
        }
    }
}

/// A place or organisation known to the gazetteer.
#[derive(Debug)]
pub struct Entry {
    pub kind: FactKind,
    /// Nominative Ukrainian name, the fact's `normalized`.
    pub nominative: &'static str,
    /// English names; the first is the preferred rendering.
    pub english: &'static [&'static str],
    /// Lower-cased surface forms, each as word tokens.
    pub forms: Vec<Vec<String>>,
}

type Row = (&'static str, Decl, &'static [&'static str], &'static str);

/// Places: nominative, declension, English names, extra irregular forms (`|`-separated).
const PLACES: &[Row] = &[
    ("Україна", Decl::Fem, &["Ukraine"], ""),
    (
        "Київ",
        Decl::None,
        &["Kyiv", "Kiev"],
        "Києва|Києву|Києві|Києвом",
    ),
    (
        "Львів",
        Decl::None,
        &["Lviv"],
        "Львова|Львову|Львові|Львовом",
    ),
    (
        "Харків",
        Decl::None,
        &["Kharkiv"],
        "Харкова|Харкову|Харкові|Харковом",
    ),
    (
        "Чернігів",
        Decl::None,
        &["Chernihiv"],
        "Чернігова|Чернігову|Чернігові|Черніговом",
    ),
    (
        "Миколаїв",
        Decl::None,
        &["Mykolaiv"],
        "Миколаєва|Миколаєву|Миколаєві|Миколаєвом",
    ),
    ("Одеса", Decl::Fem, &["Odesa", "Odessa"], ""),
    ("Дніпро", Decl::Neut, &["Dnipro"], "Дніпрі"),
    (
        "Запоріжжя",
        Decl::None,
        &["Zaporizhzhia"],
        "Запоріжжі|Запоріжжям",
    ),
    ("Херсон", Decl::Masc, &["Kherson"], ""),
    ("Суми", Decl::None, &["Sumy"], "Сум|Сумам|Сумах"),
    ("Полтава", Decl::Fem, &["Poltava"], ""),
    ("Житомир", Decl::Masc, &["Zhytomyr"], ""),
    ("Вінниця", Decl::Fem, &["Vinnytsia"], ""),
    ("Ужгород", Decl::Masc, &["Uzhhorod"], ""),
    ("Донецьк", Decl::Masc, &["Donetsk"], ""),
    ("Луганськ", Decl::Masc, &["Luhansk"], ""),
    ("Покровськ", Decl::Masc, &["Pokrovsk"], ""),
    ("Бахмут", Decl::Masc, &["Bakhmut"], ""),
    ("Маріуполь", Decl::MascSoft, &["Mariupol"], ""),
    ("Севастополь", Decl::MascSoft, &["Sevastopol"], ""),
    ("Крим", Decl::MascU, &["Crimea"], ""),
    (
        "Кривий Ріг",
        Decl::None,
        &["Kryvyi Rih"],
        "Кривого Рогу|Кривому Розі|Кривим Рогом",
    ),
    (
        "Шахове",
        Decl::None,
        &["Shakhove"],
        "Шахового|Шаховому|Шаховим",
    ),
    (
        "Нове Шахове",
        Decl::None,
        &["Nove Shakhove"],
        "Нового Шахового|Новому Шаховому",
    ),
    ("Одещина", Decl::Fem, &["Odesa region", "Odesa Oblast"], ""),
    (
        "Чернігівщина",
        Decl::Fem,
        &["Chernihiv region", "Chernihiv Oblast"],
        "",
    ),
    (
        "Дніпропетровщина",
        Decl::Fem,
        &["Dnipropetrovsk region"],
        "",
    ),
    ("Харківщина", Decl::Fem, &["Kharkiv region"], ""),
    ("Київщина", Decl::Fem, &["Kyiv region"], ""),
    ("Сумщина", Decl::Fem, &["Sumy region"], ""),
    ("Херсонщина", Decl::Fem, &["Kherson region"], ""),
    ("Донеччина", Decl::Fem, &["Donetsk region"], ""),
    ("Луганщина", Decl::Fem, &["Luhansk region"], ""),
    ("Львівщина", Decl::Fem, &["Lviv region"], ""),
    ("Полтавщина", Decl::Fem, &["Poltava region"], ""),
    (
        "Донецька область",
        Decl::FemAdjNoun,
        &["Donetsk Oblast", "Donetsk region"],
        "",
    ),
    (
        "Луганська область",
        Decl::FemAdjNoun,
        &["Luhansk Oblast", "Luhansk region"],
        "",
    ),
    (
        "Харківська область",
        Decl::FemAdjNoun,
        &["Kharkiv Oblast", "Kharkiv region"],
        "",
    ),
    (
        "Київська область",
        Decl::FemAdjNoun,
        &["Kyiv Oblast", "Kyiv region"],
        "",
    ),
    (
        "Запорізька область",
        Decl::FemAdjNoun,
        &["Zaporizhzhia Oblast"],
        "",
    ),
    (
        "Херсонська область",
        Decl::FemAdjNoun,
        &["Kherson Oblast"],
        "",
    ),
    ("Одеська область", Decl::FemAdjNoun, &["Odesa Oblast"], ""),
    ("Сумська область", Decl::FemAdjNoun, &["Sumy Oblast"], ""),
    (
        "Дніпропетровська область",
        Decl::FemAdjNoun,
        &["Dnipropetrovsk Oblast"],
        "",
    ),
    (
        "Чернігівська область",
        Decl::FemAdjNoun,
        &["Chernihiv Oblast"],
        "",
    ),
    ("Львівська область", Decl::FemAdjNoun, &["Lviv Oblast"], ""),
    ("Росія", Decl::Fem, &["Russia", "Russian Federation"], ""),
    (
        "РФ",
        Decl::None,
        &["Russia", "RF", "Russian Federation"],
        "",
    ),
    (
        "США",
        Decl::None,
        &["US", "USA", "United States", "U.S."],
        "",
    ),
    ("КНДР", Decl::None, &["North Korea", "DPRK"], ""),
    ("Північна Корея", Decl::FemAdjNoun, &["North Korea"], ""),
    ("Південна Корея", Decl::FemAdjNoun, &["South Korea"], ""),
    (
        "Велика Британія",
        Decl::FemAdjNoun,
        &["United Kingdom", "UK", "Britain", "Great Britain"],
        "",
    ),
    ("Європа", Decl::Fem, &["Europe"], ""),
    ("Америка", Decl::Fem, &["America"], ""),
    ("Азія", Decl::Fem, &["Asia"], ""),
    ("Франція", Decl::Fem, &["France"], ""),
    ("Німеччина", Decl::Fem, &["Germany"], ""),
    ("Італія", Decl::Fem, &["Italy"], ""),
    ("Іспанія", Decl::Fem, &["Spain"], ""),
    ("Польща", Decl::Fem, &["Poland"], ""),
    ("Швеція", Decl::Fem, &["Sweden"], ""),
    ("Фінляндія", Decl::Fem, &["Finland"], ""),
    ("Норвегія", Decl::Fem, &["Norway"], ""),
    ("Данія", Decl::Fem, &["Denmark"], ""),
    ("Естонія", Decl::Fem, &["Estonia"], ""),
    ("Латвія", Decl::Fem, &["Latvia"], ""),
    ("Литва", Decl::Fem, &["Lithuania"], ""),
    ("Угорщина", Decl::Fem, &["Hungary"], ""),
    ("Словаччина", Decl::Fem, &["Slovakia"], ""),
    ("Румунія", Decl::Fem, &["Romania"], ""),
    ("Молдова", Decl::Fem, &["Moldova"], ""),
    ("Білорусь", Decl::Fem, &["Belarus"], "Білоруссю"),
    ("Туреччина", Decl::Fem, &["Turkey", "Türkiye"], ""),
    ("Чехія", Decl::Fem, &["Czechia", "Czech Republic"], ""),
    ("Австрія", Decl::Fem, &["Austria"], ""),
    ("Бельгія", Decl::Fem, &["Belgium"], ""),
    ("Греція", Decl::Fem, &["Greece"], ""),
    ("Болгарія", Decl::Fem, &["Bulgaria"], ""),
    ("Грузія", Decl::Fem, &["Georgia"], ""),
    ("Японія", Decl::Fem, &["Japan"], ""),
    ("Індія", Decl::Fem, &["India"], ""),
    ("Канада", Decl::Fem, &["Canada"], ""),
    ("Австралія", Decl::Fem, &["Australia"], ""),
    (
        "Нідерланди",
        Decl::None,
        &["Netherlands"],
        "Нідерландів|Нідерландам|Нідерландах",
    ),
    (
        "Китай",
        Decl::None,
        &["China"],
        "Китаю|Китаєві|Китаї|Китаєм",
    ),
    ("Іран", Decl::MascU, &["Iran"], ""),
    ("Ізраїль", Decl::MascSoft, &["Israel"], "Ізраїлю"),
    ("Казахстан", Decl::MascU, &["Kazakhstan"], ""),
    ("Брюссель", Decl::MascSoft, &["Brussels"], ""),
    ("Париж", Decl::Masc, &["Paris"], "Парижем"),
    ("Лондон", Decl::Masc, &["London"], ""),
    ("Вашингтон", Decl::Masc, &["Washington"], ""),
    ("Берлін", Decl::Masc, &["Berlin"], ""),
    ("Рим", Decl::Masc, &["Rome"], ""),
    ("Варшава", Decl::Fem, &["Warsaw"], ""),
    ("Прага", Decl::Fem, &["Prague"], ""),
    ("Гаага", Decl::Fem, &["The Hague", "Hague"], ""),
    ("Женева", Decl::Fem, &["Geneva"], ""),
    ("Москва", Decl::Fem, &["Moscow"], ""),
    ("Вільнюс", Decl::Masc, &["Vilnius"], ""),
    ("Стамбул", Decl::Masc, &["Istanbul"], ""),
    ("Мюнхен", Decl::Masc, &["Munich"], ""),
    (
        "Відень",
        Decl::None,
        &["Vienna"],
        "Відня|Відню|Відні|Віднем",
    ),
    ("Пекін", Decl::Masc, &["Beijing"], ""),
    ("Рамштайн", Decl::None, &["Ramstein"], "Рамштайні"),
];

/// Organisations (and the «Рамштайн» meeting format, see [`EVENT_NAMES`]).
const ORGS: &[Row] = &[
    ("НАТО", Decl::None, &["NATO"], ""),
    ("PURL", Decl::None, &["PURL", "Prioritized Ukraine Requirements List"], ""),
    ("ЄС", Decl::None, &["EU", "European Union"], ""),
    ("Євросоюз", Decl::MascU, &["EU", "European Union"], ""),
    ("Європейський Союз", Decl::MascAdjNounU, &["European Union", "EU"], ""),
    ("ООН", Decl::None, &["UN", "United Nations"], ""),
    ("ОБСЄ", Decl::None, &["OSCE"], ""),
    ("МАГАТЕ", Decl::None, &["IAEA"], ""),
    ("МЗС", Decl::None, &["Foreign Ministry", "MFA", "Ministry of Foreign Affairs"], ""),
    ("МВС", Decl::None, &["Interior Ministry", "Ministry of Internal Affairs"], ""),
    ("ЗСУ", Decl::None, &["Armed Forces of Ukraine", "AFU", "Ukrainian Armed Forces"], ""),
    ("ГУР", Decl::None, &["HUR", "Defence Intelligence", "Defense Intelligence", "military intelligence"], ""),
    ("СБУ", Decl::None, &["SBU", "Security Service of Ukraine"], ""),
    ("ДСНС", Decl::None, &["State Emergency Service", "SES"], ""),
    ("РНБО", Decl::None, &["NSDC", "National Security and Defense Council"], ""),
    ("ЄІБ", Decl::None, &["EIB", "European Investment Bank"], ""),
    ("Донецька ОВА", Decl::None, &["Donetsk Regional Military Administration", "Donetsk RMA", "Donetsk regional military administration"], "Донецької ОВА|Донецькій ОВА"),
    ("ОВА", Decl::None, &["Regional Military Administration", "RMA", "regional military administration"], ""),
    ("КМВА", Decl::None, &["Kyiv City Military Administration", "KCMA"], ""),
    ("Міноборони", Decl::None, &["Ministry of Defence", "Defense Ministry", "Ministry of Defense", "Defence Ministry"], ""),
    ("Генштаб", Decl::MascU, &["General Staff"], ""),
    ("Альянс", Decl::MascU, &["Alliance", "NATO"], ""),
    ("Пентагон", Decl::MascU, &["Pentagon"], ""),
    ("ОПЕК", Decl::None, &["OPEC"], ""),
    ("ФБР", Decl::None, &["FBI"], ""),
    ("ЦРУ", Decl::None, &["CIA"], ""),
    ("ЮНЕСКО", Decl::None, &["UNESCO"], ""),
    ("ВООЗ", Decl::None, &["WHO", "World Health Organization"], ""),
    ("МВФ", Decl::None, &["IMF", "International Monetary Fund"], ""),
    ("МОК", Decl::None, &["IOC", "International Olympic Committee"], ""),
    ("G7", Decl::None, &["G7"], ""),
    ("Кремль", Decl::None, &["Kremlin"], "Кремля|Кремлю|Кремлі|Кремлем"),
    ("Міністерство оборони України", Decl::Neut, &["Ministry of Defence of Ukraine", "Ministry of Defense of Ukraine", "Defense Ministry", "Defence Ministry"], ""),
    ("Міністерство оборони", Decl::Neut, &["Ministry of Defence", "Ministry of Defense", "Defense Ministry"], ""),
    ("Міністерство закордонних справ України", Decl::Neut, &["Ministry of Foreign Affairs of Ukraine", "Foreign Ministry"], ""),
    ("Міністерство внутрішніх справ України", Decl::Neut, &["Ministry of Internal Affairs of Ukraine", "Interior Ministry"], ""),
    ("Рада Україна – НАТО", Decl::Fem, &["NATO-Ukraine Council", "Ukraine-NATO Council", "NATO–Ukraine Council"], ""),
    ("Контактна група з питань оборони України", Decl::FemAdjNoun, &["Ukraine Defence Contact Group", "Ukraine Defense Contact Group", "UDCG"], ""),
    ("Коаліція охочих", Decl::Fem, &["Coalition of the Willing", "coalition of the willing"], ""),
    ("Європейський інвестиційний банк", Decl::MascAdjNounU, &["European Investment Bank", "EIB"], ""),
    ("Європейська зовнішня служба", Decl::FemAdjNoun, &["European External Action Service", "EEAS"], ""),
    ("Європейська комісія", Decl::FemAdjNoun, &["European Commission"], ""),
    ("Європейська правда", Decl::FemAdjNoun, &["European Pravda", "Yevropeiska Pravda"], ""),
    ("Збройні Сили України", Decl::None, &["Armed Forces of Ukraine"], "Збройних Сил України|Збройним Силам України|Збройними Силами України|Збройних Силах України"),
    ("Сили оборони України", Decl::None, &["Defence Forces of Ukraine", "Defense Forces of Ukraine"], "Сил оборони України|Силам оборони України|Силами оборони України"),
    ("Повітряні сили", Decl::None, &["Air Force"], "Повітряних сил|Повітряним силам|Повітряними силами"),
    ("Верховна Рада", Decl::FemAdjNoun, &["Verkhovna Rada", "parliament"], ""),
    ("Офіс Президента", Decl::None, &["Presidential Office", "Office of the President"], "Офісу Президента|Офісі Президента"),
    ("Білий дім", Decl::None, &["White House"], "Білого дому|Білому домі"),
    ("Інтерфакс-Україна", Decl::None, &["Interfax-Ukraine"], ""),
];

/// All-capital words that are not organisations (sectors and capabilities
/// such as «ОПК», «ППО» are glossary terms: `data/entities.toml`).
pub const NOT_ORG_ACRONYMS: &[&str] = &[
    "ОПК",
    "ППО",
    "ЗМІ",
    "ДТП",
    "ТОТ",
    "ЩЕ",
    "РЕКЛАМА",
    "ВВП",
    "МРТ",
    "ЯМР",
    "ТБ",
    "ВІЛ",
    "СНІД",
    "ДНК",
    "РНК",
    "СДУГ",
    "ПДВ",
    "БПЛА",
    "ІТ",
];

/// Names that denote a recurring event or meeting format rather than a
/// body: «Рамштайн» (the Ukraine Defense Contact Group meetings at
/// Ramstein) is reported as [`FactKind::Event`].
pub const EVENT_NAMES: &[&str] = &["Рамштайн"];

fn build(rows: &[Row], kind: FactKind) -> Vec<Entry> {
    rows.iter()
        .map(|&(nom, decl, english, extra)| {
            let mut surface: Vec<String> = phrase_forms(nom, decl);
            surface.push(nom.to_string());
            surface.extend(
                extra
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            let mut forms: Vec<Vec<String>> = surface.iter().map(|f| phrase_tokens(f)).collect();
            forms.sort();
            forms.dedup();
            let kind = if EVENT_NAMES.contains(&nom) {
                FactKind::Event
            } else {
                kind
            };
            Entry {
                kind,
                nominative: nom,
                english,
                forms,
            }
        })
        .collect()
}

/// Splits a lexicon phrase the way [`super::text::tokenize`] splits text.
pub fn phrase_tokens(phrase: &str) -> Vec<String> {
    super::text::tokenize(phrase, 0)
        .iter()
        .map(|t| t.lower())
        .collect()
}

/// The gazetteer: every entry, plus an index from first lower-cased token.
pub struct Gazetteer {
    pub entries: Vec<Entry>,
    pub by_first: HashMap<String, Vec<(usize, usize)>>,
}

/// The shared gazetteer of places and organisations.
pub fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| {
        let mut entries = build(PLACES, FactKind::Place);
        entries.extend(build(ORGS, FactKind::Organization));
        let mut by_first: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (ei, e) in entries.iter().enumerate() {
            for (fi, f) in e.forms.iter().enumerate() {
                by_first.entry(f[0].clone()).or_default().push((ei, fi));
            }
        }
        Gazetteer { entries, by_first }
    })
}

impl Gazetteer {
    /// The entry whose nominative is `nom`.
    pub fn by_nominative(&self, nom: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.nominative == nom)
    }
}

/// Grammatical case, as far as the name rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Nom,
    Gen,
    Dat,
    Acc,
    Ins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Masc,
    Fem,
}

/// Given names seen in Ukrainian news, with gender.
const GIVEN_NAMES: &[(&str, Gender)] = &[
    ("Рустем", Gender::Masc),
    ("Денис", Gender::Masc),
    ("Сергій", Gender::Masc),
    ("Олексій", Gender::Masc),
    ("Андрій", Gender::Masc),
    ("Олександр", Gender::Masc),
    ("Кирило", Gender::Masc),
    ("Кіт", Gender::Masc),
    ("Марк", Gender::Masc),
    ("Марко", Gender::Masc),
    ("Володимир", Gender::Masc),
    ("Дмитро", Gender::Masc),
    ("Юрій", Gender::Masc),
    ("Михайло", Gender::Masc),
    ("Петро", Gender::Masc),
    ("Павло", Gender::Masc),
    ("Віталій", Gender::Masc),
    ("Валерій", Gender::Masc),
    ("Іван", Gender::Masc),
    ("Олег", Gender::Masc),
    ("Євген", Gender::Masc),
    ("Тарас", Gender::Masc),
    ("Богдан", Gender::Masc),
    ("Максим", Gender::Masc),
    ("Роман", Gender::Masc),
    ("Руслан", Gender::Masc),
    ("Вадим", Gender::Masc),
    ("Віктор", Gender::Masc),
    ("Борис", Gender::Masc),
    ("Ярослав", Gender::Masc),
    ("Станіслав", Gender::Masc),
    ("Костянтин", Gender::Masc),
    ("Анатолій", Gender::Masc),
    ("Геннадій", Gender::Masc),
    ("Арсеній", Gender::Masc),
    ("Дональд", Gender::Masc),
    ("Джо", Gender::Masc),
    ("Емманюель", Gender::Masc),
    ("Ентоні", Gender::Masc),
    ("Пітер", Gender::Masc),
    ("Джон", Gender::Masc),
    ("Ллойд", Gender::Masc),
    ("Піт", Gender::Masc),
    ("Марко", Gender::Masc),
    ("Кая", Gender::Fem),
    ("Юлія", Gender::Fem),
    ("Ольга", Gender::Fem),
    ("Ірина", Gender::Fem),
    ("Урсула", Gender::Fem),
    ("Ганна", Gender::Fem),
    ("Олена", Gender::Fem),
    ("Тетяна", Gender::Fem),
    ("Наталія", Gender::Fem),
    ("Марія", Gender::Fem),
    ("Людмила", Gender::Fem),
    ("Світлана", Gender::Fem),
    ("Оксана", Gender::Fem),
    ("Вероніка", Gender::Fem),
    ("Стів", Gender::Masc),
    ("Стівен", Gender::Masc),
    ("Девід", Gender::Masc),
    ("Джеймс", Gender::Masc),
    ("Альберт", Gender::Masc),
    ("Томас", Gender::Masc),
    ("Майкл", Gender::Masc),
    ("Річард", Gender::Masc),
    ("Роберт", Gender::Masc),
    ("Вільям", Gender::Masc),
    ("Джордж", Gender::Masc),
    ("Чарльз", Gender::Masc),
    ("Барак", Gender::Masc),
    ("Мітт", Gender::Masc),
    ("Ньют", Gender::Masc),
    ("Фрідріх", Gender::Masc),
    ("Олаф", Gender::Masc),
    ("Ангела", Gender::Fem),
    ("Тереза", Gender::Fem),
    ("Хілларі", Gender::Fem),
    ("Камала", Gender::Fem),
    ("Джорджа", Gender::Fem),
    ("Антоніу", Gender::Masc),
    ("Кір", Gender::Masc),
    ("Єнс", Gender::Masc),
    ("Еммануель", Gender::Masc),
];

/// Case forms of a given name: (form, case).
pub fn given_name_forms(nom: &str, gender: Gender) -> Vec<(String, Case)> {
    let chars: Vec<char> = nom.chars().collect();
    let stem = |n: usize| -> String { chars[..chars.len() - n].iter().collect() };
    let mut out = vec![(nom.to_string(), Case::Nom)];
    let mut add = |s: String, c: Case| out.push((s, c));
    let last = *chars.last().unwrap_or(&' ');
    match gender {
        Gender::Masc if nom.ends_with("ій") => {
            let s = stem(1);
            add(format!("{s}я"), Case::Gen);
            add(format!("{s}ю"), Case::Dat);
            add(format!("{s}єві"), Case::Dat);
            add(format!("{s}єм"), Case::Ins);
        }
        Gender::Masc if last == 'о' => {
            let s = stem(1);
            add(format!("{s}а"), Case::Gen);
            add(format!("{s}у"), Case::Dat);
            add(format!("{s}ові"), Case::Dat);
            add(format!("{s}ом"), Case::Ins);
        }
        Gender::Masc if last == 'ь' => {
            let s = stem(1);
            add(format!("{s}я"), Case::Gen);
            add(format!("{s}ю"), Case::Dat);
            add(format!("{s}ем"), Case::Ins);
        }
        Gender::Masc if "аеиіоуюяї".contains(last) => {}
        Gender::Masc => {
            add(format!("{nom}а"), Case::Gen);
            add(format!("{nom}у"), Case::Dat);
            add(format!("{nom}ові"), Case::Dat);
            add(format!("{nom}ом"), Case::Ins);
        }
        Gender::Fem => {
            let cases = [Case::Nom, Case::Gen, Case::Dat, Case::Acc, Case::Ins];
            for (f, c) in fem_noun_cases(nom).into_iter().zip(cases).skip(1) {
                add(f, c);
            }
        }
    }
    out
}

/// Given-name form → (nominative, gender, case).
pub fn given_names() -> &'static HashMap<String, (&'static str, Gender, Case)> {
    static M: OnceLock<HashMap<String, (&'static str, Gender, Case)>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = HashMap::new();
        for &(nom, g) in GIVEN_NAMES {
            for (form, case) in given_name_forms(nom, g) {
                m.entry(form).or_insert((nom, g, case));
            }
        }
        m
    })
}

/// A role head word: nominative, gender of the word itself.
const ROLE_HEADS: &[(&str, Gender)] = &[
    ("міністр", Gender::Masc),
    ("заступник", Gender::Masc),
    ("президент", Gender::Masc),
    ("прем'єр-міністр", Gender::Masc),
    ("віцепрем'єр-міністр", Gender::Masc),
    ("віце-прем'єр-міністр", Gender::Masc),
    ("генерал", Gender::Masc),
    ("спецпредставник", Gender::Masc),
    ("представник", Gender::Masc),
    ("секретар", Gender::Masc),
    ("держсекретар", Gender::Masc),
    ("генсек", Gender::Masc),
    ("речник", Gender::Masc),
    ("посол", Gender::Masc),
    ("командувач", Gender::Masc),
    ("головнокомандувач", Gender::Masc),
    ("начальник", Gender::Masc),
    ("мер", Gender::Masc),
    ("очільник", Gender::Masc),
    ("керівник", Gender::Masc),
    ("радник", Gender::Masc),
    ("канцлер", Gender::Masc),
    ("лідер", Gender::Masc),
    ("спікер", Gender::Masc),
    ("директор", Gender::Masc),
    ("командир", Gender::Masc),
    ("губернатор", Gender::Masc),
    ("прокурор", Gender::Masc),
    ("сенатор", Gender::Masc),
    ("омбудсман", Gender::Masc),
    ("голова", Gender::Masc),
    ("глава", Gender::Masc),
    ("представниця", Gender::Fem),
    ("речниця", Gender::Fem),
    ("очільниця", Gender::Fem),
    ("міністерка", Gender::Fem),
    ("пані", Gender::Fem),
    ("пан", Gender::Masc),
];

/// Role head forms (lower case) → (nominative, gender, case).
pub fn role_heads() -> &'static HashMap<String, (&'static str, Gender, Case)> {
    static M: OnceLock<HashMap<String, (&'static str, Gender, Case)>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = HashMap::new();
        for &(nom, g) in ROLE_HEADS {
            let forms: Vec<(String, Case)> = match nom {
                "посол" => vec![
                    ("посол".into(), Case::Nom),
                    ("посла".into(), Case::Gen),
                    ("послу".into(), Case::Dat),
                    ("послом".into(), Case::Ins),
                ],
                "пані" => vec![("пані".into(), Case::Nom)],
                "голова" | "глава" => {
                    let cases = [Case::Nom, Case::Gen, Case::Dat, Case::Acc, Case::Ins];
                    fem_noun_cases(nom).into_iter().zip(cases).collect()
                }
                _ if nom.ends_with("ар") || nom.ends_with('ч') => {
                    // секретар(я, ю, ем), командувач(а, у, ем)
                    let soft = nom.ends_with("ар");
                    vec![
                        (nom.to_string(), Case::Nom),
                        (format!("{nom}{}", if soft { "я" } else { "а" }), Case::Gen),
                        (format!("{nom}{}", if soft { "ю" } else { "у" }), Case::Dat),
                        (format!("{nom}еві"), Case::Dat),
                        (format!("{nom}ем"), Case::Ins),
                    ]
                }
                _ => given_name_forms(nom, g),
            };
            for (f, c) in forms {
                m.entry(normalize_word(&f)).or_insert((nom, g, c));
            }
        }
        m
    })
}

/// Adjectives that may precede a role head (`Перший заступник`,
/// `Генеральним секретарем`, `високою представницею`), by stem.
pub const ROLE_ADJ_STEMS: &[&str] = &[
    "перш",
    "генеральн",
    "висок",
    "спеціальн",
    "верховн",
    "головн",
    "постійн",
    "тимчасов",
    "колишн",
    "чинн",
    "новопризначен",
    "державн",
    "міськ",
];

/// Event nouns by stem, with the English words a translation would use.
pub const EVENT_NOUNS: &[(&str, &[&str], &[&str])] = &[
    // (lemma, lower-case surface forms, English keywords: the first is the
    // English noun an event falls back to when its clause is not found)
    (
        "зустріч",
        &["зустріч", "зустрічі", "зустріччю", "зустрічей", "зустрічах"],
        &["meeting", "meetings", "met", "meet"],
    ),
    (
        "засідання",
        &[
            "засідання",
            "засіданні",
            "засідань",
            "засіданням",
            "засіданнях",
        ],
        &["meeting", "meetings", "session"],
    ),
    (
        "саміт",
        &["саміт", "саміту", "саміті", "самітом"],
        &["summit", "summits"],
    ),
    (
        "переговори",
        &["переговори", "переговорів", "переговорах", "переговорами"],
        &["talks", "negotiations"],
    ),
    (
        "атака",
        &["атака", "атаку", "атаки", "атаці", "атакою", "атак"],
        &["attack", "attacks"],
    ),
    (
        "обстріл",
        &["обстріл", "обстрілу", "обстріли", "обстрілів", "обстрілом"],
        &["shelling", "attack", "attacks", "strike", "strikes"],
    ),
    (
        "удар",
        &["удар", "удару", "удари", "ударів", "ударом"],
        &["strike", "strikes", "attack", "attacks", "hit"],
    ),
    (
        "брифінг",
        &["брифінг", "брифінгу", "брифінгом"],
        &["briefing", "briefed"],
    ),
    (
        "візит",
        &["візит", "візиту", "візитом", "візиті"],
        &["visit", "visits", "visiting"],
    ),
    (
        "конференція",
        &["конференція", "конференції", "конференцію"],
        &["conference"],
    ),
    (
        "обговорення",
        &[
            "обговорили",
            "обговорив",
            "обговорила",
            "обговорять",
            "обговорювали",
            "обговорення",
        ],
        &["discussion", "discussed", "discuss", "talked"],
    ),
    (
        "зустрітися",
        &["зустрівся", "зустрілася", "зустрілися"],
        &["meeting", "met"],
    ),
];

/// Adjective stems that open an event phrase (`масовану атаку`, `позачерговому засіданні`).
pub const EVENT_ADJ_STEMS: &[&str] = &[
    "масован",
    "позачергов",
    "нещодавн",
    "двосторонн",
    "комбінован",
    "ракетн",
    "наступн",
    "черговн",
    "онлайн",
    "спільн",
    "перш",
    "чергов",
    "останн",
];

/// uk → en for currency and measurement units used with numbers.
pub const UNITS_EN: &[(&str, &str)] = &[
    ("доларів", "dollars"),
    ("долари", "dollars"),
    ("долар", "dollar"),
    ("дол", "dollars"),
    ("євро", "euros"),
    ("гривень", "hryvnias"),
    ("гривні", "hryvnias"),
    ("гривня", "hryvnia"),
    ("грн", "hryvnias"),
    ("фунтів", "pounds"),
    ("км²", "km²"),
    ("км", "km"),
    ("%", "%"),
    ("відсотків", "%"),
    ("відсотка", "%"),
    ("тонн", "tonnes"),
    ("га", "hectares"),
];
