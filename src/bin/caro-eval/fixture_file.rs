//! A fixture tree described as data (`fixtures/NAME.json` beside a case file, the format
//! of `alfa-dev/README.md`): absolute paths such as `/testbed` or `/home/user`, with the
//! working directory, home and environment to run in. It is built under a host
//! directory that the sandbox then shows as `/`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::fixture::Lcg;

/// One file tree, as the JSON file gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub name: String,
    #[serde(default = "root")]
    pub cwd: String,
    #[serde(default = "root_home")]
    pub home: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub entries: Vec<Entry>,
}

fn root() -> String {
    "/".into()
}

fn root_home() -> String {
    "/root".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Octal, `0o644` or `644`.
    pub mode: Option<String>,
    pub text: Option<String>,
    pub b64: Option<String>,
    pub size: Option<u64>,
    pub fill: Option<String>,
    pub target: Option<String>,
    /// Seconds since the epoch.
    pub mtime: Option<i64>,
    /// Seconds relative to the evaluation's start (negative: in the past).
    pub mtime_rel: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

impl Spec {
    /// Reads and checks `path`: every entry absolute, not inside what the sandbox
    /// mounts over the tree (`/usr`, `/proc`, …), with a valid mode.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read fixture {}: {e}", path.display()))?;
        let spec: Spec = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a fixture: {e}", path.display()))?;
        spec.check()
            .map_err(|e| format!("fixture {}: {e}", path.display()))?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), String> {
        for p in [&self.cwd, &self.home] {
            if !p.starts_with('/') {
                return Err(format!("{p:?} is not absolute"));
            }
        }
        for e in &self.entries {
            let rel = relative(&e.path).ok_or(format!("{:?} is not absolute", e.path))?;
            let top = format!("/{}", rel.split('/').next().unwrap_or_default());
            if caro::sandbox::SYSTEM_DIRS.contains(&top.as_str())
                || caro::sandbox::MOUNTED.contains(&top.as_str())
            {
                return Err(format!(
                    "{} lies under {top}, which the sandbox mounts",
                    e.path
                ));
            }
            if let Some(m) = &e.mode {
                parse_mode(m).ok_or(format!("{}: bad mode {m:?}", e.path))?;
            }
            if e.kind == Kind::Symlink && e.target.is_none() {
                return Err(format!("{}: a link without a target", e.path));
            }
        }
        Ok(())
    }

    /// Creates the tree under `root` (which must not exist yet), times counted from
    /// `base`, with the working directory and home present even where no entry names
    /// them. Directory modes and times are set after their contents.
    pub fn build(&self, root: &Path, base: SystemTime) -> io::Result<()> {
        std::fs::create_dir(root)?;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
        for d in [&self.cwd, &self.home] {
            std::fs::create_dir_all(root.join(relative(d).unwrap_or_default()))?;
        }
        let at = |e: &Entry| root.join(relative(&e.path).unwrap_or_default());
        for e in &self.entries {
            let p = at(e);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            match e.kind {
                Kind::Dir => std::fs::create_dir_all(&p)?,
                Kind::File => write_content(&p, e)?,
                Kind::Symlink => {
                    std::os::unix::fs::symlink(e.target.as_deref().unwrap_or_default(), &p)?
                }
            }
        }
        for e in self.entries.iter().filter(|e| e.kind == Kind::File) {
            finish(&at(e), e, base)?;
        }
        let mut dirs: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.kind == Kind::Dir)
            .collect();
        dirs.sort_by_key(|e| std::cmp::Reverse(e.path.trim_end_matches('/').matches('/').count()));
        for e in dirs {
            finish(&at(e), e, base)?;
        }
        Ok(())
    }

    /// The environment to run in: `HOME` and the fixture's own variables.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("HOME".to_owned(), self.home.clone())];
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// `/a/b` as `a/b`; `None` for a relative path.
fn relative(p: &str) -> Option<&str> {
    p.strip_prefix('/').map(|r| r.trim_end_matches('/'))
}

fn parse_mode(m: &str) -> Option<u32> {
    let digits = m.strip_prefix("0o").unwrap_or(m);
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

fn write_content(p: &Path, e: &Entry) -> io::Result<()> {
    let mut f = std::fs::File::create(p)?;
    if let Some(text) = &e.text {
        return f.write_all(text.as_bytes());
    }
    if let Some(b64) = &e.b64 {
        let bytes = base64(b64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: bad base64", e.path),
            )
        })?;
        return f.write_all(&bytes);
    }
    let size = e.size.unwrap_or(0) as usize;
    let bytes: Vec<u8> = match e.fill.as_deref() {
        Some("random") => {
            let mut rng = Lcg::new(&e.path);
            (0..size).map(|_| (rng.next() >> 24) as u8).collect()
        }
        Some("text") => b"0123456789abcdef"
            .iter()
            .copied()
            .cycle()
            .take(size)
            .collect(),
        _ => vec![0; size],
    };
    f.write_all(&bytes)
}

