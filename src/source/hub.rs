//! A small client for the Hugging Face hub's file protocol that writes the
//! hub cache exactly as Python's `huggingface_hub` (and the `hf-hub` crate)
//! do, so that files cached by any of them are found by the others.
//!
//! Protocol, per file:
//!
//! 1. `HEAD {endpoint}/{repo}/resolve/{revision}/{file}`. Relative redirects
//!    (a renamed repository) are followed; an absolute redirect (an LFS file
//!    on a CDN) says where the bytes are. The answer names the commit
//!    (`X-Repo-Commit`), the blob (`X-Linked-Etag`, else `ETag`; for LFS files
//!    it is the sha256 of the content) and the size (`X-Linked-Size`, else
//!    `Content-Length` of a non-redirect answer).
//! 2. If the cache holds the blob, only the snapshot link and the ref are
//!    written. Otherwise `GET` the bytes (redirects followed; the token goes
//!    to the endpoint's own host only) into `blobs/{etag}.incomplete`,
//!    resuming an earlier partial download with `Range`.
//! 3. Verify: the byte count against the announced size, and the sha256
//!    against the ETag when the ETag is a 64-hex sha256. A bad download is
//!    removed; a cut-off one stays under its temporary name (resumed next
//!    time, ignored by every reader). Only then is it renamed to its blob name.
//!
//! Cache layout under `cache_dir` (`$HF_HUB_CACHE`, else `$HF_HOME/hub`):
//!
//! ```text
//! models--{org}--{name}/blobs/{etag}
//! models--{org}--{name}/snapshots/{commit}/{file} -> ../../blobs/{etag}
//! models--{org}--{name}/refs/{revision}            (contains the commit)
//! .locks/models--{org}--{name}/{etag}.lock
//! ```
//!
//! When the hub cannot be reached (connection refused, timeout, a 5xx
//! answer) a file already cached for the revision is used instead, and the
//! hub is not asked again by the same [`Hub`]; a 404 or 401/403 is final.
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The hub that `HF_ENDPOINT` replaces.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Connect and read timeout when `UKDIGEST_HTTP_TIMEOUT_SECS` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The variable that sets the HTTP timeout (seconds, may be fractional).
pub const TIMEOUT_VAR: &str = "UKDIGEST_HTTP_TIMEOUT_SECS";

const MAX_REDIRECTS: usize = 10;
const USER_AGENT: &str = concat!(
    "ukdigest/",
    env!("CARGO_PKG_VERSION"),
    "; hf_hub/compatible"
);

/// Where the hub is, where its cache is, and how to talk to it.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// Base URL, without a trailing slash (`HF_ENDPOINT`).
    pub endpoint: String,
    /// The hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Sent as `Authorization: Bearer …` to the endpoint's host (`HF_TOKEN`,
    /// else the token file `huggingface-cli login` writes).
    pub token: Option<String>,
    /// Cache only, no requests (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Connect timeout, and the longest wait for any data while reading.
    pub timeout: Duration,
}

impl HubConfig {
    /// A configuration for `endpoint` caching into `cache_dir` (the `hub`
    /// folder itself): online, no token, the default timeout.
    pub fn new(endpoint: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        let endpoint: String = endpoint.into();
        HubConfig {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            cache_dir: cache_dir.into(),
            token: None,
            offline: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The configuration the environment asks for, as `huggingface_hub`
    /// reads it: `HF_ENDPOINT`, `HF_HOME` (or `XDG_CACHE_HOME`),
    /// `HF_HUB_CACHE`, `HF_HUB_OFFLINE` (`1`/`ON`/`YES`/`TRUE`), `HF_TOKEN`
    /// (or `HF_TOKEN_PATH`, or `$HF_HOME/token`), plus
    /// `UKDIGEST_HTTP_TIMEOUT_SECS`.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let hf_home = match var("HF_HOME") {
            Some(h) => crate::config::expand_home(Path::new(&h)),
            None => match var("XDG_CACHE_HOME") {
                Some(x) => PathBuf::from(x).join("huggingface"),
                None => crate::config::expand_home(Path::new("~/.cache/huggingface")),
            },
        };
        let cache_dir = match var("HF_HUB_CACHE") {
            Some(c) => crate::config::expand_home(Path::new(&c)),
            None => hf_home.join("hub"),
        };
        let endpoint = var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v));
        let token = var("HF_TOKEN")
            .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
            .map(|t| t.trim().to_string())
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| hf_home.join("token"));
                let t = std::fs::read_to_string(path).ok()?;
                let t = t.trim();
                (!t.is_empty()).then(|| t.to_string())
            });
        let timeout = match var(TIMEOUT_VAR) {
            None => DEFAULT_TIMEOUT,
            Some(v) => parse_timeout(&v).ok_or_else(|| {
                Error::Config(format!(
                    "{TIMEOUT_VAR}={v:?}: expected a positive number of seconds"
                ))
            })?,
        };
        Ok(HubConfig {
            token,
            offline,
            timeout,
            ..HubConfig::new(endpoint, cache_dir)
        })
    }
}

