//! Claims: who is working on what in a shared output folder.
//!
//! Several processes may work in one output folder (a cron run that
//! overlaps the previous one, the pods of an array job on a shared volume).
//! Before an article is worked on, its claim is taken; an article claimed
//! by a live process is left to it; a claim whose process died is taken
//! over once its lease has run out (or at once when the owner is a dead
//! process on this host).
//!
//! A claim of key `k` is a file `k.<generation>.lock` holding its owner and
//! lease. Taking a free or stale claim creates the next generation's file
//! with `create_new` (`O_EXCL`), which exactly one process can do, so two
//! processes never both hold a claim; the newest generation is the claim,
//! older files are leftovers. The owner renews its lease from a heartbeat
//! thread while it works and removes its file when done. Works on any file
//! system where `O_EXCL` is atomic (local disks, NFSv3+), with no lock
//! server.
use crate::calendar::utc_timestamp;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who holds a claim, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    /// Seconds since the epoch when the claim was taken.
    pub since: u64,
    /// Seconds since the epoch until which the claim holds unless renewed.
    pub lease_until: u64,
}

impl Owner {
    fn me(lease: Duration) -> Owner {
        let now = now_secs();
        Owner {
            host: hostname(),
            pid: std::process::id(),
            since: now,
            lease_until: now + lease.as_secs().max(1),
        }
    }

    /// Whether the claim no longer holds: its lease ran out, or its owner
    /// is a process of this host that is gone.
    pub fn is_stale(&self) -> bool {
        self.lease_until < now_secs() || (self.host == hostname() && !process_alive(self.pid))
    }

    pub fn describe(&self) -> String {
        format!(
            "{} pid {} until {}",
            self.host,
            self.pid,
            utc_timestamp(self.lease_until as i64)
        )
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This machine's host name (pods of a job differ by it).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process of this host is running (Linux: `/proc/<pid>`; a
/// process that has exited but not been reaped yet, a zombie, is not).
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_dir = Path::new("/proc");
    if !proc_dir.is_dir() {
        // Cannot tell: trust the lease.
        return true;
    }
    match std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat")) {
        // `pid (comm) S …`: the state follows the last `)`.
        Ok(stat) => !stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
        Err(_) => proc_dir.join(pid.to_string()).exists(),
    }
}

/// The outcome of trying to claim a key.
#[derive(Debug)]
pub enum Claimed {
    /// Ours until the guard drops.
    Mine(Claim),
    /// A live process holds it.
    Busy(Owner),
}

/// A claim we hold: renewed in the background, released on drop.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
}

impl Claim {
    /// Whether this claim is still the newest generation (another process
    /// took it over only if our lease ran out, e.g. a stalled process).
    pub fn still_held(&self) -> bool {
        let Some((dir, key, gen)) = parse_claim_path(&self.path) else {
            return false;
        };
        newest(&dir, &key).is_ok_and(|n| n.is_some_and(|(g, _)| g == gen))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.heartbeat.take() {
            h.thread().unpark();
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn parse_claim_path(path: &Path) -> Option<(PathBuf, String, u64)> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".lock")?;
    let (key, gen) = stem.rsplit_once('.')?;
    Some((
        path.parent()?.to_path_buf(),
        key.to_string(),
        gen.parse().ok()?,
    ))
}

/// The newest generation of `key`'s claim in `dir`, with its owner (`None`
/// when the file is unreadable: it is being written, or was cut short).
fn newest(dir: &Path, key: &str) -> Result<Option<(u64, Option<Owner>)>> {
    let prefix = format!("{key}.");
    let mut best: Option<u64> = None;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(gen) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".lock"))
            .and_then(|g| g.parse::<u64>().ok())
        else {
            continue;
        };
        best = best.max(Some(gen));
    }
    Ok(best.map(|g| {
        let owner = std::fs::read_to_string(dir.join(format!("{key}.{g}.lock")))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        (g, owner)
    }))
}

/// Try to claim `key` in `dir` for `lease` (renewed every third of it
/// while the claim is held).
pub fn try_claim(dir: &Path, key: &str, lease: Duration) -> Result<Claimed> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for _ in 0..16 {
        let gen = match newest(dir, key)? {
            None => 1,
            Some((g, Some(owner))) => {
                if !owner.is_stale() {
                    return Ok(Claimed::Busy(owner));
                }
                g + 1
            }
            // Unreadable: being written right now (a fresh claim), or cut
            // short by a crash; judge it by the file's age.
            Some((g, None)) => {
                let p = dir.join(format!("{key}.{g}.lock"));
                let age = std::fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                if age < lease {
                    return Ok(Claimed::Busy(Owner {
                        host: "?".into(),
                        pid: 0,
                        since: 0,
                        lease_until: now_secs() + (lease - age).as_secs(),
                    }));
                }
                g + 1
            }
        };
        let path = dir.join(format!("{key}.{gen}.lock"));
        let owner = Owner::me(lease);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match file {
            Ok(mut f) => {
                use std::io::Write;
                let body = serde_json::to_vec(&owner)?;
                f.write_all(&body)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::io(&path, e))?;
                // Older generations are leftovers now.
                for old in 1..gen {
                    let _ = std::fs::remove_file(dir.join(format!("{key}.{old}.lock")));
                }
                return Ok(Claimed::Mine(start_heartbeat(path, owner, lease)));
            }
            // Another process took this generation first: look again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::io(
        dir,
        std::io::Error::other(format!("claim {key}: too much contention")),
    ))
}

