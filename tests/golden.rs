//! The main job end to end on real weights (SmolLM2-135M, fetched by the
//! resolver): the digest of the five seeds, with a bad file in the batch,
//! must write the same records and markdown as the golden run in
//! `tests/fixtures/golden/` (timings, paths and provenance prose aside);
//! then a re-run over the finished folder skips every article and loads
//! no model.
//!
//! The golden files were written by ukdigest (re-blessed with the entity
//! table of issue #8) with the command in
//! `tests/fixtures/golden/README.md`, and normalized by [`normalize_dir`]
//! (`UKDIGEST_GOLDEN_FROM=<dir> cargo test --release --test golden -- --ignored bless`).
mod common;
use common::normalize_dir;
use common::{run, ukdigest};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Instant;

fn golden_dir() -> PathBuf {
    common::repo().join("tests/fixtures/golden")
}

/// A partial models.toml: the generation budgets change (the test is
/// about the pipeline, and a 135M model fills any budget it is given) and
/// the LLM facts step, off by default, runs; everything else is the
/// built-in configuration.
const CONFIG: &str =
    "[summarize]\nmax_new_tokens = 128\n\n[facts]\nllm_facts = true\nmax_new_tokens = 96\n";

#[test]
fn digest_of_the_seeds_matches_the_golden_run() {
    let _ = common::smollm2_gguf(); // fetch once, outside the run
    let d = tempfile::tempdir().unwrap();
    let inputs = d.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for e in std::fs::read_dir(common::repo().join("seeds")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, inputs.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        inputs.join("zz_binary.txt"),
        [0u8, 159, 146, 150, 0, 1, 2, 3],
    )
    .unwrap();
    let cfg = d.path().join("models.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = d.path().join("out");
    let digest = || {
        let mut c = ukdigest();
        c.arg("--config").arg(&cfg);
        c.args(["--threads", "2", "digest"])
            .arg(&inputs)
            .arg("--out")
            .arg(&out)
            .args(["--llm", "smollm2-135m-instruct"]);
        c
    };
    let (ok, stdout, err) = run(&mut digest());
    assert!(ok, "{stdout}\n{err}");
    assert!(
        err.contains("zz_binary.txt"),
        "the bad file is named: {err}"
    );

    // Provenance: the model that ran, its file hash and source, timings.
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("002_1e12a2d0a498dcd6.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["schema_version"], 1);
    let prov = &rec["provenance"];
    assert_eq!(prov["models"]["summarize"]["name"], "smollm2-135m-instruct");
    assert_eq!(prov["models"]["translate"]["name"], "smollm2-135m-instruct");
    assert_eq!(
        prov["models"]["summarize"]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert!(prov["timings"]["total_secs"].as_f64().unwrap() > 0.0);
    assert_eq!(prov["settings"]["facts"]["max_new_tokens"], 96);
    // Facts are grounded: the Ukrainian text is at its span in the source.
    let src = std::fs::read_to_string(inputs.join("002_1e12a2d0a498dcd6.txt")).unwrap();
    for f in rec["facts"].as_array().unwrap() {
        let (a, b) = (
            f["span"][0].as_u64().unwrap() as usize,
            f["span"][1].as_u64().unwrap() as usize,
        );
        assert_eq!(&src[a..b], f["text"].as_str().unwrap());
    }

    // The same records and markdown as the golden run.
    let got = normalize_dir(&out);
    let want = normalize_dir(&golden_dir());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, text) in &want {
        if got[name] != *text {
            let keep = std::env::temp_dir().join(format!("golden-got-{name}"));
            std::fs::write(&keep, &got[name]).unwrap();
            panic!(
                "{name} differs from the golden run (normalized output kept in {})",
                keep.display()
            );
        }
    }

    // Re-run on the finished folder: nothing to redo, no model loaded,
    // nothing rewritten.
    let before = std::fs::read(out.join("002_1e12a2d0a498dcd6.json")).unwrap();
    let t0 = Instant::now();
    let (ok, stdout, err) = run(&mut digest());
    let secs = t0.elapsed().as_secs_f64();
    assert!(ok, "{err}");
    assert_eq!(stdout.matches("skipped").count(), 5, "{stdout}");
    assert!(!err.contains("loading"), "no model is loaded: {err}");
    eprintln!("re-run over the finished folder: {secs:.2} s");
    assert_eq!(
        std::fs::read(out.join("002_1e12a2d0a498dcd6.json")).unwrap(),
        before
    );
}

/// Writes the normalized outputs of `$UKDIGEST_GOLDEN_FROM` (a digest
/// folder made with [`CONFIG`], `--threads 2 --llm smollm2-135m-instruct`)
/// as the golden files.
#[test]
#[ignore]
fn bless() {
    let from =
        PathBuf::from(std::env::var_os("UKDIGEST_GOLDEN_FROM").expect("UKDIGEST_GOLDEN_FROM"));
    let dir = golden_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in normalize_dir(&from) {
        std::fs::write(dir.join(name), text).unwrap();
    }
}
