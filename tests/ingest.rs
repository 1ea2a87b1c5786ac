//! Ingestion: the five seed pages, four more pages in the same layouts,
//! bad input, and the helpers the CLI calls.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ukdigest::article::{Article, ParagraphKind};
use ukdigest::ingest::{collect_inputs, format_text, ingest_bytes, ingest_file, MAX_ARTICLE_BYTES};
use ukdigest::Error;

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/");
const PAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pages/");

fn seed(name: &str) -> PathBuf {
    Path::new(SEEDS).join(name)
}

fn page(name: &str) -> PathBuf {
    Path::new(PAGES).join(name)
}

/// What a page must yield.
struct Expected {
    file: PathBuf,
    title: &'static str,
    date: Option<&'static str>,
    time: Option<&'static str>,
    outlet: Option<&'static str>,
    source_line: Option<&'static str>,
    first: &'static str,
    last: &'static str,
    paragraphs: usize,
}

fn check(e: &Expected) -> Article {
    let a = ingest_file(&e.file).unwrap_or_else(|err| panic!("{}: {err}", e.file.display()));
    let name = e.file.display();
    assert_eq!(
        a.id,
        e.file.file_stem().unwrap().to_string_lossy(),
        "{name}"
    );
    assert_eq!(a.title, e.title, "{name}: title");
    assert_eq!(
        a.published.as_ref().map(|p| p.date.as_str()),
        e.date,
        "{name}: date"
    );
    assert_eq!(
        a.published.as_ref().and_then(|p| p.time.as_deref()),
        e.time,
        "{name}: time"
    );
    assert_eq!(a.outlet.as_deref(), e.outlet, "{name}: outlet");
    assert_eq!(
        a.source_line.as_deref(),
        e.source_line,
        "{name}: source line"
    );
    assert_eq!(a.encoding, "utf-8");
    assert_eq!(a.source_path, e.file);
    let sentences: Vec<&str> = a.sentences().map(|s| s.text.as_str()).collect();
    assert_eq!(
        sentences.first().copied(),
        Some(e.first),
        "{name}: first sentence"
    );
    assert_eq!(
        sentences.last().copied(),
        Some(e.last),
        "{name}: last sentence"
    );
    assert_eq!(a.paragraphs.len(), e.paragraphs, "{name}: paragraph count");
    a
}

fn seed_expectations() -> Vec<Expected> {
    vec![
        Expected {
            file: seed("000_4e02704fb7287723.txt"),
            title: "Росія суттєво збільшує виробництво ракет та іншої зброї за підтримки Північної Кореї та Ірану – МЗС",
            date: Some("2025-09-02"),
            time: None,
            outlet: None,
            source_line: Some("Міністерство закордонних справ України"),
            first: "На позачерговому засіданні Ради Україна – НАТО в штаб-квартирі Альянсу заступник міністра оборони України Сергій Боєв поінформував союзників про суттєве нарощування Росією виробництва озброєння за активної підтримки Північної Кореї та Ірану.",
            last: "Європейська зовнішня служба на чолі з високою представницею ЄС із зовнішньої політики і політики безпеки Каєю Каллас викликала тимчасового повіреного у справах Росії в Євросоюзі через російську атаку на будівлю делегації ЄС у Києві.",
            paragraphs: 12,
        },
        Expected {
            file: seed("001_fb92ec944e2a6a29.txt"),
            title: "Коаліція охочих та «Рамштайн»: Умєров розповів про головні теми зустрічей",
            date: Some("2025-04-23"),
            time: None,
            outlet: Some("Leopolis.news"),
            source_line: None,
            first: "Міністр оборони України Рустем Умєров сьогодні та завтра працює у Брюсселі.",
            last: "Ми продовжуємо працювати з міжнародними партнерами над посиленням наших оборонних спроможностей і забезпеченням наших воїнів усім необхідним для перемоги», – акцентував Умєров.",
            paragraphs: 9,
        },
        Expected {
            file: seed("002_1e12a2d0a498dcd6.txt"),
            title: "Умєров і Каллас обговорили у Брюсселі спільні оборонні проєкти та координацію міжнародної допомоги Україні",
            date: Some("2025-04-11"),
            time: Some("21:32"),
            outlet: Some("Інтерфакс-Україна"),
            source_line: None,
            first: "Міністр оборони України Рустем Умєров провів зустріч у Брюсселі з Високою представницею Європейського Союзу із зовнішніх справ та політики безпеки Каєю Каллас, повідомляється в офіційному Телеграм-каналі Міністерства оборони України у п’ятницю.",
            last: "\"Дякую пані Каллас за практичний, результативний діалог та рішучу позицію на підтримку України\", — зазначив глава Міноборони.",
            paragraphs: 5,
        },
        Expected {
            file: seed("003_dd46adcc9f1925d8.txt"),
            title: "Умєров обговорив з Келлогом досягнення стійкого миру та розвиток спільних проєктів з локалізації виробництва озброєння в Україні",
            date: Some("2025-07-14"),
            time: Some("18:16"),
            outlet: Some("Інтерфакс-Україна"),
            source_line: None,
            first: "Міністр оборони України Рустем Умєров зустрівся зі спецпредставником президента США з питань України генералом Кітом Келлогом, який перебуває з візитом в Києві.",
            last: "Генерал Сирський також окреслив першочергові потреби української армії в озброєнні\", - повідомив Умєров.",
            paragraphs: 8,
        },
        Expected {
            file: seed("004_d69912333ab1b182.txt"),
            title: "Денис Шмигаль та Генсек НАТО обговорили оборонне співробітництво України та Альянсу",
            date: None,
            time: None,
            outlet: None,
            source_line: None,
            first: "Міністр оборони України Денис Шмигаль провів зустріч з Генеральним секретарем НАТО Марком Рютте у Києві.",
            last: "Розраховуємо, що Альянс надалі підтримуватиме ОПК України та інвестуватиме в нашу спільну безпеку», - резюмував Денис Шмигаль.",
            paragraphs: 8,
        },
    ]
}

