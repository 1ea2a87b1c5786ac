//! HTML ingestion: pages as the seed outlets serve them must ingest to
//! the same article as their scraped text versions.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ukdigest::article::{Article, ParagraphKind, Published};
use ukdigest::ingest::html::looks_like_html;
use ukdigest::ingest::{collect_inputs, ingest_bytes, ingest_bytes_with_source, ingest_file};
use ukdigest::Error;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn html(name: &str) -> PathBuf {
    Path::new(ROOT).join("tests/data/html").join(name)
}

/// An HTML page and the scraped text page of the same article.
struct Pair {
    html: &'static str,
    text: &'static str,
    /// What the HTML page gives where its text version lacks it (the
    /// scrape lost the time, or the whole date line); `None`: the same
    /// as the text version.
    published: Option<(&'static str, Option<&'static str>)>,
    /// The outlet where the text version names none.
    outlet: Option<&'static str>,
}

fn pairs() -> Vec<Pair> {
    vec![
        // A news agency: JSON-LD NewsArticle, related and latest lists,
        // advertising, informer widget.
        Pair {
            html: "002_1e12a2d0a498dcd6.html",
            text: "seeds/002_1e12a2d0a498dcd6.txt",
            published: None,
            outlet: None,
        },
        // JSON-LD @graph, og:title with the site suffix, inline style and
        // scripts, cookie banner, a "read also" box inside the article,
        // comments.
        Pair {
            html: "003_dd46adcc9f1925d8.html",
            text: "seeds/003_dd46adcc9f1925d8.txt",
            published: None,
            outlet: None,
        },
        // AMP: og tags and article:published_time, amp-sidebar menu.
        Pair {
            html: "interfax_style.html",
            text: "tests/data/pages/interfax_style.txt",
            published: None,
            outlet: None,
        },
        // A regional site: og:title, the date only in <time datetime>,
        // breadcrumbs, view counter, an inline "read also" paragraph,
        // share buttons, similar news, a sidebar of latest news.
        Pair {
            html: "news_site_variant.html",
            text: "tests/data/pages/news_site_variant.txt",
            published: None,
            outlet: None,
        },
        // A ministry (Drupal): no metadata but <title> and <h1>, hidden
        // skip link, role=navigation menus, tags field.
        Pair {
            html: "ministry_undated.html",
            text: "tests/data/pages/ministry_undated.txt",
            published: None,
            outlet: None,
        },
        // WordPress without an SEO plugin: the date only as text above
        // the article, newsletter box, Telegram promo, prev/next links.
        Pair {
            html: "leopolis_style.html",
            text: "tests/data/pages/leopolis_style.txt",
            published: None,
            outlet: None,
        },
        // WordPress (tagDiv theme) with Yoast: times in UTC in the
        // metadata, local in the theme's <time>; share buttons,
        // subscribe boxes, prev/next in the article footer. The text
        // scrape kept only the date.
        Pair {
            html: "001_fb92ec944e2a6a29.html",
            text: "seeds/001_fb92ec944e2a6a29.txt",
            published: Some(("2025-04-23", Some("12:47"))),
            outlet: None,
        },
        // An online newspaper: JSON-LD array, source line in bold,
        // background bullets with links, tags, partner news. The export
        // kept only the date.
        Pair {
            html: "eupravda_style.html",
            text: "tests/data/pages/eupravda_style.txt",
            published: Some(("2025-10-15", Some("11:47"))),
            outlet: Some("Європейська правда"),
        },
        // A ministry with <time datetime> in the article header (the text
        // scrape lost the date), file links between paragraphs, a lead
        // repeating the title, other news with their own times.
        Pair {
            html: "004_d69912333ab1b182.html",
            text: "seeds/004_d69912333ab1b182.txt",
            published: Some(("2025-10-02", Some("16:40"))),
            outlet: None,
        },
    ]
}

fn kinds_and_texts(a: &Article) -> Vec<(ParagraphKind, String)> {
    a.paragraphs.iter().map(|p| (p.kind, p.text())).collect()
}

