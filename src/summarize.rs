//! Summarize stage: a one-line English headline and a 2–4 sentence
//! English summary from the translated article, by a chat model with
//! greedy (deterministic) decoding. The length is enforced in code, not
//! trusted to the prompt; an article longer than the model's window is
//! summarized in sentence-aligned chunks whose notes are then summarized.
use crate::chunk::chunk_by_budget;
use crate::config::SummarizeStage;
use crate::error::Result;
use crate::llm::{ChatMessage, ChatModel, GenerationParams};
use crate::segment::split_sentences;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Summary {
    pub headline: String,
    pub sentences: Vec<String>,
    /// What the length checks did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<SummaryFlag>,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub secs: f64,
}

/// What the summarizer's checks did. Records write each flag as one
/// string (`chunked: 3`, `trimmed: 6 → 4`, `short: 1 < 2`,
/// `headline_from_title`).
#[derive(Debug, Clone, PartialEq, Eq, schemars::JsonSchema)]
#[schemars(with = "String")]
pub enum SummaryFlag {
    /// The article was over the window: summarized in this many chunks first.
    Chunked(usize),
    /// The model wrote more sentences than allowed: `from → to`.
    Trimmed { from: usize, to: usize },
    /// Fewer sentences than the minimum: `got < min`.
    Short { got: usize, min: usize },
    /// The model gave no headline; the English title stands in.
    HeadlineFromTitle,
}

impl std::fmt::Display for SummaryFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SummaryFlag::Chunked(n) => write!(f, "chunked: {n}"),
            SummaryFlag::Trimmed { from, to } => write!(f, "trimmed: {from} → {to}"),
            SummaryFlag::Short { got, min } => write!(f, "short: {got} < {min}"),
            SummaryFlag::HeadlineFromTitle => f.write_str("headline_from_title"),
        }
    }
}

serde_via_str!(SummaryFlag);

impl std::str::FromStr for SummaryFlag {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let pair = |rest: &str, sep: &str| -> Option<(usize, usize)> {
            let (a, b) = rest.split_once(sep)?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        };
        let flag = if s == "headline_from_title" {
            Some(SummaryFlag::HeadlineFromTitle)
        } else if let Some(n) = s.strip_prefix("chunked: ") {
            n.parse().ok().map(SummaryFlag::Chunked)
        } else if let Some(r) = s.strip_prefix("trimmed: ") {
            pair(r, "→").map(|(from, to)| SummaryFlag::Trimmed { from, to })
        } else if let Some(r) = s.strip_prefix("short: ") {
            pair(r, "<").map(|(got, min)| SummaryFlag::Short { got, min })
        } else {
            None
        };
        flag.ok_or_else(|| format!("unknown summary flag `{s}`"))
    }
}

const SYSTEM: &str = "You are a careful news editor. You write short, factual English \
summaries of news articles. You never invent facts.";

/// Generation settings: greedy, with a mild repetition penalty so small
/// models do not loop.
pub fn params(max_new_tokens: usize) -> GenerationParams {
    let mut p = GenerationParams::greedy(max_new_tokens);
    p.repeat_penalty = 1.1;
    p.repeat_last_n = 64;
    p
}

pub fn prompt(title: &str, body: &str, n_sentences: usize) -> String {
    format!(
        "Summarize the news article below.\n\
Answer in exactly this format:\n\
Headline: <one line, at most 15 words>\n\
Summary: <{n_sentences} sentences>\n\n\
Article title: {title}\n\
Article:\n{body}\n"
    )
}

/// Split a model answer into a headline and summary text.
pub fn parse_answer(answer: &str) -> (String, String) {
    let clean = |l: &str| {
        l.trim()
            .trim_start_matches('#')
            .replace("**", "")
            .trim()
            .to_string()
    };
    let mut headline = String::new();
    let mut summary = Vec::new();
    let mut in_summary = false;
    for line in answer.lines() {
        let l = clean(line);
        if l.is_empty() {
            continue;
        }
        let lower = l.to_lowercase();
        if let Some(rest) = lower.strip_prefix("headline:") {
            headline = l[l.len() - rest.len()..].trim().to_string();
            in_summary = false;
        } else if let Some(rest) = lower.strip_prefix("summary:") {
            let t = l[l.len() - rest.len()..].trim();
            if !t.is_empty() {
                summary.push(t.to_string());
            }
            in_summary = true;
        } else if in_summary || !headline.is_empty() {
            summary.push(l);
            in_summary = true;
        } else {
            headline = l;
        }
    }
    let headline = headline.trim_matches('"').trim().to_string();
    (headline, summary.join(" "))
}

/// English sentences of a text (the splitter knows English punctuation too).
pub fn sentences_of(text: &str) -> Vec<String> {
    split_sentences(text)
        .into_iter()
        .map(|r| text[r].trim().to_string())
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

/// Cap a headline at `max_words` words.
pub fn cap_words(s: &str, max_words: usize) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() <= max_words {
        words.join(" ")
    } else {
        format!("{}…", words[..max_words].join(" "))
    }
}

