use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::HumanBytes;
use sha2::{Digest, Sha256};

use super::catalog::{Variant, is_sha256_hex};
use super::error::{StoreError, one_line};
use super::hub::HubSettings;
use super::local;
use super::progress::{ProgressMode, Reporter};
use super::remote::{Opened, Remote, RemoteFile};
use super::verify::{self, CHUNK};

/// How `pull` behaves; `Default` is silent, with 3 automatic resumes.
#[derive(Debug, Clone, Copy)]
pub struct PullOptions<'a> {
    pub progress: ProgressMode,
    /// How many times a broken connection is resumed before giving up.
    pub retries: u32,
    /// Set (e.g. by a Ctrl-C handler) to stop; the partial file is kept.
    pub cancel: Option<&'a AtomicBool>,
}

impl Default for PullOptions<'_> {
    fn default() -> Self {
        Self {
            progress: ProgressMode::Silent,
            retries: 3,
            cancel: None,
        }
    }
}

/// A verified file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The snapshot path, `…/snapshots/<commit>/<file>`.
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// False when the file was already there and only re-verified.
    pub downloaded: bool,
}

pub(crate) fn pull(
    hub: &HubSettings,
    v: &Variant,
    options: &PullOptions<'_>,
) -> Result<Pulled, StoreError> {
    let mut reporter = Reporter::new(options.progress);

    // A verified copy needs no network at all.
    if let Some(path) = local::find_cached(hub, v)
        && let Some(sha) = local::expected_sha(&path, v)
    {
        reporter.note(&format!("{} is already downloaded; verifying it", v.file));
        match check(&path, v, v.size, &sha, &mut reporter) {
            Ok(size) => {
                return Ok(Pulled {
                    path,
                    size,
                    sha256: sha,
                    downloaded: false,
                });
            }
            Err(e @ (StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. })) => {
                local::remove(hub, v)?;
                reporter.note(&format!("{e}; downloading it again"));
            }
            Err(e) => return Err(e),
        }
    }
    if hub.offline {
        return Err(StoreError::OfflineMode {
            file: v.file.clone(),
        });
    }

    let remote = Remote::new(hub);
    let meta = remote.metadata(v)?;
    let (sha, size) = expectations(v, &meta)?;
    let cache = local::cache_repo(hub, v);
    let blob = cache.blob_path(&meta.etag);
    let blobs_dir = parent(&blob);
    fs::create_dir_all(blobs_dir).map_err(|e| StoreError::io("create", blobs_dir, e))?;
    let _lock = local::lock(&blob, &v.file)?;

    // Another tool, or the same file under another commit, may have put the
    // blob there already; it is used only after the same checks.
    if blob.exists() {
        match check(&blob, v, Some(size), &sha, &mut reporter) {
            Ok(_) => {
                let path = link(hub, v, &meta)?;
                return Ok(Pulled {
                    path,
                    size,
                    sha256: sha,
                    downloaded: false,
                });
            }
            Err(StoreError::ChecksumMismatch { .. } | StoreError::SizeMismatch { .. }) => {
                remove_quietly(&blob);
            }
            Err(e) => return Err(e),
        }
    }

    let part = blob.with_extension("part");
    reporter.note(&format!(
        "downloading {} ({}) from {}",
        v.file,
        HumanBytes(size),
        remote.host()
    ));
    let mut attempt = 0;
    let actual = loop {
        match transfer(&remote, &meta.url, v, &part, size, options, &mut reporter) {
            Ok(digest) => break digest,
            Err(e) if e.is_transient() && attempt < options.retries => {
                attempt += 1;
                reporter.note(&format!("{e}; retry {attempt} of {}", options.retries));
                backoff(attempt, options.cancel);
            }
            Err(e) => return Err(e),
        }
    };
    if actual != sha {
        remove_quietly(&part);
        return Err(StoreError::ChecksumMismatch {
            file: v.file.clone(),
            expected: sha,
            actual,
        });
    }
    fs::rename(&part, &blob).map_err(|e| StoreError::io("rename", &part, e))?;
    sync_dir(blobs_dir);
    let path = link(hub, v, &meta)?;
    reporter.note(&format!("{} downloaded and verified", v.file));
    Ok(Pulled {
        path,
        size,
        sha256: sha,
        downloaded: true,
    })
}

