//! Compare two digest runs (a stored baseline and a new run) article by
//! article: summary and headline similarity (chrF2, ROUGE-L) and the facts
//! that appeared or disappeared. For regression tests of summaries.
use crate::error::Result;
use crate::eval::chrf_sentence;
use crate::store::{ArticleDigest, Store};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// How an article of one run compares with the other run's.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Same headline, summary and facts.
    Same,
    Changed,
    /// Only the baseline has the article.
    OnlyBaseline,
    /// Only the new run has the article.
    OnlyNew,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Same => "same",
            Status::Changed => "changed",
            Status::OnlyBaseline => "only_baseline",
            Status::OnlyNew => "only_new",
        }
    }

    /// One run lacks the article.
    pub fn is_missing(self) -> bool {
        matches!(self, Status::OnlyBaseline | Status::OnlyNew)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArticleComparison {
    pub id: String,
    pub status: Status,
    pub summary_chrf: Option<f64>,
    pub summary_rouge_l: Option<f64>,
    pub headline_chrf: Option<f64>,
    /// `kind: text` of facts only in the baseline / only in the new run.
    pub facts_removed: Vec<String>,
    pub facts_added: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub articles: Vec<ArticleComparison>,
    pub mean_summary_chrf: Option<f64>,
    pub min_summary_chrf: Option<f64>,
}

impl CompareReport {
    /// Articles whose summary chrF is below `min`, or that one side lacks.
    pub fn regressions(&self, min_chrf: f64) -> Vec<&ArticleComparison> {
        self.articles
            .iter()
            .filter(|a| a.status.is_missing() || a.summary_chrf.is_some_and(|c| c < min_chrf))
            .collect()
    }
}

/// ROUGE-L F1 over lower-cased alphanumeric tokens (as rouge-score
/// tokenizes without stemming).
pub fn rouge_l(candidate: &str, reference: &str) -> f64 {
    let tok = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (c, r) = (tok(candidate), tok(reference));
    if c.is_empty() || r.is_empty() {
        return 0.0;
    }
    let mut prev = vec![0usize; r.len() + 1];
    for cw in &c {
        let mut cur = vec![0usize; r.len() + 1];
        for (j, rw) in r.iter().enumerate() {
            cur[j + 1] = if cw == rw {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        prev = cur;
    }
    let lcs = prev[r.len()] as f64;
    if lcs == 0.0 {
        return 0.0;
    }
    let (p, rc) = (lcs / c.len() as f64, lcs / r.len() as f64);
    2.0 * p * rc / (p + rc)
}

struct Record {
    headline: String,
    summary: String,
    facts: BTreeSet<String>,
}

impl Record {
    fn of(r: &ArticleDigest) -> Record {
        Record {
            headline: r.headline.clone(),
            summary: r.summary.join(" "),
            facts: r
                .facts
                .iter()
                .map(|f| format!("{}: {}", f.kind.name(), f.text))
                .collect(),
        }
    }
}

fn load_dir(dir: &Path) -> Result<BTreeMap<String, Record>> {
    Ok(Store::open(dir)?
        .articles()?
        .iter()
        .map(|r| (r.id.clone(), Record::of(r)))
        .collect())
}

/// Compare the article records (`<id>.json`) of two output directories.
pub fn compare_dirs(baseline: &Path, new: &Path) -> Result<CompareReport> {
    let (a, b) = (load_dir(baseline)?, load_dir(new)?);
    let ids: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut articles = Vec::new();
    for id in ids {
        let cmp = match (a.get(id), b.get(id)) {
            (Some(x), Some(y)) => {
                let same = x.summary == y.summary && x.headline == y.headline && x.facts == y.facts;
                ArticleComparison {
                    id: id.clone(),
                    status: if same { Status::Same } else { Status::Changed },
                    summary_chrf: Some(chrf_sentence(&y.summary, &x.summary)),
                    summary_rouge_l: Some(rouge_l(&y.summary, &x.summary)),
                    headline_chrf: Some(chrf_sentence(&y.headline, &x.headline)),
                    facts_removed: x.facts.difference(&y.facts).cloned().collect(),
                    facts_added: y.facts.difference(&x.facts).cloned().collect(),
                }
            }
            (x, _) => ArticleComparison {
                id: id.clone(),
                status: if x.is_some() {
                    Status::OnlyBaseline
                } else {
                    Status::OnlyNew
                },
                summary_chrf: None,
                summary_rouge_l: None,
                headline_chrf: None,
                facts_removed: Vec::new(),
                facts_added: Vec::new(),
            },
        };
        articles.push(cmp);
    }
    let scores: Vec<f64> = articles.iter().filter_map(|a| a.summary_chrf).collect();
    Ok(CompareReport {
        mean_summary_chrf: (!scores.is_empty())
            .then(|| scores.iter().sum::<f64>() / scores.len() as f64),
        min_summary_chrf: scores.iter().copied().reduce(f64::min),
        articles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Fact, FactKind};

    #[test]
    fn rouge_l_matches_hand_computation() {
        // LCS("the cat sat", "the cat was sat") = 3 → P = 1, R = 3/4.
        let f = rouge_l("The cat sat.", "the cat was sat");
        assert!((f - 2.0 * 0.75 / 1.75).abs() < 1e-12, "{f}");
        assert_eq!(rouge_l("", "x"), 0.0);
        assert_eq!(rouge_l("a b", "c d"), 0.0);
    }

    fn write(dir: &Path, id: &str, headline: &str, summary: &[&str], facts: &[(FactKind, &str)]) {
        let facts = facts
            .iter()
            .map(|(k, t)| Fact::new(*k, t, (0, t.len()), 0))
            .collect();
        let rec = crate::store::record::sample(id, headline, summary, facts);
        Store::create(dir).unwrap().write_article(&rec, "").unwrap();
    }

    #[test]
    fn runs_are_compared_article_by_article() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(
            a.path(),
            "x",
            "H",
            &["Umerov met Kallas in Brussels."],
            &[(FactKind::Person, "Умєров")],
        );
        write(
            b.path(),
            "x",
            "H",
            &["Umerov met Kallas in Brussels."],
            &[(FactKind::Person, "Умєров")],
        );
        write(
            a.path(),
            "y",
            "H",
            &["NATO pledged air defence."],
            &[(FactKind::Organization, "НАТО")],
        );
        write(
            b.path(),
            "y",
            "H2",
            &["Something else entirely."],
            &[(FactKind::Place, "Київ")],
        );
        write(a.path(), "z", "H", &["Gone."], &[]);
        let r = compare_dirs(a.path(), b.path()).unwrap();
        let by: BTreeMap<&str, &ArticleComparison> =
            r.articles.iter().map(|c| (c.id.as_str(), c)).collect();
        assert_eq!(by["x"].status, Status::Same);
        assert!((by["x"].summary_chrf.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(by["y"].status, Status::Changed);
        assert!(by["y"].summary_chrf.unwrap() < 40.0);
        assert_eq!(by["y"].facts_removed, vec!["organization: НАТО"]);
        assert_eq!(by["y"].facts_added, vec!["place: Київ"]);
        assert_eq!(by["z"].status, Status::OnlyBaseline);
        let reg: Vec<&str> = r.regressions(50.0).iter().map(|c| c.id.as_str()).collect();
        assert_eq!(reg, vec!["y", "z"]);
    }
}
