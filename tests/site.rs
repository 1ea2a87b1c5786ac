//! The outputs made from all the records: the static site, the Atom feed,
//! the JSON Lines and the record's JSON Schema, from the five seeds (real
//! ingest and fact extraction; hand-written stand-in English from
//! `tests/fixtures/site/english.json`, no model), plus a check in headless
//! Chromium (skipped, with a message, when `/usr/bin/chromium` is missing).
//!
//! `UKDIGEST_WRITE_SCHEMA=1 cargo test --test site schema` rewrites
//! `schema/article.schema.json`; `UKDIGEST_SCREENSHOTS=<dir>` keeps the
//! browser check's screenshots and the site they show there (default: a
//! folder under the target directory, printed by the test).
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use ukdigest::facts;
use ukdigest::store::{self, ArticleDigest, BilingualParagraph, Store};
use ukdigest::summarize::SummaryFlag;
use ukdigest::translate::{TranslateFlag, TranslatedSentence};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const SEEDS: [&str; 5] = [
    "000_4e02704fb7287723",
    "001_fb92ec944e2a6a29",
    "002_1e12a2d0a498dcd6",
    "003_dd46adcc9f1925d8",
    "004_d69912333ab1b182",
];

/// The stand-in English of a seed.
struct English {
    title_en: String,
    headline: String,
    summary: Vec<String>,
    sentences: Vec<String>,
}

fn english(id: &str) -> English {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/site/english.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    let e = &all[id];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    English {
        title_en: e["title_en"].as_str().unwrap().into(),
        headline: e["headline"].as_str().unwrap().into(),
        summary: strings(&e["summary"]),
        sentences: strings(&e["sentences"]),
    }
}

/// A translation check flag put on some sentences, so the pages show them.
fn flags_for(id: &str, sentence: usize) -> Vec<TranslateFlag> {
    match (id, sentence) {
        ("000_4e02704fb7287723", 10) => vec![TranslateFlag::DigitsMissing("28".into())],
        ("002_1e12a2d0a498dcd6", 0) => vec![TranslateFlag::Split(2)],
        ("003_dd46adcc9f1925d8", 13) => vec![TranslateFlag::Split(2)],
        _ => Vec::new(),
    }
}

/// The record `digest` would write for a seed, with the stand-in English
/// in place of the models' output.
fn seed_record(id: &str) -> ArticleDigest {
    let path = repo().join("seeds").join(format!("{id}.txt"));
    let bytes = std::fs::read(&path).unwrap();
    let (article, source) = ukdigest::ingest::ingest_bytes_with_source(&path, &bytes).unwrap();
    let en = english(id);
    let n: usize = article.paragraphs.iter().map(|p| p.sentences.len()).sum();
    // Should the segmenter change, keep the pages whole: stand-ins for
    // the sentences the fixture lacks.
    let sentences: Vec<TranslatedSentence> = (0..n)
        .map(|i| TranslatedSentence {
            en: en
                .sentences
                .get(i)
                .cloned()
                .filter(|_| en.sentences.len() == n)
                .unwrap_or_else(|| format!("(English of sentence {})", i + 1)),
            flags: flags_for(id, i),
        })
        .collect();
    let english: Vec<String> = sentences.iter().map(|s| s.en.clone()).collect();
    let mut facts = facts::extract(&article, &source);
    facts::render_english(&mut facts, &english);
    ukdigest::entities::EntityTable::build(&facts).apply_to_facts(&mut facts);

    let mut rec = store::record::sample(id, &en.headline, &[], facts);
    rec.summary = en.summary;
    rec.title_en = en.title_en;
    rec.title_uk = article.title.clone();
    rec.source_path = PathBuf::from(format!("seeds/{id}.txt"));
    rec.source_sha256 = ukdigest::source::sha256_bytes(&bytes);
    rec.encoding = article.encoding.clone();
    rec.published = article.published.clone();
    rec.outlet = article.outlet.clone();
    rec.source_line = article.source_line.clone();
    rec.paragraphs = BilingualParagraph::pair(&article, &sentences);
    rec.provenance.generated_at = "2025-10-01T12:00:00Z".into();
    rec.provenance.models.translate.name = "stand-in-translator".into();
    rec.provenance.models.translate.sha256 = "0".repeat(64);
    rec.provenance.timings.total_secs = 12.5;
    rec.provenance.counts.sentences = n;
    if id == "004_d69912333ab1b182" {
        rec.summary_flags = vec![SummaryFlag::Trimmed { from: 5, to: 3 }];
    }
    rec
}