/// Standard base64 (padding optional, blanks ignored); `None` on any other byte.
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Mode, then access and modification time alike (`-atime` and `-mtime` agree).
fn finish(p: &Path, e: &Entry, base: SystemTime) -> io::Result<()> {
    if let Some(mode) = e.mode.as_deref().and_then(parse_mode) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))?;
    }
    let Some(t) = time(e, base) else {
        return Ok(());
    };
    let times = std::fs::FileTimes::new().set_accessed(t).set_modified(t);
    // A directory is opened read-only; one without read permission cannot be opened
    // by a non-root user, so its time then stays as it is.
    match std::fs::File::open(p) {
        Ok(f) => f.set_times(times),
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        Err(err) => Err(err),
    }
}

fn time(e: &Entry, base: SystemTime) -> Option<SystemTime> {
    let shift = |t: SystemTime, secs: i64| {
        let d = Duration::from_secs(secs.unsigned_abs());
        if secs < 0 {
            t.checked_sub(d)
        } else {
            t.checked_add(d)
        }
    };
    match (e.mtime, e.mtime_rel) {
        (Some(abs), _) => shift(SystemTime::UNIX_EPOCH, abs),
        (None, Some(rel)) => shift(base, rel),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;

    /// The host-side path of a sandbox path (`/testbed` → `root/testbed`).
    fn host_path(root: &Path, path: &str) -> PathBuf {
        root.join(relative(path).unwrap_or(path))
    }

    const SPEC: &str = r#"{
        "name": "t", "cwd": "/work/here", "home": "/home/u", "env": {"FILES": "a b"},
        "entries": [
            {"path": "/work", "type": "dir", "mode": "0o555", "mtime": 1600000000},
            {"path": "/work/a.txt", "type": "file", "mode": "0o600", "text": "hi\n",
             "mtime_rel": -86400},
            {"path": "/work/b.bin", "type": "file", "mode": "0o755", "b64": "AAEC"},
            {"path": "/work/r.dat", "type": "file", "mode": "0o644", "size": 1000,
             "fill": "random", "mtime_rel": 0},
            {"path": "/work/t.dat", "type": "file", "mode": "0o644", "size": 20,
             "fill": "text"},
            {"path": "/work/z.dat", "type": "file", "mode": "0o644", "size": 5},
            {"path": "/work/link", "type": "symlink", "target": "a.txt"}
        ]}"#;

    #[test]
    fn builds_modes_contents_links_and_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec: Spec = serde_json::from_str(SPEC).expect("parse");
        spec.check().expect("valid");
        let base = SystemTime::now();
        let root = dir.path().join("r");
        spec.build(&root, base).expect("build");
        let meta = |p: &str| std::fs::symlink_metadata(host_path(&root, p)).expect(p);
        // Checked before anything reads the file (a read may move its access time).
        assert_eq!(meta("/work/a.txt").atime(), meta("/work/a.txt").mtime());
        assert_eq!(meta("/work").mode() & 0o7777, 0o555);
        assert_eq!(meta("/work/a.txt").mode() & 0o7777, 0o600);
        assert_eq!(meta("/work/b.bin").mode() & 0o7777, 0o755);
        assert_eq!(std::fs::read(root.join("work/a.txt")).expect("a"), b"hi\n");
        assert_eq!(
            std::fs::read(root.join("work/b.bin")).expect("b"),
            [0, 1, 2]
        );
        assert_eq!(
            std::fs::read(root.join("work/t.dat")).expect("t"),
            b"0123456789abcdef0123"
        );
        assert_eq!(std::fs::read(root.join("work/z.dat")).expect("z"), [0; 5]);
        let random = std::fs::read(root.join("work/r.dat")).expect("r");
        assert_eq!(random.len(), 1000);
        assert!(random.iter().filter(|b| **b == 0).count() < 50);
        assert_eq!(
            std::fs::read_link(root.join("work/link")).expect("link"),
            Path::new("a.txt")
        );
        // mtime_rel counts from the base, mtime is absolute; a directory's time is set
        // after its files were written.
        let age = base
            .duration_since(meta("/work/a.txt").modified().expect("mtime"))
            .expect("past");
        assert!((age.as_secs_f64() - 86_400.0).abs() < 1.0, "{age:?}");
        assert_eq!(meta("/work").mtime(), 1_600_000_000);
        // The working directory and home exist though no entry names them.
        assert!(root.join("home/u").is_dir());
        assert!(root.join("work/here").is_dir());
        assert!(spec.env().contains(&("HOME".into(), "/home/u".into())));

        // Random contents depend on the path only.
        let again = dir.path().join("s");
        spec.build(&again, base).expect("build again");
        assert_eq!(std::fs::read(again.join("work/r.dat")).expect("r"), random);
        crate::equivalence::remove_tree(dir.path());
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64("").as_deref(), Some(&b""[..]));
        assert!(base64("a*b").is_none());
    }

    #[test]
    fn rejects_bad_entries() {
        let bad = |entry: &str| {
            let text = format!(r#"{{"entries": [{entry}]}}"#);
            serde_json::from_str::<Spec>(&text)
                .expect("parse")
                .check()
                .is_err()
        };
        assert!(bad(r#"{"path": "rel", "type": "dir"}"#));
        assert!(bad(r#"{"path": "/usr/x", "type": "dir"}"#));
        assert!(bad(r#"{"path": "/a", "type": "file", "mode": "0o999"}"#));
        assert!(bad(r#"{"path": "/a", "type": "symlink"}"#));
        assert!(!bad(r#"{"path": "/a", "type": "file", "mode": "644"}"#));
    }
}
