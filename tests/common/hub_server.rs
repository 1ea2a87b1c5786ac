//! A test-only hub on 127.0.0.1 that speaks the hub's file protocol:
//! `HEAD`/`GET {url}/{repo}/resolve/{revision}/{file}` answered with
//! `X-Repo-Commit`, `ETag` (regular files, answered in place) or a 302 to
//! `/cdn/{sha256}` with `X-Linked-Etag`/`X-Linked-Size` (LFS files, as the
//! hub sends them to its CDN), `Range` requests, renamed repositories (307
//! with a relative `Location`), and faults to order.
//!
//! It listens on an ephemeral port of 127.0.0.1 only, serves at most
//! `MAX_CONNECTIONS` connections (one request each, `Connection: close`),
//! and stops when dropped or after `LIFETIME`, whichever comes first.
#![allow(dead_code)]
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX_CONNECTIONS: usize = 300;
const LIFETIME: Duration = Duration::from_secs(60);
/// The longest any answer is held back.
const MAX_STALL: Duration = Duration::from_secs(6);

/// What goes wrong when a file is asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// HEAD and GET answer this status.
    Status(u16),
    /// Only GET (of the bytes) answers this status.
    GetStatus(u16),
    /// GET announces the whole file but closes after byte `n` of it.
    CutAt(usize),
    /// HEAD and GET wait this long before answering.
    Stall(Duration),
    /// GET sends `after` bytes, then waits, then closes.
    StallBody { after: usize, wait: Duration },
    /// GET sends the announced length, with one byte changed.
    FlipByte,
    /// GET sends (and announces) only the first `n` bytes.
    Short(usize),
    /// GET ignores `Range` and sends the whole file.
    NoRange,
    /// The answers lack `X-Repo-Commit` (not a hub).
    NoCommit,
}

#[derive(Clone)]
struct Entry {
    body: Arc<Vec<u8>>,
    lfs: bool,
}

#[derive(Default)]
struct State {
    /// (repo, branch) → commit.
    branches: HashMap<(String, String), String>,
    /// (repo, commit) → files.
    commits: HashMap<(String, String), HashMap<String, Entry>>,
    renamed: HashMap<String, String>,
    /// (repo, file) → fault.
    faults: HashMap<(String, String), Fault>,
    /// sha256 → (repo, file, entry) for the CDN.
    cdn: HashMap<String, (String, String, Entry)>,
    log: Vec<Request>,
    commits_made: u64,
    cdn_host: Option<String>,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
    pub host: Option<String>,
}

pub struct HubServer {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    ukdigest::source::sha256_bytes(bytes)
}

/// The git-style (40 hex) ETag of a regular file.
pub fn git_etag(bytes: &[u8]) -> String {
    sha256_hex(bytes)[..40].to_string()
}

impl HubServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + LIFETIME;
                let mut served = 0;
                while !stop.load(Ordering::SeqCst)
                    && Instant::now() < deadline
                    && served < MAX_CONNECTIONS
                {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            served += 1;
                            let state = state.clone();
                            std::thread::spawn(move || {
                                let _ = handle(stream, &state, port);
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        HubServer {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new commit of `repo` holding exactly `files` (name, bytes, LFS?),
    /// with `branch` moved to it. Returns the commit hash.
    pub fn commit(&self, repo: &str, branch: &str, files: &[(&str, &[u8], bool)]) -> String {
        let mut st = self.state.lock().unwrap();
        st.commits_made += 1;
        let commit = sha256_hex(format!("{repo}#{}", st.commits_made).as_bytes())[..40].to_string();
        let mut map = HashMap::new();
        for (name, body, lfs) in files {
            let e = Entry {
                body: Arc::new(body.to_vec()),
                lfs: *lfs,
            };
            if *lfs {
                st.cdn.insert(
                    sha256_hex(body),
                    (repo.to_string(), name.to_string(), e.clone()),
                );
            }
            map.insert(name.to_string(), e);
        }
        st.commits.insert((repo.to_string(), commit.clone()), map);
        st.branches
            .insert((repo.to_string(), branch.to_string()), commit.clone());
        commit
    }

    pub fn fault(&self, repo: &str, file: &str, fault: Option<Fault>) {
        let mut st = self.state.lock().unwrap();
        let key = (repo.to_string(), file.to_string());
        match fault {
            Some(f) => st.faults.insert(key, f),
            None => st.faults.remove(&key),
        };
    }

    /// Requests for `old` are redirected (307, relative) to `new`.
    pub fn rename(&self, old: &str, new: &str) {
        self.state
            .lock()
            .unwrap()
            .renamed
            .insert(old.to_string(), new.to_string());
    }

    /// The host name the CDN redirects use (default 127.0.0.1).
    pub fn cdn_host(&self, host: &str) {
        self.state.lock().unwrap().cdn_host = Some(host.to_string());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many requests of `method` had a path containing `part`.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(part))
            .count()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    /// Body bytes to send, and what to do after them.
    body: Vec<u8>,
    /// Wait this long before answering.
    delay: Duration,
    /// Send this many bytes of `body`, then wait, then close.
    stall_after: Option<(usize, Duration)>,
}

impl Answer {
    fn status(status: u16) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            stall_after: None,
        }
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>, port: u16) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(64 * 1024));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let req = Request {
        method: method.clone(),
        path: target.clone(),
        range: headers.get("range").cloned(),
        authorization: headers.get("authorization").cloned(),
        host: headers.get("host").cloned(),
    };
    let answer = {
        let mut st = state.lock().unwrap();
        st.log.push(req.clone());
        route(&mut st, &req, port)
    };
    let mut out = stream;
    if !answer.delay.is_zero() {
        std::thread::sleep(answer.delay.min(MAX_STALL));
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        match answer.stall_after {
            Some((n, wait)) => {
                out.write_all(&answer.body[..n.min(answer.body.len())])?;
                out.flush()?;
                std::thread::sleep(wait.min(MAX_STALL));
            }
            None => out.write_all(&answer.body)?,
        }
    }
    out.flush()?;
    let _ = out.shutdown(Shutdown::Both);
    Ok(())
}

