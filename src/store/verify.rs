use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::StoreError;
use super::progress::Reporter;

pub(crate) const CHUNK: usize = 1 << 20;

pub(crate) fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Feeds the first `limit` bytes of `file` (all of it when `None`) into
/// `hasher`; returns how many bytes were read.
pub(crate) fn hash_into(
    hasher: &mut Sha256,
    file: &mut File,
    path: &Path,
    limit: Option<u64>,
    reporter: &mut Reporter,
) -> Result<u64, StoreError> {
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let want = match limit {
            Some(l) if l - done < CHUNK as u64 => (l - done) as usize,
            _ => CHUNK,
        };
        if want == 0 {
            break;
        }
        let n = file
            .read(&mut buf[..want])
            .map_err(|e| StoreError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        reporter.set(done);
    }
    Ok(done)
}

/// Size and lower-case hex SHA-256 of a whole file.
pub(crate) fn sha256_file(
    path: &Path,
    reporter: &mut Reporter,
) -> Result<(u64, String), StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let mut hasher = Sha256::new();
    let size = hash_into(&mut hasher, &mut file, path, None, reporter)?;
    Ok((size, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::progress::ProgressMode;

    #[test]
    fn known_digests() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc")?;
        let (size, sha) = sha256_file(&path, &mut Reporter::new(ProgressMode::Silent))?;
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut hasher = Sha256::new();
        let mut file = File::open(&path)?;
        let n = hash_into(
            &mut hasher,
            &mut file,
            &path,
            Some(2),
            &mut Reporter::new(ProgressMode::Silent),
        )?;
        assert_eq!(n, 2);
        assert_eq!(hex(&hasher.finalize()), hex(&Sha256::digest(b"ab")));
        Ok(())
    }
}
