//! The directory every command runs in: a small, deterministic tree with the variety
//! requests ask about (extensions, sizes up to a sparse 120 MB file, hidden files,
//! nested directories, modes 600/644/700/755/777, ages from an hour to a year). It is
//! built afresh from this description for every run, so no run sees another's changes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

const HOUR: f64 = 1.0 / 24.0;

/// File contents, generated from the path so they never change between builds.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// Text lines made of a small vocabulary (grep, wc and sort have something to do).
    Text { lines: usize },
    /// Random-looking bytes.
    Binary { size: u64 },
    /// A hole: the size is real, the disk blocks are not.
    Sparse { size: u64 },
    /// Exact bytes.
    Literal(&'static str),
    /// A valid gzip stream of `Text { lines }`.
    Gzip { lines: usize },
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Dir,
    File(Content),
    Symlink(&'static str),
}

struct Entry {
    path: &'static str,
    kind: Kind,
    mode: u32,
    age_days: f64,
}

const fn dir(path: &'static str, mode: u32, age_days: f64) -> Entry {
    Entry {
        path,
        kind: Kind::Dir,
        mode,
        age_days,
    }
}

const fn file(path: &'static str, content: Content, mode: u32, age_days: f64) -> Entry {
    Entry {
        path,
        kind: Kind::File(content),
        mode,
        age_days,
    }
}

use Content::{Binary, Gzip, Literal, Sparse, Text};

/// Parents come before their children.
const ENTRIES: &[Entry] = &[
    file("README.md", Text { lines: 30 }, 0o644, 3.0),
    file("notes.txt", Text { lines: 20 }, 0o644, HOUR),
    file("todo.txt", Text { lines: 8 }, 0o600, 10.0),
    file("file", Text { lines: 12 }, 0o644, 2.0),
    file("a", Literal("alpha\n"), 0o644, 40.0),
    file("empty.txt", Literal(""), 0o644, 1.0),
    file("data.csv", Text { lines: 50 }, 0o644, 2.0),
    file("report.pdf", Binary { size: 300_000 }, 0o644, 100.0),
    file("photo.jpg", Binary { size: 120_000 }, 0o644, 400.0),
    file("image.png", Binary { size: 80_000 }, 0o644, 5.0),
    file("song.mp3", Binary { size: 1_500_000 }, 0o644, 60.0),
    file("disk.img", Sparse { size: 120 << 20 }, 0o600, 20.0),
    file("core", Binary { size: 700_000 }, 0o600, 30.0),
    file("run.sh", Literal("#!/bin/sh\necho running\n"), 0o755, 3.0),
    file(
        "build.sh",
        Literal("#!/bin/sh\nset -e\necho building\n"),
        0o755,
        15.0,
    ),
    file("setup.py", Text { lines: 25 }, 0o644, 8.0),
    file("index.html", Text { lines: 40 }, 0o644, 2.0),
    file(
        "config.json",
        Literal("{\"debug\": true, \"port\": 8080}\n"),
        0o644,
        12.0,
    ),
    file(".bashrc", Literal("alias ll='ls -l'\n"), 0o644, 200.0),
    file(".env", Literal("DEBUG=1\n"), 0o600, 7.0),
    Entry {
        path: "latest.txt",
        kind: Kind::Symlink("notes.txt"),
        mode: 0o777,
        age_days: 1.0,
    },
    dir(".hidden", 0o700, 50.0),
    file(".hidden/secret.txt", Text { lines: 3 }, 0o600, 50.0),
    dir("src", 0o755, 1.0),
    file("src/main.py", Text { lines: 60 }, 0o644, HOUR * 3.0),
    file("src/util.py", Text { lines: 35 }, 0o644, 9.0),
    file("src/app.js", Text { lines: 45 }, 0o644, 4.0),
    file("src/index.php", Text { lines: 28 }, 0o644, 33.0),
    file("src/Main.java", Text { lines: 22 }, 0o644, 70.0),
    dir("src/lib", 0o755, 6.0),
    file(
        "src/lib/helper.sh",
        Literal("#!/bin/bash\necho helping\n"),
        0o755,
        6.0,
    ),
    file("src/lib/module.c", Text { lines: 50 }, 0o644, 90.0),
    file("src/lib/module.h", Text { lines: 10 }, 0o644, 90.0),
    dir("logs", 0o755, HOUR),
    file("logs/app.log", Text { lines: 400 }, 0o644, HOUR),
    file("logs/error.log", Text { lines: 60 }, 0o644, 2.0),
    file("logs/old.log", Text { lines: 900 }, 0o644, 90.0),
    file("logs/archive.log.gz", Gzip { lines: 200 }, 0o644, 120.0),
    dir("tmp", 0o777, 0.5),
    file("tmp/cache.tmp", Binary { size: 4_096 }, 0o644, 10.0),
    file("tmp/session.tmp", Literal("id=42\n"), 0o600, 0.1),
    file("tmp/old.tmp", Binary { size: 50_000 }, 0o644, 50.0),
    dir("docs", 0o755, 20.0),
    file("docs/guide.txt", Text { lines: 120 }, 0o644, 20.0),
    file("docs/manual.html", Text { lines: 80 }, 0o644, 45.0),
    file("docs/new", Text { lines: 5 }, 0o644, 1.0),
    dir("backup", 0o755, 30.0),
    file("backup/data.csv.bak", Text { lines: 45 }, 0o644, 30.0),
    file("backup/config.xml", Text { lines: 15 }, 0o644, 31.0),
    dir("test", 0o755, 4.0),
    file("test/test_main.py", Text { lines: 30 }, 0o644, 4.0),
    dir("empty_dir", 0o755, 25.0),
];

const WORDS: &[&str] = &[
    "error", "info", "warning", "TODO", "linux", "foo", "bar", "hello", "world", "data", "user",
    "admin", "server", "request", "value", "test", "file", "debug", "alpha", "beta",
];

/// The fixture, with ages measured back from `base`.
pub struct Fixture {
    base: SystemTime,
}

impl Fixture {
    /// Ages count back from `base`, taken once per evaluation so that the reference and
    /// the generated command see identical trees.
    pub fn new(base: SystemTime) -> Self {
        Self { base }
    }

    /// Creates the tree under `root` (which must not exist yet).
    pub fn build(&self, root: &Path) -> io::Result<()> {
        std::fs::create_dir(root)?;
        for e in ENTRIES {
            let p = root.join(e.path);
            match e.kind {
                Kind::Dir => std::fs::create_dir(&p)?,
                Kind::File(c) => write_content(&p, e.path, c)?,
                Kind::Symlink(target) => std::os::unix::fs::symlink(target, &p)?,
            }
        }
        // Files first, then directories deepest first: writing into a directory would
        // change its time and a 0o700 parent must still be writable while filled.
        for e in ENTRIES.iter().filter(|e| matches!(e.kind, Kind::File(_))) {
            self.finish(&root.join(e.path), e)?;
        }
        let mut dirs: Vec<&Entry> = ENTRIES
            .iter()
            .filter(|e| matches!(e.kind, Kind::Dir))
            .collect();
        dirs.sort_by_key(|e| std::cmp::Reverse(e.path.matches('/').count()));
        for e in dirs {
            self.finish(&root.join(e.path), e)?;
        }
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
        set_times(root, self.time(1.0))
    }

    fn finish(&self, p: &Path, e: &Entry) -> io::Result<()> {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(e.mode))?;
        set_times(p, self.time(e.age_days))
    }

    fn time(&self, age_days: f64) -> SystemTime {
        self.base
            .checked_sub(Duration::from_secs_f64(age_days * 86_400.0))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// Files whose time is after this were written by the command under test.
    pub fn touched_after(&self) -> SystemTime {
        self.time(HOUR / 2.0)
    }
}

/// Access and modification time alike, so `-atime` and `-mtime` tests both have ages.
fn set_times(p: &Path, t: SystemTime) -> io::Result<()> {
    let times = std::fs::FileTimes::new().set_accessed(t).set_modified(t);
    std::fs::File::open(p)?.set_times(times)
}

fn write_content(p: &Path, path: &str, c: Content) -> io::Result<()> {
    let mut f = std::fs::File::create(p)?;
    match c {
        Text { lines } => f.write_all(text(path, lines).as_bytes()),
        Binary { size } => {
            let mut rng = Lcg::new(path);
            let bytes: Vec<u8> = (0..size).map(|_| (rng.next() >> 24) as u8).collect();
            f.write_all(&bytes)
        }
        Sparse { size } => f.set_len(size),
        Literal(s) => f.write_all(s.as_bytes()),
        Gzip { lines } => f.write_all(&gzip_stored(text(path, lines).as_bytes())),
    }
}

fn text(path: &str, lines: usize) -> String {
    let mut rng = Lcg::new(path);
    let mut out = String::new();
    for i in 0..lines {
        let n = 3 + (rng.next() % 6) as usize;
        let words: Vec<&str> = (0..n)
            .map(|_| WORDS[(rng.next() % WORDS.len() as u64) as usize])
            .collect();
        out.push_str(&format!("{} {}\n", words.join(" "), (i * 7) % 97));
    }
    out
}

/// A tiny deterministic generator seeded from the path.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: &str) -> Self {
        Self(fnv1a(seed.as_bytes()))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// gzip with "stored" (uncompressed) deflate blocks: valid for gunzip and zcat without
/// pulling in a compression library.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    if chunks.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One entry of a tree after a command ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// `d`, `f`, `l` or `?`.
    pub kind: char,
    pub mode: u32,
    pub size: u64,
    /// Content hash of regular files up to 4 MB, the target of links.
    pub digest: u64,
    /// Written by the command (its time is newer than any fixture time).
    pub touched: bool,
}

