//! HTML pages: a news page as a site serves it → a plain-text page in the
//! shape of the scraped `.txt` pages, which [`super::clean`] then cleans
//! like any other page.
//!
//! [`looks_like_html`] decides from the first few kilobytes whether a
//! decoded file is HTML. [`to_text_page`] parses it with a real HTML
//! parser (`scraper`, i.e. html5ever: entities decoded, broken markup
//! repaired as browsers do) and works on a flat copy of the tree, stored
//! in document order, so that every step below is a loop over an array
//! (no recursion, whatever the nesting depth):
//!
//! 1. **Furniture.** Each element gets a drop level, inherited by its
//!    descendants: `script`, `style`, `noscript`, `form`, `iframe`, `svg`,
//!    `button` and the like never hold article text; `nav`, `aside`,
//!    `footer` and elements whose `role`, `class` or `id` names furniture
//!    (`share`, `social`, `related`, `comments`, `menu`, `nav`, `footer`,
//!    `sidebar`, `advert`, `banner`, `subscribe`, `tags`, `breadcrumbs`,
//!    `promo`, `cookie`, … as whole words of the class, so `td-post-sharing`
//!    and `shareButtons` match but `shared` does not) are page furniture;
//!    `meta`, `author`, `date`, `category`, … boxes are dropped from the
//!    text but still searched for the date. A furniture class on an element
//!    that also names content (`content-sidebar-wrap`) and holds at least
//!    half of the page's paragraph text is a wrapper and kept. A `header`
//!    is furniture unless it sits inside an `article` and holds the `h1`.
//! 2. **Main block.** Readability-style scoring: every paragraph (`p`,
//!    `pre`, or a block without block children) of at least 20 letters
//!    scores `1 + commas + min(letters / 100, 3)`, added in full to its
//!    parent container (`article`, `main`, `div`, `section`, `td`,
//!    `body`), half to the grandparent, and `1 / (3 × level)` further up
//!    (up to five levels). Containers start with a bonus for `div` and ±25 for
//!    a content (`article`, `content`, `post`, …) or furniture class. Each
//!    score is scaled by `1 - link density` (the share of text inside
//!    `<a>`); the best container wins, moves up to its parent when the
//!    parent scores higher or the winner is its only non-empty child, and
//!    takes in siblings that score at least a fifth as well, or are long
//!    paragraphs with few links (the lead paragraph in its own block).
//! 3. **Text.** The chosen blocks are rendered in document order: every
//!    block element (`p`, `li`, `h2`–`h6`, `blockquote`, `div`, …) and
//!    every `<br>` ends a line, whitespace is collapsed, list items become
//!    `- …`, headings their own line. Skipped on the way: furniture, `h1`
//!    (the title), captions, and link-dense blocks (more than half of a
//!    container's or two thirds of a paragraph's text inside links: lists
//!    of other headlines), together with a short label line right before
//!    such a list (`Читайте також:`), which would otherwise end the
//!    article for the cleaner.
//! 4. **Metadata.** Title: JSON-LD `NewsArticle`/`Article` `headline`,
//!    else `og:title`, else the `h1` of the article block, else `<title>`
//!    without a trailing ` | Site` (or ` – Site` when the site is known or
//!    the suffix is a domain name). Date: JSON-LD `datePublished`, else
//!    `article:published_time` (or microdata `datePublished`), else the
//!    first `<time datetime>` (preferring the article block and text
//!    outside links), else a date line near the headline. ISO 8601 times
//!    keep the local date and time as written (`…T10:15:00+03:00` is
//!    10:15), as the text pages give them. Outlet: `og:site_name`, else
//!    the JSON-LD publisher.
//!
//! The text page starts with the outlet and a date line where the cleaner
//! will read them back (`Інтерфакс-Україна` / `2025-04-11 21:32`), then
//! the title, then one paragraph per line with blank lines between. Each
//! header layout is checked by running the cleaner on it with a dummy
//! body, and the next simpler one is used when it would not read back
//! (for instance a one-word title).
//!
//! Every step is linear in the size of the page. The HTML tree builder
//! is not on two kinds of input, so a linear scan before parsing
//! (`limit_depth`) removes the tags (never the text) of wrappers
//! nested more than 256 deep (the builder's time grows with the square
//! of the depth: 10 000 nested `div`s took 7 s) and of formatting
//! elements beyond three left open at once (the builder copies each into
//! every following paragraph: 1 MiB of them made 8.6 million nodes).
use super::clean::{self, collapse};
use super::meta::{is_domain_line, parse_date_line};
use crate::article::Published;
use crate::segment::is_space;
use regex::Regex;
use scraper::node::Element;
use scraper::{Html, Node as Dom};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// An HTML page rendered as a plain-text page, with the metadata read
/// from the markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPage {
    /// The page in the layout of the scraped text pages: outlet and date
    /// lines, the title, then one paragraph per line, blank lines between.
    pub text: String,
    pub title: Option<String>,
    pub published: Option<Published>,
    pub outlet: Option<String>,
}

/// Why an HTML page holds no article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("HTML page: no text at all")]
    Empty,
    #[error("HTML page: no article text found (the page holds navigation only)")]
    NavigationOnly,
}

/// How much of the start of a file [`looks_like_html`] searches for
/// `<html>`, `<head>` or `<body>`.
const SNIFF_BYTES: usize = 4096;

/// Whether decoded text is an HTML page rather than a text page: after a
/// byte-order mark, whitespace, comments and an XML declaration it opens
/// with `<!doctype html` or `<html`; or it opens with a tag and has an
/// `<html>`, `<head>` or `<body>` tag in its first 4 KiB; or a line there
/// opens with `<!doctype html` or `<html` (a saved response with headers
/// above the page). A text article quoting `<b>` or even `<body>` in its
/// prose is not HTML.
pub fn looks_like_html(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        let (open, close) = if rest.starts_with("<!--") {
            ("<!--", "-->")
        } else if rest.starts_with("<?") {
            ("<?", "?>")
        } else {
            break;
        };
        match rest[open.len()..].find(close) {
            Some(at) => rest = &rest[open.len() + at + close.len()..],
            None => return false,
        }
    }
    let mut end = rest.len().min(SNIFF_BYTES);
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    let head = rest[..end].to_ascii_lowercase();
    if head.starts_with("<!doctype html") || starts_with_tag(&head, "html") {
        return true;
    }
    let opens_with_tag = head.starts_with('<')
        && head[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '!');
    if opens_with_tag && ["html", "head", "body"].iter().any(|t| has_tag(&head, t)) {
        return true;
    }
    head.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("<!doctype html") || starts_with_tag(line, "html")
    })
}

/// Whether lower-case `s` opens with the tag `<name` (followed by `>`,
/// `/` or whitespace).
fn starts_with_tag(s: &str, name: &str) -> bool {
    s.strip_prefix('<')
        .and_then(|r| r.strip_prefix(name))
        .is_some_and(|r| r.starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace()))
}

fn has_tag(s: &str, name: &str) -> bool {
    s.match_indices('<')
        .any(|(at, _)| starts_with_tag(&s[at..], name))
}

/// The deepest nesting of wrapper elements (`div`, `span`, custom
/// elements) passed to the parser. The HTML tree builder checks the stack
/// of open elements on every tag, which makes its time grow with the
/// square of the nesting depth; real pages nest a few dozen levels.
const MAX_DEPTH: usize = 256;

/// Beyond [`MAX_DEPTH`], elements that structure text (`p`, `h1`, `li`,
/// `a`, …) still open up to this many more levels; then none do.
const MAX_EXTRA_DEPTH: usize = 64;

/// Whether an element only wraps others (its tags can go without losing
/// the text structure).
fn is_wrapper(name: &str) -> bool {
    matches!(
        tag_of(name),
        Tag::Div | Tag::Section | Tag::Main | Tag::Article
    ) || matches!(name, "span" | "font" | "center")
        || name.contains('-')
}

/// Elements without an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// Elements whose content is raw text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

/// The open elements an opening tag implicitly closes (`<li>` the `li`
/// before it), and those it closes on the way (inline elements always).
fn implied_ends(name: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    const CELLS: &[&str] = &["td", "th"];
    const ROWS: &[&str] = &["tr", "td", "th"];
    Some(match name {
        "p" => (&["p"], &[]),
        "li" => (&["li"], &[]),
        "dt" | "dd" => (&["dt", "dd"], &[]),
        "td" | "th" => (CELLS, &[]),
        "tr" => (&["tr"], CELLS),
        "thead" | "tbody" | "tfoot" => (&["thead", "tbody", "tfoot"], ROWS),
        "option" => (&["option"], &[]),
        "optgroup" => (&["optgroup", "option"], &[]),
        "rb" | "rt" | "rp" => (&["rb", "rt", "rp"], &[]),
        _ => return None,
    })
}