fn check_pair(p: &Pair) {
    let text_path = Path::new(ROOT).join(p.text);
    let html_path = html(p.html);
    let t = ingest_file(&text_path).unwrap_or_else(|e| panic!("{}: {e}", p.text));
    let bytes = std::fs::read(&html_path).unwrap();
    let (h, source) =
        ingest_bytes_with_source(&html_path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", p.html));
    let name = p.html;
    assert!(
        looks_like_html(std::str::from_utf8(&bytes).unwrap()),
        "{name}"
    );
    assert_eq!(h.id, html_path.file_stem().unwrap().to_string_lossy());
    assert_eq!(h.encoding, "utf-8", "{name}");
    assert_eq!(h.title, t.title, "{name}: title");
    match p.published {
        None => assert_eq!(h.published, t.published, "{name}: published"),
        Some((date, time)) => {
            let expected = Published {
                date: date.to_owned(),
                time: time.map(str::to_owned),
            };
            assert_eq!(h.published.as_ref(), Some(&expected), "{name}: published");
            // What the text version does give agrees.
            if let Some(tp) = &t.published {
                assert_eq!(tp.date, expected.date, "{name}: date");
                assert!(
                    tp.time.is_none() || tp.time == expected.time,
                    "{name}: time"
                );
            }
        }
    }
    match (&t.outlet, p.outlet) {
        (Some(o), _) => assert_eq!(h.outlet.as_ref(), Some(o), "{name}: outlet"),
        (None, expected) => assert_eq!(h.outlet.as_deref(), expected, "{name}: outlet"),
    }
    assert_eq!(h.source_line, t.source_line, "{name}: source line");
    assert_eq!(kinds_and_texts(&h), kinds_and_texts(&t), "{name}: body");
    // Spans point into the rendered text page, in order.
    let mut last_end = 0;
    for s in h.sentences() {
        let (start, end) = s.span;
        assert!(
            start >= last_end && start < end && end <= source.len(),
            "{name}"
        );
        let raw = &source[start..end];
        let collapsed: Vec<&str> = raw
            .split(char::is_whitespace)
            .filter(|w| !w.is_empty())
            .collect();
        assert_eq!(collapsed.join(" "), s.text, "{name}");
        last_end = end;
    }
    // The source text is plain text, not markup.
    for markup in [
        "<p", "</", "<div", "&quot;", "&nbsp;", "&amp;", "{\"@", "gtag(",
    ] {
        assert!(
            !source.contains(markup),
            "{name}: {markup:?} in the text page"
        );
    }
}

#[test]
fn html_pages_ingest_like_their_text_versions() {
    for p in pairs() {
        check_pair(&p);
    }
}

fn article_error(result: ukdigest::Result<Article>) -> String {
    match result {
        Err(Error::Article { reason, .. }) => reason,
        other => panic!("expected an article error, got {other:?}"),
    }
}

/// A small page in the usual layout around `body` (the article block's
/// inner HTML).
fn page_around(body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="uk"><head><meta charset="utf-8">
<title>Хакери атакували сайт міської ради | Новини міста</title>
<meta property="og:title" content="Хакери атакували сайт міської ради">
<meta property="article:published_time" content="2025-05-20T08:30:00+03:00">
<script>var secret = "REAL_SCRIPT_IN_HEAD"; document.title = "<p>not text</p>";</script>
</head><body>
<nav class="menu"><a href="/">Головна</a> <a href="/news">Новини</a></nav>
<article><h1>Хакери атакували сайт міської ради</h1>
<div class="article-body">{body}</div>
</article>
<footer><p>© 2025 Новини міста, усі права захищено, передрук заборонено.</p></footer>
</body></html>"#
    )
}