/// `huggingface_hub`'s reading of a boolean variable.
fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

fn parse_timeout(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// Why a file could not be had from the hub.
#[derive(Debug)]
pub enum HubError {
    /// The hub answered 404 (no such repository, revision or file).
    NotFound(String),
    /// The hub answered another error status.
    Status(u16, String),
    /// No answer: connection refused, name not resolved, timed out.
    Unreachable(String),
    /// The download stopped before the announced size; the part already
    /// fetched is kept under its temporary name and resumed next time.
    Incomplete(String),
    /// The bytes are wrong (size or sha256); the download was removed.
    Corrupt(String),
    /// Offline (or the hub unreachable) and the file is not in the cache.
    NotCached(String),
    /// An answer that does not follow the hub protocol.
    Protocol(String),
    /// A bad repository, revision or file name.
    BadName(String),
    /// A cache file could not be read or written.
    Io(PathBuf, std::io::Error),
}

impl HubError {
    /// The file does not exist upstream (or, offline, in the cache): the
    /// caller may try an alternative file.
    pub fn is_missing(&self) -> bool {
        matches!(self, HubError::NotFound(_) | HubError::NotCached(_))
    }

    /// A failure that a cached copy may stand in for.
    fn allows_cache_fallback(&self) -> bool {
        match self {
            HubError::Unreachable(_) | HubError::Protocol(_) => true,
            HubError::Status(code, _) => !matches!(code, 401 | 403),
            _ => false,
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::NotFound(d) => write!(f, "not found on the hub (HTTP 404{d})"),
            HubError::Status(code @ (401 | 403), d) => write!(
                f,
                "HTTP {code}{d}: a gated or private repository? (HF_TOKEN sets the token)"
            ),
            HubError::Status(code, d) => write!(f, "HTTP {code}{d}"),
            HubError::Unreachable(d) => write!(f, "hub unreachable: {d}"),
            HubError::Incomplete(d) | HubError::Corrupt(d) | HubError::Protocol(d) => {
                f.write_str(d)
            }
            HubError::NotCached(d) => write!(f, "not in the hub cache {d}"),
            HubError::BadName(d) => f.write_str(d),
            HubError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for HubError {}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HubError + '_ {
    move |e| HubError::Io(path.to_path_buf(), e)
}

/// A file in the cache, ready to read.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `snapshots/{commit}/{file}` (a link to the blob).
    pub path: PathBuf,
    /// The commit the revision resolved to.
    pub commit: String,
    /// The sha256 of the content, when this call computed it.
    pub sha256: Option<String>,
    /// Whether the bytes were downloaded by this call.
    pub downloaded: bool,
    /// Set when the hub could not be asked and the cached copy was used:
    /// why the hub was not asked.
    pub fallback: Option<String>,
}

/// What a download is doing, for progress reports.
#[derive(Debug, Clone, Copy)]
pub enum DownloadEvent<'a> {
    /// The download of `file` starts (at byte `from` when resuming).
    Start {
        file: &'a str,
        url: &'a str,
        size: Option<u64>,
        from: u64,
    },
    /// `bytes` of `file` are in the cache and verified.
    Done {
        file: &'a str,
        bytes: u64,
        sha256_checked: bool,
    },
}

/// What the caller lends a fetch: a (memoised) sha256 of cached files, a
/// place to remember a sha256 just computed, and progress events.
pub trait Hooks {
    /// sha256 of a file in the cache (used to verify cached LFS blobs).
    fn sha256(&self, path: &Path) -> Result<String> {
        super::sha256_file(path)
    }
    /// The sha256 of `path` was just computed while downloading it.
    fn remember_sha256(&self, _path: &Path, _sha256: &str) {}
    fn event(&self, _event: DownloadEvent<'_>) {}
}

/// Hooks that hash without a memo and report nothing.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// What the HEAD request said about a file.
#[derive(Debug)]
struct Meta {
    commit: String,
    etag: String,
    size: Option<u64>,
    /// Where to GET the bytes.
    location: String,
}

/// A hub client over one cache.
pub struct Hub {
    cfg: HubConfig,
    agent: ureq::Agent,
    /// Set once the hub did not answer: later files come from the cache.
    unreachable: RefCell<Option<String>>,
}

impl Hub {
    pub fn new(cfg: HubConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(cfg.timeout)
            .timeout_read(cfg.timeout)
            .timeout_write(cfg.timeout)
            .try_proxy_from_env(true)
            .build();
        Hub {
            cfg,
            agent,
            unreachable: RefCell::new(None),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }

    /// The cache folder of a model repository (`models--org--name`).
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.cfg
            .cache_dir
            .join(hf_hub::Repo::model(repo.to_string()).folder_name())
    }

    /// The URL of `file` at `revision`.
    pub fn file_url(&self, repo: &str, revision: &str, file: &str) -> String {
        format!(
            "{}/{repo}/resolve/{}/{}",
            self.cfg.endpoint,
            encode(revision, false),
            encode(file, true)
        )
    }

    /// The cached copy of `file` at `revision` (a branch or tag through
    /// `refs/`, or a commit), with its commit, without any request.
    pub fn cached(&self, repo: &str, revision: &str, file: &str) -> Option<(PathBuf, String)> {
        check_names(repo, revision, file).ok()?;
        let dir = self.repo_dir(repo);
        if is_commit(revision) && dir.join("snapshots").join(revision).is_dir() {
            let path = dir.join("snapshots").join(revision).join(file);
            return path.is_file().then(|| (path, revision.to_string()));
        }
        // A branch or tag: refs/<revision> names the snapshot (hf-hub's
        // reading of the layout).
        let repo = hf_hub::Repo::with_revision(
            repo.to_string(),
            hf_hub::RepoType::Model,
            revision.to_string(),
        );
        let path = hf_hub::Cache::new(self.cfg.cache_dir.clone())
            .repo(repo)
            .get(file)?;
        let commit = path
            .strip_prefix(dir.join("snapshots"))
            .ok()?
            .components()
            .next()?
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        (safe_component(&commit) && path.is_file()).then_some((path, commit))
    }

    /// `file` of `repo` at `revision`, from the cache when the hub says the
    /// cached copy is current, else downloaded and verified.
    pub fn fetch(
        &self,
        repo: &str,
        revision: &str,
        file: &str,
        hooks: &dyn Hooks,
    ) -> std::result::Result<Fetched, HubError> {
        check_names(repo, revision, file)?;
        if self.cfg.offline {
            return self.cached_copy(repo, revision, file, hooks, "HF_HUB_OFFLINE=1".into());
        }
        let earlier = self.unreachable.borrow().clone();
        if let Some(why) = earlier {
            return self.cached_copy(repo, revision, file, hooks, why);
        }
        let url = self.file_url(repo, revision, file);
        let meta = match self.head(&url) {
            Ok(m) => m,
            Err(e) if e.allows_cache_fallback() => {
                if matches!(e, HubError::Unreachable(_)) {
                    *self.unreachable.borrow_mut() = Some(e.to_string());
                }
                return match self.cached(repo, revision, file) {
                    Some(_) => self.cached_copy(repo, revision, file, hooks, e.to_string()),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let dir = self.repo_dir(repo);
        let blob = dir.join("blobs").join(&meta.etag);
        let pointer = dir.join("snapshots").join(&meta.commit).join(file);
        let size_ok = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && meta.size.is_none_or(|s| m.len() == s))
                .unwrap_or(false)
        };
        let pointer_ok = size_ok(&pointer) && self.verify(&pointer, &meta.etag, hooks)?;
        let blob_ok = pointer_ok || size_ok(&blob) && self.verify(&blob, &meta.etag, hooks)?;
        let mut sha256 = None;
        if !blob_ok {
            // A blob of the wrong size or sha256 is no good to anyone.
            if blob.exists() {
                std::fs::remove_file(&blob).map_err(io_err(&blob))?;
            }
            let h = self.download(repo, file, &meta, &blob, hooks)?;
            hooks.remember_sha256(&blob, &h);
            sha256 = Some(h);
        }
        let downloaded = sha256.is_some();
        if !pointer_ok || downloaded {
            link(&blob, &pointer, &meta.etag, file)?;
        }
        self.write_ref(repo, revision, &meta.commit)?;
        Ok(Fetched {
            path: pointer,
            commit: meta.commit,
            sha256,
            downloaded,
            fallback: None,
        })
    }

    /// The cached copy (verified when its blob is named by a sha256), or why not.
    fn cached_copy(
        &self,
        repo: &str,
        revision: &str,
        file: &str,
        hooks: &dyn Hooks,
        why: String,
    ) -> std::result::Result<Fetched, HubError> {
        let (path, commit) = self
            .cached(repo, revision, file)
            .ok_or_else(|| HubError::NotCached(format!("({why})")))?;
        let blob = std::fs::canonicalize(&path).map_err(io_err(&path))?;
        let etag = blob
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !self.verify(&path, &etag, hooks)? {
            return Err(HubError::Corrupt(format!(
                "the cached copy {} does not match its sha256 {etag} (corrupt cache; \
                 it is fetched again when the hub can be reached)",
                path.display()
            )));
        }
        Ok(Fetched {
            path,
            commit,
            sha256: None,
            downloaded: false,
            fallback: Some(why),
        })
    }

    /// Whether a cached file matches an etag that is a sha256 (other etags
    /// cannot be checked and pass).
    fn verify(
        &self,
        path: &Path,
        etag: &str,
        hooks: &dyn Hooks,
    ) -> std::result::Result<bool, HubError> {
        if !is_sha256(etag) {
            return Ok(true);
        }
        Ok(hash(hooks, path)?.eq_ignore_ascii_case(etag))
    }

    fn write_ref(
        &self,
        repo: &str,
        revision: &str,
        commit: &str,
    ) -> std::result::Result<(), HubError> {
        if revision == commit {
            return Ok(());
        }
        let path = self.repo_dir(repo).join("refs").join(revision);
        if std::fs::read_to_string(&path).is_ok_and(|c| c.trim() == commit) {
            return Ok(());
        }
        crate::fsio::write_atomic(&path, commit.as_bytes()).map_err(|e| match e {
            Error::Io { path, source } => HubError::Io(path, source),
            e => HubError::Io(path, std::io::Error::other(e.to_string())),
        })
    }

    /// One request, without following redirects; error statuses become errors.
    fn call(
        &self,
        method: &str,
        url: &str,
        from: Option<u64>,
    ) -> std::result::Result<ureq::Response, HubError> {
        let mut req = self
            .agent
            .request(method, url)
            .set("User-Agent", USER_AGENT)
            .set("Accept-Encoding", "identity");
        if let Some(token) = &self.cfg.token {
            if same_origin(url, &self.cfg.endpoint) {
                req = req.set("Authorization", &format!("Bearer {token}"));
            }
        }
        if let Some(from) = from {
            req = req.set("Range", &format!("bytes={from}-"));
        }
        match req.call() {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(code, r)) => {
                let mut detail: Vec<String> = ["X-Error-Code", "X-Error-Message"]
                    .iter()
                    .filter_map(|h| r.header(h).map(str::to_string))
                    .collect();
                detail.push(format!("for {url}"));
                let detail = detail.join(", ");
                if code == 404 {
                    Err(HubError::NotFound(format!(", {detail}")))
                } else {
                    Err(HubError::Status(code, format!(" ({detail})")))
                }
            }
            Err(ureq::Error::Transport(t)) => Err(HubError::Unreachable(format!(
                "{method} {}",
                self.transport_message(&t)
            ))),
        }
    }

    fn transport_message(&self, t: &ureq::Transport) -> String {
        let text = t.to_string();
        let timed_out = text.contains("timed out")
            || std::error::Error::source(t)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .is_some_and(is_timeout);
        if timed_out {
            format!("{text} ({})", self.timeout_hint())
        } else {
            text
        }
    }

    fn timeout_hint(&self) -> String {
        format!(
            "no answer within {:.1} s; {TIMEOUT_VAR} sets the timeout",
            self.cfg.timeout.as_secs_f64()
        )
    }

    /// HEAD the file: commit, etag, size and where the bytes are.
    fn head(&self, url: &str) -> std::result::Result<Meta, HubError> {
        let mut url = url.to_string();
        for _ in 0..MAX_REDIRECTS {
            let resp = self.call("HEAD", &url, None)?;
            let status = resp.status();
            if (300..400).contains(&status) {
                let loc = resp.header("Location").ok_or_else(|| {
                    HubError::Protocol(format!("HTTP {status} without Location from {url}"))
                })?;
                let target = join_url(&url, loc)?;
                let relative = !loc.contains("://") && !loc.starts_with("//");
                // Relative redirects (renamed repositories) are followed;
                // an absolute one is where the bytes are (a CDN), unless
                // the answer is not the hub's yet (no commit header).
                if relative || resp.header("X-Repo-Commit").is_none() {
                    url = target;
                    continue;
                }
                return meta(&resp, &url, target, true);
            }
            return meta(&resp, &url, url.clone(), false);
        }
        Err(HubError::Protocol(format!(
            "more than {MAX_REDIRECTS} redirects from {url}"
        )))
    }

    /// GET `url`, following redirects.
    fn get(&self, url: &str, from: Option<u64>) -> std::result::Result<ureq::Response, HubError> {
        let mut url = url.to_string();
        for _ in 0..MAX_REDIRECTS {
            let resp = self.call("GET", &url, from)?;
            let status = resp.status();
            if !(300..400).contains(&status) {
                return Ok(resp);
            }
            let loc = resp.header("Location").ok_or_else(|| {
                HubError::Protocol(format!("HTTP {status} without Location from {url}"))
            })?;
            url = join_url(&url, loc)?;
        }
        Err(HubError::Protocol(format!(
            "more than {MAX_REDIRECTS} redirects from {url}"
        )))
    }

    /// Download the blob of `meta` into `blob`, verified. Returns its sha256.
    fn download(
        &self,
        repo: &str,
        file: &str,
        meta: &Meta,
        blob: &Path,
        hooks: &dyn Hooks,
    ) -> std::result::Result<String, HubError> {
        let blobs = blob.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(blobs).map_err(io_err(blobs))?;
        // One downloader per blob (the lock `huggingface_hub` takes too).
        let locks = self
            .cfg
            .cache_dir
            .join(".locks")
            .join(format!("models--{}", repo.replace('/', "--")));
        std::fs::create_dir_all(&locks).map_err(io_err(&locks))?;
        let lock_path = locks.join(format!("{}.lock", meta.etag));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        // Someone else may have fetched it while we waited for the lock.
        let done = std::fs::metadata(blob)
            .is_ok_and(|m| m.is_file() && meta.size.is_none_or(|s| m.len() == s));
        if done {
            let h = hash(hooks, blob)?;
            if !is_sha256(&meta.etag) || h.eq_ignore_ascii_case(&meta.etag) {
                let _ = lock.unlock();
                return Ok(h);
            }
        }
        let result = self.download_locked(file, meta, blob, hooks);
        let _ = lock.unlock();
        result
    }

    fn download_locked(
        &self,
        file: &str,
        meta: &Meta,
        blob: &Path,
        hooks: &dyn Hooks,
    ) -> std::result::Result<String, HubError> {
        let tmp = blob.with_file_name(format!("{}.incomplete", meta.etag));
        let mut from = match std::fs::metadata(&tmp) {
            Ok(m) if m.len() > 0 && meta.size.is_none_or(|s| m.len() < s) => m.len(),
            Ok(_) => {
                std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
                0
            }
            Err(_) => 0,
        };
        hooks.event(DownloadEvent::Start {
            file,
            url: &meta.location,
            size: meta.size,
            from,
        });
        let resp = match self.get(&meta.location, (from > 0).then_some(from)) {
            Err(HubError::Status(416, _)) if from > 0 => {
                std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
                from = 0;
                self.get(&meta.location, None)?
            }
            r => r?,
        };
        let url = resp.get_url().to_string();
        let header_u64 = |h: &str| resp.header(h).and_then(|v| v.trim().parse::<u64>().ok());
        let (mut out, mut hasher, mut done, announced) = match resp.status() {
            206 if from > 0 => {
                let range = resp.header("Content-Range").unwrap_or_default();
                let total = parse_content_range(range, from).ok_or_else(|| {
                    HubError::Protocol(format!(
                        "{url}: Content-Range {range:?} does not answer Range bytes={from}-"
                    ))
                })?;
                // Hash what is already there, then append.
                let mut hasher = Sha256::new();
                let mut f = std::fs::File::open(&tmp).map_err(io_err(&tmp))?;
                std::io::copy(&mut f, &mut hasher).map_err(io_err(&tmp))?;
                let out = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&tmp)
                    .map_err(io_err(&tmp))?;
                (out, hasher, from, total)
            }
            200 => {
                let out = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
                (out, Sha256::new(), 0, header_u64("Content-Length"))
            }
            s => {
                return Err(HubError::Protocol(format!(
                    "{url}: unexpected HTTP {s} for a download"
                )))
            }
        };
        let what = format!("{file} from {url}");
        if let (Some(want), Some(said)) = (meta.size, announced) {
            if want != said {
                drop(out);
                let _ = std::fs::remove_file(&tmp);
                return Err(HubError::Corrupt(format!(
                    "{what}: the download has {said} bytes, the hub announced {want}"
                )));
            }
        }
        let expected = meta.size.or(announced);
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 20];
        let mut write_err = None;
        let read_err = loop {
            match reader.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    if expected.is_some_and(|e| done + n as u64 > e) {
                        drop(out);
                        let _ = std::fs::remove_file(&tmp);
                        return Err(HubError::Corrupt(format!(
                            "{what}: more than the announced {} bytes; the download was removed",
                            expected.unwrap_or_default()
                        )));
                    }
                    if let Err(e) = out.write_all(&buf[..n]) {
                        write_err = Some(e);
                        break None;
                    }
                    hasher.update(&buf[..n]);
                    done += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(e),
            }
        };
        if let Some(e) = write_err {
            drop(out);
            let _ = std::fs::remove_file(&tmp);
            return Err(HubError::Io(tmp, e));
        }
        out.sync_all().map_err(io_err(&tmp))?;
        drop(out);
        let of = expected.map(|e| format!(" of {e}")).unwrap_or_default();
        if let Some(e) = read_err {
            let why = if is_timeout(&e) {
                self.timeout_hint()
            } else {
                e.to_string()
            };
            return Err(HubError::Incomplete(format!(
                "{what}: download cut off after {done}{of} bytes ({why}); \
                 the part is kept as {} and resumed next time",
                tmp.display()
            )));
        }
        if expected.is_some_and(|e| done < e) {
            return Err(HubError::Incomplete(format!(
                "{what}: download cut off after {done}{of} bytes (the connection closed); \
                 the part is kept as {} and resumed next time",
                tmp.display()
            )));
        }
        let sha256 = super::hex(&hasher.finalize());
        let checked = is_sha256(&meta.etag);
        if checked && !sha256.eq_ignore_ascii_case(&meta.etag) {
            let _ = std::fs::remove_file(&tmp);
            return Err(HubError::Corrupt(format!(
                "{what}: sha256 of the download is {sha256}, the hub's ETag says {}; \
                 the download was removed",
                meta.etag
            )));
        }
        std::fs::rename(&tmp, blob).map_err(io_err(blob))?;
        hooks.event(DownloadEvent::Done {
            file,
            bytes: done,
            sha256_checked: checked,
        });
        Ok(sha256)
    }
}

