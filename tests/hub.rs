//! The `hf` source against a local hub (tests/common/hub_server.rs) on
//! 127.0.0.1: good downloads into the hub cache layout, 404/500, bodies cut
//! off, slow servers, moved revisions, redirects, tokens, offline mode.
#[path = "common/hub_server.rs"]
mod hub_server;

use hub_server::{git_etag, sha256_hex, Fault, HubServer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ukdigest::config::{Engine, Location, ModelSpec, Source};
use ukdigest::report::{Collect, Silent};
use ukdigest::source::hub::{Hub, HubConfig, HubError, NoHooks};
use ukdigest::source::Resolver;

const REPO: &str = "test-org/tiny-GGUF";
const GGUF: &str = "tiny-q8_0.gguf";
const FOLDER: &str = "models--test-org--tiny-GGUF";

/// Bytes that differ with `seed`.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

struct Setup {
    tmp: tempfile::TempDir,
    server: HubServer,
}

impl Setup {
    fn new() -> Self {
        Setup {
            tmp: tempfile::tempdir().unwrap(),
            server: HubServer::start(),
        }
    }

    fn hub_cache(&self) -> PathBuf {
        self.tmp.path().join("hf/hub")
    }

    fn repo_dir(&self) -> PathBuf {
        self.hub_cache().join(FOLDER)
    }

    fn config(&self) -> HubConfig {
        let mut c = HubConfig::new(self.server.url(), self.hub_cache());
        c.timeout = Duration::from_secs(2);
        c
    }

    fn resolver(&self, cfg: HubConfig) -> Resolver<'static> {
        Resolver::new(self.tmp.path().join("ukdigest"), &Silent).with_hub(cfg)
    }

    fn resolve(&self, spec: &ModelSpec) -> ukdigest::Result<ukdigest::source::ResolvedModel> {
        self.resolver(self.config()).resolve("tiny", spec)
    }
}

fn hf(repo: &str, revision: Option<&str>, file: Option<&str>) -> Source {
    Source {
        location: Location::Hf {
            repo: repo.to_string(),
            revision: revision.map(str::to_string),
            file: file.map(PathBuf::from),
        },
        sha256: None,
    }
}

fn gguf_spec(file: &str) -> ModelSpec {
    ModelSpec {
        engine: Engine::Gguf,
        sources: vec![hf(REPO, None, Some(file))],
    }
}