fn route(st: &mut State, req: &Request, port: u16) -> Answer {
    let path = req.path.split('?').next().unwrap_or("");
    if let Some(sha) = path.strip_prefix("/cdn/") {
        return match st.cdn.get(sha).cloned() {
            Some((repo, file, e)) => {
                let fault = st.faults.get(&(repo, file)).cloned();
                serve(&e.body, req, fault.as_ref(), Vec::new())
            }
            None => Answer::status(404),
        };
    }
    let Some((repo, rest)) = path.trim_start_matches('/').split_once("/resolve/") else {
        return Answer::status(404);
    };
    if let Some(new) = st.renamed.get(repo) {
        return Answer::status(307).header("Location", format!("/{new}/resolve/{rest}"));
    }
    let (rev, file) = rest.split_once('/').unwrap_or((rest, ""));
    let (rev, file) = (percent_decode(rev), percent_decode(file));
    let known_repo = st.branches.keys().any(|(r, _)| r == repo);
    let commit = match st.branches.get(&(repo.to_string(), rev.clone())) {
        Some(c) => c.clone(),
        None if st.commits.contains_key(&(repo.to_string(), rev.clone())) => rev.clone(),
        None => {
            let code = if known_repo {
                "RevisionNotFound"
            } else {
                "RepoNotFound"
            };
            return Answer::status(404).header("X-Error-Code", code);
        }
    };
    let Some(entry) = st.commits[&(repo.to_string(), commit.clone())]
        .get(&file)
        .cloned()
    else {
        return Answer::status(404)
            .header("X-Error-Code", "EntryNotFound")
            .header("X-Error-Message", format!("{file} does not exist at {rev}"));
    };
    let fault = st.faults.get(&(repo.to_string(), file.clone())).cloned();
    let mut answer = match fault {
        Some(Fault::Status(code)) => return Answer::status(code),
        _ if entry.lfs => {
            let sha = sha256_hex(&entry.body);
            let host = st.cdn_host.clone().unwrap_or_else(|| "127.0.0.1".into());
            Answer::status(302)
                .header("Location", format!("http://{host}:{port}/cdn/{sha}"))
                .header("X-Linked-Etag", format!("\"{sha}\""))
                .header("X-Linked-Size", entry.body.len().to_string())
                .header("ETag", format!("\"{}\"", git_etag(sha.as_bytes())))
                .header("Content-Length", "0")
        }
        _ if req.method == "HEAD" => Answer::status(200)
            .header("ETag", format!("\"{}\"", git_etag(&entry.body)))
            .header("Content-Length", entry.body.len().to_string())
            .header("Accept-Ranges", "bytes"),
        _ => serve(
            &entry.body,
            req,
            fault.as_ref(),
            vec![("ETag".into(), format!("\"{}\"", git_etag(&entry.body)))],
        ),
    };
    if fault != Some(Fault::NoCommit) {
        answer = answer.header("X-Repo-Commit", commit);
    }
    if let Some(Fault::Stall(d)) = fault {
        answer.delay = d;
    }
    answer
}

/// The bytes of a file (GET) or its headers (HEAD), with `Range` and faults.
fn serve(
    body: &[u8],
    req: &Request,
    fault: Option<&Fault>,
    extra: Vec<(String, String)>,
) -> Answer {
    let mut full = body.to_vec();
    if fault == Some(&Fault::FlipByte) && !full.is_empty() {
        let mid = full.len() / 2;
        full[mid] ^= 0x5a;
    }
    let mut a = Answer::status(200);
    a.headers = extra;
    a = a.header("Accept-Ranges", "bytes");
    if let Some(Fault::GetStatus(code)) = fault {
        return Answer::status(*code);
    }
    if let Some(Fault::Stall(d)) = fault {
        a.delay = *d;
    }
    let len = full.len();
    let start = match (&req.range, fault) {
        (_, Some(Fault::NoRange | Fault::Short(_))) | (None, _) => None,
        (Some(r), _) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok()),
    };
    if let Some(s) = start {
        if s >= len {
            return Answer::status(416).header("Content-Range", format!("bytes */{len}"));
        }
        a.status = 206;
        a = a.header("Content-Range", format!("bytes {s}-{}/{len}", len - 1));
    }
    let s = start.unwrap_or(0);
    match fault {
        Some(Fault::Short(n)) => {
            let n = (*n).min(len);
            a = a.header("Content-Length", n.to_string());
            a.body = full[..n].to_vec();
        }
        Some(Fault::CutAt(n)) => {
            a = a.header("Content-Length", (len - s).to_string());
            a.body = full[s..(*n).max(s).min(len)].to_vec();
        }
        Some(Fault::StallBody { after, wait }) => {
            a = a.header("Content-Length", (len - s).to_string());
            a.body = full[s..].to_vec();
            a.stall_after = Some((*after, *wait));
        }
        _ => {
            a = a.header("Content-Length", (len - s).to_string());
            a.body = full[s..].to_vec();
        }
    }
    if req.method == "HEAD" {
        a.body.clear();
    }
    a
}
