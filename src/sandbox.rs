//! Runs a command inside bubblewrap: no network, no capabilities, a time limit, and a
//! file system the caller lays out ([`Layout`]): the host's read-only underneath with one
//! writable work directory ([`Sandbox::run`]), or only the host's system directories,
//! read-only, with host directories of the caller's choosing bound at given paths
//! ([`Sandbox::run_in`]). Nothing is ever run outside the sandbox.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The sandbox's home directory in [`Layout::workdir`].
pub const HOME: &str = "/home/user";
/// Where the writable directory appears in [`Layout::workdir`]; also the working directory.
pub const WORKDIR: &str = "/home/user/work";
/// The host directories a [`Base::System`] layout shows read-only, where they exist.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];
/// What a [`Base::System`] layout mounts after the binds: [`SYSTEM_DIRS`] and these. A
/// bind at `/` gets an (empty) mount point for each of them.
pub const MOUNTED: &[&str] = &["/dev", "/proc", "/tmp"];
/// The `PATH` inside, unless the layout's environment sets one.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
/// Stdout kept per run; the rest is read and dropped so the command is not blocked.
const STDOUT_CAP: usize = 1 << 20;
/// Stderr kept per run: enough for the messages, never a flood.
const STDERR_CAP: usize = 1 << 16;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("bubblewrap (bwrap) is not installed; apt-get install bubblewrap")]
    NotInstalled,
    #[error("bubblewrap cannot create a sandbox here: {0}")]
    Unusable(Box<SandboxError>),
    #[error("bubblewrap ran but gave unexpected output {0:?}")]
    UnexpectedOutput(String),
    #[error("cannot start bwrap: {0}")]
    Spawn(std::io::Error),
    #[error("bwrap: {0}")]
    Wait(std::io::Error),
}

/// What a command printed, how it ended, and whether it was stopped at the time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Raw stdout, at most 1 MiB of it.
    pub stdout: Vec<u8>,
    /// Raw stderr, at most 64 KiB of it.
    pub stderr: Vec<u8>,
    /// The shell's exit status (`None` when killed by a signal).
    pub status: Option<i32>,
    pub timed_out: bool,
}

/// What the sandbox's file system is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The whole host file system read-only, with empty `/tmp`, `/home` and `/root`
    /// and a [`HOME`] directory; binds come after (their mount points must lie in
    /// those empty directories or exist on the host).
    Host,
    /// An empty root with only [`SYSTEM_DIRS`] read-only, fresh `/dev` and `/proc`
    /// and an empty `/tmp`, mounted after the binds (so that a bind may be at `/`).
    System,
}

/// A host path shown inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: PathBuf,
    /// Where it appears inside (absolute).
    pub path: PathBuf,
    pub writable: bool,
}

/// The file system, working directory and environment of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub base: Base,
    /// Mounted in order, so a later one may lie inside an earlier one.
    pub binds: Vec<Bind>,
    pub cwd: PathBuf,
    /// The whole environment besides `PATH`, `LANG=C.UTF-8` and `TZ=UTC` (which these
    /// override when they name them); nothing is inherited.
    pub env: Vec<(String, String)>,
}

impl Layout {
    /// The host read-only, `workdir` writable at [`WORKDIR`] and the working directory,
    /// `HOME` [`HOME`] and `USER` user: what [`Sandbox::run`] uses.
    pub fn workdir(workdir: &Path) -> Self {
        Self {
            base: Base::Host,
            binds: vec![Bind {
                host: workdir.to_owned(),
                path: PathBuf::from(WORKDIR),
                writable: true,
            }],
            cwd: PathBuf::from(WORKDIR),
            env: vec![("HOME".into(), HOME.into()), ("USER".into(), "user".into())],
        }
    }

    /// Only the system directories read-only, and `root` writable as `/` itself: a
    /// whole file tree (e.g. a fixture with `/testbed`, `/workspace`) at its own paths.
    pub fn tree(root: &Path, cwd: PathBuf, env: Vec<(String, String)>) -> Self {
        Self {
            base: Base::System,
            binds: vec![Bind {
                host: root.to_owned(),
                path: PathBuf::from("/"),
                writable: true,
            }],
            cwd,
            env,
        }
    }

    /// bwrap's arguments for this layout (before the command).
    fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |xs: &[&OsStr]| a.extend(xs.iter().map(|x| x.to_os_string()));
        let s = |x: &'static str| OsStr::new(x);
        let binds = |push: &mut dyn FnMut(&[&OsStr])| {
            for b in &self.binds {
                let flag = if b.writable { "--bind" } else { "--ro-bind" };
                push(&[s(flag), b.host.as_os_str(), b.path.as_os_str()]);
            }
        };
        match self.base {
            Base::Host => {
                push(&[s("--ro-bind"), s("/"), s("/")]);
                push(&[s("--dev"), s("/dev"), s("--proc"), s("/proc")]);
                push(&[s("--tmpfs"), s("/tmp"), s("--tmpfs"), s("/home")]);
                push(&[s("--tmpfs"), s("/root"), s("--dir"), s(HOME)]);
                binds(&mut push);
            }
            Base::System => {
                binds(&mut push);
                for d in SYSTEM_DIRS {
                    let p = Path::new(d);
                    match std::fs::read_link(p) {
                        Ok(target) => push(&[s("--symlink"), target.as_os_str(), s(d)]),
                        Err(_) if p.is_dir() => push(&[s("--ro-bind"), s(d), s(d)]),
                        Err(_) => {}
                    }
                }
                push(&[s("--dev"), s("/dev"), s("--proc"), s("/proc")]);
                push(&[s("--tmpfs"), s("/tmp")]);
            }
        }
        push(&[s("--chdir"), self.cwd.as_os_str()]);
        push(&[s("--clearenv")]);
        let mut env: Vec<(&str, &str)> = vec![("PATH", PATH), ("LANG", "C.UTF-8"), ("TZ", "UTC")];
        for (k, v) in &self.env {
            env.retain(|(name, _)| name != k);
            env.push((k, v));
        }
        for (k, v) in env {
            push(&[s("--setenv"), OsStr::new(k), OsStr::new(v)]);
        }
        a
    }
}

