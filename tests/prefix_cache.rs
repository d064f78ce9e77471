//! The preamble's keys and values on disk, end to end with the real model: a cache
//! file whose bytes were changed is noticed, computed again and replaced, and the
//! answer is the one an intact cache gives.

mod common;

use std::path::{Path, PathBuf};

const REQUESTS: [&str; 2] = ["count lines in main.rs", "files larger than 100MB"];

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Overwrites bytes in the middle of the tensor data, past the safetensors header:
/// the file still parses, only the keys and values change.
fn overwrite_values(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read cache file");
    let header: [u8; 8] = bytes[..8].try_into().expect("header length");
    let data = 8 + u64::from_le_bytes(header) as usize;
    let mid = data + (bytes.len() - data) / 2;
    bytes[mid..mid + 4096].fill(0x42);
    std::fs::write(path, bytes).expect("write cache file");
}

#[test]
fn a_changed_cache_file_gives_the_same_answers_as_an_intact_one() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = common::Sandbox::with_model(&model);
    let cache = sb.dir.path().join("prefix");
    let sb = sb.env("CARO_PREFIX_CACHE", cache.to_str().expect("utf-8 path"));
    let ask = |request: &str| {
        let o = sb.run(&["--no-daemon", request]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        (common::stdout(&o), common::stderr(&o))
    };

    let intact: Vec<String> = REQUESTS.iter().map(|r| ask(r).0).collect();
    let files = cache_files(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let stored = std::fs::read(file).expect("read cache file");

    overwrite_values(file);
    let (answer, stderr) = ask(REQUESTS[0]);
    assert_eq!(answer, intact[0]);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("prefix cache"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning expected:\n{stderr}");
    assert_eq!(
        std::fs::read(file).expect("read cache file"),
        stored,
        "the file is replaced by the same values"
    );

    // The replaced file is used again silently.
    let (answer, stderr) = ask(REQUESTS[1]);
    assert_eq!(answer, intact[1]);
    assert!(!stderr.contains("prefix cache"), "{stderr}");
}