/// The metadata of a HEAD answer (`redirected`: an absolute redirect whose
/// own Content-Length is not the file's).
fn meta(
    resp: &ureq::Response,
    url: &str,
    location: String,
    redirected: bool,
) -> std::result::Result<Meta, HubError> {
    let commit = resp
        .header("X-Repo-Commit")
        .map(str::trim)
        .ok_or_else(|| {
            HubError::Protocol(format!(
                "{url}: the answer has no X-Repo-Commit header (is HF_ENDPOINT a hub?)"
            ))
        })?
        .to_string();
    let etag = resp
        .header("X-Linked-Etag")
        .or_else(|| resp.header("ETag"))
        .map(normalize_etag)
        .ok_or_else(|| HubError::Protocol(format!("{url}: the answer has no ETag header")))?;
    if !safe_component(&commit) || !commit.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(HubError::Protocol(format!(
            "{url}: X-Repo-Commit {commit:?} is not a commit hash"
        )));
    }
    if !safe_component(&etag) {
        return Err(HubError::Protocol(format!(
            "{url}: ETag {etag:?} cannot name a cache file"
        )));
    }
    let size = resp
        .header("X-Linked-Size")
        .or_else(|| {
            (!redirected)
                .then(|| resp.header("Content-Length"))
                .flatten()
        })
        .and_then(|v| v.trim().parse().ok());
    Ok(Meta {
        commit,
        etag,
        size,
        location,
    })
}

