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

#[test]
fn dump() {
    for (stem, date) in SEEDS {
        let (a, src) = seed(stem, date);
        println!("=== {stem}");
        for f in facts::extract(&a, &src) {
            println!("{:?}\t{}\t{:?}\trole={:?}\tunit={:?}\ts{}", f.kind, f.text, f.normalized, f.role, f.unit, f.sentence);
        }
    }
}
