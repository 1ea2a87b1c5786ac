//! chrF against values computed by sacrebleu 2.x (`scripts/dev/chrf_fixtures.py`).
use serde::Deserialize;
use std::collections::BTreeMap;
use ukdigest::eval::{chrf, chrf_sentence, read_lines};

#[derive(Deserialize)]
struct System {
    hypotheses: Vec<String>,
    corpus: f64,
    sentences: Vec<f64>,
    /// IEEE-754 bits of the same values.
    corpus_bits: u64,
    sentences_bits: Vec<u64>,
}

#[derive(Deserialize)]
struct Edge {
    hyp: String,
    #[serde(rename = "ref")]
    reference: String,
    sentence: f64,
}

#[derive(Deserialize)]
struct Fixture {
    references: Vec<String>,
    systems: BTreeMap<String, System>,
    edge_cases: Vec<Edge>,
    edge_corpus: f64,
}

const TOL: f64 = 1e-9;

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/eval/chrf_sacrebleu.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn corpus_chrf_matches_sacrebleu() {
    let fx = fixture();
    assert!(fx.systems.len() >= 10);
    for (name, sys) in &fx.systems {
        let got = chrf(&sys.hypotheses, &fx.references).unwrap();
        assert!(
            (got - sys.corpus).abs() < TOL,
            "{name}: ours {got} vs sacrebleu {}",
            sys.corpus
        );
    }
}

#[test]
fn sentence_chrf_matches_sacrebleu() {
    let fx = fixture();
    for (name, sys) in &fx.systems {
        for (i, ((h, r), want)) in sys
            .hypotheses
            .iter()
            .zip(&fx.references)
            .zip(&sys.sentences)
            .enumerate()
        {
            let got = chrf_sentence(h, r);
            assert!(
                (got - want).abs() < TOL,
                "{name} line {i}: ours {got} vs sacrebleu {want}"
            );
        }
    }
}

/// Not just close: the same operations in the same order give the same
/// f64 bits as sacrebleu.
#[test]
fn chrf_is_bit_identical_to_sacrebleu() {
    let fx = fixture();
    for (name, sys) in &fx.systems {
        let got = chrf(&sys.hypotheses, &fx.references).unwrap();
        assert_eq!(got.to_bits(), sys.corpus_bits, "{name}: {got}");
        for (i, (h, r)) in sys.hypotheses.iter().zip(&fx.references).enumerate() {
            let got = chrf_sentence(h, r);
            assert_eq!(
                got.to_bits(),
                sys.sentences_bits[i],
                "{name} line {i}: {got}"
            );
        }
    }
}

#[test]
fn edge_cases_match_sacrebleu() {
    let fx = fixture();
    let mut hyps = Vec::new();
    let mut refs = Vec::new();
    for e in &fx.edge_cases {
        let got = chrf_sentence(&e.hyp, &e.reference);
        assert!(
            (got - e.sentence).abs() < TOL,
            "{:?} vs {:?}: ours {got} vs sacrebleu {}",
            e.hyp,
            e.reference,
            e.sentence
        );
        hyps.push(e.hyp.clone());
        refs.push(e.reference.clone());
    }
    let got = chrf(&hyps, &refs).unwrap();
    assert!((got - fx.edge_corpus).abs() < TOL);
}

#[test]
fn corpus_is_not_mean_of_sentences() {
    // Corpus chrF sums statistics first; averaging sentence scores differs.
    let fx = fixture();
    let sys = &fx.systems["drop_every_third_word"];
    let mean: f64 = sys.sentences.iter().sum::<f64>() / sys.sentences.len() as f64;
    assert!((mean - sys.corpus).abs() > 1e-3);
}

#[test]
fn length_mismatch_is_an_error() {
    let err = chrf(&["a".to_string()], &[]).unwrap_err();
    assert!(err.to_string().contains("1 hypotheses but 0 references"));
}

#[test]
fn read_lines_strips_line_endings() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hyp.txt");
    std::fs::write(&p, "one\r\ntwo\n\nfour\n").unwrap();
    assert_eq!(read_lines(&p).unwrap(), vec!["one", "two", "", "four"]);
    let missing = dir.path().join("missing.txt");
    let err = read_lines(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.txt"), "{err}");
}