fn seed_records() -> Vec<ArticleDigest> {
    SEEDS.iter().map(|id| seed_record(id)).collect()
}

/// A store holding `records` (with their Markdown pages, as `digest` writes them).
fn store_with(dir: &Path, records: &[ArticleDigest]) -> Store {
    let store = Store::create(dir).unwrap();
    for r in records {
        store
            .write_article(r, &ukdigest::render::article_markdown(r))
            .unwrap();
    }
    store
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file of a folder (not the program's state in `.ukdigest/`):
/// name → bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// `ukdigest render DIR`, through the command line.
fn render_cli(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ukdigest"))
        .arg("render")
        .arg(dir)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The part of `html` from `from` on (panics when missing).
fn after<'a>(html: &'a str, from: &str) -> &'a str {
    let at = html
        .find(from)
        .unwrap_or_else(|| panic!("`{from}` not in the page"));
    &html[at..]
}

#[test]
fn five_seeds_make_the_site_the_feed_and_the_json_lines() {
    let d = tempfile::tempdir().unwrap();
    let records = seed_records();
    store_with(d.path(), &records);
    let said = render_cli(d.path());
    assert!(
        said.contains("file(s) rebuilt in") && said.contains("index.html"),
        "{said}"
    );

    let files = snapshot(d.path());
    let mut expected = vec![
        "index.html".to_string(),
        "style.css".into(),
        "feed.xml".into(),
        "articles.jsonl".into(),
    ];
    for day in [
        "2025-04-11",
        "2025-04-23",
        "2025-07-14",
        "2025-09-02",
        "undated",
    ] {
        expected.push(format!("day-{day}.html"));
        expected.push(format!("digest-{day}.md"));
    }
    for id in SEEDS {
        expected.push(format!("{id}.html"));
        expected.push(format!("{id}.json"));
        expected.push(format!("{id}.md"));
    }
    let mut names: Vec<String> = files.keys().cloned().collect();
    expected.sort();
    names.sort();
    assert_eq!(names, expected);

    // The index: days newest first, undated last, with counts and headlines.
    let index = read(&d.path().join("index.html"));
    let order: Vec<usize> = [
        "day-2025-09-02.html",
        "day-2025-07-14.html",
        "day-2025-04-23.html",
        "day-2025-04-11.html",
        "day-undated.html",
    ]
    .iter()
    .map(|l| index.find(&format!("href=\"{l}\"")).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(index.contains("Tuesday, 2 September 2025"));
    assert!(index.contains("5 articles on 5 days"));
    assert!(index.contains("1 article</p>"));
    assert!(index.contains("Umerov and Kellogg discuss a lasting peace"));
    assert!(index.contains("<link rel=\"stylesheet\" href=\"style.css\">"));
    assert!(!index.contains("<script"));

    // A day page: headline, Ukrainian title, outlet and time, summary,
    // people with roles, link to the article page.
    let day = read(&d.path().join("day-2025-07-14.html"));
    for want in [
        "<h2 lang=\"en\"><a href=\"003_dd46adcc9f1925d8.html\">Umerov and Kellogg discuss a lasting peace and producing weapons in Ukraine</a></h2>",
        "<span class=\"outlet\" lang=\"uk\">Інтерфакс-Україна</span>",
        "<time datetime=\"2025-07-14T18:16\">18:16</time>",
        "<p class=\"title-uk\" lang=\"uk\">Умєров обговорив з Келлогом",
        "Defence Minister Rustem Umerov met US special envoy General Keith Kellogg",
        "<span class=\"role\" lang=\"en\">Minister of Defence of Ukraine</span>",
        "<span class=\"name\" lang=\"en\">Oleksandr Syrskyi</span>",
        "href=\"day-2025-09-02.html\" rel=\"prev\"",
        "href=\"day-2025-04-23.html\" rel=\"next\"",
    ] {
        assert!(day.contains(want), "day page lacks {want}");
    }

    // An article page: summary, facts table, the bilingual text pair by
    // pair with lang on each side, the flags, provenance folded away.
    let page = read(&d.path().join("003_dd46adcc9f1925d8.html"));
    let rec = &records[3];
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("<a href=\"day-2025-07-14.html\">Monday, 14 July 2025</a>"));
    assert!(page.contains("<table class=\"facts\">"));
    assert!(page.contains("<td data-label=\"Ukrainian\" lang=\"uk\">Кирило Буданов</td>"));
    let pairs = page.matches("<div class=\"pair ").count();
    assert_eq!(
        pairs,
        rec.paragraphs.len() + 1,
        "one pair per paragraph and a heading row"
    );
    assert_eq!(
        after(&page, "class=\"bilingual\"")
            .matches("<div class=\"uk\" lang=\"uk\">")
            .count(),
        rec.paragraphs.len()
    );
    assert_eq!(
        page.matches("<div class=\"en\" lang=\"en\">").count(),
        rec.paragraphs.len()
    );
    assert!(page.contains("Translation checks flagged 1 sentence"));
    assert!(page.contains("title=\"over the model&#x27;s length limit, translated in 2 pieces\""));
    assert!(page.contains("Check: over the model&#x27;s length limit, translated in 2 pieces"));
    let prov = after(&page, "<details class=\"provenance\">");
    assert!(prov.contains("<summary>Provenance: models, settings, timings</summary>"));
    assert!(prov.contains(&rec.source_sha256));
    assert!(prov.contains("stand-in-translator"));
    assert!(prov.contains("</details>"));

    // Summary flags and heading/bullet paragraphs.
    let p4 = read(&d.path().join("004_d69912333ab1b182.html"));
    assert!(p4.contains("Summary check: the model wrote 5 sentences; trimmed to 3"));
    assert!(p4.contains("<span class=\"muted\">undated</span>"));
    let p0 = read(&d.path().join("000_4e02704fb7287723.html"));
    assert!(p0.contains("<div class=\"pair heading\">"));
    assert!(p0.contains("<div class=\"pair bullet\">"));
    assert!(p0.contains("Check: digits missing in the English: 28"));
    assert!(p0.contains("Source: <span lang=\"uk\">Міністерство закордонних справ України</span>"));

    // Every link and resource is relative and resolves inside the folder
    // (the site works from file://, offline).
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".html")) {
        let html = String::from_utf8(bytes.clone()).unwrap();
        for attr in ["href=\"", "src=\""] {
            for part in html.split(attr).skip(1) {
                let target = &part[..part.find('"').unwrap()];
                assert!(
                    !target.contains(':') && !target.starts_with('/'),
                    "{name}: link {target} is not relative"
                );
                let file = target.split('#').next().unwrap();
                assert!(
                    file.is_empty() || files.contains_key(file),
                    "{name}: link {target} points at no file"
                );
            }
        }
    }

    // The Markdown digests are still written as before.
    assert_eq!(
        read(&d.path().join("digest-2025-07-14.md")),
        ukdigest::render::day_markdown("2025-07-14", &records[3..4])
    );
}