/// Wait (up to `wait`) for the claim of `key`, polling.
pub fn claim_blocking(dir: &Path, key: &str, lease: Duration, wait: Duration) -> Result<Claim> {
    let start = std::time::Instant::now();
    loop {
        match try_claim(dir, key, lease)? {
            Claimed::Mine(c) => return Ok(c),
            Claimed::Busy(owner) => {
                if start.elapsed() > wait {
                    return Err(Error::io(
                        dir,
                        std::io::Error::other(format!(
                            "{key} is held by {} (waited {} s)",
                            owner.describe(),
                            wait.as_secs()
                        )),
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn start_heartbeat(path: PathBuf, owner: Owner, lease: Duration) -> Claim {
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (path.clone(), stop.clone());
    let every = (lease / 3).max(Duration::from_millis(200));
    let heartbeat = std::thread::Builder::new()
        .name("ukdigest-claim".into())
        .spawn(move || {
            let mut owner = owner;
            while !s.load(Ordering::SeqCst) {
                std::thread::park_timeout(every);
                if s.load(Ordering::SeqCst) {
                    break;
                }
                owner.lease_until = now_secs() + lease.as_secs().max(1);
                if let Ok(body) = serde_json::to_vec(&owner) {
                    // Renew in place of our own generation only.
                    if p.exists() {
                        let _ = crate::fsio::write_atomic(&p, &body);
                    }
                }
            }
        })
        .ok();
    Claim {
        path,
        stop,
        heartbeat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_release_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let lease = Duration::from_secs(60);
        let Claimed::Mine(c) = try_claim(d.path(), "a", lease).unwrap() else {
            panic!("free claim")
        };
        assert!(c.still_held());
        match try_claim(d.path(), "a", lease).unwrap() {
            Claimed::Busy(o) => assert_eq!(o.pid, std::process::id()),
            Claimed::Mine(_) => panic!("claimed twice"),
        }
        // Other keys are independent.
        assert!(matches!(
            try_claim(d.path(), "b", lease).unwrap(),
            Claimed::Mine(_)
        ));
        drop(c);
        assert!(matches!(
            try_claim(d.path(), "a", lease).unwrap(),
            Claimed::Mine(_)
        ));
    }

    #[test]
    fn stale_claims_are_taken_over_once() {
        let d = tempfile::tempdir().unwrap();
        // A dead process of this host (pid beyond pid_max).
        let dead = Owner {
            host: hostname(),
            pid: 4_194_999,
            since: 1,
            lease_until: now_secs() + 3600,
        };
        std::fs::write(
            d.path().join("x.1.lock"),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        // An expired lease of another host.
        let expired = Owner {
            host: "elsewhere".into(),
            pid: 1,
            since: 1,
            lease_until: 2,
        };
        std::fs::write(
            d.path().join("y.3.lock"),
            serde_json::to_vec(&expired).unwrap(),
        )
        .unwrap();
        let lease = Duration::from_secs(60);
        let Claimed::Mine(x) = try_claim(d.path(), "x", lease).unwrap() else {
            panic!("dead owner")
        };
        assert!(x.path.ends_with("x.2.lock"));
        assert!(!d.path().join("x.1.lock").exists());
        let Claimed::Mine(y) = try_claim(d.path(), "y", lease).unwrap() else {
            panic!("expired lease")
        };
        assert!(y.path.ends_with("y.4.lock"));
        // A live claim of another host is respected.
        let live = Owner {
            host: "elsewhere".into(),
            pid: 1,
            since: 1,
            lease_until: now_secs() + 3600,
        };
        std::fs::write(
            d.path().join("z.1.lock"),
            serde_json::to_vec(&live).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            try_claim(d.path(), "z", lease).unwrap(),
            Claimed::Busy(_)
        ));
    }

    #[test]
    fn racing_threads_never_share_a_claim() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        let held = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (dir, held, max) = (dir.clone(), held.clone(), max.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        if let Claimed::Mine(c) =
                            try_claim(&dir, "k", Duration::from_secs(60)).unwrap()
                        {
                            let n = held.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(n, Ordering::SeqCst);
                            std::thread::yield_now();
                            held.fetch_sub(1, Ordering::SeqCst);
                            drop(c);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn exited_processes_are_not_alive_before_they_are_reaped() {
        let mut live = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(process_alive(live.id()));
        let mut done = std::process::Command::new("true").spawn().unwrap();
        // Not waited for: a zombie until reaped below.
        let t0 = std::time::Instant::now();
        while process_alive(done.id()) && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!process_alive(done.id()), "an exited child counts as dead");
        done.wait().unwrap();
        live.kill().unwrap();
        live.wait().unwrap();
    }

    #[test]
    fn leases_are_renewed_while_held() {
        let d = tempfile::tempdir().unwrap();
        let Claimed::Mine(c) = try_claim(d.path(), "r", Duration::from_secs(1)).unwrap() else {
            panic!()
        };
        std::thread::sleep(Duration::from_millis(2500));
        // Without renewal the 1 s lease would have run out.
        let (_, owner) = newest(d.path(), "r").unwrap().unwrap();
        assert!(!owner.unwrap().is_stale());
        assert!(c.still_held());
    }
}