/// Every path under `dir` (links not followed), relative.
fn tree(dir: &Path) -> Vec<String> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                go(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

/// Nothing under a final name that is not a complete, verified file.
fn assert_no_final_file(repo_dir: &Path, bad_sha: &str) {
    for p in tree(repo_dir) {
        assert!(
            !p.starts_with("snapshots/") || !p.ends_with(".gguf"),
            "snapshot link left: {p}"
        );
        assert!(p != format!("blobs/{bad_sha}"), "blob left: {p}");
        assert!(!p.starts_with("refs/"), "ref written: {p}");
    }
}

fn err_text<T: std::fmt::Debug>(r: ukdigest::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn good_download_writes_the_hub_cache_layout() {
    let s = Setup::new();
    let body = payload(300_000, 1);
    let sha = sha256_hex(&body);
    let commit = s.server.commit(
        REPO,
        "main",
        &[(GGUF, &body, true), ("README.md", b"# tiny\n", false)],
    );
    let collect = Collect::default();
    let r = Resolver::new(s.tmp.path().join("ukdigest"), &collect).with_hub(s.config());
    let m = r.resolve("tiny", &gguf_spec(GGUF)).unwrap();

    let snap = s.repo_dir().join("snapshots").join(&commit).join(GGUF);
    assert_eq!(m.path, snap);
    assert_eq!(m.sha256, sha);
    assert!(m.skipped.is_empty());
    assert_eq!(
        std::fs::read_link(&snap).unwrap(),
        Path::new("../../blobs").join(&sha),
        "a relative link to the blob, as huggingface_hub makes it"
    );
    assert_eq!(
        std::fs::read(s.repo_dir().join("blobs").join(&sha)).unwrap(),
        body
    );
    assert_eq!(
        std::fs::read_to_string(s.repo_dir().join("refs/main")).unwrap(),
        commit
    );
    assert_eq!(
        tree(&s.repo_dir()),
        vec![
            "blobs".to_string(),
            format!("blobs/{sha}"),
            "refs".into(),
            "refs/main".into(),
            "snapshots".into(),
            format!("snapshots/{commit}"),
            format!("snapshots/{commit}/{GGUF}"),
        ]
    );
    let lines = collect.lines.lock().unwrap().join("\n");
    assert!(
        lines.contains("fetching tiny: test-org/tiny-GGUF@main/tiny-q8_0.gguf"),
        "{lines}"
    );
    assert!(lines.contains("sha256 verified"), "{lines}");
    // The LFS bytes come from the CDN the hub redirects to (absolute Location).
    assert_eq!(s.server.count("GET", &format!("/cdn/{sha}")), 1);

    // Again: the hub is asked (HEAD), nothing is downloaded.
    let gets = s.server.count("GET", "");
    let again = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(again.path, snap);
    assert_eq!(s.server.count("GET", ""), gets);
    assert_eq!(s.server.count("HEAD", GGUF), 2);
}

#[test]
fn regular_files_are_fetched_in_place_with_a_git_etag() {
    let s = Setup::new();
    let body = b"{\"d_model\": 8}".to_vec();
    let commit = s
        .server
        .commit(REPO, "main", &[("config.json", &body, false)]);
    let hub = Hub::new(s.config());
    let f = hub.fetch(REPO, "main", "config.json", &NoHooks).unwrap();
    assert!(f.downloaded);
    assert_eq!(f.commit, commit);
    assert_eq!(std::fs::read(&f.path).unwrap(), body);
    assert!(s.repo_dir().join("blobs").join(git_etag(&body)).is_file());
    // Served by the resolve URL itself, no redirect.
    assert_eq!(s.server.count("GET", "/resolve/main/config.json"), 1);
}

#[test]
fn files_cached_by_huggingface_hub_are_found() {
    // The layout Python's huggingface_hub (and the hf-hub crate) write.
    let s = Setup::new();
    let body = payload(5_000, 2);
    let sha = sha256_hex(&body);
    let commit = s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    let dir = s.repo_dir();
    std::fs::create_dir_all(dir.join("blobs")).unwrap();
    std::fs::create_dir_all(dir.join("snapshots").join(&commit)).unwrap();
    std::fs::create_dir_all(dir.join("refs")).unwrap();
    std::fs::write(dir.join("blobs").join(&sha), &body).unwrap();
    std::os::unix::fs::symlink(
        Path::new("../../blobs").join(&sha),
        dir.join("snapshots").join(&commit).join(GGUF),
    )
    .unwrap();
    std::fs::write(dir.join("refs/main"), &commit).unwrap();

    let m = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(m.sha256, sha);
    assert_eq!(s.server.count("GET", ""), 0, "nothing downloaded");
    let mut offline = s.config();
    offline.offline = true;
    let m = s
        .resolver(offline)
        .resolve("tiny", &gguf_spec(GGUF))
        .unwrap();
    assert_eq!(m.path, dir.join("snapshots").join(&commit).join(GGUF));
}

#[test]
fn missing_file_falls_through_to_the_next_source_and_says_why() {
    let s = Setup::new();
    s.server.commit(REPO, "main", &[("README.md", b"x", false)]);
    let local = s.tmp.path().join("local.gguf");
    std::fs::write(&local, b"GGUF local").unwrap();
    let spec = ModelSpec {
        engine: Engine::Gguf,
        sources: vec![hf(REPO, None, Some(GGUF)), Source::file(&local)],
    };
    let m = s.resolve(&spec).unwrap();
    assert_eq!(m.path, local);
    assert_eq!(m.skipped.len(), 1);
    let why = &m.skipped[0];
    assert!(why.contains("[hf]"), "{why}");
    assert!(why.contains(&format!("{REPO}@main/{GGUF}")), "{why}");
    assert!(
        why.contains("404") && why.contains("EntryNotFound"),
        "{why}"
    );
    // A revision or repository that does not exist says so too.
    let e = err_text(s.resolve(&ModelSpec {
        engine: Engine::Gguf,
        sources: vec![hf(REPO, Some("v9"), Some(GGUF))],
    }));
    assert!(e.contains("RevisionNotFound"), "{e}");
    let e = err_text(s.resolve(&ModelSpec {
        engine: Engine::Gguf,
        sources: vec![hf("nobody/nothing", None, Some(GGUF))],
    }));
    assert!(
        e.contains("nobody/nothing@main") && e.contains("RepoNotFound"),
        "{e}"
    );
}

#[test]
fn a_file_without_the_expected_sha256_falls_through() {
    // models.toml pins a sha256; the hub's file is another (the revision moved).
    let s = Setup::new();
    let body = payload(1_000, 19);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    let local = s.tmp.path().join("pinned.gguf");
    std::fs::write(&local, b"GGUF pinned").unwrap();
    let mut pinned = hf(REPO, None, Some(GGUF));
    pinned.sha256 = Some(sha256_hex(b"GGUF pinned"));
    let spec = ModelSpec {
        engine: Engine::Gguf,
        sources: vec![pinned, Source::file(&local)],
    };
    let m = s.resolve(&spec).unwrap();
    assert_eq!(m.path, local);
    let why = &m.skipped[0];
    assert!(
        why.contains(GGUF) && why.contains("does not match the expected"),
        "{why}"
    );
    assert!(why.contains(&sha256_hex(&body)), "{why}");
}

#[test]
fn server_error_names_repo_file_and_status() {
    let s = Setup::new();
    s.server
        .commit(REPO, "main", &[(GGUF, &payload(1000, 3), true)]);
    s.server.fault(REPO, GGUF, Some(Fault::Status(500)));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(e.contains(&format!("{REPO}@main/{GGUF}")), "{e}");
    assert!(e.contains("HTTP 500"), "{e}");
    assert!(tree(&s.repo_dir())
        .iter()
        .all(|p| !p.starts_with("snapshots/")));

    // The bytes' server failing (HEAD fine) is reported the same way.
    s.server.fault(REPO, GGUF, Some(Fault::GetStatus(503)));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(e.contains(GGUF) && e.contains("HTTP 503"), "{e}");
    assert_no_final_file(&s.repo_dir(), "");
}

#[test]
fn body_cut_off_leaves_no_final_file_and_is_resumed_with_range() {
    let s = Setup::new();
    let body = payload(200_000, 4);
    let sha = sha256_hex(&body);
    let commit = s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    s.server.fault(REPO, GGUF, Some(Fault::CutAt(80_000)));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(e.contains(&format!("{REPO}@main/{GGUF}")), "{e}");
    assert!(e.contains("cut off after 80000 of 200000 bytes"), "{e}");
    assert_no_final_file(&s.repo_dir(), &sha);
    let partial = s.repo_dir().join("blobs").join(format!("{sha}.incomplete"));
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 80_000);
    // A reader of the cache does not see it.
    let hub = Hub::new(s.config());
    assert!(hub.cached(REPO, "main", GGUF).is_none());

    // The server recovers: the rest is fetched with Range and verified.
    s.server.fault(REPO, GGUF, None);
    let m = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(m.sha256, sha);
    assert_eq!(std::fs::read(&m.path).unwrap(), body);
    assert_eq!(
        m.path,
        s.repo_dir().join("snapshots").join(&commit).join(GGUF)
    );
    let ranges: Vec<_> = s
        .server
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    assert_eq!(ranges, vec!["bytes=80000-".to_string()]);
    assert!(!partial.exists());
}

#[test]
fn resume_against_a_server_without_range_starts_over() {
    let s = Setup::new();
    let body = payload(50_000, 5);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    s.server.fault(REPO, GGUF, Some(Fault::CutAt(10_000)));
    assert!(s.resolve(&gguf_spec(GGUF)).is_err());
    s.server.fault(REPO, GGUF, Some(Fault::NoRange));
    let m = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(std::fs::read(&m.path).unwrap(), body);
}

#[test]
fn a_corrupt_download_is_removed_and_named() {
    let s = Setup::new();
    let body = payload(64_000, 6);
    let sha = sha256_hex(&body);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    s.server.fault(REPO, GGUF, Some(Fault::FlipByte));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(e.contains(GGUF) && e.contains("sha256"), "{e}");
    assert!(e.contains(&sha) && e.contains("removed"), "{e}");
    assert_no_final_file(&s.repo_dir(), &sha);
    assert!(!s
        .repo_dir()
        .join("blobs")
        .join(format!("{sha}.incomplete"))
        .exists());

    // Fewer bytes than the hub announced, cleanly closed.
    s.server.fault(REPO, GGUF, Some(Fault::Short(1000)));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(
        e.contains(GGUF) && e.contains("1000 bytes") && e.contains("64000"),
        "{e}"
    );
    assert_no_final_file(&s.repo_dir(), &sha);

    // Then a good answer.
    s.server.fault(REPO, GGUF, None);
    assert_eq!(s.resolve(&gguf_spec(GGUF)).unwrap().sha256, sha);
}

#[test]
fn a_corrupt_cached_blob_is_fetched_again() {
    let s = Setup::new();
    let body = payload(10_000, 7);
    let sha = sha256_hex(&body);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    s.resolve(&gguf_spec(GGUF)).unwrap();
    let blob = s.repo_dir().join("blobs").join(&sha);
    let mut bad = body.clone();
    bad[10] ^= 1;
    std::fs::write(&blob, &bad).unwrap();
    let m = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(m.sha256, sha);
    assert_eq!(std::fs::read(&blob).unwrap(), body);
    assert_eq!(s.server.count("GET", "/cdn/"), 2);
    // Offline, a corrupt cached copy is an error, not a wrong answer.
    std::fs::write(&blob, &bad).unwrap();
    let mut offline = s.config();
    offline.offline = true;
    let e = err_text(s.resolver(offline).resolve("tiny", &gguf_spec(GGUF)));
    assert!(e.contains("corrupt") && e.contains(GGUF), "{e}");
}

#[test]
fn two_fetches_of_one_file_at_once_share_the_download() {
    let s = Setup::new();
    let body = payload(2_000_000, 18);
    let sha = sha256_hex(&body);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    let paths: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let cfg = s.config();
                scope.spawn(move || {
                    Hub::new(cfg)
                        .fetch(REPO, "main", GGUF, &NoHooks)
                        .map(|f| f.path)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(paths[0], paths[1]);
    assert_eq!(sha256_hex(&std::fs::read(&paths[0]).unwrap()), sha);
    let blobs = tree(&s.repo_dir().join("blobs"));
    assert_eq!(blobs, vec![sha.clone()], "one blob, no temporaries");
    assert_eq!(s.server.count("GET", "/cdn/"), 1, "downloaded once");
}

#[test]
fn slow_server_times_out() {
    let s = Setup::new();
    s.server
        .commit(REPO, "main", &[(GGUF, &payload(10_000, 8), true)]);
    s.server
        .fault(REPO, GGUF, Some(Fault::Stall(Duration::from_secs(5))));
    let t = Instant::now();
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    let took = t.elapsed();
    assert!(took < Duration::from_millis(4500), "took {took:?}");
    assert!(took >= Duration::from_millis(1900), "took {took:?}");
    assert!(e.contains(&format!("{REPO}@main/{GGUF}")), "{e}");
    assert!(e.contains("timed out") || e.contains("within 2.0 s"), "{e}");
    assert!(e.contains("UKDIGEST_HTTP_TIMEOUT_SECS"), "{e}");
}

#[test]
fn body_that_stalls_times_out_and_leaves_no_final_file() {
    let s = Setup::new();
    let body = payload(100_000, 9);
    let sha = sha256_hex(&body);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    s.server.fault(
        REPO,
        GGUF,
        Some(Fault::StallBody {
            after: 30_000,
            wait: Duration::from_secs(5),
        }),
    );
    let t = Instant::now();
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(
        t.elapsed() < Duration::from_millis(4500),
        "{:?}",
        t.elapsed()
    );
    assert!(e.contains("cut off after 30000 of 100000 bytes"), "{e}");
    assert!(e.contains("UKDIGEST_HTTP_TIMEOUT_SECS"), "{e}");
    assert_no_final_file(&s.repo_dir(), &sha);
}

#[test]
fn a_moved_revision_fetches_the_new_commit() {
    let s = Setup::new();
    let v1 = payload(20_000, 10);
    let v2 = payload(20_000, 11);
    let readme = b"# same in both\n".to_vec();
    let c1 = s.server.commit(
        REPO,
        "main",
        &[(GGUF, &v1, true), ("README.md", &readme, false)],
    );
    let hub = Hub::new(s.config());
    let r1 = hub.fetch(REPO, "main", "README.md", &NoHooks).unwrap();
    let m1 = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(m1.sha256, sha256_hex(&v1));

    let c2 = s.server.commit(
        REPO,
        "main",
        &[(GGUF, &v2, true), ("README.md", &readme, false)],
    );
    assert_ne!(c1, c2);
    let m2 = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(m2.sha256, sha256_hex(&v2));
    assert_eq!(m2.path, s.repo_dir().join("snapshots").join(&c2).join(GGUF));
    assert_eq!(std::fs::read(&m2.path).unwrap(), v2);
    assert_eq!(
        std::fs::read_to_string(s.repo_dir().join("refs/main")).unwrap(),
        c2
    );
    // The old snapshot is still whole.
    assert_eq!(std::fs::read(&m1.path).unwrap(), v1);
    // An unchanged file of the new commit is linked, not downloaded again.
    let gets = s.server.count("GET", "README.md");
    let r2 = hub.fetch(REPO, "main", "README.md", &NoHooks).unwrap();
    assert!(!r2.downloaded);
    assert_eq!(s.server.count("GET", "README.md"), gets);
    assert_ne!(r1.path, r2.path);
    assert_eq!(std::fs::read(&r2.path).unwrap(), readme);
    // A pinned commit still resolves to the old file.
    let pinned = ModelSpec {
        engine: Engine::Gguf,
        sources: vec![hf(REPO, Some(&c1), Some(GGUF))],
    };
    assert_eq!(s.resolve(&pinned).unwrap().sha256, sha256_hex(&v1));
}

#[test]
fn offline_uses_the_cache_or_says_it_is_not_there() {
    let s = Setup::new();
    s.server
        .commit(REPO, "main", &[(GGUF, &payload(4_000, 12), true)]);
    let mut offline = s.config();
    offline.offline = true;
    let e = err_text(
        s.resolver(offline.clone())
            .resolve("tiny", &gguf_spec(GGUF)),
    );
    assert!(e.contains(&format!("{REPO}@main/{GGUF}")), "{e}");
    assert!(
        e.contains("not in the hub cache") && e.contains("HF_HUB_OFFLINE=1"),
        "{e}"
    );
    assert!(s.server.requests().is_empty(), "offline asks nothing");

    let online = s.resolve(&gguf_spec(GGUF)).unwrap();
    let asked = s.server.requests().len();
    let m = s
        .resolver(offline)
        .resolve("tiny", &gguf_spec(GGUF))
        .unwrap();
    assert_eq!(m.path, online.path);
    assert_eq!(m.sha256, online.sha256);
    assert_eq!(s.server.requests().len(), asked, "offline asks nothing");
}

#[test]
fn an_unreachable_hub_falls_back_to_the_cache() {
    let s = Setup::new();
    s.server
        .commit(REPO, "main", &[(GGUF, &payload(4_000, 13), true)]);
    let cached = s.resolve(&gguf_spec(GGUF)).unwrap();
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = s.config();
    cfg.endpoint = format!("http://127.0.0.1:{closed}");
    let collect = Collect::default();
    let r = Resolver::new(s.tmp.path().join("ukdigest"), &collect).with_hub(cfg.clone());
    let m = r.resolve("tiny", &gguf_spec(GGUF)).unwrap();
    assert_eq!(m.path, cached.path);
    let lines = collect.lines.lock().unwrap().join("\n");
    assert!(
        lines.contains("using the cached") && lines.contains("unreachable"),
        "{lines}"
    );
    // Not cached: a clear error.
    let e = err_text(s.resolver(cfg).resolve(
        "tiny",
        &ModelSpec {
            engine: Engine::Gguf,
            sources: vec![hf(REPO, None, Some("other.gguf"))],
        },
    ));
    assert!(e.contains("other.gguf") && e.contains("unreachable"), "{e}");
    // A server error with a cached copy: the cached copy, too.
    s.server.fault(REPO, GGUF, Some(Fault::Status(500)));
    assert_eq!(s.resolve(&gguf_spec(GGUF)).unwrap().path, cached.path);
    // But a refusal (gated or private repository) is final, and says why.
    s.server.fault(REPO, GGUF, Some(Fault::Status(401)));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(e.contains("HTTP 401") && e.contains("HF_TOKEN"), "{e}");
}

#[test]
fn renamed_repositories_follow_relative_redirects() {
    let s = Setup::new();
    let body = payload(3_000, 14);
    s.server
        .commit("new-org/tiny-GGUF", "main", &[(GGUF, &body, true)]);
    s.server.rename(REPO, "new-org/tiny-GGUF");
    let m = s.resolve(&gguf_spec(GGUF)).unwrap();
    assert_eq!(std::fs::read(&m.path).unwrap(), body);
    // Cached under the name asked for, as huggingface_hub does.
    assert!(m.path.starts_with(s.repo_dir()));
    assert!(s.server.count("HEAD", "/new-org/tiny-GGUF/resolve/main/") >= 1);
}

#[test]
fn a_server_that_is_not_a_hub_is_named() {
    let s = Setup::new();
    s.server
        .commit(REPO, "main", &[(GGUF, &payload(100, 15), false)]);
    s.server.fault(REPO, GGUF, Some(Fault::NoCommit));
    let e = err_text(s.resolve(&gguf_spec(GGUF)));
    assert!(e.contains(GGUF) && e.contains("X-Repo-Commit"), "{e}");
}

#[test]
fn the_token_goes_to_the_hub_and_not_to_the_cdn() {
    let s = Setup::new();
    s.server
        .commit(REPO, "main", &[(GGUF, &payload(2_000, 16), true)]);
    s.server.cdn_host("localhost");
    let mut cfg = s.config();
    cfg.token = Some("hf_secret".into());
    s.resolver(cfg).resolve("tiny", &gguf_spec(GGUF)).unwrap();
    let reqs = s.server.requests();
    let head = reqs.iter().find(|r| r.method == "HEAD").unwrap();
    assert_eq!(head.authorization.as_deref(), Some("Bearer hf_secret"));
    let cdn = reqs.iter().find(|r| r.path.starts_with("/cdn/")).unwrap();
    assert!(cdn.host.as_deref().unwrap().starts_with("localhost"));
    assert_eq!(cdn.authorization, None);
}

#[test]
fn a_marian_repository_is_one_snapshot_that_loads() {
    let s = Setup::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/uk_en_like");
    let read = |f: &str| std::fs::read(fixture.join(f)).unwrap();
    let (config, generation, weights) = (
        read("config.json"),
        read("generation_config.json"),
        read("model.safetensors"),
    );
    let repo = "Helsinki-NLP/opus-mt-tiny";
    let commit = s.server.commit(
        repo,
        "main",
        &[
            ("config.json", &config, false),
            ("generation_config.json", &generation, false),
            ("model.safetensors", &weights, true),
            ("source.spm", b"spm", false),
            ("target.spm", b"spm", false),
            ("vocab.json", b"{}", false),
            ("tokenizer_config.json", b"{}", false),
        ],
    );
    let spec = ModelSpec {
        engine: Engine::Marian,
        sources: vec![hf(repo, None, None)],
    };
    let m = s.resolve(&spec).unwrap();
    let snap = s
        .hub_cache()
        .join("models--Helsinki-NLP--opus-mt-tiny/snapshots")
        .join(&commit);
    assert_eq!(m.path, snap);
    assert_eq!(m.sha256, sha256_hex(&weights));
    // After the first file, files are asked for at the commit.
    assert!(
        s.server
            .count("HEAD", &format!("/resolve/{commit}/model.safetensors"))
            == 1
    );
    let model = ukdigest::marian::MarianModel::load(
        &m.path,
        &candle_core::Device::Cpu,
        ukdigest::marian::Quant::F32,
    );
    assert!(model.is_ok(), "{:?}", model.err());

    // Weights missing upstream: a clear error, no panic.
    let repo2 = "Helsinki-NLP/opus-mt-noweights";
    s.server
        .commit(repo2, "main", &[("config.json", &config, false)]);
    let e = err_text(s.resolve(&ModelSpec {
        engine: Engine::Marian,
        sources: vec![hf(repo2, None, None)],
    }));
    assert!(
        e.contains(&format!("{repo2}@main/source.spm")) && e.contains("404"),
        "{e}"
    );
}

#[test]
fn bad_names_are_refused_before_any_request() {
    let s = Setup::new();
    let hub = Hub::new(s.config());
    for (repo, rev, file) in [
        ("../etc", "main", "f"),
        ("a/b", "main", "../../f"),
        ("a/b", "../x", "f"),
        ("a/b/c", "main", "f"),
    ] {
        let e = hub.fetch(repo, rev, file, &NoHooks).unwrap_err();
        assert!(matches!(e, HubError::BadName(_)), "{e}");
    }
    assert!(s.server.requests().is_empty());
}

static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_environment_configures_the_hub() {
    let _g = ENV.lock().unwrap();
    let s = Setup::new();
    let body = payload(1_000, 17);
    s.server.commit(REPO, "main", &[(GGUF, &body, true)]);
    let home = s.tmp.path().join("hf-home");
    let vars = [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "UKDIGEST_HTTP_TIMEOUT_SECS",
    ];
    std::env::set_var("HF_HOME", &home);
    std::env::remove_var("HF_HUB_CACHE");
    std::env::set_var("HF_ENDPOINT", format!("{}/", s.server.url()));
    std::env::set_var("HF_TOKEN", "hf_env");
    std::env::set_var("UKDIGEST_HTTP_TIMEOUT_SECS", "2.5");
    std::env::remove_var("HF_HUB_OFFLINE");
    let cfg = HubConfig::from_env().unwrap();
    assert_eq!(cfg.endpoint, s.server.url());
    assert_eq!(cfg.cache_dir, home.join("hub"));
    assert_eq!(cfg.token.as_deref(), Some("hf_env"));
    assert_eq!(cfg.timeout, Duration::from_millis(2500));
    assert!(!cfg.offline);

    let r = Resolver::new(s.tmp.path().join("ukdigest"), &Silent);
    let m = r.resolve("tiny", &gguf_spec(GGUF)).unwrap();
    assert!(m.path.starts_with(home.join("hub").join(FOLDER)));
    assert_eq!(
        s.server.requests()[0].authorization.as_deref(),
        Some("Bearer hf_env")
    );

    std::env::set_var("HF_HUB_OFFLINE", "1");
    let asked = s.server.requests().len();
    let m2 = Resolver::new(s.tmp.path().join("ukdigest"), &Silent)
        .resolve("tiny", &gguf_spec(GGUF))
        .unwrap();
    assert_eq!(m2.path, m.path);
    assert_eq!(s.server.requests().len(), asked);

    std::env::set_var("UKDIGEST_HTTP_TIMEOUT_SECS", "soon");
    let e = HubConfig::from_env().unwrap_err().to_string();
    assert!(e.contains("UKDIGEST_HTTP_TIMEOUT_SECS"), "{e}");
    for v in vars {
        std::env::remove_var(v);
    }
}