fn page_expectations() -> Vec<Expected> {
    vec![
        Expected {
            file: page("interfax_style.txt"),
            title: "Сибіга обговорив з прем'єр-міністром Норвегії посилення ППО та енергетичну підтримку України",
            date: Some("2025-03-03"),
            time: Some("09:05"),
            outlet: Some("Інтерфакс-Україна"),
            source_line: None,
            first: "Міністр закордонних справ України Андрій Сибіга провів у м. Осло переговори з прем'єр-міністром Норвегії Йонасом Гаром Стьоре.",
            last: "Окремо йшлося про санкції проти РФ, зокрема проти т.зв. тіньового флоту, та про підтримку оборонної промисловості України.",
            paragraphs: 4,
        },
        Expected {
            file: page("leopolis_style.txt"),
            title: "У Львові відкрили новий реабілітаційний центр для ветеранів",
            date: Some("2025-05-07"),
            time: None,
            outlet: Some("Leopolis.news"),
            source_line: None,
            first: "У Львові в середу, 7 травня, відкрили реабілітаційний центр для військових і ветеранів на вул. Городоцькій.",
            last: "Кошти надали партнери з Канади та ЄС.",
            paragraphs: 4,
        },
        Expected {
            file: page("ministry_undated.txt"),
            title: "Міністр оборони зустрівся з делегацією Конгресу США",
            date: None,
            time: None,
            outlet: None,
            source_line: None,
            first: "Міністр оборони України провів зустріч із делегацією Конгресу США на чолі з сенатором Л. Гремом у Києві.",
            last: "Разом ми наближаємо справедливий мир», - наголосив Міністр.",
            paragraphs: 6,
        },
        Expected {
            file: page("eupravda_style.txt"),
            title: "ЄС погодив 19-й пакет санкцій проти Росії – Каллас",
            date: Some("2025-10-15"),
            time: None,
            outlet: None,
            source_line: Some("Кая Каллас у соцмережі X"),
            first: "Країни ЄС погодили 19-й пакет санкцій проти Росії, який передбачає заборону імпорту російського скрапленого газу з 2027 р. та нові обмеження для т.зв. тіньового флоту.",
            last: "Словаччина тривалий час блокувала ухвалення пакета.",
            paragraphs: 6,
        },
        Expected {
            file: page("news_site_variant.txt"),
            title: "Обстріл Харкова",
            date: Some("2025-07-14"),
            time: Some("10:20"),
            outlet: None,
            source_line: None,
            first: "Уночі 14 липня російські війська атакували Харків дронами, повідомив мер І. Терехов.",
            last: "\"Усі служби працюють на місцях\", – додав Терехов.",
            paragraphs: 3,
        },
    ]
}

