//! Facts proposed by a chat model, kept only when grounded.
//!
//! The model answers under a JSON-schema constraint (so the answer always
//! parses, and strings and lists are bounded: a small model cannot loop
//! until max tokens on one phrase). Each proposed item must then be found
//! in the Ukrainian source ([`super::ground`]); what is not found is
//! dropped, and what repeats a fact already known is dropped too.
use super::{llm_fact, Fact, FactKind};
use crate::article::Article;
use crate::error::Result;
use crate::llm::{ChatMessage, ChatModel, GenerationParams, JsonSchemaConstraint};
use serde_json::{json, Value};

/// The answer schema: `{"facts":[{"kind":…,"text":…}]}`.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "minItems": 1,
                "maxItems": 16,
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": { "type": "string", "enum": ["person", "organization", "place", "event"] },
                        "text": { "type": "string", "minLength": 2, "maxLength": 80 }
                    }
                }
            }
        }
    })
}

const SYSTEM: &str = "You extract key facts from Ukrainian news articles. You copy names \
and phrases exactly as they are written in the article, in Ukrainian.";

fn prompt(body: &str) -> String {
    format!(
        "List the people, organizations, places and events of this Ukrainian news article as \
JSON. Copy each text exactly from the article.\n\nArticle:\n{body}\n"
    )
}

fn kind_of(s: &str) -> Option<FactKind> {
    match s {
        "person" => Some(FactKind::Person),
        "organization" => Some(FactKind::Organization),
        "place" => Some(FactKind::Place),
        "event" => Some(FactKind::Event),
        _ => None,
    }
}

/// `(kind, text)` items of an answer; a cut-off answer keeps its complete items.
pub fn parse_items(answer: &str) -> Vec<(String, String)> {
    if let Ok(v) = serde_json::from_str::<Value>(answer) {
        return v["facts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        Some((
                            f["kind"].as_str()?.to_string(),
                            f["text"].as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    let re =
        regex::Regex::new(r#"\{"kind":"(\w+)","text":"((?:[^"\\]|\\.)*)"\}"#).expect("valid regex");
    re.captures_iter(answer)
        .filter_map(|c| {
            let text: String = serde_json::from_str(&format!("\"{}\"", &c[2])).ok()?;
            Some((c[1].to_string(), text))
        })
        .collect()
}

/// Keep the proposals that are grounded in the source and new: not
/// found in the source → dropped; overlapping a fact already known or
/// kept → dropped.
pub fn ground_items(
    items: &[(String, String)],
    article: &Article,
    source_text: &str,
    known: &[Fact],
    stats: &mut Value,
) -> Vec<Fact> {
    let mut out: Vec<Fact> = Vec::new();
    let (mut ungrounded, mut duplicate) = (0u64, 0u64);
    for (kind, text) in items {
        let Some(kind) = kind_of(kind) else { continue };
        let Some(fact) = llm_fact(article, source_text, kind, text) else {
            ungrounded += 1;
            continue;
        };
        let overlaps = |f: &Fact| f.span.0 < fact.span.1 && fact.span.0 < f.span.1;
        if known.iter().chain(out.iter()).any(overlaps) {
            duplicate += 1;
            continue;
        }
        out.push(fact);
    }
    let add = |stats: &mut Value, key: &str, n: u64| {
        stats[key] = json!(stats[key].as_u64().unwrap_or(0) + n);
    };
    add(stats, "proposed", items.len() as u64);
    add(stats, "dropped_ungrounded", ungrounded);
    add(stats, "dropped_duplicate", duplicate);
    add(stats, "kept", out.len() as u64);
    out
}

/// Ask the model for facts, paragraph chunk by chunk within its window.
pub fn propose(
    model: &mut ChatModel,
    article: &Article,
    source_text: &str,
    known: &[Fact],
    max_new_tokens: usize,
) -> Result<(Vec<Fact>, Value)> {
    let t0 = std::time::Instant::now();
    let schema = schema();
    let mut params = GenerationParams::greedy(max_new_tokens);
    params.repeat_penalty = 1.0;
    let budget = model
        .info()
        .context_length
        .saturating_sub(max_new_tokens + 128);
    let paragraphs: Vec<String> = article.paragraphs.iter().map(|p| p.text()).collect();
    let mut chunks: Vec<String> = Vec::new();
    let mut cur = String::new();
    for p in &paragraphs {
        let next = if cur.is_empty() {
            p.clone()
        } else {
            format!("{cur}\n\n{p}")
        };
        if !cur.is_empty() && model.count_tokens(&prompt(&next))? > budget {
            chunks.push(std::mem::replace(&mut cur, p.clone()));
        } else {
            cur = next;
        }
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    let mut stats = json!({ "chunks": chunks.len(), "generated_tokens": 0 });
    let mut all = known.to_vec();
    let mut added = Vec::new();
    for c in &chunks {
        let mut constraint = JsonSchemaConstraint::new(&schema)?;
        let g = model.chat(
            &[ChatMessage::system(SYSTEM), ChatMessage::user(prompt(c))],
            &params,
            Some(&mut constraint),
            &mut |_| {},
        )?;
        stats["generated_tokens"] =
            json!(stats["generated_tokens"].as_u64().unwrap_or(0) + g.generated_tokens as u64);
        let items = parse_items(&g.text);
        let new = ground_items(&items, article, source_text, &all, &mut stats);
        all.extend(new.iter().cloned());
        added.extend(new);
    }
    stats["secs"] = json!(t0.elapsed().as_secs_f64());
    Ok((added, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_off_answers_keep_complete_items() {
        let a =
            r#"{"facts":[{"kind":"person","text":"Рустем Умєров"},{"kind":"place","text":"Брюс"#;
        assert_eq!(
            parse_items(a),
            vec![("person".to_string(), "Рустем Умєров".to_string())]
        );
        let full = r#"{"facts":[{"kind":"event","text":"зустріч \"Рамштайн\""}]}"#;
        assert_eq!(
            parse_items(full),
            vec![("event".to_string(), "зустріч \"Рамштайн\"".to_string())]
        );
    }

    #[test]
    fn schema_compiles_for_the_constraint() {
        JsonSchemaConstraint::new(&schema()).unwrap();
    }
}
