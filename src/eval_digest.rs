//! `eval-digest`: score the article records of a digest run against a
//! hand-made gold set (`tests/gold/seeds.json`; format and house style in
//! `tests/gold/README.md`).
//!
//! For every record `OUTDIR/<id>.json` with a gold article of that id the
//! scores are (the record is read as a [`RecordView`], the fields of
//! [`crate::store::ArticleDigest`] the scores use):
//!
//! * **people, organisations, places**: precision and recall of the
//!   record's facts of that kind against the gold entities. A prediction is
//!   a fact's English (`Fact::english`), deduplicated by its normalized
//!   form ([`fold`]: case-, accent- and punctuation-insensitive, a leading
//!   "the" dropped). A person matches a gold person when the names are
//!   equal, when the prediction is the surname alone, or when the surnames
//!   are equal and the given names start with the same letter — against
//!   the gold name or any alias. Organisations and places match on the
//!   name or an alias, or on the Ukrainian nominative (`Fact::normalized`
//!   equal to the gold `uk`). Precision: predictions that match some gold
//!   entity / predictions; recall: gold entities matched by some
//!   prediction / gold entities.
//! * **role accuracy**: over gold people with a role that some prediction
//!   matched, the share whose English role (`role_en` of the fact, read
//!   from the record's JSON so that records without the field score 0)
//!   equals the gold role or a role alias, compared by [`normalize_role`].
//! * **numbers**: precision and recall of the `normalized` values of the
//!   number facts against the gold values (equal strings or equal numbers).
//! * **must-mention**: the share of gold terms found (any alias) in the
//!   headline and summary, case-insensitive, as whole words.
//! * **summary entity precision**: proper names in the headline and
//!   summary (runs of capitalised words, possibly joined by `of`, `the`,
//!   `for`, `on`; a sentence's first word is left out when it is a common
//!   English word, month and weekday names always; a headline or sentence
//!   in Title Case is left out, [`is_title_case`]) whose every word occurs
//!   in the gold vocabulary of the article (names, aliases, roles, terms),
//!   in the record's English (`title_en`, `paragraphs[].sentences[].en`) or
//!   in the facts' English; found / names (distinct per article).
//! * **inconsistent names**: gold people whose surname the record's English
//!   fields (`title_en`, headline, summary, the translation, facts'
//!   English and roles) spell in more than one way. A capitalised word
//!   (of three letters or more, not an honorific such as `Mr`)
//!   counts as a spelling of a surname when its consonant skeleton
//!   ([`skeleton`]) is within edit distance 1 of the surname's (equal for
//!   skeletons under 3 letters), and nearer to it than to any other gold
//!   surname of the article; a word the fields also write in lower case
//!   (`Allies` opening a sentence, `allies` elsewhere) is a common word.
//! * **Cyrillic fields**: English fields (`title_en`, headline, each summary
//!   sentence, each English sentence, each fact's English and English role)
//!   that contain a Cyrillic letter.
//!
//! Records without gold are listed as skipped; gold articles without a
//! record are missing and count as zero recall (people, organisations,
//! places, numbers, must-mention). Totals are micro-averaged: the sums of
//! matches over the sums of counts.
use crate::facts::FactKind;
use crate::store::{RecordKind, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What can go wrong: a gold file that cannot be used, a threshold that
/// does not parse, an output folder or record that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("gold file {path}: {reason}")]
    Gold { path: PathBuf, reason: String },
    #[error("{0}")]
    Threshold(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

// ---------------------------------------------------------------- gold set

/// A gold file: the annotated articles.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldSet {
    /// A note for readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    pub articles: Vec<GoldArticle>,
}

/// One distinct article, annotated once, with every article id it has.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldArticle {
    /// The article ids (file stems) this annotation applies to.
    pub ids: Vec<String>,
    /// The input files of the article, relative to the repository root.
    #[serde(default)]
    pub files: Vec<String>,
    /// An English gloss of the title, for readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub people: Vec<GoldPerson>,
    #[serde(default)]
    pub organizations: Vec<GoldEntity>,
    #[serde(default)]
    pub places: Vec<GoldEntity>,
    #[serde(default)]
    pub numbers: Vec<GoldNumber>,
    #[serde(default)]
    pub must_mention: Vec<GoldTerm>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldPerson {
    /// Canonical English name (house style).
    pub name: String,
    /// Other acceptable English spellings (the surname alone is matched
    /// without being listed).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Ukrainian nominative.
    pub uk: String,
    /// English role as this article states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub role_aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldEntity {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Ukrainian nominative, as `Fact::normalized` holds it.
    pub uk: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldNumber {
    /// The value as `Fact::normalized` stores it (`1500000000`, `4.81`,
    /// `135/156`; ordinals as the number).
    pub value: String,
    /// The Ukrainian surface form in the article (`1,5 млрд доларів`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldTerm {
    pub term: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl GoldPerson {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// The surname of the canonical name, normalized.
    pub fn surname(&self) -> String {
        fold(&self.name)
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

impl GoldEntity {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

impl GoldTerm {
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.term.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

impl GoldSet {
    /// Read and check a gold file.
    pub fn load(path: &Path) -> Result<GoldSet, EvalError> {
        let bad = |reason: String| EvalError::Gold {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let gold: GoldSet = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        gold.validate().map_err(bad)?;
        Ok(gold)
    }

    /// Every article has ids, no id is annotated twice, no name or value
    /// is empty.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for (i, a) in self.articles.iter().enumerate() {
            let at = |what: &str| format!("articles[{i}]: {what}");
            if a.ids.is_empty() {
                return Err(at("no ids"));
            }
            for id in &a.ids {
                if id.trim().is_empty() {
                    return Err(at("an empty id"));
                }
                if !seen.insert(id.as_str()) {
                    return Err(at(&format!("id {id:?} is annotated twice")));
                }
            }
            let names = a
                .people
                .iter()
                .flat_map(|p| p.names().chain([p.uk.as_str()]))
                .chain(
                    a.organizations
                        .iter()
                        .chain(&a.places)
                        .flat_map(|e| e.names().chain([e.uk.as_str()])),
                )
                .chain(a.must_mention.iter().flat_map(|t| t.names()))
                .chain(a.numbers.iter().map(|n| n.value.as_str()));
            for n in names {
                if fold(n).is_empty() {
                    return Err(at(&format!("an empty name or value ({n:?})")));
                }
            }
        }
        Ok(())
    }

    /// The gold article of an article id.
    pub fn article(&self, id: &str) -> Option<&GoldArticle> {
        self.articles.iter().find(|a| a.ids.iter().any(|i| i == id))
    }
}

// ---------------------------------------------------------------- metrics

/// The metrics, by the names thresholds use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    PersonPrecision,
    PersonRecall,
    RoleAccuracy,
    OrganizationPrecision,
    OrganizationRecall,
    PlacePrecision,
    PlaceRecall,
    NumberPrecision,
    NumberRecall,
    MustMention,
    SummaryEntityPrecision,
    InconsistentNames,
    CyrillicFields,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Metric::PersonPrecision,
        Metric::PersonRecall,
        Metric::RoleAccuracy,
        Metric::OrganizationPrecision,
        Metric::OrganizationRecall,
        Metric::PlacePrecision,
        Metric::PlaceRecall,
        Metric::NumberPrecision,
        Metric::NumberRecall,
        Metric::MustMention,
        Metric::SummaryEntityPrecision,
        Metric::InconsistentNames,
        Metric::CyrillicFields,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::PersonPrecision => "person_precision",
            Metric::PersonRecall => "person_recall",
            Metric::RoleAccuracy => "role_accuracy",
            Metric::OrganizationPrecision => "organization_precision",
            Metric::OrganizationRecall => "organization_recall",
            Metric::PlacePrecision => "place_precision",
            Metric::PlaceRecall => "place_recall",
            Metric::NumberPrecision => "number_precision",
            Metric::NumberRecall => "number_recall",
            Metric::MustMention => "must_mention",
            Metric::SummaryEntityPrecision => "summary_entity_precision",
            Metric::InconsistentNames => "inconsistent_names",
            Metric::CyrillicFields => "cyrillic_fields",
        }
    }

    /// The metric of a name; an unknown name is an error listing the
    /// valid ones.
    pub fn parse(name: &str) -> Result<Metric, EvalError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let valid: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                EvalError::Threshold(format!(
                    "unknown metric \"{name}\"; valid metrics: {}",
                    valid.join(", ")
                ))
            })
    }

    /// A count (lower is better), not a share.
    pub fn is_count(self) -> bool {
        matches!(self, Metric::InconsistentNames | Metric::CyrillicFields)
    }
}