/// The sha256 of a cached file through the hooks' memo.
fn hash(hooks: &dyn Hooks, path: &Path) -> std::result::Result<String, HubError> {
    hooks.sha256(path).map_err(|e| match e {
        Error::Io { path, source } => HubError::Io(path, source),
        e => HubError::Io(path.to_path_buf(), std::io::Error::other(e.to_string())),
    })
}

/// `W/"abc"` → `abc`.
fn normalize_etag(e: &str) -> String {
    e.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

/// The total of `bytes {from}-{end}/{total}`, if it starts at `from`.
fn parse_content_range(v: &str, from: u64) -> Option<Option<u64>> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    if start.trim().parse::<u64>().ok()? != from {
        return None;
    }
    Some(total.trim().parse().ok())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A name that is one plain path component.
fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A relative path of plain components (`a/b.json`).
fn safe_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0']))
}

fn check_names(repo: &str, revision: &str, file: &str) -> std::result::Result<(), HubError> {
    let parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 2 || !parts.iter().all(|p| safe_component(p)) {
        return Err(HubError::BadName(format!(
            "\"{repo}\" is not a hub repository id (org/name)"
        )));
    }
    if !safe_path(revision) {
        return Err(HubError::BadName(format!(
            "\"{revision}\" is not a revision"
        )));
    }
    if !safe_path(file) {
        return Err(HubError::BadName(format!(
            "\"{file}\" is not a relative file path in the repository"
        )));
    }
    Ok(())
}