#[test]
fn rebuilding_gives_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let records = seed_records();
    let sa = store_with(a.path(), &records);
    // The other folder gets the records in the opposite order.
    let reversed: Vec<ArticleDigest> = records.iter().rev().cloned().collect();
    let sb = store_with(b.path(), &reversed);
    ukdigest::render::write_all(&sa).unwrap();
    let first = snapshot(a.path());
    ukdigest::render::write_all(&sa).unwrap();
    assert_eq!(first, snapshot(a.path()), "a rebuild changed the outputs");
    ukdigest::render::write_all(&sb).unwrap();
    assert_eq!(
        first,
        snapshot(b.path()),
        "the same records gave other bytes"
    );
    // An empty folder still gets a site and a feed.
    let e = tempfile::tempdir().unwrap();
    let written = ukdigest::render::write_all(&Store::create(e.path()).unwrap()).unwrap();
    assert_eq!(written.len(), 4, "{written:?}");
    assert!(read(&e.path().join("index.html")).contains("No article records"));
    assert_eq!(read(&e.path().join("articles.jsonl")), "");
}

#[test]
fn the_feed_is_atom_that_a_feed_parser_reads() {
    let d = tempfile::tempdir().unwrap();
    let records = seed_records();
    let store = store_with(d.path(), &records);
    ukdigest::render::write_all(&store).unwrap();
    let xml = read(&d.path().join("feed.xml"));
    assert!(xml.starts_with("<?xml version=\"1.0\""), "{}", &xml[..80]);
    assert!(xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));

    let feed = feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs reads the feed");
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(feed.id, ukdigest::render::FEED_ID);
    assert_eq!(
        feed.title.as_ref().unwrap().content,
        "ukdigest: Ukrainian news in English"
    );
    assert_eq!(feed.generator.as_ref().unwrap().content, "ukdigest");
    assert!(!feed.authors.is_empty());
    // The newest entry: the undated article, at its record's generated_at.
    assert_eq!(
        feed.updated.unwrap().to_rfc3339(),
        "2025-10-01T12:00:00+00:00"
    );
    assert_eq!(feed.entries.len(), 5);

    let by_id: BTreeMap<String, &ArticleDigest> = records
        .iter()
        .map(|r| (ukdigest::render::entry_id(r), r))
        .collect();
    let mut times = Vec::new();
    for e in &feed.entries {
        let rec = by_id
            .get(&e.id)
            .unwrap_or_else(|| panic!("unknown entry id {}", e.id));
        assert_eq!(
            e.id,
            format!("urn:ukdigest:{}:{}", rec.id, rec.source_sha256)
        );
        assert_eq!(e.title.as_ref().unwrap().content, rec.headline);
        assert_eq!(e.summary.as_ref().unwrap().content, rec.summary.join(" "));
        assert_eq!(e.links.len(), 1);
        assert_eq!(e.links[0].href, format!("{}.html", rec.id));
        assert_eq!(e.links[0].rel.as_deref(), Some("alternate"));
        let updated = e.updated.unwrap();
        times.push(updated);
        match &rec.published {
            Some(p) => assert_eq!(e.published, Some(updated), "{}", p.iso()),
            None => {
                assert_eq!(updated.to_rfc3339(), "2025-10-01T12:00:00+00:00");
                assert!(e.published.is_none());
            }
        }
    }
    // Interfax's 18:16 on 14 July is 15:16 UTC.
    let kellogg = feed
        .entries
        .iter()
        .find(|e| e.id.contains("003_dd46adcc9f1925d8"))
        .unwrap();
    assert_eq!(
        kellogg.updated.unwrap().to_rfc3339(),
        "2025-07-14T15:16:00+00:00"
    );
    assert_eq!(kellogg.authors[0].name, "Інтерфакс-Україна");
    // Newest first (the undated article's generated_at is the newest here).
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[test]
fn json_lines_are_sorted_and_every_line_validates_against_the_schema() {
    let d = tempfile::tempdir().unwrap();
    let records = seed_records();
    let store = store_with(d.path(), &records);
    ukdigest::render::write_all(&store).unwrap();
    let text = read(&d.path().join("articles.jsonl"));
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    let ids: Vec<String> = lines
        .iter()
        .map(|l| {
            let rec: ArticleDigest = serde_json::from_str(l).expect("a line is a record");
            rec.id
        })
        .collect();
    assert_eq!(
        ids,
        [
            "002_1e12a2d0a498dcd6", // 2025-04-11
            "001_fb92ec944e2a6a29", // 2025-04-23
            "003_dd46adcc9f1925d8", // 2025-07-14
            "000_4e02704fb7287723", // 2025-09-02
            "004_d69912333ab1b182", // undated
        ]
    );
    // Each line is the record itself (the same JSON as `<id>.json`).
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let id = v["id"].as_str().unwrap();
        let file: Value =
            serde_json::from_str(&read(&d.path().join(format!("{id}.json")))).unwrap();
        assert_eq!(v, file);
    }

    let schema: Value =
        serde_json::from_str(&read(&repo().join(ukdigest::render::ARTICLE_SCHEMA_PATH))).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", v["id"]);
    }
    // The schema is not vacuous: a wrong type, a missing field and an
    // unknown fact kind fail.
    let mut bad: Value = serde_json::from_str(lines[0]).unwrap();
    bad["summary"] = Value::String("not a list".into());
    assert!(!validator.is_valid(&bad));
    let mut bad: Value = serde_json::from_str(lines[0]).unwrap();
    bad.as_object_mut().unwrap().remove("headline");
    assert!(!validator.is_valid(&bad));
    let mut bad: Value = serde_json::from_str(lines[0]).unwrap();
    bad["facts"][0]["kind"] = Value::String("rumour".into());
    assert!(!validator.is_valid(&bad));
    // The sample record (and so a record of any store) validates too.
    let sample =
        serde_json::to_value(store::record::sample("s", "H", &["S."], Vec::new())).unwrap();
    assert!(validator.is_valid(&sample));
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = repo().join(ukdigest::render::ARTICLE_SCHEMA_PATH);
    let generated = ukdigest::render::article_schema_json();
    if std::env::var_os("UKDIGEST_WRITE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        say(&format!("wrote {}", path.display()));
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not the schema of the record types: regenerate it with \
         `UKDIGEST_WRITE_SCHEMA=1 cargo test --test site schema`",
        path.display()
    );
    let v: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(v["$id"], ukdigest::render::ARTICLE_SCHEMA_ID);
    assert_eq!(v["type"], "object");
}