pub type Tree = BTreeMap<String, State>;

/// Entries of `root` by relative path; a bounded walk (commands may create many files).
/// Files newer than `touched_after` are marked touched; names in `skip_top` directly
/// under `root` are left out (mount points the sandbox made).
pub fn snapshot(root: &Path, touched_after: Option<SystemTime>, skip_top: &[&str]) -> Tree {
    let mut tree = Tree::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            if tree.len() >= 5_000 {
                return tree;
            }
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = p
                .strip_prefix(root)
                .map(|r| r.display().to_string())
                .unwrap_or_default();
            if dir == root && skip_top.contains(&rel.as_str()) {
                continue;
            }
            let ft = m.file_type();
            let (kind, digest) = if ft.is_dir() {
                stack.push(p.clone());
                ('d', 0)
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&p).unwrap_or_default();
                ('l', fnv1a(target.as_os_str().as_encoded_bytes()))
            } else if ft.is_file() {
                let digest = if m.len() <= 4 << 20 {
                    std::fs::read(&p).map_or(0, |b| fnv1a(&b))
                } else {
                    m.blocks()
                };
                ('f', digest)
            } else {
                ('?', 0)
            };
            let touched = ft.is_file()
                && touched_after.is_some_and(|after| m.modified().is_ok_and(|t| t > after));
            tree.insert(
                rel,
                State {
                    kind,
                    mode: m.mode() & 0o7777,
                    size: if ft.is_file() { m.len() } else { 0 },
                    digest,
                    touched,
                },
            );
        }
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_identically_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = SystemTime::now();
        let fx = Fixture::new(base);
        fx.build(&dir.path().join("a")).expect("build a");
        fx.build(&dir.path().join("b")).expect("build b");
        let a = snapshot(&dir.path().join("a"), Some(fx.touched_after()), &[]);
        let b = snapshot(&dir.path().join("b"), Some(fx.touched_after()), &[]);
        assert_eq!(a, b);
        assert_eq!(a.len(), ENTRIES.len());
        assert!(a.values().all(|s| !s.touched));
        assert_eq!(a["disk.img"].size, 120 << 20);
        assert_eq!(a[".hidden"].mode, 0o700);
        assert_eq!(a["run.sh"].mode, 0o755);
    }

    #[test]
    fn ages_are_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = SystemTime::now();
        Fixture::new(base)
            .build(&dir.path().join("f"))
            .expect("build");
        let m = std::fs::metadata(dir.path().join("f/photo.jpg")).expect("meta");
        let age = base
            .duration_since(m.modified().expect("mtime"))
            .expect("in the past");
        assert!((age.as_secs_f64() / 86_400.0 - 400.0).abs() < 0.01);
    }

    #[test]
    fn gzip_is_valid() {
        let data = text("x", 50);
        let gz = gzip_stored(data.as_bytes());
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