/// Strings that are page furniture in some seed or test page, none of
/// which may survive into an article's title or body.
const FURNITURE: &[&str] = &[
    "Не пропустіть важливе",
    "Отримуйте ексклюзивні новини",
    "Перейти до головного вмісту",
    "хв читати",
    "Фото:",
    "IMG_",
    ".JPG",
    ".jpeg",
    "photo-2025",
    "Читайте нас на Телеграм",
    "t.me/",
    "Слідкуй за нами",
    "Попередня публікація",
    "Наступна публікація",
    "ЩЕ ЗА ТЕМОЮ",
    "ОСТАННЄ",
    "РЕКЛАМА",
    "UKR.NET",
    "Теги",
    "Leopolis.news",
    "Інтерфакс-Україна",
    "Джерело:",
    " date ",
    "23.04.2025",
    "21:32 11.04.2025",
    "18:16 14.07.2025",
    // headlines of related-article lists
    "Внаслідок обстрілу на Чернігівщині",
    "Генштаб зафіксував",
    "В СТОЛИЦІ ПРАЦЮЄ ППО",
    "Паліса: кожна бригада",
    "На фронті сьогодні уже відбулось",
    "У Львові проходить всеукраїнська конференція",
    "Сили оборони знищили",
    "обговорив з главою МЗС Польщі",
    "обмежать рух на вулиці Шевченка",
    "збили 5 ворожих дронів",
    "Головна /",
    "Опубліковано",
    "Переглядів",
    "Читайте також",
    "Поділитися",
    "Схожі новини",
    "Харків: наслідки атаки",
    "\u{a0}",
];

fn all_expectations() -> Vec<Expected> {
    let mut all = seed_expectations();
    all.extend(page_expectations());
    all
}

#[test]
fn seeds_yield_expected_metadata_and_body() {
    for e in seed_expectations() {
        check(&e);
    }
}

#[test]
fn own_pages_in_the_seed_layouts_clean_the_same_way() {
    for e in page_expectations() {
        check(&e);
    }
}

#[test]
fn no_furniture_survives() {
    for e in all_expectations() {
        let a = ingest_file(&e.file).unwrap();
        let body = a.body_text();
        for f in FURNITURE {
            assert!(
                !body.contains(f) && !a.title.contains(f),
                "{}: furniture {f:?} survived",
                e.file.display()
            );
        }
        // The title is not repeated in the body.
        assert!(
            !a.paragraphs.iter().any(|p| p.text() == a.title),
            "{}: duplicated title",
            e.file.display()
        );
    }
}

#[test]
fn every_sentence_span_maps_back_into_the_source() {
    for e in all_expectations() {
        let source = std::fs::read_to_string(&e.file).unwrap();
        let a = ingest_file(&e.file).unwrap();
        let mut last_end = 0;
        for s in a.sentences() {
            let (start, end) = s.span;
            assert!(start < end && end <= source.len() && start >= last_end);
            let raw = &source[start..end];
            let collapsed = raw.split(char::is_whitespace).filter(|w| !w.is_empty());
            assert_eq!(
                collapsed.collect::<Vec<_>>().join(" "),
                s.text,
                "{}",
                e.file.display()
            );
            last_end = end;
        }
    }
}