#[test]
fn escaped_markup_is_text_and_scripts_are_not() {
    let body = r#"<p>Зловмисники намагалися вставити у форму зворотного зв'язку код &lt;script&gt;alert(1)&lt;/script&gt;, повідомили у міській раді.</p>
<script>document.write("REAL_SCRIPT_IN_BODY <p>fake paragraph</p>");</script>
<p>За словами фахівців, атаку вдалося відбити, а дані мешканців не постраждали.</p>
<style>.article-body p { color: red; } /* STYLE_TEXT */</style>
<noscript><p>NOSCRIPT_TEXT: увімкніть JavaScript, щоб бачити коментарі.</p></noscript>"#;
    let html = page_around(body);
    let (a, source) = ingest_bytes_with_source(Path::new("xss.html"), html.as_bytes()).unwrap();
    assert_eq!(a.title, "Хакери атакували сайт міської ради");
    let published = a.published.as_ref().unwrap();
    assert_eq!(
        (published.date.as_str(), published.time.as_deref()),
        ("2025-05-20", Some("08:30"))
    );
    assert_eq!(a.paragraphs.len(), 2, "{:?}", kinds_and_texts(&a));
    assert!(
        a.paragraphs[0]
            .text()
            .contains("код <script>alert(1)</script>, повідомили"),
        "{}",
        a.paragraphs[0].text()
    );
    for hidden in [
        "REAL_SCRIPT",
        "fake paragraph",
        "not text",
        "STYLE_TEXT",
        "NOSCRIPT_TEXT",
        "Головна",
    ] {
        assert!(!source.contains(hidden), "{hidden} in the text page");
        assert!(
            !a.body_text().contains(hidden) && !a.title.contains(hidden),
            "{hidden}"
        );
    }
}

#[test]
fn a_page_of_navigation_only_is_a_clear_error() {
    let html = r#"<!doctype html><html><head><title>Новини міста</title></head><body>
<header><a href="/">Новини міста</a></header>
<nav><ul><li><a href="/politics">Політика</a></li><li><a href="/economy">Економіка</a></li></ul></nav>
<div class="latest"><a href="/1">Перша новина дня про події у місті</a><a href="/2">Друга новина дня про погоду та транспорт</a></div>
<footer>© 2025 Новини міста</footer></body></html>"#;
    let reason = article_error(ingest_bytes(Path::new("nav.html"), html.as_bytes()));
    assert!(
        reason.contains("HTML page") && reason.contains("no article text"),
        "{reason}"
    );
    // Markup with no text at all.
    let reason = article_error(ingest_bytes(
        Path::new("empty.html"),
        b"<!DOCTYPE html><html><head></head><body><div><img src=a.jpg></div></body></html>",
    ));
    assert!(
        reason.contains("HTML page") && reason.contains("no text"),
        "{reason}"
    );
    // A title and nothing else.
    let reason = article_error(ingest_bytes(
        Path::new("title.html"),
        "<!DOCTYPE html><html><head><title>Лише заголовок сторінки</title></head><body></body></html>"
            .as_bytes(),
    ));
    assert!(reason.contains("HTML page"), "{reason}");
}

const ARTICLE: &str = "<h1>Міністр оборони провів зустріч із партнерами</h1>\
<p>Міністр оборони України провів зустріч із партнерами у Брюсселі, де сторони обговорили постачання систем ППО.</p>\
<p>Окремо йшлося про фінансування оборонної промисловості, спільне виробництво та санкції.</p>";

