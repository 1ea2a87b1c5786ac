//! The record store: the one owner of the output folder's layout and file
//! names, and of reading and writing typed records.
//!
//! Layout of an output folder:
//!
//! | file | what |
//! |---|---|
//! | `<id>.json` | [`ArticleDigest`], the per-article record of `digest` |
//! | `<id>.md` | the same, rendered for reading |
//! | `<id>.translation.json` | [`TranslationRecord`], written by `translate` |
//! | `<id>.en.txt` | the English text of a translation |
//! | `digest-YYYY-MM-DD.md`, `digest-undated.md` | the daily digests |
//! | `index.html`, `day-YYYY-MM-DD.html`, `day-undated.html`, `<id>.html`, `style.css` | the static site |
//! | `feed.xml` | the Atom feed, one entry per article |
//! | `articles.jsonl` | every [`ArticleDigest`], one JSON object a line |
//!
//! | `.ukdigest/work/<id>.<stage>.json` | stage checkpoints of an article in progress |
//! | `.ukdigest/claims/<key>.<n>.lock` | who works on what ([`claim`]) |
//!
//! Every write is atomic (a temporary sibling renamed over the final
//! name); temporaries a killed run left are removed by the next run
//! ([`Store::clean_up`]). The skip check ([`Store::is_done`]), the daily
//! digests and `compare` read the records through this module.
pub mod claim;
pub mod record;

pub use record::*;

use crate::error::{Error, Result};
use crate::fsio::{write_atomic, write_json_atomic};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What identifies a run's output for an article: the source bytes, the
/// models (name and file hash per stage) and the settings.
#[derive(Debug, Clone)]
pub struct RunKey<'a> {
    pub source_sha256: &'a str,
    pub models: &'a StageModels,
    pub settings: &'a Settings,
}

/// The two kinds of per-article record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `<id>.json`, written by `digest`.
    Digest,
    /// `<id>.translation.json`, written by `translate`.
    Translation,
}

/// An output folder.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

const TRANSLATION_SUFFIX: &str = ".translation.json";
const SITE_INDEX: &str = "index.html";
const SITE_STYLE: &str = "style.css";
const FEED: &str = "feed.xml";
const ARTICLES_JSONL: &str = "articles.jsonl";