#[test]
fn sections_headings_and_bullets_are_kept() {
    let a = ingest_file(&seed("000_4e02704fb7287723.txt")).unwrap();
    let kinds: Vec<ParagraphKind> = a.paragraphs.iter().map(|p| p.kind).collect();
    let heading = kinds
        .iter()
        .position(|k| *k == ParagraphKind::Heading)
        .unwrap();
    assert_eq!(a.paragraphs[heading].text(), "Передісторія:");
    assert!(kinds[heading + 1..]
        .iter()
        .all(|k| *k == ParagraphKind::Bullet));
    assert_eq!(kinds.len() - heading - 1, 4);
    assert!(a.paragraphs[heading + 1].sentences[0]
        .text
        .starts_with("Глава МЗС"));
    assert!(a
        .body_text()
        .contains("Деталі: Боєв під час онлайн-засідання"));

    // `•` bullets under a heading, `– ` speech outside a list.
    let m = ingest_file(&page("ministry_undated.txt")).unwrap();
    let kinds: Vec<ParagraphKind> = m.paragraphs.iter().map(|p| p.kind).collect();
    use ParagraphKind::*;
    assert_eq!(kinds, [Text, Text, Heading, Bullet, Bullet, Text]);
    assert_eq!(m.paragraphs[3].text(), "посилення протиповітряної оборони;");
    let speech = ingest_bytes(
        Path::new("speech.txt"),
        "Заголовок статті про інтерв'ю\n\nМіністр відповів на питання.\n\n* * *\n\n– Ми готові до переговорів, – сказав він.\n".as_bytes(),
    )
    .unwrap();
    assert_eq!(speech.paragraphs.len(), 2);
    assert_eq!(speech.paragraphs[1].kind, Text);
    assert_eq!(
        speech.paragraphs[1].text(),
        "– Ми готові до переговорів, – сказав він."
    );
}

#[test]
fn a_date_inside_a_sentence_is_not_a_publication_date() {
    let a = ingest_file(&page("ministry_undated.txt")).unwrap();
    assert_eq!(a.published, None);
    assert!(a
        .body_text()
        .contains("11 квітня 2025 року Україна отримала"));
}

#[test]
fn windows_1251_is_detected_and_decoded() {
    let mut converted = 0;
    for e in all_expectations() {
        let text = std::fs::read_to_string(&e.file).unwrap();
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
        if unmappable {
            continue; // e.g. `²` or `’` outside the code page
        }
        let utf8 = ingest_file(&e.file).unwrap();
        let cp = ingest_bytes(&e.file, &bytes).unwrap();
        assert_eq!(cp.encoding, "windows-1251", "{}", e.file.display());
        assert_eq!(cp.title, utf8.title);
        assert_eq!(cp.published, utf8.published);
        assert_eq!(cp.outlet, utf8.outlet);
        assert_eq!(cp.paragraphs, utf8.paragraphs, "{}", e.file.display());
        converted += 1;
    }
    // Only 002 holds a character outside the code page (`км²`).
    assert_eq!(converted, 9);
    // At least one page must have gone through the Windows-1251 path.
    let text = std::fs::read_to_string(page("leopolis_style.txt")).unwrap();
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
    assert!(!unmappable);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let a = ingest_file(file.path()).unwrap();
    assert_eq!(a.encoding, "windows-1251");
    assert_eq!(
        a.title,
        "У Львові відкрили новий реабілітаційний центр для ветеранів"
    );
}

#[test]
fn utf8_with_a_corrupt_byte_is_still_utf8() {
    let mut bytes = std::fs::read(seed("002_1e12a2d0a498dcd6.txt")).unwrap();
    let at = bytes.len() / 2;
    bytes.insert(at, 0xff);
    let a = ingest_bytes(Path::new("broken.txt"), &bytes).unwrap();
    assert_eq!(a.encoding, "utf-8");
    assert_eq!(a.outlet.as_deref(), Some("Інтерфакс-Україна"));
}

fn article_error(result: ukdigest::Result<Article>) -> (PathBuf, String) {
    match result {
        Err(Error::Article { path, reason }) => (path, reason),
        other => panic!("expected an article error, got {other:?}"),
    }
}

#[test]
fn empty_and_whitespace_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let (path, reason) = article_error(ingest_file(&empty));
    assert_eq!(path, empty);
    assert!(reason.contains("empty"), "{reason}");
    let blank = dir.path().join("blank.txt");
    std::fs::write(&blank, " \n\u{a0}\n\t\r\n".as_bytes()).unwrap();
    let (_, reason) = article_error(ingest_file(&blank));
    assert!(reason.contains("empty"), "{reason}");
}

