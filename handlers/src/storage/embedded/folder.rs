//! The embedded dead-letter store: one JSON file per rejected event under
//! `<data dir>/dead-letter/<tenant>/`, named by a fixed-length digest of its
//! identity and body ([`letter_name`]), so storing the same letter again
//! replaces the file and no identity makes a name too long. Writes go to a
//! temporary file of a name of their own first and are renamed into place,
//! so a crash never leaves half a letter and concurrent writers of one
//! letter never share a temporary file.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::domain::Tenant;
use crate::storage::dead_letter::{StoredLetter, letter_name, sort_letters};
use crate::storage::{DeadLetter, DeadLetterStore, StorageError};

/// Dead letters as files in a folder.
#[derive(Debug, Clone)]
pub struct FolderDeadLetters {
    root: PathBuf,
}

impl FolderDeadLetters {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn tenant_dir(&self, tenant: &Tenant) -> PathBuf {
        self.root.join(tenant.as_str())
    }
}

async fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("json.tmp-{:016x}", rand::random::<u64>()));
    tokio::fs::write(&tmp, contents).await?;
    match tokio::fs::rename(&tmp, path).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

#[async_trait]
impl DeadLetterStore for FolderDeadLetters {
    async fn put(&self, letters: &[DeadLetter]) -> Result<(), StorageError> {
        for letter in letters {
            let dir = self.tenant_dir(&letter.tenant);
            tokio::fs::create_dir_all(&dir).await?;
            let path = dir.join(format!("{}.json", letter_name(letter)));
            let json = serde_json::to_vec_pretty(&StoredLetter::from_letter(letter))
                .map_err(|source| StorageError::Document { name: path.display().to_string(), source })?;
            write_atomically(&path, &json).await?;
        }
        Ok(())
    }

    async fn list(&self, tenant: &Tenant) -> Result<Vec<DeadLetter>, StorageError> {
        let dir = self.tenant_dir(tenant);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut letters = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = tokio::fs::read(&path).await?;
            let stored: StoredLetter = serde_json::from_slice(&bytes)
                .map_err(|source| StorageError::Document { name: path.display().to_string(), source })?;
            let letter = stored
                .into_letter()
                .ok_or_else(|| StorageError::Corrupt(format!("{}: not a dead letter", path.display())))?;
            letters.push(letter);
        }
        sort_letters(&mut letters);
        Ok(letters)
    }
}

/// Report files in a folder (the embedded backend's outputs: `reports/<tenant>/<month>/…`
/// under the data directory). The version tag is the content's SHA-256;
/// conditional writes are checked under a lock of this process only, which
/// is enough for files that one process writes (cross-process job state
/// lives in SQL, see [`crate::storage::sql::support::SqlReports`]).
#[derive(Debug, Clone)]
pub struct FolderReports {
    root: PathBuf,
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl FolderReports {
    /// Reports under `root`; a name's `/` separate folders.
    pub fn new(root: PathBuf) -> Self {
        Self { root, lock: Default::default() }
    }

    fn path(&self, name: &str) -> Result<PathBuf, StorageError> {
        let safe = !name.is_empty()
            && name.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
        if !safe {
            return Err(StorageError::InvalidName(name.to_owned()));
        }
        Ok(self.root.join(name))
    }
}

fn content_tag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(body))
}

#[async_trait]
impl crate::storage::ReportStore for FolderReports {
    async fn get(&self, name: &str) -> Result<Option<crate::storage::Versioned>, StorageError> {
        match tokio::fs::read(self.path(name)?).await {
            Ok(body) => Ok(Some(crate::storage::Versioned { etag: content_tag(&body), body })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn put(
        &self,
        name: &str,
        body: &[u8],
        condition: crate::storage::WriteCondition,
    ) -> Result<Option<String>, StorageError> {
        let path = self.path(name)?;
        let _guard = self.lock.lock().await;
        let current = self.get(name).await?;
        let holds = match (&condition, &current) {
            (crate::storage::WriteCondition::Always, _) | (crate::storage::WriteCondition::IfAbsent, None) => true,
            (crate::storage::WriteCondition::IfMatch(tag), Some(doc)) => *tag == doc.etag,
            _ => false,
        };
        if !holds {
            return Ok(None);
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let temp = path.with_extension(format!("tmp-{}", crate::storage::sql::support::random_token()));
        tokio::fs::write(&temp, body).await?;
        tokio::fs::rename(&temp, &path).await?;
        Ok(Some(content_tag(body)))
    }
}
