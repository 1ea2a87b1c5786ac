//! Summarize stage: a one-line English headline and a 2–4 sentence
//! English summary from the translated article, by a chat model with
//! greedy (deterministic) decoding. The length is enforced in code, not
//! trusted to the prompt; an article longer than the model's window is
//! summarized in sentence-aligned chunks whose notes are then summarized.
use crate::config::SummarizeStage;
use crate::error::Result;
use crate::llm::{ChatMessage, ChatModel, GenerationParams};
use crate::segment::split_sentences;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub headline: String,
    pub sentences: Vec<String>,
    /// What the length checks did (`trimmed: 6 → 4`, `short: 1 < 2`, `chunked: 3`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub secs: f64,
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

/// Summarize an English article (title + paragraphs).
pub fn summarize(
    model: &mut ChatModel,
    title: &str,
    paragraphs: &[String],
    cfg: &SummarizeStage,
) -> Result<Summary> {
    let t0 = std::time::Instant::now();
    let mut prompt_tokens = 0;
    let mut generated_tokens = 0;
    let mut flags = Vec::new();
    let window = model.info().context_length;
    let budget = window.saturating_sub(cfg.max_new_tokens + 256);
    let target = cfg.max_sentences.min(3).max(cfg.min_sentences);

    // Map step for articles beyond the window: summarize chunks of whole
    // paragraphs into notes, then summarize the notes.
    let mut body = paragraphs.join("\n\n");
    if model.count_tokens(&prompt(title, &body, target))? > budget {
        let mut notes = Vec::new();
        let mut chunk: Vec<&str> = Vec::new();
        let mut chunks: Vec<String> = Vec::new();
        for p in paragraphs {
            chunk.push(p);
            let text = chunk.join("\n\n");
            if model.count_tokens(&prompt(title, &text, target))? > budget && chunk.len() > 1 {
                chunk.pop();
                chunks.push(chunk.join("\n\n"));
                chunk = vec![p];
            }
        }
        if !chunk.is_empty() {
            chunks.push(chunk.join("\n\n"));
        }
        flags.push(format!("chunked: {}", chunks.len()));
        for c in &chunks {
            let g = model.chat(
                &[
                    ChatMessage::system(SYSTEM),
                    ChatMessage::user(prompt(title, c, target)),
                ],
                &params(cfg.max_new_tokens),
                None,
                &mut |_| {},
            )?;
            prompt_tokens += g.prompt_tokens;
            generated_tokens += g.generated_tokens;
            notes.push(parse_answer(&g.text).1);
        }
        body = notes.join("\n\n");
    }

    let mut ask = |n: usize| -> Result<(String, Vec<String>)> {
        let g = model.chat(
            &[
                ChatMessage::system(SYSTEM),
                ChatMessage::user(prompt(title, &body, n)),
            ],
            &params(cfg.max_new_tokens),
            None,
            &mut |_| {},
        )?;
        prompt_tokens += g.prompt_tokens;
        generated_tokens += g.generated_tokens;
        let (h, s) = parse_answer(&g.text);
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
        flags.push(format!(
            "trimmed: {} → {}",
            sentences.len(),
            cfg.max_sentences
        ));
        sentences.truncate(cfg.max_sentences);
    }
    if sentences.len() < cfg.min_sentences {
        flags.push(format!(
            "short: {} < {}",
            sentences.len(),
            cfg.min_sentences
        ));
    }
    if headline.is_empty() {
        flags.push("headline_from_title".into());
        headline = title.to_string();
    }
    Ok(Summary {
        headline: cap_words(&headline, 20),
        sentences,
        flags,
        prompt_tokens,
        generated_tokens,
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
    fn headline_is_capped() {
        assert_eq!(cap_words("a b c d", 3), "a b c…");
        assert_eq!(cap_words(" a  b ", 3), "a b");
    }
}