/// An article whose every text holds markup.
fn hostile_record() -> ArticleDigest {
    let evil = "<script>alert(1)</script>";
    let mut rec = seed_record("003_dd46adcc9f1925d8");
    rec.headline = format!("Headline {evil} & \"quotes\"");
    rec.summary = vec![
        format!("Summary {evil}."),
        "<b>bold</b> <img src=x onerror=alert(2)>".into(),
    ];
    rec.title_uk = format!("Заголовок {evil}");
    rec.title_en = format!("Title {evil}");
    rec.outlet = Some(format!("Outlet {evil}"));
    rec.source_line = Some(format!("Джерело {evil}"));
    rec.paragraphs[0].sentences[0].uk = format!("Речення {evil}");
    rec.paragraphs[0].sentences[0].en = format!("Sentence {evil}");
    rec.paragraphs[0].sentences[0].flags = vec![TranslateFlag::DigitsMissing(evil.into())];
    rec.facts[0].text = evil.into();
    rec.facts[0].english = Some(evil.into());
    rec.facts[0].role = Some(evil.into());
    rec.facts[0].role_en = Some(evil.into());
    rec.provenance.models.translate.name = evil.into();
    rec
}

#[test]
fn markup_in_an_article_is_text_in_every_output() {
    let d = tempfile::tempdir().unwrap();
    let store = store_with(d.path(), &[hostile_record()]);
    ukdigest::render::write_all(&store).unwrap();
    for name in [
        "index.html",
        "day-2025-07-14.html",
        "003_dd46adcc9f1925d8.html",
    ] {
        let html = read(&d.path().join(name));
        let lower = html.to_lowercase();
        assert!(!lower.contains("<script"), "{name} has a script element");
        assert!(!lower.contains("<img"), "{name} has an img element");
        assert!(!lower.contains("<b>"), "{name} has a b element");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{name} lacks the escaped text"
        );
    }
    let page = read(&d.path().join("003_dd46adcc9f1925d8.html"));
    assert!(page
        .contains("Headline &lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &quot;quotes&quot;"));
    assert!(page.contains("title=\"digits missing in the English: &lt;script&gt;"));
    // The feed holds the text as text too.
    let xml = read(&d.path().join("feed.xml"));
    assert!(!xml.contains("<script"));
    let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "Headline <script>alert(1)</script> & \"quotes\""
    );
    // And the browser builds no script element from it.
    let Some(browser) = Browser::find() else {
        return;
    };
    let dom = browser.dump_dom(&d.path().join("003_dd46adcc9f1925d8.html"));
    assert!(
        !dom.to_lowercase().contains("<script"),
        "script element in the DOM"
    );
    assert!(
        !dom.to_lowercase().contains("<img"),
        "img element in the DOM"
    );
    assert!(dom.contains("Headline &lt;script&gt;alert(1)&lt;/script&gt; &amp; \"quotes\""));
}