/// What the file must turn out to be: the catalogue's pins when present,
/// else what the hub announces. Disagreement is caught before downloading.
fn expectations(v: &Variant, meta: &RemoteFile) -> Result<(String, u64), StoreError> {
    let remote_sha = is_sha256_hex(&meta.etag).then(|| meta.etag.clone());
    let sha = match (&v.sha256, remote_sha) {
        (Some(pinned), Some(remote)) if *pinned != remote => {
            return Err(StoreError::RemoteChanged {
                file: v.file.clone(),
                expected: pinned.clone(),
                remote,
            });
        }
        (Some(pinned), _) => pinned.clone(),
        (None, Some(remote)) => remote,
        (None, None) => {
            return Err(StoreError::BadResponse {
                url: meta.url.clone(),
                detail: "no sha256 (X-Linked-Etag) to check the file against".into(),
            });
        }
    };
    let size = match (v.size, meta.size) {
        (Some(pinned), Some(remote)) if pinned != remote => {
            return Err(StoreError::SizeMismatch {
                file: v.file.clone(),
                expected: pinned,
                actual: remote,
            });
        }
        (Some(pinned), _) => pinned,
        (None, Some(remote)) => remote,
        (None, None) => {
            return Err(StoreError::BadResponse {
                url: meta.url.clone(),
                detail: "no size (X-Linked-Size) announced".into(),
            });
        }
    };
    Ok((sha, size))
}

/// Size and hash check of a file already on disk.
pub(crate) fn check(
    path: &Path,
    v: &Variant,
    size: Option<u64>,
    sha: &str,
    reporter: &mut Reporter,
) -> Result<u64, StoreError> {
    let on_disk = fs::metadata(path)
        .map_err(|e| StoreError::io("read", path, e))?
        .len();
    if let Some(expected) = size
        && expected != on_disk
    {
        return Err(StoreError::SizeMismatch {
            file: v.file.clone(),
            expected,
            actual: on_disk,
        });
    }
    reporter.start(&format!("verifying {}", v.file), on_disk, 0);
    let (hashed, actual) = verify::sha256_file(path, reporter)?;
    reporter.finish();
    if actual != sha {
        return Err(StoreError::ChecksumMismatch {
            file: v.file.clone(),
            expected: sha.to_string(),
            actual,
        });
    }
    Ok(hashed)
}