/// `hits` of `total`; `value` is their ratio (none when `total` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    pub hits: usize,
    pub total: usize,
}

impl Score {
    pub fn new(hits: usize, total: usize) -> Score {
        Score { hits, total }
    }

    pub fn value(self) -> Option<f64> {
        (self.total > 0).then(|| self.hits as f64 / self.total as f64)
    }

    fn add(&mut self, o: Score) {
        self.hits += o.hits;
        self.total += o.total;
    }
}

impl Serialize for Score {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Score", 3)?;
        st.serialize_field("hits", &self.hits)?;
        st.serialize_field("total", &self.total)?;
        st.serialize_field("value", &self.value())?;
        st.end()
    }
}

/// Every metric of an article, or of all articles (micro-averaged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub person_precision: Score,
    pub person_recall: Score,
    pub role_accuracy: Score,
    pub organization_precision: Score,
    pub organization_recall: Score,
    pub place_precision: Score,
    pub place_recall: Score,
    pub number_precision: Score,
    pub number_recall: Score,
    pub must_mention: Score,
    pub summary_entity_precision: Score,
    pub inconsistent_names: usize,
    pub cyrillic_fields: usize,
}

impl Metrics {
    /// The share of a metric, or the count for the count metrics; none for
    /// a share with nothing to score.
    pub fn value(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::InconsistentNames => Some(self.inconsistent_names as f64),
            Metric::CyrillicFields => Some(self.cyrillic_fields as f64),
            _ => self.score(m).and_then(Score::value),
        }
    }

    /// The hits/total of a share metric.
    pub fn score(&self, m: Metric) -> Option<Score> {
        Some(match m {
            Metric::PersonPrecision => self.person_precision,
            Metric::PersonRecall => self.person_recall,
            Metric::RoleAccuracy => self.role_accuracy,
            Metric::OrganizationPrecision => self.organization_precision,
            Metric::OrganizationRecall => self.organization_recall,
            Metric::PlacePrecision => self.place_precision,
            Metric::PlaceRecall => self.place_recall,
            Metric::NumberPrecision => self.number_precision,
            Metric::NumberRecall => self.number_recall,
            Metric::MustMention => self.must_mention,
            Metric::SummaryEntityPrecision => self.summary_entity_precision,
            Metric::InconsistentNames | Metric::CyrillicFields => return None,
        })
    }

    fn add(&mut self, o: &Metrics) {
        self.person_precision.add(o.person_precision);
        self.person_recall.add(o.person_recall);
        self.role_accuracy.add(o.role_accuracy);
        self.organization_precision.add(o.organization_precision);
        self.organization_recall.add(o.organization_recall);
        self.place_precision.add(o.place_precision);
        self.place_recall.add(o.place_recall);
        self.number_precision.add(o.number_precision);
        self.number_recall.add(o.number_recall);
        self.must_mention.add(o.must_mention);
        self.summary_entity_precision
            .add(o.summary_entity_precision);
        self.inconsistent_names += o.inconsistent_names;
        self.cyrillic_fields += o.cyrillic_fields;
    }
}

/// A role that did not match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleMiss {
    pub person: String,
    /// The record's English roles for the person (none: no `role_en`).
    pub got: Vec<String>,
    pub want: String,
}

/// A person whose surname is spelled more than one way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inconsistent {
    pub person: String,
    pub spellings: Vec<String>,
}

/// What went wrong in an article, item by item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Details {
    /// Gold people no prediction matched.
    pub people_missed: Vec<String>,
    /// Predicted people that match no gold person.
    pub people_extra: Vec<String>,
    pub roles_wrong: Vec<RoleMiss>,
    pub organizations_missed: Vec<String>,
    pub organizations_extra: Vec<String>,
    pub places_missed: Vec<String>,
    pub places_extra: Vec<String>,
    pub numbers_missed: Vec<String>,
    pub numbers_extra: Vec<String>,
    pub must_mention_missed: Vec<String>,
    /// Names in the headline and summary found nowhere in the article.
    pub summary_names_unfound: Vec<String>,
    pub inconsistent_names: Vec<Inconsistent>,
    /// The English fields that contain Cyrillic (`headline`, `summary[1]`,
    /// `paragraphs[2].sentences[0].en`, `facts[4].english`, …).
    pub cyrillic_fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A record was scored.
    Scored,
    /// The gold article has no record: zero recall.
    Missing,
}