/// How far down the stack of open elements an end tag or an implied end
/// is looked for: further down, the tag is taken as stray.
const END_TAG_REACH: usize = 32;

/// Formatting elements, which the tree builder re-opens in every later
/// paragraph while they are left open (`<a>` is not counted: an `<a>`
/// closes the one before it).
const FORMATTING: &[&str] = &[
    "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// The most formatting elements left open at once: each open one is
/// copied into every following paragraph, so a page of `<b id=1>` …
/// `<b id=64>` followed by short paragraphs would multiply its size
/// (1 MiB → 8.6 million nodes). The extractor has no use for them but
/// their text; real pages nest two or three.
const MAX_FORMATTING: usize = 3;

/// `html` with the opening (and matching closing) tags of wrapper
/// elements nested deeper than `max`, of any element nested deeper than
/// `max` + [`MAX_EXTRA_DEPTH`], and of formatting elements beyond
/// [`MAX_FORMATTING`] open at once, removed, their text kept: a linear
/// scan that follows the nesting closely enough for this (comments,
/// raw-text elements, void elements, quoted attributes, the usual implied
/// end tags). Pages within the limits come back unchanged, without a copy.
fn limit_depth(html: &str, max: usize) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut suppressed: HashMap<String, usize> = HashMap::new();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut formatting: HashMap<String, usize> = HashMap::new();
    let mut formatting_open = 0usize;
    let find = |from: usize, pat: &[u8]| -> usize {
        b[from.min(b.len())..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map_or(b.len(), |p| from + p + pat.len())
    };
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let at = i + off;
        let rest = &b[at..];
        if rest.starts_with(b"<!--") {
            i = find(at + 4, b"-->");
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            i = find(at + 2, b">");
            continue;
        }
        let is_end = rest.get(1) == Some(&b'/');
        let name_start = at + if is_end { 2 } else { 1 };
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            i = at + 1;
            continue;
        }
        let mut name_end = name_start;
        while b
            .get(name_end)
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'/' | b'>'))
        {
            name_end += 1;
        }
        // The end of the tag, past quoted attribute values.
        let mut j = name_end;
        let mut quote = None;
        while j < b.len() {
            match (quote, b[j]) {
                (None, b'>') => break,
                (None, q @ (b'"' | b'\'')) => quote = Some(q),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            j += 1;
        }
        let tag_end = (j + 1).min(b.len());
        let name = html[name_start..name_end].to_ascii_lowercase();
        i = tag_end;
        if is_end {
            if let Some(n) = suppressed.get_mut(&name).filter(|n| **n > 0) {
                *n -= 1;
                cuts.push((at, tag_end));
                continue;
            }
            if let Some(n) = formatting.get_mut(&name).filter(|n| **n > 0) {
                *n -= 1;
                formatting_open -= 1;
            }
            if let Some(pos) = stack
                .iter()
                .rev()
                .take(END_TAG_REACH)
                .position(|n| *n == name)
            {
                stack.truncate(stack.len() - 1 - pos);
            }
            continue;
        }
        if VOID.contains(&name.as_str()) {
            continue;
        }
        if RAW_TEXT.contains(&name.as_str()) {
            // Skip the content up to `</name`, matched without regard to case.
            let close = format!("</{name}");
            let mut k = tag_end;
            i = b.len();
            while let Some(p) = b[k.min(b.len())..].iter().position(|&c| c == b'<') {
                let s = k + p;
                if b.len() - s >= close.len()
                    && b[s..s + close.len()].eq_ignore_ascii_case(close.as_bytes())
                {
                    i = s;
                    break;
                }
                k = s + 1;
            }
            continue;
        }
        if let Some((closes, through)) = implied_ends(&name) {
            for (pos, open) in stack.iter().rev().take(8).enumerate() {
                if closes.contains(&open.as_str()) {
                    stack.truncate(stack.len() - 1 - pos);
                    break;
                }
                // Inline elements, and the ones named, are closed on the way.
                if !through.contains(&open.as_str()) && is_block(tag_of(open)) {
                    break;
                }
            }
        }
        if stack.last().is_some_and(|t| t == "p") && is_block(tag_of(&name)) {
            stack.pop();
        }
        // The tree builder adds the `tbody` and `tr` a table row or cell
        // lacks.
        let parent = stack.last().map_or("", String::as_str);
        let implied: &[&str] = match (parent, name.as_str()) {
            ("table", "tr") => &["tbody"],
            ("table", "td" | "th") => &["tbody", "tr"],
            ("tbody" | "thead" | "tfoot", "td" | "th") => &["tr"],
            _ => &[],
        };
        stack.extend(implied.iter().map(|t| (*t).to_owned()));
        let is_formatting = FORMATTING.contains(&name.as_str());
        if stack.len() >= max + MAX_EXTRA_DEPTH
            || (stack.len() >= max && is_wrapper(&name))
            || (is_formatting && formatting_open >= MAX_FORMATTING)
        {
            *suppressed.entry(name).or_default() += 1;
            cuts.push((at, tag_end));
            continue;
        }
        if is_formatting {
            *formatting.entry(name.clone()).or_default() += 1;
            formatting_open += 1;
        }
        stack.push(name);
    }
    if cuts.is_empty() {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut from = 0;
    for (start, end) in cuts {
        out.push_str(&html[from..start]);
        from = end;
    }
    out.push_str(&html[from..]);
    Cow::Owned(out)
}

/// What an element is, as far as text extraction cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// A text node.
    Text,
    Html,
    Body,
    Title,
    Meta,
    Script,
    /// Never article text: `style`, `form`, `svg`, `head`, …
    Hard,
    /// `nav`, `aside`, `footer`, `menu`.
    Nav,
    Header,
    Article,
    Main,
    Div,
    Section,
    P,
    Li,
    /// `ul`, `ol`, `dl`.
    List,
    H1,
    /// `h2`–`h6`.
    Heading,
    Blockquote,
    Pre,
    /// `td`, `th`.
    Cell,
    /// `figcaption`, `caption`.
    Caption,
    Time,
    A,
    Br,
    /// Other block elements: each ends a line.
    Block,
    Inline,
}

fn tag_of(name: &str) -> Tag {
    match name {
        "html" => Tag::Html,
        "body" => Tag::Body,
        "title" => Tag::Title,
        "meta" => Tag::Meta,
        "script" => Tag::Script,
        "head" | "style" | "noscript" | "template" | "iframe" | "frame" | "frameset" | "svg"
        | "math" | "button" | "form" | "input" | "select" | "option" | "optgroup" | "textarea"
        | "label" | "canvas" | "object" | "embed" | "video" | "audio" | "picture" | "source"
        | "track" | "map" | "dialog" | "link" | "base" => Tag::Hard,
        "nav" | "aside" | "footer" | "menu" => Tag::Nav,
        "header" => Tag::Header,
        "article" => Tag::Article,
        "main" => Tag::Main,
        "div" => Tag::Div,
        "section" => Tag::Section,
        "p" => Tag::P,
        "li" => Tag::Li,
        "ul" | "ol" | "dl" => Tag::List,
        "h1" => Tag::H1,
        "h2" | "h3" | "h4" | "h5" | "h6" => Tag::Heading,
        "blockquote" => Tag::Blockquote,
        "pre" => Tag::Pre,
        "td" | "th" => Tag::Cell,
        "figcaption" | "caption" => Tag::Caption,
        "time" => Tag::Time,
        "a" => Tag::A,
        "br" => Tag::Br,
        "address" | "center" | "dd" | "dt" | "details" | "summary" | "fieldset" | "legend"
        | "figure" | "hgroup" | "hr" | "table" | "thead" | "tbody" | "tfoot" | "tr" => Tag::Block,
        _ => Tag::Inline,
    }
}

/// Whether the element ends a line of text.
fn is_block(tag: Tag) -> bool {
    !matches!(tag, Tag::Text | Tag::Inline | Tag::A | Tag::Time | Tag::Br)
}

/// Containers that may hold the article.
fn is_container(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::Article | Tag::Main | Tag::Div | Tag::Section | Tag::Cell | Tag::Body
    )
}

/// Paragraph-like elements: their link density is judged on the stricter
/// paragraph threshold.
fn is_paragraph(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::P | Tag::Li | Tag::Heading | Tag::Blockquote | Tag::Pre | Tag::Cell
    )
}

// Drop levels, inherited by descendants (the larger wins).
const KEEP: u8 = 0;
/// Boxes of metadata (`author`, `date`, …): not text, but searched for
/// the date.
const SOFT: u8 = 1;
/// A `header` outside the article: not text, but searched for the date.
const HEADER: u8 = 2;
/// Navigation, related lists, comments, advertising.
const NAV: u8 = 3;
/// Never text at all (scripts, styles, forms, hidden elements).
const HARD: u8 = 4;