/// Percent-encode a URL path segment (`keep_slash`: a path of segments).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn join_url(base: &str, location: &str) -> std::result::Result<String, HubError> {
    let base =
        url::Url::parse(base).map_err(|e| HubError::Protocol(format!("bad URL {base}: {e}")))?;
    base.join(location)
        .map(String::from)
        .map_err(|e| HubError::Protocol(format!("bad redirect Location {location:?}: {e}")))
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// Point `snapshots/{commit}/{file}` at the blob: a relative symlink, as
/// `huggingface_hub` makes it (a copy where links are not possible).
fn link(blob: &Path, pointer: &Path, etag: &str, file: &str) -> std::result::Result<(), HubError> {
    let dir = pointer.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let ups = file.split('/').count() + 1;
    let mut target = PathBuf::new();
    for _ in 0..ups {
        target.push("..");
    }
    target.push("blobs");
    target.push(etag);
    if std::fs::read_link(pointer).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let name = pointer.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&target, &tmp).is_ok();
    #[cfg(not(unix))]
    let linked = false;
    if !linked {
        std::fs::copy(blob, &tmp).map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, pointer).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        HubError::Io(pointer.to_path_buf(), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_ranges_parse() {
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(parse_content_range("bytes 5-9/10", 5), Some(Some(10)));
        assert_eq!(parse_content_range("bytes 5-9/*", 5), Some(None));
        assert_eq!(parse_content_range("bytes 0-9/10", 5), None);
    }

    #[test]
    fn names_are_checked_and_encoded() {
        assert!(check_names("org/name", "main", "a/b.gguf").is_ok());
        assert!(check_names("name", "refs/pr/1", "x").is_ok());
        assert!(check_names("../x", "main", "f").is_err());
        assert!(check_names("a/b/c", "main", "f").is_err());
        assert!(check_names("a/b", "main", "../f").is_err());
        assert!(check_names("a/b", "..", "f").is_err());
        assert_eq!(encode("refs/pr/1", false), "refs%2Fpr%2F1");
        assert_eq!(encode("dir/a b.json", true), "dir/a%20b.json");
    }

    #[test]
    fn timeouts_and_booleans_parse() {
        assert_eq!(parse_timeout("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("0"), None);
        assert_eq!(parse_timeout("soon"), None);
        assert!(is_true("1") && is_true("yes") && is_true("True"));
        assert!(!is_true("0") && !is_true("false"));
    }

    #[test]
    fn token_goes_to_the_endpoint_only() {
        assert!(same_origin("http://127.0.0.1:5/a/b", "http://127.0.0.1:5"));
        assert!(!same_origin("http://localhost:5/a", "http://127.0.0.1:5"));
        assert!(!same_origin(
            "https://cdn.example/x",
            "https://huggingface.co"
        ));
    }
}
