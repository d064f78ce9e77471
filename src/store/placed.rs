//! A catalogue file placed in caro's own models directory (by hand, a script, or an
//! older caro) rather than in the hub cache. It counts as the variant downloaded once
//! its SHA-256 matches the catalogue's pin; the result is remembered next to it, keyed by
//! the file's size, times and inode, so that `caro model list` does not re-hash 1 GB.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Verified;
use super::catalog::Variant;
use super::error::StoreError;
use super::progress::Reporter;
use super::verify;

/// What is at the variant's path in the models directory.
#[derive(Debug)]
pub(crate) enum Placed {
    Absent,
    Verified(Verified),
    /// There is a file, but it is not the catalogue's (or cannot be checked).
    Unverified {
        path: PathBuf,
        error: StoreError,
    },
}

/// Whether to believe a remembered hash whose key still matches the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hashing {
    Remembered,
    Always,
}

pub(crate) fn path(dir: &Path, v: &Variant) -> PathBuf {
    dir.join(&v.file)
}

/// Where the hash of `path` is remembered: a hidden file beside it.
fn record_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.sha256"))
}

/// What must not have changed for a remembered hash to still describe the file. The
/// inode change time moves on every write and cannot be set back by the user, so a file
/// rewritten in place with its size and mtime restored is still hashed again.
fn key(meta: &fs::Metadata) -> String {
    format!(
        "{} {} {}.{} {}.{}",
        meta.len(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

fn remembered(path: &Path, meta: &fs::Metadata) -> Option<String> {
    let text = fs::read_to_string(record_path(path)).ok()?;
    let (stored_key, sha) = text.trim().rsplit_once(' ')?;
    (stored_key == key(meta)).then(|| sha.to_owned())
}

fn remember(path: &Path, meta: &fs::Metadata, sha: &str) {
    // Only a shortcut: when the directory is read-only the next look hashes again.
    let _ = fs::write(record_path(path), format!("{} {sha}\n", key(meta)));
}

pub(crate) fn check(dir: &Path, v: &Variant, hashing: Hashing, reporter: &mut Reporter) -> Placed {
    let path = path(dir, v);
    let meta = match fs::metadata(&path) {
        Ok(m) if m.is_file() => m,
        _ => return Placed::Absent,
    };
    let unverified = |error| Placed::Unverified {
        path: path.clone(),
        error,
    };
    let Some(expected) = &v.sha256 else {
        return unverified(StoreError::NoChecksum {
            file: v.file.clone(),
        });
    };
    if let Some(size) = v.size
        && size != meta.len()
    {
        return unverified(StoreError::SizeMismatch {
            file: v.file.clone(),
            expected: size,
            actual: meta.len(),
        });
    }
    let known = match hashing {
        Hashing::Remembered => remembered(&path, &meta),
        Hashing::Always => None,
    };
    let actual = match known {
        Some(sha) => sha,
        None => {
            reporter.start(&format!("verifying {}", v.file), meta.len(), 0);
            let hashed = verify::sha256_file(&path, reporter);
            reporter.finish();
            match hashed {
                Ok((_, sha)) => {
                    remember(&path, &meta, &sha);
                    sha
                }
                Err(e) => return unverified(e),
            }
        }
    };
    if &actual != expected {
        return unverified(StoreError::ChecksumMismatch {
            file: v.file.clone(),
            expected: expected.clone(),
            actual,
        });
    }
    Placed::Verified(Verified {
        path,
        size: meta.len(),
        sha256: actual,
    })
}

/// Deletes the placed file and what is remembered about it; returns the bytes freed.
pub(crate) fn remove(dir: &Path, v: &Variant) -> Result<Option<(PathBuf, u64)>, StoreError> {
    let path = path(dir, v);
    let _ = fs::remove_file(record_path(&path));
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return Ok(None);
    };
    match fs::remove_file(&path) {
        Ok(()) => Ok(Some((path, if meta.is_file() { meta.len() } else { 0 }))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("remove", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::progress::ProgressMode;
    use sha2::{Digest, Sha256};

    fn variant(body: &[u8]) -> Variant {
        Variant {
            name: "t".into(),
            description: String::new(),
            repo: "o/r".into(),
            revision: "main".into(),
            file: "t.gguf".into(),
            size: Some(body.len() as u64),
            sha256: Some(verify::hex(&Sha256::digest(body))),
        }
    }

    fn quiet() -> Reporter {
        Reporter::new(ProgressMode::Silent)
    }

    #[test]
    fn a_matching_file_is_verified_and_remembered() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let v = variant(b"weights");
        fs::write(dir.path().join("t.gguf"), b"weights")?;
        let got = check(dir.path(), &v, Hashing::Remembered, &mut quiet());
        assert!(matches!(got, Placed::Verified(_)), "{got:?}");
        let record = fs::read_to_string(dir.path().join(".t.gguf.sha256"))?;
        assert!(record.trim().ends_with(v.sha256.as_deref().unwrap_or("-")));
        Ok(())
    }

    #[test]
    fn a_record_for_other_bytes_is_not_trusted() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let v = variant(b"weights");
        let file = dir.path().join("t.gguf");
        fs::write(&file, b"weights")?;
        assert!(matches!(
            check(dir.path(), &v, Hashing::Remembered, &mut quiet()),
            Placed::Verified(_)
        ));
        // Same size, same mtime, other bytes: only the change time gives it away.
        let mtime = fs::metadata(&file)?.modified()?;
        fs::write(&file, b"WEIGHTS")?;
        fs::File::options()
            .write(true)
            .open(&file)?
            .set_modified(mtime)?;
        let got = check(dir.path(), &v, Hashing::Remembered, &mut quiet());
        assert!(
            matches!(
                got,
                Placed::Unverified {
                    error: StoreError::ChecksumMismatch { .. },
                    ..
                }
            ),
            "{got:?}"
        );
        Ok(())
    }

    #[test]
    fn verify_hashes_again_whatever_is_remembered() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let v = variant(b"weights");
        let file = dir.path().join("t.gguf");
        fs::write(&file, b"WEIGHTS")?;
        let meta = fs::metadata(&file)?;
        let pinned = v.sha256.clone().unwrap_or_default();
        fs::write(
            dir.path().join(".t.gguf.sha256"),
            format!("{} {pinned}\n", key(&meta)),
        )?;
        let got = check(dir.path(), &v, Hashing::Always, &mut quiet());
        assert!(matches!(got, Placed::Unverified { .. }), "{got:?}");
        // The fresh hash replaced the wrong record.
        let got = check(dir.path(), &v, Hashing::Remembered, &mut quiet());
        assert!(matches!(got, Placed::Unverified { .. }), "{got:?}");
        Ok(())
    }

    #[test]
    fn wrong_size_and_absent_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let v = variant(b"weights");
        assert!(matches!(
            check(dir.path(), &v, Hashing::Remembered, &mut quiet()),
            Placed::Absent
        ));
        fs::write(dir.path().join("t.gguf"), b"short")?;
        assert!(matches!(
            check(dir.path(), &v, Hashing::Remembered, &mut quiet()),
            Placed::Unverified {
                error: StoreError::SizeMismatch { .. },
                ..
            }
        ));
        assert_eq!(remove(dir.path(), &v)?.map(|(_, n)| n), Some(5));
        assert!(!dir.path().join("t.gguf").exists());
        Ok(())
    }
}