/// Class and id words of page furniture (sorted: binary search).
const FURNITURE_WORDS: &[&str] = &[
    "ad",
    "ads",
    "adsbygoogle",
    "adv",
    "advert",
    "advertisement",
    "advertising",
    "adverts",
    "banner",
    "banners",
    "breadcrumb",
    "breadcrumbs",
    "comment",
    "comments",
    "consent",
    "cookie",
    "cookies",
    "footer",
    "gdpr",
    "menu",
    "modal",
    "nav",
    "navbar",
    "navigation",
    "newsletter",
    "outbrain",
    "popup",
    "promo",
    "recommendations",
    "recommended",
    "reklama",
    "related",
    "share",
    "sharing",
    "sidebar",
    "social",
    "socials",
    "sponsor",
    "sponsored",
    "subscribe",
    "subscription",
    "taboola",
    "tags",
];

/// Class and id words of metadata boxes (sorted).
const META_WORDS: &[&str] = &[
    "author",
    "authors",
    "byline",
    "caption",
    "categories",
    "category",
    "counter",
    "credit",
    "credits",
    "date",
    "datetime",
    "gallery",
    "info",
    "media",
    "meta",
    "print",
    "published",
    "rating",
    "rubric",
    "time",
    "toolbar",
    "tools",
    "views",
    "widget",
];

/// Class and id words of content (sorted).
const CONTENT_WORDS: &[&str] = &[
    "article", "blog", "body", "content", "entry", "hentry", "main", "page", "post", "story",
    "text",
];

/// Whole class names of hidden text.
const HIDDEN_CLASSES: &[&str] = &[
    "hidden",
    "sr-only",
    "visually-hidden",
    "visuallyhidden",
    "screen-reader-text",
    "d-none",
];

/// ARIA roles of page furniture.
const FURNITURE_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "menu",
    "menubar",
    "dialog",
    "alertdialog",
];

/// One node of the flat tree, in document order.
struct Node<'a> {
    parent: usize,
    /// One past the last descendant.
    end: usize,
    tag: Tag,
    el: Option<&'a Element>,
    /// The text of a text node.
    text: &'a str,
    drop: u8,
    in_link: bool,
    in_p: bool,
    in_article: bool,
    /// What its `class` and `id` say.
    class: ClassWords,
    /// The first `h1` in the subtree (raw tree, drops ignored).
    first_h1: usize,
    /// Letters (non-space characters) of paragraph text in the subtree,
    /// counting drops by tag only.
    p_chars: u32,
    /// Letters of kept text in the subtree, of which inside links, and
    /// commas (a page has at most 4 MiB).
    chars: u32,
    links: u32,
    commas: u32,
    /// Letters of text visible to the date search.
    meta_chars: u32,
    /// A block element among the kept descendants.
    has_block: bool,
    score: Option<f32>,
}

const NONE: usize = usize::MAX;

/// Parse `html` and render it as a text page.
pub fn to_text_page(html: &str) -> Result<TextPage, Unusable> {
    let doc = Html::parse_document(&limit_depth(html, MAX_DEPTH));
    let mut nodes = flatten(&doc);
    if nodes.iter().all(|n| n.text.chars().all(is_space)) {
        return Err(Unusable::Empty);
    }
    mark(&mut nodes);
    let meta = read_metadata(&nodes);
    let top = best_block(&mut nodes);
    let region = top.map_or(0, |t| article_region(&nodes, t));
    let roots = top.map(|t| block_roots(&nodes, t)).unwrap_or_default();
    let lines = render(&nodes, &roots);
    if lines.is_empty() {
        return Err(Unusable::NavigationOnly);
    }

    let site = meta.site.clone();
    let title = meta
        .ld_headline
        .as_deref()
        .or(meta.og_title.as_deref())
        .map(|t| strip_site(t, site.as_deref(), false))
        .or_else(|| {
            let h1 = nodes.get(region).map_or(NONE, |n| n.first_h1);
            (h1 != NONE)
                .then(|| collapse(&raw_text(&nodes, h1)))
                .filter(|t| !t.is_empty())
        })
        .or_else(|| {
            meta.title
                .as_deref()
                .map(|t| strip_site(t, site.as_deref(), true))
        })
        .filter(|t| !t.is_empty());
    let published = meta
        .ld_date
        .as_deref()
        .and_then(parse_stamp)
        .or_else(|| meta.published_time.as_deref().and_then(parse_stamp))
        .map(|stamp| local_time(&nodes, stamp))
        .or_else(|| time_element(&nodes, region))
        .or_else(|| date_line_near(&nodes, region));

    let mut text = header(title.as_deref(), published.as_ref(), site.as_deref());
    for line in &lines {
        if line.bullet {
            text.push_str("- ");
        }
        text.push_str(&line.text);
        text.push_str("\n\n");
    }
    Ok(TextPage {
        text,
        title,
        published,
        outlet: site,
    })
}

/// Copy the parsed tree into a flat array in document order.
fn flatten(doc: &Html) -> Vec<Node<'_>> {
    let mut nodes: Vec<Node<'_>> = Vec::new();
    // The open ancestors of the current node: (tree node, index).
    let mut stack = Vec::new();
    for node in doc.tree.root().descendants() {
        let (tag, el, text) = match node.value() {
            Dom::Element(e) => (tag_of(e.name()), Some(e), ""),
            Dom::Text(t) => (Tag::Text, None, &**t),
            _ => continue,
        };
        let parent_ref = node.parent();
        while let Some(&(top, _)) = stack.last() {
            if Some(top) == parent_ref {
                break;
            }
            stack.pop();
        }
        let parent = stack.last().map_or(NONE, |&(_, i)| i);
        let index = nodes.len();
        let (in_link, in_p, in_article) = match nodes.get(parent) {
            Some(p) => (
                p.in_link || p.tag == Tag::A,
                p.in_p || p.tag == Tag::P,
                p.in_article || p.tag == Tag::Article,
            ),
            None => (false, false, false),
        };
        nodes.push(Node {
            parent,
            end: index + 1,
            tag,
            el,
            text,
            drop: KEEP,
            in_link,
            in_p,
            in_article,
            class: el.map(ClassWords::of).unwrap_or_default(),
            first_h1: NONE,
            p_chars: 0,
            chars: 0,
            links: 0,
            commas: 0,
            meta_chars: 0,
            has_block: false,
            score: None,
        });
        if el.is_some() {
            stack.push((node, index));
        }
    }
    nodes
}

/// Counts fit: a page has at most 4 MiB.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn letters(s: &str) -> u32 {
    count(s.chars().filter(|&c| !is_space(c)).count())
}

fn commas(s: &str) -> u32 {
    count(s.chars().filter(|&c| matches!(c, ',' | '，' | '،')).count())
}

/// Subtree ends, first `h1`s, drop levels and text statistics.
fn mark(nodes: &mut [Node<'_>]) {
    let n = nodes.len();
    // Bottom-up over the raw tree: ends, first h1, paragraph letters.
    for i in (0..n).rev() {
        let tag = nodes[i].tag;
        if tag == Tag::H1 {
            nodes[i].first_h1 = i;
        }
        if tag == Tag::Text && nodes[i].in_p {
            nodes[i].p_chars = letters(nodes[i].text);
        }
        let hard = matches!(tag, Tag::Hard | Tag::Script | Tag::Title | Tag::Nav);
        let p = nodes[i].parent;
        if p != NONE {
            let (end, h1, pc) = (nodes[i].end, nodes[i].first_h1, nodes[i].p_chars);
            let parent = &mut nodes[p];
            parent.end = parent.end.max(end);
            if h1 != NONE {
                // Earlier siblings come later in this loop and win.
                parent.first_h1 = h1;
            }
            if !hard {
                parent.p_chars += pc;
            }
        }
    }
    // Top-down: drop levels.
    let page_p_chars = nodes.first().map_or(0, |n| n.p_chars);
    for i in 0..n {
        let inherited = nodes.get(nodes[i].parent).map_or(KEEP, |p| p.drop);
        let own = if inherited == HARD {
            HARD
        } else {
            own_drop(&nodes[i], page_p_chars)
        };
        nodes[i].drop = inherited.max(own);
    }
    // Bottom-up over kept text: letters, links, commas, block children.
    for i in (0..n).rev() {
        let node = &mut nodes[i];
        if node.tag == Tag::Text {
            let l = letters(node.text);
            if node.drop <= HEADER {
                node.meta_chars = l;
            }
            if node.drop == KEEP {
                node.chars = l;
                node.links = if node.in_link { l } else { 0 };
                node.commas = commas(node.text);
            }
        }
        let p = node.parent;
        if p == NONE {
            continue;
        }
        let (drop, tag) = (node.drop, node.tag);
        let (chars, links, cm, mc, hb) = (
            node.chars,
            node.links,
            node.commas,
            node.meta_chars,
            node.has_block,
        );
        let parent = &mut nodes[p];
        if drop <= HEADER {
            parent.meta_chars += mc;
        }
        if drop == KEEP {
            parent.chars += chars;
            parent.links += links;
            parent.commas += cm;
            parent.has_block |= hb || is_block(tag);
        }
    }
}

/// The drop level an element sets for itself.
fn own_drop(node: &Node<'_>, page_p_chars: u32) -> u8 {
    let Some(el) = node.el else {
        return KEEP;
    };
    match node.tag {
        Tag::Hard | Tag::Script | Tag::Title | Tag::Meta => return HARD,
        Tag::Nav => return NAV,
        _ => {}
    }
    if el.attr("hidden").is_some()
        || el
            .attr("aria-hidden")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || el.attr("style").is_some_and(hides)
        || hidden_by_class(el)
    {
        return HARD;
    }
    if matches!(node.tag, Tag::Html | Tag::Body | Tag::Main) {
        return KEEP;
    }
    if el.attr("role").is_some_and(|r| {
        FURNITURE_ROLES
            .iter()
            .any(|f| r.trim().eq_ignore_ascii_case(f))
    }) {
        return NAV;
    }
    let class = node.class;
    let wrapper = class.content && node.p_chars * 2 >= page_p_chars && node.p_chars > 0;
    let level = if class.furniture && !wrapper {
        NAV
    } else if class.meta && !wrapper {
        SOFT
    } else {
        KEEP
    };
    if node.tag == Tag::Header && !(node.in_article && node.first_h1 != NONE) {
        return level.max(HEADER);
    }
    level
}

/// Whether a class hides the element on every screen: `hidden` and
/// `d-none` next to a class that shows it on some (`md:block`,
/// `d-md-block`) do not.
fn hidden_by_class(el: &Element) -> bool {
    let hidden = el
        .classes()
        .any(|c| HIDDEN_CLASSES.iter().any(|h| c.eq_ignore_ascii_case(h)));
    hidden
        && !el
            .classes()
            .any(|c| c.contains(':') || (c.starts_with("d-") && c != "d-none"))
}

/// Whether an inline style hides the element.
fn hides(style: &str) -> bool {
    let s: String = style
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    s.contains("display:none") || s.contains("visibility:hidden")
}

/// What the words of an element's `class` and `id` say.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ClassWords {
    furniture: bool,
    meta: bool,
    content: bool,
}