/// Brings `part` up to `total` bytes and returns the hex SHA-256 of all of
/// it. On any error the part file holds a prefix of what the server sent, so
/// the next call resumes; it is never moved into place here.
fn transfer(
    remote: &Remote,
    url: &str,
    v: &Variant,
    part: &Path,
    total: u64,
    options: &PullOptions<'_>,
    reporter: &mut Reporter,
) -> Result<String, StoreError> {
    let dir = parent(part);
    let have = match fs::metadata(part) {
        Ok(m) if m.len() <= total => m.len(),
        // Longer than the file: not a prefix of it, start over.
        Ok(_) => 0,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(StoreError::io("read", part, e)),
    };
    ensure_space(dir, total - have)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(part)
        .map_err(|e| StoreError::io("create", part, e))?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) > total {
        truncate(&mut file, part)?;
    }

    let mut hasher = Sha256::new();
    let mut done = 0;
    if have > 0 {
        reporter.note(&format!(
            "resuming {} from {} (checking what is there)",
            v.file,
            HumanBytes(have)
        ));
        let mut quiet = Reporter::new(ProgressMode::Silent);
        done = verify::hash_into(&mut hasher, &mut file, part, Some(have), &mut quiet)?;
    }
    if done < total {
        let (start, mut body) = match remote.open(url, &v.file, done)? {
            Opened::From(start, body) => (start, body),
            // Our prefix is not one of this file; the only way on is afresh.
            Opened::RangeNotSatisfiable => match remote.open(url, &v.file, 0)? {
                Opened::From(0, body) => (0, body),
                _ => {
                    return Err(StoreError::BadResponse {
                        url: url.to_string(),
                        detail: "refused to send the file from the start".into(),
                    });
                }
            },
        };
        if start == 0 && done > 0 {
            reporter.note("the server cannot resume; starting over");
            truncate(&mut file, part)?;
            hasher = Sha256::new();
            done = 0;
        }
        file.seek(SeekFrom::Start(done))
            .map_err(|e| StoreError::io("seek", part, e))?;

        reporter.start(&v.file, total, done);
        let stopped = |done: u64, reason: String, cancelled: bool| StoreError::Interrupted {
            file: v.file.clone(),
            done,
            total,
            reason,
            cancelled,
        };
        let cancelled = || options.cancel.is_some_and(|c| c.load(Ordering::SeqCst));
        let mut buf = vec![0u8; CHUNK];
        loop {
            if cancelled() {
                return Err(stopped(done, "cancelled".into(), true));
            }
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                // A signal (Ctrl-C) woke the read; the loop head decides.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stopped(done, read_failure(&e), cancelled())),
            };
            if done + n as u64 > total {
                drop(file);
                remove_quietly(part);
                return Err(StoreError::SizeMismatch {
                    file: v.file.clone(),
                    expected: total,
                    actual: done + n as u64,
                });
            }
            if let Err(e) = file.write_all(&buf[..n]) {
                return Err(match StoreError::io("write", part, e) {
                    StoreError::DiskFull { dir, .. } => StoreError::DiskFull {
                        needed: Some(total - done),
                        available: free_space(&dir),
                        dir,
                    },
                    other => other,
                });
            }
            hasher.update(&buf[..n]);
            done += n as u64;
            reporter.set(done);
        }
        if done < total {
            return Err(stopped(
                done,
                "the server closed the connection early".into(),
                false,
            ));
        }
        reporter.finish();
    }
    // The rename that follows must never publish data still in flight.
    file.sync_all()
        .map_err(|e| StoreError::io("write", part, e))?;
    Ok(verify::hex(&hasher.finalize()))
}

fn read_failure(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => "connection lost".into(),
        io::ErrorKind::TimedOut => "no data from the server for too long".into(),
        _ => one_line(&e.to_string()),
    }
}

/// Creates `snapshots/<commit>/<file>` -> `../../blobs/<etag>` and
/// `refs/<revision>`, exactly as hf-hub does.
fn link(hub: &HubSettings, v: &Variant, meta: &RemoteFile) -> Result<PathBuf, StoreError> {
    let cache = local::cache_repo(hub, v);
    let pointer = cache.pointer_path(&meta.commit).join(&v.file);
    let snapshot = parent(&pointer);
    fs::create_dir_all(snapshot).map_err(|e| StoreError::io("create", snapshot, e))?;
    let depth = v.file.matches('/').count() + 2;
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.push("blobs");
    target.push(&meta.etag);
    if fs::symlink_metadata(&pointer).is_ok() {
        fs::remove_file(&pointer).map_err(|e| StoreError::io("replace", &pointer, e))?;
    }
    std::os::unix::fs::symlink(&target, &pointer)
        .map_err(|e| StoreError::io("link", &pointer, e))?;
    cache
        .create_ref(&meta.commit)
        .map_err(|e| StoreError::io("write", &local::repo_dir(hub, v).join("refs"), e))?;
    Ok(pointer)
}

fn ensure_space(dir: &Path, needed: u64) -> Result<(), StoreError> {
    match free_space(dir) {
        Some(available) if available < needed => Err(StoreError::DiskFull {
            dir: dir.to_path_buf(),
            needed: Some(needed),
            available: Some(available),
        }),
        // Unknown free space is no reason to refuse; a full disk is still
        // reported when the write fails.
        _ => Ok(()),
    }
}

fn free_space(dir: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    Some((stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64))
}

fn truncate(file: &mut File, path: &Path) -> Result<(), StoreError> {
    file.set_len(0)
        .map_err(|e| StoreError::io("truncate", path, e))
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove {}: {e}", path.display());
    }
}

/// Makes the rename durable; failure only weakens crash safety.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn backoff(attempt: u32, cancel: Option<&AtomicBool>) {
    let wait = Duration::from_millis(500u64 << attempt.min(4));
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    while waited < wait {
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
            // The next transfer attempt sees the flag and reports it.
            return;
        }
        std::thread::sleep(step);
        waited += step;
    }
}
