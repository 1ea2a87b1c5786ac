//! Parity of `ukdigest::marian::tokenizer::MarianTokenizer` with transformers'
//! `MarianTokenizer` (transformers 5.23, sentencepiece 0.2.3).
//!
//! References: `../shared/testdata/marian-tokenizer-fr-en/reference_tokenization.jsonl`
//! and the fixtures written by `scripts/dev/marian_tokenizer_fixtures.py`
//! under `tests/fixtures/marian_tokenizer/`.
use serde::Deserialize;
use std::path::{Path, PathBuf};
use ukdigest::marian::tokenizer::MarianTokenizer;
use ukdigest::Error;

const MODEL_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/marian-tokenizer-fr-en"
);
const FLORES_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/flores200-uk-en"
);
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/marian_tokenizer"
);

#[derive(Debug, Deserialize)]
struct Case {
    side: String,
    text: String,
    ids: Vec<u32>,
    #[serde(default)]
    pieces: Option<Vec<String>>,
    decoded: String,
    #[serde(default)]
    decoded_raw: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DecodeCase {
    ids: Vec<u32>,
    skip_special_tokens: bool,
    decoded: Option<String>,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn fr_en() -> MarianTokenizer {
    MarianTokenizer::from_dir(Path::new(MODEL_DIR)).expect("load fr-en tokenizer")
}

fn encode(tok: &MarianTokenizer, case: &Case) -> Vec<u32> {
    match case.side.as_str() {
        "source" => tok.encode_source(&case.text).unwrap(),
        "target" => tok.encode_target(&case.text).unwrap(),
        other => panic!("unknown side {other}"),
    }
}

/// Checks ids, pieces (source side) and both decodes; returns the mismatches.
fn check_cases(tok: &MarianTokenizer, cases: &[Case], check_pieces: bool) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let ids = encode(tok, case);
        if ids != case.ids {
            failures.push(format!(
                "{} {:?}: ids {:?} != expected {:?}",
                case.side, case.text, ids, case.ids
            ));
            continue;
        }
        if let (true, Some(expected)) = (check_pieces, &case.pieces) {
            if case.side == "source" {
                let pieces = tok.source_pieces(&case.text).unwrap();
                if &pieces != expected {
                    failures.push(format!(
                        "{:?}: pieces {pieces:?} != {expected:?}",
                        case.text
                    ));
                }
            }
            let tokens: Vec<String> = ids.iter().map(|&id| tok.id_to_token(id).unwrap()).collect();
            if &tokens != expected {
                failures.push(format!(
                    "{:?}: tokens {tokens:?} != {expected:?}",
                    case.text
                ));
            }
        }
        let decoded = tok.decode(&ids, true).unwrap();
        if decoded != case.decoded {
            failures.push(format!(
                "{:?}: decoded {decoded:?} != {:?}",
                case.text, case.decoded
            ));
        }
        if let Some(raw) = &case.decoded_raw {
            let decoded = tok.decode(&ids, false).unwrap();
            if &decoded != raw {
                failures.push(format!(
                    "{:?}: raw decode {decoded:?} != {raw:?}",
                    case.text
                ));
            }
        }
    }
    failures
}

