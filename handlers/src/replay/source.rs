//! Where Capture files are read from: local files and folders (searched for
//! `*.avro`), or a blob container and prefix of the configured storage
//! account (`blob://<container>/<prefix>`).

use std::path::{Path, PathBuf};

use crate::storage::StorageError;
use crate::storage::azure::{CaptureBlobs, StorageAccount};

/// One place Capture files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSource {
    /// A file, or a folder searched for `*.avro` files.
    Local(PathBuf),
    /// Blobs of a container of the configured storage account, by prefix.
    Blobs {
        /// The container (Capture's destination, `capture` in infra/).
        container: String,
        /// The name prefix, e.g. `<namespace>/<hub>/3/2026/10/31/`.
        prefix: String,
    },
}

impl CaptureSource {
    /// `blob://<container>/<prefix>` or a local path.
    pub fn parse(raw: &str) -> Self {
        match raw.strip_prefix("blob://") {
            Some(rest) => {
                let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                Self::Blobs { container: container.to_owned(), prefix: prefix.to_owned() }
            }
            None => Self::Local(PathBuf::from(raw)),
        }
    }
}

/// Why Capture files could not be listed or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A local file or folder could not be read.
    #[error("{path}: cannot be read")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A blob source was given without a storage account to read it from.
    #[error("blob://{container}/… needs AzureWebJobsStorage as a connection string")]
    NoAccount {
        /// The container named.
        container: String,
    },
    /// Blob Storage failed.
    #[error("reading Capture blobs failed")]
    Storage(#[from] StorageError),
}

/// One Capture file found: its name (for its partition) and how to read it.
#[derive(Debug, Clone)]
pub enum CaptureFile {
    /// A local file.
    Local(PathBuf),
    /// A blob.
    Blob {
        /// The container's client.
        blobs: CaptureBlobs,
        /// The blob name.
        name: String,
    },
}

impl CaptureFile {
    /// The name its Capture path is read from.
    pub fn name(&self) -> String {
        match self {
            Self::Local(path) => path.to_string_lossy().into_owned(),
            Self::Blob { name, .. } => name.clone(),
        }
    }

    /// Its bytes.
    pub async fn read(&self) -> Result<Vec<u8>, SourceError> {
        match self {
            Self::Local(path) => {
                tokio::fs::read(path).await.map_err(|source| SourceError::Io { path: path.clone(), source })
            }
            Self::Blob { blobs, name } => Ok(blobs.get(name).await?),
        }
    }
}

/// Every Capture file of the sources, each source's files in name order.
pub async fn list(
    sources: &[CaptureSource],
    account: Option<&StorageAccount>,
) -> Result<Vec<CaptureFile>, SourceError> {
    let mut files = Vec::new();
    for source in sources {
        match source {
            CaptureSource::Local(path) => {
                let mut found = Vec::new();
                collect_avro(path, &mut found)?;
                found.sort();
                files.extend(found.into_iter().map(CaptureFile::Local));
            }
            CaptureSource::Blobs { container, prefix } => {
                let account = account.ok_or_else(|| SourceError::NoAccount { container: container.clone() })?;
                let blobs = CaptureBlobs::open(account, container)?;
                for name in blobs.list(prefix).await? {
                    files.push(CaptureFile::Blob { blobs: blobs.clone(), name });
                }
            }
        }
    }
    Ok(files)
}

/// A file as given (whatever its name), or a folder's `*.avro` files at any depth.
fn collect_avro(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let io = |source| SourceError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(io)? {
        let child = entry.map_err(io)?.path();
        if child.is_dir() {
            collect_avro(&child, out)?;
        } else if child.extension().is_some_and(|e| e == "avro") {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_a_blob_prefix_or_a_path() {
        assert_eq!(
            CaptureSource::parse("blob://capture/ns/hub/3/2026/"),
            CaptureSource::Blobs { container: "capture".into(), prefix: "ns/hub/3/2026/".into() }
        );
        assert_eq!(
            CaptureSource::parse("blob://capture"),
            CaptureSource::Blobs { container: "capture".into(), prefix: String::new() }
        );
        assert_eq!(CaptureSource::parse("./capture"), CaptureSource::Local(PathBuf::from("./capture")));
    }
}
