//! The files on disk, in hf-hub's cache layout (shared with hf-hub and
//! huggingface_hub):
//!
//! ```text
//! <cache>/models--Qwen--Qwen2.5-Coder-1.5B-Instruct-GGUF/
//!   refs/main                  commit hash of the last download
//!   blobs/<sha256>             the file itself (named by its LFS sha256)
//!   blobs/<sha256>.part        an unfinished download, resumed by hf-hub too
//!   blobs/<sha256>.lock        flock held while downloading (hf-hub's name)
//!   snapshots/<commit>/<file>  relative symlink to ../../blobs/<sha256>
//! ```

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use hf_hub::{Cache, CacheRepo, Repo, RepoType};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::catalog::{Catalog, Variant, is_sha256_hex};
use super::error::StoreError;
use super::hub::HubSettings;

/// One line of `caro model list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: String,
    pub description: String,
    pub file: String,
    /// Size on disk when present, else the catalogue's size if pinned.
    pub size: Option<u64>,
    /// Where the file is, when it is downloaded.
    pub path: Option<PathBuf>,
    /// Bytes of an unfinished download waiting to be resumed, when known.
    pub partial: Option<u64>,
    /// A file in caro's models directory that does not match the catalogue.
    pub unverified: Option<PathBuf>,
    pub active: bool,
    pub default: bool,
}

/// What `remove` deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub paths: Vec<PathBuf>,
    pub freed: u64,
}

fn repo(v: &Variant) -> Repo {
    Repo::with_revision(v.repo.clone(), RepoType::Model, v.revision.clone())
}

pub(crate) fn cache_repo(hub: &HubSettings, v: &Variant) -> CacheRepo {
    Cache::new(hub.cache_dir.clone()).repo(repo(v))
}

pub(crate) fn repo_dir(hub: &HubSettings, v: &Variant) -> PathBuf {
    hub.cache_dir.join(repo(v).folder_name())
}

/// Pointers to the file in every snapshot, the one `refs/<revision>` names first.
fn candidates(hub: &HubSettings, v: &Variant) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(p) = cache_repo(hub, v).get(&v.file) {
        found.push(p);
    }
    let mut others: Vec<PathBuf> = fs::read_dir(repo_dir(hub, v).join("snapshots"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(&v.file))
        .filter(|p| !found.contains(p) && fs::symlink_metadata(p).is_ok())
        .collect();
    others.sort();
    found.extend(others);
    found
}

/// Cheap checks only (no hashing): the file must be there, have the pinned
/// size, and not be a blob of some other content. Only this module and
/// hf-hub put files into `blobs/`, and this module only after hashing.
fn is_usable(path: &Path, v: &Variant) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() == 0 || v.size.is_some_and(|s| s != meta.len()) {
        return false;
    }
    if let Some(pinned) = &v.sha256
        && let Some(name) = blob_name(path)
        && is_sha256_hex(&name)
        && &name != pinned
    {
        return false;
    }
    true
}

fn blob_name(path: &Path) -> Option<String> {
    let target = fs::canonicalize(path).ok()?;
    Some(target.file_name()?.to_str()?.to_string())
}

pub(crate) fn find_cached(hub: &HubSettings, v: &Variant) -> Option<PathBuf> {
    candidates(hub, v).into_iter().find(|p| is_usable(p, v))
}

/// Like [`find_cached`], but also returns a present file that fails the cheap
/// checks, so that `verify` can report and remove it.
pub(crate) fn find_any(hub: &HubSettings, v: &Variant) -> Option<PathBuf> {
    find_cached(hub, v).or_else(|| {
        candidates(hub, v)
            .into_iter()
            .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file()))
    })
}

/// The SHA-256 the present file must have: the catalogue's, else the blob's
/// name, which the hub layout sets to the LFS sha256.
pub(crate) fn expected_sha(path: &Path, v: &Variant) -> Option<String> {
    v.sha256
        .clone()
        .or_else(|| blob_name(path).filter(|n| is_sha256_hex(n)))
}

