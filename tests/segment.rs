//! Sentence segmentation: rules, the FLORES-200 measurement, and long
//! sentence splitting.
use ukdigest::segment::{split_sentences, split_to_limit};

fn sentences(text: &str) -> Vec<&str> {
    split_sentences(text)
        .into_iter()
        .map(|r| &text[r])
        .collect()
}

#[test]
fn abbreviations_do_not_end_sentences() {
    let text = "Зустріч відбулася у м. Київ на вул. Хрещатик, 22 (див. ст. 15 Закону). \
                Музей ім. Шевченка працює з 1990 р. і приймає гостей. У 2014 р. Росія \
                окупувала Крим. Так було у 2014 р. Потім почалася війна.";
    assert_eq!(
        sentences(text),
        vec![
            "Зустріч відбулася у м. Київ на вул. Хрещатик, 22 (див. ст. 15 Закону).",
            "Музей ім. Шевченка працює з 1990 р. і приймає гостей.",
            "У 2014 р. Росія окупувала Крим.",
            "Так було у 2014 р.",
            "Потім почалася війна.",
        ]
    );
}

#[test]
fn final_abbreviations_split_before_a_capital() {
    let text = "Купили дрони, ракети, генератори тощо, т.д. Наступного дня привезли ще 5 тис. \
                грн. Решту – 2 млрд грн. Далі буде.";
    assert_eq!(
        sentences(text),
        vec![
            "Купили дрони, ракети, генератори тощо, т.д.",
            "Наступного дня привезли ще 5 тис. грн.",
            "Решту – 2 млрд грн.",
            "Далі буде.",
        ]
    );
    // Spaced forms.
    assert_eq!(
        sentences("Це сталося у II ст. до н. е. Потім місто відбудували."),
        vec!["Це сталося у II ст. до н. е.", "Потім місто відбудували."]
    );
    assert_eq!(
        sentences("Це т. зв. Рамштайн. Він працює."),
        vec!["Це т. зв. Рамштайн.", "Він працює."]
    );
}

#[test]
fn units_after_numbers_may_end_a_sentence() {
    assert_eq!(
        sentences("Дрон піднявся на 300 м. Потім він зник."),
        vec!["Дрон піднявся на 300 м.", "Потім він зник."]
    );
}

#[test]
fn initials_numbers_times_dates_and_domains() {
    let text = "В. О. Зеленський і J. K. Rowling прибули о 21:32 11.04.2025. \
                Уряд виділив 1,5 млрд грн, а курс склав 41.5 грн. \
                Деталі читайте на Leopolis.news та пишіть на info@mod.gov.ua. Дякуємо!";
    assert_eq!(
        sentences(text),
        vec![
            "В. О. Зеленський і J. K. Rowling прибули о 21:32 11.04.2025.",
            "Уряд виділив 1,5 млрд грн, а курс склав 41.5 грн.",
            "Деталі читайте на Leopolis.news та пишіть на info@mod.gov.ua.",
            "Дякуємо!",
        ]
    );
    assert_eq!(
        sentences("Див. https://t.me/leopolisnews. Далі текст, e.g. Candle."),
        vec![
            "Див. https://t.me/leopolisnews.",
            "Далі текст, e.g. Candle."
        ]
    );
}

#[test]
fn quotes_and_attributions() {
    // A quote ending in a period, then its attribution: one sentence.
    let text = "«Україна готова до миру.» – заявив міністр. «Ми працюємо», – зазначив він. \
                \"Дякую за підтримку!\" — написав Умєров. \"Чи готові ви?\" Так.";
    assert_eq!(
        sentences(text),
        vec![
            "«Україна готова до миру.» – заявив міністр.",
            "«Ми працюємо», – зазначив він.",
            "\"Дякую за підтримку!\" — написав Умєров.",
            "\"Чи готові ви?\"",
            "Так.",
        ]
    );
    // Sentences inside a long quote are sentences; the closing quote and
    // the period after it stay with the last one.
    let quote = "«Це продовження діалогу. Коаліція охочих — новий формат миру».";
    assert_eq!(
        sentences(quote),
        vec![
            "«Це продовження діалогу.",
            "Коаліція охочих — новий формат миру»."
        ]
    );
}

#[test]
fn ellipses_questions_exclamations_and_dashes() {
    let text = "Що далі? Невідомо... а може, й ні. Чекаємо… Побачимо! — Ні, — відповів він. \
                Все.";
    assert_eq!(
        sentences(text),
        vec![
            "Що далі?",
            "Невідомо... а може, й ні.",
            "Чекаємо…",
            "Побачимо!",
            "— Ні, — відповів він.",
            "Все.",
        ]
    );
}

#[test]
fn list_numbers_and_bullets() {
    assert_eq!(
        sentences("1. Перший пункт списку."),
        vec!["1. Перший пункт списку."]
    );
    assert_eq!(
        sentences("Пункти:\n\n- один\n\n- два"),
        vec!["Пункти:", "- один", "- два"]
    );
    assert_eq!(
        sentences("Пункти:\n- один\n• два\nі далі"),
        vec!["Пункти:", "- один", "• два\nі далі"]
    );
}