/// Percent-encode everything but RFC 3986 unreserved characters (for a
/// relative link built from an article id or a day).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Store {
    /// The store in `dir`, created if missing.
    pub fn create(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The store in an existing `dir` (for reading).
    pub fn open(dir: &Path) -> Result<Store> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such output folder"),
            ));
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn record_path(&self, kind: RecordKind, id: &str) -> PathBuf {
        match kind {
            RecordKind::Digest => self.dir.join(format!("{id}.json")),
            RecordKind::Translation => self.dir.join(format!("{id}{TRANSLATION_SUFFIX}")),
        }
    }

    pub fn markdown_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.md"))
    }

    pub fn english_text_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.en.txt"))
    }

    /// `digest-<day>.md`; `day` is `YYYY-MM-DD` or `undated`.
    pub fn day_path(&self, day: &str) -> PathBuf {
        self.dir.join(format!("digest-{day}.md"))
    }

    /// The program's own state in the folder (checkpoints, claims).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(".ukdigest")
    }

    pub fn claims_dir(&self) -> PathBuf {
        self.state_dir().join("claims")
    }

    fn work_dir(&self) -> PathBuf {
        self.state_dir().join("work")
    }

    /// The checkpoint of `stage` of article `id`.
    pub fn checkpoint_path(&self, id: &str, stage: &str) -> PathBuf {
        self.work_dir().join(format!("{id}.{stage}.json"))
    }

    /// A stage's result saved before, if it was made with `key` (the hash
    /// of everything the stage depends on).
    pub fn read_checkpoint<T: DeserializeOwned>(
        &self,
        id: &str,
        stage: &str,
        key: &str,
    ) -> Option<T> {
        let text = std::fs::read_to_string(self.checkpoint_path(id, stage)).ok()?;
        let c: Checkpoint<T> = serde_json::from_str(&text).ok()?;
        (c.schema_version == SCHEMA_VERSION && c.key == key).then_some(c.value)
    }

    /// Save a stage's result as soon as it exists.
    pub fn write_checkpoint<T: serde::Serialize>(
        &self,
        id: &str,
        stage: &str,
        key: &str,
        value: &T,
    ) -> Result<()> {
        let c = Checkpoint {
            schema_version: SCHEMA_VERSION,
            key: key.to_string(),
            value,
        };
        write_json_atomic(&self.checkpoint_path(id, stage), &c)
    }

    /// Remove an article's checkpoints (its record is written).
    pub fn remove_checkpoints(&self, id: &str) {
        let prefix = format!("{id}.");
        if let Ok(rd) = std::fs::read_dir(self.work_dir()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) && name.ends_with(".json") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Remove the temporaries of killed runs (this host's dead processes,
    /// other hosts' after a day). Returns what was removed.
    pub fn clean_up(&self) -> Vec<PathBuf> {
        let day = std::time::Duration::from_secs(86_400);
        let mut removed = crate::fsio::remove_stale_temporaries(&self.dir, day);
        removed.extend(crate::fsio::remove_stale_temporaries(&self.work_dir(), day));
        removed.extend(crate::fsio::remove_stale_temporaries(
            &self.claims_dir(),
            day,
        ));
        removed
    }

    /// The link from a day page to an article's page (relative).
    pub fn article_link(id: &str) -> String {
        format!("{id}.md")
    }

    /// `index.html`: the site's list of days.
    pub fn site_index_path(&self) -> PathBuf {
        self.dir.join(SITE_INDEX)
    }

    /// `day-<day>.html`; `day` is `YYYY-MM-DD` or `undated`.
    pub fn site_day_path(&self, day: &str) -> PathBuf {
        self.dir.join(format!("day-{day}.html"))
    }

    /// `<id>.html`: an article's page of the site.
    pub fn article_html_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.html"))
    }

    /// `style.css`, shared by the site's pages.
    pub fn site_style_path(&self) -> PathBuf {
        self.dir.join(SITE_STYLE)
    }

    /// `feed.xml`: the Atom feed.
    pub fn feed_path(&self) -> PathBuf {
        self.dir.join(FEED)
    }

    /// `articles.jsonl`: every article record, one a line.
    pub fn jsonl_path(&self) -> PathBuf {
        self.dir.join(ARTICLES_JSONL)
    }

    /// The relative link to the site's index page.
    pub fn site_index_link() -> String {
        SITE_INDEX.to_string()
    }

    /// The relative link to a day's page of the site (percent-encoded).
    pub fn site_day_link(day: &str) -> String {
        format!("day-{}.html", percent_encode(day))
    }

    /// The relative link to an article's page of the site (percent-encoded,
    /// so an id with spaces or `#` still links from `file://`).
    pub fn article_html_link(id: &str) -> String {
        format!("{}.html", percent_encode(id))
    }

    /// The relative link to `style.css`.
    pub fn site_style_link() -> String {
        SITE_STYLE.to_string()
    }

    /// The relative link to `feed.xml`.
    pub fn feed_link() -> String {
        FEED.to_string()
    }

    /// The relative link to `articles.jsonl`.
    pub fn jsonl_link() -> String {
        ARTICLES_JSONL.to_string()
    }

    /// Whether the record of `kind` for `id` was made from the same source
    /// with the same models and settings. A missing or unreadable record is
    /// not done (it will be rewritten).
    pub fn is_done(&self, kind: RecordKind, id: &str, key: &RunKey) -> bool {
        let path = self.record_path(kind, id);
        if !path.is_file() {
            return false;
        }
        let same = |sha: &str, models: &StageModels, settings: &Settings| {
            sha == key.source_sha256 && models.same_models(key.models) && settings == key.settings
        };
        match kind {
            RecordKind::Digest => read_record::<ArticleDigest>(&path).is_ok_and(|r| {
                same(
                    &r.source_sha256,
                    &r.provenance.models,
                    &r.provenance.settings,
                )
            }),
            RecordKind::Translation => read_record::<TranslationRecord>(&path).is_ok_and(|r| {
                same(
                    &r.source_sha256,
                    &r.provenance.models,
                    &r.provenance.settings,
                )
            }),
        }
    }

    pub fn read_article(&self, id: &str) -> Result<ArticleDigest> {
        read_record(&self.record_path(RecordKind::Digest, id))
    }

    pub fn read_translation(&self, id: &str) -> Result<TranslationRecord> {
        read_record(&self.record_path(RecordKind::Translation, id))
    }

    /// Write `<id>.json` and `<id>.md` (the rendered `markdown`).
    pub fn write_article(&self, rec: &ArticleDigest, markdown: &str) -> Result<Vec<PathBuf>> {
        let json = self.record_path(RecordKind::Digest, &rec.id);
        let md = self.markdown_path(&rec.id);
        write_json_atomic(&json, rec)?;
        write_atomic(&md, markdown.as_bytes())?;
        Ok(vec![json, md])
    }

    /// Write `<id>.translation.json` and `<id>.en.txt`.
    pub fn write_translation(&self, rec: &TranslationRecord) -> Result<Vec<PathBuf>> {
        let json = self.record_path(RecordKind::Translation, &rec.id);
        let txt = self.english_text_path(&rec.id);
        write_json_atomic(&json, rec)?;
        write_atomic(&txt, rec.english_text().as_bytes())?;
        Ok(vec![json, txt])
    }

    pub fn write_day(&self, day: &str, markdown: &str) -> Result<PathBuf> {
        let path = self.day_path(day);
        write_atomic(&path, markdown.as_bytes())?;
        Ok(path)
    }

    /// Every article record of the folder, sorted by id. Other JSON files
    /// (translation records, reports a user saved here) are not article
    /// records and are passed over; an article record of a newer schema
    /// version, or one that does not parse, is an error naming the file.
    pub fn articles(&self) -> Result<Vec<ArticleDigest>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.ends_with(".json") && !name.ends_with(TRANSLATION_SUFFIX)
            })
            .collect();
        files.sort();
        let mut out: Vec<ArticleDigest> = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
            if !looks_like_article(&text) {
                continue;
            }
            out.push(parse_record(&f, &text)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// A stage's result with the key it was made under.
#[derive(serde::Serialize, Deserialize)]
struct Checkpoint<T> {
    schema_version: u32,
    key: String,
    value: T,
}

/// The fields every record has, read before the rest.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    schema_version: Option<u32>,
}

