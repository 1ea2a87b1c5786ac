//! Crash safety and shared output folders, with the real binary and a real
//! (small) model: a run killed with SIGKILL at several points and re-run
//! ends with the same outputs as an uninterrupted run and reuses what was
//! finished; three shards as separate processes into one folder equal the
//! unsharded run; two concurrent runs into one folder write each article
//! exactly once.
mod common;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Short generation budgets: the tests are about the pipeline's
/// mechanics, and a 135M model fills any budget it is given.
const CONFIG: &str = "[summarize]\nmax_new_tokens = 40\n\n[facts]\nmax_new_tokens = 32\n";

/// Four short pages: two days and an undated one.
fn pages(dir: &Path) {
    let pages = [
        (
            "a1",
            "Київ відновлює мости\n\n11.04.2025 10:00\n\nУ Києві відкрили 2 нові мости через Дніпро.\n\nРоботи тривали 3 роки.\n",
        ),
        (
            "a2",
            "Львів приймає форум\n\n11.04.2025 12:30\n\nУ Львові почався форум урбаністів.\n\nУчасників понад 400.\n",
        ),
        (
            "a3",
            "Одеса готує порт\n\n12.04.2025 09:15\n\nПорт Одеси прийняв 15 суден за тиждень.\n\nЦе на 20% більше.\n",
        ),
        (
            "a4",
            "Харків будує школи\n\nУ Харкові звели 5 підземних шкіл.\n\nНавчання почнеться восени.\n",
        ),
    ];
    std::fs::create_dir_all(dir).unwrap();
    for (id, text) in pages {
        std::fs::write(dir.join(format!("{id}.txt")), text).unwrap();
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    inputs: PathBuf,
    config: PathBuf,
    root: PathBuf,
}

fn setup() -> Setup {
    let _ = common::smollm2_gguf();
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in");
    pages(&inputs);
    let config = tmp.path().join("models.toml");
    std::fs::write(&config, CONFIG).unwrap();
    Setup {
        root: tmp.path().to_path_buf(),
        _tmp: tmp,
        inputs,
        config,
    }
}

impl Setup {
    fn digest(&self, out: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ukdigest"));
        c.current_dir(common::repo())
            .arg("--config")
            .arg(&self.config)
            .args(["--threads", "1", "digest"])
            .arg(&self.inputs)
            .arg("--out")
            .arg(out)
            .args(["--llm", "smollm2-135m-instruct"]);
        c
    }

    /// The uninterrupted run's outputs, normalized.
    fn reference(&self) -> std::collections::BTreeMap<String, String> {
        let out = self.root.join("reference");
        let o = self.digest(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        common::normalize_dir(&out)
    }
}

/// Files under `dir` (recursively) whose names mark temporaries.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(".tmp-") {
                out.push(p);
            }
        }
    }
    out
}

/// The ids of the articles a run's stdout reports as written.
fn written_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.contains(" → "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Run `cmd` and SIGKILL it when a line of its log (stderr) contains
/// `trigger`. Returns the log up to the kill and the ids written before
/// it; panics if the run ended before the trigger showed.
fn run_until(mut cmd: Command, trigger: &str) -> (String, Vec<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut s).unwrap();
        s
    });
    let reader = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    for line in reader.lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains(trigger) {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            let stdout = out.join().unwrap();
            return (log, written_ids(&stdout));
        }
    }
    let status = child.wait().unwrap();
    panic!("the run ended ({status}) before `{trigger}`:\n{log}");
}

#[test]
fn a_killed_run_resumes_to_the_same_outputs() {
    let s = setup();
    let want = s.reference();
    for (point, trigger, reused) in [
        ("during translation", "a2: translate (", None),
        (
            "during summarize",
            "a3: summarize (",
            Some("a3: translate reused"),
        ),
        (
            "while writing the daily digests",
            "rebuilding the daily digests",
            None,
        ),
    ] {
        let out = s.root.join(format!("killed-{}", point.replace(' ', "-")));
        let (log, done_before) = run_until(s.digest(&out), trigger);
        let o = s.digest(&out).output().unwrap();
        let rerun = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{point}: {rerun}");
        if let Some(r) = reused {
            assert!(
                rerun.contains(r),
                "{point}: the finished stage is reused:\n{rerun}"
            );
        }
        // What finished before the kill is not redone.
        let stdout = String::from_utf8_lossy(&o.stdout);
        for id in &done_before {
            assert!(
                stdout.contains(&format!("{id}  skipped")),
                "{point}: {id} was done before the kill:\n{log}\n{stdout}"
            );
        }
        let redone = written_ids(&stdout);
        assert!(
            redone.iter().all(|id| !done_before.contains(id)),
            "{point}: {redone:?} vs {done_before:?}"
        );
        assert_eq!(common::normalize_dir(&out), want, "{point}: same outputs");
        assert!(
            temporaries(&out).is_empty(),
            "{point}: {:?}",
            temporaries(&out)
        );
        let work = out.join(".ukdigest/work");
        let left: Vec<_> = std::fs::read_dir(&work)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{point}: checkpoints removed: {left:?}");
    }
}

#[test]
fn shards_and_concurrent_runs_share_one_folder() {
    let s = setup();
    let want = s.reference();

    // Three shards as separate processes into one folder.
    let out = s.root.join("sharded");
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut c = s.digest(&out);
            c.arg("--shard")
                .arg(format!("{i}/3"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let mut written = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        written += written_ids(&String::from_utf8_lossy(&o.stdout)).len();
    }
    assert_eq!(written, 4, "each article in exactly one shard");
    assert_eq!(common::normalize_dir(&out), want, "sharded = unsharded");

    // Two overlapping runs on the same inputs and folder.
    let out = s.root.join("concurrent");
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut c = s.digest(&out);
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let mut written = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        written += written_ids(&String::from_utf8_lossy(&o.stdout)).len();
    }
    assert_eq!(written, 4, "each article done exactly once");
    assert_eq!(common::normalize_dir(&out), want);

    // `merge` rebuilds the daily digests from the records alone.
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("digest-") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let o = Command::new(env!("CARGO_BIN_EXE_ukdigest"))
        .arg("merge")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(common::normalize_dir(&out), want);
}
