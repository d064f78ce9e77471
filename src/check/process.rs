//! Running a helper program (`man -w`, `PROG --help`, `fish --no-execute`) with a time
//! limit, never through a shell.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a finished helper printed.
pub struct Output {
    /// None when it was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdin closed, killing it (and anything it started) after `limit`.
/// None when it could not start or had to be killed: no answer is no table.
pub fn run(mut cmd: Command, limit: Duration) -> Option<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a kill reaches anything it started as well.
        .process_group(0);
    let mut child = cmd.spawn().ok()?;
    let pid = child.id() as libc::pid_t;
    // Readers on threads: a helper printing more than a pipe holds would otherwise
    // block forever waiting for us.
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        reader(out, Stream::Out, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        reader(err, Stream::Err, tx);
    }
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        kill_group(pid);
        let _ = child.wait();
        return None;
    };
    let mut output = Output {
        code: status.code(),
        stdout: String::new(),
        stderr: String::new(),
    };
    // Both pipes close when the helper exits, unless something it started still
    // holds them: that one gets what is left of the time limit, then is killed.
    for _ in 0..2 {
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(50);
        match rx.recv_timeout(wait) {
            Ok((Stream::Out, text)) => output.stdout = text,
            Ok((Stream::Err, text)) => output.stderr = text,
            Err(_) => {
                kill_group(pid);
                return None;
            }
        }
    }
    Some(output)
}

/// Kills the process group `pid` leads: our child's, called while the child is
/// unreaped or something it started still holds its pipes (and so, unless it left
/// the group, keeps the group alive and its id from being reused).
fn kill_group(pid: libc::pid_t) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

enum Stream {
    Out,
    Err,
}

fn reader(mut r: impl Read + Send + 'static, which: Stream, tx: mpsc::Sender<(Stream, String)>) {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A cap keeps a runaway helper from filling memory.
        let _ = r.by_ref().take(4 << 20).read_to_end(&mut buf);
        let _ = tx.send((which, String::from_utf8_lossy(&buf).into_owned()));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn reads_both_streams() {
        let out =
            run(sh("echo out; echo err >&2; exit 3"), Duration::from_secs(2)).expect("finishes");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout.trim(), "out");
        assert_eq!(out.stderr.trim(), "err");
    }

    #[test]
    fn a_slow_helper_is_killed() {
        let start = Instant::now();
        assert!(run(sh("sleep 5"), Duration::from_millis(100)).is_none());
        // A helper that exits but leaves something holding its output.
        assert!(run(sh("sleep 5 & echo hi"), Duration::from_millis(100)).is_none());
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
