//! Runs a command in a fresh copy of the fixture inside bubblewrap: no network, the
//! system read-only, no capabilities, a private /tmp and home, the fixture the only
//! writable place, and a time limit. Nothing is ever run outside the sandbox.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::fixture::{Fixture, Tree, snapshot};

/// Where the fixture appears inside the sandbox; also the working directory.
pub const WORKDIR: &str = "/home/user/work";
pub const HOME: &str = "/home/user";
/// Stdout kept per run; the rest is read and dropped so the command is not blocked.
const STDOUT_CAP: usize = 1 << 20;

/// What a command did: its output and the tree it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Normalised, sorted stdout lines.
    pub stdout: Vec<String>,
    pub tree: Tree,
    pub timed_out: bool,
}

pub struct Sandbox {
    bwrap: PathBuf,
    scratch: PathBuf,
    limit: Duration,
    fixture: Fixture,
    runs: AtomicU64,
}

impl Sandbox {
    /// Finds bwrap and checks once that it can create its namespaces here; the error
    /// says why execution is unavailable.
    pub fn probe(limit: Duration, fixture: Fixture) -> Result<Self, String> {
        let bwrap = find_on_path("bwrap").ok_or_else(|| {
            "bubblewrap (bwrap) is not installed; apt-get install bubblewrap".to_owned()
        })?;
        let scratch = std::env::temp_dir().join(format!("caro-eval-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)
            .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
        let sb = Self {
            bwrap,
            scratch,
            limit,
            fixture,
            runs: AtomicU64::new(0),
        };
        match sb.run("echo ok") {
            Ok(o) if o.stdout == ["ok"] => Ok(sb),
            Ok(o) => Err(format!(
                "bubblewrap ran but gave unexpected output {:?}",
                o.stdout
            )),
            Err(e) => Err(format!("bubblewrap cannot create a sandbox here: {e}")),
        }
    }

    /// Builds a fresh fixture, runs `command` in it with bash, and snapshots the result.
    pub fn run(&self, command: &str) -> Result<Outcome, String> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        let root = self.scratch.join(format!("run-{n}"));
        self.fixture
            .build(&root)
            .map_err(|e| format!("cannot build the fixture: {e}"))?;
        let result = self.exec(&root, command);
        let tree = snapshot(&root, self.fixture.touched_after());
        remove_tree(&root);
        let (stdout, timed_out) = result?;
        Ok(Outcome {
            stdout: normalise_output(&stdout),
            tree,
            timed_out,
        })
    }

    fn exec(&self, root: &Path, command: &str) -> Result<(Vec<u8>, bool), String> {
        let secs = self.limit.as_secs().max(1).to_string();
        let mut child = Command::new(&self.bwrap)
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
            .args(["--tmpfs", "/tmp", "--tmpfs", "/home", "--tmpfs", "/root"])
            .args(["--dir", HOME, "--bind"])
            .arg(root)
            .args([WORKDIR, "--chdir", WORKDIR])
            .args([
                "--unshare-net",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
            ])
            .args(["--new-session", "--die-with-parent", "--cap-drop", "ALL"])
            .args([
                "--clearenv",
                "--setenv",
                "HOME",
                HOME,
                "--setenv",
                "USER",
                "user",
            ])
            .args([
                "--setenv",
                "PATH",
                "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            ])
            .args(["--setenv", "LANG", "C.UTF-8", "--setenv", "TZ", "UTC"])
            .args(["timeout", "-k", "1", &secs, "bash", "-c", command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start bwrap: {e}"))?;
        let start = Instant::now();
        let mut out = Vec::new();
        if let Some(mut pipe) = child.stdout.take() {
            let mut buf = [0u8; 65_536];
            // `timeout` inside ends the command; the pipe closes when it exits.
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = STDOUT_CAP.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        let status = child.wait().map_err(|e| format!("bwrap: {e}"))?;
        // bwrap itself failing (not the command) shows as 1 with no time spent; the
        // command's 124 means it hit the limit.
        let timed_out = status.code() == Some(124) || start.elapsed() > self.limit;
        Ok((out, timed_out))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        remove_tree(&self.scratch);
    }
}

/// Removes a tree even where a command left directories without write permission.
fn remove_tree(p: &Path) {
    if std::fs::remove_dir_all(p).is_ok() {
        return;
    }
    let mut stack = vec![p.to_owned()];
    while let Some(d) = stack.pop() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.filter_map(Result::ok) {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(p);
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Lines with the fixture's location written the same way (`./a`, `a`,
/// `/home/user/work/a` and `~/work/a` all become `a`), trailing blanks dropped, sorted.
pub fn normalise_output(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l
                .trim_end()
                .replace(&format!("{WORKDIR}/"), "")
                .replace("~/work/", "")
                .replace(WORKDIR, ".");
            l.split(' ')
                // `find ./` names its start "./", `find .` names it ".".
                .map(|w| {
                    if w == "./" {
                        "."
                    } else {
                        w.strip_prefix("./").unwrap_or(w)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_one_way() {
        let out = normalise_output(b"./b.txt\n/home/user/work/a.txt\n\nc  \n");
        assert_eq!(out, ["a.txt", "b.txt", "c"]);
        assert_eq!(normalise_output(b"/home/user/work\n"), ["."]);
        assert_eq!(normalise_output(b"./\n./a\n"), normalise_output(b".\na\n"));
    }
}