/// The scores of one article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleScore {
    /// The record's id (for a missing article: its gold ids, joined by `, `).
    pub id: String,
    pub status: Status,
    pub metrics: Metrics,
    pub details: Details,
}

/// Lower or upper bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Min,
    Max,
}

/// `--min METRIC=VALUE` or `--max METRIC=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub bound: Bound,
    pub limit: f64,
}

impl Threshold {
    /// Parse `METRIC=VALUE`.
    pub fn parse(spec: &str, bound: Bound) -> Result<Threshold, EvalError> {
        let flag = match bound {
            Bound::Min => "--min",
            Bound::Max => "--max",
        };
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| EvalError::Threshold(format!("{flag} {spec}: expected METRIC=VALUE")))?;
        let metric = Metric::parse(name.trim())?;
        let limit: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                EvalError::Threshold(format!("{flag} {spec}: {value:?} is not a number"))
            })?;
        Ok(Threshold {
            metric,
            bound,
            limit,
        })
    }
}

/// A threshold and whether the totals hold it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdResult {
    pub metric: &'static str,
    pub bound: Bound,
    pub limit: f64,
    /// The total's value (none: nothing to score, which fails).
    pub value: Option<f64>,
    pub ok: bool,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub outdir: PathBuf,
    pub gold: PathBuf,
    /// Scored records, then missing gold articles.
    pub articles: Vec<ArticleScore>,
    /// Records without a gold article.
    pub skipped: Vec<String>,
    /// Micro-averaged over `articles`.
    pub total: Metrics,
    pub thresholds: Vec<ThresholdResult>,
}

impl Report {
    /// Whether every threshold holds.
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }

    /// Check the totals against thresholds (replacing earlier results).
    pub fn apply(&mut self, thresholds: &[Threshold]) {
        self.thresholds = thresholds
            .iter()
            .map(|t| {
                let value = self.total.value(t.metric);
                let ok = value.is_some_and(|v| match t.bound {
                    Bound::Min => v >= t.limit,
                    Bound::Max => v <= t.limit,
                });
                ThresholdResult {
                    metric: t.metric.name(),
                    bound: t.bound,
                    limit: t.limit,
                    value,
                    ok,
                }
            })
            .collect();
    }
}

/// Score every article record of `outdir` against the gold file, and
/// check the totals against `thresholds`.
pub fn run(outdir: &Path, gold_path: &Path, thresholds: &[Threshold]) -> Result<Report, EvalError> {
    let gold = GoldSet::load(gold_path)?;
    let store = Store::open(outdir)?;
    let records = read_records(&store)?;
    let mut report = evaluate(&records, &gold);
    report.outdir = outdir.to_path_buf();
    report.gold = gold_path.to_path_buf();
    report.apply(thresholds);
    Ok(report)
}

/// The parts of an article record ([`crate::store::ArticleDigest`]) that
/// the scores read. Read leniently: every field but `id` may be absent,
/// and a fact's `role_en` (the English role, newer records) is read when
/// present, so that records of other versions of the program score too —
/// among them the normalized records of `tests/data/eval_digest_records/`, which
/// the store's typed reader rejects (their timings are dropped).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordView {
    pub id: String,
    #[serde(default)]
    pub title_en: String,
    #[serde(default)]
    pub headline: String,
    #[serde(default)]
    pub summary: Vec<String>,
    #[serde(default)]
    pub facts: Vec<FactView>,
    #[serde(default)]
    pub paragraphs: Vec<ParagraphView>,
}