/// Whether a JSON text is an article record (has the fields that make one).
fn looks_like_article(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        id: String,
        #[allow(dead_code)]
        summary: Vec<String>,
        #[allow(dead_code)]
        provenance: serde::de::IgnoredAny,
    }
    serde_json::from_str::<Probe>(text).is_ok()
}

fn read_record<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_record(path, &text)
}

/// Parse a record, checking its schema version first.
fn parse_record<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let bad = |why: String| Error::Record {
        path: path.to_path_buf(),
        reason: why,
    };
    let header: Header =
        serde_json::from_str(text).map_err(|e| bad(format!("not a record: {e}")))?;
    match header.schema_version {
        // Records without the field (ukdigest 0.1) have the layout of version 1.
        None | Some(1) => {}
        Some(v) => {
            return Err(bad(format!(
                "schema_version {v} is not one this ukdigest reads (it reads version {SCHEMA_VERSION}); \
                 re-run with --force or use a matching ukdigest"
            )))
        }
    }
    serde_json::from_str(text).map_err(|e| bad(format!("does not parse as a record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_the_skip_check_compares_source_models_settings() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::create(d.path()).unwrap();
        let mut rec = record::sample("a1", "H", &["One."], Vec::new());
        rec.source_sha256 = "abc".into();
        store.write_article(&rec, "# md\n").unwrap();
        let back = store.read_article("a1").unwrap();
        assert_eq!(back.headline, "H");
        assert_eq!(
            std::fs::read_to_string(store.markdown_path("a1")).unwrap(),
            "# md\n"
        );

        let p = &rec.provenance;
        let key = RunKey {
            source_sha256: "abc",
            models: &p.models,
            settings: &p.settings,
        };
        assert!(store.is_done(RecordKind::Digest, "a1", &key));
        assert!(!store.is_done(RecordKind::Translation, "a1", &key));
        assert!(!store.is_done(RecordKind::Digest, "missing", &key));
        let other_source = RunKey {
            source_sha256: "abd",
            ..key.clone()
        };
        assert!(!store.is_done(RecordKind::Digest, "a1", &other_source));
        let mut settings = p.settings.clone();
        settings.threads += 1;
        let other_settings = RunKey {
            settings: &settings,
            ..key.clone()
        };
        assert!(!store.is_done(RecordKind::Digest, "a1", &other_settings));
        let mut models = p.models.clone();
        models.translate.sha256 = "ff".into();
        let other_models = RunKey {
            models: &models,
            ..key.clone()
        };
        assert!(!store.is_done(RecordKind::Digest, "a1", &other_models));
        // Metadata and paths are not part of a model's identity.
        let mut moved = p.models.clone();
        moved.translate.path = "/elsewhere".into();
        moved.translate.metadata = Some(serde_json::json!({"x": 1}));
        let same = RunKey {
            models: &moved,
            ..key
        };
        assert!(store.is_done(RecordKind::Digest, "a1", &same));
    }

    #[test]
    fn schema_versions_are_checked_and_other_json_is_passed_over() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::create(d.path()).unwrap();
        store
            .write_article(&record::sample("b", "H", &["S."], Vec::new()), "")
            .unwrap();
        // A report a user saved in the folder is not an article record.
        std::fs::write(d.path().join("compare.json"), r#"{"articles": []}"#).unwrap();
        let ids: Vec<String> = store
            .articles()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec!["b"]);
        // A record without schema_version (ukdigest 0.1) reads as version 1.
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.path().join("b.json")).unwrap())
                .unwrap();
        v.as_object_mut().unwrap().remove("schema_version");
        std::fs::write(d.path().join("b.json"), v.to_string()).unwrap();
        assert_eq!(store.read_article("b").unwrap().schema_version, 1);
        // A newer version is a clear error naming the file.
        v["schema_version"] = 9.into();
        std::fs::write(d.path().join("b.json"), v.to_string()).unwrap();
        let e = store.articles().unwrap_err().to_string();
        assert!(
            e.contains("b.json") && e.contains("schema_version 9"),
            "{e}"
        );
    }
}
