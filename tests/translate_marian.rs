//! `ukdigest translate` through the Marian engine on a model directory as
//! the hub lays it out: the real opus-mt SentencePiece files, a vocab.json
//! cut to the size of a small random-weight model (the parity fixture), and
//! a `dir` source in models.toml.
mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURE: &str = "tests/fixtures/marian/uk_en_like";

/// Build the model directory; returns it.
fn model_dir(root: &Path) -> PathBuf {
    let dir = root.join("tiny-marian");
    std::fs::create_dir_all(&dir).unwrap();
    let tok = common::shared().join("testdata/marian-tokenizer-fr-en");
    for f in ["source.spm", "target.spm", "tokenizer_config.json"] {
        std::fs::copy(tok.join(f), dir.join(f)).unwrap();
    }
    let fixture = common::repo().join(FIXTURE);
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    // The fixture model has 500 ids: eos 0, pad 499. Keep the pieces of the
    // real vocabulary with the lowest ids, renumbered into 2..=498.
    let real: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(tok.join("vocab.json")).unwrap()).unwrap();
    let mut pieces: Vec<(u64, &String)> = real
        .iter()
        .filter(|(p, _)| !p.starts_with('<'))
        .map(|(p, id)| (id.as_u64().unwrap(), p))
        .collect();
    pieces.sort();
    let mut vocab = serde_json::Map::new();
    vocab.insert("</s>".into(), 0.into());
    vocab.insert("<unk>".into(), 1.into());
    vocab.insert("<pad>".into(), 499.into());
    for (i, (_, p)) in pieces.iter().take(497).enumerate() {
        vocab.insert((*p).clone(), (i + 2).into());
    }
    std::fs::write(
        dir.join("vocab.json"),
        serde_json::Value::Object(vocab).to_string(),
    )
    .unwrap();
    // Short outputs keep the random model fast.
    std::fs::write(
        dir.join("generation_config.json"),
        r#"{"bad_words_ids": [[499]], "decoder_start_token_id": 499, "eos_token_id": 0,
            "forced_eos_token_id": 0, "max_length": 12, "num_beams": 2, "pad_token_id": 499}"#,
    )
    .unwrap();
    dir
}

fn config(root: &Path, dir: &Path) -> PathBuf {
    let p = root.join("models.toml");
    std::fs::write(
        &p,
        format!(
            r#"
[translate]
models = ["tiny-marian"]
batch_tokens = 256
[summarize]
models = ["absent"]
[facts]
models = ["absent"]
[models.tiny-marian]
engine = "marian"
sources = [{{ dir = "/nonexistent/marian" }}, {{ dir = "{}" }}]
[models.absent]
engine = "gguf"
sources = [{{ file = "/nonexistent.gguf" }}]
"#,
            dir.display()
        ),
    )
    .unwrap();
    p
}

fn translate(cfg: &Path, out: &Path, inputs: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ukdigest"))
        .current_dir(common::repo())
        .arg("--config")
        .arg(cfg)
        .args(["--threads", "2", "translate"])
        .args(inputs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn translate_runs_the_marian_engine_from_a_dir_source() {
    let t = tempfile::tempdir().unwrap();
    let dir = model_dir(t.path());
    let cfg = config(t.path(), &dir);
    let out = t.path().join("out");
    let inputs = [
        "seeds/004_d69912333ab1b182.txt",
        "seeds/000_4e02704fb7287723.txt",
    ];
    let o = translate(&cfg, &out, &inputs);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("004_d69912333ab1b182.translation.json")).unwrap(),
    )
    .unwrap();
    let m = &rec["provenance"]["models"]["translate"];
    assert_eq!(m["engine"], "marian");
    assert_eq!(m["path"], dir.to_str().unwrap());
    assert_eq!(m["skipped_sources"].as_array().unwrap().len(), 1);
    let weights = ukdigest::source::sha256_file(&dir.join("model.safetensors")).unwrap();
    assert_eq!(m["sha256"], weights.as_str());
    assert_eq!(
        rec["provenance"]["settings"]["translate"]["marian"]["num_beams"],
        2
    );
    // Sentence-aligned: every Ukrainian sentence of the article has its slot.
    let article = ukdigest::ingest::ingest_file(&common::repo().join(inputs[0])).unwrap();
    let n: usize = rec["paragraphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sentences"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, article.sentences().count());
    assert!(out.join("000_4e02704fb7287723.en.txt").is_file());

    // Deterministic, and a second run skips what is done.
    let first = std::fs::read_to_string(out.join("004_d69912333ab1b182.en.txt")).unwrap();
    let o = translate(&cfg, &out, &inputs);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("skipped")
            .count(),
        2
    );
    let again = t.path().join("again");
    assert!(translate(&cfg, &again, &inputs[..1]).status.success());
    assert_eq!(
        std::fs::read_to_string(again.join("004_d69912333ab1b182.en.txt")).unwrap(),
        first
    );
}

#[test]
fn a_corrupt_weights_file_is_named() {
    let t = tempfile::tempdir().unwrap();
    let dir = model_dir(t.path());
    let w = dir.join("model.safetensors");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 3]).unwrap();
    let cfg = config(t.path(), &dir);
    let o = translate(
        &cfg,
        &t.path().join("out"),
        &["seeds/004_d69912333ab1b182.txt"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("model.safetensors"), "{stderr}");
}
