//! Property tests of the parts that meet untrusted input: ingest (text,
//! HTML, plain), segmentation, both tokenizers, the JSON-schema constraint
//! machine, the facts extractors and the record readers. Every property:
//! no panic, every span inside its text on character boundaries, and the
//! stronger invariant each part promises (byte-level BPE round-trips, a
//! constrained walk ends in JSON that parses, …).
//!
//! `UKDIGEST_PROPTEST_CASES` sets the cases per property (default 64 in the
//! normal run); the dedicated run of TESTING.md uses 100000.
mod common;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::Path;
use std::sync::OnceLock;

fn cases(scale: f64) -> u32 {
    let n: f64 = std::env::var("UKDIGEST_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64.0);
    ((n * scale).ceil() as u32).max(8)
}

fn runner(scale: f64) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(scale),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Pieces of scraped Ukrainian news pages: sentences with the splitter's
/// traps, dates, furniture, headings, list items, quotes, markup, control
/// characters.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[А-ЯІЇЄҐ][а-яіїєґ'’]{1,12}( [а-яіїєґ'’]{1,12}){0,12}[.!?…]?",
        Just("Міністр оборони України Рустем Умєров заявив, що 28 серпня 2025 року".into()),
        Just("вул. Хрещатик, м. Київ, ст. 15, т. зв. «Рамштайн»".into()),
        Just("В. О. Зеленський провів зустріч о 21:32 11.04.2025.".into()),
        Just("«Ми готові до миру», – зазначив він.".into()),
        Just("понад 1,5 млрд доларів (135 із 156 засобів), 6-ту зустріч".into()),
        Just("Джерело: Інтерфакс-Україна".into()),
        Just("Leopolis.news".into()),
        Just("ЩЕ ЗА ТЕМОЮ".into()),
        Just("Передісторія:".into()),
        Just("- пункт списку".into()),
        Just("• ще один".into()),
        Just("21:32 11.04.2025".into()),
        Just(" date 2025-09-02 Заголовок".into()),
        Just("РЕКЛАМА".into()),
        Just("photo_2025.jpg".into()),
        Just("<p>Текст <b>з</b> тегами</p>".into()),
        Just("&lt;script&gt;alert(1)&lt;/script&gt;".into()),
        "[\\PC]{0,40}",
        "[\\u{0}-\\u{1f}\\u{200b}\\u{feff}\\u{a0}]{0,4}",
        "[0-9.,:/\\- ]{1,16}",
    ]
}

/// A page: pieces on lines, with blank lines between some.
fn page() -> impl Strategy<Value = String> {
    prop::collection::vec((piece(), 0..3usize), 0..40).prop_map(|v| {
        let mut s = String::new();
        for (p, sep) in v {
            s.push_str(&p);
            s.push_str(["\n", "\n\n", " "][sep]);
        }
        s
    })
}

/// An HTML page made of tags, attributes, text and comments, well or badly
/// formed.
fn html_page() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        piece(),
        Just("<div class=\"article-body\">".into()),
        Just("</div>".into()),
        Just("<article><h1>Заголовок статті</h1>".into()),
        Just("</article>".into()),
        Just("<nav><a href=\"/\">Головна</a><a href=\"/x\">Новини</a></nav>".into()),
        Just("<p>".into()),
        Just("</p>".into()),
        Just("<ul><li>".into()),
        Just("</li></ul>".into()),
        Just("<script>var x = '<p>не текст</p>';</script>".into()),
        Just("<style>p { color: red }</style>".into()),
        Just("<meta property=\"article:published_time\" content=\"2025-04-11T21:32:00+03:00\">".into()),
        Just("<script type=\"application/ld+json\">{\"@type\":\"NewsArticle\",\"headline\":\"Х\",\"datePublished\":\"2025-04-11\"}</script>".into()),
        Just("<time datetime=\"2025-13-45T99:99\">".into()),
        Just("<!-- коментар -->".into()),
        Just("<b id=\"x\">".into()),
        Just("<".into()),
        Just("&amp;&#x44f;&#999999999;".into()),
    ];
    prop::collection::vec(part, 0..60).prop_map(|v| {
        format!(
            "<!doctype html><html><head><title>Т</title></head><body>{}</body></html>",
            v.concat()
        )
    })
}

/// Every sentence span of an article lies inside the source text, on
/// character boundaries.
fn check_article(a: &ukdigest::article::Article, source: &str) -> Result<(), TestCaseError> {
    for s in a.sentences() {
        let (x, y) = s.span;
        prop_assert!(
            x <= y && y <= source.len(),
            "span {:?} of {}",
            s.span,
            source.len()
        );
        prop_assert!(source.is_char_boundary(x) && source.is_char_boundary(y));
    }
    Ok(())
}

