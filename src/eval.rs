//! Translation quality metrics.
//!
//! [`chrf`] reproduces sacrebleu 2.x `CHRF()` with its default settings
//! (chrF2: character n-grams of order 1–6, no word n-grams, β = 2,
//! whitespace removed, case kept, no epsilon smoothing). Statistics are
//! summed over the whole corpus before the F-score is computed, exactly
//! like sacrebleu's `corpus_score`; [`chrf_sentence`] is `sentence_score`.
//! Scores are on the 0–100 scale.
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// Character n-gram order of chrF (sacrebleu `CHRF.CHAR_ORDER`).
pub const CHAR_ORDER: usize = 6;
/// Recall weight β (sacrebleu `CHRF.BETA`).
pub const BETA: f64 = 2.0;

/// Per-order match statistics: `[hyp_count, ref_count, match_count]` for
/// each n-gram order 1..=[`CHAR_ORDER`], the layout sacrebleu uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChrfStats {
    pub orders: [[u64; 3]; CHAR_ORDER],
}

impl ChrfStats {
    /// Statistics of one hypothesis against one reference.
    pub fn of_pair(hypothesis: &str, reference: &str) -> Self {
        let hyp = strip_whitespace(hypothesis);
        let refr = strip_whitespace(reference);
        let mut stats = ChrfStats::default();
        for n in 1..=CHAR_ORDER {
            let hyp_ngrams = char_ngrams(&hyp, n);
            let ref_ngrams = char_ngrams(&refr, n);
            let hyp_count: u64 = hyp_ngrams.values().sum();
            let ref_count: u64 = ref_ngrams.values().sum();
            let matches: u64 = hyp_ngrams
                .iter()
                .map(|(gram, &c)| c.min(ref_ngrams.get(gram).copied().unwrap_or(0)))
                .sum();
            // sacrebleu counts no hypothesis n-grams of an order for which
            // the reference has none.
            let hyp_count = if ref_ngrams.is_empty() { 0 } else { hyp_count };
            stats.orders[n - 1] = [hyp_count, ref_count, matches];
        }
        stats
    }

    fn add(&mut self, other: &ChrfStats) {
        for (a, b) in self.orders.iter_mut().zip(other.orders.iter()) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
    }

    /// The chrF score (0–100) of these statistics, sacrebleu's default
    /// (non-epsilon) smoothing: precision and recall are each averaged over
    /// the "effective" orders (those where both sides have n-grams), then
    /// combined into one F_β.
    pub fn score(&self) -> f64 {
        let factor = BETA * BETA;
        let mut avg_prec = 0.0;
        let mut avg_rec = 0.0;
        let mut effective_order = 0usize;
        for &[n_hyp, n_ref, n_match] in &self.orders {
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += n_match as f64 / n_hyp as f64;
                avg_rec += n_match as f64 / n_ref as f64;
                effective_order += 1;
            }
        }
        if effective_order == 0 {
            return 0.0;
        }
        avg_prec /= effective_order as f64;
        avg_rec /= effective_order as f64;
        if avg_prec + avg_rec == 0.0 {
            return 0.0;
        }
        // Same operation order as sacrebleu, for bit-identical results.
        let f = (1.0 + factor) * avg_prec * avg_rec / ((factor * avg_prec) + avg_rec);
        100.0 * f
    }
}

/// Python's `''.join(s.split())`: drops every character for which
/// `str.isspace()` is true (Unicode White_Space plus U+001C–U+001F).
fn strip_whitespace(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| !(c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(c)))
        .collect()
}

fn char_ngrams(chars: &[char], n: usize) -> HashMap<&[char], u64> {
    let mut counts: HashMap<&[char], u64> = HashMap::new();
    if chars.len() >= n {
        for gram in chars.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// Corpus chrF2 of `hypotheses` against one reference each (sacrebleu
/// `CHRF().corpus_score(hypotheses, [references])`).
pub fn chrf(hypotheses: &[String], references: &[String]) -> Result<f64> {
    if hypotheses.len() != references.len() {
        return Err(Error::Config(format!(
            "chrF: {} hypotheses but {} references",
            hypotheses.len(),
            references.len()
        )));
    }
    let mut total = ChrfStats::default();
    for (h, r) in hypotheses.iter().zip(references) {
        total.add(&ChrfStats::of_pair(h, r));
    }
    Ok(total.score())
}

/// Sentence-level chrF2 (sacrebleu `CHRF().sentence_score(h, [r])`).
pub fn chrf_sentence(hypothesis: &str, reference: &str) -> f64 {
    ChrfStats::of_pair(hypothesis, reference).score()
}

/// Reads a text file as lines (without their `\n` / `\r\n`), the way
/// sacrebleu reads plain-text system and reference files.
pub fn read_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}
