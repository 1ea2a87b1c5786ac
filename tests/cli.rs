//! The binary end to end: ingest, configuration errors, translate with a
//! partial models.toml. The digest of the seeds (golden records, re-runs)
//! is in `tests/golden.rs`.
mod common;
use common::{run, ukdigest};

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

/// A models.toml that sets only `[translate]` works with `translate`: the
/// other sections keep the built-in defaults, and the digest stages, which
/// `translate` does not run, are not validated.
#[test]
fn translate_with_a_translate_only_config() {
    let _ = common::smollm2_gguf();
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("models.toml");
    std::fs::write(
        &cfg,
        "[translate]\nmodels = [\"smollm2-135m-instruct\"]\n\n[summarize]\nmodels = [\"opus-mt-uk-en\"]\n",
    )
    .unwrap();
    let page = d.path().join("short.txt");
    std::fs::write(
        &page,
        "Київ відновлює мости\n\n11.04.2025 10:00\n\nУ Києві відкрили 2 нові мости.\n\nРоботи тривали 3 роки.\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let (ok, stdout, err) = run(ukdigest()
        .arg("--config")
        .arg(&cfg)
        .args(["--threads", "2", "translate"])
        .arg(&page)
        .arg("--out")
        .arg(&out));
    assert!(ok, "{stdout}\n{err}");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("short.translation.json")).unwrap())
            .unwrap();
    assert_eq!(rec["schema_version"], 1);
    assert_eq!(
        rec["provenance"]["models"]["translate"]["name"],
        "smollm2-135m-instruct"
    );
    // Translation records carry only the settings translation uses.
    assert!(rec["provenance"]["settings"].get("summarize").is_none());
    assert!(out.join("short.en.txt").is_file());
    // The same config cannot digest: a Marian model cannot summarize.
    let (ok, _, err) = run(ukdigest()
        .arg("--config")
        .arg(&cfg)
        .arg("digest")
        .arg(&page)
        .arg("--out")
        .arg(&out));
    assert!(!ok);
    assert!(
        err.contains("summarize") && err.contains("opus-mt-uk-en"),
        "{err}"
    );
}

/// `echo … | ukdigest translate -` prints the English, and `--lines`
/// keeps a sentence-per-line file line-aligned.
#[test]
fn translate_reads_standard_input_and_keeps_lines() {
    use std::io::Write;
    let _ = common::smollm2_gguf();
    let mut child = ukdigest()
        .args([
            "--threads",
            "2",
            "translate",
            "--translator",
            "smollm2-135m-instruct",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("Київ — столиця України.\n".as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(!out.trim().is_empty());

    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("lines.uk");
    std::fs::write(&input, "Перше речення.\n\nДруге речення. Ще одне.\nТретє\n").unwrap();
    let (ok, out, err) = run(ukdigest()
        .args(["--threads", "2", "translate", "--translator"])
        .arg("smollm2-135m-instruct")
        .args(["--lines", "--format", "text"])
        .arg(&input));
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(lines[1].is_empty(), "an empty line stays empty: {out:?}");
}