/// A line on the terminal even when the test harness captures output
/// (a direct write to stderr is not captured).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Headless Chromium (`/usr/bin/chromium`, or `CHROMIUM`).
struct Browser {
    exe: PathBuf,
}

impl Browser {
    /// The browser, or `None` with a message saying the check is skipped.
    fn find() -> Option<Browser> {
        let exe = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        if exe.is_file() {
            Some(Browser { exe })
        } else {
            say(&format!(
                "SKIPPED browser check: no Chromium at {} (apt-get install -y chromium, or set CHROMIUM)",
                exe.display()
            ));
            None
        }
    }

    fn run(&self, args: &[String], page: &Path) -> String {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("file://{}", page.canonicalize().unwrap().display());
        let mut child = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(&url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let start = Instant::now();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
            s
        });
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "chromium {args:?} {url}: {status}");
                break;
            }
            if start.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {args:?} {url} took over 120 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        reader.join().unwrap()
    }

    fn dump_dom(&self, page: &Path) -> String {
        self.run(&["--dump-dom".into()], page)
    }

    fn screenshot(&self, page: &Path, out: &Path, width: u32, height: u32) {
        let _ = std::fs::remove_file(out);
        self.run(
            &[
                format!("--screenshot={}", out.display()),
                format!("--window-size={width},{height}"),
            ],
            page,
        );
        let png = std::fs::read(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
        assert!(
            png.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            out.display()
        );
        // Width and height from the IHDR chunk.
        let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((dim(16), dim(20)), (width, height), "{}", out.display());
    }
}

