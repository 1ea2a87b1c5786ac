//! The binary end to end: ingest, digest with a real (small) model, batch
//! behaviour on bad input, incremental re-runs.
mod common;
use std::path::Path;
use std::process::Command;

fn ukdigest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ukdigest"));
    c.current_dir(common::repo());
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let o = c.output().expect("run ukdigest");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn ingest_writes_json_and_text() {
    let d = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(ukdigest().args(["ingest", "seeds", "--out"]).arg(d.path()));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(out.contains("2025-04-11T21:32"), "{out}");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("002_1e12a2d0a498dcd6.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["outlet"], "Інтерфакс-Україна");
    assert!(v["paragraphs"][0]["sentences"][0]["span"].is_array());

    let (ok, out, _) = run(ukdigest().args([
        "ingest",
        "--format",
        "text",
        "seeds/004_d69912333ab1b182.txt",
    ]));
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Денис Шмигаль та Генсек НАТО"),
        "{out}"
    );
    assert_eq!(lines[1], "date: ");
    assert_eq!(lines[3], "");
}

#[test]
fn ingest_fails_only_when_nothing_is_readable() {
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let (ok, _, err) = run(ukdigest().arg("ingest").arg(&empty));
    assert!(!ok);
    assert!(err.contains("empty.txt"), "{err}");
    let (ok, out, err) = run(ukdigest()
        .arg("ingest")
        .arg(&empty)
        .arg("seeds/000_4e02704fb7287723.txt"));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1);
    assert!(err.contains("empty.txt"), "{err}");
}

#[test]
fn bad_models_toml_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("m.toml");
    std::fs::write(&cfg, "[translate]\nmodels = []\nbogus = 1\n").unwrap();
    let (ok, _, err) = run(ukdigest().arg("--config").arg(&cfg).args(["models"]));
    assert!(!ok);
    assert!(err.contains("bogus") && err.contains("m.toml"), "{err}");
}

fn md_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    v.sort();
    v
}

/// The main job on real weights (SmolLM2-135M, fetched by the resolver),
/// with a bad file in the batch, then an incremental re-run.
#[test]
fn digest_end_to_end_with_a_real_model() {
    let _ = common::smollm2_gguf(); // fetch once, outside the timed run
    let d = tempfile::tempdir().unwrap();
    let inputs = d.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for f in ["002_1e12a2d0a498dcd6.txt", "004_d69912333ab1b182.txt"] {
        std::fs::copy(common::repo().join("seeds").join(f), inputs.join(f)).unwrap();
    }
    std::fs::write(
        inputs.join("zz_binary.txt"),
        [0u8, 159, 146, 150, 0, 1, 2, 3],
    )
    .unwrap();
    let out = d.path().join("out");
    // The shipped models.toml with shorter generation budgets: the test is
    // about the pipeline, and a 135M model fills any budget it is given.
    let cfg = d.path().join("models.toml");
    let shipped = std::fs::read_to_string(common::repo().join("models.toml")).unwrap();
    let small = shipped
        .replace("max_new_tokens = 320", "max_new_tokens = 128")
        .replace("max_new_tokens = 384", "max_new_tokens = 96");
    assert_ne!(small, shipped);
    std::fs::write(&cfg, small).unwrap();
    let digest = || {
        let mut c = ukdigest();
        c.arg("--config").arg(&cfg);
        c.args(["--threads", "2", "digest"])
            .arg(&inputs)
            .arg("--out")
            .arg(&out);
        c.args(["--llm", "smollm2-135m-instruct"]);
        c
    };
    let (ok, stdout, err) = run(&mut digest());
    assert!(ok, "{stdout}\n{err}");
    assert!(
        err.contains("zz_binary.txt"),
        "the bad file is named: {err}"
    );
    assert_eq!(
        md_files(&out),
        vec![
            "002_1e12a2d0a498dcd6.md",
            "004_d69912333ab1b182.md",
            "digest-2025-04-11.md",
            "digest-undated.md"
        ]
    );
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("002_1e12a2d0a498dcd6.json")).unwrap(),
    )
    .unwrap();
    // Provenance: the model that ran, its file hash and source, timings.
    let prov = &rec["provenance"];
    assert_eq!(prov["models"]["summarize"]["name"], "smollm2-135m-instruct");
    assert_eq!(prov["models"]["translate"]["name"], "smollm2-135m-instruct");
    assert_eq!(
        prov["models"]["summarize"]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert!(prov["timings"]["total_secs"].as_f64().unwrap() > 0.0);
    assert_eq!(prov["settings"]["facts"]["max_new_tokens"], 96);
    // Summary length is enforced in code.
    let n = rec["summary"].as_array().unwrap().len();
    assert!((1..=4).contains(&n), "{n}");
    // Every source sentence has an English side, in order.
    let sentences: Vec<&serde_json::Value> = rec["paragraphs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["sentences"].as_array().unwrap())
        .collect();
    assert!(sentences.len() >= 8);
    assert!(sentences
        .iter()
        .all(|s| !s["uk"].as_str().unwrap().is_empty()));
    let english = sentences
        .iter()
        .filter(|s| !s["en"].as_str().unwrap().trim().is_empty())
        .count();
    assert!(
        english * 10 >= sentences.len() * 9,
        "{english} of {}",
        sentences.len()
    );
    // Facts are grounded: the Ukrainian text is at its span in the source.
    let src = std::fs::read_to_string(inputs.join("002_1e12a2d0a498dcd6.txt")).unwrap();
    let facts = rec["facts"].as_array().unwrap();
    assert!(!facts.is_empty());
    for f in facts {
        let (a, b) = (
            f["span"][0].as_u64().unwrap() as usize,
            f["span"][1].as_u64().unwrap() as usize,
        );
        assert_eq!(&src[a..b], f["text"].as_str().unwrap());
    }
    let day = std::fs::read_to_string(out.join("digest-2025-04-11.md")).unwrap();
    assert!(
        day.contains("[full article](002_1e12a2d0a498dcd6.md)"),
        "{day}"
    );

    // Re-run: nothing to redo, nothing lost.
    let before = std::fs::read(out.join("002_1e12a2d0a498dcd6.json")).unwrap();
    let (ok, stdout, err) = run(&mut digest());
    assert!(ok, "{err}");
    assert_eq!(stdout.matches("skipped").count(), 2, "{stdout}");
    assert_eq!(
        std::fs::read(out.join("002_1e12a2d0a498dcd6.json")).unwrap(),
        before
    );
}
