//! Runs a command inside bubblewrap: no network, the system read-only, no capabilities,
//! a private /tmp and home, one given directory the only writable place, and a time
//! limit. Nothing is ever run outside the sandbox.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The sandbox's home directory.
pub const HOME: &str = "/home/user";
/// Where the writable directory appears inside the sandbox; also the working directory.
pub const WORKDIR: &str = "/home/user/work";
/// Stdout kept per run; the rest is read and dropped so the command is not blocked.
const STDOUT_CAP: usize = 1 << 20;

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

/// What a command printed, and whether it was stopped at the time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Raw stdout, at most 1 MiB of it.
    pub stdout: Vec<u8>,
    pub timed_out: bool,
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

    /// Runs `command` with bash, `workdir` mounted writable at [`WORKDIR`].
    pub fn run(&self, workdir: &Path, command: &str) -> Result<Run, SandboxError> {
        let secs = self.limit.as_secs().max(1).to_string();
        let mut child = Command::new(&self.bwrap)
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
            .args(["--tmpfs", "/tmp", "--tmpfs", "/home", "--tmpfs", "/root"])
            .args(["--dir", HOME, "--bind"])
            .arg(workdir)
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
            .map_err(SandboxError::Spawn)?;
        let start = Instant::now();
        let mut stdout = Vec::new();
        if let Some(mut pipe) = child.stdout.take() {
            let mut buf = [0u8; 65_536];
            // `timeout` inside ends the command; the pipe closes when it exits.
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = STDOUT_CAP.saturating_sub(stdout.len());
                stdout.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        let status = child.wait().map_err(SandboxError::Wait)?;
        // bwrap itself failing (not the command) shows as 1 with no time spent; the
        // command's 124 means it hit the limit.
        let timed_out = status.code() == Some(124) || start.elapsed() > self.limit;
        Ok(Run { stdout, timed_out })
    }
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