/// One request: the headline and summary text of the model's answer for
/// `body`, asking for `n` sentences; adds its prompt and generated tokens
/// to `tokens`.
fn request(
    model: &mut ChatModel,
    title: &str,
    body: &str,
    n: usize,
    cfg: &SummarizeStage,
    tokens: &mut (usize, usize),
) -> Result<(String, String)> {
    let g = model.chat(
        &[
            ChatMessage::system(SYSTEM),
            ChatMessage::user(prompt(title, body, n)),
        ],
        &params(cfg.max_new_tokens),
        None,
        &mut |_| {},
    )?;
    tokens.0 += g.prompt_tokens;
    tokens.1 += g.generated_tokens;
    Ok(parse_answer(&g.text))
}

/// Summarize an English article (title + paragraphs).
pub fn summarize(
    model: &mut ChatModel,
    title: &str,
    paragraphs: &[String],
    cfg: &SummarizeStage,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    // Prompt and generated tokens of all requests.
    let mut tokens = (0, 0);
    let mut flags = Vec::new();
    let window = model.info().context_length;
    let budget = window.saturating_sub(cfg.max_new_tokens + 256);
    let target = cfg.max_sentences.min(3).max(cfg.min_sentences);

    // Map step for articles beyond the window: summarize chunks of whole
    // paragraphs into notes, then summarize the notes.
    let mut body = paragraphs.join("\n\n");
    let chunked = model.count_tokens(&prompt(title, &body, target))? > budget;
    // The final request, and the map requests before it.
    let mut total = 1;
    if chunked {
        let chunks: Vec<String> = chunk_by_budget(paragraphs, usize::MAX, |ps| {
            Ok(model.count_tokens(&prompt(title, &ps.join("\n\n"), target))? <= budget)
        })?
        .into_iter()
        .map(|r| paragraphs[r].join("\n\n"))
        .collect();
        flags.push(SummaryFlag::Chunked(chunks.len()));
        total += chunks.len();
        progress(0, total);
        let mut notes = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let (_, note) = request(model, title, c, target, cfg, &mut tokens)?;
            notes.push(note);
            progress(i + 1, total);
        }
        body = notes.join("\n\n");
    } else {
        progress(0, total);
    }

    let mut ask = |n: usize| -> Result<(String, Vec<String>)> {
        let (h, s) = request(model, title, &body, n, cfg, &mut tokens)?;
        Ok((h, sentences_of(&s)))
    };
    let (mut headline, mut sentences) = ask(target)?;
    if sentences.len() < cfg.min_sentences {
        // Greedy decoding repeats itself on the same prompt: ask for more.
        let (h2, s2) = ask(cfg.max_sentences)?;
        if s2.len() > sentences.len() {
            sentences = s2;
            if headline.is_empty() {
                headline = h2;
            }
        }
    }
    if sentences.len() > cfg.max_sentences {
        flags.push(SummaryFlag::Trimmed {
            from: sentences.len(),
            to: cfg.max_sentences,
        });
        sentences.truncate(cfg.max_sentences);
    }
    if sentences.len() < cfg.min_sentences {
        flags.push(SummaryFlag::Short {
            got: sentences.len(),
            min: cfg.min_sentences,
        });
    }
    if headline.is_empty() {
        flags.push(SummaryFlag::HeadlineFromTitle);
        headline = title.to_string();
    }
    progress(total, total);
    Ok(Summary {
        headline: cap_words(&headline, 20),
        sentences,
        flags,
        prompt_tokens: tokens.0,
        generated_tokens: tokens.1,
        secs: t0.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_answers_parse() {
        let (h, s) = parse_answer("**Headline:** Umerov meets Kallas\nSummary: One. Two.\nThree.");
        assert_eq!(h, "Umerov meets Kallas");
        assert_eq!(s, "One. Two. Three.");
    }

    #[test]
    fn unlabelled_answers_parse() {
        let (h, s) = parse_answer("# Umerov in Brussels\n\nHe met allies. They talked.");
        assert_eq!(h, "Umerov in Brussels");
        assert_eq!(s, "He met allies. They talked.");
    }

    #[test]
    fn flags_read_back_as_written() {
        for f in [
            SummaryFlag::Chunked(3),
            SummaryFlag::Trimmed { from: 6, to: 4 },
            SummaryFlag::Short { got: 1, min: 2 },
            SummaryFlag::HeadlineFromTitle,
        ] {
            let text = f.to_string();
            assert_eq!(text.parse::<SummaryFlag>().unwrap(), f, "{text}");
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<SummaryFlag>(&json).unwrap(), f);
        }
        assert_eq!(
            SummaryFlag::Trimmed { from: 6, to: 4 }.to_string(),
            "trimmed: 6 → 4"
        );
        assert!("odd".parse::<SummaryFlag>().is_err());
    }

    #[test]
    fn headline_is_capped() {
        assert_eq!(cap_words("a b c d", 3), "a b c…");
        assert_eq!(cap_words(" a  b ", 3), "a b");
    }
}