#[test]
fn binary_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG-like header with NULs.
    let png = dir.path().join("image.txt");
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..4096u32).map(|i| (i * 31 % 251) as u8));
    std::fs::write(&png, &bytes).unwrap();
    let (path, reason) = article_error(ingest_file(&png));
    assert_eq!(path, png);
    assert!(
        reason.contains("binary") && reason.contains("NUL"),
        "{reason}"
    );
    // Control bytes without NULs.
    let ctl = dir.path().join("controls.txt");
    let bytes: Vec<u8> = (0..2000u32)
        .map(|i| if i % 10 == 0 { 0x07 } else { b'a' })
        .collect();
    std::fs::write(&ctl, &bytes).unwrap();
    let (_, reason) = article_error(ingest_file(&ctl));
    assert!(
        reason.contains("binary") && reason.contains("control"),
        "{reason}"
    );
    // Random high bytes: neither UTF-8 nor Cyrillic text.
    let noise: Vec<u8> = (0..3000u32)
        .map(|i| 0x80 + ((i * 7919) % 127) as u8)
        .collect();
    let (_, reason) = article_error(ingest_bytes(Path::new("noise.txt"), &noise));
    assert!(reason.contains("encoding"), "{reason}");
}

#[test]
fn a_page_of_furniture_only_is_an_error() {
    let text = "Перейти до головного вмісту\n\n23.04.2025\n\nНе пропустіть важливе!\n\n\
                Отримуйте ексклюзивні новини та аналітику на email.\n\n2 хв читати\n\n\
                IMG_8359.JPG\n\nLeopolis.news\n\nЩЕ ЗА ТЕМОЮ\n\n\
                Генштаб зафіксував упродовж доби 219 бойових зіткнень\n";
    let (path, reason) = article_error(ingest_bytes(Path::new("furniture.txt"), text.as_bytes()));
    assert_eq!(path, Path::new("furniture.txt"));
    assert!(reason.contains("no article text"), "{reason}");
    // A title with nothing after it.
    let text = "Інтерфакс-Україна\n21:32 11.04.2025\n\nУмєров і Каллас обговорили у Брюсселі \
                спільні оборонні проєкти\n\n1 хв читати\n\nРЕКЛАМА\n";
    let (_, reason) = article_error(ingest_bytes(Path::new("title.txt"), text.as_bytes()));
    assert!(reason.contains("no article body"), "{reason}");
}

/// A realistic page body: the seed paragraphs repeated with a counter so
/// that no paragraph is a duplicate.
fn big_page(target: usize) -> String {
    let seed_text = std::fs::read_to_string(seed("003_dd46adcc9f1925d8.txt")).unwrap();
    let body: Vec<&str> = seed_text.lines().skip(9).take(15).collect();
    let mut out = String::from(
        "Інтерфакс-Україна\n18:16 14.07.2025\n\nВеликий тестовий матеріал про оборону\n\n",
    );
    let mut i = 0usize;
    while out.len() < target {
        for line in &body {
            if !line.trim().is_empty() {
                out.push_str(&format!("{i}. {line}\n\n"));
                i += 1;
            }
        }
    }
    out
}

#[test]
fn ten_megabytes_is_refused_quickly_and_clearly() {
    let text = big_page(10 * 1024 * 1024);
    assert!(text.len() as u64 > MAX_ARTICLE_BYTES);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let t = Instant::now();
    let (path, reason) = article_error(ingest_file(file.path()));
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(path, file.path());
    assert!(
        reason.contains("too large") && reason.contains(&MAX_ARTICLE_BYTES.to_string()),
        "{reason}"
    );
    let (_, reason) = article_error(ingest_bytes(file.path(), text.as_bytes()));
    assert!(reason.contains("too large"), "{reason}");
}

#[test]
fn a_page_just_under_the_limit_is_processed_in_linear_time() {
    let text = big_page(MAX_ARTICLE_BYTES as usize - 64 * 1024);
    assert!(text.len() as u64 <= MAX_ARTICLE_BYTES);
    let t = Instant::now();
    let a = ingest_bytes(Path::new("big.txt"), text.as_bytes()).unwrap();
    let elapsed = t.elapsed();
    println!("{} bytes ingested in {elapsed:?}", text.len());
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(a.paragraphs.len() > 1000);
    assert_eq!(a.title, "Великий тестовий матеріал про оборону");
}