#[test]
fn matches_shared_reference_tokenization() {
    let tok = fr_en();
    let cases: Vec<Case> = read_jsonl(&Path::new(MODEL_DIR).join("reference_tokenization.jsonl"));
    assert!(cases.len() >= 20, "reference has {} lines", cases.len());
    assert!(cases.iter().any(|c| c.side == "target"));
    let failures = check_cases(&tok, &cases, true);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn matches_python_on_tricky_strings_and_flores() {
    let tok = fr_en();
    let cases: Vec<Case> = read_jsonl(&Path::new(FIXTURES).join("fr_en_cases.jsonl"));
    assert_eq!(cases.len(), 926);
    let failures = check_cases(&tok, &cases, true);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn matches_python_on_random_strings() {
    let tok = fr_en();
    let cases: Vec<Case> = read_jsonl(&Path::new(FIXTURES).join("fr_en_random.jsonl"));
    assert_eq!(cases.len(), 5000);
    let failures = check_cases(&tok, &cases, false);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn score_ties_are_broken_like_sentencepiece_f32() {
    // sentencepiece keeps path scores in f32 and compares candidates as f32;
    // accumulating in f64 (tokenizers' Unigram) flips the first split, and
    // comparing the unrounded f64 candidate flips the second.
    let tok = fr_en();
    let pieces = tok.source_pieces("a12hhb3'gggdag").unwrap();
    assert_eq!(
        pieces,
        ["▁a", "12", "h", "h", "b", "3", "'", "g", "gg", "da", "g", "</s>"]
    );
    let pieces = tok.source_pieces("-e2gggbach20d,").unwrap();
    assert_eq!(
        pieces,
        ["▁-", "e", "2", "gg", "g", "bach", "20", "d", ",", "</s>"]
    );
    let pieces = tok.source_pieces("ggg").unwrap();
    assert_eq!(pieces, ["▁g", "gg", "</s>"]);
}

#[test]
fn charsmap_takes_the_longest_rule() {
    // Halfwidth kana + voiced mark and conjoining jamo compose only when the
    // longest charsmap rule wins (tokenizers' `Precompiled` takes the shortest).
    let tok = fr_en();
    assert_eq!(tok.normalize_source("ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ﾀﾞ").unwrap(), "ガギグ パピ ダ");
    assert_eq!(tok.normalize_source("\u{1100}\u{1161}").unwrap(), "가");
    assert_eq!(tok.normalize_source("  ⑴\t\tﬀi  ").unwrap(), "(1) ffi");
}

#[test]
fn special_tokens_and_language_codes() {
    let tok = fr_en();
    let bonjour = tok.encode_source("Bonjour").unwrap();
    // Special tokens inside the text are kept whole.
    let ids = tok.encode_source("a </s> b").unwrap();
    assert_eq!(ids[1], tok.eos_id());
    assert_eq!(ids.len(), 4);
    // A leading `>>xx<<` is one token: unknown to fr-en, so `<unk>`, and the
    // rest is tokenized as if it stood alone.
    let ids = tok.encode_source(">>ukr<< Bonjour").unwrap();
    assert_eq!(ids[0], tok.unk_id());
    assert_eq!(&ids[1..], &bonjour[..]);
    // Not at the start: ordinary text.
    let ids = tok.encode_source("Bonjour >>fra<<").unwrap();
    assert!(ids.len() > 3);
}

#[test]
fn language_code_in_vocab_is_one_token() {
    // Multi-target models list their codes in vocab.json; add one to fr-en.
    let dir = copy_model_dir();
    let vocab_path = dir.path().join("vocab.json");
    let mut vocab: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&vocab_path).unwrap()).unwrap();
    let code_id = vocab.len() as u64;
    vocab.insert(">>ukr<<".into(), code_id.into());
    std::fs::write(&vocab_path, serde_json::to_string(&vocab).unwrap()).unwrap();
    let tok = MarianTokenizer::from_dir(dir.path()).unwrap();
    let ids = tok.encode_source(">>ukr<< Bonjour").unwrap();
    assert_eq!(ids[0] as u64, code_id);
    assert_eq!(tok.source_pieces(">>ukr<< Bonjour").unwrap()[0], ">>ukr<<");
    assert_eq!(tok.vocab_size(), code_id as usize + 1);
}

#[test]
fn decode_matches_python_on_arbitrary_ids() {
    let tok = fr_en();
    let cases: Vec<DecodeCase> = read_jsonl(&Path::new(FIXTURES).join("fr_en_decode.jsonl"));
    assert!(cases.iter().any(|c| c.decoded.is_none()));
    for case in &cases {
        let got = tok.decode(&case.ids, case.skip_special_tokens);
        match &case.decoded {
            Some(expected) => assert_eq!(
                got.as_ref().ok(),
                Some(expected),
                "decode({:?}, skip={})",
                case.ids,
                case.skip_special_tokens
            ),
            None => assert!(
                matches!(got, Err(Error::Tokenizer(_))),
                "decode({:?}) should fail, got {got:?}",
                case.ids
            ),
        }
    }
}

#[test]
fn special_ids_and_sizes() {
    let tok = fr_en();
    assert_eq!(tok.eos_id(), 43311);
    assert_eq!(tok.unk_id(), 50387);
    assert_eq!(tok.pad_id(), 53016);
    assert_eq!(tok.vocab_size(), 53017);
    assert_eq!(tok.encode_source("").unwrap(), vec![tok.eos_id()]);
    let text = "Le ministre de la Défense ukrainien a rencontré le secrétaire.";
    assert_eq!(
        tok.count_source_tokens(text).unwrap(),
        tok.encode_source(text).unwrap().len()
    );
}

#[test]
fn batch_encoding_keeps_order() {
    let tok = fr_en();
    let texts = [
        "Je t'aime.",
        "",
        "Patriot, HIMARS, F-16 et ATACMS.",
        "Україна",
    ];
    let batch = tok.encode_source_batch(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    for (text, ids) in texts.iter().zip(&batch) {
        assert_eq!(ids, &tok.encode_source(text).unwrap());
    }
}

fn flores_lines(lang: &str, n: usize) -> Vec<String> {
    let path = PathBuf::from(FLORES_DIR).join(format!("dev.{lang}"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .take(n)
        .map(str::to_string)
        .collect()
}

/// decode(encode(text)) is the normalized text, minus the characters the
/// vocabulary cannot represent (each unknown run becomes `<unk>`, which
/// decoding drops, leaving its surrounding spaces).
#[test]
fn round_trip_is_normalized_text() {
    let tok = fr_en();
    let mut texts: Vec<String> =
        read_jsonl::<Case>(&Path::new(MODEL_DIR).join("reference_tokenization.jsonl"))
            .into_iter()
            .map(|c| c.text)
            .collect();
    texts.extend(flores_lines("en", 200));
    texts.extend(flores_lines("uk", 200));
    let mut lossless = 0;
    let mut with_unk = 0;
    for text in &texts {
        let ids = tok.encode_source(text).unwrap();
        let decoded = tok.decode(&ids, true).unwrap();
        let normalized = tok.normalize_source(text).unwrap();
        if !ids.contains(&tok.unk_id()) {
            assert_eq!(decoded, normalized, "lossless round trip of {text:?}");
            lossless += 1;
        } else {
            with_unk += 1;
            // Everything kept is in order: the decoded text is a subsequence
            // of the normalized text, and no unknown piece leaks through.
            let mut rest = normalized.chars();
            for c in decoded.chars().filter(|c| *c != ' ') {
                assert!(
                    rest.any(|n| n == c),
                    "{decoded:?} is not a subsequence of {normalized:?}"
                );
            }
            assert!(!decoded.contains("<unk>"));
        }
    }
    // fr-en covers the English lines (almost) fully and no Cyrillic at all.
    assert!(lossless >= 190, "only {lossless} lossless round trips");
    assert!(with_unk >= 200, "only {with_unk} lines with unknowns");
    let ids = tok.encode_source("Україна").unwrap();
    assert_eq!(ids.iter().filter(|&&id| id == tok.unk_id()).count(), 1);
}

fn copy_model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "source.spm",
        "target.spm",
        "vocab.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        std::fs::copy(Path::new(MODEL_DIR).join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Same directory as the fixture script builds: `separate_vocabs: true` and a
/// target vocabulary with reversed ids.
#[test]
fn separate_vocabs_match_python() {
    let dir = copy_model_dir();
    let vocab: std::collections::HashMap<String, u32> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("vocab.json")).unwrap())
            .unwrap();
    let n = vocab.len() as u32;
    let target: std::collections::HashMap<&String, u32> =
        vocab.iter().map(|(k, v)| (k, n - 1 - v)).collect();
    std::fs::write(
        dir.path().join("target_vocab.json"),
        serde_json::to_string(&target).unwrap(),
    )
    .unwrap();
    let config_path = dir.path().join("tokenizer_config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["separate_vocabs"] = true.into();
    std::fs::write(&config_path, config.to_string()).unwrap();

    let tok = MarianTokenizer::from_dir(dir.path()).unwrap();
    let path = Path::new(FIXTURES).join("separate_vocab_cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cases = Vec::new();
    let mut decodes = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        if value.get("side").is_some() {
            cases.push(serde_json::from_value::<Case>(value).unwrap());
        } else {
            decodes.push(serde_json::from_value::<DecodeCase>(value).unwrap());
        }
    }
    assert!(cases.iter().any(|c| c.side == "target"));
    // Python's pieces for separate vocabs map source ids through the target
    // vocabulary, so only ids and decodes are compared.
    let failures = check_cases(&tok, &cases, false);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Target pieces are the target vocabulary's own.
    let ids = tok.encode_target("I love you.").unwrap();
    assert_eq!(ids[0], n - 1 - vocab["▁I"]);
    for case in decodes {
        assert_eq!(
            tok.decode(&case.ids, case.skip_special_tokens).unwrap(),
            case.decoded.unwrap()
        );
    }
}

fn expect_model_file_error(dir: &Path, file: &str) -> String {
    match MarianTokenizer::from_dir(dir) {
        Err(Error::ModelFile { path, reason }) => {
            assert_eq!(path, dir.join(file), "error names the wrong file: {reason}");
            reason
        }
        other => panic!("expected a ModelFile error for {file}, got {other:?}"),
    }
}

#[test]
fn missing_files_are_named() {
    for file in ["source.spm", "target.spm", "vocab.json"] {
        let dir = copy_model_dir();
        std::fs::remove_file(dir.path().join(file)).unwrap();
        let reason = expect_model_file_error(dir.path(), file);
        assert!(reason.contains("cannot read"), "{reason}");
    }
    // separate_vocabs without target_vocab.json
    let dir = copy_model_dir();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"separate_vocabs": true}"#,
    )
    .unwrap();
    expect_model_file_error(dir.path(), "target_vocab.json");
    // tokenizer_config.json is optional.
    let dir = copy_model_dir();
    std::fs::remove_file(dir.path().join("tokenizer_config.json")).unwrap();
    let tok = MarianTokenizer::from_dir(dir.path()).unwrap();
    assert_eq!(
        tok.encode_source("Je t'aime.").unwrap(),
        fr_en().encode_source("Je t'aime.").unwrap()
    );
}

#[test]
fn corrupt_files_are_named() {
    let spm = std::fs::read(Path::new(MODEL_DIR).join("source.spm")).unwrap();
    for cut in [1, 7, 100, spm.len() / 3, spm.len() / 2, spm.len() - 3] {
        let dir = copy_model_dir();
        std::fs::write(dir.path().join("source.spm"), &spm[..cut]).unwrap();
        expect_model_file_error(dir.path(), "source.spm");
    }
    let dir = copy_model_dir();
    std::fs::write(
        dir.path().join("target.spm"),
        b"this is not a protobuf at all",
    )
    .unwrap();
    expect_model_file_error(dir.path(), "target.spm");

    for bad in ["{\"a\": ", "[1, 2, 3]", "{\"<unk>\": \"zero\"}", "{}"] {
        let dir = copy_model_dir();
        std::fs::write(dir.path().join("vocab.json"), bad).unwrap();
        expect_model_file_error(dir.path(), "vocab.json");
    }
    // A vocabulary without the unknown token is rejected (transformers raises too).
    let dir = copy_model_dir();
    std::fs::write(dir.path().join("vocab.json"), r#"{"</s>": 0, "<pad>": 1}"#).unwrap();
    let reason = expect_model_file_error(dir.path(), "vocab.json");
    assert!(reason.contains("<unk>"), "{reason}");

    let dir = copy_model_dir();
    std::fs::write(dir.path().join("tokenizer_config.json"), "{not json").unwrap();
    expect_model_file_error(dir.path(), "tokenizer_config.json");
}

/// Tiny models trained by the fixture script cover what fr-en lacks: byte
/// fallback, user-defined symbols, and a model without charsmap, dummy prefix
/// or whitespace collapsing.
fn check_tiny_model(name: &str) {
    let fixture = Path::new(FIXTURES).join(format!("tiny_{name}"));
    let dir = tempfile::tempdir().unwrap();
    for spm in ["source.spm", "target.spm"] {
        std::fs::copy(fixture.join("model.spm"), dir.path().join(spm)).unwrap();
    }
    std::fs::copy(fixture.join("vocab.json"), dir.path().join("vocab.json")).unwrap();
    let tok = MarianTokenizer::from_dir(dir.path()).unwrap();
    let text = std::fs::read_to_string(fixture.join("cases.jsonl")).unwrap();
    let mut cases = Vec::new();
    let mut decodes = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        if value.get("side").is_some() {
            cases.push(serde_json::from_value::<Case>(value).unwrap());
        } else {
            decodes.push(serde_json::from_value::<DecodeCase>(value).unwrap());
        }
    }
    assert!(cases.len() > 400 && !decodes.is_empty());
    let failures = check_cases(&tok, &cases, false);
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for case in decodes {
        assert_eq!(
            tok.decode(&case.ids, case.skip_special_tokens).ok(),
            case.decoded,
            "{name}: decode({:?}, skip={})",
            case.ids,
            case.skip_special_tokens
        );
    }
}

#[test]
fn byte_fallback_and_user_defined_symbols_match_python() {
    check_tiny_model("bytefallback");
}

#[test]
fn identity_normalizer_without_dummy_prefix_matches_python() {
    check_tiny_model("identity");
}

#[test]
fn spm_model_matches_sentencepiece_processor() {
    use ukdigest::marian::tokenizer::SpmModel;
    let sp = SpmModel::from_file(&Path::new(MODEL_DIR).join("source.spm")).unwrap();
    assert_eq!(sp.piece_size(), 32000);
    assert_eq!(sp.id_to_piece(0), Some("<unk>"));
    // Unknown runs come back as their (fused) surface, as in Python's
    // `SentencePieceProcessor.encode(text, out_type=str)`.
    let pieces = sp.encode_pieces("Україна готова, « Nos » — 1½").unwrap();
    assert_eq!(
        pieces,
        [
            "▁",
            "Україна",
            "▁",
            "готова",
            ",",
            "▁«",
            "▁Nos",
            "▁»",
            "▁—",
            "▁11",
            "⁄",
            "2"
        ]
    );
    assert_eq!(
        sp.decode_pieces(&pieces).unwrap(),
        "Україна готова, « Nos » — 11⁄2"
    );
    // `<unk>` decodes to the unk surface, control pieces vanish, and a string
    // that is no piece is copied verbatim.
    assert_eq!(
        sp.decode_pieces(&["▁x", "<unk>", "</s>", "▁▁y"]).unwrap(),
        "x \u{2047} ▁▁y"
    );
}