#[test]
fn ten_thousand_nested_divs() {
    let mut html =
        String::from("<!DOCTYPE html><html><head><title>Глибока сторінка</title></head><body>");
    html.push_str(&"<div class=\"wrap\">".repeat(10_000));
    html.push_str(ARTICLE);
    html.push_str(&"</div>".repeat(10_000));
    html.push_str("<footer>© 2025</footer></body></html>");
    let t = Instant::now();
    let a = ingest_bytes(Path::new("deep.html"), html.as_bytes()).unwrap();
    let elapsed = t.elapsed();
    println!("{} bytes, 10 000 nested divs: {elapsed:?}", html.len());
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(a.title, "Міністр оборони провів зустріч із партнерами");
    assert_eq!(a.paragraphs.len(), 2);

    // Unclosed nesting of every kind, to the size limit.
    let mut html = String::from("<!DOCTYPE html><html><body>");
    let unit = "<div><span><b><i><a href=#><p>текст ";
    while html.len() + unit.len() < ukdigest::ingest::MAX_ARTICLE_BYTES as usize - 1024 {
        html.push_str(unit);
    }
    let t = Instant::now();
    let result = ingest_bytes(Path::new("unclosed.html"), html.as_bytes());
    let elapsed = t.elapsed();
    println!(
        "{} bytes of unclosed tags: {elapsed:?} ({})",
        html.len(),
        result.is_ok()
    );
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[test]
fn broken_markup_does_not_panic_and_keeps_the_text() {
    let html = "<!DOCTYPE html><html><head><title>Зламана розмітка</title>\n\
        <meta property=og:title content='Зламана розмітка сторінки новин'>\n\
        <body><div class=content><p>Перший абзац без закриття <b>жирний <i>курсив</b> далі</i>\n\
        <p>Другий абзац, у якому є <a href=/x>посилання</a> без закриття <li>і пункт списку без списку\n\
        <table><tr><td>Клітинка таблиці з текстом<td>Ще одна клітинка</table>\n\
        </div></div></span></article></p></p>\n\
        <p>Третій абзац після зайвих закриваючих тегів, з комами, крапками та іншим.\n\
        <p>Абзац з посиланням, яке ніхто не закрив: <a href=/y>усе далі стає посиланням\n\
        <p>Текст після незакритого посилання\n\
        <div class=\"unterminated attribute value>\n\
        <p>Текст після незакритого атрибута\n\
        <!-- незакритий коментар";
    let result = ingest_bytes(Path::new("broken.html"), html.as_bytes());
    let a = result.unwrap();
    assert_eq!(a.title, "Зламана розмітка сторінки новин");
    let body = a.body_text();
    assert!(
        body.contains("Перший абзац без закриття жирний курсив далі"),
        "{body}"
    );
    assert!(
        body.contains("Другий абзац, у якому є посилання без закриття"),
        "{body}"
    );
    assert!(body.contains("- і пункт списку без списку"), "{body}");
    assert!(
        body.contains("Третій абзац після зайвих закриваючих тегів"),
        "{body}"
    );
    assert!(
        body.contains("Клітинка таблиці з текстом\n\nЩе одна клітинка"),
        "{body}"
    );
    // An unclosed link runs on (as in a browser): what follows is link
    // text, which is not article text.
    assert!(!body.contains("Текст після незакритого"), "{body}");

    // Prefixes of a real page, and the page with bytes cut out (also
    // inside characters: invalid UTF-8).
    let page = std::fs::read(html_path("003_dd46adcc9f1925d8.html")).unwrap();
    for end in (0..page.len()).step_by(211) {
        let _ = ingest_bytes(Path::new("prefix.html"), &page[..end]);
        let resume = (end + 97).min(page.len());
        let holed = [&page[..end], &page[resume..]].concat();
        let _ = ingest_bytes(Path::new("holed.html"), &holed);
    }
}

fn html_path(name: &str) -> PathBuf {
    html(name)
}

#[test]
fn huge_attribute_values_and_big_pages_stay_fast() {
    let limit = ukdigest::ingest::MAX_ARTICLE_BYTES as usize;
    let attr = "x".repeat(limit - 4096);
    let html = format!(
        "<!DOCTYPE html><html><head><title>Т</title><meta name=\"x\" content=\"{attr}\"></head>\
         <body><article>{ARTICLE}</article></body></html>"
    );
    let t = Instant::now();
    let a = ingest_bytes(Path::new("attr.html"), html.as_bytes()).unwrap();
    let elapsed = t.elapsed();
    println!("{} bytes with one huge attribute: {elapsed:?}", html.len());
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(a.paragraphs.len(), 2);

    // A real page padded with thousands of comments and related items to
    // just under the limit.
    let page = std::fs::read_to_string(html_path("003_dd46adcc9f1925d8.html")).unwrap();
    let item = "<div class=\"comment\"><div class=\"comment-author\">Читач</div><p>Коментар читача про цю новину, з комами, крапками і думками, які нікого не цікавлять.</p></div>\n";
    let mut padding = String::new();
    while page.len() + padding.len() + item.len() < limit - 1024 {
        padding.push_str(item);
    }
    let big = page.replacen(
        "<form class=\"comment-form\"",
        &format!("{padding}<form class=\"comment-form\""),
        1,
    );
    let t = Instant::now();
    let a = ingest_bytes(Path::new("big.html"), big.as_bytes()).unwrap();
    let elapsed = t.elapsed();
    println!("{} bytes of a page with comments: {elapsed:?}", big.len());
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let small = ingest_file(&html_path("003_dd46adcc9f1925d8.html")).unwrap();
    assert_eq!(a.paragraphs, small.paragraphs);
}

#[test]
fn windows_1251_html_is_decoded_like_utf8() {
    let page = std::fs::read_to_string(html_path("leopolis_style.html")).unwrap();
    let page = page.replace(
        "<meta charset=\"UTF-8\" />",
        "<meta charset=\"windows-1251\" />",
    );
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&page);
    assert!(!unmappable);
    let cp = ingest_bytes(&html_path("leopolis_style.html"), &bytes).unwrap();
    let utf8 = ingest_file(&html_path("leopolis_style.html")).unwrap();
    assert_eq!(cp.encoding, "windows-1251");
    assert_eq!(cp.title, utf8.title);
    assert_eq!(cp.published, utf8.published);
    assert_eq!(cp.paragraphs, utf8.paragraphs);
}