/// The parts of a [`crate::facts::Fact`] the scores read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FactView {
    /// [`FactKind::name`]: `person`, `organization`, `place`, `number`, ….
    pub kind: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub normalized: Option<String>,
    #[serde(default)]
    pub english: Option<String>,
    /// People: the English role (absent in records written before it).
    #[serde(default)]
    pub role_en: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ParagraphView {
    #[serde(default)]
    pub sentences: Vec<SentenceView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SentenceView {
    #[serde(default)]
    pub en: String,
}

/// Every article record of a store, sorted by id: the JSON files at the
/// store's record path of their `id` that have the fields of an article
/// record (`id`, `summary`, `provenance`). Translation records, reports
/// and other JSON are passed over; an article record that does not parse
/// is an error naming the file.
pub fn read_records(store: &Store) -> Result<Vec<RecordView>, EvalError> {
    let dir = store.dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| crate::Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| crate::Error::io(&f, e))?;
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let id = match value.get("id").and_then(|v| v.as_str()) {
            Some(id) => id.to_string(),
            None => continue,
        };
        let article = value.get("summary").is_some_and(|v| v.is_array())
            && value.get("provenance").is_some()
            && store.record_path(RecordKind::Digest, &id) == f;
        if !article {
            continue;
        }
        let rec: RecordView = serde_json::from_value(value).map_err(|e| crate::Error::Record {
            path: f.clone(),
            reason: format!("does not parse as an article record: {e}"),
        })?;
        out.push(rec);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Score records against a gold set.
pub fn evaluate(records: &[RecordView], gold: &GoldSet) -> Report {
    let mut articles = Vec::new();
    let mut skipped = Vec::new();
    let mut covered: BTreeSet<usize> = BTreeSet::new();
    for rec in records {
        let Some((gi, g)) = gold
            .articles
            .iter()
            .enumerate()
            .find(|(_, a)| a.ids.contains(&rec.id))
        else {
            skipped.push(rec.id.clone());
            continue;
        };
        covered.insert(gi);
        articles.push(score_article(rec, g));
    }
    for (gi, g) in gold.articles.iter().enumerate() {
        if !covered.contains(&gi) {
            articles.push(score_missing(g));
        }
    }
    let mut total = Metrics::default();
    for a in &articles {
        total.add(&a.metrics);
    }
    Report {
        outdir: PathBuf::new(),
        gold: PathBuf::new(),
        articles,
        skipped,
        total,
        thresholds: Vec::new(),
    }
}

// ---------------------------------------------------------------- scoring

/// A predicted entity: its English (if any), the Ukrainian nominative, and
/// the English roles of its facts.
struct Prediction {
    english: Option<String>,
    uk: Option<String>,
    roles: Vec<String>,
}

impl Prediction {
    fn label(&self) -> String {
        match (&self.english, &self.uk) {
            (Some(e), _) => e.clone(),
            (None, Some(u)) => format!("(no English) {u}"),
            (None, None) => "(no English)".into(),
        }
    }
}

/// The facts of a kind, one prediction per normalized English form (or
/// Ukrainian form when there is no English).
fn predictions(facts: &[FactView], kind: FactKind) -> Vec<Prediction> {
    let mut out: Vec<Prediction> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for f in facts {
        if f.kind != kind.name() {
            continue;
        }
        let english = f.english.clone().filter(|e| !fold(e).is_empty());
        let uk = f.normalized.clone().or_else(|| Some(f.text.clone()));
        let key = match (&english, &uk) {
            (Some(e), _) => format!("en:{}", fold(e)),
            (None, Some(u)) => format!("uk:{}", fold(u)),
            (None, None) => continue,
        };
        let role = f.role_en.clone();
        let at = *index.entry(key).or_insert_with(|| {
            out.push(Prediction {
                english,
                uk,
                roles: Vec::new(),
            });
            out.len() - 1
        });
        if let Some(r) = role {
            out[at].roles.push(r);
        }
    }
    out
}

/// Whether a predicted English name is the gold person.
pub fn person_matches(predicted: &str, gold: &GoldPerson) -> bool {
    let p = fold(predicted);
    let p: Vec<&str> = p.split(' ').filter(|w| !w.is_empty()).collect();
    if p.is_empty() {
        return false;
    }
    gold.names().any(|name| {
        let c = fold(name);
        let c: Vec<&str> = c.split(' ').filter(|w| !w.is_empty()).collect();
        let (Some(&p_last), Some(&c_last)) = (p.last(), c.last()) else {
            return false;
        };
        if p == c || (p.len() == 1 && p_last == c_last) {
            return true;
        }
        p.len() >= 2
            && c.len() >= 2
            && p_last == c_last
            && p[0].chars().next() == c[0].chars().next()
    })
}

/// Whether a predicted organisation or place is the gold entity.
fn entity_matches(p: &Prediction, gold: &GoldEntity) -> bool {
    let by_name = p.english.as_deref().is_some_and(|e| {
        let e = fold(e);
        gold.names().any(|n| fold(n) == e)
    });
    let by_uk = p.uk.as_deref().is_some_and(|u| fold(u) == fold(&gold.uk));
    by_name || by_uk
}

/// Precision and recall of predictions against gold items; the labels of
/// the gold items missed and of the predictions that match nothing.
fn precision_recall<G>(
    preds: &[Prediction],
    gold: &[G],
    matches: impl Fn(&Prediction, &G) -> bool,
    gold_label: impl Fn(&G) -> String,
) -> (Score, Score, Vec<String>, Vec<String>) {
    let mut extra = Vec::new();
    let mut hits = 0;
    for p in preds {
        if gold.iter().any(|g| matches(p, g)) {
            hits += 1;
        } else {
            extra.push(p.label());
        }
    }
    let mut missed = Vec::new();
    let mut found = 0;
    for g in gold {
        if preds.iter().any(|p| matches(p, g)) {
            found += 1;
        } else {
            missed.push(gold_label(g));
        }
    }
    (
        Score::new(hits, preds.len()),
        Score::new(found, gold.len()),
        missed,
        extra,
    )
}

/// Whether two normalized number values are the same.
fn same_number(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn score_article(rec: &RecordView, g: &GoldArticle) -> ArticleScore {
    let mut m = Metrics::default();
    let mut d = Details::default();

    // People and roles.
    let people = predictions(&rec.facts, FactKind::Person);
    let pmatch = |p: &Prediction, gp: &GoldPerson| {
        p.english.as_deref().is_some_and(|e| person_matches(e, gp))
    };
    let (pp, pr, missed, extra) =
        precision_recall(&people, &g.people, pmatch, |gp| gp.name.clone());
    (m.person_precision, m.person_recall) = (pp, pr);
    (d.people_missed, d.people_extra) = (missed, extra);
    for gp in &g.people {
        let Some(role) = &gp.role else { continue };
        let matched: Vec<&Prediction> = people.iter().filter(|p| pmatch(p, gp)).collect();
        if matched.is_empty() {
            continue;
        }
        m.role_accuracy.total += 1;
        let accepted: Vec<String> = std::iter::once(role)
            .chain(&gp.role_aliases)
            .map(|r| normalize_role(r))
            .collect();
        let got: Vec<String> = matched.iter().flat_map(|p| p.roles.clone()).collect();
        if got.iter().any(|r| accepted.contains(&normalize_role(r))) {
            m.role_accuracy.hits += 1;
        } else {
            d.roles_wrong.push(RoleMiss {
                person: gp.name.clone(),
                got,
                want: role.clone(),
            });
        }
    }

    // Organisations and places.
    let label = |e: &GoldEntity| e.name.clone();
    let orgs = predictions(&rec.facts, FactKind::Organization);
    let (op, or, missed, extra) = precision_recall(&orgs, &g.organizations, entity_matches, label);
    (m.organization_precision, m.organization_recall) = (op, or);
    (d.organizations_missed, d.organizations_extra) = (missed, extra);
    let places = predictions(&rec.facts, FactKind::Place);
    let (lp, lr, missed, extra) = precision_recall(&places, &g.places, entity_matches, label);
    (m.place_precision, m.place_recall) = (lp, lr);
    (d.places_missed, d.places_extra) = (missed, extra);

    // Numbers.
    let mut numbers: Vec<Prediction> = Vec::new();
    for f in rec
        .facts
        .iter()
        .filter(|f| f.kind == FactKind::Number.name())
    {
        if let Some(v) = &f.normalized {
            if !numbers
                .iter()
                .any(|p| p.uk.as_deref().is_some_and(|u| same_number(u, v)))
            {
                numbers.push(Prediction {
                    english: Some(v.clone()),
                    uk: Some(v.clone()),
                    roles: Vec::new(),
                });
            }
        }
    }
    let (np, nr, missed, extra) = precision_recall(
        &numbers,
        &g.numbers,
        |p, n| p.uk.as_deref().is_some_and(|u| same_number(u, &n.value)),
        |n| n.value.clone(),
    );
    (m.number_precision, m.number_recall) = (np, nr);
    (d.numbers_missed, d.numbers_extra) = (missed, extra);

    // Must-mention.
    let summary_text = std::iter::once(rec.headline.as_str())
        .chain(rec.summary.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    let hay = format!(" {} ", fold(&summary_text));
    for t in &g.must_mention {
        m.must_mention.total += 1;
        if t.names().any(|n| hay.contains(&format!(" {} ", fold(n)))) {
            m.must_mention.hits += 1;
        } else {
            d.must_mention_missed.push(t.term.clone());
        }
    }

    // Summary entities.
    let mut vocabulary: HashSet<String> = HashSet::new();
    let mut learn = |s: &str| {
        for w in fold(s).split(' ').filter(|w| !w.is_empty()) {
            vocabulary.insert(w.to_string());
        }
    };
    for p in &g.people {
        p.names()
            .chain(p.role.as_deref())
            .chain(p.role_aliases.iter().map(String::as_str))
            .for_each(&mut learn);
    }
    for e in g.organizations.iter().chain(&g.places) {
        e.names().for_each(&mut learn);
    }
    for t in &g.must_mention {
        t.names().for_each(&mut learn);
    }
    learn(&rec.title_en);
    for s in rec.paragraphs.iter().flat_map(|p| &p.sentences) {
        learn(&s.en);
    }
    for f in &rec.facts {
        f.english.iter().chain(&f.role_en).for_each(|e| learn(e));
    }
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for text in std::iter::once(&rec.headline).chain(&rec.summary) {
        if is_title_case(text) {
            continue; // its names cannot be told from its other words
        }
        for n in proper_names(text) {
            names.entry(fold(&n)).or_insert(n);
        }
    }
    for (key, name) in &names {
        m.summary_entity_precision.total += 1;
        if key
            .split(' ')
            .filter(|w| !w.is_empty() && !CONNECTORS.contains(w))
            .all(|w| vocabulary.contains(w))
        {
            m.summary_entity_precision.hits += 1;
        } else {
            d.summary_names_unfound.push(name.clone());
        }
    }

    // English fields, for name consistency and Cyrillic.
    let mut fields: Vec<(String, &str)> = vec![
        ("title_en".into(), rec.title_en.as_str()),
        ("headline".into(), rec.headline.as_str()),
    ];
    for (i, s) in rec.summary.iter().enumerate() {
        fields.push((format!("summary[{i}]"), s));
    }
    for (pi, p) in rec.paragraphs.iter().enumerate() {
        for (si, s) in p.sentences.iter().enumerate() {
            fields.push((format!("paragraphs[{pi}].sentences[{si}].en"), &s.en));
        }
    }
    for (i, f) in rec.facts.iter().enumerate() {
        if let Some(e) = &f.english {
            fields.push((format!("facts[{i}].english"), e));
        }
        if let Some(r) = &f.role_en {
            fields.push((format!("facts[{i}].role_en"), r));
        }
    }
    d.inconsistent_names = inconsistent_names(&g.people, fields.iter().map(|(_, t)| *t));
    m.inconsistent_names = d.inconsistent_names.len();
    d.cyrillic_fields = fields
        .iter()
        .filter(|(_, t)| has_cyrillic(t))
        .map(|(n, _)| n.clone())
        .collect();
    m.cyrillic_fields = d.cyrillic_fields.len();

    ArticleScore {
        id: rec.id.clone(),
        status: Status::Scored,
        metrics: m,
        details: d,
    }
}

/// A gold article without a record: zero recall on everything it has.
fn score_missing(g: &GoldArticle) -> ArticleScore {
    let m = Metrics {
        person_recall: Score::new(0, g.people.len()),
        organization_recall: Score::new(0, g.organizations.len()),
        place_recall: Score::new(0, g.places.len()),
        number_recall: Score::new(0, g.numbers.len()),
        must_mention: Score::new(0, g.must_mention.len()),
        ..Metrics::default()
    };
    let d = Details {
        people_missed: g.people.iter().map(|p| p.name.clone()).collect(),
        organizations_missed: g.organizations.iter().map(|e| e.name.clone()).collect(),
        places_missed: g.places.iter().map(|e| e.name.clone()).collect(),
        numbers_missed: g.numbers.iter().map(|n| n.value.clone()).collect(),
        must_mention_missed: g.must_mention.iter().map(|t| t.term.clone()).collect(),
        ..Details::default()
    };
    ArticleScore {
        id: g.ids.join(", "),
        status: Status::Missing,
        metrics: m,
        details: d,
    }
}

// ---------------------------------------------------------------- text rules

/// Fold a Latin letter with a diacritic to its base letters (`é` → `e`,
/// `ø` → `o`, `ß` → `ss`); other characters are returned as they are.
fn fold_char(c: char, out: &mut String) {
    let base = match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'þ' => "th",
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(base);
}

/// The form names are compared in: lowercase, Latin diacritics folded,
/// apostrophes dropped (a possessive `'s` with its apostrophe), every other non-alphanumeric character a space,
/// spaces collapsed, a leading "the" dropped.
pub fn fold(s: &str) -> String {
    let mut lower = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        fold_char(c, &mut lower);
    }
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::with_capacity(lower.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if matches!(c, '\'' | '’' | 'ʼ' | '`' | '´') {
            // A possessive `'s` goes with its apostrophe.
            if chars.get(i) == Some(&'s') && chars.get(i + 1).is_none_or(|n| !n.is_alphanumeric()) {
                i += 1;
            }
            continue;
        }
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    let out = out.trim_end();
    out.strip_prefix("the ").unwrap_or(out).to_string()
}

/// Military ranks a role may end with after a comma (`Chief of the
/// General Staff, Major General`): the rank is not part of the office.
const RANKS: &[&str] = &[
    "general",
    "major general",
    "lieutenant general",
    "colonel general",
    "brigadier general",
    "colonel",
    "admiral",
];

/// The form roles are compared in: a trailing military rank dropped,
/// [`fold`], the articles `the`, `a`, `an` dropped, American `defense` as
/// British `defence`.
pub fn normalize_role(s: &str) -> String {
    let s = match s.rsplit_once(',') {
        Some((office, rank)) if RANKS.contains(&rank.trim().to_lowercase().as_str()) => office,
        _ => s,
    };
    fold(s)
        .split(' ')
        .filter(|w| !w.is_empty() && !matches!(*w, "the" | "a" | "an"))
        .map(|w| match w {
            "defense" => "defence",
            w => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words that may join the capitalised words of one name
/// (`Coalition of the Willing`).
const CONNECTORS: &[&str] = &["of", "the", "for", "on", "de", "von", "van", "der"];

/// Common English words that are capitalised only because they begin a
/// sentence.
const SENTENCE_STARTERS: &str =
    "a about according additionally after against all also although amid among an and another \
     as at because before besides both but by despite during each earlier every finally first \
     following for from further furthermore he her here his however i if in instead it its \
     key later many meanwhile moreover most my new no not now of on one only or other our \
     over overall regarding second separately she since so some such that the their then \
     there these they this those though through thus to today tomorrow under until we what \
     when where which while who why with within without yesterday yet you your";

const MONTHS_AND_WEEKDAYS: &str =
    "january february march april may june july august september october november december \
     monday tuesday wednesday thursday friday saturday sunday";

/// Words a Title Case headline leaves in lowercase.
const TITLE_SMALL_WORDS: &str =
    "a amid an and as at but by for from in into nor of off on onto or over per so the to up \
     via vs with yet";

/// Honorifics and ranks, which are not spellings of a surname.
const HONORIFICS: &str = "mr mrs ms dr sir madam mme gen col lt maj capt prof";

/// Whether a text is in Title Case (`Russia Increases Rocket Production`):
/// at least three capitalised words after the first and no lowercase word
/// but the small words Title Case keeps lowercase.
pub fn is_title_case(text: &str) -> bool {
    let ws = words(text);
    let rest = ws
        .iter()
        .skip(1)
        .filter(|w| w.text.chars().next().is_some_and(char::is_alphabetic));
    let (mut caps, mut lower) = (0, 0);
    for w in rest {
        if is_capitalised(w.text) {
            caps += 1;
        } else if !listed(TITLE_SMALL_WORDS, &fold(w.text)) {
            lower += 1;
        }
    }
    caps >= 3 && lower == 0
}

/// Whether a word is in a space-separated list.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// A word of a text and what precedes it.
struct Word<'a> {
    text: &'a str,
    /// Only whitespace since the previous word (same phrase).
    joined: bool,
    /// The first word of a sentence.
    sentence_start: bool,
}

/// Words: letters and digits, with apostrophes, hyphens and dots inside
/// (`Commander-in-Chief`, `Umerov's`, `U.S`).
fn words(text: &str) -> Vec<Word<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut gap_plain = true;
    let mut sentence_start = true;
    while i < chars.len() {
        let (start, c) = chars[i];
        if !c.is_alphanumeric() {
            if !c.is_whitespace() {
                gap_plain = false;
            }
            if matches!(c, '.' | '!' | '?')
                && chars.get(i + 1).is_none_or(|&(_, n)| n.is_whitespace())
            {
                sentence_start = true;
            }
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() {
            let c = chars[j].1;
            let inner = matches!(c, '\'' | '’' | '-' | '.')
                && chars.get(j + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
            if c.is_alphanumeric() || inner {
                j += 1;
            } else {
                break;
            }
        }
        let end = chars.get(j).map_or(text.len(), |&(b, _)| b);
        out.push(Word {
            text: &text[start..end],
            joined: gap_plain && !out.is_empty(),
            sentence_start,
        });
        gap_plain = true;
        sentence_start = false;
        i = j;
    }
    out
}

/// A word without a possessive ending (`Umerov's` → `Umerov`).
fn strip_possessive(w: &str) -> &str {
    w.strip_suffix("'s")
        .or_else(|| w.strip_suffix("’s"))
        .unwrap_or(w)
}

fn is_capitalised(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// The proper names of a text: runs of capitalised words, joined by
/// [`CONNECTORS`], without sentence-initial common words and month and
/// weekday names.
pub fn proper_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    let flush = |run: &mut Vec<&str>, pending: &mut Vec<&str>, names: &mut Vec<String>| {
        if !run.is_empty() {
            names.push(run.join(" "));
        }
        run.clear();
        pending.clear();
    };
    for w in words(text) {
        let word = strip_possessive(w.text);
        let lower = fold(word);
        let name_word = is_capitalised(word)
            && !listed(MONTHS_AND_WEEKDAYS, &lower)
            && !(w.sentence_start && listed(SENTENCE_STARTERS, &lower));
        if !w.joined {
            flush(&mut run, &mut pending, &mut names);
        }
        if name_word {
            run.append(&mut pending);
            run.push(word);
        } else if !run.is_empty() && CONNECTORS.contains(&lower.as_str()) {
            pending.push(word);
        } else {
            flush(&mut run, &mut pending, &mut names);
        }
        if word.len() != w.text.len() {
            // A possessive ends the name.
            flush(&mut run, &mut pending, &mut names);
        }
    }
    flush(&mut run, &mut pending, &mut names);
    names
}

/// The consonant skeleton of a word: folded to lowercase Latin, vowels
/// (a e i o u y) and non-letters dropped, doubled letters collapsed.
pub fn skeleton(word: &str) -> String {
    let mut out = String::new();
    for c in fold(word).chars() {
        if !c.is_alphabetic() || "aeiouy".contains(c) {
            continue;
        }
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// How far a word's skeleton is from a surname's, if near enough to be a
/// spelling of it.
fn spelling_distance(word_skeleton: &str, surname_skeleton: &str) -> Option<usize> {
    if word_skeleton.is_empty() || surname_skeleton.is_empty() {
        return None;
    }
    let d = edit_distance(word_skeleton, surname_skeleton);
    let limit = if surname_skeleton.chars().count() < 3 {
        0
    } else {
        1
    };
    (d <= limit).then_some(d)
}

/// The gold people whose surname the texts spell more than one way.
fn inconsistent_names<'a>(
    people: &[GoldPerson],
    texts: impl Iterator<Item = &'a str>,
) -> Vec<Inconsistent> {
    let surnames: Vec<String> = people.iter().map(|p| skeleton(&p.surname())).collect();
    let mut spellings: Vec<BTreeSet<String>> = vec![BTreeSet::new(); people.len()];
    let texts: Vec<&str> = texts.collect();
    // Words the texts also write in lower case are common words, not names
    // (`Allies` opening a sentence, `allies` elsewhere).
    let lower_case: HashSet<&str> = texts
        .iter()
        .flat_map(|t| words(t))
        .map(|w| strip_possessive(w.text))
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .collect();
    for text in texts {
        for w in words(text) {
            let word = strip_possessive(w.text);
            if !is_capitalised(word)
                || word.chars().any(|c| !c.is_alphabetic() && c != '-')
                || lower_case.contains(word.to_lowercase().as_str())
            {
                continue;
            }
            let lower = fold(word);
            if lower.chars().count() < 3
                || listed(SENTENCE_STARTERS, &lower)
                || listed(MONTHS_AND_WEEKDAYS, &lower)
                || listed(HONORIFICS, &lower)
            {
                continue;
            }
            let sk = skeleton(word);
            let near: Vec<(usize, usize)> = surnames
                .iter()
                .enumerate()
                .filter_map(|(i, s)| spelling_distance(&sk, s).map(|d| (d, i)))
                .collect();
            let Some(&(best, who)) = near.iter().min() else {
                continue;
            };
            if near.iter().filter(|(d, _)| *d == best).count() > 1 {
                continue; // as near to two people: neither
            }
            spellings[who].insert(word.to_lowercase());
        }
    }
    people
        .iter()
        .zip(spellings)
        .filter(|(_, s)| s.len() > 1)
        .map(|(p, s)| Inconsistent {
            person: p.name.clone(),
            spellings: s.into_iter().collect(),
        })
        .collect()
}

/// Whether a text has a Cyrillic letter.
pub fn has_cyrillic(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_alphabetic() && matches!(c, '\u{0400}'..='\u{052F}' | '\u{1C80}'..='\u{1C8F}' | '\u{2DE0}'..='\u{2DFF}' | '\u{A640}'..='\u{A69F}'))
}

// ---------------------------------------------------------------- text report

fn pct(s: Score) -> String {
    match s.value() {
        Some(v) => format!("{v:.3} ({}/{})", s.hits, s.total),
        None => format!("-     ({}/{})", s.hits, s.total),
    }
}

/// The report for reading: per article its figures and what went wrong,
/// then the totals and the thresholds.
pub fn render_text(r: &Report) -> String {
    let mut s = String::new();
    let scored = r
        .articles
        .iter()
        .filter(|a| a.status == Status::Scored)
        .count();
    let _ = writeln!(
        s,
        "eval-digest {} against {}: {} record(s) scored, {} gold article(s) missing, {} record(s) skipped (no gold)",
        r.outdir.display(),
        r.gold.display(),
        scored,
        r.articles.len() - scored,
        r.skipped.len()
    );
    for a in &r.articles {
        let m = &a.metrics;
        let _ = writeln!(s);
        match a.status {
            Status::Scored => {
                let _ = writeln!(s, "{}", a.id);
            }
            Status::Missing => {
                let _ = writeln!(s, "{}  MISSING (no record: zero recall)", a.id);
            }
        }
        let _ = writeln!(
            s,
            "  people    P {:<14} R {:<14} roles {}",
            pct(m.person_precision),
            pct(m.person_recall),
            pct(m.role_accuracy)
        );
        let _ = writeln!(
            s,
            "  orgs      P {:<14} R {}",
            pct(m.organization_precision),
            pct(m.organization_recall)
        );
        let _ = writeln!(
            s,
            "  places    P {:<14} R {}",
            pct(m.place_precision),
            pct(m.place_recall)
        );
        let _ = writeln!(
            s,
            "  numbers   P {:<14} R {}",
            pct(m.number_precision),
            pct(m.number_recall)
        );
        let _ = writeln!(
            s,
            "  must-mention {}  summary entities {}  inconsistent names {}  cyrillic fields {}",
            pct(m.must_mention),
            pct(m.summary_entity_precision),
            m.inconsistent_names,
            m.cyrillic_fields
        );
        if a.status == Status::Missing {
            continue;
        }
        let d = &a.details;
        let mut list = |label: &str, items: &[String]| {
            if !items.is_empty() {
                let _ = writeln!(s, "    {label}: {}", items.join("; "));
            }
        };
        list("people missed", &d.people_missed);
        list("people not in gold", &d.people_extra);
        let roles: Vec<String> = d
            .roles_wrong
            .iter()
            .map(|r| {
                let got = if r.got.is_empty() {
                    "no English role".to_string()
                } else {
                    r.got
                        .iter()
                        .map(|g| format!("\"{g}\""))
                        .collect::<Vec<_>>()
                        .join(" / ")
                };
                format!("{}: {} (want \"{}\")", r.person, got, r.want)
            })
            .collect();
        list("roles wrong", &roles);
        list("organisations missed", &d.organizations_missed);
        list("organisations not in gold", &d.organizations_extra);
        list("places missed", &d.places_missed);
        list("places not in gold", &d.places_extra);
        list("numbers missed", &d.numbers_missed);
        list("numbers not in gold", &d.numbers_extra);
        list("must-mention missing", &d.must_mention_missed);
        list("summary names not in the article", &d.summary_names_unfound);
        let inc: Vec<String> = d
            .inconsistent_names
            .iter()
            .map(|i| format!("{} ({})", i.person, i.spellings.join(", ")))
            .collect();
        list("spelled more than one way", &inc);
        if !d.cyrillic_fields.is_empty() {
            let shown: Vec<String> = d.cyrillic_fields.iter().take(8).cloned().collect();
            let more = d.cyrillic_fields.len().saturating_sub(shown.len());
            let mut line = shown.join(", ");
            if more > 0 {
                let _ = write!(line, ", … {more} more");
            }
            let _ = writeln!(s, "    Cyrillic in: {line}");
        }
    }
    if !r.skipped.is_empty() {
        let _ = writeln!(s, "\nskipped (no gold): {}", r.skipped.join(", "));
    }
    let _ = writeln!(
        s,
        "\ntotal (micro-averaged over {} article(s): {} scored, {} missing)",
        r.articles.len(),
        scored,
        r.articles.len() - scored
    );
    for m in Metric::ALL {
        let value = match r.total.score(m) {
            Some(sc) => pct(sc),
            None => format!("{}", r.total.value(m).unwrap_or_default()),
        };
        let _ = writeln!(s, "  {:<25} {}", m.name(), value);
    }
    for t in &r.thresholds {
        let op = match t.bound {
            Bound::Min => ">=",
            Bound::Max => "<=",
        };
        let value = t
            .value
            .map(|v| format!("{v:.3}"))
            .unwrap_or_else(|| "none (nothing to score)".into());
        let _ = writeln!(
            s,
            "{} {} = {} (required {} {})",
            if t.ok { "ok  " } else { "FAIL" },
            t.metric,
            value,
            op,
            t.limit
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, aliases: &[&str], role: Option<&str>) -> GoldPerson {
        GoldPerson {
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            uk: "x".into(),
            role: role.map(Into::into),
            role_aliases: Vec::new(),
        }
    }

    #[test]
    fn fold_ignores_case_accents_punctuation_and_a_leading_the() {
        assert_eq!(fold("Jonas Gahr Støre"), "jonas gahr store");
        assert_eq!(fold("NATO–Ukraine Council"), "nato ukraine council");
        assert_eq!(fold("The Alliance"), "alliance");
        assert_eq!(fold("Norway's  Prime-Minister."), "norway prime minister");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("U.S."), "u s");
        assert_eq!(fold("Київ"), "київ");
    }

    #[test]
    fn people_match_by_name_alias_surname_or_initial() {
        let p = person("Volodymyr Zelensky", &["Volodymyr Zelenskyy"], None);
        assert!(person_matches("Volodymyr Zelensky", &p));
        assert!(person_matches("volodymyr zelenskyy", &p));
        assert!(person_matches("Zelensky", &p));
        assert!(person_matches("Zelenskyy", &p), "an alias's surname alone");
        assert!(person_matches("V. Zelensky", &p));
        assert!(!person_matches("Volodymyr Zelenskyi", &p));
        assert!(!person_matches("Oleksandr Zelensky", &p));
        let k = person("Kaja Kallas", &[], None);
        assert!(person_matches("Kaia Kallas", &k));
        assert!(!person_matches("Kaia Kalas", &k));
        assert!(!person_matches("", &k));
    }

    #[test]
    fn roles_compare_without_articles_and_with_british_defence() {
        assert_eq!(
            normalize_role("the Minister of Defense of Ukraine"),
            normalize_role("Minister of Defence of  Ukraine")
        );
        assert_eq!(
            normalize_role("Commander-in-Chief, General"),
            "commander in chief"
        );
        assert_eq!(
            normalize_role("Chief of the General Staff, Major General"),
            normalize_role("Chief of the General Staff")
        );
        assert_eq!(normalize_role("Adviser, Economics"), "adviser economics");
        assert_ne!(
            normalize_role("Deputy Minister of Defence"),
            normalize_role("Minister of Defence")
        );
    }

    #[test]
    fn proper_names_skip_sentence_starters_months_and_weekdays() {
        let names = proper_names(
            "The Minister of Defence of Ukraine met Kaja Kallas in Brussels on Friday. \
             He thanked the Coalition of the Willing, NATO and the EU. In April, Umerov's team left.",
        );
        assert_eq!(
            names,
            [
                "Minister of Defence of Ukraine",
                "Kaja Kallas",
                "Brussels",
                "Coalition of the Willing",
                "NATO",
                "EU",
                "Umerov"
            ]
        );
        // Not after a sentence end, a common word is part of a name.
        assert_eq!(proper_names("Talks: Today Show"), ["Talks", "Today Show"]);
    }

    #[test]
    fn title_case_headlines_are_told_from_sentences() {
        assert!(is_title_case(
            "Russia Increases Rocket Production in Response to North Korea"
        ));
        assert!(is_title_case(
            "EU and Kallas Discuss Common Defense Projects"
        ));
        assert!(!is_title_case(
            "Shmyhal and Rutte discuss defence cooperation"
        ));
        assert!(!is_title_case(
            "Minister of Defence Denys Shmyhal met NATO Secretary General Mark Rutte in Kyiv."
        ));
        assert!(!is_title_case("Umerov in Brussels"));
    }

    #[test]
    fn skeletons_and_spellings() {
        assert_eq!(skeleton("Umerov"), "mrv");
        assert_eq!(skeleton("Umierov"), "mrv");
        assert_eq!(skeleton("Kellogg"), "klg");
        assert_eq!(skeleton("Boyev"), "bv");
        assert_eq!(
            spelling_distance(&skeleton("Kelloh"), &skeleton("Kellogg")),
            Some(1)
        );
        assert_eq!(
            spelling_distance(&skeleton("Riutte"), &skeleton("Rutte")),
            Some(0)
        );
        assert_eq!(spelling_distance(&skeleton("At"), &skeleton("Rutte")), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let people = [
            person("Rustem Umerov", &[], None),
            person("Kaja Kallas", &[], None),
        ];
        let texts = [
            "Umerov met Kallas.",
            "Minister Umierov thanked Kalas; UMEROV said.",
            "Moreover, Umerov's aide, Mr Kallas",
            // A common word, written in lower case too: no spelling of Kallas.
            "Allies agreed; the allies met.",
        ];
        let inc = inconsistent_names(&people, texts.into_iter());
        assert_eq!(
            inc,
            [
                Inconsistent {
                    person: "Rustem Umerov".into(),
                    spellings: vec!["umerov".into(), "umierov".into()]
                },
                Inconsistent {
                    person: "Kaja Kallas".into(),
                    spellings: vec!["kalas".into(), "kallas".into()]
                }
            ]
        );
    }

    #[test]
    fn cyrillic_is_found_in_any_field() {
        assert!(has_cyrillic("Rustem Умєров"));
        assert!(has_cyrillic("ї"));
        assert!(!has_cyrillic("Rustem Umerov, 1.5 billion — ok"));
    }

    #[test]
    fn thresholds_parse_and_unknown_metrics_list_the_valid_ones() {
        let t = Threshold::parse("person_recall=0.8", Bound::Min).unwrap();
        assert_eq!((t.metric, t.limit), (Metric::PersonRecall, 0.8));
        let e = Threshold::parse("people_recall=0.8", Bound::Min)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"people_recall\"") && e.contains("cyrillic_fields"),
            "{e}"
        );
        assert!(Threshold::parse("person_recall", Bound::Max).is_err());
        assert!(Threshold::parse("person_recall=x", Bound::Max).is_err());
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()).unwrap(), m);
        }
    }

    #[test]
    fn scores_add_micro_averaged() {
        let mut a = Metrics {
            person_recall: Score::new(1, 2),
            cyrillic_fields: 3,
            ..Metrics::default()
        };
        a.add(&Metrics {
            person_recall: Score::new(2, 2),
            cyrillic_fields: 1,
            ..Metrics::default()
        });
        assert_eq!(a.person_recall, Score::new(3, 4));
        assert_eq!(a.value(Metric::PersonRecall), Some(0.75));
        assert_eq!(a.value(Metric::CyrillicFields), Some(4.0));
        assert_eq!(a.value(Metric::NumberPrecision), None);
    }

    #[test]
    fn gold_validation_rejects_duplicate_ids() {
        let text = r#"{"articles": [{"ids": ["a"]}, {"ids": ["b", "a"]}]}"#;
        let g: GoldSet = serde_json::from_str(text).unwrap();
        assert!(g.validate().unwrap_err().contains("\"a\""));
        let bad = serde_json::from_str::<GoldSet>(r#"{"articles": [{"ids": ["a"], "peple": []}]}"#);
        assert!(bad.is_err(), "unknown fields are errors");
    }
}