#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    limit: Duration,
}

impl Sandbox {
    /// Finds bwrap and checks once, with `workdir` as the writable directory, that it
    /// can create its namespaces here; the error says why sandboxing is unavailable.
    pub fn probe(limit: Duration, workdir: &Path) -> Result<Self, SandboxError> {
        let bwrap = find_on_path("bwrap").ok_or(SandboxError::NotInstalled)?;
        let sb = Self { bwrap, limit };
        match sb.run(workdir, "echo ok") {
            Ok(r) if r.stdout == b"ok\n" => Ok(sb),
            Ok(r) => Err(SandboxError::UnexpectedOutput(
                String::from_utf8_lossy(&r.stdout).into_owned(),
            )),
            Err(e) => Err(SandboxError::Unusable(Box::new(e))),
        }
    }

    /// Runs `command` with bash, `workdir` mounted writable at [`WORKDIR`]
    /// ([`Layout::workdir`]).
    pub fn run(&self, workdir: &Path, command: &str) -> Result<Run, SandboxError> {
        self.run_in(&Layout::workdir(workdir), command)
    }

    /// Runs `command` with bash in `layout`.
    pub fn run_in(&self, layout: &Layout, command: &str) -> Result<Run, SandboxError> {
        // `timeout` takes fractions of a second.
        let secs = format!("{:.3}", self.limit.as_secs_f64().max(0.001));
        let mut child = Command::new(&self.bwrap)
            .args(layout.args())
            .args([
                "--unshare-net",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
            ])
            .args(["--new-session", "--die-with-parent", "--cap-drop", "ALL"])
            .args(["timeout", "-k", "1", &secs, "bash", "-c", command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SandboxError::Spawn)?;
        let start = Instant::now();
        // Read on its own thread, so a command that fills one pipe never blocks on it
        // while the other is being read.
        let stderr = child
            .stderr
            .take()
            .map(|pipe| std::thread::spawn(move || read_capped(pipe, STDERR_CAP)));
        // `timeout` inside ends the command; the pipes close when it exits.
        let stdout = child
            .stdout
            .take()
            .map_or_else(Vec::new, |pipe| read_capped(pipe, STDOUT_CAP));
        let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        let status = child.wait().map_err(SandboxError::Wait)?;
        // bwrap itself failing (not the command) shows as 1 with no time spent; the
        // command's 124 means it hit the limit.
        let timed_out = status.code() == Some(124) || start.elapsed() > self.limit;
        Ok(Run {
            stdout,
            stderr,
            status: status.code(),
            timed_out,
        })
    }
}

/// Everything `pipe` gives until it closes, keeping the first `cap` bytes.
fn read_capped(mut pipe: impl Read, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sandbox, or `None` (after printing why) where bubblewrap cannot run.
    fn sandbox(limit: Duration, dir: &Path) -> Option<Sandbox> {
        match Sandbox::probe(limit, dir) {
            Ok(sb) => Some(sb),
            Err(e) => {
                eprintln!("SKIPPED: {e}");
                None
            }
        }
    }

    #[test]
    fn only_the_work_directory_is_writable() {
        // Not under /tmp, which the sandbox replaces with its own: a path that exists
        // on both sides, so a write that escaped would show.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
        let Some(sb) = sandbox(Duration::from_secs(5), dir.path()) else {
            return;
        };
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        let work = dir.path().join("work");
        std::fs::create_dir(&work).expect("mkdir");
        let script = format!(
            "touch inside; touch {}/escaped; echo \"$PWD $HOME\"",
            outside.display()
        );
        let r = sb.run(&work, &script).expect("run");
        assert_eq!(
            String::from_utf8_lossy(&r.stdout),
            format!("{WORKDIR} {HOME}\n")
        );
        assert!(!r.timed_out);
        assert!(work.join("inside").is_file());
        assert!(!outside.join("escaped").exists());
    }

    #[test]
    fn a_system_layout_shows_binds_at_their_paths_with_cwd_and_env() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
        let Some(sb) = sandbox(Duration::from_secs(5), dir.path()) else {
            return;
        };
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("testbed")).expect("mkdir");
        std::fs::write(root.join("testbed/a.txt"), "hello\n").expect("write");
        let layout = Layout::tree(
            &root,
            PathBuf::from("/testbed"),
            vec![("HOME".into(), "/testbed".into()), ("X".into(), "1".into())],
        );
        let script = "cat a.txt; echo \"$PWD $HOME $X\"; touch /new; \
                      touch /usr/x 2>/dev/null || echo ro; exit 3";
        let r = sb.run_in(&layout, script).expect("run");
        assert_eq!(
            String::from_utf8_lossy(&r.stdout),
            "hello\n/testbed /testbed 1\nro\n"
        );
        assert_eq!(r.status, Some(3));
        assert!(root.join("new").is_file());
        assert!(!Path::new("/usr/x").exists());
    }

    #[test]
    fn a_command_past_the_limit_is_stopped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let Some(sb) = sandbox(Duration::from_secs(1), dir.path()) else {
            return;
        };
        let start = Instant::now();
        let r = sb.run(dir.path(), "echo started; sleep 30").expect("run");
        assert!(r.timed_out);
        assert_eq!(r.stdout, b"started\n");
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