/// The text of a DOM with tags dropped and whitespace collapsed.
fn dom_text(dom: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_pages_work_in_a_real_browser() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let shots = std::env::var_os("UKDIGEST_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("site-screenshots"));
    // The site is kept beside the screenshots, to open by hand.
    let site = shots.join("site");
    let _ = std::fs::remove_dir_all(&site);
    let records = seed_records();
    let store = store_with(&site, &records);
    ukdigest::render::write_all(&store).unwrap();

    let index = dom_text(&browser.dump_dom(&store.site_index_path()));
    assert!(index.contains("Daily digests"), "{index}");
    assert!(
        index.contains("5 articles on 5 days, newest first."),
        "{index}"
    );
    for r in &records {
        assert!(index.contains(&r.headline), "index lacks {}", r.headline);
    }
    let newest = index.find("Tuesday, 2 September 2025").unwrap();
    let oldest = index.find("Friday, 11 April 2025").unwrap();
    let undated = index.find("Undated articles").unwrap();
    assert!(newest < oldest && oldest < undated, "{index}");

    let day = dom_text(&browser.dump_dom(&store.site_day_path("2025-07-14")));
    for want in [
        "Monday, 14 July 2025",
        "Umerov and Kellogg discuss a lasting peace and producing weapons in Ukraine",
        "Інтерфакс-Україна",
        "18:16",
        "Key people",
        "Rustem Umerov Minister of Defence of Ukraine",
        "Kyrylo Budanov",
    ] {
        assert!(day.contains(want), "day page DOM lacks {want}: {day}");
    }

    let article_dom = browser.dump_dom(&store.article_html_path("003_dd46adcc9f1925d8"));
    let article = dom_text(&article_dom);
    for want in [
        "Key facts",
        "People",
        "Rustem Umerov",
        "Кирило Буданов",
        "Ukraine's Minister of Defence Rustem Umerov met the US President's Special Envoy",
        "Міністр оборони України Рустем Умєров зустрівся",
        "Translation checks flagged 1 sentence",
        "Check: over the model's length limit, translated in 2 pieces",
        "Provenance: models, settings, timings",
    ] {
        assert!(
            article.contains(want),
            "article DOM lacks {want}: {article}"
        );
    }
    assert!(article_dom.contains("<details class=\"provenance\">"));
    assert!(!article_dom.contains("<details class=\"provenance\" open"));

    for (name, page, width, height) in [
        ("index", store.site_index_path(), 1280, 1000),
        ("day", store.site_day_path("2025-07-14"), 1280, 1100),
        (
            "article",
            store.article_html_path("003_dd46adcc9f1925d8"),
            1280,
            1800,
        ),
        ("index-phone", store.site_index_path(), 390, 844),
        ("day-phone", store.site_day_path("2025-07-14"), 390, 1400),
        (
            "article-phone",
            store.article_html_path("003_dd46adcc9f1925d8"),
            390,
            2400,
        ),
    ] {
        let out = shots.join(format!("{name}.png"));
        browser.screenshot(&page, &out, width, height);
    }
    say(&format!(
        "browser check: screenshots in {}, the site in {}",
        shots.display(),
        site.display()
    ));
}