/// FLORES-200 dev (997 Ukrainian sentences, one a line): join each run of
/// five lines with a single space and count how many of the original line
/// boundaries the splitter recovers exactly.
#[test]
fn flores_line_boundaries_are_recovered() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/flores200-uk-en/dev.uk"
    );
    let corpus = std::fs::read_to_string(path).expect("FLORES-200 dev.uk beside the repository");
    let lines: Vec<&str> = corpus.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 997);

    let (mut boundaries, mut recovered, mut false_splits) = (0usize, 0usize, 0usize);
    let mut missed = Vec::new();
    for run in lines.chunks(5) {
        let paragraph = run.join(" ");
        let mut line_ends = Vec::new();
        let mut offset = 0;
        for line in &run[..run.len() - 1] {
            offset += line.len();
            line_ends.push(offset);
            offset += 1;
        }
        let spans = split_sentences(&paragraph);
        let ends: Vec<usize> = spans.iter().map(|r| r.end).collect();
        // Coverage: sentences are in order and only whitespace lies between.
        let mut pos = 0;
        for r in &spans {
            assert!(paragraph[pos..r.start].trim().is_empty());
            pos = r.end;
        }
        assert!(paragraph[pos..].trim().is_empty());

        for &b in &line_ends {
            boundaries += 1;
            let next_starts = spans.iter().any(|r| r.start == b + 1);
            if ends.contains(&b) && next_starts {
                recovered += 1;
            } else {
                missed.push(context(&paragraph, b));
            }
        }
        let last = paragraph.len();
        false_splits += ends
            .iter()
            .filter(|&&e| e != last && !line_ends.contains(&e))
            .count();
    }
    let share = recovered as f64 / boundaries as f64;
    println!(
        "FLORES-200 dev.uk: {recovered}/{boundaries} line boundaries recovered = {share:.4}; \
         {false_splits} false splits (sentence ends inside a line)"
    );
    for m in missed.iter().take(20) {
        println!("  missed: …{m}…");
    }
    assert!(share >= 0.97, "boundary recovery {share:.4} < 0.97");
}

/// About 40 bytes of `text` on each side of `at`, on char boundaries.
fn context(text: &str, at: usize) -> String {
    let mut a = at.saturating_sub(40);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (at + 40).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    format!("{} | {}", &text[a..at], &text[at..b])
}

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

fn assert_covers(text: &str, pieces: &[std::ops::Range<usize>]) {
    assert!(!pieces.is_empty());
    let mut pos = 0;
    for r in pieces {
        assert!(r.start >= pos && r.start < r.end, "{pieces:?}");
        assert!(
            text[pos..r.start].trim().is_empty(),
            "text dropped: {:?}",
            &text[pos..r.start]
        );
        pos = r.end;
    }
    assert!(text[pos..].trim().is_empty(), "tail dropped");
}

#[test]
fn split_to_limit_prefers_clause_boundaries() {
    let s = "Міністр провів зустріч із партнерами; сторони обговорили постачання ППО, \
             фінансування спільних виробництв – і підготовку наступного засідання.";
    let measure = |t: &str| word_count(t);
    // Fits: returned whole.
    assert_eq!(split_to_limit(s, 100, &measure), vec![0..s.len()]);
    // Semicolon first.
    let pieces = split_to_limit(s, 12, &measure);
    assert_covers(s, &pieces);
    assert_eq!(
        &s[pieces[0].clone()],
        "Міністр провів зустріч із партнерами;"
    );
    assert!(pieces.iter().all(|r| word_count(&s[r.clone()]) <= 12));
    // Tighter: commas and the spaced dash come next.
    let pieces = split_to_limit(s, 6, &measure);
    assert_covers(s, &pieces);
    let texts: Vec<&str> = pieces.iter().map(|r| &s[r.clone()]).collect();
    assert_eq!(
        texts,
        vec![
            "Міністр провів зустріч із партнерами;",
            "сторони обговорили постачання ППО,",
            "фінансування спільних виробництв",
            "– і підготовку наступного засідання.",
        ]
    );
}

#[test]
fn split_to_limit_covers_realistic_long_sentences() {
    // Build long "sentences" from real FLORES text by gluing lines together
    // with commas and conjunctions, then cut them to a token-like budget.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/flores200-uk-en/dev.uk"
    );
    let corpus = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = corpus
        .lines()
        .map(|l| l.trim().trim_end_matches('.'))
        .collect();
    // Approximate subword tokens: characters / 4, at least one per word.
    let measure = |t: &str| (t.chars().count() / 4).max(word_count(t));
    for (i, run) in lines.chunks(8).enumerate() {
        let glue = if i % 2 == 0 { ", а " } else { "; " };
        let long = format!("{}.", run.join(glue));
        for limit in [200, 60, 25] {
            let pieces = split_to_limit(&long, limit, &measure);
            assert_covers(&long, &pieces);
            for r in &pieces {
                let piece = &long[r.clone()];
                assert!(
                    measure(piece) <= limit || word_count(piece) == 1,
                    "piece over {limit}: {piece}"
                );
            }
        }
    }
}

#[test]
fn split_to_limit_keeps_an_unbreakable_word() {
    let word = "Супердовгесловобезпробілів";
    let s = format!("{word} і ще");
    let pieces = split_to_limit(&s, 3, &|t: &str| t.chars().count());
    assert_covers(&s, &pieces);
    assert_eq!(&s[pieces[0].clone()], word);
}