impl ClassWords {
    fn of(el: &Element) -> Self {
        let mut out = ClassWords::default();
        if el.attrs().next().is_none() {
            return out;
        }
        for attr in [el.attr("class"), el.attr("id")].into_iter().flatten() {
            for_each_word(attr, |w| {
                out.furniture |= FURNITURE_WORDS.binary_search(&w).is_ok();
                out.meta |= META_WORDS.binary_search(&w).is_ok();
                out.content |= CONTENT_WORDS.binary_search(&w).is_ok();
            });
        }
        out
    }

    fn weight(self) -> f32 {
        let mut w = 0.0;
        if self.content {
            w += 25.0;
        }
        if self.furniture || self.meta {
            w -= 25.0;
        }
        w
    }
}

/// Call `f` with each lower-case word of a class or id value: words are
/// separated by anything but letters and digits, and by a lower-case to
/// upper-case step (`shareButtons`).
fn for_each_word(s: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        let boundary = !c.is_alphanumeric() || (prev_lower && c.is_uppercase());
        if boundary && !word.is_empty() {
            f(&word);
            word.clear();
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        prev_lower = c.is_lowercase();
    }
    if !word.is_empty() {
        f(&word);
    }
}

fn link_density(n: &Node<'_>) -> f32 {
    if n.chars == 0 {
        0.0
    } else {
        n.links as f32 / n.chars as f32
    }
}

