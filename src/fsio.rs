//! File-system helpers: atomic writes so that an interrupted run never
//! leaves a half-written output behind, and the clean-up of the
//! temporaries a killed run left.
use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The marker of temporary files: `.<name>.tmp-<host>-<pid>-<n>`.
const TMP_MARK: &str = ".tmp-";

/// A temporary sibling of `path`, unique to this process and call.
pub fn temp_path(path: &Path) -> Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::io(path, std::io::Error::other("not a file path")))?;
    Ok(dir.join(format!(
        ".{}{TMP_MARK}{}-{}-{}",
        name.to_string_lossy(),
        crate::store::claim::hostname().replace(['/', '-'], "_"),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )))
}

/// Remove the temporaries in `dir` that no running process is writing:
/// those of dead processes of this host, and those of other hosts older
/// than `foreign_age`. Returns the files removed.
pub fn remove_stale_temporaries(dir: &Path, foreign_age: std::time::Duration) -> Vec<PathBuf> {
    let me = crate::store::claim::hostname().replace(['/', '-'], "_");
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            continue;
        }
        let Some((_, tail)) = name.rsplit_once(TMP_MARK) else {
            continue;
        };
        let mut parts = tail.rsplitn(3, '-');
        let (_n, pid, host) = (parts.next(), parts.next(), parts.next());
        let stale = match (host, pid.and_then(|p| p.parse::<u32>().ok())) {
            (Some(h), Some(pid)) if h == me => !crate::store::claim::process_alive(pid),
            _ => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > foreign_age),
        };
        if stale && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// Write `bytes` to `path` atomically: write a sibling temporary file,
/// fsync it, then rename it over the destination.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let host = crate::store::claim::hostname().replace(['/', '-'], "_");
        let dead = dir.path().join(format!(".a.json.tmp-{host}-4194999-0"));
        let alive = temp_path(&dir.path().join("b.json")).unwrap();
        let foreign = dir.path().join(".c.json.tmp-otherhost-12-3");
        for p in [&dead, &alive, &foreign] {
            std::fs::write(p, b"x").unwrap();
        }
        std::fs::write(dir.path().join("keep.json"), b"{}").unwrap();
        let removed = remove_stale_temporaries(dir.path(), std::time::Duration::from_secs(3600));
        assert_eq!(removed, vec![dead.clone()]);
        assert!(alive.exists() && foreign.exists());
        let removed = remove_stale_temporaries(dir.path(), std::time::Duration::ZERO);
        assert_eq!(removed, vec![foreign]);
    }
}