#[test]
fn ingest_takes_any_bytes() {
    runner(1.0)
        .run(&prop::collection::vec(any::<u8>(), 0..2048), |bytes| {
            if let Ok((a, src)) =
                ukdigest::ingest::ingest_bytes_with_source(Path::new("p.txt"), &bytes)
            {
                check_article(&a, &src)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn ingest_takes_any_page() {
    runner(1.0)
        .run(&page(), |text| {
            let path = Path::new("p.txt");
            if let Ok((a, src)) = ukdigest::ingest::ingest_bytes_with_source(path, text.as_bytes())
            {
                check_article(&a, &src)?;
                prop_assert!(!a.title.is_empty());
            }
            for layout in [
                ukdigest::ingest::plain::Layout::Paragraphs,
                ukdigest::ingest::plain::Layout::Lines,
            ] {
                if let Ok((a, src)) = ukdigest::ingest::plain::ingest(path, text.as_bytes(), layout)
                {
                    check_article(&a, &src)?;
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn ingest_takes_any_html() {
    runner(0.5)
        .run(&html_page(), |html| {
            if let Ok((a, src)) =
                ukdigest::ingest::ingest_bytes_with_source(Path::new("p.html"), html.as_bytes())
            {
                check_article(&a, &src)?;
                // The content of script elements is never article text. (A
                // `<script>` glued to a broken tag before it is no script
                // element: a browser shows its content as text, and so may we.)
                let doc = scraper::Html::parse_document(&html);
                let sel = scraper::Selector::parse("script").unwrap();
                let in_scripts: usize = doc
                    .select(&sel)
                    .map(|e| e.text().collect::<String>().matches("не текст").count())
                    .sum();
                if in_scripts > 0 && in_scripts == html.matches("не текст").count() {
                    prop_assert!(!a.sentences().any(|s| s.text.contains("не текст")));
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn segmentation_ranges_are_ordered_and_inside() {
    runner(1.0)
        .run(&(page(), 8..200usize), |(text, limit)| {
            let ranges = ukdigest::segment::split_sentences(&text);
            let mut end = 0;
            for r in &ranges {
                prop_assert!(r.start >= end && r.start <= r.end && r.end <= text.len());
                prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
                end = r.end;
            }
            for r in &ranges {
                let sentence = &text[r.clone()];
                let measure = |t: &str| t.chars().count();
                let pieces = ukdigest::segment::split_to_limit(sentence, limit, &measure);
                let mut end = 0;
                for p in &pieces {
                    prop_assert!(p.start >= end && p.end <= sentence.len());
                    prop_assert!(
                        sentence.is_char_boundary(p.start) && sentence.is_char_boundary(p.end)
                    );
                    end = p.end;
                }
            }
            Ok(())
        })
        .unwrap();
}

fn marian_tokenizer() -> &'static ukdigest::marian::tokenizer::MarianTokenizer {
    static T: OnceLock<ukdigest::marian::tokenizer::MarianTokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let dir = common::shared().join("testdata/marian-tokenizer-fr-en");
        ukdigest::marian::tokenizer::MarianTokenizer::from_dir(&dir).expect("fr-en tokenizer")
    })
}

#[test]
fn marian_tokenizer_takes_any_text() {
    let tk = marian_tokenizer();
    runner(1.0)
        .run(&prop_oneof![page(), "\\PC{0,200}"], |text| {
            let ids = tk.encode_source(&text).unwrap();
            prop_assert!(!ids.is_empty(), "EOS at least");
            prop_assert_eq!(*ids.last().unwrap(), tk.eos_id());
            let _ = tk.decode(&ids, true).unwrap();
            Ok(())
        })
        .unwrap();
}

fn gguf_tokenizers() -> &'static [ukdigest::llm::GgufTokenizer] {
    static T: OnceLock<Vec<ukdigest::llm::GgufTokenizer>> = OnceLock::new();
    T.get_or_init(|| {
        [common::smollm2_gguf(), common::qwen25_coder_05b_gguf()]
            .iter()
            .map(|p| ukdigest::llm::GgufTokenizer::from_file(p).expect("GGUF tokenizer"))
            .collect()
    })
}

/// Which bytes have a single-byte token.
fn byte_tokens(tk: &ukdigest::llm::GgufTokenizer) -> [bool; 256] {
    let mut covered = [false; 256];
    for i in 0..tk.vocab_size() as u32 {
        if let [b] = tk.token_bytes(i) {
            covered[*b as usize] = true;
        }
    }
    covered
}

#[test]
fn byte_level_bpe_round_trips_any_text() {
    let tks = gguf_tokenizers();
    runner(1.0)
        .run(&prop_oneof![page(), "\\PC{0,200}", ".{0,64}"], |text| {
            for tk in tks {
                let ids = tk.encode(&text, false).unwrap();
                prop_assert!(ids.iter().all(|&i| (i as usize) < tk.vocab_size()));
                // Lossless, up to bytes the vocabulary has no token for
                // (SmolLM2 lacks some; llama.cpp drops them the same way).
                let covered = byte_tokens(tk);
                let kept: Vec<u8> = text.bytes().filter(|&b| covered[b as usize]).collect();
                let want = String::from_utf8_lossy(&kept).into_owned();
                prop_assert_eq!(tk.decode(&ids), want);
                // Special-token parsing never panics either.
                let _ = tk.encode(&text, true).unwrap();
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn constrained_walks_end_in_json_of_the_schema() {
    let tk = &gguf_tokenizers()[0];
    let vocab = ukdigest::llm::Vocabulary::new(
        (0..tk.vocab_size() as u32)
            .map(|i| tk.token_bytes(i).to_vec())
            .collect(),
        (0..tk.vocab_size() as u32)
            .map(|i| tk.kind(i) == Some(ukdigest::llm::TokenKind::Normal))
            .collect(),
    );
    let schema = ukdigest::facts::llm::schema();
    // Each case: how many steps, and a seed for the choice among the allowed.
    runner(0.01)
        .run(&(1..48usize, any::<u64>()), |(steps, seed)| {
            use ukdigest::llm::TokenConstraint;
            let mut c = ukdigest::llm::JsonSchemaConstraint::new(&schema).unwrap();
            let mut logits = vec![0f32; vocab.len()];
            let mut rng = seed;
            for _ in 0..steps {
                if c.is_complete() {
                    break;
                }
                logits.iter_mut().for_each(|l| *l = 0.0);
                c.mask(&vocab, &mut logits).unwrap();
                let allowed: Vec<u32> = (0..vocab.len() as u32)
                    .filter(|&i| logits[i as usize].is_finite())
                    .collect();
                prop_assert!(!allowed.is_empty(), "the machine never dead-ends");
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let t = allowed[(rng >> 33) as usize % allowed.len()];
                c.accept(&vocab, t).unwrap();
            }
            let text = format!("{}{}", c.text(), c.completion());
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert!(v["facts"].is_array(), "{}", text);
            for f in v["facts"].as_array().unwrap() {
                prop_assert!(f["kind"].is_string() && f["text"].is_string(), "{}", text);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn facts_are_grounded_in_any_article() {
    runner(1.0)
        .run(&page(), |text| {
            let Ok((a, src)) =
                ukdigest::ingest::ingest_bytes_with_source(Path::new("p.txt"), text.as_bytes())
            else {
                return Ok(());
            };
            let n = a.sentences().count();
            let mut facts = ukdigest::facts::extract(&a, &src);
            for f in &facts {
                let (x, y) = f.span;
                prop_assert!(src.get(x..y) == Some(f.text.as_str()), "{:?}", f);
                prop_assert!(f.sentence < n);
            }
            let english: Vec<String> = a.sentences().map(|s| s.text.clone()).collect();
            ukdigest::facts::render_english(&mut facts, &english);
            // LLM proposals are grounded or dropped, whatever they say.
            for s in a.sentences().take(3) {
                if let Some(f) =
                    ukdigest::facts::llm_fact(&a, &src, ukdigest::facts::FactKind::Person, &s.text)
                {
                    prop_assert!(src.get(f.span.0..f.span.1) == Some(f.text.as_str()));
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn record_readers_take_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = ukdigest::store::Store::create(dir.path()).unwrap();
    let rec = ukdigest::store::record::sample("r", "H", &["S."], Vec::new());
    let good = serde_json::to_vec_pretty(&rec).unwrap();
    runner(1.0)
        .run(
            &(
                prop::collection::vec((0..good.len(), any::<u8>()), 0..4),
                0..good.len(),
            ),
            |(flips, cut)| {
                let mut bytes = good.clone();
                for (i, b) in flips {
                    bytes[i] = b;
                }
                bytes.truncate(cut.max(1));
                std::fs::write(dir.path().join("r.json"), &bytes).unwrap();
                // Errors are fine; panics are not.
                let _ = store.articles();
                let _ = store.read_article("r");
                Ok(())
            },
        )
        .unwrap();
}