#[test]
fn pathological_pages_stay_linear() {
    let limit = MAX_ARTICLE_BYTES as usize - 1024;
    let repeat = |unit: &str| {
        let mut s = String::from("Заголовок патологічної сторінки тут\n\n");
        while s.len() + unit.len() < limit {
            s.push_str(unit);
        }
        s
    };
    for (name, text) in [
        // one endless sentence full of abbreviations that never end it
        ("abbreviations", repeat("на вул. Хрещатик у м. Київ ")),
        // one endless sentence of lower-case continuations
        ("continuations", repeat("так. і ")),
        // a single 4 MB word
        ("one word", repeat("а")),
        // thousands of blank lines and furniture lines
        ("furniture", repeat("РЕКЛАМА\n\n \n")),
    ] {
        let t = Instant::now();
        let result = ingest_bytes(Path::new("p.txt"), text.as_bytes());
        let elapsed = t.elapsed();
        assert!(elapsed < Duration::from_secs(5), "{name}: {elapsed:?}");
        if name == "furniture" {
            let (_, reason) = article_error(result);
            assert!(reason.contains("no article body"), "{reason}");
        } else {
            let a = result.unwrap();
            let covered: usize = a.sentences().map(|s| s.span.1 - s.span.0).sum();
            assert!(covered > limit / 2, "{name}");
        }
    }
}

#[test]
fn a_long_first_paragraph_lends_its_first_sentence_as_title() {
    let text = "Міністр оборони України провів зустріч із партнерами у Брюсселі, де сторони обговорили \
                постачання систем протиповітряної оборони, спільне виробництво дронів та підготовку \
                до наступного засідання у форматі Рамштайн. Окремо йшлося про фінансування \
                оборонної промисловості та про санкції проти російського енергетичного сектору.\n";
    let a = ingest_bytes(Path::new("lead.txt"), text.as_bytes()).unwrap();
    assert!(a
        .title
        .starts_with("Міністр оборони України провів зустріч"));
    assert!(a.title.ends_with("форматі Рамштайн."));
    assert_eq!(a.paragraphs.len(), 1);
    assert_eq!(a.paragraphs[0].sentences.len(), 2);
}

#[test]
fn format_text_has_header_and_paragraphs() {
    let a = ingest_file(&seed("002_1e12a2d0a498dcd6.txt")).unwrap();
    let text = format_text(&a);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], a.title);
    assert_eq!(lines[1], "date: 2025-04-11T21:32");
    assert_eq!(lines[2], "outlet: Інтерфакс-Україна");
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("Міністр оборони України Рустем Умєров провів зустріч"));
    assert_eq!(lines[5], "");
    let paragraphs: Vec<&str> = text.split("\n\n").skip(1).collect();
    assert_eq!(paragraphs.len(), a.paragraphs.len());
    assert!(text.ends_with("глава Міноборони.\n"));

    let undated = ingest_file(&seed("004_d69912333ab1b182.txt")).unwrap();
    let text = format_text(&undated);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1..4], ["date: ", "outlet: ", ""]);

    let bullets = format_text(&ingest_file(&seed("000_4e02704fb7287723.txt")).unwrap());
    assert!(bullets.contains("\n\nПередісторія:\n\n- Глава МЗС Андрій Сибіга"));
    assert!(bullets.contains("date: 2025-09-02\noutlet: \n\n"));
}

#[test]
fn collect_inputs_expands_directories_and_names_missing_paths() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.txt", "a.txt", "notes.md", "C.TXT"] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub.txt")).unwrap();
    let single = page("eupravda_style.txt");
    let got = collect_inputs(&[single.clone(), dir.path().to_path_buf()]).unwrap();
    let expected: Vec<PathBuf> = std::iter::once(single)
        .chain(
            ["C.TXT", "a.txt", "b.txt"]
                .iter()
                .map(|n| dir.path().join(n)),
        )
        .collect();
    assert_eq!(got, expected);

    let seeds = collect_inputs(&[PathBuf::from(SEEDS)]).unwrap();
    assert_eq!(seeds.len(), 5);
    assert!(seeds.windows(2).all(|w| w[0] < w[1]));

    let missing = dir.path().join("missing.txt");
    let err = collect_inputs(std::slice::from_ref(&missing)).unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = collect_inputs(&[empty.path().to_path_buf()]).unwrap_err();
    assert!(err.to_string().contains("no *.txt files"), "{err}");
}

#[test]
fn article_id_is_the_file_stem() {
    let a = ingest_bytes(
        Path::new("/some/dir/123_abc.txt"),
        "Заголовок тестової статті тут\n\nТекст статті.".as_bytes(),
    )
    .unwrap();
    assert_eq!(a.id, "123_abc");
    assert_eq!(a.source_path, Path::new("/some/dir/123_abc.txt"));
}
