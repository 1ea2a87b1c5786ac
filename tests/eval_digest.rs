//! `ukdigest eval-digest`: the command on the golden records, each metric
//! on hand-made records, and the gold file itself against the articles.
mod common;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;
use ukdigest::eval_digest::{self, GoldSet, Metric, Metrics, Status};

const SEED_004: &str = "004_d69912333ab1b182";

fn gold_path() -> PathBuf {
    common::repo().join("tests/gold/seeds.json")
}

fn golden_dir() -> PathBuf {
    common::repo().join("tests/data/eval_digest_records")
}

fn eval(args: &[&str]) -> (Option<i32>, String, String) {
    let o: Output = common::ukdigest()
        .arg("eval-digest")
        .args(args)
        .output()
        .expect("run ukdigest");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

// ------------------------------------------------------------ the command

#[test]
fn golden_records_score_and_exit_zero_without_thresholds() {
    let (code, out, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "tests/gold/seeds.json",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("5 record(s) scored, 5 gold article(s) missing"),
        "{out}"
    );
    assert!(out.contains("eupravda_style  MISSING"), "{out}");
    for m in Metric::ALL {
        assert!(
            out.contains(&format!("\n  {}", m.name())),
            "total {} in {out}",
            m.name()
        );
    }
    // The golden run's transliterations are not the house style.
    assert!(out.contains("people not in gold: Rustem Umierov"), "{out}");
}

#[test]
fn a_failed_threshold_exits_one_and_names_the_metric() {
    let (code, out, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "tests/gold/seeds.json",
        "--min",
        "person_recall=1.01",
        "--max",
        "cyrillic_fields=1000",
    ]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("person_recall = 0."), "{err}");
    assert!(
        !err.contains("cyrillic_fields"),
        "a held threshold is not a failure: {err}"
    );
    assert!(out.contains("FAIL person_recall"), "{out}");
    assert!(out.contains("ok   cyrillic_fields"), "{out}");

    let (code, _, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "tests/gold/seeds.json",
        "--max",
        "cyrillic_fields=0",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cyrillic_fields = "), "{err}");
}

#[test]
fn unknown_metrics_bad_gold_and_missing_folders_exit_two() {
    let (code, _, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "tests/gold/seeds.json",
        "--min",
        "people_recall=0.5",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("\"people_recall\""), "{err}");
    assert!(
        err.contains("person_recall") && err.contains("summary_entity_precision"),
        "lists the valid metrics: {err}"
    );

    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad-gold.json");
    std::fs::write(
        &bad,
        r#"{"articles": [{"ids": ["x"], "people": [{"name": "A"}]}]}"#,
    )
    .unwrap();
    let (code, _, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad-gold.json") && err.contains("uk"), "{err}");

    let (code, _, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "no/such/gold.json",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no/such/gold.json"), "{err}");

    let (code, _, err) = eval(&["no/such/outdir", "--gold", "tests/gold/seeds.json"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no/such/outdir"), "{err}");
}

#[test]
fn json_output_is_one_object_with_articles_and_totals() {
    let (code, out, err) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "tests/gold/seeds.json",
        "--format",
        "json",
        "--min",
        "place_precision=0.5",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON object");
    let top = [
        "outdir",
        "gold",
        "articles",
        "skipped",
        "total",
        "thresholds",
    ];
    let at: Vec<usize> = top
        .iter()
        .map(|k| {
            out.find(&format!("\n  \"{k}\":"))
                .unwrap_or_else(|| panic!("{k}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "key order: {at:?}");
    assert_eq!(v.as_object().unwrap().len(), top.len());
    assert_eq!(v["articles"].as_array().unwrap().len(), 10);
    assert_eq!(v["articles"][0]["id"], "000_4e02704fb7287723");
    assert_eq!(v["articles"][9]["status"], "missing");
    let total = &v["total"];
    for m in Metric::ALL {
        assert!(total.get(m.name()).is_some(), "{}", m.name());
    }
    assert_eq!(total["number_precision"]["hits"], 1);
    assert!(total["person_recall"]["value"].as_f64().unwrap() < 1.0);
    assert_eq!(v["thresholds"][0]["ok"], true);
    // Stable: the same run prints the same text.
    let (_, again, _) = eval(&[
        "tests/data/eval_digest_records",
        "--gold",
        "tests/gold/seeds.json",
        "--format",
        "json",
        "--min",
        "place_precision=0.5",
    ]);
    assert_eq!(out, again);
}

// ------------------------------------------------------------ each metric

/// A copy of the golden record of seed 004, cleaned of Cyrillic in its
/// English fields, with an English summary.
fn clean_record() -> Value {
    let text = std::fs::read_to_string(golden_dir().join(format!("{SEED_004}.json"))).unwrap();
    let mut r: Value = serde_json::from_str(&text).unwrap();
    r["title_en"] =
        json!("Denys Shmyhal and the NATO Secretary General discussed defence cooperation");
    r["headline"] = json!("Shmyhal and Rutte discuss defence cooperation");
    r["summary"] = json!([
        "Minister of Defence Denys Shmyhal met NATO Secretary General Mark Rutte in Kyiv.",
        "About $1.5 billion has been mobilised through the PURL mechanism."
    ]);
    for p in r["paragraphs"].as_array_mut().unwrap() {
        for s in p["sentences"].as_array_mut().unwrap() {
            s["en"] = json!("The minister of defence met the Secretary General of NATO.");
        }
    }
    r
}

fn fact_mut<'a>(r: &'a mut Value, normalized: &str) -> &'a mut Value {
    r["facts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["normalized"] == normalized)
        .unwrap_or_else(|| panic!("no fact {normalized}"))
}

/// Score one record against the gold file.
fn score(rec: &Value) -> (Metrics, eval_digest::Details) {
    let d = tempfile::tempdir().unwrap();
    let id = rec["id"].as_str().unwrap();
    std::fs::write(
        d.path().join(format!("{id}.json")),
        serde_json::to_string_pretty(rec).unwrap(),
    )
    .unwrap();
    let report = eval_digest::run(d.path(), &gold_path(), &[]).unwrap();
    let a = report
        .articles
        .into_iter()
        .find(|a| a.id == id)
        .expect("scored");
    assert_eq!(a.status, Status::Scored);
    (a.metrics, a.details)
}

fn v(m: &Metrics, metric: Metric) -> f64 {
    m.value(metric).unwrap_or(f64::NAN)
}

#[test]
fn people_precision_recall_and_roles_move_as_they_should() {
    let mut r = clean_record();
    let (m0, d0) = score(&r);
    assert_eq!(v(&m0, Metric::PersonPrecision), 0.5);
    assert_eq!(v(&m0, Metric::PersonRecall), 0.5);
    assert_eq!(d0.people_extra, ["Mark Riutte"]);
    assert_eq!(m0.role_accuracy.hits, 0, "no role_en in the golden records");

    // The right spelling: both up.
    fact_mut(&mut r, "Марк Рютте")["english"] = json!("Mark Rutte");
    let (m1, _) = score(&r);
    assert_eq!(v(&m1, Metric::PersonPrecision), 1.0);
    assert_eq!(v(&m1, Metric::PersonRecall), 1.0);
    assert_eq!(m1.role_accuracy.total, 2);
    assert_eq!(m1.role_accuracy.hits, 0);

    // English roles: one right (an alias, American spelling), one wrong.
    fact_mut(&mut r, "Денис Шмигаль")["role_en"] = json!("the Minister of Defense of Ukraine");
    fact_mut(&mut r, "Марк Рютте")["role_en"] = json!("Deputy Secretary General of NATO");
    let (m2, d2) = score(&r);
    assert_eq!(v(&m2, Metric::RoleAccuracy), 0.5);
    assert_eq!(d2.roles_wrong.len(), 1);
    assert_eq!(d2.roles_wrong[0].person, "Mark Rutte");
    fact_mut(&mut r, "Марк Рютте")["role_en"] = json!("Secretary-General of NATO");
    let (m3, _) = score(&r);
    assert_eq!(v(&m3, Metric::RoleAccuracy), 1.0);

    // A person the article does not have: precision down, recall kept.
    let mut extra = fact_mut(&mut r, "Марк Рютте").clone();
    extra["normalized"] = json!("Борис Джонсон");
    extra["english"] = json!("Boris Johnson");
    r["facts"].as_array_mut().unwrap().push(extra);
    let (m4, d4) = score(&r);
    assert_eq!(v(&m4, Metric::PersonPrecision), 2.0 / 3.0);
    assert_eq!(v(&m4, Metric::PersonRecall), 1.0);
    assert_eq!(d4.people_extra, ["Boris Johnson"]);

    // A person lost: recall down.
    r["facts"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["normalized"] != "Денис Шмигаль");
    let (m5, d5) = score(&r);
    assert_eq!(v(&m5, Metric::PersonRecall), 0.5);
    assert_eq!(d5.people_missed, ["Denys Shmyhal"]);
}

#[test]
fn organisations_places_and_numbers_move_as_they_should() {
    let mut r = clean_record();
    let (m0, d0) = score(&r);
    // ОПК ("defence industry") is a sector, not an organisation; PURL is missed.
    assert_eq!(d0.organizations_extra, ["defence industry"]);
    assert_eq!(d0.organizations_missed, ["PURL"]);
    assert_eq!(v(&m0, Metric::PlacePrecision), 1.0);
    assert_eq!(v(&m0, Metric::NumberPrecision), 1.0);
    assert_eq!(v(&m0, Metric::NumberRecall), 1.0);

    // Matched on the Ukrainian nominative although the English is off.
    fact_mut(&mut r, "Київ")["english"] = json!("Kiev");
    let (m1, _) = score(&r);
    assert_eq!(v(&m1, Metric::PlaceRecall), 1.0);
    let kyiv = fact_mut(&mut r, "Київ");
    kyiv["normalized"] = json!("Киев");
    let (m2, d2) = score(&r);
    assert!(v(&m2, Metric::PlaceRecall) < 1.0);
    assert_eq!(d2.places_missed, ["Kyiv"]);
    assert_eq!(d2.places_extra, ["Kiev"]);

    // PURL found: organisation recall 1.
    let mut purl = fact_mut(&mut r, "НАТО").clone();
    purl["normalized"] = json!("PURL");
    purl["english"] = json!("Prioritized Ukraine Requirements List");
    r["facts"].as_array_mut().unwrap().push(purl);
    let (m3, _) = score(&r);
    assert_eq!(v(&m3, Metric::OrganizationRecall), 1.0);
    assert!(v(&m3, Metric::OrganizationPrecision) > v(&m0, Metric::OrganizationPrecision));

    // A number not in the article: precision halves; the right one lost: recall 0.
    let mut n = fact_mut(&mut r, "1500000000").clone();
    n["normalized"] = json!("42");
    r["facts"].as_array_mut().unwrap().push(n);
    let (m4, d4) = score(&r);
    assert_eq!(v(&m4, Metric::NumberPrecision), 0.5);
    assert_eq!(d4.numbers_extra, ["42"]);
    fact_mut(&mut r, "1500000000")["normalized"] = json!("1.5");
    let (m5, _) = score(&r);
    assert_eq!(v(&m5, Metric::NumberRecall), 0.0);
}

#[test]
fn summary_metrics_consistency_and_cyrillic_move_as_they_should() {
    let mut r = clean_record();
    let (m, d) = score(&r);
    assert_eq!(
        m.inconsistent_names, 1,
        "Riutte in the facts, Rutte in the summary"
    );
    assert_eq!(d.inconsistent_names[0].spellings, ["riutte", "rutte"]);
    fact_mut(&mut r, "Марк Рютте")["english"] = json!("Mark Rutte");
    let (m0, d0) = score(&r);
    assert_eq!(
        v(&m0, Metric::MustMention),
        1.0,
        "{:?}",
        d0.must_mention_missed
    );
    assert_eq!(
        v(&m0, Metric::SummaryEntityPrecision),
        1.0,
        "{:?}",
        d0.summary_names_unfound
    );
    assert_eq!(m0.inconsistent_names, 0);
    assert_eq!(m0.cyrillic_fields, 0);

    // A summary that drops the money and names someone the article does not.
    r["summary"] = json!([
        "Minister of Defence Denys Shmyhal met NATO Secretary General Mark Rutte in Kyiv.",
        "On Friday, they also called Boris Johnson in London."
    ]);
    let (m1, d1) = score(&r);
    assert_eq!(v(&m1, Metric::MustMention), 0.8);
    assert_eq!(d1.must_mention_missed, ["1.5 billion"]);
    assert!(v(&m1, Metric::SummaryEntityPrecision) < 1.0);
    assert_eq!(d1.summary_names_unfound, ["Boris Johnson", "London"]);

    // The surname spelled two ways across the English fields.
    r["paragraphs"][0]["sentences"][0]["en"] = json!("Minister Shmygal met Mark Riutte.");
    let (m2, d2) = score(&r);
    assert_eq!(m2.inconsistent_names, 2, "{:?}", d2.inconsistent_names);
    assert_eq!(
        d2.inconsistent_names[0].spellings,
        ["shmygal", "shmyhal"],
        "{:?}",
        d2.inconsistent_names
    );

    // Cyrillic left in the headline and in a fact's English.
    r["headline"] = json!("Shmyhal and Рютте discuss defence cooperation");
    fact_mut(&mut r, "НАТО")["english"] = json!("НАТО");
    let (m3, d3) = score(&r);
    assert_eq!(m3.cyrillic_fields, 2);
    assert!(d3.cyrillic_fields.contains(&"headline".to_string()));
    assert!(d3.cyrillic_fields.iter().any(|f| f.ends_with(".english")));
}

#[test]
fn records_without_gold_are_skipped_and_totals_are_micro_averaged() {
    let d = tempfile::tempdir().unwrap();
    let rec = clean_record();
    std::fs::write(d.path().join(format!("{SEED_004}.json")), rec.to_string()).unwrap();
    let mut other = rec.clone();
    other["id"] = json!("not_in_gold");
    std::fs::write(d.path().join("not_in_gold.json"), other.to_string()).unwrap();
    // Not article records: passed over.
    std::fs::write(d.path().join("report.json"), r#"{"id": "x"}"#).unwrap();
    std::fs::write(d.path().join("x.translation.json"), rec.to_string()).unwrap();
    let report = eval_digest::run(d.path(), &gold_path(), &[]).unwrap();
    assert_eq!(report.skipped, ["not_in_gold"]);
    let scored: Vec<&str> = report
        .articles
        .iter()
        .filter(|a| a.status == Status::Scored)
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(scored, [SEED_004]);
    let gold = GoldSet::load(&gold_path()).unwrap();
    assert_eq!(report.articles.len(), gold.articles.len());
    let people: usize = gold.articles.iter().map(|a| a.people.len()).sum();
    assert_eq!(report.total.person_recall.total, people);
    let sum: usize = report
        .articles
        .iter()
        .map(|a| a.metrics.person_recall.hits)
        .sum();
    assert_eq!(report.total.person_recall.hits, sum);
}

// ------------------------------------------------------------ the gold file

/// The input files of an article id: the seed and the HTML test page.
fn article_files(id: &str) -> Vec<String> {
    [
        format!("seeds/{id}.txt"),
        format!("tests/data/html/{id}.html"),
    ]
    .into_iter()
    .filter(|f| common::repo().join(f).is_file())
    .collect()
}

fn stems(dir: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(common::repo().join(dir))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension().is_some_and(|x| x == ext))
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out
}

/// Whitespace (and `&nbsp;`) collapsed, lowercase.
fn plain(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value of a Ukrainian number phrase: `1,5 млрд доларів` → 1.5e9,
/// `135 із 156` → "135/156", `19-й пакет` → 19.
fn value_of(text: &str) -> String {
    let re =
        regex::Regex::new(r"(\d+(?:,\d+)?)(?:\s*(?:із|з)\s*(\d+))?(?:\s*(тис|млн|млрд))?").unwrap();
    let c = re
        .captures(text)
        .unwrap_or_else(|| panic!("no number in {text:?}"));
    if let Some(of) = c.get(2) {
        return format!("{}/{}", &c[1], of.as_str());
    }
    let x: f64 = c[1].replace(',', ".").parse().unwrap();
    let scale = match c.get(3).map(|m| m.as_str()) {
        Some("тис") => 1e3,
        Some("млн") => 1e6,
        Some("млрд") => 1e9,
        _ => 1.0,
    };
    let v = x * scale;
    if v.fract() == 0.0 {
        format!("{}", v as u64)
    } else {
        format!("{v}")
    }
}

#[test]
fn gold_ids_are_the_seeds_and_test_pages_each_once() {
    let gold = GoldSet::load(&gold_path()).unwrap();
    let mut annotated: Vec<String> = Vec::new();
    for a in &gold.articles {
        let mut files = Vec::new();
        for id in &a.ids {
            let f = article_files(id);
            assert!(!f.is_empty(), "{id}: neither a seed nor a test page");
            files.extend(f);
            annotated.push(id.clone());
        }
        assert_eq!(a.files, files, "{:?}: files", a.ids);
    }
    let mut all: Vec<String> = stems("seeds", "txt");
    all.extend(stems("tests/data/html", "html"));
    all.sort();
    all.dedup();
    annotated.sort();
    assert_eq!(annotated, all, "every seed and test page is annotated once");
}

#[test]
fn gold_names_and_numbers_occur_in_the_articles() {
    let gold = GoldSet::load(&gold_path()).unwrap();
    for a in &gold.articles {
        for f in &a.files {
            let text = plain(&std::fs::read_to_string(common::repo().join(f)).unwrap());
            for p in &a.people {
                for w in p.uk.split_whitespace() {
                    let w = w.trim_matches('.').to_lowercase();
                    // The first 4 letters; of a short word all but its
                    // last, which inflects (Кая → Каєю, Кіт → Кітом).
                    let n = w.chars().count();
                    let stem: String = w.chars().take(4.min(n.saturating_sub(1)).max(1)).collect();
                    assert!(
                        text.contains(&stem),
                        "{f}: {} ({stem}) not in the text",
                        p.uk
                    );
                }
                assert!(
                    eval_digest::person_matches(&p.name, p),
                    "{}: its own name",
                    p.name
                );
            }
            for n in &a.numbers {
                let t = n.text.as_deref().expect("numbers give their surface text");
                assert!(text.contains(&plain(t)), "{f}: {t:?} not in the text");
                assert_eq!(value_of(t), n.value, "{f}: {t:?}");
                let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
                assert!(!digits.is_empty() && text.contains(&digits), "{f}: {t:?}");
            }
        }
    }
}

#[test]
fn gold_follows_the_house_style() {
    let gold = GoldSet::load(&gold_path()).unwrap();
    let banned = [
        "Kiev",
        "Kharkov",
        "Odessa",
        "Defense",
        "Zelenskyi",
        "Umierov",
    ];
    for a in &gold.articles {
        let canonical = a
            .people
            .iter()
            .flat_map(|p| [Some(p.name.as_str()), p.role.as_deref()])
            .flatten()
            .chain(
                a.organizations
                    .iter()
                    .chain(&a.places)
                    .map(|e| e.name.as_str()),
            )
            .chain(a.must_mention.iter().map(|t| t.term.as_str()));
        for name in canonical {
            for b in banned {
                assert!(!name.contains(b), "{:?}: {name:?} has {b}", a.ids);
            }
        }
        let n = a.must_mention.len();
        assert!((3..=6).contains(&n), "{:?}: {n} must-mention terms", a.ids);
    }
}

#[test]
fn the_gold_summary_of_this_repository() {
    // A change to the gold set shows here: articles and counts per kind.
    let gold = GoldSet::load(&gold_path()).unwrap();
    let count = |f: &dyn Fn(&eval_digest::GoldArticle) -> usize| -> usize {
        gold.articles.iter().map(f).sum()
    };
    assert_eq!(gold.articles.len(), 10);
    assert_eq!(count(&|a| a.ids.len()), 10);
    assert_eq!(count(&|a| a.files.len()), 14);
    assert_eq!(count(&|a| a.people.len()), 22);
    assert_eq!(
        count(&|a| a.people.iter().filter(|p| p.role.is_some()).count()),
        21
    );
    assert_eq!(count(&|a| a.organizations.len()), 29);
    assert_eq!(count(&|a| a.places.len()), 37);
    assert_eq!(count(&|a| a.numbers.len()), 8);
    assert_eq!(count(&|a| a.must_mention.len()), 46);
}