#[test]
fn text_pages_that_mention_tags_are_not_html() {
    let text = "Редактор пояснив, як працює тег <b> у старих сайтах\n\n\
                Тег <b> робить текст жирним, а <body> містить увесь вміст сторінки.\n";
    assert!(!looks_like_html(text));
    let a = ingest_bytes(Path::new("tags.txt"), text.as_bytes()).unwrap();
    assert_eq!(
        a.title,
        "Редактор пояснив, як працює тег <b> у старих сайтах"
    );
    assert!(a.body_text().contains("а <body> містить"));
    // The text pages of the repository are not HTML either.
    for dir in ["seeds", "tests/data/pages"] {
        for entry in std::fs::read_dir(Path::new(ROOT).join(dir)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!looks_like_html(&text));
        }
    }
}

#[test]
fn directories_yield_html_pages_too() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.html", "a.txt", "c.HTM", "notes.md", "d.htm"] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    let got = collect_inputs(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = got
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.txt", "b.html", "c.HTM", "d.htm"]);
    let all = collect_inputs(&[Path::new(ROOT).join("tests/data/html")]).unwrap();
    assert_eq!(all.len(), pairs().len());
    for path in all {
        ingest_file(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
#[ignore = "prints the text pages rendered from the HTML test pages"]
fn dump_rendered_pages() {
    for p in pairs() {
        let bytes = std::fs::read(html(p.html)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        match ukdigest::ingest::html::to_text_page(&text) {
            Ok(page) => println!("==== {}\n{}", p.html, page.text),
            Err(e) => println!("==== {}: {e}", p.html),
        }
    }
}

#[test]
fn open_formatting_elements_do_not_multiply_the_page() {
    // Each formatting element left open is copied into every following
    // paragraph by the HTML tree builder.
    let mut html = String::from("<!DOCTYPE html><html><head><title>Т</title></head><body><p>");
    for i in 0..64 {
        html.push_str(&format!("<b id=b{i}>"));
    }
    html.push_str("Міністр оборони України провів зустріч із партнерами у Брюсселі.</p>");
    // Without a cap, 1 MiB of this parses into 8.6 million nodes in 16 s.
    while html.len() < 1024 * 1024 {
        html.push_str("<p>y</p>");
    }
    let t = Instant::now();
    let a = ingest_bytes(Path::new("formatting.html"), html.as_bytes()).unwrap();
    let elapsed = t.elapsed();
    println!(
        "{} bytes of open formatting elements: {elapsed:?}",
        html.len()
    );
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert!(a.body_text().contains('y'), "{}", a.body_text());
}