/// Score the containers and pick the best one (its score scaled by link
/// density is left in `score`).
fn best_block(nodes: &mut [Node<'_>]) -> Option<usize> {
    for i in 0..nodes.len() {
        let n = &nodes[i];
        let paragraph = n.tag == Tag::P
            || n.tag == Tag::Pre
            || (matches!(
                n.tag,
                Tag::Div | Tag::Section | Tag::Cell | Tag::Block | Tag::Article
            ) && !n.has_block);
        if n.drop != KEEP || !paragraph || n.chars < 20 {
            continue;
        }
        let s = 1.0 + n.commas as f32 + (n.chars / 100).min(3) as f32;
        let mut a = n.parent;
        let mut level = 0;
        while a != NONE && level < 5 {
            if is_container(nodes[a].tag) {
                let divider = match level {
                    0 => 1.0,
                    1 => 2.0,
                    l => l as f32 * 3.0,
                };
                let base = match nodes[a].tag {
                    Tag::Div => 5.0,
                    Tag::Cell => 3.0,
                    _ => 0.0,
                };
                let weight = nodes[a].class.weight();
                let score = nodes[a].score.get_or_insert(base + weight);
                *score += s / divider;
            }
            a = nodes[a].parent;
            level += 1;
        }
    }
    let mut best: Option<(usize, f32)> = None;
    for (i, n) in nodes.iter_mut().enumerate() {
        let density = link_density(n);
        if let Some(s) = n.score.as_mut() {
            *s *= 1.0 - density;
            if best.is_none_or(|(_, b)| *s > b) {
                best = Some((i, *s));
            }
        }
    }
    let Some((mut top, _)) = best else {
        // No paragraph anywhere: the body, if it holds kept text.
        return nodes
            .iter()
            .position(|n| n.tag == Tag::Body)
            .filter(|&b| nodes[b].chars > 0);
    };

    // A parent scoring higher holds more of the article.
    let mut last = nodes[top].score.unwrap_or(0.0);
    let threshold = last / 3.0;
    let mut p = nodes[top].parent;
    while p != NONE && nodes[p].tag != Tag::Body && nodes[p].tag != Tag::Html {
        if let Some(s) = nodes[p].score {
            if s < threshold {
                break;
            }
            if s > last {
                top = p;
                break;
            }
            last = s;
        }
        p = nodes[p].parent;
    }
    // The only child with text stands for its parent.
    loop {
        let p = nodes[top].parent;
        if p == NONE || !is_container(nodes[p].tag) || nodes[p].tag == Tag::Body {
            break;
        }
        let with_text = children(nodes, p)
            .filter(|&c| nodes[c].drop == KEEP && nodes[c].chars > 0)
            .count();
        if with_text != 1 {
            break;
        }
        top = p;
    }
    Some(top)
}

/// The element and text children of `i`.
fn children<'n>(nodes: &'n [Node<'_>], i: usize) -> impl Iterator<Item = usize> + 'n {
    let end = nodes[i].end;
    let mut c = i + 1;
    std::iter::from_fn(move || {
        if c >= end {
            return None;
        }
        let here = c;
        c = nodes[c].end;
        Some(here)
    })
}

/// The blocks to render: the best one and those of its siblings that
/// belong to the article too.
fn block_roots(nodes: &[Node<'_>], top: usize) -> Vec<usize> {
    let parent = nodes[top].parent;
    if parent == NONE || nodes[top].tag == Tag::Body {
        return vec![top];
    }
    let top_score = nodes[top].score.unwrap_or(0.0);
    let threshold = (top_score * 0.2).max(10.0);
    let top_class = nodes[top].el.and_then(|e| e.attr("class")).unwrap_or("");
    children(nodes, parent)
        .filter(|&c| {
            let n = &nodes[c];
            if c == top {
                return true;
            }
            if n.drop != KEEP || n.el.is_none() {
                return false;
            }
            let bonus = match n.el.and_then(|e| e.attr("class")) {
                Some(class) if !top_class.is_empty() && class == top_class => top_score * 0.2,
                _ => 0.0,
            };
            if n.score.is_some_and(|s| s + bonus >= threshold) {
                return true;
            }
            if n.tag != Tag::P {
                return false;
            }
            let density = link_density(n);
            if n.chars > 80 {
                density < 0.25
            } else {
                let text = raw_text(nodes, c);
                let text = text.trim_end();
                n.chars > 0 && density == 0.0 && (text.contains(". ") || text.ends_with('.'))
            }
        })
        .collect()
}

/// The lowest ancestor-or-self of the article block that holds an `h1`:
/// where its title, time and date line are looked for.
fn article_region(nodes: &[Node<'_>], top: usize) -> usize {
    let mut a = top;
    while a != NONE {
        if nodes[a].first_h1 != NONE {
            return a;
        }
        a = nodes[a].parent;
    }
    top
}

/// The text of the subtree of `i`, without scripts, styles and the like.
fn raw_text(nodes: &[Node<'_>], i: usize) -> String {
    subtree_text(nodes, i, |n| {
        !matches!(n.tag, Tag::Hard | Tag::Script | Tag::Title | Tag::Meta)
    })
}

/// The text of the subtree of `i`, entering only the elements `enter`
/// accepts.
fn subtree_text(nodes: &[Node<'_>], i: usize, enter: impl Fn(&Node<'_>) -> bool) -> String {
    let mut out = String::new();
    let end = nodes[i].end;
    let mut j = i + 1;
    while j < end {
        let n = &nodes[j];
        if n.tag == Tag::Text {
            out.push_str(n.text);
            j += 1;
        } else if enter(n) {
            if n.tag == Tag::Br || (is_block(n.tag) && !out.ends_with(' ')) {
                out.push(' ');
            }
            j += 1;
        } else {
            j = n.end;
        }
    }
    out
}

/// One rendered line of the article.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: String,
    bullet: bool,
}

/// Render the blocks as lines, in document order.
fn render(nodes: &[Node<'_>], roots: &[usize]) -> Vec<Line> {
    let mut r = Renderer {
        lines: Vec::new(),
        buf: String::new(),
        open: Vec::new(),
    };
    for &root in roots {
        let end = nodes[root].end;
        r.open.push(root);
        let mut i = root + 1;
        while i < end {
            r.close_until(nodes, i);
            let n = &nodes[i];
            if n.tag == Tag::Text {
                if n.drop == KEEP {
                    r.buf.push_str(n.text);
                }
                i += 1;
                continue;
            }
            if n.tag == Tag::Br {
                r.flush(nodes);
                i += 1;
                continue;
            }
            let dense =
                n.chars > 0 && link_density(n) > if is_paragraph(n.tag) { 2.0 / 3.0 } else { 0.5 };
            if n.drop != KEEP
                || n.tag == Tag::H1
                || n.tag == Tag::Caption
                || (dense && is_block(n.tag))
            {
                if is_block(n.tag) {
                    r.flush(nodes);
                }
                if dense && n.drop == KEEP {
                    r.drop_label();
                }
                i = n.end;
                continue;
            }
            if is_block(n.tag) {
                r.flush(nodes);
                r.open.push(i);
            }
            i += 1;
        }
        r.close_until(nodes, usize::MAX);
    }
    r.lines
}

struct Renderer {
    lines: Vec<Line>,
    /// Text of the line being assembled.
    buf: String,
    /// The open block elements.
    open: Vec<usize>,
}

impl Renderer {
    /// Close the open blocks that end before node `i`.
    fn close_until(&mut self, nodes: &[Node<'_>], i: usize) {
        while let Some(&b) = self.open.last() {
            if i < nodes[b].end {
                break;
            }
            self.flush(nodes);
            self.open.pop();
        }
    }

    fn flush(&mut self, nodes: &[Node<'_>]) {
        let text = collapse(&self.buf);
        self.buf.clear();
        if text.is_empty() {
            return;
        }
        let bullet = self
            .open
            .iter()
            .rev()
            .map(|&b| nodes[b].tag)
            .find(|t| matches!(t, Tag::Li | Tag::Heading | Tag::Cell))
            == Some(Tag::Li);
        let text = if bullet {
            strip_marker(&text).to_owned()
        } else {
            text
        };
        if !text.is_empty() {
            self.lines.push(Line { text, bullet });
        }
    }

    /// A list of links is being skipped: a label right before it
    /// (`Читайте також:`) goes with it.
    fn drop_label(&mut self) {
        if !self.buf.trim_matches(is_space).is_empty() {
            if is_label(&collapse(&self.buf)) {
                self.buf.clear();
            }
            return;
        }
        if self
            .lines
            .last()
            .is_some_and(|l| !l.bullet && is_label(&l.text))
        {
            self.lines.pop();
        }
    }
}

/// A short line without final punctuation that introduces what follows.
fn is_label(s: &str) -> bool {
    s.chars().count() <= 60
        && s.split(is_space).filter(|w| !w.is_empty()).count() <= 6
        && !s.ends_with(['.', '!', '?', '…', '»', '"', '”', ')', ';'])
}

/// A list item's own bullet (`• `) is dropped: the text page marks items
/// with `- `.
fn strip_marker(s: &str) -> &str {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some('-' | '•' | '*' | '·' | '▪' | '●' | '◦'), Some(' ')) => {
            chars.as_str().trim_start()
        }
        _ => s,
    }
}

/// Metadata from `<title>`, `<meta>` and JSON-LD.
#[derive(Debug, Default)]
struct Metadata {
    title: Option<String>,
    og_title: Option<String>,
    site: Option<String>,
    published_time: Option<String>,
    ld_headline: Option<String>,
    ld_date: Option<String>,
}

fn read_metadata(nodes: &[Node<'_>]) -> Metadata {
    let mut m = Metadata::default();
    let mut ld_publisher = None;
    let mut itemprop_date = None;
    for (i, n) in nodes.iter().enumerate() {
        let Some(el) = n.el else { continue };
        match n.tag {
            Tag::Title if m.title.is_none() => {
                let t = collapse(&subtree_text(nodes, i, |_| false));
                m.title = Some(t).filter(|t| !t.is_empty());
            }
            Tag::Meta => {
                let Some(content) = el.attr("content").map(collapse).filter(|c| !c.is_empty())
                else {
                    continue;
                };
                for key in [el.attr("property"), el.attr("name"), el.attr("itemprop")]
                    .into_iter()
                    .flatten()
                {
                    let slot = match key.trim().to_ascii_lowercase().as_str() {
                        "og:title" => &mut m.og_title,
                        "og:site_name" => &mut m.site,
                        "article:published_time" => &mut m.published_time,
                        "datepublished" => &mut itemprop_date,
                        _ => continue,
                    };
                    slot.get_or_insert_with(|| content.clone());
                }
            }
            Tag::Time
                if itemprop_date.is_none()
                    && el
                        .attr("itemprop")
                        .is_some_and(|p| p.trim().eq_ignore_ascii_case("datepublished")) =>
            {
                itemprop_date = el.attr("datetime").map(str::to_owned);
            }
            Tag::Script if m.ld_headline.is_none() || m.ld_date.is_none() => {
                let is_ld = el.attr("type").is_some_and(|t| {
                    t.trim()
                        .to_ascii_lowercase()
                        .starts_with("application/ld+json")
                });
                if !is_ld {
                    continue;
                }
                let json = subtree_text(nodes, i, |_| false);
                if let Some(a) = json_ld_article(&json) {
                    if m.ld_headline.is_none() && m.ld_date.is_none() {
                        m.ld_headline = a.headline;
                        m.ld_date = a.date;
                        ld_publisher = ld_publisher.or(a.publisher);
                    }
                }
            }
            _ => {}
        }
    }
    m.site = m.site.or(ld_publisher);
    m.published_time = m.published_time.or(itemprop_date);
    m
}

#[derive(Debug, Default, PartialEq, Eq)]
struct LdArticle {
    headline: Option<String>,
    date: Option<String>,
    publisher: Option<String>,
}

/// The first article object (`NewsArticle`, `Article`, `BlogPosting`, …)
/// in a JSON-LD block, looked for through arrays, `@graph` and nested
/// objects.
fn json_ld_article(json: &str) -> Option<LdArticle> {
    let value: serde_json::Value = serde_json::from_str(json.trim())
        .or_else(|_| {
            // Raw line breaks inside strings are a common CMS slip.
            let flat: String = json
                .trim()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            serde_json::from_str(flat.trim_end_matches(';'))
        })
        .ok()?;
    let mut stack = vec![&value];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
            serde_json::Value::Object(map) => {
                if map.get("@type").is_some_and(is_article_type) {
                    let s = |key: &str| ld_string(map.get(key)?).filter(|s| !s.is_empty());
                    let publisher = map.get("publisher").and_then(|p| match p {
                        serde_json::Value::Array(a) => a.first(),
                        other => Some(other),
                    });
                    let a = LdArticle {
                        headline: s("headline").or_else(|| s("name")),
                        date: s("datePublished"),
                        publisher: publisher
                            .and_then(|p| ld_string(p.get("name")?))
                            .filter(|s| !s.is_empty()),
                    };
                    if a.headline.is_some() || a.date.is_some() {
                        return Some(a);
                    }
                }
                stack.extend(map.values().rev());
            }
            _ => {}
        }
    }
    None
}

fn is_article_type(t: &serde_json::Value) -> bool {
    let one = |s: &str| {
        let name = s.rsplit(['/', ':', '#']).next().unwrap_or(s);
        name.ends_with("Article")
            || matches!(name, "BlogPosting" | "LiveBlogPosting" | "ReportageNews")
    };
    match t {
        serde_json::Value::String(s) => one(s),
        serde_json::Value::Array(a) => a.iter().any(|v| v.as_str().is_some_and(one)),
        _ => false,
    }
}

/// A JSON-LD text value, with HTML entities and tags some CMSs leave in
/// it decoded, whitespace collapsed.
fn ld_string(v: &serde_json::Value) -> Option<String> {
    let s = match v {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Array(a) => a.first()?.as_str()?,
        _ => return None,
    };
    if !s.contains(['&', '<']) {
        return Some(collapse(s));
    }
    let fragment = Html::parse_fragment(s);
    let text: String = fragment.root_element().text().collect();
    Some(collapse(&text))
}

/// `title` without the site name the page appends (`… | Інтерфакс-Україна`,
/// `… – Leopolis.news`) or prepends. For `<title>` (`loose`), anything
/// after ` | ` goes, and a ` – ` suffix that is a domain name too.
fn strip_site(title: &str, site: Option<&str>, loose: bool) -> String {
    let title = collapse(title);
    let mut t = title.as_str();
    const SEPARATORS: &[&str] = &[" | ", " - ", " – ", " — ", " :: ", " / ", " • "];
    if let Some(site) = site.map(collapse).filter(|s| !s.is_empty()) {
        let site_lower = site.to_lowercase();
        for sep in SEPARATORS {
            if let Some((head, tail)) = t.rsplit_once(sep) {
                if tail.to_lowercase() == site_lower && !head.trim().is_empty() {
                    t = head;
                    break;
                }
            }
            if let Some((head, tail)) = t.split_once(sep) {
                if head.to_lowercase() == site_lower && !tail.trim().is_empty() {
                    t = tail;
                    break;
                }
            }
        }
    }
    if loose {
        if let Some(longest) = t.split(" | ").max_by_key(|s| s.chars().count()) {
            t = longest;
        }
        for sep in [" - ", " – ", " — "] {
            if let Some((head, tail)) = t.rsplit_once(sep) {
                if is_domain_line(tail.trim()) && !head.trim().is_empty() {
                    t = head;
                }
            }
        }
    }
    t.trim().to_owned()
}

/// `2025-04-23`, `2025-04-23T10:15`, `2025-04-23T10:15:00+03:00`,
/// `2025-04-23 10:15:00.000Z`: the date and time as written (no time
/// zone conversion), and the offset where one is given.
static ISO_DATETIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::\d{2}(?:[.,]\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$")
        .expect("valid regex")
});

/// A machine-readable date: the date and time as written, and the
/// offset from UTC in minutes where the value gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    published: Published,
    offset: Option<i64>,
}

impl Stamp {
    /// Minutes since 1970-01-01 00:00 UTC, for values with a time and an
    /// offset.
    fn instant(&self) -> Option<i64> {
        let offset = self.offset?;
        let time = self.published.time.as_deref()?;
        let num = |s: &str| s.parse::<i64>().ok();
        let days = crate::calendar::Date::parse_iso(&self.published.date)?.to_days();
        let (hh, mm) = time.split_once(':')?;
        Some(days * 1440 + num(hh)? * 60 + num(mm)? - offset)
    }
}

/// Parse a machine-readable date (`datetime`, `content`, JSON-LD), or
/// failing that any date line [`parse_date_line`] reads.
fn parse_stamp(s: &str) -> Option<Stamp> {
    let s = collapse(s);
    if let Some(c) = ISO_DATETIME.captures(&s) {
        let line = match (c.get(4), c.get(5)) {
            (Some(h), Some(m)) => format!(
                "{}-{}-{} {:0>2}:{}",
                &c[1],
                &c[2],
                &c[3],
                h.as_str(),
                m.as_str()
            ),
            _ => format!("{}-{}-{}", &c[1], &c[2], &c[3]),
        };
        let offset = c.get(6).and_then(|o| {
            let o = o.as_str();
            if o.len() <= 3 && o.chars().all(|c| c.is_ascii_alphabetic()) {
                return Some(0);
            }
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let digits: String = o.chars().filter(char::is_ascii_digit).collect();
            let hh: i64 = digits.get(..2)?.parse().ok()?;
            let mm: i64 = digits
                .get(2..)
                .filter(|m| !m.is_empty())
                .map_or(Some(0), |m| m.parse().ok())?;
            Some(sign * (hh * 60 + mm))
        });
        return parse_date_line(&line).map(|d| Stamp {
            published: d.published,
            offset,
        });
    }
    if s.chars().count() > 80 {
        return None;
    }
    parse_date_line(&s).map(|d| Stamp {
        published: d.published,
        offset: None,
    })
}

fn parse_datetime(s: &str) -> Option<Published> {
    parse_stamp(s).map(|s| s.published)
}

/// The publication time as the page's readers see it: a time given in
/// UTC (as some CMS plugins write their metadata) is replaced by a
/// `<time>` of the page that gives the same instant with a local offset.
fn local_time(nodes: &[Node<'_>], stamp: Stamp) -> Published {
    if stamp.offset != Some(0) {
        return stamp.published;
    }
    let Some(instant) = stamp.instant() else {
        return stamp.published;
    };
    nodes
        .iter()
        .filter(|n| n.tag == Tag::Time)
        .filter_map(|n| parse_stamp(n.el?.attr("datetime")?))
        .find(|t| t.offset.is_some_and(|o| o != 0) && t.instant() == Some(instant))
        .map_or(stamp.published, |t| t.published)
}

/// The first `<time>` with a readable date: inside the article region and
/// outside links first, then anywhere outside furniture, then anywhere.
fn time_element(nodes: &[Node<'_>], region: usize) -> Option<Published> {
    let in_region = |i: usize| nodes.get(region).is_some_and(|r| i > region && i < r.end);
    let mut tiers: [Option<Published>; 3] = [None, None, None];
    for (i, n) in nodes.iter().enumerate() {
        if n.tag != Tag::Time {
            continue;
        }
        let Some(el) = n.el else { continue };
        let tier = if n.drop <= HEADER && !n.in_link && in_region(i) {
            0
        } else if n.drop <= HEADER {
            1
        } else {
            2
        };
        if tiers[..=tier].iter().any(Option::is_some) {
            continue;
        }
        let parsed = el
            .attr("datetime")
            .and_then(parse_datetime)
            .or_else(|| parse_datetime(&raw_text(nodes, i)));
        if parsed.is_some() {
            tiers[tier] = parsed;
            if tier == 0 {
                break;
            }
        }
    }
    tiers.into_iter().flatten().next()
}

/// A date line (`07.05.2025`, `21:32 11.04.2025`) standing as the whole
/// text of an element: the first one in the article region, else the
/// last one before it within the two blocks around it (a date printed
/// above the article), never further out (a site header showing today's
/// date).
fn date_line_near(nodes: &[Node<'_>], region: usize) -> Option<Published> {
    let mut hits: Vec<(usize, Published)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.el.is_none() || n.drop > HEADER || !(6..=80).contains(&n.meta_chars) {
            continue;
        }
        // Only the outermost element with this text.
        if nodes
            .get(n.parent)
            .is_some_and(|p| p.meta_chars == n.meta_chars)
        {
            continue;
        }
        let text = collapse(&subtree_text(nodes, i, |m| m.drop <= HEADER));
        if let Some(d) = parse_date_line(&text).filter(|d| d.rest.is_none()) {
            hits.push((i, d.published));
        }
    }
    let r = nodes.get(region)?;
    let inside = |a: usize, i: usize| i >= a && i < nodes[a].end;
    if let Some((_, d)) = hits.iter().find(|(i, _)| inside(region, *i)) {
        return Some(d.clone());
    }
    let mut scope = r.parent;
    for _ in 0..2 {
        if scope == NONE || matches!(nodes[scope].tag, Tag::Body | Tag::Html) {
            break;
        }
        if let Some((_, d)) = hits
            .iter()
            .rev()
            .find(|(i, _)| inside(scope, *i) && *i < region)
        {
            return Some(d.clone());
        }
        scope = nodes[scope].parent;
    }
    None
}

/// The head of the text page: outlet, date and title lines in the first
/// layout the cleaner reads back as intended.
fn header(title: Option<&str>, published: Option<&Published>, site: Option<&str>) -> String {
    let title_line = title.map(|t| format!("\n{t}")).unwrap_or_default();
    let mut layouts: Vec<(String, bool)> = Vec::new();
    if let Some(p) = published {
        let date = match &p.time {
            Some(t) => format!("{} {t}", p.date),
            None => p.date.clone(),
        };
        if let Some(site) = site {
            // `Інтерфакс-Україна` / `2025-04-11 21:32` / title
            layouts.push((format!("{site}\n{date}\n{title_line}"), true));
        }
        layouts.push((format!("{date}\n{title_line}"), false));
        if let Some(t) = title {
            // The header of exported pages takes any title.
            let stamp = match &p.time {
                Some(time) => format!("{}T{time}", p.date),
                None => p.date.clone(),
            };
            layouts.push((format!(" date {stamp} {t}"), false));
        }
    }
    if let Some(t) = title {
        layouts.push((t.to_owned(), false));
    }
    for (layout, with_site) in &layouts {
        // Without a title the cleaner takes the first paragraph for one.
        let body = if title.is_some() {
            "Текст статті для перевірки."
        } else {
            "Перший абзац статті.\n\nДругий абзац статті."
        };
        let probe = format!("{layout}\n\n{body}\n");
        let Ok(c) = clean::clean(&probe) else {
            continue;
        };
        let title_ok = title.is_none_or(|t| c.title == t);
        let date_ok = c.published.as_ref() == published;
        let site_ok = !with_site || c.outlet.as_deref() == site;
        if title_ok && date_ok && site_ok && c.blocks.len() == 1 {
            return format!("{layout}\n\n");
        }
    }
    // No layout reads back (a one-word title, say): the title line alone;
    // the metadata read from the markup is kept regardless.
    title.map(|t| format!("{t}\n\n")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: &str = "Міністр оборони України провів зустріч із партнерами у Брюсселі, де сторони обговорили постачання систем ППО.";
    const P2: &str = "Окремо йшлося про фінансування оборонної промисловості, спільне виробництво та санкції проти Росії.";

    fn page(head: &str, body: &str) -> TextPage {
        let html = format!(
            "<!DOCTYPE html><html><head><meta charset=utf-8>{head}</head><body>{body}</body></html>"
        );
        to_text_page(&html).unwrap_or_else(|e| panic!("{e}: {html}"))
    }

    fn article(inner: &str) -> String {
        format!("<article><h1>Заголовок статті з сайту</h1><div class=\"content\"><p>{P1}</p>{inner}<p>{P2}</p></div></article>")
    }

    /// The body lines of a text page (after the header).
    fn body_lines(p: &TextPage) -> Vec<String> {
        let title = p.title.clone().unwrap_or_default();
        p.text
            .split("\n\n")
            .flat_map(|b| b.lines())
            .map(str::to_owned)
            .skip_while(|l| *l != title)
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect()
    }

    #[test]
    fn html_is_told_from_text() {
        for html in [
            "<!DOCTYPE html><html><body>x</body></html>",
            "<!doctype HTML>\n<title>x</title>",
            "\u{feff}  <!-- saved from url=(0042)https://example.com -->\n<html lang=uk><p>x",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"x\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\">",
            "<HTML><HEAD><TITLE>x</TITLE></HEAD>",
            "<meta charset=utf-8><title>Новина</title>\n<body><p>Текст</p>",
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<!DOCTYPE html>\n<html>",
        ] {
            assert!(looks_like_html(html), "{html:?}");
        }
        for text in [
            "Заголовок новини\n\nТег <b> робить текст жирним.",
            "<b>Увага!</b> Сьогодні у Києві відключення світла.\n\nДругий абзац.",
            "Розробники пояснили, що <body> і <html> — це теги розмітки.",
            "Інтерфакс-Україна\n21:32 11.04.2025\n\nЗаголовок",
            "<!-- unterminated comment <html>",
            "",
            "<",
        ] {
            assert!(!looks_like_html(text), "{text:?}");
        }
    }

    #[test]
    fn class_words() {
        let words = |s: &str| {
            let mut out = Vec::new();
            for_each_word(s, |w| out.push(w.to_owned()));
            out
        };
        assert_eq!(
            words("td-post-sharing-top"),
            ["td", "post", "sharing", "top"]
        );
        assert_eq!(
            words("shareButtons article__related"),
            ["share", "buttons", "article", "related"]
        );
        assert_eq!(words("Реклама_блок"), ["реклама", "блок"]);
        for list in [FURNITURE_WORDS, META_WORDS, CONTENT_WORDS] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "{list:?} must be sorted"
            );
        }
        assert!(FURNITURE_WORDS.binary_search(&"share").is_ok());
        assert!(FURNITURE_WORDS.binary_search(&"shared").is_err());
    }

    #[test]
    fn site_names_come_off_titles() {
        let site = Some("Інтерфакс-Україна");
        assert_eq!(
            strip_site("Умєров про зустріч | Інтерфакс-Україна", site, false),
            "Умєров про зустріч"
        );
        assert_eq!(
            strip_site("Інтерфакс-Україна - Умєров про зустріч", site, false),
            "Умєров про зустріч"
        );
        assert_eq!(
            strip_site("Росія нарощує виробництво – МЗС", None, true),
            "Росія нарощує виробництво – МЗС"
        );
        assert_eq!(
            strip_site("Росія нарощує виробництво – МЗС", Some("МЗС"), false),
            "Росія нарощує виробництво"
        );
        assert_eq!(
            strip_site("Новина дня - Leopolis.news", None, true),
            "Новина дня"
        );
        assert_eq!(
            strip_site("Новина дня | Новини | Сайт", None, true),
            "Новина дня"
        );
        assert_eq!(
            strip_site("Новина дня | Сайт", None, false),
            "Новина дня | Сайт"
        );
    }

    #[test]
    fn machine_dates_keep_local_time() {
        let p = |s: &str| parse_stamp(s).map(|s| (s.published.iso(), s.offset));
        assert_eq!(
            p("2025-04-23T10:15:00+03:00"),
            Some(("2025-04-23T10:15".into(), Some(180)))
        );
        assert_eq!(
            p("2025-04-23T10:15:00.000+0300"),
            Some(("2025-04-23T10:15".into(), Some(180)))
        );
        assert_eq!(
            p("2025-04-23T07:15:00Z"),
            Some(("2025-04-23T07:15".into(), Some(0)))
        );
        assert_eq!(
            p("2025-04-23 7:15"),
            Some(("2025-04-23T07:15".into(), None))
        );
        assert_eq!(p("2025-04-23"), Some(("2025-04-23".into(), None)));
        assert_eq!(
            p(" 2025-03-03T09:05:00-05:00 "),
            Some(("2025-03-03T09:05".into(), Some(-300)))
        );
        assert_eq!(
            p("23.04.2025 10:15"),
            Some(("2025-04-23T10:15".into(), None))
        );
        assert_eq!(p("2025-02-30T10:00:00+02:00"), None);
        assert_eq!(p("2025-04-23T25:00:00Z"), None);
        assert_eq!(p("вчора"), None);
        let utc = parse_stamp("2025-04-23T21:47:36+00:00").unwrap();
        let kyiv = parse_stamp("2025-04-24T00:47:36+03:00").unwrap();
        assert_eq!(utc.instant(), kyiv.instant());
    }

    #[test]
    fn a_utc_time_gives_way_to_the_local_time_of_the_same_instant() {
        let body = format!(
            "<article><h1>Заголовок статті з сайту</h1><time datetime=\"2025-04-24T00:47:36+03:00\">24.04.2025</time>\
             <div class=content><p>{P1}</p><p>{P2}</p></div></article>\
             <aside><time datetime=\"2025-04-23T21:47:36+03:00\">інша</time></aside>"
        );
        let head =
            "<meta property=\"article:published_time\" content=\"2025-04-23T21:47:36+00:00\">";
        let p = page(head, &body);
        assert_eq!(p.published.unwrap().iso(), "2025-04-24T00:47");
        // Without a local rendering the time stays as written.
        let p = page(head, &article(""));
        assert_eq!(p.published.unwrap().iso(), "2025-04-23T21:47");
    }

    #[test]
    fn json_ld_articles_are_found() {
        let a = |s: &str| json_ld_article(s);
        let plain = r#"{"@context":"https://schema.org","@type":"NewsArticle","headline":"Заголовок","datePublished":"2025-04-11T21:32:00+03:00","publisher":{"@type":"Organization","name":"Видання"}}"#;
        assert_eq!(
            a(plain),
            Some(LdArticle {
                headline: Some("Заголовок".into()),
                date: Some("2025-04-11T21:32:00+03:00".into()),
                publisher: Some("Видання".into()),
            })
        );
        let graph = r#"{"@graph":[{"@type":"WebPage","name":"Сторінка"},{"@type":["Article","NewsArticle"],"headline":"Із графа"}]}"#;
        assert_eq!(a(graph).unwrap().headline.as_deref(), Some("Із графа"));
        let array = r#"[{"@type":"BreadcrumbList"},{"@type":"schema:ReportageNews","headline":"Репортаж"}]"#;
        assert_eq!(a(array).unwrap().headline.as_deref(), Some("Репортаж"));
        let escaped =
            r#"{"@type":"Article","headline":"Коаліція та &#171;Рамштайн&#187; &amp; <b>ЄС</b>"}"#;
        assert_eq!(
            a(escaped).unwrap().headline.as_deref(),
            Some("Коаліція та «Рамштайн» & ЄС")
        );
        let raw_newline = "{\"@type\":\"NewsArticle\",\"headline\":\"Рядок\nперенесено\"};";
        assert_eq!(
            a(raw_newline).unwrap().headline.as_deref(),
            Some("Рядок перенесено")
        );
        assert_eq!(a(r#"{"@type":"WebPage","headline":"Не стаття"}"#), None);
        assert_eq!(a("{ broken"), None);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(a(&deep), None);
    }

    #[test]
    fn title_and_date_priorities() {
        let ld = r#"<script type="application/ld+json">{"@type":"NewsArticle","headline":"Із JSON-LD","datePublished":"2025-01-02T03:04:00+02:00"}</script>"#;
        let og = r#"<meta property="og:title" content="Із og:title"><meta property="article:published_time" content="2025-02-03T04:05:00+02:00">"#;
        let title = "<title>Із title | Сайт</title>";
        let time = r#"<time datetime="2025-03-04T05:06:00+02:00">4 березня</time>"#;
        let body = format!("<article><h1>Із h1 статті</h1>{time}<div class=content><p>{P1}</p><p>{P2}</p></div></article>");
        let body_no_time = format!("<article><h1>Із h1 статті</h1><div class=date>05.04.2025</div><div class=content><p>{P1}</p><p>{P2}</p></div></article>");
        let got = |head: String, body: &str| {
            let p = page(&head, body);
            (p.title.unwrap(), p.published.map(|d| d.iso()))
        };
        assert_eq!(
            got(format!("{title}{og}{ld}"), &body),
            ("Із JSON-LD".into(), Some("2025-01-02T03:04".into()))
        );
        assert_eq!(
            got(format!("{title}{og}"), &body),
            ("Із og:title".into(), Some("2025-02-03T04:05".into()))
        );
        assert_eq!(
            got(title.to_owned(), &body),
            ("Із h1 статті".into(), Some("2025-03-04T05:06".into()))
        );
        assert_eq!(
            got(title.to_owned(), &body_no_time),
            ("Із h1 статті".into(), Some("2025-04-05".into()))
        );
        let bare = format!("<div><p>{P1}</p><p>{P2}</p></div>");
        assert_eq!(got(title.to_owned(), &bare), ("Із title".into(), None));
    }

    #[test]
    fn a_date_widget_of_the_site_header_is_not_the_publication_date() {
        let body = format!(
            "<div class=top><div class=today>Субота, 12 квітня 2025</div></div>\
             <div class=main><div class=col><div class=page>{}</div></div></div>",
            article("")
        );
        assert_eq!(page("", &body).published, None);
    }

    #[test]
    fn furniture_is_dropped() {
        let inner = "<div class=\"share-buttons\"><a href=#>Facebook</a> поділитися цією новиною з друзями</div>\
             <aside><p>Бічна колонка з текстом, який до статті не належить, хоч і довгий.</p></aside>\
             <div hidden>Прихований текст</div><p style=\"display: none\">Невидимий абзац</p>\
             <span class=\"sr-only\">Текст для читачів екрана</span><span aria-hidden=\"true\">★</span>\
             <div role=\"navigation\">Навігація сторінкою</div>\
             <figure><img src=a.jpg><figcaption>Фото: пресслужба</figcaption></figure>\
             <p>Читайте також:</p><ul><li><a href=/1>Перша інша новина дня</a></li><li><a href=/2>Друга інша новина</a></li></ul>\
             <form><label>Ваш email</label><input><button>Підписатися</button></form>";
        let p = page("", &article(inner));
        assert_eq!(body_lines(&p), [P1, P2]);
    }

    #[test]
    fn responsive_classes_are_not_hidden() {
        let inner = "<p class=\"hidden md:block\">Абзац, видимий на широких екранах, теж є текстом статті.</p>\
             <p class=\"d-none d-lg-block\">Ще один абзац, видимий на великих екранах, також текст.</p>\
             <p class=\"d-none\">Абзац, прихований завжди, не є текстом статті.</p>";
        let lines = body_lines(&page("", &article(inner)));
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("прихований")));
    }

    #[test]
    fn lists_headings_and_line_breaks() {
        let inner = "<h2>Що відомо:</h2><ul><li>• перший пункт;</li><li><p>другий пункт.</p></li></ul>\
             <p>Рядок перший<br>рядок другий</p><blockquote>Цитата в блоці, досить довга для абзацу.</blockquote>";
        let p = page("", &article(inner));
        assert_eq!(
            body_lines(&p),
            [
                P1,
                "Що відомо:",
                "- перший пункт;",
                "- другий пункт.",
                "Рядок перший",
                "рядок другий",
                "Цитата в блоці, досить довга для абзацу.",
                P2
            ]
        );
    }

    #[test]
    fn a_content_wrapper_with_a_furniture_word_is_kept() {
        let body = format!(
            "<div class=\"content-sidebar-wrap\"><main><div class=\"entry-content\"><h1>Заголовок статті з сайту</h1><p>{P1}</p><p>{P2}</p></div></main>\
             <div class=sidebar><p>Реклама у бічній колонці, з комами, крапками, та іншим текстом.</p></div></div>"
        );
        assert_eq!(body_lines(&page("", &body)), [P1, P2]);
    }

    #[test]
    fn a_lead_in_its_own_block_joins_the_article() {
        let lead = "Коротко: сторони домовилися про нові поставки систем протиповітряної оборони вже цього року.";
        let body = format!(
            "<article><h1>Заголовок статті з сайту</h1><p class=lead>{lead}</p>\
             <div class=text><p>{P1}</p><p>{P2}</p><p>{P1} Ще раз.</p></div>\
             <div class=related><p>Схожа новина з довгим описом, комами, крапками, і так далі.</p></div></article>"
        );
        let lines = body_lines(&page("", &body));
        assert_eq!(lines[0], lead);
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn the_header_layout_reads_back() {
        let p = Published {
            date: "2025-04-11".into(),
            time: Some("21:32".into()),
        };
        let h = header(
            Some("Заголовок новини дня"),
            Some(&p),
            Some("Інтерфакс-Україна"),
        );
        assert_eq!(
            h,
            "Інтерфакс-Україна\n2025-04-11 21:32\n\nЗаголовок новини дня\n\n"
        );
        // A site name the cleaner would take for the title is left out.
        let h = header(
            Some("Заголовок новини дня"),
            Some(&p),
            Some("Офіційний сайт обласної державної адміністрації"),
        );
        assert_eq!(h, "2025-04-11 21:32\n\nЗаголовок новини дня\n\n");
        // A one-word title only the export header carries.
        let h = header(Some("Обстріл"), Some(&p), None);
        assert_eq!(h, " date 2025-04-11T21:32 Обстріл\n\n");
        let h = header(None, None, Some("Сайт"));
        assert_eq!(h, "");
    }

    #[test]
    fn depth_and_formatting_limits() {
        let normal = format!(
            "<html><body>{}</body></html>",
            article("<p><b><i>жирний курсив</i></b></p>")
        );
        assert!(matches!(limit_depth(&normal, MAX_DEPTH), Cow::Borrowed(_)));
        let deep = format!("{}текст{}", "<div>".repeat(1000), "</div>".repeat(1000));
        let limited = limit_depth(&deep, MAX_DEPTH);
        assert_eq!(limited.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(limited.matches("</div>").count(), MAX_DEPTH);
        assert!(limited.contains("текст"));
        let depth = |html: &str| {
            let doc = Html::parse_document(&limit_depth(html, MAX_DEPTH));
            let deepest = doc.tree.nodes().map(|n| n.ancestors().count()).max();
            deepest.unwrap_or(0)
        };
        // html, body, the wrappers, the text structure, the text node.
        let most = MAX_DEPTH + MAX_EXTRA_DEPTH + 4;
        for unit in [
            "<ul><li>",
            "<blockquote>",
            "<table><tr><td>",
            "<div><p><b><a href=#>x",
            "<span>",
        ] {
            let html = format!("{}{}", "<div>".repeat(300), unit.repeat(300));
            assert!(depth(&html) <= most, "{unit}: {}", depth(&html));
        }
        // Lists and tables with implied end tags do not count as nesting.
        let flat = format!(
            "<ul>{}</ul><table>{}</table>",
            "<li>пункт".repeat(1000),
            "<tr><td>a<td>b".repeat(1000)
        );
        assert!(matches!(limit_depth(&flat, MAX_DEPTH), Cow::Borrowed(_)));
        let bold = format!(
            "{}текст",
            (0..10).map(|i| format!("<b id=b{i}>")).collect::<String>()
        );
        assert_eq!(
            limit_depth(&bold, MAX_DEPTH).matches("<b ").count(),
            MAX_FORMATTING
        );
        // Tags inside scripts, comments and attribute values do not count.
        let quoted = format!(
            "<script>var s = '{}';</script><!-- {} --><p title=\"{}\">текст</p>",
            "<div>".repeat(1000),
            "<div>".repeat(1000),
            "<div>".repeat(1000)
        );
        assert!(matches!(limit_depth(&quoted, MAX_DEPTH), Cow::Borrowed(_)));
        for broken in [
            "<",
            "<a",
            "</",
            "<!--",
            "<div class=\"",
            "<script>",
            "<p\u{0}>",
            "<діv>",
        ] {
            let _ = limit_depth(broken, 2);
            let _ = to_text_page(broken);
        }
    }
}