/// Held while a blob is written or deleted. Same file and flock as hf-hub,
/// so a caro and an hf-hub download of the same file do not interleave.
pub(crate) struct BlobLock {
    _lock: Flock<File>,
}

pub(crate) fn lock(blob: &Path, file: &str) -> Result<BlobLock, StoreError> {
    let path = blob.with_extension("lock");
    let handle = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io("create", &path, e))?;
    match Flock::lock(handle, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(BlobLock { _lock: lock }),
        Err((_, Errno::EWOULDBLOCK)) => Err(StoreError::Busy {
            file: file.to_string(),
            lock: path,
        }),
        Err((_, errno)) => Err(StoreError::io("lock", &path, io::Error::from(errno))),
    }
}

/// Removes every trace of the variant: snapshot pointers, the blobs they
/// point to, and any unfinished download whose name is known.
pub(crate) fn remove(hub: &HubSettings, v: &Variant) -> Result<Removed, StoreError> {
    let dir = repo_dir(hub, v);
    let blobs = dir.join("blobs");
    let mut pointers = Vec::new();
    let mut names: Vec<String> = v.sha256.iter().cloned().collect();
    for pointer in candidates(hub, v) {
        match fs::read_link(&pointer) {
            Ok(target) => {
                if let Some(name) = target.file_name().and_then(|n| n.to_str())
                    && !names.iter().any(|n| n == name)
                {
                    names.push(name.to_string());
                }
            }
            // A plain file in snapshots/ (hf-hub's fallback where symlinks
            // fail) is the data itself; it goes with the pointers.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {}
            Err(e) => return Err(StoreError::io("read", &pointer, e)),
        }
        pointers.push(pointer);
    }

    let mut locks = Vec::new();
    for name in &names {
        let blob = blobs.join(name);
        if blobs.is_dir() {
            locks.push(lock(&blob, &v.file)?);
        }
    }

    let mut removed = Removed::default();
    // Pointers first, so that no reader ever follows one to a missing blob.
    for pointer in &pointers {
        delete(pointer, &mut removed)?;
        if let Some(snapshot) = pointer.parent() {
            // Only succeeds when empty, which is the point.
            let _ = fs::remove_dir(snapshot);
        }
    }
    for name in &names {
        let blob = blobs.join(name);
        delete(&blob, &mut removed)?;
        delete(&blob.with_extension("part"), &mut removed)?;
    }
    drop(locks);
    for name in &names {
        // The lock files are empty; they are not worth reporting.
        let _ = fs::remove_file(blobs.join(name).with_extension("lock"));
    }
    Ok(removed)
}

fn delete(path: &Path, removed: &mut Removed) -> Result<(), StoreError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    match fs::remove_file(path) {
        Ok(()) => {
            if meta.is_file() {
                removed.freed += meta.len();
            }
            removed.paths.push(path.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

pub(crate) fn list(hub: &HubSettings, catalog: &Catalog, active: Option<&str>) -> Vec<ModelInfo> {
    catalog
        .variants
        .iter()
        .map(|v| {
            let path = find_cached(hub, v);
            let on_disk = path
                .as_ref()
                .and_then(|p| fs::metadata(p).ok())
                .map(|m| m.len());
            let partial = match (&path, &v.sha256) {
                (None, Some(sha)) => fs::metadata(
                    repo_dir(hub, v)
                        .join("blobs")
                        .join(sha)
                        .with_extension("part"),
                )
                .ok()
                .map(|m| m.len()),
                _ => None,
            };
            ModelInfo {
                name: v.name.clone(),
                description: v.description.clone(),
                file: v.file.clone(),
                size: on_disk.or(v.size),
                path,
                partial,
                unverified: None,
                active: active.is_some_and(|a| a.eq_ignore_ascii_case(&v.name)),
                default: v.name == catalog.default,
            }
        })
        .collect()
}
